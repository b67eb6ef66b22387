"""Signals and graceful stop (issue item 9)."""

import hashlib
import signal
import socket
import time

import pytest

from helpers import BACKENDS, T, build_request, fetch, wait_until

SUB_PAGE = b"a page in sub\n"
MiB = 1 << 20


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0(server1, sig):
    assert fetch(server1.port, "/sub/page.txt").body == SUB_PAGE
    start = time.monotonic()
    server1.stop(sig=sig)
    assert time.monotonic() - start < T(3)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server1.port), timeout=1).close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_during_slow_download_finishes_it(ferry, site, backend):
    """SIGTERM while a 64 MiB response is being sent to a slow reader (far
    more than the socket buffers hold): the client still gets every byte,
    new connections are refused, then the server exits 0."""
    f = ferry(docroot=site.root, backend=backend)
    want = hashlib.sha256((site.root / "huge.bin").read_bytes()).hexdigest()
    with f.client(rcvbuf=65536, timeout=T(10)) as c:
        c.send(build_request("/huge.bin"))
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 200 OK")
        h = hashlib.sha256(c.read_exact(MiB))
        got = MiB
        f.send_signal(signal.SIGTERM)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", f.port), timeout=1).close()
                return False
            except OSError:
                return True
        wait_until(refused, T(3), message="the listener to close")
        # Read the rest in 1 MiB pieces with pauses (about 1.5 s in all);
        # halfway through, the server must still be running.
        alive_midway = None
        while got < site.huge_size:
            piece = c.read_exact(min(MiB, site.huge_size - got))
            h.update(piece)
            got += len(piece)
            if alive_midway is None and got >= site.huge_size // 2:
                alive_midway = f.running
            time.sleep(0.02)
        assert h.hexdigest() == want
        assert alive_midway, "ferry exited while a response was still being sent"
        closed, extra = c.wait_closed(T(5))
        assert closed and extra == b""
    f.stop(timeout=T(5))


def test_sigterm_answers_the_request_in_flight_with_close(ferry, site):
    """A keep-alive response in flight at shutdown ends with the connection
    closed, not kept open."""
    f = ferry(docroot=site.root)
    with f.client(rcvbuf=16384, timeout=T(10)) as c:
        c.send(build_request("/big.bin") + build_request("/sub/page.txt"))
        c.read_head()
        c.read_exact(64 * 1024)
        f.send_signal(signal.SIGTERM)
        c.read_exact(3 * MiB - 64 * 1024)
        # the pipelined second request may be answered or not, but the
        # connection must close and the server exit
        closed, extra = c.wait_closed(T(5))
        assert closed
        assert extra == b"" or extra.startswith(b"HTTP/1.1 ")
    f.stop(timeout=T(5))


def test_shutdown_timeout_bounds_a_stalled_download(ferry, site):
    f = ferry(docroot=site.root, config={"shutdown-timeout": "1s", "write-timeout": "1h"})
    with f.client(rcvbuf=4096, timeout=T(10)) as c:
        c.send(build_request("/huge.bin"))
        c.read_head()
        time.sleep(0.2)
        start = time.monotonic()
        f.send_signal(signal.SIGTERM)
        f.stop(timeout=T(8))
        elapsed = time.monotonic() - start
        assert 0.5 <= elapsed <= 1 + T(3), elapsed


def test_idle_keepalive_connections_closed_at_shutdown(ferry, site):
    f = ferry(docroot=site.root, config={"keepalive-timeout": "1h"})
    clients = [f.client(timeout=T(10)) for _ in range(5)]
    try:
        for c in clients:
            assert c.request("/sub/page.txt").body == SUB_PAGE
        idle_unused = f.client()  # connected, never sent anything
        clients.append(idle_unused)
        time.sleep(0.1)
        start = time.monotonic()
        f.send_signal(signal.SIGTERM)
        for c in clients:
            closed, extra = c.wait_closed(T(5))
            assert closed and extra == b""
        f.stop(timeout=T(5))
        assert time.monotonic() - start < T(3)
    finally:
        for c in clients:
            c.close()


def test_sigpipe_is_ignored(ferry, site):
    """A client that resets mid-response must not kill the server."""
    f = ferry(docroot=site.root)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", f.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(build_request("/huge.bin"))
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    assert fetch(f.port, "/sub/page.txt").body == SUB_PAGE
    assert f.running
