"""Slow and abusive clients (issue 6, item 3).

- slowhttptest (Debian package) in slow-headers (-H, slowloris), slow-body
  (-B, R-U-Dead-Yet) and slow-read (-X) modes, each for a bounded ~10 s with
  small connection counts, while a normal client keeps fetching: every one
  of the normal client's requests must succeed, in time.
- a flood of 10,000 pipelined requests sent without reading: the server's
  memory stays bounded, and every response arrives, in order.
- max-connections reached: the extra connections get a fast 503 or are
  closed, and the existing ones do not stall."""

import csv
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from helpers import tool_missing
from helpers import T, Client, ConnectionClosed, build_request

SUB_PAGE = b"a page in sub\n"

# Short timers, so that the attacks meet them within the test.
SLOW_CONFIG = {"header-timeout": "2s", "write-timeout": "3s", "keepalive-timeout": "5s"}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class NormalClient(threading.Thread):
    """Fetches without pause until stopped: a small file on a new
    connection, five requests on one keep-alive connection, a 3 MiB file.
    Every request must succeed within the client's timeout."""

    def __init__(self, port, site, timeout):
        super().__init__(daemon=True)
        self.port = port
        self.site = site
        self.timeout = timeout
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.slowest = 0.0

    def one(self, fn):
        start = time.monotonic()
        try:
            fn()
            self.ok += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.failures.append(f"{type(e).__name__}: {e}")
        self.slowest = max(self.slowest, time.monotonic() - start)

    def small(self):
        with Client(self.port, timeout=self.timeout) as c:
            r = c.request("/sub/page.txt")
            assert r.status == 200 and r.body == SUB_PAGE, r

    def keepalive(self):
        with Client(self.port, timeout=self.timeout) as c:
            for path in ("/index.html", "/style.css", "/a.bin", "/sub/page.txt", "/data.json"):
                r = c.request(path)
                assert r.status == 200 and r.body == self.site.files[path], (path, r)

    def big(self):
        with Client(self.port, timeout=self.timeout) as c:
            r = c.request("/big.bin")
            assert r.status == 200 and r.body == self.site.files["/big.bin"], r

    def run(self):
        while not self.stop.is_set():
            self.one(self.small)
            self.one(self.keepalive)
            self.one(self.big)
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.join(T(30))
        assert not self.is_alive(), "the normal client hung"


def slowhttptest_bin():
    path = shutil.which("slowhttptest")
    if path is None:
        tool_missing("slowhttptest is not installed (scripts/deps.sh installs it)")
    return path


def run_slowhttptest(tmp_path, name, args, duration):
    """Runs slowhttptest with -g and returns (csv rows as dicts, stdout)."""
    prefix = tmp_path / name
    argv = [slowhttptest_bin(), *args, "-l", str(duration), "-p", "3", "-g", "-o", str(prefix)]
    r = subprocess.run(argv, capture_output=True, timeout=duration + T(30), cwd=tmp_path)
    out = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout.decode(errors="replace"))
    csv_path = prefix.with_suffix(".csv")
    assert csv_path.exists(), f"slowhttptest wrote no report (rc {r.returncode}):\n{out[-2000:]}\n{r.stderr[-2000:]}"
    with open(csv_path, newline="") as f:
        rows = [{k.strip(): int(v) for k, v in row.items() if v is not None and v.strip().isdigit()}
                for row in csv.DictReader(f)]
    assert rows, f"empty slowhttptest report:\n{out[-2000:]}"
    return rows, out


def attack(ferry, site, tmp_path, name, args, duration, connections):
    """ferry under a slowhttptest attack while a normal client fetches.
    Returns (csv rows, normal client, peak RSS growth KiB, fds after)."""
    f = ferry(docroot=site.root, config=SLOW_CONFIG)
    rss_before = rss_kib(f.pid)
    attack.fds_before = attack.peak_fds = open_fds(f.pid)
    normal = NormalClient(f.port, site, timeout=T(5))
    normal.start()
    peak = [rss_before]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_kib(f.pid))
            try:
                attack.peak_fds = max(attack.peak_fds, open_fds(f.pid))
            except OSError:
                pass
            time.sleep(0.2)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        rows, out = run_slowhttptest(tmp_path, name, [*args, "-c", str(connections),
                                                      "-u", f"http://127.0.0.1:{f.port}{args_url(name)}"],
                                     duration)
    finally:
        normal.finish()
        sampling.set()
        sampler.join()
    assert f.running, f"ferry died under the {name} attack:\n{f.stderr[-3000:]}"
    print(f"\nslowhttptest {name}: {len(rows)} s, max connected {max(r.get('Connected', 0) for r in rows)}, "
          f"closed {rows[-1].get('Closed', 0)}, {exit_status(out)}; normal client {normal.ok} ok, {len(normal.failures)} failed, "
          f"slowest {normal.slowest:.2f}s; RSS {rss_before} -> peak {peak[0]} KiB, "
          f"fds {attack.fds_before} -> peak {attack.peak_fds}")
    assert not normal.failures, f"{len(normal.failures)} of the normal client's requests failed: {normal.failures[:5]}"
    assert normal.ok >= 10, f"the normal client made only {normal.ok} requests"
    # ferry answers the normal client promptly, not merely eventually
    assert normal.slowest < T(3), f"a normal request took {normal.slowest:.1f}s"
    attack.last_output = out
    return rows, normal, peak[0] - rss_before, f


def exit_status(out):
    m = re.search(r"Exit status:\s*([^\n]*)", out)
    return m.group(1).strip() if m else "no exit status"


def args_url(name):
    return "/big.bin" if name == "slow-read" else "/index.html"


def test_slowhttptest_slow_headers(ferry, site, tmp_path):
    """Slowloris: 120 connections, 20 new per second, each sending another
    header line every second.  The header timeout (2 s, counted from the
    first byte) ends each of them, so at most ~rate x timeout are open at
    once, and all are gone well before the end."""
    rows, normal, rss_growth, f = attack(ferry, site, tmp_path, "slow-headers",
                                         ["-H", "-i", "1", "-r", "20", "-x", "24"], duration=14, connections=120)
    connected = [r.get("Connected", 0) for r in rows]
    assert max(connected) >= 10, f"the attack never got going: {rows}"
    assert max(connected) <= 20 * (2 + T(3)), f"slow-header connections outlived the header timeout: {connected}"
    # ferry's side: never more than ~rate x timeout attack connections at once
    assert attack.peak_fds - attack.fds_before <= 20 * (2 + T(3)) + 10, \
        f"ferry held {attack.peak_fds - attack.fds_before} more descriptors"
    # slowhttptest stops early once ferry has closed every connection (its
    # last one-second report may lag by a connection or two)
    assert "No open connections left" in attack.last_output or rows[-1].get("Connected", 0) <= 3, \
        f"slow-header connections left open: {rows[-1]}"
    assert rss_growth < 32 * 1024 * T(1)


def test_slowhttptest_slow_body(ferry, site, tmp_path):
    """R-U-Dead-Yet: bodies of 8 KiB announced and trickled.  ferry answers
    without waiting for the body and does not keep the connections long."""
    rows, normal, rss_growth, f = attack(ferry, site, tmp_path, "slow-body",
                                         ["-B", "-i", "1", "-r", "20", "-s", "8192", "-x", "24"],
                                         duration=12, connections=120)
    connected = [r.get("Connected", 0) for r in rows]
    assert max(connected) <= 20 * (3 + T(3)), f"slow-body connections held open: {connected}"
    assert attack.peak_fds - attack.fds_before <= 20 * (3 + T(3)) + 10, \
        f"ferry held {attack.peak_fds - attack.fds_before} more descriptors"
    assert "No open connections left" in attack.last_output or rows[-1].get("Connected", 0) <= 3, \
        f"slow-body connections left open: {rows[-1]}"
    assert rss_growth < 32 * 1024 * T(1)


def test_slowhttptest_slow_read(ferry, site, tmp_path):
    """Slow read: 60 connections download the 3 MiB file (3 times each)
    through a tiny advertised window, 32 bytes a second.  ferry sends from
    the file, so memory does not grow with them; others are served."""
    rows, normal, rss_growth, f = attack(ferry, site, tmp_path, "slow-read",
                                         ["-X", "-r", "30", "-k", "3", "-n", "1", "-w", "16", "-y", "64",
                                          "-z", "32"], duration=12, connections=60)
    connected = [r.get("Connected", 0) for r in rows]
    assert max(connected) >= 30, f"the slow readers never connected: {rows}"
    assert rss_growth < 32 * 1024 * T(1), f"RSS grew by {rss_growth} KiB under slow readers"


# --- a flood of pipelined requests ---------------------------------------------------------

def test_pipelined_flood_is_bounded(ferry, site):
    """10,000 pipelined GETs sent without reading: ferry reads no more than
    its buffer while its responses cannot leave, so memory stays flat; once
    the client reads, every response arrives, in order."""
    f = ferry(docroot=site.root, config={"max-keepalive-requests": 0, "write-timeout": "30s"})
    paths = ["/sub/page.txt", "/a.bin", "/index.html", "/style.css", "/empty.txt", "/data.json", "/missing"]
    n = 10_000
    data = b"".join(build_request(paths[i % len(paths)]) for i in range(n))
    rss_before = rss_kib(f.pid)
    fds_before = open_fds(f.pid)

    c = Client(f.port, timeout=T(30))
    sent = threading.Event()
    send_error = []

    def sender():
        try:
            c.sock.sendall(data)
        except OSError as e:
            send_error.append(e)
        sent.set()
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        # Not reading for a while: the server must stop reading too.
        peak = rss_before
        for _ in range(10):
            time.sleep(0.2)
            peak = max(peak, rss_kib(f.pid))
        assert f.running
        # Another client is not held up meanwhile.
        with f.client() as other:
            assert other.request("/sub/page.txt").body == SUB_PAGE

        for i in range(n):
            path = paths[i % len(paths)]
            r = c.read_response()
            if path == "/missing":
                assert r.status == 404, (i, r)
            else:
                assert r.status == 200 and r.body == site.files[path], (i, path, r)
            if i % 1000 == 0:
                peak = max(peak, rss_kib(f.pid))
        t.join(T(10))
        assert not send_error, send_error
        c.assert_open(0.2)
    finally:
        c.close()
    growth = peak - rss_before
    print(f"\npipelined flood: {n} requests ({len(data)} bytes), RSS {rss_before} -> peak {peak} KiB")
    assert growth < 16 * 1024 * T(1), f"RSS grew by {growth} KiB during the flood"
    # the connection's descriptor is gone; the open-file cache may keep one per file
    fds_limit = fds_before + len(paths)
    deadline = time.monotonic() + T(5)
    while open_fds(f.pid) > fds_limit and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds(f.pid) <= fds_limit


# --- max-connections -----------------------------------------------------------------------

def test_max_connections_is_fast_and_does_not_stall_others(ferry, site):
    """At the limit, each new connection is answered 503 or closed within a
    fraction of a second, while the connections inside keep being served
    without delay - including ones that are mid-way through a slow head."""
    limit = 20
    f = ferry(docroot=site.root, config={"max-connections": limit, "header-timeout": "10s"})
    inside = []
    try:
        # Fill the slots: half idle keep-alive clients, half with a partial
        # head.  (The start-up probe may still hold a slot for a moment: a
        # refused client is simply retried.)
        deadline = time.monotonic() + T(10)
        while len(inside) < limit:
            assert time.monotonic() < deadline, f"could not fill {limit} slots"
            c = f.client(timeout=T(5))
            try:
                if len(inside) % 2 == 0:
                    r = c.request("/sub/page.txt")
                    refused = r.status != 200
                else:
                    c.send(b"GET /sub/page.txt HTTP/1.1\r\nHost: x\r\n")
                    closed, data = c.wait_closed(0.1)
                    refused = closed or data != b""
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                refused = True
            if refused:
                c.close()
                time.sleep(0.05)
                continue
            inside.append(c)
        time.sleep(0.1)

        # Over the limit: fast refusals.
        slowest = 0.0
        outcomes = {"503": 0, "closed": 0}
        for _ in range(50):
            start = time.monotonic()
            with Client(f.port, timeout=T(3)) as extra:
                try:
                    extra.send(build_request("/sub/page.txt"))
                    closed, data = extra.wait_closed(T(3))
                except (BrokenPipeError, ConnectionResetError):
                    closed, data = True, b""
            took = time.monotonic() - start
            slowest = max(slowest, took)
            if data:
                assert data.startswith(b"HTTP/1.1 503 "), data[:100]
                outcomes["503"] += 1
            else:
                outcomes["closed"] += 1
            assert closed, "an over-limit connection was left open"
        assert slowest < T(1), f"an over-limit connection took {slowest:.2f}s to be refused"

        # Inside: the idle ones are served at once, the partial heads complete.
        start = time.monotonic()
        for i, c in enumerate(inside):
            if i % 2 == 0:
                assert c.request("/sub/page.txt").body == SUB_PAGE
            else:
                c.send(b"\r\n")
                assert c.read_response().body == SUB_PAGE
        took = time.monotonic() - start
        assert took < T(2), f"the {limit} existing connections took {took:.2f}s to be served"
        print(f"\nmax-connections {limit}: 50 extra connections {outcomes}, slowest refusal {slowest * 1000:.0f} ms")
    finally:
        for c in inside:
            c.close()


def test_flood_of_connections_then_recovery(ferry, site):
    """Many connections opened and dropped at once (some mid-request): the
    server survives, holds no descriptors for them afterwards, and serves."""
    f = ferry(docroot=site.root)
    fds_before = open_fds(f.pid) + 2  # the open-file cache may keep big.bin and page.txt open
    socks = []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", f.port))
        if i % 3 == 1:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        elif i % 3 == 2:
            s.sendall(b"GET /sub/page.txt HTTP/1.1\r\nHo")
        socks.append(s)
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
        s.close()
    deadline = time.monotonic() + T(5)
    while open_fds(f.pid) > fds_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_fds(f.pid) <= fds_before, f"{open_fds(f.pid)} descriptors, {fds_before} before"
    with f.client() as c:
        r = c.request("/big.bin")
        assert hashlib.sha256(r.body).digest() == hashlib.sha256(site.files["/big.bin"]).digest()
