# bench/lib.sh — shell functions shared by bench/small.sh and bench/run.sh.
# Source it after setting BENCH_NAME (the prefix of messages) and PYTHON.
# shellcheck shell=bash

: "${BENCH_NAME:=bench}"
: "${PYTHON:=/usr/bin/python3}"

log() {
    echo "$BENCH_NAME: $*" >&2
}

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

is_posint() {
    [[ $1 =~ ^[1-9][0-9]*$ ]]
}

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# stop_pid NAME PID — SIGTERM, up to 5 s, then SIGKILL; only the PID we started.
stop_pid() {
    local name=$1 pid=$2 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name ignored SIGTERM, killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# show_logs FILE... — the tail of each non-empty file, to explain a failure.
show_logs() {
    local f
    for f in "$@"; do
        [[ -s $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    return 0
}

# write_nginx_conf CONF PREFIX PORT DOCROOT [EXTRA_HTTP_DIRECTIVES]
# One worker, sendfile, access log off, a million keep-alive requests; the
# extra directives go into the http block (e.g. "aio threads; directio 4m;").
write_nginx_conf() {
    local conf=$1 prefix=$2 port=$3 docroot=$4 extra=${5:-} user_line=""
    # As root, nginx workers would switch to "nobody" and might not read the
    # docroot (a mktemp dir is mode 0700); keep them as root.
    [[ $(id -u) -eq 0 ]] && user_line="user root;"
    mkdir -p "$prefix"
    cat >"$conf" <<EOF
$user_line
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
error_log $prefix/error.log;
pid $prefix/nginx.pid;
events { worker_connections 20000; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=20s;
    open_file_cache_valid 30s;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    types { application/octet-stream bin; text/html html; }
    client_body_temp_path $prefix/body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    $extra
    server {
        listen 127.0.0.1:$port;
        root $docroot;
    }
}
EOF
}

# ferry_extra_lines FERRY_BIN DIR — sets FERRY_EXTRA to the settings this
# ferry build accepts, probed one by one with ferry -t: one worker like the
# peers (ferry's default is one per CPU), and permission to run as root when
# we are root (the peers run as root here too).
FERRY_EXTRA=()
ferry_extra_lines() {
    local bin=$1 dir=$2 line cands=("workers = 1")
    FERRY_EXTRA=()
    [[ $(id -u) -eq 0 ]] && cands+=("user = root")
    for line in "${cands[@]}"; do
        printf '%s\n' "$line" >"$dir/probe.conf"
        if "$bin" -t -c "$dir/probe.conf" >/dev/null 2>&1; then
            FERRY_EXTRA+=("$line")
        fi
    done
}

# parse_wrk OUTFILE — prints
# "rps p50_us p99_us non2xx connect read write timeout max_us" (-1 / - if absent).
parse_wrk() {
    awk '
        function us(v,   n, u) {
            n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n
            if (u == "ms") return n * 1000
            if (u == "s")  return n * 1000000
            if (u == "m")  return n * 60000000
            return -1
        }
        /^Requests\/sec:/                 { rps = $2 }
        $1 == "Latency" && NF >= 4        { max = us($4) }
        $1 == "50%"                       { p50 = us($2) }
        $1 == "99%"                       { p99 = us($2) }
        /Non-2xx or 3xx responses:/       { non2xx = $NF }
        /Socket errors:/ {
            gsub(/,/, "")
            for (i = 1; i < NF; i++) {
                if ($i == "connect") c = $(i + 1)
                if ($i == "read")    r = $(i + 1)
                if ($i == "write")   w = $(i + 1)
                if ($i == "timeout") t = $(i + 1)
            }
        }
        END {
            printf "%s %s %s %d %d %d %d %d %s\n", (rps == "" ? "-" : rps),
                (p50 == "" ? -1 : p50), (p99 == "" ? -1 : p99),
                non2xx, c, r, w, t, (max == "" ? -1 : max)
        }' "$1"
}

# fmt_latency MICROSECONDS — 812us, 1.38ms, 2.10s; "-" for a negative value.
fmt_latency() {
    awk -v u="$1" 'BEGIN {
        if (u < 0) print "-"
        else if (u < 1000) printf "%.0fus\n", u
        else if (u < 1000000) printf "%.2fms\n", u / 1000
        else printf "%.2fs\n", u / 1000000
    }'
}
