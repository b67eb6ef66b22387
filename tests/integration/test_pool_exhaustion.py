"""The asynchronous backends when their /dev/shm pool runs out: clients that
stop reading, vanish (FIN, RST) mid-read, or are queued behind others must
never crash the server, hang a queued transfer, or keep the pool from
others for longer than one buffer each.  Regression tests for the review
of 2026-11-27 (issue 12, A1, A2, A5); the long mixed stress is at the end
(FERRY_STRESS_SECONDS sets its length)."""

import hashlib
import json
import os
import random
import socket
import struct
import threading
import time

import pytest

from helpers import T, Client, build_request, drop_from_page_cache, fetch, run_stress, wait_until

KiB = 1 << 10
MiB = 1 << 20
ASYNC_BACKENDS = ["linux-aio-sendfile", "io-uring", "auto"]


def sha(data):
    return hashlib.sha256(data).hexdigest()


def warm(path):
    with open(path, "rb") as f:
        while f.read(MiB):
            pass


def status(server):
    r = fetch(server.port, "/status")
    assert r.status == 200, r
    return json.loads(r.body)


def wait_for_pool(server, free, queued=0):
    """The status page (refreshed once a second) shows the pool back to
    `free` buffers and the queue at `queued`."""
    seen = {}

    def settled():
        s = status(server)
        seen.update(s)
        return s["buffer_pool"]["free"] == free and s["backend"]["queue_length"] == queued
    wait_until(settled, T(10), interval=0.2, message=f"pool back to {free} free, queue {queued}: {seen}")


def reset(sock):
    """Closes with a RST, as a client that vanishes does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture(params=ASYNC_BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    files = {"big.bin": os.urandom(64 * MiB), "two.bin": os.urandom(2 * MiB), "three.bin": os.urandom(3 * MiB),
             "small.bin": os.urandom(100 * KiB)}
    for name, blob in files.items():
        (root / name).write_bytes(blob)
        drop_from_page_cache(root / name)
    return root, files


def holder(port, path="/big.bin"):
    """A client that asks for a big file and never reads: the server fills
    its socket and keeps the blocks it read for it."""
    c = Client(port, timeout=T(30), rcvbuf=4096)
    c.send(build_request(path))
    return c


# --- A1: a queued transfer that finishes while queued ------------------------

def test_transfer_that_finishes_while_queued_leaves_the_queue(ferry, tree, backend):
    """One read slot (two buffers).  A holds both; B queues for two.bin,
    whose pages then come into the page cache; B is served (auto sends it
    from the cache) and pipelines a second request; A resets.  The review
    saw a use-after-free of B in the wait queue here, then a segfault."""
    root, files = tree
    server = ferry(docroot=root, backend=backend, config={"aio-max-inflight": "1", "status-path": "/status"})
    a = holder(server.port)
    time.sleep(0.5)  # A's blocks are read and stuck behind its full socket
    with Client(server.port, timeout=T(20)) as b:
        b.send(build_request("/two.bin"))
        head = b.read_head()
        assert head.startswith(b"HTTP/1.1 200"), head
        warm(root / "two.bin")
        b.send(build_request("/small.bin"))
        body = b.read_exact(len(files["two.bin"]))
        assert sha(body) == sha(files["two.bin"])
        r = b.read_response()
        assert r.status == 200 and r.body == files["small.bin"]
        reset(a.sock)
        assert fetch(server.port, "/small.bin").body == files["small.bin"]
    wait_for_pool(server, free=2)
    server.stop()


# --- A2: a queued transfer whose next block needs no read --------------------

def test_queued_transfer_whose_block_became_cached_is_woken(ferry, tree):
    """auto: B waits for a buffer; its file then enters the page cache and
    A leaves.  B's next block needs no read and no buffer, and B must be
    woken for it (the review saw B wait for the 30 s write timeout)."""
    root, files = tree
    server = ferry(docroot=root, backend="auto", config={"aio-max-inflight": "1", "status-path": "/status"})
    a = holder(server.port)
    time.sleep(0.5)
    with Client(server.port, timeout=T(10)) as b:
        b.send(build_request("/two.bin"))
        assert b.read_head().startswith(b"HTTP/1.1 200")
        warm(root / "two.bin")
        a.close()
        started = time.monotonic()
        body = b.read_exact(len(files["two.bin"]))
        assert sha(body) == sha(files["two.bin"])
        assert time.monotonic() - started < T(5)
    wait_for_pool(server, free=2)
    server.stop()


# --- A5: clients that stop reading -------------------------------------------

def test_clients_that_stop_reading_keep_one_buffer_each_while_others_wait(ferry, tree, backend):
    """32 clients that never read once held the whole pool (64 buffers) until
    the write timeout, so a cold 3 MiB download took 27 s.  While others
    wait, each holds one buffer at most: the download goes through."""
    root, files = tree
    server = ferry(docroot=root, backend=backend, config={"status-path": "/status"})
    stalled = [holder(server.port) for _ in range(32)]
    try:
        time.sleep(1.0)
        started = time.monotonic()
        with Client(server.port, timeout=T(20)) as c:
            r = c.request("/three.bin", headers={"Connection": "close"})
        took = time.monotonic() - started
        assert r.status == 200 and sha(r.body) == sha(files["three.bin"])
        # The write timeout is 30 s; a wait for the holders to be cut off
        # would take that long.  Served from freed buffers it takes a few ms.
        assert took < T(10), f"the download waited {took:.1f} s behind clients that do not read"
    finally:
        for c in stalled:
            c.close()
    wait_for_pool(server, free=64)
    server.stop()


def drain_some(client, nbytes):
    got = 0
    while got < nbytes:
        chunk = client.sock.recv(min(65536, nbytes - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def test_queued_time_is_not_a_stall(ferry, tree, backend):
    """A transfer that waits in the queue longer than the write timeout is
    not the client's stall.  Two holders keep one buffer each (one read
    slot, two buffers) and read a little now and then, so their clocks
    start again; the queued client's would run out first.  Once the
    holders go, it is served whole."""
    root, files = tree
    server = ferry(docroot=root, backend=backend,
                   config={"aio-max-inflight": "1", "status-path": "/status", "write-timeout": "2s"})
    holders = [holder(server.port) for _ in range(2)]
    try:
        time.sleep(0.5)
        with Client(server.port, timeout=T(20)) as c:
            c.send(build_request("/three.bin", headers={"Connection": "close"}))
            assert c.read_head().startswith(b"HTTP/1.1 200")
            for _ in range(3):  # 3 s: past the queued client's 2 s
                time.sleep(1.0)
                for h in holders:
                    assert drain_some(h, 64 * KiB) == 64 * KiB
            for h in holders:
                h.close()
            body = c.read_exact(len(files["three.bin"]))
            assert sha(body) == sha(files["three.bin"])
    finally:
        for h in holders:
            h.close()
    wait_for_pool(server, free=2)
    server.stop()


# --- the stress the review ran -----------------------------------------------

def slow_reader(port, paths, deadline, errors):
    rng = random.Random()
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=T(30))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.sendall(build_request(rng.choice(paths)))
            until = time.monotonic() + rng.uniform(0.5, 3.0)
            while time.monotonic() < until:
                if not s.recv(rng.choice([512, 4096, 16384])):
                    break
                time.sleep(rng.uniform(0.0, 0.05))
            if rng.random() < 0.5:
                reset(s)
            else:
                s.close()
        except OSError as e:
            errors.append(f"slow reader: {e}")
            time.sleep(0.1)


def fetcher(port, files, deadline, errors):
    rng = random.Random()
    while time.monotonic() < deadline:
        name = rng.choice(list(files))
        try:
            with Client(port, timeout=T(60)) as c:
                r = c.request("/" + name, headers={"Connection": "close"})
            if r.status != 200 or r.body != files[name]:
                errors.append(f"{name}: status {r.status}, {len(r.body)} bytes, wrong content")
        except Exception as e:  # noqa: BLE001 — reported as a failure below
            errors.append(f"{name}: {e!r}")


def test_slow_and_vanishing_readers_with_small_downloads(ferry, tmp_path, backend):
    """40 clients that read slowly for 0.5-3 s and then close or reset, and
    4 that fetch whole 100 KiB-3 MiB files and check every byte, for
    FERRY_STRESS_SECONDS (default 12) per backend, with files evicted from
    the page cache now and then.  The review saw a SIGSEGV within 3-18 s."""
    seconds = float(os.environ.get("FERRY_STRESS_SECONDS", "12"))
    root = tmp_path / "www"
    root.mkdir()
    files = {f"f{i}.bin": os.urandom(rng_size) for i, rng_size in
             enumerate([100 * KiB, 300 * KiB, 700 * KiB, MiB + 5, 2 * MiB - 3, 3 * MiB])}
    for name, blob in files.items():
        (root / name).write_bytes(blob)
    (root / "big.bin").write_bytes(os.urandom(48 * MiB))
    server = ferry(docroot=root, backend=backend, config={"status-path": "/status", "write-timeout": "5s"})
    deadline = time.monotonic() + seconds
    errors = []
    paths = ["/big.bin", "/f5.bin", "/f4.bin"]
    threads = [threading.Thread(target=slow_reader, args=(server.port, paths, deadline, errors))
               for _ in range(40)]
    threads += [threading.Thread(target=fetcher, args=(server.port, files, deadline, errors)) for _ in range(4)]
    run_stress(server, threads, deadline, root, errors)
    wait_for_pool(server, free=64)
    server.stop(timeout=T(20))
