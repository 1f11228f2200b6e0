/* arena.h — bump allocation in chained blocks, freed all at once. */
#ifndef NN_ARENA_H
#define NN_ARENA_H

#include "common.h"

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;
} Arena;

/* A mark remembers how far an arena was filled, so a failed REPL input can roll back. */
typedef struct ArenaMark {
    ArenaBlock *block;
    size_t used;
} ArenaMark;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);          /* zeroed, aligned for any type */
char *arena_strndup(Arena *a, const char *s, size_t len);
ArenaMark arena_mark(const Arena *a);
void arena_reset(Arena *a, ArenaMark m);

#endif
