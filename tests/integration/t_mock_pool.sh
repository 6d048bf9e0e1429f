#!/usr/bin/env bash
# The HTTPS mocks' threading model (mocks/mist/httpd.c), on loopback (no namespaces, no root): a fixed
# thread pool, never a thread per connection or per request, and held-back answers (mock-conductor's
# stall-ms) that hold no thread. With curl: --threads/--max-connections/--event-loop refused out of range; a
# staging conductor with --threads 3 and stall-ms 1000 answers 20 concurrent routers, each after >= 1 s
# and all together in far less than 20 s, with the same 5 threads throughout (3 pool + timer + main),
# while a request that is not held back (404) is answered at once; SIGTERM with answers held back
# stops cleanly; mock-mist --threads 2 runs 3 threads under load; the same hold-back with --event-loop epoll.
source "$(dirname "$0")/lib.sh"
zl_require_cmd curl openssl jq
for p in mock-conductor mock-mist mock-ep-terminator; do
    [ -x "$ZTP_BIN/$p" ] || zl_skip "$ZTP_BIN/$p not built"
done
T=$ZL_TMP
ADDR=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$(($$ % 250 + 2))
CPORT=9930
MPORT=9443
NAME=conductor-staging.lab

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=pool CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$T/ca.key" -out "$T/ca.pem" >"$T/pki.log" 2>&1 || zl_fail "openssl: $(cat "$T/pki.log")"
for n in $NAME mist-prod.lab; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$n" -keyout "$T/$n.key" \
        -out "$T/$n.csr" >>"$T/pki.log" 2>&1
    openssl x509 -req -in "$T/$n.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
        -extfile <(printf 'subjectAltName=DNS:%s\n' "$n") -out "$T/$n.pem" >>"$T/pki.log" 2>&1 ||
        zl_fail "openssl: $(cat "$T/pki.log")"
done
staging() { # staging STALL-MS
    cat >"$T/staging.json" <<JSON
{"ca-cert": "$T/ca.pem", "ca-key": "$T/ca.key",
 "routers": {"R1": {"psk": "pool-psk", "nodes": {"r1a": {}}}},
 "production": {"conductor": ["198.18.6.10:930"], "psk": "prod-psk", "root-ca-pem": $(jq -Rs . <"$T/ca.pem")},
 "svr": {"hub": "198.18.7.10:1280", "hub-name": "hub1"},
 "faults": {"stall-ms": $1}}
JSON
}
staging 1000
cat >"$T/registry.json" <<JSON
{"devices": {"SSR-0001": {"org": "acme", "site": "s", "ocra-suite": "OCRA-1:HOTP-SHA256-8:QA08",
  "ocra-key-hex": "3132333435363738393031323334353637383930313233343536373839303132",
  "onboarding": {"conductor": "198.18.5.10:930", "psk": "x"}}}}
JSON

# ---- the flags, out of range ----
for bad in "--threads 0" "--threads 65" "--threads two" "--max-connections 0" "--max-connections 65537" \
    "--event-loop kqueue"; do
    # shellcheck disable=SC2086
    rc=0; "$ZTP_BIN/mock-conductor" --role staging --check --config "$T/staging.json" $bad >/dev/null 2>"$T/bad.err" || rc=$?
    [ "$rc" = 2 ] || zl_fail "mock-conductor $bad: exit $rc, want 2"
    # shellcheck disable=SC2086
    rc=0; "$ZTP_BIN/mock-mist" --check --config "$T/registry.json" $bad >/dev/null 2>"$T/bad.err" || rc=$?
    [ "$rc" = 2 ] || zl_fail "mock-mist $bad: exit $rc, want 2"
done
grep -q -- "--event-loop kqueue: expected poll or epoll" "$T/bad.err" || zl_fail "error line: $(cat "$T/bad.err")"
zl_ok "--threads 1..64, --max-connections 1..65536 and --event-loop poll|epoll; anything else refused (exit 2)"

threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
# zl_start runs programs in a namespace; these tests need none: start directly, wait for READY.
start_plain() { # start_plain NAME CMD...
    local name=$1; shift
    local fifo="$T/$name.ready"
    mkfifo "$fifo"
    ZTP_READY_FD=9 "$@" 9>"$fifo" >>"$T/$name.log" 2>&1 &
    local pid=$!
    ZL_PIDS+=("$pid")
    eval "ZL_PID_${name//-/_}=$pid"
    local line=""
    read -r -t 10 line <"$fifo" || zl_fail "$name did not signal readiness within 10 s"
    [ -n "$line" ] || zl_fail "$name exited before it was ready"
    rm -f "$fifo"
}
CURL=(curl -sS --max-time 20 --cacert "$T/ca.pem" --resolve "$NAME:$CPORT:$ADDR" --resolve "mist-prod.lab:$MPORT:$ADDR")
C=https://$NAME:$CPORT

# ---- a staging conductor, 3 pool threads, every answer held back 1 s ----
start_plain conductor "$ZTP_BIN/mock-conductor" --role staging --config "$T/staging.json" --listen "$ADDR:$CPORT" \
    --cert "$T/$NAME.pem" --key "$T/$NAME.key" --threads 3 --host pool
CP=$(zl_pid conductor)
grep -q "event=http.server listen=$ADDR:$CPORT threads=3 event_loop=poll max_connections=1024 hold_back=yes" "$T/conductor.log" ||
    zl_fail "no http.server line: $(grep http.server "$T/conductor.log")"
IDLE=$(threads_of "$CP")
[ "$IDLE" = 5 ] || zl_fail "mock-conductor --threads 3 runs $IDLE threads, want 5 (3 pool, the timer, main)"
CURLS=()
t0=$(date +%s%N)
for i in $(seq 20); do
    "${CURL[@]}" -o "$T/a$i.json" -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
        --data-binary '{"router":"R1","node":"r1a"}' "$C/v1/router/challenge" >"$T/a$i.out" 2>&1 &
    CURLS+=("$!")
done
sleep 0.5
HELD=$(threads_of "$CP")
t1=$(date +%s%N)
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$C/nope")
t2=$(date +%s%N)
for p in "${CURLS[@]}"; do wait "$p" || true; done
t3=$(date +%s%N)
[ "$code" = 404 ] || zl_fail "GET /nope while 20 answers are held back: HTTP $code"
[ $(((t2 - t1) / 1000000)) -lt 900 ] || zl_fail "GET /nope took $(((t2 - t1) / 1000000)) ms while answers were held back"
for i in $(seq 20); do
    read -r c secs <"$T/a$i.out" || zl_fail "router $i: no answer: $(cat "$T/a$i.out")"
    [ "$c" = 200 ] && jq -e '.nonce | test("^[0-9a-f]{64}$")' "$T/a$i.json" >/dev/null ||
        zl_fail "router $i: HTTP $c $(cat "$T/a$i.json")"
    awk -v s="$secs" 'BEGIN { exit !(s >= 1.0) }' || zl_fail "router $i was answered after $secs s, before stall-ms 1000"
done
WALL=$(((t3 - t0) / 1000000))
[ "$WALL" -lt 10000 ] || zl_fail "20 routers held back 1 s each took $WALL ms together (serialized: >= 20 s)"
[ "$HELD" = 5 ] || zl_fail "$HELD threads while 20 answers were held back, want 5 (no thread per connection)"
[ "$(threads_of "$CP")" = 5 ] || zl_fail "$(threads_of "$CP") threads after the load, want 5"
zl_ok "20 routers stalled 1 s at once: all 200 after >= 1 s, $WALL ms in all; a 404 meanwhile in $(((t2 - t1) / 1000000)) ms; 5 threads throughout"

# ---- SIGTERM with answers held back ----
staging 5000
kill -HUP "$CP"
zl_wait 10 "reload with stall-ms 5000" grep -q "config.reload result=ok.*stall_ms=5000" "$T/conductor.log"
CURLS=()
for i in $(seq 10); do
    "${CURL[@]}" -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
        --data-binary '{"router":"R1","node":"r1a"}' "$C/v1/router/challenge" >"$T/s$i.out" 2>&1 &
    CURLS+=("$!")
done
zl_wait 10 "10 requests held back" bash -c "[ \$(ss -Htn state established '( src $ADDR and sport = :$CPORT )' | wc -l) -ge 10 ]"
sleep 0.3 # their bodies read and their connections suspended
t0=$(date +%s%N)
kill -TERM "$CP"
rc=0; wait "$CP" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
for p in "${CURLS[@]}"; do wait "$p" || true; done
[ "$rc" = 0 ] || zl_fail "mock-conductor exited $rc after SIGTERM with answers held back"
[ "$ms" -lt 3000 ] || zl_fail "SIGTERM took $ms ms with answers held back"
grep -q "event=daemon.stop" "$T/conductor.log" || zl_fail "no daemon.stop line"
! grep -qiE "sanitizer|panic|fatal" "$T/conductor.log" || zl_fail "$(grep -iE 'sanitizer|panic|fatal' "$T/conductor.log" | head -3)"
zl_ok "SIGTERM with 10 answers held back: exit 0 in $ms ms, nothing leaked"

# ---- mock-mist: a pool of 2, no timer thread (nothing is held back) ----
start_plain mist "$ZTP_BIN/mock-mist" --config "$T/registry.json" --listen "$ADDR:$MPORT" \
    --cert "$T/mist-prod.lab.pem" --key "$T/mist-prod.lab.key" --threads 2 --host pool
MP=$(zl_pid mist)
grep -q "event=http.server listen=$ADDR:$MPORT threads=2 event_loop=poll max_connections=1024 hold_back=no" "$T/mist.log" ||
    zl_fail "no http.server line: $(grep http.server "$T/mist.log")"
CURLS=()
for i in $(seq 30); do
    "${CURL[@]}" -o "$T/m$i.json" -w '%{http_code}\n' -X POST "https://mist-prod.lab:$MPORT/v1/device/SSR-0001/challenge" \
        >"$T/m$i.out" 2>&1 &
    CURLS+=("$!")
done
MAXT=0
for _ in $(seq 10); do n=$(threads_of "$MP"); [ "$n" -gt "$MAXT" ] && MAXT=$n; sleep 0.05; done
for p in "${CURLS[@]}"; do wait "$p" || true; done
[ "$(cat "$T"/m*.out | sort | uniq -c | awk '{print $1 "x" $2}')" = 30x200 ] ||
    zl_fail "mist challenges: $(cat "$T"/m*.out | sort | uniq -c | tr '\n' ' ')"
[ "$(jq -r '.["challenge-id"]' "$T"/m*.json | sort -u | wc -l)" = 30 ] || zl_fail "challenge ids are not unique"
[ "$MAXT" = 3 ] || zl_fail "mock-mist --threads 2 ran $MAXT threads under load, want 3 (2 pool, main)"
zl_stop mist
zl_ok "mock-mist --threads 2: 30 concurrent challenges, 30 distinct ids, 3 threads under load"

# ---- the same hold-back in the epoll loop ----
staging 1000
start_plain conductor2 "$ZTP_BIN/mock-conductor" --role staging --config "$T/staging.json" --listen "$ADDR:$CPORT" \
    --cert "$T/$NAME.pem" --key "$T/$NAME.key" --threads 2 --event-loop epoll --host pool
grep -q "event=http.server listen=$ADDR:$CPORT threads=2 event_loop=epoll" "$T/conductor2.log" ||
    zl_fail "no http.server line: $(grep http.server "$T/conductor2.log")"
CURLS=()
for i in $(seq 8); do
    "${CURL[@]}" -o "$T/e$i.json" -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
        --data-binary '{"router":"R1","node":"r1a"}' "$C/v1/router/challenge" >"$T/e$i.out" 2>&1 &
    CURLS+=("$!")
done
for p in "${CURLS[@]}"; do wait "$p" || true; done
for i in $(seq 8); do
    read -r c secs <"$T/e$i.out" || zl_fail "epoll: router $i: no answer"
    [ "$c" = 200 ] && awk -v s="$secs" 'BEGIN { exit !(s >= 1.0) }' || zl_fail "epoll: router $i: HTTP $c after $secs s"
done
[ "$(threads_of "$(zl_pid conductor2)")" = 4 ] || zl_fail "--threads 2 --event-loop epoll: $(threads_of "$(zl_pid conductor2)") threads, want 4"
zl_stop conductor2
zl_ok "--event-loop epoll: 8 routers held back 1 s, all 200 after >= 1 s, 4 threads"
