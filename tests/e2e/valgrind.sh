#!/usr/bin/env bash
# valgrind memcheck on one full scenario (issue 7): `lab run learned` with every process of the run
# that this project builds (the router node r1a, the DHCP server, the proxy, the Mist mocks, both
# conductors, the hub) under `valgrind --leak-check=full --errors-for-leak-kinds=definite`. The run
# passes when every expectation holds and every process's report has no error and nothing
# definitely lost (lab/run.c: "HOST valgrind" results; the first error's stack is printed).
#
#   tests/e2e/valgrind.sh BUILD_DIR SOURCE_DIR
#
# AddressSanitizer and valgrind cannot share a process. When BUILD_DIR is a ZTP_SANITIZE build (CI's
# is), the programs are built once more without it, in BUILD_DIR/valgrind (only the targets the run
# needs; the first time takes a few minutes, later runs only rebuild what changed). $ZTP_VALGRIND_BIN
# names another non-sanitized bin/ instead. Exit 77 (skipped) when valgrind is not installed.
set -euo pipefail
build=${1:?usage: valgrind.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: valgrind.sh BUILD_DIR SOURCE_DIR}
command -v valgrind >/dev/null || { echo "valgrind.sh: SKIP: valgrind is not installed (apt-get install valgrind)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "valgrind.sh: SKIP: the lab needs root here"; exit 77; }

sanitized() { grep -q __asan_init "$1/ssr-node" 2>/dev/null; }
bin=${ZTP_VALGRIND_BIN:-$build/bin}
if sanitized "$bin"; then
    vb="$build/valgrind"
    echo "valgrind.sh: $bin is an AddressSanitizer build: building the programs without it in $vb"
    cmake -S "$src" -B "$vb" -DZTP_SANITIZE=OFF -DZTP_FUZZ=OFF >"$vb.configure.log" 2>&1 ||
        { cat "$vb.configure.log"; exit 1; }
    cmake --build "$vb" -j"$(nproc)" --target lab ssr-node ssr-cli ssr-tpm mock-dhcpd mock-proxy mock-ep-terminator \
        mock-mist mock-conductor mock-hub >"$vb.build.log" 2>&1 || { tail -40 "$vb.build.log"; exit 1; }
    bin="$vb/bin"
fi
exec "$bin/lab" run learned --valgrind r1a,dhcp,proxy,ept,mist,staging,production,hub \
    --scenarios "$src/scenarios" --artifacts "$build/artifacts-valgrind" --junit "$build/junit/valgrind.learned.xml"
