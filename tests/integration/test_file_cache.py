"""The open-file cache: an entry whose ttl has passed is closed on the
server's once-a-second tick, not only when its name is asked for again, so
a file deleted (or rotated away) after it was served does not keep its disk
space held by the worker."""

import os
import time

from helpers import T, fetch, wait_until

TICK = 1.0  # the server's tick (TICK_MS in server.c)


def held_files(pid):
    """The targets of the process's descriptors, as /proc shows them."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed while listed
            pass
    return targets


def holds(pid, path):
    return any(t in (str(path), f"{path} (deleted)") for t in held_files(pid))


def docroot(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "gone.bin").write_bytes(os.urandom(4096))
    (root / "other.txt").write_bytes(b"another file\n")
    return root


def test_expired_entry_of_a_deleted_file_is_closed_on_the_tick(ferry, tmp_path):
    root = docroot(tmp_path)
    gone = root / "gone.bin"
    server = ferry(docroot=root, config={"open-file-cache-ttl": "200ms"})
    assert fetch(server.port, "/gone.bin").status == 200
    assert holds(server.pid, gone), "the open-file cache did not keep the file"
    gone.unlink()
    assert fetch(server.port, "/other.txt").status == 200  # other names do not ask for gone.bin
    wait_until(lambda: not holds(server.pid, gone), T(0.2 + 2 * TICK), interval=0.05,
               message=f"the worker to close gone.bin (holds {held_files(server.pid)})")


def test_entry_within_its_ttl_stays_open_across_ticks(ferry, tmp_path):
    root = docroot(tmp_path)
    server = ferry(docroot=root, config={"open-file-cache-ttl": "1h"})
    assert fetch(server.port, "/gone.bin").status == 200
    time.sleep(1.5 * TICK)
    assert holds(server.pid, root / "gone.bin")
