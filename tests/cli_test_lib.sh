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

# The host: the simulated fabric in $fab, or the QEMU host in $qemu_host
# when a script sets it before sourcing this file.
qemu_host="${qemu_host:-}"
a() {
  if [ -n "$qemu_host" ]; then
    "$asrctl" --state-dir "$state" --qemu-host "$qemu_host" "$@"
  else
    "$asrctl" --state-dir "$state" --fabric "$fab" "$@"
  fi
}
must() {  # must COMMAND...: runs asrctl with the state and fabric; stops the test on failure
  if ! a "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: asrctl $*"
    cat "$tmp/out" "$tmp/err"
    exit 1
  fi
}

# make_two_sites: the key file, an example fabric (16 MiB disks; not on a
# QEMU host, whose config the script writes), a vault, vmm-ny and vmm-chi
# registered with their inventories synced from the host, the primary cloud
# paired with the recovery cloud under policy "gold" (30 s, 2 points), a
# network and a storage mapping, and a PKI for loopback TLS. The names are
# the example fabric's unless a script sets primary_cloud, recovery_cloud,
# primary_network, recovery_network, primary_storage, recovery_storage.
make_two_sites() {
  local c1="${primary_cloud:-GoldCloud1}" c2="${recovery_cloud:-GoldCloud2}"
  "$asrctl" key-provider init --key-file "$tmp/kek" >/dev/null || exit 1
  export ASR_KEY_FILE="$tmp/kek"
  if [ -z "$qemu_host" ]; then
    "$asrctl" fabric init --dir "$fab" --example --disk-size 16M >/dev/null || exit 1
  fi
  must init
  must key generate --output "$tmp/vault.key"
  must server register --credentials "$tmp/vault.key" --friendly-name vmm-ny
  must server register --credentials "$tmp/vault.key" --friendly-name vmm-chi --site recovery
  must inventory sync --server vmm-ny
  must inventory sync --server vmm-ny --cloud "$c1"
  must inventory sync --server vmm-chi
  must inventory sync --server vmm-chi --cloud "$c2"
  must cloud pair --primary "$c1" --recovery "$c2"
  must policy create --name gold --replication-provider HyperVReplica2012R2 \
    --replication-frequency-in-seconds 30 --number-of-recovery-points-to-retain 2
  must policy associate --policy gold --pairing "$c1"
  must network-map add --source "${primary_network:-vmn1-ny}" \
    --target "${recovery_network:-vmn1-chi}"
  must storage-map add --source "${primary_storage:-sc-gold}" \
    --target "${recovery_storage:-sc-gold-t}"
  "$asrctl" pki init --dir "$pki" --recovery-san 127.0.0.1 >/dev/null || exit 1
}
