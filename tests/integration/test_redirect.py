"""redirect = FROM TO [STATUS] and redirect-host = NAME (issue 17 item 2):
exact paths and prefixes, the query kept, every status, absolute targets;
a [host] that sends every request to another name on the same path."""

import json

import pytest

from helpers import (Client, access_log_lines, build_request, curl, fetch, parse_access_line, run_ferry,
                     write_config)

REASONS = {301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
           308: "Permanent Redirect"}


@pytest.fixture
def sites(tmp_path):
    www = tmp_path / "www"
    (www / "new").mkdir(parents=True)
    (www / "new" / "page.html").write_bytes(b"<p>new page</p>\n")
    (www / "old.html").write_bytes(b"<p>old page, still on disk</p>\n")
    (www / "docs").mkdir()
    (www / "docs" / "index.html").write_bytes(b"<p>docs</p>\n")
    apex = tmp_path / "apex"
    apex.mkdir()
    (apex / "who.txt").write_bytes(b"apex\n")
    return tmp_path


def config(base, log=None):
    return f"""
docroot = {base}/www
status-path = /_status
{f"access-log = {log}" if log else ""}
redirect = /old.html /new/page.html
redirect = /moved/ /new/
redirect = /blog/ https://blog.example.com/posts/ 308
redirect = /found /new/page.html 302
redirect = /see /new/page.html 303
redirect = /temp /new/page.html 307
redirect = /perm /new/page.html 308
redirect = /search /find?src=old
redirect = /install /docs/#install

[path /legacy/]
redirect = /legacy/a /new/page.html

[host www.apex.test]
docroot = {base}/www
redirect-host = apex.test

[host old.apex.test]
docroot = {base}/www
redirect-host = apex.test:8443

[host apex.test]
docroot = {base}/apex
redirect = /old.html /apex-new.html
"""


@pytest.fixture
def server(ferry, sites):
    return ferry(config=config(sites))


def redirect(resp, status, location):
    assert resp.status == status, resp
    assert resp.reason == REASONS[status]
    assert resp.header("location") == location
    assert resp.header("content-type").startswith("text/html")


@pytest.mark.parametrize("path,status,location", [
    ("/old.html", 301, "/new/page.html"),                        # over a file that exists
    ("/old.html?a=1&b=%20", 301, "/new/page.html?a=1&b=%20"),    # the query kept as sent
    ("/moved/", 301, "/new/"),
    ("/moved/page.html", 301, "/new/page.html"),
    ("/moved/a/b%20c/d?x", 301, "/new/a/b%20c/d?x"),             # the rest re-encoded
    ("/blog/2020/hello", 308, "https://blog.example.com/posts/2020/hello"),
    ("/found", 302, "/new/page.html"),
    ("/see", 303, "/new/page.html"),
    ("/temp?t=1", 307, "/new/page.html?t=1"),
    ("/perm", 308, "/new/page.html"),
    ("/search?q=ferry", 301, "/find?src=old&q=ferry"),
    ("/install?v=2", 301, "/docs/?v=2#install"),
    ("/legacy/a", 301, "/new/page.html"),
    ("/%6Fld.html", 301, "/new/page.html"),                      # matched decoded and normalised
    ("/x/../old.html", 301, "/new/page.html"),
])
def test_redirects(server, path, status, location):
    redirect(fetch(server.port, path), status, location)


def test_not_redirected(server):
    assert fetch(server.port, "/moved").status == 404            # a prefix needs its '/'
    assert fetch(server.port, "/old.html.bak").status == 404
    assert fetch(server.port, "/blog").status == 404
    assert fetch(server.port, "/new/page.html").body == b"<p>new page</p>\n"
    r = fetch(server.port, "/docs")                               # the directory redirect as before
    assert r.status == 301 and r.header("location") == "/docs/"


def test_head_and_keep_alive(server):
    with server.client() as c:
        r = c.request("/found", method="HEAD")
        assert r.status == 302 and r.body == b"" and r.header("location") == "/new/page.html"
        r = c.request("/moved/x")
        assert r.status == 301 and b"301 Moved Permanently" in r.body
        assert c.request("/new/page.html").status == 200           # the connection stays usable


def test_curl_follows(server, have_curl):
    r = curl("-L", "-w", "\n%{http_code} %{url_effective} %{num_redirects}", server.url("/moved/page.html?k=v"))
    assert r.returncode == 0, r.stderr
    body, _, info = r.stdout.rpartition(b"\n")
    assert body == b"<p>new page</p>\n"
    assert info.decode() == f"200 {server.url('/new/page.html?k=v')} 1"


def test_a_long_location(server):
    tail = "/".join(["segment%20with%20space"] * 150)        # the Location alone outgrows the 4 KiB head buffer
    r = fetch(server.port, "/moved/" + tail)
    assert r.status == 301 and r.header("location") == "/new/" + tail
    assert fetch(server.port, "/new/page.html").status == 200


def test_redirect_host(server):
    with server.client() as c:
        r = c.request("/who.txt?a=1", host="www.apex.test")
        redirect(r, 301, "//apex.test/who.txt?a=1")              # scheme-relative: the scheme is kept
        r = c.request("/deep/caf%C3%A9%20x", host=f"www.apex.test:{server.port}")
        redirect(r, 301, f"//apex.test:{server.port}/deep/caf%C3%A9%20x")  # the request's port is kept
        r = c.request("/old.html", host="www.apex.test")         # before any redirect of the path
        redirect(r, 301, "//apex.test/old.html")
        r = c.request("/x", host=f"old.apex.test:{server.port}")
        redirect(r, 301, "//apex.test:8443/x")                    # NAME's own port wins
        r = c.request("/old.html", host="apex.test")
        redirect(r, 301, "/apex-new.html")                        # the host's redirect over the top level's
        r = c.request("/who.txt", host="apex.test")
        assert (r.status, r.body) == (200, b"apex\n")


def test_curl_follows_redirect_host(server, have_curl):
    p = server.port
    r = curl("-L", "--resolve", f"www.apex.test:{p}:127.0.0.1", "--resolve", f"apex.test:{p}:127.0.0.1",
             "-w", "\n%{url_effective}", f"http://www.apex.test:{p}/who.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"apex\n\nhttp://apex.test:{p}/who.txt".encode()


def test_logged_and_counted(ferry, sites, tmp_path):
    log = tmp_path / "access.log"
    server = ferry(config=config(sites, log))
    fetch(server.port, "/old.html")
    fetch(server.port, "/blog/x")
    with Client(server.port) as c:
        c.send(build_request("/a", host="www.apex.test"))
        c.read_response()
    fetch(server.port, "/docs")                                   # a directory's 301 is not counted
    assert json.loads(fetch(server.port, "/_status").body)["site"]["redirects"] == 3
    lines = [parse_access_line(x) for x in access_log_lines(log, 4)]
    assert [(x["target"], x["status"]) for x in lines[:4]] == [("/old.html", 301), ("/blog/x", 308), ("/a", 301),
                                                               ("/docs", 301)]


@pytest.mark.parametrize("text,line,message", [
    ("redirect = /a\n", 1, "redirect: needs a path and a target"),
    ("\nredirect = /a /b 399\n", 2, "redirect: \"399\" is not a redirect status"),
    ("redirect = /a javascript:alert(1)\n", 1, "is not a target"),
    ("redirect = / /everything/\n", 1, "a loop"),
    ("redirect-host = a.test\n", 1, "redirect-host: only allowed in a [host] section"),
    ("[host b.test]\ndocroot = /\nredirect-host = *.a.test\n", 3, "is not a host name"),
])
def test_bad_values_name_the_line(tmp_path, text, line, message):
    conf = tmp_path / "bad.conf"
    write_config(conf, text)
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert f"{conf}:{line}: " in r.stderr and message in r.stderr, r.stderr
