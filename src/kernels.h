/* kernels.h — float32 matrix products for the ops: C (+)= A B and the two transposed forms that
 * backward needs, blocked for the caches with SIMD micro-kernels chosen at run time.
 *
 * Every element of C is computed the same way whatever the shapes, the block sizes, the
 * orientation chosen or the SIMD path: one multiply-add chain over p = 0, 1, ..., k-1 in order,
 *     c = (accumulate ? C[i,j] : 0);  c = fma(A[i,p], B[p,j], c)  for each p,
 * rounded to float at every step. So results depend on the input values alone: they are
 * reproducible, do not change with the batch size (row i of C depends only on row i of A and on
 * B), and are the same bits on every path that fuses (kern_isa_fused): AVX-512, AVX2, and the
 * portable path where the build targets a CPU with fma (aarch64; x86 built with -mfma). The
 * portable path of a default x86-64 build, taken only on CPUs without AVX2 + FMA, computes
 * c + A*B with two roundings instead.
 *
 * All matrices are dense and row-major with leading dimension = row length; no alignment is
 * required. C must not overlap A or B. The functions allocate nothing, keep no state and take no
 * locks (thread-safe, reentrant); they use about 270 KiB of stack (kern_stack_bytes()) for
 * their copies of operand blocks, so call them from a thread with a normal-sized stack. */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

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
 * op(A) is A[m,k], or A[k,m]^T if trans_a; op(B) is B[k,n], or B[n,k]^T if trans_b. */
void kern_gemm(KernIsa isa, bool trans_a, bool trans_b, const float *A, const float *B,
               float *C, size_t m, size_t k, size_t n, bool accumulate);
/* Upper bound of the stack the products use for their packing buffers, in bytes. */
size_t kern_stack_bytes(void);

#endif
