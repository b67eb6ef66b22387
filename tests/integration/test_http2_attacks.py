"""HTTP/2 attacks against a prior-knowledge h2c ferry (doc/config.md, "HTTP/2
limits"): each is sent as hand-made frames (hyperframe, HPACK from hpack) on
a plain socket, and must get the documented answer, be counted on the status
page, and leave the server serving other clients at full speed (a normal
client on python3-h2 fetches a file in a couple of seconds).

Every test is bounded: a burst of frames, a few seconds of reading."""

import json
import os
import select
import socket
import struct
import time
from collections import defaultdict
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              PriorityFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from helpers import SANITIZED, T, drop_from_page_cache, fetch, wait_until

KiB = 1 << 10
MiB = 1 << 20
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §7
PROTOCOL_ERROR = 0x1
REFUSED_STREAM = 0x7
CANCEL = 0x8
ENHANCE_YOUR_CALM = 0xB

INITIAL_WINDOW_SIZE = SettingsFrame.INITIAL_WINDOW_SIZE


# --- a client of hand-made frames ----------------------------------------------

class Stream:
    def __init__(self):
        self.headers = None       # the response's fields, {name: value} (str)
        self.data = bytearray()
        self.ended = False        # END_STREAM seen
        self.reset = None         # RST_STREAM's error code

    @property
    def status(self):
        return int(self.headers[":status"]) if self.headers else None


class RawH2:
    """One h2c connection (prior knowledge) whose frames the test makes:
    send() writes hyperframe frames as they are, pump() reads the server's
    frames and keeps what they say per stream.  The server's SETTINGS are
    acknowledged as a client does, unless ack=False."""

    def __init__(self, port, settings=None, rcvbuf=None, ack=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(T(5))
        self.sock.connect(("127.0.0.1", port))
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.eof = False
        self.ack = ack
        self.streams = defaultdict(Stream)
        self.goaways = []         # GoAwayFrame
        self.pings = 0            # PING ACKs received
        self.server_settings = None
        self.block = None         # (stream, bytes) of a header block in CONTINUATIONs
        self.sock.sendall(PREFACE + SettingsFrame(0, settings or {}).serialize())

    def close(self):
        self.sock.close()

    def send(self, *frames):
        """Writes the frames; False when the server has closed meanwhile."""
        try:
            self.sock.sendall(b"".join(f.serialize() for f in frames))
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def fields(self, path, method="GET", extra=()):
        return self.enc.encode([(":method", method), (":scheme", "http"), (":authority", "localhost"),
                                (":path", path), *extra])

    def request(self, sid, path, end_stream=True, extra=()):
        flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
        return HeadersFrame(sid, self.fields(path, extra=extra), flags=flags)

    # reading

    def _fill(self, timeout):
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return True
        try:
            chunk = self.sock.recv(256 * KiB)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _frame(self, deadline):
        """The next frame, None at EOF, or "timeout"."""
        while True:
            if len(self.buf) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) >= 9 + length:
                    frame.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if not self._fill(left):
                return None

    def _headers(self, sid, block):
        fields = self.dec.decode(block)
        self.streams[sid].headers = dict(fields)

    def _take(self, frame):
        sid = frame.stream_id
        if isinstance(frame, (HeadersFrame, ContinuationFrame)):
            data = (self.block[1] if self.block and isinstance(frame, ContinuationFrame) else b"") + frame.data
            if "END_HEADERS" in frame.flags:
                self.block = None
                self._headers(sid, data)
            else:
                self.block = (sid, data)
            if "END_STREAM" in frame.flags:
                self.streams[sid].ended = True
        elif isinstance(frame, DataFrame):
            self.streams[sid].data += frame.data
            if "END_STREAM" in frame.flags:
                self.streams[sid].ended = True
        elif isinstance(frame, RstStreamFrame):
            self.streams[sid].reset = frame.error_code
        elif isinstance(frame, GoAwayFrame):
            self.goaways.append(frame)
        elif isinstance(frame, PingFrame) and "ACK" in frame.flags:
            self.pings += 1
        elif isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            self.server_settings = dict(frame.settings)
            if self.ack:
                self.send(SettingsFrame(0, flags=["ACK"]))

    def pump(self, until=lambda: False, timeout=None):
        """Reads frames until until() holds, EOF, or the timeout; returns until()."""
        deadline = time.monotonic() + (timeout if timeout is not None else T(5))
        while not until():
            frame = self._frame(deadline)
            if frame is None or frame == "timeout":
                break
            self._take(frame)
        return until()

    def wait_closed(self, timeout=None):
        """Reads until the server closes; True if it did within the timeout."""
        self.pump(lambda: self.eof, timeout)
        return self.eof

    def goaway_codes(self):
        return [g.error_code for g in self.goaways]


# --- the others -------------------------------------------------------------

def h2_get(port, path, timeout=None):
    """A normal client (python3-h2, big windows) on a fresh connection: the
    response's status and body."""
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16 * MiB})
    conn.increment_flow_control_window(64 * MiB)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                            (":path", path)], end_stream=True)
    status, body, done = None, bytearray(), False
    deadline = time.monotonic() + (timeout or T(5))
    with socket.create_connection(("127.0.0.1", port), timeout=T(5)) as s:
        s.sendall(conn.data_to_send())
        while not done:
            left = deadline - time.monotonic()
            assert left > 0, f"{path}: no complete response in time ({len(body)} bytes)"
            s.settimeout(left)
            data = s.recv(256 * KiB)
            assert data, f"{path}: connection closed after {len(body)} bytes"
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    done = True
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise AssertionError(f"{path}: {ev}")
            s.sendall(conn.data_to_send())
    return status, bytes(body)


def assert_serves_others(f, path, expected):
    """Ferry still runs, and a fresh client gets a file at full speed."""
    assert f.running, f"ferry died:\n{f.stderr[-3000:]}"
    start = time.monotonic()
    status, body = h2_get(f.port, path)
    took = time.monotonic() - start
    assert status == 200 and body == expected, (status, len(body))
    assert took < T(2), f"{path} took {took:.2f}s"
    assert f.running


def status(f):
    r = fetch(f.port, "/status")
    assert r.status == 200, r.status
    return json.loads(r.body)


def h2_counters(f):
    return status(f)["http2"]


def wait_counter(f, before, key, at_least, timeout=None):
    """Waits until the http2 counter `key` has grown by at_least; its growth."""
    grown = {}

    def check():
        grown[key] = h2_counters(f)[key] - before[key]
        return grown[key] >= at_least
    wait_until(check, timeout or T(3), interval=0.05,
               message=f"http2.{key} to grow by {at_least} (grew by {grown.get(key)})")
    return grown[key]


def vm_kib(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


@pytest.fixture
def h2srv(ferry, site):
    def make(**config):
        cfg = {"status-path": "/status"}
        cfg.update(config)
        return ferry(docroot=site.root, config=cfg)
    return make


# --- 1. rapid reset (CVE-2023-44487) -------------------------------------------

def test_rapid_reset(h2srv, site):
    """3000 requests each reset at once (one write of 78 KB): GOAWAY
    ENHANCE_YOUR_CALM, the connection closed, the resets counted; streams
    above the GOAWAY's last stream are not served (RFC 9113 §6.8), and the
    burst takes no more memory than the concurrent streams allow."""
    f = h2srv()
    h2_get(f.port, "/big.bin")  # the process's peak memory after a normal transfer
    hwm0 = vm_kib(f.pid, "VmHWM")
    before = h2_counters(f)
    c = RawH2(f.port)
    frames = []
    for i in range(3000):
        sid = 1 + 2 * i
        frames += [c.request(sid, "/a.bin"), RstStreamFrame(sid, error_code=CANCEL)]
    c.send(*frames)
    closed = c.wait_closed(T(5))
    c.close()
    grown = vm_kib(f.pid, "VmHWM") - hwm0
    assert c.goaway_codes()[:1] == [ENHANCE_YOUR_CALM], c.goaway_codes()[:5]
    assert closed, "the connection stays open after a rapid reset"
    assert wait_counter(f, before, "resets_received", 1000) >= 1000
    now = h2_counters(f)
    assert now["floods"] - before["floods"] <= 1, \
        f"one connection counted as {now['floods'] - before['floods']} floods"
    assert len(c.goaways) <= 2, f"{len(c.goaways)} GOAWAY frames for one flood"
    last = c.goaways[0].last_stream_id
    served = now["streams"] - before["streams"]
    assert served <= (last + 1) // 2, f"{served} requests started, the GOAWAY said up to stream {last}"
    if not SANITIZED:  # ASan's quarantine keeps what is freed: its peak says nothing
        assert grown < 12 * 1024, f"the burst raised ferry's peak memory by {grown} KiB"
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 2. CONTINUATION flood (CVE-2024-27316 and kin) ----------------------------

def test_continuation_flood(h2srv, site):
    """HEADERS without END_HEADERS, then 500 CONTINUATIONs of small fields
    (far under max-request-header-size): more than 8 is a flood."""
    f = h2srv()
    before = h2_counters(f)
    c = RawH2(f.port)
    field = hpack.NeverIndexedHeaderTuple("x-c", "0123456789")
    frames = [HeadersFrame(1, c.fields("/a.bin"), flags=["END_STREAM"])]
    frames += [ContinuationFrame(1, c.enc.encode([field])) for _ in range(500)]
    frames.append(ContinuationFrame(1, c.enc.encode([field]), flags=["END_HEADERS"]))
    c.send(*frames)
    closed = c.wait_closed(T(5))
    c.close()
    assert closed, "the connection stays open after a CONTINUATION flood"
    assert c.streams[1].headers is None, "the flooded request was answered"
    assert len(c.goaways) >= 1 and c.goaways[0].error_code != 0, \
        f"no GOAWAY with an error before the close: {c.goaway_codes()}"
    assert wait_counter(f, before, "protocol_errors", 1) == 1
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 3. oversized header list, HPACK bomb ---------------------------------------

def test_oversized_header_list_gets_431_and_the_connection_goes_on(h2srv, site):
    """12 fields of 1000 bytes (12 KB against the default 8 KiB): 431 on that
    stream; the next request on the connection is served."""
    f = h2srv()
    c = RawH2(f.port)
    big = [hpack.NeverIndexedHeaderTuple(f"x-big-{i}", "v" * 1000) for i in range(12)]
    c.send(c.request(1, "/a.bin", extra=big))
    assert c.pump(lambda: c.streams[1].ended or c.streams[1].reset is not None or c.eof), "no answer"
    assert c.streams[1].reset is None, f"stream reset with {c.streams[1].reset} instead of a 431"
    assert c.streams[1].status == 431, c.streams[1].headers
    assert b"431" in c.streams[1].data
    c.send(c.request(3, "/a.bin"))
    assert c.pump(lambda: c.streams[3].ended or c.eof), "no answer to the next request"
    assert c.streams[3].status == 200 and bytes(c.streams[3].data) == site.files["/a.bin"]
    assert not c.goaways and not c.eof
    c.close()
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


def test_hpack_bomb(h2srv, site):
    """A 4000-byte field put into the HPACK dynamic table once, then named
    by its index 5000 times (2 bytes each): ~20 MB of fields from ~14 KB.
    A 431 (or the stream reset), never a crash; others are served."""
    f = h2srv()
    c = RawH2(f.port)
    bomb = ("x-bomb", "b" * 4000)
    block = c.fields("/a.bin", extra=[bomb])     # inserts it (incremental indexing)
    block += c.enc.encode([bomb] * 5000)         # indexed fields: the entry again and again
    assert len(block) < 16 * KiB, len(block)     # one frame at the default SETTINGS_MAX_FRAME_SIZE
    c.send(HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]))
    assert c.pump(lambda: c.streams[1].ended or c.streams[1].reset is not None or c.eof), "no answer"
    s = c.streams[1]
    assert s.status == 431 or s.reset is not None, (s.headers, s.reset, c.goaway_codes())
    assert f.running
    if s.status == 431:  # the connection goes on, its HPACK table intact
        c.send(c.request(3, "/a.bin"))
        assert c.pump(lambda: c.streams[3].ended or c.eof), "no answer to the next request"
        assert c.streams[3].status == 200 and bytes(c.streams[3].data) == site.files["/a.bin"]
    c.close()
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 4. floods of frames that carry no request -----------------------------------

def flood_frames(c, kind):
    n = 3000
    if kind == "settings":
        return [SettingsFrame(0, {INITIAL_WINDOW_SIZE: 65535}) for _ in range(n)]
    if kind == "settings-oversized":  # one frame of 100 settings: "at most 32 settings a frame"
        body = struct.pack(">HI", INITIAL_WINDOW_SIZE, 65535) * 100
        return [RawBytes(struct.pack(">I", len(body))[1:] + b"\x04\x00" + struct.pack(">I", 0) + body)]
    if kind == "ping":
        return [PingFrame(0, i.to_bytes(8, "big")) for i in range(n)]
    if kind == "empty-data":  # on an open stream: its request never ends
        return [c.request(1, "/a.bin", end_stream=False)] + [DataFrame(1, b"") for _ in range(n)]
    if kind == "window-update":
        return [WindowUpdateFrame(0, window_increment=1) for _ in range(n)]
    if kind == "priority":
        return [PriorityFrame(1 + 2 * (i % 50), depends_on=0, stream_weight=16) for i in range(n)]
    raise ValueError(kind)


class RawBytes:
    def __init__(self, data):
        self.data = data

    def serialize(self):
        return self.data


@pytest.mark.parametrize("kind", ["settings", "settings-oversized", "ping", "empty-data", "window-update",
                                  "priority"])
def test_flood(h2srv, site, kind):
    """3000 frames at once (the budget is 1000 at once, 100 a second):
    GOAWAY ENHANCE_YOUR_CALM, the connection closed (RFC 9113 §5.4.1: after
    a GOAWAY for an error), one flood counted for the one connection."""
    f = h2srv()
    before = h2_counters(f)
    c = RawH2(f.port)
    c.send(*flood_frames(c, kind))
    closed = c.wait_closed(T(5))
    c.close()
    assert c.goaway_codes()[:1] == [ENHANCE_YOUR_CALM], \
        f"{kind} flood: GOAWAY codes {c.goaway_codes()[:5]}, closed {closed}, {c.pings} PING ACKs"
    assert closed, f"{kind} flood: the connection stays open"
    assert wait_counter(f, before, "floods", 1) == 1
    time.sleep(0.2)
    assert h2_counters(f)["floods"] - before["floods"] == 1, "floods counts frames, not connections"
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 5. a client that never reads -----------------------------------------------

def test_pinger_that_never_reads(h2srv, site):
    """PINGs as fast as the socket takes them, nothing read (a 4 KiB receive
    buffer): the server ends the connection within seconds, its memory stays
    bounded, and the end is counted."""
    f = h2srv()
    before = h2_counters(f)
    rss0 = vm_kib(f.pid)
    c = RawH2(f.port, rcvbuf=4096, ack=False)
    c.sock.setblocking(False)
    batch = b"".join(PingFrame(0, i.to_bytes(8, "big")).serialize() for i in range(100))
    sent, ended, pending = 0, False, b""
    deadline = time.monotonic() + T(5)
    while time.monotonic() < deadline and not ended:
        if not pending:
            pending = batch
        _, w, _ = select.select([], [c.sock], [], 0.2)
        if not w:
            continue
        try:
            n = c.sock.send(pending)
        except (BrokenPipeError, ConnectionResetError):
            ended = True
            break
        pending = pending[n:]
        sent += n
    c.sock.setblocking(True)
    growth = vm_kib(f.pid) - rss0
    if not ended:
        ended = c.wait_closed(T(3))
    c.close()
    assert ended, f"the connection is still open after {sent // 17} PINGs never read"
    assert growth < 64 * 1024, f"ferry grew by {growth} KiB"
    def ends():
        now = h2_counters(f)
        return (now["floods"] - before["floods"]) + (now["protocol_errors"] - before["protocol_errors"])
    wait_until(lambda: ends() >= 1, T(3), message="the end counted in floods or protocol_errors")
    assert ends() == 1, f"floods + protocol_errors grew by {ends()} for one connection"
    now = h2_counters(f)
    assert now["goaways"] - before["goaways"] >= 1, "no GOAWAY sent"
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 6. zero-window stall -----------------------------------------------------

def test_zero_window_stall_resets_the_stream_only(h2srv, site):
    """SETTINGS_INITIAL_WINDOW_SIZE 0 and a 3 MiB file: no DATA can go; at
    write-timeout (2s) that stream is reset with CANCEL and counted as a
    stall; the connection answers a PING and a request whose window opens."""
    f = h2srv(**{"write-timeout": "2s"})
    before = h2_counters(f)
    c = RawH2(f.port, settings={INITIAL_WINDOW_SIZE: 0})
    start = time.monotonic()
    c.send(c.request(1, "/big.bin"))
    assert c.pump(lambda: c.streams[1].reset is not None or c.eof, timeout=T(2) + 3), \
        f"stream 1 not reset (headers {c.streams[1].headers}, eof {c.eof})"
    took = time.monotonic() - start
    s = c.streams[1]
    assert s.status == 200, s.headers
    assert len(s.data) == 0, f"{len(s.data)} DATA bytes through a zero window"
    assert s.reset == CANCEL, s.reset
    assert 1.5 < took < T(2) + 2, f"reset after {took:.2f}s"
    assert not c.goaways and not c.eof
    c.send(PingFrame(0, b"stalled?"))
    assert c.pump(lambda: c.pings >= 1), "no PING ACK after the stall"
    c.send(c.request(3, "/a.bin"), WindowUpdateFrame(3, window_increment=64 * KiB))
    assert c.pump(lambda: c.streams[3].ended or c.eof), "no answer on stream 3"
    assert c.streams[3].status == 200 and bytes(c.streams[3].data) == site.files["/a.bin"]
    c.close()
    assert wait_counter(f, before, "stalls", 1) == 1
    assert wait_counter(f, before, "resets_sent", 1) >= 1
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 7. too many streams ------------------------------------------------------

@pytest.mark.parametrize("acked", [False, True], ids=["before-settings-ack", "after-settings-ack"])
def test_too_many_streams_are_refused(h2srv, site, acked):
    """http2-max-concurrent-streams = 16; 26 requests for a 3 MiB file sent
    at once and not read.  Before the client acknowledged the server's
    SETTINGS, the 10 over the limit are refused with RST_STREAM (REFUSED_STREAM)
    and the first 16 answered.  After it, the client broke a limit it knew:
    libnghttp2 ends the connection with GOAWAY PROTOCOL_ERROR (there is no
    way to make it a stream error), counted as a protocol error.  Either way
    others are served."""
    f = h2srv(**{"http2-max-concurrent-streams": "16"})
    before = h2_counters(f)
    c = RawH2(f.port, ack=acked)
    assert c.pump(lambda: c.server_settings is not None), "no SETTINGS from the server"
    assert c.server_settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS) == 16, c.server_settings
    ids = [1 + 2 * i for i in range(26)]
    c.send(*[c.request(sid, "/big.bin") for sid in ids])
    time.sleep(0.5)  # not read meanwhile
    first, rest = ids[:16], ids[16:]
    if acked:
        c.pump(lambda: c.goaways or c.eof, timeout=T(5))
        assert c.goaway_codes() == [PROTOCOL_ERROR], c.goaway_codes()
        assert wait_counter(f, before, "protocol_errors", 1) == 1
        c.close()
        assert_serves_others(f, "/big.bin", site.files["/big.bin"])
        return
    c.pump(lambda: all(c.streams[i].headers for i in first) and
           all(c.streams[i].reset is not None for i in rest) or c.eof, timeout=T(3))
    assert not c.goaways, \
        f"GOAWAY {c.goaway_codes()} (last stream {c.goaways[0].last_stream_id}, {c.goaways[0].additional_data})"
    refused = {i: c.streams[i].reset for i in rest}
    assert all(code in (REFUSED_STREAM, PROTOCOL_ERROR) for code in refused.values()), refused
    answered = {i: c.streams[i].status for i in first}
    assert all(s == 200 for s in answered.values()), answered
    assert all(c.streams[i].reset is None for i in first), {i: c.streams[i].reset for i in first}
    assert wait_counter(f, before, "resets_sent", 10) >= 10
    c.send(PingFrame(0, b"still?\0\0"))
    assert c.pump(lambda: c.pings >= 1), "the connection does not answer a PING"
    c.close()
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])


# --- 8. a reset download gives its buffers back ---------------------------------

@pytest.fixture
def huge_tree(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    files = {"huge.bin": os.urandom(64 * MiB), "small.bin": os.urandom(200 * KiB)}
    for name, blob in files.items():
        (root / name).write_bytes(blob)
        drop_from_page_cache(root / name)
    return root, files


@pytest.mark.parametrize("backend", ["auto", "linux-aio-sendfile"])
def test_reset_download_frees_the_pool(ferry, huge_tree, backend):
    """A 64 MiB download (not in the page cache) held by the default 64 KiB
    window, then RST_STREAM: the pool buffers and the request buffer come
    back; the connection serves its next stream."""
    root, files = huge_tree
    f = ferry(docroot=root, backend=backend, config={"status-path": "/status"})
    s0 = status(f)
    buffers = s0["buffer_pool"]["buffers"]
    assert buffers > 0, s0["buffer_pool"]
    before = s0["http2"]
    c = RawH2(f.port)
    c.send(c.request(1, "/huge.bin"))
    assert c.pump(lambda: c.streams[1].status is not None), "no response head"
    assert c.streams[1].status == 200
    seen = {}

    def pool_used():
        s = status(f)
        seen.update(s)
        return s["buffer_pool"]["in_use"] >= 1 and s["request_buffers"]["in_use"] >= 2
    wait_until(pool_used, T(5), interval=0.1,
               message=f"the download to hold pool buffers: {seen.get('buffer_pool')} {seen.get('request_buffers')}")
    c.send(RstStreamFrame(1, error_code=CANCEL))

    def freed():
        s = status(f)
        seen.update(s)
        return s["buffer_pool"]["free"] == buffers and s["request_buffers"]["in_use"] <= 1
    wait_until(freed, T(5), interval=0.1,
               message=f"buffers back: {seen.get('buffer_pool')} {seen.get('request_buffers')}")
    assert wait_counter(f, before, "resets_received", 1) == 1
    c.pump(lambda: c.eof, timeout=0.3)  # what the server sent meanwhile
    assert not c.eof and not c.goaways
    c.send(c.request(3, "/small.bin"), WindowUpdateFrame(0, window_increment=1 * MiB),
           WindowUpdateFrame(3, window_increment=1 * MiB))
    assert c.pump(lambda: c.streams[3].ended or c.eof), "no answer on stream 3"
    assert c.streams[3].status == 200 and bytes(c.streams[3].data) == files["small.bin"]
    c.close()
    assert_serves_others(f, "/small.bin", files["small.bin"])


# --- an idle connection ----------------------------------------------------------

def test_idle_connection_gets_goaway_at_keepalive_timeout(h2srv, site):
    """doc/config.md: "An idle connection gets GOAWAY at keepalive-timeout."
    One request, then nothing: GOAWAY NO_ERROR after 1s, the connection
    closed, and ferry still there."""
    f = h2srv(**{"keepalive-timeout": "1s"})
    c = RawH2(f.port)
    c.send(c.request(1, "/a.bin"))
    assert c.pump(lambda: c.streams[1].ended), "no answer"
    assert bytes(c.streams[1].data) == site.files["/a.bin"]
    start = time.monotonic()
    closed = c.wait_closed(T(4))
    took = time.monotonic() - start
    c.close()
    assert closed, "the idle connection stays open"
    assert c.goaway_codes() == [0], c.goaway_codes()
    assert 0.5 < took < T(1) + 1.5, f"closed after {took:.2f}s"
    time.sleep(0.2)
    assert f.running, f"ferry died (exit {f.proc.poll()}) at the idle connection's keepalive-timeout"
    assert_serves_others(f, "/big.bin", site.files["/big.bin"])
