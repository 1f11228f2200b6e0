/* ops.c — every primitive op: shape rule, forward kernel, backward kernel and scalar
 * derivative, grouped op by op under the formula they implement. The table at the end is
 * generated from ops.def. Backward kernels always ADD into input gradients. */
#include "ops.h"

#include "kernels.h"

#include "graph.h"

#include <math.h>
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

static bool shape_bcast(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                        StrBuf *err)
{
    (void)at;
    if (shape_broadcast(&in[0], &in[1], out)) return true;
    char a[64], b[64];
    int r = in[0].rank > in[1].rank ? in[0].rank : in[1].rank;
    for (int i = r - 1; i >= 0; i--) {
        int ai = in[0].rank - r + i, bi = in[1].rank - r + i;
        int da = ai >= 0 ? in[0].dim[ai] : 1, db = bi >= 0 ? in[1].dim[bi] : 1;
        if (da != db && da != 1 && db != 1) {
            sb_printf(err, "cannot broadcast %s %s %s: sizes %d and %d differ in dimension %d "
                           "from the right, and neither is 1",
                      shape_str(&in[0], a, sizeof a), op->name, shape_str(&in[1], b, sizeof b),
                      da, db, r - i);
            return false;
        }
    }
    NN_ASSERT(!"unreachable");
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

static bool shape_reduce(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                         StrBuf *err)
{
    if (at->axis == NN_AXIS_ALL) {
        *out = shape_scalar();
        return true;
    }
    int r = in[0].rank;
    if (at->axis < -r || at->axis >= r) {
        char a[64];
        if (r == 0)
            sb_printf(err, "'%s' of a scalar has no axis %d", op->name, at->axis);
        else
            sb_printf(err, "axis %d is out of range for shape %s (axes are 0 to %d, or -%d to -1)",
                      at->axis, shape_str(&in[0], a, sizeof a), r - 1, r);
        return false;
    }
    if (at->axis < 0) at->axis += r;
    *out = shape_scalar();
    for (int i = 0; i < r; i++)
        if (i != at->axis) out->dim[out->rank++] = in[0].dim[i];
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
    if (at->axis < -r || at->axis >= r) {
        char a[64];
        sb_printf(err, "axis %d is out of range for shape %s (axes are 0 to %d, or -%d to -1)",
                  at->axis, shape_str(in, a, sizeof a), r - 1, r);
        return false;
    }
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
    for (size_t i = 0; i < n->size; i++) n->value[i] = rng_uniform(rng);
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

/* init_uniform: U(-1/sqrt(in), 1/sqrt(in)), the default of torch.nn.Linear. */
static void fwd_init_uniform(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)in;
    fill_uniform(n, 1.0 / sqrt(fan_in(n)), rng);
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
            if (!shape_eq(&in[0]->shape, &n->shape))                                         \
                BCAST_SUM(n, in, 0, ga, NAME##_da(a[ia], b[ib], y[io]));                     \
            else                                                                             \
                BCAST_LOOP(n, in[0], in[1],                                                  \
                           ga[ia] += gy[io] * NAME##_da(a[ia], b[ib], y[io]));               \
        }                                                                                    \
        if (in[1]->requires_grad) {                                                          \
            float *gb = in[1]->grad;                                                         \
            if (!shape_eq(&in[1]->shape, &n->shape))                                         \
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
/* a / b; d/da = 1 / b, d/db = -a / b^2 */
BINARY(div, a / b, 1.0f / b, -a / (b * b))
/* a^b; d/da = b a^(b-1), d/db = a^b log a */
BINARY(pow, powf(a, b), b == 0 ? 0.0f : b * powf(a, b - 1.0f), pow_dexp(a, y))

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

/* ---- reductions: sum and mean, over everything or along one axis -------------------------
 * The input is seen as [outer, len, inner] around the axis. d sum / dx = 1 and
 * d mean / dx = 1 / len for every element reduced, so backward copies the gradient back. */

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

static void reduce_forward(GraphNode *n, const GraphNode *x, bool mean)
{
    size_t outer, len, inner;
    reduce_dims(n, x, &outer, &len, &inner);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double s = 0;   /* accumulate in double: sums of many floats drift otherwise */
            for (size_t l = 0; l < len; l++) s += x->value[(o * len + l) * inner + i];
            n->value[o * inner + i] = (float)(mean && len ? s / (double)len : s);
        }
}

static void reduce_backward(GraphNode *n, GraphNode *x, bool mean)
{
    size_t outer, len, inner;
    reduce_dims(n, x, &outer, &len, &inner);
    float scale = mean && len ? 1.0f / (float)len : 1.0f;
    for (size_t o = 0; o < outer; o++)
        for (size_t l = 0; l < len; l++)
            for (size_t i = 0; i < inner; i++)
                x->grad[(o * len + l) * inner + i] += n->grad[o * inner + i] * scale;
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

/* The class index t as a size_t, or false if it is not an integer in [0, classes). */
static bool class_index(float t, size_t classes, size_t *k)
{
    if (!(t >= 0.0f && t < (float)classes && t == floorf(t))) return false;
    *k = (size_t)t;
    return true;
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
