/* common.h — what every file of nn needs: allocation, assertions, source spans.
 * Nothing here knows about the language or the runtime. */
#ifndef NN_COMMON_H
#define NN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Invariant checks stay on in release builds: a broken invariant is a bug in nn, never a user
 * error, and it is better to stop loudly than to compute nonsense. */
#define NN_ASSERT(cond)                                                                          \
    ((cond) ? (void)0 : nn_assert_fail(#cond, __FILE__, __LINE__))
_Noreturn void nn_assert_fail(const char *cond, const char *file, int line);

/* All heap memory goes through these three, so tests can count or fail allocations.
 * Out of memory prints a message and aborts: nn has nothing sensible to do without memory. */
void *nn_alloc(size_t size);
void *nn_calloc(size_t count, size_t size);
void *nn_realloc(void *ptr, size_t size);
void nn_free(void *ptr);
char *nn_strndup(const char *s, size_t len);

/* A span of source text: which source, and a byte range [start, end). Line and column are
 * computed only when a message is printed. */
typedef struct Span {
    uint32_t source;
    uint32_t start;
    uint32_t end;
} Span;

static inline Span span_join(Span a, Span b)
{
    Span s = a;
    if (b.end > s.end) s.end = b.end;
    if (b.start < s.start) s.start = b.start;
    return s;
}

#define NN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Compiles a function twice on x86-64 with gcc, for AVX2 and for the baseline, and calls the
 * one the CPU runs (an ifunc): for elementwise loops whose every operation is correctly
 * rounded the same way in both (+, -, *, /, sqrt; no fma: -ffp-contract=off), so the bits do
 * not depend on the CPU. Nothing elsewhere (clang takes the baseline). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define NN_TARGET_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NN_TARGET_CLONES
#endif

#endif
