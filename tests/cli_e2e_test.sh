#!/usr/bin/env bash
# End-to-end checks of asrctl as a user runs it: exit codes, stdout/stderr,
# and state that persists between invocations.
set -uo pipefail
asrctl="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
state="$tmp/state"
fails=0
passes=0

check() {  # check DESCRIPTION CONDITION...
  local what="$1"
  shift
  if "$@"; then
    passes=$((passes + 1))
  else
    fails=$((fails + 1))
    echo "FAIL: $what"
  fi
}

out=$("$asrctl" version)
check "version prints a version" grep -Eq '^asrctl [0-9]+\.[0-9]+\.[0-9]+$' <<<"$out"
out=$("$asrctl" --json version)
check "version --json is JSON" grep -Eq '^\{"version":"[0-9.]+"\}$' <<<"$out"

"$asrctl" --state-dir "$state" init >"$tmp/init.out" 2>&1
check "init without a key provider fails" test $? -eq 1
check "init says how to configure a key provider" grep -q "asrctl key-provider init" "$tmp/init.out"
"$asrctl" key-provider init --key-file "$tmp/kek" >/dev/null
check "key file is private" test "$(stat -c %a "$tmp/kek")" = 600
export ASR_KEY_FILE="$tmp/kek"
"$asrctl" --state-dir "$state" init >"$tmp/init.out" 2>&1
check "init exits 0" test $? -eq 0
check "init says what it did" grep -q "initialized state directory $state" "$tmp/init.out"
check "state directory has a snapshot" test -f "$state/SNAPSHOT"

out=$("$asrctl" --state-dir "$state" init --json)
check "init is idempotent and says so" grep -q '"alreadyInitialized":true' <<<"$out"

out=$("$asrctl" --state-dir "$state" object list site)
check "two sites: primary" grep -q '"id":"primary"' <<<"$out"
check "two sites: recovery" grep -q '"id":"recovery"' <<<"$out"

"$asrctl" --state-dir "$state" object get cloud nosuch >"$tmp/o" 2>"$tmp/e"
rc=$?
check "missing object exits 1" test "$rc" -eq 1
check "missing object: message on stderr" grep -q "no cloud with id 'nosuch'" "$tmp/e"
check "missing object: nothing on stdout" test ! -s "$tmp/o"

"$asrctl" --state-dir "$state" object list spaceship >"$tmp/o" 2>"$tmp/e"
check "unknown kind fails" test $? -ne 0
check "unknown kind lists known kinds" grep -q "known kinds: vault, site" "$tmp/e"

"$asrctl" frobnicate >"$tmp/o" 2>"$tmp/e"
check "unknown command exits 2" test $? -eq 2
check "unknown command points to help" grep -q "asrctl help" "$tmp/e"

"$asrctl" init --bogus >"$tmp/o" 2>"$tmp/e"
check "unknown option exits 2" test $? -eq 2
check "unknown option is named" grep -q "unknown option --bogus" "$tmp/e"

"$asrctl" --state-dir "$tmp/nowhere" object list site >"$tmp/o" 2>"$tmp/e"
check "read of a missing state dir fails" test $? -ne 0
check "read of a missing state dir says so" grep -q "does not exist" "$tmp/e"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
