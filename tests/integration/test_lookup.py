"""open()/stat() off the loop (issue 7): with io-uring and auto, a name the
open-file cache does not know is looked up through the ring (a statx in the
ring's workers) before the loop opens it, so a cold directory tree never
stalls the loop.  The backend counts its lookups; the tests check the
count, that answers are unchanged (files, index files, redirects, 404s,
pipelined requests in order), and that connections which go away while
their lookup runs leave the server healthy."""

import json
import os
import socket

import pytest

from helpers import T, Client, build_request, fetch

LOOKUP_BACKENDS = ["io-uring", "auto"]


@pytest.fixture(params=LOOKUP_BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "www"
    (root / "d1" / "d2").mkdir(parents=True)
    for i in range(20):
        (root / "d1" / "d2" / f"f{i}.txt").write_bytes(f"file {i}\n".encode())
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<h1>sub</h1>\n")
    return root


def lookups(server):
    with Client(server.port) as c:
        c.send(build_request("/_status", headers={"Accept": "application/json"}))
        r = c.read_response()
    assert r.status == 200, r.status
    return json.loads(r.body)["backend"]["lookups"]


def start(ferry, site, backend, **extra):
    config = {"status-path": "/_status", "open-file-cache-ttl": "1h"}
    config.update(extra)
    return ferry(docroot=site, backend=backend, config=config)


def test_cold_names_are_looked_up_once(ferry, site, backend):
    server = start(ferry, site, backend)
    for i in range(20):
        r = fetch(server.port, f"/d1/d2/f{i}.txt")
        assert (r.status, r.body) == (200, f"file {i}\n".encode())
    assert lookups(server) == 20
    for i in range(20):  # now in the open-file cache: no lookup
        assert fetch(server.port, f"/d1/d2/f{i}.txt").status == 200
    assert lookups(server) == 20


def test_answers_are_unchanged(ferry, site, backend):
    server = start(ferry, site, backend)
    assert fetch(server.port, "/sub/").body == b"<h1>sub</h1>\n"
    r = fetch(server.port, "/sub")
    assert r.status == 301 and r.header("location").endswith("/sub/")
    assert fetch(server.port, "/missing.txt").status == 404
    assert fetch(server.port, "/d1/d2/f3.txt/").status == 404
    assert lookups(server) >= 4


def test_pipelined_requests_answer_in_order(ferry, site, backend):
    server = start(ferry, site, backend)
    paths = [f"/d1/d2/f{i}.txt" for i in range(20)] + ["/missing", "/sub/", "/d1/d2/f0.txt"]
    with Client(server.port, timeout=T(10)) as c:
        c.send(b"".join(build_request(p) for p in paths))
        for p in paths:
            r = c.read_response()
            if p == "/missing":
                assert r.status == 404
            elif p == "/sub/":
                assert r.body == b"<h1>sub</h1>\n"
            else:
                assert r.body == f"file {int(p.split('f')[-1].split('.')[0])}\n".encode(), p


def test_clients_leaving_during_lookups(ferry, site, backend):
    """Each client sends its request and resets the connection at once, so
    many leave while their lookup runs; the server must stay healthy."""
    server = start(ferry, site, backend, **{"open-file-cache-size": "0"})
    for round_ in range(10):
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(build_request(f"/d1/d2/f{i}.txt"))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
    r = fetch(server.port, "/d1/d2/f7.txt")
    assert (r.status, r.body) == (200, b"file 7\n")
    assert lookups(server) > 0
    fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    assert fds < 40, f"{fds} descriptors open after the resets"


def test_synchronous_backends_do_not_look_up(ferry, site):
    server = start(ferry, site, "sendfile")
    assert fetch(server.port, "/d1/d2/f1.txt").status == 200
    assert lookups(server) == 0
