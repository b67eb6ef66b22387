"""Behind a load balancer, the real client (issue 15 item 3b): the PROXY
protocol (v1 and v2, as HAProxy's send-proxy and send-proxy-v2 send it) on a
listener that asks for it, also before TLS (`listen = ADDR tls
proxy-protocol`), and X-Forwarded-For from the real-ip-from peers.  The
access log, the status page's status-allow, allow/deny and
max-connections-per-ip see the client's address."""

import json
import signal
import socket
import ssl
import struct
import time

import pytest

from helpers import T, Client, ConnectionClosed, access_log_lines, build_request, free_port, tls_context

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, sport=4242, dst="127.0.0.1", dport=80, command=0x21, tlv=b""):
    if ":" in src:
        body = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, "::1")
        fam = 0x21
    else:
        body = socket.inet_aton(src) + socket.inet_aton(dst)
        fam = 0x11
    body += struct.pack("!HH", sport, dport) + tlv
    return V2_SIG + bytes([command, fam]) + struct.pack("!H", len(body)) + body


def proxied(ferry, site, tmp_path, extra=None):
    port = free_port()
    log = tmp_path / "access.log"
    config = {"listen": [f"127.0.0.1:{port} proxy-protocol"], "access-log": str(log),
              "status-path": "/status", "status-allow": "10.0.0.0/8"}
    config.update(extra or {})
    f = ferry(docroot=site.root, listen=False, port=port, config=config)
    return f, log


def logged_addresses(log, n):
    return [line.split()[0] for line in access_log_lines(log, n)]


def exchange(port, data, segment=None):
    with Client(port, timeout=T(5)) as c:
        c.send(data, segment=segment, delay=0.05 if segment else 0)
        return c.read_response()


def test_v1_and_v2_headers_name_the_client(ferry, site, tmp_path):
    f, log = proxied(ferry, site, tmp_path)
    req = build_request("/sub/page.txt")
    assert exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n" + req).body == b"a page in sub\n"
    assert exchange(f.port, b"PROXY TCP6 2001:db8::7 ::1 5000 80\r\n" + req).status == 200
    assert exchange(f.port, v2_header("198.51.100.9", tlv=b"\x04\x00\x01x") + req).status == 200
    assert exchange(f.port, v2_header("2001:db8::8") + req).status == 200
    # a header in pieces, and keep-alive requests after it on the same connection
    with Client(f.port) as c:
        c.send(v2_header("203.0.113.4") + req, segment=7, delay=0.02)
        assert c.read_response().status == 200
        assert c.request("/index.html").status == 200
    # LOCAL (the balancer's own health check) and UNKNOWN keep the real peer
    assert exchange(f.port, v2_header("192.0.2.99", command=0x20) + req).status == 200
    assert exchange(f.port, b"PROXY UNKNOWN\r\n" + req).status == 200
    assert logged_addresses(log, 8) == ["192.0.2.1", "2001:db8::7", "198.51.100.9", "2001:db8::8", "203.0.113.4",
                                        "203.0.113.4", "127.0.0.1", "127.0.0.1"]


def test_connection_without_a_valid_header_is_closed(ferry, site, tmp_path):
    f, log = proxied(ferry, site, tmp_path)
    for data in (build_request("/index.html"), b"PROXY TCP4 999.0.2.1 127.0.0.1 5000 80\r\n",
                 V2_SIG + b"\x31\x11\x00\x0c" + bytes(12)):
        with Client(f.port) as c:
            c.send(data)
            c.assert_closed(T(3))  # no answer at all: not HTTP before the header
    assert exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n" + build_request("/")).status == 200


def test_header_that_stalls_is_closed_at_the_header_timeout(ferry, site, tmp_path):
    """Part of a PROXY header, then nothing: closed without an answer (not
    HTTP yet) once header-timeout passes, as a connection with no header."""
    f, _ = proxied(ferry, site, tmp_path, {"header-timeout": "500ms"})
    for data in (b"PROXY TCP4 192.0.2.1 127.0", V2_SIG[:8], b""):
        with Client(f.port) as c:
            if data:
                c.send(data)
            start = time.monotonic()
            closed, extra = c.wait_closed(T(5))
            assert closed and extra == b"", (data, extra)
            assert 0.4 <= time.monotonic() - start < T(3)
    assert exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n" + build_request("/")).status == 200


def test_status_allow_sees_the_proxied_client(ferry, site, tmp_path):
    f, _ = proxied(ferry, site, tmp_path)
    req = build_request("/status")
    assert exchange(f.port, b"PROXY TCP4 10.1.2.3 127.0.0.1 5000 80\r\n" + req).status == 200
    assert exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n" + req).status == 403


def test_real_ip_from_trusted_peers_only(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"real-ip-from": "127.0.0.0/8", "access-log": str(log),
                                         "status-path": "/status", "status-allow": "192.0.2.0/24"})
    with f.client() as c:
        assert c.request("/index.html", headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.5"}).status == 200
        assert c.request("/index.html").status == 200
        assert c.request("/status", headers={"X-Forwarded-For": "192.0.2.50"}).status == 200
        assert c.request("/status", headers={"X-Forwarded-For": "198.51.100.1"}).status == 403
    untrusted = ferry(docroot=site.root, config={"real-ip-from": "10.0.0.0/8", "access-log": str(tmp_path / "u.log")})
    with untrusted.client() as c:
        assert c.request("/index.html", headers={"X-Forwarded-For": "203.0.113.9"}).status == 200
    assert logged_addresses(log, 4) == ["203.0.113.9", "127.0.0.1", "192.0.2.50", "198.51.100.1"]
    assert logged_addresses(tmp_path / "u.log", 1) == ["127.0.0.1"]


def test_proxy_protocol_then_x_forwarded_for(ferry, site, tmp_path):
    """A CDN in front of the balancer: the PROXY header names the CDN's node,
    which is trusted, and its X-Forwarded-For the client."""
    f, log = proxied(ferry, site, tmp_path, {"real-ip-from": "10.0.0.0/8"})
    req = build_request("/index.html", headers={"X-Forwarded-For": "198.51.100.77"})
    assert exchange(f.port, b"PROXY TCP4 10.9.9.9 127.0.0.1 5000 80\r\n" + req).status == 200
    assert exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n" + req).status == 200
    assert logged_addresses(log, 2) == ["198.51.100.77", "192.0.2.1"]


def test_allow_and_deny_see_the_real_client(ferry, site, tmp_path):
    """allow/deny (core/acl.c, the one access-list code) take the client
    that real-ip-from and the PROXY header name, as status-allow does."""
    f, _ = proxied(ferry, site, tmp_path, {"real-ip-from": "10.0.0.0/8", "deny": "192.0.2.0/24"})
    req = build_request("/index.html")
    assert exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n" + req).status == 403
    assert exchange(f.port, b"PROXY TCP4 198.51.100.1 127.0.0.1 5000 80\r\n" + req).status == 200
    xff = build_request("/index.html", headers={"X-Forwarded-For": "192.0.2.9"})
    assert exchange(f.port, b"PROXY TCP4 10.0.0.1 127.0.0.1 5000 80\r\n" + xff).status == 403
    xff = build_request("/index.html", headers={"X-Forwarded-For": "198.51.100.9"})
    assert exchange(f.port, b"PROXY TCP4 10.0.0.1 127.0.0.1 5000 80\r\n" + xff).status == 200


def test_idle_proxied_connection_keeps_its_client_and_its_count(ferry, site, tmp_path):
    """The PROXY header's client and the max-connections-per-ip count are
    the connection's, not one request's: a keep-alive connection that waits
    without request buffers (issue 16) still counts under its client, is
    logged under it, and, stopping, gets drain-idle-timeout to send again."""
    f, log = proxied(ferry, site, tmp_path, {"max-connections-per-ip": "1", "workers": "1",
                                             "keepalive-timeout": "1h", "drain-idle-timeout": "2s"})
    header = b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n"
    with Client(f.port, timeout=T(10)) as held:
        held.send(header)
        assert held.request("/index.html").status == 200
        time.sleep(0.2)  # idle: its request buffers went back
        r = exchange(f.port, b"PROXY TCP4 10.1.2.3 127.0.0.1 5000 80\r\n" + build_request("/status"))
        assert r.status == 200
        s = json.loads(r.body)
        assert s["request_buffers"]["in_use"] == 1, s["request_buffers"]  # the status request's own
        assert s["connections"]["idle"] >= 1, s["connections"]
        # the same client on a second connection is over its limit
        r = exchange(f.port, header + build_request("/index.html"))
        assert r.status == 503 and r.header("connection") == "close"
        assert held.request("/sub/page.txt").status == 200
        f.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        r = held.request("/sub/page.txt")
        assert r.status == 200 and r.header("connection") == "close"
        held.assert_closed(T(5))
    f.stop(timeout=T(5))
    assert logged_addresses(log, 5) == ["192.0.2.1", "10.1.2.3", "192.0.2.1", "192.0.2.1", "192.0.2.1"]


# --- PROXY header, then TLS ------------------------------------------------------

def tls_proxied(ferry, site, pki, tmp_path, extra=None):
    leaf = pki.leaf("default.test")
    port = free_port()
    log = tmp_path / "access.log"
    config = {"listen": [f"127.0.0.1:{port} proxy-protocol tls"], "access-log": str(log),
              "tls-certificate": str(leaf.chain), "tls-key": str(leaf.key)}
    config.update(extra or {})
    return ferry(docroot=site.root, listen=False, port=port, config=config), log


def tls_exchange(port, header, path="/index.html", together=True):
    """A TLS request through memory BIOs after the PROXY header: with
    `together`, the header and the ClientHello leave in one write (one
    segment), as a balancer's may; else the header alone, in two pieces,
    first.  Returns the response's status line and body, read to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=T(5)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not together:
            sock.sendall(header[:5])
            time.sleep(0.05)
            sock.sendall(header[5:])
            time.sleep(0.05)
            header = b""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = tls_context().wrap_bio(incoming, outgoing, server_hostname="default.test")

        def pump():
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("closed")
            incoming.write(chunk)

        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(header + outgoing.read())
                header = b""
                pump()
        obj.write(build_request(path, headers={"Connection": "close"}))
        sock.sendall(outgoing.read())
        data = b""
        while True:
            try:
                chunk = obj.read(65536)
            except ssl.SSLWantReadError:
                pump()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionClosed):
                break
            if not chunk:  # close_notify
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


@pytest.mark.parametrize("together", [True, False], ids=["one-segment", "header-in-pieces"])
def test_tls_after_the_proxy_header(ferry, site, pki, tmp_path, together):
    """listen = ADDR proxy-protocol tls: the header is taken off the
    connection to its last byte, then the TLS handshake starts; the
    client is the header's source."""
    f, log = tls_proxied(ferry, site, pki, tmp_path)
    v1 = b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 443\r\n"
    assert tls_exchange(f.port, v1, "/sub/page.txt", together) == ("HTTP/1.1 200 OK", b"a page in sub\n")
    assert tls_exchange(f.port, v2_header("2001:db8::5", dport=443), together=together)[0] == "HTTP/1.1 200 OK"
    assert tls_exchange(f.port, v2_header("192.0.2.99", command=0x20), together=together)[0] == "HTTP/1.1 200 OK"
    assert logged_addresses(log, 3) == ["192.0.2.1", "2001:db8::5", "127.0.0.1"]


def test_tls_without_the_proxy_header_is_closed(ferry, site, pki, tmp_path):
    f, _ = tls_proxied(ferry, site, pki, tmp_path)
    with pytest.raises((ssl.SSLError, ConnectionClosed, OSError)):
        tls_exchange(f.port, b"")  # a ClientHello first: not a PROXY header
    for data in (build_request("/index.html"), b"PROXY TCP4 999.0.2.1 127.0.0.1 5000 443\r\n"):
        with Client(f.port) as c:
            c.send(data)
            c.assert_closed(T(3))
    assert tls_exchange(f.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 443\r\n")[0] == "HTTP/1.1 200 OK"


def test_tls_proxied_client_counts_per_ip(ferry, site, pki, tmp_path):
    """max-connections-per-ip counts the header's source; a TLS client over
    the limit is closed (it could not read a plain 503)."""
    f, _ = tls_proxied(ferry, site, pki, tmp_path, {"max-connections-per-ip": "1", "workers": "1"})
    header = b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 443\r\n"
    with socket.create_connection(("127.0.0.1", f.port), timeout=T(5)) as held:
        held.sendall(header)  # counted once its header is read; its handshake never comes
        time.sleep(0.2)
        with pytest.raises((ssl.SSLError, ConnectionClosed, OSError)):
            tls_exchange(f.port, header)
        assert tls_exchange(f.port, b"PROXY TCP4 192.0.2.2 127.0.0.1 5000 443\r\n")[0] == "HTTP/1.1 200 OK"
    assert wait_ok(lambda: tls_exchange(f.port, header)[0] == "HTTP/1.1 200 OK")


def wait_ok(check, seconds=5):
    deadline = time.monotonic() + T(seconds)
    while True:
        try:
            if check():
                return True
        except (ssl.SSLError, ConnectionClosed, OSError):
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
