#!/usr/bin/python3
"""bench/loadgen.py: load clients for ferry's benchmark suite (bench/run.sh).

Standard library only (Debian's /usr/bin/python3), one asyncio event loop.

  loadgen.py manifest --count N --min BYTES --max BYTES --seed S
      Print "name size weight" lines for the W5 file set: sizes log-uniform
      between --min and --max, Zipf popularity (weight 1/rank^s) assigned to
      the files in a random order (so a big file may be popular).
  loadgen.py mixed --port P --manifest FILE --prefix /w5/ --clients C
                   --bytes B [--range-frac F] [--seed S] [--timeout T]
      W5: C keep-alive connections fetch files drawn by Zipf popularity
      until about B bytes have been requested; a fraction F of requests
      carry a Range header (expect 206 and the exact range). The request
      sequence depends only on --seed, so every server gets the same work.
  loadgen.py idle --port P --path /1k.bin --conns N --duration S
                  [--interval-min A --interval-max B] [--pids PID,...]
      W6: open N keep-alive connections (ramped), each sends a request every
      A..B seconds (uniform) from when it is open until S seconds after the
      last one opened; latencies count only in those S seconds; samples the
      VmRSS of the PIDs every 0.5 s.

Each mode prints one JSON object on stdout.  Errors (connect failures,
non-2xx, short or long bodies, timeouts, connections closed by the server)
are counted, never dropped.
"""

import argparse
import gc
import asyncio
import json
import math
import os
import random
import socket
import sys
import time

BUF_SIZE = 256 * 1024
# One receive buffer for every connection: the loop is single-threaded and
# buffer_updated consumes the bytes at once (a buffer per connection would
# cost 2.5 GiB and seconds of page faults for 10,000 connections).
SHARED_VIEW = memoryview(bytearray(BUF_SIZE))


class HttpError(Exception):
    pass


class Conn(asyncio.BufferedProtocol):
    """One keep-alive HTTP/1.1 client connection; one request at a time."""

    def __init__(self):
        self.view = SHARED_VIEW
        self.transport = None
        self.closed = False
        self.fut = None
        self.head = bytearray()
        self.in_head = True
        self.status = 0
        self.remaining = 0
        self.body = 0

    # asyncio callbacks
    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        if self.fut is None or self.fut.done():
            # Bytes nobody asked for: the server sent more than the response.
            if nbytes:
                self._fail(HttpError("unexpected bytes"))
            return
        data = self.view[:nbytes]
        if self.in_head:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 65536:
                    self._fail(HttpError("head too long"))
                return
            try:
                self._parse_head(bytes(self.head[:end]))
            except (ValueError, IndexError) as e:
                self._fail(HttpError("bad head: %s" % e))
                return
            extra = len(self.head) - (end + 4)
            self.in_head = False
            self.head = bytearray()
            self._body(extra)
        else:
            self._body(nbytes)

    def _parse_head(self, head):
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if not parts[0].startswith(b"HTTP/1."):
            raise ValueError("status line %r" % lines[0][:60])
        self.status = int(parts[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise ValueError("no Content-Length")
        self.remaining = length
        self.body = 0

    def _body(self, n):
        self.body += n
        self.remaining -= n
        if self.remaining < 0:
            self._fail(HttpError("body longer than Content-Length"))
        elif self.remaining == 0:
            fut, self.fut = self.fut, None
            fut.set_result((self.status, self.body))

    def _fail(self, exc):
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(exc)
        self.fut = None
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc):
        self.closed = True
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(HttpError("closed by server"))

    def eof_received(self):
        return False

    async def request(self, path, rng=None):
        """Send GET path (with Range bytes=a-b if given); return (status, body_len)."""
        if self.closed:
            raise HttpError("closed by server")
        self.fut = asyncio.get_running_loop().create_future()
        self.in_head = True
        self.head = bytearray()
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
        if rng is not None:
            req += "Range: bytes=%d-%d\r\n" % rng
        self.transport.write((req + "\r\n").encode())
        return await self.fut


async def connect(port):
    # Our own socket: create_connection("127.0.0.1", port) would resolve the
    # address in a thread for every connection, ~1 ms each.
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        _, proto = await loop.create_connection(Conn, sock=sock)
    except BaseException:
        sock.close()
        raise
    return proto


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(math.ceil(p / 100.0 * len(s))) - 1))
    return s[k]


def ms(v):
    return None if v is None else round(v * 1000.0, 3)


class Errors:
    def __init__(self):
        self.counts = {}
        self.samples = []

    def add(self, kind, what=None):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if what is not None and len(self.samples) < 5:
            self.samples.append("%s: %s" % (kind, what))

    def total(self):
        return sum(self.counts.values())


# --- manifest ---------------------------------------------------------------

def cmd_manifest(a):
    rnd = random.Random(a.seed)
    lo, hi = math.log(a.min), math.log(a.max)
    sizes = [int(math.exp(rnd.uniform(lo, hi))) for _ in range(a.count)]
    sizes[0], sizes[-1] = a.min, a.max          # both ends always present
    ranks = list(range(1, a.count + 1))
    rnd.shuffle(ranks)
    for i, (size, rank) in enumerate(zip(sizes, ranks)):
        print("f%04d.bin %d %.6f" % (i, size, 1.0 / rank ** a.zipf_s))


# --- W5: mixed sizes, Zipf, ranges -----------------------------------------

def plan_requests(files, total_bytes, range_frac, seed):
    """The deterministic request list: (name, size, range or None, expected bytes)."""
    rnd = random.Random(seed)
    names = [f[0] for f in files]
    weights = [f[2] for f in files]
    sizes = {f[0]: f[1] for f in files}
    plan, acc = [], 0
    while acc < total_bytes:
        name = rnd.choices(names, weights)[0]
        size = sizes[name]
        rng = None
        expect = size
        if size > 1 and rnd.random() < range_frac:
            length = rnd.randint(1, min(size, 1 << 20))
            start = rnd.randint(0, size - length)
            rng = (start, start + length - 1)
            expect = length
        plan.append((name, size, rng, expect))
        acc += expect
    return plan


async def run_mixed(a):
    files = []
    with open(a.manifest) as f:
        for line in f:
            name, size, weight = line.split()
            files.append((name, int(size), float(weight)))
    plan = plan_requests(files, a.bytes, a.range_frac, a.seed)
    it = iter(plan)
    errors = Errors()
    lat = []
    done_bytes = [0]
    ranged = [0]
    range_ignored = [0]

    async def client():
        conn = None
        for name, size, rng, expect in it:
            try:
                if conn is None or conn.closed:
                    conn = await asyncio.wait_for(connect(a.port), a.timeout)
                t0 = time.monotonic()
                status, got = await asyncio.wait_for(conn.request(a.prefix + name, rng), a.timeout)
                dt = time.monotonic() - t0
            except asyncio.TimeoutError:
                errors.add("timeout", "%s %s" % (name, rng))
                if conn is not None and conn.transport is not None:
                    conn.transport.abort()
                conn = None
                continue
            except (HttpError, OSError) as e:
                errors.add(str(e).split(":")[0][:40] or type(e).__name__,
                           "%s %s after %d body bytes" % (name, rng, conn.body if conn else -1))
                conn = None
                continue
            if rng is not None and status == 200 and got == size:
                # A server may ignore Range and send the whole file (RFC 9110
                # 14.2): correct, but counted, since it moves more bytes.
                range_ignored[0] += 1
                lat.append(dt)
                done_bytes[0] += got
                continue
            want = 206 if rng is not None else 200
            if status != want:
                errors.add("status %d" % status, "%s %s" % (name, rng))
            elif got != expect:
                errors.add("short body", "%s %s: %d of %d" % (name, rng, got, expect))
            else:
                lat.append(dt)
                done_bytes[0] += got
                ranged[0] += rng is not None
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    t0 = time.monotonic()
    await asyncio.gather(*(client() for _ in range(a.clients)))
    wall = time.monotonic() - t0
    out = {
        "requests": len(plan), "ok": len(lat), "range_requests": ranged[0], "range_ignored": range_ignored[0],
        "bytes": done_bytes[0], "wall_s": round(wall, 4),
        "mibps": round(done_bytes[0] / wall / 1048576.0, 2),
        "rps": round(len(lat) / wall, 2),
        "p50_ms": ms(percentile(lat, 50)), "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(max(lat) if lat else None),
        "errors": errors.total(), "error_kinds": errors.counts, "error_samples": errors.samples,
    }
    print(json.dumps(out))


# --- W6: many idle-ish keep-alive connections -------------------------------

def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


async def run_idle(a):
    pids = [int(p) for p in a.pids.split(",") if p] if a.pids else []
    rnd = random.Random(a.seed)
    errors = Errors()
    lat = []
    rss_idle = rss_kib(pids)
    inf = float("inf")
    stop_at = [inf]             # set once every connection is open
    measuring = [False]         # latencies count only after the ramp
    rss_peak = [rss_idle]
    sent = [0]

    async def sampler():
        while time.monotonic() < stop_at[0]:
            rss_peak[0] = max(rss_peak[0], rss_kib(pids))
            await asyncio.sleep(0.5)

    async def pacer(conn):
        # Each connection starts its requests as soon as it is open, so no
        # connection sits idle through the ramp (lighttpd closes idle ones
        # after 5 s), and ends when the measured window is over.
        await asyncio.sleep(rnd.uniform(0, a.interval_max))
        while time.monotonic() < stop_at[0]:
            try:
                if conn.closed:
                    errors.add("closed by server")
                    conn = await asyncio.wait_for(connect(a.port), a.timeout)
                t0 = time.monotonic()
                sent[0] += 1
                status, got = await asyncio.wait_for(conn.request(a.path), a.timeout)
                dt = time.monotonic() - t0
                if status != 200:
                    errors.add("status %d" % status)
                elif a.size and got != a.size:
                    errors.add("short body")
                elif measuring[0]:
                    lat.append(dt)
            except asyncio.TimeoutError:
                errors.add("timeout")
                if conn.transport is not None:
                    conn.transport.abort()
                conn.closed = True
            except (HttpError, OSError) as e:
                errors.add(str(e).split(":")[0][:40] or type(e).__name__)
                conn.closed = True
            left = stop_at[0] - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(left, rnd.uniform(a.interval_min, a.interval_max)))
        return conn

    sampling = asyncio.ensure_future(sampler())
    tasks = []
    # Ramp: open connections in batches so the listen backlog is not the test.
    t_ramp = time.monotonic()
    for i in range(0, a.conns, a.batch):
        n = min(a.batch, a.conns - i)
        res = await asyncio.gather(*(asyncio.wait_for(connect(a.port), a.timeout)
                                     for _ in range(n)), return_exceptions=True)
        for r in res:
            if isinstance(r, BaseException):
                errors.add("connect")
            else:
                tasks.append(asyncio.ensure_future(pacer(r)))
    ramp = time.monotonic() - t_ramp
    stop_at[0] = time.monotonic() + a.duration
    measuring[0] = True
    conns = await asyncio.gather(*tasks)
    await sampling
    open_at_end = sum(1 for c in conns if c is not None and not c.closed)
    rss_end = rss_kib(pids)
    for c in conns:
        if c is not None and c.transport is not None:
            c.transport.close()
    out = {
        "conns": len(tasks), "open_at_end": open_at_end, "ramp_s": round(ramp, 3),
        "requests": sent[0], "ok": len(lat),
        "p50_ms": ms(percentile(lat, 50)), "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(max(lat) if lat else None),
        "rss_idle_kib": rss_idle, "rss_peak_kib": max(rss_peak[0], rss_end),
        "errors": errors.total(), "error_kinds": errors.counts,
    }
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("manifest")
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--min", type=int, default=1024)
    m.add_argument("--max", type=int, default=64 << 20)
    m.add_argument("--zipf-s", type=float, default=1.0)
    m.add_argument("--seed", type=int, default=5)

    x = sub.add_parser("mixed")
    x.add_argument("--port", type=int, required=True)
    x.add_argument("--manifest", required=True)
    x.add_argument("--prefix", default="/w5/")
    x.add_argument("--clients", type=int, default=32)
    x.add_argument("--bytes", type=int, required=True)
    x.add_argument("--range-frac", type=float, default=0.2)
    x.add_argument("--seed", type=int, default=1)
    x.add_argument("--timeout", type=float, default=60.0)

    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--path", default="/1k.bin")
    i.add_argument("--size", type=int, default=0, help="expected body size (0: any)")
    i.add_argument("--conns", type=int, default=10000)
    i.add_argument("--batch", type=int, default=250)
    i.add_argument("--duration", type=float, default=20.0)
    i.add_argument("--interval-min", type=float, default=2.0)
    i.add_argument("--interval-max", type=float, default=3.0)
    i.add_argument("--pids", default="")
    i.add_argument("--seed", type=int, default=6)
    i.add_argument("--timeout", type=float, default=10.0)

    a = p.parse_args()
    # Thousands of live objects: keep the cyclic GC from pausing the loop
    # (a pause would show up as server latency).
    gc.collect()
    gc.freeze()
    gc.disable()
    if a.cmd == "manifest":
        cmd_manifest(a)
    elif a.cmd == "mixed":
        asyncio.run(run_mixed(a))
    else:
        asyncio.run(run_idle(a))


if __name__ == "__main__":
    sys.exit(main())
