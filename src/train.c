/* train.c — data sets made at run time, and the train loop.
 *
 * A train block arrives compiled: leaves for one batch (and for the last, smaller batch),
 * the model applied to them, the loss, and plans for every pass. The loop only copies rows
 * into those leaves and replays the plans, so a step parses nothing and allocates nothing;
 * what it needs (the shuffled order, the best weights for early stopping) is kept in the
 * Runtime's TrainScratch, which grows only when a block needs more than any before it.
 *
 * A block runs in three stages: set up (never raises), the epochs inside rt_protect, then
 * ordinary code that either finishes (curves, diagnostics) or handles what was raised: a value
 * that became inf or NaN stops the run with a warning, any other error is passed on with the
 * epoch it happened in. */
#include "runtime.h"

#include "data.h"
#include "fileio.h"
#include "fpmode.h"
#include "plot.h"
#include "predict.h"
#include "sandbox.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- data ------------------------------------------------------------------------------------ */

static GraphNode *node(Runtime *rt, uint32_t id)
{
    return graph_node(&rt->graph, id);
}

/* Copies row `from` of src into row `to` of dst: rows of a matrix, or single values of a
 * vector (class-index targets [N]). */
static void copy_row(GraphNode *dst, int to, const GraphNode *src, int from)
{
    size_t w = src->size / (size_t)src->shape.dim[0];
    memcpy(dst->value + (size_t)to * w, src->value + (size_t)from * w, w * sizeof(float));
}

/* A Dataset that borrows two nodes' values (no copy). */
static Dataset borrow(Runtime *rt, uint32_t x, uint32_t y)
{
    Dataset d;
    memset(&d, 0, sizeof d);
    d.rows = node(rt, x)->shape.dim[0];
    d.features = d.rows ? (int)(node(rt, x)->size / (size_t)d.rows) : 0;   /* images: C·H·W */
    d.targets = node(rt, y)->shape.dim[1];
    d.X = node(rt, x)->value;
    d.Y = node(rt, y)->value;
    return d;
}

static uint32_t below(Rng *rng, uint32_t n)
{
    /* Lemire's method is overkill here; rejection keeps the draw unbiased */
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t r;
    do r = rng_u32(rng);
    while (r >= limit);
    return r % n;
}

static void shuffle(int *perm, int n, Rng *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below(rng, (uint32_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void rt_data(Runtime *rt, const DataInstr *d, Span at)
{
    (void)at;
    Dataset made;
    switch ((DataFn)d->fn) {
    case DATA_XOR: data_xor(d->n, d->noise, &rt->rng, &made); break;
    case DATA_CIRCLES: data_circles(d->n, d->noise, &rt->rng, &made); break;
    case DATA_MOONS: data_moons(d->n, d->noise, &rt->rng, &made); break;
    case DATA_SPIRALS: data_spirals(d->k, d->n, d->noise, &rt->rng, &made); break;
    case DATA_BLOBS: data_blobs(d->k, d->n, d->noise, &rt->rng, &made); break;
    case DATA_SPLIT:
    case DATA_SPLIT_ROWS: {
        GraphNode *sx = node(rt, d->src_x[0]), *sy = node(rt, d->src_y[0]);
        GraphNode *ax = node(rt, d->dst_x[0]), *ay = node(rt, d->dst_y[0]);
        GraphNode *bx = node(rt, d->dst_x[1]), *by = node(rt, d->dst_y[1]);
        int rows = sx->shape.dim[0], first = ax->shape.dim[0];
        int *perm = nn_alloc((size_t)rows * sizeof *perm);
        if (d->fn == DATA_SPLIT) {
            for (int i = 0; i < rows; i++) perm[i] = i;
            shuffle(perm, rows, &rt->rng);
        } else {
            /* rows not listed keep their order in the first part; listed ones follow */
            char *listed = nn_calloc((size_t)rows, 1);
            for (int i = 0; i < d->n_rows; i++) listed[d->rows[i]] = 1;
            int k = 0;
            for (int i = 0; i < rows; i++)
                if (!listed[i]) perm[k++] = i;
            for (int i = 0; i < d->n_rows; i++) perm[k++] = d->rows[i];
            nn_free(listed);
        }
        for (int i = 0; i < rows; i++) {
            GraphNode *x = i < first ? ax : bx, *y = i < first ? ay : by;
            int to = i < first ? i : i - first;
            copy_row(x, to, sx, perm[i]);
            copy_row(y, to, sy, perm[i]);
        }
        nn_free(perm);
        return;
    }
    case DATA_NORMALIZE: {
        Dataset first = borrow(rt, d->src_x[0], d->src_y[0]);
        float *mean = nn_alloc((size_t)first.features * sizeof *mean);
        float *sd = nn_alloc((size_t)first.features * sizeof *sd);
        data_feature_stats(&first, mean, sd);
        for (int i = 0; i < d->n_src; i++) {
            GraphNode *sx = node(rt, d->src_x[i]), *sy = node(rt, d->src_y[i]);
            memcpy(node(rt, d->dst_x[i])->value, sx->value, sx->size * sizeof(float));
            memcpy(node(rt, d->dst_y[i])->value, sy->value, sy->size * sizeof(float));
            Dataset out = borrow(rt, d->dst_x[i], d->dst_y[i]);
            data_apply_normalize(&out, mean, sd);
        }
        nn_free(mean);
        nn_free(sd);
        return;
    }
    case DATA_CSV:
    case DATA_IMAGES: NN_ASSERT(!"csv and images data is filled when compiled"); return;
    }
    GraphNode *x = node(rt, d->dst_x[0]), *y = node(rt, d->dst_y[0]);
    NN_ASSERT(x->size == (size_t)made.rows * (size_t)made.features);
    NN_ASSERT(y->size == (size_t)made.rows * (size_t)made.targets);
    memcpy(x->value, made.X, x->size * sizeof(float));
    memcpy(y->value, made.Y, y->size * sizeof(float));
    data_free(&made);
}

/* ---- the loop --------------------------------------------------------------------------------- */

struct Loop;
static bool explain_update(const struct Loop *lp, long step);

/* A train block's running state. The arrays are borrowed from rt->train (TrainScratch). */
typedef struct Loop {
    Runtime *rt;
    const TrainInstr *t;
    Span at;
    int *perm;
    float *best;            /* early stopping: the best weights so far (and running statistics) */
    float **grads;          /* clipping: each param's gradient */
    size_t *sizes;
    size_t total;           /* floats in all params */
    double started;
    double last_progress;   /* when the progress line was last drawn */
    long step;              /* updates made */
    double last_loss;       /* of the last batch */
    double *wnorm;          /* diagnostics: each param's gradient norm, summed over epoch 1 */
    int n_relu;             /* diagnostics: the relu layers of the batch pass, [rows, units] */
    uint32_t *relu_batch, *relu_rest;   /* the same layers in the full and the last batch */
    uint8_t *fired;         /* per unit of each: did it fire in this epoch's batches */
    size_t *fired_at;       /* where each layer's units start in `fired` */
    float *curve, *val_curve;   /* the loss (and validation loss) per recorded epoch */
    int curve_n, curve_cap, curve_every;
    long wnorm_updates;
    bool first_epoch;
    bool vanishing;         /* the vanishing-gradient warning was given: the cause is named */
    bool explain_update;    /* the last backward was traced: explain the update too */
    double norm;            /* the gradient norm before clipping, at the last update */
    int start;              /* the first epoch (after resume) */
    int epoch;              /* the epoch running (for messages); when done, the epochs done */
    bool started_epochs;    /* past setting up (resume): errors say which epoch */
    bool stop;              /* ended at a breakpoint */
    bool interrupted;       /* ended by Ctrl-C (reported) */
    bool checked;           /* updates have something to check: a breakpoint, a limit */
    int batch, batches;     /* the batch running (from 1), of the epoch's */
    double best_loss;       /* early stopping: the best loss watched, */
    int best_epoch;         /* ... in this epoch (-1: none yet) */
    int mark;               /* the epoch 4/5 of the way in (the plateau check) */
    int block;              /* this block's number in the run, from 1 (JSON events) */
    int gn_groups;          /* grad_norms every N: the layers (or params) recorded, */
    int *gn_group;          /* ... each param's (-1: a bias, not recorded), */
    const char **gn_label;  /* ... their names, */
    float *gn;              /* ... their norms: layer g's record r at gn[g * gn_cap + r] */
    int gn_n, gn_cap;       /* ... records made, and room for */
    double first_loss, mark_loss, final_loss;   /* of epoch 1, epoch `mark`, the last one */
    FpMode fp_outer;            /* the floating-point mode outside the block (fpmode.h) */
} Loop;

static void note_firing(Loop *lp, const uint32_t *relus);
static void gn_record(Loop *lp);
static void progress_done(Loop *lp);

/* Whether update number `step` (from 1) is explained: `trace step N`, `trace every N` (update 1,
 * the worked example's step, then every N-th), or the command line's --trace-steps A-B. */
static bool explain_update(const Loop *lp, long step)
{
    const TrainInstr *t = lp->t;
    const Runtime *rt = lp->rt;
    return (t->set.trace_step > 0 && step == t->set.trace_step)
           || (t->set.trace_every > 0 && (step == 1 || step % t->set.trace_every == 0))
           || (rt->trace_from > 0 && step >= rt->trace_from && step <= rt->trace_to);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void zero_grads(Loop *lp)
{
    for (int i = 0; i < lp->t->n_params; i++) {
        GraphNode *p = node(lp->rt, lp->t->params[i]);
        memset(p->grad, 0, p->size * sizeof(float));
    }
}

/* Node i of the weights early stopping keeps: the params, then the model's buffers (the
 * running statistics that go with them). */
static GraphNode *kept_node(const Loop *lp, int i)
{
    const TrainInstr *t = lp->t;
    return node(lp->rt, i < t->n_params ? t->params[i] : t->model.nodes[t->model.count + i
                                                                         - t->n_params]);
}

static size_t kept_size(const Loop *lp)
{
    size_t n = 0;
    for (int i = 0; i < lp->t->n_params + lp->t->model.n_buffers; i++) n += kept_node(lp, i)->size;
    return n;
}

static void save_params(Loop *lp, float *to, bool restore)
{
    size_t k = 0;
    for (int i = 0; i < lp->t->n_params + lp->t->model.n_buffers; i++) {
        GraphNode *p = kept_node(lp, i);
        if (restore) memcpy(p->value, to + k, p->size * sizeof(float));
        else memcpy(to + k, p->value, p->size * sizeof(float));
        k += p->size;
    }
}

/* ---- breakpoints ------------------------------------------------------------------------------
 * A breakpoint stops the block before an update: the params are those the step computed with,
 * their .grad the step's gradients. The handler (the REPL's prompt) may run statements; the
 * gradients are put back afterwards, so the update is the one the step computed. */

static double grad_norm(Loop *lp)
{
    double sq = 0;
    for (int i = 0; i < lp->t->n_params; i++) {
        const GraphNode *p = node(lp->rt, lp->t->params[i]);
        sq += tensor_sum_squares(p->grad, p->size);
    }
    return sqrt(sq);
}

/* Reports the breakpoint and hands over to the handler; true: end the block. */
static bool stop_at(Loop *lp, const char *why)
{
    Runtime *rt = lp->rt;
    progress_done(lp);
    sb_printf(&rt->out, "break: %s\n", why);
    rt_flush_text(rt);
    if (!rt->on_break) return false;
    /* the handler runs statements in protected calls of their own, so it returns here; it
     * cannot start a train block, so this block's scratch is left alone */
    TrainScratch *ts = &rt->train;
    ts->break_grads = rt_grow(ts->break_grads, &ts->break_grads_cap, lp->total,
                              sizeof *ts->break_grads);
    size_t k = 0;
    for (int i = 0; i < lp->t->n_params; i++) {
        const GraphNode *p = node(rt, lp->t->params[i]);
        memcpy(ts->break_grads + k, p->grad, p->size * sizeof(float));
        k += p->size;
    }
    rt->in_break = true;
    FpMode fp = fp_mode_get();      /* the prompt computes and prints as outside the block */
    fp_mode_set(lp->fp_outer);
    bool stop = rt->on_break(rt->break_ud, why);
    fp_mode_set(fp);
    rt->in_break = false;
    k = 0;
    for (int i = 0; i < lp->t->n_params; i++) {     /* nodes may have moved: look them up */
        GraphNode *p = node(rt, lp->t->params[i]);
        memcpy(p->grad, ts->break_grads + k, p->size * sizeof(float));
        k += p->size;
    }
    return stop;
}

/* Whether updates have anything to check (a breakpoint of the block or of the session, a step
 * or time limit): a block with none skips the checks, which cost as much as a small op. */
static bool update_checks(const Loop *lp)
{
    const TrainInstr *t = lp->t;
    const Runtime *rt = lp->rt;
    return t->set.break_step || rt->break_step || t->set.break_grad_norm > 0
           || rt->break_grad_norm > 0 || rt->limited;
}

/* Before update lp->step + 1: stop there if a breakpoint says so. */
static void check_breakpoints(Loop *lp)
{
    const TrainInstr *t = lp->t;
    Runtime *rt = lp->rt;
    long next = lp->step + 1;
    bool at_step = next == t->set.break_step || next == rt->break_step;
    double bound = t->set.break_grad_norm > 0 ? t->set.break_grad_norm : rt->break_grad_norm;
    double norm = bound > 0 || at_step ? grad_norm(lp) : 0;
    bool over = bound > 0 && !(norm <= bound);
    if (!at_step && !over) return;
    char why[512];
    int n = snprintf(why, sizeof why, "before update %ld (epoch %d", next, lp->epoch + 1);
    if (t->over_data && lp->batches > 1)
        n += snprintf(why + n, sizeof why - (size_t)n, ", batch %d of %d", lp->batch, lp->batches);
    n += snprintf(why + n, sizeof why - (size_t)n, "): loss %.6g, gradient norm %.6g", lp->last_loss,
                  norm);
    if (over) snprintf(why + n, sizeof why - (size_t)n, ", above %g", bound);
    lp->stop = stop_at(lp, why);
    lp->checked = update_checks(lp);    /* the handler may have changed the breakpoints */
}

/* ---- the learning rate: the schedule, by epoch or by update ------------------------------- */

/* Updates in an epoch: one per group of `accumulate` batches (the last may be smaller). */
static long updates_per_epoch(const TrainInstr *t)
{
    if (!t->over_data) return 1;
    long batches = (t->train_rows + t->set.batch - 1) / t->set.batch;
    return (batches + t->set.accumulate - 1) / t->set.accumulate;
}

/* A formula schedule's factor at this count: its leaves `epoch` and `update` set, computed. */
static double formula_factor(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    node(rt, t->sched_epoch)->value[0] = (float)lp->epoch;
    node(rt, t->sched_update)->value[0] = (float)lp->step;
    graph_forward(&rt->graph, &t->sched_plan, &rt->rng, rt_check_node, rt);
    double f = node(rt, t->sched_factor)->value[0];
    if (!(f >= 0))
        rt_error(rt, node(rt, t->sched_factor)->span, "the schedule's factor is %g with epoch = "
                 "%d and update = %ld; it must be at least 0", f, lp->epoch, lp->step);
    return f;
}

/* The optimizer for the update about to be made: the block's, with the schedule's learning rate
 * (and momentum, for one_cycle) at the count it counts, epochs or updates. */
static const OptimConfig *scheduled(Loop *lp, OptimConfig *scratch, float *lr)
{
    const TrainInstr *t = lp->t;
    *lr = t->set.optim.lr;
    if (t->set.sched.phases == 0) return &t->set.optim;    /* a constant rate */
    OptimConfig c = t->set.optim;
    bool per_update = t->set.sched_per_update;
    long count = per_update ? lp->step : lp->epoch;
    long total = per_update ? t->set.epochs * updates_per_epoch(t) : t->set.epochs;
    double factor = t->sched_formula ? formula_factor(lp) : 1;
    *lr = schedule_lr_factor(&t->set.sched, c.lr, count, total, factor);
    double m;
    if (schedule_momentum(&t->set.sched, count, total, &m)) {
        if (c.kind == OPTIM_ADAM || c.kind == OPTIM_ADAMW) c.beta1 = (float)m;
        else c.momentum = (float)m;
    }
    *scratch = c;
    return scratch;
}

/* The update that ends a group of accumulated batches: clip, then step. */
static void update(Loop *lp)
{
    const TrainInstr *t = lp->t;
    if (lp->checked) {
        if (lp->rt->limited) rt_step(lp->rt, lp->at);  /* an update is a step of the limits */
        check_breakpoints(lp);
        if (lp->stop) return;   /* ended at the breakpoint: this update is not made */
    }
    if (lp->first_epoch) {      /* gradient norms per layer, for the vanishing-gradient check */
        for (int i = 0; i < t->n_params; i++) {
            const GraphNode *p = node(lp->rt, t->params[i]);
            lp->wnorm[i] += sqrt(tensor_sum_squares(p->grad, p->size));
        }
        lp->wnorm_updates++;
    }
    if (t->set.grad_norms_every && (lp->step + 1) % t->set.grad_norms_every == 0) gn_record(lp);
    if (t->set.clip > 0) {
        for (int i = 0; i < t->n_params; i++) lp->grads[i] = node(lp->rt, t->params[i])->grad;
        lp->norm = optim_clip_global_norm(lp->grads, lp->sizes, (size_t)t->n_params, t->set.clip);
    }
    float lr;
    OptimConfig scratch;
    const OptimConfig *c = scheduled(lp, &scratch, &lr);
    float *before = lp->explain_update ? rt_snapshot_update(lp->rt, c) : NULL;
    rt_update(lp->rt, c, lr, t->params, t->n_params, lp->at);
    lp->step++;
    if (lp->rt->trace_all && lp->rt->trace_format == TRACE_JSON) {
        /* the loss curve: one event per update, with the loss of its last batch */
        StrBuf *out = &lp->rt->out;
        rt_block_event(lp->rt, "loss", lp->block, t->model.model);
        sb_printf(out, ",\"epoch\":%d,\"update\":%ld,\"loss\":%.9g", lp->epoch + 1, lp->step,
                  lp->last_loss);
        if (t->n_watch) {       /* a formula's named values, as this update's pass found them */
            sb_puts(out, ",\"values\":{");
            for (int i = t->n_watch; i-- > 0;) {
                const GraphNode *n = node(lp->rt, t->watch[i]);
                sb_json_string(out, n->name, strlen(n->name));
                sb_printf(out, ":%.9g%s", n->value[0], i ? "," : "");
            }
            sb_putc(out, '}');
        }
        sb_puts(out, "}\n");
        rt_flush(lp->rt);
    }
    if (lp->explain_update) {
        trace_step_update(lp->rt, c, lr, before);
        rt_flush(lp->rt);
        lp->explain_update = false;
    }
}

/* Forward and backward of one batch, its gradient weighted by `weight`, fast (rt_pass);
 * `first`: the first of its group, the gradients are zero. Explained when it is the step the
 * block asked to trace. */
static double run_batch(Loop *lp, const TrainPass *pass, float weight, bool first, bool explain)
{
    Runtime *rt = lp->rt;
    float *before = explain ? rt_snapshot_params(rt, true) : NULL;
    RtPass p = { &pass->plan, pass->loss, weight, lp->t->params, lp->t->n_params, first };
    if (!rt_pass(rt, &p))
        rt_error(rt, node(rt, pass->loss)->span, "a value became inf or NaN");
    if (explain) {
        /* the header says which update of the block this pass is for */
        rt->trace_update = lp->step + 1;
        rt->trace_updates = (long)lp->t->set.epochs * updates_per_epoch(lp->t);
        rt->trace_epoch = lp->epoch + 1;
        rt->trace_epochs = lp->t->set.epochs;
        trace_pass(rt, &pass->plan, pass->loss, before, lp->at, node(rt, pass->loss)->span,
                   &lp->t->focus);
        rt->trace_update = rt->trace_updates = 0;
        rt->trace_epoch = rt->trace_epochs = 0;
        predict_pass(rt, lp->t, lp->block, rt->trace_passes);
        rt_flush(rt);
        lp->explain_update = rt->trace_format != TRACE_DOT;
    }
    return node(rt, pass->loss)->value[0];
}

typedef struct Scores {
    double loss, metric, val_loss, val_metric;
} Scores;

/* The loss (and metric) of a pass, forward only, fast (rt_forward). */
static void evaluate(Loop *lp, const TrainPass *pass, double *loss, double *metric)
{
    Runtime *rt = lp->rt;
    uint32_t roots[2] = { pass->loss, pass->metric };
    rt_forward(rt, &pass->plan, roots, pass->has_metric ? 2 : 1);
    *loss = node(rt, pass->loss)->value[0];
    if (pass->has_metric) *metric = node(rt, pass->metric)->value[0];
}

/* Losses with 4 decimals, as Keras prints them; very large ones in exponent form. */
static void put_score(StrBuf *out, double v)
{
    sb_printf(out, fabs(v) < 1e6 ? "%.4f" : "%.4g", v);
}

static void log_line(Loop *lp, int epoch, const Scores *sc)
{
    const TrainInstr *t = lp->t;
    StrBuf *out = &lp->rt->out;
    int width = snprintf(NULL, 0, "%d", t->set.epochs);
    sb_printf(out, "epoch %*d/%d  %s ", width, epoch + 1, t->set.epochs, t->loss_name);
    put_score(out, sc->loss);
    if (t->over_data && t->set.metric) sb_printf(out, "  %s %.4f", t->metric_name, sc->metric);
    if (t->has_val) {
        sb_printf(out, "  val_%s ", t->loss_name);
        put_score(out, sc->val_loss);
        if (t->set.metric) sb_printf(out, "  val_%s %.4f", t->metric_name, sc->val_metric);
    }
    if (t->set.clip > 0) {
        char buf[32];
        sb_printf(out, "  grad_norm %s", fmt_num(lp->norm, buf));
    }
    sb_putc(out, '\n');
    rt_flush_text(lp->rt);
}

/* On a terminal: one line, rewritten in place, at most ten times a second. */
static void progress(Loop *lp, int epoch, int batch, int batches, double loss, bool force)
{
    static const double every = 0.1;
    Runtime *rt = lp->rt;
    if (!rt->progress || rt->trace_format == TRACE_JSON) return;
    double t = now();
    if (!force && t - lp->last_progress < every) return;
    lp->last_progress = t;
    double done = ((double)epoch + (double)batch / batches) / lp->t->set.epochs;
    double left = done > 0 ? (t - lp->started) * (1 - done) / done : 0;
    sb_printf(&rt->out, "\r\033[Kepoch %d/%d  batch %d/%d  loss %.4f  %.0fs left", epoch + 1,
              lp->t->set.epochs, batch, batches, loss, left);
    rt_flush(rt);
}

static void progress_done(Loop *lp)
{
    if (!lp->rt->progress || lp->rt->trace_format == TRACE_JSON) return;
    sb_puts(&lp->rt->out, "\r\033[K");
    rt_flush(lp->rt);
}

static void fill_rows(Runtime *rt, const TrainPass *pass, const TrainInstr *t, const int *rows,
                      int n)
{
    GraphNode *x = node(rt, pass->x), *y = node(rt, pass->y);
    GraphNode *X = node(rt, t->X), *Y = node(rt, t->Y);
    for (int i = 0; i < n; i++) {
        copy_row(x, i, X, rows[i]);
        copy_row(y, i, Y, rows[i]);
    }
}

/* One epoch over the data in batches, the rows shuffled (unless `shuffle false`); returns the
 * mean training loss. */
static double data_epoch(Loop *lp, int epoch)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    int n = t->train_rows, b = t->set.batch;
    int batches = (n + b - 1) / b, acc = t->set.accumulate;
    for (int i = 0; i < n; i++) lp->perm[i] = i;
    if (t->set.shuffle) shuffle(lp->perm, n, &rt->rng);
    double total = 0;
    for (int k = 0; k < batches; k++) {
        int first = k * b, rows = n - first < b ? n - first : b;
        const TrainPass *pass = rows == b ? &t->batch : &t->rest;
        fill_rows(rt, pass, t, lp->perm + first, rows);
        /* a group of `acc` batches makes one update, weighted as one batch of all its rows */
        int g0 = k / acc * acc, g1 = g0 + acc < batches ? g0 + acc : batches;
        int group_rows = (g1 * b < n ? g1 * b : n) - g0 * b;
        if (k == g0) zero_grads(lp);
        bool explain = k == g0 && explain_update(lp, lp->step + 1);
        double loss = run_batch(lp, pass, (float)rows / (float)group_rows, k == g0, explain);
        lp->last_loss = loss;
        if (lp->n_relu) note_firing(lp, pass == &t->batch ? lp->relu_batch : lp->relu_rest);
        total += loss * rows;
        if (k == g1 - 1) {
            lp->batch = k + 1;
            lp->batches = batches;
            update(lp);
            if (lp->stop || (rt->interrupt && *rt->interrupt))  /* a breakpoint, Ctrl-C */
                return total / (first + rows);
        }
        progress(lp, epoch, k + 1, batches, loss, false);
    }
    return total / n;
}

static void report_stop(Loop *lp, int epoch, int best_epoch, double best)
{
    sb_printf(&lp->rt->out, "early stop after epoch %d: best %s%s %.4f at epoch %d; its weights "
              "are restored\n", epoch + 1, lp->t->has_val ? "val_" : "", lp->t->loss_name, best,
              best_epoch + 1);
    rt_flush_text(lp->rt);
}

/* ---- diagnostics: what went wrong, from the run's own numbers, and what usually helps ------- */

static bool is_weight(const char *name)
{
    size_t n = strlen(name);
    return n > 2 && strcmp(name + n - 2, ".W") == 0;
}

/* A ratio for people, to two significant digits: 3556 is "3600", 2.4e12 is "2.4e+12". */
static void about(double r, char buf[32])
{
    char two[32];
    snprintf(two, sizeof two, "%.2g", r);
    double v = strtod(two, NULL);
    if (v < 1e9) snprintf(buf, 32, "%.0f", v);
    else snprintf(buf, 32, "%s", two);
}

/* Whether the model's ops in the batch pass include a sigmoid or tanh (the classic cause of
 * vanishing gradients, and what the warning's note names). */
static bool saturating(const Loop *lp)
{
    const TrainPass *pass = &lp->t->batch;
    for (uint32_t k = 0; k < pass->plan.count; k++) {
        const GraphNode *n = node(lp->rt, pass->plan.ids[k]);
        if ((n->op == OP_SIGMOID || n->op == OP_TANH) && n->id > pass->x && n->id <= pass->out)
            return true;
    }
    return false;
}

/* Vanishing gradients: in epoch 1 the first layer's weights got a gradient orders of
 * magnitude smaller than the last layer's. */
static void check_vanishing(Loop *lp)
{
    const TrainInstr *t = lp->t;
    if (!t->over_data || lp->wnorm_updates == 0) return;
    int first = -1, last = -1;
    for (int i = 0; i < t->model.count; i++)
        if (is_weight(t->model.names[i])) {
            if (first < 0) first = i;
            last = i;
        }
    if (first < 0 || first == last) return;
    double a = lp->wnorm[first] / lp->wnorm_updates, b = lp->wnorm[last] / lp->wnorm_updates;
    if (!(b > 0) || a / b >= 1e-3) return;
    char na[32], nb[32], ratio[32];
    about(b / a, ratio);
    lp->vanishing = true;
    progress_done(lp);
    bool sat = saturating(lp);
    rt_warn(lp->rt, lp->at, lp->at,
            sat ? "try relu layers (with he initialisation), which pass the gradient through "
                  "unshrunk wherever a unit is active, or residual connections"
                : "check that each layer's weights are initialised for its width (he before "
                  "relu, xavier otherwise), or add residual connections",
            "vanishing gradients: in epoch 1 the first layer's weights (%s) got gradients of mean "
            "norm %s per update, about 1/%s of the last layer's (%s, %s); on the way down each "
            "layer multiplies the gradient by its weights and its activation's derivative%s, and "
            "here those factors shrink it layer after layer, so the early layers hardly learn",
            t->model.names[first], fmt_num(a, na), ratio, t->model.names[last], fmt_num(b, nb),
            sat ? " (at most 0.25 for sigmoid, at most 1 for tanh)" : "");
}

/* Dead ReLU units: units of a relu layer that output 0 for every row of every batch of the
 * last epoch. The batches' own activations are read as training computes them (no extra pass
 * over the data): after each forward, a unit that was positive anywhere is marked. */
/* A relu layer of the model in a pass: a relu on [rows, units] among the model's own nodes (a
 * relu in a loss formula is not a layer). */
static bool layer_relu(const TrainPass *pass, const GraphNode *r)
{
    return r->op == OP_RELU && r->shape.rank == 2 && r->id > pass->x && r->id <= pass->out;
}

static void find_relus(Loop *lp)
{
    const TrainInstr *t = lp->t;
    if (!t->over_data) return;
    const Plan *p = &t->batch.plan;
    int n = 0;
    size_t units = 0;
    for (uint32_t k = 0; k < p->count; k++) {
        const GraphNode *r = node(lp->rt, p->ids[k]);
        if (layer_relu(&t->batch, r)) {
            n++;
            units += (size_t)r->shape.dim[1];
        }
    }
    if (!n) return;
    TrainScratch *ts = &lp->rt->train;
    lp->relu_batch = ts->relu_batch = rt_grow(ts->relu_batch, &ts->relu_batch_cap, (size_t)n,
                                              sizeof *ts->relu_batch);
    lp->relu_rest = ts->relu_rest = rt_grow(ts->relu_rest, &ts->relu_rest_cap, (size_t)n,
                                            sizeof *ts->relu_rest);
    lp->fired_at = ts->fired_at = rt_grow(ts->fired_at, &ts->fired_at_cap, (size_t)n,
                                          sizeof *ts->fired_at);
    lp->fired = ts->fired = rt_grow(ts->fired, &ts->fired_cap, units, 1);
    memset(lp->fired, 0, units);
    units = 0;
    for (uint32_t k = 0; k < p->count; k++) {
        const GraphNode *r = node(lp->rt, p->ids[k]);
        if (!layer_relu(&t->batch, r)) continue;
        lp->fired_at[lp->n_relu] = units;
        lp->relu_batch[lp->n_relu++] = r->id;
        units += (size_t)r->shape.dim[1];
    }
    /* the last batch's pass is the same model applied again: its relus come in the same order */
    if (t->has_rest) {
        int k = 0;
        for (uint32_t q = 0; q < t->rest.plan.count; q++) {
            const GraphNode *r = node(lp->rt, t->rest.plan.ids[q]);
            if (layer_relu(&t->rest, r) && k < n) lp->relu_rest[k++] = r->id;
        }
        NN_ASSERT(k == n);
    }
}

static void note_firing(Loop *lp, const uint32_t *relus)
{
    for (int k = 0; k < lp->n_relu; k++) {
        const GraphNode *r = node(lp->rt, relus[k]);
        int rows = r->shape.dim[0], units = r->shape.dim[1];
        uint8_t *fired = lp->fired + lp->fired_at[k];
        for (int i = 0; i < rows; i++) {
            const float *v = r->value + (size_t)i * units;
            for (int u = 0; u < units; u++) fired[u] |= v[u] > 0;
        }
    }
}

static void forget_firing(Loop *lp)
{
    for (int k = 0; k < lp->n_relu; k++)
        memset(lp->fired + lp->fired_at[k], 0,
               (size_t)node(lp->rt, lp->relu_batch[k])->shape.dim[1]);
}

/* Of each relu layer, the units that fired in the last epoch, recorded for the model's summary
 * (rt_units_set); a layer with half its units or more dead gets a warning. */
static void check_dead_relu(Loop *lp, bool warn)
{
    if (!lp->n_relu) return;
    TrainScratch *ts = &lp->rt->train;
    int *alive = ts->relu_counts = rt_grow(ts->relu_counts, &ts->relu_counts_cap,
                                           2 * (size_t)lp->n_relu, sizeof *ts->relu_counts);
    int *units = alive + lp->n_relu;
    const char **after = ts->relu_after = rt_grow(ts->relu_after, &ts->relu_after_cap,
                                                  (size_t)lp->n_relu, sizeof *ts->relu_after);
    for (int k = 0; k < lp->n_relu; k++) {
        const GraphNode *r = node(lp->rt, lp->relu_batch[k]);
        units[k] = r->shape.dim[1];
        after[k] = r->group;
        alive[k] = 0;
        for (int u = 0; u < units[k]; u++) alive[k] += lp->fired[lp->fired_at[k] + (size_t)u];
        int dead = units[k] - alive[k];
        if (!warn || dead * 2 < units[k]) continue;
        rt_warn(lp->rt, r->span, lp->at, "a step too large can push a unit's inputs below 0 "
                "for every example: try a lower learning rate, or leaky_relu, whose small slope "
                "below 0 lets a unit come back",
                "dead units: %d of the %d units of this relu (%.0f%%) never fired in the last "
                "epoch; a unit that outputs 0 for every input passes no gradient back, so it "
                "has stopped learning", dead, units[k], 100.0 * dead / units[k]);
    }
    if (lp->t->model.count > 0)
        rt_units_set(lp->rt, lp->t->model.nodes[0], lp->n_relu, alive, units, after);
}

/* Slow training: after 20 epochs or more the loss is still above 80 % of epoch 1's and moved
 * less than 1 % over the last fifth of the run. Two causes look alike there, and need different
 * fixes, so the pace tells them apart: a loss still falling at (at least half) its average pace
 * since epoch 1 is taking steps that are too small (a larger learning rate); one that fell and
 * then stopped is on a plateau (momentum or adam move on across it). Not reported when the
 * vanishing-gradient warning named the cause already. */
static void check_plateau(Loop *lp)
{
    int epochs = lp->t->set.epochs;
    double first = lp->first_loss, mark = lp->mark_loss, last = lp->final_loss;
    if (lp->vanishing || epochs < 20 || !(first > 0) || last < 0.8 * first) return;
    if (fabs(mark - last) > 0.01 * fabs(mark)) return;
    int span = epochs - 1 - lp->mark;           /* the epochs from `mark` to the last */
    double pace = (first - last) / (epochs - 1 - lp->start), recent = (mark - last) / span;
    char a[32], b[32], c[32], d[32], e[32];
    snprintf(c, sizeof c, "%.2g", mark - last);
    snprintf(d, sizeof d, "%.2g", recent);
    snprintf(e, sizeof e, "%.2g", pace);
    if (recent > 0 && recent >= 0.5 * pace) {
        rt_warn(lp->rt, lp->at, lp->at, "the steps are too small: try a larger learning rate "
                "(each step moves a param by lr × its gradient)",
                "slow convergence: the loss went from %s in epoch 1 to %s in epoch %d, "
                "falling steadily but by only %s an epoch on average (%s over the last %d "
                "epochs)", fmt_num(first, a), fmt_num(last, b), epochs, e, c, span);
        return;
    }
    rt_warn(lp->rt, lp->at, lp->at, "try momentum or adam, which keep moving across a flat "
            "stretch of the loss, or a larger learning rate",
            "plateau: the loss went from %s in epoch 1 to %s in epoch %d and has almost "
            "stopped falling: it fell by %s over the last %d epochs, %s an epoch against %s an "
            "epoch on average since epoch 1", fmt_num(first, a), fmt_num(last, b), epochs, c,
            span, d, e);
}

/* ---- gradient norms by layer: `grad_norms every N` -------------------------------------------- */

#define GN_MAX_RECORDS 4096     /* kept for the charts; the log lines go on after */
#define GN_MAX_LAYERS 64        /* layers recorded: the first 64 */

/* Param i's name in the block: the model's ("layer1.W"), else the param's own. */
static const char *param_name(const Loop *lp, int i)
{
    const TrainInstr *t = lp->t;
    for (int j = 0; j < t->model.count; j++)
        if (t->model.nodes[j] == t->params[i]) return t->model.names[j];
    return node(lp->rt, t->params[i])->name;
}

/* What is recorded: for a model of dense layers, each layer's weights (layer1.W, ...: the
 * biases' gradients say little about depth); else each param. */
static void gn_setup(Loop *lp)
{
    const TrainInstr *t = lp->t;
    TrainScratch *ts = &lp->rt->train;
    int every = t->set.grad_norms_every, np = t->n_params;
    if (!every || np == 0) return;
    bool layers = false;
    for (int i = 0; i < np; i++) layers = layers || is_weight(param_name(lp, i));
    lp->gn_group = ts->gn_group = rt_grow(ts->gn_group, &ts->gn_group_cap, (size_t)np,
                                          sizeof *ts->gn_group);
    lp->gn_label = ts->gn_label = rt_grow(ts->gn_label, &ts->gn_label_cap, (size_t)np,
                                          sizeof *ts->gn_label);
    lp->gn_groups = 0;
    for (int i = 0; i < np; i++) lp->gn_group[i] = -1;
    for (int k = 0; k < np; k++) {
        /* in the order the params were made (layer1 first; w before b if declared so) */
        int i = -1;
        for (int j = 0; j < np; j++)
            if (lp->gn_group[j] == -1 && (i < 0 || t->params[j] < t->params[i])) i = j;
        const char *name = param_name(lp, i);
        lp->gn_group[i] = -2;       /* seen */
        if ((layers && !is_weight(name)) || lp->gn_groups == GN_MAX_LAYERS) continue;
        lp->gn_label[lp->gn_groups] = name;     /* the program's, which outlives the block */
        lp->gn_group[i] = lp->gn_groups++;
    }
    long records = (long)(t->set.epochs - lp->start) * updates_per_epoch(t) / every;
    lp->gn_cap = records < 1 ? 1 : records > GN_MAX_RECORDS ? GN_MAX_RECORDS : (int)records;
    lp->gn = ts->gn = rt_grow(ts->gn, &ts->gn_cap, (size_t)lp->gn_cap * (size_t)lp->gn_groups,
                              sizeof *ts->gn);
    lp->gn_n = 0;
}

/* Before update lp->step + 1 when it is an N-th: each layer's gradient norm (before clipping),
 * recorded, in a log line and in a JSON event. */
static void gn_record(Loop *lp)
{
    const TrainInstr *t = lp->t;
    Runtime *rt = lp->rt;
    double sq[GN_MAX_LAYERS] = { 0 };
    int groups = lp->gn_groups;
    for (int i = 0; i < t->n_params; i++) {
        const GraphNode *p = node(rt, t->params[i]);
        if (lp->gn_group[i] >= 0) sq[lp->gn_group[i]] += tensor_sum_squares(p->grad, p->size);
    }
    long update = lp->step + 1, total = (long)t->set.epochs * updates_per_epoch(t);
    StrBuf *out = &rt->out;
    progress_done(lp);      /* the line starts on a clean terminal line */
    char buf[32];
    int width = snprintf(NULL, 0, "%ld", total);
    sb_printf(out, "update %*ld/%ld  grad_norm", width, update, total);
    for (int g = 0; g < groups; g++)      /* as recorded: float32, as the charts have them */
        sb_printf(out, "  %s %s", lp->gn_label[g], fmt_num((float)sqrt(sq[g]), buf));
    sb_putc(out, '\n');
    rt_flush_text(rt);
    if (rt->trace_format == TRACE_JSON) {
        rt_block_event(rt, "grad_norms", lp->block, t->model.model);
        sb_printf(out, ",\"update\":%ld,\"norms\":{", update);
        for (int g = 0; g < groups; g++) {
            if (g) sb_putc(out, ',');
            sb_json_string(out, lp->gn_label[g], strlen(lp->gn_label[g]));
            sb_printf(out, ":%.9g", (float)sqrt(sq[g]));
        }
        sb_puts(out, "}}\n");
        rt_flush(rt);
    }
    if (lp->gn_n == lp->gn_cap) return;
    for (int g = 0; g < groups; g++)
        lp->gn[(size_t)g * (size_t)lp->gn_cap + (size_t)lp->gn_n] = (float)sqrt(sq[g]);
    lp->gn_n++;
}

/* ---- the loss curve: in the terminal after training, and as SVG with --plot ------------------ */

static void record_curve(Loop *lp, int epoch, double loss, double val)
{
    if (!lp->curve || (epoch + 1) % lp->curve_every != 0 || lp->curve_n == lp->curve_cap) return;
    lp->curve[lp->curve_n] = (float)loss;
    lp->val_curve[lp->curve_n] = (float)val;
    lp->curve_n++;
}

/* On a terminal, after training: the loss, then each layer's gradient norm, as lines of block
 * characters. */
static void terminal_curves(Loop *lp)
{
    StrBuf *out = &lp->rt->out;
    plot_sparkline(out, "loss", lp->curve, lp->curve_n);
    for (int g = 0; g < lp->gn_groups; g++) {
        char label[96];
        snprintf(label, sizeof label, "grad_norm %s", lp->gn_label[g]);
        plot_sparkline(out, label, lp->gn + (size_t)g * (size_t)lp->gn_cap, lp->gn_n);
    }
    rt_flush(lp->rt);
}

/* Writes an SVG file of --plot; warns (never raises) if it cannot be written. */
static void write_svg(Loop *lp, const char *path, const PlotChart *charts, int count)
{
    Runtime *rt = lp->rt;
    StrBuf sb;
    sb_init(&sb);
    plot_svg(&sb, charts, count);
    char err[512];
    SandboxFile file;
    bool ok = sandbox_write(rt->files, path, &file, err, sizeof err)
              && afile_write_all(file.path, sb.data, sb.len, err, sizeof err);
    sandbox_done(&file, ok ? NULL : err, sizeof err);
    sb_free(&sb);
    if (!ok) rt_warn(rt, lp->at, lp->at, NULL, "%s (the loss curve)", err);
}

/* --plot's file name for `suffix` ("-2", "-runs"): inserted before the extension. */
static void plot_path(const char *plot, const char *suffix, char *path, size_t cap)
{
    const char *dot = strrchr(plot, '.');
    if (!dot || strchr(dot, '/')) snprintf(path, cap, "%s%s", plot, suffix);
    else snprintf(path, cap, "%.*s%s%s", (int)(dot - plot), plot, suffix, dot);
}

/* --plot: the block's loss (and validation loss, dashed) by epoch, and under it each layer's
 * gradient norm by update when the block records them; the first block writes CURVE.svg, the
 * second CURVE-2.svg, and so on. */
static void svg_curve(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    if (!rt->plot_path || lp->curve_n < 1) return;
    char path[1024], suffix[32] = "";
    if (++rt->plots > 1) snprintf(suffix, sizeof suffix, "-%d", rt->plots);
    plot_path(rt->plot_path, suffix, path, sizeof path);
    PlotSeries loss[2] = {
        { t->has_val ? "training" : NULL, lp->curve, lp->curve_n, lp->curve_every, plot_colour(0),
          false },
        { "validation", lp->val_curve, t->has_val ? lp->curve_n : 0, lp->curve_every,
          plot_colour(1), true },
    };
    PlotSeries layers[GN_MAX_LAYERS];
    for (int g = 0; g < lp->gn_groups; g++)
        layers[g] = (PlotSeries){ lp->gn_label[g], lp->gn + (size_t)g * (size_t)lp->gn_cap,
                                  lp->gn_n, t->set.grad_norms_every, plot_colour(g), false };
    PlotChart charts[2] = {
        { t->loss_name, "epoch", loss, 2, 0 },
        /* norms of layers differ by orders of magnitude: the ones that matter most */
        { "gradient norm by layer", "update", layers, lp->gn_groups, 10 },
    };
    write_svg(lp, path, charts, lp->gn_n > 0 ? 2 : 1);
}

/* --plot, from the second train block on: every block's loss so far on one chart, labelled by
 * the model it trained (CURVE-runs.svg), to compare runs (sigmoid against relu, clip against a
 * lower learning rate). */
static void svg_runs(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    if (!rt->plot_path || lp->curve_n < 1) return;
    char label[64];
    snprintf(label, sizeof label, "%s", t->model.model ? t->model.model : "");
    if (!label[0]) snprintf(label, sizeof label, "block %d", lp->block);
    rt_run_add(rt, label, lp->curve, lp->curve_n, lp->curve_every);
    if (rt->n_runs < 2) return;
    PlotSeries *series = nn_calloc((size_t)rt->n_runs, sizeof *series);
    for (int k = 0; k < rt->n_runs; k++)
        series[k] = (PlotSeries){ rt->runs[k].label, rt->runs[k].v, rt->runs[k].n,
                                  rt->runs[k].every, plot_colour(k), false };
    PlotChart chart = { "loss of each train block", "epoch", series, rt->n_runs, 0 };
    char path[1024];
    plot_path(rt->plot_path, "-runs", path, sizeof path);
    write_svg(lp, path, &chart, 1);
    nn_free(series);
}

/* ---- the block, by stage --------------------------------------------------------------------- */

/* Stage 1: the loop's state, and the scratch grown to this block's sizes. Never raises. */
static void train_setup(Loop *lp, Runtime *rt, const TrainInstr *t, Span at)
{
    TrainScratch *ts = &rt->train;
    memset(lp, 0, sizeof *lp);
    lp->rt = rt;
    lp->t = t;
    lp->at = at;
    lp->started = now();
    lp->block = ++rt->train_blocks;
    lp->best_loss = INFINITY;
    lp->best_epoch = -1;
    lp->mark = t->set.epochs * 4 / 5;
    lp->first_loss = lp->mark_loss = lp->final_loss = NAN;
    for (int i = 0; i < t->n_params; i++) lp->total += node(rt, t->params[i])->size;
    size_t np = (size_t)t->n_params;
    /* perm: the shuffled training rows, and first the row numbers of the held-out rows, which
     * can be more (validation 0.9) */
    int perm_rows = t->train_rows > t->val_rows ? t->train_rows : t->val_rows;
    lp->perm = ts->perm = rt_grow(ts->perm, &ts->perm_cap, (size_t)(perm_rows > 0 ? perm_rows : 0),
                                  sizeof *ts->perm);
    if (t->set.patience) lp->best = ts->best = rt_grow(ts->best, &ts->best_cap, kept_size(lp),
                                                   sizeof *ts->best);
    lp->grads = ts->grads = rt_grow(ts->grads, &ts->grads_cap, np, sizeof *ts->grads);
    lp->sizes = ts->sizes = rt_grow(ts->sizes, &ts->sizes_cap, np, sizeof *ts->sizes);
    lp->wnorm = ts->wnorm = rt_grow(ts->wnorm, &ts->wnorm_cap, np, sizeof *ts->wnorm);
    memset(lp->wnorm, 0, np * sizeof *lp->wnorm);
    if (rt->plot_path || rt->progress) {
        lp->curve_every = t->set.epochs <= 4096 ? 1 : (t->set.epochs + 4095) / 4096;
        lp->curve_cap = t->set.epochs / lp->curve_every + 1;
        size_t cap = (size_t)lp->curve_cap;
        lp->curve = ts->curve = rt_grow(ts->curve, &ts->curve_cap, cap, sizeof *ts->curve);
        lp->val_curve = ts->val_curve = rt_grow(ts->val_curve, &ts->val_curve_cap, cap,
                                                sizeof *ts->val_curve);
    }
    for (int i = 0; i < t->n_params; i++) lp->sizes[i] = node(rt, t->params[i])->size;
    lp->checked = update_checks(lp);
}

/* The part of setting up that can raise: the data, a new optimizer (or the one resumed), the
 * held-out rows, the relu layers to watch. */
static void train_begin(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    if (t->over_data) graph_forward(&rt->graph, &t->data, &rt->rng, rt_check_node, rt);
    rt_optim_reset(rt, t->params, t->n_params);     /* a train block starts a new optimizer */
    if (t->resume)
        lp->start = rt_resume(rt, &t->model, &t->set.optim, t->set.epochs, t->resume, lp->at);
    if (t->over_data && t->val_split) {
        /* the held-out rows are the last ones, as Keras' validation_split takes them */
        int *rows = lp->perm;
        for (int i = 0; i < t->train_rows; i++) rows[i] = i;
        fill_rows(rt, &t->train_eval, t, rows, t->train_rows);
        for (int i = 0; i < t->val_rows; i++) rows[i] = t->train_rows + i;
        fill_rows(rt, &t->val_eval, t, rows, t->val_rows);
    }
    find_relus(lp);
    gn_setup(lp);
    predict_begin(rt, t, lp->block, t->model.model);
}

/* Early stopping, after an epoch: keeps the best weights so far. Returns false when `patience`
 * epochs went by without improvement; the best weights are then back in the params. */
static bool watch_best(Loop *lp, const Scores *sc)
{
    const TrainInstr *t = lp->t;
    /* watch the loss of the weights as the epoch leaves them, the ones kept if best (an
     * epoch's logged loss is measured while they were still changing) */
    double watch = sc->val_loss, unused;
    if (!t->has_val && t->over_data) evaluate(lp, &t->train_eval, &watch, &unused);
    else if (!t->has_val) evaluate(lp, &t->formula, &watch, &unused);
    if (watch < lp->best_loss) {
        lp->best_loss = watch;
        lp->best_epoch = lp->epoch;
        save_params(lp, lp->best, false);
    } else if (lp->epoch - lp->best_epoch >= t->set.patience) {
        save_params(lp, lp->best, true);
        progress_done(lp);
        report_stop(lp, lp->epoch, lp->best_epoch, lp->best_loss);
        return false;
    }
    return true;
}

/* The line saying where a breakpoint's :stop or Ctrl-C ended the block. */
static void report_end(Loop *lp, int epoch)
{
    Runtime *rt = lp->rt;
    progress_done(lp);
    sb_printf(&rt->out, "%s in epoch %d of %d, after %ld update%s; the params are as the last "
              "update left them\n", lp->stop ? "stopped at the breakpoint" : "interrupted",
              epoch + 1, lp->t->set.epochs, lp->step, lp->step == 1 ? "" : "s");
    rt_flush_text(rt);
}

/* Epoch lp->epoch: its updates, then the log line, the curve and early stopping. Returns false
 * if the block ends after it (a breakpoint, Ctrl-C, early stopping). */
static bool run_epoch(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    int epoch = lp->epoch;
    forget_firing(lp);      /* each epoch counts afresh: the last one is reported */
    lp->first_epoch = epoch == lp->start;
    Scores sc = { 0 };
    if (t->over_data) {
        sc.loss = data_epoch(lp, epoch);
    } else {
        zero_grads(lp);
        bool explain = explain_update(lp, lp->step + 1);
        sc.loss = run_batch(lp, &t->formula, 1.0f, true, explain);
        lp->last_loss = sc.loss;
        update(lp);
        progress(lp, epoch, 1, 1, sc.loss, false);
    }
    if (epoch == lp->start) lp->first_loss = sc.loss;
    if (epoch == lp->mark) lp->mark_loss = sc.loss;
    lp->final_loss = sc.loss;
    if (lp->first_epoch) check_vanishing(lp);
    if (lp->stop || (rt->interrupt && *rt->interrupt)) {
        /* Ctrl-C stops the run after the block (rt_train); in a loop, the loop stops at the end
         * of its iteration, so the flag is left for it */
        lp->interrupted = !lp->stop;
        if (lp->interrupted && !rt->in_loop) rt_take_interrupt(rt);
        report_end(lp, epoch);
        return false;
    }
    bool log = t->set.log_every && ((epoch + 1) % t->set.log_every == 0 || epoch + 1 == t->set.epochs);
    if (t->has_val) evaluate(lp, &t->val_eval, &sc.val_loss, &sc.val_metric);
    record_curve(lp, epoch, sc.loss, sc.val_loss);
    if (t->has_val && rt->trace_all && rt->trace_format == TRACE_JSON) {
        /* the validation loss, for the page's loss chart beside the training loss */
        rt_block_event(rt, "val_loss", lp->block, NULL);
        sb_printf(&rt->out, ",\"epoch\":%d,\"update\":%ld,\"loss\":%.9g}\n", epoch + 1, lp->step,
                  sc.val_loss);
        rt_flush(rt);
    }
    if (log && t->over_data && t->set.metric) {
        double loss;
        evaluate(lp, &t->train_eval, &loss, &sc.metric);
    }
    if (log) {
        progress_done(lp);
        log_line(lp, epoch, &sc);
    }
    return !t->set.patience || watch_best(lp, &sc);
}

/* Stage 2, protected (rt_protect's fn): the rest of the setting up, then the epochs. Whatever
 * it raises leaves the Loop as it was at the raise: lp->epoch is the epoch running. */
static void train_epochs(Runtime *rt, void *ud)
{
    Loop *lp = ud;
    (void)rt;
    train_begin(lp);
    lp->started_epochs = true;
    for (lp->epoch = lp->start; lp->epoch < lp->t->set.epochs; lp->epoch++) {
        if (!run_epoch(lp)) {
            lp->epoch++;    /* the epochs done */
            return;
        }
    }
}

/* Stage 3, after epochs that raised nothing: the best weights if early stopping ran out of
 * epochs, the loss curve, and the diagnostics of a whole run. */
static void train_finish(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    if (t->set.patience && lp->best_epoch >= 0 && lp->epoch == t->set.epochs
        && lp->best_epoch != lp->epoch - 1)
        save_params(lp, lp->best, true);    /* ran out of epochs: keep the best, not the last */
    progress_done(lp);
    if (rt->progress && rt->trace_format != TRACE_JSON) terminal_curves(lp);
    svg_curve(lp);
    svg_runs(lp);
    if (lp->epoch > lp->start) check_dead_relu(lp, lp->epoch == t->set.epochs && lp->start == 0);
    if (lp->epoch == t->set.epochs && lp->start == 0) {
        check_plateau(lp);
    }
}

/* Stage 3 after RT_NONFINITE in the epochs: a diverging run stops here with a warning, not an
 * error. The params are as the last good update left them (an update that would make one inf
 * or NaN is undone before it is reported). */
static void report_divergence(Loop *lp)
{
    Runtime *rt = lp->rt;
    const TrainInstr *t = lp->t;
    const char *msg = rt->err_msg, *lead = "";
    Span where = rt->err_span, at = lp->at;
    if (where.start == at.start && where.end == at.end && strncmp(msg, "this produced ", 14) == 0) {
        msg += 14;      /* the loss node is the block itself: say what it is */
        lead = "the loss became ";
    }
    rt_warn(rt, where, at, "try a lower learning rate ('clip' caps the gradient's norm so that "
            "nothing overflows, but does not stop a learning rate that is too large from "
            "overshooting)",
            "%s%s, in epoch %d after %ld update%s; training stopped here, with the params as the "
            "last finite update left them", lead, msg, lp->epoch + 1, lp->step,
            lp->step == 1 ? "" : "s");
    if (t->set.break_nonfinite || rt->break_nonfinite) {
        char why[128];
        snprintf(why, sizeof why, "at the first inf or NaN (epoch %d, after %ld update%s); the "
                 "block ends here", lp->epoch + 1, lp->step, lp->step == 1 ? "" : "s");
        stop_at(lp, why);
    }
}

/* Stage 3 after any other error: passed on, saying when (the same error at epoch 1 and at
 * epoch 900 mean different things). */
static _Noreturn void rethrow_in_epoch(Loop *lp)
{
    Runtime *rt = lp->rt;
    size_t len = strlen(rt->err_msg);
    if (lp->started_epochs)
        snprintf(rt->err_msg + len, sizeof rt->err_msg - len, " (in epoch %d, after %ld "
                 "update%s)", lp->epoch + 1, lp->step, lp->step == 1 ? "" : "s");
    rt_rethrow(rt);
}

void rt_train(Runtime *rt, const TrainInstr *t, Span at)
{
    if (rt->in_break)
        rt_error(rt, at, "a train block cannot start while another is stopped at a breakpoint; "
                 ":continue or :stop that one first");
    rt->in_loop = program_loop_at(rt->prog, rt->pc) != NULL;
    Loop lp;
    train_setup(&lp, rt, t, at);
    /* denormals flushed to zero while the block trains, unless --keep-denormals (fpmode.h) */
    lp.fp_outer = fp_mode_get();
    fp_mode_set(fp_mode_flushing(lp.fp_outer, !rt->keep_denormals));
    RtStatus status = rt_protect(rt, train_epochs, &lp);
    fp_mode_set(lp.fp_outer);
    if (status == RT_INTERRUPT && rt->stop_at == RT_STOP_INSIDE && lp.started_epochs) {
        /* Ctrl-C part-way through a pass: the block ends as between two updates, but the
         * gradients that pass was making are incomplete, so they are cleared */
        zero_grads(&lp);
        rt->pass_params = NULL;
        lp.interrupted = true;
        report_end(&lp, lp.epoch);
        lp.epoch++;     /* the epochs done, as when Ctrl-C comes between updates */
        status = RT_OK;
    }
    if (status == RT_OK) {
        train_finish(&lp);
    } else {
        progress_done(&lp);
        rt_restore_stats(rt);   /* the failed pass's running statistics are not kept either */
        if (status != RT_NONFINITE || !lp.started_epochs) rethrow_in_epoch(&lp);
        report_divergence(&lp);
    }
    for (int i = 0; i < t->n_params; i++)      /* where training stands, for checkpoints */
        rt_param_opt(rt, t->params[i], &t->set.optim)->epoch = lp.epoch;
    /* Ctrl-C stops the run here (in a loop, at the end of the iteration: the flag is still set;
     * part-way through a pass, at once) */
    if (lp.interrupted && (!rt->in_loop || !(rt->interrupt && *rt->interrupt))) {
        rt->stop_at = RT_STOP_TRAIN;
        rt_raise(rt, RT_INTERRUPT, at, "interrupted");
    }
}
