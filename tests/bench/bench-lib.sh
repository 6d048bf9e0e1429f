# Shared plumbing of the benchmark scripts (sourced by proxy-bench.sh, tls-bench.sh, dhcp-bench.sh after
# tests/integration/lib.sh): the help text, /proc readings, the machine's busy time and the wait for a
# quiet machine, and the table's cells (median [min-max] over rounds, ratios, units).
#
# The scripts keep their results in an associative array R: R[NAME.TEST.ROUND] = the load generator's
# key=value line of that round, R[NAME.KEY] = a single figure; they set ROUNDS.

# --help: the script's header comment, from line 2 to `set -euo pipefail`
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# kv LINE KEY: the value of KEY in a "k=v k=v" line (empty when absent)
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# ---- how busy the machine is (other users' builds and fuzzers skew every figure) ----
# cpu_sample: busy ticks (user nice system irq softirq steal) and total ticks, all CPUs
cpu_sample() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
busy_pct() { # % of one CPU, over $1 s
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$(cpu_sample)"; sleep "$1"; read -r b1 t1 <<<"$(cpu_sample)"
    awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v n="$(nproc)" 'BEGIN { printf "%.0f", t ? 100 * n * b / t : 0 }'
}
# bench_wait_quiet_start S: wait (at most S seconds; the budget is QUIET_DEADLINE for later waits too) until
# under 20% of one CPU is busy; sets BUSY0 (busy % at the start), WAITED (seconds waited), LOAD0 (loadavg)
bench_wait_quiet_start() {
    QUIET_DEADLINE=$((SECONDS + $1))
    local w0=$SECONDS
    BUSY0=$(busy_pct 1)
    while [ "$BUSY0" -gt 20 ] && [ "$SECONDS" -lt "$QUIET_DEADLINE" ]; do
        zl_log "machine ${BUSY0}% busy, waiting for it to be quiet (up to $((QUIET_DEADLINE - SECONDS)) s more)"
        BUSY0=$(busy_pct 2)
    done
    WAITED=$((SECONDS - w0))
    LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
}

# ---- the table ----
# vals NAME TEST KEY: the KEY of every round, one per line
vals() { local r; for r in $(seq "$ROUNDS"); do kv "${R[$1.$2.$r]:-}" "$3"; done; }
# median / range of numbers on stdin
median() { sort -g | awk '{v[NR] = $1} END { if (!NR) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END { if (NR > 1) printf "[%s-%s]", lo, hi }'; }
med() { vals "$@" | median; }
# cell NAME TEST KEY: "median [min-max]" over the rounds, "-" when there is none
cell() {
    local m r; m=$(med "$@"); r=$(vals "$@" | range)
    if [ -z "$m" ]; then printf -- '-'; elif [ -n "$r" ]; then printf '%s %s' "$m" "$r"; else printf '%s' "$m"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf "%.1f", u / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }'; }
