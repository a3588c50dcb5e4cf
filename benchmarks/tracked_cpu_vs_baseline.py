#!/usr/bin/env python3
"""Tracked-cycle CPU of this build's codecs against an earlier build of asr.

Issue 14 asks for fewer bytes than the zstd -1 floor "with tracked-cycle CPU
no more than 1.2x today's", today being the code before the issue's work.
This script builds that earlier revision (--baseline-rev, in a git worktree
with its own Bazel output base) next to this checkout, and then, on the same
1 GiB VHDX and the same seeded churn, times tracked cycles of

  baseline   asrctl of --baseline-rev (one codec: per-group zstd frames)
  classic    this build, asrctl replicate --codec classic
  long       this build, asrctl replicate --codec long

in rounds: each round churns every lane's disk with the same seed (recorded
into its tracker), then runs the lanes' tracked cycles one after another, in
an order that rotates from round to round. CPU is user+system of the sender
(rusage of the child) plus the growth of the receiver's /proc ticks. The
machine's load changes from second to second, so the table gives the median
of the per-round ratios and the ratio of the sums over all rounds.

Usage: benchmarks/tracked_cpu_vs_baseline.py --baseline-rev REV
           [--churn 1,5] [--rounds 9] [--size 1G] [--workdir DIR] [--keep]
Needs: git, bazel, zstd; the current build is made with --config=opt.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replication_vs_rsync import ROOT, make_corpus, sh, timed  # noqa: E402


def build(src_dir, output_base=None):
    startup = ["--output_base=" + output_base] if output_base else []
    sh(["bazel"] + startup + ["build", "--config=opt", "//asr/cli:asrctl", "//benchmarks:churn"],
       cwd=src_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    binp = subprocess.run(["bazel"] + startup + ["info", "--config=opt", "bazel-bin"], cwd=src_dir,
                          check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(binp, "asr/cli/asrctl"), os.path.join(binp, "benchmarks/churn")


class Lane:
    """One source disk, its receiver process and the asrctl that drives them."""

    def __init__(self, name, asrctl, churn, codec, case, raw, pki):
        self.name, self.asrctl, self.churn, self.codec = name, asrctl, churn, codec
        self.case, self.pki = case, pki
        shutil.rmtree(case, ignore_errors=True)
        os.makedirs(case)
        self.src = os.path.join(case, "vm.vhdx")
        sh([asrctl, "disk", "convert", raw, self.src, "--src-format", "raw", "--format", "vhdx",
            "--type", "dynamic"], stdout=subprocess.DEVNULL)
        port_file = os.path.join(case, "port")
        self.serve = subprocess.Popen(
            [asrctl, "replica", "serve", "--listen", "127.0.0.1:0", "--port-file", port_file,
             "--dir", os.path.join(case, "replica"), "--pki", pki, "--writer", "primary-host",
             "--point-interval", "0s"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(case, "serve.log"), "w"))
        for _ in range(400):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            time.sleep(0.05)
        self.rep = [asrctl, "replicate", "--to", "127.0.0.1:" + open(port_file).read().strip(),
                    "--pki", pki, "--receiver-name", "recovery-host", "--json"]
        if codec:
            self.rep += ["--codec", codec]
        timed(self.rep + ["--disk", self.src, "--mode", "initial"])
        self.cpu, self.bytes = [], []

    def churn_round(self, pct, seed, corpus):
        sh([self.churn, "--disk", self.src, "--percent", f"{pct:g}", "--seed", str(seed),
            "--corpus", corpus, "--record", "--changed-out", os.path.join(self.case, "changed.bin")],
           stdout=subprocess.DEVNULL)

    def tracked(self):
        _, cpu, done = timed(self.rep + ["--disk", self.src, "--mode", "tracked"],
                             extra_pid=self.serve.pid)
        out = json.loads(done.stdout)
        if out.get("modeUsed") != "tracked":
            sys.exit(f"{self.name}: the tracked cycle scanned instead: {out.get('fallbackReason')}")
        self.cpu.append(cpu)
        self.bytes.append(int(out.get("bytesSent", 0)))

    def identical(self):
        return subprocess.run([self.asrctl, "disk", "compare", self.src,
                               os.path.join(self.case, "replica", "replica.vhdx")],
                              capture_output=True).returncode == 0

    def stop(self):
        self.serve.send_signal(signal.SIGTERM)
        try:
            self.serve.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.serve.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--baseline-rev", required=True)
    ap.add_argument("--churn", default="1,5")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="asr-cpu-vs-baseline-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    base_src = os.path.join(work, "baseline-src")
    if not os.path.isdir(base_src):
        sh(["git", "worktree", "add", "--detach", base_src, args.baseline_rev], cwd=ROOT,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=base_src, check=True,
                              capture_output=True, text=True).stdout.strip()
    old_asrctl, old_churn = build(base_src, os.path.join(work, "baseline-bazel"))
    asrctl, churn = build(ROOT)

    pki = os.path.join(work, "pki")
    if not os.path.isdir(pki):
        sh([asrctl, "pki", "init", "--dir", pki], stdout=subprocess.DEVNULL)
    corpus = os.path.join(work, "new-data.bin")
    if not os.path.exists(corpus):
        make_corpus(corpus, 64 << 20, ["/usr/share"])
    size = int(args.size[:-1]) << {"M": 20, "G": 30}[args.size[-1].upper()]
    raw = os.path.join(work, f"base-{args.size}.raw")
    if not os.path.exists(raw) or os.path.getsize(raw) != size:
        make_corpus(raw, size, ["/usr/lib", "/usr/bin"])

    print(f"# tracked-cycle CPU: baseline {base_rev} vs this build; work dir {work}", flush=True)
    results = []
    for pct in [float(p) for p in args.churn.split(",")]:
        lanes = []
        try:
            lanes = [Lane("baseline", old_asrctl, old_churn, None,
                          os.path.join(work, f"{pct:g}-baseline"), raw, pki),
                     Lane("classic", asrctl, churn, "classic",
                          os.path.join(work, f"{pct:g}-classic"), raw, pki),
                     Lane("long", asrctl, churn, "long", os.path.join(work, f"{pct:g}-long"), raw,
                          pki)]
            for r in range(args.rounds):
                seed = 100 + r
                for lane in lanes:
                    lane.churn_round(pct, seed, corpus)
                for i in range(len(lanes)):
                    lanes[(r + i) % len(lanes)].tracked()
                print(f"{pct:g}% round {r + 1}: " + ", ".join(
                    f"{l.name} {l.cpu[-1]:.2f} s {l.bytes[-1]} B" for l in lanes), flush=True)
            same = {l.name: l.identical() for l in lanes}
        finally:
            for lane in lanes:
                lane.stop()
        results.append((pct, lanes, same))
        if not args.keep:
            for lane in lanes:
                shutil.rmtree(lane.case, ignore_errors=True)

    print()
    print(f"| churn | lane | tracked bytes, median | tracked CPU, median | vs baseline: median "
          f"of rounds / sum | vs classic: median of rounds / sum | replica identical |")
    print("|---|---|---|---|---|---|---|")
    for pct, lanes, same in results:
        base, classic = lanes[0], lanes[1]
        for l in lanes:
            def ratios(ref):
                per = statistics.median(a / b for a, b in zip(l.cpu, ref.cpu) if b > 0)
                return f"{per:.2f}× / {sum(l.cpu) / sum(ref.cpu):.2f}×"
            print(f"| {pct:g}% | {l.name} | {statistics.median(l.bytes) / 1e6:.2f} MB | "
                  f"{statistics.median(l.cpu):.3f} s | {ratios(base)} | {ratios(classic)} | "
                  f"{'yes' if same[l.name] else 'NO'} |")
    if not args.keep:
        # The baseline's checkout goes (and its build with --workdir unset);
        # --workdir keeps the disks' corpus and the baseline's build.
        sh(["git", "worktree", "remove", "--force", base_src], cwd=ROOT)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
