"""A real browser (issue 5, tests): headless Chromium plays an HTML5
<video> served by ferry and seeks to the middle, which makes it issue
Range requests; the page must see no error, and ferry's access log must
show 206 responses.

The page reports what happens by requesting /report/<events> from ferry,
so the access log is the whole channel: no DevTools client is needed, and
the test waits in real time (media decoding does not follow a virtual
clock).  The video is made by ffmpeg: VP8 in WebM, with noise so that it
does not compress to nothing and the middle lies well past what the first
request brings."""

import shutil
import signal
import subprocess
import time
import urllib.parse

import pytest

from helpers import tool_missing
from helpers import BACKENDS, T, parse_access_line

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


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_plays_and_seeks(ferry, video_site, tmp_path, backend):
    log = tmp_path / "access.log"
    srv = ferry(docroot=video_site, backend=backend, config={"access-log": str(log)})
    browser = subprocess.Popen([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                                srv.url("/")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + T(60)
        while time.monotonic() < deadline:
            events = reported(log_entries(log))
            if "played past the middle" in events or any(e.startswith("ERROR") for e in events):
                break
            assert browser.poll() is None, browser.stderr.read().decode(errors="replace")[-3000:]
            time.sleep(0.2)
    finally:
        browser.send_signal(signal.SIGTERM)
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()

    entries = log_entries(log)
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
