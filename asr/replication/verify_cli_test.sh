#!/usr/bin/env bash
# Verification end to end through asrctl over loopback mutual TLS: a clean
# `replica verify`, bit rot in the replica's data file found (exit 1, reason
# on stderr, DISK.asrresync written) and repaired by the next scan cycle,
# `replicate --verify-every N` / `--verify-interval D` verifying on the
# cycle's own connection when due, and a write into the source that the
# change tracker never saw.
set -euo pipefail
ASRCTL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "${TEST_TMPDIR:?}"
rm -rf verify && mkdir verify && cd verify

fail() { echo "FAIL: $*" >&2; [ -f serve.log ] && sed 's/^/  serve: /' serve.log >&2; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

"$ASRCTL" pki init --dir pki >/dev/null
"$ASRCTL" disk create --format vhdx --type dynamic --size 24M --block-size 1M vm.vhdx >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 0 --length 3M --seed 1 >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 1M --length 64K --seed 9 >/dev/null

"$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file port --dir replica --pki pki \
  --writer primary-host >serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "receiver did not start"
TO="127.0.0.1:$(cat port)"
rep() { "$ASRCTL" replicate --to "$TO" --pki pki --receiver-name recovery-host --json "$@"; }
verify() { "$ASRCTL" replica verify --to "$TO" --pki pki --receiver-name recovery-host --disk vm.vhdx "$@"; }

out=$(rep --disk vm.vhdx --mode initial) || fail "initial: $out"

# 1: an untouched replica
out=$(verify --json) || fail "clean verify: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 1 ] || fail "point: $out"
[ "$(echo "$out" | json_field "['blocksChecked']")" = 384 ] || fail "blocks: $out"
[ "$(echo "$out" | json_field "['replicaMismatches']")" = 0 ] || fail "replica: $out"
[ "$(echo "$out" | json_field "['sourceMismatches']")" = 0 ] || fail "source: $out"
[ "$(echo "$out" | json_field "['resyncRequired']")" = False ] || fail "resync: $out"
human=$(verify) || fail "clean verify (text): $human"
echo "$human" | grep -q "matches what was sent" || fail "text: $human"

# 2: bit rot in the replica's data file: block 16 (offset 1 MiB), found by
# its contents (asrctl tracker write's generator, seed 9)
python3 - replica/replica.vhdx <<'PY'
import sys
x = (9 * 0x9E3779B97F4A7C15 + 1) % 2**64
data = bytearray()
for _ in range(16384):
    x ^= (x << 13) % 2**64; x ^= x >> 7; x ^= (x << 17) % 2**64
    data.append(ord('a') + (x & 15))
path = sys.argv[1]
blob = bytearray(open(path, 'rb').read())
at, n = blob.find(data), 0
while at >= 0:
    blob[at + 100] ^= 0x10
    n += 1
    at = blob.find(data, at + 1)
assert n > 0, "block 16 not found in the replica file"
open(path, 'wb').write(blob)
PY
if out=$(verify --json 2>err); then fail "bit rot not found: $out"; fi
[ "$(echo "$out" | json_field "['replicaMismatches']")" = 1 ] || fail "rot count: $out"
[ "$(echo "$out" | json_field "['replicaMismatchBlocks'][0]")" = 16 ] || fail "rot block: $out"
[ "$(echo "$out" | json_field "['resyncRequired']")" = True ] || fail "rot resync: $out"
grep -q "block 16 at offset 1048576): resynchronization required" err || fail "stderr: $(cat err)"
grep -q "^reason 1 block of the replica differs" vm.vhdx.asrresync || fail "marker"

# 3: the next scan resends the block, and --verify-every 1 verifies it clean
out=$(rep --disk vm.vhdx --mode scan --verify-every 1) || fail "scan + verify: $out"
[ "$(echo "$out" | json_field "['blocksSent']")" = 1 ] || fail "repair blocks: $out"
[ "$(echo "$out" | json_field "['verification']['pointId']")" = 2 ] || fail "verified: $out"
[ "$(echo "$out" | json_field "['verification']['resyncRequired']")" = False ] ||
  fail "still resync: $out"
[ ! -e vm.vhdx.asrresync ] || fail "marker not cleared"
"$ASRCTL" replica restore --dir replica --point 2 --out r2.vhdx >/dev/null
"$ASRCTL" disk compare r2.vhdx vm.vhdx >/dev/null || fail "restored point differs"
if command -v qemu-img >/dev/null 2>&1; then
  qemu-img compare -q r2.vhdx vm.vhdx || fail "qemu-img compare"
fi

# 4: the schedule: every 3 cycles is not due one cycle later; 1s is, 1s later
"$ASRCTL" tracker write --disk vm.vhdx --offset 5M --length 4K --seed 3 >/dev/null
out=$(rep --disk vm.vhdx --mode tracked --verify-every 3) || fail "tracked: $out"
echo "$out" | json_field "['cycle']" >/dev/null
[ "$(echo "$out" | python3 -c "import json,sys; print('verification' in json.load(sys.stdin))")" = False ] ||
  fail "verified although not due: $out"
sleep 1.1
out=$(rep --disk vm.vhdx --mode tracked --verify-interval 1s) || fail "interval: $out"
[ "$(echo "$out" | json_field "['verification']['pointId']")" = 4 ] || fail "interval: $out"

# 5: a write the tracker never saw (qemu-io, when present) is a source mismatch
if command -v qemu-io >/dev/null 2>&1; then
  qemu-io -f vhdx -c "write -P 0x42 2M 64k" vm.vhdx >/dev/null
  if out=$(verify --json 2>err); then fail "untracked write not found: $out"; fi
  [ "$(echo "$out" | json_field "['sourceMismatches']")" = 1 ] || fail "source: $out"
  [ "$(echo "$out" | json_field "['sourceMismatchBlocks'][0]")" = 32 ] || fail "block: $out"
  grep -q "without the change tracker knowing" err || fail "stderr: $(cat err)"
  out=$(rep --disk vm.vhdx --mode scan --verify-every 1) || fail "repair: $out"
  [ "$(echo "$out" | json_field "['verification']['resyncRequired']")" = False ] ||
    fail "not repaired: $out"
fi

# Refusals: no replication state
"$ASRCTL" disk create --format vhdx --type dynamic --size 8M fresh.vhdx >/dev/null
"$ASRCTL" replica verify --to "$TO" --pki pki --receiver-name recovery-host --disk fresh.vhdx 2>err && fail "no state accepted"
grep -q "run an initial replication first" err || fail "no state message: $(cat err)"
echo PASS
