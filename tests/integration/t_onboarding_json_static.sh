#!/usr/bin/env bash
# onboarding-json-static: a Hardware Bootstrapper onboarding.json carries the proxy; it applies
# before the router is onboarded to a conductor, even with management-proxy learned; once the node's
# state says "onboarded" it no longer applies and the learned proxy takes over.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.8:3128)]}"
cat >"$ZL_TMP/onboarding.json" <<'JSON'
{
  "name": "R1",
  "mode": "conductor-managed",
  "conductor-hosts": ["198.18.20.10"],
  "registration-code": "lab-registration-code",
  "proxy": {"address": "198.18.5.50", "port": 3128}
}
JSON
CFG="management-proxy enable
management-proxy mode learned
node r1a device-interface wan0 network-interface wan0-net dhcp v4"
zl_node r1a r1a "$CFG" --onboarding "$ZL_TMP/onboarding.json"
zl_expect_active r1a 198.18.5.50:3128
zl_wait_learned r1a 1
zl_cli r1a wait management-proxy --active 198.18.5.50:3128 --timeout 1 >/dev/null || zl_fail "onboarding.json proxy lost to the learned one"
zl_assert_eq "source" "$(zl_json r1a management-proxy '."management-proxy".source')" onboarding-json
zl_assert_eq "onboarded" "$(zl_json r1a management-proxy '."management-proxy".onboarded')" false
grep -q 'lab-registration-code' "$ZL_TMP/r1a.log" && zl_fail "the registration code was logged"
zl_cli r1a --json show config | grep -q 'lab-registration-code' && zl_fail "show config reveals the registration code"
zl_ok "the registration code is neither logged nor shown"

# Onboarded (the state a conductor onboarding will write): the JSON proxy no longer applies.
zl_stop r1a
printf '{"onboarded": true, "conductor": "198.18.20.10", "since": 1795392000}\n' >"$ZL_TMP/r1a.state/onboarding-state.json"
zl_start r1a-2 r1a "$ZTP_BIN/ssr-node" --config "$ZL_TMP/r1a.conf" --node r1a --ctl "$ZL_TMP/r1a.sock" \
    --state-dir "$ZL_TMP/r1a.state" --onboarding "$ZL_TMP/onboarding.json"
zl_expect_active r1a 198.18.5.8:3128
zl_assert_eq "source once onboarded" "$(zl_json r1a management-proxy '."management-proxy".source')" learned

# A malformed onboarding.json is refused with the reason.
printf '{"name": "R1", "proxy": {"address": "198.18.5.50", "port": 0}}' >"$ZL_TMP/bad.json"
set +e
out=$("$ZTP_BIN/ssr-node" --config "$ZL_TMP/r1a.conf" --node r1a --ctl "$ZL_TMP/bad.sock" --onboarding "$ZL_TMP/bad.json" 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || zl_fail "ssr-node with a bad onboarding.json exited $rc, expected 2"
grep -qi 'port' <<<"$out" || zl_fail "the refusal does not say what is wrong: $out"
zl_ok "bad onboarding.json refused: $(tail -1 <<<"$out" | cut -c1-140)"
