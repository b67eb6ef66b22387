"""The command line and the configuration file (issue items 2 and 3)."""

import socket

import pytest

from helpers import BACKENDS, T, fetch, free_port, run_ferry, write_config


# --- -h, -V, bad usage -------------------------------------------------------

@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_exits_0_and_lists_options(flag):
    r = run_ferry([flag])
    assert r.returncode == 0, r.stderr
    assert "usage: ferry" in r.stdout
    for opt in ("--config", "--root", "--listen", "--backend", "--test-config", "--help", "--version"):
        assert opt in r.stdout
    for backend in BACKENDS:
        assert backend in r.stdout


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_exits_0(flag):
    r = run_ferry([flag])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ferry ")
    assert any(ch.isdigit() for ch in r.stdout)


@pytest.mark.parametrize("args", [["-x"], ["--no-such-option"], ["-r"], ["stray-argument"]])
def test_bad_usage_exits_1(args):
    r = run_ferry(args)
    assert r.returncode == 1
    assert "usage" in r.stderr


# --- -t: validating a configuration -----------------------------------------

VALID_CONFIG = """\
# every key, with comments and odd spacing
listen = 127.0.0.1:18080
listen=[::1]:18080   # a comment after whitespace
docroot = "/srv/www"
backend = writev
index-files = index.html index.htm
mime-types-file = off
access-log = off
error-log = stderr
log-level = warn
max-connections = 10
keepalive-timeout = 500ms
header-timeout = 2s
write-timeout = 1m
shutdown-timeout = 1h
max-request-header-size = 4k
max-keepalive-requests = 0
max-request-body-discard = 64k
send-chunk-size = 256k
body-cache-size = 1m
"""


def test_test_config_accepts_valid_file(tmp_path):
    conf = tmp_path / "ok.conf"
    (tmp_path / "srv" / "www").mkdir(parents=True)  # -t opens the docroot, as a start would
    conf.write_text(VALID_CONFIG.replace('"/srv/www"', f'"{tmp_path}/srv/www"'))
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout


def test_test_config_long_option_and_empty_file(tmp_path):
    conf = tmp_path / "empty.conf"
    conf.write_text("")
    r = run_ferry(["--test-config", "--config", str(conf)])
    assert r.returncode == 0, r.stderr


def test_test_config_accepts_sample_config():
    from helpers import REPO
    r = run_ferry(["-t", "-c", str(REPO / "doc" / "ferry.conf")])
    assert r.returncode == 0, r.stderr


# (line number of the bad line, key named in the message or None, the file)
BAD_CONFIGS = {
    "unknown key": (2, "no-such-key", "listen = 127.0.0.1:18080\nno-such-key = 1\n"),
    "missing =": (3, None, "# comment\n\nbackend writev\n"),
    "bad number": (1, "max-connections", "max-connections = 12x\n"),
    "signed number": (1, "max-connections", "max-connections = -5\n"),
    "zero connections": (2, "max-connections", "\nmax-connections = 0\n"),
    "size out of range": (1, "max-request-header-size", "max-request-header-size = 10\n"),
    "bad size suffix": (1, "send-chunk-size", "send-chunk-size = 64q\n"),
    "body cache too large": (2, "body-cache-size", "\nbody-cache-size = 2g\n"),
    "bad body cache size": (1, "body-cache-size", "body-cache-size = lots\n"),
    "zero duration": (1, "header-timeout", "header-timeout = 0\n"),
    "duration too long": (1, "keepalive-timeout", "keepalive-timeout = 25h\n"),
    "bad duration suffix": (1, "write-timeout", "write-timeout = 5 seconds\n"),
    "bad listen port": (1, "listen", "listen = 127.0.0.1:70000\n"),
    "bad listen address": (1, "listen", "listen = 300.1.1.1:80\n"),
    "ipv6 without brackets": (1, "listen", "listen = ::1:80\n"),
    "duplicate listen": (2, "listen", "listen = 127.0.0.1:18080\nlisten = 127.0.0.1:18080\n"),
    "unknown backend": (4, "backend", "\n\n\nbackend = carrier-pigeon\n"),
    "bad log level": (1, "log-level", "log-level = loud\n"),
    "error log off": (1, "error-log", "error-log = off\n"),
    "empty docroot": (1, "docroot", 'docroot = ""\n'),
    "index with slash": (1, "index-files", "index-files = a/index.html\n"),
    "unterminated quote": (1, "access-log", 'access-log = "/tmp/x.log\n'),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_test_config_rejects_invalid_file_naming_file_line_key(tmp_path, case):
    line, key, text = BAD_CONFIGS[case]
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"{conf}:{line}:" in r.stderr, r.stderr
    if key:
        assert f"{conf}:{line}: {key}:" in r.stderr, r.stderr
    assert "valid" not in r.stdout


def test_unknown_backend_message_lists_the_valid_ones(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("backend = nope\n")
    r = run_ferry(["-t", "-c", str(conf)])
    assert r.returncode == 1
    for name in BACKENDS:
        assert name in r.stderr


def test_test_config_missing_file(tmp_path):
    missing = tmp_path / "missing.conf"
    r = run_ferry(["-t", "-c", str(missing)])
    assert r.returncode == 1
    assert str(missing) in r.stderr


def test_server_refuses_to_start_on_invalid_config(tmp_path, site):
    port = free_port()
    conf = tmp_path / "bad.conf"
    write_config(conf, f"listen = 127.0.0.1:{port}\ndocroot = {site.root}\nmax-connections = many\n")
    r = run_ferry(["-c", str(conf)], timeout=T(10))
    assert r.returncode == 1
    assert f"{conf}:3: max-connections:" in r.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.parametrize("option", ["-B", "--backend"])
def test_unknown_backend_on_command_line(site, option):
    port = free_port()
    r = run_ferry(["-r", str(site.root), "-l", f"127.0.0.1:{port}", option, "nosuch"])
    assert r.returncode == 1
    assert "nosuch" in r.stderr
    assert "command line" in r.stderr
    for name in BACKENDS:
        assert name in r.stderr


def test_bad_listen_on_command_line(site):
    r = run_ferry(["-r", str(site.root), "-l", "127.0.0.1:0x50"])
    assert r.returncode == 1
    assert "command line" in r.stderr and "listen" in r.stderr


def test_missing_docroot_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-dir"
    r = run_ferry(["-r", str(missing), "-l", f"127.0.0.1:{free_port()}"])
    assert r.returncode != 0
    assert str(missing) in r.stderr
    assert "No such file or directory" in r.stderr


def test_docroot_that_is_a_file_is_an_error(site):
    path = site.root / "index.html"
    r = run_ferry(["-r", str(path), "-l", f"127.0.0.1:{free_port()}"])
    assert r.returncode != 0
    assert str(path) in r.stderr


def test_listen_address_in_use_is_an_error(site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_ferry(["-r", str(site.root), "-l", f"127.0.0.1:{port}"])
    assert r.returncode == 1
    assert f"127.0.0.1:{port}" in r.stderr
    assert "in use" in r.stderr


def test_long_options_serve(ferry, site):
    port = free_port()
    f = ferry(listen=False, port=port,
              args=["--root", str(site.root), "--listen", f"127.0.0.1:{port}", "--backend", "writev"])
    r = fetch(port, "/index.html")
    assert r.status == 200 and r.body == site.files["/index.html"]
    assert "backend writev" in f.stderr


def test_listen_port_only_means_all_ipv4_addresses(ferry, site):
    port = free_port()
    f = ferry(docroot=site.root, listen=False, port=port, args=["-l", str(port)])
    assert fetch(port, "/index.html").status == 200
    assert f"0.0.0.0:{port}" in f.stderr


# --- the command line overrides the file --------------------------------------

def test_command_line_docroot_overrides_config(ferry, tmp_path):
    a = tmp_path / "A"
    b = tmp_path / "B"
    a.mkdir()
    b.mkdir()
    (a / "which.txt").write_bytes(b"docroot A\n")
    (b / "which.txt").write_bytes(b"docroot B\n")
    f = ferry(config={"docroot": str(a)}, docroot=b)
    r = fetch(f.port, "/which.txt")
    assert r.status == 200
    assert r.body == b"docroot B\n"


def test_config_docroot_used_without_override(ferry, tmp_path):
    a = tmp_path / "A"
    a.mkdir()
    (a / "which.txt").write_bytes(b"docroot A\n")
    f = ferry(config={"docroot": str(a)})
    assert fetch(f.port, "/which.txt").body == b"docroot A\n"


def test_command_line_listen_and_backend_override_config(ferry, site):
    config_port = free_port()
    f = ferry(config={"listen": f"127.0.0.1:{config_port}", "backend": "sendfile",
                      "docroot": str(site.root)}, backend="writev")
    assert fetch(f.port, "/a.bin").body == site.files["/a.bin"]
    assert "backend writev" in f.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", config_port), timeout=1).close()


def test_two_listen_addresses_on_the_command_line(ferry, site):
    second = free_port()
    f = ferry(docroot=site.root, args=["-l", f"127.0.0.1:{second}"])
    f.wait_ready(port=second)
    for port in (f.port, second):
        r = fetch(port, "/index.html")
        assert r.status == 200 and r.body == site.files["/index.html"]


def test_two_listen_addresses_in_config(ferry, site):
    p1, p2 = free_port(), free_port()
    f = ferry(config={"listen": [f"127.0.0.1:{p1}", f"localhost:{p2}"], "docroot": str(site.root)},
              listen=False, port=p1)
    f.wait_ready(port=p2)
    for port in (p1, p2):
        assert fetch(port, "/a.bin").body == site.files["/a.bin"]


def test_ipv6_listen(ferry, site):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback")
    f = ferry(docroot=site.root, listen=False, port=port, host="::1", args=["-l", f"[::1]:{port}"])
    assert f"[::1]:{port}" in f.stderr
    with f.client() as c:
        r = c.request("/index.html", host="[::1]")
        assert r.status == 200 and r.body == site.files["/index.html"]


def test_config_relative_docroot_is_relative_to_start_directory(ferry, tmp_path):
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "x.txt").write_bytes(b"relative\n")
    f = ferry(config="docroot = rel\n")  # ferry starts in tmp_path
    assert fetch(f.port, "/x.txt").body == b"relative\n"
