#!/usr/bin/env bash
# The main job: a disaster-recovery drill on the embedded default — two sites
# in a local state directory. Installs what is missing and builds asrctl
# first. State goes to .drill/ (override with ASR_DRILL_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
echo "== building asrctl"
bazel build --config=opt //asr/cli:asrctl 2>&1 | grep -E '^(ERROR|INFO: Build)' || true
asrctl="$PWD/bazel-bin/asr/cli/asrctl"
[ -x "$asrctl" ] || { echo "drill: asrctl did not build" >&2; exit 1; }

dir="${ASR_DRILL_DIR:-$PWD/.drill}"
rm -rf "$dir"
mkdir -p "$dir"
state="$dir/state"

echo "== 1. state directory with two sites"
"$asrctl" --state-dir "$state" init
"$asrctl" --state-dir "$state" object list site

echo "== drill complete: state in $state"
