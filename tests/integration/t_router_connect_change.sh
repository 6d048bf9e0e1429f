#!/usr/bin/env bash
# router-connect-change: when the active proxy changes, new connections use the new one.
#
#   r1a --(wan0, 198.18.1.0/24, lease 4 s)-- proxy: mock-dhcpd; Squid on 198.18.1.1:3128 and
#                                            198.18.1.2:3128; 198.18.1.9 answers nothing on 3128
#                                            --(198.18.2.0/24)-- mist: openssl s_server -www
#
# 1. DHCP gives 198.18.1.9:3128: nothing listens, phone-home fails (proxy-connect-failed) and retries
#    with backoff.
# 2. The DHCP server now says 198.18.1.1:3128: at the renewal the node switches, phone-home starts a
#    new round at once (not at the end of its backoff) and reaches ok through .1.
# 3. Then 198.18.1.2:3128: phone-home runs again, through .2; `ssr-cli fetch` goes through .2 too.
# Squid's access log records the local address each CONNECT arrived on (%>la).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
zl_require_root
zl_require_cmd jq openssl ss
[ -x /usr/sbin/squid ] || zl_skip "squid is not installed (scripts/deps.sh installs it)"

PNS=$(zl_nsname proxy)

PKI=$ZL_TMP/pki
mkdir -p "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/O=ZTP Lab/CN=Mist Lab Root CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Mist Lab/CN=ep-terminator.mistsys.net" \
    -keyout "$PKI/ep.key" -out "$PKI/ep.csr" 2>/dev/null
printf 'subjectAltName=DNS:ep-terminator.mistsys.net\nextendedKeyUsage=serverAuth\n' >"$PKI/ep.ext"
openssl x509 -req -in "$PKI/ep.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 2 \
    -extfile "$PKI/ep.ext" -out "$PKI/ep.crt" 2>/dev/null

zl_ns proxy
zl_ns mist
zl_ns r1a
zl_segment r1a wan0 proxy mpls0 198.18.1.1/24
ip -n "$PNS" addr add 198.18.1.2/24 dev mpls0
ip -n "$PNS" addr add 198.18.1.9/24 dev mpls0
zl_link proxy inet0 mist eth0
ip -n "$PNS" addr add 198.18.2.1/24 dev inet0
ip -n "$(zl_nsname mist)" addr add 198.18.2.10/24 dev eth0
ip netns exec "$PNS" sysctl -qw net.ipv4.ip_forward=0
zl_hosts proxy "198.18.2.10 ep-terminator.mistsys.net"

zl_start_plain s-ep mist openssl s_server -www -accept 198.18.2.10:443 -cert "$PKI/ep.crt" -key "$PKI/ep.key"
zl_wait 5 "s_server listening" bash -c "ip netns exec $(zl_nsname mist) ss -ltnH 'sport = :443' | grep -q ."

SQ=$ZL_TMP/squid
mkdir -p "$SQ"
cat >"$SQ/squid.conf" <<EOF
http_port 198.18.1.1:3128
http_port 198.18.1.2:3128
visible_hostname proxy.ztp-lab
pid_filename $SQ/squid.pid
cache_log $SQ/cache.log
logformat lab %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a local=%>la:%>lp
access_log stdio:$SQ/access.log lab
cache_store_log none
netdb_filename none
logfile_rotate 0
cache deny all
cache_mem 4 MB
coredump_dir $SQ
shutdown_lifetime 0 seconds
pinger_enable off
dns_nameservers 127.0.0.1
hosts_file /etc/hosts
acl lab src 198.18.0.0/15
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow lab
http_access deny all
EOF
chown -R proxy:proxy "$SQ"
chmod o+x "$ZL_TMP"
zl_start_plain squid proxy /usr/sbin/squid -N -f "$SQ/squid.conf"
zl_wait 10 "Squid listening on 198.18.1.1:3128 and 198.18.1.2:3128" \
    bash -c "[ \$(ip netns exec $PNS ss -ltnH 'sport = :3128' | wc -l) -eq 2 ]"

pool() { printf '{"pools":[{"interface":"mpls0","server":"198.18.1.1","range":"198.18.1.100-198.18.1.199","subnet_mask":"255.255.255.0","lease_time":4,"proxy":"%s"}]}' "$1"; }
zl_dhcpd dhcpd proxy "$(pool 198.18.1.9:3128)"
zl_node r1a r1a "management-proxy enable
node r1a device-interface wan0 network-interface wan0-net dhcp v4" \
    --phone-home-url https://ep-terminator.mistsys.net/ --mist-ca "$PKI/ca.crt"
zl_expect_active r1a 198.18.1.9:3128

ph() { zl_cli r1a --json show phone-home | jq -r ".\"phone-home\" | $1"; }
ph_wait() { # TIMEOUT DESCRIPTION JQ-CONDITION
    zl_wait "$1" "$2" bash -c "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/r1a.sock' --json show phone-home | jq -e '.\"phone-home\" | $3'"
}
setproxy() {
    pool "$1" >"$ZL_TMP/dhcpd.json"
    local n; n=$(grep -c 'event=dhcpd.reload.*ok=true' "$ZL_TMP/dhcpd.log" || true)
    kill -HUP "$(zl_pid dhcpd)"
    zl_wait 5 "mock-dhcpd reloaded" bash -c "[ \$(grep -c 'event=dhcpd.reload.*ok=true' '$ZL_TMP/dhcpd.log') -gt $n ]"
}

# 1. a dead proxy: failures, retried with backoff
ph_wait 6 "phone-home retried against the dead proxy" '."attempts-total" >= 2 and ."last-result".class == "proxy-connect-failed"'
zl_assert_eq "through the dead proxy" "$(ph '"\(.state) \(."last-result".proxy) \(."last-result".message)"')" \
    "backoff 198.18.1.9:3128 cannot connect to proxy 198.18.1.9:3128: Connection refused"

# 2. the DHCP server changes the proxy: at the renewal, a new round at once, ok through .1
setproxy 198.18.1.1:3128
zl_expect_active r1a 198.18.1.1:3128 8
ph_wait 5 "phone-home ok through 198.18.1.1" '.state == "ok" and ."last-result".proxy == "198.18.1.1:3128"'
zl_assert_eq "after the first change" "$(ph '"\(.state) \(.round) \(.attempts) \(."last-result".status) \(."last-result".proxy)"')" \
    "ok 2 1 200 198.18.1.1:3128"
grep -q 'event=proxy.changed old=198.18.1.9:3128 new=198.18.1.1:3128 .*cause=dhcp.renew' "$ZL_TMP/r1a.log" ||
    zl_fail "no proxy.changed .9 -> .1 by renewal"
# The new round started at the change, not at the end of the backoff.
chg=$(grep -m1 'event=proxy.changed old=198.18.1.9:3128' "$ZL_TMP/r1a.log" | sed 's/^ts=\([^ ]*\).*/\1/')
att=$(grep 'event=phonehome.attempt attempt=1 round=2 ' "$ZL_TMP/r1a.log" | sed 's/^ts=\([^ ]*\).*/\1/')
gap=$(( $(date -d "$att" +%s%3N) - $(date -d "$chg" +%s%3N) ))
[ -n "$att" ] && [ "$gap" -ge 0 ] && [ "$gap" -lt 200 ] || zl_fail "round 2 did not start at the change ($chg, $att)"
zl_ok "round 2 started ${gap} ms after the change ($chg)"
zl_wait 5 "Squid logged the tunnel on 198.18.1.1" \
    grep -qE 'TCP_TUNNEL/200 [0-9]+ CONNECT ep-terminator\.mistsys\.net:443 - HIER_DIRECT/198\.18\.2\.10 local=198\.18\.1\.1:3128' "$SQ/access.log"
zl_ok "Squid: the tunnel arrived on 198.18.1.1:3128"

# 3. again, to .2: phone-home runs again through .2, and so does a fetch
setproxy 198.18.1.2:3128
zl_expect_active r1a 198.18.1.2:3128 8
ph_wait 5 "phone-home ok through 198.18.1.2" '.state == "ok" and ."last-result".proxy == "198.18.1.2:3128"'
zl_assert_eq "after the second change" "$(ph '"\(.round) \(.successes) \(."last-result".proxy)"')" "3 2 198.18.1.2:3128"
zl_cli r1a fetch https://ep-terminator.mistsys.net/ >/dev/null 2>"$ZL_TMP/fetch.err" || zl_fail "fetch: $(cat "$ZL_TMP/fetch.err")"
grep -q 'via proxy 198.18.1.2:3128' "$ZL_TMP/fetch.err" || zl_fail "fetch did not use the new proxy: $(cat "$ZL_TMP/fetch.err")"
zl_wait 5 "Squid logged two tunnels on 198.18.1.2" \
    bash -c "[ \$(grep -cE 'TCP_TUNNEL/200 .* local=198\.18\.1\.2:3128' '$SQ/access.log') -ge 2 ]"
zl_ok "Squid: phone-home and fetch arrived on 198.18.1.2:3128 after the change"
