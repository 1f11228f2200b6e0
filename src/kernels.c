/* kernels.c — float32 matrix products (kernels.h): cache blocking in the manner of BLIS around
 * register-tiled micro-kernels, one per instruction set (AVX-512, AVX2 + FMA, portable C with
 * GCC vector extensions), chosen per call with __builtin_cpu_supports.
 *
 * Design. A problem is first described by a Gemm (where each operand's elements are: rows or
 * columns, C possibly transposed), then computed by one of two routes, both with the blocks of
 * chains of kernels.h, so that the route never changes a bit of the result:
 *   - products of at most SMALL_WORK multiply-adds with k in one block: a plain loop over rows
 *     of C (Kern.small);
 *   - the blocked loops (gemm_run), possibly on the transposed problem C^T = B^T A^T when C is
 *     too narrow for the vector width (want_transposed). They copy only what needs copying, into
 *     stack buffers (Work): a KC-step panel of A's rows (a memcpy per row), B when it is stored
 *     transposed or is large, the last partial panel of B, and a tile of C that is partial or
 *     transposed. The rest is read in place: a 32x64 @ 64x128 product copies just A.
 * The micro-kernels are written once per instruction set as an always-inline body with the
 * tile height, the vector count and A's layout as constants, instantiated by a switch. */
#include "kernels.h"

#include "common.h"
#include "fpmode.h"
#include "pool.h"

#include <stdatomic.h>
#include <string.h>

/* a * b + c is never contracted into fma behind our back: each path asks for fma explicitly
 * or not at all, so that all its routes give the same bits (kernels.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define KERN_X86 1
#include <immintrin.h>
#else
#define KERN_X86 0
#endif

/* ---- blocking -----------------------------------------------------------------------------
 * C is computed in tiles of MR x NR held in registers. A pass covers KC steps of k: the MR x KC
 * panel of A (12 KiB at most) stays in L1 while the micro-kernel sweeps a KC x NC block of B
 * that stays in L2 (Zen 4 and recent Intel cores have 1-2 MiB). A pass is one of the blocks of
 * k of kernels.h: its chains start from 0 (from C in the first pass when accumulating) in the
 * scratch tile and are added into double sums, MC rows at a time, unless k is one pass.
 * NC is a multiple of every NR; KC bounds the A panel. Work is KC * NC * 4 bytes + MC * NC * 8
 * bytes + 14 KiB. */
#define KC KERN_KBLOCK
#define NC 256
/* When k is longer than KC, the double sums of its blocks (kernels.h) are kept for MC rows by
 * NC columns of C (384 KiB): a multiple of every MR. (At n = 1024, 96 rows lost 6% to copying B
 * again for each block of rows; 192, nothing measurable.) */
#define MC 192
#define MR_MAX 12
#define NR_MAX 32
/* Products of at most this many multiply-adds skip blocking and copying (Kern.small): below
 * this the fixed costs of the blocked loops dominate. */
#define SMALL_WORK 1024
/* Threads (kern_set_threads) take a product only if each gets at least THREAD_WORK
 * multiply-adds: 2 threads from 2^20 (about 20 us on one Zen 4 core). Measured with
 * `bench/kernel.c --threshold` (a product alone, then cut in 2 on 2 threads) on 2 idle Zen 4
 * cores: while the worker is awake (it spins 50 us after each product, pool.c) 2 threads
 * already gain 1.3-1.4x at 2^17 and 1.65-1.7x at 2^20; when it has to be woken (a futex, then
 * the VM's vCPU) that costs 10-20 us, so 2^20 then runs at 0.6x and 2^21 breaks even.
 * Training calls products back to back, so the worker is mostly awake; the threshold bounds
 * the loss of a cold start to about 10 us on a product of 20. A product is cut into
 * PARTS_PER_THREAD parts per thread, handed out first come, first served, so that a thread
 * that starts late or shares its core takes fewer (1 and 2 measured alike on idle cores, 4
 * lost 5% at n = 1024). */
#define THREAD_WORK ((size_t)1 << 19)
#define PARTS_PER_THREAD 2

/* Which of k's KC blocks a pass of the blocked loops covers (kernels.h). PASS_ONLY: k is one
 * block, the tile's chains go to C. Otherwise they go into the tile's double sums D: the first
 * pass sets them, the middle ones add to them, the last one stores their total in C. */
typedef enum Pass { PASS_ONLY, PASS_FIRST, PASS_MIDDLE, PASS_LAST } Pass;

/* One micro-tile: C[0:mr, 0:nr] (+)= A[0:mr, 0:kc] B[0:kc, 0:nr], through D as pass says. */
typedef struct Tile {
    const float *a;     /* A[i,p] = a[i*KC + p] if lda == 0 (a packed panel), else a[p*lda + i] */
    size_t lda;
    const float *b;     /* B[p,j] = b[p*ldb + j]; NR columns readable (zeros past nr) */
    size_t ldb;
    float *c;           /* C[i,j] = c[i*ldc + j]; NR columns readable and writable */
    size_t ldc;
    size_t kc;          /* >= 1 */
    int mr;             /* rows, 1..MR */
    int nr;             /* columns that matter, 1..NR: the kernel may skip vectors past them */
    bool load_c;        /* start from C, else from 0 */
    Pass pass;
    double *d;          /* D[i,j] = d[i*NC + j], NR columns, unless pass is PASS_ONLY */
} Tile;

/* The problem, with the layout of each operand spelled out. */
typedef struct Gemm {
    const float *a;     /* A[i,p] = a_cols ? a[p*lda + i] : a[i*lda + p] */
    size_t lda;
    bool a_cols;
    const float *b;     /* B[p,j] = b_trans ? b[j*ldb + p] : b[p*ldb + j] */
    size_t ldb;
    bool b_trans;
    KernFillB fill;     /* if not NULL, B is not stored: fill(fill_ctx, ...) writes its blocks */
    void *fill_ctx;
    size_t fill_j0;     /* B's column 0 is column fill_j0 of fill's matrix (a part of C) */
    float *c;           /* C[i,j] = c_trans ? c[j*ldc + i] : c[i*ldc + j] */
    size_t ldc;
    bool c_trans;
    size_t m, k, n;
    bool accumulate;
} Gemm;

/* An instruction-set path: its tile size, its micro-kernel and its packer for B stored
 * transposed. */
typedef struct Kern {
    int mr, nr;
    void (*tile)(const Tile *t);
    /* dst <- the kc x nc block of B where B[p,j] = src[j*ld + p], as panels of NR columns
     * (panel q at dst + q*kc*NR, element [p,jj] at p*NR + jj), zero past nc. */
    void (*pack_bt)(float *dst, const float *src, size_t ld, size_t kc, size_t nc);
    /* The whole product without blocking or packing, for products too small to pay for it. */
    void (*small)(const Gemm *g);
} Kern;

/* Packing buffers, on the caller's stack (kern_stack_bytes). */
typedef struct Work {
    _Alignas(64) float b[KC * NC];          /* packed B block, or the last partial B panel */
    _Alignas(64) float a[MR_MAX * KC];      /* packed A panel */
    _Alignas(64) float c[MR_MAX * NR_MAX];  /* a tile of C that is partial or transposed */
    _Alignas(64) double d[MC * NC];         /* the blocks' double sums, when k > KC */
} Work;

#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Fully unrolls a loop over the rows of a tile, so that the accumulators live in registers. */
#if defined(__clang__)
#define UNROLL_ROWS _Pragma("clang loop unroll(full)")
#else
#define UNROLL_ROWS _Pragma("GCC unroll 12")
#endif

/* Elements of the operands of a problem, for the small-product loops. */
static ALWAYS_INLINE float a_elem(const Gemm *g, size_t i, size_t p)
{
    return g->a_cols ? g->a[p * g->lda + i] : g->a[i * g->lda + p];
}

static ALWAYS_INLINE float b_elem(const Gemm *g, size_t p, size_t j)
{
    return g->b_trans ? g->b[j * g->ldb + p] : g->b[p * g->ldb + j];
}

/* The small product element by element, for the columns j >= j_from: four columns at a time
 * so that four chains are in flight. fused: fmaf, else a multiply then an add. */
static ALWAYS_INLINE void small_scalar(const Gemm *g, size_t j_from, const bool fused)
{
    for (size_t i = 0; i < g->m; i++) {
        float *c = g->c + i * g->ldc;
        size_t j = j_from;
        for (; j + 4 <= g->n; j += 4) {
            float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
            if (g->accumulate) c0 = c[j], c1 = c[j + 1], c2 = c[j + 2], c3 = c[j + 3];
            for (size_t p = 0; p < g->k; p++) {
                float a = a_elem(g, i, p);
                float b0 = b_elem(g, p, j), b1 = b_elem(g, p, j + 1);
                float b2 = b_elem(g, p, j + 2), b3 = b_elem(g, p, j + 3);
                if (fused) {
                    c0 = __builtin_fmaf(a, b0, c0), c1 = __builtin_fmaf(a, b1, c1);
                    c2 = __builtin_fmaf(a, b2, c2), c3 = __builtin_fmaf(a, b3, c3);
                } else {
                    c0 = c0 + a * b0, c1 = c1 + a * b1, c2 = c2 + a * b2, c3 = c3 + a * b3;
                }
            }
            c[j] = c0, c[j + 1] = c1, c[j + 2] = c2, c[j + 3] = c3;
        }
        for (; j < g->n; j++) {
            float acc = g->accumulate ? c[j] : 0.0f;
            for (size_t p = 0; p < g->k; p++)
                acc = fused ? __builtin_fmaf(a_elem(g, i, p), b_elem(g, p, j), acc)
                            : acc + a_elem(g, i, p) * b_elem(g, p, j);
            c[j] = acc;
        }
    }
}

/* The transposed packer for paths without a faster one. */
static ALWAYS_INLINE void pack_bt_scalar(float *dst, const float *src, size_t ld, size_t kc,
                                         size_t nc, int nr)
{
    for (size_t j0 = 0; j0 < nc; j0 += (size_t)nr) {
        size_t w = nc - j0 < (size_t)nr ? nc - j0 : (size_t)nr;
        for (size_t jj = 0; jj < w; jj++) {
            const float *s = src + (j0 + jj) * ld;
            for (size_t p = 0; p < kc; p++) dst[p * (size_t)nr + jj] = s[p];
        }
        for (size_t p = 0; w < (size_t)nr && p < kc; p++)
            memset(dst + p * (size_t)nr + w, 0, ((size_t)nr - w) * sizeof *dst);
        dst += kc * (size_t)nr;
    }
}

/* ---- portable path: 6 x 8 tiles of 4-float vectors ------------------------------------- */

#define PORT_MR 6
#define PORT_NR 8

typedef float V4 __attribute__((vector_size(16)));

/* Fused where the target has a fast fma (aarch64, or x86 built for FMA): the same bits as the
 * x86 paths. Elsewhere fmaf would be a slow library call: a multiply, then an add. */
#if defined(__FP_FAST_FMAF) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define PORT_FUSED true
#else
#define PORT_FUSED false
#endif

/* c + a b, lane by lane; compilers turn the fused form into one vector fma. */
static ALWAYS_INLINE V4 v4_madd(float a, V4 b, V4 c)
{
    if (!PORT_FUSED) return c + a * b;
    return (V4){ __builtin_fmaf(a, b[0], c[0]), __builtin_fmaf(a, b[1], c[1]),
                 __builtin_fmaf(a, b[2], c[2]), __builtin_fmaf(a, b[3], c[3]) };
}

static ALWAYS_INLINE V4 v4_load(const float *p)
{
    V4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static ALWAYS_INLINE void v4_store(float *p, V4 v)
{
    memcpy(p, &v, sizeof v);
}

/* Row i's vector at column col of the tile: into C, or into D as the pass says (Tile). */
static ALWAYS_INLINE void v4_finish(const Tile *t, int i, int col, V4 v)
{
    float *c = t->c + (size_t)i * t->ldc + (size_t)col;
    if (t->pass == PASS_ONLY) {
        v4_store(c, v);
        return;
    }
    double *d = t->d + (size_t)i * NC + (size_t)col;
    for (int l = 0; l < 4; l++) {
        double x = t->pass == PASS_FIRST ? (double)v[l] : d[l] + (double)v[l];
        if (t->pass == PASS_LAST)
            c[l] = (float)x;
        else
            d[l] = x;
    }
}

static ALWAYS_INLINE void tile_port_body(const Tile *t, const int MR, const bool cols)
{
    V4 acc[PORT_MR][2];
    const size_t ldc = t->ldc;
    UNROLL_ROWS
    for (int i = 0; i < MR; i++) {
        if (t->load_c) {
            acc[i][0] = v4_load(t->c + (size_t)i * ldc);
            acc[i][1] = v4_load(t->c + (size_t)i * ldc + 4);
        } else {
            acc[i][0] = acc[i][1] = (V4){ 0, 0, 0, 0 };
        }
    }
    const float *a = t->a, *b = t->b;
    const size_t astep = cols ? t->lda : 1, ldb = t->ldb;
    for (size_t p = t->kc; p; p--) {
        V4 b0 = v4_load(b), b1 = v4_load(b + 4);
    UNROLL_ROWS
        for (int i = 0; i < MR; i++) {
            float ai = a[cols ? (size_t)i : (size_t)i * KC];
            acc[i][0] = v4_madd(ai, b0, acc[i][0]);
            acc[i][1] = v4_madd(ai, b1, acc[i][1]);
        }
        a += astep;
        b += ldb;
    }
    UNROLL_ROWS
    for (int i = 0; i < MR; i++) {
        v4_finish(t, i, 0, acc[i][0]);
        v4_finish(t, i, 4, acc[i][1]);
    }
}

#define PORT_CASE(M) \
    case 2 * (M): tile_port_body(t, M, false); break; \
    case 2 * (M) + 1: tile_port_body(t, M, true); break;

static void tile_port(const Tile *t)
{
    switch (2 * t->mr + (t->lda != 0)) {
    PORT_CASE(1) PORT_CASE(2) PORT_CASE(3) PORT_CASE(4) PORT_CASE(5) PORT_CASE(6)
    default: NN_ASSERT(!"bad tile height");
    }
}

static void pack_bt_port(float *dst, const float *src, size_t ld, size_t kc, size_t nc)
{
    pack_bt_scalar(dst, src, ld, kc, nc, PORT_NR);
}

/* A row of C at a time in vectors of 4 columns (B in rows), the rest element by element. */
static void small_port(const Gemm *g)
{
    size_t n4 = g->b_trans ? 0 : g->n & ~(size_t)3;
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < n4; j += 4) {
            float *c = g->c + i * g->ldc + j;
            V4 acc = g->accumulate ? v4_load(c) : (V4){ 0, 0, 0, 0 };
            for (size_t p = 0; p < g->k; p++)
                acc = v4_madd(a_elem(g, i, p), v4_load(g->b + p * g->ldb + j), acc);
            v4_store(c, acc);
        }
    small_scalar(g, n4, PORT_FUSED);
}

static const Kern kern_port = { PORT_MR, PORT_NR, tile_port, pack_bt_port, small_port };

#if KERN_X86

/* ---- x86: a transposed packer built from 8 x 8 transposes (AVX) ------------------------ */

#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

/* dst[r*ldd + c] = src[c*lds + r] for an 8 x 8 block. */
static ALWAYS_INLINE TARGET_AVX2 void transpose8(float *dst, size_t ldd, const float *src,
                                                 size_t lds)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* pack_bt for NR-column panels: whole 8 x 8 blocks by transposes, the rest element-wise. */
static ALWAYS_INLINE TARGET_AVX2 void pack_bt_x86(float *dst, const float *src, size_t ld,
                                                  size_t kc, size_t nc, int nr)
{
    const size_t NR = (size_t)nr;
    for (size_t j0 = 0; j0 < nc; j0 += NR) {
        size_t w = nc - j0 < NR ? nc - j0 : NR;
        size_t w8 = w & ~(size_t)7, k8 = kc & ~(size_t)7;
        for (size_t jj = 0; jj < w8; jj += 8) {
            const float *s = src + (j0 + jj) * ld;
            for (size_t p = 0; p < k8; p += 8) transpose8(dst + p * NR + jj, NR, s + p, ld);
            for (size_t p = k8; p < kc; p++)
                for (size_t q = 0; q < 8; q++) dst[p * NR + jj + q] = s[q * ld + p];
        }
        for (size_t jj = w8; jj < w; jj++) {
            const float *s = src + (j0 + jj) * ld;
            for (size_t p = 0; p < kc; p++) dst[p * NR + jj] = s[p];
        }
        for (size_t p = 0; w < NR && p < kc; p++)
            for (size_t jj = w; jj < NR; jj++) dst[p * NR + jj] = 0;   /* no call per row */
        dst += kc * NR;
    }
}

static TARGET_AVX2 void small_fused(const Gemm *g, size_t j_from)
{
    small_scalar(g, j_from, true);
}

/* ---- AVX2 + FMA: 6 x 16 tiles (12 accumulators, 2 B vectors, 1 broadcast: 15 of 16 ymm) -- */

#define AVX2_MR 6
#define AVX2_NR 16

/* Row i's vector at column col of the tile: into C, or into D as the pass says (Tile). */
static ALWAYS_INLINE TARGET_AVX2 void avx2_finish(const Tile *t, int i, int col, __m256 v)
{
    float *c = t->c + (size_t)i * t->ldc + (size_t)col;
    if (t->pass == PASS_ONLY) {
        _mm256_storeu_ps(c, v);
        return;
    }
    double *d = t->d + (size_t)i * NC + (size_t)col;
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    if (t->pass != PASS_FIRST) {
        lo = _mm256_add_pd(lo, _mm256_loadu_pd(d));
        hi = _mm256_add_pd(hi, _mm256_loadu_pd(d + 4));
    }
    if (t->pass == PASS_LAST) {
        _mm_storeu_ps(c, _mm256_cvtpd_ps(lo));
        _mm_storeu_ps(c + 4, _mm256_cvtpd_ps(hi));
    } else {
        _mm256_storeu_pd(d, lo);
        _mm256_storeu_pd(d + 4, hi);
    }
}

static ALWAYS_INLINE TARGET_AVX2 void tile_avx2_body(const Tile *t, const int MR, const int NV,
                                                     const bool cols)
{
    __m256 acc[AVX2_MR][2];
    const size_t ldc = t->ldc;
    UNROLL_ROWS
    for (int i = 0; i < MR; i++) {
        if (t->load_c) {
            acc[i][0] = _mm256_loadu_ps(t->c + (size_t)i * ldc);
            acc[i][1] = NV == 2 ? _mm256_loadu_ps(t->c + (size_t)i * ldc + 8) : acc[i][0];
        } else {
            acc[i][0] = acc[i][1] = _mm256_setzero_ps();
        }
    }
    const float *a = t->a, *b = t->b;
    const size_t astep = cols ? t->lda : 1, ldb = t->ldb;
    for (size_t p = t->kc; p; p--) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = NV == 2 ? _mm256_loadu_ps(b + 8) : b0;
    UNROLL_ROWS
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + (cols ? (size_t)i : (size_t)i * KC));
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            if (NV == 2) acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += astep;
        b += ldb;
    }
    UNROLL_ROWS
    for (int i = 0; i < MR; i++) {
        avx2_finish(t, i, 0, acc[i][0]);
        if (NV == 2) avx2_finish(t, i, 8, acc[i][1]);
    }
}

#define AVX2_CASE(M) \
    case 4 * (M): tile_avx2_body(t, M, 1, false); break; \
    case 4 * (M) + 1: tile_avx2_body(t, M, 1, true); break; \
    case 4 * (M) + 2: tile_avx2_body(t, M, 2, false); break; \
    case 4 * (M) + 3: tile_avx2_body(t, M, 2, true); break;

static TARGET_AVX2 void tile_avx2(const Tile *t)
{
    switch (4 * t->mr + 2 * (t->nr > AVX2_NR / 2) + (t->lda != 0)) {
    AVX2_CASE(1) AVX2_CASE(2) AVX2_CASE(3) AVX2_CASE(4) AVX2_CASE(5) AVX2_CASE(6)
    default: NN_ASSERT(!"bad tile height");
    }
}

static TARGET_AVX2 void pack_bt_avx2(float *dst, const float *src, size_t ld, size_t kc,
                                     size_t nc)
{
    pack_bt_x86(dst, src, ld, kc, nc, AVX2_NR);
}

/* A row of C at a time in vectors of 8 columns (B in rows), the rest element by element. */
static TARGET_AVX2 void small_avx2(const Gemm *g)
{
    size_t n8 = g->b_trans ? 0 : g->n & ~(size_t)7;
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < n8; j += 8) {
            float *c = g->c + i * g->ldc + j;
            __m256 acc = g->accumulate ? _mm256_loadu_ps(c) : _mm256_setzero_ps();
            for (size_t p = 0; p < g->k; p++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(a_elem(g, i, p)),
                                      _mm256_loadu_ps(g->b + p * g->ldb + j), acc);
            _mm256_storeu_ps(c, acc);
        }
    small_fused(g, n8);
}

static const Kern kern_avx2 = { AVX2_MR, AVX2_NR, tile_avx2, pack_bt_avx2, small_avx2 };

/* ---- AVX-512: 12 x 32 tiles (24 accumulators, 2 B vectors, 1 broadcast of 32 zmm) ------- */

#define AVX512_MR 12
#define AVX512_NR 32

/* Row i's vector at column col of the tile: into C, or into D as the pass says (Tile). */
static ALWAYS_INLINE TARGET_AVX512 void avx512_finish(const Tile *t, int i, int col, __m512 v)
{
    float *c = t->c + (size_t)i * t->ldc + (size_t)col;
    if (t->pass == PASS_ONLY) {
        _mm512_storeu_ps(c, v);
        return;
    }
    double *d = t->d + (size_t)i * NC + (size_t)col;
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    if (t->pass != PASS_FIRST) {
        lo = _mm512_add_pd(lo, _mm512_loadu_pd(d));
        hi = _mm512_add_pd(hi, _mm512_loadu_pd(d + 8));
    }
    if (t->pass == PASS_LAST) {
        _mm256_storeu_ps(c, _mm512_cvtpd_ps(lo));
        _mm256_storeu_ps(c + 8, _mm512_cvtpd_ps(hi));
    } else {
        _mm512_storeu_pd(d, lo);
        _mm512_storeu_pd(d + 8, hi);
    }
}

static ALWAYS_INLINE TARGET_AVX512 void tile_avx512_body(const Tile *t, const int MR,
                                                         const int NV, const bool cols)
{
    __m512 acc[AVX512_MR][2];
    const size_t ldc = t->ldc;
    UNROLL_ROWS
    for (int i = 0; i < MR; i++) {
        if (t->load_c) {
            acc[i][0] = _mm512_loadu_ps(t->c + (size_t)i * ldc);
            acc[i][1] = NV == 2 ? _mm512_loadu_ps(t->c + (size_t)i * ldc + 16) : acc[i][0];
        } else {
            acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        }
    }
    const float *a = t->a, *b = t->b;
    const size_t astep = cols ? t->lda : 1, ldb = t->ldb;
    for (size_t p = t->kc; p; p--) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = NV == 2 ? _mm512_loadu_ps(b + 16) : b0;
    UNROLL_ROWS
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[cols ? (size_t)i : (size_t)i * KC]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (NV == 2) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += astep;
        b += ldb;
    }
    UNROLL_ROWS
    for (int i = 0; i < MR; i++) {
        avx512_finish(t, i, 0, acc[i][0]);
        if (NV == 2) avx512_finish(t, i, 16, acc[i][1]);
    }
}

#define AVX512_CASE(M) \
    case 4 * (M): tile_avx512_body(t, M, 1, false); break; \
    case 4 * (M) + 1: tile_avx512_body(t, M, 1, true); break; \
    case 4 * (M) + 2: tile_avx512_body(t, M, 2, false); break; \
    case 4 * (M) + 3: tile_avx512_body(t, M, 2, true); break;

static TARGET_AVX512 void tile_avx512(const Tile *t)
{
    switch (4 * t->mr + 2 * (t->nr > AVX512_NR / 2) + (t->lda != 0)) {
    AVX512_CASE(1) AVX512_CASE(2) AVX512_CASE(3) AVX512_CASE(4) AVX512_CASE(5) AVX512_CASE(6)
    AVX512_CASE(7) AVX512_CASE(8) AVX512_CASE(9) AVX512_CASE(10) AVX512_CASE(11)
    AVX512_CASE(12)
    default: NN_ASSERT(!"bad tile height");
    }
}

static TARGET_AVX512 void pack_bt_avx512(float *dst, const float *src, size_t ld, size_t kc,
                                         size_t nc)
{
    pack_bt_x86(dst, src, ld, kc, nc, AVX512_NR);
}

/* A row of C at a time in vectors of 16 columns, the last one masked (B in rows), else
 * element by element. */
static TARGET_AVX512 void small_avx512(const Gemm *g)
{
    if (g->b_trans) {
        small_fused(g, 0);
        return;
    }
    for (size_t i = 0; i < g->m; i++)
        for (size_t j = 0; j < g->n; j += 16) {
            __mmask16 mask = g->n - j >= 16 ? 0xffff : (__mmask16)((1u << (g->n - j)) - 1);
            float *c = g->c + i * g->ldc + j;
            __m512 acc = g->accumulate ? _mm512_maskz_loadu_ps(mask, c) : _mm512_setzero_ps();
            for (size_t p = 0; p < g->k; p++)
                acc = _mm512_fmadd_ps(_mm512_set1_ps(a_elem(g, i, p)),
                                      _mm512_maskz_loadu_ps(mask, g->b + p * g->ldb + j), acc);
            _mm512_mask_storeu_ps(c, mask, acc);
        }
}

static const Kern kern_avx512 = { AVX512_MR, AVX512_NR, tile_avx512, pack_bt_avx512,
                                  small_avx512 };

#endif /* KERN_X86 */

/* ---- the blocked loops --------------------------------------------------------------------- */

/* dst <- the kc x nc block of B where B[p,j] = src[p*ld + j], as panels of nr columns. */
static void pack_b_rows(float *dst, const float *src, size_t ld, size_t kc, size_t nc, int nr)
{
    const size_t NR = (size_t)nr;
    for (size_t j0 = 0; j0 < nc; j0 += NR) {
        size_t w = nc - j0 < NR ? nc - j0 : NR;
        for (size_t p = 0; p < kc; p++) {
            memcpy(dst + p * NR, src + p * ld + j0, w * sizeof *dst);
            for (size_t jj = w; jj < NR; jj++) dst[p * NR + jj] = 0;   /* no call per row */
        }
        dst += kc * NR;
    }
}

/* dst[p*MR + i] <- src[p*ld + i] for i < mr, p < kc: rows of A^T into a column panel. The
 * whole-panel copies have constant sizes so that they compile to a few moves. */
static void pack_a_cols(float *dst, const float *src, size_t ld, size_t kc, size_t mr, size_t MR)
{
    if (mr == 12 && MR == 12)
        for (size_t p = 0; p < kc; p++) memcpy(dst + p * 12, src + p * ld, 12 * sizeof *dst);
    else if (mr == 6 && MR == 6)
        for (size_t p = 0; p < kc; p++) memcpy(dst + p * 6, src + p * ld, 6 * sizeof *dst);
    else
        for (size_t p = 0; p < kc; p++) memcpy(dst + p * MR, src + p * ld, mr * sizeof *dst);
}

/* C[i,j] of the problem's C, for tiles that go through the scratch tile. */
static float *c_at(const Gemm *g, size_t i, size_t j)
{
    return g->c_trans ? g->c + j * g->ldc + i : g->c + i * g->ldc + j;
}

/* One tile of C at (i0, j0), mr x nr: straight into C when it is whole and not transposed,
 * else through the scratch tile. (Passes that end in D leave C alone.) */
static void run_tile(const Kern *K, const Gemm *g, Tile *t, size_t i0, size_t j0, float *scratch)
{
    if (!g->c_trans && t->nr == K->nr) {
        t->c = g->c + i0 * g->ldc + j0;
        t->ldc = g->ldc;
        K->tile(t);
        return;
    }
    const size_t NR = (size_t)K->nr, mr = (size_t)t->mr, nr = (size_t)t->nr;
    if (t->load_c)
        for (size_t i = 0; i < mr; i++)
            for (size_t j = 0; j < nr; j++) scratch[i * NR + j] = *c_at(g, i0 + i, j0 + j);
    t->c = scratch;
    t->ldc = NR;
    K->tile(t);
    if (t->pass == PASS_ONLY || t->pass == PASS_LAST)
        for (size_t i = 0; i < mr; i++)
            for (size_t j = 0; j < nr; j++) *c_at(g, i0 + i, j0 + j) = scratch[i * NR + j];
}

/* Whether to copy B into panels: always when it is stored transposed. In rows, B is read in
 * place unless its rows are long (a pass over KC rows then touches a page per row, and rows a
 * multiple of 4 KiB apart compete for the same cache sets) and enough rows of A reuse the copy.
 * (Measured on Zen 4: copying loses up to 15% at n = 256 and 512, gains 5-10% at n = 1000.)
 * The row length is ldb, which is n except in a part cut from C's columns (threads). */
static bool want_pack_b(const Gemm *g)
{
    return g->fill || g->b_trans || (g->m >= 96 && g->ldb >= 768);
}

/* Whether to copy column-stored A into a contiguous panel: when enough panels of B reuse it. */
static bool want_pack_a_cols(const Kern *K, const Gemm *g)
{
    return g->n > 2 * (size_t)K->nr;
}

/* One block of the blocked loops: rows [i_lo, i_hi) and columns [jc, jc + nc) of C over the
 * KC steps of k from pc. */
typedef struct Block {
    size_t i_lo, i_hi, jc, nc, pc, kc;
    Pass pass;
    bool pack_b, copy_a_cols;
} Block;

/* B's part of the block: the whole block in panels, or only the last partial panel (read in
 * place, B would be read past its row). */
static void block_pack_b(const Kern *K, const Gemm *g, const Block *bk, Work *w)
{
    const size_t NR = (size_t)K->nr, full = bk->nc - bk->nc % NR;
    if (g->fill)
        g->fill(g->fill_ctx, w->b, bk->pc, bk->kc, g->fill_j0 + bk->jc, bk->nc, NR);
    else if (bk->pack_b && g->b_trans)
        K->pack_bt(w->b, g->b + bk->jc * g->ldb + bk->pc, g->ldb, bk->kc, bk->nc);
    else if (bk->pack_b)
        pack_b_rows(w->b, g->b + bk->pc * g->ldb + bk->jc, g->ldb, bk->kc, bk->nc, K->nr);
    else if (full < bk->nc)
        pack_b_rows(w->b, g->b + bk->pc * g->ldb + bk->jc + full, g->ldb, bk->kc,
                    bk->nc - full, K->nr);
}

/* dst[0 .. n) <- src[0 .. n) in blocks of constant size, which compile to vector moves: a
 * memcpy of variable length becomes `rep movs`, whose start-up costs more than copying the
 * short rows of A here (25 to 256 floats). */
static inline void copy_row(float *dst, const float *src, size_t n)
{
    for (; n >= 16; n -= 16, dst += 16, src += 16) memcpy(dst, src, 16 * sizeof *dst);
    if (n >= 8) memcpy(dst, src, 8 * sizeof *dst), n -= 8, dst += 8, src += 8;
    if (n >= 4) memcpy(dst, src, 4 * sizeof *dst), n -= 4, dst += 4, src += 4;
    if (n >= 1) dst[0] = src[0];    /* not a loop, which gcc would turn into memcpy */
    if (n >= 2) dst[1] = src[1];
    if (n >= 3) dst[2] = src[2];
}

/* The tile's A: mr rows from ic over the block's steps, copied unless it can be read in
 * place. */
static void tile_a(const Kern *K, const Gemm *g, const Block *bk, size_t ic, Tile *t, Work *w)
{
    const size_t mr = (size_t)t->mr, pc = bk->pc;
    if (g->a_cols && !bk->copy_a_cols) {
        t->a = g->a + pc * g->lda + ic;
        t->lda = g->lda;
    } else if (g->a_cols) {
        pack_a_cols(w->a, g->a + pc * g->lda + ic, g->lda, bk->kc, mr, (size_t)K->mr);
        t->a = w->a;
        t->lda = (size_t)K->mr;
    } else if (mr == 1) {
        t->a = g->a + ic * g->lda + pc;  /* one row: already a column panel */
        t->lda = 1;
    } else {
        for (size_t i = 0; i < mr; i++)
            copy_row(w->a + i * KC, g->a + (ic + i) * g->lda + pc, bk->kc);
        t->a = w->a;
        t->lda = 0;
    }
}

/* The tile's B: the panel of columns from jr of the block (packed, in place, or the copied
 * last partial panel). */
static void tile_b(const Kern *K, const Gemm *g, const Block *bk, size_t jr, Tile *t,
                   const Work *w)
{
    const size_t NR = (size_t)K->nr, full = bk->nc - bk->nc % NR;
    if (bk->pack_b) {
        t->b = w->b + jr * bk->kc;
        t->ldb = NR;
    } else if (jr < full) {
        t->b = g->b + bk->pc * g->ldb + bk->jc + jr;
        t->ldb = g->ldb;
    } else {
        t->b = w->b;
        t->ldb = NR;
    }
}

/* The block: B's block, then each panel of MR rows of A against each tile of NR columns. */
static void run_block(const Kern *K, const Gemm *g, const Block *bk, Work *w)
{
    const size_t MR = (size_t)K->mr, NR = (size_t)K->nr;
    Tile t = { .kc = bk->kc, .load_c = g->accumulate && bk->pass <= PASS_FIRST,
               .pass = bk->pass };
    block_pack_b(K, g, bk, w);
    for (size_t ic = bk->i_lo; ic < bk->i_hi; ic += MR) {
        t.mr = (int)(bk->i_hi - ic < MR ? bk->i_hi - ic : MR);
        tile_a(K, g, bk, ic, &t, w);
        for (size_t jr = 0; jr < bk->nc; jr += NR) {
            t.nr = (int)(bk->nc - jr < NR ? bk->nc - jr : NR);
            tile_b(K, g, bk, jr, &t, w);
            t.d = bk->pass == PASS_ONLY ? NULL : w->d + (ic - bk->i_lo) * NC + jr;
            run_tile(K, g, &t, ic, bk->jc + jr, w->c);
        }
    }
}

/* The blocked loops: for each block of NC columns of C and each pass of KC steps of k, a
 * Block. When k takes several passes, their double sums (Work.d) hold MC rows: the rows are
 * taken MC at a time, outside the passes. m, k, n >= 1. */
static void gemm_run(const Kern *K, const Gemm *g, Work *w)
{
    const bool one_pass = g->k <= KC;
    const size_t rows = one_pass ? g->m : MC;
    Block bk = { .pack_b = want_pack_b(g), .copy_a_cols = g->a_cols && want_pack_a_cols(K, g) };
    for (bk.jc = 0; bk.jc < g->n; bk.jc += NC) {
        bk.nc = g->n - bk.jc < NC ? g->n - bk.jc : NC;
        for (bk.i_lo = 0; bk.i_lo < g->m; bk.i_lo += rows) {
            bk.i_hi = g->m - bk.i_lo < rows ? g->m : bk.i_lo + rows;
            for (bk.pc = 0; bk.pc < g->k; bk.pc += KC) {
                bk.kc = g->k - bk.pc < KC ? g->k - bk.pc : KC;
                bk.pass = one_pass ? PASS_ONLY
                          : bk.pc == 0 ? PASS_FIRST
                          : bk.pc + bk.kc == g->k ? PASS_LAST : PASS_MIDDLE;
                run_block(K, g, &bk, w);
            }
        }
    }
}

/* ---- entry points -------------------------------------------------------------------------- */

bool kern_isa_supported(KernIsa isa)
{
    switch (isa) {
    case KERN_ISA_PORTABLE: return true;
#if KERN_X86
    case KERN_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KERN_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default: return false;
    }
}

bool kern_isa_fused(KernIsa isa)
{
    return isa == KERN_ISA_PORTABLE ? PORT_FUSED : isa < KERN_ISA_COUNT;
}

KernIsa kern_isa_best(void)
{
    if (kern_isa_supported(KERN_ISA_AVX512)) return KERN_ISA_AVX512;
    if (kern_isa_supported(KERN_ISA_AVX2)) return KERN_ISA_AVX2;
    return KERN_ISA_PORTABLE;
}

const char *kern_isa_name(KernIsa isa)
{
    switch (isa) {
    case KERN_ISA_PORTABLE: return "portable";
    case KERN_ISA_AVX2: return "avx2";
    case KERN_ISA_AVX512: return "avx512";
    default: return "?";
    }
}

size_t kern_stack_bytes(void)
{
    return sizeof(Work) + 1024;
}

/* The path's tables; the path must be supported. */
static const Kern *kern_of(KernIsa isa)
{
#if KERN_X86
    if (isa == KERN_ISA_AVX512) return &kern_avx512;
    if (isa == KERN_ISA_AVX2) return &kern_avx2;
#endif
    (void)isa;
    return &kern_port;
}

static const Kern *kern_for(KernIsa isa)
{
    NN_ASSERT(kern_isa_supported(isa));
    return kern_of(isa);
}

/* The same product as C^T = B^T A^T: the same elements by the same chains (kernels.h). Its A
 * is op(B)^T, whose rows are B's columns; its B is op(A)^T; its C is C seen transposed. */
static Gemm gemm_transposed(const Gemm *g)
{
    Gemm t = {
        .a = g->b, .lda = g->ldb, .a_cols = !g->b_trans,
        .b = g->a, .ldb = g->lda, .b_trans = !g->a_cols,
        .c = g->c, .ldc = g->ldc, .c_trans = !g->c_trans,
        .m = g->n, .k = g->k, .n = g->m, .accumulate = g->accumulate,
    };
    return t;
}

/* Whether the transposed problem is cheaper. Tiles are NR wide, so C should be wide rather
 * than tall; B stored transposed costs a transposing copy, A stored in rows costs one in the
 * transposed problem. */
static bool want_transposed(const Kern *K, const Gemm *g)
{
    const size_t NR = (size_t)K->nr;
    if (g->b_trans || g->fill) return false;
    if (g->a_cols) return g->n < NR / 2 && g->m > g->n;
    return g->n <= NR / 4 && g->m >= 4 * NR;
}

/* ---- threads ---------------------------------------------------------------------------
 * A product large enough is cut into parts along the rows or the columns of C (of the problem
 * as computed, after want_transposed), never along k, and the parts are handed to the pool
 * (pool.h). Each part runs the blocked loops on its own block of C with its own Work, so every
 * element is still computed by the one chain of kernels.h: the bits do not depend on the
 * number of threads or parts. Cuts fall on tile edges (multiples of MR rows or NR columns) so
 * that only the last part has a partial tile. */

/* A product cut into parts, for pool_run. Part q covers the units [units q / parts,
 * units (q+1) / parts) of unit rows (cut_rows) or columns of C. */
typedef struct Split {
    const Kern *K;
    FpMode fp;          /* the caller's floating-point mode, which every part computes in */
    Gemm g;
    bool cut_rows;
    size_t unit;
    size_t units;
    int parts;
} Split;

_Static_assert(KERN_MAX_THREADS <= POOL_MAX_THREADS, "the pool has too few threads");

/* The number of threads set by kern_set_threads: process-wide, like the pool (pool.c). */
static atomic_int kern_thread_count = 1;

void kern_set_threads(int n)
{
    if (n < 1) n = 1;
    if (n > KERN_MAX_THREADS) n = KERN_MAX_THREADS;
    int old = atomic_exchange(&kern_thread_count, n);
    if (n < old) pool_shutdown();   /* started again when needed */
}

int kern_threads(void)
{
    return atomic_load_explicit(&kern_thread_count, memory_order_relaxed);
}

/* m k n >= w, without overflow. n >= 1. */
static bool work_at_least(const Gemm *g, size_t w)
{
    return g->m * g->k >= w / g->n + (w % g->n != 0);
}

/* How to cut g into parts (at most `parts`, at least 1): along the dimension of C with more
 * tiles, so that the parts stay balanced; rows on a tie (a little faster at n = 1024). */
static Split split_make(const Kern *K, const Gemm *g, int parts)
{
    Split s = { .K = K, .g = *g };
    const size_t MR = (size_t)K->mr, NR = (size_t)K->nr;
    const size_t row_units = (g->m + MR - 1) / MR, col_units = (g->n + NR - 1) / NR;
    s.cut_rows = row_units >= col_units;
    s.unit = s.cut_rows ? MR : NR;
    s.units = s.cut_rows ? row_units : col_units;
    s.parts = (size_t)parts < s.units ? parts : (int)s.units;
    return s;
}

/* The Work of a part, on the stack of the thread that runs it. noinline: gemm's frame holds
 * no Work, so a caller that runs parts needs kern_stack_bytes() once, not twice. */
static __attribute__((noinline)) void gemm_alone(const Kern *K, const Gemm *g)
{
    Work w;
    gemm_run(K, g, &w);
}

/* PoolTask: part `part` of the Split ctx, in the caller's floating-point mode (a worker's
 * own is put back after). */
static void split_part(void *ctx, int part)
{
    const Split *s = ctx;
    const FpMode own = fp_mode_get();
    fp_mode_set(s->fp);
    const size_t q = (size_t)part, parts = (size_t)s->parts;
    const size_t lo = s->units * q / parts * s->unit;
    size_t hi = s->units * (q + 1) / parts * s->unit;
    Gemm g = s->g;
    if (s->cut_rows) {
        if (hi > g.m) hi = g.m;
        g.a += g.a_cols ? lo : lo * g.lda;
        g.c += g.c_trans ? lo : lo * g.ldc;
        g.m = hi - lo;
    } else {
        if (hi > g.n) hi = g.n;
        if (g.fill) g.fill_j0 += lo;
        else g.b += g.b_trans ? lo * g.ldb : lo;
        g.c += g.c_trans ? lo * g.ldc : lo;
        g.n = hi - lo;
    }
    gemm_alone(s->K, &g);
    fp_mode_set(own);
}

size_t kern_worker_stack_bytes(void)
{
    return ((size_t)1 << 20) + kern_stack_bytes();
}

/* The blocked loops on g, cut into up to `parts` parts run by up to `threads` threads (in
 * order on the caller if threads is 1). */
static void gemm_blocked(const Kern *K, const Gemm *g, int threads, int parts)
{
    Split s = split_make(K, g, parts);
    s.fp = fp_mode_get();
    if (s.parts <= 1) {
        gemm_alone(K, g);
        return;
    }
    pool_run(threads, kern_worker_stack_bytes(), split_part, &s, s.parts);
}

/* Of at most `threads` threads, those g is worth: at least THREAD_WORK multiply-adds each. */
static int threads_for(const Gemm *g, int threads)
{
    while (threads > 1 && !work_at_least(g, (size_t)threads * THREAD_WORK)) threads--;
    return threads;
}

/* kern_gemm on the path K, B stored or made by fill (kern_matmul_fill): empty cases, then the
 * small loop (B stored) or the blocked loops, on threads as threads_for says, or cut into
 * exactly `parts` parts if parts > 0 (kern_gemm_parts). */
static void gemm_filled(const Kern *K, int parts, bool trans_a, bool trans_b, const float *A,
                        const float *B, KernFillB fill, void *fill_ctx, size_t fill_j0,
                        float *C, size_t ldc, size_t m, size_t k, size_t n, bool accumulate)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (size_t i = 0; !accumulate && i < m; i++) memset(C + i * ldc, 0, n * sizeof *C);
        return;
    }
    Gemm g = {
        .a = A, .lda = trans_a ? m : k, .a_cols = trans_a,
        .b = B, .ldb = trans_b ? k : n, .b_trans = trans_b,
        .fill = fill, .fill_ctx = fill_ctx, .fill_j0 = fill_j0,
        .c = C, .ldc = ldc, .c_trans = false,
        .m = m, .k = k, .n = n, .accumulate = accumulate,
    };
    if (parts == 0 && !fill && m <= SMALL_WORK && k <= KC && n <= SMALL_WORK &&
        m * k * n <= SMALL_WORK) {
        K->small(&g);
        return;
    }
    if (want_transposed(K, &g)) g = gemm_transposed(&g);
    int threads = kern_threads();
    if (parts == 0) {
        threads = threads_for(&g, threads);
        parts = threads > 1 ? threads * PARTS_PER_THREAD : 1;
    }
    gemm_blocked(K, &g, threads, parts);
}

static void gemm(const Kern *K, int parts, bool trans_a, bool trans_b, const float *A,
                 const float *B, float *C, size_t m, size_t k, size_t n, bool accumulate)
{
    gemm_filled(K, parts, trans_a, trans_b, A, B, NULL, NULL, 0, C, n, m, k, n, accumulate);
}

void kern_gemm(KernIsa isa, bool trans_a, bool trans_b, const float *A, const float *B,
               float *C, size_t m, size_t k, size_t n, bool accumulate)
{
    gemm(kern_for(isa), 0, trans_a, trans_b, A, B, C, m, k, n, accumulate);
}

void kern_gemm_parts(KernIsa isa, int parts, bool trans_a, bool trans_b, const float *A,
                     const float *B, float *C, size_t m, size_t k, size_t n, bool accumulate)
{
    gemm(kern_for(isa), parts < 1 ? 1 : parts, trans_a, trans_b, A, B, C, m, k, n, accumulate);
}

void kern_matmul(const float *A, const float *B, float *C, size_t m, size_t k, size_t n,
                 bool accumulate)
{
    gemm(kern_of(kern_isa_best()), 0, false, false, A, B, C, m, k, n, accumulate);
}

void kern_matmul_bt(const float *A, const float *B, float *C, size_t m, size_t k, size_t n,
                    bool accumulate)
{
    gemm(kern_of(kern_isa_best()), 0, false, true, A, B, C, m, k, n, accumulate);
}

void kern_matmul_at(const float *A, const float *B, float *C, size_t m, size_t k, size_t n,
                    bool accumulate)
{
    gemm(kern_of(kern_isa_best()), 0, true, false, A, B, C, m, k, n, accumulate);
}

void kern_matmul_fill(const float *A, KernFillB fill, void *ctx, size_t j0, float *C, size_t ldc,
                      size_t m, size_t k, size_t n, bool accumulate)
{
    NN_ASSERT(ldc >= n);
    gemm_filled(kern_of(kern_isa_best()), 0, false, false, A, NULL, fill, ctx, j0, C, ldc, m, k,
                n, accumulate);
}
