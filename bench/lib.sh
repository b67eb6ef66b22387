# bench/lib.sh — shell functions shared by bench/small.sh and bench/run.sh.
# Source it after setting BENCH_NAME (the prefix of messages) and PYTHON.
# shellcheck shell=bash

: "${BENCH_NAME:=bench}"
: "${PYTHON:=/usr/bin/python3}"
: "${SETTLE_POLL:=0.5}" "${SETTLE_SAME:=5}" "${SETTLE_MAX:=30}" "${SETTLE_TOTAL_US:=0}"

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

# drop_caches — drop the page cache, then wait until the VM's free-page
# reporting settles (reported_kib unchanged for SETTLE_SAME polls, polled
# every SETTLE_POLL s, at most SETTLE_MAX s; SETTLE_TOTAL_US sums the waits).
# Root only: otherwise it does nothing.
drop_caches() {
    ((EUID == 0)) || return 0
    sync
    echo 3 >/proc/sys/vm/drop_caches
    local f=/sys/module/page_reporting/parameters/reported_kib
    if [[ ! -r $f ]]; then
        sleep 1
        return 0
    fi
    local t0=${EPOCHREALTIME/./} last cur same=0 waited
    last=$(<"$f")
    while :; do
        sleep "$SETTLE_POLL"
        cur=$(<"$f")
        if [[ $cur == "$last" ]]; then
            ((++same >= SETTLE_SAME)) && break
        else
            same=0
            last=$cur
        fi
        waited=$((${EPOCHREALTIME/./} - t0))
        if ((waited > SETTLE_MAX * 1000000)); then
            log "page reporting still busy after ${SETTLE_MAX}s; measuring anyway"
            break
        fi
    done
    SETTLE_TOTAL_US=$((SETTLE_TOTAL_US + ${EPOCHREALTIME/./} - t0))
}

# show_logs FILE... — the tail of each non-empty file, to explain a failure.
show_logs() {
    local f
    for f in "$@"; do
        [[ -s $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    return 0
}

# write_nginx_conf CONF PREFIX PORT DOCROOT [EXTRA_HTTP_DIRECTIVES] [CERT KEY] [EXTRA_SERVER_DIRECTIVES]
#                  [LISTEN_FLAGS]
# One worker, sendfile, access log off, a million keep-alive requests; the
# extra directives go into the http block (e.g. "aio threads; directio 4m;"),
# or the server block (e.g. a location). With CERT and KEY (empty: none) the
# port speaks TLS (see tls_nginx_lines). LISTEN_FLAGS end the listen line
# (e.g. "http2": nginx 1.22 turns HTTP/2 on there).
write_nginx_conf() {
    local conf=$1 prefix=$2 port=$3 docroot=$4 extra=${5:-} cert=${6:-} key=${7:-} server_extra=${8:-}
    local listen_flags=${9:+ $9}
    local user_line="" ssl="" tls=""
    if [[ -n $cert ]]; then
        ssl=" ssl"
        tls=$(tls_nginx_lines "$cert" "$key")
    fi
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
    types { application/octet-stream bin; text/html html; text/javascript js; }
    client_body_temp_path $prefix/body;
    proxy_temp_path $prefix/proxy;
    fastcgi_temp_path $prefix/fastcgi;
    uwsgi_temp_path $prefix/uwsgi;
    scgi_temp_path $prefix/scgi;
    $extra
    server {
        listen 127.0.0.1:$port$ssl$listen_flags;
        root $docroot;
        $tls
        $server_extra
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

# An awk function for the load generators' durations ("812us", "1.2ms",
# "3s", "1m"): microseconds, -1 for a unit it does not know.
# shellcheck disable=SC2016 # awk's own $ fields
AWK_US='
        function us(v,   n, u) {
            n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n
            if (u == "ms") return n * 1000
            if (u == "s")  return n * 1000000
            if (u == "m")  return n * 60000000
            return -1
        }
'

# parse_wrk OUTFILE — prints
# "rps p50_us p99_us non2xx connect read write timeout max_us" (-1 / - if absent).
parse_wrk() {
    awk "$AWK_US"'
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

# --- TLS (the T workloads of run.sh) -------------------------------------------
# Every server gets the same ECDSA P-256 key and self-signed certificate, made
# at bench time, and keeps its TLS defaults except where said.

# make_tls_cert DIR — DIR/key.pem and DIR/cert.pem: an ECDSA P-256 key and a
# self-signed certificate for 127.0.0.1 and localhost, valid two days.
make_tls_cert() {
    local dir=$1
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj "/CN=localhost" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$dir/openssl.log" 2>&1 ||
        die "openssl could not make the test certificate: $(tail -n 3 "$dir/openssl.log")"
}

# tls_fingerprint PEM — the certificate's SHA-256 fingerprint (hex with colons).
tls_fingerprint() {
    openssl x509 -noout -fingerprint -sha256 -in "$1" 2>/dev/null | sed 's/^.*=//'
}

# tls_nginx_lines CERT KEY — nginx's server-block TLS lines: the session
# cache on (the usual production setting), TLS 1.3 enabled (nginx 1.22's
# default protocols stop at TLS 1.2; ferry's default is 1.2 and 1.3).
tls_nginx_lines() {
    printf '%s ' "ssl_certificate $1;" "ssl_certificate_key $2;" "ssl_protocols TLSv1.2 TLSv1.3;" \
        "ssl_session_cache shared:SSL:10m;" "ssl_session_timeout 1h;"
}

# write_lighttpd_conf CONF DIR PORT DOCROOT [CERT KEY] — lighttpd 1.4 with
# its default backends, a million keep-alive requests, many connections;
# with CERT and KEY, TLS through mod_openssl (its defaults: TLS 1.2 and 1.3,
# session tickets).
write_lighttpd_conf() {
    local conf=$1 dir=$2 port=$3 docroot=$4 cert=${5:-} key=${6:-}
    {
        [[ -n $cert ]] && echo 'server.modules += ("mod_openssl")'
        cat <<EOF
server.document-root = "$docroot"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "$dir/error.log"
server.pid-file = "$dir/lighttpd.pid"
server.max-keep-alive-requests = 1000000
server.max-fds = $(ulimit -n)
server.max-connections = 20000
index-file.names = ("index.html")
EOF
        if [[ -n $cert ]]; then
            printf 'ssl.engine = "enable"\nssl.pemfile = "%s"\nssl.privkey = "%s"\n' "$cert" "$key"
        fi
    } >"$conf"
}

# write_h2o_conf CONF DIR PORT DOCROOT [CERT KEY] — h2o: one thread, no
# access log, many connections; with CERT and KEY over TLS, OCSP stapling off
# (a self-signed certificate has no responder). Its private-key process
# (neverbleed) stays: that is h2o's design, and it runs on the server's CPU
# like the rest.
write_h2o_conf() {
    local conf=$1 dir=$2 port=$3 docroot=$4 cert=${5:-} key=${6:-}
    {
        echo "num-threads: 1"
        echo "max-connections: 20000"
        echo "pid-file: $dir/h2o.pid"
        echo "error-log: $dir/error.log"
        # As root h2o would switch to "nobody", who may not read the docroot.
        [[ $(id -u) -eq 0 ]] && echo "user: root"
        cat <<EOF
listen:
  host: 127.0.0.1
  port: $port
EOF
        if [[ -n $cert ]]; then
            cat <<EOF
  ssl:
    certificate-file: $cert
    key-file: $key
    ocsp-update-interval: 0
EOF
        fi
        cat <<EOF
hosts:
  default:
    paths:
      /:
        file.dir: $docroot
EOF
    } >"$conf"
}

# tls_describe HOST:PORT CAFILE DIR — how a default OpenSSL client's
# connection goes, one line: "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519,
# resumes: yes"; the last from a second connection offering the first one's
# session (ticket or ID), as wrk's reconnections do. Each connection sends a
# request and reads to the end: TLS 1.3 tickets come after the handshake.
# Exit status 1 if the server's certificate is not the one in CAFILE.
tls_describe() {
    local hp=$1 ca=$2 dir=$3 out proto cipher group served req
    req="GET /1k.bin HTTP/1.1\r\nHost: $hp\r\nConnection: close\r\n\r\n"
    # shellcheck disable=SC2059
    out=$(printf "$req" | timeout 10 openssl s_client -connect "$hp" -CAfile "$ca" -verify_return_error \
        -sess_out "$dir/tls-session.pem" -ign_eof 2>&1 | tr -d '\000')
    served=$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' <<<"$out" |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/^.*=//')
    [[ -n $served && $served == "$(tls_fingerprint "$ca")" ]] || return 1
    proto=$(awk '/^New, / { sub(/,$/, "", $2); print $2; exit }' <<<"$out")
    cipher=$(awk '/^New, / { print $NF; exit }' <<<"$out")
    group=$(awk -F': ' '/^(Server|Negotiated) Temp Key/ { sub(/,.*/, "", $2); print $2; exit }' <<<"$out")
    # shellcheck disable=SC2059
    out=$(printf "$req" | timeout 10 openssl s_client -connect "$hp" -CAfile "$ca" \
        -sess_in "$dir/tls-session.pem" -ign_eof 2>&1 | tr -d '\000')
    printf '%s %s %s, resumes: %s\n' "${proto:-?}" "${cipher:-?}" "${group:-?}" \
        "$(grep -q '^Reused,' <<<"$out" && echo yes || echo no)"
}
