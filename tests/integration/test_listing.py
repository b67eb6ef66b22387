"""Directory listings (issue 5 item 5), on every backend: opt-in per path,
sorted, names escaped and encoded, sizes and dates, dotfiles hidden unless
configured (and served: hidden-files), and never a way out of the docroot."""

import html
import os
import re
import urllib.parse

import pytest

from helpers import BACKENDS, CANARY, T, access_log_lines, assert_error, build_request, fetch, parse_access_line

LISTING = "[path /pub/]\ndirectory-listing = on\n"
NASTY = "<b>&\"x'y\".txt"


@pytest.fixture
def tree(tmp_path):
    base = tmp_path / "tree"
    root = base / "www"
    (root / "pub" / "sub dir").mkdir(parents=True)
    (root / "pub" / "zeta").mkdir()
    (root / "other").mkdir()
    (root / "pub" / "b.txt").write_bytes(b"b" * 1234)
    (root / "pub" / "a.txt").write_bytes(b"")
    (root / "pub" / "B.txt").write_bytes(b"B")
    (root / "pub" / NASTY).write_bytes(b"nasty")
    (root / "pub" / "caf\u00e9 \u2615.txt").write_bytes(b"unicode")
    (root / "pub" / "javascript:alert(1)").write_bytes(b"js")
    (root / "pub" / ".hidden").write_bytes(b"dot")
    (root / "pub" / ".git").mkdir()
    (root / "pub" / "sub dir" / "inner.txt").write_bytes(b"inner")
    (root / "pub" / "withindex").mkdir()
    (root / "pub" / "withindex" / "index.html").write_bytes(b"<p>index wins</p>")
    (root / "other" / "o.txt").write_bytes(b"o")
    (base / "secret.txt").write_bytes(CANARY)
    os.symlink("../../secret.txt", root / "pub" / "link-out")
    os.symlink(str(base / "secret.txt"), root / "pub" / "link-out-abs")
    os.symlink("../other/o.txt", root / "pub" / "link-in")
    os.symlink("missing", root / "pub" / "dangling")
    os.mkfifo(root / "pub" / "fifo")
    os.utime(root / "pub" / "b.txt", (1_500_000_000, 1_500_000_000))
    return root


def rows(body):
    """(href, text, date, size) of each listed entry."""
    text = body.decode("utf-8")
    return re.findall(r'<tr><td><a href="([^"]*)">([^<]*)</a></td><td>([^<]*)</td><td>([^<]*)</td></tr>', text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_listing(ferry, tree, backend):
    srv = ferry(docroot=tree, backend=backend, config=LISTING)
    r = fetch(srv.port, "/pub/")
    assert r.status == 200
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert int(r.header("content-length")) == len(r.body)
    assert "<title>Index of /pub/</title>" in r.body.decode()
    got = rows(r.body)
    names = [html.unescape(t) for _, t, _, _ in got]
    # parent first, then directories, then files, each sorted bytewise; no
    # dotfiles, no FIFO, no symlink leading out of the docroot or nowhere
    assert names == ["../", "sub dir/", "withindex/", "zeta/", NASTY, "B.txt", "a.txt", "b.txt",
                     "caf\u00e9 \u2615.txt", "javascript:alert(1)", "link-in"]
    by_name = {html.unescape(t): (href, date, size) for href, t, date, size in got}
    assert by_name["b.txt"] == ("b.txt", "2017-07-14 02:40", "1234")
    assert by_name["a.txt"][2] == "0"
    assert by_name["link-in"][2] == "1"
    assert by_name["sub dir/"] == ("sub%20dir/", by_name["sub dir/"][1], "-")
    assert by_name["caf\u00e9 \u2615.txt"][0] == "caf%C3%A9%20%E2%98%95.txt"
    assert by_name["javascript:alert(1)"][0] == "javascript%3Aalert%281%29"
    assert by_name[NASTY][0] == urllib.parse.quote(NASTY, safe="")
    assert b"<b>" not in r.body and b"CANARY" not in r.body


def test_links_of_a_listing_lead_to_the_files(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING)
    for href, text, _, _ in rows(fetch(srv.port, "/pub/").body):
        if href == "../" or href.endswith("/"):
            continue
        r = fetch(srv.port, "/pub/" + href)
        assert r.status == 200, (href, r)
        assert r.body == (tree / "pub" / html.unescape(text)).read_bytes()


def test_listing_is_off_by_default(ferry, tree):
    srv = ferry(docroot=tree)
    assert_error(fetch(srv.port, "/pub/"), 403)


def test_listing_only_where_configured(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING)
    assert_error(fetch(srv.port, "/other/"), 403)
    assert_error(fetch(srv.port, "/"), 403)
    r = fetch(srv.port, "/pub/sub%20dir/")
    assert r.status == 200 and [t for _, t, _, _ in rows(r.body)] == ["../", "inner.txt"]


def test_index_file_wins_over_listing(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING)
    assert fetch(srv.port, "/pub/withindex/").body == b"<p>index wins</p>"


def test_directory_without_slash_redirects(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING)
    r = fetch(srv.port, "/pub/sub%20dir")
    assert r.status == 301 and r.header("location") == "/pub/sub%20dir/"


def test_dotfiles_when_configured(ferry, tree):
    # listed only where they are served too (hidden-files, test_hidden_files.py)
    srv = ferry(docroot=tree, config=LISTING + "listing-dotfiles = on\nhidden-files = allow\n")
    names = [t for _, t, _, _ in rows(fetch(srv.port, "/pub/").body)]
    assert ".git/" in names and ".hidden" in names
    assert names.index(".git/") < names.index("sub dir/")
    assert fetch(srv.port, "/pub/.hidden").body == b"dot"


def test_dotfiles_that_would_404_are_not_listed(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING + "listing-dotfiles = on\n")
    names = [t for _, t, _, _ in rows(fetch(srv.port, "/pub/").body)]
    assert not any(n.startswith(".") for n in names[1:]) and names[0] == "../", names


def test_listing_follows_symlinks_out_only_when_allowed(ferry, tree):
    srv = ferry(docroot=tree, config="follow-symlinks = on\n" + LISTING)
    names = [t for _, t, _, _ in rows(fetch(srv.port, "/pub/").body)]
    assert "link-out" in names and "link-out-abs" in names and "dangling" not in names


def test_head_of_a_listing(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING)
    with srv.client() as c:
        get = c.request("/pub/")
        head = c.request("/pub/", method="HEAD")
        assert head.status == 200 and head.body == b""
        assert head.header("content-length") == get.header("content-length")
        assert c.request("/pub/b.txt").body == b"b" * 1234


@pytest.mark.parametrize("backend", BACKENDS)
def test_pipelined_listings_and_files(ferry, tree, backend):
    srv = ferry(docroot=tree, backend=backend, config=LISTING)
    with srv.client() as c:
        c.send((build_request("/pub/") + build_request("/pub/b.txt")) * 5)
        for _ in range(5):
            r = c.read_response()
            assert r.status == 200 and b"Index of /pub/" in r.body
            assert c.read_response().body == b"b" * 1234


def test_listing_carries_path_headers(ferry, tree):
    srv = ferry(docroot=tree, config=LISTING + "cache-control = no-cache\nadd-header = X-Listing: 1\n")
    r = fetch(srv.port, "/pub/")
    assert r.header("cache-control") == "no-cache" and r.header("x-listing") == "1"


def test_access_log_counts_the_listing(ferry, tree, tmp_path):
    log = tmp_path / "access.log"
    srv = ferry(docroot=tree, config=f"access-log = {log}\n" + LISTING)
    r = fetch(srv.port, "/pub/")
    line = parse_access_line(access_log_lines(log, 1)[0])
    assert (line["status"], line["bytes"]) == (200, len(r.body))


def test_large_directory(ferry, tmp_path):
    root = tmp_path / "big"
    (root / "pub").mkdir(parents=True)
    for i in range(3000):
        (root / "pub" / f"file-{i:05d}.txt").write_bytes(b"x")
    srv = ferry(docroot=root, config=LISTING)
    with srv.client(timeout=T(20)) as c:
        r = c.request("/pub/")
    names = [t for _, t, _, _ in rows(r.body)]
    assert len(names) == 3001 and names[1] == "file-00000.txt" and names[-1] == "file-02999.txt"
