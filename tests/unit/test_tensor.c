/* test_tensor.c — unit tests for tensor.c and rng.c: broadcasting, shape printing, the one
 * number formatter, NumPy-style tensor printing, summary statistics and the seeded RNG. */
#include "testutil.h"

#include "rng.h"
#include "strbuf.h"
#include "tensor.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* A shape from its dimensions: mkshape(2, 4, 3) is [4,3]. */
static Shape mkshape(int rank, ...)
{
    Shape s = shape_scalar();
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++) s.dim[i] = va_arg(ap, int);
    va_end(ap);
    s.rank = rank;
    return s;
}

static void assert_shape(const Shape *got, const Shape *want)
{
    char a[64], b[64];
    if (!shape_eq(got, want)) {
        print_error("shape %s != %s\n", shape_str(got, a, sizeof a), shape_str(want, b, sizeof b));
        fail();
    }
}

/* ---- shapes ----------------------------------------------------------------------------- */

static void expect_bcast(Shape a, Shape b, Shape want)
{
    Shape out;
    assert_true(shape_broadcast(&a, &b, &out));
    assert_shape(&out, &want);
    /* broadcasting is symmetric */
    assert_true(shape_broadcast(&b, &a, &out));
    assert_shape(&out, &want);
}

static void test_broadcast_compatible(void **state)
{
    (void)state;
    expect_bcast(mkshape(2, 4, 3), mkshape(2, 4, 3), mkshape(2, 4, 3));
    expect_bcast(mkshape(2, 4, 3), mkshape(1, 3), mkshape(2, 4, 3));
    expect_bcast(mkshape(2, 4, 1), mkshape(1, 3), mkshape(2, 4, 3));
    expect_bcast(mkshape(2, 4, 1), mkshape(2, 1, 3), mkshape(2, 4, 3));
    expect_bcast(mkshape(0), mkshape(2, 2, 3), mkshape(2, 2, 3));
    expect_bcast(mkshape(0), mkshape(0), mkshape(0));
    expect_bcast(mkshape(1, 1), mkshape(0), mkshape(1, 1));
    expect_bcast(mkshape(1, 1), mkshape(1, 5), mkshape(1, 5));
}

static void test_broadcast_rank_difference(void **state)
{
    (void)state;
    /* the shorter shape is aligned on the right and padded with 1s on the left */
    expect_bcast(mkshape(3, 2, 1, 4), mkshape(2, 3, 1), mkshape(3, 2, 3, 4));
    expect_bcast(mkshape(4, 6, 1, 1, 2), mkshape(2, 5, 1), mkshape(4, 6, 1, 5, 2));
    expect_bcast(mkshape(3, 1, 1, 1), mkshape(1, 7), mkshape(3, 1, 1, 7));
    expect_bcast(mkshape(6, 1, 2, 1, 2, 1, 2), mkshape(3, 1, 3, 1),
                 mkshape(6, 1, 2, 1, 2, 3, 2));
    /* a size-0 dimension broadcasts against 1 only */
    expect_bcast(mkshape(1, 0), mkshape(1, 1), mkshape(1, 0));
}

static void test_broadcast_incompatible(void **state)
{
    (void)state;
    const Shape cases[][2] = {
        { mkshape(1, 3), mkshape(1, 4) },
        { mkshape(2, 4, 3), mkshape(1, 4) },
        { mkshape(2, 5, 4), mkshape(2, 4, 5) },
        { mkshape(2, 2, 3), mkshape(2, 3, 3) },
        { mkshape(3, 2, 3, 4), mkshape(2, 2, 4) },     /* rank differs, middle clashes */
        { mkshape(3, 2, 1, 4), mkshape(3, 3, 1, 4) },  /* leading dimension clashes */
        { mkshape(1, 0), mkshape(1, 3) },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(cases); i++) {
        Shape out;
        assert_false(shape_broadcast(&cases[i][0], &cases[i][1], &out));
        assert_false(shape_broadcast(&cases[i][1], &cases[i][0], &out));
    }
}

static void expect_strides(Shape in, Shape out, const size_t *want)
{
    size_t got[NN_MAX_RANK];
    memset(got, 0xab, sizeof got);
    shape_bcast_strides(&in, &out, got);
    for (int i = 0; i < out.rank; i++) assert_int_equal(got[i], want[i]);
}

static void test_bcast_strides(void **state)
{
    (void)state;
    expect_strides(mkshape(2, 2, 3), mkshape(2, 2, 3), (const size_t[]){ 3, 1 });
    expect_strides(mkshape(1, 3), mkshape(2, 4, 3), (const size_t[]){ 0, 1 });
    expect_strides(mkshape(2, 4, 1), mkshape(2, 4, 3), (const size_t[]){ 1, 0 });
    expect_strides(mkshape(0), mkshape(2, 2, 3), (const size_t[]){ 0, 0 });
    expect_strides(mkshape(3, 2, 1, 4), mkshape(3, 2, 3, 4), (const size_t[]){ 4, 0, 1 });
    expect_strides(mkshape(2, 3, 1), mkshape(3, 2, 3, 4), (const size_t[]){ 0, 1, 0 });
    expect_strides(mkshape(3, 2, 3, 4), mkshape(3, 2, 3, 4), (const size_t[]){ 12, 4, 1 });
    expect_strides(mkshape(2, 1, 4), mkshape(4, 5, 2, 3, 4), (const size_t[]){ 0, 0, 0, 1 });
}

/* Walking the output with the strides visits exactly the input elements NumPy would. */
static void test_bcast_strides_walk(void **state)
{
    (void)state;
    Shape in = mkshape(3, 2, 1, 4), out = mkshape(3, 2, 3, 4);
    size_t st[NN_MAX_RANK];
    shape_bcast_strides(&in, &out, st);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                size_t off = (size_t)i * st[0] + (size_t)j * st[1] + (size_t)k * st[2];
                assert_int_equal(off, (size_t)(i * 4 + k));
            }
}

static void test_shape_format(void **state)
{
    (void)state;
    char buf[64];
    Shape s = mkshape(2, 4, 3), sc = shape_scalar(), v = mkshape(1, 7);
    Shape big = mkshape(6, 1, 22, 333, 4444, 55555, 6);
    assert_string_equal(shape_str(&s, buf, sizeof buf), "[4,3]");
    assert_string_equal(shape_str(&sc, buf, sizeof buf), "[]");
    assert_string_equal(shape_str(&v, buf, sizeof buf), "[7]");
    assert_string_equal(shape_str(&big, buf, sizeof buf), "[1,22,333,4444,55555,6]");
    assert_ptr_equal(shape_str(&s, buf, sizeof buf), buf);

    /* too small a buffer truncates but stays NUL-terminated */
    char small[4];
    memset(small, 'x', sizeof small);
    shape_str(&big, small, sizeof small);
    assert_true(memchr(small, '\0', sizeof small) != NULL);
    assert_memory_equal(small, "[1,", 3);
    assert_string_equal(shape_str(&s, buf, 6), "[4,3]");

    StrBuf sb;
    sb_init(&sb);
    shape_format(&s, &sb);
    assert_string_equal(sb.data, "[4,3]");
    sb_clear(&sb);
    shape_format(&sc, &sb);
    assert_string_equal(sb.data, "[]");
    sb_clear(&sb);
    shape_format(&big, &sb);
    assert_string_equal(sb.data, "[1,22,333,4444,55555,6]");
    sb_free(&sb);

    assert_int_equal(shape_size(&s), 12);
    assert_int_equal(shape_size(&sc), 1);
    assert_true(shape_eq(&s, &(Shape){ 2, { 4, 3 } }));
    assert_false(shape_eq(&s, &(Shape){ 2, { 3, 4 } }));
    assert_false(shape_eq(&v, &(Shape){ 2, { 7, 1 } }));
}

/* ---- numbers ---------------------------------------------------------------------------- */

static void expect_num(double v, const char *want)
{
    char buf[32];
    memset(buf, 'x', sizeof buf);
    const char *got = fmt_num(v, buf);
    assert_ptr_equal(got, buf);
    assert_string_equal(got, want);
}

static void test_fmt_num(void **state)
{
    (void)state;
    expect_num(0, "0");
    expect_num(1, "1");
    expect_num(-2.5, "-2.5");
    expect_num(0.5, "0.5");
    expect_num(100, "100");
    /* 6 significant digits, rounded, no trailing zeros */
    expect_num(1.0 / 3.0, "0.333333");
    expect_num(2.0 / 3.0, "0.666667");
    expect_num(-2.0 / 3.0, "-0.666667");
    expect_num(3.14159265, "3.14159");
    expect_num(123456, "123456");
    expect_num(0.12345649, "0.123456");
    expect_num(0.99999951, "1");
    expect_num(1.5e-3, "0.0015");
    expect_num(1e-4, "0.0001");
    /* float32 values print without their binary noise */
    expect_num(0.1f, "0.1");
    expect_num(0.3f, "0.3");
    expect_num(0.1f + 0.2f, "0.3");
    expect_num(0.518717f, "0.518717");
    /* exponent notation, as %g: small and large numbers */
    expect_num(1e-5, "1e-05");
    expect_num(-2.5e-7, "-2.5e-07");
    expect_num(1234567, "1.23457e+06");
    expect_num(1e6, "1e+06");
    expect_num(-1e20, "-1e+20");
    expect_num(3.4028234663852886e38, "3.40282e+38");
    expect_num(1.17549435e-38, "1.17549e-38");
}

static void test_fmt_num_special(void **state)
{
    (void)state;
    expect_num(-0.0, "0");
    expect_num(-0.0f, "0");
    expect_num(INFINITY, "inf");
    expect_num(-INFINITY, "-inf");
    expect_num(HUGE_VAL, "inf");
    expect_num(NAN, "nan");
    expect_num(-NAN, "nan");
    expect_num((double)(INFINITY - INFINITY), "nan");
}

/* ---- printing tensors ------------------------------------------------------------------- */

static void expect_format(const float *data, Shape s, int indent, const char *want)
{
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, "");   /* tensor_format appends: start from an empty, allocated string */
    tensor_format(data, &s, &sb, indent);
    assert_string_equal(sb.data, want);
    sb_free(&sb);
}

static void test_format_scalar(void **state)
{
    (void)state;
    expect_format((const float[]){ 2.5f }, shape_scalar(), 0, "2.5");
    expect_format((const float[]){ -0.0f }, shape_scalar(), 0, "0");
    expect_format((const float[]){ 1.0f / 3.0f }, shape_scalar(), 10, "0.333333");
    expect_format((const float[]){ -INFINITY }, shape_scalar(), 0, "-inf");
    expect_format((const float[]){ 1e-5f }, shape_scalar(), 0, "1e-05");
}

static void test_format_vector(void **state)
{
    (void)state;
    expect_format((const float[]){ 1, 2 }, mkshape(1, 2), 0, "[1, 2]");
    expect_format((const float[]){ 7 }, mkshape(1, 1), 0, "[7]");
    /* right-aligned to the widest number */
    expect_format((const float[]){ 1, 2.5f, -3 }, mkshape(1, 3), 0, "[  1, 2.5,  -3]");
    expect_format((const float[]){ 0.5f, -0.0f, 100 }, mkshape(1, 3), 0, "[0.5,   0, 100]");
    expect_format((const float[]){ 1, NAN, -INFINITY }, mkshape(1, 3), 0, "[   1,  nan, -inf]");
    /* a 1-D tensor is one line whatever the indent */
    expect_format((const float[]){ 1, 2 }, mkshape(1, 2), 8, "[1, 2]");
    /* an empty tensor */
    expect_format(NULL, mkshape(1, 0), 0, "[]");
}

static void test_format_matrix(void **state)
{
    (void)state;
    const float m[] = { 1, -2.5f, 3, -10, 0, 100 };
    expect_format(m, mkshape(2, 2, 3), 0,
                  "[[   1, -2.5,    3],\n"
                  " [ -10,    0,  100]]");
    /* continuation lines start at `indent` plus one for the outer bracket */
    expect_format((const float[]){ 1, 2, 3, 4 }, mkshape(2, 2, 2), 6,
                  "[[1, 2],\n"
                  "       [3, 4]]");
    expect_format((const float[]){ -1, 2, 3 }, mkshape(2, 3, 1), 0,
                  "[[-1],\n"
                  " [ 2],\n"
                  " [ 3]]");
    expect_format((const float[]){ 0.25f, -1e-5f }, mkshape(2, 1, 2), 0, "[[  0.25, -1e-05]]");
}

static void test_format_3d(void **state)
{
    (void)state;
    const float t[] = { 1, 2, 3, 4, 5, 6, 7, -8 };
    /* blocks of a 3-D tensor are separated by a blank line, as NumPy does */
    expect_format(t, mkshape(3, 2, 2, 2), 0,
                  "[[[ 1,  2],\n"
                  "  [ 3,  4]],\n"
                  "\n"
                  " [[ 5,  6],\n"
                  "  [ 7, -8]]]");
    expect_format(t, mkshape(3, 2, 2, 2), 2,
                  "[[[ 1,  2],\n"
                  "    [ 3,  4]],\n"
                  "\n"
                  "   [[ 5,  6],\n"
                  "    [ 7, -8]]]");
    expect_format(t, mkshape(3, 1, 2, 4), 0,
                  "[[[ 1,  2,  3,  4],\n"
                  "  [ 5,  6,  7, -8]]]");
}

/* Counts non-overlapping occurrences of `needle` in `s`. */
static int count_str(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + strlen(needle), needle)) n++;
    return n;
}

static void test_format_elided(void **state)
{
    (void)state;
    float *v = test_calloc(1200, sizeof *v);
    for (int i = 0; i < 1200; i++) v[i] = (float)i;

    /* more than 1000 elements: the first and last three of each long dimension */
    expect_format(v, mkshape(1, 1001), 0, "[   0,    1,    2, ...,  998,  999, 1000]");
    expect_format(v, mkshape(2, 40, 30), 0,
                  "[[   0,    1,    2, ...,   27,   28,   29],\n"
                  " [  30,   31,   32, ...,   57,   58,   59],\n"
                  " [  60,   61,   62, ...,   87,   88,   89],\n"
                  " ...,\n"
                  " [1110, 1111, 1112, ..., 1137, 1138, 1139],\n"
                  " [1140, 1141, 1142, ..., 1167, 1168, 1169],\n"
                  " [1170, 1171, 1172, ..., 1197, 1198, 1199]]");
    /* short dimensions of a large tensor are shown whole */
    StrBuf sb;
    sb_init(&sb);
    Shape s = mkshape(2, 2, 600);
    tensor_format(v, &s, &sb, 0);
    assert_int_equal(count_str(sb.data, "..."), 2);
    assert_int_equal(count_str(sb.data, "\n"), 1);
    assert_non_null(strstr(sb.data, "[[   0,    1,    2, ...,  597,  598,  599],\n"));
    assert_non_null(strstr(sb.data, " [ 600,  601,  602, ..., 1197, 1198, 1199]]"));
    sb_clear(&sb);

    /* 3-D: each elided dimension gets its own "..." */
    s = mkshape(3, 10, 10, 12);
    tensor_format(v, &s, &sb, 0);
    assert_int_equal(count_str(sb.data, "..."), 1 + 6 * 7);
    assert_int_equal(count_str(sb.data, "[[["), 1);
    assert_non_null(strstr(sb.data, "[[[   0,    1,    2, ...,    9,   10,   11],\n"));
    assert_non_null(strstr(sb.data, " ...,\n"));
    assert_non_null(strstr(sb.data, "1197, 1198, 1199]]]"));
    assert_null(strstr(sb.data, " 500,"));
    sb_clear(&sb);

    /* exactly 1000 elements is still printed in full */
    s = mkshape(1, 1000);
    tensor_format(v, &s, &sb, 0);
    assert_null(strstr(sb.data, "..."));
    assert_int_equal(count_str(sb.data, ","), 999);
    assert_non_null(strstr(sb.data, " 500,"));
    sb_free(&sb);
    test_free(v);
}

/* ---- statistics and non-finite values ---------------------------------------------------- */

static void test_stats(void **state)
{
    (void)state;
    const float v[] = { 3, -4, 1, 0 };
    TensorStats st = tensor_stats(v, 4);
    assert_close(st.mean, 0.0, 1e-12);
    assert_close(st.min, -4.0, 1e-12);
    assert_close(st.max, 3.0, 1e-12);
    assert_close(st.norm, sqrt(26.0), 1e-12);

    st = tensor_stats((const float[]){ -2.5f }, 1);
    assert_close(st.mean, -2.5, 1e-12);
    assert_close(st.min, -2.5, 1e-12);
    assert_close(st.max, -2.5, 1e-12);
    assert_close(st.norm, 2.5, 1e-12);

    /* sums are kept in double, so a million copies of 0.1f average to 0.1f */
    size_t n = 1000000;
    float *big = test_malloc(n * sizeof *big);
    for (size_t i = 0; i < n; i++) big[i] = 0.1f;
    st = tensor_stats(big, n);
    assert_close(st.mean, 0.1f, 1e-9);
    assert_close(st.norm, 0.1f * 1000.0, 1e-6);
    test_free(big);

    st = tensor_stats(NULL, 0);
    assert_close(st.mean, 0.0, 0);
    assert_close(st.norm, 0.0, 0);
}

static void test_find_nonfinite(void **state)
{
    (void)state;
    const float ok[] = { 0, -1, 3.4e38f, -3.4e38f, 1e-45f };
    assert_int_equal(tensor_find_nonfinite(ok, 5), -1);
    assert_int_equal(tensor_find_nonfinite(NULL, 0), -1);
    assert_int_equal(tensor_find_nonfinite((const float[]){ 1, 2, INFINITY, NAN }, 4), 2);
    assert_int_equal(tensor_find_nonfinite((const float[]){ NAN, INFINITY }, 2), 0);
    assert_int_equal(tensor_find_nonfinite((const float[]){ 1, 2, 3, -INFINITY }, 4), 3);
    /* only the first n elements are looked at */
    assert_int_equal(tensor_find_nonfinite((const float[]){ 1, 2, 3, -INFINITY }, 3), -1);
    /* the largest finite magnitudes, -0 and every kind of NaN, in a long array (the vector
     * loop) at each position */
    float big[67];
    for (size_t i = 0; i < 67; i++) big[i] = i % 2 ? FLT_MAX : -FLT_MAX;
    big[5] = -0.0f;
    assert_int_equal(tensor_find_nonfinite(big, 67), -1);
    const uint32_t nans[] = { 0x7f800000u, 0xff800000u, 0x7f800001u, 0xffc00000u, 0x7fffffffu };
    for (size_t k = 0; k < sizeof nans / sizeof *nans; k++)
        for (size_t at = 0; at < 67; at += 11) {
            float keep = big[at];
            memcpy(&big[at], &nans[k], sizeof big[at]);
            assert_int_equal(tensor_find_nonfinite(big, 67), (long)at);
            big[at] = keep;
        }
}

/* ---- random numbers --------------------------------------------------------------------- */

static void test_rng_same_seed(void **state)
{
    (void)state;
    Rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) assert_int_equal(rng_u32(&a), rng_u32(&b));
    for (int i = 0; i < 101; i++) assert_true(rng_normal(&a) == rng_normal(&b));
    for (int i = 0; i < 100; i++) assert_true(rng_uniform(&a) == rng_uniform(&b));

    /* reseeding restarts the sequence, and forgets a pending Box-Muller spare */
    uint32_t first[8];
    rng_seed(&a, 7);
    for (int i = 0; i < 8; i++) first[i] = rng_u32(&a);
    (void)rng_normal(&a);
    rng_seed(&a, 7);
    for (int i = 0; i < 8; i++) assert_int_equal(rng_u32(&a), first[i]);
    rng_seed(&a, 7);
    rng_seed(&b, 7);
    (void)rng_normal(&a);       /* leaves a spare behind */
    rng_seed(&a, 7);
    assert_true(rng_normal(&a) == rng_normal(&b));
}

/* rng_fill_uniform makes the numbers of rng_uniform called n times, and leaves the same
 * state: for lengths below, at and around its lanes (8) and its threshold (32). */
static void test_rng_fill_uniform(void **state)
{
    (void)state;
    static const size_t lengths[] = { 0, 1, 7, 8, 31, 32, 33, 39, 40, 1000, 1003 };
    float got[1003], want[1003];
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        size_t n = lengths[k];
        Rng a, b;
        rng_seed(&a, 99 + n);
        rng_seed(&b, 99 + n);
        rng_fill_uniform(&a, got, n);
        for (size_t i = 0; i < n; i++) want[i] = rng_uniform(&b);
        assert_memory_equal(got, want, n * sizeof *got);
        assert_int_equal(rng_u32(&a), rng_u32(&b));
    }
}

static void test_rng_different_seeds(void **state)
{
    (void)state;
    const uint64_t seeds[] = { 0, 1, 2, 42, 43, 1u << 31, UINT64_C(1) << 63, UINT64_MAX };
    enum { N = 16 };
    uint32_t seq[NN_ARRAY_LEN(seeds)][N];
    for (size_t s = 0; s < NN_ARRAY_LEN(seeds); s++) {
        Rng r;
        rng_seed(&r, seeds[s]);
        for (int i = 0; i < N; i++) seq[s][i] = rng_u32(&r);
    }
    for (size_t s = 0; s < NN_ARRAY_LEN(seeds); s++)
        for (size_t t = s + 1; t < NN_ARRAY_LEN(seeds); t++) {
            int same = 0;
            for (int i = 0; i < N; i++) same += seq[s][i] == seq[t][i];
            if (same > 1) {
                print_error("seeds %llu and %llu share %d of %d draws\n",
                            (unsigned long long)seeds[s], (unsigned long long)seeds[t], same, N);
                fail();
            }
        }
}

static void test_rng_uniform(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 123);
    enum { N = 100000 };
    double sum = 0, sq = 0;
    float lo = 1, hi = 0;
    int bins[10] = { 0 };
    for (int i = 0; i < N; i++) {
        float u = rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        if (u < lo) lo = u;
        if (u > hi) hi = u;
        sum += u;
        sq += (double)u * u;
        bins[(int)(u * 10)]++;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    assert_close(mean, 0.5, 0.01);          /* standard error 0.0009 */
    assert_close(var, 1.0 / 12.0, 0.005);   /* standard error 0.0003 */
    assert_true(lo < 0.001f && hi > 0.999f);
    for (int b = 0; b < 10; b++) assert_in_range(bins[b], N / 10 - 600, N / 10 + 600);
}

static void test_rng_normal(void **state)
{
    (void)state;
    Rng r;
    rng_seed(&r, 2024);
    enum { N = 100000 };
    double sum = 0, sq = 0;
    int within1 = 0, within2 = 0;
    for (int i = 0; i < N; i++) {
        float z = rng_normal(&r);
        assert_true(isfinite(z));
        sum += z;
        sq += (double)z * z;
        within1 += fabsf(z) < 1.0f;
        within2 += fabsf(z) < 2.0f;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    /* standard errors: 0.0032 for the mean, 0.0045 for the variance; allow about 6 of them */
    assert_close(mean, 0.0, 0.02);
    assert_close(var, 1.0, 0.03);
    assert_close((double)within1 / N, 0.682689, 0.01);
    assert_close((double)within2 / N, 0.954500, 0.005);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_fill_uniform),
        cmocka_unit_test(test_broadcast_compatible),
        cmocka_unit_test(test_broadcast_rank_difference),
        cmocka_unit_test(test_broadcast_incompatible),
        cmocka_unit_test(test_bcast_strides),
        cmocka_unit_test(test_bcast_strides_walk),
        cmocka_unit_test(test_shape_format),
        cmocka_unit_test(test_fmt_num),
        cmocka_unit_test(test_fmt_num_special),
        cmocka_unit_test(test_format_scalar),
        cmocka_unit_test(test_format_vector),
        cmocka_unit_test(test_format_matrix),
        cmocka_unit_test(test_format_3d),
        cmocka_unit_test(test_format_elided),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_find_nonfinite),
        cmocka_unit_test(test_rng_same_seed),
        cmocka_unit_test(test_rng_different_seeds),
        cmocka_unit_test(test_rng_uniform),
        cmocka_unit_test(test_rng_normal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
