/* sema_core.c — the checker's bottom layer: the symbol table (which owns models and data sets),
 * reporting, the unit's memory, "did you mean" suggestions and arguments by position or name.
 * It calls nothing above it: see sema_core.h. */
#include "sema_core.h"

#include <stdio.h>
#include <string.h>

#define MAX_ERRORS 20

/* ---- symbols -------------------------------------------------------------------------------- */

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

static void model_free(Model *m)
{
    nn_free(m->layers);
    nn_free(m->params);
    nn_free(m->param_names);
    nn_free(m->buffers);
    nn_free(m->buffer_names);
    arena_free(&m->arena);
    nn_free(m->source);
    nn_free(m->summary);
    nn_free(m);
}

static void data_sym_free(DataSym *d)
{
    for (int i = 0; i < d->n_classes; i++) nn_free(d->class_names[i]);
    nn_free(d->class_names);
    nn_free(d->about);
    nn_free(d);
}

static void fn_free(FnDef *f)
{
    nn_free(f->params);
    arena_free(&f->arena);
    nn_free(f);
}

void symtab_truncate(SymbolTable *t, size_t count)
{
    while (t->count > count) {
        Symbol *sym = t->items[--t->count];
        if (sym->model) model_free(sym->model);
        if (sym->data) data_sym_free(sym->data);
        if (sym->fn) fn_free(sym->fn);
        nn_free(sym);
    }
}

Symbol *symtab_find(const SymbolTable *t, const char *name)
{
    for (size_t i = t->count; i-- > 0;)     /* newest first: a later let shadows */
        if (t->items[i]->name == name) return t->items[i];
    return NULL;
}

/* "c", "c₂", "c₃", ...: the name with its version as a subscript (traces show every version of a
 * name defined again, so that `let c = c + 1` reads c₂ = c + 1). */
static const char *label_of(Sema *s, const char *name)
{
    int version = 1;
    for (size_t i = 0; i < s->syms->count; i++) version += s->syms->items[i]->name == name;
    for (int i = 0; i < s->n_locals; i++) version += s->locals[i].name == name;
    if (version == 1) return name;
    char digits[16], buf[256];
    int n = snprintf(digits, sizeof digits, "%d", version);
    size_t len = strlen(name);
    if (len > 200) len = 200;
    memcpy(buf, name, len);
    for (int i = 0; i < n; i++) {      /* U+2080 SUBSCRIPT ZERO ... NINE: E2 82 80 + d */
        buf[len++] = (char)0xE2;
        buf[len++] = (char)0x82;
        buf[len++] = (char)(0x80 + (digits[i] - '0'));
    }
    return intern(s->interner, buf, len);
}

Symbol *sema_add_symbol(Sema *s, const char *name, SymKind kind, Span decl)
{
    SymbolTable *t = s->syms;
    NN_ASSERT(name);
    const char *label = label_of(s, name);
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->items = nn_realloc(t->items, t->cap * sizeof *t->items);
    }
    Symbol *sym = nn_calloc(1, sizeof *sym);
    sym->name = name;
    sym->label = label;
    sym->kind = kind;
    sym->decl = decl;
    t->items[t->count++] = sym;
    return sym;
}

void sema_push_local(Sema *s, const char *name, Symbol *sym)
{
    if (s->n_locals == s->cap_locals) {
        int cap = s->cap_locals ? 2 * s->cap_locals : 32;
        LocalName *grown = arena_alloc(s->arena, (size_t)cap * sizeof *grown);
        if (s->n_locals) memcpy(grown, s->locals, (size_t)s->n_locals * sizeof *grown);
        s->locals = grown;
        s->cap_locals = cap;
    }
    s->locals[s->n_locals++] = (LocalName){ name, sym };
}

Symbol *sema_new_local(Sema *s, const char *name, SymKind kind, Span decl)
{
    Symbol *sym = arena_alloc(s->arena, sizeof *sym);
    sym->name = name;
    sym->label = label_of(s, name);
    sym->kind = kind;
    sym->decl = decl;
    sema_push_local(s, name, sym);
    return sym;
}

Symbol *sema_define(Sema *s, const char *name, SymKind kind, Span decl)
{
    if (s->blocks > 0) return sema_new_local(s, name, kind, decl);
    return sema_add_symbol(s, name, kind, decl);
}

Symbol *sema_lookup(Sema *s, const char *name)
{
    for (int i = s->n_locals; i-- > s->locals_floor;)
        if (s->locals[i].name == name) return s->locals[i].sym;
    const SymbolTable *t = s->syms;
    size_t n = s->horizon < t->count ? s->horizon : t->count;
    for (size_t i = n; i-- > 0;)     /* newest first: a later let shadows */
        if (t->items[i]->name == name) return t->items[i];
    return NULL;
}

const char *sema_kind_word(SymKind k)
{
    switch (k) {
    case SYM_PARAM: return "param";
    case SYM_LET: return "let";
    case SYM_MODEL: return "model";
    case SYM_DATA: return "data set";
    case SYM_FN: return "function";
    }
    return "name";
}

/* ---- reporting ---------------------------------------------------------------------------- */

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

void sema_warning(Sema *s, Span at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(s->diag, DIAG_WARNING, at, fmt, ap);
    va_end(ap);
}

void sema_file_error(Sema *s, const char *file, int line, int col, const char *msg)
{
    diag_file(s->diag, DIAG_ERROR, file, line, col, "%s", msg);
    s->errors++;
}

bool sema_scalar(Sema *s, AstNode *e, const char *stmt)
{
    if (e->sema.shape.rank == 0) return true;
    char buf[64];
    sema_error(s, e->span, "'%s' needs a scalar, but this has shape %s; reduce it first, e.g. "
               "with sum(...) or mean(...)", stmt, shape_str(&e->sema.shape, buf, sizeof buf));
    return false;
}

/* ---- the unit's memory ----------------------------------------------------------------------- */

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

const char *sema_text(Sema *s, const AstNode *str)
{
    return arena_strndup(s->arena, str->u.str.text, str->u.str.len);
}

char *sema_take_text(StrBuf *sb)
{
    char *s = nn_strndup(sb->data ? sb->data : "", sb->len);
    sb_free(sb);
    return s;
}

/* ---- suggestions ---------------------------------------------------------------------------- */

void sema_list_words(StrBuf *sb, const char *const *words, size_t n, const char *last)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i + 1 == n) sb_printf(sb, " %s ", last);
        else if (i > 0) sb_puts(sb, ", ");
        sb_puts(sb, words[i]);
    }
}

/* ---- arguments by position and name ------------------------------------------------------ */

int sema_npos(const AstList *args)
{
    int n = 0;
    for (size_t i = 0; i < args->count; i++) n += args->items[i]->u.bind.name == NULL;
    return n;
}

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

bool sema_given_twice(Sema *s, const AstList *args, int pos, const char *name)
{
    if (sema_npos(args) <= pos) return false;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        if (a->u.bind.name && strcmp(a->u.bind.name, name) == 0) {
            sema_error(s, a->u.bind.name_span, "'%s' is given twice: by position and by name",
                       name);
            return true;
        }
    }
    return false;
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

/* ---- word tables ---------------------------------------------------------------------------- */

static const char *const data_fn_names[] = {
#define DATAFN(name, ...) name,
#include "datafns.def"
#undef DATAFN
};

bool sema_is_data_fn(const char *name)
{
    for (size_t i = 0; i < NN_ARRAY_LEN(data_fn_names); i++)
        if (strcmp(data_fn_names[i], name) == 0) return true;
    return false;
}

void sema_offer_data_fns(Suggest *sg)
{
    for (size_t i = 0; i < NN_ARRAY_LEN(data_fn_names); i++) suggest_offer(sg, data_fn_names[i]);
}
