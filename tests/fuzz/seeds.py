#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (tests/fuzz/corpus/).

The seeds are ferry's own: one per kind of request or path the parser and
the path resolver distinguish, so that libFuzzer starts with every branch
reachable.  Re-run after adding a case; `make fuzz` also adds, at run time
only, seeds derived from the external corpora under ../shared/testdata.

The h2 seeds (fuzz_h2.c) are client frames made with Debian's python3-h2
libraries (hpack for the header blocks, hyperframe for the frames), after
the harness's mode byte: 0x00 frames after the preface the harness writes,
0x01 raw bytes (the preface, if any, is in the seed), 0x02 shut the write
side at once, 0x04 a loop turn after each frame or chunk (raw: chunks of
1 + 8 * (mode >> 5) bytes), 0x08 a graceful stop, 0x10 the connection's
timer fires (see fuzz_h2.c)."""

import shutil
from pathlib import Path

from hpack import Encoder, NeverIndexedHeaderTuple
from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame,
                              PingFrame, PriorityFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

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


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAMES, RAW, SHUT, PIECEWISE, STOP, TIMEOUT = b"\x00", b"\x01", b"\x02", b"\x04", b"\x08", b"\x10"


def settings(**values):
    f = SettingsFrame(0)
    names = {"header_table_size": 1, "enable_push": 2, "max_concurrent_streams": 3,
             "initial_window_size": 4, "max_frame_size": 5, "max_header_list_size": 6,
             "no_rfc7540_priorities": 9}
    f.settings = {names[k]: v for k, v in values.items()}
    return f.serialize()


SETTINGS = settings(enable_push=0, initial_window_size=1 << 20, max_frame_size=16384, header_table_size=4096)
SETTINGS_ACK = SettingsFrame(0, flags=["ACK"]).serialize()


def block(path, method="GET", extra=(), huffman=False, enc=None):
    """A request's header block: literal fields (no Huffman) unless asked."""
    fields = [(":method", method), (":scheme", "http"), (":authority", "localhost"), (":path", path)]
    fields += list(extra)
    return (enc or Encoder()).encode(fields, huffman=huffman)


def headers(sid, blk, end_stream=True, end_headers=True, **kw):
    flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
    f = HeadersFrame(sid, flags=flags, **kw)
    f.data = blk
    return f.serialize()


def get(sid, path, **kw):
    return headers(sid, block(path, **kw))


def data(sid, payload, end_stream=True):
    f = DataFrame(sid, flags=["END_STREAM"] if end_stream else [])
    f.data = payload
    return f.serialize()


def window_update(sid, increment):
    f = WindowUpdateFrame(sid)
    f.window_increment = increment
    return f.serialize()


def rst(sid, code=8):
    f = RstStreamFrame(sid)
    f.error_code = code
    return f.serialize()


def ping(payload=b"fuzzping", ack=False):
    f = PingFrame(0, flags=["ACK"] if ack else [])
    f.opaque_data = payload
    return f.serialize()


def continued(sid, blk, pieces=3):
    """HEADERS without END_HEADERS, then CONTINUATION frames, the last ending it."""
    n = max(1, len(blk) // pieces)
    parts = [blk[i:i + n] for i in range(0, len(blk), n)]
    out = headers(sid, parts[0], end_headers=False)
    for i, part in enumerate(parts[1:], 1):
        f = ContinuationFrame(sid, flags=["END_HEADERS"] if i == len(parts) - 1 else [])
        f.data = part
        out += f.serialize()
    return out


def priority_update(sid, value):
    """PRIORITY_UPDATE (RFC 9218, type 0x10) on stream 0 for sid (by hand:
    hyperframe's ExtensionFrame writes a length of 0)."""
    payload = sid.to_bytes(4, "big") + value
    return len(payload).to_bytes(3, "big") + b"\x10\x00" + (0).to_bytes(4, "big") + payload


# No seed floods the junk budget (h2.c: H2_JUNK_BURST frames that carry
# nothing, then GOAWAY ENHANCE_YOUR_CALM): it takes 1000 frames, 9 KB or
# more, and one seed that long makes libFuzzer mutate inputs that long, at
# a fifth of the speed.  To try it by hand:
#   FRAMES + SETTINGS + window_update(0, 1) * 1001 + get(1, "/")


def h2_seeds():
    S = SETTINGS
    big_window = window_update(0, 1 << 24)
    enc = Encoder()  # one connection's dynamic table, across its requests
    many = S + b"".join(headers(2 * i + 1, block(p, enc=enc)) for i, p in enumerate(
        ["/", "/dir/", "/status", "/health", "/style.css", "/dir/sub/", "/missing", "/.hidden"]))
    return {
        "settings": FRAMES + S + SETTINGS_ACK,
        "get-root": FRAMES + S + get(1, "/"),
        "get-huffman": FRAMES + S + get(1, "/page.html", huffman=True,
                                         extra=[("accept-encoding", "gzip, br"), ("user-agent", "fuzz")]),
        "get-never-indexed": FRAMES + S + headers(1, Encoder().encode(
            [(":method", "GET"), (":scheme", "http"), (":path", "/small.txt"), (":authority", "localhost"),
             NeverIndexedHeaderTuple("authorization", "Basic dXNlcjpwYXNz"),
             NeverIndexedHeaderTuple("cookie", "a=b")], huffman=False)),
        "continuation": FRAMES + S + continued(1, block("/page.html", extra=[("x-long", "v" * 200)])),
        "rst-stream": FRAMES + S + get(1, "/big.bin") + rst(1),
        "window-update": FRAMES + S + get(1, "/big.bin") + window_update(1, 1 << 20) + big_window,
        "window-zero": FRAMES + settings(initial_window_size=0) + get(1, "/page.html") + window_update(1, 100)
        + window_update(0, 100),
        "ping": FRAMES + SETTINGS + ping() + ping(b"12345678", ack=True),
        "many-streams": FRAMES + many + big_window,
        "range": FRAMES + S + get(1, "/page.html", extra=[("range", "bytes=0-99,200-299")])
        + get(3, "/big.bin", extra=[("range", "bytes=-500")]),
        "conditional": FRAMES + S + get(1, "/page.html", extra=[("if-none-match", '"x", *'),
                                                                ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
        "head": FRAMES + S + get(1, "/index.html", method="HEAD"),
        "post-data": FRAMES + S + headers(1, block("/small.txt", method="POST", extra=[("content-length", "5")]),
                                          end_stream=False) + data(1, b"hello"),
        "priority": FRAMES + S + PriorityFrame(1, depends_on=0, stream_weight=200).serialize()
        + get(1, "/", extra=[("priority", "u=0, i")]) + priority_update(3, b"u=7") + get(3, "/style.css"),
        "goaway": FRAMES + S + get(1, "/") + GoAwayFrame(0, last_stream_id=0, error_code=0).serialize(),
        "bad-fields": FRAMES + S + headers(1, Encoder().encode(
            [(":method", "GET"), (":path", "/"), ("Connection", "close"), ("te", "trailers, x")], huffman=False)),
        "no-path": FRAMES + S + headers(1, Encoder().encode([(":method", "GET"), (":scheme", "http")])),
        "host-field": FRAMES + S + headers(1, Encoder().encode(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "example.com")], huffman=False)),
        "trailers": FRAMES + S + headers(1, block("/", method="POST"), end_stream=False) + data(1, b"x", False)
        + headers(1, Encoder().encode([("x-trailer", "1")], huffman=False)),
        "piecewise": PIECEWISE + S + continued(1, block("/dir/a.txt")) + get(3, "/small.txt"),
        "shut-at-once": SHUT + S + get(1, "/big.bin"),
        "raw-preface": RAW + PREFACE + S + get(1, "/small.txt"),
        "raw-preface-split": bytes([0x01 | 0x04 | (1 << 5)]) + PREFACE + S + get(1, "/"),
        "stop": STOP + S + get(1, "/big.bin") + get(3, "/small.txt"),
        "timeout-idle": TIMEOUT + S + get(1, "/"),
        "timeout-headers-incomplete": TIMEOUT + S + headers(1, block("/"), end_headers=False),
        "stop-then-timeout": bytes([0x08 | 0x10]) + S + get(1, "/big.bin"),
        "raw-http1": RAW + b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "raw-half-preface": RAW + PREFACE[:10],
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
    print("h2:", write("h2", h2_seeds()), "seeds")
