/* The static-file handler: from a parsed request to a response — method,
 * path, file, headers — ready in the connection's transfer. */
#ifndef FY_HANDLER_H
#define FY_HANDLER_H

struct fy_exchange;

/* Builds the response to ex->req into ex->wbuf / ex->file / ex->xfer and sets
 * ex->status.  Returns 0, or an error status the caller answers with its
 * standard error response (404, 405, 501, ...). */
int fy_handler_respond(struct fy_exchange *ex);

/* fy_handler_respond(): the file's name is being looked up off the loop
 * (fy_exchange_lookup); its carrier calls again when that is done. */
#define FY_HANDLER_WAIT (-1)

#endif
