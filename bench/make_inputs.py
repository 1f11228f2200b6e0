"""Writes the initial weights that both sides of W2 to W5 start from, as safetensors files in
bench/out/ (nn: `load net "bench/out/wN_init.safetensors"`; torch: common.py's
load_init_into, which transposes W [in,out] into Linear.weight [out,in]), and W5's data,
bench/out/w5_moons.csv: scikit-learn's make_moons (2,000 points, noise 0.1), drawn with numpy
and written as float32 values that both sides read.

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
    "w5": ([(2, 64, "he"), (64, 64, "he"), (64, 1, "xavier")], 5),
    # W6 LeNet: conv layers as (("conv", in, out, k), ...): uniform ±1/sqrt(in k²), as
    # torch.nn.Conv2d draws them, weight [out, in, k, k] and bias too
    "w6": ([("conv", 1, 6, 5), ("conv", 6, 16, 5), (256, 120, "he"), (120, 84, "he"),
            (84, 10, "xavier")], 6),
}
MOONS_PATH = os.path.join(OUT, "w5_moons.csv")


def weights(layers, seed):
    rng = np.random.default_rng(seed)
    out = []
    for k, layer in enumerate(layers, start=1):
        if layer[0] == "conv":
            _, cin, cout, size = layer
            a = 1.0 / np.sqrt(cin * size * size)
            out.append(("layer%d.W" % k, rng.uniform(-a, a, (cout, cin, size, size)).astype(np.float32)))
            out.append(("layer%d.b" % k, rng.uniform(-a, a, cout).astype(np.float32)))
            continue
        fin, fout, init = layer
        if init == "he":
            W = rng.standard_normal((fin, fout)) * np.sqrt(2.0 / fin)
        else:
            a = np.sqrt(6.0 / (fin + fout))
            W = rng.uniform(-a, a, (fin, fout))
        out.append(("layer%d.W" % k, W.astype(np.float32)))
        out.append(("layer%d.b" % k, np.zeros(fout, np.float32)))
    return out


def moons(n, noise, seed):
    """Two interleaved half circles, n // 2 points on the outer one (class 0) evenly spaced
    in angle, the rest on the inner one (class 1), plus normal noise; shuffled."""
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    X += rng.normal(0.0, noise, X.shape)
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order]


def write_moons(path):
    X, y = moons(2000, 0.1, 5)
    with open(path, "w") as f:
        f.write("x0,x1,y\n")
        for (a, b), c in zip(X, y):
            f.write("%.9g,%.9g,%d\n" % (a, b, c))


def main():
    force = "--force" in sys.argv
    os.makedirs(OUT, exist_ok=True)
    for name, (layers, seed) in NETS.items():
        path = init_path(name)
        if force or not os.path.exists(path):
            save_safetensors(path, weights(layers, seed))
    if force or not os.path.exists(MOONS_PATH):
        write_moons(MOONS_PATH)


if __name__ == "__main__":
    main()
