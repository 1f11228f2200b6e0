#!/usr/bin/env python3
"""test_bn_train.py NN: the train blocks of tests/diff/bn_train.nn (batchnorm of images,
features and sequences, a few updates from nn's initial weights) end as PyTorch's do
(tests/diff/bn_train.txt, from gen_bn_train.py): the same log lines, and each batchnorm layer's
running mean and variance, W and b, and the models' outputs in evaluation, to 1e-4 relative.
Needs no torch."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
LOG = re.compile(r"^(epoch \d+/\d+)  cross_entropy (%s)  accuracy (%s)$" % (NUM, NUM))
PRINT = re.compile(r"^([\w.()]+):(.*)$")

# a printed number (6 digits) against torch's: 1e-4 of it, and 1e-6 near 0; a log line's
# number (4 decimals) may also be off by its rounding
RTOL, ATOL, LOG_ROUNDING = 1e-4, 1e-6, 5e-5


def printed(text):
    """nn's stdout as (label, numbers) in order: a log line's loss and accuracy, a print's
    tensor (its continuation lines too, without its shape)."""
    out = []
    for line in text.splitlines():
        log, labelled = LOG.match(line), PRINT.match(line)
        if log:
            out.append([log.group(1), [float(log.group(2)), float(log.group(3))], True])
        elif labelled:
            out.append([labelled.group(1), [], False])
            line = labelled.group(2)
        elif not out or out[-1][2] or not line.startswith(" "):
            raise ValueError("an unexpected line: %r" % line)
        if not log:
            line = re.sub(r"shape \[[\d,]*\]", "", line)
            out[-1][1] += [float(v) for v in re.findall(NUM, line)]
    return out


def main():
    want = []
    for line in open(os.path.join(ROOT, "tests", "diff", "bn_train.txt")):
        if not line.startswith("#"):
            label, _, rest = line.partition(": ")
            want.append((label, [float(v) for v in rest.split()]))
    p = subprocess.run([sys.argv[1], "tests/diff/bn_train.nn"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("FAIL: nn exits with %d\n%s" % (p.returncode, p.stderr))
        return 1
    got = printed(p.stdout)
    fails, worst = 0, 0.0
    if [g[0] for g in got] != [w[0] for w in want]:
        print("FAIL: nn prints %s, torch's file has %s" % ([g[0] for g in got],
                                                           [w[0] for w in want]))
        return 1
    for (label, mine, log), (_, theirs) in zip(got, want):
        slack = LOG_ROUNDING if log else 0.0
        ok = len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            allowed = RTOL * abs(b) + ATOL + slack
            worst = max(worst, (abs(a - b) - slack) / (RTOL * abs(b) + ATOL))
            ok = ok and abs(a - b) <= allowed
        if not ok:
            print("FAIL %s: nn %s, torch %s" % (label, mine, theirs))
            fails += 1
    print("bn_train: %d lines against torch, %d failed; the worst difference is %.2f of 1e-4 "
          "relative" % (len(want), fails, worst))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
