"""Several replicas of one tree (issue 15, "Serving from many machines"):
validators that agree across machines.  Two servers serve two copies of a
tree made with cp -p (same bytes and mtimes, other inodes); a cache or a
resuming client that got its validator from one must be answered by the
other with 304 and 206, not a full 200."""

import os
import subprocess

from helpers import fetch

FILES = {
    "index.html": b"<!DOCTYPE html><title>replica</title>\n",
    "data/a.bin": os.urandom(200 * 1024),
    "logs/today.log": b"a log line\n",
}


def make_tree(base):
    a = base / "a"
    for rel, data in FILES.items():
        (a / rel).parent.mkdir(parents=True, exist_ok=True)
        (a / rel).write_bytes(data)
        os.utime(a / rel, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    b = base / "b"
    subprocess.run(["cp", "-rp", str(a), str(b)], check=True)
    for rel in FILES:  # the point of the test: the copies are other inodes
        assert os.stat(a / rel).st_ino != os.stat(b / rel).st_ino
        assert os.stat(a / rel).st_mtime_ns == os.stat(b / rel).st_mtime_ns
    return a, b


def two_replicas(ferry, tmp_path, config=None):
    a, b = make_tree(tmp_path)
    return ferry(docroot=a, config=config or {}), ferry(docroot=b, config=config or {})


def test_copies_share_etag_and_answer_each_others_validators(ferry, tmp_path):
    ra, rb = two_replicas(ferry, tmp_path)
    for path in ("/index.html", "/data/a.bin"):
        first = fetch(ra.port, path)
        etag, lm = first.header("etag"), first.header("last-modified")
        assert first.status == 200 and etag
        assert fetch(rb.port, path).header("etag") == etag
        # a cache that revalidates against the other replica
        r = fetch(rb.port, path, headers={"If-None-Match": etag})
        assert r.status == 304 and r.header("etag") == etag, r
        r = fetch(ra.port, path, headers={"If-None-Match": fetch(rb.port, path).header("etag")})
        assert r.status == 304, r
        assert fetch(rb.port, path, headers={"If-Modified-Since": lm}).status == 304
        # a download resumed on the other replica
        r = fetch(rb.port, path, headers={"Range": "bytes=10-19", "If-Range": etag})
        assert r.status == 206 and r.body == FILES[path[1:]][10:20], r
        r = fetch(rb.port, path, headers={"If-Match": etag})
        assert r.status == 200 and r.body == FILES[path[1:]]


def test_changed_copy_does_not_match(ferry, tmp_path):
    ra, rb = two_replicas(ferry, tmp_path, {"open-file-cache-size": "0"})
    etag = fetch(ra.port, "/data/a.bin").header("etag")
    changed = tmp_path / "b" / "data" / "a.bin"
    data = bytes(reversed(FILES["data/a.bin"]))  # the same size, other bytes and mtime
    changed.write_bytes(data)
    r = fetch(rb.port, "/data/a.bin", headers={"If-None-Match": etag})
    assert r.status == 200 and r.body == data and r.header("etag") != etag
    r = fetch(rb.port, "/data/a.bin", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert r.status == 200 and r.body == data


def test_inode_etag_differs_between_copies(ferry, tmp_path):
    ra, rb = two_replicas(ferry, tmp_path, {"etag": "inode-size-mtime"})
    ea = fetch(ra.port, "/data/a.bin").header("etag")
    eb = fetch(rb.port, "/data/a.bin").header("etag")
    assert ea != eb and ea.count("-") == 2
    r = fetch(rb.port, "/data/a.bin", headers={"If-None-Match": ea})
    assert r.status == 200


def test_etag_off_leaves_last_modified(ferry, tmp_path):
    ra, _ = two_replicas(ferry, tmp_path, {"etag": "off"})
    r = fetch(ra.port, "/data/a.bin")
    assert r.status == 200 and r.header("etag") is None
    lm = r.header("last-modified")
    assert fetch(ra.port, "/data/a.bin", headers={"If-Modified-Since": lm}).status == 304
    assert fetch(ra.port, "/data/a.bin", headers={"If-None-Match": '"x"'}).status == 200
    assert fetch(ra.port, "/data/a.bin", headers={"If-None-Match": "*"}).status == 304
    assert fetch(ra.port, "/data/a.bin", headers={"If-Match": '"x"'}).status == 412
    assert fetch(ra.port, "/data/a.bin", headers={"If-Match": "*"}).status == 200
    # an If-Range entity-tag cannot match a file without one: the whole file
    r = fetch(ra.port, "/data/a.bin", headers={"Range": "bytes=0-9", "If-Range": '"x"'})
    assert r.status == 200 and len(r.body) == len(FILES["data/a.bin"])
    r = fetch(ra.port, "/data/a.bin", headers={"Range": "bytes=0-9", "If-Range": lm})
    assert r.status == 206 and r.body == FILES["data/a.bin"][:10]


def test_etag_per_path(ferry, tmp_path):
    a, _ = make_tree(tmp_path)
    srv = ferry(docroot=a, config="[path /logs/]\netag = off\n[path *.html]\netag = inode-size-mtime\n")
    assert fetch(srv.port, "/logs/today.log").header("etag") is None
    assert fetch(srv.port, "/index.html").header("etag").count("-") == 2
    assert fetch(srv.port, "/data/a.bin").header("etag").count("-") == 1
