"""The /dev/shm buffer pool's memory follows the reads in flight: a fresh
worker holds one extent (2 MiB), concurrent cold downloads take more, and
a few seconds after they end the pool is back to one extent; the status
page's figure is what the tmpfs says.  Many workers on Docker's 64 MiB
/dev/shm; a tmpfs that others fill makes the reads wait, not fail.

Each pool sits in a tmpfs of its own (aio-pool-dir), so the tmpfs's use is
the pool's and nobody else's on this machine."""

import hashlib
import json
import os
import threading
import time

import pytest

from helpers import T, Client, build_request, drop_from_page_cache, fetch, fill_file_system, parse_prometheus, \
    wait_serving, wait_until

MiB = 1 << 20
EXTENT = 2 * MiB
AS_ROOT = ["-u", "root"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Six files of 16 MiB on a real disk, and their SHA-256."""
    root = tmp_path_factory.mktemp("pool-www")
    digests = {}
    for i in range(6):
        data = os.urandom(16 * MiB)
        (root / f"f{i}.bin").write_bytes(data)
        digests[f"/f{i}.bin"] = hashlib.sha256(data).hexdigest()
    return root, digests


def status(server):
    r = fetch(server.port, "/status")
    assert r.status == 200
    return json.loads(r.body)


def resident(server):
    return status(server)["buffer_pool"]["resident_bytes"]


def tmpfs_used(path):
    vfs = os.statvfs(path)
    return (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize


def cold_downloads(server, root, digests, pause=0.3):
    """Downloads every file at once, cold, each client waiting `pause` after
    its request so the server holds blocks for full sockets; checks every
    byte.  Returns the most the status page showed resident meanwhile."""
    for path in digests:
        drop_from_page_cache(root / path.lstrip("/"))
    results, most = {}, [0]
    done = threading.Event()

    def one(path):
        with Client(server.port, timeout=T(60), rcvbuf=64 * 1024) as c:
            c.send(build_request(path, headers={"Connection": "close"}))
            time.sleep(pause)
            r = c.read_response()
        results[path] = (r.status, hashlib.sha256(r.body).hexdigest())

    def watch():
        while not done.is_set():
            most[0] = max(most[0], resident(server))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=one, args=(path,)) for path in digests]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    done.set()
    watcher.join()
    assert results == {path: (200, digest) for path, digest in digests.items()}
    return most[0]


@pytest.mark.parametrize("backend,send", [("auto", "copy"), ("io-uring", "copy"), ("linux-aio-sendfile", "copy"),
                                          ("auto", "sendfile")])
def test_pool_memory_follows_the_reads_in_flight(ferry, files, tmpfs, backend, send):
    root, digests = files
    shm = tmpfs("128m")
    server = ferry(docroot=root, backend=backend,
                   config={"status-path": "/status", "aio-pool-dir": str(shm), "aio-send": send})
    s = status(server)
    assert s["buffer_pool"]["buffers"] == 64  # the bound: 2 × aio-max-inflight buffers of 1 MiB
    assert s["buffer_pool"]["resident_bytes"] == EXTENT and tmpfs_used(shm) == EXTENT, s["buffer_pool"]
    prom = parse_prometheus(fetch(server.port, "/status?format=prometheus").body.decode())
    assert prom[("ferry_buffer_pool_resident_bytes", "")] == EXTENT

    most = cold_downloads(server, root, digests)
    assert 3 * EXTENT <= most <= 64 * MiB, most  # six full sockets hold six blocks: three extents at least

    wait_until(lambda: resident(server) == EXTENT, T(10), message="the pool back to its first extent")
    assert tmpfs_used(shm) == EXTENT
    assert status(server)["buffer_pool"]["free"] == 64
    server.stop()
    assert "[warn]" not in server.stderr, server.stderr


def test_many_workers_on_dockers_dev_shm(ferry, files, tmpfs):
    """Four workers on 64 MiB: each may grow to 12 buffers (its part of three
    quarters), holds one extent when idle; the status page adds them up."""
    root, digests = files
    shm = tmpfs("64m")
    server = ferry(docroot=root, backend="auto", master=True, args=["-w", "4", *AS_ROOT],
                   config={"status-path": "/status", "aio-pool-dir": str(shm)})
    wait_serving(server, 4)
    wait_until(lambda: status(server)["buffer_pool"]["buffers"] == 4 * 12, T(5), message="the four pools on the page")
    assert resident(server) == 4 * EXTENT and tmpfs_used(shm) == 4 * EXTENT
    most = cold_downloads(server, root, digests)
    assert 4 * EXTENT < most <= 48 * MiB, most
    wait_until(lambda: resident(server) == 4 * EXTENT, T(10), message="each pool back to its first extent")
    assert tmpfs_used(shm) == 4 * EXTENT


def test_a_tmpfs_filled_by_others_makes_reads_wait_not_fail(ferry, files, tmpfs):
    """Someone fills the tmpfs after the start: the pool keeps its first
    extent, the reads take turns in it (said once), every byte arrives;
    once there is room again the pool grows again."""
    root, digests = files
    shm = tmpfs("16m")
    server = ferry(docroot=root, backend="io-uring", config={"status-path": "/status", "aio-pool-dir": str(shm)})
    filler = fill_file_system(shm)
    assert os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize < EXTENT
    assert cold_downloads(server, root, digests) == EXTENT
    s = status(server)
    assert s["backend"]["read_errors"] == 0 and s["buffer_pool"]["free"] == s["buffer_pool"]["buffers"], s
    full = [line for line in server.stderr.splitlines() if "tmpfs is full" in line]
    assert len(full) == 1 and "[warn]" in full[0], server.stderr

    filler.unlink()
    time.sleep(1.2)  # the pool tries the tmpfs again after a second
    assert cold_downloads(server, root, digests) > EXTENT
