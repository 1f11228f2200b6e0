#!/usr/bin/env python3
"""test_trace_json.py — checks `nn --trace=json` against numbers computed independently.

1. The one-neuron example against the exact values of the worked example (DEVELOPERS.md).
2. The two-layer example: from the params' values in the first pass's forward events, this
   script recomputes the forward pass and every param's gradient by central differences in
   double precision (plain Python, no numpy), and compares them with the events.
3. Every line is a JSON object with the documented fields (docs/trace-json.md).
Usage: test_trace_json.py PATH/TO/nn (run from the project root)
"""
import json
import math
import subprocess
import sys

NN = sys.argv[1]
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name + ": " + detail)


def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def events(script):
    out = subprocess.run([NN, "--trace=json", script], capture_output=True, text=True,
                         check=True).stdout
    evs = [json.loads(line) for line in out.splitlines()]
    required = {
        "pass": {"step", "root", "label", "loss", "at"},
        "forward": {"step", "node", "label", "op", "kind", "inputs", "shape", "value", "at"},
        "backward": {"step", "node", "label", "grad", "inputs"},
        "gradient": {"step", "node", "label", "grad"},
        "update": {"step", "node", "label", "optimizer", "plain", "lr", "before", "grad", "after"},
        "print": {"text"},
        "loss": {"block", "epoch", "update", "loss"},
        "warning": {"at", "message"},
        "grad_norms": {"block", "update", "norms"},
        "points": {"block", "inputs", "range", "x", "y"},
        "grid": {"block", "step", "kind", "out"},
        "val_loss": {"block", "epoch", "update", "loss"},
        "zoom": {"step", "layer", "unit", "rows", "x", "x_row0", "w", "b", "z", "activations"},
    }
    for e in evs:
        missing = required.get(e.get("event"), {"?"}) - set(e)
        check("schema of a %s event" % e.get("event"), not missing, "missing %s" % missing)
    return evs


# ---- 1. the worked example -------------------------------------------------------------------
ev = events("examples/neuron.nn")
by = {}
for e in ev:
    if e["event"] == "forward" and e["step"] == 1:
        by[e["label"]] = e["value"]
exact = {"z": 1.1, "yhat": 0.7502601, "loss": 0.0623700}
for k, v in exact.items():
    check("neuron: forward %s = %g" % (k, v), close(by[k], v, 1e-6), str(by.get(k)))
back = {e["label"]: e for e in ev if e["event"] == "backward"}
d_yhat = [i for i in back["t2"]["inputs"] if i["label"] == "yhat"][0]["grad"]
check("neuron: dL/dyhat = -0.4994798", close(d_yhat, -0.4994798, 1e-6), str(d_yhat))
local = back["yhat"]["inputs"][0]["local_value"]
check("neuron: dyhat/dz = 0.1873699", close(local, 0.1873699, 1e-6), str(local))
grads = {e["label"]: e["grad"] for e in ev if e["event"] == "gradient"}
check("neuron: dL/dw = -0.1871749", close(grads["w"], -0.1871749, 1e-6), str(grads["w"]))
check("neuron: dL/db = -0.0935875", close(grads["b"], -0.0935875, 1e-6), str(grads["b"]))
upd = {e["label"]: e["after"] for e in ev if e["event"] == "update"}
check("neuron: new w = 0.5187175", close(upd["w"], 0.5187175, 1e-6), str(upd["w"]))
check("neuron: new b = 0.1093587", close(upd["b"], 0.1093587, 1e-6), str(upd["b"]))
check("neuron: the script's prints are events too",
      any(e["event"] == "print" and e["text"].startswith("w = 0.518717") for e in ev))

# ---- 2. the two-layer network, recomputed in double precision --------------------------------
ev = events("examples/two_layer.nn")
fw = {e["label"]: e for e in ev if e["event"] == "forward" and e["step"] == 1}
X, Y = fw["X"]["value"], fw["Y"]["value"]
params = {k: fw[k]["value"] for k in ("W1", "b1", "W2", "b2")}


def forward(p):
    loss = 0.0
    for x, y in zip(X, Y):
        h = [math.tanh(sum(x[i] * p["W1"][i][j] for i in range(2)) + p["b1"][j])
             for j in range(8)]
        z = sum(h[j] * p["W2"][j][0] for j in range(8)) + p["b2"][0]
        out = 1 / (1 + math.exp(-z))
        loss += (out - y[0]) ** 2
    return loss / len(X)


check("two layers: the loss recomputed in double", close(fw["loss"]["value"], forward(params), 1e-6),
      "%r vs %r" % (fw["loss"]["value"], forward(params)))


def numeric_grad(name):
    """Central differences of the double-precision loss, element by element."""
    import copy
    p = copy.deepcopy(params)
    flat = p[name] if isinstance(p[name][0], list) else [p[name]]
    rows = flat if isinstance(p[name][0], list) else None
    out = []
    h = 1e-6
    cells = [(r, c) for r in range(len(flat)) for c in range(len(flat[0]))]
    for r, c in cells:
        target = p[name][r] if rows is not None else p[name]
        x = target[c]
        target[c] = x + h
        up = forward(p)
        target[c] = x - h
        down = forward(p)
        target[c] = x
        out.append((up - down) / (2 * h))
    return out


def flatten(v):
    return [x for row in v for x in row] if isinstance(v, list) and v and isinstance(v[0], list) \
        else (v if isinstance(v, list) else [v])


first_grads = {e["label"]: e["grad"] for e in ev if e["event"] == "gradient" and e["step"] == 1}
for name in ("W1", "b1", "W2", "b2"):
    got, want = flatten(first_grads[name]), numeric_grad(name)
    worst = max(abs(a - b) / max(1e-3, abs(a), abs(b)) for a, b in zip(got, want))
    check("two layers: d loss / d %s matches finite differences (worst %.1e)" % (name, worst),
          worst < 1e-4, "got %r want %r" % (got, want))

# ---- 3. a zoom into one unit agrees with the tensors of the same pass --------------------------
ev = events("tests/golden/trace_zoom.nn")
zooms = [e for e in ev if e["event"] == "zoom"]
check("zoom: one event per unit looked at", len(zooms) == 3, "%d zoom events" % len(zooms))
for zm in zooms:
    step = zm["step"]
    fw = {e["label"]: e for e in ev if e["event"] == "forward" and e["step"] == step}
    gr = {e["label"]: e for e in ev if e["event"] == "gradient" and e["step"] == step}
    u, W = zm["unit"], flatten(fw[zm["layer"] + ".W"]["value"])
    width = fw[zm["layer"] + ".W"]["shape"][1]
    check("zoom %s[%d]: its weights are column %d of W" % (zm["layer"], u, u),
          all(close(w, W[i * width + u], 1e-7) for i, w in enumerate(zm["w"])), zm["w"])
    z = sum(x * w for x, w in zip(zm["x_row0"], zm["w"])) + zm["b"]
    check("zoom %s[%d]: z = x . w + b" % (zm["layer"], u), close(z, zm["z"], 1e-6),
          "%r vs %r" % (z, zm["z"]))
    added = flatten(gr[zm["layer"] + ".b"]["added"])[u]
    check("zoom %s[%d]: the rows' dL/dz add up to b.grad[%d]" % (zm["layer"], u, u),
          close(sum(zm["rows_grad_z"]), added, 1e-6) and close(zm["sum_grad_z"], added, 1e-6),
          "%r vs %r" % (zm["sum_grad_z"], added))

# ---- 4. a zoom into a conv layer's output pixel: its window and filter, and the bias sum ----
ev = events("tests/golden/trace_conv_zoom.nn")
zooms = [e for e in ev if e["event"] == "zoom"]
check("conv zoom: one event per pixel looked at", len(zooms) == 3, "%d zoom events" % len(zooms))
for zm in zooms:
    step = zm["step"]
    fw = {e["label"]: e for e in ev if e["event"] == "forward" and e["step"] == step}
    gr = {e["label"]: e for e in ev if e["event"] == "gradient" and e["step"] == step}
    u, name = zm["unit"], "%s%s" % (zm["layer"], zm["pixel"])
    W = fw[zm["layer"] + ".W"]["value"]
    fan_in = zm["window"][0] * zm["window"][1] * zm["window"][2]
    check("conv zoom %s: a weight per pixel of the window" % name, len(zm["w"]) == fan_in)
    while isinstance(W, list) and W and isinstance(W[0], list):    # (small tensors are given
        W = [x for row in W for x in row]                           # whole)
    if isinstance(W, list):
        check("conv zoom %s: its weights are filter %d of W" % (name, u),
              all(close(w, W[u * fan_in + i], 1e-7) for i, w in enumerate(zm["w"])), zm["w"])
    z = sum(x * w for x, w in zip(zm["x_row0"], zm["w"])) + zm["b"]
    check("conv zoom %s: z = window . filter + b" % name, close(z, zm["z"], 1e-6),
          "%r vs %r" % (z, zm["z"]))
    bgrad = flatten(gr[zm["layer"] + ".b"]["grad"])[u]
    check("conv zoom %s: dL/dz over the batch and the pixels adds up to b.grad[%d]" % (name, u),
          close(zm["sum_grad_z"], bgrad, 1e-6), "%r vs %r" % (zm["sum_grad_z"], bgrad))

if failures:
    print("\n%d failed:" % len(failures))
    for f in failures:
        print(" ", f)
    sys.exit(1)
