#!/bin/bash
# Runs the whole test suite: every C unit-test binary in $UNIT_DIR, then the
# integration tests (pytest) against the server binary $FERRY_BIN.
# Prints "N passed, N failed" as its last line; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."

: "${FERRY_BIN:=build/ferry}" "${UNIT_DIR:=build/tests}"
export FERRY_BIN
passed=0
failed=0

count() { # "<text>" "<word>" -> the number before <word> in the text, or 0
    grep -oE "[0-9]+ $2" <<<"$1" | tail -n 1 | grep -oE '^[0-9]+' || echo 0
}

for t in "$UNIT_DIR"/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1)
    rc=$?
    last=$(tail -n 1 <<<"$out")
    p=$(count "$last" passed)
    f=$(count "$last" failed)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed before its summary
    echo "unit $(basename "$t"): $p passed, $f failed"
    [ "$f" -eq 0 ] || printf '%s\n' "$out" | tail -n 40
    passed=$((passed + p))
    failed=$((failed + f))
done

log=$(mktemp)
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -n 1)
rm -f "$log"
p=$(count "$summary" passed)
f=$(( $(count "$summary" failed) + $(count "$summary" 'errors?') ))
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # pytest itself failed, or ran nothing
passed=$((passed + p))
failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
