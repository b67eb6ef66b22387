"""Fixtures: a docroot with known files, and ferry processes that are
stopped by SIGTERM at the end of each test and must exit 0 (and, on a
sanitizer build, with no sanitizer report)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import BACKENDS, CANARY, Ferry, ferry_bin, tool_missing  # noqa: E402
from tls_pki import PKI  # noqa: E402

MiB = 1 << 20

# A minimal but valid PNG (1x1, transparent).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")



class Site:
    """The docroot (`root`) and, next to it, files that must never be served."""

    def __init__(self, base):
        self.base = base
        self.root = base / "www"
        self.canary = base / "secret.txt"
        self.files = {}  # URL path -> bytes

    def add(self, rel, data):
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files["/" + rel] = data
        return path


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("site")
    s = Site(base)
    s.root.mkdir()
    s.canary.write_bytes(CANARY)
    (base / "outside-dir").mkdir()
    (base / "outside-dir" / "index.html").write_bytes(CANARY)

    s.add("index.html", b"<!DOCTYPE html>\n<title>ferry test</title><h1>root index</h1>\n")
    s.add("a.bin", os.urandom(1024))
    s.add("big.bin", os.urandom(3 * MiB))
    s.add("sub/index.html", b"<!DOCTYPE html>\n<h1>sub index</h1>\n")
    s.add("sub/page.txt", b"a page in sub\n")
    s.add("noindex/file.txt", b"file in a directory without an index\n")
    s.add("caf\u00e9 menu.txt", "espresso \u2615\n".encode())
    s.add("style.css", b"body { color: red }\n")
    s.add("app.js", b"console.log('ferry');\n")
    s.add("data.json", b'{"ferry": true}\n')
    s.add("img.png", PNG)
    s.add("blob.xyzzy", b"unknown extension\n")
    s.add("README", b"no extension\n")
    s.add("empty.txt", b"")
    s.add("home/home.htm", b"<p>home.htm index</p>\n")
    s.add("home/index.html", b"<p>home index.html</p>\n")
    # 64 MiB: 1 MiB of random bytes, repeated with a changing prefix so that
    # a misplaced chunk cannot go unnoticed.
    block = os.urandom(MiB - 8)
    with open(s.root / "huge.bin", "wb") as f:
        for i in range(64):
            f.write(i.to_bytes(8, "big") + block)
    s.huge_size = 64 * MiB

    os.symlink("index.html", s.root / "link-inside")
    os.symlink("sub", s.root / "dirlink-inside")
    os.symlink("../secret.txt", s.root / "link-outside")
    os.symlink(str(s.canary), s.root / "link-outside-abs")
    os.symlink("../outside-dir", s.root / "dirlink-outside")
    os.mkfifo(s.root / "fifo")
    return s


def pytest_configure(config):
    if not os.access(ferry_bin(), os.X_OK):
        raise pytest.UsageError(f"ferry binary {ferry_bin()} not found (build it: make; or set FERRY_BIN)")


@pytest.fixture
def ferry(tmp_path):
    """A factory: ferry(docroot=..., backend=..., config={...}, args=[...]).
    Starts the server and waits until it accepts connections.  At the end of
    the test every server still running is stopped with SIGTERM and must
    exit 0."""
    started = []

    def make(start=True, **kw):
        f = Ferry(tmp_path, **kw)
        started.append(f)
        if start:
            f.start()
        return f

    yield make
    errors = []
    for f in started:
        if f.proc is None:
            continue
        if f.proc.poll() is None:
            try:
                f.stop()
            except AssertionError as e:
                errors.append(str(e))
        elif f.returncode is None and f.proc.returncode != 0:
            errors.append(f"ferry exited with {f.proc.returncode}:\n{f.stderr[-3000:]}")
        else:
            try:
                f.check_sanitizers()
            except AssertionError as e:
                errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors))


@pytest.fixture
def tmpfs(tmp_path):
    """mount(SIZE) mounts a tmpfs of that size in tmp_path and returns its path; unmounted at the end.
    A small one stands for Docker's /dev/shm (64 MiB for the container)."""
    mounted = []

    def mount(size):
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        path = tmp_path / f"shm-{size}"
        path.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)])


@pytest.fixture(params=BACKENDS)
def server(request, ferry, site):
    """ferry on the test docroot, once per backend."""
    return ferry(docroot=site.root, backend=request.param)


@pytest.fixture
def server1(ferry, site):
    """ferry on the test docroot with the default backend."""
    return ferry(docroot=site.root)


@pytest.fixture
def have_curl():
    if not shutil.which("curl"):
        tool_missing("curl is not installed")


@pytest.fixture(scope="session")
def cert(tmp_path_factory):
    """One self-signed ECDSA certificate for localhost: (cert.pem, key.pem),
    for the stress tests that need TLS but no chain."""
    d = tmp_path_factory.mktemp("selfsigned")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "30",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Certificates made with openssl for the TLS tests (tls_pki.py): a root
    CA, an intermediate, and leaves for a.test, b.test, *.wild.test and
    default.test (ECDSA and RSA), plus the odd ones (wrong key, expired,
    expiring in 5 days, a second default.test)."""
    return PKI(tmp_path_factory.mktemp("pki"))
