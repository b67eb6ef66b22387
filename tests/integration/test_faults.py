"""Faults under the asynchronous backends: disk read errors and short reads
(injected by the FY_TEST_HOOKS build), a /dev/shm pool that does not fit,
and io_setup / io_uring_setup refused.  Each must give a closed connection
or a clear start-up error — never a crash, a hang or a leaked buffer."""

import os
import re
import subprocess
import time

import pytest

from helpers import T, Client, ConnectionClosed, build_request, drop_from_page_cache, fetch, fill_file_system, hooks_bin, \
    run_ferry, wait_until

MiB = 1 << 20
ASYNC_BACKENDS = ["linux-aio-sendfile", "io-uring", "auto"]
CONFIG = {"aio-block-size": "64k", "aio-min-size": "0"}


def counters(stderr):
    m = re.search(r"(\d+) reads submitted, (\d+) completed, \d+ bytes, (\d+) short, (\d+) errors, .*?"
                  r"(\d+) of (\d+) buffers free", stderr)
    assert m, stderr[-2000:]
    submitted, completed, short, errors, free, total = map(int, m.groups())
    return dict(submitted=submitted, completed=completed, short=short, errors=errors, free=free, total=total)


@pytest.fixture
def cold_file(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    blob = os.urandom(4 * MiB)
    path = root / "cold.bin"
    path.write_bytes(blob)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # auto must read it, not send it from the cache
    os.close(fd)
    (root / "ok.txt").write_bytes(b"still serving\n")
    return root, blob


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
@pytest.mark.parametrize("fault", ["eio:3", "short:3"])
def test_read_fault_closes_the_connection_and_leaks_nothing(ferry, cold_file, monkeypatch, backend, fault):
    root, blob = cold_file
    monkeypatch.setenv("FERRY_FAULT_READ", fault)
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    server = ferry(docroot=root, backend=backend, config=CONFIG)
    baseline = len(os.listdir(f"/proc/{server.pid}/fd"))
    with Client(server.port, timeout=T(10)) as c:
        c.send(build_request("/cold.bin"))
        resp_head = c.read_head()
        assert b" 200 " in resp_head.split(b"\r\n")[0]
        with pytest.raises(ConnectionClosed):  # the promised length cannot be honoured
            c.read_exact(len(blob))
    assert fetch(server.port, "/ok.txt").body == b"still serving\n"
    assert fetch(server.port, "/cold.bin").body == blob  # the next read is healthy
    # The open-file cache keeps the two files; nothing else may stay open.
    wait_until(lambda: len(os.listdir(f"/proc/{server.pid}/fd")) <= baseline + 2, T(3),
               message="descriptors back to the baseline")
    server.stop()
    n = counters(server.stderr)
    assert n["submitted"] == n["completed"] and n["free"] == n["total"]
    assert (n["errors"], n["short"]) == ((1, 0) if fault.startswith("eio") else (0, 1))
    assert "sending a response failed" in server.stderr


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
@pytest.mark.parametrize("refused", [1, 4])
def test_read_the_engine_refuses_is_retried(ferry, cold_file, monkeypatch, backend, refused):
    """The first refusal comes with no read in flight (only the retry timer
    can serve the transfer), the fourth with one (its completion does)."""
    root, blob = cold_file
    monkeypatch.setenv("FERRY_FAULT_READ", f"again:{refused}")
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    server = ferry(docroot=root, backend=backend, config=CONFIG)
    assert fetch(server.port, "/cold.bin").body == blob
    server.stop()
    n = counters(server.stderr)
    assert n["submitted"] == n["completed"] == len(blob) // (64 << 10)
    assert (n["errors"], n["short"], n["free"]) == (0, 0, n["total"])


@pytest.mark.parametrize("backend", ["linux-aio-sendfile", "io-uring"])
def test_pool_dir_missing_is_a_clear_error(tmp_path, backend):
    conf = tmp_path / "f.conf"
    conf.write_text(f"aio-pool-dir = {tmp_path}/nowhere\n")
    r = run_ferry(["-c", str(conf), "-B", backend, "-l", "127.0.0.1:1", "-r", str(tmp_path)])
    assert r.returncode == 1
    assert "nowhere" in r.stderr and "No such file or directory" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_auto_without_its_pool_serves_with_sendfile_and_says_why(ferry, cold_file):
    root, blob = cold_file
    server = ferry(docroot=root, backend="auto", config={"aio-pool-dir": f"{root}/nowhere"})
    assert fetch(server.port, "/cold.bin").body == blob
    server.stop()
    warnings = [l for l in server.stderr.splitlines() if "instead" in l]
    assert len(warnings) == 1, server.stderr
    assert "nowhere" in warnings[0] and "No such file or directory" in warnings[0]
    assert "reads submitted" not in server.stderr  # no asynchronous pipeline ran


def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write(f"{value}\n")


def test_io_setup_refused_is_a_clear_error(tmp_path):
    path = "/proc/sys/fs/aio-max-nr"
    if not os.access(path, os.W_OK):
        pytest.skip("cannot change aio-max-nr (not root)")
    old = open(path).read().strip()
    used = int(open("/proc/sys/fs/aio-nr").read())
    try:
        write_sysctl(path, used)  # no room for one more AIO context
        r = run_ferry(["-B", "linux-aio-sendfile", "-l", "127.0.0.1:1", "-r", str(tmp_path)])
    finally:
        write_sysctl(path, old)
    assert r.returncode == 1
    assert "io_setup" in r.stderr and "aio-max-nr" in r.stderr, r.stderr


def test_io_uring_refused_is_a_clear_error(tmp_path):
    path = "/proc/sys/kernel/io_uring_disabled"
    if not os.path.exists(path) or not os.access(path, os.W_OK):
        pytest.skip("this kernel cannot disable io_uring (or not root)")
    old = open(path).read().strip()
    try:
        write_sysctl(path, 2)
        r = run_ferry(["-B", "io-uring", "-l", "127.0.0.1:1", "-r", str(tmp_path)])
    finally:
        write_sysctl(path, old)
    assert r.returncode == 1
    assert "io_uring_queue_init" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
def test_no_descriptor_for_the_async_reopen_sends_plain(ferry, cold_file, backend):
    """The asynchronous backends open their own O_DIRECT descriptor of a
    file.  With the descriptor limit reached right there (the connection's
    own open took the last one) the response went out as nothing: the
    connection closed without a status.  It is now sent plain, from the
    descriptor the connection has, as the sendfile backend sends it."""
    import resource
    root, blob = cold_file
    limit = 64
    server = ferry(docroot=root, backend=backend,
                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
    idle = []

    def settled_count():
        """The server's descriptors, once the count stops moving."""
        last = -1
        while True:
            n = len(os.listdir(f"/proc/{server.pid}/fd"))
            if n == last:
                return n
            last = n
            time.sleep(0.2)

    try:
        # Leave two descriptors: the requesting connection's and the file's.
        # Idle connections fill the rest; the count is read back, since the
        # server may still be opening its own (slower under a sanitizer).
        deadline = time.monotonic() + T(10)
        while (n := settled_count()) != limit - 2:
            assert time.monotonic() < deadline, f"{n} descriptors open, wanted {limit - 2}"
            for _ in range(limit - 2 - n):
                idle.append(Client(server.port))
            for _ in range(n - (limit - 2)):
                idle.pop().close()
        with Client(server.port, timeout=T(10)) as c:
            c.send(build_request("/cold.bin", headers={"Connection": "close"}))
            r = c.read_response()
        assert r.status == 200 and r.body == blob
    finally:
        for c in idle:
            c.close()
    assert "cannot open a file for asynchronous reads (Too many open files)" in server.stderr
    server.stop()


def mount_tmpfs(path, options):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs with {options} here: {r.stderr.decode().strip()}")


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
def test_sendfile_from_the_pool_keeps_its_tmpfs_space(ferry, tmp_path, backend):
    """aio-send = sendfile gives each released buffer fresh pages by
    punching a hole.  That gave its space back to the tmpfs: once another
    user filled it, downloads sent a 200 head and no body (EFAULT).  The
    space is now reserved again at once."""
    mnt = tmp_path / "shm"
    mount_tmpfs(mnt, "size=12m")
    try:
        root = tmp_path / "www"
        root.mkdir()
        blob = os.urandom(20 * MiB)
        (root / "cold.bin").write_bytes(blob)
        conf = {"aio-pool-dir": str(mnt), "aio-send": "sendfile", "aio-max-inflight": "4", "aio-direct": "on"}
        server = ferry(docroot=root, backend=backend, config=conf)
        for round in range(3):
            drop_from_page_cache(root / "cold.bin")
            with Client(server.port, timeout=T(10)) as c:
                r = c.request("/cold.bin", headers={"Connection": "close"})
            assert r.status == 200 and r.body == blob, f"round {round}"
            if round == 0:
                fill_file_system(mnt)  # after the first download punched every buffer
        server.stop()
        assert counters(server.stderr)["free"] == 8
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_sendfile_from_a_huge_page_pool_is_refused_unless_blocks_are_whole_pages(ferry, tmp_path):
    """On a tmpfs mounted huge=always, punching a 1 MiB hole inside a 2 MiB
    page zeroes it in place while the socket still sends from it: 3 of 3
    downloads came out corrupted (200, full length).  Such a pool is now
    refused with a clear message; with 2 MiB blocks it serves every byte."""
    mnt = tmp_path / "huge"
    mount_tmpfs(mnt, "size=64m,huge=always")
    try:
        conf = tmp_path / "f.conf"
        conf.write_text(f"aio-pool-dir = {mnt}\naio-send = sendfile\n")
        r = run_ferry(["-c", str(conf), "-B", "io-uring", "-l", "127.0.0.1:1", "-r", str(tmp_path)])
        assert r.returncode == 1, r.stderr
        assert "uses huge pages" in r.stderr and "aio-block-size = 2m" in r.stderr, r.stderr

        root = tmp_path / "www"
        root.mkdir()
        blob = os.urandom(24 * MiB + 12345)
        (root / "cold.bin").write_bytes(blob)
        server = ferry(docroot=root, backend="io-uring",
                       config={"aio-pool-dir": str(mnt), "aio-send": "sendfile", "aio-block-size": "2m",
                               "aio-max-inflight": "4"})
        for _ in range(3):
            drop_from_page_cache(root / "cold.bin")
            with Client(server.port, timeout=T(10), rcvbuf=65536) as c:
                c.send(build_request("/cold.bin", headers={"Connection": "close"}))
                r = c.read_response()
            assert r.status == 200 and r.body == blob
        server.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


@pytest.mark.parametrize("backend", ["linux-aio-sendfile", "auto"])
def test_reload_when_the_tmpfs_fits_one_generation_of_pools(ferry, tmp_path, backend):
    """A reload starts new workers while the old ones finish, so for a while
    two generations of pools exist.  Where /dev/shm fits only one whole
    pool, linux-aio-sendfile once refused every reload and auto served as
    sendfile for good.  A pool now takes space only for the reads in flight
    (one 2 MiB extent when idle): the new worker reserves its pool at once,
    beside the old worker's that still sends, and reads asynchronously."""
    import json
    import signal
    mnt = tmp_path / "shm"
    mount_tmpfs(mnt, "size=100m")  # one whole 64 MiB pool, not two
    try:
        root = tmp_path / "www"
        root.mkdir()
        big = os.urandom(64 * MiB)
        (root / "big.bin").write_bytes(big)
        cold = os.urandom(8 * MiB)
        (root / "cold.bin").write_bytes(cold)
        server = ferry(docroot=root, backend=backend, master=True,
                       config={"aio-pool-dir": str(mnt), "status-path": "/status", "workers": "1"},
                       args=["-u", "root"] if os.geteuid() == 0 else [])
        wait_until(lambda: "listening on" in server.stderr, T(10), message="serving")
        holder = Client(server.port, timeout=T(30), rcvbuf=4096)  # keeps the old worker busy
        holder.send(build_request("/big.bin"))
        time.sleep(0.5)
        server.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded: generation 2" in server.stderr or "reload failed" in server.stderr, T(10),
                   message="the reload's outcome")
        assert "reload failed" not in server.stderr, server.stderr[-2000:]
        assert "still hold their pools" not in server.stderr, server.stderr[-2000:]

        def reads_submitted():  # every worker's, old and new
            return json.loads(fetch(server.port, "/status").body)["backend"]["reads_submitted"]
        before = reads_submitted()
        drop_from_page_cache(root / "cold.bin")
        r = fetch(server.port, "/cold.bin")  # the new worker's: the old one closed its listener
        assert r.status == 200 and r.body == cold
        assert reads_submitted() >= before + 8, "the new worker did not read the cold file asynchronously"
        assert holder.read_head().split(b"\r\n")[0].endswith(b"200 OK")
        holder.close()
        server.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)])
