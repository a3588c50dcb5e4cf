#!/usr/bin/env bash
# The main job: a disaster-recovery drill on the embedded default — two sites
# (New York primary, Chicago recovery) in a local state directory over a
# simulated VMM fabric whose VM disks are real VHDX files; VM1 (two disks) and
# VM2 protected and replicated by the site service over loopback mutual TLS
# while a guest workload writes into them; a recovery point of VM1 restored
# and proven against the workload's write log; a recovery plan's test
# failover with a script action; VM1 test-failed-over, failed over with no
# acknowledged write lost, committed, reverse-replicated and failed back. Installs what is missing and
# builds asrctl first. Everything goes to .drill/ (or $ASR_DRILL_DIR).
#
#   tools/drill.sh            # the whole drill, ~2 minutes after the build
#   ASR_DRILL_DISK=256M ASR_DRILL_SECONDS=120 tools/drill.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [ "${ASR_DRILL_SKIP_INSTALL:-0}" != 1 ]; then
  bash tools/install-deps.sh
fi
if [ -n "${ASRCTL:-}" ]; then
  asrctl="$ASRCTL"
else
  echo "== building asrctl (optimized)"
  bazel build --config=opt //asr/cli:asrctl 2>&1 | grep -E '^(ERROR|INFO: Build)' || true
  asrctl="$(bazel info --config=opt bazel-bin 2>/dev/null)/asr/cli/asrctl"
fi
[ -x "$asrctl" ] || { echo "drill: asrctl did not build" >&2; exit 1; }

dir="${ASR_DRILL_DIR:-$root/.drill}"
disk_size="${ASR_DRILL_DISK:-64M}"
seconds="${ASR_DRILL_SECONDS:-75}"
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
state="$dir/state"
# The key-encryption key that wraps the vault's keys: a 0600 file beside the
# state directory, never inside it.
kek="$dir/keys/vault.kek"
fab="$dir/fabric"
a() { "$asrctl" --state-dir "$state" --key-file "$kek" --fabric "$fab" "$@"; }
step() { printf '\n== %s\n' "$*"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

workload_pid=""
cleanup() { [ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null || true; }
trap cleanup EXIT

step "1. The VMM fabric of both sites, simulated on real disks (VM1 gets a data disk)"
python3 - "$root/tools/drill" >fabric-inventory.json <<'PY'
import json, sys
d = sys.argv[1]
ny = json.load(open(f"{d}/inventory-newyork.json"))
chi = json.load(open(f"{d}/inventory-chicago.json"))
for vm in ny["virtualMachines"]:
    if vm["id"] == "vm1":
        data = dict(vm["disks"][0])
        data.update(id="vm1-d1", name="vm1-data.vhdx", isOsDisk=False,
                    path=data["path"].replace("vm1.vhdx", "vm1-data.vhdx"))
        vm["disks"].append(data)
print(json.dumps({"servers": [{"name": "vmm-ny", "inventory": ny},
                              {"name": "vmm-chi", "inventory": chi}]}))
PY
"$asrctl" fabric init --dir "$fab" --inventory fabric-inventory.json --disk-size "$disk_size"
"$asrctl" fabric show --dir "$fab"

step "2. Two sites and a vault in $state (its keys wrapped by $kek)"
mkdir -p -m 0700 "$dir/keys"
"$asrctl" key-provider init --key-file "$kek"
a init

step "3. Register the VMM servers with a registration key (valid 5 days); sync from the hosts"
a key generate --output vault.key
a server register --credentials vault.key --friendly-name vmm-ny --site primary --sync-all-clouds
a server register --credentials vault.key --friendly-name vmm-chi --site recovery --sync-all-clouds
a inventory sync --server vmm-ny
a inventory sync --server vmm-chi

step "4. Pair GoldCloud1 (New York) with GoldCloud2 (Chicago) and protect it with a policy"
a cloud pair --primary GoldCloud1 --recovery GoldCloud2
a policy create --name gold-policy --replication-provider HyperVReplica2012R2 \
  --replication-frequency-in-seconds 30 --number-of-recovery-points-to-retain 4 \
  --application-consistent-snapshot-frequency-in-hours 1 --compression Enable \
  --authentication Certificate --replication-port 8084 --replication-method Online \
  --replica-deletion Required
a policy associate --policy gold-policy --pairing GoldCloud1

step "5. Map networks and storage; where would VM1's replica go?"
a network-map add --source VMNetwork1-NewYork --target VMNetwork1-Chicago
a network-map add --source VMNetwork2-NewYork --target VMNetwork1-Chicago
a storage-map add --source GOLD --target GOLD_TARGET
a placement show --vm VM1

step "6. Certificate authority for the vault (its key wrapped by the key file); hosts' certificates"
"$asrctl" --key-file "$kek" pki init --dir pki --primary-name hv-ny-01.contoso.com \
  --recovery-name hv-chi-01.contoso.com

step "7. The guests write before protection"
"$asrctl" fabric workload --dir "$fab" --duration 2s --rate 50

step "8. Enable protection of VM1 and VM2 (replica VM, initial replication of every disk)"
a protect enable --vm VM1 --pki pki --point-interval 10s
a protect enable --vm VM2 --pki pki --point-interval 10s
a item list

step "9. The site service for ${seconds}s: a cycle every 30 s per VM, the guests writing"
"$asrctl" fabric workload --dir "$fab" --duration "$((seconds + 5))s" --rate 20 >workload.log 2>&1 &
workload_pid=$!
a site run --pki pki --point-interval 10s --duration "${seconds}s" | tee site.log
wait "$workload_pid" || true
workload_pid=""
cat workload.log

step "10. VM1: state, health, allowed operations, RPO; its whole-VM recovery points"
a item show VM1
a item points VM1

step "11. Restore VM1's latest point, every disk, and prove it against the guests' write log"
a --json item show VM1 >item.json
a --json item points VM1 >points.json
python3 - >restore.txt <<'PY'
import json
item = json.load(open("item.json"))
point = json.load(open("points.json"))[-1]
dirs = {d["diskId"]: d["replicaDir"] for d in item["disks"]}
for dp in point["disks"]:
    print(dp["diskId"], dirs[dp["diskId"]], dp["replicaPointId"], point["hostPointId"], point["id"])
PY
while read -r disk replica_dir replica_point host_point vm_point; do
  "$asrctl" replica restore --dir "$replica_dir" --point "$replica_point" --out "restored-$disk.vhdx"
  "$asrctl" fabric verify --dir "$fab" --vm vm1 --disk "$disk" --point "$host_point" \
    --image "restored-$disk.vhdx"
  if command -v qemu-img >/dev/null; then
    qemu-img check -q -f vhdx "restored-$disk.vhdx" && echo "  qemu-img: restored-$disk.vhdx is a sound VHDX"
  fi
  echo "  $vm_point: disk $disk holds every guest write before host point $host_point"
done <restore.txt

field() { a --json item show VM1 | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', ''))"; }
expect() {  # expect WHAT ACTUAL WANTED: stops the drill when a check fails
  if [ "$2" != "$3" ]; then echo "drill: CHECK FAILED: $1: $2 (wanted $3)" >&2; exit 1; fi
  echo "  ok: $1: $2"
}

step "12. A recovery plan over VM2: a test failover into VMNetwork2-Chicago, a script action after the group that updates DNS with the test VM's address, cleanup"
cat >"$dir/update-dns.sh" <<'SH'
#!/bin/sh
# A plan's script action: for each VM of the plan, where it runs now and
# its new address (ASR_VM_<N>_NAME / _ADDRESS; the whole context is JSON in
# ASR_RECOVERY_PLAN_CONTEXT). A real one would update the DNS server; the
# drill's DNS zone is a file of "address name" records.
zone="$(dirname "$0")/dns-zone.txt"
i=1
while [ "$i" -le "${ASR_VM_COUNT:-0}" ]; do
  eval "name=\$ASR_VM_${i}_NAME address=\$ASR_VM_${i}_ADDRESS"
  [ -n "$address" ] || { echo "no address for $name" >&2; exit 1; }
  echo "$address $name.contoso.com ($ASR_FAILOVER_TYPE of plan $ASR_RECOVERY_PLAN)" >>"$zone"
  i=$((i + 1))
done
SH
chmod +x "$dir/update-dns.sh"
a plan create drill-plan --vm VM2
a plan edit drill-plan --add-action dns --group 1 --placement End --types TestFailover \
  --directions PrimaryToRecovery --script "$dir/update-dns.sh" --location Recovery --timeout 60
a plan failover drill-plan --operation TestFailover --network-type VmNetwork --network-id vmn2-chi
record="$(tail -n 1 "$dir/dns-zone.txt" 2>/dev/null)"
case "$record" in
  172.16.2.*" VM2.contoso.com "*) echo "  ok: the plan's script action updated DNS: $record" ;;
  *) echo "drill: CHECK FAILED: the plan's script action wrote no DNS record in VMNetwork2-Chicago's subnet (got '$record')" >&2; exit 1 ;;
esac
a plan failover drill-plan --operation TestFailoverCleanup
a plan show drill-plan

step "13. Test failover of VM1 on a view of its latest point (no disk copy) while production replication goes on; cleanup"
a failover test VM1 --network Isolated --pki pki --point-interval 10s
expect "VM1 test failover" "$(field testFailoverState)" TestFailoverCompleted
a site run --pki pki --point-interval 10s --duration 15s | tail -n 2
a failover cleanup VM1
expect "VM1 test failover after cleanup" "$(field testFailoverState)" None

step "14. Planned failover of VM1 while its guest writes until the shutdown; every acknowledged write is on the recovery side"
"$asrctl" fabric workload --dir "$fab" --duration 6s --rate 50 --vm vm1 >/dev/null 2>&1 &
workload_pid=$!
sleep 2
a failover planned VM1 --pki pki --point-interval 10s
wait "$workload_pid" || true
workload_pid=""
expect "VM1 state" "$(field protectionState)" PlannedFailoverCompleted
expect "VM1 active location" "$(field activeLocation)" Recovery
a --json item show VM1 >item-failed-over.json
python3 - >failed-over.txt <<'PY'
import json
item = json.load(open("item-failed-over.json"))
for d in item["disks"]:
    print(d["diskId"], d["replicaPath"])
PY
while read -r disk replica_path; do
  "$asrctl" fabric verify --dir "$fab" --vm vm1 --disk "$disk" --latest --image "$replica_path"
  echo "  disk $disk: the failed-over VM holds every write the guest saw acknowledged"
done <failed-over.txt

step "15. Commit, reverse replication (only the blocks that differ), failback: VM1 is home and protected"
a failover commit VM1
expect "VM1 after commit" "$(field protectionState)" Committed
a reprotect VM1 --pki pki --point-interval 10s
expect "VM1 after reverse replication" "$(field protectionState)" Protected
a failback VM1 --pki pki --point-interval 10s
expect "VM1 after failback" "$(field protectionState)" Protected
expect "VM1 active location after failback" "$(field activeLocation)" Primary
a item show VM1

step "16. Disable protection of VM2 (the policy deletes its replica)"
a protect disable --vm VM2
a item list

step "17. Jobs the drill ran"
a job list

step "Summary"
python3 - <<'PY'
import json
item = json.load(open("item.json"))
points = json.load(open("points.json"))
cycles = item.get("recentCycles", [])
ok = [c for c in cycles if c.get("ok")]
print(f"VM1: {item['protectionState']}, health {item.get('replicationHealth')}, "
      f"RPO {item.get('rpoSeconds', '0')} s, {len(points)} recovery points kept, "
      f"{len(ok)} of the last {len(cycles)} cycles ok")
for c in cycles:
    print(f"  point {c.get('pointSequence', '-'):>3}: {int(c.get('bytesSent', 0))/2**20:8.2f} MiB sent "
          f"in {c.get('seconds', 0):.3f} s{'' if c.get('ok') else '  FAILED: ' + c.get('error', '')}")
PY
echo
echo "drill complete: state in $state, fabric in $fab"
