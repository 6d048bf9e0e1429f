#!/usr/bin/env bash
# dhcp-server-gone: the DHCP server stops answering. The node keeps its learned proxy while the
# lease lasts (renewing, then rebinding), then drops it at expiry and has no active proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq

zl_ns dhcp
zl_ns r1a
zl_segment r1a wan0 dhcp eth0 198.18.1.1/24
ZL_LEASE=6
zl_dhcpd dhcpd dhcp "{\"pools\":[$(zl_pool eth0 198.18.1.1 198.18.1 198.18.5.20:3128)]}"
zl_node r1a r1a "management-proxy enable
node r1a device-interface wan0 network-interface wan0-net dhcp v4"
zl_expect_active r1a 198.18.5.20:3128
zl_stop dhcpd
t0=$SECONDS

# Past T1 the lease is renewing and the proxy is still in use.
zl_wait 6 "lease renewing or rebinding" bash -c \
    "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/r1a.sock' --json show dhcp learned-proxies | jq -e '.\"learned-proxies\"[0].\"lease-state\" | test(\"renewing|rebinding\")'"
zl_cli r1a wait management-proxy --active 198.18.5.20:3128 --timeout 1 >/dev/null || zl_fail "proxy dropped before the lease expired"
zl_ok "server gone: proxy kept while the lease is $(zl_json r1a 'dhcp learned-proxies' '."learned-proxies"[0]."lease-state"')"

# At expiry it is dropped.
zl_expect_active r1a none 10
[ $((SECONDS - t0)) -ge 3 ] || zl_fail "proxy dropped after $((SECONDS - t0)) s, before the lease could have expired"
grep -q 'event=proxy.dropped.*reason="lease expired"' "$ZL_TMP/r1a.log" || zl_fail "no proxy.dropped with reason lease expired"
zl_ok "proxy dropped at lease expiry ($((SECONDS - t0)) s after the server stopped)"
ip -n "$(zl_nsname r1a)" -4 addr show dev wan0 | grep -q 'inet 198\.18\.1\.' && zl_fail "the expired lease's address is still on wan0"
zl_ok "the expired address was removed from wan0"
