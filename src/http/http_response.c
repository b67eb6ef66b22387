/* Response heads; see http_response.h. */
#include "http/http_response.h"

#include <string.h>

void fy_buf_put(struct fy_buf *b, const char *s, size_t len)
{
    if (b->overflow || len > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
}

void fy_buf_puts(struct fy_buf *b, const char *s)
{
    fy_buf_put(b, s, strlen(s));
}

void fy_buf_put_u64(struct fy_buf *b, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fy_buf_put(b, digits + sizeof digits - n, n);
}

static const char day_names[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void put2(char *out, int v)
{
    out[0] = (char)('0' + v / 10);
    out[1] = (char)('0' + v % 10);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), by Howard
 * Hinnant's well-known algorithm: no gmtime_r, no locale, no lock. */
static void civil_from_days(int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

static int64_t days_from_civil(int year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void fy_http_date(time_t t, char *out)
{
    int64_t days = (int64_t)t / 86400, secs = (int64_t)t % 86400;
    if (secs < 0) {
        secs += 86400;
        days -= 1;
    }
    int year, month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999)
        year = 1970, month = 1, day = 1, days = 0, secs = 0;
    int64_t wd = days % 7;
    memcpy(out, day_names[wd < 0 ? wd + 7 : wd], 3);
    memcpy(out + 3, ", ", 2);
    put2(out + 5, day);
    out[7] = ' ';
    memcpy(out + 8, month_names[month - 1], 3);
    out[11] = ' ';
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, (int)(secs / 3600));
    out[19] = ':';
    put2(out + 20, (int)(secs / 60 % 60));
    out[22] = ':';
    put2(out + 23, (int)(secs % 60));
    memcpy(out + 25, " GMT", 5); /* with the NUL */
}

static int parse_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_month(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(s, month_names[i], 3) == 0)
            return i + 1;
    return -1;
}

/* "HH:MM:SS" */
static int parse_clock(const char *s, int *h, int *m, int *sec)
{
    if (s[2] != ':' || s[5] != ':')
        return -1;
    if (parse_digits(s, 2, h) || parse_digits(s + 3, 2, m) || parse_digits(s + 6, 2, sec))
        return -1;
    return (*h > 23 || *m > 59 || *sec > 60) ? -1 : 0;
}

static int date_assemble(int year, int month, int day, int h, int m, int s, time_t *out)
{
    if (month < 1 || day < 1 || day > 31 || year < 1970)
        return -1;
    *out = (time_t)(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + s);
    return 0;
}

int fy_http_date_parse(const char *s, size_t len, time_t *out)
{
    int year, month, day, h, m, sec;
    const char *comma = memchr(s, ',', len);
    if (len == 29 && comma == s + 3) { /* Sun, 06 Nov 1994 08:49:37 GMT */
        if (s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || memcmp(s + 25, " GMT", 4))
            return -1;
        if (parse_digits(s + 5, 2, &day) || (month = parse_month(s + 8)) < 0 ||
            parse_digits(s + 12, 4, &year) || parse_clock(s + 17, &h, &m, &sec))
            return -1;
        return date_assemble(year, month, day, h, m, sec, out);
    }
    if (comma && len >= (size_t)(comma - s) + 24) { /* Sunday, 06-Nov-94 08:49:37 GMT */
        const char *p = comma + 2;
        if (comma[1] != ' ' || p[2] != '-' || p[6] != '-' || p[9] != ' ' || memcmp(p + 18, " GMT", 4) ||
            (size_t)(p + 22 - s) != len)
            return -1;
        if (parse_digits(p, 2, &day) || (month = parse_month(p + 3)) < 0 ||
            parse_digits(p + 7, 2, &year) || parse_clock(p + 10, &h, &m, &sec))
            return -1;
        year += year < 70 ? 2000 : 1900;
        return date_assemble(year, month, day, h, m, sec, out);
    }
    if (len == 24 && s[3] == ' ' && s[7] == ' ') { /* Sun Nov  6 08:49:37 1994 */
        char d[2] = {s[8] == ' ' ? '0' : s[8], s[9]};
        if ((month = parse_month(s + 4)) < 0 || parse_digits(d, 2, &day) || s[10] != ' ' ||
            parse_clock(s + 11, &h, &m, &sec) || s[19] != ' ' || parse_digits(s + 20, 4, &year))
            return -1;
        return date_assemble(year, month, day, h, m, sec, out);
    }
    return -1;
}

const char *fy_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

bool fy_status_closes(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 414 || status == 431 ||
           status == 501 || status == 505 || status == 500 || status == 503;
}

void fy_response_start(struct fy_buf *b, int status, const char *date)
{
    fy_buf_puts(b, "HTTP/1.1 ");
    fy_buf_put_u64(b, (uint64_t)status);
    fy_buf_put(b, " ", 1);
    fy_buf_puts(b, fy_http_reason(status));
    fy_buf_puts(b, "\r\nServer: ferry\r\nDate: ");
    fy_buf_put(b, date, FY_HTTP_DATE_LEN);
    fy_buf_put(b, "\r\n", 2);
}

void fy_response_end(struct fy_buf *b, bool keep_alive, int version_minor)
{
    if (!keep_alive)
        fy_buf_puts(b, "Connection: close\r\n");
    else if (version_minor == 0)
        fy_buf_puts(b, "Connection: keep-alive\r\n");
    fy_buf_put(b, "\r\n", 2);
}

size_t fy_response_error(struct fy_buf *b, int status, const char *date, const char *extra,
                       bool keep_alive, int version_minor, bool head_only)
{
    const char *reason = fy_http_reason(status);
    /* The body is "<status> <reason>" in a minimal page; its length is
     * computed rather than built twice. */
    static const char pre[] = "<!DOCTYPE html>\n<html><head><title>";
    static const char mid[] = "</title></head>\n<body><h1>";
    static const char post[] = "</h1></body></html>\n";
    size_t title_len = 4 + strlen(reason);
    size_t body_len = (sizeof pre - 1) + (sizeof mid - 1) + (sizeof post - 1) + 2 * title_len;

    fy_response_start(b, status, date);
    fy_buf_puts(b, "Content-Type: text/html; charset=utf-8\r\nContent-Length: ");
    fy_buf_put_u64(b, body_len);
    fy_buf_put(b, "\r\n", 2);
    if (extra)
        fy_buf_puts(b, extra);
    fy_response_end(b, keep_alive, version_minor);
    if (head_only)
        return 0;
    for (int i = 0; i < 2; i++) {
        fy_buf_puts(b, i == 0 ? pre : mid);
        fy_buf_put_u64(b, (uint64_t)status);
        fy_buf_put(b, " ", 1);
        fy_buf_puts(b, reason);
    }
    fy_buf_puts(b, post);
    return body_len;
}
