#!/usr/bin/env bash
# Installs what the PowerShell module's tests need, if missing: PowerShell
# 7.6.9 as a .NET tool (pwsh) and Pester 5.7.1 from NuGet. Safe to run
# again. Prints nothing when both are there.
#
#   bash bindings/powershell/tools/install-pwsh.sh
#
# Where: $ASR_TOOLS_DIR (default ~/.cache/asr-tools)/pwsh/pwsh, and Pester in
# the NuGet package folder (~/.nuget/packages/pester/5.7.1). The test script
# (bindings/powershell/test.sh) finds them there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${ASR_TOOLS_DIR:-$HOME/.cache/asr-tools}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! command -v dotnet >/dev/null 2>&1; then
  echo "note: the .NET SDK (dotnet) is not on PATH; the PowerShell module's tests need it" >&2
  exit 0
fi

if [ ! -x "$tools/pwsh/pwsh" ]; then
  echo "installing PowerShell 7.6.9 into $tools/pwsh"
  mkdir -p "$tools"
  dotnet tool install PowerShell --version 7.6.9 --tool-path "$tools/pwsh"
fi

packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
if [ ! -f "$packages/pester/5.7.1/tools/Pester.psd1" ]; then
  echo "restoring Pester 5.7.1 from NuGet"
  dotnet restore "$here/pester/pester.csproj" --configfile "$here/../../dotnet/nuget.config" >/dev/null
fi
