#!/usr/bin/env bash
# node-refuses: what ssr-node does with bad input before any network exists. A config with a
# mistake and a malformed onboarding.json are refused with exit 2 and a line that names the
# problem; a running node never shows the registration code or the proxy password. No namespace
# is needed (the node runs without DHCP interfaces), so this runs without root too.
. "$(dirname "$0")/lib.sh"

# A config with a mistake on line 2.
printf 'config authority router R1 management-proxy mode static\nconfig authority router R1 managment-proxy enable\n' >"$ZL_TMP/bad.conf"
set +e
out=$("$ZTP_BIN/ssr-node" --config "$ZL_TMP/bad.conf" --node r1a --ctl "$ZL_TMP/bad.sock" 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || zl_fail "ssr-node with a bad config exited $rc, expected 2: $out"
grep -q 'line 2: unknown keyword "managment-proxy"' <<<"$out" || zl_fail "the error does not name line 2: $out"
zl_ok "bad config refused: $(grep -o 'line 2: unknown keyword "[^"]*"' <<<"$out" | head -1)"

# A good config and onboarding.json with secrets in them.
cat >"$ZL_TMP/r1a.conf" <<'CONF'
config authority router R1 management-proxy enable
config authority router R1 management-proxy username ssr
config authority router R1 management-proxy password lab-proxy-secret
CONF
cat >"$ZL_TMP/onboarding.json" <<'JSON'
{"name": "R1", "mode": "conductor-managed", "conductor-hosts": ["198.18.20.10"],
 "registration-code": "lab-registration-code", "proxy": {"address": "198.18.5.50", "port": 3128}}
JSON

# Malformed onboarding.json variants: each refused with exit 2 and the reason.
check_refused() { # FILE-CONTENT WORD
    printf '%s' "$1" >"$ZL_TMP/bad.json"
    set +e
    out=$("$ZTP_BIN/ssr-node" --config "$ZL_TMP/r1a.conf" --node r1a --ctl "$ZL_TMP/bad.sock" --onboarding "$ZL_TMP/bad.json" 2>&1)
    rc=$?
    set -e
    [ "$rc" -eq 2 ] || zl_fail "ssr-node with onboarding.json '$1' exited $rc, expected 2: $out"
    grep -qi "$2" <<<"$out" || zl_fail "the refusal of '$1' does not mention '$2': $out"
    zl_ok "onboarding.json refused ($2): $(tail -1 <<<"$out" | cut -c1-120)"
}
check_refused '{"name": "R1", "proxy": {"address": "198.18.5.50", "port": 0}}' port
check_refused '{"name": "R1", "proxy": {"address": "proxy.example.com", "port": 3128}}' address
check_refused '{"name": "R1", "mode": "conductor"}' mode
check_refused '{"name": "R1",' 'line'

mkfifo "$ZL_TMP/r1a.ready"
ZTP_READY_FD=9 "$ZTP_BIN/ssr-node" --config "$ZL_TMP/r1a.conf" --node r1a --ctl "$ZL_TMP/r1a.sock" \
    --state-dir "$ZL_TMP" --onboarding "$ZL_TMP/onboarding.json" --no-apply 9>"$ZL_TMP/r1a.ready" >"$ZL_TMP/r1a.log" 2>&1 &
ZL_PIDS+=("$!")
read -r -t 10 line <"$ZL_TMP/r1a.ready" || zl_fail "ssr-node did not signal readiness"
"$ZTP_BIN/ssr-cli" --ctl "$ZL_TMP/r1a.sock" wait management-proxy --active 198.18.5.50:3128 --timeout 5 >/dev/null ||
    zl_fail "the onboarding.json proxy is not active"
zl_ok "onboarding.json proxy 198.18.5.50:3128 active before onboarding"
for what in config management-proxy "dhcp learned-proxies"; do
    "$ZTP_BIN/ssr-cli" --ctl "$ZL_TMP/r1a.sock" --json show $what >>"$ZL_TMP/show.out"
    "$ZTP_BIN/ssr-cli" --ctl "$ZL_TMP/r1a.sock" show $what >>"$ZL_TMP/show.out"
done
for secret in lab-registration-code lab-proxy-secret; do
    grep -q "$secret" "$ZL_TMP/show.out" "$ZL_TMP/r1a.log" && zl_fail "$secret appears in show output or the log"
done
grep -q '"password-set": *true' "$ZL_TMP/show.out" || zl_fail "show config does not say a password is set"
zl_ok "neither the registration code nor the proxy password is shown or logged"
