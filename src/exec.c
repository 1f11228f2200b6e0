/* exec.c — the instruction loop, the top of the runtime: forward and backward passes over
 * plans, printing, the optimizer step and gradcheck; data, train blocks and checkpoints are
 * handed to train.c and checkpoint.c. A pass that prints or stores values checks each for inf
 * and NaN (rt_check_node), so a non-finite number is reported at the expression that made it
 * rather than printed later; `backward` checks only its results, as a train step does, and runs
 * again checked to find the op only when one is not finite (rt_pass). */
#include "onnx.h"
#include "runtime.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- instructions ---------------------------------------------------------------------------- */

static void forward(Runtime *rt, const Plan *p)
{
    rt->pass_rng = rt->rng;     /* (what a pass stopped part-way puts back) */
    graph_forward(&rt->graph, p, &rt->rng, rt_check_node, rt);
}

/* Each row's predicted class by name: the largest score, or for one probability column,
 * class 1 at 0.5 and above. */
static void print_labels(StrBuf *sb, const GraphNode *n, const PrintItem *it)
{
    int cols = n->shape.rank == 2 ? n->shape.dim[1] : (int)n->size;   /* [C]: one row */
    size_t rows = n->size / (size_t)cols;
    sb_putc(sb, '[');
    for (size_t r = 0; r < rows; r++) {
        const float *v = n->value + r * (size_t)cols;
        int best = 0;
        if (cols == 1) {
            best = v[0] >= 0.5f;
        } else {
            for (int c = 1; c < cols; c++)
                if (v[c] > v[best]) best = c;
        }
        sb_printf(sb, "%s%s", r ? ", " : "", it->labels[best]);
    }
    sb_putc(sb, ']');
}

/* A tensor printed over several lines lines its rows up under its first one when the text
 * before it on the line is at most this wide; after wider text it starts a line of its own, so
 * the indentation of a row never exceeds this (`print M, M, M, ...` would otherwise indent
 * each matrix further than the last: output quadratic in the number of items). */
#define PRINT_ALIGN_MAX 40

/* The display width of the last line of sb, kept up to date incrementally: each byte appended
 * is looked at once, so a `print` of n items takes time linear in its output. */
typedef struct LineWidth {
    size_t seen;        /* bytes of sb accounted for */
    size_t width;       /* display width of the last line up to `seen` */
} LineWidth;

static void line_width_init(LineWidth *lw, const StrBuf *sb)
{
    size_t start = sb->len;
    while (start > 0 && sb->data[start - 1] != '\n') start--;
    lw->seen = sb->len;
    lw->width = sb->len ? utf8_width(sb->data + start, sb->len - start) : 0;
}

static size_t line_width(LineWidth *lw, const StrBuf *sb)
{
    if (sb->len == lw->seen) return lw->width;     /* nothing new (sb->data may be NULL) */
    size_t nl = sb->len;
    while (nl > lw->seen && sb->data[nl - 1] != '\n') nl--;
    if (nl > lw->seen) lw->width = utf8_width(sb->data + nl, sb->len - nl);
    else lw->width += utf8_width(sb->data + lw->seen, sb->len - lw->seen);
    lw->seen = sb->len;
    return lw->width;
}

/* Under a model's summary, once it has been trained: how many units of each relu layer fired in
 * the last epoch of its last train block. */
static void print_units(StrBuf *sb, const RtUnits *u)
{
    sb_puts(sb, "\n  after training, units that fired at least once in the last epoch:");
    for (int k = 0; k < u->n; k++) {
        int dead = u->units[k] - u->alive[k];
        const char *dot = u->after[k] ? strchr(u->after[k], '.') : NULL;
        if (dot) sb_printf(sb, "%s the relu after %s: ", k ? ";" : "", dot + 1);
        else sb_printf(sb, "%s relu %d: ", k ? ";" : "", k + 1);
        sb_printf(sb, "%d of %d", u->alive[k], u->units[k]);
        if (dead) sb_printf(sb, " (%d dead)", dead);
    }
}

static void print_items(Runtime *rt, const Instr *ins)
{
    StrBuf *sb = &rt->out;
    LineWidth lw;
    line_width_init(&lw, sb);
    for (uint32_t i = 0; i < ins->n_items; i++) {
        const PrintItem *it = &ins->items[i];
        if (i) sb_putc(sb, ' ');
        if (it->text) {
            sb_append(sb, it->text, it->len);
            const RtUnits *u = it->model != UINT32_MAX ? rt_units_get(rt, it->model) : NULL;
            if (u) print_units(sb, u);
            continue;
        }
        GraphNode *n = graph_node(&rt->graph, it->node);
        if (it->labels) {
            print_labels(sb, n, it);
            continue;
        }
        size_t width = line_width(&lw, sb), at = sb->len;
        bool align = width <= PRINT_ALIGN_MAX;
        tensor_format(n->value, &n->shape, sb, align ? (int)width : 0);
        if (!align && memchr(sb->data + at, '\n', sb->len - at)) {
            /* several lines after wide text: they start a line of their own */
            if (i > 0) {
                sb->data[at - 1] = '\n';      /* the space between items */
            } else {
                sb_putc(sb, '\n');
                memmove(sb->data + at + 1, sb->data + at, sb->len - at - 1);
                sb->data[at] = '\n';
            }
        }
        if (n->shape.rank > 0) {
            sb_puts(sb, "  shape ");
            shape_format(&n->shape, sb);
        }
    }
    sb_putc(sb, '\n');
    rt_flush_text(rt);
}

/* `backward`, and each pass of `trace`: forward, then backward from the scalar ins->node, the
 * gradients of the plan's params accumulating. As fast as a train step (rt_pass): checked node
 * by node only when a result is not finite. */
static void backward(Runtime *rt, const Instr *ins, bool explain, const TraceFocus *focus)
{
    float *before = explain ? rt_snapshot_params(rt, true) : NULL;
    /* (false: a leaf holds inf or NaN, so no op is to blame; the values go on, as a checked
     * pass would leave them) */
    rt_pass(rt, &(RtPass){ &ins->plan, ins->node, 1.0f, ins->params, ins->n_params, false });
    if (explain) {
        trace_pass(rt, &ins->plan, ins->node, before, ins->span, ins->expr, focus);
        rt_flush(rt);
        rt->explain_step = rt->trace_format != TRACE_DOT;
    }
}

/* A learning rate computed where the step is (step sgd(lr = 1 - 0.9 * k / 100)). */
static float step_lr(Runtime *rt, const Instr *ins)
{
    if (!ins->has_node) return ins->optim.lr;
    forward(rt, &ins->plan);
    float lr = graph_node(&rt->graph, ins->node)->value[0];
    if (!(lr >= 0) || isinf(lr)) {
        char buf[32];
        rt_error(rt, graph_node(&rt->graph, ins->node)->span, "the learning rate is %s here; it "
                 "must be a finite number, at least 0", fmt_num(lr, buf));
    }
    return lr;
}

/* `step`: the params of the instruction (those named, or every one) take one update.
 * Allocates nothing once the scratch is big enough; holds nothing a raise could leak. */
static void step(Runtime *rt, const Instr *ins)
{
    float lr = step_lr(rt, ins);
    float *before = rt->explain_step ? rt_snapshot_update(rt, &ins->optim) : NULL;
    rt_update(rt, &ins->optim, lr, ins->params, ins->n_params, ins->span);
    if (rt->explain_step) {
        trace_step_update(rt, &ins->optim, lr, before);
        rt_flush(rt);
        rt->explain_step = false;
    }
}

/* ---- gradcheck ------------------------------------------------------------------------------
 * Each param's backprop gradient beside central differences (f(x + h) - f(x - h)) / 2h of the
 * same float32 forward pass, element by element (a fixed sample of large params). The random
 * numbers are rewound before every pass, so dropout draws the same mask each time. Nothing
 * changes: params, their accumulated gradients and the random state end as they began. */

#define GRADCHECK_MAX 256       /* elements checked per param */

static double run_root(Runtime *rt, const Instr *ins, const Rng *start)
{
    rt->rng = *start;
    forward(rt, &ins->plan);
    return graph_node(&rt->graph, ins->node)->value[0];
}

/* What gradcheck has changed, so that it can be put back however it ends: the params'
 * gradients (in `saved`), the element being nudged, the random numbers. */
typedef struct Gradcheck {
    const Instr *ins;
    float *saved;
    Rng start;
    GraphNode *nudged;      /* the param whose element `at` holds a nudged value, or NULL */
    size_t at;
    float value;            /* its own value */
} Gradcheck;

static void gradcheck_run(Runtime *rt, void *ud)
{
    Gradcheck *gc = ud;
    const Instr *ins = gc->ins;
    Graph *g = &rt->graph;
    const Plan *plan = &ins->plan;
    size_t total = 0;
    for (uint32_t k = 0; k < plan->count; k++)
        if (g->nodes[plan->ids[k]].op == OP_PARAM) total += g->nodes[plan->ids[k]].size;
    float *analytic = gc->saved + total;
    size_t off = 0;
    run_root(rt, ins, &gc->start);
    graph_backward(g, plan, ins->node, rt_check_node, rt);
    StrBuf *out = &rt->out;
    sb_puts(out, "gradcheck of ");
    const GraphNode *root = graph_node(g, ins->node);
    if (root->name) sb_puts(out, root->name);
    else rt->source_text(rt->locate_ud, root->span, out);
    sb_puts(out, ": backprop against central differences (f(p + h) - f(p - h)) / 2h, "
                 "h = 1e-3 × max(1, |p|)\n");
    for (uint32_t k = 0; k < plan->count; k++) {
        GraphNode *p = &g->nodes[plan->ids[k]];
        if (p->op != OP_PARAM) continue;
        memcpy(analytic + off, p->grad, p->size * sizeof(float));
        size_t step = p->size <= GRADCHECK_MAX ? 1 : p->size / GRADCHECK_MAX, checked = 0;
        double worst = 0, worst_a = 0, worst_n = 0;
        size_t worst_at = 0;
        for (size_t j = 0; j < p->size; j += step, checked++) {
            float x = p->value[j];
            float h = 1e-3f * fmaxf(1.0f, fabsf(x));
            gc->nudged = p;
            gc->at = j;
            gc->value = x;
            p->value[j] = x + h;
            float up = p->value[j];
            double f1 = run_root(rt, ins, &gc->start);
            p->value[j] = x - h;
            float down = p->value[j];
            double f2 = run_root(rt, ins, &gc->start);
            p->value[j] = x;
            gc->nudged = NULL;
            double num = (f1 - f2) / ((double)up - (double)down), a = analytic[off + j];
            /* relative to the larger of the two, with a floor so that tiny gradients are
             * compared absolutely (float32 forward passes resolve about 1e-4 here) */
            double err = fabs(a - num) / fmax(fmax(fabs(a), fabs(num)), 1e-2);
            if (err > worst || checked == 0) {
                worst = err;
                worst_a = a;
                worst_n = num;
                worst_at = j;
            }
        }
        char where[64], av[32], nv[32], ev[32];
        rt_index_str(&p->shape, worst_at, where, sizeof where);
        snprintf(ev, sizeof ev, "%.2g", worst);
        sb_printf(out, "  %-14s ", p->name ? p->name : "param");
        if (p->shape.rank) shape_format(&p->shape, out);
        sb_printf(out, "  %zu of %zu checked, worst relative error %s%s (backprop %s, "
                  "numerical %s)  %s\n", checked, p->size, ev, where, fmt_num(worst_a, av),
                  fmt_num(worst_n, nv), worst < 1e-2 ? "agrees" : "DIFFERS");
        off += p->size;
    }
}

/* Puts back the params' own gradients, the nudged value and the random numbers. */
static void gradcheck_restore(Runtime *rt, Gradcheck *gc)
{
    const Plan *plan = &gc->ins->plan;
    if (gc->nudged) gc->nudged->value[gc->at] = gc->value;
    size_t off = 0;
    for (uint32_t k = 0; k < plan->count; k++) {
        GraphNode *p = &rt->graph.nodes[plan->ids[k]];
        if (p->op != OP_PARAM) continue;
        memcpy(p->grad, gc->saved + off, p->size * sizeof(float));
        off += p->size;
    }
}

/* Every pass runs inside rt_protect, so that a run stopped part-way (Ctrl-C, a time limit)
 * finds the params as they were. */
static void gradcheck(Runtime *rt, const Instr *ins)
{
    Graph *g = &rt->graph;
    const Plan *plan = &ins->plan;
    size_t total = 0;
    for (uint32_t k = 0; k < plan->count; k++)
        if (g->nodes[plan->ids[k]].op == OP_PARAM) total += g->nodes[plan->ids[k]].size;
    Gradcheck gc = { ins, rt_scratch(rt, 2 * total + 1), rt->rng, NULL, 0, 0 };
    size_t off = 0;
    for (uint32_t k = 0; k < plan->count; k++) {
        GraphNode *p = &g->nodes[plan->ids[k]];
        if (p->op != OP_PARAM) continue;
        memcpy(gc.saved + off, p->grad, p->size * sizeof(float));
        memset(p->grad, 0, p->size * sizeof(float));
        off += p->size;
    }
    RtStatus status = rt_protect(rt, gradcheck_run, &gc);
    gradcheck_restore(rt, &gc);
    if (status != RT_OK) {
        rt->rng = gc.start;
        rt_rethrow(rt);
    }
    run_root(rt, ins, &gc.start);   /* the values of the formulas as they were */
    rt->rng = gc.start;
    rt_flush(rt);
}

static void set_param(Runtime *rt, const Instr *ins)
{
    forward(rt, &ins->plan);
    GraphNode *p = graph_node(&rt->graph, ins->node), *v = graph_node(&rt->graph, ins->value);
    for (size_t i = 0; i < p->size; i++) p->value[i] = v->value[v->size == 1 ? 0 : i];
    if (ins->reset_grad) memset(p->grad, 0, p->size * sizeof(float));
}

static void zero_grad(Runtime *rt, const Instr *ins)
{
    for (int i = 0; i < ins->n_params; i++) {
        GraphNode *p = &rt->graph.nodes[ins->params[i]];
        memset(p->grad, 0, p->size * sizeof(float));
    }
}

/* ---- control flow ------------------------------------------------------------------------- */

/* Where the program goes after a control instruction (any other goes on to pc + 1). */
static size_t jump(Runtime *rt, const Program *p, const Instr *ins, size_t pc)
{
    long *counter = &p->counters[ins->slot];
    switch (ins->kind) {
    case INS_LOOP_INIT:
        *counter = ins->count;
        return pc + 1;
    case INS_LOOP_TEST:
        if (*counter >= ins->count) return ins->target;
        if (ins->has_node) graph_node(&rt->graph, ins->node)->value[0] = (float)*counter;
        return pc + 1;
    case INS_LOOP_NEXT:
        if (rt_take_interrupt(rt)) return p->loops[ins->slot].unwind;  /* between iterations */
        ++*counter;
        return ins->target;
    case INS_INTERRUPT:
        rt->stop_at = RT_STOP_LOOP;
        rt_raise(rt, RT_INTERRUPT, ins->span, "interrupted");
    case INS_BRANCH: {
        forward(rt, &ins->plan);
        float c = graph_node(&rt->graph, ins->node)->value[0];
        return c != 0 ? pc + 1 : ins->target;   /* (NaN was reported by the checked pass) */
    }
    case INS_JUMP: return ins->target;
    default: break;
    }
    NN_ASSERT(!"not a jump");
    return pc + 1;
}

static void exec_one(Runtime *rt, const Instr *ins)
{
    switch (ins->kind) {
    case INS_INIT: {
        GraphNode *n = graph_node(&rt->graph, ins->node);
        op_info(n->op)->forward(n, NULL, &rt->rng);
        break;
    }
    case INS_SET_PARAM: set_param(rt, ins); break;
    case INS_EVAL: forward(rt, &ins->plan); break;
    case INS_PRINT:
        forward(rt, &ins->plan);
        print_items(rt, ins);
        break;
    case INS_BACKWARD: backward(rt, ins, rt->trace_all, NULL); break;
    case INS_TRACE: backward(rt, ins, true, &ins->focus); break;
    case INS_GRADCHECK: gradcheck(rt, ins); break;
    case INS_STEP: step(rt, ins); break;
    case INS_DATA: rt_data(rt, ins->data, ins->span); break;
    case INS_TRAIN: rt_train(rt, ins->train, ins->span); break;
    case INS_SAVE: rt_save(rt, ins->ckpt, ins->path, ins->span); break;
    case INS_LOAD: rt_load(rt, ins->ckpt, ins->path, ins->span); break;
    case INS_SAVE_ONNX: rt_save_onnx(rt, ins, ins->span); break;
    case INS_ZERO_GRAD: zero_grad(rt, ins); break;
    case INS_SEED: rng_seed(&rt->rng, ins->seed); break;
    default: NN_ASSERT(!"a jump");
    }
}

/* Whether an instruction is a step of the limits (nn_set_max_steps): every one that does
 * something a statement asked for, and a loop's or an if's test; not the bookkeeping of jumps. */
static bool is_step(InstrKind k)
{
    return k < INS_LOOP_INIT || k == INS_LOOP_TEST || k == INS_BRANCH;
}

void rt_exec(Runtime *rt, const Program *p)
{
    rt->prog = p;
    /* the first instruction of the next statement of the unit's top level: a boundary where
     * Ctrl-C stops the run with every statement before it whole */
    size_t stmt = 0;
    while (stmt < p->n_stmts && p->stmts[stmt].pc == 0) stmt++;    /* (a let runs nothing) */
    size_t next_stmt = stmt < p->n_stmts ? p->stmts[stmt].pc : SIZE_MAX;
    /* one comparison per instruction when there is no limit: the next boundary, or every
     * instruction when steps are counted */
    size_t check_at = rt->limited ? 0 : next_stmt;
    rt->stmt_rng = rt->rng;
    for (size_t pc = 0; pc < p->count;) {
        const Instr *ins = &p->items[pc];
        rt->pc = pc;
        rt->err_stmt = ins->span;
        if (pc >= check_at) {
            if (pc >= next_stmt) {
                while (stmt < p->n_stmts && p->stmts[stmt].pc <= pc) stmt++;
                next_stmt = stmt < p->n_stmts ? p->stmts[stmt].pc : SIZE_MAX;
                check_at = rt->limited ? 0 : next_stmt;
                rt->stmt_rng = rt->rng;
                if (rt_take_interrupt(rt)) {
                    rt->stop_at = RT_STOP_STATEMENT;
                    rt_raise(rt, RT_INTERRUPT, ins->span, "interrupted");
                }
            }
            if (rt->limited && is_step(ins->kind)) rt_step(rt, ins->span);
        }
        if (ins->kind >= INS_LOOP_INIT) {
            pc = jump(rt, p, ins, pc);
            continue;
        }
        exec_one(rt, ins);
        pc++;
    }
}
