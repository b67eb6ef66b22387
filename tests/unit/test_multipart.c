/* Unit tests of src/http/multipart.c: the body laid out part by part adds
 * up to the Content-Length announced, in the RFC 9110 §14.6 format. */
#include "check.h"

#include "http/multipart.h"

/* Assembles the whole body as a client sees it, file bytes as 'x'. */
static size_t assemble(struct fy_multipart *mp, char *out, size_t cap, unsigned *parts)
{
    size_t n = 0;
    off_t offset, end;
    char head[512];
    *parts = 0;
    for (;;) {
        struct fy_buf b = {.p = head, .cap = sizeof head};
        if (!fy_multipart_next(mp, &b, &offset, &end))
            break;
        (*parts)++;
        CHECK(!b.overflow);
        if (n + b.len + (size_t)(end - offset) > cap)
            return 0;
        memcpy(out + n, head, b.len);
        n += b.len;
        memset(out + n, 'x', (size_t)(end - offset));
        n += (size_t)(end - offset);
    }
    return n;
}

static void test_two_parts(void)
{
    struct fy_range r[2] = {{0, 1}, {5, 7}};
    struct fy_multipart mp;
    fy_multipart_init(&mp, r, 2, 100, "text/plain; charset=utf-8", 42);
    CHECK_INT(strlen(mp.boundary), FY_BOUNDARY_LEN);
    char body[2048], want[2048];
    unsigned parts;
    size_t n = assemble(&mp, body, sizeof body, &parts);
    CHECK_INT(parts, 3); /* two parts and the trailer */
    CHECK_INT(n, fy_multipart_length(&mp));
    body[n] = '\0';
    snprintf(want, sizeof want,
             "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/100\r\n\r\nxx"
             "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-7/100\r\n\r\nxxx"
             "\r\n--%s--\r\n",
             mp.boundary, mp.boundary, mp.boundary);
    CHECK_STR(body, want);
}

static void test_ranges_and_offsets(void)
{
    struct fy_range r[3] = {{0, 0}, {10, 19}, {99, 99}};
    struct fy_multipart mp;
    fy_multipart_init(&mp, r, 3, 100, "application/octet-stream", 7);
    char head[512];
    off_t offset, end;
    for (int i = 0; i < 3; i++) {
        struct fy_buf b = {.p = head, .cap = sizeof head};
        CHECK(fy_multipart_next(&mp, &b, &offset, &end));
        CHECK_INT(offset, r[i].first);
        CHECK_INT(end, r[i].last + 1);
        CHECK_INT(head[0] == '\r', i > 0); /* a CRLF before every boundary but the first */
    }
    struct fy_buf b = {.p = head, .cap = sizeof head};
    CHECK(fy_multipart_next(&mp, &b, &offset, &end));
    CHECK_INT(end - offset, 0);
    CHECK(!fy_multipart_next(&mp, &b, &offset, &end));
}

static void test_boundaries_differ(void)
{
    struct fy_range r[2] = {{0, 1}, {5, 7}};
    struct fy_multipart a, b;
    fy_multipart_init(&a, r, 2, 100, "text/plain", 1);
    fy_multipart_init(&b, r, 2, 100, "text/plain", 2);
    CHECK(strcmp(a.boundary, b.boundary) != 0);
    CHECK(strncmp(a.boundary, "ferry", 5) == 0);
}

int main(void)
{
    RUN(test_two_parts);
    RUN(test_ranges_and_offsets);
    RUN(test_boundaries_differ);
    return CHECK_SUMMARY();
}
