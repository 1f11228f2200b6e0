#!/usr/bin/env python3
"""Expand a markdown template whose examples are run with the real nn binary, so that every
example in docs/language.md shows what nn really prints. Usage:
  gen_language.py NN TEMPLATE OUTPUT [PROJECT_DIR]
The test "docs" regenerates the reference and fails if it differs from the checked-in copy.

```nn run [file=NAME.nn] [args=...]   -> the script, then its real output (stdout+stderr)
```sh run                             -> each '$ cmd' line is run; its output follows it
"""
import os, re, subprocess, sys, tempfile, shlex

nn = os.path.abspath(sys.argv[1]); src = sys.argv[2]; dst = sys.argv[3]
work = tempfile.mkdtemp(prefix="nndoc")
bindir = os.path.join(work, "bin"); os.makedirs(bindir)
os.symlink(nn, os.path.join(bindir, "nn"))
env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"], LC_ALL="C.UTF-8")
failures = []

def run(cmd):
    p = subprocess.run(["bash", "-c", cmd + " 2>&1"], cwd=work, env=env,
                       stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    return p.stdout.decode(), p.returncode

out = []
lines = open(src).read().split("\n")
i = 0
while i < len(lines):
    line = lines[i]
    m = re.match(r"^```(nn|sh) run(.*)$", line)
    if not m:
        out.append(line); i += 1; continue
    kind, opts = m.group(1), m.group(2)
    body = []
    i += 1
    while lines[i] != "```":
        body.append(lines[i]); i += 1
    i += 1
    if kind == "nn":
        o = dict(re.findall(r"(\w+)=(\S+)", opts))
        fname = o.get("file", "example.nn")
        args = o.get("args", "").replace(",", " ")
        expect = int(o.get("status", "0"))
        with open(os.path.join(work, fname), "w") as f:
            f.write("\n".join(body) + "\n")
        text, rc = run(f"nn {args} {fname}")
        if rc != expect:
            failures.append(f"{fname}: exit {rc}, want {expect}\n" + "\n".join(body) + "\n" + text)
        out.append("```nn"); out.extend(body); out.append("```")
        out.append("```text"); out.append(text.rstrip("\n")); out.append("```")
    else:
        out.append("```console")
        for b in body:
            if b.startswith("$ "):
                text, rc = run(b[2:])
                out.append(b)
                if text.rstrip("\n"):
                    out.append(text.rstrip("\n"))
            else:
                out.append(b)
        out.append("```")
text = "\n".join(out)
if "@@CAPI@@" in text:
    csrc = re.search(r"```c\n(.*?)```", text, re.S).group(1)
    with open(os.path.join(work, "capi.c"), "w") as f:
        f.write(csrc)
    inc = os.path.join(os.path.abspath(sys.argv[4]), "include"); lib = os.path.join(os.path.dirname(nn), "libnncore.a")
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-I" + inc, "capi.c", lib, "-lpng16", "-lz", "-lm", "-o", "capi"], cwd=work)
    res = "" if r.returncode else subprocess.run(["./capi"], cwd=work,
                                                 stdout=subprocess.PIPE).stdout.decode().strip()
    if r.returncode or not res:
        failures.append("C API example failed")
    text = text.replace("@@CAPI@@", res)
open(dst, "w").write(text + ("" if text.endswith("\n") else "\n"))
for f in failures:
    print("UNEXPECTED STATUS:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
