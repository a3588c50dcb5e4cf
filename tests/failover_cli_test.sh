#!/usr/bin/env bash
# Failover with asrctl as a user does it, on a simulated fabric with real
# disks: a protected VM's test failover on an isolated network and its
# cleanup, a planned failover under a running workload proven against the
# fabric's write log, commit, reverse replication, failback, and the
# refusals of what a state does not allow.
set -uo pipefail
# asrctl (the first argument), a temporary state, fabric and PKI, check, a, must.
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
field() {  # field NAME: the first string value of "NAME" in the item's JSON
  a --json item show VM1 | grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4
}

make_two_sites
"$asrctl" fabric workload --dir "$fab" --duration 1s --rate 20 --vm vm1 >/dev/null 2>&1
must protect enable --vm VM1 --pki "$pki" --point-interval 1s

# What the state does not allow is refused, naming what is allowed.
a failover commit VM1 >"$tmp/o" 2>"$tmp/e"
check "commit of a protected VM exits 1" test $? -eq 1
check "commit refusal names what is allowed" grep -q "allowed now: PlannedFailover" "$tmp/e"
a failover test VM1 --network Bridged >"$tmp/o" 2>"$tmp/e"
check "a bad network type exits non-zero" test $? -ne 0
check "a bad network type names the values" grep -q "None, Isolated, VmNetwork" "$tmp/e"

# Test failover on an isolated network, beside production; then cleanup.
must failover test VM1 --network Isolated --pki "$pki" --point-interval 1s
check "test failover succeeded" grep -q "Succeeded" "$tmp/out"
out=$(a item show VM1)
check "item show: test failover completed" grep -q "test failover: TestFailoverCompleted" <<<"$out"
check "item show: the test VM" grep -q "test VM vm1-test" <<<"$out"
check "item show: a last test failover time" grep -Eq "last test failover: [0-9]{4}-" <<<"$out"
must site run --pki "$pki" --duration 2s --point-interval 1s
check "replication goes on during the test" grep -Eq "site service stopped: [0-9]+ cycles ok, 0 failed" "$tmp/out"
must failover cleanup VM1
check "cleanup: test failover None" test "$(field testFailoverState)" = "None"

# Planned failover while a workload writes into VM1 until the shutdown.
"$asrctl" fabric workload --dir "$fab" --duration 4s --rate 50 --vm vm1 >/dev/null 2>&1 &
workload=$!
sleep 1
must failover planned VM1 --pki "$pki" --point-interval 1s
wait "$workload"
check "planned failover: PlannedFailoverCompleted" test "$(field protectionState)" = "PlannedFailoverCompleted"
check "planned failover: active on the recovery side" test "$(field activeLocation)" = "Recovery"
mapfile -t replicas < <(a --json item show VM1 | grep -o '"replicaPath":"[^"]*"' | cut -d'"' -f4)
mapfile -t disks < <(a --json item show VM1 | grep -o '"diskId":"[^"]*"' | cut -d'"' -f4)
check "a replica path per disk" test "${#replicas[@]}" -eq "${#disks[@]}" -a "${#disks[@]}" -ge 1
for i in "${!disks[@]}"; do
  "$asrctl" fabric verify --dir "$fab" --vm vm1 --disk "${disks[$i]}" --latest \
    --image "${replicas[$i]}" >"$tmp/v" 2>&1
  rc=$?
  check "no acknowledged write of ${disks[$i]} lost: $(cat "$tmp/v")" test "$rc" -eq 0
done

must failover commit VM1
check "commit: Committed" test "$(field protectionState)" = "Committed"
must reprotect VM1 --pki "$pki" --point-interval 1s
check "reprotect: Protected" test "$(field protectionState)" = "Protected"
check "reprotect: reversed" grep -q '"reversed":true' <(a --json item show VM1)
check "reprotect: only the blocks that differ were sent" grep -q "only the blocks that differ" "$tmp/out"
must failback VM1 --pki "$pki" --point-interval 1s
check "failback: Protected" test "$(field protectionState)" = "Protected"
check "failback: VM1 is the source again" test "$(field vmId)" = "vm1"
check "failback: active on the primary side" test "$(field activeLocation)" = "Primary"

echo "failover_cli_test: $passes passed, $fails failed"
test "$fails" -eq 0
