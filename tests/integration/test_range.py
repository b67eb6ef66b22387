"""Range requests (RFC 9110 §14; issue 5 item 1), on every backend: single
ranges, multipart/byteranges, the policy for overlapping and too many
ranges, 416, ignored syntax errors, If-Range, HEAD (which ignores Range);
and real clients: curl -r and wget -c."""

import os
import re
import shutil
import subprocess

import pytest

from helpers import tool_missing
from helpers import (BACKENDS, T, access_log_lines, assert_error, build_request, curl, fetch, parse_access_line,
                     parse_multipart)

MiB = 1 << 20


def get_range(server, path, value, method="GET", headers=()):
    with server.client() as c:
        return c.request(path, method=method, headers=[("Range", value), *headers])


def check_206(resp, data, first, last, head=False):
    assert resp.status == 206, resp
    assert resp.reason == "Partial Content"
    assert resp.header("content-range") == f"bytes {first}-{last}/{len(data)}"
    assert int(resp.header("content-length")) == last - first + 1
    assert resp.header("accept-ranges") == "bytes"
    assert resp.header("etag") and resp.header("last-modified")
    if not head:
        assert resp.body == data[first:last + 1]


def check_full(resp, data):
    assert resp.status == 200, resp
    assert resp.header("content-range") is None
    assert resp.header("accept-ranges") == "bytes"
    assert resp.body == data


# --- single ranges ----------------------------------------------------------------

@pytest.mark.parametrize("value,first,last", [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, 1023), ("bytes=-24", 1000, 1023), ("bytes=1023-1023", 1023, 1023),
    ("bytes=1000-5000", 1000, 1023), ("bytes=-5000", 0, 1023), ("BYTES=5-9", 5, 9), ("bytes= 5-9 ", 5, 9),
    ("bytes=0-99999999999999999999999", 0, 1023), ("bytes=2000-3000, 10-19", 10, 19), ("bytes=0-9,10-19", 0, 19)])
def test_single_range(server, site, value, first, last):
    check_206(get_range(server, "/a.bin", value), site.files["/a.bin"], first, last)


def test_accept_ranges_on_a_full_response(server, site):
    check_full(fetch(server.port, "/a.bin"), site.files["/a.bin"])


def test_large_range_of_a_huge_file(server, site):
    """A large range goes through the backend like a whole file: 24 MiB from
    an odd offset in the middle of the 64 MiB file."""
    first, last = 10 * MiB + 12345, 34 * MiB + 777
    with server.client(timeout=T(30)) as c:
        r = c.request("/huge.bin", headers={"Range": f"bytes={first}-{last}"})
    assert r.status == 206 and r.header("content-range") == f"bytes {first}-{last}/{site.huge_size}"
    with open(site.root / "huge.bin", "rb") as f:
        f.seek(first)
        assert r.body == f.read(last - first + 1)


def test_suffix_range_of_a_huge_file(server, site):
    with server.client(timeout=T(30)) as c:
        r = c.request("/huge.bin", headers={"Range": "bytes=-3000000"})
    first = site.huge_size - 3000000
    assert r.status == 206
    assert r.header("content-range") == f"bytes {first}-{site.huge_size - 1}/{site.huge_size}"
    with open(site.root / "huge.bin", "rb") as f:
        f.seek(first)
        assert r.body == f.read()


def check_head_of_whole_file(resp, data):
    """What HEAD answers whatever its Range: the head of a 200 for the file."""
    assert resp.status == 200, resp
    assert resp.header("content-range") is None
    assert int(resp.header("content-length")) == len(data)
    assert not resp.header("content-type").startswith("multipart/")
    assert resp.header("accept-ranges") == "bytes"
    assert resp.body == b""


@pytest.mark.parametrize("value", ["bytes=0-0", "bytes=100-199", "bytes=-10"])
def test_head_ignores_range(server, site, value):
    """Range is defined for GET only; other methods ignore it (RFC 9110 §14.2)."""
    data = site.files["/big.bin"]
    with server.client() as c:
        check_head_of_whole_file(c.request("/big.bin", method="HEAD", headers={"Range": value}), data)
        # nothing followed the head: the connection is in step, and GET still gets ranges
        check_206(c.request("/big.bin", headers={"Range": "bytes=100-199"}), data, 100, 199)


def test_head_ignores_range_whatever_if_range_says(server, site):
    data = site.files["/a.bin"]
    full = fetch(server.port, "/a.bin")
    for if_range in (full.header("etag"), full.header("last-modified"), '"stale"'):
        with server.client() as c:
            r = c.request("/a.bin", method="HEAD", headers=[("Range", "bytes=0-0"), ("If-Range", if_range)])
            check_head_of_whole_file(r, data)


def test_ranges_keep_the_connection_in_step(server, site):
    """Pipelined range requests, each answered with exactly its bytes."""
    data = site.files["/big.bin"]
    specs = [(0, 0), (1, 65536), (3 * MiB - 10, 3 * MiB - 1), (12345, 2 * MiB)]
    with server.client() as c:
        c.send(b"".join(build_request("/big.bin", headers={"Range": f"bytes={a}-{b}"}) for a, b in specs))
        for a, b in specs:
            check_206(c.read_response(), data, a, b)
        check_full(c.request("/a.bin"), site.files["/a.bin"])


# --- 416 and ignored headers --------------------------------------------------------

@pytest.mark.parametrize("value", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=1024-2000,3000-"])
def test_unsatisfiable_is_416(server, site, value):
    with server.client() as c:
        r = c.request("/a.bin", headers={"Range": value})
        assert_error(r, 416)
        assert r.reason == "Range Not Satisfiable"
        assert r.header("content-range") == "bytes */1024"
        # a 416 keeps the connection
        check_full(c.request("/a.bin"), site.files["/a.bin"])


def test_any_range_of_an_empty_file_is_416(server):
    r = get_range(server, "/empty.txt", "bytes=0-")
    assert_error(r, 416)
    assert r.header("content-range") == "bytes */0"


def test_head_of_an_unsatisfiable_range_is_200(server, site):
    """Not 416: HEAD ignores Range altogether."""
    with server.client() as c:
        check_head_of_whole_file(c.request("/a.bin", method="HEAD", headers={"Range": "bytes=9999-"}),
                                 site.files["/a.bin"])
        assert c.request("/a.bin").status == 200


@pytest.mark.parametrize("value", ["bytes", "bytes=", "bytes=,", "items=0-1", "bytes=a-b", "bytes=5-1",
                                   "bytes=0-1,x", "bytes 0-1", "bytes=--1", "bytes=1", "bytes=0-1;x",
                                   "bytes=0-9,5-14", "bytes=0-,-1", "bytes=0-9,0-9"])
def test_bad_syntax_unknown_units_and_overlap_give_the_whole_file(server, site, value):
    check_full(get_range(server, "/a.bin", value), site.files["/a.bin"])


def test_too_many_ranges_give_the_whole_file(server, site):
    """More than 16 ranges (after merging) is answered with the file once:
    no amplification."""
    data = site.files["/a.bin"]
    sixteen = ",".join(f"{i * 50}-{i * 50 + 9}" for i in range(16))
    r = get_range(server, "/a.bin", "bytes=" + sixteen)
    assert r.status == 206 and len(parse_multipart(r)) == 16
    check_full(get_range(server, "/a.bin", "bytes=" + sixteen + ",1000-1001"), data)
    # touching ranges merge, so many of them are fine
    many = ",".join(f"{i}-{i}" for i in range(40))
    check_206(get_range(server, "/a.bin", "bytes=" + many), data, 0, 39)


def test_range_is_ignored_for_other_statuses(server):
    assert_error(get_range(server, "/no-such-file", "bytes=0-1"), 404)


# --- multipart/byteranges ---------------------------------------------------------

@pytest.mark.parametrize("value,want", [
    ("bytes=0-1,5-6", [(0, 1), (5, 6)]),
    ("bytes=100-199,-10,300-309", [(100, 199), (300, 309), (1014, 1023)]),
    ("bytes=900-,0-0", [(0, 0), (900, 1023)]),
])
def test_multipart(server, site, value, want):
    data = site.files["/a.bin"]
    r = get_range(server, "/a.bin", value)
    assert r.status == 206 and r.header("content-range") is None
    assert r.header("accept-ranges") == "bytes"
    parts = parse_multipart(r)
    assert [(p[0], p[1]) for p in parts] == want
    for first, last, size, ctype, body in parts:
        assert size == len(data) and ctype == "application/octet-stream"
        assert body == data[first:last + 1]


def test_multipart_of_a_big_file_on_every_backend(server, site):
    """Parts of megabytes, so every part takes the zero-copy path."""
    data = site.files["/big.bin"]
    spec = [(0, MiB - 1), (MiB + 17, 2 * MiB), (3 * MiB - 100, 3 * MiB - 1)]
    with server.client(timeout=T(20)) as c:
        r = c.request("/big.bin", headers={"Range": "bytes=" + ",".join(f"{a}-{b}" for a, b in spec)})
        parts = parse_multipart(r)
        assert [(p[0], p[1]) for p in parts] == spec
        for first, last, _, _, body in parts:
            assert body == data[first:last + 1]
        check_full(c.request("/a.bin"), site.files["/a.bin"])


def test_multipart_text_part_type(server, site):
    r = get_range(server, "/index.html", "bytes=0-4,10-14")
    assert [p[3] for p in parse_multipart(r)] == ["text/html; charset=utf-8"] * 2


def test_head_with_several_ranges_is_200(server, site):
    with server.client() as c:
        head = c.request("/a.bin", method="HEAD", headers={"Range": "bytes=0-1,5-6"})
        check_head_of_whole_file(head, site.files["/a.bin"])
        check_full(c.request("/a.bin"), site.files["/a.bin"])


def test_pipelined_multipart(server, site):
    data = site.files["/a.bin"]
    with server.client() as c:
        c.send(build_request("/a.bin", headers={"Range": "bytes=0-9,20-29"}) * 3 + build_request("/a.bin"))
        for _ in range(3):
            parts = parse_multipart(c.read_response())
            assert [p[4] for p in parts] == [data[0:10], data[20:30]]
        check_full(c.read_response(), data)


# --- If-Range -----------------------------------------------------------------------

def test_if_range(server, site):
    data = site.files["/a.bin"]
    full = fetch(server.port, "/a.bin")
    etag, lm = full.header("etag"), full.header("last-modified")
    rng = ("Range", "bytes=0-9")
    check_206(get_range(server, "/a.bin", "bytes=0-9", headers=[("If-Range", etag)]), data, 0, 9)
    check_206(get_range(server, "/a.bin", "bytes=0-9", headers=[("If-Range", lm)]), data, 0, 9)
    for stale in ['"nope"', "W/" + etag, "Sun, 06 Nov 1994 08:49:37 GMT", "garbage"]:
        with server.client() as c:
            check_full(c.request("/a.bin", headers=[rng, ("If-Range", stale)]), data)
    # If-Range without Range changes nothing
    with server.client() as c:
        check_full(c.request("/a.bin", headers={"If-Range": '"nope"'}), data)


@pytest.mark.parametrize("date", ["Wed, 03 Jan 2024 12:00:00 GMT", "Wednesday, 03-Jan-24 12:00:00 GMT",
                                  "Wed Jan  3 12:00:00 2024"])
def test_if_range_with_a_date_on_a_wednesday(ferry, tmp_path, date):
    """ "Wed, ..." starts with W, as a weak entity-tag does; it is a date all
    the same, and the file's exact Last-Modified, so the range is sent."""
    root = tmp_path / "www"
    root.mkdir()
    f = root / "ten.bin"
    f.write_bytes(b"0123456789")
    wednesday_noon = 1704283200  # 2024-01-03 12:00:00 UTC
    os.utime(f, (wednesday_noon, wednesday_noon))
    srv = ferry(docroot=root)
    with srv.client() as c:
        r = c.request("/ten.bin", headers=[("Range", "bytes=0-1"), ("If-Range", date)])
        check_206(r, b"0123456789", 0, 1)
        stale = c.request("/ten.bin", headers=[("Range", "bytes=0-1"), ("If-Range", "Wed, 03 Jan 2024 11:59:59 GMT")])
        check_full(stale, b"0123456789")


# --- the access log -----------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_access_log_counts_range_bodies(ferry, site, tmp_path, backend):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, backend=backend, config={"access-log": str(log)})
    with f.client() as c:
        single = c.request("/big.bin", headers={"Range": "bytes=10-1048585"})
        multi = c.request("/a.bin", headers={"Range": "bytes=0-1,5-6"})
        bad = c.request("/a.bin", headers={"Range": "bytes=5000-"})
    lines = [parse_access_line(x) for x in access_log_lines(log, 3)]
    assert [(x["status"], x["bytes"]) for x in lines] == [
        (206, len(single.body)), (206, len(multi.body)), (416, len(bad.body))]
    assert len(single.body) == 1048576


# --- real clients -------------------------------------------------------------------

def test_curl_range(server, site, tmp_path, have_curl):
    data = site.files["/big.bin"]
    out = tmp_path / "part"
    r = curl("--fail", "-r", "1000-1999999", "-o", str(out), "-w", "%{http_code}", server.url("/big.bin"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"206"
    assert out.read_bytes() == data[1000:2000000]
    # a suffix range
    r = curl("--fail", "-r", "-100", server.url("/big.bin"))
    assert r.returncode == 0 and r.stdout == data[-100:]


def test_curl_multiple_ranges(server1, site, have_curl):
    """curl -r with a list prints the multipart body as it came."""
    data = site.files["/a.bin"]
    r = curl("--fail", "-r", "0-9,100-109", "-D", "-", server1.url("/a.bin"))
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    boundary = re.search(rb"boundary=(\S+)", head).group(1)
    assert body.count(b"--" + boundary) == 3
    assert data[0:10] in body and data[100:110] in body


@pytest.fixture
def have_wget():
    if not shutil.which("wget"):
        tool_missing("wget is not installed")


def test_wget_resumes_a_half_downloaded_file(server, site, tmp_path, have_wget):
    data = site.files["/big.bin"]
    out = tmp_path / "big.bin"
    out.write_bytes(data[:len(data) // 2 + 12345])
    r = subprocess.run(["wget", "-q", "-c", "-O", str(out), server.url("/big.bin")], capture_output=True,
                       timeout=T(60))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == data


def test_wget_resume_of_a_complete_file_downloads_nothing(server1, site, tmp_path, have_wget):
    out = tmp_path / "a.bin"
    out.write_bytes(site.files["/a.bin"])
    r = subprocess.run(["wget", "-c", "-O", str(out), server1.url("/a.bin")], capture_output=True, timeout=T(30))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == site.files["/a.bin"]
    assert b"416" in r.stderr or b"already fully retrieved" in r.stderr, r.stderr
