#!/usr/bin/python3
"""gen_bn_train.py [NN]: what PyTorch gives for the train blocks of bn_train.nn, written to
bn_train.txt; tests/test_bn_train.py runs the script and compares (it needs no torch).

The models are built here from torch.nn modules (Conv2d, Conv1d, BatchNorm2d, BatchNorm1d with
their defaults, momentum 0.1 and eps 1e-5, Linear), not from nn's export. Their initial weights
are nn's: the script is run once by NN (default build/nn) with a `save` line before each train
block, and the checkpoints are read here (a dense layer's W [in, out] is Linear's weight
transposed). The data are read from the script's literals. Then the same updates as nn's: rows
in order, batches of 4 (the last of 2), the loss the mean over each batch, the model in training
mode (batch statistics; the running ones move); each log line's loss the mean of the epoch's
batch losses, its accuracy over all rows in evaluation mode. bn_train.txt holds, in the order
the script prints them, the log lines' numbers and each printed tensor (%.9g).

Needs torch (1.13) and a built nn: /usr/bin/python3 tests/diff/gen_bn_train.py build/nn
"""
import collections
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "bn_train.nn")
OUT = os.path.join(HERE, "bn_train.txt")


def literal(text, name):
    """`let NAME = reshape([...], dims)` or `let NAME = [...]`: a float32 tensor."""
    m = re.search(r"^let %s = reshape\((\[[^\]]*\]), ([-\d, ]+)\)$" % name, text, re.M)
    if m:
        dims = [int(d) for d in m.group(2).split(",")]
        return torch.tensor(json.loads(m.group(1)), dtype=torch.float32).reshape(dims)
    m = re.search(r"^let %s = (\[[^\]]*\])$" % name, text, re.M)
    return torch.tensor(json.loads(m.group(1)), dtype=torch.float32)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        s, t = e["data_offsets"]
        values = struct.unpack("<%df" % ((t - s) // 4), raw[8 + n + s:8 + n + t])
        out[name] = torch.tensor(values, dtype=torch.float32).reshape(e["shape"])
    return out


def load_nn_weights(model, path):
    """nn's checkpoint into the torch model: layerK.W is weight (a Linear's transposed),
    layerK.b bias, the running statistics keep their names; every tensor of either side used."""
    state = dict(model.named_parameters())
    state.update((k, v) for k, v in model.named_buffers() if not k.endswith("num_batches_tracked"))
    seen = set()
    with torch.no_grad():
        for name, value in read_safetensors(path).items():
            layer, field = name.split(".")
            key = layer + "." + {"W": "weight", "b": "bias"}.get(field, field)
            if isinstance(getattr(model, layer), nn.Linear) and field == "W":
                value = value.T
            assert state[key].shape == value.shape, (name, state[key].shape, value.shape)
            state[key].copy_(value)
            seen.add(key)
    assert seen == set(state), set(state) ^ seen


def net_model():
    return nn.Sequential(collections.OrderedDict([
        ("layer1", nn.Conv2d(2, 3, 2)), ("layer2", nn.BatchNorm2d(3)), ("relu", nn.ReLU()),
        ("flatten", nn.Flatten()), ("layer3", nn.Linear(12, 6)), ("layer4", nn.BatchNorm1d(6)),
        ("tanh", nn.Tanh()), ("layer5", nn.Linear(6, 3))]))


def seqs_model():
    return nn.Sequential(collections.OrderedDict([
        ("layer1", nn.Conv1d(2, 3, 3)), ("layer2", nn.BatchNorm1d(3)), ("relu", nn.ReLU()),
        ("flatten", nn.Flatten()), ("layer3", nn.Linear(21, 2))]))


def train(model, X, Y, opt, epochs, batch, log_every, out):
    """nn's train block with `shuffle false` and `loss cross_entropy`; log lines to out."""
    rows = X.shape[0]
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for first in range(0, rows, batch):
            x, y = X[first:first + batch], Y[first:first + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y.long())
            loss.backward()
            opt.step()
            total += float(loss) * x.shape[0]
        if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            model.eval()
            with torch.no_grad():
                accuracy = float((model(X).argmax(1) == Y.long()).float().mean())
            out.append(("epoch %d/%d" % (epoch + 1, epochs), [total / rows, accuracy]))
    model.eval()


def tensors(model, name, layers, X, out):
    with torch.no_grad():
        for k in layers:
            bn = getattr(model, "layer%d" % k)
            for field, t in (("running_mean", bn.running_mean), ("running_var", bn.running_var),
                             ("W", bn.weight), ("b", bn.bias)):
                out.append(("%s.layer%d.%s" % (name, k, field), t.reshape(-1).tolist()))
        out.append(("%s(%s)" % (name, "X" if name == "net" else "XS"),
                    model(X).reshape(-1).tolist()))


def main():
    nn_bin = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "nn")
    text = open(SCRIPT).read()
    X, Y, YS = literal(text, "X"), literal(text, "Y"), literal(text, "YS")
    XS = X.reshape(10, 2, 9)
    with tempfile.TemporaryDirectory() as tmp:
        saving = text
        for model in ("net", "seqs"):
            saving = saving.replace("\ntrain %s on" % model, '\nsave %s "%s/%s.safetensors"\n'
                                    "train %s on" % (model, tmp, model, model))
        script = os.path.join(tmp, "bn_train.nn")
        open(script, "w").write(saving)
        subprocess.run([nn_bin, script], check=True, stdout=subprocess.DEVNULL)
        net, seqs = net_model(), seqs_model()
        load_nn_weights(net, os.path.join(tmp, "net.safetensors"))
        load_nn_weights(seqs, os.path.join(tmp, "seqs.safetensors"))
    out = []
    train(net, X, Y, torch.optim.SGD(net.parameters(), lr=0.2), 3, 4, 1, out)
    tensors(net, "net", (2, 4), X, out)
    train(seqs, XS, YS, torch.optim.SGD(seqs.parameters(), lr=0.1, momentum=0.9), 4, 4, 2, out)
    tensors(seqs, "seqs", (2,), XS, out)
    lines = ["# gen_bn_train.py, torch %s: bn_train.nn's log lines and prints, in order"
             % torch.__version__]
    lines += ["%s: %s" % (label, " ".join("%.9g" % v for v in values)) for label, values in out]
    open(OUT, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
