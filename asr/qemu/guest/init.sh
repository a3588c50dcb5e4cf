#!/bin/sh
# /init of asr's test guest (asr/qemu/guest/build_guest.sh packs it with
# Debian's kernel modules and busybox). It runs as PID 1 and talks to the
# host through the serial console only, one line per event:
#
#   ASR-BOOT disks=D uptime=U         the data disks are mounted (U: seconds since boot)
#   ASR-VERDICT ok records=N last=S disks=D torn=T     (every verdict ends with uptime=U)
#   ASR-VERDICT missing first=F last=S expected=E   (asr.expect=E and S < E)
#   ASR-VERDICT corrupt disk=vdX seq=S reason=...   (a record fails its checksum)
#   ASR-VERDICT bad disk=vdX reason=...             (no file system, disks disagree)
#   ASR-WROTE S                       record S is on every data disk and synced
#   ASR-IDLE last=S                   asr.records reached: no more writes
#   ASR-SHUTDOWN clean last=S         power button: file systems unmounted, powering off
#   ASR-QUIESCE quiesced freeze=N seq=S   (after every verdict) the last record of every
#                                     data disk is the quiesce marker S of freeze N: the
#                                     disks are an application-consistent point
#   ASR-QUIESCE not-quiesced          (after every verdict) they are not (crash-consistent)
#   ASR-AGENT running port=/dev/vportXpY   QEMU's guest agent (qemu-ga) runs on the port
#                                     named org.qemu.guest_agent.0, with the fsfreeze hook
#   ASR-AGENT none reason=R           no agent: R is asr.agent=off, not-in-image (built
#                                     without qemu-guest-agent), no-port (QEMU gave the VM
#                                     no such port) or exited (qemu-ga ended at once)
#   ASR-FREEZE freeze=N workload=quiesced|idle   the agent's freeze (the hook runs before
#                                     the file systems freeze): the workload wrote marker S
#                                     and waits (quiesced), or was not writing (idle)
#   ASR-FREEZE freeze=N failed reason=R   the workload did not quiesce: the freeze fails
#   ASR-QUIESCED freeze=N seq=S       the workload synced quiesce marker S and waits for the thaw
#   ASR-THAW freeze=N                 the agent thawed the file systems (hook after the thaw)
#   ASR-RESUMED freeze=N              the workload writes again after the thaw
#
# Every boot first checks every record on every data disk (/dev/vd*: the
# virtio disks in the order QEMU was given them) and prints the verdict;
# then, unless asked only to check, it continues the sequence: record S+1,
# S+2, ... appended to the file `records` on every data disk, each synced
# (syncfs: ext2 keeps a growing file's size outside what fdatasync writes)
# before ASR-WROTE is printed. A disk that is all zeros
# at its start gets an ext2 file system on first boot.
#
# A record is one 128-byte line: "SSSSSSSSSSS PAYLOAD MD5\n", the sequence
# number (11 digits), 82 hex digits of random payload and the MD5 of
# "SSSSSSSSSSS PAYLOAD". Writing record S to vda, then vdb, ... means that an
# instant of all disks (a crash-consistent point) holds, on each later disk,
# the last record of the first disk or the one before it; the check demands
# exactly that. A last record cut short (the VM died while writing it) is
# "torn": it was never acknowledged, so it is dropped, not counted as loss.
#
# Application consistency: QEMU's guest agent runs with an fsfreeze hook
# (/run/fsfreeze-hook, written below). On "freeze" the hook asks the
# workload to quiesce: it finishes its current record, appends a quiesce
# marker to every disk (a record like the others, sequence number and MD5
# included, whose payload is "app-quiesce-freeze-N" padded with "-";
# ASR-WROTE is printed for it too), syncs it and waits; only then does the
# hook return and the agent freeze the file systems. On "thaw" the workload
# resumes. A point cut while frozen holds the marker as the last record of
# every disk, which the verdict boot reports (ASR-QUIESCE).
#
# Kernel arguments (asr.NAME=VALUE on the command line):
#   asr.mode=work|check   check: print the verdict and power off (default work)
#   asr.expect=E          the verdict says "missing" when fewer than E records are present
#   asr.records=N         stop writing once record N is written (default: never)
#   asr.interval_ms=MS    pause between records (default 100)
#   asr.disks=N           use the first N virtio disks only (default all)
#   asr.agent=on|off      off: do not start the guest agent (default on)
#
# The ACPI power button (QEMU's system_powerdown) ends the workload cleanly.

export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /data

for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
  failover net_failover virtio_net crc32c_generic crc16 mbcache jbd2 ext4 evdev button \
  virtio_console; do
  insmod "/lib/modules/$m.ko" 2>/dev/null || echo "ASR-LOG cannot load module $m"
done

arg() {
  v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^asr\.$1=//p" | tail -n 1)
  echo "${v:-$2}"
}
mode=$(arg mode work)
expect=$(arg expect 0)
max_records=$(arg records 0)
interval_ms=$(arg interval_ms 100)
want_disks=$(arg disks 0)
agent=$(arg agent on)
broken=0

poweroff_now() {
  sync
  for d in /data/*; do umount "$d" 2>/dev/null; done
  echo "ASR-SHUTDOWN clean last=$1"
  poweroff -f
  sleep 5
}

# The power button: a key event on an input device named "Power Button".
watch_power_button() {
  for n in /sys/class/input/input*; do
    [ "$(cat "$n/name" 2>/dev/null)" = "Power Button" ] || continue
    for e in "$n"/event*; do
      [ -e "$e" ] || continue
      (dd if="/dev/input/$(basename "$e")" of=/dev/null bs=24 count=1 2>/dev/null && echo stop >/run/stop) &
    done
  done
}
# The devices appear shortly after the modules load.
i=0
while [ $i -lt 20 ] && [ ! -e /dev/vda ]; do usleep 50000; i=$((i + 1)); done
watch_power_button

disks=""
count=0
for dev in /dev/vd?; do
  [ -b "$dev" ] || continue
  if [ "$want_disks" -gt 0 ] && [ "$count" -ge "$want_disks" ]; then break; fi
  name=$(basename "$dev")
  magic=$(dd if="$dev" bs=1 skip=1080 count=2 2>/dev/null | hexdump -e '2/1 "%02x"')
  if [ "$magic" != "53ef" ]; then
    if [ -n "$(dd if="$dev" bs=4096 count=1 2>/dev/null | tr -d '\000' | head -c 1)" ]; then
      echo "ASR-VERDICT bad disk=$name reason=no-filesystem-and-not-empty"
      broken=1
      break
    fi
    mke2fs -q -b 4096 -L "asr-$name" "$dev" >/dev/null 2>&1 || {
      echo "ASR-VERDICT bad disk=$name reason=mke2fs-failed"
      broken=1
      break
    }
  fi
  mkdir -p "/data/$name"
  if ! mount -t ext2 "$dev" "/data/$name" 2>/dev/null; then
    echo "ASR-VERDICT bad disk=$name reason=mount-failed"
    broken=1
    break
  fi
  touch "/data/$name/records"
  disks="$disks $name"
  count=$((count + 1))
done
echo "ASR-BOOT disks=$count uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ "$count" -eq 0 ] && [ "$broken" -eq 0 ]; then
  echo "ASR-VERDICT bad disk=none reason=no-virtio-disk"
  broken=1
fi

# Records are written by one awk process and checked by one awk pass plus
# one md5sum over all of them, not by a process per record (TCG is slow).
AWK_RECORD='
function record(seq, payload,   s, cmd, sum) {
  s = sprintf("%011d %s", seq, payload)
  printf "%s", s > "/run/rec"
  close("/run/rec")
  cmd = "md5sum /run/rec"
  cmd | getline sum
  close(cmd)
  return s " " substr(sum, 1, 32)
}
'

# Checks one disk's records: sets last (the last good sequence) and torn
# (1 when a cut-short last record was dropped); returns 1 on corruption
# (corrupt_seq: the first bad record).
check_disk() {
  f="/data/$1/records"
  size=$(stat -c %s "$f")
  whole=$((size / 128))
  torn=0
  if [ $((whole * 128)) -ne "$size" ]; then
    torn=1
    truncate -s $((whole * 128)) "$f"
  fi
  rm -rf /run/chk
  mkdir -p /run/chk
  awk '{ f = "/run/chk/" NR; printf "%s", substr($0, 1, 94) > f; close(f) }' "$f"
  find /run/chk -type f | xargs -r md5sum >/run/chk.md5
  result=$(awk -v whole="$whole" '
    BEGIN {
      while ((getline l < "/run/chk.md5") > 0) { n = l; sub(/.*\//, "", n); H[n + 0] = substr(l, 1, 32) }
      last = 0; done = 0
    }
    done { next }
    {
      if (length($0) == 127 && substr($0, 1, 12) == sprintf("%011d ", NR) &&
          substr($0, 95, 1) == " " && substr($0, 96) == H[NR]) { last = NR; next }
      done = 1
      if (NR == whole) print "torn " last; else print "corrupt " NR
    }
    END { if (!done) print "ok " last }' "$f")
  rm -rf /run/chk /run/chk.md5
  last=${result#* }
  case "$result" in
    ok*) ;;
    torn*)
      # The last record was cut short: never acknowledged, dropped.
      torn=1
      truncate -s $((last * 128)) "$f"
      ;;
    *)
      corrupt_seq=$last
      return 1
      ;;
  esac
  return 0
}

# ASR-QUIESCE: whether the last record of every data disk is one and the
# same quiesce marker (checked records only: run after check_disk).
report_quiesce() {
  q=""
  for name in $disks; do
    f="/data/$name/records"
    size=$(stat -c %s "$f")
    if [ "$size" -lt 128 ]; then
      q=no
      break
    fi
    rec=$(tail -c 128 "$f")
    case "$rec" in
      ???????????" app-quiesce-freeze-"*) ;;
      *)
        q=no
        break
        ;;
    esac
    this=$(echo "$rec" | cut -c1-11)
    if [ -n "$q" ] && [ "$q" != "$this" ]; then
      q=no
      break
    fi
    q=$this
    freeze=$(echo "$rec" | cut -c13-94 | sed 's/^app-quiesce-freeze-//; s/-*$//')
  done
  if [ -n "$q" ] && [ "$q" != no ]; then
    echo "ASR-QUIESCE quiesced freeze=$freeze seq=$((1$q - 100000000000))"
  else
    echo "ASR-QUIESCE not-quiesced"
  fi
}

first_last=-1
records=0
torn_all=0
if [ "$broken" -eq 0 ]; then
  verdict=""
  for name in $disks; do
    if ! check_disk "$name"; then
      verdict="ASR-VERDICT corrupt disk=$name seq=$corrupt_seq reason=bad-record"
      break
    fi
    torn_all=$((torn_all + torn))
    if [ "$first_last" -lt 0 ]; then
      first_last=$last
      records=$last
    elif [ "$last" -ne "$first_last" ] && [ "$last" -ne $((first_last - 1)) ]; then
      verdict="ASR-VERDICT bad disk=$name reason=last-$last-but-first-disk-last-$first_last"
      break
    fi
  done
  if [ -z "$verdict" ]; then
    if [ "$expect" -gt "$first_last" ]; then
      verdict="ASR-VERDICT missing first=$((first_last + 1)) last=$first_last expected=$expect"
    else
      verdict="ASR-VERDICT ok records=$records last=$first_last disks=$count torn=$torn_all"
    fi
  else
    broken=1
  fi
  echo "$verdict uptime=$(cut -d' ' -f1 /proc/uptime)"
  report_quiesce
fi
[ "$first_last" -lt 0 ] && first_last=0

if [ "$mode" = check ]; then
  poweroff_now "$first_last"
fi

# Brings a later disk that missed the last record up to the first disk.
seq=$first_last
if [ "$mode" = work ] && [ "$broken" -eq 0 ]; then
  for name in $disks; do
    n=$(($(stat -c %s "/data/$name/records") / 128))
    if [ "$n" -lt "$seq" ]; then
      tail -c 128 "/data/$(echo $disks | cut -d' ' -f1)/records" >>"/data/$name/records"
      sync -f "/data/$name/records"
    fi
  done
fi

# QEMU's guest agent with the fsfreeze hook (see the top of this file).
start_agent() {
  if [ "$agent" = off ]; then
    echo "ASR-AGENT none reason=asr.agent=off"
    return
  fi
  if [ ! -x /usr/sbin/qemu-ga ]; then
    echo "ASR-AGENT none reason=not-in-image"
    return
  fi
  port=""
  i=0
  while [ -z "$port" ] && [ $i -lt 40 ]; do
    for p in /sys/class/virtio-ports/*; do
      [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
      port=/dev/$(basename "$p")
      if [ ! -c "$port" ]; then
        dev=$(cat "$p/dev")
        mknod "$port" c "${dev%%:*}" "${dev##*:}"
      fi
    done
    [ -n "$port" ] || usleep 50000
    i=$((i + 1))
  done
  if [ -z "$port" ]; then
    echo "ASR-AGENT none reason=no-port"
    return
  fi
  cat >/run/fsfreeze-hook <<'HOOK'
#!/bin/sh
# qemu-ga's fsfreeze hook: "freeze" before the file systems freeze, "thaw"
# after they thaw. Its output goes to the console (qemu-ga drops stdout).
export PATH=/bin
case "$1" in
  freeze)
    n=$(($(cat /run/freezes 2>/dev/null || echo 0) + 1))
    echo "$n" >/run/freezes
    if [ ! -e /run/writing ]; then
      echo "ASR-FREEZE freeze=$n workload=idle" >/dev/console
      exit 0
    fi
    rm -f /run/quiesced
    echo "$n" >/run/freeze-request
    i=0
    while [ ! -e /run/quiesced ] && [ -e /run/writing ] && [ $i -lt 600 ]; do
      usleep 50000
      i=$((i + 1))
    done
    if [ -e /run/quiesced ]; then
      echo "ASR-FREEZE freeze=$n workload=quiesced" >/dev/console
    elif [ ! -e /run/writing ]; then
      rm -f /run/freeze-request
      echo "ASR-FREEZE freeze=$n workload=idle" >/dev/console
    else
      rm -f /run/freeze-request
      echo "ASR-FREEZE freeze=$n failed reason=workload-did-not-quiesce-in-30s" >/dev/console
      exit 1
    fi
    ;;
  thaw)
    rm -f /run/freeze-request
    echo "ASR-THAW freeze=$(cat /run/freezes 2>/dev/null || echo 0)" >/dev/console
    ;;
esac
exit 0
HOOK
  chmod 0755 /run/fsfreeze-hook
  LD_LIBRARY_PATH=/lib/x86_64-linux-gnu /usr/sbin/qemu-ga -m virtio-serial -p "$port" \
    --fsfreeze-hook=/run/fsfreeze-hook -f /run/qemu-ga.pid -t /run \
    </dev/null >/run/qemu-ga.log 2>&1 &
  agent_pid=$!
  usleep 200000
  if kill -0 "$agent_pid" 2>/dev/null; then
    echo "ASR-AGENT running port=$port"
  else
    echo "ASR-AGENT none reason=exited"
    sed 's/^/ASR-LOG qemu-ga: /' /run/qemu-ga.log
  fi
}
if [ "$mode" = work ]; then
  start_agent
fi

if [ "$mode" = work ] && [ "$broken" -eq 0 ] && [ ! -e /run/stop ]; then
  : >/run/writing
  seed=$(hexdump -n 4 -e '1/4 "%u"' /dev/urandom)
  awk -v seq="$seq" -v max="$max_records" -v interval="$interval_ms" -v disks="$disks" \
    -v seed="$seed" "$AWK_RECORD"'
    # One record appended to every data disk and synced (per file system:
    # fdatasync of a growing file on ext2 does not write its size).
    function append(line,   d, f) {
      for (d = 1; d <= nd; d++) {
        f = "/data/" D[d] "/records"
        print line >> f
        fflush(f)
        system("sync -f " f)
      }
    }
    BEGIN {
      srand(seed)
      nd = split(disks, D, " ")
      for (;;) {
        if ((getline x < "/run/stop") > 0) break
        close("/run/stop")
        if (max > 0 && seq >= max) { print "ASR-IDLE last=" seq; fflush(); break }
        if ((getline fz < "/run/freeze-request") > 0) {
          # The agent freezes: a quiesce marker on every disk, synced, then
          # no write until the thaw.
          close("/run/freeze-request")
          seq++
          p = "app-quiesce-freeze-" fz
          while (length(p) < 82) p = p "-"
          append(record(seq, p))
          print "ASR-WROTE " seq
          print "ASR-QUIESCED freeze=" fz " seq=" seq
          fflush()
          printf "" > "/run/quiesced"
          close("/run/quiesced")
          system("while [ -e /run/freeze-request ]; do usleep 20000; done; rm -f /run/quiesced")
          print "ASR-RESUMED freeze=" fz
          fflush()
          continue
        }
        close("/run/freeze-request")
        seq++
        p = ""
        for (i = 0; i < 41; i++) p = p sprintf("%02x", int(rand() * 256))
        append(record(seq, p))
        print "ASR-WROTE " seq
        fflush()
        if (interval > 0) system("usleep " interval * 1000)
      }
      print seq > "/run/last"
    }'
  rm -f /run/writing
  seq=$(cat /run/last)
fi

while [ ! -e /run/stop ]; do usleep 100000; done
poweroff_now "$seq"
