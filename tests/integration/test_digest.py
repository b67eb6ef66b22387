"""etag = digest and Repr-Digest (RFC 9530; issue 15 item 1): a strong ETag
from the file's SHA-256, identical on replicas whose mtimes differ; the
digest computed once per version off the loop (never waited for: until it
is known the response goes out without it), remembered in memory and in
the user.ferry.sha256 attribute, never served for a file that changed."""

import base64
import hashlib
import json
import os
import time

import pytest

from helpers import Client, T, fetch, wait_until

from test_faults import hooks_bin

MiB = 1 << 20


def sha_etag(data):
    return '"%s"' % hashlib.sha256(data).hexdigest()


def repr_digest(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


def status(srv):
    return json.loads(fetch(srv.port, "/status").body)["digests"]


def settled(srv, path, headers=None):
    """Asks until the digest is known (the first answers go without it)."""
    def known():
        r = fetch(srv.port, path, headers=headers)
        return r if r.header("repr-digest") else None
    return wait_until(known, T(10), message=f"the digest of {path}")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    files = {"a.bin": os.urandom(300 * 1024), "small.txt": b"hello replicas\n", "empty.txt": b""}
    for name, data in files.items():
        (root / name).write_bytes(data)
        os.utime(root / name, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return root, files


CONF = {"etag": "digest", "status-path": "/status"}


def test_digest_etag_and_repr_digest(ferry, tree):
    root, files = tree
    srv = ferry(docroot=root, config=CONF)
    for name, data in files.items():
        r = settled(srv, "/" + name)
        assert r.status == 200 and r.body == data
        assert r.header("etag") == sha_etag(data)
        assert r.header("repr-digest") == repr_digest(data)
        h = fetch(srv.port, "/" + name, method="HEAD")
        assert h.header("etag") == sha_etag(data) and h.header("repr-digest") == repr_digest(data)
    data = files["a.bin"]
    # a range carries the digest of the whole representation
    r = fetch(srv.port, "/a.bin", headers={"Range": "bytes=5-9"})
    assert r.status == 206 and r.body == data[5:10] and r.header("repr-digest") == repr_digest(data)
    r = fetch(srv.port, "/a.bin", headers={"Range": "bytes=0-1,10-11"})
    assert r.status == 206 and r.header("repr-digest") == repr_digest(data)
    r = fetch(srv.port, "/a.bin", headers={"If-None-Match": sha_etag(data)})
    assert r.status == 304 and r.header("etag") == sha_etag(data) and r.header("repr-digest") is None
    s = status(srv)
    assert s["entries"] == 3 and s["pending"] == 0
    assert s["hashed"] + s["from_xattr"] == 3


def test_replicas_with_other_mtimes_agree(ferry, tree, tmp_path):
    root, files = tree
    other = tmp_path / "nix"
    other.mkdir()
    for name, data in files.items():  # the same bytes, mtime 1 (Nix, reproducible builds)
        (other / name).write_bytes(data)
        os.utime(other / name, ns=(1_000_000_000, 1_000_000_000))
    a = ferry(docroot=root, config=CONF)
    b = ferry(docroot=other, config=CONF)
    ea = settled(a, "/a.bin").header("etag")
    eb = settled(b, "/a.bin").header("etag")
    assert ea == eb == sha_etag(files["a.bin"])
    assert fetch(b.port, "/a.bin", headers={"If-None-Match": ea}).status == 304
    r = fetch(b.port, "/a.bin", headers={"Range": "bytes=100-199", "If-Range": ea})
    assert r.status == 206 and r.body == files["a.bin"][100:200]


def test_tag_given_before_the_digest_still_matches(ferry, tree):
    root, files = tree
    srv = ferry(docroot=root, config=CONF)
    interim = fetch(srv.port, "/a.bin").header("etag")  # before the digest is known: size-mtime
    st = os.stat(root / "a.bin")
    assert interim == '"%x-%x"' % (st.st_size, st.st_mtime_ns)
    settled(srv, "/a.bin")
    r = fetch(srv.port, "/a.bin", headers={"If-None-Match": interim})
    assert r.status == 304 and r.header("etag") == sha_etag(files["a.bin"])
    r = fetch(srv.port, "/a.bin", headers={"Range": "bytes=0-9", "If-Range": interim})
    assert r.status == 206 and r.body == files["a.bin"][:10]


def test_want_repr_digest(ferry, tree):
    root, files = tree
    data = files["small.txt"]
    plain = ferry(docroot=root, config={"status-path": "/status"})
    # etag = size-mtime: no digest unless asked; asked, it is computed and sent
    assert fetch(plain.port, "/small.txt").header("repr-digest") is None
    r = settled(plain, "/small.txt", headers={"Want-Repr-Digest": "sha-512=9, sha-256=3"})
    assert r.header("repr-digest") == repr_digest(data)
    assert r.header("etag").count("-") == 1  # the ETag is still size-mtime
    assert fetch(plain.port, "/small.txt").header("repr-digest") is None
    # etag = digest: sent unless the client refuses sha-256
    srv = ferry(docroot=root, config=CONF)
    settled(srv, "/small.txt")
    for refuse in ("sha-256=0", "sha-512=5"):
        r = fetch(srv.port, "/small.txt", headers={"Want-Repr-Digest": refuse})
        assert r.header("repr-digest") is None and r.header("etag") == sha_etag(data)
    # a field that does not parse is ignored
    r = fetch(srv.port, "/small.txt", headers={"Want-Repr-Digest": "SHA-256=0"})
    assert r.header("repr-digest") == repr_digest(data)


def test_changed_file_gets_a_new_digest(ferry, tree):
    root, files = tree
    srv = ferry(docroot=root, config={**CONF, "open-file-cache-size": "0"})
    old = files["a.bin"]
    settled(srv, "/a.bin")
    new = bytes(reversed(old))  # the same size
    (root / "a.bin").write_bytes(new)
    r = fetch(srv.port, "/a.bin")
    assert r.body == new
    assert r.header("repr-digest") != repr_digest(old) and r.header("etag") != sha_etag(old)
    r = settled(srv, "/a.bin")
    assert r.header("repr-digest") == repr_digest(new) and r.header("etag") == sha_etag(new)
    assert fetch(srv.port, "/a.bin", headers={"If-None-Match": sha_etag(old)}).status == 200


def test_attribute_remembers_the_digest(ferry, tree):
    root, files = tree
    srv = ferry(docroot=root, config=CONF)
    settled(srv, "/a.bin")
    try:
        value = os.getxattr(root / "a.bin", "user.ferry.sha256").decode()
    except OSError as e:
        pytest.fail(f"the test directory's file system takes no user attributes: {e}")
    st = os.stat(root / "a.bin")
    assert value == "%d %d %s" % (st.st_size, st.st_mtime_ns, hashlib.sha256(files["a.bin"]).hexdigest())
    assert status(srv)["xattr_stored"] >= 1
    srv.stop()
    again = ferry(docroot=root, config=CONF)
    assert settled(again, "/a.bin").header("etag") == sha_etag(files["a.bin"])
    s = status(again)
    assert s["from_xattr"] == 1 and s["hashed"] == 0
    # an attribute for another version is not believed
    os.setxattr(root / "small.txt", "user.ferry.sha256", b"15 1 " + b"0" * 64)
    assert settled(again, "/small.txt").header("etag") == sha_etag(files["small.txt"])


def test_cache_is_bounded(ferry, tree):
    root, _ = tree
    srv = ferry(docroot=root, config={**CONF, "digest-cache-size": "2"})
    for name in ("a.bin", "small.txt", "empty.txt"):
        settled(srv, "/" + name)
    s = status(srv)
    assert s["entries"] == 2 and s["evicted"] >= 1


def test_hashing_stays_off_the_loop(ferry, tree, monkeypatch):
    """The hooks build makes every read of a file being hashed 300 ms
    slower: while a 4 MiB file takes seconds to hash, the one loop of -X
    serves everything else at once, and the response goes out without the
    digest instead of waiting for it."""
    root, files = tree
    big = os.urandom(4 * MiB)
    (root / "big.bin").write_bytes(big)
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_DIGEST_DELAY_MS", "300")
    srv = ferry(docroot=root, config="etag = digest\nstatus-path = /status\n[path *.txt]\netag = size-mtime\n")
    t0 = time.monotonic()
    r = fetch(srv.port, "/big.bin")
    assert r.body == big and r.header("repr-digest") is None
    worst, answered = 0.0, 0
    with Client(srv.port) as c:
        while status(srv)["pending"] == 1 and time.monotonic() - t0 < T(5):
            t = time.monotonic()
            assert c.request("/small.txt").body == files["small.txt"]
            worst = max(worst, time.monotonic() - t)
            answered += 1
            time.sleep(0.05)
    assert worst < 0.25, f"a request waited {worst:.3f}s while a file was hashed"
    assert answered >= 10, f"only {answered} answers while the file was hashed"
    assert settled(srv, "/big.bin").header("etag") == sha_etag(big)


def test_file_written_while_hashed_gets_no_digest(ferry, tree, monkeypatch):
    root, _ = tree
    big = os.urandom(4 * MiB)
    (root / "big.bin").write_bytes(big)
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_DIGEST_DELAY_MS", "200")
    srv = ferry(docroot=root, config={**CONF, "open-file-cache-size": "0"})
    fetch(srv.port, "/big.bin")
    time.sleep(0.3)  # the thread is reading it
    with open(root / "big.bin", "r+b") as f:  # changed in place: the same inode and size
        f.write(b"X" * 16)
    changed = b"X" * 16 + big[16:]
    wait_until(lambda: status(srv)["changed"] == 1, T(10), message="the digest dropped")
    r = settled(srv, "/big.bin")
    assert r.body == changed and r.header("etag") == sha_etag(changed)


@pytest.mark.parametrize("master", [False, True])
def test_stop_cuts_a_hash_short(ferry, tree, monkeypatch, master):
    root, _ = tree
    (root / "big.bin").write_bytes(os.urandom(16 * MiB))
    monkeypatch.setenv("FERRY_BIN", hooks_bin())
    monkeypatch.setenv("FERRY_DIGEST_DELAY_MS", "500")
    args = ["-w", "1", *(["-u", "root"] if os.geteuid() == 0 else [])] if master else []
    srv = ferry(docroot=root, config=CONF, master=master, args=args)
    fetch(srv.port, "/big.bin")
    wait_until(lambda: status(srv)["pending"] == 1, T(5), message="hashing under way")
    t = time.monotonic()
    srv.stop()
    assert time.monotonic() - t < T(3), "the stop waited for the whole hash"
