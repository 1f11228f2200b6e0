#!/usr/bin/env python3
"""test_layers.py — the pipeline's layers stay one-way (docs/design.md).

Reads which file calls which from the symbols of the built library (nm), then checks:
  1. no two files call each other, directly or round a longer circle;
  2. the front end (the parser, AST, checker, lowering) calls nothing of the runtime or the
     kernels, and the checker builds no graph;
  3. the runtime calls nothing of the front end (it runs instructions, never the AST).
Usage: test_layers.py NM LIBNNCORE.a
"""
import subprocess
import sys

NM, LIB = sys.argv[1], sys.argv[2]

FRONT = {"parser", "ast", "words", "sema", "sema_core", "sema_args", "sema_expr",
         "sema_model", "sema_data", "sema_train", "lower", "lower_expr", "lower_train",
         "export_torch"}
CHECKER = {f for f in FRONT if not f.startswith("lower") and f != "export_torch"}
RUNTIME = {"exec", "train", "checkpoint", "runtime"}
# what the front end may not call: the kernels and the runtime (it reads the tables of ops.c and
# optim.c, and a CSV's shape with data.c, but runs nothing)
ENGINE_ONLY = {"kernels", "exec", "train", "checkpoint", "runtime"}


def call_graph():
    out = subprocess.run([NM, "-A", LIB], capture_output=True, text=True, check=True).stdout
    defined, used = {}, {}
    for line in out.splitlines():
        where, _, rest = line.rpartition(".o:")
        obj = where.rsplit(":", 1)[-1].removesuffix(".c")
        if obj in ("nn.lex", "nn.tab"):     # flex's and bison's halves of one parser
            obj = "parser"
        parts = rest.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined[parts[2]] = obj
        elif len(parts) == 2 and parts[0] == "U":
            used.setdefault(obj, set()).add(parts[1])
    calls = {}
    for obj, syms in used.items():
        for sym in syms:
            if sym in defined and defined[sym] != obj:
                calls.setdefault(obj, set()).add(defined[sym])
    return set(defined.values()) | set(used), calls


def circles(files, calls):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(calls.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for f in sorted(files):
        if f not in index:
            visit(f)
    return found


def main():
    files, calls = call_graph()
    failures = []
    if not {"exec", "sema", "lower", "kernels"} <= files:
        failures.append("the library lacks files this test knows (did a file move?): %s"
                        % sorted(files))
    for comp in circles(files, calls):
        failures.append("these files call each other in a circle: " + ", ".join(comp))
    for f in sorted(files):
        bad = set()
        if f in FRONT:
            bad = calls.get(f, set()) & ENGINE_ONLY
        if f in CHECKER:
            bad |= calls.get(f, set()) & {"graph", "program"}
        if f in RUNTIME:
            bad |= calls.get(f, set()) & FRONT
        if bad:
            failures.append("%s.c calls %s, across the layers" % (f, ", ".join(sorted(bad))))
    for msg in failures:
        print("FAIL:", msg)
    if failures:
        sys.exit(1)
    print("ok: %d files, no circles, the front end and the runtime apart" % len(files))


main()
