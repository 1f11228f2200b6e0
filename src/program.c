/* program.c — a compiled unit's containers: its instructions, its loops and where its
 * statements end. Lowering fills them; the runtime reads them. */
#include "program.h"

#include <string.h>

void program_init(Program *p)
{
    memset(p, 0, sizeof *p);
    arena_init(&p->arena);
}

void program_free(Program *p)
{
    nn_free(p->items);
    nn_free(p->loops);
    nn_free(p->stmts);
    arena_free(&p->arena);
    memset(p, 0, sizeof *p);
}

Instr *program_add(Program *p, InstrKind kind, Span span)
{
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->items = nn_realloc(p->items, p->cap * sizeof *p->items);
    }
    Instr *in = &p->items[p->count++];
    memset(in, 0, sizeof *in);
    in->kind = kind;
    in->span = span;
    return in;
}

int program_add_loop(Program *p)
{
    if (p->n_loops == p->cap_loops) {
        p->cap_loops = p->cap_loops ? 2 * p->cap_loops : 4;
        p->loops = nn_realloc(p->loops, (size_t)p->cap_loops * sizeof *p->loops);
    }
    memset(&p->loops[p->n_loops], 0, sizeof *p->loops);
    p->loops[p->n_loops].slot = p->n_loops;
    return p->n_loops++;
}

const LoopInfo *program_loop_at(const Program *p, size_t pc)
{
    const LoopInfo *best = NULL;
    for (int i = 0; i < p->n_loops; i++) {
        const LoopInfo *l = &p->loops[i];
        if (l->begin <= pc && pc < l->end && (!best || l->begin >= best->begin)) best = l;
    }
    return best;
}

const StmtEnd *program_stmt_at(const Program *p, size_t pc)
{
    for (size_t i = 0; i < p->n_stmts; i++)
        if (pc < p->stmts[i].pc) return &p->stmts[i];
    return NULL;
}
