/* sema.c — the checker's top: dispatches each statement of a unit to the checker of its kind.
 * Every error is reported at the span that caused it; checking goes on after an error so a
 * script's mistakes are reported together. The layers below only call down:
 *   sema.c -> sema_model.c, sema_data.c, sema_train.c -> sema_args.c -> sema_expr.c
 *          -> sema_core.c */
#include "sema_data.h"
#include "sema_expr.h"
#include "sema_model.h"
#include "sema_train.h"

#include <stdint.h>
#include <string.h>

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

/* let a, b = split(...): only data functions give several values. */
static void check_let_many(Sema *s, AstNode *st)
{
    AstNode *v = st->u.many.value;
    if (v->kind == AST_CALL && sema_is_data_fn(v->u.call.name)) {
        sema_check_data_let(s, st);
        return;
    }
    Suggest sg;
    suggest_init(&sg, v->kind == AST_CALL ? v->u.call.name : "");
    sema_offer_data_fns(&sg);
    if (suggest_best(&sg))
        sema_error(s, v->u.call.name_span, "unknown data function '%s'; did you mean '%s'?",
                   v->u.call.name, suggest_best(&sg));
    else
        sema_error(s, v->span, "only data functions give several values: let a, b = "
                   "split(data, 0.8) or normalize(a, b)");
    for (size_t i = 0; i < st->u.many.names.count; i++)
        sema_add_symbol(s, st->u.many.names.items[i]->u.name, SYM_LET,
                        st->u.many.names.items[i]->span)->poisoned = true;
}

/* Inside a block, a name carried through it (find_carries) is given a new value: `v` must have
 * its shape and must not depend on params. The new value is a new version of the name: a leaf
 * that this statement fills, so formulas made before it in the block keep seeing the old value
 * (as they would outside a block, where a let makes a new formula). */
static void check_carried_value(Sema *s, AstNode *st, Symbol *old, AstNode *v)
{
    char a[64], b[64];
    if (!shape_eq(&v->sema.shape, &old->shape)) {
        sema_error(s, v->span, "'%s' is %s before this block, so its new value must be %s too, "
                   "but this is %s", old->name, shape_str(&old->shape, a, sizeof a), a,
                   shape_str(&v->sema.shape, b, sizeof b));
        return;
    }
    if (v->sema.grad) {
        sema_error(s, v->span, "'%s' is defined before this block, so here it gets a new value "
                   "each time this line runs; that value cannot depend on params, as a gradient "
                   "could not flow back through the block's earlier runs (detach(...) keeps only "
                   "the value)", old->name);
        sema_note(s, old->decl, "'%s' is defined here", old->name);
        return;
    }
    Symbol *sym = sema_define(s, st->u.bind.name, SYM_LET, st->u.bind.name_span);
    sym->shape = old->shape;
    sym->carried = true;
    st->sema.sym = sym;
    sema_extra(s, st)->set_value = true;
}

static void check_let(Sema *s, AstNode *st)
{
    AstNode *v = st->u.bind.value;
    if (v->kind == AST_CALL && sema_is_data_fn(v->u.call.name)
        && !(sema_lookup(s, v->u.call.name)
             && sema_lookup(s, v->u.call.name)->kind == SYM_MODEL)) {
        if (s->blocks) {
            sema_error(s, st->span, "data sets are made outside loops and ifs: define '%s' "
                       "before the block", st->u.bind.name);
            return;
        }
        sema_check_data_let(s, st);
        return;
    }
    bool ok = sema_expr(s, v);
    Symbol *old = sema_lookup(s, st->u.bind.name);
    if (s->blocks && old && old->carried) {
        if (ok && !old->poisoned) check_carried_value(s, st, old, v);
        return;
    }
    Symbol *sym = sema_define(s, st->u.bind.name, SYM_LET, st->u.bind.name_span);
    sym->poisoned = !ok;    /* later uses of a failed definition are not errors again */
    if (!ok) return;
    sym->shape = v->sema.shape;
    sym->grad = v->sema.grad;
    sym->is_const = v->sema.is_const && v->sema.shape.rank == 0;
    sym->const_value = v->sema.const_value;
    st->sema.sym = sym;
}

static void check_param(Sema *s, AstNode *st)
{
    AstNode *v = st->u.bind.value;
    Symbol *old = symtab_find(s->syms, st->u.bind.name);
    if (s->blocks && !(old && old->kind == SYM_PARAM)) {
        sema_error(s, st->span, "params are declared outside loops and ifs: declare '%s' before "
                   "the block, and give it values inside with %s = ...", st->u.bind.name,
                   st->u.bind.name);
        return;
    }
    if (!sema_expr(s, v)) {
        if (!old || old->kind != SYM_PARAM)
            sema_add_symbol(s, st->u.bind.name, SYM_PARAM, st->u.bind.name_span)->poisoned = true;
        return;
    }
    if (old && old->kind == SYM_PARAM) {
        if (old->poisoned) return;  /* its shape is unknown; its error was reported */
        /* declaring a param again gives it a new value; formulas that use it follow */
        if (check_param_value(s, old, v)) st->sema.sym = old;
        return;
    }
    Symbol *sym = sema_add_symbol(s, st->u.bind.name, SYM_PARAM, st->u.bind.name_span);
    sym->shape = v->sema.shape;
    sym->grad = true;
    st->sema.sym = sym;
}

/* c += 1 for a let: `let c = c + 1`, written into the statement (a new formula, or a new value
 * of a name carried through a block). */
static void compound_let(Sema *s, AstNode *st)
{
    AstNode *name = ast_new(s->arena, AST_NAME, st->u.bind.name_span);
    name->u.name = st->u.bind.name;
    AstNode *v = ast_new(s->arena, AST_BINARY, st->span);
    v->u.op.op = st->u.bind.op;
    v->u.op.a = name;
    v->u.op.b = st->u.bind.value;
    st->kind = AST_LET;
    st->u.bind.value = v;
    st->u.bind.op = 0;
    check_let(s, st);
}

/* The name an assignment gives a value, as an expression: w, or net.layer1.W as fields. */
static AstNode *assign_target(Sema *s, const AstNode *st)
{
    AstNode *target = ast_new(s->arena, AST_NAME, st->u.bind.name_span);
    target->u.name = st->u.bind.name;
    if (strchr(st->u.bind.name, '.')) {     /* net.layer1.W: the field path again */
        const char *dot = strrchr(st->u.bind.name, '.');
        target->kind = AST_FIELD;
        AstNode *obj = ast_new(s->arena, AST_NAME, st->u.bind.name_span);
        obj->u.name = intern(s->interner, st->u.bind.name, (size_t)(dot - st->u.bind.name));
        target->u.field.obj = obj;
        target->u.field.field = sema_intern(s, dot + 1);
        target->u.field.field_span = st->u.bind.name_span;
        /* deeper paths (net.layer1.W) nest the same way */
        for (const char *d = strrchr(obj->u.name, '.'); d; d = strrchr(obj->u.name, '.')) {
            AstNode *inner = ast_new(s->arena, AST_NAME, st->u.bind.name_span);
            inner->u.name = intern(s->interner, obj->u.name, (size_t)(d - obj->u.name));
            obj->kind = AST_FIELD;
            obj->u.field.field = sema_intern(s, d + 1);
            obj->u.field.field_span = st->u.bind.name_span;
            obj->u.field.obj = inner;
            obj = inner;
        }
    }
    return target;
}

/* w -= 0.1 * w.grad for a param: w = w - 0.1 * w.grad. */
static void compound_value(Sema *s, AstNode *st)
{
    AstNode *v = ast_new(s->arena, AST_BINARY, st->span);
    v->u.op.op = st->u.bind.op;
    v->u.op.a = assign_target(s, st);
    v->u.op.b = st->u.bind.value;
    st->u.bind.value = v;
    st->u.bind.op = 0;
}

/* An assignment to something that is not a param: one error, the most telling. */
static void not_assignable(Sema *s, AstNode *st, const Symbol *sym)
{
    const char *name = st->u.bind.name;
    Span at = st->u.bind.name_span;
    if (!sym && !strchr(name, '.')) {
        sema_error(s, at, "unknown name '%s'; define it with 'let %s = ...' or 'param %s = ...'",
                   name, name, name);
    } else if (!sym) {      /* net.layer1, data.X, net.layer9.W: the field says what it is */
        if (sema_expr(s, assign_target(s, st)))
            sema_error(s, at, "cannot assign to '%s': only params get new values", name);
    } else if (sym->loop_var) {
        sema_error(s, at, "cannot assign to '%s': it is the loop's variable, which the loop "
                   "sets", name);
    } else if (sym->kind == SYM_LET && !strchr(name, '.')) {
        sema_error(s, at, "cannot assign to '%s': it is a let, a formula that follows its "
                   "inputs; define it again with 'let %s = ...' (or %s += ...)", name, name, name);
        sema_note(s, sym->decl, "'%s' is defined here", name);
    } else if (strchr(name, '.')) {
        sema_error(s, at, "cannot assign to '%s': only params get new values", name);
    } else {
        sema_error(s, at, "cannot assign to '%s': it is a %s; only %s get new values", name,
                   sema_kind_word(sym->kind), st->u.bind.op ? "params and lets" : "params");
    }
}

/* w = VALUE (or w += VALUE) for a param; c += VALUE for a let is `let c = c + VALUE`. */
static void check_assign(Sema *s, AstNode *st)
{
    Symbol *sym = sema_lookup(s, st->u.bind.name);
    if (st->u.bind.op && sym && sym->kind == SYM_LET && !sym->loop_var) {
        compound_let(s, st);
        return;
    }
    if (!sym || sym->kind != SYM_PARAM) {
        not_assignable(s, st, sym);
        sema_expr(s, st->u.bind.value);     /* its own mistakes too */
        return;
    }
    if (st->u.bind.op) compound_value(s, st);
    AstNode *v = st->u.bind.value;
    if (sema_expr(s, v) && !sym->poisoned && check_param_value(s, sym, v)) st->sema.sym = sym;
}

static void check_print(Sema *s, AstNode *st)
{
    for (size_t i = 0; i < st->u.list.count; i++) {
        AstNode *item = st->u.list.items[i];
        if (item->kind == AST_STRING) continue;
        const Symbol *model;
        const char *text = sema_print_text(s, item, &model);
        if (text) {
            sema_extra(s, item)->text = text;
            sema_extra(s, item)->model = model;
        }
        else if (!sema_print_labels(s, item)) sema_expr(s, item);
    }
}

/* backward / gradcheck LOSS: a scalar that depends on a param. */
static void check_loss_stmt(Sema *s, AstNode *st, const char *stmt, const char *no_grad)
{
    AstNode *e = st->u.expr;
    if (!sema_expr(s, e) || !sema_scalar(s, e, stmt)) return;
    if (!e->sema.grad) sema_error(s, e->span, "%s", no_grad);
}

static void check_stmt(Sema *s, AstNode *st);

/* ---- blocks: loops and ifs --------------------------------------------------------------------
 * A block's statements are checked once, in a scope of their own: names first defined inside
 * belong to the block. A let (or +=) inside it of a name defined before it makes that name a
 * carried value (design.md): before the block is checked, each such name gets a new symbol
 * in the scope around the block, which lowering makes a leaf that starts from the old value. */

typedef struct Names {
    const char **items;
    Span *at;               /* where each is first given a value */
    int count, cap;
} Names;

/* The variables of the loops inside a block around a statement: a let of one of them there
 * is of that loop's own name, not of one defined before the block. */
typedef struct Hidden {
    const char *name;
    const struct Hidden *outer;
} Hidden;

/* Adds to `names` the let names a block gives values to, in it and in blocks inside it. */
static void assigned_names(const AstList *body, Names *names, const Hidden *hidden)
{
    for (size_t i = 0; i < body->count; i++) {
        const AstNode *st = body->items[i];
        const char *name = NULL;
        if (st->kind == AST_LET || (st->kind == AST_ASSIGN && st->u.bind.op))
            name = st->u.bind.name;
        bool seen = false;
        for (const Hidden *h = hidden; name && h; h = h->outer) seen |= h->name == name;
        for (int k = 0; name && k < names->count; k++) seen |= names->items[k] == name;
        if (name && !seen) {
            if (names->count == names->cap) {
                names->cap = names->cap ? 2 * names->cap : 8;
                names->items = nn_realloc(names->items, (size_t)names->cap * sizeof *names->items);
                names->at = nn_realloc(names->at, (size_t)names->cap * sizeof *names->at);
            }
            names->at[names->count] = st->span;
            names->items[names->count++] = name;
        }
        Hidden var = { st->kind == AST_FOR ? st->u.loop.var : NULL, hidden };
        if (st->kind == AST_FOR || st->kind == AST_REPEAT || st->kind == AST_WHILE)
            assigned_names(&st->u.loop.body, names, var.name ? &var : hidden);
        if (st->kind == AST_IF) {
            assigned_names(&st->u.iff.then, names, hidden);
            assigned_names(&st->u.iff.els, names, hidden);
        }
    }
}

/* The names defined before the block `st` that it gives new values (but its loop variable
 * `var`): each becomes carried, a leaf that starts from the name's value before the block. */
static void find_carries(Sema *s, AstNode *st, const AstList *a, const AstList *b,
                         const char *var)
{
    Names names = { NULL, NULL, 0, 0 };
    Hidden own = { var, NULL };
    assigned_names(a, &names, var ? &own : NULL);
    if (b) assigned_names(b, &names, NULL);
    SemaBlock *blk = &sema_extra(s, st)->block;
    blk->carries = arena_alloc(s->arena, (size_t)(names.count ? names.count : 1)
                                         * sizeof *blk->carries);
    for (int i = 0; i < names.count; i++) {
        Symbol *from = sema_lookup(s, names.items[i]);
        if (!from || from->kind != SYM_LET || from->poisoned || from->loop_var) continue;
        Symbol *sym = sema_define(s, names.items[i], SYM_LET, from->decl);
        sym->shape = from->shape;
        sym->carried = true;
        if (from->grad) {   /* said once: blocks inside this one find it poisoned */
            sema_error(s, names.at[i], "'%s' depends on params, so this block cannot give it new "
                       "values (its formula would lose its gradient); use a new name here",
                       from->name);
            sema_note(s, from->decl, "'%s' is defined here", from->name);
            sym->poisoned = true;
            continue;
        }
        blk->carries[blk->n_carries++] = (Carry){ sym, from };
    }
    nn_free(names.items);
    nn_free(names.at);
}

/* Where control leaves `blk` here: each carried name whose last version is not its carried
 * leaf, with that version (copied back into the leaf). */
static void block_ends(Sema *s, const SemaBlock *blk, Carry **ends, int *n)
{
    *ends = arena_alloc(s->arena, (size_t)(blk->n_carries ? blk->n_carries : 1) * sizeof **ends);
    *n = 0;
    for (int i = 0; i < blk->n_carries; i++) {
        Symbol *carried = blk->carries[i].sym, *last = sema_lookup(s, carried->name);
        if (last && last != carried && last->carried) (*ends)[(*n)++] = (Carry){ carried, last };
    }
}

/* The statements of a block, in a scope of their own; `end` is where the block's part ends. */
static void check_body(Sema *s, AstList *body, SemaBlock *blk, int end)
{
    int mark = s->n_locals;
    s->blocks++;
    blk->outer = s->open;
    s->open = blk;
    for (size_t i = 0; i < body->count; i++) check_stmt(s, body->items[i]);
    block_ends(s, blk, &blk->ends[end], &blk->n_ends[end]);
    s->open = blk->outer;
    s->blocks--;
    s->n_locals = mark;
}

/* A loop stopped by Ctrl-C stops the run: every block around it ends there, so their carried
 * names take their last versions (the loop's own ones have, before it checks). */
static void loop_unwind(Sema *s, SemaBlock *loop)
{
    int n = 0;
    for (const SemaBlock *b = s->open; b; b = b->outer) n += b->n_carries;
    loop->unwind = arena_alloc(s->arena, (size_t)(n ? n : 1) * sizeof *loop->unwind);
    for (const SemaBlock *b = s->open; b; b = b->outer) {
        Carry *ends;
        int k;
        block_ends(s, b, &ends, &k);
        memcpy(loop->unwind + loop->n_unwind, ends, (size_t)k * sizeof *ends);
        loop->n_unwind += k;
    }
}

static void check_loop_body(Sema *s, AstNode *st, Symbol *var)
{
    int mark = s->n_locals;
    SemaBlock *blk = &st->sema.extra->block, *outer = s->loop;
    if (var) sema_push_local(s, var->name, var);
    s->loops++;
    s->loop = blk;
    check_body(s, &st->u.loop.body, blk, 0);
    s->loop = outer;
    s->loops--;
    s->n_locals = mark;
    loop_unwind(s, blk);
}

/* for k in a..b { ... }: a and b constant integers; k a scalar the loop writes. */
static void check_for(Sema *s, AstNode *st)
{
    SemaBlock *blk = &sema_extra(s, st)->block;
    const double big = 4503599627370496.0;     /* 2^52: counts stay exact in a double */
    bool ok = sema_const_int(s, st->u.loop.a, "the start of the range", -big, big, &blk->from);
    ok = sema_const_int(s, st->u.loop.b, "the end of the range", -big, big, &blk->to) && ok;
    find_carries(s, st, &st->u.loop.body, NULL, st->u.loop.var);
    Symbol *var = arena_alloc(s->arena, sizeof *var);
    var->name = st->u.loop.var;
    var->label = st->u.loop.var;
    var->kind = SYM_LET;
    var->decl = st->u.loop.var_span;
    var->loop_var = true;
    var->poisoned = !ok;
    blk->var = var;
    check_loop_body(s, st, var);
}

/* repeat n { ... } */
static void check_repeat(Sema *s, AstNode *st)
{
    SemaBlock *blk = &sema_extra(s, st)->block;
    sema_const_int(s, st->u.loop.a, "the number of repeats", 0, 4503599627370496.0, &blk->to);
    find_carries(s, st, &st->u.loop.body, NULL, NULL);
    check_loop_body(s, st, NULL);
}

/* while c { ... } and if c { ... }: c a scalar, true when not 0 */
static void check_condition(Sema *s, AstNode *c, const char *stmt)
{
    if (sema_expr(s, c)) sema_scalar(s, c, stmt);
}

static void check_while(Sema *s, AstNode *st)
{
    find_carries(s, st, &st->u.loop.body, NULL, NULL);
    check_condition(s, st->u.loop.a, "while");
    check_loop_body(s, st, NULL);
}

static void check_if(Sema *s, AstNode *st)
{
    find_carries(s, st, &st->u.iff.then, &st->u.iff.els, NULL);
    check_condition(s, st->u.iff.cond, "if");
    SemaBlock *blk = &st->sema.extra->block;
    check_body(s, &st->u.iff.then, blk, 0);
    check_body(s, &st->u.iff.els, blk, 1);
}

/* break and continue: the innermost loop's carried names take their last versions first. */
static void check_leave(Sema *s, AstNode *st)
{
    if (!s->loops) {
        sema_error(s, st->span, "'%s' is allowed only inside a loop (for, repeat, while)",
                   st->kind == AST_BREAK ? "break" : "continue");
        return;
    }
    SemaBlock *here = &sema_extra(s, st)->block;
    block_ends(s, s->loop, &here->ends[0], &here->n_ends[0]);
}

/* ---- functions ------------------------------------------------------------------------------- */

/* fn NAME(a, b) = EXPR: the body is kept (unchecked: its shapes depend on each call's). */
static void check_fn(Sema *s, AstNode *st)
{
    const AstList *params = &st->u.fn.params;
    bool ok = true;
    if (s->blocks) {
        sema_error(s, st->span, "functions are defined outside loops and ifs");
        ok = false;
    }
    if (sema_builtin_function(st->u.fn.name)) {
        sema_error(s, st->u.fn.name_span, "'%s' is a built-in function; give yours another name",
                   st->u.fn.name);
        ok = false;
    }
    for (size_t i = 0; i < params->count; i++)
        for (size_t j = 0; j < i; j++)
            if (params->items[i]->u.name == params->items[j]->u.name) {
                sema_error(s, params->items[i]->span, "'%s' is a parameter twice",
                           params->items[i]->u.name);
                ok = false;
            }
    FnDef *f = nn_calloc(1, sizeof *f);
    arena_init(&f->arena);
    f->n_params = (int)params->count;
    f->params = nn_alloc((params->count ? params->count : 1) * sizeof *f->params);
    for (size_t i = 0; i < params->count; i++) f->params[i] = params->items[i]->u.name;
    f->body = ast_clone(&f->arena, st->u.fn.body);
    f->visible = s->syms->count;
    Symbol *sym = sema_add_symbol(s, st->u.fn.name, SYM_FN, st->u.fn.name_span);
    sym->fn = f;
    sym->poisoned = !ok || !sema_fn_names(s, sym);
    st->sema.sym = sym;
}

static void check_stmt(Sema *s, AstNode *st)
{
    memset(&st->sema, 0, sizeof st->sema);
    s->too_deep = false;
    switch (st->kind) {
    case AST_LET_MANY: check_let_many(s, st); return;
    case AST_MODEL:
        if (s->blocks) {
            sema_error(s, st->span, "models are defined outside loops and ifs: define '%s' "
                       "before the block", st->u.block.name);
            return;
        }
        sema_check_model(s, st);
        return;
    case AST_TRAIN: sema_check_train(s, st); return;
    case AST_SAVE:
    case AST_LOAD: sema_check_file(s, st); return;
    case AST_LET: check_let(s, st); return;
    case AST_PARAM: check_param(s, st); return;
    case AST_ASSIGN: check_assign(s, st); return;
    case AST_PRINT: check_print(s, st); return;
    case AST_BACKWARD:
        check_loss_stmt(s, st, "backward", "nothing to differentiate: this depends on no param "
                        "(declare the weights with 'param')");
        return;
    case AST_TRACE: {
        AstNode *e = st->u.trace.expr;
        if (sema_expr(s, e)) sema_scalar(s, e, "trace");
        sema_trace_places(s, &st->u.trace.places, NULL, &sema_extra(s, st)->focus);
        return;
    }
    case AST_GRADCHECK:
        check_loss_stmt(s, st, "gradcheck", "nothing to check: this depends on no param");
        return;
    case AST_STEP: sema_check_step(s, st); return;
    case AST_ZERO_GRAD: sema_check_zero_grad(s, st); return;
    case AST_FOR: check_for(s, st); return;
    case AST_REPEAT: check_repeat(s, st); return;
    case AST_WHILE: check_while(s, st); return;
    case AST_IF: check_if(s, st); return;
    case AST_BREAK:
    case AST_CONTINUE: check_leave(s, st); return;
    case AST_FN: check_fn(s, st); return;
    case AST_SEED: {
        long v;
        sema_const_int(s, st->u.expr, "the seed", 0, 4294967295.0, &v);
        return;
    }
    case AST_EXPR: {
        const Symbol *model;
        const char *text = sema_print_text(s, st->u.expr, &model);
        if (text) {
            sema_extra(s, st->u.expr)->text = text;
            sema_extra(s, st->u.expr)->model = model;
        }
        else sema_expr(s, st->u.expr);
        return;
    }
    default: break;
    }
    NN_ASSERT(!"not a statement");
}

int sema_check(AstList *stmts, SymbolTable *syms, DiagSink *diag, Interner *interner,
               Arena *arena, const struct Sandbox *files, const DataLimits *limits)
{
    Sema s;
    memset(&s, 0, sizeof s);
    s.horizon = SIZE_MAX;
    s.unit = stmts;
    s.syms = syms;
    s.diag = diag;
    s.interner = interner;
    s.arena = arena;
    s.files = files;
    s.limits = limits ? *limits : (DataLimits){ SIZE_MAX, NULL };
    for (size_t i = 0; i < stmts->count; i++) {
        s.stmt_index = i;
        check_stmt(&s, stmts->items[i]);
        stmts->items[i]->sema.syms_after = syms->count;
    }
    return s.errors;
}
