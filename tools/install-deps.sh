#!/usr/bin/env bash
# Installs what building and testing asr needs, from Debian's archive, if it
# is missing. Safe to run again: it does nothing when everything is there.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java     # Bazel 4.2.3 and the Java rules it loads
  g++ pkg-config python3
  libabsl-dev libprotobuf-dev protobuf-compiler libzstd-dev
  libxxhash-dev                        # XXH3-128 block digests of the replication manifest
  android-libboringssl-dev             # BoringSSL (TLS 1.3, Ed25519, AEAD)
  libgtest-dev libgmock-dev libbenchmark-dev
  qemu-utils                           # qemu-img/qemu-io: independent VHD/VHDX checks
  rsync zstd                           # the benchmarks' baseline
  clang-format git                     # tests/format_test.sh: changed files are formatted
  qemu-system-x86 linux-image-amd64 busybox-static cpio  # asr/qemu: real VMs and their test guest
  qemu-guest-agent                     # asr/qemu: the test guest's agent (app-consistent points)
  chromium                             # tests/report_cli_test.sh: the HTML report in headless Chromium
  libpq-dev postgresql                 # the PostgreSQL state store (libpq) and its tests' servers
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "note: the .NET SDK (dotnet) is not on PATH; the .NET binding tests need it" >&2
fi

# PowerShell 7.6.9 (a .NET tool) and Pester 5.7.1 for the PowerShell module's tests.
bash "$(dirname "$0")/../bindings/powershell/tools/install-pwsh.sh" ||
  echo "note: pwsh or Pester could not be installed; the PowerShell module's tests will fail" >&2
