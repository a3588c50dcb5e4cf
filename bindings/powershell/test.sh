#!/usr/bin/env bash
# Builds the AsrSiteRecovery PowerShell module (and libasr.so and asrctl with
# Bazel), installs pwsh and Pester if missing, and runs the module's Pester
# tests in pwsh.
#
#   bindings/powershell/test.sh            (from anywhere in the repository)
#   ASR_BAZEL_OUTPUT_BASE=DIR bindings/powershell/test.sh   (bazel --output_base=DIR)
#
# The last line of output is always "powershell: N passed, N failed" (Pester
# test counts). Exits non-zero if a build fails, any test fails, or no
# results were produced.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 POWERSHELL_TELEMETRY_OPTOUT=1
passed=0
failed=0
summary() { echo "powershell: ${passed} passed, ${failed} failed"; }
fail() { echo "test.sh: $*" >&2; failed=$((failed > 0 ? failed : 1)); summary; exit 1; }

bazel_cmd=(bazel)
if [[ -n "${ASR_BAZEL_OUTPUT_BASE:-}" ]]; then
  bazel_cmd+=(--output_base="$ASR_BAZEL_OUTPUT_BASE")
fi
"${bazel_cmd[@]}" build //capi:libasr.so //asr/cli:asrctl || fail "bazel build //capi:libasr.so //asr/cli:asrctl failed"
bin="$("${bazel_cmd[@]}" info bazel-bin 2>/dev/null)"
[[ -f "$bin/capi/libasr.so" && -x "$bin/asr/cli/asrctl" ]] || fail "libasr.so or asrctl missing under $bin"

bash "$here/tools/install-pwsh.sh" || fail "installing pwsh and Pester failed"
pwsh="${ASR_TOOLS_DIR:-$HOME/.cache/asr-tools}/pwsh/pwsh"
pester="${NUGET_PACKAGES:-$HOME/.nuget/packages}/pester/5.7.1/tools/Pester.psd1"
[[ -x "$pwsh" && -f "$pester" ]] || fail "pwsh ($pwsh) or Pester ($pester) missing"

work="$(mktemp -d "${TMPDIR:-/tmp}/asr-powershell.XXXXXX")"
trap 'rm -rf "$work"' EXIT
module="$work/AsrSiteRecovery"
dotnet build "$here/AsrSiteRecovery/AsrSiteRecovery.csproj" -c Release -o "$module" --nologo -v quiet ||
  fail "dotnet build of the module failed"

export ASR_PS_MODULE="$module" ASRCTL="$bin/asr/cli/asrctl" ASR_NATIVE_DIR="$bin/capi"
"$pwsh" -NoProfile -NonInteractive -Command "
  \$PSStyle.OutputRendering = 'PlainText'
  Import-Module '$pester'
  \$c = New-PesterConfiguration
  \$c.Run.Path = '$here/tests'
  \$c.Run.PassThru = \$true
  \$c.Output.Verbosity = 'Detailed'
  \$r = Invoke-Pester -Configuration \$c
  'pester-counts: {0} {1}' -f \$r.PassedCount, (\$r.FailedCount + \$r.FailedBlocksCount + \$r.FailedContainersCount)
" 2>&1 | tee "$work/pester.log"

line="$(grep -E '^pester-counts: [0-9]+ [0-9]+' "$work/pester.log" | tail -n 1)"
[[ -n "$line" ]] || fail "Pester wrote no counts"
read -r _ passed failed <<<"$line"
summary
[[ "$failed" -eq 0 && "$passed" -gt 0 ]]
