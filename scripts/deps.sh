#!/bin/sh
# Installs the Debian packages ferry needs to build, test and benchmark, if any is missing.
# Quiet and quick when everything is there; needs root (or sudo) otherwise.
set -eu

PACKAGES="gcc make pkg-config curl wget openssl python3 python3-pytest python3-yaml liburing-dev libaio-dev libssl-dev
          libcrypt-dev apache2-utils whois zlib1g-dev libzstd-dev libbrotli-dev python3-brotli python3-zstandard
          strace wrk nginx-light lighttpd lighttpd-mod-openssl lighttpd-mod-deflate h2o slowhttptest testssl.sh
          haproxy varnish systemd util-linux
          libnghttp2-dev nghttp2-client python3-h2
          chromium ffmpeg fio gnuplot-nox iproute2 debhelper lintian"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
# The Debian nginx/lighttpd/h2o/haproxy/varnish packages start system services; ferry's
# tests and benchmarks start their own instances, so stop those to keep ports and CPUs free.
for svc in nginx lighttpd h2o haproxy varnish; do
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true; fi
    if command -v service >/dev/null 2>&1; then $SUDO service "$svc" stop >/dev/null 2>&1 || true; fi
done
exit 0
