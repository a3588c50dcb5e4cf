#!/usr/bin/env bash
# Checks that libasr.so exports exactly the symbols in exported_symbols.txt:
# every C API function, and nothing else (no C++ or library internals).
set -euo pipefail
lib="$1"
expected="$2"
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
want=$(grep -v '^#' "$expected" | sort -u)
if [ "$actual" != "$want" ]; then
  echo "exported symbols differ from $expected:"
  diff <(echo "$want") <(echo "$actual") || true
  exit 1
fi
echo "libasr.so exports exactly $(echo "$actual" | wc -l) asr_* symbols"
