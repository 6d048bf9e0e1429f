#!/usr/bin/env bash
# `lab` itself killed mid-run (issue 7): `lab run ha-learned` is SIGKILLed twice, once while it sets
# up (namespaces made, components starting) and once in the middle of the onboarding (both nodes
# past sZTP's secret-stored, conductors, hub, swtpms, captures all running). After each, `lab
# clean` must leave nothing of that run behind: no namespace (/run/netns/RUNID-*), no
# /etc/netns/RUNID-* directory, no mount naming the run, no link in the host's namespace that was
# not there before, no process of the run (every pid that was in its namespaces, and anything whose
# command line names its artifacts), no run record or sockets dir (/run/ztp-lab/RUNID.json, .d).
# Then a third, undisturbed `lab run ha-learned` passes.
source "$(dirname "$0")/lib.sh"
zl_require_root
LAB="$ZTP_BIN/lab"
[ -x "$LAB" ] || zl_skip "lab is not built ($LAB)"
SCN="$ZTP_SRC/scenarios"
RUNDIR=/run/ztp-lab

links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

# wait_file TIMEOUT FILE REGEX: bounded poll until FILE has a line matching REGEX
wait_file() {
    local end=$((SECONDS + $1))
    while ! grep -qE "$3" "$2" 2>/dev/null; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.02
    done
}

# kill_at NAME REGEX: start a run, SIGKILL the lab as soon as its timeline matches REGEX, then
# `lab clean`, then check that nothing of the run is left
kill_at() {
    local name=$1 re=$2 art="$ZL_TMP/art-$1"
    "$LAB" run ha-learned --scenarios "$SCN" --artifacts "$art" >"$ZL_TMP/$name.out" 2>&1 &
    local lab=$!
    ZL_PIDS+=("$lab")
    local tl="$art/ha-learned/timeline.txt"
    wait_file 30 "$tl" '\(run zl[a-z][0-9a-z]{5},' || zl_fail "$name: no run id in $tl"
    local runid
    runid=$(grep -oE '\(run zl[a-z][0-9a-z]{5},' "$tl" | head -1 | cut -c6-13)
    wait_file 30 "$tl" "$re" || { cat "$ZL_TMP/$name.out" >&2; zl_fail "$name: the run never reached /$re/"; }
    # what the run has now: its namespaces and every process in them
    local nss pids="" ns
    nss=$(ls /run/netns | grep "^$runid-" || true)
    [ -n "$nss" ] || zl_fail "$name: run $runid has no namespace at /$re/"
    for ns in $nss; do pids="$pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"; done
    local npids
    npids=$(echo $pids | wc -w)
    kill -KILL "$lab"
    wait "$lab" 2>/dev/null || true
    zl_log "$name: lab (pid $lab) SIGKILLed at /$re/: run $runid had $(echo $nss | wc -w) namespaces, $npids processes in them"

    "$LAB" clean >"$ZL_TMP/$name.clean" 2>&1 || { cat "$ZL_TMP/$name.clean" >&2; zl_fail "$name: lab clean failed"; }
    zl_log "$name: $(cat "$ZL_TMP/$name.clean")"

    local left
    left=$(ls /run/netns 2>/dev/null | grep "^$runid-" || true)
    [ -z "$left" ] || zl_fail "$name: namespaces left: $left"
    left=$(ls /etc/netns 2>/dev/null | grep "^$runid-" || true)
    [ -z "$left" ] || zl_fail "$name: /etc/netns dirs left: $left"
    left=$(grep "$runid" /proc/self/mountinfo || true)
    [ -z "$left" ] || zl_fail "$name: mounts left: $left"
    [ ! -e "$RUNDIR/$runid.json" ] || zl_fail "$name: run record $RUNDIR/$runid.json left"
    [ ! -e "$RUNDIR/$runid.d" ] || zl_fail "$name: sockets dir $RUNDIR/$runid.d left"
    local links_after
    links_after=$(ip -o link show | awk -F': ' '{print $2}' | sort)
    [ "$links_after" = "$links_before" ] ||
        zl_fail "$name: links in the host's namespace changed: $(diff <(echo "$links_before") <(echo "$links_after") | grep '^[<>]' | tr '\n' ' ')"
    # a process killed by its PDEATHSIG may take a moment to exit; a zombie waiting for its new parent
    # to reap it is gone already (bounded wait: 5 s)
    local p alive="" end=$((SECONDS + 5))
    for p in $pids; do
        while [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && [ $SECONDS -lt $end ]; do
            sleep 0.02
        done
        if [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
            alive="$alive $p($(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-60))"
        fi
    done
    [ -z "$alive" ] || zl_fail "$name: processes of the run still alive:$alive"
    for p in /proc/[0-9]*; do
        [ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" != Z ] || continue
        if grep -qF "$art" "$p/cmdline" 2>/dev/null || grep -qF "$RUNDIR/$runid" "$p/cmdline" 2>/dev/null; then
            zl_fail "$name: process ${p#/proc/} still names the run: $(tr '\0' ' ' <"$p/cmdline" | cut -c1-120)"
        fi
    done
    zl_ok "$name: killed lab at /$re/; after lab clean nothing of run $runid is left ($npids processes, $(echo $nss | wc -w) namespaces gone; no /etc/netns dir, mount, link, record)"
}

kill_at setup 'manufactured'           # while it sets up: swtpms and servers up, nodes starting
kill_at midrun 'r1b +secret stored'    # both nodes onboarding, every component running

out="$ZL_TMP/final.out"
"$LAB" run ha-learned --scenarios "$SCN" --artifacts "$ZL_TMP/art-final" >"$out" 2>&1 ||
    { tail -40 "$out" >&2; zl_fail "the run after the killed ones failed"; }
zl_ok "a run after them passes: $(grep -oE 'RESULT ha-learned: PASS +\([0-9/]+ expectations held' "$out")"
