"""HTTP/2 under the load the world brings, over TLS (ALPN h2): clients that
open many streams and read slowly, stop reading with their windows open,
reset streams mid-body, close or reset the connection mid-frame — all at
once, while other clients download whole files on several streams of one
connection and check every byte, with the files evicted from the page
cache now and then.  Every backend; FERRY_STRESS_SECONDS sets the length
(default 8 s each).  At the end every pool buffer and request buffer is
back and the server still answers."""

import hashlib
import json
import random
import socket
import ssl
import struct
import threading
import time

import pytest

from helpers import BACKENDS, T, run_stress, stress_tree, wait_until

h2conn = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402

MiB = 1 << 20


def context(cert):
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    return ctx


class Conn:
    """One HTTP/2 connection over TLS (python3-h2)."""

    def __init__(self, port, ctx, rcvbuf=None, window=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=T(30))
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.h2 = h2conn.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.initiate_connection()
        if window:
            self.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
            self.h2.increment_flow_control_window(window)
        self.flush()
        self.bodies, self.status, self.ended, self.reset_ = {}, {}, set(), set()

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def get(self, path):
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                                   (":path", path)], end_stream=True)
        self.bodies[sid] = hashlib.sha256()
        self.flush()
        return sid

    def pump(self, size=65536, ack=True):
        data = self.sock.recv(size)
        if not data:
            raise ConnectionError("server closed")
        for ev in self.h2.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                self.status[ev.stream_id] = dict(ev.headers)[":status"]
            elif isinstance(ev, h2.events.DataReceived):
                self.bodies[ev.stream_id].update(ev.data)
                if ack:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.reset_.add(ev.stream_id)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise ConnectionError(f"GOAWAY {ev.error_code}")
        self.flush()

    def rst(self, sid):
        if sid not in self.ended | self.reset_:
            self.h2.reset_stream(sid)
            self.reset_.add(sid)
            self.flush()

    def abort(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def slow_reader(port, ctx, paths, deadline, errors):
    """Opens a few streams, reads slowly, then resets some, stops reading,
    closes or resets the connection."""
    rng = random.Random()
    while time.monotonic() < deadline:
        c = None
        try:
            c = Conn(port, ctx, rcvbuf=8192, window=rng.choice([None, 8 * MiB]))
            sids = [c.get(rng.choice(paths)) for _ in range(rng.randrange(1, 6))]
            until = time.monotonic() + rng.uniform(0.3, 2.0)
            while time.monotonic() < until and not set(sids) <= c.ended | c.reset_:
                c.pump(rng.choice([100, 4096, 16384]), ack=rng.random() < 0.8)
                if rng.random() < 0.05:
                    c.rst(rng.choice(sids))
                time.sleep(rng.uniform(0.0, 0.05))
            if rng.random() < 0.5:
                c.abort()  # RST, most likely in the middle of a record
            else:
                c.sock.close()
        except (OSError, ssl.SSLError, ConnectionError, h2.exceptions.ProtocolError) as e:
            if "GOAWAY" in str(e):
                errors.append(f"slow reader: {e!r}")
            if c:
                c.sock.close()
            time.sleep(0.05)


def fetcher(port, ctx, files, deadline, errors):
    """Whole files on several streams of one connection, every byte checked."""
    rng = random.Random()
    while time.monotonic() < deadline:
        try:
            c = Conn(port, ctx, window=16 * MiB)
            want = {c.get("/" + name): name for name in rng.sample(list(files), 3)}
            limit = time.monotonic() + T(60)
            while not set(want) <= c.ended | c.reset_:
                if time.monotonic() > limit:
                    errors.append(f"fetcher: streams {sorted(set(want) - c.ended)} did not end")
                    break
                c.pump()
            for sid, name in want.items():
                if sid in c.reset_ or c.status.get(sid) != "200" or c.bodies[sid].digest() != files[name]:
                    errors.append(f"{name}: status {c.status.get(sid)}, reset {sid in c.reset_}, wrong content")
            c.sock.close()
        except (OSError, ssl.SSLError, ConnectionError, h2.exceptions.ProtocolError) as e:
            errors.append(f"fetcher: {e!r}")


def status_json(port, ctx):
    c = Conn(port, ctx)
    sid = c.get("/status")
    body = b""
    while sid not in c.ended:
        data = c.sock.recv(65536)
        for ev in c.h2.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                body += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                c.ended.add(ev.stream_id)
        c.flush()
    c.sock.close()
    return json.loads(body)


@pytest.mark.parametrize("backend", BACKENDS)
def test_h2_under_slow_resetting_and_vanishing_clients(ferry, tmp_path, cert, backend):
    root = tmp_path / "www"
    files, seconds = stress_tree(root)
    server = ferry(docroot=root, backend=backend,
                   config={"status-path": "/status", "write-timeout": "3s"},
                   args=["--tls-cert", str(cert[0]), "--tls-key", str(cert[1])])
    ctx = context(cert[0])
    deadline = time.monotonic() + seconds
    errors = []
    threads = [threading.Thread(target=slow_reader, args=(server.port, ctx, ["/big.bin", "/f4.bin"], deadline,
                                                          errors)) for _ in range(16)]
    threads += [threading.Thread(target=fetcher, args=(server.port, ctx, files, deadline, errors))
                for _ in range(4)]
    run_stress(server, threads, deadline, root, errors)

    def settled():
        s = status_json(server.port, ctx)
        return (s["connections"]["active"] == 1 and s["buffer_pool"]["free"] == s["buffer_pool"]["buffers"]
                and s["request_buffers"]["in_use"] <= 1)
    wait_until(settled, T(15), interval=0.3, message="connections closed, pool and request buffers back")
    s = status_json(server.port, ctx)["http2"]
    assert s["connections"] > 0 and s["streams"] > 0 and s["resets_received"] > 0, s
    server.stop(timeout=T(20))
