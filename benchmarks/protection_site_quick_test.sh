#!/bin/sh
# The protection benchmark's smoke run: 10 VMs for one minute, the endpoint
# in a second process. The binary exits non-zero when a point was lost or
# duplicated, a restored point does not hold the guest's writes, or the VMs
# never completed a round; the JSON must carry the figures.
set -eu
bin="$1"
out="${TEST_TMPDIR:-/tmp}/protection_site_quick.json"
"$bin" --quick --out "$out"
for key in '"rpo_seconds"' '"cpu_seconds"' '"memory_kib"' '"lost_latest": 0' '"duplicated": 0' \
           '"gaps": 0' '"verify_failed": 0' '"two_processes": true'; do
  if ! grep -q "$key" "$out"; then
    echo "missing $key in $out:" >&2
    cat "$out" >&2
    exit 1
  fi
done
echo "ok"
