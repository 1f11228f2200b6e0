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
static const char *suggest_function(const char *name)
{
    Suggest sg;
    suggest_init(&sg, name);
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (op->sig != SIG_LEAF && op->sig != SIG_OPERATOR) suggest_offer(&sg, op->name);
    }
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
    e->sema.grad = false;
    for (int i = 0; i < n; i++) e->sema.grad |= in[i]->sema.grad;
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
    if (s->n_locals + m->n_params + 1 > (int)NN_ARRAY_LEN(s->locals)) {
        sema_error(s, at, "model '%s' has too many params to apply (the limit is %zu)", m->name,
                   NN_ARRAY_LEN(s->locals) - 1);
        return false;
    }
    for (int i = 0; i < m->n_params; i++)
        s->locals[s->n_locals++] = (LocalName){ m->param_names[i], m->params[i] };
    s->locals[s->n_locals++] = (LocalName){ m->arg, arg };
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
    StrBuf names;
    sb_init(&names);
    size_t plen = strlen(path);
    bool prefix = false;
    for (int i = 0; i < m->n_params; i++) {
        sb_printf(&names, "%s%s", i ? ", " : "", m->param_names[i]);
        if (strncmp(m->param_names[i], path, plen) == 0 && m->param_names[i][plen] == '.')
            prefix = true;
    }
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

/* sum(x) over everything, or sum(x, axis) */
static bool call_reduce(Sema *s, AstNode *e, const OpInfo *op)
{
    const AstList *args = &e->u.call.args;
    const char *name = op->name;
    if (!sema_named(s, args, name, "axis") || sema_given_twice(s, args, 1, "axis")) return false;
    AstNode *x = sema_arg(args, 0, NULL), *ax = sema_arg(args, 1, "axis");
    if (!x || sema_npos(args) > 2) {
        sema_error(s, e->span, "'%s' takes x and an optional axis: %s(x) or %s(x, axis)", name,
                   name, name);
        return false;
    }
    if (!sema_expr(s, x)) return false;
    return axis_arg(s, e, ax) && apply_on(s, e, op, x);
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

/* A call: of a model, or of a built-in, whose arguments are checked by its call signature. */
static bool check_call(Sema *s, AstNode *e)
{
    Symbol *msym = sema_lookup(s, e->u.call.name);
    if (msym && msym->kind == SYM_MODEL) return model_call(s, e, msym);
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
    case SIG_BINARY:
    case SIG_WHERE:
    case SIG_CLAMP:
    case SIG_RESHAPE:
    case SIG_CONCAT:
    case SIG_ONE_HOT:
        /* TODO(issue 11): the checks for the new built-ins land with the language work */
        sema_error(s, e->u.call.name_span, "'%s' cannot be called yet", e->u.call.name);
        return false;
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
    case '^': return OP_POW;
    case '@': return OP_MATMUL;
    }
    NN_ASSERT(!"unknown operator");
    return OP_ADD;
}

static double fold(int c, double a, double b)
{
    switch (c) {
    case '+': return (float)a + (float)b;
    case '-': return (float)a - (float)b;
    case '*': return (float)a * (float)b;
    case '/': return (float)a / (float)b;
    case '^': return powf((float)a, (float)b);
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

/* A name: a let or a param (or a local of a model's formula). */
static bool check_name(Sema *s, AstNode *e)
{
    Symbol *sym = sema_lookup(s, e->u.name);
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
        bool ok = apply_shape(s, e, OP_NEG, &a, 1);
        if (a->sema.is_const && a->sema.shape.rank == 0) {
            e->sema.is_const = true;
            e->sema.const_value = -a->sema.const_value;
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

/* x.grad, x.T, data.X, net.layer1.W */
static bool check_field(Sema *s, AstNode *e)
{
    AstNode *obj = e->u.field.obj;
    const char *f = e->u.field.field;
    if (strcmp(f, "grad") == 0) return check_grad(s, e);
    if (strcmp(f, "T") == 0) {
        if (!sema_expr(s, obj)) return false;
        e->sema.operand = obj;
        return apply_shape(s, e, OP_TRANSPOSE, &obj, 1);
    }
    bool handled;
    if (net_field(s, e, &handled)) return true;
    if (handled) return false;
    if (!sema_expr(s, obj)) return false;     /* an unknown name is the first mistake */
    sema_error(s, e->u.field.field_span, "unknown field '%s' (a value has '.grad' and '.T')", f);
    return false;
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
    default: break;
    }
    NN_ASSERT(!"not an expression");
    return false;
}
