#!/usr/bin/env bash
# router-connect-squid: ssr-node reaches an HTTPS endpoint at the Mist address through real Squid.
#
#   r1a --(wan0, 198.18.1.0/24)--+
#   r2a --(wan0, 198.18.3.0/24)--+-- proxy: mock-dhcpd + Squid on .1:3128 of each --(198.18.2.0/24)-- mist:
#   r3a --(wan0, 198.18.4.0/24)--+   (no forwarding; ep-terminator.mistsys.net etc.     openssl s_server -www
#                                     in the proxy namespace's hosts file)                 .10 (lab CA), .11 (rogue CA)
#
# The routers get an address and the proxy (Option 43) by DHCP, no default route: only Squid, which
# resolves the Mist names, reaches the mist namespace. Squid wants Basic credentials and denies
# denied.mistsys.net and CONNECT to ports other than 443.
#   r1a (username ssr, password set): phone-home reaches ok, HTTP 200, peer CN=ep-terminator...;
#        Squid logs TCP_TUNNEL/200 CONNECT ep-terminator.mistsys.net:443 with user ssr from r1a's
#        address; `ssr-cli fetch` shows the failures: another CA, a wrong name, port 8443.
#   r2a (no credentials): 407 Proxy Authentication Required, retried with backoff.
#   r3a (credentials, phone-home URL https://denied.mistsys.net/): 403 ERR_ACCESS_DENIED, retried.
#
# The same script runs against the lab's own proxy: t_router_connect_mockproxy.sh sources it with
# ZL_CONNECT_PROXY=mock-proxy (same ACLs, same users, same assertions).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ssr.sh"
ZL_CONNECT_PROXY=${ZL_CONNECT_PROXY:-squid}
zl_require_root
zl_require_cmd jq openssl curl ss
if [ "$ZL_CONNECT_PROXY" = squid ]; then
    [ -x /usr/sbin/squid ] || zl_skip "squid is not installed (scripts/deps.sh installs it)"
    [ -x /usr/lib/squid/basic_ncsa_auth ] || zl_skip "squid's basic_ncsa_auth helper is missing"
else
    [ -x "$ZTP_BIN/mock-proxy" ] || zl_skip "mock-proxy is not built ($ZTP_BIN/mock-proxy)"
fi

PNS=$(zl_nsname proxy)

# ---- PKI: the lab's Mist root CA, a rogue CA, and the server certificates ----
PKI=$ZL_TMP/pki
mkdir -p "$PKI"
mkca() { # NAME CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/O=ZTP Lab/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$PKI/$1.key" -out "$PKI/$1.crt" 2>/dev/null
}
mkcert() { # NAME CN CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Mist Lab/CN=$2" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" >"$PKI/$1.ext"
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$3.crt" -CAkey "$PKI/$3.key" -CAcreateserial -days 2 \
        -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
}
mkca mist-ca "Mist Lab Root CA"
mkca rogue-ca "Rogue Root CA"
mkcert ep ep-terminator.mistsys.net mist-ca
mkcert rogue rogue.mistsys.net rogue-ca
zl_ok "PKI: Mist root CA, rogue CA, ep-terminator (Mist CA), rogue (rogue CA)"

# ---- topology ----
zl_ns proxy
zl_ns mist
zl_ns r1a
zl_ns r2a
zl_ns r3a
zl_segment r1a wan0 proxy mpls1 198.18.1.1/24
zl_segment r2a wan0 proxy mpls2 198.18.3.1/24
zl_segment r3a wan0 proxy mpls3 198.18.4.1/24
zl_link proxy inet0 mist eth0
ip -n "$PNS" addr add 198.18.2.1/24 dev inet0
ip -n "$(zl_nsname mist)" addr add 198.18.2.10/24 dev eth0
ip -n "$(zl_nsname mist)" addr add 198.18.2.11/24 dev eth0
ip netns exec "$PNS" sysctl -qw net.ipv4.ip_forward=0
# The proxy resolves the Mist names through its namespace's hosts file (lib.sh removes it).
zl_hosts proxy "198.18.2.10 ep-terminator.mistsys.net wrong.mistsys.net denied.mistsys.net" \
    "198.18.2.11 rogue.mistsys.net"

# ---- the Mist side: openssl s_server ----
zl_start_plain s-ep mist openssl s_server -www -accept 198.18.2.10:443 -cert "$PKI/ep.crt" -key "$PKI/ep.key"
zl_start_plain s-rogue mist openssl s_server -www -accept 198.18.2.11:443 -cert "$PKI/rogue.crt" -key "$PKI/rogue.key"
zl_wait 5 "s_server listening on 198.18.2.10:443 and .11:443" \
    bash -c "[ \$(ip netns exec $(zl_nsname mist) ss -ltnH 'sport = :443' | wc -l) -eq 2 ]"

# ---- the proxy: Squid, or mock-proxy with the same policy ----
SQ=$ZL_TMP/squid
mkdir -p "$SQ"
if [ "$ZL_CONNECT_PROXY" = squid ]; then
printf 'ssr:%s\n' "$(openssl passwd -apr1 's3cret:x')" >"$SQ/passwd"
cat >"$SQ/squid.conf" <<EOF
http_port 198.18.1.1:3128
http_port 198.18.3.1:3128
http_port 198.18.4.1:3128
visible_hostname proxy.ztp-lab
pid_filename $SQ/squid.pid
cache_log $SQ/cache.log
access_log stdio:$SQ/access.log squid
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
auth_param basic program /usr/lib/squid/basic_ncsa_auth $SQ/passwd
auth_param basic children 2 startup=1 idle=1
auth_param basic realm ztp-lab
acl lab src 198.18.0.0/15
acl SSL_ports port 443
acl CONNECT method CONNECT
acl denied_dom dstdomain denied.mistsys.net
acl authenticated proxy_auth REQUIRED
http_access deny CONNECT !SSL_ports
http_access deny !lab
http_access deny denied_dom
http_access allow lab authenticated
http_access deny all
EOF
chown -R proxy:proxy "$SQ"
chmod o+x "$ZL_TMP"
/usr/sbin/squid -k parse -f "$SQ/squid.conf" >"$SQ/parse.log" 2>&1 || zl_fail "squid -k parse: $(tail -3 "$SQ/parse.log")"
zl_start_plain squid proxy /usr/sbin/squid -N -f "$SQ/squid.conf"
zl_wait 10 "Squid listening on 198.18.1.1:3128, 198.18.3.1:3128, 198.18.4.1:3128" \
    bash -c "[ \$(ip netns exec $PNS ss -ltnH 'sport = :3128' | wc -l) -eq 3 ]"
zl_ok "Squid $(/usr/sbin/squid -v | sed -n 's/.*Version \([^ ]*\).*/\1/p') listening"
else
printf 'ssr:s3cret:x\n' >"$SQ/users"
cat >"$SQ/mock-proxy.json" <<EOF
{
  "listen": ["198.18.1.1:3128", "198.18.3.1:3128", "198.18.4.1:3128"],
  "access_log": "$SQ/access.log",
  "allow_src": ["198.18.0.0/15"],
  "ssl_ports": [443],
  "deny_domains": ["denied.mistsys.net"],
  "auth": {"users_file": "$SQ/users", "realm": "ztp-lab"}
}
EOF
"$ZTP_BIN/mock-proxy" --check --config "$SQ/mock-proxy.json" >"$SQ/check.log" 2>&1 ||
    zl_fail "mock-proxy --check: $(tail -2 "$SQ/check.log")"
zl_start mock-proxy proxy "$ZTP_BIN/mock-proxy" --config "$SQ/mock-proxy.json" --host proxy
zl_ok "mock-proxy listening"
fi

# ---- DHCP: each segment's proxy is Squid's address on it; no routers option ----
pool() { printf '{"interface":"%s","server":"%s.1","range":"%s.100-%s.199","subnet_mask":"255.255.255.0","lease_time":600,"proxy":"%s.1:3128"}' "$1" "$2" "$2" "$2" "$2"; }
zl_dhcpd dhcpd proxy "{\"pools\":[$(pool mpls1 198.18.1),$(pool mpls2 198.18.3),$(pool mpls3 198.18.4)]}"

# ---- the routers ----
PH="--phone-home-url https://ep-terminator.mistsys.net/ --mist-ca $PKI/mist-ca.crt"
CREDS="management-proxy username ssr
management-proxy password s3cret:x"
zl_node r1a r1a "management-proxy enable
$CREDS
node r1a device-interface wan0 network-interface wan0-net dhcp v4" $PH
zl_node r2a r2a "management-proxy enable
node r2a device-interface wan0 network-interface wan0-net dhcp v4" $PH
zl_node r3a r3a "management-proxy enable
$CREDS
node r3a device-interface wan0 network-interface wan0-net dhcp v4" \
    --phone-home-url https://denied.mistsys.net/ --mist-ca "$PKI/mist-ca.crt"
zl_expect_active r1a 198.18.1.1:3128
zl_expect_active r2a 198.18.3.1:3128
zl_expect_active r3a 198.18.4.1:3128

ph() { zl_cli "$1" --json show phone-home | jq -r ".\"phone-home\" | $2"; }
addr_of() { ip -n "$(zl_nsname "$1")" -4 -o addr show dev wan0 | awk '{print $4}' | cut -d/ -f1; }

# ---- r1a: phone-home reaches the EP terminator through Squid ----
zl_wait 15 "r1a phone-home ok" bash -c "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/r1a.sock' --json show phone-home | jq -e '.\"phone-home\".state == \"ok\"'"
zl_assert_eq "r1a phone-home" "$(ph r1a '"\(.state) \(."last-result".status) \(."last-result".class) via \(.proxy) user \(."proxy-user")"')" \
    "ok 200 ok via 198.18.1.1:3128 user ssr"
zl_assert_eq "r1a TLS peer" "$(ph r1a '."last-result"."peer-subject"')" "CN=ep-terminator.mistsys.net,O=Mist Lab"
zl_assert_eq "r1a TLS issuer" "$(ph r1a '."last-result"."peer-issuer"')" "CN=Mist Lab Root CA,O=ZTP Lab"
zl_cli r1a show phone-home >"$ZL_TMP/r1a.show" || zl_fail "ssr-cli show phone-home failed"
grep -q 'state:     ok' "$ZL_TMP/r1a.show" || zl_fail "show phone-home (text) does not say ok"
sed 's/^/    /' "$ZL_TMP/r1a.show" >&2
A1=$(addr_of r1a)
zl_wait 5 "$ZL_CONNECT_PROXY access.log: TCP_TUNNEL/200 CONNECT ep-terminator.mistsys.net:443 from $A1 user ssr" \
    grep -qE "^[0-9.]+ +[0-9]+ $A1 TCP_TUNNEL/200 [0-9]+ CONNECT ep-terminator\.mistsys\.net:443 ssr HIER_DIRECT/198\.18\.2\.10 " "$SQ/access.log"
zl_ok "$ZL_CONNECT_PROXY carried r1a ($A1): $(grep -E " $A1 TCP_TUNNEL/200 " "$SQ/access.log" | head -1 | cut -c1-160)"

# r1a itself cannot reach the Mist namespace.
if ip -n "$(zl_nsname r1a)" route get 198.18.2.10 >/dev/null 2>&1; then zl_fail "r1a has a route to 198.18.2.10"; fi
if zl_in r1a curl -sS --max-time 3 --cacert "$PKI/mist-ca.crt" --resolve ep-terminator.mistsys.net:443:198.18.2.10 \
    https://ep-terminator.mistsys.net/ >"$ZL_TMP/direct.out" 2>&1; then
    zl_fail "r1a reached the mist namespace directly"
fi
zl_ok "r1a has no route to the mist namespace: $(tail -1 "$ZL_TMP/direct.out")"

# ---- r1a: ssr-cli fetch, the same client: bytes, and each TLS and proxy failure ----
zl_cli r1a fetch https://ep-terminator.mistsys.net/ >"$ZL_TMP/fetch.body" 2>"$ZL_TMP/fetch.err" ||
    zl_fail "fetch ep-terminator: $(cat "$ZL_TMP/fetch.err")"
grep -q '^HTTP 200 ok (via proxy 198.18.1.1:3128, TLSv1.3, peer CN=ep-terminator.mistsys.net' "$ZL_TMP/fetch.err" ||
    zl_fail "fetch status line: $(cat "$ZL_TMP/fetch.err")"
grep -q 's_server' "$ZL_TMP/fetch.body" || zl_fail "fetch body is not s_server's page: $(head -c 200 "$ZL_TMP/fetch.body")"
zl_ok "fetch: $(cat "$ZL_TMP/fetch.err"), $(wc -c <"$ZL_TMP/fetch.body") body bytes from s_server"

fetch_fails() { # URL CLASS MESSAGE-PART
    local out
    out=$(zl_cli r1a --json fetch "$1") && zl_fail "fetch $1 succeeded"
    local cls msg
    cls=$(jq -r '.fetch.class' <<<"$out")
    msg=$(jq -r '.fetch.message' <<<"$out")
    [ "$cls" = "$2" ] || zl_fail "fetch $1: class $cls, expected $2 ($msg)"
    [[ "$msg" == *"$3"* ]] || zl_fail "fetch $1: message '$msg' lacks '$3'"
    zl_ok "fetch $1: $cls: $msg"
}
fetch_fails https://rogue.mistsys.net/ tls-failed "certificate verify failed: unable to get local issuer certificate"
fetch_fails https://wrong.mistsys.net/ tls-failed "certificate verify failed: hostname mismatch"
fetch_fails https://ep-terminator.mistsys.net:8443/ proxy-refused "answered CONNECT ep-terminator.mistsys.net:8443 with 403 Forbidden (X-Squid-Error: ERR_ACCESS_DENIED 0)"

# ---- r2a: no credentials: 407, retried with backoff ----
zl_wait 10 "r2a phone-home retried after 407" bash -c \
    "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/r2a.sock' --json show phone-home | jq -e '.\"phone-home\" | .\"attempts-total\" >= 2 and .\"last-result\".\"proxy-status\" == 407'"
zl_assert_eq "r2a phone-home" "$(ph r2a '"\(.state) \(."last-result".class) \(."last-result"."proxy-status") \(."last-result"."proxy-reason") [\(."last-result"."squid-error")]"')" \
    "backoff proxy-refused 407 Proxy Authentication Required [ERR_CACHE_ACCESS_DENIED 0]"
[[ "$(ph r2a '."last-result".message')" == *"no credentials configured"* ]] || zl_fail "r2a: message does not say credentials are missing"
[ "$(ph r2a '."next-retry-in-ms" != null')" = true ] || zl_fail "r2a: no next retry"
zl_cli r2a show phone-home | sed 's/^/    /' >&2
grep -q 'event=phonehome.failed class=proxy-refused .* proxy_status=407 .* retry_in_ms=' "$ZL_TMP/r2a.log" || zl_fail "r2a: no phonehome.failed line"
A2=$(addr_of r2a)
grep -qE " $A2 TCP_DENIED/407 [0-9]+ CONNECT ep-terminator\.mistsys\.net:443 - " "$SQ/access.log" || zl_fail "the proxy did not log r2a's 407"
zl_ok "$ZL_CONNECT_PROXY logged TCP_DENIED/407 for r2a ($A2), $(ph r2a '."attempts-total"') attempts so far"

# ---- r3a: a denied domain: 403, retried ----
zl_wait 10 "r3a phone-home retried after 403" bash -c \
    "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/r3a.sock' --json show phone-home | jq -e '.\"phone-home\" | .\"attempts-total\" >= 2 and .\"last-result\".\"proxy-status\" == 403'"
zl_assert_eq "r3a phone-home" "$(ph r3a '"\(.state) \(."last-result".class) \(."last-result"."proxy-status") \(."last-result"."proxy-reason") [\(."last-result"."squid-error")]"')" \
    "backoff proxy-refused 403 Forbidden [ERR_ACCESS_DENIED 0]"
A3=$(addr_of r3a)
grep -qE " $A3 TCP_DENIED/403 [0-9]+ CONNECT denied\.mistsys\.net:443 (-|ssr) " "$SQ/access.log" || zl_fail "the proxy did not log r3a's 403"
zl_ok "$ZL_CONNECT_PROXY logged TCP_DENIED/403 for r3a ($A3)"

# Backoff: the delays between r2a's attempts grow (1 s, then 2 s, less up to 20 % jitter). (Squid denies
# before it asks for credentials, so its 403 line for r3a has no user; a proxy may log the user it got.)
mapfile -t D < <(grep -o 'event=phonehome.failed .*retry_in_ms=[0-9]*' "$ZL_TMP/r2a.log" | sed 's/.*retry_in_ms=//')
[ "${#D[@]}" -ge 2 ] && [ "${D[0]}" -ge 800 ] && [ "${D[0]}" -le 1000 ] && [ "${D[1]}" -ge 1600 ] && [ "${D[1]}" -le 2000 ] ||
    zl_fail "r2a backoff delays: ${D[*]}"
zl_ok "r2a backoff delays: ${D[*]} ms"

# ---- secrets: the password is in no log and no answer ----
if grep -l 's3cret' "$ZL_TMP"/r[123]a.log "$SQ/access.log" 2>/dev/null; then zl_fail "the proxy password appears in a log"; fi
if zl_cli r1a --json show config | grep -q 's3cret'; then zl_fail "show config shows the password"; fi
zl_assert_eq "r1a show config auth" "$(zl_json r1a config '."config"."management-proxy" | "\(.username) \(."password-set")"')" "ssr true"
grep -q 'event=https.start .* auth=basic user="ssr"' "$ZL_TMP/r1a.log" || zl_fail "r1a: https.start does not log auth=basic user=ssr"
zl_ok "the password is never logged or shown"
