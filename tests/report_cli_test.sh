#!/usr/bin/env bash
# asrctl report on a state made as a user makes it: two VMs protected on a
# simulated fabric with real disks, the site service's cycles under a
# workload, a recovery plan's test failover and cleanup, a planned
# failover. The Markdown holds the VMs, jobs and groups; the HTML page is
# opened in headless Chromium, which must log no console message or error,
# whose DOM must hold every chart, and whose screenshot must show the
# charts' colours (not a blank page). Chromium is required (CI installs it
# with tools/install-deps.sh): without it the test fails.
set -uo pipefail
# asrctl (the first argument), a temporary state, fabric and PKI, check, a, must.
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
png_colors="$2"

chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium_bin" ]; then
  echo "FAIL: chromium is not installed: the HTML report is checked in headless Chromium;" \
    "install it (apt-get install chromium, or bash tools/install-deps.sh)"
  exit 1
fi
chrome() {  # chrome ARGS... FILE: headless Chromium (as root it needs --no-sandbox)
  timeout 120 "$chromium_bin" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$tmp/chromium-profile" "$@"
}

# A state directory that is not there, or holds no state, is named.
a report --state "$tmp/absent" >"$tmp/o" 2>"$tmp/e"
check "a missing state directory exits 1" test $? -eq 1
check "a missing state directory is named" grep -q "$tmp/absent does not exist" "$tmp/e"
mkdir -p "$tmp/empty"
a report --state "$tmp/empty" >"$tmp/o" 2>"$tmp/e"
check "an empty state directory exits 1" test $? -eq 1
check "an empty state directory is named" grep -q "$tmp/empty" "$tmp/e"

make_two_sites
"$asrctl" fabric workload --dir "$fab" --duration 1s --rate 20 --vm vm1 >/dev/null 2>&1
must protect enable --vm VM1 --pki "$pki" --point-interval 1s
must protect enable --vm VM2 --pki "$pki" --point-interval 1s

# The site service's scheduled cycles (30 s copy frequency) under a workload
# writing into VM1; VM2's cycle fails (the host cannot take its point).
"$asrctl" fabric fault set point-fails vm2 --dir "$fab" >/dev/null || exit 1
"$asrctl" fabric workload --dir "$fab" --duration 30s --rate 40 --vm vm1 >/dev/null 2>&1 &
workload=$!
a site run --pki "$pki" --duration 32s --point-interval 1s >"$tmp/site" 2>"$tmp/site.err"
check "site run exits 0" test $? -eq 0
wait "$workload"
"$asrctl" fabric fault clear point-fails vm2 --dir "$fab" >/dev/null || exit 1
check "site run made cycles, VM2's failed" \
  grep -Eq "site service stopped: [1-9][0-9]* cycles ok, 1 failed" "$tmp/site"

# A plan over both VMs in two groups, with a manual action at the end of
# Group 2: its test failover waits there until the job is resumed; cleanup.
must plan create dr-east --vm VM1 --vm VM2 --groups 2
must plan edit dr-east --move-vm VM2 --to-group 2
must plan edit dr-east --add-action check-app --group 2 --placement End --types TestFailover \
  --directions PrimaryToRecovery --manual "check that the application answers"
must plan failover dr-east --operation TestFailover --network-type Isolated
suspended=$(a job list --state Suspended | grep -o "job-[0-9]*" | head -1)
check "the plan's test failover waits at its manual action" test -n "$suspended"
must job resume "$suspended"
must plan failover dr-east --operation TestFailoverCleanup
# A planned failover of VM1 (its last cycle is the failover's sync).
must failover planned VM1 --pki "$pki" --point-interval 1s

# The report: Markdown on stdout, the HTML page in a file.
a report --state "$state" --html "$tmp/report.html" >"$tmp/report.md" 2>"$tmp/e"
check "report exits 0" test $? -eq 0
check "report says where the HTML is" grep -q "HTML report written to $tmp/report.html" "$tmp/e"
md="$tmp/report.md"
check "markdown: title" grep -q "^# Site Recovery report" "$md"
check "markdown: VM1 after its planned failover" grep -q "^| VM1 | PlannedFailoverCompleted |" "$md"
check "markdown: VM2 protected, one failed cycle" grep -q "^| VM2 | Protected | .* | 1/1 |" "$md"
check "markdown: VM2's failed cycle and why" grep -q "^| 2 | .* | - | failed: .*point" "$md"
check "markdown: the policy's copy frequency" grep -q "30.0 s (gold)" "$md"
check "markdown: VM1's cycles" grep -q "^## VM1" "$md"
check "markdown: the plan's groups" grep -q "^### Groups of plan dr-east" "$md"
check "markdown: Group 2 of the plan" grep -q "^| Group 2 | +" "$md"
check "markdown: Group 2's action" grep -q "^| Group 2 | +.*action 'check-app' (manual) Succeeded |" "$md"
check "markdown: the planned failover job" grep -Eq "^\| job-[0-9]+ \| PlannedFailover \| VM1 \| Succeeded" "$md"
check "markdown: the plan jobs" grep -q "| RecoveryPlanTestFailoverCleanup |" "$md"
# The cycles' numbers are the item's: the last cycle's bytes sent.
sent=$(a --json item show VM1 | grep -o '"bytesSent":"[0-9]*"' | tail -1 | cut -d'"' -f4)
changed=$(a --json item show VM1 | grep -o '"bytesChanged":"[0-9]*"' | head -1 | cut -d'"' -f4)
check "the item records bytes sent" test -n "$sent"
check "the item records bytes changed" test -n "$changed"

# The same with the global --state-dir and a Markdown file.
a report --html "$tmp/report2.html" --markdown "$tmp/report2.md" >"$tmp/o" 2>"$tmp/e"
check "report --markdown exits 0" test $? -eq 0
check "report --markdown prints nothing on stdout" test ! -s "$tmp/o"
# The same cycles and jobs (the RPO now has moved on).
check "report --markdown writes the same cycles and jobs" diff \
  <(grep -E "^\| (job-)?[0-9]" "$tmp/report.md") <(grep -E "^\| (job-)?[0-9]" "$tmp/report2.md")
check "report --markdown: the cycles" test "$(grep -cE "^\| [0-9]+ \| 20" "$tmp/report2.md")" -ge 5

html="$tmp/report.html"
check "html: one document" grep -q "</html>" "$html"
check "html: no http:// or https:// reference" test "$(grep -c 'https\?://' "$html")" -eq 0
check "html: no script" test "$(grep -c '<script' "$html")" -eq 0

# Headless Chromium: no console message or error, every chart in the DOM,
# and a screenshot that shows them.
chrome --enable-logging=stderr --v=0 --window-size=1280,2400 --screenshot="$tmp/report.png" \
  "file://$html" >"$tmp/chrome.out" 2>"$tmp/chrome.err"
check "chromium took the screenshot" test -s "$tmp/report.png"
if grep -Eq "CONSOLE|Uncaught|net::ERR_" "$tmp/chrome.err"; then
  check "chromium logged no console message or load error" false
  grep -E "CONSOLE|Uncaught|net::ERR_" "$tmp/chrome.err" | head -5
else
  check "chromium logged no console message or load error" true
fi
chrome --dump-dom "file://$html" >"$tmp/dom.html" 2>/dev/null
count() { grep -o "$1" "$tmp/dom.html" | wc -l; }
check "dom: an RPO chart per VM" test "$(count 'data-chart="rpo"')" -eq 2
check "dom: a bytes chart per VM" test "$(count 'data-chart="bytes"')" -eq 2
check "dom: a steps chart per job" test "$(count 'data-chart="steps"')" -eq 3
check "dom: a group timeline per plan job" test "$(count 'data-chart="timeline"')" -eq 2
check "dom: an RPO curve per VM" test "$(count 'class="series rpo-curve" points="[0-9]')" -eq 2
check "dom: VM2's failed cycle marked on its RPO curve and bars" \
  test "$(count 'class="failed-cycle"')" -eq 2
check "dom: VM1's compression ratio curve" test "$(count 'class="series ratio-curve" points="[0-9]')" -eq 1

python3 "$png_colors" "$tmp/report.png" '#f59e0b' '#10b981' '#0ea5e9' '#6366f1' '#14b8a6' \
  '#f97316' '#2563eb' >"$tmp/colors" 2>&1
check "the screenshot decodes" grep -q "^size 1280x2400" "$tmp/colors"
distinct=$(awk '$1 == "distinct" {print $2}' "$tmp/colors")
check "the screenshot is not blank ($distinct colours)" test "${distinct:-0}" -ge 50
# Each colour's pixels, well above what the legends' swatches alone (about
# 130-160 px each) would give: the bars and curves were drawn.
pixels() { awk -v c="$1" '$1 == c {print $2}' "$tmp/colors"; }
check "screenshot: bytes-changed bars ($(pixels '#f59e0b') px)" test "$(pixels '#f59e0b')" -ge 1000
check "screenshot: bytes-sent bars ($(pixels '#10b981') px)" test "$(pixels '#10b981')" -ge 1000
check "screenshot: step bars ($(pixels '#0ea5e9') px)" test "$(pixels '#0ea5e9')" -ge 3000
check "screenshot: group bars ($(pixels '#6366f1') px)" test "$(pixels '#6366f1')" -ge 3000
check "screenshot: VM operation bars ($(pixels '#14b8a6') px)" test "$(pixels '#14b8a6')" -ge 1500
check "screenshot: the action's bar ($(pixels '#f97316') px)" test "$(pixels '#f97316')" -ge 1000
check "screenshot: the RPO curves ($(pixels '#2563eb') px)" test "$(pixels '#2563eb')" -ge 600

echo "report_cli_test: $passes passed, $fails failed"
test "$fails" -eq 0
