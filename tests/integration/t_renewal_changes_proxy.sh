#!/usr/bin/env bash
# renewal-changes-proxy: a short lease (4 s, T1 2 s). The DHCP server's Option 43 changes (config
# reload); at the next renewal (unicast REQUEST, same lease) the node re-learns and switches proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
ZL_LEASE=4
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.20:3128)]}"
zl_node r1a r1a "management-proxy enable
node r1a device-interface wan0 network-interface wan0-net dhcp v4"
zl_expect_active r1a 198.18.5.20:3128
addr1=$(ip -n "$(zl_nsname r1a)" -4 -o addr show dev wan0 | awk '{print $4}')

printf '{"pools":[%s]}\n' "$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.21:3128)" >"$ZL_TMP/dhcpd.json"
kill -HUP "$(zl_pid dhcpd)"
zl_wait 5 "mock-dhcpd reloaded" grep -q 'event=dhcpd.reload.*ok=true' "$ZL_TMP/dhcpd.log"
zl_expect_active r1a 198.18.5.21:3128 8
grep -q 'event=proxy.changed old=198.18.5.20:3128 new=198.18.5.21:3128.*cause=dhcp.renew' "$ZL_TMP/r1a.log" ||
    zl_fail "the change was not logged as caused by a renewal: $(grep proxy.changed "$ZL_TMP/r1a.log" | tail -1)"
zl_ok "proxy.changed logged with cause dhcp.renew"
grep -q 'msg=REQUEST kind=renewing reply=ACK' "$ZL_TMP/dhcpd.log" || zl_fail "the server saw no renewing REQUEST"
zl_ok "the server ACKed a renewing (unicast) REQUEST"
addr2=$(ip -n "$(zl_nsname r1a)" -4 -o addr show dev wan0 | awk '{print $4}')
zl_assert_eq "the address survives the renewal" "$addr2" "$addr1"
