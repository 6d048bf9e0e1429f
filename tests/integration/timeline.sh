#!/usr/bin/env bash
# Print the merged, time-ordered event timeline of every component log in a directory:
#   +0.004s  r1a       ssr-node     dhcpc.state     ifname=wan0 from=INIT to=SELECTING
# Usage: timeline.sh DIR [EVENT-REGEX]   (default: every event except heartbeats)
set -euo pipefail
dir=$1
filter=${2:-.}
cat "$dir"/*.log 2>/dev/null | grep -h '^ts=' | sort -s -k1,1 | awk -v filter="$filter" '
function secs(ts,   t, h, m, s) {
    t = substr(ts, 15)              # HH:MM:SS.ffffffZ after "ts=YYYY-MM-DDT"
    h = substr(t, 1, 2); m = substr(t, 4, 2); s = substr(t, 7, 9)
    return h * 3600 + m * 60 + s
}
{
    ev = ""; host = ""; comp = ""; rest = ""
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^event=/) ev = substr($i, 7)
        else if ($i ~ /^host=/) host = substr($i, 6)
        else if ($i ~ /^comp=/) comp = substr($i, 6)
        else if ($i ~ /^(ts|level)=/) continue
        else rest = rest (rest == "" ? "" : " ") $i
    }
    if (ev ~ /heartbeat/ || ev !~ filter) next
    t = secs($1)
    if (t0 == "") t0 = t
    printf "+%7.3fs  %-10s %-12s %-18s %s\n", t - t0, host, comp, ev, rest
}'
