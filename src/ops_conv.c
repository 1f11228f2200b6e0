/* ops_conv.c — convolution and pooling over a batch of images [N, C, H, W] (ops_conv.h).
 *
 * conv2d(x, W, b): out[n,o,i,j] = b[o] + Σ_c Σ_u Σ_v W[o,c,u,v] × x[n,c, i·s + u − p, j·s + v − p]
 * (x is 0 outside the image: zero padding p; stride s). For each image the sums are one matrix
 * product W[O, C·KH·KW] @ cols[C·KH·KW, OH·OW], cols being the matrix of its receptive fields
 * ("im2col": a column per output pixel, a row per weight), through the kernels every product
 * uses. The gradient is products too: ∂W += ∂out @ colsᵀ, ∂cols = Wᵀ @ ∂out, folded back onto
 * the image (each input pixel gets the sum over the windows that saw it). cols is never stored:
 * the products' packing step copies the windows from the image straight into the panels it
 * computes from (kern_matmul_fill, fill_cols and fill_cols_t below), so each window element is
 * copied once, where an unfolded matrix cost a copy into it and a copy out of it.
 *
 * maxpool2d passes each window's largest value, and its gradient to that element alone (the
 * first of equal ones, as PyTorch); avgpool2d passes the mean, and a 1/(KH·KW) share of the
 * gradient to every element of the window. Pools have no padding: windows lie inside. */
#include "ops_conv.h"

#include "graph.h"
#include "fpmode.h"
#include "kernels.h"
#include "pool.h"

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

Shape conv_view(const Shape *s)
{
    if (s->rank != 3) return *s;
    Shape v = *s;           /* [N, C, L] as [N, C, 1, L]; a weight [O, C, K] as [O, C, 1, K] */
    v.rank = 4;
    v.dim[3] = s->dim[2];
    v.dim[2] = 1;
    return v;
}

bool shape_conv2d(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    const Shape *b = &in[2];
    bool seq = in[0].rank == 3;     /* a batch of sequences: conv1d */
    Shape xv = conv_view(&in[0]), wv = conv_view(&in[1]);
    const Shape *x = &xv, *w = &wv;
    char a[64], c[64];
    if (!seq && !image_batch(op, x, err)) return false;
    if (in[1].rank != in[0].rank || w->dim[1] != x->dim[1]) {
        sb_printf(err, "'%s' needs a weight [out channels, %d, %s] for %s of %d channel%s, but "
                  "this has shape %s", op->name, x->dim[1], seq ? "K" : "KH, KW",
                  seq ? "sequences" : "images", x->dim[1], x->dim[1] == 1 ? "" : "s",
                  shape_str(&in[1], a, sizeof a));
        return false;
    }
    if (b->rank != 1 || b->dim[0] != w->dim[0]) {
        sb_printf(err, "'%s' needs a bias [%d], one per output channel, but this has shape %s "
                  "(the weight is %s)", op->name, w->dim[0], shape_str(b, a, sizeof a),
                  shape_str(&in[1], c, sizeof c));
        return false;
    }
    if (seq) {              /* along the sequence only: its one-pixel height has no steps */
        at->stride[0] = 1;
        at->pad[0] = 0;
    }
    at->kernel[0] = w->dim[2];
    at->kernel[1] = w->dim[3];
    if (!windows(op, x, at, w->dim[0], out, err)) return false;
    /* one image's unfolded windows (the input gradient's scratch): C·KH·KW rows of OH·OW */
    double cells = (double)x->dim[1] * w->dim[2] * w->dim[3] * out->dim[2] * out->dim[3];
    if (cells > CONV_MAX_SCRATCH) {
        sb_printf(err, "'%s' of these images would unfold each into %.0f numbers (its windows "
                  "side by side), more than nn's limit of %.0f; use a smaller kernel or image, "
                  "or a stride", op->name, cells, (double)CONV_MAX_SCRATCH);
        return false;
    }
    if (seq) {              /* [N, O, 1, L'] as [N, O, L'] */
        out->rank = 3;
        out->dim[2] = out->dim[3];
        out->dim[3] = 0;
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
    Shape xs = conv_view(&x->shape), ws = conv_view(&w->shape), ns = conv_view(&n->shape);
    Conv c = {
        (size_t)xs.dim[0], (size_t)xs.dim[1], (size_t)xs.dim[2], (size_t)xs.dim[3],
        (size_t)ws.dim[0], (size_t)ws.dim[2], (size_t)ws.dim[3], (size_t)ns.dim[2],
        (size_t)ns.dim[3],
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
    long s = (long)c->SW;   /* 1 mostly: no division then (this runs for every row of cols) */
    long first = lo <= 0 ? 0 : s == 1 ? lo : (lo + s - 1) / s;
    long end = hi <= 0 ? 0 : s == 1 ? hi : (hi + s - 1) / s;
    *j0 = (size_t)(first < (long)c->OW ? first : (long)c->OW);
    *j1 = (size_t)(end < (long)c->OW ? end : (long)c->OW);
    if (*j1 < *j0) *j1 = *j0;
}

/* dst[0 .. n) <- src[0 .. n) and zeros, for the short runs of a convolution's windows: in
 * blocks of constant size, which the compiler turns into a few moves, where memcpy and memset
 * would be a library call each (most runs are 5 to 30 floats). */
static inline void copy_run(float *dst, const float *src, size_t n)
{
    for (; n >= 8; n -= 8, dst += 8, src += 8) memcpy(dst, src, 8 * sizeof *dst);
    if (n >= 4) memcpy(dst, src, 4 * sizeof *dst), n -= 4, dst += 4, src += 4;
    /* not a loop, which gcc would turn back into a call of memcpy */
    if (n >= 1) dst[0] = src[0];
    if (n >= 2) dst[1] = src[1];
    if (n >= 3) dst[2] = src[2];
}

static inline void zero_run(float *dst, size_t n)
{
    static const float zeros[8];
    for (; n >= 8; n -= 8, dst += 8) memcpy(dst, zeros, sizeof zeros);
    if (n >= 4) memcpy(dst, zeros, 4 * sizeof *dst), n -= 4, dst += 4;
    if (n >= 1) dst[0] = 0;
    if (n >= 2) dst[1] = 0;
    if (n >= 3) dst[2] = 0;
}

/* (c, u, v) <- the next element of a window, in the order of W's dims: no division per step. */
static inline void next_weight(const Conv *c, size_t *ch, size_t *u, size_t *v)
{
    if (++*v < c->KW) return;
    *v = 0;
    if (++*u < c->KH) return;
    *u = 0;
    ++*ch;
}

/* One image's windows made on the fly for kern_matmul_fill, straight into the panels the
 * product reads (no unfolded matrix in between): as columns (cols[K, P], forward) or as rows
 * (cols^T [P, K], the weight's gradient). Without padding and with stride 1 (`plain`), the
 * element (c, u, v) of the window at output pixel (i, j) is x[c·H·W + u·W + v + i·W + j]: a
 * weight offset plus a pixel offset; otherwise window_at reads it with its bounds. */
typedef struct Windows {
    const Conv *c;
    const float *x;     /* the image [C, H, W] */
    size_t readable;    /* floats that may be read from x on: to the end of the batch */
    bool padded;        /* some window reaches into the padding */
} Windows;

/* Image s of the batch x. */
static Windows windows_of(const Conv *c, const float *x, size_t s)
{
    size_t image = c->C * c->H * c->W;
    Windows w = { c, x + s * image, (c->N - s) * image, c->PH > 0 || c->PW > 0 };
    return w;
}

/* dst[0 .. n) <- src[0 .. n) for the runs of a window's row (n = KW mostly, 1 to 7): one move of
 * constant size each. */
static inline void copy_short(float *dst, const float *src, size_t n)
{
    switch (n) {
    case 1: memcpy(dst, src, 1 * sizeof *dst); break;
    case 2: memcpy(dst, src, 2 * sizeof *dst); break;
    case 3: memcpy(dst, src, 3 * sizeof *dst); break;
    case 4: memcpy(dst, src, 4 * sizeof *dst); break;
    case 5: memcpy(dst, src, 5 * sizeof *dst); break;
    case 6: memcpy(dst, src, 6 * sizeof *dst); break;
    case 7: memcpy(dst, src, 7 * sizeof *dst); break;
    default: copy_run(dst, src, n);
    }
}

/* Element v of the windows at output columns a .. a + n − 1 of one input row `line`: zeros
 * outside the columns lo .. hi − 1 whose element lies inside the row (the padding), the
 * pixels j·s + v − p inside. */
static void padded_run(const Conv *c, const float *line, size_t v, size_t a, size_t n,
                       size_t lo, size_t hi, float *dst)
{
    size_t e = a + n, b0 = lo < a ? a : lo > e ? e : lo, b1 = hi < b0 ? b0 : hi > e ? e : hi;
    zero_run(dst, b0 - a);
    if (b1 > b0) {
        const float *src = line + (b0 * c->SW + v - c->PW);
        if (c->SW == 1) copy_run(dst + b0 - a, src, b1 - b0);
        else
            for (size_t jj = 0; jj < b1 - b0; jj++) dst[b0 - a + jj] = src[jj * c->SW];
    }
    zero_run(dst + b1 - a, e - b1);
}

/* KernFillB for cols[K, P]: B[t, q] = element t = (c, u, v) of the window at pixel q = (i, j).
 * A panel's nr pixels fall into runs along output rows; a run reads a stretch of one input row
 * (contiguous at stride 1), with zeros where it lies in the padding: per row of B (t), a copy
 * per run. */
static void fill_cols(void *ctx, float *dst, size_t p0, size_t kc, size_t j0, size_t nc,
                      size_t nr)
{
    const Windows *w = ctx;
    const Conv *c = w->c;
    NN_ASSERT(nr <= 32);    /* the runs' tables below (kernels.h: nr <= 32) */
    for (size_t q0 = 0; q0 < nc; q0 += nr, dst += kc * nr) {
        size_t width = nc - q0 < nr ? nc - q0 : nr;
        size_t runs = 0, at[32], len[32], row[32], col[32], off[32];
        for (size_t q = j0 + q0, end = q + width; q < end; runs++) {
            size_t i = q / c->OW, j = q % c->OW, n = c->OW - j < end - q ? c->OW - j : end - q;
            at[runs] = q - j0 - q0;
            len[runs] = n;
            row[runs] = i;
            col[runs] = j;
            off[runs] = i * c->SH * c->W + j;   /* for `plain` */
            q += n;
        }
        const bool plain = !w->padded && c->SW == 1;   /* the common case, without bounds */
        size_t v = p0 % c->KW, u = p0 / c->KW % c->KH, ch = p0 / (c->KW * c->KH);
        for (size_t p = 0; p < kc; p++, next_weight(c, &ch, &u, &v)) {
            float *d = dst + p * nr;
            const float *plane = w->x + ch * c->H * c->W;
            if (plain) {
                const float *x = plane + u * c->W + v;
                for (size_t r = 0; r < runs; r++) copy_run(d + at[r], x + off[r], len[r]);
                zero_run(d + width, nr - width);
                continue;
            }
            size_t lo, hi;      /* the output columns whose element v is inside the row */
            inside(c, v, &lo, &hi);
            for (size_t r = 0; r < runs; r++) {
                long y = at_in(row[r], u, c->SH, c->PH, c->H);
                if (y < 0) zero_run(d + at[r], len[r]);
                else padded_run(c, plane + (size_t)y * c->W, v, col[r], len[r], lo, hi,
                                d + at[r]);
            }
            zero_run(d + width, nr - width);
        }
    }
}

/* KernFillB for cols^T [P, K]: B[q, t] = element t = (c, u, v) of the window at pixel q. A
 * panel's nr elements fall into runs along the window's rows (v = 0 .. KW − 1), each a stretch
 * of an input row whatever the stride: per row of B (pixel), a copy per run, with zeros where
 * it lies in the padding. Without padding, a run of at most 8 is copied as 8 floats where both
 * sides have room (`wide`): the next run, or the zeros after the last, overwrite the rest, so
 * each run is one move of constant size. */
static void fill_cols_t(void *ctx, float *dst, size_t p0, size_t kc, size_t j0, size_t nc,
                        size_t nr)
{
    const Windows *w = ctx;
    const Conv *c = w->c;
    NN_ASSERT(nr <= 32);    /* the runs' tables below (kernels.h: nr <= 32) */
    for (size_t t0 = 0; t0 < nc; t0 += nr, dst += kc * nr) {
        size_t width = nc - t0 < nr ? nc - t0 : nr;
        size_t runs = 0, at[32], len[32], off[32], wu[32], wv[32];
        bool wide[32];
        size_t last = p0 + kc - 1;
        size_t last_base = last / c->OW * c->SH * c->W + last % c->OW * c->SW;
        for (size_t t = j0 + t0, end = t + width; t < end; runs++) {
            size_t v = t % c->KW, u = t / c->KW % c->KH, ch = t / (c->KW * c->KH);
            size_t n = c->KW - v < end - t ? c->KW - v : end - t;
            at[runs] = t - j0 - t0;
            len[runs] = n;
            off[runs] = (ch * c->H + u) * c->W + v;
            wu[runs] = u;
            wv[runs] = v;
            wide[runs] = n <= 8 && at[runs] + 8 <= nr && last_base + off[runs] + 8 <= w->readable;
            t += n;
        }
        size_t i = p0 / c->OW, j = p0 % c->OW;
        for (size_t p = 0; p < kc; p++) {
            float *d = dst + p * nr;
            if (!w->padded) {
                const float *x = w->x + i * c->SH * c->W + j * c->SW;
                for (size_t r = 0; r < runs; r++)
                    if (wide[r]) memcpy(d + at[r], x + off[r], 8 * sizeof *d);
                    else copy_short(d + at[r], x + off[r], len[r]);
            } else {
                for (size_t r = 0; r < runs; r++) {
                    float *dr = d + at[r];
                    long y = at_in(i, wu[r], c->SH, c->PH, c->H);
                    long s = (long)(j * c->SW + wv[r]) - (long)c->PW;   /* the run's 1st column */
                    long n = (long)len[r];
                    long a = s < 0 ? (-s < n ? -s : n) : 0;
                    long b = s + n > (long)c->W ? (long)c->W - s : n;
                    if (y < 0 || b <= a) {
                        zero_run(dr, len[r]);
                        continue;
                    }
                    /* off[r] is the run's first element at pixel (0, 0) without padding */
                    const float *src = w->x + off[r] - wu[r] * c->W - wv[r] + (size_t)y * c->W;
                    zero_run(dr, (size_t)a);
                    copy_short(dr + a, src + (s + a), (size_t)(b - a));
                    zero_run(dr + b, (size_t)(n - b));
                }
            }
            zero_run(d + width, nr - width);
            if (++j == c->OW) j = 0, i++;
        }
    }
}

/* dst[0 .. n) += src[0 .. n): vectorised (the caller's arrays never overlap). */
static inline void add_run(float *restrict dst, const float *restrict src, size_t n)
{
    for (size_t j = 0; j < n; j++) dst[j] += src[j];
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
                    if (c->SW == 1)
                        add_run(dst + q0, src + j0, j1 - j0);
                    else
                        for (size_t j = j0; j < j1; j++) dst[q0 + (j - j0) * c->SW] += src[j];
                }
            }
}

/* ---- convolution on threads ----------------------------------------------------------------
 * The images of a batch are independent in the forward pass and in the input's gradient, so
 * their work is cut by images; the weight's gradient sums over the images, one chain per
 * element in the order of the images, so it is cut by columns of ∂W [O, K] (the weights of
 * one input channel and kernel position), each part going through every image. Either way every element is computed as on one thread: the bits do not
 * depend on the number of threads. Parts run in the caller's floating-point mode. */

/* Convolutions with fewer multiply-adds than this run on the calling thread (the product's
 * threshold, kernels.c: about 20 us of work a thread). */
#define CONV_THREAD_WORK ((size_t)1 << 20)

typedef struct ConvJob {
    Conv c;
    FpMode fp;
    GraphNode *n;
    GraphNode *const *in;
    size_t units;       /* images, or columns of ∂W */
    int parts;
    float *scratch;     /* ∂cols [K, P] for each part (the input's gradient) */
} ConvJob;

/* Part q of a job's units: [*lo, *hi). */
static void part_range(const ConvJob *j, int q, size_t *lo, size_t *hi)
{
    *lo = j->units * (size_t)q / (size_t)j->parts;
    *hi = j->units * (size_t)(q + 1) / (size_t)j->parts;
}

/* The threads a convolution may use: kern_set_threads's number (kernels.h), or 1 when it is
 * small. */
static int conv_threads(const Conv *c)
{
    return (double)c->N * c->O * c->K * c->P < (double)CONV_THREAD_WORK ? 1 : kern_threads();
}

/* Cuts the job's units into parts: 1 on one thread, else per_thread a thread (fewer if there
 * are fewer units). */
static void conv_parts(ConvJob *j, size_t units, int per_thread)
{
    int threads = conv_threads(&j->c);
    size_t parts = threads <= 1 ? 1 : (size_t)threads * (size_t)per_thread;
    j->units = units;
    j->parts = (int)(parts < units ? parts : units > 0 ? units : 1);
}

/* Runs task over the job's parts on the pool's threads, or in order on the caller. */
static void conv_run(ConvJob *j, PoolTask task)
{
    int threads = conv_threads(&j->c);
    j->fp = fp_mode_get();
    if (threads <= 1 || j->parts <= 1)
        for (int q = 0; q < j->parts; q++) task(j, q);
    else
        pool_run(threads, kern_worker_stack_bytes(), task, j, j->parts);
}

/* PoolTask: the forward pass of part q's images. */
static void conv_forward_part(void *ctx, int q)
{
    const ConvJob *j = ctx;
    const Conv *c = &j->c;
    const FpMode own = fp_mode_get();
    fp_mode_set(j->fp);
    size_t lo, hi;
    part_range(j, q, &lo, &hi);
    const float *bias = j->in[2]->value;
    for (size_t s = lo; s < hi; s++) {
        float *out = j->n->value + s * c->O * c->P;
        Windows w = windows_of(c, j->in[0]->value, s);
        kern_matmul_fill(j->in[1]->value, fill_cols, &w, 0, out, c->P, c->O, c->K, c->P,
                         false);
        for (size_t o = 0; o < c->O; o++)
            for (size_t p = 0; p < c->P; p++) out[o * c->P + p] += bias[o];
    }
    fp_mode_set(own);
}

void fwd_conv2d(GraphNode *n, GraphNode *const *in, Rng *rng)
{
    (void)rng;
    ConvJob j = { .c = conv_of(n, in[0], in[1]), .n = n, .in = in };
    conv_parts(&j, j.c.N, 2);
    conv_run(&j, conv_forward_part);
}

/* db[o] += Σ_p g[o, p], each sum in double in the order of p: channels BIAS_LANES at a time,
 * so that their chains of additions overlap instead of waiting for each other. */
#define BIAS_LANES 8
static void bias_grad(const float *g, float *db, size_t O, size_t P)
{
    for (size_t o0 = 0; o0 < O; o0 += BIAS_LANES) {
        size_t lanes = O - o0 < BIAS_LANES ? O - o0 : BIAS_LANES;
        double sum[BIAS_LANES] = { 0 };
        if (lanes == BIAS_LANES)
            for (size_t p = 0; p < P; p++)
                for (size_t l = 0; l < BIAS_LANES; l++) sum[l] += g[(o0 + l) * P + p];
        else
            for (size_t p = 0; p < P; p++)
                for (size_t l = 0; l < lanes; l++) sum[l] += g[(o0 + l) * P + p];
        for (size_t l = 0; l < lanes; l++) db[o0 + l] += (float)sum[l];
    }
}

/* PoolTask: the input's gradient of part q's images, ∂cols = Wᵀ @ ∂out folded back. */
static void conv_input_grad_part(void *ctx, int q)
{
    const ConvJob *j = ctx;
    const Conv *c = &j->c;
    const FpMode own = fp_mode_get();
    fp_mode_set(j->fp);
    size_t lo, hi;
    part_range(j, q, &lo, &hi);
    float *dcols = j->scratch + (size_t)q * c->K * c->P;
    for (size_t s = lo; s < hi; s++) {
        kern_matmul_at(j->in[1]->value, j->n->grad + s * c->O * c->P, dcols, c->K, c->O, c->P,
                       false);
        col2im_add(c, dcols, j->in[0]->grad + s * c->C * c->H * c->W);
    }
    fp_mode_set(own);
}

/* PoolTask: columns [t0, t1) of ∂W [O, K], image after image: ∂W += ∂out @ colsᵀ, colsᵀ made by
 * fill_cols_t straight into the product's panels (the same chains as the product on a stored
 * colsᵀ). Part 0 also adds the bias's gradient, image after image as on one thread. */
static void conv_weight_grad_part(void *ctx, int q)
{
    const ConvJob *j = ctx;
    const Conv *c = &j->c;
    const FpMode own = fp_mode_get();
    fp_mode_set(j->fp);
    size_t t0, t1;
    part_range(j, q, &t0, &t1);
    const bool bias = q == 0 && j->in[2]->requires_grad;
    for (size_t s = 0; s < c->N && t0 < t1; s++) {
        if (bias)   /* here, in the order of the images, while ∂out's image is in cache */
            bias_grad(j->n->grad + s * c->O * c->P, j->in[2]->grad, c->O, c->P);
        Windows w = windows_of(c, j->in[0]->value, s);
        kern_matmul_fill(j->n->grad + s * c->O * c->P, fill_cols_t, &w, t0,
                         j->in[1]->grad + t0, c->K, c->O, c->P, t1 - t0, true);
    }
    fp_mode_set(own);
}

void bwd_conv2d(GraphNode *n, GraphNode *const *in)
{
    ConvJob j = { .c = conv_of(n, in[0], in[1]), .n = n, .in = in };
    const Conv *c = &j.c;
    if (in[1]->requires_grad) {
        conv_parts(&j, c->K, 1);
        conv_run(&j, conv_weight_grad_part);
    }
    if (in[2]->requires_grad && !in[1]->requires_grad)   /* else with part 0 of ∂W */
        for (size_t s = 0; s < c->N; s++)
            bias_grad(n->grad + s * c->O * c->P, in[2]->grad, c->O, c->P);
    if (in[0]->requires_grad) {
        conv_parts(&j, c->N, 2);
        size_t cells = (size_t)j.parts * c->K * c->P;
        j.scratch = nn_alloc((cells > 0 ? cells : 1) * sizeof *j.scratch);
        conv_run(&j, conv_input_grad_part);
        nn_free(j.scratch);
    }
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
    const float *g = n->grad, *where = n->aux;
    size_t k = 0;
    for (size_t plane = 0; plane < p.planes; plane++)
        for (size_t i = 0; i < p.OH; i++) {
            float *row = in[0]->grad + (plane * p.H + i * p.SH) * p.W;
            for (size_t j = 0; j < p.OW; j++, k++) {
                size_t at = (size_t)where[k], u = at / p.KW, v = at % p.KW;
                row[j * p.SW + u * p.W + v] += g[k];
            }
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
