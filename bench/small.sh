#!/usr/bin/env bash
# bench/small.sh — requests/s serving a 1 KiB file: ferry vs nginx vs lighttpd.
#
# Usage: bench/small.sh [-d SECONDS] [-r RUNS] [-c CONNS]
#   -d  duration of each wrk run in seconds (default 10)
#   -r  measured runs per server (default 3)
#   -c  concurrent connections (default 50)
# Environment:
#   FERRY_BIN   ferry binary (default build/ferry in the repo; a relative path
#               you pass is taken relative to the directory you ran from)
#   FERRY_ARGS  extra arguments for ferry, e.g. "-B writev"
#   SKIP_FERRY  1 = benchmark only the peers (ferry not built yet)
#
# Servers are pinned to CPU 0 and wrk to CPU 1; runs are interleaved
# round-robin across servers; each server's result is the median run.
# Output: a table on stdout and bench/out/small.tsv (per-run data in
# bench/out/small-runs.tsv). Exit status 1 if any run had errors.
set -euo pipefail

DURATION=10
RUNS=3
CONNS=50
WARMUP=1                       # seconds of unmeasured load per server before the runs
FILE=1k.bin
FILE_SIZE=1024
PYTHON=/usr/bin/python3
BENCH_NAME=small.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # log die is_posint free_port stop_pid parse_wrk ...

usage() {
    echo "usage: $0 [-d SECONDS] [-r RUNS] [-c CONNS]" >&2
    exit 2
}

parse_args() {
    local opt
    while getopts ":d:r:c:h" opt; do
        case $opt in
            d) DURATION=$OPTARG ;;
            r) RUNS=$OPTARG ;;
            c) CONNS=$OPTARG ;;
            *) usage ;;
        esac
    done
    shift $((OPTIND - 1))
    [[ $# -eq 0 ]] || usage
    is_posint "$DURATION" || die "-d wants a positive integer, got '$DURATION'"
    is_posint "$RUNS" || die "-r wants a positive integer, got '$RUNS'"
    is_posint "$CONNS" || die "-c wants a positive integer, got '$CONNS'"
}

# --- setup ------------------------------------------------------------------

resolve_paths() {
    local script_dir
    script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    ROOT=$(cd "$script_dir/.." && pwd)
    if [[ -n ${FERRY_BIN:-} ]]; then
        [[ $FERRY_BIN == /* ]] || FERRY_BIN="$PWD/$FERRY_BIN"
    else
        FERRY_BIN="$ROOT/build/ferry"
    fi
    cd "$ROOT"
}

check_tools() {
    local tool
    for tool in wrk /usr/sbin/nginx /usr/sbin/lighttpd curl taskset cmp "$PYTHON"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run scripts/deps.sh"
    done
    if ! taskset -c 0 true 2>/dev/null || ! taskset -c 1 true 2>/dev/null; then
        die "needs CPUs 0 and 1 (server on 0, wrk on 1); this machine has $(nproc)"
    fi

    SERVERS=(ferry nginx lighttpd)
    if [[ ${SKIP_FERRY:-0} == 1 ]]; then
        SERVERS=(nginx lighttpd)
        log "SKIP_FERRY=1: benchmarking nginx and lighttpd only"
    elif [[ ! -x $FERRY_BIN ]]; then
        die "ferry binary $FERRY_BIN not found (run make, or set SKIP_FERRY=1)"
    fi
}

# Temp dir holding the docroot, configs, logs and wrk outputs; removed on exit.
make_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
    DOCROOT="$WORK/www"
    mkdir -p "$DOCROOT"
    head -c "$FILE_SIZE" /dev/urandom >"$DOCROOT/$FILE"
    printf '<!doctype html>\n<title>ferry bench</title>\n<p>ferry bench docroot</p>\n' \
        >"$DOCROOT/index.html"
}

declare -A PIDS=()      # server name -> PID we started
declare -A PORTS=()     # server name -> port

cleanup() {
    local name
    for name in "${!PIDS[@]}"; do
        stop_server "$name"
    done
    [[ -n ${WORK:-} ]] && rm -rf "$WORK"
}

# --- servers ----------------------------------------------------------------

start_nginx() {
    local port=$1 conf="$WORK/nginx.conf"
    write_nginx_conf "$conf" "$WORK/nginx" "$port" "$DOCROOT"
    /usr/sbin/nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$conf" -t -q \
        >"$WORK/nginx.out" 2>&1 || { cat "$WORK/nginx.out" >&2; die "nginx rejected $conf"; }
    taskset -c 0 /usr/sbin/nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$conf" \
        -g 'daemon off;' >>"$WORK/nginx.out" 2>&1 &
    PIDS[nginx]=$!
}

start_lighttpd() {
    local port=$1 conf="$WORK/lighttpd.conf"
    cat >"$conf" <<EOF
server.document-root = "$DOCROOT"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$WORK/lighttpd.error.log"
server.pid-file = "$WORK/lighttpd.pid"
server.max-keep-alive-requests = 1000000
index-file.names = ("index.html")
EOF
    /usr/sbin/lighttpd -tt -f "$conf" >"$WORK/lighttpd.out" 2>&1 ||
        { cat "$WORK/lighttpd.out" >&2; die "lighttpd rejected $conf"; }
    taskset -c 0 /usr/sbin/lighttpd -D -f "$conf" >>"$WORK/lighttpd.out" 2>&1 &
    PIDS[lighttpd]=$!
}

start_ferry() {
    local port=$1 extra=()
    read -r -a extra <<<"${FERRY_ARGS:-}"
    # The same keep-alive allowance as the peers get (keepalive_requests /
    # server.max-keep-alive-requests): unlimited, so no run measures reconnects.
    # One worker like the peers, and "user = root" when root, if this ferry
    # build knows those settings.
    ferry_extra_lines "$FERRY_BIN" "$WORK"
    { printf 'max-keepalive-requests = 0\naccess-log = off\n'; printf '%s\n' "${FERRY_EXTRA[@]}"; } >"$WORK/ferry.conf"
    taskset -c 0 "$FERRY_BIN" -c "$WORK/ferry.conf" -r "$DOCROOT" -l "127.0.0.1:$port" "${extra[@]}" \
        >"$WORK/ferry.out" 2>&1 &
    PIDS[ferry]=$!
}

# Print whatever the server said, to explain a failed start.
show_server_logs() {
    show_logs "$WORK/$1.out" "$WORK/$1.error.log" "$WORK/$1/error.log"
}

# Wait up to ~5 s for the port to answer, then check the body is our file.
wait_ready() {
    local name=$1 port=$2 pid=${PIDS[$1]} i body="$WORK/$1.body"
    for ((i = 0; i < 50; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_server_logs "$name"
            die "$name exited during startup"
        fi
        curl -fsS --max-time 2 "http://127.0.0.1:$port/$FILE" -o "$body" 2>/dev/null && break
        sleep 0.1
    done
    if ((i == 50)); then
        show_server_logs "$name"
        die "$name did not answer on 127.0.0.1:$port within 5 s"
    fi
    cmp -s "$body" "$DOCROOT/$FILE" ||
        die "$name served wrong bytes for /$FILE ($(stat -c %s "$body") bytes, expected $FILE_SIZE identical)"
}

start_server() {
    local name=$1 port
    port=$(free_port)
    PORTS[$name]=$port
    "start_$name" "$port"
    wait_ready "$name" "$port"
    log "$name up on 127.0.0.1:$port (pid ${PIDS[$name]})"
}

stop_server() {
    local name=$1 pid=${PIDS[$1]:-}
    [[ -n $pid ]] || return 0
    unset "PIDS[$name]"
    stop_pid "$name" "$pid"
}

# --- load -------------------------------------------------------------------

# run_wrk PORT SECONDS OUTFILE — returns wrk's exit status.
run_wrk() {
    taskset -c 1 wrk -t1 -c"$CONNS" -d"$2"s --latency \
        "http://127.0.0.1:$1/$FILE" >"$3" 2>&1
}

# measure NAME RUN — one wrk run, appended to $WORK/runs.tsv.
measure() {
    local name=$1 run=$2 port=${PORTS[$1]} out="$WORK/wrk.$1.$2.txt"
    local rps p50 p99 non2xx conn rd wr to _max status=ok note="" rc=0
    run_wrk "$port" "$DURATION" "$out" || rc=$?
    read -r rps p50 p99 non2xx conn rd wr to _max < <(parse_wrk "$out")
    if ((rc != 0)) || [[ $rps == - ]]; then
        status=ERROR note="wrk exit $rc: $(head -c 200 "$out" | tr '\n' ' ')"
    elif ((non2xx + conn + rd + wr + to > 0)); then
        status=ERROR
        note="non-2xx/3xx $non2xx, socket errors connect $conn read $rd write $wr timeout $to"
    fi
    printf '%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n' "$name" "$run" "$status" \
        "$rps" "$p50" "$p99" "$non2xx" "$conn" "$rd" "$wr" "$to" >>"$WORK/runs.tsv"
    if [[ $status == ok ]]; then
        log "$(printf '%-8s run %d/%d: %10.2f req/s  p50 %-8s p99 %s' "$name" "$run" "$RUNS" \
            "$rps" "$(fmt_latency "$p50")" "$(fmt_latency "$p99")")"
    else
        log "$(printf '%-8s run %d/%d: ERROR %s' "$name" "$run" "$RUNS" "$note")"
    fi
}

warm_up() {
    local name
    for name in "${SERVERS[@]}"; do
        run_wrk "${PORTS[$name]}" "$WARMUP" "$WORK/warmup.$name.txt" || true
    done
}

# Round-robin: ferry, nginx, lighttpd, ferry, nginx, ... so drift hits all.
run_all() {
    local run name
    printf 'server\trun\tstatus\trps\tp50_us\tp99_us\tnon2xx\tconnect\tread\twrite\ttimeout\n' \
        >"$WORK/runs.tsv"
    for ((run = 1; run <= RUNS; run++)); do
        for name in "${SERVERS[@]}"; do
            measure "$name" "$run"
        done
    done
}

# --- report -----------------------------------------------------------------

# median_run NAME — prints "rps p50 p99" of the median clean run (lower middle
# for an even count), or "- -1 -1" if every run had errors.
median_run() {
    awk -F'\t' -v s="$1" '$1 == s && $3 == "ok" { print $4, $5, $6 }' "$WORK/runs.tsv" |
        sort -g -k1,1 |
        awk '{ row[NR] = $0 } END { if (NR) print row[int((NR + 1) / 2)]; else print "- -1 -1" }'
}

error_runs() {
    awk -F'\t' -v s="$1" '$1 == s && $3 != "ok" { n++ } END { print n + 0 }' "$WORK/runs.tsv"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

report() {
    local name rps p50 p99 errs best_peer="-" vs
    local -A med=()
    mkdir -p bench/out
    for name in "${SERVERS[@]}"; do
        read -r rps p50 p99 < <(median_run "$name")
        med[$name]=$rps
        if [[ $name != ferry && $rps != - ]]; then
            if [[ $best_peer == - ]] || awk -v a="$rps" -v b="$best_peer" 'BEGIN { exit !(a > b) }'; then
                best_peer=$rps
            fi
        fi
    done

    local tsv=bench/out/small.tsv
    printf 'server\tmedian_rps\tp50_us\tp99_us\terror_runs\truns\tvs_best_peer\n' >"$tsv"
    echo
    echo "1 KiB file, wrk -t1 -c$CONNS -d${DURATION}s, $RUNS run(s) per server, median run"
    printf '%-10s %14s %10s %10s %12s\n' server "median req/s" p50 p99 "error runs"
    for name in "${SERVERS[@]}"; do
        read -r rps p50 p99 < <(median_run "$name")
        errs=$(error_runs "$name")
        vs=$(ratio "$rps" "$best_peer")
        printf '%s\t%s\t%s\t%s\t%d\t%d\t%s\n' "$name" "$rps" \
            "$( [[ $p50 == -1 ]] && echo - || echo "$p50")" \
            "$( [[ $p99 == -1 ]] && echo - || echo "$p99")" \
            "$errs" "$RUNS" "$vs" >>"$tsv"
        printf '%-10s %14s %10s %10s %12s\n' "$name" "$rps" \
            "$(fmt_latency "$p50")" "$(fmt_latency "$p99")" "$errs/$RUNS"
    done
    if [[ ${SKIP_FERRY:-0} == 1 ]]; then
        echo "ferry / best peer: n/a (SKIP_FERRY=1)"
    else
        echo "ferry / best peer: $(ratio "${med[ferry]}" "$best_peer")"
    fi
    cp "$WORK/runs.tsv" bench/out/small-runs.tsv
    log "wrote $tsv and bench/out/small-runs.tsv"
}

main() {
    parse_args "$@"
    resolve_paths
    check_tools
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    make_workdir

    local name
    for name in "${SERVERS[@]}"; do
        start_server "$name"
    done
    warm_up
    run_all
    for name in "${SERVERS[@]}"; do
        stop_server "$name"
    done
    report

    if awk -F'\t' 'NR > 1 && $3 != "ok" { bad = 1 } END { exit !bad }' "$WORK/runs.tsv"; then
        log "some runs had errors (see 'error runs' above)"
        exit 1
    fi
}

main "$@"
