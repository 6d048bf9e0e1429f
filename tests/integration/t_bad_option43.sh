#!/usr/bin/env bash
# bad-option43: DHCP servers hand out values that are not IPv4:port (a host name, port 0, port
# 65536, garbage). The node takes the leases but rejects each value with the reason, logs the
# bytes quoted, and selects only the one valid proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
bad=("proxy.example.com:3128" "198.18.5.1:0" "198.18.5.2:65536" 'garbage "quoted"\x')
lines="management-proxy enable"
pools=""
for i in 0 1 2 3 4; do
    zl_segment r1a "wan$i" dhcp "eth$i" "198.18.1$i.1/24"
    lines+=$'\n'"node r1a device-interface wan$i network-interface wan$i-net dhcp v4"
    if [ "$i" -lt 4 ]; then v=${bad[$i]}; else v=198.18.5.40:3128; fi
    v=${v//\\/\\\\}; v=${v//\"/\\\"}
    pools+="${pools:+,}$(zl_pool "eth$i" "198.18.1$i.1" "198.18.1$i" "$v")"
done
zl_dhcpd dhcpd dhcp "{\"pools\":[$pools]}"
zl_node r1a r1a "$lines"

zl_expect_active r1a 198.18.5.40:3128
zl_wait 10 "four rejections logged" bash -c "[ \$(grep -c 'event=proxy.rejected' '$ZL_TMP/r1a.log') -ge 4 ]"
for want in 'not an IPv4 address' 'port out of range'; do
    grep 'event=proxy.rejected' "$ZL_TMP/r1a.log" | grep -q "$want" || zl_fail "no rejection saying '$want'"
done
grep 'event=proxy.rejected' "$ZL_TMP/r1a.log" | grep -qF '\"quoted\"' || zl_fail "the garbage value is not logged quoted"
zl_ok "four bad values rejected with reasons, logged quoted"
zl_assert_eq "only the valid proxy is listed" \
    "$(zl_json r1a 'dhcp learned-proxies' '[."learned-proxies"[] | select(.address != null) | "\(."network-interface") \(.address):\(.port)"] | join(", ")')" \
    "wan4-net 198.18.5.40:3128"
