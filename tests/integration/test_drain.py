"""Drains that lose nothing (issue 15 item 2): on SIGHUP and SIGTERM no
keep-alive connection is closed under a client that may be sending.  The
response in flight keeps its keep-alive, the next request is answered with
"Connection: close", and a connection that stays silent is closed after
drain-idle-timeout, never while a request is arriving.

Measured with wrk, which sends the next request the moment an answer is
complete and counts every connection that ends without one as an error
(before this change: one read error per connection per reload, 60 for 3
reloads of 20 connections, as nginx 1.22 gives in the same test)."""

import re
import shutil
import signal
import subprocess
import time

import pytest

from helpers import T, build_request, fetch, wait_until
from test_ops import AS_ROOT, children, master

WRK = shutil.which("wrk")


def wrk(port, seconds, connections=20, path="/index.html", headers=()):
    argv = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s"]
    for h in headers:
        argv += ["-H", h]
    return subprocess.Popen([*argv, f"http://127.0.0.1:{port}{path}"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wrk_result(proc):
    out, _ = proc.communicate(timeout=T(60))
    m = re.search(r"(\d+) requests in", out)
    assert m, out
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": int(m.group(1)), "errors": sum(map(int, errors.groups())) if errors else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "out": out}


def needs_wrk():
    if not WRK:
        pytest.fail("wrk is not installed (scripts/deps.sh installs it)")


@pytest.mark.parametrize("reuseport", ["on", "off"])
def test_reloads_under_keepalive_load_cost_no_client_error(ferry, site, reuseport):
    needs_wrk()
    f = master(ferry, site, workers=2, config={"reuseport": reuseport})
    load = wrk(f.port, 5)
    time.sleep(1)
    for gen in range(2, 5):
        f.send_signal(signal.SIGHUP)
        wait_until(lambda: f.stderr.count("reloaded: generation") == gen - 1, T(10), message=f"reload {gen - 1}")
        time.sleep(0.8)
    r = wrk_result(load)
    assert r["errors"] == 0 and r["non2xx"] == 0, r["out"]
    assert r["requests"] > 1000, r["out"]


def test_response_in_flight_keeps_its_keepalive_then_close(ferry, site):
    f = ferry(docroot=site.root)
    with f.client(rcvbuf=16384, timeout=T(10)) as c:
        c.send(build_request("/big.bin"))
        head = c.read_head()
        assert b"Connection: close" not in head
        c.read_exact(64 * 1024)
        f.send_signal(signal.SIGTERM)
        c.read_exact(3 * (1 << 20) - 64 * 1024)
        # the answer said keep-alive: the client may send again, and is answered
        r = c.request("/sub/page.txt")
        assert r.status == 200 and r.body == b"a page in sub\n"
        assert r.header("connection") == "close"
        c.assert_closed(T(5))
    f.stop(timeout=T(5))


def test_idle_connection_waits_for_drain_idle_timeout(ferry, site):
    f = ferry(docroot=site.root, config={"drain-idle-timeout": "600ms", "keepalive-timeout": "1h"})
    a, b, fresh = f.client(timeout=T(10)), f.client(timeout=T(10)), f.client(timeout=T(10))
    try:
        for c in (a, b):
            assert c.request("/sub/page.txt").status == 200
        start = time.monotonic()
        f.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # still open: a request now is answered, with close
        r = a.request("/sub/page.txt")
        assert r.status == 200 and r.header("connection") == "close"
        a.assert_closed(T(5))
        r = fresh.request("/index.html")  # accepted before the stop, first request after it
        assert r.status == 200 and r.header("connection") == "close"
        # silent: closed after the grace, cleanly (EOF, not a reset)
        closed, extra = b.wait_closed(T(5))
        assert closed and extra == b""
        assert 0.5 <= time.monotonic() - start < T(3)
        f.stop(timeout=T(5))
    finally:
        for c in (a, b, fresh):
            c.close()


def test_request_arriving_at_the_grace_is_answered(ferry, site):
    """A head that started to arrive is a request in progress: the header
    timeout applies, not the drain's."""
    f = ferry(docroot=site.root, config={"drain-idle-timeout": "300ms"})
    with f.client(timeout=T(10)) as c:
        assert c.request("/sub/page.txt").status == 200
        f.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        c.send(b"GET /sub/page.txt HTTP/1.1\r\n")
        time.sleep(0.6)
        c.send(b"Host: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.header("connection") == "close"
        c.assert_closed(T(5))
    f.stop(timeout=T(5))
