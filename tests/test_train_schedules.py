#!/usr/bin/env python3
"""test_train_schedules.py NN: the train blocks of tests/diff/train_schedules.nn (schedules per
epoch and per update, warm-up then another, a formula, one_cycle with momentum, mini-batches and
accumulation) end with the params PyTorch ends with (tests/diff/train_schedules.txt, from
gen_train_schedules.py), to float32 rounding of nn's 6 printed digits."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def numbers(text):
    text = re.sub(r"shape \[[0-9,]*\]", "", text)
    return [float(v) for v in re.findall(r"-?[0-9.]+(?:e[-+]?[0-9]+)?", text)]


def main():
    want = {}
    for line in open(os.path.join(ROOT, "tests", "diff", "train_schedules.txt")):
        if line.startswith("#"):
            continue
        label, _, rest = line.partition(":")
        want[label] = [float(v) for v in rest.split()]
    out = subprocess.run([sys.argv[1], "tests/diff/train_schedules.nn"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    fails = 0
    seen = 0
    for line in out.splitlines():
        label, _, rest = line.partition(":")
        if label not in want:
            continue
        seen += 1
        got = numbers(rest)
        ok = len(got) == len(want[label]) and all(
            abs(g - w) <= 2e-5 * abs(w) + 1e-6 for g, w in zip(got, want[label]))
        if not ok:
            print("FAIL %s: nn %s, torch %s" % (label, got, want[label]))
            fails += 1
    if seen != len(want):
        print("FAIL: %d of the %d cases printed" % (seen, len(want)))
        fails += 1
    print("train_schedules: %d cases against torch, %d failed" % (len(want), fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
