#!/usr/bin/env python3
"""Writes the crafted checkpoints of tests/errors/ (bad_*.safetensors), each one defect in an
otherwise good file as `nn` writes it for

    model net {
      dense(2, 1)
      sigmoid
    }

(tensors layer1.W [2,1] and layer1.b [1], F32; metadata as in docs/language.md, section 10).
Run it once from the project root, `python3 tests/errors/data/make_checkpoints.py`, and commit
the files: the test suite only reads them. Same input, same bytes."""

import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = "model net {\n  dense(2, 1)\n  sigmoid\n}"
RNG = "b70d1459426b2fd4:0000000000000003:0:3f39e4e5"
STATE_NAMES = {"sgd": [], "sgd_momentum": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"]}


def write(name, tensors, meta):
    """tensors: (name, shape, values) in file order; meta: string pairs, or None."""
    header = {}
    if meta is not None:
        header["__metadata__"] = meta
    data = b""
    for tname, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[tname] = {"dtype": "F32", "shape": shape,
                         "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def checkpoint(name, optimizer="sgd", W=(0.5, -0.25), b=(0.125,), state=None, changes=None):
    """A checkpoint after a train block with `optimizer` (a key of STATE_NAMES); `changes`
    replace metadata values (None removes one); `state` gives the optimizer state's values, by
    (param, state name); the rest is 0.01."""
    meta = {"format": "nn-checkpoint/1", "model": "net", "source": SOURCE, "rng": RNG,
            "epoch": "1", "step": "1", "optimizer": optimizer.split("_")[0],
            "optimizer.lr": "0.100000001", "optimizer.momentum": "0",
            "optimizer.dampening": "0", "optimizer.nesterov": "0",
            "optimizer.weight_decay": "0", "optimizer.beta1": "0", "optimizer.beta2": "0",
            "optimizer.eps": "0", "optimizer.alpha": "0"}
    if optimizer == "sgd_momentum":
        meta["optimizer.momentum"] = "0.899999976"
    if optimizer == "adam":
        meta.update({"optimizer.lr": "0.100000001", "optimizer.beta1": "0.899999976",
                     "optimizer.beta2": "0.999000013", "optimizer.eps": "9.99999994e-09"})
    for key, value in (changes or {}).items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    state = state or {}
    tensors = []
    for pname, shape, values in (("layer1.W", [2, 1], W), ("layer1.b", [1], b)):
        tensors.append((pname, shape, values))
        for s in STATE_NAMES[optimizer]:
            tensors.append(("optim.%s.%s" % (pname, s), shape,
                            state.get((pname, s), [0.01] * len(values))))
    write(name, tensors, meta)


NAN, INF = math.nan, math.inf

# resume: every number of the metadata out of its range (each aborted nn in optim.c before)
checkpoint("bad_epoch_negative.safetensors", changes={"epoch": "-1"})
checkpoint("bad_epoch_huge.safetensors", changes={"epoch": "99999999999999999999"})
checkpoint("bad_epoch_past.safetensors", changes={"epoch": "5"})
checkpoint("bad_step_negative.safetensors", changes={"step": "-5"})
checkpoint("bad_step_huge.safetensors", changes={"step": "99999999999999999999"})
checkpoint("bad_step_zero.safetensors", changes={"step": "0"})
checkpoint("bad_step_text.safetensors", changes={"step": "1e3"})
checkpoint("bad_epoch_missing.safetensors", changes={"epoch": None})
# an even increment (PCG32's is odd), and a kept normal number that is NaN
checkpoint("bad_rng.safetensors",
           changes={"rng": "b70d1459426b2fd4:0000000000000002:0:3f39e4e5"})
checkpoint("bad_rng_spare.safetensors",
           changes={"rng": "b70d1459426b2fd4:0000000000000003:1:7fc00000"})
checkpoint("bad_format.safetensors", changes={"format": "nn-checkpoint/2"})
# the optimizer's name with a terminal escape sequence: quoted as \x1b, never raw
checkpoint("bad_optimizer_escape.safetensors", changes={"optimizer": "\x1b[2Jsgd"})
# resume: optimizer state that is not finite, or negative where a square root is taken
checkpoint("bad_state_nan.safetensors", optimizer="adam",
           state={("layer1.b", "exp_avg"): [NAN]})
checkpoint("bad_state_negative.safetensors", optimizer="adam",
           state={("layer1.W", "exp_avg_sq"): [0.5, -1.0]})
checkpoint("bad_momentum_inf.safetensors", optimizer="sgd_momentum",
           state={("layer1.W", "momentum_buffer"): [-INF, 0.0]})
# load: weights that are not finite
checkpoint("bad_weight_nan.safetensors", W=(0.5, NAN))
checkpoint("bad_weight_inf.safetensors", b=(INF,))
