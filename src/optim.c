/* optim.c — the argument tables of optimisers and schedules, optimiser updates, gradient
 * clipping and learning rate schedules. Each update rule is PyTorch's (torch.optim, single-tensor
 * "foreach=False" path), computed in float32 as PyTorch does for float32 parameters; only
 * per-step scalars (and schedules) use double. */
#include "optim.h"

#include "tensor.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- argument tables ----------------------------------------------------------------------
 * One ArgSpec row per argument: the checker, `:help`, optim_defaults and optim_validate all read
 * these. A RANGE_ macro fills a row's lo, hi, lo_open, hi_open and range words. */

#define RANGE_POSITIVE  0, INFINITY, true, true, "positive"
#define RANGE_NONNEG    0, INFINITY, false, true, "at least 0"
#define RANGE_COUNT     1, 0x1p53, false, false, "at least 1"  /* 2^53: exact as double and long */
#define RANGE_UNIT      0, 1, false, false, "between 0 and 1"
#define RANGE_OPEN_UNIT 0, 1, true, false, "above 0 and at most 1"
#define RANGE_FRACTION  0, 1, false, true, "at least 0 and below 1"
#define RANGE_FLAG      0, 1, false, false, "1 (on) or 0 (off)"

static const ArgSpec sgd_args[] = {
    /* PyTorch's SGD has no default lr: the language requires one; 0.01 is optim_defaults' */
    { "lr", ARG_NUMBER, true, 0.01, RANGE_POSITIVE },
    { "momentum", ARG_NUMBER, false, 0, RANGE_FRACTION },
    { "dampening", ARG_NUMBER, false, 0, RANGE_UNIT },
    { "nesterov", ARG_FLAG, false, 0, RANGE_FLAG },
    { "weight_decay", ARG_NUMBER, false, 0, RANGE_NONNEG },
};

static const ArgSpec adam_args[] = {
    { "lr", ARG_NUMBER, false, 1e-3, RANGE_POSITIVE },
    { "beta1", ARG_NUMBER, false, 0.9, RANGE_FRACTION },
    { "beta2", ARG_NUMBER, false, 0.999, RANGE_FRACTION },
    { "eps", ARG_NUMBER, false, 1e-8, RANGE_OPEN_UNIT },
    { "weight_decay", ARG_NUMBER, false, 0, RANGE_NONNEG },
};

static const ArgSpec adamw_args[] = {
    { "lr", ARG_NUMBER, false, 1e-3, RANGE_POSITIVE },
    { "beta1", ARG_NUMBER, false, 0.9, RANGE_FRACTION },
    { "beta2", ARG_NUMBER, false, 0.999, RANGE_FRACTION },
    { "eps", ARG_NUMBER, false, 1e-8, RANGE_OPEN_UNIT },
    { "weight_decay", ARG_NUMBER, false, 1e-2, RANGE_NONNEG },
};

static const ArgSpec rmsprop_args[] = {
    { "lr", ARG_NUMBER, false, 1e-2, RANGE_POSITIVE },
    { "momentum", ARG_NUMBER, false, 0, RANGE_FRACTION },
    { "alpha", ARG_NUMBER, false, 0.99, RANGE_UNIT },
    { "eps", ARG_NUMBER, false, 1e-8, RANGE_OPEN_UNIT },
    { "weight_decay", ARG_NUMBER, false, 0, RANGE_NONNEG },
};

#define ARGS(a) a, (int)NN_ARRAY_LEN(a)

/* One row per optimizer: its word, its arguments, and what `:help` says. */
static const struct OptimRow {
    const char *name;
    const ArgSpec *args;
    int n_args;
    const char *help_example, *help_text;
} optim_rows[] = {
    [OPTIM_SGD] = { "sgd", ARGS(sgd_args),
        "sgd(lr = 0.1, momentum = 0.9, nesterov = 1, weight_decay = 0)",
        "stochastic gradient descent, PyTorch's rule" },
    [OPTIM_ADAM] = { "adam", ARGS(adam_args),
        "adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)",
        "adaptive moments with bias correction" },
    [OPTIM_ADAMW] = { "adamw", ARGS(adamw_args), "adamw(lr = 0.001, weight_decay = 0.01)",
        "Adam with decoupled weight decay" },
    [OPTIM_RMSPROP] = { "rmsprop", ARGS(rmsprop_args),
        "rmsprop(lr = 0.01, alpha = 0.99, momentum = 0)",
        "divides by a running RMS of the gradient" },
};

/* ---- optimizer names, defaults, options ------------------------------------------------- */

static const struct OptimRow *optim_row(OptimKind kind)
{
    NN_ASSERT((size_t)kind < NN_ARRAY_LEN(optim_rows));
    return &optim_rows[kind];
}

const char *optim_name(OptimKind kind)
{
    return optim_row(kind)->name;
}

void optim_help(OptimKind kind, const char **example, const char **text)
{
    *example = optim_row(kind)->help_example;
    *text = optim_row(kind)->help_text;
}

const ArgSpec *optim_args(OptimKind kind, int *n)
{
    *n = optim_row(kind)->n_args;
    return optim_row(kind)->args;
}

bool optim_lookup(const char *name, OptimKind *out)
{
    if (!name) return false;
    for (size_t i = 0; i < NN_ARRAY_LEN(optim_rows); i++) {
        if (strcmp(name, optim_rows[i].name) == 0) {
            *out = (OptimKind)i;
            return true;
        }
    }
    return false;
}

/* Where the float behind an argument's name lies in an OptimConfig; SIZE_MAX for nesterov, the
 * one bool. */
static size_t optim_offset(const char *name)
{
    static const struct { const char *name; size_t offset; } fields[] = {
        { "lr", offsetof(OptimConfig, lr) },
        { "momentum", offsetof(OptimConfig, momentum) },
        { "dampening", offsetof(OptimConfig, dampening) },
        { "weight_decay", offsetof(OptimConfig, weight_decay) },
        { "beta1", offsetof(OptimConfig, beta1) },
        { "beta2", offsetof(OptimConfig, beta2) },
        { "eps", offsetof(OptimConfig, eps) },
        { "alpha", offsetof(OptimConfig, alpha) },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(fields); i++)
        if (strcmp(name, fields[i].name) == 0) return fields[i].offset;
    NN_ASSERT(strcmp(name, "nesterov") == 0);
    return SIZE_MAX;
}

/* The value of argument `name` in *c (nesterov: 1 or 0). */
double optim_option(const OptimConfig *c, const char *name)
{
    size_t at = optim_offset(name);
    if (at == SIZE_MAX) return c->nesterov ? 1.0 : 0.0;
    return *(const float *)((const char *)c + at);
}

/* The row of `kind` called `name`, or NULL. */
static const ArgSpec *optim_arg(OptimKind kind, const char *name)
{
    int n;
    const ArgSpec *args = optim_args(kind, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(args[i].name, name) == 0) return &args[i];
    return NULL;
}

bool optim_set_option(OptimConfig *c, const char *name, float value)
{
    if (!name || !optim_arg(c->kind, name)) return false;
    size_t at = optim_offset(name);
    if (at == SIZE_MAX)
        c->nesterov = value != 0.0f;
    else
        *(float *)((char *)c + at) = value;
    return true;
}

void optim_defaults(OptimKind kind, OptimConfig *c)
{
    int n;
    const ArgSpec *args = optim_args(kind, &n);
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->nesterov = false;
    for (int i = 0; i < n; i++) optim_set_option(c, args[i].name, (float)args[i].def);
}

const char *optim_validate(const OptimConfig *c, char *msg, size_t cap)
{
    int n;
    const ArgSpec *args = optim_args(c->kind, &n);
    for (int i = 0; i < n; i++) {
        if (!argspec_in_range(&args[i], optim_option(c, args[i].name))) {
            snprintf(msg, cap, "'%s' must be %s", args[i].name, args[i].range);
            return msg;
        }
    }
    if (c->kind == OPTIM_SGD && c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f)) {
        snprintf(msg, cap, "nesterov momentum needs momentum above 0 and no dampening");
        return msg;
    }
    return NULL;
}

int optim_state_count(const OptimConfig *c)
{
    switch (c->kind) {
    case OPTIM_SGD: return c->momentum != 0.0f ? 1 : 0;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: return 2;
    case OPTIM_RMSPROP: return c->momentum != 0.0f ? 2 : 1;
    }
    NN_ASSERT(!"unknown optimiser kind");
}

bool optim_state_nonneg(const OptimConfig *c, int i)
{
    NN_ASSERT(i >= 0 && i < optim_state_count(c));
    switch (c->kind) {
    case OPTIM_SGD: return false;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: return i == 1;
    case OPTIM_RMSPROP: return i == 0;
    }
    NN_ASSERT(!"unknown optimiser kind");
}

const char *optim_state_name(const OptimConfig *c, int i)
{
    NN_ASSERT(i >= 0 && i < optim_state_count(c));
    switch (c->kind) {
    case OPTIM_SGD: return "momentum_buffer";
    case OPTIM_ADAM:
    case OPTIM_ADAMW: return i == 0 ? "exp_avg" : "exp_avg_sq";
    case OPTIM_RMSPROP: return i == 0 ? "square_avg" : "momentum_buffer";
    }
    NN_ASSERT(!"unknown optimiser kind");
}

/* ---- update rules ------------------------------------------------------------------------ */

/* optim.h. The updates below call it once per call for each setting (not per element): a call
 * of a few logs and powers, so the last few settings are remembered, per thread (updates of large
 * params run on the kernels' threads); Adam's four settings then cost four comparisons. */
static double decimal_of(float f)
{
    double a = fabs((double)f);
    if (!(a > 0) || !isfinite(a)) return f;
    int e = (int)floor(log10(a));
    if (e < -30 || e > 30) return f;
    double scale = pow(10.0, 6 - e), r = round(a * scale) / scale;
    return (float)r == (float)a ? copysign(r, (double)f) : (double)f;
}

double optim_decimal(float f)
{
    enum { KEEP = 4 };
    static _Thread_local uint32_t bits[KEEP];
    static _Thread_local double value[KEEP];
    static _Thread_local int used, next;
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    for (int i = 0; i < used; i++)
        if (bits[i] == b) return value[i];
    double d = decimal_of(f);
    bits[next] = b;
    value[next] = d;
    next = (next + 1) % KEEP;
    if (used < KEEP) used++;
    return d;
}

/* SGD (torch.optim.SGD):
 *   d = g + wd*w                              (if wd != 0)
 *   b = d on step 1, else momentum*b + (1 - dampening)*d       (if momentum != 0)
 *   d = nesterov ? d + momentum*b : b                          (if momentum != 0)
 *   w = w - lr*d */
/* The loop of one update, for one setting of each flag (constants where it is inlined, so the
 * loop has no branch and vectorises, as adam_loop's). */
static inline __attribute__((always_inline)) void sgd_loop(float *restrict w,
                                                           const float *restrict g,
                                                           float *restrict buf, size_t n,
                                                           float lr, float wd, float mom,
                                                           float keep, bool decay, bool first,
                                                           bool nesterov)
{
    const bool momentum = buf != NULL;  /* a constant too: NULL, or not NULL, where inlined */
    for (size_t i = 0; i < n; i++) {
        float d = g[i];
        if (decay) d += wd * w[i];
        if (momentum) {
            /* PyTorch starts the buffer as a copy of the gradient: no dampening on step 1 */
            buf[i] = first ? d : mom * buf[i] + keep * d;
            d = nesterov ? d + mom * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}

static void sgd_update(const OptimConfig *c, float lr, long t, float *w, const float *g,
                       float *const *state, size_t n)
{
    const float wd = c->weight_decay, mom = c->momentum;
    const float keep = (float)(1.0 - optim_decimal(c->dampening));
    const bool decay = wd != 0.0f, first = t <= 1, nesterov = c->nesterov;
    if (mom == 0.0f) {
        if (decay) sgd_loop(w, g, NULL, n, lr, wd, mom, keep, true, false, false);
        else sgd_loop(w, g, NULL, n, lr, wd, mom, keep, false, false, false);
        return;
    }
    float *const buf = state[0];
    NN_ASSERT(buf != NULL);
#define SGD_MOMENTUM(DECAY)                                                                   \
    do {                                                                                      \
        if (first && nesterov) sgd_loop(w, g, buf, n, lr, wd, mom, keep, DECAY, true, true);   \
        else if (first) sgd_loop(w, g, buf, n, lr, wd, mom, keep, DECAY, true, false);         \
        else if (nesterov) sgd_loop(w, g, buf, n, lr, wd, mom, keep, DECAY, false, true);      \
        else sgd_loop(w, g, buf, n, lr, wd, mom, keep, DECAY, false, false);                  \
    } while (0)
    if (decay) SGD_MOMENTUM(true);
    else SGD_MOMENTUM(false);
#undef SGD_MOMENTUM
}


/* Adam and AdamW (torch.optim.Adam / AdamW, non-amsgrad, non-capturable):
 *   adamw: w = w * (1 - lr*wd)                adam: g = g + wd*w   (L2, if wd != 0)
 *   m = beta1*m + (1 - beta1)*g               (as lerp(m, g, 1 - beta1))
 *   v = beta2*v + (1 - beta2)*g^2
 *   w = w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */
/* The loop of one update, for one weight-decay mode and one lerp form (both fixed per call, so
 * they are chosen outside the loop, which then vectorises: inlined into each call, `low` is a
 * constant there; a branch left in the loop would keep it scalar, since gcc does not compute
 * both sides of a float ?: while floating-point traps are on). exp_avg is
 * torch.lerp(m, g, 1 - b1) evaluated as PyTorch's CPU kernel does it, from whichever end is
 * nearer (`low`), so it rounds the same. */
static inline __attribute__((always_inline)) void adam_loop(float *restrict w,
                                                            const float *restrict g,
                                                            float *restrict m,
                                                            float *restrict v, size_t n,
                                                            float l2, float shrink, bool low,
                                                            float w1, float b2, float w2,
                                                            float bc2_sqrt, float eps,
                                                            float step)
{
    for (size_t i = 0; i < n; i++) {
        float wi = w[i] * shrink, gi = g[i] + l2 * wi;
        float mi = low ? m[i] + w1 * (gi - m[i]) : gi - (gi - m[i]) * (1.0f - w1);
        float vi = v[i] * b2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - step * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

NN_TARGET_CLONES static void adam_update(const OptimConfig *c, float lr, long t, float *w,
                                         const float *g, float *const *state, size_t n)
{
    const bool decoupled = c->kind == OPTIM_ADAMW;
    const float wd = c->weight_decay, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const double b1d = optim_decimal(b1), b2d = optim_decimal(b2), lrd = optim_decimal(lr);
    const double bc1 = 1.0 - pow(b1d, (double)t);
    const double bc2 = 1.0 - pow(b2d, (double)t);
    const float step = (float)(lrd / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float w1 = (float)(1.0 - b1d), w2 = (float)(1.0 - b2d);
    /* adamw shrinks w first (shrink), adam adds wd * w to the gradient (l2); multiplying by 1
     * and adding 0 * w change nothing, so one loop serves both */
    const float shrink = decoupled ? (float)(1.0 - lrd * optim_decimal(wd)) : 1.0f;
    const float l2 = decoupled ? 0.0f : wd;
    if (fabsf(w1) < 0.5f)   /* torch.lerp's two forms */
        adam_loop(w, g, state[0], state[1], n, l2, shrink, true, w1, b2, w2, bc2_sqrt, eps, step);
    else
        adam_loop(w, g, state[0], state[1], n, l2, shrink, false, w1, b2, w2, bc2_sqrt, eps,
                  step);
}

/* RMSprop (torch.optim.RMSprop, centered=False):
 *   g = g + wd*w                              (if wd != 0)
 *   v = alpha*v + (1 - alpha)*g^2
 *   momentum != 0: b = momentum*b + g / (sqrt(v) + eps); w = w - lr*b
 *   otherwise:     w = w - lr * g / (sqrt(v) + eps)
 * No bias correction, and the momentum buffer starts at zero. */
static inline __attribute__((always_inline)) void rmsprop_loop(float *restrict w,
                                                               const float *restrict g,
                                                               float *restrict v,
                                                               float *restrict buf, size_t n,
                                                               float lr, float wd, float alpha,
                                                               float keep, float eps, float mom,
                                                               bool decay)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        if (decay) gi += wd * w[i];
        v[i] = v[i] * alpha + keep * gi * gi;
        float avg = sqrtf(v[i]) + eps;
        if (buf) {
            buf[i] = buf[i] * mom + gi / avg;
            w[i] -= lr * buf[i];
        } else {
            w[i] -= lr * (gi / avg);
        }
    }
}

static void rmsprop_update(const OptimConfig *c, float lr, float *w, const float *g,
                           float *const *state, size_t n)
{
    const float wd = c->weight_decay, alpha = c->alpha, eps = c->eps, mom = c->momentum;
    const float keep = (float)(1.0 - optim_decimal(alpha));
    float *v = state[0], *const buf = state[1];
    if (mom != 0.0f) {
        NN_ASSERT(buf != NULL);
        if (wd != 0.0f) rmsprop_loop(w, g, v, buf, n, lr, wd, alpha, keep, eps, mom, true);
        else rmsprop_loop(w, g, v, buf, n, lr, wd, alpha, keep, eps, mom, false);
    } else {
        if (wd != 0.0f) rmsprop_loop(w, g, v, NULL, n, lr, wd, alpha, keep, eps, mom, true);
        else rmsprop_loop(w, g, v, NULL, n, lr, wd, alpha, keep, eps, mom, false);
    }
}

void optim_update(const OptimConfig *c, float lr, long t, float *w, const float *g,
                  float *const *state, size_t n)
{
    NN_ASSERT(t >= 1);
    NN_ASSERT(optim_state_count(c) == 0 || state != NULL);
    switch (c->kind) {
    case OPTIM_SGD: sgd_update(c, lr, t, w, g, state, n); return;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: adam_update(c, lr, t, w, g, state, n); return;
    case OPTIM_RMSPROP: rmsprop_update(c, lr, w, g, state, n); return;
    }
    NN_ASSERT(!"unknown optimiser kind");
}

/* ---- clipping ---------------------------------------------------------------------------- */

double optim_clip_global_norm(float *const *grads, const size_t *sizes, size_t count,
                              double max_norm)
{
    NN_ASSERT(max_norm >= 0.0);
    double sq = 0.0;
    for (size_t k = 0; k < count; k++)
        sq += tensor_sum_squares(grads[k], sizes[k]);
    double total = sqrt(sq);
    double coef = max_norm / (total + 1e-6);
    /* PyTorch multiplies by min(coef, 1); skipping the multiply by 1 changes nothing. Written
     * !(coef >= 1) so that a NaN norm spreads to every gradient, as it does in PyTorch. */
    if (!(coef >= 1.0)) {
        float f = (float)coef;
        for (size_t k = 0; k < count; k++)
            for (size_t i = 0; i < sizes[k]; i++) grads[k][i] *= f;
    }
    return total;
}

/* ---- schedule table ------------------------------------------------------------------------ */

/* Each argument's slot in its schedule's row, and so in SchedPhase.arg: the table below and the
 * formulas after it both index by these. */
enum { STEP_EVERY, STEP_GAMMA };
enum { COSINE_MIN };
enum { LINEAR_START, LINEAR_END, LINEAR_OVER };
enum { EXP_GAMMA };
enum { WARMUP_OVER, WARMUP_START };
enum { CYCLE_MAX_LR, CYCLE_PCT, CYCLE_DIV, CYCLE_FINAL_DIV, CYCLE_MOMENTUM, CYCLE_BASE_MOMENTUM,
       CYCLE_MAX_MOMENTUM };

/* One row per schedule: its word, its arguments (up to the first without a name), whether it
 * may come before `then`, and what `:help` says (NULL: not a word users call). */
static const struct SchedRow {
    const char *name;
    ArgSpec args[SCHED_MAX_ARGS];
    bool leads;
    const char *help_example, *help_text;
} sched_rows[] = {
    [SCHED_NONE] = { "none", { { 0 } }, false, NULL, NULL },
    [SCHED_STEP] = { "step_decay", {
            [STEP_EVERY] = { "every", ARG_INT, true, 0, RANGE_COUNT },
            [STEP_GAMMA] = { "gamma", ARG_NUMBER, false, 0.1, RANGE_OPEN_UNIT },
        }, false, "schedule step_decay(every = 10, gamma = 0.5)",
        "learning rate times gamma every N epochs (StepLR)" },
    [SCHED_COSINE] = { "cosine", {
            [COSINE_MIN] = { "min", ARG_NUMBER, false, 0, RANGE_NONNEG },
        }, false, "schedule cosine(min = 0.001)",
        "learning rate follows half a cosine down to min over the epochs (CosineAnnealingLR)" },
    [SCHED_LINEAR] = { "linear", {
            [LINEAR_START] = { "start", ARG_NUMBER, false, 1.0 / 3.0, RANGE_OPEN_UNIT },
            [LINEAR_END] = { "end", ARG_NUMBER, false, 1, RANGE_UNIT },
            [LINEAR_OVER] = { "over", ARG_INT, false, 0, RANGE_COUNT },    /* 0: the horizon */
        }, true, "schedule linear(start = 1, end = 0.1, over = 50)",
        "learning rate times a factor going straight from start to end over N epochs, then "
        "staying (LinearLR)" },
    [SCHED_EXPONENTIAL] = { "exponential", {
            [EXP_GAMMA] = { "gamma", ARG_NUMBER, true, 0, RANGE_OPEN_UNIT },
        }, false, "schedule exponential(gamma = 0.95)",
        "learning rate times gamma every epoch (ExponentialLR)" },
    [SCHED_WARMUP] = { "warmup", {
            [WARMUP_OVER] = { "over", ARG_INT, true, 0, RANGE_COUNT },
            [WARMUP_START] = { "start", ARG_NUMBER, false, 0, RANGE_UNIT },
        }, true, "schedule warmup(over = 5) then cosine",
        "learning rate rising straight from start times lr to lr over N epochs, then staying" },
    [SCHED_ONE_CYCLE] = { "one_cycle", {
            [CYCLE_MAX_LR] = { "max_lr", ARG_NUMBER, false, 0, RANGE_POSITIVE },  /* 0: base */
            [CYCLE_PCT] = { "pct", ARG_NUMBER, false, 0.3, RANGE_UNIT },
            [CYCLE_DIV] = { "div", ARG_NUMBER, false, 25, RANGE_POSITIVE },
            [CYCLE_FINAL_DIV] = { "final_div", ARG_NUMBER, false, 1e4, RANGE_POSITIVE },
            [CYCLE_MOMENTUM] = { "cycle_momentum", ARG_FLAG, false, 1, RANGE_FLAG },
            [CYCLE_BASE_MOMENTUM] = { "base_momentum", ARG_NUMBER, false, 0.85, RANGE_FRACTION },
            [CYCLE_MAX_MOMENTUM] = { "max_momentum", ARG_NUMBER, false, 0.95, RANGE_FRACTION },
        }, false, "schedule one_cycle(max_lr = 0.1, pct = 0.3)",
        "learning rate up from max_lr / div to max_lr over the first pct of the run, then down "
        "to max_lr / (div × final_div), momentum the other way (OneCycleLR)" },
    [SCHED_FORMULA] = { "formula", { { 0 } }, false, NULL, NULL },
};

_Static_assert(NN_ARRAY_LEN(sched_rows) == SCHED_KINDS, "one row per schedule kind");

static const struct SchedRow *sched_row(SchedKind kind)
{
    NN_ASSERT((size_t)kind < NN_ARRAY_LEN(sched_rows));
    return &sched_rows[kind];
}

const char *schedule_name(SchedKind kind)
{
    return sched_row(kind)->name;
}

bool schedule_lookup(const char *name, SchedKind *out)
{
    if (!name) return false;
    for (size_t i = 0; i < NN_ARRAY_LEN(sched_rows); i++) {
        if (i != SCHED_FORMULA && strcmp(name, sched_rows[i].name) == 0) {
            *out = (SchedKind)i;
            return true;
        }
    }
    return false;
}

const ArgSpec *schedule_args(SchedKind kind, int *n)
{
    const struct SchedRow *row = sched_row(kind);
    *n = 0;
    while (*n < SCHED_MAX_ARGS && row->args[*n].name) ++*n;
    return *n ? row->args : NULL;
}

void schedule_help(SchedKind kind, const char **example, const char **text)
{
    *example = sched_row(kind)->help_example;
    *text = sched_row(kind)->help_text;
}

bool schedule_leads(SchedKind kind)
{
    return sched_row(kind)->leads;
}

/* ---- filling a schedule ------------------------------------------------------------------ */

void schedule_set(Schedule *s, SchedKind kind, const double *values)
{
    int n;
    const ArgSpec *args = schedule_args(kind, &n);
    memset(s, 0, sizeof *s);
    s->phases = 1;
    s->phase[0].kind = kind;
    for (int i = 0; i < n; i++) {
        NN_ASSERT(argspec_in_range(&args[i], values[i])
                  || (!args[i].required && values[i] == args[i].def));
        s->phase[0].arg[i] = values[i];
    }
}

/* The `over` of a leading phase: its length, the milestone (0 if not given). */
static long phase_over(const SchedPhase *p)
{
    switch (p->kind) {
    case SCHED_LINEAR: return (long)p->arg[LINEAR_OVER];
    case SCHED_WARMUP: return (long)p->arg[WARMUP_OVER];
    default: return 0;
    }
}

long schedule_lead_length(const Schedule *s)
{
    return s->phases == 1 ? phase_over(&s->phase[0]) : 0;
}

void schedule_then(Schedule *s, const Schedule *next)
{
    NN_ASSERT(s->phases == 1 && next->phases == 1);
    NN_ASSERT(schedule_leads(s->phase[0].kind) && phase_over(&s->phase[0]) > 0);
    s->phases = 2;
    s->phase[1] = next->phase[0];
    s->milestone = phase_over(&s->phase[0]);
}

/* Phase 0 of *s: phase[0], or a constant rate when there is none. */
static SchedPhase first_phase(const Schedule *s)
{
    if (s->phases > 0) return s->phase[0];
    SchedPhase p = { .kind = SCHED_NONE };
    return p;
}

/* The phase active at count *t of *total, into *p; *t and *total become the phase's own.
 * Returns the phase's index. */
static int phase_at(const Schedule *s, long *t, long *total, SchedPhase *p)
{
    NN_ASSERT(*t >= 0);
    if (s->phases == 2 && *t >= s->milestone) {
        *t -= s->milestone;
        *total -= s->milestone;
        *p = s->phase[1];
        return 1;
    }
    if (s->phases == 2) *total = s->milestone;
    *p = first_phase(s);
    return 0;
}

SchedPoint schedule_point(const Schedule *s, long t, long total)
{
    SchedPhase p;
    SchedPoint at = { .t = t, .total = total };
    at.phase = phase_at(s, &at.t, &at.total, &p);
    at.kind = p.kind;
    return at;
}

/* ---- the formulas ------------------------------------------------------------------------ */

static const double pi = 3.14159265358979323846;

/* start + (end - start) * min(t, over) / over, in PyTorch's LinearLR order of operations; the
 * end when over <= 0. */
static double ramp(double start, double end, long t, long over)
{
    if (over <= 0) return end;
    return start + (end - start) * (double)(t < over ? t : over) / (double)over;
}

/* CosineAnnealingLR's closed form, T_max = total. */
static double cosine_lr(double base, double min, long t, long total)
{
    if (total <= 0) return base;
    return min + (base - min) * (1.0 + cos(pi * (double)t / (double)total)) / 2.0;
}

/* OneCycleLR's _annealing_cos: from a at p = 0 to b at p = 1, operations in its order. */
static double anneal_cos(double a, double b, double p)
{
    double cos_out = cos(pi * p) + 1.0;
    return b + (a - b) / 2.0 * cos_out;
}

/* Where t lies in a one cycle of `total` steps, as OneCycleLR's get_lr finds it: rising from
 * step 0 to end1 = pct*total - 1 (a double, not rounded), then falling from end1 to total - 1;
 * *p is the fraction of the part done. Returns true while rising. */
static bool cycle_at(double pct_start, long t, long total, double *p)
{
    if (total < 1) total = 1;
    if (t > total - 1) t = total - 1;
    double end1 = pct_start * (double)total - 1.0, end2 = (double)(total - 1);
    bool rising = (double)t <= end1;
    double from = rising ? 0.0 : end1, to = rising ? end1 : end2;
    /* to == from only when end1 = 0 and t = 0, where PyTorch divides by zero: the peak */
    *p = to > from ? ((double)t - from) / (to - from) : 1.0;
    return rising;
}

static double one_cycle_lr(const double *a, double base, long t, long total)
{
    double max_lr = a[CYCLE_MAX_LR] > 0 ? a[CYCLE_MAX_LR] : base;
    double initial = max_lr / a[CYCLE_DIV], min_lr = initial / a[CYCLE_FINAL_DIV];
    double p;
    if (cycle_at(a[CYCLE_PCT], t, total, &p)) return anneal_cos(initial, max_lr, p);
    return anneal_cos(max_lr, min_lr, p);
}

static double one_cycle_momentum(const double *a, long t, long total)
{
    double p;
    if (cycle_at(a[CYCLE_PCT], t, total, &p))
        return anneal_cos(a[CYCLE_MAX_MOMENTUM], a[CYCLE_BASE_MOMENTUM], p);
    return anneal_cos(a[CYCLE_BASE_MOMENTUM], a[CYCLE_MAX_MOMENTUM], p);
}

/* The rate of phase p at its own count t and horizon total. */
static double phase_lr(const SchedPhase *p, double base, long t, long total, double factor)
{
    const double *a = p->arg;
    switch (p->kind) {
    case SCHED_NONE: return base;
    case SCHED_STEP:
        NN_ASSERT(a[STEP_EVERY] >= 1);
        return base * pow(a[STEP_GAMMA], (double)(t / (long)a[STEP_EVERY]));
    case SCHED_COSINE: return cosine_lr(base, a[COSINE_MIN], t, total);
    case SCHED_LINEAR: {
        long over = a[LINEAR_OVER] > 0 ? (long)a[LINEAR_OVER] : total;
        return base * ramp(a[LINEAR_START], a[LINEAR_END], t, over);
    }
    case SCHED_EXPONENTIAL: return base * pow(a[EXP_GAMMA], (double)t);
    case SCHED_WARMUP: return base * ramp(a[WARMUP_START], 1.0, t, (long)a[WARMUP_OVER]);
    case SCHED_ONE_CYCLE: return one_cycle_lr(a, base, t, total);
    case SCHED_FORMULA:
        NN_ASSERT(factor == factor && "a formula phase needs schedule_lr_factor");
        return base * factor;
    }
    NN_ASSERT(!"unknown schedule kind");
}

float schedule_lr_factor(const Schedule *s, float base_lr, long t, long total, double factor)
{
    SchedPhase p;
    phase_at(s, &t, &total, &p);
    return (float)phase_lr(&p, (double)base_lr, t, total, factor);
}

float schedule_lr(const Schedule *s, float base_lr, long t, long total)
{
    return schedule_lr_factor(s, base_lr, t, total, NAN);
}

bool schedule_momentum(const Schedule *s, long t, long total, double *m)
{
    SchedPhase p;
    phase_at(s, &t, &total, &p);
    if (p.kind != SCHED_ONE_CYCLE || p.arg[CYCLE_MOMENTUM] == 0) return false;
    *m = one_cycle_momentum(p.arg, t, total);
    return true;
}
