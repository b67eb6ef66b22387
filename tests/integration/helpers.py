"""Shared helpers of the integration tests: the server process, a raw HTTP
client on plain sockets, and assertions used by several test files.

Only the Python standard library is used (the suite runs under Debian's
python3 with its pytest package)."""

import email.utils
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SANITIZED = os.environ.get("FERRY_SANITIZED", "") not in ("", "0")
SCALE = 3 if SANITIZED else 1

# The backends every file-serving test runs against.
BACKENDS = [b for b in os.environ.get("FERRY_BACKENDS", "sendfile,writev,linux-aio-sendfile,io-uring,auto").split(",") if b]

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")


# The content of a file next to the docroot that no request may ever reveal.
CANARY = b"FERRY-CANARY-d41d8cd98f00b204e9800998ecf8427e: this file is outside the docroot\n"


def tool_missing(message):
    """A test whose tool is not installed: skipped on a developer's machine,
    failed in CI (CI=true), where scripts/deps.sh must have installed it."""
    import pytest
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI: scripts/deps.sh must install it)")
    pytest.skip(message)


def T(seconds):
    """A timeout, stretched when the server runs under the sanitizers."""
    return seconds * SCALE


def ferry_bin():
    path = Path(os.environ.get("FERRY_BIN", "build/ferry"))
    if not path.is_absolute():
        path = REPO / path
    return str(path)


def hooks_bin():
    """The build with the fault-injection hooks (FY_TEST_HOOKS) that make test makes."""
    import pytest
    path = Path(os.environ.get("FERRY_HOOKS_BIN", "build/hooks/ferry"))
    if not path.is_absolute():
        path = REPO / path
    if not os.access(path, os.X_OK):
        pytest.fail(f"the test-hooks build {path} is missing (make test builds it)")
    return str(path)


def free_port(host="127.0.0.1", family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run_ferry(args, timeout=None, cwd=None):
    """Runs the binary to completion (for -h, -V, -t and start-up errors)."""
    r = subprocess.run([ferry_bin(), *args], capture_output=True, text=True,
                       timeout=timeout or T(10), cwd=cwd)
    if SANITIZED:
        assert_no_sanitizer_report(r.stderr)
    return r


def assert_no_sanitizer_report(text):
    for marker in SANITIZER_MARKERS:
        assert marker not in text, "sanitizer report in ferry's stderr:\n" + text[-4000:]


def write_config(path, config):
    """config: a str (written as is) or a dict; a list value repeats the key."""
    if isinstance(config, str):
        Path(path).write_text(config)
        return
    lines = []
    for key, value in config.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            lines.append(f"{key} = {v}")
    Path(path).write_text("\n".join(lines) + "\n")


class Ferry:
    """One ferry process on a free loopback port."""

    _serial = 0

    def __init__(self, workdir, docroot=None, backend=None, config=None, args=(),
                 listen=True, port=None, host="127.0.0.1", wrapper=(), preexec_fn=None,
                 master=False, env=None, pass_fds=(), tls=None):
        Ferry._serial += 1
        self.workdir = Path(workdir)
        self.name = f"ferry{Ferry._serial}"
        self.docroot = docroot
        self.backend = backend
        self.config = config
        self.extra_args = list(args)
        self.listen = listen          # True: add -l 127.0.0.1:<free port>; "config": the configuration
                                      # (a str) names the ports as @PORT@ and @PORT2@, replaced by free ones
        self.tls = tls                # (chain, key): --tls-cert/--tls-key make the -l listener a TLS one
        self.wrapper = list(wrapper)
        self.preexec_fn = preexec_fn
        self.master = master          # False: -X, one process serves (its PID is the server's)
        self.env = env
        self.pass_fds = tuple(pass_fds)
        self.port = port              # with listen=False: the port the arguments name
        self.port2 = None             # with listen="config": the free port put for @PORT2@
        self.host = host              # where wait_ready() connects
        self.proc = None
        self.returncode = None
        self.stderr_path = self.workdir / f"{self.name}.stderr"
        self.stdout_path = self.workdir / f"{self.name}.stdout"
        self.config_path = self.workdir / f"{self.name}.conf" if config is not None else None

    # --- starting ---------------------------------------------------------

    def argv(self):
        argv = [*self.wrapper, ferry_bin()]
        if not self.master:
            # One process, no master; as root (and not lowered by a wrapper such as
            # setpriv), serving as root must be asked for explicitly.
            argv += ["-X"] + (["-u", "root"] if os.geteuid() == 0 and not self.wrapper else [])
        if self.config_path:
            argv += ["-c", str(self.config_path)]
        if self.docroot is not None:
            argv += ["-r", str(self.docroot)]
        if self.listen is True:
            argv += ["-l", f"127.0.0.1:{self.port}"]
        if self.tls:
            argv += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        if self.backend:
            argv += ["-B", self.backend]
        return argv + self.extra_args

    def render(self, config):
        """A configuration with the @PORT@ and @PORT2@ placeholders filled in."""
        if isinstance(config, str) and self.listen == "config":
            return config.replace("@PORT@", str(self.port)).replace("@PORT2@", str(self.port2))
        return config

    def start(self, wait=True):
        for _ in range(5):  # another process may grab the free port first
            if self.listen:
                self.port = free_port()
            if self.listen == "config":
                self.port2 = free_port()
                while self.port2 == self.port:
                    self.port2 = free_port()
            if self.config_path:
                write_config(self.config_path, self.render(self.config))
            with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                             cwd=self.workdir, preexec_fn=self.preexec_fn, env=self.env,
                                             pass_fds=self.pass_fds)
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except RuntimeError:
                if self.listen and "in use" in self.stderr:
                    self.proc.wait()
                    continue
                raise
        raise RuntimeError("no free port found")

    def wait_ready(self, port=None, timeout=None):
        port = port or self.port
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        deadline = time.monotonic() + (timeout or T(5))
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise RuntimeError(f"ferry exited with {rc} before accepting connections:\n{self.stderr}")
            try:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(1)
                    s.connect((self.host, port))
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"ferry does not accept connections on port {port}:\n{self.stderr}")
            time.sleep(0.02)

    # --- stopping ---------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=None):
        """Waits for the process to end; kills it and fails if it hangs."""
        try:
            self.returncode = self.proc.wait(timeout=timeout or T(10))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"ferry (pid {self.proc.pid}) did not exit in time; killed.\n{self.stderr}")
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=None, expect_rc=0):
        """Signals the server, waits, and asserts a clean exit."""
        if self.proc.poll() is None:
            self.send_signal(sig)
        rc = self.wait_exit(timeout)
        assert rc == expect_rc, f"ferry exited with {rc}, expected {expect_rc}:\n{self.stderr[-4000:]}"
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        if SANITIZED:
            assert_no_sanitizer_report(self.stderr)

    # --- talking to it ----------------------------------------------------

    def client(self, **kw):
        kw.setdefault("host", self.host)
        return Client(self.port, **kw)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"


# --- a raw HTTP client ------------------------------------------------------

class ConnectionClosed(Exception):
    pass


class Response:
    def __init__(self, version, status, reason, headers, body, head_raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as received
        self.body = body
        self.head_raw = head_raw

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def header(self, name):
        values = self.all(name)
        assert len(values) <= 1, f"header {name} sent {len(values)} times: {values}"
        return values[0] if values else None

    def __repr__(self):
        return f"<Response {self.status} {self.headers} body={len(self.body)}B>"


STATUS_LINE = re.compile(rb"^HTTP/1\.1 (\d{3}) ([^\r\n]*)$")


class Client:
    """A blocking socket with its own buffer, reading responses strictly."""

    def __init__(self, port, host="127.0.0.1", timeout=None, rcvbuf=None, nodelay=True):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout or T(5)
        self.sock.settimeout(self.timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data, segment=None, delay=0.0):
        if isinstance(data, str):
            data = data.encode("latin-1")
        if not segment:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), segment):
            self.sock.sendall(data[i:i + segment])
            if delay:
                time.sleep(delay)

    def _recv(self, timeout=None, size=65536):
        """Appends what arrives to buf; returns False at EOF (or reset)."""
        if self.eof:
            return False
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            chunk = self.sock.recv(size)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            if not self._recv():
                raise ConnectionClosed(f"connection closed before a full response head; got {self.buf[:300]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._recv(size=max(65536, min(n - len(self.buf), 1 << 20))):
                raise ConnectionClosed(f"connection closed after {len(self.buf)} of {n} body bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, method="GET"):
        head = self.read_head()
        lines = head.split(b"\r\n")
        m = STATUS_LINE.match(lines[0])
        assert m, f"bad status line {lines[0]!r}"
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep and name and name == name.strip(), f"bad response header line {line!r}"
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        status = int(m.group(1))
        resp = Response("HTTP/1.1", status, m.group(2).decode("latin-1"), headers, b"", head)
        cl = resp.header("content-length")
        if method == "HEAD" or status in (204, 304):
            return resp
        assert cl is not None, f"response without Content-Length: {head!r}"
        assert re.fullmatch(r"\d+", cl), f"bad Content-Length {cl!r}"
        resp.body = self.read_exact(int(cl))
        return resp

    def request(self, *args, method="GET", **kw):
        self.send(build_request(*args, method=method, **kw))
        return self.read_response(method)

    def wait_closed(self, timeout=None):
        """Reads until EOF/reset. Returns (closed, extra bytes received)."""
        deadline = time.monotonic() + (timeout if timeout is not None else T(5))
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                self._recv(timeout=left)
            except socket.timeout:
                break
        extra, self.buf = self.buf, b""
        return self.eof, extra

    def assert_closed(self, timeout=None):
        closed, extra = self.wait_closed(timeout)
        assert extra == b"", f"unexpected bytes after the response: {extra[:300]!r}"
        assert closed, "the server did not close the connection"

    def assert_open(self, wait=0.3):
        """Nothing arrives and the server does not close within `wait`."""
        closed, extra = self.wait_closed(wait)
        assert extra == b"", f"unexpected bytes: {extra[:300]!r}"
        assert not closed, "the server closed the connection"


def build_request(path="/", method="GET", version="HTTP/1.1", headers=None, host="localhost", body=b""):
    lines = [f"{method} {path} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for item in (headers.items() if isinstance(headers, dict) else headers or []):
        lines.append(f"{item[0]}: {item[1]}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return data + (body.encode() if isinstance(body, str) else body)


def fetch(port, path="/", method="GET", **kw):
    """One request on a fresh connection."""
    with Client(port) as c:
        return c.request(path, method=method, **kw)


def raw_exchange(port, data, method="GET", segment=None, delay=0.0):
    """Sends raw bytes, reads one response, then whether the server closed."""
    with Client(port) as c:
        c.send(data, segment=segment, delay=delay)
        resp = c.read_response(method)
        closed, extra = c.wait_closed(T(2))
        return resp, closed, extra


ERROR_REASONS = {
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large",
    501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
}


def assert_error(resp, status, head=False):
    """An error response: its status, and a small HTML body naming it."""
    assert resp.status == status, f"expected {status}, got {resp.status} {resp.reason}"
    if status in ERROR_REASONS:
        assert resp.reason == ERROR_REASONS[status]
    ctype = resp.header("content-type")
    assert ctype is not None and ctype.split(";")[0].strip() == "text/html", ctype
    cl = int(resp.header("content-length"))
    assert 0 < cl < 1024, f"error body of {cl} bytes"
    if head:
        assert resp.body == b""
        return
    assert len(resp.body) == cl
    text = resp.body.decode("utf-8")
    assert "<html" in text.lower()
    assert str(status) in text, text
    if status in ERROR_REASONS:
        assert ERROR_REASONS[status] in text, text


HTTP_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                       r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")


def http_date(ts):
    return email.utils.formatdate(int(ts), usegmt=True)


def fill_file_system(directory):
    """Writes directory/filler until the file system is full; returns its path."""
    filler = directory / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    return filler


def drop_from_page_cache(path):
    """Writes the file's dirty pages and drops all of them from the page
    cache, so that the next read of it goes to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def wait_until(predicate, timeout, interval=0.02, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def curl(*args, timeout=None):
    return subprocess.run(["curl", "-sS", "--max-time", str(T(20)), *args], capture_output=True,
                          timeout=timeout or T(30))


def sigterm_safe(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)


# --- ranges, conditional requests, listings, virtual hosts (issue 5) -------

def parse_multipart(resp):
    """The parts of a multipart/byteranges response: a list of
    (first, last, size, content_type, data), checked against RFC 9110 §14.6."""
    ctype = resp.header("content-type")
    m = re.fullmatch(r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})", ctype or "")
    assert m, f"not a multipart/byteranges Content-Type: {ctype!r}"
    delim = b"--" + m.group(1).encode()
    body = resp.body
    assert body.startswith(delim + b"\r\n"), body[:100]
    assert body.endswith(b"\r\n" + delim + b"--\r\n"), body[-100:]
    parts = []
    pos = 0
    while True:
        assert body[pos:pos + len(delim)] == delim, (pos, body[pos:pos + 80])
        pos += len(delim)
        if body[pos:pos + 4] == b"--\r\n":
            assert pos + 4 == len(body), "bytes after the closing boundary"
            return parts
        assert body[pos:pos + 2] == b"\r\n"
        head_end = body.index(b"\r\n\r\n", pos)
        headers = {}
        for line in body[pos + 2:head_end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.decode().strip().lower()] = value.decode().strip()
        cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("content-range", ""))
        assert cr, headers
        first, last, size = (int(x) for x in cr.groups())
        start = head_end + 4
        data = body[start:start + last - first + 1]
        parts.append((first, last, size, headers.get("content-type"), data))
        pos = start + last - first + 1
        assert body[pos:pos + 2] == b"\r\n", "part not followed by CRLF"
        pos += 2


def access_log_lines(path, count, timeout=None):
    """Waits until the access log at path has at least count lines (it is
    flushed once a second) and returns them."""
    def lines():
        try:
            got = Path(path).read_text().splitlines()
        except FileNotFoundError:
            return None
        return got if len(got) >= count else None
    return wait_until(lines, timeout or T(5), message=f"{count} lines in {path}")


ACCESS_LINE = re.compile(r'^\S+ - - \[[^\]]+\] "(?P<method>\S+) (?P<target>\S+) (?P<protocol>[^"]*)" (?P<status>\d{3}) '
                         r'(?P<bytes>\d+|-) ')


def parse_access_line(line):
    m = ACCESS_LINE.match(line)
    assert m, f"not a combined-format line: {line!r}"
    d = m.groupdict()
    d["status"] = int(d["status"])
    d["bytes"] = 0 if d["bytes"] == "-" else int(d["bytes"])
    return d


# --- the master and its workers, the status page (issue 8) ------------------

def children(pid):
    """The live (non-zombie) child processes of pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return sorted(out)


def wait_serving(f, workers, generation=None):
    """Until the master has `workers` children that all serve."""
    def ready():
        if "listening on" not in f.stderr:
            return False
        if generation and f.stderr.count("reloaded: generation") < generation - 1:
            return False
        return len(children(f.pid)) == workers
    wait_until(ready, T(10), message=f"{workers} workers serving:\n{f.stderr[-2000:]}")
    return children(f.pid)


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)\})? (\d+(\.\d+)?)$')


def parse_prometheus(text):
    """{(name, labels): value}, checking the exposition format on the way."""
    samples, types = {}, {}
    helped = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge"), line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
            continue
        m = PROM_LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels = m.group(1), m.group(3) or ""
        assert name in types and name in helped, f"{name} has no HELP/TYPE"
        if types[name] == "counter":
            assert name.endswith("_total"), name
        assert (name, labels) not in samples, f"duplicate sample {line}"
        samples[(name, labels)] = float(m.group(5))
    return samples


# --- TLS (issue 13) ----------------------------------------------------------

def tls_context(cafile=None, check_hostname=False, alpn=None, minimum=None, maximum=None, seclevel=None):
    """A client context.  With cafile, the server's chain must verify against
    it (and, with check_hostname, match the SNI name); without, anything goes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile=str(cafile))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = check_hostname
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if seclevel is not None:  # TLS 1.0/1.1 need level 0 in OpenSSL 3
        ctx.set_ciphers(f"DEFAULT@SECLEVEL={seclevel}")
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: asking for them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum:
            ctx.minimum_version = minimum
        if maximum:
            ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class TLSClient(Client):
    """Client over TLS: the handshake happens in the constructor.  Without a
    context, one is made that verifies the chain against cafile and, when sni
    is given, the name too (verify_name=False to only check the chain)."""

    def __init__(self, port, sni=None, cafile=None, context=None, session=None, verify_name=True, **kw):
        super().__init__(port, **kw)
        if context is None:
            context = tls_context(cafile, check_hostname=bool(cafile and sni and verify_name))
        try:
            self.sock = context.wrap_socket(self.sock, server_hostname=sni, session=session)
        except BaseException:
            self.sock.close()
            raise

    @property
    def cert(self):
        """The verified peer certificate, as ssl.getpeercert() decodes it."""
        cert = self.sock.getpeercert()
        assert cert, "no verified peer certificate (no cafile given?)"
        return cert

    @property
    def serial(self):
        return int(self.cert["serialNumber"], 16)

    @property
    def dns_names(self):
        return [v for k, v in self.cert.get("subjectAltName", ()) if k == "DNS"]

    def reset(self):
        """Closes with a TCP RST (SO_LINGER 0) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def tls_fetch(port, path="/", method="GET", sni=None, cafile=None, context=None, **kw):
    """One request on a fresh TLS connection."""
    with TLSClient(port, sni=sni, cafile=cafile, context=context) as c:
        return c.request(path, method=method, **kw)


# --- stress tests ------------------------------------------------------------------

def stress_tree(root):
    """The files the stress tests serve under root: five of awkward sizes
    (name -> SHA-256 digest, for byte-checking downloaders) and big.bin
    (32 MiB, for the slow readers).  Returns (files, seconds): seconds from
    FERRY_STRESS_SECONDS (default 8)."""
    import hashlib
    KiB, MiB = 1 << 10, 1 << 20
    root.mkdir()
    files = {}
    for i, size in enumerate([3 * KiB, 100 * KiB, 700 * KiB, MiB + 5, 3 * MiB - 1]):
        blob = os.urandom(size)
        (root / f"f{i}.bin").write_bytes(blob)
        files[f"f{i}.bin"] = hashlib.sha256(blob).digest()
    (root / "big.bin").write_bytes(os.urandom(32 * MiB))
    return files, float(os.environ.get("FERRY_STRESS_SECONDS", "8"))


def run_stress(server, threads, deadline, root, errors):
    """Runs the client threads until deadline, evicting every file of root
    from the page cache twice a second; then the server must still run, no
    client may hang, and none may have reported an error."""
    for t in threads:
        t.start()
    while time.monotonic() < deadline:
        for path in root.iterdir():
            drop_from_page_cache(path)
        time.sleep(0.5)
        assert server.running, server.stderr[-3000:]
    for t in threads:
        t.join(timeout=T(90))
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert server.running, server.stderr[-3000:]
    assert not errors, errors[:10]
