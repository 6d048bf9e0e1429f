#!/usr/bin/env bash
# ocra-tool against RFC 6287 Appendix C vectors, and its exit code for a bad suite / argument.
# No root and no namespaces needed.
set -u
BIN=${ZTP_BIN:-$(dirname "$0")/../../build/bin}
TOOL=$BIN/ocra-tool
[ -x "$TOOL" ] || { echo "SKIP: $TOOL not built"; exit 77; }

fail() { echo "FAIL: $*"; exit 1; }
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
KEY32=$(hexof 12345678901234567890123456789012)
KEY64=$(hexof 1234567890123456789012345678901234567890123456789012345678901234)

# C.1 one-way, counter + PIN: C=1 -> 86775851.
out=$("$TOOL" --suite OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1 --key "$KEY32" --counter 1 --question 12345678 --pin 1234) ||
    fail "C-QN08-PSHA1 exited $?"
[ "$out" = 86775851 ] || fail "C-QN08-PSHA1 C=1: got '$out', want 86775851"

# C.2 mutual, client response (server's challenge then client's) with a PIN hash: 18806276.
out=$("$TOOL" --suite OCRA-1:HOTP-SHA512-8:QA08-PSHA1 --key "$KEY64" --question SRV11110CLI22220 \
      --pin-hash 7110eda4d09e062aa5e4a390b0a572ac0d2c0220) || fail "QA08-PSHA1 exited $?"
[ "$out" = 18806276 ] || fail "QA08-PSHA1 client: got '$out', want 18806276"

# C.3 signature with a timestamp: 77537423.
out=$("$TOOL" --suite OCRA-1:HOTP-SHA512-8:QA10-T1M --key "$KEY64" --question SIG1000000 --time 132d0b6) ||
    fail "QA10-T1M exited $?"
[ "$out" = 77537423 ] || fail "QA10-T1M: got '$out', want 77537423"

# A bad suite: exit 2, nothing on stdout, exactly one line on stderr.
check_bad() {
    local what=$1; shift
    local err rc
    err=$(mktemp)
    out=$("$TOOL" "$@" 2>"$err"); rc=$?
    lines=$(wc -l <"$err"); msg=$(cat "$err"); rm -f "$err"
    [ "$rc" = 2 ] || fail "$what: exit $rc, want 2"
    [ -z "$out" ] || fail "$what: printed '$out' on stdout"
    [ "$lines" = 1 ] || fail "$what: $lines lines on stderr: $msg"
    echo "ok: $what -> $msg"
}
check_bad "truncation out of range" --suite OCRA-1:HOTP-SHA1-11:QN08 --key "$KEY32" --question 12345678
check_bad "question length 65" --suite OCRA-1:HOTP-SHA1-6:QN65 --key "$KEY32" --question 12345678
check_bad "non-decimal QN challenge" --suite OCRA-1:HOTP-SHA1-6:QN08 --key "$KEY32" --question 1234567A
check_bad "missing --counter" --suite OCRA-1:HOTP-SHA1-6:C-QN08 --key "$KEY32" --question 12345678
check_bad "odd hex key" --suite OCRA-1:HOTP-SHA1-6:QN08 --key abc --question 12345678
echo "PASS: ocra-tool"
