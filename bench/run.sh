#!/usr/bin/env bash
# bench/run.sh — ferry's benchmark suite: ferry (one row per backend) vs nginx
# (sendfile, and an aio mode) vs lighttpd, on workloads W1–W6 (issue 3) and W7
# (compressed responses, issue 17), over TLS ferry vs nginx, lighttpd and
# h2o on T1–T3, and over HTTP/2 (h2 by ALPN on TLS) ferry vs nginx and h2o on
# H1–H3 (issue 14).
#
# Usage: bench/run.sh [--quick | --smoke] [--seed-exact] [--tls] [--h2] [--runs N]
#                     [--workloads W1,W3,...] [--servers ferry,nginx,...] [--out DIR]
#   (default)      full run: every figure the median of 3 runs
#   --quick        fewer and shorter points, smaller files, 1 run (≤ 5 minutes)
#   --smoke        one tiny point of each workload against ferry only, or the
#                  --servers named (< 30 s); exits non-zero if any point
#                  errors; output in bench/out/smoke/
#   --seed-exact   the seed's measurement instead of W1–W6: one 700 MiB file,
#                  N clients each downloading it once from a cold cache
#   --tls          the TLS workloads only: --workloads T1,T2,fio,T3
#   --h2           the HTTP/2 workloads only: --workloads H1,H2,fio,H3 (with
#                  --tls: T1,T2,fio,T3,H1,H2,H3)
#   --runs N       runs per figure (default 3; 1 in --quick and --smoke)
#   --workloads L  comma-separated subset of W1 W2 W3 W4 W5 W6 W7 fio T1 T2 T3
#                  H1 H2 H3 (default: all but H1-H3, which --h2 or this list asks for)
#   --servers L    comma-separated instance ids or server names (ferry, nginx,
#                  lighttpd, h2o, ferry-sendfile, nginx-aio, nginx-tls, ...)
#   --out DIR      output directory (default bench/out, bench/out/smoke)
#   --dry-run      list the server instances and the expected time, then stop
# Environment (defaults): FERRY_BIN (build/ferry), BENCH_DATA (bench/data), FETCH (build/fetch),
#   FERRY_TLS_BACKEND (ferry's default) for the ferry-tls instance, H2LOAD (h2load).
#
# Servers run on CPU 0, every load generator (wrk, fetch, loadgen.py, fio) on
# CPU 1 (h2load too). Output: DIR/results.tsv (every figure), DIR/report.md, DIR/*.png.
# Exit status 1 if any point had errors (they are reported, never dropped).
set -euo pipefail
export LC_ALL=C

BENCH_NAME=run.sh
PYTHON=/usr/bin/python3
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

MODE=full
SEED_EXACT=0
TLS_ONLY=0
H2_ONLY=0
DRY_RUN=0
RUNS_OPT=""
WORKLOADS_OPT=""
SERVERS_OPT=""
OUT_OPT=""
ALL_WORKLOADS="W1 W2 fio W3 W4 W5 W6 W7 T1 T2 T3 H1 H2 H3"
# A run without --workloads, --tls, --h2 or --seed-exact: the HTTP/2 ones are asked for.
DEFAULT_WORKLOADS="W1 W2 fio W3 W4 W5 W6 W7 T1 T2 T3"
# Over TLS: T1-T3 (HTTP/1.1) and H1-H3 (HTTP/2, h2 by ALPN), on the TLS instances.
TLS_WORKLOADS="T1 T2 T3 H1 H2 H3"
H2_WORKLOADS="H1 H2 H3"
PLAIN_WORKLOADS="W1 W2 W3 W4 W5 W6 W7 S"

usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

parse_args() {
    while (($#)); do
        case $1 in
            --quick) MODE=quick ;;
            --smoke) MODE=smoke ;;
            --full) MODE=full ;;
            --seed-exact) SEED_EXACT=1 ;;
            --tls) TLS_ONLY=1 ;;
            --h2) H2_ONLY=1 ;;
            --dry-run) DRY_RUN=1 ;;
            --runs) RUNS_OPT=${2:?--runs wants a number}; shift ;;
            --workloads) WORKLOADS_OPT=${2:?--workloads wants a list}; shift ;;
            --servers) SERVERS_OPT=${2:?--servers wants a list}; shift ;;
            --out) OUT_OPT=${2:?--out wants a directory}; shift ;;
            -h | --help) usage 0 ;;
            *) echo "$BENCH_NAME: unknown argument '$1'" >&2; usage ;;
        esac
        shift
    done
    [[ -z $RUNS_OPT ]] || is_posint "$RUNS_OPT" || die "--runs wants a positive integer, got '$RUNS_OPT'"
}

# --- parameters per mode ------------------------------------------------------

set_params() {
    MIB=1048576
    SETTLE_POLL=0.5          # page_reporting: poll every 0.5 s ...
    SETTLE_SAME=5            # ... until unchanged for 5 polls (2.5 s: its passes are ~2 s apart)
    SETTLE_MAX=30            # ... at most this many seconds
    DL_TIMEOUT=600
    W1_CONNS=50
    W4_CONNS=10
    W6_INTERVAL="2 3"        # seconds between one connection's requests (uniform)
    W5_RANGE_FRAC=0.2
    W6_RESTART=0
    SEED_SIZE_MIB=700
    T_CONNS=50               # T1 and T2: wrk -c, and T2's full-handshake clients
    T3_CONC="1 5 10"
    H1_CONNS=10; H1_STREAMS=32 # H1: h2load -c10 -m32 (issue 14)
    H2_CONC="1 4"            # H2: one and four downloads of the hot file
    H3_CONC="1 5 10"         # H3: the cold table over h2
    H_WINDOW=30              # h2load -w/-W for the downloads: windows of 2^30-1 bytes
    W7_CONNS=50
    W7_ACCEPT="gzip, br, zstd"
    W7_PATHS="/w7/page.html /w7/app.js"
    W7_WAIT=10               # seconds a server may take to answer compressed (ferry: its copy made)
    case $MODE in
        full)
            RUNS=3
            W1_DUR=10; W1_WARMUP=1
            W2_MIB=1024; W2_CLIENTS=4
            FIO_RUNTIME=5
            W3_MIB=256; W3_CONC="1 2 5 10 16 32"; COLD_FILES=32
            W4_DL=8; W4_DUR=5; W4_PER=4
            W5_FILES=400; W5_MAX=$((64 * MIB)); W5_CLIENTS=32; W5_BYTES=$((2048 * MIB)); W5_TAG=full
            W6_CONNS=10000; W6_DUR=15; W6_RESTART=1
            SEED_CONC="1 2 5 10 16 32"
            T_DUR=10; T2F_PER=100
            W7_DUR=10
            H1_DUR=10
            ;;
        quick)
            RUNS=1
            W1_DUR=2; W1_WARMUP=0
            W2_MIB=64; W2_CLIENTS=4
            FIO_RUNTIME=2
            W3_MIB=64; W3_CONC="1 5"; COLD_FILES=32
            W4_DL=8; W4_DUR=1; W4_PER=3
            SETTLE_MAX=4         # bounded: quick cold points may start before reporting settles
            W5_FILES=40; W5_MAX=$((64 * MIB)); W5_CLIENTS=16; W5_BYTES=$((160 * MIB)); W5_TAG=quick
            W6_CONNS=1000; W6_DUR=2; W6_INTERVAL="1 2"
            SEED_CONC="1 5"
            T_DUR=2; T2F_PER=40
            W7_DUR=2
            H1_DUR=2
            ;;
        smoke)
            RUNS=1
            W1_DUR=1; W1_WARMUP=0; W1_CONNS=10
            W2_MIB=8; W2_CLIENTS=2
            FIO_RUNTIME=1
            W3_MIB=4; W3_CONC="2"; COLD_FILES=6
            W4_DL=2; W4_DUR=1; W4_CONNS=4; W4_PER=2
            W5_FILES=12; W5_MAX=$((1 * MIB)); W5_CLIENTS=4; W5_BYTES=$((4 * MIB)); W5_TAG=smoke
            W6_CONNS=50; W6_DUR=1; W6_INTERVAL="0.3 0.6"
            SETTLE_MAX=2         # the smoke run proves the scripts, not the figures
            SEED_CONC="2"; SEED_SIZE_MIB=16
            T_DUR=1; T_CONNS=10; T2F_PER=5; T3_CONC="2"
            W7_DUR=1; W7_CONNS=10
            H1_DUR=1; H2_CONC="1 2"; H3_CONC="2"
            ;;
    esac
    [[ -n $RUNS_OPT ]] && RUNS=$RUNS_OPT
    WORKLOADS=$DEFAULT_WORKLOADS
    ((SEED_EXACT)) && WORKLOADS="fio S"
    ((TLS_ONLY)) && WORKLOADS="T1 T2 fio T3"
    ((H2_ONLY)) && WORKLOADS="H1 H2 fio H3"
    ((TLS_ONLY && H2_ONLY)) && WORKLOADS="T1 T2 fio T3 H1 H2 H3"
    [[ -n $WORKLOADS_OPT ]] && WORKLOADS=${WORKLOADS_OPT//,/ }
    local w
    for w in $WORKLOADS; do
        [[ " $ALL_WORKLOADS S " == *" $w "* ]] || die "unknown workload '$w' (want $ALL_WORKLOADS)"
    done
    OUT=${OUT_OPT:-bench/out}
    [[ $MODE == smoke && -z $OUT_OPT ]] && OUT=bench/out/smoke
    DATA=${BENCH_DATA:-bench/data}
    return 0
}

want() { [[ " $WORKLOADS " == *" $1 "* ]]; }
# want_kind tls|plain|h2 — a workload over TLS (T*, H*), plain HTTP (W*, S)
# or HTTP/2 (H*) is wanted.
want_kind() {
    local w list=$PLAIN_WORKLOADS
    [[ $1 == tls ]] && list=$TLS_WORKLOADS
    [[ $1 == h2 ]] && list=$H2_WORKLOADS
    for w in $list; do want "$w" && return 0; done
    return 1
}

# --- tools, paths -------------------------------------------------------------

resolve_paths() {
    if [[ -n ${FERRY_BIN:-} ]]; then
        [[ $FERRY_BIN == /* ]] || FERRY_BIN="$PWD/$FERRY_BIN"
    else
        FERRY_BIN="$ROOT/build/ferry"
    fi
    cd "$ROOT"
    mkdir -p "$DATA"
    DATA=$(cd "$DATA" && pwd)      # absolute: it goes into the servers' configs
}

check_tools() {
    local tool missing=()
    local need=(curl taskset wrk dd cmp ss "$PYTHON")
    if [[ $MODE != smoke ]]; then
        need+=(/usr/sbin/nginx /usr/sbin/lighttpd /usr/bin/h2o fio gnuplot)
    elif want fio && ! command -v fio >/dev/null 2>&1; then
        # The smoke test proves the scripts work; without fio it skips that point.
        WORKLOADS=${WORKLOADS/fio/}
        note "fio not installed: the smoke run skips the fio point"
    fi
    if want_kind tls; then
        need+=(openssl)
        # The TLS peers, when the run includes them (smoke: only if named).
        if [[ $MODE != smoke ]] || selected h2o-tls h2o; then need+=(/usr/bin/h2o); fi
        if [[ $MODE != smoke ]] || selected lighttpd-tls lighttpd; then
            [[ -e /usr/lib/lighttpd/mod_openssl.so ]] || missing+=(/usr/lib/lighttpd/mod_openssl.so)
        fi
    fi
    if want_kind h2; then
        H2LOAD=${H2LOAD:-h2load}
        need+=("$H2LOAD")
    fi
    if want W7; then
        # lighttpd's compression is a module of its own package; the check decodes br and zstd.
        if [[ $MODE != smoke ]] || { [[ -n $SERVERS_OPT ]] && selected lighttpd lighttpd; }; then
            [[ -e /usr/lib/lighttpd/mod_deflate.so ]] || missing+=(/usr/lib/lighttpd/mod_deflate.so)
        fi
        "$PYTHON" -c 'import brotli, zstandard' 2>/dev/null || missing+=("$PYTHON's brotli and zstandard")
    fi
    for tool in "${need[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) ||
        die "missing tools: ${missing[*]} (Debian packages: wrk nginx-light lighttpd lighttpd-mod-openssl lighttpd-mod-deflate h2o openssl fio gnuplot-nox curl iproute2 python3 python3-brotli python3-zstandard nghttp2-client; run scripts/deps.sh)"
    [[ -x $FERRY_BIN ]] || die "ferry binary $FERRY_BIN not found (run make)"
    if want W2 || want W3 || want W4 || want S || want T2 || want T3; then resolve_fetch; fi
    if ! taskset -c 0 true 2>/dev/null || ! taskset -c 1 true 2>/dev/null; then
        die "needs CPUs 0 and 1 (servers on 0, load on 1); this machine has $(nproc)"
    fi
    if ((EUID != 0)); then
        note "not root: page caches cannot be dropped, so W3/W4/W5/T3/H3 are NOT cold-cache figures"
    fi
    # Many connections (W6) and many open files: raise the descriptor limit.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
    if want W6 && (($(ulimit -n) < W6_CONNS + 1000)); then
        die "W6 needs $((W6_CONNS + 1000)) file descriptors, ulimit -n is $(ulimit -n)"
    fi
}

NOTES=()
TIMES=""
declare -A TOOK=()
# timed WORKLOAD CMD ARGS... — run CMD, adding its wall time to TOOK[WORKLOAD].
timed() {
    local w=$1 t=${EPOCHREALTIME/./}
    shift
    "$@"
    TOOK[$w]=$((${TOOK[$w]:-0} + ${EPOCHREALTIME/./} - t))
}
note() {
    NOTES+=("$*")
    log "note: $*"
}

# busy_check WHEN — a note when other work loads the machine (figures then
# measure the neighbours too): the 1-minute load average and the busiest
# processes that are not ours.
busy_check() {
    local la
    read -r la _ </proc/loadavg
    LOADAVG+="$1 $la; "
    # At the end the average includes the benchmark itself: record it only.
    if [[ $1 == "at start" ]] && awk -v l="$la" 'BEGIN { exit !(l > 0.7) }'; then
        local busy
        busy=$(ps -eo pcpu=,comm= --sort=-pcpu |
            awk '$2 !~ /^(ps|awk|run.sh|bash|ferry|nginx|lighttpd|wrk|curl|python3|taskset)$/ && $1 > 5 { printf "%s%s %s%%", sep, $2, $1; sep = ", " }' |
            head -c 200)
        note "machine busy $1: load average $la; busiest other processes now: ${busy:-none above 5 % (it was earlier)}"
    fi
}
LOADAVG=""

# estimate_minutes — a rough guess of the run's length on an idle machine:
# cold reads ~400 MiB/s plus ~1 s of page-reporting settle per 200 MiB freed.
estimate_minutes() {
    local n=${#PLAIN_INSTANCES[@]} sumc=0 c s=0
    for c in $W3_CONC; do sumc=$((sumc + c)); done
    want W1 && s=$((s + n * (W1_DUR + W1_WARMUP + 1)))
    want W2 && s=$((s + n * (W2_MIB * W2_CLIENTS / 800 + 2)))
    want W3 && s=$((s + n * (sumc * W3_MIB * 3 / 400 + 3)))
    want W4 && s=$((s + n * (2 * W4_DUR + 2 + W4_DUR * 2)))
    want W5 && s=$((s + n * (W5_BYTES / MIB * 2 / 400 + 1)))
    want W6 && s=$((s + n * (W6_DUR + W6_CONNS / 2000 + 1 + 2 * W6_RESTART)))
    want W7 && s=$((s + n * (W7_DUR + W1_WARMUP + 2)))
    want S && for c in $SEED_CONC; do s=$((s + n * (SEED_SIZE_MIB * 3 / 400 + 3))); done
    want fio && s=$((s + 2 * FIO_RUNTIME + 2))
    # TLS: the instances that speak it; full handshakes at ~1,000/s (the
    # client's OpenSSL 3 costs ~1 ms of CPU 1 per handshake).
    local nt=${#TLS_INSTANCES[@]} sumt=0
    for c in $T3_CONC; do sumt=$((sumt + c)); done
    want T1 && s=$((s + nt * (T_DUR + W1_WARMUP + 1)))
    want T2 && s=$((s + nt * (T_DUR + 2 * T_CONNS * T2F_PER / 1000 + 2)))
    want T3 && s=$((s + nt * (sumt * W3_MIB * 3 / 400 + 3)))
    # HTTP/2: ferry-tls and the two h2 peers (lighttpd-tls sits H1-H3 out).
    local nh=0 id sum2=0 sum3=0
    for id in "${TLS_INSTANCES[@]}"; do runs_workload "$id" H1 && nh=$((nh + 1)); done
    for c in $H2_CONC; do sum2=$((sum2 + c)); done
    for c in $H3_CONC; do sum3=$((sum3 + c)); done
    want H1 && s=$((s + nh * (H1_DUR + W1_WARMUP + 1)))
    want H2 && s=$((s + nh * (2 * sum2 * W2_MIB / 500 + 2)))
    want H3 && s=$((s + nh * (sum3 * W3_MIB * 3 / 400 + 3)))
    echo $(((s * RUNS + 20 + 59) / 60))
}

# --- data ---------------------------------------------------------------------

# make_file PATH BYTES — random bytes, once; reused when present with that size.
make_file() {
    local path=$1 bytes=$2
    if [[ -f $path && $(stat -c %s "$path") -eq $bytes ]]; then
        return 0
    fi
    mkdir -p "$(dirname "$path")"
    dd if=/dev/urandom of="$path.tmp" bs=1M count="$bytes" iflag=count_bytes,fullblock status=none
    mv "$path.tmp" "$path"
}

cold_path() { printf '/cold/%dm-%02d.bin' "$W3_MIB" "$1"; }

prepare_data() {
    local need=0 i name size _w f
    mkdir -p "$DATA"
    # Rough space check before writing gigabytes.
    if want W2 || want H2; then need=$((need + W2_MIB)); fi
    COLD_NEEDED=0
    if want W3 || want W4 || want T3 || want H3 || { want fio && ! want S; }; then COLD_NEEDED=1; fi
    ((COLD_NEEDED)) && need=$((need + COLD_FILES * W3_MIB))
    want S && need=$((need + SEED_SIZE_MIB))
    want W5 && need=$((need + W5_FILES * W5_MAX / MIB / 6))
    local avail
    avail=$(df -Pm "$DATA" | awk 'NR == 2 { print $4 }')
    ((avail > need + 1024)) || die "needs about $need MiB free in $DATA, $avail MiB available"
    log "preparing data in $DATA (about $need MiB, made once, reused)"

    make_file "$DATA/1k.bin" 1024
    printf '<!doctype html>\n<title>ferry bench</title>\n' >"$DATA/index.html"
    if want W2 || want H2; then
        HOT_PATH=/hot/${W2_MIB}m.bin
        make_file "$DATA$HOT_PATH" $((W2_MIB * MIB))
    fi
    FIO_FILES=""
    if ((COLD_NEEDED)); then
        for ((i = 1; i <= COLD_FILES; i++)); do
            make_file "$DATA$(cold_path "$i")" $((W3_MIB * MIB))
            FIO_FILES+="${FIO_FILES:+:}$DATA$(cold_path "$i")"
        done
        FIO_WHAT="the $COLD_FILES W3 files ($W3_MIB MiB each)"
    fi
    if want S; then
        SEED_PATH=/seed/${SEED_SIZE_MIB}m.bin
        make_file "$DATA$SEED_PATH" $((SEED_SIZE_MIB * MIB))
        if ((!COLD_NEEDED)); then
            FIO_FILES=$DATA$SEED_PATH
            FIO_WHAT="the seed file ($SEED_SIZE_MIB MiB)"
        fi
    fi
    if want W5; then
        W5_DIR=w5-$W5_TAG
        W5_MANIFEST="$DATA/$W5_DIR/manifest"
        mkdir -p "$DATA/$W5_DIR"
        "$PYTHON" "$SCRIPT_DIR/loadgen.py" manifest --count "$W5_FILES" --min 1024 --max "$W5_MAX" \
            >"$W5_MANIFEST.new"
        mv "$W5_MANIFEST.new" "$W5_MANIFEST"
        W5_SET_BYTES=0
        while read -r name size _w; do
            make_file "$DATA/$W5_DIR/$name" "$size"
            W5_SET_BYTES=$((W5_SET_BYTES + size))
        done <"$W5_MANIFEST"
        for f in "$DATA/$W5_DIR"/*.bin; do
            [[ -e $f ]] || continue
            grep -q "^${f##*/} " "$W5_MANIFEST" || rm -f "$f"
        done
        log "W5 set: $W5_FILES files, $((W5_SET_BYTES / MIB)) MiB"
    fi
    if want W7; then
        "$PYTHON" "$SCRIPT_DIR/w7.py" make "$DATA/w7"
        w7_lua >"$WORK/w7.lua"
    fi
    sync
}

# --- cold cache ---------------------------------------------------------------

# Cold data is tracked by key: a key is "touched" once a point has read it
# since the last drop. need_cold KEY... drops the caches only if one of the
# keys is touched, then marks them all. The W3/W4 files form a pool that
# cold_take hands out in rotation, so several points share one drop (each
# drop costs ~3 s of settling on top of ~1 s per 200 MiB freed).
declare -A TOUCHED=()
DROPS=0
need_cold() {
    local k dirty=$((DROPS == 0))    # the first cold point always drops
    for k in "$@"; do
        [[ -n ${TOUCHED[$k]:-} ]] && dirty=1
    done
    if ((dirty)); then
        drop_caches
        DROPS=$((DROPS + 1))
        TOUCHED=()
    fi
    for k in "$@"; do
        TOUCHED[$k]=1
    done
}

# cold_take N — the next N pool files (indices in COLD_TAKEN), cold for sure.
COLD_NEXT=1
cold_take() {
    local n=$1 i keys=()
    ((n <= COLD_FILES)) || die "a point needs $n cold files, the pool has $COLD_FILES"
    COLD_TAKEN=()
    for ((i = 0; i < n; i++)); do
        COLD_TAKEN+=("$COLD_NEXT")
        keys+=("c$COLD_NEXT")
        COLD_NEXT=$((COLD_NEXT % COLD_FILES + 1))
    done
    need_cold "${keys[@]}"
}

# --- server instances ---------------------------------------------------------

declare -A I_SERVER=() I_BACKEND=() I_CONF=() I_TLS=()
declare -A I_ONLY=()  # an instance that runs some workloads only: their names
INSTANCES=()
PLAIN_INSTANCES=()   # INSTANCES split by what they speak: plain HTTP (W*, S) ...
TLS_INSTANCES=()     # ... or HTTPS (T*)
declare -A PIDS=() PORTS=() RANGE_NOTED=()

add_instance() {
    INSTANCES+=("$1")
    I_SERVER[$1]=$2
    I_BACKEND[$1]=$3
}

# ferry_conf CONF BACKEND [BLOCK] [LINE...] — an instance's configuration: the
# settings every instance has, its backend and block size, more top-level
# lines, and (W7, when this ferry has compress) compression for /w7/ with a
# cache directory of the instance's own.
ferry_conf() {
    local conf=$1 backend=$2 block=${3:-} line
    shift $(($# < 3 ? $# : 3))
    {
        echo "max-keepalive-requests = 0"
        echo "access-log = off"
        echo "log-level = warn"
        echo "max-connections = 20000"
        if [[ -n $backend ]]; then echo "backend = $backend"; fi
        if [[ -n $block ]]; then echo "aio-block-size = $block"; fi
        for line in "${FERRY_EXTRA[@]}" "$@"; do echo "$line"; done
        if ((FERRY_W7)); then w7_ferry_lines "${conf%.conf}.compress"; fi
    } >"$conf"
}

selected() {
    local id=$1 server=$2 s
    [[ -z $SERVERS_OPT ]] && return 0
    for s in ${SERVERS_OPT//,/ }; do
        [[ $s == "$id" || $s == "$server" ]] && return 0
    done
    return 1
}

# detect_instances — the server instances of this run: ferry's backends and
# the plain peers when a plain workload is wanted, ferry-tls and the TLS
# peers when a TLS one is; --servers filters, --smoke keeps ferry only
# unless --servers names others.
detect_instances() {
    ferry_extra_lines "$FERRY_BIN" "$WORK"
    want W7 && w7_detect_ferry
    if want_kind plain; then
        detect_ferry_backends
        if [[ $MODE == smoke && -z $SERVERS_OPT ]]; then
            local first=${INSTANCES[0]:-}
            [[ -n $first ]] || die "no ferry backend works"
            INSTANCES=("$first")
        else
            detect_plain_peers
        fi
    fi
    if want_kind tls; then
        detect_ferry_tls
        [[ $MODE == smoke && -z $SERVERS_OPT ]] || detect_tls_peers
    fi
    ((${#INSTANCES[@]})) || die "no server selected by --servers '$SERVERS_OPT'"
    drop_idle_instances
    split_instances
    drop_idle_workloads
}

# drop_idle_instances — an instance limited to some workloads (I_ONLY: h2o
# plain, lighttpd-tls outside H1-H3) none of which is in the run is not started.
drop_idle_instances() {
    local id w kept=()
    [[ $WORKLOADS == fio ]] && return 0    # no server runs; none is started
    for id in "${INSTANCES[@]}"; do
        if [[ -z ${I_ONLY[$id]:-} ]]; then kept+=("$id"); continue; fi
        for w in $WORKLOADS; do
            if runs_workload "$id" "$w"; then kept+=("$id"); break; fi
        done
    done
    INSTANCES=("${kept[@]}")
    ((${#INSTANCES[@]})) || die "no server selected by --servers '$SERVERS_OPT' runs the workloads $WORKLOADS"
}

# split_instances — PLAIN_INSTANCES and TLS_INSTANCES from INSTANCES.
split_instances() {
    local id
    PLAIN_INSTANCES=()
    TLS_INSTANCES=()
    for id in "${INSTANCES[@]}"; do
        if [[ -n ${I_TLS[$id]:-} ]]; then TLS_INSTANCES+=("$id"); else PLAIN_INSTANCES+=("$id"); fi
    done
}

# drop_idle_workloads — a workload without a server of its kind (e.g. the
# TLS ones when ferry has no TLS in --smoke, or W1-W6 with --servers h2o)
# leaves the run, with a note.
drop_idle_workloads() {
    local w kept=() no_tls=() no_plain=() no_h2=()
    for w in $WORKLOADS; do
        if [[ " $TLS_WORKLOADS " == *" $w "* ]] && ((${#TLS_INSTANCES[@]} == 0)); then
            no_tls+=("$w")
        elif [[ " $H2_WORKLOADS " == *" $w "* ]] && ! any_runs "$w" "${TLS_INSTANCES[@]}"; then
            no_h2+=("$w")
        elif [[ " $PLAIN_WORKLOADS " == *" $w "* ]] && ((${#PLAIN_INSTANCES[@]} == 0)); then
            no_plain+=("$w")
        else
            kept+=("$w")
        fi
    done
    ((${#no_tls[@]} == 0)) || note "${no_tls[*]}: no TLS server in this run, skipped"
    ((${#no_plain[@]} == 0)) || note "${no_plain[*]}: no plain-HTTP server in this run, skipped"
    ((${#no_h2[@]} == 0)) || note "${no_h2[*]}: no server speaking h2 in this run, skipped"
    WORKLOADS=${kept[*]}
}

# detect_ferry_tls — the ferry-tls instance if this ferry speaks TLS: ferry
# -t with --tls-cert/--tls-key must accept the bench certificate. A ferry
# that does not know the options (before issue 13) is skipped with a note;
# one that knows them but refuses the setup is an error.
detect_ferry_tls() {
    selected ferry-tls ferry || return 0
    local conf="$WORK/ferry-tls.conf" backend=${FERRY_TLS_BACKEND:-} out
    ferry_conf "$conf" "$backend"
    if out=$("$FERRY_BIN" -t -c "$conf" -r "$DATA" -l "127.0.0.1:$(free_port)"         --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" 2>&1); then
        add_instance ferry-tls ferry "tls${backend:+-$backend}"
        I_CONF[ferry-tls]=$conf
        I_TLS[ferry-tls]=1
        # HTTP/2 (issue 14) is on by default where ferry knows it; a build
        # before it refuses the key and sits H1-H3 out.
        if want_kind h2; then
            { cat "$conf"; echo "http2 = on"; } >"$WORK/probe-h2.conf"
            if ! "$FERRY_BIN" -t -c "$WORK/probe-h2.conf" -r "$DATA" -l "127.0.0.1:$(free_port)" \
                --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" >/dev/null 2>&1; then
                I_ONLY[ferry-tls]="T1 T2 T3"
                note "ferry: no HTTP/2 in this build (ferry -t refuses 'http2 = on'): ferry-tls sits H1-H3 out"
            fi
        fi
    elif grep -qiE "(unrecognized|unknown|invalid) option" <<<"$out"; then
        note "ferry: no TLS in this build ($(basename "$FERRY_BIN") -t --tls-cert: $(head -n 1 <<<"$out")):" \
            "ferry-tls skipped, the TLS workloads measure the peers only"
    else
        note "ERROR: ferry rejects its TLS setup (ferry -t -c $conf --tls-cert ... --tls-key ...):" \
            "$(head -n 3 <<<"$out" | tr '\n' ' '); ferry-tls left out of this run"
        ERROR_POINTS=$((ERROR_POINTS + 1))
    fi
}

detect_tls_peers() {
    local server
    for server in nginx lighttpd h2o; do
        if selected "$server-tls" "$server"; then
            add_instance "$server-tls" "$server" tls
            I_TLS[$server-tls]=1
        fi
    done
    # HTTP/2: the peers issue 14 names are nginx and h2o (h2o 2.2 offers h2
    # by ALPN as it is). lighttpd 1.4 speaks h2 too, but keeps to T1-T3: a
    # third peer would add a third of H1-H3's time.
    if selected lighttpd-tls lighttpd; then I_ONLY[lighttpd-tls]="T1 T2 T3"; fi
    if selected nginx-tls nginx; then detect_nginx_h2; fi
}

# detect_nginx_h2 — how this nginx turns HTTP/2 on for its TLS listener:
# "http2 on;" in the server block (nginx >= 1.25.1) or "listen ... http2"
# (before, Debian 12's 1.22). Sets NGINX_H2_SERVER or NGINX_H2_LISTEN; with
# neither (no http_v2 module: nginx -V) nginx-tls sits H1-H3 out, with a note.
# Set whenever nginx can: every TLS server of the run then offers h2 by
# ALPN, and none of the HTTP/1.1 clients (wrk offers no ALPN, fetch
# http/1.1, curl in the startup check either) is moved to it.
NGINX_H2_SERVER=""
NGINX_H2_LISTEN=""
detect_nginx_h2() {
    local server_line listen_flag probe="$WORK/nginx-h2-probe"
    for server_line in "http2 on;" ""; do
        listen_flag=""
        [[ -z $server_line ]] && listen_flag=http2
        write_nginx_conf "$probe.conf" "$probe" "$(free_port)" "$DATA" "" "$TLS_CERT" "$TLS_KEY" \
            "$server_line" "$listen_flag"
        if /usr/sbin/nginx -p "$probe" -e "$probe/error.log" -c "$probe.conf" -t -q >/dev/null 2>&1; then
            NGINX_H2_SERVER=$server_line
            NGINX_H2_LISTEN=$listen_flag
            return 0
        fi
    done
    I_ONLY[nginx-tls]="T1 T2 T3"
    want_kind h2 && note "nginx: no HTTP/2 in this build (neither 'http2 on;' nor 'listen ... http2' passes nginx -t; nginx -V lists --with-http_v2_module when it has it): nginx-tls sits H1-H3 out"
    return 0
}

detect_ferry_backends() {
    local b conf block
    for b in sendfile writev linux-aio-sendfile io-uring auto; do
        if [[ $b == linux-aio-sendfile ]]; then
            if ! "$FERRY_BIN" -t -B "$b" >/dev/null 2>&1; then
                note "ferry backend $b: not in this build (ferry -t -B $b exits non-zero), skipped"
                continue
            fi
            local any=0
            for block in 512k 1m; do
                conf="$WORK/ferry-aio-$block.conf"
                ferry_conf "$conf" "$b" "$block"
                if "$FERRY_BIN" -t -c "$conf" >/dev/null 2>&1; then
                    selected "ferry-aio-$block" ferry && add_instance "ferry-aio-$block" ferry "$b-$block"
                    I_CONF[ferry-aio-$block]=$conf
                    any=1
                fi
            done
            # The seed's exact way: sendfile() from the pool (aio-send = sendfile).
            conf="$WORK/ferry-aio-1m-sendfile.conf"
            ferry_conf "$conf" "$b" 1m "aio-send = sendfile"
            if "$FERRY_BIN" -t -c "$conf" >/dev/null 2>&1; then
                selected "ferry-aio-1m-sendfile" ferry && add_instance "ferry-aio-1m-sendfile" ferry "$b-1m-sendfile"
                I_CONF[ferry-aio-1m-sendfile]=$conf
            fi
            if ((!any)); then
                note "ferry: aio-block-size not accepted (ferry -t -c), $b runs with its default block size"
                conf="$WORK/ferry-$b.conf"
                ferry_conf "$conf" "$b"
                selected "ferry-$b" ferry && add_instance "ferry-$b" ferry "$b"
                I_CONF[ferry-$b]=$conf
            fi
            continue
        fi
        if "$FERRY_BIN" -t -B "$b" >/dev/null 2>&1; then
            conf="$WORK/ferry-$b.conf"
            ferry_conf "$conf" "$b"
            "$FERRY_BIN" -t -c "$conf" >/dev/null 2>&1 || die "ferry rejects $conf: $("$FERRY_BIN" -t -c "$conf" 2>&1)"
            selected "ferry-$b" ferry && add_instance "ferry-$b" ferry "$b"
            I_CONF[ferry-$b]=$conf
        else
            note "ferry backend $b: not in this build (ferry -t -B $b exits non-zero), skipped"
        fi
    done
}

detect_plain_peers() {
    if selected nginx nginx; then add_instance nginx nginx sendfile; fi
    # nginx-aio: "aio on" needs file AIO compiled in; Debian's nginx-light has
    # only --with-threads, so fall back to "aio threads".
    NGINX_AIO=""
    local d
    for d in "aio on;" "aio threads;"; do
        write_nginx_conf "$WORK/nginx-probe.conf" "$WORK/nginx-probe" "$(free_port)" "$DATA" \
            "$d directio 4m; output_buffers 2 1m;"
        if /usr/sbin/nginx -p "$WORK/nginx-probe" -e "$WORK/nginx-probe/error.log" \
            -c "$WORK/nginx-probe.conf" -t -q >/dev/null 2>&1; then
            NGINX_AIO=$d
            break
        fi
        [[ $d == "aio on;" ]] && note "nginx: 'aio on' unsupported by this build (no --with-file-aio); nginx-aio uses 'aio threads'"
    done
    if [[ -z $NGINX_AIO ]]; then
        note "nginx-aio: neither 'aio on' nor 'aio threads' supported by this nginx, mode unavailable"
    elif selected nginx-aio nginx; then
        local label=${NGINX_AIO%;}
        add_instance nginx-aio nginx "${label// /-}+directio"
    fi
    if selected lighttpd lighttpd; then add_instance lighttpd lighttpd default; fi
    # h2o (one thread), the small-file peer issue 16 asks for: on the hot
    # workloads, where it competes (it has no asynchronous file reads).
    if selected h2o h2o; then
        add_instance h2o h2o default
        I_ONLY[h2o]="W1 W2 W4"
    fi
}

# runs_workload ID W — whether instance ID takes part in workload W.
runs_workload() {
    [[ -z ${I_ONLY[$1]:-} || " ${I_ONLY[$1]} " == *" $2 "* ]]
}

# any_runs W ID... — whether one of these instances takes part in workload W.
any_runs() {
    local w=$1 id
    shift
    for id in "$@"; do runs_workload "$id" "$w" && return 0; done
    return 1
}

start_instance() {
    local id=$1 port dir="$WORK/$1" tls=() scheme=http
    port=$(free_port)
    mkdir -p "$dir"
    # A TLS instance: every server the same key and certificate.
    if [[ -n ${I_TLS[$id]:-} ]]; then
        tls=("$TLS_CERT" "$TLS_KEY")
        scheme=https
    fi
    case ${I_SERVER[$id]} in
        ferry)
            local args=()
            ((${#tls[@]})) && args=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
            taskset -c 0 "$FERRY_BIN" -c "${I_CONF[$id]}" -r "$DATA" -l "127.0.0.1:$port" "${args[@]}" \
                >"$dir/out.log" 2>&1 &
            ;;
        nginx)
            local extra="" server_extra="" listen_flags=""
            [[ $id == nginx-aio ]] && extra="$NGINX_AIO directio 4m; output_buffers 2 1m;"
            want W7 && ((${#tls[@]} == 0)) && server_extra=$W7_NGINX
            # Over TLS HTTP/2 as well, when this nginx has it (detect_nginx_h2).
            if ((${#tls[@]})); then
                server_extra+=$NGINX_H2_SERVER
                listen_flags=$NGINX_H2_LISTEN
            fi
            write_nginx_conf "$dir/nginx.conf" "$dir" "$port" "$DATA" "$extra" "${tls[0]:-}" "${tls[1]:-}" \
                "$server_extra" "$listen_flags"
            /usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -t -q >"$dir/out.log" 2>&1 ||
                { show_logs "$dir/out.log"; die "nginx rejected $dir/nginx.conf"; }
            taskset -c 0 /usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
                -g 'daemon off;' >>"$dir/out.log" 2>&1 &
            ;;
        lighttpd)
            write_lighttpd_conf "$dir/lighttpd.conf" "$dir" "$port" "$DATA" "${tls[@]}"
            want W7 && ((${#tls[@]} == 0)) && w7_lighttpd_lines "$dir/deflate-cache" >>"$dir/lighttpd.conf"
            /usr/sbin/lighttpd -tt -f "$dir/lighttpd.conf" >"$dir/out.log" 2>&1 ||
                { show_logs "$dir/out.log"; die "lighttpd rejected $dir/lighttpd.conf"; }
            taskset -c 0 /usr/sbin/lighttpd -D -f "$dir/lighttpd.conf" >>"$dir/out.log" 2>&1 &
            ;;
        h2o)
            write_h2o_conf "$dir/h2o.conf" "$dir" "$port" "$DATA" "${tls[@]}"
            /usr/bin/h2o -t -c "$dir/h2o.conf" >"$dir/out.log" 2>&1 ||
                { show_logs "$dir/out.log"; die "h2o rejected $dir/h2o.conf"; }
            taskset -c 0 /usr/bin/h2o -c "$dir/h2o.conf" >>"$dir/out.log" 2>&1 &
            ;;
    esac
    PIDS[$id]=$!
    PORTS[$id]=$port
    local i body="$dir/1k.body"
    for ((i = 0; i < 50; i++)); do
        if ! kill -0 "${PIDS[$id]}" 2>/dev/null; then
            show_logs "$dir/out.log" "$dir/error.log"
            START_ERROR="$id exited during startup: $(tail -n 3 "$dir/out.log" 2>/dev/null | tr '\n' ' ')"
            wait "${PIDS[$id]}" 2>/dev/null || true
            unset "PIDS[$id]"
            return 1
        fi
        curl -fsS --max-time 2 ${tls[0]:+--cacert "$TLS_CERT"} "$scheme://127.0.0.1:$port/1k.bin" -o "$body" \
            2>/dev/null && break
        sleep 0.1
    done
    if ((i == 50)); then
        show_logs "$dir/out.log" "$dir/error.log"
        START_ERROR="$id did not answer on 127.0.0.1:$port within 5 s"
        stop_pid "$id" "${PIDS[$id]}"
        unset "PIDS[$id]"
        return 1
    fi
    if ! cmp -s "$body" "$DATA/1k.bin"; then
        START_ERROR="$id served wrong bytes for /1k.bin"
        stop_pid "$id" "${PIDS[$id]}"
        unset "PIDS[$id]"
        return 1
    fi
    # curl trusted the bench certificate; the served one must be it, and
    # what a default client negotiates goes into the report.
    if ((${#tls[@]})) && ! TLS_INFO[$id]=$(tls_describe "127.0.0.1:$port" "$TLS_CERT" "$dir"); then
        START_ERROR="$id does not serve the bench certificate"
        stop_pid "$id" "${PIDS[$id]}"
        unset "PIDS[$id]"
        return 1
    fi
    ((${#tls[@]})) && want_kind h2 && runs_workload "$id" H1 && h2_check "$id" "$dir"
    return 0
}

# h2_check ID DIR — an instance that is to run H1-H3 must answer curl --http2
# (ALPN h2, then http/1.1) over HTTP/2 with /1k.bin byte for byte; one that
# does not sits them out, an error (a note, exit status 1). The report's TLS
# table says which did.
h2_check() {
    local id=$1 dir=$2 version
    version=$(curl -sS --http2 --max-time 5 --cacert "$TLS_CERT" -o "$dir/1k.h2.body" -w '%{http_version}' \
        "https://127.0.0.1:${PORTS[$id]}/1k.bin" 2>"$dir/h2-check.err") || version="curl failed: $(head -c 200 "$dir/h2-check.err")"
    if [[ $version == 2 ]] && cmp -s "$dir/1k.h2.body" "$DATA/1k.bin"; then
        TLS_INFO[$id]+=", ALPN h2: yes"
        return 0
    fi
    [[ $version == 2 ]] && version="2, wrong bytes"
    TLS_INFO[$id]+=", ALPN h2: no (curl --http2: HTTP $version)"
    I_ONLY[$id]="T1 T2 T3"
    note "ERROR: $id does not serve /1k.bin over HTTP/2 (curl --http2: HTTP $version); it sits H1-H3 out"
    ERROR_POINTS=$((ERROR_POINTS + 1))
}
declare -A TLS_INFO=()

# start_all — start every instance; one that fails to start is reported as an
# error (a note in the report, exit status 1) and left out of the run.
start_all() {
    local id ok=()
    for id in "${INSTANCES[@]}"; do
        if start_instance "$id"; then
            ok+=("$id")
        else
            note "ERROR: $START_ERROR; $id left out of this run"
            ERROR_POINTS=$((ERROR_POINTS + 1))
        fi
    done
    ((${#ok[@]})) || die "no server started"
    INSTANCES=("${ok[@]}")
    split_instances
    drop_idle_workloads
    log "servers up: $(for id in "${INSTANCES[@]}"; do printf '%s:%s ' "$id" "${PORTS[$id]}"; done)"
}

# stop_all — SIGTERM to every server we started at once (a graceful stop
# can take a second or two), then wait for each; SIGKILL after 5 s.
stop_all() {
    local id
    for id in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$id]}" 2>/dev/null || true
    done
    for id in "${!PIDS[@]}"; do
        stop_pid "$id" "${PIDS[$id]}"
        unset "PIDS[$id]"
    done
}

# server_pids ID — the server's PID and its children (nginx's worker).
server_pids() {
    local pid=${PIDS[$1]} c
    echo "$pid"
    for c in /proc/"$pid"/task/*/children; do
        [[ -r $c ]] && tr ' ' '\n' <"$c"
    done | grep -v '^$' || true
}

# cpu_ticks PID... — utime+stime (clock ticks) of these processes, all threads.
cpu_ticks() {
    local t=0 p s f
    for p in "$@"; do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

cleanup() {
    stop_all
    if [[ -n ${WORK:-} ]]; then
        if [[ ${BENCH_KEEP_WORK:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
    return 0
}

# --- recording ----------------------------------------------------------------

ERROR_POINTS=0
# record WORKLOAD ID CONCURRENCY RUN METRIC VALUE [METRIC VALUE ...]
record() {
    local w=$1 id=$2 c=$3 run=$4
    shift 4
    while (($#)); do
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "${I_SERVER[$id]}" "${I_BACKEND[$id]}" "$c" "$1" "$2" "$run" \
            >>"$RESULTS"
        shift 2
    done
}

point_errors() {
    local what=$1 n=$2 detail=${3:-}
    if ((n > 0)); then
        ERROR_POINTS=$((ERROR_POINTS + 1))
        log "ERROR $what: $n error(s) $detail"
    fi
}

fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b == 0) print "-"; else printf f "\n", a / b }'; }

# --- downloads with fetch (W2, W3, W4, seed) --------------------------------

# The download client is bench/fetch.c, not curl: one process, one epoll loop,
# and the bodies discarded in the kernel (recv with MSG_TRUNC) instead of
# copied to user space. With one curl per client the load generator's CPU
# was 100 % busy at ~1.3 GB/s while the server's was 38 %: the figures
# measured curl. Every server is measured with the same client.
# resolve_fetch — sets FETCH; builds build/fetch (make) when it is missing or
# older than its source; FETCH from the environment is used as it is.
resolve_fetch() {
    if [[ -n ${FETCH:-} ]]; then
        [[ $FETCH == /* ]] || FETCH="$ROOT/$FETCH"
        [[ -x $FETCH ]] || die "FETCH=$FETCH is not an executable (the download client, bench/fetch.c)"
        return 0
    fi
    FETCH="$ROOT/build/fetch"
    if [[ ! -x $FETCH || $ROOT/bench/fetch.c -nt $FETCH ]]; then
        log "building the download client: make -C $ROOT build/fetch"
        make -C "$ROOT" build/fetch >"$WORK/fetch-build.log" 2>&1 ||
            die "could not build $FETCH (make -C $ROOT build/fetch): $(tail -n 5 "$WORK/fetch-build.log")"
    fi
}

# download_point ID PATH:BYTES... — every download at once, one connection
# each, by one fetch process pinned to CPU 1 (over TLS for a TLS instance).
# fetch prints one line per argument: "SIZE CODE", or "SIZE 000 REASON" for
# a failure. Sets DL_BYTES DL_US DL_TICKS DL_CLIENT_CPU DL_ERRS DL_DETAIL.
download_point() {
    local id=$1 port=${PORTS[$1]} i=0 spec srv lines=() tls=()
    shift
    [[ -n ${I_TLS[$id]:-} ]] && tls=(-s "$TLS_CERT")
    mapfile -t srv < <(server_pids "$id")
    local c0 t0 c1 t1 TIMEFORMAT='%U %S'
    c0=$(cpu_ticks "${srv[@]}")
    t0=${EPOCHREALTIME/./}
    { time taskset -c 1 "$FETCH" -t "$DL_TIMEOUT" "${tls[@]}" "127.0.0.1:$port" "$@" \
        >"$WORK/dl.out" 2>"$WORK/dl.err"; } 2>"$WORK/dl.cpu" || true
    t1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks "${srv[@]}")
    mapfile -t lines <"$WORK/dl.out"
    DL_US=$((t1 - t0))
    DL_TICKS=$((c1 - c0))
    DL_CLIENT_CPU=$(client_cpu "$WORK/dl.cpu")
    DL_BYTES=0
    DL_ERRS=0
    DL_DETAIL=""
    local size code rest
    for spec in "$@"; do
        size=- code=- rest=""
        # No line at all: fetch itself failed (its stderr says why).
        [[ -n ${lines[$i]:-} ]] || lines[i]="- - fetch printed nothing: $(tail -n 2 "$WORK/dl.err" | tr '\n' ' ')"
        read -r size code rest <<<"${lines[$i]}"
        if [[ $code != 200 || $size != "${spec##*:}" || -n $rest ]]; then
            DL_ERRS=$((DL_ERRS + 1))
            ((DL_ERRS > 5)) || DL_DETAIL+=" [${spec%:*}: ${lines[$i]}]"
        fi
        [[ $size =~ ^[0-9]+$ ]] && DL_BYTES=$((DL_BYTES + size))
        i=$((i + 1))
    done
}

# record_download WORKLOAD ID C RUN — the figures of the last download_point.
record_download() {
    local w=$1 id=$2 c=$3 run=$4 wall cpu mibps
    wall=$(fdiv "$DL_US" 1000000 %.4f)
    cpu=$(fdiv "$DL_TICKS" "$CLK_TCK" %.3f)
    mibps=$(awk -v b="$DL_BYTES" -v u="$DL_US" 'BEGIN { printf "%.1f\n", b / 1048576 / (u / 1e6) }')
    record "$w" "$id" "$c" "$run" mibps "$mibps" bytes "$DL_BYTES" wall_s "$wall" cpu_s "$cpu" \
        cpu_s_per_gib "$(awk -v c="$cpu" -v b="$DL_BYTES" 'BEGIN { if (b) printf "%.3f\n", c / (b / 1073741824); else print "-" }')" \
        idle_pct "$(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.1f\n", 100 - c / w * 100 }')" \
        client_busy_pct "$(busy_pct "$DL_CLIENT_CPU" "$DL_US")" errors "$DL_ERRS"
    point_errors "$w $id c=$c run $run" "$DL_ERRS" "$DL_DETAIL"
    log "$(printf '%-4s %-20s c=%-3s run %d: %8s MiB/s  cpu %ss  (%s s)%s' "$w" "$id" "$c" "$run" \
        "$mibps" "$cpu" "$wall" "$( ((DL_ERRS)) && echo "  ERRORS $DL_ERRS")")"
}

# client_cpu FILE — the CPU-seconds bash's `time` wrote there (TIMEFORMAT
# '%U %S': user and system of the load generator, CPU 1).
client_cpu() {
    awk 'NF >= 2 { c = $(NF - 1) + $NF } END { printf "%.3f\n", c }' "$1" 2>/dev/null || echo 0
}

# busy_pct CPU_SECONDS MICROSECONDS — percent of one CPU busy over the wall.
busy_pct() {
    awk -v c="$1" -v u="$2" 'BEGIN { if (u > 0) printf "%.1f\n", c / (u / 1e6) * 100; else print "-" }'
}

# --- wrk ----------------------------------------------------------------------

# run_wrk ID CONNS SECONDS OUT [WRK_ARGS...] — wrk on /1k.bin pinned to CPU 1,
# https for a TLS instance; its CPU-seconds (user, system) go to OUT.cpu.
run_wrk() {
    local id=$1 conns=$2 secs=$3 out=$4 scheme=http TIMEFORMAT='%U %S'
    shift 4
    [[ -n ${I_TLS[$id]:-} ]] && scheme=https
    { time taskset -c 1 wrk -t1 -c"$conns" -d"$secs"s --latency "$@" "$scheme://127.0.0.1:${PORTS[$id]}/1k.bin" \
        >"$out" 2>&1; } 2>"$out.cpu" || true
}

# wrk_requests OUT — the number of requests wrk completed (0 if none).
wrk_requests() {
    awk '$2 == "requests" && $3 == "in" { n = $1 } END { print n + 0 }' "$1"
}

# wrk_figures OUT — sets WRK_RPS WRK_P50 WRK_P99 WRK_MAX (ms) WRK_ERRS WRK_DETAIL.
wrk_figures() {
    local rps p50 p99 n2 c r w t max
    read -r rps p50 p99 n2 c r w t max < <(parse_wrk "$1")
    WRK_ERRS=$((n2 + c + r + w + t))
    WRK_DETAIL="non-2xx $n2, connect $c, read $r, write $w, timeout $t"
    if [[ $rps == - ]]; then
        WRK_ERRS=$((WRK_ERRS + 1))
        WRK_DETAIL="wrk failed: $(head -c 200 "$1" | tr '\n' ' ')"
        rps=0
    fi
    WRK_RPS=$rps
    WRK_P50=$(awk -v u="$p50" 'BEGIN { printf "%.3f\n", u / 1000 }')
    WRK_P99=$(awk -v u="$p99" 'BEGIN { printf "%.3f\n", u / 1000 }')
    WRK_MAX=$(awk -v u="$max" 'BEGIN { printf "%.3f\n", u / 1000 }')
}

# --- workloads ----------------------------------------------------------------
# Each workload has a describe_W (printed once) and a W_point ID RUN that
# measures one server instance once. main runs, for each run, every instance
# through every workload in turn ("instance-major"), so the cold points of one
# instance (W3, W4, W5) read distinct never-read files after a single cache
# drop; the runs then rotate the order of the instances.

describe_W1() { log "W1 small hot: /1k.bin, wrk -t1 -c$W1_CONNS -d${W1_DUR}s"; }
# With the server's CPU per request and wrk's CPU: one wrk thread costs
# about as much CPU per request as a fast server, so near 100 % client busy
# the req/s measure wrk, and the CPU per request is the server's figure.
W1_point() {
    local id=$1 run=$2
    ((W1_WARMUP)) && run_wrk "$id" "$W1_CONNS" "$W1_WARMUP" "$WORK/warm.txt"
    wrk_cpu_point W1 "$id" "$run" "$W1_CONNS" "$W1_DUR"
    record W1 "$id" "$W1_CONNS" "$run" errors "$TP_ERRS"
    point_errors "W1 $id run $run" "$TP_ERRS" "$TP_DETAIL"
}

describe_W2() { log "W2 large hot: $HOT_PATH ($W2_MIB MiB) in page cache, $W2_CLIENTS concurrent downloads"; }
W2_point() {
    local id=$1 run=$2 i specs=()
    cat "$DATA$HOT_PATH" >/dev/null
    for ((i = 0; i < W2_CLIENTS; i++)); do specs+=("$HOT_PATH:$((W2_MIB * MIB))"); done
    download_point "$id" "${specs[@]}"
    record_download W2 "$id" "$W2_CLIENTS" "$run"
}

FIO_ID=disk
# fio_run RUN — the disk's ceiling: O_DIRECT 1 MiB sequential reads of the
# cold workloads' own files (one after the other), depth 1 and 8.
fio_run() {
    local run=$1 depth out bw
    I_SERVER[$FIO_ID]=disk
    I_BACKEND[$FIO_ID]=fio-odirect-1m
    ((run > 1)) || log "fio: O_DIRECT 1 MiB sequential reads (libaio) of $FIO_WHAT, depth 1 and 8, ${FIO_RUNTIME}s"
    for depth in 1 8; do
        out="$WORK/fio.$depth.$run.json"
        if taskset -c 1 fio --name=ceiling --filename="$FIO_FILES" --file_service_type=sequential --readonly \
            --direct=1 --rw=read --bs=1M --ioengine=libaio --iodepth="$depth" --runtime="$FIO_RUNTIME" \
            --time_based --output-format=json >"$out" 2>"$out.err"; then
            bw=$("$PYTHON" -c 'import json,sys; j=json.load(open(sys.argv[1])); print("%.1f" % (j["jobs"][0]["read"]["bw_bytes"]/1048576))' "$out")
            record fio "$FIO_ID" "$depth" "$run" mibps "$bw" errors 0
            log "fio  depth $depth run $run: $bw MiB/s"
        else
            record fio "$FIO_ID" "$depth" "$run" errors 1
            point_errors "fio depth $depth run $run" 1 "$(head -c 300 "$out.err")"
        fi
    done
}

describe_W3() { log "W3 cold: concurrency $W3_CONC, each client a distinct never-read $W3_MIB MiB file"; }
# One concurrency of W3 for one server; main() runs every server at one
# concurrency before the next, so the disk's drift (fio's figure moves by
# 2x within minutes on this VM) falls alike on all of them.
W3_point() {
    local id=$1 run=$2 c=$3 i specs
    cold_take "$c"
    specs=()
    for i in "${COLD_TAKEN[@]}"; do specs+=("$(cold_path "$i"):$((W3_MIB * MIB))"); done
    download_point "$id" "${specs[@]}"
    record_download W3 "$id" "$c" "$run"
}

describe_S() { log "seed-exact: one $SEED_SIZE_MIB MiB file, N clients each downloading it once (cold), N in $SEED_CONC"; }
S_point() {
    local id=$1 run=$2 c i specs
    for c in $SEED_CONC; do
        specs=()
        for ((i = 1; i <= c; i++)); do specs+=("$SEED_PATH:$((SEED_SIZE_MIB * MIB))"); done
        need_cold seed
        download_point "$id" "${specs[@]}"
        record_download S "$id" "$c" "$run"
    done
}

describe_W4() {
    log "W4 head-of-line: wrk -c$W4_CONNS -d${W4_DUR}s on /1k.bin, idle vs under $W4_DL cold $W3_MIB MiB downloads"
}
W4_point() {
    local id=$1 run=$2 port=${PORTS[$1]} out k args dl_pid t0 t1 done_n dl_bytes errs detail size code rest idle_p99 lines
    out="$WORK/w4.$id.$run.idle.txt"
    run_wrk "$id" "$W4_CONNS" "$W4_DUR" "$out"
    wrk_figures "$out"
    record W4 "$id" "$W4_CONNS" "$run" idle_rps "$WRK_RPS" idle_p50_ms "$WRK_P50" \
        idle_p99_ms "$WRK_P99" idle_max_ms "$WRK_MAX"
    errs=$WRK_ERRS
    detail="idle: $WRK_DETAIL"
    idle_p99=$WRK_P99

    # Each downloader gets W4_PER cold files, fetched one after the other
    # (a connection each): more than it should finish in the window. One
    # fetch process runs all W4_DL downloaders (-n: files per downloader,
    # in argument order).
    cold_take $((W4_DL * W4_PER))
    args=()
    for ((k = 0; k < W4_DL * W4_PER; k++)); do
        args+=("$(cold_path "${COLD_TAKEN[$k]}"):$((W3_MIB * MIB))")
    done
    t0=${EPOCHREALTIME/./}
    taskset -c 1 "$FETCH" -t "$DL_TIMEOUT" -n "$W4_PER" "127.0.0.1:$port" "${args[@]}" \
        >"$WORK/w4dl.out" 2>"$WORK/w4dl.err" &
    dl_pid=$!
    sleep 0.3
    out="$WORK/w4.$id.$run.load.txt"
    run_wrk "$id" "$W4_CONNS" "$W4_DUR" "$out"
    # Stop the downloads as wrk ends. On SIGTERM fetch reports every file: a
    # download in progress as "SIZE 000 interrupted", SIZE counting the body
    # bytes the kernel had received (the figure the ss counters gave for
    # curl), a file its downloader never reached as "0 000 not-started".
    t1=${EPOCHREALTIME/./}
    kill -TERM "$dl_pid" 2>/dev/null || true
    wait "$dl_pid" 2>/dev/null || true
    wrk_figures "$out"
    errs=$((errs + WRK_ERRS))
    detail+="; load: $WRK_DETAIL"
    # Completed downloads, the bytes of all of them; files no downloader
    # reached are still cold: hand them back to the pool.
    mapfile -t lines <"$WORK/w4dl.out"
    done_n=0
    dl_bytes=0
    for ((k = 0; k < W4_DL * W4_PER; k++)); do
        size=- code=- rest=""
        [[ -n ${lines[$k]:-} ]] || lines[k]="- - fetch printed nothing: $(tail -n 2 "$WORK/w4dl.err" | tr '\n' ' ')"
        read -r size code rest <<<"${lines[$k]}"
        [[ $size =~ ^[0-9]+$ ]] && dl_bytes=$((dl_bytes + size))
        if [[ $code == 200 && $size == $((W3_MIB * MIB)) && -z $rest ]]; then
            done_n=$((done_n + 1))
        elif [[ $code == 000 && $rest == interrupted ]]; then
            :   # cut short by the stop above: that is the point of W4
        elif [[ $code == 000 && $rest == not-started ]]; then
            unset "TOUCHED[c${COLD_TAKEN[$k]}]"
        else
            errs=$((errs + 1))
            detail+="; download: ${lines[$k]}"
        fi
    done
    if ((done_n == W4_DL * W4_PER && !W4_EARLY_NOTED)); then
        W4_EARLY_NOTED=1
        note "W4: $id finished all $done_n cold downloads before wrk ended (run $run), so part of its" \
            "\"loaded\" window had no download running"
    fi
    record W4 "$id" "$W4_CONNS" "$run" load_rps "$WRK_RPS" load_p50_ms "$WRK_P50" \
        load_p99_ms "$WRK_P99" load_max_ms "$WRK_MAX" downloads_done "$done_n" \
        load_dl_mibps "$(awk -v b="$dl_bytes" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f\n", b / 1048576 / (u / 1e6) }')" \
        errors "$errs"
    point_errors "W4 $id run $run" "$errs" "$detail"
    log "$(printf 'W4   %-20s run %d: p99 idle %sms -> loaded %sms, max %sms; downloads %s MiB in %s s' \
        "$id" "$run" "$idle_p99" "$WRK_P99" "$WRK_MAX" "$((dl_bytes / MIB))" "$(fdiv $((t1 - t0)) 1000000)")"
}
W4_EARLY_NOTED=0

# json_fields FILE KEY... — the values, space-separated ("-" for null/missing).
json_fields() {
    "$PYTHON" - "$@" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    j = {}
print(" ".join("-" if j.get(k) is None else str(j[k]).replace(" ", "") for k in sys.argv[2:]))
EOF
}

describe_W5() {
    log "W5 random: $W5_FILES files (1 KiB-$((W5_MAX / MIB)) MiB, Zipf), $W5_CLIENTS clients," \
        "$((W5_BYTES / MIB)) MiB requested, $(awk -v f="$W5_RANGE_FRAC" 'BEGIN { print f * 100 }')% Range; cold start"
}
W5_point() {
    local id=$1 run=$2 out srv c0 c1 wall cpu mibps rps p50 p99 rign errs kinds
    mapfile -t srv < <(server_pids "$id")
    need_cold w5
    out="$WORK/w5.$id.$run.json"
    c0=$(cpu_ticks "${srv[@]}")
    taskset -c 1 "$PYTHON" "$SCRIPT_DIR/loadgen.py" mixed --port "${PORTS[$id]}" \
        --manifest "$W5_MANIFEST" --prefix "/$W5_DIR/" --clients "$W5_CLIENTS" --bytes "$W5_BYTES" \
        --range-frac "$W5_RANGE_FRAC" --seed "$run" --timeout 120 >"$out" 2>"$out.err" || true
    c1=$(cpu_ticks "${srv[@]}")
    read -r wall mibps rps p50 p99 rign errs kinds < <(json_fields "$out" wall_s mibps rps p50_ms p99_ms \
        range_ignored errors error_samples)
    if [[ $errs == - ]]; then
        errs=1 kinds="loadgen failed: $(tail -c 300 "$out.err")"
    fi
    cpu=$(fdiv $((c1 - c0)) "$CLK_TCK" %.3f)
    record W5 "$id" "$W5_CLIENTS" "$run" mibps "$mibps" rps "$rps" p50_ms "$p50" p99_ms "$p99" \
        cpu_s "$cpu" idle_pct "$(awk -v c="$cpu" -v w="$wall" 'BEGIN { if (w > 0) printf "%.1f\n", 100 - c / w * 100; else print "-" }')" \
        range_ignored "$rign" errors "$errs"
    point_errors "W5 $id run $run" "$errs" "$kinds"
    if [[ $rign != 0 && $rign != - && -z ${RANGE_NOTED[$id]:-} ]]; then
        RANGE_NOTED[$id]=1
        note "W5: $id answered Range requests with 200 and the whole file ($rign times in run $run)"
    fi
    log "$(printf 'W5   %-20s run %d: %8s MiB/s  %8s req/s  p99 %sms' "$id" "$run" "$mibps" "$rps" "$p99")"
}

describe_W6() {
    log "W6 many connections: $W6_CONNS keep-alive connections, one request every ${W6_INTERVAL/ /-} s each, ${W6_DUR}s"
    ((W6_RESTART)) || note "W6: servers are not restarted before W6 in $MODE mode, so \"RSS idle\" is what W1–W5 left"
}
W6_point() {
    local id=$1 run=$2 out srv conns rss0 rss1 p50 p99 reqs openn errs kinds
    # A fresh server, so its RSS is not what earlier points left behind
    # (full mode; quick and smoke save the restart and count on the delta).
    if ((W6_RESTART)); then
        stop_pid "$id" "${PIDS[$id]}"
        unset "PIDS[$id]"
        if ! start_instance "$id"; then
            record W6 "$id" "$W6_CONNS" "$run" errors 1
            point_errors "W6 $id run $run" 1 "$START_ERROR"
            return 0
        fi
    fi
    mapfile -t srv < <(server_pids "$id")
    out="$WORK/w6.$id.$run.json"
    taskset -c 1 "$PYTHON" "$SCRIPT_DIR/loadgen.py" idle --port "${PORTS[$id]}" --path /1k.bin --size 1024 \
        --conns "$W6_CONNS" --duration "$W6_DUR" --interval-min "${W6_INTERVAL% *}" \
        --interval-max "${W6_INTERVAL#* }" --pids "$(IFS=,; echo "${srv[*]}")" --seed "$run" \
        >"$out" 2>"$out.err" || true
    read -r conns openn rss0 rss1 p50 p99 reqs errs kinds < <(json_fields "$out" conns open_at_end \
        rss_idle_kib rss_peak_kib p50_ms p99_ms requests errors error_kinds)
    if [[ $errs == - ]]; then
        errs=1 kinds="loadgen failed: $(tail -c 300 "$out.err")"
        conns=0 openn=0 rss0=0 rss1=0
    fi
    record W6 "$id" "$W6_CONNS" "$run" conns_open "$openn" requests "$reqs" p50_ms "$p50" p99_ms "$p99" \
        rss_idle_mib "$(fdiv "$rss0" 1024 %.1f)" rss_peak_mib "$(fdiv "$rss1" 1024 %.1f)" \
        kib_per_conn "$(fdiv $((rss1 - rss0)) "$W6_CONNS" %.2f)" errors "$errs"
    point_errors "W6 $id run $run" "$errs" "$kinds"
    log "$(printf 'W6   %-20s run %d: %s/%s open, RSS %s -> %s KiB, p99 %sms, %s requests' \
        "$id" "$run" "$openn" "$W6_CONNS" "$rss0" "$rss1" "$p99" "$reqs")"
}

# --- W7: compressed responses -------------------------------------------------
# Two 40 KiB text files (bench/w7.py make: an HTML page and a script) asked for
# in turn by clients that take zstd, br and gzip. Each server compresses /w7/
# as it would in production: ferry once per file, in a helper thread, into its
# cache (compress = zstd br gzip); nginx on every response (gzip on, level 6:
# its gzip_static would need files compressed by hand); lighttpd once per file
# into its mod_deflate cache directory, with the encodings in ferry's order.

FERRY_W7=0
# w7_detect_ferry — FERRY_W7=1 when this ferry knows compress (ferry -t).
w7_detect_ferry() {
    { printf '%s\n' "${FERRY_EXTRA[@]}"; w7_ferry_lines "$WORK/probe.compress"; } >"$WORK/probe-w7.conf"
    if "$FERRY_BIN" -t -c "$WORK/probe-w7.conf" >/dev/null 2>&1; then
        FERRY_W7=1
    else
        note "ferry: no compress in this build (ferry -t refuses it): its W7 rows are uncompressed"
    fi
}

# w7_ferry_lines CACHE_DIR — ferry's settings for W7 (the last part of a configuration).
w7_ferry_lines() {
    printf 'compress-cache-dir = %s\n[path /w7/]\ncompress = zstd br gzip\n' "$1"
}

W7_NGINX="location /w7/ { gzip on; gzip_comp_level 6; gzip_types text/javascript; gzip_vary on; }"

# w7_lighttpd_lines CACHE_DIR — lighttpd's (with the types of the W7 files,
# which its other workloads do not need). Without deflate.allowed-encodings,
# lighttpd 1.4.69 compressed nothing here; their order is its preference.
w7_lighttpd_lines() {
    cat <<LIGHTTPD
server.modules += ("mod_deflate")
mimetype.assign = (".html" => "text/html", ".js" => "text/javascript", ".bin" => "application/octet-stream")
\$HTTP["url"] =~ "^/w7/" {
    deflate.mimetypes = ("text/html", "text/javascript")
    deflate.allowed-encodings = ("zstd", "br", "gzip")
    deflate.cache-dir = "$1"
}
LIGHTTPD
}

# w7_lua — wrk's script: the W7 files in turn, Accept-Encoding on every
# request, and at the end the exact bytes read per response (heads included).
w7_lua() {
    local p paths=""
    for p in $W7_PATHS; do paths+="\"$p\", "; done
    cat <<LUA
local paths = { ${paths%, } }
local i = 0
wrk.headers["Accept-Encoding"] = "$W7_ACCEPT"
request = function()
    i = i % #paths + 1
    return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
    io.write(string.format("w7: %d bytes in %d responses\n", summary.bytes, summary.requests))
end
LUA
}

# w7_check ID OUT [WAIT] — bench/w7.py check: every W7 file asked for until it
# comes compressed (at most WAIT s, default W7_WAIT), decoded and compared.
w7_check() {
    local paths
    paths=$(tr ' ' , <<<"$W7_PATHS")
    taskset -c 1 "$PYTHON" "$SCRIPT_DIR/w7.py" check --port "${PORTS[$1]}" --root "$DATA" --paths "$paths" \
        --accept "$W7_ACCEPT" --wait "${3:-$W7_WAIT}" >"$2" 2>"$2.err" || true
}

describe_W7() {
    log "W7 compressed: $(wc -w <<<"$W7_PATHS") files of 40 KiB (HTML, JavaScript) in turn, Accept-Encoding: $W7_ACCEPT," \
        "wrk -t1 -c$W7_CONNS -d${W7_DUR}s (keep-alive); ferry compress = zstd br gzip (its copies made first)," \
        "nginx gzip level 6, lighttpd mod_deflate with its cache"
}
W7_point() {
    local id=$1 run=$2 chk="$WORK/w7.$1.$2.check" coding body head waited errs kinds bpr after aerrs akinds
    # Warm: the first answers of ferry (until its copy is made) and of
    # lighttpd (the one that fills its cache) are not what is measured.
    w7_check "$id" "$chk.before"
    read -r coding body head waited errs kinds < <(json_fields "$chk.before" coding body_mean head_mean waited_s \
        errors error_kinds)
    [[ $errs == - ]] && errs=1 kinds="w7.py check failed: $(tail -c 300 "$chk.before.err")" coding=none
    # wrk's timeout (2 s) raised: nginx compressing every response answers
    # 50 connections a few hundred times a second, slowly, but it answers.
    ((W1_WARMUP)) && run_wrk "$id" "$W7_CONNS" "$W1_WARMUP" "$WORK/warm.txt" -s "$WORK/w7.lua" --timeout 10s
    wrk_cpu_point W7 "$id" "$run" "$W7_CONNS" "$W7_DUR" -s "$WORK/w7.lua" --timeout 10s
    bpr=$(awk '/^w7: [0-9]+ bytes in [0-9]+ responses/ { if ($5 > 0) printf "%.1f\n", $2 / $5; f = 1 }
        END { if (!f) print "-" }' "$WORK/w7.$id.$run.txt")
    # Still the same coding, the same bytes, after the load.
    w7_check "$id" "$chk.after" 0
    read -r after aerrs akinds < <(json_fields "$chk.after" coding errors error_kinds)
    [[ $aerrs == - ]] && aerrs=1 akinds="w7.py check failed: $(tail -c 300 "$chk.after.err")"
    if [[ $aerrs == 0 && $after != "$coding" ]]; then aerrs=1 akinds="coding $coding before the load, $after after"; fi
    errs=$((errs + aerrs + TP_ERRS))
    record W7 "$id" "$W7_CONNS" "$run" bytes_per_resp "$bpr" body_bytes "$body" head_bytes "$head" \
        warm_s "$waited" "coding_$coding" 1 errors "$errs"
    point_errors "W7 $id run $run" "$errs" "wrk: $TP_DETAIL; check: $kinds $akinds"
    log "$(printf 'W7   %-20s run %d: %s, %s bytes/response (body %s), warm after %s s' "$id" "$run" "$coding" \
        "$bpr" "$body" "$waited")"
}

# --- TLS workloads ------------------------------------------------------------
# T1-T3 run against the TLS instances (ferry-tls, nginx-tls, lighttpd-tls,
# h2o-tls), all with the bench certificate (ECDSA P-256, made at start). Next
# to its figure each point records the server's CPU per request (or per GiB)
# and how busy the load generator's CPU was: one client CPU must do about as
# much cryptography as the server's, so a figure with CPU 1 near 100 % busy
# measures the client, and the server's CPU cost is the comparable number.

# us_per CPU_SECONDS N — microseconds of CPU per item ("-" for no items).
us_per() {
    awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f\n", c / n * 1e6; else print "-" }'
}

# wrk_cpu_point W ID RUN CONNS SECONDS [WRK_ARGS...] — one wrk run (over TLS
# for a TLS instance), with the server's and wrk's CPU around it; records W's
# figures but its errors, which it leaves in TP_ERRS and TP_DETAIL. wrk's
# output is in $WORK/W.ID.RUN.txt (W in lower case).
wrk_cpu_point() {
    local w=$1 id=$2 run=$3 conns=$4 secs=$5 out srv c0 c1 t0 t1 n cpu busy
    shift 5
    out="$WORK/${w,,}.$id.$run.txt"
    mapfile -t srv < <(server_pids "$id")
    c0=$(cpu_ticks "${srv[@]}")
    t0=${EPOCHREALTIME/./}
    run_wrk "$id" "$conns" "$secs" "$out" "$@"
    t1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks "${srv[@]}")
    wrk_figures "$out"
    n=$(wrk_requests "$out")
    cpu=$(fdiv $((c1 - c0)) "$CLK_TCK" %.3f)
    busy=$(busy_pct "$(client_cpu "$out.cpu")" "$((t1 - t0))")
    record "$w" "$id" "$conns" "$run" rps "$WRK_RPS" p50_ms "$WRK_P50" p99_ms "$WRK_P99" max_ms "$WRK_MAX" \
        requests "$n" cpu_us_per_req "$(us_per "$cpu" "$n")" \
        idle_pct "$(awk -v c="$cpu" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f\n", 100 - c / (u / 1e6) * 100 }')" \
        client_busy_pct "$busy"
    TP_ERRS=$WRK_ERRS
    TP_DETAIL=$WRK_DETAIL
    log "$(printf '%-4s %-20s run %d: %10s req/s  p99 %sms  server %s µs/req  wrk CPU %s%%' "$w" "$id" "$run" \
        "$WRK_RPS" "$WRK_P99" "$(us_per "$cpu" "$n")" "$busy")"
}

describe_T1() { log "T1 small hot over TLS: /1k.bin, wrk -t1 -c$T_CONNS -d${T_DUR}s https://... (keep-alive)"; }
T1_point() {
    local id=$1 run=$2
    ((W1_WARMUP)) && run_wrk "$id" "$T_CONNS" "$W1_WARMUP" "$WORK/warm.txt"
    wrk_cpu_point T1 "$id" "$run" "$T_CONNS" "$T_DUR"
    record T1 "$id" "$T_CONNS" "$run" errors "$TP_ERRS"
    point_errors "T1 $id run $run" "$TP_ERRS" "$TP_DETAIL"
}

describe_T2() {
    log "T2 TLS handshakes, a new connection per request: wrk -c$T_CONNS -d${T_DUR}s -H 'Connection: close';" \
        "then fetch, $T_CONNS clients x $T2F_PER connections each: full handshakes (no session offered), and" \
        "reconnections offering the client's previous session (resumed where the server accepts)"
}
T2_point() {
    local id=$1 run=$2 errs
    wrk_cpu_point T2 "$id" "$run" "$T_CONNS" "$T_DUR" -H "Connection: close"
    errs=$TP_ERRS
    point_errors "T2 $id run $run" "$TP_ERRS" "wrk: $TP_DETAIL"
    fetch_handshakes "$id" "$run" full
    errs=$((errs + HS_ERRS))
    fetch_handshakes "$id" "$run" res -r
    errs=$((errs + HS_ERRS))
    record T2 "$id" "$T_CONNS" "$run" errors "$errs"
}

# fetch_handshakes ID RUN PREFIX [-r] — T_CONNS clients, each opening
# T2F_PER TLS connections one after the other for /1k.bin (fetch -n): with
# -r each offers its previous session (resumption where the server accepts,
# counted by fetch), without it none (a full handshake each: a key exchange
# and an ECDSA signature by the server). Records PREFIX_rps, _cpu_us (server
# CPU per connection), _idle_pct, _client_busy_pct, _errors (and res_pct,
# the resumed share, with -r); HS_ERRS is the error count.
fetch_handshakes() {
    local id=$1 run=$2 px=$3 n=$((T_CONNS * T2F_PER)) out="$WORK/t2$3.$1.$2" specs=() i srv c0 c1 t0 t1
    local ok bad first cpu busy rps extra=() TIMEFORMAT='%U %S'
    shift 3
    for ((i = 0; i < n; i++)); do specs+=("/1k.bin:1024"); done
    mapfile -t srv < <(server_pids "$id")
    c0=$(cpu_ticks "${srv[@]}")
    t0=${EPOCHREALTIME/./}
    { time taskset -c 1 "$FETCH" -t "$DL_TIMEOUT" -n "$T2F_PER" -s "$TLS_CERT" "$@" "127.0.0.1:${PORTS[$id]}" \
        "${specs[@]}" >"$out.out" 2>"$out.err"; } 2>"$out.cpu" || true
    t1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks "${srv[@]}")
    read -r ok bad first < <(awk -v n="$n" '$1 == 1024 && $2 == 200 && NF == 2 { ok++; next }
        { bad++; if (first == "") first = $0 }
        END { if (ok + bad < n) { bad += n - ok - bad; if (first == "") first = "missing lines" }
              print ok + 0, bad + 0, first }' "$out.out")
    cpu=$(fdiv $((c1 - c0)) "$CLK_TCK" %.3f)
    busy=$(busy_pct "$(client_cpu "$out.cpu")" "$((t1 - t0))")
    rps=$(awk -v k="$ok" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f\n", k / (u / 1e6) }')
    if [[ ${1:-} == -r ]]; then
        extra=(res_pct "$(awk '/^fetch: tls: [0-9]+ of [0-9]+ handshakes resumed/ {
            if ($5 > 0) printf "%.1f\n", $3 / $5 * 100; else print "-"; f = 1 } END { if (!f) print "-" }' "$out.err")")
    fi
    record T2 "$id" "$T_CONNS" "$run" "${px}_rps" "$rps" "${px}_cpu_us" "$(us_per "$cpu" "$n")" \
        "${px}_idle_pct" "$(awk -v c="$cpu" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f\n", 100 - c / (u / 1e6) * 100 }')" \
        "${px}_client_busy_pct" "$busy" "${px}_errors" "$bad" "${extra[@]}"
    HS_ERRS=$bad
    point_errors "T2 $id $px handshakes run $run" "$bad" "(first: $first; $(grep -v '^fetch: tls:' "$out.err" | tail -n 1))"
    log "$(printf 'T2   %-20s run %d: %10s %s handshakes/s  server %s µs each  fetch CPU %s%%%s' "$id" "$run" \
        "$rps" "$px" "$(us_per "$cpu" "$n")" "$busy" "${extra[1]:+  resumed ${extra[1]}%}")"
}

describe_T3() { log "T3 cold over TLS: concurrency $T3_CONC, each client a distinct never-read $W3_MIB MiB file (fetch -s)"; }
T3_point() {
    local id=$1 run=$2 c=$3 i specs=()
    cold_take "$c"
    for i in "${COLD_TAKEN[@]}"; do specs+=("$(cold_path "$i"):$((W3_MIB * MIB))"); done
    download_point "$id" "${specs[@]}"
    record_download T3 "$id" "$c" "$run"
}

# --- HTTP/2 workloads (issue 14) ------------------------------------------------
# H1-H3 run against the TLS instances that speak h2 (ferry-tls, nginx-tls with
# http2 on its listener, h2o-tls), each over h2 chosen by ALPN, with the bench
# certificate. The client is h2load (nghttp2-client), pinned to CPU 1 like
# every load generator, offering the TLS 1.3 ciphers in OpenSSL's default
# order (h2load's own prefers AES-128): so it negotiates what wrk and fetch do
# in T1-T3. h2load discards each body after decrypting it (it does not verify
# the certificate: the startup check did). Each h2load run must report
# "Application protocol: h2" (http/1.1 for H2's --h1 half), every request
# succeeded with a 2xx, and for a download the full size in DATA bytes.

H2LOAD_CIPHERS="TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"

# run_h2load OUT ARGS... — h2load pinned to CPU 1, at most DL_TIMEOUT s; its
# output in OUT, its CPU-seconds (user, system) in OUT.cpu.
run_h2load() {
    local out=$1 TIMEFORMAT='%U %S'
    shift
    { time taskset -c 1 timeout -k 5 "$DL_TIMEOUT" "$H2LOAD" --tls13-ciphers="$H2LOAD_CIPHERS" "$@" \
        >"$out" 2>&1; } 2>"$out.cpu" || true
}

# parse_h2load OUT — prints "succeeded failed errored timeout non2xx data_bytes
# rps mean_us max_us protocol tls" ("-" or -1 where h2load printed nothing:
# the caller counts that as an error). tls: "TLSv1.3 CIPHER GROUP".
parse_h2load() {
    awk "$AWK_US"'
        /^finished in / { rps = $4 }
        /^requests: / { ok = $8; failed = $10; errored = $12; timeout = $14 }
        /^status codes: / { gsub(/,/, ""); non2xx = $5 + $7 + $9 }
        /^traffic: / { if (match($0, /\(([0-9]+)\) data/)) { d = substr($0, RSTART + 1); sub(/\).*/, "", d); data = d } }
        /^time for request:/ { mean = us($6); max = us($5) }
        /^Application protocol: / { proto = $3 }
        /^TLS Protocol: / { tproto = $3 }
        /^Cipher: / { cipher = $2 }
        /^Server Temp Key: / { group = $4 }
        END {
            printf "%s %s %s %s %s %s %s %s %s %s %s %s %s\n", (ok == "" ? "-" : ok), failed + 0, errored + 0,
                timeout + 0, non2xx + 0, (data == "" ? "-" : data), (rps == "" ? "-" : rps),
                (mean == "" ? -1 : mean), (max == "" ? -1 : max), (proto == "" ? "none" : proto),
                (tproto == "" ? "-" : tproto), (cipher == "" ? "-" : cipher), (group == "" ? "-" : group)
        }' "$1"
}

# h2load_figures OUT PROTO WANT_OK [WANT_BYTES] — one h2load run's figures:
# sets H_OK H_BYTES H_RPS H_MEAN_MS H_MAX_MS H_TLS H_ERRS H_DETAIL. An error
# is a request that failed, errored, timed out or had a status other than
# 2xx, fewer than WANT_OK requests done (0: any number), another protocol
# than PROTO, or DATA bytes other than WANT_BYTES (when given).
h2load_figures() {
    local out=$1 want_proto=$2 want_ok=$3 want_bytes=${4:-} ok failed errored tmo non2xx data rps mean max proto
    local tproto cipher group
    read -r ok failed errored tmo non2xx data rps mean max proto tproto cipher group < <(parse_h2load "$out")
    H_ERRS=$((failed + errored + tmo + non2xx))
    H_DETAIL="failed $failed, errored $errored, timeout $tmo, non-2xx $non2xx"
    if [[ $ok == - ]]; then
        H_ERRS=$((H_ERRS + 1))
        H_DETAIL="h2load printed no result: $(grep -v '^progress' "$out" | tail -n 3 | tr '\n' ' ' | head -c 300)"
        ok=0
    fi
    if [[ $proto != "$want_proto" ]]; then
        H_ERRS=$((H_ERRS + 1))
        H_DETAIL+=", protocol $proto (want $want_proto)"
    fi
    if ((want_ok > 0 && ok != want_ok)); then
        H_ERRS=$((H_ERRS + 1))
        H_DETAIL+=", $ok of $want_ok requests succeeded"
    fi
    if [[ -n $want_bytes && $data != "$want_bytes" ]]; then
        H_ERRS=$((H_ERRS + 1))
        H_DETAIL+=", $data DATA bytes (want $want_bytes)"
    fi
    H_OK=$ok
    H_BYTES=$([[ $data == - ]] && echo 0 || echo "$data")
    H_RPS=$([[ $rps == - ]] && echo 0 || echo "$rps")
    H_MEAN_MS=$(awk -v u="$mean" 'BEGIN { printf "%.3f\n", u / 1000 }')
    H_MAX_MS=$(awk -v u="$max" 'BEGIN { printf "%.3f\n", u / 1000 }')
    H_TLS="$tproto $cipher $group, $proto"
}

# h2_tls_seen ID — what h2load negotiated with ID, for the report (first seen).
declare -A H2_TLS_SEEN=()
h2_tls_seen() {
    [[ -n ${H2_TLS_SEEN[$1]:-} || $H_TLS == "- - -, none" ]] || H2_TLS_SEEN[$1]=$H_TLS
}

describe_H1() {
    log "H1 small hot over HTTP/2: /1k.bin, h2load -c$H1_CONNS -m$H1_STREAMS -D $H1_DUR https://... (h2 by ALPN)"
}
# The server's CPU per request next to the req/s, as in W1 and T1: one
# h2load thread on CPU 1 may be the limit (its busy % says so).
H1_point() {
    local id=$1 run=$2 url out srv c0 c1 t0 t1 cpu busy
    url="https://127.0.0.1:${PORTS[$id]}/1k.bin"
    ((W1_WARMUP)) && run_h2load "$WORK/warm.txt" -c"$H1_CONNS" -m"$H1_STREAMS" -D "$W1_WARMUP" "$url"
    out="$WORK/h1.$id.$run.txt"
    mapfile -t srv < <(server_pids "$id")
    c0=$(cpu_ticks "${srv[@]}")
    t0=${EPOCHREALTIME/./}
    run_h2load "$out" -c"$H1_CONNS" -m"$H1_STREAMS" -D "$H1_DUR" "$url"
    t1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks "${srv[@]}")
    h2load_figures "$out" h2 0
    ((H_OK > 0)) || { H_ERRS=$((H_ERRS + 1)); H_DETAIL+=", no request succeeded"; }
    h2_tls_seen "$id"
    cpu=$(fdiv $((c1 - c0)) "$CLK_TCK" %.3f)
    busy=$(busy_pct "$(client_cpu "$out.cpu")" "$((t1 - t0))")
    record H1 "$id" "$H1_CONNS" "$run" rps "$H_RPS" requests "$H_OK" mean_ms "$H_MEAN_MS" max_ms "$H_MAX_MS" \
        cpu_us_per_req "$(us_per "$cpu" "$H_OK")" \
        idle_pct "$(awk -v c="$cpu" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f\n", 100 - c / (u / 1e6) * 100 }')" \
        client_busy_pct "$busy" errors "$H_ERRS"
    point_errors "H1 $id run $run" "$H_ERRS" "$H_DETAIL"
    log "$(printf '%-4s %-20s run %d: %10s req/s  mean %sms  server %s µs/req  h2load CPU %s%%' H1 "$id" "$run" \
        "$H_RPS" "$H_MEAN_MS" "$(us_per "$cpu" "$H_OK")" "$busy")"
}

describe_H2() {
    log "H2 large hot over HTTP/2: $HOT_PATH ($W2_MIB MiB) in page cache, C in $H2_CONC downloads at once," \
        "h2load -cC -nC -w $H_WINDOW -W $H_WINDOW (one stream per connection), each also over HTTP/1.1 (h2load --h1)"
}
# Each concurrency twice, over h2 and over HTTP/1.1 (the same client with
# --h1: ALPN http/1.1), in alternating order from run to run; the figure is
# h2's, and h2_vs_h1 its ratio to the same server's HTTP/1.1 in that run.
H2_point() {
    local id=$1 run=$2 c proto order errs h2m h1m
    cat "$DATA$HOT_PATH" >/dev/null
    for c in $H2_CONC; do
        order="h2 h1"
        ((run % 2)) || order="h1 h2"
        errs=0
        for proto in $order; do
            h2_download "$id" "$run" "$c" "$proto"
            errs=$((errs + H_ERRS))
            if [[ $proto == h2 ]]; then h2m=$H_MIBPS; else h1m=$H_MIBPS; fi
        done
        record H2 "$id" "$c" "$run" h2_vs_h1 "$(fdiv "$h2m" "$h1m" %.3f)" errors "$errs"
        log "$(printf 'H2   %-20s c=%-3s run %d: h2 %8s MiB/s, http/1.1 %8s MiB/s: %s x' "$id" "$c" "$run" \
            "$h2m" "$h1m" "$(fdiv "$h2m" "$h1m" %.2f)")"
    done
}

# h2_download ID RUN C h2|h1 — C downloads of the hot file at once, one per
# connection (h2load -cC -nC); records the figures (h1_ before the names of
# the HTTP/1.1 ones); sets H_MIBPS, H_ERRS.
h2_download() {
    local id=$1 run=$2 c=$3 proto=$4 out px="" args=() srv c0 c1 t0 t1 cpu wall
    out="$WORK/h2.$id.$run.$c.$proto.txt"
    if [[ $proto == h1 ]]; then
        px=h1_ args=(--h1)
    fi
    mapfile -t srv < <(server_pids "$id")
    c0=$(cpu_ticks "${srv[@]}")
    t0=${EPOCHREALTIME/./}
    run_h2load "$out" "${args[@]}" -c"$c" -n"$c" -w "$H_WINDOW" -W "$H_WINDOW" "https://127.0.0.1:${PORTS[$id]}$HOT_PATH"
    t1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks "${srv[@]}")
    h2load_figures "$out" "$([[ $proto == h1 ]] && echo http/1.1 || echo h2)" "$c" $((c * W2_MIB * MIB))
    [[ $proto == h2 ]] && h2_tls_seen "$id"
    point_errors "H2 $id c=$c $proto run $run" "$H_ERRS" "$H_DETAIL"
    wall=$(fdiv $((t1 - t0)) 1000000 %.4f)
    cpu=$(fdiv $((c1 - c0)) "$CLK_TCK" %.3f)
    H_MIBPS=$(awk -v b="$H_BYTES" -v u="$((t1 - t0))" 'BEGIN { printf "%.1f\n", b / 1048576 / (u / 1e6) }')
    record H2 "$id" "$c" "$run" "${px}mibps" "$H_MIBPS" "${px}bytes" "$H_BYTES" "${px}wall_s" "$wall" \
        "${px}cpu_s_per_gib" "$(awk -v c="$cpu" -v b="$H_BYTES" 'BEGIN { if (b) printf "%.3f\n", c / (b / 1073741824); else print "-" }')" \
        "${px}idle_pct" "$(awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.1f\n", 100 - c / w * 100 }')" \
        "${px}client_busy_pct" "$(busy_pct "$(client_cpu "$out.cpu")" "$((t1 - t0))")"
}

describe_H3() {
    log "H3 cold over HTTP/2: concurrency $H3_CONC, each client (an h2load -c1 -n1 -w $H_WINDOW -W $H_WINDOW of its own)" \
        "a distinct never-read $W3_MIB MiB file on one stream"
}
# h2load sends every client down the same list of URIs, so C clients with
# distinct files are C h2load processes (one connection, one stream each),
# all on CPU 1 and started together; their CPU is summed. The figures are
# those of T3 (record_download).
H3_point() {
    local id=$1 run=$2 c=$3 k pids=() srv c0 c1 t0 t1 bytes=0 errs=0 detail="" TIMEFORMAT='%U %S'
    cold_take "$c"
    mapfile -t srv < <(server_pids "$id")
    c0=$(cpu_ticks "${srv[@]}")
    t0=${EPOCHREALTIME/./}
    { time {
        for ((k = 0; k < c; k++)); do
            taskset -c 1 timeout -k 5 "$DL_TIMEOUT" "$H2LOAD" --tls13-ciphers="$H2LOAD_CIPHERS" -c1 -n1 \
                -w "$H_WINDOW" -W "$H_WINDOW" "https://127.0.0.1:${PORTS[$id]}$(cold_path "${COLD_TAKEN[$k]}")" \
                >"$WORK/h3.$k.txt" 2>&1 &
            pids+=($!)
        done
        wait "${pids[@]}" || true
    }; } 2>"$WORK/h3.cpu"
    t1=${EPOCHREALTIME/./}
    c1=$(cpu_ticks "${srv[@]}")
    for ((k = 0; k < c; k++)); do
        h2load_figures "$WORK/h3.$k.txt" h2 1 $((W3_MIB * MIB))
        ((k)) || h2_tls_seen "$id"
        bytes=$((bytes + H_BYTES))
        if ((H_ERRS)); then
            errs=$((errs + 1))
            ((errs > 5)) || detail+=" [$(cold_path "${COLD_TAKEN[$k]}"): $H_DETAIL]"
        fi
    done
    DL_BYTES=$bytes DL_US=$((t1 - t0)) DL_TICKS=$((c1 - c0)) DL_ERRS=$errs DL_DETAIL=$detail
    DL_CLIENT_CPU=$(client_cpu "$WORK/h3.cpu")
    record_download H3 "$id" "$c" "$run"
}

# --- report -------------------------------------------------------------------

write_meta() {
    local m="$OUT/meta.tsv" commit dirty="" n
    commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=" (with uncommitted changes)"
    {
        printf 'mode\t%s\n' "$MODE$( ((SEED_EXACT)) && echo ' seed-exact')"
        printf 'runs\t%s\n' "$RUNS"
        printf 'commit\t%s%s\n' "$commit" "$dirty"
        printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
        printf 'cpus\t%s × %s\n' "$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
        printf 'memory\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB\n", $2 / 1048576 }' /proc/meminfo)"
        printf 'kernel\t%s\n' "$(uname -sr)"
        printf 'disk\t%s\n' "$(lsblk -dno NAME,SIZE,ROTA,MODEL "$(df -P "$DATA" | awk 'NR == 2 { print $1 }')" 2>/dev/null |
            awk '{ printf "%s %s rotational=%s model=%s", $1, $2, $3, ($4 == "" ? "(not reported)" : $4) }')"
        printf 'filesystem\t%s\n' "$(df -PT "$DATA" | awk 'NR == 2 { print $1, $2 }')"
        printf 'ferry\t%s\n' "$("$FERRY_BIN" -V 2>&1 | head -1)"
        printf 'nginx\t%s\n' "$(/usr/sbin/nginx -v 2>&1 | head -1)"
        printf 'lighttpd\t%s\n' "$(/usr/sbin/lighttpd -v 2>&1 | head -1)"
        if want_kind tls; then
            printf 'h2o\t%s\n' "$(/usr/bin/h2o -v 2>/dev/null | head -1)"
            printf 'openssl\t%s\n' "$(openssl version 2>&1 | head -1)"
            printf 'tls certificate\tECDSA P-256, self-signed, made at start (openssl req -x509 -newkey ec); SHA-256 %s\n' \
                "$(tls_fingerprint "$TLS_CERT")"
            printf 'kernel TLS\t%s\n' "$(if [[ -e /proc/net/tls_stat ]]; then
                echo "the tls module is loaded (a server may hand encryption to the kernel)"
            else echo "not loaded (/proc/net/tls_stat absent): every server encrypts in user space"; fi)"
            for n in "${TLS_INSTANCES[@]}"; do
                printf 'tls\t%s\t%s\n' "${I_SERVER[$n]}/${I_BACKEND[$n]}" "${TLS_INFO[$n]:-not started}"
            done
        fi
        if want_kind h2; then
            printf 'h2load\t%s\n' "$("$H2LOAD" --version 2>&1 | head -1)"
            for n in "${TLS_INSTANCES[@]}"; do
                [[ -n ${H2_TLS_SEEN[$n]:-} ]] && printf 'h2tls\t%s\t%s\n' "${I_SERVER[$n]}/${I_BACKEND[$n]}" "${H2_TLS_SEEN[$n]}"
            done
        fi
        printf 'wall\t%s s\n' "$(( (${EPOCHREALTIME/./} - START_US) / 1000000 ))"
        printf 'wall per workload\t%s\n' "${TIMES%, }"
        printf 'load average\t%s\n' "${LOADAVG%; }"
        printf 'settle\t%s s in %s cache drops\n' "$((SETTLE_TOTAL_US / 1000000))" "$DROPS"
        printf 'params\tW1 c%s %ss; W2 %s MiB x%s; W3 %s MiB files, C=%s; W4 c%s %ss, %s downloads; W5 %s files, %s clients, %s MiB, %s%% Range; W6 %s conns %ss; W7 c%s %ss; fio %ss; seed %s MiB C=%s; T1/T2 c%s %ss, T2 fetch %s x %s; T3 C=%s; H1 h2load -c%s -m%s %ss; H2 %s MiB, C=%s, -w/-W %s; H3 C=%s\n' \
            "$W1_CONNS" "$W1_DUR" "$W2_MIB" "$W2_CLIENTS" "$W3_MIB" "${W3_CONC// /,}" "$W4_CONNS" "$W4_DUR" "$W4_DL" \
            "$W5_FILES" "$W5_CLIENTS" "$((W5_BYTES / MIB))" "$(awk -v f="$W5_RANGE_FRAC" 'BEGIN { print f * 100 }')" \
            "$W6_CONNS" "$W6_DUR" "$W7_CONNS" "$W7_DUR" "$FIO_RUNTIME" "$SEED_SIZE_MIB" "${SEED_CONC// /,}" \
            "$T_CONNS" "$T_DUR" "$T_CONNS" "$T2F_PER" "${T3_CONC// /,}" "$H1_CONNS" "$H1_STREAMS" "$H1_DUR" \
            "$W2_MIB" "${H2_CONC// /,}" "$H_WINDOW" "${H3_CONC// /,}"
        for n in "${NOTES[@]}"; do printf 'note\t%s\n' "$n"; done
        lsblk -o NAME,SIZE,ROTA,TYPE,MOUNTPOINTS 2>/dev/null | sed 's/^/lsblk\t/'
    } >"$m"
}

# point W ID RUN [C] — one point of workload W (at concurrency C for the
# cold ones) for instance ID, timed. A server that has exited since the last
# point (crashed, or was killed from outside: the machine is shared) is not
# measured: its points are errors, and the first one notes how it ended and
# the tail of its logs.
declare -A DEAD_NOTED=()
point() {
    local w=$1 id=$2 run=$3 c=${4:-} st=0 how cs x
    if [[ -n ${PIDS[$id]:-} ]] && kill -0 "${PIDS[$id]}" 2>/dev/null; then
        timed "$w" "${w}_point" "$id" "$run" ${c:+"$c"}
        return 0
    fi
    if [[ -z ${DEAD_NOTED[$id]:-} ]]; then
        DEAD_NOTED[$id]=1
        how="is not running"
        if [[ -n ${PIDS[$id]:-} ]]; then
            wait "${PIDS[$id]}" 2>/dev/null || st=$?
            how="exited with status $st"
            ((st > 128)) && how="was killed by signal $((st - 128)) ($(kill -l "$((st - 128))" 2>/dev/null))"
            unset "PIDS[$id]"
        fi
        note "ERROR: $id $how before $w run $run; its remaining points are errors; its logs end:" \
            "$(tail -q -n 3 "$WORK/$id/out.log" "$WORK/$id/error.log" 2>/dev/null | tr '\n' ' ' | head -c 400)"
    fi
    # The point's concurrencies, so the report shows ERROR where it would have been.
    case $w in
        W1) cs=$W1_CONNS ;; W2) cs=$W2_CLIENTS ;; W4) cs=$W4_CONNS ;; W5) cs=$W5_CLIENTS ;;
        W6) cs=$W6_CONNS ;; W7) cs=$W7_CONNS ;; T1 | T2) cs=$T_CONNS ;; H1) cs=$H1_CONNS ;;
        H2) cs=$H2_CONC ;; S) cs=$SEED_CONC ;; *) cs=$c ;;
    esac
    for x in $cs; do record "$w" "$id" "$x" "$run" errors 1; done
    point_errors "$w $id run $run" 1 "(the server is gone)"
}

# rotate RUN ID... — the ids one per line, starting with the RUN-th (cyclic).
rotate() {
    local run=$1 i
    shift
    for ((i = 0; i < $#; i++)); do
        echo "${@:$(((i + run - 1) % $# + 1)):1}"
    done
}

main() {
    parse_args "$@"
    set_params
    resolve_paths
    START_US=${EPOCHREALTIME/./}
    CLK_TCK=$(getconf CLK_TCK)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    check_tools
    busy_check "at start"
    if want_kind tls; then
        make_tls_cert "$WORK/tls"
        TLS_CERT=$WORK/tls/cert.pem
        TLS_KEY=$WORK/tls/key.pem
    fi
    detect_instances
    log "mode $MODE, $RUNS run(s); workloads: $WORKLOADS; servers: ${INSTANCES[*]}"
    if ((DRY_RUN)) && { want T1 || want T2 || want T3; }; then
        log "TLS workloads (T1-T3) on: ${TLS_INSTANCES[*]:-none}"
    fi
    if ((DRY_RUN)) && want_kind h2; then
        log "HTTP/2 workloads (H1-H3) on: $(for id in "${TLS_INSTANCES[@]}"; do
            runs_workload "$id" H1 && printf '%s ' "$id"; done)"
    fi
    log "expect roughly $(estimate_minutes) min on an idle machine (not counting making the test files once)"
    ((DRY_RUN)) && exit 0
    prepare_data
    mkdir -p "$OUT"
    rm -f "$OUT"/*.png "$OUT"/report.md
    RESULTS="$OUT/results.tsv"
    printf 'workload\tserver\tbackend\tconcurrency\tmetric\tvalue\trun\n' >"$RESULTS"

    local w run i id order c plain tls concs
    [[ $WORKLOADS == fio ]] || start_all
    for w in $WORKLOADS; do
        [[ $w == fio ]] || "describe_$w"
    done
    for ((run = 1; run <= RUNS; run++)); do
        ((RUNS == 1)) || log "--- run $run of $RUNS"
        want fio && timed fio fio_run "$run"
        # Rotate the order of the instances from run to run, so slow drift
        # and "who goes first after a drop" hit every one alike.
        mapfile -t plain < <(rotate "$run" "${PLAIN_INSTANCES[@]}")
        mapfile -t tls < <(rotate "$run" "${TLS_INSTANCES[@]}")
        for w in $WORKLOADS; do
            case $w in
                fio) ;;
                W3) for c in $W3_CONC; do
                        for id in "${plain[@]}"; do
                            if runs_workload "$id" W3; then point W3 "$id" "$run" "$c"; fi
                        done
                    done ;;
                T3 | H3)
                    concs=$T3_CONC
                    [[ $w == H3 ]] && concs=$H3_CONC
                    for c in $concs; do
                        for id in "${tls[@]}"; do
                            if runs_workload "$id" "$w"; then point "$w" "$id" "$run" "$c"; fi
                        done
                    done ;;
                T* | H*) for id in "${tls[@]}"; do
                        if runs_workload "$id" "$w"; then point "$w" "$id" "$run"; fi
                    done ;;
                *) for id in "${plain[@]}"; do
                       if runs_workload "$id" "$w"; then point "$w" "$id" "$run"; fi
                   done ;;
            esac
        done
    done
    stop_all
    for w in $WORKLOADS; do TIMES+="$w $(((${TOOK[$w]:-0} + 500000) / 1000000))s, "; done

    busy_check "at end"
    write_meta
    local plots=1
    command -v gnuplot >/dev/null 2>&1 || plots=0
    "$PYTHON" "$SCRIPT_DIR/report.py" --out "$OUT" --plots "$plots"
    log "wrote $RESULTS, $OUT/report.md$( ((plots)) && echo ", $OUT/*.png") in $(( (${EPOCHREALTIME/./} - START_US) / 1000000 )) s"
    if ((ERROR_POINTS)); then
        log "$ERROR_POINTS point(s) had errors (see the report)"
        exit 1
    fi
}

main "$@"
exit $?
