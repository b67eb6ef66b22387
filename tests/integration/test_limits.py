"""Limits and timers (issue item 4): max-connections, header, keep-alive
and write timeouts, max-keepalive-requests, running out of descriptors."""

import os
import resource
import socket
import time

import pytest

from helpers import T, Client, assert_error, build_request, fetch, wait_until

SUB_PAGE = b"a page in sub\n"


def req(path="/sub/page.txt", **kw):
    return build_request(path, **kw)


def refused_or_503(port):
    """Opens one more connection: it must get a 503 or be closed quickly."""
    with Client(port, timeout=T(3)) as c:
        try:
            c.send(req())
        except (BrokenPipeError, ConnectionResetError):
            return "closed"
        closed, data = c.wait_closed(T(3))
        if data:
            assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), data[:200]
            head, _, body = data.partition(b"\r\n\r\n")
            assert b"503" in body
            assert closed, "the 503 connection was not closed"
            return "503"
        assert closed, "an over-limit connection was neither answered nor closed"
        return "closed"


def test_max_connections(ferry, site):
    f = ferry(docroot=site.root, config={"max-connections": 2})
    c1 = f.client()
    c2 = None
    try:
        assert c1.request("/sub/page.txt").body == SUB_PAGE

        # The start-up probe connection may still be counted for a moment.
        def second():
            c = f.client()
            try:
                r = c.request("/sub/page.txt")
                if r.status == 200 and r.body == SUB_PAGE:
                    return c
                assert_error(r, 503)
            except Exception:
                pass
            c.close()
            return None
        c2 = wait_until(second, T(5), interval=0.05, message="a second connection")
        assert refused_or_503(f.port) in ("503", "closed")
        assert refused_or_503(f.port) in ("503", "closed")
        # the first two still work
        assert c1.request("/sub/page.txt").body == SUB_PAGE
        assert c2.request("/sub/page.txt").body == SUB_PAGE
        # once one closes, a new client gets in
        c1.close()

        def served():
            try:
                return fetch(f.port, "/sub/page.txt").status == 200
            except Exception:
                return False
        wait_until(served, T(5), interval=0.05, message="a free connection slot")
        assert c2.request("/sub/page.txt").body == SUB_PAGE
    finally:
        c1.close()
        if c2:
            c2.close()


def test_header_timeout_on_partial_head(ferry, site):
    f = ferry(docroot=site.root, config={"header-timeout": "1s"})
    with f.client(timeout=T(10)) as c:
        c.send(b"GET /sub/page.txt HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed, data = c.wait_closed(T(6))
        elapsed = time.monotonic() - start
    assert closed, "a half-sent head was never timed out"
    assert 0.7 <= elapsed <= 1 + T(3), elapsed
    if data:
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data[:200]
        assert b"408" in body


def test_header_timeout_counts_from_first_byte(ferry, site):
    """A client trickling a head slowly is cut off all the same (slowloris)."""
    f = ferry(docroot=site.root, config={"header-timeout": "1s"})
    with f.client(timeout=T(10)) as c:
        start = time.monotonic()
        closed, data = False, b""
        try:
            for i in range(int(T(6) / 0.1)):
                c.send(f"X-{i}: y\r\n".encode() if i else b"GET / HTTP/1.1\r\nHost: x\r\n")
                closed, data = c.wait_closed(0.1)
                if closed or data:
                    break
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        elapsed = time.monotonic() - start
    assert closed or data, "a trickling head was never timed out"
    assert elapsed <= 1 + T(3), elapsed


def test_silent_connection_is_closed(ferry, site):
    f = ferry(docroot=site.root, config={"header-timeout": "1s", "keepalive-timeout": "1s"})
    with f.client(timeout=T(10)) as c:
        start = time.monotonic()
        closed, data = c.wait_closed(T(6))
        assert closed and data == b""
        assert time.monotonic() - start <= 1 + T(3)


def test_keepalive_timeout_closes_idle_connection(ferry, site):
    f = ferry(docroot=site.root, config={"keepalive-timeout": "1s"})
    with f.client(timeout=T(10)) as c:
        assert c.request("/sub/page.txt").body == SUB_PAGE
        start = time.monotonic()
        closed, data = c.wait_closed(T(6))
        elapsed = time.monotonic() - start
    assert closed and data == b""
    assert 0.7 <= elapsed <= 1 + T(3), elapsed


def test_keepalive_timer_restarts_with_each_request(ferry, site):
    f = ferry(docroot=site.root, config={"keepalive-timeout": "1s"})
    with f.client(timeout=T(10)) as c:
        for _ in range(4):  # 4 x 0.6 s > 1 s in all, < 1 s between requests
            assert c.request("/sub/page.txt").body == SUB_PAGE
            c.assert_open(0.6)
        assert c.request("/sub/page.txt").body == SUB_PAGE


def test_default_keepalive_timeout_is_not_tiny(server1):
    with server1.client() as c:
        assert c.request("/sub/page.txt").body == SUB_PAGE
        c.assert_open(1.0)
        assert c.request("/sub/page.txt").body == SUB_PAGE


@pytest.mark.parametrize("pipelined", [False, True])
def test_max_keepalive_requests(ferry, site, pipelined):
    f = ferry(docroot=site.root, config={"max-keepalive-requests": 3})
    with f.client() as c:
        if pipelined:
            c.send(req() * 5)
        for i in range(3):
            if not pipelined:
                c.send(req())
            r = c.read_response()
            assert r.status == 200 and r.body == SUB_PAGE
            conn = (r.header("connection") or "").lower()
            assert conn == ("close" if i == 2 else ""), (i, conn)
        c.assert_closed(T(3))


def test_max_keepalive_requests_zero_is_unlimited(ferry, site):
    f = ferry(docroot=site.root, config={"max-keepalive-requests": 0})
    with f.client() as c:
        c.send(req() * 1200)
        for _ in range(1200):
            r = c.read_response()
            assert r.body == SUB_PAGE and r.header("connection") is None
        c.assert_open(0.1)


def test_write_timeout_closes_stalled_download(ferry, site):
    """A client that stops reading a 64 MiB download is dropped after the
    write timeout; the server keeps serving others."""
    f = ferry(docroot=site.root, config={"write-timeout": "1s"})
    with f.client(rcvbuf=4096, timeout=T(10)) as c:
        c.send(req("/huge.bin"))
        time.sleep(1 + T(2))  # stall: the server cannot make progress
        assert fetch(f.port, "/sub/page.txt").body == SUB_PAGE
        got = 0
        while True:
            try:
                chunk = c.sock.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += len(chunk)
    assert got < site.huge_size, "the stalled download was not cut off"


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as st:
        fields = st.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_accept_survives_running_out_of_descriptors(ferry, site):
    """With a descriptor limit below max-connections, accept() fails with
    EMFILE: the server must neither spin nor die, and serve again after."""
    limit = 40

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    f = ferry(docroot=site.root, preexec_fn=low_nofile, config={"max-connections": 1000})
    clients = []
    try:
        for _ in range(limit + 20):
            clients.append(Client(f.port, timeout=T(5)))
        time.sleep(0.2)
        before = cpu_seconds(f.pid)
        time.sleep(1.0)
        used = cpu_seconds(f.pid) - before
        assert used < 0.5, f"ferry used {used:.2f}s of CPU in 1s while out of descriptors"
        assert f.running
    finally:
        for c in clients:
            c.close()

    def served():
        try:
            return fetch(f.port, "/sub/page.txt").body == SUB_PAGE
        except Exception:
            return False
    wait_until(served, T(5), interval=0.05, message="service after EMFILE")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.parametrize("cache", ["0", "1000"])
def test_no_descriptor_leak(ferry, site, cache):
    """After many requests of every kind, ferry holds no more descriptors
    than before (files are closed after each response, errors included);
    with the open-file cache on, at most one per distinct file served."""
    f = ferry(docroot=site.root, config={"open-file-cache-size": cache})
    baseline = open_fds(f.pid) + (0 if cache == "0" else 5)
    paths = ["/index.html", "/big.bin", "/empty.txt", "/missing", "/sub", "/sub/", "/noindex/", "/fifo",
             "/link-outside", "/%2e%2e/secret.txt"]
    for _ in range(3):
        for p in paths:
            fetch(f.port, p)
            fetch(f.port, p, method="HEAD")
    for p in ("/big.bin", "/huge.bin"):  # clients that leave mid-response
        s = socket.create_connection(("127.0.0.1", f.port))
        s.sendall(build_request(p))
        s.recv(100)
        s.close()
    wait_until(lambda: open_fds(f.pid) <= baseline, T(5), interval=0.05,
               message=f"ferry's descriptors to return to {baseline} (now {open_fds(f.pid)})")


def test_many_concurrent_connections(ferry, site):
    f = ferry(docroot=site.root)
    clients = [f.client(timeout=T(10)) for _ in range(300)]
    try:
        for c in clients:
            c.send(build_request("/a.bin"))
        for c in clients:
            r = c.read_response()
            assert r.status == 200 and r.body == site.files["/a.bin"]
    finally:
        for c in clients:
            c.close()
