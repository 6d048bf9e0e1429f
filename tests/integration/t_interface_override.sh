#!/usr/bin/env bash
# interface-override: `enable-proxy-discovery false` on wan1 (the doc's short form) stops it from
# contributing, although it learns the lower address; the node uses wan0's proxy. The full
# `node N device-interface D network-interface NI` path form does the same for a third interface.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
zl_segment r1a wan1 dhcp eth1 198.18.2.1/24
zl_segment r1a wan2 dhcp eth2 198.18.3.1/24
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.12:3128),$(zl_pool eth1 198.18.2.1 198.18.2 198.18.5.10:3128),$(zl_pool eth2 198.18.3.1 198.18.3 198.18.5.11:3128)]}"
zl_node r1a r1a "management-proxy enable
management-proxy mode learned
node r1a device-interface wan0 network-interface wan0-net dhcp v4
node r1a device-interface wan1 network-interface wan1-net dhcp v4
node r1a device-interface wan2 network-interface wan2-net dhcp v4
network-interface wan1-net enable-proxy-discovery false
node r1a device-interface wan2 network-interface wan2-net enable-proxy-discovery false"

zl_expect_active r1a 198.18.5.12:3128
zl_wait_learned r1a 1
# All three leases are bound (the override is about the proxy, not DHCP) ...
zl_wait 10 "three bound leases" bash -c "[ \$(ip -n $(zl_nsname r1a) -4 -o addr show | grep -c 'inet 198\.18\.[123]\.1[0-9][0-9]/24') -eq 3 ]"
zl_ok "all three interfaces hold a lease"
# ... and the overridden interfaces never contribute.
zl_assert_eq "discovery per interface" \
    "$(zl_json r1a 'dhcp learned-proxies' '[."learned-proxies"[] | "\(."network-interface")=\(.discovery)"] | join(" ")')" \
    "wan0-net=true wan1-net=false wan2-net=false"
zl_assert_eq "active source" "$(zl_json r1a management-proxy '."management-proxy"."learned-from"."network-interface"')" wan0-net
grep -q 'event=proxy.ignored.*network-interface=wan1-net' "$ZL_TMP/r1a.log" || zl_fail "no proxy.ignored event for wan1-net"
zl_ok "proxy.ignored logged for the overridden interfaces"
