#!/usr/bin/env python3
"""test_export_torch.py NN — `nn --export=pytorch` against Debian's python3-torch:

1. every example either exports, and its train.py runs to the end printing nn's lines, or is
   refused with a located error naming the construct; the scripts of tests/export (every
   setting of a train block, formula losses, metrics, schedules and models, params, train LOSS)
   print what nn prints, to the last digit;
2. the train.py of examples/iris.nn and examples/digits.nn reaches nn's test accuracy (within
   one point) and writes the log lines nn writes;
3. with nn's initial weights (train.py draws them with nn's random numbers) and the rows in
   order (`shuffle false`), its first 5 updates match nn's to 1e-4 relative: each k = 1..5 is
   a run of k batches, nn's checkpoint against train.py's;
4. under `torchrun --nproc_per_node=2` on the CPU (gloo, loopback) the digits train.py trains
   and writes a checkpoint that nn loads and evaluates;
5. a conv net with batchnorm saved by nn loads into the PyTorch module of it with load_state_dict, and the
   README's walk-through ("When you outgrow nn") runs as written: export, torchrun, the
   weights back into nn, ONNX, onnxruntime;
6. the helpers' names are kept from the script's (export_torch.c's reserved list).

Skips (exit 77) without python3-torch; tests/install-deps.sh installs it, the suite never does.
The exported programs of a group (the examples, tests/export, the first updates) run one after
another in one Python process (python_all), which imports torch once: 25 s instead of 40.
Everything runs in a temporary folder with links to examples/ and tests/data/ (the scripts'
file names are relative), so what the examples save does not meet other tests' files."""
import os
import re
import shutil
import struct
import json
import subprocess
import sys
import tempfile
import threading

NN = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAILURES = []

try:
    import torch  # noqa: F401  (only that it is there: train.py runs in its own process)
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("export_torch: skipped: needs the Debian package python3-torch "
          "(tests/install-deps.sh installs it)")
    sys.exit(77)
PY = sys.executable


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what + ("\n" + detail if detail else ""))


WORK = tempfile.mkdtemp(prefix="nn-torch-")


def link_data(folder):
    """examples/ and tests/data/ (the image folders of tests/export/image_folder.nn) in a work
    folder, so the scripts' relative file names find them."""
    os.symlink(os.path.join(ROOT, "examples"), os.path.join(folder, "examples"))
    os.makedirs(os.path.join(folder, "tests"))
    os.symlink(os.path.join(HERE, "data"), os.path.join(folder, "tests", "data"))


link_data(WORK)


FOLDERS = {}     # thread -> its own work folder (two threads run the checks, see main)


def here():
    return FOLDERS.get(threading.get_ident(), WORK)


def nn(args, cwd=None):
    """nn in the thread's work folder, where examples/ is the source's (what the scripts save
    stays there)."""
    return subprocess.run([NN] + args, capture_output=True, text=True, cwd=cwd or here(),
                          timeout=600)


def export(script, work, name="train.py"):
    p = nn(["--export=pytorch", script])
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(p.stdout)
    return p, path


def python(path, cwd, *args, env=None):
    env = dict(env or os.environ, OMP_NUM_THREADS="1")   # one core each: two threads run
    return subprocess.run([PY, path] + list(args), capture_output=True, text=True, cwd=cwd,
                          timeout=900, env=env)


# Exported programs one after another in one Python process, so that torch is imported once
# rather than once a program (that import is most of a small program's time): each runs as
# its own __main__ with its own argv, its output captured; the results come back as JSON.
BATCH = r'''
import contextlib, io, json, runpy, sys, traceback
results = []
for job in json.load(sys.stdin):
    out, err, code = io.StringIO(), io.StringIO(), 0
    sys.argv = [job["path"]] + job["args"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(job["path"], run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    results.append({"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
json.dump(results, sys.__stdout__)
'''


def python_all(jobs, cwd):
    """Runs each (path, args) of jobs as `python path args` would, all in one process (BATCH);
    returns, in order, what subprocess.run would have (returncode, stdout, stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([PY, "-c", BATCH], capture_output=True, text=True, cwd=cwd, timeout=1800,
                       env=env, input=json.dumps([{"path": a, "args": list(b)} for a, b in jobs]))
    if p.returncode != 0:
        return [subprocess.CompletedProcess([a], 1, "", p.stderr) for a, _ in jobs]
    return [subprocess.CompletedProcess([job[0]], r["returncode"], r["stdout"], r["stderr"])
            for job, r in zip(jobs, json.loads(p.stdout))]


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        s, t = e["data_offsets"]
        out[name] = struct.unpack("<%df" % ((t - s) // 4), raw[8 + n + s:8 + n + t])
    return out


def accuracy_of(out):
    m = re.search(r"^test accuracy: ([0-9.e-]+)$", out, re.M)
    return float(m.group(1)) if m else None


# ---- 1. every example: exported and run, or refused where it is written ---------------------

def examples(work):
    jobs, names = [], []
    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if not name.endswith(".nn"):
            continue
        p, path = export("examples/" + name, work, name[:-3] + ".py")
        if p.returncode != 0:
            located = re.match(r"^examples/%s:\d+:\d+: error: cannot export .+ to PyTorch"
                               % re.escape(name), p.stderr)
            check("%s: refused with a located error" % name, bool(located) and "^" in p.stderr,
                  p.stderr)
            continue
        jobs.append((path, ("--out", os.path.join(work, "out_" + name[:-3]))))
        names.append(name)
    results = python_all(jobs, here())
    for name, r in zip(names, results):
        check("%s: train.py runs" % name, r.returncode == 0, r.stderr[-2000:])
        want = nn(["examples/" + name]).stdout
        # the log lines and prints: the same lines, in order (numbers may differ in the last
        # digits after many updates: float rounding in other kernels; and a tensor's numbers
        # are padded to its widest)
        shape = lambda text: ["".join(re.sub(r"-?\d[\d.e+-]*", "N", ln).split())
                              for ln in text.splitlines() if not ln.startswith("  after training")]
        check("%s: train.py prints nn's lines" % name, shape(r.stdout) == shape(want),
              "train.py:\n%s\nnn:\n%s" % (r.stdout, want))
        if name in ("iris.nn", "digits.nn"):
            accuracy(name[:-3], want, r)


# ---- 1b. tests/export: every setting and formula, the same numbers --------------------------

def numbers_close(mine, theirs):
    """The same lines, and their numbers within 1e-4 relative (the last printed digit)."""
    num = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"
    a, b = mine.splitlines(), theirs.splitlines()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        # (a tensor's numbers are padded to its widest, which a last digit can change)
        if re.sub(num, "N", x).split() != re.sub(num, "N", y).split():
            return False
        for u, v in zip(re.findall(num, x), re.findall(num, y)):
            if abs(float(u) - float(v)) > 1e-4 * max(1.0, abs(float(u))):
                return False
    return True


def settings(work):
    folder = os.path.join(HERE, "export")
    names = sorted(name for name in os.listdir(folder) if name.endswith(".nn"))
    jobs = []
    for name in names:
        _, path = export(os.path.join(folder, name), work, name[:-3] + ".py")
        jobs.append((path, ("--out", os.path.join(work, "out_" + name[:-3]))))
    for name, r in zip(names, python_all(jobs, here())):
        want = nn([os.path.join(folder, name)])
        check("export/%s: train.py prints what nn prints" % name,
              want.returncode == 0 and r.returncode == 0 and numbers_close(r.stdout, want.stdout),
              "train.py:\n%s%s\nnn:\n%s%s" % (r.stdout, r.stderr[-2000:], want.stdout, want.stderr))


# ---- 2. iris and digits reach nn's accuracy ------------------------------------------------------

def accuracy(name, want, r):
    """iris and digits: the run of train.py that examples() made against nn's output."""
    mine, got = accuracy_of(want), accuracy_of(r.stdout)
    check("%s: train.py's test accuracy %s is nn's %s within one point" % (name, got, mine),
          got is not None and mine is not None and abs(got - mine) <= 0.01, r.stderr[-2000:])
    logs = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch ")]
    check("%s: train.py logs as nn does" % name,
          logs and all(re.match(r"^epoch +\d+/\d+  cross_entropy \d\.\d{4}  accuracy "
                                r"\d\.\d{4}$", ln) for ln in logs), r.stdout)


# ---- 3. the first 5 updates ---------------------------------------------------------------------

def first_updates(work, name, batch):
    """The example's train block cut to k batches of its rows in order, k = 1..5: nn's weights
    and train.py's after them, to 1e-4 relative."""
    with open(os.path.join(ROOT, "examples/%s.nn" % name)) as f:
        text = f.read()
    jobs, ks = [], []
    for k in range(1, 6):
        rows = k * batch
        cut = re.sub(r"train net on train_set \{",
                     "train net on train_set.X[0:%d], train_set.Y[0:%d] {\n  shuffle false" %
                     (rows, rows), text)
        cut = re.sub(r"epochs \d+", "epochs 1", cut)
        cut = re.sub(r"batch \d+", "batch %d" % batch, cut)
        cut = cut.replace("log every", "# log every")
        cut += '\nsave net "%s/nn_after_%d.safetensors"\n' % (work, k)
        script = os.path.join(work, "%s_%d.nn" % (name, k))
        with open(script, "w") as f:
            f.write(cut)
        p = nn([script])
        if p.returncode != 0:
            check("%s: nn runs the %d-update script" % (name, k), False, p.stderr)
            continue
        _, path = export(script, work, "%s_%d.py" % (name, k))
        jobs.append((path, ("--out", os.path.join(work, "%s_%d" % (name, k)))))
        ks.append(k)
    for k, r in zip(ks, python_all(jobs, here())):
        if r.returncode != 0:
            check("%s: train.py runs %d updates" % (name, k), False, r.stderr[-2000:])
            continue
        mine = read_safetensors(os.path.join(work, "nn_after_%d.safetensors" % k))
        theirs = read_safetensors(os.path.join(work, "%s_%d" % (name, k), "net.safetensors"))
        worst = 0.0
        for t in mine:
            for a, b in zip(mine[t], theirs[t]):
                worst = max(worst, abs(a - b) / max(abs(a), 1e-3))
        check("%s: the weights after update %d match to 1e-4 relative (worst %.2g)" %
              (name, k, worst), set(mine) == set(theirs) and worst <= 1e-4)


# ---- 4. torchrun ----------------------------------------------------------------------------------

TORCHRUN_DIGITS_CHECK = """
let digits = csv("examples/data/digits.csv", target = "digit")
let train_raw, test_raw = split(digits, "examples/data/digits_test_idx.txt")
let train_set, test_set = normalize(train_raw, test_raw)
model net {
  dense(64, 128)
  relu
  dense(10)
}
load net "%s"
print "test accuracy:", accuracy(net(test_set.X), test_set.Y)
"""


def torchrun(work):
    torchrun = shutil.which("torchrun")
    if not torchrun:
        print("skip torchrun: no torchrun command (python3-torch has it)")
        return
    _, path = export("examples/digits.nn", work, "digits_ddp.py")
    out = os.path.join(work, "ddp")
    # Debian 12's torch 1.13 on Python 3.11: the launcher reads its default redirects ("0") as
    # nothing and stops; naming them works around it (docs/language.md says so too)
    cmd = [torchrun, "--redirects", "1", "--tee", "1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", "--master_port=%d" % (29600 + os.getpid() % 300),
           path, "--out", out]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=WORK, timeout=900, env=env)
    ckpt = os.path.join(out, "net.safetensors")
    check("torchrun --nproc_per_node=2: trains and writes %s" % ckpt,
          r.returncode == 0 and os.path.isfile(ckpt), (r.stdout + r.stderr)[-3000:])
    logs = re.findall(r"epoch 30/30  cross_entropy (\S+)  accuracy (\S+)", r.stdout)
    check("torchrun: rank 0 logs the epochs", len(logs) == 1, r.stdout[-2000:])
    if not os.path.isfile(ckpt):
        return
    script = os.path.join(work, "load_ddp.nn")
    with open(script, "w") as f:
        f.write(TORCHRUN_DIGITS_CHECK % ckpt)
    p = nn([script])
    got = accuracy_of(p.stdout)
    check("nn loads the checkpoint torchrun wrote and evaluates it (test accuracy %s)" % got,
          p.returncode == 0 and got is not None and got >= 0.95, p.stderr)


# ---- 4b. the README's walk-through, as written ------------------------------------------------

def readme(work):
    """README's "When you outgrow nn" block, run as it is written in a folder with examples/
    and build/nn: export, torchrun, back into nn, ONNX, onnxruntime (the last step only where
    node and onnxruntime-node are installed)."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    at = text.index("tests/test_export_torch.py runs this block as written")
    block = text[text.index("```sh\n", at) + 6:text.index("\n```", text.index("```sh\n", at))]
    folder = os.path.join(work, "readme")
    os.makedirs(os.path.join(folder, "build"))
    os.symlink(os.path.join(ROOT, "examples"), os.path.join(folder, "examples"))
    os.symlink(NN, os.path.join(folder, "build", "nn"))
    # where the README's NODE_PATH looks (tests/install-deps.sh's folder without XDG_CACHE_HOME)
    cache = os.path.join(os.environ.get("HOME", "/tmp"), ".cache", "nn-tests")
    serve = shutil.which("node") and os.path.isdir(os.path.join(cache, "node_modules",
                                                                "onnxruntime-node"))
    if not serve:
        block = block[:block.index("# 4.")]
        print("skip the README's onnxruntime step: needs node and onnxruntime-node "
              "(tests/install-deps.sh)")
    if not shutil.which("torchrun"):
        print("skip the README's walk-through: no torchrun command (python3-torch has it)")
        return
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(["sh", "-ec", block], capture_output=True, text=True, cwd=folder,
                       timeout=900, env=env)
    accs = re.findall(r"^test accuracy: ([0-9.]+)$", r.stdout, re.M)
    check("README: export, torchrun and back into nn (test accuracy %s)" % accs,
          r.returncode == 0 and len(accs) == 1 and float(accs[0]) >= 0.95,
          (r.stdout + r.stderr)[-3000:])
    if serve:
        check("README: onnxruntime serves digits.onnx (each row's class)",
              bool(re.search(r"^\[ \d, \d \]$", r.stdout, re.M)), r.stdout[-1000:])


# ---- 4c. nn's checkpoint into the PyTorch module with load_state_dict -----------------------

STATE_DICT_SCRIPT = """
seed 1
let digits = csv("examples/data/digits.csv", target = "digit", shape = [1, 8, 8])
let train_set, test_set = split(digits, 0.8)
model net {
  input(1, 8, 8)
  conv2d(1, 4, 3, padding = 1)
  batchnorm
  relu
  avgpool2d(2)
  conv2d(6, 2, stride = 2)
  maxpool2d(2)
  flatten
  dense(10)
}
train net on train_set {
  loss cross_entropy
  optimizer adam(lr = 0.01)
  epochs 2
  batch 64
}
save net "cnn.safetensors"
seed 5
print net(rand(2, 1, 8, 8))
"""


def state_dict(work):
    """A conv net saved by nn loads into train.py's class of it with load_state_dict (through
    state_dict_of, which names nn's W and b as PyTorch's weight and bias, and keeps
    batchnorm's running statistics) and gives nn's outputs for the same images."""
    script = os.path.join(work, "state_dict.nn")
    with open(script, "w") as f:
        f.write(STATE_DICT_SCRIPT)
    p = nn([script])
    _, path = export(script, work, "state_dict_train.py")
    check_code = """
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location("exported", %r)
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
net = m.NetModel(m.NnRandom(0))
net.load_state_dict(m.state_dict_of("cnn.safetensors"))
net.eval()
with torch.no_grad():
    print(m.print_line([net(m.NnRandom(5).rand(2, 1, 8, 8))]))
""" % path
    r = subprocess.run([PY, "-c", check_code], capture_output=True, text=True, cwd=WORK,
                       timeout=600)
    check("a conv net with batchnorm saved by nn loads into its PyTorch module with "
          "load_state_dict and "
          "gives nn's outputs", p.returncode == 0 and r.returncode == 0
          and numbers_close(r.stdout, p.stdout), "nn:\n%s%s\ntorch:\n%s%s" %
          (p.stdout, p.stderr, r.stdout, r.stderr[-2000:]))


# ---- 5. the helpers' names ------------------------------------------------------------------------

def reserved():
    with open(os.path.join(ROOT, "src/export_torch.py")) as f:
        helpers = f.read()
    names = set(re.findall(r"^(?:def|class) (\w+)", helpers, re.M))
    names |= set(re.findall(r"^(\w+) = ", helpers, re.M))
    for m in re.finditer(r"^import (\S+)(?: as (\w+))?|^from \S+ import (\w+)", helpers, re.M):
        names.add(m.group(2) or m.group(3) or m.group(1).split(".")[0])
    names.discard("")
    with open(os.path.join(ROOT, "src/export_torch.c")) as f:
        c = f.read()
    table = c[c.index("reserved[] = {"):c.index("};", c.index("reserved[] = {"))]
    listed = set(re.findall(r'"(\w+)"', table))
    missing = sorted(names - listed)
    check("every helper's name is kept from the script's names", not missing,
          "not in export_torch.c's reserved list: %s" % missing)


def main():
    work = WORK
    reserved()
    # two threads, each in its own folder (the scripts save files of the same names): the
    # checks are mostly waiting for python and torch to start
    second = os.path.join(WORK, "second")
    os.makedirs(second)
    link_data(second)

    def other():
        FOLDERS[threading.get_ident()] = second
        first_updates(second, "iris", 16)
        first_updates(second, "digits", 32)
        readme(second)
    t = threading.Thread(target=other)
    t.start()
    examples(work)
    settings(work)
    torchrun(work)
    state_dict(work)
    t.join()
    shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print("\n%d failed:\n%s" % (len(FAILURES), "\n\n".join(FAILURES)))
        sys.exit(1)


if __name__ == "__main__":
    main()
