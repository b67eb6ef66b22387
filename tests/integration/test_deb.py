"""The Debian package (issue 15 item 8): make deb builds it with debhelper,
lintian finds no error; its contents; then it is installed with dpkg -i,
the installed binary serves with the installed configuration on a test
port, and the package is purged again."""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import REPO, T, fetch, free_port, tool_missing, wait_until

WANT = [
    "./usr/sbin/ferry", "./etc/ferry/ferry.conf", "./etc/logrotate.d/ferry",
    "./lib/systemd/system/ferry.service", "./lib/systemd/system/ferry.socket",
    "./usr/share/man/man8/ferry.8.gz", "./usr/share/man/man5/ferry.conf.5.gz",
    "./usr/share/doc/ferry/copyright", "./usr/share/doc/ferry/config.md.gz", "./usr/share/doc/ferry/ferry.conf.gz",
    "./usr/share/doc/ferry/README.md.gz", "./usr/share/doc/ferry/examples/haproxy.cfg",
    "./usr/share/doc/ferry/examples/varnish.vcl", "./var/log/ferry/",
]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    for tool in ("dpkg-buildpackage", "dh", "lintian"):
        if not shutil.which(tool):
            tool_missing(f"{tool} is not installed (scripts/deps.sh installs debhelper, lintian)")
    build = tmp_path_factory.mktemp("debbuild")
    r = subprocess.run(["make", "-C", str(REPO), "deb", f"BUILD={build}"], capture_output=True, text=True,
                       timeout=T(600))
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    debs = list((build / "deb").glob("ferry_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_contents_and_conffiles(deb):
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    paths = [line.split()[5] for line in listing.splitlines()]
    for p in WANT:
        assert p in paths, f"{p} is not in the package:\n{listing}"
    assert not [p for p in paths if p.startswith("./var/www")]  # Debian policy: the admin's, not the package's
    conffiles = subprocess.run(["dpkg-deb", "-I", str(deb), "conffiles"], capture_output=True, text=True,
                               check=True).stdout.split()
    assert "/etc/ferry/ferry.conf" in conffiles
    control = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Depends"], capture_output=True,
                             text=True, check=True).stdout
    assert "Package: ferry" in control and "Version: 0.1.0" in control and "adduser" in control
    lint = subprocess.run(["lintian", "--fail-on", "error", str(deb)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def installed(package):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True)
    return "install ok installed" in r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="dpkg -i needs root")
def test_install_serve_purge(deb):
    if installed("ferry"):
        pytest.fail("a ferry package is installed on this machine already: not touching it")
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd runs here: installing would start ferry.service on port 80 for real")
    user_existed = _user_exists("ferry")
    html_existed = Path("/var/www/html").exists()
    site = Path(tempfile.mkdtemp(prefix="ferry-deb-"))  # readable by the ferry user, unlike pytest's tmp
    proc = None
    try:
        r = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True, timeout=T(120))
        assert r.returncode == 0, r.stdout + r.stderr
        assert _user_exists("ferry"), "postinst made no ferry user"
        assert Path("/var/www/html").is_dir()
        assert subprocess.run(["/usr/sbin/ferry", "-t", "-c", "/etc/ferry/ferry.conf"]).returncode == 0
        site.chmod(0o755)
        (site / "index.html").write_text("<p>served by the installed ferry</p>\n")
        (site / "index.html").chmod(0o644)
        port = free_port()
        proc = subprocess.Popen(["/usr/sbin/ferry", "-c", "/etc/ferry/ferry.conf", "-l", f"127.0.0.1:{port}",
                                 "-r", str(site), "-w", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def answers():
            try:
                return fetch(port, "/")
            except OSError:
                return None
        resp = wait_until(answers, T(10), message="the installed ferry to answer")
        assert resp.status == 200 and resp.body == b"<p>served by the installed ferry</p>\n"
        workers = [p for p in _children(proc.pid)]
        assert workers and all(_uid(p) == pwd.getpwnam("ferry").pw_uid for p in workers)
        time.sleep(1.2)  # the access log is flushed each second
        assert "GET / HTTP/1.1" in Path("/var/log/ferry/access.log").read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=T(10)) == 0
        proc = None
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        r = subprocess.run(["dpkg", "--purge", "ferry"], capture_output=True, text=True, timeout=T(120))
        shutil.rmtree(site, ignore_errors=True)
        if not user_existed and _user_exists("ferry"):
            subprocess.run(["deluser", "--system", "--quiet", "ferry"], capture_output=True)
        if not html_existed:
            for d in ("/var/www/html", "/var/www"):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
    assert r.returncode == 0, r.stdout + r.stderr
    assert not installed("ferry")
    assert not Path("/usr/sbin/ferry").exists() and not Path("/etc/ferry").exists()
    assert not Path("/var/log/ferry").exists()


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
    return out


def _uid(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return -1
