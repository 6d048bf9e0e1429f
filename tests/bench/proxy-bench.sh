#!/usr/bin/env bash
# proxy-bench: mock-proxy and real Squid side by side, in one run on the same machine, driven by the
# same load generator (connect-bench, built with the project) over the loopback of one lab namespace.
# Not a test (never run by ctest): it prints a table with the mock/Squid ratios and whether the
# issue-3 targets hold (tunnel rate >= 3x Squid's, throughput >= Squid's).
#
#   sudo ZTP_BIN=build/bin tests/bench/proxy-bench.sh [--concurrency 64] [--duration 5] [--warmup 1]
#        [--rounds 3] [--payload 64] [--bulk-bytes 1073741824] [--idle 1000] [--no-pin]
#        [--only mock|squid] [--raw FILE] [--mock-flag FLAG]... [--perf DIR] [--wait-quiet S]
#
#   --wait-quiet S     first wait (at most S seconds) until the machine is quiet (under 20% of one
#                      CPU busy over 2 s): other users' builds and fuzzers skew every figure
#   --mock-flag FLAG   an extra mock-proxy flag (repeatable), e.g. --mock-flag --no-splice
#   --perf DIR         perf record -g of each proxy during its first rate round (DIR/perf-NAME.data)
#                      and a summary: kernel/user split, syscalls, top user-space symbols
#   --raw FILE         also write the output to FILE
#
# Both proxies run at the same time (on different addresses), started fresh with a generated config,
# access log on (tmpfs, as everything else here); only one is loaded at a time:
#   1. memory, on the fresh proxies: VmRSS at idle, then with N idle tunnels open (each has echoed one
#      byte, so both legs are up), open fds; the tunnels are closed again
#   2. tunnel rate, --rounds rounds alternating mock/Squid: C connections, each in a loop connect ->
#      CONNECT -> 200 -> 'E'+payload -> echo -> close, for the duration after a warm-up; tunnels/s,
#      latency "CONNECT sent -> 200 received" (p50/p99), CPU of the proxy (per tunnel), of the
#      generator, of the server, and of each CPU (whatever else ran shows as "other")
#   3. bulk, --rounds rounds: one tunnel, N bytes down (server -> client) and N bytes up, MiB/s
# The table shows the median of the rounds and [min-max]. With 2 or more CPUs the proxies run on CPU 1
# and the generator and the server on CPU 0 (the server on CPU 2 when there is one): the proxy has a
# core of its own and its CPU% says whether it was the bottleneck (~100%).
#
# Squid: Debian's squid (5.7 on Debian 12), workers 1 (its default), `cache deny all`, access log
# (stdio, squid format), CONNECT to port 443 (its default SSL_ports) from the lab network, and a
# dnsmasq that answers its reverse lookups of client addresses. mock-proxy: its defaults, allow_src
# the lab network. Everything lives in one namespace ($ZL_PREFIX-bench: loopback only, 198.18.0.0/24
# on lo) that the cleanup removes; every connect-bench run is bounded in time and count.
set -euo pipefail
ZL_PREFIX=${ZL_PREFIX:-zb$$}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../integration/lib.sh"
. "$BENCH_DIR/bench-lib.sh"
ZL_TEST=proxy-bench

CONC=64 DURATION=5 WARMUP=1 ROUNDS=3 PAYLOAD=64 BULK=$((1 << 30)) IDLE=1000 PIN=1 ONLY="" RAW="" PERF_DIR="" WAIT_QUIET=0
MOCK_FLAGS=()
while [ $# -gt 0 ]; do
    case $1 in
    --concurrency) CONC=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --payload) PAYLOAD=$2; shift 2 ;;
    --bulk-bytes) BULK=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --mock-flag) MOCK_FLAGS+=("$2"); shift 2 ;;
    --perf) PERF_DIR=$2; shift 2 ;;
    --wait-quiet) WAIT_QUIET=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 64 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9]$ ]] || zl_fail "--rounds 1..9"
case $ONLY in "" | mock | squid) ;; *) zl_fail "--only mock|squid" ;; esac
[[ $WAIT_QUIET =~ ^[0-9]+$ ]] && [ "$WAIT_QUIET" -le 3600 ] || zl_fail "--wait-quiet 0..3600"
CMDLINE="tests/bench/proxy-bench.sh --concurrency $CONC --duration $DURATION --warmup $WARMUP --rounds $ROUNDS"
CMDLINE+=" --payload $PAYLOAD --bulk-bytes $BULK --idle $IDLE$([ "$PIN" = 1 ] || echo ' --no-pin')"
for f in ${MOCK_FLAGS[@]+"${MOCK_FLAGS[@]}"}; do CMDLINE+=" --mock-flag $f"; done

zl_require_root
zl_require_cmd squid dnsmasq taskset ss awk timeout
[ -z "$PERF_DIR" ] || { zl_require_cmd perf; mkdir -p "$PERF_DIR"; }
CB=$ZTP_BIN/connect-bench
[ -x "$CB" ] && [ -x "$ZTP_BIN/mock-proxy" ] || zl_fail "build mock-proxy and connect-bench first ($ZTP_BIN; ZTP_BIN=build-dir/bin)"

# Every file (access logs included) on tmpfs, for both proxies alike.
rmdir "$ZL_TMP"
ZL_TMP=$(mktemp -d "/dev/shm/${ZL_PREFIX}.XXXXXX")
chmod 755 "$ZL_TMP"
mkdir "$ZL_TMP/access" # not *.log at the top: a failure prints the top-level logs only
ulimit -n "$(ulimit -Hn)" # the proxies raise their own soft limits as far as this allows
NOFILE=$(ulimit -n)

# ---- topology: one namespace, loopback only ----
zl_ns bench
NSN=$(zl_nsname bench)
SERVERS=() SRCS=()
declare -A ADDR=([squid]=198.18.0.1:3128 [mock]=198.18.0.2:3128)
for a in 1 2; do ip -n "$NSN" addr add "198.18.0.$a/32" dev lo; done
for a in 10 11 12 13; do ip -n "$NSN" addr add "198.18.0.$a/32" dev lo; SERVERS+=("198.18.0.$a:443"); done
for a in $(seq 100 115); do ip -n "$NSN" addr add "198.18.0.$a/32" dev lo; SRCS+=("198.18.0.$a"); done
# Every run leaves ~100,000 sockets in TIME_WAIT (60 s). tcp_tw_reuse defaults to 2 (loopback only),
# and 198.18/15 on lo is not "loopback" to the kernel, so without reuse the ephemeral ports of the
# proxy's upstream connects fill up and connect() then burns milliseconds searching for a free port
# (a later round collapses to ~300 tunnels/s, the proxy at 100% CPU in the kernel). Reuse after 1 s,
# as proxies are usually tuned, in this namespace only. Targets and sources also rotate per
# connection, to spread the 4-tuples.
ip netns exec "$NSN" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
TARGETS=$(IFS=,; echo "${SERVERS[*]}")
SOURCES=$(IFS=,; echo "${SRCS[*]}")

NCPU=$(nproc)
GEN_CPU="" SRV_CPU="" PROXY_CPU=""
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    GEN_CPU=0 PROXY_CPU=1 SRV_CPU=0
    [ "$NCPU" -ge 3 ] && SRV_CPU=2
fi
pin() { [ -z "$2" ] || taskset -a -pc "$2" "$1" >/dev/null; }
gen() {
    if [ -n "$GEN_CPU" ]; then
        timeout 300 ip netns exec "$NSN" taskset -c "$GEN_CPU" "$CB" "$@"
    else
        timeout 300 ip netns exec "$NSN" "$CB" "$@"
    fi
}

# Squid 5.7 looks up the PTR of every client address (its default logformats use %>A; fixed in
# Squid 6 by squid-cache/squid#912) and cannot be told not to. Unanswered, the lookups pile up and
# make Squid slower with every connection, which no real deployment has: give it a resolver that
# answers (positively, cached for an hour), as a site DNS would.
HOSTREC=()
for a in "${SRCS[@]}" "${SERVERS[@]%:*}"; do HOSTREC+=("--host-record=h${a##*.}.bench,$a"); done
zl_start_plain dnsmasq bench dnsmasq -k -C /dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 \
    --bind-interfaces --local-ttl=3600 --pid-file="$ZL_TMP/dnsmasq.pid" --user=root "${HOSTREC[@]}"
zl_wait 10 "dnsmasq listening" bash -c "ip netns exec '$NSN' ss -Hlun 'src 127.0.0.1:53' | grep -q 53"

zl_start server bench "$CB" server $(printf -- '--listen %s ' "${SERVERS[@]}")
SRV_PID=$(zl_pid server)
pin "$SRV_PID" "$SRV_CPU"

# ---- the proxies ----
declare -A PID ALOG
start_mock() {
    printf '{"allow_src": ["198.18.0.0/24"]}\n' >"$ZL_TMP/mock.json"
    zl_start mock bench "$ZTP_BIN/mock-proxy" --listen "${ADDR[mock]}" --config "$ZL_TMP/mock.json" \
        --access-log "$ZL_TMP/access/mock.log" --host bench-mock ${MOCK_FLAGS[@]+"${MOCK_FLAGS[@]}"}
    PID[mock]=$(zl_pid mock) ALOG[mock]=$ZL_TMP/access/mock.log
}

start_squid() {
    local sq=$ZL_TMP/squid
    mkdir -p "$sq"
    chmod 777 "$sq" "$ZL_TMP/access" # Squid runs as its cache_effective_user
    cat >"$sq/squid.conf" <<CONF
http_port ${ADDR[squid]}
pid_filename $sq/squid.pid
access_log stdio:$ZL_TMP/access/squid.log squid
cache_log $sq/cache.log
cache_store_log none
logfile_rotate 0
coredump_dir $sq
cache deny all
visible_hostname bench-squid
pinger_enable off
dns_nameservers 127.0.0.1
max_filedescriptors $NOFILE
shutdown_lifetime 0 seconds
acl SSL_ports port 443
acl Safe_ports port 80
acl Safe_ports port 443
acl Safe_ports port 1025-65535
acl CONNECT method CONNECT
acl bench src 198.18.0.0/24
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow bench
http_access deny all
CONF
    zl_in bench squid -k parse -f "$sq/squid.conf" >"$ZL_TMP/squid-parse.log" 2>&1 ||
        zl_fail "squid -k parse: $(tail -3 "$ZL_TMP/squid-parse.log")"
    zl_start_plain squid bench squid -N -f "$sq/squid.conf"
    zl_wait 30 "squid listening on ${ADDR[squid]}" \
        bash -c "ip netns exec '$NSN' ss -Hltn 'src ${ADDR[squid]}' | grep -q LISTEN"
    PID[squid]=$(zl_pid squid) ALOG[squid]=$ZL_TMP/access/squid.log
}

declare -A R # R[NAME.test.round] = connect-bench's key=value line; R[NAME.key] = a figure
bench_wait_quiet_start "$WAIT_QUIET" # sets BUSY0, LOAD0
SQUID_VERSION=$(squid -v | sed -n 's/^Squid Cache: Version //p')
MOCK_REV=$(git -C "$ZTP_SRC" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ZTP_SRC" diff --quiet HEAD -- mocks/proxy 2>/dev/null || MOCK_REV="$MOCK_REV+changes"
PROXIES=(mock squid)
[ -n "$ONLY" ] && PROXIES=("$ONLY")

for p in "${PROXIES[@]}"; do
    "start_$p"
    pin "${PID[$p]}" "$PROXY_CPU"
done
sleep 1

# 1. memory, fresh proxies
for p in "${PROXIES[@]}"; do
    R[$p.rss_start]=$(rss_kb "${PID[$p]}")
    out=$(gen idle --proxy "${ADDR[$p]}" --target "$TARGETS" --src "$SOURCES" -n "$IDLE" --pid "${PID[$p]}" \
        --timeout 30) || zl_fail "$p: $IDLE idle tunnels: $out"
    R[$p.idle]=$out
    zl_log "$p: $out"
done

# 2. tunnel rate, alternating
for r in $(seq "$ROUNDS"); do
    order=("${PROXIES[@]}")
    [ $((r % 2)) = 0 ] && [ ${#PROXIES[@]} = 2 ] && order=("${PROXIES[1]}" "${PROXIES[0]}")
    for p in "${order[@]}"; do
        perf_pid=""
        if [ -n "$PERF_DIR" ] && [ "$r" = 1 ]; then
            (sleep "$WARMUP"; exec perf record -q -g -p "${PID[$p]}" -o "$PERF_DIR/perf-$p.data" -- sleep "$DURATION") \
                >"$ZL_TMP/perf-$p.log" 2>&1 &
            perf_pid=$!
            ZL_PIDS+=("$perf_pid")
        fi
        out=$(gen rate --proxy "${ADDR[$p]}" --target "$TARGETS" --src "$SOURCES" -c "$CONC" --duration "$DURATION" \
            --warmup "$WARMUP" --payload "$PAYLOAD" --pid "${PID[$p]}" --server-pid "$SRV_PID") ||
            zl_log "$p: the rate test had errors"
        [ -z "$perf_pid" ] || wait "$perf_pid" || true
        R[$p.rate.$r]=$out
        zl_log "$p: round $r: $out"
        zl_log "sockets: $(ip netns exec "$NSN" ss -s | sed -n 's/^TCP: *//p')"
    done
done

# 3. bulk
for r in $(seq "$ROUNDS"); do
    for p in "${PROXIES[@]}"; do
        for d in down up; do
            out=$(gen bulk --proxy "${ADDR[$p]}" --target "${SERVERS[0]}" --bytes "$BULK" --direction "$d" \
                --pid "${PID[$p]}" --server-pid "$SRV_PID" --timeout 60) || zl_fail "$p: bulk $d: $out"
            R[$p.$d.$r]=$out
            zl_log "$p: round $r: $out"
        done
    done
done

for p in "${PROXIES[@]}"; do
    R[$p.hwm]=$(hwm_kb "${PID[$p]}")
    zl_stop "$p"
    R[$p.log_lines]=$(wc -l <"${ALOG[$p]}")
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ----
# other CPU%: busy% of every CPU minus what the proxy, the generator and the server used (max over rounds)
other() {
    local r line; for r in $(seq "$ROUNDS"); do
        line=${R[$1.rate.$r]:-}
        [ -n "$line" ] || continue
        awk -v b="$(kv "$line" cpu_busy_pct)" -v p="$(kv "$line" proxy_cpu_pct)" -v g="$(kv "$line" gen_cpu_pct)" \
            -v s="$(kv "$line" server_cpu_pct)" 'BEGIN { n = split(b, a, ","); t = 0; for (i = 1; i <= n; i++) t += a[i]; print t - p - g - s }'
    done | sort -g | tail -1
}
# busy% of each CPU in the rate test, median per CPU: "CPU0 / CPU1 ..."
cpus_med() {
    vals "$1" rate cpu_busy_pct | awk -F, '{ for (i = 1; i <= NF; i++) v[i, NR] = $i; n = NF; r = NR }
        END { if (!r) { print "-"; exit } for (i = 1; i <= n; i++) { m = 0; for (k = 1; k <= r; k++) a[k] = v[i, k]
              for (x = 1; x <= r; x++) for (y = x + 1; y <= r; y++) if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
              printf "%s%s", (i > 1 ? " / " : ""), (r % 2 ? a[(r + 1) / 2] : (a[r / 2] + a[r / 2 + 1]) / 2) } print "" }'
}
row() { printf '| %-50s | %21s | %21s | %10s |\n' "$@"; }

declare -A M
for p in mock squid; do
    M[$p.rate]=$(med "$p" rate rate) M[$p.down]=$(med "$p" down mib_s) M[$p.up]=$(med "$p" up mib_s)
    M[$p.p50]=$(med "$p" rate lat_p50_us) M[$p.p99]=$(med "$p" rate lat_p99_us)
    M[$p.us]=$(med "$p" rate proxy_cpu_us_per_tunnel)
    M[$p.pt]=$(kv "${R[$p.idle]:-}" per_tunnel_bytes) M[$p.delta]=$(kv "${R[$p.idle]:-}" delta_kb)
    M[$p.other]=$(other "$p")
done
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
BULK_H=$(awk -v b="$BULK" 'BEGIN { printf "%g MiB", b / 1048576 }')
{
    echo
    echo "proxy-bench: mock-proxy ($MOCK_REV) vs Squid $SQUID_VERSION, one run, same machine, same generator"
    echo "machine: $NCPU x $CPU_MODEL, Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; load average before $LOAD0, after $LOAD1; CPU busy before the run ${BUSY0}% (of $((NCPU * 100))%)"
    if [ -n "$PROXY_CPU" ]; then
        echo "pinning: proxies on CPU $PROXY_CPU, generator on CPU $GEN_CPU, echo/bulk server on CPU $SRV_CPU"
    else
        echo "pinning: none"
    fi
    echo "command: sudo ZTP_BIN=<build>/bin $CMDLINE"
    echo "figures: median of $ROUNDS rounds [min-max]"
    echo
    row "" "mock-proxy" "Squid $SQUID_VERSION" "mock/Squid"
    row "---" "---:" "---:" "---:"
    row "CONNECT tunnels/s ($CONC conns, $PAYLOAD B echo, ${DURATION} s)" "$(cell mock rate rate)" "$(cell squid rate rate)" \
        "$(ratio "${M[mock.rate]}" "${M[squid.rate]}")"
    row "CONNECT -> 200 latency p50 / p99 (ms)" "$(ms "${M[mock.p50]}") / $(ms "${M[mock.p99]}")" \
        "$(ms "${M[squid.p50]}") / $(ms "${M[squid.p99]}")" "$(ratio "${M[mock.p50]}" "${M[squid.p50]}")"
    row "proxy CPU per tunnel (us)" "$(cell mock rate proxy_cpu_us_per_tunnel)" "$(cell squid rate proxy_cpu_us_per_tunnel)" \
        "$(ratio "${M[mock.us]}" "${M[squid.us]}")"
    row "CPU% in the rate test: proxy / generator / server" \
        "$(med mock rate proxy_cpu_pct) / $(med mock rate gen_cpu_pct) / $(med mock rate server_cpu_pct)" \
        "$(med squid rate proxy_cpu_pct) / $(med squid rate gen_cpu_pct) / $(med squid rate server_cpu_pct)" ""
    row "busy% of CPU $(seq -s ' / ' 0 $((NCPU - 1))) in the rate test" "$(cpus_med mock)" "$(cpus_med squid)" ""
    row "CPU% used by anything else (max of the rounds)" "${M[mock.other]:--}" "${M[squid.other]:--}" ""
    row "tunnel errors (all rounds)" "$(vals mock rate errors | awk '{t += $1} END {print NR ? t : "-"}')" \
        "$(vals squid rate errors | awk '{t += $1} END {print NR ? t : "-"}')" ""
    row "bulk $BULK_H down, one tunnel (MiB/s)" "$(cell mock down mib_s)" "$(cell squid down mib_s)" \
        "$(ratio "${M[mock.down]}" "${M[squid.down]}")"
    row "bulk $BULK_H up, one tunnel (MiB/s)" "$(cell mock up mib_s)" "$(cell squid up mib_s)" \
        "$(ratio "${M[mock.up]}" "${M[squid.up]}")"
    row "proxy CPU% in bulk down / up" "$(med mock down proxy_cpu_pct) / $(med mock up proxy_cpu_pct)" \
        "$(med squid down proxy_cpu_pct) / $(med squid up proxy_cpu_pct)" ""
    row "RSS at idle, fresh start (MiB)" "$(mib "${R[mock.rss_start]:-}")" "$(mib "${R[squid.rss_start]:-}")" \
        "$(ratio "${R[mock.rss_start]:-}" "${R[squid.rss_start]:-}")"
    row "RSS with $IDLE idle tunnels minus idle (MiB)" "$(mib "${M[mock.delta]}")" "$(mib "${M[squid.delta]}")" \
        "$(ratio "${M[mock.delta]}" "${M[squid.delta]}")"
    row "  per tunnel (KiB)" "$(awk -v b="${M[mock.pt]}" 'BEGIN { if (b == "") print "-"; else printf "%.1f", b / 1024 }')" \
        "$(awk -v b="${M[squid.pt]}" 'BEGIN { if (b == "") print "-"; else printf "%.1f", b / 1024 }')" \
        "$(ratio "${M[mock.pt]}" "${M[squid.pt]}")"
    row "  open fds per tunnel" "$(kv "${R[mock.idle]:-}" fds_per_tunnel)" "$(kv "${R[squid.idle]:-}" fds_per_tunnel)" ""
    row "peak RSS of the whole run, VmHWM (MiB)" "$(mib "${R[mock.hwm]:-}")" "$(mib "${R[squid.hwm]:-}")" \
        "$(ratio "${R[mock.hwm]:-}" "${R[squid.hwm]:-}")"
    row "access log lines written" "${R[mock.log_lines]:--}" "${R[squid.log_lines]:--}" ""
    echo
    if [ -n "${M[mock.rate]}" ] && [ -n "${M[squid.rate]}" ]; then
        awk -v m="${M[mock.rate]}" -v s="${M[squid.rate]}" -v md="${M[mock.down]}" -v sd="${M[squid.down]}" \
            -v mu="${M[mock.up]}" -v su="${M[squid.up]}" 'BEGIN {
            printf "target: tunnel rate >= 3x Squid: %s (%.2fx)\n", (m >= 3 * s) ? "MET" : "MISSED", m / s
            printf "target: throughput >= Squid:     %s (down %.2fx, up %.2fx)\n",
                   (md >= sd && mu >= su) ? "MET" : "MISSED", md / sd, mu / su }'
    fi
    [ "$BUSY0" -le 20 ] || echo "WARNING: the machine was already ${BUSY0}% busy before the run (other users): figures are unreliable, run again"
    for p in "${PROXIES[@]}"; do
        awk -v o="${M[$p.other]:-0}" -v p="$p" 'BEGIN { if (o > 15) printf "WARNING: other processes used up to %d%% CPU during the %s rounds: the machine was not quiet, run again\n", o, p }'
    done
    echo "RSS is user-space memory only: socket buffers and splice pipes are kernel memory."
    echo
    echo "raw:"
    for k in "${!R[@]}"; do
        case $k in *.idle | *.rate.* | *.down.* | *.up.*) printf '  %s %s\n' "$k" "${R[$k]}" ;; esac
    done | sort
    if [ -n "$PERF_DIR" ]; then
        for p in "${PROXIES[@]}"; do
            f=$PERF_DIR/perf-$p.data
            [ -s "$f" ] || continue
            echo
            echo "perf, $p, rate round 1 ($f):"
            perf report -i "$f" --no-children --sort dso -g none 2>/dev/null | awk '/%/ && !/^#/ && !/\|/ {print "  " $0}' | head -6 || true
            echo "  syscalls (children):"
            perf report -i "$f" --children --sort sym -g none 2>/dev/null |
                awk '/\[k\] (__x64_sys_|ksys_)/ {print "  " $0}' | head -12 || true
            echo "  top user-space symbols:"
            perf report -i "$f" --no-children --sort dso,sym -g none 2>/dev/null |
                awk '/%/ && !/^#/ && !/\[k\]/ && !/^ *\|/ && !/--/ {print "  " $0}' | head -10 || true
        done
    fi
    true
} | tee ${RAW:+"$RAW"}
