#!/usr/bin/env bash
# Runs the VHD, VHDX and VHDX-log parsers under libFuzzer (clang, ASan +
# UBSan) for SECONDS each (default 60), from seed images made by asrctl and
# qemu-img. The regular test suite runs the same fuzz targets briefly through
# a gcc driver (//asr/disk/fuzz:*_fuzz_test); this is the deeper run.
#
#   tools/fuzz.sh [SECONDS]
# Crashes land in .fuzz/<target>/ as crash-* files, with the reproducer path
# printed by libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

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

targets=(vhd_fuzz vhdx_fuzz vhdx_log_fuzz)

bazel build --config=fuzz $(printf '//asr/disk/fuzz:%s_libfuzzer ' "${targets[@]}")
bazel build //asr/cli:asrctl
bin_fuzz="$(bazel info --config=fuzz bazel-bin)/asr/disk/fuzz"
asrctl="$(bazel info bazel-bin)/asr/cli/asrctl"

work="$PWD/.fuzz"
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

status=0
for t in "${targets[@]}"; do
  corpus="$work/$t/corpus"
  mkdir -p "$corpus"
  case "$t" in
    vhd_fuzz) cp "$work"/seeds/vhd/* "$corpus/" ;;
    *) cp "$work"/seeds/vhdx/* "$corpus/" ;;
  esac
  echo "== $t for ${seconds}s"
  (cd "$work/$t" && "$bin_fuzz/${t}_libfuzzer" -max_total_time="$seconds" -max_len=8388608 \
     -rss_limit_mb=2048 -print_final_stats=1 corpus) 2>&1 | tail -n 12 || status=1
done
[ "$status" -eq 0 ] && echo "fuzzing found no crash" || echo "fuzzing found a crash: see .fuzz/" >&2
exit "$status"
