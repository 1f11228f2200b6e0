/* inspect.c — what an interactive host asks a session: completions, the defined names, an
 * expression's graph as a tree, help on any word of the language, and the session written
 * back out as a script. */
#include "state.h"

#include "fileio.h"
#include "html.h"
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void out(NnState *nn, StrBuf *sb)
{
    nn->rt.write(nn->rt.write_ud, sb->data ? sb->data : "", sb->len);
    sb_clear(sb);
}

/* ---- help ----------------------------------------------------------------------------------- */

typedef struct HelpEntry {
    const char *name;
    const char *kind;
    const char *example;
    const char *text;
} HelpEntry;

static const HelpEntry help[] = {
    /* statements */
    { "let", "statement", "let z = w * x + b", "names a formula: it follows the params it uses" },
    { "param", "statement", "param w = randn(2, 3) * 0.1", "declares a trainable tensor, set once from its value" },
    { "print", "statement", "print \"loss:\", loss", "prints values (with their shapes) and strings" },
    { "backward", "statement", "backward loss", "accumulates d loss / d p into p.grad for every param p" },
    { "trace", "statement", "trace loss at net.layer1[0]", "forward, backward and the chain rule, explained step by step; `at` looks at some layers or zooms into one unit" },
    { "gradcheck", "statement", "gradcheck loss", "backprop's gradients beside finite differences, per param" },
    { "step", "statement", "step sgd(lr = 0.1)", "one optimizer update of every param from its gradient" },
    { "zero_grad", "statement", "zero_grad", "sets every param's gradient to zero" },
    { "seed", "statement", "seed 42", "restarts the random numbers, so draws repeat" },
    { "model", "statement", "model net { dense(2, 8); relu; dense(1) }", "a network of layers, or of params with forward(x) = ..." },
    { "train", "statement", "train net on X, Y { loss mse; optimizer adam(); epochs 100 }", "trains a model on data (or a loss formula) in mini-batches" },
    { "save", "statement", "save net \"net.safetensors\"", "writes a model's params (and optimizer state) as safetensors" },
    { "load", "statement", "load net \"net.safetensors\"", "reads them back, checking every name and shape first" },
    { "forward", "model line", "forward(x) = sigmoid(w * x + b)", "the formula of a model made of params" },
    { "residual", "layer", "residual { dense(8); relu }", "adds a block's input to its output (the width must stay)" },
    /* layers */
    { "dense", "layer", "dense(4, 8) or dense(8)", "x @ W + b; W initialised for the next activation, b zeros" },
    { "dropout", "layer", "dropout(0.5)", "zeroes each value with probability p while training, scales the rest" },
    /* data */
    { "csv", "data", "let d = csv(\"iris.csv\", target = \"species\")", "reads a CSV with a header; classes become one-hot" },
    { "split", "data", "let a, b = split(d, 0.8)", "seeded shuffle, then two parts; or a file listing the second's rows" },
    { "normalize", "data", "let a, b = normalize(tr, te)", "standardises with the first set's mean and deviation" },
    { "xor", "data", "let d = xor(200, noise = 0.1)", "points in [-1,1]^2, class 1 where x1 * x2 > 0" },
    { "circles", "data", "let d = circles(200, noise = 0.05)", "an inner disc (class 1) inside a ring (class 0)" },
    { "moons", "data", "let d = moons(200, noise = 0.1)", "two interleaved half circles" },
    { "spirals", "data", "let d = spirals(3, 300, noise = 0.05)", "k interleaved spiral arms, one class each" },
    { "blobs", "data", "let d = blobs(4, 400, noise = 0.2)", "k Gaussian clusters" },
    { "labels", "print", "print labels(iris, net(X))", "each row's predicted class by name" },
    { "summary", "statement", "summary(net)", "a model's layers, output shapes and parameter counts" },
    /* optimizers and schedules */
    { "sgd", "optimizer", "sgd(lr = 0.1, momentum = 0.9, nesterov = 1, weight_decay = 0)", "stochastic gradient descent, PyTorch's rule" },
    { "adam", "optimizer", "adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)", "adaptive moments with bias correction" },
    { "adamw", "optimizer", "adamw(lr = 0.001, weight_decay = 0.01)", "Adam with decoupled weight decay" },
    { "rmsprop", "optimizer", "rmsprop(lr = 0.01, alpha = 0.99, momentum = 0)", "divides by a running RMS of the gradient" },
    { "cosine", "schedule", "schedule cosine(min = 0.001)", "learning rate follows half a cosine over the epochs" },
    { "step_decay", "schedule", "schedule step_decay(every = 10, gamma = 0.5)", "learning rate times gamma every N epochs" },
    /* train settings */
    { "loss", "train setting", "loss cross_entropy", "the loss: mse, l1, bce, bce_logits or cross_entropy" },
    { "optimizer", "train setting", "optimizer adam(lr = 0.01)", "the optimizer and its settings" },
    { "epochs", "train setting", "epochs 100", "passes over the data" },
    { "batch", "train setting", "batch 32", "rows per step, shuffled each epoch (default: all)" },
    { "accumulate", "train setting", "accumulate 4", "one update per N batches, as one batch N times the size" },
    { "clip", "train setting", "clip 1.0", "scales the gradients down to this global norm" },
    { "validation", "train setting", "validation 0.2", "holds out the last fraction of rows, or a data set" },
    { "early_stop", "train setting", "early_stop 5", "stops after N epochs without improvement; keeps the best" },
    { "log", "train setting", "log every 10", "a line with the epoch, loss and metrics" },
    { "schedule", "train setting", "schedule cosine", "changes the learning rate by epoch" },
    { "metric", "train setting", "metric accuracy", "accuracy or none" },
    { "resume", "train setting", "resume \"net.safetensors\"", "continues training from a checkpoint" },
    { "break", "train setting", "break step 100", "stops before update N (or at the first inf or NaN: break nonfinite; above a gradient norm: break grad_norm 10) at a prompt; :continue goes on" },
    /* fields */
    { "grad", "field", "w.grad", "a param's accumulated gradient" },
    { "T", "field", "W.T", "the transpose" },
};

/* What kind of word a built-in op is, for help. */
static const char *op_kind_word(const OpInfo *op)
{
    switch (op->sig) {
    case SIG_LOSS: return op->flags & OPF_NO_GRAD ? "metric" : "loss";
    case SIG_DIMS:
    case SIG_FULL:
    case SIG_EYE:
    case SIG_FANS: return "constructor";
    default: break;
    }
    bool layer = (op->sig == SIG_UNARY && (op->flags & OPF_ELEMENTWISE)) || op->sig == SIG_LEAKY
                 || op->sig == SIG_AXIS;
    return layer && op->kind != OP_ARGMAX ? "function / layer" : "function";
}

/* Help entry i: first the rows above, then every op the op table documents. */
static bool help_entry(size_t i, HelpEntry *h)
{
    if (i < NN_ARRAY_LEN(help)) {
        *h = help[i];
        return true;
    }
    const OpInfo *op = op_info((OpKind)(i - NN_ARRAY_LEN(help)));
    if (!op->help_text) return false;
    *h = (HelpEntry){ op->name, op_kind_word(op), op->help_example, op->help_text };
    return true;
}

int nn_print_help(NnState *nn, const char *name)
{
    StrBuf sb;
    sb_init(&sb);
    int found = 0;
    if (!name || !*name) {
        sb_puts(&sb, "help on a word of the language: ':help NAME', for NAME one of\n ");
        size_t col = 1;
        for (size_t i = 0; i < NN_ARRAY_LEN(help) + OP_COUNT; i++) {
            HelpEntry h;
            if (!help_entry(i, &h)) continue;
            size_t w = strlen(h.name) + 1;
            if (col + w > 90) {
                sb_puts(&sb, "\n ");
                col = 1;
            }
            sb_printf(&sb, " %s", h.name);
            col += w;
        }
        sb_putc(&sb, '\n');
        found = 1;
    } else {
        for (size_t i = 0; i < NN_ARRAY_LEN(help) + OP_COUNT; i++) {
            HelpEntry h;
            if (help_entry(i, &h) && strcmp(h.name, name) == 0) {
                sb_printf(&sb, "%s (%s): %s\n  %s\n", h.name, h.kind, h.text, h.example);
                found = 1;
            }
        }
    }
    out(nn, &sb);
    sb_free(&sb);
    return found;
}

/* ---- completion ---------------------------------------------------------------------------- */

void nn_complete(NnState *nn, const char *prefix, void (*fn)(void *, const char *), void *ud)
{
    size_t n = strlen(prefix);
    /* names of help topics cover the keywords, built-ins, layers, optimizers and settings */
    for (size_t i = 0; i < NN_ARRAY_LEN(help) + OP_COUNT; i++) {
        HelpEntry h;
        if (help_entry(i, &h) && strncmp(h.name, prefix, n) == 0 && strlen(h.name) > 1)
            fn(ud, h.name);
    }
    for (size_t i = 0; i < nn->syms.count; i++) {
        const Symbol *s = nn->syms.items[i];
        if (s->poisoned || strncmp(s->name, prefix, n) != 0) continue;
        bool shadowed = false;      /* a name defined again is offered once */
        for (size_t j = i + 1; j < nn->syms.count && !shadowed; j++)
            shadowed = nn->syms.items[j]->name == s->name;
        if (!shadowed) fn(ud, s->name);
    }
}

/* ---- :vars ---------------------------------------------------------------------------------- */

static const char *kind_name(SymKind k)
{
    switch (k) {
    case SYM_LET: return "let";
    case SYM_PARAM: return "param";
    case SYM_MODEL: return "model";
    case SYM_DATA: return "data";
    }
    return "?";
}

void nn_print_vars(NnState *nn)
{
    StrBuf sb;
    sb_init(&sb);
    size_t shown = 0;
    for (size_t i = 0; i < nn->syms.count; i++) {
        const Symbol *s = nn->syms.items[i];
        bool shadowed = false;
        for (size_t j = i + 1; j < nn->syms.count && !shadowed; j++)
            shadowed = nn->syms.items[j]->name == s->name;
        if (shadowed || s->poisoned) continue;
        if (!shown++) sb_printf(&sb, "%-20s %-6s %s\n", "name", "kind", "shape");
        char shape[64] = "";
        if (s->kind == SYM_LET || s->kind == SYM_PARAM) shape_str(&s->shape, shape, sizeof shape);
        sb_printf(&sb, "%-20s %-6s %-12s", s->name, kind_name(s->kind), shape);
        if (s->kind == SYM_PARAM && s->has_node) {
            const GraphNode *n = graph_node(&nn->rt.graph, s->node);
            char buf[32];
            sb_printf(&sb, " |grad| %s", fmt_num(sqrt(tensor_sum_squares(n->grad, n->size)), buf));
        } else if (s->kind == SYM_MODEL) {
            sb_printf(&sb, " %d param tensors", s->model->n_params);
        } else if (s->kind == SYM_DATA) {
            sb_printf(&sb, " %d rows", s->data->rows);
        }
        sb_putc(&sb, '\n');
    }
    if (!shown) sb_puts(&sb, "nothing is defined yet\n");
    out(nn, &sb);
    sb_free(&sb);
}

/* ---- :graph --------------------------------------------------------------------------------- */

/* A node's label: its name, or t<id> like the trace's temporaries. */
static void label(const GraphNode *n, StrBuf *sb)
{
    if (n->name) sb_puts(sb, n->name);
    else sb_printf(sb, "#%u", n->id);
}

static void brief_value(const float *v, const GraphNode *n, StrBuf *sb)
{
    char buf[32];
    if (n->size == 1) {
        sb_puts(sb, fmt_num(v[0], buf));
        return;
    }
    shape_format(&n->shape, sb);
    if (n->size <= 6) {
        sb_putc(sb, ' ');
        tensor_format(v, &n->shape, sb, 0);
        /* keep one line: tensor_format breaks matrices into rows */
        for (size_t i = 0; i < sb->len; i++)
            if (sb->data[i] == '\n') sb->data[i] = ' ';
        return;
    }
    TensorStats st = tensor_stats(v, n->size);
    sb_printf(sb, " mean %s", fmt_num(st.mean, buf));
    sb_printf(sb, " min %s", fmt_num(st.min, buf));
    sb_printf(sb, " max %s", fmt_num(st.max, buf));
}

static void tree(NnState *nn, uint32_t id, int depth, uint8_t *seen, bool grads, StrBuf *sb)
{
    const GraphNode *n = graph_node(&nn->rt.graph, id);
    const OpInfo *op = op_info(n->op);
    sb_printf(sb, "%*s", 2 * depth, "");
    label(n, sb);
    if (seen[id] && n->n_in) {
        sb_puts(sb, "  (shown above)\n");
        return;
    }
    seen[id] = 1;
    if (!(op->flags & OPF_LEAF) || n->op == OP_PARAM)
        sb_printf(sb, " = %s", n->op == OP_PARAM ? "param" : op->name);
    else if (n->op == OP_CONST)
        sb_puts(sb, " = constant");
    sb_puts(sb, "  value ");
    brief_value(n->value, n, sb);
    if (grads && n->requires_grad) {
        sb_puts(sb, "  grad ");
        brief_value(n->grad, n, sb);
    }
    sb_putc(sb, '\n');
    for (int i = 0; i < n->n_in; i++) tree(nn, n->in[i], depth + 1, seen, grads, sb);
}

static NnStatus print_graph(NnState *nn, const char *expr, bool dot)
{
    uint32_t root = 0;
    NnStatus st = state_eval(nn, expr, &root);
    if (st != NN_OK) return st;
    Graph *g = &nn->rt.graph;
    GraphNode *r = graph_node(g, root);
    bool grads = r->size == 1 && r->requires_grad;
    float *saved = NULL;
    Arena arena;
    arena_init(&arena);
    Plan plan = graph_plan(g, &root, 1, &arena);
    if (grads) {
        /* gradients of this expression, without touching the params' accumulated ones */
        size_t total = 0;
        for (uint32_t k = 0; k < plan.count; k++)
            if (g->nodes[plan.ids[k]].op == OP_PARAM) total += g->nodes[plan.ids[k]].size;
        saved = nn_alloc((total ? total : 1) * sizeof *saved);
        size_t off = 0;
        for (uint32_t k = 0; k < plan.count; k++) {
            GraphNode *p = &g->nodes[plan.ids[k]];
            if (p->op != OP_PARAM) continue;
            memcpy(saved + off, p->grad, p->size * sizeof(float));
            memset(p->grad, 0, p->size * sizeof(float));
            off += p->size;
        }
        graph_backward(g, &plan, root, NULL, NULL);
    }
    if (dot) {
        trace_dot(&nn->rt, &plan, root, grads);
        rt_flush(&nn->rt);
    } else {
        StrBuf sb;
        sb_init(&sb);
        uint8_t *seen = nn_calloc(g->count, 1);
        if (grads)
            sb_puts(&sb, "(grad: the gradient of the whole expression with respect to the node)\n");
        tree(nn, root, 0, seen, grads, &sb);
        nn_free(seen);
        out(nn, &sb);
        sb_free(&sb);
    }
    if (grads) {
        size_t off = 0;
        for (uint32_t k = 0; k < plan.count; k++) {
            GraphNode *p = &g->nodes[plan.ids[k]];
            if (p->op != OP_PARAM) continue;
            memcpy(p->grad, saved + off, p->size * sizeof(float));
            off += p->size;
        }
        nn_free(saved);
    }
    arena_free(&arena);
    return NN_OK;
}

NnStatus nn_print_graph(NnState *nn, const char *expr)
{
    return print_graph(nn, expr, false);
}

NnStatus nn_print_dot(NnState *nn, const char *expr)
{
    return print_graph(nn, expr, true);
}

NnStatus nn_write_html(NnState *nn, const char *path, const char *events, size_t len)
{
    char err[512];
    if (html_write(path, events, len, err, sizeof err)) return NN_OK;
    diag_plain(&nn->diag, DIAG_ERROR, "%s", err);
    return NN_ERROR_IO;
}

/* ---- :save ----------------------------------------------------------------------------------- */

/* A tensor literal that reads back to exactly the same float32 values. */
static void literal(const float *v, const Shape *s, int dim, size_t *k, StrBuf *sb)
{
    char buf[32];
    if (dim == s->rank) {
        snprintf(buf, sizeof buf, "%.9g", v[(*k)++]);
        sb_puts(sb, buf);
        return;
    }
    sb_putc(sb, '[');
    for (int i = 0; i < s->dim[dim]; i++) {
        if (i) sb_puts(sb, ", ");
        literal(v, s, dim + 1, k, sb);
    }
    sb_putc(sb, ']');
}

NnStatus nn_save_session(NnState *nn, const char *path)
{
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, "# nn session: its definitions in the order they ran, then every param's value\n");
    for (size_t i = 0; i < nn->n_defs; i++) {
        Span sp = nn->defs[i];
        const Source *src = source_get(&nn->sources, sp.source);
        sb_append(&sb, src->text + sp.start, sp.end - sp.start);
        sb_putc(&sb, '\n');
    }
    bool header = false;
    for (size_t i = 0; i < nn->syms.count; i++) {
        const Symbol *s = nn->syms.items[i];
        if (s->kind != SYM_PARAM || s->poisoned || !s->has_node) continue;
        bool shadowed = false;
        for (size_t j = i + 1; j < nn->syms.count && !shadowed; j++)
            shadowed = nn->syms.items[j]->name == s->name;
        if (shadowed) continue;
        if (!header) sb_puts(&sb, "\n# the params' values when the session was saved\n");
        header = true;
        const GraphNode *n = graph_node(&nn->rt.graph, s->node);
        size_t k = 0;
        sb_printf(&sb, "%s = ", s->name);
        literal(n->value, &n->shape, 0, &k, &sb);
        sb_putc(&sb, '\n');
    }
    char err[512];
    bool ok = afile_write_all(path, sb.data ? sb.data : "", sb.len, err, sizeof err);
    if (!ok) diag_plain(&nn->diag, DIAG_ERROR, "%s", err);
    sb_free(&sb);
    return ok ? NN_OK : NN_ERROR_IO;
}
