/* test_gradcheck.c — checks every differentiable op's backward kernel (walking the op table)
 * and a whole network's gradients through the public API against central finite differences,
 * and proves that the comparison itself can fail. */
#include "testutil.h"

#include "graph.h"
#include "nn.h"
#include "ops.h"
#include "rng.h"
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- tolerances ------------------------------------------------------------------------
 * Forward passes run in float32, so the step must be large enough that rounding of the output
 * (about 6e-8 relative) divided by 2h stays far below the tolerance, and small enough that the
 * truncation error (h^2/6 f''') does too: h = 1e-2 gives both below 1e-3 relative for every
 * configuration here. The step actually taken is (float)(x+h) - (float)(x-h), not 2h.
 * A gradient passes if |analytic - numeric| <= ATOL + RTOL * max(|analytic|, |numeric|); a
 * factor-of-2 or sign error on any element with |gradient| > 1e-3 breaks that by far. */
#define FD_STEP 1e-2
#define RTOL 1e-2
#define ATOL 1e-4

/* The largest number of mismatches printed for one configuration. */
#define MAX_REPORTS 4

/* How many op configurations one class can have (before filtering by the op's shape rule). */
#define MAX_CONFIGS 24

/* Where an input's gradient is meant to be checked: the op has a text for it. */
#define HAS_GRADIENT(op, i) ((op)->dtext[i] != NULL)

/* Relative-plus-absolute comparison of one gradient element. Stores in *ratio how much of the
 * allowed error was used (< 1 passes), so callers can report the margin. */
static bool grad_close(double analytic, double numeric, double *ratio)
{
    double allowed = ATOL + RTOL * fmax(fabs(analytic), fabs(numeric));
    double r = fabs(analytic - numeric) / allowed;
    if (ratio) *ratio = r;
    return r <= 1.0;   /* false for NaN too */
}

/* ---- input domains ---------------------------------------------------------------------
 * By default inputs are standard normal. Ops that are undefined or not differentiable
 * somewhere get inputs well away from there (more than FD_STEP away, so no finite difference
 * straddles a kink or a pole), and targets get the values they stand for. This is the only
 * per-op knowledge in the op checks. */

typedef enum Domain {
    DOM_DEFAULT,    /* in a Config: the op's rule below, else DOM_NORMAL */
    DOM_NORMAL,     /* standard normal */
    DOM_POSITIVE,   /* uniform on [0.5, 2] */
    DOM_AWAY_ZERO,  /* |x| uniform on [0.3, 2], random sign */
    DOM_PROB,       /* uniform on [0.1, 0.9]: a probability away from 0 and 1 (see below) */
    DOM_UNIT,       /* uniform on [0, 1]: a probability target */
    DOM_SMALL,      /* uniform on [-0.25, 0.25] */
    DOM_INDEX,      /* class indices 0 .. C-1 (C = input 0's last dimension), never perturbed */
    DOM_HALVES,     /* a multiple of 0.5 in [-2, 2] */
    DOM_QUARTERS,   /* an odd multiple of 0.25 in [-1.75, 1.75]: never a multiple of 0.5, so
                       against DOM_HALVES never within 0.25 of a tie */
    DOM_DISTINCT,   /* 0.25 apart from each other, shuffled: no ties, no near ties */
    DOM_MASK,       /* 0 or 1: a condition, never perturbed */
    DOM_CONST,      /* the configuration's constant k (an index), never perturbed */
    DOM_DIVIDEND,   /* uniform on [2.2, 2.8]: against DOM_DIVISOR, a / b stays in [2.09, 2.8], */
    DOM_DIVISOR,    /* uniform on [1, 1.05]: so a % b never jumps (floor(a / b) = 2) */
} Domain;

typedef struct DomainRule {
    OpKind op;
    int input;
    Domain dom;
} DomainRule;

static const DomainRule domain_rules[] = {
    { OP_LOG, 0, DOM_POSITIVE },          /* pole at 0 */
    { OP_SQRT, 0, DOM_POSITIVE },         /* infinite slope at 0 */
    { OP_POW, 0, DOM_POSITIVE },          /* real power needs a positive base */
    { OP_DIV, 1, DOM_AWAY_ZERO },         /* pole at 0 */
    { OP_ABS, 0, DOM_AWAY_ZERO },         /* kink at 0 */
    { OP_RELU, 0, DOM_AWAY_ZERO },        /* kink at 0 */
    { OP_LEAKY_RELU, 0, DOM_AWAY_ZERO },  /* kink at 0 */
    /* |p - t| with p away from 0 and t small: |p - t| >= 0.05, away from the kink */
    { OP_L1, 0, DOM_AWAY_ZERO },
    { OP_L1, 1, DOM_SMALL },
    /* -log p has third derivative -2/p^3, so the central difference's error h^2/6 f''' is 1.3%
     * of the gradient at p = 0.05 (over RTOL) and 0.3% at p = 0.1: keep p in [0.1, 0.9] */
    { OP_BCE, 0, DOM_PROB },
    { OP_BCE, 1, DOM_UNIT },              /* targets are probabilities */
    { OP_BCE_LOGITS, 1, DOM_UNIT },
    { OP_CROSS_ENTROPY, 1, DOM_UNIT },    /* probability targets; index targets: DOM_INDEX */
    /* the larger or smaller of two: never within a step of a tie */
    { OP_MOD, 0, DOM_DIVIDEND },          /* a % b jumps where a / b is an integer */
    { OP_MOD, 1, DOM_DIVISOR },
    { OP_MAXIMUM, 0, DOM_HALVES },
    { OP_MAXIMUM, 1, DOM_QUARTERS },
    { OP_MINIMUM, 0, DOM_HALVES },
    { OP_MINIMUM, 1, DOM_QUARTERS },
    /* kinks at the bounds, which the configurations put at ±0.75 */
    { OP_CLAMP, 0, DOM_HALVES },
    /* the extreme of a group: no ties, and no element a step away from taking over */
    { OP_MAX, 0, DOM_DISTINCT },
    { OP_MIN, 0, DOM_DISTINCT },
    { OP_WHERE, 0, DOM_MASK },            /* conditions are 0 or 1; see the configurations */
    { OP_MAXPOOL2D, 0, DOM_DISTINCT },    /* no ties in a window, none a step from taking over */
};

static Domain domain_of(OpKind op, int input)
{
    for (size_t i = 0; i < NN_ARRAY_LEN(domain_rules); i++)
        if (domain_rules[i].op == op && domain_rules[i].input == input)
            return domain_rules[i].dom;
    return DOM_NORMAL;
}

/* Fills v[0..n) from the domain; `classes` is the number of classes, for DOM_INDEX, and k the
 * constant, for DOM_CONST. */
static void fill_domain(float *v, size_t n, Domain dom, int classes, float k, Rng *rng)
{
    if (dom == DOM_DISTINCT) {
        for (size_t i = 0; i < n; i++) v[i] = 0.25f * ((float)i - (float)n / 2);
        for (size_t i = n; i > 1; i--) {
            size_t j = rng_u32(rng) % i;
            float t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        switch (dom) {
        case DOM_DEFAULT:
        case DOM_NORMAL:
            v[i] = rng_normal(rng);
            break;
        case DOM_POSITIVE:
            v[i] = 0.5f + 1.5f * rng_uniform(rng);
            break;
        case DOM_AWAY_ZERO: {
            float mag = 0.3f + 1.7f * rng_uniform(rng);
            v[i] = rng_uniform(rng) < 0.5f ? -mag : mag;
            break;
        }
        case DOM_PROB:
            v[i] = 0.1f + 0.8f * rng_uniform(rng);
            break;
        case DOM_UNIT:
            v[i] = rng_uniform(rng);
            break;
        case DOM_SMALL:
            v[i] = 0.5f * rng_uniform(rng) - 0.25f;
            break;
        case DOM_INDEX:
            v[i] = (float)(rng_u32(rng) % (uint32_t)classes);
            break;
        case DOM_HALVES:
            v[i] = 0.5f * (float)((int)(rng_u32(rng) % 9) - 4);
            break;
        case DOM_QUARTERS:
            v[i] = 0.25f * (float)(2 * (int)(rng_u32(rng) % 8) - 7);
            break;
        case DOM_DISTINCT:      /* filled above */
            break;
        case DOM_MASK:
            v[i] = (float)(rng_u32(rng) % 2);
            break;
        case DOM_CONST:
            v[i] = k;
            break;
        case DOM_DIVIDEND:
            v[i] = 2.2f + 0.6f * rng_uniform(rng);
            break;
        case DOM_DIVISOR:
            v[i] = 1.0f + 0.05f * rng_uniform(rng);
            break;
        }
    }
}

/* ---- configurations ----------------------------------------------------------------------
 * A configuration is the input shapes plus the constant attributes (axis, probability), and
 * for targets that only take special values (class indices) their domain and the fact that
 * they are never differentiated. The candidates come from the op's class (derived from arity,
 * flags and call signature, never from its name); those the op's own shape rule rejects are
 * dropped, so e.g. a rank-3 transpose or an index target for mse is never built. */

typedef struct Config {
    Shape in[NN_OP_MAX_IN];
    int kernel, stride, pad;    /* conv2d's stride and padding; a pool's window and stride */
    int axis;
    unsigned axes;      /* reductions over several axes (op_axis_bit), and */
    bool keepdim;       /* ... whether they keep them */
    float p;            /* dropout's probability */
    Shape shape;        /* reshape's new shape */
    int start, stop;    /* slice */
    float k;            /* the value of DOM_CONST inputs (index's position) */
    Domain dom[NN_OP_MAX_IN];   /* DOM_DEFAULT: the op's rule */
    unsigned fixed;     /* bit i: input i is a constant here, never perturbed */
} Config;

typedef enum OpClass {
    CLASS_NONE,         /* no idea how to test it: the test fails */
    CLASS_EW_UNARY,     /* elementwise, one input */
    CLASS_EW_BINARY,    /* elementwise, two inputs, broadcasting */
    CLASS_STRUCT_BINARY,/* two inputs, not elementwise: matrix product and the like */
    CLASS_STRUCT_UNARY, /* one input, not elementwise: transpose and the like */
    CLASS_REDUCE,       /* one input and an axis */
    CLASS_AXIS,         /* one input, along one axis: softmax and the like */
    CLASS_LOSS,         /* prediction and target to a scalar */
    CLASS_PROB,         /* one input and a probability: dropout */
    CLASS_EW_TERNARY,   /* elementwise, a condition and two inputs: where */
    CLASS_RESHAPE,      /* one input and a new shape */
    CLASS_CONCAT,       /* two inputs joined along an axis */
    CLASS_INDEX,        /* the compiler's x[i]: a tensor and a constant position */
    CLASS_SLICE,        /* the compiler's x[a:b] */
    CLASS_CONV,         /* images, a weight and a bias, with a stride and padding */
    CLASS_POOL,         /* images and a window */
    CLASS_NORM,         /* a tensor and the weight and bias of its examples */
    CLASS_BATCHNORM,    /* a batch, the weight and bias of its channels, and their running
                           statistics (constants: never differentiated) */
} OpClass;

static OpClass op_class(const OpInfo *op)
{
    if (op->flags & OPF_LEAF) return CLASS_NONE;
    if (op->flags & OPF_ELEMENTWISE) {
        if (op->arity == 1) return CLASS_EW_UNARY;
        if (op->arity == 2) return CLASS_EW_BINARY;
        if (op->arity == 3) return CLASS_EW_TERNARY;
        return CLASS_NONE;
    }
    if (op->sig == SIG_RESHAPE && op->arity == 1) return CLASS_RESHAPE;
    if (op->sig == SIG_CONCAT && op->arity == 2) return CLASS_CONCAT;
    if (op->sig == SIG_LEAF && op->arity == 5) return CLASS_BATCHNORM;
    if (op->sig == SIG_LEAF && op->arity == 2) return CLASS_INDEX;
    if (op->sig == SIG_LEAF && op->arity == 1) return CLASS_SLICE;
    if (op->sig == SIG_REDUCE && op->arity == 1) return CLASS_REDUCE;
    if (op->sig == SIG_AXIS && op->arity == 1) return CLASS_AXIS;
    if (op->sig == SIG_LOSS && op->arity == 2) return CLASS_LOSS;
    if (op->sig == SIG_PROB && op->arity == 1) return CLASS_PROB;
    if (op->sig == SIG_CONV && op->arity == 3) return CLASS_CONV;
    if (op->sig == SIG_POOL && op->arity == 1) return CLASS_POOL;
    if (op->sig == SIG_NORM && op->arity == 3) return CLASS_NORM;
    if (op->arity == 2 && op->sig == SIG_OPERATOR) return CLASS_STRUCT_BINARY;
    if (op->arity == 1 && (op->sig == SIG_UNARY || op->sig == SIG_OPERATOR))
        return CLASS_STRUCT_UNARY;
    return CLASS_NONE;
}

static Shape mk_shape(int rank, int d0, int d1, int d2)
{
    Shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    s.dim[0] = d0;
    s.dim[1] = d1;
    s.dim[2] = d2;
    return s;
}

#define S0() mk_shape(0, 0, 0, 0)
#define S1(a) mk_shape(1, a, 0, 0)
#define S2(a, b) mk_shape(2, a, b, 0)
#define S3(a, b, c) mk_shape(3, a, b, c)

static int add_config(Config *c, int n, Shape a, Shape b, int axis)
{
    NN_ASSERT(n < MAX_CONFIGS);
    memset(&c[n], 0, sizeof c[n]);
    c[n].in[0] = a;
    c[n].in[1] = b;
    c[n].axis = axis;
    return n + 1;
}

/* A loss configuration whose target holds class indices: filled with integers, never
 * perturbed (a finite difference would make it a non-integer, and the loss NaN). */
static int add_index_config(Config *c, int n, Shape logits, Shape index)
{
    n = add_config(c, n, logits, index, NN_AXIS_ALL);
    c[n - 1].dom[1] = DOM_INDEX;
    c[n - 1].fixed = 2;
    return n;
}

static int add_prob_config(Config *c, int n, Shape a, float p)
{
    n = add_config(c, n, a, S0(), NN_AXIS_ALL);
    c[n - 1].p = p;
    return n;
}

/* A reduction over several axes (op_axis_bit bits), keeping them or not. */
static int add_axes_config(Config *c, int n, Shape a, unsigned axes, int axis, bool keepdim)
{
    n = add_config(c, n, a, S0(), axis);
    c[n - 1].axes = axes;
    c[n - 1].keepdim = keepdim;
    return n;
}

/* where(c, a, b); the condition is constant (0s and 1s) unless `moving`: then it is away from
 * 0 (all true), so a step never flips it, and its gradient (none) is checked too. */
static int add_where_config(Config *c, int n, Shape cond, Shape a, Shape b, bool moving)
{
    n = add_config(c, n, cond, a, NN_AXIS_ALL);
    c[n - 1].in[2] = b;
    c[n - 1].fixed = moving ? 0 : 1;
    c[n - 1].dom[0] = moving ? DOM_AWAY_ZERO : DOM_MASK;
    return n;
}

static Shape S4(int a, int b, int c, int d)
{
    Shape s = mk_shape(3, a, b, c);
    s.rank = 4;
    s.dim[3] = d;
    return s;
}

/* conv2d(x [N, C, H, W], W [O, C, K, K], b [O]) with a stride and padding */
static int add_conv_config(Config *c, int n, Shape x, int out, int k, int stride, int pad)
{
    n = add_config(c, n, x, S4(out, x.dim[1], k, k), NN_AXIS_ALL);
    c[n - 1].in[2] = S1(out);
    c[n - 1].stride = stride;
    c[n - 1].pad = pad;
    return n;
}

static int add_pool_config(Config *c, int n, Shape x, int k, int stride)
{
    n = add_config(c, n, x, S0(), NN_AXIS_ALL);
    c[n - 1].kernel = k;
    c[n - 1].stride = stride;
    return n;
}

static int add_reshape_config(Config *c, int n, Shape a, Shape to)
{
    n = add_config(c, n, a, S0(), NN_AXIS_ALL);
    c[n - 1].shape = to;
    return n;
}

/* x[k] along an axis: the position is a constant */
static int add_index_pos_config(Config *c, int n, Shape a, int axis, float k)
{
    n = add_config(c, n, a, S0(), axis);
    c[n - 1].k = k;
    c[n - 1].dom[1] = DOM_CONST;
    c[n - 1].fixed = 2;
    return n;
}

static int add_slice_config(Config *c, int n, Shape a, int axis, int start, int stop)
{
    n = add_config(c, n, a, S0(), axis);
    c[n - 1].start = start;
    c[n - 1].stop = stop;
    return n;
}

/* The candidate configurations of a class; returns how many. */
static int class_candidates(OpClass cls, Config *c)
{
    int n = 0;
    switch (cls) {
    case CLASS_NONE:
        break;
    case CLASS_EW_UNARY:
        n = add_config(c, n, S2(3, 4), S0(), NN_AXIS_ALL);
        n = add_config(c, n, S1(5), S0(), NN_AXIS_ALL);
        n = add_config(c, n, S0(), S0(), NN_AXIS_ALL);
        break;
    case CLASS_EW_BINARY: {
        /* same shapes, then every broadcast pair in both orders */
        n = add_config(c, n, S2(3, 4), S2(3, 4), NN_AXIS_ALL);
        n = add_config(c, n, S0(), S0(), NN_AXIS_ALL);
        const Shape pairs[][2] = {
            { S2(3, 4), S1(4) },
            { S2(3, 1), S2(1, 4) },
            { S3(2, 1, 3), S2(4, 1) },
            { S0(), S2(3, 4) },
        };
        for (size_t i = 0; i < NN_ARRAY_LEN(pairs); i++) {
            n = add_config(c, n, pairs[i][0], pairs[i][1], NN_AXIS_ALL);
            n = add_config(c, n, pairs[i][1], pairs[i][0], NN_AXIS_ALL);
        }
        break;
    }
    case CLASS_STRUCT_BINARY:
        n = add_config(c, n, S2(3, 4), S2(4, 2), NN_AXIS_ALL);
        n = add_config(c, n, S1(4), S2(4, 2), NN_AXIS_ALL);
        n = add_config(c, n, S2(3, 4), S1(4), NN_AXIS_ALL);
        n = add_config(c, n, S1(4), S1(4), NN_AXIS_ALL);
        break;
    case CLASS_STRUCT_UNARY:
        n = add_config(c, n, S2(3, 4), S0(), NN_AXIS_ALL);
        n = add_config(c, n, S1(5), S0(), NN_AXIS_ALL);
        n = add_config(c, n, S3(2, 3, 4), S0(), NN_AXIS_ALL);
        n = add_config(c, n, S0(), S0(), NN_AXIS_ALL);   /* scalars: the trace's derivative */
        break;
    case CLASS_REDUCE: {
        const int axes[] = { NN_AXIS_ALL, 0, 1, -1 };
        for (size_t i = 0; i < NN_ARRAY_LEN(axes); i++) {
            n = add_config(c, n, S2(3, 4), S0(), axes[i]);
            n = add_config(c, n, S3(2, 3, 4), S0(), axes[i]);
        }
        n = add_config(c, n, S1(5), S0(), 0);
        n = add_config(c, n, S0(), S0(), NN_AXIS_ALL);
        /* several axes at once, and keepdim */
        n = add_axes_config(c, n, S3(2, 3, 4), op_axis_bit(0) | op_axis_bit(2), 0, false);
        n = add_axes_config(c, n, S3(2, 3, 4), op_axis_bit(-1) | op_axis_bit(-2), 0, true);
        n = add_axes_config(c, n, S2(3, 4), op_axis_bit(0), 0, true);
        n = add_axes_config(c, n, S2(3, 4), 0, 1, true);
        n = add_axes_config(c, n, S3(2, 3, 4), 0, NN_AXIS_ALL, true);
        break;
    }
    case CLASS_AXIS: {
        /* NN_AXIS_ALL and -1 are both the default, the last axis */
        const int axes[] = { NN_AXIS_ALL, -1, 0, 1 };
        for (size_t i = 0; i < NN_ARRAY_LEN(axes); i++)
            n = add_config(c, n, S2(3, 4), S0(), axes[i]);
        const int axes3[] = { 0, 1, 2, -2 };
        for (size_t i = 0; i < NN_ARRAY_LEN(axes3); i++)
            n = add_config(c, n, S3(2, 3, 4), S0(), axes3[i]);
        n = add_config(c, n, S1(5), S0(), 0);
        n = add_config(c, n, S2(4, 1), S0(), -1);       /* one element along the axis */
        break;
    }
    case CLASS_LOSS:
        /* same shapes (both inputs checked), then class-index targets (the prediction only) */
        n = add_config(c, n, S2(4, 3), S2(4, 3), NN_AXIS_ALL);
        n = add_config(c, n, S2(3, 1), S2(3, 1), NN_AXIS_ALL);
        n = add_config(c, n, S1(5), S1(5), NN_AXIS_ALL);
        n = add_config(c, n, S0(), S0(), NN_AXIS_ALL);   /* scalars: the trace's derivative */
        n = add_index_config(c, n, S2(4, 3), S1(4));
        n = add_index_config(c, n, S1(5), S0());
        n = add_index_config(c, n, S2(6, 2), S1(6));
        break;
    case CLASS_EW_TERNARY:
        n = add_where_config(c, n, S2(3, 4), S2(3, 4), S2(3, 4), false);
        n = add_where_config(c, n, S2(3, 4), S2(3, 4), S2(3, 4), true);
        n = add_where_config(c, n, S2(3, 1), S1(4), S0(), false);
        n = add_where_config(c, n, S1(4), S2(3, 1), S2(3, 4), false);
        n = add_where_config(c, n, S0(), S3(2, 1, 3), S2(4, 1), false);
        n = add_where_config(c, n, S3(2, 1, 3), S2(4, 1), S0(), true);
        break;
    case CLASS_RESHAPE:
        n = add_reshape_config(c, n, S2(3, 4), S2(4, 3));
        n = add_reshape_config(c, n, S3(2, 3, 4), S2(6, -1));
        n = add_reshape_config(c, n, S2(3, 4), S1(-1));
        n = add_reshape_config(c, n, S1(5), S2(5, 1));
        n = add_reshape_config(c, n, S0(), S2(1, 1));   /* scalars: the trace's derivative */
        break;
    case CLASS_CONCAT:
        n = add_config(c, n, S2(2, 3), S2(4, 3), 0);
        n = add_config(c, n, S2(2, 3), S2(2, 2), -1);
        n = add_config(c, n, S3(2, 3, 2), S3(2, 1, 2), 1);
        n = add_config(c, n, S1(3), S1(2), 0);
        break;
    case CLASS_INDEX:
        n = add_index_pos_config(c, n, S2(3, 4), 0, 2);
        n = add_index_pos_config(c, n, S2(3, 4), 1, -1);
        n = add_index_pos_config(c, n, S3(2, 3, 4), 1, 1);
        n = add_index_pos_config(c, n, S1(5), 0, -5);
        break;
    case CLASS_SLICE:
        n = add_slice_config(c, n, S2(4, 3), 0, 1, 3);
        n = add_slice_config(c, n, S2(4, 3), -1, 0, 2);
        n = add_slice_config(c, n, S3(2, 3, 4), 2, 1, 4);
        n = add_slice_config(c, n, S1(5), 0, 0, 5);
        break;
    case CLASS_CONV:
        n = add_conv_config(c, n, S4(2, 3, 5, 5), 4, 3, 1, 0);
        n = add_conv_config(c, n, S4(2, 1, 6, 6), 2, 3, 2, 1);
        n = add_conv_config(c, n, S4(1, 2, 4, 5), 3, 2, 1, 1);
        n = add_conv_config(c, n, S4(3, 2, 3, 3), 1, 1, 1, 0);
        /* sequences [N, C, L] with a weight [out, C, k] (conv1d) */
        n = add_config(c, n, S3(2, 3, 7), S3(4, 3, 3), NN_AXIS_ALL);
        c[n - 1].in[2] = S1(4);
        c[n - 1].stride = 2;
        c[n - 1].pad = 1;
        break;
    case CLASS_POOL:
        n = add_pool_config(c, n, S4(2, 3, 4, 4), 2, 2);
        n = add_pool_config(c, n, S4(1, 2, 5, 5), 3, 1);
        n = add_pool_config(c, n, S4(2, 1, 6, 4), 2, 1);
        break;
    case CLASS_NORM: {
        const Shape xs[][2] = { { S2(3, 5), S1(5) }, { S3(2, 3, 4), S2(3, 4) },
                                { S4(2, 2, 3, 3), S3(2, 3, 3) }, { S1(6), S1(6) } };
        for (size_t i = 0; i < NN_ARRAY_LEN(xs); i++) {
            n = add_config(c, n, xs[i][0], xs[i][1], NN_AXIS_ALL);
            c[n - 1].in[2] = xs[i][1];
        }
        break;
    }
    case CLASS_BATCHNORM: {     /* features [N, C], sequences [N, C, L], images */
        const Shape xs[] = { S2(4, 3), S3(3, 2, 4), S4(2, 3, 2, 3), S2(5, 1) };
        for (size_t i = 0; i < NN_ARRAY_LEN(xs); i++) {
            Shape per = S1(xs[i].dim[1]);
            n = add_config(c, n, xs[i], per, NN_AXIS_ALL);
            c[n - 1].in[2] = c[n - 1].in[3] = c[n - 1].in[4] = per;
            c[n - 1].dom[4] = DOM_DIVISOR;      /* a running variance: positive */
            c[n - 1].fixed = 1u << 3 | 1u << 4;
        }
        break;
    }
    case CLASS_PROB:
        n = add_prob_config(c, n, S2(3, 4), 0.3f);
        n = add_prob_config(c, n, S1(40), 0.5f);
        n = add_prob_config(c, n, S2(3, 4), 0.0f);
        n = add_prob_config(c, n, S2(2, 3), 0.9f);
        n = add_prob_config(c, n, S0(), 0.5f);
        break;
    }
    return n;
}

static OpAttrs config_attrs(const OpInfo *op, const Config *c)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.axis = c->axis;
    at.axes = c->axes;
    at.keepdim = c->keepdim;
    at.p = c->p;
    at.shape = c->shape;
    at.start = c->start;
    at.stop = c->stop;
    if (op->sig == SIG_LEAKY) at.alpha = 0.1f;
    if (op->sig == SIG_CLAMP) at.lo = -0.75f, at.hi = 0.75f;   /* between DOM_HALVES values */
    at.kernel[0] = at.kernel[1] = c->kernel;
    at.stride[0] = at.stride[1] = c->stride;
    at.pad[0] = at.pad[1] = c->pad;
    return at;
}

/* Whether the op's shape rule accepts the configuration (graph_add would assert otherwise). */
static bool config_valid(const OpInfo *op, const Config *c)
{
    OpAttrs at = config_attrs(op, c);
    Shape out;
    StrBuf err;
    sb_init(&err);
    bool ok = op->shape(op, c->in, &at, &out, &err);
    sb_free(&err);
    return ok;
}

/* The configurations the op is checked with; returns how many (0: the op cannot be tested).
 * *all_valid tells whether its shape rule accepted every candidate of its class. */
static int op_configs(const OpInfo *op, Config *out, bool *all_valid)
{
    Config cand[MAX_CONFIGS];
    int nc = class_candidates(op_class(op), cand), n = 0;
    for (int i = 0; i < nc; i++)
        if (config_valid(op, &cand[i])) out[n++] = cand[i];
    *all_valid = n == nc;
    return n;
}

static void config_describe(const OpInfo *op, const Config *c, char *buf, size_t len)
{
    char a[64], b[64], d[64];
    shape_str(&c->in[0], a, sizeof a);
    if (op->arity == 3) {
        snprintf(buf, len, "%s(%s, %s, %s)%s", op->name, a, shape_str(&c->in[1], b, sizeof b),
                 shape_str(&c->in[2], d, sizeof d), c->fixed & 1 ? "" : " moving condition");
    } else if (c->axes || c->keepdim) {
        snprintf(buf, len, "%s(%s, axes 0x%x, axis %d%s)", op->name, a, c->axes, c->axis,
                 c->keepdim ? ", keepdim" : "");
    } else if (op->sig == SIG_RESHAPE) {
        snprintf(buf, len, "%s(%s to %s)", op->name, a, shape_str(&c->shape, b, sizeof b));
    } else if (op->sig == SIG_LEAF && op->arity == 2) {
        snprintf(buf, len, "%s(%s, %g along axis %d)", op->name, a, (double)c->k, c->axis);
    } else if (op->sig == SIG_LEAF) {
        snprintf(buf, len, "%s(%s, %d:%d along axis %d)", op->name, a, c->start, c->stop,
                 c->axis);
    } else if (op->arity == 2 && op->sig == SIG_OPERATOR) {
        snprintf(buf, len, "%s %s %s", a, op->name, shape_str(&c->in[1], b, sizeof b));
    } else if (op->arity == 2) {
        snprintf(buf, len, "%s(%s, %s%s)", op->name, a, shape_str(&c->in[1], b, sizeof b),
                 c->dom[1] == DOM_INDEX ? " class indices" : "");
    } else if ((op->sig == SIG_REDUCE || op->sig == SIG_AXIS) && c->axis != NN_AXIS_ALL) {
        snprintf(buf, len, "%s(%s, axis %d)", op->name, a, c->axis);
    } else if (op->sig == SIG_PROB) {
        snprintf(buf, len, "%s(%s, p %g)", op->name, a, (double)c->p);
    } else {
        snprintf(buf, len, "%s(%s)", op->name, a);
    }
}

/* ---- checking one configuration ---------------------------------------------------------- */

typedef struct CheckResult {
    int elements;       /* gradient elements compared */
    int mismatches;
    double worst;       /* the largest ratio of error to allowed error */
    double signal;      /* the largest |numeric gradient|: 0 means nothing was really tested */
} CheckResult;

static double weighted_sum(const GraphNode *out, const float *r)
{
    double s = 0;
    for (size_t i = 0; i < out->size; i++) s += (double)out->value[i] * (double)r[i];
    return s;
}

static void record(CheckResult *res, const char *what, const char *desc, int input, size_t elem,
                   double analytic, double numeric, bool quiet)
{
    double ratio;
    res->elements++;
    if (fabs(numeric) > res->signal) res->signal = fabs(numeric);
    bool ok = grad_close(analytic, numeric, &ratio);
    if (!(ratio <= res->worst)) res->worst = ratio;
    if (ok) return;
    if (!quiet && res->mismatches < MAX_REPORTS)
        print_error("%s: %s: input %d element %zu: analytic %.7g, numeric %.7g\n", desc, what,
                    input, elem, analytic, numeric);
    res->mismatches++;
}

/* Builds PARAM inputs (or CONST ones where const_mask or the config's `fixed` has the input's
 * bit) feeding one `op` node, fills them from their domains, and checks L = sum(out * R) for a
 * random R: the backward kernel's gradient (multiplied by `corrupt`, which is 1 except in the
 * self-check) against central differences, and the scalar derivative used by traces where it
 * applies pointwise (elementwise ops without broadcasting, and any op on scalars). Input
 * gradients start at random values, so a kernel that assigns instead of adding is caught.
 * Returns the counts; prints mismatches unless quiet.
 *
 * Random ops (dropout) are checked as what they are: a deterministic function y = f(x; ω) of
 * the input and of the random numbers ω drawn in forward, whose backward differentiates f for
 * the ω of the pass before it. So every forward here starts from a copy of the same generator
 * state: each pass draws the same ω (the same mask) and the finite differences differentiate
 * that same f. For every other op the generator is simply unused. */
static CheckResult check_config(const OpInfo *op, const Config *c, unsigned const_mask,
                                double corrupt, Rng *rng, bool quiet)
{
    CheckResult res = { 0, 0, 0.0, 0.0 };
    char desc[160];
    config_describe(op, c, desc, sizeof desc);
    Span span = { 0, 0, 0 };
    Graph g;
    graph_init(&g);
    uint32_t ids[NN_OP_MAX_IN] = { 0 };
    unsigned constant = const_mask | c->fixed;
    for (int i = 0; i < op->arity; i++) {
        OpAttrs la;
        memset(&la, 0, sizeof la);
        la.shape = c->in[i];
        ids[i] = graph_add(&g, (constant >> i) & 1 ? OP_CONST : OP_PARAM, NULL, 0, &la, span);
    }
    OpAttrs at = config_attrs(op, c);
    uint32_t oid = graph_add(&g, op->kind, ids, op->arity, &at, span);
    /* every node got its buffers (a graph past its memory limit gives none: the fill below
     * would write through NULL, as it did when graph_init kept a random limit) */
    assert_false(g.over);
    GraphNode *out = graph_node(&g, oid), *in[NN_OP_MAX_IN] = { NULL };
    int classes = c->in[0].rank ? c->in[0].dim[c->in[0].rank - 1] : 1;
    for (int i = 0; i < op->arity; i++) {
        in[i] = graph_node(&g, ids[i]);
        Domain dom = c->dom[i] != DOM_DEFAULT ? c->dom[i] : domain_of(op->kind, i);
        fill_domain(in[i]->value, in[i]->size, dom, classes, c->k, rng);
    }
    assert_true(out->requires_grad);
    assert_non_null(out->grad);

    /* the generator state every forward pass starts from (see above) */
    Rng omega, draw;
    rng_seed(&omega, rng_u32(rng));
    draw = omega;
    op->forward(out, in, &draw);
    float *r = nn_alloc(out->size * sizeof *r);
    float *y0 = nn_alloc(out->size * sizeof *y0);
    for (size_t k = 0; k < out->size; k++) r[k] = out->grad[k] = rng_normal(rng);
    memcpy(y0, out->value, out->size * sizeof *y0);

    /* Analytic gradients: backward on top of a random starting gradient, then subtract it. */
    float *start[NN_OP_MAX_IN] = { NULL };
    for (int i = 0; i < op->arity; i++) {
        if (!in[i]->requires_grad) {
            assert_null(in[i]->grad);
            continue;
        }
        start[i] = nn_alloc(in[i]->size * sizeof(float));
        for (size_t k = 0; k < in[i]->size; k++)
            start[i][k] = in[i]->grad[k] = rng_uniform(rng) - 0.5f;
    }
    op->backward(out, in);
    for (size_t k = 0; k < out->size; k++) assert_true(out->grad[k] == r[k]);

    bool same = (op->flags & OPF_ELEMENTWISE) != 0, scalars = out->size == 1;
    for (int i = 0; i < op->arity; i++) {
        same = same && shape_eq(&in[i]->shape, &out->shape);
        scalars = scalars && in[i]->size == 1;
    }
    bool local = op->deriv && (same || scalars);
    for (int i = 0; i < op->arity; i++) {
        if (!start[i]) continue;
        float *x = in[i]->value;
        for (size_t k = 0; k < in[i]->size; k++) {
            double analytic = ((double)in[i]->grad[k] - (double)start[i][k]) * corrupt;
            float x0 = x[k], xp = (float)(x0 + FD_STEP), xm = (float)(x0 - FD_STEP);
            x[k] = xp;
            draw = omega;
            op->forward(out, in, &draw);
            double lp = weighted_sum(out, r);
            x[k] = xm;
            draw = omega;
            op->forward(out, in, &draw);
            double lm = weighted_sum(out, r);
            x[k] = x0;
            double numeric = (lp - lm) / ((double)xp - (double)xm);
            record(&res, "backward", desc, i, k, analytic, numeric, quiet);
            if (local) {
                /* Same shapes (or one element) everywhere, so dL/dx_k = R_k d out_k / d x_k. */
                double a = in[0]->value[k], b = op->arity >= 2 ? in[1]->value[k] : 0.0;
                double d = op->deriv(i, a, b, y0[k], &out->attrs) * corrupt;
                record(&res, "derivative", desc, i, k, (double)r[k] * d, numeric, quiet);
            }
        }
    }

    for (int i = 0; i < op->arity; i++) nn_free(start[i]);
    nn_free(y0);
    nn_free(r);
    graph_free(&g);
    return res;
}

/* ---- the op-table tests ------------------------------------------------------------------- */

/* Every op with a backward kernel has at least one configuration; broadcasting, reductions,
 * ops along an axis and dropout accept every candidate (a shape rule that silently refused one
 * would shrink coverage); and every input the op passes a gradient to (it has a text saying
 * how) is perturbed in at least one configuration, so no gradient goes unchecked, e.g. a
 * loss's target, which index-target configurations leave constant. */
static void test_every_differentiable_op_has_configs(void **state)
{
    (void)state;
    int missing = 0, tested = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!op->backward) {
            /* no backward kernel: the op must say that no gradient flows through it */
            if (!(op->flags & (OPF_LEAF | OPF_NO_GRAD))) {
                print_error("op %s has neither a backward kernel nor OPF_NO_GRAD\n",
                            op->enum_name);
                missing++;
            }
            continue;
        }
        Config cfg[MAX_CONFIGS];
        bool all_valid;
        int n = op_configs(op, cfg, &all_valid);
        OpClass cls = op_class(op);
        if (n == 0) {
            print_error("op %s (%s) has a backward kernel but no gradient-check configuration; "
                        "teach test_gradcheck.c about its class\n", op->enum_name, op->name);
            missing++;
        } else if (!all_valid && cls != CLASS_STRUCT_BINARY && cls != CLASS_STRUCT_UNARY &&
                   cls != CLASS_LOSS) {
            print_error("op %s rejects some standard %s shapes\n", op->enum_name,
                        cls == CLASS_EW_BINARY || cls == CLASS_EW_UNARY ||
                        cls == CLASS_EW_TERNARY ? "elementwise" : "single-input");
            missing++;
        }
        for (int i = 0; i < op->arity; i++) {
            bool perturbed = false;
            for (int c = 0; c < n; c++) perturbed |= !((cfg[c].fixed >> i) & 1);
            if (HAS_GRADIENT(op, i) && !perturbed) {
                print_error("op %s passes a gradient to input %d, but no configuration checks "
                            "it\n", op->enum_name, i);
                missing++;
            }
        }
        tested++;
    }
    assert_int_equal(missing, 0);
    assert_true(tested > 0);
}

static void test_op_gradients(void **state)
{
    (void)state;
    Rng rng;
    rng_seed(&rng, 20240611);
    int failed = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!op->backward) continue;
        Config cfg[MAX_CONFIGS];
        bool all_valid;
        int n = op_configs(op, cfg, &all_valid);
        if (n == 0) {
            print_error("op %s has no gradient-check configuration\n", op->enum_name);
            failed++;
            continue;
        }
        CheckResult total = { 0, 0, 0.0, 0.0 };
        for (int c = 0; c < n; c++) {
            CheckResult r = check_config(op, &cfg[c], 0, 1.0, &rng, false);
            total.elements += r.elements;
            total.mismatches += r.mismatches;
            total.worst = fmax(total.worst, r.worst);
            total.signal = fmax(total.signal, r.signal);
        }
        print_message("gradcheck %-10s %2d configs %4d checks, worst error %.3f of allowed\n",
                      op->name, n, total.elements, total.worst);
        if (total.mismatches) failed++;
        if (total.signal < 1e-2) {
            print_error("op %s: every gradient checked was zero, so nothing was tested\n",
                        op->enum_name);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* Ops of two or three inputs with some of them constant: the kernel must leave the constants
 * alone (their grad is NULL) and still get the other inputs' gradients right. */
static void test_op_gradients_one_constant_input(void **state)
{
    (void)state;
    Rng rng;
    rng_seed(&rng, 7);
    int failed = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!op->backward || op->arity < 2) continue;
        Config cfg[MAX_CONFIGS];
        bool all_valid;
        int n = op_configs(op, cfg, &all_valid);
        unsigned every = (1u << op->arity) - 1;
        for (int c = 0; c < n; c++)
            for (unsigned mask = 1; mask < every; mask++) {
                if ((mask | cfg[c].fixed) == every) continue;   /* nothing to differentiate */
                if (check_config(op, &cfg[c], mask, 1.0, &rng, false).mismatches) failed++;
            }
    }
    assert_int_equal(failed, 0);
}

/* The check can fail: scaling every analytic gradient by 1.5, flipping its sign, or doubling
 * it must be reported as a mismatch in every configuration of every op whose gradient is not
 * identically zero there (relu of one negative scalar has nothing to corrupt). */
static void test_check_detects_wrong_gradients(void **state)
{
    (void)state;
    assert_true(grad_close(0.25, 0.2501, NULL));
    assert_true(grad_close(0.0, 5e-5, NULL));
    assert_false(grad_close(0.25, 0.375, NULL));
    assert_false(grad_close(0.25, -0.25, NULL));
    assert_false(grad_close(2e-3, 4e-3, NULL));
    assert_false(grad_close(NAN, 1.0, NULL));

    const double corruptions[] = { 1.5, -1.0, 2.0 };
    Rng rng;
    rng_seed(&rng, 99);
    int missed = 0, caught = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!op->backward) continue;
        Config cfg[MAX_CONFIGS];
        bool all_valid;
        int n = op_configs(op, cfg, &all_valid);
        for (int c = 0; c < n; c++)
            for (size_t j = 0; j < NN_ARRAY_LEN(corruptions); j++) {
                CheckResult r = check_config(op, &cfg[c], 0, corruptions[j], &rng, true);
                if (r.signal < 1e-2) continue;
                caught++;
                if (r.mismatches == 0) {
                    char desc[160];
                    config_describe(op, &cfg[c], desc, sizeof desc);
                    print_error("%s: gradient scaled by %g was not detected\n", desc,
                                corruptions[j]);
                    missed++;
                }
            }
    }
    assert_int_equal(missed, 0);
    assert_true(caught > 100);
}

/* ---- a whole network through the public API ------------------------------------------------ */

static const char network[] =
    "seed 1\n"
    "let X = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]]\n"
    "let Y = [[1.0], [0.0]]\n"
    "param W1 = randn(3, 4)\n"
    "param b1 = zeros(4)\n"
    "param W2 = randn(4, 1)\n"
    "let h = tanh(X @ W1 + b1)\n"
    "let p = sigmoid(h @ W2)\n"
    "let loss = mean((p - Y)^2)\n"
    "backward loss\n"
    "let gW1 = W1.grad\n"
    "let gb1 = b1.grad\n"
    "let gW2 = W2.grad\n";

#define NET_MAX 16

typedef struct NetParam {
    const char *name, *grad_name;
    int rank, dim[2];
    size_t size;
    float value[NET_MAX], grad[NET_MAX];
} NetParam;

/* Copies a named tensor out of the session (views die at the next run). */
static void get_tensor(NnState *nn, const char *name, float *dst, size_t cap, NetParam *shape)
{
    NnTensorView v;
    assert_int_equal(nn_get(nn, name, &v), NN_OK);
    assert_true(v.size <= cap);
    memcpy(dst, v.data, v.size * sizeof *dst);
    if (shape) {
        assert_true(v.rank >= 1 && v.rank <= 2);
        shape->rank = v.rank;
        shape->dim[0] = v.shape[0];
        shape->dim[1] = v.rank == 2 ? v.shape[1] : 1;
        shape->size = v.size;
    }
}

static double get_loss(NnState *nn)
{
    NnTensorView v;
    assert_int_equal(nn_get(nn, "loss", &v), NN_OK);
    assert_int_equal(v.size, 1);
    return v.data[0];
}

/* Runs "NAME = <literal>" with the param's values; %.9g round-trips every float exactly. */
static void assign_param(NnState *nn, const NetParam *p, const float *vals)
{
    char code[1024];
    size_t len = (size_t)snprintf(code, sizeof code, "%s = [", p->name);
    for (int i = 0; i < p->dim[0]; i++) {
        if (p->rank == 2) len += (size_t)snprintf(code + len, sizeof code - len, "%s[",
                                                  i ? ", " : "");
        for (int j = 0; j < p->dim[1]; j++) {
            size_t at = (size_t)i * (size_t)p->dim[1] + (size_t)j;
            const char *sep = (p->rank == 2 ? j : i + j) ? ", " : "";
            len += (size_t)snprintf(code + len, sizeof code - len, "%s%.9g", sep,
                                    (double)vals[at]);
        }
        if (p->rank == 2) len += (size_t)snprintf(code + len, sizeof code - len, "]");
    }
    len += (size_t)snprintf(code + len, sizeof code - len, "]\n");
    assert_true(len < sizeof code);
    assert_int_equal(nn_run_string(nn, "<gradcheck>", code), NN_OK);
}

static void test_network_gradients(void **state)
{
    (void)state;
    NnState *nn = nn_new();
    assert_int_equal(nn_run_string(nn, "<gradcheck>", network), NN_OK);
    NetParam params[3] = {
        { .name = "W1", .grad_name = "gW1" },
        { .name = "b1", .grad_name = "gb1" },
        { .name = "W2", .grad_name = "gW2" },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(params); i++) {
        NetParam *p = &params[i];
        get_tensor(nn, p->name, p->value, NET_MAX, p);
        get_tensor(nn, p->grad_name, p->grad, NET_MAX, NULL);
    }
    assert_int_equal(params[0].size, 12);
    assert_int_equal(params[1].size, 4);
    assert_int_equal(params[2].size, 4);
    double loss0 = get_loss(nn);

    int mismatches = 0, checks = 0;
    double worst = 0, largest = 0;
    for (size_t i = 0; i < NN_ARRAY_LEN(params); i++) {
        NetParam *p = &params[i];
        float vals[NET_MAX];
        memcpy(vals, p->value, sizeof vals);
        for (size_t k = 0; k < p->size; k++) {
            float x0 = p->value[k], xp = (float)(x0 + FD_STEP), xm = (float)(x0 - FD_STEP);
            vals[k] = xp;
            assign_param(nn, p, vals);
            double lp = get_loss(nn);
            vals[k] = xm;
            assign_param(nn, p, vals);
            double lm = get_loss(nn);
            vals[k] = x0;
            double numeric = (lp - lm) / ((double)xp - (double)xm), ratio;
            checks++;
            if (!grad_close(p->grad[k], numeric, &ratio)) {
                print_error("network: d loss / d %s[%zu]: analytic %.7g, numeric %.7g\n",
                            p->name, k, (double)p->grad[k], numeric);
                mismatches++;
            }
            worst = fmax(worst, ratio);
            largest = fmax(largest, fabs(numeric));
        }
        assign_param(nn, p, p->value);
    }
    /* Restoring every param exactly gives back exactly the same loss. */
    assert_true(get_loss(nn) == loss0);
    print_message("gradcheck network    %4d checks, worst error %.3f of allowed\n", checks,
                  worst);
    nn_close(nn);
    assert_int_equal(mismatches, 0);
    assert_true(largest > 1e-2);   /* the gradients are not all (near) zero */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_differentiable_op_has_configs),
        cmocka_unit_test(test_op_gradients),
        cmocka_unit_test(test_op_gradients_one_constant_input),
        cmocka_unit_test(test_check_detects_wrong_gradients),
        cmocka_unit_test(test_network_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
