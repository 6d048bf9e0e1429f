#!/usr/bin/env bash
# multi-interface-lowest: one node with two DHCP interfaces learning different proxies; the lowest
# integer address wins (198.18.5.10 on wan1 beats 198.18.5.11 on wan0), both rows are shown.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
zl_segment r1a wan1 dhcp eth1 198.18.2.1/24
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.11:3128),$(zl_pool eth1 198.18.2.1 198.18.2 198.18.5.10:8080)]}"
zl_node r1a r1a "management-proxy enable
node r1a device-interface wan0 network-interface wan0-net dhcp v4
node r1a device-interface wan1 network-interface wan1-net dhcp v4"

zl_expect_active r1a 198.18.5.10:8080
zl_wait_learned r1a 2
zl_assert_eq "mode defaults to learned" "$(zl_json r1a management-proxy '."management-proxy".mode')" learned
zl_assert_eq "learned-proxies" \
    "$(zl_json r1a 'dhcp learned-proxies' '[."learned-proxies"[] | "\(."network-interface") \(.address):\(.port) selected=\(.selected)"] | join(", ")')" \
    "wan0-net 198.18.5.11:3128 selected=false, wan1-net 198.18.5.10:8080 selected=true"
# Both leases applied, each with its own default route metric.
[ "$(ip -n "$(zl_nsname r1a)" route show default | wc -l)" -eq 2 ] || zl_fail "expected two default routes (one per DHCP interface)"
zl_ok "two default routes, one per DHCP interface"
