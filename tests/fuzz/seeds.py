#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/).

The seeds are ferry's own: one per kind of request or path the parser and
the path resolver distinguish, so that libFuzzer starts with every branch
reachable.  Re-run after adding a case; `make fuzz` also adds, at run time
only, seeds derived from the external corpora under ../shared/testdata."""

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
H = b"Host: localhost\r\n"


def req(line, *headers, body=b""):
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


HTTP = {
    "get": req(b"GET /index.html HTTP/1.1", b"Host: localhost"),
    "get-query": req(b"GET /a/b.txt?x=1&y=%20 HTTP/1.1", b"Host: example.com:8080"),
    "head-10": req(b"HEAD / HTTP/1.0"),
    "http10-keepalive": req(b"GET / HTTP/1.0", b"Connection: keep-alive"),
    "close": req(b"GET / HTTP/1.1", b"Host: a", b"Connection: close"),
    "browser": req(b"GET /style.css HTTP/1.1", b"Host: localhost:8080",
                   b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
                   b"Accept: text/css,*/*;q=0.1", b"Accept-Language: en-US,en;q=0.5",
                   b"Accept-Encoding: gzip, deflate, br", b"Referer: http://localhost:8080/",
                   b"Connection: keep-alive", b"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
                   b'If-None-Match: "5f-1a2b3c"', b"Cache-Control: max-age=0"),
    "conditional": req(b"GET /x HTTP/1.1", H[:-2], b'If-Match: "a", "b"',
                       b"If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
                       b"Range: bytes=0-99", b'If-Range: "etag"'),
    "absolute-form": req(b"GET http://localhost:8080/sub/page.txt?q HTTP/1.1", b"Host: other"),
    "absolute-form-bare": req(b"GET HTTPS://[::1]:443 HTTP/1.1", b"Host: x"),
    "options-star": req(b"OPTIONS * HTTP/1.1", H[:-2]),
    "connect": req(b"CONNECT example.com:443 HTTP/1.1", b"Host: example.com:443"),
    "post-body": req(b"POST /form HTTP/1.1", H[:-2], b"Content-Length: 5", body=b"hello"),
    "post-cl-list": req(b"POST / HTTP/1.1", H[:-2], b"Content-Length: 5, 5", body=b"hello"),
    "cl-dup-differ": req(b"POST / HTTP/1.1", H[:-2], b"Content-Length: 5", b"Content-Length: 6"),
    "cl-plus": req(b"POST / HTTP/1.1", H[:-2], b"Content-Length: +5"),
    "cl-overflow": req(b"POST / HTTP/1.1", H[:-2], b"Content-Length: 9223372036854775808"),
    "te-chunked": req(b"POST / HTTP/1.1", H[:-2], b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "te-cl": req(b"POST / HTTP/1.1", H[:-2], b"Transfer-Encoding: chunked", b"Content-Length: 3"),
    "te-http10": req(b"POST / HTTP/1.0", b"Transfer-Encoding: chunked"),
    "obs-fold": req(b"GET / HTTP/1.1", H[:-2], b"X-A: 1", b" 2"),
    "space-before-colon": req(b"GET / HTTP/1.1", H[:-2], b"X-A : 1"),
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "bare-cr": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    "nul-in-value": req(b"GET / HTTP/1.1", H[:-2], b"X-A: a\x00b"),
    "ctl-in-value": req(b"GET / HTTP/1.1", H[:-2], b"X-A: a\x01b\x7f"),
    "obs-text-value": req(b"GET / HTTP/1.1", H[:-2], b"X-A: caf\xc3\xa9 \t"),
    "no-host": req(b"GET / HTTP/1.1", b"X-A: 1"),
    "two-hosts": req(b"GET / HTTP/1.1", b"Host: a", b"Host: b"),
    "host-ipv6": req(b"GET / HTTP/1.1", b"Host: [2001:db8::1]:8080"),
    "host-bad-port": req(b"GET / HTTP/1.1", b"Host: a:99999"),
    "unknown-method": req(b"BREW /pot HTTP/1.1", H[:-2]),
    "lowercase-method": req(b"get / HTTP/1.1", H[:-2]),
    "version-20": req(b"GET / HTTP/2.0", H[:-2]),
    "version-bad": req(b"GET / HTTP/1.10", H[:-2]),
    "double-space": req(b"GET  / HTTP/1.1", H[:-2]),
    "fragment": req(b"GET /a#b HTTP/1.1", H[:-2]),
    "traversal": req(b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1", H[:-2]),
    "leading-crlf": b"\r\n\r\n" + req(b"GET / HTTP/1.1", H[:-2]),
    "pipelined": req(b"GET /a HTTP/1.1", H[:-2]) + req(b"HEAD /b HTTP/1.1", H[:-2]) + b"GET /c HT",
    "partial": b"GET /index.html HTTP/1.1\r\nHost: loc",
    "empty-value": req(b"GET / HTTP/1.1", H[:-2], b"X-Empty:", b"X-Spaces:    "),
    "many-headers": req(b"GET / HTTP/1.1", H[:-2], *[b"X-%d: %d" % (i, i) for i in range(70)]),
    "long-target": req(b"GET /" + b"a" * 9000 + b" HTTP/1.1", H[:-2]),
}

PATHS = {
    "root": b"/",
    "file": b"/index.html",
    "nested": b"/a/b/c.txt",
    "dir": b"/dir/",
    "slashes": b"//a///b//",
    "dots": b"/./a/./b/.",
    "dotdot": b"/a/b/../../c",
    "dotdot-above": b"/../etc/passwd",
    "dotdot-deep": b"/a/../../..",
    "pct": b"/%61%62%63",
    "pct-dot": b"/%2e%2e/%2E%2e/x",
    "pct-dot-mixed": b"/a/.%2e/b/%2e./c",
    "pct-slash": b"/a%2fb",
    "pct-nul": b"/a%00.html",
    "pct-double": b"/%252e%252e/%252f",
    "pct-bad": b"/%zz%4",
    "pct-trunc": b"/a%2",
    "overlong": b"/%c0%ae%c0%ae/%c0%af",
    "backslash": b"/..\\..\\windows\\win.ini",
    "semicolon": b"/..;/..;/etc/passwd",
    "names-with-dots": b"/.../..a/a../.hidden",
    "utf8": b"/caf\xc3\xa9%20menu.txt",
    "raw-nul": b"/a\x00b",
    "relative": b"a/b",
    "empty": b"",
    "star": b"*",
    "long": b"/" + b"a" * 4095,
    "long-encoded": b"/" + b"%61" * 4096,
    "long-popped": b"/" + b"b" * 4000 + b"/" + b"c" * 200 + b"/..",
}


def write(target, seeds):
    d = HERE / "corpus" / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in seeds.items():
        (d / name).write_bytes(data)
    return len(seeds)


if __name__ == "__main__":
    print("http_parse:", write("http_parse", HTTP), "seeds")
    print("path:", write("path", PATHS), "seeds")
