/* state.h — the session behind nn.h's NnState, shared by the files that implement the public
 * API: state.c (running code) and inspect.c (what the REPL and other hosts ask about). */
#ifndef NN_STATE_H
#define NN_STATE_H

#include "nn.h"

#include "diag.h"
#include "intern.h"
#include "runtime.h"
#include "sandbox.h"
#include "sema.h"
#include "source.h"

/* A definition that ran, as nn_save_session writes it again: its text, or (for a name a loop or
 * an if carried) `let NAME = ` the value the block left in it. */
typedef struct SessionDef {
    Span span;
    const Symbol *carried;
} SessionDef;

struct NnState {
    Interner interner;
    SourceTable sources;
    SymbolTable syms;
    Runtime rt;
    DiagSink diag;
    NnWriteFn out_fn, err_fn;
    void *out_ud, *err_ud;
    SessionDef *defs;       /* definitions that ran, in order (for nn_save_session) */
    size_t n_defs, cap_defs;
    char *plot_path;        /* --plot */
    Sandbox sandbox;        /* --sandbox: where files may be read and written */
    uint64_t seed;          /* the random numbers' seed (nn_set_seed), for exports */
    NnBreakFn break_fn;     /* the host's breakpoint handler */
    void *break_ud;
};

/* Compiles `expr` (one expression) and computes it; *root is its graph node. The node stays
 * in the graph (like any other computed expression); no name is defined. */
NnStatus state_eval(NnState *nn, const char *expr, uint32_t *root);

#endif
