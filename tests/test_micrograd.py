#!/usr/bin/env python3
"""test_micrograd.py NN: examples/micrograd.nn against its float64 reference.

Each of the example's 100 updates must have the loss that the same updates give in float64
(tests/diff/micrograd.txt, made by tests/diff/gen_micrograd.py with PyTorch), within 1e-4
relative; and the network must end with every point on the right side. The per-update losses
come from the JSON trace's "loss" events (9 significant digits)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    nn = sys.argv[1]
    ref = [l.split() for l in open(os.path.join(ROOT, "tests", "diff", "micrograd.txt"))
           if not l.startswith("#")]
    want = [float(r[0]) for r in ref if r[0] != "accuracy"]
    want_acc = float(ref[-1][1])
    out = subprocess.run([nn, "--trace=json", "examples/micrograd.nn"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    events = [json.loads(l) for l in out.splitlines()]
    got = [e["loss"] for e in events if e["event"] == "loss"]
    logs = [e["text"] for e in events if e["event"] == "print"]
    fails = 0
    if len(got) != len(want):
        print("FAIL: %d updates, the reference has %d" % (len(got), len(want)))
        return 1
    worst = 0.0
    for k, (g, w) in enumerate(zip(got, want)):
        rel = abs(g - w) / abs(w)
        worst = max(worst, rel)
        if rel > 1e-4:
            print("FAIL: update %d: loss %.9g, float64 reference %.9g (relative %.2g)"
                  % (k + 1, g, w, rel))
            fails += 1
    last = logs[-1].split()
    acc = float(last[last.index("correct") + 1])
    if acc != want_acc or acc != 1.0:
        print("FAIL: the last log line says %s, the reference's accuracy is %g" % (logs[-1],
                                                                                   want_acc))
        fails += 1
    print("micrograd: %d updates, worst relative difference from float64 %.2g, accuracy %g"
          % (len(got), worst, acc))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
