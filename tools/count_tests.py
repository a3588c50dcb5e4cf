#!/usr/bin/env python3
"""Counts passed and failed test cases in Bazel's test.xml files.

Usage: count_tests.py BAZEL_TESTLOGS_DIR [TARGETS_FILE]  ->  prints "PASSED FAILED".
With TARGETS_FILE (one label a line, e.g. from `bazel query 'tests(//...)'`),
only those targets' results count, so logs of removed targets are ignored.
gtest targets report each test case; other targets (C, shell) count as one
case each. Targets that did not run (no test.xml) are not counted here; the
caller checks Bazel's exit code for those.
"""
import os
import sys
import xml.etree.ElementTree as ET


def main() -> None:
    root_dir = sys.argv[1]
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            labels = [l.strip() for l in f if l.strip().startswith("//")]
        files = [os.path.join(root_dir, l[2:].replace(":", "/"), "test.xml") for l in labels]
        files = [f for f in files if os.path.exists(f)]
    else:
        files = [os.path.join(d, "test.xml") for d, _, names in os.walk(root_dir, followlinks=True)
                 if "test.xml" in names]
    passed = failed = 0
    for path in files:
        try:
            tree = ET.parse(path)
        except ET.ParseError:
            failed += 1
            continue
        for case in tree.iter("testcase"):
            if case.get("status") == "notrun" or case.find("skipped") is not None:
                continue
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            else:
                passed += 1
    print(passed, failed)


if __name__ == "__main__":
    main()
