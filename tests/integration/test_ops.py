"""Operations (issue 8): the master and its workers, reload, log reopening,
privileges, systemd (readiness, socket activation), the status endpoint,
make install, and start-up errors that say what is wrong in one line."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import REPO, SANITIZED, T, Client, ConnectionClosed, build_request, children, fetch, ferry_bin, free_port, \
    parse_prometheus, run_ferry, tool_missing, wait_serving, wait_until, write_config

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (privileges, chroot)")
AS_ROOT = ["-u", "root"] if ROOT else []  # as root, serving as root must be asked for


def no_leak_check_env():
    """LeakSanitizer reads /proc at exit, which a chroot leaves behind."""
    env = dict(os.environ)
    if SANITIZED:
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


# --- processes --------------------------------------------------------------

def gone(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def proc_ids(pid):
    """(real uid, real gid, supplementary groups) from /proc/PID/status."""
    status = Path(f"/proc/{pid}/status").read_text()
    uid = [int(x) for x in re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()]
    gid = [int(x) for x in re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()]
    groups = [int(x) for x in re.search(r"^Groups:[ \t]*(.*)$", status, re.M).group(1).split()]
    return uid, gid, groups


def master(ferry, site, workers=2, config=None, args=(), root_ok=True, **kw):
    """ferry with a master and `workers` workers, all serving."""
    extra = ["-w", str(workers), *(AS_ROOT if root_ok else []), *args]
    f = ferry(docroot=kw.pop("docroot", site.root), master=True, config=config, args=extra, **kw)
    wait_serving(f, workers)
    return f


def stats(f, path="/status", fmt=None):
    target = path + (f"?format={fmt}" if fmt else "")
    r = fetch(f.port, target)
    assert r.status == 200, r
    return r


def status_json(f):
    r = stats(f)
    assert r.header("content-type") == "application/json"
    return json.loads(r.body)


# --- workers -----------------------------------------------------------------

def test_master_starts_workers_and_stops_them_gracefully(ferry, site):
    f = master(ferry, site, workers=3)
    workers = children(f.pid)
    assert len(workers) == 3
    for _ in range(20):
        assert fetch(f.port, "/sub/page.txt").body == b"a page in sub\n"
    assert f.stderr.count("listening on") == 1, f.stderr  # the master says it, once
    f.stop()
    for w in workers:
        assert gone(w)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", f.port), timeout=1).close()


def test_workers_auto_is_one_per_cpu(ferry, site):
    cpus = len(os.sched_getaffinity(0))
    f = ferry(docroot=site.root, master=True, args=AS_ROOT)
    wait_serving(f, cpus)


def test_sigterm_to_master_finishes_a_download_in_flight(ferry, site):
    f = master(ferry, site, workers=2)
    with f.client(rcvbuf=65536, timeout=T(10)) as c:
        c.send(build_request("/big.bin"))
        assert c.read_head().startswith(b"HTTP/1.1 200 OK")
        got = c.read_exact(65536)
        f.send_signal(signal.SIGTERM)
        got += c.read_exact(3 * (1 << 20) - 65536)
        assert got == site.files["/big.bin"]
    f.stop()


def test_worker_killed_is_replaced(ferry, site):
    f = master(ferry, site, workers=2, config={"status-path": "/status"})
    before = children(f.pid)
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: len(children(f.pid)) == 2 and before[0] not in children(f.pid), T(5),
               message="a new worker")
    after = children(f.pid)
    assert before[1] in after and before[0] not in after
    assert "was killed by signal 9" in f.stderr and "starting a new one" in f.stderr
    for _ in range(20):  # both sockets of the group have a worker again
        assert fetch(f.port, "/index.html").status == 200
    assert status_json(f)["respawns"] == 1


def test_worker_exits_when_master_dies(ferry, site):
    f = master(ferry, site, workers=2)
    workers = children(f.pid)
    f.send_signal(signal.SIGKILL)
    f.wait_exit()
    for w in workers:
        wait_until(lambda: gone(w), T(5), message=f"worker {w} to exit after its master")
    f.returncode = 0  # killed on purpose; the fixture must not complain


@pytest.mark.parametrize("reuseport", ["on", "off"])
def test_both_ways_of_sharing_the_port_serve(ferry, site, reuseport):
    f = master(ferry, site, workers=3, config={"reuseport": reuseport})
    assert ("SO_REUSEPORT" if reuseport == "on" else "one shared socket") in f.stderr
    for _ in range(30):
        assert fetch(f.port, "/a.bin").body == site.files["/a.bin"]


def test_reuseport_group_does_not_hide_a_port_in_use(ferry, site):
    """Two SO_REUSEPORT groups of one user would share the port silently."""
    f = master(ferry, site, workers=2)
    r = run_ferry(["-r", str(site.root), "-l", f"127.0.0.1:{f.port}", "-w", "2", *AS_ROOT])
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "in use" in r.stderr, r.stderr


# --- reload -------------------------------------------------------------------

class Load:
    """Clients requesting without pause until stopped: fresh connections
    (which must never fail) and keep-alive ones (which may find an idle
    connection closed by an old worker, and then retry on a new one, as
    RFC 9112 section 9.3.1 allows: the request was never answered)."""

    def __init__(self, port, expect, fresh=3, keepalive=3):
        self.port, self.expect = port, expect
        self.stop_flag = threading.Event()
        self.errors, self.done, self.retries = [], 0, 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.fresh) for _ in range(fresh)]
        self.threads += [threading.Thread(target=self.keepalive) for _ in range(keepalive)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def count(self, err=None, retry=False):
        with self.lock:
            if err:
                self.errors.append(err)
            elif retry:
                self.retries += 1
            else:
                self.done += 1

    def check(self, r):
        if r.status != 200 or r.body != self.expect:
            self.count(f"bad response {r.status} {len(r.body)} bytes")
        else:
            self.count()

    def fresh(self):
        while not self.stop_flag.is_set():
            try:
                with Client(self.port, timeout=T(10)) as c:
                    self.check(c.request("/index.html", headers={"Connection": "close"}))
            except (OSError, ConnectionClosed, AssertionError) as e:
                self.count(f"fresh connection: {e!r}")

    def keepalive(self):
        c, used = None, 0
        while not self.stop_flag.is_set():
            head_seen = False
            try:
                if c is None:
                    c, used = Client(self.port, timeout=T(10)), 0
                c.send(build_request("/index.html"))
                head = c.read_head()
                head_seen = True
                body = c.read_exact(len(self.expect))
                used += 1
                self.check(type("R", (), {"status": 200, "body": body})())
                if re.search(rb"\r\nconnection: *close\r?$", head, re.I | re.M):
                    c.close()  # the server said so: nothing more may be sent on it
                    c = None
            except (OSError, ConnectionClosed) as e:
                answered = head_seen or c is None or c.buf
                if c:
                    c.close()
                c = None
                if used == 0 or answered:
                    self.count(f"keep-alive connection: {e!r}")
                else:
                    self.count(retry=True)  # closed while idle, request unanswered: retry
        if c:
            c.close()


@pytest.mark.parametrize("reuseport", ["on", "off"])
def test_ten_reloads_under_load_lose_nothing(ferry, site, reuseport):
    f = master(ferry, site, workers=2, config={"reuseport": reuseport, "status-path": "/status"})
    with Load(f.port, site.files["/index.html"]) as load:
        time.sleep(0.3)
        for gen in range(2, 12):
            old = children(f.pid)
            f.send_signal(signal.SIGHUP)
            wait_until(lambda: f.stderr.count("reloaded: generation") == gen - 1, T(10),
                       message=f"reload {gen - 1}:\n{f.stderr[-2000:]}")
            wait_until(lambda: not set(old) & set(children(f.pid)), T(10), message="the old workers to exit")
            time.sleep(0.1)
    assert load.errors == [], load.errors[:10]
    # no idle keep-alive connection closed under its client (test_drain.py)
    assert load.retries == 0, load.retries
    assert load.done > 100, load.done
    s = status_json(f)
    assert s["generation"] == 11 and s["reloads"] == 10
    # counters survive the workers that made them
    assert s["requests"]["2xx"] >= load.done


def test_reload_applies_a_new_docroot_and_address(ferry, site, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_bytes(b"new docroot\n")
    port = free_port()
    conf = {"docroot": str(site.root), "listen": f"127.0.0.1:{port}"}
    f = master(ferry, site, workers=2, listen=False, port=port, config=conf, docroot=None)
    f.send_signal(signal.SIGHUP)  # the same configuration again: the port stays
    wait_until(lambda: "reloaded: generation 2" in f.stderr, T(10))
    port2 = free_port()
    write_config(f.config_path, {"docroot": str(other), "listen": [f"127.0.0.1:{f.port}", f"127.0.0.1:{port2}"]})
    f.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded: generation 3" in f.stderr, T(10))
    wait_until(lambda: fetch(f.port, "/").body == b"new docroot\n", T(5))
    assert fetch(port2, "/").body == b"new docroot\n"


def test_reload_with_a_bad_configuration_keeps_serving(ferry, site):
    f = master(ferry, site, workers=2, config={"docroot": str(site.root)}, docroot=None)
    workers = children(f.pid)
    write_config(f.config_path, "docroot = /srv\nmax-connections = lots\n")
    f.send_signal(signal.SIGHUP)
    wait_until(lambda: "still serving with the old configuration" in f.stderr, T(5))
    assert f"{f.config_path}:2: max-connections" in f.stderr
    # a configuration that parses but cannot start: the new workers fail, the old serve on
    write_config(f.config_path, {"docroot": str(site.root / "no-such-dir")})
    f.send_signal(signal.SIGHUP)
    wait_until(lambda: f.stderr.count("still serving with the old configuration") == 2, T(10))
    assert "reload failed" in f.stderr and "no-such-dir" in f.stderr
    wait_until(lambda: children(f.pid) == workers, T(5), message="only the old workers")
    assert fetch(f.port, "/sub/page.txt").status == 200


def test_sighup_in_single_process_mode_is_ignored_with_a_warning(ferry, site):
    f = ferry(docroot=site.root)
    f.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloading needs the master process" in f.stderr, T(5))
    assert fetch(f.port, "/index.html").status == 200


# --- logs ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["master", "single"])
def test_sigusr1_reopens_the_logs(ferry, site, tmp_path, mode):
    access, error = tmp_path / "access.log", tmp_path / "error.log"
    conf = {"access-log": str(access), "error-log": str(error)}
    if mode == "master":
        f = ferry(docroot=site.root, master=True, config=conf, args=["-w", "2", *AS_ROOT])
        wait_until(lambda: error.exists() and "listening on" in error.read_text(), T(10))
        wait_until(lambda: len(children(f.pid)) == 2, T(10))
    else:
        f = ferry(docroot=site.root, config=conf)
    for _ in range(4):
        assert fetch(f.port, "/index.html").status == 200
    wait_until(lambda: access.exists() and access.read_text().count("\n") == 4, T(5), message="4 log lines")
    access.rename(tmp_path / "access.log.1")
    error.rename(tmp_path / "error.log.1")
    f.send_signal(signal.SIGUSR1)
    wait_until(lambda: error.exists() and "log files reopened" in error.read_text(), T(5))
    for _ in range(6):
        assert fetch(f.port, "/sub/page.txt").status == 200
    wait_until(lambda: access.exists() and access.read_text().count("\n") == 6, T(5),
               message="6 lines in the new access log")
    assert (tmp_path / "access.log.1").read_text().count("\n") == 4
    assert "/sub/page.txt" not in (tmp_path / "access.log.1").read_text()


# --- privileges ---------------------------------------------------------------

@pytest.fixture
def public_site():
    """A docroot any user may read (pytest's own directories are 0700)."""
    base = Path(tempfile.mkdtemp(prefix="ferry-ops-", dir="/tmp"))
    os.chmod(base, 0o755)
    (base / "www").mkdir(mode=0o755)
    (base / "www" / "index.html").write_bytes(b"public\n")
    os.chmod(base / "www" / "index.html", 0o644)
    (base / "empty").mkdir(mode=0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_workers_drop_to_user_and_group(ferry, site, public_site):
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
    nogroup = int(subprocess.run(["getent", "group", "nogroup"], capture_output=True, text=True)
                  .stdout.split(":")[2])
    f = master(ferry, site, workers=2, root_ok=False, docroot=public_site / "www",
               config={"user": "nobody", "group": "nogroup"})
    assert fetch(f.port, "/index.html").body == b"public\n"
    for w in children(f.pid):
        uid, gid, groups = proc_ids(w)
        assert uid == [nobody] * 4, uid       # real, effective, saved, filesystem
        assert gid == [nogroup] * 4, gid
        assert set(groups) <= {nogroup}, groups
    assert proc_ids(f.pid)[0][0] == 0       # the master stays root: it binds and reopens


@needs_root
def test_chroot_and_privileges_in_single_process_mode(ferry, site, public_site):
    f = ferry(docroot=public_site / "www", args=["-u", "nobody"], env=no_leak_check_env(),
              config={"chroot": str(public_site / "empty"), "backend": "sendfile"})
    assert fetch(f.port, "/index.html").body == b"public\n"
    assert os.readlink(f"/proc/{f.pid}/root") == str(public_site / "empty")
    assert proc_ids(f.pid)[0][0] != 0


@needs_root
def test_chroot_without_proc_refuses_an_async_backend(public_site):
    conf = public_site / "chroot.conf"
    write_config(conf, {"chroot": str(public_site / "empty")})
    r = subprocess.run([ferry_bin(), "-X", "-u", "nobody", "-r", str(public_site / "www"), "-l",
                        f"127.0.0.1:{free_port()}", "-B", "io-uring", "-c", str(conf)],
                       capture_output=True, text=True, timeout=T(10), env=no_leak_check_env())
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "needs /proc inside it" in r.stderr, r.stderr


@needs_root
@pytest.mark.parametrize("single", [False, True])
def test_serving_as_root_is_refused_unless_asked_for(site, single):
    args = ["-r", str(site.root), "-l", f"127.0.0.1:{free_port()}", "-w", "2"] + (["-X"] if single else [])
    r = run_ferry(args)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "refusing to serve as root" in r.stderr, r.stderr


def test_unknown_user_is_one_line(site):
    r = run_ferry(["-r", str(site.root), "-l", f"127.0.0.1:{free_port()}", "-u", "no-such-user-xyz"])
    assert r.returncode == 1
    assert r.stderr == "ferry: user no-such-user-xyz: no such user\n"
    r = run_ferry(["-t", "-u", "no-such-user-xyz"])
    assert r.returncode == 1 and "no such user" in r.stderr


# --- systemd ------------------------------------------------------------------

def activation_preexec(sock_fd, nfds=1):
    """In the child: the socket at fd 3 and LISTEN_PID naming the child."""
    def preexec():
        os.dup2(sock_fd, 3)
        os.set_inheritable(3, True)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = str(nfds)
    return preexec


@pytest.mark.parametrize("mode", ["master", "single"])
def test_socket_activation_by_hand(ferry, site, mode):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        port = s.getsockname()[1]
        unused = free_port()
        args = ["-w", "2", *AS_ROOT] if mode == "master" else []
        f = ferry(start=False, docroot=site.root, listen=False, port=port, master=mode == "master",
                  config={"listen": f"127.0.0.1:{unused}"}, args=args,
                  preexec_fn=activation_preexec(s.fileno()), pass_fds=(3,))
        f.start()
    # the passed socket is served, the configured address is not
    assert fetch(port, "/index.html").body == site.files["/index.html"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", unused), timeout=1).close()
    if mode == "master":
        wait_serving(f, 2)
        assert "one shared socket" in f.stderr
        for _ in range(10):
            assert fetch(port, "/a.bin").status == 200
        f.send_signal(signal.SIGHUP)  # the activated socket outlives a reload
        wait_until(lambda: "reloaded: generation 2" in f.stderr, T(10))
        assert fetch(port, "/index.html").status == 200


def test_socket_activation_rejects_what_is_not_a_listening_socket(tmp_path, site):
    r = subprocess.run([ferry_bin(), "-X", *AS_ROOT, "-r", str(site.root)], capture_output=True, text=True,
                       timeout=T(10), preexec_fn=activation_preexec(0), stdin=subprocess.DEVNULL, pass_fds=(3,))
    assert r.returncode == 1
    assert r.stderr == "ferry: socket activation: descriptor 3 is not a listening TCP socket\n"


def test_systemd_socket_activate(ferry, site):
    if not shutil.which("systemd-socket-activate"):
        tool_missing("systemd-socket-activate is not installed (scripts/deps.sh installs systemd)")
    port = free_port()
    f = ferry(docroot=site.root, listen=False, port=port, master=True, args=["-w", "2", *AS_ROOT],
              wrapper=["systemd-socket-activate", "-l", f"127.0.0.1:{port}"])
    assert fetch(port, "/index.html").body == site.files["/index.html"]
    wait_serving(f, 2)


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_ready_reloading_stopping(ferry, site, tmp_path, abstract):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"@ferry-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    sock.settimeout(T(10))
    env = dict(os.environ, NOTIFY_SOCKET=name)
    f = master(ferry, site, workers=2, env=env)

    def message():
        return sock.recv(4096).decode()

    ready = message()
    assert "READY=1" in ready and f"MAINPID={f.pid}" in ready, ready
    f.send_signal(signal.SIGHUP)
    assert "RELOADING=1" in message()
    assert "READY=1" in message()
    f.stop()
    assert "STOPPING=1" in message()
    sock.close()


def test_pid_file_written_and_removed(ferry, site, tmp_path):
    pid_file = tmp_path / "ferry.pid"
    f = master(ferry, site, workers=2, config={"pid-file": str(pid_file)})
    wait_until(pid_file.exists, T(5))
    assert pid_file.read_text() == f"{f.pid}\n"
    f.stop()
    assert not pid_file.exists()


# --- the status endpoint --------------------------------------------------------

@pytest.mark.parametrize("workers", [0, 2])  # 0: -X
def test_status_in_both_formats(ferry, site, workers):
    conf = {"status-path": "/status"}
    f = master(ferry, site, workers=workers, config=conf) if workers else ferry(docroot=site.root, config=conf)
    before = status_json(f)
    for _ in range(5):
        assert fetch(f.port, "/a.bin").status == 200
    for _ in range(3):
        assert fetch(f.port, "/missing").status == 404

    def counted():  # a worker counts a response once it is sent: the next request may be quicker
        s = status_json(f)
        return s if s["requests"]["4xx"] - before["requests"]["4xx"] == 3 else None
    s = wait_until(counted, T(5), message="the responses counted")
    assert s["requests"]["2xx"] - before["requests"]["2xx"] >= 5 + 1  # and the first status page
    assert s["bytes"]["2xx"] - before["bytes"]["2xx"] >= 5 * 1024
    assert s["requests"]["total"] == sum(s["requests"][k] for k in ("1xx", "2xx", "3xx", "4xx", "5xx"))
    assert s["connections"]["writing"] >= 1          # this very request
    assert s["connections"]["accepted"] >= 10
    assert s["workers"]["configured"] == max(workers, 1)
    assert s["backend"]["name"] == "auto"  # the default
    assert len(s["processes"]) == max(workers, 1)
    assert s["pid"] == f.pid

    r = stats(f, fmt="prometheus")
    assert r.header("content-type").startswith("text/plain; version=0.0.4")
    p = parse_prometheus(r.body.decode())
    assert p[("ferry_requests_total", 'class="4xx"')] == s["requests"]["4xx"]
    assert p[("ferry_requests_total", 'class="2xx"')] >= s["requests"]["2xx"]
    assert p[("ferry_connections_accepted_total", "")] >= s["connections"]["accepted"]
    assert p[("ferry_workers", "")] == max(workers, 1)
    for state in ("reading", "writing", "idle"):
        assert ("ferry_connections", f'state="{state}"') in p
    # what Prometheus sends, without ?format
    with f.client() as c:
        r = c.request("/status", headers={"Accept": "application/openmetrics-text;version=1.0.0,"
                                                    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"})
    assert r.status == 200 and r.body.startswith(b"# HELP ferry_")
    assert fetch(f.port, "/status?format=xml").status == 400


def test_status_counts_idle_connections_and_the_async_backend(ferry, site):
    f = ferry(docroot=site.root, backend="io-uring",
              config={"status-path": "/status", "aio-direct": "on", "keepalive-timeout": "1h"})
    assert fetch(f.port, "/huge.bin").status == 200
    idle = [f.client() for _ in range(3)]
    try:
        for c in idle:
            assert c.request("/index.html").status == 200
        s = status_json(f)
        assert s["connections"]["idle"] >= 3, s["connections"]
        assert s["connections"]["active"] >= 4
        b, pool = s["backend"], s["buffer_pool"]
        assert b["name"] == "io-uring"
        assert b["reads_completed"] + b["fallbacks"] + b["cache_hit_blocks"] > 0, b
        assert b["reads_submitted"] == b["reads_completed"] and b["reads_in_flight"] == 0
        assert pool["buffers"] == 64 and pool["buffer_size"] == 1 << 20 and pool["in_use"] == 0, pool
        p = parse_prometheus(stats(f, fmt="prometheus").body.decode())
        assert p[("ferry_buffer_pool_buffers", 'state="free"')] == 64
        assert ("ferry_backend_reads_in_flight", "") in p and ("ferry_backend_queue_length", "") in p
    finally:
        for c in idle:
            c.close()


def test_status_is_off_by_default(server1):
    assert fetch(server1.port, "/status").status == 404


def test_status_refuses_networks_not_allowed(ferry, site):
    f = ferry(docroot=site.root, config={"status-path": "/_ferry/status", "status-allow": "10.0.0.0/8 ::1"})
    r = fetch(f.port, "/_ferry/status")
    assert r.status == 403
    assert fetch(f.port, "/_ferry/status", method="POST").status in (403, 405)


def test_status_over_ipv6_loopback(ferry, site):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    port = free_port("::1", socket.AF_INET6)
    f = ferry(docroot=site.root, listen=False, port=port, host="::1",
              args=["-l", f"[::1]:{port}"], config={"status-path": "/status"})
    with f.client() as c:
        assert c.request("/status").status == 200


# --- start-up errors ------------------------------------------------------------

def one_line_error(r, *words):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.startswith("ferry: ") and r.stderr.count("\n") == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


@pytest.mark.parametrize("mode", [[], ["-X"]])
def test_port_in_use_is_one_line(site, mode):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_ferry([*mode, *AS_ROOT, "-r", str(site.root), "-l", f"127.0.0.1:{port}"])
    one_line_error(r, f"listen 127.0.0.1:{port}: Address already in use")


@pytest.mark.parametrize("mode", [[], ["-X"]])
def test_missing_docroot_is_one_line(tmp_path, mode):
    r = run_ferry([*mode, *AS_ROOT, "-w", "3", "-r", str(tmp_path / "nope"), "-l", f"127.0.0.1:{free_port()}"])
    one_line_error(r, str(tmp_path / "nope"), "No such file or directory")


def test_pool_dir_not_writable_is_one_line(tmp_path, site):
    conf = tmp_path / "f.conf"
    write_config(conf, {"aio-pool-dir": str(tmp_path / "no-shm")})
    r = run_ferry(["-c", str(conf), *AS_ROOT, "-w", "2", "-B", "linux-aio-sendfile", "-r", str(site.root),
                   "-l", f"127.0.0.1:{free_port()}"])
    one_line_error(r, str(tmp_path / "no-shm"))


# --- make install -----------------------------------------------------------------

def test_make_install_and_uninstall(tmp_path):
    binary = Path(ferry_bin())
    build = binary.parent
    dest = tmp_path / "dest"
    make = ["make", "-s", "-C", str(REPO), f"BUILD={build}", "-o", str(build / "ferry"),
            f"DESTDIR={dest}", "PREFIX=/opt/ferry"]
    r = subprocess.run([*make, "install"], capture_output=True, text=True, timeout=T(60))
    assert r.returncode == 0, r.stdout + r.stderr
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [
        "opt/ferry/lib/systemd/system/ferry.service",
        "opt/ferry/lib/systemd/system/ferry.socket",
        "opt/ferry/sbin/ferry",
        "opt/ferry/share/doc/ferry/config.md",
        "opt/ferry/share/doc/ferry/ferry.conf",
        "opt/ferry/share/man/man5/ferry.conf.5",
        "opt/ferry/share/man/man8/ferry.8",
    ], files
    sbin = dest / "opt/ferry/sbin/ferry"
    assert os.access(sbin, os.X_OK)
    assert subprocess.run([str(sbin), "-V"], capture_output=True, text=True).stdout.startswith("ferry ")
    unit = (dest / "opt/ferry/lib/systemd/system/ferry.service").read_text()
    assert "ExecStart=/opt/ferry/sbin/ferry -c /etc/ferry/ferry.conf" in unit
    assert "Type=notify" in unit and "NoNewPrivileges=yes" in unit and "ProtectSystem=strict" in unit
    assert "@" not in unit.replace("@system-service", "")
    for page in ("share/man/man8/ferry.8", "share/man/man5/ferry.conf.5"):
        if shutil.which("groff"):
            g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(dest / "opt/ferry" / page)],
                               capture_output=True, text=True)
            assert g.returncode == 0 and g.stderr == "", g.stderr
    r = subprocess.run([*make, "uninstall"], capture_output=True, text=True, timeout=T(60))
    assert r.returncode == 0, r.stdout + r.stderr
    assert [p for p in dest.rglob("*") if p.is_file()] == []


def test_shipped_sample_config_documents_every_key():
    conf = (REPO / "doc" / "ferry.conf").read_text()
    ref = (REPO / "doc" / "config.md").read_text()
    man = (REPO / "doc" / "ferry.conf.5").read_text()
    for key in ("workers", "reuseport", "user", "group", "chroot", "pid-file", "status-path", "status-allow"):
        assert re.search(rf"^#? ?{key} = ", conf, re.M), key
        assert f"### {key}" in ref, key
        assert re.search(rf"^\.BI? {re.escape(key.replace('-', chr(92) + '-'))}\b", man, re.M), key
