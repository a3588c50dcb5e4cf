#!/usr/bin/env bash
# Builds libasr.so (and asrctl, the replication tests' receiver) with Bazel and runs the .NET binding's xunit tests against it,
# after checking that the generated model (Asr/Model/*.g.cs) matches the .proto files; then packs the binding and runs the
# sample from the package (pack_test.sh), counted as one more test.
#
#   bindings/dotnet/test.sh            (from anywhere in the repository)
#   ASR_BAZEL_OUTPUT_BASE=DIR bindings/dotnet/test.sh   (bazel --output_base=DIR)
#
# The last line of output is always "dotnet: N passed, N failed" (xunit test
# counts, from the trx results file, plus the package test). Exits non-zero if
# the build fails, any test fails, or no results were produced.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1

passed=0
failed=0
summary() { echo "dotnet: ${passed} passed, ${failed} failed"; }

bazel_cmd=(bazel)
if [[ -n "${ASR_BAZEL_OUTPUT_BASE:-}" ]]; then
  bazel_cmd+=(--output_base="$ASR_BAZEL_OUTPUT_BASE")
fi

if ! python3 bindings/dotnet/tools/generate_model.py --check; then
  failed=1
  summary
  exit 1
fi

if ! "${bazel_cmd[@]}" build //capi:libasr.so //asr/cli:asrctl; then
  echo "test.sh: bazel build //capi:libasr.so //asr/cli:asrctl failed; tests not run" >&2
  summary
  exit 1
fi

native_dir="$(readlink -f bazel-bin/capi)"
if [[ ! -f "$native_dir/libasr.so" ]]; then
  echo "test.sh: $native_dir/libasr.so missing after the build" >&2
  summary
  exit 1
fi
# No ASR_NATIVE_DIR or LD_LIBRARY_PATH: the test project copies bazel-bin/capi/libasr.so next to
# the binding (runtimes/<rid>/native), as a plain `dotnet test` does.
unset ASR_NATIVE_DIR

results="$(mktemp -d "${TMPDIR:-/tmp}/asr-dotnet-results.XXXXXX")"
trap 'rm -rf "$results"' EXIT

dotnet test bindings/dotnet/Asr.Tests --nologo \
  --logger "trx;LogFileName=asr-tests.trx" \
  --logger "console;verbosity=normal" \
  --results-directory "$results"
rc=$?

trx="$results/asr-tests.trx"
if [[ ! -f "$trx" ]]; then
  echo "test.sh: dotnet test wrote no results (exit code $rc)" >&2
  failed=$((failed > 0 ? failed : 1))
  passed=0
  echo "test.sh: no test counts available; counting the run as 1 failure" >&2
  summary
  exit 1
fi

counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)"
count() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
passed="$(count passed)"; passed="${passed:-0}"
failed=0
for field in failed error timeout aborted; do
  n="$(count "$field")"
  failed=$((failed + ${n:-0}))
done

echo "== package test (bindings/dotnet/pack_test.sh)"
if bash bindings/dotnet/pack_test.sh "$native_dir/libasr.so"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

summary
if [[ $rc -ne 0 || $failed -ne 0 ]]; then
  exit 1
fi
exit 0
