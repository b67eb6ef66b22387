"""HTTP/1.1 protocol handling (issue item 5): keep-alive, pipelining,
methods, versions, and every malformed-input case, each asserting status
and body (and the connection close where the request stream cannot be
trusted any more)."""

import socket
import time

import pytest

from helpers import HTTP_DATE, T, assert_error, build_request, fetch, raw_exchange

SUB_PAGE = b"a page in sub\n"


def req(path="/sub/page.txt", **kw):
    return build_request(path, **kw)


# --- keep-alive semantics ------------------------------------------------------

def test_http10_closes_by_default(server1):
    with server1.client() as c:
        c.send(b"GET /sub/page.txt HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE
        assert (r.header("connection") or "").lower() == "close"
        c.assert_closed(T(3))


def test_http10_keepalive_requested_stays_open(server1):
    with server1.client() as c:
        for _ in range(3):
            c.send(b"GET /sub/page.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response()
            assert r.status == 200 and r.body == SUB_PAGE
            assert r.header("connection").lower() == "keep-alive"
        c.assert_open()
        # and without the header the next one closes
        c.send(b"GET /sub/page.txt HTTP/1.0\r\n\r\n")
        assert c.read_response().body == SUB_PAGE
        c.assert_closed(T(3))


def test_http10_with_host_is_fine(server1):
    r, closed, extra = raw_exchange(server1.port, b"GET /sub/page.txt HTTP/1.0\r\nHost: x\r\n\r\n")
    assert r.status == 200 and r.body == SUB_PAGE and closed and extra == b""


def test_http11_keepalive_by_default(server1):
    with server1.client() as c:
        for _ in range(5):
            r = c.request("/sub/page.txt")
            assert r.status == 200 and r.body == SUB_PAGE
            assert r.header("connection") is None or r.header("connection").lower() != "close"
        c.assert_open()


@pytest.mark.parametrize("value", ["close", "Close", "keep-alive, close", "CLOSE , foo"])
def test_http11_connection_close_honoured(server1, value):
    with server1.client() as c:
        c.send(req(headers={"Connection": value}))
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE
        assert r.header("connection").lower() == "close"
        c.assert_closed(T(3))


def test_header_names_are_case_insensitive(server1):
    with server1.client() as c:
        c.send(b"GET /sub/page.txt HTTP/1.1\r\nhOsT: x\r\ncOnNeCtIoN: close\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE
        c.assert_closed(T(3))


def test_response_headers_on_every_response(server1):
    for path in ("/sub/page.txt", "/missing", "/sub"):
        r = fetch(server1.port, path)
        assert HTTP_DATE.match(r.header("date"))
        assert r.header("server").startswith("ferry")
        assert r.header("content-length") is not None


# --- pipelining and segmentation -------------------------------------------------

def test_pipelining_five_requests_in_one_send(server, site):
    f = server
    paths = ["/sub/page.txt", "/a.bin", "/missing", "/big.bin", "/index.html"]
    data = b"".join(req(p) for p in paths[:-1]) + req(paths[-1], headers={"Connection": "close"})
    with f.client(timeout=T(10)) as c:
        c.send(data)
        for p in paths:
            r = c.read_response()
            if p == "/missing":
                assert_error(r, 404)
            else:
                assert r.status == 200 and r.body == site.files[p], p
        c.assert_closed(T(3))


def test_pipelining_with_head_requests(server1, site):
    data = (req("/index.html", method="HEAD") + req("/a.bin") + req("/missing", method="HEAD") +
            req("/sub", method="HEAD") + req("/index.html"))
    with server1.client() as c:
        c.send(data)
        r = c.read_response("HEAD")
        assert r.status == 200 and r.body == b""
        assert c.read_response().body == site.files["/a.bin"]
        assert_error(c.read_response("HEAD"), 404, head=True)
        assert c.read_response("HEAD").status == 301
        assert c.read_response().body == site.files["/index.html"]
        c.assert_open()


def test_many_pipelined_requests(server1, site):
    """More requests than fit in the read buffer at once."""
    n = 200
    with server1.client(timeout=T(10)) as c:
        c.send(req("/index.html") * n)
        for _ in range(n):
            r = c.read_response()
            assert r.status == 200 and r.body == site.files["/index.html"]
        c.assert_open()


def test_request_split_into_one_byte_segments(server1):
    data = req(headers={"User-Agent": "slow-client/1.0", "Accept": "*/*"})
    with server1.client() as c:
        c.send(data, segment=1, delay=0.002)
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE
        # CR and LF of the blank line in separate segments, too
        c.send(data[:-3])
        time.sleep(0.05)
        c.send(data[-3:-2])
        time.sleep(0.05)
        c.send(data[-2:-1])
        time.sleep(0.05)
        c.send(data[-1:])
        assert c.read_response().body == SUB_PAGE


def test_second_request_split_across_segments(server1):
    with server1.client() as c:
        c.send(req() + req()[:10])
        assert c.read_response().body == SUB_PAGE
        time.sleep(0.05)
        c.send(req()[10:])
        assert c.read_response().body == SUB_PAGE


def test_empty_lines_before_request_line_are_ignored(server1):
    with server1.client() as c:
        c.send(b"\r\n\r\n" + req())
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE


# --- methods and versions ------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_known_methods_get_405_with_allow(server1, method):
    with server1.client() as c:
        c.send(req("/index.html", method=method))
        r = c.read_response()
        assert_error(r, 405)
        allow = [m.strip() for m in r.header("allow").split(",")]
        assert sorted(allow) == ["GET", "HEAD", "OPTIONS"]
        # the connection stays usable
        assert c.request("/sub/page.txt").body == SUB_PAGE


def test_options_star_gets_200_with_allow(server1):
    with server1.client() as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.header("allow") == "GET, HEAD, OPTIONS" and r.body == b""
        assert c.request("/sub/page.txt").body == SUB_PAGE


def test_connect_is_refused(server1):
    with server1.client() as c:
        c.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        r = c.read_response()
    assert r.status in (405, 501)
    assert_error(r, r.status)


def test_post_with_body_gets_405_and_body_is_discarded(server1):
    body = b"x=1&y=GET /evil HTTP/1.1\r\n\r\n"
    with server1.client() as c:
        c.send(req("/index.html", method="POST", headers={"Content-Length": len(body)}, body=body) + req())
        assert_error(c.read_response(), 405)
        assert c.read_response().body == SUB_PAGE
        c.assert_open()


@pytest.mark.parametrize("method", ["FOO", "get", "Get", "PROPFIND", "BREW"])
def test_unknown_method_is_501(server1, method):
    r, closed, extra = raw_exchange(server1.port, req("/index.html", method=method))
    assert_error(r, 501)
    assert extra == b""


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/1.2", "HTTP/3.0", "HTTP/0.9", "HTTP/1.9"])
def test_unsupported_version_is_505(server1, version):
    r, closed, extra = raw_exchange(server1.port, req(version=version))
    assert_error(r, 505)
    assert closed and extra == b""


# --- malformed requests: 400 -------------------------------------------------------

HOST = b"Host: localhost\r\n"
BAD_REQUESTS = {
    # request line
    "double space in request line": b"GET  /index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "tab in request line": b"GET\t/index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "missing version": b"GET /index.html\r\n" + HOST + b"\r\n",
    "lowercase version": b"GET /index.html http/1.1\r\n" + HOST + b"\r\n",
    "version with two digits": b"GET /index.html HTTP/1.10\r\n" + HOST + b"\r\n",
    "trailing space after version": b"GET /index.html HTTP/1.1 \r\n" + HOST + b"\r\n",
    "target without slash": b"GET index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "target with raw non-ascii byte": b"GET /caf\xc3\xa9 HTTP/1.1\r\n" + HOST + b"\r\n",
    "target with fragment": b"GET /index.html#top HTTP/1.1\r\n" + HOST + b"\r\n",
    "empty request line": b"\r\n\r\n\r\n \r\n\r\n",
    "nul in target": b"GET /index\x00.html HTTP/1.1\r\n" + HOST + b"\r\n",
    # header lines
    "no colon": b"GET / HTTP/1.1\r\n" + HOST + b"Foo bar\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\n" + HOST + b"Foo : bar\r\n\r\n",
    "tab before colon": b"GET / HTTP/1.1\r\n" + HOST + b"Foo\t: bar\r\n\r\n",
    "empty header name": b"GET / HTTP/1.1\r\n" + HOST + b": bar\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: bar\r\n baz\r\n\r\n",
    "obs-fold with tab": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: bar\r\n\tbaz\r\n\r\n",
    "leading whitespace before first header": b"GET / HTTP/1.1\r\n " + HOST + b"\r\n",
    "bare CR in value": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: a\rb\r\n\r\n",
    "bare CR line ending": b"GET / HTTP/1.1\r" + HOST + b"\r\n",
    "bare LF line endings": b"GET / HTTP/1.1\nHost: localhost\n\n",
    "bare LF in the middle": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: a\nBar: b\r\n\r\n",
    "NUL in header value": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: a\x00b\r\n\r\n",
    "NUL in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Fo\x00o: b\r\n\r\n",
    "control char in value": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: a\x01b\r\n\r\n",
    "escape char in value": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: \x1b[31mred\r\n\r\n",
    "DEL in value": b"GET / HTTP/1.1\r\n" + HOST + b"Foo: a\x7fb\r\n\r\n",
    "paren in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Fo(o: bar\r\n\r\n",
    "quote in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Fo\"o: bar\r\n\r\n",
    "at sign in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Foo@x: bar\r\n\r\n",
    "slash in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Foo/x: bar\r\n\r\n",
    "space in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Fo o: bar\r\n\r\n",
    "non-ascii in header name": b"GET / HTTP/1.1\r\n" + HOST + b"Fo\xc3\xa9: bar\r\n\r\n",
    # Host
    "HTTP/1.1 without Host": b"GET / HTTP/1.1\r\nFoo: bar\r\n\r\n",
    "two Host headers": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two identical Host headers": b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    "empty Host on HTTP/1.1": b"GET / HTTP/1.1\r\nHost: \r\n\r\n",
    "Host with space": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "Host with slash": b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    "Host with bad port": b"GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n",
    # percent escapes
    "bad percent escape %zz": b"GET /%zz HTTP/1.1\r\n" + HOST + b"\r\n",
    "truncated percent escape": b"GET /index.htm%6 HTTP/1.1\r\n" + HOST + b"\r\n",
    "lone percent": b"GET /% HTTP/1.1\r\n" + HOST + b"\r\n",
    "percent with one hex digit then letter": b"GET /%4g HTTP/1.1\r\n" + HOST + b"\r\n",
    # Content-Length
    "Content-Length with plus": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: +5\r\n\r\nhello",
    "Content-Length negative": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: -5\r\n\r\n",
    "Content-Length inner space": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: 1 0\r\n\r\n",
    "Content-Length hex": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: 0x5\r\n\r\nhello",
    "Content-Length with letters": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: 5a\r\n\r\nhello",
    "Content-Length empty": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: \r\n\r\n",
    "Content-Length decimal point": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: 5.0\r\n\r\nhello",
    "Content-Length overflow": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: 99999999999999999999999\r\n\r\n",
    "two differing Content-Length": b"GET / HTTP/1.1\r\n" + HOST +
                                    b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "differing Content-Length list": b"GET / HTTP/1.1\r\n" + HOST + b"Content-Length: 5, 6\r\n\r\nhello!",
    # Transfer-Encoding combined with Content-Length or on HTTP/1.0
    "Transfer-Encoding and Content-Length": b"POST / HTTP/1.1\r\n" + HOST +
                                            b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding on HTTP/1.0": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_malformed_request_is_400_and_closes(server1, case):
    r, closed, extra = raw_exchange(server1.port, BAD_REQUESTS[case])
    assert_error(r, 400)
    assert r.header("connection").lower() == "close"
    assert closed, "connection left open after a 400"
    assert extra == b"", extra[:200]


@pytest.mark.parametrize("case", ["no colon", "bare LF line endings", "two Host headers",
                                  "Content-Length with plus", "obs-fold"])
def test_malformed_request_after_a_good_one(server1, case):
    """The second, pipelined request is the bad one: the first is answered."""
    with server1.client() as c:
        c.send(req() + BAD_REQUESTS[case])
        assert c.read_response().body == SUB_PAGE
        assert_error(c.read_response(), 400)
        c.assert_closed(T(3))


def test_malformed_request_sent_slowly(server1):
    """An error detected before the head is complete (a bare LF)."""
    with server1.client() as c:
        c.send(b"GET / HTTP/1.1\nHost: x")
        assert_error(c.read_response(), 400)
        c.assert_closed(T(3))


def test_head_request_error_has_no_body(server1):
    r, closed, extra = raw_exchange(server1.port, b"HEAD / HTTP/1.1\r\n\r\n", method="HEAD")
    assert_error(r, 400, head=True)
    assert closed and extra == b""


# --- what is accepted ---------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"Content-Length": "0"},
    {"Content-Length": "  0  "},
    {"Content-Length": "000"},
    {"Foo": ""},
    {"Foo": "\tvalue with\ttabs\t"},
    {"Foo": "obs-text \xe9\xff"},
    {"X-Token!#$%&'*+-.^_`|~": "all tchars"},
    {"Host-Extra": "a:b:c"},
])
def test_unusual_but_valid_headers_are_accepted(server1, headers):
    data = ("GET /sub/page.txt HTTP/1.1\r\nHost: localhost\r\n" +
            "".join(f"{k}:{v}\r\n" for k, v in headers.items()) + "\r\n").encode("latin-1")
    with server1.client() as c:
        c.send(data)
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE
        c.assert_open(0.1)


def test_equal_duplicate_content_length_is_accepted(server1):
    with server1.client() as c:
        c.send(b"GET /sub/page.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + req())
        assert c.read_response().body == SUB_PAGE
        assert c.read_response().body == SUB_PAGE


@pytest.mark.parametrize("host", ["example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:80",
                                  "xn--caf-dma.example"])
def test_valid_host_forms(server1, host):
    r = fetch(server1.port, "/sub/page.txt", host=host)
    assert r.status == 200 and r.body == SUB_PAGE


def test_http10_without_host_is_fine(server1):
    r, _, _ = raw_exchange(server1.port, b"GET /sub/page.txt HTTP/1.0\r\n\r\n")
    assert r.status == 200 and r.body == SUB_PAGE


# --- request bodies ---------------------------------------------------------------

def test_body_is_discarded_before_next_pipelined_request(server1, site):
    body = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"  # looks like a request; it is body
    with server1.client() as c:
        c.send(req("/a.bin", headers={"Content-Length": len(body)}, body=body) + req())
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/a.bin"]
        r = c.read_response()
        assert r.status == 200 and r.body == SUB_PAGE
        c.assert_open()


def test_small_body_in_a_later_segment(server1, site):
    """The head first, the body in its own segment (as many clients send)."""
    with server1.client() as c:
        c.send(req("/a.bin", headers={"Content-Length": 5}))
        time.sleep(0.1)
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/a.bin"]
        assert c.request("/sub/page.txt").body == SUB_PAGE


def test_body_arriving_later_in_pieces_is_discarded(server1, site):
    body = b"B" * 100_000
    with server1.client() as c:
        c.send(req("/a.bin", headers={"Content-Length": len(body)}))
        c.send(body[:10])
        time.sleep(0.05)
        c.send(body[10:50_000], segment=8192)
        time.sleep(0.05)
        c.send(body[50_000:] + req())
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/a.bin"]
        assert c.read_response().body == SUB_PAGE


def test_body_over_discard_limit_is_answered_then_closed(ferry, site):
    f = ferry(docroot=site.root, config={"max-request-body-discard": "1k"})
    with f.client() as c:
        c.send(req("/a.bin", headers={"Content-Length": 5000}) + b"x" * 5000)
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/a.bin"]
        assert r.header("connection").lower() == "close"
        c.assert_closed(T(4))
    with f.client() as c:  # within the limit: kept alive
        c.send(req("/a.bin", headers={"Content-Length": 1000}) + b"x" * 1000 + req())
        assert c.read_response().status == 200
        assert c.read_response().body == SUB_PAGE


@pytest.mark.parametrize("te", ["chunked", "gzip, chunked", "identity"])
def test_transfer_encoding_is_501_and_closes(server1, te):
    data = (b"POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te.encode() +
            b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + req())
    r, closed, extra = raw_exchange(server1.port, data)
    assert_error(r, 501)
    assert r.header("connection").lower() == "close"
    assert closed and extra == b""


def test_transfer_encoding_on_get_is_501(server1):
    r, closed, extra = raw_exchange(server1.port, req(headers={"Transfer-Encoding": "chunked"}) + b"0\r\n\r\n")
    assert_error(r, 501)
    assert closed and extra == b""


# --- a client that half-closes with its request ------------------------------------

def send_with_fin(c, data):
    """Sends data and our FIN together, in one segment: corked, then shut."""
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    c.send(data)
    c.sock.shutdown(socket.SHUT_WR)


def assert_closed_soon(c):
    """The server's FIN follows the response at once, not after a timeout
    (keep-alive 15 s, write 30 s)."""
    start = time.monotonic()
    c.assert_closed(T(2))
    assert time.monotonic() - start < T(2)


def test_fin_with_a_get_closes_right_after_the_response(server1):
    with server1.client(nodelay=False) as c:
        send_with_fin(c, req())
        assert c.read_response().body == SUB_PAGE
        assert_closed_soon(c)


def test_fin_with_pipelined_requests_answers_all_then_closes(server1, site):
    with server1.client(nodelay=False) as c:
        send_with_fin(c, req() + req("/a.bin"))
        assert c.read_response().body == SUB_PAGE
        assert c.read_response().body == site.files["/a.bin"]
        assert_closed_soon(c)


def test_fin_with_a_body_being_discarded_closes_right_after_the_response(server1):
    body = b"x=1"
    with server1.client(nodelay=False) as c:
        send_with_fin(c, req("/index.html", method="POST", headers={"Content-Length": len(body)}, body=body))
        assert_error(c.read_response(), 405)
        assert_closed_soon(c)


def test_fin_before_the_whole_body_closes_right_after_the_response(server1):
    """The body can never be complete: the server stops waiting for it."""
    with server1.client(nodelay=False) as c:
        send_with_fin(c, req(headers={"Content-Length": 1000}, body=b"only part of it"))
        assert c.read_response().body == SUB_PAGE
        assert_closed_soon(c)


def test_fin_with_a_get_still_gets_a_large_body_in_full(server, site):
    with server.client(nodelay=False) as c:
        send_with_fin(c, req("/big.bin"))
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/big.bin"]
        assert_closed_soon(c)


# --- sizes: 414 and 431 ---------------------------------------------------------

def test_long_target_is_414(server1):
    data = b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    r, closed, extra = raw_exchange(server1.port, data)
    assert_error(r, 414)
    assert closed and extra == b""


def test_target_longer_than_a_path_is_414(ferry, site):
    """A target that fits the head limit but not a file name."""
    f = ferry(docroot=site.root, config={"max-request-header-size": "64k"})
    r, closed, _ = raw_exchange(f.port, b"GET /" + b"a/" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status in (404, 414)
    assert_error(r, r.status)


@pytest.fixture
def small_heads(ferry, site):
    return ferry(docroot=site.root, config={"max-request-header-size": "4k"})


def test_huge_header_block_is_431(small_heads):
    headers = [(f"X-Filler-{i}", "v" * 100) for i in range(50)]  # ~5.5 KiB
    r, closed, extra = raw_exchange(small_heads.port, req(headers=headers))
    assert_error(r, 431)
    assert closed and extra == b""


def test_one_huge_header_is_431(small_heads):
    r, closed, extra = raw_exchange(small_heads.port, req(headers={"Cookie": "c" * 6000}))
    assert_error(r, 431)
    assert closed


def test_long_target_with_small_limit_is_414(small_heads):
    r, closed, _ = raw_exchange(small_heads.port, b"GET /" + b"b" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_error(r, 414)
    assert closed


def test_head_just_under_the_limit_is_served(small_heads):
    base = len(req(headers={"X-Pad": ""}))
    data = req(headers={"X-Pad": "p" * (4096 - base - 16)})
    assert len(data) < 4096
    with small_heads.client() as c:
        c.send(data)
        assert c.read_response().body == SUB_PAGE
        c.send(data)  # and again: the buffer was reset between requests
        assert c.read_response().body == SUB_PAGE


def test_oversized_head_sent_slowly_is_431(small_heads):
    with small_heads.client() as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for i in range(50):
            c.send(f"X-Filler-{i}: {'v' * 100}\r\n".encode())
        assert_error(c.read_response(), 431)
        closed, _ = c.wait_closed(T(4))
        assert closed
