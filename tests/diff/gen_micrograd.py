#!/usr/bin/python3
"""gen_micrograd.py: the float64 reference for examples/micrograd.nn (tests/test_micrograd.py
compares each update's loss with it).

It runs nn on the example's lines before its train block, plus two `save` statements, to get the
very data and initial weights the example starts from; then it makes the example's 100 updates
in float64 with PyTorch, as micrograd's demo does: full batch, scores of a 2-16-16-1 ReLU
network, loss = mean(relu(1 - y * score)) + 1e-4 * sum of every param squared, plain SGD with
learning rate 1 - 0.9 * k / 100 at update k. It writes micrograd.txt: one line per update, the
loss before it; then the accuracy after the last.

Needs torch (1.13) and the nn binary: /usr/bin/python3 tests/diff/gen_micrograd.py build/nn
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "micrograd.nn")
OUT = os.path.join(HERE, "micrograd.txt")


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        data = struct.unpack("<%df" % ((b - a) // 4), raw[8 + n + a:8 + n + b])
        out[name] = torch.tensor(data, dtype=torch.float64).reshape(e["shape"])
    return out


def start(nn):
    """The data and the initial weights, from nn itself."""
    lines = open(EXAMPLE).read().split("\n")
    prefix = "\n".join(lines[:next(i for i, l in enumerate(lines) if l.startswith("train"))])
    work = tempfile.mkdtemp()
    script = prefix + """
model dump {
  param X = data.X
  param T = y
  forward(x) = x
}
save net "%s/init.safetensors"
save dump "%s/data.safetensors"
""" % (work, work)
    subprocess.run([nn, "-e", script], check=True, cwd=ROOT)
    return read_safetensors(work + "/init.safetensors"), read_safetensors(work + "/data.safetensors")


def main():
    nn = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "nn"))
    w, d = start(nn)
    X, y = d["X"], d["T"]
    params = [w[k].clone().requires_grad_(True) for k in
              ("layer1.W", "layer1.b", "layer2.W", "layer2.b", "layer3.W", "layer3.b")]

    def scores():
        h = torch.relu(X @ params[0] + params[1])
        h = torch.relu(h @ params[2] + params[3])
        return h @ params[4] + params[5]

    lines = ["# gen_micrograd.py: examples/micrograd.nn in float64 with torch %s; each update's "
             "loss before it, then the accuracy after the last" % torch.__version__]
    for k in range(100):
        loss = torch.relu(1 - y * scores()).mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        lr = 1.0 - 0.9 * k / 100
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        lines.append("%.17g" % loss.item())
    with torch.no_grad():
        acc = ((scores() > 0) == (y > 0)).double().mean().item()
    lines.append("accuracy %.17g" % acc)
    open(OUT, "w").write("\n".join(lines) + "\n")
    print("wrote %s: final loss %s, accuracy %s" % (OUT, lines[-2], acc), file=sys.stderr)


if __name__ == "__main__":
    main()
