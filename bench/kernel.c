/* bench/kernel.c — GFLOP/s of the float32 matrix products in src/kernels.c, one thread.
 *
 * Build and run (from the repository root; no -march flags: the paths are chosen at run time):
 *   mkdir -p build && gcc -std=gnu11 -O2 -Isrc bench/kernel.c src/kernels.c src/alloc.c \
 *       -o build/bench-kernel -lm
 *   ./build/bench-kernel            kern_matmul, n x n x n for n = 256, 512, 1024
 *   ./build/bench-kernel --all      every path this CPU runs and every form, then the time of
 *                                   a few small products against the loop nn used before
 *
 * GFLOP/s counts 2 m k n flops per product; each figure is the best of several timed runs, each
 * run repeating the product for at least 20 ms (wall clock). */
#define _POSIX_C_SOURCE 199309L
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *random_matrix(size_t count, unsigned *seed)
{
    float *x = malloc(count * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return x;
}

/* The loop nn used before src/kernels.c (ops.c's fwd_matmul). */
static void naive_matmul(const float *A, const float *B, float *C, size_t M, size_t K, size_t N)
{
    memset(C, 0, M * N * sizeof *C);
    for (size_t i = 0; i < M; i++)
        for (size_t p = 0; p < K; p++) {
            float aip = A[i * K + p];
            const float *brow = B + p * N;
            float *crow = C + i * N;
            for (size_t j = 0; j < N; j++) crow[j] += aip * brow[j];
        }
}

/* Best time in seconds of one product, over runs of enough repetitions to last ~20 ms. */
static double best_time(int isa, int form, const float *A, const float *B, float *C, size_t m,
                        size_t k, size_t n, int runs)
{
    double best = 1e30;
    size_t reps = 1;
    for (int r = -1; r < runs; r++) {
        double t0 = now();
        for (size_t i = 0; i < reps; i++) {
            if (isa < 0)
                naive_matmul(A, B, C, m, k, n);
            else
                kern_gemm((KernIsa)isa, form == 2, form == 1, A, B, C, m, k, n, false);
        }
        double t = (now() - t0) / (double)reps;
        if (r < 0) {  /* warm-up run, also picks the repetition count */
            reps = t > 0.02 ? 1 : (size_t)(0.02 / (t + 1e-9)) + 1;
            continue;
        }
        if (t < best) best = t;
    }
    return best;
}

static const char *const form_name[] = { "A@B", "A@B^T", "A^T@B" };

/* GFLOP/s of one form on one path for n x n x n. */
static double square_gflops(int isa, int form, size_t n, int runs)
{
    unsigned seed = 12345;
    float *A = random_matrix(n * n, &seed), *B = random_matrix(n * n, &seed);
    float *C = random_matrix(n * n, &seed);
    double t = best_time(isa, form, A, B, C, n, n, n, runs);
    free(A), free(B), free(C);
    return 2.0 * (double)n * (double)n * (double)n / t * 1e-9;
}

static const size_t sizes[] = { 256, 512, 1024 };

static void square_row(int isa, int form, int runs)
{
    printf("%-8s %-6s", kern_isa_name((KernIsa)isa), form_name[form]);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        printf("  n=%-4zu %6.1f", sizes[s], square_gflops(isa, form, sizes[s], runs));
    printf("\n");
    fflush(stdout);
}

static void small_row(size_t m, size_t k, size_t n, int runs)
{
    unsigned seed = 777;
    float *A = random_matrix(m * k, &seed), *B = random_matrix(k * n, &seed);
    float *C = random_matrix(m * n, &seed);
    printf("%zux%zu @ %zux%zu:", m, k, k, n);
    for (int isa = KERN_ISA_COUNT - 1; isa >= 0; isa--) {
        if (!kern_isa_supported((KernIsa)isa)) continue;
        printf("  %s %.3f us", kern_isa_name((KernIsa)isa),
               best_time(isa, 0, A, B, C, m, k, n, runs) * 1e6);
    }
    printf("  naive loop %.3f us\n", best_time(-1, 0, A, B, C, m, k, n, runs) * 1e6);
    free(A), free(B), free(C);
}

int main(int argc, char **argv)
{
    const int runs = 7;
    if (argc > 1 && strcmp(argv[1], "--all") == 0) {
        printf("GFLOP/s, float32, 1 thread, best of %d runs\n", runs);
        for (int isa = KERN_ISA_COUNT - 1; isa >= 0; isa--) {
            if (!kern_isa_supported((KernIsa)isa)) continue;
            for (int form = 0; form < 3; form++) square_row(isa, form, runs);
        }
        printf("time of one product, best of %d runs\n", runs);
        small_row(4, 2, 8, runs);
        small_row(32, 64, 128, runs);
        small_row(64, 256, 256, runs);
        small_row(256, 256, 1, runs);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--all]\n", argv[0]);
        return 2;
    }
    KernIsa best = kern_isa_best();
    printf("kern_matmul (%s), float32, 1 thread, best of %d runs\n", kern_isa_name(best), runs);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        printf("n=%-5zu %6.1f GFLOP/s\n", sizes[s], square_gflops(best, 0, sizes[s], runs));
    return 0;
}
