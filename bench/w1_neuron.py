"""W1 neuron in PyTorch: the one-neuron example, 100,000 steps of zero_grad, forward, backward
and SGD lr 0.1 (see w1_neuron.nn). Same literal starting values, float32; the results differ
from nn's only by float32 rounding."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import blas_info, report, set_threads  # noqa: E402

threads = set_threads()
x = torch.tensor(2.0)
y = torch.tensor(1.0)
w = torch.tensor(0.5, requires_grad=True)
b = torch.tensor(0.1, requires_grad=True)
opt = torch.optim.SGD([w, b], lr=0.1)

t0 = time.perf_counter()
for _ in range(100000):
    opt.zero_grad()
    loss = (y - torch.sigmoid(w * x + b)) ** 2
    loss.backward()
    opt.step()
loop = time.perf_counter() - t0

with torch.no_grad():
    final = ((y - torch.sigmoid(w * x + b)) ** 2).item()
print("final loss: %g" % final)
print("w = %g  b = %g" % (w.item(), b.item()))
report(loop_s="%.6f" % loop, loss="%.6g" % final, threads=threads, blas=blas_info())
