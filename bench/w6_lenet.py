"""W6 LeNet in PyTorch: conv(1,6,5) relu maxpool(2) conv(6,16,5) relu maxpool(2) flatten
dense(256,120) relu dense(120,84) relu dense(84,10), cross-entropy, SGD lr 0.01, batch 64, one
epoch of 6,400 random 28x28 images = 100 updates (see w6_lenet.nn): the same X bit for bit,
the same labels (the sums printed check them), the same initial weights and the same shuffled
batches. The loss reported is the epoch's mean over its batches, like nn's log line."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Pcg32, blas_info, load_safetensors, init_path, report,  # noqa: E402
                    set_threads, train_loop)

threads = set_threads()
ROWS, CLASSES, BATCH = 6400, 10, 64
rng = Pcg32(7)
Xn = rng.rand(ROWS, 784)
Rn = rng.rand(784, CLASSES) - np.float32(0.5)
Yn = np.argmax((Xn - np.float32(0.5)) @ Rn, axis=1)
X = torch.from_numpy(Xn).reshape(ROWS, 1, 28, 28)
Y = torch.from_numpy(Yn.astype(np.int64))
perm = torch.tensor(Pcg32(1).permutation(ROWS))

F = torch.nn
net = F.Sequential(F.Conv2d(1, 6, 5), F.ReLU(), F.MaxPool2d(2), F.Conv2d(6, 16, 5), F.ReLU(),
                   F.MaxPool2d(2), F.Flatten(), F.Linear(256, 120), F.ReLU(), F.Linear(120, 84),
                   F.ReLU(), F.Linear(84, CLASSES))
init = load_safetensors(init_path("w6"))
with torch.no_grad():
    for k, layer in enumerate([net[0], net[3], net[7], net[9], net[11]], start=1):
        W = init["layer%d.W" % k]
        layer.weight.copy_(torch.from_numpy(W.T.copy() if W.ndim == 2 else W))
        layer.bias.copy_(torch.from_numpy(init["layer%d.b" % k]))
params = sum(p.numel() for p in net.parameters())
opt = torch.optim.SGD(net.parameters(), lr=0.01)
ce = torch.nn.CrossEntropyLoss()

loop, mean_loss, steps = train_loop(net, opt, ce, X, Y, [perm], BATCH)

print("epoch 1/1  cross_entropy %.4f" % (mean_loss))
print("label sums: %d %d" % (int(Yn.sum()), int((Yn * Yn).sum())))
report(loop_s="%.6f" % loop, loss="%.6g" % (mean_loss), params=params, threads=threads,
       blas=blas_info())
