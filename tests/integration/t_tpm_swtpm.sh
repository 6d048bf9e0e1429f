#!/usr/bin/env bash
# tpm_swtpm: the router's TPM layer against a real swtpm, checked with tpm2-tools and OpenSSL (no
# namespace needed). ssr-tpm provisions the OCRA key through the swtpm TCTI; then `tpm2_hmac -c
# 0x81010001` gives the same bytes as OpenSSL's HMAC for short, 1024-byte and long messages, and so
# does ssr-tpm's own TPM2_HMAC; the key is a persisted keyed-hash object whose secret cannot be
# read back; a sealed secret round-trips (file 0600, plaintext absent); after a swtpm restart on the
# same state the key and the sealed file still work.
. "$(dirname "$0")/lib.sh"
zl_require_cmd swtpm tpm2_hmac tpm2_readpublic openssl cmp od
[ -x "$ZTP_BIN/ssr-tpm" ] || zl_fail "build ssr-tpm first ($ZTP_BIN)"

SOCK=$ZL_TMP/tpm.sock
mkdir -p "$ZL_TMP/state"
start_swtpm() {
    rm -f "$SOCK" "$SOCK.ctrl"
    swtpm socket --tpm2 --tpmstate dir="$ZL_TMP/state" --server type=unixio,path="$SOCK" \
        --ctrl type=unixio,path="$SOCK.ctrl" --flags not-need-init,startup-clear >>"$ZL_TMP/swtpm.log" 2>&1 &
    SWTPM_PID=$!
    ZL_PIDS+=("$SWTPM_PID")
    zl_wait 10 "swtpm socket $SOCK" test -S "$SOCK"
}
stop_swtpm() {
    kill -TERM "$SWTPM_PID" 2>/dev/null || true
    wait "$SWTPM_PID" 2>/dev/null || true
}
TCTI="swtpm:path=$SOCK"
export TPM2TOOLS_TCTI=$TCTI
tpm() { "$ZTP_BIN/ssr-tpm" --tcti "$TCTI" "$@" 2>>"$ZL_TMP/ssr-tpm.log"; }

start_swtpm

# "manufacturing": a 32-byte OCRA secret, handed over in a file (not in argv)
KEY=3132333435363738393031323334353637383930313233343536373839303132
printf '%s\n' "$KEY" >"$ZL_TMP/key.hex"
out=$(tpm provision --hash sha256 --key-hex-file "$ZL_TMP/key.hex") || zl_fail "ssr-tpm provision failed"
[ "$out" = "ocra-key 0x81010001 sha256" ] || zl_fail "provision said: $out"
zl_ok "OCRA key provisioned through the swtpm TCTI at 0x81010001"

pub=$(tpm2_readpublic -c 0x81010001 2>>"$ZL_TMP/tpm2.log") || zl_fail "tpm2_readpublic 0x81010001 failed"
flat=$(tr -s ' \n' ' ' <<<"$pub")
grep -q 'type: value: keyedhash' <<<"$flat" || zl_fail "0x81010001 is not a keyed-hash object: $pub"
attrs=$(sed -n 's/.*attributes: value: \([a-z|]*\).*/\1/p' <<<"$flat")
for attr in fixedtpm fixedparent userwithauth sign noda; do
    grep -qw "$attr" <<<"${attrs//|/ }" || zl_fail "attribute $attr missing: $attrs"
done
for attr in decrypt restricted sensitivedataorigin; do
    grep -qw "$attr" <<<"${attrs//|/ }" && zl_fail "unexpected attribute $attr: $attrs"
done
grep -q 'algorithm: value: hmac raw: 0x5 hash-alg: value: sha256' <<<"$flat" || zl_fail "not an HMAC-SHA256 scheme: $pub"
grep -q "$KEY" <<<"$pub" && zl_fail "the public area carries the key"
zl_ok "persisted object is a keyed-hash HMAC-SHA256 key (fixedtpm, fixedparent, userwithauth, sign, noda)"

# messages: OCRA-sized, exactly one TPM2_HMAC buffer, and longer (a sequence)
printf 'OCRA-1:HOTP-SHA256-8:QN08\0\0\0\0\0\0\0\x12\x34\x56\x78' >"$ZL_TMP/m_short"
head -c 1024 /dev/urandom >"$ZL_TMP/m_1024"
head -c 3000 /dev/urandom >"$ZL_TMP/m_3000"
check_hmac() {
    local m=$1 what=$2
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary "$ZL_TMP/$m" >"$ZL_TMP/$m.openssl"
    rm -f "$ZL_TMP/$m.tpm2"
    tpm2_hmac -c 0x81010001 -g sha256 -o "$ZL_TMP/$m.tpm2" "$ZL_TMP/$m" 2>>"$ZL_TMP/tpm2.log" ||
        zl_fail "tpm2_hmac on $m failed"
    cmp -s "$ZL_TMP/$m.openssl" "$ZL_TMP/$m.tpm2" ||
        zl_fail "$what: tpm2_hmac $(od -An -tx1 "$ZL_TMP/$m.tpm2" | tr -d ' \n') != openssl $(od -An -tx1 "$ZL_TMP/$m.openssl" | tr -d ' \n')"
    local ours want
    ours=$(tpm hmac --hash sha256 --msg-file "$ZL_TMP/$m") || zl_fail "ssr-tpm hmac on $m failed"
    want=$(od -An -tx1 "$ZL_TMP/$m.openssl" | tr -d ' \n')
    [ "$ours" = "$want" ] || zl_fail "$what: ssr-tpm hmac $ours != openssl $want"
}
check_hmac m_short "OCRA-sized message"
check_hmac m_1024 "1024-byte message"
check_hmac m_3000 "3000-byte message"
zl_ok "tpm2_hmac -c 0x81010001 and ssr-tpm hmac equal OpenSSL HMAC-SHA256 (36, 1024, 3000 bytes)"

tpm hmac --hash sha1 --msg-file "$ZL_TMP/m_short" >/dev/null && zl_fail "a SHA-1 HMAC with a SHA-256 key was accepted"
zl_ok "another hash than the key's scheme is refused"

printf 'conductor-psk-0123456789' | tpm seal "$ZL_TMP/psk.sealed" || zl_fail "ssr-tpm seal failed"
[ "$(stat -c %a "$ZL_TMP/psk.sealed")" = 600 ] || zl_fail "sealed file mode is $(stat -c %a "$ZL_TMP/psk.sealed")"
grep -q 'conductor-psk' "$ZL_TMP/psk.sealed" && zl_fail "the sealed file holds the plaintext"
[ "$(tpm unseal "$ZL_TMP/psk.sealed")" = conductor-psk-0123456789 ] || zl_fail "unseal did not give the secret back"
zl_ok "sealed secret round trip through swtpm (mode 0600, no plaintext in the file)"

# power cycle: a new swtpm process on the same state
stop_swtpm
start_swtpm
[ "$(tpm status)" = "ocra-key 0x81010001 sha256" ] || zl_fail "key gone after swtpm restart: $(tpm status)"
check_hmac m_short "after restart"
[ "$(tpm unseal "$ZL_TMP/psk.sealed")" = conductor-psk-0123456789 ] || zl_fail "unseal after restart failed"
zl_ok "after a swtpm restart the persisted key and the sealed file still work"
