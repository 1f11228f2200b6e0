/* alloc.c — the one place nn asks the C library for memory. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nn_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "nn: internal error: %s:%d: assertion '%s' failed\n", file, line, cond);
    abort();
}

static _Noreturn void out_of_memory(size_t size)
{
    fprintf(stderr, "nn: out of memory (asked for %zu bytes)\n", size);
    abort();
}

void *nn_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

void *nn_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *nn_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

void nn_free(void *ptr)
{
    free(ptr);
}

char *nn_strndup(const char *s, size_t len)
{
    char *p = nn_alloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
