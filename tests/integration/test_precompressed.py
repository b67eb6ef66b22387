"""Precompressed siblings (issue 5 item 4), on every backend: file.br and
file.gz served in place of file to clients that accept them, with
Content-Encoding, Vary, the original's type and their own length and ETag;
off unless configured."""

import gzip
import os

import pytest

from helpers import BACKENDS, build_request, curl, fetch

CSS = b"body { color: red }\n" * 200
BR = b"pretend-brotli:" + os.urandom(64)  # no brotli encoder in Python's library: bytes are bytes


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "www"
    (r / "docs").mkdir(parents=True)
    (r / "style.css").write_bytes(CSS)
    (r / "style.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    (r / "style.css.br").write_bytes(BR)
    (r / "only-gz.js").write_bytes(b"var x = 1;\n" * 100)
    (r / "only-gz.js.gz").write_bytes(gzip.compress(b"var x = 1;\n" * 100, mtime=0))
    (r / "plain.txt").write_bytes(b"no siblings\n")
    (r / "docs" / "index.html").write_bytes(b"<h1>docs</h1>\n" * 50)
    (r / "docs" / "index.html.gz").write_bytes(gzip.compress(b"<h1>docs</h1>\n" * 50, mtime=0))
    (r / "dir.css").write_bytes(b"x")
    (r / "dir.css.gz").mkdir()  # a directory is not a sibling
    return r


ON = "precompressed = on\n"


def get(srv, path, ae=None, method="GET", headers=()):
    hdrs = list(headers) + ([("Accept-Encoding", ae)] if ae is not None else [])
    with srv.client() as c:
        r = c.request(path, method=method, headers=hdrs)
        assert c.request("/plain.txt").body == b"no siblings\n"  # still in step
        return r


def test_off_by_default(ferry, root):
    srv = ferry(docroot=root)
    r = get(srv, "/style.css", "gzip, br")
    assert r.body == CSS and r.header("content-encoding") is None and r.header("vary") is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_gzip_sibling(ferry, root, backend):
    srv = ferry(docroot=root, backend=backend, config=ON)
    plain = get(srv, "/style.css")
    r = get(srv, "/style.css", "gzip")
    assert r.status == 200
    assert r.header("content-encoding") == "gzip"
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("content-type") == "text/css; charset=utf-8"
    assert r.body == (root / "style.css.gz").read_bytes()
    assert gzip.decompress(r.body) == CSS
    assert int(r.header("content-length")) == len(r.body)
    assert r.header("etag") != plain.header("etag")
    # the identity response varies too
    assert plain.header("vary") == "Accept-Encoding" and plain.header("content-encoding") is None


@pytest.mark.parametrize("ae,want", [
    ("gzip, deflate, br", "br"), ("br", "br"), ("gzip;q=1.0, br;q=0.5", "gzip"), ("br;q=0, gzip", "gzip"),
    ("*", "br"), ("*;q=0.5, br;q=0", "gzip"), ("x-gzip", "gzip"), ("gzip;q=0, br;q=0", None),
    ("identity", None), ("", None), (None, None), ("GZIP", "gzip"), ("deflate", None)])
def test_coding_choice(ferry, root, ae, want):
    srv = ferry(docroot=root, config=ON)
    r = get(srv, "/style.css", ae)
    assert r.header("content-encoding") == want
    assert r.body == {"br": BR, "gzip": (root / "style.css.gz").read_bytes(), None: CSS}[want]


@pytest.mark.parametrize("lines,want", [
    (["Accept-Encoding: br;q=0", "Accept-Encoding: gzip"], "gzip"),
    (["Accept-Encoding: gzip", "Accept-Encoding: br"], "br"),
    (["Accept-Encoding: identity", "Accept-Encoding:", "accept-encoding: x-gzip"], "gzip"),
])
def test_accept_encoding_over_several_lines_is_one_list(ferry, root, lines, want):
    """Repeated Accept-Encoding lines are the one list they make joined with
    commas (RFC 9110 §5.3), sent here as raw bytes."""
    srv = ferry(docroot=root, config=ON)
    head = "GET /style.css HTTP/1.1\r\nHost: localhost\r\n" + "".join(x + "\r\n" for x in lines) + "\r\n"
    with srv.client() as c:
        c.send(head.encode("latin-1"))
        r = c.read_response()
        assert c.request("/plain.txt").body == b"no siblings\n"  # still in step
    assert r.header("content-encoding") == want
    assert r.body == {"br": BR, "gzip": (root / "style.css.gz").read_bytes()}[want]


def test_only_some_siblings(ferry, root):
    srv = ferry(docroot=root, config=ON)
    assert get(srv, "/only-gz.js", "br").header("content-encoding") is None
    r = get(srv, "/only-gz.js", "br, gzip")
    assert r.header("content-encoding") == "gzip" and r.header("content-type").startswith("text/javascript")
    r = get(srv, "/plain.txt", "gzip, br")
    assert r.body == b"no siblings\n" and r.header("content-encoding") is None
    assert get(srv, "/dir.css", "gzip").body == b"x"


def test_index_file_sibling(ferry, root):
    srv = ferry(docroot=root, config=ON)
    r = get(srv, "/docs/", "gzip")
    assert r.header("content-encoding") == "gzip" and r.header("content-type") == "text/html; charset=utf-8"
    assert gzip.decompress(r.body) == b"<h1>docs</h1>\n" * 50


def test_per_path(ferry, root):
    srv = ferry(docroot=root, config="[path *.css]\nprecompressed = on\n")
    assert get(srv, "/style.css", "gzip").header("content-encoding") == "gzip"
    assert get(srv, "/only-gz.js", "gzip").header("content-encoding") is None


def test_head_range_and_conditional_use_the_sibling(ferry, root):
    srv = ferry(docroot=root, config=ON)
    gz = (root / "style.css.gz").read_bytes()
    head = get(srv, "/style.css", "gzip", method="HEAD")
    assert head.header("content-length") == str(len(gz)) and head.header("content-encoding") == "gzip"
    r = get(srv, "/style.css", "gzip", headers=[("Range", "bytes=0-9")])
    assert r.status == 206 and r.body == gz[:10] and r.header("content-range") == f"bytes 0-9/{len(gz)}"
    assert r.header("content-encoding") == "gzip"
    etag = get(srv, "/style.css", "gzip").header("etag")
    r = get(srv, "/style.css", "gzip", headers=[("If-None-Match", etag)])
    assert r.status == 304 and r.header("etag") == etag and r.header("vary") == "Accept-Encoding"
    # the identity representation does not match the gzip ETag
    assert get(srv, "/style.css", None, headers=[("If-None-Match", etag)]).status == 200


def test_curl_compressed(ferry, root, tmp_path, have_curl):
    srv = ferry(docroot=root, config=ON)
    r = curl("--fail", "--compressed", "-H", "Accept-Encoding: gzip", "-D", str(tmp_path / "h"),
             srv.url("/style.css"))
    assert r.returncode == 0 and r.stdout == CSS
    assert b"content-encoding: gzip" in (tmp_path / "h").read_bytes().lower()


def test_pipelined_codings(ferry, root):
    srv = ferry(docroot=root, config=ON)
    gz = (root / "style.css.gz").read_bytes()
    with srv.client() as c:
        c.send(b"".join(build_request("/style.css", headers={"Accept-Encoding": ae})
                        for ae in ["gzip", "identity", "br", "gzip"]))
        assert [c.read_response().body for _ in range(4)] == [gz, CSS, BR, gz]
