/* tensor.c — shape arithmetic and printing of values. */
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

Shape shape_scalar(void)
{
    Shape s;
    memset(&s, 0, sizeof s);
    return s;
}

bool shape_broadcast(const Shape *a, const Shape *b, Shape *out)
{
    Shape r = shape_scalar();
    r.rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r.rank; i++) {
        int ai = a->rank - r.rank + i, bi = b->rank - r.rank + i;
        int da = ai >= 0 ? a->dim[ai] : 1;
        int db = bi >= 0 ? b->dim[bi] : 1;
        if (da != db && da != 1 && db != 1) return false;
        r.dim[i] = da == 1 ? db : da;
    }
    *out = r;
    return true;
}

void shape_bcast_strides(const Shape *in, const Shape *out, size_t *strides)
{
    size_t stride = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        int ii = in->rank - out->rank + i;
        if (ii < 0 || in->dim[ii] == 1) {
            strides[i] = 0;
        } else {
            strides[i] = stride;
        }
        if (ii >= 0) stride *= (size_t)in->dim[ii];
    }
}

void shape_format(const Shape *s, StrBuf *sb)
{
    sb_putc(sb, '[');
    for (int i = 0; i < s->rank; i++) sb_printf(sb, i ? ",%d" : "%d", s->dim[i]);
    sb_putc(sb, ']');
}

const char *shape_str(const Shape *s, char *buf, size_t len)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, len - n, "[");
    for (int i = 0; i < s->rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ",%d" : "%d", s->dim[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
    return buf;
}

const char *fmt_num(double v, char buf[32])
{
    if (isnan(v)) return strcpy(buf, "nan");
    if (isinf(v)) return strcpy(buf, v > 0 ? "inf" : "-inf");
    if (v == 0) return strcpy(buf, "0");
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

/* ---- printing tensors ------------------------------------------------------------------ */

#define PRINT_THRESHOLD 1000
#define PRINT_EDGE 3

typedef struct Printer {
    const float *data;
    const Shape *s;
    StrBuf *sb;
    int width;          /* every number is right-aligned to this width */
    bool elide;
    int indent;
} Printer;

static bool shown(const Printer *p, int d, int i)
{
    int n = p->s->dim[d];
    return !p->elide || n <= 2 * PRINT_EDGE || i < PRINT_EDGE || i >= n - PRINT_EDGE;
}

static void print_rec(Printer *p, int d, size_t offset, size_t stride_from_d)
{
    const Shape *s = p->s;
    int n = s->dim[d];
    size_t stride = stride_from_d / (size_t)n;
    sb_putc(p->sb, '[');
    bool gap_done = false;
    for (int i = 0; i < n; i++) {
        if (!shown(p, d, i)) {
            if (!gap_done) {
                sb_puts(p->sb, d == s->rank - 1 ? "..., " : "...,");
                if (d != s->rank - 1) {
                    sb_putc(p->sb, '\n');
                    for (int k = 0; k < p->indent + d + 1; k++) sb_putc(p->sb, ' ');
                }
                gap_done = true;
            }
            continue;
        }
        if (d == s->rank - 1) {
            char buf[32];
            fmt_num(p->data[offset + (size_t)i], buf);
            sb_printf(p->sb, "%*s", p->width, buf);
        } else {
            print_rec(p, d + 1, offset + (size_t)i * stride, stride);
        }
        if (i + 1 < n) {
            sb_putc(p->sb, ',');
            if (d == s->rank - 1) {
                sb_putc(p->sb, ' ');
            } else {
                for (int k = d; k < s->rank - 1; k++) sb_putc(p->sb, '\n');
                for (int k = 0; k < p->indent + d + 1; k++) sb_putc(p->sb, ' ');
            }
        }
    }
    sb_putc(p->sb, ']');
}

void tensor_format(const float *data, const Shape *s, StrBuf *sb, int indent)
{
    char buf[32];
    if (s->rank == 0) {
        sb_puts(sb, fmt_num(data[0], buf));
        return;
    }
    size_t n = shape_size(s);
    if (n == 0) {
        sb_puts(sb, "[]");
        return;
    }
    Printer p = { data, s, sb, 0, n > PRINT_THRESHOLD, indent };
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(fmt_num(data[i], buf));
        if (w > p.width) p.width = w;
    }
    print_rec(&p, 0, 0, n);
}

TensorStats tensor_stats(const float *data, size_t n)
{
    TensorStats st = { 0, INFINITY, -INFINITY, 0 };
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        double v = data[i];
        sum += v;
        sq += v * v;
        if (v < st.min) st.min = v;
        if (v > st.max) st.max = v;
    }
    st.mean = n ? sum / (double)n : 0;
    st.norm = sqrt(sq);
    return st;
}

double tensor_sum_squares(const float *x, size_t n)
{
    double acc[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++) acc[0] += (double)x[i] * x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

long tensor_find_nonfinite(const float *data, size_t n)
{
    /* every pass checks every value: first a branch-free scan the compiler vectorises, then,
     * only if it finds one, where. inf and NaN are the magnitudes above FLT_MAX's bits
     * 0x7f7fffff, so FLT_MAX - |x| (as unsigned integers) wraps around and sets the top bit
     * exactly for them: a subtraction, a shift and an or per value, all in SSE2 (an unsigned
     * maximum is not, and compiled to a chain of masks three times slower) */
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &data[i], sizeof bits);
        bad |= (0x7f7fffffu - (bits & 0x7fffffffu)) >> 31;
    }
    if (!bad) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i])) return (long)i;
    return -1;
}
