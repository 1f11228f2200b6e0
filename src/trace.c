/* trace.c — where traces start: a traced pass and the update after it are recorded as events
 * (trace_events.c) and written in the session's format, the blackboard text (trace_text.c),
 * JSON Lines (trace_json.c) or a Graphviz picture (here). */
#include "trace.h"

#include <string.h>

/* ---- the graph as a picture ------------------------------------------------------------------
 * Graphviz DOT: one box per node of the plan with its formula, shape, value and gradient;
 * params are blue, the loss (the root) red, constants grey; edges run from inputs to users. */

static void dot_escaped(StrBuf *sb, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') sb_putc(sb, '\\');
        if (s[i] == '\n') {
            sb_puts(sb, "\\n");
            continue;
        }
        sb_putc(sb, s[i]);
    }
}

void trace_dot_pass(Runtime *rt, const TracePass *tp, bool grads)
{
    StrBuf *out = &rt->out, text;
    sb_init(&text);
    sb_puts(out, "digraph nn {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", "
                 "fontsize=11];\n");
    for (uint32_t k = 0; k < tp->count; k++) {
        const TraceNode *e = &tp->nodes[k];
        const GraphNode *n = e->n;
        const OpInfo *op = op_info(n->op);
        sb_clear(&text);
        sb_puts(&text, e->label);
        if (e->formula) sb_printf(&text, " = %s", e->formula);
        else if (n->op == OP_PARAM) sb_puts(&text, " (param)");
        sb_putc(&text, '\n');
        if (n->shape.rank) {
            shape_format(&n->shape, &text);
            sb_putc(&text, ' ');
        }
        sb_puts(&text, "value ");
        trace_put_value(&text, n->value, &n->shape, TRACE_SMALL);
        if (grads && n->requires_grad) {
            sb_puts(&text, "\ngrad ");
            trace_put_value(&text, n->grad, &n->shape, TRACE_SMALL);
        }
        sb_printf(out, "  n%u [label=\"", n->id);
        dot_escaped(out, text.data, text.len);
        sb_putc(out, '"');
        if (n == tp->root) sb_puts(out, ", style=\"filled,bold\", fillcolor=\"#f4c7c3\"");
        else if (n->op == OP_PARAM) sb_puts(out, ", style=filled, fillcolor=\"#c6dafc\"");
        else if (op->flags & OPF_LEAF) sb_puts(out, ", color=gray50, fontcolor=gray30");
        sb_puts(out, "];\n");
    }
    for (uint32_t k = 0; k < tp->count; k++) {
        const GraphNode *n = tp->nodes[k].n;
        for (int i = 0; i < n->n_in; i++) sb_printf(out, "  n%u -> n%u;\n", n->in[i], n->id);
    }
    sb_puts(out, "}\n");
    sb_free(&text);
}

void trace_dot(Runtime *rt, const Plan *plan, uint32_t root, bool grads)
{
    TracePass tp;
    Span at = rt->graph.nodes[root].span;
    trace_pass_build(rt, &tp, plan, root, NULL, at, at, NULL);
    trace_dot_pass(rt, &tp, grads);
    trace_pass_free(&tp);
}

/* ---- a traced pass and its update ------------------------------------------------------------- */

void trace_pass(Runtime *rt, const Plan *plan, uint32_t root, const float *before, Span where,
                Span what, const TraceFocus *focus)
{
    /* the update after this pass looks at the same places; the focus may not outlive the
     * program it came from, so it is copied */
    int n = focus ? focus->count : 0;
    rt->step_focus = nn_realloc(rt->step_focus, (size_t)(n ? n : 1) * sizeof *rt->step_focus);
    if (n) memcpy(rt->step_focus, focus->places, (size_t)n * sizeof *rt->step_focus);
    rt->step_focus_count = n;
    if (rt->trace_format == TRACE_JSON) rt->trace_passes++;    /* JSON numbers the passes */
    TracePass tp;
    trace_pass_build(rt, &tp, plan, root, before, where, what, focus);
    switch (rt->trace_format) {
    case TRACE_TEXT: trace_text_pass(rt, &tp); break;
    case TRACE_DOT: trace_dot_pass(rt, &tp, true); break;
    case TRACE_JSON: trace_json_pass(rt, &tp); break;
    }
    trace_pass_free(&tp);
}

void trace_step_update(Runtime *rt, const OptimConfig *c, float lr, const float *before)
{
    if (rt->trace_format == TRACE_DOT) return;
    TraceUpdates tu;
    trace_updates_build(rt, &tu, c, lr, before);
    if (rt->trace_format == TRACE_TEXT) trace_text_update(rt, &tu);
    else trace_json_update(rt, &tu);
    trace_updates_free(&tu);
}
