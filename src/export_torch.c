/* export_torch.c — a checked script as a PyTorch program (export_torch.h).
 *
 * Statements go one by one into main(): data functions become the helpers of the same name,
 * models become torch.nn.Module classes (their dense layers torch.nn.Linear, drawn with nn's
 * random numbers), train blocks become calls of the helper train(), prints, saves and loads
 * the helpers' print, save and load. Expressions are written through src/torch.def. A `let`
 * that depends on params is a formula in nn (computed where it is used, with the params as
 * they are then), so it becomes a function of no arguments; other lets are values. */
#include "export_torch.h"

#include "export_torch_py.h"
#include "nn.h"
#include "sema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the op table ---------------------------------------------------------------------------- */

static const char *const torch_text[OP_COUNT] = {
#define TORCH(op, python) [op] = python,
#include "torch.def"
#undef TORCH
};

/* Names the helpers and Python use, which a script's names are kept apart from (a trailing _):
 * Python's keywords first (N_KEYWORDS of them), then built-ins, modules and the helpers'. */
#define N_KEYWORDS 35
static const char *const reserved[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if",
    "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
    "while", "with", "yield", "print", "len", "range", "float", "int", "list", "dict", "min",
    "max", "sum", "abs", "open", "type", "object", "str", "set", "map", "filter", "main",
    "argparse", "contextlib", "copy", "csv", "json", "math", "os", "struct", "sys", "warnings", "torch",
    "dist", "F", "nn", "NnRandom", "Data", "Run", "rng", "run", "args", "init_dense", "init_conv",
    "read_csv", "read_csv_rows", "read_images", "read_image", "read_pnm", "read_png", "ADAM7",
    "png_unfilter", "png_samples", "zlib", "split", "split_rows", "normalize", "toy_set", "class_sizes", "xor",
    "circles", "moons", "spirals", "blobs", "accuracy", "cross_entropy", "number",
    "tensor_text", "print_line", "labels", "nn_tensors", "save", "export_onnx", "state_dict_of", "linear_weights", "load",
    "schedule", "score", "Block", "batch_norms", "train", "arguments", "f32", "param", "train_formula", "M64", "PCG_MULT", "out", "X",
    "Y", "epoch", "update",
};

/* A model's class. A formula model's forward reads the script's names (main()'s), and only an
 * application of the model is checked (src/sema.h's ModelApp), so it is a function of main()
 * set as the class's forward where the script first applies the model. */
typedef struct ModelOut {
    const Symbol *sym;
    StrBuf head;            /* the class */
    char cls[96];           /* its name: NetModel */
    bool has_forward;       /* formula models: forward is set (where first applied) */
} ModelOut;

/* A definition's name in the program: the script's name, kept apart from Python's words and
 * the helpers' (a trailing _), and a name defined again gets a version (c, c_v2, c_v3), since
 * a formula defined before the second definition reads the first. */
typedef struct PyName {
    const Symbol *sym;      /* NULL for a data set's name, found by text */
    const char *name;       /* the script's (borrowed) */
    char py[80];
} PyName;

typedef struct Ex {
    StrBuf *out;            /* the whole program */
    StrBuf body;            /* main()'s statements */
    DiagSink *diag;
    int errors;
    int n_defs;             /* functions made for losses, metrics, schedules: loss_1, ... */
    const Symbol *const *bound;     /* names that are the parameters of the function being
                                       written (out, X, Y; epoch, update): plain names */
    int n_bound;
    const FnApp *fn;        /* a user function being inlined: its params are its arguments */
    const Symbol *self;     /* the formula model whose forward is being written: its params
                               are self.P */
    ModelOut models[64];    /* the models defined, in order */
    int n_models;
    const Symbol **params;  /* the params defined outside models, in order (owned) */
    int n_params, cap_params;
    PyName *names;          /* every definition's Python name, in order (owned) */
    int n_names, cap_names;
    const Symbol **formulas;    /* the lets that are formulas of params: functions (owned) */
    int n_formulas, cap_formulas;
    int n_hoisted;          /* random draws computed where their statement is: c_1, ... */
    bool deferred;          /* writing a function (a formula, a loss, a forward): its random
                               draws are made once, before it (c_K), as nn makes them */
} Ex;

static bool refuse(Ex *x, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool refuse(Ex *x, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(x->diag, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
    x->errors++;
    return false;
}

/* Whether `name` is one the program makes itself: loss_K, metric_K, schedule_K, c_K, fn_...
 * (a function's parameter), ending in Model or _vK. */
static bool generated(const char *name)
{
    static const char *const prefixes[] = { "loss_", "metric_", "schedule_", "c_" };
    if (strncmp(name, "fn_", 3) == 0) return true;
    for (size_t i = 0; i < NN_ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], n) == 0 && name[n] && strspn(name + n, "0123456789") ==
            strlen(name + n))
            return true;
    }
    size_t len = strlen(name);
    const char *v = strstr(name, "_v");
    return (len >= 5 && strcmp(name + len - 5, "Model") == 0)
           || (v && v[2] && strspn(v + 2, "0123456789") == strlen(v + 2));
}

/* A script name as a Python name, without a version: a trailing _ after a name that is
 * Python's, the helpers' or one the program makes, and after one that ends in _ (so that no
 * two names meet: split is split_, split_ is split__). */
static void py_name(StrBuf *sb, const char *name)
{
    sb_puts(sb, name);
    size_t len = strlen(name);
    bool taken = generated(name) || (len && name[len - 1] == '_');
    for (size_t i = 0; i < NN_ARRAY_LEN(reserved) && !taken; i++) taken = strcmp(name, reserved[i]) == 0;
    if (taken) sb_putc(sb, '_');
}

/* A new definition of `name` (sym, or NULL for a data set): its versioned Python name. */
static const char *define(Ex *x, const Symbol *sym, const char *name)
{
    int version = 1;
    for (int i = 0; i < x->n_names; i++) version += strcmp(x->names[i].name, name) == 0;
    if (x->n_names == x->cap_names) {
        x->cap_names = x->cap_names ? 2 * x->cap_names : 64;
        x->names = nn_realloc(x->names, (size_t)x->cap_names * sizeof *x->names);
    }
    PyName *pn = &x->names[x->n_names++];
    pn->sym = sym;
    pn->name = name;
    StrBuf sb;
    sb_init(&sb);
    py_name(&sb, name);
    if (version > 1) sb_printf(&sb, "_v%d", version);
    snprintf(pn->py, sizeof pn->py, "%s", sb.data);
    sb_free(&sb);
    return pn->py;
}

/* The Python name of a definition: by its symbol, else the latest of that name. */
static void ref_name(const Ex *x, StrBuf *sb, const Symbol *sym, const char *name)
{
    for (int i = x->n_names; i-- > 0;)
        if (sym && x->names[i].sym == sym) {
            sb_puts(sb, x->names[i].py);
            return;
        }
    for (int i = x->n_names; i-- > 0;)
        if (strcmp(x->names[i].name, name) == 0) {
            sb_puts(sb, x->names[i].py);
            return;
        }
    py_name(sb, name);
}

/* A Python string literal (of valid UTF-8: the checker of the caller makes sure). */
static void py_string(StrBuf *sb, const char *s, size_t len)
{
    sb_putc(sb, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') sb_printf(sb, "\\%c", c);
        else if (c == '\n') sb_puts(sb, "\\n");
        else if (c == '\t') sb_puts(sb, "\\t");
        else if (c < 0x20 || c == 0x7f) sb_printf(sb, "\\x%02x", c);
        else sb_putc(sb, (char)c);
    }
    sb_putc(sb, '"');
}

/* A number as a Python float literal (a float, so that torch.tensor(2.0) is float32). */
static void py_number(StrBuf *sb, double v)
{
    if (isinf(v)) {
        sb_puts(sb, v > 0 ? "math.inf" : "-math.inf");
        return;
    }
    if (isnan(v)) {
        sb_puts(sb, "math.nan");
        return;
    }
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", v);
    if (v < 0) sb_putc(sb, '(');    /* (-2.0) ** p, not -(2.0 ** p) */
    sb_puts(sb, buf);
    if (!strpbrk(buf, ".en")) sb_puts(sb, ".0");
    if (v < 0) sb_putc(sb, ')');
}

/* A float32 setting (a slope, a probability) as the shortest decimal that is that float:
 * 0.1, not 0.100000001. */
static void py_float(StrBuf *sb, float f)
{
    char buf[40];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    py_number(sb, strtod(buf, NULL));
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xc2)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* Text for a comment or the docstring: printable characters and valid UTF-8 as they are, a
 * line break (\n, \r, and the others Python knows) as `brk`, the rest (and quotes and
 * backslashes, which could end a docstring) as '?'. Nothing a script's text holds can then
 * become code. */
static void py_comment_text(StrBuf *sb, const char *s, size_t n, const char *brk)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (p[i] == '\n' || p[i] == '\r' || p[i] == '\v' || p[i] == '\f') {
            sb_puts(sb, brk);
            i += p[i] == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : 1;
            continue;
        }
        bool bad = k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == '"' || p[i] == '\\'))
                   || (k == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
                   || (k == 2 && p[i] == 0xc2 && p[i + 1] == 0x85);
        if (bad) sb_putc(sb, p[i] == '\t' ? ' ' : '?');
        else sb_append(sb, s + i, k);
        i += k ? k : 1;
    }
}

static void line(Ex *x, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void line(Ex *x, int indent, const char *fmt, ...)
{
    for (int i = 0; i < indent; i++) sb_puts(&x->body, "    ");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&x->body, fmt, ap);
    va_end(ap);
    sb_putc(&x->body, '\n');
}

/* ---- expressions ----------------------------------------------------------------------------- */

static bool expr(Ex *x, const AstNode *e, StrBuf *sb);

static bool is_bound(const Ex *x, const Symbol *sym)
{
    for (int i = 0; i < x->n_bound; i++)
        if (x->bound[i] == sym) return true;
    return false;
}

/* A dotted name (train_set.X) with its first part as a Python name. */
static void dotted_ref(const Ex *x, StrBuf *sb, const char *name)
{
    const char *dot = strchr(name, '.');
    StrBuf first;
    sb_init(&first);
    sb_append(&first, name, (size_t)(dot - name));
    ref_name(x, sb, NULL, first.data);
    sb_free(&first);
    sb_puts(sb, dot);
}

/* Whether param p is a dense layer's W, which torch.nn.Linear keeps transposed. */
static bool linear_weight(const Ex *x, const Symbol *p)
{
    for (int i = 0; i < x->n_models; i++) {
        const Model *m = x->models[i].sym->model;
        for (int k = 0; k < m->n_layers; k++)
            if (m->layers[k].W == p) return m->layers[k].kind == LAYER_DENSE;
    }
    return false;
}

/* A model's param as torch holds it: a layer's net.layer1.W and .b as net.layer1.weight
 * (transposed for a dense layer: weight.T) and net.layer1.bias; a formula model's line.w as
 * it is, and inside the model's own forward as self.w. */
static void param_ref(const Ex *x, StrBuf *sb, const Symbol *p)
{
    const char *dot = strchr(p->name, '.'), *last = strrchr(p->name, '.');
    size_t n = (size_t)(dot - p->name);
    if (x->self && strncmp(x->self->name, p->name, n) == 0 && x->self->name[n] == '\0') {
        sb_puts(sb, "self");
    } else {
        StrBuf model;
        sb_init(&model);
        sb_append(&model, p->name, n);
        ref_name(x, sb, NULL, model.data);
        sb_free(&model);
    }
    sb_append(sb, dot, (size_t)(last - dot) + 1);
    bool layer = last != dot;       /* net.layer1.W: a layer's; line.w: a formula's */
    if (layer && strcmp(last + 1, "W") == 0) sb_puts(sb, linear_weight(x, p) ? "weight.T" : "weight");
    else if (layer && strcmp(last + 1, "b") == 0) sb_puts(sb, "bias");
    else sb_puts(sb, last + 1);
}

static bool is_formula(const Ex *x, const Symbol *sym)
{
    for (int i = 0; i < x->n_formulas; i++)
        if (x->formulas[i] == sym) return true;
    return false;
}

static bool name_ref(Ex *x, const AstNode *e, StrBuf *sb)
{
    const Symbol *sym = e->sema.sym;
    for (int i = 0; x->fn && i < x->fn->n; i++)
        if (x->fn->params[i] == sym) {      /* the lambda's parameter: fn_a */
            sb_printf(sb, "fn_%s", sym->name);
            return true;
        }
    if (is_bound(x, sym)) {
        sb_puts(sb, sym->name);
        return true;
    }
    switch (sym->kind) {
    case SYM_LET:
    case SYM_DATA:
        if (sym->loop_var || sym->carried)
            return refuse(x, e->span, "cannot export '%s' to PyTorch: it is a loop's or a "
                          "block's value (loops and ifs are not exported)", sym->name);
        ref_name(x, sb, sym, sym->name);
        if (is_formula(x, sym)) sb_puts(sb, "()");
        return true;
    case SYM_PARAM:
        if (strchr(sym->name, '.')) param_ref(x, sb, sym);
        else ref_name(x, sb, sym, sym->name);
        return true;
    default:
        return refuse(x, e->span, "cannot export '%s' to PyTorch here", sym->name);
    }
}

/* {reduce}: nothing for every element, else the axes. */
static void reduce_args(StrBuf *sb, const OpAttrs *at)
{
    unsigned axes = at->axes;
    if (!axes && at->axis == NN_AXIS_ALL) return;
    if (!axes) axes = op_axis_bit(at->axis);
    sb_puts(sb, "dim=(");
    for (int a = 0; a < NN_MAX_RANK; a++)
        if (axes & op_axis_bit(a)) sb_printf(sb, "%d, ", a);
    sb_printf(sb, "), keepdim=%s", at->keepdim ? "True" : "False");
}

static void shape_args(StrBuf *sb, const Shape *s)
{
    for (int d = 0; d < s->rank; d++) sb_printf(sb, "%s%d", d ? ", " : "", s->dim[d]);
}

/* An input of an op: a constant number is a float where an operator takes it, a tensor where
 * a function does (torch.maximum(x, torch.tensor(0.0))). */
static bool operand(Ex *x, const AstNode *e, bool as_tensor, StrBuf *sb)
{
    if (e->sema.is_const && e->sema.shape.rank == 0 && as_tensor) {
        sb_puts(sb, "torch.tensor(");
        py_number(sb, e->sema.const_value);
        sb_putc(sb, ')');
        return true;
    }
    return expr(x, e, sb);
}

static bool is_key(const char *key, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(key, word, len) == 0;
}

/* Writes op's row of torch.def with its inputs and attributes. */
static bool op_text(Ex *x, const AstNode *e, OpKind op, const AstNode *const *in, int n,
                    StrBuf *sb)
{
    const char *t = torch_text[op];
    if (!t)
        return refuse(x, e->span, "cannot export '%s' to PyTorch: it has no counterpart there",
                      op_info(op)->name);
    unsigned leaf = OPF_LEAF | OPF_RANDOM;
    if (x->deferred && (op_info(op)->flags & leaf) == leaf) {
        /* drawn once, where the statement is, as nn draws it: not at every call */
        StrBuf draw;
        sb_init(&draw);
        x->deferred = false;
        bool ok = op_text(x, e, op, in, n, &draw);
        x->deferred = true;
        int k = ++x->n_hoisted;
        if (ok) line(x, 1, "c_%d = %s", k, draw.data);
        sb_printf(sb, "c_%d", k);
        sb_free(&draw);
        return ok;
    }
    const OpAttrs *at = &e->sema.attrs;
    bool as_tensor = t[0] != '(';
    for (const char *p = t; *p; p++) {
        if (*p != '{') {
            sb_putc(sb, *p);
            continue;
        }
        const char *end = strchr(p, '}');
        size_t len = (size_t)(end - p - 1);
        const char *key = p + 1;
        if (len == 1 && key[0] >= '0' && key[0] <= '2') {
            int i = key[0] - '0';
            NN_ASSERT(i < n);
            if (!operand(x, in[i], as_tensor, sb)) return false;
        } else if (is_key(key, len, "alpha")) {
            py_float(sb, at->alpha);
        } else if (is_key(key, len, "dim")) {
            sb_printf(sb, "%d", at->axis == NN_AXIS_ALL ? -1 : at->axis);
        } else if (is_key(key, len, "reduce")) {
            reduce_args(sb, at);
        } else if (is_key(key, len, "lo") || is_key(key, len, "hi")) {
            double v = key[0] == 'l' ? at->lo : at->hi;
            if (isinf(v)) sb_puts(sb, "None");
            else py_float(sb, (float)v);
        } else if (is_key(key, len, "p")) {
            py_float(sb, at->p);
        } else if (is_key(key, len, "dims")) {
            sb_putc(sb, '(');
            shape_args(sb, &e->sema.shape);
            sb_puts(sb, e->sema.shape.rank == 1 ? ",)" : ")");
        } else if (is_key(key, len, "kernel") || is_key(key, len, "stride")
                   || is_key(key, len, "pad")) {
            const int *v = key[0] == 'k' ? at->kernel : key[0] == 's' ? at->stride : at->pad;
            sb_printf(sb, "(%d, %d)", v[0], v[1]);
        } else if (is_key(key, len, "fill")) {
            py_float(sb, at->fill);
        } else if (is_key(key, len, "classes")) {
            sb_printf(sb, "%d", at->classes);
        } else if (is_key(key, len, "shape")) {
            shape_args(sb, op == OP_RESHAPE ? &at->shape : &e->sema.shape);
        } else {
            NN_ASSERT(!"an unknown key in torch.def");
        }
        p = end;
    }
    return true;
}

/* A literal tensor: [[1, 2], [3, 4]] as nested lists of its constants. */
static bool tensor_literal(Ex *x, const AstNode *e, StrBuf *sb)
{
    if (e->kind != AST_TENSOR) {
        if (!e->sema.is_const)
            return refuse(x, e->span, "cannot export this to PyTorch: a tensor literal's "
                          "elements must be numbers here");
        py_number(sb, e->sema.const_value);
        return true;
    }
    sb_putc(sb, '[');
    for (size_t i = 0; i < e->u.list.count; i++) {
        if (i) sb_puts(sb, ", ");
        if (!tensor_literal(x, e->u.list.items[i], sb)) return false;
    }
    sb_putc(sb, ']');
    return true;
}

static bool items(Ex *x, AstNode *const *list, int n, StrBuf *sb)
{
    for (int i = 0; i < n; i++) {
        if (i) sb_puts(sb, ", ");
        if (!expr(x, list[i], sb)) return false;
    }
    return true;
}

/* l2, params, stack, concat of several. */
static bool builtin(Ex *x, const AstNode *e, const SemaBuiltin *b, StrBuf *sb)
{
    switch (b->kind) {
    case BUILTIN_L2:
        sb_putc(sb, '(');
        for (int i = 0; i < b->n_params; i++) {
            if (i) sb_puts(sb, " + ");
            param_ref(x, sb, b->params[i]);
            sb_puts(sb, ".pow(2).sum()");
        }
        for (int i = 0; i < b->n_items; i++) {
            if (i || b->n_params) sb_puts(sb, " + ");
            sb_putc(sb, '(');
            if (!expr(x, b->items[i], sb)) return false;
            sb_puts(sb, ").pow(2).sum()");
        }
        if (!b->n_params && !b->n_items) sb_puts(sb, "0.0");
        sb_putc(sb, ')');
        return true;
    case BUILTIN_PARAMS:
        sb_puts(sb, "torch.cat([");
        for (int i = 0; i < b->n_params; i++) {
            if (i) sb_puts(sb, ", ");
            param_ref(x, sb, b->params[i]);
            sb_puts(sb, ".reshape(-1)");
        }
        sb_puts(sb, "])");
        return true;
    case BUILTIN_STACK:
    case BUILTIN_CONCAT:
        sb_puts(sb, b->kind == BUILTIN_STACK ? "torch.stack([" : "torch.cat([");
        if (!items(x, b->items, b->n_items, sb)) return false;
        sb_printf(sb, "], dim=%d)", b->axis);
        return true;
    case BUILTIN_NONE: break;
    }
    return refuse(x, e->span, "cannot export this call to PyTorch");
}

static bool model_forward(Ex *x, const ModelApp *app);

static bool call(Ex *x, const AstNode *e, StrBuf *sb)
{
    const SemaExtra *ex = e->sema.extra;
    if (ex && ex->app.model) {
        if (!model_forward(x, &ex->app)) return false;
        ref_name(x, sb, ex->app.model, ex->app.model->name);
        sb_putc(sb, '(');
        bool ok = expr(x, e->sema.operand, sb);
        sb_putc(sb, ')');
        return ok;
    }
    if (ex && ex->fnapp.body) {     /* (lambda fn_a, fn_b: BODY)(A, B): each argument once */
        const FnApp *app = &ex->fnapp, *outer = x->fn;
        sb_puts(sb, "(lambda");
        for (int i = 0; i < app->n; i++) sb_printf(sb, "%s fn_%s", i ? "," : "", app->params[i]->name);
        sb_puts(sb, ": ");
        x->fn = app;
        bool ok = expr(x, app->body, sb);
        x->fn = outer;
        sb_puts(sb, ")(");
        for (int i = 0; ok && i < app->n; i++) {
            if (i) sb_puts(sb, ", ");
            ok = expr(x, app->args[i], sb);
        }
        sb_putc(sb, ')');
        return ok;
    }
    if (ex && ex->builtin.kind != BUILTIN_NONE) return builtin(x, e, &ex->builtin, sb);
    const OpInfo *op = op_info(e->sema.op);
    if (op->arity == 3) {
        const AstNode *in[3] = { ex->builtin.items[0], ex->builtin.items[1], ex->builtin.items[2] };
        return op_text(x, e, op->kind, in, 3, sb);
    }
    const AstNode *in[2] = { e->sema.operand, e->sema.operand2 };
    return op_text(x, e, op->kind, in, in[1] ? 2 : in[0] ? 1 : 0, sb);
}

static bool field(Ex *x, const AstNode *e, StrBuf *sb)
{
    const Symbol *sym = e->sema.sym;
    if (e->sema.op == OP_GRAD)
        return refuse(x, e->span, "cannot export '.grad' to PyTorch: gradients are the "
                      "train blocks' own there");
    if (sym && sym->kind == SYM_PARAM) {
        param_ref(x, sb, sym);
        return true;
    }
    if (e->sema.op == OP_CONST && strcmp(e->u.field.field, "shape") == 0) {   /* x.shape */
        sb_puts(sb, "torch.tensor([");
        for (int d = 0; d < e->sema.attrs.shape.rank; d++)
            sb_printf(sb, "%s%d.0", d ? ", " : "", e->sema.attrs.shape.dim[d]);
        sb_puts(sb, "], device=Data.device)");
        return true;
    }
    if (sym) {      /* a data set's X or Y: the let "train_set.X" */
        dotted_ref(x, sb, sym->name);
        return true;
    }
    const AstNode *in[1] = { e->sema.operand };
    return op_text(x, e, e->sema.op, in, 1, sb);
}

static bool subscript(Ex *x, const AstNode *e, StrBuf *sb)
{
    const SemaExtra *ex = e->sema.extra;
    if (!expr(x, e->u.index.obj, sb)) return false;
    for (int k = 0; k < ex->n_steps; k++) {
        const IndexStep *st = &ex->steps[k];
        if (st->range) {
            sb_printf(sb, ".narrow(%d, %d, %d)", st->axis, st->start, st->stop - st->start);
            continue;
        }
        sb_printf(sb, ".select(%d, int(", st->axis);
        if (!expr(x, st->index, sb)) return false;
        sb_puts(sb, "))");
    }
    return true;
}

static bool expr(Ex *x, const AstNode *e, StrBuf *sb)
{
    if (e->sema.is_const && e->sema.shape.rank == 0 && e->kind != AST_STRING) {
        py_number(sb, e->sema.const_value);
        return true;
    }
    switch (e->kind) {
    case AST_NUM: py_number(sb, e->u.num); return true;
    case AST_TENSOR:
        sb_puts(sb, "torch.tensor(");
        if (!tensor_literal(x, e, sb)) return false;
        sb_puts(sb, ", device=Data.device)");
        return true;
    case AST_NAME: return name_ref(x, e, sb);
    case AST_UNARY: {
        const AstNode *in[1] = { e->u.op.a };
        return op_text(x, e, e->sema.op, in, 1, sb);
    }
    case AST_BINARY: {
        const AstNode *in[2] = { e->u.op.a, e->u.op.b };
        return op_text(x, e, e->sema.op, in, 2, sb);
    }
    case AST_CALL: return call(x, e, sb);
    case AST_FIELD: return field(x, e, sb);
    case AST_INDEX: return subscript(x, e, sb);
    default: break;
    }
    return refuse(x, e->span, "cannot export this to PyTorch");
}

/* ---- models ------------------------------------------------------------------------------------ */

static const char *init_word(OpKind op)
{
    switch (op) {
    case OP_HE: return "he";
    case OP_XAVIER: return "xavier";
    case OP_INIT_UNIFORM: return "uniform";
    case OP_INIT_NORMAL: return "normal";
    case OP_ONES: return "ones";
    default: return "zeros";
    }
}

/* The class's name: the model's, capitalised ("net" -> "Net"). */
static void class_name(const Ex *x, const char *py, char *out, size_t cap)
{
    snprintf(out, cap, "%c%sModel", py[0] >= 'a' && py[0] <= 'z' ? py[0] - 'a' + 'A' : py[0],
             py + 1);
    for (int i = 0, k = 2; i < x->n_models; i++)     /* net and Net: NetModel, NetModel2 */
        if (strcmp(x->models[i].cls, out) == 0) {
            snprintf(out, cap, "%c%sModel%d", py[0] >= 'a' && py[0] <= 'z' ? py[0] - 'a' + 'A'
                                                                        : py[0], py + 1, k++);
            i = -1;
        }
}

/* One layer's line of forward(). */
static bool forward_line(Ex *x, const Layer *ly, int *depth, StrBuf *sb)
{
    switch (ly->kind) {
    case LAYER_DENSE:
        sb_printf(sb, "        x = self.layer%d(x)\n", ly->index);
        return true;
    case LAYER_ACT: {
        const char *t = torch_text[ly->op];
        if (!t)
            return refuse(x, ly->span, "cannot export the layer '%s' to PyTorch",
                          op_info(ly->op)->name);
        sb_puts(sb, "        x = ");
        for (const char *p = t; *p; p++) {
            if (strncmp(p, "{0}", 3) == 0) sb_putc(sb, 'x'), p += 2;
            else if (strncmp(p, "{alpha}", 7) == 0) py_float(sb, ly->alpha), p += 6;
            else if (strncmp(p, "{dim}", 5) == 0) sb_puts(sb, "-1"), p += 4;
            else sb_putc(sb, *p);
        }
        sb_putc(sb, '\n');
        return true;
    }
    case LAYER_DROPOUT:
        sb_puts(sb, "        x = F.dropout(x, ");
        py_float(sb, ly->p);
        sb_puts(sb, ", self.training)\n");
        return true;
    case LAYER_RES_BEGIN:
        sb_printf(sb, "        r%d = x\n", (*depth)++);
        return true;
    case LAYER_RES_END:
        sb_printf(sb, "        x = x + r%d\n", --*depth);
        return true;
    case LAYER_INPUT:
        return true;
    case LAYER_CONV:
        sb_printf(sb, "        x = self.layer%d(x)\n", ly->index);
        return true;
    case LAYER_POOL:
        sb_printf(sb, "        x = F.%s(x, %d, stride=%d)\n",
                  ly->op == OP_MAXPOOL2D ? "max_pool2d" : "avg_pool2d", ly->kernel, ly->stride);
        return true;
    case LAYER_FLATTEN:
        sb_puts(sb, "        x = torch.flatten(x, 1)\n");
        return true;
    case LAYER_NORM:
    case LAYER_BATCHNORM:
        sb_printf(sb, "        x = self.layer%d(x)\n", ly->index);
        return true;
    }
    return false;
}

/* The model's source as comment lines. */
static void source_comment(StrBuf *sb, const char *src, const char *indent)
{
    StrBuf brk;
    sb_init(&brk);
    sb_printf(&brk, "\n%s# ", indent);
    sb_printf(sb, "%s# ", indent);
    py_comment_text(sb, src, strlen(src), brk.data);
    sb_putc(sb, '\n');
    sb_free(&brk);
}

static ModelOut *model_out(Ex *x, const Symbol *sym)
{
    for (int i = 0; i < x->n_models; i++)
        if (x->models[i].sym == sym) return &x->models[i];
    return NULL;
}

/* A layer model's class: nn.Linear per dense layer, drawn as nn draws it, and its forward. */
static bool layer_class(Ex *x, const Model *m, StrBuf *sb)
{
    sb_puts(sb, "    def __init__(self, rng):\n        super().__init__()\n");
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *ly = &m->layers[i];
        if (ly->kind == LAYER_DENSE)
            sb_printf(sb, "        self.layer%d = nn.Linear(%d, %d)\n", ly->index, ly->in,
                      ly->out);
        else if (ly->kind == LAYER_CONV)
            sb_printf(sb, "        self.layer%d = nn.Conv%dd(%d, %d, %d, stride=%d, padding=%d)\n",
                      ly->index, ly->conv1d ? 1 : 2, ly->in, ly->out, ly->kernel, ly->stride,
                      ly->pad);
        else if (ly->kind == LAYER_NORM) {     /* weight ones, bias zeros, as nn starts them */
            sb_printf(sb, "        self.layer%d = nn.LayerNorm([", ly->index);
            shape_args(sb, &ly->shape);
            sb_puts(sb, "])\n");
        } else if (ly->kind == LAYER_BATCHNORM) {  /* eps and momentum: torch's defaults */
            sb_printf(sb, "        self.layer%d = nn.BatchNorm%dd(%d)\n", ly->index,
                      ly->shape.rank == 3 ? 2 : 1, ly->shape.dim[0]);
        }
    }
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *ly = &m->layers[i];
        if (ly->kind == LAYER_DENSE)
            sb_printf(sb, "        init_dense(self.layer%d, \"%s\", rng)\n", ly->index,
                      init_word(ly->init));
        else if (ly->kind == LAYER_CONV)
            sb_printf(sb, "        init_conv(self.layer%d, rng)\n", ly->index);
    }
    sb_puts(sb, "\n    def forward(self, x):\n");
    int depth = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (!forward_line(x, &m->layers[i], &depth, sb)) return false;
    sb_puts(sb, "        return x\n");
    return true;
}

/* A formula model's class: a Parameter per param, given its first value (computed in main(),
 * where the script's names are); its forward is set in main() (model_forward). */
static void formula_class(const Model *m, StrBuf *sb)
{
    sb_puts(sb, "    def __init__(self");
    for (int i = 0; i < m->n_params; i++) sb_printf(sb, ", %s", m->param_names[i]);
    sb_puts(sb, "):\n        super().__init__()\n");
    for (int i = 0; i < m->n_params; i++)
        sb_printf(sb, "        self.%s = param(%s)\n", m->param_names[i], m->param_names[i]);
    sb_puts(sb, "    # forward: set in main() where the script first applies the model\n");
}

/* A formula model's param names become attributes and keywords: not Python's words, nor
 * torch.nn.Module's own attributes. */
static bool formula_names(Ex *x, const AstNode *st)
{
    static const char *const taken[] = {
        "self", "to", "training", "train", "eval", "cuda", "cpu", "forward", "parameters",
        "modules", "children", "state_dict", "load_state_dict", "apply", "float", "double",
        "half", "type", "zero_grad", "register_parameter", "register_buffer", "add_module",
        "named_parameters", "buffers", "extra_repr", "requires_grad_", "share_memory",
    };
    bool ok = true;
    for (size_t i = 0; i < st->u.block.items.count; i++) {
        const AstNode *it = st->u.block.items.items[i];
        if (it->kind != AST_PARAM) continue;
        bool bad = false;
        for (size_t k = 0; k < NN_ARRAY_LEN(taken); k++) bad |= strcmp(it->u.bind.name, taken[k]) == 0;
        for (size_t k = 0; k < N_KEYWORDS; k++) bad |= strcmp(it->u.bind.name, reserved[k]) == 0;
        if (bad)
            ok = refuse(x, it->u.bind.name_span, "cannot export a param named '%s' to PyTorch: "
                        "it is a word of Python or of torch.nn.Module; rename it",
                        it->u.bind.name);
    }
    return ok;
}

/* The line of main() that makes the model: NetModel(rng), or LineModel(w=..., b=...). */
static bool model_line(Ex *x, const AstNode *st, const Model *m, const char *cls)
{
    StrBuf l;
    sb_init(&l);
    sb_printf(&l, "%s(", cls);
    bool ok = true;
    if (!m->formula) sb_puts(&l, "rng");
    for (size_t i = 0, k = 0; ok && m->formula && i < st->u.block.items.count; i++) {
        const AstNode *it = st->u.block.items.items[i];
        if (it->kind != AST_PARAM) continue;
        sb_printf(&l, "%s%s=", k++ ? ", " : "", it->u.bind.name);
        ok = expr(x, it->u.bind.value, &l);
    }
    sb_puts(&l, ").to(run.device).eval()");
    if (ok) line(x, 1, "%s = %s", define(x, st->sema.sym, st->sema.sym->name), l.data);
    sb_free(&l);
    return ok;
}

static void model_stmt(Ex *x, const AstNode *st)
{
    const Symbol *sym = st->sema.sym;
    const Model *m = sym->model;
    if (x->n_models == (int)NN_ARRAY_LEN(x->models)) {
        refuse(x, st->span, "cannot export more than %d models", x->n_models);
        return;
    }
    if (m->formula && !formula_names(x, st)) return;
    StrBuf py;
    sb_init(&py);
    py_name(&py, sym->name);
    ModelOut *mo = &x->models[x->n_models];
    class_name(x, py.data, mo->cls, sizeof mo->cls);
    sb_free(&py);
    x->n_models++;
    mo->sym = sym;
    StrBuf *sb = &mo->head;
    sb_printf(sb, "\n\nclass %s(nn.Module):\n", mo->cls);
    source_comment(sb, m->source, "    ");
    if (m->formula) formula_class(m, sb);
    else if (!layer_class(x, m, sb)) return;
    model_line(x, st, m, mo->cls);
}

/* A formula model's forward, from its first application's checked body, set on its class in
 * main() before the statement that first applies it: the argument is fn_ARG, the model's params
 * self.P, the script's other names main()'s. */
static bool model_forward(Ex *x, const ModelApp *app)
{
    const Model *m = app->model->model;
    ModelOut *mo = model_out(x, app->model);
    if (!m->formula || !mo || mo->has_forward) return true;
    const FnApp *outer_fn = x->fn;
    FnApp as_fn = { NULL, (Symbol **)&app->arg, NULL, 1, NULL };   /* the argument: fn_ARG */
    x->fn = &as_fn;
    x->self = app->model;
    bool outer_deferred = x->deferred;
    x->deferred = true;
    StrBuf body;
    sb_init(&body);
    bool ok = expr(x, app->body, &body);
    x->deferred = outer_deferred;
    x->self = NULL;
    x->fn = outer_fn;
    if (ok) {
        mo->has_forward = true;
        line(x, 1, "# %s's forward reads the script's names: set here, where it is first used",
             app->model->name);
        line(x, 1, "%s.forward = lambda self, fn_%s: %s", mo->cls, app->arg->name, body.data);
    }
    sb_free(&body);
    return ok;
}

/* ---- data ------------------------------------------------------------------------------------- */

/* The string argument of a call: positional `pos`, or named `name`. */
static const AstNode *string_arg(const AstNode *call, int pos, const char *name)
{
    int k = 0;
    for (size_t i = 0; i < call->u.call.args.count; i++) {
        const AstNode *a = call->u.call.args.items[i];
        bool named = a->u.bind.name != NULL;
        if ((named && strcmp(a->u.bind.name, name) == 0) || (!named && k++ == pos))
            return a->u.bind.value->kind == AST_STRING ? a->u.bind.value : NULL;
    }
    return NULL;
}

/* The names a data function defines, "a, b", into sb. */
static void targets(Ex *x, const SemaData *d, StrBuf *sb)
{
    for (int i = 0; i < d->n_dst; i++) {
        if (i) sb_puts(sb, ", ");
        sb_puts(sb, define(x, d->dst[i], d->dst[i]->name));
    }
    if (d->n_dst == 1 && d->fn == DATA_NORMALIZE) sb_putc(sb, ',');
}

static void data_stmt(Ex *x, const AstNode *call, const SemaData *d)
{
    StrBuf l;
    sb_init(&l);
    switch (d->fn) {
    case DATA_CSV: {
        const AstNode *file = string_arg(call, 0, "file"), *target = string_arg(call, 1, "target");
        const Shape *sample = &d->dst[0]->data->sample;
        sb_puts(&l, "read_csv(");
        py_string(&l, file->u.str.text, file->u.str.len);
        sb_puts(&l, ", ");
        py_string(&l, target->u.str.text, target->u.str.len);
        if (sample->rank > 1) {
            sb_puts(&l, ", shape=(");
            shape_args(&l, sample);
            sb_putc(&l, ')');
        }
        sb_putc(&l, ')');
        break;
    }
    case DATA_IMAGES: {
        const AstNode *folder = string_arg(call, 0, "folder");
        const Shape *sample = &d->dst[0]->data->sample;
        sb_puts(&l, "read_images(");
        py_string(&l, folder->u.str.text, folder->u.str.len);
        sb_puts(&l, ", shape=(");
        shape_args(&l, sample);
        sb_puts(&l, sample->rank == 1 ? ",))" : "))");
        break;
    }
    case DATA_XOR:
    case DATA_CIRCLES:
    case DATA_MOONS:
        sb_printf(&l, "%s(%d, ", d->fn == DATA_XOR ? "xor" : d->fn == DATA_CIRCLES ? "circles"
                                                                            : "moons", d->n);
        py_number(&l, d->noise);
        sb_puts(&l, ", rng)");
        break;
    case DATA_SPIRALS:
    case DATA_BLOBS:
        sb_printf(&l, "%s(%d, %d, ", d->fn == DATA_SPIRALS ? "spirals" : "blobs", d->k, d->n);
        py_number(&l, d->noise);
        sb_puts(&l, ", rng)");
        break;
    case DATA_SPLIT:
        sb_puts(&l, "split(");
        ref_name(x, &l, d->src[0], d->src[0]->name);
        sb_printf(&l, ", %d, rng)", d->dst[0]->data->rows);
        break;
    case DATA_SPLIT_ROWS: {
        const AstNode *file = string_arg(call, 1, "");
        sb_puts(&l, "split_rows(");
        ref_name(x, &l, d->src[0], d->src[0]->name);
        sb_puts(&l, ", ");
        py_string(&l, file->u.str.text, file->u.str.len);
        sb_putc(&l, ')');
        break;
    }
    case DATA_NORMALIZE:
        sb_puts(&l, "normalize(");
        for (int i = 0; i < d->n_src; i++) {
            if (i) sb_puts(&l, ", ");
            ref_name(x, &l, d->src[i], d->src[i]->name);
        }
        sb_putc(&l, ')');
        break;
    }
    StrBuf t;
    sb_init(&t);
    targets(x, d, &t);
    line(x, 1, "%s = %s", t.data, l.data);
    sb_free(&t);
    sb_free(&l);
}

static void add_formula(Ex *x, const Symbol *sym);

/* Whether an expression reads a param (a model's too) or a formula of params: then a let of it
 * is a formula in nn, computed where it is used (after training, the params as they are then),
 * whatever its gradient (a comparison or detach of a param has none). */
static bool reads_params(const Ex *x, const AstNode *e)
{
    if (!e) return false;
    const SemaExtra *ex = e->sema.extra;
    switch (e->kind) {
    case AST_NAME:
        return e->sema.sym && (e->sema.sym->kind == SYM_PARAM || is_formula(x, e->sema.sym));
    case AST_UNARY:
    case AST_BINARY:
    case AST_RANGE: return reads_params(x, e->u.op.a) || reads_params(x, e->u.op.b);
    case AST_FIELD:
        return (e->sema.sym && e->sema.sym->kind == SYM_PARAM) || reads_params(x, e->u.field.obj);
    case AST_INDEX:
        for (size_t i = 0; i < e->u.index.subs.count; i++)
            if (reads_params(x, e->u.index.subs.items[i])) return true;
        return reads_params(x, e->u.index.obj);
    case AST_TENSOR:
        for (size_t i = 0; i < e->u.list.count; i++)
            if (reads_params(x, e->u.list.items[i])) return true;
        return false;
    case AST_ARG: return reads_params(x, e->u.bind.value);
    case AST_CALL:
        if (ex && (ex->app.model || (ex->builtin.kind != BUILTIN_NONE && ex->builtin.n_params)))
            return true;
        if (ex && ex->fnapp.body && reads_params(x, ex->fnapp.body)) return true;
        for (int i = 0; ex && i < ex->builtin.n_items; i++)
            if (reads_params(x, ex->builtin.items[i])) return true;
        for (size_t i = 0; i < e->u.call.args.count; i++)
            if (reads_params(x, e->u.call.args.items[i])) return true;
        return false;
    default: return false;
    }
}

static void let_stmt(Ex *x, const AstNode *st)
{
    const AstNode *v = st->u.bind.value;
    if (st->sema.extra && st->sema.extra->set_value) {
        refuse(x, st->span, "cannot export a new value of '%s' inside a block to PyTorch "
               "(loops and ifs are not exported)", st->u.bind.name);
        return;
    }
    if (st->sema.extra) {       /* a data function */
        data_stmt(x, v, &st->sema.extra->data);
        return;
    }
    const Symbol *sym = st->sema.sym;
    bool formula = reads_params(x, v);
    StrBuf l;
    sb_init(&l);
    bool outer = x->deferred;
    x->deferred = formula;
    bool ok = expr(x, v, &l);
    x->deferred = outer;
    if (ok && formula) {
        line(x, 1, "def %s():  # a formula of params: computed where it is used",
             define(x, sym, sym->name));
        line(x, 2, "return %s", l.data);
        add_formula(x, sym);
    } else if (ok) {
        line(x, 1, "%s = %s", define(x, sym, sym->name), l.data);
    }
    sb_free(&l);
}

static void add_formula(Ex *x, const Symbol *sym)
{
    if (x->n_formulas == x->cap_formulas) {
        x->cap_formulas = x->cap_formulas ? 2 * x->cap_formulas : 32;
        x->formulas = nn_realloc(x->formulas, (size_t)x->cap_formulas * sizeof *x->formulas);
    }
    x->formulas[x->n_formulas++] = sym;
}

/* ---- train blocks ------------------------------------------------------------------------------ */

/* A function of (out, Y, X) for a loss or metric formula; its name into sb. */
static bool pass_function(Ex *x, const PassFormula *pf, const AstNode *formula, const char *what,
                          StrBuf *sb)
{
    const Symbol *bound[3] = { pf->out, pf->y, pf->x };
    const Symbol *const *outer = x->bound;
    int n_outer = x->n_bound;
    x->bound = bound;
    x->n_bound = 3;
    StrBuf l;
    sb_init(&l);
    int k = ++x->n_defs;
    sb_printf(&l, "def %s_%d(out, Y, X):\n        return ", what, k);
    x->deferred = true;
    bool ok = expr(x, formula, &l);
    x->deferred = false;
    if (ok) line(x, 1, "%s", l.data);
    sb_free(&l);
    x->bound = outer;
    x->n_bound = n_outer;
    sb_printf(sb, "%s_%d", what, k);
    return ok;
}

/* optimizer=lambda params: torch.optim.Adam(params, lr=..., betas=(..., ...), ...): every
 * argument of the optimizer's row (optim.h: PyTorch's keywords, but betas in two), as the
 * decimal written. */
static void optimizer_args(const OptimConfig *c, StrBuf *sb)
{
    static const char *const cls[] = { [OPTIM_SGD] = "SGD", [OPTIM_ADAM] = "Adam",
                                       [OPTIM_ADAMW] = "AdamW", [OPTIM_RMSPROP] = "RMSprop" };
    sb_printf(sb, "optimizer=lambda params: torch.optim.%s(params", cls[c->kind]);
    int n;
    const ArgSpec *args = optim_args(c->kind, &n);
    for (int i = 0; i < n; i++) {
        const char *name = args[i].name;
        double v = optim_decimal((float)optim_option(c, name));
        if (strcmp(name, "beta2") == 0) continue;
        if (strcmp(name, "beta1") == 0) {
            sb_puts(sb, ", betas=(");
            py_number(sb, v);
            sb_puts(sb, ", ");
            py_number(sb, optim_decimal((float)optim_option(c, "beta2")));
            sb_putc(sb, ')');
        } else if (args[i].kind == ARG_FLAG) {
            sb_printf(sb, ", %s=%s", name, v != 0 ? "True" : "False");
        } else {
            sb_printf(sb, ", %s=", name);
            py_number(sb, v);
        }
    }
    sb_putc(sb, ')');
}

/* A formula schedule: def sched_K(epoch, update): return FACTOR. */
static bool schedule_function(Ex *x, const SemaTrain *t, StrBuf *sb)
{
    const Symbol *bound[2] = { t->sched_epoch, t->sched_update };
    x->bound = bound;
    x->n_bound = 2;
    StrBuf l;
    sb_init(&l);
    int k = ++x->n_defs;
    sb_printf(&l, "def schedule_%d(epoch, update):\n        return float(", k);
    x->deferred = true;
    bool ok = expr(x, t->sched_formula, &l);
    x->deferred = false;
    sb_putc(&l, ')');
    if (ok) line(x, 1, "%s", l.data);
    sb_free(&l);
    x->bound = NULL;
    x->n_bound = 0;
    sb_printf(sb, "schedule_%d", k);
    return ok;
}

static bool schedule_args_text(Ex *x, const SemaTrain *t, StrBuf *sb)
{
    const Schedule *s = &t->set.sched;
    if (s->phases == 0) return true;
    sb_puts(sb, ",\n          sched=([");
    for (int i = 0; i < s->phases; i++) {
        const SchedPhase *p = &s->phase[i];
        sb_printf(sb, "%s(\"%s\", {", i ? ", " : "", schedule_name(p->kind));
        if (p->kind == SCHED_FORMULA) {
            sb_puts(sb, "\"factor\": ");
            if (!schedule_function(x, t, sb)) return false;
        }
        int n;
        const ArgSpec *args = schedule_args(p->kind, &n);
        for (int a = 0; a < n; a++) {
            sb_printf(sb, "%s\"%s\": ", a ? ", " : "", args[a].name);
            py_number(sb, p->arg[a]);
        }
        sb_puts(sb, "})");
    }
    sb_printf(sb, "], %ld)", s->milestone);
    if (t->set.sched_per_update) sb_puts(sb, ", per_update=True");
    return true;
}

/* The data trained on: a data set's name when X and Y are its fields, else Data(X, Y). */
static bool data_arg(Ex *x, const AstNode *X, const AstNode *Y, StrBuf *sb)
{
    const Symbol *sx = X->kind == AST_FIELD ? X->sema.sym : NULL;
    const Symbol *sy = Y->kind == AST_FIELD ? Y->sema.sym : NULL;
    size_t n = sx ? strlen(sx->name) : 0;
    if (sx && sy && sx->kind == SYM_LET && n > 2 && strncmp(sx->name, sy->name, n - 1) == 0
        && strcmp(sx->name + n - 2, ".X") == 0 && strcmp(sy->name + n - 2, ".Y") == 0) {
        StrBuf first;
        sb_init(&first);
        sb_append(&first, sx->name, n - 2);
        ref_name(x, sb, NULL, first.data);
        sb_free(&first);
        return true;
    }
    sb_puts(sb, "Data(");
    if (!expr(x, X, sb)) return false;
    sb_puts(sb, ", ");
    if (!expr(x, Y, sb)) return false;
    sb_putc(sb, ')');
    return true;
}

/* Settings that change what nn shows, not what it trains: a comment in the program. */
static void left_out(Ex *x, const AstNode *st)
{
    static const char *const words[] = { "trace", "break", "grad_norms" };
    for (size_t i = 0; i < st->u.train.settings.count; i++) {
        const AstNode *s = st->u.train.settings.items[i];
        for (size_t w = 0; w < NN_ARRAY_LEN(words); w++)
            if (strcmp(s->u.setting.name, words[w]) == 0)
                line(x, 1, "# nn's '%s' setting (what nn shows while training) is left out",
                     words[w]);
    }
}

/* The built-in loss of (out, Y, X). */
static void builtin_loss(OpKind loss, StrBuf *c)
{
    sb_puts(c, "lambda out, Y, X: ");
    for (const char *p = torch_text[loss]; *p; p++) {     /* F.mse_loss({0}, {1}) */
        if (strncmp(p, "{0}", 3) == 0) sb_puts(c, "out"), p += 2;
        else if (strncmp(p, "{1}", 3) == 0) sb_puts(c, "Y"), p += 2;
        else sb_putc(c, *p);
    }
}

/* The settings both kinds of block have: the optimizer, epochs, clip, log, early stop and the
 * schedule. */
static bool common_settings(Ex *x, const SemaTrain *t, StrBuf *c)
{
    sb_puts(c, ",\n          ");
    optimizer_args(&t->set.optim, c);
    sb_printf(c, ",\n          epochs=%d", t->set.epochs);
    if (t->set.clip > 0) {
        sb_puts(c, ", clip=");
        py_number(c, t->set.clip);
    }
    if (t->set.log_every) sb_printf(c, ", log_every=%d", t->set.log_every);
    if (t->set.patience) sb_printf(c, ", patience=%d", t->set.patience);
    return schedule_args_text(x, t, c);
}

/* [w, *net.parameters(), ...]: every param defined so far, which a block trains when its loss
 * reaches them (nn trains every param its loss's gradient reaches). */
static void every_param(const Ex *x, StrBuf *c)
{
    sb_putc(c, '[');
    for (int i = 0; i < x->n_params; i++) {
        sb_puts(c, i ? ", " : "");
        ref_name(x, c, x->params[i], x->params[i]->name);
    }
    for (int i = 0; i < x->n_models; i++) {
        sb_puts(c, i || x->n_params ? ", *" : "*");
        ref_name(x, c, x->models[i].sym, x->models[i].sym->name);
        sb_puts(c, ".parameters()");
    }
    sb_putc(c, ']');
}

/* train MODEL on X, Y: train(model, data, run, rng, settings...). */
static bool data_call(Ex *x, const AstNode *st, const SemaTrain *t, StrBuf *c)
{
    if (!model_forward(x, &t->batch_app)) return false;
    sb_puts(c, "train(");
    ref_name(x, c, t->model, t->model->name);
    sb_puts(c, ", ");
    if (!data_arg(x, st->u.train.x, st->u.train.y, c)) return false;
    sb_puts(c, ", run, rng,\n          loss=");
    if (t->loss_formula) {
        if (!pass_function(x, &t->batch_f, t->batch_f.loss, "loss", c)) return false;
    } else {
        builtin_loss(t->loss, c);
    }
    sb_printf(c, ", loss_name=\"%s\"", t->loss_formula ? "loss" : op_info(t->loss)->name);
    if (!common_settings(x, t, c)) return false;
    sb_printf(c, ",\n          batch=%d", t->set.batch);
    if (t->set.accumulate > 1) sb_printf(c, ", accumulate=%d", t->set.accumulate);
    if (!t->set.shuffle) sb_puts(c, ", shuffle=False");
    if (t->set.metric) {
        sb_puts(c, ",\n          metric=");
        if (t->metric_formula) {
            if (!pass_function(x, &t->batch_f, t->batch_f.metric, "metric", c)) return false;
        } else {
            /* of probabilities: after a sigmoid for bce_logits (lower_train.c) */
            sb_puts(c, t->loss == OP_BCE_LOGITS ? "lambda out, Y, X: accuracy(torch.sigmoid(out), Y)"
                                                : "lambda out, Y, X: accuracy(out, Y)");
        }
        sb_printf(c, ", metric_name=\"%s\"", t->metric_name);
    }
    if (t->has_val && t->val_given) {
        sb_puts(c, ",\n          validation=");
        if (!data_arg(x, t->vx, t->vy, c)) return false;
    } else if (t->has_val) {
        sb_printf(c, ", val_rows=%d", t->val_rows);
    }
    if (x->n_params || x->n_models > 1) {   /* a formula may reach params outside the model */
        sb_puts(c, ",\n          candidates=");
        every_param(x, c);
    }
    sb_putc(c, ')');
    return true;
}

/* train LOSS: def loss_K(): return LOSS, then train_formula(loss_K, the params so far, ...),
 * which trains those the loss's gradient reaches. */
static bool formula_call(Ex *x, const AstNode *st, const SemaTrain *t, StrBuf *c)
{
    StrBuf l;
    sb_init(&l);
    int k = ++x->n_defs;
    sb_printf(&l, "def loss_%d():\n        return ", k);
    x->deferred = true;
    bool ok = expr(x, st->u.train.target, &l);
    x->deferred = false;
    if (ok) line(x, 1, "%s", l.data);
    sb_free(&l);
    if (!ok) return false;
    sb_printf(c, "train_formula(loss_%d, ", k);
    every_param(x, c);
    sb_puts(c, ", run");
    if (!common_settings(x, t, c)) return false;
    sb_putc(c, ')');
    return true;
}

/* Where a train block's setting NAME is written (the block's span if it is not). */
static Span setting_span(const AstNode *st, const char *name)
{
    for (size_t i = 0; i < st->u.train.settings.count; i++) {
        const AstNode *s = st->u.train.settings.items[i];
        if (strcmp(s->u.setting.name, name) == 0) return s->span;
    }
    return st->span;
}

static void train_stmt(Ex *x, const AstNode *st)
{
    const SemaTrain *t = &st->sema.extra->train;
    if (t->resume) {
        refuse(x, setting_span(st, "resume"), "cannot export 'resume' to PyTorch: it continues "
               "from nn's optimizer state, which train.py does not read");
        return;
    }
    left_out(x, st);
    StrBuf c;
    sb_init(&c);
    if ((t->over_data ? data_call : formula_call)(x, st, t, &c)) line(x, 1, "%s", c.data);
    sb_free(&c);
}

/* ---- print, save, load ------------------------------------------------------------------------- */

static bool print_item(Ex *x, const AstNode *it, StrBuf *sb)
{
    const SemaExtra *ex = it->sema.extra;
    if (it->kind == AST_STRING) {
        for (size_t i = 0; i < it->u.str.len;) {
            size_t k = utf8_seq((const unsigned char *)it->u.str.text + i, it->u.str.len - i);
            if (!k) return refuse(x, it->span, "cannot export this string to PyTorch: it is not "
                                  "UTF-8 text");
            i += k;
        }
        py_string(sb, it->u.str.text, it->u.str.len);
        return true;
    }
    if (ex && ex->text) {
        py_string(sb, ex->text, strlen(ex->text));
        return true;
    }
    if (ex && ex->labels) {
        sb_puts(sb, "labels(");
        ref_name(x, sb, NULL, it->u.call.args.items[0]->u.bind.value->u.name);
        sb_puts(sb, ".classes, ");
        if (!expr(x, it->sema.operand, sb)) return false;
        sb_putc(sb, ')');
        return true;
    }
    return expr(x, it, sb);     /* a tensor: Run.print lays it out */
}

static void print_stmt(Ex *x, AstNode *const *list, size_t n)
{
    StrBuf l;
    sb_init(&l);
    sb_puts(&l, "run.print(");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_puts(&l, ", ");
        if (!print_item(x, list[i], &l)) {
            sb_free(&l);
            return;
        }
    }
    sb_putc(&l, ')');
    line(x, 1, "%s", l.data);
    sb_free(&l);
}

static void file_stmt(Ex *x, const AstNode *st)
{
    const SemaExtra *ex = st->sema.extra;
    StrBuf l;
    sb_init(&l);
    const AstNode *path = st->u.file.path;
    if (st->kind == AST_LOAD) {
        line(x, 1, "run.wait()");
        sb_puts(&l, "load(");
        ref_name(x, &l, st->sema.sym, st->u.file.name);
        sb_puts(&l, ", ");
        py_string(&l, path->u.str.text, path->u.str.len);
        sb_putc(&l, ')');
        line(x, 1, "%s", l.data);
    } else if (ex->onnx) {
        sb_puts(&l, "export_onnx(");
        ref_name(x, &l, st->sema.sym, st->u.file.name);
        sb_puts(&l, ", (");
        shape_args(&l, &st->sema.sym->model->in_shape);
        sb_puts(&l, st->sema.sym->model->in_shape.rank == 1 ? ",), " : "), ");
        py_string(&l, path->u.str.text, path->u.str.len);
        sb_putc(&l, ')');
        line(x, 1, "if run.main:");
        line(x, 2, "%s", l.data);
    } else {
        sb_puts(&l, "save(");
        ref_name(x, &l, st->sema.sym, st->u.file.name);
        sb_puts(&l, ", ");
        py_string(&l, path->u.str.text, path->u.str.len);
        sb_putc(&l, ')');
        line(x, 1, "if run.main:");
        line(x, 2, "%s", l.data);
    }
    sb_free(&l);
}

/* ---- statements ------------------------------------------------------------------------------- */

static void seed_stmt(Ex *x, const AstNode *st)
{
    long long v = (long long)st->u.expr->sema.const_value;
    line(x, 1, "rng = NnRandom(%lld)", v);
    line(x, 1, "torch.manual_seed(%lld)  # dropout's masks: torch's own numbers", v);
}

/* param w = EXPR: a Parameter of its own. */
static void param_stmt(Ex *x, const AstNode *st)
{
    const Symbol *sym = st->sema.sym;
    StrBuf l;
    sb_init(&l);
    bool ok = expr(x, st->u.bind.value, &l);
    if (ok) line(x, 1, "%s = param(%s)", define(x, sym, sym->name), l.data);
    sb_free(&l);
    for (int i = 0; i < x->n_params; i++)
        if (x->params[i] == sym) return;    /* declared again: the same param, a new value */
    if (x->n_params == x->cap_params) {
        x->cap_params = x->cap_params ? 2 * x->cap_params : 64;
        x->params = nn_realloc(x->params, (size_t)x->cap_params * sizeof *x->params);
    }
    x->params[x->n_params++] = sym;
}

/* w = EXPR (and w += EXPR, which the checker wrote as w = w + EXPR): the param's new value. */
static void assign_stmt(Ex *x, const AstNode *st)
{
    const Symbol *sym = st->sema.sym;
    StrBuf l;
    sb_init(&l);
    if (strchr(sym->name, '.')) param_ref(x, &l, sym);
    else ref_name(x, &l, sym, sym->name);
    sb_puts(&l, ".copy_(");
    bool ok = expr(x, st->u.bind.value, &l);
    sb_putc(&l, ')');
    if (ok) line(x, 1, "%s", l.data);
    sb_free(&l);
}

/* What each statement that is not exported is, for the message. */
static const char *refused_word(AstKind k)
{
    switch (k) {
    case AST_BACKWARD: return "a 'backward' statement";
    case AST_TRACE: return "a 'trace' statement";
    case AST_STEP: return "a 'step' statement";
    case AST_ZERO_GRAD: return "a 'zero_grad' statement";
    case AST_GRADCHECK: return "a 'gradcheck' statement";
    case AST_FOR: return "a 'for' loop";
    case AST_REPEAT: return "a 'repeat' loop";
    case AST_WHILE: return "a 'while' loop";
    case AST_IF: return "an 'if'";
    case AST_BREAK: return "a 'break'";
    case AST_CONTINUE: return "a 'continue'";
    default: return "this statement";
    }
}

static void stmt(Ex *x, AstNode *st)
{
    switch (st->kind) {
    case AST_SEED: seed_stmt(x, st); return;
    case AST_LET: let_stmt(x, st); return;
    case AST_LET_MANY: {
        data_stmt(x, st->u.many.value, &st->sema.extra->data);
        return;
    }
    case AST_MODEL: model_stmt(x, st); return;
    case AST_PARAM: param_stmt(x, st); return;
    case AST_ASSIGN: assign_stmt(x, st); return;
    case AST_TRAIN: train_stmt(x, st); return;
    case AST_PRINT: print_stmt(x, st->u.list.items, st->u.list.count); return;
    case AST_EXPR: print_stmt(x, &st->u.expr, 1); return;
    case AST_SAVE:
    case AST_LOAD: file_stmt(x, st); return;
    case AST_FN: return;        /* inlined where it is called */
    default: break;
    }
    refuse(x, st->span, "cannot export %s to PyTorch: train.py reproduces data sets, params, "
           "models, train blocks, lets, print, save and load (not loops, ifs, or training by "
           "hand with backward and step)", refused_word(st->kind));
}

static void finish(Ex *x, const char *name, uint64_t seed)
{
    StrBuf *o = x->out;
    sb_puts(o, "#!/usr/bin/env python3\n\"\"\"");
    py_comment_text(o, name, strlen(name), " ");
    sb_puts(o, ", exported to PyTorch by nn " NN_VERSION " (nn --export=pytorch).\n\n"
            "Run it from the folder nn ran the script from (its file names are relative):\n"
            "    python3 train.py                          one process: CPU, or CUDA if present\n"
            "    torchrun --nproc_per_node=2 train.py      DistributedDataParallel (gloo on CPU,\n"
            "                                              nccl on GPUs)\n"
            "At the end every model is written to torch_out/MODEL.safetensors (--out DIR), with\n"
            "nn's names, so `load MODEL \"torch_out/MODEL.safetensors\"` reads it back into nn.\n"
            "\"\"\"\n");
    sb_append(o, export_torch_py, strlen(export_torch_py));
    for (int i = 0; i < x->n_models; i++) sb_append(o, x->models[i].head.data, x->models[i].head.len);
    sb_puts(o, "\n\n@torch.no_grad()  # as nn computes outside train blocks\ndef main():\n    args = arguments(__doc__)\n    run = Run()\n");
    sb_printf(o, "    rng = NnRandom(args.seed if args.seed is not None else %llu)\n",
              (unsigned long long)seed);
    sb_printf(o, "    torch.manual_seed(args.seed if args.seed is not None else %llu)  # dropout's "
              "masks\n", (unsigned long long)seed);
    sb_append(o, x->body.data ? x->body.data : "", x->body.len);
    sb_puts(o, "    if run.main:\n");
    for (int i = 0; i < x->n_models; i++) {
        bool later = false;     /* a model defined again: its last definition is the one saved */
        for (int k = i + 1; k < x->n_models; k++)
            later |= strcmp(x->models[k].sym->name, x->models[i].sym->name) == 0;
        if (later) continue;
        StrBuf n;
        sb_init(&n);
        ref_name(x, &n, x->models[i].sym, x->models[i].sym->name);
        sb_printf(o, "        save(%s, os.path.join(args.out, \"%s.safetensors\"))\n", n.data,
                  x->models[i].sym->name);
        sb_free(&n);
    }
    sb_puts(o, "        print(\"wrote the trained models to\", args.out + \"/\", file=sys.stderr)\n"
            "    run.close()\n\n\nif __name__ == \"__main__\":\n    main()\n");
}

int export_torch(const AstList *stmts, const char *name, uint64_t seed, DiagSink *diag,
                 StrBuf *out)
{
    Ex x;
    memset(&x, 0, sizeof x);
    x.out = out;
    x.diag = diag;
    sb_init(&x.body);
    for (size_t i = 0; i < stmts->count; i++) stmt(&x, stmts->items[i]);
    if (!x.errors) finish(&x, name, seed);
    for (int i = 0; i < x.n_models; i++) sb_free(&x.models[i].head);
    sb_free(&x.body);
    nn_free(x.params);
    nn_free(x.names);
    nn_free(x.formulas);
    return x.errors;
}
