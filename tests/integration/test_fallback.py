"""fallback = /index.html (issue 17 item 1): a request for a file that does
not exist is answered with the fallback file, 200 and its own validators,
so a single-page application's deep links load it.  Not for 403s, not for
directories that exist; per path, per host, through aliases; HEAD and
conditional requests behave as for the file itself."""

import json
import os

import pytest

from helpers import (BACKENDS, Client, T, access_log_lines, assert_error, build_request, curl, fetch,
                     parse_access_line, run_ferry, write_config)

INDEX = b"<!DOCTYPE html>\n<title>spa</title><div id=app></div><script src=/assets/app.js></script>\n"
APP_INDEX = b"<!DOCTYPE html>\n<title>admin app</title>\n"
OTHER_INDEX = b"<!DOCTYPE html>\n<title>other host</title>\n"


@pytest.fixture
def spa(tmp_path):
    root = tmp_path / "www"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "app.js").write_bytes(b"console.log('app');\n")
    (root / "assets" / "app.css").write_bytes(b"body{}\n")
    (root / "empty-dir").mkdir()
    (root / "admin").mkdir()
    (root / "admin" / "index.html").write_bytes(APP_INDEX)
    (root / "dir-as-fallback").mkdir()
    (tmp_path / "outside.txt").write_bytes(b"outside\n")
    os.symlink("../outside.txt", root / "link-outside")
    other = tmp_path / "other"
    other.mkdir()
    (other / "main.html").write_bytes(OTHER_INDEX)
    lib = tmp_path / "lib"
    (lib / "ui").mkdir(parents=True)
    (lib / "ui" / "shell.html").write_bytes(b"<p>shell from an alias</p>\n")
    return tmp_path


def spa_config(base, paths="", **extra):
    text = f"""
docroot = {base}/www
fallback = /index.html
status-path = /_status
alias = /lib {base}/lib
"""
    for k, v in extra.items():
        text += f"{k.replace('_', '-')} = {v}\n"
    return text + f"""
[path /admin/]
fallback = /admin/index.html

[path /api/]
fallback = off

[path /widgets/]
fallback = /lib/ui/shell.html

[path /broken/]
fallback = /no-such-file.html

[path /dirfb/]
fallback = /dir-as-fallback
{paths}
[host other.test]
docroot = {base}/other
fallback = /main.html
"""


@pytest.fixture(params=BACKENDS)
def server(request, ferry, spa):
    return ferry(backend=request.param, config=spa_config(spa))


def index_etag(server):
    r = fetch(server.port, "/index.html")
    assert r.status == 200 and r.body == INDEX
    return r.header("etag"), r.header("last-modified")


@pytest.mark.parametrize("path", ["/", "/deep/link", "/users/42/edit", "/missing.html", "/with%20space/x",
                                  "/a/b/c/", "/index.html/", "/assets/missing.js", "/assets/gone.css",
                                  "/empty-dir/missing"])
def test_deep_links_get_the_fallback(server, path):
    etag, modified = index_etag(server)
    r = fetch(server.port, path)
    assert r.status == 200, (path, r)
    assert r.body == INDEX
    assert r.header("content-type").startswith("text/html")
    assert r.header("content-length") == str(len(INDEX))
    assert r.header("etag") == etag and r.header("last-modified") == modified


def test_curl_follows_a_deep_link(server, have_curl):
    r = curl("-i", server.url("/some/route?tab=2"))
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == INDEX


def test_existing_files_and_directories_are_served_as_always(server):
    assert fetch(server.port, "/assets/app.js").body == b"console.log('app');\n"
    assert_error(fetch(server.port, "/empty-dir/"), 403)        # a directory that exists: not missing
    r = fetch(server.port, "/empty-dir")
    assert r.status == 301 and r.header("location").endswith("/empty-dir/")
    assert_error(fetch(server.port, "/link-outside"), 403)      # refused, not missing


def test_head_and_conditional_requests(server):
    etag, modified = index_etag(server)
    with server.client() as c:
        r = c.request("/deep/link", method="HEAD")
        assert r.status == 200 and r.body == b""
        assert r.header("content-length") == str(len(INDEX)) and r.header("etag") == etag
        r = c.request("/deep/link", headers={"If-None-Match": etag})
        assert r.status == 304 and r.body == b"" and r.header("etag") == etag
        r = c.request("/deep/link", headers={"If-Modified-Since": modified})
        assert r.status == 304
        r = c.request("/deep/link", headers={"If-None-Match": '"other"'})
        assert r.status == 200 and r.body == INDEX
        r = c.request("/deep/link", headers={"If-Match": '"other"'})
        assert_error(r, 412)
        r = c.request("/deep/link", headers={"Range": "bytes=0-14"})
        assert r.status == 206 and r.body == INDEX[:15]


def test_per_path_settings(server):
    assert fetch(server.port, "/admin/users/7").body == APP_INDEX
    assert_error(fetch(server.port, "/api/v1/missing"), 404)           # fallback = off
    assert fetch(server.port, "/widgets/clock").body == b"<p>shell from an alias</p>\n"
    assert_error(fetch(server.port, "/broken/x"), 404)                  # the fallback is missing too
    assert_error(fetch(server.port, "/dirfb/x"), 404)                   # the fallback is a directory


def test_virtual_hosts_have_their_own(server):
    with server.client() as c:
        r = c.request("/x/y", host="other.test")
        assert (r.status, r.body) == (200, OTHER_INDEX)
        r = c.request("/x/y", host="localhost")
        assert (r.status, r.body) == (200, INDEX)


def test_extension_rule_turns_it_off(ferry, spa):
    server = ferry(config=spa_config(spa, paths="[path *.js *.css]\nfallback = off\n"))
    assert_error(fetch(server.port, "/assets/missing.js"), 404)
    assert_error(fetch(server.port, "/x.CSS"), 404)
    assert fetch(server.port, "/x.html").body == INDEX
    assert fetch(server.port, "/x").body == INDEX


def test_pipelined_fallbacks_in_order(server):
    paths = ["/a", "/assets/app.js", "/b/c", "/api/none", "/admin/x", "/d"]
    with Client(server.port, timeout=T(10)) as c:
        c.send(b"".join(build_request(p) for p in paths))
        got = [c.read_response() for _ in paths]
    assert [r.status for r in got] == [200, 200, 200, 404, 200, 200]
    assert got[0].body == INDEX and got[2].body == INDEX and got[5].body == INDEX
    assert got[4].body == APP_INDEX


@pytest.mark.parametrize("backend", ["io-uring", "auto"])
def test_the_fallback_name_is_looked_up_off_the_loop(ferry, spa, backend):
    server = ferry(backend=backend, config=spa_config(spa, open_file_cache_ttl="1h"))

    def lookups():
        return json.loads(fetch(server.port, "/_status").body)["backend"]["lookups"]

    assert fetch(server.port, "/route/one").body == INDEX
    assert lookups() == 2          # the missing name, then index.html
    assert fetch(server.port, "/route/two").body == INDEX
    assert lookups() == 3          # index.html is in the open-file cache now


def test_logged_and_counted(ferry, spa, tmp_path):
    log = tmp_path / "access.log"
    server = ferry(config=spa_config(spa, access_log=log))
    for p in ("/one", "/two", "/index.html", "/api/x"):
        fetch(server.port, p)
    status = json.loads(fetch(server.port, "/_status").body)
    assert status["site"]["fallbacks"] == 2
    lines = [parse_access_line(x) for x in access_log_lines(log, 5)]
    assert [(x["target"], x["status"]) for x in lines[:4]] == [("/one", 200), ("/two", 200),
                                                               ("/index.html", 200), ("/api/x", 404)]
    prom = fetch(server.port, "/_status?format=prometheus").body.decode()
    assert "ferry_fallback_responses_total 2\n" in prom


@pytest.mark.parametrize("value,message", [
    ("index.html", "\"index.html\" does not start with '/'"),
    ("/", "\"/\" names a directory"),
    ("/app/", "\"/app/\" names a directory"),
    ("/a/../index.html", "not a normalised path"),
    ("/index.html?x=1", "a character a plain path cannot"),
    ("/%69ndex.html", "a character a plain path cannot"),
])
def test_bad_values_name_the_line(tmp_path, value, message):
    conf = tmp_path / "bad.conf"
    write_config(conf, f"docroot = {tmp_path}\n\n[path /x/]\nfallback = {value}\n")
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert f"{conf}:4: fallback: " in r.stderr and message in r.stderr, r.stderr


def test_allowed_in_every_scope(tmp_path):
    conf = tmp_path / "ok.conf"
    write_config(conf, f"docroot = {tmp_path}\nfallback = /index.html\n[path /x/]\nfallback = off\n"
                       f"[host a.test]\ndocroot = {tmp_path}\nfallback = /a.html\n[path *.js]\nfallback = off\n")
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
