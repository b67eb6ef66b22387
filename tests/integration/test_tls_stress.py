"""HTTPS under the load the world brings: slow TLS readers that stop, close
or reset in the middle of a record, clients that leave half-way through a
handshake, plain HTTP sent to the TLS port — all at once, while other
clients download whole files and check every byte, with the files evicted
from the page cache now and then.  Every backend; FERRY_STRESS_SECONDS sets
the length (default 8 s each)."""

import hashlib
import json
import os
import random
import socket
import ssl
import struct
import threading
import time

import pytest

from helpers import BACKENDS, T, drop_from_page_cache, hooks_bin, run_stress, stress_tree, wait_until

KiB = 1 << 10
MiB = 1 << 20


def tls_context(cert):
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    return ctx


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def request(path, close=False):
    return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\n" + ("Connection: close\r\n" if close else "") +
            "\r\n").encode()


def read_response(s):
    """A whole response with Content-Length: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(v) for k, v in (line.split(":", 1) for line in lines[1:]) if k.lower() == "content-length")
    while len(body) < length:
        chunk = s.recv(min(1 << 20, length - len(body)))
        if not chunk:
            raise ConnectionError(f"closed after {len(body)} of {length} body bytes")
        body += chunk
    return status, body


def slow_reader(port, ctx, paths, deadline, errors):
    rng = random.Random()
    while time.monotonic() < deadline:
        s = None
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=T(30))
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s = ctx.wrap_socket(raw, server_hostname="localhost")  # raw is detached: use s
            s.sendall(request(rng.choice(paths)))
            until = time.monotonic() + rng.uniform(0.3, 2.0)
            while time.monotonic() < until:
                if not s.recv(rng.choice([100, 4096, 16384])):
                    break
                time.sleep(rng.uniform(0.0, 0.05))
            if rng.random() < 0.5:
                reset(s)  # in the middle of a record, most likely
            else:
                s.close()
        except (OSError, ssl.SSLError) as e:
            errors.append(f"slow reader: {e!r}")
            if s:
                s.close()
            time.sleep(0.1)


def half_handshaker(port, deadline, errors):
    """Sends part of a ClientHello, or plain HTTP, then leaves."""
    rng = random.Random()
    hello_start = bytes.fromhex("160301020001")
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=T(10))
            if rng.random() < 0.5:
                s.sendall(hello_start + os.urandom(rng.randrange(0, 200)))
                time.sleep(rng.uniform(0, 0.2))
                reset(s)
            else:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = s.recv(4096)
                if not answer.startswith(b"HTTP/1.1 400"):
                    errors.append(f"plain HTTP to the TLS port: {answer[:40]!r}")
                s.close()
        except OSError as e:
            errors.append(f"half handshake: {e!r}")
        time.sleep(0.02)


def fetcher(port, ctx, files, deadline, errors):
    rng = random.Random()
    while time.monotonic() < deadline:
        name = rng.choice(list(files))
        try:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=T(60)),
                                 server_hostname="localhost") as s:
                for _ in range(rng.randrange(1, 4)):  # keep-alive: a few responses per connection
                    s.sendall(request("/" + name))
                    status, body = read_response(s)
                    if status != 200 or hashlib.sha256(body).digest() != files[name]:
                        errors.append(f"{name}: status {status}, {len(body)} bytes, wrong content")
                        break
        except (OSError, ssl.SSLError, ConnectionError) as e:
            errors.append(f"{name}: {e!r}")


def status_json(port, ctx):
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=T(10)),
                         server_hostname="localhost") as s:
        s.sendall(request("/status?json", close=True))
        status, body = read_response(s)
    assert status == 200
    return json.loads(body)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_under_slow_vanishing_and_half_finished_clients(ferry, tmp_path, cert, backend):
    root = tmp_path / "www"
    files, seconds = stress_tree(root)
    server = ferry(docroot=root, backend=backend,
                   config={"status-path": "/status", "write-timeout": "5s", "tls-handshake-timeout": "2s"},
                   args=["--tls-cert", str(cert[0]), "--tls-key", str(cert[1])])
    ctx = tls_context(cert[0])
    deadline = time.monotonic() + seconds
    errors = []
    threads = [threading.Thread(target=slow_reader, args=(server.port, ctx, ["/big.bin", "/f4.bin"], deadline,
                                                          errors)) for _ in range(24)]
    threads += [threading.Thread(target=half_handshaker, args=(server.port, deadline, errors)) for _ in range(4)]
    threads += [threading.Thread(target=fetcher, args=(server.port, ctx, files, deadline, errors))
                for _ in range(4)]
    run_stress(server, threads, deadline, root, errors)

    def settled():
        s = status_json(server.port, ctx)
        return s["connections"]["active"] == 1 and s["buffer_pool"]["free"] == s["buffer_pool"]["buffers"]
    wait_until(settled, T(15), interval=0.3, message="connections closed and pool buffers back")
    tls = status_json(server.port, ctx)["tls"]
    assert tls["handshakes"] > 0 and tls["failures"]["plain_http"] > 0 and tls["failures"]["closed"] > 0, tls
    server.stop(timeout=T(20))


@pytest.mark.parametrize("backend", ["sendfile", "auto"])
def test_kernel_tls_road_when_the_kernel_declines(ferry, tmp_path, cert, backend, monkeypatch):
    """Where the kernel offers kernel TLS, the handshake runs on OpenSSL's
    socket BIO; this kernel has no tls module, so OpenSSL cannot turn it on
    and the connection must go on through ferry's BIO: bodies intact,
    keep-alive working, and no connection counted as kernel-encrypted."""
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_TEST_KTLS_ROAD", "1")
    root = tmp_path / "www"
    root.mkdir()
    blobs = {"small.bin": os.urandom(5 * KiB), "big.bin": os.urandom(9 * MiB + 3)}
    for name, blob in blobs.items():
        (root / name).write_bytes(blob)
    drop_from_page_cache(root / "big.bin")
    server = ferry(docroot=root, backend=backend, config={"status-path": "/status"},
                   args=["--tls-cert", str(cert[0]), "--tls-key", str(cert[1])])
    ctx = tls_context(cert[0])
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx.minimum_version = ctx.maximum_version = version
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=T(30)),
                             server_hostname="localhost") as s:
            for name in ("small.bin", "big.bin", "small.bin"):
                s.sendall(request("/" + name))
                assert read_response(s) == (200, blobs[name])
    ctx = tls_context(cert[0])
    tls = status_json(server.port, ctx)["tls"]
    assert tls["handshakes"] >= 3 and tls["ktls_send"] == 0, tls
    server.stop()
