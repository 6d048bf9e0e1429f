#!/usr/bin/env bash
# proxy_tunnel: curl through mock-proxy with CONNECT to an openssl s_server in the "mist" namespace
# gets the right bytes (a small file, then 64 MiB with a sha256 match); 1,000 concurrent tunnels to an
# echo server all get their bytes back (half-close included), bytes pipelined behind the CONNECT head
# are forwarded; every access log line parses and names the client and the destination; the
# counters show the tunnels while they are open and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_proxy.sh"
zl_require_root
zl_require_cmd curl openssl jq sha256sum ss
[ -x "$ZTP_BIN/mock-proxy" ] && [ -x "$ZTP_BIN/proxy-probe" ] || zl_fail "build mock-proxy and proxy-probe first ($ZTP_BIN)"

zp_topology
zp_cert
mkdir -p "$ZL_TMP/www"
echo "hello from the mist namespace" >"$ZL_TMP/www/hello.txt"
head -c 64M /dev/urandom >"$ZL_TMP/www/big.bin"
want_sum=$(sha256sum <"$ZL_TMP/www/big.bin" | cut -d' ' -f1)

# -WWW serves files from the working directory; exec keeps the pid the cleanup kills.
zl_start_plain s_server mist bash -c "cd '$ZL_TMP/www' && exec openssl s_server -quiet -accept 198.18.30.10:443 \
    -cert '$ZL_TMP/cert.pem' -key '$ZL_TMP/key.pem' -WWW"
zl_wait 10 "openssl s_server listening" zp_listening mist 198.18.30.10:443
zl_start echo mist "$ZTP_BIN/proxy-probe" echo --listen 198.18.30.12:443
cat >"$ZL_TMP/proxy.json" <<JSON
{"allow_src": ["198.18.1.0/24"], "deny_domains": [".denied.example"]}
JSON
zl_start proxy proxy "$ZTP_BIN/mock-proxy" --listen 198.18.1.1:3128 --config "$ZL_TMP/proxy.json" \
    --access-log "$ZL_TMP/access.log" --stats "$ZL_TMP/proxy.stats.json" --host proxy1
P=http://198.18.1.1:3128

# 1. curl through the tunnel: TLS to ep-terminator.mistsys.net, verified against our CA.
got=$(zl_in client curl -sS --max-time 10 --proxy "$P" --proxytunnel --cacert "$ZL_TMP/cert.pem" \
    https://ep-terminator.mistsys.net/hello.txt) || zl_fail "curl through the proxy failed"
[ "$got" = "hello from the mist namespace" ] || zl_fail "curl got \"$got\""
zl_ok "curl --proxytunnel https://ep-terminator.mistsys.net/hello.txt returns the file"

# 2. 64 MiB through one tunnel, checksum.
t0=$(date +%s%N)
got_sum=$(zl_in client curl -sS --max-time 60 --proxy "$P" --proxytunnel --cacert "$ZL_TMP/cert.pem" \
    https://ep-terminator.mistsys.net/big.bin | sha256sum | cut -d' ' -f1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$got_sum" = "$want_sum" ] || zl_fail "64 MiB transfer: sha256 $got_sum, expected $want_sum"
zl_ok "64 MiB through one tunnel in ${ms} ms, sha256 matches"

# 3. 1,000 tunnels open at the same time, each echoes 4 KiB and half-closes.
out=$(zl_in client "$ZTP_BIN/proxy-probe" tunnels --proxy 198.18.1.1:3128 --target echo.test:443 \
    -n 1000 --bytes 4096 --timeout 30) || zl_fail "1000 tunnels: $out"
grep -q 'tunnels=1000 ok=1000 failed=0 .*max_open=1000 established=1000' <<<"$out" || zl_fail "1000 tunnels: $out"
zl_ok "1000 concurrent tunnels: $out"

# 4. Bytes sent right behind the CONNECT head, before the 200 (a pipelined ClientHello) are forwarded.
out=$(zl_in client "$ZTP_BIN/proxy-probe" tunnels --proxy 198.18.1.1:3128 --target echo.test:443 \
    -n 20 --bytes 3000 --pipeline --timeout 10) || zl_fail "pipelined tunnels: $out"
zl_ok "pipelined bytes after the CONNECT head are forwarded: $out"

# 5. The counters show an open tunnel while it is open.
zl_in client bash -c 'exec 3<>/dev/tcp/198.18.1.1/3128; printf "CONNECT echo.test:443 HTTP/1.1\r\n\r\n" >&3; sleep 4' &
holder=$!
ZL_PIDS+=("$holder")
tunnels_open() { [ "$(zp_stats proxy .tunnels_open)" -ge 1 ]; }
zl_wait 5 "stats show tunnels_open >= 1" tunnels_open
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
tunnels_closed() { [ "$(zp_stats proxy .tunnels_open)" -eq 0 ]; }
zl_wait 5 "stats show tunnels_open = 0" tunnels_closed
st=$(zp_stats proxy '[.tunnels_total, .bytes_up, .bytes_down, .status["200"], .connections_open] | @tsv')
read -r total up down s200 conns <<<"$st"
[ "$total" -ge 1023 ] || zl_fail "tunnels_total=$total, expected >= 1023"
[ "$up" -ge $((1000 * 4096 + 20 * 3000)) ] || zl_fail "bytes_up=$up"
[ "$down" -ge $((64 * 1024 * 1024)) ] || zl_fail "bytes_down=$down"
zl_ok "counters: tunnels_total=$total bytes_up=$up bytes_down=$down status 200=$s200 open connections=$conns"

# 6. Access log: every line parses; the tunnels name the client and the destination.
zl_stop proxy
lines=$(wc -l <"$ZL_TMP/access.log")
bad=$(grep -Evc "$ZP_ACCESS_RE" "$ZL_TMP/access.log" || true)
[ "$bad" -eq 0 ] || zl_fail "$bad access log lines do not parse: $(grep -Ev "$ZP_ACCESS_RE" "$ZL_TMP/access.log" | head -3)"
n_ep=$(grep -Ec '^[0-9]+\.[0-9]{3} +[0-9]+ 198\.18\.1\.100 TCP_TUNNEL/200 [0-9]+ CONNECT ep-terminator\.mistsys\.net:443 - HIER_DIRECT/198\.18\.30\.10 -$' "$ZL_TMP/access.log" || true)
n_echo=$(grep -Ec '^[0-9]+\.[0-9]{3} +[0-9]+ 198\.18\.1\.100 TCP_TUNNEL/200 [0-9]+ CONNECT echo\.test:443 - HIER_DIRECT/198\.18\.30\.12 -$' "$ZL_TMP/access.log" || true)
[ "$n_ep" -eq 2 ] || zl_fail "expected 2 tunnel lines to ep-terminator, got $n_ep"
[ "$n_echo" -ge 1021 ] || zl_fail "expected >= 1021 tunnel lines to echo.test, got $n_echo"
big_line=$(grep 'ep-terminator' "$ZL_TMP/access.log" | awk '$5 > 67108864' | head -1)
[ -n "$big_line" ] || zl_fail "no access log line counts the 64 MiB sent to the client"
zl_ok "access log: $lines lines parse; $n_ep tunnels to ep-terminator, $n_echo to echo.test; e.g. $big_line"
grep -q 'event=proxy.stop' "$ZL_TMP/proxy.log" || zl_fail "mock-proxy did not log proxy.stop on SIGTERM"
zl_ok "mock-proxy stopped cleanly on SIGTERM"
