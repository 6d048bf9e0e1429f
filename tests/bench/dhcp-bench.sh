#!/usr/bin/env bash
# dhcp-bench: mock-dhcpd, Kea (kea-dhcp4, memfile) and dnsmasq side by side, in one run on the same
# machine, driven by the same load generator: Kea's perfdhcp (package kea-admin), which speaks as a
# DHCP relay. Not a test (never run by ctest): it prints a table with the DORA rate each server
# sustains at under --max-drop % drops, the ratios to Kea and dnsmasq, and whether the issue-8 target
# holds (mock-dhcpd at least Kea's rate at under 0.5 % drops).
#
#   sudo ZTP_BIN=build/bin tests/bench/dhcp-bench.sh [--duration 3] [--clients 20000]
#        [--start-rate 1000] [--max-rate 64000] [--max-drop 0.5] [--only mock|kea|dnsmasq]
#        [--raw FILE] [--wait-quiet S] [--perf DIR]
#
#   --wait-quiet S   first wait (at most S seconds) until the machine is quiet (under 20 % of one
#                    CPU busy over 2 s), then before every step until it is quiet for 1 s (within
#                    the same S, at most 60 s a step): other users' builds and fuzzers skew every figure
#   --perf DIR       perf record -g the server during every step (DIR/perf-SERVER-RATE.data); slows it
#
# Topology: two namespaces joined by a veth: "srv" (198.18.20.1/24, the server) and "relay"
# (198.18.20.2/24 plus the giaddr 198.19.0.1/16). perfdhcp in "relay" sends relayed DISCOVER/REQUEST
# (giaddr 198.19.0.1, Option 60 "JuniperSSR", Option 55 = 1 3 6 43) by unicast to 198.18.20.1:67;
# every server hands out 198.19.1.0-198.19.254.255 (about 65,000 addresses, more than --clients)
# with Option 43 sub-option 128 for the JuniperSSR vendor class, persists its leases as it does by
# default (mock-dhcpd: JSON file, atomic rewrite at most every 200 ms; Kea: memfile CSV, one line
# appended per change; dnsmasq: lease file rewritten per change) and logs to a file as it does by
# default (mock-dhcpd: one line per exchange and per lease change; Kea: INFO, one line per OFFER and
# per ACK; dnsmasq: one line per message).
#
# Before the ladder, one exchange per server is captured (tcpdump) and its OFFER and ACK must carry
# Option 43 = 80 0f "198.18.1.8:3128" (dnsmasq adds an END byte): a server that answers wrongly is
# reported, not measured.
#
# Method, per server: a ladder of perfdhcp runs (--duration s each, fresh server and lease file each
# time) at start-rate, 2x, 4x, ... up to max-rate (or down, halving, when start-rate already fails);
# a step passes when the drops (DISCOVERs and REQUESTs without an answer, over all DISCOVERs and
# REQUESTs sent: perfdhcp's own counters) stay under --max-drop %. Between the last passing and the
# first failing rate, three more runs bisect. The server's figure is the highest exchange rate of a
# passing run: ACKs received / --duration (perfdhcp's own "Rate:" divides by the run time including
# its 1 s exit wait, so it reads 25 % low at 3 s). A step whose DISCOVERs fell short of the offered
# rate by more than 3 % measured the generator, not the server: the ladder ends there ("gen-bound").
# A failing step that lost most datagrams at perfdhcp's receive queue and none at the server's is
# marked "perfdhcp-bound": the generator ran out of CPU first, and the server's figure is a lower
# bound. Each step reports where datagrams were lost to a full receive queue (the server's socket or
# perfdhcp's) and how much of the server's CPU other processes took; a failing step during which
# they took more than 15 % is run once more. With 2 or more CPUs the server runs on CPU 1 and
# perfdhcp on CPU 0. Bounded: every perfdhcp run is limited by `timeout`; the namespaces are always
# removed.
set -euo pipefail
ZL_PREFIX=${ZL_PREFIX:-zd$$}
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../integration/lib.sh"
. "$BENCH_DIR/bench-lib.sh"
ZL_TEST=dhcp-bench

DURATION=3 CLIENTS=20000 START=1000 MAXRATE=64000 MAXDROP=0.5 ONLY="" RAW="" WAIT_QUIET=0 PERF_DIR=""
while [ $# -gt 0 ]; do
    case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --start-rate) START=$2; shift 2 ;;
    --max-rate) MAXRATE=$2; shift 2 ;;
    --max-drop) MAXDROP=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --wait-quiet) WAIT_QUIET=$2; shift 2 ;;
    --perf) PERF_DIR=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "dhcp-bench: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
for v in DURATION CLIENTS START MAXRATE WAIT_QUIET; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 -o "$v" = WAIT_QUIET ] || { echo "dhcp-bench: bad ${v,,}" >&2; exit 2; }
done
[ "$DURATION" -le 60 ] && [ "$WAIT_QUIET" -le 3600 ] || { echo "dhcp-bench: --duration 1..60, --wait-quiet 0..3600" >&2; exit 2; }
case $ONLY in "" | mock | kea | dnsmasq) ;; *) echo "dhcp-bench: --only mock|kea|dnsmasq" >&2; exit 2 ;; esac
CMDLINE="tests/bench/dhcp-bench.sh --duration $DURATION --clients $CLIENTS --start-rate $START --max-rate $MAXRATE --max-drop $MAXDROP${ONLY:+ --only $ONLY}"

zl_require_root
zl_require_cmd perfdhcp kea-dhcp4 dnsmasq taskset ip tcpdump tshark timeout awk
[ -z "$PERF_DIR" ] || { zl_require_cmd perf; mkdir -p "$PERF_DIR"; }
[ -x "$ZTP_BIN/mock-dhcpd" ] || zl_skip "$ZTP_BIN/mock-dhcpd not built"
[ -z "$RAW" ] || exec > >(tee "$RAW") 2>&1

T=$ZL_TMP
NCPU=$(nproc)
SRV_CPU=() GEN_CPU=() SRV_CPU_N=""
if [ "$NCPU" -ge 2 ]; then SRV_CPU=(taskset -c 1) GEN_CPU=(taskset -c 0) SRV_CPU_N=1; fi

# ---- how quiet the machine is ----
cpu_ticks() { # CPU N: busy ticks, total ticks, user+nice+system ticks, irq+softirq ticks
    awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $2 + $3 + $4, $7 + $8}' /proc/stat
}
bench_wait_quiet_start "$WAIT_QUIET" # sets BUSY0, LOAD0 (bench-lib.sh)
QUIET_WAITED=0
wait_quiet_step() { # before every step, with --wait-quiet: the machine quiet for 1 s (same budget, at most 60 s a step)
    local b t0=$SECONDS
    [ "$WAIT_QUIET" -gt 0 ] || return 0
    b=$(busy_pct 1)
    while [ "$b" -gt 20 ] && [ "$SECONDS" -lt "$QUIET_DEADLINE" ] && [ $((SECONDS - t0)) -lt 60 ]; do
        b=$(busy_pct 1)
    done
    QUIET_WAITED=$((QUIET_WAITED + SECONDS - t0))
}

zl_ns srv
zl_ns relay
zl_link srv eth0 relay eth0
zl_in srv ip addr add 198.18.20.1/24 dev eth0
zl_in srv ip route add 198.19.0.0/16 via 198.18.20.2
zl_in relay ip addr add 198.18.20.2/24 dev eth0
zl_in relay ip addr add 198.19.0.1/16 dev eth0
PROXY=198.18.1.8:3128

# ---- the three servers' configurations ----
cat >"$T/dhcpd.json" <<JSON
{"pools": [{"relay": "198.19.0.1", "server": "198.18.20.1", "range": "198.19.1.0-198.19.254.255",
            "subnet_mask": "255.255.0.0", "routers": ["198.19.0.1"], "lease_time": 6000, "proxy": "$PROXY"}]}
JSON
# Kea 2.2: Option 43 from the sub-option definitions of vendor-encapsulated-options-space, for the
# clients of class "ssr" (Option 60 JuniperSSR); memfile with persist (one CSV line appended per
# change, no lease file cleanup during the run); INFO log to a file, flushed per line (the default).
cat >"$T/kea.json" <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["eth0"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": "$T/kea-leases4.csv", "lfc-interval": 0},
  "option-def": [{"name": "ssr-proxy", "code": 128, "space": "vendor-encapsulated-options-space", "type": "string"}],
  "client-classes": [{"name": "ssr", "test": "option[60].text == 'JuniperSSR'",
                      "option-data": [{"name": "vendor-encapsulated-options"},
                                      {"name": "ssr-proxy", "space": "vendor-encapsulated-options-space", "data": "$PROXY"}]}],
  "subnet4": [{"id": 1, "subnet": "198.19.0.0/16", "pools": [{"pool": "198.19.1.0 - 198.19.254.255"}],
               "option-data": [{"name": "routers", "data": "198.19.0.1"}], "valid-lifetime": 6000}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "$T/kea.log", "flush": true}], "severity": "INFO"}]}}
JSON
# dnsmasq: DHCP only (port=0), no ping before an offer (Kea and mock-dhcpd do not probe either),
# vendor-class Option 43 sub-option 128; its default logging of every DHCP message.
cat >"$T/dnsmasq.conf" <<CONF
port=0
no-resolv
no-hosts
no-ping
interface=eth0
bind-interfaces
dhcp-authoritative
dhcp-lease-max=70000
dhcp-leasefile=$T/dnsmasq.leases
dhcp-range=198.19.1.0,198.19.254.255,255.255.0.0,6000
dhcp-option=option:router,198.19.0.1
dhcp-option=vendor:JuniperSSR,128,$PROXY
CONF

RUN=0 SRV_PID=""
start_server() { # NAME: a fresh server with an empty lease file; sets SRV (the zl_start name) and SRV_PID
    RUN=$((RUN + 1))
    SRV=$1-$RUN
    rm -f "$T/leases.json" "$T/kea-leases4.csv"* "$T/dnsmasq.leases" "$T/kea.log" "$T/dnsmasq.log"
    : >"$T/dnsmasq.leases"
    case $1 in
    mock)
        zl_start "$SRV" srv ${SRV_CPU[@]+"${SRV_CPU[@]}"} "$ZTP_BIN/mock-dhcpd" --config "$T/dhcpd.json" \
            --leases "$T/leases.json" --host bench
        ;;
    kea)
        zl_start_plain "$SRV" srv env KEA_LOCKFILE_DIR="$T" KEA_PIDFILE_DIR="$T" ${SRV_CPU[@]+"${SRV_CPU[@]}"} \
            kea-dhcp4 -c "$T/kea.json"
        zl_wait 10 "kea-dhcp4 started" grep -q DHCP4_STARTED "$T/kea.log"
        ;;
    dnsmasq)
        zl_start_plain "$SRV" srv ${SRV_CPU[@]+"${SRV_CPU[@]}"} dnsmasq --no-daemon --log-facility="$T/dnsmasq.log" \
            --pid-file= --conf-file="$T/dnsmasq.conf"
        zl_wait 10 "dnsmasq started" grep -q "DHCP, IP range" "$T/dnsmasq.log"
        ;;
    esac
    SRV_PID=$(zl_pid "$SRV") # ip netns exec, env and taskset exec: this is the server's pid
}
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# UDP datagrams dropped because a socket's receive queue was full, in namespace NS
rcvbuf_errors() { zl_in "$1" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp; }

VC=$(printf 'JuniperSSR' | od -An -tx1 -v | tr -d ' \n')
WANT43=800f$(printf '%s' "$PROXY" | od -An -tx1 -v | tr -d ' \n')
PERFDHCP_OPTS=(-4 -l 198.19.0.1 -o "60,$VC" -o 55,0103062b)

# ---- is the answer right? One exchange, captured ----
declare -A ANSWER
check_answer() { # SERVER: sets ANSWER[SERVER] to "ok ..." or "WRONG ..."
    local s=$1 pcap="$T/answer-$1.pcap" got
    start_server "$s"
    zl_start_plain "tcpdump-$s" relay tcpdump -i eth0 -n -U --immediate-mode -w "$pcap" udp port 67
    zl_wait 5 "tcpdump listening" grep -q "listening on" "$T/tcpdump-$s.log"
    zl_in relay timeout 10 perfdhcp "${PERFDHCP_OPTS[@]}" -r 10 -n 1 -R 1 -W 300000 198.18.20.1 >"$T/answer-$s.out" 2>&1 || true
    zl_stop "tcpdump-$s"
    zl_stop "$SRV"
    # message type (2 OFFER, 5 ACK) and the Option 43 bytes of every reply
    got=$(tshark -r "$pcap" -Y 'ip.src == 198.18.20.1 && dhcp.option.dhcp' -T fields -e dhcp.option.dhcp \
        -e dhcp.option.vendor.value 2>/dev/null | tr '\t\n' '= ' | sed 's/ $//')
    if [[ " $got " =~ \ 2=$WANT43(ff)?\  ]] && [[ " $got " =~ \ 5=$WANT43(ff)?\  ]]; then
        ANSWER[$s]="ok (OFFER and ACK with option 43 = ${got##*=})"
    else
        ANSWER[$s]="WRONG (replies: ${got:-none}; want option 43 $WANT43 in OFFER and ACK)"
    fi
    printf '  %-8s answer: %s\n' "$s" "${ANSWER[$s]}" >&2
}

# One perfdhcp run at RATE: sets GOT (exchanges/s: ACKs / duration), DROP (% of DISCOVERs and
# REQUESTs without an answer), SENT (DISCOVERs sent), CPU_US (server CPU per exchange, us: its own
# time plus the interrupt and softirq time of its CPU, where the kernel does the network work of its
# replies), DELAY (mean DISCOVER-OFFER delay, ms), OTHER (% of the server's CPU that other processes
# used in user and system time).
one_run() { # SERVER RATE
    wait_quiet_step
    start_server "$1"
    local out="$T/perf-$1-$2.out" t0 t1 u0 u1 q0 q1 w0 w1 s0 s1 g0 g1 ppid=""
    if [ -n "$PERF_DIR" ]; then
        perf record -q -g -o "$PERF_DIR/perf-$1-$2.data" -p "$SRV_PID" -- sleep $((DURATION + 1)) >/dev/null 2>&1 &
        ppid=$!
    fi
    s0=$(rcvbuf_errors srv) g0=$(rcvbuf_errors relay)
    t0=$(proc_ticks "$SRV_PID") w0=$EPOCHREALTIME
    read -r _ _ u0 q0 <<<"$(cpu_ticks "$SRV_CPU_N")"
    zl_in relay ${GEN_CPU[@]+"${GEN_CPU[@]}"} timeout $((DURATION + 20)) perfdhcp "${PERFDHCP_OPTS[@]}" -r "$2" \
        -p "$DURATION" -R "$CLIENTS" -W 1000000 198.18.20.1 >"$out" 2>&1 || true
    t1=$(proc_ticks "$SRV_PID") w1=$EPOCHREALTIME
    read -r _ _ u1 q1 <<<"$(cpu_ticks "$SRV_CPU_N")"
    s1=$(rcvbuf_errors srv) g1=$(rcvbuf_errors relay)
    QDROP_SRV=$((s1 - s0)) QDROP_GEN=$((g1 - g0))
    [ -z "$ppid" ] || wait "$ppid" || true
    zl_stop "$SRV"
    read -r GOT DROP SENT CPU_US DELAY OTHER LOST < <(awk -v d="$DURATION" -v tk=$((t1 - t0)) -v usys=$((u1 - u0)) -v sirq=$((q1 - q0)) \
        -v hz="$(getconf CLK_TCK)" -v wall="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" '
        /Statistics for: DISCOVER-OFFER/ { s = 1 } /Statistics for: REQUEST-ACK/ { s = 2 }
        /^sent packets:/ { sent[s] = $3 } /^received packets:/ { recv[s] = $3 }
        /^avg delay:/ && s == 1 { delay = $3 }
        END {
            tot = sent[1] + sent[2]; lost = (sent[1] - recv[1]) + (sent[2] - recv[2])
            cpu = recv[2] ? 1e6 * (tk + sirq) / hz / recv[2] : 0
            other = tk < usys && wall > 0 ? 100 * (usys - tk) / (wall * hz) : 0
            printf "%d %.3f %d %.1f %.2f %.0f %d\n", recv[2] / d, tot ? 100 * lost / tot : 100, sent[1] + 0, cpu, delay + 0, other, lost
        }' "$out")
    printf '  %-8s rate %6d/s -> %6d exchanges/s, drops %6.3f %% (queue overflows: server %d, perfdhcp %d), %6d DISCOVERs, %6.1f us CPU/exchange, OFFER after %6.2f ms, others %3d %% of its CPU\n' \
        "$1" "$2" "$GOT" "$DROP" "$QDROP_SRV" "$QDROP_GEN" "$SENT" "$CPU_US" "$DELAY" "$OTHER" >&2
}
ok_drop() { awk -v d="$1" -v m="$MAXDROP" 'BEGIN { exit !(d < m) }'; }
gen_bound() { awk -v s="$1" -v r="$2" -v d="$DURATION" 'BEGIN { exit !(s < 0.97 * r * d) }'; }

declare -A BEST BEST_DROP BEST_AT BEST_CPU BEST_DELAY BEST_OTHER FIRST_FAIL MAX_OTHER
measure() { # SERVER
    local s=$1 rate=$START pass_rate=0 fail_rate=0 fail_why="" best=0 bdrop=0 bat=0 bcpu=0 bdelay=0 bother=0 other=0 why=""
    try() { # RATE: 0 = passed; sets why for a failing step
        one_run "$s" "$1"
        if ! { ok_drop "$DROP" && [ "$SENT" -gt 0 ]; } && [ "$OTHER" -gt 15 ]; then
            echo "  $s: other processes took $OTHER % of the server's CPU during that step: once more" >&2
            one_run "$s" "$1"
        fi
        [ "$OTHER" -le "$other" ] || other=$OTHER
        why=""
        if ok_drop "$DROP" && [ "$SENT" -gt 0 ]; then
            [ "$GOT" -gt "$best" ] && { best=$GOT bdrop=$DROP bat=$1 bcpu=$CPU_US bdelay=$DELAY bother=$OTHER; }
            gen_bound "$SENT" "$1" && why=" (gen-bound)"
            return 0
        fi
        if gen_bound "$SENT" "$1"; then
            why=" (gen-bound)"
        elif [ "$QDROP_SRV" -eq 0 ] && [ $((2 * QDROP_GEN)) -ge "$LOST" ]; then
            why=" (perfdhcp-bound)" # most of the loss at perfdhcp's own queue, none at the server's
        fi
        return 1
    }
    while [ "$rate" -le "$MAXRATE" ]; do
        if try "$rate"; then pass_rate=$rate; else fail_rate=$rate fail_why=$why; break; fi
        [ -z "$why" ] || { fail_why=$why; break; } # perfdhcp could not send faster
        rate=$((rate * 2))
    done
    # A server slower than the start rate: halve until a step passes (down to start-rate / 32).
    while [ "$pass_rate" -eq 0 ] && [ "$fail_rate" -gt 0 ] && [ $((fail_rate / 2)) -ge $((START / 32)) ] &&
        [ $((fail_rate / 2)) -gt 0 ]; do
        rate=$((fail_rate / 2))
        if try "$rate"; then pass_rate=$rate; else fail_rate=$rate fail_why=$why; fi
    done
    if [ "$fail_rate" -gt 0 ] && [ "$pass_rate" -gt 0 ]; then
        local lo=$pass_rate hi=$fail_rate i
        for i in 1 2 3; do
            rate=$(((lo + hi) / 2))
            if try "$rate"; then lo=$rate; else hi=$rate fail_why=$why; fi
        done
        fail_rate=$hi
    fi
    BEST[$s]=$best MAX_OTHER[$s]=$other
    [ "$best" -eq 0 ] || BEST_DROP[$s]=$bdrop BEST_AT[$s]=$bat BEST_CPU[$s]=$bcpu BEST_DELAY[$s]=$bdelay BEST_OTHER[$s]=$bother
    if [ "$fail_rate" -gt 0 ]; then FIRST_FAIL[$s]=$fail_rate$fail_why; else FIRST_FAIL[$s]="none$fail_why"; fi
}

SERVERS=(mock kea dnsmasq)
[ -z "$ONLY" ] || SERVERS=("$ONLY")
echo "dhcp-bench: checking one answer of each server" >&2
for s in "${SERVERS[@]}"; do check_answer "$s"; done
for s in "${SERVERS[@]}"; do
    echo "dhcp-bench: $s" >&2
    if [ "${ANSWER[$s]:0:2}" = ok ]; then measure "$s"; else BEST[$s]=0 FIRST_FAIL[$s]="wrong answer"; fi
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

name() { case $1 in mock) echo mock-dhcpd ;; kea) echo "Kea $(kea-dhcp4 -v)" ;; dnsmasq) echo "dnsmasq $(dnsmasq -v | sed -n '1s/Dnsmasq version \([^ ]*\).*/\1/p')" ;; esac; }
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "dhcp-bench: DORA rate at under $MAXDROP % drops (perfdhcp relayed, ${DURATION} s per step, $CLIENTS clients)"
QUIET_NOTE=""
[ "$WAIT_QUIET" -eq 0 ] || QUIET_NOTE="; waited ${QUIET_WAITED} s for quiet moments between steps"
echo "machine: $NCPU x $CPU_MODEL, Linux $(uname -r); load average before $LOAD0, after $LOAD1; CPU busy before the run ${BUSY0}% (of $((NCPU * 100))%)$QUIET_NOTE"
if [ -n "$SRV_CPU_N" ]; then echo "pinning: server on CPU 1, perfdhcp on CPU 0"; else echo "pinning: none (1 CPU)"; fi
echo "command: sudo ZTP_BIN=<build>/bin $CMDLINE"
echo
printf '| %-16s | %11s | %7s | %10s | %24s | %12s | %11s | %10s | %6s | %11s |\n' server "exchanges/s" "drops %" "at offered" \
    "first failing" "CPU/exchange" "OFFER delay" "others CPU" "vs Kea" "vs dnsmasq"
printf '| %-16s | %11s | %7s | %10s | %24s | %12s | %11s | %10s | %6s | %11s |\n' --- ---: ---: ---: ---: ---: ---: ---: ---: ---:
for s in "${SERVERS[@]}"; do
    printf '| %-16s | %11s | %7s | %10s | %24s | %12s | %11s | %10s | %6s | %11s |\n' "$(name "$s")" "${BEST[$s]}" \
        "${BEST_DROP[$s]:--}" "${BEST_AT[$s]:--}${BEST_AT[$s]:+/s}" "${FIRST_FAIL[$s]}" "${BEST_CPU[$s]:--}${BEST_CPU[$s]:+ us}" \
        "${BEST_DELAY[$s]:--}${BEST_DELAY[$s]:+ ms}" \
        "${BEST_OTHER[$s]:--}${BEST_OTHER[$s]:+ %}" "$(ratio "${BEST[$s]}" "${BEST[kea]:-0}")" "$(ratio "${BEST[$s]}" "${BEST[dnsmasq]:-0}")"
done
echo
for s in "${SERVERS[@]}"; do echo "answer of $(name "$s"): ${ANSWER[$s]}"; done
echo "CPU/exchange: the server's CPU time (user + system) plus its CPU's irq + softirq time (the network work of its replies) per completed DORA, in its best passing run; OFFER delay: perfdhcp's mean DISCOVER->OFFER time there; others CPU: the user + system time other processes took on the server's CPU during that run, in % of that CPU"
for s in "${SERVERS[@]}"; do
    [ "${MAX_OTHER[$s]:-0}" -le 15 ] || echo "WARNING: other processes used up to ${MAX_OTHER[$s]} % of the server's CPU during the $(name "$s") steps: the machine was not quiet, run again"
done
[ "$BUSY0" -le 20 ] || echo "WARNING: the machine was already ${BUSY0}% busy before the run (other users): figures are unreliable, run again"
if [ -n "${BEST[mock]:-}" ] && [ -n "${BEST[kea]:-}" ]; then
    if [ "${BEST[mock]}" -ge "${BEST[kea]}" ] && [ "${BEST[kea]}" -gt 0 ]; then v=MET; else v=MISSED; fi
    echo "target: mock-dhcpd >= Kea's DORA rate at < $MAXDROP % drops: $v ($(ratio "${BEST[mock]}" "${BEST[kea]}") of Kea, $(ratio "${BEST[mock]}" "${BEST[dnsmasq]:-0}") of dnsmasq)"
fi
