# Shared helpers for the network-namespace integration tests (sourced by t_*.sh).
#
# Every namespace a test creates is named "$ZL_PREFIX-<name>" where ZL_PREFIX is unique per test run
# (zl + pid), and is removed by the EXIT trap together with every process the test started (by pid).
# Addresses come from 198.18.0.0/15. No namespace is connected to the host's networks.
set -euo pipefail

ZTP_BIN=${ZTP_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
ZTP_SRC=${ZTP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ZL_PREFIX=${ZL_PREFIX:-zl$$}
ZL_TMP=$(mktemp -d "/tmp/${ZL_PREFIX}.XXXXXX")
ZL_NS=()
ZL_PIDS=()
ZL_ETC=()
ZL_TEST=$(basename "$0" .sh)

zl_log() { printf '[%s] %s\n' "$ZL_TEST" "$*" >&2; }
# zl_ok DESCRIPTION: one line per expectation that held.
zl_ok() { printf '[%s] ok: %s\n' "$ZL_TEST" "$*" >&2; }
zl_fail() {
    zl_log "FAIL: $*"
    zl_dump_logs
    exit 1
}
zl_skip() { zl_log "SKIP: $*"; exit 77; }

zl_require_root() {
    [ "$(id -u)" -eq 0 ] || zl_skip "needs root to create network namespaces (run as root, e.g. sudo ctest -L netns)"
    ip netns add "${ZL_PREFIX}-probe" 2>/dev/null || zl_skip "this kernel or container does not allow network namespaces"
    ip netns del "${ZL_PREFIX}-probe"
}

zl_require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || zl_fail "$c is not installed (scripts/deps.sh installs it)"
    done
}

zl_cleanup() {
    local rc=$? pid ns
    for pid in "${ZL_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${ZL_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${ZL_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    for ns in "${ZL_ETC[@]}"; do
        rm -rf "$ns"
    done
    if [ "$rc" -eq 0 ] && [ -z "${ZL_KEEP:-}" ]; then rm -rf "$ZL_TMP"; else zl_log "artifacts kept in $ZL_TMP"; fi
    exit "$rc"
}
trap zl_cleanup EXIT
trap 'exit 130' INT TERM

# zl_ns NAME: create namespace $ZL_PREFIX-NAME with lo up; prints nothing.
zl_ns() {
    local ns="${ZL_PREFIX}-$1"
    ip netns add "$ns"
    ZL_NS+=("$ns")
    ip -n "$ns" link set lo up
}
zl_nsname() { printf '%s-%s' "$ZL_PREFIX" "$1"; }
zl_in() { local ns; ns=$(zl_nsname "$1"); shift; ip netns exec "$ns" "$@"; }

# zl_hosts NS "ADDR NAME..."...: a hosts file for namespace NS (localhost plus the given lines) and a
# resolv.conf pointing at the namespace's own loopback (unknown names fail at once, no DNS leaves the
# namespace). `ip netns exec` (zl_in, zl_start) bind-mounts /etc/netns/$ZL_PREFIX-NS/* over /etc, so the
# system resolver of every process started in NS sees them. Removed by the cleanup.
zl_hosts() {
    local dir; dir="/etc/netns/$(zl_nsname "$1")"; shift
    mkdir -p "$dir"
    ZL_ETC+=("$dir")
    { printf '127.0.0.1 localhost\n::1 localhost\n'; printf '%s\n' "$@"; } >"$dir/hosts"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$dir/resolv.conf"
}

# zl_link NS1 IF1 NS2 IF2 [MAC1]: veth pair between two namespaces, both ends up.
zl_link() {
    local a b tmp_a tmp_b
    a=$(zl_nsname "$1"); b=$(zl_nsname "$3")
    tmp_a="v${RANDOM}a$$"; tmp_b="v${RANDOM}b$$"
    tmp_a=${tmp_a:0:15}; tmp_b=${tmp_b:0:15}
    ip link add "$tmp_a" type veth peer name "$tmp_b"
    ip link set "$tmp_a" netns "$a"
    ip link set "$tmp_b" netns "$b"
    ip -n "$a" link set "$tmp_a" name "$2"
    ip -n "$b" link set "$tmp_b" name "$4"
    [ -n "${5:-}" ] && ip -n "$a" link set "$2" address "$5"
    ip -n "$a" link set "$2" up
    ip -n "$b" link set "$4" up
}

# zl_bridge NS BR IF...: a bridge inside NS enslaving the given interfaces.
zl_bridge() {
    local ns; ns=$(zl_nsname "$1"); local br=$2; shift 2
    ip -n "$ns" link add "$br" type bridge
    ip -n "$ns" link set "$br" up
    local i
    for i in "$@"; do ip -n "$ns" link set "$i" master "$br"; done
}

# zl_start NAME NS CMD...: start CMD in namespace NS in the background, log to $ZL_TMP/NAME.log.
# Waits for its readiness: the program writes a line to the fd given in ZTP_READY_FD.
zl_start() {
    local name=$1 ns=$2; shift 2
    local fifo="$ZL_TMP/$name.ready"
    mkfifo "$fifo"
    ZTP_READY_FD=9 ip netns exec "$(zl_nsname "$ns")" "$@" 9>"$fifo" >>"$ZL_TMP/$name.log" 2>&1 &
    local pid=$!
    ZL_PIDS+=("$pid")
    eval "ZL_PID_${name//-/_}=$pid"
    local line=""
    if ! read -r -t 10 line <"$fifo"; then
        zl_fail "$name did not signal readiness within 10 s"
    fi
    [ -n "$line" ] || zl_fail "$name exited before it was ready"
}

# zl_start_plain NAME NS CMD...: start a program that has no readiness protocol (real peers).
zl_start_plain() {
    local name=$1 ns=$2; shift 2
    ip netns exec "$(zl_nsname "$ns")" "$@" >>"$ZL_TMP/$name.log" 2>&1 &
    ZL_PIDS+=("$!")
    eval "ZL_PID_${name//-/_}=$!"
}

zl_pid() { local v="ZL_PID_${1//-/_}"; printf '%s' "${!v}"; }

# zl_stop NAME: SIGTERM one started process and wait for it.
zl_stop() {
    local pid; pid=$(zl_pid "$1")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# zl_wait TIMEOUT DESCRIPTION CMD...: poll CMD every 0.05 s until it succeeds (bounded).
zl_wait() {
    local timeout=$1 what=$2; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || zl_fail "timed out after ${timeout}s waiting for: $what"
        sleep 0.05
    done
}

zl_dump_logs() {
    local f
    for f in "$ZL_TMP"/*.log; do
        [ -f "$f" ] || continue
        printf -- '--- last lines of %s ---\n' "$(basename "$f")" >&2
        tail -n 15 "$f" >&2
    done
}
