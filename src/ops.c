/* ops.c — every primitive op: shape rule, forward kernel, backward kernel and scalar
 * derivative, grouped op by op under the formula they implement. The table at the end is
 * generated from ops.def. Backward kernels always ADD into input gradients. */
#include "ops.h"

#include "kernels.h"
#include "ops_conv.h"

#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- shape rules -------------------------------------------------------------------- */

static bool shape_leaf(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)op, (void)in, (void)err;
    *out = at->shape;
    return true;
}

static bool shape_same(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)op, (void)at, (void)err;
    *out = in[0];
    return true;
}

/* The first dimension, from the right, where a and b do not broadcast: its sizes, and its place
 * counted from the right (1 is the last). False if they broadcast. */
static bool bcast_clash(const Shape *a, const Shape *b, int *da, int *db, int *from_right)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int k = 1; k <= r; k++) {
        int x = k <= a->rank ? a->dim[a->rank - k] : 1, y = k <= b->rank ? b->dim[b->rank - k] : 1;
        if (x != y && x != 1 && y != 1) {
            *da = x, *db = y, *from_right = k;
            return true;
        }
    }
    return false;
}

static void bcast_clash_words(const Shape *a, const Shape *b, StrBuf *err)
{
    int da = 0, db = 0, k = 0;
    bool clash = bcast_clash(a, b, &da, &db, &k);
    NN_ASSERT(clash);
    sb_printf(err, ": sizes %d and %d differ in dimension %d from the right, and neither is 1", da,
              db, k);
}

/* elementwise with two inputs: "[4,3] + [4]" for operators, "maximum([4,3], [4])" otherwise */
static bool shape_bcast(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                        StrBuf *err)
{
    (void)at;
    if (shape_broadcast(&in[0], &in[1], out)) return true;
    char a[64], b[64];
    shape_str(&in[0], a, sizeof a);
    shape_str(&in[1], b, sizeof b);
    if (op->sig == SIG_OPERATOR) sb_printf(err, "cannot broadcast %s %s %s", a, op->name, b);
    else sb_printf(err, "cannot broadcast %s(%s, %s)", op->name, a, b);
    bcast_clash_words(&in[0], &in[1], err);
    return false;
}

/* where: condition, a and b broadcast together */
static bool shape_where(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)at;
    Shape ca;
    bool first = shape_broadcast(&in[0], &in[1], &ca);
    if (first && shape_broadcast(&ca, &in[2], out)) return true;
    char c[64], a[64], b[64];
    sb_printf(err, "cannot broadcast %s(%s, %s, %s)", op->name, shape_str(&in[0], c, sizeof c),
              shape_str(&in[1], a, sizeof a), shape_str(&in[2], b, sizeof b));
    if (first) bcast_clash_words(&ca, &in[2], err);
    else bcast_clash_words(&in[0], &in[1], err);
    return false;
}

static bool shape_matmul(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                         StrBuf *err)
{
    (void)op, (void)at;
    char a[64], b[64];
    const Shape *l = &in[0], *r = &in[1];
    if (l->rank < 1 || l->rank > 2 || r->rank < 1 || r->rank > 2) {
        sb_printf(err, "'@' needs vectors or matrices, but left is %s and right is %s%s",
                  shape_str(l, a, sizeof a), shape_str(r, b, sizeof b),
                  l->rank == 0 || r->rank == 0 ? "; use '*' to multiply by a scalar" : "");
        return false;
    }
    int k1 = l->dim[l->rank - 1], k2 = r->dim[0];
    if (k1 != k2) {
        sb_printf(err, "cannot multiply %s @ %s: inner sizes %d and %d differ",
                  shape_str(l, a, sizeof a), shape_str(r, b, sizeof b), k1, k2);
        return false;
    }
    *out = shape_scalar();
    if (l->rank == 2) out->dim[out->rank++] = l->dim[0];
    if (r->rank == 2) out->dim[out->rank++] = r->dim[1];
    return true;
}

static bool shape_transpose(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                            StrBuf *err)
{
    (void)op, (void)at;
    if (in[0].rank > 2) {
        char a[64];
        sb_printf(err, "transpose needs at most 2 dimensions, but this is %s",
                  shape_str(&in[0], a, sizeof a));
        return false;
    }
    *out = in[0];
    if (in[0].rank == 2) {
        out->dim[0] = in[0].dim[1];
        out->dim[1] = in[0].dim[0];
    }
    return true;
}

/* Whether `axis` (negative from the end) is an axis of `in`; if not, says so in err. */
static bool axis_in_range(const OpInfo *op, const Shape *in, int axis, StrBuf *err)
{
    int r = in->rank;
    if (axis >= -r && axis < r) return true;
    char a[64];
    if (r == 0)
        sb_printf(err, "'%s' of a scalar has no axis %d", op->name, axis);
    else
        sb_printf(err, "axis %d is out of range for shape %s (axes are 0 to %d, or -%d to -1)",
                  axis, shape_str(in, a, sizeof a), r - 1, r);
    return false;
}

/* The axes a reduction folds, as a bitmask over its input's axes. attrs.axes (when not 0)
 * becomes bits 0 to rank - 1, and a negative attrs.axis positive. */
static bool reduce_axes(const OpInfo *op, const Shape *in, OpAttrs *at, unsigned *mask,
                        StrBuf *err)
{
    int r = in->rank;
    if (!at->axes) {
        if (at->axis == NN_AXIS_ALL) {
            *mask = (1u << r) - 1;
            return true;
        }
        if (!axis_in_range(op, in, at->axis, err)) return false;
        if (at->axis < 0) at->axis += r;
        *mask = 1u << at->axis;
        return true;
    }
    unsigned m = 0;
    int given[NN_MAX_RANK];     /* the axis as written, for each bit of m */
    for (int bit = 0; bit < 32; bit++) {
        if (!((at->axes >> bit) & 1)) continue;
        int axis = bit < 8 ? bit : 7 - bit;
        if (!axis_in_range(op, in, axis, err)) return false;
        int k = axis < 0 ? axis + r : axis;
        if ((m >> k) & 1) {
            char a[64];
            sb_printf(err, "axes %d and %d are the same axis of %s", given[k], axis,
                      shape_str(in, a, sizeof a));
            return false;
        }
        m |= 1u << k;
        given[k] = axis;
    }
    *mask = at->axes = m;
    return true;
}

/* sum, mean, max, min: the reduced axes go, or stay with size 1 (keepdim) */
static bool shape_reduce(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                         StrBuf *err)
{
    unsigned mask;
    if (!reduce_axes(op, &in[0], at, &mask, err)) return false;
    *out = shape_scalar();
    for (int i = 0; i < in[0].rank; i++) {
        if (!((mask >> i) & 1)) out->dim[out->rank++] = in[0].dim[i];
        else if (at->keepdim) out->dim[out->rank++] = 1;
    }
    return true;
}

/* Makes attrs.axis of an op along one axis positive: -1 or NN_AXIS_ALL (the default) is the
 * last axis. A scalar has no axis. */
static bool axis_canon(const OpInfo *op, const Shape *in, OpAttrs *at, StrBuf *err)
{
    int r = in->rank;
    if (r == 0) {
        if (at->axis == NN_AXIS_ALL || at->axis == -1)
            sb_printf(err, "'%s' works along an axis, but its input is a scalar", op->name);
        else
            sb_printf(err, "'%s' of a scalar has no axis %d", op->name, at->axis);
        return false;
    }
    if (at->axis == NN_AXIS_ALL) at->axis = r - 1;
    if (!axis_in_range(op, in, at->axis, err)) return false;
    if (at->axis < 0) at->axis += r;
    return true;
}

/* softmax, log_softmax: the same shape, along one axis */
static bool shape_axis(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    if (!axis_canon(op, &in[0], at, err)) return false;
    *out = in[0];
    return true;
}

/* argmax: the axis is removed */
static bool shape_argmax(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                         StrBuf *err)
{
    if (!axis_canon(op, &in[0], at, err)) return false;
    *out = shape_scalar();
    for (int i = 0; i < in[0].rank; i++)
        if (i != at->axis) out->dim[out->rank++] = in[0].dim[i];
    return true;
}

/* A list of sizes as written in a call, "[4, -1]" (shape_str writes a shape, "[4,3]"). */
static const char *sizes_str(const Shape *s, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s->rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ", %d" : "%d", s->dim[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
    return buf;
}

/* reshape: attrs.shape, with its one -1 size (if any) worked out from the element count */
static bool shape_reshape(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                          StrBuf *err)
{
    (void)op;
    char a[64], b[96];
    shape_str(&in[0], a, sizeof a);
    sizes_str(&at->shape, b, sizeof b);
    double n = (double)shape_size(&in[0]), known = 1;  /* double: a product of sizes can overflow */
    int infer = -1;
    for (int i = 0; i < at->shape.rank; i++) {
        int d = at->shape.dim[i];
        if (d == -1 && infer >= 0) {
            sb_printf(err, "cannot reshape %s to %s: only one size can be -1", a, b);
            return false;
        }
        if (d == -1) {
            infer = i;
        } else if (d < 1) {
            sb_printf(err, "cannot reshape %s to %s: sizes must be at least 1 (or -1 for one "
                           "that is worked out from the others)", a, b);
            return false;
        }
        if (d != -1) known *= d;
    }
    if (infer >= 0 && fmod(n, known) != 0) {
        sb_printf(err, "cannot reshape %s (%.0f element%s) to %s: %.0f is not a multiple of "
                       "%.0f", a, n, n == 1 ? "" : "s", b, n, known);
        return false;
    }
    if (infer < 0 && known != n) {
        sb_printf(err, "cannot reshape %s (%.0f element%s) to %s (%.0f element%s)", a, n,
                  n == 1 ? "" : "s", b, known, known == 1 ? "" : "s");
        return false;
    }
    if (infer >= 0) at->shape.dim[infer] = (int)(n / known);
    *out = at->shape;
    return true;
}

/* concat: the same rank, the same sizes but along the axis (0 by default: NN_AXIS_ALL) */
static bool shape_concat(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                         StrBuf *err)
{
    char a[64], b[64];
    shape_str(&in[0], a, sizeof a);
    shape_str(&in[1], b, sizeof b);
    if (in[0].rank == 0 || in[1].rank == 0) {
        sb_printf(err, "cannot concatenate %s and %s: a scalar has no axis to join along", a, b);
        return false;
    }
    if (in[0].rank != in[1].rank) {
        sb_printf(err, "cannot concatenate %s and %s: they have %d and %d axes", a, b,
                  in[0].rank, in[1].rank);
        return false;
    }
    if (at->axis == NN_AXIS_ALL) at->axis = 0;
    if (!axis_in_range(op, &in[0], at->axis, err)) return false;
    if (at->axis < 0) at->axis += in[0].rank;
    for (int i = 0; i < in[0].rank; i++) {
        if (i == at->axis || in[0].dim[i] == in[1].dim[i]) continue;
        sb_printf(err, "cannot concatenate %s and %s along axis %d: sizes %d and %d differ in "
                       "axis %d", a, b, at->axis, in[0].dim[i], in[1].dim[i], i);
        return false;
    }
    *out = in[0];
    out->dim[at->axis] += in[1].dim[at->axis];
    return true;
}

/* Makes attrs.axis of index or slice positive (NN_AXIS_ALL is axis 0); its input must have
 * axes. */
static bool subscript_axis(const OpInfo *op, const Shape *in, OpAttrs *at, StrBuf *err)
{
    if (in->rank == 0) {
        sb_printf(err, "cannot %s a scalar: it has no axis", op->name);
        return false;
    }
    if (at->axis == NN_AXIS_ALL) at->axis = 0;
    if (!axis_in_range(op, in, at->axis, err)) return false;
    if (at->axis < 0) at->axis += in->rank;
    return true;
}

/* index, x[i]: the axis is removed; the index is a scalar */
static bool shape_index(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    if (!subscript_axis(op, &in[0], at, err)) return false;
    if (in[1].rank != 0) {
        char a[64];
        sb_printf(err, "an index must be a scalar, but it is %s", shape_str(&in[1], a, sizeof a));
        return false;
    }
    *out = shape_scalar();
    for (int i = 0; i < in[0].rank; i++)
        if (i != at->axis) out->dim[out->rank++] = in[0].dim[i];
    return true;
}

/* slice, x[start:stop]: the axis keeps stop - start elements */
static bool shape_slice(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    if (!subscript_axis(op, &in[0], at, err)) return false;
    int size = in[0].dim[at->axis];
    if (at->start < 0 || at->stop > size || at->start >= at->stop) {
        char a[64];
        sb_printf(err, "cannot slice [%d:%d] along axis %d of %s: it needs 0 <= start < stop <= "
                       "%d", at->start, at->stop, at->axis, shape_str(&in[0], a, sizeof a), size);
        return false;
    }
    *out = in[0];
    out->dim[at->axis] = at->stop - at->start;
    return true;
}

/* one_hot: a new last axis of attrs.classes */
static bool shape_one_hot(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                          StrBuf *err)
{
    if (at->classes < 1) {
        sb_printf(err, "'%s' needs at least 1 class, but classes is %d", op->name, at->classes);
        return false;
    }
    if (in[0].rank >= NN_MAX_RANK) {
        char a[64];
        sb_printf(err, "'%s' adds an axis, but %s already has %d, the most a tensor can have",
                  op->name, shape_str(&in[0], a, sizeof a), NN_MAX_RANK);
        return false;
    }
    *out = in[0];
    out->dim[out->rank++] = at->classes;
    return true;
}

/* dropout: the same shape; p must be a probability */
static bool shape_dropout(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                          StrBuf *err)
{
    if (!(at->p >= 0.0f && at->p <= 1.0f)) {
        char v[32];
        sb_printf(err, "'%s' needs a probability between 0 and 1, but p is %s", op->name,
                  fmt_num(at->p, v));
        return false;
    }
    *out = in[0];
    return true;
}

/* xavier, he: a matrix [in, out] from attrs.shape */
static bool shape_fans(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)in;
    if (at->shape.rank != 2) {
        char a[64];
        sb_printf(err, "'%s' makes a matrix [in, out], but the shape asked for is %s", op->name,
                  shape_str(&at->shape, a, sizeof a));
        return false;
    }
    *out = at->shape;
    return true;
}

/* mse, l1, bce, bce_logits: prediction and target of the same shape; a scalar result */
static bool shape_loss(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)op, (void)at;
    if (!shape_eq(&in[0], &in[1])) {
        char a[64], b[64];
        sb_printf(err, "prediction is %s but target is %s: a loss needs them the same shape",
                  shape_str(&in[0], a, sizeof a), shape_str(&in[1], b, sizeof b));
        return false;
    }
    *out = shape_scalar();
    return true;
}

/* cross_entropy: logits [N,C] with target [N,C] (probabilities) or [N] (class indices);
 * logits [C] with target [C] or a scalar index */
static bool shape_cross_entropy(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                                StrBuf *err)
{
    (void)at;
    char a[64], b[64], c[64], d[64];
    const Shape *x = &in[0], *t = &in[1];
    if (x->rank < 1 || x->rank > 2 || x->dim[x->rank - 1] < 1) {
        sb_printf(err, "'%s' needs logits [N,C] (a row per example) or [C], but they are %s",
                  op->name, shape_str(x, a, sizeof a));
        return false;
    }
    if (x->dim[x->rank - 1] == 1) {    /* softmax of one logit is 1: the loss is always 0 */
        sb_printf(err, "'%s' needs two classes or more, but the logits %s have one column (its "
                  "loss would always be 0); for one output, use bce_logits (or sigmoid and bce)",
                  op->name, shape_str(x, a, sizeof a));
        return false;
    }
    Shape idx = *x;     /* the shape of class indices: the logits without their last axis */
    idx.rank--;
    if (!shape_eq(t, x) && !shape_eq(t, &idx)) {
        if (x->rank == 2)
            sb_printf(err, "logits are %s, so the target must be %s (probabilities) or %s (class "
                           "indices), but it is %s",
                      shape_str(x, a, sizeof a), shape_str(x, b, sizeof b),
                      shape_str(&idx, c, sizeof c), shape_str(t, d, sizeof d));
        else
            sb_printf(err, "logits are %s, so the target must be %s (probabilities) or a scalar "
                           "(a class index), but it is %s",
                      shape_str(x, a, sizeof a), shape_str(x, b, sizeof b),
                      shape_str(t, c, sizeof c));
        return false;
    }
    *out = shape_scalar();
    return true;
}

/* accuracy: predictions [N,C] (C >= 2 classes) with a one-hot [N,C] or index [N] target, or
 * probabilities [N,1] or [N] with a target of the same shape */
static bool shape_accuracy(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                           StrBuf *err)
{
    (void)at;
    char a[64], b[64], c[64], d[64];
    const Shape *p = &in[0], *t = &in[1];
    bool classes = p->rank == 2 && p->dim[1] >= 2;
    if (p->rank < 1 || p->rank > 2) {
        sb_printf(err, "'%s' needs predictions [N,C] (class scores) or [N] or [N,1] "
                       "(probabilities), but they are %s",
                  op->name, shape_str(p, a, sizeof a));
        return false;
    }
    Shape idx = *p;
    idx.rank = 1;
    if (classes && !shape_eq(t, p) && !shape_eq(t, &idx)) {
        sb_printf(err, "predictions are %s, so the target must be %s (one-hot) or %s (class "
                       "indices), but it is %s",
                  shape_str(p, a, sizeof a), shape_str(p, b, sizeof b),
                  shape_str(&idx, c, sizeof c), shape_str(t, d, sizeof d));
        return false;
    }
    if (!classes && !shape_eq(t, p)) {
        sb_printf(err, "predictions are %s (probabilities), so the target must be %s too, but it "
                       "is %s",
                  shape_str(p, a, sizeof a), shape_str(p, b, sizeof b),
                  shape_str(t, c, sizeof c));
        return false;
    }
    *out = shape_scalar();
    return true;
}

/* ---- p.grad: the param's gradient as it is when the pass runs ------------------------------ */

static void fwd_grad(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    memcpy(n->value, in[0]->grad, n->size * sizeof(float));
}

/* ---- constructors -------------------------------------------------------------------- */

static void fill(GraphNode *n, float v)
{
    for (size_t i = 0; i < n->size; i++) n->value[i] = v;
}

static void fwd_zeros(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in, (void)rng;
    fill(n, 0.0f);
}

static void fwd_ones(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in, (void)rng;
    fill(n, 1.0f);
}

static void fwd_full(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in, (void)rng;
    fill(n, n->attrs.fill);
}

static void fwd_eye(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in, (void)rng;
    fill(n, 0.0f);
    int d = n->shape.dim[0];
    for (int i = 0; i < d; i++) n->value[(size_t)i * (size_t)d + (size_t)i] = 1.0f;
}

/* rand: uniform on [0, 1), like torch.rand. */
static void fwd_rand(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    rng_fill_uniform(rng, n->value, n->size);
}

/* randn: standard normal, like torch.randn. */
static void fwd_randn(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    for (size_t i = 0; i < n->size; i++) n->value[i] = rng_normal(rng);
}

/* Initialisers of a weight matrix [in, out]: fan_in is dim 0 (for a vector too), fan_out dim 1
 * (1 for a vector). The spread shrinks with the fans so that a layer's outputs keep about the
 * variance of its inputs. */
static double fan_in(const GraphNode *n)
{
    if (n->shape.rank == 4)     /* a conv weight [out, in, KH, KW]: in·KH·KW */
        return (double)n->shape.dim[1] * n->shape.dim[2] * n->shape.dim[3];
    if (n->shape.rank == 3)     /* a conv1d weight [out, in, K]: in·K */
        return (double)n->shape.dim[1] * n->shape.dim[2];
    return n->shape.rank >= 1 ? (double)n->shape.dim[0] : 1.0;
}

static double fan_out(const GraphNode *n)
{
    return n->shape.rank >= 2 ? (double)n->shape.dim[1] : 1.0;
}

static void fill_uniform(GraphNode *n, double a, Rng *rng)     /* U(-a, a) */
{
    for (size_t i = 0; i < n->size; i++) n->value[i] = (float)(a * (2.0 * rng_uniform(rng) - 1.0));
}

static void fill_normal(GraphNode *n, double sd, Rng *rng)     /* N(0, sd^2) */
{
    for (size_t i = 0; i < n->size; i++) n->value[i] = (float)(sd * rng_normal(rng));
}

/* xavier: Glorot uniform, U(-a, a) with a = sqrt(6 / (in + out)) (torch xavier_uniform_). */
static void fwd_xavier(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    fill_uniform(n, sqrt(6.0 / (fan_in(n) + fan_out(n))), rng);
}

/* he: Kaiming normal, N(0, 2 / in) (torch kaiming_normal_, fan_in, gain of relu). */
static void fwd_he(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    fill_normal(n, sqrt(2.0 / fan_in(n)), rng);
}

/* init_uniform: U(-1/sqrt(in), 1/sqrt(in)), the default of torch.nn.Linear and Conv2d's
 * weight; U(-a, a) when attrs.fill = a is set (a conv layer's bias, from its weight's fan-in). */
static void fwd_init_uniform(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    fill_uniform(n, n->attrs.fill > 0 ? n->attrs.fill : 1.0 / sqrt(fan_in(n)), rng);
}

/* init_normal: LeCun normal, N(0, 1 / in). */
static void fwd_init_normal(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    fill_normal(n, sqrt(1.0 / fan_in(n)), rng);
}

/* ---- elementwise unary ops -------------------------------------------------------------
 * UNARY(name, y = f(x), dy/dx in terms of x, y and attrs `at`) makes the forward kernel,
 * the backward kernel (gx += gy * dy/dx) and the scalar derivative for traces from one
 * formula, so the three cannot disagree. */

#define UNARY(NAME, FWD, DER)                                                                \
    static inline float NAME##_f(float x, const OpAttrs *at)                                 \
    {                                                                                        \
        (void)at;                                                                            \
        return (FWD);                                                                        \
    }                                                                                        \
    static inline float NAME##_d(float x, float y, const OpAttrs *at)                        \
    {                                                                                        \
        (void)x, (void)y, (void)at;                                                          \
        return (DER);                                                                        \
    }                                                                                        \
    static void fwd_##NAME(GraphNode *n, GraphNode *const *in, Rng *rng)                     \
    {                                                                                        \
        (void)rng;                                                                           \
        const float *restrict x = in[0]->value;      /* distinct buffers: vectorisable */    \
        float *restrict y = n->value;                                                        \
        const size_t size = n->size;                                                         \
        for (size_t i = 0; i < size; i++) y[i] = NAME##_f(x[i], &n->attrs);                  \
    }                                                                                        \
    static void bwd_##NAME(GraphNode *n, GraphNode *const *in)                               \
    {                                                                                        \
        const float *restrict x = in[0]->value, *restrict y = n->value;                      \
        const float *restrict gy = n->grad;                                                  \
        float *restrict gx = in[0]->grad;                                                    \
        const size_t size = n->size;                                                         \
        for (size_t i = 0; i < size; i++) gx[i] += gy[i] * NAME##_d(x[i], y[i], &n->attrs);  \
    }                                                                                        \
    static double der_##NAME(int i, double a, double b, double out, const OpAttrs *at)       \
    {                                                                                        \
        (void)i, (void)b;                                                                    \
        return NAME##_d((float)a, (float)out, at);                                           \
    }

static inline float sigmoidf(float x)
{
    /* Never exponentiate a large positive number: both branches stay in (0, 1]. */
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* tanh correctly rounded to float: 1 - 2 / (e^2|x| + 1) in double, where the subtraction
 * loses nothing a float could hold once |x| >= 2^-13, and x - x^3/3 below (the next term is
 * below half an ulp); the sign restored. Checked against (float)tanh((double)x) on every 97th
 * float: no difference. glibc's tanhf differs from that in about 3 % of them (by one ulp) and
 * takes twice as long, which showed in small tanh networks (a quarter of an xor epoch). */
static inline float tanh_cr(float x)
{
    double a = fabs((double)x), t;
    if (a < 0x1p-13) t = a - a * a * a / 3;
    else if (a > 9.1) t = 1;        /* within half an ulp of 1 */
    else t = 1 - 2 / (exp(2 * a) + 1);
    return (float)(x < 0 ? -t : t);
}

/* -x; d/dx = -1 */
UNARY(neg, -x, -1.0f)
/* exp(x); d/dx = exp(x) = y */
UNARY(exp, expf(x), y)
/* log(x); d/dx = 1/x */
UNARY(log, logf(x), 1.0f / x)
/* sqrt(x); d/dx = 1 / (2 sqrt(x)) */
UNARY(sqrt, sqrtf(x), 0.5f / y)
/* |x|; d/dx = sign(x), 0 at 0 (as PyTorch) */
UNARY(abs, fabsf(x), (float)((x > 0) - (x < 0)))
/* 1 / (1 + exp(-x)); d/dx = y (1 - y) */
UNARY(sigmoid, sigmoidf(x), y * (1.0f - y))
/* tanh(x); d/dx = 1 - y^2 */
UNARY(tanh, tanh_cr(x), 1.0f - y * y)
/* max(x, 0); d/dx = 1 if x > 0 else 0 (0 at the kink, as PyTorch) */
UNARY(relu, x > 0 ? x : 0.0f, x > 0 ? 1.0f : 0.0f)
/* x if x > 0 else a x; d/dx = 1 if x > 0 else a */
UNARY(leaky_relu, x > 0 ? x : at->alpha * x, x > 0 ? 1.0f : at->alpha)
/* log(1 + exp(x)), computed stably as max(x, 0) + log1p(exp(-|x|)); d/dx = sigmoid(x) */
UNARY(softplus, (x > 0 ? x : 0.0f) + log1pf(expf(-fabsf(x))), sigmoidf(x))

/* x limited to [lo, hi] as torch.clamp: max(x, lo), then min(that, hi), so lo > hi gives hi,
 * and NaN stays NaN. */
static inline float clamp_lohi(float x, float lo, float hi)
{
    float y = x < lo ? lo : x;
    return y > hi ? hi : y;
}

/* clamp(x, lo, hi); d/dx = 1 if lo <= x <= hi, else 0 (1 at the bounds and 0 for NaN, as
 * torch's clamp_backward) */
UNARY(clamp, clamp_lohi(x, at->lo, at->hi), x >= at->lo && x <= at->hi ? 1.0f : 0.0f)

/* ---- walks: a tensor's elements with several arrays in step ---------------------------------
 * A Walk visits a shape in row-major order keeping an offset into each of up to WALK_ARRAYS
 * arrays (the output and the inputs), with a stride per array and dimension: 0 where that
 * array is broadcast or reduced. Dimensions of size 1 are left out, and neighbours that every
 * array steps through alike are merged, so most walks have one or two dimensions. A reduction
 * splits its space into two walks: `kept` (one result element each) and `red` (the elements
 * that meet in one result element). */

#define WALK_ARRAYS 4

typedef struct Walk {
    int rank;
    size_t count;       /* the elements visited: the product of dim */
    size_t dim[NN_MAX_RANK];
    size_t stride[NN_MAX_RANK][WALK_ARRAYS];
} Walk;

typedef struct WalkPos {
    size_t idx[NN_MAX_RANK];
    size_t off[WALK_ARRAYS];
} WalkPos;

static void walk_init(Walk *w)
{
    memset(w, 0, sizeof *w);
    w->count = 1;
}

/* Adds a dimension of `size` inside those already there, with each array's stride. */
static void walk_push(Walk *w, size_t size, const size_t stride[WALK_ARRAYS])
{
    if (size == 1) return;
    w->count *= size;
    int last = w->rank - 1;
    bool merge = last >= 0;
    for (int a = 0; a < WALK_ARRAYS && merge; a++) merge = w->stride[last][a] == stride[a] * size;
    if (!merge) {
        NN_ASSERT(w->rank < NN_MAX_RANK);
        last = w->rank++;
        w->dim[last] = 1;
    }
    w->dim[last] *= size;
    memcpy(w->stride[last], stride, sizeof w->stride[last]);
}

/* Puts p at the first element, at the offsets `base` (NULL: 0). */
static inline void walk_start(WalkPos *p, const size_t *base)
{
    memset(p->idx, 0, sizeof p->idx);
    for (int a = 0; a < WALK_ARRAYS; a++) p->off[a] = base ? base[a] : 0;
}

/* Moves p to the next element of w (past the last one it wraps to the first). */
static inline void walk_next(const Walk *w, WalkPos *p)
{
    for (int d = w->rank - 1; d >= 0; d--) {
        for (int a = 0; a < WALK_ARRAYS; a++) p->off[a] += w->stride[d][a];
        if (++p->idx[d] < w->dim[d]) return;
        for (int a = 0; a < WALK_ARRAYS; a++) p->off[a] -= w->stride[d][a] * w->dim[d];
        p->idx[d] = 0;
    }
}

/* Row-major strides of a shape, in elements. */
static void contiguous_strides(const Shape *s, size_t *stride)
{
    size_t st = 1;
    for (int d = s->rank - 1; d >= 0; d--) {
        stride[d] = st;
        st *= (size_t)s->dim[d];
    }
}

/* The walks of a broadcasting elementwise node over its output: array 0 is the output, array
 * 1 + i input i. The dimensions along which input k is broadcast go to `red`, the others to
 * `kept` (k < 0: all of them). */
static void ew_walks(const GraphNode *n, GraphNode *const *in, int k, Walk *kept, Walk *red)
{
    const Shape *os = &n->shape;
    size_t st[1 + NN_OP_MAX_IN][NN_MAX_RANK];
    contiguous_strides(os, st[0]);
    for (int i = 0; i < n->n_in; i++) shape_bcast_strides(&in[i]->shape, os, st[1 + i]);
    walk_init(kept);
    walk_init(red);
    for (int d = 0; d < os->rank; d++) {
        size_t s[WALK_ARRAYS] = { 0 };
        for (int a = 0; a <= n->n_in; a++) s[a] = st[a][d];
        bool reduced = k >= 0 && st[1 + k][d] == 0;
        walk_push(reduced ? red : kept, (size_t)os->dim[d], s);
    }
}

/* ---- elementwise binary ops with broadcasting --------------------------------------------
 * BCAST_LOOP walks the output in order while ia and ib follow the inputs; a broadcast
 * dimension has stride 0, so in backward the += sums over it, as the chain rule requires. */

/* True if s is the trailing part of out (so it repeats along out's leading dimensions). */
static inline bool trailing_of(const Shape *s, const Shape *out)
{
    if (s->rank > out->rank) return false;
    for (int i = 1; i <= s->rank; i++)
        if (s->dim[s->rank - i] != out->dim[out->rank - i]) return false;
    return true;
}

#define BCAST_LOOP(N, A, B, BODY)                                                            \
    do {                                                                                     \
        const Shape *os_ = &(N)->shape;                                                      \
        size_t total_ = (N)->size;                                                           \
        if (shape_eq(&(A)->shape, os_) && shape_eq(&(B)->shape, os_)) {                      \
            for (size_t io = 0; io < total_; io++) {                                         \
                size_t ia = io, ib = io;                                                     \
                BODY;                                                                        \
            }                                                                                \
            break;                                                                           \
        }                                                                                    \
        /* one side repeats along leading dimensions (a bias row, a scalar): no strides */   \
        if (shape_eq(&(A)->shape, os_) && trailing_of(&(B)->shape, os_)) {                   \
            size_t nb_ = (B)->size, io = 0;                                                  \
            for (size_t r_ = 0; r_ < total_ / nb_; r_++)                                     \
                for (size_t ib = 0; ib < nb_; ib++, io++) {                                  \
                    size_t ia = io;                                                          \
                    BODY;                                                                    \
                }                                                                            \
            break;                                                                           \
        }                                                                                    \
        if (shape_eq(&(B)->shape, os_) && trailing_of(&(A)->shape, os_)) {                   \
            size_t na_ = (A)->size, io = 0;                                                  \
            for (size_t r_ = 0; r_ < total_ / na_; r_++)                                     \
                for (size_t ia = 0; ia < na_; ia++, io++) {                                  \
                    size_t ib = io;                                                          \
                    BODY;                                                                    \
                }                                                                            \
            break;                                                                           \
        }                                                                                    \
        size_t sa_[NN_MAX_RANK], sb_[NN_MAX_RANK];                                           \
        int idx_[NN_MAX_RANK] = { 0 };                                                       \
        shape_bcast_strides(&(A)->shape, os_, sa_);                                          \
        shape_bcast_strides(&(B)->shape, os_, sb_);                                          \
        size_t ia = 0, ib = 0;                                                               \
        for (size_t io = 0; io < total_; io++) {                                             \
            BODY;                                                                            \
            for (int d_ = os_->rank - 1; d_ >= 0; d_--) {                                    \
                ia += sa_[d_];                                                               \
                ib += sb_[d_];                                                               \
                if (++idx_[d_] < os_->dim[d_]) break;                                        \
                ia -= sa_[d_] * (size_t)os_->dim[d_];                                        \
                ib -= sb_[d_] * (size_t)os_->dim[d_];                                        \
                idx_[d_] = 0;                                                                \
            }                                                                                \
        }                                                                                    \
    } while (0)

/* The gradient of a broadcast input (one whose shape is not the output's) is a sum over the
 * output elements it was stretched to. BCAST_SUM adds into G the gradient of input K (0 or 1)
 * of node N with inputs IN: for each of its elements the sum of gy[io] × D over those output
 * elements, in double, added once (summed in float one product at a time, a bias over 100,000
 * rows came out 0.1 % off). D is an expression in a[ia], b[ib] and y[io]. An input repeated
 * along leading dimensions (a bias row, a scalar) against a full-shape one is summed a block of
 * GRAD_BLOCK columns at a time, reading the rows in order; any other broadcast walks the
 * output with the dimensions it is stretched along innermost. No allocation: this runs every
 * step. */

#define GRAD_BLOCK 256

#define BCAST_SUM(N, IN, K, G, D)                                                            \
    do {                                                                                     \
        const GraphNode *o_ = (N), *k_ = (IN)[K], *other_ = (IN)[1 - (K)];                   \
        if (shape_eq(&other_->shape, &o_->shape) && trailing_of(&k_->shape, &o_->shape)) {   \
            size_t nk_ = k_->size, rows_ = o_->size / nk_;                                   \
            double acc_[GRAD_BLOCK];                                                         \
            for (size_t c0_ = 0; c0_ < nk_; c0_ += GRAD_BLOCK) {                             \
                size_t cn_ = nk_ - c0_ < GRAD_BLOCK ? nk_ - c0_ : GRAD_BLOCK;                \
                for (size_t j_ = 0; j_ < cn_; j_++) acc_[j_] = 0;                            \
                for (size_t r_ = 0; r_ < rows_; r_++)                                        \
                    for (size_t j_ = 0; j_ < cn_; j_++) {                                    \
                        size_t io = r_ * nk_ + c0_ + j_, ik_ = c0_ + j_;                     \
                        size_t ia = (K) == 0 ? ik_ : io, ib = (K) == 0 ? io : ik_;           \
                        (void)ia, (void)ib;                                                  \
                        acc_[j_] += (double)gy[io] * (double)(D);                            \
                    }                                                                        \
                for (size_t j_ = 0; j_ < cn_; j_++) (G)[c0_ + j_] += (float)acc_[j_];        \
            }                                                                                \
            break;                                                                           \
        }                                                                                    \
        Walk kept_, red_;                                                                    \
        WalkPos q_, p_;                                                                      \
        ew_walks(o_, (IN), (K), &kept_, &red_);                                              \
        walk_start(&q_, NULL);                                                               \
        for (size_t i_ = 0; i_ < kept_.count; i_++, walk_next(&kept_, &q_)) {                \
            double s_ = 0;                                                                   \
            walk_start(&p_, q_.off);                                                         \
            for (size_t j_ = 0; j_ < red_.count; j_++, walk_next(&red_, &p_)) {              \
                size_t io = p_.off[0], ia = p_.off[1], ib = p_.off[2];                       \
                (void)ia, (void)ib;                                                          \
                s_ += (double)gy[io] * (double)(D);                                          \
            }                                                                                \
            (G)[q_.off[1 + (K)]] += (float)s_;                                               \
        }                                                                                    \
    } while (0)

/* BINARY(name, y = f(a, b), dy/da, dy/db), each in terms of a, b and y. */
#define BINARY(NAME, FWD, DA, DB)                                                            \
    static inline float NAME##_f(float a, float b)                                           \
    {                                                                                        \
        return (FWD);                                                                        \
    }                                                                                        \
    static inline float NAME##_da(float a, float b, float y)                                 \
    {                                                                                        \
        (void)a, (void)b, (void)y;                                                           \
        return (DA);                                                                         \
    }                                                                                        \
    static inline float NAME##_db(float a, float b, float y)                                 \
    {                                                                                        \
        (void)a, (void)b, (void)y;                                                           \
        return (DB);                                                                         \
    }                                                                                        \
    static void fwd_##NAME(GraphNode *n, GraphNode *const *in, Rng *rng)                     \
    {                                                                                        \
        (void)rng;                                                                           \
        const float *a = in[0]->value, *b = in[1]->value;                                    \
        float *y = n->value;                                                                 \
        BCAST_LOOP(n, in[0], in[1], y[io] = NAME##_f(a[ia], b[ib]));                         \
    }                                                                                        \
    static void bwd_##NAME(GraphNode *n, GraphNode *const *in)                               \
    {                                                                                        \
        const float *a = in[0]->value, *b = in[1]->value, *y = n->value, *gy = n->grad;      \
        if (in[0]->requires_grad) {                                                          \
            float *ga = in[0]->grad;                                                         \
            if (in[0]->size != n->size)     /* broadcast (else the same shape) */            \
                BCAST_SUM(n, in, 0, ga, NAME##_da(a[ia], b[ib], y[io]));                     \
            else                                                                             \
                BCAST_LOOP(n, in[0], in[1],                                                  \
                           ga[ia] += gy[io] * NAME##_da(a[ia], b[ib], y[io]));               \
        }                                                                                    \
        if (in[1]->requires_grad) {                                                          \
            float *gb = in[1]->grad;                                                         \
            if (in[1]->size != n->size)                                                      \
                BCAST_SUM(n, in, 1, gb, NAME##_db(a[ia], b[ib], y[io]));                     \
            else                                                                             \
                BCAST_LOOP(n, in[0], in[1],                                                  \
                           gb[ib] += gy[io] * NAME##_db(a[ia], b[ib], y[io]));               \
        }                                                                                    \
    }                                                                                        \
    static double der_##NAME(int i, double a, double b, double out, const OpAttrs *at)       \
    {                                                                                        \
        (void)at;                                                                            \
        return i == 0 ? NAME##_da((float)a, (float)b, (float)out)                            \
                      : NAME##_db((float)a, (float)b, (float)out);                           \
    }

/* d(a^b)/db = a^b log a for a > 0. At a = 0 the limit is 0 (for b > 0), as PyTorch; for
 * a < 0 the real power is undefined and the NaN is reported where it appears. */
static inline float pow_dexp(float a, float y)
{
    if (a == 0) return 0.0f;
    return y * logf(a);
}

/* a + b; d/da = 1, d/db = 1 */
BINARY(add, a + b, 1.0f, 1.0f)
/* a - b; d/da = 1, d/db = -1 */
BINARY(sub, a - b, 1.0f, -1.0f)
/* a b; d/da = b, d/db = a */
BINARY(mul, a * b, b, a)
/* a / b; d/da = 1 / b, d/db = -a / b^2, computed as -(a / b) / b: b * b would underflow to 0
 * for |b| below 1e-19 (an infinite gradient for a finite one) and overflow above 1.8e19 (0) */
BINARY(div, a / b, 1.0f / b, -(a / b) / b)
/* a^b; d/da = b a^(b-1), d/db = a^b log a */
BINARY(pow, powf(a, b), b == 0 ? 0.0f : b * powf(a, b - 1.0f), pow_dexp(a, y))
/* a % b: the remainder with the sign of b, a - b floor(a / b) (Python's %, torch.remainder;
 * computed as fmod, moved by b when the signs differ, which is exact); d/da = 1,
 * d/db = -floor(a / b) */
static inline float remainder_f(float a, float b)
{
    float r = fmodf(a, b);
    return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}
BINARY(mod, remainder_f(a, b), 1.0f, -floorf(a / b))
/* maximum(a, b): the larger, NaN if either is; d/da = 1 if a > b, 1/2 if a = b, else 0, and
 * d/db alike: ties share the gradient and a NaN passes all of it to both (torch.maximum) */
BINARY(maximum, a > b || a != a ? a : b, a == b ? 0.5f : (a < b ? 0.0f : 1.0f),
       a == b ? 0.5f : (a > b ? 0.0f : 1.0f))
/* minimum(a, b): the smaller, NaN if either is; the derivatives mirror maximum's */
BINARY(minimum, a < b || a != a ? a : b, a == b ? 0.5f : (a > b ? 0.0f : 1.0f),
       a == b ? 0.5f : (a < b ? 0.0f : 1.0f))

/* ---- comparisons and logic: 1 where true, 0 where false; no gradient ----------------------
 * COMPARE(name, test of a and b) makes the forward kernel. A NaN compares false, except that
 * NaN != x is true (IEEE, as PyTorch); as a truth value a number is true when it is not 0,
 * NaN included (torch.logical_and). */

#define COMPARE(NAME, TEST)                                                                  \
    static inline bool NAME##_t(float a, float b)                                            \
    {                                                                                        \
        return (TEST);                                                                       \
    }                                                                                        \
    static void fwd_##NAME(GraphNode *n, GraphNode *const *in, Rng *rng)                     \
    {                                                                                        \
        (void)rng;                                                                           \
        const float *a = in[0]->value, *b = in[1]->value;                                    \
        float *y = n->value;                                                                 \
        BCAST_LOOP(n, in[0], in[1], y[io] = NAME##_t(a[ia], b[ib]) ? 1.0f : 0.0f);           \
    }

COMPARE(lt, a < b)
COMPARE(le, a <= b)
COMPARE(gt, a > b)
COMPARE(ge, a >= b)
COMPARE(eq, a == b)
COMPARE(ne, a != b)
COMPARE(and, a != 0 && b != 0)
COMPARE(or, a != 0 || b != 0)

/* not x: 1 where x is 0, else 0 (so not NaN is 0) */
static void fwd_not(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    for (size_t i = 0; i < n->size; i++) n->value[i] = in[0]->value[i] == 0.0f ? 1.0f : 0.0f;
}

/* detach(x): x's value; no gradient flows back through it (torch's x.detach()) */
static void fwd_detach(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    memcpy(n->value, in[0]->value, n->size * sizeof(float));
}

/* ---- where(c, a, b): a where c is not 0, else b, the three broadcast together ---------------
 * dy/da = 1 where c is not 0, dy/db = 1 where it is, summed (in double, as BCAST_SUM) over
 * the dimensions a or b was broadcast along; c gets no gradient (dy/dc = 0 almost everywhere).
 * Like torch.where(c != 0, a, b). */

static void fwd_where(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    const float *c = in[0]->value, *a = in[1]->value, *b = in[2]->value;
    Walk w, none;
    WalkPos p;
    ew_walks(n, in, -1, &w, &none);
    walk_start(&p, NULL);
    for (size_t i = 0; i < w.count; i++, walk_next(&w, &p))
        n->value[p.off[0]] = c[p.off[1]] != 0.0f ? a[p.off[2]] : b[p.off[3]];
}

/* The gradient of input k (1: a, 2: b) of where. */
static void where_grad(GraphNode *n, GraphNode *const *in, int k)
{
    const float *c = in[0]->value, *gy = n->grad;
    float *g = in[k]->grad;
    bool take = k == 1;     /* the condition's truth where input k is chosen */
    Walk kept, red;
    WalkPos q, p;
    ew_walks(n, in, k, &kept, &red);
    walk_start(&q, NULL);
    for (size_t i = 0; i < kept.count; i++, walk_next(&kept, &q)) {
        double s = 0;
        walk_start(&p, q.off);
        for (size_t j = 0; j < red.count; j++, walk_next(&red, &p))
            if ((c[p.off[1]] != 0.0f) == take) s += gy[p.off[0]];
        g[q.off[1 + k]] += (float)s;
    }
}

static void bwd_where(GraphNode *n, GraphNode *const *in)
{
    for (int k = 1; k <= 2; k++)
        if (in[k]->requires_grad) where_grad(n, in, k);
}

static double der_where(int i, double c, double a, double out, const OpAttrs *at)
{
    (void)a, (void)out, (void)at;
    if (i == 0) return 0.0;
    return (c != 0) == (i == 1) ? 1.0 : 0.0;
}

/* Scalar-to-scalar structural ops (transpose, sum and mean of one element) pass the
 * gradient unchanged. */
static double der_one(int i, double a, double b, double out, const OpAttrs *at)
{
    (void)i, (void)a, (void)b, (void)out, (void)at;
    return 1.0;
}

/* ---- matrix product ---------------------------------------------------------------------
 * C = A B with A [m,k], B [k,n]. A vector on the left is a row [1,k], on the right a column
 * [k,1], and that dimension is dropped from the result (NumPy's rule).
 * dL/dA = dL/dC B^T, dL/dB = A^T dL/dC. */

static void mm_dims(const GraphNode *a, const GraphNode *b, size_t *m, size_t *k, size_t *n)
{
    *m = a->shape.rank == 2 ? (size_t)a->shape.dim[0] : 1;
    *k = (size_t)a->shape.dim[a->shape.rank - 1];
    *n = b->shape.rank == 2 ? (size_t)b->shape.dim[1] : 1;
}

/* The products run on the blocked, vectorised kernels of kernels.c; backward uses the
 * transposed forms directly: dA += dC @ Bᵀ, dB += Aᵀ @ dC. */
static void fwd_matmul(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    size_t M, K, N;
    mm_dims(in[0], in[1], &M, &K, &N);
    kern_matmul(in[0]->value, in[1]->value, n->value, M, K, N, false);
}

static void bwd_matmul(GraphNode *n, GraphNode *const *in)
{
    size_t M, K, N;
    mm_dims(in[0], in[1], &M, &K, &N);
    if (in[0]->requires_grad) kern_matmul_bt(n->grad, in[1]->value, in[0]->grad, M, N, K, true);
    if (in[1]->requires_grad) kern_matmul_at(in[0]->value, n->grad, in[1]->grad, K, M, N, true);
}

/* ---- transpose: y[j,i] = x[i,j]; the gradient is transposed back ------------------------- */

static void fwd_transpose(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    const float *x = in[0]->value;
    if (in[0]->shape.rank < 2) {
        memcpy(n->value, x, n->size * sizeof *x);
        return;
    }
    size_t r = (size_t)in[0]->shape.dim[0], c = (size_t)in[0]->shape.dim[1];
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) n->value[j * r + i] = x[i * c + j];
}

static void bwd_transpose(GraphNode *n, GraphNode *const *in)
{
    float *gx = in[0]->grad;
    if (in[0]->shape.rank < 2) {
        for (size_t i = 0; i < n->size; i++) gx[i] += n->grad[i];
        return;
    }
    size_t r = (size_t)in[0]->shape.dim[0], c = (size_t)in[0]->shape.dim[1];
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) gx[i * c + j] += n->grad[j * r + i];
}

/* The input of an op along one axis (softmax, concat, index, ...) seen as [outer, len, inner]
 * around attrs.axis (NN_AXIS_ALL: everything is one run, [1, size, 1]). */
static void reduce_dims(const GraphNode *n, const GraphNode *x, size_t *outer, size_t *len,
                        size_t *inner)
{
    if (n->attrs.axis == NN_AXIS_ALL) {
        *outer = 1, *len = x->size, *inner = 1;
        return;
    }
    int ax = n->attrs.axis;
    *outer = *inner = 1;
    for (int i = 0; i < ax; i++) *outer *= (size_t)x->shape.dim[i];
    *len = (size_t)x->shape.dim[ax];
    for (int i = ax + 1; i < x->shape.rank; i++) *inner *= (size_t)x->shape.dim[i];
}

/* ---- reductions: sum, mean, max and min, over everything or over some axes -----------------
 * The axes reduced are attrs.axes (canonical bits, after the shape rule), else attrs.axis
 * (NN_AXIS_ALL: all of them). The input is walked as `kept` (array 0: the result) and `red`
 * (array 1: the input), so the elements of one group are summed in the input's order.
 * sum: dy/dx = 1, mean: dy/dx = 1 / n (n elements per group), for every element reduced, so
 * backward copies the gradient back, walking the input in order. */

static unsigned reduce_mask(const OpAttrs *at, int rank)
{
    if (at->axes) return at->axes;
    return at->axis == NN_AXIS_ALL ? (1u << rank) - 1 : 1u << at->axis;
}

/* The walks of reduction n over its input x; `all` (if not NULL) gets one walk over the whole
 * input in order, with the result's strides (0 along reduced axes) in array 0. */
static void reduce_walks(const GraphNode *n, const GraphNode *x, Walk *kept, Walk *red,
                         Walk *all)
{
    unsigned mask = reduce_mask(&n->attrs, x->shape.rank);
    size_t xs[NN_MAX_RANK], ys[NN_MAX_RANK], y_stride = 1;
    contiguous_strides(&x->shape, xs);
    for (int d = x->shape.rank - 1; d >= 0; d--) {
        bool reduced = (mask >> d) & 1;
        ys[d] = reduced ? 0 : y_stride;
        if (!reduced) y_stride *= (size_t)x->shape.dim[d];
    }
    walk_init(kept);
    walk_init(red);
    if (all) walk_init(all);
    for (int d = 0; d < x->shape.rank; d++) {
        size_t st[WALK_ARRAYS] = { ys[d], xs[d] };
        walk_push((mask >> d) & 1 ? red : kept, (size_t)x->shape.dim[d], st);
        if (all) walk_push(all, (size_t)x->shape.dim[d], st);
    }
}

/* Σ, in double, of the elements of v in one group (walk w from offset `base` into v): sums of
 * many floats drift otherwise. */
static double group_sum(const Walk *w, const float *v, size_t base)
{
    double s = 0;
    if (w->rank <= 1) {     /* one run with one stride: most reductions */
        size_t len = w->rank ? w->dim[0] : 1, st = w->rank ? w->stride[0][1] : 0;
        for (size_t l = 0; l < len; l++) s += v[base + l * st];
        return s;
    }
    size_t b[WALK_ARRAYS] = { 0, base };
    WalkPos p;
    walk_start(&p, b);
    for (size_t j = 0; j < w->count; j++, walk_next(w, &p)) s += v[p.off[1]];
    return s;
}

static void reduce_forward(GraphNode *n, const GraphNode *x, bool mean)
{
    Walk kept, red;
    WalkPos q;
    reduce_walks(n, x, &kept, &red, NULL);
    walk_start(&q, NULL);
    for (size_t i = 0; i < kept.count; i++, walk_next(&kept, &q)) {
        double s = group_sum(&red, x->value, q.off[1]);
        n->value[q.off[0]] = (float)(mean && red.count ? s / (double)red.count : s);
    }
}

static void reduce_backward(GraphNode *n, GraphNode *x, bool mean)
{
    if (!x->size) return;
    Walk kept, red, all;
    WalkPos p;
    reduce_walks(n, x, &kept, &red, &all);
    float scale = mean && red.count ? 1.0f / (float)red.count : 1.0f;
    /* the innermost dimension as a plain loop, the rest as a walk */
    size_t len = all.rank ? all.dim[all.rank - 1] : 1;
    size_t sy = all.rank ? all.stride[all.rank - 1][0] : 0;
    size_t sx = all.rank ? all.stride[all.rank - 1][1] : 0;
    if (all.rank) {
        all.rank--;
        all.count /= len;
    }
    walk_start(&p, NULL);
    for (size_t i = 0; i < all.count; i++, walk_next(&all, &p)) {
        const float *g = n->grad + p.off[0];
        float *gx = x->grad + p.off[1];
        for (size_t l = 0; l < len; l++) gx[l * sx] += g[l * sy] * scale;
    }
}

static void fwd_sum(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    reduce_forward(n, in[0], false);
}

static void bwd_sum(GraphNode *n, GraphNode *const *in)
{
    reduce_backward(n, in[0], false);
}

static void fwd_mean(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    reduce_forward(n, in[0], true);
}

static void bwd_mean(GraphNode *n, GraphNode *const *in)
{
    reduce_backward(n, in[0], true);
}

/* max and min: y = the largest (smallest) element of each group, NaN if any of them is NaN.
 * dy/dx = 1 / k for each of the k elements equal to y, else 0: tied extremes share the
 * gradient equally, as torch.amax and torch.max(x) do (when y is NaN, the NaNs share it, as
 * torch.max(x)). */

static void extreme_forward(GraphNode *n, const GraphNode *x, bool largest)
{
    Walk kept, red;
    WalkPos q, p;
    reduce_walks(n, x, &kept, &red, NULL);
    walk_start(&q, NULL);
    for (size_t i = 0; i < kept.count; i++, walk_next(&kept, &q)) {
        float best = red.count ? x->value[q.off[1]] : NAN;
        walk_start(&p, q.off);
        for (size_t j = 0; j < red.count && !isnan(best); j++, walk_next(&red, &p)) {
            float v = x->value[p.off[1]];
            if (isnan(v) || (largest ? v > best : v < best)) best = v;
        }
        n->value[q.off[0]] = best;
    }
}

static inline bool is_extreme(float v, float y)
{
    return v == y || (isnan(v) && isnan(y));
}

static void extreme_backward(GraphNode *n, GraphNode *x)
{
    Walk kept, red;
    WalkPos q, p;
    reduce_walks(n, x, &kept, &red, NULL);
    walk_start(&q, NULL);
    for (size_t i = 0; i < kept.count; i++, walk_next(&kept, &q)) {
        float y = n->value[q.off[0]];
        size_t ties = 0;
        walk_start(&p, q.off);
        for (size_t j = 0; j < red.count; j++, walk_next(&red, &p))
            ties += is_extreme(x->value[p.off[1]], y);
        if (!ties) continue;
        float share = n->grad[q.off[0]] / (float)ties;
        walk_start(&p, q.off);
        for (size_t j = 0; j < red.count; j++, walk_next(&red, &p))
            if (is_extreme(x->value[p.off[1]], y)) x->grad[p.off[1]] += share;
    }
}

static void fwd_max(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    extreme_forward(n, in[0], true);
}

static void bwd_max(GraphNode *n, GraphNode *const *in)
{
    extreme_backward(n, in[0]);
}

static void fwd_min(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    extreme_forward(n, in[0], false);
}

static void bwd_min(GraphNode *n, GraphNode *const *in)
{
    extreme_backward(n, in[0]);
}

/* ---- reshape: the same elements, in order, in another shape; the gradient likewise ------- */

static void fwd_reshape(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    memcpy(n->value, in[0]->value, n->size * sizeof(float));
}

static void bwd_reshape(GraphNode *n, GraphNode *const *in)
{
    float *gx = in[0]->grad;
    for (size_t i = 0; i < n->size; i++) gx[i] += n->grad[i];
}

/* ---- concat: a and b joined along an axis ------------------------------------------------------
 * Seen as [outer, len, inner] around the axis, each outer block of y is a's block (len_a ×
 * inner elements) followed by b's; backward hands each input its part of the gradient. */

static void fwd_concat(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    size_t outer, la, lb, inner;
    reduce_dims(n, in[0], &outer, &la, &inner);
    reduce_dims(n, in[1], &outer, &lb, &inner);
    size_t ra = la * inner, rb = lb * inner;
    float *y = n->value;
    for (size_t o = 0; o < outer; o++, y += ra + rb) {
        memcpy(y, in[0]->value + o * ra, ra * sizeof(float));
        memcpy(y + ra, in[1]->value + o * rb, rb * sizeof(float));
    }
}

static void bwd_concat(GraphNode *n, GraphNode *const *in)
{
    size_t outer, la, lb, inner;
    reduce_dims(n, in[0], &outer, &la, &inner);
    reduce_dims(n, in[1], &outer, &lb, &inner);
    size_t run[2] = { la * inner, lb * inner }, skip[2] = { 0, la * inner };
    for (int k = 0; k < 2; k++) {
        if (!in[k]->requires_grad) continue;
        for (size_t o = 0; o < outer; o++) {
            const float *g = n->grad + o * (run[0] + run[1]) + skip[k];
            float *gx = in[k]->grad + o * run[k];
            for (size_t j = 0; j < run[k]; j++) gx[j] += g[j];
        }
    }
}

/* ---- index and slice: x[i] and x[start:stop] along attrs.axis ---------------------------------
 * index: y is the slab of x at position i (negative from the end), the axis removed; an index
 * that is not an integer in range makes y NaN, which the runtime reports at the expression.
 * slice: y is the slabs start .. stop - 1, the axis kept. Backward adds the gradient back into
 * the slabs taken (dy/dx = 1 there, 0 elsewhere; nothing for an index out of range, whose NaN
 * the runtime reports first); the index itself gets none. */

long op_index_of(float v, int size)
{
    if (!(v >= -(float)size && v < (float)size) || v != floorf(v)) return -1;
    long k = (long)v;
    return k < 0 ? k + size : k;
}

/* Copies slabs first .. first + count - 1 of x's axis to y (gather), or adds y's into x's
 * gradient (scatter). */
static void slabs(GraphNode *n, GraphNode *x, size_t first, size_t count, bool scatter)
{
    size_t outer, len, inner;
    reduce_dims(n, x, &outer, &len, &inner);
    size_t run = count * inner;
    for (size_t o = 0; o < outer; o++) {
        size_t at = (o * len + first) * inner;
        if (!scatter) {
            memcpy(n->value + o * run, x->value + at, run * sizeof(float));
            continue;
        }
        const float *g = n->grad + o * run;
        for (size_t j = 0; j < run; j++) x->grad[at + j] += g[j];
    }
}

static long index_of_node(const GraphNode *n, GraphNode *const *in)
{
    return op_index_of(in[1]->value[0], in[0]->shape.dim[n->attrs.axis]);
}

static void fwd_index(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    long k = index_of_node(n, in);
    if (k < 0) {
        for (size_t i = 0; i < n->size; i++) n->value[i] = NAN;
        return;
    }
    slabs(n, in[0], (size_t)k, 1, false);
}

static void bwd_index(GraphNode *n, GraphNode *const *in)
{
    long k = index_of_node(n, in);
    if (k >= 0 && in[0]->requires_grad) slabs(n, in[0], (size_t)k, 1, true);
}

/* index of one element: ∂y/∂x = 1; the index passes nothing */
static double der_index(int i, double a, double b, double out, const OpAttrs *at)
{
    (void)a, (void)b, (void)out, (void)at;
    return i == 0 ? 1.0 : 0.0;
}

static void fwd_slice(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    slabs(n, in[0], (size_t)n->attrs.start, (size_t)(n->attrs.stop - n->attrs.start), false);
}

static void bwd_slice(GraphNode *n, GraphNode *const *in)
{
    slabs(n, in[0], (size_t)n->attrs.start, (size_t)(n->attrs.stop - n->attrs.start), true);
}

/* ---- one_hot: class indices to rows of 0s with a 1 at the index (no gradient) -----------------
 * An index that is not an integer in 0 .. classes - 1 gives a row of NaN, which the runtime
 * reports. */

/* The class index t as a size_t, or false if it is not an integer in [0, classes). */
static bool class_index(float t, size_t classes, size_t *k)
{
    if (!(t >= 0.0f && t < (float)classes && t == floorf(t))) return false;
    *k = (size_t)t;
    return true;
}

static void fwd_one_hot(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    size_t C = (size_t)n->attrs.classes;
    for (size_t i = 0; i < in[0]->size; i++) {
        float *row = n->value + i * C;
        size_t k;
        bool ok = class_index(in[0]->value[i], C, &k);
        for (size_t c = 0; c < C; c++) row[c] = ok ? (c == k ? 1.0f : 0.0f) : NAN;
    }
}

/* ---- softmax and log_softmax along one axis ------------------------------------------------
 * y_i = exp(x_i - m) / sum_j exp(x_j - m) with m = max_j x_j (the same value as without m, but
 * no exp can overflow), and log_softmax y_i = x_i - m - log sum_j exp(x_j - m).
 * softmax: dL/dx_i = y_i (g_i - sum_j g_j y_j).  log_softmax: dL/dx_i = g_i - exp(y_i) sum_j g_j.
 * The input is seen as [outer, len, inner] around the axis, as for reductions. */

static void softmax_forward(GraphNode *n, const GraphNode *x, bool take_log)
{
    size_t outer, len, inner;
    reduce_dims(n, x, &outer, &len, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const float *xv = x->value + o * len * inner + i;
            float *y = n->value + o * len * inner + i;
            float m = xv[0];
            for (size_t l = 1; l < len; l++)
                if (xv[l * inner] > m) m = xv[l * inner];
            double s = 0;   /* in double: a long row of floats drifts otherwise */
            for (size_t l = 0; l < len; l++) {
                double e = exp((double)xv[l * inner] - m);
                s += e;
                y[l * inner] = (float)e;
            }
            if (take_log) {
                double lse = (double)m + log(s);
                for (size_t l = 0; l < len; l++) y[l * inner] = (float)(xv[l * inner] - lse);
            } else {
                for (size_t l = 0; l < len; l++) y[l * inner] = (float)(y[l * inner] / s);
            }
        }
}

static void fwd_softmax(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    softmax_forward(n, in[0], false);
}

static void bwd_softmax(GraphNode *n, GraphNode *const *in)
{
    size_t outer, len, inner;
    reduce_dims(n, in[0], &outer, &len, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            const float *y = n->value + base, *g = n->grad + base;
            float *gx = in[0]->grad + base;
            double dot = 0;
            for (size_t l = 0; l < len; l++) dot += (double)g[l * inner] * y[l * inner];
            for (size_t l = 0; l < len; l++)
                gx[l * inner] += (float)(y[l * inner] * (g[l * inner] - dot));
        }
}

static void fwd_log_softmax(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    softmax_forward(n, in[0], true);
}

static void bwd_log_softmax(GraphNode *n, GraphNode *const *in)
{
    size_t outer, len, inner;
    reduce_dims(n, in[0], &outer, &len, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            const float *y = n->value + base, *g = n->grad + base;
            float *gx = in[0]->grad + base;
            double gsum = 0;
            for (size_t l = 0; l < len; l++) gsum += g[l * inner];
            for (size_t l = 0; l < len; l++)
                gx[l * inner] += (float)(g[l * inner] - exp((double)y[l * inner]) * gsum);
        }
}

/* ---- argmax along one axis: the index of the largest element, as a float -----------------
 * The first of equal maxima wins, and a NaN counts as the largest (as torch.argmax), so a NaN
 * is never hidden behind an ordinary index. No gradient: the result is piecewise constant. */

static size_t argmax_strided(const float *v, size_t len, size_t stride)
{
    size_t best = 0;
    float bv = v[0];
    if (isnan(bv)) return 0;
    for (size_t l = 1; l < len; l++) {
        float x = v[l * stride];
        if (isnan(x)) return l;
        if (x > bv) best = l, bv = x;
    }
    return best;
}

static void fwd_argmax(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    size_t outer, len, inner;
    reduce_dims(n, in[0], &outer, &len, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++)
            n->value[o * inner + i] =
                len ? (float)argmax_strided(in[0]->value + o * len * inner + i, len, inner) : NAN;
}

/* ---- dropout (inverted): y = x m, with a fresh mask m drawn on every forward pass ----------
 * m_i = 0 with probability p, else 1 / (1 - p), so E[y] = x and nothing needs rescaling when
 * dropout is left out at evaluation. The mask is kept in aux: dL/dx = g m, the same mask.
 * p = 0 draws nothing and is the identity; p = 1 drops everything (y = 0, as PyTorch). */

static void fwd_dropout(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    const float *x = in[0]->value;
    float *m = n->aux, p = n->attrs.p;
    NN_ASSERT(n->aux_size == n->size);
    if (p <= 0.0f) {
        for (size_t i = 0; i < n->size; i++) m[i] = 1.0f;
    } else if (p >= 1.0f) {
        for (size_t i = 0; i < n->size; i++) m[i] = 0.0f;
    } else {
        float keep = 1.0f / (1.0f - p);
        for (size_t i = 0; i < n->size; i++) m[i] = rng_uniform(rng) < p ? 0.0f : keep;
    }
    for (size_t i = 0; i < n->size; i++) n->value[i] = x[i] * m[i];
}

static void bwd_dropout(GraphNode *n, GraphNode *const *in)
{
    float *gx = in[0]->grad;
    for (size_t i = 0; i < n->size; i++) gx[i] += n->grad[i] * n->aux[i];
}

/* ---- losses with a same-shape target: L = (1/n) sum_i l(p_i, t_i) --------------------------
 * LOSS(name, l(p, t), dl/dp, dl/dt) makes the forward kernel (the mean, summed in double), the
 * backward kernel (g/n dl/dp into p, g/n dl/dt into t) and the derivative traces use for one
 * scalar pair (n = 1), from one formula, like UNARY. */

#define LOSS(NAME, FWD, DP, DT)                                                              \
    static inline double NAME##_l(double p, double t)                                        \
    {                                                                                        \
        return (FWD);                                                                        \
    }                                                                                        \
    static inline double NAME##_dp(double p, double t)                                       \
    {                                                                                        \
        (void)p, (void)t;                                                                    \
        return (DP);                                                                         \
    }                                                                                        \
    static inline double NAME##_dt(double p, double t)                                       \
    {                                                                                        \
        (void)p, (void)t;                                                                    \
        return (DT);                                                                         \
    }                                                                                        \
    static void fwd_##NAME(GraphNode *n, GraphNode *const *in, Rng *rng)                     \
    {                                                                                        \
        (void)rng;                                                                           \
        const float *p = in[0]->value, *t = in[1]->value;                                    \
        size_t m = in[0]->size;                                                              \
        double s = 0;                                                                        \
        for (size_t i = 0; i < m; i++) s += NAME##_l(p[i], t[i]);                            \
        n->value[0] = (float)(s / (double)m);                                                \
    }                                                                                        \
    static void bwd_##NAME(GraphNode *n, GraphNode *const *in)                               \
    {                                                                                        \
        const float *p = in[0]->value, *t = in[1]->value;                                    \
        size_t m = in[0]->size;                                                              \
        double k = (double)n->grad[0] / (double)m;                                           \
        if (in[0]->requires_grad)                                                            \
            for (size_t i = 0; i < m; i++) in[0]->grad[i] += (float)(k * NAME##_dp(p[i], t[i])); \
        if (in[1]->requires_grad)                                                            \
            for (size_t i = 0; i < m; i++) in[1]->grad[i] += (float)(k * NAME##_dt(p[i], t[i])); \
    }                                                                                        \
    static double der_##NAME(int i, double a, double b, double out, const OpAttrs *at)       \
    {                                                                                        \
        (void)out, (void)at;                                                                 \
        return i == 0 ? NAME##_dp(a, b) : NAME##_dt(a, b);                                   \
    }

/* PyTorch's binary_cross_entropy clamps each log at -100, so p = 0 or 1 gives a large finite
 * loss rather than inf. A NaN (p outside [0, 1]) stays NaN, so the runtime reports it. */
static inline double clamp_log(double v)
{
    return v < -100.0 ? -100.0 : v;
}

static inline double sigmoid_dbl(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static inline double sign_dbl(double x)
{
    return (double)((x > 0) - (x < 0));
}

/* mse: (p - t)^2; dl/dp = 2 (p - t), dl/dt = -2 (p - t) */
LOSS(mse, (p - t) * (p - t), 2.0 * (p - t), -2.0 * (p - t))
/* l1: |p - t|; dl/dp = sign(p - t) (0 at p = t, as PyTorch), dl/dt = -sign(p - t) */
LOSS(l1, fabs(p - t), sign_dbl(p - t), -sign_dbl(p - t))
/* bce on probabilities: -(t log p + (1 - t) log(1 - p)), each log clamped at -100;
 * dl/dp = (p - t) / (p (1 - p)), the denominator kept >= 1e-12 as PyTorch;
 * dl/dt = log(1 - p) - log p (clamped likewise) */
LOSS(bce, -(t * clamp_log(log(p)) + (1.0 - t) * clamp_log(log1p(-p))),
     (p - t) / fmax(p * (1.0 - p), 1e-12), clamp_log(log1p(-p)) - clamp_log(log(p)))
/* bce on logits x = p: the same loss on sigmoid(x), computed stably as
 * max(x, 0) - x t + log(1 + exp(-|x|)) (no exp of a large positive number, no log of 0);
 * dl/dx = sigmoid(x) - t, dl/dt = -x */
LOSS(bce_logits, fmax(p, 0.0) - p * t + log1p(exp(-fabs(p))), sigmoid_dbl(p) - t, -p)

/* ---- cross_entropy: log-softmax and negative log-likelihood in one op ---------------------
 * Logits x [N,C] (or [C], N = 1), ls = log_softmax(x) along the classes, kept in aux.
 * Probability target t [N,C]: L = -(1/N) sum_n sum_c t_nc ls_nc;
 *   dL/dx_nc = (softmax_nc sum_c' t_nc' - t_nc) / N (softmax - t for rows summing to 1),
 *   dL/dt_nc = -ls_nc / N.
 * Index target k [N] (floats holding 0..C-1): L = -(1/N) sum_n ls_n,k_n; dL/dx = (softmax -
 *   onehot(k)) / N; no gradient into k (it is piecewise constant). An index that is not an
 *   integer in 0..C-1 makes L (and its gradient) NaN, which the runtime reports at the call.
 * Terms with t = 0 are skipped, so a one-hot target gives exactly the index target's loss even
 * where a logit is -inf. */

static void ce_dims(const GraphNode *x, size_t *rows, size_t *classes)
{
    *classes = (size_t)x->shape.dim[x->shape.rank - 1];
    *rows = x->size / *classes;
}

static void fwd_cross_entropy(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    const GraphNode *x = in[0], *t = in[1];
    size_t N, C;
    ce_dims(x, &N, &C);
    bool index = t->shape.rank < x->shape.rank;
    NN_ASSERT(n->aux_size == x->size);
    double loss = 0;
    for (size_t r = 0; r < N; r++) {
        const float *xr = x->value + r * C;
        float *ls = n->aux + r * C, m = xr[0];
        for (size_t c = 1; c < C; c++)
            if (xr[c] > m) m = xr[c];
        double s = 0;
        for (size_t c = 0; c < C; c++) s += exp((double)xr[c] - m);
        double lse = (double)m + log(s);
        for (size_t c = 0; c < C; c++) ls[c] = (float)(xr[c] - lse);
        if (index) {
            size_t k;
            if (class_index(t->value[r], C, &k)) loss -= ls[k];
            else loss = NAN;
        } else {
            const float *tr = t->value + r * C;
            for (size_t c = 0; c < C; c++)
                if (tr[c] != 0.0f) loss -= (double)tr[c] * ls[c];
        }
    }
    n->value[0] = (float)(loss / (double)N);
}

static void bwd_cross_entropy(GraphNode *n, GraphNode *const *in)
{
    GraphNode *x = in[0], *t = in[1];
    size_t N, C;
    ce_dims(x, &N, &C);
    bool index = t->shape.rank < x->shape.rank;
    double k = (double)n->grad[0] / (double)N;
    for (size_t r = 0; r < N; r++) {
        const float *ls = n->aux + r * C, *tr = t->value + (index ? r : r * C);
        if (x->requires_grad) {
            float *gx = x->grad + r * C;
            if (index) {
                size_t j;
                bool ok = class_index(tr[0], C, &j);
                for (size_t c = 0; c < C; c++)
                    gx[c] += ok ? (float)(k * (exp((double)ls[c]) - (c == j))) : NAN;
            } else {
                double tsum = 0;
                for (size_t c = 0; c < C; c++) tsum += tr[c];
                for (size_t c = 0; c < C; c++)
                    gx[c] += (float)(k * (exp((double)ls[c]) * tsum - tr[c]));
            }
        }
        if (!index && t->requires_grad) {
            float *gt = t->grad + r * C;
            for (size_t c = 0; c < C; c++) gt[c] += (float)(-k * ls[c]);
        }
    }
}

/* ---- accuracy: the fraction of rows predicted right (a metric: no gradient) ----------------
 * Classes, p [N,C]: row n is right when argmax p_n equals the target class (the argmax of a
 * one-hot row, or the index; an index that is not an integer in 0..C-1 gives NaN).
 * Probabilities, p [N] or [N,1]: right when (p >= 0.5) == (t >= 0.5).
 * A NaN prediction or target gives NaN: a metric must not hide a diverged model. */

static void fwd_accuracy(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    const GraphNode *p = in[0], *t = in[1];
    double right = 0;
    size_t rows;
    if (p->shape.rank == 2 && p->shape.dim[1] >= 2) {
        size_t C = (size_t)p->shape.dim[1];
        bool index = t->shape.rank == 1;
        rows = (size_t)p->shape.dim[0];
        for (size_t r = 0; r < rows; r++) {
            const float *pr = p->value + r * C;
            size_t want, got = argmax_strided(pr, C, 1);
            bool ok;
            if (index) {
                ok = class_index(t->value[r], C, &want);
            } else {
                want = argmax_strided(t->value + r * C, C, 1);
                ok = !isnan(t->value[r * C + want]);
            }
            if (!ok || isnan(pr[got])) right = NAN;
            else right += got == want;
        }
    } else {
        rows = p->size;
        for (size_t i = 0; i < rows; i++) {
            float pv = p->value[i], tv = t->value[i];
            if (isnan(pv) || isnan(tv)) right = NAN;
            else right += (pv >= 0.5f) == (tv >= 0.5f);
        }
    }
    n->value[0] = (float)(right / (double)rows);
}

/* ---- the table -------------------------------------------------------------------------- */

static const OpInfo op_table[OP_COUNT] = {
#define OP(e, nm, ar, sg, fl, shp, fw, bw, dv, tx, d0, d1, d2, hx, ht)                        \
    [OP_##e] = { OP_##e, #e, nm, ar, sg, fl, shp, fw, bw, dv, tx, { d0, d1, d2 }, hx, ht },
#include "ops.def"
#undef OP
};

const OpInfo *op_info(OpKind k)
{
    NN_ASSERT(k < OP_COUNT);
    return &op_table[k];
}

const OpInfo *op_lookup(const char *name)
{
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = &op_table[k];
        if (op->sig != SIG_LEAF && op->sig != SIG_OPERATOR && strcmp(op->name, name) == 0)
            return op;
    }
    return NULL;
}
