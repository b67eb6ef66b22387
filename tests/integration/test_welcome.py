"""The first page a new user sees (issue 17 item 7): `make run` serves www/
with doc/demo.conf, and the welcome page's every link works: the demo files
(a 1 GiB download, a video answered by Range, a folder listing) made by
scripts/demo.sh, the documentation served from the source tree (/source/)
and rendered by www/read.html.  Checked with curl, then in headless Chromium
(the page's live parts and the Markdown reader's anchors).

Each test serves a copy of the tree in its own directory with the very
configuration `make run` uses (its paths are relative to where ferry starts),
so the demo files are made there and never in the checkout."""

import html.parser
import re
import shutil
import subprocess
import urllib.parse

import pytest

from helpers import REPO, T, ferry_bin, parse_access_line

GiB = 1 << 30
DOCS = ["README.md", "doc/config.md", "doc/demo.conf", "doc/ferry.conf", "bench/README.md"]


class Links(html.parser.HTMLParser):
    """Every href and src of a page, and the ids it defines."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append((tag, value))
            if name == "id":
                self.ids.add(value)


def links_of(text):
    p = Links()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """The demo video, made once by scripts/demo.sh (ffmpeg)."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed (scripts/deps.sh installs it)")
    d = tmp_path_factory.mktemp("demo")
    r = subprocess.run([str(REPO / "scripts/demo.sh"), str(d)], capture_output=True, text=True, timeout=T(120))
    assert r.returncode == 0, r.stderr
    assert (d / "large.bin").stat().st_size == GiB and (d / "large.bin").stat().st_blocks == 0
    return d / "video.webm"


@pytest.fixture
def demo(ferry, tmp_path, video):
    """ferry as `make run` starts it, in a copy of the source tree's served parts."""
    shutil.copytree(REPO / "www", tmp_path / "www", ignore=shutil.ignore_patterns("large.bin", "video.webm"))
    for doc in DOCS:
        (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / doc, tmp_path / doc)
    shutil.copy(video, tmp_path / "www/demo/video.webm")
    r = subprocess.run([str(REPO / "scripts/demo.sh"), "www/demo"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=T(30))
    assert r.returncode == 0, r.stderr
    assert "ffmpeg" not in r.stderr     # the video was there: not made again
    return ferry(args=["-c", str(REPO / "doc/demo.conf")])


def curl(srv, path, *args):
    """(status, content type, body) of one request made by curl."""
    r = subprocess.run(["curl", "-sS", "--max-time", str(T(30)), "-o", "-", "-w", "\n%{http_code} %{content_type}",
                        *args, srv.url(path)], capture_output=True, timeout=T(60))
    assert r.returncode == 0, r.stderr
    body, _, tail = r.stdout.rpartition(b"\n")
    status, _, ctype = tail.decode().partition(" ")
    return int(status), ctype, body


def test_make_run_serves_www_with_the_demo_configuration():
    makefile = (REPO / "Makefile").read_text()
    run = re.search(r"^run:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert "scripts/demo.sh www/demo" in run and "-c doc/demo.conf" in run
    conf = (REPO / "doc/demo.conf").read_text()
    assert re.search(r"^docroot = www$", conf, re.M) and re.search(r"^listen = 127\.0\.0\.1:8080$", conf, re.M)
    r = subprocess.run([ferry_bin(), "-t", "-c", "doc/demo.conf"], cwd=REPO, capture_output=True, text=True,
                       timeout=T(10))
    assert r.returncode == 0, r.stderr
    assert {"/www/demo/large.bin", "/www/demo/video.webm"} <= set((REPO / ".gitignore").read_text().split())


def test_welcome_page_and_every_link(demo, tmp_path, have_curl):
    status, ctype, body = curl(demo, "/")
    assert (status, ctype) == (200, "text/html; charset=utf-8")
    assert body == (REPO / "www/index.html").read_bytes()
    page = body.decode()
    for text in ("ferry is serving", "www/", "build/ferry -r", "make run", "doc/demo.conf"):
        assert text in page, text
    links = links_of(page).links
    # No external assets: every link and source is a path on this server.
    assert links and all(v.startswith("/") and not v.startswith("//") for _, v in links), links
    targets = {v for _, v in links}
    for want in ("/demo/large.bin", "/demo/video.webm", "/demo/", "/source/", "/read.html?/source/README.md",
                 "/read.html?/source/doc/config.md", "/read.html?/source/bench/README.md"):
        assert want in targets, want
    for target in sorted(targets):
        path = target.split("#")[0]
        if path == "/demo/large.bin":
            continue        # below, without downloading it here
        status, ctype, body = curl(demo, path)
        assert status == 200, (target, status)
        if path.startswith("/read.html?"):
            # The reader, and the Markdown file it will fetch.
            assert b"function render" in body
            status, ctype, md = curl(demo, path.partition("?")[2])
            assert (status, ctype) == (200, "text/markdown; charset=utf-8"), (target, ctype)
            assert md == (tmp_path / path.partition("?")[2].removeprefix("/source/")).read_bytes()
        elif path.startswith("/source/doc/"):
            assert ctype == "text/plain; charset=utf-8", (path, ctype)
            assert body == (tmp_path / path.removeprefix("/source/")).read_bytes()


def test_demo_files(demo, tmp_path, have_curl):
    # The folder listing: every demo file.
    status, ctype, body = curl(demo, "/demo/")
    assert (status, ctype) == (200, "text/html; charset=utf-8")
    for name in ("README.txt", "large.bin", "video.webm"):
        assert f'<a href="{name}">{name}</a>' in body.decode(), name

    # The large download: whole, and 16 bytes from its middle (the page's button).
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                        demo.url("/demo/large.bin")], capture_output=True, text=True, timeout=T(120))
    assert r.stdout == f"200 {GiB}", r.stdout + r.stderr
    status, _, body = curl(demo, "/demo/large.bin", "-r", f"{GiB // 2}-{GiB // 2 + 15}", "-D", "/dev/stderr")
    assert status == 206 and body == bytes(16)

    # The video, from its middle, as a browser seeking asks for it.
    video = (tmp_path / "www/demo/video.webm").read_bytes()
    mid = len(video) // 2
    status, ctype, body = curl(demo, "/demo/video.webm", "-r", f"{mid}-")
    assert (status, ctype) == (206, "video/webm") and body == video[mid:]

    # Hidden files of the source tree stay hidden.
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[remote]\n")
    assert curl(demo, "/source/.git/config")[0] == 404

    # Each request is a line on make run's terminal (stderr), the 206s too.
    demo.stop()
    lines = [parse_access_line(x) for x in demo.stderr.splitlines() if '"GET ' in x]
    assert any(x["target"] == "/demo/video.webm" and x["status"] == 206 for x in lines), lines


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("chromium is not installed (scripts/deps.sh installs it)")


def dump_dom(tmp_path, url):
    """The page's DOM once its scripts and their requests are done (virtual time)."""
    r = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=T(90))
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_welcome_page_in_chromium(demo, tmp_path):
    dom = dump_dom(tmp_path, demo.url("/#try-range"))
    origin = f"http://127.0.0.1:{demo.port}"
    # The live parts: the Server header, the address in the commands, how the page came, the Range demo.
    assert '<span id="server">ferry</span>' in dom
    assert f"curl -o /dev/null <span class=\"origin\">{origin}</span>/demo/large.bin" in dom
    assert re.search(r'<dd id="page-size">[0-9.]+ KiB', dom), dom[:3000]
    m = re.search(r'<span id="range-result">([^<]*)</span>', dom)
    assert m and m.group(1).startswith("206 ") and f"Content-Range: bytes {GiB // 2}-{GiB // 2 + 15}/{GiB}" in m.group(1) \
        and "(16 bytes in" in m.group(1), m and m.group(1)
    # No video error (the page would show its note).
    assert '<p id="no-video" hidden="">' in dom


def test_markdown_reader_in_chromium(demo, tmp_path):
    dom = dump_dom(tmp_path, demo.url("/read.html?/source/doc/config.md"))
    page = links_of(dom)
    assert "<h1 id=\"ferry-configuration-reference\">" in dom
    for key in ("compress", "fallback", "directory-listing", "alias"):
        assert f'<h4 id="{key}">' in dom or f'<h3 id="{key}">' in dom, key
    # Every anchor the document links to is there, and nothing is left as raw markup.
    anchors = {v[1:] for _, v in page.links if v.startswith("#")}
    assert anchors and anchors <= page.ids, anchors - page.ids
    text = re.search(r'<main id="doc">(.*)</main>', dom, re.S).group(1)
    assert "<table>" in text and "<pre><code>" in text and "```" not in text and "**" not in text

    dom = dump_dom(tmp_path, demo.url("/read.html?/source/README.md"))
    hrefs = {v for _, v in links_of(dom).links}
    # README's links to the other documents open in the reader, at the right place.
    assert "read.html?/source/doc/config.md" in hrefs and "read.html?/source/bench/README.md" in hrefs
    assert "read.html?/source/doc/config.md#tls" in hrefs
    assert f"http://127.0.0.1:{demo.port}/source/doc/ferry.conf" in hrefs
