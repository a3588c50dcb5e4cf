#!/usr/bin/env bash
# Runs the parsers' fuzz targets under libFuzzer (clang, ASan + UBSan) for
# SECONDS each (default 60): the disk parsers (VHD, VHDX, VHDX log, from seed
# images made by asrctl and qemu-img) and everything that reads bytes from a
# peer or a file (replication frames, a receiver session, replica state,
# block log, state store, registration keys, inventory JSON, the C API's
# JSON), each from its committed seed corpus. The regular test suite runs the same targets
# briefly through gcc drivers (//asr/disk/fuzz:*_test, //asr/fuzz); this is
# the deeper run.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     e.g. tools/fuzz.sh 600 protocol_fuzz
#   FUZZ_MERGE=1 tools/fuzz.sh ...          then merge new inputs into the
#                                           committed corpus (kept small)
# Each target works in .fuzz/<target>/ (its corpus copied to corpus/);
# crashes land there as crash-*/leak-*/timeout-* files, with the reproducer
# path printed by libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true

# target -> Bazel package (the disk targets make their seeds below).
declare -A package=(
  [vhd_fuzz]=asr/disk/fuzz [vhdx_fuzz]=asr/disk/fuzz [vhdx_log_fuzz]=asr/disk/fuzz
  [protocol_fuzz]=asr/replication/fuzz [replica_state_fuzz]=asr/replication/fuzz
  [block_log_fuzz]=asr/replication/fuzz [receiver_fuzz]=asr/replication/fuzz
  [journal_store_fuzz]=asr/store/fuzz
  [registration_key_fuzz]=asr/fabric/fuzz [inventory_fuzz]=asr/fabric/fuzz
  [capi_json_fuzz]=capi/fuzz
)
all=(vhd_fuzz vhdx_fuzz vhdx_log_fuzz protocol_fuzz replica_state_fuzz block_log_fuzz
     receiver_fuzz journal_store_fuzz registration_key_fuzz inventory_fuzz capi_json_fuzz)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -n "${package[$t]:-}" ] || { echo "unknown fuzz target '$t' (one of: ${all[*]})" >&2; exit 2; }
done

bash tools/install-deps.sh
need=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${need[@]}"
fi

labels=()
disk=0
for t in "${targets[@]}"; do
  labels+=("//${package[$t]}:${t}_libfuzzer")
  [ "${package[$t]}" = asr/disk/fuzz ] && disk=1
done
bazel build --config=fuzz "${labels[@]}"
bin_fuzz="$(bazel info --config=fuzz bazel-bin)"

work="$PWD/.fuzz"
if [ "$disk" -eq 1 ]; then
  bazel build //asr/cli:asrctl
  asrctl="$(bazel info bazel-bin)/asr/cli/asrctl"
  rm -rf "$work/seeds"
  mkdir -p "$work/seeds/vhd" "$work/seeds/vhdx"
  # Small valid images of each kind, with some data in them.
  "$asrctl" disk create --format vhd --type dynamic --size 4M "$work/seeds/vhd/dyn.vhd" >/dev/null
  "$asrctl" disk create --format vhd --type fixed --size 1M "$work/seeds/vhd/fixed.vhd" >/dev/null
  "$asrctl" disk create --format vhdx --type dynamic --size 4M --block-size 1M \
    "$work/seeds/vhdx/dyn.vhdx" >/dev/null
  "$asrctl" disk create --format vhdx --type differencing --parent "$work/seeds/vhdx/dyn.vhdx" \
    "$work/seeds/vhdx/child.vhdx" >/dev/null
  if command -v qemu-io >/dev/null; then
    qemu-io -f vpc -c 'write -P 0xab 0 64k' "$work/seeds/vhd/dyn.vhd" >/dev/null
    qemu-io -f vhdx -c 'write -P 0xcd 1M 64k' "$work/seeds/vhdx/dyn.vhdx" >/dev/null
  fi
fi

status=0
for t in "${targets[@]}"; do
  pkg="${package[$t]}"
  corpus="$work/$t/corpus"
  mkdir -p "$corpus"
  max_len=65536
  extra=()
  case "$t" in
    vhd_fuzz) cp "$work"/seeds/vhd/* "$corpus/"; max_len=8388608 ;;
    vhdx_fuzz|vhdx_log_fuzz) cp "$work"/seeds/vhdx/* "$corpus/"; max_len=8388608 ;;
    *) cp "$pkg/corpus/$t"/* "$corpus/" ;;
  esac
  # The C API target's engine keeps state across inputs (each call stores a
  # job), so libFuzzer's per-input leak check would suspect every input and
  # scan the heap each time, and entropic scheduling over its many coverage
  # features costs as much again; ASan's quarantine and allocation-stack
  # depot then grow without bound (asr/fuzz/README.md). Without them it runs
  # at thousands of inputs per second. Leaks are still reported by
  # LeakSanitizer at exit and by the ASan test run.
  asan_options="${ASAN_OPTIONS:-}"
  if [ "$t" = capi_json_fuzz ]; then
    extra=(-entropic=0 -detect_leaks=0)
    asan_options="quarantine_size_mb=0:malloc_context_size=0${asan_options:+:$asan_options}"
  fi
  echo "== $t for ${seconds}s"
  (cd "$work/$t" && ASAN_OPTIONS="$asan_options" \
     "$bin_fuzz/$pkg/${t}_libfuzzer" -max_total_time="$seconds" -max_len="$max_len" \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${extra[@]+"${extra[@]}"} corpus) 2>&1 |
     tail -n 14 || status=1
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$pkg" != asr/disk/fuzz ]; then
    # Keep the committed corpus small: only inputs that add coverage, at most 4 KiB each.
    (cd "$work/$t" && "$bin_fuzz/$pkg/${t}_libfuzzer" -merge=1 -max_len=4096 \
       "$OLDPWD/$pkg/corpus/$t" corpus) >/dev/null 2>&1 || true
    echo "$pkg/corpus/$t: $(ls "$pkg/corpus/$t" | wc -l) files"
  fi
done
[ "$status" -eq 0 ] && echo "fuzzing found no crash" || echo "fuzzing found a crash: see .fuzz/" >&2
exit "$status"
