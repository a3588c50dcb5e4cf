#!/usr/bin/env bash
# Protecting a VM with asrctl as a user does it, on a simulated fabric with
# real disks: fabric, vault, servers, inventory from the host, pairing,
# policy, mappings, PKI, protect enable (the initial replication to an
# endpoint in the command's process), the site service in the foreground
# with a workload writing into the VM, the item Protected with a recovery
# point and an RPO, clean shutdown on SIGTERM, protect disable.
set -uo pipefail
# asrctl (the first argument), a temporary state, fabric and PKI, check, a, must.
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"

"$asrctl" key-provider init --key-file "$tmp/kek" >/dev/null || exit 1
export ASR_KEY_FILE="$tmp/kek"

"$asrctl" fabric init --dir "$fab" --example --disk-size 16M >/dev/null || exit 1
must init
must key generate --output "$tmp/vault.key"
must server register --credentials "$tmp/vault.key" --friendly-name vmm-ny
must server register --credentials "$tmp/vault.key" --friendly-name vmm-chi --site recovery
# The inventory comes from the fabric: no --file.
must inventory sync --server vmm-ny
must inventory sync --server vmm-ny --cloud GoldCloud1
must inventory sync --server vmm-chi
must inventory sync --server vmm-chi --cloud GoldCloud2
check "inventory from the host has VM1" grep -q '"name":"VM1"' <(a object list vm)
must cloud pair --primary GoldCloud1 --recovery GoldCloud2
must policy create --name gold --replication-provider HyperVReplica2012R2 \
  --replication-frequency-in-seconds 30 --number-of-recovery-points-to-retain 2
must policy associate --policy gold --pairing GoldCloud1
must network-map add --source vmn1-ny --target vmn1-chi
must storage-map add --source sc-gold --target sc-gold-t
"$asrctl" pki init --dir "$pki" --recovery-san 127.0.0.1 >/dev/null || exit 1

# Nothing is protected yet.
out=$(a item list)
check "item list before: none" grep -q "no protected items" <<<"$out"
a item show VM1 >"$tmp/o" 2>"$tmp/e"
check "item show of an unprotected VM fails" test $? -eq 1
check "item show says what is missing" grep -q "VM1" "$tmp/e"

# Usage errors exit 2 and name the flag.
a protect disable --force >"$tmp/o" 2>"$tmp/e"
check "disable without --item or --vm exits 2" test $? -eq 2
check "disable says which flags" grep -q -- "--item ID" "$tmp/e"
a protect onboard --vm VM2 --recovery-host hv-chi-01 >"$tmp/o" 2>"$tmp/e"
check "onboard without --replica-dir exits 2" test $? -eq 2
a site run --serve-only --replicate-only --pki "$pki" >"$tmp/o" 2>"$tmp/e"
check "site run with both --serve-only and --replicate-only exits 2" test $? -eq 2

# Guest data before protection, for the verification below to find in the replica.
"$asrctl" fabric workload --dir "$fab" --duration 1s --rate 20 --vm vm1 >/dev/null 2>&1
check "a workload before enable" test $? -eq 0
# Enable: the job completes initial replication to an endpoint in this process.
must protect enable --vm VM1 --pki "$pki" --point-interval 1s
check "enable prints its job" grep -q "Enable protection of VM1" "$tmp/out"
check "enable succeeded" grep -q "Succeeded" "$tmp/out"
out=$(a --json item show VM1)
check "after enable: Protected" grep -q '"protectionState":"Protected"' <<<"$out"
check "after enable: a replica VM" grep -q '"replicaVmId":"[^"]' <<<"$out"

# The site service with a workload writing into VM1.
"$asrctl" fabric workload --dir "$fab" --duration 6s --rate 20 --vm vm1 >"$tmp/workload" 2>&1 &
workload=$!
a site run --pki "$pki" --duration 5s --point-interval 1s >"$tmp/site" 2>"$tmp/site.err"
check "site run exits 0 after --duration" test $? -eq 0
wait "$workload"
check "workload ran" test $? -eq 0
check "site run says it runs" grep -q "site service running" "$tmp/site"
check "site run reports its totals" grep -Eq "site service stopped: [0-9]+ cycles ok, 0 failed" "$tmp/site"

out=$(a item show VM1)
check "item show: Protected" grep -q "state: Protected" <<<"$out"
check "item show: a last recovery point" grep -Eq "last recovery point: [0-9]{4}-" <<<"$out"
check "item show: an RPO" grep -Eq "RPO: [0-9]" <<<"$out"
check "item show: allowed operations" grep -q "allowed operations: .*DisableProtection" <<<"$out"
check "item show: the disk" grep -q "vm1-d0" <<<"$out"
out=$(a --json item show VM1)
check "item show --json: RPO seconds" grep -q '"rpoSeconds":"[0-9]' <<<"$out"
out=$(a --json item points VM1)
check "item points: at least one point" grep -q '"sequence":"[1-9]' <<<"$out"
out=$(a item list)
check "item list shows VM1 Protected" grep -q "VM1 .*Protected" <<<"$out"

# SIGTERM stops the site service cleanly.
"$asrctl" --state-dir "$state" --fabric "$fab" site run --pki "$pki" >"$tmp/site2" 2>"$tmp/site2.err" &
site=$!
sleep 2
kill -TERM "$site"
wait "$site"
check "site run exits 0 on SIGTERM" test $? -eq 0
check "site run says it stops" grep -q "SIGTERM: stopping the site service" "$tmp/site2"
check "site run prints its totals" grep -q "site service stopped" "$tmp/site2"

# Verify and resynchronize (damaged replicas: asr/protection/item_resync_test.cc).
must item verify VM1 --pki "$pki"
check "item verify: the replicas match" grep -q "matches what was replicated" "$tmp/out"
must --json item verify VM1 --pki "$pki"
check "item verify --json: resyncRequired false" grep -q '"resyncRequired":false' "$tmp/out"
out=$(a --json item show VM1)
check "after verify: resync state None" grep -q '"resyncState":"None"' <<<"$out"
check "after verify: a verification time" grep -q '"lastVerificationTimeUnix":"[1-9]' <<<"$out"
a item resync VM1 --pki "$pki" >"$tmp/o" 2>"$tmp/e"
check "item resync when not needed exits 1" test $? -eq 1
check "item resync when not needed names RepairReplication" grep -q "RepairReplication" "$tmp/e"
# Bit rot: one bit of guest data flipped inside the replica's file, found by
# its contents in the latest point restored.
item=$(a --json item show VM1)
replica_dir=$(grep -o '"replicaDir":"[^"]*"' <<<"$item" | head -1 | cut -d'"' -f4)
point=$(grep -o '"lastCycle":"[0-9]*"' <<<"$item" | head -1 | cut -d'"' -f4)
"$asrctl" replica restore --dir "$replica_dir" --point "$point" --out "$tmp/latest.raw" >/dev/null
check "the latest point restores" test $? -eq 0
python3 - "$tmp/latest.raw" "$replica_dir/replica.vhdx" <<'PY'
import sys
img = open(sys.argv[1], "rb").read()
rep = bytearray(open(sys.argv[2], "rb").read())
for off in range(0, len(img) - 4096, 4096):
    chunk = img[off:off + 1024]
    if chunk.count(0) == len(chunk):
        continue
    at = rep.find(chunk)
    if at >= 0 and rep.find(chunk, at + 1) < 0:
        rep[at + 100] ^= 0x04
        with open(sys.argv[2], "r+b") as f:
            f.seek(at + 100)
            f.write(bytes([rep[at + 100]]))
        sys.exit(0)
sys.exit("no guest data of the latest point found in the replica file")
PY
check "a bit of guest data flipped in the replica file" test $? -eq 0
a item verify VM1 --pki "$pki" >"$tmp/o" 2>"$tmp/e"
check "item verify of a damaged replica exits 1" test $? -eq 1
check "item verify names the differing block" grep -q "1 block of the replica differs" "$tmp/o"
check "item verify says how to resynchronize" grep -q "asrctl item resync VM1" "$tmp/e"
out=$(a --json item show VM1)
check "after verify: resyncRequired" grep -q '"resyncRequired":true' <<<"$out"
check "after verify: PreparedForResynchronization" grep -q '"resyncState":"PreparedForResynchronization"' <<<"$out"
check "after verify: health Critical" grep -q '"replicationHealth":"Critical"' <<<"$out"
check "after verify: RepairReplication allowed" grep -q '"RepairReplication"' <<<"$out"
out=$(a item show VM1)
check "item show: the ResyncRequired error" grep -q "ResyncRequired" <<<"$out"
check "item show: the resync state" grep -q "resync: PreparedForResynchronization" <<<"$out"
must --json item resync VM1 --pki "$pki"
check "item resync: resynchronized" grep -q '"resynchronized":true' "$tmp/out"
out=$(a --json item show VM1)
check "after resync: ResynchronizationCompleted" grep -q '"resynchronizationState":"ResynchronizationCompleted"' <<<"$out"
check "after resync: resync state None" grep -q '"resyncState":"None"' <<<"$out"
must item verify VM1 --pki "$pki"
check "after resync: the replicas match" grep -q "matches what was replicated" "$tmp/out"
must policy update --name gold --auto-resynchronize Enable \
  --auto-resynchronize-interval-start 22:00 --auto-resynchronize-interval-end 04:00
a policy update --name gold --auto-resynchronize-interval-start 25:00 \
  --auto-resynchronize-interval-end 04:00 >"$tmp/o" 2>"$tmp/e"
check "a window bound that is not HH:MM is refused" grep -q "'25:00'" "$tmp/e"

# Disable.
must protect disable --vm VM1 --pki "$pki"
check "disable succeeded" grep -q "Succeeded" "$tmp/out"
out=$(a item list)
check "item list after disable: none" grep -q "no protected items" <<<"$out"

echo "$passes passed, $fails failed"
test "$fails" -eq 0
