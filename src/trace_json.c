/* trace_json.c — a traced pass as JSON Lines events for programs, from its events (trace.h);
 * the schema is docs/trace-json.md, and the HTML page is drawn from these lines. */
#include "trace.h"

#include <math.h>
#include <string.h>

#define JSON_FULL 64        /* tensors up to this many elements are written in full */

/* Every string of an event, through the one escaper (valid UTF-8 whatever the script's bytes:
 * names, file names and source text come from the user). */
static void json_string(StrBuf *sb, const char *s)
{
    sb_json_string(sb, s, strlen(s));
}

static void json_num(StrBuf *sb, double v)
{
    if (!isfinite(v)) sb_puts(sb, "null");
    else sb_printf(sb, "%.9g", v);
}

static void json_nested(StrBuf *sb, const float *v, const Shape *s, int d, size_t *k)
{
    if (d == s->rank) {
        json_num(sb, v[(*k)++]);
        return;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < s->dim[d]; i++) {
        if (i) sb_putc(sb, ',');
        json_nested(sb, v, s, d + 1, k);
    }
    sb_putc(sb, ']');
}

/* A value: the number, nested arrays for small tensors, else a summary object. */
static void json_value(StrBuf *sb, const float *v, const Shape *s)
{
    size_t n = shape_size(s);
    if (n <= JSON_FULL) {
        size_t k = 0;
        json_nested(sb, v, s, 0, &k);
        return;
    }
    TensorStats st = tensor_stats(v, n);
    sb_puts(sb, "{\"mean\":");
    json_num(sb, st.mean);
    sb_puts(sb, ",\"min\":");
    json_num(sb, st.min);
    sb_puts(sb, ",\"max\":");
    json_num(sb, st.max);
    sb_puts(sb, ",\"norm\":");
    json_num(sb, st.norm);
    sb_putc(sb, '}');
}

static void json_floats(StrBuf *sb, const float *v, int n)
{
    sb_putc(sb, '[');
    for (int i = 0; i < n; i++) {
        if (i) sb_putc(sb, ',');
        json_num(sb, v[i]);
    }
    sb_putc(sb, ']');
}

static void json_shape(StrBuf *sb, const Shape *s)
{
    sb_putc(sb, '[');
    for (int i = 0; i < s->rank; i++) sb_printf(sb, i ? ",%d" : "%d", s->dim[i]);
    sb_putc(sb, ']');
}

static void json_head(StrBuf *out, const char *event, long step, uint32_t node, const char *label)
{
    sb_printf(out, "{\"event\":\"%s\",\"step\":%ld,\"node\":%u,\"label\":", event, step, node);
    json_string(out, label);
}

static void json_location(Runtime *rt, StrBuf *out, Span span)
{
    StrBuf loc;
    sb_init(&loc);
    rt->locate(rt->locate_ud, span, &loc);
    sb_puts(out, ",\"at\":");
    json_string(out, loc.data ? loc.data : "");
    sb_free(&loc);
}

static void write_forward(Runtime *rt, const TracePass *tp, const TraceNode *e, StrBuf *out)
{
    const GraphNode *n = e->n;
    const OpInfo *op = op_info(n->op);
    json_head(out, "forward", tp->step, n->id, e->label);
    sb_puts(out, ",\"op\":");
    json_string(out, n->op == OP_PARAM ? "param" : op->name);
    sb_printf(out, ",\"kind\":\"%s\"", n->op == OP_PARAM ? "param"
              : (op->flags & OPF_LEAF) ? "constant" : "op");
    if (e->formula) {
        sb_puts(out, ",\"formula\":");
        json_string(out, e->formula);
    }
    sb_puts(out, ",\"inputs\":[");
    for (int i = 0; i < n->n_in; i++) sb_printf(out, i ? ",%u" : "%u", n->in[i]);
    sb_puts(out, "],\"shape\":");
    json_shape(out, &n->shape);
    if (n->group) {
        sb_puts(out, ",\"layer\":");
        json_string(out, n->group);
    }
    sb_puts(out, ",\"value\":");
    json_value(out, n->value, &n->shape);
    json_location(rt, out, n->span);
    sb_puts(out, "}\n");
}

static void write_backward(const TracePass *tp, const TraceNode *e, StrBuf *out)
{
    const GraphNode *n = e->n;
    json_head(out, "backward", tp->step, n->id, e->label);
    sb_puts(out, ",\"grad\":");
    json_value(out, n->grad, &n->shape);
    sb_puts(out, ",\"inputs\":[");
    for (int i = 0; i < e->n_in; i++) {
        const TraceInput *in = &e->in[i];
        sb_printf(out, "%s{\"node\":%u,\"label\":", i ? "," : "", in->n->id);
        json_string(out, in->label);
        if (in->local) {
            sb_puts(out, ",\"local\":");
            json_string(out, in->local);
        }
        if (in->scalar) {
            sb_puts(out, ",\"local_value\":");
            json_num(out, in->local_value);
            sb_puts(out, ",\"chain\":");
            json_num(out, in->chain);
        }
        sb_puts(out, ",\"grad\":");
        json_value(out, in->n->grad, &in->n->shape);
        sb_putc(out, '}');
    }
    sb_puts(out, "]}\n");
}

static void write_zoom(const TracePass *tp, const TraceZoom *zm, StrBuf *out)
{
    if (!zm->x) return;
    sb_printf(out, "{\"event\":\"zoom\",\"step\":%ld,\"layer\":", tp->step);
    json_string(out, zm->place.group);
    sb_printf(out, ",\"unit\":%d,\"rows\":%d,", zm->u, zm->rows);
    if (zm->conv)   /* an output pixel of a conv layer: x_row0 and w are its window, filter */
        sb_printf(out, "\"pixel\":[%d,%d],\"window\":[%d,%d,%d],\"places\":%ld,",
                  zm->place.pixel[0], zm->place.pixel[1], zm->in_ch, zm->kh, zm->kw, zm->places);
    sb_puts(out, "\"x\":");
    json_string(out, zm->x_label);
    sb_puts(out, ",\"x_row0\":");
    json_floats(out, zm->x, zm->fan_in);
    sb_puts(out, ",\"w\":");
    json_floats(out, zm->w, zm->fan_in);
    sb_puts(out, ",\"b\":");
    json_num(out, zm->b);
    sb_puts(out, ",\"z\":");
    json_num(out, zm->z);
    sb_puts(out, ",\"activations\":[");
    for (int c = 0; c < zm->n_chain; c++) {
        const ZoomStep *s = &zm->chain[c];
        sb_printf(out, "%s{\"name\":\"%s\",\"op\":", c ? "," : "", s->name);
        json_string(out, s->op);
        sb_puts(out, ",\"value\":");
        json_num(out, s->value);
        sb_puts(out, ",\"local_value\":");
        json_num(out, s->deriv);
        if (zm->backward) {
            sb_puts(out, ",\"grad\":");
            json_num(out, s->grad);
        }
        sb_putc(out, '}');
    }
    sb_putc(out, ']');
    if (zm->backward) {
        sb_puts(out, ",\"grad_z\":");
        json_num(out, zm->gz);
        sb_puts(out, ",\"rows_grad_z\":");
        json_floats(out, zm->row_gz, zm->rows);
        sb_puts(out, ",\"sum_grad_z\":");
        json_num(out, zm->sum);
    }
    sb_puts(out, "}\n");
}

void trace_json_pass(Runtime *rt, const TracePass *tp)
{
    StrBuf *out = &rt->out;
    sb_printf(out, "{\"event\":\"pass\",\"step\":%ld,\"root\":%u,\"label\":", tp->step,
              tp->root->id);
    json_string(out, tp->root_label);
    sb_puts(out, ",\"loss\":");
    json_num(out, tp->root->value[0]);
    sb_puts(out, ",\"at\":");
    json_string(out, tp->where);
    if (tp->update)
        sb_printf(out, ",\"train\":{\"update\":%ld,\"updates\":%ld,\"epoch\":%d,\"epochs\":%d}",
                  tp->update, tp->updates, tp->epoch, tp->epochs);
    if (tp->iteration) {
        sb_printf(out, ",\"loop\":{\"iteration\":%ld", tp->iteration);
        if (tp->loop_var) {
            sb_puts(out, ",\"var\":");
            json_string(out, tp->loop_var);
            sb_printf(out, ",\"value\":%ld", tp->loop_value);
        }
        sb_putc(out, '}');
    }
    if (tp->focus) {
        sb_puts(out, ",\"places\":[");
        for (int i = 0; i < tp->focus->count; i++) {
            StrBuf one;
            sb_init(&one);
            trace_put_places(&one, &tp->focus->places[i], 1);
            sb_puts(out, i ? "," : "");
            json_string(out, one.data);
            sb_free(&one);
        }
        sb_putc(out, ']');
    }
    sb_puts(out, "}\n");
    /* forward: every node of the plan, inputs before users */
    for (uint32_t k = 0; k < tp->count; k++) write_forward(rt, tp, &tp->nodes[k], out);
    /* backward: from the root down, each op's gradient and what it passes to each input */
    for (uint32_t k = tp->count; k-- > 0;)
        if (tp->nodes[k].backward) write_backward(tp, &tp->nodes[k], out);
    for (int i = 0; i < tp->n_zooms; i++) write_zoom(tp, &tp->zooms[i], out);
    /* each param's gradient: what this pass added, and the total it now holds */
    for (int i = 0; i < tp->n_grads; i++) {
        const TraceGradient *g = &tp->grads[i];
        json_head(out, "gradient", tp->step, g->p->id, g->label);
        sb_puts(out, ",\"grad\":");
        json_value(out, g->p->grad, &g->p->shape);
        sb_puts(out, ",\"added\":");
        json_value(out, g->added, &g->p->shape);
        sb_puts(out, "}\n");
    }
}

void trace_json_update(Runtime *rt, const TraceUpdates *tu)
{
    StrBuf *out = &rt->out;
    for (int i = 0; i < tu->count; i++) {
        const TraceUpdate *u = &tu->items[i];
        const GraphNode *p = u->p;
        json_head(out, "update", tu->step, p->id, p->name ? p->name : "param");
        sb_printf(out, ",\"optimizer\":\"%s\",\"plain\":%s,\"lr\":", tu->optimizer,
                  tu->plain_sgd ? "true" : "false");
        json_num(out, tu->lr);
        sb_puts(out, ",\"before\":");
        json_value(out, u->before, &p->shape);
        sb_puts(out, ",\"grad\":");
        json_value(out, p->grad, &p->shape);
        sb_puts(out, ",\"after\":");
        json_value(out, p->value, &p->shape);
        sb_puts(out, "}\n");
    }
}
