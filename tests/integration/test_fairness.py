"""Fairness (issue item 7): big downloads must not starve small requests."""

import hashlib
import threading
import time

import pytest

from helpers import BACKENDS, T, Client, build_request, fetch

SUB_PAGE = b"a page in sub\n"
MiB = 1 << 20


def huge_digest(site):
    if not hasattr(site, "huge_sha"):
        h = hashlib.sha256()
        with open(site.root / "huge.bin", "rb") as f:
            for block in iter(lambda: f.read(MiB), b""):
                h.update(block)
        site.huge_sha = h.hexdigest()
    return site.huge_sha


@pytest.mark.parametrize("chunk", ["64k", "512k"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_small_requests_served_during_big_downloads(ferry, site, backend, chunk):
    f = ferry(docroot=site.root, backend=backend, config={"send-chunk-size": chunk})
    want = huge_digest(site)
    results = {}

    def download(i):
        try:
            with Client(f.port, timeout=T(30)) as c:
                c.send(build_request("/huge.bin"))
                head = c.read_head()
                assert b"200 OK" in head.split(b"\r\n")[0]
                h = hashlib.sha256()
                left = site.huge_size
                while left:
                    piece = c.read_exact(min(4 * MiB, left))
                    h.update(piece)
                    left -= len(piece)
                results[i] = h.hexdigest()
        except Exception as e:  # checked below
            results[i] = e

    threads = [threading.Thread(target=download, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    small = []
    while any(t.is_alive() for t in threads) or len(small) < 5:
        start = time.monotonic()
        r = fetch(f.port, "/sub/page.txt")
        small.append((r.status, r.body, time.monotonic() - start))
        if len(small) > 1000:
            break
    for t in threads:
        t.join(T(60))
    for i in range(3):
        assert results.get(i) == want, f"download {i}: {results.get(i)!r}"
    for status, body, elapsed in small:
        assert status == 200 and body == SUB_PAGE
        assert elapsed < T(5), f"a small request took {elapsed:.2f}s during big downloads"
