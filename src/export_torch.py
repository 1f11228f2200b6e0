# ---- nn's helpers: the same in every export (src/export_torch.py) ---------------------------
# What nn does that PyTorch has no one call for: nn's random numbers (so that one process
# splits, initialises and shuffles exactly as nn did), its data functions, its safetensors
# names, its accuracy and its log lines. The script's own part follows them.
import argparse
import contextlib
import csv
import json
import math
import os
import struct
import sys
import warnings
import zlib

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

M64 = (1 << 64) - 1
PCG_MULT = 6364136223846793005


def f32(v):
    """v rounded to float32, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


class NnRandom:
    """nn's random numbers (src/rng.c): PCG32, XSH-RR output, Box-Muller normals."""

    def __init__(self, seed):
        self.inc = ((seed << 1) | 1) & M64
        self.state = 0
        self.u32()
        self.state = (self.state + (seed ^ 0x853C49E6748FEA9B)) & M64
        self.u32()
        self.spare = None

    def u32(self):
        old = self.state
        self.state = (old * PCG_MULT + self.inc) & M64
        x = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((x >> rot) | (x << ((-rot) & 31))) & 0xFFFFFFFF

    def uniform(self):
        """[0, 1) from 24 random bits, a float32."""
        return (self.u32() >> 8) * (1.0 / 16777216.0)

    def normal(self):
        if self.spare is not None:
            z, self.spare = self.spare, None
            return z
        u1 = (self.u32() + 1.0) / 4294967296.0
        u2 = self.u32() / 4294967296.0
        rad = math.sqrt(-2.0 * math.log(u1))
        self.spare = f32(rad * math.sin(2.0 * math.pi * u2))
        return f32(rad * math.cos(2.0 * math.pi * u2))

    def below(self, n):
        """An unbiased integer in [0, n) (src/train.c's below)."""
        limit = 0xFFFFFFFF - 0xFFFFFFFF % n
        while True:
            r = self.u32()
            if r < limit:
                return r % n

    def below_toy(self, n):
        """The same draw as the toy data sets make it (src/data.c's rng_below)."""
        threshold = ((1 << 32) - n) % n
        while True:
            r = self.u32()
            if r >= threshold:
                return r % n

    def permutation(self, n):
        """Fisher-Yates from the identity: a split's order, and an epoch's."""
        perm = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        return perm

    def rand(self, *shape):
        n = math.prod(shape)
        return torch.tensor([self.uniform() for _ in range(n)], dtype=torch.float32).reshape(shape)

    def randn(self, *shape, sd=1.0):
        n = math.prod(shape)
        return torch.tensor([sd * self.normal() for _ in range(n)],
                            dtype=torch.float32).reshape(shape)

    def xavier(self, *shape):
        """Glorot uniform of a [in, out] weight (fan_out 1 for a vector)."""
        fan_out = shape[1] if len(shape) > 1 else 1
        return self.spread(*shape, a=math.sqrt(6.0 / (shape[0] + fan_out)))

    def he(self, *shape):
        """Kaiming normal of a [in, out] weight."""
        return self.randn(*shape, sd=math.sqrt(2.0 / shape[0]))

    def spread(self, *shape, a=1.0):
        """U(-a, a)."""
        n = math.prod(shape)
        return torch.tensor([a * (2.0 * self.uniform() - 1.0) for _ in range(n)],
                            dtype=torch.float32).reshape(shape)


def param(value):
    """nn's `param NAME = VALUE`: a float32 Parameter of its own."""
    v = torch.as_tensor(value, dtype=torch.float32, device=Data.device)
    return nn.Parameter(v.detach().clone())


def init_dense(layer, how, rng):
    """A dense layer's weight as nn draws it ([in, out], row by row), stored transposed as
    torch.nn.Linear keeps it; the bias zeros."""
    fan_in, fan_out = layer.in_features, layer.out_features
    if how == "xavier":
        w = rng.xavier(fan_in, fan_out)
    elif how == "he":
        w = rng.he(fan_in, fan_out)
    elif how == "uniform":
        w = rng.spread(fan_in, fan_out, a=1.0 / math.sqrt(fan_in))
    elif how == "normal":
        w = rng.randn(fan_in, fan_out, sd=math.sqrt(1.0 / fan_in))
    else:
        w = torch.full((fan_in, fan_out), 1.0 if how == "ones" else 0.0)
    with torch.no_grad():
        layer.weight.copy_(w.T)
        layer.bias.zero_()


def init_conv(layer, rng):
    """A conv layer's weight [out, in, KH, KW] (conv1d: [out, in, K]) and bias as nn draws
    them: uniform within ±1/sqrt(in·KH·KW), torch.nn.Conv2d's own rule, with nn's numbers."""
    w = layer.weight
    a = 1.0 / math.sqrt(math.prod(w.shape[1:]))
    with torch.no_grad():
        w.copy_(rng.spread(*w.shape, a=a))
        layer.bias.copy_(rng.spread(*layer.bias.shape, a=f32(a)))


# ---- data sets ------------------------------------------------------------------------------


class Data:
    """A data set as nn has it: X [rows, features] and Y [rows, targets], float32, and the class
    names (a one-hot Y, or one 0/1 column for two classes of a toy set). Its tensors live on
    the device the script runs on (Run sets it)."""
    device = torch.device("cpu")

    def __init__(self, X, Y, classes=()):
        self.X, self.Y = X.to(Data.device), Y.to(Data.device)
        self.classes = list(classes)

    @property
    def rows(self):
        return self.X.shape[0]

    def subset(self, rows):
        idx = torch.tensor(list(rows), dtype=torch.long, device=self.X.device)
        return Data(self.X[idx], self.Y[idx], self.classes)


def read_csv(path, target, shape=None):
    """A CSV with a header: the target column's classes (sorted, as numbers if all are whole
    numbers) become one-hot; a numeric target that is not all whole numbers stays one column.
    `shape` (images: (C, H, W)) is the shape of one row's features."""
    d = read_csv_rows(path, target)
    if shape:
        d.X = d.X.reshape((d.rows,) + tuple(shape))
    return d


def read_csv_rows(path, target):
    with open(path, newline="") as f:
        records = [[c.strip() for c in r] for r in csv.reader(f) if any(c.strip() for c in r)]
    header, rows = records[0], records[1:]
    t = header.index(target)
    X = torch.tensor([[float(v) for i, v in enumerate(r) if i != t] for r in rows],
                     dtype=torch.float32)
    texts = [r[t] for r in rows]

    def number(s):
        try:
            return float(s)
        except ValueError:
            return None
    values = [number(s) for s in texts]
    whole = all(v is not None and s.lstrip("+-").isdigit() for v, s in zip(values, texts))
    if all(v is not None for v in values) and not whole:
        return Data(X, torch.tensor(values, dtype=torch.float32).reshape(-1, 1))
    if whole:
        names = {}
        for s in sorted(texts, key=float):      # one name per value: the first written
            names.setdefault(float(s), s)
        classes = [names[v] for v in sorted(names)]
        index = {v: k for k, v in enumerate(sorted(names))}
        labels = [index[float(s)] for s in texts]
    else:
        classes = sorted(set(texts))
        index = {c: k for k, c in enumerate(classes)}
        labels = [index[s] for s in texts]
    Y = F.one_hot(torch.tensor(labels), len(classes)).float()
    return Data(X, Y, classes)


def read_images(folder, shape):
    """nn's images(folder): each sub-folder is a class and each file in it an image, both in
    byte order of their names, names that start with '.' skipped; PNG, PGM or PPM, told by the
    bytes; each sample divided by the format's largest value; one-hot Y. `shape` is the shape
    of one example (C, H, W as nn checked it, or another of as many values). torchvision's
    ImageFolder with ToTensor reads such a folder alike, but makes every image RGB."""
    def names(path, dirs):
        return sorted((e.name for e in os.scandir(path) if not e.name.startswith(".")
                       and (e.is_dir() or not dirs)), key=os.fsencode)
    classes = names(folder, True)
    images, labels = [], []
    for k, c in enumerate(classes):
        for name in names(os.path.join(folder, c), False):
            images.append(read_image(os.path.join(folder, c, name)))
            labels.append(k)
    X = torch.stack(images).reshape((len(images),) + tuple(shape))
    return Data(X, F.one_hot(torch.tensor(labels), len(classes)).float(), classes)


def read_image(path):
    """One image as [C, H, W] float32: gray or RGB, an alpha channel dropped (as nn's libpng
    reads it), no gamma applied."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        h, w, c, maxval, samples = read_png(data)
    elif data[:1] == b"P" and data[1:2] in (b"2", b"3", b"5", b"6"):
        h, w, c, maxval, samples = read_pnm(data)
    else:
        raise ValueError("%s is neither a PNG nor a PGM or PPM image" % path)
    t = torch.tensor(samples, dtype=torch.float32).reshape(h, w, c).permute(2, 0, 1)
    return t.contiguous() / maxval


def read_pnm(data):
    """PGM (P2, P5) or PPM (P3, P6): height, width, channels, maxval and the samples (pixel by
    pixel, channels interleaved)."""
    channels = 3 if data[1:2] in (b"3", b"6") else 1
    pos = 2

    def number():
        nonlocal pos
        while data[pos:pos + 1].isspace() or data[pos:pos + 1] == b"#":
            if data[pos:pos + 1] == b"#":
                while pos < len(data) and data[pos] not in b"\r\n":
                    pos += 1
            else:
                pos += 1
        start = pos
        while data[pos:pos + 1].isdigit():
            pos += 1
        return int(data[start:pos])
    w, h, maxval = number(), number(), number()
    n = w * h * channels
    if data[1:2] in (b"2", b"3"):
        return h, w, channels, maxval, [number() for _ in range(n)]
    pos += 1
    if maxval < 256:
        return h, w, channels, maxval, list(data[pos:pos + n])
    return h, w, channels, maxval, list(struct.unpack(">%dH" % n, data[pos:pos + 2 * n]))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def read_png(data):
    """A PNG of any colour type, bit depth and interlacing: height, width, channels (1 gray, 3
    RGB: a palette expanded, alpha dropped), maxval (255, or 65535 for 16 bits) and the
    samples, as libpng gives them to nn."""
    pos, idat, palette = 8, b"", b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    per = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    grid = [[None] * w for _ in range(h)]
    at = 0
    for x0, y0, dx, dy in ADAM7 if interlace else [(0, 0, 1, 1)]:
        pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
        if pw <= 0 or ph <= 0:
            continue
        rows, at = png_unfilter(raw, at, pw, ph, per * depth)
        for j, row in enumerate(rows):
            s = png_samples(row, pw * per, depth)
            for i in range(pw):
                grid[y0 + j * dy][x0 + i * dx] = s[i * per:(i + 1) * per]
    if color == 3:
        pixels = [palette[3 * p[0]:3 * p[0] + 3] for r in grid for p in r]
    elif color in (0, 4):
        scale = 255 // ((1 << depth) - 1) if depth < 8 else 1
        pixels = [[p[0] * scale] for r in grid for p in r]
    else:
        pixels = [p[:3] for r in grid for p in r]
    channels = 3 if color in (2, 3, 6) else 1
    return h, w, channels, 65535 if depth == 16 else 255, [v for p in pixels for v in p]


def png_unfilter(raw, at, width, height, bits):
    """`height` scanlines of `width` pixels of `bits` bits each from raw[at:], their filters
    undone; and where the next pass starts."""
    stride, bpp = (width * bits + 7) // 8, max(1, bits // 8)
    rows, prev = [], bytearray(stride)
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            else:
                pred = (0, a, b, (a + b) // 2)[kind]
            line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    return rows, at


def png_samples(row, count, depth):
    """The first `count` samples of a scanline, as ints."""
    if depth == 8:
        return list(row[:count])
    if depth == 16:
        return list(struct.unpack(">%dH" % count, bytes(row[:2 * count])))
    per_byte = 8 // depth
    return [(row[i // per_byte] >> (8 - depth * (i % per_byte + 1))) & ((1 << depth) - 1)
            for i in range(count)]


def split(d, first, rng):
    """nn's split(d, fraction): the rows shuffled, the first `first` of them, then the rest."""
    perm = rng.permutation(d.rows)
    return d.subset(perm[:first]), d.subset(perm[first:])


def split_rows(d, path):
    """nn's split(d, "rows.txt"): the rows the file lists (in its order) are the second part;
    the others, in order, the first."""
    with open(path) as f:
        listed = [int(w) for w in f.read().split()]
    chosen = set(listed)
    return d.subset([i for i in range(d.rows) if i not in chosen]), d.subset(listed)


def normalize(first, *rest):
    """Each set standardised with the first one's mean and deviation (a deviation of 0 is 1)."""
    x = first.X.double()
    mean = x.mean(0)
    sd = ((x - mean) ** 2).mean(0).sqrt().float()
    sd = torch.where(sd > 0, sd, torch.ones_like(sd))
    mean = mean.float()
    return tuple(Data((d.X - mean) / sd, d.Y.clone(), d.classes) for d in (first,) + rest)


def toy_set(n, k, binary, points, rng):
    """A toy set made as nn makes it: point (x1, x2) of class c plus noise, then shuffled."""
    X = torch.zeros(n, 2)
    Y = torch.zeros(n, 1 if binary else k)
    for i, (x1, x2, c, noise) in enumerate(points):
        e1, e2 = rng.normal(), rng.normal()
        X[i, 0], X[i, 1] = x1 + noise * e1, x2 + noise * e2
        Y[i, 0 if binary else c] = c if binary else 1.0
    for i in range(n - 1, 0, -1):
        j = rng.below_toy(i + 1)
        X[[i, j]] = X[[j, i]]
        Y[[i, j]] = Y[[j, i]]
    return Data(X, Y, [str(c) for c in range(k)])


def class_sizes(n, k):
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def xor(n, noise, rng):
    def points():
        for c in range(2):
            for _ in range(class_sizes(n, 2)[c]):
                s1 = 1.0 if rng.u32() & 1 else -1.0
                s2 = s1 if c == 1 else -s1
                x1 = s1 * (1.0 - rng.uniform())
                x2 = s2 * (1.0 - rng.uniform())
                yield x1, x2, c, noise
    return toy_set(n, 2, True, points(), rng)


def circles(n, noise, rng):
    def points():
        for c in range(2):
            for _ in range(class_sizes(n, 2)[c]):
                u = rng.uniform()
                r = 0.5 * u if c == 1 else 0.7 + 0.3 * u
                t = 2 * math.pi * rng.uniform()
                yield r * math.cos(t), r * math.sin(t), c, noise
    return toy_set(n, 2, True, points(), rng)


def moons(n, noise, rng):
    def points():
        for c in range(2):
            m = class_sizes(n, 2)[c]
            for j in range(m):
                t = math.pi * j / (m - 1) if m > 1 else 0.0
                if c == 0:
                    yield math.cos(t), math.sin(t), c, noise
                else:
                    yield 1 - math.cos(t), 0.5 - math.sin(t), c, noise
    return toy_set(n, 2, True, points(), rng)


def spirals(k, n, noise, rng):
    def points():
        for c in range(k):
            m = class_sizes(n, k)[c]
            for j in range(m):
                r = j / (m - 1) if m > 1 else 0.0
                t = 2 * math.pi * c / k + 4 * r
                yield r * math.cos(t), r * math.sin(t), c, noise
    return toy_set(n, k, False, points(), rng)


def blobs(k, n, noise, rng):
    centre = [2.0 * rng.uniform() - 1.0 for _ in range(2 * k)]

    def points():
        for c in range(k):
            for _ in range(class_sizes(n, k)[c]):
                yield centre[2 * c], centre[2 * c + 1], c, noise
    return toy_set(n, k, False, points(), rng)


# ---- what nn computes that torch names differently -------------------------------------------


def accuracy(out, Y):
    """The fraction of rows with the right class: the largest score against the one-hot (or
    index) target; for one column, both sides of 0.5."""
    out, Y = torch.as_tensor(out), torch.as_tensor(Y)
    if out.dim() == 2 and out.shape[1] >= 2:
        want = Y.long() if Y.dim() == 1 else Y.argmax(1)
        return (out.argmax(1) == want).float().mean()
    return ((out.reshape(-1) >= 0.5) == (Y.reshape(-1) >= 0.5)).float().mean()


def cross_entropy(out, Y):
    """Softmax and negative log-likelihood, the mean over rows: Y one-hot (or class indices)."""
    return F.cross_entropy(out, Y.long() if Y.dim() < out.dim() else Y)


def number(v):
    """A number as nn prints it (%.6g)."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return "0" if v == 0 else "%.6g" % v


def tensor_text(t, indent):
    """A tensor's numbers as nn prints them: nested brackets, every number right-aligned to
    the widest, rows under the first one (`indent` columns in), the middle of each axis
    elided past 1000 numbers."""
    if t.dim() == 0:
        return number(t)
    if t.numel() == 0:
        return "[]"
    flat = [number(v) for v in t.reshape(-1).tolist()]
    width, elide, rank = max(len(s) for s in flat), t.numel() > 1000, t.dim()

    def rec(d, offset, size):
        n = t.shape[d]
        stride = size // n
        s, gap = "[", False
        for i in range(n):
            if elide and n > 6 and 3 <= i < n - 3:
                if not gap:
                    s += "..., " if d == rank - 1 else "...,\n" + " " * (indent + d + 1)
                    gap = True
                continue
            s += flat[offset + i].rjust(width) if d == rank - 1 else rec(d + 1, offset + i * stride, stride)
            if i + 1 < n:
                s += ", " if d == rank - 1 else "," + "\n" * (rank - 1 - d) + " " * (indent + d + 1)
        return s + "]"
    return rec(0, 0, t.numel())


def print_line(items):
    """nn's print: the items separated by spaces; a tensor's rows lined up under its first
    when the text before it is at most 40 columns wide, else from a line of their own; its
    shape after it."""
    out = ""
    for i, item in enumerate(items):
        if i:
            out += " "
        if isinstance(item, str):
            out += item
            continue
        t = torch.as_tensor(item).detach().cpu()
        width = len(out) - (out.rfind("\n") + 1)
        text = tensor_text(t, width if width <= 40 else 0)
        if width > 40 and "\n" in text:
            out = out[:-1] + "\n" if i else out + "\n"
        out += text
        if t.dim():
            out += "  shape [" + ",".join(str(n) for n in t.shape) + "]"
    return out


def labels(classes, scores):
    """Each row's class name: the largest score, or for one column, class 1 at 0.5 and above."""
    s = torch.as_tensor(scores)
    s = s.reshape(1, -1) if s.dim() == 1 else s
    best = (s[:, 0] >= 0.5).long() if s.shape[1] == 1 else s.argmax(1)
    return "[" + ", ".join(classes[int(k)] for k in best) + "]"


# ---- checkpoints: safetensors with nn's names ------------------------------------------------


def linear_weights(model):
    """The weights of the model's nn.Linear layers: nn keeps them as W [in, out], transposed."""
    return {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}


def nn_tensors(model):
    """A model's params as nn names them: layerK.W (a Linear's weight transposed: [in, out])
    and layerK.b; a formula model's params by their own names."""
    out, linear = {}, linear_weights(model)
    for name, p in model.named_parameters():
        if name.endswith(".weight"):
            out[name[:-len("weight")] + "W"] = p.detach().T if id(p) in linear else p.detach()
        elif name.endswith(".bias"):
            out[name[:-len("bias")] + "b"] = p.detach()
        else:
            out[name] = p.detach()
    for name, b in model.named_buffers():     # batchnorm's running statistics, as nn names them
        if name.endswith(".running_mean") or name.endswith(".running_var"):
            out[name] = b.detach()
    return out


def save(model, path):
    """Writes the model's params as safetensors (F32, little-endian), which nn's `load` reads."""
    header, blobs, off = {}, [], 0
    for name, t in nn_tensors(model).items():
        b = t.cpu().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt", "written_by": "train.py, exported from nn"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def export_onnx(model, shape, path):
    """nn's `save MODEL "FILE.onnx"`: the model's inference graph for inputs of one example's
    `shape` ((features,) or an image's (C, H, W)), input "input" and output "output" with a
    dynamic batch dimension."""
    model.eval()
    torch.onnx.export(model, torch.zeros((1,) + tuple(shape),
                                         device=next(model.parameters()).device),
                      path, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=13)


def state_dict_of(path, model=None):
    """A checkpoint nn saved (or save above), as a PyTorch state_dict for the same model's
    class: a layer's W is its `weight` (a dense layer's transposed: nn keeps [in, out], Linear
    [out, in]; a conv or layernorm layer's as it is) and b its `bias`; a formula model's params
    keep their names; batchnorm's running statistics keep theirs (num_batches_tracked, which
    nn does not count, is 0: only torch's momentum=None reads it). Use it as model.load_state_dict(state_dict_of(path, model)); without the
    model, a 2-D W is taken for a Linear's."""
    linear = None
    if model is not None:
        params = dict(model.named_parameters())
        linear = {name for name, p in params.items() if id(p) in linear_weights(model)}
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    state = {}
    for name, e in header.items():
        if name.startswith("optim."):       # the optimizer's state, which resume reads
            continue
        s, end = e["data_offsets"]
        v = torch.frombuffer(bytearray(raw[8 + n + s:8 + n + end]), dtype=torch.float32)
        v = v.reshape(e["shape"])
        if "." in name and name.endswith(".W"):
            key = name[:-1] + "weight"
            dense = key in linear if linear is not None else v.dim() == 2
            state[key] = v.T.contiguous() if dense else v
        elif "." in name and name.endswith(".b"):
            state[name[:-1] + "bias"] = v
        elif name.endswith(".running_mean"):
            state[name] = v
            state[name[:-len("running_mean")] + "num_batches_tracked"] = torch.tensor(0)
        else:
            state[name] = v
    return state


def load(model, path):
    """nn's `load MODEL "FILE"`: the params saved by nn (or by save above) into the model."""
    model.load_state_dict(state_dict_of(path, model))


# ---- one process or many (torchrun) ----------------------------------------------------------


class Run:
    """Where the script runs: one process (CPU, or CUDA when present), or one of torchrun's
    processes, each on its own device, gradients averaged by DistributedDataParallel."""

    def __init__(self):
        self.distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
        self.rank, self.world = 0, 1
        if self.distributed:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", 0))
        self.device = torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        Data.device = self.device

    @property
    def main(self):
        return self.rank == 0

    def print(self, *items):
        """nn's print (print_line), by the first process only."""
        if self.main:
            print(print_line(items), flush=True)

    def sum(self, *values):
        """The values summed over the processes."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(t)
        return t.tolist()

    def wait(self):
        """Until every process is here (a file rank 0 writes is then there to read)."""
        if self.distributed:
            dist.barrier()

    def close(self):
        if self.distributed:
            dist.barrier()
            dist.destroy_process_group()


def schedule(opt, phases, milestone, total, per_update, per_epoch):
    """nn's schedule as torch.optim.lr_scheduler: one phase, or two (A then B, SequentialLR).
    A phase is (kind, {args}); `total` is the horizon (epochs, or updates when it counts
    updates); a formula's factor is a function of the epoch and the update counts."""
    from torch.optim import lr_scheduler as S

    def one(kind, a, horizon):
        if kind == "step_decay":
            return S.StepLR(opt, step_size=int(a["every"]), gamma=a["gamma"])
        if kind == "cosine":
            return S.CosineAnnealingLR(opt, T_max=horizon, eta_min=a["min"])
        if kind == "linear":
            over = int(a["over"]) if a["over"] > 0 else horizon
            return S.LinearLR(opt, start_factor=a["start"], end_factor=a["end"], total_iters=over)
        if kind == "exponential":
            return S.ExponentialLR(opt, gamma=a["gamma"])
        if kind == "warmup":
            over, start = int(a["over"]), a["start"]
            return S.LambdaLR(opt, lambda t: start + (1.0 - start) * min(t, over) / over)
        if kind == "one_cycle":
            max_lr = a["max_lr"] if a["max_lr"] > 0 else opt.defaults["lr"]
            return S.OneCycleLR(opt, max_lr=max_lr, total_steps=horizon, pct_start=a["pct"],
                                div_factor=a["div"], final_div_factor=a["final_div"],
                                cycle_momentum=bool(a["cycle_momentum"]),
                                base_momentum=a["base_momentum"], max_momentum=a["max_momentum"])
        factor = a["factor"]
        if per_update:
            return S.LambdaLR(opt, lambda t: factor(t // per_epoch, t))
        return S.LambdaLR(opt, lambda t: factor(t, t * per_epoch))
    if len(phases) == 1:
        return one(phases[0][0], phases[0][1], total)
    # torch 1.13's SequentialLR steps its schedulers with an epoch, which it then warns about
    warnings.filterwarnings("ignore", message="The epoch parameter in `scheduler.step")
    first = one(phases[0][0], phases[0][1], milestone)
    then = one(phases[1][0], phases[1][1], total - milestone)
    return S.SequentialLR(opt, [first, then], milestones=[milestone])


def score(v):
    """A loss as nn's log lines write it: 4 decimals, very large ones in exponent form."""
    v = float(v)
    return "%.4f" % v if abs(v) < 1e6 else "%.4g" % v


def batch_norms(model, run, rows):
    """nn normalises a batchnorm layer over the whole batch; under DDP each process sees only
    its `rows` of it. On CUDA the layers become SyncBatchNorm, which gathers the statistics of
    every process (as nn's); elsewhere (gloo) each process normalises its own share, which is
    said once, and a share of one row (one value per channel) is refused as nn refuses it."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    if run.device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return
    if rows < 2:
        raise SystemExit("train.py: batchnorm needs more than one row per process in a batch; "
                         "use a larger batch or fewer processes")
    if run.rank == 0:
        print("train.py: note: without CUDA, each process's batchnorm layers normalise its own "
              "%d rows of a batch (nn normalises the whole batch)" % rows, file=sys.stderr)


class Block:
    """A train block of nn: `epochs` passes over the rows in batches (a new order each epoch
    unless shuffle is False), one update per `accumulate` batches (their gradients weighted as
    one batch of all their rows), the gradient's global norm clipped to `clip`, the learning
    rate scheduled per epoch (or per update), a log line every `log_every` epochs, early
    stopping after `patience` epochs without a better loss (the best weights kept). The last
    `val_rows` rows are held out for validation (or `validation` is a data set). `loss` and
    `metric` are functions of (out, Y, X), the batch's.

    The params trained are the model's, or, given `candidates` (every param of the script so
    far), those the loss's gradient reaches, as in nn: a loss formula may read a param
    outside the model.

    Under torchrun each process takes its share of every epoch's rows (a DistributedSampler)
    in batches of batch / processes rows, so that an update still sees about `batch` rows."""

    def __init__(self, model, data, run, rng, *, loss, optimizer, epochs, batch, loss_name,
                 accumulate=1, clip=0.0, shuffle=True, metric=None, metric_name="accuracy",
                 val_rows=0, validation=None, patience=0, log_every=0, sched=None,
                 per_update=False, candidates=None):
        if val_rows:
            validation = data.subset(range(data.rows - val_rows, data.rows))
            data = data.subset(range(data.rows - val_rows))
        self.model, self.data, self.validation, self.run, self.rng = model, data, validation, run, rng
        self.loss, self.metric, self.loss_name, self.metric_name = loss, metric, loss_name, metric_name
        self.epochs, self.batch, self.accumulate, self.clip = epochs, batch, accumulate, clip
        self.shuffle, self.patience, self.log_every = shuffle, patience, log_every
        self.net, self.sampler = model, None
        if run.distributed:
            batch_norms(model, run, -(-batch // run.world))
            self.net = nn.parallel.DistributedDataParallel(
                model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
            self.sampler = torch.utils.data.DistributedSampler(
                range(data.rows), num_replicas=run.world, rank=run.rank, shuffle=shuffle,
                seed=rng.u32())
            self.batch = max(1, -(-batch // run.world))
        self.params = list(model.parameters())
        if candidates is not None:      # (evaluating: a probe must not move running statistics)
            x, y = data.X[:batch], data.Y[:batch]
            model.eval()
            grads = torch.autograd.grad(loss(model(x), y, x), candidates, allow_unused=True)
            model.train()
            self.params = [p for p, g in zip(candidates, grads) if g is not None]
        # batchnorm's running statistics: early stopping keeps them with the best weights
        self.statistics = [b for b in model.buffers() if b.is_floating_point()]
        mine = set(id(p) for p in model.parameters())
        self.outside = [p for p in self.params if id(p) not in mine]   # DDP does not see them
        self.opt = optimizer(self.params)
        rows = len(self.sampler) if self.sampler else data.rows
        self.batches = -(-rows // self.batch)
        self.per_update, self.scheduler = per_update, None
        if sched:
            per_epoch = -(-self.batches // accumulate)
            horizon = epochs * per_epoch if per_update else epochs
            self.scheduler = schedule(self.opt, sched[0], sched[1], horizon, per_update, per_epoch)
        self.grad_norm = 0.0

    def evaluate(self, data, with_metric=True):
        """The loss (and metric) of a whole set, the model evaluating (dropout off)."""
        self.model.eval()
        with torch.no_grad():
            out = self.model(data.X)
            value = float(self.loss(out, data.Y, data.X))
            m = float(self.metric(out, data.Y, data.X)) if self.metric and with_metric else None
        self.model.train()
        return value, m

    def order(self, epoch):
        if self.sampler:
            self.sampler.set_epoch(epoch)
            return list(self.sampler)
        return self.rng.permutation(self.data.rows) if self.shuffle else list(range(self.data.rows))

    def run_epoch(self, epoch):
        """One pass over this process's rows; the mean training loss over every process."""
        order, b, acc = self.order(epoch), self.batch, self.accumulate
        total = 0.0
        for k in range(self.batches):
            rows = order[k * b:(k + 1) * b]
            g0 = k // acc * acc
            g1 = min(g0 + acc, self.batches)
            group_rows = min(g1 * b, len(order)) - g0 * b
            if k == g0:
                self.opt.zero_grad()
            idx = torch.tensor(rows, device=self.run.device)
            x, y = self.data.X[idx], self.data.Y[idx]
            last = k == g1 - 1
            # DDP averages the gradients over the processes at the group's last backward only
            quiet = self.net.no_sync() if self.sampler and not last else contextlib.nullcontext()
            with quiet:
                value = self.loss(self.net(x), y, x)
                (value * (len(rows) / group_rows)).backward()
            bad = not math.isfinite(float(value))
            if self.sampler:    # every process stops together, or the others wait forever
                bad = self.run.sum(1.0 if bad else 0.0)[0] > 0
            if bad:
                raise FloatingPointError("the loss became %s in epoch %d" % (float(value), epoch + 1))
            total += float(value) * len(rows)
            if last:
                for p in self.outside if self.sampler else ():
                    dist.all_reduce(p.grad)     # averaged as DDP averages the model's
                    p.grad /= self.run.world
                if self.clip > 0:
                    self.grad_norm = float(nn.utils.clip_grad_norm_(self.params, self.clip))
                self.opt.step()
                if self.scheduler and self.per_update:
                    self.scheduler.step()
        if self.scheduler and not self.per_update:
            self.scheduler.step()
        total, seen = self.run.sum(total, len(order))
        return total / seen

    def log(self, epoch, train_loss, val):
        width = len(str(self.epochs))
        line = "epoch %*d/%d  %s %s" % (width, epoch + 1, self.epochs, self.loss_name,
                                        score(train_loss))
        if self.metric:
            line += "  %s %.4f" % (self.metric_name, self.evaluate(self.data)[1])
        if val:
            line += "  val_%s %s" % (self.loss_name, score(val[0]))
            if self.metric:
                line += "  val_%s %.4f" % (self.metric_name, val[1])
        if self.clip > 0:
            line += "  grad_norm %s" % number(self.grad_norm)
        self.run.print(line)

    def restore(self, values):
        with torch.no_grad():
            for p, v in zip(self.params + self.statistics, values):
                p.copy_(v)

    def fit(self):
        best, best_epoch, best_state = math.inf, -1, None
        self.model.train()
        for epoch in range(self.epochs):
            try:
                train_loss = self.run_epoch(epoch)
            except FloatingPointError as e:
                print("train.py: warning: %s; training stopped here" % e, file=sys.stderr)
                break
            val = self.evaluate(self.validation) if self.validation else None
            every = self.log_every
            if every and ((epoch + 1) % every == 0 or epoch + 1 == self.epochs):
                self.log(epoch, train_loss, val)
            if not self.patience:
                continue
            watch = val[0] if val else self.evaluate(self.data, with_metric=False)[0]
            if watch < best:
                best, best_epoch = watch, epoch
                best_state = [p.detach().clone() for p in self.params + self.statistics]
            elif epoch - best_epoch >= self.patience:
                self.restore(best_state)
                self.run.print("early stop after epoch %d: best %s%s %.4f at epoch %d; its "
                               "weights are restored" % (epoch + 1, "val_" if val else "",
                                                         self.loss_name, best, best_epoch + 1))
                break
        else:
            if best_state is not None and best_epoch != self.epochs - 1:
                self.restore(best_state)     # ran out of epochs: keep the best
        self.model.eval()


def train_formula(loss, candidates, run, *, optimizer, epochs, clip=0.0, log_every=0,
                  patience=0, sched=None, per_update=False):
    """nn's `train LOSS { settings }`: `epochs` updates of the params the loss's gradient
    reaches (of `candidates`, every param defined so far), a log line every `log_every`,
    early stopping after `patience` updates without a lower loss (the best values kept)."""
    with torch.enable_grad():
        grads = torch.autograd.grad(loss(), candidates, allow_unused=True)
        params = [p for p, g in zip(candidates, grads) if g is not None]
        opt = optimizer(params)
        scheduler = schedule(opt, sched[0], sched[1], epochs, True, 1) if sched else None
        best, best_epoch, best_values, grad_norm = math.inf, -1, None, 0.0
        for epoch in range(epochs):
            opt.zero_grad()
            value = loss()
            if not math.isfinite(float(value)):
                print("train.py: warning: the loss became %s in epoch %d; training stopped "
                      "here" % (float(value), epoch + 1), file=sys.stderr)
                break
            value.backward()
            if clip > 0:
                grad_norm = float(nn.utils.clip_grad_norm_(params, clip))
            opt.step()
            if scheduler:
                scheduler.step()
            if log_every and ((epoch + 1) % log_every == 0 or epoch + 1 == epochs):
                line = "epoch %*d/%d  loss %s" % (len(str(epochs)), epoch + 1, epochs,
                                                  score(value))
                if clip > 0:
                    line += "  grad_norm %s" % number(grad_norm)
                run.print(line)
            if not patience:
                continue
            with torch.no_grad():
                watch = float(loss())
            if watch < best:
                best, best_epoch = watch, epoch
                best_values = [p.detach().clone() for p in params]
            elif epoch - best_epoch >= patience:
                with torch.no_grad():
                    for p, v in zip(params, best_values):
                        p.copy_(v)
                run.print("early stop after epoch %d: best loss %.4f at epoch %d; its weights "
                          "are restored" % (epoch + 1, best, best_epoch + 1))
                break
        else:
            if best_values is not None and best_epoch != epochs - 1:
                with torch.no_grad():
                    for p, v in zip(params, best_values):
                        p.copy_(v)


def train(model, data, run, rng, **settings):
    """nn's `train MODEL on DATA { settings }` (see Block)."""
    with torch.enable_grad():      # main() computes without gradients, as nn's prints do
        Block(model, data, run, rng, **settings).fit()


def arguments(about):
    p = argparse.ArgumentParser(description=about)
    p.add_argument("--out", default="torch_out", metavar="DIR",
                   help="where the trained models are written, as DIR/MODEL.safetensors "
                        "(nn's `load` reads them); default torch_out")
    p.add_argument("--seed", type=int, default=None,
                   help="the seed of the random numbers before the script's own `seed` "
                        "statement (as nn's --seed: the script's statement wins)")
    return p.parse_args()


# ---- the script -----------------------------------------------------------------------------
