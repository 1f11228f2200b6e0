/* kernels.h — float32 matrix products for the ops: C (+)= A B and the two transposed forms that
 * backward needs, blocked for the caches with SIMD micro-kernels chosen at run time.
 *
 * Every element of C is computed the same way whatever the shapes, the orientation chosen, the
 * number of threads or the SIMD path. The k steps are taken in blocks of KERN_KBLOCK (256):
 * each block is one multiply-add chain in order, rounded to float at every step,
 *     s_0 = (accumulate ? C[i,j] : 0);  s_0 = fma(A[i,p], B[p,j], s_0)  for p in block 0,
 *     s_b = 0;                          s_b = fma(A[i,p], B[p,j], s_b)  for p in block b,
 * and the blocks' results are added in double, in order, rounded to float once at the end:
 *     C[i,j] = (float)(s_0 + s_1 + ... ). (For k <= 256 that is the one chain s_0.)
 * So the rounding error of a long product grows like 256 u, not k u (u = 2^-24): a dot product
 * of 10^6 terms is as accurate as one of 256. And results depend on the input values alone:
 * they are reproducible, do not change with the batch size (row i of C depends only on row i of
 * A and on B), and are the same bits on every path that fuses (kern_isa_fused): AVX-512, AVX2,
 * and the portable path where the build targets a CPU with fma (aarch64; x86 built with -mfma).
 * The portable path of a default x86-64 build, taken only on CPUs without AVX2 + FMA, computes
 * s + A*B with two roundings instead.
 *
 * All matrices are dense and row-major with leading dimension = row length; no alignment is
 * required. C must not overlap A or B. The products allocate nothing (beyond starting the
 * worker threads, below) and are thread-safe and reentrant; they use about 650 KiB of stack
 * (kern_stack_bytes()) for their copies of operand blocks and the blocks' double sums, so call
 * them from a thread with a normal-sized stack.
 *
 * Threads. By default every product runs on the calling thread. After kern_set_threads(n),
 * n > 1, a product is computed by t = min(n, m k n / 2^19) threads, the caller and t - 1
 * workers: none below 2^20 multiply-adds (e.g. 128 x 128 x 64), 2 from there (kernels.c says
 * how that threshold was measured). C is cut into 2 t blocks of whole rows or whole columns
 * (fewer if it has fewer tiles), each computed by whichever thread is free; k is never cut, so
 * each element is still computed as above and the bits are the same for any number of
 * threads. The workers are the process's (one set for every caller), started by the first
 * product that needs them, asleep between products (after a 50 us spin), and stopped by
 * kern_set_threads with a smaller n or at exit (atexit). They serve one product at a time: a
 * thread that calls a product while another thread's product has them computes its own alone,
 * so concurrent callers never wait for each other. Workers have a stack of 1 MiB +
 * kern_stack_bytes(), and compute in the caller's floating-point mode (fpmode.h: denormals
 * flushed or not), so the bits do not depend on the thread count in either mode. */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the blocks of k whose chains are added in double (above). */
#define KERN_KBLOCK 256

/* C[m,n] (+)= A[m,k] @ B[k,n]. accumulate: C += instead of C =. k = 0 gives C = 0 (or leaves C
 * as it is when accumulating). Any sizes, including 0 and 1. */
void kern_matmul(const float *A, const float *B, float *C, size_t m, size_t k, size_t n,
                 bool accumulate);
/* C[m,n] (+)= A[m,k] @ B[n,k]^T  (backward: dX = dY @ W^T) */
void kern_matmul_bt(const float *A, const float *B, float *C, size_t m, size_t k, size_t n,
                    bool accumulate);
/* C[m,n] (+)= A[k,m]^T @ B[k,n]  (backward: dW = X^T @ dY) */
void kern_matmul_at(const float *A, const float *B, float *C, size_t m, size_t k, size_t n,
                    bool accumulate);

/* Writes the kc x nc block of B at (p0, j0) in the form the blocked loops read: panels of nr
 * columns, panel q at dst + q kc nr, its element [p, jj] (B[p0 + p, j0 + q nr + jj]) at
 * p nr + jj, and zeros past nc in the last panel. kc <= KERN_KBLOCK, nc <= 256, nr <= 32. */
typedef void (*KernFillB)(void *ctx, float *dst, size_t p0, size_t kc, size_t j0, size_t nc,
                          size_t nr);
/* kern_matmul where B[k,n] is not stored but made on the fly, block by block, by fill(ctx,
 * ...) straight into the copy the products would have made of it (a convolution's windows:
 * ops_conv.c): each block of B once per block of C rows, so once when m <= 192 (or k <= 256).
 * B is columns [j0, j0 + n) of fill's matrix, and C's rows are ldc >= n apart (a block of
 * columns of a wider C). The same bits as kern_matmul on the matrix fill describes. On threads
 * like kern_matmul: fill is then called on several threads at once, for different blocks. */
void kern_matmul_fill(const float *A, KernFillB fill, void *ctx, size_t j0, float *C, size_t ldc,
                      size_t m, size_t k, size_t n, bool accumulate);

/* The most threads kern_set_threads accepts. */
#define KERN_MAX_THREADS 64

/* Sets the number of threads a large product may use, caller included: n is clamped to
 * [1, KERN_MAX_THREADS]; 1 (the default) means no threads. Process-wide, like the workers:
 * it applies to kern_gemm too. Lowering it stops the workers (joined, after the product in
 * progress, if any); the next product that needs them starts them again. Thread-safe;
 * products already running finish with the count they started with. Allocates nothing. */
void kern_set_threads(int n);
/* The number set by kern_set_threads (1 if never called). Thread-safe. */
int kern_threads(void);

/* ---- for tests and benchmarks ------------------------------------------------------------ */

/* The instruction-set paths. kern_matmul* use kern_isa_best(). */
typedef enum KernIsa {
    KERN_ISA_PORTABLE,  /* C with GCC vector extensions, any target */
    KERN_ISA_AVX2,      /* x86-64 AVX2 + FMA */
    KERN_ISA_AVX512,    /* x86-64 AVX-512F (+ FMA) */
    KERN_ISA_COUNT
} KernIsa;

/* Whether this build and this CPU (and its OS) can run the path. */
bool kern_isa_supported(KernIsa isa);
/* Whether the path rounds once per multiply-add (fma); every path that does gives the same
 * bits. */
bool kern_isa_fused(KernIsa isa);
/* The widest supported path. */
KernIsa kern_isa_best(void);
/* "portable", "avx2", "avx512". */
const char *kern_isa_name(KernIsa isa);
/* The general form on an explicit path (asserted supported): C[m,n] (+)= op(A) op(B) where
 * op(A) is A[m,k], or A[k,m]^T if trans_a; op(B) is B[k,n], or B[n,k]^T if trans_b. On
 * threads like kern_matmul (kern_set_threads, the same threshold). */
void kern_gemm(KernIsa isa, bool trans_a, bool trans_b, const float *A, const float *B,
               float *C, size_t m, size_t k, size_t n, bool accumulate);
/* kern_gemm cut into exactly `parts` blocks of C (fewer if C has fewer tiles; parts < 1 counts
 * as 1) whatever its size, computed on up to kern_threads() threads (in order by the caller if
 * that is 1), never by the small-product loop: for tests that the cut never changes a bit, and
 * for measuring when threads pay (bench/kernel.c --threshold). */
void kern_gemm_parts(KernIsa isa, int parts, bool trans_a, bool trans_b, const float *A,
                     const float *B, float *C, size_t m, size_t k, size_t n, bool accumulate);
/* Upper bound of the stack the products use for their packing buffers, in bytes. */
size_t kern_stack_bytes(void);
/* The stack the pool's workers are started with (1 MiB + kern_stack_bytes()): for other jobs
 * given to the same workers (pool_run), so that whoever starts them starts them alike. */
size_t kern_worker_stack_bytes(void);

#endif
