# tests/cli_test_lib.sh: what the asrctl end-to-end scripts share, sourced
# by them: asrctl from the first argument, a temporary state directory,
# fabric and PKI, the check/a/must helpers, and make_two_sites. The script ends with
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

# make_two_sites: the key file, an example fabric (16 MiB disks), a vault,
# vmm-ny and vmm-chi registered with their inventories synced from the
# fabric, GoldCloud1 paired with GoldCloud2 under policy "gold" (30 s, 2
# points), VMNetwork1 and GOLD storage mapped, and a PKI for loopback TLS.
make_two_sites() {
  "$asrctl" key-provider init --key-file "$tmp/kek" >/dev/null || exit 1
  export ASR_KEY_FILE="$tmp/kek"
  "$asrctl" fabric init --dir "$fab" --example --disk-size 16M >/dev/null || exit 1
  must init
  must key generate --output "$tmp/vault.key"
  must server register --credentials "$tmp/vault.key" --friendly-name vmm-ny
  must server register --credentials "$tmp/vault.key" --friendly-name vmm-chi --site recovery
  must inventory sync --server vmm-ny
  must inventory sync --server vmm-ny --cloud GoldCloud1
  must inventory sync --server vmm-chi
  must inventory sync --server vmm-chi --cloud GoldCloud2
  must cloud pair --primary GoldCloud1 --recovery GoldCloud2
  must policy create --name gold --replication-provider HyperVReplica2012R2 \
    --replication-frequency-in-seconds 30 --number-of-recovery-points-to-retain 2
  must policy associate --policy gold --pairing GoldCloud1
  must network-map add --source vmn1-ny --target vmn1-chi
  must storage-map add --source sc-gold --target sc-gold-t
  "$asrctl" pki init --dir "$pki" --recovery-san 127.0.0.1 >/dev/null || exit 1
}
