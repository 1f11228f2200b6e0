/* runtime.c — the services under every statement the runtime runs: the runtime's life, the one
 * way to raise an error, output, scratch memory, the inf/NaN check of every pass, optimizer
 * state and updates, and undoing a failed run. It calls no other file of the runtime. */
#include "runtime.h"

#include "fpmode.h"
#include "kernels.h"
#include "pool.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void poll(void *ud, const GraphNode *n);

/* What Graph.watch points at when there is no Ctrl-C flag (0), or a deadline to watch (1). */
static const volatile sig_atomic_t quiet = 0, watching = 1;

/* ---- the runtime's life ---------------------------------------------------------------------- */

void rt_init(Runtime *rt)
{
    memset(rt, 0, sizeof *rt);
    graph_init(&rt->graph);
    rt->graph.max_bytes = NN_DEFAULT_MAX_MEMORY;
    rng_seed(&rt->rng, NN_DEFAULT_SEED);
    sb_init(&rt->out);
    rt->graph.poll = poll;
    rt->graph.poll_ud = rt;
    rt->graph.watch = &quiet;
    rt->grace = RT_INTERRUPT_GRACE;
}

static void train_scratch_free(TrainScratch *ts)
{
    nn_free(ts->perm);
    nn_free(ts->best);
    nn_free(ts->break_grads);
    nn_free(ts->grads);
    nn_free(ts->sizes);
    nn_free(ts->wnorm);
    nn_free(ts->relu_batch);
    nn_free(ts->relu_rest);
    nn_free(ts->fired_at);
    nn_free(ts->fired);
    nn_free(ts->relu_counts);
    nn_free(ts->relu_after);
    nn_free(ts->gn_group);
    nn_free(ts->gn_label);
    nn_free(ts->gn);
    nn_free(ts->curve);
    nn_free(ts->val_curve);
}

static void popt_release(Runtime *rt, ParamOpt *po);

void rt_free(Runtime *rt)
{
    for (uint32_t i = 0; i < rt->popt_count; i++) popt_release(rt, &rt->popt[i]);
    nn_free(rt->popt);
    nn_free(rt->pass_grads);
    nn_free(rt->pass_stats_saved);
    nn_free(rt->journal);
    train_scratch_free(&rt->train);
    for (int i = 0; i < rt->n_units_seen; i++) {
        nn_free(rt->units_seen[i].alive);
        nn_free(rt->units_seen[i].units);
        nn_free(rt->units_seen[i].after);
    }
    nn_free(rt->units_seen);
    for (int i = 0; i < rt->n_runs; i++) {
        nn_free(rt->runs[i].label);
        nn_free(rt->runs[i].v);
    }
    nn_free(rt->runs);
    graph_free(&rt->graph);
    sb_free(&rt->out);
    nn_free(rt->scratch);
    nn_free(rt->step_focus);
}

/* ---- errors: the one throw and the one protected call ---------------------------------------- */

void rt_raise(Runtime *rt, RtErrKind kind, Span span, const char *fmt, ...)
{
    NN_ASSERT(kind != RT_OK);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->err_msg, sizeof rt->err_msg, fmt, ap);
    va_end(ap);
    rt->err_kind = kind;
    rt->err_span = span;
    NN_ASSERT(rt->catch_point);
    longjmp(*rt->catch_point, 1);
}

void rt_rethrow(Runtime *rt)
{
    NN_ASSERT(rt->err_kind != RT_OK && rt->catch_point);
    longjmp(*rt->catch_point, 1);
}

/* The only setjmp of the runtime. Its frame owns nothing, and no local of it changes between
 * setjmp and longjmp, so none needs to be volatile. */
RtStatus rt_protect(Runtime *rt, void (*fn)(Runtime *rt, void *ud), void *ud)
{
    jmp_buf here, *outer = rt->catch_point;
    RtStatus status;
    rt->catch_point = &here;
    if (setjmp(here) == 0) {
        fn(rt, ud);
        status = RT_OK;
    } else {
        status = rt->err_kind;
    }
    rt->catch_point = outer;
    return status;
}

/* ---- limits and interrupts --------------------------------------------------------------------
 * Steps and time are counted per run and checked at boundaries (rt_step); the time also between
 * the nodes of a pass (poll), so that one long statement cannot outlast it. Ctrl-C stops a run at
 * the next boundary where stopping keeps everything consistent (rt_take_interrupt: a statement of
 * the unit's top level, a loop's iteration, a train block's update); a statement that runs on
 * for RT_INTERRUPT_GRACE seconds more is abandoned between two of its nodes (poll), and undone
 * by the caller (rt_undo_statement). */

double rt_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Points the graph's poll at what is to be watched now. */
static void watch(Runtime *rt)
{
    rt->graph.watch = rt->deadline > 0 ? &watching : rt->interrupt ? rt->interrupt : &quiet;
}

void rt_set_limits(Runtime *rt, uint64_t max_steps, double timeout)
{
    rt->max_steps = max_steps;
    rt->timeout = timeout > 0 && isfinite(timeout) ? timeout : 0;
    rt->limited = rt->max_steps || rt->timeout > 0;
}

void rt_set_interrupt(Runtime *rt, volatile sig_atomic_t *flag)
{
    rt->interrupt = flag;
    watch(rt);
}

void rt_call_start(Runtime *rt)
{
    if (!rt->catch_point) rt->began = rt_clock();
}

void rt_run_start(Runtime *rt)
{
    rt->steps = 0;
    double t0 = rt->began > 0 ? rt->began : rt_clock();
    rt->began = 0;
    rt->deadline = rt->timeout > 0 ? t0 + rt->timeout : 0;
    rt->interrupt_seen = 0;
    rt->pass_params = NULL;
    watch(rt);
}

void rt_run_end(Runtime *rt)
{
    rt->deadline = 0;
    watch(rt);
}

static _Noreturn void limit_reached(Runtime *rt, Span at, bool time)
{
    if (time)
        rt_error(rt, at, "the run reached its limit of --timeout %g second%s here", rt->timeout,
                 rt->timeout == 1 ? "" : "s");
    rt_error(rt, at, "the run reached its limit of --max-steps %llu step%s here",
             (unsigned long long)rt->max_steps, rt->max_steps == 1 ? "" : "s");
}

void rt_step(Runtime *rt, Span at)
{
    if (rt->max_steps && ++rt->steps > rt->max_steps) limit_reached(rt, at, false);
    if (rt->deadline > 0 && rt_clock() >= rt->deadline) limit_reached(rt, at, true);
}

/* Graph.poll, between two nodes of a pass: the deadline, and Ctrl-C once the grace period is
 * over (the first time it is seen, the clock starts). Outside a run (inspect.c's passes for
 * :graph) there is nowhere to stop to: it does nothing. */
static void poll(void *ud, const GraphNode *n)
{
    Runtime *rt = ud;
    (void)n;
    if (!rt->catch_point) return;
    if (rt->deadline > 0 && rt_clock() >= rt->deadline) limit_reached(rt, rt->err_stmt, true);
    if (!rt->interrupt || !*rt->interrupt) return;
    double now = rt_clock();
    if (rt->interrupt_seen == 0) rt->interrupt_seen = now;
    if (now - rt->interrupt_seen < rt->grace) return;
    rt_take_interrupt(rt);
    rt->stop_at = RT_STOP_INSIDE;
    rt_raise(rt, RT_INTERRUPT, rt->err_stmt, "interrupted");
}

/* Copies params' gradients into rt->pass_grads (restore = false), or back. */
static void keep_grads(Runtime *rt, const uint32_t *params, int n, bool restore)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        GraphNode *x = graph_node(&rt->graph, params[i]);
        if (restore) memcpy(x->grad, rt->pass_grads + k, x->size * sizeof(float));
        else memcpy(rt->pass_grads + k, x->grad, x->size * sizeof(float));
        k += x->size;
    }
}

void rt_undo_statement(Runtime *rt, bool whole)
{
    rt_restore_stats(rt);
    if (rt->pass_params) keep_grads(rt, rt->pass_params, rt->pass_n_params, true);
    rt->pass_params = NULL;
    rt->rng = whole ? rt->stmt_rng : rt->pass_rng;
    rt->explain_step = false;
}

/* ---- output and scratch ---------------------------------------------------------------------- */

void rt_warn(Runtime *rt, Span span, Span note_at, const char *note, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rt->trace_format == TRACE_JSON) {
        /* a JSON trace (and the page drawn from it) carries the warnings too */
        StrBuf *out = &rt->out;
        sb_puts(out, "{\"event\":\"warning\",\"at\":");
        StrBuf at;
        sb_init(&at);
        rt->locate(rt->locate_ud, span, &at);
        sb_json_string(out, at.data ? at.data : "", at.len);
        sb_puts(out, ",\"message\":");
        sb_json_string(out, msg, strlen(msg));
        if (note) {
            sb_puts(out, ",\"note\":");
            sb_json_string(out, note, strlen(note));
        }
        sb_puts(out, "}\n");
        sb_free(&at);
    }
    rt_flush(rt);       /* output so far comes first */
    if (rt->warn) rt->warn(rt->warn_ud, span, msg, note_at, note);
}

void rt_flush(Runtime *rt)
{
    if (rt->out.len) rt->write(rt->write_ud, rt->out.data, rt->out.len);
    sb_clear(&rt->out);
}

void rt_flush_text(Runtime *rt)
{
    if (rt->trace_format != TRACE_JSON || !rt->out.len) {
        rt_flush(rt);
        return;
    }
    /* in a JSON trace, what a script prints is an event too: one per line */
    StrBuf ev;
    sb_init(&ev);
    const char *p = rt->out.data, *end = p + rt->out.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        sb_puts(&ev, "{\"event\":\"print\",\"text\":");
        sb_json_string(&ev, p, len);
        sb_puts(&ev, "}\n");
        p += len + (nl != NULL);
    }
    rt->write(rt->write_ud, ev.data, ev.len);
    sb_free(&ev);
    sb_clear(&rt->out);
}

void *rt_grow(void *buf, size_t *cap, size_t n, size_t size)
{
    if (n < 1) n = 1;
    if (n > *cap || !buf) {
        buf = nn_realloc(buf, n * size);
        *cap = n;
    }
    return buf;
}

/* rt_grow for a buffer of floats that grows with the params, counted against the memory
 * limit as it grows; raises at the running statement past it. */
static float *grow_counted(Runtime *rt, float *buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        size_t more = (n - *cap) * sizeof(float);
        if (!graph_reserve(&rt->graph, more)) {
            char size[32];
            rt_error(rt, rt->err_stmt, "this needs a copy of the params' values or "
                     "gradients (%s more), which would take the program past the memory limit "
                     "of %zu MiB; raise it with --max-memory", graph_bytes_str(more, size),
                     rt->graph.max_bytes >> 20);
        }
    }
    return rt_grow(buf, cap, n, sizeof(float));
}

float *rt_scratch(Runtime *rt, size_t n)
{
    rt->scratch = grow_counted(rt, rt->scratch, &rt->scratch_cap, n);
    return rt->scratch;
}

/* ---- non-finite values ----------------------------------------------------------------------- */

void rt_index_str(const Shape *s, size_t flat, char *buf, size_t len)
{
    if (s->rank == 0) {
        buf[0] = '\0';
        return;
    }
    int idx[NN_MAX_RANK];
    for (int d = s->rank - 1; d >= 0; d--) {
        idx[d] = (int)(flat % (size_t)s->dim[d]);
        flat /= (size_t)s->dim[d];
    }
    size_t n = (size_t)snprintf(buf, len, " at element [");
    for (int d = 0; d < s->rank && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, d ? ",%d" : "%d", idx[d]);
    if (n < len) snprintf(buf + n, len - n, "]");
}

/* The element of input `in` that output element i of an elementwise op read. */
static size_t input_index(const GraphNode *n, const GraphNode *in, size_t i)
{
    size_t strides[NN_MAX_RANK], k = 0;
    shape_bcast_strides(&in->shape, &n->shape, strides);
    for (int d = n->shape.rank - 1; d >= 0; d--) {
        k += i % (size_t)n->shape.dim[d] * strides[d];
        i /= (size_t)n->shape.dim[d];
    }
    return k;
}

/* Why an op's result is not finite, in the words a learner needs. These are messages, not
 * maths, so they live with the check rather than in the op table. */
static const char *why_nonfinite(const GraphNode *n, GraphNode *const *in, size_t i)
{
    switch (n->op) {
    case OP_DIV:
        if (in[1]->value[input_index(n, in[1], i)] == 0) return "division by zero";
        return "the quotient is beyond float32's range";
    case OP_LOG: return isnan(n->value[i]) ? "log of a negative number" : "log of zero";
    case OP_SQRT: return "square root of a negative number";
    case OP_POW:
        if (isnan(n->value[i])) return "a negative number to a fractional power";
        if (in[0]->value[input_index(n, in[0], i)] == 0) return "zero to a negative power";
        return "the power is beyond float32's range";
    case OP_EXP: return "exp overflows float32 above about 88.7";
    case OP_MOD:
        if (in[1]->value[input_index(n, in[1], i)] == 0)
            return "the remainder of a division by zero";
        return "the result is beyond float32's range";
    default: return "the result is beyond float32's range";
    }
}

/* Why the gradient passed back through n is not finite. */
static const char *why_grad_nonfinite(const GraphNode *n)
{
    switch (n->op) {
    case OP_SQRT: return "the derivative of sqrt at 0 is infinite";
    case OP_LOG: return "the derivative of log at 0 is infinite";
    case OP_DIV: return "the derivative of a quotient with a divisor near 0 is not finite";
    case OP_POW: return "the derivative of a power is not finite for a base of 0 with an "
                        "exponent below 1, or for a negative base";
    default: return "the gradient overflowed float32";
    }
}

/* An index that does not name an element (x[i] at run time, one_hot's classes): its ops give
 * NaN, which is not a value gone wrong but a plain mistake; said as one. */
static void check_index(Runtime *rt, const GraphNode *n, GraphNode *const *in)
{
    char v[32];
    if (n->op == OP_INDEX) {
        float i = in[1]->value[0];
        int size = in[0]->shape.dim[n->attrs.axis];
        if (op_index_of(i, size) >= 0) return;
        if (i != floorf(i))
            rt_error(rt, n->span, "an index must be a whole number, but this one is %s",
                     fmt_num(i, v));
        rt_error(rt, n->span, "index %s is out of range for an axis of size %d (from %d to %d)",
                 fmt_num(i, v), size, -size, size - 1);
    }
    if (n->op == OP_ONE_HOT) {
        for (size_t k = 0; k < in[0]->size; k++) {
            float c = in[0]->value[k];
            if (op_index_of(c, n->attrs.classes) < 0 || c < 0)
                rt_error(rt, n->span, "one_hot: a class index is a whole number from 0 to %d, but "
                         "element %zu is %s", n->attrs.classes - 1, k, fmt_num(c, v));
        }
    }
}

void rt_check_node(void *ud, Graph *g, GraphNode *n, int backward)
{
    Runtime *rt = ud;
    char where[64], val[32];
    GraphNode *in[NN_OP_MAX_IN] = { NULL };
    for (int i = 0; i < n->n_in; i++) in[i] = graph_node(g, n->in[i]);
    if (!backward) {
        long bad = tensor_find_nonfinite(n->value, n->size);
        if (bad < 0) return;
        check_index(rt, n, in);
        rt_index_str(&n->shape, (size_t)bad, where, sizeof where);
        rt_raise(rt, RT_NONFINITE, n->span, "this produced %s%s (%s)",
                 fmt_num(n->value[bad], val), where, why_nonfinite(n, in, (size_t)bad));
    }
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i]->requires_grad) continue;
        long bad = tensor_find_nonfinite(in[i]->grad, in[i]->size);
        if (bad < 0) continue;
        rt_index_str(&in[i]->shape, (size_t)bad, where, sizeof where);
        rt_raise(rt, RT_NONFINITE, n->span, "the gradient flowing back through this is %s%s "
                 "(%s)", fmt_num(in[i]->grad[bad], val), where, why_grad_nonfinite(n));
    }
}

/* ---- elementwise work on params: updates and checks ------------------------------------------ */

enum { UPDATE_CHUNK = 1024 };   /* floats of each buffer an update is tried on at a time */

/* Where an update would first make something inf or NaN. */
typedef struct BadUpdate {
    int param;                  /* index in the params given; -1: nowhere */
    int buf;                    /* -1: the value; else the state buffer */
    size_t at;                  /* the element */
    float value;                /* what it would become */
} BadUpdate;

/* Tries update c on copies of elements [lo, hi) of param p's value and state, UPDATE_CHUNK
 * elements at a time (lo a multiple of it): every rule is elementwise, so the copies get
 * exactly the numbers the param would. The first element that would not be finite, in order
 * (param 0 of the result: the caller names the param), or none (param -1). */
static BadUpdate try_range(const OptimConfig *c, float lr, long t, const GraphNode *p,
                           const ParamOpt *po, size_t lo, size_t hi)
{
    float w[UPDATE_CHUNK], s[3][UPDATE_CHUNK];
    float *state[3] = { s[0], s[1], s[2] };
    for (size_t k = lo; k < hi; k += UPDATE_CHUNK) {
        size_t m = hi - k < UPDATE_CHUNK ? hi - k : UPDATE_CHUNK;
        memcpy(w, p->value + k, m * sizeof(float));
        for (int b = 0; b < po->nbuf; b++) memcpy(s[b], po->buf[b] + k, m * sizeof(float));
        optim_update(c, lr, t, w, p->grad + k, state, m);
        for (int b = -1; b < po->nbuf; b++) {
            const float *x = b < 0 ? w : s[b];
            long bad = tensor_find_nonfinite(x, m);
            if (bad >= 0) return (BadUpdate){ 0, b, k + (size_t)bad, x[bad] };
        }
    }
    return (BadUpdate){ -1, -1, 0, 0 };
}

/* ---- large params on several threads ----------------------------------------------------------
 * The finite check of a param's gradient, the trial of its update and the update itself are
 * elementwise, so a large param is cut into parts of whole chunks run on the kernels' threads
 * (kern_threads), each in the caller's floating-point mode (fpmode.h): every element gets the
 * same arithmetic on any thread, and the first bad element is the same one. */

enum { SLICE_MIN = 1 << 16 };       /* elements of a param from which it is cut into parts */
enum { SLICE_MAX_PARTS = 16 };

typedef enum SliceKind { SLICE_GRADS, SLICE_TRY, SLICE_UPDATE } SliceKind;

typedef struct Slices {
    SliceKind kind;
    const OptimConfig *c;
    float lr;
    long t;
    GraphNode *p;
    ParamOpt *po;
    FpMode fp;                      /* the caller's */
    size_t chunks;                  /* of UPDATE_CHUNK elements (the last may be short) */
    int parts;
    BadUpdate bad[SLICE_MAX_PARTS]; /* each part's first bad element (SLICE_GRADS, _TRY) */
} Slices;

/* PoolTask: part `part` of the Slices ctx. */
static void slice_part(void *ctx, int part)
{
    Slices *s = ctx;
    const FpMode own = fp_mode_get();
    fp_mode_set(s->fp);
    size_t lo = s->chunks * (size_t)part / (size_t)s->parts * UPDATE_CHUNK;
    size_t hi = s->chunks * (size_t)(part + 1) / (size_t)s->parts * UPDATE_CHUNK;
    if (hi > s->p->size) hi = s->p->size;
    BadUpdate none = { -1, -1, 0, 0 };
    if (s->kind == SLICE_GRADS) {
        long at = tensor_find_nonfinite(s->p->grad + lo, hi - lo);
        s->bad[part] = at < 0 ? none : (BadUpdate){ 0, -1, lo + (size_t)at, 0 };
    } else if (s->kind == SLICE_TRY) {
        s->bad[part] = try_range(s->c, s->lr, s->t, s->p, s->po, lo, hi);
    } else {
        float *state[3] = { NULL, NULL, NULL };
        for (int b = 0; b < s->po->nbuf; b++) state[b] = s->po->buf[b] + lo;
        optim_update(s->c, s->lr, s->t, s->p->value + lo, s->p->grad + lo, state, hi - lo);
    }
    fp_mode_set(own);
}

/* Runs the job over the whole param, in parts on several threads when it is large; returns
 * its first bad element (SLICE_GRADS, SLICE_TRY), param -1 if none. */
static BadUpdate run_slices(Slices *s)
{
    int threads = kern_threads();
    s->fp = fp_mode_get();
    s->chunks = (s->p->size + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
    s->parts = 1;
    if (threads > 1 && s->p->size >= SLICE_MIN) {
        s->parts = 2 * threads < SLICE_MAX_PARTS ? 2 * threads : SLICE_MAX_PARTS;
        if ((size_t)s->parts > s->chunks) s->parts = (int)s->chunks;
    }
    if (s->parts == 1)
        slice_part(s, 0);
    else
        pool_run(threads, kern_worker_stack_bytes(), slice_part, s, s->parts);
    for (int q = 0; q < s->parts && s->kind != SLICE_UPDATE; q++)
        if (s->bad[q].param >= 0) return s->bad[q];
    return (BadUpdate){ -1, -1, 0, 0 };
}

/* Whether one large param's gradient is finite, checked by parts. */
static bool grads_finite_sliced(Runtime *rt, uint32_t id)
{
    Slices s = { .kind = SLICE_GRADS, .p = graph_node(&rt->graph, id) };
    return run_slices(&s).param < 0;
}

/* ---- fast passes, checked again only when a result is not finite ----------------------------- */

static bool values_finite(Runtime *rt, const uint32_t *ids, int n)
{
    for (int i = 0; i < n; i++) {
        const GraphNode *x = graph_node(&rt->graph, ids[i]);
        if (tensor_find_nonfinite(x->value, x->size) >= 0) return false;
    }
    return true;
}

static bool grads_finite(Runtime *rt, const uint32_t *ids, int n)
{
    for (int i = 0; i < n; i++) {
        const GraphNode *x = graph_node(&rt->graph, ids[i]);
        if (x->size >= SLICE_MIN ? !grads_finite_sliced(rt, ids[i])
                                 : tensor_find_nonfinite(x->grad, x->size) >= 0)
            return false;
    }
    return true;
}

/* ---- running statistics: what a failed pass puts back ------------------------------------------
 * A training pass of a batchnorm op moves its running statistics (buffers, inputs 3 and 4) as
 * it goes; a pass that fails (an inf or NaN, which the checked pass that finds it would move
 * them by again) leaves them as they were before it. */

/* Copies the statistics the plan's batchnorm ops move into `saved` (restore = false), or
 * back; returns how many floats that is (saved NULL: only counts). */
static size_t copy_stats(Runtime *rt, const Plan *plan, float *saved, bool restore)
{
    size_t k = 0;
    for (uint32_t i = 0; i < plan->count; i++) {
        const GraphNode *n = graph_node(&rt->graph, plan->ids[i]);
        if (n->op != OP_BATCHNORM) continue;
        for (int b = 3; b < 5; b++) {
            GraphNode *buf = graph_node(&rt->graph, n->in[b]);
            if (saved && restore) memcpy(buf->value, saved + k, buf->size * sizeof(float));
            else if (saved) memcpy(saved + k, buf->value, buf->size * sizeof(float));
            k += buf->size;
        }
    }
    return k;
}

static void keep_stats(Runtime *rt, const Plan *plan)
{
    size_t n = copy_stats(rt, plan, NULL, false);
    rt->pass_stats = n ? plan : NULL;
    if (!n) return;
    rt->pass_stats_saved = grow_counted(rt, rt->pass_stats_saved, &rt->pass_stats_cap, n);
    copy_stats(rt, plan, rt->pass_stats_saved, false);
}

void rt_restore_stats(Runtime *rt)
{
    if (rt->pass_stats) copy_stats(rt, rt->pass_stats, rt->pass_stats_saved, true);
    rt->pass_stats = NULL;
}

bool rt_forward(Runtime *rt, const Plan *plan, const uint32_t *roots, int n)
{
    rt->pass_rng = rt->rng;
    keep_stats(rt, plan);
    graph_forward(&rt->graph, plan, &rt->rng, NULL, NULL);
    if (values_finite(rt, roots, n)) {
        rt->pass_stats = NULL;
        return true;
    }
    /* the same pass again, checked (pass_stats stays set: a failed pass puts them back) */
    rt->rng = rt->pass_rng;
    rt_restore_stats(rt);
    keep_stats(rt, plan);
    graph_forward(&rt->graph, plan, &rt->rng, rt_check_node, rt);
    return false;
}

bool rt_pass(Runtime *rt, const RtPass *p)
{
    Graph *g = &rt->graph;
    rt->pass_rng = rt->rng;
    if (!p->zeroed) {
        size_t total = 0;
        for (int i = 0; i < p->n_params; i++) total += graph_node(g, p->params[i])->size;
        rt->pass_grads = grow_counted(rt, rt->pass_grads, &rt->pass_grads_cap, total);
        keep_grads(rt, p->params, p->n_params, false);
        /* an interrupt part-way puts them back (rt_undo_statement) */
        rt->pass_params = p->params;
        rt->pass_n_params = p->n_params;
    }
    keep_stats(rt, p->plan);
    graph_forward(g, p->plan, &rt->rng, NULL, NULL);
    if (isfinite(graph_node(g, p->root)->value[0])) {      /* a scalar */
        graph_backward_seeded(g, p->plan, p->root, p->seed, NULL, NULL);
        if (grads_finite(rt, p->params, p->n_params)) {
            rt->pass_params = NULL;
            rt->pass_stats = NULL;
            return true;
        }
        /* again from the gradients as they were (they accumulate: a checked pass would have
         * seen these), before the forward pass, which may read them (x.grad) */
        if (p->zeroed) {
            for (int i = 0; i < p->n_params; i++) {
                GraphNode *x = graph_node(g, p->params[i]);
                memset(x->grad, 0, x->size * sizeof(float));
            }
        } else {
            keep_grads(rt, p->params, p->n_params, true);
        }
    }
    /* (pass_params stays set: the checked passes add to the gradients again, and an interrupt
     * part-way through them must put them back too) */
    rt->rng = rt->pass_rng;
    rt_restore_stats(rt);       /* the same pass again: from the same statistics */
    keep_stats(rt, p->plan);
    graph_forward(g, p->plan, &rt->rng, rt_check_node, rt);
    graph_backward_seeded(g, p->plan, p->root, p->seed, rt_check_node, rt);
    rt->pass_params = NULL;
    rt_restore_stats(rt);
    return false;
}

/* ---- what training saw of a model ------------------------------------------------------------ */

static RtUnits *units_find(RtUnits *seen, int n, uint32_t model)
{
    for (int i = 0; i < n; i++)
        if (seen[i].model == model) return &seen[i];
    return NULL;
}

const RtUnits *rt_units_get(const Runtime *rt, uint32_t model)
{
    return units_find(rt->units_seen, rt->n_units_seen, model);
}

void rt_units_set(Runtime *rt, uint32_t model, int n, const int *alive, const int *units,
                  const char *const *after)
{
    RtUnits *u = units_find(rt->units_seen, rt->n_units_seen, model);
    if (!u) {
        rt->units_seen = nn_realloc(rt->units_seen,
                                    (size_t)(rt->n_units_seen + 1) * sizeof *rt->units_seen);
        u = &rt->units_seen[rt->n_units_seen++];
        memset(u, 0, sizeof *u);
        u->model = model;
    }
    if (u->n != n) {    /* the same model trained again allocates nothing */
        u->alive = nn_realloc(u->alive, (size_t)n * sizeof *u->alive);
        u->units = nn_realloc(u->units, (size_t)n * sizeof *u->units);
        u->after = nn_realloc(u->after, (size_t)n * sizeof *u->after);
        u->n = n;
    }
    memcpy(u->alive, alive, (size_t)n * sizeof *alive);
    memcpy(u->units, units, (size_t)n * sizeof *units);
    memcpy(u->after, after, (size_t)n * sizeof *after);
}

void rt_block_event(Runtime *rt, const char *event, int block, const char *run)
{
    sb_printf(&rt->out, "{\"event\":\"%s\",\"block\":%d", event, block);
    if (!run) return;
    sb_puts(&rt->out, ",\"run\":");
    sb_json_string(&rt->out, run, strlen(run));
}

void rt_run_add(Runtime *rt, const char *label, const float *v, int n, long every)
{
    rt->runs = nn_realloc(rt->runs, (size_t)(rt->n_runs + 1) * sizeof *rt->runs);
    RtRun *r = &rt->runs[rt->n_runs++];
    size_t len = strlen(label);
    r->label = nn_calloc(len + 1, 1);
    memcpy(r->label, label, len + 1);
    r->v = nn_calloc((size_t)(n > 0 ? n : 1), sizeof *r->v);
    memcpy(r->v, v, (size_t)n * sizeof *v);
    r->n = n;
    r->every = every;
}

/* ---- params: snapshots for traces, optimizer state, updates ---------------------------------- */

/* Copies every param's gradient (grads = true) or value, in graph order, into scratch
 * memory, so a trace can show what a pass changed. */
float *rt_snapshot_params(Runtime *rt, bool grads)
{
    size_t total = 0;
    for (uint32_t i = 0; i < rt->graph.count; i++)
        if (rt->graph.nodes[i].op == OP_PARAM) total += rt->graph.nodes[i].size;
    float *buf = rt_scratch(rt, total + 1);
    size_t k = 0;
    for (uint32_t i = 0; i < rt->graph.count; i++) {
        GraphNode *n = &rt->graph.nodes[i];
        if (n->op != OP_PARAM) continue;
        memcpy(buf + k, grads ? n->grad : n->value, n->size * sizeof(float));
        k += n->size;
    }
    return buf;
}

static ParamOpt *popt_for(Runtime *rt, uint32_t id, const OptimConfig *c);

float *rt_snapshot_update(Runtime *rt, const OptimConfig *c)
{
    size_t total = 0, params = 0;
    for (uint32_t i = 0; i < rt->graph.count; i++)
        if (rt->graph.nodes[i].op == OP_PARAM) {
            total += rt->graph.nodes[i].size;
            params++;
        }
    float *buf = rt_scratch(rt, total + RT_SNAP_STATE * params + 1);
    float *state = buf + total;
    for (uint32_t i = 0; i < rt->graph.count; i++) {
        GraphNode *n = &rt->graph.nodes[i];
        if (n->op != OP_PARAM) continue;
        memcpy(buf, n->value, n->size * sizeof(float));
        buf += n->size;
        const ParamOpt *po = popt_for(rt, i, c);
        for (int b = 0; b < RT_SNAP_STATE - 1; b++)
            state[b] = po && b < po->nbuf && po->size ? po->buf[b][0] : 0.0f;
        state[RT_SNAP_STATE - 1] = po ? (float)po->t : 0.0f;
        state += RT_SNAP_STATE;
    }
    return buf - total;
}

/* The memory of po's buffers. */
static size_t popt_bytes(const ParamOpt *po)
{
    return (size_t)po->nbuf * po->size * sizeof(float);
}

/* Frees po's buffers, gives their memory back, and zeroes it. */
static void popt_release(Runtime *rt, ParamOpt *po)
{
    graph_release(&rt->graph, popt_bytes(po));
    for (int b = 0; b < 3; b++) nn_free(po->buf[b]);
    memset(po, 0, sizeof *po);
}

/* Param id's state, or NULL if it has none for an optimizer like c. */
static ParamOpt *popt_for(Runtime *rt, uint32_t id, const OptimConfig *c)
{
    if (id >= rt->popt_count) return NULL;
    ParamOpt *po = &rt->popt[id];
    return po->used && po->kind == c->kind && po->nbuf == optim_state_count(c) ? po : NULL;
}

ParamOpt *rt_param_opt(Runtime *rt, uint32_t id, const OptimConfig *c)
{
    if (id >= rt->popt_count) {
        uint32_t n = rt->graph.count > id ? rt->graph.count : id + 1;
        rt->popt = nn_realloc(rt->popt, n * sizeof *rt->popt);
        memset(rt->popt + rt->popt_count, 0, (n - rt->popt_count) * sizeof *rt->popt);
        rt->popt_count = n;
    }
    ParamOpt *po = popt_for(rt, id, c);
    if (po) return po;
    po = &rt->popt[id];
    popt_release(rt, po);
    po->size = graph_node(&rt->graph, id)->size;
    po->nbuf = optim_state_count(c);
    for (int b = 0; b < po->nbuf; b++) po->buf[b] = nn_calloc(po->size, sizeof(float));
    graph_charge(&rt->graph, popt_bytes(po));
    po->used = true;
    po->kind = c->kind;
    return po;
}

size_t rt_optim_need(Runtime *rt, const uint32_t *params, int n, const OptimConfig *c)
{
    size_t need = 0, freed = 0;
    for (int i = 0; i < n; i++) {
        if (popt_for(rt, params[i], c)) continue;
        need += (size_t)optim_state_count(c) * graph_node(&rt->graph, params[i])->size
                * sizeof(float);
        if (params[i] < rt->popt_count) freed += popt_bytes(&rt->popt[params[i]]);
    }
    return need > freed ? need - freed : 0;
}

void rt_optim_alloc(Runtime *rt, const uint32_t *params, int n, const OptimConfig *c, Span at)
{
    size_t need = rt_optim_need(rt, params, n, c);
    if (need > graph_room(&rt->graph)) {
        int per = optim_state_count(c);
        char size[32];
        rt_error(rt, at, "the optimizer's state (%s keeps %d number%s per parameter: %s) "
                 "would take the program past the memory limit of %zu MiB; raise it with "
                 "--max-memory", optim_name(c->kind), per, per == 1 ? "" : "s",
                 graph_bytes_str(need, size), rt->graph.max_bytes >> 20);
    }
    for (int i = 0; i < n; i++) rt_param_opt(rt, params[i], c);
}

void rt_optim_reset(Runtime *rt, const uint32_t *params, int n)
{
    for (int i = 0; i < n; i++)
        if (params[i] < rt->popt_count) popt_release(rt, &rt->popt[params[i]]);
}

/* Tries update c on copies of each param's value and state (try_range, by parts). */
static BadUpdate try_update(Runtime *rt, const OptimConfig *c, float lr, const uint32_t *params,
                            int n)
{
    for (int i = 0; i < n; i++) {
        Slices s = { .kind = SLICE_TRY, .c = c, .lr = lr, .t = rt->popt[params[i]].t + 1,
                     .p = graph_node(&rt->graph, params[i]), .po = &rt->popt[params[i]] };
        BadUpdate bad = run_slices(&s);
        if (bad.param >= 0) {
            bad.param = i;
            return bad;
        }
    }
    return (BadUpdate){ -1, -1, 0, 0 };
}

enum { JOURNAL = 4096 };        /* floats: an update this small is made in place, undone if bad */

/* Updates of at most JOURNAL_MAX floats (values and state) are made in place too, with their
 * journal on the heap: one pass of the optimizer instead of two (trying on copies, then
 * making), unless a param is large enough to be cut into parts on several threads (the trial
 * and the update then run there). Measured on AMD EPYC (bench/ab.py): W3, 9,610 params with
 * adam's two buffers, 23% faster; W5 33%; W4 on one thread 1% faster, on two 3% slower than
 * its parts, hence the exception. */
enum { JOURNAL_MAX = 1 << 20 };

/* The heap journal for an update of `floats` floats of params, or NULL when it is too large,
 * when a param is cut into parts on several threads, or when it would take the program past
 * its memory limit: the update is then tried on copies (try_update). */
static float *journal_for(Runtime *rt, const uint32_t *params, int n, size_t floats)
{
    if (floats > JOURNAL_MAX) return NULL;
    for (int i = 0; i < n && kern_threads() > 1; i++)
        if (graph_node(&rt->graph, params[i])->size >= SLICE_MIN) return NULL;
    if (floats > rt->journal_cap && !graph_reserve(&rt->graph,
                                                   (floats - rt->journal_cap) * sizeof(float)))
        return NULL;
    rt->journal = rt_grow(rt->journal, &rt->journal_cap, floats, sizeof(float));
    return rt->journal;
}

/* The update made in place, with the old values and state kept in journal (JOURNAL floats)
 * and put back if something became inf or NaN: for small models, where trying the update on
 * copies and then making it would cost twice the arithmetic. */
static BadUpdate update_in_place(Runtime *rt, const OptimConfig *c, float lr,
                                 const uint32_t *params, int n, float *journal)
{
    size_t k = 0;
    BadUpdate bad = { -1, -1, 0, 0 };
    for (int i = 0; i < n && bad.param < 0; i++) {
        GraphNode *p = graph_node(&rt->graph, params[i]);
        ParamOpt *po = &rt->popt[params[i]];
        memcpy(journal + k, p->value, p->size * sizeof(float));
        k += p->size;
        for (int b = 0; b < po->nbuf; b++, k += p->size)
            memcpy(journal + k, po->buf[b], p->size * sizeof(float));
        optim_update(c, lr, po->t + 1, p->value, p->grad, po->buf, p->size);
        for (int b = -1; b < po->nbuf && bad.param < 0; b++) {
            const float *x = b < 0 ? p->value : po->buf[b];
            long at = tensor_find_nonfinite(x, p->size);
            if (at >= 0) bad = (BadUpdate){ i, b, (size_t)at, x[at] };
        }
    }
    if (bad.param < 0) {
        for (int i = 0; i < n; i++) rt->popt[params[i]].t++;
        return bad;
    }
    k = 0;      /* put back what was changed, the bad param included */
    for (int i = 0; i <= bad.param; i++) {
        GraphNode *p = graph_node(&rt->graph, params[i]);
        ParamOpt *po = &rt->popt[params[i]];
        memcpy(p->value, journal + k, p->size * sizeof(float));
        k += p->size;
        for (int b = 0; b < po->nbuf; b++, k += p->size)
            memcpy(po->buf[b], journal + k, p->size * sizeof(float));
    }
    return bad;
}

/* Whether every param has its state for an optimizer like c already. */
static bool optim_ready(Runtime *rt, const uint32_t *params, int n, const OptimConfig *c)
{
    for (int i = 0; i < n; i++)
        if (!popt_for(rt, params[i], c)) return false;
    return true;
}

void rt_update(Runtime *rt, const OptimConfig *c, float lr, const uint32_t *params, int n,
               Span at)
{
    if (!optim_ready(rt, params, n, c)) rt_optim_alloc(rt, params, n, c, at);
    size_t floats = 0;
    for (int i = 0; i < n; i++)
        floats += graph_node(&rt->graph, params[i])->size * (1 + (size_t)rt->popt[params[i]].nbuf);
    float stack[JOURNAL];
    float *journal = floats <= JOURNAL ? stack : journal_for(rt, params, n, floats);
    bool in_place = journal != NULL;
    BadUpdate bad = in_place ? update_in_place(rt, c, lr, params, n, journal)
                             : try_update(rt, c, lr, params, n);
    if (bad.param >= 0) {
        const GraphNode *p = graph_node(&rt->graph, params[bad.param]);
        char where[64], val[32], grad[32];
        rt_index_str(&p->shape, bad.at, where, sizeof where);
        fmt_num(bad.value, val);
        fmt_num(p->grad[bad.at], grad);
        if (bad.buf < 0)
            rt_raise(rt, RT_NONFINITE, at, "this update would make param '%s' %s%s (its "
                     "gradient is %s); try a smaller learning rate", p->name, val, where, grad);
        rt_raise(rt, RT_NONFINITE, at, "this update would make %s's '%s' of param '%s' %s%s "
                 "(its gradient is %s); try 'clip' to cap the gradient's norm",
                 optim_name(c->kind), optim_state_name(c, bad.buf), p->name, val, where, grad);
    }
    for (int i = 0; i < n; i++) rt->popt[params[i]].config = *c;
    if (in_place) return;  /* made already */
    for (int i = 0; i < n; i++) {
        ParamOpt *po = &rt->popt[params[i]];
        po->t++;
        Slices s = { .kind = SLICE_UPDATE, .c = c, .lr = lr, .t = po->t,
                     .p = graph_node(&rt->graph, params[i]), .po = po };
        run_slices(&s);
    }
}

/* ---- undoing a failed run -------------------------------------------------------------------- */

void rt_truncate(Runtime *rt, uint32_t count)
{
    for (uint32_t i = count; i < rt->popt_count; i++) popt_release(rt, &rt->popt[i]);
    graph_truncate(&rt->graph, count);
}

/* The floats a snapshot keeps of node n: a param's value and gradient, a buffer's value. */
static size_t kept_size(const GraphNode *n)
{
    return n->op == OP_PARAM ? 2 * n->size : n->op == OP_BUFFER ? n->size : 0;
}

void rt_snapshot_take(Runtime *rt, RtSnapshot *s)
{
    memset(s, 0, sizeof *s);
    s->nodes = rt->graph.count;
    size_t total = 0;
    for (uint32_t i = 0; i < s->nodes; i++) total += kept_size(&rt->graph.nodes[i]);
    s->params = nn_alloc((total ? total : 1) * sizeof *s->params);
    size_t k = 0;
    for (uint32_t i = 0; i < s->nodes; i++) {
        GraphNode *n = &rt->graph.nodes[i];
        if (!kept_size(n)) continue;
        memcpy(s->params + k, n->value, n->size * sizeof(float));
        if (n->grad) memcpy(s->params + k + n->size, n->grad, n->size * sizeof(float));
        k += kept_size(n);
    }
    s->popt_count = rt->popt_count;
    s->popt = nn_calloc(s->popt_count ? s->popt_count : 1, sizeof *s->popt);
    for (uint32_t i = 0; i < s->popt_count; i++) {
        ParamOpt *src = &rt->popt[i], *dst = &s->popt[i];
        *dst = *src;
        for (int b = 0; b < 3; b++) {
            dst->buf[b] = NULL;
            if (src->buf[b]) {
                dst->buf[b] = nn_alloc(src->size * sizeof(float));
                memcpy(dst->buf[b], src->buf[b], src->size * sizeof(float));
            }
        }
    }
    s->rng = rt->rng;
}

void rt_snapshot_restore(Runtime *rt, RtSnapshot *s)
{
    for (uint32_t i = 0; i < rt->popt_count; i++) popt_release(rt, &rt->popt[i]);
    nn_free(rt->popt);
    rt->popt = s->popt;
    rt->popt_count = s->popt_count;
    for (uint32_t i = 0; i < rt->popt_count; i++)   /* counted before the run, given back */
        graph_charge(&rt->graph, popt_bytes(&rt->popt[i]));
    s->popt = NULL;
    s->popt_count = 0;
    graph_truncate(&rt->graph, s->nodes);
    size_t k = 0;
    for (uint32_t i = 0; i < s->nodes; i++) {
        GraphNode *n = &rt->graph.nodes[i];
        if (!kept_size(n)) continue;
        memcpy(n->value, s->params + k, n->size * sizeof(float));
        if (n->grad) memcpy(n->grad, s->params + k + n->size, n->size * sizeof(float));
        k += kept_size(n);
    }
    rt->rng = s->rng;
    rt->explain_step = false;
}

void rt_snapshot_free(RtSnapshot *s)
{
    for (uint32_t i = 0; i < s->popt_count; i++)
        for (int b = 0; b < 3; b++) nn_free(s->popt[i].buf[b]);
    nn_free(s->popt);
    nn_free(s->params);
    memset(s, 0, sizeof *s);
}
