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
    const char *lists;      /* the kind of word whose entries `:help NAME` lists too, or NULL */
} HelpEntry;

/* The words no table describes: statements (and forward, labels and summary, which only a
 * statement takes) and fields. */
static const HelpEntry help[] = {
    /* statements */
    { "let", "statement", "let z = w * x + b", "names a formula: it follows the params it uses", NULL },
    { "param", "statement", "param w = randn(2, 3) * 0.1", "declares a trainable tensor, set once from its value", NULL },
    { "print", "statement", "print \"loss:\", loss", "prints values (with their shapes) and strings", NULL },
    { "backward", "statement", "backward loss", "accumulates d loss / d p into p.grad for every param p", NULL },
    { "trace", "statement", "trace loss at net.layer1[0]", "forward, backward and the chain rule, explained step by step; `at` looks at some layers or zooms into one unit", NULL },
    { "gradcheck", "statement", "gradcheck loss", "backprop's gradients beside finite differences, per param", NULL },
    { "step", "statement", "step sgd(lr = 0.1) or step adam() net", "one optimizer update of every param (or those named) from its gradient; the learning rate may be a formula", "optimizer" },
    { "zero_grad", "statement", "zero_grad or zero_grad net, w", "sets every param's gradient (or those named) to zero", NULL },
    { "seed", "statement", "seed 42", "restarts the random numbers, so draws repeat", NULL },
    { "model", "statement", "model net { dense(2, 8); relu; dense(1) }", "a network of layers, or of params with forward(x) = ...", "layer" },
    { "train", "statement", "train net on X, Y { loss mse; optimizer adam(); epochs 100 }", "trains a model on data (or a loss formula) in mini-batches", "train setting" },
    { "save", "statement", "save net \"net.safetensors\"", "writes a model's params (and optimizer state) as safetensors", NULL },
    { "load", "statement", "load net \"net.safetensors\"", "reads them back, checking every name and shape first", NULL },
    { "for", "statement", "for k in 0..100 { backward loss; step sgd(lr = 0.1); zero_grad }", "repeats a block with k = 0, 1, ..., 99; the block is compiled once", NULL },
    { "repeat", "statement", "repeat 10 { step sgd(lr = 0.1) }", "repeats a block N times", NULL },
    { "while", "statement", "while loss > 0.01 { backward loss; step sgd(lr = 0.1); zero_grad }", "repeats a block while a scalar is not 0", NULL },
    { "if", "statement", "if k == 0 { trace loss } else { backward loss }", "runs a block when a scalar is not 0 (else another, on the line of the })", NULL },
    { "break", "statement", "if loss < 0.01 { break }", "leaves the innermost loop", NULL },
    { "continue", "statement", "if k % 2 == 1 { continue }", "goes on with the next iteration of the innermost loop", NULL },
    { "fn", "statement", "fn hinge(s, y) = mean(relu(1 - y * s))", "a function of tensors: a formula, checked for each call's shapes", NULL },
    { "forward", "model line", "forward(x) = sigmoid(w * x + b)", "the formula of a model made of params", NULL },
    { "labels", "print", "print labels(iris, net(X))", "each row's predicted class by name", NULL },
    { "summary", "statement", "summary(net)", "a model's layers, output shapes and parameter counts", NULL },
    /* fields */
    { "grad", "field", "w.grad", "a param's accumulated gradient", NULL },
    { "T", "field", "W.T", "the transpose", NULL },
    { "shape", "field", "X.shape", "the sizes, a constant vector (X.shape[1] is a constant)", NULL },
    { "rows", "field", "X.rows", "the first size, a constant", NULL },
};

/* The settings of a train block (src/settings.def). */
static const HelpEntry settings_help[] = {
#define SETTING(e, name, word, kind, lo, hi, range, what, flags, field, check, values, example, \
                text)                                                                          \
    { name, "train setting", example, text, values },
#include "settings.def"
#undef SETTING
};

/* The layers of a model (src/layers.def); the activations are ops. */
static const HelpEntry layers_help[] = {
#define LAYER(name, kind, check, args, usage, example, text) { name, "layer", example, text, NULL },
#define LAYER_ALIAS(...)
#define INIT(...)
#include "layers.def"
#undef INIT
#undef LAYER_ALIAS
#undef LAYER
};

/* The built-in functions that are not one op (src/builtins.def). */
static const HelpEntry builtins_help[] = {
#define BUILTIN(name, check, example, text) { name, "function", example, text, NULL },
#include "builtins.def"
#undef BUILTIN
};

/* The data functions (src/datafns.def). */
static const HelpEntry data_help[] = {
#define DATAFN(name, fn, check, args, sets, usage, example, text) \
    { name, "data", example, text, NULL },
#include "datafns.def"
#undef DATAFN
};

/* Every source of help, in the order `:help` lists the words; the op table comes last. */
static const struct {
    const HelpEntry *rows;
    size_t count;
} help_sources[] = {
    { help, NN_ARRAY_LEN(help) },
    { builtins_help, NN_ARRAY_LEN(builtins_help) },
    { layers_help, NN_ARRAY_LEN(layers_help) },
    { data_help, NN_ARRAY_LEN(data_help) },
    { settings_help, NN_ARRAY_LEN(settings_help) },
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

/* How many entries help_entry has (some of the last, schedules and ops, may be empty). */
static size_t help_count(void)
{
    size_t n = OPTIM_KINDS + SCHED_KINDS + OP_COUNT;
    for (size_t k = 0; k < NN_ARRAY_LEN(help_sources); k++) n += help_sources[k].count;
    return n;
}

/* Help entry i: the sources in turn, then the optimizers and schedules of src/optim.c's
 * tables, then every op the op table documents. False for a word without help. */
static bool help_entry(size_t i, HelpEntry *h)
{
    for (size_t k = 0; k < NN_ARRAY_LEN(help_sources); k++) {
        if (i < help_sources[k].count) {
            *h = help_sources[k].rows[i];
            return true;
        }
        i -= help_sources[k].count;
    }
    if (i < OPTIM_KINDS) {
        *h = (HelpEntry){ optim_name((OptimKind)i), "optimizer", NULL, NULL, NULL };
        optim_help((OptimKind)i, &h->example, &h->text);
        return true;
    }
    i -= OPTIM_KINDS;
    if (i < SCHED_KINDS) {
        *h = (HelpEntry){ schedule_name((SchedKind)i), "schedule", NULL, NULL, NULL };
        schedule_help((SchedKind)i, &h->example, &h->text);
        return h->text != NULL;
    }
    i -= SCHED_KINDS;
    const OpInfo *op = op_info((OpKind)i);
    if (!op->help_text) return false;
    *h = (HelpEntry){ op->name, op_kind_word(op), op->help_example, op->help_text, NULL };
    return true;
}

/* Whether entry i (h) is the first of its name: a word with two meanings (trace, a statement
 * and a train setting) is listed and completed once. */
static bool first_of_name(size_t i, const HelpEntry *h)
{
    for (size_t j = 0; j < i; j++) {
        HelpEntry e;
        if (help_entry(j, &e) && strcmp(e.name, h->name) == 0) return false;
    }
    return true;
}

/* Whether a word of kind `kind` is a `lists`: "layer" is also "function / layer". */
static bool kind_is(const char *kind, const char *lists)
{
    size_t n = strlen("function / ");
    return strcmp(kind, lists) == 0
           || (strncmp(kind, "function / ", n) == 0 && strcmp(kind + n, lists) == 0);
}

/* One word's help: what it is and an example, then the words of the kind it lists. */
static void print_entry(const HelpEntry *h, StrBuf *sb)
{
    sb_printf(sb, "%s (%s): %s\n  %s\n", h->name, h->kind, h->text, h->example);
    bool first = true;
    for (size_t i = 0; h->lists && i < help_count(); i++) {
        HelpEntry w;
        if (!help_entry(i, &w) || !kind_is(w.kind, h->lists)) continue;
        if (first) sb_printf(sb, "  each %s:\n", h->lists);
        first = false;
        sb_printf(sb, "    %-14s %s\n", w.name, w.text);
    }
}

int nn_print_help(NnState *nn, const char *name)
{
    StrBuf sb;
    sb_init(&sb);
    int found = 0;
    if (!name || !*name) {
        sb_puts(&sb, "help on a word of the language: ':help NAME', for NAME one of\n ");
        size_t col = 1;
        for (size_t i = 0; i < help_count(); i++) {
            HelpEntry h;
            if (!help_entry(i, &h) || !first_of_name(i, &h)) continue;
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
        for (size_t i = 0; i < help_count(); i++) {
            HelpEntry h;
            if (help_entry(i, &h) && strcmp(h.name, name) == 0) {
                print_entry(&h, &sb);
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
    for (size_t i = 0; i < help_count(); i++) {
        HelpEntry h;
        if (help_entry(i, &h) && first_of_name(i, &h) && strncmp(h.name, prefix, n) == 0
            && strlen(h.name) > 1)
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
    case SYM_FN: return "fn";
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
        } else if (s->kind == SYM_FN && s->fn) {
            sb_puts(&sb, " (");
            for (int k = 0; k < s->fn->n_params; k++)
                sb_printf(&sb, "%s%s", k ? ", " : "", s->fn->params[k]);
            sb_putc(&sb, ')');
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
    SandboxFile file;
    bool ok = sandbox_write(&nn->sandbox, path, &file, err, sizeof err)
              && html_write(file.path, events, len, err, sizeof err);
    sandbox_done(&file, ok ? NULL : err, sizeof err);
    if (ok) return NN_OK;
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
        const SessionDef *d = &nn->defs[i];
        if (d->carried) {       /* what a loop or an if left in a name */
            const GraphNode *n = graph_node(&nn->rt.graph, d->carried->node);
            size_t k = 0;
            sb_printf(&sb, "let %s = ", d->carried->name);
            literal(n->value, &n->shape, 0, &k, &sb);
        } else {
            const Source *src = source_get(&nn->sources, d->span.source);
            sb_append(&sb, src->text + d->span.start, d->span.end - d->span.start);
        }
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
    SandboxFile file;
    bool ok = sandbox_write(&nn->sandbox, path, &file, err, sizeof err)
              && afile_write_all(file.path, sb.data ? sb.data : "", sb.len, err, sizeof err);
    sandbox_done(&file, ok ? NULL : err, sizeof err);
    if (!ok) diag_plain(&nn->diag, DIAG_ERROR, "%s", err);
    sb_free(&sb);
    return ok ? NN_OK : NN_ERROR_IO;
}
