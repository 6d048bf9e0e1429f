# Helpers for the router-side integration tests: DHCP segments, mock-dhcpd, ssr-node, captures.
# Sourced after lib.sh. (Topologies of whole scenarios belong in scenarios/*.yaml; these scripts test
# one component against real peers.)

ZL_ROUTER=${ZL_ROUTER:-R1}

# zl_segment NODE_NS NODE_IF SRV_NS SRV_IF SRV_ADDR/PREFIX [MAC]: a veth between a router node and
# a DHCP server namespace; the server side gets SRV_ADDR, the node side nothing (DHCP gives it).
zl_segment() {
    zl_link "$1" "$2" "$3" "$4" "${6:-}"
    ip -n "$(zl_nsname "$3")" addr add "$5" dev "$4"
}

# zl_dhcpd NAME NS JSON: write JSON as NAME's config and start mock-dhcpd NAME in NS.
zl_dhcpd() {
    local name=$1 ns=$2
    printf '%s\n' "$3" >"$ZL_TMP/$name.json"
    zl_start "$name" "$ns" "$ZTP_BIN/mock-dhcpd" --config "$ZL_TMP/$name.json" --leases "$ZL_TMP/$name.leases" --host "$name"
}

# zl_node NODE NS CONFIG-LINES [ssr-node args...]: write the router config (lines given without
# the "config authority router R" prefix) and start ssr-node NODE in NS with its ctl socket in the
# test's temp dir.
zl_node() {
    local node=$1 ns=$2 lines=$3; shift 3
    local cfg="$ZL_TMP/$node.conf"
    : >"$cfg"
    while IFS= read -r l; do
        [ -n "$l" ] && printf 'config authority router %s %s\n' "$ZL_ROUTER" "$l" >>"$cfg"
    done <<<"$lines"
    mkdir -p "$ZL_TMP/$node.state"
    zl_start "$node" "$ns" "$ZTP_BIN/ssr-node" --config "$cfg" --node "$node" --ctl "$ZL_TMP/$node.sock" \
        --state-dir "$ZL_TMP/$node.state" "$@"
}

zl_cli() { local node=$1; shift; "$ZTP_BIN/ssr-cli" --ctl "$ZL_TMP/$node.sock" "$@"; }

# zl_expect_active NODE A:P|none [TIMEOUT]: wait until NODE's active proxy is A:P (or none).
zl_expect_active() {
    local node=$1 want=$2 t=${3:-10}
    if [ "$want" = none ]; then
        zl_cli "$node" wait management-proxy --none --timeout "$t" >"$ZL_TMP/wait.out" 2>&1 ||
            zl_fail "$node: expected no active proxy; last state: $(cat "$ZL_TMP/wait.out")"
    else
        zl_cli "$node" wait management-proxy --active "$want" --timeout "$t" >"$ZL_TMP/wait.out" 2>&1 ||
            zl_fail "$node: expected active proxy $want; last state: $(cat "$ZL_TMP/wait.out")"
    fi
    zl_ok "$node: active proxy $want"
}

# zl_json NODE WHAT JQ-FILTER: print jq's answer on `ssr-cli --json show WHAT`.
zl_json() { zl_cli "$1" --json show $2 | jq -r "$3"; }

# zl_assert_eq DESCRIPTION GOT WANT
zl_assert_eq() {
    [ "$2" = "$3" ] || zl_fail "$1: got '$2', expected '$3'"
    zl_ok "$1 = $3"
}
