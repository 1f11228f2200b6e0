/* program.h — a compiled unit: the statements of a script as instructions over the session's
 * graph. Lowering makes one; the runtime executes it. Plans are computed once, here. */
#ifndef NN_PROGRAM_H
#define NN_PROGRAM_H

#include "arena.h"
#include "graph.h"

typedef enum InstrKind {
    INS_INIT,       /* fill a constructor leaf (zeros, randn, ...) once, in program order */
    INS_SET_PARAM,  /* compute `value` and store it in the param `node` */
    INS_EVAL,       /* compute the plan, print nothing (the API reads the value) */
    INS_PRINT,      /* compute and print the items */
    INS_BACKWARD,   /* forward, then reverse-mode backward from the scalar `node` */
    INS_TRACE,      /* backward, explained step by step */
    INS_STEP,       /* one optimizer update of every param */
    INS_ZERO_GRAD,  /* clear every param's gradient */
    INS_SEED,       /* restart the random numbers */
} InstrKind;

typedef enum OptimKind { OPTIM_SGD } OptimKind;

typedef struct PrintItem {
    uint32_t node;
    const char *text;       /* non-NULL: a string to print instead of a node */
    size_t len;
} PrintItem;

typedef struct Instr {
    InstrKind kind;
    Span span;
    uint32_t node;
    uint32_t value;
    Plan plan;              /* nodes to compute, in order */
    PrintItem *items;
    uint32_t n_items;
    OptimKind optim;
    float lr;
    uint64_t seed;
    bool reset_grad;        /* SET_PARAM from a declaration: a new param has no gradient */
} Instr;

typedef struct Program {
    Instr *items;
    size_t count, cap;
    Arena arena;            /* plans and strings */
} Program;

void program_init(Program *p);
void program_free(Program *p);
Instr *program_add(Program *p, InstrKind kind, Span span);

#endif
