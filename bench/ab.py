#!/usr/bin/python3
"""ab.py: nn against nn. Runs the five workloads (the nn side of bench/run.sh) with two nn
binaries, a run of one then a run of the other, so that a noisy machine slows both alike, and
prints the median process time of each, with the ratio after / before. For a change that should
not cost anything (is any workload slower?) rather than for the comparison with PyTorch.

  bench/ab.py BEFORE_NN AFTER_NN [--repeats N] [--only w1,w4] [--threads 1,2]

Build the "before" binary from a worktree of the older commit, e.g.
  git worktree add /tmp/before HEAD~1
  cmake -S /tmp/before -B /tmp/before/b -DCMAKE_BUILD_TYPE=Release -DNN_TESTS=OFF
  cmake --build /tmp/before/b --target nn
and the "after" one as bench/run.sh does (build-bench/nn). Needs numpy (for the inputs that
make_inputs.py writes), not torch. Times are whole processes (start-up and setup included,
the same on both sides): a ratio of 1.05 on a 0.03 s process is 1.5 ms.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from harness import WORKLOADS   # (key, name, script stem), as bench/run.sh runs them

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run_once(nn, threads, stem):
    """The wall time of one run of the workload's script; exits if it fails."""
    cmd = [nn, "--threads", str(threads), "bench/%s.nn" % stem]
    start = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit("ab: %s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return wall, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default=",".join(w[0] for w in WORKLOADS))
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    subprocess.run([sys.executable, os.path.join(HERE, "make_inputs.py")], check=True)
    nns = [os.path.abspath(args.before), os.path.abspath(args.after)]
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "?")
    print("%s, %d cores (%s); medians of %d runs each, interleaved; load average %.1f before"
          % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), cpu, args.repeats,
             os.getloadavg()[0]))
    print()
    print("| workload | threads | before s | after s | after / before | same output |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for key, name, stem in WORKLOADS:
        if key not in args.only.split(","):
            continue
        for t in (int(x) for x in args.threads.split(",")):
            times, outs = ([], []), [None, None]
            for _ in range(args.repeats):
                for side in (0, 1):
                    wall, out = run_once(nns[side], t, stem)
                    times[side].append(wall)
                    outs[side] = out
            b, a = statistics.median(times[0]), statistics.median(times[1])
            print("| %s | %d | %.4f | %.4f | %.3f | %s |"
                  % (name, t, b, a, a / b, "yes" if outs[0] == outs[1] else "no"))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
