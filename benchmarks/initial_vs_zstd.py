#!/usr/bin/env python3
"""The initial replication against `zstd -1 -T2`, side by side on one disk.

Builds a VHDX (dynamic) from a tar of system files, then alternates, --runs
times:

  zstd -1 -T2 -q -c RAW | wc -c        (the reference: both cores compressing)
  asrctl replicate --mode initial      (read, compress, mutual TLS over
                                        loopback, receiver decodes and writes
                                        a durable VHDX replica)

Each asr run starts from nothing: a fresh receiver directory and no
replication state next to the source. Alternating the two keeps a busy
neighbour on this shared machine from favouring one side. Prints every run
and the medians: MB/s of virtual disk size, CPU seconds (sender and receiver
together for asr), and asr's share of zstd's throughput.

Usage: benchmarks/initial_vs_zstd.py [--size 1G] [--runs 5] [--level 1]
                                     [--workdir DIR] [--keep]
Needs: a --config=opt build of //asr/cli:asrctl (the script builds it), zstd.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replication_vs_rsync import ROOT, bazel_bin, make_corpus, proc_cpu, sh, timed  # noqa: E402


def parse_size(text):
    return int(text[:-1]) << {"M": 20, "G": 30}[text[-1].upper()]


def start_receiver(asrctl, pki, replica_dir, log_path):
    port_file = replica_dir + ".port"
    if os.path.exists(port_file):
        os.unlink(port_file)
    serve = subprocess.Popen(
        [asrctl, "replica", "serve", "--listen", "127.0.0.1:0", "--port-file", port_file,
         "--dir", replica_dir, "--pki", pki, "--writer", "primary-host", "--point-interval", "0s"],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    for _ in range(400):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            return serve, "127.0.0.1:" + open(port_file).read().strip()
        if serve.poll() is not None:
            break
        time.sleep(0.05)
    serve.kill()
    raise SystemExit(f"the receiver did not start; see {log_path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--level", type=int, default=1)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")

    sh(["bazel", "build", "--config=opt", "//asr/cli:asrctl"], cwd=ROOT,
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    asrctl = os.path.join(bazel_bin(), "asr/cli/asrctl")
    work = args.workdir or tempfile.mkdtemp(prefix="asr-initial-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    pki = os.path.join(work, "pki")
    if not os.path.exists(os.path.join(pki, "ca.pem")):
        sh([asrctl, "pki", "init", "--dir", pki], stdout=subprocess.DEVNULL)
    size = parse_size(args.size)
    raw = os.path.join(work, f"base-{args.size}.raw")
    src = os.path.join(work, f"vm-{args.size}.vhdx")
    if not os.path.exists(raw) or os.path.getsize(raw) != size:
        make_corpus(raw, size, ["/usr/lib", "/usr/bin"])
        if os.path.exists(src):
            os.unlink(src)
    if not os.path.exists(src):
        sh([asrctl, "disk", "convert", raw, src, "--src-format", "raw", "--format", "vhdx",
            "--type", "dynamic"], stdout=subprocess.DEVNULL)
    # Warm the page cache for both inputs alike.
    for path in (raw, src):
        sh(["sh", "-c", f"cat {path} > /dev/null"])

    print(f"# initial replication vs zstd -{args.level} -T2, {args.size} "
          f"(page cache warm); work dir {work}", flush=True)
    zstd_runs, asr_runs = [], []
    for i in range(args.runs):
        w, c, done = timed(["sh", "-c", f"zstd -{args.level} -T2 -q -c {raw} | wc -c"])
        zstd_runs.append((size / w / 1e6, c, int(done.stdout)))

        for suffix in ("", ".pending"):
            if os.path.exists(src + ".asrrepl" + suffix):
                os.unlink(src + ".asrrepl" + suffix)
        replica = os.path.join(work, "replica")
        shutil.rmtree(replica, ignore_errors=True)
        serve, to = start_receiver(asrctl, pki, replica, os.path.join(work, "serve.log"))
        try:
            w, c, done = timed([asrctl, "replicate", "--to", to, "--pki", pki,
                                "--receiver-name", "recovery-host", "--json", "--disk", src, "--mode", "initial",
                                "--compression-level", str(args.level)], extra_pid=serve.pid)
        finally:
            serve.terminate()
            serve.wait()
        st = json.loads(done.stdout)
        asr_runs.append((size / w / 1e6, c, int(st["bytesSent"])))
        print(f"run {i + 1}: zstd {zstd_runs[-1][0]:.0f} MB/s cpu {zstd_runs[-1][1]:.2f} s "
              f"({zstd_runs[-1][2]} bytes) | asr {asr_runs[-1][0]:.0f} MB/s cpu "
              f"{asr_runs[-1][1]:.2f} s ({asr_runs[-1][2]} bytes on the wire) | "
              f"{100 * asr_runs[-1][0] / zstd_runs[-1][0]:.0f}%", flush=True)

    zm = statistics.median(r[0] for r in zstd_runs)
    am = statistics.median(r[0] for r in asr_runs)
    ratios = sorted(100 * a[0] / z[0] for a, z in zip(asr_runs, zstd_runs))
    print(f"median: zstd -{args.level} -T2 {zm:.0f} MB/s (cpu "
          f"{statistics.median(r[1] for r in zstd_runs):.2f} s), asr initial {am:.0f} MB/s (cpu "
          f"{statistics.median(r[1] for r in asr_runs):.2f} s): {100 * am / zm:.0f}% "
          f"(per-run ratios {', '.join(f'{r:.0f}%' for r in ratios)})")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
