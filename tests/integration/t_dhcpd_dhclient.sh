#!/bin/bash
# mock-dhcpd against ISC dhclient: two clients on a bridge served by one pool. The JuniperSSR client
# gets its lease and Option 43 sub-option 128 (checked in what dhclient hands its script), another
# vendor class gets a lease without Option 43, the lease survives a server restart (lease file) and
# the renewal at T1 (unicast, RENEWING) is answered.
source "$(dirname "$0")/lib.sh"
zl_require_root
zl_require_cmd dhclient ip

PROXY="10.92.53.8:3128"
# What dhclient prints for vendor-encapsulated-options: hex bytes joined by ':'.
want43=$(printf '\x80\x0f%s' "$PROXY" | od -An -tx1 -v | tr -s ' \n' ':' | sed 's/^://; s/:$//')

zl_ns srv
zl_ns c1
zl_ns c2
zl_link c1 eth0 srv p1 02:00:5e:00:10:01
zl_link c2 eth0 srv p2 02:00:5e:00:10:02
zl_bridge srv br0 p1 p2
zl_in srv ip addr add 198.18.10.1/24 dev br0

cat >"$ZL_TMP/dhcpd.json" <<JSON
{
  "pools": [
    {
      "interface": "br0",
      "server": "198.18.10.1",
      "range": "198.18.10.100-198.18.10.110",
      "subnet_mask": "255.255.255.0",
      "routers": ["198.18.10.1"],
      "dns": ["198.18.10.53", "198.18.10.54"],
      "lease_time": 3600,
      "t1": 4,
      "t2": 3000,
      "proxy": "$PROXY"
    }
  ]
}
JSON
zl_start dhcpd srv "$ZTP_BIN/mock-dhcpd" --config "$ZL_TMP/dhcpd.json" --leases "$ZL_TMP/leases.json" --host dhcp1

# A dhclient script of our own: record the environment of each call, apply the address so that
# the renewal can be sent by unicast.
cat >"$ZL_TMP/dhclient-script" <<'SH'
#!/bin/sh
dir=$(dirname "$0")
env | grep -E '^(reason|interface|new_|old_)' | sort >"$dir/env.$interface.$reason.tmp"
mv "$dir/env.$interface.$reason.tmp" "$dir/env.$interface.$reason"
echo "$reason" >>"$dir/reasons.$interface"
case "$reason" in
BOUND | RENEW | REBIND | REBOOT)
    ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    ;;
esac
exit 0
SH
chmod 755 "$ZL_TMP/dhclient-script"
# The script names its files by interface: give each client its own directory.
for c in c1 c2; do
    mkdir -p "$ZL_TMP/$c"
    cp "$ZL_TMP/dhclient-script" "$ZL_TMP/$c/script"
done

cat >"$ZL_TMP/c1/dhclient.conf" <<'CONF'
send vendor-class-identifier "JuniperSSR";
request subnet-mask, routers, domain-name-servers, vendor-encapsulated-options;
timeout 20;
initial-interval 1;
CONF
cat >"$ZL_TMP/c2/dhclient.conf" <<'CONF'
send vendor-class-identifier "SomeOtherVendor";
request subnet-mask, routers, domain-name-servers, vendor-encapsulated-options;
timeout 20;
initial-interval 1;
CONF

# dhclient -1 returns once bound and leaves a daemon behind, known only by its pid file: register
# that pid so the cleanup stops it (and only it).
run_dhclient() {
    local c=$1 rc=0
    zl_in "$c" timeout 40 dhclient -4 -1 -v -sf "$ZL_TMP/$c/script" -lf "$ZL_TMP/$c/leases" \
        -pf "$ZL_TMP/$c/pid" -cf "$ZL_TMP/$c/dhclient.conf" eth0 >>"$ZL_TMP/dhclient-$c.log" 2>&1 || rc=$?
    if [ -s "$ZL_TMP/$c/pid" ]; then
        ZL_PIDS+=("$(cat "$ZL_TMP/$c/pid")")
    fi
    [ "$rc" -eq 0 ] || zl_fail "dhclient in $c got no lease (exit $rc)"
}

envval() { sed -n "s/^$2=//p" "$1" | sed "s/^'//; s/'\$//"; }
# dhclient prints single hex digits without the leading 0 (80:f:31:...): normalise.
normhex() { tr ':' '\n' | sed 's/^\(.\)$/0\1/' | paste -sd: -; }

# Capture c1's exchange on the server side, to check how tcpdump decodes our replies.
# It stops by itself after DISCOVER, OFFER, REQUEST and ACK.
zl_start_plain tcpdump srv tcpdump --immediate-mode -U -c 4 -n -i p1 -w "$ZL_TMP/c1.pcap" udp port 67 or udp port 68
zl_wait 10 "tcpdump listening" grep -q 'listening on' "$ZL_TMP/tcpdump.log"

run_dhclient c1
zl_wait 10 "tcpdump to capture 4 packets" sh -c "! kill -0 $(zl_pid tcpdump)"
e1="$ZL_TMP/c1/env.eth0.BOUND"
[ -f "$e1" ] || zl_fail "the dhclient script was not called with BOUND"
[ "$(envval "$e1" new_ip_address)" = 198.18.10.100 ] || zl_fail "c1 leased $(envval "$e1" new_ip_address), expected 198.18.10.100"
[ "$(envval "$e1" new_subnet_mask)" = 255.255.255.0 ] || zl_fail "c1 subnet mask $(envval "$e1" new_subnet_mask)"
[ "$(envval "$e1" new_routers)" = 198.18.10.1 ] || zl_fail "c1 routers $(envval "$e1" new_routers)"
[ "$(envval "$e1" new_domain_name_servers)" = "198.18.10.53 198.18.10.54" ] || zl_fail "c1 dns $(envval "$e1" new_domain_name_servers)"
[ "$(envval "$e1" new_dhcp_server_identifier)" = 198.18.10.1 ] || zl_fail "c1 server id"
[ "$(envval "$e1" new_dhcp_lease_time)" = 3600 ] || zl_fail "c1 lease time $(envval "$e1" new_dhcp_lease_time)"
got43=$(envval "$e1" new_vendor_encapsulated_options | normhex)
[ "$got43" = "$want43" ] || zl_fail "c1 vendor_encapsulated_options=$got43, expected $want43"
zl_log "c1: 198.18.10.100 with option 43 $got43"

tcpdump -n -vv -r "$ZL_TMP/c1.pcap" >"$ZL_TMP/c1.decoded" 2>&1 || zl_fail "tcpdump cannot read the capture"
grep -q 'DHCP-Message (53), length 1: Offer' "$ZL_TMP/c1.decoded" || zl_fail "tcpdump shows no Offer"
grep -q 'Vendor-Option (43), length 17' "$ZL_TMP/c1.decoded" || zl_fail "tcpdump shows no Option 43 of length 17"
grep -q 'Lease-Time (51), length 4: 3600' "$ZL_TMP/c1.decoded" || zl_fail "tcpdump shows no lease time 3600"

run_dhclient c2
e2="$ZL_TMP/c2/env.eth0.BOUND"
[ -f "$e2" ] || zl_fail "the dhclient script of c2 was not called with BOUND"
[ "$(envval "$e2" new_ip_address)" = 198.18.10.101 ] || zl_fail "c2 leased $(envval "$e2" new_ip_address), expected 198.18.10.101"
! grep -q '^new_vendor_encapsulated_options=' "$e2" || zl_fail "c2 (another vendor class) got option 43"
zl_log "c2: 198.18.10.101 without option 43"

log="$ZL_TMP/dhcpd.log"
grep 'event=dhcp.exchange' "$log" | grep 'msg=DISCOVER' | grep 'reply=OFFER' | grep 'chaddr=02:00:5e:00:10:01' |
    grep 'vendor_class="JuniperSSR"' | grep -q "opt43=sent proxy=\"$PROXY\"" || zl_fail "no OFFER with option 43 logged for c1"
grep 'event=dhcp.exchange' "$log" | grep 'chaddr=02:00:5e:00:10:02' | grep 'reply=ACK' | grep -q 'opt43=class-mismatch' ||
    zl_fail "no ACK without option 43 logged for c2"
# The lease file is rewritten at most every 200 ms (mocks/dhcpd/README.md, Lease file): poll, bounded.
zl_wait 5 "the lease of c1 in the lease file" grep -q '"address": "198.18.10.100"' "$ZL_TMP/leases.json"

# Restart the server: it reloads the lease file, then answers c1's renewal at T1 (4 s).
zl_stop dhcpd
grep -q 'event=dhcpd.stop received=' "$log" || zl_fail "no counters logged at stop"
zl_start dhcpd2 srv "$ZTP_BIN/mock-dhcpd" --config "$ZL_TMP/dhcpd.json" --leases "$ZL_TMP/leases.json" --host dhcp1
grep -q 'event=dhcpd.start .* loaded=2' "$ZL_TMP/dhcpd2.log" || zl_fail "the restarted server did not load 2 leases"
zl_wait 20 "c1 renewing its lease" test -f "$ZL_TMP/c1/env.eth0.RENEW"
[ "$(envval "$ZL_TMP/c1/env.eth0.RENEW" new_ip_address)" = 198.18.10.100 ] || zl_fail "c1 renewed to another address"
got43=$(envval "$ZL_TMP/c1/env.eth0.RENEW" new_vendor_encapsulated_options | normhex)
[ "$got43" = "$want43" ] || zl_fail "renewal: vendor_encapsulated_options=$got43"
grep 'event=dhcp.exchange' "$ZL_TMP/dhcpd2.log" | grep 'kind=renewing' | grep 'reply=ACK' |
    grep -q 'dst=198.18.10.100:68' || zl_fail "no unicast renewal ACK logged"
zl_log "c1 renewed 198.18.10.100 with the restarted server"

for c in c1 c2; do kill -TERM "$(cat "$ZL_TMP/$c/pid")" 2>/dev/null || true; done
zl_log "PASS"
