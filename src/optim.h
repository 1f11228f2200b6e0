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

/* The kind named `name` (exact, lower case). False, leaving *out alone, if there is none. */
bool optim_lookup(const char *name, OptimKind *out);

/* Sets the argument called `name` (a row of optim_args(c->kind); nesterov: non-zero is on) to
 * `value`. False, leaving *c alone, for a name the kind does not take. No range checks here:
 * see optim_validate. */
bool optim_set_option(OptimConfig *c, const char *name, float value);

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

typedef enum SchedKind { SCHED_NONE, SCHED_STEP, SCHED_COSINE } SchedKind;

typedef struct Schedule {
    SchedKind kind;
    int step_size;   /* step: epochs between decays, > 0 */
    float gamma;     /* step: factor per decay */
    float min_lr;    /* cosine: eta_min */
} Schedule;

/* "none", "step", "cosine": a static string. */
const char *schedule_name(SchedKind kind);

/* The kind named `name`. False, leaving *out alone, if there is none. */
bool schedule_lookup(const char *name, SchedKind *out);

/* The learning rate for 0-based epoch `epoch` (>= 0) of `total`, in closed form: none gives
 * base_lr; step is PyTorch's StepLR, base_lr * gamma^floor(epoch / step_size) (step_size <= 0
 * is an NN_ASSERT); cosine is CosineAnnealingLR with T_max = total, min_lr + (base_lr - min_lr)
 * * (1 + cos(pi * epoch / total)) / 2, and base_lr when total <= 0. */
float schedule_lr(const Schedule *s, float base_lr, int epoch, int total);

#endif
