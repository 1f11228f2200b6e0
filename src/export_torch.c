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
#include <string.h>

/* ---- the op table ---------------------------------------------------------------------------- */

static const char *const torch_text[OP_COUNT] = {
#define TORCH(op, python) [op] = python,
#include "torch.def"
#undef TORCH
};

/* Names the helpers and Python use, which a script's names are kept apart from (a trailing _). */
static const char *const reserved[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if",
    "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
    "while", "with", "yield", "print", "len", "range", "float", "int", "list", "dict", "min",
    "max", "sum", "abs", "open", "type", "object", "str", "set", "map", "filter", "main",
    "argparse", "contextlib", "copy", "csv", "json", "math", "os", "struct", "sys", "warnings", "torch",
    "dist", "F", "nn", "NnRandom", "Data", "Run", "rng", "run", "args", "init_dense", "init_conv",
    "read_csv", "read_csv_rows", "split", "split_rows", "normalize", "toy_set", "class_sizes", "xor",
    "circles", "moons", "spirals", "blobs", "accuracy", "cross_entropy", "LOSSES", "number",
    "tensor_text", "print_line", "labels", "nn_tensors", "save", "export_onnx", "state_dict_of", "load",
    "schedule", "score", "Block", "train", "arguments", "f32", "param", "train_formula", "M64", "PCG_MULT", "out", "X",
    "Y", "epoch", "update",
};

/* A model's class: its head (the class line, the source, __init__) and, for a formula model,
 * its forward, written where the script first applies it (only an application is checked for
 * its input's shape, src/sema.h's ModelApp). */
typedef struct ModelOut {
    const Symbol *sym;
    StrBuf head, forward;
} ModelOut;

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
    const Symbol *params[256];      /* the params defined outside models, in order */
    int n_params;
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

/* A script name as a Python name. */
static void py_name(StrBuf *sb, const char *name)
{
    sb_puts(sb, name);
    for (size_t i = 0; i < NN_ARRAY_LEN(reserved); i++)
        if (strcmp(name, reserved[i]) == 0) {
            sb_putc(sb, '_');
            return;
        }
}

/* A Python string literal. */
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
    sb_puts(sb, buf);
    if (!strpbrk(buf, ".en")) sb_puts(sb, ".0");
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
static void dotted_ref(StrBuf *sb, const char *name)
{
    const char *dot = strchr(name, '.');
    StrBuf first;
    sb_init(&first);
    sb_append(&first, name, (size_t)(dot - name));
    py_name(sb, first.data);
    sb_free(&first);
    sb_puts(sb, dot);
}

/* A model's param as torch holds it: a dense layer's net.layer1.W and .b as
 * net.layer1.weight.T and net.layer1.bias; a formula model's line.w as it is, and inside the
 * model's own forward as self.w. */
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
        py_name(sb, model.data);
        sb_free(&model);
    }
    sb_append(sb, dot, (size_t)(last - dot) + 1);
    bool layer = last != dot;       /* net.layer1.W: a dense layer's; line.w: a formula's */
    if (layer && strcmp(last + 1, "W") == 0) sb_puts(sb, "weight.T");
    else if (layer && strcmp(last + 1, "b") == 0) sb_puts(sb, "bias");
    else sb_puts(sb, last + 1);
}

static bool name_ref(Ex *x, const AstNode *e, StrBuf *sb)
{
    const Symbol *sym = e->sema.sym;
    if (x->fn)
        for (int i = 0; i < x->fn->n; i++)
            if (x->fn->params[i] == sym) {
                const FnApp *fn = x->fn;
                x->fn = NULL;       /* the arguments are the caller's */
                sb_putc(sb, '(');
                bool ok = expr(x, fn->args[i], sb);
                sb_putc(sb, ')');
                x->fn = fn;
                return ok;
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
        py_name(sb, sym->name);
        if (sym->kind == SYM_LET && sym->grad) sb_puts(sb, "()");   /* a formula */
        return true;
    case SYM_PARAM:
        if (strchr(sym->name, '.')) param_ref(x, sb, sym);
        else py_name(sb, sym->name);
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
            py_number(sb, at->alpha);
        } else if (is_key(key, len, "dim")) {
            sb_printf(sb, "%d", at->axis == NN_AXIS_ALL ? -1 : at->axis);
        } else if (is_key(key, len, "reduce")) {
            reduce_args(sb, at);
        } else if (is_key(key, len, "lo") || is_key(key, len, "hi")) {
            double v = key[0] == 'l' ? at->lo : at->hi;
            if (isinf(v)) sb_puts(sb, "None");
            else py_number(sb, v);
        } else if (is_key(key, len, "p")) {
            py_number(sb, at->p);
        } else if (is_key(key, len, "dims")) {
            sb_putc(sb, '(');
            shape_args(sb, &e->sema.shape);
            sb_puts(sb, e->sema.shape.rank == 1 ? ",)" : ")");
        } else if (is_key(key, len, "kernel") || is_key(key, len, "stride")
                   || is_key(key, len, "pad")) {
            const int *v = key[0] == 'k' ? at->kernel : key[0] == 's' ? at->stride : at->pad;
            sb_printf(sb, "(%d, %d)", v[0], v[1]);
        } else if (is_key(key, len, "fill")) {
            py_number(sb, at->fill);
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
        py_name(sb, ex->app.model->name);
        sb_putc(sb, '(');
        bool ok = expr(x, e->sema.operand, sb);
        sb_putc(sb, ')');
        return ok;
    }
    if (ex && ex->fnapp.body) {
        const FnApp *outer = x->fn;
        x->fn = &ex->fnapp;
        sb_putc(sb, '(');
        bool ok = expr(x, ex->fnapp.body, sb);
        sb_putc(sb, ')');
        x->fn = outer;
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
    if (sym) {      /* a data set's X or Y: the let "train_set.X" */
        dotted_ref(sb, sym->name);
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
static void class_name(StrBuf *sb, const char *name)
{
    sb_putc(sb, (char)(name[0] >= 'a' && name[0] <= 'z' ? name[0] - 'a' + 'A' : name[0]));
    sb_puts(sb, name + 1);
    sb_puts(sb, "Model");
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
            else if (strncmp(p, "{alpha}", 7) == 0) py_number(sb, ly->alpha), p += 6;
            else if (strncmp(p, "{dim}", 5) == 0) sb_puts(sb, "-1"), p += 4;
            else sb_putc(sb, *p);
        }
        sb_putc(sb, '\n');
        return true;
    }
    case LAYER_DROPOUT:
        sb_puts(sb, "        x = F.dropout(x, ");
        py_number(sb, ly->p);
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
    }
    return false;
}

/* The model's source as comment lines. */
static void source_comment(StrBuf *sb, const char *src, const char *indent)
{
    const char *p = src;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        sb_printf(sb, "%s# %.*s\n", indent, (int)len, p);
        p += len + (nl ? 1 : 0);
    }
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
            sb_printf(sb, "        self.layer%d = nn.Conv2d(%d, %d, %d, stride=%d, padding=%d)\n",
                      ly->index, ly->in, ly->out, ly->kernel, ly->stride, ly->pad);
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
 * where the script's names are); its forward comes with its first application. */
static void formula_class(const Model *m, StrBuf *sb)
{
    sb_puts(sb, "    def __init__(self");
    for (int i = 0; i < m->n_params; i++) sb_printf(sb, ", %s", m->param_names[i]);
    sb_puts(sb, "):\n        super().__init__()\n");
    for (int i = 0; i < m->n_params; i++)
        sb_printf(sb, "        self.%s = param(%s)\n", m->param_names[i], m->param_names[i]);
}

/* The line of main() that makes the model: NetModel(rng), or LineModel(w=..., b=...). */
static bool model_line(Ex *x, const AstNode *st, const Model *m)
{
    StrBuf l;
    sb_init(&l);
    py_name(&l, st->sema.sym->name);
    sb_puts(&l, " = ");
    class_name(&l, st->sema.sym->name);
    bool ok = true;
    if (!m->formula) sb_puts(&l, "(rng");
    for (size_t i = 0, k = 0; ok && m->formula && i < st->u.block.items.count; i++) {
        const AstNode *it = st->u.block.items.items[i];
        if (it->kind != AST_PARAM) continue;
        sb_printf(&l, "%s%s=", k++ ? ", " : "(", it->u.bind.name);
        ok = expr(x, it->u.bind.value, &l);
    }
    sb_puts(&l, ").to(run.device).eval()");
    if (ok) line(x, 1, "%s", l.data);
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
    ModelOut *mo = &x->models[x->n_models++];
    mo->sym = sym;
    StrBuf *sb = &mo->head;
    sb_puts(sb, "\n\nclass ");
    class_name(sb, sym->name);
    sb_puts(sb, "(nn.Module):\n");
    source_comment(sb, m->source, "    ");
    if (m->formula) formula_class(m, sb);
    else if (!layer_class(x, m, sb)) return;
    model_line(x, st, m);
}

/* A formula model's forward, from its first application's checked body: the argument is x,
 * the model's params self.P. */
static bool model_forward(Ex *x, const ModelApp *app)
{
    const Model *m = app->model->model;
    ModelOut *mo = model_out(x, app->model);
    if (!m->formula || !mo || mo->forward.len) return true;
    const Symbol *bound[1] = { app->arg };
    const Symbol *const *outer = x->bound;
    int n_outer = x->n_bound;
    x->bound = bound;
    x->n_bound = 1;
    x->self = app->model;
    StrBuf body;
    sb_init(&body);
    bool ok = expr(x, app->body, &body);
    x->self = NULL;
    x->bound = outer;
    x->n_bound = n_outer;
    if (ok) sb_printf(&mo->forward, "\n    def forward(self, %s):\n        return %s\n",
                      m->arg, body.data);
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
static void targets(const SemaData *d, StrBuf *sb)
{
    for (int i = 0; i < d->n_dst; i++) {
        if (i) sb_puts(sb, ", ");
        py_name(sb, d->dst[i]->name);
    }
    if (d->n_dst == 1 && d->fn == DATA_NORMALIZE) sb_putc(sb, ',');
}

static void data_stmt(Ex *x, const AstNode *call, const SemaData *d)
{
    StrBuf l;
    sb_init(&l);
    targets(d, &l);
    sb_puts(&l, " = ");
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
        py_name(&l, d->src[0]->name);
        sb_printf(&l, ", %d, rng)", d->dst[0]->data->rows);
        break;
    case DATA_SPLIT_ROWS: {
        const AstNode *file = string_arg(call, 1, "");
        sb_puts(&l, "split_rows(");
        py_name(&l, d->src[0]->name);
        sb_puts(&l, ", ");
        py_string(&l, file->u.str.text, file->u.str.len);
        sb_putc(&l, ')');
        break;
    }
    case DATA_NORMALIZE:
        sb_puts(&l, "normalize(");
        for (int i = 0; i < d->n_src; i++) {
            if (i) sb_puts(&l, ", ");
            py_name(&l, d->src[i]->name);
        }
        sb_putc(&l, ')');
        break;
    }
    line(x, 1, "%s", l.data);
    sb_free(&l);
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
    StrBuf l;
    sb_init(&l);
    bool formula = sym->grad;
    if (formula) sb_puts(&l, "def ");
    py_name(&l, sym->name);
    sb_puts(&l, formula ? "():  # a formula of params: computed where it is used\n        return "
                        : " = ");
    if (expr(x, v, &l)) line(x, 1, "%s", l.data);
    sb_free(&l);
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
    bool ok = expr(x, formula, &l);
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
    bool ok = expr(x, t->sched_formula, &l);
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
        py_name(sb, first.data);
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
    if (loss == OP_CROSS_ENTROPY) sb_puts(c, "lambda out, Y, X: cross_entropy(out, Y)");
    else sb_printf(c, "lambda out, Y, X: LOSSES[\"%s\"](out, Y)", op_info(loss)->name);
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

/* train MODEL on X, Y: train(model, data, run, rng, settings...). */
static bool data_call(Ex *x, const AstNode *st, const SemaTrain *t, StrBuf *c)
{
    if (!model_forward(x, &t->batch_app)) return false;
    sb_puts(c, "train(");
    py_name(c, t->model->name);
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
    bool ok = expr(x, st->u.train.target, &l);
    if (ok) line(x, 1, "%s", l.data);
    sb_free(&l);
    if (!ok) return false;
    sb_printf(c, "train_formula(loss_%d, [", k);
    for (int i = 0; i < x->n_params; i++) {
        sb_puts(c, i ? ", " : "");
        py_name(c, x->params[i]->name);
    }
    for (int i = 0; i < x->n_models; i++) {
        sb_puts(c, i || x->n_params ? ", *" : "*");
        py_name(c, x->models[i].sym->name);
        sb_puts(c, ".parameters()");
    }
    sb_puts(c, "], run");
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
        py_string(sb, it->u.str.text, it->u.str.len);
        return true;
    }
    if (ex && ex->text) {
        py_string(sb, ex->text, strlen(ex->text));
        return true;
    }
    if (ex && ex->labels) {
        sb_puts(sb, "labels(");
        py_name(sb, it->u.call.args.items[0]->u.bind.value->u.name);
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
        py_name(&l, st->u.file.name);
        sb_puts(&l, ", ");
        py_string(&l, path->u.str.text, path->u.str.len);
        sb_putc(&l, ')');
        line(x, 1, "%s", l.data);
    } else if (ex->onnx) {
        sb_puts(&l, "export_onnx(");
        py_name(&l, st->u.file.name);
        sb_printf(&l, ", %d, ", st->sema.sym->model->in);
        py_string(&l, path->u.str.text, path->u.str.len);
        sb_putc(&l, ')');
        line(x, 1, "if run.main:");
        line(x, 2, "%s", l.data);
    } else {
        sb_puts(&l, "save(");
        py_name(&l, st->u.file.name);
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
    py_name(&l, sym->name);
    sb_puts(&l, " = param(");
    bool ok = expr(x, st->u.bind.value, &l);
    sb_putc(&l, ')');
    if (ok) line(x, 1, "%s", l.data);
    sb_free(&l);
    if (x->n_params < (int)NN_ARRAY_LEN(x->params)) x->params[x->n_params++] = sym;
}

/* w = EXPR (and w += EXPR, which the checker wrote as w = w + EXPR): the param's new value. */
static void assign_stmt(Ex *x, const AstNode *st)
{
    const Symbol *sym = st->sema.sym;
    StrBuf l;
    sb_init(&l);
    if (strchr(sym->name, '.')) param_ref(x, &l, sym);
    else py_name(&l, sym->name);
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
    sb_puts(o, name);
    sb_puts(o, ", exported to PyTorch by nn " NN_VERSION " (nn --export=pytorch).\n\n"
            "Run it from the folder nn ran the script from (its file names are relative):\n"
            "    python3 train.py                          one process: CPU, or CUDA if present\n"
            "    torchrun --nproc_per_node=2 train.py      DistributedDataParallel (gloo on CPU,\n"
            "                                              nccl on GPUs)\n"
            "At the end every model is written to torch_out/MODEL.safetensors (--out DIR), with\n"
            "nn's names, so `load MODEL \"torch_out/MODEL.safetensors\"` reads it back into nn.\n"
            "\"\"\"\n");
    sb_append(o, export_torch_py, strlen(export_torch_py));
    for (int i = 0; i < x->n_models; i++) {
        const ModelOut *mo = &x->models[i];
        sb_append(o, mo->head.data, mo->head.len);
        if (mo->sym->model->formula && !mo->forward.len)
            sb_puts(o, "    # (the script never applies it: nn checks a forward formula where "
                    "it is used)\n");
        if (mo->forward.len) sb_append(o, mo->forward.data, mo->forward.len);
    }
    sb_puts(o, "\n\n@torch.no_grad()  # as nn computes outside train blocks\ndef main():\n    args = arguments(__doc__)\n    run = Run()\n");
    sb_printf(o, "    rng = NnRandom(args.seed if args.seed is not None else %llu)\n",
              (unsigned long long)seed);
    sb_printf(o, "    torch.manual_seed(%llu)  # dropout's masks: torch's own numbers\n",
              (unsigned long long)seed);
    sb_append(o, x->body.data ? x->body.data : "", x->body.len);
    sb_puts(o, "    if run.main:\n");
    for (int i = 0; i < x->n_models; i++) {
        StrBuf n;
        sb_init(&n);
        py_name(&n, x->models[i].sym->name);
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
    for (int i = 0; i < x.n_models; i++) {
        sb_free(&x.models[i].head);
        sb_free(&x.models[i].forward);
    }
    sb_free(&x.body);
    return x.errors;
}
