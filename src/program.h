/* program.h — a compiled unit: the statements of a script as instructions over the session's
 * graph. Lowering makes one; the runtime executes it. Plans are computed once, here. */
#ifndef NN_PROGRAM_H
#define NN_PROGRAM_H

#include "arena.h"
#include "graph.h"
#include "optim.h"
#include "train_settings.h"

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
    INS_DATA,       /* make data sets: generate, split or normalize into leaf nodes */
    INS_TRAIN,      /* a whole train block */
    INS_SAVE,       /* write a model's params to a safetensors file */
    INS_LOAD,       /* read them back */
    INS_SAVE_ONNX,  /* write the model applied (`plan` from the leaf `value` to `node`) as ONNX */
    INS_GRADCHECK,  /* backprop's gradients against finite differences */
    /* control flow (docs/design.md): a loop's counter lives in the program's counters[slot].
     * These come last: rt_exec tells them from the others by kind >= INS_LOOP_INIT. */
    INS_LOOP_INIT,  /* a loop starts: counters[slot] = count */
    INS_LOOP_TEST,  /* counters[slot] >= count: jump to `target` (the loop's end); else write
                       the counter into the loop variable's leaf `node` (if has_node) */
    INS_LOOP_NEXT,  /* counters[slot] += 1; jump to `target`; after a Ctrl-C, to the loop's
                       `unwind` instead */
    INS_BRANCH,     /* compute the scalar `node`; jump to `target` if it is 0 */
    INS_JUMP,       /* continue at `target` */
    INS_INTERRUPT,  /* stop the run: the end of a loop's `unwind` */
} InstrKind;

#define NN_MAX_DATA 8

/* Making data sets at run time (their shapes are fixed when checked). `fn` is a DataFn. */
typedef struct DataInstr {
    int fn;
    int n, k;
    double noise, fraction;
    const int *rows;            /* SPLIT_ROWS: rows of the second part */
    int n_rows;
    uint32_t src_x[NN_MAX_DATA], src_y[NN_MAX_DATA];
    uint32_t dst_x[NN_MAX_DATA], dst_y[NN_MAX_DATA];
    int n_src, n_dst;
} DataInstr;

/* One compiled pass of a train block: inputs fed into x and y, the loss (and accuracy). */
typedef struct TrainPass {
    uint32_t x, y;              /* leaves the loop fills, or the data's own nodes */
    uint32_t out;               /* the model's output: its nodes are those after x up to it */
    uint32_t loss, metric;
    bool has_metric;
    int rows;
    Plan plan;                  /* computes loss (and metric) */
} TrainPass;

/* A model's params as a checkpoint names them, then its buffers (batchnorm's running
 * statistics: saved and loaded with the params, never given optimizer state). */
typedef struct ModelParams {
    const char *model;          /* its name */
    const char *source;         /* its definition's text */
    const uint32_t *nodes;      /* count params, then n_buffers buffers */
    const char *const *names;   /* "layer1.W", ..., "layer2.running_mean" */
    int count;
    int n_buffers;
} ModelParams;

/* The named values of a formula's train block that its loss events carry (the page's chart). */
#define TRAIN_WATCH 4

typedef struct TrainInstr {
    bool over_data;             /* train MODEL on X, Y; else train LOSS */
    uint32_t X, Y;              /* the whole data */
    Plan data;                  /* computes X and Y (and a validation set): they may be
                                   formulas, like argmax(d.Y) */
    int rows, train_rows, val_rows;
    bool has_val, val_split;    /* val_split: the last val_rows rows of X are held out */
    bool has_rest;
    TrainPass batch, rest, train_eval, val_eval;
    TrainPass formula;          /* train LOSS: the loss and its plan */
    const uint32_t *params;     /* what the optimizer updates */
    int n_params;
    ModelParams model;          /* for resume */
    TrainSettings set;
    bool sched_formula;         /* the schedule is a formula: sched_plan computes sched_factor */
    uint32_t sched_epoch, sched_update, sched_factor;   /* ... from these leaves */
    Plan sched_plan;
    OpKind loss_op;             /* the built-in loss (OP_COUNT: a formula) */
    const char *loss_name;      /* how log lines name the loss and the metric */
    const char *metric_name;
    const char *resume;
    TraceFocus focus;           /* trace step N at PLACES */
    uint32_t watch[TRAIN_WATCH];    /* train LOSS: scalar lets the loss is computed from (yhat, */
    int n_watch;                    /* ... z), whose values the JSON loss events carry */
    bool has_grid;              /* a model of layers with 1 or 2 inputs, in a block that traces
                                   some passes: its predictions over */
    uint32_t grid_x, grid_out;  /* ... a grid of the input space (grid_x, TRAIN_GRID rows), */
    Plan grid_plan;             /* ... computed for the page after each traced pass */
} TrainInstr;

/* The grid of a model's predictions: points along one input, or a side of the square of two. */
#define TRAIN_GRID_1D 101
#define TRAIN_GRID_2D 25

typedef struct PrintItem {
    uint32_t node;
    const char *text;       /* non-NULL: a string to print instead of a node */
    size_t len;
    uint32_t model;         /* text is a model's summary: its first param's node (the key of
                               what training saw, rt_units_get), else UINT32_MAX */
    const char *const *labels;  /* non-NULL: print the node's rows as these class names */
    int n_labels;
} PrintItem;

typedef struct Instr {
    InstrKind kind;
    Span span;
    Span expr;              /* BACKWARD, TRACE, GRADCHECK: the expression, as written */
    uint32_t node;
    uint32_t value;
    Plan plan;              /* nodes to compute, in order */
    PrintItem *items;
    uint32_t n_items;
    OptimConfig optim;          /* STEP */
    uint64_t seed;
    DataInstr *data;
    TrainInstr *train;
    ModelParams *ckpt;          /* SAVE, LOAD */
    const char *path;
    bool reset_grad;        /* SET_PARAM from a declaration: a new param has no gradient */
    TraceFocus focus;       /* TRACE: the places looked at (none: everything) */
    const uint32_t *params; /* STEP, ZERO_GRAD: the params they work on; BACKWARD, TRACE: */
    int n_params;           /* those the plan reaches (in the program's arena) */
    bool has_node;          /* LOOP_TEST: `node` is the loop variable; STEP: `node` is a
                               learning rate to compute (with `plan`) */
    size_t target;          /* LOOP_TEST, LOOP_NEXT, BRANCH, JUMP: where to go */
    long count;             /* LOOP_INIT: the first value; LOOP_TEST: the end */
    int slot;               /* LOOP_*: the loop's counter */
} Instr;

/* A loop of the program, for messages ("in iteration 3 of the loop at line 5") and interrupts:
 * its instructions are begin .. end - 1. */
typedef struct LoopInfo {
    size_t begin, end;
    size_t unwind;          /* where a Ctrl-C goes: the carried values of the blocks around the
                               loop take their last versions, then INS_INTERRUPT */
    int slot;
    long from;              /* the counter's first value */
    const char *var;        /* the loop variable, or NULL */
    Span span;
} LoopInfo;

/* Where a statement of the unit ends, for a run stopped part-way (Ctrl-C in a loop): the
 * instructions, symbols and graph nodes made up to the end of it. */
typedef struct StmtEnd {
    size_t pc;              /* its last instruction + 1 */
    size_t syms;            /* the symbol table's size after it (set by the caller) */
    uint32_t nodes;         /* the graph's size after it */
    size_t defs;            /* the session's remembered definitions after it (state.c) */
} StmtEnd;

typedef struct Program {
    Instr *items;
    size_t count, cap;
    Arena arena;            /* plans and strings */
    long *counters;         /* one per loop (n_loops), in the arena; the runtime writes them */
    LoopInfo *loops;
    int n_loops, cap_loops;
    StmtEnd *stmts;         /* per top-level statement of the unit, in order (n_stmts) */
    size_t n_stmts, cap_stmts;
} Program;

void program_init(Program *p);
void program_free(Program *p);
Instr *program_add(Program *p, InstrKind kind, Span span);
/* A new loop's slot; its LoopInfo is filled by the caller. */
int program_add_loop(Program *p);
/* The innermost loop whose instructions include pc, or NULL. */
const LoopInfo *program_loop_at(const Program *p, size_t pc);
/* The top-level statement that instruction pc belongs to, or NULL. */
const StmtEnd *program_stmt_at(const Program *p, size_t pc);

#endif
