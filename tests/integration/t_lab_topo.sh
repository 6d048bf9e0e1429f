#!/usr/bin/env bash
# The lab's topology layer without root: runs the whole topo unit suite (tests/unit/test_topo.c) as an
# ordinary user (uid 65534 via setpriv when ctest runs as root), where it enters the lab's own user,
# mount and network namespaces (lab/userns.c) and builds, checks and removes its namespaces in there.
# Skipped (77) with the kernel's reason when unprivileged user namespaces are not available.
source "$(dirname "$0")/lib.sh"

T="$ZTP_BIN/../tests/test_topo"
[ -x "$T" ] || zl_skip "test_topo is not built ($T)"

if [ "$(id -u)" -eq 0 ]; then
    zl_require_cmd setpriv
    run=(setpriv --reuid=65534 --regid=65534 --clear-groups "$T")
    who="uid 65534 (setpriv)"
else
    run=("$T")
    who="uid $(id -u)"
fi
out="$ZL_TMP/test_topo.out"
rc=0
( cd "$ZL_TMP" && chmod 755 "$ZL_TMP" && "${run[@]}" ) >"$out" 2>&1 || rc=$?
if grep -q "namespace tests skipped" "$out"; then
    zl_skip "$(grep -o 'not root and .*: namespace' "$out" | sed 's/: namespace$//')"
fi
[ "$rc" -eq 0 ] || { cat "$out" >&2; zl_fail "test_topo failed as an ordinary user (rc=$rc)"; }
grep -q "running inside the lab's own user namespace" "$out" || { cat "$out" >&2; zl_fail "test_topo did not enter a user namespace"; }
grep -q "10 namespaces / 12 links" "$out" || { cat "$out" >&2; zl_fail "the namespace tests did not run"; }
zl_ok "as $who: $(grep -o '\[topo\] 10 namespaces.*' "$out" | cut -c8-)"
zl_ok "$(grep -E '^ +tests ' "$out" | awk '{print $3" tests ran, "$5" failed"}')"
