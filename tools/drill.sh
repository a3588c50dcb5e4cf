#!/usr/bin/env bash
# The main job: a disaster-recovery drill on the embedded default. Installs
# what is missing, builds asrctl and runs `asrctl drill` (asr/cli/drill_command.h):
# two sites (New York primary, Chicago recovery) in a local state directory
# over a simulated VMM fabric whose VM disks are real VHDX files; every VM
# protected and replicated by the site service over loopback mutual TLS
# while a guest workload writes; a recovery point restored and proven
# against the workload's write log; a recovery plan (VM1 and VM2 in two
# groups, a DNS script action) driving a test failover, a planned failover
# with no acknowledged write lost, commit, reverse replication and
# failback; an unplanned failover of VM3 to an older point with the lost
# writes reported; when QEMU is installed, one real VM protected and failed
# over too. Exit code 0 only if every check held.
#
#   tools/drill.sh                       # ~2 minutes after the build
#   tools/drill.sh --keep --vms 4 --disk my.vhdx
#   ASR_DRILL_DISK=256M ASR_DRILL_SECONDS=120 tools/drill.sh
#
# Everything goes to .drill/ (or $ASR_DRILL_DIR, or --dir), removed after a
# drill that held unless --keep (kept after one that failed). Flags given
# here win over the ASR_DRILL_* variables; `asrctl help` lists them all.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [ "${ASR_DRILL_SKIP_INSTALL:-0}" != 1 ]; then
  bash tools/install-deps.sh
fi
# One real QEMU VM too when QEMU is installed (--no-qemu leaves it out): the
# test guest is built beside asrctl (asr/qemu/guest/build_guest.sh).
want_qemu=0
case " $* " in
  *" --no-qemu "* | *" --qemu-guest "*) ;;  # the caller decides
  *" --qemu "*) want_qemu=1 ;;
  *) command -v qemu-system-x86_64 >/dev/null && want_qemu=1 ;;
esac
guest="${ASR_DRILL_QEMU_GUEST:-}"
if [ -n "${ASRCTL:-}" ]; then
  asrctl="$ASRCTL"
else
  targets=(//asr/cli:asrctl)
  [ "$want_qemu" = 1 ] && [ -z "$guest" ] && targets+=(//asr/qemu:guest_image)
  echo "== building ${targets[*]} (optimized)"
  bazel build --config=opt "${targets[@]}" 2>&1 | grep -E '^(ERROR|INFO: Build)' || true
  bin="$(bazel info --config=opt bazel-bin 2>/dev/null)"
  asrctl="$bin/asr/cli/asrctl"
  [ -z "$guest" ] && [ -f "$bin/asr/qemu/guest/vmlinuz" ] && guest="$bin/asr/qemu/guest"
fi
[ -x "$asrctl" ] || { echo "drill: asrctl did not build" >&2; exit 1; }
qemu=()
if [ "$want_qemu" = 1 ]; then
  if [ -n "$guest" ]; then
    qemu=(--qemu --qemu-guest "$guest")
  else
    echo "drill: no QEMU test guest (bazel build //asr/qemu:guest_image, or set ASR_DRILL_QEMU_GUEST); the drill runs without a real VM" >&2
    qemu=(--no-qemu)
  fi
fi

exec "$asrctl" drill --dir "${ASR_DRILL_DIR:-$root/.drill}" \
  --disk-size "${ASR_DRILL_DISK:-64M}" --seconds "${ASR_DRILL_SECONDS:-75}" "${qemu[@]}" "$@"
