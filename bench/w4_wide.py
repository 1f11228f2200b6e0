"""W4 wide in PyTorch: 784-256-128-10 ReLU network, cross-entropy, SGD lr 0.01, batch 128,
one epoch of 25,600 random rows = 200 updates (see w4_wide.nn). The same X bit for bit
(nn's rand from seed 7, common.Pcg32), the same labels (argmax of a random linear map; a
float32 rounding difference could flip a near-tie, so the script prints the sums nn prints
to check), the same initial weights and the same shuffled batches. The loss reported is the
epoch's mean over its batches, like nn's log line."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Pcg32, blas_info, load_init_into, report, set_threads, train_loop  # noqa: E402

threads = set_threads()
ROWS, FEAT, CLASSES, BATCH = 25600, 784, 10, 128
rng = Pcg32(7)
Xn = rng.rand(ROWS, FEAT)
Rn = rng.rand(FEAT, CLASSES) - np.float32(0.5)
Yn = np.argmax((Xn - np.float32(0.5)) @ Rn, axis=1)
X = torch.from_numpy(Xn)
Y = torch.from_numpy(Yn.astype(np.int64))
perm = torch.tensor(Pcg32(1).permutation(ROWS))

l1, l2, l3 = torch.nn.Linear(FEAT, 256), torch.nn.Linear(256, 128), torch.nn.Linear(128, CLASSES)
net = torch.nn.Sequential(l1, torch.nn.ReLU(), l2, torch.nn.ReLU(), l3)
load_init_into([l1, l2, l3], "w4")
params = sum(p.numel() for p in net.parameters())
opt = torch.optim.SGD(net.parameters(), lr=0.01)
ce = torch.nn.CrossEntropyLoss()

loop, mean_loss, steps = train_loop(net, opt, ce, X, Y, [perm], BATCH)

print("epoch 1/1  cross_entropy %.4f" % (mean_loss))
print("label sums: %d %d" % (int(Yn.sum()), int((Yn * Yn).sum())))
gflops = 6 * params * BATCH * steps / loop / 1e9
report(loop_s="%.6f" % loop, loss="%.6g" % (mean_loss), gflops="%.3f" % gflops,
       params=params, threads=threads, blas=blas_info())
