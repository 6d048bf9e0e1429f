#!/bin/bash
# mock-dhcpd against Kea's perfdhcp, the benchmark client that speaks as a DHCP relay: perfdhcp in
# the "relay" namespace sends relayed DISCOVER/REQUESTs (giaddr = its local address 198.18.30.1,
# from port 67) by unicast to the server; every 4-way exchange must complete, with the replies sent
# back to giaddr:67, from the relay pool, with Option 43 for the JuniperSSR vendor class.
source "$(dirname "$0")/lib.sh"
zl_require_root
zl_require_cmd perfdhcp ip

zl_ns srv
zl_ns relay
zl_link srv eth0 relay eth0
zl_in srv ip addr add 198.18.20.1/24 dev eth0
zl_in srv ip route add 198.18.30.0/24 via 198.18.20.2
# perfdhcp sends out of the interface that holds its -l address: the relay's uplink carries both
# its uplink address and the client-side address used as giaddr.
zl_in relay ip addr add 198.18.20.2/24 dev eth0
zl_in relay ip addr add 198.18.30.1/24 dev eth0

cat >"$ZL_TMP/dhcpd.json" <<'JSON'
{"pools": [
    {
      "relay": "198.18.30.1",
      "server": "198.18.20.1",
      "range": "198.18.30.50-198.18.30.150",
      "subnet_mask": "255.255.255.0",
      "routers": ["198.18.30.1"],
      "proxy": "10.92.53.8:3128"
    }
]}
JSON
zl_start dhcpd srv "$ZTP_BIN/mock-dhcpd" --config "$ZL_TMP/dhcpd.json" --leases "$ZL_TMP/leases.json"

# 30 exchanges from 10 simulated clients; Option 60 = "JuniperSSR", Option 55 asking for 1 3 6 43.
vc=$(printf 'JuniperSSR' | od -An -tx1 -v | tr -d ' \n')
rc=0
zl_in relay timeout 60 perfdhcp -4 -l 198.18.30.1 -r 50 -n 30 -R 10 -W 500000 \
    -o "60,$vc" -o 55,0103062b -x e 198.18.20.1 >"$ZL_TMP/perfdhcp.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$ZL_TMP/perfdhcp.out" >&2; zl_fail "perfdhcp exit $rc (3 = some exchanges did not complete)"; }

stats() { # SECTION KEY
    sed -n "/Statistics for: $1/,/collected packets/p" "$ZL_TMP/perfdhcp.out" | sed -n "s/^$2: //p"
}
[ "$(stats DISCOVER-OFFER 'sent packets')" = 30 ] || zl_fail "perfdhcp sent $(stats DISCOVER-OFFER 'sent packets') DISCOVERs"
[ "$(stats DISCOVER-OFFER 'received packets')" = 30 ] || zl_fail "perfdhcp received $(stats DISCOVER-OFFER 'received packets') OFFERs"
[ "$(stats REQUEST-ACK 'received packets')" = 30 ] || zl_fail "perfdhcp received $(stats REQUEST-ACK 'received packets') ACKs"
[ "$(stats REQUEST-ACK 'rejected leases')" = 0 ] || zl_fail "perfdhcp rejected leases"

log="$ZL_TMP/dhcpd.log"
n=$(grep 'event=dhcp.exchange' "$log" | grep 'msg=DISCOVER' | grep 'reply=OFFER' | grep 'pool=relay:198.18.30.1' |
    grep 'giaddr=198.18.30.1' | grep 'opt43=sent' | grep -c 'dst=198.18.30.1:67')
[ "$n" -eq 30 ] || zl_fail "$n relayed OFFERs with option 43 to giaddr:67 logged, expected 30"
# The lease file is rewritten at most every 200 ms (README, Lease file): wait for the last exchanges.
bound10() { [ "$(grep -c '"state": "bound"' "$ZL_TMP/leases.json")" -eq 10 ]; }
zl_wait 5 "10 bound leases in the lease file (one per simulated client)" bound10
zl_log "perfdhcp: 30/30 relayed exchanges, 10 leases"
zl_log "PASS"
