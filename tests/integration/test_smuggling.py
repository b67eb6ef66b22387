"""Request smuggling and parser strictness (issue 6, item 4).

Two sources of requests:

- aws/http-desync-guardian's 159 classified request variants
  (../shared/testdata/desync-guardian/*.yaml, used in place, not copied).
  Every "Severe" one must get 400 (501 where RFC 9112 §6.1 says: an unknown
  transfer coding) and a closed connection, and a request sent right behind
  it on the same connection is never answered.  "Compliant" ones must not
  get 400, except where a case conflicts with ferry's documented strict
  policy (listed in EXCEPTIONS with the reason).
- the issue's own list: CL+TE, differing duplicate Content-Length,
  Content-Length with a sign or spaces, obs-fold, bare CR and LF, NUL and
  control characters, whitespace before the colon, invalid methods and
  targets, Transfer-Encoding on HTTP/1.0; and that a request body is never
  parsed as a request.

Every rejected request is sent together with a well-formed request behind
it (PROBE): if ferry answered that probe, a front end and ferry would
disagree on where one request ends."""

import time

import pytest

from helpers import tool_missing
from helpers import REPO, T, Client, Ferry, assert_error, build_request

try:
    import yaml
except ImportError:  # python3-yaml is in scripts/deps.sh; say so rather than erroring
    yaml = None

DESYNC_DIR = REPO.parent / "shared" / "testdata" / "desync-guardian"

SUB_PAGE = b"a page in sub\n"
# Behind every bad request: a request whose answer would be unmistakable.
PROBE = b"GET /sub/page.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"


def send_and_expect_rejection(port, data, allowed=(400,), method="GET", te_present=None):
    """Sends data + PROBE in one write; the answer must be one error response
    whose status is in `allowed`, then the connection closes with nothing
    more (the probe is never answered).  Returns the status."""
    with Client(port) as c:
        c.send(data + PROBE)
        r = c.read_response(method)
        assert r.status in allowed, f"got {r.status} {r.reason}, expected one of {allowed}"
        assert_error(r, r.status, head=method == "HEAD")
        if r.status == 501 and te_present is not None:
            assert te_present, "501 for a request without Transfer-Encoding"
        assert (r.header("connection") or "").lower() == "close", r.head_raw
        closed, extra = c.wait_closed(T(3))
        assert extra == b"", f"bytes after the error response (the probe answered?): {extra[:300]!r}"
        assert closed, "connection left open after a rejected request"
        # Sending more later changes nothing either.
        try:
            c.sock.sendall(PROBE)
        except OSError:
            pass
        closed, extra = c.wait_closed(0.2)
        assert extra == b""
        return r.status


# --- desync-guardian ------------------------------------------------------------------

def _text(v):
    return "" if v is None else str(v)


def load_desync_cases():
    if yaml is None or not DESYNC_DIR.is_dir():
        return []
    cases = []
    for f in sorted(DESYNC_DIR.glob("*.yaml")):
        for i, c in enumerate(yaml.safe_load(f.read_text(encoding="utf-8")) or []):
            cases.append(pytest.param(c, id=f"{f.stem}[{i}] {c['name']}"[:120]))
    return cases


DESYNC_CASES = load_desync_cases()


def desync_request(case):
    """The raw bytes of a case: strings as UTF-8, one "name: value" per header.
    desync-guardian classifies headers and ignores Host, so a Host line is
    added (first) when the case has none: otherwise every HTTP/1.1 case would
    be a 400 for a reason unrelated to what it tests."""
    headers = case.get("headers") or []
    lines = [f"{_text(case['method'])} {_text(case['uri'])} {_text(case['version'])}".encode()]
    if not any(_text(h.get("name")).lower() == "host" for h in headers):
        lines.append(b"Host: localhost")
    for h in headers:
        lines.append(_text(h.get("name")).encode() + b": " + _text(h.get("value")).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def has_transfer_encoding(case):
    return any(_text(h.get("name")).lower() == "transfer-encoding" for h in case.get("headers") or [])


# Cases whose classification conflicts with ferry's documented policy, by
# desync-guardian name, with the reason.  Keep this list short and argued.
EXCEPTIONS = {
    # Severe in desync-guardian, accepted by ferry: RFC 9110 §8.6 lets a
    # recipient accept a Content-Length list whose values are all the same
    # ("42, 42" from a proxy combining duplicates) and ferry does so
    # (test_http.py: test_equal_duplicate_content_length_is_accepted).  Both
    # readings give the same body length, so no two parsers can disagree.
    "Bad Content-Length: 1000,1000": "accepted: equal Content-Length list (RFC 9110 §8.6)",
    # Compliant in desync-guardian (which checks headers, not targets),
    # 400 in ferry: RFC 3986 allows no raw non-ASCII byte in a URI, and
    # ferry refuses targets outside visible ASCII (test_http.py "target with
    # raw non-ascii byte").
    "International in URI": "400: raw non-ASCII target (RFC 3986 §2)",
    # Compliant in desync-guardian, 400 in ferry: the target ends in
    # "#form", and a fragment is not part of a request-target (RFC 9112
    # §3.2, RFC 9110 §7.1); ferry refuses it (test_http.py "target with
    # fragment") rather than guess which path a front end saw.
    "Compliant URL": "400: fragment in the request-target (RFC 9112 §3.2)",
    # Compliant in desync-guardian, 400 in ferry: an empty request-target
    # ("GET  HTTP/1.1", two spaces) is not a request-target of RFC 9112 §3.2.
    "Empty URI": "400: empty request-target (RFC 9112 §3.2)",
}


def tier(case):
    return case["expected"]["tier"]


@pytest.fixture(scope="module")
def desync_server(tmp_path_factory, site):
    """One ferry for all desync-guardian cases (they only open connections)."""
    f = Ferry(tmp_path_factory.mktemp("desync"), docroot=site.root)
    f.start()
    yield f
    f.stop()


def test_desync_guardian_cases_are_there():
    if yaml is None:
        tool_missing("python3-yaml is not installed (scripts/deps.sh installs it)")
    if not DESYNC_DIR.is_dir():
        pytest.skip(f"{DESYNC_DIR} is missing: the desync-guardian cases were not run")
    tiers = {}
    for p in DESYNC_CASES:
        tiers[tier(p.values[0])] = tiers.get(tier(p.values[0]), 0) + 1
    assert len(DESYNC_CASES) >= 150, tiers
    assert tiers.get("Severe", 0) >= 50 and tiers.get("Compliant", 0) >= 20, tiers
    names = {p.values[0]["name"] for p in DESYNC_CASES}
    for name in EXCEPTIONS:  # an exception for a case that no longer exists is stale
        assert name in names, f"EXCEPTIONS names an unknown case: {name!r}"


@pytest.mark.parametrize("case", [p for p in DESYNC_CASES if tier(p.values[0]) == "Severe"])
def test_desync_severe_is_rejected_and_closed(desync_server, case):
    data = desync_request(case)
    if case["name"] in EXCEPTIONS:
        # Still: the request is answered once, in step, and nothing is smuggled.
        with Client(desync_server.port) as c:
            c.send(data + PROBE)
            r = c.read_response()
            assert r.status != 200 or r.body != SUB_PAGE
        return
    # 501 only where a Transfer-Encoding field is really there (RFC 9112 §6.1:
    # a transfer coding the server does not implement).
    send_and_expect_rejection(desync_server.port, data, allowed=(400, 501), method=_text(case["method"]),
                              te_present=has_transfer_encoding(case))


@pytest.mark.parametrize("case", [p for p in DESYNC_CASES if tier(p.values[0]) == "Compliant"])
def test_desync_compliant_is_not_400(desync_server, case):
    data = desync_request(case)
    with Client(desync_server.port) as c:
        c.send(data)
        r = c.read_response(_text(case["method"]))
    if case["name"] in EXCEPTIONS:
        assert r.status == 400, f"{case['name']}: the exception says 400, got {r.status}; update EXCEPTIONS"
        return
    assert r.status != 400, f"a compliant request got 400: {data[:300]!r}"
    # What a static-file server answers to a well-formed request: the file
    # (or its absence), 405 for other known methods, 501 for a transfer
    # coding it does not read.
    assert r.status in (200, 301, 403, 404, 405, 501), r


@pytest.mark.parametrize("case", [p for p in DESYNC_CASES if tier(p.values[0]) not in ("Severe", "Compliant")])
def test_desync_other_tiers_answered_in_step(desync_server, case):
    """Ambiguous, Acceptable, NonCompliant: any answer, but a closing error
    really closes, and nothing behind the request is answered."""
    data = desync_request(case)
    method = _text(case["method"])
    with Client(desync_server.port) as c:
        c.send(data + PROBE)
        r = c.read_response(method if method == "HEAD" else "GET")
        assert r.status < 500 or r.status in (501, 505), r
        if (r.header("connection") or "").lower() == "close":
            closed, extra = c.wait_closed(T(3))
            if method == "HEAD" and r.status == 400 and extra:
                # A head that does not parse is not known to be a HEAD
                # request: its error page comes with the body.
                assert len(extra) == int(r.header("content-length")), extra[:300]
                extra = b""
            assert extra == b"", extra[:300]
            assert closed
        # Anything with a Transfer-Encoding field that ferry recognises is
        # never served: it reads no chunked bodies.  (505 comes first for
        # a version ferry does not speak.)
        if has_transfer_encoding(case):
            assert r.status in (400, 501, 505), r


# --- the list -----------------------------------------------------------------

HOST = b"Host: localhost\r\n"


def post(*header_lines, body=b"", line=b"POST /index.html HTTP/1.1", host=True):
    return line + b"\r\n" + (HOST if host else b"") + b"".join(h + b"\r\n" for h in header_lines) + b"\r\n" + body


CHUNKED_SMUGGLE = b"0\r\n\r\n" + b"GET /sub/page.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"

STRICT_400 = {
    # Content-Length and Transfer-Encoding together (RFC 9112 §6.1)
    "CL+TE": post(b"Content-Length: 5", b"Transfer-Encoding: chunked", body=CHUNKED_SMUGGLE),
    "TE+CL": post(b"Transfer-Encoding: chunked", b"Content-Length: 5", body=CHUNKED_SMUGGLE),
    "CL+TE identity": post(b"Content-Length: 5", b"Transfer-Encoding: identity", body=b"hello"),
    "CL+TE obfuscated value": post(b"Content-Length: 5", b"Transfer-Encoding: xchunked", body=b"hello"),
    "CL+TE list": post(b"Content-Length: 5", b"Transfer-Encoding: gzip, chunked", body=CHUNKED_SMUGGLE),
    "CL+TE mixed case": post(b"content-length: 5", b"TRANSFER-ENCODING: ChUnKeD", body=CHUNKED_SMUGGLE),
    "CL+TE twice": post(b"Transfer-Encoding: chunked", b"Content-Length: 5", b"Transfer-Encoding: chunked"),
    "CL+TE empty TE": post(b"Content-Length: 5", b"Transfer-Encoding:", body=b"hello"),
    # differing duplicate Content-Length
    "two differing CL": post(b"Content-Length: 5", b"Content-Length: 50", body=b"hello"),
    "two differing CL reversed": post(b"Content-Length: 50", b"Content-Length: 5", body=b"hello"),
    "differing CL list": post(b"Content-Length: 5, 50", body=b"hello"),
    "differing CL list and line": post(b"Content-Length: 5, 5", b"Content-Length: 6", body=b"hello"),
    "CL zero and non-zero": post(b"Content-Length: 0", b"Content-Length: 5", body=b"hello"),
    # Content-Length with a sign, spaces or other bytes
    "CL plus": post(b"Content-Length: +5", body=b"hello"),
    "CL minus": post(b"Content-Length: -5"),
    "CL minus zero": post(b"Content-Length: -0"),
    "CL inner space": post(b"Content-Length: 1 0", body=b"hello"),
    "CL inner tab": post(b"Content-Length: 1\t0", body=b"hello"),
    "CL space before colon": post(b"Content-Length : 5", body=b"hello"),
    "CL tab before colon": post(b"Content-Length\t: 5", body=b"hello"),
    "CL leading space in name (fold)": post(b"X-A: b", b" Content-Length: 5", body=b"hello"),
    "CL hex": post(b"Content-Length: 0x5", body=b"hello"),
    "CL decimal": post(b"Content-Length: 5.0", body=b"hello"),
    "CL exponent": post(b"Content-Length: 5e0", body=b"hello"),
    "CL empty": post(b"Content-Length:"),
    "CL overflow 2^64": post(b"Content-Length: 18446744073709551616"),
    "CL over int64": post(b"Content-Length: 9223372036854775808"),
    "CL with semicolon": post(b"Content-Length: 5;", body=b"hello"),
    "CL with control char": post(b"Content-Length: 5\x0b", body=b"hello"),
    "CL with NUL": post(b"Content-Length: 5\x00", body=b"hello"),
    "CL with nbsp": post(b"Content-Length: \xa05", body=b"hello"),
    "CL unicode digit": post("Content-Length: \u0665".encode(), body=b"hello"),
    # obs-fold (RFC 9112 §5.2)
    "obs-fold space": post(b"X-A: a", b" b"),
    "obs-fold tab": post(b"X-A: a", b"\tb"),
    "obs-fold continuing CL": post(b"Content-Length: 5", b" 0", body=b"hello"),
    "obs-fold continuing TE": post(b"Transfer-Encoding: gzip", b" chunked", body=CHUNKED_SMUGGLE),
    "first header folded": b"GET / HTTP/1.1\r\n Host: localhost\r\n\r\n",
    # bare CR and LF (ferry accepts CRLF only)
    "bare LF everywhere": b"GET /index.html HTTP/1.1\nHost: localhost\n\n",
    "bare LF after request line": b"GET /index.html HTTP/1.1\nHost: localhost\r\n\r\n",
    "bare LF ending the head": b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\n",
    "bare LF inside a value": post(b"X-A: a\nContent-Length: 5", body=b"hello"),
    "bare LF inside a name": post(b"X-\nA: a"),
    "bare CR everywhere": b"GET /index.html HTTP/1.1\rHost: localhost\r\r",
    "bare CR inside a value": post(b"X-A: a\rContent-Length: 5", body=b"hello"),
    "bare CR before CRLF": post(b"X-A: a\r\r"),
    "bare CR in request line": b"GET /index.html\rHTTP/1.1\r\n" + HOST + b"\r\n",
    "CR CR LF": b"GET / HTTP/1.1\r\r\n" + HOST + b"\r\n",
    "LF CR": b"GET / HTTP/1.1\n\r" + HOST + b"\r\n",
    # NUL and control characters
    "NUL in method": b"GE\x00T / HTTP/1.1\r\n" + HOST + b"\r\n",
    "NUL in target": b"GET /index.html\x00.txt HTTP/1.1\r\n" + HOST + b"\r\n",
    "NUL in version": b"GET / HTTP/1.1\x00\r\n" + HOST + b"\r\n",
    "NUL in name": post(b"X-\x00A: a"),
    "NUL in value": post(b"X-A: a\x00b"),
    "NUL in Host": b"GET / HTTP/1.1\r\nHost: local\x00host\r\n\r\n",
    "NUL line": post(b"\x00"),
    "SOH in value": post(b"X-A: \x01"),
    "VT in value": post(b"X-A: a\x0bb"),
    "FF in value": post(b"X-A: a\x0cb"),
    "ESC in value": post(b"X-A: \x1b[2J"),
    "DEL in value": post(b"X-A: a\x7f"),
    "control char in name": post(b"X-\x01A: a"),
    "control char in target": b"GET /index\x01.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "DEL in target": b"GET /index\x7f.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "tab in target": b"GET /index\t.html HTTP/1.1\r\n" + HOST + b"\r\n",
    # whitespace before the colon (RFC 9112 §5.1)
    "space before colon": post(b"X-A : a"),
    "tab before colon": post(b"X-A\t: a"),
    "space before colon in Host": b"GET / HTTP/1.1\r\nHost : localhost\r\n\r\n",
    "space before colon in TE": post(b"Transfer-Encoding : chunked", body=CHUNKED_SMUGGLE),
    "space inside name": post(b"Transfer Encoding: chunked", body=CHUNKED_SMUGGLE),
    "empty name": post(b": chunked"),
    "no colon": post(b"Transfer-Encoding chunked"),
    # invalid methods (a token that is not a method is 501, below)
    "empty method": b" / HTTP/1.1\r\n" + HOST + b"\r\n",
    "method with space": b"G ET / HTTP/1.1\r\n" + HOST + b"\r\n",
    "method with separator": b"GE(T) / HTTP/1.1\r\n" + HOST + b"\r\n",
    "method with slash": b"GET/ / HTTP/1.1\r\n" + HOST + b"\r\n",
    "method with non-ASCII": b"G\xc3\x89T / HTTP/1.1\r\n" + HOST + b"\r\n",
    "tab after method": b"GET\t/ HTTP/1.1\r\n" + HOST + b"\r\n",
    "leading space": b" GET / HTTP/1.1\r\n" + HOST + b"\r\n",
    "two spaces after method": b"GET  / HTTP/1.1\r\n" + HOST + b"\r\n",
    "trailing space after version": b"GET / HTTP/1.1 \r\n" + HOST + b"\r\n",
    "missing version": b"GET /\r\n" + HOST + b"\r\n",
    "HTTP/0.9 request line": b"GET /\r\n\r\n",
    "lowercase version": b"GET / http/1.1\r\n" + HOST + b"\r\n",
    "version with spaces": b"GET / HTTP/ 1.1\r\n" + HOST + b"\r\n",
    "two versions": b"GET / HTTP/1.1 HTTP/1.1\r\n" + HOST + b"\r\n",
    # invalid targets
    "relative target": b"GET index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "empty target": b"GET  HTTP/1.1\r\n" + HOST + b"\r\n",
    "space in target": b"GET /a b HTTP/1.1\r\n" + HOST + b"\r\n",
    "fragment in target": b"GET /index.html#x HTTP/1.1\r\n" + HOST + b"\r\n",
    "raw non-ASCII target": b"GET /caf\xc3\xa9 HTTP/1.1\r\n" + HOST + b"\r\n",
    "asterisk with GET": b"GET * HTTP/1.1\r\n" + HOST + b"\r\n",
    "authority-form with GET": b"GET localhost:80 HTTP/1.1\r\n" + HOST + b"\r\n",
    "CONNECT with a path": b"CONNECT /index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "other scheme": b"GET ftp://localhost/index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "absolute-form empty host": b"GET http:///index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "absolute-form userinfo": b"GET http://user@localhost/index.html HTTP/1.1\r\n" + HOST + b"\r\n",
    "absolute-form bad port": b"GET http://localhost:99999/ HTTP/1.1\r\n" + HOST + b"\r\n",
    "bad percent escape": b"GET /%zz HTTP/1.1\r\n" + HOST + b"\r\n",
    "request smuggled in target": (b"GET /index.html\tHTTP/1.1\r\nHost: localhost\r\n\r\nGET\t/sub/page.txt"
                                   b" HTTP/1.1\r\n" + HOST + b"\r\n"),
    # Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1: the framing is faulty)
    "TE chunked on HTTP/1.0": post(b"Transfer-Encoding: chunked", body=CHUNKED_SMUGGLE,
                                   line=b"POST /index.html HTTP/1.0", host=False),
    "TE identity on HTTP/1.0": post(b"Transfer-Encoding: identity", line=b"GET /index.html HTTP/1.0", host=False),
    "TE and keep-alive on HTTP/1.0": post(b"Connection: keep-alive", b"Transfer-Encoding: chunked",
                                          body=CHUNKED_SMUGGLE, line=b"POST /index.html HTTP/1.0"),
    # Host
    "two Host": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "no Host on HTTP/1.1": b"GET / HTTP/1.1\r\n\r\n",
}

STRICT_501 = {
    # A valid token that is no method ferry knows: 501 (RFC 9110 §9.1)
    "unknown method": b"FOO / HTTP/1.1\r\n" + HOST + b"\r\n",
    "lowercase method": b"get / HTTP/1.1\r\n" + HOST + b"\r\n",
    # Transfer-Encoding alone on HTTP/1.1: a coding ferry does not read
    # (RFC 9112 §6.1); the body that follows is never parsed as requests.
    "TE chunked": post(b"Transfer-Encoding: chunked", body=CHUNKED_SMUGGLE),
    "TE chunked on GET": post(b"Transfer-Encoding: chunked", body=CHUNKED_SMUGGLE, line=b"GET /index.html HTTP/1.1"),
    "TE unknown coding": post(b"Transfer-Encoding: xchunked", body=CHUNKED_SMUGGLE),
    "TE chunked twice": post(b"Transfer-Encoding: chunked, chunked", body=CHUNKED_SMUGGLE),
}


@pytest.mark.parametrize("case", sorted(STRICT_400))
def test_strict_400_and_close(server1, case):
    send_and_expect_rejection(server1.port, STRICT_400[case], allowed=(400,))


@pytest.mark.parametrize("case", sorted(STRICT_501))
def test_strict_501_and_close(server1, case):
    send_and_expect_rejection(server1.port, STRICT_501[case], allowed=(501,))


@pytest.mark.parametrize("case", ["CL+TE", "two differing CL", "CL plus", "obs-fold continuing CL",
                                  "bare LF inside a value", "NUL in value", "space before colon in TE",
                                  "method with space", "TE chunked on HTTP/1.0", "request smuggled in target"])
def test_bad_request_after_good_ones(server1, case):
    """The bad request comes third on a keep-alive connection: the two before
    it are answered, it is rejected, and what follows it is not."""
    with server1.client() as c:
        c.send(PROBE + PROBE + STRICT_400[case] + PROBE)
        assert c.read_response().body == SUB_PAGE
        assert c.read_response().body == SUB_PAGE
        r = c.read_response()
        assert_error(r, 400)
        closed, extra = c.wait_closed(T(3))
        assert extra == b"" and closed


@pytest.mark.parametrize("case", ["CL+TE", "two differing CL", "bare CR inside a value", "obs-fold space"])
def test_bad_request_trickled_byte_by_byte(server1, case):
    """The same bytes one at a time: the answer does not depend on segmentation."""
    with server1.client(timeout=T(10)) as c:
        try:
            c.send(STRICT_400[case] + PROBE, segment=1)
        except (BrokenPipeError, ConnectionResetError):
            pass  # ferry answered and closed before the last bytes
        assert_error(c.read_response(), 400)
        closed, extra = c.wait_closed(T(3))
        assert extra == b"" and closed


# --- a request body is never parsed as a request -----------------------------------------

def body_with_request(path="/sub/page.txt"):
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


INDEX = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.mark.parametrize("method,path,status", [("POST", "/index.html", 405), ("PUT", "/x", 405),
                                                ("DELETE", "/index.html", 405), ("GET", "/index.html", 200),
                                                ("GET", "/no-such-file", 404), ("HEAD", "/index.html", 200),
                                                ("OPTIONS", "*", 200)])
def test_body_is_not_a_request(server1, site, method, path, status):
    body = body_with_request() * 3
    with server1.client() as c:
        c.send(build_request(path, method=method, headers={"Content-Length": len(body)}, body=body) + INDEX)
        assert c.read_response(method).status == status
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/index.html"], "the body was answered as a request"
        c.assert_open()


def test_body_arriving_after_the_response_is_not_a_request(server1, site):
    """ferry answers a POST before its body arrives; the late body is still body."""
    body = body_with_request()
    with server1.client() as c:
        c.send(build_request("/index.html", method="POST", headers={"Content-Length": len(body)}))
        assert_error(c.read_response(), 405)
        time.sleep(0.1)
        c.send(body[:7])
        time.sleep(0.1)
        c.send(body[7:] + INDEX)
        r = c.read_response()
        assert r.body == site.files["/index.html"], "the late body was answered as a request"
        c.assert_open()


def test_body_split_exactly_at_a_request_boundary(server1, site):
    """Content-Length ends in the middle of something that looks like a request."""
    fake = body_with_request()
    body = fake[:20]
    with server1.client() as c:
        c.send(build_request("/index.html", headers={"Content-Length": len(body)}) + body + INDEX)
        assert c.read_response().body == site.files["/index.html"]
        assert c.read_response().body == site.files["/index.html"]
        c.assert_open()


def test_body_over_the_discard_limit_is_never_parsed(ferry, site):
    f = ferry(docroot=site.root, config={"max-request-body-discard": "1k"})
    body = body_with_request() * 100  # > 1k: ferry answers, then closes instead of reading it
    with f.client() as c:
        try:
            c.send(build_request("/index.html", method="POST", headers={"Content-Length": len(body)}) + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
        assert_error(r, 405)
        assert r.header("connection").lower() == "close"
        closed, extra = c.wait_closed(T(4))
        assert extra == b"", "part of the body was answered as a request"
        assert closed


def test_chunked_body_is_never_parsed(server1):
    """A chunked body (which ferry does not read) hides a request: 501, close."""
    body = b"5\r\nhello\r\n0\r\n\r\n" + body_with_request() + body_with_request()
    send_and_expect_rejection(server1.port, post(b"Transfer-Encoding: chunked", body=body), allowed=(501,))


def test_content_length_zero_then_request(server1, site):
    """The counterpart: with Content-Length: 0 the next bytes are a request."""
    with server1.client() as c:
        c.send(build_request("/index.html", method="POST", headers={"Content-Length": "0"}) + PROBE)
        assert_error(c.read_response(), 405)
        assert c.read_response().body == SUB_PAGE


def test_server_healthy_after_the_smuggling_tests(server1, site):
    with server1.client() as c:
        for _ in range(3):
            assert c.request("/index.html").body == site.files["/index.html"]
