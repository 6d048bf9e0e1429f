#!/usr/bin/env bash
# `lab fleet` small (lab/fleet.h, docs/fleet.md): 20 router nodes onboard at once through one mock-proxy
# to one set of mocks, each on its own interface with its own MAC and DHCP client, its in-process
# libtpms TPM manufactured by the node itself (--manufacture-ocra-key), sZTP, staging, CSR, hub,
# migrate, production. Checks: exit 0, summary.json says every node production-connected with no
# failure, every step has a p50 for every node, the mocks' peak memory is reported, the proxy
# carried tunnels from the node namespaces only, each node's key file is gone; then the fleet is
# SIGKILLed mid-run and `lab clean` removes every namespace of that run; and ssr-node refuses a
# manufacturing key file that is not 0600.
source "$(dirname "$0")/lib.sh"
zl_require_root
zl_require_cmd jq nft
LAB="$ZTP_BIN/lab"
[ -x "$LAB" ] || zl_skip "lab is not built ($LAB)"
N=20
ART="$ZL_TMP/art"

# ---- a small fleet, end to end ----
t0=$SECONDS
rc=0
"$LAB" fleet --nodes $N --wave 10 --per-ns 8 --artifacts "$ART" --timeout 60 >"$ZL_TMP/fleet.out" 2>&1 || rc=$?
cat "$ZL_TMP/fleet.out" >&2
[ "$rc" -eq 0 ] || zl_fail "lab fleet --nodes $N exited $rc"
S="$ART/fleet/summary.json"
[ -f "$S" ] || zl_fail "no $S"
zl_assert() { [ "$(jq -r "$1" "$S")" = "$2" ] || zl_fail "$1 is $(jq -c "$1" "$S"), want $2"; zl_ok "$1 = $2"; }
zl_assert .result pass
zl_assert .done $N
zl_assert '.failures | length' 0
zl_assert .namespaces 3
zl_assert '[.steps[] | select(.since_start.n != '$N')] | length' 0
zl_assert '[.steps[].step] | join(",")' \
    manufactured,ready,dhcp-bound,proxy-selected,redirected,authenticated,secret-stored,staging-connected,certified,svr-configured,production-connected
zl_assert '.https_requests' $((N * 18))
for m in dhcp proxy ept mist staging production hub; do
    [ "$(jq ".memory.\"$m\".vmhwm_kb > 0" "$S")" = true ] || zl_fail "no peak memory for $m"
done
zl_ok "peak memory of every mock, $(jq .memory.nodes_sum.vmhwm_kb "$S") KiB over the nodes"
grep -q '^== fleet: 20/20 nodes production-connected' "$ZL_TMP/fleet.out" || zl_fail "no summary line on stdout"
# every node manufactured its own TPM and removed the key file
[ "$(grep -l 'event=tpm.manufactured result=ok' "$ART"/fleet/logs/nodes/*.log | wc -l)" -eq $N ] ||
    zl_fail "not every node logged event=tpm.manufactured"
zl_ok "$N nodes manufactured their TPMs"
# the proxy saw the node namespaces' addresses (198.19.1.x), the conductors' port, no other client
clients=$(awk '{print $3}' "$ART/fleet/proxy/access.log" | sort -u | tr '\n' ' ')
[ -n "$clients" ] || zl_fail "the proxy logged no tunnel"
for c in $clients; do [[ $c == 198.19.1.* ]] || zl_fail "proxy client $c is not a node namespace"; done
grep -q 'CONNECT 198.18.100.60:930' "$ART/fleet/proxy/access.log" || zl_fail "no CONNECT to the staging conductor"
zl_ok "proxy clients: $clients"
# the DHCP server answered every node on its own MAC
[ "$(grep -c 'msg=REQUEST .*reply=ACK' "$ART/fleet/logs/dhcp.log")" -ge $N ] || zl_fail "fewer than $N ACKs"
[ "$(grep -o 'chaddr=02:f1:ee:[0-9a-f:]*' "$ART/fleet/logs/dhcp.log" | sort -u | wc -l)" -eq $N ] ||
    zl_fail "not $N distinct MACs at the DHCP server"
zl_ok "$N DHCP clients, $N MACs"
left=$(ls /run/netns | grep "^$(jq -r .runid "$S")-" || true)
[ -z "$left" ] || zl_fail "namespaces left after the run: $left"
zl_ok "torn down ($((SECONDS - t0)) s for the whole run)"

# ---- killed mid-run: lab clean removes the run ----
"$LAB" fleet --nodes $N --wave 10 --per-ns 8 --artifacts "$ZL_TMP/art2" --timeout 60 >"$ZL_TMP/kill.out" 2>&1 &
lab=$!
ZL_PIDS+=("$lab")
end=$((SECONDS + 30))
until grep -q 'started [0-9]' "$ZL_TMP/kill.out" 2>/dev/null; do
    [ $SECONDS -lt $end ] || zl_fail "the second fleet never started its nodes"
    sleep 0.02
done
runid=$(grep -oE 'run zl[a-z][0-9a-z]{5}' "$ZL_TMP/kill.out" | head -1 | cut -c5-)
[ -n "$(ls /run/netns | grep "^$runid-" || true)" ] || zl_fail "run $runid has no namespace"
kill -KILL "$lab"
wait "$lab" 2>/dev/null || true
"$LAB" clean >"$ZL_TMP/clean.out" 2>&1 || zl_fail "lab clean failed: $(cat "$ZL_TMP/clean.out")"
zl_log "$(cat "$ZL_TMP/clean.out")"
left=$(ls /run/netns | grep "^$runid-" || true)
[ -z "$left" ] || zl_fail "lab clean left namespaces of run $runid: $left"
[ ! -e "/run/ztp-lab/$runid.json" ] || zl_fail "lab clean left the run record of $runid"
zl_ok "fleet $runid SIGKILLed mid-run: lab clean removed its namespaces"
# the nodes' state of a killed fleet on /dev/shm (when /run is no tmpfs) goes with the next `lab fleet`
rm -rf "/dev/shm/ztp-lab-fleet-$runid"

# ---- ssr-node refuses a manufacturing key file that is not 0600 ----
mkdir -p "$ZL_TMP/m/tpm" "$ZL_TMP/m/state"
printf 'config authority router R1 node n1 device-interface lo network-interface x dhcp v4\n' >"$ZL_TMP/m/r.conf"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ZL_TMP/m/key.hex"
chmod 0644 "$ZL_TMP/m/key.hex"
rc=0
"$ZTP_BIN/ssr-node" --config "$ZL_TMP/m/r.conf" --node n1 --ctl "$ZL_TMP/m/ctl" --state-dir "$ZL_TMP/m/state" \
    --no-apply --sztp --device-id D1 --tpm "libtpms:$ZL_TMP/m/tpm" --manufacture-ocra-key "$ZL_TMP/m/key.hex" \
    >"$ZL_TMP/m/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || zl_fail "ssr-node with a 0644 key file exited $rc, want 1"
grep -q 'event=tpm.manufacture_failed .*mode 0644' "$ZL_TMP/m/out" || zl_fail "no manufacture_failed line: $(cat "$ZL_TMP/m/out")"
[ -f "$ZL_TMP/m/key.hex" ] || zl_fail "the refused key file was removed"
! grep -q "$(cat "$ZL_TMP/m/key.hex")" "$ZL_TMP/m/out" || zl_fail "the key is in the log"
zl_ok "a 0644 key file is refused (exit 1), left in place, not logged"
