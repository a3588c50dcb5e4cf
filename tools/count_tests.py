#!/usr/bin/env python3
"""Counts passed and failed test cases in Bazel's test.xml files.

Usage: count_tests.py BAZEL_TESTLOGS_DIR  ->  prints "PASSED FAILED".
gtest targets report each test case; other targets (C, shell) count as one
case each. Targets that did not run (no test.xml) are not counted here; the
caller checks Bazel's exit code for those.
"""
import os
import sys
import xml.etree.ElementTree as ET


def main() -> None:
    root_dir = sys.argv[1]
    passed = failed = 0
    for dirpath, _, files in os.walk(root_dir, followlinks=True):
        if "test.xml" not in files:
            continue
        try:
            tree = ET.parse(os.path.join(dirpath, "test.xml"))
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
