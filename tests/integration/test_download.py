"""download = on and default-type (issue 17 item 5): files under a path go
out as attachments, Content-Disposition per RFC 6266 with filename*
(RFC 8187), names with spaces, quotes and UTF-8 kept exactly; files whose
extension is unknown get the configured type."""

import re
import subprocess
import urllib.parse

import pytest

from helpers import BACKENDS, assert_error, curl, fetch, run_ferry, write_config

NAMES = ["report.pdf", "my file.txt", "caf\u00e9 men\u00fc.txt", 'say "hi" 100%.txt', "\u65e5\u672c\u8a9e.bin",
         "semi;colon,comma.txt", "back\\slash.txt", "\U0001f600.png", "noext"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    (root / "files" / "sub").mkdir(parents=True)
    for i, name in enumerate(NAMES):
        (root / "files" / name).write_bytes(f"file {i}\n".encode())
    (root / "files" / "sub" / "index.html").write_bytes(b"<p>sub index</p>\n")
    (root / "files" / "page.html").write_bytes(b"<p>inline after all</p>\n")
    (root / "view").mkdir()
    (root / "view" / "README").write_bytes(b"no extension\n")
    (root / "view" / "data.xyzzy").write_bytes(b"unknown extension\n")
    (root / "view" / "known.css").write_bytes(b"body{}\n")
    (root / "plain.xyzzy").write_bytes(b"top level\n")
    return tmp_path


def config(base):
    return f"""
docroot = {base}/www
default-type = application/x-top

[path /files/]
download = on

[path /files/page.html]
download = off

[path /view/]
default-type = text/plain; charset=utf-8
"""


@pytest.fixture(params=BACKENDS)
def server(request, ferry, tree):
    return ferry(backend=request.param, config=config(tree))


DISPOSITION = re.compile(r'attachment; filename="([\x20-\x7e]*)"; filename\*=UTF-8\'\'([A-Za-z0-9!#$&+\-.^_`|~%]*)')


def disposition_name(value):
    """What a client following RFC 6266 takes as the name: filename*, decoded
    (RFC 8187), over filename."""
    m = DISPOSITION.fullmatch(value)
    assert m, value
    return urllib.parse.unquote(m.group(2), encoding="utf-8", errors="strict")


def url(name):
    return "/files/" + urllib.parse.quote(name)


@pytest.mark.parametrize("name", NAMES)
def test_attachment_names(server, name):
    r = fetch(server.port, url(name))
    assert r.status == 200 and r.body == f"file {NAMES.index(name)}\n".encode()
    value = r.header("content-disposition")
    assert value.startswith('attachment; filename="')
    assert disposition_name(value) == name                          # decoded from filename*
    star = value.split("filename*=", 1)[1]
    assert star == "UTF-8''" + urllib.parse.quote(name, safe="!#$&+-.^_`|~")
    plain = value.split('filename="', 1)[1].split('"', 1)[0]        # the ASCII fallback
    assert all(0x20 <= ord(ch) < 0x7f and ch not in '"\\%' for ch in plain)
    assert len(plain) == len(name.encode())


def test_every_response_about_the_file(server):
    with server.client() as c:
        r = c.request(url("my file.txt"), method="HEAD")
        assert r.status == 200 and disposition_name(r.header("content-disposition")) == "my file.txt"
        r = c.request(url("my file.txt"), headers={"Range": "bytes=0-1"})
        assert r.status == 206 and r.body == b"fi" and r.header("content-disposition")
        r = c.request("/files/sub/")                                  # a directory: its index file's name
        assert r.status == 200 and disposition_name(r.header("content-disposition")) == "index.html"
        r = c.request("/files/page.html")                             # a narrower rule turns it off
        assert r.status == 200 and r.header("content-disposition") is None
        r = c.request("/files/missing.txt")
        assert_error(r, 404)
        assert r.header("content-disposition") is None
        r = c.request("/view/known.css")
        assert r.header("content-disposition") is None


def test_curl_saves_under_the_name(server, tmp_path, have_curl):
    out = tmp_path / "saved"
    out.mkdir()
    r = subprocess.run(["curl", "-sS", "-OJ", server.url(url("my file.txt"))], cwd=out, capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert (out / "my file.txt").read_bytes() == f"file {NAMES.index('my file.txt')}\n".encode()


def test_default_type(server):
    r = fetch(server.port, "/view/README")
    assert r.header("content-type") == "text/plain; charset=utf-8" and r.body == b"no extension\n"
    assert fetch(server.port, "/view/data.xyzzy").header("content-type") == "text/plain; charset=utf-8"
    assert fetch(server.port, "/view/known.css").header("content-type") == "text/css; charset=utf-8"
    assert fetch(server.port, "/plain.xyzzy").header("content-type") == "application/x-top"
    assert fetch(server.port, "/files/noext").header("content-type") == "application/x-top"
    r = fetch(server.port, "/files/report.pdf")
    assert r.header("content-type") == "application/pdf"


def test_without_default_type_unknown_is_octet_stream(ferry, tree):
    server = ferry(docroot=tree / "www")
    assert fetch(server.port, "/plain.xyzzy").header("content-type") == "application/octet-stream"


@pytest.mark.parametrize("text,line,message", [
    ("download = yes\n", 1, "download: \"yes\" is neither on nor off"),
    ("\ndefault-type = text\n", 2, "default-type: \"text\" is not a media type"),
    ("default-type = text/\n", 1, "is not a media type"),
    ("default-type = /plain\n", 1, "is not a media type"),
    ("[path /a/]\ndefault-type = text/plain garbage\n", 2, "is not a media type"),
])
def test_bad_values_name_the_line(tmp_path, text, line, message):
    conf = tmp_path / "bad.conf"
    write_config(conf, text)
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert f"{conf}:{line}: " in r.stderr and message in r.stderr, r.stderr


def test_good_values(tmp_path):
    conf = tmp_path / "ok.conf"
    write_config(conf, f"docroot = {tmp_path}\ndefault-type = text/plain;charset=utf-8\ndownload = off\n"
                       f"[host a.test]\ndocroot = {tmp_path}\ndownload = on\ndefault-type = off\n")
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
