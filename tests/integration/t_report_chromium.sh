#!/usr/bin/env bash
# report-chromium: the report of a real run, looked at by a real browser. `lab run learned` into a
# temporary artifacts directory (it writes learned/report.html), then Debian's chromium renders that
# page headless inside a network namespace that has nothing but loopback (so any resource the page
# tried to fetch would fail, and the page must not need one): a screenshot (a PNG of the window's
# size, not blank) and the DOM, which must hold every router node's 12 onboarding steps (the steps
# the run reached marked done, as `lab report --json` says), every expectation of summary.json, the
# message sequence, and no http(s):// resource reference at all. Also `lab report` for the terminal
# and --json. Installs nothing: without chromium it is skipped (apt-get install chromium).
. "$(dirname "$0")/lib.sh"
zl_require_root
command -v chromium >/dev/null 2>&1 || zl_skip "chromium is not installed: apt-get install chromium"
zl_require_cmd jq
[ -x "$ZTP_BIN/lab" ] || zl_skip "$ZTP_BIN/lab not built"
SCN=${ZTP_REPORT_SCENARIO:-learned}
ART=$ZL_TMP/art

# ---- a real run ----
rc=0
"$ZTP_BIN/lab" --scenarios "$ZTP_SRC/scenarios" run "$SCN" --artifacts "$ART" >"$ZL_TMP/run.log" 2>&1 || rc=$?
[ "$rc" -eq 77 ] && zl_skip "lab cannot run $SCN here: $(tail -1 "$ZL_TMP/run.log")"
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || zl_fail "lab run $SCN: exit $rc: $(tail -5 "$ZL_TMP/run.log")"
D=$ART/$SCN
[ -s "$D/summary.json" ] || zl_fail "no $D/summary.json"
[ -s "$D/report.html" ] || zl_fail "lab run wrote no $D/report.html"
zl_ok "lab run $SCN (exit $rc) wrote report.html: $(stat -c %s "$D/report.html") bytes"

# ---- the terminal and JSON views ----
"$ZTP_BIN/lab" report "$D" >"$ZL_TMP/report.txt" || zl_fail "lab report $D failed"
for want in "== $SCN: " "onboarding steps" "timeline" "sequence" "DHCPDISCOVER" "CONNECT " "expectations"; do
    grep -qF -- "$want" "$ZL_TMP/report.txt" || zl_fail "lab report: no \"$want\" in: $(head -30 "$ZL_TMP/report.txt")"
done
"$ZTP_BIN/lab" report "$D" --json >"$ZL_TMP/report.json" || zl_fail "lab report --json failed"
jq -e '.scenarios[0].events | length > 10' "$ZL_TMP/report.json" >/dev/null || zl_fail "lab report --json: too few events"
jq -e '[.scenarios[0].events[] | has("t","host","component","step","event","fields")] | all' "$ZL_TMP/report.json" \
    >/dev/null || zl_fail "lab report --json: an event without the schema's keys"
zl_ok "lab report: terminal view and --json ($(jq '.scenarios[0].events | length' "$ZL_TMP/report.json") events)"
# --html elsewhere: links relative to the file
mkdir -p "$ZL_TMP/out"
"$ZTP_BIN/lab" report "$D" --html "$ZL_TMP/out/r.html" 2>"$ZL_TMP/html.log" || zl_fail "lab report --html: $(cat "$ZL_TMP/html.log")"
grep -qF 'href="../art/'"$SCN"'/logs/' "$ZL_TMP/out/r.html" || zl_fail "lab report --html FILE: links not relative to FILE"
zl_ok "lab report --html elsewhere: $(cat "$ZL_TMP/html.log")"

# ---- chromium, offline: a namespace with loopback only ----
zl_ns browser
chrome() {
    timeout 90 ip netns exec "$(zl_nsname browser)" env HOME="$ZL_TMP" chromium --headless --no-sandbox --disable-gpu \
        --disable-extensions --no-first-run --no-default-browser-check --disable-background-networking \
        --disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir="$ZL_TMP/chrome" "$@"
}
t0=$(date +%s%N)
chrome --screenshot="$ZL_TMP/shot.png" --window-size=1400,2000 "file://$D/report.html" >"$ZL_TMP/chrome-shot.log" 2>&1 ||
    zl_fail "chromium --screenshot failed: $(tail -5 "$ZL_TMP/chrome-shot.log")"
t1=$(date +%s%N)
chrome --dump-dom "file://$D/report.html" >"$ZL_TMP/dom.html" 2>"$ZL_TMP/chrome-dom.log" ||
    zl_fail "chromium --dump-dom failed: $(tail -5 "$ZL_TMP/chrome-dom.log")"
t2=$(date +%s%N)

# the screenshot: a PNG of the window's size, with content (a blank page compresses to a few KB)
[ -s "$ZL_TMP/shot.png" ] || zl_fail "no screenshot"
sig=$(head -c 8 "$ZL_TMP/shot.png" | od -An -tx1 | tr -d ' \n')
[ "$sig" = 89504e470d0a1a0a ] || zl_fail "screenshot is not a PNG (signature $sig)"
wh=$(od -An -tu1 -j16 -N8 "$ZL_TMP/shot.png" | awk '{print ($1*16777216+$2*65536+$3*256+$4) "x" ($5*16777216+$6*65536+$7*256+$8)}')
[ "$wh" = 1400x2000 ] || zl_fail "screenshot is $wh, want 1400x2000"
size=$(stat -c %s "$ZL_TMP/shot.png")
[ "$size" -gt 60000 ] || zl_fail "screenshot of $size bytes: the page looks blank"
zl_ok "screenshot: PNG $wh, $size bytes ($(( (t1 - t0) / 1000000 )) ms)"

# the DOM chromium built
DOM=$ZL_TMP/dom.html
[ "$(wc -c <"$DOM")" -gt 10000 ] || zl_fail "dumped DOM is only $(wc -c <"$DOM") bytes"
grep -qF '<section class="scn' "$DOM" || zl_fail "no scenario section in the DOM"
# every router node: a row per step, the steps the run reached shown done
nodes=$(jq -r '.hosts[] | select(.kind == "ssr-node") | .name' "$D/summary.json")
[ -n "$nodes" ] || zl_fail "summary.json names no router node"
for n in $nodes; do
    for k in $(seq 1 12); do
        grep -qF "data-node=\"$n\" data-step=\"$k\"" "$DOM" || zl_fail "no step $k of $n in the DOM"
    done
    done_steps=$(jq -r --arg n "$n" '.scenarios[0].lanes[] | select(.host == $n) | .steps[] | select(.status == "done") | .step' \
        "$ZL_TMP/report.json")
    [ -n "$done_steps" ] || zl_fail "$n: no step done according to lab report --json"
    for k in $done_steps; do
        grep -qE "data-node=\"$n\" data-step=\"$k\">done at" "$DOM" || zl_fail "$n step $k is done but not shown so"
    done
    zl_ok "$n: 12 steps in the page, done: $(echo $done_steps)"
done
for s in "phone home" "redirect" "OCRA auth" "staging" "CSR" "SVR config" "migrate"; do
    grep -qF "$s" "$DOM" || zl_fail "step name \"$s\" not in the DOM"
done
# every expectation row
nexp=$(jq '.expectations | length' "$D/summary.json")
rows=$(grep -c '<tr class="\(pass\|fail\|skip\)"><td>' "$DOM" || true)
[ "$rows" -eq "$nexp" ] || zl_fail "$rows expectation rows in the DOM, summary.json has $nexp"
while IFS= read -r name; do
    esc=$(printf '%s' "$name" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
    grep -qF "<td>$esc</td>" "$DOM" || zl_fail "expectation \"$name\" not in the DOM"
done < <(jq -r '.expectations[].name' "$D/summary.json")
zl_ok "$nexp expectation rows"
# the timeline and the message sequence
grep -qF '<svg class="timeline"' "$DOM" || zl_fail "no timeline"
msgs=$(grep -o '<g class="msg' "$DOM" | wc -l)
[ "$msgs" -ge 6 ] || zl_fail "only $msgs messages in the sequence"
for m in DHCPDISCOVER DHCPOFFER "CONNECT "; do
    grep -qF "$m" "$DOM" || zl_fail "message $m not in the sequence"
done
# nothing from the network: no http(s) or protocol-relative resource, no script
if grep -qiE '(src|href|xlink:href|action|poster|data)="(https?:)?//' "$DOM"; then
    zl_fail "a network resource reference: $(grep -oiE '(src|href|xlink:href|action|poster|data)="(https?:)?//[^"]*' "$DOM" | head -3)"
fi
if grep -qiE 'url\((["'"'"']?)(https?:)?//|@import' "$DOM"; then
    zl_fail "a CSS network reference"
fi
grep -qi '<script' "$DOM" && zl_fail "the page has a script"
grep -qiE '<(img|iframe|object|embed|link)[ >]' "$DOM" && zl_fail "the page loads an external kind of element"
zl_ok "DOM: $msgs messages, no network reference, no script ($(( (t2 - t1) / 1000000 )) ms to dump)"
zl_ok "report $(stat -c %s "$D/report.html") bytes; chromium screenshot $(( (t1 - t0) / 1000000 )) ms, DOM $(( (t2 - t1) / 1000000 )) ms"
