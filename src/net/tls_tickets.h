/* Session-ticket keys shared by every process of the server.
 *
 * The master makes them in a shared mapping before it forks, so a ticket
 * issued by one worker opens on any other, and on the workers of a reload
 * (the master, and so the mapping, lives on).  Every FY_TLS_TICKET_ROTATE_S
 * the master writes a new key; the previous one still decrypts (and the
 * ticket is then renewed), so a ticket stays good for one to two periods.
 *
 * Each key slot is a seqlock: the master (the only writer) makes its
 * sequence odd while it writes; a reader copies the slot and keeps the copy
 * only if the sequence was even and unchanged. */
#ifndef FY_TLS_TICKETS_H
#define FY_TLS_TICKETS_H

#include <stdbool.h>
#include <stddef.h>

#define FY_TLS_TICKET_ROTATE_S 3600

struct fy_tls_ticket_key {
    unsigned char name[16];      /* goes in the ticket: finds the key again */
    unsigned char aes[32];       /* AES-256-CBC */
    unsigned char hmac[32];      /* HMAC-SHA256 */
};

struct fy_tls_tickets;

/* A new mapping with a first key.  NULL with a message in err. */
struct fy_tls_tickets *fy_tls_tickets_create(char *err, size_t errlen);
void fy_tls_tickets_destroy(struct fy_tls_tickets *t);

/* Master: makes a new current key; the old current one becomes the previous. */
int  fy_tls_tickets_rotate(struct fy_tls_tickets *t);

/* Master, now and then: rotates once FY_TLS_TICKET_ROTATE_S have passed
 * since the last rotation (now_s: a monotonic clock in seconds). */
void fy_tls_tickets_tick(struct fy_tls_tickets *t, long long now_s);

/* The key to encrypt new tickets with. */
bool fy_tls_tickets_current(const struct fy_tls_tickets *t, struct fy_tls_ticket_key *out);

/* The key a ticket names: 0 none (a full handshake follows), 1 the current
 * one, 2 the previous one (the ticket should be renewed). */
int  fy_tls_tickets_find(const struct fy_tls_tickets *t, const unsigned char name[16],
                         struct fy_tls_ticket_key *out);

#endif
