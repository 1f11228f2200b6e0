/* trace_text.c — a traced pass written the way a teacher would on a blackboard, from its
 * events (trace.h): every forward value from the ones above it, then for each op its local
 * derivative and the chain-rule product, zooms into single units, each param's gradient as a
 * product along its paths, then the update. Scalars get formulas with numbers; tensors get
 * shapes, values (small) or summaries. */
#include "trace.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZOOM_TERMS 8        /* a unit's inputs written out term by term; more are summed up */
#define ZOOM_ROWS 8         /* rows of the batch listed one by one */
#define ZOOM_WINDOW_LINES 9 /* a conv pixel's window rows written out, channel by channel */

static size_t limit_of(const Runtime *rt)
{
    return rt->trace_full ? TRACE_FULL : TRACE_SMALL;
}

/* ---- aligned rows ---------------------------------------------------------------------------- */

/* One row of aligned columns; sep[c] (3 columns wide, " = " unless set) goes before column c. */
typedef struct Row {
    StrBuf cols[4];
    const char *sep[4];
} Row;

static bool later_column(const Row *row, int c)
{
    for (int j = c + 1; j < 4; j++)
        if (row->cols[j].len) return true;
    return false;
}

/* Prints rows with columns aligned; an empty column keeps its place when more follow. */
static void emit_rows(StrBuf *out, Row *rows, size_t n, const char *indent)
{
    size_t w[3] = { 0, 0, 0 };
    for (size_t r = 0; r < n; r++)
        for (int c = 0; c < 3; c++) {
            size_t cw = utf8_width(rows[r].cols[c].data ? rows[r].cols[c].data : "",
                                   rows[r].cols[c].len);
            if (later_column(&rows[r], c) && cw > w[c]) w[c] = cw;
        }
    size_t end[3];      /* display column where each column ends */
    end[0] = utf8_width(indent, strlen(indent)) + w[0];
    end[1] = end[0] + 3 + w[1];
    end[2] = end[1] + 3 + w[2];
    for (size_t r = 0; r < n; r++) {
        size_t start = out->len;
        sb_puts(out, indent);
        for (int c = 0; c < 4; c++) {
            const StrBuf *col = &rows[r].cols[c];
            if (col->len) {
                if (c) sb_puts(out, rows[r].sep[c] ? rows[r].sep[c] : " = ");
                sb_append(out, col->data, col->len);
            }
            if (c < 3 && later_column(&rows[r], c)) sb_pad_to(out, start, end[c]);
        }
        sb_putc(out, '\n');
    }
}

static Row *rows_new(size_t n)
{
    Row *rows = nn_calloc(n ? n : 1, sizeof *rows);
    for (size_t r = 0; r < n; r++)
        for (int c = 0; c < 4; c++) sb_init(&rows[r].cols[c]);
    return rows;
}

static void rows_free(Row *rows, size_t n)
{
    for (size_t r = 0; r < n; r++)
        for (int c = 0; c < 4; c++) sb_free(&rows[r].cols[c]);
    nn_free(rows);
}

/* ---- forward --------------------------------------------------------------------------------- */

/* What a running statistic (batchnorm's buffer) is in this pass: moved by a training pass's
 * batchnorm, which reads it as input 3 (the mean) or 4 (the variance), or a constant. */
static void put_statistic(const TracePass *tp, const GraphNode *buf, StrBuf *sb)
{
    for (uint32_t k = 0; k < tp->count; k++) {
        const GraphNode *n = tp->nodes[k].n;
        if (n->op != OP_BATCHNORM || (n->in[3] != buf->id && n->in[4] != buf->id)) continue;
        if (n->in[3] == buf->id) {
            sb_puts(sb, "  (running mean, as this pass left it: 0.9 × before + 0.1 × the "
                        "batch's mean μ)");
        } else {
            size_t m = n->size / (size_t)n->shape.dim[1];
            sb_printf(sb, "  (running variance, as this pass left it: 0.9 × before + 0.1 × the "
                      "batch's unbiased variance σ² × m/(m - 1), m = %zu values per channel)", m);
        }
        return;
    }
    sb_puts(sb, "  (running statistic: a constant here)");
}

static void write_forward(Runtime *rt, const TracePass *tp, StrBuf *out)
{
    sb_puts(out, "forward: each value computed from the ones above it\n");
    Row *rows = rows_new(tp->count);
    size_t nr = 0;
    for (uint32_t k = 0; k < tp->count; k++) {
        const TraceNode *e = &tp->nodes[k];
        const GraphNode *n = e->n;
        const OpInfo *op = op_info(n->op);
        if (e->inline_const || !(e->shown || e->feeds_shown)) continue;
        Row *r = &rows[nr++];
        sb_puts(&r->cols[0], e->label);
        if (op->flags & OPF_LEAF) {
            /* "w = 0.5 (param)", "r = [..] (randn [3])" */
            trace_put_value(&r->cols[1], n->value, &n->shape, limit_of(rt));
            if (n->op == OP_PARAM) sb_puts(&r->cols[1], "  (param)");
            else if (n->op == OP_BUFFER) put_statistic(tp, n, &r->cols[1]);
            else if (n->op != OP_CONST) {
                sb_printf(&r->cols[1], "  (%s ", op->name);
                shape_format(&n->shape, &r->cols[1]);
                sb_putc(&r->cols[1], ')');
            } else if (n->size > 1) {
                sb_puts(&r->cols[1], "  shape ");
                shape_format(&n->shape, &r->cols[1]);
            }
            continue;
        }
        if (e->formula && strcmp(e->formula, e->label) != 0)   /* not "w.grad = w.grad" */
            sb_puts(&r->cols[1], e->formula);
        if (e->formula_values && r->cols[1].len) {
            sb_puts(&r->cols[2], e->formula_values);
        } else if (n->shape.rank > 0) {
            /* "t1 = X @ W1   [4,8]  mean …": a shape, then the value or its summary */
            shape_format(&n->shape, &r->cols[2]);
            r->sep[2] = "   ";
            r->sep[3] = "   ";
        }
        trace_put_value(&r->cols[3], n->value, &n->shape, limit_of(rt));
        if (r->cols[2].len && (strcmp(r->cols[2].data, r->cols[3].data) == 0 ||
                               (r->cols[1].len && strcmp(r->cols[2].data, r->cols[1].data) == 0)))
            sb_clear(&r->cols[2]);      /* "t1 = -w = -3", not "= -3 = -3"; "2 × 3" once */
    }
    emit_rows(out, rows, nr, "  ");
    rows_free(rows, tp->count);
}

/* ---- backward ---------------------------------------------------------------------------------- */

/* What an input's gradient is to the layer the op belongs to, in the article's words: the
 * weight gradient, the bias gradient, what is passed down to the layer below, or the gradient
 * through the activation. NULL outside a model's dense layers. */
static const char *layer_role(const TraceNode *e, const TraceInput *in)
{
    const GraphNode *n = e->n, *x = in->n;
    if (!n->group) return NULL;
    if (x->op == OP_PARAM && x->group == n->group) {
        size_t len = x->name ? strlen(x->name) : 0;
        if (len > 2 && strcmp(x->name + len - 2, ".W") == 0) return "the weight gradient";
        if (len > 2 && strcmp(x->name + len - 2, ".b") == 0) return "the bias gradient";
        return NULL;
    }
    if (n->op == OP_MATMUL && x->group != n->group) return "passed down to the layer below";
    const OpInfo *op = op_info(n->op);
    bool activation = ((op->flags & OPF_ELEMENTWISE) && n->op != OP_ADD && n->op != OP_DROPOUT)
                      || op->sig == SIG_AXIS;     /* softmax, log_softmax */
    return activation ? "through the activation" : NULL;
}

static void write_input_scalar(const TracePass *tp, const TraceNode *e, const TraceInput *in,
                               StrBuf *out)
{
    const char *L = tp->root_label, *N = e->label, *I = in->label;
    const OpInfo *op = op_info(e->n->op);
    sb_printf(out, "      local  ∂%s/∂%s = ", N, I);
    if (!(op->flags & OPF_ELEMENTWISE)) {
        trace_put_num(out, in->local_value, false);     /* sum or mean of one number: 1 */
    } else {
        sb_puts(out, in->local);
        if (in->local_values) {
            /* "x = 2", not "x = 2 = 2" */
            StrBuf num;
            sb_init(&num);
            trace_put_num(&num, in->local_value, false);
            sb_printf(out, " = %s", in->local_values);
            if (strcmp(in->local_values, num.data) != 0) sb_printf(out, " = %s", num.data);
            sb_free(&num);
        }
    }
    if (e->n == tp->root && !in->again) {
        /* the chain starts here: the local derivative is already the gradient (one line, not a
         * second with the same symbol for "1 × it") */
        sb_printf(out, "   (%s is where the chain starts)\n", L);
        return;
    }
    sb_putc(out, '\n');
    sb_printf(out, "      chain  ∂%s/∂%s %s ∂%s/∂%s × ∂%s/∂%s = ", L, I, in->again ? "+=" : "=",
              L, N, N, I);
    trace_put_num(out, e->n->grad[0], false);
    sb_puts(out, " × ");
    trace_put_num(out, in->local_value, true);
    sb_puts(out, " = ");
    trace_put_num(out, in->chain, false);
    const char *role = layer_role(e, in);
    if (role) sb_printf(out, "   (%s)", role);
    sb_putc(out, '\n');
}

/* Words a beginner may not know get a one-line gloss the first time a trace uses them. */
enum { GLOSS_BROADCAST = 1, GLOSS_TRANSPOSE = 2 };

static void gloss(unsigned *done, StrBuf *out, unsigned which, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void gloss(unsigned *done, StrBuf *out, unsigned which, const char *fmt, ...)
{
    if (*done & which) return;
    *done |= which;
    va_list ap;
    va_start(ap, fmt);
    sb_puts(out, "\n        (");
    sb_vprintf(out, fmt, ap);
    sb_putc(out, ')');
    va_end(ap);
}

static void write_input_tensor(Runtime *rt, const TracePass *tp, const TraceNode *e,
                               const TraceInput *in, unsigned *glossed, StrBuf *out)
{
    const char *L = tp->root_label;
    const OpInfo *op = op_info(e->n->op);
    const char *role = layer_role(e, in);
    sb_printf(out, "      ∂%s/∂%s ", L, in->label);
    if (in->n->shape.rank > 0) {
        shape_format(&in->n->shape, out);
        sb_putc(out, ' ');
    }
    sb_printf(out, "%s ", in->again ? "+=" : "=");
    if (op->flags & OPF_ELEMENTWISE) {
        /* "× 1", "× (1 - h^2)", "× (1 if x > 0, else 0)": brackets only if needed */
        const char *d = op->dtext[in->index];
        bool bracket = (strchr(d, ' ') || d[0] == '-') && d[0] != '(';    /* × (-1), as scalars */
        sb_printf(out, "∂%s/∂%s × %s%s%s, elementwise", L, e->label, bracket ? "(" : "",
                  in->local, bracket ? ")" : "");
        if (!shape_eq(&in->n->shape, &e->n->shape)) sb_puts(out, ", summed over the broadcast dimensions");
        if (role) sb_printf(out, "   (%s)", role);
        if (!shape_eq(&in->n->shape, &e->n->shape))
            gloss(glossed, out, GLOSS_BROADCAST, "%s was repeated along them to fit the other "
                  "input, so each copy's gradient adds into it", in->label);
    } else if (in->local) {
        sb_puts(out, in->local);
        if (role) sb_printf(out, "   (%s)", role);
        if (strstr(in->local, "ᵀ"))
            gloss(glossed, out, GLOSS_TRANSPOSE, "ᵀ: transposed, rows turned into columns");
    }
    sb_putc(out, '\n');
    sb_puts(out, "        = ");
    trace_put_value(out, in->n->grad, &in->n->shape, limit_of(rt));
    if (in->summed) sb_puts(out, "   (all uses so far)");
    sb_putc(out, '\n');
}

/* " [2,3] = [[...]]": a node's shape (tensors) and gradient. */
static void put_grad(Runtime *rt, const GraphNode *n, StrBuf *out)
{
    if (n->shape.rank > 0) {
        sb_putc(out, ' ');
        shape_format(&n->shape, out);
    }
    sb_puts(out, " = ");
    trace_put_value(out, n->grad, &n->shape, limit_of(rt));
}

static void write_backward(Runtime *rt, const TracePass *tp, StrBuf *out)
{
    const char *L = tp->root_label;
    unsigned glossed = 0;
    sb_printf(out, "\nbackward: start from ∂%s/∂%s = 1; each op passes the gradient to its "
                   "inputs,\n  local derivative × gradient from above (the chain rule)\n", L, L);
    if (!tp->root->requires_grad) {
        bool params = false;    /* it uses params, through an op that passes no gradient */
        for (uint32_t k = 0; k < tp->count && !params; k++) params = tp->nodes[k].n->op == OP_PARAM;
        if (params)
            sb_printf(out, "  (no gradient flows back from %s: a comparison, detach or argmax "
                           "on its way to the params passes none)\n", L);
        else
            sb_printf(out, "  (%s depends on no param: there is nothing to differentiate)\n", L);
        return;
    }
    const char *layer = NULL;   /* the model layer whose ops are being written */
    for (uint32_t k = tp->count; k-- > 0;) {
        const TraceNode *e = &tp->nodes[k];
        if (!e->backward || !e->shown) continue;
        const GraphNode *n = e->n;
        if (n->group && n->group != layer) {
            /* a layer's part, headed as the article heads it: what arrives from above */
            sb_printf(out, "\n  layer %s: the gradient arriving from above is ∂%s/∂%s", n->group,
                      L, e->label);
            put_grad(rt, n, out);
            sb_puts(out, e->from_hidden ? "   (from the layers not shown)\n" : "\n");
        } else if (!n->group && layer) {
            /* back from a layer to ops of none: a residual block's sum, what follows it */
            sb_puts(out, "\n  between layers:\n");
            if (e->from_hidden) {
                sb_printf(out, "  ∂%s/∂%s", L, e->label);
                put_grad(rt, n, out);
                sb_puts(out, "   (from the layers not shown)\n");
            }
        } else if (e->from_hidden) {
            /* the layers not shown passed this gradient down */
            sb_printf(out, "  ∂%s/∂%s", L, e->label);
            put_grad(rt, n, out);
            sb_puts(out, "   (from the layers not shown)\n");
        }
        layer = n->group;
        sb_printf(out, "  %s = %s", e->label, e->formula ? e->formula : "");
        if (e->uses > 1) {
            sb_printf(out, "      (∂%s/∂%s = ", L, e->label);
            trace_put_value(out, n->grad, &n->shape, limit_of(rt));
            sb_printf(out, ", the sum over its %d uses)", e->uses);
        }
        sb_putc(out, '\n');
        for (int i = 0; i < e->n_in; i++) {
            if (e->in[i].scalar) write_input_scalar(tp, e, &e->in[i], out);
            else write_input_tensor(rt, tp, e, &e->in[i], &glossed, out);
        }
    }
}

/* ---- each param's gradient ------------------------------------------------------------------- */

static void write_gradients(Runtime *rt, const TracePass *tp, StrBuf *out)
{
    const char *L = tp->root_label;
    bool header = false;
    for (int i = 0; i < tp->n_grads; i++) {
        const TraceGradient *g = &tp->grads[i];
        const GraphNode *p = g->p;
        if (!g->shown) continue;
        if (!header) {
            sb_printf(out, "\ngradients: each param's gradient is the product of the local "
                           "derivatives along its path from %s,\n  or the sum of those products when "
                           "there are several paths (one per use, one per row of a batch)\n", L);
            header = true;
        }
        sb_printf(out, "  ∂%s/∂%s = ", L, g->label);
        if (p->size == 1) {
            StrBuf num;     /* "0.25", not "0.25 = 0.25" when the path is one factor */
            sb_init(&num);
            trace_put_num(&num, g->added[0], false);
            if (g->paths && strcmp(g->paths, num.data) != 0) sb_printf(out, "%s = ", g->paths);
            sb_append(out, num.data, num.len);
            sb_free(&num);
        } else {
            trace_put_value(out, p->grad, &p->shape, limit_of(rt));   /* with its shape */
            sb_puts(out, "  shape ");
            shape_format(&p->shape, out);
        }
        sb_putc(out, '\n');
        if (g->accumulated && p->size == 1) {
            sb_printf(out, "      %s.grad = ", g->label);
            trace_put_num(out, p->grad[0] - g->added[0], false);
            sb_puts(out, " + ");
            trace_put_num(out, g->added[0], true);
            sb_puts(out, " = ");
            trace_put_num(out, p->grad[0], false);
            sb_puts(out, "  (gradients add up until zero_grad)\n");
        } else if (g->accumulated) {
            sb_printf(out, "      (%s.grad also holds earlier gradients: they add up until "
                           "zero_grad)\n", g->label);
        }
    }
}

/* ---- zoom into one unit ------------------------------------------------------------------------ */

/* x[r,i] (or x[i] for one input vector) */
static void put_x(StrBuf *sb, const TraceZoom *zm, int r, const char *i)
{
    sb_puts(sb, zm->x_label);
    if (zm->x_matrix) sb_printf(sb, "[%d,%s]", r, i);
    else sb_printf(sb, "[%s]", i);
}

/* Where a conv pixel's input t lies in the image: *y, *x; false on the padding. */
static bool window_pixel(const TraceZoom *zm, int t, int *y, int *x)
{
    *y = zm->place.pixel[0] * zm->stride[0] - zm->pad[0] + t / zm->kw % zm->kh;
    *x = zm->place.pixel[1] * zm->stride[1] - zm->pad[1] + t % zm->kw;
    return *y >= 0 && *y < zm->in_h && *x >= 0 && *x < zm->in_w;
}

static bool padded(const TraceZoom *zm, int t)
{
    int y, x;
    return !window_pixel(zm, t, &y, &x);
}

/* Input t of the unit: x[0,t], or the window's pixel x[0,ci,y,x] (conv; 0 on the padding). */
static void put_input(StrBuf *sb, const TraceZoom *zm, int t)
{
    char idx[48];
    int y, x;
    if (!zm->conv) {
        snprintf(idx, sizeof idx, "%d", t);
        put_x(sb, zm, 0, idx);
    } else if (!window_pixel(zm, t, &y, &x)) {
        sb_puts(sb, "0 (padding)");
    } else if (zm->seq) {
        sb_printf(sb, "%s[0,%d,%d]", zm->x_label, t / zm->kw, x);
    } else {
        sb_printf(sb, "%s[0,%d,%d,%d]", zm->x_label, t / (zm->kh * zm->kw), y, x);
    }
}

/* Where a conv layer's output is: "pixel (2, 3)", or "position 3" along a sequence. */
static void put_where(StrBuf *sb, const TraceZoom *zm)
{
    if (zm->seq) sb_printf(sb, "position %d", zm->place.pixel[1]);
    else sb_printf(sb, "pixel (%d, %d)", zm->place.pixel[0], zm->place.pixel[1]);
}

/* The weight input t meets: W[t,u], or W[u,ci,dy,dx] (conv). */
static void put_w(StrBuf *sb, const TraceZoom *zm, int t)
{
    if (!zm->conv) sb_printf(sb, "W[%d,%d]", t, zm->u);
    else if (zm->seq) sb_printf(sb, "W[%d,%d,%d]", zm->u, t / zm->kw, t % zm->kw);
    else sb_printf(sb, "W[%d,%d,%d,%d]", zm->u, t / (zm->kh * zm->kw), t / zm->kw % zm->kh,
                   t % zm->kw);
}

/* A conv pixel's z: its window's products, a line per channel and window row (y), then b. Past
 * ZOOM_WINDOW_LINES lines, the other channels' products are one sum. */
static void conv_forward(const TraceZoom *zm, StrBuf *out)
{
    int u = zm->u, y0 = zm->place.pixel[0] * zm->stride[0] - zm->pad[0];
    int x0 = zm->place.pixel[1] * zm->stride[1] - zm->pad[1];
    if (zm->seq)
        sb_printf(out, "  forward: the window of %d at positions %d to %d of ", zm->kw, x0,
                  x0 + zm->kw - 1);
    else
        sb_printf(out, "  forward: the %dx%d window at rows %d to %d, columns %d to %d of ",
                  zm->kh, zm->kw, y0, y0 + zm->kh - 1, x0, x0 + zm->kw - 1);
    if (zm->in_ch == 1) sb_printf(out, "%s[0]", zm->x_label);
    else sb_printf(out, "each of the %d channels of %s[0]", zm->in_ch, zm->x_label);
    sb_printf(out, " (stride %d", zm->stride[1]);
    if (zm->pad[0] || zm->pad[1])
        sb_printf(out, ", padding %d: 0 outside the %s", zm->pad[1], zm->seq ? "sequence" : "image");
    sb_puts(out, ")\n");
    if (zm->seq)
        sb_printf(out, "    z = Σ over ci, dx of %s[0,ci,%d+dx] × W[%d,ci,dx], + b[%d]\n",
                  zm->x_label, x0, u, u);
    else
        sb_printf(out, "    z = Σ over ci, dy, dx of %s[0,ci,%d+dy,%d+dx] × W[%d,ci,dy,dx], + "
                  "b[%d]\n", zm->x_label, y0, x0, u, u);
    int per = zm->kh * zm->kw, shown = zm->in_ch;
    while (shown > 1 && shown * zm->kh > ZOOM_WINDOW_LINES) shown--;
    for (int line = 0; line < shown * zm->kh; line++) {
        sb_puts(out, line ? "      + " : "      = ");
        for (int dx = 0; dx < zm->kw; dx++) {
            int t = line * zm->kw + dx;
            if (dx) sb_puts(out, " + ");
            trace_put_num(out, zm->x[t], true);
            sb_puts(out, " × ");
            trace_put_num(out, zm->w[t], true);
        }
        if (zm->seq) sb_printf(out, "   (channel %d)\n", line);
        else sb_printf(out, "   (channel %d, y = %d)\n", line / zm->kh, y0 + line % zm->kh);
    }
    if (shown < zm->in_ch) {
        double rest = 0;
        for (int t = shown * per; t < zm->fan_in; t++) rest += (double)zm->x[t] * zm->w[t];
        sb_puts(out, "      + ");
        trace_put_num(out, rest, true);
        if (shown == zm->in_ch - 1) sb_printf(out, "   (channel %d, summed)\n", shown);
        else sb_printf(out, "   (channels %d to %d, summed)\n", shown, zm->in_ch - 1);
    }
    sb_puts(out, "      + ");
    trace_put_num(out, zm->b, true);
    sb_puts(out, " = ");
    trace_put_num(out, zm->z, false);
    sb_putc(out, '\n');
}

static void zoom_activations(const TraceZoom *zm, StrBuf *out);

static void zoom_forward(const TraceZoom *zm, StrBuf *out)
{
    int u = zm->u;
    char idx[16];
    if (zm->conv) {
        conv_forward(zm, out);
        zoom_activations(zm, out);
        return;
    }
    sb_puts(out, "  forward\n    z = ");
    if (zm->fan_in <= ZOOM_TERMS) {
        for (int i = 0; i < zm->fan_in; i++) {
            snprintf(idx, sizeof idx, "%d", i);
            put_x(out, zm, 0, idx);
            sb_printf(out, " × W[%d,%d] + ", i, u);
        }
        sb_printf(out, "b[%d]\n      = ", u);
        for (int i = 0; i < zm->fan_in; i++) {
            trace_put_num(out, zm->x[i], true);
            sb_puts(out, " × ");
            trace_put_num(out, zm->w[i], true);
            sb_puts(out, " + ");
        }
        trace_put_num(out, zm->b, true);
    } else {
        double dot = 0;
        for (int i = 0; i < zm->fan_in; i++) dot += (double)zm->x[i] * zm->w[i];
        sb_puts(out, "Σ_i ");
        put_x(out, zm, 0, "i");
        sb_printf(out, " × W[i,%d] + b[%d]   (%d inputs)\n      = ", u, u, zm->fan_in);
        trace_put_num(out, dot, false);
        sb_puts(out, " + ");
        trace_put_num(out, zm->b, true);
    }
    sb_puts(out, " = ");
    trace_put_num(out, zm->z, false);
    sb_putc(out, '\n');
    zoom_activations(zm, out);
}

/* a = f(z), and each activation after it, with its numbers. */
static void zoom_activations(const TraceZoom *zm, StrBuf *out)
{
    for (int c = 0; c < zm->n_chain; c++) {
        const ZoomStep *s = &zm->chain[c];
        sb_printf(out, "    %s = ", s->name);
        if (s->dropout) {
            sb_printf(out, "%s × mask = ", s->in_name);
            trace_put_num(out, s->in_value, true);
            sb_puts(out, " × ");
            trace_put_num(out, s->deriv, true);
        } else {
            sb_printf(out, "%s = %s", s->formula, s->formula_values);
        }
        sb_puts(out, " = ");
        trace_put_num(out, s->value, false);
        sb_putc(out, '\n');
    }
}

/* "    ∂L/∂A += ∂L/∂z × B = gz × v = gz·v": one term of a unit's gradient, input t's (to_w:
 * to its weight, times the input; else to the input, times its weight). */
static void put_term_grad(const char *L, const TraceZoom *zm, int t, bool to_w, StrBuf *out)
{
    float v = to_w ? zm->x[t] : zm->w[t];
    sb_printf(out, "    ∂%s/∂", L);
    if (to_w) put_w(out, zm, t);
    else put_input(out, zm, t);
    sb_printf(out, " += ∂%s/∂z × ", L);
    if (to_w) put_input(out, zm, t);
    else put_w(out, zm, t);
    sb_puts(out, " = ");
    trace_put_num(out, zm->gz, false);
    sb_puts(out, " × ");
    trace_put_num(out, v, true);
    sb_puts(out, " = ");
    trace_put_num(out, (float)(zm->gz * v), false);
    sb_putc(out, '\n');
}

/* What a conv pixel passes down: each pixel of its window gets ∂root/∂z × the weight that met
 * it; the first three inside the image, one number at a time. */
static void conv_input_grads(const char *L, const TraceZoom *zm, StrBuf *out)
{
    for (int t = 0, listed = 0; t < zm->fan_in && listed < 3; t++)
        if (!padded(zm, t)) put_term_grad(L, zm, t, false, out), listed++;
    sb_printf(out, "    … and the same for every pixel of the window: passed down to the layer "
              "below (a pixel under several windows adds up a share from each)\n");
}

static void zoom_backward(const TracePass *tp, const TraceZoom *zm, StrBuf *out)
{
    const char *L = tp->root_label;
    int u = zm->u;
    const char *top = zm->n_chain ? zm->chain[zm->n_chain - 1].name : "z";
    sb_printf(out, "  backward\n    ∂%s/∂%s = ", L, top);
    trace_put_num(out, zm->top_grad, false);
    sb_puts(out, "   (from above: ");
    if (zm->conv) {
        sb_printf(out, "example 0, channel %d, ", u);
        put_where(out, zm);
    }
    else if (zm->rows > 1 || zm->x_matrix) sb_printf(out, "row 0, column %d", u);
    else sb_printf(out, "element %d", u);
    sb_printf(out, " of ∂%s/∂%s)\n", L, zm->top_label);
    for (int c = zm->n_chain - 1; c >= 0; c--) {
        const ZoomStep *s = &zm->chain[c];
        sb_printf(out, "    local  ∂%s/∂%s = ", s->name, s->in_name);
        if (s->dropout) {
            sb_puts(out, "mask = ");
        } else {
            StrBuf num;
            sb_init(&num);
            trace_put_num(&num, s->deriv, false);
            sb_printf(out, "%s = ", s->dtext);
            if (s->dtext_values && strcmp(s->dtext_values, num.data) != 0)
                sb_printf(out, "%s = ", s->dtext_values);
            sb_free(&num);
        }
        trace_put_num(out, s->deriv, false);
        sb_putc(out, '\n');
        sb_printf(out, "    chain  ∂%s/∂%s = ∂%s/∂%s × ∂%s/∂%s = ", L, s->in_name, L, s->name,
                  s->name, s->in_name);
        trace_put_num(out, s->grad, false);
        sb_puts(out, " × ");
        trace_put_num(out, s->deriv, true);
        sb_puts(out, " = ");
        trace_put_num(out, s->chain, false);
        sb_putc(out, '\n');
    }
    sb_printf(out, "    ∂%s/∂b[%d] += ∂%s/∂z × 1 = ", L, u, L);
    trace_put_num(out, zm->gz, false);
    sb_putc(out, '\n');
    /* a conv filter's weights all, for one channel of 3x3; else the first three (that meet
     * the image, not its padding) */
    int all = zm->conv ? zm->kh * zm->kw : ZOOM_TERMS;
    int terms = zm->fan_in <= all ? zm->fan_in : 3;
    for (int i = 0, listed = 0; i < zm->fan_in && listed < terms; i++) {
        if (terms < zm->fan_in && zm->conv && padded(zm, i)) continue;
        listed++;
        put_term_grad(L, zm, i, true, out);
    }
    if (terms < zm->fan_in && zm->conv)
        sb_printf(out, "    … and the same for the other %d weights of filter %d: each gets "
                  "∂%s/∂z × the pixel it met\n", zm->fan_in - terms, u, L);
    else if (terms < zm->fan_in)
        sb_printf(out, "    … and the same for W[%d,%d] to W[%d,%d]\n", terms, u, zm->fan_in - 1,
                  u);
    if (zm->x_grad && zm->conv) {
        conv_input_grads(L, zm, out);
    } else if (zm->x_grad) {
        sb_printf(out, "    ∂%s/∂", L);
        put_x(out, zm, 0, "i");
        sb_printf(out, " += ∂%s/∂z × W[i,%d] for each input i: passed down to the layer below\n",
                  L, u);
    }
}

/* The whole batch: each row adds its own share to b.grad[u] (and to column u of W.grad). */
static void zoom_rows(const TracePass *tp, const TraceZoom *zm, StrBuf *out)
{
    const char *L = tp->root_label;
    const char *top = zm->n_chain ? zm->chain[zm->n_chain - 1].name : NULL;
    if (zm->conv) {
        const char *what = zm->seq ? "positions" : "pixels";
        sb_printf(out, "  the batch and the %s: filter %d is used at each of the %ld output %s "
                  "of each of the %d examples, so b.grad[%d] adds up ∂%s/∂z over those %ld "
                  "places (and W.grad[%d] adds ∂%s/∂z × the window under each); at ", what,
                  zm->u, zm->places / zm->rows, what, zm->rows, zm->u, L, zm->places, zm->u, L);
        put_where(out, zm);
        sb_puts(out, " of each example:\n");
    } else
        sb_printf(out, "  the batch: b.grad[%d] adds up the %d rows' ∂%s/∂z (when the loss "
                  "averages over the rows, its 1/%d is inside each of them already, so the sum "
                  "is the average of the rows' own gradients)\n", zm->u, zm->rows, L, zm->rows);
    int listed = zm->rows <= ZOOM_ROWS ? zm->rows : ZOOM_ROWS - 1;
    Row *rows = rows_new((size_t)listed);
    for (int r = 0; r < listed; r++) {
        Row *row = &rows[r];
        for (int c = 1; c < 4; c++) row->sep[c] = "   ";
        sb_printf(&row->cols[0], "%s %d", zm->conv ? "example" : "row", r);
        sb_puts(&row->cols[1], "z ");
        trace_put_num(&row->cols[1], zm->row_z[r], false);
        StrBuf *last = &row->cols[top ? 3 : 2];
        if (top) {
            sb_printf(&row->cols[2], "%s ", top);
            trace_put_num(&row->cols[2], zm->row_top[r], false);
        }
        sb_printf(last, "∂%s/∂z ", L);
        trace_put_num(last, zm->row_gz[r], false);
    }
    emit_rows(out, rows, (size_t)listed, "    ");
    rows_free(rows, (size_t)listed);
    if (listed < zm->rows)
        sb_printf(out, "    … %d %s more\n", zm->rows - listed, zm->conv ? "examples" : "rows");
    if (zm->conv) sb_printf(out, "    ∂%s/∂b[%d] = the sum over the %ld places = ", L, zm->u,
                            zm->places);
    else sb_printf(out, "    ∂%s/∂b[%d] = the sum over the rows = ", L, zm->u);
    trace_put_num(out, (float)zm->sum, false);
    if (zm->has_added) {
        sb_printf(out, ", element %d of %s.grad", zm->u, zm->b_label);
        /* (the pass summed in float, in its own order: the same up to that rounding) */
        if (fabs(zm->added - zm->sum) > 1e-5 * zm->abs_sum) {
            sb_puts(out, " (which got ");
            trace_put_num(out, zm->added, false);
            sb_puts(out, ": the layer is used more than once here)");
        }
    }
    sb_putc(out, '\n');
}

static void write_zoom(const TracePass *tp, const TraceZoom *zm, StrBuf *out)
{
    if (!zm->x) return;
    if (zm->seq)
        sb_printf(out, "\nzoom into %s[%d, %d]: output channel %d, position %d, example 0 of the "
                  "batch", zm->place.group, zm->u, zm->place.pixel[1], zm->u, zm->place.pixel[1]);
    else if (zm->conv)
        sb_printf(out, "\nzoom into %s[%d, %d, %d]: output channel %d, pixel (%d, %d), example 0 "
                  "of the batch", zm->place.group, zm->u, zm->place.pixel[0], zm->place.pixel[1],
                  zm->u, zm->place.pixel[0], zm->place.pixel[1]);
    else
        sb_printf(out, "\nzoom into %s[%d]: unit %d, %s", zm->place.group, zm->u, zm->u,
                  zm->rows > 1 || zm->x_matrix ? "row 0 of the batch" : "the one input");
    sb_printf(out, ", one number at a time (W is %s, b is %s)\n", zm->W_label, zm->b_label);
    zoom_forward(zm, out);
    if (!zm->backward) return;
    zoom_backward(tp, zm, out);
    if (zm->rows > 1) zoom_rows(tp, zm, out);
}

/* ---- the pass and the update ---------------------------------------------------------------- */

/* The user's text (the expression as written, the file name) for a terminal: its line breaks
 * kept, controls and bytes that are not UTF-8 escaped (sb_put_visible). */
static void put_source(StrBuf *out, const char *s)
{
    for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        sb_put_visible(out, s, (size_t)(nl - s));
        sb_putc(out, '\n');
    }
    sb_put_visible(out, s, strlen(s));
}

void trace_text_pass(Runtime *rt, const TracePass *tp)
{
    StrBuf *out = &rt->out;
    sb_printf(out, "trace of %s", tp->root_label);
    if (tp->root_source) {
        sb_puts(out, " = ");
        put_source(out, tp->root_source);
    }
    sb_puts(out, " at ");
    put_source(out, tp->where);
    if (tp->update) {
        sb_printf(out, ", update %ld of %ld", tp->update, tp->updates);
        if (tp->updates > tp->epochs) sb_printf(out, " (epoch %d of %d)", tp->epoch, tp->epochs);
    }
    if (tp->iteration) {
        sb_printf(out, ", iteration %ld", tp->iteration);
        if (tp->loop_var) sb_printf(out, " (%s = %ld)", tp->loop_var, tp->loop_value);
    }
    if (tp->focus) {
        sb_puts(out, ", looking at ");
        trace_put_places(out, tp->focus->places, tp->focus->count);
    }
    sb_puts(out, "\n\n");
    for (int i = 0; i < tp->n_unused; i++)
        sb_printf(out, "(%s takes no part in computing %s)\n", tp->unused[i], tp->root_label);
    write_forward(rt, tp, out);
    write_backward(rt, tp, out);
    for (int i = 0; i < tp->n_zooms; i++) write_zoom(tp, &tp->zooms[i], out);
    write_gradients(rt, tp, out);
}

/* ---- an optimizer's step written out for one number ------------------------------------------ */

/* " = " then a number, as the trace writes them. */
static void eq(StrBuf *out, double v)
{
    sb_puts(out, " = ");
    trace_put_num(out, v, false);
}

/* A number inside a formula: negative ones in brackets. */
static void term(StrBuf *out, double v)
{
    trace_put_num(out, v, true);
}

/* "a × x + b × y" (y squared: "b × y²") with numbers; returns its value. The running averages of
 * momentum, Adam and RMSprop are all of this form. */
static double mix(StrBuf *out, double a, double x, double b, double y, bool squared)
{
    term(out, a);
    sb_puts(out, " × ");
    term(out, x);
    sb_puts(out, " + ");
    term(out, b);
    sb_puts(out, " × ");
    term(out, y);
    if (squared) sb_puts(out, "²");
    double v = a * x + b * (squared ? y * y : y);
    eq(out, v);
    return v;
}

/* "x / (r + eps)" with numbers: a gradient scaled by a root of its running square; returns its
 * value. */
static double scaled(StrBuf *out, double x, double r, double eps)
{
    term(out, x);
    sb_puts(out, " / (");
    term(out, r);
    sb_puts(out, " + ");
    term(out, eps);
    sb_putc(out, ')');
    eq(out, x / (r + eps));
    return x / (r + eps);
}

/* The number explained: the param itself, or its first element ("W1[0,0]"). */
static void element_name(const GraphNode *p, char *name, size_t cap)
{
    int n = snprintf(name, cap, "%s", p->name);
    if (p->size == 1) return;
    for (int d = 0; d < p->shape.rank && n > 0 && (size_t)n < cap; d++)
        n += snprintf(name + n, cap - (size_t)n, "%s0", d ? "," : "[");
    if (n > 0 && (size_t)n < cap) snprintf(name + n, cap - (size_t)n, "]");
}

/* 1 - x for a setting x, as the update forms it (optim_decimal: 0.001 for beta2 = 0.999). */
static double one_minus(float x)
{
    return (float)(1.0 - optim_decimal(x));
}

/* SGD with momentum (velocity `buf`) or weight decay only; *name: what the param moves by. */
static double explain_sgd(StrBuf *out, const OptimConfig *c, const float *state, long t,
                          double g, const char **name)
{
    double mu = c->momentum, buf = state[0];
    *name = "g";
    if (c->momentum == 0) return g;     /* weight decay only: no velocity */
    *name = "buf";
    if (t == 1) {
        sb_puts(out, "    buf = g");
        buf = g;
        eq(out, buf);
        sb_puts(out, "   (the velocity; update 1 starts it at the gradient)\n");
    } else {
        sb_puts(out, "    buf = momentum × buf + (1 - dampening) × g = ");
        buf = mix(out, mu, buf, one_minus(c->dampening), g, false);
        sb_puts(out, "   (the velocity: past gradients, fading)\n");
    }
    if (!c->nesterov) return buf;
    *name = "step";
    sb_puts(out, "    step = g + momentum × buf = ");
    term(out, g);
    sb_puts(out, " + ");
    term(out, mu);
    sb_puts(out, " × ");
    term(out, buf);
    eq(out, g + mu * buf);
    sb_puts(out, "   (nesterov: a look ahead)\n");
    return g + mu * buf;
}

/* "m̂ = m / (1 - beta1^t) = ..." with numbers (Adam's bias correction); returns its value. */
static double corrected(StrBuf *out, const char *what, const char *beta, double x, float b,
                        long t)
{
    double c = 1.0 - pow(optim_decimal(b), (double)t);
    sb_printf(out, "    %s / (1 - %s^%ld) = ", what, beta, t);
    term(out, x);
    sb_puts(out, " / ");
    term(out, c);
    eq(out, x / c);
    return x / c;
}

static double explain_adam(StrBuf *out, const OptimConfig *c, const float *state, long t,
                           double g, const char **name)
{
    double b1 = c->beta1, b2 = c->beta2, w1 = one_minus(c->beta1), w2 = one_minus(c->beta2);
    double m = state[0], v = state[1];
    sb_puts(out, "    m = beta1 × m + (1 - beta1) × g = ");
    m = mix(out, b1, m, w1, g, false);
    sb_puts(out, "   (a running mean of the gradient)\n    v = beta2 × v + (1 - beta2) × g² = ");
    v = mix(out, b2, v, w2, g, true);
    sb_puts(out, "   (a running mean of its square)\n");
    double mh = corrected(out, "m̂ = m", "beta1", m, c->beta1, t);
    sb_puts(out, "   (bias correction: m and v started at 0)\n");
    double vh = corrected(out, "v̂ = v", "beta2", v, c->beta2, t);
    sb_puts(out, "\n    step = m̂ / (√v̂ + eps) = ");
    double step = scaled(out, mh, sqrt(vh), c->eps);
    sb_puts(out, "   (near ±1 while the gradient keeps its sign and size; smaller when it varies "
                 "or flips)\n");
    *name = "step";
    return step;
}

static double explain_rmsprop(StrBuf *out, const OptimConfig *c, const float *state, double g,
                              const char **name)
{
    double keep = one_minus(c->alpha), v = state[0];
    sb_puts(out, "    v = alpha × v + (1 - alpha) × g² = ");
    v = mix(out, c->alpha, v, keep, g, true);
    sb_puts(out, "   (a running mean of the gradient's square)\n    step = g / (√v + eps) = ");
    double step = scaled(out, g, sqrt(v), c->eps);
    sb_putc(out, '\n');
    *name = "step";
    if (c->momentum == 0) return step;
    sb_puts(out, "    buf = momentum × buf + step = ");
    term(out, c->momentum);
    sb_puts(out, " × ");
    term(out, state[1]);
    sb_puts(out, " + ");
    term(out, step);
    eq(out, c->momentum * state[1] + step);
    sb_puts(out, "   (the velocity: past scaled gradients, fading)\n");
    *name = "buf";
    return c->momentum * state[1] + step;
}

/* Weight decay before the step: coupled (sgd, adam, rmsprop: the gradient gains wd × w) or
 * decoupled (adamw: w shrinks first). Updates *g or *w. */
static void explain_decay(StrBuf *out, const TraceUpdates *tu, const char *x, double *w, double *g)
{
    const OptimConfig *c = &tu->config;
    if (c->weight_decay == 0) return;
    if (c->kind != OPTIM_ADAMW) {
        sb_printf(out, "    g = g + weight_decay × %s = ", x);
        term(out, *g);
        sb_puts(out, " + ");
        term(out, c->weight_decay);
        sb_puts(out, " × ");
        term(out, *w);
        *g += c->weight_decay * *w;
        eq(out, *g);
        sb_puts(out, "   (L2: a pull towards 0)\n");
        return;
    }
    double shrink = (float)(1.0 - optim_decimal((float)tu->lr) * optim_decimal(c->weight_decay));
    sb_printf(out, "    %s = %s × (1 - lr × weight_decay) = ", x, x);
    term(out, *w);
    sb_puts(out, " × (1 - ");
    term(out, tu->lr);
    sb_puts(out, " × ");
    term(out, c->weight_decay);
    sb_puts(out, ") = ");
    term(out, *w);
    sb_puts(out, " × ");
    term(out, shrink);
    *w *= shrink;
    eq(out, *w);
    sb_puts(out, "   (decoupled decay: a shrink towards 0)\n");
}

/* One param's update, formula by formula with its numbers (its first element for a tensor):
 * the gradient, weight decay, the optimizer's state, the step, the new value. */
static void explain_update(const TraceUpdates *tu, const TraceUpdate *u, StrBuf *out)
{
    const OptimConfig *c = &tu->config;
    const GraphNode *p = u->p;
    char x[96];
    element_name(p, x, sizeof x);
    long t = (long)u->state[RT_SNAP_STATE - 1] + 1;
    double w = u->before[0], g = p->grad[0], step = g;
    const char *name = "g";
    sb_printf(out, "  %s, its update %ld:\n    g = %s.grad", x, t, p->name);
    if (p->size > 1) sb_puts(out, x + strlen(p->name));
    eq(out, g);
    sb_putc(out, '\n');
    explain_decay(out, tu, x, &w, &g);
    switch (c->kind) {
    case OPTIM_SGD: step = explain_sgd(out, c, u->state, t, g, &name); break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW: step = explain_adam(out, c, u->state, t, g, &name); break;
    case OPTIM_RMSPROP: step = explain_rmsprop(out, c, u->state, g, &name); break;
    }
    sb_printf(out, "    %s = %s - lr × %s = ", x, x, name);
    term(out, w);
    sb_puts(out, " - ");
    term(out, tu->lr);
    sb_puts(out, " × ");
    term(out, step);
    eq(out, p->value[0]);
    sb_putc(out, '\n');
}

/* A param the pass gave no gradient, which the update left where it was. */
static bool unmoved(const TraceUpdate *u)
{
    const GraphNode *p = u->p;
    for (size_t i = 0; i < p->size; i++)
        if (p->grad[i] != 0 || p->value[i] != u->before[i]) return false;
    return true;
}

void trace_text_update(Runtime *rt, const TraceUpdates *tu)
{
    StrBuf *out = &rt->out;
    sb_printf(out, "\nupdate: %s, lr = ", tu->optimizer);
    trace_put_num(out, tu->lr, false);
    if (tu->plain_sgd)
        sb_puts(out, ": each param takes a step against its gradient, param = param - lr × "
                     "param.grad\n");
    else if (tu->config.kind == OPTIM_SGD && tu->config.momentum != 0)
        sb_puts(out, ", with momentum: each param moves by its velocity\n");
    else if (tu->config.kind == OPTIM_SGD)
        sb_puts(out, ", with weight decay: each param takes a step against g = its gradient + "
                     "weight_decay × the param\n");
    else
        sb_puts(out, ": each param moves by its own adapted step\n");
    bool explained = tu->plain_sgd;     /* plain sgd's rows are the formula already */
    int still = 0;                      /* params with no gradient that did not move */
    for (int i = 0; i < tu->count; i++) {
        const TraceUpdate *u = &tu->items[i];
        const GraphNode *p = u->p;
        if (!u->shown) continue;
        if (unmoved(u)) {
            still++;
            continue;
        }
        if (!explained) {
            explain_update(tu, u, out);
            explained = true;
            if (p->size == 1) continue;
        }
        if (!tu->plain_sgd) {
            sb_printf(out, "  %s", p->name);
            if (p->size == 1) {
                sb_puts(out, ": ");
                trace_put_num(out, u->before[0], false);
                sb_puts(out, " -> ");
                trace_put_num(out, p->value[0], false);
            } else {
                sb_putc(out, ' ');
                shape_format(&p->shape, out);
                sb_puts(out, " = ");
                trace_put_value(out, p->value, &p->shape, limit_of(rt));
            }
        } else if (p->size == 1) {
            sb_printf(out, "  %s = ", p->name);
            trace_put_num(out, u->before[0], false);
            sb_puts(out, " - ");
            trace_put_num(out, tu->lr, false);
            sb_puts(out, " × ");
            trace_put_num(out, p->grad[0], true);
            sb_puts(out, " = ");
            trace_put_num(out, p->value[0], false);
        } else {
            sb_printf(out, "  %s ", p->name);
            shape_format(&p->shape, out);
            sb_printf(out, " = %s - ", p->name);
            trace_put_num(out, tu->lr, false);
            sb_printf(out, " × %s.grad = ", p->name);
            trace_put_value(out, p->value, &p->shape, limit_of(rt));
        }
        sb_putc(out, '\n');
    }
    if (still) {
        /* named, up to a few: a model defined later in the file has params too */
        sb_puts(out, "  (");
        int named = 0;
        for (int i = 0; i < tu->count && named < 4; i++)
            if (tu->items[i].shown && unmoved(&tu->items[i]))
                sb_printf(out, "%s%s", named++ ? ", " : "", tu->items[i].p->name);
        if (still > named) sb_printf(out, " and %d more", still - named);
        sb_printf(out, " got no gradient from this pass and did not move)\n");
    }
}
