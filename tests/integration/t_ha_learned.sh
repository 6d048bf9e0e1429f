#!/usr/bin/env bash
# ha-learned: the two nodes of router R1 each learn a different proxy on their own WAN interface
# (r1a: 198.18.5.11:3128, r1b: 198.18.5.10:3128), exchange them over the HA link, and both select
# the lowest, 198.18.5.10:3128. When r1b goes away, r1a ages its entries out and falls back to its
# own proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq tcpdump

zl_ns dhcp
zl_ns r1a
zl_ns r1b
zl_segment r1a wan0 dhcp eth-a 198.18.1.1/24
zl_segment r1b wan0 dhcp eth-b 198.18.2.1/24
zl_link r1a ha0 r1b ha0
ip -n "$(zl_nsname r1a)" addr add 198.18.255.1/30 dev ha0
ip -n "$(zl_nsname r1b)" addr add 198.18.255.2/30 dev ha0
zl_capture mpls-a dhcp eth-a
zl_capture mpls-b dhcp eth-b
zl_capture ha r1a ha0 'udp port 12931'

zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth-a 198.18.1.1 198.18.1 198.18.5.11:3128),$(zl_pool eth-b 198.18.2.1 198.18.2 198.18.5.10:3128)]}"
CFG="management-proxy enable
management-proxy mode learned
node r1a device-interface wan0 network-interface wan-a dhcp v4
node r1b device-interface wan0 network-interface wan-b dhcp v4"
zl_node r1a r1a "$CFG" --ha-listen 198.18.255.1:12931 --ha-peer 198.18.255.2:12931 --ha-timeout 1
zl_node r1b r1b "$CFG" --ha-listen 198.18.255.2:12931 --ha-peer 198.18.255.1:12931 --ha-timeout 1

# Both nodes select the lowest address, whichever node learned it.
zl_expect_active r1a 198.18.5.10:3128
zl_expect_active r1b 198.18.5.10:3128
zl_wait_learned r1a 2
zl_wait_learned r1b 2
zl_assert_eq "r1a: learned from" "$(zl_json r1a management-proxy '."management-proxy"."learned-from" | "\(.node)/\(."network-interface") peer=\(.peer)"')" "r1b/wan-b peer=true"
zl_assert_eq "r1b: learned from" "$(zl_json r1b management-proxy '."management-proxy"."learned-from" | "\(.node)/\(."network-interface") peer=\(.peer)"')" "r1b/wan-b peer=false"
for n in r1a r1b; do
    zl_assert_eq "$n: learned-proxies" \
        "$(zl_json $n 'dhcp learned-proxies' '[."learned-proxies"[] | "\(.node) \(."network-interface") \(.address):\(.port) selected=\(.selected)"] | join(", ")')" \
        "r1a wan-a 198.18.5.11:3128 selected=false, r1b wan-b 198.18.5.10:3128 selected=true"
done

# r1b goes away: r1a ages out what r1b told it and uses its own proxy.
zl_stop r1b
zl_expect_active r1a 198.18.5.11:3128 5
zl_assert_eq "r1a after peer loss" "$(zl_json r1a 'dhcp learned-proxies' '[."learned-proxies"[] | .node] | join(",")')" "r1a"
grep -q 'event=ha.peer.down' "$ZL_TMP/r1a.log" || zl_fail "r1a did not log ha.peer.down"
zl_ok "r1a logged the peer going down and fell back to its own proxy"

# The HA link carried the sync datagrams (JSON over UDP, readable in Wireshark).
zl_stop cap-ha
n=$(tcpdump -r "$ZL_TMP/ha.pcap" -n 2>/dev/null | grep -c '198\.18\.255\.[12]\.12931 > ')
[ "$n" -ge 2 ] || zl_fail "the HA capture holds $n datagrams"
zl_ok "HA link capture: $n sync datagrams"
