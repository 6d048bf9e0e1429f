#!/usr/bin/env bash
# proxy_denials: every denial and error case gets Squid's status code and X-Squid-Error (non-SSL
# port, unsafe port, denied domain, source not allowed, no/bad credentials with Proxy-Authenticate,
# unresolvable, refused, unreachable, connect timeout, unsupported method/scheme, malformed
# requests); an error reply carries Squid's headers; plain-HTTP GET forwarding works; credentials
# never reach a log; every fault switch behaves and is changed at run time by SIGHUP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_proxy.sh"
zl_require_root
zl_require_cmd curl jq ss busybox
[ -x "$ZTP_BIN/mock-proxy" ] && [ -x "$ZTP_BIN/proxy-probe" ] || zl_fail "build mock-proxy and proxy-probe first ($ZTP_BIN)"

zp_topology
mkdir -p "$ZL_TMP/www"
echo "hello plain http" >"$ZL_TMP/www/index.html"
zl_start_plain httpd mist busybox httpd -f -p 198.18.30.10:80 -h "$ZL_TMP/www"
zl_wait 5 "busybox httpd listening" zp_listening mist 198.18.30.10:80
zl_start echo mist "$ZTP_BIN/proxy-probe" echo --listen 198.18.30.12:443
zl_start echo-ep mist "$ZTP_BIN/proxy-probe" echo --listen 198.18.30.10:443 # stands in for the EP terminator
printf 'alice:secret\n' >"$ZL_TMP/users"
write_config() { # FAULTS-JSON
    cat >"$ZL_TMP/proxy.json" <<JSON
{"allow_src": ["198.18.1.100/32"], "deny_domains": [".denied.example"],
 "timeouts": {"connect_ms": 1000}, "faults": $1}
JSON
}
write_config '{}'
zl_start proxy proxy "$ZTP_BIN/mock-proxy" --listen 198.18.1.1:3128 --config "$ZL_TMP/proxy.json" \
    --access-log "$ZL_TMP/access.log" --stats "$ZL_TMP/proxy.stats.json" --host proxy1
zl_start authproxy proxy "$ZTP_BIN/mock-proxy" --listen 198.18.1.1:3129 --users "$ZL_TMP/users" \
    --access-log "$ZL_TMP/access.log" --host proxy1
P=198.18.1.1:3128
A=198.18.1.1:3129

# row NAME PROXY STATUS SQUID-ERROR REQUEST [probe options]
row() {
    local name=$1 proxy=$2 want=$3 werr=$4 req=$5; shift 5
    local out st err
    out=$(zp_raw "$proxy" "$req" --timeout 5 "$@" 2>/dev/null) || true
    st=$(zp_status <<<"$out")
    err=$(zp_header X-Squid-Error <<<"$out")
    [ "$st" = "$want" ] || zl_fail "$name: status $st, expected $want (X-Squid-Error: $err)"
    [ -z "$werr" ] || [ "$err" = "$werr" ] || zl_fail "$name: X-Squid-Error \"$err\", expected \"$werr\""
    zl_ok "$name -> $st${err:+ $err}"
    LAST=$out
}

row "CONNECT allowed" $P 200 "" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nHost: ep-terminator.mistsys.net:443\r\n\r\n'
[ "$(head -c 39 <<<"$LAST" | od -An -c | tr -s ' ')" = "$(printf 'HTTP/1.1 200 Connection established\r\n\r\n' | od -An -c | tr -s ' ')" ] ||
    zl_fail "the 200 is not exactly \"HTTP/1.1 200 Connection established\\r\\n\\r\\n\""
row "CONNECT to a non-SSL port" $P 403 "ERR_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:80 HTTP/1.1\r\n\r\n'
# Squid's error reply headers
for h in Server Mime-Version Date Content-Type Content-Length X-Squid-Error Connection; do
    [ -n "$(zp_header "$h" <<<"$LAST")" ] || zl_fail "403 reply lacks $h"
done
[ "$(zp_header Connection <<<"$LAST")" = close ] || zl_fail "403 reply is not Connection: close"
body_len=$(sed '1,/^\r$/d' <<<"$LAST" | wc -c)
[ "$body_len" -eq "$(zp_header Content-Length <<<"$LAST")" ] || zl_fail "Content-Length does not match the body ($body_len)"
grep -q '<body id="ERR_ACCESS_DENIED">' <<<"$LAST" || zl_fail "the error page does not name ERR_ACCESS_DENIED"
zl_ok "error reply: Server, Mime-Version, Date, Content-Type, Content-Length (=$body_len), X-Squid-Error, Connection: close"
row "CONNECT to an unsafe port" $P 403 "ERR_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:22 HTTP/1.1\r\n\r\n'
row "CONNECT to a denied domain" $P 403 "ERR_ACCESS_DENIED 0" 'CONNECT www.denied.example:443 HTTP/1.1\r\n\r\n'
row "CONNECT to the denied domain itself" $P 403 "ERR_ACCESS_DENIED 0" 'CONNECT denied.example:443 HTTP/1.1\r\n\r\n'
row "source not allowed" $P 403 "ERR_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n' --src 198.18.1.200
row "no credentials" $A 407 "ERR_CACHE_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n'
[ "$(zp_header Proxy-Authenticate <<<"$LAST")" = 'Basic realm="mock-proxy"' ] || zl_fail "407 without Proxy-Authenticate: Basic realm=\"mock-proxy\""
zl_ok "407 carries Proxy-Authenticate: Basic realm=\"mock-proxy\""
row "bad credentials" $A 407 "ERR_CACHE_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6d3Jvbmc=\r\n\r\n'
row "undecodable credentials" $A 407 "ERR_CACHE_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nProxy-Authorization: Basic !!!\r\n\r\n'
row "good credentials" $A 200 "" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n'
row "unresolvable name" $P 503 "ERR_DNS_FAIL 0" 'CONNECT nx.invalid:443 HTTP/1.1\r\n\r\n'
row "connection refused" $P 503 "ERR_CONNECT_FAIL 111" 'CONNECT refused.test:443 HTTP/1.1\r\n\r\n'
row "network unreachable" $P 503 "ERR_CONNECT_FAIL 101" 'CONNECT 198.18.99.1:443 HTTP/1.1\r\n\r\n'
row "connect timeout (1 s)" $P 503 "ERR_CONNECT_FAIL 110" 'CONNECT 198.18.40.5:443 HTTP/1.1\r\n\r\n'
row "unsupported method (OPTIONS *)" $P 501 "ERR_UNSUP_REQ 0" 'OPTIONS * HTTP/1.1\r\n\r\n'
row "unsupported scheme (ftp://)" $P 501 "ERR_UNSUP_REQ 0" 'GET ftp://ep-terminator.mistsys.net/ HTTP/1.1\r\n\r\n'
row "malformed request" $P 400 "ERR_PROTOCOL_UNKNOWN 0" 'garbage\r\n\r\n'
row "malformed header" $P 400 "ERR_INVALID_REQ 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\nHost : x\r\n\r\n'
row "bad port" $P 400 "ERR_INVALID_URL 0" 'CONNECT ep-terminator.mistsys.net:99999 HTTP/1.1\r\n\r\n'
row "origin-form to a proxy" $P 400 "ERR_INVALID_URL 0" 'GET / HTTP/1.1\r\nHost: ep-terminator.mistsys.net\r\n\r\n'
row "HTTP/2.0 request line" $P 505 "ERR_UNSUP_HTTPVERSION 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/2.0\r\n\r\n'
row "bad Content-Length" $P 411 "ERR_INVALID_REQ 0" 'POST http://ep-terminator.mistsys.net/ HTTP/1.1\r\nContent-Length: x\r\n\r\n'
big=$(head -c 70000 /dev/zero | tr '\0' a)
row "request head over 64 KiB" $P 431 "ERR_TOO_BIG 0" "CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\\r\\nX-Big: $big\\r\\n\\r\\n"

# Plain HTTP: curl with --proxy (no tunnel), and a raw absolute-form GET.
got=$(zl_in client curl -sS --max-time 5 --proxy http://$P http://ep-terminator.mistsys.net/index.html) || zl_fail "curl GET through the proxy failed"
[ "$got" = "hello plain http" ] || zl_fail "GET forwarding returned \"$got\""
zl_ok "curl --proxy http://$P http://ep-terminator.mistsys.net/index.html returns the page"
row "GET absolute-form" $P 200 "" 'GET http://ep-terminator.mistsys.net/index.html HTTP/1.1\r\nHost: ep-terminator.mistsys.net\r\nProxy-Connection: keep-alive\r\n\r\n'
grep -q 'hello plain http' <<<"$LAST" || zl_fail "forwarded GET body missing"
row "GET to an unsafe port" $P 403 "ERR_ACCESS_DENIED 0" 'GET http://ep-terminator.mistsys.net:22/ HTTP/1.1\r\n\r\n'
row "GET to a refusing origin" $P 503 "ERR_CONNECT_FAIL 111" 'GET http://refused.test/ HTTP/1.1\r\n\r\n'
grep -Eq ' 198\.18\.1\.100 TCP_MISS/200 [0-9]+ GET http://ep-terminator\.mistsys\.net/index\.html - HIER_DIRECT/198\.18\.30\.10 text/html$' "$ZL_TMP/access.log" ||
    zl_fail "no TCP_MISS/200 access log line for the forwarded GET"
zl_ok "access log: TCP_MISS/200 ... HIER_DIRECT/198.18.30.10 text/html for the forwarded GET"

# Access log lines for the denials, and no credentials anywhere.
for re in ' TCP_DENIED/403 [0-9]+ CONNECT ep-terminator\.mistsys\.net:80 - HIER_NONE/- text/html$' \
    ' TCP_DENIED/407 [0-9]+ CONNECT ep-terminator\.mistsys\.net:443 alice HIER_NONE/- text/html$' \
    ' TCP_TUNNEL/200 [0-9]+ CONNECT ep-terminator\.mistsys\.net:443 alice HIER_DIRECT/198\.18\.30\.10 -$' \
    ' 198\.18\.1\.200 TCP_DENIED/403 ' ' NONE_NONE/503 [0-9]+ CONNECT nx\.invalid:443 - HIER_NONE/- text/html$' \
    ' NONE_NONE/503 [0-9]+ CONNECT refused\.test:443 - HIER_DIRECT/198\.18\.30\.11 text/html$' \
    ' NONE_NONE/400 [0-9]+ garbage error:invalid-request - HIER_NONE/- text/html$' \
    ' NONE_NONE/431 [0-9]+ CONNECT error:request-too-large - HIER_NONE/- text/html$'; do
    grep -Eq "$re" "$ZL_TMP/access.log" || zl_fail "access log lacks a line matching: $re"
done
bad=$(grep -Evc "$ZP_ACCESS_RE" "$ZL_TMP/access.log" || true)
[ "$bad" -eq 0 ] || zl_fail "$bad access log lines do not parse"
zl_ok "access log: a line per request, all parse ($(wc -l <"$ZL_TMP/access.log") lines)"
if grep -rq -e secret -e wrong -e YWxpY2U6 "$ZL_TMP"/*.log; then zl_fail "a credential appears in a log"; fi
zl_ok "no password or Proxy-Authorization value in any log"
[ "$(zp_stats proxy '.denials.ssl_port')" -ge 1 ] && [ "$(zp_stats proxy '.denials.src')" -eq 1 ] &&
    [ "$(zp_stats proxy '.denials.domain')" -eq 2 ] && [ "$(zp_stats proxy '.dns_failures')" -eq 1 ] ||
    zl_fail "denial counters: $(jq -c .denials "$ZL_TMP/proxy.stats.json")"
zl_ok "denial counters: $(jq -c .denials "$ZL_TMP/proxy.stats.json")"

# ---- fault switches, each set at run time with SIGHUP ----
reloads() { grep -c 'event=proxy.reload ok=true' "$ZL_TMP/proxy.log" || true; }
fault() { # FAULTS-JSON
    local before; before=$(reloads)
    write_config "$1"
    kill -HUP "$(zl_pid proxy)"
    reloaded() { [ "$(reloads)" -gt "$before" ]; }
    zl_wait 5 "reload with faults $1" reloaded
}
TUN=(zl_in client "$ZTP_BIN/proxy-probe" tunnels --proxy $P --target echo.test:443 --timeout 5)

fault '{"refuse_all": "403"}'
row "fault refuse_all=403" $P 403 "ERR_ACCESS_DENIED 0" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n'

fault '{"refuse_all": "rst"}'
rc=0; out=$(zp_raw $P 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n' --timeout 3 2>&1) || rc=$?
[ "$rc" -eq 1 ] && [ "$(zp_status <<<"$out")" = 000 ] || zl_fail "refuse_all=rst: rc=$rc out=$out"
zl_ok "fault refuse_all=rst: connection reset without a response"

fault '{"stall": true}'
rc=0; t0=$SECONDS; out=$(zp_raw $P 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n' --timeout 2 2>/dev/null) || rc=$?
[ "$rc" -eq 2 ] && [ -z "$out" ] || zl_fail "stall: rc=$rc out=$out"
zl_ok "fault stall: the request is read and never answered (client timed out after 2 s)"

fault '{"delay_200_ms": 1500}'
out=$("${TUN[@]}" -n 1 --bytes 100) || zl_fail "delay_200_ms: $out"
est=$(sed -n 's/.*establish_ms=\([0-9]*\).*/\1/p' <<<"$out")
[ "$est" -ge 1500 ] && [ "$est" -lt 3000 ] || zl_fail "delay_200_ms=1500: the 200 came after $est ms"
zl_ok "fault delay_200_ms=1500: 200 after $est ms, then the tunnel works"

fault '{"close_after_bytes": 6000}'
# 4000 bytes up, echoed back: the proxy relays 6000 bytes in all (both directions), then closes with
# a FIN, so the client reads 2000..3000 echoed bytes and then EOF.
rc=0; out=$("${TUN[@]}" -n 1 --bytes 4000) || rc=$?
got=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' <<<"$out")
[ "$rc" -eq 1 ] && [ "$got" -ge 2000 ] && [ "$got" -le 3000 ] && grep -q 'first_failure="short echo"' <<<"$out" ||
    zl_fail "close_after_bytes: $out"
zl_ok "fault close_after_bytes=6000: tunnel closed (FIN) after 6000 relayed bytes ($out)"

fault '{"reset_after_bytes": 5000}'
rc=0; out=$("${TUN[@]}" -n 1 --bytes 20000) || rc=$?
[ "$rc" -eq 1 ] && grep -q 'first_failure="reset"' <<<"$out" || zl_fail "reset_after_bytes: $out"
zl_ok "fault reset_after_bytes=5000: tunnel reset ($out)"

fault '{"down_ms": 2000}'
rc=0; zp_raw $P 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n' --timeout 2 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || zl_fail "down_ms: the proxy still answered while down (rc=$rc)"
zl_ok "fault down_ms=2000: connection refused while down"
write_config '{}' # the next reload must not go down again
listening_again() { zp_listening proxy 198.18.1.1:3128; }
zl_wait 5 "proxy listening again after down_ms" listening_again
row "back up after down_ms" $P 200 "" 'CONNECT ep-terminator.mistsys.net:443 HTTP/1.1\r\n\r\n'

fault '{}'
out=$("${TUN[@]}" -n 5 --bytes 20000) || zl_fail "faults cleared: $out"
zl_ok "faults cleared by reload: tunnels work ($out)"
f=$(zp_stats proxy .faults)
[ "$(jq -r '[.refuse_rst, .stall, .delay_200, .close_after_bytes, .reset_after_bytes, .down] | min' <<<"$f")" -ge 1 ] ||
    zl_fail "fault counters: $f"
zl_ok "fault counters: $f"
