#!/usr/bin/env bash
# static: `management-proxy mode static` with the doc's proxy lines. The configured proxy is active
# although a DHCP interface learns a lower one; with two static proxies the lowest address wins.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.8:3128)]}"
zl_node r1a r1a "management-proxy mode   static
management-proxy proxy 198.18.5.30 address  198.18.5.30
management-proxy proxy 198.18.5.30 port     5000
management-proxy proxy backup address 198.18.5.31
management-proxy proxy backup port 5000
node r1a device-interface wan0 network-interface wan0-net dhcp v4"

zl_expect_active r1a 198.18.5.30:5000
zl_assert_eq "source" "$(zl_json r1a management-proxy '."management-proxy".source')" config-static
zl_assert_eq "proxy name" "$(zl_json r1a management-proxy '."management-proxy"."proxy-name"')" 198.18.5.30
# The DHCP interface still learns (show lists it) but static wins.
zl_wait 10 "wan0 learned its proxy" bash -c "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/r1a.sock' --json show dhcp learned-proxies | jq -e '.\"learned-proxies\"[0].address == \"198.18.5.8\"'"
zl_cli r1a wait management-proxy --active 198.18.5.30:5000 --timeout 2 >/dev/null || zl_fail "static proxy lost to a learned one"
zl_ok "learned 198.18.5.8 is listed but the static proxy stays active"

# A config with a mistake: the daemon refuses to start and names the line.
printf 'config authority router R1 management-proxy mode static\nconfig authority router R1 managment-proxy enable\n' >"$ZL_TMP/bad.conf"
set +e
out=$("$ZTP_BIN/ssr-node" --config "$ZL_TMP/bad.conf" --node r1a --ctl "$ZL_TMP/bad.sock" 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || zl_fail "ssr-node with a bad config exited $rc, expected 2"
grep -q 'line 2: unknown keyword "managment-proxy"' <<<"$out" || zl_fail "bad config error does not name line 2: $out"
zl_ok "bad config refused: $(grep -o 'line 2: [^"]*"[^"]*"' <<<"$out" | head -1)"
