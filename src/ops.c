/* ops.c — every primitive op: shape rule, forward kernel, backward kernel and scalar
 * derivative, grouped op by op under the formula they implement. The table at the end is
 * generated from ops.def. Backward kernels always ADD into input gradients. */
#include "ops.h"

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
        const float *x = in[0]->value;                                                       \
        float *y = n->value;                                                                 \
        for (size_t i = 0; i < n->size; i++) y[i] = NAME##_f(x[i], &n->attrs);               \
    }                                                                                        \
    static void bwd_##NAME(GraphNode *n, GraphNode *const *in)                               \
    {                                                                                        \
        const float *x = in[0]->value, *y = n->value, *gy = n->grad;                         \
        float *gx = in[0]->grad;                                                             \
        for (size_t i = 0; i < n->size; i++) gx[i] += gy[i] * NAME##_d(x[i], y[i], &n->attrs); \
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
UNARY(tanh, tanhf(x), 1.0f - y * y)
/* max(x, 0); d/dx = 1 if x > 0 else 0 (0 at the kink, as PyTorch) */
UNARY(relu, x > 0 ? x : 0.0f, x > 0 ? 1.0f : 0.0f)
/* x if x > 0 else a x; d/dx = 1 if x > 0 else a */
UNARY(leaky_relu, x > 0 ? x : at->alpha * x, x > 0 ? 1.0f : at->alpha)
/* log(1 + exp(x)), computed stably as max(x, 0) + log1p(exp(-|x|)); d/dx = sigmoid(x) */
UNARY(softplus, (x > 0 ? x : 0.0f) + log1pf(expf(-fabsf(x))), sigmoidf(x))

/* ---- elementwise binary ops with broadcasting --------------------------------------------
 * BCAST_LOOP walks the output in order while ia and ib follow the inputs; a broadcast
 * dimension has stride 0, so in backward the += sums over it, as the chain rule requires. */

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
            BCAST_LOOP(n, in[0], in[1], ga[ia] += gy[io] * NAME##_da(a[ia], b[ib], y[io]));  \
        }                                                                                    \
        if (in[1]->requires_grad) {                                                          \
            float *gb = in[1]->grad;                                                         \
            BCAST_LOOP(n, in[0], in[1], gb[ib] += gy[io] * NAME##_db(a[ia], b[ib], y[io]));  \
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

static void fwd_matmul(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    size_t M, K, N;
    mm_dims(in[0], in[1], &M, &K, &N);
    const float *A = in[0]->value, *B = in[1]->value;
    float *C = n->value;
    memset(C, 0, M * N * sizeof *C);
    for (size_t i = 0; i < M; i++)
        for (size_t p = 0; p < K; p++) {
            float aip = A[i * K + p];
            const float *brow = B + p * N;
            float *crow = C + i * N;
            for (size_t j = 0; j < N; j++) crow[j] += aip * brow[j];
        }
}

static void bwd_matmul(GraphNode *n, GraphNode *const *in)
{
    size_t M, K, N;
    mm_dims(in[0], in[1], &M, &K, &N);
    const float *A = in[0]->value, *B = in[1]->value, *G = n->grad;
    if (in[0]->requires_grad) {
        float *GA = in[0]->grad;
        for (size_t i = 0; i < M; i++)
            for (size_t p = 0; p < K; p++) {
                float s = 0;
                for (size_t j = 0; j < N; j++) s += G[i * N + j] * B[p * N + j];
                GA[i * K + p] += s;
            }
    }
    if (in[1]->requires_grad) {
        float *GB = in[1]->grad;
        for (size_t i = 0; i < M; i++)
            for (size_t p = 0; p < K; p++) {
                float aip = A[i * K + p];
                for (size_t j = 0; j < N; j++) GB[p * N + j] += aip * G[i * N + j];
            }
    }
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

/* ---- the table -------------------------------------------------------------------------- */

static const OpInfo op_table[OP_COUNT] = {
#define OP(e, nm, ar, sg, fl, shp, fw, bw, dv, tx, d0, d1)                                    \
    [OP_##e] = { OP_##e, #e, nm, ar, sg, fl, shp, fw, bw, dv, tx, { d0, d1 } },
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
