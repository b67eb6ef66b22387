"""Virtual hosts, aliases, error pages, per-path headers (Cache-Control,
Expires, add-header), follow-symlinks and OPTIONS (issue 5 items 3, 6, 7)."""

import os
import time

import pytest

from helpers import (BACKENDS, CANARY, HTTP_DATE, T, assert_error, build_request, fetch, raw_exchange, run_ferry,
                     write_config)


@pytest.fixture
def sites(tmp_path):
    base = tmp_path / "sites"
    for name in ("default", "example", "wild", "static", "assets", "shared"):
        (base / name).mkdir(parents=True)
        (base / name / "who.txt").write_bytes(name.encode())
    (base / "default" / "404.html").write_bytes(b"<h1>default 404</h1>")
    (base / "example" / "errors").mkdir()
    (base / "example" / "errors" / "404.html").write_bytes(b"<h1>example 404</h1>")
    (base / "example" / "errors" / "403.txt").write_bytes(b"example 403")
    (base / "example" / "private").mkdir()
    (base / "static" / "css").mkdir()
    (base / "static" / "css" / "site.css").write_bytes(b"body{}")
    (base / "assets" / "logo.svg").write_bytes(b"<svg/>")
    (base / "outside.txt").write_bytes(CANARY)
    os.symlink("../outside.txt", base / "example" / "link-out")
    os.symlink("../shared", base / "example" / "shared-link")
    return base


def vhost_config(b):
    return f"""
docroot = {b}/default
error-page = 404 /404.html
alias = /static {b}/static
add-header = X-Top: 1

[path /static/]
cache-control = "public, max-age=3600"
expires = 1h

[path *.css]
cache-control = no-cache
add-header = X-Css: yes

[host example.com www.example.com]
docroot = {b}/example
alias = /static/assets {b}/assets
error-page = 404 /errors/404.html
error-page = 403 /errors/403.txt

[path /private/]
add-header = X-Robots-Tag: noindex

[host *.wild.test]
docroot = {b}/wild
"""


def who(srv, host, path="/who.txt", version="HTTP/1.1"):
    with srv.client() as c:
        c.send(build_request(path, host=host, version=version))
        return c.read_response()


@pytest.fixture(params=BACKENDS)
def vhosts(request, ferry, sites):
    return ferry(backend=request.param, config=vhost_config(sites))


# --- virtual hosts ------------------------------------------------------------------

@pytest.mark.parametrize("host,want", [
    ("example.com", b"example"), ("www.example.com", b"example"), ("EXAMPLE.com", b"example"),
    ("example.com:8080", b"example"), ("example.com.", b"example"), ("a.wild.test", b"wild"),
    ("b.a.wild.test:81", b"wild"), ("wild.test", b"default"), ("other.test", b"default"),
    ("127.0.0.1", b"default"), ("[::1]:80", b"default"), ("xexample.com", b"default")])
def test_host_selects_the_docroot(vhosts, host, want):
    r = who(vhosts, host)
    assert r.status == 200 and r.body == want


def test_http10_without_host_gets_the_default(vhosts):
    r = who(vhosts, None, version="HTTP/1.0")
    assert r.status == 200 and r.body == b"default"


def test_absolute_form_target_names_the_host(vhosts):
    with vhosts.client() as c:
        c.send(b"GET http://example.com/who.txt HTTP/1.1\r\nHost: other.test\r\n\r\n")
        assert c.read_response().body == b"example"


def test_hosts_on_one_connection(vhosts):
    with vhosts.client() as c:
        c.send(build_request("/who.txt", host="example.com") + build_request("/who.txt", host="x.wild.test") +
               build_request("/who.txt", host="nobody"))
        assert [c.read_response().body for _ in range(3)] == [b"example", b"wild", b"default"]


# --- aliases ------------------------------------------------------------------------

def test_alias(vhosts):
    r = who(vhosts, "other.test", "/static/css/site.css")
    assert r.status == 200 and r.body == b"body{}"
    assert who(vhosts, "other.test", "/static/who.txt").body == b"static"
    # a prefix is matched by whole segments
    assert who(vhosts, "other.test", "/staticx/who.txt").status == 404


def test_alias_of_a_host_and_longest_prefix(vhosts):
    # the host's own alias, longer, wins; the top level's still applies
    assert who(vhosts, "example.com", "/static/assets/logo.svg").body == b"<svg/>"
    assert who(vhosts, "example.com", "/static/who.txt").body == b"static"
    assert who(vhosts, "other.test", "/static/assets/logo.svg").status == 404


def test_alias_directory_redirect(vhosts):
    r = who(vhosts, "other.test", "/static")
    assert r.status == 301 and r.header("location") == "/static/"


def test_no_escape_from_an_alias(vhosts):
    for path in ["/static/../outside.txt", "/static/%2e%2e/outside.txt", "/static/..%2foutside.txt"]:
        r = who(vhosts, "other.test", path)
        assert r.status in (400, 404) or r.body == b"default", (path, r)
        assert CANARY not in r.body


# --- error pages ----------------------------------------------------------------------

def test_error_page_of_the_host(vhosts):
    r = who(vhosts, "example.com", "/nope")
    assert r.status == 404 and r.reason == "Not Found"
    assert r.body == b"<h1>example 404</h1>"
    assert r.header("content-type") == "text/html; charset=utf-8"
    r = who(vhosts, "example.com", "/private/")
    assert r.status == 403 and r.body == b"example 403"
    assert r.header("content-type") == "text/plain; charset=utf-8"


def test_error_page_falls_back_to_the_top_level(vhosts):
    """A [host] without its own error page takes the top level's, a path
    looked up in the host's own docroot."""
    assert_error(who(vhosts, "a.wild.test", "/nope"), 404)  # no /404.html there: the built-in page
    (vhosts.workdir / "sites" / "wild" / "404.html").write_bytes(b"wild 404")
    time.sleep(0.05)
    r = who(vhosts, "a.wild.test", "/nope")
    assert r.status == 404 and r.body == b"wild 404"
    assert who(vhosts, "other.test", "/nope").body == b"<h1>default 404</h1>"


def test_error_page_head_and_keepalive(vhosts):
    with vhosts.client() as c:
        head = c.request("/nope", method="HEAD", host="example.com")
        assert head.status == 404 and head.body == b""
        assert int(head.header("content-length")) == len(b"<h1>example 404</h1>")
        assert c.request("/nope", host="example.com").body == b"<h1>example 404</h1>"
        assert c.request("/who.txt", host="example.com").body == b"example"


def test_missing_error_page_falls_back_to_the_built_in_one(ferry, sites):
    srv = ferry(config=f"docroot = {sites}/default\nerror-page = 404 /missing.html\n")
    assert_error(fetch(srv.port, "/nope"), 404)


def test_error_page_for_405_keeps_allow(ferry, sites):
    (sites / "default" / "405.html").write_bytes(b"no such method here")
    srv = ferry(config=f"docroot = {sites}/default\nerror-page = 405 /405.html\n")
    with srv.client() as c:
        r = c.request("/who.txt", method="DELETE")
        assert r.status == 405 and r.body == b"no such method here"
        assert r.header("allow") == "GET, HEAD, OPTIONS"


# --- per-path headers -------------------------------------------------------------

def test_cache_headers_by_prefix_and_extension(vhosts):
    r = who(vhosts, "other.test", "/static/who.txt")
    assert r.header("cache-control") == "public, max-age=3600"
    expires = r.header("expires")
    assert HTTP_DATE.match(expires)
    from email.utils import parsedate_to_datetime
    assert abs(parsedate_to_datetime(expires).timestamp() - (time.time() + 3600)) < 5
    assert r.header("x-top") == "1" and r.header("x-css") is None
    # the later [path *.css] rule wins for Cache-Control; Expires stays
    r = who(vhosts, "other.test", "/static/css/site.css")
    assert r.header("cache-control") == "no-cache" and r.header("expires") is not None
    assert r.header("x-top") == "1" and r.header("x-css") == "yes"
    # nothing matches
    r = who(vhosts, "other.test", "/who.txt")
    assert r.header("cache-control") is None and r.header("expires") is None


def test_headers_of_a_host_path(vhosts):
    (vhosts.workdir / "sites" / "example" / "private" / "p.txt").write_bytes(b"p")
    r = who(vhosts, "example.com", "/private/p.txt")
    assert r.status == 200 and r.header("x-robots-tag") == "noindex" and r.header("x-top") == "1"
    assert who(vhosts, "other.test", "/private/p.txt").header("x-robots-tag") is None


def test_headers_not_on_errors(vhosts):
    r = who(vhosts, "other.test", "/static/nope.css")
    assert r.status == 404 and r.header("x-css") is None and r.header("cache-control") is None


def test_rules_match_the_decoded_path(vhosts):
    r = who(vhosts, "other.test", "/%73tatic/who.txt")
    assert r.body == b"static" and r.header("cache-control") == "public, max-age=3600"


# --- follow-symlinks --------------------------------------------------------------

def test_follow_symlinks_off_refuses_links_out(vhosts):
    r = who(vhosts, "example.com", "/link-out")
    assert r.status in (403, 404) and CANARY not in r.body
    assert who(vhosts, "example.com", "/shared-link/who.txt").status in (403, 404)


def test_follow_symlinks_on(ferry, sites):
    srv = ferry(config=f"[host example.com]\ndocroot = {sites}/example\nfollow-symlinks = on\n"
                       f"[host b.test]\ndocroot = {sites}/example\n")
    assert who(srv, "example.com", "/link-out").body == CANARY
    assert who(srv, "example.com", "/shared-link/who.txt").body == b"shared"
    # the other host, with follow-symlinks left at the default (off), still refuses
    assert who(srv, "b.test", "/link-out").status in (403, 404)
    # and '..' in the request is still refused, whatever symlinks may do
    assert who(srv, "example.com", "/../outside.txt").status in (400, 404)


# --- OPTIONS --------------------------------------------------------------------------

def test_options_star(vhosts):
    with vhosts.client() as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b""
        assert r.header("allow") == "GET, HEAD, OPTIONS"
        assert r.header("content-length") == "0"
        assert c.request("/who.txt").body == b"default"


def test_options_on_a_path(vhosts):
    with vhosts.client() as c:
        r = c.request("/who.txt", method="OPTIONS", host="example.com")
        assert r.status == 200 and r.header("allow") == "GET, HEAD, OPTIONS" and r.body == b""
        r = c.request("/nope", method="OPTIONS", host="example.com")
        assert r.status == 404
        assert c.request("/who.txt", host="example.com").body == b"example"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_get_405_with_allow(vhosts, method):
    with vhosts.client() as c:
        r = c.request("/who.txt", method=method)
        assert_error(r, 405)
        assert r.header("allow") == "GET, HEAD, OPTIONS"
        assert c.request("/who.txt").body == b"default"


# --- configuration ------------------------------------------------------------------

def test_config_check_accepts_sections(sites, tmp_path):
    conf = tmp_path / "v.conf"
    write_config(conf, vhost_config(sites))
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("text,message", [
    ("[host a.test]\n", ":1: [host a.test]: no docroot"),
    ("[host a.test]\ndocroot = /x\nlisten = 80\n", ":3: listen: only allowed at the top level, before any section"),
    ("[path /a]\nalias = /b /c\n", ":2: alias: not allowed in a [path] section"),
    ("[paths /a]\n", ":1: unknown section \"[paths /a]\""),
    ("add-header = Content-Length: 1\n", ":1: add-header: ferry sets Content-Length itself"),
])
def test_config_errors_name_file_line_key(tmp_path, text, message):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert f"{conf}{message}" in r.stderr, r.stderr


def test_missing_docroot_of_a_host_stops_the_start(ferry, sites, tmp_path):
    srv = ferry(start=False, config=f"docroot = {sites}/default\n[host a.test]\ndocroot = {tmp_path}/nope\n")
    srv.start(wait=False)
    assert srv.wait_exit() == 1
    assert "[host a.test] docroot" in srv.stderr and "No such file or directory" in srv.stderr
