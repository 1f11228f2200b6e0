/* trace_events.c — records a traced pass as events (trace.h): read off the graph after the
 * backward pass and worded from the op table; nothing here knows any script or any output
 * format. Labels: names where the script gave them, t1, t2, ... for the rest, the value for
 * a scalar literal. */
#include "ops_conv.h"
#include "trace.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_PATHS 8         /* more paths than this and only the total is shown */

typedef struct Builder {
    Runtime *rt;
    Graph *g;
    const Plan *plan;
    TracePass *tp;
    char **label;           /* tp->labels */
    bool zoom;              /* rendering one element of tensors: ... */
    size_t elem;            /* ... this one */
} Builder;

/* ---- numbers ------------------------------------------------------------------------------- */

void trace_put_num(StrBuf *sb, double v, bool paren_negative)
{
    char buf[32];
    fmt_num(v, buf);
    if (paren_negative && buf[0] == '-') sb_printf(sb, "(%s)", buf);
    else sb_puts(sb, buf);
}

static void put_inline(StrBuf *sb, const float *v, const Shape *s, int d, size_t *k)
{
    if (d == s->rank) {
        trace_put_num(sb, v[(*k)++], false);
        return;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < s->dim[d]; i++) {
        if (i) sb_puts(sb, ", ");
        put_inline(sb, v, s, d + 1, k);
    }
    sb_putc(sb, ']');
}

void trace_put_value(StrBuf *sb, const float *v, const Shape *s, size_t limit)
{
    size_t n = shape_size(s);
    if (n <= limit) {
        size_t k = 0;
        put_inline(sb, v, s, 0, &k);
        return;
    }
    TensorStats st = tensor_stats(v, n);
    sb_puts(sb, "mean ");
    trace_put_num(sb, st.mean, false);
    sb_puts(sb, ", min ");
    trace_put_num(sb, st.min, false);
    sb_puts(sb, ", max ");
    trace_put_num(sb, st.max, false);
    sb_puts(sb, ", norm ");
    trace_put_num(sb, st.norm, false);
}

void trace_put_places(StrBuf *sb, const TracePlace *places, int count)
{
    for (int i = 0; i < count; i++) {
        sb_puts(sb, i ? ", " : "");
        sb_puts(sb, places[i].group);
        const TracePlace *p = &places[i];
        if (p->numbers == 1) sb_printf(sb, "[%d]", p->unit);
        else if (p->numbers == 2) sb_printf(sb, "[%d, %d]", p->unit, p->pixel[1]);
        else if (p->numbers == 3)
            sb_printf(sb, "[%d, %d, %d]", p->unit, p->pixel[0], p->pixel[1]);
    }
}

static char *text_of(StrBuf *sb)
{
    char *s = nn_strndup(sb->data ? sb->data : "", sb->len);
    sb_free(sb);
    return s;
}

/* ---- labels and the op table's words --------------------------------------------------------- */

static bool is_inline_const(const GraphNode *n)
{
    return n->op == OP_CONST && !n->name && n->size == 1;
}

static void make_labels(Builder *b)
{
    int temp = 0;
    char buf[64];
    for (uint32_t k = 0; k < b->plan->count; k++) {
        uint32_t id = b->plan->ids[k];
        GraphNode *n = graph_node(b->g, id);
        if (n->op == OP_GRAD) {
            snprintf(buf, sizeof buf, "%s.grad", graph_node(b->g, n->in[0])->name);
        } else if (n->name) {
            snprintf(buf, sizeof buf, "%s", n->name);
        } else if (is_inline_const(n)) {
            fmt_num(n->value[0], buf);
        } else {
            snprintf(buf, sizeof buf, "t%d", ++temp);
        }
        b->label[id] = nn_strndup(buf, strlen(buf));
    }
}

/* The subscript of an index or slice node, as written: "[2]", "[:, i]", "[1:3]". The index
 * is input 1's label, or its number when values are shown. */
static void put_subscript(Builder *b, StrBuf *sb, const GraphNode *n, bool values)
{
    sb_putc(sb, '[');
    for (int i = 0; i < n->attrs.axis; i++) sb_puts(sb, ":, ");
    if (n->op == OP_SLICE) {
        sb_printf(sb, "%d:%d", n->attrs.start, n->attrs.stop);
    } else {
        const GraphNode *in = graph_node(b->g, n->in[1]);
        if (values) trace_put_num(sb, in->value[0], false);
        else sb_puts(sb, b->label[in->id]);
    }
    sb_putc(sb, ']');
}

static bool key_is(const char *key, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(key, word, len) == 0;
}

/* Batchnorm's batch mean (or variance, `var`) of each channel of x: "[0.5, 1.25]", the first
 * TRACE_CHANNELS of them and "..." after. */
#define TRACE_CHANNELS 8
static void put_channel_stats(StrBuf *sb, const GraphNode *x, bool var)
{
    size_t C = (size_t)x->shape.dim[1];
    sb_putc(sb, '[');
    for (size_t c = 0; c < C && c < TRACE_CHANNELS; c++) {
        double mean, variance;
        batchnorm_stats(x, c, &mean, &variance);
        if (c) sb_puts(sb, ", ");
        trace_put_num(sb, var ? variance : mean, false);
    }
    sb_puts(sb, C > TRACE_CHANNELS ? ", ...]" : "]");
}

/* An op-table template: {0} ... {4} inputs, {out} result, {a} slope, {p} probability, {lo}
 * {hi} clamp's bounds, {at} a subscript, {shape} the result's shape, {axis} the axis,
 * {classes} one_hot's classes, {mean} {var} batchnorm's statistics of its batch, {window}
 * conv2d's stride and padding (when not 1 and 0), {dims} its 1 (sequences) or 2 (images),
 * {pool} a pool's window, {g} gradient from above. With values = true, scalars (or,
 * zooming, one element) become their numbers. */
static void render(Builder *b, StrBuf *sb, const char *tmpl, const GraphNode *n, bool values)
{
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            sb_putc(sb, *p++);
            continue;
        }
        const char *close = strchr(p, '}');
        NN_ASSERT(close);
        size_t len = (size_t)(close - p - 1);
        const char *key = p + 1;
        /* a negative number needs parentheses, unless it already sits alone in some */
        bool bare = p > tmpl && p[-1] == '(' && (close[1] == ')' || close[1] == ',');
        /* clamp's bounds are arguments too: "clamp(x, -1, 1)" */
        bool arg = bare || (p - tmpl >= 2 && p[-2] == ',' && p[-1] == ' '
                            && (close[1] == ')' || close[1] == ','));
        if (len == 1 && key[0] >= '0' && key[0] <= '4') {
            NN_ASSERT(key[0] - '0' < n->n_in);
            const GraphNode *in = graph_node(b->g, n->in[key[0] - '0']);
            if (values && b->zoom) trace_put_num(sb, in->value[in->size == 1 ? 0 : b->elem], !bare);
            else if (values && in->size == 1) trace_put_num(sb, in->value[0], !bare);
            else sb_puts(sb, b->label[in->id]);
        } else if (key_is(key, len, "out")) {
            if (values && b->zoom) trace_put_num(sb, n->value[b->elem], !bare);
            else if (values && n->size == 1) trace_put_num(sb, n->value[0], !bare);
            else sb_puts(sb, b->label[n->id]);
        } else if (key_is(key, len, "a")) {
            trace_put_num(sb, n->attrs.alpha, !bare);
        } else if (key_is(key, len, "p")) {
            trace_put_num(sb, n->attrs.p, !bare);
        } else if (key_is(key, len, "lo")) {
            trace_put_num(sb, n->attrs.lo, !arg);
        } else if (key_is(key, len, "hi")) {
            trace_put_num(sb, n->attrs.hi, !arg);
        } else if (key_is(key, len, "at")) {
            put_subscript(b, sb, n, values);
        } else if (key_is(key, len, "shape")) {
            shape_format(&n->shape, sb);
        } else if (key_is(key, len, "axis")) {
            sb_printf(sb, "%d", n->attrs.axis);
        } else if (key_is(key, len, "classes")) {
            sb_printf(sb, "%d", n->attrs.classes);
        } else if (key_is(key, len, "dims")) {       /* conv2d's: 1 of sequences, 2 of images */
            sb_putc(sb, graph_node(b->g, n->in[0])->shape.rank == 3 ? '1' : '2');
        } else if (key_is(key, len, "window") && graph_node(b->g, n->in[0])->shape.rank == 3) {
            if (n->attrs.stride[1] != 1) sb_printf(sb, ", stride = %d", n->attrs.stride[1]);
            if (n->attrs.pad[1]) sb_printf(sb, ", padding = %d", n->attrs.pad[1]);
        } else if (key_is(key, len, "window")) {     /* conv2d's, when not the defaults */
            const OpAttrs *at = &n->attrs;
            if (at->stride[0] != 1 || at->stride[1] != 1)
                sb_printf(sb, at->stride[0] == at->stride[1] ? ", stride = %d" : ", stride = (%d, %d)",
                          at->stride[0], at->stride[1]);
            if (at->pad[0] || at->pad[1])
                sb_printf(sb, at->pad[0] == at->pad[1] ? ", padding = %d" : ", padding = (%d, %d)",
                          at->pad[0], at->pad[1]);
        } else if (key_is(key, len, "pool")) {       /* a pool's window (and stride) */
            sb_printf(sb, ", %d", n->attrs.kernel[0]);
            if (n->attrs.stride[0] != n->attrs.kernel[0])
                sb_printf(sb, ", stride = %d", n->attrs.stride[0]);
        } else if (key_is(key, len, "mean") || key_is(key, len, "var")) {
            put_channel_stats(sb, graph_node(b->g, n->in[0]), key[0] == 'v');
        } else if (key_is(key, len, "g")) {
            sb_printf(sb, "∂%s/∂%s", b->tp->root_label, b->label[n->id]);
        }
        p = close + 1;
    }
}

static char *rendered(Builder *b, const char *tmpl, const GraphNode *n, bool values)
{
    StrBuf sb;
    sb_init(&sb);
    render(b, &sb, tmpl, n, values);
    return text_of(&sb);
}

static bool has_placeholder(const char *tmpl)
{
    return strchr(tmpl, '{') != NULL;
}

static bool all_scalar(const Builder *b, const GraphNode *n)
{
    if (n->size != 1) return false;
    for (int i = 0; i < n->n_in; i++)
        if (graph_node(b->g, n->in[i])->size != 1) return false;
    return true;
}

static bool in_focus(const TracePlace *places, int count, const GraphNode *n)
{
    if (!count) return true;
    for (int i = 0; i < count; i++)
        if (n->group == places[i].group) return true;
    return false;
}

/* ---- forward and backward ------------------------------------------------------------------ */

static void build_nodes(Builder *b)
{
    TracePass *tp = b->tp;
    tp->count = b->plan->count;
    tp->nodes = nn_calloc(tp->count ? tp->count : 1, sizeof *tp->nodes);
    TraceNode **of = nn_calloc(b->g->count, sizeof *of);    /* by graph id */
    for (uint32_t k = 0; k < tp->count; k++) {
        GraphNode *n = graph_node(b->g, b->plan->ids[k]);
        const OpInfo *op = op_info(n->op);
        TraceNode *e = &tp->nodes[k];
        of[n->id] = e;
        e->n = n;
        e->label = b->label[n->id];
        e->inline_const = is_inline_const(n);
        e->shown = !tp->focus || n == tp->root
                   || in_focus(tp->focus->places, tp->focus->count, n);
        if (!(op->flags & OPF_LEAF) && op->text) {
            e->formula = rendered(b, op->text, n, false);
            if (all_scalar(b, n)) e->formula_values = rendered(b, op->text, n, true);
        }
        for (int i = 0; i < n->n_in && e->shown; i++) {
            TraceNode *in = of[n->in[i]];
            if (op_info(in->n->op)->flags & OPF_LEAF) in->feeds_shown = true;
        }
    }
    /* backward: from the root down, what each op passed to each input */
    int *uses = nn_calloc(b->g->count, sizeof *uses);   /* contributions received so far */
    for (uint32_t k = tp->count; k-- > 0;) {
        TraceNode *e = &tp->nodes[k];
        const GraphNode *n = e->n;
        const OpInfo *op = op_info(n->op);
        if (!n->requires_grad || (op->flags & OPF_LEAF) || !tp->root->requires_grad) continue;
        e->backward = true;
        e->uses = uses[n->id];
        for (int i = 0; i < n->n_in; i++) {
            const GraphNode *in = graph_node(b->g, n->in[i]);
            if (!in->requires_grad) continue;
            if (!e->shown) of[in->id]->from_hidden = true;
            TraceInput *ti = &e->in[e->n_in++];
            ti->n = in;
            ti->index = i;
            ti->label = b->label[in->id];
            ti->again = uses[in->id]++ > 0;
            ti->summed = in->op != OP_PARAM && uses[in->id] > 1;
            if (op->dtext[i]) ti->local = rendered(b, op->dtext[i], n, false);
            if (all_scalar(b, n) && op->deriv) {
                double a = graph_node(b->g, n->in[0])->value[0];
                double c = n->n_in > 1 ? graph_node(b->g, n->in[1])->value[0] : 0;
                ti->scalar = true;
                ti->local_value = (float)op->deriv(i, a, c, n->value[0], &n->attrs);
                ti->chain = (float)(n->grad[0] * (float)ti->local_value);
                if ((op->flags & OPF_ELEMENTWISE) && has_placeholder(op->dtext[i]))
                    ti->local_values = rendered(b, op->dtext[i], n, true);
            }
        }
    }
    nn_free(uses);
    nn_free(of);
}

/* ---- each param's gradient as a sum over paths of products of local derivatives ---------- */

typedef struct PathSearch {
    Builder *b;
    uint32_t target;
    double factors[64];
    int depth;
    int paths;
    bool overflow;
    StrBuf terms;
} PathSearch;

static void walk_paths(PathSearch *ps, uint32_t id)
{
    if (ps->overflow) return;
    if (id == ps->target) {
        if (++ps->paths > MAX_PATHS) {
            ps->overflow = true;
            return;
        }
        if (ps->paths > 1) sb_puts(&ps->terms, " + ");
        for (int k = 0; k < ps->depth; k++) {
            if (k) sb_puts(&ps->terms, " × ");
            trace_put_num(&ps->terms, ps->factors[k], true);
        }
        if (ps->depth == 0) sb_puts(&ps->terms, "1");
        return;
    }
    GraphNode *n = graph_node(ps->b->g, id);
    const OpInfo *op = op_info(n->op);
    if ((op->flags & OPF_LEAF) || !n->requires_grad) return;
    if (!all_scalar(ps->b, n) || !op->deriv || ps->depth == 64) {
        ps->overflow = true;
        return;
    }
    for (int i = 0; i < n->n_in; i++) {
        GraphNode *in = graph_node(ps->b->g, n->in[i]);
        if (!in->requires_grad) continue;
        double a = graph_node(ps->b->g, n->in[0])->value[0];
        double c = n->n_in > 1 ? graph_node(ps->b->g, n->in[1])->value[0] : 0;
        ps->factors[ps->depth++] = (float)op->deriv(i, a, c, n->value[0], &n->attrs);
        walk_paths(ps, in->id);
        ps->depth--;
    }
}

static void build_grads(Builder *b, const float *before)
{
    TracePass *tp = b->tp;
    if (!tp->root->requires_grad) return;
    int n = 0;
    for (uint32_t k = 0; k < tp->count; k++) n += tp->nodes[k].n->op == OP_PARAM;
    tp->grads = nn_calloc(n ? (size_t)n : 1, sizeof *tp->grads);
    size_t off = 0;     /* of each param in the snapshot, in graph order */
    for (uint32_t id = 0; id < b->g->count; id++) {
        GraphNode *p = graph_node(b->g, id);
        if (p->op != OP_PARAM) continue;
        size_t at = off;
        off += p->size;
        if (!b->label[id]) continue;    /* not in the plan */
        TraceGradient *g = &tp->grads[tp->n_grads++];
        g->p = p;
        g->label = p->name;
        g->shown = !tp->focus || in_focus(tp->focus->places, tp->focus->count, p);
        g->added = nn_alloc(p->size * sizeof *g->added);
        for (size_t j = 0; j < p->size; j++) {
            float was = before ? before[at + j] : 0;
            g->added[j] = p->grad[j] - was;
            if (was != 0) g->accumulated = true;
        }
        if (p->size == 1) {
            PathSearch ps = { .b = b, .target = id };
            sb_init(&ps.terms);
            walk_paths(&ps, tp->root->id);
            if (!ps.overflow && ps.paths > 0) g->paths = text_of(&ps.terms);
            else sb_free(&ps.terms);
        }
    }
}

/* ---- zoom: one unit of a layer, in scalars ---------------------------------------------------
 * Unit u of a dense layer computes, for each row r of the batch, z = Σ_i x[r,i] W[i,u] + b[u],
 * then its activations a = f(z): the one-neuron example once per row. A conv layer's output
 * pixel (u, i, j) is a unit too, whose inputs are the window of the image under filter u. The
 * tensors of the pass hold these numbers; here they are taken out one at a time. */

typedef struct Unit {
    GraphNode *z, *x, *W, *b;
    GraphNode *chain[ZOOM_CHAIN];
    int n_chain;
} Unit;

static bool chain_op(const GraphNode *n)
{
    const OpInfo *op = op_info(n->op);
    return n->n_in == 1 && (((op->flags & OPF_ELEMENTWISE) && op->deriv)
                            || (n->op == OP_DROPOUT && n->aux));
}

/* Whether node n is the z of a layer: x @ W + b, or conv2d(x, W, b). */
static bool is_z(Builder *b, const GraphNode *n)
{
    return n->op == OP_CONV2D
           || (n->op == OP_ADD && graph_node(b->g, n->in[0])->op == OP_MATMUL);
}

/* The first application in the plan of the layer: its z and the elementwise activations that
 * follow it. */
static bool find_unit(Builder *b, const char *group, Unit *un)
{
    memset(un, 0, sizeof *un);
    for (uint32_t k = 0; k < b->plan->count; k++) {
        GraphNode *n = graph_node(b->g, b->plan->ids[k]);
        if (n->group != group) continue;
        if (!un->z) {
            if (is_z(b, n)) un->z = n;
            continue;
        }
        GraphNode *top = un->n_chain ? un->chain[un->n_chain - 1] : un->z;
        if (n->in[0] == top->id && chain_op(n) && un->n_chain < ZOOM_CHAIN)
            un->chain[un->n_chain++] = n;
    }
    if (!un->z) return false;
    bool conv = un->z->op == OP_CONV2D;
    GraphNode *mm = conv ? un->z : graph_node(b->g, un->z->in[0]);
    un->x = graph_node(b->g, mm->in[0]);
    un->W = graph_node(b->g, mm->in[1]);
    un->b = graph_node(b->g, un->z->in[conv ? 2 : 1]);
    return true;
}

static size_t param_offset(Builder *b, const GraphNode *param)
{
    size_t off = 0;
    for (uint32_t id = 0; id < param->id; id++) {
        GraphNode *p = graph_node(b->g, id);
        if (p->op == OP_PARAM) off += p->size;
    }
    return off;
}

static void zoom_step(Builder *b, ZoomStep *s, const GraphNode *n, size_t e)
{
    const GraphNode *in = graph_node(b->g, n->in[0]);
    s->dropout = n->op == OP_DROPOUT;
    s->op = op_info(n->op)->name;
    s->in_value = in->value[e];
    s->value = n->value[e];
    if (s->dropout) {
        s->deriv = n->aux[e];
    } else {
        const OpInfo *op = op_info(n->op);
        s->deriv = (float)op->deriv(0, in->value[e], 0, n->value[e], &n->attrs);
        s->formula = rendered(b, op->text, n, false);
        s->formula_values = rendered(b, op->text, n, true);
        s->dtext = rendered(b, op->dtext[0], n, false);
        if (has_placeholder(op->dtext[0])) s->dtext_values = rendered(b, op->dtext[0], n, true);
    }
    if (n->grad) {
        s->grad = n->grad[e];
        s->chain = (float)(s->grad * (float)s->deriv);
    }
}

/* A dense unit's inputs: row 0 of x and column u of W. Returns z's element of row 0 and sets
 * the step between rows. */
static size_t dense_inputs(TraceZoom *zm, const Unit *un, size_t *row_step)
{
    size_t width = (size_t)un->W->shape.dim[1];
    zm->x_matrix = un->x->shape.rank == 2;
    zm->fan_in = un->W->shape.dim[0];
    zm->rows = zm->x_matrix ? un->x->shape.dim[0] : 1;
    zm->places = zm->rows;
    zm->x = nn_alloc((size_t)zm->fan_in * sizeof *zm->x);
    zm->w = nn_alloc((size_t)zm->fan_in * sizeof *zm->w);
    for (int i = 0; i < zm->fan_in; i++) {
        zm->x[i] = un->x->value[i];
        zm->w[i] = un->W->value[(size_t)i * width + (size_t)zm->u];
    }
    *row_step = width;
    return (size_t)zm->u;
}

/* A conv pixel's inputs: the window of example 0 under filter u (0 where it lies on the
 * padding) and the filter's weights. Returns z's element of example 0 and sets the step
 * between examples. */
static size_t conv_inputs(TraceZoom *zm, const Unit *un, const TracePlace *pl)
{
    Shape xv = conv_view(&un->x->shape), wv = conv_view(&un->W->shape);
    Shape zv = conv_view(&un->z->shape);
    const Shape *xs = &xv, *ws = &wv, *zs = &zv;    /* a sequence as images one pixel high */
    const OpAttrs *at = &un->z->attrs;
    zm->conv = true;
    zm->x_matrix = true;
    zm->in_ch = xs->dim[1], zm->in_h = xs->dim[2], zm->in_w = xs->dim[3];
    zm->kh = ws->dim[2], zm->kw = ws->dim[3];
    for (int d = 0; d < 2; d++) zm->stride[d] = at->stride[d], zm->pad[d] = at->pad[d];
    zm->fan_in = zm->in_ch * zm->kh * zm->kw;
    zm->rows = xs->dim[0];
    zm->places = (long)zm->rows * zs->dim[2] * zs->dim[3];
    zm->x = nn_alloc((size_t)zm->fan_in * sizeof *zm->x);
    zm->w = nn_alloc((size_t)zm->fan_in * sizeof *zm->w);
    for (int t = 0; t < zm->fan_in; t++) {
        int ci = t / (zm->kh * zm->kw), dy = t / zm->kw % zm->kh, dx = t % zm->kw;
        int y = pl->pixel[0] * zm->stride[0] - zm->pad[0] + dy;
        int x = pl->pixel[1] * zm->stride[1] - zm->pad[1] + dx;
        bool inside = y >= 0 && y < zm->in_h && x >= 0 && x < zm->in_w;
        zm->x[t] = inside ? un->x->value[((size_t)ci * zm->in_h + (size_t)y) * zm->in_w + x] : 0;
        zm->w[t] = un->W->value[(size_t)zm->u * (size_t)zm->fan_in + (size_t)t];
    }
    size_t pixels = (size_t)zs->dim[2] * (size_t)zs->dim[3];
    return (size_t)zm->u * pixels + (size_t)pl->pixel[0] * (size_t)zs->dim[3]
           + (size_t)pl->pixel[1];
}

/* ∂root/∂z summed over every place unit u's bias was added at (its element of b.grad), into
 * zm->sum, and the sum of their magnitudes. */
static void bias_sum(TraceZoom *zm, const GraphNode *z, size_t row_step)
{
    size_t pixels = zm->conv ? (size_t)(zm->places / zm->rows) : 1;
    size_t first = zm->conv ? (size_t)zm->u * pixels : (size_t)zm->u;
    for (int r = 0; r < zm->rows; r++)
        for (size_t p = 0; p < pixels; p++) {
            double g = z->grad[(size_t)r * row_step + first + p];
            zm->sum += g;
            zm->abs_sum += fabs(g);
        }
}

/* The activations after z, one number each, named a (a1, a2, ...) after z. */
static void zoom_chain(Builder *b, TraceZoom *zm, const Unit *un, size_t e)
{
    zm->n_chain = un->n_chain;
    for (int c = 0; c < un->n_chain; c++) {
        ZoomStep *s = &zm->chain[c];
        if (un->n_chain == 1) snprintf(s->name, sizeof s->name, "a");
        else snprintf(s->name, sizeof s->name, "a%d", c + 1);
        snprintf(s->in_name, sizeof s->in_name, "%s", c ? zm->chain[c - 1].name : "z");
    }
    zm->top_label = b->label[(un->n_chain ? un->chain[un->n_chain - 1] : un->z)->id];
    /* the ops' words name their inputs by label: here they are z and a (a1, a2, ...) */
    GraphNode *named[ZOOM_CHAIN + 1] = { un->z };
    char *saved[ZOOM_CHAIN + 1];
    for (int c = 0; c < un->n_chain; c++) named[c + 1] = un->chain[c];
    for (int c = 0; c <= un->n_chain; c++) {
        saved[c] = b->label[named[c]->id];
        b->label[named[c]->id] = c ? zm->chain[c - 1].name : (char *)"z";
    }
    b->zoom = true;
    b->elem = e;
    for (int c = 0; c < un->n_chain; c++) zoom_step(b, &zm->chain[c], un->chain[c], e);
    b->zoom = false;
    for (int c = 0; c <= un->n_chain; c++) b->label[named[c]->id] = saved[c];
}

static void build_zoom(Builder *b, TraceZoom *zm, const TracePlace *pl, const float *before)
{
    Unit un;
    zm->place = *pl;
    if (!find_unit(b, pl->group, &un)) return;      /* zm->x stays NULL: nothing to show */
    zm->seq = un.z->op == OP_CONV2D && un.x->shape.rank == 3;  /* conv1d */
    zm->x_label = b->label[un.x->id];
    zm->W_label = b->label[un.W->id];
    zm->b_label = b->label[un.b->id];
    zm->x_grad = un.x->requires_grad;
    zm->u = pl->unit;
    size_t row_step = un.z->size / (size_t)(un.z->shape.rank ? un.z->shape.dim[0] : 1);
    size_t e = un.z->op == OP_CONV2D ? conv_inputs(zm, &un, pl) : dense_inputs(zm, &un, &row_step);
    zm->b = un.b->value[zm->u];
    zm->z = un.z->value[e];
    zoom_chain(b, zm, &un, e);
    GraphNode *top = un.n_chain ? un.chain[un.n_chain - 1] : un.z;
    zm->backward = b->tp->root->requires_grad && un.z->requires_grad;
    if (!zm->backward) return;
    zm->top_grad = top->grad[e];
    zm->gz = un.z->grad[e];
    size_t rows = (size_t)zm->rows;
    zm->row_z = nn_alloc(rows * sizeof *zm->row_z);
    zm->row_top = nn_alloc(rows * sizeof *zm->row_top);
    zm->row_gz = nn_alloc(rows * sizeof *zm->row_gz);
    for (size_t r = 0; r < rows; r++) {
        size_t er = e + r * row_step;
        zm->row_z[r] = un.z->value[er];
        zm->row_top[r] = top->value[er];
        zm->row_gz[r] = un.z->grad[er];
    }
    bias_sum(zm, un.z, row_step);
    if (before && un.b->op == OP_PARAM) {
        zm->has_added = true;
        zm->added = un.b->grad[zm->u] - before[param_offset(b, un.b) + (size_t)zm->u];
    }
}

/* ---- the pass ---------------------------------------------------------------------------------- */

void trace_pass_build(Runtime *rt, TracePass *tp, const Plan *plan, uint32_t root,
                      const float *before, Span where, Span what, const TraceFocus *focus)
{
    memset(tp, 0, sizeof *tp);
    Builder b = { .rt = rt, .g = &rt->graph, .plan = plan, .tp = tp };
    tp->step = rt->trace_passes;
    tp->root = graph_node(b.g, root);
    tp->focus = focus && focus->count ? focus : NULL;
    tp->n_labels = b.g->count;
    tp->labels = b.label = nn_calloc(b.g->count, sizeof *tp->labels);
    make_labels(&b);
    tp->root_label = b.label[root];
    StrBuf sb;
    sb_init(&sb);
    rt->locate(rt->locate_ud, where, &sb);
    tp->where = text_of(&sb);
    tp->update = rt->trace_update;
    tp->updates = rt->trace_updates;
    tp->epoch = rt->trace_epoch;
    tp->epochs = rt->trace_epochs;
    const LoopInfo *loop = rt->prog ? program_loop_at(rt->prog, rt->pc) : NULL;
    if (loop) {
        tp->loop_value = rt->prog->counters[loop->slot];
        tp->iteration = tp->loop_value - loop->from + 1;
        tp->loop_var = loop->var;
    }
    if (!tp->root->name) {      /* an unnamed expression: what was written */
        sb_init(&sb);
        rt->source_text(rt->locate_ud, what, &sb);
        tp->root_source = text_of(&sb);
    }
    build_nodes(&b);
    build_grads(&b, before);
    if (!tp->focus) return;
    tp->zooms = nn_calloc((size_t)tp->focus->count, sizeof *tp->zooms);
    tp->unused = nn_calloc((size_t)tp->focus->count, sizeof *tp->unused);
    for (int i = 0; i < tp->focus->count; i++) {
        const TracePlace *pl = &tp->focus->places[i];
        bool used = false, again = false;
        for (uint32_t k = 0; k < tp->count && !used; k++) used = tp->nodes[k].n->group == pl->group;
        for (int j = 0; j < i; j++) again |= tp->focus->places[j].group == pl->group;
        if (!used && !again) tp->unused[tp->n_unused++] = pl->group;
        if (pl->unit >= 0 && used) build_zoom(&b, &tp->zooms[tp->n_zooms++], pl, before);
    }
}

void trace_pass_free(TracePass *tp)
{
    for (uint32_t k = 0; k < tp->count; k++) {
        TraceNode *e = &tp->nodes[k];
        nn_free(e->formula);
        nn_free(e->formula_values);
        for (int i = 0; i < e->n_in; i++) {
            nn_free((char *)e->in[i].local);
            nn_free(e->in[i].local_values);
        }
    }
    for (int i = 0; i < tp->n_grads; i++) {
        nn_free(tp->grads[i].added);
        nn_free(tp->grads[i].paths);
    }
    for (int i = 0; i < tp->n_zooms; i++) {
        TraceZoom *zm = &tp->zooms[i];
        for (int c = 0; c < zm->n_chain; c++) {
            nn_free(zm->chain[c].formula);
            nn_free(zm->chain[c].formula_values);
            nn_free(zm->chain[c].dtext);
            nn_free(zm->chain[c].dtext_values);
        }
        nn_free(zm->x);
        nn_free(zm->w);
        nn_free(zm->row_z);
        nn_free(zm->row_top);
        nn_free(zm->row_gz);
    }
    for (uint32_t i = 0; i < tp->n_labels; i++) nn_free(tp->labels[i]);
    nn_free(tp->labels);
    nn_free(tp->nodes);
    nn_free(tp->grads);
    nn_free(tp->zooms);
    nn_free(tp->unused);
    nn_free(tp->where);
    nn_free(tp->root_source);
    memset(tp, 0, sizeof *tp);
}

/* ---- the update ------------------------------------------------------------------------------ */

void trace_updates_build(Runtime *rt, TraceUpdates *tu, const OptimConfig *c, float lr,
                         const float *before)
{
    memset(tu, 0, sizeof *tu);
    tu->step = rt->trace_passes;
    tu->optimizer = optim_name(c->kind);
    tu->lr = lr;
    tu->plain_sgd = c->kind == OPTIM_SGD && c->momentum == 0 && c->weight_decay == 0;
    tu->config = *c;
    int n = 0;
    size_t total = 0;
    for (uint32_t id = 0; id < rt->graph.count; id++) {
        const GraphNode *p = graph_node(&rt->graph, id);
        if (p->op != OP_PARAM) continue;
        n++;
        total += p->size;
    }
    tu->items = nn_calloc(n ? (size_t)n : 1, sizeof *tu->items);
    const float *state = before + total;    /* rt_snapshot_update's state, after the values */
    size_t off = 0;
    for (uint32_t id = 0; id < rt->graph.count; id++) {
        GraphNode *p = graph_node(&rt->graph, id);
        if (p->op != OP_PARAM) continue;
        TraceUpdate *u = &tu->items[tu->count++];
        u->p = p;
        u->before = before + off;
        u->state = state + RT_SNAP_STATE * (size_t)(tu->count - 1);
        u->shown = in_focus(rt->step_focus, rt->step_focus_count, p);
        off += p->size;
    }
}

void trace_updates_free(TraceUpdates *tu)
{
    nn_free(tu->items);
    memset(tu, 0, sizeof *tu);
}
