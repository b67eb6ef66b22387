"""The benchmark scripts work: one tiny point of each workload against
ferry (bench/run.sh --smoke), and of the TLS workloads against the TLS
peers and ferry (--smoke --tls).  It measures nothing; the figures live in
bench/out and in the closing notes, never in timed assertions."""

import os
import re
import subprocess

from helpers import REPO, T, ferry_bin


def test_bench_smoke_runs_every_workload():
    env = dict(os.environ, FERRY_BIN=ferry_bin())
    r = subprocess.run(["bench/run.sh", "--smoke", "--out", "build/bench-smoke"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=T(180))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = (REPO / "build/bench-smoke/report.md").read_text()
    for workload in ("W1", "W2", "W3", "W4", "W5", "W6", "W7"):
        assert f"## {workload}" in report, workload
    # W7: ferry's answers came compressed (zstd, the first of compress = zstd br gzip) and decoded
    # to the files (an error otherwise, and the run would have failed).
    results = [line.split("\t") for line in (REPO / "build/bench-smoke/results.tsv").read_text().splitlines()[1:]]
    assert [x[4] for x in results if x[0] == "W7" and x[4].startswith("coding_")] == ["coding_zstd"], results


def section(report, workload):
    """The text of one workload's section of report.md."""
    m = re.search(r"^## %s .*?(?=^## |\Z)" % workload, report, re.S | re.M)
    assert m, workload
    return m.group(0)


def row(text, label):
    """The cells of the table row for server/backend label."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return cells
    return None


def test_bench_smoke_tls_peers_and_ferry():
    # The TLS workloads against nginx, lighttpd and h2o, each with the bench
    # certificate, and ferry-tls when this ferry speaks TLS: every row has
    # figures, no point failed.  A ferry without TLS is left out with a note
    # saying so (the run still passes: the peers' rows prove the harness).
    env = dict(os.environ, FERRY_BIN=ferry_bin())
    out = "build/bench-smoke-tls"
    r = subprocess.run(["bench/run.sh", "--smoke", "--tls", "--servers", "ferry,nginx,lighttpd,h2o",
                        "--out", out], cwd=REPO, env=env, capture_output=True, text=True, timeout=T(180))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = (REPO / out / "report.md").read_text()
    ferry_has_tls = "ferry: no TLS in this build" not in report
    labels = ["nginx/tls", "lighttpd/tls", "h2o/tls"] + (["ferry/tls"] if ferry_has_tls else [])
    if not ferry_has_tls:
        assert "ferry/tls" not in report
    # Every server negotiated TLS 1.3 with the bench certificate (a server
    # serving another certificate would not have started).
    tls = section(report, "TLS:")
    for label in labels:
        cells = row(tls, label)
        assert cells and cells[1].startswith("TLSv1.3 "), (label, cells)
    results = (REPO / out / "results.tsv").read_text().splitlines()[1:]
    # Throughput above zero; CPU figures present (a smoke point is too short
    # for the 10 ms clock ticks to be sure to count any).
    for workload, metric, least in (("T1", "rps", 1), ("T2", "rps", 1), ("T2", "full_rps", 1),
                                    ("T2", "res_rps", 1), ("T2", "res_pct", 1), ("T3", "mibps", 1),
                                    ("T1", "cpu_us_per_req", 0), ("T3", "cpu_s_per_gib", 0)):
        for label in labels:
            server, backend = label.split("/")
            values = [line.split("\t")[5] for line in results
                      if line.split("\t")[:3] == [workload, server, backend] and line.split("\t")[4] == metric]
            assert values and float(values[0]) >= least, (workload, label, metric, values)
    for workload in ("T1", "T2", "T3"):
        text = section(report, workload)
        assert "ERROR" not in text, text
        for label in labels:
            cells = row(text, label)
            assert cells and cells[-1] in ("0/1",), (workload, label, cells)


def test_bench_smoke_h2_peers_and_ferry():
    # The HTTP/2 workloads (--h2: H1, H2, fio, H3) against ferry, nginx and
    # h2o over TLS with the bench certificate: each negotiated h2 by ALPN with
    # h2load (an h2load run on another protocol is an error), every row has
    # figures, H2 has the same server's HTTP/1.1 figure beside its h2 one.
    env = dict(os.environ, FERRY_BIN=ferry_bin())
    out = "build/bench-smoke-h2"
    r = subprocess.run(["bench/run.sh", "--smoke", "--h2", "--servers", "ferry,nginx,h2o", "--out", out],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=T(180))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = (REPO / out / "report.md").read_text()
    labels = ["ferry/tls", "nginx/tls", "h2o/tls"]
    intro = section(report, "HTTP/2:")
    for label in labels:
        cells = row(intro, label)
        assert cells and cells[1].startswith("TLSv1.3 ") and cells[1].endswith(", h2"), (label, cells)
    results = [line.split("\t") for line in (REPO / out / "results.tsv").read_text().splitlines()[1:]]
    for workload, metric, least in (("H1", "rps", 1), ("H2", "mibps", 1), ("H2", "h1_mibps", 1),
                                    ("H2", "h2_vs_h1", 0.01), ("H3", "mibps", 1), ("H1", "cpu_us_per_req", 0)):
        for label in labels:
            server, backend = label.split("/")
            values = [x[5] for x in results if x[:3] == [workload, server, backend] and x[4] == metric]
            assert values and all(float(v) >= least for v in values), (workload, label, metric, values)
    for workload in ("H1", "H2", "H3"):
        text = section(report, workload)
        assert "ERROR" not in text, text
        for label in labels:
            cells = row(text, label)
            assert cells and cells[-1] == "0/1", (workload, label, cells)


def test_bench_compare_cold_interleaves_two_builds_and_the_disk():
    # compare.sh -w W3: both builds (and lighttpd) download the same cold files in
    # alternating order, and fio reads them too; the summary gives B / A and each
    # build's share of the disk's ceiling.  Tiny files: it proves the script.
    env = dict(os.environ, COMPARE_COLD=str(REPO / "build/compare-cold"))
    r = subprocess.run(["bench/compare.sh", "-w", "W3", "-r", "2", "-c", "2", "-m", "4", "-p", "lighttpd",
                        ferry_bin(), ferry_bin()], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=T(180))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    server = r"\d+ MiB/s \([\d.]+ CPU-s/GiB\)"
    rounds = re.findall(r"^compare.sh: round \d+: (A|B) %s (A|B) %s lighttpd %s fio \d+ MiB/s$" % (server, server, server),
                        r.stderr, re.M)
    assert rounds == [("A", "B"), ("B", "A")], r.stderr
    for label in ("A ", "B ", "lighttpd ", "fio "):
        assert re.search(r"^%s+median +\d+ MiB/s" % label, r.stdout, re.M), (label, r.stdout)
    assert re.search(r"^B / A: [\d.]+ \(per round", r.stdout, re.M), r.stdout
    for build in ("A", "B"):
        assert re.search(r"^%s / fio O_DIRECT: median [\d.]+" % build, r.stdout, re.M), r.stdout
        assert re.search(r"^%s / best peer \(lighttpd\): [\d.]+" % build, r.stdout, re.M), r.stdout
