#!/usr/bin/env python3
"""Side by side, in one run and on the same data: rsync against asr.

For each disk size (default 1 GiB and 4 GiB VHDX) and each churn (1%, 5%,
25% of the 64 KiB blocks rewritten), times

  rsync --inplace --no-whole-file -z -I   (over a pipe: a local "remote shell")
  asrctl replicate --mode scan            (reads the source once)
  asrctl replicate --mode tracked         (reads only the recorded blocks)

and prints wall time, CPU time (client and receiving side together), bytes
on the wire and whether the replica is identical to the source. It also
times the initial replication against `zstd -1 -T2` of the same disk, and
computes zstd -1 of just the changed blocks: the floor for bytes on the wire.

With --codecs classic,long each case runs once per asr codec (`asrctl
replicate --codec`, the same seeded churn each time; rsync only in the
first), and a second table compares the codecs' bytes and tracked CPU.

Usage: benchmarks/replication_vs_rsync.py [--sizes 1G,4G] [--churn 1,5,25]
                                          [--codecs auto] [--workdir DIR] [--keep]
Needs: a --config=opt build of //asr/cli:asrctl and //benchmarks:churn
(the script builds them), rsync, zstd.
"""
import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = 64 << 10


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def bazel_bin():
    out = subprocess.run(["bazel", "info", "--config=opt", "bazel-bin"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    return out


def proc_cpu(pid):
    """CPU seconds (user+system) a running process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def timed(cmd, extra_pid=None, **kw):
    """Runs cmd; returns (wall, cpu of children + extra_pid's growth, completed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra_before = proc_cpu(extra_pid) if extra_pid else 0.0
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if extra_pid:
        cpu += proc_cpu(extra_pid) - extra_before
    return wall, cpu, done


def drop_caches_not_possible_note():
    return "page cache warm (both tools read the same files right after each other)"


def make_corpus(path, size, roots):
    """A tar stream of system files, repeated to `size` bytes: compresses like a VM."""
    with open(path, "wb") as out:
        written = 0
        while written < size:
            tar = subprocess.Popen(["tar", "cf", "-", "--ignore-failed-read"] + roots,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            while written < size:
                chunk = tar.stdout.read(min(8 << 20, size - written))
                if not chunk:
                    break
                out.write(chunk)
                written += len(chunk)
            tar.stdout.close()
            tar.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1G,4G")
    ap.add_argument("--churn", default="1,5,25")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--codecs", default="auto",
                    help="asrctl replicate --codec values to run each case with (comma-separated)")
    args = ap.parse_args()

    sh(["bazel", "build", "--config=opt", "//asr/cli:asrctl", "//benchmarks:churn"], cwd=ROOT,
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    binp = bazel_bin()
    asrctl = os.path.join(binp, "asr/cli/asrctl")
    churn = os.path.join(binp, "benchmarks/churn")
    work = args.workdir or tempfile.mkdtemp(prefix="asr-vs-rsync-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    rsh = os.path.join(work, "local-rsh")
    with open(rsh, "w") as f:
        # rsync runs "<rsh> HOST rsync --server ...": drop HOST, run locally,
        # so sender and receiver talk over a pipe as they would over ssh.
        f.write('#!/bin/sh\nshift\nexec "$@"\n')
    os.chmod(rsh, 0o755)

    sh([asrctl, "pki", "init", "--dir", os.path.join(work, "pki")], stdout=subprocess.DEVNULL)
    new_data = os.path.join(work, "new-data.bin")
    make_corpus(new_data, 64 << 20, ["/usr/share"])

    rows = []
    print(f"# asr vs rsync — {drop_caches_not_possible_note()}; work dir {work}")
    for size_text in args.sizes.split(","):
        size = int(size_text[:-1]) << {"M": 20, "G": 30}[size_text[-1].upper()]
        raw = os.path.join(work, f"base-{size_text}.raw")
        make_corpus(raw, size, ["/usr/lib", "/usr/bin"])
        for pct, codec in [(float(p), c) for p in args.churn.split(",")
                           for c in args.codecs.split(",")]:
            first_codec = codec == args.codecs.split(",")[0]
            case = os.path.join(work, f"{size_text}-{pct:g}-{codec}")
            shutil.rmtree(case, ignore_errors=True)
            os.makedirs(case)
            src = os.path.join(case, "vm.vhdx")
            sh([asrctl, "disk", "convert", raw, src, "--src-format", "raw", "--format", "vhdx", "--type", "dynamic"],
               stdout=subprocess.DEVNULL)
            rdir = os.path.join(case, "rsync-dst")
            os.makedirs(rdir)
            if first_codec:
                shutil.copyfile(src, os.path.join(rdir, "vm.vhdx"))

            port_file = os.path.join(case, "port")
            serve = subprocess.Popen(
                [asrctl, "replica", "serve", "--listen", "127.0.0.1:0", "--port-file", port_file,
                 "--dir", os.path.join(case, "replica"), "--pki", os.path.join(work, "pki"),
                 "--writer", "primary-host", "--point-interval", "0s"],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(case, "serve.log"), "w"))
            try:
                for _ in range(200):
                    if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                        break
                    time.sleep(0.05)
                to = "127.0.0.1:" + open(port_file).read().strip()
                rep = [asrctl, "replicate", "--to", to, "--pki", os.path.join(work, "pki"),
                       "--receiver-name", "recovery-host", "--json", "--codec", codec]

                # zstd -1 -T2 of the whole disk, the initial replication's
                # reference, timed right before it (a shared machine's load
                # changes from minute to minute; benchmarks/initial_vs_zstd.py
                # alternates several runs of both for a steadier figure).
                w, c, _ = timed(["sh", "-c", f"zstd -1 -T2 -q -c {raw} | wc -c"])
                zstd_mbps = size / w / 1e6
                w_init, c_init, done = timed(rep + ["--disk", src, "--mode", "initial"],
                                             extra_pid=serve.pid)
                init = json.loads(done.stdout)
                # Tracked mode needs a tracker that saw every write since the
                # initial copy: churn records into it.
                changed = os.path.join(case, "changed.bin")
                sh([churn, "--disk", src, "--percent", f"{pct:g}", "--seed", "7", "--corpus",
                    new_data, "--record", "--changed-out", changed], stdout=subprocess.DEVNULL)
                floor = int(subprocess.run(["sh", "-c", f"zstd -1 -q -c {changed} | wc -c"],
                                           check=True, capture_output=True, text=True).stdout)

                if first_codec:
                    w_rs, c_rs, done = timed(
                        ["rsync", "--inplace", "--no-whole-file", "-z", "-I", "--stats", "-e", rsh,
                         src, "localhost:" + rdir + "/"])
                    m = re.search(r"Total bytes sent: ([\d,.]+)", done.stdout)
                    m2 = re.search(r"Total bytes received: ([\d,.]+)", done.stdout)
                    rs_bytes = int(m.group(1).replace(",", "").replace(".", "")) + \
                        int(m2.group(1).replace(",", "").replace(".", ""))
                    rs_same = subprocess.run(
                        ["cmp", "-s", src, os.path.join(rdir, "vm.vhdx")]).returncode == 0

                # Tracked first (it consumes the tracker's record), then a scan
                # of the same state (finds nothing new: it shows the cost of
                # reading and hashing the whole disk); then churn again and
                # scan for real.
                w_tr, c_tr, done = timed(rep + ["--disk", src, "--mode", "tracked"],
                                         extra_pid=serve.pid)
                tr = json.loads(done.stdout)
                if tr.get("modeUsed") != "tracked":
                    sys.exit(f"the tracked cycle scanned instead: {tr.get('fallbackReason')}")
                sh([churn, "--disk", src, "--percent", f"{pct:g}", "--seed", "8", "--corpus",
                    new_data, "--changed-out", changed + ".2"], stdout=subprocess.DEVNULL)
                floor2 = int(subprocess.run(["sh", "-c", f"zstd -1 -q -c {changed}.2 | wc -c"],
                                            check=True, capture_output=True, text=True).stdout)
                w_sc, c_sc, done = timed(rep + ["--disk", src, "--mode", "scan"],
                                         extra_pid=serve.pid)
                sc = json.loads(done.stdout)
                replica = os.path.join(case, "replica", "replica.vhdx")
                asr_same = subprocess.run([asrctl, "disk", "compare", src, replica],
                                          capture_output=True).returncode == 0
            finally:
                serve.send_signal(signal.SIGTERM)
                try:
                    serve.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    serve.kill()
            rows.append(dict(size=size_text, pct=pct, codec=codec, tr_codec=tr.get("codec", ""),
                             zstd_mbps=zstd_mbps,
                             init_wall=w_init, init_mbps=size / w_init / 1e6,
                             init_sent=int(init.get("bytesSent", 0)),
                             rs_wall=w_rs, rs_cpu=c_rs, rs_bytes=rs_bytes, rs_same=rs_same,
                             tr_wall=w_tr, tr_cpu=c_tr, tr_bytes=int(tr.get("bytesSent", 0)), floor=floor,
                             sc_wall=w_sc, sc_cpu=c_sc, sc_bytes=int(sc.get("bytesSent", 0)), floor2=floor2,
                             asr_same=asr_same))
            r = rows[-1]
            print(f"{size_text} {pct:g}% codec {codec}: rsync {w_rs:.2f}s/{c_rs:.2f}s cpu {rs_bytes} B "
                  f"same={rs_same} | tracked {w_tr:.2f}s/{c_tr:.2f}s cpu {r['tr_bytes']} B "
                  f"(floor {floor}) | scan {w_sc:.2f}s/{c_sc:.2f}s cpu {r['sc_bytes']} B "
                  f"(floor {floor2}) same={asr_same} | initial {r['init_mbps']:.0f} MB/s vs "
                  f"zstd -1 -T2 {zstd_mbps:.0f} MB/s", flush=True)
            if not args.keep:
                shutil.rmtree(case, ignore_errors=True)

    print()
    print("| disk | churn | rsync wall / cpu | rsync bytes | tracked wall / cpu | tracked bytes "
          "(vs zstd floor) | rsync÷tracked | scan wall / cpu | scan bytes (vs floor) | "
          "scan÷rsync | identical (rsync, asr) | initial MB/s (vs zstd -1 -T2) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['pct']:g}% | {r['rs_wall']:.2f} s / {r['rs_cpu']:.2f} s | "
              f"{r['rs_bytes']/1e6:.2f} MB | {r['tr_wall']:.3f} s / {r['tr_cpu']:.2f} s | "
              f"{r['tr_bytes']/1e6:.2f} MB ({100*r['tr_bytes']/r['floor']:.1f}%) | "
              f"{r['rs_wall']/r['tr_wall']:.1f}× | {r['sc_wall']:.2f} s / {r['sc_cpu']:.2f} s | "
              f"{r['sc_bytes']/1e6:.2f} MB ({100*r['sc_bytes']/r['floor2']:.1f}%) | "
              f"{r['sc_wall']/r['rs_wall']:.2f} | {r['rs_same']}, {r['asr_same']} | "
              f"{r['init_mbps']:.0f} ({100*r['init_mbps']/r['zstd_mbps']:.0f}%) |")
    if len(args.codecs.split(",")) > 1:
        first = args.codecs.split(",")[0]
        print()
        print(f"| disk | churn | codec (used) | tracked bytes (vs floor) | tracked cpu (vs {first}) | "
              f"scan bytes (vs floor) | scan cpu (vs {first}) | identical |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            base = next(b for b in rows if b["size"] == r["size"] and b["pct"] == r["pct"]
                        and b["codec"] == first)
            print(f"| {r['size']} | {r['pct']:g}% | {r['codec']} ({r['tr_codec']}) | "
                  f"{r['tr_bytes']/1e6:.2f} MB ({r['tr_bytes']/r['floor']:.3f}×) | "
                  f"{r['tr_cpu']:.2f} s ({r['tr_cpu']/base['tr_cpu']:.2f}×) | "
                  f"{r['sc_bytes']/1e6:.2f} MB ({r['sc_bytes']/r['floor2']:.3f}×) | "
                  f"{r['sc_cpu']:.2f} s ({r['sc_cpu']/base['sc_cpu']:.2f}×) | {r['asr_same']} |")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
