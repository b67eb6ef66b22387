/* Unit tests of limit-rate's arithmetic (src/http/rate.c) and of the
 * connection counts of max-connections-per-ip (src/core/per_ip.c). */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/per_ip.h"
#include "http/rate.h"

static void test_rate(void)
{
    struct fy_rate r = {.rate = 1000, .after = 300};
    CHECK_INT(fy_rate_allowance(&r, 0, 0, 10000), 300);     /* limit-rate-after at full speed */
    CHECK_INT(fy_rate_allowance(&r, 100, 0, 150), 150);     /* never more than the cap */
    CHECK_INT(fy_rate_allowance(&r, 300, 1000, 10000), 50); /* then one tick's worth */
    CHECK_INT(fy_rate_allowance(&r, 350, 1000, 10000), 0);  /* wait */
    CHECK_INT(fy_rate_allowance(&r, 350, 1100, 10000), 100);
    CHECK_INT(fy_rate_allowance(&r, 450, 2000, 10000), 900);
    CHECK_INT(fy_rate_allowance(&r, 1350, 2000, 10000), 0);
    struct fy_rate none = {0};
    CHECK_INT(fy_rate_allowance(&none, 12345, 0, 777), 777);
}

static struct sockaddr_storage v4(const char *text)
{
    struct sockaddr_storage a = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&a;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, text, &sin->sin_addr);
    return a;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage a = {0};
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a;
    sin6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &sin6->sin6_addr);
    return a;
}

static void test_per_ip(void)
{
    struct fy_per_ip t;
    CHECK_INT(fy_per_ip_init(&t, 10), 0);
    struct sockaddr_storage a = v4("192.0.2.1"), mapped = v6("::ffff:192.0.2.1"), b = v6("2001:db8::1");
    CHECK(fy_per_ip_take(&t, &a, 2));
    CHECK(fy_per_ip_take(&t, &mapped, 2)); /* the same address */
    CHECK(!fy_per_ip_take(&t, &a, 2));
    CHECK(fy_per_ip_take(&t, &b, 2));
    CHECK_INT(t.naddrs, 2);
    fy_per_ip_put(&t, &a);
    CHECK(fy_per_ip_take(&t, &mapped, 2));
    fy_per_ip_put(&t, &a);
    fy_per_ip_put(&t, &a);
    fy_per_ip_put(&t, &b);
    CHECK_INT(t.naddrs, 0); /* no entry stays for an address without connections */
    fy_per_ip_free(&t);
}

int main(void)
{
    RUN(test_rate);
    RUN(test_per_ip);
    return CHECK_SUMMARY();
}
