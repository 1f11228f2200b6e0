/* optim.c — optimiser updates, gradient clipping and learning rate schedules on float arrays.
 * Each update rule is PyTorch's (torch.optim, single-tensor "foreach=False" path), computed in
 * float32 as PyTorch does for float32 parameters; only per-step scalars use double. */
#include "optim.h"

#include "tensor.h"

#include <math.h>
#include <string.h>

/* ---- names, defaults, options ------------------------------------------------------------ */

static const char *const optim_names[] = {
    [OPTIM_SGD] = "sgd",
    [OPTIM_ADAM] = "adam",
    [OPTIM_ADAMW] = "adamw",
    [OPTIM_RMSPROP] = "rmsprop",
};

const char *optim_name(OptimKind kind)
{
    NN_ASSERT((size_t)kind < NN_ARRAY_LEN(optim_names));
    return optim_names[kind];
}

bool optim_lookup(const char *name, OptimKind *out)
{
    if (!name) return false;
    for (size_t i = 0; i < NN_ARRAY_LEN(optim_names); i++) {
        if (strcmp(name, optim_names[i]) == 0) {
            *out = (OptimKind)i;
            return true;
        }
    }
    return false;
}

void optim_defaults(OptimKind kind, OptimConfig *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->nesterov = false;
    switch (kind) {
    case OPTIM_SGD:
        c->lr = 0.01f;          /* PyTorch has none; the language insists on one */
        break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        c->lr = 1e-3f;
        c->beta1 = 0.9f;
        c->beta2 = 0.999f;
        c->eps = 1e-8f;
        c->weight_decay = kind == OPTIM_ADAMW ? 1e-2f : 0.0f;
        break;
    case OPTIM_RMSPROP:
        c->lr = 1e-2f;
        c->alpha = 0.99f;
        c->eps = 1e-8f;
        break;
    default:
        NN_ASSERT(!"unknown optimiser kind");
    }
}

#define KIND_BIT(k) (1u << (k))
#define ADAMS (KIND_BIT(OPTIM_ADAM) | KIND_BIT(OPTIM_ADAMW))
#define ALL_KINDS (KIND_BIT(OPTIM_SGD) | ADAMS | KIND_BIT(OPTIM_RMSPROP))

/* Which kinds take each hyperparameter, by PyTorch's keyword. */
static const struct OptimOption {
    const char *name;
    unsigned kinds;
} optim_options[] = {
    { "lr", ALL_KINDS },
    { "momentum", KIND_BIT(OPTIM_SGD) | KIND_BIT(OPTIM_RMSPROP) },
    { "dampening", KIND_BIT(OPTIM_SGD) },
    { "nesterov", KIND_BIT(OPTIM_SGD) },
    { "weight_decay", ALL_KINDS },
    { "beta1", ADAMS },
    { "beta2", ADAMS },
    { "eps", ADAMS | KIND_BIT(OPTIM_RMSPROP) },
    { "alpha", KIND_BIT(OPTIM_RMSPROP) },
};

/* The float field behind option i of optim_options ("nesterov", the bool, has none). */
static float *option_field(OptimConfig *c, size_t i)
{
    float *fields[] = { &c->lr, &c->momentum, &c->dampening, NULL, &c->weight_decay,
                        &c->beta1, &c->beta2, &c->eps, &c->alpha };
    _Static_assert(NN_ARRAY_LEN(fields) == NN_ARRAY_LEN(optim_options), "one field per option");
    return fields[i];
}

bool optim_set_option(OptimConfig *c, const char *name, float value)
{
    if (!name) return false;
    for (size_t i = 0; i < NN_ARRAY_LEN(optim_options); i++) {
        if (strcmp(name, optim_options[i].name) != 0) continue;
        if (!(optim_options[i].kinds & KIND_BIT(c->kind))) return false;
        float *field = option_field(c, i);
        if (field)
            *field = value;
        else
            c->nesterov = value != 0.0f;
        return true;
    }
    return false;
}

const char *optim_validate(const OptimConfig *c)
{
    /* written as !(x >= 0) so that NaN fails too, like PyTorch's `if not 0.0 <= x` */
    if (!(c->lr >= 0.0f)) return "'lr' must be at least 0";
    if (!(c->weight_decay >= 0.0f)) return "'weight_decay' must be at least 0";
    switch (c->kind) {
    case OPTIM_SGD:
        if (!(c->momentum >= 0.0f)) return "'momentum' must be at least 0";
        if (c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f))
            return "'nesterov' needs 'momentum' above 0 and 'dampening' 0";
        break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        if (!(c->eps >= 0.0f)) return "'eps' must be at least 0";
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f)) return "'beta1' must be at least 0 and below 1";
        if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f)) return "'beta2' must be at least 0 and below 1";
        break;
    case OPTIM_RMSPROP:
        if (!(c->eps >= 0.0f)) return "'eps' must be at least 0";
        if (!(c->momentum >= 0.0f)) return "'momentum' must be at least 0";
        if (!(c->alpha >= 0.0f)) return "'alpha' must be at least 0";
        break;
    default:
        NN_ASSERT(!"unknown optimiser kind");
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
