#!/usr/bin/python3
"""bench/report.py: turn bench/run.sh's results.tsv + meta.tsv into report.md and PNG plots.

usage: report.py --out DIR [--plots 0|1]

Each figure is the median over the runs of that point that had no errors;
a point whose every run had errors shows ERROR.  The "errors" column counts
the runs with errors.  Ratios compare with the best peer (nginx, lighttpd;
h2o too in the TLS tables; nginx and h2o in the HTTP/2 ones) at the same
point: higher is better for throughput, lower for latency, CPU and memory.
The TLS and HTTP/2 tables add the spread (lowest-highest clean run) of their
main figure.
"""

import argparse
import os
import statistics
import subprocess
from collections import OrderedDict, defaultdict

HIGHER = {"rps", "mibps", "idle_pct", "idle_rps", "load_rps", "load_dl_mibps", "conns_open", "full_rps",
          "full_idle_pct", "res_rps", "res_idle_pct", "res_pct", "h1_mibps", "h1_idle_pct", "h2_vs_h1"}

COLD_NOTE = (
    "Backends that read through the page cache (ferry sendfile and writev, nginx sendfile, lighttpd) "
    "depend on the kernel's read-ahead (`read_ahead_kb` of the disk); those that read with O_DIRECT "
    "(ferry's asynchronous backends with `aio-direct = on`, nginx `directio`) on how many reads they keep "
    "in flight, up to the fio ceiling below. On this VM both the disk and the host's cache move between "
    "runs (fio's figure by up to 2x within minutes): compare rows of one report only."
)


def load(out):
    rows = []
    with open(os.path.join(out, "results.tsv")) as f:
        next(f)
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) != 7:
                continue
            w, server, backend, conc, metric, value, run = p
            rows.append((w, server, backend, conc, metric, value, run))
    meta = []
    path = os.path.join(out, "meta.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                meta.append((k, v))
    return rows, meta


class Results:
    def __init__(self, rows):
        self.vals = defaultdict(dict)         # (w, label, conc, metric) -> {run: value}
        self.err_runs = defaultdict(set)      # (w, label, conc) -> runs with errors
        self.all_runs = defaultdict(set)      # (w, label, conc) -> runs
        self.labels = defaultdict(list)       # w -> labels in order of appearance
        self.concs = defaultdict(list)        # w -> concurrencies in order
        for w, server, backend, conc, metric, value, run in rows:
            label = "%s/%s" % (server, backend)
            if label not in self.labels[w]:
                self.labels[w].append(label)
            if conc not in self.concs[w]:
                self.concs[w].append(conc)
            self.all_runs[(w, label, conc)].add(run)
            if metric == "errors":
                try:
                    if float(value) > 0:
                        self.err_runs[(w, label, conc)].add(run)
                except ValueError:
                    self.err_runs[(w, label, conc)].add(run)
            try:
                self.vals[(w, label, conc, metric)][run] = float(value)
            except ValueError:
                pass
        for w in self.labels:
            # ferry rows first, then the peers, each group in order of appearance
            self.labels[w].sort(key=lambda lb: (0 if lb.startswith("ferry/") else 1))

    def median(self, w, label, conc, metric):
        runs = self.vals.get((w, label, conc, metric), {})
        bad = self.err_runs.get((w, label, conc), set())
        clean = [v for r, v in runs.items() if r not in bad]
        if not clean:
            return None
        return statistics.median(clean)

    def spread(self, w, label, conc, metric, digits=0):
        """lowest-highest of the clean runs; "–" with fewer than two."""
        runs = self.vals.get((w, label, conc, metric), {})
        bad = self.err_runs.get((w, label, conc), set())
        clean = [v for r, v in runs.items() if r not in bad]
        if len(clean) < 2:
            return "–"
        return "%s–%s" % (fmt(min(clean), digits), fmt(max(clean), digits))

    def has(self, w, metric):
        return any(k[0] == w and k[3] == metric for k in self.vals)

    def errors(self, w, label, conc):
        return "%d/%d" % (len(self.err_runs.get((w, label, conc), ())), len(self.all_runs.get((w, label, conc), ())))

    def failed(self, w, label, conc):
        return self.all_runs.get((w, label, conc)) and \
            self.err_runs.get((w, label, conc), set()) >= self.all_runs[(w, label, conc)]

    def peers(self, w):
        return [lb for lb in self.labels[w] if not lb.startswith("ferry/")]

    def best_peer(self, w, conc, metric):
        vals = [self.median(w, lb, conc, metric) for lb in self.peers(w)]
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        return max(vals) if metric in HIGHER else min(vals)

    def ratio(self, w, label, conc, metric):
        v = self.median(w, label, conc, metric)
        b = self.best_peer(w, conc, metric)
        if v is None or not b:
            return "–"
        return "%.2f" % (v / b)


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "%.*f" % (digits, v)


def cell(res, w, label, conc, metric, digits=1):
    if res.failed(w, label, conc):
        return "ERROR"
    return fmt(res.median(w, label, conc, metric), digits)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out) + "\n"


def md_w1(res):
    w = "W1"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "rps", 0), res.ratio(w, lb, c, "rps"), res.spread(w, lb, c, "rps"),
                     cell(res, w, lb, c, "p50_ms", 3), cell(res, w, lb, c, "p99_ms", 3),
                     cell(res, w, lb, c, "max_ms", 2), cell(res, w, lb, c, "cpu_us_per_req", 2),
                     res.ratio(w, lb, c, "cpu_us_per_req"), cell(res, w, lb, c, "client_busy_pct"),
                     res.errors(w, lb, c)])
    return ("## W1 small hot: 1 KiB file, wrk -c%s\n\n" % c +
            "One wrk thread on CPU 1 spends about as much CPU per request as a fast server on CPU 0: where "
            "\"client busy\" nears 100 %, the req/s measure wrk, and the server's CPU per request compares the "
            "servers (\"CPU/req × best peer\": the row's over the cheapest peer's; below 1 is cheaper).\n\n" +
            table(["server/backend", "req/s", "× best peer", "spread", "p50 ms", "p99 ms", "max ms",
                   "server CPU µs/req", "CPU/req × best peer", "client busy %", "error runs"], rows))


def md_w2(res):
    w = "W2"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "mibps"), res.ratio(w, lb, c, "mibps"),
                     cell(res, w, lb, c, "cpu_s_per_gib", 3), cell(res, w, lb, c, "idle_pct"),
                     res.errors(w, lb, c)])
    return ("## W2 large hot: one file in the page cache, %s concurrent downloads\n\n" % c +
            table(["server/backend", "MiB/s", "× best peer", "server CPU-s/GiB", "server CPU idle %",
                   "error runs"], rows))


def fio_line(res):
    if "fio" not in res.labels:
        return "fio: not run.\n"
    lb = res.labels["fio"][0]
    parts = []
    for d in res.concs["fio"]:
        parts.append("depth %s: **%s MiB/s**" % (d, cell(res, "fio", lb, d, "mibps")))
    return ("Disk ceiling (fio, O_DIRECT 1 MiB sequential reads, libaio, same filesystem): " +
            ", ".join(parts) + ".\n")


def md_cold(res, w, title, intro="", spread=False, client="fetch"):
    cs = res.concs[w]
    out = ["## %s\n" % title] + ([intro + "\n"] if intro else []) + [COLD_NOTE + "\n", fio_line(res)]
    rows = []
    for lb in res.labels[w]:
        r = [lb]
        for c in cs:
            v = cell(res, w, lb, c, "mibps", 0)
            rt = res.ratio(w, lb, c, "mibps")
            r.append(v if rt == "–" else "%s (×%s)" % (v, rt))
        bad = sum(len(res.err_runs.get((w, lb, c), ())) for c in cs)
        total = sum(len(res.all_runs.get((w, lb, c), ())) for c in cs)
        r.append("%d/%d" % (bad, total))
        rows.append(r)
    out.append("Total MiB/s (× best peer at the same concurrency; error runs summed over the points):\n\n" +
               table(["server/backend"] + ["C=%s" % c for c in cs] + ["error runs"], rows))
    if spread:
        rows = [[lb] + [res.spread(w, lb, c, "mibps") for c in cs] for lb in res.labels[w]]
        out.append("Spread of the MiB/s (lowest–highest clean run):\n\n" +
                   table(["server/backend"] + ["C=%s" % c for c in cs], rows))
    rows = []
    for lb in res.labels[w]:
        r = [lb]
        for c in cs:
            r.append("%s%% / %s" % (cell(res, w, lb, c, "idle_pct"), cell(res, w, lb, c, "cpu_s_per_gib", 2)))
        rows.append(r)
    out.append("Server CPU (its one core): idle % over the point / CPU-seconds per GiB served:\n\n" +
               table(["server/backend"] + ["C=%s" % c for c in cs], rows))
    if res.has(w, "client_busy_pct"):
        rows = [[lb] + [cell(res, w, lb, c, "client_busy_pct") for c in cs] for lb in res.labels[w]]
        out.append("Load generator (%s, CPU 1) busy %%: near 100 the figure above measures the client:\n\n" % client +
                   table(["server/backend"] + ["C=%s" % c for c in cs], rows))
    return "\n".join(out)


def md_w4(res):
    w = "W4"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "idle_p50_ms", 3), cell(res, w, lb, c, "idle_p99_ms", 3),
                     cell(res, w, lb, c, "idle_max_ms", 2), cell(res, w, lb, c, "idle_rps", 0),
                     cell(res, w, lb, c, "load_p50_ms", 3), cell(res, w, lb, c, "load_p99_ms", 3),
                     cell(res, w, lb, c, "load_max_ms", 2), cell(res, w, lb, c, "load_rps", 0),
                     res.ratio(w, lb, c, "load_p99_ms"), cell(res, w, lb, c, "load_dl_mibps", 0),
                     res.errors(w, lb, c)])
    return ("## W4 head-of-line: wrk -c%s on a hot 1 KiB file, idle vs during cold downloads\n\n" % c +
            "Latencies in ms. \"loaded\" = while the cold downloads run (the downloaders and wrk share CPU 1). "
            "Download MiB/s: bytes the downloaders' sockets received while wrk ran (kernel TCP counters).\n\n" +
            table(["server/backend", "idle p50", "idle p99", "idle max", "idle req/s", "loaded p50",
                   "loaded p99", "loaded max", "loaded req/s", "loaded p99 × best peer",
                   "downloads MiB/s", "error runs"], rows))


def md_w5(res):
    w = "W5"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "mibps"), res.ratio(w, lb, c, "mibps"),
                     cell(res, w, lb, c, "rps", 0), cell(res, w, lb, c, "p50_ms", 2),
                     cell(res, w, lb, c, "p99_ms", 1), res.ratio(w, lb, c, "p99_ms"),
                     cell(res, w, lb, c, "idle_pct"), res.errors(w, lb, c)])
    return ("## W5 random load: %s clients, mixed sizes 1 KiB–64 MiB, Zipf popularity, Range requests, cold start\n\n" % c +
            "The same request sequence for every server (fixed seed per run); latency is per whole response.\n\n" +
            table(["server/backend", "MiB/s", "× best peer", "req/s", "p50 ms", "p99 ms", "p99 × best peer",
                   "server CPU idle %", "error runs"], rows))


def md_w6(res):
    w = "W6"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "conns_open", 0), cell(res, w, lb, c, "rss_idle_mib"),
                     cell(res, w, lb, c, "rss_peak_mib"), cell(res, w, lb, c, "kib_per_conn", 2),
                     res.ratio(w, lb, c, "rss_peak_mib"),
                     cell(res, w, lb, c, "p50_ms", 2), cell(res, w, lb, c, "p99_ms", 2),
                     res.ratio(w, lb, c, "p99_ms"), cell(res, w, lb, c, "requests", 0),
                     res.errors(w, lb, c)])
    return ("## W6 many connections: %s keep-alive connections, each a request every few seconds\n\n" % c +
            "RSS is VmRSS of the server's processes (nginx: master + worker), before connecting and at its peak.\n\n" +
            table(["server/backend", "open at end", "RSS idle MiB", "RSS peak MiB", "KiB/conn",
                   "peak RSS × best peer", "p50 ms", "p99 ms", "p99 × best peer", "requests", "error runs"], rows))


def codings(res, w, label, conc):
    """The content codings a server answered W7 with (its coding_NAME metrics)."""
    names = sorted({k[3][len("coding_"):] for k in res.vals
                    if k[:3] == (w, label, conc) and k[3].startswith("coding_")})
    return ", ".join(names) or "–"


def md_targets(res):
    """Issue 16's targets, each with its ratio from this run, and whether
    `auto` (the default) stays within 10 % of ferry's best other backend."""
    auto = "ferry/auto"
    rows = []

    def peers(w, names=None, backend=None):
        return [lb for lb in res.peers(w) if (names is None or lb.split("/")[0] in names)
                and (backend is None or backend in lb)]

    def best(w, labels, c, metric, higher=True):
        vals = [(res.median(w, lb, c, metric), lb) for lb in labels]
        vals = [v for v in vals if v[0] is not None]
        if not vals:
            return None, None
        return max(vals) if higher else min(vals)

    def add(name, figure, ratio, target, met):
        rows.append([name, figure, "–" if ratio is None else "×%.2f" % ratio, target,
                     "–" if met is None else ("met" if met else "**not met**")])

    if auto in res.labels.get("W1", []):
        c = res.concs["W1"][0]
        v = res.median("W1", auto, c, "rps")
        b, lb = best("W1", peers("W1", ("nginx", "lighttpd", "h2o")), c, "rps")
        r = v / b if v and b else None
        add("W1 1 KiB hot, req/s", "%s vs %s %s" % (fmt(v, 0), lb, fmt(b, 0)), r, "≥ ×1.20 the best peer",
            None if r is None else r >= 1.2)
        v = res.median("W1", auto, c, "cpu_us_per_req")
        b, lb = best("W1", peers("W1"), c, "cpu_us_per_req", higher=False)
        r = v / b if v and b else None
        add("W1 server CPU µs per request", "%s vs %s %s" % (fmt(v, 2), lb, fmt(b, 2)), r,
            "(lower is cheaper; wrk's own CPU bounds req/s)", None)
    if auto in res.labels.get("W2", []):
        c = res.concs["W2"][0]
        v = res.median("W2", auto, c, "mibps")
        b, lb = best("W2", peers("W2"), c, "mibps")
        r = v / b if v and b else None
        add("W2 hot 4 downloads, MiB/s", "%s vs %s %s" % (fmt(v, 0), lb, fmt(b, 0)), r, "≥ ×1.00 the best peer",
            None if r is None else r >= 1.0)
    if auto in res.labels.get("W3", []):
        ceiling = None
        for lb in res.labels.get("fio", []):
            for d in res.concs["fio"]:
                f = res.median("fio", lb, d, "mibps")
                ceiling = f if f and (ceiling is None or f > ceiling) else ceiling
        cs = [c for c in res.concs["W3"] if int(c) >= 2]
        if ceiling and cs:
            worst = min(((res.median("W3", auto, c, "mibps") or 0) / ceiling, c) for c in cs)
            add("W3 cold, MiB/s ÷ fio O_DIRECT (%s)" % fmt(ceiling, 0), "lowest at C=%s" % worst[1], worst[0],
                "≥ ×0.90 at every C ≥ 2", worst[0] >= 0.9)
        lighttpd = peers("W3", ("lighttpd",))
        if lighttpd:
            rs = []
            for c in res.concs["W3"]:
                v, b = res.median("W3", auto, c, "cpu_s_per_gib"), res.median("W3", lighttpd[0], c, "cpu_s_per_gib")
                if v and b:
                    rs.append((v / b, c, v, b))
            if rs:
                med = statistics.median(r[0] for r in rs)
                hi = max(rs)
                add("W3 CPU-s per GiB ÷ lighttpd's", "median over C ×%.2f; highest at C=%s (%.3f vs %.3f)" %
                    (med, hi[1], hi[2], hi[3]), hi[0], "≤ ×1.00", hi[0] <= 1.0)
    if auto in res.labels.get("W4", []):
        c = res.concs["W4"][0]
        aio = peers("W4", ("nginx",), "aio")
        if aio:
            p, pb = res.median("W4", auto, c, "load_p99_ms"), res.median("W4", aio[0], c, "load_p99_ms")
            q, qb = res.median("W4", auto, c, "load_rps"), res.median("W4", aio[0], c, "load_rps")
            if p and pb and q and qb:
                add("W4 p99 under 8 cold downloads", "%.3f ms at %s req/s vs nginx aio %.3f ms at %s" %
                    (p, fmt(q, 0), pb, fmt(qb, 0)), p / pb, "p99 ≤ ×1.00 while req/s ≥ ×2 (here ×%.2f)" % (q / qb),
                    p <= pb and q >= 2 * qb)
    if auto in res.labels.get("W6", []):
        c = res.concs["W6"][0]
        nginx = peers("W6", ("nginx",))
        if nginx:
            v, b = res.median("W6", auto, c, "kib_per_conn"), res.median("W6", nginx[0], c, "kib_per_conn")
            if v is not None and b:
                add("W6 KiB per idle connection", "%.2f vs nginx %.2f" % (v, b), v / b, "≤ ×1.00 nginx's",
                    v <= b)
    for w, metric, higher in (("W1", "rps", True), ("W2", "mibps", True), ("W3", "mibps", True),
                              ("W4", "load_p99_ms", False), ("W5", "mibps", True)):
        others = [lb for lb in res.labels.get(w, []) if lb.startswith("ferry/") and lb != auto]
        if auto not in res.labels.get(w, []) or not others:
            continue
        worst = None
        for c in res.concs[w]:
            v = res.median(w, auto, c, metric)
            b, lb = best(w, others, c, metric, higher)
            if v and b:
                r = v / b if higher else b / v
                worst = min(worst, (r, c, lb)) if worst else (r, c, lb)
        if worst:
            add("%s `auto` ÷ best other ferry backend" % w, "lowest at C=%s (%s)" % (worst[1], worst[2]), worst[0],
                "≥ ×0.90", worst[0] >= 0.9)
    if not rows:
        return ""
    return ("## Targets (issue 16)\n\nferry with its default backend (`auto`) against the peers of this run; "
            "ratios as the targets read them (W4: ferry's p99 over nginx aio's; W6, W3 CPU: ferry's over the "
            "peer's; `auto` rows: over the best other ferry backend, latency inverted so higher is better).\n\n" +
            table(["target", "figures", "ratio", "target", ""], rows))


def md_w7(res):
    w = "W7"
    c = res.concs[w][0]
    nginx = next((lb for lb in ["nginx/sendfile"] + res.peers(w) if lb in res.peers(w) and lb.startswith("nginx/")),
                 None)

    def vs_nginx(lb, metric):
        v = res.median(w, lb, c, metric)
        b = res.median(w, nginx, c, metric) if nginx else None
        return None if v is None or not b else v / b

    def fr(x):
        return "–" if x is None else "%.2f" % x

    def first_warm(lb):
        # The copies outlive a run: only the first run of an instance waits for them.
        runs = res.vals.get((w, lb, c, "warm_s"), {})
        return fmt(max(runs.values()), 2) if runs else "–"

    rows = []
    for lb in res.labels[w]:
        rows.append([lb, codings(res, w, lb, c), cell(res, w, lb, c, "rps", 0), fr(vs_nginx(lb, "rps")),
                     res.ratio(w, lb, c, "rps"), res.spread(w, lb, c, "rps"), cell(res, w, lb, c, "p99_ms", 2),
                     cell(res, w, lb, c, "bytes_per_resp", 0), fr(vs_nginx(lb, "bytes_per_resp")),
                     cell(res, w, lb, c, "body_bytes", 0), cell(res, w, lb, c, "cpu_us_per_req", 1),
                     cell(res, w, lb, c, "idle_pct"), cell(res, w, lb, c, "client_busy_pct"),
                     first_warm(lb), res.errors(w, lb, c)])
    out = ["## W7 compressed responses: two 40 KiB files (HTML, JavaScript), Accept-Encoding: gzip, br, zstd, "
           "wrk -c%s\n" % c,
           "ferry `compress = zstd br gzip` (each file compressed once by a helper thread, then sent from the copy; "
           "\"warm s\": how long the first requests took to come back compressed, the longest of the runs), nginx `gzip on` at level 6 "
           "(on every response), lighttpd `mod_deflate` with `deflate.cache-dir` and the encodings in ferry's order "
           "(once per file). Bytes per response: all bytes wrk read ÷ responses (head, body and chunk framing); "
           "body: the mean compressed body, from one request per file, which must decode to the file.\n",
           table(["server/backend", "coding", "req/s", "× nginx", "× best peer", "spread", "p99 ms",
                  "bytes/response", "bytes × nginx", "body bytes", "server CPU µs/req", "server CPU idle %",
                  "wrk busy %", "warm s", "error runs"], rows)]
    lines = []
    for lb in res.labels[w]:
        if not lb.startswith("ferry/"):
            continue
        r, b = vs_nginx(lb, "rps"), vs_nginx(lb, "bytes_per_resp")
        if r is None or b is None:
            lines.append("- %s: no comparison (%s)" % (lb, "no nginx row" if not nginx else "no figure"))
        else:
            lines.append("- %s: %.2f× nginx's req/s at %.2f× its bytes per response: **%s**" % (
                lb, r, b, "met" if r >= 2 and b <= 1 else "not met"))
    if lines:
        out.append("Target (issue 17): at least 2× nginx's req/s at no more bytes per response than nginx's "
                   "gzip.\n\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


# --- TLS -------------------------------------------------------------------------

TLS_NOTE = (
    "Every server has the same ECDSA P-256 key and self-signed certificate (made at the start of the run) "
    "and keeps its TLS defaults, except nginx: `ssl_protocols TLSv1.2 TLSv1.3` (1.22 stops at 1.2 by default) "
    "and `ssl_session_cache shared:SSL:10m`. One client CPU has to do about as much cryptography as the "
    "server's, so where the load generator's CPU (\"client busy\") is near 100 % the throughput measures the "
    "client; the server's CPU per request (or per GiB) is then the figure to compare."
)


def md_tls_intro(tls):
    if not tls:
        return ""
    rows = [[lb, info] for lb, info in tls]
    return ("## TLS: the servers' side of it\n\n" + TLS_NOTE + "\n\n"
            "What a default OpenSSL client negotiates with each (`openssl s_client`, like wrk and fetch), and "
            "whether a second connection offering the first one's session resumes it:\n\n" +
            table(["server/backend", "protocol, cipher, key exchange, resumption"], rows))


def md_t1(res):
    w = "T1"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "rps", 0), res.ratio(w, lb, c, "rps"), res.spread(w, lb, c, "rps"),
                     cell(res, w, lb, c, "p50_ms", 3), cell(res, w, lb, c, "p99_ms", 3),
                     cell(res, w, lb, c, "cpu_us_per_req", 1), res.ratio(w, lb, c, "cpu_us_per_req"),
                     cell(res, w, lb, c, "idle_pct"), cell(res, w, lb, c, "client_busy_pct"),
                     res.errors(w, lb, c)])
    return ("## T1 small hot over TLS: 1 KiB file, keep-alive, wrk -c%s https://\n\n" % c +
            table(["server/backend", "req/s", "× best peer", "spread", "p50 ms", "p99 ms", "server CPU µs/req",
                   "CPU/req × best peer", "server CPU idle %", "client busy %", "error runs"], rows))


def md_t2(res):
    w = "T2"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "rps", 0), res.ratio(w, lb, c, "rps"), res.spread(w, lb, c, "rps"),
                     cell(res, w, lb, c, "p99_ms", 2), cell(res, w, lb, c, "cpu_us_per_req", 0),
                     res.ratio(w, lb, c, "cpu_us_per_req"), cell(res, w, lb, c, "idle_pct"),
                     cell(res, w, lb, c, "client_busy_pct"), res.errors(w, lb, c)])
    out = ["## T2 TLS handshakes: a new connection per request for a 1 KiB file, %s clients\n" % c,
           "**wrk** (`-H 'Connection: close'`, the figure most published comparisons use) reconnects "
           "offering its previous session, and how often a server resumes it depends on the server's ticket "
           "policy (during development h2o resumed half of wrk's reconnections, nginx nearly all): its "
           "figure mixes resumed and full handshakes in a proportion the harness cannot see. The fetch rows "
           "below control it. CPU in µs per connection.\n",
           table(["server/backend", "wrk req/s", "× best peer", "spread", "p99 ms", "server CPU µs",
                  "CPU × best peer", "server CPU idle %", "wrk busy %", "error runs"], rows)]
    for px, what in (("full", "**Full handshakes** (fetch, no session offered: X25519 and an ECDSA P-256 "
                              "signature by the server on every connection)"),
                     ("res", "**Resumed** (fetch `-r`: each client offers the session of its previous "
                             "connection; \"resumed\" is the share the server accepted)")):
        if not res.has(w, px + "_rps"):
            continue
        rows = []
        for lb in res.labels[w]:
            r = [lb, cell(res, w, lb, c, px + "_rps", 0), res.ratio(w, lb, c, px + "_rps"),
                 res.spread(w, lb, c, px + "_rps"), cell(res, w, lb, c, px + "_cpu_us", 0),
                 res.ratio(w, lb, c, px + "_cpu_us"), cell(res, w, lb, c, px + "_idle_pct"),
                 cell(res, w, lb, c, px + "_client_busy_pct")]
            if px == "res":
                r.append(cell(res, w, lb, c, "res_pct"))
            rows.append(r)
        out.append(what + ", %s clients opening their connections one after the other:\n\n" % c +
                   table(["server/backend", "handshakes/s", "× best peer", "spread", "server CPU µs",
                          "CPU × best peer", "server CPU idle %", "fetch busy %"] +
                         (["resumed %"] if px == "res" else []), rows))
    return "\n".join(out)


# --- HTTP/2 ----------------------------------------------------------------------

H2_NOTE = (
    "Over TLS with the bench certificate, h2 chosen by ALPN; the client is h2load (nghttp2) on CPU 1, offering "
    "the TLS 1.3 ciphers in OpenSSL's default order, so it negotiates what wrk and fetch do in T1–T3. nginx has "
    "`http2` on its TLS listener, h2o 2.2 speaks h2 as it is, ferry has `http2 = on` (its default); lighttpd "
    "sits these out. h2load decrypts every body and drops it; where its CPU (\"client busy\") nears 100 % the "
    "throughput measures the client, and the server's CPU per request or per GiB is the figure to compare."
)


def md_h2_intro(h2tls):
    out = "## HTTP/2: h2 over TLS (issue 14)\n\n" + H2_NOTE + "\n"
    if h2tls:
        out += ("\nWhat h2load negotiated with each (TLS version, cipher, group, application protocol):\n\n" +
                table(["server/backend", "h2load's connection"], [[lb, info] for lb, info in h2tls]))
    return out


def md_h1(res):
    w = "H1"
    c = res.concs[w][0]
    rows = []
    for lb in res.labels[w]:
        rows.append([lb, cell(res, w, lb, c, "rps", 0), res.ratio(w, lb, c, "rps"), res.spread(w, lb, c, "rps"),
                     cell(res, w, lb, c, "mean_ms", 3), cell(res, w, lb, c, "max_ms", 2),
                     cell(res, w, lb, c, "cpu_us_per_req", 1), res.ratio(w, lb, c, "cpu_us_per_req"),
                     cell(res, w, lb, c, "idle_pct"), cell(res, w, lb, c, "client_busy_pct"),
                     res.errors(w, lb, c)])
    return ("## H1 small hot over HTTP/2: 1 KiB file, h2load -c%s -m32 (%s connections, up to 32 streams each)\n\n"
            % (c, c) +
            "Latency: h2load's time per request (mean and max; it gives no percentiles).\n\n" +
            table(["server/backend", "req/s", "× best peer", "spread", "mean ms", "max ms", "server CPU µs/req",
                   "CPU/req × best peer", "server CPU idle %", "h2load busy %", "error runs"], rows))


def md_h2(res):
    w = "H2"
    rows = []
    for c in res.concs[w]:
        for lb in res.labels[w]:
            if not res.all_runs.get((w, lb, c)):
                continue
            rows.append([lb, c, cell(res, w, lb, c, "mibps", 0), res.ratio(w, lb, c, "mibps"),
                         res.spread(w, lb, c, "mibps"), cell(res, w, lb, c, "h1_mibps", 0),
                         res.spread(w, lb, c, "h1_mibps"), cell(res, w, lb, c, "h2_vs_h1", 2),
                         res.spread(w, lb, c, "h2_vs_h1", 2), cell(res, w, lb, c, "cpu_s_per_gib", 2),
                         cell(res, w, lb, c, "h1_cpu_s_per_gib", 2), cell(res, w, lb, c, "idle_pct"),
                         cell(res, w, lb, c, "client_busy_pct"), cell(res, w, lb, c, "h1_client_busy_pct"),
                         res.errors(w, lb, c)])
    out = ["## H2 large hot over HTTP/2: one file in the page cache, C downloads at once\n",
           "h2load `-cC -nC -w 30 -W 30`: C connections, one stream each, stream and connection windows of "
           "2^30−1 bytes; then (or first: the order alternates from run to run) the same over HTTP/1.1 with "
           "the same client (`--h1`: ALPN http/1.1). \"h2 ÷ http/1.1\" is the median of the per-run ratios of "
           "a server's two figures, its spread the lowest–highest of them.\n",
           table(["server/backend", "C", "h2 MiB/s", "× best peer", "spread", "http/1.1 MiB/s", "spread",
                  "h2 ÷ http/1.1", "spread", "server CPU-s/GiB h2", "… http/1.1", "server CPU idle % h2",
                  "h2load busy % h2", "… http/1.1", "error runs"], rows)]
    lines = []
    for lb in res.labels[w]:
        if not lb.startswith("ferry/"):
            continue
        for c in res.concs[w]:
            v = res.median(w, lb, c, "h2_vs_h1")
            if v is None:
                lines.append("- %s, C=%s: no figure" % (lb, c))
            else:
                lines.append("- %s, C=%s: h2 at %.2f× its HTTP/1.1 (runs %s): **%s**" % (
                    lb, c, v, res.spread(w, lb, c, "h2_vs_h1", 2), "met" if v >= 0.9 else "not met"))
    if lines:
        out.append("Target (issue 14): ferry's h2 download at least 0.9× its own HTTP/1.1 over TLS in the same "
                   "run.\n\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


# --- plots ---------------------------------------------------------------------

# Distinct colours for up to 12 lines (gnuplot's default cycle repeats after 8).
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#bcbd22", "#000000", "#7f7f7f", "#aec7e8"]


def gp_quote(s):
    return '"' + s.replace('"', "'") + '"'


def plot_lines(res, w, metric, out, png, title, ylabel, fio=False, logy=False):
    cs = res.concs[w]
    labels = res.labels[w]
    dat = os.path.join(out, "%s_%s.dat" % (w.lower(), metric))
    with open(dat, "w") as f:
        for c in cs:
            vals = []
            for lb in labels:
                v = res.median(w, lb, c, metric)
                vals.append("?" if v is None else "%.3f" % v)
            f.write("%s %s\n" % (c, " ".join(vals)))
    plots = []
    vals = [res.median(w, lb, c, metric) for lb in labels for c in cs]
    for i, lb in enumerate(labels):
        plots.append("%s using 1:%d with linespoints lw 2 lc rgb '%s' pt %d ps 1.3 title %s" %
                     (gp_quote(dat), i + 2, COLORS[i % len(COLORS)], (i % 13) + 1, gp_quote(lb)))
    if fio and "fio" in res.labels:
        flb = res.labels["fio"][0]
        for d, dt in zip(res.concs["fio"], (2, 4)):
            v = res.median("fio", flb, d, "mibps")
            if v is not None:
                vals.append(v)
                plots.append("%.1f with lines dt %d lw 2 lc rgb 'gray40' title 'fio O\\_DIRECT depth %s (%.0f)'" %
                             (v, dt, d, v))
    xt = ", ".join('"%s" %s' % (c, c) for c in cs)
    vals = [v for v in vals if v is not None and v > 0]
    if logy and vals:
        # The fio ceiling can be several times the servers' figures: a log
        # axis keeps both readable.
        yaxis = ("set logscale y\nset yrange [%g:%g]\n" % (min(vals) / 1.4, max(vals) * 1.4) +
                 "set ytics (50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10000)")
    else:
        yaxis = "set yrange [0:*]"
    script = """
set terminal pngcairo size 1000,600 font ",11"
set output %s
set title %s
set xlabel "concurrent clients"
set ylabel %s
set logscale x 2
set xrange [%s:%s]
set xtics (%s)
%s
set grid
set key outside right top
set datafile missing "?"
plot %s
""" % (gp_quote(os.path.join(out, png)), gp_quote(title), gp_quote(ylabel),
       float(cs[0]) / 1.3, float(cs[-1]) * 1.3, xt, yaxis, ", \\\n     ".join(plots))
    run_gnuplot(script, out, png)


def plot_w4(res, out):
    w = "W4"
    c = res.concs[w][0]
    dat = os.path.join(out, "w4_latency.dat")
    with open(dat, "w") as f:
        f.write("# server p50_idle p50_loaded p99_idle p99_loaded (ms)\n")
        for lb in res.labels[w]:
            vals = [res.median(w, lb, c, m) for m in ("idle_p50_ms", "load_p50_ms", "idle_p99_ms", "load_p99_ms")]
            f.write('"%s" %s\n' % (lb, " ".join("?" if v is None else "%.4f" % max(v, 0.001) for v in vals)))
    script = """
set terminal pngcairo size 1000,600 font ",11"
set output %s
set title "W4: latency of a hot 1 KiB file (wrk -c%s), idle vs during cold downloads"
set ylabel "latency, ms (log scale)"
set logscale y
set yrange [0.05:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics rotate by 30 right noenhanced
set bmargin 9
set datafile missing "?"
plot %s using 2:xtic(1) title "p50 idle" lc rgb "#9ecae1", \\
     '' using 3 title "p50 loaded" lc rgb "#3182bd", \\
     '' using 4 title "p99 idle" lc rgb "#fdae6b", \\
     '' using 5 title "p99 loaded" lc rgb "#e6550d"
""" % (gp_quote(os.path.join(out, "w4_latency.png")), c, gp_quote(dat))
    run_gnuplot(script, out, "w4_latency.png")


def run_gnuplot(script, out, png):
    gp = os.path.join(out, png.replace(".png", ".gp"))
    with open(gp, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("report.py: gnuplot failed for %s: %s" % (png, r.stderr.strip()[:500]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--plots", type=int, default=1)
    a = ap.parse_args()
    rows, meta = load(a.out)
    res = Results(rows)
    m = OrderedDict()
    notes, lsblk, tls, h2tls = [], [], [], []
    for k, v in meta:
        if k == "note":
            notes.append(v)
        elif k == "tls":
            tls.append(tuple(v.split("\t", 1)) if "\t" in v else (v, ""))
        elif k == "h2tls":
            h2tls.append(tuple(v.split("\t", 1)) if "\t" in v else (v, ""))
        elif k == "lsblk":
            lsblk.append(v)
        else:
            m[k] = v

    md = ["# ferry benchmark report\n"]
    md.append("| | |\n|---|---|")
    for k in ("mode", "runs", "commit", "date", "cpus", "memory", "kernel", "disk", "filesystem",
              "ferry", "nginx", "lighttpd", "h2o", "openssl", "h2load", "tls certificate", "kernel TLS", "wall", "wall per workload", "load average", "settle", "params"):
        if k in m:
            md.append("| %s | %s |" % (k, m[k]))
    md.append("")
    runs = m.get("runs", "?")
    if runs == "1":
        md.append("**Each figure is from a single run** (`--quick`/`--smoke`, or `--runs 1`): expect ±20–40 % "
                  "noise on this shared VM; use the full run (median of ≥ 3) for conclusions.\n")
    else:
        md.append("Each figure is the median of %s runs (runs with errors are excluded from the median and "
                  "counted in \"error runs\").\n" % runs)
    md.append("Servers pinned to CPU 0 (one worker each), load generators (wrk, fetch, loadgen.py, fio) to CPU 1; "
              "access logs off; ferry with `max-keepalive-requests = 0`, nginx `keepalive_requests 1000000`, "
              "lighttpd `server.max-keep-alive-requests = 1000000`. Cold points start after "
              "`sync; echo 3 > /proc/sys/vm/drop_caches` and wait until the VM's free-page reporting "
              "(`reported_kib`) has settled. \"× best peer\" divides by the best of nginx and lighttpd (and h2o over TLS; nginx and h2o over HTTP/2) at the "
              "same point (higher is better for throughput, lower for latency, CPU and memory).\n")
    if notes:
        md.append("Notes:\n")
        md.extend("- %s" % n for n in notes)
        md.append("")
    if lsblk:
        md.append("<details><summary>lsblk</summary>\n\n```\n%s\n```\n</details>\n" % "\n".join(lsblk))

    targets = md_targets(res)
    if targets:
        md.append(targets)
    if "W1" in res.labels:
        md.append(md_w1(res))
    if "W2" in res.labels:
        md.append(md_w2(res))
    if "W3" in res.labels:
        md.append(md_cold(res, "W3", "W3 the seed's table: cold cache, each client downloads a distinct file once"))
        if a.plots:
            plot_lines(res, "W3", "mibps", a.out, "w3_mibps.png",
                       "W3 cold: total MiB/s vs concurrency", "MiB/s (total, log scale)", fio=True, logy=True)
            plot_lines(res, "W3", "idle_pct", a.out, "w3_idle.png",
                       "W3 cold: server CPU idle % vs concurrency", "CPU 0 idle %")
            md.append("![W3 MiB/s](w3_mibps.png)\n\n![W3 CPU idle](w3_idle.png)\n")
    elif "fio" in res.labels and "T3" not in res.labels and "H3" not in res.labels:
        md.append("## Disk\n\n" + fio_line(res))
    if "S" in res.labels:
        md.append(md_cold(res, "S", "Seed-exact: cold cache, N clients each download the same big file once"))
        if a.plots:
            plot_lines(res, "S", "mibps", a.out, "seed_mibps.png",
                       "Seed-exact: total MiB/s vs concurrency", "MiB/s (total, log scale)", fio=True, logy=True)
            plot_lines(res, "S", "idle_pct", a.out, "seed_idle.png",
                       "Seed-exact: server CPU idle % vs concurrency", "CPU 0 idle %")
            md.append("![seed MiB/s](seed_mibps.png)\n\n![seed CPU idle](seed_idle.png)\n")
    if "W4" in res.labels:
        md.append(md_w4(res))
        if a.plots:
            plot_w4(res, a.out)
            md.append("![W4 latency](w4_latency.png)\n")
    if "W5" in res.labels:
        md.append(md_w5(res))
    if "W6" in res.labels:
        md.append(md_w6(res))
    if "W7" in res.labels:
        md.append(md_w7(res))
    if any(w in res.labels for w in ("T1", "T2", "T3")):
        md.append(md_tls_intro(tls) or "## TLS\n\n" + TLS_NOTE + "\n")
    if "T1" in res.labels:
        md.append(md_t1(res))
    if "T2" in res.labels:
        md.append(md_t2(res))
    if "T3" in res.labels:
        md.append(md_cold(res, "T3", "T3 the seed's table over TLS: cold cache, each client downloads a distinct "
                          "file once", "The W3 files and client (fetch, with `-s`: TLS 1.3 as negotiated above, "
                          "bodies decrypted and dropped)."))
        if a.plots:
            plot_lines(res, "T3", "mibps", a.out, "t3_mibps.png",
                       "T3 cold over TLS: total MiB/s vs concurrency", "MiB/s (total, log scale)", fio=True,
                       logy=True)
            md.append("![T3 MiB/s](t3_mibps.png)\n")
    if any(w in res.labels for w in ("H1", "H2", "H3")):
        md.append(md_h2_intro(h2tls))
    if "H1" in res.labels:
        md.append(md_h1(res))
    if "H2" in res.labels:
        md.append(md_h2(res))
    if "H3" in res.labels:
        md.append(md_cold(res, "H3", "H3 the seed's table over HTTP/2: cold cache, each client downloads a distinct "
                          "file once", "The W3 files, drops and fio ceiling; each client is an h2load process of its "
                          "own (`-c1 -n1 -w 30 -W 30`: one connection, one stream), all started together on CPU 1; "
                          "\"load generator\" below is their CPU together.", spread=True, client="h2load"))
        if a.plots:
            plot_lines(res, "H3", "mibps", a.out, "h3_mibps.png",
                       "H3 cold over HTTP/2: total MiB/s vs concurrency", "MiB/s (total, log scale)", fio=True,
                       logy=True)
            md.append("![H3 MiB/s](h3_mibps.png)\n")
    md.append("Every figure of every run: `results.tsv` (workload, server, backend, concurrency, metric, value, run).\n")
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
