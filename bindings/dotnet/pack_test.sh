#!/usr/bin/env bash
# Packs the binding as a NuGet package and proves a user's project can use it:
# the package must carry lib/netstandard2.0/Asr.dll and
# runtimes/linux-x64/native/libasr.so; samples/Drill restores it from a folder
# feed (into a package folder of its own, so no cached copy is used) and runs
# with no environment variable pointing at the native library.
#
#   bindings/dotnet/pack_test.sh [PATH/TO/libasr.so]   (default: bazel-bin/capi/libasr.so)
#
# Prints "pack_test: ok" and exits 0, or says what failed and exits 1.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
native="${1:-$root/bazel-bin/capi/libasr.so}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

fail() { echo "pack_test: $*" >&2; exit 1; }
[[ -f "$native" ]] || fail "$native does not exist; run 'bazel build //capi:libasr.so' first"

work="$(mktemp -d "${TMPDIR:-/tmp}/asr-pack.XXXXXX")"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
version="0.1.0-test.$(date +%s)"

dotnet pack "$here/Asr/Asr.csproj" --nologo -c Release -o "$feed" \
  -p:Version="$version" -p:AsrNativeLinuxX64="$(readlink -f "$native")" >"$work/pack.log" 2>&1 ||
  { cat "$work/pack.log" >&2; fail "dotnet pack failed"; }
nupkg="$feed/Asr.$version.nupkg"
[[ -f "$nupkg" ]] || fail "dotnet pack made no $nupkg"

listing="$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$nupkg")"
for entry in lib/netstandard2.0/Asr.dll lib/netstandard2.0/Asr.xml runtimes/linux-x64/native/libasr.so README.md; do
  grep -qx "$entry" <<<"$listing" || fail "$nupkg has no $entry; it has: $(tr '\n' ' ' <<<"$listing")"
done
cmp -s <(python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("runtimes/linux-x64/native/libasr.so"))' "$nupkg") "$native" ||
  fail "the packed libasr.so differs from $native"

# The sample, copied out of the tree so that nothing of the repository's build is near it.
cp -r "$here/samples/Drill" "$work/Drill"
cat >"$work/Drill/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="asr" value="$feed" />
    <add key="local" value="/opt/nuget/packages" />
  </packageSources>
</configuration>
XML
cp "$here/Directory.Build.props" "$work/Directory.Build.props"
(cd "$work/Drill" && env -u ASR_NATIVE_DIR -u LD_LIBRARY_PATH dotnet run --nologo -c Release \
  -p:AsrVersion="$version" --property:RestorePackagesPath="$work/packages" >"$work/run.log" 2>&1) ||
  { cat "$work/run.log" >&2; fail "the sample failed"; }
cat "$work/run.log"
grep -qx "drill: ok" "$work/run.log" || fail "the sample did not print 'drill: ok'"
[[ -f "$work/packages/asr/$version/runtimes/linux-x64/native/libasr.so" ]] ||
  fail "the sample did not restore Asr $version from the feed"
echo "pack_test: ok"
