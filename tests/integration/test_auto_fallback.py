"""auto where the machine gives less: in a container whose seccomp profile
refuses io_uring (Docker's and containerd's default ones do) it reads with
libaio, keeping cold downloads off the loop; where native AIO is refused too,
it sends with sendfile.  A small tmpfs for the pool (Docker's /dev/shm is
64 MiB) gets a smaller pool, down to a few buffers; below that, sendfile.
Each time the log says so once, and the status page names the engine.

The engines are refused through the hooks build (FERRY_TEST_NO_URING,
FERRY_TEST_NO_LIBAIO), as the kernel would: other suites on this machine keep
their io_uring.  One test uses the real kernel.io_uring_disabled, for a
moment, where it exists and we are root."""

import hashlib
import json
import os

import pytest

from helpers import T, drop_from_page_cache, fetch, hooks_bin, parse_prometheus, run_ferry, wait_serving, wait_until

MiB = 1 << 20
ROOT = os.geteuid() == 0
AS_ROOT = ["-u", "root"] if ROOT else []
URING_DISABLED = "/proc/sys/kernel/io_uring_disabled"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 64 MiB file (its path and SHA-256), dropped from the page cache by each test that wants it cold."""
    root = tmp_path_factory.mktemp("www")
    data = os.urandom(64 * MiB)
    (root / "big.bin").write_bytes(data)
    (root / "small.txt").write_bytes(b"small\n")
    return root, hashlib.sha256(data).hexdigest()


def cold_download(server, big):
    """Downloads big.bin from the disk (not the page cache) and checks every byte."""
    root, digest = big
    drop_from_page_cache(root / "big.bin")
    r = fetch(server.port, "/big.bin")
    assert r.status == 200 and len(r.body) == 64 * MiB
    assert hashlib.sha256(r.body).hexdigest() == digest


def status(server):
    r = fetch(server.port, "/status")
    assert r.status == 200
    return json.loads(r.body)


def prometheus(server):
    r = fetch(server.port, "/status?format=prometheus")
    assert r.status == 200
    return parse_prometheus(r.body.decode())


def assert_engine(server, engine, processes=1):
    s = status(server)
    assert s["backend"]["name"] == "auto"
    assert s["backend"]["engine"] == engine, s["backend"]
    assert s["backend"]["engines"][engine] == processes, s["backend"]
    assert sum(s["backend"]["engines"].values()) == processes, s["backend"]
    assert [p["engine"] for p in s["processes"]] == [engine] * processes
    p = prometheus(server)
    info = [labels for name, labels in p if name == "ferry_info"]
    assert len(info) == 1 and f'backend="auto",engine="{engine}"' in info[0], info
    assert p[("ferry_backend_engine", f'engine="{engine}"')] == processes
    return s


def warnings(server):
    return [line for line in server.stderr.splitlines() if "[warn]" in line]


def read_into_page_cache(path):
    with open(path, "rb") as f:
        while f.read(4 * MiB):
            pass


# --- an engine refused ---------------------------------------------------------

def test_io_uring_refused_auto_reads_cold_files_with_libaio(ferry, big, monkeypatch):
    """The seccomp case: io_uring_setup fails with EPERM.  Cold blocks are
    still read O_DIRECT off the loop (by libaio), cached ones still go from
    the page cache by sendfile."""
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_TEST_NO_URING", "1")
    server = ferry(docroot=big[0], backend="auto", config={"status-path": "/status"})
    [warn] = warnings(server)
    assert "io_uring_queue_init: Operation not permitted" in warn and "auto reads with libaio instead" in warn
    assert_engine(server, "libaio")

    cold_download(server, big)
    b = status(server)["backend"]
    assert b["reads_submitted"] == b["reads_completed"] == 64  # 1 MiB blocks, all read by libaio
    assert b["bytes_read"] == 64 * MiB and b["cache_hit_blocks"] == 0 and b["lookups"] == 0  # no ring to look up in

    read_into_page_cache(big[0] / "big.bin")
    r = fetch(server.port, "/big.bin")
    assert hashlib.sha256(r.body).hexdigest() == big[1]
    after = status(server)["backend"]
    assert after["reads_submitted"] == 64 and after["cache_hit_blocks"] == 64, after  # residency probing: no read
    server.stop()
    assert len(warnings(server)) == 1
    assert "auto: 64 reads submitted, 64 completed" in server.stderr


def test_io_uring_and_libaio_refused_auto_sends_with_sendfile(ferry, big, monkeypatch):
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_TEST_NO_URING", "1")
    monkeypatch.setenv("FERRY_TEST_NO_LIBAIO", "1")
    server = ferry(docroot=big[0], backend="auto", config={"status-path": "/status"})
    [warn] = warnings(server)
    assert "io_uring_queue_init: Operation not permitted" in warn and "io_setup(32)" in warn, warn
    assert warn.endswith("the auto backend sends with sendfile instead"), warn
    assert_engine(server, "sendfile")
    cold_download(server, big)
    assert status(server)["buffer_pool"]["buffers"] == 0
    server.stop()
    assert "reads submitted" not in server.stderr  # no pipeline ran


def test_explicit_backends_do_not_fall_back(tmp_path, monkeypatch):
    """Only auto chooses: io-uring asked for and refused is a start-up error."""
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_TEST_NO_URING", "1")
    r = run_ferry(["-X", *AS_ROOT, "-B", "io-uring", "-l", "127.0.0.1:1", "-r", str(tmp_path)])
    assert r.returncode == 1
    assert "io-uring: io_uring_queue_init: Operation not permitted" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.skipif(not ROOT or not os.path.exists(URING_DISABLED),
                    reason="needs root and a kernel with kernel.io_uring_disabled")
def test_io_uring_disabled_machine_wide_auto_reads_with_libaio(ferry, big):
    """The real sysctl, set only while ferry starts (well under a second:
    other suites on the machine need io_uring), restored at once."""
    with open(URING_DISABLED) as f:
        old = f.read().strip()
    server = ferry(start=False, docroot=big[0], backend="auto", config={"status-path": "/status"})
    try:
        with open(URING_DISABLED, "w") as f:
            f.write("2\n")  # io_uring_setup() fails with EPERM for everyone
        server.start()
    finally:
        with open(URING_DISABLED, "w") as f:
            f.write(f"{old}\n")
    [warn] = warnings(server)
    assert "io_uring_queue_init: Operation not permitted" in warn and "auto reads with libaio instead" in warn
    assert_engine(server, "libaio")
    cold_download(server, big)
    assert status(server)["backend"]["reads_completed"] == 64


# --- the pool in a small tmpfs ---------------------------------------------------

def test_small_tmpfs_gets_a_smaller_pool(ferry, big, tmpfs):
    """8 MiB for a 64 MiB pool: three quarters of it, 6 buffers of 1 MiB,
    said once; cold downloads still read through io_uring, every byte."""
    shm = tmpfs("8m")
    server = ferry(docroot=big[0], backend="auto", config={"status-path": "/status", "aio-pool-dir": str(shm)})
    [warn] = warnings(server)
    assert f"auto: buffer pool of 6 MiB (6 buffers of 1 MiB) instead of 64 MiB: {shm} has 8 MiB (8 MiB free)" \
        in warn, warn
    s = assert_engine(server, "io_uring")
    assert s["buffer_pool"]["buffers"] == 6 and s["buffer_pool"]["buffer_size"] == MiB
    for _ in range(2):
        cold_download(server, big)
    s = status(server)
    assert s["backend"]["reads_completed"] == 128 and s["backend"]["read_errors"] == 0, s["backend"]
    assert s["buffer_pool"]["free"] == 6
    server.stop()
    assert len(warnings(server)) == 1


def test_workers_share_a_small_tmpfs(ferry, big, tmpfs):
    """Two workers on 16 MiB: each its part of three quarters, 6 buffers,
    both reserved though they start at the same time."""
    shm = tmpfs("16m")
    server = ferry(docroot=big[0], backend="auto", master=True, args=["-w", "2", *AS_ROOT],
                   config={"status-path": "/status", "aio-pool-dir": str(shm)})
    wait_serving(server, 2)
    wait_until(lambda: len(warnings(server)) == 2, T(5), message="each worker's warning")
    for warn in warnings(server):
        assert "buffer pool of 6 MiB (6 buffers of 1 MiB) instead of 64 MiB" in warn and "for 2 workers" in warn
    wait_until(lambda: status(server)["buffer_pool"]["buffers"] == 12, T(5), message="both pools on the page")
    assert_engine(server, "io_uring", processes=2)
    cold_download(server, big)


def test_tmpfs_without_room_for_the_least_pool_auto_sends_with_sendfile(ferry, big, tmpfs):
    shm = tmpfs("64k")
    server = ferry(docroot=big[0], backend="auto", config={"status-path": "/status", "aio-pool-dir": str(shm)})
    [warn] = warnings(server)
    assert f"buffer pool: {shm} has 64 KiB (64 KiB free) for 1 worker: not even 4 buffers of 1 MiB fit" in warn
    assert warn.endswith("the auto backend sends with sendfile instead"), warn
    assert_engine(server, "sendfile")
    cold_download(server, big)
    server.stop()
    assert "reads submitted" not in server.stderr


@pytest.mark.parametrize("backend", ["linux-aio-sendfile", "io-uring"])
def test_explicit_backends_fit_their_pool_or_refuse_to_start(ferry, big, tmpfs, backend):
    """The pool fits a small tmpfs whatever the backend; not even the least
    pool is a start-up error (only auto falls back)."""
    tiny = tmpfs("1m")
    conf = tiny.parent / "tiny.conf"
    conf.write_text(f"aio-pool-dir = {tiny}\n")
    r = run_ferry(["-X", *AS_ROOT, "-c", str(conf), "-B", backend, "-l", "127.0.0.1:1", "-r", str(big[0])])
    assert r.returncode == 1
    assert f"{tiny} has 1 MiB (1 MiB free) for 1 worker: not even 4 buffers of 1 MiB fit" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr

    shm = tmpfs("8m")
    server = ferry(docroot=big[0], backend=backend, config={"status-path": "/status", "aio-pool-dir": str(shm)})
    [warn] = warnings(server)
    assert f"{backend}: buffer pool of 6 MiB (6 buffers of 1 MiB) instead of 64 MiB" in warn, warn
    assert status(server)["buffer_pool"]["buffers"] == 6
    cold_download(server, big)
