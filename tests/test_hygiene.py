#!/usr/bin/env python3
"""test_hygiene.py — what nn writes is safe to read, whatever bytes a script holds.

1. `--trace=json` (and the --html page drawn from it) is valid JSON in strict UTF-8 for scripts
   whose file name, strings and comments hold bytes that are not UTF-8 and control characters;
   each ill-formed sequence becomes one U+FFFD, exactly as Python's errors="replace".
2. Diagnostics and the text trace echo no control character (ESC, the other C0 controls but
   tab and newline, DEL, C1) and no byte that is not UTF-8, and the caret stands under the
   token it points at.
3. `print` is linear: 200,000 items in a few seconds (was 30 s), and a print of many matrices
   writes output proportional to its items (was quadratic).
4. A CSV header of 200,000 columns is checked in a few seconds (was 41 s: names compared
   all-pairs), a repeated name among them found.
Usage: test_hygiene.py PATH/TO/nn
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

NN = os.path.abspath(sys.argv[1])
failures = []
# controls a terminal acts on: C0 but tab and newline, DEL, C1
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name + ": " + str(detail)[:400])


def run(args, script_bytes, name=b"t.nn", timeout=60):
    """Writes the script under a temporary directory as `name` (bytes) and runs nn on it."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(os.fsencode(d), name)
        with open(path, "wb") as f:
            f.write(script_bytes)
        t0 = time.monotonic()
        p = subprocess.run([NN] + args + [path], capture_output=True, timeout=timeout,
                           cwd=d, env=dict(os.environ, LC_ALL="C"))
        return p, time.monotonic() - t0, path


def strict_json_lines(data):
    """Each line parsed from strict UTF-8; NaN and Infinity are not JSON either."""
    def no_constant(c):
        raise ValueError("not JSON: " + c)
    text = data.decode("utf-8")     # raises on any ill-formed byte
    return [json.loads(line, parse_constant=no_constant) for line in text.split("\n") if line]


# Random strings with every kind of trouble: ill-formed sequences, truncated characters,
# surrogates, overlong forms, C0 and C1 controls, and valid multi-byte characters between.
rng = random.Random(12)
PIECES = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\xaf", b"\xc3", b"\xe2\x88", b"\xed\xa0\x80",
          b"\xf0\x9f\x98", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x1b[31m",
          b"\x1b]0;title\x07", b"\x07", b"\x08", b"\x7f", b"\xc2\x9b2J", b"\xc2\x85", b"\t",
          b"\r", b"\xc3\xa9", b"\xe2\x88\x82", b"\xf0\x9f\x98\x80", b"abc", b" ", b"'"]


def trouble(n):
    return b"".join(rng.choice(PIECES) for _ in range(n))


# ---- 1. JSON -------------------------------------------------------------------------------
strings = [trouble(rng.randint(1, 8)) for _ in range(60)]
script = b"param w = 0.5  # " + trouble(6) + b"\nlet x = 2\n"
script += b"".join(b'print "' + s + b'"\n' for s in strings)
script += b"trace (w * # " + trouble(5) + b"\n  x)\nstep sgd(lr = 0.1)\n"
name = b"a" + trouble(3).replace(b"/", b"") + b".nn"
p, _, path = run(["--trace=json"], script, name)
check("json: runs", p.returncode == 0, p.stderr)
try:
    evs = strict_json_lines(p.stdout)
    check("json: every line is JSON in strict UTF-8", True)
except (UnicodeDecodeError, ValueError) as e:
    evs = []
    check("json: every line is JSON in strict UTF-8", False, e)
texts = [e["text"] for e in evs if e.get("event") == "print"]
want = [s.decode("utf-8", "replace") for s in strings]
check("json: printed strings, one U+FFFD per ill-formed sequence as Python's 'replace'",
      texts == want, [(a, b) for a, b in zip(texts, want) if a != b][:3])
at = [e["at"] for e in evs if e.get("event") == "pass"]
check("json: the file name in 'at' likewise",
      at == [os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
             + ":%d" % (script[:script.index(b"trace (")].count(b"\n") + 1)], at)

with tempfile.TemporaryDirectory() as d:
    page = os.path.join(d, "p.html")
    p, _, _ = run(["--html", page], script, name)
    ok = p.returncode == 0 and os.path.exists(page)
    try:
        with open(page, "rb") as f:
            f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        ok = False
        p = e
    check("html: the page is strict UTF-8", ok, p)

# ---- 2. terminal text ------------------------------------------------------------------------
def caret_ok(err, token):
    """The caret line's '^' is under the first character of `token` in the echoed source line
    (one column per character of the echo; tabs are copied into the caret line)."""
    lines = err.split("\n")
    for i in range(len(lines) - 2):
        m = re.match(r"( *)(\d+) \| (.*)$", lines[i + 1])
        if not re.match(r".+:\d+:\d+: error: ", lines[i]) or not m:
            continue
        text = m.group(3)
        col = text.find(token)
        gutter = " " * (len(m.group(1)) + len(m.group(2))) + " | "
        want = gutter + "".join("\t" if c == "\t" else " " for c in text[:col]) + "^"
        return col >= 0 and lines[i + 2].startswith(want)
    return False


bad = 0
for k in range(40):
    junk = trouble(rng.randint(1, 6))
    src = b"let s = 1 # " + junk + b"\n\tprint \"" + junk.replace(b'"', b"") + b"\", zzq\n"
    p, _, _ = run([], src, b"e" + junk.replace(b"/", b"")[:6] + b".nn")
    try:
        err = p.stderr.decode("utf-8")
    except UnicodeDecodeError as e:
        bad += 1
        if bad < 3:
            check("diagnostics: strict UTF-8 (%r)" % junk, False, e)
        continue
    if p.returncode != 2 or CONTROL.search(err) or not caret_ok(err, "zzq"):
        bad += 1
        if bad < 3:
            check("diagnostics: %r" % junk, False, err)
check("diagnostics: 40 scripts with controls and ill-formed bytes: no control reaches the "
      "terminal, the caret under the token", bad == 0)

p, _, _ = run([], b"param w = 2\nlet x = 3\ntrace (w * # \x1b[2J\xff\x9b\n  x)\n")
out = p.stdout.decode("utf-8", "replace")
check("text trace: the expression as written, escaped",
      p.returncode == 0 and "\ufffd" not in out and not CONTROL.search(out)
      and "# \\x1b[2J\\xff\\x9b\n  x)" in out, out[:200])

# ---- 3. print is linear ----------------------------------------------------------------------
n = 200000
p, secs, _ = run([], b"let x = 1\nprint " + b", ".join([b"x"] * n) + b"\n")
check("print: %d items are right" % n, p.stdout == b" ".join([b"1"] * n) + b"\n")
check("print: %d items in %.2f s (limit 10 s; it was 30 s)" % (n, secs), secs < 10)
p, secs, _ = run([], b"let M = [[1, 2], [3, 4]]\nprint " + b", ".join([b"M"] * 4000) + b"\n")
check("print: 4000 matrices write %d bytes (at most 42 each; it was 170 MB)" % len(p.stdout),
      p.returncode == 0 and len(p.stdout) <= 42 * 4000 + 100)

# ---- 4. CSV column names are checked in n log n ------------------------------------------------
cols = 200000
with tempfile.TemporaryDirectory() as d:
    names = ["c%d" % i for i in range(cols)]
    for tail, want in (("y", None), ("c5,y", "the column name 'c5' appears twice in the header")):
        with open(os.path.join(d, "wide.csv"), "w") as f:
            f.write(",".join(names) + "," + tail + "\n")
            f.write(",".join(["1"] * (cols + tail.count(",") + 1)) + "\n")
        with open(os.path.join(d, "wide.nn"), "w") as f:
            f.write('let d = csv("wide.csv", target = "y")\n')
        t0 = time.monotonic()
        p = subprocess.run([NN, "--check", "wide.nn"], capture_output=True, cwd=d, timeout=120,
                           env=dict(os.environ, LC_ALL="C"))
        secs = time.monotonic() - t0
        err = p.stderr.decode("utf-8", "replace")
        ok = p.returncode == 0 if want is None else p.returncode == 2 and want in err
        check("csv: a header of %d columns%s in %.2f s (limit 20 s; it was 41 s)"
              % (cols, ", one repeated," if want else "", secs), ok and secs < 20, err[:300])

if failures:
    print("\n%d failure(s):" % len(failures))
    for f in failures:
        print("  " + f)
    sys.exit(1)
