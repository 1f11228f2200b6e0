/* bench/kernel.c — GFLOP/s of the float32 matrix products in src/kernels.c, on 1 and 2 threads.
 *
 * Build and run (from the repository root; no -march flags: the paths are chosen at run time):
 *   mkdir -p build && gcc -std=gnu11 -O2 -pthread -Isrc bench/kernel.c src/kernels.c \
 *       src/pool.c src/alloc.c src/fpmode.c -o build/bench-kernel -lm
 *   ./build/bench-kernel            kern_matmul, n x n x n for n = 256, 512, 1024, on 1 thread
 *                                   and on 2 (kern_set_threads)
 *   ./build/bench-kernel --all      every path this CPU runs and every form on 1 and 2 threads,
 *                                   then the time of a few small products against the loop nn
 *                                   used before
 *   ./build/bench-kernel --threshold
 *                                   products around the size from which kern_matmul uses
 *                                   threads: the time alone, and cut in 2 halves on 2 threads
 *                                   whatever the size (kern_gemm_parts)
 *
 * GFLOP/s counts 2 m k n flops per product; each figure is the best of several timed runs, each
 * run repeating the product for at least 20 ms (wall clock). Best of, because the machine may
 * be shared: a second thread that finds its core busy makes a run slow, not a product wrong. */
#define _POSIX_C_SOURCE 199309L
#include "kernels.h"

#include <math.h>
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

/* Best time in seconds of one product, over runs of enough repetitions to last ~20 ms.
 * isa < 0: the naive loop. parts > 0: kern_gemm_parts with that many parts, else kern_gemm. */
static double best_time(int isa, int form, int parts, const float *A, const float *B, float *C,
                        size_t m, size_t k, size_t n, int runs)
{
    double best = 1e30;
    size_t reps = 1;
    for (int r = -1; r < runs; r++) {
        double t0 = now();
        for (size_t i = 0; i < reps; i++) {
            if (isa < 0)
                naive_matmul(A, B, C, m, k, n);
            else if (parts > 0)
                kern_gemm_parts((KernIsa)isa, parts, form == 2, form == 1, A, B, C, m, k, n,
                                false);
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

/* GFLOP/s of one form on one path for n x n x n, on the given number of threads. */
static double square_gflops(int isa, int form, size_t n, int threads, int runs)
{
    unsigned seed = 12345;
    float *A = random_matrix(n * n, &seed), *B = random_matrix(n * n, &seed);
    float *C = random_matrix(n * n, &seed);
    kern_set_threads(threads);
    double t = best_time(isa, form, 0, A, B, C, n, n, n, runs);
    kern_set_threads(1);
    free(A), free(B), free(C);
    return 2.0 * (double)n * (double)n * (double)n / t * 1e-9;
}

static const size_t sizes[] = { 256, 512, 1024 };

static void square_row(int isa, int form, int threads, int runs)
{
    printf("%-8s %-6s %d thr", kern_isa_name((KernIsa)isa), form_name[form], threads);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        printf("  n=%-4zu %6.1f", sizes[s], square_gflops(isa, form, sizes[s], threads, runs));
    printf("\n");
    fflush(stdout);
}

/* One product alone and cut in 2 on 2 threads, whatever its size: where threads start to
 * pay. */
static void threshold_row(size_t m, size_t k, size_t n, int runs)
{
    unsigned seed = 4242;
    KernIsa isa = kern_isa_best();
    float *A = random_matrix(m * k, &seed), *B = random_matrix(k * n, &seed);
    float *C = random_matrix(m * n, &seed);
    double alone = best_time(isa, 0, 1, A, B, C, m, k, n, runs);
    kern_set_threads(2);
    double two = best_time(isa, 0, 2, A, B, C, m, k, n, runs);
    kern_set_threads(1);
    printf("%4zu x %4zu x %4zu  2^%4.1f FMA  alone %8.2f us  2 threads %8.2f us  speed-up %.2f\n",
           m, k, n, log2((double)m * (double)k * (double)n), alone * 1e6, two * 1e6,
           alone / two);
    fflush(stdout);
    free(A), free(B), free(C);
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
               best_time(isa, 0, 0, A, B, C, m, k, n, runs) * 1e6);
    }
    printf("  naive loop %.3f us\n", best_time(-1, 0, 0, A, B, C, m, k, n, runs) * 1e6);
    free(A), free(B), free(C);
}

int main(int argc, char **argv)
{
    const int runs = 7;
    if (argc > 1 && strcmp(argv[1], "--all") == 0) {
        printf("GFLOP/s, float32, best of %d runs\n", runs);
        for (int isa = KERN_ISA_COUNT - 1; isa >= 0; isa--) {
            if (!kern_isa_supported((KernIsa)isa)) continue;
            for (int form = 0; form < 3; form++)
                for (int threads = 1; threads <= 2; threads++)
                    square_row(isa, form, threads, runs);
        }
        printf("time of one product, 1 thread, best of %d runs\n", runs);
        small_row(4, 2, 8, runs);
        small_row(32, 64, 128, runs);
        small_row(64, 256, 256, runs);
        small_row(256, 256, 1, runs);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--threshold") == 0) {
        static const size_t shapes[][3] = {
            { 32, 64, 64 }, { 64, 64, 64 }, { 64, 64, 128 }, { 64, 128, 128 },
            { 128, 128, 128 }, { 128, 128, 256 }, { 128, 256, 256 }, { 256, 256, 256 },
            { 128, 784, 256 }, { 512, 512, 512 }, { 32, 2048, 32 }, { 1024, 32, 32 },
        };
        printf("kern_gemm_parts (%s), float32, best of %d runs\n",
               kern_isa_name(kern_isa_best()), runs);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            threshold_row(shapes[s][0], shapes[s][1], shapes[s][2], runs);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--all | --threshold]\n", argv[0]);
        return 2;
    }
    KernIsa best = kern_isa_best();
    printf("kern_matmul (%s), float32, GFLOP/s, best of %d runs\n", kern_isa_name(best), runs);
    printf("%-7s %9s %9s\n", "", "1 thread", "2 threads");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        double one = square_gflops(best, 0, sizes[s], 1, runs);
        double two = square_gflops(best, 0, sizes[s], 2, runs);
        printf("n=%-5zu %9.1f %9.1f\n", sizes[s], one, two);
        fflush(stdout);
    }
    return 0;
}
