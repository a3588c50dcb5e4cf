#!/usr/bin/env bash
# Runs tools/drill.sh end to end and checks its promises: VMs protected and
# replicated by the site service, VM1's restored point proven against the
# guests' write log on every disk, a summary printed, and the drill's jobs
# all succeeded.
set -uo pipefail
asrctl="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
out="$TEST_TMPDIR/drill.out"
ASRCTL="$asrctl" ASR_DRILL_SKIP_INSTALL=1 ASR_DRILL_DIR="$TEST_TMPDIR/drill" \
  bash tools/drill.sh >"$out" 2>&1
rc=$?
fails=0
passes=0
check() {
  if "${@:2}"; then passes=$((passes + 1)); else fails=$((fails + 1)); echo "FAIL: $1"; fi
}
check "drill exits 0" test "$rc" -eq 0
check "both VMs protected by their jobs" test "$(grep -c 'Enable protection of VM[12]' "$out")" -ge 2
check "the site service made cycles of both VMs" \
  bash -c "grep -q '^VM1: point' '$out' && grep -q '^VM2: point' '$out'"
check "both of VM1's disks proven against the write log" \
  test "$(grep -c 'holds every guest write before host point' "$out")" -eq 2
check "summary printed" grep -q "^VM1: Protected, health" "$out"
check "VM2's replica deleted on disable" grep -q "Disable protection of VM2" "$out"
check "the plan's script action wrote the test VM's new address into DNS" \
  grep -qE "^172\.16\.2\.[0-9]+ VM2\.contoso\.com \(TestFailover of plan drill-plan\)" \
  "$TEST_TMPDIR/drill/dns-zone.txt"
check "no job failed" bash -c "! grep -E '^job-[0-9]+ .* (Failed|Cancelled)' '$out'"
check "restored disk is a VHDX qemu-img reads" \
  qemu-img info -f vhdx "$TEST_TMPDIR/drill/restored-vm1-d1.vhdx"
if [ "$fails" -ne 0 ]; then sed 's/^/  drill: /' "$out" | tail -60; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
