/* exec.c — the instruction loop: forward and backward passes over plans, printing, and the
 * optimizer step; every value a pass produces is checked for inf and NaN, so a non-finite
 * number is reported at the expression that made it rather than printed later. */
#include "runtime.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rt_init(Runtime *rt)
{
    memset(rt, 0, sizeof *rt);
    graph_init(&rt->graph);
    rng_seed(&rt->rng, NN_DEFAULT_SEED);
    sb_init(&rt->out);
}

void rt_free(Runtime *rt)
{
    graph_free(&rt->graph);
    sb_free(&rt->out);
    nn_free(rt->scratch);
}

void rt_error(Runtime *rt, Span span, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->err_msg, sizeof rt->err_msg, fmt, ap);
    va_end(ap);
    rt->err_span = span;
    NN_ASSERT(rt->catch_point);
    longjmp(*rt->catch_point, 1);
}

void rt_flush(Runtime *rt)
{
    if (rt->out.len) rt->write(rt->write_ud, rt->out.data, rt->out.len);
    sb_clear(&rt->out);
}

float *rt_scratch(Runtime *rt, size_t n)
{
    if (n > rt->scratch_cap) {
        rt->scratch = nn_realloc(rt->scratch, n * sizeof *rt->scratch);
        rt->scratch_cap = n;
    }
    return rt->scratch;
}

/* ---- non-finite values -------------------------------------------------------------------- */

static void index_str(const Shape *s, size_t flat, char *buf, size_t len)
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

static void check_node(void *ud, Graph *g, GraphNode *n, int backward)
{
    Runtime *rt = ud;
    char where[64], val[32];
    GraphNode *in[2] = { NULL, NULL };
    for (int i = 0; i < n->n_in; i++) in[i] = graph_node(g, n->in[i]);
    if (!backward) {
        long bad = tensor_find_nonfinite(n->value, n->size);
        if (bad < 0) return;
        index_str(&n->shape, (size_t)bad, where, sizeof where);
        rt_error(rt, n->span, "this produced %s%s (%s)", fmt_num(n->value[bad], val), where,
                 why_nonfinite(n, in, (size_t)bad));
    }
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i]->requires_grad) continue;
        long bad = tensor_find_nonfinite(in[i]->grad, in[i]->size);
        if (bad < 0) continue;
        index_str(&in[i]->shape, (size_t)bad, where, sizeof where);
        rt_error(rt, n->span, "the gradient flowing back through this is %s%s (%s)",
                 fmt_num(in[i]->grad[bad], val), where, why_grad_nonfinite(n));
    }
}

/* ---- instructions ---------------------------------------------------------------------------- */

static void forward(Runtime *rt, const Plan *p)
{
    graph_forward(&rt->graph, p, &rt->rng, check_node, rt);
}

static void print_items(Runtime *rt, const Instr *ins)
{
    StrBuf *sb = &rt->out;
    for (uint32_t i = 0; i < ins->n_items; i++) {
        const PrintItem *it = &ins->items[i];
        if (i) sb_putc(sb, ' ');
        if (it->text) {
            sb_append(sb, it->text, it->len);
            continue;
        }
        GraphNode *n = graph_node(&rt->graph, it->node);
        size_t line = sb->len;
        while (line > 0 && sb->data[line - 1] != '\n') line--;
        tensor_format(n->value, &n->shape, sb, (int)utf8_width(sb->data + line, sb->len - line));
        if (n->shape.rank > 0) {
            sb_puts(sb, "  shape ");
            shape_format(&n->shape, sb);
        }
    }
    sb_putc(sb, '\n');
    rt_flush(rt);
}

/* Copies every param's gradient (grads = true) or value, in graph order, into scratch
 * memory, so a trace can show what a pass changed. */
static float *snapshot_params(Runtime *rt, bool grads)
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

static void backward(Runtime *rt, const Instr *ins, bool explain)
{
    forward(rt, &ins->plan);
    float *before = explain ? snapshot_params(rt, true) : NULL;
    graph_backward(&rt->graph, &ins->plan, ins->node, check_node, rt);
    if (explain) {
        trace_backward(rt, &ins->plan, ins->node, before, ins->span);
        rt_flush(rt);
        rt->explain_step = true;
    }
}

static void step_sgd(Runtime *rt, const Instr *ins)
{
    float *before = rt->explain_step ? snapshot_params(rt, false) : NULL;
    /* check every new value first, so a failed step leaves every param as it was */
    for (uint32_t i = 0; i < rt->graph.count; i++) {
        GraphNode *n = &rt->graph.nodes[i];
        if (n->op != OP_PARAM) continue;
        for (size_t j = 0; j < n->size; j++) {
            float v = n->value[j] - ins->lr * n->grad[j];
            if (isfinite(v)) continue;
            char where[64], val[32], grad[32];
            index_str(&n->shape, j, where, sizeof where);
            rt_error(rt, ins->span, "this update would make param '%s' %s%s (its gradient is "
                     "%s); try a smaller learning rate", n->name, fmt_num(v, val), where,
                     fmt_num(n->grad[j], grad));
        }
    }
    for (uint32_t i = 0; i < rt->graph.count; i++) {
        GraphNode *n = &rt->graph.nodes[i];
        if (n->op != OP_PARAM) continue;
        for (size_t j = 0; j < n->size; j++) n->value[j] -= ins->lr * n->grad[j];
    }
    if (rt->explain_step) {
        trace_update(rt, ins->lr, before);
        rt_flush(rt);
        rt->explain_step = false;
    }
}

static void set_param(Runtime *rt, const Instr *ins)
{
    forward(rt, &ins->plan);
    GraphNode *p = graph_node(&rt->graph, ins->node), *v = graph_node(&rt->graph, ins->value);
    for (size_t i = 0; i < p->size; i++) p->value[i] = v->value[v->size == 1 ? 0 : i];
    if (ins->reset_grad) memset(p->grad, 0, p->size * sizeof(float));
}

void rt_exec(Runtime *rt, const Program *p)
{
    for (size_t k = 0; k < p->count; k++) {
        const Instr *ins = &p->items[k];
        rt->err_stmt = ins->span;
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
        case INS_BACKWARD: backward(rt, ins, rt->trace_all); break;
        case INS_TRACE: backward(rt, ins, true); break;
        case INS_STEP: step_sgd(rt, ins); break;
        case INS_ZERO_GRAD:
            for (uint32_t i = 0; i < rt->graph.count; i++) {
                GraphNode *n = &rt->graph.nodes[i];
                if (n->op == OP_PARAM) memset(n->grad, 0, n->size * sizeof(float));
            }
            break;
        case INS_SEED: rng_seed(&rt->rng, ins->seed); break;
        }
    }
}
