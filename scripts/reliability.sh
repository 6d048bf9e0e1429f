#!/usr/bin/env bash
# reliability: run one scenario N times in a row (default: ha-learned, 50 times) and print how many
# passed, the run times, and whether anything was left behind (namespaces, processes of the lab).
#
#   sudo scripts/reliability.sh [-n 50] [--bin DIR] [--artifacts DIR] [--stop-on-fail] [SCENARIO]
#
# Each run is `lab run SCENARIO` with its own artifact dir under --artifacts (default
# build/reliability); a passing run's artifacts are removed, a failing run's are kept and named in the
# summary. After every run the namespace list must be what it was before the first (the lab removes
# everything it made); a leftover counts as a failure of that run. Exit 0 when every run passed.
set -euo pipefail
N=50 BIN="" ART="" STOP=0 SCEN=ha-learned
SRC=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    -n) N=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --artifacts) ART=$2; shift 2 ;;
    --stop-on-fail) STOP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "reliability: unknown option $1 (--help)" >&2; exit 2 ;;
    *) SCEN=$1; shift ;;
    esac
done
BIN=${BIN:-$SRC/build/bin}
ART=${ART:-$SRC/build/reliability}
[ -x "$BIN/lab" ] || { echo "reliability: $BIN/lab not built (./ztp build)" >&2; exit 2; }
[ "$N" -ge 1 ] && [ "$N" -le 10000 ] || { echo "reliability: -n must be 1..10000" >&2; exit 2; }
mkdir -p "$ART"
before=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
pass=0 fail=0 failed_runs=() times=()
for i in $(seq 1 "$N"); do
    dir="$ART/run-$i"
    rm -rf "$dir"
    t0=$(date +%s.%N)
    rc=0
    "$BIN/lab" run "$SCEN" --scenarios "$SRC/scenarios" --artifacts "$dir" --bin "$BIN" >"$ART/run-$i.out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    times+=("$dt")
    left=$(comm -13 <(printf '%s\n' "$before") <(ip netns list 2>/dev/null | awk '{print $1}' | sort) | tr '\n' ' ')
    if [ "$rc" -eq 0 ] && [ -z "$left" ]; then
        pass=$((pass + 1))
        rm -rf "$dir" "$ART/run-$i.out"
        printf 'run %3d: PASS %ss\n' "$i" "$dt"
    else
        fail=$((fail + 1))
        failed_runs+=("$i")
        why="exit $rc"
        [ -z "$left" ] || why="$why, namespaces left: $left"
        printf 'run %3d: FAIL %ss (%s; output %s, artifacts %s)\n' "$i" "$dt" "$why" "$ART/run-$i.out" "$dir"
        grep -E 'FAIL|error' "$ART/run-$i.out" | head -5 | sed 's/^/          /' || true
        [ "$STOP" -eq 0 ] || break
    fi
done
stats=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1; s += $1 } END { printf "min %.2f s, median %.2f s, max %.2f s, mean %.2f s", v[1], v[int((NR + 1) / 2)], v[NR], s / NR }')
echo "$SCEN: $pass/$((pass + fail)) runs passed ($stats)"
[ "$fail" -eq 0 ] || echo "failed runs: ${failed_runs[*]}"
[ "$fail" -eq 0 ]
