"""numpy/OpenBLAS float32 matrix products at n = 256, 512, 1024 (GFLOP/s), as bench/kernel.c
measures nn's own: the best of several timed runs, each repeating the product for at least
20 ms. Run once per thread count, since OpenBLAS reads its thread count at import:
    OPENBLAS_NUM_THREADS=1 python3 bench/kernel_numpy.py"""
import os
import time

import numpy as np

threads = os.environ.get("OPENBLAS_NUM_THREADS", "?")
rng = np.random.default_rng(1)
cells = []
for n in (256, 512, 1024):
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = a @ b
    best = 0.0
    for _ in range(5):
        reps, start = 0, time.perf_counter()
        while True:
            np.matmul(a, b, out=c)
            reps += 1
            took = time.perf_counter() - start
            if took >= 0.02:
                break
        best = max(best, 2.0 * n ** 3 * reps / took / 1e9)
    cells.append("n=%d %.1f" % (n, best))
print("numpy/OpenBLAS, %s thread%s: %s GFLOP/s" % (threads, "" if threads == "1" else "s",
                                                   ", ".join(cells)))
