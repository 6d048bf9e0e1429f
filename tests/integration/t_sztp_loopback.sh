#!/usr/bin/env bash
# sztp-loopback: ssr-node's sZTP client (router/sztp.h) end to end, in one throwaway namespace on its
# loopback: mock-proxy 127.0.0.1:3128, mock-ep-terminator 127.0.0.2:443 (ep-terminator.mistsys.net),
# mock-mist 127.0.0.3:443 (mist-prod.lab); the names are in the namespace's hosts file (only the
# proxy resolves them). Certificates from a throwaway CA (--mist-ca). The device's OCRA key is
# provisioned into an in-process libtpms state dir with ssr-tpm.
#   r1 (SSR-0001, right key): reaches secret-stored; the root CA is in STATE/trust (0644, same
#      bytes); the sealed psk unseals (ssr-tpm, after r1 stopped) to the registry's psk; a restart
#      resumes at secret-stored without a new phone-home or challenge (the mocks' logs).
#   r2 (SSR-0003, registry key differs from the TPM's): 401 bad-response, retried with backoff,
#      reported in `show onboarding` (last-error, next retry), state stays redirected.
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

# ---- PKI ----
mkpki() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=ztp-lab Mist root CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$T/ca.key" -out "$T/ca.pem"
    local n
    for n in ept:ep-terminator.mistsys.net mist:mist-prod.lab; do
        local f=${n%%:*} cn=${n#*:}
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
            -keyout "$T/$f.key" -out "$T/$f.csr"
        openssl x509 -req -in "$T/$f.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
            -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$cn") -out "$T/$f.pem"
    done
    # The root CA the cloud hands out (for the conductor): another throwaway CA.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=conductor root CA" \
        -keyout "$T/cond.key" -out "$T/cond.pem"
}
mkpki >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; zl_fail "openssl could not make the lab PKI"; }

cat >"$T/claims.json" <<JSON
{"environment": "production", "retry-after": 2,
 "environments": {"production": "https://mist-prod.lab"},
 "claims": {"SSR-0001": {"environment": "production", "org": "acme"},
            "SSR-0003": {"environment": "production", "org": "acme"}}}
JSON
ROOTCA=$(jq -Rs . <"$T/cond.pem")
cat >"$T/registry.json" <<JSON
{"max-failures": 1000, "lockout-seconds": 30, "challenge-ttl": 30,
 "devices": {"SSR-0001": {"org": "acme", "site": "branch-1", "ocra-suite": "$SUITE", "ocra-key-hex": "$K32",
                          "onboarding": {"conductor": "198.18.5.10:930", "psk": "$PSK", "root-ca-pem": $ROOTCA}},
             "SSR-0003": {"org": "acme", "site": "branch-3", "ocra-suite": "$SUITE", "ocra-key-hex": "$KBAD",
                          "onboarding": {"conductor": "198.18.5.10:930", "psk": "other"}}}}
JSON
printf 'ssr:s3cret:x\n' >"$T/users"
cat >"$T/mock-proxy.json" <<JSON
{"listen": ["127.0.0.1:3128"], "access_log": "$T/access.log", "allow_src": ["127.0.0.0/8"],
 "ssl_ports": [443], "auth": {"users_file": "$T/users", "realm": "ztp-lab"}}
JSON

# ---- one namespace, everything on its loopback ----
zl_ns lab
zl_hosts lab "127.0.0.2 ep-terminator.mistsys.net" "127.0.0.3 mist-prod.lab"
zl_start ept lab "$ZTP_BIN/mock-ep-terminator" --config "$T/claims.json" --listen 127.0.0.2:443 \
    --cert "$T/ept.pem" --key "$T/ept.key" --host ept
zl_start mist lab "$ZTP_BIN/mock-mist" --config "$T/registry.json" --listen 127.0.0.3:443 \
    --cert "$T/mist.pem" --key "$T/mist.key" --host mist
zl_start mock-proxy lab "$ZTP_BIN/mock-proxy" --config "$T/mock-proxy.json" --host proxy
zl_ok "mock-proxy, mock-ep-terminator, mock-mist ready in $(zl_nsname lab)"

# ---- the devices' TPMs (libtpms state dirs) ----
for d in tpm1 tpm2; do
    mkdir -p "$T/$d"
    printf '%s\n' "$K32" | "$ZTP_BIN/ssr-tpm" --tcti "libtpms:$T/$d" provision --hash sha256 --key-hex-file - \
        >"$T/$d.prov" 2>&1 || zl_fail "ssr-tpm provision: $(cat "$T/$d.prov")"
done
zl_ok "OCRA key provisioned into two libtpms TPMs"

CFG="management-proxy mode static
management-proxy proxy p1 address 127.0.0.1
management-proxy proxy p1 port 3128
management-proxy username ssr
management-proxy password s3cret:x"
SZ=(--no-apply --sztp --phone-home-url https://ep-terminator.mistsys.net/ --mist-ca "$T/ca.pem")
onb() { zl_cli "$1" --json show onboarding | jq -r ".onboarding | $2"; }

# ---- r1: the whole flow ----
zl_node r1 lab "$CFG" "${SZ[@]}" --device-id SSR-0001 --tpm "libtpms:$T/tpm1"
zl_wait 30 "r1 reaches secret-stored" bash -c \
    "'$ZTP_BIN/ssr-cli' --ctl '$T/r1.sock' --json show onboarding | jq -e '.onboarding.state == \"secret-stored\"'"
zl_cli r1 show onboarding >"$T/r1.show" || zl_fail "ssr-cli show onboarding failed"
sed 's/^/    /' "$T/r1.show" >&2
zl_assert_eq "r1 history" "$(onb r1 '[.history[].to] | join(",")')" \
    "proxy-ready,phoning-home,redirected,authenticated,onboarding-received,root-ca-installed,secret-stored"
zl_assert_eq "r1 steps" "$(onb r1 '[.history[].step] | join(",")')" "1,2,3,4,5,5,5"
zl_assert_eq "r1 org/conductor/redirect" "$(onb r1 '"\(.org) \(.conductor) \(.redirect)"')" \
    "acme 198.18.5.10:930 https://mist-prod.lab/v1/device/SSR-0001"
cmp -s "$T/r1.state/trust/root-ca.pem" "$T/cond.pem" || zl_fail "trust/root-ca.pem differs from the registry's CA"
zl_assert_eq "root CA mode" "$(stat -c %a "$T/r1.state/trust/root-ca.pem")" 644
grep -q 'event=sztp.state from=authenticated to=onboarding-received step=5' "$T/r1.log" || zl_fail "no step-5 log line"
grep -q 'event=device.verify.*result=ok mode=mutual' "$T/mist.log" || zl_fail "mock-mist saw no mutual OCRA"
if grep -q "$PSK" "$T/r1.log" "$T/r1.state/sztp.json"; then zl_fail "the psk is in the log or sztp.json"; fi
zl_ok "r1: secret-stored, CA installed, mutual OCRA, psk not in the log"

zl_stop r1
"$ZTP_BIN/ssr-tpm" --tcti "libtpms:$T/tpm1" unseal "$T/r1.state/secrets/conductor-psk.seal" >"$T/psk.out" 2>"$T/unseal.err" ||
    zl_fail "ssr-tpm unseal: $(cat "$T/unseal.err")"
zl_assert_eq "unsealed psk" "$(tr -d '\n' <"$T/psk.out")" "$PSK"

# ---- r1 restarted: resumes at secret-stored, sends nothing ----
n_ph=$(grep -c 'event=device.phone-home' "$T/ept.log")
n_ch=$(grep -c 'event=device.challenge' "$T/mist.log")
zl_start r1-again lab "$ZTP_BIN/ssr-node" --config "$T/r1.conf" --node r1 --ctl "$T/r1.sock" --state-dir "$T/r1.state" \
    "${SZ[@]}" --device-id SSR-0001 --tpm "libtpms:$T/tpm1"
zl_assert_eq "r1 after restart" "$(onb r1 .state)" secret-stored
sleep 2
zl_assert_eq "phone-homes after restart" "$(grep -c 'event=device.phone-home' "$T/ept.log")" "$n_ph"
zl_assert_eq "challenges after restart" "$(grep -c 'event=device.challenge' "$T/mist.log")" "$n_ch"
grep -q 'event=sztp.resume state=secret-stored' "$T/r1-again.log" || zl_fail "no sztp.resume line"
zl_stop r1-again

# ---- r2: wrong key -> 401 bad-response, retried with backoff ----
zl_node r2 lab "$CFG" "${SZ[@]}" --device-id SSR-0003 --tpm "libtpms:$T/tpm2"
zl_wait 20 "r2 fails twice with bad-response" bash -c \
    "'$ZTP_BIN/ssr-cli' --ctl '$T/r2.sock' --json show onboarding |
     jq -e '.onboarding | .\"last-error\".class == \"bad-response\" and .\"failures-total\" >= 2'"
zl_assert_eq "r2 state/error" "$(onb r2 '"\(.state) \(."last-error".class) \(."last-error".status)"')" \
    "redirected bad-response 401"
[ "$(grep -c 'event=sztp.failed.*class=bad-response' "$T/r2.log")" -ge 2 ] || zl_fail "r2: fewer than 2 sztp.failed lines"
d1=$(grep 'event=sztp.failed.*class=bad-response' "$T/r2.log" | sed -n '1s/.*retry_in_ms=\([0-9]*\).*/\1/p')
d2=$(grep 'event=sztp.failed.*class=bad-response' "$T/r2.log" | sed -n '2s/.*retry_in_ms=\([0-9]*\).*/\1/p')
[ "$d2" -gt "$d1" ] || zl_fail "r2: backoff did not grow ($d1 then $d2 ms)"
zl_cli r2 show onboarding >"$T/r2.show"
grep -q 'last error: bad-response' "$T/r2.show" || zl_fail "show onboarding (text) lacks the error: $(cat "$T/r2.show")"
sed 's/^/    /' "$T/r2.show" >&2
zl_ok "r2: bad-response reported, retried after $d1 ms then $d2 ms"
zl_stop r2
zl_ok "sZTP loopback done"
