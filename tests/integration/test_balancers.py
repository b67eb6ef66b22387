"""Real components in front of ferry replicas (issue 15 item 5), started on
loopback ports and stopped by PID: HAProxy (dist/haproxy.cfg) with its
health checks on health-path, and Varnish (dist/varnish.vcl) revalidating
against another replica than the one it fetched from."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from helpers import REPO, T, fetch, free_port, tool_missing, wait_until
from test_drain import needs_wrk, wrk, wrk_result
from test_ops import AS_ROOT, children

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
VARNISHD = shutil.which("varnishd") or "/usr/sbin/varnishd"


def need(path, package):
    if not os.access(path, os.X_OK):
        tool_missing(f"{path} is missing (scripts/deps.sh installs {package})")


class Process:
    """A helper daemon in the foreground, stopped by its PID."""

    def __init__(self, argv, log):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def text(self):
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=T(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        d.stop()


def replica(ferry, site, port=None, config=None):
    conf = {"health-path": "/_ferry/health", "drain-delay": "1s"}
    conf.update(config or {})
    kw = {} if port is None else {"listen": False, "port": port, "args": ["-l", f"127.0.0.1:{port}"]}
    f = ferry(docroot=site.root, master=True, config=conf, start=False, **kw)
    f.extra_args = [*f.extra_args, "-w", "1", *AS_ROOT]
    f.start()
    wait_until(lambda: "listening on" in f.stderr and len(children(f.pid)) == 1, T(10), message="a replica serving")
    return f


# --- HAProxy -------------------------------------------------------------------

def start_haproxy(tmp_path, daemons, servers):
    """dist/haproxy.cfg, with loopback ports for its addresses."""
    front = free_port()
    cfg = (REPO / "dist" / "haproxy.cfg").read_text()
    cfg = cfg.replace("bind :80", f"bind 127.0.0.1:{front}")
    lines = [f"    server replica{i + 1} 127.0.0.1:{p}" for i, p in enumerate(servers)]
    cfg = re.sub(r"(?m)^    server replica\d .*\n", "", cfg).rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    check = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    h = Process([HAPROXY, "-db", "-f", str(path)], tmp_path / "haproxy.log")
    daemons.append(h)
    wait_until(lambda: _answers(front), T(10), message="haproxy to answer")
    return h, front


def _answers(port):
    try:
        return fetch(port, "/index.html").status == 200
    except OSError:
        return False


def kill_replica(f):
    """A crash: the master and its workers, SIGKILL, at once."""
    for pid in [f.pid, *children(f.pid)]:
        os.kill(pid, signal.SIGKILL)
    f.proc.wait()
    f.returncode = f.proc.returncode
    wait_until(lambda: not children(f.pid), T(5), message="the workers gone")


def test_haproxy_stop_reload_and_crash_cost_no_client_error(ferry, site, tmp_path, daemons):
    need(HAPROXY, "haproxy")
    needs_wrk()
    reps = [replica(ferry, site) for _ in range(3)]
    h, front = start_haproxy(tmp_path, daemons, [r.port for r in reps])
    time.sleep(1)  # every replica checked UP (rise 2 × inter 300ms)
    results = {}

    # SIGTERM: health 503 at once, HAProxy takes the replica out, then it drains
    load = wrk(front, 3)
    time.sleep(1)
    reps[0].stop(timeout=T(10))
    results["sigterm"] = wrk_result(load)

    # SIGHUP: new workers, the old ones drain
    load = wrk(front, 3)
    time.sleep(1)
    reps[1].send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded: generation" in reps[1].stderr, T(10), message="the reload")
    results["sighup"] = wrk_result(load)

    # SIGKILL and a restart on the same port: HAProxy retries what the crash cut
    load = wrk(front, 4)
    time.sleep(1)
    kill_replica(reps[2])
    time.sleep(0.5)
    reps.append(replica(ferry, site, port=reps[2].port))
    results["sigkill"] = wrk_result(load)

    for phase, r in results.items():
        print(f"haproxy, {phase}: {r['requests']} requests, {r['errors']} errors, {r['non2xx']} non-2xx")
        assert r["requests"] > 500, (phase, r["out"])
        assert r["errors"] == 0 and r["non2xx"] == 0, (phase, r["out"], h.text()[-3000:])
    log = h.text()
    assert re.search(r"replica1 is DOWN", log), log[-3000:]
    assert re.search(r"replica3 is UP", log.split("replica3 is DOWN")[-1]), log[-3000:]


# --- Varnish ----------------------------------------------------------------------

def test_varnish_caches_and_revalidates_against_the_other_replica(ferry, site, tmp_path, daemons):
    need(VARNISHD, "varnish")
    a_root, b_root = tmp_path / "a", tmp_path / "b"
    a_root.mkdir()
    (a_root / "page.html").write_bytes(b"<p>cached by varnish</p>\n")
    subprocess.run(["cp", "-rp", str(a_root), str(b_root)], check=True)  # a replica: same bytes, same mtime
    logs, reps = [], []
    for root in (a_root, b_root):
        log = tmp_path / f"access-{root.name}.log"
        logs.append(log)
        reps.append(ferry(docroot=root, config={"cache-control": "max-age=1", "access-log": str(log),
                                                "health-path": "/_ferry/health"}))
    vcl = (REPO / "dist" / "varnish.vcl").read_text()
    vcl = vcl.replace('.host = "10.0.0.11"; .port = "80";', f'.host = "127.0.0.1"; .port = "{reps[0].port}";')
    vcl = vcl.replace('.host = "10.0.0.12"; .port = "80";', f'.host = "127.0.0.1"; .port = "{reps[1].port}";')
    (tmp_path / "varnish.vcl").write_text(vcl)
    front = free_port()
    workdir = tmp_path / "varnish"
    v = Process([VARNISHD, "-F", "-j", "none", "-n", str(workdir), "-a", f"127.0.0.1:{front}",
                 "-f", str(tmp_path / "varnish.vcl"), "-s", "malloc,32m"], tmp_path / "varnishd.log")
    daemons.append(v)
    wait_until(lambda: _answers_path(front, "/page.html"), T(20), message=f"varnish to answer:\n{v.text()}")

    def backend_lines():
        out = []
        for log in logs:
            lines = log.read_text().splitlines() if log.exists() else []
            out.append([x for x in lines if "/_ferry/health" not in x])  # the probes
        return out

    # hits: ten requests within max-age, one fetch from a replica
    for _ in range(10):
        r = fetch(front, "/page.html")
        assert r.status == 200 and r.body == b"<p>cached by varnish</p>\n"
    time.sleep(1.2)  # the access logs are flushed each second
    first = backend_lines()
    assert sum(len(x) for x in first) == 1, first
    fetched_from = 0 if first[0] else 1
    assert '" 200 ' in first[fetched_from][0]
    # expired: Varnish revalidates (If-None-Match, If-Modified-Since) with the other replica: 304
    time.sleep(1.2)
    r = fetch(front, "/page.html")
    assert r.status == 200 and r.body == b"<p>cached by varnish</p>\n"
    time.sleep(1.2)
    other = backend_lines()[1 - fetched_from]
    assert len(other) == 1 and '"GET /page.html HTTP/1.1" 304 ' in other[0], other
    v.stop()


def _answers_path(port, path):
    try:
        return fetch(port, path).status == 200
    except OSError:
        return False
