/* sema.c — the checker's top: dispatches each statement of a unit to the checker of its kind.
 * Every error is reported at the span that caused it; checking goes on after an error so a
 * script's mistakes are reported together. The layers below only call down:
 *   sema.c -> sema_model.c, sema_data.c, sema_train.c -> sema_args.c -> sema_expr.c
 *          -> sema_core.c */
#include "sema_data.h"
#include "sema_expr.h"
#include "sema_model.h"
#include "sema_train.h"

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

static void check_let(Sema *s, AstNode *st)
{
    AstNode *v = st->u.bind.value;
    if (v->kind == AST_CALL && sema_is_data_fn(v->u.call.name)
        && !(sema_lookup(s, v->u.call.name)
             && sema_lookup(s, v->u.call.name)->kind == SYM_MODEL)) {
        sema_check_data_let(s, st);
        return;
    }
    bool ok = sema_expr(s, v);
    Symbol *sym = sema_add_symbol(s, st->u.bind.name, SYM_LET, st->u.bind.name_span);
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

static void check_assign(Sema *s, AstNode *st)
{
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
        sema_note(s, sym->decl, "'%s' is defined here", sym->name);
        return;
    }
    if (ok && !sym->poisoned && check_param_value(s, sym, v)) st->sema.sym = sym;
}

static void check_print(Sema *s, AstNode *st)
{
    for (size_t i = 0; i < st->u.list.count; i++) {
        AstNode *item = st->u.list.items[i];
        if (item->kind == AST_STRING) continue;
        const char *text = sema_print_text(s, item);
        if (text) sema_extra(s, item)->text = text;
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

static void check_stmt(Sema *s, AstNode *st)
{
    memset(&st->sema, 0, sizeof st->sema);
    s->too_deep = false;
    switch (st->kind) {
    case AST_LET_MANY: check_let_many(s, st); return;
    case AST_MODEL: sema_check_model(s, st); return;
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
