#!/usr/bin/env bash
# mock-hub on loopback (no namespaces, no root) against `openssl s_client` as the router: a throwaway
# conductor CA and an unrelated CA made with the openssl CLI, router node certificates as the
# conductor issues them (CN R1.r1a, SAN URI ssr://R1/r1a). Checks: peered (TLS 1.3 and 1.2) and the
# exact answer line; keepalives echoed, a garbage line dropped without cutting the link; the state
# file peered -> down; no client certificate / another CA's certificate -> TLS handshake refused;
# unknown peer, hello naming another node, wrong hub name, bad JSON, an over-long line, no hello, a
# certificate without the SAN -> "refused" with the reason; idle timeout; a second link from the same
# identity replaces the first; SIGHUP adding a peer makes it accepted, an invalid config is kept out,
# removing a peer cuts its link; max-connections; 40 peers at once; no key or certificate body in the
# log; SIGTERM with links open stops cleanly.
source "$(dirname "$0")/lib.sh"
zl_require_cmd openssl jq timeout
[ -x "$ZTP_BIN/mock-hub" ] || zl_skip "$ZTP_BIN/mock-hub not built"
T=$ZL_TMP
# A random loopback address per run, so parallel runs do not collide.
ADDR=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$(($$ % 250 + 2))
PORT=1280
NPEERS=40

# ---- PKI: the conductor CA, the hub's certificate, router node certificates, an unrelated CA ----
ca() {   # ca NAME CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$T/$1.key" -out "$T/$1.pem"
}
cert() {   # cert FILE CA SUBJECT EXTENSIONS
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$3" \
        -keyout "$T/$1.key" -out "$T/$1.csr"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial -days 2 \
        -extfile <(printf '%b' "$4") -out "$T/$1.pem"
}
node_cert() {   # node_cert FILE CA ROUTER NODE [SAN]
    local san=${5-URI:ssr://$3/$4}
    cert "$1" "$2" "/O=ztp-lab router/OU=$3/CN=$3.$4" \
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\n${san:+subjectAltName=$san\n}"
}
mkpki() {
    ca ca "ztp-lab conductor CA"
    ca other "some other CA"
    cert hub ca /CN=hub1 "subjectAltName=DNS:hub1.lab,IP:$ADDR\nextendedKeyUsage=serverAuth\n"
    node_cert r1a ca R1 r1a
    node_cert r1b ca R1 r1b
    node_cert r2a ca R2 r2a
    node_cert nosan ca R1 r1a ""
    node_cert badsan ca R1 r1a URI:ssr://R9/x9
    node_cert foreign other R1 r1a
    local i
    for i in $(seq -w 1 $NPEERS); do node_cert "p$i" ca R5 "n$i"; done
}
mkpki >"$T/pki.log" 2>&1 || { cat "$T/pki.log" >&2; zl_fail "openssl could not make the lab PKI"; }
openssl verify -CAfile "$T/ca.pem" "$T/r1a.pem" >/dev/null || zl_fail "the test PKI does not verify"

IDLE=3
config() {   # config "EXTRA PEERS JSON" [EXTRA TOP-LEVEL JSON]: R1.r1a and the extra peers
    cat >"$T/hub.json" <<JSON
{"hub-name": "hub1", "idle-timeout": $IDLE, "hello-timeout": 2${2:-},
 "peers": {"R1.r1a": {"router": "R1", "node": "r1a"}$1}}
JSON
}
R1B=', "R1.r1b": {"router": "R1", "node": "r1b"}'
many_peers() {
    local i
    for i in $(seq -w 1 $NPEERS); do printf ', "R5.n%s": {"router": "R5", "node": "n%s"}' "$i" "$i"; done
}
config "$(many_peers)"

# ---- --check ----
"$ZTP_BIN/mock-hub" --check --config "$T/hub.json" >"$T/check.out" || zl_fail "config refused"
grep -q "^ok: hub hub1, $((NPEERS + 1)) peers" "$T/check.out" || zl_fail "--check: $(cat "$T/check.out")"
printf '{"hub-name":"hub1","peers":{"R1.r1a":{"router":"R1","node":"r1b"}}}' >"$T/bad1.json"
"$ZTP_BIN/mock-hub" --check --config "$T/bad1.json" 2>"$T/bad1.err" && zl_fail "key != ROUTER.NODE accepted"
grep -q 'the key must be the identity' "$T/bad1.err" || zl_fail "bad key error: $(cat "$T/bad1.err")"
printf '{"hub-name":"hub1","peers":{},"idle":3}' >"$T/bad2.json"
"$ZTP_BIN/mock-hub" --check --config "$T/bad2.json" 2>"$T/bad2.err" && zl_fail "unknown key accepted"
grep -q 'unknown key "idle"' "$T/bad2.err" || zl_fail "unknown key error: $(cat "$T/bad2.err")"
zl_ok "--check accepts the config, refuses a peer key that is not ROUTER.NODE and an unknown key"

# ---- start (host namespace, loopback), waiting for readiness ----
fifo=$T/hub.ready
mkfifo "$fifo"
ZTP_READY_FD=9 "$ZTP_BIN/mock-hub" --config "$T/hub.json" --listen "$ADDR:$PORT" --cert "$T/hub.pem" \
    --key "$T/hub.key" --client-ca "$T/ca.pem" --state "$T/state.json" --host hub1 9>"$fifo" >>"$T/hub.log" 2>&1 &
HUB=$!
ZL_PIDS+=("$HUB")
read -r -t 10 line <"$fifo" || zl_fail "mock-hub did not signal readiness within 10 s"
grep -q "event=daemon.ready listen=$ADDR:$PORT hub=hub1 peers=$((NPEERS + 1))" "$T/hub.log" || zl_fail "no daemon.ready"
STATE=$T/state.json
pstate() { jq -r --arg p "$1" '.peers[$p].state' "$STATE"; }
state_is() { [ "$(pstate "$1")" = "$2" ]; }   # for zl_wait: re-evaluated on every poll
[ "$(pstate R1.r1a)" = down ] && [ "$(jq -r .hub "$STATE")" = hub1 ] || zl_fail "initial state: $(cat "$STATE")"
zl_ok "ready on $ADDR:$PORT; the state file lists the configured peers as down"

nreloads() { grep -c 'event=config.reload' "$T/hub.log" || true; }
nreloads_gt() { [ "$(nreloads)" -gt "$1" ]; }
hup() {   # hup REGEX: SIGHUP, wait for the next config.reload line, which must match REGEX
    local n; n=$(nreloads)
    kill -HUP "$HUB"
    zl_wait 5 "config.reload after SIGHUP" nreloads_gt "$n"
    grep 'event=config.reload' "$T/hub.log" | tail -n 1 | grep -qE -- "$1" ||
        zl_fail "reload: $(grep 'event=config.reload' "$T/hub.log" | tail -n 1), want $1"
}
SC=(openssl s_client -connect "$ADDR:$PORT" -CAfile "$T/ca.pem" -verify_return_error -verify_ip "$ADDR" -quiet)
hello() { printf '{"hello":"svr","router":"%s","node":"%s","hub":"%s"}\n' "$1" "$2" "${3:-hub1}"; }
# once NAME CERT LINE...: connect, send the lines, print what the hub answered (until it closes).
once() {
    local name=$1 c=$2; shift 2
    local args=()
    [ "$c" != - ] && args=(-cert "$T/$c.pem" -key "$T/$c.key")
    printf '%s' "$@" | timeout 10 "${SC[@]}" "${args[@]}" >"$T/$name.out" 2>"$T/$name.err" || true
    cat "$T/$name.out"
}
# A long-lived link: open NAME CERT [s_client args]; send NAME LINE; out NAME; close NAME.
open_link() {
    local name=$1 c=$2; shift 2
    mkfifo "$T/$name.in"
    "${SC[@]}" -no_ign_eof -cert "$T/$c.pem" -key "$T/$c.key" "$@" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
    local pid=$!
    ZL_PIDS+=("$pid")
    eval "LINK_${name}=$pid"
    eval "exec {fd_$name}>\"\$T/\$name.in\""
}
send() { local v="fd_$1"; printf '%s\n' "$2" >&"${!v}"; }
close_link() { eval "exec {fd_$1}>&-"; }
link_pid() { local v="LINK_$1"; printf '%s' "${!v}"; }
has_line() { grep -qxF -- "$2" "$T/$1.out"; }
PEERED='{"result":"peered","hub":"hub1","peer":"R1.r1a"}'
refused() { printf '{"result":"refused","reason":"%s"}' "$1"; }

# ---- peered, keepalives, state file, peer-closed ----
open_link a r1a
send a "$(hello R1 r1a)"
zl_wait 5 "peered answer" has_line a "$PEERED"
zl_wait 5 "state peered" state_is R1.r1a peered
[ "$(jq -r '.peers["R1.r1a"].addr' "$STATE")" != null ] || zl_fail "no addr in the state: $(cat "$STATE")"
jq -e '.peers["R1.r1a"].since | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")' "$STATE" >/dev/null ||
    zl_fail "since is not an ISO time: $(cat "$STATE")"
grep -q 'event=svr.peered peer=R1.r1a identity=R1.r1a addr=127.* hub=hub1 tls=TLSv1.3 replaced=no' "$T/hub.log" ||
    zl_fail "no svr.peered line"
zl_ok "R1.r1a peered over TLS 1.3: $PEERED; state peered since $(jq -r '.peers["R1.r1a"].since' "$STATE")"
send a '{"keepalive":7}'
zl_wait 5 "keepalive echo" has_line a '{"keepalive":7}'
send a 'garbage'
send a '{"keepalive": 8}'
zl_wait 5 "second keepalive echo" has_line a '{"keepalive":8}'
grep -q 'event=svr.line peer=R1.r1a .*result=dropped' "$T/hub.log" || zl_fail "garbage line not logged"
[ "$(wc -l <"$T/a.out")" = 3 ] || zl_fail "a got more than 3 lines: $(cat "$T/a.out")"
zl_ok "keepalives echoed ({\"keepalive\":7}, {\"keepalive\":8}); a garbage line dropped, link kept"
close_link a
zl_wait 5 "svr.closed peer-closed" grep -q 'event=svr.closed peer=R1.r1a .*reason=peer-closed .*keepalives=2' "$T/hub.log"
zl_wait 5 "state down" state_is R1.r1a down
zl_ok "closing the link: svr.closed reason=peer-closed, state down"

# ---- TLS 1.2, idle timeout ----
open_link b r1a -tls1_2
send b "$(hello R1 r1a)"
zl_wait 5 "peered over TLS 1.2" has_line b "$PEERED"
grep -q 'event=svr.peered peer=R1.r1a .*tls=TLSv1.2' "$T/hub.log" || zl_fail "TLS 1.2 not logged"
zl_wait 8 "idle timeout" grep -q 'event=svr.closed peer=R1.r1a .*reason=idle-timeout' "$T/hub.log"
zl_wait 5 "s_client ends after the idle cut" bash -c "! kill -0 $(link_pid b) 2>/dev/null"
zl_wait 5 "state down" state_is R1.r1a down
close_link b
zl_ok "TLS 1.2 peering; 3 s without keepalive -> svr.closed reason=idle-timeout, the router sees the close"
IDLE=30 config "$(many_peers)"
hup "result=ok hub=hub1 peers=$((NPEERS + 1)) idle_timeout=30"

# ---- a second link from the same identity replaces the first ----
open_link c1 r1a
send c1 "$(hello R1 r1a)"
zl_wait 5 "c1 peered" has_line c1 "$PEERED"
open_link c2 r1a
send c2 "$(hello R1 r1a)"
zl_wait 5 "c2 peered" has_line c2 "$PEERED"
zl_wait 5 "c1 replaced" grep -q 'event=svr.closed peer=R1.r1a .*reason=replaced' "$T/hub.log"
zl_wait 5 "c1 s_client ends" bash -c "! kill -0 $(link_pid c1) 2>/dev/null"
grep -q 'event=svr.peered peer=R1.r1a .*replaced=yes' "$T/hub.log" || zl_fail "replaced=yes not logged"
[ "$(pstate R1.r1a)" = peered ] || zl_fail "state after replacement: $(cat "$STATE")"
send c2 '{"keepalive":1}'
zl_wait 5 "c2 still alive" has_line c2 '{"keepalive":1}'
zl_ok "a second link from R1.r1a replaces the first (reason=replaced), the peer stays peered"

# ---- refusals the router is told about ----
expect_refused() {   # expect_refused NAME CERT REASON LINE...
    local name=$1 c=$2 reason=$3; shift 3
    local got; got=$(once "$name" "$c" "$@")
    [ "$got" = "$(refused "$reason")" ] || zl_fail "$name: got '$got', want $(refused "$reason") ($(cat "$T/$name.err"))"
    grep -q "event=svr.refused reason=$reason " "$T/hub.log" || zl_fail "$name: no svr.refused reason=$reason"
    zl_ok "$name -> $got"
}
expect_refused unknown r2a unknown-peer "$(hello R2 r2a)"$'\n'
expect_refused mismatch r1a identity-mismatch "$(hello R1 r1b)"$'\n'
expect_refused wronghub r1a wrong-hub "$(hello R1 r1a hub9)"$'\n'
expect_refused badjson r1a bad-hello '{"hello":"svr","router":'$'\n'
expect_refused extra r1a bad-hello '{"hello":"svr","router":"R1","node":"r1a","hub":"hub1","x":1}'$'\n'
expect_refused toolong r1a hello-too-long "$(head -c 2000 /dev/zero | tr '\0' x)"
expect_refused nohello r1a hello-timeout ""
expect_refused nosan nosan bad-certificate "$(hello R1 r1a)"$'\n'
expect_refused badsan badsan bad-certificate "$(hello R1 r1a)"$'\n'
grep -q 'event=svr.refused reason=identity-mismatch addr=.* identity="R1.r1a" detail="the certificate names R1.r1a, the hello router R1 node r1b"' \
    "$T/hub.log" || zl_fail "identity-mismatch line lacks identity/detail"
grep -q 'event=svr.refused reason=bad-certificate .*detail="certificate: no subjectAltName URI ssr://R1/r1a"' "$T/hub.log" ||
    zl_fail "bad-certificate detail"

# ---- refused during the TLS handshake: nothing reaches the hello ----
expect_tls_refused() {   # expect_tls_refused NAME CERT DETAIL-REGEX
    local before; before=$(grep -c 'reason=tls-handshake' "$T/hub.log" || true)
    local got; got=$(once "$1" "$2" "$(hello R1 r1a)"$'\n')
    [ -z "$got" ] || zl_fail "$1: the client got '$got'"
    zl_wait 5 "$1 logged" bash -c "[ \$(grep -c 'reason=tls-handshake' '$T/hub.log') -gt $before ]"
    grep 'reason=tls-handshake' "$T/hub.log" | tail -n 1 | grep -qE -- "$3" ||
        zl_fail "$1: $(grep 'reason=tls-handshake' "$T/hub.log" | tail -n 1)"
    zl_ok "$1: handshake refused ($(grep -o 'alert [a-z ]*' "$T/$1.err" | head -n 1))"
}
expect_tls_refused nocert - 'identity=- detail="peer did not return a certificate"'
expect_tls_refused foreign foreign 'identity="R1.r1a" verify="unable to get local issuer certificate \(depth 0\)"'
zl_wait 5 "c2 still peered" state_is R1.r1a peered

# ---- SIGHUP: an invalid config is kept out; adding a peer; removing one cuts its link ----
printf '{"hub-name":"hub1","peers":{"R1.r1b":{"router":"R1"}}}' >"$T/hub.json"
hup 'result=kept-old error=.*missing \\"node\\"'
expect_refused r1b-before r1b unknown-peer "$(hello R1 r1b)"$'\n'
IDLE=30 config "$R1B$(many_peers)"
hup "result=ok hub=hub1 peers=$((NPEERS + 2)) "
open_link d r1b
send d "$(hello R1 r1b)"
zl_wait 5 "r1b peered" has_line d '{"result":"peered","hub":"hub1","peer":"R1.r1b"}'
zl_ok "SIGHUP: an invalid config kept out (result=kept-old); R1.r1b added -> peered"
cat >"$T/hub.json" <<JSON
{"hub-name": "hub1", "idle-timeout": 30, "hello-timeout": 2, "peers": {"R1.r1b": {"router": "R1", "node": "r1b"}}}
JSON
hup "result=ok hub=hub1 peers=1 .*cut=1"
zl_wait 5 "R1.r1a cut" grep -q 'event=svr.closed peer=R1.r1a .*reason=config-removed' "$T/hub.log"
zl_wait 5 "c2 s_client ends" bash -c "! kill -0 $(link_pid c2) 2>/dev/null"
zl_wait 5 "state down" state_is R1.r1a down
send d '{"keepalive":2}'
zl_wait 5 "d still alive" has_line d '{"keepalive":2}'
close_link c2
zl_ok "SIGHUP removing R1.r1a cut its link (reason=config-removed), R1.r1b kept"

# ---- many peers at once ----
IDLE=30 config "$R1B$(many_peers)"
hup "result=ok hub=hub1 peers=$((NPEERS + 2)) idle_timeout=30"
for i in $(seq -w 1 $NPEERS); do open_link "p$i" "p$i"; send "p$i" "$(hello R5 "n$i")"; done
npeered() { jq '[.peers[] | select(.state == "peered")] | length' "$STATE"; }
npeered_is() { [ "$(npeered)" = "$1" ]; }
zl_wait 20 "$NPEERS peers peered at once" npeered_is $((NPEERS + 1))
for i in $(seq -w 1 $NPEERS); do send "p$i" "{\"keepalive\":$((10#$i))}"; done
for i in $(seq -w 1 $NPEERS); do zl_wait 5 "p$i echo" has_line "p$i" "{\"keepalive\":$((10#$i))}"; done
zl_ok "$NPEERS routers peered at the same time (+ R1.r1b), each got its own keepalive echo"
for i in $(seq -w 1 $NPEERS); do close_link "p$i"; done
zl_wait 10 "all R5 down" npeered_is 1

# ---- max-connections ----
IDLE=30 config "$R1B" ', "max-connections": 2'
hup 'result=ok .*max_connections=2'
exec {m1}<>"/dev/tcp/$ADDR/$PORT"          # d (R1.r1b) + m1 = 2 open
exec {m2}<>"/dev/tcp/$ADDR/$PORT"
zl_wait 5 "too-many-connections" grep -q 'event=svr.refused reason=too-many-connections' "$T/hub.log"
exec {m1}>&- {m2}>&-
zl_ok "max-connections 2: the third connection is closed at accept (reason=too-many-connections)"

# ---- audit: no key, no certificate body in the log ----
for f in "$T"/*.key "$T"/*.pem; do
    body=$(sed -n 2p "$f")
    if grep -qF -- "$body" "$T/hub.log"; then zl_fail "$(basename "$f") body is in the log"; fi
done
if grep -q 'BEGIN\|PRIVATE' "$T/hub.log"; then zl_fail "PEM text in the log"; fi
zl_ok "no private key or certificate body in the log ($(wc -l <"$T/hub.log") lines)"

# ---- SIGTERM with a link open ----
kill -TERM "$HUB"
rc=0; wait "$HUB" || rc=$?
[ "$rc" = 0 ] || zl_fail "mock-hub exited $rc on SIGTERM"
grep -q 'event=svr.closed peer=R1.r1b .*reason=shutdown' "$T/hub.log" || zl_fail "no shutdown close"
grep -q 'event=daemon.stop signal=TERM' "$T/hub.log" || zl_fail "no daemon.stop"
[ "$(pstate R1.r1b)" = down ] || zl_fail "state after stop: $(cat "$STATE")"
zl_wait 5 "d s_client ends" bash -c "! kill -0 $(link_pid d) 2>/dev/null"
close_link d
zl_ok "SIGTERM: links closed (reason=shutdown), state down, daemon.stop, exit 0"
