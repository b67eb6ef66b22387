"""Per-client limits for download servers (issue 15 item 4): limit-rate
with limit-rate-after, per [path], paced by the loop's timers; and
max-connections-per-ip (503 beyond it, counted; on a TLS listener, closed)."""

import json
import os
import socket
import threading
import time

import ssl

import pytest

from helpers import (BACKENDS, T, Client, ConnectionClosed, TLSClient, build_request, drop_from_page_cache, fetch,
                     tls_context)

KiB = 1024
MiB = 1 << 20


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "www"
    (root / "slow").mkdir(parents=True)
    data = os.urandom(768 * KiB)
    (root / "slow" / "f.bin").write_bytes(data)
    (root / "fast.bin").write_bytes(os.urandom(4 * MiB))
    return root, data


def timed_get(port, path):
    start = time.monotonic()
    r = fetch(port, path)
    return r, time.monotonic() - start


RATE_CONF = "[path /slow/]\nlimit-rate = 256k\nlimit-rate-after = 128k\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_rate_within_ten_percent(ferry, files, backend):
    root, data = files
    f = ferry(docroot=root, backend=backend,
              config="aio-min-size = 0\naio-block-size = 64k\n" + RATE_CONF)
    drop_from_page_cache(root / "slow" / "f.bin")  # the async backends read it from the disk
    r, took = timed_get(f.port, "/slow/f.bin")
    assert r.status == 200 and r.body == data
    want = (len(data) - 128 * KiB) / (256 * KiB)  # the first 128k at full speed
    assert abs(took - want) <= 0.1 * want, f"{took:.2f}s for {want:.2f}s"
    # other paths are not limited
    r, took = timed_get(f.port, "/fast.bin")
    assert r.status == 200 and took < 1.0


def test_rate_limited_download_does_not_slow_the_others(ferry, files):
    root, data = files
    f = ferry(docroot=root, config="aio-max-inflight = 2\naio-min-size = 0\n" + RATE_CONF)
    for p in (root / "slow" / "f.bin", root / "fast.bin"):
        drop_from_page_cache(p)
    results = []

    def slow():
        results.append(timed_get(f.port, "/slow/f.bin"))
    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # four paced downloads under way, as many as the pool's buffers
    r, took = timed_get(f.port, "/fast.bin")
    assert r.status == 200 and len(r.body) == 4 * MiB
    assert took < 1.0, f"an unlimited download took {took:.2f}s beside paced ones"
    for t in threads:
        t.join()
    want = (len(data) - 128 * KiB) / (256 * KiB)
    for r, took in results:
        assert r.body == data and abs(took - want) <= 0.1 * want, took


def test_range_and_rate_after(ferry, files):
    root, data = files
    f = ferry(docroot=root, config=RATE_CONF)
    start = time.monotonic()
    r = fetch(f.port, "/slow/f.bin", headers={"Range": "bytes=0-131071"})  # all within limit-rate-after
    assert r.status == 206 and r.body == data[:128 * KiB] and time.monotonic() - start < 0.3


def status(port):
    return json.loads(fetch(port, "/status").body)["connections"]


def test_max_connections_per_ip(ferry, files):
    root, _ = files
    f = ferry(docroot=root, config={"max-connections-per-ip": "3", "status-path": "/status"})
    time.sleep(0.3)  # the start-up probe's connection is gone
    held = [Client(f.port) for _ in range(3)]
    try:
        for c in held:
            assert c.request("/slow/f.bin").status == 200
        # a fourth from the same address: 503, and counted
        with Client(f.port) as c:
            c.send(build_request("/slow/f.bin"))
            r = c.read_response()
            assert r.status == 503 and r.header("connection") == "close"
            c.assert_closed(T(3))
        held.pop().close()
        time.sleep(0.2)
        assert status(f.port)["refused_per_ip"] == 1
        # another address is not affected (the loopback network is all ours)
        with socket.create_connection(("127.0.0.1", f.port), source_address=("127.0.0.2", 0)) as s:
            s.sendall(build_request("/sub.txt", headers={"Connection": "close"}))
            got = b""
            while chunk := s.recv(65536):
                got += chunk
            assert got.startswith(b"HTTP/1.1 404 "), got[:100]
    finally:
        for c in held:
            c.close()


def test_max_connections_per_ip_behind_proxy_protocol(ferry, files):
    from helpers import free_port
    root, _ = files
    port = free_port()
    f = ferry(docroot=root, listen=False, port=port,
              config={"listen": f"127.0.0.1:{port} proxy-protocol", "max-connections-per-ip": "1"})
    assert f.running
    one = Client(port)
    try:
        one.send(b"PROXY TCP4 192.0.2.1 127.0.0.1 1 80\r\n")
        assert one.request("/fast.bin", method="HEAD").status == 200
        for src, want in (("192.0.2.1", 503), ("192.0.2.2", 200)):
            with Client(port) as c:
                c.send(f"PROXY TCP4 {src} 127.0.0.1 1 80\r\n".encode())
                assert c.request("/fast.bin", method="HEAD").status == want
    finally:
        one.close()



def tls_get_from(port, source, path):
    """A TLS request from another loopback address; the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=T(5), source_address=(source, 0)) as raw:
        with tls_context().wrap_socket(raw, server_hostname="default.test") as s:
            s.sendall(build_request(path, headers={"Connection": "close"}))
            got = b""
            while chunk := s.recv(65536):
                got += chunk
            return got


def test_max_connections_per_ip_on_a_tls_listener(ferry, files, pki):
    """Over the limit, a TLS connection is closed before its handshake (it
    could not read a plain 503), and counted; another address is served."""
    root, _ = files
    leaf = pki.leaf("default.test")
    f = ferry(docroot=root, listen="config",
              config=f"listen = 127.0.0.1:@PORT@ tls\ntls-certificate = {leaf.chain}\ntls-key = {leaf.key}\n"
                     "max-connections-per-ip = 1\nworkers = 1\nstatus-path = /status\n")
    deadline = time.monotonic() + T(5)
    while True:  # the start-up probe's connection may hold the one slot for a moment
        try:
            held = TLSClient(f.port)
            break
        except (ssl.SSLError, ConnectionClosed, OSError):
            assert time.monotonic() < deadline, "the first TLS connection is refused"
            time.sleep(0.05)
    def refused():
        got = tls_get_from(f.port, "127.0.0.3", "/status")
        return json.loads(got.partition(b"\r\n\r\n")[2])["connections"]["refused_per_ip"]

    with held:
        assert held.request("/fast.bin", method="HEAD").status == 200
        before = refused()
        with pytest.raises((ssl.SSLError, ConnectionClosed, OSError)):
            with TLSClient(f.port) as c:
                c.request("/fast.bin", method="HEAD")
        assert tls_get_from(f.port, "127.0.0.2", "/fast.bin").startswith(b"HTTP/1.1 200 ")
        assert refused() == before + 1
