/* arena.c — bump allocator for things that die together (one compilation's AST, one graph).
 *
 * Design: blocks are chained newest-first; a request that does not fit opens a new block at
 * least twice the previous size, so there is no fixed capacity and few calls to malloc.
 * Memory is returned zeroed so structs start in a known state. */
#include "arena.h"

#include <string.h>

struct ArenaBlock {
    ArenaBlock *prev;
    size_t size;
    size_t used;
    max_align_t data[];
};

#define ARENA_ALIGN (sizeof(max_align_t))

void arena_init(Arena *a)
{
    a->head = NULL;
}

void arena_free(Arena *a)
{
    ArenaBlock *b = a->head;
    while (b) {
        ArenaBlock *prev = b->prev;
        nn_free(b);
        b = prev;
    }
    a->head = NULL;
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    ArenaBlock *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = b ? b->size * 2 : 4096;
        while (cap < size) cap *= 2;
        ArenaBlock *nb = nn_alloc(sizeof(ArenaBlock) + cap);
        nb->prev = b;
        nb->size = cap;
        nb->used = 0;
        a->head = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

ArenaMark arena_mark(const Arena *a)
{
    ArenaMark m = { a->head, a->head ? a->head->used : 0 };
    return m;
}

void arena_reset(Arena *a, ArenaMark m)
{
    while (a->head && a->head != m.block) {
        ArenaBlock *prev = a->head->prev;
        nn_free(a->head);
        a->head = prev;
    }
    if (a->head) a->head->used = m.used;
}
