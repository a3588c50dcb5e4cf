#!/usr/bin/env bash
# Fails when a C or C++ file that should follow the repository's
# .clang-format does not. Every file does, except the ones listed in
# tools/format-pending.txt (written before the format check existed); a
# file changed since the commit in tools/format-base must follow it even
# when still listed (when this clone has that commit). Formatting a pending
# file means removing it from the list; the list only ever shrinks.
#
#   bash tests/format_test.sh          (also run by `bazel test //tests:format_test`)
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
cd "$root"
command -v clang-format >/dev/null ||
  { echo "clang-format is not installed (tools/install-deps.sh installs it)" >&2; exit 1; }

declare -A pending=()
while IFS= read -r f; do [ -n "$f" ] && pending["$f"]=1; done < tools/format-pending.txt
declare -A changed=()
base="$(cat tools/format-base)"
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 &&
   git cat-file -e "$base^{commit}" 2>/dev/null; then
  while IFS= read -r f; do changed["$f"]=1; done < <(git diff --name-only "$base" -- '*.cc' '*.h' '*.c')
else
  echo "note: no git history back to $base here; checking every file not pending" >&2
fi

mapfile -t files < <(find asr capi benchmarks tests tools bindings \
                       \( -name '*.cc' -o -name '*.h' -o -name '*.c' \) -type f | sort)
bad=0
checked=0
for f in "${files[@]}"; do
  if [ -n "${pending[$f]:-}" ] && [ -z "${changed[$f]:-}" ]; then continue; fi
  checked=$((checked + 1))
  if ! clang-format --dry-run -Werror --style=file "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)" >&2
    bad=$((bad + 1))
  fi
done
if [ "$checked" -lt 50 ]; then
  echo "only $checked files found under $root: the source tree is missing" >&2
  exit 1
fi
if [ "$bad" -ne 0 ]; then
  echo "$bad of $checked files are not formatted" >&2
  exit 1
fi
echo "$checked files checked, all formatted (${#pending[@]} still pending)"
