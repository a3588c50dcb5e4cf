#!/usr/bin/env bash
# End to end through asrctl over loopback mutual TLS: pki init, a receiver,
# initial / tracked / scan / differencing cycles, recovery points, restores
# compared with the source as it was (qemu-img compare and asrctl disk
# compare), and the refusals: Kerberos, a foreign CA, a plain TCP client.
set -euo pipefail
ASRCTL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "${TEST_TMPDIR:?}"
rm -rf cli && mkdir cli && cd cli

fail() { echo "FAIL: $*" >&2; [ -f serve.log ] && sed 's/^/  serve: /' serve.log >&2; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
have_qemu() { command -v qemu-img >/dev/null 2>&1; }
same() {  # same A B: both the asr compare and (when present) qemu-img
  "$ASRCTL" disk compare "$1" "$2" >/dev/null || fail "asrctl disk compare $1 $2"
  if have_qemu && [ "${3:-}" != asr-only ]; then
    qemu-img compare -q "$1" "$2" || fail "qemu-img compare $1 $2"
  fi
}

"$ASRCTL" pki init --dir pki >/dev/null
"$ASRCTL" disk create --format vhdx --type dynamic --size 24M --block-size 1M vm.vhdx >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 0 --length 3M --seed 1 >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 20M --length 100K --seed 2 >/dev/null

"$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file port --dir replica --pki pki \
  --writer primary-host --additional-points 6 --point-interval 0s >serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "receiver did not start"
TO="127.0.0.1:$(cat port)"
rep() { "$ASRCTL" replicate --to "$TO" --pki pki --receiver-name recovery-host --json "$@"; }

# 1: initial
out=$(rep --disk vm.vhdx --mode initial) || fail "initial: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 1 ] || fail "initial point: $out"
ratio=$(echo "$out" | json_field "['compressionRatio']")
python3 -c "import sys; sys.exit(0 if $ratio > 1.3 else 1)" || fail "not compressed: $out"
cp vm.vhdx p1.vhdx

# 2: tracked — only the recorded blocks are read
"$ASRCTL" tracker write --disk vm.vhdx --offset 5M --length 200K --seed 3 >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 1M --length 10 --seed 4 >/dev/null
out=$(rep --disk vm.vhdx --mode tracked --app-consistent) || fail "tracked: $out"
[ "$(echo "$out" | json_field "['modeUsed']")" = tracked ] || fail "tracked mode: $out"
[ "$(echo "$out" | json_field "['bytesRead']")" = $((5 * 65536)) ] || fail "tracked read: $out"
cp vm.vhdx p2.vhdx

# 3: scan
"$ASRCTL" tracker write --disk vm.vhdx --offset 12M --length 64K --seed 5 >/dev/null
out=$(rep --disk vm.vhdx --mode scan) || fail "scan: $out"
[ "$(echo "$out" | json_field "['blocksSent']")" = 1 ] || fail "scan blocks: $out"
cp vm.vhdx p3.vhdx

# 4: differencing — a child over the replicated disk
"$ASRCTL" disk create --format vhdx --type differencing --parent vm.vhdx child.vhdx >/dev/null
"$ASRCTL" tracker write --disk child.vhdx --offset 16M --length 128K --seed 6 >/dev/null
out=$(rep --disk child.vhdx --mode differencing) || fail "differencing: $out"
[ "$(echo "$out" | json_field "['blocksSent']")" = 2 ] || fail "differencing blocks: $out"

# Points and restores
pts=$("$ASRCTL" replica points --dir replica --json)
[ "$(echo "$pts" | json_field "[-1]['id']")" = 4 ] || fail "points: $pts"
[ "$(echo "$pts" | json_field "[1]['consistency']")" = app ] || fail "consistency: $pts"
for p in 1 2 3; do
  "$ASRCTL" replica restore --dir replica --point $p --out r$p.vhdx >/dev/null
  same r$p.vhdx p$p.vhdx
done
"$ASRCTL" replica restore --dir replica --point 4 --out r4.vhdx >/dev/null
same r4.vhdx child.vhdx asr-only   # qemu-img does not open VHDX differencing chains
have_qemu && { qemu-img compare -q -f vhdx replica/replica.vhdx r4.vhdx || fail "replica vs r4"; }
"$ASRCTL" replica restore --dir replica --point 9 --out r9.vhdx 2>err && fail "unknown point"
grep -q "not kept" err || fail "unknown point message: $(cat err)"

# Refusals
"$ASRCTL" replicate --to "$TO" --pki pki --disk vm.vhdx --mode scan \
  --authentication Kerberos 2>err && fail "Kerberos accepted"
grep -q "Kerberos" err || fail "Kerberos message: $(cat err)"

# The recovery host's own certificate is from the same CA, but not the writer.
"$ASRCTL" replicate --to "$TO" --cert pki/recovery.pem --key pki/recovery.key --ca pki/ca.pem \
  --receiver-name recovery-host --disk vm.vhdx --mode scan 2>err && fail "recovery host's certificate accepted as a writer"
grep -q "CN=recovery-host is not authorized" err || fail "writer refusal message: $(cat err)"
# A receiver for a new replica needs a named writer.
"$ASRCTL" replica serve --listen 127.0.0.1:0 --dir replica-nowriter --pki pki --once 2>err &&
  fail "receiver without --writer started"
grep -q -- "--writer HOST" err || fail "no-writer message: $(cat err)"

"$ASRCTL" pki init --dir other >/dev/null
"$ASRCTL" replicate --to "$TO" --pki other --receiver-name recovery-host --disk vm.vhdx --mode scan 2>err && fail "foreign CA"
grep -qi "certificate" err || fail "foreign CA message: $(cat err)"

python3 - "$(cat port)" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"HELLO plain tcp\r\n\r\n")
s.settimeout(15)
try:
    s.recv(100)
except Exception:
    pass
s.close()
PY
for _ in $(seq 50); do grep -q "plain TCP" serve.log && break; sleep 0.1; done
grep -q "plain TCP" serve.log || fail "plain TCP client not reported"

# The receiver still works after the refusals.
"$ASRCTL" tracker write --disk vm.vhdx --offset 3M --length 64K --seed 7 >/dev/null
rm -f child.vhdx.asrrepl  # back to replicating the base disk... which is now behind
out=$(rep --disk vm.vhdx --mode scan 2>&1) && fail "stale base accepted: $out"
echo "$out" | grep -q "initial replication" || fail "stale base message: $out"
# Writes the tracker never heard of (the DataWriteGuid of a VHDX written by
# qemu-io, here): the tracked cycle scans, says why, and the point is right.
if command -v qemu-io >/dev/null 2>&1; then
  kill $SERVER 2>/dev/null || true
  wait $SERVER 2>/dev/null || true
  rm -f port
  "$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file port --dir replica2 --pki pki \
    --writer primary-host --additional-points 4 --point-interval 0s >serve.log 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  [ -s port ] || fail "second receiver did not start"
  TO="127.0.0.1:$(cat port)"
  "$ASRCTL" disk create --format vhdx --type dynamic --size 8M vm2.vhdx >/dev/null
  "$ASRCTL" tracker write --disk vm2.vhdx --offset 0 --length 2M --seed 8 >/dev/null
  rep --disk vm2.vhdx --mode initial >/dev/null || fail "vm2 initial"
  "$ASRCTL" tracker write --disk vm2.vhdx --offset 3M --length 64K --seed 9 >/dev/null
  out=$(rep --disk vm2.vhdx --mode tracked) || fail "vm2 tracked: $out"
  [ "$(echo "$out" | json_field "['modeUsed']")" = tracked ] || fail "vm2 tracked mode: $out"
  qemu-io -f vhdx -c "write -P 0x42 1M 64k" vm2.vhdx >/dev/null
  "$ASRCTL" tracker status --disk vm2.vhdx --json >status.json
  [ "$(json_field "['needsScan']" <status.json)" = True ] || fail "status: $(cat status.json)"
  rep --disk vm2.vhdx --mode tracked --tracked-only 2>err && fail "tracked-only accepted"
  grep -q "DataWriteGuid" err || fail "tracked-only message: $(cat err)"
  out=$(rep --disk vm2.vhdx --mode tracked) || fail "vm2 fallback: $out"
  [ "$(echo "$out" | json_field "['modeUsed']")" = scan ] || fail "no fallback: $out"
  echo "$out" | json_field "['fallbackReason']" | grep -q "DataWriteGuid" || fail "reason: $out"
  [ "$(echo "$out" | json_field "['bytesChanged']")" -gt 0 ] || fail "nothing sent: $out"
  point=$(echo "$out" | json_field "['pointId']")
  "$ASRCTL" replica restore --dir replica2 --point "$point" --out r-outside.vhdx >/dev/null
  same r-outside.vhdx vm2.vhdx
  # Human output says it too.
  qemu-io -f vhdx -c "write -P 0x43 5M 4k" vm2.vhdx >/dev/null
  "$ASRCTL" replicate --to "$TO" --pki pki --receiver-name recovery-host --disk vm2.vhdx --mode tracked >out.txt 2>err \
    || fail "vm2 human: $(cat err)"
  grep -q "scanned the disk instead" err || fail "human fallback message: $(cat err)"
  grep -q "(scan cycle" out.txt || fail "human mode: $(cat out.txt)"
fi
# Offline initial replication: a package exported, carried, imported; then
# deltas over TLS to a receiver of the imported replica.
"$ASRCTL" disk create --format vhdx --type dynamic --size 8M vm3.vhdx >/dev/null
"$ASRCTL" tracker write --disk vm3.vhdx --offset 0 --length 2M --seed 10 >/dev/null
out=$("$ASRCTL" replicate --mode offline-export --disk vm3.vhdx --export pkg --part-size 512K \
  --json) || fail "offline export: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 1 ] || fail "offline export point: $out"
[ -f pkg/manifest.json ] && [ -f pkg/part-0002.asrpkg ] || fail "package files: $(ls pkg)"
cp -r pkg pkg-bad
python3 -c "
import sys
p = 'pkg-bad/part-0002.asrpkg'
b = bytearray(open(p, 'rb').read()); b[1000] ^= 0x5a; open(p, 'wb').write(b)"
"$ASRCTL" replica import --dir replica-bad --package pkg-bad --writer primary-host 2>err &&
  fail "tampered package imported"
grep -q "part-0002.asrpkg is damaged" err || fail "tampered package message: $(cat err)"
out=$("$ASRCTL" replica import --dir replica3 --package pkg --writer primary-host --json) ||
  fail "offline import: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 1 ] || fail "offline import point: $out"
"$ASRCTL" replica import --dir replica3 --package pkg --writer primary-host 2>err &&
  fail "second import accepted"
grep -q "already holds a replica" err || fail "second import message: $(cat err)"
# The import recorded the writer: the receiver needs no --writer.
"$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file port3 --dir replica3 --pki pki \
  --additional-points 2 --point-interval 0s >serve3.log 2>&1 &
SERVER3=$!
trap 'kill $SERVER $SERVER3 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port3 ] && break; sleep 0.1; done
[ -s port3 ] || fail "receiver of the imported replica did not start: $(cat serve3.log)"
"$ASRCTL" tracker write --disk vm3.vhdx --offset 5M --length 64K --seed 11 >/dev/null
out=$("$ASRCTL" replicate --to "127.0.0.1:$(cat port3)" --pki pki --receiver-name recovery-host \
  --json --disk vm3.vhdx --mode tracked) || fail "delta after import: $out"
[ "$(echo "$out" | json_field "['modeUsed']")" = tracked ] || fail "delta mode: $out"
[ "$(echo "$out" | json_field "['blocksSent']")" = 1 ] || fail "delta blocks: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 2 ] || fail "delta point: $out"
"$ASRCTL" replica restore --dir replica3 --point 2 --out r-offline.vhdx >/dev/null
same r-offline.vhdx vm3.vhdx
kill $SERVER3 2>/dev/null || true
echo PASS
