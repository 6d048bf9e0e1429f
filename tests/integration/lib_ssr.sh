# Helpers for the router-side integration tests: DHCP segments, mock-dhcpd, ssr-node, captures.
# Sourced after lib.sh.

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

# zl_pool IF SERVER PREFIX24 PROXY [extra json]: one pool object for mock-dhcpd on a /24.
zl_pool() {
    local ifn=$1 srv=$2 net=$3 proxy=$4 extra=${5:-}
    printf '{"interface":"%s","server":"%s","range":"%s.100-%s.199","subnet_mask":"255.255.255.0","routers":["%s"],"lease_time":%s,"proxy":"%s"%s}' \
        "$ifn" "$srv" "$net" "$net" "$srv" "${ZL_LEASE:-6000}" "$proxy" "$extra"
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

# zl_capture NAME NS IF [FILTER]: tcpdump on IF into $ZL_TMP/NAME.pcap (default filter: DHCP),
# capturing before it returns.
zl_capture() {
    local name=$1 ns=$2 ifn=$3 filter=${4:-udp port 67 or udp port 68}
    zl_start_plain "cap-$name" "$ns" tcpdump -i "$ifn" --immediate-mode -U -n -s 0 -w "$ZL_TMP/$name.pcap" "$filter"
    zl_wait 5 "tcpdump on $ns/$ifn listening" grep -q 'listening on' "$ZL_TMP/cap-$name.log"
}

# zl_wait_learned NODE N [TIMEOUT]: wait until NODE lists N learned proxies (local and peer rows with an address).
zl_wait_learned() {
    local node=$1 n=$2 t=${3:-10}
    zl_wait "$t" "$node lists $n learned proxies" bash -c \
        "'$ZTP_BIN/ssr-cli' --ctl '$ZL_TMP/$node.sock' --json show dhcp learned-proxies | jq -e '[.\"learned-proxies\"[] | select(.address != null)] | length == $n'"
}
