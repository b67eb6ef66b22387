"""Access log (combined format) and error log (issue item 8)."""

import datetime
import re
import signal
import time

from helpers import T, assert_error, build_request, curl, fetch, raw_exchange, wait_until

# host ident user [time] "request" status bytes "referer" "user-agent"
COMBINED = re.compile(
    r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"$')


def read_lines(path):
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    assert data == b"" or data.endswith(b"\n"), f"partial line in the access log: {data[-200:]!r}"
    return data.decode("utf-8", errors="strict").splitlines()


def wait_lines(path, n, timeout=None):
    """Polls until the log holds n lines (flushed within ~1 s by the server)."""
    lines = wait_until(lambda: len(read_lines(path)) >= n and read_lines(path), timeout or T(3),
                       interval=0.05, message=f"{n} access log lines in {path}")
    assert len(lines) == n, lines
    return [parse(line) for line in lines]


def parse(line):
    m = COMBINED.match(line)
    assert m, f"not in the combined log format: {line!r}"
    return m.groupdict()


def test_access_log_combined_format(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    with f.client() as c:
        c.request("/sub/page.txt", headers={"Referer": "http://example.com/from", "User-Agent": "test-agent/1.0"})
        c.request("/index.html", method="HEAD", headers={"User-Agent": "head-agent"})
        c.request("/missing.html")
        c.request("/big.bin?x=1")
    start = time.monotonic()
    entries = wait_lines(log, 4)
    assert time.monotonic() - start < T(2.5), "the access log was not flushed within about a second"
    e = entries[0]
    assert e["host"] == "127.0.0.1" and e["ident"] == "-" and e["user"] == "-"
    assert e["request"] == "GET /sub/page.txt HTTP/1.1"
    assert e["status"] == "200" and e["bytes"] == str(len(site.files["/sub/page.txt"]))
    assert e["referer"] == "http://example.com/from" and e["agent"] == "test-agent/1.0"
    e = entries[1]
    assert e["request"] == "HEAD /index.html HTTP/1.1" and e["status"] == "200"
    assert e["bytes"] in ("0", "-")
    assert e["referer"] == "-" and e["agent"] == "head-agent"
    assert entries[2]["request"] == "GET /missing.html HTTP/1.1" and entries[2]["status"] == "404"
    assert entries[3]["request"] == "GET /big.bin?x=1 HTTP/1.1"
    assert entries[3]["bytes"] == str(3 << 20)
    assert entries[3]["referer"] == "-" and entries[3]["agent"] == "-"
    # the time stamp is now
    stamp = datetime.datetime.strptime(e["time"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(stamp.timestamp() - time.time()) < 60, e["time"]


def test_access_log_with_curl_user_agent(ferry, site, tmp_path, have_curl):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    r = curl("--fail", "-o", "/dev/null", "-e", "http://ref.example/", f.url("/a.bin"))
    assert r.returncode == 0
    (e,) = wait_lines(log, 1)
    assert e["request"] == "GET /a.bin HTTP/1.1" and e["status"] == "200" and e["bytes"] == "1024"
    assert e["agent"].startswith("curl/") and e["referer"] == "http://ref.example/"


def test_access_log_bytes_of_an_error_body(ferry, site, tmp_path):
    """%b is the size of the response body sent, error pages included."""
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    r = fetch(f.port, "/missing.html")
    assert_error(r, 404)
    (e,) = wait_lines(log, 1)
    assert e["status"] == "404"
    assert e["bytes"] == str(len(r.body))


def test_access_log_one_line_per_pipelined_request(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    with f.client() as c:
        c.send(b"".join(build_request(f"/sub/page.txt?n={i}") for i in range(50)))
        for _ in range(50):
            assert c.read_response().status == 200
    entries = wait_lines(log, 50)
    assert [e["request"] for e in entries] == [f"GET /sub/page.txt?n={i} HTTP/1.1" for i in range(50)]


def test_access_log_flushed_on_exit(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    assert fetch(f.port, "/sub/page.txt").status == 200
    f.stop()
    (e,) = [parse(line) for line in read_lines(log)]
    assert e["request"] == "GET /sub/page.txt HTTP/1.1" and e["status"] == "200"


def test_access_log_escapes_client_strings(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    agent = b'evil" "200 1 "x\\y\t\xff\xfe'
    data = (b'GET /a"b\\c HTTP/1.1\r\nHost: x\r\nUser-Agent: ' + agent +
            b'\r\nReferer: r"ef\r\n\r\n')
    with f.client() as c:
        c.send(data)
        assert_error(c.read_response(), 404)
    raw = wait_until(lambda: log.read_bytes() if log.exists() and log.read_bytes().endswith(b"\n") else None,
                     T(3), message="the access log line")
    assert raw.count(b"\n") == 1, raw
    assert b"\t" not in raw and b"\xff" not in raw and b"\xfe" not in raw
    e = parse(raw.decode("ascii"))
    assert e["status"] == "404"
    # the quotes and backslashes are still there, escaped
    for field, original in (("agent", agent), ("referer", b'r"ef'), ("request", b'GET /a"b\\c HTTP/1.1')):
        assert '"' not in re.sub(r'\\.', "", e[field])
        assert len(e[field]) > len(original), (field, e[field])


def test_access_log_logs_bad_requests(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    r, closed, _ = raw_exchange(f.port, b"GET / HTTP/1.1\r\nFoo bar\r\n\r\n")
    assert_error(r, 400)
    (e,) = wait_lines(log, 1)
    assert e["status"] == "400"


def test_access_log_request_with_body_in_later_segment(ferry, site, tmp_path):
    """The logged request line is the one received, even when its body
    arrives after the head."""
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    with f.client() as c:
        c.send(build_request("/index.html", method="POST", headers={"Content-Length": 300}))
        time.sleep(0.1)
        c.send(b"Z" * 300)
        assert_error(c.read_response(), 405)
    (e,) = wait_lines(log, 1)
    assert e["request"] == "POST /index.html HTTP/1.1" and e["status"] == "405"


def test_access_log_to_stderr(ferry, site):
    f = ferry(docroot=site.root, config={"access-log": "stderr"})
    fetch(f.port, "/sub/page.txt", headers={"User-Agent": "to-stderr"})
    line = wait_until(lambda: [l for l in f.stderr.splitlines() if "to-stderr" in l], T(3),
                      interval=0.05, message="the access line on stderr")
    e = parse(line[0])
    assert e["request"] == "GET /sub/page.txt HTTP/1.1" and e["status"] == "200"


def test_access_log_off_by_default(ferry, site, tmp_path):
    f = ferry(docroot=site.root)
    fetch(f.port, "/sub/page.txt", headers={"User-Agent": "nowhere"})
    f.stop()
    assert "nowhere" not in f.stderr
    assert "GET /sub/page.txt" not in f.stderr


def test_error_log_file_gets_listening_line(ferry, site, tmp_path):
    log = tmp_path / "error.log"
    f = ferry(docroot=site.root, config={"error-log": str(log)})
    text = log.read_text()
    assert f"listening on http://127.0.0.1:{f.port}/" in text
    assert re.search(r"\[info\]", text), text
    assert f"127.0.0.1:{f.port}" not in f.stderr  # it went to the file, not stderr
    f.stop()
    assert "stopp" in log.read_text()


def test_error_log_default_is_stderr(server1):
    assert f"listening on http://127.0.0.1:{server1.port}/" in server1.stderr


def test_log_level_error_hides_info(ferry, site, tmp_path):
    log = tmp_path / "error.log"
    f = ferry(docroot=site.root, config={"error-log": str(log), "log-level": "error"})
    assert fetch(f.port, "/sub/page.txt").status == 200
    f.stop()
    assert "listening" not in log.read_text()
    assert "[info]" not in log.read_text()


def test_unwritable_access_log_is_a_start_error(ferry, site, tmp_path):
    bad = tmp_path / "no-such-dir" / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(bad)}, start=False)
    f.start(wait=False)
    assert f.wait_exit() != 0
    assert str(bad) in f.stderr


def test_access_log_appends(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    log.write_text("existing line\n")
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    fetch(f.port, "/sub/page.txt")
    f.stop()
    lines = log.read_text().splitlines()
    assert lines[0] == "existing line" and len(lines) == 2
    parse(lines[1])


def test_access_log_under_sigint(ferry, site, tmp_path):
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    fetch(f.port, "/a.bin")
    f.stop(sig=signal.SIGINT)
    assert len(read_lines(log)) == 1


def test_access_log_records_a_download_cut_short(ferry, site, tmp_path):
    """A client that resets mid-file still gets its line, with the bytes
    that left before the reset (not 0, not the whole file)."""
    import socket
    import struct
    from helpers import Client
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log)})
    with Client(f.port, rcvbuf=4096) as c:
        c.send(build_request("/huge.bin"))
        c.read_head()
        c.read_exact(100_000)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
    e = wait_lines(log, 1, timeout=T(40))[0]  # at worst, the write timeout ends it
    assert e["request"] == "GET /huge.bin HTTP/1.1" and e["status"] == "200"
    assert 100_000 <= int(e["bytes"]) < site.huge_size


# A client string too long for a line is cut, and the cut marked.
TRUNCATED = "...[truncated]"


def test_access_log_cuts_an_over_long_user_agent(ferry, site, tmp_path):
    """A request too large for a whole line still gets one: the long field
    cut and marked, the rest of the line as usual."""
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log), "max-request-header-size": "32k"})
    agent = "a" * 16_400
    with f.client() as c:
        r = c.request("/sub/page.txt", headers={"User-Agent": agent, "Referer": "http://ref.example/"})
        assert r.status == 200
        assert c.request("/a.bin", headers={"User-Agent": "next"}).status == 200
    first, second = wait_lines(log, 2)
    assert first["request"] == "GET /sub/page.txt HTTP/1.1"
    assert first["status"] == "200" and first["bytes"] == str(len(site.files["/sub/page.txt"]))
    assert first["referer"] == "http://ref.example/"
    assert first["agent"].endswith(TRUNCATED)
    kept = first["agent"][:-len(TRUNCATED)]
    assert len(kept) >= 8000 and agent.startswith(kept)
    assert second["agent"] == "next" and second["status"] == "200" and second["bytes"] == "1024"


def test_access_log_cuts_long_escaped_fields_between_escapes(ferry, site, tmp_path):
    """Every field over-long at once, in bytes that are escaped to four:
    the cuts fall between escapes, and the line still parses."""
    log = tmp_path / "access.log"
    f = ferry(docroot=site.root, config={"access-log": str(log), "max-request-header-size": "64k"})
    target = b"/" + b"%ff" * 6000
    data = (b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"\xff" * 12_000 +
            b"\r\nReferer: " + b"\"" * 12_000 + b"\r\n\r\n")
    with f.client() as c:
        c.send(data)
        r = c.read_response()
    (e,) = wait_lines(log, 1)
    assert e["status"] == str(r.status) and e["bytes"] == str(len(r.body))
    assert e["request"].startswith("GET /%ff%ff") and e["request"].endswith(TRUNCATED + " HTTP/1.1")
    for field, escape in (("agent", "\\xff"), ("referer", "\\x22")):
        assert e[field].endswith(TRUNCATED), field
        kept = e[field][:-len(TRUNCATED)]
        assert kept and kept == escape * (len(kept) // 4), field
