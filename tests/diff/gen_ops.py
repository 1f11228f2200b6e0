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
import torch.nn.functional as F

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


def num64(v):
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return num(v)
    return "%.17g" % v


def values(a, period=None, wide=False):
    """': v v v', or 'repeat : v ...' (its first `period` elements, over and over) for a big
    array that repeats them. wide: float64 values, all 17 digits."""
    flat = np.asarray(a, dtype=np.float64 if wide else np.float32).reshape(-1)
    fmt = num64 if wide else num
    if period is not None:
        tile = flat[:period]
        assert np.array_equal(np.resize(tile, flat.size), flat, equal_nan=True)
        return "repeat : " + " ".join(fmt(v) for v in tile)
    return ": " + " ".join(fmt(v) for v in flat)


def dims(shape):
    return " ".join(str(d) for d in [len(shape)] + list(shape))


def f32(a):
    return np.asarray(a, dtype=np.float32)


def head(name, op, attrs, rules, inputs, grad, repeats, buffers=()):
    """A case's first lines: its name, op, attributes, rule lines (tol, rtol, edge), inputs
    (each differentiated, a buffer the op may change, or a constant)."""
    lines.append("case " + name)
    lines.append("op " + op)
    for key, val in attrs:
        vals = val if isinstance(val, (list, tuple)) else [val]
        lines.append("attr %s %s" % (key, " ".join(num(v) for v in vals)))
    lines.extend(rules)
    for i, x in enumerate(inputs):
        x = f32(x)
        kind = "grad" if i in grad else "buffer" if i in buffers else "const"
        lines.append("input %s %s %s" % (kind, dims(x.shape), values(x, repeats.get(i))))


def case(name, op, fn, inputs, attrs=(), grad=(), exact=False, tol=None, periods=None,
         expect=None, upstream=None, rtol=None, edge=False, fn32=None, buffers=()):
    """One case. inputs: float32 arrays; grad: the indices of the inputs differentiated
    (empty: forward only); fn(*tensors) -> the torch output; expect: the output written
    instead of fn's (for inputs torch refuses, where nn gives NaN); upstream: G (default:
    random); periods: per input index (and 'out', 'G', 'gradI'), the period with which a big
    array repeats, to keep big cases short. edge: an edge case, judged against torch in
    float64 by torch float32's own error (edge_case; fn32: another torch formula of the same
    value whose float32 error sets the bar). buffers: the indices of inputs that the op
    updates in place (batchnorm's running statistics): their values after fn are written too."""
    if edge:
        edge_case(name, op, fn, inputs, attrs, grad, upstream, periods or {}, fn32 or fn)
        return
    repeats = periods or {}
    dtype = torch.float64 if exact else torch.float32
    ts = [torch.tensor(np.asarray(x, dtype=np.float32)).to(dtype) for x in inputs]
    for i in grad:
        ts[i].requires_grad_(True)
    rules = []
    if tol is not None:
        rules.append("tol %s" % num(tol))
    if rtol is not None:      # relative to |torch| alone, for values far from 1
        rules.append("rtol %s" % num(rtol))
    head(name, op, attrs, rules, inputs, grad, repeats, buffers)
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
    for i in buffers:
        lines.append("after %d %s" % (i, values(f32(ts[i].detach().numpy()))))
    lines.append("end")


def torch_run(fn, inputs, grad, G, dtype):
    """fn on the inputs in dtype: the output and the gradients of sum(output * G) (numpy,
    float64)."""
    ts = [torch.tensor(np.asarray(x, dtype=np.float32)).to(dtype) for x in inputs]
    for i in grad:
        ts[i].requires_grad_(True)
    y = fn(*ts)
    if grad:
        (y * torch.tensor(G).to(dtype)).sum().backward()
    out = y.detach().to(torch.float64).numpy()
    return out, {i: ts[i].grad.to(torch.float64).numpy() for i in grad}


def abs_error(got, ref):
    """|got - ref| elementwise; 0 where both are the same infinity or both NaN."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - ref)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))


def edge_case(name, op, fn, inputs, attrs, grad, upstream, repeats, fn32):
    """An edge case (tests/diff/README.md): the reference is fn, torch in float64, on the same
    float32 inputs; beside it, the error of fn32 in torch float32 against it, which nn may
    exceed at most tenfold (or 2 ulps of float32, when torch is exact)."""
    head(name, op, attrs, ["edge"], inputs, grad, repeats)
    y32, _ = torch_run(fn, inputs, (), None, torch.float32)
    G = None
    if grad:
        G = upstream if upstream is not None else f32(rng.standard_normal(y32.shape).round(3))
        G = f32(np.broadcast_to(G, y32.shape))
        lines.append("upstream %s %s" % (dims(G.shape), values(G, repeats.get("G"))))
    y32, g32 = torch_run(fn32, inputs, grad, G, torch.float32)
    y64, g64 = torch_run(fn, inputs, grad, G, torch.float64)
    lines.append("output %s %s" % (dims(y64.shape), values(y64, repeats.get("out"), True)))
    lines.append("error output %s" % values(abs_error(y32, y64), repeats.get("out"), True))
    for i in grad:
        period = repeats.get("grad%d" % i)
        lines.append("grad %d %s" % (i, values(g64[i], period, True)))
        lines.append("error grad %d %s" % (i, values(abs_error(g32[i], g64[i]), period, True)))
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


def edges():
    """Edge cases (issue 18), each judged against torch in float64 by torch float32's own
    error: large logits, losses at their clamps, exp and log at the ends of float32's range,
    0^0, signed zeros and denormals, long sums, broadcast gradients over many rows, quotients
    whose divisor squared leaves float32, long matrix products."""

    def one(*shape):
        return np.ones(shape, dtype=np.float32)

    big = f32([[1000, 0, -1000], [1000, 1000, -1000], [-1000, -1000, -1000], [0.5, 1e-3, -88]])
    case("edge_softmax_1000", "SOFTMAX", lambda t: torch.softmax(t, -1), [big],
         attrs=[("axis", -1)], grad=(0,), edge=True)
    case("edge_log_softmax_1000", "LOG_SOFTMAX", lambda t: torch.log_softmax(t, -1), [big],
         attrs=[("axis", -1)], grad=(0,), edge=True)
    logits = f32([[1000, -1000, 0], [-1000, 1000, 0], [0, 0, 1000], [3, 2, 1]])
    case("edge_cross_entropy_1000", "CROSS_ENTROPY",
         lambda x, t: F.cross_entropy(x, t.long()), [logits, f32([0, 0, 2, 1])], grad=(0,),
         upstream=one(), edge=True)
    probs = f32([[1, 0, 0], [0.5, 0.5, 0], [0, 0, 1], [0.2, 0.3, 0.5]])
    case("edge_cross_entropy_1000_probabilities", "CROSS_ENTROPY", F.cross_entropy,
         [logits, probs], grad=(0, 1), upstream=one(), edge=True)
    # bce at exactly 0 and 1: the logs clamped at -100, the gradient's denominator at 1e-12
    case("edge_bce_0_1", "BCE", F.binary_cross_entropy,
         [f32([0, 1, 0, 1, 0.5, 1e-7, 1 - 2 ** -24]), f32([1, 0, 0, 1, 1, 0, 1])], grad=(0,),
         upstream=one(), edge=True)
    case("edge_bce_logits_1000", "BCE_LOGITS", F.binary_cross_entropy_with_logits,
         [f32([1000, -1000, 1000, -1000, 0, 88, -88]), f32([1, 0, 0, 1, 0.5, 1, 0])],
         grad=(0, 1), upstream=one(), edge=True)
    case("edge_mse_huge", "MSE", F.mse_loss, [f32([1e18, -1e18, 3, 1e-20]), f32([0, 1e18, 3, 0])],
         grad=(0, 1), upstream=one(), edge=True)
    # exp up to float32's largest (e^88.72 = 3.39e38) and down into denormals
    case("edge_exp_88", "EXP", torch.exp, [f32([88, 88.7, 88.72, -87.3, -100, -103.9, 0])],
         grad=(0,), upstream=one(7), edge=True)
    case("edge_log_tiny", "LOG", torch.log,
         [f32([1.17549435e-38, 1e-38, 1e-30, 3.4e38, 1, 0.5])], grad=(0,), upstream=one(6),
         edge=True)
    case("edge_sqrt_tiny", "SQRT", torch.sqrt, [f32([1e-38, 1e-30, 1e-45, 4, 3.4e38])],
         grad=(0,), upstream=one(5), edge=True)
    # 0^0 = 1, and the gradients torch defines there (0, not NaN)
    case("edge_pow_zero", "POW", torch.pow, [f32([0, 0, 0, 2, 4]), f32([0, 2, 1, 0, 0.5])],
         grad=(0, 1), upstream=one(5), edge=True)
    z = f32([0, -0.0, 1e-40, -1e-40, 1e-45, -1e-45, 1.5, -1.5])
    case("edge_relu_zero_denormal", "RELU", torch.relu, [z], grad=(0,), edge=True)
    case("edge_abs_zero_denormal", "ABS", torch.abs, [z], grad=(0,), edge=True)
    ext = f32([100, -100, 20, -20, 1e-30, -1e-30, 0, 88.8, -88.8])
    case("edge_sigmoid_extremes", "SIGMOID", torch.sigmoid, [ext], grad=(0,), edge=True)
    case("edge_tanh_extremes", "TANH", torch.tanh, [ext], grad=(0,), edge=True)
    case("edge_softplus_extremes", "SOFTPLUS", F.softplus, [ext], grad=(0,), edge=True)
    # sums of a million elements
    N = 1000000
    tenth = np.full(N, 0.1, dtype=np.float32)
    for op, fn in (("SUM", torch.sum), ("MEAN", torch.mean)):
        case("edge_%s_1e6" % op.lower(), op, fn, [tenth], grad=(0,), upstream=one(),
             periods={0: 1, "grad0": 1}, edge=True)
    case("edge_sum_cancelling_1e6", "SUM", torch.sum,
         [np.resize(f32([1e8, 0.1, -1e8, 0.3]), N)], grad=(0,), upstream=one(),
         periods={0: 4, "grad0": 1}, edge=True)
    # broadcast gradients under a mean: a bias over 100,000 rows, a scalar times 200,000
    # elements, a row of 3 over 30,000 rows
    R = 100000
    case("edge_bias_mean_100000_rows", "ADD", lambda s, t: s + t,
         [np.full((R, 1), 0.1, dtype=np.float32), f32([0.5])], grad=(1,),
         upstream=np.full((R, 1), 1.0 / R, dtype=np.float32),
         periods={0: 1, "out": 1, "G": 1}, edge=True)
    M = 200000
    case("edge_scalar_times_200000", "MUL", lambda s, t: s * t,
         [f32(0.7), np.resize(randn(8), M).astype(np.float32)], grad=(0,),
         upstream=np.full(M, 1.0 / M, dtype=np.float32), periods={1: 8, "out": 8, "G": 1},
         edge=True)
    rows = np.resize(randn(5, 3), (30000, 3)).astype(np.float32)
    case("edge_row_bias_30000_rows", "ADD", lambda s, t: s + t, [rows, randn(3)], grad=(1,),
         upstream=np.full((30000, 3), 1.0 / 90000, dtype=np.float32),
         periods={0: 15, "out": 15, "G": 1}, edge=True)
    # quotients whose divisor squared underflows, goes denormal, overflows
    case("edge_div_extreme_divisors", "DIV", lambda s, t: s / t,
         [f32([1e-30, 1e-30, 1e30, 3]), f32([1e-25, 3e-20, 1e20, -7])], grad=(0, 1),
         upstream=one(4), edge=True)
    # long matrix products: a million 0.1 * 0.1, and 20,000 random terms. The bar is torch's
    # dot product of the two vectors (torch.matmul of 1-D tensors; 9999.58); its matrix
    # product calls the BLAS, which on some machines is one float32 chain (9865.22) and would
    # set no bar
    def dot(a, b):
        return torch.matmul(a.reshape(-1), b.reshape(-1)).reshape(1, 1)
    K = 1000000
    case("edge_matmul_1e6", "MATMUL", torch.matmul,
         [np.full((1, K), 0.1, dtype=np.float32), np.full((K, 1), 0.1, dtype=np.float32)],
         grad=(0, 1), upstream=one(1, 1),
         periods={0: 1, 1: 1, "grad0": 1, "grad1": 1}, edge=True, fn32=dot)
    L = 20000
    a = np.resize(randn(1000), (1, L)).astype(np.float32)
    b = np.resize(randn(997), (L, 1)).astype(np.float32)
    case("edge_matmul_random_20000", "MATMUL", torch.matmul, [a, b], grad=(0, 1),
         upstream=one(1, 1), periods={0: 1000, 1: 997, "grad0": 997, "grad1": 1000},
         edge=True, fn32=dot)


def images():
    """conv2d, maxpool2d and avgpool2d on batches [N, C, H, W]: several strides, paddings, window
    and image shapes, forward and the gradients of every input."""
    convs = [  # (x shape, out channels, kernel (kh, kw), stride, padding)
        ((2, 3, 5, 5), 4, (3, 3), 1, 0),
        ((2, 1, 8, 8), 6, (3, 3), 1, 1),
        ((1, 2, 7, 6), 3, (3, 2), 2, 1),
        ((3, 4, 6, 6), 2, (1, 1), 1, 0),
        ((2, 2, 9, 9), 5, (5, 5), 2, 2),
        ((1, 3, 4, 4), 2, (4, 4), 1, 0),
    ]
    for xs, out, (kh, kw), stride, pad in convs:
        x, w, b = randn(*xs), randn(out, xs[1], kh, kw), randn(out)
        case("conv2d_%dx%dx%dx%d_k%dx%d_s%d_p%d" % (xs + (kh, kw, stride, pad)), "CONV2D",
             lambda x, w, b, s=stride, p=pad: F.conv2d(x, w, b, stride=s, padding=p),
             [x, w, b], attrs=[("stride", [stride, stride]), ("pad", [pad, pad])],
             grad=(0, 1, 2), tol=1e-4)
    pools = [((2, 3, 4, 4), 2, 2), ((1, 2, 5, 5), 3, 1), ((2, 1, 7, 6), 3, 2),
             ((1, 4, 8, 8), 2, 2), ((2, 2, 6, 6), 2, 1)]
    for op, fn in (("MAXPOOL2D", F.max_pool2d), ("AVGPOOL2D", F.avg_pool2d)):
        for xs, k, stride in pools:
            # distinct values: a tie's gradient goes to one of them, which need not be torch's
            n = int(np.prod(xs))
            x = f32(rng.permutation(n).reshape(xs) * 0.125 - n * 0.0625)
            case("%s_%dx%dx%dx%d_k%d_s%d" % ((op.lower(),) + xs + (k, stride)), op,
                 lambda t, f=fn, k=k, s=stride: f(t, k, stride=s), [x],
                 attrs=[("kernel", [k, k]), ("stride", [stride, stride])], grad=(0,))


def norms():
    """layernorm over the last dims (one example's shape), forward and every gradient."""
    for xs, d in (((4, 6), 1), ((2, 3, 5), 2), ((2, 2, 3, 3), 3), ((7,), 1)):
        x = randn(*xs)
        w, b = randn(*xs[len(xs) - d:]), randn(*xs[len(xs) - d:])
        case("layernorm_%s" % "x".join(map(str, xs)), "LAYERNORM",
             lambda x, w, b: F.layer_norm(x, w.shape, w, b, eps=1e-5), [x, w, b],
             grad=(0, 1, 2), tol=1e-4)


def batchnorms():
    """batchnorm (training: the batch's statistics per channel, over the batch and the positions
    after the channel axis; the running statistics, inputs 3 and 4, moved in place with
    momentum 0.1 and the unbiased variance) and batchnorm_eval (the running statistics), on
    features [N, C], sequences [N, C, L] and images [N, C, H, W], against
    F.batch_norm(momentum=0.1, eps=1e-5): the output, the gradients of x, W and b, and the
    running statistics after the pass (non-default ones before it)."""
    def train(x, w, b, rm, rv):
        return F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)

    def evaluate(x, w, b, rm, rv):
        return F.batch_norm(x, rm, rv, w, b, training=False, momentum=0.1, eps=1e-5)

    def stats(c):
        """W, b and running statistics of c channels, none of them the defaults."""
        return [randn(c), randn(c), randn(c), f32(rng.uniform(0.3, 3.0, c).round(4))]

    shapes = [(8, 3), (2, 5), (16, 4), (4, 5, 6), (3, 2, 7), (2, 3, 4, 5), (5, 2, 3, 3),
              (1, 4, 3, 3), (2, 1, 2, 2)]
    for op, fn, tag in (("BATCHNORM", train, "train"), ("BATCHNORM_EVAL", evaluate, "eval")):
        for xs in shapes:
            x = randn(*xs) * 2 + 0.5
            case("batchnorm_%s_%s" % (tag, "x".join(map(str, xs))), op, fn,
                 [x] + stats(xs[1]), grad=(0, 1, 2), buffers=(3, 4))
    # a channel far from 0 and a constant channel (variance 0: x̂ is 0, 1/sqrt(eps) scales the
    # gradient), against torch in float64 rounded once (torch float32 is off by 5e-5 here, nn
    # computes the statistics and x̂ in double); the gradient of x alone, of W and b alone
    x = randn(6, 3, 4)
    x[:, 0] += 1000
    x[:, 1] = 0.75
    case("batchnorm_train_offset_constant", "BATCHNORM", train, [x] + stats(3), grad=(0, 1, 2),
         buffers=(3, 4), exact=True)
    case("batchnorm_eval_offset_constant", "BATCHNORM_EVAL", evaluate, [x] + stats(3),
         grad=(0, 1, 2), buffers=(3, 4), exact=True)
    xi = randn(3, 2, 4, 4)
    for op, fn, tag in (("BATCHNORM", train, "train"), ("BATCHNORM_EVAL", evaluate, "eval")):
        case("batchnorm_%s_x_only" % tag, op, fn, [xi] + stats(2), grad=(0,), buffers=(3, 4))
        case("batchnorm_%s_w_b_only" % tag, op, fn, [xi] + stats(2), grad=(1, 2),
             buffers=(3, 4))


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
    edges()
    images()
    norms()
    batchnorms()
    head = ["# ops.txt: cases of tests/unit/test_diff_ops.c, written by tests/diff/gen_ops.py",
            "# with torch %s; do not edit, regenerate (tests/diff/README.md)" % torch.__version__]
    with open(OUT, "w") as f:
        f.write("\n".join(head + lines) + "\n")
    print("wrote %s: %d cases" % (OUT, sum(1 for ln in lines if ln.startswith("case "))),
          file=sys.stderr)


if __name__ == "__main__":
    main()
