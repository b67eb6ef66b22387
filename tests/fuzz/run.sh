#!/bin/bash
# `make fuzz`: builds the libFuzzer targets with clang (-fsanitize=fuzzer,
# address,undefined) and runs each for a bounded time.
#
#   FUZZ_SECONDS   seconds per target (default 60; ~300 reaches the issue's 10M executions)
#   FUZZ_TARGETS   which targets (default "http_parse path h2")
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1)
#   FUZZ_ARGS      extra libFuzzer flags
#   CLANG          the compiler (default: clang)
#
# The working corpus lives in build/fuzz/corpus/<target> and grows from run to
# run; it starts from the committed seeds (tests/fuzz/corpus/<target>) plus,
# when ../shared/testdata is there, seeds derived at run time from the
# external corpora (h2o's HTTP/1 requests, the traversal payload lists).
# Crash inputs land in build/fuzz/artifacts/; turn each into a unit test in
# tests/unit/test_http_parse.c or test_path.c (h2: an integration test of
# tests/integration/test_http2.py, or a seed in tests/fuzz/corpus/h2/).
# The h2 target is the whole server (every source but main.c) in process;
# FERRY_FUZZ_BACKEND picks its backend (default sendfile).  Prints executions and
# crashes per target; exits non-zero if any target crashed.
set -u
cd "$(dirname "$0")/../.." || exit 2

: "${FUZZ_SECONDS:=60}" "${FUZZ_TARGETS:=http_parse path h2}" "${FUZZ_JOBS:=1}" "${FUZZ_ARGS:=}"
: "${CLANG:=clang}"
OUT=build/fuzz
TESTDATA=../shared/testdata

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found; install Debian's clang (apt-get install clang) or set CLANG" >&2
    exit 2
fi

CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Isrc
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# The server's link flags, as the Makefile's PKGS and LIBS.
SERVER_LIBS="$(pkg-config --cflags --libs liburing libssl libcrypto libxcrypt libnghttp2) -laio -lz -lzstd -lbrotlienc -pthread"

declare -A SOURCES=(
    [http_parse]="src/http/http_parse.c src/file/path.c"
    [path]="src/file/path.c"
    [h2]="$(ls src/*/*.c | grep -v '^src/core/main\.c$' | tr '\n' ' ')"
)
declare -A LDLIBS=([h2]="$SERVER_LIBS")
declare -A DICTS=([http_parse]=tests/fuzz/http.dict [path]=tests/fuzz/path.dict [h2]=tests/fuzz/h2.dict)
declare -A MAXLEN=([http_parse]=12000 [path]=5000 [h2]=16384)

# Seeds derived from the external corpora, written to $2 (not committed).
derive_seeds() {
    local target=$1 dir=$2
    /usr/bin/python3 - "$target" "$dir" "$TESTDATA" <<'PY'
import hashlib, sys
from pathlib import Path
target, out, testdata = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
n = 0
def put(data):
    global n
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    n += 1
if target == "http_parse":
    # h2o's files are written in pieces separated by "\n--MARK--\n": the
    # parser sees what has arrived so far, so the pieces are joined.
    for f in sorted((testdata / "h2o-http1-corpus" / "http1-corpus").glob("*")):
        put(f.read_bytes().replace(b"\n--MARK--\n", b""))
elif target == "path":
    for f in sorted((testdata / "traversal").glob("*.txt")):
        for line in f.read_bytes().splitlines():
            line = line.strip().replace(b"{FILE}", b"etc/passwd")
            if line:
                put(line if line.startswith(b"/") else b"/" + line)
print(f"fuzz: {n} seeds derived from {testdata} for {target}", file=sys.stderr)
PY
}

total_crashes=0
mkdir -p "$OUT/artifacts"
report=""
for t in $FUZZ_TARGETS; do
    bin=$OUT/fuzz_$t
    echo "fuzz: building $bin" >&2
    # shellcheck disable=SC2086
    "$CLANG" $CFLAGS -o "$bin" "tests/fuzz/fuzz_$t.c" ${SOURCES[$t]} ${LDLIBS[$t]:-} || exit 1

    corpus=$OUT/corpus/$t
    derived=$OUT/derived/$t
    mkdir -p "$corpus" "$derived"
    if [ -d "$TESTDATA" ] && [ "$t" != h2 ] && [ -z "$(ls -A "$derived")" ]; then
        derive_seeds "$t" "$derived"
    fi

    log=$OUT/fuzz_$t.log
    marker=$OUT/.started-$t
    touch "$marker"
    echo "fuzz: running $t for ${FUZZ_SECONDS}s (log: $log)" >&2
    jobs_args=()
    if [ "$FUZZ_JOBS" -gt 1 ]; then jobs_args=(-fork="$FUZZ_JOBS" -ignore_crashes=1); fi
    # shellcheck disable=SC2086
    "$bin" "$corpus" "tests/fuzz/corpus/$t" "$derived" \
        -dict="${DICTS[$t]}" -max_len="${MAXLEN[$t]}" -max_total_time="$FUZZ_SECONDS" \
        -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1 "${jobs_args[@]}" $FUZZ_ARGS \
        >"$log" 2>&1
    rc=$?
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | awk '{s += $2} END {if (NR) print s}')
    [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    crashes=$(find "$OUT/artifacts" -name "$t-*" -newer "$marker" | grep -cE "/$t-(crash|leak|oom|timeout)-" || true)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
    if [ "$crashes" -ne 0 ]; then
        grep -E 'ERROR|property failed|reference says|SUMMARY' "$log" | head -n 5 >&2
    fi
    total_crashes=$((total_crashes + crashes))
    report+="fuzz $t: ${execs:-0} executions in ${FUZZ_SECONDS}s, $crashes crashes, corpus $(find "$corpus" -type f | wc -l) inputs"$'\n'
done
printf '%s' "$report"
[ "$total_crashes" -eq 0 ]
