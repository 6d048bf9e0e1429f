#!/bin/bash
# mock-dhcpd serving a relayed site: dhcp-probe plays the DHCP relay agent (giaddr 198.18.30.1, its
# address on the link to the "site" namespace) and sends relayed DISCOVER/REQUESTs to the server by
# unicast; the OFFER and ACK must come back to giaddr on port 67 with giaddr and hops kept, from the
# relay pool, with Option 43. Then SIGHUP: a bad config is refused (the server keeps serving), a
# good one adds an interface pool next to the relay pool and gives the relay pool a deliberately
# invalid proxy value.
source "$(dirname "$0")/lib.sh"
zl_require_root
zl_require_cmd ip

zl_ns srv
zl_ns relay
zl_ns site
zl_link srv eth0 relay eth0
zl_link relay cl0 site eth0
zl_in srv ip addr add 198.18.20.1/24 dev eth0
zl_in srv ip route add 198.18.30.0/24 via 198.18.20.2
zl_in relay ip addr add 198.18.20.2/24 dev eth0
zl_in relay ip addr add 198.18.30.1/24 dev cl0

relay_pool() { # PROXY
    cat <<JSON
    {
      "relay": "198.18.30.1",
      "server": "198.18.20.1",
      "range": "198.18.30.50-198.18.30.60",
      "subnet_mask": "255.255.255.0",
      "routers": ["198.18.30.1"],
      "lease_time": 900,
      "proxy": "$1"
    }
JSON
}
printf '{"pools": [\n%s\n]}\n' "$(relay_pool 10.92.53.8:3128)" >"$ZL_TMP/dhcpd.json"
zl_start dhcpd srv "$ZTP_BIN/mock-dhcpd" --config "$ZL_TMP/dhcpd.json" --leases "$ZL_TMP/leases.json"
log="$ZL_TMP/dhcpd.log"
grep -q 'event=dhcpd.listen ifname=\* ' "$log" || zl_fail "no relay socket opened"

probe() { # NAME ARGS...: run dhcp-probe in the relay namespace, output in $ZL_TMP/NAME.out
    local name=$1 rc=0
    shift
    zl_in relay "$ZTP_BIN/dhcp-probe" "$@" >"$ZL_TMP/$name.out" 2>>"$ZL_TMP/probe.log" || rc=$?
    cat "$ZL_TMP/$name.out" >>"$ZL_TMP/probe.log"
    return "$rc"
}
expect() { # NAME REPLY FIELD=VALUE...: the line of REPLY in NAME.out has every FIELD=VALUE
    local name=$1 reply=$2 line kv
    shift 2
    line=$(grep "^reply=$reply " "$ZL_TMP/$name.out") || zl_fail "$name: no $reply (got: $(cat "$ZL_TMP/$name.out"))"
    for kv in "$@"; do
        case " $line " in
        *" $kv "*) ;;
        *) zl_fail "$name: $reply lacks $kv: $line" ;;
        esac
    done
}

# 1. Relayed DORA through the unbound relay socket.
probe dora1 --relay 198.18.30.1 --server 198.18.20.1 --type dora --hops 1 --mac 02:00:5e:00:30:01 -q ||
    zl_fail "relayed DORA failed (exit $?)"
for r in OFFER ACK; do
    expect dora1 "$r" from=198.18.20.1:67 yiaddr=198.18.30.50 giaddr=198.18.30.1 hops=1 server_id=198.18.20.1 \
        lease=900 subnet_mask=255.255.255.0 routers=198.18.30.1 option43_len=17 'proxy="10.92.53.8:3128"'
done
grep 'event=dhcp.exchange' "$log" | grep 'msg=DISCOVER' | grep 'pool=relay:198.18.30.1' |
    grep 'giaddr=198.18.30.1 hops=1' | grep -q 'dst=198.18.30.1:67' || zl_fail "relayed OFFER not logged as sent to giaddr:67"
zl_log "relayed DORA: 198.18.30.50 via giaddr 198.18.30.1, answered on port 67"

# 2. A bad config on SIGHUP is refused, the running one keeps serving.
cp "$ZL_TMP/dhcpd.json" "$ZL_TMP/dhcpd.good.json"
printf '{"pools": [{"relay": "198.18.30.1", "server": "198.18.20.1", "range": "198.18.30.60-198.18.30.50", "subnet_mask": "255.255.255.0"}]}\n' \
    >"$ZL_TMP/dhcpd.json"
kill -HUP "$(zl_pid dhcpd)"
zl_wait 5 "the refused reload" grep -q 'event=dhcpd.reload ok=false' "$log"
grep 'event=dhcpd.reload ok=false' "$log" | grep -q 'pools\[0\].range: start 198.18.30.60 is after end 198.18.30.50' ||
    zl_fail "the reload error does not name the key"
probe dora2 --relay 198.18.30.1 --server 198.18.20.1 --type discover --mac 02:00:5e:00:30:02 -q ||
    zl_fail "no OFFER after a refused reload"
expect dora2 OFFER yiaddr=198.18.30.51 'proxy="10.92.53.8:3128"'

# 3. A good config: an interface pool on eth0 plus the relay pool with an invalid proxy value
#    (sent verbatim). The relayed unicast now arrives on eth0's own socket.
cat >"$ZL_TMP/dhcpd.json" <<JSON
{"pools": [
    {
      "interface": "eth0",
      "server": "198.18.20.1",
      "range": "198.18.20.100-198.18.20.110",
      "subnet_mask": "255.255.255.0",
      "proxy": "10.92.53.9:3128"
    },
$(relay_pool proxy.example.net:3128)
]}
JSON
kill -HUP "$(zl_pid dhcpd)"
zl_wait 5 "the reload" grep -q 'event=dhcpd.reload ok=true pools=2 sockets=2' "$log"
grep -q 'event=dhcpd.proxy_invalid pool=relay:198.18.30.1' "$log" || zl_fail "the invalid proxy value was not flagged"
probe dora3 --relay 198.18.30.1 --server 198.18.20.1 --type dora --hops 3 --mac 02:00:5e:00:30:03 -q ||
    zl_fail "relayed DORA after the reload failed"
expect dora3 ACK yiaddr=198.18.30.52 giaddr=198.18.30.1 hops=3 'proxy="proxy.example.net:3128"'
grep 'event=dhcp.exchange' "$log" | grep 'chaddr=02:00:5e:00:30:03' | grep 'msg=REQUEST' |
    grep -q 'ifname=eth0 pool=relay:198.18.30.1' || zl_fail "relayed REQUEST not served by the relay pool on eth0"
# A client directly on eth0 (the relay namespace's own link) gets the interface pool.
probe direct --iface eth0 --type dora --mac 02:00:5e:00:30:04 -q || zl_fail "direct DORA on eth0 failed"
expect direct ACK from=198.18.20.1:67 yiaddr=198.18.20.100 giaddr=0.0.0.0 'proxy="10.92.53.9:3128"'
zl_log "after SIGHUP: relay pool and eth0 pool served side by side"

# 4. A client with another vendor class behind the relay: lease, no Option 43.
probe other --relay 198.18.30.1 --server 198.18.20.1 --type discover --vendor-class "OtherVendor" \
    --mac 02:00:5e:00:30:05 -q || zl_fail "relayed DISCOVER (other vendor) failed"
expect other OFFER giaddr=198.18.30.1 option43=- proxy=-

# 5. Not DHCP at all: logged (quoted) and dropped, the server carries on.
zl_in relay bash -c 'printf "hello\n" >/dev/udp/198.18.20.1/67'
zl_wait 5 "the dropped datagram" grep -q 'event=dhcp.drop' "$log"
grep 'event=dhcp.drop' "$log" | grep 'len=6' | grep -q 'head="hello\\x0a"' || zl_fail "drop not logged as expected"

zl_stop dhcpd
grep -q 'event=dhcpd.stop received=9 replied=8 silent=0 dropped=1' "$log" ||
    zl_fail "unexpected counters: $(grep event=dhcpd.stop "$log")"
zl_log "PASS"
