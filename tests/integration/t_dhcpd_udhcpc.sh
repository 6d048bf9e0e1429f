#!/bin/bash
# mock-dhcpd against busybox udhcpc: with Option 60 "JuniperSSR" and 43 requested, udhcpc gets its
# lease and Option 43 = sub-option 128 "address:port" (dnsmasq-style END appended, as configured);
# with its default vendor class it gets a lease without Option 43. A DHCPRELEASE frees the address.
source "$(dirname "$0")/lib.sh"
zl_require_root
zl_require_cmd busybox ip

PROXY="198.18.99.7:8080"
# Option 43 as udhcpc exports it (opt43, hex without separators): 80 len value ff.
want43=$(printf '\x80\x10%s\xff' "$PROXY" | od -An -tx1 -v | tr -d ' \n')

zl_ns srv
zl_ns cli
zl_link cli eth0 srv eth0 02:00:5e:00:20:01
zl_in srv ip addr add 198.18.12.1/24 dev eth0

cat >"$ZL_TMP/dhcpd.json" <<JSON
{
  "pools": [
    {
      "interface": "eth0",
      "server": "198.18.12.1",
      "range": "198.18.12.20-198.18.12.29",
      "subnet_mask": "255.255.255.0",
      "routers": ["198.18.12.1"],
      "dns": ["198.18.12.53"],
      "proxy": "$PROXY",
      "option43_end": true
    }
  ]
}
JSON
zl_start dhcpd srv "$ZTP_BIN/mock-dhcpd" --config "$ZL_TMP/dhcpd.json" --leases "$ZL_TMP/leases.json"

# udhcpc runs "SCRIPT deconfig|bound|renew|nak" with the lease in its environment. Record it, and
# apply the address (udhcpc sends its RELEASE by unicast from it).
cat >"$ZL_TMP/udhcpc-script" <<SH
#!/bin/sh
env | grep -E '^(interface|ip|subnet|router|dns|serverid|lease|opt[0-9]+|vendor|domain)=' | sort >"$ZL_TMP/env.\$1.tmp"
mv "$ZL_TMP/env.\$1.tmp" "$ZL_TMP/env.\$1"
case "\$1" in
deconfig) ip -4 addr flush dev "\$interface" ;;
bound | renew) ip -4 addr flush dev "\$interface"; ip -4 addr add "\$ip/\$subnet" dev "\$interface" ;;
esac
exit 0
SH
chmod 755 "$ZL_TMP/udhcpc-script"

envval() { sed -n "s/^$2=//p" "$1"; }

run_udhcpc() { # VENDOR-CLASS
    rm -f "$ZL_TMP"/env.*
    zl_in cli timeout 30 busybox udhcpc -i eth0 -n -q -f -t 5 -T 1 -s "$ZL_TMP/udhcpc-script" -V "$1" -O 43 \
        >>"$ZL_TMP/udhcpc.log" 2>&1 || zl_fail "udhcpc (vendor class $1) got no lease"
    [ -f "$ZL_TMP/env.bound" ] || zl_fail "the udhcpc script was not called with bound"
}

run_udhcpc JuniperSSR
e="$ZL_TMP/env.bound"
[ "$(envval "$e" ip)" = 198.18.12.20 ] || zl_fail "leased $(envval "$e" ip), expected 198.18.12.20"
[ "$(envval "$e" subnet)" = 255.255.255.0 ] || zl_fail "subnet $(envval "$e" subnet)"
[ "$(envval "$e" router)" = 198.18.12.1 ] || zl_fail "router $(envval "$e" router)"
[ "$(envval "$e" dns)" = 198.18.12.53 ] || zl_fail "dns $(envval "$e" dns)"
[ "$(envval "$e" serverid)" = 198.18.12.1 ] || zl_fail "serverid $(envval "$e" serverid)"
[ "$(envval "$e" lease)" = 6000 ] || zl_fail "lease $(envval "$e" lease), expected the default 6000"
got43=$(envval "$e" opt43 | tr 'A-F' 'a-f')
[ "$got43" = "$want43" ] || zl_fail "opt43=$got43, expected $want43"
zl_log "udhcpc -V JuniperSSR: 198.18.12.20, opt43=$got43"

grep 'event=dhcp.exchange' "$ZL_TMP/dhcpd.log" | grep 'msg=REQUEST' | grep 'reply=ACK' |
    grep 'vendor_class="JuniperSSR"' | grep -q 'opt43=sent' || zl_fail "no ACK with option 43 logged"

# Same client, another vendor class: the same address (same client-id), no Option 43.
run_udhcpc "udhcp 1.35.0"
[ "$(envval "$e" ip)" = 198.18.12.20 ] || zl_fail "second lease $(envval "$e" ip), expected 198.18.12.20 again"
! grep -q '^opt43=' "$e" || zl_fail "vendor class \"udhcp 1.35.0\" got option 43"
grep 'event=dhcp.exchange' "$ZL_TMP/dhcpd.log" | grep 'msg=REQUEST' | grep 'reply=ACK' |
    grep 'vendor_class="udhcp 1.35.0"' | grep -q 'opt43=class-mismatch' || zl_fail "no ACK without option 43 logged"
zl_log "udhcpc -V 'udhcp 1.35.0': 198.18.12.20 without option 43"

# Without -O 43 the class matches but 43 is not requested: no Option 43 (see README). This time
# udhcpc stays running; SIGUSR2 makes it send a DHCPRELEASE (by unicast from the leased address),
# after which the lease file says released.
rm -f "$ZL_TMP"/env.*
zl_start_plain udhcpc cli busybox udhcpc -i eth0 -f -t 5 -T 1 -s "$ZL_TMP/udhcpc-script" -V JuniperSSR
zl_wait 15 "udhcpc bound without -O 43" test -f "$ZL_TMP/env.bound"
! grep -q '^opt43=' "$e" || zl_fail "option 43 sent although udhcpc did not request it"
grep 'event=dhcp.exchange' "$ZL_TMP/dhcpd.log" | grep 'msg=REQUEST' | grep 'vendor_class="JuniperSSR"' |
    grep -q 'opt43=not-requested' || zl_fail "no ACK logged with opt43=not-requested"
kill -USR2 "$(zl_pid udhcpc)"
zl_wait 5 "the RELEASE in the lease file" grep -q '"state": "released"' "$ZL_TMP/leases.json"
grep 'event=dhcp.exchange' "$ZL_TMP/dhcpd.log" | grep 'msg=RELEASE' | grep 'reply=none' | grep -q 'reason="released"' ||
    zl_fail "no RELEASE logged"
zl_stop udhcpc
zl_log "PASS"
