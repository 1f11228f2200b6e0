/* runtime.h — executes compiled programs over the session's graph. Engine code: it knows
 * nothing of the syntax tree or of how messages are rendered. A run-time error is raised with
 * rt_raise, which records its kind, span and message and longjmps to the innermost rt_protect;
 * that is the only setjmp. */
#ifndef NN_RUNTIME_H
#define NN_RUNTIME_H

#include <setjmp.h>
#include <signal.h>

#include "graph.h"
#include "program.h"
#include "rng.h"
#include "strbuf.h"

typedef void (*RtWriteFn)(void *ud, const char *text, size_t len);
/* A warning located in the script (training diagnostics), with an optional note. */
typedef void (*RtWarnFn)(void *ud, Span at, const char *msg, Span note_at, const char *note);
/* A train block stopped at a breakpoint: `why` says where and what. The handler may run more
 * statements in the session (not a train block); it returns true to end the block there. */
typedef bool (*RtBreakFn)(void *ud, const char *why);
/* Writes "file:line" for a span (the front end knows the sources; the engine does not). */
typedef void (*RtLocateFn)(void *ud, Span span, StrBuf *out);

#define NN_DEFAULT_SEED 42

typedef enum TraceFormat { TRACE_TEXT, TRACE_DOT, TRACE_JSON } TraceFormat;

/* An optimizer's state for one param (momentum, Adam's moments), kept between steps. */
typedef struct ParamOpt {
    bool used;
    OptimKind kind;
    int nbuf;
    size_t size;                /* floats in each buffer: the param's size */
    long t;                     /* updates made (PyTorch's per-param step) */
    float *buf[3];
    OptimConfig config;         /* the settings of the last update */
    int epoch;                  /* epochs a train block completed (for checkpoints) */
} ParamOpt;

/* How a protected call ended (rt_protect): normally, or by a raise of one of these kinds. A kind
 * is the caller's to act on: a train block turns RT_NONFINITE into a warning and a stop. New
 * kinds go at the end; a caller passes on the kinds it does not handle. */
typedef enum RtStatus {
    RT_OK,          /* nothing was raised */
    RT_ERROR,       /* a user error: a file that cannot be read, a mismatch, ... (rt_error) */
    RT_NONFINITE,   /* a value or gradient became inf or NaN (rt_check_node, rt_update) */
    RT_INTERRUPT,   /* Ctrl-C stopped the run (Runtime.stop_at says where) */
} RtStatus;

/* Where an interrupt (RT_INTERRUPT) stopped the run, for the message and for what is kept. */
typedef enum RtStopAt {
    RT_STOP_LOOP,       /* between two iterations of a loop (its unwind ran) */
    RT_STOP_STATEMENT,  /* before a statement of the unit's top level: it did not run */
    RT_STOP_TRAIN,      /* in a train block, between updates or part-way through a pass: the
                           block reported it; the params are as its last update left them */
    RT_STOP_INSIDE,     /* part-way through a statement that ran on past the grace period: the
                           statement is to be undone (rt_undo_statement) */
} RtStopAt;

/* How long a statement may run on after Ctrl-C before it is abandoned part-way, in seconds:
 * long enough for a loop's iteration or a train block's step to end at a boundary, where
 * stopping keeps everything consistent; short enough to feel immediate. */
#define RT_INTERRUPT_GRACE 0.5

/* What rt_raise raises: any status but RT_OK. */
typedef RtStatus RtErrKind;

/* What a train block needs beside the graph, kept by the Runtime between blocks and only ever
 * grown (rt_grow): a block allocates nothing once it is big enough, and nothing needs freeing
 * when one raises. train.c uses it; rt_free frees it. */
typedef struct TrainScratch {
    int *perm;                  /* the shuffled rows (first: the held-out rows' numbers) */
    float *best;                /* early stopping: the best weights so far */
    float *break_grads;         /* a breakpoint: the step's gradients, put back after it */
    float **grads;              /* clipping: each param's gradient */
    size_t *sizes;              /* each param's size */
    double *wnorm;              /* each param's gradient norm, summed over epoch 1 */
    uint32_t *relu_batch;       /* the relu layers of the batch pass */
    uint32_t *relu_rest;        /* ... and of the last, smaller batch's */
    size_t *fired_at;           /* where each relu layer's units start in `fired` */
    uint8_t *fired;             /* per relu unit: did it fire in this epoch */
    int *relu_counts;           /* per relu layer: units alive, then units (2 per layer) */
    const char **relu_after;    /* per relu layer: the layer it follows */
    int *gn_group;              /* grad_norms: each param's layer (-1: not recorded) */
    const char **gn_label;      /* where each layer's name starts in gn_text */
    float *gn;                  /* the norms recorded, layer by layer */
    float *curve, *val_curve;   /* the loss (and validation loss) per recorded epoch */
    size_t perm_cap, best_cap, break_grads_cap, grads_cap, sizes_cap, wnorm_cap;
    size_t relu_batch_cap, relu_rest_cap, fired_at_cap, fired_cap, curve_cap, val_curve_cap;
    size_t relu_counts_cap, relu_after_cap, gn_group_cap, gn_label_cap, gn_cap;
} TrainScratch;

/* A train block's loss by epoch, kept for --plot's chart of every block (rt_run_add). */
typedef struct RtRun {
    char *label;                /* the model it trained, or "block N"; owned */
    float *v;                   /* owned */
    int n;
    long every;                 /* v[i] is the loss after epoch (i + 1) × every */
} RtRun;

/* A model's relu layers as its last train block saw them (rt_units_set). */
typedef struct RtUnits {
    uint32_t model;             /* the model's first param's node */
    int n;
    int *alive, *units;         /* owned */
    const char **after;         /* the layer each relu follows ("net.layer1", interned), or
                                   NULL; owned array */
} RtUnits;

typedef struct Runtime {
    Graph graph;
    Rng rng;
    RtWriteFn write;
    void *write_ud;
    RtLocateFn locate;
    RtLocateFn source_text;     /* writes the source text a span covers */
    void *locate_ud;
    jmp_buf *catch_point;       /* the innermost rt_protect's (NULL outside any); only
                                   runtime.c touches it */
    RtWarnFn warn;
    void *warn_ud;
    RtErrKind err_kind;         /* what the last raise was; its place and message follow */
    Span err_span;
    Span err_stmt;              /* the statement that was running */
    char err_msg[1024];
    StrBuf out;                 /* output being built; reused, owned here */
    float *scratch;             /* reusable floats (trace snapshots); owned here */
    size_t scratch_cap;
    bool trace_all;             /* --trace: explain every backward and step */
    TraceFormat trace_format;   /* how `trace`, --trace and `trace step N` are written */
    bool trace_full;            /* --trace-full: tensors up to 4096 elements in full */
    long trace_from, trace_to;  /* --trace-steps A-B: train blocks explain these updates */
    long trace_passes;          /* traced passes so far: the step number in JSON events */
    long trace_update, trace_updates;   /* a train block's pass being traced: before update N of
                                           M (0: not in a train block), */
    int trace_epoch, trace_epochs;      /* ... in epoch E of F */
    bool explain_step;          /* the last backward was traced: explain the next step */
    TracePlace *step_focus;     /* ... looking at these places (owned copy) */
    int step_focus_count;
    bool progress;              /* output is a terminal: show a live progress line */
    bool keep_denormals;        /* train blocks keep IEEE denormals (else flush them: fpmode.h) */
    ParamOpt *popt;             /* indexed by param node id; grown on demand */
    uint32_t popt_count;
    float *pass_grads;          /* scratch: rt_pass's copy of the gradients before; owned */
    size_t pass_grads_cap;
    float *journal;             /* scratch: an update's old values and state (runtime.c); owned */
    size_t journal_cap;
    TrainScratch train;         /* train blocks' buffers; owned */
    int train_blocks;           /* train blocks run so far (JSON loss events name theirs) */
    RtUnits *units_seen;        /* per trained model with relu layers; owned */
    RtRun *runs;                /* --plot: each train block's loss curve so far; owned */
    int n_runs;
    int n_units_seen;
    volatile sig_atomic_t *interrupt;   /* Ctrl-C: a train block stops at the next step */
    long break_step;            /* --break for every train block: before update N, */
    bool break_nonfinite;       /* at the first inf or NaN, */
    double break_grad_norm;     /* when the gradient norm is above this (0: never) */
    RtBreakFn on_break;         /* what a breakpoint does (NULL: it is only reported) */
    void *break_ud;
    bool in_break;              /* a train block is stopped at a breakpoint */
    size_t pc;                  /* the instruction running (rt_exec); its program: */
    const Program *prog;
    bool in_loop;               /* the train block running is inside a loop (rt_train sets it):
                                   Ctrl-C stops the loop at the end of its iteration, so the
                                   block leaves *interrupt set */
    const char *plot_path;      /* --plot: each train block's loss curve as SVG, or NULL */
    const struct Sandbox *files;    /* what files may be opened (sandbox.h; the session's) */
    int plots;                  /* curves written so far (the second is FILE-2.svg, ...) */
    /* limits (nn_set_max_steps, nn_set_timeout), counted per run (rt_run_start) */
    uint64_t max_steps;         /* 0: none */
    double timeout;             /* seconds; 0: none */
    bool limited;               /* either is set (rt_set_limits) */
    uint64_t steps;             /* statements and updates of the run so far */
    double deadline;            /* rt_clock() time the run must end by; 0: none */
    double began;               /* when the call began (rt_call_start), before checking; 0:
                                   not set (the run's start counts) */
    /* stopping part-way through a statement (Ctrl-C) */
    double interrupt_seen;      /* when a poll first saw the flag set (0: not yet) */
    double grace;               /* RT_INTERRUPT_GRACE (tests set 0) */
    RtStopAt stop_at;           /* where the last RT_INTERRUPT stopped */
    Rng pass_rng, stmt_rng;     /* the random state as the pass running, and the statement of
                                   the unit's top level, began */
    const uint32_t *pass_params;    /* not NULL: rt_pass saved these params' gradients in */
    int pass_n_params;              /* pass_grads (an interrupt part-way puts them back) */
    const Plan *pass_stats;     /* not NULL: the pass of this plan moves running statistics
                                   (batchnorm's buffers), whose values before it are kept in */
    float *pass_stats_saved;    /* ... this scratch (owned), for a failed pass to put back */
    size_t pass_stats_cap;
} Runtime;

/* The runtime is four files in layers; each calls only the files below it:
 *   exec.c        the instruction loop                  (calls train.c, checkpoint.c, runtime.c)
 *   train.c       data sets made at run time, train blocks        (calls checkpoint.c, runtime.c)
 *   checkpoint.c  save, load and resume                           (calls runtime.c)
 *   runtime.c     services: errors, output, checks, updates, undo (calls none of them)
 * trace.c, beside them, renders traced passes for exec.c and train.c. */

/* ---- runtime.c ------------------------------------------------------------------------------- */

void rt_init(Runtime *rt);
void rt_free(Runtime *rt);

/* -- errors */
/* The one throw: records kind, span and message in rt (err_kind, err_span, err_msg) and
 * longjmps to rt->catch_point. Raising with no catch point set is a bug (NN_ASSERT). */
_Noreturn void rt_raise(Runtime *rt, RtErrKind kind, Span span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Raises a user error (RT_ERROR) at span. */
#define rt_error(rt, span, ...) rt_raise((rt), RT_ERROR, (span), __VA_ARGS__)
/* Raises again what was last raised (rt->err_kind, err_span, err_msg as they are now: a
 * handler may have added to the message), to the next catch point out. */
_Noreturn void rt_rethrow(Runtime *rt);
/* The one protected call (Lua's luaD_rawrunprotected): runs fn(rt, ud) with a catch point of
 * its own and returns RT_OK, or the kind raised inside (the span and message are in rt). The
 * previous catch point is restored on every way out, so protected calls nest: a breakpoint's
 * prompt runs statements inside a train block. A raise leaves fn's frames without running any
 * more of their code: whatever fn allocates must be owned by rt (or be arena memory) while it
 * can raise, and what fn's caller must see after a raise goes through ud, never fn's locals.
 * A caller handles the status in ordinary code after the call:
 *     RtStatus st = rt_protect(rt, epochs, &loop);
 *     if (st == RT_NONFINITE) warn_and_stop(&loop);         (a kind it handles)
 *     else if (st != RT_OK) rt_rethrow(rt);                 (the others, passed on) */
RtStatus rt_protect(Runtime *rt, void (*fn)(Runtime *rt, void *ud), void *ud);

/* -- limits and interrupts */
/* Monotonic wall-clock seconds. */
double rt_clock(void);
/* The limits of every run from now on (0: none), and the Ctrl-C flag (NULL: none). */
void rt_set_limits(Runtime *rt, uint64_t max_steps, double timeout);
void rt_set_interrupt(Runtime *rt, volatile sig_atomic_t *flag);
/* A run begins (the outermost one: runs nest at breakpoints): its steps and time count from
 * here, and no interrupt has been seen yet. rt_run_end: it ended (stops watching the time). */
void rt_run_start(Runtime *rt);
/* A call that checks code and then runs it begins: its time limit counts from here, so that
 * checking (reading data files) counts too. Not for a call nested in a run (a breakpoint's). */
void rt_call_start(Runtime *rt);
void rt_run_end(Runtime *rt);
/* One step (a statement, a loop's test, a train block's update) at `at`: raises RT_ERROR there
 * if the run passes its step or time limit. Only to be called when rt->limited. */
void rt_step(Runtime *rt, Span at);
/* A boundary where a run can stop cleanly: true (and the flag cleared) if Ctrl-C asks to. */
static inline bool rt_take_interrupt(Runtime *rt)
{
    if (!rt->interrupt || !*rt->interrupt) return false;
    *rt->interrupt = 0;
    rt->interrupt_seen = 0;
    return true;
}
/* After RT_INTERRUPT with stop_at RT_STOP_INSIDE: undoes what the abandoned statement did
 * part-way (the gradients a backward pass was adding to, the random numbers it drew, from the
 * start of the instruction or, when `whole`, of the top-level statement). */
void rt_undo_statement(Runtime *rt, bool whole);
/* Puts back the running statistics (batchnorm's buffers) as they were before the pass that
 * failed (a non-finite value, an interrupt) moved them; nothing if none did. */
void rt_restore_stats(Runtime *rt);

/* -- output and scratch */
/* A warning at span (and, if note is not NULL, a note at note_at). */
void rt_warn(Runtime *rt, Span span, Span note_at, const char *note, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Writes rt->out through the write callback and clears it. */
void rt_flush(Runtime *rt);
/* The same for text a script prints (print, train logs): in a JSON trace it becomes "print"
 * events, so the stream stays JSON Lines. */
void rt_flush_text(Runtime *rt);
/* Grows a grow-only buffer (buf, of *cap items of `size` bytes) to hold at least n items, and
 * at least one, keeping its contents; returns it, perhaps moved. The Runtime's scratch buffers
 * grow this way: once big enough, a statement run again allocates nothing. */
void *rt_grow(void *buf, size_t *cap, size_t n, size_t size);
/* n floats of reusable scratch (trace snapshots), owned by rt; valid until the next call.
 * Counted against the memory limit as it grows: raises at the running statement past it. */
float *rt_scratch(Runtime *rt, size_t n);
/* " at element [i,j]" for flat index `flat` of shape s ("" for a scalar), into buf. */
void rt_index_str(const Shape *s, size_t flat, char *buf, size_t len);

/* -- inf and NaN */
/* Checks a pass's values and gradients (the GraphCheckFn of a checked pass): raises
 * RT_NONFINITE at the op that made one, saying why. */
void rt_check_node(void *ud, Graph *g, GraphNode *n, int backward);

/* Fast passes: a check per node costs as much as a small op, and a pass should not pay it when
 * all is well: these run unchecked, then check only their results. Only when one is not finite
 * is the pass run again, checked node by node (rt_check_node), from the same random state (so
 * dropout draws the same mask), which raises at the op that produced it with the message a
 * checked pass would have given. */

/* A forward pass of plan, then a check of `roots`' values. Returns true if they are finite, and
 * false if not while the checked re-run raised nothing (only a leaf, which no pass computes,
 * can then hold the inf or NaN). May raise RT_NONFINITE. */
bool rt_forward(Runtime *rt, const Plan *plan, const uint32_t *roots, int n);

/* One forward and backward pass for rt_pass. */
typedef struct RtPass {
    const Plan *plan;
    uint32_t root;              /* a scalar */
    float seed;                 /* the root's gradient: 1, or a batch's weight, so that param
                                   gradients accumulate seed × d root / d param */
    const uint32_t *params;     /* the params whose gradients the pass adds to */
    int n_params;
    bool zeroed;                /* their gradients are all 0 before the pass; if not, they are
                                   saved first, so that a re-run starts from them */
} RtPass;

/* Forward, then backward from the root, then a check of the root's value and the params'
 * gradients. Returns true if they are finite; false if not while the checked re-run raised
 * nothing (as rt_forward). May raise RT_NONFINITE. */
bool rt_pass(Runtime *rt, const RtPass *p);

/* -- what training saw of a model, for its summary */
/* After a train block of the model whose first param is node `model`: of each of its n relu
 * layers (in order), the units that fired in the last epoch (alive[k]) of units[k], and the
 * layer it follows (after[k], interned, or NULL). Replaces what an earlier block recorded. */
void rt_units_set(Runtime *rt, uint32_t model, int n, const int *alive, const int *units,
                  const char *const *after);
/* What the last train block of that model recorded, or NULL: *n layers, alive and units. */
const RtUnits *rt_units_get(const Runtime *rt, uint32_t model);

/* Starts a train block's JSON event: `{"event":EVENT,"block":BLOCK` and `,"run":RUN` when run is
 * not NULL (the model it trains); the caller adds its fields and the closing brace. */
void rt_block_event(Runtime *rt, const char *event, int block, const char *run);
/* Keeps a copy of a train block's loss curve (n values, one every `every` epochs), labelled. */
void rt_run_add(Runtime *rt, const char *label, const float *v, int n, long every);

/* -- params */
/* Every param's gradient (grads) or value, in graph order, copied into scratch memory
 * (rt_scratch), so a trace can show what a pass or update changed. */
float *rt_snapshot_params(Runtime *rt, bool grads);
/* Before an update by an optimizer like c: every param's value as rt_snapshot_params(rt,
 * false) gives them, then RT_SNAP_STATE floats per param, in the same order: element 0 of each
 * of the optimizer state buffers the update will start from (0 where it has fewer, or will start
 * afresh) and the count of updates made before (PyTorch's step), so a trace can show the
 * update's formulas with the numbers they started from. */
#define RT_SNAP_STATE 4
float *rt_snapshot_update(Runtime *rt, const OptimConfig *c);
/* The optimizer state of param `id` for an optimizer like c: made, zeroed, when it has none or
 * one of another kind. Owned by rt (rt->popt, grown to the graph's size). Its memory counts
 * against the limit (graph_charge) but is not refused here: rt_optim_alloc checks first. */
ParamOpt *rt_param_opt(Runtime *rt, uint32_t id, const OptimConfig *c);
/* The bytes that making state for an optimizer like c for params[0..n) would add to the
 * session's memory (what it allocates less what it frees; 0 if they all have such state). */
size_t rt_optim_need(Runtime *rt, const uint32_t *params, int n, const OptimConfig *c);
/* rt_param_opt for each of params[0..n); raises at `at`, before allocating any, if the new
 * state would take the session past its memory limit. */
void rt_optim_alloc(Runtime *rt, const uint32_t *params, int n, const OptimConfig *c, Span at);
/* Forgets the optimizer state of these params (a new optimizer starts). */
void rt_optim_reset(Runtime *rt, const uint32_t *params, int n);
/* One optimizer update of the given params with learning rate lr. First the state is made
 * (rt_optim_alloc, which may raise), then the update is tried on copies, a chunk at a time
 * (every rule is elementwise): if a value or a state element would become inf or NaN it
 * raises RT_NONFINITE, leaving every param and state as it was, so no copy of the params is
 * kept. */
void rt_update(Runtime *rt, const OptimConfig *c, float lr, const uint32_t *params, int n,
               Span at);

/* -- undo */
/* Everything a failed run could have changed, so that it can be undone: the graph's size,
 * every param's value and gradient, the optimizer states, the random numbers. */
typedef struct RtSnapshot {
    uint32_t nodes;
    float *params;          /* values then gradients, param by param */
    ParamOpt *popt;         /* deep copies */
    uint32_t popt_count;
    Rng rng;
} RtSnapshot;

/* Drops the graph's nodes from `count` on, with any optimizer state kept for them (the end of
 * a unit stopped part-way: what its later statements made). */
void rt_truncate(Runtime *rt, uint32_t count);
void rt_snapshot_take(Runtime *rt, RtSnapshot *s);
void rt_snapshot_restore(Runtime *rt, RtSnapshot *s);
void rt_snapshot_free(RtSnapshot *s);

/* ---- checkpoint.c ---------------------------------------------------------------------------- */

void rt_save(Runtime *rt, const ModelParams *m, const char *path, Span at);
/* Loads the model's weights from a safetensors file: the header checked against the model,
 * every value finite, before any is copied. Raises, changing nothing, if not. */
void rt_load(Runtime *rt, const ModelParams *m, const char *path, Span at);
/* Loads weights and, from the file's metadata and tensors, the optimizer state, the random
 * state and the epoch reached, for a block of `epochs` epochs with optimizer c; returns that
 * epoch (0 to epochs). Everything read is checked first (shapes, each number of the metadata
 * in its range, every value finite, running averages of squares not negative, the state's
 * memory under the limit); a file refused changes nothing. */
int rt_resume(Runtime *rt, const ModelParams *m, const OptimConfig *c, int epochs,
              const char *path, Span at);

/* ---- train.c --------------------------------------------------------------------------------- */

void rt_data(Runtime *rt, const DataInstr *d, Span at);
void rt_train(Runtime *rt, const TrainInstr *t, Span at);

/* ---- exec.c ---------------------------------------------------------------------------------- */

/* Runs p's instructions in order. May raise. */
void rt_exec(Runtime *rt, const Program *p);

/* ---- trace.c (with trace.h): a traced pass and update, recorded as events and written as the
 * blackboard explanation, JSON Lines or DOT. ------------------------------------------------- */

/* The plan's graph in Graphviz DOT, with values (and gradients, if grads). */
void trace_dot(Runtime *rt, const Plan *plan, uint32_t root, bool grads);
/* A traced pass (after its backward) and a traced update, in the session's trace format:
 * the explanation, DOT, or JSON Lines events (docs/trace-json.md). `where`: the statement;
 * `what`: the expression traced, as written (shown when the root has no name). `focus` (NULL:
 * all) limits the pass and the update after it to some layers, and zooms into single units. */
void trace_pass(Runtime *rt, const Plan *plan, uint32_t root, const float *before, Span where,
                Span what, const TraceFocus *focus);
void trace_step_update(Runtime *rt, const OptimConfig *c, float lr, const float *before);

#endif
