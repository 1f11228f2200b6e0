/* sema_args.c — checks a call's arguments against a word's ArgSpec rows: which argument each
 * one is (by position or by name), whether it is given, and its value. The words' tables
 * (layers.def, datafns.def, settings.def) hold the rows; this file holds every message about
 * them, so all words say the same things the same way. Stands on sema_expr.c. */
#include "sema_args.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_EXACT_INT 9007199254740992.0    /* 2^53: larger doubles skip integers */

/* How messages name argument i: the row's phrase, or its name in quotes (in buf). */
static const char *arg_what(const ArgForm *f, int i, char *buf, size_t cap)
{
    if (f->what && f->what[i]) return f->what[i];
    snprintf(buf, cap, "'%s'", f->args[i].name);
    return buf;
}

/* The argument that may be given by `name`, or -1. */
static int named_index(const ArgForm *f, const char *name)
{
    for (int i = f->named_from; i < f->count; i++)
        if (strcmp(f->args[i].name, name) == 0) return i;
    return -1;
}

/* "'dense' has no argument 'bias' (it takes ...)": the names that may be named. */
static void report_unknown_name(Sema *s, const AstNode *a, const char *fn, const ArgForm *f)
{
    int n = f->count - f->named_from;
    if (n <= 0) {
        sema_error(s, a->u.bind.name_span, "'%s' takes no named arguments", fn);
        return;
    }
    StrBuf takes;
    sb_init(&takes);
    if (f->takes) {
        sb_puts(&takes, f->takes);
    } else {
        for (int i = f->named_from; i < f->count; i++) {
            bool last = i + 1 == f->count;
            sb_printf(&takes, "%s'%s'", i == f->named_from ? "" : last ? " and " : ", ",
                      f->args[i].name);
        }
    }
    sema_error(s, a->u.bind.name_span, "'%s' has no argument '%s' (it takes %s)", fn,
               a->u.bind.name, takes.data);
    sb_free(&takes);
}

/* Names: each named argument is one that may be named, given once. Reports every bad one. */
static bool check_names(Sema *s, const AstNode *call, const ArgForm *f)
{
    const AstList *args = &call->u.call.args;
    bool ok = true;
    for (size_t i = 0; i < args->count; i++) {
        const AstNode *a = args->items[i];
        if (!a->u.bind.name) continue;
        if (named_index(f, a->u.bind.name) < 0) {
            report_unknown_name(s, a, call->u.call.name, f);
            ok = false;
        }
        for (size_t j = 0; j < i; j++) {
            const char *other = args->items[j]->u.bind.name;
            if (other && strcmp(other, a->u.bind.name) == 0) {
                sema_error(s, a->u.bind.name_span, "argument '%s' is given twice",
                           a->u.bind.name);
                ok = false;
            }
        }
    }
    return ok;
}

/* Which argument each given one is: out[i].node, by position or by name. Reports one given
 * both ways (Python's rule). */
static bool match_args(Sema *s, const AstNode *call, const ArgForm *f, ArgValue *out)
{
    const AstList *args = &call->u.call.args;
    int npos = sema_npos(args);
    for (int i = 0; i < f->count; i++) {
        out[i] = (ArgValue){ NULL, f->args[i].def, NULL };
        if (i < f->positional && i < npos) out[i].node = sema_arg(args, i, NULL);
    }
    for (size_t j = 0; j < args->count; j++) {
        const AstNode *a = args->items[j];
        if (!a->u.bind.name) continue;
        int i = named_index(f, a->u.bind.name);
        if (out[i].node) {
            sema_error(s, a->u.bind.name_span, "'%s' is given twice: by position and by name",
                       a->u.bind.name);
            return false;
        }
        out[i].node = a->u.bind.value;
    }
    return true;
}

/* Counts: no more positional arguments than the form takes, and every required argument that
 * may be given by position is given. */
static bool check_counts(Sema *s, const AstNode *call, const ArgForm *f, const char *usage,
                         const ArgValue *out)
{
    bool ok = sema_npos(&call->u.call.args) <= f->positional;
    for (int i = 0; ok && i < f->positional; i++) ok = out[i].node || !f->args[i].required;
    if (!ok) sema_error(s, call->span, "%s", usage);
    return ok;
}

/* "'csv' needs the name of the target column as a string: csv(...)", at `at`. */
static void report_needs(Sema *s, Span at, const char *fn, const ArgForm *f, int i,
                         const char *what)
{
    sema_error(s, at, "'%s' needs %s%s%s%s", fn, what,
               f->args[i].kind == ARG_STRING ? " as a string" : "", f->example ? ": " : "",
               f->example ? f->example : "");
}

/* Argument i's value, once matched. */
static bool check_value(Sema *s, const AstNode *call, const ArgForm *f, const char *usage,
                        int i, ArgValue *v)
{
    char buf[64];
    const char *what = arg_what(f, i, buf, sizeof buf);
    const ArgSpec *spec = &f->args[i];
    if (!v->node) {
        if (spec->required) report_needs(s, call->span, call->u.call.name, f, i, what);
        return !spec->required;
    }
    switch (spec->kind) {
    case ARG_NAME:
    case ARG_SHAPE: return true;
    case ARG_STRING:
        if (v->node->kind == AST_STRING) {
            v->text = sema_text(s, v->node);
            return true;
        }
        if (i < f->positional) sema_error(s, call->span, "%s", usage);
        else report_needs(s, v->node->span, call->u.call.name, f, i, what);
        return false;
    case ARG_NUMBER:
    case ARG_INT:
    case ARG_FLAG: return sema_arg_value(s, v->node, spec, what, &v->num);
    }
    return false;
}

bool sema_args(Sema *s, AstNode *call, const ArgForm *form, const char *usage, ArgValue *out)
{
    NN_ASSERT(call->kind == AST_CALL && usage);
    if (!check_names(s, call, form) || !match_args(s, call, form, out)
        || !check_counts(s, call, form, usage, out))
        return false;
    for (int i = 0; i < form->count; i++)
        if (!check_value(s, call, form, usage, i, &out[i])) return false;
    return true;
}

bool sema_arg_value(Sema *s, AstNode *v, const ArgSpec *spec, const char *what, double *out)
{
    if (spec->kind == ARG_INT) {
        long n;
        double lo = fmax(spec->lo, -MAX_EXACT_INT), hi = fmin(spec->hi, MAX_EXACT_INT);
        if (!sema_const_int(s, v, what, lo, hi, &n)) return false;
        *out = (double)n;
    } else if (!sema_const_number(s, v, what, out)) {
        return false;
    }
    if (argspec_in_range(spec, *out)) return true;
    if (spec->range) sema_error(s, v->span, "%s must be %s", what, spec->range);
    else if (*out <= spec->lo) sema_too_small(s, v->span, what, spec->lo, *out);
    else sema_too_large(s, v->span, what, spec->hi, *out);
    return false;
}
