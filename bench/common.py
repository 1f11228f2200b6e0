"""Shared helpers of the PyTorch side of the benchmark (numpy + the standard library only,
so that make_inputs.py runs without torch).

- safetensors: the tiny subset nn reads and writes (F32, little-endian, row-major).
- Pcg32: nn's random numbers (src/rng.c: PCG32, XSH-RR), reproduced bit for bit, so the
  torch scripts can use the same random data (`rand`) and the same shuffled batch order as
  nn's train loop (src/train.c: Fisher-Yates from the identity, every epoch, with an
  unbiased bounded draw by rejection).
- report(): the one line every torch script prints for the runner.
"""
import json
import os
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")

# ---- safetensors ----------------------------------------------------------------------------


def save_safetensors(path, tensors):
    """tensors: list of (name, float32 array). Written in order, data aligned to 8 bytes."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """name -> float32 numpy array (writable copy)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        s, t = e["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + s:8 + n + t], dtype="<f4").reshape(e["shape"]).copy()
    return out


def init_path(workload):
    return os.path.join(OUT, workload + "_init.safetensors")


def load_init_into(model_linears, workload):
    """Copies layerK.W ([in,out], nn's layout) and layerK.b into torch.nn.Linear modules
    (weight [out,in]: the transpose)."""
    import torch
    t = load_safetensors(init_path(workload))
    with torch.no_grad():
        for k, lin in enumerate(model_linears, start=1):
            lin.weight.copy_(torch.from_numpy(t["layer%d.W" % k].T.copy()))
            lin.bias.copy_(torch.from_numpy(t["layer%d.b" % k]))


# ---- nn's random numbers ----------------------------------------------------------------------

M64 = (1 << 64) - 1
PCG_MULT = 6364136223846793005


class Pcg32:
    """src/rng.c, bit for bit."""

    def __init__(self, seed):
        self.inc = ((seed << 1) | 1) & M64
        self.state = 0
        self.u32()
        self.state = (self.state + (seed ^ 0x853C49E6748FEA9B)) & M64
        self.u32()

    def u32(self):
        old = self.state
        self.state = (old * PCG_MULT + self.inc) & M64
        x = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((x >> rot) | (x << ((-rot) & 31))) & 0xFFFFFFFF

    def below(self, n):
        """train.c's below(): rejection, then r % n."""
        limit = 0xFFFFFFFF - 0xFFFFFFFF % n
        while True:
            r = self.u32()
            if r < limit:
                return r % n

    def permutation(self, n):
        """train.c's shuffle() of the identity: one epoch's row order."""
        perm = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        return perm

    def _advance(self, k):
        """(A, C) with state_{t+k} = A * state_t + C (mod 2^64)."""
        a, c = 1, 0
        for _ in range(k):
            a, c = (a * PCG_MULT) & M64, (c * PCG_MULT + self.inc) & M64
        return a, c

    def u32_array(self, n, block=4096):
        """The next n outputs of u32() as a uint32 array, vectorised by jumping ahead."""
        if n == 0:
            return np.zeros(0, np.uint32)
        b = min(block, n)
        first = np.empty(b, np.uint64)
        s = self.state
        for i in range(b):
            first[i] = s
            s = (s * PCG_MULT + self.inc) & M64
        blocks = (n + b - 1) // b
        states = np.empty((blocks, b), np.uint64)
        states[0] = first
        A, C = self._advance(b)
        A, C = np.uint64(A), np.uint64(C)
        with np.errstate(over="ignore"):
            for k in range(1, blocks):
                states[k] = states[k - 1] * A + C
        old = states.reshape(-1)[:n]
        # the state after the n-th draw
        last = int(old[-1])
        self.state = (last * PCG_MULT + self.inc) & M64
        x = (((old >> np.uint64(18)) ^ old) >> np.uint64(27)) & np.uint64(0xFFFFFFFF)
        rot = old >> np.uint64(59)
        r = (x >> rot) | ((x << ((np.uint64(32) - rot) & np.uint64(31))) & np.uint64(0xFFFFFFFF))
        return r.astype(np.uint32)

    def rand(self, *shape):
        """nn's rand(...): float32 (u32 >> 8) / 2^24, row-major."""
        n = int(np.prod(shape))
        out = np.empty(n, np.float32)
        chunk = 1 << 20             # keeps the uint64 temporaries small
        for s in range(0, n, chunk):
            u = self.u32_array(min(chunk, n - s))
            out[s:s + len(u)] = (u >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)
        return out.reshape(shape)


# ---- output -----------------------------------------------------------------------------------


def train_loop(net, opt, loss_fn, X, Y, perms, batch):
    """The timed training loop of the torch scripts: for each epoch's permutation (nn's
    shuffles, replayed), batches of `batch` rows in its order, the last possibly short:
    zero_grad, forward, backward, step. Returns (seconds, the last epoch's mean loss, updates)."""
    n, steps, total = len(X), 0, 0.0
    t0 = time.perf_counter()
    for perm in perms:
        total = 0.0
        for first in range(0, n, batch):
            idx = perm[first:first + batch]
            opt.zero_grad()
            loss = loss_fn(net(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            steps += 1
    return time.perf_counter() - t0, total / n, steps


def report(**kv):
    """One line the runner parses: BENCH key=value ..."""
    print("BENCH " + " ".join("%s=%s" % (k, v) for k, v in kv.items()))
    sys.stdout.flush()


def set_threads(default=1):
    """Threads from NN_BENCH_THREADS (the runner sets it, and OMP_NUM_THREADS too)."""
    import torch
    n = int(os.environ.get("NN_BENCH_THREADS", default))
    torch.set_num_threads(n)
    # Debian's torch calls the system BLAS through libblas.so.3 and does not tell OpenBLAS
    # the thread count (OPENBLAS_NUM_THREADS does, and so does this)
    import ctypes
    for p in sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "blas" in ln}):
        try:
            ctypes.CDLL(p).openblas_set_num_threads(ctypes.c_int(n))
            break
        except (OSError, AttributeError):
            continue
    return n


def blas_info():
    """The BLAS library this process loaded, and OpenBLAS's kernel (core) name if it is OpenBLAS."""
    import ctypes
    libs = sorted({ln.split()[-1] for ln in open("/proc/self/maps")
                   if "blas" in ln.rsplit("/", 1)[-1]})
    for p in libs:
        try:
            f = ctypes.CDLL(p).openblas_get_corename
            f.restype = ctypes.c_char_p
            return "openblas:" + f().decode()
        except (OSError, AttributeError):
            continue
    if any("libblas" in p for p in libs):
        return "reference-blas"
    return "none"
