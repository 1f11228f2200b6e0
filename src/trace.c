/* trace.c — explains a backward pass the way a teacher would on a blackboard: every forward
 * value from the ones above it, then for each op its local derivative and the chain-rule
 * product, then each parameter's gradient as a product along its paths, then the update.
 * Everything is read off the graph and the op table's wording; nothing here knows any script.
 * Scalars get formulas with numbers; tensors get shapes, values (small) or summaries. */
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SMALL_TENSOR 8      /* tensors up to this many elements are shown in full */
#define FULL_TENSOR 4096    /* ... and with --trace-full, up to this many */
#define MAX_PATHS 8         /* more paths than this and only the total is shown */

typedef struct Trace {
    Runtime *rt;
    Graph *g;
    const Plan *plan;
    uint32_t root;
    char **label;           /* per node id (NULL if not in the plan) */
    bool *in_plan;
    StrBuf *out;
    const TraceFocus *focus;    /* the layers looked at; NULL or none: all */
    size_t elem;                /* zooming: values are read at this element (see render) */
    bool zoom;
} Trace;

/* Whether a node belongs to a layer the trace looks at (every node, with no places). */
static bool in_focus(const TracePlace *places, int count, const GraphNode *n)
{
    if (!count) return true;
    for (int i = 0; i < count; i++)
        if (n->group == places[i].group) return true;
    return false;
}

/* Shown in the trace: the loss always, else the nodes of the places looked at. */
static bool shown(const Trace *t, const GraphNode *n)
{
    if (!t->focus || n->id == t->root) return true;
    return in_focus(t->focus->places, t->focus->count, n);
}

/* ---- numbers and labels ------------------------------------------------------------------- */

static void put_num(StrBuf *sb, double v, bool paren_negative)
{
    char buf[32];
    fmt_num(v, buf);
    if (paren_negative && buf[0] == '-') sb_printf(sb, "(%s)", buf);
    else sb_puts(sb, buf);
}

static void put_inline(StrBuf *sb, const float *v, const Shape *s, int d, size_t *k)
{
    if (d == s->rank) {
        put_num(sb, v[(*k)++], false);
        return;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < s->dim[d]; i++) {
        if (i) sb_puts(sb, ", ");
        put_inline(sb, v, s, d + 1, k);
    }
    sb_putc(sb, ']');
}

/* How many elements a trace shows in full: a few, or with --trace-full up to FULL_TENSOR. */
static size_t limit_of(const Runtime *rt)
{
    return rt->trace_full ? FULL_TENSOR : SMALL_TENSOR;
}

/* A value in one line: the numbers if at most `limit`, else mean/min/max/norm. */
static void put_value(StrBuf *sb, const float *v, const Shape *s, size_t limit)
{
    size_t n = shape_size(s);
    if (n <= limit) {
        size_t k = 0;
        put_inline(sb, v, s, 0, &k);
        return;
    }
    TensorStats st = tensor_stats(v, n);
    sb_puts(sb, "mean ");
    put_num(sb, st.mean, false);
    sb_puts(sb, ", min ");
    put_num(sb, st.min, false);
    sb_puts(sb, ", max ");
    put_num(sb, st.max, false);
    sb_puts(sb, ", norm ");
    put_num(sb, st.norm, false);
}

static bool is_inline_const(const GraphNode *n)
{
    return n->op == OP_CONST && !n->name && n->size == 1;
}

static void make_labels(Trace *t)
{
    int temp = 0;
    char buf[64];
    for (uint32_t k = 0; k < t->plan->count; k++) {
        uint32_t id = t->plan->ids[k];
        GraphNode *n = graph_node(t->g, id);
        t->in_plan[id] = true;
        if (n->op == OP_GRAD) {
            snprintf(buf, sizeof buf, "%s.grad", graph_node(t->g, n->in[0])->name);
        } else if (n->name) {
            snprintf(buf, sizeof buf, "%s", n->name);
        } else if (is_inline_const(n)) {
            fmt_num(n->value[0], buf);
        } else {
            snprintf(buf, sizeof buf, "t%d", ++temp);
        }
        t->label[id] = nn_strndup(buf, strlen(buf));
    }
}

/* ---- templates from the op table ------------------------------------------------------------
 * {0} {1} inputs, {out} result, {a} slope, {g} gradient from above. With values = true the
 * inputs and result are replaced by their (scalar) values. */

static void render(Trace *t, StrBuf *sb, const char *tmpl, const GraphNode *n, bool values)
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
        if (len == 1 && (key[0] == '0' || key[0] == '1')) {
            const GraphNode *in = graph_node(t->g, n->in[key[0] - '0']);
            if (values && t->zoom) put_num(sb, in->value[in->size == 1 ? 0 : t->elem], !bare);
            else if (values && in->size == 1) put_num(sb, in->value[0], !bare);
            else sb_puts(sb, t->label[in->id]);
        } else if (len == 3 && strncmp(key, "out", 3) == 0) {
            if (values && t->zoom) put_num(sb, n->value[t->elem], !bare);
            else if (values && n->size == 1) put_num(sb, n->value[0], !bare);
            else sb_puts(sb, t->label[n->id]);
        } else if (len == 1 && key[0] == 'a') {
            put_num(sb, n->attrs.alpha, !bare);
        } else if (len == 1 && key[0] == 'p') {
            put_num(sb, n->attrs.p, !bare);
        } else if (len == 1 && key[0] == 'g') {
            sb_printf(sb, "∂%s/∂%s", t->label[t->root], t->label[n->id]);
        } else if (len == 1 && key[0] == 'v') {
            put_value(sb, n->value, &n->shape, limit_of(t->rt));
        }
        p = close + 1;
    }
}

static bool has_placeholder(const char *tmpl)
{
    return strchr(tmpl, '{') != NULL;
}

static bool all_scalar(const Trace *t, const GraphNode *n)
{
    if (n->size != 1) return false;
    for (int i = 0; i < n->n_in; i++)
        if (graph_node(t->g, n->in[i])->size != 1) return false;
    return true;
}

/* ---- forward --------------------------------------------------------------------------------- */

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

static void trace_forward(Trace *t)
{
    StrBuf *out = t->out;
    sb_puts(out, "forward: each value computed from the ones above it\n");
    Row *rows = nn_calloc(t->plan->count, sizeof *rows);
    size_t nr = 0;
    /* looking at some layers: the data they read is shown too */
    bool *feeds = nn_calloc(t->g->count, sizeof *feeds);
    for (uint32_t k = 0; k < t->plan->count; k++) {
        GraphNode *n = graph_node(t->g, t->plan->ids[k]);
        for (int i = 0; i < n->n_in && shown(t, n); i++)
            if (op_info(graph_node(t->g, n->in[i])->op)->flags & OPF_LEAF) feeds[n->in[i]] = true;
    }
    for (uint32_t k = 0; k < t->plan->count; k++) {
        GraphNode *n = graph_node(t->g, t->plan->ids[k]);
        const OpInfo *op = op_info(n->op);
        if (is_inline_const(n) || !(shown(t, n) || feeds[n->id])) continue;
        Row *r = &rows[nr++];
        for (int c = 0; c < 4; c++) sb_init(&r->cols[c]);
        sb_puts(&r->cols[0], t->label[n->id]);
        if (op->flags & OPF_LEAF) {
            /* "w = 0.5 (param)", "r = [..] (randn [3])" */
            put_value(&r->cols[1], n->value, &n->shape, limit_of(t->rt));
            if (n->op == OP_PARAM) sb_puts(&r->cols[1], "  (param)");
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
        render(t, &r->cols[1], op->text, n, false);
        if (strcmp(r->cols[1].data, r->cols[0].data) == 0) sb_clear(&r->cols[1]); /* w.grad */
        if (all_scalar(t, n) && r->cols[1].len) {
            render(t, &r->cols[2], op->text, n, true);
        } else if (n->shape.rank > 0) {
            /* "t1 = X @ W1   [4,8]  mean …": a shape, then the value or its summary */
            shape_format(&n->shape, &r->cols[2]);
            r->sep[2] = "   ";
            r->sep[3] = "   ";
        }
        put_value(&r->cols[3], n->value, &n->shape, limit_of(t->rt));
        if (r->cols[2].len && (strcmp(r->cols[2].data, r->cols[3].data) == 0 ||
                               strcmp(r->cols[2].data, r->cols[1].data) == 0))
            sb_clear(&r->cols[2]);      /* "t1 = -w = -3", not "= -3 = -3"; "2 × 3" once */
    }
    emit_rows(out, rows, nr, "  ");
    for (size_t r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++) sb_free(&rows[r].cols[c]);
    nn_free(rows);
    nn_free(feeds);
}

/* ---- backward ---------------------------------------------------------------------------------- */

static void trace_backward_ops(Trace *t)
{
    StrBuf *out = t->out;
    const char *L = t->label[t->root];
    GraphNode *root = graph_node(t->g, t->root);
    sb_printf(out, "\nbackward: start from ∂%s/∂%s = 1; each op passes the gradient to its "
                   "inputs,\n  local derivative × gradient from above (the chain rule)\n", L, L);
    if (!root->requires_grad) {
        sb_printf(out, "  (%s depends on no param: there is nothing to differentiate)\n", L);
        return;
    }
    int *uses = nn_calloc(t->g->count, sizeof *uses);   /* contributions received so far */
    bool *from_hidden = nn_calloc(t->g->count, sizeof *from_hidden);
    for (uint32_t k = t->plan->count; k-- > 0;) {
        GraphNode *n = graph_node(t->g, t->plan->ids[k]);
        const OpInfo *op = op_info(n->op);
        if (!n->requires_grad || (op->flags & OPF_LEAF)) continue;
        const char *N = t->label[n->id];
        if (!shown(t, n)) {
            for (int i = 0; i < n->n_in; i++) {
                if (!graph_node(t->g, n->in[i])->requires_grad) continue;
                uses[n->in[i]]++;
                from_hidden[n->in[i]] = true;
            }
            continue;
        }
        if (from_hidden[n->id]) {
            /* the layers not shown passed this gradient down */
            sb_printf(out, "  ∂%s/∂%s", L, N);
            if (n->shape.rank > 0) {
                sb_putc(out, ' ');
                shape_format(&n->shape, out);
            }
            sb_puts(out, " = ");
            put_value(out, n->grad, &n->shape, limit_of(t->rt));
            sb_puts(out, "   (from the layers not shown)\n");
        }
        sb_printf(out, "  %s = ", N);
        render(t, out, op->text, n, false);
        if (uses[n->id] > 1) {
            sb_printf(out, "      (∂%s/∂%s = ", L, N);
            put_value(out, n->grad, &n->shape, limit_of(t->rt));
            sb_printf(out, ", the sum over its %d uses)", uses[n->id]);
        }
        sb_putc(out, '\n');
        for (int i = 0; i < n->n_in; i++) {
            GraphNode *in = graph_node(t->g, n->in[i]);
            if (!in->requires_grad) continue;
            const char *I = t->label[in->id];
            const char *assign = uses[in->id]++ ? "+=" : "=";
            if (all_scalar(t, n) && op->deriv) {
                double a = graph_node(t->g, n->in[0])->value[0];
                double b = n->n_in > 1 ? graph_node(t->g, n->in[1])->value[0] : 0;
                double d = (float)op->deriv(i, a, b, n->value[0], &n->attrs);
                sb_printf(out, "      local  ∂%s/∂%s = ", N, I);
                if (!(op->flags & OPF_ELEMENTWISE)) {
                    put_num(out, d, false);     /* sum or mean of one number: 1 */
                } else {
                    render(t, out, op->dtext[i], n, false);
                }
                if ((op->flags & OPF_ELEMENTWISE) && has_placeholder(op->dtext[i])) {
                    /* "x = 2", not "x = 2 = 2" */
                    StrBuf vals, num;
                    sb_init(&vals);
                    sb_init(&num);
                    render(t, &vals, op->dtext[i], n, true);
                    put_num(&num, d, false);
                    sb_printf(out, " = %s", vals.data);
                    if (strcmp(vals.data, num.data) != 0) sb_printf(out, " = %s", num.data);
                    sb_free(&vals);
                    sb_free(&num);
                }
                sb_putc(out, '\n');
                sb_printf(out, "      chain  ∂%s/∂%s %s ∂%s/∂%s × ∂%s/∂%s = ", L, I, assign, L, N,
                          N, I);
                put_num(out, n->grad[0], false);
                sb_puts(out, " × ");
                put_num(out, d, true);
                sb_puts(out, " = ");
                put_num(out, (float)(n->grad[0] * (float)d), false);
                sb_putc(out, '\n');
            } else {
                sb_printf(out, "      ∂%s/∂%s ", L, I);
                if (in->shape.rank > 0) {
                    shape_format(&in->shape, out);
                    sb_putc(out, ' ');
                }
                sb_printf(out, "%s ", assign);
                if (op->flags & OPF_ELEMENTWISE) {
                    /* "× 1", "× (1 - h^2)", "× (1 if x > 0, else 0)": brackets only if needed */
                    const char *d = op->dtext[i];
                    bool bracket = strchr(d, ' ') && d[0] != '(';
                    sb_printf(out, "∂%s/∂%s × %s", L, N, bracket ? "(" : "");
                    render(t, out, d, n, false);
                    sb_printf(out, "%s, elementwise", bracket ? ")" : "");
                    if (!shape_eq(&in->shape, &n->shape))
                        sb_puts(out, ", summed over the broadcast dimensions");
                } else {
                    render(t, out, op->dtext[i], n, false);
                }
                sb_putc(out, '\n');
                sb_puts(out, "        = ");
                put_value(out, in->grad, &in->shape, limit_of(t->rt));
                if (in->op != OP_PARAM && uses[in->id] > 1) sb_puts(out, "   (all uses so far)");
                sb_putc(out, '\n');
            }
        }
    }
    nn_free(uses);
    nn_free(from_hidden);
}

/* ---- each param's gradient as a sum over paths of products of local derivatives ---------- */

typedef struct PathSearch {
    Trace *t;
    uint32_t target;
    double factors[64];
    int depth;
    int paths;
    bool overflow;
    StrBuf *terms;
} PathSearch;

static void walk_paths(PathSearch *ps, uint32_t id)
{
    if (ps->overflow) return;
    if (id == ps->target) {
        if (++ps->paths > MAX_PATHS) {
            ps->overflow = true;
            return;
        }
        if (ps->paths > 1) sb_puts(ps->terms, " + ");
        for (int k = 0; k < ps->depth; k++) {
            if (k) sb_puts(ps->terms, " × ");
            put_num(ps->terms, ps->factors[k], true);
        }
        if (ps->depth == 0) sb_puts(ps->terms, "1");
        return;
    }
    GraphNode *n = graph_node(ps->t->g, id);
    const OpInfo *op = op_info(n->op);
    if ((op->flags & OPF_LEAF) || !n->requires_grad) return;
    if (!all_scalar(ps->t, n) || !op->deriv || ps->depth == 64) {
        ps->overflow = true;
        return;
    }
    for (int i = 0; i < n->n_in; i++) {
        GraphNode *in = graph_node(ps->t->g, n->in[i]);
        if (!in->requires_grad) continue;
        double a = graph_node(ps->t->g, n->in[0])->value[0];
        double b = n->n_in > 1 ? graph_node(ps->t->g, n->in[1])->value[0] : 0;
        ps->factors[ps->depth++] = (float)op->deriv(i, a, b, n->value[0], &n->attrs);
        walk_paths(ps, in->id);
        ps->depth--;
    }
}

static void trace_param_grads(Trace *t, const float *before)
{
    StrBuf *out = t->out;
    const char *L = t->label[t->root];
    StrBuf terms;
    sb_init(&terms);
    bool header = false;
    size_t k = 0;   /* offset of each param in the snapshot, in graph order */
    for (uint32_t id = 0; id < t->g->count; id++) {
        GraphNode *p = graph_node(t->g, id);
        if (p->op != OP_PARAM) continue;
        size_t off = k;
        k += p->size;
        if (!t->in_plan[id] || !shown(t, p)) continue;
        if (!header) {
            sb_printf(out, "\ngradients: each param's ∂%s/∂p is the product of the local "
                           "derivatives along its path from %s\n", L, L);
            header = true;
        }
        bool accumulated = false;
        for (size_t j = 0; j < p->size; j++)
            if (before[off + j] != 0) accumulated = true;
        sb_printf(out, "  ∂%s/∂%s = ", L, p->name);
        if (p->size == 1) {
            PathSearch ps = { t, id, { 0 }, 0, 0, false, &terms };
            sb_clear(&terms);
            walk_paths(&ps, t->root);
            if (!ps.overflow && ps.paths > 0) {
                sb_append(out, terms.data, terms.len);
                sb_puts(out, " = ");
            }
            put_num(out, p->grad[0] - before[off], false);
        } else {
            put_value(out, p->grad, &p->shape, limit_of(t->rt));   /* shown with its shape below */
            sb_puts(out, "  shape ");
            shape_format(&p->shape, out);
        }
        sb_putc(out, '\n');
        if (accumulated && p->size == 1) {
            sb_printf(out, "      %s.grad = ", p->name);
            put_num(out, before[off], false);
            sb_puts(out, " + ");
            put_num(out, p->grad[0] - before[off], true);
            sb_puts(out, " = ");
            put_num(out, p->grad[0], false);
            sb_puts(out, "  (gradients add up until zero_grad)\n");
        } else if (accumulated) {
            sb_printf(out, "      (%s.grad also holds earlier gradients: they add up until "
                           "zero_grad)\n", p->name);
        }
    }
    sb_free(&terms);
}

/* ---- zoom: one unit of a dense layer, in scalars ----------------------------------------------
 * Unit u of a dense layer computes, for each row r of the batch, z = Σ_i x[r,i] W[i,u] + b[u],
 * then its activations a = f(z): the one-neuron example once per row. The tensors above hold
 * these numbers in column u; here they are taken out one at a time and multiplied by hand. */

#define ZOOM_CHAIN 4        /* activations after z followed */
#define ZOOM_TERMS 8        /* inputs written out term by term; more are summed up */
#define ZOOM_ROWS 8         /* rows of the batch listed one by one */

typedef struct Unit {
    GraphNode *z, *x, *W, *b;
    GraphNode *chain[ZOOM_CHAIN];   /* the activations after z, in order */
    int n_chain;
    int rows, fan_in, width, u;
} Unit;

static bool chain_op(const GraphNode *n)
{
    const OpInfo *op = op_info(n->op);
    return n->n_in == 1 && (op->flags & OPF_ELEMENTWISE) && op->deriv;
}

/* The first application in the plan of the layer named by pl: its z = x @ W + b and the
 * elementwise activations that follow it. */
static bool find_unit(Trace *t, const TracePlace *pl, Unit *un)
{
    memset(un, 0, sizeof *un);
    for (uint32_t k = 0; k < t->plan->count; k++) {
        GraphNode *n = graph_node(t->g, t->plan->ids[k]);
        if (n->group != pl->group) continue;
        if (!un->z) {
            if (n->op == OP_ADD && graph_node(t->g, n->in[0])->op == OP_MATMUL) un->z = n;
            continue;
        }
        GraphNode *top = un->n_chain ? un->chain[un->n_chain - 1] : un->z;
        bool next = n->n_in == 1 && n->in[0] == top->id
                    && (chain_op(n) || (n->op == OP_DROPOUT && n->aux));
        if (next && un->n_chain < ZOOM_CHAIN) un->chain[un->n_chain++] = n;
    }
    if (!un->z) return false;
    GraphNode *mm = graph_node(t->g, un->z->in[0]);
    un->x = graph_node(t->g, mm->in[0]);
    un->W = graph_node(t->g, mm->in[1]);
    un->b = graph_node(t->g, un->z->in[1]);
    un->fan_in = un->W->shape.dim[0];
    un->width = un->W->shape.dim[1];
    un->rows = un->x->shape.rank == 2 ? un->x->shape.dim[0] : 1;
    un->u = pl->unit;
    return true;
}

/* x[r,i] (or x[i] for one input vector) */
static void put_x(StrBuf *sb, const Trace *t, const Unit *un, int r, const char *i)
{
    sb_puts(sb, t->label[un->x->id]);
    if (un->x->shape.rank == 2) sb_printf(sb, "[%d,%s]", r, i);
    else sb_printf(sb, "[%s]", i);
}

static const char *chain_name(const Unit *un, int c, char *buf, size_t len)
{
    if (c < 0) return "z";
    if (un->n_chain == 1) return "a";
    snprintf(buf, len, "a%d", c + 1);
    return buf;
}

/* Local derivative of chain node c at element e. */
static double chain_deriv(Trace *t, const GraphNode *c, size_t e)
{
    if (c->op == OP_DROPOUT) return c->aux[e];
    const GraphNode *in = graph_node(t->g, c->in[0]);
    return (float)op_info(c->op)->deriv(0, in->value[e], 0, c->value[e], &c->attrs);
}

static size_t param_offset(Trace *t, const GraphNode *param)
{
    size_t off = 0;
    for (uint32_t id = 0; id < param->id; id++) {
        GraphNode *p = graph_node(t->g, id);
        if (p->op == OP_PARAM) off += p->size;
    }
    return off;
}

static void zoom_forward(Trace *t, const Unit *un, int r)
{
    StrBuf *out = t->out;
    size_t e = (size_t)r * (size_t)un->width + (size_t)un->u;
    const float *x = un->x->value + (size_t)r * (size_t)un->fan_in;
    const float *W = un->W->value;
    int u = un->u;
    char idx[16];
    sb_puts(out, "  forward\n    z = ");
    if (un->fan_in <= ZOOM_TERMS) {
        for (int i = 0; i < un->fan_in; i++) {
            snprintf(idx, sizeof idx, "%d", i);
            put_x(out, t, un, r, idx);
            sb_printf(out, " × W[%d,%d] + ", i, u);
        }
        sb_printf(out, "b[%d]\n      = ", u);
        for (int i = 0; i < un->fan_in; i++) {
            put_num(out, x[i], true);
            sb_puts(out, " × ");
            put_num(out, W[(size_t)i * (size_t)un->width + (size_t)u], true);
            sb_puts(out, " + ");
        }
        put_num(out, un->b->value[u], true);
    } else {
        double dot = 0;
        for (int i = 0; i < un->fan_in; i++)
            dot += (double)x[i] * W[(size_t)i * (size_t)un->width + (size_t)u];
        sb_printf(out, "Σ_i ");
        put_x(out, t, un, r, "i");
        sb_printf(out, " × W[i,%d] + b[%d]   (%d inputs)\n      = ", u, u, un->fan_in);
        put_num(out, dot, false);
        sb_puts(out, " + ");
        put_num(out, un->b->value[u], true);
    }
    sb_puts(out, " = ");
    put_num(out, un->z->value[e], false);
    sb_putc(out, '\n');
    char nb[16], ib[16];
    for (int c = 0; c < un->n_chain; c++) {
        const GraphNode *n = un->chain[c];
        const char *name = chain_name(un, c, nb, sizeof nb);
        const char *in_name = chain_name(un, c - 1, ib, sizeof ib);
        const GraphNode *in = graph_node(t->g, n->in[0]);
        sb_printf(out, "    %s = ", name);
        if (n->op == OP_DROPOUT) {
            sb_printf(out, "%s × mask = ", in_name);
            put_num(out, in->value[e], true);
            sb_puts(out, " × ");
            put_num(out, n->aux[e], true);
        } else {
            render(t, out, op_info(n->op)->text, n, false);
            sb_puts(out, " = ");
            render(t, out, op_info(n->op)->text, n, true);
        }
        sb_puts(out, " = ");
        put_num(out, n->value[e], false);
        sb_putc(out, '\n');
    }
}

static void zoom_backward(Trace *t, const Unit *un, int r, const char *top_label)
{
    StrBuf *out = t->out;
    const char *L = t->label[t->root];
    size_t e = (size_t)r * (size_t)un->width + (size_t)un->u;
    int u = un->u;
    char nb[16], ib[16], idx[16];
    const GraphNode *top = un->n_chain ? un->chain[un->n_chain - 1] : un->z;
    const char *top_name = chain_name(un, un->n_chain - 1, nb, sizeof nb);
    sb_printf(out, "  backward\n    ∂%s/∂%s = ", L, top_name);
    put_num(out, top->grad[e], false);
    sb_printf(out, "   (from above: ");
    if (un->rows > 1 || un->x->shape.rank == 2) sb_printf(out, "row %d, column %d", r, u);
    else sb_printf(out, "element %d", u);
    sb_printf(out, " of ∂%s/∂%s)\n", L, top_label);
    for (int c = un->n_chain - 1; c >= 0; c--) {
        const GraphNode *n = un->chain[c];
        const char *name = chain_name(un, c, nb, sizeof nb);
        const char *in_name = chain_name(un, c - 1, ib, sizeof ib);
        double d = chain_deriv(t, n, e);
        sb_printf(out, "    local  ∂%s/∂%s = ", name, in_name);
        if (n->op == OP_DROPOUT) {
            sb_puts(out, "mask = ");
        } else {
            const char *dt = op_info(n->op)->dtext[0];
            StrBuf vals, num;
            sb_init(&vals);
            sb_init(&num);
            render(t, out, dt, n, false);
            render(t, &vals, dt, n, true);
            put_num(&num, d, false);
            sb_puts(out, " = ");
            if (has_placeholder(dt) && strcmp(vals.data, num.data) != 0)
                sb_printf(out, "%s = ", vals.data);
            sb_free(&vals);
            sb_free(&num);
        }
        put_num(out, d, false);
        sb_putc(out, '\n');
        sb_printf(out, "    chain  ∂%s/∂%s = ∂%s/∂%s × ∂%s/∂%s = ", L, in_name, L, name, name,
                  in_name);
        put_num(out, n->grad[e], false);
        sb_puts(out, " × ");
        put_num(out, d, true);
        sb_puts(out, " = ");
        put_num(out, (float)(n->grad[e] * (float)d), false);
        sb_putc(out, '\n');
    }
    float gz = un->z->grad[e];
    sb_printf(out, "    ∂%s/∂b[%d] += ∂%s/∂z × 1 = ", L, u, L);
    put_num(out, gz, false);
    sb_putc(out, '\n');
    const float *x = un->x->value + (size_t)r * (size_t)un->fan_in;
    int shown_terms = un->fan_in <= ZOOM_TERMS ? un->fan_in : 3;
    for (int i = 0; i < shown_terms; i++) {
        snprintf(idx, sizeof idx, "%d", i);
        sb_printf(out, "    ∂%s/∂W[%d,%d] += ∂%s/∂z × ", L, i, u, L);
        put_x(out, t, un, r, idx);
        sb_puts(out, " = ");
        put_num(out, gz, false);
        sb_puts(out, " × ");
        put_num(out, x[i], true);
        sb_puts(out, " = ");
        put_num(out, (float)(gz * x[i]), false);
        sb_putc(out, '\n');
    }
    if (shown_terms < un->fan_in)
        sb_printf(out, "    … and the same for W[%d,%d] to W[%d,%d]\n", shown_terms, u,
                  un->fan_in - 1, u);
    if (un->x->requires_grad) {
        sb_printf(out, "    ∂%s/∂", L);
        put_x(out, t, un, r, "i");
        sb_printf(out, " += ∂%s/∂z × W[i,%d] for each input i: passed down to the layer below\n",
                  L, u);
    }
}

/* The whole batch: each row adds its own share to b.grad[u] (and to column u of W.grad). */
static void zoom_rows(Trace *t, const Unit *un, const float *before)
{
    StrBuf *out = t->out;
    const char *L = t->label[t->root];
    const GraphNode *top = un->n_chain ? un->chain[un->n_chain - 1] : un->z;
    char nb[16];
    const char *top_name = chain_name(un, un->n_chain - 1, nb, sizeof nb);
    sb_printf(out, "  the batch: each of its %d rows adds its own ∂%s/∂z to b.grad[%d]\n",
              un->rows, L, un->u);
    Row *rows = nn_calloc(ZOOM_ROWS + 2, sizeof *rows);
    size_t nr = 0;
    int listed = un->rows <= ZOOM_ROWS ? un->rows : ZOOM_ROWS - 1;
    double sum = 0;
    for (int r = 0; r < un->rows; r++) {
        size_t e = (size_t)r * (size_t)un->width + (size_t)un->u;
        sum += un->z->grad[e];
        if (r >= listed && r != 0) continue;
        Row *row = &rows[nr++];
        for (int c = 0; c < 4; c++) sb_init(&row->cols[c]);
        for (int c = 1; c < 4; c++) row->sep[c] = "   ";
        sb_printf(&row->cols[0], "row %d", r);
        sb_puts(&row->cols[1], "z ");
        put_num(&row->cols[1], un->z->value[e], false);
        StrBuf *last = &row->cols[un->n_chain ? 3 : 2];
        if (un->n_chain) {
            sb_printf(&row->cols[2], "%s ", top_name);
            put_num(&row->cols[2], top->value[e], false);
        }
        sb_printf(last, "∂%s/∂z ", L);
        put_num(last, un->z->grad[e], false);
    }
    emit_rows(out, rows, nr, "    ");
    for (size_t r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++) sb_free(&rows[r].cols[c]);
    nn_free(rows);
    if (listed < un->rows) sb_printf(out, "    … %d rows more\n", un->rows - listed);
    sb_printf(out, "    ∂%s/∂b[%d] = the sum over the rows = ", L, un->u);
    put_num(out, (float)sum, false);
    if (before && un->b->op == OP_PARAM) {
        size_t off = param_offset(t, un->b) + (size_t)un->u;
        float added = un->b->grad[un->u] - before[off];
        sb_printf(out, ", element %d of %s.grad", un->u, t->label[un->b->id]);
        char a[32], b[32];
        fmt_num(sum, a);
        fmt_num(added, b);
        if (strcmp(a, b) != 0) {
            sb_puts(out, " (which got ");
            put_num(out, added, false);
            sb_puts(out, ": the layer is used more than once here)");
        }
    }
    sb_putc(out, '\n');
}

static void trace_zoom(Trace *t, const TracePlace *pl, const float *before)
{
    Unit un;
    if (!find_unit(t, pl, &un)) return;     /* reported under the header */
    StrBuf *out = t->out;
    sb_printf(out, "\nzoom into %s[%d]: unit %d, ", pl->group, pl->unit, pl->unit);
    if (un.rows > 1 || un.x->shape.rank == 2) sb_printf(out, "row 0 of the batch");
    else sb_puts(out, "the one input");
    sb_printf(out, ", one number at a time (W is %s, b is %s)\n", t->label[un.W->id],
              t->label[un.b->id]);
    /* the ops' texts name their inputs by label: call them z, a here */
    char *saved[ZOOM_CHAIN + 1];
    GraphNode *named[ZOOM_CHAIN + 1];
    char nb[16];
    named[0] = un.z;
    for (int c = 0; c < un.n_chain; c++) named[c + 1] = un.chain[c];
    for (int c = 0; c <= un.n_chain; c++) {
        saved[c] = t->label[named[c]->id];
        const char *nm = chain_name(&un, c - 1, nb, sizeof nb);
        t->label[named[c]->id] = nn_strndup(nm, strlen(nm));
    }
    t->zoom = true;
    t->elem = (size_t)un.u;
    zoom_forward(t, &un, 0);
    if (graph_node(t->g, t->root)->requires_grad && un.z->requires_grad) {
        zoom_backward(t, &un, 0, saved[un.n_chain]);
        if (un.rows > 1) zoom_rows(t, &un, before);
    }
    t->zoom = false;
    for (int c = 0; c <= un.n_chain; c++) {
        nn_free(t->label[named[c]->id]);
        t->label[named[c]->id] = saved[c];
    }
}

/* Places looked at that the pass does not use. */
static void trace_places_unused(Trace *t)
{
    for (int i = 0; t->focus && i < t->focus->count; i++) {
        const char *g = t->focus->places[i].group;
        bool used = false;
        for (uint32_t k = 0; k < t->plan->count && !used; k++)
            used = graph_node(t->g, t->plan->ids[k])->group == g;
        bool seen = false;
        for (int j = 0; j < i; j++) seen |= t->focus->places[j].group == g;
        if (!used && !seen)
            sb_printf(t->out, "(%s takes no part in computing %s)\n", g, t->label[t->root]);
    }
}

static void put_places(StrBuf *sb, const TraceFocus *f)
{
    for (int i = 0; i < f->count; i++) {
        sb_puts(sb, i ? ", " : "");
        sb_puts(sb, f->places[i].group);
        if (f->places[i].unit >= 0) sb_printf(sb, "[%d]", f->places[i].unit);
    }
}

static void trace_backward(Runtime *rt, const Plan *plan, uint32_t root, const float *before,
                           Span where, const TraceFocus *focus)
{
    Trace t;
    memset(&t, 0, sizeof t);
    t.rt = rt;
    t.g = &rt->graph;
    t.plan = plan;
    t.root = root;
    t.out = &rt->out;
    t.focus = focus && focus->count ? focus : NULL;
    t.label = nn_calloc(t.g->count, sizeof *t.label);
    t.in_plan = nn_calloc(t.g->count, sizeof *t.in_plan);
    make_labels(&t);

    GraphNode *r = graph_node(t.g, root);
    sb_printf(t.out, "trace of %s", t.label[root]);
    if (!r->name) {     /* an unnamed expression: show what was written */
        sb_puts(t.out, " = ");
        rt->source_text(rt->locate_ud, r->span, t.out);
    }
    sb_puts(t.out, " at ");
    rt->locate(rt->locate_ud, where, t.out);
    if (t.focus) {
        sb_puts(t.out, ", looking at ");
        put_places(t.out, t.focus);
    }
    sb_puts(t.out, "\n\n");
    trace_places_unused(&t);
    trace_forward(&t);
    trace_backward_ops(&t);
    for (int i = 0; t.focus && i < t.focus->count; i++)
        if (t.focus->places[i].unit >= 0) trace_zoom(&t, &t.focus->places[i], before);
    if (graph_node(t.g, root)->requires_grad) trace_param_grads(&t, before);

    for (uint32_t i = 0; i < t.g->count; i++) nn_free(t.label[i]);
    nn_free(t.label);
    nn_free(t.in_plan);
}

/* Other optimizers than plain SGD: each param's old and new value, and the rule's name. */
static void trace_update_other(Runtime *rt, const OptimConfig *c, float lr, const float *before)
{
    StrBuf *out = &rt->out;
    sb_printf(out, "\nupdate: %s, lr = ", optim_name(c->kind));
    put_num(out, lr, false);
    sb_puts(out, c->kind == OPTIM_SGD ? ", with momentum or weight decay: each param moves by its "
                                        "velocity\n"
                                      : ": each param moves by its own adapted step\n");
    size_t k = 0;
    for (uint32_t id = 0; id < rt->graph.count; id++) {
        GraphNode *p = graph_node(&rt->graph, id);
        if (p->op != OP_PARAM) continue;
        const float *old = before + k;
        k += p->size;
        if (!in_focus(rt->step_focus, rt->step_focus_count, p)) continue;
        sb_printf(out, "  %s", p->name);
        if (p->size == 1) {
            sb_puts(out, ": ");
            put_num(out, old[0], false);
            sb_puts(out, " -> ");
            put_num(out, p->value[0], false);
        } else {
            sb_putc(out, ' ');
            shape_format(&p->shape, out);
            sb_puts(out, " = ");
            put_value(out, p->value, &p->shape, limit_of(rt));
        }
        sb_putc(out, '\n');
    }
}

static void trace_update(Runtime *rt, const OptimConfig *c, float lr, const float *before)
{
    if (c->kind != OPTIM_SGD || c->momentum != 0 || c->weight_decay != 0) {
        trace_update_other(rt, c, lr, before);
        return;
    }
    StrBuf *out = &rt->out;
    sb_puts(out, "\nupdate: sgd, lr = ");
    put_num(out, lr, false);
    sb_puts(out, ": each param takes a step against its gradient, p = p - lr × ∂L/∂p\n");
    size_t k = 0;
    for (uint32_t id = 0; id < rt->graph.count; id++) {
        GraphNode *p = graph_node(&rt->graph, id);
        if (p->op != OP_PARAM) continue;
        const float *old = before + k;
        k += p->size;
        if (!in_focus(rt->step_focus, rt->step_focus_count, p)) continue;
        if (p->size == 1) {
            sb_printf(out, "  %s = ", p->name);
            put_num(out, old[0], false);
            sb_puts(out, " - ");
            put_num(out, lr, false);
            sb_puts(out, " × ");
            put_num(out, p->grad[0], true);
            sb_puts(out, " = ");
            put_num(out, p->value[0], false);
            sb_putc(out, '\n');
        } else {
            sb_printf(out, "  %s ", p->name);
            shape_format(&p->shape, out);
            sb_printf(out, " = %s - ", p->name);
            put_num(out, lr, false);
            sb_printf(out, " × %s.grad = ", p->name);
            put_value(out, p->value, &p->shape, limit_of(rt));
            sb_putc(out, '\n');
        }
    }
}

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

void trace_dot(Runtime *rt, const Plan *plan, uint32_t root, bool grads)
{
    Trace t = { .rt = rt, .g = &rt->graph, .plan = plan, .root = root, .out = &rt->out };
    t.label = nn_calloc(t.g->count, sizeof *t.label);
    t.in_plan = nn_calloc(t.g->count, sizeof *t.in_plan);
    make_labels(&t);
    StrBuf *out = &rt->out, text;
    sb_init(&text);
    sb_puts(out, "digraph nn {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", "
                 "fontsize=11];\n");
    for (uint32_t k = 0; k < plan->count; k++) {
        GraphNode *n = graph_node(t.g, plan->ids[k]);
        const OpInfo *op = op_info(n->op);
        sb_clear(&text);
        sb_puts(&text, t.label[n->id]);
        if (!(op->flags & OPF_LEAF) && op->text) {
            sb_puts(&text, " = ");
            render(&t, &text, op->text, n, false);
        } else if (n->op == OP_PARAM) {
            sb_puts(&text, " (param)");
        }
        sb_putc(&text, '\n');
        if (n->shape.rank) {
            shape_format(&n->shape, &text);
            sb_putc(&text, ' ');
        }
        sb_puts(&text, "value ");
        put_value(&text, n->value, &n->shape, SMALL_TENSOR);
        if (grads && n->requires_grad) {
            sb_puts(&text, "\ngrad ");
            put_value(&text, n->grad, &n->shape, SMALL_TENSOR);
        }
        sb_printf(out, "  n%u [label=\"", n->id);
        dot_escaped(out, text.data, text.len);
        sb_putc(out, '"');
        if (n->id == root) sb_puts(out, ", style=\"filled,bold\", fillcolor=\"#f4c7c3\"");
        else if (n->op == OP_PARAM) sb_puts(out, ", style=filled, fillcolor=\"#c6dafc\"");
        else if (op->flags & OPF_LEAF) sb_puts(out, ", color=gray50, fontcolor=gray30");
        sb_puts(out, "];\n");
    }
    for (uint32_t k = 0; k < plan->count; k++) {
        GraphNode *n = graph_node(t.g, plan->ids[k]);
        for (int i = 0; i < n->n_in; i++) sb_printf(out, "  n%u -> n%u;\n", n->in[i], n->id);
    }
    sb_puts(out, "}\n");
    sb_free(&text);
    for (uint32_t i = 0; i < t.g->count; i++) nn_free(t.label[i]);
    nn_free(t.label);
    nn_free(t.in_plan);
}

/* ---- JSON Lines: the trace as events for programs (docs/trace-json.md) ------------------------ */

#define JSON_FULL 64        /* tensors up to this many elements are written in full */

static void json_string(StrBuf *sb, const char *s)
{
    sb_putc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(sb, "\\%c", *p);
        else if (*p == '\n') sb_puts(sb, "\\n");
        else if (*p < 0x20) sb_printf(sb, "\\u%04x", *p);
        else sb_putc(sb, (char)*p);
    }
    sb_putc(sb, '"');
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

static void json_shape(StrBuf *sb, const Shape *s)
{
    sb_putc(sb, '[');
    for (int i = 0; i < s->rank; i++) sb_printf(sb, i ? ",%d" : "%d", s->dim[i]);
    sb_putc(sb, ']');
}

static void json_head(Trace *t, const char *event, const GraphNode *n, long step)
{
    sb_printf(t->out, "{\"event\":\"%s\",\"step\":%ld,\"node\":%u,\"label\":", event, step,
              n->id);
    json_string(t->out, t->label[n->id]);
}

static void json_location(Trace *t, Span span)
{
    StrBuf loc;
    sb_init(&loc);
    t->rt->locate(t->rt->locate_ud, span, &loc);
    sb_puts(t->out, ",\"at\":");
    json_string(t->out, loc.data ? loc.data : "");
    sb_free(&loc);
}

static void trace_json(Runtime *rt, const Plan *plan, uint32_t root, const float *before,
                       Span where, const TraceFocus *focus)
{
    Trace t = { .rt = rt, .g = &rt->graph, .plan = plan, .root = root, .out = &rt->out,
                .focus = focus && focus->count ? focus : NULL };
    t.label = nn_calloc(t.g->count, sizeof *t.label);
    t.in_plan = nn_calloc(t.g->count, sizeof *t.in_plan);
    make_labels(&t);
    long step = ++rt->trace_passes;
    StrBuf *out = t.out, text;
    sb_init(&text);
    GraphNode *r = graph_node(t.g, root);
    sb_printf(out, "{\"event\":\"pass\",\"step\":%ld,\"root\":%u,\"label\":", step, root);
    json_string(out, t.label[root]);
    sb_puts(out, ",\"loss\":");
    json_num(out, r->value[0]);
    json_location(&t, where);
    if (t.focus) {
        sb_puts(out, ",\"places\":[");
        for (int i = 0; i < t.focus->count; i++) {
            StrBuf one;
            sb_init(&one);
            TraceFocus f1 = { &t.focus->places[i], 1 };
            put_places(&one, &f1);
            sb_puts(out, i ? "," : "");
            json_string(out, one.data);
            sb_free(&one);
        }
        sb_putc(out, ']');
    }
    sb_puts(out, "}\n");
    /* forward: every node of the plan, inputs before users */
    for (uint32_t k = 0; k < plan->count; k++) {
        GraphNode *n = graph_node(t.g, plan->ids[k]);
        const OpInfo *op = op_info(n->op);
        json_head(&t, "forward", n, step);
        sb_puts(out, ",\"op\":");
        json_string(out, n->op == OP_PARAM ? "param" : op->name);
        sb_printf(out, ",\"kind\":\"%s\"", n->op == OP_PARAM ? "param"
                  : (op->flags & OPF_LEAF) ? "constant" : "op");
        if (!(op->flags & OPF_LEAF) && op->text) {
            sb_clear(&text);
            render(&t, &text, op->text, n, false);
            sb_puts(out, ",\"formula\":");
            json_string(out, text.data);
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
        json_location(&t, n->span);
        sb_puts(out, "}\n");
    }
    /* backward: from the root down, each op's gradient and what it passes to each input */
    for (uint32_t k = plan->count; k-- > 0;) {
        GraphNode *n = graph_node(t.g, plan->ids[k]);
        const OpInfo *op = op_info(n->op);
        if (!n->requires_grad || (op->flags & OPF_LEAF)) continue;
        json_head(&t, "backward", n, step);
        sb_puts(out, ",\"grad\":");
        json_value(out, n->grad, &n->shape);
        sb_puts(out, ",\"inputs\":[");
        bool first = true;
        for (int i = 0; i < n->n_in; i++) {
            GraphNode *in = graph_node(t.g, n->in[i]);
            if (!in->requires_grad) continue;
            sb_printf(out, "%s{\"node\":%u,\"label\":", first ? "" : ",", in->id);
            first = false;
            json_string(out, t.label[in->id]);
            if (op->dtext[i]) {
                sb_clear(&text);
                render(&t, &text, op->dtext[i], n, false);
                sb_puts(out, ",\"local\":");
                json_string(out, text.data);
            }
            if (all_scalar(&t, n) && op->deriv) {
                double a = graph_node(t.g, n->in[0])->value[0];
                double b = n->n_in > 1 ? graph_node(t.g, n->in[1])->value[0] : 0;
                double d = (float)op->deriv(i, a, b, n->value[0], &n->attrs);
                sb_puts(out, ",\"local_value\":");
                json_num(out, d);
                sb_puts(out, ",\"chain\":");
                json_num(out, (float)(n->grad[0] * (float)d));
            }
            sb_puts(out, ",\"grad\":");
            json_value(out, in->grad, &in->shape);
            sb_putc(out, '}');
        }
        sb_puts(out, "]}\n");
    }
    /* each param's gradient: what this pass added, and the total it now holds */
    size_t off = 0;
    for (uint32_t id = 0; id < t.g->count; id++) {
        GraphNode *p = graph_node(t.g, id);
        if (p->op != OP_PARAM) continue;
        if (t.in_plan[id] && p->requires_grad) {
            json_head(&t, "gradient", p, step);
            sb_puts(out, ",\"grad\":");
            json_value(out, p->grad, &p->shape);
            if (before) {
                float *added = nn_alloc(p->size * sizeof *added);
                for (size_t j = 0; j < p->size; j++) added[j] = p->grad[j] - before[off + j];
                sb_puts(out, ",\"added\":");
                json_value(out, added, &p->shape);
                nn_free(added);
            }
            sb_puts(out, "}\n");
        }
        off += p->size;
    }
    sb_free(&text);
    for (uint32_t i = 0; i < t.g->count; i++) nn_free(t.label[i]);
    nn_free(t.label);
    nn_free(t.in_plan);
}

static void trace_json_update(Runtime *rt, const OptimConfig *c, float lr, const float *before)
{
    StrBuf *out = &rt->out;
    size_t off = 0;
    for (uint32_t id = 0; id < rt->graph.count; id++) {
        GraphNode *p = graph_node(&rt->graph, id);
        if (p->op != OP_PARAM) continue;
        sb_printf(out, "{\"event\":\"update\",\"step\":%ld,\"node\":%u,\"label\":",
                  rt->trace_passes, id);
        json_string(out, p->name ? p->name : "param");
        sb_printf(out, ",\"optimizer\":\"%s\",\"lr\":", optim_name(c->kind));
        json_num(out, lr);
        Shape s = p->shape;
        sb_puts(out, ",\"before\":");
        json_value(out, before + off, &s);
        sb_puts(out, ",\"grad\":");
        json_value(out, p->grad, &s);
        sb_puts(out, ",\"after\":");
        json_value(out, p->value, &s);
        sb_puts(out, "}\n");
        off += p->size;
    }
}

void trace_pass(Runtime *rt, const Plan *plan, uint32_t root, const float *before, Span where,
                const TraceFocus *focus)
{
    /* the update after this pass looks at the same places; the focus may not outlive the
     * program it came from, so it is copied */
    int n = focus ? focus->count : 0;
    rt->step_focus = nn_realloc(rt->step_focus, (size_t)(n ? n : 1) * sizeof *rt->step_focus);
    if (n) memcpy(rt->step_focus, focus->places, (size_t)n * sizeof *rt->step_focus);
    rt->step_focus_count = n;
    switch (rt->trace_format) {
    case TRACE_TEXT: trace_backward(rt, plan, root, before, where, focus); break;
    case TRACE_DOT: trace_dot(rt, plan, root, true); break;
    case TRACE_JSON: trace_json(rt, plan, root, before, where, focus); break;
    }
}

void trace_step_update(Runtime *rt, const OptimConfig *c, float lr, const float *before)
{
    switch (rt->trace_format) {
    case TRACE_TEXT: trace_update(rt, c, lr, before); break;
    case TRACE_DOT: break;
    case TRACE_JSON: trace_json_update(rt, c, lr, before); break;
    }
}
