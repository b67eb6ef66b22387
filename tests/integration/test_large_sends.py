"""A body larger than one turn's send budget goes out corked (TCP_CORK:
full segments only, issue 16 W2), and the cork comes off when the response
ends: the last partial segment must not wait for the kernel's 200 ms cork
timer, neither at the end of a large body nor for the small responses that
follow on the same connection.  Against every backend."""

import os
import time

import pytest

from helpers import BACKENDS, SANITIZED, T, build_request

MiB = 1 << 20
CORK_TIMER = 0.2  # Linux flushes a corked partial segment after 200 ms


@pytest.fixture(params=BACKENDS)
def server(request, ferry, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    # 700 KiB + 77: over the 512k budget, and not a whole number of segments.
    (root / "large.bin").write_bytes(os.urandom(700 * 1024 + 77))
    (root / "multi.bin").write_bytes(os.urandom(3 * MiB + 5))
    (root / "small.txt").write_bytes(b"small\n")
    f = ferry(docroot=root, backend=request.param)
    f.root = root
    return f


@pytest.mark.skipif(SANITIZED, reason="timing: the sanitizers slow every send")
def test_corked_bodies_end_without_the_cork_timer(server):
    large = (server.root / "large.bin").read_bytes()
    multi = (server.root / "multi.bin").read_bytes()
    with server.client(timeout=T(10)) as c:
        c.request("/large.bin")  # warm: the file in the caches, any lookup done
        start = time.monotonic()
        for _ in range(5):
            r = c.request("/large.bin")
            assert r.status == 200 and r.body == large
            r = c.request("/small.txt")
            assert r.status == 200 and r.body == b"small\n"
        r = c.request("/multi.bin", headers={"Range": "bytes=0-99,1048576-2097151,3145700-"})
        assert r.status == 206
        took = time.monotonic() - start
    # Eleven responses that each waited for the cork timer would take 2.2 s.
    assert took < 10 * CORK_TIMER, f"{took:.2f} s: a response waited for the cork timer"


def test_corked_responses_pipelined_arrive_whole(server):
    large = (server.root / "large.bin").read_bytes()
    with server.client(timeout=T(10)) as c:
        c.send(build_request("/large.bin") + build_request("/small.txt") + build_request("/large.bin", method="HEAD")
               + build_request("/large.bin"))
        assert c.read_response().body == large
        assert c.read_response().body == b"small\n"
        r = c.read_response(method="HEAD")
        assert r.status == 200 and r.header("content-length") == str(len(large))
        assert c.read_response().body == large
        c.assert_open()
