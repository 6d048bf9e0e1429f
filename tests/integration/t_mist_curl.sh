#!/usr/bin/env bash
# mock-ep-terminator + mock-mist on loopback (no namespaces, no root), certificates from a throwaway
# CA made with the openssl CLI. With curl and ocra-tool: phone-home -> redirect (claimed, other
# environment, unclaimed, claimed after SIGHUP); challenge -> OCRA response -> session -> onboarding
# data (one-way and mutual); replay -> 401; wrong response x5 -> locked (423); HTTP errors (400, 404,
# 405, 413); an OpenSSL client verifies GnuTLS's chain; no secret in the logs; SIGTERM stops cleanly.
source "$(dirname "$0")/lib.sh"
zl_require_cmd curl openssl jq
for p in mock-ep-terminator mock-mist ocra-tool; do
    [ -x "$ZTP_BIN/$p" ] || zl_skip "$ZTP_BIN/$p not built"
done
T=$ZL_TMP
EPT_NAME=ep-terminator.mistsys.net
# A random loopback address per run, so parallel runs do not collide.
ADDR=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$(($$ % 250 + 2))
EPT_PORT=8443
MIST_PORT=9443
K32=3132333435363738393031323334353637383930313233343536373839303132
PSK=lab-psk-$RANDOM$RANDOM
SUITE=OCRA-1:HOTP-SHA256-8:QA08

# ---- PKI: a lab "Mist" root CA, a server cert per mock, and an unrelated CA ----
mkpki() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=ztp-lab Mist root CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$T/ca.key" -out "$T/ca.pem"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=other CA" \
        -keyout "$T/other.key" -out "$T/other.pem"
    local n
    for n in ept:$EPT_NAME mist:mist-prod.lab; do
        local f=${n%%:*} cn=${n#*:} san="DNS:${n#*:}"
        [ "$f" = mist ] && san="$san,DNS:mist-staging.lab"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
            -keyout "$T/$f.key" -out "$T/$f.csr"
        openssl x509 -req -in "$T/$f.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
            -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") -out "$T/$f.pem"
    done
} 
mkpki >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; zl_fail "openssl could not make the lab PKI"; }

claims() {   # claims EXTRA-CLAIM-JSON
    cat >"$T/claims.json" <<JSON
{"environment": "production", "retry-after": 7,
 "environments": {"production": "https://mist-prod.lab:$MIST_PORT", "staging": "https://mist-staging.lab:$MIST_PORT/"},
 "claims": {"SSR-0001": {"environment": "production", "org": "acme"},
            "SSR-0002": {"environment": "staging", "org": "beta"}$1}}
JSON
}
claims ""
ROOTCA=$(jq -Rs . <"$T/ca.pem")
cat >"$T/registry.json" <<JSON
{"max-failures": 5, "lockout-seconds": 30, "challenge-ttl": 30,
 "devices": {"SSR-0001": {"org": "acme", "site": "branch-1", "ocra-suite": "$SUITE", "ocra-key-hex": "$K32",
                          "onboarding": {"conductor": "198.18.5.10:930", "psk": "$PSK", "root-ca-pem": $ROOTCA}},
             "SSR-0002": {"org": "beta", "site": "b-2", "ocra-suite": "$SUITE", "ocra-key-hex": "$K32",
                          "onboarding": {"conductor": "198.18.6.10", "psk": "$PSK-2"}}}}
JSON

# ---- config checks ----
"$ZTP_BIN/mock-ep-terminator" --check --config "$T/claims.json" >/dev/null || zl_fail "claims file refused"
"$ZTP_BIN/mock-mist" --check --config "$T/registry.json" >/dev/null || zl_fail "registry refused"
printf '{"environment":"production","environments":{"production":"https://x"},"claim":{}}' >"$T/bad.json"
"$ZTP_BIN/mock-ep-terminator" --check --config "$T/bad.json" 2>"$T/bad.err" && zl_fail "unknown key accepted"
grep -q 'unknown key "claim"' "$T/bad.err" || zl_fail "unknown key error: $(cat "$T/bad.err")"
zl_ok "--check accepts the configs, refuses an unknown key ($(cat "$T/bad.err"))"

# ---- start both (host namespace, loopback), waiting for readiness ----
start() {   # start NAME CMD...
    local name=$1; shift
    local fifo="$T/$name.ready"
    mkfifo "$fifo"
    ZTP_READY_FD=9 "$@" 9>"$fifo" >>"$T/$name.log" 2>&1 &
    ZL_PIDS+=("$!")
    eval "ZL_PID_${name//-/_}=$!"
    local line=""
    read -r -t 10 line <"$fifo" || zl_fail "$name did not signal readiness within 10 s"
    [ -n "$line" ] || zl_fail "$name exited before it was ready"
}
start ept "$ZTP_BIN/mock-ep-terminator" --config "$T/claims.json" --listen "$ADDR:$EPT_PORT" \
    --cert "$T/ept.pem" --key "$T/ept.key" --host ept
start mist "$ZTP_BIN/mock-mist" --config "$T/registry.json" --listen "$ADDR:$MIST_PORT" \
    --cert "$T/mist.pem" --key "$T/mist.key" --host mist
zl_ok "both mocks ready on $ADDR"

CURL=(curl -sS --max-time 5 --cacert "$T/ca.pem" --resolve "$EPT_NAME:$EPT_PORT:$ADDR"
      --resolve "mist-prod.lab:$MIST_PORT:$ADDR" --resolve "mist-staging.lab:$MIST_PORT:$ADDR")
# req METHOD URL [BODY] [extra curl args...]: sets $code, $body, $hdrs
req() {
    local m=$1 url=$2 data=${3-}; shift 3 || shift $#
    local args=(-X "$m" -D "$T/hdrs" -o "$T/body" -w '%{http_code}')
    [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
    code=$("${CURL[@]}" "${args[@]}" "$@" "$url") || zl_fail "curl $m $url failed"
    body=$(cat "$T/body")
    hdrs=$(tr -d '\r' <"$T/hdrs")
}
expect() {   # expect CODE JQ-FILTER VALUE DESCRIPTION
    [ "$code" = "$1" ] || zl_fail "$4: HTTP $code, want $1 (body $body)"
    if [ -n "$2" ]; then
        local got; got=$(jq -r "$2" <<<"$body")
        [ "$got" = "$3" ] || zl_fail "$4: $2 = '$got', want '$3' (body $body)"
    fi
    zl_ok "$4"
}
EPT=https://$EPT_NAME:$EPT_PORT

# ---- phone home ----
req POST "$EPT/v1/phone-home" '{"device-id":"SSR-0001","model":"SSR120","serial":"S1"}'
expect 307 .redirect "https://mist-prod.lab:$MIST_PORT/v1/device/SSR-0001" "claimed device redirected to its org cloud"
grep -qi "^location: https://mist-prod.lab:$MIST_PORT/v1/device/SSR-0001$" <<<"$hdrs" || zl_fail "no Location header"
[ "$(jq -r .org <<<"$body")/$(jq -r .environment <<<"$body")" = acme/production ] || zl_fail "org/env: $body"
DEV=$(jq -r .redirect <<<"$body")
req POST "$EPT/v1/phone-home" '{"device-id":"SSR-0002"}'
expect 307 .redirect "https://mist-staging.lab:$MIST_PORT/v1/device/SSR-0002" "device claimed in staging sent there"
[ "$(jq -r .verdict <<<"$body")" = other-environment ] || zl_fail "verdict: $body"
req POST "$EPT/v1/phone-home" '{"device-id":"SSR-0009","model":"SSR120"}'
expect 404 .error unclaimed "unclaimed device refused"
[ "$(jq -r '.["retry-after"]' <<<"$body")" = 7 ] || zl_fail "retry-after: $body"
grep -qi '^retry-after: 7$' <<<"$hdrs" || zl_fail "no Retry-After header: $hdrs"
claims ', "SSR-0009": {"environment": "production", "org": "acme"}'
kill -HUP "$(zl_pid ept)"
zl_wait 5 "claims reload" grep -q 'event=config.reload result=ok' "$T/ept.log"
req POST "$EPT/v1/phone-home" '{"device-id":"SSR-0009"}'
expect 307 .org acme "device claimed while waiting is redirected after SIGHUP"

# ---- HTTP-level errors ----
req POST "$EPT/v1/phone-home" '{"device-id":'
expect 400 .error bad-json "truncated JSON -> 400 bad-json"
req POST "$EPT/v1/phone-home" '{"device-id":"bad id/x"}'
expect 400 .error bad-request "bad device id -> 400"
req GET "$EPT/v1/phone-home" ""
expect 405 .error method-not-allowed "GET /v1/phone-home -> 405"
grep -qi '^allow: POST$' <<<"$hdrs" || zl_fail "no Allow header: $hdrs"
req POST "$EPT/v2/nothing" '{}'
expect 404 .error not-found "unknown path -> 404"
head -c 20000 /dev/zero | tr '\0' a >"$T/big"
req POST "$EPT/v1/phone-home" "" --data-binary @"$T/big"
expect 413 .error body-too-large "20000-byte body -> 413 (rejected on its Content-Length)"
req POST "$EPT/v1/phone-home" "" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big"
expect 413 .error body-too-large "20000-byte chunked body -> 413 (counted while collected)"

# ---- OCRA challenge / response (one-way) ----
req POST "$DEV/challenge" ""
expect 200 .suite "$SUITE" "challenge issued with the registry's suite"
CH=$(jq -r .challenge <<<"$body"); CID=$(jq -r '.["challenge-id"]' <<<"$body")
[ "${#CH}" = 8 ] && [ "$(jq -r '.["expires-in"]' <<<"$body")" = 30 ] || zl_fail "challenge: $body"
RESP=$("$ZTP_BIN/ocra-tool" --suite "$SUITE" --key "$K32" --question "$CH") || zl_fail "ocra-tool failed"
req GET "$DEV/onboarding" ""
expect 401 .error unauthorized "onboarding without a session -> 401"
req POST "$DEV/response" "{\"challenge-id\":\"$CID\",\"response\":\"$RESP\"}"
expect 200 '.["server-response"]' null "correct OCRA response -> session"
SESSION=$(jq -r .session <<<"$body")
req GET "$DEV/onboarding" "" -H "Authorization: Bearer $SESSION"
expect 200 .psk "$PSK" "onboarding data over the session"
[ "$(jq -r .conductor <<<"$body")" = 198.18.5.10:930 ] || zl_fail "conductor: $body"
jq -j '.["root-ca-pem"]' <<<"$body" | cmp -s - "$T/ca.pem" || zl_fail "root-ca-pem differs"
zl_ok "conductor and root CA PEM served as registered"
req GET "https://mist-staging.lab:$MIST_PORT/v1/device/SSR-0002/onboarding" "" -H "Authorization: Bearer $SESSION"
expect 401 .error unauthorized "SSR-0001's session does not open SSR-0002's data"
req POST "$DEV/response" "{\"challenge-id\":\"$CID\",\"response\":\"$RESP\"}"
expect 401 .error replayed-challenge "replayed challenge -> 401 replayed-challenge"

# ---- mutual mode ----
req POST "$DEV/challenge" ""
CH=$(jq -r .challenge <<<"$body"); CID=$(jq -r '.["challenge-id"]' <<<"$body")
CC=CLI$((RANDOM % 90000 + 10000))
RESP=$("$ZTP_BIN/ocra-tool" --suite "$SUITE" --key "$K32" --question "$CH$CC")
WANT_SRV=$("$ZTP_BIN/ocra-tool" --suite "$SUITE" --key "$K32" --question "$CC$CH")
req POST "$DEV/response" "{\"challenge-id\":\"$CID\",\"response\":\"$RESP\",\"client-challenge\":\"$CC\"}"
expect 200 '.["server-response"]' "$WANT_SRV" "mutual: device verified, server response is OCRA(client|server)"
SESSION2=$(jq -r .session <<<"$body")

# ---- wrong responses lock the device ----
for i in 1 2 3 4 5; do
    req POST "$DEV/challenge" ""
    [ "$code" = 200 ] || zl_fail "challenge $i: HTTP $code $body"
    CID=$(jq -r '.["challenge-id"]' <<<"$body")
    req POST "$DEV/response" "{\"challenge-id\":\"$CID\",\"response\":\"00000000\"}"
    [ "$code" = 401 ] && [ "$(jq -r .error <<<"$body")" = bad-response ] || zl_fail "wrong response $i: $code $body"
done
zl_ok "5 wrong responses -> 401 bad-response each"
req POST "$DEV/challenge" ""
expect 423 .error locked "6th attempt: device locked (423)"
grep -qi '^retry-after: [0-9]' <<<"$hdrs" || zl_fail "no Retry-After on 423: $hdrs"
req GET "https://mist-prod.lab:$MIST_PORT/v1/device/SSR-0404/onboarding" ""
expect 404 .error unknown-device "unknown device -> 404"
grep -q 'event=device.locked device=SSR-0001' "$T/mist.log" || zl_fail "no device.locked audit line"

# ---- an expired challenge (registry reloaded with a 1 s challenge-ttl) ----
sed -i 's/"challenge-ttl": 30/"challenge-ttl": 1/' "$T/registry.json"
kill -HUP "$(zl_pid mist)"
zl_wait 5 "registry reload" grep -q 'event=config.reload result=ok' "$T/mist.log"
DEV2=https://mist-staging.lab:$MIST_PORT/v1/device/SSR-0002
req POST "$DEV2/challenge" "{}"
expect 200 '.["expires-in"]' 1 "challenge after SIGHUP has the new ttl"
CH=$(jq -r .challenge <<<"$body"); CID=$(jq -r '.["challenge-id"]' <<<"$body")
sleep 2.1
RESP=$("$ZTP_BIN/ocra-tool" --suite "$SUITE" --key "$K32" --question "$CH")
req POST "$DEV2/response" "{\"challenge-id\":\"$CID\",\"response\":\"$RESP\"}"
expect 401 .error expired-challenge "correct response to an expired challenge -> 401 expired-challenge"
req POST "$DEV/challenge" ""
expect 423 .error locked "SSR-0001 still locked after the reload"

# ---- OpenSSL client against GnuTLS ----
for n in "$EPT_NAME:$EPT_PORT" "mist-prod.lab:$MIST_PORT"; do
    out=$(openssl s_client -connect "$ADDR:${n#*:}" -servername "${n%%:*}" -verify_hostname "${n%%:*}" \
          -CAfile "$T/ca.pem" -verify_return_error </dev/null 2>&1) || zl_fail "s_client to ${n%%:*}: $out"
    grep -q 'Verify return code: 0 (ok)' <<<"$out" || zl_fail "s_client to ${n%%:*} did not verify: $out"
    zl_ok "openssl s_client verifies ${n%%:*}'s chain ($(grep -m1 -o 'New, [A-Za-z0-9.]*, Cipher is [A-Z0-9_-]*' <<<"$out"))"
done
openssl s_client -connect "$ADDR:$EPT_PORT" -servername "$EPT_NAME" -CAfile "$T/other.pem" -verify_return_error \
    </dev/null >"$T/sc.out" 2>&1 && zl_fail "s_client accepted a chain from another CA"
zl_ok "s_client with another CA refuses the chain"

# ---- audit log: device events, never a secret ----
for ev in device.challenge 'device.verify.*result=ok' 'device.verify.*reason=bad-response' \
          'device.verify.*reason=replayed-challenge' 'device.onboarding.*result=served' 'mode=mutual'; do
    grep -q "$ev" "$T/mist.log" || zl_fail "no audit line for $ev"
done
for secret in "$K32" "$PSK" "$SESSION" "$SESSION2" "$RESP" "$WANT_SRV" "PRIVATE KEY"; do
    if grep -qF -- "$secret" "$T/mist.log" "$T/ept.log"; then zl_fail "a secret (${secret:0:6}...) is in a log"; fi
done
zl_ok "audit lines present; no key, psk, session, OCRA response or private key in the logs"

# ---- clean stop ----
for n in ept mist; do
    pid=$(zl_pid "$n"); kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?
    [ "$rc" = 0 ] || zl_fail "$n exited $rc on SIGTERM"
    grep -q 'event=daemon.stop' "$T/$n.log" || zl_fail "$n logged no daemon.stop"
done
zl_ok "both stop cleanly on SIGTERM"
