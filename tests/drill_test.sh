#!/usr/bin/env bash
# Runs tools/drill.sh (`asrctl drill`) end to end with a disk of the user's
# and checks its promises from its output and, independently, from what it
# left (--keep): VMs protected and replicated by the site service, VM1's
# restored point proven against the guests' write log on every disk, the
# recovery plan's script action in DNS for the test and the planned
# failover, zero data loss, failback home, an unplanned failover to an
# older point with its lost writes reported, the user's disk replicated
# byte for byte and left untouched, every job succeeded, a summary. Then
# bad options and a directory that is not the drill's are refused clearly.
# Arguments: asrctl [the QEMU test guest's vmlinuz]: with the guest, the
# drill runs one real QEMU VM too (drill_qemu_test), else --no-qemu.
set -uo pipefail
asrctl="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
qemu=(--no-qemu)
[ -n "${2:-}" ] && qemu=(--qemu --qemu-guest "$(dirname "$(realpath "$2")")")
out="$TEST_TMPDIR/drill.out"
dir="$TEST_TMPDIR/drill"
fails=0
passes=0
check() {
  if "${@:2}"; then passes=$((passes + 1)); else fails=$((fails + 1)); echo "FAIL: $1"; fi
}

# The user's own disk: 16 MiB of which 6 MiB random data, as a dynamic VHDX.
head -c 6M /dev/urandom >"$TEST_TMPDIR/user.raw"
truncate -s 16M "$TEST_TMPDIR/user.raw"
"$asrctl" disk convert "$TEST_TMPDIR/user.raw" "$TEST_TMPDIR/user.vhdx" --src-format raw --format vhdx \
  --type dynamic >/dev/null
user_sum="$(sha256sum <"$TEST_TMPDIR/user.vhdx")"

ASRCTL="$asrctl" ASR_DRILL_SKIP_INSTALL=1 ASR_DRILL_DIR="$dir" ASR_DRILL_SECONDS=35 \
  bash tools/drill.sh --keep "${qemu[@]}" --disk "$TEST_TMPDIR/user.vhdx" >"$out" 2>&1
rc=$?
a() { "$asrctl" --state-dir "$dir/state" --key-file "$dir/keys/vault.kek" --fabric "$dir/fabric" "$@"; }

check "drill exits 0" test "$rc" -eq 0
check "every VM protected" \
  test "$(grep -cE '^  ok: (VM[123]|UserVM) state: Protected$' "$out")" -eq 4
check "the site service made cycles of every VM" \
  test "$(grep -cE '^  ok: (VM[123]|UserVM): [1-9][0-9]* cycles by the site service' "$out")" -eq 4
check "both of VM1's disks proven against the write log" \
  test "$(grep -cE '^  pi-vm1-p[0-9]+: disk vm1-d[01] holds every guest write before host point' "$out")" -eq 2
check "restored disk is a VHDX qemu-img reads" qemu-img info -f vhdx "$dir/restored-vm1-d1.vhdx"
check "the plan's script action wrote both test VMs' addresses into DNS" \
  test "$(grep -cE '^172\.16\.2\.[0-9]+ VM[12]\.contoso\.com \(TestFailover of plan drill-plan\)$' "$dir/dns-zone.txt")" -eq 2
check "and both failed-over VMs' addresses on the planned failover" \
  test "$(grep -cE '^[0-9.]+ VM[12]\.contoso\.com \(PlannedFailover of plan drill-plan\)$' "$dir/dns-zone.txt")" -eq 2
check "production replication went on beside the test VMs" grep -q '^  ok: VM1 replicated beside its test VM' "$out"
check "planned failover: all 3 disks of VM1 and VM2 hold every acknowledged write" \
  test "$(grep -c 'the failed-over VM holds every write the guest saw acknowledged' "$out")" -eq 3
check "VM1 and VM2 failed back home" \
  test "$(grep -cE '^  ok: VM[12] active location after failback: Primary$' "$out")" -eq 2
check "VM3 failed over to an older point" grep -q '^  ok: VM3 failed over to the older point' "$out"
check "the writes after it are proven absent from the failed-over disk" \
  grep -qE '^  ok: disk vm3-d0 holds none of the [1-9][0-9]* writes made after the point' "$out"
check "and reported lost with their time window" \
  grep -qE '^  data lost: [1-9][0-9]* acknowledged writes \([0-9]+ KiB\) made after point .*, [0-9:]+-[0-9:]+ UTC$' "$out"
# Independently of the drill: VM3's state says so.
vm3="$(a --json item show VM3)"
check "VM3 is FailedOver at the recovery site with the data loss estimated" python3 -c "
import json,sys; i=json.loads(sys.argv[1])
assert i['protectionState']=='FailedOver' and i['activeLocation']=='Recovery', i
assert i['failoverRecoveryPointId'] and int(i.get('dataLossSeconds','0'))>0, i" "$vm3"
check "the user's disk replicated byte for byte" \
  grep -qE "^  ok: the replica of .*/user.vhdx is byte for byte the same" "$out"
check "the user's disk file is untouched" test "$(sha256sum <"$TEST_TMPDIR/user.vhdx")" = "$user_sum"
check "the replica of the user's disk matches it (asrctl disk compare)" \
  "$asrctl" disk compare "$dir/restored-uservm-d0.vhdx" "$TEST_TMPDIR/user.vhdx"
check "VM2's replica deleted on disable" grep -q "^  ok: VM2's replica deleted on disable" "$out"
a --json job list >"$TEST_TMPDIR/jobs.json"
check "no job failed (the state's own job list)" python3 -c "
import json,sys; j=json.load(open(sys.argv[1]))
bad=[(x['id'],x['state']) for x in j if x['state']!='Succeeded']
assert j and not bad, bad" "$TEST_TMPDIR/jobs.json"
if [ -n "${2:-}" ]; then
  check "the QEMU VM failed over planned" grep -q '^  ok: QEMU VM1 state: PlannedFailoverCompleted$' "$out"
  check "the QEMU VM has an app-consistent point (guest agent freeze)" \
    grep -qE '^  ok: QEMU VM1: [1-9][0-9]* of [0-9]+ points app-consistent' "$out"
  check "the QEMU site service took it as app-consistent" grep -q '^VM1: point [0-9]* (app-consistent)' "$dir/qemu-site.log"
  check "its replica's guest found every record written" \
    grep -qE '^  ok: the replica VM holds every record: ASR-VERDICT ok records=[1-9][0-9]* ' "$out"
  "$asrctl" --qemu-host "$dir/qemu/host" qemu vm list >"$TEST_TMPDIR/qemu-vms" 2>&1
  check "no QEMU VM left running" bash -c "! grep -q ': running' '$TEST_TMPDIR/qemu-vms'"
fi
check "summary: every step held" grep -qE '^([0-9]+) of \1 steps held$' "$out"
check "the report is written" grep -q '^| Unplanned failover of VM3 to an older point | ok |' "$dir/summary.md"
check "the HTML report is written" test -s "$dir/report.html"
check "it shows the drill's steps" grep -q 'Unplanned failover of VM3 to an older point' "$dir/report.html"
for chart in run-steps rpo bytes steps timeline; do
  check "its $chart chart" grep -q "data-chart=\"$chart\"" "$dir/report.html"
done
check "the report fetches nothing" bash -c "! grep -qE 'https?://' '$dir/report.html'"
check "the drill's output names the report" grep -q "^report: $dir/report.html" "$out"
check "output not to a terminal has no progress redraws" bash -c "! grep -q $'\r' '$out'"
check "the commands' output is in the log" grep -q '^\$ asrctl .* plan failover drill-plan --operation PlannedFailover' "$dir/drill.log"

# Bad options: exit code 2 and a message saying what to give.
err="$("$asrctl" drill --dir "$TEST_TMPDIR/x" --vms 0 2>&1)"; rc=$?
check "--vms 0 is refused" test "$rc" -eq 2
check "naming --vms" grep -q -- "--vms.*at least 3" <<<"$err"
err="$("$asrctl" drill --dir "$TEST_TMPDIR/x" --disk "$TEST_TMPDIR/missing.vhdx" 2>&1)"; rc=$?
check "a missing --disk is refused" test "$rc" -eq 2
check "naming the file" grep -q "missing.vhdx.*VHD or VHDX" <<<"$err"
mkdir -p "$TEST_TMPDIR/precious" && echo keep >"$TEST_TMPDIR/precious/notes"
err="$("$asrctl" drill --dir "$TEST_TMPDIR/precious" 2>&1)"; rc=$?
check "a directory that is not a drill's is refused" test "$rc" -eq 2
check "and left alone" test "$(cat "$TEST_TMPDIR/precious/notes")" = keep

# A check that fails: exit code 1, what failed, where the logs are, and the
# directory kept with its report (a .vhdx that is no disk fails step 1).
echo "not a disk" >"$TEST_TMPDIR/bad.vhdx"
"$asrctl" drill --dir "$TEST_TMPDIR/failed" --no-qemu --disk "$TEST_TMPDIR/bad.vhdx" \
  >"$TEST_TMPDIR/failed.out" 2>&1
rc=$?
check "a failed drill exits 1" test "$rc" -eq 1
check "saying what failed" grep -q "^drill: --disk .*bad.vhdx is not a VHD or VHDX disk asr reads; give one" "$TEST_TMPDIR/failed.out"
check "and where the logs are" grep -q "^drill: FAILED; the commands' output is in $TEST_TMPDIR/failed/drill.log, everything the drill made is kept in $TEST_TMPDIR/failed$" "$TEST_TMPDIR/failed.out"
check "its report shows the failed step" grep -q "| FAILED |" "$TEST_TMPDIR/failed/summary.md"

if [ "$fails" -ne 0 ]; then sed 's/^/  drill: /' "$out" | tail -80; fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
