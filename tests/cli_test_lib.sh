# tests/cli_test_lib.sh: what the asrctl end-to-end scripts share, sourced
# by them: asrctl from the first argument, a temporary state directory,
# fabric and PKI, and the check/a/must helpers. The script ends with
#   echo "NAME: $passes passed, $fails failed"; test "$fails" -eq 0
asrctl="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fab="$tmp/fabric"
state="$tmp/state"
pki="$tmp/pki"
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

a() { "$asrctl" --state-dir "$state" --fabric "$fab" "$@"; }
must() {  # must COMMAND...: runs asrctl with the state and fabric; stops the test on failure
  if ! a "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: asrctl $*"
    cat "$tmp/out" "$tmp/err"
    exit 1
  fi
}
