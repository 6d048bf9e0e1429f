#!/usr/bin/env bash
# learned: one node, one DHCP interface. mock-dhcpd answers Option 60 "JuniperSSR" with Option 43
# sub-option 128 = 198.18.5.8:3128. The node learns and selects it, applies the lease (address,
# default route), and tcpdump and tshark decode our bytes as the product's trace reads.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd tcpdump tshark jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24 fa:16:3e:14:db:05
zl_capture mpls dhcp eth0
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.8:3128)]}"
zl_node r1a r1a "management-proxy enable
management-proxy mode learned
node r1a device-interface wan0 network-interface wan0-net dhcp v4"

zl_expect_active r1a 198.18.5.8:3128
zl_assert_eq "source" "$(zl_json r1a management-proxy '."management-proxy".source')" learned
zl_assert_eq "learned on" "$(zl_json r1a management-proxy '."management-proxy"."learned-from"."network-interface"')" wan0-net
zl_assert_eq "learned-proxies row" \
    "$(zl_json r1a 'dhcp learned-proxies' '."learned-proxies"[] | [.node, ."network-interface", .address, .port, ."lease-state"] | join(" ")')" \
    "r1a wan0-net 198.18.5.8 3128 bound"
ip -n "$(zl_nsname r1a)" -4 addr show dev wan0 | grep -q 'inet 198\.18\.1\.1[0-9][0-9]/24' || zl_fail "lease address not applied to wan0"
ip -n "$(zl_nsname r1a)" route show default | grep -q 'via 198.18.1.1' || zl_fail "default route via 198.18.1.1 not applied"
zl_ok "lease applied: $(ip -n "$(zl_nsname r1a)" -4 -o addr show dev wan0 | awk '{print $4}'), default via 198.18.1.1"

# The human table names the interface and the proxy.
zl_cli r1a show dhcp learned-proxies | grep -q 'wan0-net.*198\.18\.5\.8.*3128' || zl_fail "show dhcp learned-proxies table lacks the row"
zl_cli r1a show management-proxy | grep -q '198\.18\.5\.8:3128' || zl_fail "show management-proxy lacks the active proxy"

# What tcpdump prints of our bytes reads like the product's trace.
zl_stop cap-mpls
tcpdump -r "$ZL_TMP/mpls.pcap" -n -vvv >"$ZL_TMP/mpls.txt" 2>/dev/null
for want in 'length 306' 'DHCP-Message (53), length 1: Discover' 'Client-ID (61), length 7: ether fa:16:3e:14:db:05' \
    'Parameter-Request (55), length 4' 'Subnet-Mask (1), Default-Gateway (3), Domain-Name-Server (6), Vendor-Option (43)' \
    'Vendor-Class (60), length 10: "JuniperSSR"' 'DHCP-Message (53), length 1: Offer' 'DHCP-Message (53), length 1: Request' \
    'DHCP-Message (53), length 1: ACK' 'Vendor-Option (43), length 17' 'Lease-Time (51), length 4: 6000'; do
    grep -qF "$want" "$ZL_TMP/mpls.txt" || zl_fail "tcpdump output lacks: $want (see $ZL_TMP/mpls.txt)"
done
grep -q 'udp sum ok' "$ZL_TMP/mpls.txt" || zl_fail "tcpdump did not verify a UDP checksum"
zl_ok "tcpdump decodes DISCOVER/OFFER/REQUEST/ACK with Option 60 JuniperSSR and Option 43 length 17"

# tshark: Option 43 holds sub-option 128 with the proxy.
tshark -r "$ZL_TMP/mpls.pcap" -Y 'dhcp.option.dhcp == 5' -V 2>/dev/null >"$ZL_TMP/ack.txt"
grep -q 'Option: (43) Vendor-Specific Information' "$ZL_TMP/ack.txt" || zl_fail "tshark: no Option 43 in the ACK"
grep -q '800f3139382e31382e352e383a33313238' <(tshark -r "$ZL_TMP/mpls.pcap" -Y 'dhcp.option.dhcp == 5' -T fields -e dhcp.option.value 2>/dev/null | tr -d ':,') ||
    zl_fail "tshark: ACK Option 43 is not 80 0f + \"198.18.5.8:3128\""
zl_ok "tshark sees Option 43 = 80 0f \"198.18.5.8:3128\" in the ACK"
