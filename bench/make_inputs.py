"""Writes the initial weights that both sides of W2, W3 and W4 start from, as safetensors
files in bench/out/ (nn: `load net "bench/out/wN_init.safetensors"`; torch: common.py's
load_init_into, which transposes W [in,out] into Linear.weight [out,in]).

The weights are drawn with numpy from fixed seeds, following nn's defaults for a layer (He
normal, variance 2/in, before a relu; Xavier uniform otherwise; biases 0), so the runs start
from the same float32 values bit for bit. Run from anywhere; rewrites the files only when
they are missing or --force is given.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OUT, init_path, save_safetensors  # noqa: E402

# workload -> ([(in, out, init)], seed)
NETS = {
    "w2": ([(2, 8, "xavier"), (8, 1, "xavier")], 2),
    "w3": ([(64, 128, "he"), (128, 10, "xavier")], 3),
    "w4": ([(784, 256, "he"), (256, 128, "he"), (128, 10, "xavier")], 4),
}


def weights(layers, seed):
    rng = np.random.default_rng(seed)
    out = []
    for k, (fin, fout, init) in enumerate(layers, start=1):
        if init == "he":
            W = rng.standard_normal((fin, fout)) * np.sqrt(2.0 / fin)
        else:
            a = np.sqrt(6.0 / (fin + fout))
            W = rng.uniform(-a, a, (fin, fout))
        out.append(("layer%d.W" % k, W.astype(np.float32)))
        out.append(("layer%d.b" % k, np.zeros(fout, np.float32)))
    return out


def main():
    force = "--force" in sys.argv
    os.makedirs(OUT, exist_ok=True)
    for name, (layers, seed) in NETS.items():
        path = init_path(name)
        if force or not os.path.exists(path):
            save_safetensors(path, weights(layers, seed))


if __name__ == "__main__":
    main()
