/* Unit tests of src/http/escape.c: what listings and redirects write back. */
#include "check.h"

#include "http/escape.h"

static const char *html(const char *s)
{
    static char out[1024];
    fy_html_escape(s, out);
    return out;
}

static const char *url(const char *s, bool keep_slash)
{
    static char out[1024];
    fy_url_encode(s, out, keep_slash);
    return out;
}

static void test_html(void)
{
    CHECK_STR(html("plain name.txt"), "plain name.txt");
    CHECK_STR(html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
    CHECK_STR(html("a&b \"q\" 'r'"), "a&amp;b &quot;q&quot; &#39;r&#39;");
    CHECK_STR(html(""), "");
}

static void test_url(void)
{
    CHECK_STR(url("file-1_2.~txt", false), "file-1_2.~txt");
    CHECK_STR(url("a b", false), "a%20b");
    CHECK_STR(url("javascript:alert(1)", false), "javascript%3Aalert%281%29");
    CHECK_STR(url("caf\xc3\xa9", false), "caf%C3%A9");
    CHECK_STR(url("?#%&\"<>", false), "%3F%23%25%26%22%3C%3E");
    CHECK_STR(url("a/b", false), "a%2Fb");
    CHECK_STR(url("/a/b c/", true), "/a/b%20c/");
    CHECK_STR(url("/\\evil", true), "/%5Cevil");
}

int main(void)
{
    RUN(test_html);
    RUN(test_url);
    return CHECK_SUMMARY();
}
