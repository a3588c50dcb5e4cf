#!/usr/bin/env python3
"""What a point's QMP transaction costs a running QEMU VM, by kind of action.

Usage: qemu_point_pause.py QMP_SOCKET ASRCTL [ROUNDS]

QMP_SOCKET is a running VM's monitor (a QEMU host's DIR/vms/ID/qmp.sock,
e.g. after `asrctl --qemu-host DIR qemu vm start vm1`; no other asrctl
command may use the VM meanwhile); ASRCTL makes the target VHDX files. For
each of the VM's drives disk0, disk1, ... the transaction starts:
  full  blockdev-backup sync=full (what a QEMU host's point does today)
  none  blockdev-backup sync=none (copy-before-write only: image fleecing)
  bitmap  block-dirty-bitmap-add (the cut of a change-tracking bitmap)
and prints the round trip of each transaction next to that of query-status
(QMP's own latency). Targets and jobs are removed after each round.
"""
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")
        self._read()
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                return m

    def cmd(self, name, args=None):
        m = {"execute": name}
        if args:
            m["arguments"] = args
        self.f.write(json.dumps(m) + "\n")
        self.f.flush()
        return self._read()

    def timed(self, name, args=None):
        t = time.monotonic()
        r = self.cmd(name, args)
        if "return" not in r:
            raise RuntimeError(f"{name}: {r}")
        return (time.monotonic() - t) * 1000


def main():
    qmp = Qmp(sys.argv[1])
    asrctl = sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    tmp = tempfile.mkdtemp(prefix="qemu-pause-")
    tag = "%x" % random.randrange(1 << 20)
    drives = {b["device"]: b["inserted"] for b in qmp.cmd("query-block")["return"]
              if b["device"].startswith("disk") and "inserted" in b}
    status = sorted(qmp.timed("query-status") for _ in range(10))
    print(f"query-status: median {status[5]:.1f} ms, max {status[-1]:.1f} ms")
    for kind in ("full", "none", "bitmap"):
        times = []
        for k in range(rounds):
            nodes, actions = [], []
            for d, info in sorted(drives.items()):
                name = f"p{kind[0]}{d[4:]}{tag}{k}"
                if kind == "bitmap":
                    actions.append({"type": "block-dirty-bitmap-add",
                                    "data": {"node": info["node-name"], "name": name}})
                    nodes.append((info["node-name"], name))
                    continue
                path = os.path.join(tmp, name + ".vhdx")
                subprocess.run([asrctl, "disk", "create", "--format", "vhdx", "--type", "dynamic",
                                "--size", str(info["image"]["virtual-size"]), "--block-size", "2M",
                                path], check=True, capture_output=True)
                qmp.timed("blockdev-add", {"driver": "vhdx", "node-name": name,
                                           "file": {"driver": "file", "filename": path}})
                actions.append({"type": "blockdev-backup",
                                "data": {"device": d, "target": name, "sync": kind,
                                         "job-id": name, "auto-dismiss": True}})
                nodes.append(name)
            times.append(qmp.timed("transaction", {"actions": actions}))
            if kind == "bitmap":
                for node, name in nodes:
                    qmp.cmd("block-dirty-bitmap-remove", {"node": node, "name": name})
                continue
            if kind == "none":  # copy-before-write runs until cancelled
                for n in nodes:
                    qmp.cmd("block-job-cancel", {"device": n, "force": True})
            while qmp.cmd("query-block-jobs")["return"]:
                time.sleep(0.2)
            for n in nodes:
                for _ in range(50):
                    if "return" in qmp.cmd("blockdev-del", {"node-name": n}):
                        break
                    time.sleep(0.1)
        print(f"transaction {kind:6s}: " + ", ".join(f"{t:.0f}" for t in times) + " ms")
    subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()
