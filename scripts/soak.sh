#!/bin/bash
# `make soak`: ferry under 10 minutes of mixed load; its RSS and descriptor
# count are sampled every few seconds and printed as a table, then judged:
# both must stay flat (issue 6, item 7).  Not part of `make test`.
#
#   DURATION   seconds of load (default 600)
#   INTERVAL   seconds between samples (default: DURATION/60, at least 1)
#   BACKEND    ferry's backend (default sendfile)
#   FERRY_BIN  the binary (default build/ferry); FERRY_ARGS: extra options
#   WORKERS    mixed-load client threads (default 4)
#
# RSS and descriptors are summed over ferry's process and its children (a
# master with workers, or one process with -X in FERRY_ARGS).
# The load: wrk on a small file over keep-alive connections (when wrk is
# installed), and Python workers doing a random mix of everything else:
# new connections, pipelining, 8 MiB downloads read to the end or abandoned
# with a RST, HEAD, 404/400/405/501, request bodies to discard, heads left
# half-sent to time out.  Exit status 0 when RSS and descriptors stayed flat
# and no request got a wrong answer.
set -eu
cd "$(dirname "$0")/.."
: "${FERRY_BIN:=build/ferry}" "${DURATION:=600}" "${BACKEND:=sendfile}" "${WORKERS:=4}"
: "${INTERVAL:=$(( DURATION / 60 > 0 ? DURATION / 60 : 1 ))}"
export FERRY_BIN DURATION INTERVAL BACKEND WORKERS
[ -x "$FERRY_BIN" ] || { echo "soak: $FERRY_BIN not found (make)" >&2; exit 2; }

exec /usr/bin/python3 - <<'PY'
import os, random, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time
from pathlib import Path

BIN = os.path.abspath(os.environ["FERRY_BIN"])
DURATION = int(os.environ["DURATION"])
INTERVAL = max(1, int(os.environ["INTERVAL"]))
BACKEND = os.environ["BACKEND"]
WORKERS = int(os.environ["WORKERS"])
MiB = 1 << 20

work = Path(tempfile.mkdtemp(prefix="ferry-soak-"))
root = work / "www"
(root / "dir").mkdir(parents=True)
files = {
    "/index.html": b"<!DOCTYPE html><title>soak</title>\n" * 10,
    "/small.txt": os.urandom(1024),
    "/medium.bin": os.urandom(100 * 1024),
    "/big.bin": os.urandom(8 * MiB),
    "/dir/index.html": b"<h1>dir</h1>\n",
}
for path, data in files.items():
    (root / path.lstrip("/")).write_bytes(data)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
conf = work / "ferry.conf"
conf.write_text(f"listen = 127.0.0.1:{port}\ndocroot = {root}\nbackend = {BACKEND}\n"
                "access-log = /dev/null\nlog-level = warn\nheader-timeout = 2s\nkeepalive-timeout = 5s\n"
                "write-timeout = 5s\nmax-connections = 4096\n")
err = open(work / "ferry.stderr", "wb")
argv = [BIN, "-c", str(conf), *os.environ.get("FERRY_ARGS", "").split()]
helptext = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
if os.geteuid() == 0 and "--user" in helptext:
    argv += ["-u", "root"]  # the docroot is a private temporary directory
proc = subprocess.Popen(argv, stdout=err, stderr=err, stdin=subprocess.DEVNULL)
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit(f"soak: ferry did not start:\n{(work / 'ferry.stderr').read_text()}")


def tree():
    """ferry's processes: the one started, and its workers if it has any."""
    pids = [proc.pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == proc.pid:
                pids.append(int(d))
    return pids


def rss_kib():
    total = 0
    for pid in tree():
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def nfds():
    total = 0
    for pid in tree():
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


# --- the mixed load ----------------------------------------------------------------

stop = threading.Event()
lock = threading.Lock()
stats = {"ops": 0, "errors": 0}
errors = []


def req(path, method="GET", extra=b""):
    return f"{method} {path} HTTP/1.1\r\nHost: soak\r\n".encode() + extra + b"\r\n"


def read_response(s, buf, head_only=False):
    """Returns (status, body, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    if head_only:
        return status, b"", buf
    while len(buf) < length:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed mid-body")
        buf += chunk
    return status, buf[:length], buf[length:]


def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def op_small():
    with connect() as s:
        s.sendall(req("/small.txt"))
        st, body, _ = read_response(s, b"")
        expect(st == 200 and body == files["/small.txt"], f"/small.txt: {st}")


def op_pipelined():
    paths = random.choices(["/index.html", "/small.txt", "/medium.bin", "/dir/", "/missing", "/dir"], k=20)
    with connect() as s:
        s.sendall(b"".join(req(p) for p in paths))
        buf = b""
        for p in paths:
            st, body, buf = read_response(s, buf)
            want = {"/missing": 404, "/dir": 301}.get(p, 200)
            expect(st == want, f"pipelined {p}: {st}")
            if st == 200:
                expect(body == files.get(p, files.get(p + "index.html")), f"pipelined {p}: wrong body")


def op_big():
    with connect() as s:
        s.sendall(req("/big.bin"))
        st, body, _ = read_response(s, b"")
        expect(st == 200 and body == files["/big.bin"], "/big.bin")


def op_abandon():
    s = connect()
    s.sendall(req("/big.bin"))
    s.recv(65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST mid-transfer


def op_head():
    with connect() as s:
        s.sendall(req("/medium.bin", "HEAD"))
        st, _, _ = read_response(s, b"", head_only=True)
        expect(st == 200, f"HEAD: {st}")


def op_errors():
    cases = [(req("/missing"), 404), (req("/", "POST", b"Content-Length: 5\r\n") + b"hello", 405),
             (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
             (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501), (b"GET /%2e%2e/x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
             (b"GET / HTTP/1.1\nHost: a\n\n", 400)]
    data, want = random.choice(cases)
    with connect() as s:
        s.sendall(data)
        st, _, _ = read_response(s, b"")
        expect(st == want, f"error case {data[:30]!r}: {st}, want {want}")


def op_body():
    body = os.urandom(random.randint(1, 200_000))
    with connect() as s:
        s.sendall(req("/small.txt", extra=f"Content-Length: {len(body)}\r\n".encode()) + body + req("/index.html"))
        st, b1, buf = read_response(s, b"")
        st2, b2, _ = read_response(s, buf)
        expect(st == 200 and st2 == 200 and b2 == files["/index.html"], "body discard")


def op_half_head():
    s = connect()
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: a\r\n")
    if random.random() < 0.5:
        s.close()  # leaves at once
    else:
        with lock:
            held.append((time.monotonic(), s))  # left to the header timeout


held = []
OPS = [(op_small, 30), (op_pipelined, 10), (op_big, 2), (op_abandon, 4), (op_head, 10), (op_errors, 15),
       (op_body, 5), (op_half_head, 5)]


def worker():
    fns, weights = zip(*OPS)
    while not stop.is_set():
        fn = random.choices(fns, weights)[0]
        try:
            fn()
            with lock:
                stats["ops"] += 1
        except Exception as e:  # noqa: BLE001
            with lock:
                stats["errors"] += 1
                if len(errors) < 20:
                    errors.append(f"{fn.__name__}: {type(e).__name__}: {e}")
        with lock:  # close the held half-heads once ferry must have timed them out
            now = time.monotonic()
            while held and now - held[0][0] > 4:
                held.pop(0)[1].close()


wrk = None
if shutil.which("wrk"):
    wrk = subprocess.Popen(["wrk", "-t1", "-c32", f"-d{DURATION}s", f"http://127.0.0.1:{port}/index.html"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
for t in threads:
    t.start()

print(f"soak: ferry pid {proc.pid} ({BACKEND}) on port {port}, {DURATION}s of mixed load, "
      f"a sample every {INTERVAL}s{'' if wrk else ' (wrk not installed: Python load only)'}")
print(f"{'time s':>7} {'RSS KiB':>9} {'fds':>6} {'mixed ops':>10} {'errors':>7}")
samples = []
start = time.monotonic()
while True:
    elapsed = time.monotonic() - start
    r, n = rss_kib(), nfds()
    samples.append((elapsed, r, n))
    print(f"{elapsed:7.0f} {r:9d} {n:6d} {stats['ops']:10d} {stats['errors']:7d}", flush=True)
    if elapsed >= DURATION or proc.poll() is not None:
        break
    time.sleep(min(INTERVAL, max(0.1, DURATION - elapsed)))

stop.set()
for t in threads:
    t.join(30)
for _, s in held:
    s.close()
wrk_summary = ""
if wrk:
    wrk.terminate() if wrk.poll() is None else None
    out = wrk.communicate(timeout=30)[0].decode(errors="replace")
    wrk_summary = " ".join(l.strip() for l in out.splitlines() if "requests in" in l or "Requests/sec" in l
                           or "Non-2xx" in l or "Socket errors" in l)

alive = proc.poll() is None
# Idle again: every client gone; give keep-alive and linger timers time to fire.
time.sleep(7)
idle_rss, idle_fds = (rss_kib(), nfds()) if alive else (0, 0)
print(f"{'idle':>7} {idle_rss:9d} {idle_fds:6d}")

verdict_ok = alive
if not alive:
    print(f"soak: FAIL: ferry died (exit {proc.returncode})")
# Flat: after a warm-up (the first tenth), the highest RSS of the second half is
# not above the highest of the first half by more than 2% (or 1 MiB), and the
# descriptors once idle are back to what the first sample held plus the open-file
# cache's handful.
warm = [s for s in samples if s[0] >= DURATION * 0.1] or samples
half = len(warm) // 2 or 1
early, late = warm[:half], warm[half:] or warm[:half]
early_max, late_max = max(s[1] for s in early), max(s[1] for s in late)
rss_slack = max(1024, early_max // 50)
rss_flat = late_max <= early_max + rss_slack
fd_base = samples[0][2]
fds_flat = alive and idle_fds <= fd_base + len(files) + 2
print(f"soak: RSS {'flat' if rss_flat else 'GROWING'}: highest {early_max} KiB in the first half, "
      f"{late_max} KiB in the second (allowed +{rss_slack})")
print(f"soak: descriptors {'flat' if fds_flat else 'LEAKING'}: {fd_base} at start, {idle_fds} idle at the end "
      f"(max under load {max(s[2] for s in samples)})")
print(f"soak: mixed load {stats['ops']} operations, {stats['errors']} errors" + (f"; wrk: {wrk_summary}" if wrk else ""))
for e in errors[:10]:
    print("  " + e)
rc = 0 if verdict_ok and rss_flat and fds_flat and stats["errors"] == 0 else 1
if alive:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = "killed (did not stop in 30s)"
    if code != 0:
        print(f"soak: FAIL: ferry exited with {code} on SIGTERM")
        rc = 1
err.close()
print("soak: " + ("PASS" if rc == 0 else "FAIL") + f" (ferry's stderr: {work / 'ferry.stderr'})")
if rc == 0:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(rc)
PY
