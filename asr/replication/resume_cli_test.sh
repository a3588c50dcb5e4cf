#!/usr/bin/env bash
# End to end through asrctl: the receiver is stopped (SIGTERM) and started
# again in the middle of an initial replication; `asrctl replicate` (with
# its default retries) reconnects and resumes, sending only what the
# receiver does not hold, and the replica equals the source.
set -euo pipefail
ASRCTL="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "${TEST_TMPDIR:?}"
rm -rf resume-cli && mkdir resume-cli && cd resume-cli

fail() {
  echo "FAIL: $*" >&2
  for f in serve.log serve2.log rep.err; do [ -f $f ] && sed "s/^/  $f: /" $f >&2; done
  exit 1
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

"$ASRCTL" pki init --dir pki >/dev/null
"$ASRCTL" disk create --format vhdx --type dynamic --size 96M --block-size 1M vm.vhdx >/dev/null
"$ASRCTL" tracker write --disk vm.vhdx --offset 0 --length 88M --seed 11 >/dev/null

serve() {  # serve PORT LOG
  "$ASRCTL" replica serve --listen "127.0.0.1:$1" --port-file port --dir replica --pki pki \
    --writer primary-host >"$2" 2>&1 &
  SERVER=$!
}
rm -f port
serve 0 serve.log
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "receiver did not start"
PORT=$(cat port)

# A slower zstd level keeps the sender busy long enough to stop the
# receiver part-way; --progress shows how far it got.
"$ASRCTL" replicate --to "127.0.0.1:$PORT" --pki pki --receiver-name recovery-host \
  --disk vm.vhdx --mode initial --compression-level 12 --progress --retries 6 --json \
  >rep.out 2>rep.err &
REP=$!
read_mib() { tr '\r' '\n' <rep.err | sed -n 's/.*read \([0-9]*\)\.[0-9] .*/\1/p' | tail -1; }
for _ in $(seq 1200); do
  r=$(read_mib)
  [ -n "$r" ] && [ "$r" -ge 16 ] && break
  kill -0 $REP 2>/dev/null || break
  sleep 0.05
done
kill -0 $REP 2>/dev/null || fail "the cycle ended before the receiver could be stopped"
kill -TERM $SERVER
wait $SERVER || true
[ -f replica/replica.vhdx ] && fail "a partial first cycle became a replica"
[ -f replica/replica.vhdx.tmp ] || fail "the receiver kept nothing of the interrupted cycle"
rm -f port
serve "$PORT" serve2.log
wait $REP || fail "replicate failed: $(cat rep.out)"
out=$(cat rep.out)
attempts=$(echo "$out" | json_field "['attempts']")
resumed=$(echo "$out" | json_field "['bytesResumed']")
[ "$attempts" -ge 2 ] || fail "no reconnect: $out"
python3 -c "import sys; sys.exit(0 if $resumed >= 8 * 2**20 else 1)" || fail "not resumed: $out"
"$ASRCTL" disk compare replica/replica.vhdx vm.vhdx >/dev/null || fail "replica differs"
if command -v qemu-img >/dev/null 2>&1; then
  qemu-img compare -q replica/replica.vhdx vm.vhdx || fail "qemu-img compare"
fi
# (read whole first: grep -q would close the pipe early and, under pipefail,
# fail the pipeline with asrctl's SIGPIPE)
help_text=$("$ASRCTL" help 2>&1)
grep -q "is resumed" <<<"$help_text" || fail "help does not mention resuming"
echo "PASS: attempts $attempts, $resumed bytes resumed"
