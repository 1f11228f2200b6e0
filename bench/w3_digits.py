"""W3 digits in PyTorch: 64-128-10 ReLU network, cross-entropy, Adam lr 1e-3, batch 32,
30 epochs on examples/data/digits.csv with the test rows of digits_test_idx.txt, pixels / 16
(see w3_digits.nn). Same rows in the same order, same initial weights, and the same batches:
the shuffles of nn's train loop are replayed (common.Pcg32 from seed 1, made before the
timer starts). Differences from nn come from float32 rounding only."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, Pcg32, blas_info, load_init_into, report, set_threads,  # noqa: E402
                    train_loop)

threads = set_threads()
EPOCHS, BATCH = 30, 32
data = np.loadtxt(os.path.join(ROOT, "examples/data/digits.csv"), delimiter=",", skiprows=1,
                  dtype=np.float32)
test_idx = [int(t) for t in open(os.path.join(ROOT, "examples/data/digits_test_idx.txt")).read().split()]
listed = np.zeros(len(data), bool)
listed[test_idx] = True
train_rows, test_rows = data[~listed], data[test_idx]       # nn's split(d, "FILE") order
Xtr = torch.from_numpy(train_rows[:, :64] / np.float32(16))
Ytr = torch.from_numpy(train_rows[:, 64].astype(np.int64))
Xte = torch.from_numpy(test_rows[:, :64] / np.float32(16))
Yte = torch.from_numpy(test_rows[:, 64].astype(np.int64))
n = len(Xtr)
rng = Pcg32(1)
perms = [torch.tensor(rng.permutation(n)) for _ in range(EPOCHS)]

l1, l2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 10)
net = torch.nn.Sequential(l1, torch.nn.ReLU(), l2)
load_init_into([l1, l2], "w3")
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
ce = torch.nn.CrossEntropyLoss()

loop, mean_loss, _ = train_loop(net, opt, ce, Xtr, Ytr, perms, BATCH)

with torch.no_grad():
    final = ce(net(Xtr), Ytr).item()
    acc = (net(Xte).argmax(1) == Yte).float().mean().item()
print("epoch %d/%d  cross_entropy %.4f" % (EPOCHS, EPOCHS, mean_loss))
print("final loss: %g" % final)
print("test accuracy: %g" % acc)
report(loop_s="%.6f" % loop, loss="%.6g" % final, acc="%.6g" % acc, threads=threads,
       blas=blas_info())
