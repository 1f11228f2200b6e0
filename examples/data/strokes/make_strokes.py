#!/usr/bin/env python3
"""make_strokes.py — writes the image folder examples/image_folder.nn reads: 8x8 gray PNG
pictures of one stroke each, in three classes (one sub-folder each): horizontal, vertical and
diagonal, 24 of each, with the stroke at a random place and some noise. Made for this project
(MIT, as nn); Python's standard library only (a small PNG writer on zlib), and a fixed seed, so
the files come out the same every time. Run it from anywhere: it writes beside itself.
"""
import os
import random
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 8


def png(path, rows):
    """An 8-bit gray PNG of the pixel rows."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    head = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def picture(kind, rng):
    img = [[rng.randrange(0, 60) for _ in range(SIZE)] for _ in range(SIZE)]
    at, length = rng.randrange(1, SIZE - 1), rng.randrange(5, SIZE + 1)
    start = rng.randrange(0, SIZE - length + 1)
    flip = rng.random() < 0.5
    for i in range(start, start + length):
        y, x = {"horizontal": (at, i), "vertical": (i, at),
                "diagonal": (i, SIZE - 1 - i if flip else i)}[kind]
        img[y][x] = rng.randrange(170, 256)
    return img


def main():
    rng = random.Random(15)
    for kind in ("diagonal", "horizontal", "vertical"):
        os.makedirs(os.path.join(HERE, kind), exist_ok=True)
    for n in range(24):
        for kind in ("diagonal", "horizontal", "vertical"):
            png(os.path.join(HERE, kind, "%02d.png" % n), picture(kind, rng))


main()
