#!/usr/bin/env bash
# bench/compare.sh — two builds of ferry, interleaved on one workload, so that
# a change's effect shows above this machine's noise (issue 16).
#
# Usage: bench/compare.sh [-w W1|W2|W3] [-r ROUNDS] [-d SECONDS] [-c CLIENTS] [-m MIB]
#                         [-B BACKEND] [-p PEER] [-x LINE] [-y LINE] BIN_A BIN_B
#   -w W1    wrk -t1 -c50 on /1k.bin (default): req/s and server CPU µs per request
#   -w W2    4 clients download one hot file (-m MiB, default 1024): MiB/s and
#            server CPU-s per GiB
#   -w W3    -c clients (default 5) each download a distinct cold file (-m MiB,
#            default 256; kept in bench/data/compare-cold) after the page cache
#            is dropped (root): MiB/s and server CPU-s per GiB; every round also
#            reads the same files with fio (O_DIRECT, 1 MiB, depth 8): the
#            disk's ceiling at that moment, and each build's share of it
#   -r N     rounds (default 7); each runs A and B, in turn AB, BA, AB, ...
#   -d S     seconds per wrk measurement (W1; default 5)
#   -B NAME  the backend both builds use (default: their default)
#   -p PEER  also run nginx, lighttpd or h2o in every round (repeatable)
#   -x LINE  a configuration line for A only, -y for B only (repeatable): two
#            settings of one build compare as two builds do
#
# Both servers (and peers) run on CPU 0, one worker; the load on CPU 1, as in
# bench/run.sh.  Every server is started once and stays up, so the rounds
# measure the steady state.  It prints every round, then per server the
# median and range, and B / A: the ratio of the medians, the range of the
# per-round ratios (its spread: the noise a single pair would show), in how
# many rounds B was ahead (a sign test: 17 of 21 is unlikely by chance, 11
# of 21 is a coin), and the CPU ratio (A's CPU per unit / B's: above 1, B is
# cheaper), with its own count.  Only the PIDs it started are stopped.
set -euo pipefail
export LC_ALL=C

BENCH_NAME=compare.sh
PYTHON=/usr/bin/python3
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

W=W1 ROUNDS=7 DUR=5 BACKEND="" MIB="" CLIENTS=5 PEERS=() XA=() XB=()
usage() {
    sed -n '4,22p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
while getopts "w:r:d:c:B:p:m:x:y:h" o; do
    case $o in
        w) W=$OPTARG ;;
        r) ROUNDS=$OPTARG ;;
        d) DUR=$OPTARG ;;
        c) CLIENTS=$OPTARG ;;
        B) BACKEND=$OPTARG ;;
        p) PEERS+=("$OPTARG") ;;
        m) MIB=$OPTARG ;;
        x) XA+=("$OPTARG") ;;
        y) XB+=("$OPTARG") ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
(($# == 2)) || usage
[[ $W =~ ^W[123]$ ]] || die "-w wants W1, W2 or W3"
[[ -n $MIB ]] || { MIB=1024; [[ $W == W3 ]] && MIB=256; }
{ is_posint "$ROUNDS" && is_posint "$DUR" && is_posint "$MIB" && is_posint "$CLIENTS"; } ||
    die "-r, -d, -c and -m want positive integers"
if [[ $W == W3 ]]; then
    ((EUID == 0)) || die "W3 drops the page cache before each download: run it as root"
    command -v fio >/dev/null || die "W3 measures the disk with fio: install fio"
fi
A=$(realpath "$1") B=$(realpath "$2")
[[ -x $A && -x $B ]] || die "not executable: $A or $B"
for p in "${PEERS[@]}"; do [[ $p =~ ^(nginx|lighttpd|h2o)$ ]] || die "-p wants nginx, lighttpd or h2o"; done
FETCH=${FETCH:-$ROOT/build/fetch}
[[ $W == W1 ]] || [[ -x $FETCH ]] || make -C "$ROOT" build/fetch >/dev/null || die "cannot build $FETCH"
CLK_TCK=$(getconf CLK_TCK)

DATA=$(mktemp -d "${TMPDIR:-/tmp}/ferry-compare.XXXXXX")
declare -A PID=() PORT=()
cleanup() {
    local id
    for id in "${!PID[@]}"; do stop_pid "$id" "${PID[$id]}"; done
    rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT

head -c 1024 /dev/urandom >"$DATA/1k.bin"
HOT=hot.bin
if [[ $W == W2 ]]; then
    # A sparse file would be sent from the zero page: real bytes, cached.
    dd if=/dev/urandom of="$DATA/$HOT" bs=1M count="$MIB" status=none
    cat "$DATA/$HOT" >/dev/null
fi
# W3's files stay between runs (writing them takes longer than a round);
# the servers see them as $DATA/cold, hard links where the file system allows
# (servers refuse symbolic links that leave their docroot).
COLD_DIR=${COMPARE_COLD:-$ROOT/bench/data/compare-cold}
if [[ $W == W3 ]]; then
    mkdir -p "$COLD_DIR"
    for ((i = 1; i <= CLIENTS; i++)); do
        f="$COLD_DIR/$MIB-$i.bin"
        [[ -f $f && $(stat -c %s "$f") == $((MIB * 1048576)) ]] && continue
        log "writing $f"
        dd if=/dev/urandom of="$f" bs=1M count="$MIB" status=none
    done
    mkdir "$DATA/cold"
    for ((i = 1; i <= CLIENTS; i++)); do
        ln "$COLD_DIR/$MIB-$i.bin" "$DATA/cold/" 2>/dev/null || cp "$COLD_DIR/$MIB-$i.bin" "$DATA/cold/"
    done
fi

# The one place that knows how each server starts: configs as bench/run.sh's.
start() {
    local id=$1 dir="$DATA/srv-$1" port
    port=$(free_port)
    mkdir -p "$dir"
    case $id in
        A | B)
            local bin=$A extra=("${XA[@]}")
            [[ $id == B ]] && bin=$B extra=("${XB[@]}")
            ferry_extra_lines "$bin" "$dir"
            printf '%s\n' "access-log = off" "max-keepalive-requests = 0" "${FERRY_EXTRA[@]}" \
                ${BACKEND:+"backend = $BACKEND"} "${extra[@]}" >"$dir/ferry.conf"
            taskset -c 0 "$bin" -c "$dir/ferry.conf" -r "$DATA" -l "127.0.0.1:$port" >"$dir/out.log" 2>&1 &
            ;;
        nginx)
            write_nginx_conf "$dir/nginx.conf" "$dir" "$port" "$DATA" ""
            taskset -c 0 /usr/sbin/nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
                >"$dir/out.log" 2>&1 &
            ;;
        lighttpd)
            write_lighttpd_conf "$dir/lighttpd.conf" "$dir" "$port" "$DATA"
            taskset -c 0 /usr/sbin/lighttpd -D -f "$dir/lighttpd.conf" >"$dir/out.log" 2>&1 &
            ;;
        h2o)
            write_h2o_conf "$dir/h2o.conf" "$dir" "$port" "$DATA"
            taskset -c 0 /usr/bin/h2o -c "$dir/h2o.conf" >"$dir/out.log" 2>&1 &
            ;;
    esac
    PID[$id]=$!
    PORT[$id]=$port
    local i
    for ((i = 0; i < 50; i++)); do
        curl -fsS --max-time 2 "http://127.0.0.1:$port/1k.bin" -o "$dir/1k.body" 2>/dev/null && break
        sleep 0.1
    done
    cmp -s "$dir/1k.body" "$DATA/1k.bin" || { show_logs "$dir/out.log"; die "$id does not serve /1k.bin"; }
}

# cpu_ticks ID — utime + stime of the server's processes (workers included).
cpu_ticks() {
    local pid=${PID[$1]} sum=0 p
    for p in "$pid" $(pgrep -P "$pid" 2>/dev/null || true); do
        [[ -r /proc/$p/stat ]] && sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$sum"
}

# measure_fio — prints "MiB/s 0": O_DIRECT reads of W3's files, as fast as
# the disk gives them now (no server, so no CPU figure).
measure_fio() {
    local i files=() out
    for ((i = 1; i <= CLIENTS; i++)); do files+=("$COLD_DIR/$MIB-$i.bin"); done
    out=$(IFS=:; taskset -c 1 fio --name=ceiling --filename="${files[*]}" --file_service_type=sequential \
        --readonly --direct=1 --rw=read --bs=1M --ioengine=libaio --iodepth=8 --runtime=3 --time_based \
        --output-format=json) || die "fio failed"
    "$PYTHON" -c 'import json,sys; print("%.0f 0" % (json.load(sys.stdin)["jobs"][0]["read"]["bw_bytes"]/1048576))' \
        <<<"$out"
}

# measure ID — prints "VALUE CPU_PER_UNIT": req/s and µs per request (W1),
# MiB/s and CPU-s per GiB (W2, W3).  Errors stop the script.
measure() {
    local id=$1 port=${PORT[$1]:-} c0 c1 t0 t1 out
    [[ $W == W3 ]] && drop_caches
    [[ $id == fio ]] && { measure_fio; return; }
    c0=$(cpu_ticks "$id")
    if [[ $W == W1 ]]; then
        out=$(taskset -c 1 wrk -t1 -c50 -d"${DUR}s" --latency "http://127.0.0.1:$port/1k.bin")
        c1=$(cpu_ticks "$id")
        local rps p50 p99 non2xx conn read write tmo max reqs
        read -r rps p50 p99 non2xx conn read write tmo max <<<"$(parse_wrk <(echo "$out"))"
        ((non2xx <= 0 && conn <= 0 && read <= 0 && write <= 0 && tmo <= 0)) ||
            die "$id: wrk errors: non-2xx $non2xx, socket $conn/$read/$write/$tmo"
        reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
        awk -v r="$rps" -v c=$((c1 - c0)) -v n="$reqs" -v hz="$CLK_TCK" \
            'BEGIN { printf "%.0f %.3f\n", r, c / hz * 1e6 / n }'
    else
        local specs=() i bytes=0 size code
        if [[ $W == W2 ]]; then
            for ((i = 0; i < 4; i++)); do specs+=("/$HOT:$((MIB * 1048576))"); done
        else
            for ((i = 1; i <= CLIENTS; i++)); do specs+=("/cold/$MIB-$i.bin:$((MIB * 1048576))"); done
        fi
        t0=${EPOCHREALTIME/./}
        out=$(taskset -c 1 "$FETCH" -t 600 "127.0.0.1:$port" "${specs[@]}")
        t1=${EPOCHREALTIME/./}
        c1=$(cpu_ticks "$id")
        while read -r size code; do
            [[ $code == 200 && $size == $((MIB * 1048576)) ]] || die "$id: download failed: $size $code"
            bytes=$((bytes + size))
        done <<<"$out"
        awk -v b="$bytes" -v u=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$CLK_TCK" \
            'BEGIN { printf "%.0f %.3f\n", b / 1048576 / (u / 1e6), c / hz / (b / 1073741824) }'
    fi
}

IDS=(A B "${PEERS[@]}")
for id in "${IDS[@]}"; do start "$id"; done
unit="req/s" cunit="us/req"
[[ $W != W1 ]] && unit="MiB/s" cunit="CPU-s/GiB"
[[ $W == W3 ]] && PEERS+=(fio) IDS+=(fio)
log "$W: A=$A ${XA[*]} B=$B ${XB[*]}${BACKEND:+ backend $BACKEND}; peers: ${PEERS[*]:-none}; $ROUNDS rounds"
# Warm-up: each server once, unmeasured (W1: 1 s).
for id in "${IDS[@]}"; do
    if [[ $W == W1 ]]; then taskset -c 1 wrk -t1 -c50 -d1s "http://127.0.0.1:${PORT[$id]}/1k.bin" >/dev/null; fi
done

RES=$DATA/results
: >"$RES"
for ((r = 1; r <= ROUNDS; r++)); do
    order=(A B "${PEERS[@]}")
    ((r % 2 == 0)) && order=(B A "${PEERS[@]}")
    line="round $r:"
    for id in "${order[@]}"; do
        measure "$id" >"$DATA/m" || exit 1
        read -r v cpu <"$DATA/m"
        echo "$r $id $v $cpu" >>"$RES"
        line+=" $id $v $unit"
        [[ $id == fio ]] || line+=" ($cpu $cunit)"
    done
    log "$line"
done

"$PYTHON" - "$RES" "$unit" "$cunit" "${IDS[@]}" <<'EOF'
import statistics, sys
path, unit, cunit, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rows = [l.split() for l in open(path)]
val = {i: [float(r[2]) for r in rows if r[1] == i] for i in ids}
cpu = {i: [float(r[3]) for r in rows if r[1] == i] for i in ids}
for i in ids:
    line = f"{i:9} median {statistics.median(val[i]):10.0f} {unit} (range {min(val[i]):.0f}-{max(val[i]):.0f})"
    if i != "fio":
        line += f", {statistics.median(cpu[i]):.3f} {cunit} (range {min(cpu[i]):.3f}-{max(cpu[i]):.3f})"
    print(line)
pairs = [(float(a[2]), float(b[2]), float(a[3]), float(b[3]))
         for a in rows if a[1] == "A" for b in rows if b[1] == "B" and b[0] == a[0]]
ratios = [b / a for a, b, _, _ in pairs if a]
# CPU is counted in clock ticks: a round too short to take one of each is left out.
cratios = [ca / cb for _, _, ca, cb in pairs if ca and cb]
ahead = sum(r > 1 for r in ratios)
cheaper = sum(r > 1 for r in cratios)
if cratios:
    cpu_line = (f"CPU per unit A / B: {statistics.median(cratios):.3f} (per round {min(cratios):.3f}-"
                f"{max(cratios):.3f}, B cheaper in {cheaper} of {len(cratios)})")
else:
    cpu_line = "CPU per unit A / B: - (no round long enough to count both: more data, -m)"
print(f"B / A: {statistics.median(val['B']) / statistics.median(val['A']):.3f} "
      f"(per round {min(ratios):.3f}-{max(ratios):.3f}, median {statistics.median(ratios):.3f}, "
      f"B ahead in {ahead} of {len(ratios)}); {cpu_line}")
peers = [i for i in ids if i not in ("A", "B", "fio")]
if "fio" in ids:  # the disk's ceiling, round by round: each build's share of it
    for i in ("A", "B"):
        share = [float(a[2]) / float(f[2]) for a in rows if a[1] == i for f in rows
                 if f[1] == "fio" and f[0] == a[0] and float(f[2])]
        print(f"{i} / fio O_DIRECT: median {statistics.median(share):.3f} (per round {min(share):.3f}-{max(share):.3f})")
if peers:
    best = max(peers, key=lambda i: statistics.median(val[i]))
    for i in ("A", "B"):
        print(f"{i} / best peer ({best}): {statistics.median(val[i]) / statistics.median(val[best]):.3f}")
EOF
