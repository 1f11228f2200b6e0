#!/usr/bin/python3
"""gen_ops.py: writes ops.txt, the cases of the differential test of nn's ops against PyTorch
(tests/unit/test_diff_ops.c reads it; see README.md).

Each case is one op applied to some inputs, as a graph node would be: torch computes the
output in float32 and, for ops with a gradient, the gradients of L = sum(output * G) with
respect to the inputs marked `grad`, for a fixed upstream gradient G. A few cases ("exact")
are computed in float64 instead and rounded to float32 once: they hold nn to the exactly
rounded answer, which float32 arithmetic can miss by far (a bias broadcast over 100,000 rows).

Needs torch (1.13) and numpy: run with /usr/bin/python3 from anywhere. The output is
deterministic (fixed seeds), so regenerating without changes gives the same file.
"""
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ops.txt")
rng = np.random.default_rng(20261206)
torch.manual_seed(0)

lines = []


def num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return "%.9g" % v


def values(a, period=None):
    """': v v v', or 'repeat : v ...' (its first `period` elements, over and over) for a big
    array that repeats them."""
    flat = np.asarray(a, dtype=np.float32).reshape(-1)
    if period is not None:
        tile = flat[:period]
        assert np.array_equal(np.resize(tile, flat.size), flat, equal_nan=True)
        return "repeat : " + " ".join(num(v) for v in tile)
    return ": " + " ".join(num(v) for v in flat)


def dims(shape):
    return " ".join(str(d) for d in [len(shape)] + list(shape))


def f32(a):
    return np.asarray(a, dtype=np.float32)


def case(name, op, fn, inputs, attrs=(), grad=(), exact=False, tol=None, periods=None,
         expect=None, upstream=None, rtol=None):
    """One case. inputs: float32 arrays; grad: the indices of the inputs differentiated
    (empty: forward only); fn(*tensors) -> the torch output; expect: the output written
    instead of fn's (for inputs torch refuses, where nn gives NaN); upstream: G (default:
    random); periods: per input index (and 'out', 'G', 'gradI'), the period with which a big
    array repeats, to keep big cases short."""
    repeats = periods
    repeats = repeats or {}
    dtype = torch.float64 if exact else torch.float32
    ts = [torch.tensor(np.asarray(x, dtype=np.float32)).to(dtype) for x in inputs]
    for i in grad:
        ts[i].requires_grad_(True)
    lines.append("case " + name)
    lines.append("op " + op)
    for key, val in attrs:
        vals = val if isinstance(val, (list, tuple)) else [val]
        lines.append("attr %s %s" % (key, " ".join(num(v) for v in vals)))
    if tol is not None:
        lines.append("tol %s" % num(tol))
    if rtol is not None:      # relative to |torch| alone, for values far from 1
        lines.append("rtol %s" % num(rtol))
    for i, x in enumerate(inputs):
        x = f32(x)
        kind = "grad" if i in grad else "const"
        lines.append("input %s %s %s" % (kind, dims(x.shape), values(x, repeats.get(i))))
    if expect is not None:
        y = f32(expect)
        lines.append("output %s %s" % (dims(y.shape), values(y, repeats.get("out"))))
        lines.append("end")
        return
    y = fn(*ts)
    yv = f32(y.detach().numpy())
    if grad:
        G = upstream
        if G is None:
            G = f32(rng.standard_normal(yv.shape).round(3))
        G = f32(np.broadcast_to(G, yv.shape))
        lines.append("upstream %s %s" % (dims(G.shape), values(G, repeats.get("G"))))
        (y * torch.tensor(G).to(dtype)).sum().backward()
    lines.append("output %s %s" % (dims(yv.shape), values(yv, repeats.get("out"))))
    for i in grad:
        g = f32(ts[i].grad.numpy())
        lines.append("grad %d %s" % (i, values(g, repeats.get("grad%d" % i))))
    lines.append("end")


def randn(*shape):
    return f32(rng.standard_normal(shape).round(4))


def ints(lo, hi, *shape):
    return f32(rng.integers(lo, hi, shape))


def pick(choices, *shape):
    return f32(rng.choice(np.asarray(choices, dtype=np.float32), shape))


NAN, INF = float("nan"), float("inf")


def comparisons():
    ops = [("LT", torch.lt), ("LE", torch.le), ("GT", torch.gt), ("GE", torch.ge),
           ("EQ", torch.eq), ("NE", torch.ne)]
    a = f32([[1, 2, NAN, 3], [0, -1, 2, INF], [NAN, 1, 1, -INF]])
    b = f32([2, NAN, 2, INF])
    c = ints(-2, 3, 3, 1)
    for name, fn in ops:
        def f(x, y, fn=fn):
            return fn(x, y).float()
        case(name.lower() + "_nan_broadcast", name, f, [a, b])
        case(name.lower() + "_column_row", name, f, [c, ints(-2, 3, 4)])
        case(name.lower() + "_scalar", name, f, [ints(-1, 2, 2, 3), f32(0)])
        case(name.lower() + "_rank3", name, f, [ints(0, 3, 2, 1, 3), ints(0, 3, 4, 1)])


def logic():
    vals = [0, 1, -2, 0.5, NAN, INF, -0.0]
    a, b = pick(vals, 3, 4), pick(vals, 4)
    case("and_broadcast", "AND", lambda x, y: torch.logical_and(x, y).float(), [a, b])
    case("or_broadcast", "OR", lambda x, y: torch.logical_or(x, y).float(), [a, b])
    case("and_scalar", "AND", lambda x, y: torch.logical_and(x, y).float(), [f32(3), a])
    case("or_column", "OR", lambda x, y: torch.logical_or(x, y).float(),
         [pick(vals, 3, 1), pick(vals, 1, 5)])
    case("not", "NOT", lambda x: torch.logical_not(x).float(), [a])
    case("not_scalar", "NOT", lambda x: torch.logical_not(x).float(), [f32(0)])


def where():
    def f(c, a, b):
        return torch.where(c != 0, a, b)
    conds = [0, 1, NAN, -1, 0.25]
    case("where_same", "WHERE", f, [pick(conds, 3, 4), randn(3, 4), randn(3, 4)], grad=(1, 2))
    case("where_broadcast", "WHERE", f, [pick(conds, 3, 1), randn(4), f32(2.5)], grad=(1, 2))
    case("where_rank3", "WHERE", f, [pick(conds, 2, 1, 3), randn(4, 1), randn(1)], grad=(1, 2))
    case("where_scalar_condition", "WHERE", f, [f32(0), randn(2, 3), randn(3)], grad=(1, 2))
    case("where_b_only", "WHERE", f, [pick(conds, 4), randn(4), randn(4)], grad=(2,))


def maximum_minimum():
    for name, fn in (("maximum", torch.maximum), ("minimum", torch.minimum)):
        op = name.upper()
        case(name + "_ties", op, fn, [ints(-2, 3, 3, 4), ints(-2, 3, 3, 4)], grad=(0, 1))
        case(name + "_broadcast_ties", op, fn, [ints(-2, 3, 3, 1), ints(-2, 3, 4)], grad=(0, 1))
        case(name + "_scalar", op, fn, [randn(2, 3), f32(0)], grad=(0, 1))
        case(name + "_nan", op, fn, [f32([1, NAN, 3, NAN]), f32([2, 1, NAN, NAN])],
             grad=(0, 1))
        case(name + "_rank3", op, fn, [randn(2, 1, 3), randn(4, 1)], grad=(0, 1))


def mod_detach():
    a = f32([7, -7, 7, -7, 5.5, 6, 0.25, -0.25])
    b = f32([3, 3, -3, -3, 2, 3, 1, 1])
    case("mod_signs", "MOD", torch.remainder, [a, b], grad=(0, 1))
    case("mod_broadcast", "MOD", torch.remainder, [randn(3, 4) * 5, f32([1.5, -2, 2.5, 3])],
         grad=(0, 1))
    case("mod_scalar", "MOD", torch.remainder, [randn(2, 3) * 4, f32(1.25)], grad=(0, 1))
    case("detach", "DETACH", lambda t: t.detach(), [randn(2, 3)])
    case("detach_scalar", "DETACH", lambda t: t.detach(), [f32(-1.5)])


def clamp():
    x = f32([-2, -1, -0.5, 0, 0.5, 1, 2, NAN, INF, -INF, 0.75, -0.25])
    for lo, hi, tag in ((-1, 1, "both"), (-0.5, INF, "min"), (-INF, 0.5, "max"),
                        (1, -1, "crossed"), (0, 0, "point"), (-INF, INF, "none")):
        case("clamp_" + tag, "CLAMP",
             lambda t, lo=lo, hi=hi: torch.clamp(t, min=None if lo == -INF else lo,
                                                 max=None if hi == INF and lo != -INF else hi),
             [x], attrs=[("lo", lo), ("hi", hi)], grad=(0,))
    case("clamp_matrix", "CLAMP", lambda t: torch.clamp(t, -0.3, 0.4), [randn(3, 4)],
         attrs=[("lo", -0.3), ("hi", 0.4)], grad=(0,))


def reductions():
    x3 = randn(2, 3, 4)
    for name, fn in (("sum", torch.sum), ("mean", torch.mean)):
        op = name.upper()
        case(name + "_all", op, fn, [x3], grad=(0,))
        case(name + "_axis_neg", op, lambda t, fn=fn: fn(t, dim=-2), [x3], attrs=[("axis", -2)],
             grad=(0,))
        case(name + "_axes_0_2", op, lambda t, fn=fn: fn(t, dim=(0, 2)), [x3],
             attrs=[("axes", [0, 2])], grad=(0,))
        case(name + "_axes_neg_keepdim", op, lambda t, fn=fn: fn(t, dim=(-1, 0), keepdim=True),
             [x3], attrs=[("axes", [-1, 0]), ("keepdim", 1)], grad=(0,))
        case(name + "_axis_keepdim", op, lambda t, fn=fn: fn(t, dim=1, keepdim=True), [x3],
             attrs=[("axis", 1), ("keepdim", 1)], grad=(0,))
        case(name + "_all_keepdim", op, lambda t, fn=fn: fn(t, dim=(0, 1, 2), keepdim=True),
             [x3], attrs=[("keepdim", 1)], grad=(0,))
        case(name + "_axes_all", op, lambda t, fn=fn: fn(t, dim=(0, 1)), [randn(3, 5)],
             attrs=[("axes", [0, 1])], grad=(0,))
        case(name + "_rank4_axes_1_3", op, lambda t, fn=fn: fn(t, dim=(1, 3)),
             [randn(2, 3, 2, 3)], attrs=[("axes", [1, 3])], grad=(0,))
        case(name + "_scalar", op, fn, [f32(1.5)], grad=(0,))

    for name, full, along in (("max", torch.max, torch.amax), ("min", torch.min, torch.amin)):
        op = name.upper()
        ties = ints(-2, 3, 3, 4)
        case(name + "_all_ties", op, full, [ties], grad=(0,))
        case(name + "_all", op, full, [randn(2, 3, 4)], grad=(0,))
        case(name + "_axis_ties", op, lambda t, f=along: f(t, dim=1), [ties],
             attrs=[("axis", 1)], grad=(0,))
        case(name + "_axis0_keepdim", op, lambda t, f=along: f(t, dim=0, keepdim=True), [ties],
             attrs=[("axis", 0), ("keepdim", 1)], grad=(0,))
        case(name + "_axes_neg", op, lambda t, f=along: f(t, dim=(0, -1)),
             [ints(-3, 4, 2, 3, 4)], attrs=[("axes", [0, -1])], grad=(0,))
        case(name + "_axes_keepdim", op, lambda t, f=along: f(t, dim=(1, 2), keepdim=True),
             [ints(-3, 4, 2, 3, 4)], attrs=[("axes", [1, 2]), ("keepdim", 1)], grad=(0,))
        case(name + "_all_keepdim", op, lambda t, f=along: f(t, dim=(0, 1), keepdim=True),
             [ties], attrs=[("keepdim", 1)], grad=(0,))
        # NaN propagates; torch.max(x) shares the gradient among the NaNs
        nan = f32([[1, NAN, 3], [4, 5, NAN]])
        case(name + "_all_nan", op, full, [nan], grad=(0,))
        # along an axis torch.amax's gradient is NaN for a NaN group: forward only
        case(name + "_axis_nan", op, lambda t, f=along: f(t, dim=1), [nan], attrs=[("axis", 1)])
        case(name + "_inf", op, full, [f32([-INF, 2, INF, INF])], grad=(0,))


def structural():
    case("reshape_infer", "RESHAPE", lambda t: t.reshape(3, -1), [randn(2, 3, 2)],
         attrs=[("shape", [3, -1])], grad=(0,))
    case("reshape_flat", "RESHAPE", lambda t: t.reshape(-1), [randn(3, 4)],
         attrs=[("shape", [-1])], grad=(0,))
    case("reshape_rank3", "RESHAPE", lambda t: t.reshape(2, 1, 3), [randn(6)],
         attrs=[("shape", [2, 1, 3])], grad=(0,))
    case("reshape_to_scalar", "RESHAPE", lambda t: t.reshape(()), [randn(1, 1)],
         attrs=[("shape", [])], grad=(0,))

    for axis, a, b in ((0, randn(2, 3), randn(1, 3)), (-1, randn(2, 3), randn(2, 2)),
                       (1, randn(2, 3, 2), randn(2, 1, 2)), (0, randn(3), randn(4)),
                       (-3, randn(1, 2, 2), randn(2, 2, 2))):
        case("concat_axis%d_%dd" % (axis, a.ndim), "CONCAT",
             lambda x, y, axis=axis: torch.cat([x, y], dim=axis), [a, b],
             attrs=[("axis", axis)], grad=(0, 1))
    case("concat_b_only", "CONCAT", lambda x, y: torch.cat([x, y], dim=0),
         [randn(2, 2), randn(3, 2)], attrs=[("axis", 0)], grad=(1,))

    x = randn(3, 4)
    x3 = randn(2, 3, 4)
    for axis, i, t in ((0, 1, x), (0, -1, x), (1, 0, x), (-1, -4, x), (1, 2, x3), (2, -2, x3),
                       (0, 4, randn(5))):
        case("index_axis%d_at%d_%dd" % (axis, i, t.ndim), "INDEX",
             lambda x, k, axis=axis, i=i: x.select(axis, i), [t, f32(i)],
             attrs=[("axis", axis)], grad=(0,))
    for axis, i in ((0, 3), (0, -4), (1, 0.5), (1, NAN)):
        shape = list(x.shape)
        del shape[axis]
        case("index_bad_%s" % num(i), "INDEX", None, [x, f32(i)], attrs=[("axis", axis)],
             expect=np.full(shape, NAN, dtype=np.float32))

    for axis, start, stop, t in ((0, 1, 3, x), (1, 0, 2, x), (-1, 3, 4, x), (1, 0, 3, x3),
                                 (2, 1, 4, x3), (0, 0, 5, randn(5))):
        case("slice_axis%d_%d_%d_%dd" % (axis, start, stop, t.ndim), "SLICE",
             lambda x, axis=axis, start=start, stop=stop: x.narrow(axis, start, stop - start),
             [t], attrs=[("axis", axis), ("start", start), ("stop", stop)], grad=(0,))

    def one_hot(t, classes):
        return torch.nn.functional.one_hot(t.long(), classes).float()
    case("one_hot_vector", "ONE_HOT", lambda t: one_hot(t, 4), [f32([0, 3, 1, 1, 2])],
         attrs=[("classes", 4)])
    case("one_hot_matrix", "ONE_HOT", lambda t: one_hot(t, 3), [ints(0, 3, 2, 3)],
         attrs=[("classes", 3)])
    case("one_hot_scalar", "ONE_HOT", lambda t: one_hot(t, 5), [f32(4)], attrs=[("classes", 5)])
    bad = f32([1, 3, -1, 0.5, NAN, 2])
    want = np.full((6, 3), NAN, dtype=np.float32)
    for r, v in enumerate(bad):
        if v == v and v == int(v) and 0 <= v < 3:
            want[r] = np.eye(3, dtype=np.float32)[int(v)]
    case("one_hot_bad", "ONE_HOT", None, [bad], attrs=[("classes", 3)], expect=want)


def broadcast_gradients():
    """The gradient of a broadcast input, summed over many rows: float32 one product at a
    time drifts by about N ulps; nn sums in double and must match the exact answer."""
    N = 100000
    x = np.full((N, 1), 0.1, dtype=np.float32)
    b = f32([0.5])
    # mean(full(N, 1, 0.1) + b): the upstream gradient is 1/N on every row; b.grad is 1
    G = np.full((N, 1), 1.0 / N, dtype=np.float32)
    case("bias_mean_100000_rows", "ADD", lambda s, t: s + t, [x, b], grad=(1,), exact=True,
         tol=1e-7, periods={0: 1, "out": 1, "G": 1}, upstream=G)
    # an upstream gradient whose exact sum is 0 (fifty rows of 0.1, then fifty of -0.1): in
    # float32 the running sum rounds on the way up and does not come back to 0
    tile = f32([0.1] * 50 + [-0.1] * 50)
    G0 = np.resize(tile, (N, 1)).astype(np.float32)
    case("bias_exact_zero_100000_rows", "ADD", lambda s, t: s + t, [x, b], grad=(1,),
         exact=True, tol=0, periods={0: 1, "out": 1, "G": 100}, upstream=G0)
    # a row broadcast over 20,000 rows (the rows of x and of G repeat, to keep the file short)
    xm = np.resize(randn(7, 5), (20000, 5)).astype(np.float32)
    Gm = np.resize(randn(3, 5), (20000, 5)).astype(np.float32)
    case("row_times_20000_rows", "MUL", lambda s, t: s * t, [xm, randn(5)], grad=(0, 1),
         exact=True, tol=1e-6, periods={0: 35, "out": 35, "G": 15, "grad0": 15}, upstream=Gm)
    # a column against a row: both are broadcast (the general walk)
    case("column_minus_row", "SUB", lambda s, t: s - t, [randn(30, 1), randn(1, 40)],
         grad=(0, 1), exact=True, tol=1e-6)


def quotient_edges():
    """a / b with divisors whose square leaves float32's range: b * b underflows below 1e-19
    (an infinite gradient for a finite one), loses digits in denormals, overflows above
    1.8e19 (a gradient of 0). Against torch in float64 rounded once to float32, relative."""
    one = f32([1.0])
    for name, a, b in (("tiny_divisor", 1e-30, 1e-25), ("denormal_square", 1e-30, 3e-20),
                       ("huge_divisor", 1e30, 1e20), ("ordinary", 3.0, -7.0)):
        case("div_" + name, "DIV", lambda s, t: s / t, [f32([a]), f32([b])], grad=(0, 1),
             exact=True, rtol=1e-6, upstream=one)


def main():
    comparisons()
    logic()
    where()
    maximum_minimum()
    clamp()
    reductions()
    structural()
    broadcast_gradients()
    quotient_edges()
    mod_detach()
    head = ["# ops.txt: cases of tests/unit/test_diff_ops.c, written by tests/diff/gen_ops.py",
            "# with torch %s; do not edit, regenerate (tests/diff/README.md)" % torch.__version__]
    with open(OUT, "w") as f:
        f.write("\n".join(head + lines) + "\n")
    print("wrote %s: %d cases" % (OUT, sum(1 for ln in lines if ln.startswith("case "))),
          file=sys.stderr)


if __name__ == "__main__":
    main()
