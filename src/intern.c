/* intern.c — a string set with open addressing (FNV-1a hash, linear probing). */
#include "intern.h"

#include <string.h>

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

void intern_init(Interner *in)
{
    in->cap = 64;
    in->count = 0;
    in->slots = nn_calloc(in->cap, sizeof *in->slots);
}

void intern_free(Interner *in)
{
    for (size_t i = 0; i < in->cap; i++) nn_free((void *)in->slots[i]);
    nn_free(in->slots);
    in->slots = NULL;
    in->cap = in->count = 0;
}

static void grow(Interner *in)
{
    size_t ncap = in->cap * 2;
    const char **ns = nn_calloc(ncap, sizeof *ns);
    for (size_t i = 0; i < in->cap; i++) {
        const char *s = in->slots[i];
        if (!s) continue;
        size_t j = hash_bytes(s, strlen(s)) & (ncap - 1);
        while (ns[j]) j = (j + 1) & (ncap - 1);
        ns[j] = s;
    }
    nn_free(in->slots);
    in->slots = ns;
    in->cap = ncap;
}

const char *intern(Interner *in, const char *s, size_t len)
{
    if ((in->count + 1) * 2 > in->cap) grow(in);
    size_t j = hash_bytes(s, len) & (in->cap - 1);
    while (in->slots[j]) {
        const char *t = in->slots[j];
        if (strncmp(t, s, len) == 0 && t[len] == '\0') return t;
        j = (j + 1) & (in->cap - 1);
    }
    in->slots[j] = nn_strndup(s, len);
    in->count++;
    return in->slots[j];
}
