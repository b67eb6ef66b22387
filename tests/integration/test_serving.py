"""Static files (issue items 5 and 6), on every backend."""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from helpers import tool_missing
from helpers import CANARY, HTTP_DATE, T, assert_error, build_request, curl, fetch, http_date

MiB = 1 << 20


def check_file_response(resp, data, site=None, head=False):
    assert resp.status == 200, resp
    assert resp.reason == "OK"
    assert int(resp.header("content-length")) == len(data)
    if not head:
        assert len(resp.body) == len(data)
        assert resp.body == data


# --- bodies ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/index.html", "/a.bin", "/big.bin", "/sub/page.txt", "/style.css",
                                  "/app.js", "/data.json", "/img.png", "/blob.xyzzy", "/README",
                                  "/empty.txt"])
def test_get_body_is_byte_identical(server, site, path):
    with server.client() as c:
        check_file_response(c.request(path), site.files[path])
        # the connection is still in step: a second request on it works
        check_file_response(c.request("/a.bin"), site.files["/a.bin"])


@pytest.mark.parametrize("path", ["/index.html", "/big.bin", "/empty.txt"])
def test_head_has_get_headers_and_no_body(server, site, path):
    with server.client() as c:
        get = c.request(path)
        head = c.request(path, method="HEAD")
        check_file_response(head, site.files[path], head=True)
        for name in ("content-type", "content-length", "last-modified", "etag"):
            assert head.header(name) == get.header(name), name
        # No body bytes were sent after the HEAD response: the next
        # response starts right away.
        check_file_response(c.request("/index.html"), site.files["/index.html"])


def test_big_file_with_curl(server, site, tmp_path, have_curl):
    out = tmp_path / "big.out"
    r = curl("--fail", "-o", str(out), server.url("/big.bin"))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == site.files["/big.bin"]


def test_curl_keepalive_several_files_one_connection(server, site, tmp_path, have_curl):
    paths = ["/big.bin", "/index.html", "/a.bin", "/big.bin", "/empty.txt"]
    args = []
    for i, p in enumerate(paths):
        args += ["-o", str(tmp_path / f"out{i}"), server.url(p)]
    r = curl("--fail", "-v", *args)
    assert r.returncode == 0, r.stderr
    for i, p in enumerate(paths):
        assert (tmp_path / f"out{i}").read_bytes() == site.files[p]
    assert b"Re-using existing connection" in r.stderr or b"Reusing existing connection" in r.stderr


def test_curl_head(server, site, have_curl):
    r = curl("--fail", "-I", server.url("/big.bin"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"Content-Length: {3 * MiB}\r\n".encode() in r.stdout


def test_wget_downloads_file(server, site, tmp_path):
    if not shutil.which("wget"):
        tool_missing("wget is not installed")
    out = tmp_path / "w.out"
    r = subprocess.run(["wget", "-q", "-O", str(out), server.url("/big.bin")], timeout=T(30))
    assert r.returncode == 0
    assert out.read_bytes() == site.files["/big.bin"]


def test_big_file_read_in_small_pieces(server, site):
    """A receiver with a small window: many partial writes and EAGAIN."""
    with server.client(rcvbuf=8192) as c:
        c.send(build_request("/big.bin"))
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        got = bytearray()
        while len(got) < 3 * MiB:
            chunk = c.read_exact(min(4096, 3 * MiB - len(got)))
            got += chunk
        assert bytes(got) == site.files["/big.bin"]


def test_concurrent_big_downloads(server, site):
    results = {}

    def download(i):
        try:
            with server.client(timeout=T(20)) as c:
                results[i] = c.request("/big.bin").body
        except Exception as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=download, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(60))
    want = hashlib.sha256(site.files["/big.bin"]).hexdigest()
    for i in range(6):
        assert isinstance(results.get(i), bytes), results.get(i)
        assert hashlib.sha256(results[i]).hexdigest() == want


def test_huge_file(server, site):
    h = hashlib.sha256()
    with open(site.root / "huge.bin", "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    with server.client(timeout=T(30)) as c:
        c.send(build_request("/huge.bin"))
        head = c.read_head()
        assert b"Content-Length: %d\r\n" % site.huge_size in head + b"\r\n"
        got = hashlib.sha256()
        left = site.huge_size
        while left:
            chunk = c.read_exact(min(MiB, left))
            got.update(chunk)
            left -= len(chunk)
        assert got.hexdigest() == h.hexdigest()


# --- headers ---------------------------------------------------------------------

@pytest.mark.parametrize("path,ctype", [
    ("/index.html", "text/html; charset=utf-8"),
    ("/sub/page.txt", "text/plain; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/data.json", "application/json"),
    ("/img.png", "image/png"),
    ("/a.bin", "application/octet-stream"),
    ("/blob.xyzzy", "application/octet-stream"),
    ("/README", "application/octet-stream"),
    ("/", "text/html; charset=utf-8"),
])
def test_content_type(server, path, ctype):
    r = fetch(server.port, path)
    assert r.status == 200
    assert r.header("content-type").lower().replace(" ", "") == ctype.replace(" ", "")


def test_content_type_javascript_has_charset(server):
    ctype = fetch(server.port, "/app.js").header("content-type").lower()
    assert ctype.split(";")[0] in ("text/javascript", "application/javascript")
    if ctype.startswith("text/"):
        assert "charset=utf-8" in ctype.replace(" ", "")


def test_content_type_ignores_extension_case(ferry, tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "UPPER.HTML").write_bytes(b"<p>x</p>")
    f = ferry(docroot=tmp_path / "root")
    assert fetch(f.port, "/UPPER.HTML").header("content-type").startswith("text/html")


def test_mime_types_file_adds_types(ferry, site, tmp_path):
    mt = tmp_path / "mime.types"
    mt.write_text("# test\napplication/x-ferry-test\txyzzy\n")
    f = ferry(docroot=site.root, config={"mime-types-file": str(mt)})
    assert fetch(f.port, "/blob.xyzzy").header("content-type") == "application/x-ferry-test"
    # the built-in table still applies
    assert fetch(f.port, "/img.png").header("content-type") == "image/png"


def test_mime_types_off_uses_builtin_table(ferry, site):
    f = ferry(docroot=site.root, config={"mime-types-file": "off"})
    assert fetch(f.port, "/style.css").header("content-type").replace(" ", "") == "text/css;charset=utf-8"
    assert fetch(f.port, "/img.png").header("content-type") == "image/png"


def test_missing_mime_types_file_is_an_error(ferry, site, tmp_path):
    f = ferry(docroot=site.root, config={"mime-types-file": str(tmp_path / "nope.types")}, start=False)
    f.start(wait=False)
    assert f.wait_exit() != 0
    assert "nope.types" in f.stderr


def test_last_modified_etag_date_server(server, site):
    path = site.root / "a.bin"
    mtime = 1_000_000_000  # Sun, 09 Sep 2001 01:46:40 GMT
    os.utime(path, (mtime, mtime))
    before = time.time()
    r = fetch(server.port, "/a.bin")
    after = time.time()
    assert r.status == 200
    lm = r.header("last-modified")
    assert HTTP_DATE.match(lm), lm
    assert lm == "Sun, 09 Sep 2001 01:46:40 GMT" == http_date(mtime)
    date = r.header("date")
    assert HTTP_DATE.match(date), date
    import email.utils
    ts = email.utils.parsedate_to_datetime(date).timestamp()
    assert int(before) - 1 <= ts <= after + 1
    assert r.header("server", ) and r.header("server").startswith("ferry")
    etag = r.header("etag")
    assert re.fullmatch(r'(W/)?"[!#-~]+"', etag), etag
    assert fetch(server.port, "/a.bin").header("etag") == etag
    assert fetch(server.port, "/big.bin").header("etag") != etag


def test_etag_changes_with_content(ferry, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    f_path = root / "x.txt"
    f_path.write_bytes(b"one\n")
    os.utime(f_path, (1_500_000_000, 1_500_000_000))
    f = ferry(docroot=root)
    first = fetch(f.port, "/x.txt")
    f_path.write_bytes(b"two!\n")
    os.utime(f_path, (1_600_000_000, 1_600_000_000))

    def changed():
        r = fetch(f.port, "/x.txt")
        return r if r.body == b"two!\n" else None
    from helpers import wait_until
    second = wait_until(changed, T(5), interval=0.1, message="the new content")
    assert second.header("etag") != first.header("etag")
    assert second.header("last-modified") == http_date(1_600_000_000)
    assert second.header("content-length") == "5"


# --- directories ---------------------------------------------------------------

def test_index_file(server, site):
    check_file_response(fetch(server.port, "/"), site.files["/index.html"])
    check_file_response(fetch(server.port, "/sub/"), site.files["/sub/index.html"])
    check_file_response(fetch(server.port, "/sub/?q=1"), site.files["/sub/index.html"])


def test_index_files_config_order(ferry, site):
    f = ferry(docroot=site.root, config={"index-files": "home.htm index.html"})
    assert fetch(f.port, "/home/").body == site.files["/home/home.htm"]
    assert fetch(f.port, "/").body == site.files["/index.html"]
    assert fetch(f.port, "/home/").header("content-type").startswith("text/html")
    g = ferry(docroot=site.root)
    assert fetch(g.port, "/home/").body == site.files["/home/index.html"]


@pytest.mark.parametrize("path,location", [
    ("/sub", "/sub/"),
    ("/sub?a=1&b=%20x", "/sub/?a=1&b=%20x"),
    ("/noindex", "/noindex/"),
    ("/home", "/home/"),
])
def test_directory_without_slash_redirects(server, path, location):
    with server.client() as c:
        r = c.request(path)
        assert r.status == 301
        assert r.reason == "Moved Permanently"
        loc = r.header("location")
        assert loc == location or re.fullmatch(r"https?://[^/]+" + re.escape(location), loc), loc
        assert int(r.header("content-length")) == len(r.body) > 0
        assert b"301" in r.body
        # a redirect keeps the connection
        assert c.request("/index.html").status == 200


def test_redirect_head_has_no_body(server):
    with server.client() as c:
        r = c.request("/sub", method="HEAD")
        assert r.status == 301 and r.body == b""
        assert c.request("/index.html").status == 200


@pytest.mark.parametrize("query_len", [2000, 2100, 4000, 8000])
def test_redirect_keeps_a_long_query_whole(server1, query_len):
    """Any request within the head limit (8k) gets its 301, query kept."""
    query = "q" * query_len
    with server1.client() as c:
        r = c.request("/sub?" + query)
        assert r.status == 301, r
        assert r.header("location") == "/sub/?" + query
        assert int(r.header("content-length")) == len(r.body) > 0
        assert c.request("/index.html").status == 200


def test_redirect_with_a_long_encoded_path_and_query(ferry, tmp_path):
    """The path re-encoded (3 bytes a byte) plus the query: far past 4k."""
    name = "\u00e9" * 100  # 200 bytes, 600 encoded
    root = tmp_path / "www"
    deep = root.joinpath(*[name] * 5)
    deep.mkdir(parents=True)
    f = ferry(docroot=root, config={"max-request-header-size": "16k"})
    path = "/" + "/".join([urllib.parse.quote(name)] * 5)
    query = "k=" + "v" * 6000
    with f.client() as c:
        r = c.request(path + "?" + query)
        assert r.status == 301, r
        assert r.header("location") == path + "/?" + query
        assert c.request(path + "/").status == 403  # the directory, no index


def test_directory_without_index_is_403(server):
    with server.client() as c:
        assert_error(c.request("/noindex/"), 403)
        assert c.request("/index.html").status == 200  # 403 keeps the connection


def test_missing_file_is_404(server):
    with server.client() as c:
        assert_error(c.request("/no-such-file.html"), 404)
        assert_error(c.request("/sub/no-such-file"), 404)
        assert_error(c.request("/no-such-dir/x"), 404)
        assert_error(c.request("/no-such-file.html", method="HEAD"), 404, head=True)
        assert c.request("/index.html").status == 200  # 404 keeps the connection


def test_file_with_trailing_slash_is_404(server):
    assert_error(fetch(server.port, "/index.html/"), 404)


@pytest.mark.parametrize("path,name", [
    ("/caf%C3%A9%20menu.txt", "/caf\u00e9 menu.txt"),
    ("/caf%c3%a9%20menu.txt", "/caf\u00e9 menu.txt"),
    ("/%69ndex.html", "/index.html"),
    ("/sub/./page.txt", "/sub/page.txt"),
    ("//sub//page.txt", "/sub/page.txt"),
    ("/sub/../index.html", "/index.html"),
    ("/sub/%2e%2e/index.html", "/index.html"),
    ("/./", "/index.html"),
    ("/index.html?x=1&y=/../..", "/index.html"),
    ("/link-inside", "/index.html"),
    ("/dirlink-inside/page.txt", "/sub/page.txt"),
])
def test_path_decoding_and_normalisation(server, site, path, name):
    check_file_response(fetch(server.port, path), site.files[name])


def test_absolute_form_target(server, site):
    r = fetch(server.port, f"http://127.0.0.1:{server.port}/sub/page.txt")
    check_file_response(r, site.files["/sub/page.txt"])


def test_utf8_name_with_curl(server, site, have_curl):
    r = curl("--fail", server.url("/caf%C3%A9%20menu.txt"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == site.files["/caf\u00e9 menu.txt"]


def test_encoded_slash_is_not_a_separator(server):
    assert_error(fetch(server.port, "/sub%2fpage.txt"), 404)
    assert_error(fetch(server.port, "/sub%2Fpage.txt"), 404)


# --- escaping the docroot -------------------------------------------------------

TRAVERSALS = [
    "/../secret.txt",
    "/../../../../../../etc/passwd",
    "/sub/../../secret.txt",
    "/./../secret.txt",
    "//../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/..%5Csecret.txt",
    "/..\\secret.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/secret.txt%00",
    "/../secret.txt%00.html",
    "/index.html%00/../../secret.txt",
    "/%00",
    "/link-outside",
    "/link-outside-abs",
    "/dirlink-outside/",
    "/dirlink-outside/index.html",
    "/sub/../dirlink-outside/index.html",
    "http://localhost/../secret.txt",
    "http://localhost/%2e%2e/secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_escape_from_docroot(server, path):
    with server.client() as c:
        c.send(build_request(path))
        r = c.read_response()
        assert r.status in (400, 403, 404), (path, r)
        assert_error(r, r.status)
        assert CANARY not in r.body
        # Nothing else arrives after the response: either the connection
        # closes, or the next response follows right after it.
        if r.header("connection") == "close":
            closed, extra = c.wait_closed(T(2))
            assert CANARY not in extra
            assert closed and extra == b""
        else:
            assert c.request("/sub/page.txt").body == b"a page in sub\n"


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
                                  "/link-outside", "/dirlink-outside/index.html", "/%2e%2e/"])
def test_no_escape_with_curl_path_as_is(server, path, have_curl):
    r = curl("--path-as-is", "-i", server.url(path))
    assert r.returncode == 0, r.stderr
    assert re.match(rb"HTTP/1.1 (400|403|404) ", r.stdout), r.stdout[:200]
    assert CANARY not in r.stdout


def test_symlink_outside_is_refused_but_inside_served(server, site):
    assert fetch(server.port, "/link-outside").status in (403, 404)
    check_file_response(fetch(server.port, "/link-inside"), site.files["/index.html"])


def test_fifo_is_403_without_hanging(server, site):
    with server.client(timeout=T(5)) as c:
        start = time.monotonic()
        assert_error(c.request("/fifo"), 403)
        assert time.monotonic() - start < T(3)
        check_file_response(c.request("/index.html"), site.files["/index.html"])
    # the server is still responsive to others
    check_file_response(fetch(server.port, "/a.bin"), site.files["/a.bin"])


def test_unreadable_file_is_403(ferry):
    """A file (and a directory) the server may not read.  Root reads
    anything, so as root the server runs as nobody through setpriv."""
    wrapper = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            tool_missing("running as root and setpriv is not installed")
        wrapper = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    root = Path(tempfile.mkdtemp(prefix="ferry-perm-", dir="/tmp"))
    try:
        root.chmod(0o755)
        (root / "ok.txt").write_bytes(b"readable\n")
        (root / "ok.txt").chmod(0o644)
        (root / "locked.txt").write_bytes(b"not for you\n")
        (root / "locked.txt").chmod(0o000)
        (root / "lockeddir").mkdir()
        (root / "lockeddir" / "f.txt").write_bytes(b"not for you\n")
        (root / "lockeddir").chmod(0o000)
        f = ferry(docroot=root, wrapper=wrapper)
        assert fetch(f.port, "/ok.txt").body == b"readable\n"
        assert_error(fetch(f.port, "/locked.txt"), 403)
        assert_error(fetch(f.port, "/lockeddir/f.txt"), 403)
        assert_error(fetch(f.port, "/lockeddir/"), 403)
        f.stop()
    finally:
        (root / "lockeddir").chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def test_many_requests_reuse_connection(server, site):
    """Hundreds of small requests on one connection (no per-request leaks
    visible to the sanitizers, no state carried over)."""
    paths = ["/index.html", "/a.bin", "/empty.txt", "/missing", "/sub", "/sub/"]
    with server.client() as c:
        for i in range(300):
            p = paths[i % len(paths)]
            r = c.request(p, method="HEAD" if i % 7 == 0 else "GET")
            if p in site.files:
                assert r.status == 200
            elif p == "/sub/":
                assert r.status == 200
            elif p == "/sub":
                assert r.status == 301
            else:
                assert r.status == 404
