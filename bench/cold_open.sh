#!/usr/bin/env bash
# bench/cold_open.sh — small hot requests while cold opens are in flight.
#
# Usage: bench/cold_open.sh [-d SECONDS] [-r RUNS]
#   -d  seconds of load per measurement (default 8)
#   -r  runs per server (default 2); servers interleaved, median reported
#
# The question (issue 7): does a request for a popular file keep its latency
# while other clients ask for files whose directory entries and inodes are
# not in memory?  A server that open()s and stat()s on its event loop waits
# for the disk there; ferry's io-uring and auto backends look such names up
# through the ring first.
#
# Per server and run: wrk -t1 -c10 on the hot /1k.bin for SECONDS, idle;
# then the page, dentry and inode caches are dropped and the same wrk runs
# while fetch (8 clients, one file after another, a new connection each)
# walks never-opened 1 KiB files of a 20,000-file tree.  Reported: the hot
# p50 / p99 / max idle and under the cold walk, and the cold files/s.
# Servers on CPU 0, wrk and fetch on CPU 1.  Needs root (drop_caches).
# Output: a table on stdout and bench/out/cold_open.tsv.
set -euo pipefail
export LC_ALL=C

DURATION=8
RUNS=2
BENCH_NAME=cold_open.sh
PYTHON=/usr/bin/python3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

FERRY_BIN=${FERRY_BIN:-$ROOT/build/ferry}
FETCH=${FETCH:-$ROOT/build/fetch}
DATA=${BENCH_DATA:-$ROOT/bench/data}
TREE_DIRS=40 TREE_SUBDIRS=25 TREE_FILES=20   # 20,000 files
CLIENTS=8
SERVERS="ferry-sendfile ferry-io-uring ferry-auto nginx"
OUT=$ROOT/bench/out/cold_open.tsv

while getopts "d:r:h" opt; do
    case $opt in
        d) DURATION=$OPTARG ;;
        r) RUNS=$OPTARG ;;
        *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
is_posint "$DURATION" || die "-d wants a positive integer"
is_posint "$RUNS" || die "-r wants a positive integer"
[[ $(id -u) -eq 0 ]] || die "needs root: the caches are dropped with /proc/sys/vm/drop_caches"
for t in wrk taskset curl; do command -v "$t" >/dev/null || die "missing $t (run scripts/deps.sh)"; done
[[ -x $FERRY_BIN ]] || die "no $FERRY_BIN (run make)"
[[ -x $FETCH ]] || make -s -C "$ROOT" build/fetch || die "cannot build $FETCH"

WORK=$(mktemp -d /tmp/ferry-cold-open.XXXXXX)
PID=""
cleanup() {
    [[ -n $PID ]] && stop_pid server "$PID"
    rm -rf "$WORK"
}
trap cleanup EXIT

make_tree() {
    local tree=$DATA/tree d s f
    [[ -f $tree/.complete ]] && return 0
    log "making $((TREE_DIRS * TREE_SUBDIRS * TREE_FILES)) files in $tree (once)"
    rm -rf "$tree"
    head -c 1024 /dev/urandom >"$WORK/blob"
    for ((d = 0; d < TREE_DIRS; d++)); do
        for ((s = 0; s < TREE_SUBDIRS; s++)); do
            mkdir -p "$tree/d$d/s$s"
            for ((f = 0; f < TREE_FILES; f++)); do cp "$WORK/blob" "$tree/d$d/s$s/f$f.txt"; done
        done
    done
    [[ -f $DATA/1k.bin ]] || head -c 1024 /dev/urandom >"$DATA/1k.bin"
    touch "$tree/.complete"
}

# Every file of the tree as fetch arguments, clients' files interleaved so
# that all clients walk different directories at once.
tree_args() {
    local d s f
    for ((d = 0; d < TREE_DIRS; d++)); do
        for ((s = 0; s < TREE_SUBDIRS; s++)); do
            for ((f = 0; f < TREE_FILES; f++)); do echo "/tree/d$d/s$s/f$f.txt:1024"; done
        done
    done
}

start_server() {
    local id=$1 port=$2 dir=$WORK/$1
    mkdir -p "$dir"
    case $id in
        ferry-*)
            printf 'access-log = off\nlog-level = warn\nmax-keepalive-requests = 0\nbackend = %s\n' \
                "${id#ferry-}" >"$dir/ferry.conf"
            taskset -c 0 "$FERRY_BIN" -X -u root -c "$dir/ferry.conf" -r "$DATA" -l "127.0.0.1:$port" \
                >"$dir/out.log" 2>&1 &
            ;;
        nginx)
            write_nginx_conf "$dir/nginx.conf" "$dir" "$port" "$DATA"
            taskset -c 0 /usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
                -g 'daemon off;' >"$dir/out.log" 2>&1 &
            ;;
    esac
    PID=$!
    local i
    for ((i = 0; i < 50; i++)); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/1k.bin" && return 0
        sleep 0.1
    done
    show_logs "$dir/out.log" "$dir/error.log"
    die "$id did not start"
}

# hot_wrk PORT OUT — wrk on the hot file, pinned to CPU 1.
hot_wrk() {
    taskset -c 1 wrk -t1 -c10 -d"${DURATION}s" --latency "http://127.0.0.1:$1/1k.bin" >"$2" 2>&1 || true
}

measure() {
    local id=$1 run=$2 port
    port=$(free_port)
    start_server "$id" "$port"
    hot_wrk "$port" "$WORK/idle.txt"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    curl -fs -o /dev/null "http://127.0.0.1:$port/1k.bin"
    mapfile -t files < <(tree_args)
    local t0 t1 ok
    t0=${EPOCHREALTIME/./}
    taskset -c 1 "$FETCH" -t "$DURATION" -n $((${#files[@]} / CLIENTS)) "127.0.0.1:$port" "${files[@]}" \
        >"$WORK/cold.txt" 2>&1 &
    local fetch_pid=$!
    hot_wrk "$port" "$WORK/busy.txt"
    wait "$fetch_pid" || true
    t1=${EPOCHREALTIME/./}
    ok=$(awk '$2 == 200' "$WORK/cold.txt" | wc -l)
    stop_pid "$id" "$PID"
    PID=""
    local i_rps i_p50 i_p99 i_max b_rps b_p50 b_p99 b_max errs rest
    read -r i_rps i_p50 i_p99 errs rest i_max < <(parse_wrk "$WORK/idle.txt" | awk '{print $1, $2, $3, $4+$5+$6+$7+$8, "-", $9}')
    read -r b_rps b_p50 b_p99 errs rest b_max < <(parse_wrk "$WORK/busy.txt" | awk '{print $1, $2, $3, $4+$5+$6+$7+$8, "-", $9}')
    local cold_rate
    cold_rate=$(awk -v n="$ok" -v u="$((t1 - t0))" 'BEGIN { printf "%.0f\n", n / (u / 1e6) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$run" "$i_rps" "$i_p50" "$i_p99" "$i_max" \
        "$b_rps" "$b_p50" "$b_p99" "$b_max" "$cold_rate" >>"$OUT.runs"
    log "$(printf '%-15s run %d: idle p99 %s, under cold opens p99 %s max %s (%s req/s), cold %s files/s' \
        "$id" "$run" "$(fmt_latency "$i_p99")" "$(fmt_latency "$b_p99")" "$(fmt_latency "$b_max")" "$b_rps" "$cold_rate")"
}

main() {
    make_tree
    mkdir -p "$(dirname "$OUT")"
    : >"$OUT.runs"
    local run id
    for ((run = 1; run <= RUNS; run++)); do
        for id in $SERVERS; do measure "$id" "$run"; done
    done
    # The median run of each server by its p99 under cold opens.
    printf 'server\thot_rps_idle\thot_p50_us_idle\thot_p99_us_idle\thot_max_us_idle\thot_rps_cold\thot_p50_us_cold\thot_p99_us_cold\thot_max_us_cold\tcold_files_per_s\n' >"$OUT"
    printf '%-15s %10s %10s %12s %12s %12s %10s\n' server "idle p99" "cold p50" "cold p99" "cold max" "hot req/s" "cold f/s"
    for id in $SERVERS; do
        awk -F'\t' -v id="$id" '$1 == id' "$OUT.runs" | sort -t$'\t' -k9,9n |
            awk -F'\t' -v n="$RUNS" 'NR == int((n + 1) / 2)' |
            while IFS=$'\t' read -r s _ irps ip50 ip99 imax brps bp50 bp99 bmax rate; do
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$irps" "$ip50" "$ip99" "$imax" "$brps" "$bp50" \
                    "$bp99" "$bmax" "$rate" >>"$OUT"
                printf '%-15s %10s %10s %12s %12s %12s %10s\n' "$s" "$(fmt_latency "$ip99")" "$(fmt_latency "$bp50")" \
                    "$(fmt_latency "$bp99")" "$(fmt_latency "$bmax")" "$brps" "$rate"
            done
    done
    log "wrote $OUT (runs: $OUT.runs)"
}

main
