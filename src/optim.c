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
#define RANGE_COUNT     1, INFINITY, false, true, "at least 1"
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

static const struct OptimRow {
    const char *name;
    const ArgSpec *args;
    int n_args;
} optim_rows[] = {
    [OPTIM_SGD] = { "sgd", ARGS(sgd_args) },
    [OPTIM_ADAM] = { "adam", ARGS(adam_args) },
    [OPTIM_ADAMW] = { "adamw", ARGS(adamw_args) },
    [OPTIM_RMSPROP] = { "rmsprop", ARGS(rmsprop_args) },
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
static double optim_get(const OptimConfig *c, const char *name)
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
        if (!argspec_in_range(&args[i], optim_get(c, args[i].name))) {
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

/* SGD (torch.optim.SGD):
 *   d = g + wd*w                              (if wd != 0)
 *   b = d on step 1, else momentum*b + (1 - dampening)*d       (if momentum != 0)
 *   d = nesterov ? d + momentum*b : b                          (if momentum != 0)
 *   w = w - lr*d */
static void sgd_update(const OptimConfig *c, float lr, long t, float *w, const float *g,
                       float *const *state, size_t n)
{
    const float wd = c->weight_decay, mom = c->momentum, keep = 1.0f - c->dampening;
    float *buf = mom != 0.0f ? state[0] : NULL;
    for (size_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0.0f) d += wd * w[i];
        if (buf) {
            /* PyTorch starts the buffer as a copy of the gradient: no dampening on step 1 */
            buf[i] = t <= 1 ? d : mom * buf[i] + keep * d;
            d = c->nesterov ? d + mom * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}


/* Adam and AdamW (torch.optim.Adam / AdamW, non-amsgrad, non-capturable):
 *   adamw: w = w * (1 - lr*wd)                adam: g = g + wd*w   (L2, if wd != 0)
 *   m = beta1*m + (1 - beta1)*g               (as lerp(m, g, 1 - beta1))
 *   v = beta2*v + (1 - beta2)*g^2
 *   w = w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */
/* The loop of one update, for one weight-decay mode and one lerp form (both fixed per call, so
 * they are chosen outside the loop, which then vectorises). exp_avg is torch.lerp(m, g, 1 - b1)
 * evaluated as PyTorch's CPU kernel does it, from whichever end is nearer (`low`), so it
 * rounds the same. */
static void adam_loop(float *restrict w, const float *restrict g, float *restrict m,
                      float *restrict v, size_t n, float l2, float shrink, bool low, float w1,
                      float b2, float w2, float bc2_sqrt, float eps, float step)
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

static void adam_update(const OptimConfig *c, float lr, long t, float *w, const float *g,
                        float *const *state, size_t n)
{
    const bool decoupled = c->kind == OPTIM_ADAMW;
    const float wd = c->weight_decay, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const double bc1 = 1.0 - pow((double)b1, (double)t);
    const double bc2 = 1.0 - pow((double)b2, (double)t);
    const float step = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float w1 = (float)(1.0 - (double)b1), w2 = (float)(1.0 - (double)b2);
    /* adamw shrinks w first (shrink), adam adds wd * w to the gradient (l2); multiplying by 1
     * and adding 0 * w change nothing, so one loop serves both */
    const float shrink = decoupled ? (float)(1.0 - (double)lr * (double)wd) : 1.0f;
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
static void rmsprop_update(const OptimConfig *c, float lr, float *w, const float *g,
                           float *const *state, size_t n)
{
    const float wd = c->weight_decay, alpha = c->alpha, eps = c->eps, mom = c->momentum;
    const float keep = (float)(1.0 - (double)alpha);
    float *v = state[0], *buf = mom != 0.0f ? state[1] : NULL;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        if (wd != 0.0f) gi += wd * w[i];
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

/* ---- schedules --------------------------------------------------------------------------- */

static const char *const sched_names[] = {
    [SCHED_NONE] = "none",
    [SCHED_STEP] = "step",
    [SCHED_COSINE] = "cosine",
};

const char *schedule_name(SchedKind kind)
{
    NN_ASSERT((size_t)kind < NN_ARRAY_LEN(sched_names));
    return sched_names[kind];
}

bool schedule_lookup(const char *name, SchedKind *out)
{
    if (!name) return false;
    for (size_t i = 0; i < NN_ARRAY_LEN(sched_names); i++) {
        if (strcmp(name, sched_names[i]) == 0) {
            *out = (SchedKind)i;
            return true;
        }
    }
    return false;
}

float schedule_lr(const Schedule *s, float base_lr, int epoch, int total)
{
    NN_ASSERT(epoch >= 0);
    switch (s->kind) {
    case SCHED_NONE:
        return base_lr;
    case SCHED_STEP:
        NN_ASSERT(s->step_size > 0);
        return (float)((double)base_lr * pow((double)s->gamma, (double)(epoch / s->step_size)));
    case SCHED_COSINE: {
        if (total <= 0) return base_lr;
        const double pi = 3.14159265358979323846;
        double lo = s->min_lr;
        return (float)(lo + ((double)base_lr - lo) * (1.0 + cos(pi * epoch / total)) / 2.0);
    }
    }
    NN_ASSERT(!"unknown schedule kind");
}
