/* tensor.h — shapes, float32 tensors, broadcasting, and the one number formatter. */
#ifndef NN_TENSOR_H
#define NN_TENSOR_H

#include "common.h"
#include "strbuf.h"

#define NN_MAX_RANK 6

/* A static shape. rank 0 is a scalar (one element). */
typedef struct Shape {
    int rank;
    int dim[NN_MAX_RANK];
} Shape;

typedef struct Tensor {
    Shape shape;
    float *data;        /* shape_size(&shape) floats; ownership is the holder's */
} Tensor;

static inline size_t shape_size(const Shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= (size_t)s->dim[i];
    return n;
}

Shape shape_scalar(void);
static inline bool shape_eq(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i]) return false;
    return true;
}
/* NumPy broadcasting: align on the right, sizes must match or be 1. False if incompatible. */
bool shape_broadcast(const Shape *a, const Shape *b, Shape *out);
/* Element strides of `in` seen as a tensor of shape `out` (0 along broadcast dimensions).
 * `strides` has out->rank entries. */
void shape_bcast_strides(const Shape *in, const Shape *out, size_t *strides);
/* "[4,3]"; a scalar is "[]". */
void shape_format(const Shape *s, StrBuf *sb);
const char *shape_str(const Shape *s, char *buf, size_t len);

/* Formats one number the one way nn prints numbers: 6 significant digits (float32 carries
 * about 7.2, so a 7th digit would show rounding noise), no trailing zeros,
 * "inf", "-inf", "nan"; -0 prints as 0. Returns buf. */
const char *fmt_num(double v, char buf[32]);

/* Prints a tensor's values NumPy-style: scalars bare, 1-D "[1, 2]", 2-D one row per line with
 * columns aligned; tensors over 1000 elements elide the middle of long dimensions. `indent`
 * is the column where the value starts, for continuation lines. */
void tensor_format(const float *data, const Shape *s, StrBuf *sb, int indent);

/* Summary statistics for traces of large tensors. */
typedef struct TensorStats {
    double mean, min, max, norm;
} TensorStats;
TensorStats tensor_stats(const float *data, size_t n);

/* Σ x², in double: 8 running sums, so that the loop vectorises (the order of additions is
 * fixed, so the result is the same on every run). */
double tensor_sum_squares(const float *x, size_t n);
/* Index of the first non-finite element, or -1. */
long tensor_find_nonfinite(const float *data, size_t n);

#endif
