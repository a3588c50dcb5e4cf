#!/usr/bin/env bash
# Fails when a C or C++ file changed since the commit named in
# tools/format-base (or changed and not yet committed) is not formatted by
# the repository's .clang-format. Files nobody touched since are left as
# they are, so the formatted part of the tree only grows.
#
#   bash tests/format_test.sh          (also run by `bazel test //tests:format_test`)
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$root"
command -v clang-format >/dev/null || { echo "clang-format is not installed (tools/install-deps.sh)" >&2; exit 1; }
command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 ||
  { echo "not a git checkout: nothing to compare with" >&2; exit 1; }
base="$(cat tools/format-base)"
git cat-file -e "$base^{commit}" 2>/dev/null ||
  { echo "tools/format-base names $base, which this clone does not have" >&2; exit 1; }
mapfile -t files < <({ git diff --name-only --diff-filter=d "$base" -- '*.cc' '*.h' '*.c';
                       git ls-files --others --exclude-standard -- '*.cc' '*.h' '*.c'; } |
                     grep -v '^third_party/' | sort -u)
bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! clang-format --dry-run -Werror --style=file "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)" >&2
    bad=$((bad + 1))
  fi
done
if [ "$bad" -ne 0 ]; then
  echo "$bad of ${#files[@]} changed files are not formatted" >&2
  exit 1
fi
echo "${#files[@]} changed files, all formatted"
