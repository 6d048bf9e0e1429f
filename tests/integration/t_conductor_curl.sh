#!/usr/bin/env bash
# mock-conductor, staging and production, in one namespace (loopback), with curl and the openssl CLI
# as the router: a throwaway root CA (server certificates) and conductor CA (router certificates);
# the whole staging flow (challenge, auth with a wrong MAC -> 401 and a replayed challenge -> 401,
# the tasks in order with their acks, a CSR for another router -> 422, the right CSR -> a certificate
# that `openssl verify` accepts and whose key is the CSR's, migrate -> migrated); lockout; the faults
# reject-secret, wrong-ca and stall-ms through SIGHUP; a restart keeps the inventory (--state) and
# loses the sessions; production: no client certificate or one of another CA -> handshake refused,
# the issued certificate + the production psk -> connected, a certificate of another node -> 403;
# no secret in the logs or the state files; SIGTERM stops cleanly.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_http.sh"
zl_require_root
zl_require_cmd curl openssl jq xxd
[ -x "$ZTP_BIN/mock-conductor" ] || zl_skip "$ZTP_BIN/mock-conductor not built"
T=$ZL_TMP
zl_ns c
STG=conductor-staging.lab
PRD=conductor-prod.lab
SP=9930
PP=9931
PSK_R1=stg-R1-$RANDOM$RANDOM
PSK_R2=stg-R2-$RANDOM$RANDOM
PSK_PROD=prod-$RANDOM$RANDOM$RANDOM

# ---- PKI: the root CA Mist hands the router (signs the conductors' server certificates), the
# conductor CA (signs routers' certificates), and an unrelated CA ----
mkpki() {
    local ca
    for ca in root:"ztp-lab conductor root CA" ca:"ztp-lab conductor CA" other:"other CA"; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=${ca#*:}" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
            -keyout "$T/${ca%%:*}.key" -out "$T/${ca%%:*}.pem"
    done
    local n
    for n in stg:$STG prd:$PRD; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${n#*:}" \
            -keyout "$T/${n%%:*}.key" -out "$T/${n%%:*}.csr"
        openssl x509 -req -in "$T/${n%%:*}.csr" -CA "$T/root.pem" -CAkey "$T/root.key" -CAcreateserial -days 2 \
            -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "${n#*:}") -out "$T/${n%%:*}.pem"
    done
    # a router certificate made by another CA, for the production handshake
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=ztp-lab router/OU=R1/CN=R1.r1a" \
        -keyout "$T/rogue.key" -out "$T/rogue.csr"
    openssl x509 -req -in "$T/rogue.csr" -CA "$T/other.pem" -CAkey "$T/other.key" -CAcreateserial -days 2 \
        -out "$T/rogue.pem"
}
mkpki >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; zl_fail "openssl could not make the lab PKI"; }

staging_config() {   # staging_config FAULTS-JSON
    cat >"$T/staging.json" <<JSON
{"psk-ttl": 30, "session-ttl": 300, "max-failures": 5, "lockout-seconds": 60,
 "ca-cert": "$T/ca.pem", "ca-key": "$T/ca.key", "cert-days": 30,
 "routers": {"R1": {"psk": "$PSK_R1", "nodes": {"r1a": {"asset-id": "SSR-0001"}, "r1b": {}}},
             "R2": {"psk": "$PSK_R2", "nodes": {"r2a": {}}}},
 "production": {"conductor": ["198.18.6.10:930", "198.18.6.11:930"], "psk": "$PSK_PROD",
                "root-ca-pem": $(jq -Rs . <"$T/root.pem")},
 "svr": {"hub": "198.18.7.10:1280", "hub-name": "hub1"},
 "faults": $1}
JSON
}
staging_config '{"reject-secret": false, "wrong-ca": false, "stall-ms": 0}'
cat >"$T/production.json" <<JSON
{"psk-ttl": 30, "session-ttl": 300, "max-failures": 5, "lockout-seconds": 60,
 "routers": {"R1": {"psk": "$PSK_PROD", "nodes": {"r1a": {"asset-id": "SSR-0001"}, "r1b": {}}}}}
JSON

# ---- config checks ----
MC=$ZTP_BIN/mock-conductor
"$MC" --role staging --check --config "$T/staging.json" >"$T/check.out" || zl_fail "staging config refused"
grep -q '^ok: role=staging routers=2 nodes=3$' "$T/check.out" || zl_fail "--check said: $(cat "$T/check.out")"
"$MC" --role production --check --config "$T/production.json" >/dev/null || zl_fail "production config refused"
bad() {   # bad ROLE EXPECTED-ERROR-SUBSTRING JSON
    printf '%s' "$3" >"$T/bad.json"
    "$MC" --role "$1" --check --config "$T/bad.json" 2>"$T/bad.err" >/dev/null && zl_fail "accepted: $3"
    grep -qF -- "$2" "$T/bad.err" || zl_fail "error for $3: $(cat "$T/bad.err"), want '$2'"
}
bad production 'routers.R1.nodes.r1a: unknown key "asset"' '{"routers":{"R1":{"psk":"x","nodes":{"r1a":{"asset":"1"}}}}}'
bad production 'line 2 column' $'{"routers":\n {"R1": }}'
bad production '"ca-cert" is for --role staging only' '{"ca-cert":"x","routers":{"R1":{"psk":"x","nodes":{"a":{}}}}}'
bad staging 'config: "ca-cert" is missing' '{"routers":{"R1":{"psk":"x","nodes":{"a":{}}}}}'
bad production 'routers.R1: "psk" is missing' '{"routers":{"R1":{"nodes":{"a":{}}}}}'
zl_ok "--check accepts both configs, names the member or line of each error"

# ---- start both, in the namespace (loopback), waiting for readiness ----
zl_start staging c "$MC" --role staging --config "$T/staging.json" --listen 127.0.0.1:$SP \
    --cert "$T/stg.pem" --key "$T/stg.key" --state "$T/staging-state.json" --host staging
zl_start production c "$MC" --role production --config "$T/production.json" --listen 127.0.0.1:$PP \
    --cert "$T/prd.pem" --key "$T/prd.key" --client-ca "$T/ca.pem" --state "$T/production-state.json" --host production
zl_ok "staging and production conductors ready"

CURL=(curl -sS --max-time 10 --cacert "$T/root.pem" --resolve "$STG:$SP:127.0.0.1" --resolve "$PRD:$PP:127.0.0.1")
S=https://$STG:$SP
P=https://$PRD:$PP
CURL_IN=(zl_in c)
# mac ROLE PSK NONCE ROUTER NODE: the psk.h MAC, computed by openssl, not by our code
mac() {
    printf 'ztp-psk-v1|%s|%s|%s|%s' "$1" "$3" "$4" "$5" |
        openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(printf '%s' "$2" | xxd -p -c 256)" | awk '{print $NF}'
}
# login BASE ROUTER NODE PSK [curl args]: challenge + auth; sets $SESSION, $NONCE, $body
login() {
    local base=$1 r=$2 n=$3 psk=$4; shift 4
    req POST "$base/v1/router/challenge" "{\"router\":\"$r\",\"node\":\"$n\"}" "$@"
    [ "$code" = 200 ] || zl_fail "challenge $r/$n: HTTP $code $body"
    NONCE=$(jq -r .nonce <<<"$body"); local cid; cid=$(jq -r '.["challenge-id"]' <<<"$body")
    req POST "$base/v1/router/auth" \
        "{\"challenge-id\":\"$cid\",\"router\":\"$r\",\"node\":\"$n\",\"mac\":\"$(mac client "$psk" "$NONCE" "$r" "$n")\"}" "$@"
    SESSION=$(jq -r .session <<<"$body")
}
inv() {   # inv BASE [curl args]: GET /v1/inventory into $body
    local base=$1; shift
    req GET "$base/v1/inventory" "" "$@"
    [ "$code" = 200 ] || zl_fail "inventory: HTTP $code $body"
}
field() { jq -r "$1" <<<"$body"; }
BEARER=()
task() { req GET "$S/v1/router/task" "" "${BEARER[@]}"; }
ack() { req POST "$S/v1/router/ack" "{\"task\":\"$1\",\"result\":\"$2\"}" "${BEARER[@]}"; }

# ---- staging: inventory, challenge, auth ----
inv "$S"
[ "$(field .routers.R1.nodes.r1a.state)/$(field '.routers.R1.nodes.r1a["asset-id"]')" = pending/SSR-0001 ] ||
    zl_fail "initial inventory: $body"
jq -e '.routers.R1.nodes.r1a.state == "pending"' "$T/staging-state.json" >/dev/null || zl_fail "no state file at start"
zl_ok "inventory: every configured node pending, state file written at start"
req POST "$S/v1/router/challenge" '{"router":"R9","node":"r9a"}'
expect 404 .error unknown-router "challenge for an unknown router -> 404"
req POST "$S/v1/router/challenge" '{"router":"R1","node":"r1a"}'
expect 200 '.["expires-in"]' 30 "challenge issued"
NONCE=$(jq -r .nonce <<<"$body"); CID=$(jq -r '.["challenge-id"]' <<<"$body")
[[ $NONCE =~ ^[0-9a-f]{64}$ && $CID =~ ^[0-9a-f]{32}$ ]] || zl_fail "nonce/id format: $body"
WRONG_MAC=$(mac client "not-the-secret" "$NONCE" R1 r1a)
req POST "$S/v1/router/auth" "{\"challenge-id\":\"$CID\",\"router\":\"R1\",\"node\":\"r1a\",\"mac\":\"$WRONG_MAC\"}"
expect 401 .error bad-secret "MAC of a wrong secret -> 401 bad-secret"
GOOD_MAC=$(mac client "$PSK_R1" "$NONCE" R1 r1a)
req POST "$S/v1/router/auth" "{\"challenge-id\":\"$CID\",\"router\":\"R1\",\"node\":\"r1a\",\"mac\":\"$GOOD_MAC\"}"
expect 401 .error replayed-challenge "the right MAC on a used challenge -> 401 replayed-challenge"
login "$S" R1 r1a "$PSK_R1"
expect 200 .role staging "right MAC on a fresh challenge -> session (role staging)"
[ "$(jq -r '.["server-mac"]' <<<"$body")" = "$(mac server "$PSK_R1" "$NONCE" R1 r1a)" ] ||
    zl_fail "server-mac is not HMAC(psk, server|nonce|R1|r1a): $body"
[[ $SESSION =~ ^[0-9a-f]{64}$ ]] || zl_fail "session: $body"
SESSIONS=("$SESSION")
zl_ok "server-mac proves the conductor knows the psk"
inv "$S"
[ "$(field .routers.R1.nodes.r1a.state)" = onboarding ] || zl_fail "after auth: $body"
zl_ok "inventory: R1/r1a onboarding"

# ---- tasks in order ----
task
expect 401 .error unauthorized "task without a session -> 401"
BEARER=(-H "Authorization: Bearer $SESSION")
task
expect 200 .task production "task 1: production"
[ "$(jq -c .conductor <<<"$body")/$(jq -r .psk <<<"$body")" = "[\"198.18.6.10:930\",\"198.18.6.11:930\"]/$PSK_PROD" ] ||
    zl_fail "production task: $body"
jq -j '.["root-ca-pem"]' <<<"$body" | cmp -s - "$T/root.pem" || zl_fail "root-ca-pem differs"
zl_ok "production task carries both addresses, the production psk and root CA"
req POST "$S/v1/router/csr" '{"csr-pem":"x"}' "${BEARER[@]}"
expect 409 .error unexpected-csr "a CSR before generate-key -> 409"
ack generate-key ok
expect 409 .error unexpected-task "acking a task not given yet -> 409"
ack production ok
expect 200 .next generate-key "ack production -> next generate-key"
ack production ok
expect 200 .next generate-key "a repeated ack (lost answer) changes nothing"
task
expect 200 .identity R1.r1a "task 2: generate-key for identity R1.r1a"
[ "$(jq -r '.["key-type"]' <<<"$body")" = ec-p256 ] || zl_fail "key-type: $body"
ack generate-key ok
expect 409 .error no-certificate "generate-key acked before any CSR -> 409"

# ---- CSR ----
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=ztp-lab router/OU=R2/CN=R2.r2a" \
    -addext subjectAltName=URI:ssr://R2/r2a -keyout "$T/r2.key" -out "$T/r2.csr" 2>>"$T/pki.log"
req POST "$S/v1/router/csr" "{\"csr-pem\":$(jq -Rs . <"$T/r2.csr")}" "${BEARER[@]}"
expect 422 .detail "csr: names router R2 node r2a, not R1/r1a" "a CSR naming another router -> 422 csr-rejected"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=ztp-lab router/OU=R1/CN=R1.r1a" \
    -addext subjectAltName=URI:ssr://R1/r1a -keyout "$T/router.key" -out "$T/router.csr" 2>>"$T/pki.log"
req POST "$S/v1/router/csr" "{\"csr-pem\":$(jq -Rs . <"$T/router.csr")}" "${BEARER[@]}"
expect 200 .error null "the router's CSR -> 200 certificate"
jq -j '.["certificate-pem"]' <<<"$body" >"$T/router.pem"
jq -j '.["ca-pem"]' <<<"$body" | cmp -s - "$T/ca.pem" || zl_fail "ca-pem is not the conductor CA"
SERIAL=$(jq -r .serial <<<"$body")
out=$(openssl verify -CAfile "$T/ca.pem" "$T/router.pem" 2>&1) || zl_fail "openssl verify: $out"
zl_ok "openssl verify -CAfile conductor-CA accepts the issued certificate ($out)"
cmp -s <(openssl x509 -in "$T/router.pem" -noout -pubkey) <(openssl req -in "$T/router.csr" -noout -pubkey) ||
    zl_fail "the certificate's public key is not the CSR's"
zl_ok "the certificate's public key is the CSR's"
[ "$(openssl x509 -in "$T/router.pem" -noout -serial)" = "serial=$SERIAL" ] || zl_fail "serial differs"
openssl x509 -in "$T/router.pem" -noout -text >"$T/router.txt"
for want in "Subject: O = ztp-lab router, OU = R1, CN = R1.r1a" "URI:ssr://R1/r1a" "CA:FALSE" \
            "Digital Signature" "TLS Web Client Authentication, TLS Web Server Authentication"; do
    grep -qF "$want" "$T/router.txt" || zl_fail "certificate lacks '$want'"
done
zl_ok "certificate: serial $SERIAL, subject and SAN name R1.r1a, CA:FALSE, clientAuth+serverAuth"
inv "$S"
[ "$(field .routers.R1.nodes.r1a.state)/$(field .routers.R1.nodes.r1a.serial)" = "certified/$SERIAL" ] ||
    zl_fail "after CSR: $body"
zl_ok "inventory: R1/r1a certified with the serial"
ack generate-key ok
expect 200 .next svr-config "ack generate-key -> next svr-config"
task
expect 200 .svr.hub 198.18.7.10:1280 "task 3: svr-config"
[ "$(jq -c .svr <<<"$body")" = '{"hub":"198.18.7.10:1280","hub-name":"hub1","router":"R1","node":"r1a","identity":"R1.r1a"}' ] ||
    zl_fail "svr task: $body"
ack svr-config failed
expect 200 .next svr-config "svr-config failed -> given again"
ack svr-config ok
expect 200 .next migrate "ack svr-config -> next migrate"
task
expect 200 '.conductor | join(",")' "198.18.6.10:930,198.18.6.11:930" "task 4: migrate to production"
ack migrate ok
expect 200 .next none "ack migrate -> none"
task
expect 200 .task none "task 5: none"
inv "$S"
[ "$(field .routers.R1.nodes.r1a.state)" = migrated ] || zl_fail "after migrate: $body"
zl_wait 5 "state file says migrated" jq -e '.routers.R1.nodes.r1a.state == "migrated"' "$T/staging-state.json"
zl_ok "inventory and state file: R1/r1a migrated"

# ---- lockout (R1/r1b) ----
for i in 1 2 3 4 5; do
    req POST "$S/v1/router/challenge" '{"router":"R1","node":"r1b"}'
    CID=$(jq -r '.["challenge-id"]' <<<"$body")
    req POST "$S/v1/router/auth" "{\"challenge-id\":\"$CID\",\"router\":\"R1\",\"node\":\"r1b\",\"mac\":\"00\"}"
    [ "$code" = 401 ] || zl_fail "wrong MAC $i: HTTP $code $body"
done
req POST "$S/v1/router/challenge" '{"router":"R1","node":"r1b"}'
expect 423 .error locked "5 wrong MACs lock the node: 423"
grep -qi '^retry-after: [0-9]' <<<"$hdrs" || zl_fail "no Retry-After: $hdrs"
grep -q 'event=router.locked router=R1 node=r1b' "$T/staging.log" || zl_fail "no router.locked line"

# ---- faults through SIGHUP ----
fault() {   # fault FAULTS-JSON: rewrite the staging config and reload it
    staging_config "$1"
    local n; n=$(grep -c 'event=config.reload result=ok' "$T/staging.log" || true)
    kill -HUP "$(zl_pid staging)"
    zl_wait 5 "config reload" reloads_above "$n"
}
reloads_above() { [ "$(grep -c 'event=config.reload result=ok' "$T/staging.log")" -gt "$1" ]; }
fault '{"reject-secret": true}'
login "$S" R2 r2a "$PSK_R2"
expect 401 .error bad-secret "reject-secret: the right MAC -> 401 bad-secret"
fault '{"wrong-ca": true}'
login "$S" R2 r2a "$PSK_R2"
expect 200 .role staging "fault off again: R2/r2a authenticates"
SESSIONS+=("$SESSION")
BEARER=(-H "Authorization: Bearer $SESSION")
ack production ok
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=ztp-lab router/OU=R2/CN=R2.r2a" \
    -keyout "$T/r2w.key" -out "$T/r2w.csr" 2>>"$T/pki.log"
req POST "$S/v1/router/csr" "{\"csr-pem\":$(jq -Rs . <"$T/r2w.csr")}" "${BEARER[@]}"
expect 200 .error null "wrong-ca: the CSR is still signed"
jq -j '.["certificate-pem"]' <<<"$body" >"$T/r2w.pem"
openssl verify -CAfile "$T/ca.pem" "$T/r2w.pem" >"$T/verify.out" 2>&1 && zl_fail "wrong-ca certificate verified"
zl_ok "wrong-ca: openssl verify against the conductor CA fails ($(grep -m1 -o 'error [0-9]*.*' "$T/verify.out"))"
fault '{"stall-ms": 1500}'
t0=$(date +%s%N); req GET "$S/v1/inventory" ""; t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$code" = 200 ] && [ "$ms" -ge 1400 ] || zl_fail "stall-ms 1500: answered in $ms ms (HTTP $code)"
zl_ok "stall-ms 1500: the answer took $ms ms"
fault '{}'

# ---- restart: the inventory survives, the sessions do not ----
zl_stop staging
grep -q 'event=daemon.stop' "$T/staging.log" || zl_fail "staging logged no daemon.stop"
zl_start staging2 c "$MC" --role staging --config "$T/staging.json" --listen 127.0.0.1:$SP \
    --cert "$T/stg.pem" --key "$T/stg.key" --state "$T/staging-state.json" --host staging
grep -q 'event=inventory.restored .* nodes=3 dropped=0' "$T/staging2.log" || zl_fail "no inventory.restored line"
inv "$S"
[ "$(field '[.routers.R1.nodes.r1a.state, .routers.R2.nodes.r2a.state, .routers.R1.nodes.r1a.serial] | join(",")')" = \
  "migrated,certified,$SERIAL" ] || zl_fail "inventory after restart: $body"
task
expect 401 .error unauthorized "after a restart the old session is gone -> 401"
login "$S" R2 r2a "$PSK_R2"
BEARER=(-H "Authorization: Bearer $SESSION")
task
expect 200 .task generate-key "after a restart R2/r2a resumes at its task (generate-key)"
SESSIONS+=("$SESSION")

# ---- production: mutual TLS ----
set +e
zl_in c "${CURL[@]}" -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"router":"R1","node":"r1a"}' \
    "$P/v1/router/challenge" 2>"$T/nocert.err"
rc=$?
zl_in c "${CURL[@]}" -o /dev/null --cert "$T/rogue.pem" --key "$T/rogue.key" "$P/v1/inventory" 2>"$T/rogue.err"
rc2=$?
set -e
[ "$rc" -ne 0 ] || zl_fail "production answered a client without a certificate"
[ "$rc2" -ne 0 ] || zl_fail "production answered a certificate of another CA"
zl_ok "production: no client certificate -> curl exit $rc ($(head -c 80 "$T/nocert.err")); another CA's -> exit $rc2"
CERT=(--cert "$T/router.pem" --key "$T/router.key")
inv "$P" "${CERT[@]}"
[ "$(field .routers.R1.nodes.r1a.state)" = pending ] || zl_fail "production inventory: $body"
req POST "$P/v1/router/challenge" '{"router":"R1","node":"r1b"}' "${CERT[@]}"
expect 403 .error certificate-mismatch "R1.r1a's certificate cannot speak for R1/r1b -> 403"
login "$P" R1 r1a "$PSK_R1" "${CERT[@]}"
expect 401 .error bad-secret "production with the staging psk -> 401"
login "$P" R1 r1a "$PSK_PROD" "${CERT[@]}"
expect 200 .role production "production: issued certificate + production psk -> session"
SESSIONS+=("$SESSION")
[ "$(jq -r '.["server-mac"]' <<<"$body")" = "$(mac server "$PSK_PROD" "$NONCE" R1 r1a)" ] || zl_fail "production server-mac"
req GET "$P/v1/router/task" "" "${CERT[@]}" -H "Authorization: Bearer $SESSION"
expect 200 .task none "production task: none"
req POST "$P/v1/router/ack" '{"task":"heartbeat","result":"ok"}' "${CERT[@]}" -H "Authorization: Bearer $SESSION"
expect 200 .next none "heartbeat acked"
req POST "$P/v1/router/csr" '{}' "${CERT[@]}" -H "Authorization: Bearer $SESSION"
expect 404 .error not-found "production signs nothing: no /v1/router/csr"
inv "$P" "${CERT[@]}"
[ "$(field .routers.R1.nodes.r1a.state)" = connected ] || zl_fail "production inventory: $body"
jq -e '.routers.R1.nodes.r1a.state == "connected" and .role == "production"' "$T/production-state.json" >/dev/null ||
    zl_fail "production state file: $(cat "$T/production-state.json")"
zl_ok "production inventory and state file: R1/r1a connected"

# ---- events logged, no secret anywhere ----
for ev in 'router.challenge.*result=issued' 'router.auth.*result=ok' 'router.auth.*reason=bad-secret' \
          'router.auth.*reason=replayed-challenge' 'router.task.*task=migrate' 'router.csr.*result=signed' \
          'router.csr.*result=rejected' 'router.ack.*task=migrate' 'router.state.*from=certified to=migrated' \
          'fault=reject-secret' 'ca=wrong-ca' 'http.request'; do
    grep -q "$ev" "$T/staging.log" || zl_fail "no log line for $ev"
done
grep -q 'router.state router=R1 node=r1a from=pending to=connected' "$T/production.log" || zl_fail "production state line"
for secret in "$PSK_R1" "$PSK_R2" "$PSK_PROD" "${SESSIONS[@]}" "$GOOD_MAC" "$WRONG_MAC" "PRIVATE KEY"; do
    if grep -qF -- "$secret" "$T"/staging*.log "$T/production.log" "$T"/*-state.json; then
        zl_fail "a secret (${secret:0:8}...) is in a log or state file"
    fi
done
zl_ok "events logged; no psk, MAC, session or key in the logs or state files"

# ---- clean stop ----
for n in staging2 production; do
    pid=$(zl_pid "$n"); kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?
    [ "$rc" = 0 ] || zl_fail "$n exited $rc on SIGTERM"
    grep -q 'event=daemon.stop' "$T/$n.log" || zl_fail "$n logged no daemon.stop"
done
zl_ok "both stop cleanly on SIGTERM"
