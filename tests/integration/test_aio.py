"""The asynchronous backends (linux-aio-sendfile, io-uring, auto): bytes
served equal the source, under concurrency, slow readers, a tiny buffer
pool, disconnects, truncation, tmpfs; their counters; and proof that file
data is read asynchronously, never on the loop.

Files are evicted from the page cache before each test (fadvise DONTNEED),
so auto, which sends cached blocks straight from the page cache, reads them
asynchronously like the others."""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from helpers import tool_missing
from helpers import T, Client, ConnectionClosed, build_request, drop_from_page_cache, fetch

KiB = 1 << 10
MiB = 1 << 20
ASYNC_BACKENDS = ["linux-aio-sendfile", "io-uring", "auto"]

# Small blocks and no minimum size, so that small test files take the AIO
# path and cross many block boundaries.
SMALL_BLOCKS = {"aio-block-size": "64k", "aio-min-size": "0"}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def aio_stats(stderr):
    """The counters the backend logs when it stops."""
    m = re.search(r"(?:linux-aio-sendfile|io-uring|auto): (\d+) reads submitted, (\d+) completed, "
                  r"(\d+) bytes, (\d+) short, (\d+) errors, (\d+) files sent plain, "
                  r"(\d+) blocks sent from the page cache", stderr)
    assert m, "no backend counters in the error log:\n" + stderr[-2000:]
    keys = ("submitted", "completed", "bytes", "short", "errors", "plain", "cached")
    return dict(zip(keys, map(int, m.groups())))


def evict(root):
    """Drops the files' pages from the page cache."""
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            drop_from_page_cache(path)


@pytest.fixture(params=ASYNC_BACKENDS)
def AIO(request):
    return request.param


@pytest.fixture(params=["copy", "sendfile"])
def SEND(request):
    """aio-send: how a block leaves the pool for the socket."""
    return request.param


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Sizes around page and block (64 KiB) boundaries, on a real disk."""
    root = tmp_path_factory.mktemp("aio-www")
    sizes = [1, 4095, 4096, 4097, 65535, 65536, 65537, 3 * 65536 + 123, MiB + 1, 5 * MiB - 7]
    data = {}
    for size in sizes:
        blob = os.urandom(size)
        (root / f"f{size}").write_bytes(blob)
        data[f"/f{size}"] = blob
    for i in range(50):
        blob = os.urandom(256 * KiB + i * 4099)
        (root / f"c{i}").write_bytes(blob)
        data[f"/c{i}"] = blob
    return root, data


@pytest.fixture(autouse=True)
def cold(files):
    evict(files[0])


def get(port, path, rcvbuf=None, pause=0.0):
    """GET on a fresh connection; `pause` waits after the request before
    reading, so the server fills the socket buffers first."""
    with Client(port, timeout=T(30), rcvbuf=rcvbuf) as c:
        c.send(build_request(path, headers={"Connection": "close"}))
        if pause:
            time.sleep(pause)
        return c.read_response()


def stop_and_stats(server):
    server.stop()
    return aio_stats(server.stderr)


def test_sizes_around_boundaries(AIO, SEND, ferry, files):
    root, data = files
    server = ferry(docroot=root, backend=AIO, config=dict(SMALL_BLOCKS, **{"aio-send": SEND}))
    for path in (p for p in data if p.startswith("/f")):
        resp = fetch(server.port, path)
        assert resp.status == 200
        assert sha(resp.body) == sha(data[path]), path
    stats = stop_and_stats(server)
    assert stats["submitted"] > 0
    assert stats["submitted"] == stats["completed"]
    assert stats["short"] == 0 and stats["errors"] == 0
    # Every read covers whole pages; together they cover every byte served.
    assert stats["bytes"] >= sum(len(v) for k, v in data.items() if k.startswith("/f"))


def test_fifty_concurrent_clients(AIO, ferry, files):
    root, data = files
    server = ferry(docroot=root, backend=AIO, config=SMALL_BLOCKS)
    results = {}

    def one(path):
        try:
            results[path] = sha(get(server.port, path).body)
        except Exception as e:  # reported below, with the path
            results[path] = repr(e)

    threads = [threading.Thread(target=one, args=(f"/c{i}",)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(60))
    wrong = [p for p in (f"/c{i}" for i in range(50)) if results.get(p) != sha(data[p])]
    assert not wrong, f"wrong or missing bodies: {wrong[:5]}"
    stats = stop_and_stats(server)
    assert stats["submitted"] == stats["completed"] > 50


def test_slow_readers_with_a_tiny_pool_get_their_own_bytes(AIO, SEND, ferry, files):
    """sendfile() from /dev/shm hands the socket references to the pool's
    pages.  A buffer reused while a slow reader has not yet read them would
    change bytes already sent: with aio-send = sendfile the pool must give
    reused buffers new pages; with copy, send() must have copied them."""
    root, data = files
    config = dict(SMALL_BLOCKS, **{"aio-max-inflight": "2", "aio-send": SEND})  # 4 buffers for 8 clients
    server = ferry(docroot=root, backend=AIO, config=config)
    paths = [f"/c{i}" for i in range(8)]
    results = {}

    def one(path):
        try:
            results[path] = sha(get(server.port, path, pause=1.0).body)
        except Exception as e:
            results[path] = repr(e)

    threads = [threading.Thread(target=one, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(60))
    wrong = [p for p in paths if results.get(p) != sha(data[p])]
    assert not wrong, f"bodies changed under slow readers: {wrong}"
    stop_and_stats(server)


def test_buffers_exhausted_many_clients_all_complete(AIO, ferry, files):
    root, data = files
    config = dict(SMALL_BLOCKS, **{"aio-max-inflight": "1", "aio-read-ahead": "4"})
    server = ferry(docroot=root, backend=AIO, config=config)
    paths = [f"/c{i}" for i in range(20)]
    results = {}

    def one(path):
        try:
            results[path] = sha(get(server.port, path).body)
        except Exception as e:
            results[path] = repr(e)

    threads = [threading.Thread(target=one, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T(60))
    assert all(results.get(p) == sha(data[p]) for p in paths), results
    stats = stop_and_stats(server)
    assert stats["submitted"] == stats["completed"]


def test_client_disconnecting_mid_file_leaves_the_server_healthy(AIO, ferry, files):
    root, data = files
    server = ferry(docroot=root, backend=AIO, config=SMALL_BLOCKS)
    for _ in range(10):
        with Client(server.port, rcvbuf=4096) as c:
            c.send(build_request(f"/f{5 * MiB - 7}"))
            c.read_head()
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    resp = fetch(server.port, f"/f{MiB + 1}")
    assert sha(resp.body) == sha(data[f"/f{MiB + 1}"])
    fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    stats = stop_and_stats(server)
    assert stats["submitted"] == stats["completed"]
    assert fds < 40, f"{fds} descriptors open after the disconnects"


def test_file_truncated_while_served_closes_the_connection(AIO, ferry, tmp_path):
    root = tmp_path / "trunc"
    root.mkdir()
    blob = os.urandom(8 * MiB)
    (root / "t.bin").write_bytes(blob)
    server = ferry(docroot=root, backend=AIO, config=SMALL_BLOCKS)
    with Client(server.port, timeout=T(10), rcvbuf=8192) as c:
        c.send(build_request("/t.bin"))
        head = c.read_head()
        assert b" 200 " in head.split(b"\r\n")[0]
        with open(root / "t.bin", "r+b") as f:
            f.truncate(MiB)
        with pytest.raises(ConnectionClosed):
            c.read_exact(len(blob))
    # Still serving others.
    (root / "ok.txt").write_bytes(b"fine\n")
    assert fetch(server.port, "/ok.txt").body == b"fine\n"
    stats = stop_and_stats(server)
    assert stats["submitted"] == stats["completed"]


def test_file_deleted_while_served_is_served_whole(AIO, ferry, tmp_path):
    root = tmp_path / "del"
    root.mkdir()
    blob = os.urandom(4 * MiB)
    (root / "d.bin").write_bytes(blob)
    server = ferry(docroot=root, backend=AIO, config=SMALL_BLOCKS)
    with Client(server.port, timeout=T(10), rcvbuf=8192) as c:
        c.send(build_request("/d.bin"))
        c.read_head()
        os.unlink(root / "d.bin")
        body = c.read_exact(len(blob))
    assert sha(body) == sha(blob)
    stop_and_stats(server)


def test_tmpfs_docroot_is_served_with_plain_sendfile(AIO, ferry):
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    root = f"/dev/shm/ferry-test-{os.getpid()}"
    os.makedirs(root, exist_ok=True)
    try:
        blob = os.urandom(3 * MiB + 5)
        with open(f"{root}/m.bin", "wb") as f:
            f.write(blob)
        server = ferry(docroot=root, backend=AIO, config=SMALL_BLOCKS)
        for _ in range(2):
            assert sha(fetch(server.port, "/m.bin").body) == sha(blob)
        stats = stop_and_stats(server)
        # Kernels before 6.6 refuse O_DIRECT on tmpfs: then the files go
        # plain, with exactly one warning; newer ones read them by AIO.
        warnings = server.stderr.count("refuses O_DIRECT")
        if AIO == "auto":  # tmpfs pages are always "cached"
            assert stats["cached"] > 0 and stats["submitted"] == 0
        elif stats["plain"]:
            assert warnings == 1 and stats["plain"] == 2
        else:
            assert warnings == 0 and stats["submitted"] == stats["completed"] > 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_no_file_data_is_read_on_the_loop(AIO, SEND, ferry, files, tmp_path):
    """Under strace: no read()/pread() of file data; the body leaves by
    send() from the pool's mapping (aio-send = copy), or by sendfile() from
    one descriptor only, the /dev/shm pool (aio-send = sendfile)."""
    if not shutil.which("strace"):
        tool_missing("strace is not installed")
    root, data = files
    evict(root)
    server = ferry(docroot=root, backend=AIO, config=dict(SMALL_BLOCKS, **{"aio-send": SEND}))
    trace = tmp_path / "strace.txt"
    tracer = subprocess.Popen(["strace", "-f", "-o", str(trace), "-p", str(server.pid),
                               "-e", "trace=read,pread64,preadv,preadv2,sendfile,sendto,openat2"],
                              stderr=subprocess.PIPE, text=True)
    try:
        line = tracer.stderr.readline()  # "strace: Process N attached"
        assert "attached" in line, line
        path = f"/f{5 * MiB - 7}"
        assert sha(fetch(server.port, path).body) == sha(data[path])
    finally:
        tracer.terminate()
        tracer.wait(T(10))
    lines = trace.read_text().splitlines()
    opened = {int(m.group(1)) for m in (re.search(r'openat2\(\d+, "f\d+".*= (\d+)$', l) for l in lines) if m}
    assert opened, "the file was not opened?"
    sendfile_in = {int(m.group(1)) for m in (re.search(r"sendfile\(\d+, (\d+),", l) for l in lines) if m}
    if SEND == "sendfile":
        assert len(sendfile_in) == 1 and not (sendfile_in & opened), lines[-20:]
    else:
        assert not sendfile_in, lines[-20:]
        sent = sum(int(m.group(1)) for m in (re.search(r"sendto\(.*= (\d+)$", l) for l in lines) if m)
        assert sent >= 5 * MiB - 7, f"only {sent} bytes left by send()"
    file_reads = [l for l in lines if re.search(r"\b(pread64|preadv2?)\(", l)]
    assert not file_reads, file_reads[:5]
    stop_and_stats(server)


def test_auto_sends_cached_blocks_from_the_page_cache(ferry, files):
    """auto: a cold file is read asynchronously; once its pages are cached
    (here: read by us), it is sent from the page cache without reads."""
    root, data = files
    path = f"/f{5 * MiB - 7}"
    server = ferry(docroot=root, backend="auto", config=SMALL_BLOCKS)
    assert sha(fetch(server.port, path).body) == sha(data[path])  # cold: O_DIRECT reads
    with open(os.path.join(root, path[1:]), "rb") as f:
        f.read()  # now every page is cached
    assert sha(fetch(server.port, path).body) == sha(data[path])
    stats = stop_and_stats(server)
    blocks = -(-len(data[path]) // (64 * KiB))
    assert stats["submitted"] >= blocks       # the cold fetch
    assert stats["cached"] >= blocks // 2     # the hot fetch (2 MiB cap: 64k blocks stay 64k)
    assert stats["submitted"] == stats["completed"]


def shmem_huge_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return int(re.search(r"ShmemPmdMapped:\s+(\d+) kB", f.read()).group(1))


def kernel_collapses_tmpfs_pages():
    """MADV_COLLAPSE, which makes huge pages of a tmpfs mounted without huge=,
    came with Linux 6.1."""
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    return (major, minor) >= (6, 1)


def pool_file_kib(pid):
    """KiB of the tmpfs the process's buffer pool (its unlinked file) holds."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if re.search(r"/ferry-\w{6} \(deleted\)$", target):
            return os.stat(f"/proc/{pid}/fd/{fd}").st_blocks // 2
    raise AssertionError(f"no pool file among process {pid}'s descriptors")


def test_pool_sits_in_huge_pages_when_blocks_leave_by_copy(AIO, SEND, ferry, files):
    """Each read pins its buffer: one huge page instead of 512 small ones.
    The pool holds only the extents its reads used (2 MiB each, at least
    the first), all of them in huge pages."""
    if not kernel_collapses_tmpfs_pages():
        pytest.skip("this kernel does not collapse tmpfs pages (MADV_COLLAPSE, Linux 6.1)")
    root, data = files
    server = ferry(docroot=root, backend=AIO, config={"aio-send": SEND})
    path = f"/f{5 * MiB - 7}"
    assert sha(fetch(server.port, path).body) == sha(data[path])
    pool_kib = pool_file_kib(server.pid)
    assert 2 * 1024 <= pool_kib < 2 * 32 * 1024 and pool_kib % (2 * 1024) == 0, pool_kib
    assert shmem_huge_kib(server.pid) == (pool_kib if SEND == "copy" else 0)
    stop_and_stats(server)
