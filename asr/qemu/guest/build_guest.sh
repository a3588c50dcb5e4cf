#!/usr/bin/env bash
# Builds asr's test guest from Debian's packages only: the kernel of
# linux-image-amd64 (/boot/vmlinuz-*), its virtio, ext4, ACPI button and
# virtio console modules, busybox-static and, when qemu-guest-agent is
# installed, QEMU's guest agent (/usr/sbin/qemu-ga with every library ldd
# names and the dynamic loader), with init.sh (beside this script) as /init.
# Without qemu-guest-agent the guest is built without an agent (a note on
# stderr) and says so on its console (ASR-AGENT none reason=not-in-image).
#
#   asr/qemu/guest/build_guest.sh OUT_DIR
#   qemu-system-x86_64 -accel tcg -m 256 -nographic -no-reboot \
#     -kernel OUT_DIR/vmlinuz -initrd OUT_DIR/initrd.gz \
#     -append "$(cat OUT_DIR/cmdline)" -drive file=data.vhdx,format=vhdx,if=virtio
#
# Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.gz, OUT_DIR/cmdline (the kernel
# arguments the guest needs; add asr.* arguments, see init.sh) and
# OUT_DIR/stamp (the content key). Cached by content: the key is the SHA-256
# of this script, init.sh, the kernel, busybox, the modules and the agent
# with its libraries; when
# OUT_DIR/stamp holds the same key nothing is rebuilt. The output is
# reproducible (fixed times and owners in the archive, gzip without a name).
#
# Environment: ASR_GUEST_KERNEL picks the kernel (default: the newest
# /boot/vmlinuz-*); its modules come from /lib/modules/VERSION.
# ASR_GUEST_AGENT picks the agent (default /usr/sbin/qemu-ga; "none" or a
# missing file: a guest without one).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
init="$here/init.sh"

kernel=${ASR_GUEST_KERNEL:-}
if [ -z "$kernel" ]; then
  kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
  echo "no readable kernel (/boot/vmlinuz-*): install linux-image-amd64" \
    "(apt-get install --no-install-recommends linux-image-amd64)" >&2
  exit 1
fi
version=${kernel##*/vmlinuz-}
moddir=/lib/modules/$version/kernel
busybox=/bin/busybox
if [ ! -x "$busybox" ] || ! "$busybox" true; then
  echo "no busybox at $busybox: install busybox-static" \
    "(apt-get install --no-install-recommends busybox-static)" >&2
  exit 1
fi
if ldd "$busybox" 2>/dev/null | grep -q "=>"; then
  echo "$busybox is dynamically linked: install busybox-static" \
    "(apt-get install --no-install-recommends busybox-static)" >&2
  exit 1
fi
for tool in cpio gzip sha256sum; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing: install it (apt-get install --no-install-recommends $tool)" >&2
    exit 1
  }
done

# The modules in load order (init.sh loads them in the same order).
modules=(
  drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
  net/core/failover drivers/net/net_failover drivers/net/virtio_net
  crypto/crc32c_generic lib/crc16 fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4 drivers/input/evdev drivers/acpi/button
  drivers/char/virtio_console
)
files=("$0" "$init" "$kernel" "$busybox")

# QEMU's guest agent and what it links (the loader too), at their own paths.
agent=${ASR_GUEST_AGENT:-/usr/sbin/qemu-ga}
agent_files=()
if [ -x "$agent" ]; then
  agent_files=("$agent")
  while read -r lib; do
    [ -n "$lib" ] && agent_files+=("$(readlink -f "$lib")|$lib")
  done < <(ldd "$agent" | awk '/=> \// { print $3 } /^\t\/[^ ]* \(/ { print $1 }')
  for f in "${agent_files[@]}"; do files+=("${f%%|*}"); done
elif [ "$agent" = none ]; then
  echo "note: ASR_GUEST_AGENT=none: the guest runs no guest agent" >&2
else
  echo "note: $agent is missing: the guest runs no guest agent (install qemu-guest-agent" \
    "for application-consistent points: apt-get install --no-install-recommends qemu-guest-agent)" >&2
fi
for m in "${modules[@]}"; do
  f="$moddir/$m.ko"
  if [ ! -r "$f" ]; then
    echo "module $f is missing: the guest needs $version's modules (linux-image-$version)" >&2
    exit 1
  fi
  files+=("$f")
done

key=$( (for f in "${files[@]}"; do sha256sum <"$f"; done; echo "$version agent=${#agent_files[@]}") |
  sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] && [ -f "$out/initrd.gz" ] &&
  [ -f "$out/vmlinuz" ] && [ -f "$out/cmdline" ]; then
  exit 0
fi

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/asr-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,run,data,lib/modules}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
for m in "${modules[@]}"; do
  cp "$moddir/$m.ko" "$root/lib/modules/$(basename "$m").ko"
done
for f in "${agent_files[@]}"; do
  src=${f%%|*}
  dst=${f#*|}
  mkdir -p "$root$(dirname "$dst")"
  cp "$src" "$root$dst"
done
cp "$init" "$root/init"
chmod 0755 "$root/init" "$root/bin/busybox"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc -R 0:0 --reproducible | gzip -n -9) >"$work/initrd.gz"

cp "$kernel" "$work/vmlinuz"
echo "console=ttyS0 quiet panic=-1" >"$work/cmdline"
for f in vmlinuz initrd.gz cmdline; do
  mv -f "$work/$f" "$out/$f"
done
echo "$key" >"$out/stamp"
