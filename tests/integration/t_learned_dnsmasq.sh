#!/usr/bin/env bash
# learned-dnsmasq: ssr-node against a real DHCP server, dnsmasq, configured as a network engineer
# would for SSR proxy discovery (vendor class JuniperSSR, Option 43 sub-option 128). dnsmasq ends
# the encapsulation with an END byte (Option 43 length 18) and the node still learns the proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd dnsmasq tcpdump jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
zl_capture mpls dhcp eth0
zl_start_plain dnsmasq dhcp dnsmasq --keep-in-foreground --log-facility=- --log-dhcp -C /dev/null --port=0 \
    --no-ping --interface=eth0 --bind-interfaces --dhcp-leasefile="$ZL_TMP/dnsmasq.leases" --pid-file= \
    --dhcp-range=198.18.1.100,198.18.1.199,255.255.255.0,600 \
    --dhcp-option=vendor:JuniperSSR,128,198.18.5.8:3128
zl_wait 5 "dnsmasq started" grep -q 'DHCP, IP range 198.18.1.100' "$ZL_TMP/dnsmasq.log"

zl_node r1a r1a "management-proxy enable
management-proxy mode learned
node r1a device-interface wan0 network-interface wan0-net dhcp v4"
zl_expect_active r1a 198.18.5.8:3128
zl_assert_eq "learned-proxies row" \
    "$(zl_json r1a 'dhcp learned-proxies' '."learned-proxies"[] | [."network-interface", .address, .port, ."lease-state"] | join(" ")')" \
    "wan0-net 198.18.5.8 3128 bound"
grep -q 'DHCPACK(eth0) 198.18.1.1[0-9][0-9] fa:16:3e\|DHCPACK(eth0) 198.18.1.1[0-9][0-9]' "$ZL_TMP/dnsmasq.log" || zl_fail "dnsmasq logged no DHCPACK"
grep -q 'vendor class: JuniperSSR' "$ZL_TMP/dnsmasq.log" || zl_fail "dnsmasq did not see vendor class JuniperSSR"
zl_ok "dnsmasq saw vendor class JuniperSSR and ACKed"

zl_stop cap-mpls
tcpdump -r "$ZL_TMP/mpls.pcap" -n -vvv >"$ZL_TMP/mpls.txt" 2>/dev/null
grep -qF 'Vendor-Option (43), length 18' "$ZL_TMP/mpls.txt" || zl_fail "dnsmasq's Option 43 is not the 18-byte END-terminated form"
zl_ok "dnsmasq sent Option 43 of length 18 (sub-option 128 + END) and the node parsed it"
