"""The body cache (issue 16, W1): the bytes of small hot files kept in
memory with their open-file cache entries, so a hot small response is one
writev() with no read of the file.  Checked against every backend and over
TLS: the bytes served (whole, ranges, several ranges, HEAD, 304), that a
body is kept from its second request only, trusted exactly as long as its
entry (a file changed in place or replaced is served new once the entry
goes), bounded by body-cache-size with the least recently used going first,
off with 0, and counted on the status page."""

import json
import os
import time

import pytest

from helpers import T, Client, TLSClient, build_request, fetch, parse_multipart, parse_prometheus, wait_until

TICK = 1.0  # the server's tick (TICK_MS in server.c)


def status(f, client=None):
    r = client.request("/status") if client else fetch(f.port, "/status")
    assert r.status == 200, r
    return json.loads(r.body)["body_cache"]


def make_root(tmp_path, files):
    root = tmp_path / "www"
    root.mkdir(exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


@pytest.fixture(params=["sendfile", "writev", "linux-aio-sendfile", "io-uring", "auto"])
def backend(request):
    return request.param


def test_hot_small_file_served_from_memory(ferry, tmp_path, backend):
    small = os.urandom(3000)
    root = make_root(tmp_path, {"small.bin": small, "edge.bin": os.urandom(16 * 1024),
                                "over.bin": os.urandom(16 * 1024 + 1)})
    f = ferry(docroot=root, backend=backend, config={"status-path": "/status", "open-file-cache-ttl": "1h"})
    with f.client() as c:
        first = c.request("/small.bin")
        assert first.status == 200 and first.body == small
        assert status(f) == {"entries": 0, "bytes": 0, "hits": 0, "fills": 0, "evictions": 0}
        for _ in range(5):
            r = c.request("/small.bin")
            assert r.status == 200 and r.body == small
            assert r.header("etag") == first.header("etag")
            assert r.header("last-modified") == first.header("last-modified")
        s = status(f)
        assert s["fills"] == 1 and s["hits"] == 4 and s["entries"] == 1 and s["bytes"] == 3000, s
        # From memory too: one range, several, HEAD, and a 304.
        r = c.request("/small.bin", headers={"Range": "bytes=100-199"})
        assert r.status == 206 and r.body == small[100:200]
        r = c.request("/small.bin", headers={"Range": "bytes=0-9,2990-"})
        assert r.status == 206
        parts = parse_multipart(r)
        assert [p[4] for p in parts] == [small[:10], small[2990:]]
        r = c.request("/small.bin", method="HEAD")
        assert r.status == 200 and r.header("content-length") == "3000" and r.body == b""
        r = c.request("/small.bin", headers={"If-None-Match": first.header("etag")})
        assert r.status == 304 and r.header("etag") == first.header("etag")
        assert status(f)["hits"] == 6  # the two ranged responses; HEAD and 304 send no body
        # 16 KiB is the largest file kept.
        for name in ("edge.bin", "over.bin"):
            for _ in range(3):
                r = c.request("/" + name)
                assert r.status == 200 and r.body == (root / name).read_bytes()
    s = status(f)
    assert s["entries"] == 2 and s["bytes"] == 3000 + 16 * 1024, s


def test_kept_bytes_are_trusted_as_long_as_the_entry(ferry, tmp_path):
    root = make_root(tmp_path, {"page.txt": b"version 1 of the page\n"})
    f = ferry(docroot=root, config={"status-path": "/status", "open-file-cache-ttl": "400ms"})
    with f.client() as c:
        for _ in range(3):
            assert c.request("/page.txt").body == b"version 1 of the page\n"
        assert status(f)["fills"] == 1
        # Changed in place, same size: the kept bytes are served until the
        # entry's ttl passes, then the file's.
        with open(root / "page.txt", "r+b") as fh:
            fh.write(b"VERSION 2")
        wait_until(lambda: c.request("/page.txt").body == b"VERSION 2 of the page\n", T(0.4 + 2 * TICK),
                   interval=0.05, message="the changed bytes to be served")
        # Replaced (a new inode, another size), as deployment tools do.
        tmp = root / "page.txt.new"
        tmp.write_bytes(b"version 3, longer than the others\n")
        os.rename(tmp, root / "page.txt")
        wait_until(lambda: c.request("/page.txt").body == b"version 3, longer than the others\n",
                   T(0.4 + 2 * TICK), interval=0.05, message="the new file to be served")
        for _ in range(3):
            r = c.request("/page.txt")
            assert r.body == b"version 3, longer than the others\n"
            assert r.header("content-length") == str(len(r.body))


def test_bodies_stay_within_their_budget(ferry, tmp_path):
    files = {f"f{i}.bin": os.urandom(1500) for i in range(8)}
    root = make_root(tmp_path, files)
    f = ferry(docroot=root, config={"status-path": "/status", "body-cache-size": "4k",
                                    "open-file-cache-ttl": "1h"})
    with f.client() as c:
        for _ in range(3):
            for name, data in files.items():
                r = c.request("/" + name)
                assert r.status == 200 and r.body == data
                s = status(f)
                assert s["bytes"] <= 4096 and s["entries"] <= 2, s
        s = status(f)
        assert s["evictions"] >= 6 and s["fills"] >= 8, s
        # The most recently used stays.
        hits = s["hits"]
        r = c.request("/f7.bin")
        assert r.body == files["f7.bin"] and status(f)["hits"] == hits + 1
    p = parse_prometheus(fetch(f.port, "/status?format=prometheus").body.decode())
    assert p[("ferry_body_cache_bytes", "")] <= 4096
    assert p[("ferry_body_cache_evictions_total", "")] >= 6


def test_zero_turns_it_off(ferry, tmp_path):
    root = make_root(tmp_path, {"a.txt": b"a small file\n"})
    f = ferry(docroot=root, config={"status-path": "/status", "body-cache-size": "0"})
    for _ in range(4):
        assert fetch(f.port, "/a.txt").body == b"a small file\n"
    assert status(f) == {"entries": 0, "bytes": 0, "hits": 0, "fills": 0, "evictions": 0}


def test_over_tls_from_memory(ferry, tmp_path, pki):
    data = os.urandom(9000)
    root = make_root(tmp_path, {"small.bin": data})
    leaf = pki.leaf("default.test", "ecdsa")
    f = ferry(docroot=root, tls=(leaf.chain, leaf.key), config={"status-path": "/status"})
    with TLSClient(f.port) as c:
        for _ in range(4):
            r = c.request("/small.bin")
            assert r.status == 200 and r.body == data
        r = c.request("/small.bin", headers={"Range": "bytes=8000-"})
        assert r.status == 206 and r.body == data[8000:]
        s = status(f, client=c)
    assert s["fills"] == 1 and s["hits"] == 3, s


def test_a_slow_reader_keeps_its_body_while_others_evict_it(ferry, tmp_path):
    """A response still being sent from a kept body holds it, whatever the
    cache does meanwhile (here: its entry expires, and others want room)."""
    data = os.urandom(16 * 1024)
    others = {f"o{i}.bin": os.urandom(16 * 1024) for i in range(4)}
    root = make_root(tmp_path, {"big.bin": data, **others})
    f = ferry(docroot=root, config={"status-path": "/status", "body-cache-size": "20k",
                                    "open-file-cache-ttl": "300ms", "send-chunk-size": "4k"})
    assert fetch(f.port, "/big.bin").body == data
    slow = []
    for _ in range(8):  # a few pipelined responses that outgrow the socket buffers
        c = Client(f.port, rcvbuf=4096)
        c.send(build_request("/big.bin") * 600)
        slow.append(c)
    time.sleep(1.5)  # the entry's ttl passes, the tick drops it: its body stays with the responses
    assert status(f)["entries"] == 1  # detached, in use, still counted
    for name, body in others.items():
        for _ in range(2):
            assert fetch(f.port, "/" + name).body == body
    for c in slow:
        for _ in range(600):
            r = c.read_response()
            assert r.status == 200 and r.body == data
        c.close()
    assert status(f)["bytes"] <= 20 * 1024
