#!/usr/bin/env bash
# Times `asrctl replica verify` of a replicated VHDX (receiver on loopback
# mutual TLS, on the same machine: it digests the replica while asrctl
# digests the source) against `cat` of the same source file, page cache
# warm. Prints wall seconds per run and the medians.
#
# COLD=1 drops the page cache (sync; echo 3 >/proc/sys/vm/drop_caches, root
# only) before every timed command, and prints wall, user and system seconds
# of the timed process and the receiver process's CPU seconds during it (rx=).
# "local" is `asrctl replica verify --dir replica` on the recovery host: the
# replica re-read against its own recorded block digests, no network.
#
#   bazel build --config=opt //asr/cli:asrctl
#   benchmarks/verify_vs_cat.sh /tmp/asr-verify-bench [SIZE_MIB] [RUNS]
#   COLD=1 benchmarks/verify_vs_cat.sh /tmp/asr-verify-bench 1024 3
set -euo pipefail
ASRCTL="${ASRCTL:-$(pwd)/bazel-bin/asr/cli/asrctl}"
dir="${1:?work directory}"
size="${2:-256}"
runs="${3:-5}"
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"

head -c "${size}M" /dev/urandom >src.raw
qemu-img convert -O vhdx -o subformat=dynamic src.raw vm.vhdx
rm src.raw
"$ASRCTL" pki init --dir pki >/dev/null
"$ASRCTL" replica serve --listen 127.0.0.1:0 --port-file port --dir replica --pki pki \
  --writer primary-host >serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
to="127.0.0.1:$(cat port)"
"$ASRCTL" replicate --to "$to" --pki pki --receiver-name recovery-host --disk vm.vhdx --mode initial >/dev/null

cold="${COLD:-0}"
drop() { if [ "$cold" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi; }
# Wall seconds; with COLD=1 "wall user sys" (GNU time) after dropping the cache.
t() {
  drop
  if [ "$cold" = 1 ]; then
    local before after
    before=$(awk '{print $14 + $15}' "/proc/$server/stat")
    /usr/bin/time -f "%e %U %S" -o time.out "$@" >/dev/null
    after=$(awk '{print $14 + $15}' "/proc/$server/stat")
    # wall user sys of the timed process, then the receiver's CPU seconds.
    echo "$(cat time.out) rx=$(echo "scale=2; ($after - $before) / $(getconf CLK_TCK)" | bc)"
  else
    local s e
    s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc
  fi
}
median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
[ "$cold" = 1 ] || cat vm.vhdx replica/replica.vhdx >/dev/null  # warm the cache
for name in cat cat-replica verify replica-only local; do
  : >"$name.times"
done
for _ in $(seq "$runs"); do
  t cat vm.vhdx >>cat.times
  [ "$cold" = 1 ] && t cat replica/replica.vhdx >>cat-replica.times
  t "$ASRCTL" replica verify --to "$to" --pki pki --receiver-name recovery-host --disk vm.vhdx >>verify.times
  t "$ASRCTL" replica verify --to "$to" --pki pki --receiver-name recovery-host --disk vm.vhdx \
    --replica-only >>replica-only.times
  t "$ASRCTL" replica verify --dir replica >>local.times
done
[ "$cold" = 1 ] && set -- cat cat-replica verify replica-only local || set -- cat verify replica-only local
for name in "$@"; do
  echo "$name: $(tr '\n' ',' <"$name.times") median $(median <"$name.times") s"
done
