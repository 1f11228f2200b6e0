#!/usr/bin/env python3
"""loop.py: a training loop written by hand (for ... { zero_grad; backward loss; step ... })
against the same work as a `train LOSS` block, in nn alone. The language promises that a loop's
body is compiled once and replayed like a train block; the target is a hand-written loop within
1.5x of the block's time.

  bench/loop.py [--nn build-bench/nn] [--repeats 15]

Each script runs `repeats` times (the two interleaved); its loop time is the median run minus
the median run of the same script with one step (start-up, compiling, printing). Both must end
with the same printed results (the same float32 updates). Prints a markdown table."""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = [("W1 neuron, 100,000 steps", "w1_loop.nn", "w1_neuron.nn"),
         ("W2 xor, 10,000 steps", "w2_loop.nn", "w2_train_loss.nn")]


def one_step(text):
    """The script with one step instead of many: its start-up cost."""
    text = re.sub(r"for k in 0\.\.\d+", "for k in 0..1", text)
    return re.sub(r"epochs \d+", "epochs 1", text)


def run(nn, path):
    t = time.perf_counter()
    out = subprocess.run([nn, path], stdout=subprocess.PIPE, check=True).stdout
    return time.perf_counter() - t, out


def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nn", default=os.path.join(HERE, "..", "build-bench", "nn"))
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    work = tempfile.mkdtemp()
    print("CPU: %s; median of %d runs each, start-up subtracted\n" % (cpu(), args.repeats))
    print("| work | hand-written loop s | train LOSS s | loop / train | same result |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, loop, block in PAIRS:
        paths, times, outs = {}, {}, {}
        for kind, f in (("loop", loop), ("train", block)):
            text = open(os.path.join(HERE, f)).read()
            paths[kind] = os.path.join(HERE, f)
            paths[kind + "1"] = os.path.join(work, kind + "1.nn")
            open(paths[kind + "1"], "w").write(one_step(text))
        for key in paths:
            times[key] = []
        for _ in range(args.repeats):
            for key, p in paths.items():
                t, out = run(args.nn, p)
                times[key].append(t)
                outs[key] = out
        med = {k: statistics.median(v) for k, v in times.items()}
        lt, tt = med["loop"] - med["loop1"], med["train"] - med["train1"]
        print("| %s | %.4f | %.4f | %.2f | %s |" % (name, lt, tt, lt / tt,
                                                    "yes" if outs["loop"] == outs["train"]
                                                    else "NO"))


if __name__ == "__main__":
    main()
