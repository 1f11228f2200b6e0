#!/usr/bin/env python3
"""make_images.py — writes the PNG and binary PGM/PPM fixtures of tests/data/images (the plain
P2/P3 files beside them are written by hand). Run it from anywhere; it writes next to itself and
prints nothing. Only the standard library: a small PNG writer (zlib, struct) that can write
every colour type, bit depth and Adam7 interlacing, so the files are the same on every machine.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# (x0, y0, dx, dy) of the seven Adam7 passes
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def pack_row(samples, depth):
    """One row of samples (ints) as bytes: below 8 bits packed from the high bit."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in samples)
    out, acc, n = bytearray(), 0, 0
    for v in samples:
        acc = (acc << depth) | v
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def filtered(rows, depth, channels):
    """The scanlines, each with a filter byte: filters 0-4 in turn, so every one is tested."""
    bpp = max(1, channels * depth // 8)
    out, prev = bytearray(), None
    for i, row in enumerate(rows):
        kind = i % 5
        up = prev or bytes(len(row))
        line = bytearray()
        for j, x in enumerate(row):
            a = row[j - bpp] if j >= bpp else 0
            b = up[j]
            c = up[j - bpp] if j >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line.append((x - pred) & 0xFF)
        out.append(kind)
        out += line
        prev = row
    return bytes(out)


def png(path, pixels, color, depth, palette=None, trns=None, interlace=False, chunks=()):
    """pixels: rows of pixels, each a tuple of its channels' samples."""
    h, w = len(pixels), len(pixels[0])
    ch = CHANNELS[color]

    def rows_of(img):
        return [pack_row([s for px in r for s in px], depth) for r in img]

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = [pixels[y][x0::dx] for y in range(y0, h, dy)]
            if sub and sub[0]:
                raw += filtered(rows_of(sub), depth, ch)
    else:
        raw = filtered(rows_of(pixels), depth, ch)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, int(interlace)))
    for kind, body in chunks:
        data += chunk(kind, body)
    if palette:
        data += chunk(b"PLTE", b"".join(bytes(c) for c in palette))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    write(path, data)


def write(path, data):
    full = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def gray(rows):
    return [[(v,) for v in r] for r in rows]


def main():
    # gray/: 1 x 3 x 4 images (3 rows of 4 pixels); classes Line, cross, dot (byte order)
    png("gray/Line/a_8bit.png", gray([[0, 0, 0, 0], [255, 255, 255, 255], [0, 0, 0, 0]]), 0, 8)
    png("gray/Line/b_alpha.png", [[(0, 7)] * 4, [(128, 200)] * 4, [(0, 255)] * 4], 4, 8)
    png("gray/Line/c_16bit.png", gray([[0] * 4, [65535] * 4, [32768] * 4]), 0, 16)
    png("gray/cross/a_1bit.png", gray([[0, 1, 0, 0], [1, 1, 1, 1], [0, 1, 0, 0]]), 0, 1)
    png("gray/cross/b_interlaced.png",
        gray([[10, 200, 10, 10], [200, 200, 200, 200], [10, 200, 10, 10]]), 0, 8, interlace=True)
    png("gray/dot/b_4bit.png", gray([[0, 0, 0, 0], [0, 15, 5, 0], [0, 0, 0, 0]]), 0, 4,
        chunks=[(b"gAMA", struct.pack(">I", 100000)), (b"tEXt", b"Comment\x00ignored")])
    write("gray/dot/c_binary.pgm", b"P5\n# binary, two bytes a sample\n4 3\n1000\n" +
          b"".join(struct.pack(">H", v) for v in [0, 0, 0, 0, 0, 1000, 500, 0, 0, 0, 0, 0]))

    # rgb/: 3 x 2 x 2 images; classes blue, red
    px = [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (255, 255, 255)]]
    png("rgb/red/a_rgb.png", px, 2, 8)
    png("rgb/red/b_rgba.png", [[p + (a,) for p, a in zip(r, (0, 255))] for r in px], 6, 8)
    png("rgb/red/c_16bit_interlaced.png", [[tuple(v * 257 for v in p) for p in r] for r in px],
        2, 16, interlace=True)
    palette = [(10, 20, 30), (200, 100, 50), (0, 0, 0)]
    png("rgb/blue/a_palette.png", [[(0,), (1,)], [(2,), (1,)]], 3, 8, palette=palette,
        trns=b"\x00\x80")
    png("rgb/blue/b_palette_2bit.png", [[(1,), (0,)], [(0,), (2,)]], 3, 2, palette=palette)
    write("rgb/blue/d_binary.ppm", b"P6 2 2 255\n" + bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 250,
                                                            251, 252]))

    # bad/: one defect each (tests/errors/images_*.nn)
    good = gray([[0, 255], [255, 0]])
    png("bad/crc/a/x.png", good, 0, 8)
    data = bytearray(open(os.path.join(HERE, "bad/crc/a/x.png"), "rb").read())
    at = data.index(b"IDAT")
    end = at + 4 + struct.unpack(">I", data[at - 4:at])[0]
    data[end] ^= 0xFF                                           # the first byte of IDAT's CRC
    write("bad/crc/a/x.png", bytes(data))
    png("bad/cut/a/x.png", good, 0, 8)
    data = open(os.path.join(HERE, "bad/cut/a/x.png"), "rb").read()
    write("bad/cut/a/x.png", data[:data.index(b"IDAT") + 10])
    png("bad/sizes/a/x.png", good, 0, 8)
    png("bad/sizes/b/y.png", gray([[0, 255, 0], [255, 0, 255]]), 0, 8)
    png("bad/channels/a/x.png", good, 0, 8)
    png("bad/channels/b/y.png", [[(1, 2, 3), (4, 5, 6)], [(7, 8, 9), (0, 0, 0)]], 2, 8)
    write("bad/pgm_short/a/x.pgm", b"P5 4 4 255\n" + bytes(10))
    png("bad/large/a/x.png", gray([[0] * 600 for _ in range(600)]), 0, 8)


main()
