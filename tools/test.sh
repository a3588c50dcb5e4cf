#!/usr/bin/env bash
# Runs every test of asr: the Bazel tests (C++, C and shell), the .NET
# binding tests and the PowerShell module's Pester tests. Installs what is
# missing first. Ends with one line:
#   N passed, N failed
set -uo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

failed_steps=0
echo "== bazel test //..."
bazel test --keep_going //... 2>&1 | tee /tmp/asr-bazel-test.log | grep -E '^(//|Executed|INFO: Build|ERROR|FAIL)' || true
bazel_rc=${PIPESTATUS[0]}
[ "$bazel_rc" -eq 0 ] || failed_steps=$((failed_steps + 1))

# Count test cases from the JUnit XML files Bazel keeps for each test target.
bazel query 'tests(//...) except attr(tags, manual, //...)' 2>/dev/null >/tmp/asr-test-targets.txt || true
read -r bz_pass bz_fail < <(python3 tools/count_tests.py bazel-testlogs /tmp/asr-test-targets.txt)

echo "== .NET binding tests"
dn_pass=0
dn_fail=0
if [ -x bindings/dotnet/test.sh ] || [ -f bindings/dotnet/test.sh ]; then
  bash bindings/dotnet/test.sh 2>&1 | tee /tmp/asr-dotnet-test.log | tail -n 25
  dn_rc=${PIPESTATUS[0]}
  line=$(grep -E '^dotnet: [0-9]+ passed, [0-9]+ failed' /tmp/asr-dotnet-test.log | tail -n 1)
  if [ -n "$line" ]; then
    dn_pass=$(echo "$line" | sed -E 's/^dotnet: ([0-9]+) passed.*/\1/')
    dn_fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  fi
  if [ "$dn_rc" -ne 0 ] && [ "$dn_fail" -eq 0 ]; then dn_fail=1; fi
fi

echo "== PowerShell module tests (Pester in pwsh)"
ps_pass=0
ps_fail=0
if [ -f bindings/powershell/test.sh ]; then
  bash bindings/powershell/test.sh 2>&1 | tee /tmp/asr-powershell-test.log | tail -n 30
  ps_rc=${PIPESTATUS[0]}
  line=$(grep -E '^powershell: [0-9]+ passed, [0-9]+ failed' /tmp/asr-powershell-test.log | tail -n 1)
  if [ -n "$line" ]; then
    ps_pass=$(echo "$line" | sed -E 's/^powershell: ([0-9]+) passed.*/\1/')
    ps_fail=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  fi
  if [ "$ps_rc" -ne 0 ] && [ "$ps_fail" -eq 0 ]; then ps_fail=1; fi
fi

passed=$((bz_pass + dn_pass + ps_pass))
failed=$((bz_fail + dn_fail + ps_fail))
if [ "$bazel_rc" -ne 0 ] && [ "$bz_fail" -eq 0 ]; then failed=$((failed + 1)); fi
echo "bazel: $bz_pass passed, $bz_fail failed; dotnet: $dn_pass passed, $dn_fail failed; powershell: $ps_pass passed, $ps_fail failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
