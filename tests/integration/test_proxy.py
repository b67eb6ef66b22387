"""Behind a load balancer, the real client (issue 15 item 3b): the PROXY
protocol (v1 and v2, as HAProxy's send-proxy and send-proxy-v2 send it) on a
listener that asks for it, and X-Forwarded-For from the real-ip-from peers.
The access log and the status page's status-allow see the client's address."""

import socket
import struct

from helpers import T, Client, access_log_lines, build_request, free_port

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
