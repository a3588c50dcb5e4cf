#!/usr/bin/env bash
# Fails when a C or C++ file outside asr/platform (tests aside) includes a
# POSIX header: the operating system is reached through asr/platform only.
# capi/tests holds the plain-C tests' own helpers (a provider's view of the
# C API, which cannot call the C++ platform layer).
# Test support code (*/testing/) may fork and kill like the tests it serves.
set -euo pipefail

# Under Bazel the script in the runfiles is a link into the source tree,
# which is what is checked (the test is tagged never to be cached).
root="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
cd "$root"

pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*<(unistd\.h|fcntl\.h|dirent\.h|poll\.h|netdb\.h|sys/[^>]*|arpa/[^>]*|netinet/[^>]*)>'
found=0
checked=0
while IFS= read -r f; do
  f="${f#./}"
  case "$f" in
    asr/platform/*|capi/tests/*|*/testing/*|*_test.cc|*_test.c) continue ;;
  esac
  checked=$((checked + 1))
  if grep -nE "$pattern" "$f" >/tmp/posix_headers.$$ 2>/dev/null; then
    sed "s|^|$f:|" /tmp/posix_headers.$$ >&2
    found=1
  fi
done < <(find -L . \( -name '*.cc' -o -name '*.h' -o -name '*.c' \) -not -path './bazel-*' | sort)
rm -f /tmp/posix_headers.$$
if [ "$checked" -lt 50 ]; then
  echo "only $checked files found under $root: the source list is missing" >&2
  exit 1
fi
if [ "$found" -ne 0 ]; then
  echo "POSIX headers outside asr/platform (see above): call asr/platform instead" >&2
  exit 1
fi
echo "checked $checked files: no POSIX header outside asr/platform"
