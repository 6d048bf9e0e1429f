#!/usr/bin/env bash
# tls-bench: the lab's HTTPS mocks side by side with nginx, in one run on the same machine, driven by
# the same load generator (tls-bench, built with the project) over the loopback of one lab namespace.
# Not a test (never run by ctest): it prints a table with the ratios to nginx and what the measured
# rates mean for issue 8's fleet (1,000 routers onboarding in at most 20 s on 2 cores).
#
#   sudo ZTP_BIN=build/bin tests/bench/tls-bench.sh [--concurrency 32] [--duration 5] [--warmup 1]
#        [--rounds 3] [--keepalive 100] [--no-pin] [--only NAME[,NAME...]] [--mock-flag FLAG]...
#        [--raw FILE] [--wait-quiet S]
#
#   --only NAMES       a subset of: ept mist cstg cprd nginx nginx-mtls (default: all)
#   --mock-flag FLAG   an extra flag for every mock (repeatable), e.g. --mock-flag --threads=1
#   --wait-quiet S     wait (at most S seconds in all) until the machine is quiet (under 20% of one CPU
#                      busy over 1-2 s) before the run and before each test, and run a test again (at
#                      most twice) when something else used more than 25% of a CPU during it: other
#                      users' builds and fuzzers skew every figure
#   --raw FILE         also write the output to FILE
#
# The servers, each on its own address, started fresh, logging as they do in the lab (request log
# lines / access log, on tmpfs):
#   ept         mock-ep-terminator: POST /v1/phone-home for a claimed device            -> 307
#   mist        mock-mist:          POST /v1/device/SSR-0001/challenge                   -> 200
#   cstg        mock-conductor --role staging:    POST /v1/router/challenge             -> 200
#   cprd        mock-conductor --role production: the same, mutual TLS (a router certificate) -> 200
#   nginx       nginx (Debian's nginx-light), 1 worker: the same POST answered from a static JSON
#               file (error_page 405 =200: nginx serves static files to GET only), as someone would
#               stand up a mock HTTPS endpoint
#   nginx-mtls  the same nginx, another port, ssl_verify_client on (the reference for cprd)
# One throwaway CA; every server certificate is EC P-256 (the lab's choice), the client certificate
# too. The client verifies the chain and the name (SNI) and never resumes a session.
#
# Two tests per server, --rounds rounds each, servers alternating:
#   handshakes  C connections, each in a loop: connect -> full TLS handshake -> one request -> the
#               whole answer -> close: handshakes/s, handshake and exchange latency (p50/p99),
#               server CPU per connection, the server's thread count (max, sampled)
#   keep-alive  C connections of --keepalive requests each: requests/s, request latency, CPU per request
# plus the server's RSS at idle and its peak (VmHWM) at the end. The table shows the median of the
# rounds and [min-max]. With 2 or more CPUs every server runs on CPU 1 (all its threads) and the
# generator on CPU 0: the server has a core of its own and its CPU% says whether it was the bottleneck.
set -euo pipefail
ZL_PREFIX=${ZL_PREFIX:-zt$$}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../integration/lib.sh"
. "$BENCH_DIR/bench-lib.sh"
ZL_TEST=tls-bench

CONC=32 DURATION=5 WARMUP=1 ROUNDS=3 KEEPALIVE=100 PIN=1 ONLY="" RAW="" WAIT_QUIET=0
MOCK_FLAGS=()
while [ $# -gt 0 ]; do
    case $1 in
    --concurrency) CONC=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --keepalive) KEEPALIVE=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --mock-flag) MOCK_FLAGS+=("$2"); shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --wait-quiet) WAIT_QUIET=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9]$ ]] || zl_fail "--rounds 1..9"
[[ $CONC =~ ^[0-9]+$ ]] && [ "$CONC" -ge 1 ] && [ "$CONC" -le 10000 ] || zl_fail "--concurrency 1..10000"
[[ $KEEPALIVE =~ ^[0-9]+$ ]] && [ "$KEEPALIVE" -ge 2 ] && [ "$KEEPALIVE" -le 100000 ] || zl_fail "--keepalive 2..100000"
[[ $WAIT_QUIET =~ ^[0-9]+$ ]] && [ "$WAIT_QUIET" -le 3600 ] || zl_fail "--wait-quiet 0..3600"
ALL=(ept mist cstg cprd nginx nginx-mtls)
SERVERS=("${ALL[@]}")
if [ -n "$ONLY" ]; then
    IFS=, read -r -a SERVERS <<<"$ONLY"
    for s in "${SERVERS[@]}"; do [[ " ${ALL[*]} " == *" $s "* ]] || zl_fail "--only: unknown server $s"; done
fi
has() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }
CMDLINE="tests/bench/tls-bench.sh --concurrency $CONC --duration $DURATION --warmup $WARMUP --rounds $ROUNDS"
CMDLINE+=" --keepalive $KEEPALIVE$([ "$PIN" = 1 ] || echo ' --no-pin')${ONLY:+ --only $ONLY}"
for f in ${MOCK_FLAGS[@]+"${MOCK_FLAGS[@]}"}; do CMDLINE+=" --mock-flag $f"; done

zl_require_root
zl_require_cmd openssl taskset ss awk timeout jq pgrep
{ has nginx || has nginx-mtls; } && zl_require_cmd nginx
TB=$ZTP_BIN/tls-bench
for p in tls-bench mock-ep-terminator mock-mist mock-conductor; do
    [ -x "$ZTP_BIN/$p" ] || zl_fail "build $p first ($ZTP_BIN; ZTP_BIN=build-dir/bin)"
done

# Every file (logs included) on tmpfs, for every server alike.
rmdir "$ZL_TMP"
ZL_TMP=$(mktemp -d "/dev/shm/${ZL_PREFIX}.XXXXXX")
chmod 755 "$ZL_TMP"
T=$ZL_TMP
mkdir "$T/access" "$T/www" "$T/pki" # not *.log at the top: a failure prints the top-level logs only
ulimit -n "$(ulimit -Hn)"

# ---- topology: one namespace, loopback only ----
zl_ns bench
NSN=$(zl_nsname bench)
declare -A ADDR=([ept]=198.18.0.10:443 [mist]=198.18.0.11:443 [cstg]=198.18.0.12:930 [cprd]=198.18.0.13:930
    [nginx]=198.18.0.20:443 [nginx-mtls]=198.18.0.20:444)
declare -A NAME=([ept]=ep-terminator.mistsys.net [mist]=mist-prod.lab [cstg]=conductor-staging.lab
    [cprd]=conductor-prod.lab [nginx]=nginx.lab [nginx-mtls]=nginx.lab)
for a in 10 11 12 13 20; do ip -n "$NSN" addr add "198.18.0.$a/32" dev lo; done
SRCS=()
for a in $(seq 100 115); do ip -n "$NSN" addr add "198.18.0.$a/32" dev lo; SRCS+=("198.18.0.$a"); done
SOURCES=$(IFS=,; echo "${SRCS[*]}")
# Every handshake round leaves its connections in TIME_WAIT on the client side: reuse them after 1 s
# and widen the port range, in this namespace only (see proxy-bench.sh); sources rotate too.
ip netns exec "$NSN" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"

NCPU=$(nproc)
GEN_CPU="" SRV_CPU=""
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then GEN_CPU=0 SRV_CPU=1; fi
ON_SRV=()
[ -z "$SRV_CPU" ] || ON_SRV=(taskset -c "$SRV_CPU")
gen() {
    if [ -n "$GEN_CPU" ]; then
        timeout 700 ip netns exec "$NSN" taskset -c "$GEN_CPU" "$TB" "$@"
    else
        timeout 700 ip netns exec "$NSN" "$TB" "$@"
    fi
}

# ---- PKI: one CA, EC P-256 server certificates (SAN = the server's name), a router certificate ----
mkpki() {
    local p=$T/pki s
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=tls-bench CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$p/ca.key" -out "$p/ca.pem"
    for s in ept mist cstg cprd nginx; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${NAME[$s]}" \
            -keyout "$p/$s.key" -out "$p/$s.csr"
        openssl x509 -req -in "$p/$s.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" -CAcreateserial -days 2 \
            -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "${NAME[$s]}") -out "$p/$s.pem"
    done
    # the router certificate, as the staging conductor issues it (mocks/conductor/README.md)
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/O=ztp-lab router/OU=R1/CN=R1.r1a" \
        -keyout "$p/router.key" -out "$p/router.csr"
    openssl x509 -req -in "$p/router.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" -CAcreateserial -days 2 \
        -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=URI:ssr://R1/r1a\n') \
        -out "$p/router.pem"
    chmod 644 "$p"/*
}
mkpki >"$T/pki/pki.out" 2>&1 || { cat "$T/pki/pki.out" >&2; zl_fail "openssl could not make the PKI"; }
P=$T/pki

# ---- configs ----
cat >"$T/claims.json" <<JSON
{"environment": "production", "retry-after": 10,
 "environments": {"production": "https://mist-prod.lab"},
 "claims": {"SSR-0001": {"environment": "production", "org": "acme"}}}
JSON
cat >"$T/registry.json" <<JSON
{"max-failures": 5, "lockout-seconds": 60, "challenge-ttl": 30, "session-ttl": 300,
 "devices": {"SSR-0001": {"org": "acme", "site": "branch-1", "ocra-suite": "OCRA-1:HOTP-SHA256-8:QA08",
   "ocra-key-hex": "3132333435363738393031323334353637383930313233343536373839303132",
   "onboarding": {"conductor": "198.18.0.12:930", "psk": "bench-psk"}}}}
JSON
cat >"$T/staging.json" <<JSON
{"psk-ttl": 30, "session-ttl": 300, "max-failures": 5, "lockout-seconds": 60,
 "ca-cert": "$P/ca.pem", "ca-key": "$P/ca.key", "cert-days": 30,
 "routers": {"R1": {"psk": "bench-stg-psk", "nodes": {"r1a": {"asset-id": "SSR-0001"}}}},
 "production": {"conductor": ["198.18.0.13:930"], "psk": "bench-prd-psk",
                "root-ca-pem": $(jq -Rs . <"$P/ca.pem")},
 "svr": {"hub": "198.18.7.10:1280", "hub-name": "hub1"}}
JSON
cat >"$T/production.json" <<JSON
{"psk-ttl": 30, "session-ttl": 300, "max-failures": 5, "lockout-seconds": 60,
 "routers": {"R1": {"psk": "bench-prd-psk", "nodes": {"r1a": {"asset-id": "SSR-0001"}}}}}
JSON
# nginx's answer: a conductor challenge answer, byte for byte the size mock-conductor sends
printf '{"challenge-id":"%s","nonce":"%s","expires-in":30}' "$(printf '%032d' 0)" "$(printf '%064d' 0)" \
    >"$T/www/answer.json"
chmod 644 "$T/www/answer.json"
cat >"$T/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 16384; }
http {
    access_log $T/access/nginx.log combined;
    default_type application/json;
    keepalive_requests 1000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    ssl_certificate $P/nginx.pem;
    ssl_certificate_key $P/nginx.key;
    root $T/www;
    server {
        listen ${ADDR[nginx]} ssl;
        server_name ${NAME[nginx]};
        location / { error_page 405 =200 \$uri; }
    }
    server {
        listen ${ADDR[nginx-mtls]} ssl;
        server_name ${NAME[nginx-mtls]};
        ssl_verify_client on;
        ssl_client_certificate $P/ca.pem;
        location / { error_page 405 =200 \$uri; }
    }
}
CONF

# ---- the load per server: path, body, expected status, extra tls-bench flags ----
declare -A PATH_=([ept]=/v1/phone-home [mist]=/v1/device/SSR-0001/challenge [cstg]=/v1/router/challenge
    [cprd]=/v1/router/challenge [nginx]=/answer.json [nginx-mtls]=/answer.json)
declare -A BODY=([ept]='{"device-id":"SSR-0001","model":"SSR120","serial":"bench"}' [mist]='{}'
    [cstg]='{"router":"R1","node":"r1a"}' [cprd]='{"router":"R1","node":"r1a"}'
    [nginx]='{"router":"R1","node":"r1a"}' [nginx-mtls]='{"router":"R1","node":"r1a"}')
declare -A EXPECT=([ept]=307 [mist]=200 [cstg]=200 [cprd]=200 [nginx]=200 [nginx-mtls]=200)
declare -A LABEL=([ept]="ep-terminator" [mist]="mist" [cstg]="conductor stg" [cprd]="conductor prd"
    [nginx]="nginx" [nginx-mtls]="nginx mTLS")
client_flags() {
    case $1 in cprd | nginx-mtls) printf -- '--cert %s --key %s' "$P/router.pem" "$P/router.key" ;; esac
}

# ---- start ----
declare -A PID PIDS
MF=(${MOCK_FLAGS[@]+"${MOCK_FLAGS[@]}"})
start_server() {
    local s=$1
    case $s in
    ept) zl_start ept bench ${ON_SRV[@]+"${ON_SRV[@]}"} "$ZTP_BIN/mock-ep-terminator" --config "$T/claims.json" --listen "${ADDR[ept]}" \
        --cert "$P/ept.pem" --key "$P/ept.key" --host bench-ept ${MF[@]+"${MF[@]}"} ;;
    mist) zl_start mist bench ${ON_SRV[@]+"${ON_SRV[@]}"} "$ZTP_BIN/mock-mist" --config "$T/registry.json" --listen "${ADDR[mist]}" \
        --cert "$P/mist.pem" --key "$P/mist.key" --host bench-mist ${MF[@]+"${MF[@]}"} ;;
    cstg) zl_start cstg bench ${ON_SRV[@]+"${ON_SRV[@]}"} "$ZTP_BIN/mock-conductor" --role staging --config "$T/staging.json" \
        --listen "${ADDR[cstg]}" --cert "$P/cstg.pem" --key "$P/cstg.key" --state "$T/staging-state.json" \
        --host bench-cstg ${MF[@]+"${MF[@]}"} ;;
    cprd) zl_start cprd bench ${ON_SRV[@]+"${ON_SRV[@]}"} "$ZTP_BIN/mock-conductor" --role production --config "$T/production.json" \
        --listen "${ADDR[cprd]}" --cert "$P/cprd.pem" --key "$P/cprd.key" --client-ca "$P/ca.pem" \
        --state "$T/production-state.json" --host bench-cprd ${MF[@]+"${MF[@]}"} ;;
    nginx | nginx-mtls)
        if [ -z "${PID[nginx]:-}" ]; then
            zl_in bench nginx -t -c "$T/nginx.conf" >"$T/nginx-t.out" 2>&1 ||
                zl_fail "nginx -t: $(tail -3 "$T/nginx-t.out")"
            zl_start_plain nginx bench ${ON_SRV[@]+"${ON_SRV[@]}"} nginx -c "$T/nginx.conf"
            zl_wait 20 "nginx listening" bash -c "ip netns exec '$NSN' ss -Hltn 'src ${ADDR[nginx-mtls]}' | grep -q LISTEN"
            # the worker does the work; the master only waits: count both
            local m; m=$(zl_pid nginx)
            zl_wait 10 "nginx worker" pgrep -P "$m"
            PID[nginx]=$m PIDS[nginx]="$m,$(pgrep -P "$m" | paste -sd,)"
        fi
        PID[$s]=${PID[nginx]} PIDS[$s]=${PIDS[nginx]}
        return ;;
    esac
    PID[$s]=$(zl_pid "$s") PIDS[$s]=$(zl_pid "$s")
}

threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
sum_pids() { # sum_pids FUNC PID,PID...
    local f=$1 t=0 p; IFS=, read -r -a ps <<<"$2"
    for p in "${ps[@]}"; do t=$((t + $("$f" "$p"))); done
    echo "$t"
}
# max_threads PID[,PID...] SECONDS FILE: sample the thread count (summed) every 0.1 s in the background
max_threads() {
    local pids=$1 until=$((SECONDS + $2 + 1)) m=0 n
    while [ "$SECONDS" -lt "$until" ] && [ -e "/proc/${pids%%,*}" ]; do
        n=$(sum_pids threads "$pids" 2>/dev/null || echo 0)
        [ "${n:-0}" -gt "$m" ] && m=$n
        sleep 0.1
    done
    echo "$m" >"$3"
}

bench_wait_quiet_start "$WAIT_QUIET" # sets BUSY0, WAITED, LOAD0 (and QUIET_DEADLINE for wait_quiet)
NGINX_VERSION=$(nginx -v 2>&1 | sed -n 's|^nginx version: nginx/||p')
MOCK_REV=$(git -C "$ZTP_SRC" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ZTP_SRC" diff --quiet HEAD -- mocks/mist mocks/conductor 2>/dev/null || MOCK_REV="$MOCK_REV+changes"

declare -A R # R[NAME.test.round] = tls-bench's key=value line; R[NAME.key] = a figure
for s in "${SERVERS[@]}"; do start_server "$s"; done
sleep 0.5
for s in "${SERVERS[@]}"; do
    R[$s.rss_start]=$(sum_pids rss_kb "${PIDS[$s]}")
    R[$s.threads_idle]=$(sum_pids threads "${PIDS[$s]}")
done

# other_of LINE: busy% of every CPU minus what the server and the generator used
other_of() {
    awk -v b="$(kv "$1" cpu_busy_pct)" -v p="$(kv "$1" server_cpu_pct)" -v g="$(kv "$1" gen_cpu_pct)" \
        'BEGIN { n = split(b, a, ","); t = 0; for (i = 1; i <= n; i++) t += a[i]; printf "%.0f", t - p - g }'
}
wait_quiet() { # until the machine is quiet, within what is left of --wait-quiet
    local b
    [ "$SECONDS" -lt "$QUIET_DEADLINE" ] || return 0
    b=$(busy_pct 1)
    while [ "$b" -gt 20 ] && [ "$SECONDS" -lt "$QUIET_DEADLINE" ]; do
        QUIET_WAITS=$((QUIET_WAITS + 1))
        b=$(busy_pct 2)
    done
}
QUIET_WAITS=0 RETRIED=0
run_one() { # run_one SERVER TEST ROUND
    local s=$1 t=$2 r=$3 ka=1 out o try
    [ "$t" = ka ] && ka=$KEEPALIVE
    for try in 0 1 2; do
        wait_quiet
        max_threads "${PIDS[$s]}" "$((${WARMUP%.*} + ${DURATION%.*} + 1))" "$T/threads.$s.$t.$r" &
        local sampler=$!
        # shellcheck disable=SC2046
        out=$(gen --connect "${ADDR[$s]}" --servername "${NAME[$s]}" --ca "$P/ca.pem" $(client_flags "$s") \
            -c "$CONC" --duration "$DURATION" --warmup "$WARMUP" --keepalive "$ka" --method POST \
            --path "${PATH_[$s]}" --body "${BODY[$s]}" --expect "${EXPECT[$s]}" --src "$SOURCES" \
            --pid "${PIDS[$s]}") || zl_log "$s: the $t test had errors"
        wait "$sampler" 2>/dev/null || true
        o=$(other_of "$out")
        { [ "$WAIT_QUIET" -gt 0 ] && [ "${o:-0}" -gt 25 ] && [ "$try" -lt 2 ]; } || break
        RETRIED=$((RETRIED + 1))
        zl_log "$s: $t round $r: other processes used ${o}% CPU during it, again"
    done
    R[$s.$t.$r]="$out threads_max=$(cat "$T/threads.$s.$t.$r" 2>/dev/null || echo -) retries=$try"
    zl_log "$s: $t round $r: ${R[$s.$t.$r]}"
}

for r in $(seq "$ROUNDS"); do
    order=("${SERVERS[@]}")
    [ $((r % 2)) = 0 ] && order=($(printf '%s\n' "${SERVERS[@]}" | tac))
    for s in "${order[@]}"; do run_one "$s" hs "$r"; done
    for s in "${order[@]}"; do run_one "$s" ka "$r"; done
done

for s in "${SERVERS[@]}"; do
    R[$s.hwm]=$(sum_pids hwm_kb "${PIDS[$s]}")
done
for s in ept mist cstg cprd; do has "$s" && zl_stop "$s"; done
{ has nginx || has nginx-mtls; } && zl_stop nginx
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ----
total() { vals "$1" "$2" "$3" | awk '{t += $1} END {print NR ? t : "-"}'; }
# other CPU%: busy% of every CPU minus what the server and the generator used (max over rounds)
other() {
    local r line; for r in $(seq "$ROUNDS"); do
        line=${R[$1.$2.$r]:-}
        [ -n "$line" ] && other_of "$line" && echo
    done | sort -g | tail -1
}
ref_of() { case $1 in cprd | nginx-mtls) echo nginx-mtls ;; *) echo nginx ;; esac; }
# The fleet of issue 8: 1,000 routers in 20 s = 50 routers/s; per router about 1 phone-home, 3 Mist
# and 10 conductor requests (5 staging-like, 5 production-like), each on a fresh TLS connection.
declare -A FLEET_PER_S=([ept]=50 [mist]=150 [cstg]=250 [cprd]=250)

COLS=()
for s in "${ALL[@]}"; do has "$s" && COLS+=("$s"); done
row() {
    local label=$1; shift
    printf '| %-44s |' "$label"
    local v; for v in "$@"; do printf ' %19s |' "$v"; done
    printf '\n'
}
each() { local f=$1 s out=(); shift; for s in "${COLS[@]}"; do out+=("$($f "$s" "$@")"); done; row "${ROWLABEL}" "${out[@]}"; }
ROWLABEL=""
f_cell() { cell "$1" "$2" "$3"; }
f_ratio() { local ref; ref=$(ref_of "$1"); [ "$1" = "$ref" ] && { echo; return; }; ratio "$(med "$1" "$2" "$3")" "$(med "$ref" "$2" "$3")"; }
f_lat() { echo "$(ms "$(med "$1" "$2" "$3")") / $(ms "$(med "$1" "$2" "$4")")"; }
f_cpu2() { echo "$(med "$1" "$2" server_cpu_pct) / $(med "$1" "$2" gen_cpu_pct)"; }
f_other() { other "$1" "$2"; }
f_err() { total "$1" "$2" errors; }
f_thr() { echo "${R[$1.threads_idle]:-} / $(vals "$1" "$2" threads_max | sort -g | tail -1)"; }
f_mib() { mib "${R[$1.$2]:-}"; }
f_fleet() { # the fleet's load on this mock, as a share of one CPU
    local per=${FLEET_PER_S[$1]:-}
    [ -n "$per" ] || { echo; return; }
    awk -v us="$(med "$1" hs server_cpu_us_per_conn)" -v n="$per" 'BEGIN { if (us == "") print "-"; else printf "%d/s: %.0f%%", n, n * us / 1e4 }'
}
f_info() { kv "${R[$1.hs.1]:-}" "$2"; }
# what one CPU of the server could serve, from its CPU per connection/request: the fair comparison
# when the generator, not the server, is the bottleneck (its CPU% near 100, the server's below)
f_cap() { awk -v us="$(med "$1" "$2" "$3")" 'BEGIN { if (us == "" || us <= 0) print "-"; else printf "%.0f", 1e6 / us }'; }
f_capratio() {
    local ref; ref=$(ref_of "$1"); [ "$1" = "$ref" ] && { echo; return; }
    ratio "$(med "$ref" "$2" "$3")" "$(med "$1" "$2" "$3")"
}

CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
{
    echo
    echo "tls-bench: the HTTPS mocks ($MOCK_REV) vs nginx $NGINX_VERSION, one run, same machine, same generator"
    echo "machine: $NCPU x $CPU_MODEL, Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; load average before $LOAD0, after $LOAD1"
    echo "quiet: CPU busy before the run ${BUSY0}% (of $((NCPU * 100))%), after waiting ${WAITED} s (--wait-quiet $WAIT_QUIET); $QUIET_WAITS more waits before tests, $RETRIED tests run again (disturbed)"
    if [ -n "$SRV_CPU" ]; then
        echo "pinning: every server (all its threads) on CPU $SRV_CPU, the generator on CPU $GEN_CPU"
    else
        echo "pinning: none"
    fi
    echo "mock flags: ${MOCK_FLAGS[*]:-(defaults)}"
    echo "command: sudo ZTP_BIN=<build>/bin $CMDLINE"
    echo "figures: median of $ROUNDS rounds [min-max]; $CONC connections; handshakes: 1 request per connection; keep-alive: $KEEPALIVE requests per connection"
    echo
    hdr=() sep=()
    for s in "${COLS[@]}"; do hdr+=("${LABEL[$s]}"); sep+=("---:"); done
    row "" "${hdr[@]}"
    row "---" "${sep[@]}"
    ROWLABEL="full handshakes/s (+1 request each)"; each f_cell hs handshakes_per_s
    ROWLABEL="  ratio to nginx (mTLS: to nginx mTLS)"; each f_ratio hs handshakes_per_s
    ROWLABEL="  handshake latency p50 / p99 (ms)"; each f_lat hs hs_p50_us hs_p99_us
    ROWLABEL="  exchange latency p50 / p99 (ms)"; each f_lat hs exch_p50_us exch_p99_us
    ROWLABEL="  server CPU per connection (us)"; each f_cell hs server_cpu_us_per_conn
    ROWLABEL="  per CPU-second (1e6 / CPU per conn)"; each f_cap hs server_cpu_us_per_conn
    ROWLABEL="    ratio to nginx (mTLS: to nginx mTLS)"; each f_capratio hs server_cpu_us_per_conn
    ROWLABEL="  CPU%: server / generator"; each f_cpu2 hs
    ROWLABEL="  CPU% used by anything else (max)"; each f_other hs
    ROWLABEL="  errors (all rounds)"; each f_err hs
    ROWLABEL="  threads: idle / max in the test"; each f_thr hs
    ROWLABEL="keep-alive requests/s"; each f_cell ka requests_per_s
    ROWLABEL="  ratio to nginx (mTLS: to nginx mTLS)"; each f_ratio ka requests_per_s
    ROWLABEL="  request latency p50 / p99 (ms)"; each f_lat ka req_p50_us req_p99_us
    ROWLABEL="  server CPU per request (us)"; each f_cell ka server_cpu_us_per_req
    ROWLABEL="  per CPU-second (1e6 / CPU per request)"; each f_cap ka server_cpu_us_per_req
    ROWLABEL="  CPU%: server / generator"; each f_cpu2 ka
    ROWLABEL="  CPU% used by anything else (max)"; each f_other ka
    ROWLABEL="  errors (all rounds)"; each f_err ka
    ROWLABEL="RSS at idle, fresh start (MiB)"; each f_mib rss_start
    ROWLABEL="peak RSS of the run, VmHWM (MiB)"; each f_mib hwm
    ROWLABEL="fleet load: conns/s, share of one CPU"; each f_fleet
    echo
    echo "TLS: $(f_info "${COLS[0]}" tls_version) $(f_info "${COLS[0]}" cipher), group $(f_info "${COLS[0]}" group), server key $(f_info "${COLS[0]}" server_key) (first server; raw lines below for each)"
    echo "rates: a rate is the server's own only when its CPU% is near 100; where the generator's is instead"
    echo "       (nginx), the \"per CPU-second\" rows (what one CPU of the server would serve) compare the servers"
    echo "fleet: issue 8's 1,000 routers in 20 s need about 50 phone-homes/s, 150 Mist and 500 conductor requests/s"
    echo "       on fresh TLS connections; the last row is that load times the measured CPU per connection."
    [ "$BUSY0" -le 20 ] || echo "WARNING: the machine was already ${BUSY0}% busy before the run (other users): figures are unreliable, run again"
    for s in "${COLS[@]}"; do
        awk -v o="$(other "$s" hs)" -v p="${LABEL[$s]}" 'BEGIN { if (o > 25) printf "WARNING: other processes used up to %d%% CPU during the %s rounds: the machine was not quiet, run again\n", o, p }'
    done
    echo
    echo "raw:"
    for k in "${!R[@]}"; do
        case $k in *.hs.* | *.ka.*) printf '  %s %s\n' "$k" "${R[$k]}" ;; esac
    done | sort
    true
} | tee ${RAW:+"$RAW"}
