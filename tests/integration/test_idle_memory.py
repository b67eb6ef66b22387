"""Idle connections hold no request buffers (issue 16, W6): a keep-alive
connection that waits for its next request keeps only its small lasting
part; the read and head buffers of a request come from a bounded free list
while it is read or answered, and go back when the response ends with
nothing pipelined.  Checked here: the worker's RSS per idle connection,
the status page's request_buffers, and that what a request leaves behind
(pipelined bytes, a head still arriving, a password check's verdict) is
neither lost nor handed to another connection."""

import json
import os
import resource
import shutil
import subprocess
import time

import pytest

from helpers import SANITIZED, T, Client, TLSClient, build_request, fetch, wait_until

MiB = 1 << 20


def status_json(f, client=None):
    if client is None:
        r = fetch(f.port, "/status")
    else:
        r = client.request("/status")
    assert r.status == 200, r
    return json.loads(r.body)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as s:
        for line in s:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def connection_budget(want):
    """As many connections as this process's descriptor limit allows (and
    the server's, which is raised to the same hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return max(100, min(want, soft - 200))


@pytest.mark.skipif(SANITIZED, reason="RSS under the sanitizers measures their shadow memory and quarantine")
def test_idle_keepalive_connections_hold_no_buffers(ferry, site):
    n = connection_budget(2000)
    f = ferry(docroot=site.root, config={"status-path": "/status", "keepalive-timeout": "1h",
                                         "header-timeout": "1h", "max-connections": n + 100})
    for _ in range(20):  # the process's own start-up allocations first
        assert fetch(f.port, "/a.bin").status == 200
    time.sleep(1.2)  # a tick: spares trimmed
    before = rss_kib(f.pid)
    conns = []
    try:
        for i in range(n):
            c = Client(f.port, timeout=T(10))
            conns.append(c)
            if i % 2 == 0:  # half have answered a request, half never sent one
                r = c.request("/a.bin")
                assert r.status == 200 and r.body == site.files["/a.bin"]
        after = rss_kib(f.pid)
        per_conn = (after - before) / n
        # A request's buffers are over 12 KiB (8 KiB read, 4 KiB head, the
        # request struct); an idle connection holds only its link.
        print(f"per idle connection: {per_conn:.2f} KiB ({before} -> {after} KiB, {n} conns)")
        assert per_conn < 1.0, f"{per_conn:.2f} KiB per idle connection ({before} -> {after} KiB, {n} conns)"
        s = status_json(f)
        assert s["connections"]["idle"] >= n, s["connections"]
        rb = s["request_buffers"]
        assert rb["in_use"] == 1, rb  # the status request's own
        assert rb["free"] <= 8 + n // 100, rb
        # Each connection still serves, after waiting without buffers.
        for c in conns[::97]:
            r = c.request("/index.html")
            assert r.status == 200 and r.body == site.files["/index.html"]
    finally:
        for c in conns:
            c.close()


def test_request_buffers_are_given_back_and_the_spares_bounded(ferry, site):
    f = ferry(docroot=site.root, config={"status-path": "/status"})
    # Twenty downloads at once, read slowly enough that all hold buffers.
    clients = [Client(f.port, timeout=T(20), rcvbuf=64 * 1024) for _ in range(20)]
    try:
        for c in clients:
            c.send(build_request("/big.bin"))
        wait_until(lambda: status_json(f)["request_buffers"]["in_use"] >= 20, T(5),
                   message="20 downloads holding buffers")
        for c in clients:
            r = c.read_response()
            assert r.status == 200 and r.body == site.files["/big.bin"]
    finally:
        for c in clients:
            c.close()
    # The next tick frees the spares beyond a few.
    wait_until(lambda: status_json(f)["request_buffers"]["free"] <= 8, T(3), message="spares trimmed")
    rb = status_json(f)["request_buffers"]
    assert rb["in_use"] == 1 and rb["bytes"] > 0, rb


def test_pipelined_and_split_heads_around_idle_time(server1, site):
    f = server1
    with Client(f.port) as c:
        assert c.request("/index.html").status == 200
        time.sleep(0.3)  # idle: no buffers
        # A head that arrives in pieces keeps its bytes between reads.
        c.send(build_request("/sub/page.txt"), segment=7, delay=0.02)
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/sub/page.txt"]
        time.sleep(0.3)
        # Three requests in one write, the third cut in two.
        reqs = build_request("/a.bin") + build_request("/style.css") + build_request("/data.json")
        cut = len(reqs) - 10
        c.send(reqs[:cut])
        time.sleep(0.2)
        c.send(reqs[cut:])
        for path in ("/a.bin", "/style.css", "/data.json"):
            r = c.read_response()
            assert r.status == 200 and r.body == site.files[path], path
        # A request body to drop, then the next request in the same write.
        c.send(build_request("/index.html", method="OPTIONS", headers={"Content-Length": "5"}, body=b"12345")
               + build_request("/index.html"))
        r = c.read_response()
        assert r.status in (200, 204), r
        r = c.read_response()
        assert r.status == 200 and r.body == site.files["/index.html"]
        c.assert_open()


def htpasswd(path, user, password):
    tool = shutil.which("htpasswd")
    assert tool, "htpasswd is not installed (scripts/deps.sh installs apache2-utils)"
    subprocess.run([tool, "-i", "-c", "-2", str(path), user], input=password.encode(), check=True,
                   capture_output=True)


def test_a_password_verdict_stays_with_its_request(ferry, site, tmp_path):
    """The buffers of a request that was let in by its password go to the
    next connection that has bytes: nothing of that verdict may go along."""
    users = tmp_path / "users"
    htpasswd(users, "alice", "wonderland")
    root = tmp_path / "www"
    (root / "private").mkdir(parents=True)
    (root / "private" / "secret.txt").write_bytes(b"the secret\n")
    log = tmp_path / "access.log"
    f = ferry(config=f"docroot = {root}\naccess-log = {log}\n[path /private/]\nauth-basic = Private\n"
                     f"auth-basic-user-file = {users}\n")
    auth = {"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="}  # alice:wonderland
    for _ in range(3):
        with Client(f.port) as a:
            r = a.request("/private/secret.txt", headers=auth)
            assert r.status == 200 and r.body == b"the secret\n"
        # A new connection, its first request too: the same request number.
        with Client(f.port) as b:
            r = b.request("/private/secret.txt")
            assert r.status == 401, r
        with Client(f.port) as a:
            assert a.request("/private/secret.txt", headers=auth).status == 200
            assert a.request("/private/secret.txt").status == 401
    fetch(f.port, "/flush-marker")
    def users_logged():
        lines = log.read_text().splitlines() if log.exists() else []
        return [(line.split()[2], line.split('"')[2].split()[0]) for line in lines]
    wait_until(lambda: len(users_logged()) >= 13, T(5), message="access log lines")
    got = users_logged()[:12]
    assert got == [("alice", "200"), ("-", "401"), ("alice", "200"), ("-", "401")] * 3, got


def test_idle_tls_connections_give_their_buffers_back(ferry, site, pki):
    leaf = pki.leaf("default.test", "ecdsa")
    f = ferry(docroot=site.root, tls=(leaf.chain, leaf.key), config={"status-path": "/status"})
    conns = [TLSClient(f.port) for _ in range(30)]
    try:
        for c in conns:
            r = c.request("/a.bin")
            assert r.status == 200 and r.body == site.files["/a.bin"]
        with TLSClient(f.port) as c:
            s = status_json(f, client=c)
        assert s["connections"]["idle"] >= 30, s["connections"]
        assert s["request_buffers"]["in_use"] == 1, s["request_buffers"]
        for c in conns:
            assert c.request("/index.html").status == 200
    finally:
        for c in conns:
            c.close()
