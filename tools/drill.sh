#!/usr/bin/env bash
# The main job: a disaster-recovery drill on the embedded default — two sites
# (New York primary, Chicago recovery) in a local state directory, and a VM
# disk replicated over loopback mutual TLS. Installs what is missing and
# builds asrctl first. Everything goes to .drill/ (or $ASR_DRILL_DIR).
#
#   tools/drill.sh            # the whole drill, ~1 minute after the build
#   ASR_DRILL_DISK=1G tools/drill.sh
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
disk_size="${ASR_DRILL_DISK:-256M}"
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
state="$dir/state"
# The key-encryption key that wraps the vault's keys: a 0600 file beside the
# state directory, never inside it.
kek="$dir/keys/vault.kek"
a() { "$asrctl" --state-dir "$state" --key-file "$kek" "$@"; }
step() { printf '\n== %s\n' "$*"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

step "1. Two sites and a vault in $state (its keys wrapped by $kek)"
mkdir -p -m 0700 "$dir/keys"
"$asrctl" key-provider init --key-file "$kek"
a init

step "2. Register the VMM servers with a registration key (valid 5 days)"
a key generate --output vault.key
a server register --credentials vault.key --friendly-name vmm-ny --site primary --sync-all-clouds
a server register --credentials vault.key --friendly-name vmm-chi --site recovery --sync-all-clouds

step "3. Sync inventory (clouds, hosts, VMs, networks, storage)"
a inventory sync --server vmm-ny --file "$root/tools/drill/inventory-newyork.json"
a inventory sync --server vmm-chi --file "$root/tools/drill/inventory-chicago.json"

step "4. Pair GoldCloud1 (New York) with GoldCloud2 (Chicago) and protect it with a policy"
a cloud pair --primary GoldCloud1 --recovery GoldCloud2
a policy create --name gold-policy --replication-provider HyperVReplica2012R2 \
  --replication-frequency-in-seconds 300 --number-of-recovery-points-to-retain 4 \
  --application-consistent-snapshot-frequency-in-hours 1 --compression Enable \
  --authentication Certificate --replication-port 8084 --replication-method Online \
  --replica-deletion Required
a policy associate --policy gold-policy --pairing GoldCloud1

step "5. Map networks and storage; where would VM1's replica go?"
a network-map add --source VMNetwork1-NewYork --target VMNetwork1-Chicago
a storage-map add --source GOLD --target GOLD_TARGET
a placement show --vm VM1

step "6. Certificate authority for the vault (its key wrapped by the key file); hosts' certificates"
"$asrctl" --key-file "$kek" pki init --dir pki --primary-name hv-ny-01.contoso.com \
  --recovery-name hv-chi-01.contoso.com

step "7. VM1's disk ($disk_size dynamic VHDX) with a guest's first writes"
"$asrctl" disk create --format vhdx --type dynamic --size "$disk_size" VM1.vhdx
# Guest writes go through the change tracker, as the host would report them.
for i in 0 1 2 3 4 5 6 7; do
  "$asrctl" tracker write --disk VM1.vhdx --offset "$((i * 24))M" --length 4M --seed "$((100 + i))" >/dev/null
done
"$asrctl" disk info VM1.vhdx

step "8. Recovery host: receiver on loopback (mutual TLS 1.3)"
"$asrctl" replica serve --listen 127.0.0.1:0 --port-file port --dir replica --pki pki \
  --writer hv-ny-01.contoso.com --additional-points 4 --point-interval 0s >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { cat serve.log >&2; echo "drill: receiver did not start" >&2; exit 1; }
to="127.0.0.1:$(cat port)"
echo "receiver (pid $server_pid) listening on $to"

: >cycles.jsonl
cycle() {  # cycle MODE [--app-consistent]
  local out
  out=$("$asrctl" replicate --to "$to" --pki pki --receiver-name hv-chi-01.contoso.com \
    --disk VM1.vhdx --mode "$@" --json)
  echo "$out" >>cycles.jsonl
  echo "$out" | json '"  point %d (%s): read %.1f MiB, changed %.1f MiB, sent %.2f MiB, ratio %.2f, %.3f s" % (int(d["pointId"]), d["modeUsed"], int(d["bytesRead"])/2**20, int(d["bytesChanged"])/2**20, int(d["bytesSent"])/2**20, d["compressionRatio"], d["seconds"])'
  cp VM1.vhdx "source-at-point-$(echo "$out" | json 'd["pointId"]').vhdx"
}

step "9. Initial replication"
cycle initial

step "10. Delta cycles with guest writes in between"
"$asrctl" tracker write --disk VM1.vhdx --offset 10M --length 640K --seed 201 >/dev/null
"$asrctl" tracker write --disk VM1.vhdx --offset 150M --length 64K --seed 202 >/dev/null
cycle tracked
"$asrctl" tracker write --disk VM1.vhdx --offset 40M --length 2M --seed 203 >/dev/null
cycle tracked --app-consistent
"$asrctl" tracker write --disk VM1.vhdx --offset 90M --length 1M --seed 204 >/dev/null
cycle scan

step "11. Recovery points on the recovery host"
"$asrctl" replica points --dir replica
latest=$("$asrctl" replica points --dir replica --json | json 'd[-1]["id"]')
older=$("$asrctl" replica points --dir replica --json | json 'd[1]["id"]')

step "12. Restore the latest point ($latest) and an older one ($older); verify both"
for p in "$latest" "$older"; do
  "$asrctl" replica restore --dir replica --point "$p" --out "restored-$p.vhdx"
  "$asrctl" disk compare "restored-$p.vhdx" "source-at-point-$p.vhdx"
  if command -v qemu-img >/dev/null; then
    qemu-img compare -q -f vhdx -F vhdx "restored-$p.vhdx" "source-at-point-$p.vhdx"
    echo "  qemu-img agrees: point $p is identical to the source as it was"
  fi
done

step "13. Jobs the drill ran"
a job list

step "Summary"
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("cycles.jsonl")]
for d in rows:  # 64-bit counts are strings in the proto3 JSON mapping
    for k in ("pointId", "bytesChanged", "bytesSent"):
        d[k] = int(d[k])
print(f"{'point':>5} {'mode':<9} {'changed MiB':>11} {'sent MiB':>9} {'ratio':>6} {'seconds':>8}")
for d in rows:
    print(f"{d['pointId']:>5} {d['modeUsed']:<9} {d['bytesChanged']/2**20:>11.2f} "
          f"{d['bytesSent']/2**20:>9.2f} {d['compressionRatio']:>6.2f} {d['seconds']:>8.3f}")
changed = sum(d["bytesChanged"] for d in rows)
sent = sum(d["bytesSent"] for d in rows)
print(f"total: {changed/2**20:.2f} MiB changed, {sent/2**20:.2f} MiB sent "
      f"(overall ratio {changed/max(sent,1):.2f}), {len(rows)} cycles, "
      f"{sum(d['seconds'] for d in rows):.2f} s replicating")
PY
echo
echo "drill complete: state in $state, replica in $dir/replica"
