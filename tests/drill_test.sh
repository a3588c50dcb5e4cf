#!/usr/bin/env bash
# Runs tools/drill.sh end to end and checks its promises: every restored
# point verified, a summary printed, and the drill's jobs all succeeded.
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
check "initial replication ran" grep -q "point 1 (initial)" "$out"
check "a tracked cycle ran" grep -q "(tracked)" "$out"
check "a scan cycle ran" grep -q "(scan)" "$out"
check "two restores verified by asr" test "$(grep -c '^identical$' "$out")" -eq 2
check "summary printed" grep -q "^total: .* MiB changed, .* MiB sent" "$out"
check "no job failed" bash -c "! grep -E '^job-[0-9]+ .* (Failed|Cancelled)' '$out'"
check "replica is a VHDX qemu-img reads" qemu-img info -f vhdx "$TEST_TMPDIR/drill/replica/replica.vhdx"
if [ "$fails" -ne 0 ]; then sed 's/^/  drill: /' "$out" | tail -60; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
