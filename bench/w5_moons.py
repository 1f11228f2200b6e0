"""W5 moons in PyTorch: a 2-64-64-1 ReLU network, BCEWithLogitsLoss, Adam lr 0.01, batch 8,
30 epochs on the 2,000 points of bench/out/w5_moons.csv (see w5_moons.nn). Same points, same
initial weights, and the same batches: the shuffles of nn's train loop are replayed
(common.Pcg32 from seed 1, made before the timer starts). Torch keeps denormal numbers, its
default; NN_BENCH_FTZ=1 flushes them (torch.set_flush_denormal(True)) instead."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (OUT, Pcg32, blas_info, load_init_into, report, set_threads,  # noqa: E402
                    train_loop)

threads = set_threads()
if os.environ.get("NN_BENCH_FTZ") == "1":
    torch.set_flush_denormal(True)
EPOCHS, BATCH = 30, 8
data = np.loadtxt(os.path.join(OUT, "w5_moons.csv"), delimiter=",", skiprows=1,
                  dtype=np.float32)
X = torch.from_numpy(data[:, :2].copy())
Y = torch.from_numpy(data[:, 2:3].copy())
n = len(X)
rng = Pcg32(1)
perms = [torch.tensor(rng.permutation(n)) for _ in range(EPOCHS)]

l1, l2, l3 = torch.nn.Linear(2, 64), torch.nn.Linear(64, 64), torch.nn.Linear(64, 1)
net = torch.nn.Sequential(l1, torch.nn.ReLU(), l2, torch.nn.ReLU(), l3)
load_init_into([l1, l2, l3], "w5")
opt = torch.optim.Adam(net.parameters(), lr=0.01)
bce = torch.nn.BCEWithLogitsLoss()

loop, mean_loss, _ = train_loop(net, opt, bce, X, Y, perms, BATCH)

with torch.no_grad():
    final = bce(net(X), Y).item()
print("epoch %d/%d  bce_logits %.4f" % (EPOCHS, EPOCHS, mean_loss))
print("final loss: %g" % final)
report(loop_s="%.6f" % loop, loss="%.6g" % final, threads=threads, blas=blas_info())
