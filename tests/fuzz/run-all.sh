#!/usr/bin/env bash
# run-all: run every libFuzzer harness of a fuzz build for a fixed time (or number of runs) and
# print, per harness, the executions, the rate, the corpus size and the result.
#
#   tests/fuzz/run-all.sh [--build DIR] [--time S] [--runs N] [--only NAME]
#
# --build   a build tree configured with clang and -DZTP_FUZZ=ON (default build-test, as ./ztp test
#           makes it); harnesses are DIR/fuzz/fuzz_*
# --time    seconds per harness (default 60; libFuzzer -max_total_time)
# --runs    inputs per harness instead of a time (libFuzzer -runs)
# New inputs go to DIR/fuzz/corpus-NAME (the checked-in seeds in tests/fuzz/corpus/NAME are read
# only); a crash leaves DIR/fuzz/crash-* and the harness is reported FAIL. Exit 0 when none failed.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SRC/build-test TIME=60 RUNS="" ONLY=""
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run-all: unknown option $1 (--help)" >&2; exit 2 ;;
    esac
done
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "run-all: no build tree there" >&2; exit 2; }
[ "$TIME" -ge 1 ] && [ "$TIME" -le 86400 ] || { echo "run-all: --time must be 1..86400" >&2; exit 2; }
shopt -s nullglob
harnesses=("$BUILD"/fuzz/fuzz_*)
[ ${#harnesses[@]} -gt 0 ] || { echo "run-all: no harness in $BUILD/fuzz (configure with CC=clang -DZTP_FUZZ=ON)" >&2; exit 2; }
limit=(-max_total_time="$TIME")
[ -z "$RUNS" ] || limit=(-runs="$RUNS" -max_total_time=86400)
printf '| %-22s | %12s | %10s | %8s | %6s |\n' harness executions "execs/s" corpus result
printf '| %-22s | %12s | %10s | %8s | %6s |\n' --- ---: ---: ---: ---
bad=0 total=0
for h in "${harnesses[@]}"; do
    [ -x "$h" ] && [ -f "$h" ] || continue
    name=$(basename "$h")
    [ -z "$ONLY" ] || [ "$name" = "$ONLY" ] || continue
    work="$BUILD/fuzz/corpus-$name"
    mkdir -p "$work"
    seeds="$SRC/tests/fuzz/corpus/$name"
    log="$BUILD/fuzz/$name.run-all.log"
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    (cd "$BUILD/fuzz" && "$h" "${limit[@]}" -timeout=5 -print_final_stats=1 "${dirs[@]}") >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "$work" -type f | wc -l)
    res=PASS
    [ "$rc" -eq 0 ] || { res=FAIL; bad=$((bad + 1)); }
    total=$((total + ${execs:-0}))
    printf '| %-22s | %12s | %10s | %8s | %6s |\n' "$name" "${execs:-?}" "${rate:-?}" "$corpus" "$res"
    [ "$res" = PASS ] || { echo "  $name: exit $rc, see $log:"; grep -E 'ERROR|SUMMARY|crash-' "$log" | head -5 | sed 's/^/    /'; }
done
echo "total executions: $total; failed harnesses: $bad"
[ "$bad" -eq 0 ]
