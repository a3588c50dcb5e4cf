#!/usr/bin/env bash
# A user's QEMU VM protected and failed over with asrctl, one process per
# command: `qemu vm start` starts VM1 (two VHDX disks, the test guest) and
# exits while the VM runs on; protection, the site service and a planned
# failover (other processes) find it, shut it down cleanly and boot its
# replica, whose guest reports every record it wrote.
# Arguments: asrctl, the guest's vmlinuz, initrd.gz and cmdline.
set -uo pipefail
kernel="$(realpath "$2")"
initrd="$(realpath "$3")"
cmdline="$(cat "$4")"
TEST_TMPDIR="$(realpath "${TEST_TMPDIR:-$(mktemp -d)}")"
qemu_host="$TEST_TMPDIR/qemu-host"
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
host="$qemu_host"
# No VM outlives the test.
cleanup() {
  for vm in vm1 vm1-replica; do a qemu vm turn-off "$vm" >/dev/null 2>&1; done
}
trap cleanup EXIT

mkdir -p "$host/disks" "$tmp/chi/replicas" "$tmp/chi/volume1" "$tmp/ny/volume1"
"$asrctl" disk create --format vhdx --type dynamic --size 64M --block-size 2M \
  "$host/disks/vm1-d0.vhdx" >/dev/null || exit 1
"$asrctl" disk create --format vhdx --type dynamic --size 32M --block-size 2M \
  "$host/disks/vm1-d1.vhdx" >/dev/null || exit 1
# Two VMM servers in one directory: New York runs VM1, Chicago receives it.
site() {  # site SERVER HOST CLOUD HOSTGROUP NETWORK LOGICAL CLASS TARGET DIR VMS
  cat <<EOF
{"serverId": "$1",
 "clouds": [{"id": "$3", "name": "$3", "capabilityProfiles": ["Hyper-V"], "hostGroupIds": ["$4"],
             "logicalNetworkIds": ["$6"], "storageClassificationIds": ["$7"]}],
 "hostGroups": [{"id": "$4", "name": "$4"}],
 "hosts": [{"id": "$2", "name": "$2", "hostGroupId": "$4", "osVersion": "WINDOWS_SERVER_2012_R2",
            "defaultStoragePath": "$9/replicas",
            "defaultStorageFreeBytes": "100000000000", "logicalNetworkIds": ["$6"],
            "storageTargetIds": ["$8"]}],
 "vmNetworks": [{"id": "$5", "name": "$5", "logicalNetworkId": "$6",
                 "subnets": [{"name": "Subnet1", "addressPrefix": "10.1.1.0/24"}]}],
 "logicalNetworks": [{"id": "$6", "name": "$6"}],
 "storageClassifications": [{"id": "$7", "name": "$7", "targets": [{"id": "$8", "name": "$8",
   "path": "$9/volume1", "type": "CLUSTER_SHARED_VOLUME", "capacityBytes": "100000000000",
   "freeBytes": "100000000000"}]}],
 "virtualMachines": [${10}]}
EOF
}
vm1='{"id": "vm1", "name": "VM1", "cloudId": "gold1", "hostId": "kvm-ny",
  "disks": [{"id": "vm1-d0", "name": "vm1-d0.vhdx", "path": "disks/vm1-d0.vhdx", "sizeBytes": "67108864",
             "storageTargetId": "vol-ny", "isOsDisk": true},
            {"id": "vm1-d1", "name": "vm1-d1.vhdx", "path": "disks/vm1-d1.vhdx", "sizeBytes": "33554432",
             "storageTargetId": "vol-ny"}],
  "networkAdapters": [{"id": "vm1-nic0", "vmNetworkId": "net-ny", "subnetName": "Subnet1",
                       "macAddress": "52:54:00:12:34:56"}]}'
cat >"$host/config.json" <<EOF
{"servers": [
   $(site vmm-ny kvm-ny gold1 hg-ny net-ny ln-ny GOLD vol-ny "$tmp/ny" "$vm1"),
   $(site vmm-chi kvm-chi gold2 hg-chi net-chi ln-chi GOLD_TARGET vol-chi "$tmp/chi" "")],
 "vms": [{"vmId": "vm1", "boot": {"kernel": "$kernel", "initrd": "$initrd",
                                  "append": "$cmdline asr.interval_ms=200"}}],
 "defaultBoot": {"kernel": "$kernel", "initrd": "$initrd", "append": "$cmdline asr.records=1"},
 "shutdownTimeoutSeconds": 120}
EOF

# The user's VM runs before asr protects it; this asrctl exits, the VM runs on.
must qemu vm start vm1
check "start says the VM runs on" grep -q "runs on after this command" "$tmp/out"
must qemu vm list --json
check "another process finds VM1 running" grep -q '"vmId":"vm1"[^}]*"powerState":"RUNNING"' "$tmp/out"
must qemu vm serial vm1 --wait "ASR-WROTE 3" --timeout 4m

primary_cloud=gold1 recovery_cloud=gold2 primary_network=net-ny recovery_network=net-chi \
  primary_storage=GOLD recovery_storage=GOLD_TARGET make_two_sites

must protect enable --vm VM1 --pki "$pki" --point-interval 1s
check "VM1 is protected" grep -q '"protectionState":"Protected"' <(a --json item show VM1)
# The policy replicates every 30 s: the first cycle comes within 35 s.
must site run --pki "$pki" --duration 35s --point-interval 1s
check "the site service replicated VM1: $(tail -3 "$tmp/out")" grep -Eq "site service stopped: [1-9][0-9]* cycles ok, 0 failed" "$tmp/out"

# Planned failover in yet another process: the VM started by the first one
# is shut down through its guest, the last changes go, the replica boots.
must failover planned VM1 --pki "$pki" --point-interval 1s
check "planned failover completed" grep -q '"protectionState":"PlannedFailoverCompleted"' <(a --json item show VM1)
must qemu vm serial vm1 --wait "ASR-SHUTDOWN" --timeout 10s
last=$(sed -n 's/.*ASR-SHUTDOWN clean last=\([0-9]*\).*/\1/p' "$tmp/out")
check "VM1 shut down cleanly after writing records" test "${last:-0}" -ge 3
must qemu vm list
check "VM1 is stopped" grep -q "^vm1 (VM1): stopped, last run powered off" "$tmp/out"
must qemu vm serial vm1-replica --wait "ASR-VERDICT" --timeout 4m
check "the replica holds every record up to $last: $(cat "$tmp/out")" \
  grep -q "ASR-VERDICT ok records=$last last=$last disks=2 torn=0" "$tmp/out"

echo "qemu_cli_test: $passes passed, $fails failed"
test "$fails" -eq 0
