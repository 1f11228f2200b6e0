"""W2 xor in PyTorch: 2-8-1 tanh/sigmoid network, mse, SGD lr 0.5, full batch of the 4 XOR
rows, 10,000 epochs (see w2_xor.nn). Starts from bench/out/w2_init.safetensors, as nn does.
nn shuffles the 4 rows each epoch and this does not: in one full batch the order only changes
float32 rounding."""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import blas_info, load_init_into, report, set_threads  # noqa: E402

threads = set_threads()
X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32)
Y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32)
l1, l2 = torch.nn.Linear(2, 8), torch.nn.Linear(8, 1)
net = torch.nn.Sequential(l1, torch.nn.Tanh(), l2, torch.nn.Sigmoid())
load_init_into([l1, l2], "w2")
opt = torch.optim.SGD(net.parameters(), lr=0.5)
mse = torch.nn.MSELoss()

t0 = time.perf_counter()
for _ in range(10000):
    opt.zero_grad()
    loss = mse(net(X), Y)
    loss.backward()
    opt.step()
loop = time.perf_counter() - t0

with torch.no_grad():
    out = net(X)
    final = mse(out, Y).item()
print("final loss: %g" % final)
print("outputs:", [round(v, 6) for v in out.reshape(-1).tolist()])
report(loop_s="%.6f" % loop, loss="%.6g" % final, threads=threads, blas=blas_info())
