#!/bin/bash
# Times asr against qemu-img converting the same 4 GiB dynamic VHDX (3 GiB of
# data, 1 GiB never written) to raw, like for like, and asr's allocation map
# of a sparse 64 GiB VHDX.
#
#   benchmarks/disk_vs_qemu.sh [WORKDIR] [RUNS]   (default /tmp/asr-disk-bench, 3;
#                                                   needs ~10 GiB there)
#   ASRCTL=/path/to/asrctl benchmarks/disk_vs_qemu.sh   (skip the bazel build)
#   TMPFS=/dev/shm (default; TMPFS= to skip) adds a run with both outputs in RAM.
#   ASRCTL_OLD=/path/to/older/asrctl adds a row for it (before/after figures).
#
# Like for like:
#  * both tools write a raw file in the same directory;
#  * "no sync" compares qemu-img's default (-t unsafe: it never calls
#    fdatasync, the data is only in the page cache when it exits) with
#    asr --no-sync; "durable" compares qemu-img -t writeback (one fdatasync at
#    the end) with asr's default (fdatasync of the file and its directory);
#  * `sync` runs (untimed) before every timed command so neither tool pays for
#    the other's dirty pages, and the order alternates between runs;
#  * outputs are checked: byte-identical (cmp), equal to the source
#    (qemu-img compare), and equally sparse (du).
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-/tmp/asr-disk-bench}"
RUNS="${2:-3}"
TMPFS="${TMPFS-/dev/shm}"
mkdir -p "$W"
if [ -z "${ASRCTL:-}" ]; then
  if ! bazel build --config=opt //asr/cli:asrctl >"$W/build.log" 2>&1; then
    echo "bazel build --config=opt //asr/cli:asrctl failed (see $W/build.log)" >&2
    exit 1
  fi
  ASRCTL="$(bazel info --config=opt bazel-bin 2>/dev/null)/asr/cli/asrctl"
fi

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
SRC="$W/src.vhdx"
cat "$SRC" > /dev/null   # warm the page cache for both readers

# t CMD...: "WALL CPU" seconds for CMD (after an untimed sync); CPU is user +
# system time of the tool's own threads. The machine is shared: wall time
# moves with other load, CPU time much less.
t() {
  sync
  /usr/bin/time -f '%e %U %S' -o "$W/time.out" "$@" >/dev/null 2>"$W/last.err" ||
    { echo "failed: $*" >&2; cat "$W/last.err" >&2; exit 1; }
  awk '{printf "%.2f %.2f", $1, $2 + $3}' "$W/time.out"
}
declare -A T C   # T[label]="wall1 wall2 ...", C[label]="cpu1 cpu2 ..."
LABELS=()
record() {
  [ -z "${T[$1]+x}" ] && LABELS+=("$1")
  T[$1]="${T[$1]:-} ${2% *}"
  C[$1]="${C[$1]:-} ${2#* }"
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { tr ' ' '\n' <<<"$1" | grep . | sort -n | head -1; }

# compare_outputs DIR: the two raw outputs are identical, equal to the
# source, and allocate the same space.
compare_outputs() {
  cmp "$1/q.raw" "$1/a.raw"
  qemu-img compare -q -f vhdx -F raw "$SRC" "$1/a.raw"
  echo "  $1: outputs identical (cmp), equal to the source (qemu-img compare);" \
       "allocated qemu-img $(du -k "$1/q.raw" | cut -f1) KiB, asr $(du -k "$1/a.raw" | cut -f1) KiB," \
       "apparent $(du -k --apparent-size "$1/a.raw" | cut -f1) KiB"
}

# pair LABEL_Q LABEL_A DIR RUN QEMU_OPTS ASR_OPTS: one qemu-img and one asr
# conversion into DIR, order alternating with RUN.
pair() {
  local lq="$1" la="$2" dir="$3" run="$4" qo="$5" ao="$6" q a
  rm -f "$dir/q.raw" "$dir/a.raw"
  if [ $((run % 2)) -eq 1 ]; then
    # shellcheck disable=SC2086
    q=$(t qemu-img convert $qo -f vhdx -O raw "$SRC" "$dir/q.raw")
    # shellcheck disable=SC2086
    a=$(t "$ASRCTL" disk convert "$SRC" "$dir/a.raw" --format raw $ao)
  else
    # shellcheck disable=SC2086
    a=$(t "$ASRCTL" disk convert "$SRC" "$dir/a.raw" --format raw $ao)
    # shellcheck disable=SC2086
    q=$(t qemu-img convert $qo -f vhdx -O raw "$SRC" "$dir/q.raw")
  fi
  record "$lq" "$q"
  record "$la" "$a"
  [ "$run" -eq 1 ] && compare_outputs "$dir"
  rm -f "$dir/q.raw" "$dir/a.raw"
}

echo "== convert the $(du -h --apparent-size "$SRC" | cut -f1) dynamic VHDX (4 GiB virtual) to raw"
echo "   source $SRC, outputs in $W${TMPFS:+ and $TMPFS}; $RUNS runs"
for run in $(seq 1 "$RUNS"); do
  pair "qemu-img convert -O raw (default -t unsafe: no sync)" \
       "asrctl disk convert --format raw --no-sync" "$W" "$run" "" "--no-sync"
  pair "qemu-img convert -t writeback -O raw (fdatasync)" \
       "asrctl disk convert --format raw (fdatasync, default)" "$W" "$run" "-t writeback" ""
  if [ -n "$TMPFS" ] && [ -d "$TMPFS" ]; then
    pair "tmpfs: qemu-img convert -O raw" "tmpfs: asrctl disk convert --format raw --no-sync" \
         "$TMPFS" "$run" "" "--no-sync"
  fi
  if [ -n "${ASRCTL_OLD:-}" ]; then   # an older asrctl, for before/after figures
    rm -f "$W/o.raw"
    record "older asrctl (\$ASRCTL_OLD) disk convert --format raw" \
           "$(t "$ASRCTL_OLD" disk convert "$SRC" "$W/o.raw" --format raw)"
    rm -f "$W/o.raw"
  fi
  record "asrctl disk convert -> /dev/null (pure read)" \
         "$(t "$ASRCTL" disk convert "$SRC" /dev/null --format raw --no-sync)"
done

printf '\n| %-58s |' "wall seconds (CPU seconds)"
for run in $(seq 1 "$RUNS"); do printf ' run %d       |' "$run"; done
printf ' best wall | median wall | median CPU |\n|%s|' "$(printf -- '-%.0s' $(seq 1 60))"
for run in $(seq 1 "$RUNS"); do printf -- '------------:|'; done
printf -- '----------:|------------:|-----------:|\n'
for l in "${LABELS[@]}"; do
  printf '| %-58s |' "$l"
  read -r -a w <<<"${T[$l]}"
  read -r -a c <<<"${C[$l]}"
  for i in "${!w[@]}"; do printf ' %5s (%4s) |' "${w[$i]}" "${c[$i]}"; done
  printf ' %9s | %11s | %10s |\n' "$(minimum "${T[$l]}")" "$(median "${T[$l]}")" \
    "$(median "${C[$l]}")"
done

rm -f "$W/sparse.vhdx"
"$ASRCTL" disk create --format vhdx --type dynamic --size 64G "$W/sparse.vhdx" >/dev/null
qemu-io -f vhdx -c 'write -P 0x11 0 1M' -c 'write -P 0x22 32G 1M' -c 'write -P 0x33 63G 1M' "$W/sparse.vhdx" >/dev/null
echo
echo "== allocation map of a sparse 64 GiB VHDX (3 present extents), whole process"
for run in $(seq 1 "$RUNS"); do
  r=$(t "$ASRCTL" disk map "$W/sparse.vhdx")
  echo "run $run: asrctl disk map ${r% *} s wall (${r#* } s CPU)"
done
"$ASRCTL" disk map "$W/sparse.vhdx" | head -8
