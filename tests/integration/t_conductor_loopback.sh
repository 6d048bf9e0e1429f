#!/usr/bin/env bash
# conductor-loopback: ssr-node's conductor client (router/conductor.h, steps 5-12) end to end, in one
# throwaway namespace on its loopback: mock-proxy 127.0.0.1:3128 (CONNECT to 443 and 930),
# mock-ep-terminator 127.0.0.2:443, mock-mist 127.0.0.3:443, the STAGING mock-conductor 127.0.0.5:930
# (TLS certificate from the conductor CA, which Mist hands out as the root CA and which signs the
# routers' certificates), the PRODUCTION mock-conductor 127.0.0.6:930 (TLS certificate from another CA,
# the "production root CA" the staging conductor hands out; mutual TLS against the conductor CA), and
# mock-hub 127.0.0.7:1280 (reached directly, not through the proxy).
#   r1  sZTP, then staging -> production data -> key -> CSR -> certificate -> svr-config + hub peering
#       -> migrate -> production-connected with heartbeats; `openssl verify` accepts certs/router.pem
#       against the conductor CA and its public key is the sealed key's; both inventories, the hub's
#       log, the proxy's access log agree; no secret in logs or JSON files
#   r2  the hub does not know it yet: stays svr-configured (svr-config acked failed, retried); stopped
#       and restarted there: resumes (same key, no second certificate), then peers once the hub knows
#       it (config + SIGHUP) and reaches production-connected
#   r3  Mist hands out a wrong staging psk: bad-secret (401), retried with backoff, nothing lost
#   r4  the staging conductor signs with a throwaway CA (fault wrong-ca): the certificate is refused,
#       the sealed key is kept; the fault is cleared (SIGHUP): certified with the SAME key, completes
#   r5  the node's CSR names another router (ssr-node --conductor-fault csr-other-router): the staging
#       conductor refuses it (422 csr-rejected), nothing is installed in certs/, the node retries
#   migrate conductor by hand: r1 to a dead address and the production conductor (an HA pair: tried in
#       order); refused on r3 (no certificate yet)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq openssl xxd
for p in mock-ep-terminator mock-mist mock-proxy mock-conductor mock-hub ssr-node ssr-cli ssr-tpm; do
    [ -x "$ZTP_BIN/$p" ] || zl_skip "$ZTP_BIN/$p not built"
done
T=$ZL_TMP
K32=3132333435363738393031323334353637383930313233343536373839303132
SUITE=OCRA-1:HOTP-SHA256-8:QA08
SPSK=staging-psk-$RANDOM$RANDOM
PPSK=production-psk-$RANDOM$RANDOM

# ---- PKI: Mist CA (cloud servers), conductor CA (staging TLS + router certificates + hub), production CA ----
ca() { # ca NAME CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$T/$1.key" -out "$T/$1.pem"
}
leaf() { # leaf NAME CA SAN
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" -keyout "$T/$1.key" -out "$T/$1.csr"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial -days 2 \
        -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$3") -out "$T/$1.pem"
}
mkpki() {
    ca mistca "ztp-lab Mist root CA"
    ca condca "ztp-lab conductor CA"
    ca prodca "ztp-lab production root CA"
    leaf ept mistca DNS:ep-terminator.mistsys.net
    leaf mist mistca DNS:mist-prod.lab
    leaf staging condca IP:127.0.0.5
    leaf production prodca IP:127.0.0.6
    leaf hub condca IP:127.0.0.7,DNS:hub1
}
mkpki >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; zl_fail "openssl could not make the lab PKI"; }

cat >"$T/claims.json" <<JSON
{"environment": "production", "retry-after": 2, "environments": {"production": "https://mist-prod.lab"},
 "claims": {"SSR-0001": {"environment": "production", "org": "acme"},
            "SSR-0002": {"environment": "production", "org": "acme"},
            "SSR-0003": {"environment": "production", "org": "acme"},
            "SSR-0004": {"environment": "production", "org": "acme"},
            "SSR-0005": {"environment": "production", "org": "acme"}}}
JSON
CONDCA=$(jq -Rs . <"$T/condca.pem")
PRODCA=$(jq -Rs . <"$T/prodca.pem")
dev() { # dev ID PSK
    printf '"%s": {"org": "acme", "site": "s-%s", "ocra-suite": "%s", "ocra-key-hex": "%s",
     "onboarding": {"conductor": "127.0.0.5:930", "psk": "%s", "root-ca-pem": %s}}' "$1" "$1" "$SUITE" "$K32" "$2" "$CONDCA"
}
cat >"$T/registry.json" <<JSON
{"max-failures": 100, "lockout-seconds": 30, "challenge-ttl": 30,
 "devices": {$(dev SSR-0001 "$SPSK"), $(dev SSR-0002 "$SPSK"), $(dev SSR-0003 "not-the-secret"), $(dev SSR-0004 "$SPSK"), $(dev SSR-0005 "$SPSK")}}
JSON
printf 'ssr:s3cret:x\n' >"$T/users"
cat >"$T/mock-proxy.json" <<JSON
{"listen": ["127.0.0.1:3128"], "access_log": "$T/access.log", "allow_src": ["127.0.0.0/8"],
 "ssl_ports": [443, 930], "safe_ports": [443, 930], "auth": {"users_file": "$T/users", "realm": "ztp-lab"}}
JSON
NODES='"nodes": {"r1": {"asset-id": "SSR-0001"}, "r2": {"asset-id": "SSR-0002"}, "r3": {"asset-id": "SSR-0003"},
                 "r4": {"asset-id": "SSR-0004"}, "r5": {"asset-id": "SSR-0005"}}'
staging_config() { # staging_config WRONG-CA(true|false)
    cat >"$T/staging.json" <<JSON
{"psk-ttl": 30, "session-ttl": 300, "max-failures": 50, "lockout-seconds": 10,
 "ca-cert": "$T/condca.pem", "ca-key": "$T/condca.key", "cert-days": 30,
 "routers": {"R1": {"psk": "$SPSK", $NODES}},
 "production": {"conductor": ["127.0.0.6:930"], "psk": "$PPSK", "root-ca-pem": $PRODCA},
 "svr": {"hub": "127.0.0.7:1280", "hub-name": "hub1"},
 "faults": {"wrong-ca": $1}}
JSON
}
staging_config false
cat >"$T/production.json" <<JSON
{"psk-ttl": 30, "session-ttl": 300, "max-failures": 50, "lockout-seconds": 10,
 "routers": {"R1": {"psk": "$PPSK", $NODES}}}
JSON
hub_config() { # hub_config PEER...
    local p peers=""
    for p in "$@"; do peers="$peers${peers:+, }\"R1.$p\": {\"router\": \"R1\", \"node\": \"$p\"}"; done
    printf '{"hub-name": "hub1", "peers": {%s}}\n' "$peers" >"$T/hub.json"
}
hub_config r1

zl_ns lab
zl_hosts lab "127.0.0.2 ep-terminator.mistsys.net" "127.0.0.3 mist-prod.lab"
zl_start ept lab "$ZTP_BIN/mock-ep-terminator" --config "$T/claims.json" --listen 127.0.0.2:443 \
    --cert "$T/ept.pem" --key "$T/ept.key" --host ept
zl_start mist lab "$ZTP_BIN/mock-mist" --config "$T/registry.json" --listen 127.0.0.3:443 \
    --cert "$T/mist.pem" --key "$T/mist.key" --host mist
zl_start proxy lab "$ZTP_BIN/mock-proxy" --config "$T/mock-proxy.json" --host proxy
zl_start staging lab "$ZTP_BIN/mock-conductor" --role staging --config "$T/staging.json" --listen 127.0.0.5:930 \
    --cert "$T/staging.pem" --key "$T/staging.key" --state "$T/staging-inv.json" --host staging
zl_start production lab "$ZTP_BIN/mock-conductor" --role production --config "$T/production.json" \
    --listen 127.0.0.6:930 --cert "$T/production.pem" --key "$T/production.key" --client-ca "$T/condca.pem" \
    --state "$T/production-inv.json" --host production
zl_start hub lab "$ZTP_BIN/mock-hub" --config "$T/hub.json" --listen 127.0.0.7:1280 --cert "$T/hub.pem" \
    --key "$T/hub.key" --client-ca "$T/condca.pem" --state "$T/hub-state.json" --host hub
zl_ok "proxy, Mist mocks, staging + production conductors, hub ready in $(zl_nsname lab)"

for d in 1 2 3 4 5; do
    mkdir -p "$T/tpm$d"
    printf '%s\n' "$K32" | "$ZTP_BIN/ssr-tpm" --tcti "libtpms:$T/tpm$d" provision --hash sha256 --key-hex-file - \
        >"$T/tpm$d.prov" 2>&1 || zl_fail "ssr-tpm provision: $(cat "$T/tpm$d.prov")"
done

CFG="management-proxy mode static
management-proxy proxy p1 address 127.0.0.1
management-proxy proxy p1 port 3128
management-proxy username ssr
management-proxy password s3cret:x"
SZ=(--no-apply --sztp --phone-home-url https://ep-terminator.mistsys.net/ --mist-ca "$T/mistca.pem")
cond() { zl_cli "$1" --json show conductor | jq -r ".conductor | $2"; }
wait_cond() { # wait_cond TIMEOUT NODE DESCRIPTION JQ-CONDITION
    zl_wait "$1" "$2: $3" bash -c "'$ZTP_BIN/ssr-cli' --ctl '$T/$2.sock' --json show conductor | jq -e '.conductor | $4'"
}
inv() { jq -r ".routers.R1.nodes.$2.$3" "$T/$1-inv.json"; }

zl_node r1 lab "$CFG" "${SZ[@]}" --device-id SSR-0001 --tpm "libtpms:$T/tpm1"
zl_node r2 lab "$CFG" "${SZ[@]}" --device-id SSR-0002 --tpm "libtpms:$T/tpm2"
zl_node r3 lab "$CFG" "${SZ[@]}" --device-id SSR-0003 --tpm "libtpms:$T/tpm3"

# ---- r1: the whole story ----
wait_cond 60 r1 "production-connected" '.state == "production-connected"'
zl_assert_eq "r1 conductor history" "$(cond r1 '[.history[].to] | join(",")')" \
    "staging-auth,staging-connected,production-received,key-created,certified,svr-configured,migrating,production-connected"
zl_assert_eq "r1 conductor steps" "$(cond r1 '[.history[].step] | join(",")')" "5,5,6,7,8,9,12,12"
zl_assert_eq "r1 role/conductor/migrated-by" "$(cond r1 '"\(.role) \(.conductor) \(."migrated-by")"')" \
    "production 127.0.0.6:930 conductor"
wait_cond 15 r1 "a heartbeat" '.heartbeats >= 1'
zl_wait 10 "r1 peered with the hub" bash -c "'$ZTP_BIN/ssr-cli' --ctl '$T/r1.sock' --json show conductor | jq -e '.conductor.hub.state == \"peered\"'"
S=$T/r1.state
openssl verify -CAfile "$T/condca.pem" "$S/certs/router.pem" >"$T/verify.out" 2>&1 || zl_fail "openssl verify: $(cat "$T/verify.out")"
zl_ok "openssl verify: $(cat "$T/verify.out")"
cmp -s "$S/certs/conductor-ca.pem" "$T/condca.pem" || zl_fail "certs/conductor-ca.pem is not the conductor CA"
cmp -s "$S/trust/production-ca.pem" "$T/prodca.pem" || zl_fail "trust/production-ca.pem is not the production CA"
openssl x509 -in "$S/certs/router.pem" -noout -subject -ext subjectAltName >"$T/r1.cert.txt"
grep -q 'CN *= *R1.r1' "$T/r1.cert.txt" && grep -q 'URI:ssr://R1/r1' "$T/r1.cert.txt" ||
    zl_fail "router certificate names: $(cat "$T/r1.cert.txt")"
zl_assert_eq "serial (show = staging inventory)" "$(cond r1 .serial)" "$(inv staging r1 serial)"
for f in secrets/conductor-psk.seal secrets/production-psk.seal secrets/router-key.seal; do
    zl_assert_eq "$f mode" "$(stat -c %a "$S/$f")" 600
done
zl_assert_eq "svr.json" "$(jq -r '"\(.hub) \(."hub-name") \(.identity)"' "$S/svr.json")" "127.0.0.7:1280 hub1 R1.r1"
zl_assert_eq "onboarding-state.json" "$(jq -r '"\(.onboarded) \(.conductor)"' "$S/onboarding-state.json")" "true 127.0.0.6:930"
zl_assert_eq "staging inventory r1" "$(inv staging r1 state)" migrated
zl_assert_eq "production inventory r1" "$(inv production r1 state)" connected
grep -q 'event=svr.peered .*peer=R1.r1' "$T/hub.log" || zl_fail "the hub did not log svr.peered for R1.r1"
grep -q 'CONNECT 127.0.0.5:930' "$T/access.log" || zl_fail "no CONNECT to the staging conductor in the proxy log"
grep -q 'CONNECT 127.0.0.6:930' "$T/access.log" || zl_fail "no CONNECT to the production conductor in the proxy log"
if grep -q '127.0.0.7' "$T/access.log"; then zl_fail "the hub peering went through the proxy"; fi
zl_cli r1 show onboarding >"$T/r1.onb"
grep -q 'conductor (steps 5-12): production-connected' "$T/r1.onb" || zl_fail "show onboarding lacks the conductor: $(cat "$T/r1.onb")"
zl_cli r1 show conductor >"$T/r1.show"
sed 's/^/    /' "$T/r1.show" >&2
zl_ok "r1: onboarded to production through the proxy, certificate verified, hub peered directly"

# ---- migrate conductor by hand: an HA pair whose first address is dead ----
zl_cli r1 migrate conductor 127.0.0.9:930 127.0.0.6 >"$T/migrate.out" 2>&1 || zl_fail "migrate conductor: $(cat "$T/migrate.out")"
wait_cond 30 r1 "connected again after the migrate" '.state == "production-connected" and ."migrated-by" == "cli"'
zl_assert_eq "r1 after migrate" "$(cond r1 '"\(.conductor) \(.target | join(","))"')" "127.0.0.6:930 127.0.0.9:930,127.0.0.6:930"
grep -q 'event=conductor.failed.*conductor=127.0.0.9:930 class=proxy-refused' "$T/r1.log" ||
    zl_fail "r1 did not try 127.0.0.9:930 first"
zl_ok "r1: migrate conductor 127.0.0.9:930 127.0.0.6 -> the first failed, connected to the second"

# ---- r3: wrong staging psk ----
wait_cond 20 r3 "bad-secret twice" '."last-error".class == "bad-secret" and ."failures-total" >= 2'
zl_assert_eq "r3 state/status" "$(cond r3 '"\(.state) \(."last-error".status)"')" "staging-auth 401"
[ -s "$T/r3.state/trust/root-ca.pem" ] && [ -s "$T/r3.state/secrets/conductor-psk.seal" ] || zl_fail "r3 lost sZTP files"
[ ! -e "$T/r3.state/certs" ] || zl_fail "r3 has certificates"
set +e
zl_cli r3 migrate conductor 127.0.0.6 >"$T/r3.migrate" 2>&1
rc=$?
set -e
zl_assert_eq "migrate on r3 exit status" "$rc" 1
grep -q 'certified or later' "$T/r3.migrate" || zl_fail "migrate refusal: $(cat "$T/r3.migrate")"
zl_ok "r3: bad-secret (401) retried with backoff, sZTP files kept, migrate refused: $(cat "$T/r3.migrate")"

# ---- r2: stuck at svr-configured (the hub does not know it), restarted there, then completes ----
wait_cond 40 r2 "svr-configured, peering refused" '.state == "svr-configured" and .hub."last-failure".class == "refused"'
grep -q 'event=router.ack router=R1 node=r2 .*task=svr-config result=failed' "$T/staging.log" ||
    zl_fail "the staging conductor did not get svr-config failed from r2"
n_csr=$(grep -c 'event=router.csr router=R1 node=r2 .*result=signed' "$T/staging.log")
zl_assert_eq "r2 certificates signed before the restart" "$n_csr" 1
zl_stop r2
zl_assert_eq "r2 persisted state" "$(jq -r .state "$T/r2.state/conductor.json")" svr-configured
hub_config r1 r2 r4
zl_start r2-again lab "$ZTP_BIN/ssr-node" --config "$T/r2.conf" --node r2 --ctl "$T/r2.sock" --state-dir "$T/r2.state" \
    "${SZ[@]}" --device-id SSR-0002 --tpm "libtpms:$T/tpm2"
grep -q 'event=conductor.start .*state=svr-configured' "$T/r2-again.log" || zl_fail "r2 did not resume at svr-configured"
kill -HUP "$(zl_pid hub)"
wait_cond 40 r2 "production-connected after the restart" '.state == "production-connected"'
grep -q 'event=conductor.key step=7 result=loaded' "$T/r2-again.log" || zl_fail "r2 did not reuse its sealed key"
if grep -q 'event=conductor.key step=7 result=created' "$T/r2-again.log"; then zl_fail "r2 made a second key"; fi
zl_assert_eq "r2 certificates signed in all" "$(grep -c 'event=router.csr router=R1 node=r2 .*result=signed' "$T/staging.log")" 1
zl_assert_eq "production inventory r2" "$(inv production r2 state)" connected
zl_ok "r2: resumed at svr-configured without a new key or certificate, peered, production-connected"

# ---- r4: a certificate from an unknown CA is refused, the key kept; then certified with the same key ----
staging_config true
n_reload=$(grep -c 'event=config.reload' "$T/staging.log" || true)
kill -HUP "$(zl_pid staging)"
zl_wait 5 "the staging conductor reloads (wrong-ca)" bash -c "[ \$(grep -c 'event=config.reload' '$T/staging.log') -gt $n_reload ]"
zl_node r4 lab "$CFG" "${SZ[@]}" --device-id SSR-0004 --tpm "libtpms:$T/tpm4"
wait_cond 40 r4 "the certificate refused (unknown-ca)" '."last-error".class == "unknown-ca"'
zl_assert_eq "r4 state" "$(cond r4 .state)" key-created
[ -s "$T/r4.state/secrets/router-key.seal" ] || zl_fail "r4: no sealed key"
[ ! -e "$T/r4.state/certs/router.pem" ] || zl_fail "r4 installed the wrongly signed certificate"
zl_ok "r4: $(cond r4 '"\(."last-error".class): \(."last-error".message)"')"
key_sum=$(sha256sum <"$T/r4.state/secrets/router-key.seal")
staging_config false
n_reload=$(grep -c 'event=config.reload' "$T/staging.log")
kill -HUP "$(zl_pid staging)"
zl_wait 5 "the staging conductor reloads (fault off)" bash -c "[ \$(grep -c 'event=config.reload' '$T/staging.log') -gt $n_reload ]"
wait_cond 60 r4 "production-connected once the fault is off" '.state == "production-connected"'
zl_assert_eq "r4 sealed key unchanged" "$(sha256sum <"$T/r4.state/secrets/router-key.seal")" "$key_sum"
zl_assert_eq "r4 keys made" "$(grep -c 'event=conductor.key step=7 result=created' "$T/r4.log")" 1
openssl verify -CAfile "$T/condca.pem" "$T/r4.state/certs/router.pem" >/dev/null 2>&1 || zl_fail "r4: openssl verify"
zl_ok "r4: certified with the same sealed key after the fault, production-connected"

# ---- r5: a CSR for another router is refused; nothing installed ----
zl_node r5 lab "$CFG" "${SZ[@]}" --device-id SSR-0005 --tpm "libtpms:$T/tpm5" --conductor-fault csr-other-router
wait_cond 40 r5 "the CSR refused twice (csr-rejected)" '."last-error".class == "csr-rejected" and ."failures-total" >= 2'
zl_assert_eq "r5 state" "$(cond r5 .state)" key-created
zl_assert_eq "r5 last error status" "$(cond r5 '."last-error".status')" 422
[ ! -e "$T/r5.state/certs/router.pem" ] || zl_fail "r5 installed a certificate"
grep -q 'event=router.csr router=R1 node=r5 .*result=rejected reason=.*R1-other' "$T/staging.log" ||
    zl_fail "the staging conductor did not log the rejected CSR naming R1-other: $(grep 'router.csr.*r5' "$T/staging.log")"
zl_assert_eq "r5 staging inventory" "$(inv staging r5 state)" onboarding
zl_stop r5
zl_ok "r5: CSR for R1-other/r5 refused with 422 csr-rejected, retried, no certificate installed"

# ---- the key behind certs/router.pem is the sealed one (r1 stopped: its TPM state is free) ----
zl_stop r1
"$ZTP_BIN/ssr-tpm" --tcti "libtpms:$T/tpm1" unseal "$S/secrets/router-key.seal" >"$T/scalar.bin" 2>"$T/unseal.err" ||
    zl_fail "ssr-tpm unseal: $(cat "$T/unseal.err")"
zl_assert_eq "sealed scalar bytes" "$(stat -c %s "$T/scalar.bin")" 32
{ printf '30310201010420'; xxd -p "$T/scalar.bin" | tr -d '\n'; printf 'a00a06082a8648ce3d030107'; } | xxd -r -p >"$T/key.der"
openssl ec -inform DER -in "$T/key.der" -pubout -outform PEM 2>/dev/null >"$T/key.pub"
openssl x509 -in "$S/certs/router.pem" -noout -pubkey >"$T/cert.pub"
cmp -s "$T/key.pub" "$T/cert.pub" || zl_fail "the certificate's public key is not the sealed key's"
pk=$(openssl pkey -pubin -in "$T/cert.pub" -outform DER | sha256sum | cut -d' ' -f1)
grep -q "event=conductor.key step=7 result=created .*pubkey_sha256=$pk" "$T/r1.log" ||
    zl_fail "r1 did not log pubkey_sha256=$pk with its key: $(grep 'event=conductor.key' "$T/r1.log")"
zl_ok "certs/router.pem carries the public key of the sealed router key (and the node logged its hash)"

for f in "$T"/r*.log "$T"/r*.state/*.json; do
    if grep -q -e "$SPSK" -e "$PPSK" "$f"; then zl_fail "a psk is in $f"; fi
done
if grep -q 'BEGIN.*PRIVATE' "$T"/r*.log; then zl_fail "a private key in a router log"; fi
zl_ok "conductor loopback done"
