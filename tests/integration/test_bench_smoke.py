"""The benchmark scripts work: one tiny point of each workload against
ferry (bench/run.sh --smoke).  It measures nothing; the figures live in
bench/out and in the closing notes, never in timed assertions."""

import os
import subprocess

from helpers import REPO, T, ferry_bin


def test_bench_smoke_runs_every_workload():
    env = dict(os.environ, FERRY_BIN=ferry_bin())
    r = subprocess.run(["bench/run.sh", "--smoke", "--out", "build/bench-smoke"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=T(180))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = (REPO / "build/bench-smoke/report.md").read_text()
    for workload in ("W1", "W2", "W3", "W4", "W5", "W6"):
        assert f"## {workload}" in report, workload
