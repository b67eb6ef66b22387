"""A real browser (issue 5, tests): headless Chromium plays an HTML5
<video> served by ferry and seeks to the middle, which makes it issue
Range requests; the page must see no error, and ferry's access log must
show 206 responses.

The page reports what happens by requesting /report/<events> from ferry,
so the access log is the whole channel: no DevTools client is needed, and
the test waits in real time (media decoding does not follow a virtual
clock).  The video is made by ffmpeg: VP8 in WebM, with noise so that it
does not compress to nothing and the middle lies well past what the first
request brings.

Over HTTP/2 (issue 14): Chromium loads, over TLS with ALPN h2, a page of
100 small distinct assets (50 images, 25 scripts, 25 stylesheets) and the
same video; the page checks every asset (decoded image sizes, a statement
at the very end of each script, a rule at the very end of each
stylesheet), then plays the video, seeks to 7 s and sees it play on from
there, and last fetches a slice from the middle of the video with a Range
of its own (the video element may take the whole file with its first
request over h2, and then seek in what it holds).  Chromium pins the test leaf's public key
(--ignore-certificate-errors-spki-list) instead of trusting the test CA,
which would take an NSS database and its tools."""

import base64
import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import time
import urllib.parse
import zlib

import pytest

from helpers import tool_missing
from helpers import BACKENDS, T, parse_access_line, tls_fetch
from tls_pki import openssl

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0"]

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ferry video</title></head><body>
<video id="v" src="v.webm" preload="metadata" muted></video>
<script>
const v = document.getElementById('v'), events = [];
function say(s) {
  events.push(s);
  fetch('/report/' + encodeURIComponent(events.join('|'))).catch(() => {});
}
v.addEventListener('error', () => say('ERROR ' + (v.error && v.error.code)));
v.addEventListener('loadedmetadata', () => {
  say('duration ' + v.duration);
  v.currentTime = v.duration / 2;
  say('seek');
});
v.addEventListener('seeked', () => {
  say('seeked ' + v.currentTime.toFixed(1));
  v.play().then(() => say('playing')).catch(e => say('ERROR play ' + e));
});
v.addEventListener('timeupdate', () => {
  if (!window.played && v.currentTime > v.duration / 2 + 0.5) { window.played = true; say('played past the middle'); }
});
</script></body></html>
"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def video_site(tmp_path_factory):
    if not chromium():
        tool_missing("chromium is not installed (scripts/deps.sh installs it)")
    if not shutil.which("ffmpeg"):
        tool_missing("ffmpeg is not installed (scripts/deps.sh installs it)")
    root = tmp_path_factory.mktemp("video") / "www"
    root.mkdir()
    r = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi",
                        "-i", "testsrc=duration=10:size=320x240:rate=25,noise=alls=60:allf=t",
                        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "6M", "-g", "25",
                        "-y", str(root / "v.webm")], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (root / "index.html").write_bytes(PAGE)
    return root


def log_entries(path):
    try:
        return [parse_access_line(x) for x in path.read_text().splitlines()]
    except FileNotFoundError:
        return []


def reported(entries):
    """The page's latest list of events."""
    reports = [x["target"] for x in entries if x["target"].startswith("/report/")]
    if not reports:
        return []
    return urllib.parse.unquote(max(reports, key=len)[len("/report/"):]).split("|")


def run_browser(srv, url, profile, log, done, extra_flags=(), timeout=60):
    """Chromium on url until done(events) or an ERROR event, at most
    T(timeout) seconds, while ferry (srv) runs; then it is stopped, with
    every process it started (its own process group).  Returns the access
    log's entries."""
    errors = profile.parent / f"{profile.name}.stderr"  # a file: a pipe nobody reads would fill up
    with open(errors, "wb") as err:
        browser = subprocess.Popen([chromium(), *CHROMIUM_FLAGS, *extra_flags, f"--user-data-dir={profile}", url],
                                   stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + T(timeout)
        while time.monotonic() < deadline:
            events = reported(log_entries(log))
            if done(events) or any(e.startswith("ERROR") for e in events):
                break
            assert browser.poll() is None, errors.read_text(errors="replace")[-3000:]
            assert srv.running, f"ferry exited:\n{srv.stderr[-3000:]}"
            time.sleep(0.2)
    finally:
        browser.send_signal(signal.SIGTERM)
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        try:  # renderers and helpers that outlive the browser process
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return log_entries(log)


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_plays_and_seeks(ferry, video_site, tmp_path, backend):
    log = tmp_path / "access.log"
    srv = ferry(docroot=video_site, backend=backend, config={"access-log": str(log)})
    entries = run_browser(srv, srv.url("/"), tmp_path / "profile", log,
                          lambda events: "played past the middle" in events)
    events = reported(entries)
    assert not any(e.startswith("ERROR") for e in events), events
    assert events[:3] == ["duration 10", "seek", "seeked 5.0"], events
    assert "playing" in events and "played past the middle" in events, events

    size = (video_site / "v.webm").stat().st_size
    video = [x for x in entries if x["target"] == "/v.webm"]
    # Range requests only (a 304 is Chromium revalidating what it cached)
    assert video and all(x["status"] in (206, 304) for x in video), video
    partial = [x for x in video if x["status"] == 206]
    # the seek to the middle was a Range request of its own: at least two,
    # and some of them not the whole file
    assert len(partial) >= 2, video
    assert any(x["bytes"] < size for x in partial), video


# --- HTTP/2 ---------------------------------------------------------------------------------

IMAGES, SCRIPTS, STYLES = 50, 25, 25
ASSETS = IMAGES + SCRIPTS + STYLES

H2_PAGE_HEAD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ferry h2</title>
<script>
// Every asset reports here, from its onload/onerror attribute: no event can
// come before its handler exists.
const loaded = [], failed = [], S = [], events = [];
function say(s) {
  events.push(s);
  fetch('/report/' + encodeURIComponent(events.join('|'))).catch(() => {});
}
function ok(e) { loaded.push(e.getAttribute('src') || e.getAttribute('href')); }
function bad(e) { failed.push(e.getAttribute('src') || e.getAttribute('href')); }
</script>
"""

H2_PAGE_TAIL = """<video id="v" src="v.webm" preload="metadata" muted></video>
<script>
const v = document.getElementById('v');
// What each asset must show when its whole body arrived: an image its
// size, a script the statement at its end, a stylesheet the rule at its end.
function verified() {
  let good = 0;
  const wrong = [];
  document.querySelectorAll('img').forEach(i => {
    if (i.complete && i.naturalWidth == +i.dataset.w && i.naturalHeight == +i.dataset.h) good++;
    else wrong.push(i.getAttribute('src'));
  });
  for (let n = 0; n < %(scripts)d; n++) {
    if (S.filter(x => x == n).length == 1) good++; else wrong.push('s' + n);
  }
  document.querySelectorAll('div.c').forEach(d => {
    if (getComputedStyle(d).width == d.dataset.w + 'px') good++; else wrong.push(d.id);
  });
  return [good, wrong];
}
// A Range request of the page's own: the video element may well have
// taken the whole file with its first request (bytes=0-) and seek in what
// it holds.
async function range() {
  try {
    const r = await fetch('v.webm', {headers: {Range: 'bytes=%(first)d-%(last)d'}, cache: 'no-store'});
    const b = await r.arrayBuffer();
    const h = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b)))
                   .map(x => x.toString(16).padStart(2, '0')).join('');
    say('range ' + r.status + ' ' + r.headers.get('content-range') + ' ' + b.byteLength + ' '
        + (h == '%(sha)s' ? 'sha ok' : 'sha ' + h));
  } catch (e) {
    say('ERROR range ' + e);
  }
}
window.addEventListener('load', () => {
  const [good, wrong] = verified();
  say('assets ' + good + '/%(assets)d loaded ' + loaded.length);
  if (failed.length || wrong.length) {
    say('ERROR assets failed ' + failed.join(',') + ' wrong ' + wrong.join(','));
    return;
  }
  v.addEventListener('error', () => say('ERROR video ' + (v.error && v.error.code)));
  let phase = 'start';
  v.addEventListener('timeupdate', () => {
    if (phase == 'start' && v.currentTime > 1) {
      phase = 'seeking';
      say('played ' + v.currentTime.toFixed(1));
      v.currentTime = 7;
    } else if (phase == 'seeked' && v.currentTime > 7.5 && v.readyState >= 3) {
      phase = 'done';
      say('played from 7 to ' + v.currentTime.toFixed(1) + ' readyState ' + v.readyState);
      range();
    }
  });
  v.addEventListener('seeked', () => {
    if (phase != 'seeking') return;
    phase = 'seeked';
    say('seeked ' + v.currentTime.toFixed(1));
  });
  v.play().then(() => say('playing')).catch(e => say('ERROR play ' + e));
});
</script></body></html>
"""
RANGE_FIRST, RANGE_LEN = 3000001, 100000  # in the middle, not aligned, several DATA frames


def png(width, height, rng):
    """An RGB PNG of noise (so that it does not compress to nothing)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + rng.randbytes(width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


def padding(rng, size):
    """A comment's worth of distinct text, about size bytes."""
    return "".join(f"{rng.getrandbits(64):016x}{' ' if i % 4 else chr(10)}" for i in range(size // 17))


@pytest.fixture(scope="session")
def h2_site(tmp_path_factory, video_site):
    """The page, its 100 assets (sizes from about 100 bytes to 60 KiB, so
    that some take one DATA frame and some many) and the video."""
    rng = random.Random(14)
    root = tmp_path_factory.mktemp("h2") / "www"
    (root / "i").mkdir(parents=True)
    (root / "s").mkdir()
    (root / "c").mkdir()
    shutil.copy(video_site / "v.webm", root / "v.webm")
    head, body = [], []
    for n in range(IMAGES):
        w, h = 4 + n * 2, 3 + n % 7 * 11
        (root / f"i/{n:02d}.png").write_bytes(png(w, h, rng))
        body.append(f'<img src="i/{n:02d}.png" data-w="{w}" data-h="{h}" onload="ok(this)" onerror="bad(this)">')
    for n in range(SCRIPTS):
        (root / f"s/{n:02d}.js").write_text(f"/*\n{padding(rng, n * 2400)}*/\nS.push({n});\n")
        body.append(f'<script src="s/{n:02d}.js" onload="ok(this)" onerror="bad(this)"></script>')
    for n in range(STYLES):
        (root / f"c/{n:02d}.css").write_text(f"/*\n{padding(rng, n * 2400)}*/\n#c{n} {{ width: {100 + n}px }}\n")
        head.append(f'<link rel="stylesheet" href="c/{n:02d}.css" onload="ok(this)" onerror="bad(this)">')
        body.append(f'<div class="c" id="c{n}" data-w="{100 + n}"></div>')
    video = (root / "v.webm").read_bytes()
    assert len(video) > RANGE_FIRST + RANGE_LEN
    tail = H2_PAGE_TAIL % {"scripts": SCRIPTS, "assets": ASSETS, "first": RANGE_FIRST,
                           "last": RANGE_FIRST + RANGE_LEN - 1,
                           "sha": hashlib.sha256(video[RANGE_FIRST:RANGE_FIRST + RANGE_LEN]).hexdigest()}
    page = H2_PAGE_HEAD + "\n".join(head) + "\n</head><body>\n" + "\n".join(body) + "\n" + tail
    (root / "index.html").write_text(page)
    return root


def spki_pin(cert, tmp_path):
    """What --ignore-certificate-errors-spki-list takes: base64 of the
    SHA-256 of the certificate's SubjectPublicKeyInfo (DER)."""
    pem, der = tmp_path / "spki.pem", tmp_path / "spki.der"
    openssl("x509", "-in", cert, "-noout", "-pubkey", "-out", pem)
    openssl("pkey", "-pubin", "-in", pem, "-outform", "DER", "-out", der)
    return base64.b64encode(hashlib.sha256(der.read_bytes()).digest()).decode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_h2_page_of_100_assets_and_a_video(ferry, h2_site, pki, tmp_path, backend):
    leaf = pki.leaf("default.test")
    log = tmp_path / "access.log"
    srv = ferry(docroot=h2_site, backend=backend, tls=(leaf.chain, leaf.key),
                config={"access-log": str(log), "status-path": "/status"})
    flags = [f"--ignore-certificate-errors-spki-list={spki_pin(leaf.cert, tmp_path)}",
             "--host-resolver-rules=MAP default.test 127.0.0.1"]
    entries = run_browser(srv, f"https://default.test:{srv.port}/", tmp_path / "profile", log,
                          lambda events: any(e.startswith("range ") for e in events), extra_flags=flags)
    status = json.loads(tls_fetch(srv.port, "/status", sni="default.test", cafile=pki.root).body)

    events = reported(entries)
    assert not any(e.startswith("ERROR") for e in events), events
    assert events[0] == f"assets {ASSETS}/{ASSETS} loaded {ASSETS}", events
    assert "playing" in events and "seeked 7.0" in events, events
    assert any(e.startswith("played from 7 to ") for e in events), events
    # in this order: played past a second, seeked to 7 s, played on from there
    steps = [e for e in events if e.startswith(("played ", "seeked "))]
    assert len(steps) == 3 and not steps[0].startswith("played from") and steps[1] == "seeked 7.0" \
        and steps[2].startswith("played from 7 to "), events

    # Every request of the page over HTTP/2: the page, each asset once with
    # all its bytes, the video, the reports (and whatever Chromium adds, such
    # as /favicon.ico).
    assert len(entries) >= ASSETS + 1 + 1, entries
    assert all(x["protocol"] == "HTTP/2.0" for x in entries), [x for x in entries if x["protocol"] != "HTTP/2.0"]
    assets = sorted(p.relative_to(h2_site).as_posix() for d in ("i", "s", "c") for p in (h2_site / d).iterdir())
    assert len(assets) == ASSETS
    for rel in ["index.html", *assets]:
        got = [(x["status"], x["bytes"]) for x in entries if x["target"] == "/" + (rel if rel != "index.html" else "")]
        assert got == [(200, (h2_site / rel).stat().st_size)], (rel, got)

    # The video by Range requests, answered 206 (a 304 is Chromium
    # revalidating what it cached); the page's own Range request for the
    # middle got just those bytes.
    size = (h2_site / "v.webm").stat().st_size
    last = RANGE_FIRST + RANGE_LEN - 1
    assert f"range 206 bytes {RANGE_FIRST}-{last}/{size} {RANGE_LEN} sha ok" in events, events
    video = [x for x in entries if x["target"] == "/v.webm"]
    assert video and all(x["status"] in (206, 304) for x in video), video
    assert [x for x in video if x["status"] == 206 and x["bytes"] == RANGE_LEN], video
    assert len([x for x in video if x["status"] == 206]) >= 2, video

    # Few connections (Chromium needs one; the status request above is
    # HTTP/1.1), and at least a stream for each logged request.
    h2 = status["http2"]
    assert 1 <= h2["connections"] <= 3, h2
    assert h2["streams"] >= len(entries), (h2, len(entries))
    assert h2["protocol_errors"] == 0 and h2["stalls"] == 0 and h2["floods"] == 0, h2
