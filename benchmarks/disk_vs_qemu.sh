#!/bin/bash
# Times asr against qemu-img reading the same 4 GiB dynamic VHDX (3 GiB of
# data, 1 GiB never written), and asr's allocation map of a sparse 64 GiB
# VHDX. Builds asrctl with --config=opt first.
#
#   benchmarks/disk_vs_qemu.sh [WORKDIR]   (default /tmp/asr-disk-bench; needs ~8 GiB)
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-/tmp/asr-disk-bench}"
mkdir -p "$W"
bazel build --config=opt //asr/cli:asrctl >/dev/null 2>&1
ASRCTL="$(bazel info --config=opt bazel-bin 2>/dev/null)/asr/cli/asrctl"

if [ ! -f "$W/src.vhdx" ]; then
  echo "preparing 4 GiB source (3 GiB data) ..."
  rm -f "$W/src.raw"
  truncate -s 4G "$W/src.raw"
  head -c 256M /dev/urandom > "$W/chunk"
  for i in $(seq 0 11); do   # 12 x 256 MiB of data, spread with holes
    dd if="$W/chunk" of="$W/src.raw" bs=1M seek=$((i * 256 + (i / 3) * 256 / 3)) conv=notrunc status=none
  done
  rm -f "$W/chunk"
  qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=32M "$W/src.raw" "$W/src.vhdx"
  rm -f "$W/src.raw"
fi
cat "$W/src.vhdx" > /dev/null   # warm the page cache for both readers

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "== read the whole $(du -h --apparent-size "$W/src.vhdx" | cut -f1) dynamic VHDX (4 GiB virtual), seconds"
# qemu-img cannot write to /dev/null ("Cannot grow device files"), so both
# tools convert to a sparse raw file on the same file system; asr's pure read
# speed is the /dev/null column.
for run in 1 2 3; do
  rm -f "$W/q.raw" "$W/a.raw"
  q=$(t qemu-img convert -f vhdx -O raw "$W/src.vhdx" "$W/q.raw")
  a=$(t "$ASRCTL" disk convert "$W/src.vhdx" "$W/a.raw" --format raw)
  n=$(t "$ASRCTL" disk convert "$W/src.vhdx" /dev/null --format raw)
  echo "run $run: qemu-img convert -O raw $q   asrctl disk convert --format raw $a   asrctl -> /dev/null $n"
done
cmp "$W/q.raw" "$W/a.raw" && echo "(qemu and asr raw outputs identical)"
rm -f "$W/q.raw" "$W/a.raw"
"$ASRCTL" disk compare "$W/src.vhdx" "$W/src.vhdx" >/dev/null && echo "(self-compare ok)"

rm -f "$W/sparse.vhdx"
"$ASRCTL" disk create --format vhdx --type dynamic --size 64G "$W/sparse.vhdx" >/dev/null
qemu-io -f vhdx -c 'write -P 0x11 0 1M' -c 'write -P 0x22 32G 1M' -c 'write -P 0x33 63G 1M' "$W/sparse.vhdx" >/dev/null
echo "== allocation map of a sparse 64 GiB VHDX (3 present extents)"
for run in 1 2 3; do
  echo "run $run: asrctl disk map $(t "$ASRCTL" disk map "$W/sparse.vhdx") s (whole process)"
done
"$ASRCTL" disk map "$W/sparse.vhdx" | head -8
