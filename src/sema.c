/* sema.c — checks names, call arguments and shapes of a parsed unit before anything runs.
 * Shape rules come from the op table, so the checker and the runtime agree by construction.
 * Every error is reported at the span that caused it; checking goes on after an error so a
 * script's mistakes are reported together. */
#include "sema_int.h"

#include <math.h>
#include <string.h>

#define MAX_EXPR_DEPTH 1000         /* deeper expressions are refused, not recursed into */
#define MAX_ERRORS 20


/* ---- symbols ----------------------------------------------------------------------------- */

void symtab_init(SymbolTable *t)
{
    t->items = NULL;
    t->count = t->cap = 0;
}

void symtab_free(SymbolTable *t)
{
    symtab_truncate(t, 0);
    nn_free(t->items);
    symtab_init(t);
}

void symtab_truncate(SymbolTable *t, size_t count)
{
    while (t->count > count) sema_symbol_free(t->items[--t->count]);
}

Symbol *symtab_find(const SymbolTable *t, const char *name)
{
    for (size_t i = t->count; i-- > 0;)     /* newest first: a later let shadows */
        if (t->items[i]->name == name) return t->items[i];
    return NULL;
}

static Symbol *symtab_add(SymbolTable *t, const char *name, SymKind kind, Span decl)
{
    NN_ASSERT(name);
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->items = nn_realloc(t->items, t->cap * sizeof *t->items);
    }
    Symbol *s = nn_calloc(1, sizeof *s);
    s->name = name;
    s->kind = kind;
    s->decl = decl;
    t->items[t->count++] = s;
    return s;
}

/* ---- helpers -------------------------------------------------------------------------------- */

void sema_error(Sema *s, Span at, const char *fmt, ...)
{
    s->errors++;
    if (s->errors == MAX_ERRORS + 1)
        diag_report(s->diag, DIAG_NOTE, at, "too many errors; stopping here");
    if (s->errors > MAX_ERRORS) return;
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(s->diag, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
}

void sema_note(Sema *s, Span at, const char *fmt, ...)
{
    if (s->errors > MAX_ERRORS) return;
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(s->diag, DIAG_NOTE, at, fmt, ap);
    va_end(ap);
}

Symbol *sema_lookup(Sema *s, const char *name)
{
    for (int i = s->n_locals; i-- > 0;)
        if (s->locals[i].name == name) return s->locals[i].sym;
    return symtab_find(s->syms, name);
}

Symbol *sema_add_symbol(Sema *s, const char *name, SymKind kind, Span decl)
{
    return symtab_add(s->syms, name, kind, decl);
}

SemaExtra *sema_extra(Sema *s, AstNode *n)
{
    if (!n->sema.extra) n->sema.extra = arena_alloc(s->arena, sizeof *n->sema.extra);
    return n->sema.extra;
}

const char *sema_intern(Sema *s, const char *text)
{
    return intern(s->interner, text, strlen(text));
}

const char *sema_dotted(Sema *s, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *buf = nn_alloc(la + lb + 2);
    memcpy(buf, a, la);
    buf[la] = '.';
    memcpy(buf + la + 1, b, lb + 1);
    const char *r = intern(s->interner, buf, la + lb + 1);
    nn_free(buf);
    return r;
}

static const char *kind_word(SymKind k)
{
    switch (k) {
    case SYM_PARAM: return "param";
    case SYM_LET: return "let";
    case SYM_MODEL: return "model";
    case SYM_DATA: return "data set";
    }
    return "name";
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31) return 99;
    size_t d[32][32];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* The closest defined name or built-in, for "did you mean" hints. */
static const char *suggest(Sema *s, const char *name, bool functions)
{
    const char *best = NULL;
    if (strlen(name) < 3) return NULL;     /* every short name is close to every other */
    size_t best_d = strlen(name) <= 4 ? 1 : 2;
    if (functions) {
        for (int k = 0; k < OP_COUNT; k++) {
            const OpInfo *op = op_info((OpKind)k);
            if (op->sig == SIG_LEAF || op->sig == SIG_OPERATOR) continue;
            size_t d = edit_distance(name, op->name);
            if (d <= best_d) best = op->name, best_d = d;
        }
    } else {
        for (size_t i = 0; i < s->syms->count; i++) {
            size_t d = edit_distance(name, s->syms->items[i]->name);
            if (d <= best_d) best = s->syms->items[i]->name, best_d = d;
        }
    }
    return best;
}

OpAttrs sema_no_attrs(void)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.axis = NN_AXIS_ALL;
    return at;
}

/* Runs op's shape rule on the inputs' shapes; reports a mismatch at the expression. */
bool sema_apply_shape(Sema *s, AstNode *e, OpKind op, AstNode *const *in, int n)
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

/* A compile-time constant integer argument (sizes, axes, seeds) in [lo, hi]. */
bool sema_const_int(Sema *s, AstNode *e, const char *what, double lo, double hi, long *out)
{
    if (!sema_expr(s, e)) return false;
    double v = e->sema.const_value;
    if (!e->sema.is_const || e->sema.shape.rank != 0 || v != floor(v)) {
        sema_error(s, e->span, "%s must be a constant integer", what);
        return false;
    }
    if (v < lo) {
        sema_error(s, e->span, "%s must be at least %.17g, not %.17g", what, lo, v);
        return false;
    }
    if (v > hi) {
        sema_error(s, e->span, "%s must be at most %.17g, not %.17g", what, hi, v);
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

/* ---- calls --------------------------------------------------------------------------------- */

int sema_npos(const AstList *args)
{
    int n = 0;
    for (size_t i = 0; i < args->count; i++) n += args->items[i]->u.bind.name == NULL;
    return n;
}

/* An argument given both by position and by name is an error (Python's rule). */
bool sema_given_twice(Sema *s, const AstList *args, int pos, const char *name)
{
    if (sema_npos(args) <= pos) return false;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        if (a->u.bind.name && strcmp(a->u.bind.name, name) == 0) {
            sema_error(s, a->u.bind.name_span, "'%s' is given twice: by position and by name", name);
            return true;
        }
    }
    return false;
}

/* Finds an argument by position or name; reports unknown names. Returns NULL if absent. */
AstNode *sema_arg(const AstList *args, int pos, const char *name)
{
    int p = 0;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        if (a->u.bind.name == NULL) {
            if (p++ == pos) return a->u.bind.value;
        } else if (name && strcmp(a->u.bind.name, name) == 0) {
            return a->u.bind.value;
        }
    }
    return NULL;
}

bool sema_named(Sema *s, const AstList *args, const char *fn, const char *allowed)
{
    bool ok = true;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        if (!a->u.bind.name) continue;
        if (!allowed || strcmp(a->u.bind.name, allowed) != 0) {
            if (allowed)
                sema_error(s, a->u.bind.name_span, "'%s' has no argument '%s' (it takes '%s')", fn,
                      a->u.bind.name, allowed);
            else
                sema_error(s, a->u.bind.name_span, "'%s' takes no named arguments", fn);
            ok = false;
        }
        for (size_t j = 0; j < i; j++)
            if (args->items[j]->u.bind.name == a->u.bind.name) {
                sema_error(s, a->u.bind.name_span, "argument '%s' is given twice", a->u.bind.name);
                ok = false;
            }
    }
    return ok;
}

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

static bool check_call(Sema *s, AstNode *e)
{
    const char *name = e->u.call.name;
    const AstList *args = &e->u.call.args;
    Symbol *msym = sema_lookup(s, name);
    if (msym && msym->kind == SYM_MODEL) return sema_model_call(s, e, msym);
    if (sema_is_data_fn(name)) {
        sema_error(s, e->span, "'%s' makes a data set; give it a name: let data = %s(...)", name,
                   name);
        return false;
    }
    if (strcmp(name, "labels") == 0) {
        sema_error(s, e->span, "'labels' names the predicted classes in print only: print "
                   "labels(data, scores)");
        return false;
    }
    if (strcmp(name, "summary") == 0) {
        sema_error(s, e->span, "'summary' prints a model's layers; write it as a statement: "
                   "summary(net)");
        return false;
    }
    /* the other names PyTorch and Keras users know the initialisers by */
    const OpInfo *op = op_lookup(strcmp(name, "glorot") == 0 ? "xavier"
                                 : strcmp(name, "kaiming") == 0 ? "he" : name);
    if (!op) {
        Symbol *sym = sema_lookup(s, name);
        if (sym) {
            sema_error(s, e->u.call.name_span, "'%s' is a %s, not a function", name,
                  kind_word(sym->kind));
            return false;
        }
        const char *hint = suggest(s, name, true);
        if (hint)
            sema_error(s, e->u.call.name_span, "unknown function '%s'; did you mean '%s'?", name,
                  hint);
        else
            sema_error(s, e->u.call.name_span, "unknown function '%s'", name);
        return false;
    }
    e->sema.attrs = sema_no_attrs();
    int npos = sema_npos(args);
    switch (op->sig) {
    case SIG_UNARY: {
        if (!sema_named(s, args, name, NULL)) return false;
        if (npos != 1) {
            sema_error(s, e->span, "'%s' takes 1 argument, but %d %s given", name, npos,
                  npos == 1 ? "was" : "were");
            return false;
        }
        AstNode *x = sema_arg(args, 0, NULL);
        if (!sema_expr(s, x)) return false;
        e->sema.operand = x;
        return sema_apply_shape(s, e, op->kind, &x, 1);
    }
    case SIG_LEAKY: {
        if (!sema_named(s, args, name, "a")) return false;
        AstNode *x = sema_arg(args, 0, NULL), *a = sema_arg(args, 1, "a");
        if (sema_given_twice(s, args, 1, "a")) return false;
        if (!x || npos > 2) {
            sema_error(s, e->span, "'%s' takes x and an optional slope a: leaky_relu(x, a = 0.01)",
                  name);
            return false;
        }
        double slope = 0.01;    /* PyTorch's default negative slope */
        if (a && !sema_const_number(s, a, "the slope 'a'", &slope)) return false;
        if (!sema_expr(s, x)) return false;
        e->sema.attrs.alpha = (float)slope;
        e->sema.operand = x;
        return sema_apply_shape(s, e, op->kind, &x, 1);
    }
    case SIG_REDUCE: {
        if (!sema_named(s, args, name, "axis") || sema_given_twice(s, args, 1, "axis")) return false;
        AstNode *x = sema_arg(args, 0, NULL), *ax = sema_arg(args, 1, "axis");
        if (!x || npos > 2) {
            sema_error(s, e->span, "'%s' takes x and an optional axis: %s(x) or %s(x, axis)", name,
                  name, name);
            return false;
        }
        if (!sema_expr(s, x)) return false;
        if (ax) {
            long axis;
            if (!sema_const_int(s, ax, "the axis", -2147483647.0, 2147483647.0, &axis)) return false;
            e->sema.attrs.axis = (int)axis;
        }
        e->sema.operand = x;
        return sema_apply_shape(s, e, op->kind, &x, 1);
    }
    case SIG_DIMS:
    case SIG_FULL:
    case SIG_EYE: {
        if (!sema_named(s, args, name, NULL)) return false;
        int ndims = op->sig == SIG_FULL ? npos - 1 : npos;
        if (ndims < 1 || (op->sig == SIG_EYE && npos != 1)) {
            if (op->sig == SIG_EYE)
                sema_error(s, e->span, "'eye' takes one size: eye(n)");
            else if (op->sig == SIG_FULL)
                sema_error(s, e->span, "'full' takes sizes, then the value: full(2, 3, 0.5)");
            else
                sema_error(s, e->span, "'%s' takes at least one size, e.g. %s(2, 3)", name, name);
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
        return sema_apply_shape(s, e, op->kind, NULL, 0);
    }
    case SIG_AXIS: {
        if (!sema_named(s, args, name, "axis") || sema_given_twice(s, args, 1, "axis"))
            return false;
        AstNode *x = sema_arg(args, 0, NULL), *ax = sema_arg(args, 1, "axis");
        if (!x || npos > 2) {
            sema_error(s, e->span, "'%s' takes x and an optional axis (the last by default): "
                       "%s(x) or %s(x, axis)", name, name, name);
            return false;
        }
        if (!sema_expr(s, x)) return false;
        e->sema.attrs.axis = -1;
        if (ax) {
            long axis;
            if (!sema_const_int(s, ax, "the axis", -2147483647.0, 2147483647.0, &axis))
                return false;
            e->sema.attrs.axis = (int)axis;
        }
        e->sema.operand = x;
        return sema_apply_shape(s, e, op->kind, &x, 1);
    }
    case SIG_LOSS: {
        if (!sema_named(s, args, name, NULL)) return false;
        if (npos != 2) {
            sema_error(s, e->span, "'%s' takes a prediction and a target: %s(prediction, "
                       "target)", name, name);
            return false;
        }
        AstNode *in[2] = { sema_arg(args, 0, NULL), sema_arg(args, 1, NULL) };
        bool ok = sema_expr(s, in[0]);
        ok = sema_expr(s, in[1]) && ok;
        if (!ok) return false;
        e->sema.operand = in[0];
        e->sema.operand2 = in[1];
        return sema_apply_shape(s, e, op->kind, in, 2);
    }
    case SIG_PROB: {
        if (!sema_named(s, args, name, "p") || sema_given_twice(s, args, 1, "p")) return false;
        AstNode *x = sema_arg(args, 0, NULL), *pa = sema_arg(args, 1, "p");
        if (!x || !pa || npos > 2) {
            sema_error(s, e->span, "'%s' takes x and a probability: %s(x, 0.5)", name, name);
            return false;
        }
        double p;
        if (!sema_const_number(s, pa, "the probability", &p)) return false;
        if (p < 0 || p >= 1) {
            sema_error(s, pa->span, "the probability must be at least 0 and below 1");
            return false;
        }
        if (!sema_expr(s, x)) return false;
        e->sema.attrs.p = (float)p;
        e->sema.operand = x;
        return sema_apply_shape(s, e, op->kind, &x, 1);
    }
    case SIG_FANS: {
        if (!sema_named(s, args, name, NULL)) return false;
        if (npos != 2) {
            sema_error(s, e->span, "'%s' takes the number of inputs and outputs: %s(4, 8)", name,
                       name);
            return false;
        }
        if (!check_dims(s, e, args, 2, &e->sema.attrs.shape)) return false;
        return sema_apply_shape(s, e, op->kind, NULL, 0);
    }
    case SIG_BINARY:
    case SIG_WHERE:
    case SIG_CLAMP:
    case SIG_RESHAPE:
    case SIG_CONCAT:
    case SIG_ONE_HOT:
        /* TODO(issue 11): the checks for the new built-ins land with the language work */
        sema_error(s, e->u.call.name_span, "'%s' cannot be called yet", name);
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
    case AST_NAME: {
        Symbol *sym = sema_lookup(s, e->u.name);
        if (!sym) {
            const char *hint = suggest(s, e->u.name, false);
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
    case AST_UNARY: {
        AstNode *a = e->u.op.a;
        if (!sema_expr(s, a)) return false;
        bool ok = sema_apply_shape(s, e, OP_NEG, &a, 1);
        if (a->sema.is_const && a->sema.shape.rank == 0) {
            e->sema.is_const = true;
            e->sema.const_value = -a->sema.const_value;
        }
        return ok;
    }
    case AST_BINARY: {
        AstNode *in[2] = { e->u.op.a, e->u.op.b };
        bool ok = sema_expr(s, in[0]);
        ok = sema_expr(s, in[1]) && ok;
        if (!ok) return false;
        ok = sema_apply_shape(s, e, binary_op(e->u.op.op), in, 2);
        if (ok && in[0]->sema.is_const && in[1]->sema.is_const && e->sema.shape.rank == 0) {
            e->sema.is_const = true;
            e->sema.const_value = fold(e->u.op.op, in[0]->sema.const_value,
                                       in[1]->sema.const_value);
        }
        return ok;
    }
    case AST_CALL: return check_call(s, e);
    case AST_FIELD: {
        AstNode *obj = e->u.field.obj;
        const char *f = e->u.field.field;
        if (strcmp(f, "grad") == 0) {
            if (obj->kind != AST_NAME && !sema_param_path(s, obj)) {
                if (obj->kind == AST_FIELD && !sema_expr(s, obj)) return false;
                sema_error(s, e->span, "'.grad' is kept only for params; write it after a param's "
                                  "name, e.g. w.grad");
                return false;
            }
            if (!sema_expr(s, obj)) return false;
            if (obj->sema.sym->kind != SYM_PARAM) {
                sema_error(s, e->span, "'%s' is a let, and only params keep a gradient ('trace' "
                                  "shows the gradients of intermediate values)", obj->u.name);
                return false;
            }
            e->sema.op = OP_GRAD;
            e->sema.shape = obj->sema.shape;
            e->sema.attrs.shape = obj->sema.shape;
            e->sema.sym = obj->sema.sym;
            return true;
        }
        if (strcmp(f, "T") == 0) {
            if (!sema_expr(s, obj)) return false;
            e->sema.operand = obj;
            return sema_apply_shape(s, e, OP_TRANSPOSE, &obj, 1);
        }
        bool handled;
        if (sema_net_field(s, e, &handled)) return true;
        if (handled) return false;
        if (!sema_expr(s, obj)) return false;     /* an unknown name is the first mistake */
        sema_error(s, e->u.field.field_span, "unknown field '%s' (a value has '.grad' and '.T')", f);
        return false;
    }
    default: break;
    }
    NN_ASSERT(!"not an expression");
    return false;
}

/* ---- statements ----------------------------------------------------------------------------- */

bool sema_scalar(Sema *s, AstNode *e, const char *stmt)
{
    if (e->sema.shape.rank == 0) return true;
    char buf[64];
    sema_error(s, e->span, "'%s' needs a scalar, but this has shape %s; reduce it first, e.g. "
                      "with sum(...) or mean(...)", stmt, shape_str(&e->sema.shape, buf, sizeof buf));
    return false;
}

/* A param's new value: the same shape, or a scalar that fills it. */
static bool check_param_value(Sema *s, Symbol *sym, AstNode *v)
{
    if (shape_eq(&v->sema.shape, &sym->shape) || v->sema.shape.rank == 0) return true;
    char a[64], b[64];
    sema_error(s, v->span, "'%s' is a param of shape %s, so its new value must have that shape "
                      "(or be a scalar), but this is %s", sym->name,
          shape_str(&sym->shape, a, sizeof a), shape_str(&v->sema.shape, b, sizeof b));
    return false;
}

static void check_stmt(Sema *s, AstNode *st)
{
    memset(&st->sema, 0, sizeof st->sema);
    s->too_deep = false;
    switch (st->kind) {
    case AST_LET_MANY: {
        AstNode *v = st->u.many.value;
        if (v->kind == AST_CALL && sema_is_data_fn(v->u.call.name)) {
            sema_check_data_let(s, st);
            return;
        }
        sema_error(s, v->span, "only data functions give several values: let a, b = "
                   "split(data, 0.8) or normalize(a, b)");
        for (size_t i = 0; i < st->u.many.names.count; i++)
            symtab_add(s->syms, st->u.many.names.items[i]->u.name, SYM_LET,
                       st->u.many.names.items[i]->span)->poisoned = true;
        return;
    }
    case AST_MODEL: sema_check_model(s, st); return;
    case AST_TRAIN: sema_check_train(s, st); return;
    case AST_SAVE:
    case AST_LOAD: sema_check_file(s, st); return;
    case AST_LET: {
        AstNode *v = st->u.bind.value;
        if (v->kind == AST_CALL && sema_is_data_fn(v->u.call.name)
            && !(sema_lookup(s, v->u.call.name)
                 && sema_lookup(s, v->u.call.name)->kind == SYM_MODEL)) {
            sema_check_data_let(s, st);
            return;
        }
        bool ok = sema_expr(s, v);
        Symbol *sym = symtab_add(s->syms, st->u.bind.name, SYM_LET, st->u.bind.name_span);
        sym->poisoned = !ok;    /* later uses of a failed definition are not errors again */
        if (!ok) return;
        sym->shape = v->sema.shape;
        sym->grad = v->sema.grad;
        sym->is_const = v->sema.is_const && v->sema.shape.rank == 0;
        sym->const_value = v->sema.const_value;
        st->sema.sym = sym;
        return;
    }
    case AST_PARAM: {
        AstNode *v = st->u.bind.value;
        Symbol *old = symtab_find(s->syms, st->u.bind.name);
        if (!sema_expr(s, v)) {
            if (!old || old->kind != SYM_PARAM)
                symtab_add(s->syms, st->u.bind.name, SYM_PARAM, st->u.bind.name_span)->poisoned =
                    true;
            return;
        }
        if (old && old->kind == SYM_PARAM) {
            if (old->poisoned) return;  /* its shape is unknown; its error was reported */
            /* declaring a param again gives it a new value; formulas that use it follow */
            if (check_param_value(s, old, v)) st->sema.sym = old;
            return;
        }
        Symbol *sym = symtab_add(s->syms, st->u.bind.name, SYM_PARAM, st->u.bind.name_span);
        sym->shape = v->sema.shape;
        sym->grad = true;
        st->sema.sym = sym;
        return;
    }
    case AST_ASSIGN: {
        AstNode *v = st->u.bind.value;
        bool ok = sema_expr(s, v);
        Symbol *sym = symtab_find(s->syms, st->u.bind.name);
        if (!sym && strchr(st->u.bind.name, '.')) {
            sema_error(s, st->u.bind.name_span, "unknown param '%s'", st->u.bind.name);
            return;
        }
        if (!sym) {
            sema_error(s, st->u.bind.name_span, "unknown name '%s'; define it with 'let %s = ...' "
                  "or 'param %s = ...'", st->u.bind.name, st->u.bind.name, st->u.bind.name);
            return;
        }
        if (sym->kind != SYM_PARAM) {
            sema_error(s, st->u.bind.name_span, "cannot assign to '%s': it is a let, a formula that "
                  "follows its inputs; define it again with 'let %s = ...'", sym->name, sym->name);
            if (s->errors <= MAX_ERRORS)    /* no note for an error that was not shown */
                diag_report(s->diag, DIAG_NOTE, sym->decl, "'%s' is defined here", sym->name);
            return;
        }
        if (ok && !sym->poisoned && check_param_value(s, sym, v)) st->sema.sym = sym;
        return;
    }
    case AST_PRINT:
        for (size_t i = 0; i < st->u.list.count; i++) {
            AstNode *item = st->u.list.items[i];
            if (item->kind == AST_STRING) continue;
            const char *text = sema_print_text(s, item);
            if (text) sema_extra(s, item)->text = text;
            else if (!sema_print_labels(s, item)) sema_expr(s, item);
        }
        return;
    case AST_BACKWARD: {
        AstNode *e = st->u.expr;
        if (!sema_expr(s, e) || !sema_scalar(s, e, "backward")) return;
        if (!e->sema.grad)
            sema_error(s, e->span, "nothing to differentiate: this depends on no param (declare "
                              "the weights with 'param')");
        return;
    }
    case AST_TRACE: {
        AstNode *e = st->u.trace.expr;
        if (sema_expr(s, e)) sema_scalar(s, e, "trace");
        sema_trace_places(s, &st->u.trace.places, NULL, &sema_extra(s, st)->focus);
        return;
    }
    case AST_GRADCHECK: {
        AstNode *e = st->u.expr;
        if (!sema_expr(s, e) || !sema_scalar(s, e, "gradcheck")) return;
        if (!e->sema.grad)
            sema_error(s, e->span, "nothing to check: this depends on no param");
        return;
    }
    case AST_STEP: sema_check_step(s, st); return;
    case AST_ZERO_GRAD: return;
    case AST_SEED: {
        long v;
        sema_const_int(s, st->u.expr, "the seed", 0, 4294967295.0, &v);
        return;
    }
    case AST_EXPR: {
        const char *text = sema_print_text(s, st->u.expr);
        if (text) sema_extra(s, st->u.expr)->text = text;
        else sema_expr(s, st->u.expr);
        return;
    }
    default: break;
    }
    NN_ASSERT(!"not a statement");
}

int sema_check(AstList *stmts, SymbolTable *syms, DiagSink *diag, Interner *interner,
               Arena *arena)
{
    Sema s;
    memset(&s, 0, sizeof s);
    s.syms = syms;
    s.diag = diag;
    s.interner = interner;
    s.arena = arena;
    for (size_t i = 0; i < stmts->count; i++) check_stmt(&s, stmts->items[i]);
    return s.errors;
}
