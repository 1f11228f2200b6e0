#!/usr/bin/env python3
"""test_onnx.py NN — every model of examples/*.nn (and tests/onnx-cases/*.nn), trained as the script trains it, saved as ONNX
(`save NET "FILE.onnx"`), passes onnx.checker (python3-onnx, full check with shape inference) and,
run by onnxruntime (the npm package onnxruntime-node, through tests/test_onnx.mjs), gives nn's
outputs for the same rows to 1e-5 relative (to the largest output: nn prints 6 digits). Formula models are refused where the save names them.

Skips (exit 77, naming the packages) without python3-onnx, node or onnxruntime-node in
~/.cache/nn-tests: tests/install-deps.sh installs them; the suite never does."""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

NN = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/tmp"), ".cache"),
                     "nn-tests")
ORT = os.path.join(CACHE, "node_modules")
FAILURES = []


def skip(why):
    print("onnx: skipped: %s; tests/install-deps.sh installs what it needs" % why)
    sys.exit(77)


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what + ("\n" + detail if detail else ""))


try:
    import onnx
except ImportError:
    # Debian's python3-onnx is in Debian's python, which another python3 (pyenv's) may hide
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    skip("needs the Debian package python3-onnx (apt-get install python3-onnx)")
if subprocess.run(["sh", "-c", "command -v node"], capture_output=True).returncode != 0:
    skip("needs the Debian package nodejs (apt-get install nodejs npm)")
if not os.path.isfile(os.path.join(ORT, "onnxruntime-node", "package.json")):
    skip("needs the npm package onnxruntime-node in %s (npm install --prefix %s --ignore-scripts "
         "onnxruntime-node@1)" % (CACHE, CACHE))


def models_of(text):
    """The models a script defines: (name, is a formula model)."""
    out = []
    for m in re.finditer(r"^model (\w+) \{(.*?)^\}", text, re.M | re.S):
        out.append((m.group(1), "forward(" in m.group(2)))
    return out


def run(script, cwd):
    p = subprocess.run([NN, script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    return p.returncode, p.stdout, p.stderr


def printed_numbers(out, tag):
    """The numbers of `print "TAG", matrix`, up to its shape."""
    at = out.index(tag)
    body = out[at + len(tag):out.index("shape [", at)]
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", body)]


def probe(rows, cols):
    """Rows of exact binary fractions (k/8 in [-2, 2)): the same floats in nn and onnxruntime."""
    return [[((7 * r + 3 * c) % 32 - 16) / 8 for c in range(cols)] for r in range(rows)]


def main():
    work = tempfile.mkdtemp(prefix="nn-onnx-")
    jobs, expect = [], {}
    # every example, and the scripts of tests/onnx-cases for what the examples do not have
    scripts = [(folder, name) for folder in ("examples", "tests/onnx-cases")
               for name in sorted(os.listdir(os.path.join(ROOT, folder))) if name.endswith(".nn")]
    for folder, name in scripts:
        path = os.path.join(folder, name)
        text = open(os.path.join(ROOT, path)).read()
        models = models_of(text)
        layered = [m for m, formula in models if not formula]
        for m, formula in models:
            if formula:     # refused where the save names it, before anything runs
                bad = os.path.join(work, "formula.nn")
                open(bad, "w").write(text + '\nsave %s "%s/x.onnx"\n' % (m, work))
                rc, _, err = run(bad, work)
                check("%s: formula model %s is refused" % (name, m),
                      rc != 0 and "is a formula model" in err and "error:" in err, err[-400:])
        if not layered:
            continue
        # first run: each model's input width, from its summary after the example's training
        first = os.path.join(work, "widths.nn")
        open(first, "w").write(text + "\n" + "".join("summary(%s)\n" % m for m in layered))
        rc, out, err = run(first, work)
        if rc != 0:
            check("%s runs" % name, False, err[-400:])
            continue
        # one example's shape: "model net: 4 inputs" ([4]) or, for images, "inputs [1,8,8]"
        shapes = {}
        for m in layered:
            found = re.search(r"model %s: (?:(\d+) inputs?|inputs \[([\d,]+)\])" % m, out)
            shapes[m] = ([int(found.group(1))] if found.group(1) else
                         [int(d) for d in found.group(2).split(",")])
        widths = {m: math.prod(shapes[m]) for m in layered}
        # second run: save each as ONNX and print its outputs for exact rows
        second = os.path.join(work, "save.nn")
        tail = []
        for m in layered:
            rows = probe(5, widths[m])
            onnx_file = os.path.join(work, "%s_%s.onnx" % (name[:-3], m))
            tail.append('save %s "%s"' % (m, onnx_file))
            batch = json.dumps(rows)
            if len(shapes[m]) > 1:      # images: the rows as a batch [5, C, H, W]
                batch = "reshape(%s, 5, %s)" % (batch, ", ".join(map(str, shapes[m])))
            tail.append('print "onnx-out %s", %s(%s)' % (m, m, batch))
            jobs.append({"file": onnx_file, "rows": 5, "cols": widths[m],
                         "shape": [5] + shapes[m], "input": [v for r in rows for v in r]})
            expect[onnx_file] = (name, m)
        open(second, "w").write(text + "\n" + "\n".join(tail) + "\n")
        rc, out, err = run(second, work)
        if rc != 0:
            check("%s saves its models as ONNX" % name, False, err[-400:])
            continue
        for m in layered:
            expect[os.path.join(work, "%s_%s.onnx" % (name[:-3], m))] += (printed_numbers(out, "onnx-out %s" % m),)
    for f, (name, m, _) in expect.items():
        try:
            onnx.checker.check_model(onnx.load(f), full_check=True)
            check("%s: %s passes onnx.checker" % (name, m), True)
        except Exception as e:      # the checker's own exceptions
            check("%s: %s passes onnx.checker" % (name, m), False, str(e))
    p = subprocess.run(["node", os.path.join(HERE, "test_onnx.mjs")], input=json.dumps(jobs),
                       capture_output=True, text=True, env=dict(os.environ, NN_ORT=ORT), timeout=300)
    if p.returncode != 0:
        check("onnxruntime runs the files", False, p.stderr[-800:])
    else:
        for r in json.loads(p.stdout):
            name, m, want = expect[r["file"]]
            got = r["values"]
            # relative to the largest output of the model (a normwise error): a saturated
            # sigmoid's 0.0003 is 0.9997 away from 1, and onnxruntime's tanh and sigmoid are
            # fast approximations, good to about 1e-6 of their range
            scale = max((abs(w) for w in want), default=1) or 1
            worst = max((abs(g - w) / scale for g, w in zip(got, want)), default=0)
            check("%s: %s in onnxruntime gives nn's outputs (%d values, worst %.1e relative; input "
                  "%s, output %s)" % (name, m, len(got), worst, r["inputs"][0], r["outputs"][0]),
                  len(got) == len(want) and worst <= 1e-5 and r["inputs"] == ["input"]
                  and r["outputs"] == ["output"] and r["dims"][0] == 5,
                  "nn %s\nort %s" % (want[:8], got[:8]))
    if FAILURES:
        print("\n%d failed:\n%s" % (len(FAILURES), "\n\n".join(FAILURES)))
        sys.exit(1)
    print("onnx: every check passed")


main()
