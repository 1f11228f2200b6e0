"""The benchmark runner behind bench/run.sh: runs every workload several times with nn and
with PyTorch, side by side (interleaved, so that a noisy moment hits all of them), and prints
one markdown table: by default each time is the best (the shortest) of its runs, the usual
choice on a shared machine, where other work only ever adds time (--stat median for medians).
Run it through run.sh, which builds nn first.

Times, for each run:
- process s: wall time of the whole process (fork to exit), measured here.
- loop s: the training loop alone. torch: the script's own timer around its loop.
  nn: the process time minus the time of the same script cut just before its `train` block
  (the "setup" run: start-up, reading or making the data, the model, `load`; the data the
  train block uses are computed there too, by a print of their sums). nn has no clock to
  read inside a script.
- peak MB: the maximum resident set size of the process, from GNU time (`/usr/bin/time -f %M`).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)

WORKLOADS = [
    # key, name, script stem, what the loss column is
    ("w1", "W1 neuron", "w1_neuron"),
    ("w2", "W2 xor", "w2_xor"),
    ("w3", "W3 digits", "w3_digits"),
    ("w4", "W4 wide", "w4_wide"),
    ("w5", "W5 moons", "w5_moons"),
    ("w6", "W6 LeNet", "w6_lenet"),
]
# Workloads that also run as `nn --keep-denormals` (a row of their own, not compared with
# torch): what flushing denormals in train blocks saves.
KEEP_DENORMALS = ("w5",)
NN_KEEP = "nn --keep-denormals"
W4_FLOP_PER_STEP = 6 * 235146 * 128      # 6 x params x batch
W4_STEPS = 200
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


TIME = "/usr/bin/time"


def run_measured(cmd, env, timeout=900):
    """Runs cmd from the project root: (wall seconds, peak RSS in KB, exit code, stdout,
    stderr). The peak RSS is measured by GNU time (`/usr/bin/time -f %M`) around the child:
    Linux keeps a process's peak RSS across exec, so a child forked from this python would
    count python's own pages too; GNU time's are a few hundred KB. Output goes through files,
    so that nothing else runs while the child is timed."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe, \
            tempfile.NamedTemporaryFile("r") as fm:
        wrap = [TIME, "-f", "%M", "-o", fm.name] if os.access(TIME, os.X_OK) else []
        t0 = time.perf_counter()
        p = subprocess.Popen(wrap + cmd, cwd=ROOT, env=env, stdout=fo, stderr=fe)
        # Not p.wait(timeout): with a timeout it polls, sleeping 0.5, 1, 2, 4 ... ms in turn,
        # so every time it measured was rounded up to 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 ... ms (a
        # 9 ms run read 15.5 ms). A blocking wait returns when the child ends; a timer kills a
        # child that runs too long.
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        p.wait()
        wall = time.perf_counter() - t0
        killer.cancel()
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
        rss = None
        if wrap:
            lines = fm.read().split()
            rss = int(lines[-1]) if lines and lines[-1].isdigit() else None
            if err.startswith("Command exited with non-zero status"):
                err = err.split("\n", 1)[-1]
        return wall, rss, p.returncode, out, err


def parse_nn(out):
    r = {}
    m = re.search(r"^final loss: (\S+)", out, re.M)
    if m:
        r["loss"] = float(m.group(1))
    else:
        m = re.findall(r"^epoch \d+/\d+\s+\S+ ([0-9.]+)", out, re.M)
        if m:
            r["loss"] = float(m[-1])
    m = re.search(r"^test accuracy: (\S+)", out, re.M)
    if m:
        r["acc"] = float(m.group(1))
    m = re.search(r"^label sums: (.*)$", out, re.M)
    if m:
        r["labels"] = m.group(1).split()
    return r


def parse_torch(out):
    m = re.search(r"^BENCH (.*)$", out, re.M)
    if not m:
        return {}
    kv = dict(f.split("=", 1) for f in m.group(1).split())
    r = {"loop": float(kv["loop_s"]), "loss": float(kv["loss"]), "blas": kv.get("blas", "?")}
    if "acc" in kv:
        r["acc"] = float(kv["acc"])
    m = re.search(r"^label sums: (.*)$", out, re.M)
    if m:
        r["labels"] = m.group(1).split()
    return r


def setup_script(stem):
    """The nn script cut before its first `train`; for training on data, the data it would use
    are computed by printing their sums."""
    src = open(os.path.join(HERE, stem + ".nn")).read().split("\n")
    for i, line in enumerate(src):
        if line.startswith("train "):
            head = src[:i]
            m = re.match(r"train \w+ on (.*?)\s*\{", line)
            if m:
                parts, depth, cur = [], 0, ""
                for ch in m.group(1):
                    if ch == "," and depth == 0:
                        parts.append(cur.strip())
                        cur = ""
                        continue
                    depth += ch in "([" and 1 or ch in ")]" and -1 or 0
                    cur += ch
                parts.append(cur.strip())
                if len(parts) == 1:
                    parts = [parts[0] + ".X", parts[0] + ".Y"]
                head.append('print "setup:", ' + ", ".join("sum(%s)" % p for p in parts))
            path = os.path.join(OUT, stem + "_setup.nn")
            with open(path, "w") as f:
                f.write("\n".join(head) + "\n")
            return os.path.relpath(path, ROOT)
    raise SystemExit("bench: %s.nn has no train block" % stem)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


STAT = {"best": min, "median": statistics.median}
stat_name = "best"


def timing(xs):
    """A time from its runs: the --stat chosen (the best, by default)."""
    xs = [x for x in xs if x is not None]
    return STAT[stat_name](xs) if xs else None


def fmt(x, digits=3):
    if x is None:
        return "–"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    if x >= 0.01:
        return "%.3f" % x
    return "%.4f" % x


def fmt_loss(x):
    return "–" if x is None else "%.6g" % x


def fmt_mb(x):
    return "–" if x is None else ("%.1f" % x if x < 10 else "%.0f" % x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nn", required=True, help="the nn binary")
    ap.add_argument("--python", default=sys.executable, help="python with torch (default: this one)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stat", choices=sorted(STAT), default="best",
                    help="each time from its runs: the best (default) or the median")
    ap.add_argument("--only", default="w1,w2,w3,w4,w5,w6", help="workloads, e.g. w3,w4")
    ap.add_argument("--threads", default="1,2", help="thread counts, for nn and for torch")
    args = ap.parse_args()
    global stat_name
    stat_name = args.stat
    os.makedirs(OUT, exist_ok=True)
    subprocess.run([args.python, os.path.join(HERE, "make_inputs.py")], check=True)
    nn = os.path.abspath(args.nn)
    chosen = [w for w in WORKLOADS if w[0] in args.only.split(",")]
    threads = [int(t) for t in args.threads.split(",")]

    base = dict(os.environ)
    coretype = base.get("OPENBLAS_CORETYPE")
    # torch configurations: (label, threads, env)
    blas_envs = []
    unset = {k: v for k, v in base.items() if k not in BLAS_VARS}
    blas_envs.append(("", unset))
    if coretype:
        blas_envs.append((", OPENBLAS_CORETYPE as set", dict(base)))
    configs = [("nn", t, dict(base)) for t in threads]     # nn --threads t
    configs.append((NN_KEEP, threads[0], dict(base)))
    for suffix, env in blas_envs:
        for t in threads:
            configs.append(("torch" + suffix, t, dict(env, OMP_NUM_THREADS=str(t),
                                                      OPENBLAS_NUM_THREADS=str(t),
                                                      MKL_NUM_THREADS=str(t),
                                                      NN_BENCH_THREADS=str(t))))

    load_before = os.getloadavg()
    started = time.time()
    # nn's start-up
    startup = timing([run_measured([nn, "--threads", "1", "-e", "print 1"], configs[0][2])[0]
                   for _ in range(max(args.repeats, 5))])
    results = {}      # (workload, config index) -> list of dicts
    setups = {}
    failures = []
    for key, name, stem in chosen:
        setup = setup_script(stem)
        sruns = {}      # nn's thread count -> setup times (W4's data uses large products)
        for rep in range(args.repeats):
            for t in threads:
                wall, rss, rc, out, err = run_measured([nn, "--threads", str(t), setup],
                                                       configs[0][2])
                if rc != 0:
                    failures.append("%s setup: exit %d\n%s" % (name, rc, err))
                    break
                sruns.setdefault(t, []).append(wall)
            for ci, (label, t, env) in enumerate(configs):
                is_nn = label.startswith("nn")
                if label == NN_KEEP and key not in KEEP_DENORMALS:
                    continue
                if is_nn:
                    cmd = [nn, "--threads", str(t)] + label.split()[1:] + ["bench/%s.nn" % stem]
                else:
                    cmd = [args.python, "bench/%s.py" % stem]
                wall, rss, rc, out, err = run_measured(cmd, env)
                r = parse_nn(out) if is_nn else parse_torch(out)
                r.update(process=wall, rss=rss / 1024.0 if rss else None, rc=rc)
                if rc != 0 or "loss" not in r:
                    failures.append("%s %s x%d: exit %d\n%s%s" % (name, label, t, rc, out[-2000:],
                                                                  err[-2000:]))
                results.setdefault((key, ci), []).append(r)
            print("  %s: run %d/%d done" % (name, rep + 1, args.repeats), file=sys.stderr)
        for t, walls in sruns.items():
            setups[(key, t)] = timing(walls)
    load_after = os.getloadavg()

    # ---- the table ----
    lines = []
    torch_ver = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"],
                               capture_output=True, text=True).stdout.strip()
    nn_ver = subprocess.run([nn, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    cpu = "?"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas_seen = sorted({r.get("blas", "?") for (k, ci), rs in results.items() for r in rs
                        if not configs[ci][0].startswith("nn")})
    lines.append("%s, %d cores (%s), %s; %s at %s; torch %s, BLAS %s; OPENBLAS_CORETYPE %s; "
                 "%s of %d runs; load average %.1f before, %.1f after; %.0f s in all."
                 % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), cpu, platform.machine(),
                    nn_ver or "?", commit or "?", torch_ver, ", ".join(blas_seen),
                    ("= " + coretype) if coretype else "unset",
                    "best" if stat_name == "best" else "medians", args.repeats, load_before[0],
                    load_after[0], time.time() - started))
    lines.append("")
    lines.append("| workload | run | threads | BLAS | loop s | process s | peak MB | final loss | "
                 "test acc | GFLOP/s | torch/nn loop |")
    lines.append("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    best = {}       # workload -> (torch's best loop, nn's loops by thread count)
    keep = {}       # workload -> nn's loop with --keep-denormals
    for key, name, stem in chosen:
        nn_loop = {}    # nn's loop time by thread count: torch is compared at the same count
        for ci, (label, t, env) in enumerate(configs):
            rs = results.get((key, ci), [])
            if not rs:
                continue
            proc = timing([r["process"] for r in rs])
            is_nn = label.startswith("nn")
            if is_nn:
                loop = proc - setups[(key, t)] if setups.get((key, t)) is not None else None
                if label == "nn":
                    nn_loop[t] = loop
                else:
                    keep[key] = loop
            else:
                loop = timing([r.get("loop") for r in rs])
                if loop and (key not in best or loop < best[key][0]):
                    best[key] = (loop, nn_loop)
            blas = "–"
            if not is_nn:
                blas = ", ".join(sorted({r.get("blas", "?") for r in rs}))
            gf = (W4_FLOP_PER_STEP * W4_STEPS / loop / 1e9) if key == "w4" and loop else None
            same = nn_loop.get(t)
            ratio = (loop / same) if (not is_nn and loop and same and same > 0) else None
            loss = med([r.get("loss") for r in rs])
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, label, t, blas, fmt(loop), fmt(proc), fmt_mb(med([r["rss"] for r in rs])),
                # W4's nn loss is its log line's, with 4 decimals: compare at that precision
                ("%.4f" % loss) if key == "w4" and loss is not None else fmt_loss(loss),
                fmt_loss(med([r.get("acc") for r in rs])) if key == "w3" else "",
                ("%.1f" % gf) if gf else "", ("%.2f" % ratio) if ratio else ("1" if label == "nn" else "–")))
    lines.append("")
    for key, name, stem in chosen:
        if keep.get(key) and best.get(key) and best[key][1].get(threads[0]):
            flushed = best[key][1][threads[0]]
            lines.append("%s: nn with denormals kept %s s, flushed (the default) %s s: "
                         "%.2f× slower when kept." % (name, fmt(keep[key]), fmt(flushed),
                                                      keep[key] / flushed))
    lines.append("")
    for key, name, stem in chosen:
        if key in best:
            tb, loops = best[key]
            lines.append("%s: torch's best loop %s s; nn %s." % (name, fmt(tb), ", ".join(
                "with %d thread%s %s s (%.2f×)" % (t, "" if t == 1 else "s", fmt(l), tb / l)
                for t, l in sorted(loops.items()) if l and l > 0)))
    lines.append("")
    lines.append("nn start-up (`nn -e 'print 1'`): %s s. nn setup (the script cut before `train`, "
                 "1 thread): %s." % (fmt(startup), ", ".join(
                     "%s %s s" % (n, fmt(setups.get((k, threads[0])))) for k, n, _ in chosen)))
    lines.append("nn process minus start-up: %s." % ", ".join(
        "%s %s s" % (n, fmt(timing([r["process"] for r in results.get((k, 0), [])]) - startup))
        for k, n, _ in chosen if results.get((k, 0))))
    # W4: both sides must have trained on the same labels
    for key, name, stem in chosen:
        sums = {tuple(r["labels"]) for (k, ci), rs in results.items() if k == key
                for r in rs if "labels" in r}
        if len(sums) > 1:
            lines.append("WARNING: %s: nn and torch made different labels: %s" % (name, sorted(sums)))
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"configs": [(c[0], c[1]) for c in configs], "startup": startup,
                   "setup": {"%s/%d" % k: v for k, v in setups.items()},
                   "runs": {"%s/%d" % k: v for k, v in results.items()}}, f, indent=1)
    if failures:
        print("\nFAILURES:", file=sys.stderr)
        for f in failures:
            print(f, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
