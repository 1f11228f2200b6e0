/* ops_conv.c — convolution and pooling over a batch of images [N, C, H, W] (ops_conv.h).
 *
 * conv2d(x, W, b): out[n,o,i,j] = b[o] + Σ_c Σ_u Σ_v W[o,c,u,v] × x[n,c, i·s + u − p, j·s + v − p]
 * (x is 0 outside the image: zero padding p; stride s). Each image is unfolded into the
 * matrix of its receptive fields ("im2col": a column per output pixel, a row per weight), so
 * the sums are one matrix product W[O, C·KH·KW] @ cols[C·KH·KW, OH·OW] through the kernels
 * every product uses. The gradient is products too: ∂W += ∂out @ colsᵀ, ∂cols = Wᵀ @ ∂out,
 * folded back onto the image (each input pixel gets the sum over the windows that saw it).
 *
 * maxpool2d passes each window's largest value, and its gradient to that element alone (the
 * first of equal ones, as PyTorch); avgpool2d passes the mean, and a 1/(KH·KW) share of the
 * gradient to every element of the window. Pools have no padding: windows lie inside. */
#include "ops_conv.h"

#include "graph.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- shapes ---------------------------------------------------------------------------------- */

/* The most numbers one image's unfolded windows may take (64 M: 256 MB of scratch). */
#define CONV_MAX_SCRATCH (64.0 * 1024 * 1024)

/* An output size: windows of k with stride s over n + 2p; 0 if none fits. */
static int out_size(int n, int k, int s, int p)
{
    int span = n + 2 * p - k;
    return span < 0 ? 0 : span / s + 1;
}

static bool image_batch(const OpInfo *op, const Shape *x, StrBuf *err)
{
    if (x->rank == 4) return true;
    char a[64];
    sb_printf(err, "'%s' needs a batch of images [N, C, H, W], but this has shape %s", op->name,
              shape_str(x, a, sizeof a));
    return false;
}

/* The output [N, O, OH, OW] of windows at->kernel, at->stride, at->pad over x; false (with the
 * message) when no window fits. */
static bool windows(const OpInfo *op, const Shape *x, const OpAttrs *at, int channels,
                    Shape *out, StrBuf *err)
{
    int oh = out_size(x->dim[2], at->kernel[0], at->stride[0], at->pad[0]);
    int ow = out_size(x->dim[3], at->kernel[1], at->stride[1], at->pad[1]);
    if (oh < 1 || ow < 1) {
        char a[64];
        sb_printf(err, "'%s' has a %dx%d window, larger than the images of %s%s", op->name,
                  at->kernel[0], at->kernel[1], shape_str(x, a, sizeof a),
                  at->pad[0] || at->pad[1] ? " with their padding" : "");
        return false;
    }
    *out = *x;
    out->dim[1] = channels;
    out->dim[2] = oh;
    out->dim[3] = ow;
    return true;
}

bool shape_conv2d(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    const Shape *x = &in[0], *w = &in[1], *b = &in[2];
    char a[64], c[64];
    if (!image_batch(op, x, err)) return false;
    if (w->rank != 4 || w->dim[1] != x->dim[1]) {
        sb_printf(err, "'%s' needs a weight [out channels, %d, KH, KW] for images of %d "
                  "channel%s, but this has shape %s", op->name, x->dim[1], x->dim[1],
                  x->dim[1] == 1 ? "" : "s", shape_str(w, a, sizeof a));
        return false;
    }
    if (b->rank != 1 || b->dim[0] != w->dim[0]) {
        sb_printf(err, "'%s' needs a bias [%d], one per output channel, but this has shape %s "
                  "(the weight is %s)", op->name, w->dim[0], shape_str(b, a, sizeof a),
                  shape_str(w, c, sizeof c));
        return false;
    }
    at->kernel[0] = w->dim[2];
    at->kernel[1] = w->dim[3];
    if (!windows(op, x, at, w->dim[0], out, err)) return false;
    /* one image's unfolded windows (im2col's scratch): C·KH·KW rows of OH·OW */
    double cells = (double)x->dim[1] * w->dim[2] * w->dim[3] * out->dim[2] * out->dim[3];
    if (cells > CONV_MAX_SCRATCH) {
        sb_printf(err, "'%s' of these images would unfold each into %.0f numbers (its windows "
                  "side by side), more than nn's limit of %.0f; use a smaller kernel or image, "
                  "or a stride", op->name, cells, (double)CONV_MAX_SCRATCH);
        return false;
    }
    return true;
}

bool shape_pool2d(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    if (!image_batch(op, &in[0], err)) return false;
    return windows(op, &in[0], at, in[0].dim[1], out, err);
}

/* ---- convolution ------------------------------------------------------------------------------- */

typedef struct Conv {
    size_t N, C, H, W, O, KH, KW, OH, OW, SH, SW, PH, PW;
    size_t K;       /* C·KH·KW: a column's length */
    size_t P;       /* OH·OW: the columns */
} Conv;

static Conv conv_of(const GraphNode *n, const GraphNode *x, const GraphNode *w)
{
    const OpAttrs *at = &n->attrs;
    Conv c = {
        (size_t)x->shape.dim[0], (size_t)x->shape.dim[1], (size_t)x->shape.dim[2],
        (size_t)x->shape.dim[3], (size_t)w->shape.dim[0], (size_t)w->shape.dim[2],
        (size_t)w->shape.dim[3], (size_t)n->shape.dim[2], (size_t)n->shape.dim[3],
        (size_t)at->stride[0], (size_t)at->stride[1], (size_t)at->pad[0], (size_t)at->pad[1],
        0, 0,
    };
    c.K = c.C * c.KH * c.KW;
    c.P = c.OH * c.OW;
    return c;
}

/* The input row (or column) a window position reads, or -1 in the padding. */
static long at_in(size_t out, size_t k, size_t stride, size_t pad, size_t n)
{
    long i = (long)(out * stride + k) - (long)pad;
    return i >= 0 && i < (long)n ? i : -1;
}

/* The output columns j whose window element v lies inside a row of W pixels: j0 <= j < j1. */
static void inside(const Conv *c, size_t v, size_t *j0, size_t *j1)
{
    long lo = (long)c->PW - (long)v, hi = (long)c->W + (long)c->PW - (long)v;   /* j·s in [lo, hi) */
    long first = lo <= 0 ? 0 : (lo + (long)c->SW - 1) / (long)c->SW;
    long end = hi <= 0 ? 0 : (hi + (long)c->SW - 1) / (long)c->SW;
    *j0 = (size_t)(first < (long)c->OW ? first : (long)c->OW);
    *j1 = (size_t)(end < (long)c->OW ? end : (long)c->OW);
    if (*j1 < *j0) *j1 = *j0;
}

/* cols[K, P] of one image x[C, H, W]: row (c, u, v), column (i, j) is x[c, i·s + u − p, ...]
 * (0 in the padding). Each output row's run of inside columns is one copy (stride 1) or one
 * strided loop; the padding's columns are zeros. */
static void im2col(const Conv *c, const float *x, float *cols)
{
    for (size_t ch = 0; ch < c->C; ch++)
        for (size_t u = 0; u < c->KH; u++)
            for (size_t v = 0; v < c->KW; v++) {
                float *row = cols + ((ch * c->KH + u) * c->KW + v) * c->P;
                size_t j0, j1;
                inside(c, v, &j0, &j1);
                for (size_t i = 0; i < c->OH; i++) {
                    float *dst = row + i * c->OW;
                    long r = at_in(i, u, c->SH, c->PH, c->H);
                    if (r < 0) {
                        memset(dst, 0, c->OW * sizeof *dst);
                        continue;
                    }
                    /* pixel j·s + v − p of the row: inside for j0 <= j < j1 */
                    const float *src = x + (ch * c->H + (size_t)r) * c->W;
                    size_t q0 = j0 * c->SW + v - c->PW;
                    memset(dst, 0, j0 * sizeof *dst);
                    if (c->SW == 1) memcpy(dst + j0, src + q0, (j1 - j0) * sizeof *dst);
                    else
                        for (size_t j = j0; j < j1; j++) dst[j] = src[q0 + (j - j0) * c->SW];
                    memset(dst + j1, 0, (c->OW - j1) * sizeof *dst);
                }
            }
}

/* The reverse: each column's entries added back onto the pixels they were read from. */
static void col2im_add(const Conv *c, const float *cols, float *x)
{
    for (size_t ch = 0; ch < c->C; ch++)
        for (size_t u = 0; u < c->KH; u++)
            for (size_t v = 0; v < c->KW; v++) {
                const float *row = cols + ((ch * c->KH + u) * c->KW + v) * c->P;
                size_t j0, j1;
                inside(c, v, &j0, &j1);
                for (size_t i = 0; i < c->OH; i++) {
                    long r = at_in(i, u, c->SH, c->PH, c->H);
                    if (r < 0) continue;
                    float *dst = x + (ch * c->H + (size_t)r) * c->W;
                    const float *src = row + i * c->OW;
                    size_t q0 = j0 * c->SW + v - c->PW;
                    for (size_t j = j0; j < j1; j++) dst[q0 + (j - j0) * c->SW] += src[j];
                }
            }
}

void fwd_conv2d(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    Conv c = conv_of(n, in[0], in[1]);
    size_t cells = c.K * c.P;
    float *cols = nn_alloc((cells > 0 ? cells : 1) * sizeof *cols);
    for (size_t s = 0; s < c.N; s++) {
        float *out = n->value + s * c.O * c.P;
        im2col(&c, in[0]->value + s * c.C * c.H * c.W, cols);
        kern_matmul(in[1]->value, cols, out, c.O, c.K, c.P, false);
        for (size_t o = 0; o < c.O; o++)
            for (size_t p = 0; p < c.P; p++) out[o * c.P + p] += in[2]->value[o];
    }
    nn_free(cols);
}

void bwd_conv2d(GraphNode *n, GraphNode *const *in)
{
    Conv c = conv_of(n, in[0], in[1]);
    size_t cells = c.K * c.P > 0 ? c.K * c.P : 1;
    float *cols = nn_alloc(cells * sizeof *cols), *dcols = nn_alloc(cells * sizeof *dcols);
    for (size_t s = 0; s < c.N; s++) {
        const float *g = n->grad + s * c.O * c.P;
        if (in[1]->requires_grad) {
            im2col(&c, in[0]->value + s * c.C * c.H * c.W, cols);
            kern_matmul_bt(g, cols, in[1]->grad, c.O, c.P, c.K, true);
        }
        if (in[2]->requires_grad)
            for (size_t o = 0; o < c.O; o++) {
                double sum = 0;
                for (size_t p = 0; p < c.P; p++) sum += g[o * c.P + p];
                in[2]->grad[o] += (float)sum;
            }
        if (in[0]->requires_grad) {
            kern_matmul_at(in[1]->value, g, dcols, c.K, c.O, c.P, false);
            col2im_add(&c, dcols, in[0]->grad + s * c.C * c.H * c.W);
        }
    }
    nn_free(cols);
    nn_free(dcols);
}

/* ---- pooling ----------------------------------------------------------------------------------- */

/* A pool's sizes: the image planes (N·C), their size, the output's, the window and stride. A
 * window's element (u, v) is at its first element + u·W + v. */
typedef struct Pool {
    size_t planes, H, W, OH, OW, KH, KW, SH, SW;
} Pool;

static Pool pool_of(const GraphNode *n, const GraphNode *x)
{
    Pool p = { (size_t)x->shape.dim[0] * (size_t)x->shape.dim[1], (size_t)x->shape.dim[2],
               (size_t)x->shape.dim[3], (size_t)n->shape.dim[2], (size_t)n->shape.dim[3],
               (size_t)n->attrs.kernel[0], (size_t)n->attrs.kernel[1],
               (size_t)n->attrs.stride[0], (size_t)n->attrs.stride[1] };
    return p;
}

/* The largest of each window; aux[k] is where it is in its window (take_max). NaN wins, as
 * in PyTorch. */
/* One step of a window's maximum: v (at `at`, its place in the window, u·KW + v) takes over
 * from *m when larger, or NaN over a number (PyTorch's rule); without a branch, which random
 * data would mispredict half the time. aux keeps the place in the window, a small integer
 * that a float holds exactly (an index into x would not, past 2^24 elements). */
static inline void take_max(float v, size_t at, float *m, size_t *best)
{
    bool take = v > *m || (v != v && *m == *m);
    *m = take ? v : *m;
    *best = take ? at : *best;
}

/* The common 2x2 window with stride 2, unrolled. */
static void maxpool_2x2(const Pool *p, const float *x, float *out, float *where)
{
    size_t k = 0;
    for (size_t plane = 0; plane < p->planes; plane++)
        for (size_t i = 0; i < p->OH; i++) {
            size_t row = (plane * p->H + 2 * i) * p->W;
            for (size_t j = 0; j < p->OW; j++, k++) {
                size_t a = row + 2 * j, best = 0;
                float m = x[a];
                take_max(x[a + 1], 1, &m, &best);
                take_max(x[a + p->W], 2, &m, &best);
                take_max(x[a + p->W + 1], 3, &m, &best);
                out[k] = m;
                where[k] = (float)best;
            }
        }
}

void fwd_maxpool2d(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    Pool p = pool_of(n, in[0]);
    const float *x = in[0]->value;
    if (p.KH == 2 && p.KW == 2 && p.SH == 2 && p.SW == 2) {
        maxpool_2x2(&p, x, n->value, n->aux);
        return;
    }
    size_t k = 0;
    for (size_t plane = 0; plane < p.planes; plane++)
        for (size_t i = 0; i < p.OH; i++)
            for (size_t j = 0; j < p.OW; j++, k++) {
                size_t first = (plane * p.H + i * p.SH) * p.W + j * p.SW, best = 0;
                float m = x[first];
                for (size_t u = 0; u < p.KH; u++) {
                    const float *row = x + first + u * p.W;
                    for (size_t v = 0; v < p.KW; v++) take_max(row[v], u * p.KW + v, &m, &best);
                }
                n->value[k] = m;
                n->aux[k] = (float)best;
            }
}

/* The first input element of output pixel k's window. */
static size_t window_start(const Pool *p, size_t k)
{
    size_t plane = k / (p->OH * p->OW), rest = k % (p->OH * p->OW);
    size_t i = rest / p->OW, j = rest % p->OW;
    return (plane * p->H + i * p->SH) * p->W + j * p->SW;
}

void bwd_maxpool2d(GraphNode *n, GraphNode *const *in)
{
    Pool p = pool_of(n, in[0]);
    for (size_t k = 0; k < n->size; k++) {
        size_t at = (size_t)n->aux[k], u = at / p.KW, v = at % p.KW;
        in[0]->grad[window_start(&p, k) + u * p.W + v] += n->grad[k];
    }
}

void fwd_avgpool2d(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    Pool p = pool_of(n, in[0]);
    const float *x = in[0]->value;
    for (size_t k = 0; k < n->size; k++) {
        size_t first = window_start(&p, k);
        double sum = 0;
        for (size_t u = 0; u < p.KH; u++)
            for (size_t v = 0; v < p.KW; v++) sum += x[first + u * p.W + v];
        n->value[k] = (float)(sum / (double)(p.KH * p.KW));
    }
}

void bwd_avgpool2d(GraphNode *n, GraphNode *const *in)
{
    Pool p = pool_of(n, in[0]);
    float share = 1.0f / (float)(p.KH * p.KW);
    for (size_t k = 0; k < n->size; k++) {
        size_t first = window_start(&p, k);
        float g = n->grad[k] * share;
        for (size_t u = 0; u < p.KH; u++)
            for (size_t v = 0; v < p.KW; v++) in[0]->grad[first + u * p.W + v] += g;
    }
}

/* ---- layer normalisation ----------------------------------------------------------------------
 * Per example (a row of D elements): mean m and variance v (biased) in double, r = 1/sqrt(v +
 * eps), x̂ = (x − m)·r (kept in aux for backward), y = x̂·W + b. The gradient: ∂b += g,
 * ∂W += g·x̂, and with ĝ = g·W, ∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)): the three paths to each
 * input, directly, through the mean and through the variance. */

bool shape_layernorm(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)at;
    const Shape *x = &in[0], *w = &in[1], *b = &in[2];
    bool fits = w->rank >= 1 && w->rank <= x->rank && shape_eq(w, b);
    for (int d = 0; fits && d < w->rank; d++) fits = w->dim[d] == x->dim[x->rank - w->rank + d];
    if (!fits) {
        char a[64], c[64], e[64];
        sb_printf(err, "'%s' needs a weight and a bias of the shape of one example, the last "
                  "dims of x: x is %s, the weight %s, the bias %s", op->name,
                  shape_str(x, a, sizeof a), shape_str(w, c, sizeof c), shape_str(b, e, sizeof e));
        return false;
    }
    *out = *x;
    return true;
}

/* The mean and 1/sqrt(variance + eps) of the row x[0 .. d). */
static void row_stats(const float *x, size_t d, double *mean, double *rstd)
{
    double sum = 0, ss = 0;
    for (size_t i = 0; i < d; i++) sum += x[i];
    *mean = sum / (double)d;
    for (size_t i = 0; i < d; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *rstd = 1.0 / sqrt(ss / (double)d + LAYERNORM_EPS);
}

void fwd_layernorm(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    size_t d = in[1]->size, rows = n->size / d;
    const float *w = in[1]->value, *b = in[2]->value;
    for (size_t r = 0; r < rows; r++) {
        const float *x = in[0]->value + r * d;
        float *xh = n->aux + r * d, *y = n->value + r * d;
        double mean, rstd;
        row_stats(x, d, &mean, &rstd);
        for (size_t i = 0; i < d; i++) {
            xh[i] = (float)((x[i] - mean) * rstd);
            y[i] = xh[i] * w[i] + b[i];
        }
    }
}

void bwd_layernorm(GraphNode *n, GraphNode *const *in)
{
    size_t d = in[1]->size, rows = n->size / d;
    const float *w = in[1]->value;
    for (size_t r = 0; r < rows; r++) {
        const float *g = n->grad + r * d, *xh = n->aux + r * d;
        if (in[2]->requires_grad)
            for (size_t i = 0; i < d; i++) in[2]->grad[i] += g[i];
        if (in[1]->requires_grad)
            for (size_t i = 0; i < d; i++) in[1]->grad[i] += g[i] * xh[i];
        if (!in[0]->requires_grad) continue;
        double mean, rstd, mg = 0, mgx = 0;
        row_stats(in[0]->value + r * d, d, &mean, &rstd);
        for (size_t i = 0; i < d; i++) {
            double gh = (double)g[i] * w[i];
            mg += gh;
            mgx += gh * xh[i];
        }
        mg /= (double)d;
        mgx /= (double)d;
        float *gx = in[0]->grad + r * d;
        for (size_t i = 0; i < d; i++)
            gx[i] += (float)(rstd * ((double)g[i] * w[i] - mg - xh[i] * mgx));
    }
}

/* ---- batch normalisation ----------------------------------------------------------------------
 * x is [N, C] or [N, C, ...]: channel c's values are x[n, c, s] for every example n and every
 * s of the S = size / (N·C) positions after the channel axis, m = N·S of them. Training: the
 * channel's mean μ and (biased) variance σ² in double, r = 1/sqrt(σ² + eps), x̂ = (x − μ)·r
 * (kept in aux for backward), y = x̂·W[c] + b[c]; and the running statistics (inputs 3 and 4,
 * buffers) move to (1 − momentum)·running + momentum·batch, with the unbiased variance
 * σ²·m/(m − 1), as torch.nn.BatchNorm2d does. The gradient is layernorm's, per channel: ∂b += Σg,
 * ∂W += Σg·x̂, ∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·W[c]. Evaluation uses the running
 * statistics, constants: y = (x − rm)·rr·W + b with rr = 1/sqrt(rv + eps). */

bool shape_batchnorm(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    (void)at;
    const Shape *x = &in[0];
    bool fits = x->rank >= 2;
    for (int i = 1; fits && i < 5; i++) fits = in[i].rank == 1 && in[i].dim[0] == x->dim[1];
    if (!fits) {
        char a[64], c[64];
        sb_printf(err, "'%s' needs a batch [N, C, ...] and a weight, a bias and running "
                  "statistics of [C]: x is %s, the weight %s", op->name,
                  shape_str(x, a, sizeof a), shape_str(&in[1], c, sizeof c));
        return false;
    }
    *out = *x;
    return true;
}

/* How the elements of a batch fall into channels. */
typedef struct Channels {
    size_t N, C, S;     /* examples, channels, positions per channel and example */
} Channels;

static Channels channels_of(const GraphNode *x)
{
    Channels ch = { (size_t)x->shape.dim[0], (size_t)x->shape.dim[1], 0 };
    ch.S = ch.N > 0 && ch.C > 0 ? x->size / (ch.N * ch.C) : 0;
    return ch;
}

/* Every element `at` of channel c: the S positions of each example in turn. */
#define EACH_OF_CHANNEL(ch, c, at)                                                               \
    for (size_t ex_ = 0; ex_ < (ch).N; ex_++)                                                    \
        for (size_t at = (ex_ * (ch).C + (c)) * (ch).S, end_ = at + (ch).S; at < end_; at++)

void batchnorm_stats(const GraphNode *x, size_t c, double *mean, double *var)
{
    Channels ch = channels_of(x);
    size_t m = ch.N * ch.S;
    double sum = 0, ss = 0;
    EACH_OF_CHANNEL(ch, c, at) sum += x->value[at];
    *mean = m ? sum / (double)m : 0;
    EACH_OF_CHANNEL(ch, c, at) {
        double d = x->value[at] - *mean;
        ss += d * d;
    }
    *var = m ? ss / (double)m : 0;
}

void fwd_batchnorm(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    Channels ch = channels_of(in[0]);
    size_t m = ch.N * ch.S;
    float *rm = in[3]->value, *rv = in[4]->value;
    for (size_t c = 0; c < ch.C; c++) {
        double mean, var;
        batchnorm_stats(in[0], c, &mean, &var);
        double r = 1.0 / sqrt(var + BATCHNORM_EPS);
        float w = in[1]->value[c], b = in[2]->value[c];
        EACH_OF_CHANNEL(ch, c, at) {
            n->aux[at] = (float)((in[0]->value[at] - mean) * r);
            n->value[at] = n->aux[at] * w + b;
        }
        double unbiased = m > 1 ? var * (double)m / (double)(m - 1) : var;
        rm[c] = (float)((1 - BATCHNORM_MOMENTUM) * rm[c] + BATCHNORM_MOMENTUM * mean);
        rv[c] = (float)((1 - BATCHNORM_MOMENTUM) * rv[c] + BATCHNORM_MOMENTUM * unbiased);
    }
}

void bwd_batchnorm(GraphNode *n, GraphNode *const *in)
{
    Channels ch = channels_of(in[0]);
    size_t m = ch.N * ch.S;
    for (size_t c = 0; c < ch.C && m; c++) {
        double sg = 0, sgx = 0;
        EACH_OF_CHANNEL(ch, c, at) {
            sg += n->grad[at];
            sgx += (double)n->grad[at] * n->aux[at];
        }
        if (in[2]->requires_grad) in[2]->grad[c] += (float)sg;
        if (in[1]->requires_grad) in[1]->grad[c] += (float)sgx;
        if (!in[0]->requires_grad) continue;
        double mean, var, w = in[1]->value[c];
        batchnorm_stats(in[0], c, &mean, &var);
        double r = 1.0 / sqrt(var + BATCHNORM_EPS);
        double mg = sg * w / (double)m, mgx = sgx * w / (double)m;
        EACH_OF_CHANNEL(ch, c, at)
            in[0]->grad[at] += (float)(r * (n->grad[at] * w - mg - n->aux[at] * mgx));
    }
}

void fwd_batchnorm_eval(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    Channels ch = channels_of(in[0]);
    for (size_t c = 0; c < ch.C; c++) {
        double rr = 1.0 / sqrt((double)in[4]->value[c] + BATCHNORM_EPS);
        double mean = in[3]->value[c], w = in[1]->value[c], b = in[2]->value[c];
        EACH_OF_CHANNEL(ch, c, at)
            n->value[at] = (float)((in[0]->value[at] - mean) * rr * w + b);
    }
}

void bwd_batchnorm_eval(GraphNode *n, GraphNode *const *in)
{
    Channels ch = channels_of(in[0]);
    for (size_t c = 0; c < ch.C; c++) {
        double rr = 1.0 / sqrt((double)in[4]->value[c] + BATCHNORM_EPS);
        double mean = in[3]->value[c], w = in[1]->value[c], sg = 0, sgx = 0;
        EACH_OF_CHANNEL(ch, c, at) {
            double g = n->grad[at];
            sg += g;
            sgx += g * (in[0]->value[at] - mean) * rr;
            if (in[0]->requires_grad) in[0]->grad[at] += (float)(g * w * rr);
        }
        if (in[2]->requires_grad) in[2]->grad[c] += (float)sg;
        if (in[1]->requires_grad) in[1]->grad[c] += (float)sgx;
    }
}
