#!/usr/bin/env bash
# Capacity planning with asrctl as a user runs it: usage errors that say what
# is wrong, a plan whose arithmetic is shown and checked by hand, and a
# benchmark on a simulated fabric with real disks: the churn of VM1's disk
# measured while a workload writes it, the plan made from that churn and the
# VM's policy, and the site service's own cycle and replica checked against
# the plan (bandwidth and storage within 15%).
set -uo pipefail
# asrctl (the first argument), a temporary state, fabric and PKI, check, a, must.
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
usage_error() {  # usage_error NEEDLE COMMAND...: exit code 2 and NEEDLE on stderr
  local needle="$1"
  shift
  a "$@" >"$tmp/o" 2>"$tmp/e"
  local rc=$?
  check "asrctl $* exits 2 (got $rc)" test "$rc" -eq 2
  check "asrctl $* says '$needle'" grep -qF -- "$needle" "$tmp/e"
}

# Bad input: exit 2 and what was wrong.
usage_error "give --churn SIZE" capacity plan --disks 2 --disk-used 10G
usage_error "needs --disk-used SIZE" capacity plan --disks 2 --churn 1G
usage_error "not both" capacity plan --disks 2 --disk-used 10G --vm VM1 --churn 1G
usage_error "--compression needs a number of at least 1" capacity plan --disks 1 --disk-used 1G \
  --churn 1G --compression 0.5
usage_error "--vm VM (a protected VM's disks) or --disk FILE" capacity measure
usage_error "positive duration" capacity measure --disk "$tmp/x.vhdx" --duration -5s

# A plan by hand: 2 disks of 10 GiB changing 1 GiB/h each, every 300 s, 24
# points, app-consistent hourly, compression 2, 25% headroom:
#   2147483648 B/h * 300 / 3600 = 178956971 B per cycle; / 2 = 89478486 B
#   sent (rounded); * 8 / 300 = 2.386 Mbit/s; * 1.25 = 2.983 Mbit/s;
#   storage 21474836480 + (24 + 2) * 178956971 = 26127717726 B.
a capacity plan --disks 2 --disk-used 10G --churn 1G --copy-frequency 300 --points 24 \
  --app-consistent 1 --compression 2 --headroom 0.25 --link-mbps 2.5 >"$tmp/plan" 2>"$tmp/e"
check "a 2.5 Mbit/s link is too slow: exit 3" test $? -eq 3
cat "$tmp/plan"
check "plan: per cycle" grep -q "changed per cycle = 2147483648 B/h \* 300 s / 3600 s/h = 178956971 B" "$tmp/plan"
check "plan: sent" grep -q "sent per cycle = 178956971 B / compression 2.00 = 89478486 B" "$tmp/plan"
check "plan: required" grep -q "required bandwidth = 2.386 Mbit/s \* (1 + headroom 0.25) = 2.983 Mbit/s" "$tmp/plan"
check "plan: app-consistent points" grep -q "app-consistent points = ceil(24 points \* 300 s / (1 h \* 3600 s/h)) = 2" "$tmp/plan"
check "plan: storage" grep -q "replica storage = base 21474836480 B + (24 retained + 2 app-consistent) \* 178956971 B per point = 26127717726 B" "$tmp/plan"
check "plan: the link" grep -q "link: 2.500 Mbit/s is NOT enough" "$tmp/plan"
a capacity plan --disks 2 --disk-used 10G --churn 1G --copy-frequency 300 --link-mbps 6 >"$tmp/o" 2>&1
check "a 6 Mbit/s link is enough: exit 0" test $? -eq 0
out=$(a --json capacity plan --disks 2 --disk-used 10G --churn 1G --copy-frequency 300 --headroom 0)
check "--json: the bytes per cycle" grep -q '"changedBytesPerCycle":"178956971"' <<<"$out"
check "--json: the arithmetic" grep -q '"arithmetic":\["churn per hour' <<<"$out"

# The benchmark: VM1 protected under "gold" (copy every 30 s, 2 points).
make_two_sites
# Fill VM1's disk with data first, so the blocks the measured workload
# overwrites are not zeros: the replica then keeps their old contents for
# the older point (a reverse delta), as it does for a used disk.
"$asrctl" fabric workload --dir "$fab" --duration 2s --rate 100 --vm vm1 --min-write 256K \
  --max-write 256K --seed 3 >"$tmp/fill" 2>&1
check "fill ran" test $? -eq 0
must protect enable --vm VM1 --pki "$pki" --point-interval 1s
check "enable succeeded" grep -q "Succeeded" "$tmp/out"
# The next cycle is due 30 s after the initial replication: measure VM1's
# disk over those 30 s while a workload writes it for 4 s, then let
# the site service run that cycle.
a --json capacity measure --vm VM1 --duration 30s >"$tmp/measure" 2>"$tmp/measure.err" &
measure=$!
sleep 2
"$asrctl" fabric workload --dir "$fab" --duration 4s --rate 10 --vm vm1 --min-write 16K \
  --max-write 64K --seed 7 >"$tmp/workload" 2>&1
check "workload ran" test $? -eq 0
a site run --pki "$pki" --duration 40s --point-interval 1s >"$tmp/site" 2>"$tmp/site.err" &
site=$!
wait $measure
check "measure exits 0" test $? -eq 0
wait $site
check "site run exits 0" test $? -eq 0
cat "$tmp/measure" "$tmp/measure.err" "$tmp/workload"
disk=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["path"])' "$tmp/measure")
a capacity measure --disk "$disk" --duration 1s >"$tmp/o" 2>&1
check "measure of a file exits 0" test $? -eq 0
check "measure of a file: nothing changed" grep -q ": 0 of 256 blocks of 64.0 KiB changed" "$tmp/o"
check "measure of a file: how to plan" grep -q "plan with: asrctl capacity plan --disks 1 --disk-used [1-9][0-9]* --churn 0" "$tmp/o"
churn=$(python3 -c 'import json,sys; m = json.load(open(sys.argv[1])); print(sum(int(d["churnBytesPerHour"]) for d in m) // len(m))' "$tmp/measure")
used=$(python3 -c 'import json,sys; m = json.load(open(sys.argv[1])); print(sum(int(d.get("usedBytes", 0)) for d in m) // len(m))' "$tmp/measure")
check "measured churn" test "${churn:-0}" -gt 0
# The plan of VM1 from its policy (30 s), the measured churn and used bytes
# per disk (averages: --churn and --disk-used apply to each disk), random
# data (compression 1), and one retained point: one cycle has run since the
# initial copy, so the replica holds one older point.
a --json capacity plan --vm VM1 --churn "$churn" --disk-used "$used" --headroom 0 \
  --compression 1 --points 1 >"$tmp/vmplan" 2>"$tmp/e"
check "plan of VM1 exits 0" test $? -eq 0
a --json item show VM1 >"$tmp/item.json"
python3 - "$tmp/vmplan" "$tmp/item.json" >"$tmp/compare" <<'PY'
import json, os, sys
plan = json.load(open(sys.argv[1]))
item = json.load(open(sys.argv[2]))
f = plan["input"]["copyFrequencySeconds"]
cycles = [c for c in item.get("recentCycles", []) if c.get("ok") and int(c.get("bytesSent", 0)) > 0]
print("copy frequency", f, "cycles", len(cycles), [c.get("bytesSent") for c in cycles])
big = cycles[-1] if cycles else {"bytesSent": "0"}
measured_mbps = int(big["bytesSent"]) * 8 / f / 1e6
planned_mbps = plan["meanMbps"]
print("bandwidth planned %.3f Mbit/s measured %.3f Mbit/s ratio %.3f" %
      (planned_mbps, measured_mbps, planned_mbps / measured_mbps if measured_mbps else 0))
stored = 0
for d in item["disks"]:
    for root, _, files in os.walk(d["replicaDir"]):
        for n in files:
            stored += os.stat(os.path.join(root, n)).st_blocks * 512
planned = int(plan["replicaStorageBytes"])
print("storage planned %d B measured %d B ratio %.3f" % (planned, stored, planned / stored if stored else 0))
ok_bw = measured_mbps > 0 and abs(planned_mbps / measured_mbps - 1) <= 0.15
ok_st = stored > 0 and abs(planned / stored - 1) <= 0.15
print("BANDWIDTH", "OK" if ok_bw else "OFF")
print("STORAGE", "OK" if ok_st else "OFF")
PY
cat "$tmp/compare"
check "planned bandwidth within 15% of the site service's cycle" grep -q "BANDWIDTH OK" "$tmp/compare"
check "planned storage within 15% of the replica on disk" grep -q "STORAGE OK" "$tmp/compare"

echo "capacity_cli_test: $passes passed, $fails failed"
test "$fails" -eq 0
