/* optim.h — optimisers (SGD, Adam, AdamW, RMSprop), global-norm gradient clipping and learning
 * rate schedules: pure numerics on float arrays, following PyTorch's documented algorithms, and
 * the tables of their arguments (the language's names, defaults and ranges, for the checker and
 * `:help`). Engine code: nothing here knows about graphs, tensors or the syntax. */
#ifndef NN_OPTIM_H
#define NN_OPTIM_H

#include "argspec.h"
#include "common.h"

typedef enum OptimKind { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP } OptimKind;

typedef struct OptimConfig {
    OptimKind kind;
    float lr;
    float momentum;      /* sgd, rmsprop */
    float dampening;     /* sgd */
    bool nesterov;       /* sgd */
    float weight_decay;  /* all; for adamw it is decoupled */
    float beta1, beta2;  /* adam, adamw */
    float eps;           /* adam, adamw, rmsprop */
    float alpha;         /* rmsprop smoothing constant */
} OptimConfig;

/* The arguments `kind` takes, one ArgSpec row each, in the order a checker lists them: lr first
 * (the one argument that may be given without its name), weight_decay last.
 *   sgd      lr, momentum, dampening, nesterov, weight_decay
 *   adam     lr, beta1, beta2, eps, weight_decay          (adamw: the same)
 *   rmsprop  lr, momentum, alpha, eps, weight_decay
 * Names are PyTorch's keywords (its betas split in two); defaults are PyTorch's, except sgd's lr:
 * PyTorch has none, so the row is `required`, and its default 0.01 is only optim_defaults'.
 * Ranges, the language's (narrower than PyTorch's, which takes lr = 0 and eps = 0): lr
 * positive; momentum, beta1, beta2 at least 0 and below 1; dampening and alpha between 0 and 1;
 * eps above 0 and at most 1; weight_decay at least 0; nesterov a flag. A static array of *n
 * rows. */
const ArgSpec *optim_args(OptimKind kind, int *n);

/* Fills *c with the defaults of optim_args(kind) (sgd: lr 0.01, momentum 0, dampening 0,
 * nesterov off, wd 0; adam: lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0; adamw: the same with wd
 * 1e-2; rmsprop: lr 1e-2, alpha 0.99, eps 1e-8, wd 0, momentum 0). Fields a kind does not use
 * are zero. */
void optim_defaults(OptimKind kind, OptimConfig *c);

/* "sgd", "adam", "adamw", "rmsprop": a static string. */
const char *optim_name(OptimKind kind);

/* The optimizer kinds, for walking them (OPTIM_SGD .. OPTIM_KINDS - 1). */
#define OPTIM_KINDS (OPTIM_RMSPROP + 1)

/* What `:help` says for `kind`: an example call and one line. */
void optim_help(OptimKind kind, const char **example, const char **text);

/* The kind named `name` (exact, lower case). False, leaving *out alone, if there is none. */
bool optim_lookup(const char *name, OptimKind *out);

/* Sets the argument called `name` (a row of optim_args(c->kind); nesterov: non-zero is on) to
 * `value`. False, leaving *c alone, for a name the kind does not take. No range checks here:
 * see optim_validate. */
bool optim_set_option(OptimConfig *c, const char *name, float value);

/* The value of the argument called `name` (a row of optim_args(c->kind); nesterov: 1 or 0). */
double optim_option(const OptimConfig *c, const char *name);
/* NULL if c's arguments are valid, else a message naming the first problem, written into
 * msg[cap] (truncated to fit) and returned. Each argument of optim_args(c->kind) is checked
 * against its row's range, in row order ("'lr' must be positive", "'beta2' must be at least 0
 * and below 1"; NaN never passes), then the one rule across arguments: "nesterov momentum needs
 * momentum above 0 and no dampening". Never raises. */
const char *optim_validate(const OptimConfig *c, char *msg, size_t cap);

/* How many float buffers the size of the parameter this optimiser keeps per parameter:
 * sgd 1 if momentum != 0 else 0; adam and adamw 2; rmsprop 1, plus 1 if momentum != 0. */
int optim_state_count(const OptimConfig *c);

/* PyTorch's state_dict name of state buffer i (0 <= i < optim_state_count(c)), for checkpoints:
 * sgd "momentum_buffer"; adam/adamw "exp_avg", "exp_avg_sq"; rmsprop "square_avg", then
 * "momentum_buffer". A static string. PyTorch's scalar "step" is the caller's `t`. */
const char *optim_state_name(const OptimConfig *c, int i);

/* Whether state buffer i never holds a negative number: a running average of squared
 * gradients (adam's exp_avg_sq, rmsprop's square_avg), whose square root the update takes. For
 * checking a checkpoint's state before it is used. */
bool optim_state_nonneg(const OptimConfig *c, int i);

/* The decimal a float setting was written as, in double: 0.999 for the float 0.99900001 (the
 * 7-significant-digit value that rounds to the float; the float itself if none does). PyTorch
 * holds its settings as Python floats (doubles) and forms 1 - beta2, the bias corrections and
 * lr / (1 - beta1^t) in double, rounding to float32 only where they meet a tensor; nn keeps its
 * settings as float32, so the updates recover the decimal first and get PyTorch's constants
 * (1 - beta2 = 0.001f, not 0.00099998713f: 1.3e-5 apart in Adam's v). Traces that write the
 * formulas out use it to show the same numbers. */
double optim_decimal(float f);

/* One update of one parameter of n floats, in place, in float32 like PyTorch. `lr` is this
 * step's learning rate (after any schedule; c->lr is not read); `t` is the 1-based step count
 * (Adam's bias correction; SGD's momentum buffer starts as the gradient itself on step 1, without
 * dampening). `state` holds optim_state_count(c) buffers of n floats, all zero before step 1 (it
 * may be NULL when the count is 0). `g` is not modified. Every rule is elementwise, so one call
 * over a model's flat value/gradient/state buffers equals one call per parameter. Allocates
 * nothing and never raises; t < 1 is an NN_ASSERT. */
void optim_update(const OptimConfig *c, float lr, long t, float *w, const float *g,
                  float *const *state, size_t n);

/* Global-norm clipping like torch.nn.utils.clip_grad_norm_ with norm type 2: total =
 * sqrt(sum of squares over all `count` arrays grads[k] of sizes[k] floats); coef = max_norm /
 * (total + 1e-6); if coef < 1 every gradient is multiplied by coef. Returns total, before
 * clipping. max_norm >= 0 is the caller's to check (an NN_ASSERT here). As in PyTorch, a NaN
 * total makes every gradient NaN and an infinite one scales them by 0: the caller checks the
 * returned norm with isfinite if it wants an error instead. */
double optim_clip_global_norm(float *const *grads, const size_t *sizes, size_t count,
                              double max_norm);

/* ---- learning-rate schedules ------------------------------------------------------------
 * A schedule gives the learning rate at a 0-based count t out of a horizon `total`, in closed
 * form. The caller decides what is counted: epochs (t = epoch, total = epochs) or updates (t =
 * updates done so far, total = all the updates of the run); `every` and `over` are in the same
 * unit. Each kind equals PyTorch's torch.optim.lr_scheduler class of the same meaning, stepped
 * once per count: its lr after t calls of scheduler.step(). */

typedef enum SchedKind {
    SCHED_NONE,         /* none: the base rate */
    SCHED_STEP,         /* step_decay(every, gamma = 0.1): StepLR */
    SCHED_COSINE,       /* cosine(min = 0): CosineAnnealingLR, T_max = the horizon */
    SCHED_LINEAR,       /* linear(start = 1/3, end = 1, over = the horizon): LinearLR */
    SCHED_EXPONENTIAL,  /* exponential(gamma): ExponentialLR */
    SCHED_WARMUP,       /* warmup(over, start = 0): LambdaLR min(1, t/over), or LinearLR */
    SCHED_ONE_CYCLE,    /* one_cycle(max_lr, pct, div, final_div, ...): OneCycleLR */
    SCHED_FORMULA,      /* a factor written in the language, evaluated by the runtime */
} SchedKind;

#define SCHED_KINDS (SCHED_FORMULA + 1)

/* The most arguments one schedule takes (one_cycle's). */
#define SCHED_MAX_ARGS 7

/* One schedule of a sequence: its kind and its arguments' values, in the order of
 * schedule_args(kind). */
typedef struct SchedPhase {
    SchedKind kind;
    double arg[SCHED_MAX_ARGS];
} SchedPhase;

/* A schedule: one phase, or two ("A then B", PyTorch's SequentialLR with one milestone): phase
 * 0 for t < milestone with horizon `milestone`, then phase 1 at t - milestone with horizon
 * total - milestone. A plain value without pointers, copied into compiled programs. All zero,
 * it is a constant rate. Fill it with schedule_set (and schedule_then), not by hand. */
typedef struct Schedule {
    int phases;             /* 0 (a constant rate), 1 or 2 */
    SchedPhase phase[2];
    long milestone;         /* phases == 2: where phase 1 starts, phase 0's `over` */
} Schedule;

/* The language's word for `kind` ("none", "step_decay", "cosine", "linear", "exponential",
 * "warmup", "one_cycle", and "formula" for SCHED_FORMULA, which is not a word): a static
 * string. */
const char *schedule_name(SchedKind kind);

/* The kind whose word is `name` (exact). Not SCHED_FORMULA. False, leaving *out alone, if
 * there is none. */
bool schedule_lookup(const char *name, SchedKind *out);

/* The arguments of `kind`, one ArgSpec row each, in the order schedule_set takes their values
 * (as listed at SchedKind; *n = 0 and NULL for none and formula). Two defaults stand for a
 * value of the run, and lie outside their row's range so they cannot be confused with a value
 * given: `over = 0` (linear) is the horizon, `max_lr = 0` (one_cycle) the base rate. Integer
 * rows stop at 2^53, so that their values convert to long exactly. Ranges:
 *   step_decay   every an integer at least 1 (the front end may also bound it by the horizon);
 *                gamma above 0 and at most 1
 *   cosine       min at least 0
 *   linear       start above 0 and at most 1; end between 0 and 1; over an integer >= 1
 *   exponential  gamma (required) above 0 and at most 1
 *   warmup       over (required) an integer at least 1; start between 0 and 1
 *   one_cycle    max_lr positive; pct between 0 and 1 (default 0.3); div and final_div positive
 *                (25, 1e4); cycle_momentum a flag (1); base_momentum and max_momentum at least
 *                0 and below 1 (0.85, 0.95)
 * A static array. */
const ArgSpec *schedule_args(SchedKind kind, int *n);

/* What `:help` says for `kind`: an example (*example, "schedule cosine(min = 0.001)") and one
 * line (*text). Both NULL for none and formula, which are not words users call. */
void schedule_help(SchedKind kind, const char **example, const char **text);

/* Whether `kind` may come before `then`: it has an `over`, which becomes the milestone
 * (linear and warmup). */
bool schedule_leads(SchedKind kind);
/* The `over` of a one-phase schedule of a kind that leads (0 if it was not given). */
long schedule_lead_length(const Schedule *s);

/* Makes *s the one-phase schedule `kind` with values[i] the value of row i of
 * schedule_args(kind) (values may be NULL when there are none). The caller has checked each
 * value given against its row and put the row's default in for each one not given; a value
 * outside its row's range that is not its default is an NN_ASSERT. */
void schedule_set(Schedule *s, SchedKind kind, const double *values);

/* Makes *s "s then next": *s and *next are one-phase schedules from schedule_set, *s of a kind
 * that leads (schedule_leads) with its `over` given; that over is the milestone. Here each phase
 * behaves as it would alone; in PyTorch a OneCycleLR inside a SequentialLR does not (building it
 * rewrites the optimizer's initial_lr, which changes the phase before it), so that pair has no
 * PyTorch equivalent and the front end may refuse it. */
void schedule_then(Schedule *s, const Schedule *next);

/* Where count t (>= 0) falls: the phase (0 or 1), its kind, and t and the horizon within the
 * phase (t - milestone and total - milestone in phase 1). For the runtime to evaluate a
 * formula phase at the phase's own count. */
typedef struct SchedPoint {
    int phase;
    SchedKind kind;
    long t, total;
} SchedPoint;
SchedPoint schedule_point(const Schedule *s, long t, long total);

/* The learning rate at count t (>= 0) of `total`, computed in double and rounded to float.
 * base_lr is the optimizer's lr. Per kind, with t and total those of the active phase
 * (schedule_point):
 *   none         base_lr
 *   step_decay   base_lr * gamma^floor(t / every)
 *   cosine       min + (base_lr - min) * (1 + cos(pi * t / total)) / 2; base_lr if total <= 0.
 *                Past the horizon it climbs again, as CosineAnnealingLR does.
 *   linear       base_lr * (start + (end - start) * min(t, over) / over), over = total when not
 *                given; the end factor when over <= 0
 *   exponential  base_lr * gamma^t
 *   warmup       base_lr * (start + (1 - start) * min(t, over) / over): LambdaLR with
 *                min(1, t/over) when start = 0, LinearLR(start, 1, over) otherwise
 *   one_cycle    OneCycleLR (cos, two phases, total_steps = total): with m = max_lr (base_lr
 *                when not given), from m/div at t = 0 up to m at t = pct*total - 1, then down to
 *                m/(div*final_div) at t = total - 1, along half a cosine each, anneal(a, b, p)
 *                = b + (a - b)/2 * (1 + cos(pi p)) with p the fraction of the part done. From
 *                t = total on, t is held at total - 1 (PyTorch extrapolates the cosine at
 *                t = total and raises after it); a total below 1 counts as 1. Where PyTorch
 *                divides by zero (pct*total = 1, at t = 0) this gives m.
 * A SCHED_FORMULA phase is an NN_ASSERT here: see schedule_lr_factor. Never raises. */
float schedule_lr(const Schedule *s, float base_lr, long t, long total);

/* schedule_lr, except that a SCHED_FORMULA phase gives base_lr * factor: the caller evaluates
 * the formula at schedule_point(s, t, total) (the phase's own count and horizon) and passes its
 * value; other phases ignore `factor`. */
float schedule_lr_factor(const Schedule *s, float base_lr, long t, long total, double factor);

/* The momentum the schedule sets at count t of `total`, into *m: true only in a one_cycle
 * phase with cycle_momentum on, false (leaving *m alone) otherwise, when the optimizer's own
 * momentum stands. The caller puts it where OneCycleLR does: beta1 for adam and adamw,
 * momentum for sgd and rmsprop. It runs opposite to the rate: from max_momentum at t = 0 down
 * to base_momentum at the rate's peak and back up to max_momentum at t = total - 1, with the
 * same anneal and the same phase boundaries. As in PyTorch, an sgd or rmsprop built with
 * momentum 0 gets momentum too, so the caller must then keep a momentum buffer
 * (optim_state_count of the config with momentum set). */
bool schedule_momentum(const Schedule *s, long t, long total, double *m);

#endif
