"""Conditional requests (RFC 9110 §13; issue 5 item 2), on every backend:
the ETag, If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since
in the RFC's order, what a 304 carries; and curl -z."""

import os
import re
import time

import pytest

from helpers import BACKENDS, HTTP_DATE, assert_error, build_request, curl, fetch, http_date

ETAG = re.compile(r'^"[0-9a-f]+-[0-9a-f]+"$')  # the default, etag = size-mtime


def validators(server, path="/a.bin"):
    r = fetch(server.port, path)
    assert r.status == 200
    return r.header("etag"), r.header("last-modified")


def get(server, headers, path="/a.bin", method="GET"):
    with server.client() as c:
        r = c.request(path, method=method, headers=headers)
        # whatever the answer, the connection is still in step
        assert c.request("/sub/page.txt").body == b"a page in sub\n"
        return r


def check_304(r, etag, lm):
    assert r.status == 304, r
    assert r.reason == "Not Modified"
    assert r.body == b""
    assert r.header("etag") == etag and r.header("last-modified") == lm
    assert r.header("content-length") is None and r.header("content-type") is None
    assert HTTP_DATE.match(r.header("date"))


def check_200(r, data):
    assert r.status == 200, r
    assert r.body == data


# --- the validators -----------------------------------------------------------------

def test_strong_etag_from_size_and_mtime_ns(ferry, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    f = root / "f.txt"
    f.write_bytes(b"12345")
    os.utime(f, ns=(1_600_000_000_000_000_001, 1_600_000_000_000_000_001))
    srv = ferry(docroot=root, config={"open-file-cache-size": "0"})
    e1 = fetch(srv.port, "/f.txt").header("etag")
    assert ETAG.match(e1), e1
    st = os.stat(f)
    assert e1 == '"%x-%x"' % (st.st_size, st.st_mtime_ns)
    # the same second, another nanosecond: another ETag
    os.utime(f, ns=(1_600_000_000_000_000_002, 1_600_000_000_000_000_002))
    e2 = fetch(srv.port, "/f.txt").header("etag")
    assert e2 != e1
    assert fetch(srv.port, "/f.txt").header("last-modified") == http_date(1_600_000_000)


def test_etag_with_the_inode_when_asked(ferry, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    f = root / "f.txt"
    f.write_bytes(b"12345")
    srv = ferry(docroot=root, config={"etag": "inode-size-mtime"})
    st = os.stat(f)
    assert fetch(srv.port, "/f.txt").header("etag") == '"%x-%x-%x"' % (st.st_ino, st.st_size, st.st_mtime_ns)


# --- If-None-Match ------------------------------------------------------------------

@pytest.mark.parametrize("form", ["{e}", "W/{e}", "*", '"x", {e}', '"x",{e},"y"', " {e} "])
def test_if_none_match_gives_304(server, form):
    etag, lm = validators(server)
    check_304(get(server, {"If-None-Match": form.format(e=etag)}), etag, lm)


def test_if_none_match_on_head(server):
    etag, lm = validators(server)
    check_304(get(server, {"If-None-Match": etag}, method="HEAD"), etag, lm)


@pytest.mark.parametrize("form", ['"other"', '"x", "y"', "{bare}", '"unterminated'])
def test_if_none_match_without_a_match_gives_200(server, site, form):
    etag, _ = validators(server)
    check_200(get(server, {"If-None-Match": form.format(bare=etag.strip('"'))}), site.files["/a.bin"])


def test_other_files_etag_does_not_match(server, site):
    etag, _ = validators(server, "/index.html")
    check_200(get(server, {"If-None-Match": etag}), site.files["/a.bin"])


# --- If-Modified-Since --------------------------------------------------------------

def test_if_modified_since(server, site):
    etag, lm = validators(server)
    mtime = int(os.stat(site.root / "a.bin").st_mtime)
    check_304(get(server, {"If-Modified-Since": lm}), etag, lm)
    check_304(get(server, {"If-Modified-Since": http_date(mtime + 3600)}), etag, lm)
    check_200(get(server, {"If-Modified-Since": http_date(mtime - 1)}), site.files["/a.bin"])
    # the obsolete date forms count too
    rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(mtime))
    asctime = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(mtime))
    check_304(get(server, {"If-Modified-Since": rfc850}), etag, lm)
    check_304(get(server, {"If-Modified-Since": asctime}), etag, lm)


@pytest.mark.parametrize("value", ["yesterday", "", "Sun, 32 Nov 2094 08:49:37 GMT", "1700000000"])
def test_invalid_if_modified_since_is_ignored(server, site, value):
    check_200(get(server, {"If-Modified-Since": value}), site.files["/a.bin"])


def test_if_modified_since_ignored_when_if_none_match_is_there(server, site):
    _, lm = validators(server)
    check_200(get(server, [("If-None-Match", '"other"'), ("If-Modified-Since", lm)]), site.files["/a.bin"])


# --- If-Match, If-Unmodified-Since ----------------------------------------------------

def test_if_match(server, site):
    etag, _ = validators(server)
    data = site.files["/a.bin"]
    check_200(get(server, {"If-Match": etag}), data)
    check_200(get(server, {"If-Match": "*"}), data)
    check_200(get(server, {"If-Match": f'"x", {etag}'}), data)
    for value in ['"other"', "W/" + etag, ""]:
        r = get(server, {"If-Match": value})
        assert_error(r, 412)
        assert r.reason == "Precondition Failed"


def test_if_unmodified_since(server, site):
    mtime = int(os.stat(site.root / "a.bin").st_mtime)
    data = site.files["/a.bin"]
    check_200(get(server, {"If-Unmodified-Since": http_date(mtime)}), data)
    check_200(get(server, {"If-Unmodified-Since": http_date(mtime + 10)}), data)
    assert_error(get(server, {"If-Unmodified-Since": http_date(mtime - 10)}), 412)
    check_200(get(server, {"If-Unmodified-Since": "not a date"}), data)


def test_412_on_head_has_no_body(server):
    r = get(server, {"If-Match": '"other"'}, method="HEAD")
    assert r.status == 412 and r.body == b""


# --- a list over several field lines ----------------------------------------------

def raw_get(server, lines, path="/a.bin"):
    """GET with the header lines exactly as given, in order: a field may repeat."""
    head = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
    with server.client() as c:
        c.send(head.encode("latin-1"))
        r = c.read_response()
        assert c.request("/sub/page.txt").body == b"a page in sub\n"
        return r


@pytest.mark.parametrize("lines", [
    ['If-None-Match: "x"', "If-None-Match: {e}"],
    ['If-None-Match: "x"', "If-None-Match:", 'If-None-Match: "y", {e}'],
    ["If-None-Match: {e}", 'if-none-match: "x"'],
])
def test_if_none_match_over_several_lines_is_one_list(server, lines):
    """Repeated lines of a list-based field are the one list they make joined
    with commas (RFC 9110 §5.3): a match in any line gives 304."""
    etag, lm = validators(server)
    check_304(raw_get(server, [line.format(e=etag) for line in lines]), etag, lm)


def test_if_none_match_over_several_lines_without_a_match(server, site):
    check_200(raw_get(server, ['If-None-Match: "x"', 'If-None-Match: "y"']), site.files["/a.bin"])


def test_if_match_over_several_lines_is_one_list(server, site):
    etag, _ = validators(server)
    check_200(raw_get(server, ['If-Match: "x"', f"If-Match: {etag}"]), site.files["/a.bin"])
    assert_error(raw_get(server, ['If-Match: "x"', 'If-Match: "y"']), 412)


# --- the order of RFC 9110 §13.2.2 --------------------------------------------------

def test_evaluation_order(server, site):
    etag, lm = validators(server)
    mtime = int(os.stat(site.root / "a.bin").st_mtime)
    # 1. a failed If-Match wins over a matching If-None-Match
    assert_error(get(server, [("If-Match", '"other"'), ("If-None-Match", etag)]), 412)
    # 2. If-Unmodified-Since is not looked at when If-Match is there
    check_304(get(server, [("If-Match", etag), ("If-Unmodified-Since", http_date(mtime - 10)),
                           ("If-None-Match", etag)]), etag, lm)
    # 3. then If-None-Match
    check_304(get(server, [("If-Unmodified-Since", http_date(mtime)), ("If-None-Match", etag)]), etag, lm)
    # 5. conditions before Range: a 304 even with a Range header
    check_304(get(server, [("Range", "bytes=0-1"), ("If-None-Match", etag)]), etag, lm)
    # and a 412 before a 416
    assert_error(get(server, [("Range", "bytes=99999-"), ("If-Match", '"other"')]), 412)


def test_304_carries_cache_headers(ferry, site, tmp_path):
    srv = ferry(docroot=site.root, config='[path /a.bin]\ncache-control = "public, max-age=600"\nexpires = 10m\n'
                                          'add-header = X-Extra: yes\n')
    etag, lm = validators(srv)
    r = get(srv, {"If-None-Match": etag})
    check_304(r, etag, lm)
    assert r.header("cache-control") == "public, max-age=600"
    assert HTTP_DATE.match(r.header("expires"))
    assert r.header("x-extra") == "yes"


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_304s_pipelined(ferry, site, backend):
    srv = ferry(docroot=site.root, backend=backend)
    etag, lm = validators(srv, "/big.bin")
    with srv.client() as c:
        c.send(build_request("/big.bin", headers={"If-None-Match": etag}) * 20 + build_request("/big.bin"))
        for _ in range(20):
            check_304(c.read_response(), etag, lm)
        check_200(c.read_response(), site.files["/big.bin"])


# --- curl -z ----------------------------------------------------------------------

def test_curl_time_condition(server, site, tmp_path, have_curl):
    """curl -z FILE sends If-Modified-Since with FILE's mtime; -z -FILE
    sends If-Unmodified-Since."""
    mtime = int(os.stat(site.root / "a.bin").st_mtime)
    newer, older = tmp_path / "newer", tmp_path / "older"
    newer.write_bytes(b"")
    older.write_bytes(b"")
    os.utime(newer, (mtime + 100, mtime + 100))
    os.utime(older, (mtime - 100, mtime - 100))
    r = curl("-z", str(newer), "-w", "%{http_code}", "-o", "/dev/null", server.url("/a.bin"))
    assert r.returncode == 0 and r.stdout == b"304", r
    r = curl("-z", str(older), "-w", "\n%{http_code}", server.url("/a.bin"))
    assert r.returncode == 0 and r.stdout == site.files["/a.bin"] + b"\n200"
    r = curl("-z", "-" + str(older), "-w", "%{http_code}", "-o", "/dev/null", server.url("/a.bin"))
    assert r.stdout == b"412", r
    r = curl("-z", "-" + str(newer), "-w", "%{http_code}", "-o", "/dev/null", server.url("/a.bin"))
    assert r.stdout == b"200", r
    r = curl("-z", http_date(mtime), "-w", "%{http_code}", "-o", "/dev/null", server.url("/a.bin"))
    assert r.stdout == b"304", r


def test_curl_etag_compare(server1, site, tmp_path, have_curl):
    """curl --etag-save then --etag-compare revalidates with If-None-Match."""
    tag = tmp_path / "etag"
    r = curl("--etag-save", str(tag), "-o", "/dev/null", server1.url("/a.bin"))
    assert r.returncode == 0
    r = curl("--etag-compare", str(tag), "-w", "%{http_code}", "-o", "/dev/null", server1.url("/a.bin"))
    assert r.stdout == b"304", r
