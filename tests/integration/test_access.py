"""allow = / deny = NETWORK ... (issue 17 item 4): per host and path, by
client address, IPv4 and IPv6 (the server listens on both loopbacks and
the clients come from 127.0.0.1 and ::1), `all`, first match wins; 403
otherwise.  status-allow uses the same code."""

import json
import socket

import pytest

from helpers import (Client, access_log_lines, assert_error, build_request, curl, free_port, parse_access_line,
                     run_ferry, write_config)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    for d in ("internal", "v6only", "blocked", "order1", "order2", "public", "mixed"):
        (root / d).mkdir(parents=True)
        (root / d / "f.txt").write_bytes(d.encode())
    (root / "index.html").write_bytes(b"home")
    (root / "key.secret").write_bytes(b"s3cr3t")
    (root / "errors").mkdir()
    (root / "errors" / "403.html").write_bytes(b"<h1>custom forbidden</h1>")
    other = tmp_path / "other"
    (other / "public").mkdir(parents=True)
    (other / "index.html").write_bytes(b"other home")
    (other / "public" / "f.txt").write_bytes(b"other public")
    return tmp_path


def config(base, log=None):
    return f"""
docroot = {base}/www
status-path = /_status
status-allow = ::1
error-page = 403 /errors/403.html
{f"access-log = {log}" if log else ""}

[path /internal/]
allow = 127.0.0.1
deny = all

[path /v6only/]
allow = ::1

[path /blocked/]
deny = 127.0.0.0/8

[path /order1/]
deny = 127.0.0.1
allow = all

[path /order2/]
allow = all
deny = 127.0.0.1

[path /mixed/]
allow = 10.0.0.0/8 ::1/128 192.168.0.0/16

[path *.secret]
deny = all

[host other.test]
docroot = {base}/other
allow = 127.0.0.0/8

[path /public/]
allow = all
"""


class Dual:
    """One ferry on 127.0.0.1:P4 and [::1]:P6, and a request from either."""

    def __init__(self, ferry, base, log=None):
        self.p6 = free_port("::1", socket.AF_INET6)
        self.srv = ferry(config=config(base, log), args=["-l", f"[::1]:{self.p6}"])

    def get(self, path, v6=False, host="localhost"):
        with (Client(self.p6, host="::1") if v6 else Client(self.srv.port)) as c:
            return c.request(path, host=host)


@pytest.fixture
def dual(ferry, tree):
    return Dual(ferry, tree)


def status_of(dual, path, **kw):
    return (dual.get(path, **kw).status, dual.get(path, v6=True, **kw).status)


@pytest.mark.parametrize("path,v4,v6", [
    ("/index.html", 200, 200),          # no list: everyone
    ("/internal/f.txt", 200, 403),      # allow 127.0.0.1, deny all
    ("/v6only/f.txt", 403, 200),        # an allowlist refuses the rest
    ("/blocked/f.txt", 403, 200),       # a blocklist lets the rest in
    ("/order1/f.txt", 403, 200),        # first match wins: the deny
    ("/order2/f.txt", 200, 200),        # first match wins: the allow
    ("/mixed/f.txt", 403, 200),
    ("/key.secret", 403, 403),
    ("/internal/missing", 404, 403),     # refused before the file is looked at
    ("/v6only/missing", 403, 404),
])
def test_both_loopbacks(dual, path, v4, v6):
    assert status_of(dual, path) == (v4, v6)


def test_the_forbidden_page(dual):
    r = dual.get("/internal/f.txt", v6=True)
    assert r.status == 403 and r.body == b"<h1>custom forbidden</h1>"      # the host's error-page
    r = dual.get("/internal/f.txt")
    assert r.status == 200 and r.body == b"internal"


def test_host_and_path_scopes(dual):
    assert status_of(dual, "/", host="other.test") == (200, 403)
    assert status_of(dual, "/public/f.txt", host="other.test") == (200, 200)
    # the top level's [path] rules come first, the host's list after them and replaces theirs
    assert status_of(dual, "/blocked/x", host="other.test") == (404, 403)


def test_curl_from_both(dual, have_curl):
    r4 = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{dual.srv.port}/v6only/f.txt")
    r6 = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://[::1]:{dual.p6}/v6only/f.txt")
    assert (r4.stdout, r6.stdout) == (b"403", b"200")


def test_status_allow_uses_the_same_lists(dual):
    assert dual.get("/_status").status == 403
    r = dual.get("/_status", v6=True)
    assert r.status == 200
    assert json.loads(r.body)["site"]["denied"] == 1


def test_logged_and_counted(ferry, tree, tmp_path):
    log = tmp_path / "access.log"
    d = Dual(ferry, tree, log)
    d.get("/internal/f.txt", v6=True)
    d.get("/key.secret")
    d.get("/internal/f.txt")
    lines = [parse_access_line(x) for x in access_log_lines(log, 3)]
    assert [(x["target"], x["status"]) for x in lines] == [("/internal/f.txt", 403), ("/key.secret", 403),
                                                           ("/internal/f.txt", 200)]
    assert json.loads(d.get("/_status", v6=True).body)["site"]["denied"] == 2


@pytest.mark.parametrize("text,line,message", [
    ("allow =\n", 1, "allow: needs at least one address, network or all"),
    ("\n[path /x/]\ndeny = 10.0.0.0/8 example.com\n", 3, "deny: \"example.com\" is not an IPv4 or IPv6 address"),
    ("[host a.test]\ndocroot = /\nallow = ::1/200\n", 3, "allow: bad prefix length in \"::1/200\" (want 0 to 128)"),
    ("status-allow = 10.0.0.0/8 nope\n", 1, "status-allow: \"nope\" is not an IPv4 or IPv6 address"),
])
def test_bad_values_name_the_line(tmp_path, text, line, message):
    conf = tmp_path / "bad.conf"
    write_config(conf, text)
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert f"{conf}:{line}: " in r.stderr and message in r.stderr, r.stderr
