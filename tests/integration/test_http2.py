"""HTTP/2 (issue 14): h2 by ALPN over TLS and h2c by prior knowledge, every
feature over h2 (Range, multipart, conditions, virtual hosts by :authority,
precompressed siblings, listings, error pages, the status page, the access
log), many streams on one connection (nghttp), a large cold download on
every backend while small requests on the same connection keep answering,
GOAWAY on shutdown with the stream in flight finishing.

Clients: curl (--http2-prior-knowledge, or plain https, which asks for h2 by
ALPN), nghttp (nghttp2-client), and python3-h2 over sockets (H2Client) where
a test must see frames.  The attacks are in test_http2_attacks.py."""

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from helpers import (BACKENDS, SANITIZED, T, access_log_lines, curl, drop_from_page_cache, parse_access_line,
                     tool_missing, wait_until)

h2 = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402

MiB = 1 << 20
# The cold file every backend sends over h2: 256 MiB as the issue asks
# (FERRY_H2_BIG_MIB sets another size; sanitizer builds default to 32 MiB).
BIG_MIB = int(os.environ.get("FERRY_H2_BIG_MIB", "32" if SANITIZED else "256"))


def sha(data):
    return hashlib.sha256(data).hexdigest()


def need(tool):
    if not shutil.which(tool):
        tool_missing(f"{tool} is not installed")


OPEN_CLIENTS = []


@pytest.fixture(autouse=True)
def close_clients():
    """A test that fails midway leaves no client open: the server's stop
    would wait for it."""
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().sock.close()


class H2Client:
    """An HTTP/2 client on one socket (python3-h2): requests go out as
    streams; events are collected per stream."""

    def __init__(self, port, tls_context=None, sni="localhost", settings=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T(20))
        OPEN_CLIENTS.append(self)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname=sni)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.streams = {}        # id -> {"headers": dict, "data": bytearray, "ended": bool, "reset": code}
        self.goaway = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, authority="localhost", headers=(), method="GET"):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path), *headers]
        self.conn.send_headers(sid, fields, end_stream=True)
        self.streams[sid] = {"headers": None, "data": bytearray(), "ended": False, "reset": None}
        self.flush()
        return sid

    def pump(self, timeout=None):
        """Reads once and handles what came; False when the server closed."""
        self.sock.settimeout(timeout or T(20))
        data = self.sock.recv(1 << 20)
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            self.on_event(ev)
        self.flush()
        return True

    def on_event(self, ev):
        if isinstance(ev, h2.events.ResponseReceived):
            self.streams[ev.stream_id]["headers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            self.streams[ev.stream_id]["data"] += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.streams[ev.stream_id]["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            self.streams[ev.stream_id]["reset"] = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev

    def wait(self, sid, timeout=None):
        deadline = time.monotonic() + (timeout or T(30))
        s = self.streams[sid]
        while not s["ended"] and s["reset"] is None:
            assert time.monotonic() < deadline, f"stream {sid} did not end"
            if not self.pump():
                break
        return s

    def get(self, path, **kw):
        s = self.wait(self.request(path, **kw))
        assert s["ended"], s
        return int(s["headers"][":status"]), s["headers"], bytes(s["data"])

    def close(self):
        self.sock.close()


def h2c(port, path, *args):
    """curl with prior knowledge: (status, headers text, body, http_version)."""
    r = curl("--http2-prior-knowledge", "-D", "-", "-o", "-", "-w", "\n%{http_version}", *args,
             f"http://127.0.0.1:{port}{path}")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    head, _, rest = out.partition(b"\r\n\r\n")
    body, _, version = rest.rpartition(b"\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode(), body, version.decode()


def status_json(port, path="/status"):
    return json.loads(h2c(port, path)[2])


STATUS = "status-path = /status\n"


# --- where h2 is offered --------------------------------------------------------

def test_prior_knowledge_on_a_plain_listener(ferry, site, have_curl):
    f = ferry(docroot=site.root)
    status, head, body, version = h2c(f.port, "/index.html")
    assert (status, version) == (200, "2")
    assert body == site.files["/index.html"]
    assert re.search(r"^content-length: %d\r?$" % len(body), head, re.M | re.I)
    assert "connection:" not in head.lower()


def test_preface_in_pieces(ferry, site):
    """The preface may come a few bytes at a time."""
    f = ferry(docroot=site.root)
    c = H2Client.__new__(H2Client)
    c.sock = socket.create_connection(("127.0.0.1", f.port), timeout=T(10))
    OPEN_CLIENTS.append(c)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.conn.initiate_connection()
    data = c.conn.data_to_send()
    for i in range(0, 30, 5):
        c.sock.sendall(data[i:i + 5])
        time.sleep(0.05)
    c.sock.sendall(data[30:])
    c.streams, c.goaway = {}, None
    status, _, body = c.get("/a.bin")
    assert status == 200 and body == site.files["/a.bin"]
    c.close()


def test_http1_still_served_next_to_h2c(ferry, site, have_curl):
    f = ferry(docroot=site.root)
    r = curl("-o", "/dev/null", "-w", "%{http_version} %{http_code}", f"http://127.0.0.1:{f.port}/a.bin")
    assert r.stdout == b"1.1 200"


def test_h2_by_alpn_over_tls(ferry, site, pki, have_curl):
    leaf = pki.leaf("default.test")
    f = ferry(docroot=site.root, tls=(leaf.chain, leaf.key))
    r = curl("--cacert", str(pki.root), "--resolve", f"default.test:{f.port}:127.0.0.1", "-o", "-",
             "-w", "\n%{http_version}", f"https://default.test:{f.port}/a.bin")
    assert r.returncode == 0, r.stderr
    body, _, version = r.stdout.rpartition(b"\n")
    assert version == b"2" and body == site.files["/a.bin"]
    # A client that offers only http/1.1 gets it.
    r = curl("--http1.1", "--cacert", str(pki.root), "--resolve", f"default.test:{f.port}:127.0.0.1",
             "-o", "/dev/null", "-w", "%{http_version}", f"https://default.test:{f.port}/a.bin")
    assert r.stdout == b"1.1"


def test_http2_off(ferry, site, pki, have_curl):
    leaf = pki.leaf("default.test")
    f = ferry(docroot=site.root, tls=(leaf.chain, leaf.key), config="http2 = off\n")
    r = curl("--cacert", str(pki.root), "--resolve", f"default.test:{f.port}:127.0.0.1", "-o", "/dev/null",
             "-w", "%{http_version}", f"https://default.test:{f.port}/a.bin")
    assert r.stdout == b"1.1"
    g = ferry(docroot=site.root, config="http2 = off\n")
    r = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{g.port}/")
    assert r.returncode != 0 or r.stdout != b"200"  # the preface is not HTTP/1.1


# --- many streams ----------------------------------------------------------------

def test_nghttp_100_concurrent_streams(ferry, tmp_path):
    need("nghttp")
    root = tmp_path / "many"
    root.mkdir()
    files = {}
    for i in range(100):
        files[i] = os.urandom(500 + 997 * i)
        (root / f"f{i}.bin").write_bytes(files[i])
    f = ferry(docroot=root, config=STATUS)
    urls = [f"http://127.0.0.1:{f.port}/f{i}.bin" for i in range(100)]
    r = subprocess.run(["nghttp", "-n", "-s", "-m", "1", *urls], capture_output=True, timeout=T(60))
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    done = re.findall(rb"^\s*\d+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+/f(\d+)\.bin$", r.stdout, re.M)
    assert len(done) == 100 and all(code == b"200" for code, _ in done), r.stdout.decode()[-3000:]
    # The bytes, through python3-h2 on one connection with all 100 streams open at once.
    c = H2Client(f.port)
    sids = {c.request(f"/f{i}.bin"): i for i in range(100)}
    for sid, i in sids.items():
        s = c.wait(sid)
        assert s["headers"][":status"] == "200" and bytes(s["data"]) == files[i], i
    c.close()
    st = status_json(f.port)["http2"]
    assert st["streams"] >= 200 and st["connections"] >= 2


# --- every feature over h2 ---------------------------------------------------------

def test_range_and_multipart(ferry, site):
    f = ferry(docroot=site.root)
    c = H2Client(f.port)
    data = site.files["/big.bin"]
    status, h, body = c.get("/big.bin", headers=[("range", "bytes=100-1099")])
    assert status == 206 and body == data[100:1100]
    assert h["content-range"] == f"bytes 100-1099/{len(data)}"
    status, h, body = c.get("/big.bin", headers=[("range", "bytes=0-9,2000000-2000009")])
    assert status == 206 and h["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(h["content-length"]) == len(body)
    assert data[:10] in body and data[2000000:2000010] in body
    status, h, _ = c.get("/big.bin", headers=[("range", f"bytes={len(data)}-")])
    assert status == 416
    c.close()


def test_conditional_requests(ferry, site):
    f = ferry(docroot=site.root)
    c = H2Client(f.port)
    status, h, _ = c.get("/index.html")
    etag, lm = h["etag"], h["last-modified"]
    status, h, body = c.get("/index.html", headers=[("if-none-match", etag)])
    assert status == 304 and body == b"" and h["etag"] == etag
    status, _, body = c.get("/index.html", headers=[("if-modified-since", lm)])
    assert status == 304 and body == b""
    status, _, _ = c.get("/index.html", headers=[("if-match", '"nope"')])
    assert status == 412
    status, _, body = c.get("/index.html", method="HEAD")
    assert status == 200 and body == b""
    c.close()


def test_virtual_hosts_by_authority(ferry, tmp_path):
    for name in ("a", "b", "default"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "who.txt").write_text(name)
    config = (f"docroot = {tmp_path / 'default'}\n[host a.test]\ndocroot = {tmp_path / 'a'}\n"
              f"[host b.test]\ndocroot = {tmp_path / 'b'}\n")
    f = ferry(config=config)
    c = H2Client(f.port)
    assert c.get("/who.txt", authority="a.test")[2] == b"a"
    assert c.get("/who.txt", authority=f"b.test:{f.port}")[2] == b"b"
    assert c.get("/who.txt", authority="other.test")[2] == b"default"
    c.close()


def test_precompressed_listing_error_pages_status(ferry, tmp_path):
    root = tmp_path / "www"
    (root / "dir").mkdir(parents=True)
    text = b"compress me " * 1000
    (root / "page.txt").write_bytes(text)
    (root / "page.txt.gz").write_bytes(gzip.compress(text))
    (root / "dir" / "x.txt").write_text("x")
    (root / "404.html").write_text("<p>our own 404</p>")
    config = (f"docroot = {root}\n{STATUS}error-page = 404 /404.html\n"
              "[path /]\nprecompressed = on\ndirectory-listing = on\n")
    f = ferry(config=config)
    c = H2Client(f.port)
    status, h, body = c.get("/page.txt", headers=[("accept-encoding", "gzip")])
    assert status == 200 and h["content-encoding"] == "gzip" and gzip.decompress(body) == text
    assert "accept-encoding" in h.get("vary", "").lower()
    status, h, body = c.get("/dir/")
    assert status == 200 and b"x.txt" in body and h["content-type"].startswith("text/html")
    status, _, body = c.get("/missing")
    assert status == 404 and body == b"<p>our own 404</p>"
    status, _, body = c.get("/status")
    assert status == 200 and json.loads(body)["http2"]["streams"] >= 4
    status, _, _ = c.get("/dir/x.txt", method="POST")
    assert status == 405
    c.close()


def test_access_log_says_http2(ferry, site, tmp_path, have_curl):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config=f"access-log = {log}\n")
    h2c(f.port, "/a.bin", "-A", "h2-agent")
    line = access_log_lines(log, 1)[0]
    e = parse_access_line(line)
    assert '"GET /a.bin HTTP/2.0" 200 1024' in line and "h2-agent" in line, (line, e)


def test_urgency_order(ferry, site):
    """RFC 9218: of two downloads asked for together, the more urgent one
    (u=0) is sent first, though asked for second."""
    f = ferry(docroot=site.root)
    big = (1 << 31) - 1
    c = H2Client(f.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: big})
    c.conn.increment_flow_control_window(big - 65535)
    for path in ("/huge.bin", "/big.bin"):  # names known: neither waits for a lookup below
        assert c.get(path, method="HEAD")[0] == 200
    fields = lambda path, u: [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                              (":path", path), ("priority", f"u={u}")]
    low, high = c.conn.get_next_available_stream_id(), None
    c.conn.send_headers(low, fields("/huge.bin", 7), end_stream=True)
    high = c.conn.get_next_available_stream_id()
    c.conn.send_headers(high, fields("/big.bin", 0), end_stream=True)
    for sid in (low, high):
        c.streams[sid] = {"headers": None, "data": bytearray(), "ended": False, "reset": None}
    c.flush()  # both in one write: ferry sees them in the same turn
    c.wait(high)
    assert len(c.streams[high]["data"]) == len(site.files["/big.bin"])
    assert not c.streams[low]["ended"], "the less urgent download finished first"
    # Served in turn, both would have about 3 MiB now; by urgency the
    # other had at most what went while the first was blocked.
    assert len(c.streams[low]["data"]) <= 3 * MiB // 2
    c.wait(low, timeout=T(60))
    assert len(c.streams[low]["data"]) == site.huge_size
    c.close()


# --- the body path ------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_cold_download_with_small_requests_alongside(ferry, site, tmp_path, backend):
    """A large cold file over one stream, intact, while small requests on
    the same connection are answered before it ends."""
    root = tmp_path / "cold"
    root.mkdir()
    big = root / "big.bin"
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with open(big, "wb") as out:
        for i in range(BIG_MIB):
            chunk = i.to_bytes(8, "big") + block[8:]
            out.write(chunk)
            digest.update(chunk)
    (root / "small.txt").write_bytes(b"small\n")
    drop_from_page_cache(big)
    f = ferry(docroot=root, backend=backend, config=STATUS)
    c = H2Client(f.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16 * MiB})
    c.conn.increment_flow_control_window(64 * MiB)
    c.flush()
    got = hashlib.sha256()
    big_sid = c.request("/big.bin")
    small_done = 0
    small_sid = None
    received = 0
    while not c.streams[big_sid]["ended"]:
        assert c.streams[big_sid]["reset"] is None
        assert c.pump(), "connection closed"
        data = c.streams[big_sid]["data"]
        got.update(data)
        received += len(data)
        data.clear()
        if small_sid is None and received > MiB:
            small_sid = c.request("/small.txt")
        if small_sid is not None and small_done < 5 and c.streams[small_sid]["ended"]:
            assert bytes(c.streams[small_sid]["data"]) == b"small\n"
            small_done += 1
            if small_done < 5:
                small_sid = c.request("/small.txt")
    assert received == BIG_MIB * MiB and got.hexdigest() == digest.hexdigest()
    assert small_done >= 1, "no small request was answered while the large one ran"
    c.close()


def test_goaway_on_sigterm_finishes_the_stream(ferry, site):
    """SIGTERM mid-download: GOAWAY (NO_ERROR, the stream's id covered),
    the stream ends whole, then the server exits.  The client reads slowly
    so that the download is under way when the signal comes; frames are
    parsed raw (python3-h2 stops at a GOAWAY)."""
    from hyperframe.frame import DataFrame, Frame, GoAwayFrame
    f = ferry(docroot=site.root)
    big = (1 << 31) - 1
    c = H2Client(f.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: big})
    c.conn.increment_flow_control_window(big - 65535)
    c.flush()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sid = c.request("/huge.bin")
    buf, body, ended, goaway, signalled = b"", 0, False, None, False
    c.sock.settimeout(T(30))
    while True:
        data = c.sock.recv(64 * 1024)
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            if isinstance(frame, DataFrame) and frame.stream_id == sid:
                body += len(frame.data)
                ended = ended or "END_STREAM" in frame.flags
            elif isinstance(frame, GoAwayFrame):
                goaway = frame
        if not signalled and body > 4 * MiB:
            f.send_signal(signal.SIGTERM)
            signalled = True
        elif not signalled:
            time.sleep(0.01)
    assert signalled and ended and body == site.huge_size
    assert goaway is not None and goaway.error_code == 0 and goaway.last_stream_id >= sid
    assert f.wait_exit() == 0


# --- timers -------------------------------------------------------------------------

def read_until_closed(sock, timeout):
    """Everything the server sends until it closes; fails if it does not."""
    sock.settimeout(timeout)
    got = b""
    start = time.monotonic()
    while True:
        data = sock.recv(65536)
        if not data:
            return got, time.monotonic() - start
        got += data


def test_idle_connection_gets_goaway_at_keepalive_timeout(ferry, site):
    f = ferry(docroot=site.root, config="keepalive-timeout = 1s\n")
    c = H2Client(f.port)
    assert c.get("/a.bin")[0] == 200
    got, waited = read_until_closed(c.sock, T(10))
    assert 0.5 < waited < T(5)
    assert b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" in got  # a GOAWAY frame header (8 bytes, type 7, stream 0)


def test_fields_that_never_end_meet_the_header_timeout(ferry, site):
    """HEADERS without END_HEADERS, then silence (or only PINGs, which do
    not restart the clock): the connection closes at header-timeout."""
    from hyperframe.frame import HeadersFrame, PingFrame
    f = ferry(docroot=site.root, config="header-timeout = 1s\nkeepalive-timeout = 30s\n")
    c = H2Client(f.port)
    block = c.conn.encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")])
    frame = HeadersFrame(1)
    frame.data = block
    frame.flags.add("END_STREAM")  # but not END_HEADERS: a CONTINUATION is due
    c.sock.sendall(frame.serialize())
    start = time.monotonic()
    for _ in range(6):
        time.sleep(0.25)
        try:
            c.sock.sendall(PingFrame(0, b"12345678").serialize())
        except OSError:
            break
    _, _ = read_until_closed(c.sock, T(10))
    assert time.monotonic() - start < T(6)


def test_http11_after_http2_is_logged_as_http11(ferry, site, tmp_path, have_curl):
    """Request buffers go from HTTP/2 streams to HTTP/1.1 connections and
    back: each request's protocol is its own (found by the h2 fuzz target)."""
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config=f"access-log = {log}\n")
    h2c(f.port, "/a.bin")
    r = curl("-o", "/dev/null", f"http://127.0.0.1:{f.port}/a.bin")
    assert r.returncode == 0
    lines = access_log_lines(log, 2)
    assert '"GET /a.bin HTTP/2.0"' in lines[0] and '"GET /a.bin HTTP/1.1"' in lines[1], lines
