"""Hidden files (issue 13, part 8): a request path with a segment that
starts with '.' (/.git/config, /a/.env) gets the very 404 of a missing file,
whatever its encoding, unless `hidden-files = allow` covers it; /.well-known/
is served.  Aliases, error pages, index files, precompressed siblings and
directory listings are checked against the same rule."""

import gzip
import html
import re

import pytest

from helpers import BACKENDS, assert_error, build_request, fetch, run_ferry

GIT_CONFIG = b"[remote \"origin\"]\n\turl = https://user:secret@example.com/repo.git\n"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    (root / ".git" / "refs").mkdir(parents=True)
    (root / ".git" / "config").write_bytes(GIT_CONFIG)
    (root / ".git" / "HEAD").write_bytes(b"ref: refs/heads/main\n")
    (root / ".env").write_bytes(b"DB_PASSWORD=hunter2\n")
    (root / ".env.gz").write_bytes(gzip.compress(b"DB_PASSWORD=hunter2\n"))
    (root / "a").mkdir()
    (root / "a" / ".env").write_bytes(b"A_SECRET=1\n")
    (root / "a" / "ok.txt").write_bytes(b"ok\n")
    (root / "x").mkdir()
    (root / ".well-known" / "acme-challenge").mkdir(parents=True)
    (root / ".well-known" / "acme-challenge" / "x").write_bytes(b"x.token-thumbprint")
    (root / ".well-known" / "security.txt").write_bytes(b"Contact: mailto:security@example.com\n")
    (root / ".well-known" / ".secret").write_bytes(b"not under the exemption\n")
    (root / "index.html").write_bytes(b"<p>root</p>\n")
    (root / "app.js").write_bytes(b"console.log(1);\n")
    (root / "app.js.gz").write_bytes(gzip.compress(b"console.log(1);\n"))
    return root


def same_as_missing(srv, path, missing="/no-such-file", method="GET"):
    """The response for path is byte for byte that of a missing file (but
    for Date): nothing tells whether path exists."""
    with srv.client() as c:
        got = c.request(path, method=method)
        want = c.request(missing, method=method)
    assert_error(got, 404, head=method == "HEAD")

    def strip(r):
        return [(n.lower(), v) for n, v in r.headers if n.lower() != "date"], r.body

    assert strip(got) == strip(want), (path, got, want)
    return got


# --- refused by default -------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_git_config_is_404_by_default(ferry, tree, backend):
    srv = ferry(docroot=tree, backend=backend)
    for method in ("GET", "HEAD"):
        r = same_as_missing(srv, "/.git/config", method=method)
        assert GIT_CONFIG not in r.body
    assert fetch(srv.port, "/a/ok.txt").body == b"ok\n"


@pytest.mark.parametrize("path", ["/.git/config", "/.git/HEAD", "/.env", "/a/.env", "/.git/refs/",
                                  "/.git", "/.git/", "/.git/nope", "/.well-known/.secret"])
def test_hidden_paths_are_404_like_missing_files(ferry, tree, path):
    # a directory neither redirects (301) nor is forbidden (403): 404 like a missing name
    srv = ferry(docroot=tree)
    for method in ("GET", "HEAD"):
        same_as_missing(srv, path, method=method)


ENCODED = ["/%2egit/config", "/%2Egit/config", "/./.git/config", "//.git/config", "/x/../.git/config",
           "/.git/./config", "/.git//config", "/a/../.git/config", "/a/x/../../.git/config",
           "/%2e%67%69%74/%63onfig", "/a/%2eenv", "/a/%2Eenv", "/a//.env", "/a/./.env", "/.git/config?x=1",
           "/.git%2fconfig", "/.GIT/config"]


@pytest.mark.parametrize("path", ENCODED)
def test_encoded_and_unnormalised_forms(ferry, tree, path):
    srv = ferry(docroot=tree)
    for method in ("GET", "HEAD"):
        with srv.client() as c:
            r = c.request(path, method=method)
        assert_error(r, 404, head=method == "HEAD")
        assert b"secret" not in r.body and b"origin" not in r.body and b"A_SECRET" not in r.body


def test_absolute_form_and_pipelined(ferry, tree):
    srv = ferry(docroot=tree)
    with srv.client() as c:
        c.send(b"GET http://localhost/.git/config HTTP/1.1\r\nHost: localhost\r\n\r\n" +
               b"".join(build_request(p) for p in ENCODED) +
               build_request("/a/ok.txt"))
        assert_error(c.read_response(), 404)
        for _ in ENCODED:
            assert_error(c.read_response(), 404)
        assert c.read_response().body == b"ok\n"


def test_options_of_a_hidden_path_is_404(ferry, tree):
    srv = ferry(docroot=tree)
    assert_error(fetch(srv.port, "/.git/config", method="OPTIONS"), 404)
    assert fetch(srv.port, "/a/ok.txt", method="OPTIONS").status == 200


# --- /.well-known ------------------------------------------------------------------

def test_well_known_is_served(ferry, tree):
    srv = ferry(docroot=tree)
    r = fetch(srv.port, "/.well-known/acme-challenge/x")
    assert r.status == 200 and r.body == b"x.token-thumbprint"
    assert fetch(srv.port, "/%2ewell-known/security.txt").body.startswith(b"Contact:")
    head = fetch(srv.port, "/.well-known/acme-challenge/x", method="HEAD")
    assert head.status == 200 and head.header("content-length") == str(len(b"x.token-thumbprint"))
    r = fetch(srv.port, "/.well-known")
    assert r.status == 301 and r.header("location") == "/.well-known/"
    # only at the root (RFC 8615), and only that segment
    assert_error(fetch(srv.port, "/a/.well-known/x"), 404)
    same_as_missing(srv, "/.well-known/.secret")


# --- hidden-files = allow ------------------------------------------------------------

def test_allow_in_a_path_section(ferry, tree):
    srv = ferry(docroot=tree, config="[path /.git/]\nhidden-files = allow\n")
    for method in ("GET", "HEAD"):
        r = fetch(srv.port, "/.git/config", method=method)
        assert r.status == 200 and r.header("content-length") == str(len(GIT_CONFIG))
    assert fetch(srv.port, "/%2egit/config").body == GIT_CONFIG
    same_as_missing(srv, "/.git")                     # "/.git" is not under "/.git/": no redirect
    assert_error(fetch(srv.port, "/.git/"), 403)      # a directory without listing, as usual
    assert_error(fetch(srv.port, "/.env"), 404)       # outside the rule
    assert_error(fetch(srv.port, "/a/.env"), 404)


def test_allow_everywhere_then_deny_again(ferry, tree):
    srv = ferry(docroot=tree, config="hidden-files = allow\n[path /.git/]\nhidden-files = deny\n")
    assert fetch(srv.port, "/a/.env").body == b"A_SECRET=1\n"
    assert fetch(srv.port, "/.env").status == 200
    same_as_missing(srv, "/.git/config")


def test_allow_per_host(ferry, tree, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / ".env").write_bytes(b"OTHER=1\n")
    srv = ferry(docroot=tree, config=f"[host dev.test]\ndocroot = {other}\nhidden-files = allow\n")
    with srv.client() as c:
        assert c.request("/.env", host="dev.test").body == b"OTHER=1\n"
        assert_error(c.request("/.env", host="localhost"), 404)


@pytest.mark.parametrize("text, line, message", [
    ("hidden-files = yes\n", 1, 'hidden-files: "yes" is neither deny nor allow'),
    ("# decided by URL\n[path *.env]\nhidden-files = allow\n", 3,
     "hidden-files: not allowed in a [path] section with a *.EXT pattern"),
    ("[path /a *.env]\nhidden-files = deny\n", 2, "hidden-files: not allowed in a [path] section with a *.EXT"),
])
def test_config_errors(tmp_path, text, line, message):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1 and f"{conf}:{line}: {message}" in r.stderr, r.stderr


def test_config_accepted_in_every_scope(tmp_path):
    conf = tmp_path / "ok.conf"
    conf.write_text(f"hidden-files = deny\n[path /.well-known/ /pub/]\nhidden-files = allow\n"
                    f"[host a.test]\ndocroot = {tmp_path}\nhidden-files = allow\n[path /x/]\nhidden-files = deny\n")
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr


# --- aliases, error pages, index files, precompressed siblings ------------------------

def test_aliases_check_the_url_path(ferry, tree, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / ".env").write_bytes(b"ALIASED=1\n")
    (static / "s.txt").write_bytes(b"s\n")
    acme = tmp_path / "acme"
    acme.mkdir()
    (acme / "tok").write_bytes(b"from the alias")
    private = tmp_path / "private"
    private.mkdir()
    (private / "p.txt").write_bytes(b"p\n")
    conf = (f"alias = /static {static}\nalias = /.well-known/acme-challenge {acme}\n"
            f"alias = /.private {private}\nalias = /.open {private}\n"
            "[path /.open/]\nhidden-files = allow\n")
    srv = ferry(docroot=tree, config=conf)
    assert fetch(srv.port, "/static/s.txt").body == b"s\n"
    same_as_missing(srv, "/static/.env")
    same_as_missing(srv, "/static/%2eenv")
    assert fetch(srv.port, "/.well-known/acme-challenge/tok").body == b"from the alias"
    # an alias at a hidden URL is hidden too, until a rule allows it
    same_as_missing(srv, "/.private/p.txt")
    assert fetch(srv.port, "/.open/p.txt").body == b"p\n"


def test_error_page_under_a_hidden_directory(ferry, tree):
    (tree / ".errors").mkdir()
    (tree / ".errors" / "404.html").write_bytes(b"<h1>custom 404</h1>\n")
    srv = ferry(docroot=tree, config="error-page = 404 /.errors/404.html\n")
    for path in ("/.git/config", "/no-such-file", "/.errors/404.html", "/.git/"):
        r = fetch(srv.port, path)
        assert r.status == 404 and r.body == b"<h1>custom 404</h1>\n", path
    with srv.client() as c:
        a, b = c.request("/.git/config"), c.request("/nothing-here")
    assert [h for h in a.headers if h[0].lower() != "date"] == [h for h in b.headers if h[0].lower() != "date"]


def test_index_file_named_by_the_configuration(ferry, tree):
    (tree / "d").mkdir()
    (tree / "d" / ".index.html").write_bytes(b"<p>dot index</p>\n")
    srv = ferry(docroot=tree, config="index-files = .index.html index.html\n")
    assert fetch(srv.port, "/d/").body == b"<p>dot index</p>\n"
    same_as_missing(srv, "/d/.index.html")


def test_precompressed_siblings(ferry, tree):
    srv = ferry(docroot=tree, config="precompressed = on\n")
    with srv.client() as c:
        ae = [("Accept-Encoding", "gzip")]
        r = c.request("/app.js", headers=ae)
        assert r.status == 200 and r.header("content-encoding") == "gzip"
        for path in ("/.env", "/.env.gz"):
            r = c.request(path, headers=ae)
            assert_error(r, 404)
            assert r.header("content-encoding") is None and r.header("vary") is None
    srv = ferry(docroot=tree, config="precompressed = on\nhidden-files = allow\n")
    r = fetch(srv.port, "/.env", headers=[("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-encoding") == "gzip"
    assert gzip.decompress(r.body) == b"DB_PASSWORD=hunter2\n"


# --- directory listings -------------------------------------------------------------

def names(body):
    return [html.unescape(t) for t in re.findall(r'<tr><td><a href="[^"]*">([^<]*)</a>', body.decode())]


def hrefs(body):
    return re.findall(r'<tr><td><a href="([^"]*)">', body.decode())


@pytest.fixture
def pub(tree):
    p = tree / "pub"
    (p / ".git").mkdir(parents=True)
    (p / ".git" / "config").write_bytes(GIT_CONFIG)
    (p / ".hidden").write_bytes(b"dot\n")
    (p / "visible.txt").write_bytes(b"v\n")
    return tree


LISTING = "[path /pub/]\ndirectory-listing = on\nlisting-dotfiles = on\n"


def test_listing_leaves_out_what_would_404(ferry, pub):
    srv = ferry(docroot=pub, config=LISTING)
    assert names(fetch(srv.port, "/pub/").body) == ["../", "visible.txt"]


def test_listing_shows_dotfiles_where_allowed(ferry, pub):
    srv = ferry(docroot=pub, config=LISTING + "hidden-files = allow\n[path /pub/.git/]\nhidden-files = deny\n")
    body = fetch(srv.port, "/pub/").body
    assert names(body) == ["../", ".hidden", "visible.txt"]   # .git/ would 404
    for href in hrefs(body):
        assert fetch(srv.port, "/pub/" + href).status in (200, 403), href


def test_every_listed_link_is_served(ferry, pub):
    srv = ferry(docroot=pub, config=LISTING + "hidden-files = allow\n")
    body = fetch(srv.port, "/pub/").body
    assert names(body) == ["../", ".git/", ".hidden", "visible.txt"]
    r = fetch(srv.port, "/pub/.hidden")
    assert r.status == 200 and r.body == b"dot\n"


def test_root_listing_keeps_well_known(ferry, tree):
    srv = ferry(docroot=tree, config="index-files = none.html\ndirectory-listing = on\nlisting-dotfiles = on\n")
    got = names(fetch(srv.port, "/").body)
    assert ".well-known/" in got and "a/" in got
    assert not any(n.startswith(".") and n != ".well-known/" for n in got), got
    inner = names(fetch(srv.port, "/.well-known/").body)
    assert inner == ["../", "acme-challenge/", "security.txt"]   # .secret would 404


def test_listing_hides_a_refused_parent(ferry, tree):
    (tree / ".a" / ".b").mkdir(parents=True)
    (tree / ".a" / ".b" / "f.txt").write_bytes(b"f\n")
    srv = ferry(docroot=tree, config="[path /.a/.b/]\ndirectory-listing = on\nhidden-files = allow\n")
    r = fetch(srv.port, "/.a/.b/")
    assert r.status == 200 and names(r.body) == ["f.txt"]   # no "../": /.a/ would 404
    same_as_missing(srv, "/.a/")
