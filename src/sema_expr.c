/* sema_expr.c — checks expressions: names, operators, calls of built-ins (by the op table's
 * call signatures), tensor literals, fields (net.layer1.W, data.X, w.grad, W.T) and the
 * application of a model to an input. Shape rules come from the op table, so the checker and
 * the runtime agree by construction. Stands on sema_core.c only. */
#include "sema_expr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_EXPR_DEPTH 1000         /* deeper expressions are refused, not recursed into */

/* ---- suggestions ----------------------------------------------------------------------------- */

/* The closest callable built-in or data function to an unknown function's name, or NULL. */
/* The names of the built-in functions that are not one op (src/builtins.def). */
static const char *const composite[] = {
#define BUILTIN(name, check, example, text) name,
#include "builtins.def"
#undef BUILTIN
};

static bool used_before_definition(Sema *s, Span use, const char *name);

static const char *suggest_function(const char *name)
{
    Suggest sg;
    suggest_init(&sg, name);
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (op->sig != SIG_LEAF && op->sig != SIG_OPERATOR) suggest_offer(&sg, op->name);
    }
    for (size_t i = 0; i < NN_ARRAY_LEN(composite); i++) suggest_offer(&sg, composite[i]);
    sema_offer_data_fns(&sg);
    return suggest_best(&sg);
}

/* The closest defined name to an unknown one, or NULL. */
static const char *suggest_name(Sema *s, const char *name)
{
    Suggest sg;
    suggest_init(&sg, name);
    for (size_t i = 0; i < s->syms->count; i++) suggest_offer(&sg, s->syms->items[i]->name);
    return suggest_best(&sg);
}

OpAttrs sema_no_attrs(void)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.axis = NN_AXIS_ALL;
    return at;
}

/* Runs op's shape rule on the inputs' shapes; reports a mismatch at the expression. */
static bool apply_shape(Sema *s, AstNode *e, OpKind op, AstNode *const *in, int n)
{
    const OpInfo *info = op_info(op);
    Shape shapes[NN_OP_MAX_IN];
    for (int i = 0; i < n; i++) shapes[i] = in[i]->sema.shape;
    StrBuf err;
    sb_init(&err);
    bool ok = info->shape(info, shapes, &e->sema.attrs, &e->sema.shape, &err);
    if (!ok) sema_error(s, e->span, "%s", err.data);
    sb_free(&err);
    double elements = 1;   /* in double: a product of sizes can overflow size_t */
    for (int i = 0; ok && i < e->sema.shape.rank; i++) elements *= e->sema.shape.dim[i];
    if (ok && elements > MAX_ELEMENTS) {
        char buf[64];
        sema_error(s, e->span, "the result %s would have %.0f elements; the limit is %u",
              shape_str(&e->sema.shape, buf, sizeof buf), elements, MAX_ELEMENTS);
        ok = false;
    }
    e->sema.op = op;
    e->sema.grad = false;   /* it depends on params through a gradient */
    for (int i = 0; i < n && !(info->flags & OPF_NO_GRAD); i++) e->sema.grad |= in[i]->sema.grad;
    return ok;
}

/* ---- initialisers (src/layers.def) ----------------------------------------------------------- */

static const struct InitRow {
    const char *name;
    OpKind op;
} inits[] = {
#define LAYER(...)
#define LAYER_ALIAS(...)
#define INIT(name, op) { name, op },
#include "layers.def"
#undef INIT
#undef LAYER_ALIAS
#undef LAYER
};

bool sema_initialiser(const char *name, OpKind *op)
{
    for (size_t i = 0; i < NN_ARRAY_LEN(inits); i++)
        if (strcmp(inits[i].name, name) == 0) {
            *op = inits[i].op;
            return true;
        }
    return false;
}

const char *sema_init_name(OpKind op)
{
    for (size_t i = 0; i < NN_ARRAY_LEN(inits); i++)
        if (inits[i].op == op) return inits[i].name;
    return op_info(op)->name;
}

void sema_unknown_init(Sema *s, const AstNode *v)
{
    const char *name = v->kind == AST_NAME ? v->u.name : NULL;
    Suggest sg;
    suggest_init(&sg, name ? name : "");
    for (size_t i = 0; i < NN_ARRAY_LEN(inits); i++) suggest_offer(&sg, inits[i].name);
    if (suggest_best(&sg)) {
        sema_error(s, v->span, "unknown initialiser '%s'; did you mean '%s'?", name,
                   suggest_best(&sg));
        return;
    }
    const char *words[NN_ARRAY_LEN(inits)];
    char alias[NN_ARRAY_LEN(inits)][32];
    size_t n = 0;
    for (size_t i = 0; i < NN_ARRAY_LEN(inits); i++) {
        if (strcmp(sema_init_name(inits[i].op), inits[i].name) == 0) {
            words[n++] = inits[i].name;
            continue;
        }
        snprintf(alias[i], sizeof alias[i], "%s (%s)", words[n - 1], inits[i].name);
        words[n - 1] = alias[i];    /* another name for the word before: xavier (glorot) */
    }
    StrBuf sb;
    sb_init(&sb);
    sema_list_words(&sb, words, n, "or");
    sema_error(s, v->span, "unknown initialiser; use %s", sb.data);
    sb_free(&sb);
}

/* ---- constants ------------------------------------------------------------------------------ */

void sema_too_small(Sema *s, Span at, const char *what, double lo, double v)
{
    sema_error(s, at, "%s must be at least %.17g, not %.17g", what, lo, v);
}

void sema_too_large(Sema *s, Span at, const char *what, double hi, double v)
{
    sema_error(s, at, "%s must be at most %.17g, not %.17g", what, hi, v);
}

bool sema_const_int(Sema *s, AstNode *e, const char *what, double lo, double hi, long *out)
{
    if (!sema_expr(s, e)) return false;
    double v = e->sema.const_value;
    if (!e->sema.is_const || e->sema.shape.rank != 0 || v != floor(v)) {
        sema_error(s, e->span, "%s must be a constant integer", what);
        return false;
    }
    if (v < lo) {
        sema_too_small(s, e->span, what, lo, v);
        return false;
    }
    if (v > hi) {
        sema_too_large(s, e->span, what, hi, v);
        return false;
    }
    *out = (long)v;
    return true;
}

bool sema_const_number(Sema *s, AstNode *e, const char *what, double *out)
{
    if (!sema_expr(s, e)) return false;
    if (!e->sema.is_const || e->sema.shape.rank != 0) {
        sema_error(s, e->span, "%s must be a constant number", what);
        return false;
    }
    if (!isfinite(e->sema.const_value)) {
        sema_error(s, e->span, "%s must be a finite number", what);
        return false;
    }
    *out = e->sema.const_value;
    return true;
}

/* ---- tensor literals --------------------------------------------------------------------- */

/* Checks a nested literal against the shape of its first elements: rectangular, all
 * constant numbers. */
static bool check_literal(Sema *s, AstNode *e, int depth, const Shape *shape)
{
    if (depth == shape->rank) {
        if (e->kind == AST_TENSOR) {
            sema_error(s, e->span, "a tensor literal must be rectangular: a number is expected "
                              "here, as in the first row");
            return false;
        }
        if (!sema_expr(s, e)) return false;
        if (!e->sema.is_const || e->sema.shape.rank != 0) {
            sema_error(s, e->span, "elements of a tensor literal must be constant numbers");
            return false;
        }
        if (!isfinite((float)e->sema.const_value)) {
            char buf[32];
            sema_error(s, e->span, "this element is %s; a tensor literal needs finite numbers",
                  fmt_num((float)e->sema.const_value, buf));
            return false;
        }
        return true;
    }
    if (e->kind != AST_TENSOR) {
        sema_error(s, e->span, "a tensor literal must be rectangular: a list of %d is expected "
                          "here, as in the first row", shape->dim[depth]);
        return false;
    }
    if ((int)e->u.list.count != shape->dim[depth]) {
        sema_error(s, e->span, "a tensor literal must be rectangular: this row has %zu element%s, "
                          "the first has %d", e->u.list.count, e->u.list.count == 1 ? "" : "s",
              shape->dim[depth]);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < e->u.list.count; i++)
        ok = check_literal(s, e->u.list.items[i], depth + 1, shape) && ok;
    return ok;
}

static bool literal_shape(Sema *s, AstNode *e, Shape *shape)
{
    *shape = shape_scalar();
    for (const AstNode *p = e; p->kind == AST_TENSOR; p = p->u.list.items[0]) {
        if (shape->rank == NN_MAX_RANK) {
            sema_error(s, e->span, "a tensor may have at most %d dimensions", NN_MAX_RANK);
            return false;
        }
        shape->dim[shape->rank++] = (int)p->u.list.count;
    }
    return check_literal(s, e, 0, shape);
}

/* ---- models ---------------------------------------------------------------------------------- */

bool sema_apply_model(Sema *s, Symbol *msym, const Shape *in, Span at, ModelApp *app)
{
    Model *m = msym->model;
    memset(app, 0, sizeof *app);
    app->model = msym;
    app->in = *in;
    if (!m->formula && m->in_shape.rank > 1) {     /* images: a batch [N, C, H, W] */
        char buf[64], want[64];
        bool fits = in->rank == m->in_shape.rank + 1;
        for (int d = 0; fits && d < m->in_shape.rank; d++)
            fits = in->dim[d + 1] == m->in_shape.dim[d];
        if (!fits) {
            int k = 0;
            for (int d = 0; d < m->in_shape.rank && k < (int)sizeof want - 16; d++)
                k += snprintf(want + k, sizeof want - (size_t)k, ", %d", m->in_shape.dim[d]);
            bool one = in->rank == m->in_shape.rank;
            sema_error(s, at, "'%s' takes a batch of inputs [N%s], but this has shape %s%s%s%s",
                       m->name, want, shape_str(in, buf, sizeof buf),
                       one ? " (one example: make it a batch of one, reshape(x, 1" : "",
                       one ? want : "", one ? "))" : "");
            return false;
        }
        app->out = m->out_shape;
        app->out.rank = m->out_shape.rank + 1;
        app->out.dim[0] = in->dim[0];
        for (int d = 0; d < m->out_shape.rank; d++) app->out.dim[d + 1] = m->out_shape.dim[d];
        return true;
    }
    if (!m->formula) {
        char buf[64];
        if (in->rank < 1 || in->rank > 2 || in->dim[in->rank - 1] != m->in) {
            sema_error(s, at, "'%s' takes inputs of width %d (shape [%d] or [N, %d]), but this "
                       "has shape %s", m->name, m->in, m->in, m->in,
                       shape_str(in, buf, sizeof buf));
            return false;
        }
        app->out = *in;
        app->out.dim[in->rank - 1] = m->out;
        return true;
    }
    /* a formula is checked for each input shape, on its own copy */
    Symbol *arg = arena_alloc(s->arena, sizeof *arg);
    arg->name = m->arg;
    arg->kind = SYM_LET;
    arg->shape = *in;
    arg->grad = false;
    arg->decl = at;
    int n_locals = s->n_locals;
    for (int i = 0; i < m->n_params; i++) sema_push_local(s, m->param_names[i], m->params[i]);
    sema_push_local(s, m->arg, arg);
    AstNode *body = ast_clone(s->arena, m->body);
    int errors = s->errors;
    bool ok = sema_expr(s, body);
    s->n_locals = n_locals;
    if (!ok) {
        if (s->errors > errors)
            sema_note(s, at, "in '%s' applied here", m->name);
        return false;
    }
    app->arg = arg;
    app->body = body;
    app->out = body->sema.shape;
    return true;
}

/* A model applied in a `train LOSS { }` formula evaluates, as everywhere outside a train
 * block on data: batchnorm layers take their running statistics (which stay as they are) and
 * dropout is off. Said once per block when the model has batchnorm layers. */
static void evaluating_warning(Sema *s, const AstNode *e, const Model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        if (m->layers[i].kind != LAYER_BATCHNORM) continue;
        sema_warning(s, e->span, "'%s' is applied here as it evaluates: its batchnorm layers "
                     "use their running statistics, which this block does not train; to train "
                     "them write 'train %s on X, Y { loss ... }'", m->name, m->name);
        s->train_formula = 2;
        return;
    }
}

/* A call of a model: net(X). */
static bool model_call(Sema *s, AstNode *e, Symbol *msym)
{
    const AstList *args = &e->u.call.args;
    if (msym->poisoned) return false;
    if (args->count != 1 || args->items[0]->u.bind.name) {
        sema_error(s, e->span, "a model takes one input: %s(X)", msym->name);
        return false;
    }
    AstNode *x = args->items[0]->u.bind.value;
    if (!sema_expr(s, x)) return false;
    SemaExtra *ex = sema_extra(s, e);
    if (!sema_apply_model(s, msym, &x->sema.shape, e->span, &ex->app)) return false;
    if (s->train_formula == 1) evaluating_warning(s, e, msym->model);
    e->sema.operand = x;
    e->sema.shape = ex->app.out;
    e->sema.grad = true;
    return true;
}

/* ---- fields ---------------------------------------------------------------------------------- */

/* "layer1.W" for net.layer1.W; the root's symbol in *root. NULL if not a dotted name. */
const char *sema_field_path(Sema *s, AstNode *e, Symbol **root)
{
    if (e->kind == AST_NAME) {
        *root = sema_lookup(s, e->u.name);
        return "";
    }
    if (e->kind != AST_FIELD) return NULL;
    const char *inner = sema_field_path(s, e->u.field.obj, root);
    if (!inner) return NULL;
    if (!*inner) return e->u.field.field;
    return sema_dotted(s, inner, e->u.field.field);
}

Symbol *sema_param_path(Sema *s, AstNode *e)
{
    if (e->kind == AST_NAME) {
        Symbol *sym = sema_lookup(s, e->u.name);
        return sym && sym->kind == SYM_PARAM ? sym : NULL;
    }
    Symbol *root = NULL;
    const char *path = sema_field_path(s, e, &root);
    if (!path || !root || root->kind != SYM_MODEL || root->poisoned) return NULL;
    Model *m = root->model;
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->param_names[i], path) == 0) return m->params[i];
    return NULL;
}

/* Fields: data.X, data.Y, net.layer1.W, neuron.w. Returns false if not such a field (nothing
 * reported) and sets *handled when it reported an error. */
static bool net_field(Sema *s, AstNode *e, bool *handled)
{
    *handled = false;
    Symbol *root = NULL;
    const char *path = sema_field_path(s, e, &root);
    if (!path || !root) return false;
    if (root->kind == SYM_DATA) {
        *handled = true;
        if (root->poisoned) return false;
        const char *f = e->u.field.field;
        if (e->u.field.obj->kind != AST_NAME || (strcmp(f, "X") != 0 && strcmp(f, "Y") != 0)) {
            sema_error(s, e->u.field.field_span, "a data set has fields X (inputs) and Y "
                       "(targets), not '%s'", f);
            return false;
        }
        Symbol *sym = f[0] == 'X' ? root->data->X : root->data->Y;
        e->sema.sym = sym;
        e->sema.shape = sym->shape;
        return true;
    }
    if (root->kind != SYM_MODEL) return false;
    *handled = true;
    if (root->poisoned) return false;
    Model *m = root->model;
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->param_names[i], path) == 0) {
            e->sema.sym = m->params[i];
            e->sema.shape = m->params[i]->shape;
            e->sema.grad = true;
            return true;
        }
    for (int i = 0; i < m->n_buffers; i++)     /* net.layer2.running_mean: read only */
        if (strcmp(m->buffer_names[i], path) == 0) {
            e->sema.sym = m->buffers[i];
            e->sema.shape = m->buffers[i]->shape;
            return true;
        }
    StrBuf names;
    sb_init(&names);
    size_t plen = strlen(path);
    bool prefix = false;
    for (int i = 0; i < m->n_params; i++) {
        sb_printf(&names, "%s%s", i ? ", " : "", m->param_names[i]);
        if (strncmp(m->param_names[i], path, plen) == 0 && m->param_names[i][plen] == '.')
            prefix = true;
    }
    for (int i = 0; i < m->n_buffers; i++)
        sb_printf(&names, "%s%s", i ? ", " : "; its running statistics ", m->buffer_names[i]);
    if (prefix)
        sema_error(s, e->span, "'%s.%s' is a layer, not a value; its params are %s.%s.W and "
                   "%s.%s.b", m->name, path, m->name, path, m->name, path);
    else
        sema_error(s, e->u.field.field_span, "model '%s' has no param '%s' (its params are %s)",
                   m->name, path, m->n_params ? names.data : "none");
    sb_free(&names);
    return false;
}

/* ---- calls --------------------------------------------------------------------------------- */

static bool check_dims(Sema *s, AstNode *e, const AstList *args, int ndims, Shape *shape)
{
    if (ndims > NN_MAX_RANK) {
        sema_error(s, e->span, "a tensor may have at most %d dimensions", NN_MAX_RANK);
        return false;
    }
    *shape = shape_scalar();
    double total = 1;
    for (int i = 0; i < ndims; i++) {
        long d;
        if (!sema_const_int(s, args->items[i]->u.bind.value, "a size", 1, MAX_ELEMENTS, &d))
            return false;
        shape->dim[shape->rank++] = (int)d;
        total *= (double)d;
    }
    if (total > MAX_ELEMENTS) {
        sema_error(s, e->span, "a tensor of %.0f elements is too large (the limit is %u)", total,
              MAX_ELEMENTS);
        return false;
    }
    return true;
}

/* The built-in a call names (glorot and kaiming are xavier and he), or NULL after reporting
 * what the name is instead: a data function, a print-only word, a symbol, or unknown. */
static const OpInfo *callable(Sema *s, const AstNode *e)
{
    const char *name = e->u.call.name;
    if (sema_is_data_fn(name)) {
        sema_error(s, e->span, "'%s' makes a data set; give it a name: let data = %s(...)", name,
                   name);
        return NULL;
    }
    if (strcmp(name, "labels") == 0) {
        sema_error(s, e->span, "'labels' names the predicted classes in print only: print "
                   "labels(data, scores)");
        return NULL;
    }
    if (strcmp(name, "summary") == 0) {
        sema_error(s, e->span, "'summary' prints a model's layers; write it as a statement: "
                   "summary(net)");
        return NULL;
    }
    /* the other names PyTorch and Keras users know the initialisers by: glorot, kaiming */
    const OpInfo *op = op_lookup(name);
    OpKind init;
    if (!op && sema_initialiser(name, &init) && op_info(init)->sig != SIG_LEAF) op = op_info(init);
    if (op) return op;
    Symbol *sym = sema_lookup(s, name);
    if (!sym && used_before_definition(s, e->u.call.name_span, name)) return NULL;
    const char *hint = sym ? NULL : suggest_function(name);
    if (sym)
        sema_error(s, e->u.call.name_span, "'%s' is a %s, not a function", name,
                   sema_kind_word(sym->kind));
    else if (hint)
        sema_error(s, e->u.call.name_span, "unknown function '%s'; did you mean '%s'?", name,
                   hint);
    else
        sema_error(s, e->u.call.name_span, "unknown function '%s'", name);
    return NULL;
}

/* The op's shape rule on x, the one tensor input of a call, once x is checked. */
static bool apply_on(Sema *s, AstNode *e, const OpInfo *op, AstNode *x)
{
    e->sema.operand = x;
    return apply_shape(s, e, op->kind, &x, 1);
}

/* Checks x, the one tensor input of a call, and the op's shape rule on it. */
static bool call_on(Sema *s, AstNode *e, const OpInfo *op, AstNode *x)
{
    return sema_expr(s, x) && apply_on(s, e, op, x);
}

/* An optional constant axis argument into e->sema.attrs.axis. */
static bool axis_arg(Sema *s, AstNode *e, AstNode *ax)
{
    long axis;
    if (!ax) return true;
    if (!sema_const_int(s, ax, "the axis", -2147483647.0, 2147483647.0, &axis)) return false;
    e->sema.attrs.axis = (int)axis;
    return true;
}

/* f(x) */
static bool call_unary(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    int npos = sema_npos(args);
    if (!sema_named(s, args, op->name, NULL)) return false;
    if (npos != 1) {
        sema_error(s, e->span, "'%s' takes 1 argument, but %d %s given", op->name, npos,
                   npos == 1 ? "was" : "were");
        return false;
    }
    return call_on(s, e, op, sema_arg(args, 0, NULL));
}

/* leaky_relu(x, a = 0.01) */
static bool call_leaky(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    if (!sema_named(s, args, op->name, "a")) return false;
    AstNode *x = sema_arg(args, 0, NULL), *a = sema_arg(args, 1, "a");
    if (sema_given_twice(s, args, 1, "a")) return false;
    if (!x || sema_npos(args) > 2) {
        sema_error(s, e->span, "'%s' takes x and an optional slope a: leaky_relu(x, a = 0.01)",
                   op->name);
        return false;
    }
    double slope = 0.01;    /* PyTorch's default negative slope */
    if (a && !sema_const_number(s, a, "the slope 'a'", &slope)) return false;
    e->sema.attrs.alpha = (float)slope;
    return call_on(s, e, op, x);
}

/* The named arguments of a call: each one of `allowed` (a NULL-terminated list), given once.
 * Reports "'sum' has no argument 'dim' (it takes 'axis' and 'keepdim')". */
static bool names_in(Sema *s, const AstNode *e, const char *const *allowed)
{
    const AstList *args = &e->u.call.args;
    for (size_t i = 0; i < args->count; i++) {
        const AstNode *a = args->items[i];
        if (!a->u.bind.name) continue;
        bool ok = false;
        for (const char *const *w = allowed; *w; w++) ok |= strcmp(*w, a->u.bind.name) == 0;
        if (!ok) {
            StrBuf sb;
            sb_init(&sb);
            size_t n = 0;
            const char *quoted[8];
            char buf[8][32];
            for (const char *const *w = allowed; *w && n < 8; w++, n++) {
                snprintf(buf[n], sizeof buf[n], "'%s'", *w);
                quoted[n] = buf[n];
            }
            sema_list_words(&sb, quoted, n, "and");
            if (n) sema_error(s, a->u.bind.name_span, "'%s' has no argument '%s' (it takes %s)",
                              e->u.call.name, a->u.bind.name, sb.data);
            else sema_error(s, a->u.bind.name_span, "'%s' takes no named arguments",
                            e->u.call.name);
            sb_free(&sb);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            const char *other = args->items[j]->u.bind.name;
            if (other && strcmp(other, a->u.bind.name) == 0) {
                sema_error(s, a->u.bind.name_span, "argument '%s' is given twice", other);
                return false;
            }
        }
    }
    return true;
}

/* The axes of a reduction: one constant, or a list of them ([0, 1]), as a mask of
 * op_axis_bit()s in attrs.axes. */
static bool axes_arg(Sema *s, AstNode *e, AstNode *ax)
{
    if (!ax) return true;
    if (ax->kind != AST_TENSOR) {
        long axis;
        if (!sema_const_int(s, ax, "the axis", -2147483647.0, 2147483647.0, &axis))
            return false;
        e->sema.attrs.axis = (int)axis;     /* one axis: the shape rule checks it */
        return true;
    }
    for (size_t i = 0; i < ax->u.list.count; i++) {
        long axis;
        if (!sema_const_int(s, ax->u.list.items[i], "an axis", -NN_MAX_RANK, NN_MAX_RANK - 1,
                            &axis))
            return false;
        if (e->sema.attrs.axes & op_axis_bit((int)axis)) {
            sema_error(s, ax->u.list.items[i]->span, "axis %ld is in the list twice", axis);
            return false;
        }
        e->sema.attrs.axes |= op_axis_bit((int)axis);
    }
    return true;
}

/* keepdim = 1: the reduced axes stay, with size 1 */
static bool keepdim_arg(Sema *s, AstNode *e, AstNode *k)
{
    long v;
    if (!k) return true;
    if (!sema_const_int(s, k, "'keepdim'", 0, 1, &v)) return false;
    e->sema.attrs.keepdim = v != 0;
    return true;
}

/* sum(x) over everything, sum(x, axis), sum(x, [0, 1]), with keepdim = 1 */
static bool call_reduce(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    const char *name = op->name;
    static const char *const named[] = { "axis", "keepdim", NULL };
    if (!names_in(s, e, named) || sema_given_twice(s, args, 1, "axis")) return false;
    AstNode *x = sema_arg(args, 0, NULL), *ax = sema_arg(args, 1, "axis");
    if (!x || sema_npos(args) > 2) {
        sema_error(s, e->span, "'%s' takes x and an optional axis (or list of axes): %s(x), "
                   "%s(x, axis) or %s(x, [0, 1])", name, name, name, name);
        return false;
    }
    if (!sema_expr(s, x)) return false;
    if (ax && ax->kind != AST_TENSOR && (op->kind == OP_MAX || op->kind == OP_MIN)
        && sema_expr(s, ax) && !ax->sema.is_const) {
        sema_error(s, ax->span, "the axis must be a constant integer (the %s of two tensors, "
                   "element by element, is %s(a, b))", op->kind == OP_MAX ? "larger" : "smaller",
                   op->kind == OP_MAX ? "maximum" : "minimum");
        return false;
    }
    return axes_arg(s, e, ax) && keepdim_arg(s, e, sema_arg(args, SEMA_NAMED_ONLY, "keepdim"))
           && apply_on(s, e, op, x);
}

/* softmax(x) along the last axis, or softmax(x, axis) */
static bool call_axis(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    const char *name = op->name;
    if (!sema_named(s, args, name, "axis") || sema_given_twice(s, args, 1, "axis")) return false;
    AstNode *x = sema_arg(args, 0, NULL), *ax = sema_arg(args, 1, "axis");
    if (!x || sema_npos(args) > 2) {
        sema_error(s, e->span, "'%s' takes x and an optional axis (the last by default): "
                   "%s(x) or %s(x, axis)", name, name, name);
        return false;
    }
    if (!sema_expr(s, x)) return false;
    e->sema.attrs.axis = -1;
    return axis_arg(s, e, ax) && apply_on(s, e, op, x);
}

/* zeros(2, 3), full(2, 3, 0.5), eye(3) */
static bool call_dims(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    int npos = sema_npos(args);
    if (!sema_named(s, args, op->name, NULL)) return false;
    int ndims = op->sig == SIG_FULL ? npos - 1 : npos;
    if (ndims < 1 || (op->sig == SIG_EYE && npos != 1)) {
        if (op->sig == SIG_EYE)
            sema_error(s, e->span, "'eye' takes one size: eye(n)");
        else if (op->sig == SIG_FULL)
            sema_error(s, e->span, "'full' takes sizes, then the value: full(2, 3, 0.5)");
        else
            sema_error(s, e->span, "'%s' takes at least one size, e.g. %s(2, 3)", op->name,
                       op->name);
        return false;
    }
    if (!check_dims(s, e, args, ndims, &e->sema.attrs.shape)) return false;
    if (op->sig == SIG_EYE) {
        e->sema.attrs.shape.rank = 2;
        e->sema.attrs.shape.dim[1] = e->sema.attrs.shape.dim[0];
    }
    if (op->sig == SIG_FULL) {
        double v;
        if (!sema_const_number(s, sema_arg(args, npos - 1, NULL), "the fill value", &v))
            return false;
        e->sema.attrs.fill = (float)v;
    }
    return apply_shape(s, e, op->kind, NULL, 0);
}

/* mse(prediction, target) */
static bool call_loss(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    if (!sema_named(s, args, op->name, NULL)) return false;
    if (sema_npos(args) != 2) {
        sema_error(s, e->span, "'%s' takes a prediction and a target: %s(prediction, target)",
                   op->name, op->name);
        return false;
    }
    AstNode *in[2] = { sema_arg(args, 0, NULL), sema_arg(args, 1, NULL) };
    bool ok = sema_expr(s, in[0]);
    ok = sema_expr(s, in[1]) && ok;
    if (!ok) return false;
    e->sema.operand = in[0];
    e->sema.operand2 = in[1];
    return apply_shape(s, e, op->kind, in, 2);
}

/* dropout(x, p) */
static bool call_prob(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    const char *name = op->name;
    if (!sema_named(s, args, name, "p") || sema_given_twice(s, args, 1, "p")) return false;
    AstNode *x = sema_arg(args, 0, NULL), *pa = sema_arg(args, 1, "p");
    if (!x || !pa || sema_npos(args) > 2) {
        sema_error(s, e->span, "'%s' takes x and a probability: %s(x, 0.5)", name, name);
        return false;
    }
    double p;
    if (!sema_const_number(s, pa, "the probability", &p)) return false;
    if (p < 0 || p >= 1) {
        sema_error(s, pa->span, "the probability must be at least 0 and below 1");
        return false;
    }
    e->sema.attrs.p = (float)p;
    return call_on(s, e, op, x);
}

/* xavier(in, out) */
static bool call_fans(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    if (!sema_named(s, args, op->name, NULL)) return false;
    if (sema_npos(args) != 2) {
        sema_error(s, e->span, "'%s' takes the number of inputs and outputs: %s(4, 8)", op->name,
                   op->name);
        return false;
    }
    if (!check_dims(s, e, args, 2, &e->sema.attrs.shape)) return false;
    return apply_shape(s, e, op->kind, NULL, 0);
}

/* The positional arguments of a call, checked: exactly n (or at least n with `more`), none
 * named but `named` (or none: NULL). False after reporting, with
 * `usage` for a wrong count. */
static bool tensor_args(Sema *s, AstNode *e, int n, bool more, const char *named,
                        const char *usage, AstNode **out)
{
    const AstList *args = &e->u.call.args;
    const char *const allowed[] = { named, NULL };
    if (!names_in(s, e, allowed)) return false;
    int npos = sema_npos(args);
    if (more ? npos < n : npos != n) {
        sema_error(s, e->span, "%s", usage);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < npos; i++) {
        out[i] = sema_arg(args, i, NULL);
        ok = sema_expr(s, out[i]) && ok;
    }
    return ok;
}

/* maximum(a, b), minimum(a, b) */
static bool call_binary(Sema *s, AstNode *e, const OpInfo *op)
{
    char usage[96];
    snprintf(usage, sizeof usage, "'%s' takes two tensors: %s(a, b)", op->name, op->name);
    AstNode *in[2];
    if (!tensor_args(s, e, 2, false, NULL, usage, in)) return false;
    e->sema.operand = in[0];
    e->sema.operand2 = in[1];
    return apply_shape(s, e, op->kind, in, 2);
}

/* An op of three inputs (where, conv2d, layernorm): lowering finds them in builtin.items. */
static bool apply_three(Sema *s, AstNode *e, const OpInfo *op, AstNode *const in[3])
{
    SemaExtra *ex = sema_extra(s, e);
    ex->builtin.items = arena_alloc(s->arena, 3 * sizeof *ex->builtin.items);
    memcpy(ex->builtin.items, in, 3 * sizeof *in);
    ex->builtin.n_items = 3;
    return apply_shape(s, e, op->kind, in, 3);
}

/* where(condition, a, b) */
static bool call_where(Sema *s, AstNode *e, const OpInfo *op)
{
    AstNode *in[3];
    if (!tensor_args(s, e, 3, false, NULL, "'where' takes a condition and two tensors: "
                     "where(x > 0, x, 0)", in))
        return false;
    return apply_three(s, e, op, in);
}

/* clamp(x, min, max), either bound by name alone: clamp(x, min = 0) */
static bool call_clamp(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    static const char *const named[] = { "min", "max", NULL };
    if (!names_in(s, e, named)) return false;
    if (sema_given_twice(s, args, 1, "min") || sema_given_twice(s, args, 2, "max")) return false;
    AstNode *x = sema_arg(args, 0, NULL), *lo = sema_arg(args, 1, "min");
    AstNode *hi = sema_arg(args, 2, "max");
    if (!x || sema_npos(args) > 3 || (!lo && !hi)) {
        sema_error(s, e->span, "'clamp' takes x and its bounds: clamp(x, -1, 1), or one bound "
                   "by name: clamp(x, min = 0)");
        return false;
    }
    double vlo = -INFINITY, vhi = INFINITY;
    if (lo && !sema_const_number(s, lo, "the lower bound 'min'", &vlo)) return false;
    if (hi && !sema_const_number(s, hi, "the upper bound 'max'", &vhi)) return false;
    e->sema.attrs.lo = (float)vlo;
    e->sema.attrs.hi = (float)vhi;
    return call_on(s, e, op, x);
}

/* reshape(x, 2, -1) */
static bool call_reshape(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    int npos = sema_npos(args);
    if (!sema_named(s, args, op->name, NULL)) return false;
    if (npos < 1 || npos - 1 > NN_MAX_RANK) {
        sema_error(s, e->span, "'reshape' takes x and its new sizes (up to %d; one may be -1): "
                   "reshape(x, 2, -1)", NN_MAX_RANK);
        return false;
    }
    Shape *sh = &e->sema.attrs.shape;
    *sh = shape_scalar();
    for (int i = 1; i < npos; i++) {
        long d;
        if (!sema_const_int(s, sema_arg(args, i, NULL), "a size", -1, MAX_ELEMENTS, &d))
            return false;
        if (d == 0) {
            sema_error(s, sema_arg(args, i, NULL)->span, "a size must be at least 1 (or -1, "
                       "for what is left)");
            return false;
        }
        sh->dim[sh->rank++] = (int)d;
    }
    return call_on(s, e, op, sema_arg(args, 0, NULL));
}

/* A window's step or padding, given by name: one number for both directions. */
static bool window_arg(Sema *s, AstNode *v, const char *what, long lo, int out[2])
{
    long n;
    if (v && !sema_const_int(s, v, what, (double)lo, 4096, &n)) return false;
    if (v) out[0] = out[1] = (int)n;
    return true;
}

/* conv2d(x, W, b, stride = 1, padding = 0) */
static bool call_conv(Sema *s, AstNode *e, const OpInfo *op)
{
    static const char *const named[] = { "stride", "padding", NULL };
    const AstList *args = &e->u.call.args;
    if (!names_in(s, e, named)) return false;
    if (sema_npos(args) != 3) {
        sema_error(s, e->span, "'%s' takes images [N, C, H, W], a weight [out, C, KH, KW] and a "
                   "bias [out]: conv2d(x, W, b, stride = 1, padding = 0)", op->name);
        return false;
    }
    OpAttrs *at = &e->sema.attrs;
    at->stride[0] = at->stride[1] = 1;
    if (!window_arg(s, sema_arg(args, SEMA_NAMED_ONLY, "stride"), "the stride", 1, at->stride)
        || !window_arg(s, sema_arg(args, SEMA_NAMED_ONLY, "padding"), "the padding", 0, at->pad))
        return false;
    AstNode *in[3];
    bool ok = true;
    for (int i = 0; i < 3; i++) ok = sema_expr(s, in[i] = sema_arg(args, i, NULL)) && ok;
    if (!ok) return false;
    return apply_three(s, e, op, in);
}

/* layernorm(x, W, b) */
static bool call_norm(Sema *s, AstNode *e, const OpInfo *op)
{
    char usage[128];
    snprintf(usage, sizeof usage, "'%s' takes x and the weight and bias of one example: "
             "%s(x, W, b)", op->name, op->name);
    AstNode *in[3];
    if (!tensor_args(s, e, 3, false, NULL, usage, in)) return false;
    return apply_three(s, e, op, in);
}

/* maxpool2d(x, kernel, stride = kernel), avgpool2d */
static bool call_pool(Sema *s, AstNode *e, const OpInfo *op)
{
    static const char *const named[] = { "stride", NULL };
    const AstList *args = &e->u.call.args;
    if (!names_in(s, e, named)) return false;
    if (sema_npos(args) != 2) {
        sema_error(s, e->span, "'%s' takes images [N, C, H, W] and the window's size: %s(x, 2) "
                   "or %s(x, 3, stride = 2)", op->name, op->name, op->name);
        return false;
    }
    OpAttrs *at = &e->sema.attrs;
    if (!window_arg(s, sema_arg(args, 1, NULL), "the window's size", 1, at->kernel)) return false;
    at->stride[0] = at->kernel[0];
    at->stride[1] = at->kernel[1];
    if (!window_arg(s, sema_arg(args, SEMA_NAMED_ONLY, "stride"), "the stride", 1, at->stride)) return false;
    return call_on(s, e, op, sema_arg(args, 0, NULL));
}

/* one_hot(indices, classes) */
static bool call_one_hot(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    if (!sema_named(s, args, op->name, NULL)) return false;
    if (sema_npos(args) != 2) {
        sema_error(s, e->span, "'one_hot' takes class indices and the number of classes: "
                   "one_hot(y, 10)");
        return false;
    }
    long c;
    if (!sema_const_int(s, sema_arg(args, 1, NULL), "the number of classes", 1, 1000000, &c))
        return false;
    e->sema.attrs.classes = (int)c;
    return call_on(s, e, op, sema_arg(args, 0, NULL));
}

/* The constant axis of concat and stack (named, 0 by default). */
static bool join_axis(Sema *s, AstNode *e, int *axis)
{
    AstNode *ax = sema_arg(&e->u.call.args, SEMA_NAMED_ONLY, "axis");
    long a = 0;
    if (ax && !sema_const_int(s, ax, "the axis", -NN_MAX_RANK - 1, NN_MAX_RANK, &a)) return false;
    *axis = (int)a;
    return true;
}

/* concat(a, b, ..., axis = 0): two tensors are one op; more are a chain of them. */
static bool call_concat(Sema *s, AstNode *e, const OpInfo *op)
{
    int n = sema_npos(&e->u.call.args);
    AstNode **in = arena_alloc(s->arena, (size_t)(n > 0 ? n : 1) * sizeof *in);
    if (!tensor_args(s, e, 2, true, "axis", "'concat' takes two or more tensors and an axis: "
                     "concat(a, b, axis = 0)", in))
        return false;
    int axis;
    if (!join_axis(s, e, &axis)) return false;
    e->sema.attrs.axis = axis;
    SemaBuiltin *b = &sema_extra(s, e)->builtin;
    b->kind = BUILTIN_CONCAT;
    b->items = in;
    b->n_items = n;
    b->axis = axis;
    /* the shape: the op's rule, folded along the tensors */
    Shape shapes[2] = { in[0]->sema.shape, shape_scalar() };
    OpAttrs at = e->sema.attrs;
    bool grad = in[0]->sema.grad;
    for (int i = 1; i < n; i++) {
        shapes[1] = in[i]->sema.shape;
        StrBuf err;
        sb_init(&err);
        at.axis = axis;
        bool ok = op->shape(op, shapes, &at, &shapes[0], &err);
        if (!ok) sema_error(s, in[i]->span, "%s", err.data);
        sb_free(&err);
        if (!ok) return false;
        grad |= in[i]->sema.grad;
    }
    e->sema.op = op->kind;
    e->sema.attrs.axis = at.axis;
    e->sema.shape = shapes[0];
    e->sema.grad = grad;
    return true;
}

/* ---- built-ins that are not one op: l2, params, stack -------------------------------------- */

/* Adds a model's params to b->params. */
static void add_model_params(Sema *s, SemaBuiltin *b, const Model *m)
{
    Symbol **ps = arena_alloc(s->arena, (size_t)(b->n_params + m->n_params + 1) * sizeof *ps);
    if (b->n_params) memcpy(ps, b->params, (size_t)b->n_params * sizeof *ps);
    for (int i = 0; i < m->n_params; i++) ps[b->n_params++] = m->params[i];
    b->params = ps;
}

/* A model named as an argument (l2(net), params(net)), or NULL. */
static Symbol *model_arg(Sema *s, AstNode *a)
{
    Symbol *sym = a->kind == AST_NAME ? sema_lookup(s, a->u.name) : NULL;
    return sym && sym->kind == SYM_MODEL ? sym : NULL;
}

/* l2(net), l2(w, b), l2(net, extra): the sum of the squares of every element of the models'
 * params and of the tensors (an L2 penalty, without a factor of 1/2) */
static bool call_l2(Sema *s, AstNode *e)
{
    const AstList *args = &e->u.call.args;
    SemaBuiltin *b = &sema_extra(s, e)->builtin;
    b->kind = BUILTIN_L2;
    if (!sema_named(s, args, "l2", NULL)) return false;
    if (!args->count) {
        sema_error(s, e->span, "'l2' takes models or tensors: l2(net) is the sum of the squares of "
                   "every param of net");
        return false;
    }
    b->items = arena_alloc(s->arena, args->count * sizeof *b->items);
    bool ok = true, grad = false;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i]->u.bind.value;
        Symbol *m = model_arg(s, a);
        if (m) {
            if (m->poisoned) ok = false;
            else add_model_params(s, b, m->model);
            grad |= m->model && m->model->n_params > 0;
        } else if (sema_expr(s, a)) {
            b->items[b->n_items++] = a;
            grad |= a->sema.grad;
        } else {
            ok = false;
        }
    }
    e->sema.shape = shape_scalar();
    e->sema.grad = grad;
    return ok;
}

/* params(net): every param of the model, flattened and joined into one vector (as PyTorch's
 * parameters_to_vector) */
static bool call_params(Sema *s, AstNode *e)
{
    const AstList *args = &e->u.call.args;
    AstNode *a = args->count == 1 && !args->items[0]->u.bind.name
                     ? args->items[0]->u.bind.value : NULL;
    Symbol *m = a ? model_arg(s, a) : NULL;
    if (!m) {
        sema_error(s, e->span, "'params' takes a model: params(net) is every param of net in one "
                   "vector");
        return false;
    }
    if (m->poisoned) return false;
    SemaBuiltin *b = &sema_extra(s, e)->builtin;
    b->kind = BUILTIN_PARAMS;
    add_model_params(s, b, m->model);
    if (!b->n_params) {
        sema_error(s, e->span, "model '%s' has no params", m->name);
        return false;
    }
    long total = 0;
    for (int i = 0; i < b->n_params; i++) total += (long)shape_size(&b->params[i]->shape);
    e->sema.shape = shape_scalar();
    e->sema.shape.rank = 1;
    e->sema.shape.dim[0] = (int)total;
    e->sema.grad = true;
    return true;
}

/* stack(a, b, ..., axis = 0): tensors of one shape, along a new axis */
static bool call_stack(Sema *s, AstNode *e)
{
    int n = sema_npos(&e->u.call.args);
    AstNode **in = arena_alloc(s->arena, (size_t)(n > 0 ? n : 1) * sizeof *in);
    if (!tensor_args(s, e, 1, true, "axis", "'stack' takes tensors of one shape and an axis: "
                     "stack(a, b, axis = 0)", in))
        return false;
    int axis;
    if (!join_axis(s, e, &axis)) return false;
    Shape sh = in[0]->sema.shape;
    bool grad = false;
    for (int i = 0; i < n; i++) {
        char a[64], b[64];
        if (!shape_eq(&in[i]->sema.shape, &sh)) {
            sema_error(s, in[i]->span, "'stack' joins tensors of one shape: the first is %s, this "
                       "is %s", shape_str(&sh, a, sizeof a),
                       shape_str(&in[i]->sema.shape, b, sizeof b));
            return false;
        }
        grad |= in[i]->sema.grad;
    }
    if (sh.rank == NN_MAX_RANK || axis < -(sh.rank + 1) || axis > sh.rank) {
        sema_error(s, e->span, "'stack' of tensors of rank %d takes an axis from %d to %d",
                   sh.rank, -(sh.rank + 1), sh.rank);
        return false;
    }
    if (axis < 0) axis += sh.rank + 1;
    SemaBuiltin *b = &sema_extra(s, e)->builtin;
    b->kind = BUILTIN_STACK;
    b->items = in;
    b->n_items = n;
    b->axis = axis;
    b->item_shape = sh;
    Shape out = shape_scalar();
    for (int i = 0, j = 0; i <= sh.rank; i++) out.dim[out.rank++] = i == axis ? n : sh.dim[j++];
    e->sema.shape = out;
    e->sema.grad = grad;
    return true;
}

/* ---- user functions ------------------------------------------------------------------------ */

/* The function being applied by that name, if any: a call of it from its own body. */
static bool applying(Sema *s, const char *name)
{
    for (size_t i = 0; i < s->syms->count; i++) {
        const Symbol *sym = s->syms->items[i];
        if (sym->kind == SYM_FN && sym->name == name && sym->fn && sym->fn->applying) return true;
    }
    return false;
}

/* f(a, b): the arguments are checked where the call is; the body, with the parameters bound
 * to them, on its own copy, seeing only the names defined before the function. */
static bool fn_call(Sema *s, AstNode *e, Symbol *fsym)
{
    FnDef *f = fsym->fn;
    if (fsym->poisoned || !f) return false;
    char usage[160];
    int given = sema_npos(&e->u.call.args);
    snprintf(usage, sizeof usage, "'%s' takes %d argument%s, but %d %s given", fsym->name,
             f->n_params, f->n_params == 1 ? "" : "s", given, given == 1 ? "was" : "were");
    FnApp *app = &sema_extra(s, e)->fnapp;
    app->fn = fsym;
    app->n = f->n_params;
    app->args = arena_alloc(s->arena, (size_t)(f->n_params ? f->n_params : 1) * sizeof(AstNode *));
    app->params = arena_alloc(s->arena, (size_t)(f->n_params ? f->n_params : 1) * sizeof(Symbol *));
    if (!tensor_args(s, e, f->n_params, false, NULL, usage, app->args)) return false;
    int mark = s->n_locals, floor = s->locals_floor;
    size_t horizon = s->horizon;
    s->locals_floor = s->n_locals;
    s->horizon = f->visible;
    for (int i = 0; i < f->n_params; i++) {
        Symbol *p = sema_new_local(s, f->params[i], SYM_LET, app->args[i]->span);
        p->label = f->params[i];
        p->shape = app->args[i]->sema.shape;
        p->grad = app->args[i]->sema.grad;
        p->is_const = app->args[i]->sema.is_const;
        p->const_value = app->args[i]->sema.const_value;
        app->params[i] = p;
    }
    f->applying = true;
    AstNode *body = ast_clone(s->arena, f->body);
    int errors = s->errors;
    bool ok = sema_expr(s, body);
    f->applying = false;
    s->n_locals = mark;
    s->locals_floor = floor;
    s->horizon = horizon;
    if (!ok) {
        if (s->errors > errors) sema_note(s, e->span, "in '%s' called here", fsym->name);
        return false;
    }
    app->body = body;
    e->sema.shape = body->sema.shape;
    e->sema.grad = body->sema.grad;
    e->sema.is_const = body->sema.is_const;
    e->sema.const_value = body->sema.const_value;
    return true;
}

bool sema_builtin_function(const char *name)
{
    OpKind init;
    const OpInfo *op = op_lookup(name);
    if ((op && op->sig != SIG_LEAF && op->sig != SIG_OPERATOR) || sema_initialiser(name, &init)
        || sema_is_data_fn(name) || strcmp(name, "labels") == 0 || strcmp(name, "summary") == 0)
        return true;
    for (size_t i = 0; i < NN_ARRAY_LEN(composite); i++)
        if (strcmp(name, composite[i]) == 0) return true;
    return false;
}

/* Whether a call of `name` in a function's body names something: a built-in, or a model or a
 * function defined before it. */
static bool fn_callee_known(Sema *s, const char *name)
{
    return sema_builtin_function(name) || sema_lookup(s, name) || op_lookup(name);
}

/* The names a function's body uses, checked when it is defined (its shapes are checked at each
 * call): each is a parameter, a name defined before it, a built-in or a model. */
static bool fn_names_in(Sema *s, const FnDef *f, const AstNode *e, const char *self)
{
    if (!e) return true;
    switch (e->kind) {
    case AST_NAME: {
        for (int i = 0; i < f->n_params; i++)
            if (f->params[i] == e->u.name) return true;
        if (sema_lookup(s, e->u.name)) return true;
        sema_error(s, e->span, "unknown name '%s' (a function sees its parameters and the names "
                   "defined before it)", e->u.name);
        return false;
    }
    case AST_UNARY:
    case AST_BINARY:
    case AST_RANGE: {       /* both sides, to report every unknown name */
        bool a = fn_names_in(s, f, e->u.op.a, self);
        return fn_names_in(s, f, e->u.op.b, self) && a;
    }
    case AST_FIELD: return fn_names_in(s, f, e->u.field.obj, self);
    case AST_INDEX: {
        bool ok = fn_names_in(s, f, e->u.index.obj, self);
        for (size_t i = 0; i < e->u.index.subs.count; i++)
            ok = fn_names_in(s, f, e->u.index.subs.items[i], self) && ok;
        return ok;
    }
    case AST_CALL: {
        /* (the body sees the names before it: an older function of its name is another) */
        bool itself = e->u.call.name == self && !sema_lookup(s, self);
        bool ok = !itself && fn_callee_known(s, e->u.call.name);
        if (itself) {
            sema_error(s, e->u.call.name_span, "'%s' cannot call itself: a function is written "
                       "out where it is called, so the formula would never end", self);
        } else if (!ok) {
            const char *hint = suggest_function(e->u.call.name);
            if (hint)
                sema_error(s, e->u.call.name_span, "unknown function '%s'; did you mean '%s'?",
                           e->u.call.name, hint);
            else
                sema_error(s, e->u.call.name_span, "unknown function '%s'", e->u.call.name);
        }
        for (size_t i = 0; i < e->u.call.args.count; i++)
            ok = fn_names_in(s, f, e->u.call.args.items[i]->u.bind.value, self) && ok;
        return ok;
    }
    default: return true;
    }
}

bool sema_uses(const AstNode *e, const Symbol *sym)
{
    if (!e) return false;
    switch (e->kind) {
    case AST_NAME: return e->sema.sym == sym;
    case AST_UNARY:
    case AST_BINARY:
    case AST_RANGE: return sema_uses(e->u.op.a, sym) || sema_uses(e->u.op.b, sym);
    case AST_FIELD: return sema_uses(e->u.field.obj, sym);
    case AST_INDEX:
        for (size_t i = 0; i < e->u.index.subs.count; i++)
            if (sema_uses(e->u.index.subs.items[i], sym)) return true;
        return sema_uses(e->u.index.obj, sym);
    case AST_CALL:
        for (size_t i = 0; i < e->u.call.args.count; i++)
            if (sema_uses(e->u.call.args.items[i]->u.bind.value, sym)) return true;
        if (e->sema.extra && e->sema.extra->fnapp.body)
            return sema_uses(e->sema.extra->fnapp.body, sym);
        return false;
    default: return false;
    }
}

bool sema_fn_names(Sema *s, Symbol *fsym)
{
    size_t horizon = s->horizon;
    s->horizon = fsym->fn->visible;
    bool ok = fn_names_in(s, fsym->fn, fsym->fn->body, fsym->name);
    s->horizon = horizon;
    return ok;
}

/* The built-in functions that are not one op, with their readers. */
static const struct {
    const char *name;
    bool (*check)(Sema *s, AstNode *e);
} builtins[] = {
#define BUILTIN(name, check, example, text) { name, check },
#include "builtins.def"
#undef BUILTIN
};

/* A call: of a model, a user function, or a built-in, whose arguments are checked by its call
 * signature. */
static bool check_call(Sema *s, AstNode *e)
{
    const char *name = e->u.call.name;
    Symbol *msym = sema_lookup(s, name);
    if (msym && msym->kind == SYM_MODEL) return model_call(s, e, msym);
    if (msym && msym->kind == SYM_FN) return fn_call(s, e, msym);
    if (!msym && applying(s, name)) {
        sema_error(s, e->u.call.name_span, "'%s' cannot call itself: a function is written out "
                   "where it is called, so the formula would never end", name);
        return false;
    }
    for (size_t i = 0; i < NN_ARRAY_LEN(builtins); i++)
        if (strcmp(name, builtins[i].name) == 0) return builtins[i].check(s, e);
    const OpInfo *op = callable(s, e);
    if (!op) return false;
    e->sema.attrs = sema_no_attrs();
    switch (op->sig) {
    case SIG_UNARY: return call_unary(s, e, op);
    case SIG_LEAKY: return call_leaky(s, e, op);
    case SIG_REDUCE: return call_reduce(s, e, op);
    case SIG_AXIS: return call_axis(s, e, op);
    case SIG_DIMS:
    case SIG_FULL:
    case SIG_EYE: return call_dims(s, e, op);
    case SIG_LOSS: return call_loss(s, e, op);
    case SIG_PROB: return call_prob(s, e, op);
    case SIG_FANS: return call_fans(s, e, op);
    case SIG_BINARY: return call_binary(s, e, op);
    case SIG_WHERE: return call_where(s, e, op);
    case SIG_CLAMP: return call_clamp(s, e, op);
    case SIG_RESHAPE: return call_reshape(s, e, op);
    case SIG_CONCAT: return call_concat(s, e, op);
    case SIG_ONE_HOT: return call_one_hot(s, e, op);
    case SIG_CONV: return call_conv(s, e, op);
    case SIG_POOL: return call_pool(s, e, op);
    case SIG_NORM: return call_norm(s, e, op);
    case SIG_LEAF:
    case SIG_OPERATOR: break;
    }
    NN_ASSERT(!"not callable");
    return false;
}

/* ---- expressions ----------------------------------------------------------------------------- */

static OpKind binary_op(int c)
{
    switch (c) {
    case '+': return OP_ADD;
    case '-': return OP_SUB;
    case '*': return OP_MUL;
    case '/': return OP_DIV;
    case '%': return OP_MOD;
    case '^': return OP_POW;
    case '@': return OP_MATMUL;
    case '<': return OP_LT;
    case '>': return OP_GT;
    case AST_OP_LE: return OP_LE;
    case AST_OP_GE: return OP_GE;
    case AST_OP_EQ: return OP_EQ;
    case AST_OP_NE: return OP_NE;
    case AST_OP_AND: return OP_AND;
    case AST_OP_OR: return OP_OR;
    }
    NN_ASSERT(!"unknown operator");
    return OP_ADD;
}

/* A constant operation on constants, computed as the runtime computes it (float32). */
static double fold(int c, double a, double b)
{
    float x = (float)a, y = (float)b;
    switch (c) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return x / y;
    case '%': {
        float r = fmodf(x, y);
        return r != 0 && (r < 0) != (y < 0) ? r + y : r;
    }
    case '^': return powf(x, y);
    case '<': return x < y;
    case '>': return x > y;
    case AST_OP_LE: return x <= y;
    case AST_OP_GE: return x >= y;
    case AST_OP_EQ: return x == y;
    case AST_OP_NE: return x != y;
    case AST_OP_AND: return x != 0 && y != 0;
    case AST_OP_OR: return x != 0 || y != 0;
    }
    return NAN;
}

static bool check_expr_at(Sema *s, AstNode *e);

/* Checks an expression, refusing nesting so deep that recursion could exhaust the stack. */
bool sema_expr(Sema *s, AstNode *e)
{
    if (s->depth >= MAX_EXPR_DEPTH) {
        if (!s->too_deep)
            sema_error(s, e->span, "this expression is nested too deeply (the limit is %d levels)",
                  MAX_EXPR_DEPTH);
        s->too_deep = true;
        return false;
    }
    s->depth++;
    bool ok = check_expr_at(s, e);
    s->depth--;
    return ok;
}

/* A definition of `name` by a statement of the unit after the one being checked, or NULL. */
static bool defined_later(const Sema *s, const char *name, Span *at)
{
    if (!s->unit) return false;
    for (size_t i = s->stmt_index + 1; i < s->unit->count; i++) {
        const AstNode *st = s->unit->items[i];
        switch (st->kind) {
        case AST_LET:
        case AST_PARAM:
            *at = st->u.bind.name_span;
            if (st->u.bind.name == name) return true;
            break;
        case AST_MODEL:
            *at = st->u.block.name_span;
            if (st->u.block.name == name) return true;
            break;
        case AST_FN:
            *at = st->u.fn.name_span;
            if (st->u.fn.name == name) return true;
            break;
        case AST_LET_MANY:
            for (size_t k = 0; k < st->u.many.names.count; k++) {
                *at = st->u.many.names.items[k]->span;
                if (st->u.many.names.items[k]->u.name == name) return true;
            }
            break;
        default: break;
        }
    }
    return false;
}

/* "'f' is used before its definition", with a note at it; false if it is not defined later. */
static bool used_before_definition(Sema *s, Span use, const char *name)
{
    Span later;
    if (!defined_later(s, name, &later)) return false;
    sema_error(s, use, "'%s' is used before its definition: a name can be used only after the "
               "line that defines it", name);
    sema_note(s, later, "'%s' is defined here", name);
    return true;
}

/* A name: a let or a param (or a local of a model's formula). */
static bool check_name(Sema *s, AstNode *e)
{
    Symbol *sym = sema_lookup(s, e->u.name);
    if (!sym && used_before_definition(s, e->span, e->u.name)) return false;
    if (!sym) {
        const char *hint = suggest_name(s, e->u.name);
        if (op_lookup(e->u.name))
            sema_error(s, e->span, "'%s' is a function; call it, e.g. %s(x)", e->u.name,
                       e->u.name);
        else if (hint)
            sema_error(s, e->span, "unknown name '%s'; did you mean '%s'?", e->u.name, hint);
        else
            sema_error(s, e->span, "unknown name '%s'", e->u.name);
        return false;
    }
    if (sym->poisoned) return false;    /* its definition was already reported */
    if (sym->kind == SYM_MODEL) {
        sema_error(s, e->span, "'%s' is a model; apply it to inputs, e.g. %s(X)", sym->name,
                   sym->name);
        return false;
    }
    if (sym->kind == SYM_DATA) {
        sema_error(s, e->span, "'%s' is a data set; use its inputs %s.X or its targets %s.Y",
                   sym->name, sym->name, sym->name);
        return false;
    }
    if (sym->kind == SYM_FN) {
        sema_error(s, e->span, "'%s' is a function; call it, e.g. %s(x)", sym->name, sym->name);
        return false;
    }
    e->sema.sym = sym;
    e->sema.shape = sym->shape;
    e->sema.grad = sym->grad;
    e->sema.is_const = sym->is_const;
    e->sema.const_value = sym->const_value;
    return true;
}

/* -a and a OP b; constants are folded (in float32, as the runtime computes). */
static bool check_operator(Sema *s, AstNode *e)
{
    if (e->kind == AST_UNARY) {
        AstNode *a = e->u.op.a;
        if (!sema_expr(s, a)) return false;
        bool not = e->u.op.op == AST_OP_NOT;
        bool ok = apply_shape(s, e, not ? OP_NOT : OP_NEG, &a, 1);
        if (a->sema.is_const && a->sema.shape.rank == 0) {
            e->sema.is_const = true;
            e->sema.const_value = not ? a->sema.const_value == 0 : -a->sema.const_value;
        }
        return ok;
    }
    AstNode *in[2] = { e->u.op.a, e->u.op.b };
    bool ok = sema_expr(s, in[0]);
    ok = sema_expr(s, in[1]) && ok;
    if (!ok) return false;
    ok = apply_shape(s, e, binary_op(e->u.op.op), in, 2);
    if (ok && in[0]->sema.is_const && in[1]->sema.is_const && e->sema.shape.rank == 0) {
        e->sema.is_const = true;
        e->sema.const_value = fold(e->u.op.op, in[0]->sema.const_value, in[1]->sema.const_value);
    }
    return ok;
}

/* p.grad: the gradient a param keeps. */
static bool check_grad(Sema *s, AstNode *e)
{
    AstNode *obj = e->u.field.obj;
    if (obj->kind != AST_NAME && !sema_param_path(s, obj)) {
        if (obj->kind == AST_FIELD && !sema_expr(s, obj)) return false;
        sema_error(s, e->span, "'.grad' is kept only for params; write it after a param's name, "
                   "e.g. w.grad");
        return false;
    }
    if (!sema_expr(s, obj)) return false;
    if (obj->sema.sym->kind != SYM_PARAM) {
        sema_error(s, e->span, "'%s' is a let, and only params keep a gradient ('trace' shows "
                   "the gradients of intermediate values)", obj->u.name);
        return false;
    }
    e->sema.op = OP_GRAD;
    e->sema.shape = obj->sema.shape;
    e->sema.attrs.shape = obj->sema.shape;
    e->sema.sym = obj->sema.sym;
    return true;
}

/* x.shape (a constant vector of sizes) and x.rows (its first size, a constant number); a data
 * set's rows too. */
static bool check_size_field(Sema *s, AstNode *e, bool rows)
{
    AstNode *obj = e->u.field.obj;
    Symbol *d = obj->kind == AST_NAME ? sema_lookup(s, obj->u.name) : NULL;
    Shape sh;
    if (d && d->kind == SYM_DATA) {
        if (d->poisoned) return false;
        sh = d->data->X->shape;
    } else {
        if (!sema_expr(s, obj)) return false;
        sh = obj->sema.shape;
    }
    e->sema.op = OP_CONST;
    if (rows) {
        if (sh.rank == 0) {
            sema_error(s, e->span, "a scalar has no rows");
            return false;
        }
        e->sema.is_const = true;
        e->sema.const_value = sh.dim[0];
        return true;
    }
    e->sema.attrs.shape = sh;       /* lowering makes the vector of sizes from it */
    e->sema.shape = shape_scalar();
    e->sema.shape.rank = 1;
    e->sema.shape.dim[0] = sh.rank;
    return true;
}

/* x.grad, x.T, x.shape, x.rows, data.X, net.layer1.W */
static bool check_field(Sema *s, AstNode *e)
{
    AstNode *obj = e->u.field.obj;
    const char *f = e->u.field.field;
    if (strcmp(f, "grad") == 0) return check_grad(s, e);
    if (strcmp(f, "shape") == 0 || strcmp(f, "rows") == 0)
        return check_size_field(s, e, f[0] == 'r');
    if (strcmp(f, "T") == 0) {
        if (!sema_expr(s, obj)) return false;
        e->sema.operand = obj;
        return apply_shape(s, e, OP_TRANSPOSE, &obj, 1);
    }
    bool handled;
    if (net_field(s, e, &handled)) return true;
    if (handled) return false;
    if (!sema_expr(s, obj)) return false;     /* an unknown name is the first mistake */
    sema_error(s, e->u.field.field_span, "unknown field '%s' (a value has .T, .shape and .rows, "
               "and a param .grad)", f);
    return false;
}

/* One range a:b of a subscript along an axis of `size`: constant ends (either may be left out;
 * negative ones count from the end; like Python, ends past the axis stop at it). */
static bool range_step(Sema *s, AstNode *r, int size, IndexStep *st)
{
    long lo = 0, hi = size;
    const double big = 2147483647.0;
    if (r->u.op.a && !sema_const_int(s, r->u.op.a, "the start of a range", -big, big, &lo))
        return false;
    if (r->u.op.b && !sema_const_int(s, r->u.op.b, "the end of a range", -big, big, &hi))
        return false;
    if (lo < 0) lo += size;
    if (hi < 0) hi += size;
    lo = lo < 0 ? 0 : lo > size ? size : lo;
    hi = hi < 0 ? 0 : hi > size ? size : hi;
    if (lo >= hi) {
        sema_error(s, r->span, "this range of an axis of size %d is empty", size);
        return false;
    }
    st->range = true;
    st->start = (int)lo;
    st->stop = (int)hi;
    return true;
}

/* One index along an axis of `size`: a scalar; a constant one is checked here, another when the
 * program runs. */
static bool index_step(Sema *s, AstNode *i, int size, IndexStep *st)
{
    if (!sema_expr(s, i)) return false;
    char buf[64];
    if (i->sema.shape.rank != 0) {
        sema_error(s, i->span, "an index is a number, but this has shape %s (for a range, write "
                   "a:b)", shape_str(&i->sema.shape, buf, sizeof buf));
        return false;
    }
    double v = i->sema.const_value;
    if (i->sema.is_const && (v != floor(v) || v < -size || v >= size)) {
        if (v != floor(v))
            sema_error(s, i->span, "an index must be a whole number, not %s", fmt_num(v, buf));
        else
            sema_error(s, i->span, "index %s is out of range for an axis of size %d (from %d to "
                       "%d)", fmt_num(v, buf), size, -size, size - 1);
        return false;
    }
    st->index = i;
    return true;
}

/* X[i], X[a:b], X[:, j], X[-1]: the subscripts as steps (lowering makes an op of each); the
 * shape of what is left. x.shape[k] with a constant k is a constant number. */
static bool check_index(Sema *s, AstNode *e)
{
    AstNode *obj = e->u.index.obj;
    const AstList *subs = &e->u.index.subs;
    if (!sema_expr(s, obj)) return false;
    Shape sh = obj->sema.shape;
    char buf[64];
    if (sh.rank == 0) {
        sema_error(s, e->span, "a scalar has no elements to index: this is one number, of "
                   "shape []");
        return false;
    }
    if ((int)subs->count > sh.rank) {
        sema_error(s, e->span, "this has shape %s: %d subscript%s at most, not %zu",
                   shape_str(&sh, buf, sizeof buf), sh.rank, sh.rank == 1 ? "" : "s",
                   subs->count);
        return false;
    }
    SemaExtra *ex = sema_extra(s, e);
    ex->steps = arena_alloc(s->arena, subs->count * sizeof *ex->steps);
    int axis = 0;
    for (size_t k = 0; k < subs->count; k++) {
        AstNode *sub = subs->items[k];
        IndexStep *st = &ex->steps[ex->n_steps++];
        st->axis = axis;
        bool ok = sub->kind == AST_RANGE ? range_step(s, sub, sh.dim[axis], st)
                                         : index_step(s, sub, sh.dim[axis], st);
        if (!ok) return false;
        if (st->range) {
            sh.dim[axis++] = st->stop - st->start;
            continue;
        }
        for (int d = axis; d + 1 < sh.rank; d++) sh.dim[d] = sh.dim[d + 1];
        sh.rank--;
    }
    e->sema.shape = sh;
    e->sema.grad = obj->sema.grad;
    e->sema.op = OP_INDEX;
    bool size = obj->kind == AST_FIELD && strcmp(obj->u.field.field, "shape") == 0;
    if (size && ex->n_steps == 1 && !ex->steps[0].range && ex->steps[0].index->sema.is_const) {
        double v = ex->steps[0].index->sema.const_value;
        int rank = obj->sema.attrs.shape.rank;
        e->sema.is_const = true;
        e->sema.const_value = obj->sema.attrs.shape.dim[(int)(v < 0 ? v + rank : v)];
    }
    return true;
}

static bool check_expr_at(Sema *s, AstNode *e)
{
    memset(&e->sema, 0, sizeof e->sema);
    e->sema.attrs = sema_no_attrs();
    switch (e->kind) {
    case AST_NUM:
        e->sema.op = OP_CONST;
        e->sema.is_const = true;
        e->sema.const_value = e->u.num;
        return true;
    case AST_STRING:
        sema_error(s, e->span, "a string can only be printed, not computed with");
        return false;
    case AST_TENSOR: {
        Shape shape;
        if (!literal_shape(s, e, &shape)) return false;
        e->sema.op = OP_CONST;
        e->sema.attrs.shape = shape;
        e->sema.shape = shape;
        return true;
    }
    case AST_NAME: return check_name(s, e);
    case AST_UNARY:
    case AST_BINARY: return check_operator(s, e);
    case AST_CALL: return check_call(s, e);
    case AST_FIELD: return check_field(s, e);
    case AST_INDEX: return check_index(s, e);
    case AST_RANGE:
        sema_error(s, e->span, "a range a:b is written only inside a subscript, as X[a:b]");
        return false;
    default: break;
    }
    NN_ASSERT(!"not an expression");
    return false;
}
