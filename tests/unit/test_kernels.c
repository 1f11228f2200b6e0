/* test_kernels.c — unit tests for kernels.c: every product form on every instruction-set path
 * this CPU runs, against a double-precision reference with an error bound that grows with k,
 * and bit for bit against the one multiply-add chain per element that kernels.h promises
 * (fused or not, as kern_isa_fused says); then the same bits on any number of threads and
 * parts, and from two application threads at once. */
#include "testutil.h"

#include "common.h"
#include "fpmode.h"
#include "kernels.h"
#include "pool.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------- */

static unsigned lcg(unsigned *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed >> 8;
}

/* count floats in [-1, 1), allocated one float past an aligned block so that no operand is
 * aligned. Free with free_floats. */
static float *random_floats(size_t count, unsigned *seed)
{
    float *x = test_malloc((count + 1) * sizeof *x);
    x += 1;
    for (size_t i = 0; i < count; i++) x[i] = (float)(lcg(seed) & 0xffff) / 32768.0f - 1.0f;
    return x;
}

static void free_floats(float *x)
{
    test_free(x - 1);
}

/* dst[c, r] = src[r, c] for an r x c matrix. */
static void transpose(const float *src, float *dst, size_t rows, size_t cols)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/* |got - want| <= tol, with a message naming the element. */
static bool near(double got, double want, double tol, const char *what, size_t i, size_t j)
{
    if (fabs(got - want) <= tol) return true;
    print_error("%s: C[%zu,%zu] = %.9g, want %.9g (tolerance %.3g)\n", what, i, j, got, want,
                tol);
    return false;
}

/* Element (i, j) as kernels.h defines it: blocks of KERN_KBLOCK steps, each a float chain
 * (fused: fmaf, correctly rounded, what the AVX2 and AVX-512 paths give; else a multiply then
 * an add, each rounded, the volatile keeping the compiler from fusing them), the first from
 * C0, the others from 0, added in double. */
static float blocked_chain(const float *A, const float *B, const float *C0, size_t i, size_t j,
                           size_t k, size_t n, bool fused)
{
    double total = 0.0;
    for (size_t p0 = 0; p0 < k; p0 += KERN_KBLOCK) {
        float c = p0 == 0 && C0 ? C0[i * n + j] : 0.0f;
        for (size_t p = p0; p < k && p < p0 + KERN_KBLOCK; p++) {
            if (fused) {
                c = fmaf(A[i * k + p], B[p * n + j], c);
            } else {
                volatile float prod = A[i * k + p] * B[p * n + j];
                c = c + prod;
            }
        }
        total += c;
    }
    return (float)total;
}

/* C as kernels.h defines it, fused or not. */
static void chain_ref(const float *A, const float *B, const float *C0, float *C, size_t m,
                      size_t k, size_t n, bool fused)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) C[i * n + j] = blocked_chain(A, B, C0, i, j, k, n, fused);
}

/* The chain a path must reproduce bit for bit, or NULL when it is not known here. */
static const float *exact_for(KernIsa isa, const float *fused, const float *unfused)
{
    if (kern_isa_fused(isa)) return fused;
    return FLT_EVAL_METHOD == 0 ? unfused : NULL;
}

/* Runs form (trans_a, trans_b) of C[m,n] (+)= A[m,k] B[k,n] on the path, with the operands
 * stored as the form wants them. */
static void run_form(KernIsa isa, bool ta, bool tb, const float *A, const float *At,
                     const float *B, const float *Bt, float *C, size_t m, size_t k, size_t n,
                     bool accumulate)
{
    kern_gemm(isa, ta, tb, ta ? At : A, tb ? Bt : B, C, m, k, n, accumulate);
}

/* Checks every form on every supported path for one shape, with and without accumulation:
 * within the error bound of the double reference, bit-identical to the chain of kernels.h
 * (exact_for), and the same bits from all four forms on each path. */
static void check_shape(size_t m, size_t k, size_t n)
{
    unsigned seed = (unsigned)(m * 7919 + k * 104729 + n * 13);
    float *A = random_floats(m * k, &seed), *B = random_floats(k * n, &seed);
    float *C0 = random_floats(m * n, &seed);
    float *At = random_floats(m * k, &seed), *Bt = random_floats(k * n, &seed);
    transpose(A, At, m, k);
    transpose(B, Bt, k, n);
    double *ref = test_malloc(m * n * sizeof *ref), *bound = test_malloc(m * n * sizeof *bound);
    float *exact = random_floats(m * n, &seed), *C = random_floats(m * n, &seed);
    float *first = random_floats(m * n, &seed), *unfused = random_floats(m * n, &seed);
    char what[128];

    for (int acc = 0; acc < 2; acc++) {
        /* reference and error bound: a chain of k steps errs by at most about k u (|C0| +
         * sum |a b|), u = 2^-24, and chains of at most KERN_KBLOCK steps added in double by
         * about KERN_KBLOCK u times it; the tolerance is 2 (min(k, KERN_KBLOCK) + 2) u times
         * that sum (FLT_EPSILON = 2u), plus the smallest normal for sums that are zero */
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double s = acc ? C0[i * n + j] : 0.0, mag = fabs(s);
                for (size_t p = 0; p < k; p++) {
                    double prod = (double)A[i * k + p] * (double)B[p * n + j];
                    s += prod;
                    mag += fabs(prod);
                }
                ref[i * n + j] = s;
                size_t steps = k < KERN_KBLOCK ? k : KERN_KBLOCK;
                bound[i * n + j] = (double)(steps + 2) * FLT_EPSILON * mag + FLT_MIN;
            }
        chain_ref(A, B, acc ? C0 : NULL, exact, m, k, n, true);
        chain_ref(A, B, acc ? C0 : NULL, unfused, m, k, n, false);

        for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
            if (!kern_isa_supported((KernIsa)isa)) continue;
            for (int form = 0; form < 4; form++) {
                bool ta = form & 1, tb = form & 2;
                snprintf(what, sizeof what, "%s %s%s %zux%zux%zu%s", kern_isa_name((KernIsa)isa),
                         ta ? "A^T" : "A", tb ? "B^T" : "B", m, k, n, acc ? " +=" : "");
                memcpy(C, C0, m * n * sizeof *C);
                run_form((KernIsa)isa, ta, tb, A, At, B, Bt, C, m, k, n, acc);
                bool ok = true;
                for (size_t e = 0; ok && e < m * n; e++)
                    ok = near(C[e], ref[e], bound[e], what, e / n, e % n);
                const float *want = exact_for((KernIsa)isa, exact, unfused);
                for (size_t e = 0; ok && want && e < m * n; e++)
                    ok = near(C[e], want[e], 0.0, what, e / n, e % n);
                if (ok && form == 0) memcpy(first, C, m * n * sizeof *C);
                if (ok && form > 0 && memcmp(first, C, m * n * sizeof *C) != 0) {
                    print_error("%s: differs from the untransposed form\n", what);
                    ok = false;
                }
                if (!ok) fail_msg("%s", what);
            }
        }
    }
    test_free(ref), test_free(bound);
    free_floats(A), free_floats(B), free_floats(C0), free_floats(At), free_floats(Bt);
    free_floats(exact), free_floats(C), free_floats(first), free_floats(unfused);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_isa_detection(void **state)
{
    (void)state;
    assert_true(kern_isa_supported(KERN_ISA_PORTABLE));
    assert_true(kern_isa_supported(kern_isa_best()));
    assert_false(kern_isa_supported(KERN_ISA_COUNT));
    if (kern_isa_supported(KERN_ISA_AVX512)) assert_int_equal(kern_isa_best(), KERN_ISA_AVX512);
    assert_true(kern_isa_fused(KERN_ISA_AVX2));
    assert_true(kern_isa_fused(KERN_ISA_AVX512));
    assert_false(kern_isa_fused(KERN_ISA_COUNT));
    assert_string_equal(kern_isa_name(KERN_ISA_PORTABLE), "portable");
    assert_string_equal(kern_isa_name(KERN_ISA_AVX2), "avx2");
    assert_string_equal(kern_isa_name(KERN_ISA_AVX512), "avx512");
    assert_string_equal(kern_isa_name(KERN_ISA_COUNT), "?");
    assert_in_range(kern_stack_bytes(), 1024, 1024 * 1024);
    for (int isa = 0; isa < KERN_ISA_COUNT; isa++)
        print_message("[ info     ] %s: %s, %s\n", kern_isa_name((KernIsa)isa),
                      kern_isa_supported((KernIsa)isa) ? "runs here" : "not tested here",
                      kern_isa_fused((KernIsa)isa) ? "fused" : "not fused");
}

/* Vectors and the smallest products: dot products, outer products, scalars. */
static void test_degenerate_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {
        { 1, 1, 1 }, { 1, 2, 1 }, { 1, 1000, 1 }, { 1, 1, 1000 }, { 1000, 1, 1 },
        { 1000, 1, 1000 }, { 1, 300, 77 }, { 77, 300, 1 }, { 2, 1, 3 }, { 4, 2, 8 },
        { 1, 1024, 1 }, { 3, 5, 2 },
    };
    for (size_t s = 0; s < NN_ARRAY_LEN(shapes); s++)
        check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* Sizes around every tile and block edge (tiles 6x8, 6x16, 12x32; blocks k 256, n 256), and
 * on both sides of each choice of route: small-product loop or blocks, transposed problem or
 * not, B copied into panels or read in place. */
static void test_odd_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {
        { 7, 13, 29 }, { 5, 7, 15 }, { 6, 8, 16 }, { 11, 9, 17 }, { 12, 32, 32 },
        { 13, 33, 33 }, { 25, 31, 65 }, { 24, 255, 31 }, { 23, 256, 64 }, { 19, 257, 97 },
        { 36, 511, 191 }, { 37, 513, 193 }, { 20, 600, 300 }, { 100, 70, 385 },
        { 129, 17, 3 }, { 3, 17, 129 }, { 61, 129, 14 }, { 14, 129, 61 }, { 200, 50, 1 },
        { 200, 50, 2 }, { 97, 70, 800 }, { 96, 5, 768 }, { 10, 10, 10 }, { 8, 16, 8 },
    };
    for (size_t s = 0; s < NN_ARRAY_LEN(shapes); s++)
        check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* Every tile height and width, rows and columns of A: each is a separate instance of the
 * micro-kernels. */
static void test_every_tile_size(void **state)
{
    (void)state;
    for (size_t m = 1; m <= 25; m++) check_shape(m, 40, 40);
    for (size_t n = 1; n <= 33; n++) check_shape(13, 40, n);
    for (size_t m = 1; m <= 13; m++) check_shape(m, 40, 100);  /* A^T copied into panels */
}

/* Shapes of a small network: batch x features x units, forward and backward. */
static void test_layer_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {
        { 32, 64, 128 }, { 32, 128, 64 }, { 64, 32, 128 }, { 150, 4, 16 }, { 150, 16, 3 },
        { 256, 784, 10 }, { 64, 100, 100 },
    };
    for (size_t s = 0; s < NN_ARRAY_LEN(shapes); s++)
        check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* 1024 in each position, a k long enough for several passes, and rows enough for several
 * blocks of the passes' double sums (96 rows), with B read in place and copied. */
static void test_large_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {
        { 1024, 40, 24 }, { 24, 1024, 40 }, { 40, 24, 1024 }, { 7, 1024, 1024 },
        { 1024, 1024, 3 }, { 1024, 1, 300 }, { 2, 5000, 3 }, { 97, 300, 777 },
        { 200, 600, 40 }, { 193, 513, 800 }, { 1, 70000, 1 },
    };
    for (size_t s = 0; s < NN_ARRAY_LEN(shapes); s++)
        check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* The blocks of kernels.h keep a long product accurate: 10^6 products 0.1f * 0.1f, whose
 * exact sum is 10000.0003 (0.1f is 0.100000001490116...). One float chain gives 9865.22;
 * blocks of 256 added in double err by about 256 u relative at most, 0.15 here. */
static void test_long_reduction(void **state)
{
    (void)state;
    const size_t k = 1000000;
    float *A = test_malloc(k * sizeof *A);
    for (size_t p = 0; p < k; p++) A[p] = 0.1f;
    const double exact = (double)k * (double)0.1f * (double)0.1f;
    for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
        if (!kern_isa_supported((KernIsa)isa)) continue;
        float c = 0.0f, c2[2] = { 0, 0 };
        kern_gemm((KernIsa)isa, false, false, A, A, &c, 1, k, 1, false);
        kern_gemm((KernIsa)isa, false, true, A, A, c2, 2, k / 2, 1, false);  /* 2 x 1 */
        print_message("[ info     ] %s: %.9g, error %.3g\n", kern_isa_name((KernIsa)isa), c,
                      c - exact);
        assert_true(fabs(c - exact) < 256 * 0x1p-24 * exact);
        assert_true(fabs(c2[0] - exact / 2) < 256 * 0x1p-24 * exact / 2);
    }
    test_free(A);
}

/* Row i of C depends on row i of A and on B only: the same bits whatever the batch size,
 * although a single row may take another route (the small-product loop, or no transposed
 * problem) than the whole batch. */
static void check_batch_invariance(size_t m, size_t k, size_t n)
{
    unsigned seed = 99;
    float *A = random_floats(m * k, &seed), *B = random_floats(k * n, &seed);
    float *C = random_floats(m * n, &seed), *R = random_floats(n, &seed);
    for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
        if (!kern_isa_supported((KernIsa)isa)) continue;
        for (int tb = 0; tb < 2; tb++) {  /* B^T is just another k x n matrix here */
            kern_gemm((KernIsa)isa, false, tb, A, B, C, m, k, n, false);
            for (size_t i = 0; i < m; i++) {
                kern_gemm((KernIsa)isa, false, tb, A + i * k, B, R, 1, k, n, false);
                if (memcmp(R, C + i * n, n * sizeof *R) != 0)
                    fail_msg("%s %s %zux%zux%zu: row %zu alone differs",
                             kern_isa_name((KernIsa)isa), tb ? "AB^T" : "AB", m, k, n, i);
            }
        }
    }
    free_floats(A), free_floats(B), free_floats(C), free_floats(R);
}

static void test_batch_invariance(void **state)
{
    (void)state;
    check_batch_invariance(45, 300, 70);
    check_batch_invariance(45, 10, 20);
    check_batch_invariance(300, 20, 5);
    check_batch_invariance(100, 20, 800);
}

/* The public entry points are the best path's forms. */
static void test_entry_points(void **state)
{
    (void)state;
    const size_t m = 20, k = 30, n = 40;
    unsigned seed = 5;
    float *A = random_floats(m * k, &seed), *B = random_floats(k * n, &seed);
    float *C1 = random_floats(m * n, &seed), *C2 = random_floats(m * n, &seed);
    memcpy(C2, C1, m * n * sizeof *C1);
    kern_matmul(A, B, C1, m, k, n, true);
    kern_gemm(kern_isa_best(), false, false, A, B, C2, m, k, n, true);
    assert_memory_equal(C1, C2, m * n * sizeof *C1);
    kern_matmul_bt(A, B, C1, m, k, n, false);
    kern_gemm(kern_isa_best(), false, true, A, B, C2, m, k, n, false);
    assert_memory_equal(C1, C2, m * n * sizeof *C1);
    kern_matmul_at(A, B, C1, m, k, n, false);  /* A read as [k,m] */
    kern_gemm(kern_isa_best(), true, false, A, B, C2, m, k, n, false);
    assert_memory_equal(C1, C2, m * n * sizeof *C1);
    free_floats(A), free_floats(B), free_floats(C1), free_floats(C2);
}

/* k = 0 is an empty sum: C = 0, or C unchanged when accumulating. m or n = 0 writes nothing. */
static void test_empty(void **state)
{
    (void)state;
    float A[1] = { 1 }, B[1] = { 1 }, C[6];
    for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
        if (!kern_isa_supported((KernIsa)isa)) continue;
        for (int form = 0; form < 4; form++) {
            for (int i = 0; i < 6; i++) C[i] = 7;
            kern_gemm((KernIsa)isa, form & 1, form & 2, A, B, C, 2, 0, 3, true);
            for (int i = 0; i < 6; i++) assert_true(C[i] == 7);
            kern_gemm((KernIsa)isa, form & 1, form & 2, A, B, C, 2, 0, 3, false);
            for (int i = 0; i < 6; i++) assert_true(C[i] == 0);
            for (int i = 0; i < 6; i++) C[i] = 7;
            kern_gemm((KernIsa)isa, form & 1, form & 2, A, B, C, 0, 1, 3, false);
            kern_gemm((KernIsa)isa, form & 1, form & 2, A, B, C, 2, 1, 0, false);
            for (int i = 0; i < 6; i++) assert_true(C[i] == 7);
        }
    }
}

/* An infinity in A or B spreads along its own row or column only, even where tiles are
 * padded past the edge of the matrix. */
static void test_nonfinite_stays_put(void **state)
{
    (void)state;
    const size_t m = 13, k = 9, n = 35;
    unsigned seed = 3;
    float *A = random_floats(m * k, &seed), *B = random_floats(k * n, &seed);
    float *C = random_floats(m * n, &seed), *Bt = random_floats(k * n, &seed);
    A[4 * k + 2] = INFINITY;    /* row 4 of A */
    B[3 * n + 33] = INFINITY;   /* column 33 of B, in the last, partial tile */
    transpose(B, Bt, k, n);
    for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
        if (!kern_isa_supported((KernIsa)isa)) continue;
        for (int tb = 0; tb < 2; tb++) {
            kern_gemm((KernIsa)isa, false, tb, A, tb ? Bt : B, C, m, k, n, false);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++)
                    assert_int_equal(isfinite(C[i * n + j]), i != 4 && j != 33);
        }
    }
    free_floats(A), free_floats(B), free_floats(C), free_floats(Bt);
}

/* ---- threads ---------------------------------------------------------------------------- */

/* The forms of kern_gemm: (trans_a, trans_b). 0 = A@B (kern_matmul), 1 = A@B^T (_bt),
 * 2 = A^T@B (_at), 3 = A^T@B^T. */
#define FORMS 4

/* Operands of one shape for every form, and the single-threaded results per form. */
typedef struct Case {
    size_t m, k, n;
    float *A, *At, *B, *Bt, *C0;
    float *want[FORMS][2];          /* [form][accumulate], from 1 thread */
} Case;

static void run_case_form(KernIsa isa, const Case *c, int form, bool acc, int parts, float *C)
{
    bool ta = form & 2, tb = form & 1;
    memcpy(C, c->C0, c->m * c->n * sizeof *C);
    if (parts > 0)
        kern_gemm_parts(isa, parts, ta, tb, ta ? c->At : c->A, tb ? c->Bt : c->B, C, c->m, c->k,
                        c->n, acc);
    else
        kern_gemm(isa, ta, tb, ta ? c->At : c->A, tb ? c->Bt : c->B, C, c->m, c->k, c->n, acc);
}

/* Makes the operands and, on one thread, the wanted results on the path. */
static void case_init(Case *c, KernIsa isa, size_t m, size_t k, size_t n)
{
    unsigned seed = (unsigned)(m * 31 + k * 17 + n * 7 + 1);
    *c = (Case){ .m = m, .k = k, .n = n };
    c->A = random_floats(m * k, &seed), c->B = random_floats(k * n, &seed);
    c->At = random_floats(m * k, &seed), c->Bt = random_floats(k * n, &seed);
    c->C0 = random_floats(m * n, &seed);
    transpose(c->A, c->At, m, k);
    transpose(c->B, c->Bt, k, n);
    int threads = kern_threads();
    kern_set_threads(1);
    for (int form = 0; form < FORMS; form++)
        for (int acc = 0; acc < 2; acc++) {
            c->want[form][acc] = random_floats(m * n, &seed);
            run_case_form(isa, c, form, acc, 0, c->want[form][acc]);
        }
    kern_set_threads(threads);
}

static void case_free(Case *c)
{
    free_floats(c->A), free_floats(c->At), free_floats(c->B), free_floats(c->Bt);
    free_floats(c->C0);
    for (int form = 0; form < FORMS; form++)
        for (int acc = 0; acc < 2; acc++) free_floats(c->want[form][acc]);
}

/* Every form, with and without accumulation, on the current kern_threads(): through kern_gemm
 * (threads as the size says) and through kern_gemm_parts for each count in parts[] (0 ends):
 * the same bits as on one thread. */
static void check_threads_case(KernIsa isa, const Case *c, const int *parts)
{
    float *C = random_floats(c->m * c->n, &(unsigned){ 1 });
    for (int form = 0; form < FORMS; form++)
        for (int acc = 0; acc < 2; acc++)
            for (int p = -1; p < 0 || parts[p] != 0; p++) {
                run_case_form(isa, c, form, acc, p < 0 ? 0 : parts[p], C);
                if (memcmp(C, c->want[form][acc], c->m * c->n * sizeof *C) != 0)
                    fail_msg("%s form %d %zux%zux%zu%s, %d threads, %d parts: differs from 1 "
                             "thread", kern_isa_name(isa), form, c->m, c->k, c->n,
                             acc ? " +=" : "", kern_threads(), p < 0 ? 0 : parts[p]);
            }
    free_floats(C);
}

static void test_threads_setting(void **state)
{
    (void)state;
    assert_int_equal(kern_threads(), 1);
    kern_set_threads(0);
    assert_int_equal(kern_threads(), 1);
    kern_set_threads(-5);
    assert_int_equal(kern_threads(), 1);
    kern_set_threads(1000);
    assert_int_equal(kern_threads(), KERN_MAX_THREADS);
    kern_set_threads(3);
    assert_int_equal(kern_threads(), 3);
    kern_set_threads(1);
    assert_int_equal(kern_threads(), 1);
    assert_int_equal(pool_workers(), 0);
}

/* Workers start with the first product large enough for two threads, never for a small one,
 * and stop when the count is lowered. */
static void test_threads_lazy(void **state)
{
    (void)state;
    unsigned seed = 8;
    const size_t big = 128;  /* 2^21 multiply-adds: 2 threads */
    float *A = random_floats(big * big, &seed), *B = random_floats(big * big, &seed);
    float *C = random_floats(big * big, &seed);
    kern_set_threads(2);
    kern_matmul(A, B, C, 32, 32, 32, false);
    kern_matmul(A, B, C, 64, 64, 64, false);
    assert_int_equal(pool_workers(), 0);
    kern_matmul(A, B, C, big, big, big, false);
    assert_int_equal(pool_workers(), 1);
    kern_set_threads(3);
    kern_matmul(A, B, C, big, big, big / 2, false);   /* 2^20 < 3 * 2^19: still 2 threads */
    assert_int_equal(pool_workers(), 1);
    kern_matmul(A, B, C, big, big, big, false);
    assert_int_equal(pool_workers(), 2);
    kern_set_threads(1);
    assert_int_equal(pool_workers(), 0);
    kern_matmul(A, B, C, big, big, big, false);
    assert_int_equal(pool_workers(), 0);
    free_floats(A), free_floats(B), free_floats(C);
}

/* The same bits on 1, 2 and 3 threads and cut into 1 to 7 (or 64) parts: odd shapes cut
 * whatever their size, and shapes above the threshold through kern_gemm and the kern_matmul
 * forms. */
static void test_threads_bit_identical(void **state)
{
    (void)state;
    static const size_t odd[][3] = {
        { 1, 1, 1 }, { 2, 3, 2 }, { 7, 13, 29 }, { 13, 33, 33 }, { 25, 31, 65 }, { 3, 17, 129 },
        { 129, 17, 3 }, { 61, 129, 14 }, { 37, 513, 193 }, { 200, 50, 2 }, { 97, 70, 800 },
        { 1000, 1, 9 }, { 5, 300, 1000 },
    };
    static const size_t large[][3] = {
        { 128, 128, 128 }, { 129, 127, 131 }, { 300, 257, 100 }, { 100, 300, 257 },
        { 61, 1000, 97 }, { 1000, 40, 70 }, { 30, 64, 1000 }, { 385, 129, 385 },
        { 250, 600, 210 },
    };
    static const int parts[] = { 1, 2, 3, 4, 5, 7, 64, 0 }, none[] = { 0 };
    for (int isa = 0; isa < KERN_ISA_COUNT; isa++) {
        if (!kern_isa_supported((KernIsa)isa)) continue;
        for (size_t s = 0; s < NN_ARRAY_LEN(odd) + NN_ARRAY_LEN(large); s++) {
            const size_t *shape = s < NN_ARRAY_LEN(odd) ? odd[s] : large[s - NN_ARRAY_LEN(odd)];
            Case c;
            case_init(&c, (KernIsa)isa, shape[0], shape[1], shape[2]);
            for (int threads = 1; threads <= 3; threads++) {
                kern_set_threads(threads);
                /* the large shapes on the best path only are cut by hand too: time */
                bool cut = s < NN_ARRAY_LEN(odd) || isa == (int)kern_isa_best();
                check_threads_case((KernIsa)isa, &c, cut ? parts : none);
            }
            kern_set_threads(1);
            case_free(&c);
        }
    }
    /* the public forms on 2 and 3 threads, above the threshold */
    Case c;
    case_init(&c, kern_isa_best(), 200, 150, 170);
    float *C = random_floats(200 * 170, &(unsigned){ 2 });
    for (int threads = 2; threads <= 3; threads++) {
        kern_set_threads(threads);
        for (int acc = 0; acc < 2; acc++) {
            memcpy(C, c.C0, 200 * 170 * sizeof *C);
            kern_matmul(c.A, c.B, C, 200, 150, 170, acc);
            assert_memory_equal(C, c.want[0][acc], 200 * 170 * sizeof *C);
            memcpy(C, c.C0, 200 * 170 * sizeof *C);
            kern_matmul_bt(c.A, c.Bt, C, 200, 150, 170, acc);
            assert_memory_equal(C, c.want[1][acc], 200 * 170 * sizeof *C);
            memcpy(C, c.C0, 200 * 170 * sizeof *C);
            kern_matmul_at(c.At, c.B, C, 200, 150, 170, acc);
            assert_memory_equal(C, c.want[2][acc], 200 * 170 * sizeof *C);
        }
        assert_true(pool_workers() >= 1);
    }
    kern_set_threads(1);
    free_floats(C);
    case_free(&c);
}

/* Workers compute in the caller's floating-point mode: with denormals flushed (fpmode.h), a
 * product whose terms are all denormal is 0 in every part, and with them kept it is not. The
 * workers start in the ordinary mode and are kept across the changes of mode. */
static void test_threads_take_the_callers_fp_mode(void **state)
{
    (void)state;
    if (!fp_mode_flushes()) skip();    /* no such mode, or valgrind */
    const size_t m = 1000, k = 300, n = 1000;    /* long enough for the worker to take parts */
    float *A = test_malloc(m * k * sizeof *A), *B = test_malloc(k * n * sizeof *B);
    float *C = test_malloc(m * n * sizeof *C);
    for (size_t i = 0; i < m * k; i++) A[i] = 1e-20f;
    for (size_t i = 0; i < k * n; i++) B[i] = 1e-20f;     /* each product is 1e-40 */
    const FpMode outer = fp_mode_get();
    kern_set_threads(2);
    static const int flushes[] = { 0, 1, 0 };
    for (size_t f = 0; f < NN_ARRAY_LEN(flushes); f++) {
        fp_mode_set(fp_mode_flushing(outer, flushes[f]));
        for (int parts = 1; parts <= 16; parts += 15) {
            kern_gemm_parts(kern_isa_best(), parts, false, false, A, B, C, m, k, n, false);
            for (size_t e = 0; e < m * n; e++)
                if ((C[e] == 0.0f) != (flushes[f] == 1))
                    fail_msg("flush %d, %d parts: C[%zu] = %g", flushes[f], parts, e,
                             (double)C[e]);
        }
        assert_int_equal(pool_workers(), 1);
    }
    fp_mode_set(outer);
    kern_set_threads(1);
    test_free(A), test_free(B), test_free(C);
}

/* Two application threads calling products at once while the pool has 2 threads: whichever
 * finds the pool busy computes alone; both get the bits of one thread. */
typedef struct Caller {
    const Case *c;
    float *C;
    int rounds;
    int failures;
} Caller;

static void *caller_main(void *arg)
{
    Caller *me = arg;
    const Case *c = me->c;
    for (int r = 0; r < me->rounds; r++) {
        int form = r % 3, acc = (r / 3) % 2;   /* kern_matmul, _bt, _at */
        run_case_form(kern_isa_best(), c, form, acc, 0, me->C);
        if (memcmp(me->C, c->want[form][acc], c->m * c->n * sizeof *me->C) != 0)
            me->failures++;
    }
    return NULL;
}

static void test_threads_concurrent_callers(void **state)
{
    (void)state;
    Case cases[2];
    case_init(&cases[0], kern_isa_best(), 160, 130, 150);
    case_init(&cases[1], kern_isa_best(), 97, 200, 301);
    kern_set_threads(2);
    Caller callers[2];
    pthread_t thread[2];
    unsigned seed = 4;
    for (int t = 0; t < 2; t++) {
        callers[t] = (Caller){ .c = &cases[t], .rounds = 60 };
        callers[t].C = random_floats(cases[t].m * cases[t].n, &seed);
    }
    /* cmocka is not thread-safe: the threads only compute and count, this one checks */
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&thread[t], NULL, caller_main, &callers[t]), 0);
    for (int t = 0; t < 2; t++) assert_int_equal(pthread_join(thread[t], NULL), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(callers[t].failures, 0);
        free_floats(callers[t].C);
        case_free(&cases[t]);
    }
    assert_int_equal(pool_workers(), 1);
    kern_set_threads(1);
}

/* ---- products whose B is filled block by block (kern_matmul_fill) ---------------------------- */

/* A B stored whole, handed out block by block as kern_matmul_fill asks for it. */
typedef struct StoredB {
    const float *B;
    size_t n;           /* its columns */
    long calls;
} StoredB;

static void fill_stored(void *ctx, float *dst, size_t p0, size_t kc, size_t j0, size_t nc,
                        size_t nr)
{
    StoredB *sb = ctx;
    __atomic_add_fetch(&sb->calls, 1, __ATOMIC_RELAXED);
    size_t panels = (nc + nr - 1) / nr;
    for (size_t q = 0; q < panels; q++)
        for (size_t p = 0; p < kc; p++)
            for (size_t jj = 0; jj < nr; jj++) {
                size_t j = q * nr + jj;
                dst[q * kc * nr + p * nr + jj] = j < nc ? sb->B[(p0 + p) * sb->n + j0 + j] : 0;
            }
}

/* kern_matmul_fill of columns [j0, j0 + n) of a stored [k, j0 + n + 3] B into a C whose rows
 * are ldc = n + 5 apart gives kern_matmul's bits on the same columns (copied out), on 1 and 2
 * threads, accumulating or not; C's columns past n are left alone. */
static void check_fill(size_t m, size_t k, size_t n, size_t j0, unsigned seed)
{
    size_t wide = j0 + n + 3, ldc = n + 5;
    float *A = random_floats(m * k, &seed), *B = random_floats(k * wide, &seed);
    float *Bn = random_floats(k * n, &seed), *want = random_floats(m * n, &seed);
    float *C = random_floats(m * ldc, &seed), *start = random_floats(m * ldc, &seed);
    for (size_t p = 0; p < k; p++) memcpy(Bn + p * n, B + p * wide + j0, n * sizeof *Bn);
    for (int acc = 0; acc < 2; acc++)
        for (int threads = 1; threads <= 2; threads++) {
            kern_set_threads(threads);
            for (size_t i = 0; i < m; i++) memcpy(want + i * n, start + i * ldc, n * sizeof *want);
            kern_matmul(A, Bn, want, m, k, n, acc);
            memcpy(C, start, m * ldc * sizeof *C);
            StoredB sb = { B, wide, 0 };
            kern_matmul_fill(A, fill_stored, &sb, j0, C, ldc, m, k, n, acc);
            for (size_t i = 0; i < m; i++) {
                if (memcmp(C + i * ldc, want + i * n, n * sizeof *C) != 0
                    || memcmp(C + i * ldc + n, start + i * ldc + n, 5 * sizeof *C) != 0) {
                    print_error("fill %zux%zux%zu from column %zu, %s, %d thread(s): row %zu "
                                "differs from kern_matmul's\n", m, k, n, j0,
                                acc ? "accumulating" : "writing", threads, i);
                    fail();
                }
            }
        }
    kern_set_threads(1);
    free_floats(A), free_floats(B), free_floats(Bn), free_floats(want), free_floats(C);
    free_floats(start);
}

static void test_fill(void **state)
{
    (void)state;
    static const size_t shapes[][4] = {   /* m, k, n, j0: tiles, blocks, routes, threads */
        { 1, 1, 1, 0 }, { 6, 9, 16, 0 }, { 16, 9, 64, 3 }, { 7, 13, 29, 1 }, { 32, 150, 576, 0 },
        { 6, 25, 784, 100 }, { 13, 257, 300, 7 }, { 200, 40, 100, 0 }, { 64, 600, 513, 2 },
        { 16, 144, 4096, 0 },
    };
    for (size_t s = 0; s < NN_ARRAY_LEN(shapes); s++)
        check_fill(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], (unsigned)s + 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_detection),
        cmocka_unit_test(test_degenerate_shapes),
        cmocka_unit_test(test_odd_shapes),
        cmocka_unit_test(test_every_tile_size),
        cmocka_unit_test(test_layer_shapes),
        cmocka_unit_test(test_large_shapes),
        cmocka_unit_test(test_long_reduction),
        cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_entry_points),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_nonfinite_stays_put),
        cmocka_unit_test(test_threads_setting),
        cmocka_unit_test(test_threads_lazy),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_threads_concurrent_callers),
        cmocka_unit_test(test_threads_take_the_callers_fp_mode),
        cmocka_unit_test(test_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
