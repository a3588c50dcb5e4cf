#!/bin/bash
# asrctl links the archives of Abseil, Protocol Buffers, zstd and xxHash
# (third_party/system/libs.bzl): none of them may come back as a shared
# object the process loads at start (a link-order change that let the
# linker reach one would also put a second copy of the library in the
# process), and the binary still runs.
set -euo pipefail
asrctl="$1"
needed=$(readelf -d "$asrctl" | awk '/\(NEEDED\)/ {print $NF}' | tr -d '[]')
if [ -z "$needed" ]; then
  echo "FAIL: readelf found no NEEDED entries in $asrctl" >&2
  exit 1
fi
bad=$(echo "$needed" | grep -E '^lib(absl_|protobuf|zstd|xxhash)' || true)
if [ -n "$bad" ]; then
  echo "FAIL: $asrctl loads these at run time instead of linking their archives:" >&2
  echo "$bad" >&2
  exit 1
fi
help=$("$asrctl" --help) || { echo "FAIL: asrctl --help exited with $?" >&2; exit 1; }
grep -q '^usage: asrctl' <<<"$help" || { echo "FAIL: asrctl --help printed no usage" >&2; exit 1; }
echo "PASS: $(echo "$needed" | wc -l) shared objects: $(echo $needed)"
