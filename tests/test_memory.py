#!/usr/bin/env python3
"""test_memory.py NN — `--max-memory` holds for what grows with the input, measured: each case
runs NN and compares its peak resident memory (the kernel's count for that process) with the
limit plus what `nn -e 'print 1'` takes. (A child's count starts from its parent's size when it
execs, so this script keeps its own memory small and constant: the baseline covers it.) An address-space limit of 2 GiB on every run makes a regression fail
fast instead of filling the machine (a 4 GiB allocation fails at once).

  adam       a model trained with adam under --max-memory 40: its state (15 MiB) is counted
             with the graph (23 MiB), and no copy of values and state is kept to undo an
             update (23 MiB more before: a 65 MB peak); under 30 the state is refused
  load       a sparse file of 4 KiB on disk whose header claims a 4 GiB tensor the model does
             not use: never read
  resume     the same claim for a tensor with an optimizer state's name: refused from the
             header, before any read
  csv        a 12 MB file under --max-memory 4, with --check: stopped at the limit, not read
             whole
  csv pipe   a line without an end from a pipe: stopped at the limit
  csv zero   /dev/zero: refused at its first byte
  html       --html of 2000 traced passes: at most 16 MiB of events kept, the page says which
             passes were dropped, and the page is written without a second copy

Not run under the sanitizers (their shadow memory is not the program's). Run from the source
tree's root."""

import json
import os
import struct
import subprocess
import sys
import tempfile

NN = os.path.abspath(sys.argv[1])
MIB = 1 << 20
SLACK = 4 * MIB         # allocator and stack noise on top of the limit and the baseline
failures = []


def run(args, stdin=None, cwd=None):
    """Runs NN with args; returns (status, stdout, stderr, peak RSS in bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(["/bin/sh", "-c", 'ulimit -v 2097152 && exec "$0" "$@"', NN] + args,
                             stdin=stdin or subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                             env=dict(os.environ, LC_ALL="C"))
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss * 1024


def check(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name + ": " + detail)
    if not ok:
        failures.append(name)


def expect(name, args, status, limit_mib, base, needle=None, stdin=None, cwd=None):
    st, out, err, peak = run(args, stdin=stdin, cwd=cwd)
    bound = limit_mib * MIB + base + SLACK
    ok = st == status and peak <= bound and (needle is None or needle in out + err)
    check(name, ok, "exit %d (want %d), peak %.1f MiB (at most %.1f)%s" %
          (st, status, peak / MIB, bound / MIB,
           "" if ok else "\n" + (out + err)[-600:]))
    return out, err


def safetensors(path, tensors, meta, sparse_bytes=0):
    """tensors: (name, shape, float values or None for sparse zeros of sparse_bytes)."""
    header = {"__metadata__": meta} if meta else {}
    data, at = b"", 0
    for name, shape, values in tensors:
        size = len(values) * 4 if values is not None else sparse_bytes
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [at, at + size]}
        if values is not None:
            data += struct.pack("<%df" % len(values), *values)
        at += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
        f.truncate(8 + len(text) + at)     # the rest is a hole


def main():
    tmp = tempfile.mkdtemp(prefix="nn_memory_")
    base = run(["-e", "print 1"])[3]
    print("baseline: %.1f MiB" % (base / MIB))

    # adam: params P = 7.9 MB (dense 1400 x 1400); the graph takes about 3P (values, gradients,
    # the init's random numbers), adam's state 2P; an undo copy of values and state took 3P
    adam = os.path.join(tmp, "adam.nn")
    with open(adam, "w") as f:
        f.write("let d = xor(8)\nmodel net {\n  dense(2, 1400)\n  tanh\n  dense(1400)\n"
                "  tanh\n  dense(1)\n}\ntrain net on d {\n  loss bce_logits\n"
                "  optimizer adam(lr = 0.001)\n  epochs 2\n}\nprint \"trained\"\n")
    expect("adam", ["--max-memory", "40", adam], 0, 40, base, "trained")
    expect("adam refused", ["--max-memory", "30", adam], 1, 30, base,
           "the optimizer's state (adam keeps 2 numbers per parameter")

    # load and resume: a 4 GiB tensor in a sparse file
    net = "model net {\n  dense(2, 1)\n  sigmoid\n}\n"
    weights = [("layer1.W", [2, 1], [0.5, -0.5]), ("layer1.b", [1], [0.25])]
    junk = os.path.join(tmp, "junk.safetensors")
    safetensors(junk, weights + [("optim.junk", [1 << 30], None)], None, 4 << 30)
    script = os.path.join(tmp, "load.nn")
    with open(script, "w") as f:
        f.write(net + 'load net "%s"\nprint net.layer1.b\n' % junk)
    expect("load", ["--max-memory", "10", script], 0, 10, base, "0.25")

    meta = {"format": "nn-checkpoint/1", "model": "net", "source": net.strip(),
            "rng": "b70d1459426b2fd4:0000000000000003:0:3f39e4e5", "epoch": "1", "step": "1",
            "optimizer": "sgd"}
    state = os.path.join(tmp, "state.safetensors")
    safetensors(state, weights[:1] + [("optim.layer1.W.momentum_buffer", [1 << 30], None)]
                + weights[1:] + [("optim.layer1.b.momentum_buffer", [1], [0.0])], meta,
                4 << 30)
    script = os.path.join(tmp, "resume.nn")
    with open(script, "w") as f:
        f.write("let d = xor(8)\n" + net + "train net on d {\n  loss bce\n"
                "  optimizer sgd(lr = 0.1, momentum = 0.9)\n  epochs 2\n"
                '  resume "%s"\n}\n' % state)
    expect("resume", ["--max-memory", "10", script], 1, 10, base,
           "the optimizer state 'optim.layer1.W.momentum_buffer' is missing or has the wrong shape")

    # csv: 12 MB, 300000 rows
    big = os.path.join(tmp, "big.csv")
    with open(big, "w") as f:
        f.write("a,b,c,d,e,y\n")
        rows = "".join("0.123456,0.654321,0.111111,0.999999,0.5,%d\n" % (i % 3)
                       for i in range(3000))
        for _ in range(100):    # written in pieces: this script's memory stays small
            f.write(rows)
    script = os.path.join(tmp, "csv.nn")
    with open(script, "w") as f:
        f.write('let d = csv("%s", target = "y")\nprint d\n' % big)
    expect("csv", ["--check", "--max-memory", "4", script], 2, 4, base,
           "reading this file would take more than")
    expect("csv fits", [script], 0, 64, base, "300000 rows")

    script = os.path.join(tmp, "pipe.nn")
    with open(script, "w") as f:
        f.write('let d = csv("/dev/stdin", target = "y")\n')
    endless = subprocess.Popen(["tr", "\\0", "a"], stdin=open("/dev/zero", "rb"),
                               stdout=subprocess.PIPE)
    expect("csv pipe", ["--check", "--max-memory", "4", script], 2, 4, base,
           "reading this file would take more than the 4.0 MiB", stdin=endless.stdout)
    endless.kill()
    endless.wait()

    script = os.path.join(tmp, "zero.nn")
    with open(script, "w") as f:
        f.write('let d = csv("/dev/zero", target = "y")\n')
    expect("csv zero", ["--check", script], 2, 0, base, "the file has a NUL byte here")

    # html: 2000 traced updates of a small network, about 24 MB of events
    script = os.path.join(tmp, "html.nn")
    with open(script, "w") as f:
        f.write("let d = moons(32, noise = 0.1)\nmodel net {\n  dense(2, 8)\n  tanh\n"
                "  dense(1)\n}\ntrain net on d {\n  loss bce_logits\n  optimizer sgd(lr = 0.1)\n"
                "  epochs 2000\n}\n")
    page = os.path.join(tmp, "page.html")
    expect("html", ["--html", page, "--trace-steps", "1-2000", script], 0, 16, base, "wrote")
    with open(page, encoding="utf-8") as f:
        text = f.read()
    dropped = '"event":"dropped","first_pass":'
    check("html page", dropped in text and '"last_pass":2000,"max_bytes":16777216' in text
          and len(text) < 16 * MIB + 256 * 1024,
          "%.1f MiB, %s" % (len(text) / MIB, "says which passes were dropped"
                            if dropped in text else "no 'dropped' event"))

    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    if failures:
        print("memory: FAIL: " + ", ".join(failures))
        return 1
    return 0


sys.exit(main())
