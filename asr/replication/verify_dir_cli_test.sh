#!/usr/bin/env bash
# `asrctl replica verify --dir` on the recovery host, while the receiver
# holds the directory: a clean replica with two points matches its manifest
# (exit 0), its older point too; bit rot in replica.vhdx is found at its
# block (exit 1, the offset reported); bad input (no replica directory, an
# unknown point, --dir with --to) exits 2.
set -euo pipefail
ASRCTL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "${TEST_TMPDIR:?}"
rm -rf verifydir && mkdir verifydir && cd verifydir

fail() { echo "FAIL: $*" >&2; [ -f serve.log ] && sed 's/^/  serve: /' serve.log >&2; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

"$ASRCTL" pki init --dir pki >/dev/null
"$ASRCTL" disk create --format vhdx --type dynamic --size 24M --block-size 1M vm.vhdx >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 0 --length 3M --seed 1 >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 1M --length 64K --seed 9 >/dev/null

"$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file port --dir replica --pki pki \
  --writer primary-host --additional-points 2 --point-interval 0s >serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "receiver did not start"
TO="127.0.0.1:$(cat port)"
rep() { "$ASRCTL" replicate --to "$TO" --pki pki --receiver-name recovery-host --json "$@"; }

out=$(rep --disk vm.vhdx --mode initial) || fail "initial: $out"
"$ASRCTL" tracker write --disk vm.vhdx --offset 8M --length 128K --seed 4 >/dev/null
out=$(rep --disk vm.vhdx --mode scan) || fail "second cycle: $out"

# 1: clean, while the receiver runs
out=$("$ASRCTL" replica verify --dir replica --json) || fail "clean verify: $out"
[ "$(echo "$out" | json_field "['point']")" = 2 ] || fail "point: $out"
[ "$(echo "$out" | json_field "['manifestRecorded']")" = True ] || fail "manifest: $out"
[ "$(echo "$out" | json_field "['blocks']")" = 384 ] || fail "blocks: $out"
[ "$(echo "$out" | json_field "['mismatchedBlocks']")" = 0 ] || fail "mismatches: $out"
human=$("$ASRCTL" replica verify --dir replica --point 2) || fail "text: $human"
echo "$human" | grep -q "all 384 blocks match the manifest" || fail "text: $human"
out=$("$ASRCTL" replica verify --dir replica --point 1 --json) || fail "older point: $out"
[ "$(echo "$out" | json_field "['point']")" = 1 ] || fail "older point: $out"
[ "$(echo "$out" | json_field "['mismatchedBlocks']")" = 0 ] || fail "older point: $out"

# 2: bad input exits 2
set +e
"$ASRCTL" replica verify --dir replica --point 9 >/dev/null 2>err; rc=$?
[ $rc = 2 ] || fail "unknown point: rc $rc $(cat err)"
"$ASRCTL" replica verify --dir nowhere >/dev/null 2>err; rc=$?
[ $rc = 2 ] || fail "no directory: rc $rc $(cat err)"
"$ASRCTL" replica verify --dir replica --to "$TO" --disk vm.vhdx >/dev/null 2>err; rc=$?
[ $rc = 2 ] || fail "--dir with --to: rc $rc $(cat err)"
set -e

# 3: bit rot in block 16 (offset 1 MiB), found by its contents (asrctl
# tracker write's generator, seed 9)
python3 - replica/replica.vhdx <<'PY'
import sys
x = (9 * 0x9E3779B97F4A7C15 + 1) % 2**64
data = bytearray()
for _ in range(16384):
    x ^= (x << 13) % 2**64; x ^= x >> 7; x ^= (x << 17) % 2**64
    data.append(ord('a') + (x & 15))
path = sys.argv[1]
blob = bytearray(open(path, 'rb').read())
at = blob.find(data)
assert at >= 0, "block 16 not found in the replica file"
blob[at + 100] ^= 0x10
open(path, 'wb').write(blob)
PY
set +e
out=$("$ASRCTL" replica verify --dir replica --json 2>err); rc=$?
set -e
[ $rc = 1 ] || fail "bit rot: rc $rc $out $(cat err)"
[ "$(echo "$out" | json_field "['mismatchedBlocks']")" = 1 ] || fail "bit rot count: $out"
[ "$(echo "$out" | json_field "['firstMismatches'][0]")" = 1048576 ] || fail "bit rot offset: $out"
echo PASS
