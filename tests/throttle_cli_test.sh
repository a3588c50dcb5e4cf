#!/usr/bin/env bash
# Bandwidth throttles with asrctl as a user sets them, on a simulated fabric
# with real disks: usage errors that say what is wrong, a site-wide and a
# per-VM weekly schedule stored with the site (show, --json, clear), and a
# site service whose cycles of a VM limited to 4 Mbit/s stay at that rate
# over loopback TLS while `item show` names the limit in force and the
# expected RPO.
set -uo pipefail
# asrctl (the first argument), a temporary state, fabric and PKI, check, a, must.
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
usage_error() {  # usage_error NEEDLE COMMAND...: exit code 2 and NEEDLE on stderr
  local needle="$1"
  shift
  a "$@" >"$tmp/o" 2>"$tmp/e"
  local rc=$?
  check "asrctl $* exits 2 (got $rc)" test "$rc" -eq 2
  check "asrctl $* says '$needle'" grep -qF -- "$needle" "$tmp/e"
}

make_two_sites

# Nothing is throttled yet.
out=$(a throttle show)
check "throttle show before: none" grep -q "no throttles" <<<"$out"
a throttle show --site >"$tmp/o" 2>"$tmp/e"
check "throttle show --site without one exits 1" test $? -eq 1
check "throttle show --site says unlimited" grep -q "unlimited" "$tmp/e"

# Bad input: exit 2 and what was wrong.
usage_error "--site (every stream of the site) or --vm VM" throttle set --limit "Mon-Fri 08:00-18:00 50Mbit/s"
usage_error "not both" throttle set --site --vm VM1 --default 50Mbit/s
usage_error "at least one --limit" throttle set --site
usage_error "unknown unit 'furlongs/s'" throttle set --site --limit "Mon-Fri 08:00-18:00 5furlongs/s"
usage_error "the end 08:00 is not after the start 18:00" throttle set --site --limit "Mon-Fri 18:00-08:00 50Mbit/s"
usage_error "overlap on Wed from 17:00 to 18:00" throttle set --site \
  --limit "Mon-Fri 08:00-18:00 50Mbit/s" --limit "Wed 17:00-20:00 10Mbit/s"
usage_error "unknown days 'Funday'" throttle set --site --limit "Funday 08:00-18:00 50Mbit/s"
usage_error "+HH:MM or -HH:MM" throttle set --site --default 50Mbit/s --utc-offset 1
a throttle set --vm VM9 --default 5Mbit/s >"$tmp/o" 2>"$tmp/e"
check "throttle set of an unknown VM exits 1" test $? -eq 1
check "throttle set names the unknown VM" grep -q "no VM 'VM9'" "$tmp/e"

# The site: 50 Mbit/s on weekdays' office hours at UTC+01:00, 200 otherwise.
must throttle set --site --limit "Mon-Fri 08:00-18:00 50Mbit/s" --default 200Mbit/s --utc-offset +01:00
check "set prints the schedule" grep -q "Mon-Fri 08:00-18:00 50Mbit/s" "$tmp/out"
check "set prints the zone" grep -q "UTC+01:00" "$tmp/out"
# VM1: 4 Mbit/s all week.
must throttle set --vm VM1 --limit "daily 00:00-24:00 4Mbit/s"
out=$(a throttle show)
check "show lists the site" grep -q "^site (site)" <<<"$out"
check "show lists VM1" grep -q "^VM VM1 (vm-vm1)" <<<"$out"
check "show: VM1's rule" grep -q "daily 00:00-24:00 4Mbit/s" <<<"$out"
out=$(a --json throttle show --site)
check "show --json: the window" grep -q '"bitsPerSecond":"50000000"' <<<"$out"
check "show --json: the default" grep -q '"defaultBitsPerSecond":"200000000"' <<<"$out"
check "show --json: the offset" grep -q '"utcOffsetMinutes":60' <<<"$out"

# Protect VM1 (the initial replication is throttled too) and let the site
# service replicate a workload's writes at VM1's limit.
must protect enable --vm VM1 --pki "$pki" --point-interval 1s
check "enable succeeded" grep -q "Succeeded" "$tmp/out"
"$asrctl" fabric workload --dir "$fab" --duration 2s --rate 10 --vm vm1 --min-write 128K \
  --max-write 256K --seed 7 >"$tmp/workload" 2>&1
check "workload ran" test $? -eq 0
# The next cycle is due 30 s (the copy frequency) after the initial replication.
a site run --pki "$pki" --duration 40s --point-interval 1s >"$tmp/site" 2>"$tmp/site.err"
check "site run exits 0" test $? -eq 0
out=$(a item show VM1)
check "item show: the throttle in force" grep -q "throttle: 4Mbit/s (vm throttle: daily 00:00-24:00 4Mbit/s)" <<<"$out"
check "item show: the expected RPO" grep -Eq "expected RPO [0-9]" <<<"$out"
a --json item show VM1 >"$tmp/item.json"
# Every cycle that sent more than 1 MB did so at no more than 4 Mbit/s
# (plus one 100 ms burst), and at least one did.
python3 - "$tmp/item.json" >"$tmp/rates" <<'PY'
import json, sys
item = json.load(open(sys.argv[1]))
big = [c for c in item.get("recentCycles", []) if c.get("ok") and int(c.get("bytesSent", 0)) > 1_000_000]
print("cycles", len(big))
for c in big:
    b, s = int(c["bytesSent"]), float(c["seconds"])
    print("rate", b * 8 / s, "bytes", b, "seconds", s)
    if (b - 50_000) * 8 / s > 4_000_000 * 1.01:
        print("TOO FAST")
print("expected", item.get("expectedRpoSeconds"), "limit", item["throttleInForce"]["bitsPerSecond"])
PY
check "a cycle sent more than 1 MB" grep -Eq "^cycles [1-9]" "$tmp/rates"
check "no cycle exceeded 4 Mbit/s" bash -c "! grep -q 'TOO FAST' '$tmp/rates'"
cat "$tmp/rates"

# Clearing VM1's throttle leaves the site's.
must throttle clear --vm VM1
check "clear says so" grep -q "throttle cleared: VM VM1" "$tmp/out"
out=$(a --json item show VM1)
check "after clear: the site's limit" grep -q '"source":"site"' <<<"$out"
a throttle clear --vm VM1 >"$tmp/o" 2>"$tmp/e"
check "clearing twice exits 1" test $? -eq 1
must throttle clear --site
out=$(a item show VM1)
check "no throttle: unlimited" grep -q "throttle: unlimited" <<<"$out"

echo "$passes passed, $fails failed"
test "$fails" -eq 0
