#!/usr/bin/env bash
# Who the sender talks to and revocation, end to end through asrctl over
# loopback mutual TLS: a primary's certificate posing as the receiver is
# refused, the default check by the --to address, a revoked primary refused
# by the receiver while another host keeps replicating, a revocation list
# from another CA refused, and `replica serve` ending cleanly on SIGTERM.
set -euo pipefail
ASRCTL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "${TEST_TMPDIR:?}"
rm -rf transport && mkdir transport && cd transport

fail() { echo "FAIL: $*" >&2; [ -f serve.log ] && sed 's/^/  serve: /' serve.log >&2; exit 1; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
serve() {  # serve PORTFILE LOG ARGS...: starts a receiver, waits for its port
  local portfile=$1 log=$2
  shift 2
  "$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file "$portfile" "$@" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.1; done
  [ -s "$portfile" ] || fail "receiver did not start: $(cat "$log")"
}

"$ASRCTL" pki init --dir pki --host-days 30 >/dev/null
"$ASRCTL" pki show pki/primary.pem --json >primary.json
grep -q '"DNS:primary-host"' primary.json || fail "primary names: $(cat primary.json)"
grep -q '127.0.0.1' primary.json && fail "primary names the loopback address: $(cat primary.json)"
"$ASRCTL" pki init --dir overlap --primary-san 127.0.0.1 --recovery-san 127.0.0.1 2>err \
  && fail "one name for both hosts accepted"
grep -q "would name both" err || fail "overlap message: $(cat err)"
"$ASRCTL" disk create --format vhdx --type dynamic --size 8M vm.vhdx >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 0 --length 1M --seed 1 >/dev/null

serve port serve.log --dir replica --pki pki --writer primary-host --point-interval 0s
TO="127.0.0.1:$(cat port)"

# By default the receiver's certificate must name the host of --to; this
# one names recovery-host only.
"$ASRCTL" replicate --to "$TO" --pki pki --disk vm.vhdx --mode initial 2>err \
  && fail "a receiver not named by --to accepted"
grep -q 'not the expected recovery host "127.0.0.1"' err || fail "default name: $(cat err)"
grep -q -- "--receiver-name" err || fail "default name hint: $(cat err)"
out=$("$ASRCTL" replicate --to "$TO" --pki pki --receiver-name recovery-host --disk vm.vhdx \
  --mode initial --json) || fail "initial: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 1 ] || fail "initial point: $out"

# A primary host's certificate (issued by the same CA) posing as the
# receiver is refused before anything is sent.
serve evil-port evil.log --dir evil --writer hv-other --cert pki/primary.pem --key pki/primary.key --ca pki/ca.pem
"$ASRCTL" replicate --to "127.0.0.1:$(cat evil-port)" --pki pki --receiver-name recovery-host \
  --disk vm.vhdx --mode scan 2>err && fail "primary posing as the receiver accepted"
grep -q "CN=primary-host" err || fail "impostor message (subject): $(cat err)"
grep -q 'does not name "recovery-host"' err || fail "impostor message (expected): $(cat err)"
[ ! -e evil/replica.state ] || fail "the impostor received a replica"

# A receiver whose certificate names its address works with the default check.
"$ASRCTL" pki issue --dir pki --name dr-02 --san 127.0.0.1 >/dev/null
serve port2 serve2.log --dir replica2 --writer primary-host --cert pki/dr-02.pem --key pki/dr-02.key --ca pki/ca.pem
"$ASRCTL" replicate --to "127.0.0.1:$(cat port2)" --pki pki --disk vm.vhdx --mode initial \
  >/dev/null || fail "default check by address"

# Revocation: the primary's certificate is revoked; the receiver (started
# before the list existed) refuses it on its next connection.
"$ASRCTL" pki issue --dir pki --name hv-02 --days 10 >/dev/null
serve port3 serve3.log --dir replica3 --pki pki --writer hv-02
TO3="127.0.0.1:$(cat port3)"
"$ASRCTL" pki revoke --dir pki --name primary --reason key-compromise >revoke.txt \
  || fail "revoke: $(cat revoke.txt)"
grep -q "keyCompromise" revoke.txt || fail "revoke output: $(cat revoke.txt)"
[ -s pki/crl.pem ] || fail "no crl.pem"
"$ASRCTL" pki revoke --dir pki --name primary 2>err && fail "revoked twice"
grep -q "already revoked" err || fail "twice message: $(cat err)"
"$ASRCTL" tracker write --disk vm.vhdx --offset 2M --length 64K --seed 2 >/dev/null
"$ASRCTL" replicate --to "$TO" --pki pki --receiver-name recovery-host --disk vm.vhdx \
  --mode scan 2>err && fail "revoked primary accepted"
grep -qi "revoked" err || fail "revoked (sender's view): $(cat err)"
for _ in $(seq 50); do grep -q "revoked by the vault CA at" serve.log && break; sleep 0.1; done
grep -q "revoked by the vault CA at" serve.log || fail "revoked (receiver's view)"
grep -q "CN=primary-host (serial" serve.log || fail "revoked certificate not named"
# Another host of the vault still replicates (into the replica it writes).
out=$("$ASRCTL" replicate --to "$TO3" --cert pki/hv-02.pem --key pki/hv-02.key --ca pki/ca.pem \
  --receiver-name recovery-host --disk vm.vhdx --mode initial --json) || fail "hv-02: $out"
[ "$(echo "$out" | json_field "['pointId']")" = 1 ] || fail "hv-02 point: $out"

# A revocation list from another CA is refused (fail closed).
"$ASRCTL" pki init --dir other >/dev/null
"$ASRCTL" pki crl --dir other --json >other-crl.json || fail "pki crl"
grep -q '"nextUpdate"' other-crl.json || fail "crl json: $(cat other-crl.json)"
"$ASRCTL" replicate --to "$TO3" --cert pki/hv-02.pem --key pki/hv-02.key --ca pki/ca.pem \
  --crl other/crl.pem --receiver-name recovery-host --disk vm.vhdx --mode scan 2>err \
  && fail "foreign revocation list accepted"
grep -q "not signed by this vault's certificate authority" err || fail "foreign crl: $(cat err)"
"$ASRCTL" replicate --to "$TO3" --cert pki/hv-02.pem --key pki/hv-02.key --ca pki/ca.pem \
  --crl missing.pem --receiver-name recovery-host --disk vm.vhdx --mode scan 2>err \
  && fail "missing revocation list accepted"

# SIGTERM ends the receiver cleanly (exit 0), with an idle connection open.
python3 - "$(cat port)" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(5)
PY
IDLE=$!
PIDS+=($IDLE)
kill -TERM "${PIDS[0]}"
status=0
wait "${PIDS[0]}" || status=$?
[ "$status" = 0 ] || fail "receiver exit status $status after SIGTERM"
grep -q "SIGTERM: stopping the receiver" serve.log || fail "no stop message"
echo PASS
