#!/usr/bin/env bash
# sztp-failures: the failure paths of ssr-node's sZTP client (router/sztp.h), in one throwaway
# namespace on its loopback (same layout as t_sztp_loopback.sh): mock-proxy 127.0.0.1:3128 (and a
# second one on 127.0.0.1:3129), mock-ep-terminator 127.0.0.2:443, mock-mist 127.0.0.3:443.
#   usage        --sztp-fault with an unknown name: exit 2
#   unclaimed    SSR-0010 not claimed: 404 unclaimed, Retry-After 2 honoured; the claim is added to
#                the claims file + SIGHUP: it completes
#   locked       SSR-0011's registry key is wrong, max-failures 2: 401, 401, then 423 locked, the
#                retry-after in `show onboarding`
#   tls          SSR-0012 with --mist-ca of another CA: tls-failed, nothing in trust/ or secrets/
#   replay       SSR-0013 with --sztp-fault replay-response: mock-mist refuses the replay
#                (reason=replayed-challenge), the node still completes
#   recheck      SSR-0013 (secret-stored) gets a new static proxy by config rewrite + SIGHUP: first a
#                dead one (recheck failed, retried), then the second mock-proxy: recheck ok, its
#                access log shows the CONNECT; a restart does not phone home again
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq openssl
for p in mock-ep-terminator mock-mist mock-proxy ssr-node ssr-cli ssr-tpm; do
    [ -x "$ZTP_BIN/$p" ] || zl_skip "$ZTP_BIN/$p not built"
done
T=$ZL_TMP
K32=3132333435363738393031323334353637383930313233343536373839303132
KBAD=3132333435363738393031323334353637383930313233343536373839303133
PSK=lab-psk-$RANDOM$RANDOM
SUITE=OCRA-1:HOTP-SHA256-8:QA08

# ---- usage: an unknown fault name ----
set +e
"$ZTP_BIN/ssr-node" --config /dev/null --node r9 --sztp --device-id X --tpm libtpms --sztp-fault bogus \
    >"$T/usage.out" 2>&1
rc=$?
set -e
zl_assert_eq "ssr-node --sztp-fault bogus exit status" "$rc" 2
grep -q 'unknown fault' "$T/usage.out" || zl_fail "no 'unknown fault' message: $(cat "$T/usage.out")"

# ---- PKI ----
mkpki() {
    local ca
    for ca in ca:"ztp-lab Mist root CA" other:"some other CA" cond:"conductor root CA"; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=${ca#*:}" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
            -keyout "$T/${ca%%:*}.key" -out "$T/${ca%%:*}.pem"
    done
    local n
    for n in ept:ep-terminator.mistsys.net mist:mist-prod.lab; do
        local f=${n%%:*} cn=${n#*:}
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
            -keyout "$T/$f.key" -out "$T/$f.csr"
        openssl x509 -req -in "$T/$f.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
            -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$cn") -out "$T/$f.pem"
    done
}
mkpki >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; zl_fail "openssl could not make the lab PKI"; }

claims() { # claims FILE [extra claim lines]
    cat >"$T/claims.json" <<JSON
{"environment": "production", "retry-after": 2,
 "environments": {"production": "https://mist-prod.lab"},
 "claims": {"SSR-0011": {"environment": "production", "org": "acme"},
            "SSR-0012": {"environment": "production", "org": "acme"},
            "SSR-0013": {"environment": "production", "org": "acme"}$1}}
JSON
}
claims ""
ROOTCA=$(jq -Rs . <"$T/cond.pem")
dev() { # dev ID KEY
    printf '"%s": {"org": "acme", "site": "s-%s", "ocra-suite": "%s", "ocra-key-hex": "%s",
     "onboarding": {"conductor": "198.18.5.10:930", "psk": "%s", "root-ca-pem": %s}}' "$1" "$1" "$SUITE" "$2" "$PSK" "$ROOTCA"
}
cat >"$T/registry.json" <<JSON
{"max-failures": 2, "lockout-seconds": 30, "challenge-ttl": 30,
 "devices": {$(dev SSR-0010 "$K32"), $(dev SSR-0011 "$KBAD"), $(dev SSR-0012 "$K32"), $(dev SSR-0013 "$K32")}}
JSON
printf 'ssr:s3cret:x\n' >"$T/users"
for i in 1 2; do
    cat >"$T/mock-proxy$i.json" <<JSON
{"listen": ["127.0.0.1:312$((7 + i))"], "access_log": "$T/access$i.log", "allow_src": ["127.0.0.0/8"],
 "ssl_ports": [443], "auth": {"users_file": "$T/users", "realm": "ztp-lab"}}
JSON
done

zl_ns lab
zl_hosts lab "127.0.0.2 ep-terminator.mistsys.net" "127.0.0.3 mist-prod.lab"
zl_start ept lab "$ZTP_BIN/mock-ep-terminator" --config "$T/claims.json" --listen 127.0.0.2:443 \
    --cert "$T/ept.pem" --key "$T/ept.key" --host ept
zl_start mist lab "$ZTP_BIN/mock-mist" --config "$T/registry.json" --listen 127.0.0.3:443 \
    --cert "$T/mist.pem" --key "$T/mist.key" --host mist
zl_start proxy1 lab "$ZTP_BIN/mock-proxy" --config "$T/mock-proxy1.json" --host proxy1
zl_start proxy2 lab "$ZTP_BIN/mock-proxy" --config "$T/mock-proxy2.json" --host proxy2
zl_ok "two mock-proxies, mock-ep-terminator, mock-mist ready in $(zl_nsname lab)"

for d in 1 2 3 4; do
    mkdir -p "$T/tpm$d"
    printf '%s\n' "$K32" | "$ZTP_BIN/ssr-tpm" --tcti "libtpms:$T/tpm$d" provision --hash sha256 --key-hex-file - \
        >"$T/tpm$d.prov" 2>&1 || zl_fail "ssr-tpm provision: $(cat "$T/tpm$d.prov")"
done

cfg() { # cfg PORT
    printf 'management-proxy mode static\nmanagement-proxy proxy p1 address 127.0.0.1\n'
    printf 'management-proxy proxy p1 port %s\nmanagement-proxy username ssr\nmanagement-proxy password s3cret:x\n' "$1"
}
SZ=(--no-apply --sztp --phone-home-url https://ep-terminator.mistsys.net/)
onb() { zl_cli "$1" --json show onboarding | jq -r ".onboarding | $2"; }
wait_onb() { # wait_onb TIMEOUT NODE DESCRIPTION JQ-CONDITION
    zl_wait "$1" "$2: $3" bash -c \
        "'$ZTP_BIN/ssr-cli' --ctl '$T/$2.sock' --json show onboarding | jq -e '.onboarding | $4'"
}

# ---- start the four nodes ----
zl_node r1 lab "$(cfg 3128)" "${SZ[@]}" --mist-ca "$T/ca.pem" --device-id SSR-0010 --tpm "libtpms:$T/tpm1"
zl_node r2 lab "$(cfg 3128)" "${SZ[@]}" --mist-ca "$T/ca.pem" --device-id SSR-0011 --tpm "libtpms:$T/tpm2"
zl_node r3 lab "$(cfg 3128)" "${SZ[@]}" --mist-ca "$T/other.pem" --device-id SSR-0012 --tpm "libtpms:$T/tpm3"
zl_node r4 lab "$(cfg 3128)" "${SZ[@]}" --mist-ca "$T/ca.pem" --device-id SSR-0013 --tpm "libtpms:$T/tpm4" \
    --sztp-fault replay-response

# ---- unclaimed, then claimed while retrying ----
wait_onb 10 r1 "404 unclaimed" '."last-error".class == "unclaimed"'
zl_assert_eq "r1 unclaimed" "$(onb r1 '"\(.state) \(."last-error".status) \(."last-error"."retry-after")"')" \
    "phoning-home 404 2"
d=$(grep -m1 'event=sztp.failed.*class=unclaimed' "$T/r1.log" | sed 's/.*retry_in_ms=\([0-9]*\).*/\1/')
[ "$d" -ge 2000 ] || zl_fail "r1: the first retry after 'unclaimed' is in $d ms, not >= Retry-After 2 s"
zl_ok "r1: 404 unclaimed, retry in $d ms (Retry-After 2 s)"
claims ', "SSR-0010": {"environment": "production", "org": "acme"}'
kill -HUP "$(zl_pid ept)"
zl_wait 5 "ept reloads the claims" grep -q 'event=config.reload result=ok' "$T/ept.log"
wait_onb 20 r1 "secret-stored after the claim" '.state == "secret-stored"'
[ -s "$T/r1.state/secrets/conductor-psk.seal" ] || zl_fail "r1: no sealed psk"
zl_ok "r1: claimed while retrying, reached secret-stored ($(grep -c 'class=unclaimed' "$T/r1.log") unclaimed answers)"

# ---- locked ----
wait_onb 20 r2 "423 locked" '."last-error".class == "locked"'
zl_assert_eq "r2 locked" "$(onb r2 '"\(.state) \(."last-error".status)"')" "redirected 423"
ra=$(onb r2 '."last-error"."retry-after"')
[ "$ra" -ge 1 ] && [ "$ra" -le 30 ] || zl_fail "r2: retry-after '$ra' not in 1..30"
zl_cli r2 show onboarding >"$T/r2.show"
grep -q "last error: locked in redirected: .*HTTP 423, retry-after ${ra}s" "$T/r2.show" ||
    zl_fail "show onboarding lacks the lock: $(cat "$T/r2.show")"
grep -q 'event=device.locked device=SSR-0011' "$T/mist.log" || zl_fail "mock-mist did not lock SSR-0011"
next=$(onb r2 '."next-retry-in-ms"')
[ "$next" -ge $(((ra - 2) * 1000)) ] || zl_fail "r2: next retry in $next ms, before the lock's ${ra} s"
sed 's/^/    /' "$T/r2.show" >&2
zl_ok "r2: 401, 401, then 423 locked, retry-after ${ra} s shown, next retry in $next ms"

# ---- TLS verification failure ----
wait_onb 10 r3 "tls-failed twice" '."last-error".class == "tls-failed" and ."failures-total" >= 2'
zl_assert_eq "r3 state" "$(onb r3 .state)" phoning-home
onb r3 '."last-error".message' | grep -q 'certificate verify failed' || zl_fail "r3: $(onb r3 '."last-error".message')"
for d in trust secrets; do
    [ -z "$(ls -A "$T/r3.state/$d" 2>/dev/null)" ] || zl_fail "r3: $d/ is not empty"
done
zl_ok "r3: tls-failed ($(onb r3 '."last-error".message')), nothing in trust/ or secrets/"

# ---- replay fault ----
wait_onb 20 r4 "secret-stored despite the replay" '.state == "secret-stored"'
grep -q 'event=sztp.replay result=refused status=401 reason=replayed-challenge' "$T/r4.log" ||
    zl_fail "r4: no sztp.replay result=refused line"
grep -q 'event=device.verify device=SSR-0013 .*result=fail reason=replayed-challenge' "$T/mist.log" ||
    zl_fail "mock-mist did not log reason=replayed-challenge for SSR-0013"
zl_assert_eq "r4 responses POSTed" "$(grep -c 'event=sztp.request.*url="https://mist-prod.lab/v1/device/SSR-0013/response"' "$T/r4.log")" 2
zl_assert_eq "r4 last error" "$(onb r4 '."last-error"')" null
zl_ok "r4: the replayed response was refused (replayed-challenge), the node completed with its real session"

# ---- recheck after a proxy change ----
n_ph=$(grep -c 'event=device.phone-home device="SSR-0013"' "$T/ept.log")
cfg 3130 | sed 's/^/config authority router R1 /' >"$T/r4.conf"   # nothing listens on 3130
kill -HUP "$(zl_pid r4)"
zl_wait 10 "r4: recheck through the dead proxy fails" grep -q 'event=sztp.recheck result=failed class=proxy-connect-failed proxy=127.0.0.1:3130' "$T/r4.log"
grep -q 'event=proxy.changed old=127.0.0.1:3128 new=127.0.0.1:3130' "$T/r4.log" || zl_fail "r4: no proxy.changed"
cfg 3129 | sed 's/^/config authority router R1 /' >"$T/r4.conf"
kill -HUP "$(zl_pid r4)"
zl_wait 10 "r4: recheck ok through 127.0.0.1:3129" grep -q 'event=sztp.recheck result=ok proxy=127.0.0.1:3129 redirect=same' "$T/r4.log"
# (the proxy writes its access-log line when the tunnel closes)
zl_wait 5 "the second proxy's access log shows the CONNECT" grep -q 'CONNECT ep-terminator.mistsys.net:443' "$T/access2.log"
zl_assert_eq "r4 state after the recheck" "$(onb r4 .state)" secret-stored
zl_assert_eq "r4 recheck (show)" "$(onb r4 '"\(.recheck.last.result) \(.recheck.last.proxy) \(.recheck.last.redirect) \(.proxy)"')" \
    "ok 127.0.0.1:3129 same 127.0.0.1:3129"
zl_assert_eq "phone-homes of SSR-0013 after the rechecks" "$(grep -c 'event=device.phone-home device="SSR-0013"' "$T/ept.log")" $((n_ph + 1))
zl_ok "r4: recheck failed through a dead proxy, then ok through the new one: $(grep 'CONNECT ep-terminator' "$T/access2.log" | tail -1)"

# a restart with the same proxy: nothing is sent
zl_stop r4
zl_start r4-again lab "$ZTP_BIN/ssr-node" --config "$T/r4.conf" --node r4 --ctl "$T/r4.sock" --state-dir "$T/r4.state" \
    "${SZ[@]}" --mist-ca "$T/ca.pem" --device-id SSR-0013 --tpm "libtpms:$T/tpm4"
sleep 1
grep -q 'event=sztp.resume state=secret-stored action=none proxy=127.0.0.1:3129' "$T/r4-again.log" || zl_fail "no resume line"
if grep -q 'event=sztp.recheck' "$T/r4-again.log"; then zl_fail "r4 rechecked after a restart with the same proxy"; fi
zl_assert_eq "phone-homes after the restart" "$(grep -c 'event=device.phone-home device="SSR-0013"' "$T/ept.log")" $((n_ph + 1))
if grep -q "$PSK" "$T"/r*.log "$T"/r*.state/sztp.json; then zl_fail "the psk is in a log or sztp.json"; fi
zl_ok "sZTP failure paths done"
