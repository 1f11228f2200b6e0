/* sema_nets.c — checks what makes nn a trainer: model definitions and their application,
 * data sets (read or generated), train blocks with their settings, optimizers, and
 * save/load. Like the rest of sema it only reports and annotates; lowering builds. */
#include "sema_int.h"

#include "data.h"
#include "optim.h"
#include "strbuf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DATA_ROWS 10000000

void sema_symbol_free(Symbol *sym)
{
    if (sym->model) {
        Model *m = sym->model;
        nn_free(m->layers);
        nn_free(m->params);
        nn_free(m->param_names);
        arena_free(&m->arena);
        nn_free(m->source);
        nn_free(m->summary);
        nn_free(m);
    }
    if (sym->data) {
        DataSym *d = sym->data;
        for (int i = 0; i < d->n_classes; i++) nn_free(d->class_names[i]);
        nn_free(d->class_names);
        nn_free(d->about);
        nn_free(d);
    }
    nn_free(sym);
}

static char *sb_take(StrBuf *sb)
{
    char *s = nn_strndup(sb->data ? sb->data : "", sb->len);
    sb_free(sb);
    return s;
}

static const char *arena_text(Sema *s, const AstNode *str)
{
    return arena_strndup(s->arena, str->u.str.text, str->u.str.len);
}

/* ---- models: definition -------------------------------------------------------------------- */

typedef struct ModelBuild {
    Sema *s;
    Symbol *msym;
    Model *m;
    int width;              /* the current width; 0 = not known yet */
    int next_index;         /* the next dense layer's number */
    const char *group;      /* the dense layer the activations that follow belong to */
    int cap;
    bool ok;
} ModelBuild;

static Layer *push_layer(ModelBuild *b, LayerKind kind, Span span)
{
    Model *m = b->m;
    if (m->n_layers == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        m->layers = nn_realloc(m->layers, (size_t)b->cap * sizeof *m->layers);
    }
    Layer *l = &m->layers[m->n_layers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->span = span;
    if (kind == LAYER_RES_BEGIN || kind == LAYER_RES_END) b->group = NULL;
    l->group = b->group;
    return l;
}

static void push_param(ModelBuild *b, Symbol *p, const char *short_name)
{
    Model *m = b->m;
    m->params = nn_realloc(m->params, (size_t)(m->n_params + 1) * sizeof *m->params);
    m->param_names = nn_realloc(m->param_names,
                                (size_t)(m->n_params + 1) * sizeof *m->param_names);
    m->params[m->n_params] = p;
    m->param_names[m->n_params] = short_name;
    m->n_params++;
}

/* The activation a layer item names (relu, leaky_relu(0.2), softmax, ...), or false. */
static bool activation_of(const AstNode *it, OpKind *op)
{
    const char *name = it->kind == AST_NAME ? it->u.name
                       : it->kind == AST_CALL ? it->u.call.name : NULL;
    if (!name) return false;
    const OpInfo *info = op_lookup(name);
    if (!info) return false;
    bool act = (info->sig == SIG_UNARY && (info->flags & OPF_ELEMENTWISE))
               || info->sig == SIG_LEAKY || info->kind == OP_SOFTMAX
               || info->kind == OP_LOG_SOFTMAX;
    if (act) *op = info->kind;
    return act;
}

/* Which initialiser a weight gets: He for ReLU-like layers that follow, Glorot otherwise
 * (the rule PyTorch's and Keras' guides give). */
static OpKind init_for_next(const AstList *items, size_t i)
{
    for (size_t j = i + 1; j < items->count; j++) {
        const AstNode *it = items->items[j];
        OpKind op;
        if (it->kind == AST_CALL && strcmp(it->u.call.name, "dropout") == 0) continue;
        if (activation_of(it, &op)) return op == OP_RELU || op == OP_LEAKY_RELU ? OP_HE : OP_XAVIER;
        break;
    }
    return OP_XAVIER;
}

static bool init_by_name(const char *name, OpKind *op)
{
    static const struct { const char *name; OpKind op; } inits[] = {
        { "zeros", OP_ZEROS }, { "ones", OP_ONES }, { "uniform", OP_INIT_UNIFORM },
        { "normal", OP_INIT_NORMAL }, { "xavier", OP_XAVIER }, { "glorot", OP_XAVIER },
        { "he", OP_HE }, { "kaiming", OP_HE },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(inits); i++)
        if (strcmp(inits[i].name, name) == 0) {
            *op = inits[i].op;
            return true;
        }
    return false;
}

static Symbol *model_param(ModelBuild *b, const char *short_name, Shape shape, Span at)
{
    Sema *s = b->s;
    Symbol *p = sema_add_symbol(s, sema_dotted(s, b->m->name, short_name), SYM_PARAM, at);
    p->shape = shape;
    p->grad = true;
    push_param(b, p, sema_intern(s, short_name));
    return p;
}

static void dense_layer(ModelBuild *b, AstNode *it, OpKind init)
{
    Sema *s = b->s;
    const AstList *args = &it->u.call.args;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        if (a->u.bind.name && strcmp(a->u.bind.name, "init") != 0) {
            sema_error(s, a->u.bind.name_span, "'dense' has no argument '%s' (it takes the "
                       "sizes and 'init')", a->u.bind.name);
            b->ok = false;
            return;
        }
    }
    int npos = sema_npos(args);
    if (npos < 1 || npos > 2) {
        sema_error(s, it->span, "'dense' takes an output size, and before it the input size if "
                   "it does not follow from the layer before: dense(4, 8) or dense(8)");
        b->ok = false;
        return;
    }
    long in = 0, out;
    if (npos == 2 && !sema_const_int(s, sema_arg(args, 0, NULL), "a layer size", 1, 1e6, &in)) {
        b->ok = false;
        return;
    }
    if (!sema_const_int(s, sema_arg(args, npos - 1, NULL), "a layer size", 1, 1e6, &out)) {
        b->ok = false;
        return;
    }
    if (npos == 1) {
        if (b->width == 0) {
            sema_error(s, it->span, "the first dense layer needs its input size too: "
                       "dense(in, %ld)", out);
            b->ok = false;
            return;
        }
        in = b->width;
    } else if (b->width != 0 && in != b->width) {
        sema_error(s, sema_arg(args, 0, NULL)->span, "this layer takes %ld inputs, but the layer "
                   "before gives %d; write dense(%ld) to follow it", in, b->width, out);
        b->ok = false;
        return;
    }
    AstNode *ini = sema_arg(args, 99, "init");
    if (ini) {
        if (ini->kind != AST_NAME || !init_by_name(ini->u.name, &init)) {
            sema_error(s, ini->span, "unknown initialiser; use zeros, ones, uniform, normal, "
                       "xavier (glorot) or he (kaiming)");
            b->ok = false;
            return;
        }
    }
    if (b->width == 0) b->m->in = (int)in;
    Layer *l = push_layer(b, LAYER_DENSE, it->span);
    l->in = (int)in;
    l->out = (int)out;
    l->index = b->next_index++;
    l->init = init;
    char name[32];
    snprintf(name, sizeof name, "layer%d", l->index);
    l->group = b->group = sema_dotted(s, b->m->name, name);
    Shape w = shape_scalar(), bias = shape_scalar();
    w.rank = 2;
    w.dim[0] = (int)in;
    w.dim[1] = (int)out;
    bias.rank = 1;
    bias.dim[0] = (int)out;
    snprintf(name, sizeof name, "layer%d.W", l->index);
    l->W = model_param(b, name, w, it->span);
    snprintf(name, sizeof name, "layer%d.b", l->index);
    l->b = model_param(b, name, bias, it->span);
    b->width = (int)out;
}

static void layer_items(ModelBuild *b, const AstList *items);

static void layer_item(ModelBuild *b, const AstList *items, size_t i)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    OpKind act;
    if (it->kind == AST_RESIDUAL) {
        if (b->width == 0) {
            sema_error(s, it->span, "a residual block needs a layer with a known width before it");
            b->ok = false;
            return;
        }
        int in = b->width;
        Layer *l = push_layer(b, LAYER_RES_BEGIN, it->span);
        l->in = l->out = in;
        layer_items(b, &it->u.block.items);
        if (!b->ok) return;
        if (b->width != in) {
            sema_error(s, it->span, "a residual block adds its input to its output, so it must "
                       "keep the width: it takes %d and gives %d", in, b->width);
            b->ok = false;
            return;
        }
        l = push_layer(b, LAYER_RES_END, it->span);
        l->in = l->out = in;
        return;
    }
    if (it->kind == AST_CALL && strcmp(it->u.call.name, "dense") == 0) {
        dense_layer(b, it, init_for_next(items, i));
        return;
    }
    if (it->kind == AST_CALL && strcmp(it->u.call.name, "dropout") == 0) {
        const AstList *args = &it->u.call.args;
        double p;
        if (!sema_named(s, args, "dropout", "p") || sema_given_twice(s, args, 0, "p")) {
            b->ok = false;
            return;
        }
        AstNode *pa = sema_arg(args, 0, "p");
        if (!pa || sema_npos(args) > 1) {
            sema_error(s, it->span, "'dropout' takes the probability of dropping: dropout(0.5)");
            b->ok = false;
            return;
        }
        if (!sema_const_number(s, pa, "the dropout probability", &p)) {
            b->ok = false;
            return;
        }
        if (p < 0 || p >= 1) {
            sema_error(s, pa->span, "the dropout probability must be at least 0 and below 1");
            b->ok = false;
            return;
        }
        Layer *l = push_layer(b, LAYER_DROPOUT, it->span);
        l->p = (float)p;
        l->in = l->out = b->width;
        return;
    }
    if (activation_of(it, &act)) {
        Layer *l = push_layer(b, LAYER_ACT, it->span);
        l->op = act;
        l->alpha = 0.01f;
        l->in = l->out = b->width;
        if (it->kind == AST_CALL) {
            const AstList *args = &it->u.call.args;
            if (act != OP_LEAKY_RELU || args->count > 1) {
                sema_error(s, it->span, "as a layer, '%s' is written without arguments%s",
                           it->u.call.name, act == OP_LEAKY_RELU ? " or with its slope: "
                           "leaky_relu(0.2)" : "");
                b->ok = false;
                return;
            }
            if (args->count == 1) {
                double a;
                if (!sema_const_number(s, args->items[0]->u.bind.value, "the slope", &a)) {
                    b->ok = false;
                    return;
                }
                l->alpha = (float)a;
            }
        }
        if (b->width == 0) {
            sema_error(s, it->span, "a model starts with a dense layer, which gives the input "
                       "width: dense(in, out)");
            b->ok = false;
        }
        return;
    }
    if (it->kind == AST_PARAM || it->kind == AST_FORWARD) {
        sema_error(s, it->span, "a model is either layers or params with forward(x) = ..., "
                   "not both");
        b->ok = false;
        return;
    }
    const char *name = it->kind == AST_NAME ? it->u.name
                       : it->kind == AST_CALL ? it->u.call.name : NULL;
    if (name)
        sema_error(s, it->span, "unknown layer '%s' (layers are dense, dropout, residual, "
                   "softmax, log_softmax and the elementwise functions: relu, leaky_relu, "
                   "sigmoid, tanh, softplus, exp, log, sqrt, abs)", name);
    else
        sema_error(s, it->span, "expected a layer, such as dense(4, 8) or relu");
    b->ok = false;
}

static void layer_items(ModelBuild *b, const AstList *items)
{
    for (size_t i = 0; i < items->count && b->ok; i++) layer_item(b, items, i);
}

static long model_param_count(const Model *m)
{
    long n = 0;
    for (int i = 0; i < m->n_params; i++) n += (long)shape_size(&m->params[i]->shape);
    return n;
}

static void build_summary(Model *m)
{
    StrBuf sb;
    sb_init(&sb);
    long total = model_param_count(m);
    if (m->formula) {
        sb_printf(&sb, "model %s: forward(%s), %ld param%s\n", m->name, m->arg, total,
                  total == 1 ? "" : "s");
        for (int i = 0; i < m->n_params; i++) {
            char buf[64];
            sb_printf(&sb, "  %-12s %s\n", m->param_names[i],
                      shape_str(&m->params[i]->shape, buf, sizeof buf));
        }
        m->summary = sb_take(&sb);
        return;
    }
    sb_printf(&sb, "model %s: %d input%s -> %d output%s, %ld param%s\n", m->name, m->in,
              m->in == 1 ? "" : "s", m->out, m->out == 1 ? "" : "s", total,
              total == 1 ? "" : "s");
    sb_printf(&sb, "  %-26s %-10s %8s\n", "layer", "output", "params");
    int indent = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        char label[64], shape[32];
        long params = 0;
        switch (l->kind) {
        case LAYER_DENSE:
            snprintf(label, sizeof label, "dense layer%d (%s)", l->index,
                     l->init == OP_INIT_UNIFORM ? "uniform"
                     : l->init == OP_INIT_NORMAL ? "normal" : op_info(l->init)->name);
            params = (long)l->in * l->out + l->out;
            break;
        case LAYER_ACT:
            if (l->op == OP_LEAKY_RELU) snprintf(label, sizeof label, "leaky_relu(%g)", l->alpha);
            else snprintf(label, sizeof label, "%s", op_info(l->op)->name);
            break;
        case LAYER_DROPOUT: snprintf(label, sizeof label, "dropout(%g)", l->p); break;
        case LAYER_RES_BEGIN: snprintf(label, sizeof label, "residual {"); break;
        case LAYER_RES_END: snprintf(label, sizeof label, "} + input"); indent--; break;
        }
        snprintf(shape, sizeof shape, "[N, %d]", l->out);
        sb_printf(&sb, "  %*s%-*s %-10s %8ld\n", 2 * indent, "", 26 - 2 * indent, label,
                  l->kind == LAYER_RES_BEGIN ? "" : shape, params);
        if (l->kind == LAYER_RES_BEGIN) indent++;
    }
    m->summary = sb_take(&sb);
}

void sema_check_model(Sema *s, AstNode *st)
{
    const AstList *items = &st->u.block.items;
    Model *m = nn_calloc(1, sizeof *m);
    arena_init(&m->arena);
    m->name = st->u.block.name;
    ModelBuild b = { s, NULL, m, 0, 1, NULL, 0, true };
    bool formula = false;
    for (size_t i = 0; i < items->count; i++)
        if (items->items[i]->kind == AST_PARAM || items->items[i]->kind == AST_FORWARD)
            formula = true;
    size_t first_sym = s->syms->count;
    if (formula) {
        m->formula = true;
        AstNode *fwd = NULL;
        int n_locals = s->n_locals;
        for (size_t i = 0; i < items->count && b.ok; i++) {
            AstNode *it = items->items[i];
            if (it->kind == AST_PARAM) {
                AstNode *v = it->u.bind.value;
                bool twice = false;
                for (int k = 0; k < m->n_params && !twice; k++)
                    twice = m->param_names[k] == it->u.bind.name;
                if (twice) {
                    sema_error(s, it->u.bind.name_span, "model '%s' already has a param '%s'",
                               m->name, it->u.bind.name);
                    b.ok = false;
                    break;
                }
                if (!sema_expr(s, v)) {
                    b.ok = false;
                    break;
                }
                Symbol *p = model_param(&b, it->u.bind.name, v->sema.shape, it->u.bind.name_span);
                it->sema.sym = p;
                if (s->n_locals < (int)NN_ARRAY_LEN(s->locals))
                    s->locals[s->n_locals++] = (LocalName){ it->u.bind.name, p };
            } else if (it->kind == AST_FORWARD) {
                if (fwd) {
                    sema_error(s, it->span, "a model has one forward formula");
                    b.ok = false;
                }
                fwd = it;
            } else {
                sema_error(s, it->span, "a model with params takes 'param NAME = ...' and "
                           "'forward(x) = ...' lines, not layers");
                b.ok = false;
            }
        }
        s->n_locals = n_locals;
        if (b.ok && !fwd) {
            sema_error(s, st->span, "model '%s' has params but no 'forward(x) = ...' formula",
                       m->name);
            b.ok = false;
        }
        if (b.ok) {
            m->arg = fwd->u.fwd.arg;
            m->body = ast_clone(&m->arena, fwd->u.fwd.body);
        }
    } else {
        if (items->count == 0) {
            sema_error(s, st->span, "model '%s' has no layers", m->name);
            b.ok = false;
        }
        layer_items(&b, items);
        m->out = b.width;
    }
    if (!b.ok) {
        for (size_t i = first_sym; i < s->syms->count; i++) s->syms->items[i]->poisoned = true;
        Symbol *sym = sema_add_symbol(s, st->u.block.name, SYM_MODEL, st->u.block.name_span);
        sym->poisoned = true;
        sym->model = m;
        return;
    }
    const Source *src = source_get(s->diag->sources, st->span.source);
    m->source = nn_strndup(src->text + st->span.start, st->span.end - st->span.start);
    build_summary(m);
    Symbol *sym = sema_add_symbol(s, st->u.block.name, SYM_MODEL, st->u.block.name_span);
    sym->model = m;
    st->sema.sym = sym;
}

/* ---- models: application ------------------------------------------------------------------- */

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

bool sema_model_call(Sema *s, AstNode *e, Symbol *msym)
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
static const char *field_path(Sema *s, AstNode *e, Symbol **root)
{
    if (e->kind == AST_NAME) {
        *root = sema_lookup(s, e->u.name);
        return "";
    }
    if (e->kind != AST_FIELD) return NULL;
    const char *inner = field_path(s, e->u.field.obj, root);
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
    const char *path = field_path(s, e, &root);
    if (!path || !root || root->kind != SYM_MODEL || root->poisoned) return NULL;
    Model *m = root->model;
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->param_names[i], path) == 0) return m->params[i];
    return NULL;
}

bool sema_net_field(Sema *s, AstNode *e, bool *handled)
{
    *handled = false;
    Symbol *root = NULL;
    const char *path = field_path(s, e, &root);
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

/* ---- where a trace looks ---------------------------------------------------------------------- */

static const Layer *dense_named(const Model *m, const char *group)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LAYER_DENSE && m->layers[i].group == group) return &m->layers[i];
    return NULL;
}

bool sema_trace_places(Sema *s, const AstList *places, Symbol *model, TraceFocus *out)
{
    out->places = NULL;
    out->count = 0;
    if (!places->count) return true;
    TracePlace *ps = arena_alloc(s->arena, places->count * sizeof *ps);
    bool ok = true;
    for (size_t i = 0; i < places->count; i++) {
        const AstNode *pl = places->items[i];
        AstNode *path = pl->u.place.path;
        Symbol *root = NULL;
        const char *sub = field_path(s, path, &root);
        if (sub && !*sub && model && (!root || root->kind != SYM_MODEL)) {
            sub = path->u.name;     /* in a train block, `layer1` is a layer of its model */
            root = model;
        }
        if (!sub || !*sub || !root || root->kind != SYM_MODEL) {
            if (model)
                sema_error(s, path->span, "a trace looks at a layer of '%s': write layer1, or "
                           "layer1[0] for one unit of it", model->name);
            else
                sema_error(s, path->span, "a trace looks at a layer of a model: write "
                           "net.layer1, or net.layer1[0] for one unit of it");
            ok = false;
            continue;
        }
        if (root->poisoned) {
            ok = false;
            continue;
        }
        Model *m = root->model;
        if (model && root != model) {
            sema_error(s, path->span, "this block trains '%s', not '%s': trace the layers of "
                       "'%s'", model->name, m->name, model->name);
            ok = false;
            continue;
        }
        if (m->formula) {
            sema_error(s, path->span, "'%s' is written as a formula, not as layers: there is no "
                       "layer to look at (trace without 'at' shows all of it)", m->name);
            ok = false;
            continue;
        }
        const Layer *ly = dense_named(m, sema_dotted(s, m->name, sub));
        if (!ly) {
            int last = 0;
            for (int k = 0; k < m->n_layers; k++)
                if (m->layers[k].kind == LAYER_DENSE) last = m->layers[k].index;
            if (last == 1)
                sema_error(s, path->span, "model '%s' has no layer '%s'; its one dense layer is "
                           "layer1", m->name, sub);
            else
                sema_error(s, path->span, "model '%s' has no layer '%s'; its dense layers are "
                           "layer1 to layer%d", m->name, sub, last);
            ok = false;
            continue;
        }
        int unit = -1;
        if (pl->u.place.has_unit) {
            double u = pl->u.place.unit;
            if (u != floor(u) || u >= ly->out) {
                if (ly->out == 1)
                    sema_error(s, pl->u.place.unit_span, "%s has one unit: write %s[0]",
                               ly->group, ly->group);
                else
                    sema_error(s, pl->u.place.unit_span, "%s has %d units, numbered from 0 to %d",
                               ly->group, ly->out, ly->out - 1);
                ok = false;
                continue;
            }
            unit = (int)u;
        }
        ps[out->count].group = ly->group;
        ps[out->count].unit = unit;
        out->count++;
    }
    out->places = ps;
    return ok;
}

/* ---- data sets ------------------------------------------------------------------------------- */

bool sema_is_data_fn(const char *name)
{
    static const char *const fns[] = { "csv", "xor", "circles", "moons", "spirals", "blobs",
                                       "split", "normalize" };
    for (size_t i = 0; i < NN_ARRAY_LEN(fns); i++)
        if (strcmp(fns[i], name) == 0) return true;
    return false;
}

static Symbol *data_symbol(Sema *s, AstNode *name, int rows, int features, int targets)
{
    DataSym *d = nn_calloc(1, sizeof *d);
    d->rows = rows;
    d->features = features;
    d->targets = targets;
    Shape x = shape_scalar(), y = shape_scalar();
    x.rank = y.rank = 2;
    x.dim[0] = y.dim[0] = rows;
    x.dim[1] = features;
    y.dim[1] = targets;
    d->X = sema_add_symbol(s, sema_dotted(s, name->u.name, "X"), SYM_LET, name->span);
    d->X->shape = x;
    d->Y = sema_add_symbol(s, sema_dotted(s, name->u.name, "Y"), SYM_LET, name->span);
    d->Y->shape = y;
    Symbol *sym = sema_add_symbol(s, name->u.name, SYM_DATA, name->span);
    sym->data = d;
    return sym;
}

static void set_classes(DataSym *d, char *const *names, int n)
{
    d->n_classes = n;
    d->class_names = n ? nn_calloc((size_t)n, sizeof *d->class_names) : NULL;
    for (int i = 0; i < n; i++) d->class_names[i] = nn_strndup(names[i], strlen(names[i]));
}

static void describe(DataSym *d, const char *how)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "data set: %d rows, X [%d, %d], Y [%d, %d]", d->rows, d->rows, d->features,
              d->rows, d->targets);
    if (d->n_classes) {
        sb_printf(&sb, ", %d classes (", d->n_classes);
        for (int i = 0; i < d->n_classes; i++)
            sb_printf(&sb, "%s%s", i ? ", " : "", d->class_names[i]);
        sb_putc(&sb, ')');
    }
    sb_printf(&sb, "; %s", how);
    d->about = sb_take(&sb);
}

/* Marks every name of a failed data statement, so later uses are not reported again. */
static void poison_names(Sema *s, const AstList *names)
{
    for (size_t i = 0; i < names->count; i++) {
        Symbol *sym = sema_add_symbol(s, names->items[i]->u.name, SYM_DATA,
                                      names->items[i]->span);
        sym->poisoned = true;
    }
}

static Symbol *data_arg(Sema *s, AstNode *e, const char *fn)
{
    if (e && e->kind == AST_NAME) {
        Symbol *sym = sema_lookup(s, e->u.name);
        if (sym && sym->kind == SYM_DATA) return sym->poisoned ? NULL : sym;
        if (!sym) {
            sema_error(s, e->span, "unknown name '%s'", e->u.name);
            return NULL;
        }
    }
    sema_error(s, e ? e->span : (Span){ 0 }, "'%s' takes data sets (made by csv, split, "
               "normalize or a generator such as moons)", fn);
    return NULL;
}

static bool check_csv(Sema *s, AstNode *call, SemaData *sd, AstNode *name, Symbol **out)
{
    const AstList *args = &call->u.call.args;
    if (!sema_named(s, args, "csv", "target")) return false;
    AstNode *path = sema_arg(args, 0, NULL), *target = sema_arg(args, 99, "target");
    if (!path || path->kind != AST_STRING || sema_npos(args) != 1) {
        sema_error(s, call->span, "'csv' takes a file name and the target column: "
                   "csv(\"iris.csv\", target = \"species\")");
        return false;
    }
    if (!target || target->kind != AST_STRING) {
        sema_error(s, target ? target->span : call->span, "'csv' needs the name of the target "
                   "column as a string: csv(\"iris.csv\", target = \"species\")");
        return false;
    }
    const char *file = arena_text(s, path);
    Dataset d;
    DataError err;
    if (!data_read_csv(file, arena_text(s, target), &d, &err)) {
        if (err.line == 0) {    /* the whole file: the script's string is the place */
            sema_error(s, path->span, "%s", err.msg);
            return false;
        }
        diag_file(s->diag, DIAG_ERROR, file, err.line, err.col, "%s", err.msg);
        s->errors++;
        sema_note(s, call->span, "while reading the data set for '%s' here", name->u.name);
        return false;
    }
    sd->fn = DATA_CSV;
    size_t nx = (size_t)d.rows * (size_t)d.features, ny = (size_t)d.rows * (size_t)d.targets;
    sd->x = arena_alloc(s->arena, (nx ? nx : 1) * sizeof(float));
    sd->y = arena_alloc(s->arena, (ny ? ny : 1) * sizeof(float));
    memcpy(sd->x, d.X, nx * sizeof(float));
    memcpy(sd->y, d.Y, ny * sizeof(float));
    Symbol *sym = data_symbol(s, name, d.rows, d.features, d.targets);
    set_classes(sym->data, d.class_names, d.n_classes);
    char how[512];
    snprintf(how, sizeof how, "read from %s, target '%s'", file, arena_text(s, target));
    describe(sym->data, how);
    data_free(&d);
    *out = sym;
    return true;
}

static bool check_toy(Sema *s, AstNode *call, SemaData *sd, AstNode *name, Symbol **out)
{
    static const struct { const char *name; DataFn fn; bool k; } toys[] = {
        { "xor", DATA_XOR, false }, { "circles", DATA_CIRCLES, false },
        { "moons", DATA_MOONS, false }, { "spirals", DATA_SPIRALS, true },
        { "blobs", DATA_BLOBS, true },
    };
    const char *fn = call->u.call.name;
    size_t t = 0;
    while (strcmp(toys[t].name, fn) != 0) t++;
    const AstList *args = &call->u.call.args;
    if (!sema_named(s, args, fn, "noise")) return false;
    int want = toys[t].k ? 2 : 1;
    if (sema_npos(args) != want) {
        if (toys[t].k)
            sema_error(s, call->span, "'%s' takes the number of classes, the number of points "
                       "and an optional noise: %s(3, 300, noise = 0.1)", fn, fn);
        else
            sema_error(s, call->span, "'%s' takes the number of points and an optional noise: "
                       "%s(200, noise = 0.1)", fn, fn);
        return false;
    }
    long k = 2, n;
    if (toys[t].k && !sema_const_int(s, sema_arg(args, 0, NULL), "the number of classes", 2, 100,
                                     &k))
        return false;
    if (!sema_const_int(s, sema_arg(args, want - 1, NULL), "the number of points", k,
                        MAX_DATA_ROWS, &n))
        return false;
    double noise = 0;
    AstNode *na = sema_arg(args, 99, "noise");
    if (na && !sema_const_number(s, na, "the noise", &noise)) return false;
    if (noise < 0) {
        sema_error(s, na->span, "the noise is a standard deviation: it cannot be negative");
        return false;
    }
    sd->fn = toys[t].fn;
    sd->n = (int)n;
    sd->k = (int)k;
    sd->noise = noise;
    int targets = toys[t].k ? (int)k : 1;
    Symbol *sym = data_symbol(s, name, (int)n, 2, targets);
    char *classes[100];
    char buf[100][12];
    for (int i = 0; i < k; i++) {
        snprintf(buf[i], sizeof buf[i], "%d", i);
        classes[i] = buf[i];
    }
    set_classes(sym->data, classes, (int)k);
    char how[128];
    snprintf(how, sizeof how, "made by %s, noise %g", fn, noise);
    describe(sym->data, how);
    *out = sym;
    return true;
}

/* The shared part of making a data set like another one (split, normalize). */
static Symbol *data_like(Sema *s, AstNode *name, const DataSym *src, int rows, const char *how)
{
    Symbol *sym = data_symbol(s, name, rows, src->features, src->targets);
    set_classes(sym->data, src->class_names, src->n_classes);
    describe(sym->data, how);
    return sym;
}

static bool check_split(Sema *s, AstNode *call, SemaData *sd, const AstList *names)
{
    const AstList *args = &call->u.call.args;
    if (!sema_named(s, args, "split", NULL)) return false;
    if (sema_npos(args) != 2) {
        sema_error(s, call->span, "'split' takes a data set and the fraction for the first part, "
                   "or a file listing the rows of the second: split(data, 0.8)");
        return false;
    }
    if (names->count != 2) {
        sema_error(s, call->span, "'split' makes two data sets: let train_set, test_set = "
                   "split(data, 0.8)");
        return false;
    }
    Symbol *src = data_arg(s, sema_arg(args, 0, NULL), "split");
    if (!src) return false;
    DataSym *d = src->data;
    AstNode *how = sema_arg(args, 1, NULL);
    int first;
    if (how->kind == AST_STRING) {
        const char *file = arena_text(s, how);
        int *rows, count;
        DataError err;
        if (!data_read_indices(file, d->rows, &rows, &count, &err)) {
            if (err.line == 0) {
                sema_error(s, how->span, "%s", err.msg);
                return false;
            }
            diag_file(s->diag, DIAG_ERROR, file, err.line, err.col, "%s", err.msg);
            s->errors++;
            sema_note(s, how->span, "while reading the rows to split off here");
            return false;
        }
        sd->fn = DATA_SPLIT_ROWS;
        sd->rows = arena_alloc(s->arena, (size_t)(count ? count : 1) * sizeof(int));
        memcpy(sd->rows, rows, (size_t)count * sizeof(int));
        sd->n_rows = count;
        nn_free(rows);
        first = d->rows - count;
        if (first < 1 || count < 1) {
            sema_error(s, how->span, "the file lists %d of the %d rows; both parts need at least "
                       "one", count, d->rows);
            return false;
        }
    } else {
        double f;
        if (!sema_const_number(s, how, "the fraction", &f)) return false;
        if (!(f > 0 && f < 1)) {
            sema_error(s, how->span, "the fraction for the first part must be between 0 and 1");
            return false;
        }
        first = (int)lround(f * d->rows);
        if (first < 1 || first >= d->rows) {
            sema_error(s, how->span, "a fraction of %g of %d rows leaves a part empty", f,
                       d->rows);
            return false;
        }
        sd->fn = DATA_SPLIT;
        sd->fraction = f;
    }
    sd->src[0] = src;
    sd->n_src = 1;
    char text[160];
    snprintf(text, sizeof text, "the first part of a split of '%s'", src->name);
    sd->dst[0] = data_like(s, names->items[0], d, first, text);
    snprintf(text, sizeof text, "the second part of a split of '%s'", src->name);
    sd->dst[1] = data_like(s, names->items[1], d, d->rows - first, text);
    sd->n_dst = 2;
    return true;
}

static bool check_normalize(Sema *s, AstNode *call, SemaData *sd, const AstList *names)
{
    const AstList *args = &call->u.call.args;
    if (!sema_named(s, args, "normalize", NULL)) return false;
    int n = sema_npos(args);
    if (n < 1 || n > NN_MAX_DATA_ARGS) {
        sema_error(s, call->span, "'normalize' takes the training set first, then the sets to "
                   "scale with its statistics: let a, b = normalize(train_set, test_set)");
        return false;
    }
    if ((int)names->count != n) {
        sema_error(s, call->span, "'normalize' gives back as many data sets as it is given "
                   "(%d here), so name %d", n, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        Symbol *src = data_arg(s, sema_arg(args, i, NULL), "normalize");
        if (!src) return false;
        if (i && src->data->features != sd->src[0]->data->features) {
            sema_error(s, sema_arg(args, i, NULL)->span, "'%s' has %d features but '%s' has %d",
                       src->name, src->data->features, sd->src[0]->name,
                       sd->src[0]->data->features);
            return false;
        }
        sd->src[sd->n_src++] = src;
    }
    sd->fn = DATA_NORMALIZE;
    for (int i = 0; i < n; i++) {
        char text[160];
        snprintf(text, sizeof text, "'%s' standardised with the statistics of '%s'",
                 sd->src[i]->name, sd->src[0]->name);
        sd->dst[sd->n_dst++] = data_like(s, names->items[i], sd->src[i]->data,
                                         sd->src[i]->data->rows, text);
    }
    return true;
}

void sema_check_data_let(Sema *s, AstNode *st)
{
    AstList one = { 0 };
    const AstList *names;
    AstNode *value;
    if (st->kind == AST_LET) {
        AstNode *name = ast_new(s->arena, AST_NAME, st->u.bind.name_span);
        name->u.name = st->u.bind.name;
        ast_list_push(s->arena, &one, name);
        names = &one;
        value = st->u.bind.value;
    } else {
        names = &st->u.many.names;
        value = st->u.many.value;
    }
    SemaExtra *ex = sema_extra(s, st);
    SemaData *sd = &ex->data;
    const char *fn = value->u.call.name;
    Symbol *made = NULL;
    bool ok;
    if (strcmp(fn, "split") == 0) {
        ok = check_split(s, value, sd, names);
    } else if (strcmp(fn, "normalize") == 0) {
        ok = check_normalize(s, value, sd, names);
    } else if (names->count != 1) {
        sema_error(s, value->span, "'%s' makes one data set", fn);
        ok = false;
    } else {
        ok = strcmp(fn, "csv") == 0 ? check_csv(s, value, sd, names->items[0], &made)
                                    : check_toy(s, value, sd, names->items[0], &made);
        if (ok) {
            sd->dst[0] = made;
            sd->n_dst = 1;
        }
    }
    if (!ok) poison_names(s, names);
}

/* ---- optimizers --------------------------------------------------------------------------- */

/* One setting of an optimizer: where it goes and the values it may take. */
typedef struct HyperSpec {
    const char *name;
    float *slot;
    double lo, hi;
    bool lo_open, hi_open;
    const char *range;      /* the rule, for the message */
} HyperSpec;

static bool check_optimizer(Sema *s, AstNode *e, OptimConfig *c, bool lr_required)
{
    const char *name = e->kind == AST_CALL ? e->u.call.name : e->kind == AST_NAME ? e->u.name : NULL;
    OptimKind kind;
    if (!name || !optim_lookup(name, &kind)) {
        if (name)
            sema_error(s, e->kind == AST_CALL ? e->u.call.name_span : e->span, "unknown "
                       "optimizer '%s' (nn has sgd, adam, adamw and rmsprop)", name);
        else
            sema_error(s, e->span, "expected an optimizer, such as sgd(lr = 0.1) or adam()");
        return false;
    }
    optim_defaults(kind, c);
    float nesterov = 0;
    HyperSpec specs[8];
    int n = 0;
    specs[n++] = (HyperSpec){ "lr", &c->lr, 0, INFINITY, true, true, "positive" };
    if (kind == OPTIM_SGD || kind == OPTIM_RMSPROP)
        specs[n++] = (HyperSpec){ "momentum", &c->momentum, 0, 1, false, true,
                                  "at least 0 and below 1" };
    if (kind == OPTIM_SGD) {
        specs[n++] = (HyperSpec){ "dampening", &c->dampening, 0, 1, false, false,
                                  "between 0 and 1" };
        specs[n++] = (HyperSpec){ "nesterov", &nesterov, 0, 1, false, false,
                                  "1 (on) or 0 (off)" };
    }
    if (kind == OPTIM_ADAM || kind == OPTIM_ADAMW) {
        specs[n++] = (HyperSpec){ "beta1", &c->beta1, 0, 1, false, true, "at least 0 and below 1" };
        specs[n++] = (HyperSpec){ "beta2", &c->beta2, 0, 1, false, true, "at least 0 and below 1" };
    }
    if (kind == OPTIM_RMSPROP)
        specs[n++] = (HyperSpec){ "alpha", &c->alpha, 0, 1, false, false, "between 0 and 1" };
    if (kind != OPTIM_SGD)
        specs[n++] = (HyperSpec){ "eps", &c->eps, 0, 1, true, false, "above 0 and at most 1" };
    specs[n++] = (HyperSpec){ "weight_decay", &c->weight_decay, 0, INFINITY, false, true,
                              "at least 0" };
    const AstList *args = e->kind == AST_CALL ? &e->u.call.args : &(AstList){ 0 };
    bool lr_given = false;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        const char *an = a->u.bind.name;
        if (!an) {
            if (i != 0) {
                sema_error(s, a->span, "only the learning rate may be given without its name; "
                           "name the others, e.g. momentum = 0.9");
                return false;
            }
            an = "lr";
        }
        int k = 0;
        while (k < n && strcmp(specs[k].name, an) != 0) k++;
        if (k == n) {
            StrBuf sb;
            sb_init(&sb);
            for (int j = 0; j < n; j++) sb_printf(&sb, "%s%s", j ? ", " : "", specs[j].name);
            sema_error(s, a->u.bind.name ? a->u.bind.name_span : a->span, "'%s' has no "
                       "argument '%s' (it takes %s)", name, an, sb.data);
            sb_free(&sb);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            const char *bn = args->items[j]->u.bind.name ? args->items[j]->u.bind.name : "lr";
            if (strcmp(bn, an) == 0) {
                bool mixed = !args->items[j]->u.bind.name || !a->u.bind.name;
                sema_error(s, a->u.bind.name ? a->u.bind.name_span : a->span,
                           "argument '%s' is given twice%s", an, mixed ? ": by position and by name" : "");
                return false;
            }
        }
        double v;
        char what[64];
        snprintf(what, sizeof what, strcmp(an, "lr") == 0 ? "the learning rate '%s'" : "'%s'",
                 an);
        if (!sema_const_number(s, a->u.bind.value, what, &v)) return false;
        bool bad = v < specs[k].lo || v > specs[k].hi || (specs[k].lo_open && v == specs[k].lo)
                   || (specs[k].hi_open && v == specs[k].hi);
        if (strcmp(an, "nesterov") == 0) bad = v != 0 && v != 1;
        if (bad) {
            if (strcmp(an, "lr") == 0) what[0] = '\0';
            sema_error(s, a->u.bind.value->span, "%s must be %s",
                       strcmp(an, "lr") == 0 ? "the learning rate" : what, specs[k].range);
            return false;
        }
        *specs[k].slot = (float)v;
        if (strcmp(an, "lr") == 0) lr_given = true;
    }
    c->nesterov = nesterov != 0;
    if (kind == OPTIM_SGD && lr_required && !lr_given) {
        sema_error(s, e->span, "'sgd' needs a learning rate, e.g. sgd(lr = 0.1)");
        return false;
    }
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
        sema_error(s, e->span, "nesterov momentum needs momentum above 0 and no dampening");
        return false;
    }
    return true;
}

void sema_check_step(Sema *s, AstNode *st)
{
    AstNode call = *st;     /* the step's optimizer reads like a call */
    call.kind = AST_CALL;
    SemaExtra *ex = sema_extra(s, st);
    check_optimizer(s, &call, &ex->train.optim, true);
}

/* ---- train ---------------------------------------------------------------------------------- */

static const char *const setting_names[] = {
    "loss", "optimizer", "epochs", "batch", "accumulate", "clip", "validation", "early_stop",
    "log", "schedule", "metric", "resume", "trace", "break",
};

/* break step N | break nonfinite | break grad_norm X (a block may have several) */
static bool check_break(Sema *s, AstNode *set, SemaTrain *t)
{
    const char *word = set->u.setting.word;
    AstNode *v = set->u.setting.value;
    if (word && strcmp(word, "step") == 0) {
        long n;
        if (!sema_const_int(s, v, "the update to stop before", 1, 100000000, &n)) return false;
        t->break_step = n;
        return true;
    }
    if (!word && v && v->kind == AST_NAME && strcmp(v->u.name, "nonfinite") == 0) {
        t->break_nonfinite = true;
        return true;
    }
    if (word && strcmp(word, "grad_norm") == 0) {
        double x;
        if (!sema_const_number(s, v, "the largest gradient norm", &x)) return false;
        if (!(x > 0)) {
            sema_error(s, v->span, "the gradient norm to stop at must be above 0");
            return false;
        }
        t->break_grad_norm = x;
        return true;
    }
    sema_error(s, set->span, "write 'break step N' (stop before update N), 'break nonfinite' (at "
               "the first inf or NaN) or 'break grad_norm X' (when the gradient norm is above X)");
    return false;
}

static bool setting_int(Sema *s, AstNode *set, const char *what, long lo, long hi, int *out)
{
    long v;
    if (!set->u.setting.value) {
        sema_error(s, set->span, "'%s' needs a value", set->u.setting.name);
        return false;
    }
    if (!sema_const_int(s, set->u.setting.value, what, (double)lo, (double)hi, &v)) return false;
    *out = (int)v;
    return true;
}

static bool check_loss_name(Sema *s, AstNode *v, OpKind *out)
{
    const OpInfo *op = v && v->kind == AST_NAME ? op_lookup(v->u.name) : NULL;
    if (!op || op->sig != SIG_LOSS || (op->flags & OPF_NO_GRAD)) {
        sema_error(s, v ? v->span : (Span){ 0 }, "expected a loss: mse, l1, bce, bce_logits or "
                   "cross_entropy");
        return false;
    }
    *out = op->kind;
    return true;
}

static bool check_schedule(Sema *s, AstNode *v, SemaTrain *t, int epochs)
{
    const char *name = v->kind == AST_NAME ? v->u.name : v->kind == AST_CALL ? v->u.call.name : "";
    const AstList *args = v->kind == AST_CALL ? &v->u.call.args : &(AstList){ 0 };
    if (strcmp(name, "cosine") == 0) {
        t->sched.kind = SCHED_COSINE;
        if (!sema_named(s, args, "cosine", "min") || sema_npos(args) > 0) {
            if (sema_npos(args) > 0)
                sema_error(s, v->span, "'cosine' takes only 'min', the last learning rate: "
                           "cosine(min = 0.001)");
            return false;
        }
        AstNode *m = sema_arg(args, 99, "min");
        double mv = 0;
        if (m && !sema_const_number(s, m, "'min'", &mv)) return false;
        if (mv < 0) {
            sema_error(s, m->span, "'min' cannot be negative");
            return false;
        }
        t->sched.min_lr = (float)mv;
        return true;
    }
    if (strcmp(name, "step_decay") == 0) {
        t->sched.kind = SCHED_STEP;
        AstNode *every = sema_arg(args, 99, "every"), *gamma = sema_arg(args, 99, "gamma");
        for (size_t i = 0; i < args->count; i++) {
            const char *an = args->items[i]->u.bind.name;
            if (!an || (strcmp(an, "every") != 0 && strcmp(an, "gamma") != 0)) {
                sema_error(s, args->items[i]->span, "'step_decay' takes 'every' (epochs) and "
                           "'gamma' (the factor): step_decay(every = 10, gamma = 0.5)");
                return false;
            }
        }
        if (!every) {
            sema_error(s, v->span, "'step_decay' needs 'every': step_decay(every = 10, gamma = 0.5)");
            return false;
        }
        long e;
        double g = 0.1;     /* PyTorch's StepLR default */
        if (!sema_const_int(s, every, "'every'", 1, epochs > 0 ? epochs : 1e9, &e)) return false;
        if (gamma && !sema_const_number(s, gamma, "'gamma'", &g)) return false;
        if (gamma && !(g > 0 && g <= 1)) {
            sema_error(s, gamma->span, "'gamma' must be above 0 and at most 1");
            return false;
        }
        t->sched.step_size = (int)e;
        t->sched.gamma = (float)g;
        return true;
    }
    sema_error(s, v->span, "unknown schedule; use cosine, cosine(min = 0.001) or "
               "step_decay(every = 10, gamma = 0.5)");
    return false;
}

/* Checks a loss (and a metric) on the model's output for a batch of `rows`. */
static bool check_loss_shapes(Sema *s, Span at, OpKind loss, const Shape *out, const Shape *y)
{
    const OpInfo *op = op_info(loss);
    Shape in[2] = { *out, *y }, res;
    OpAttrs attrs = sema_no_attrs();
    StrBuf err;
    sb_init(&err);
    bool ok = op->shape(op, in, &attrs, &res, &err);
    if (!ok) sema_error(s, at, "%s: %s", op->name, err.data);
    sb_free(&err);
    return ok;
}

static bool metric_fits(const Shape *out, const Shape *y)
{
    const OpInfo *op = op_info(OP_ACCURACY);
    Shape in[2] = { *out, *y }, res;
    OpAttrs attrs = sema_no_attrs();
    StrBuf err;
    sb_init(&err);
    bool ok = op->shape(op, in, &attrs, &res, &err);
    sb_free(&err);
    return ok;
}

static Shape with_rows(const Shape *s, int rows)
{
    Shape r = *s;
    r.dim[0] = rows;
    return r;
}

void sema_check_train(Sema *s, AstNode *st)
{
    SemaExtra *ex = sema_extra(s, st);
    SemaTrain *t = &ex->train;
    memset(t, 0, sizeof *t);
    t->epochs = 0;
    t->accumulate = 1;
    t->trace_step = 0;
    t->batch = 0;
    t->sched.kind = SCHED_NONE;
    t->metric = false;
    bool metric_set = false, ok = true;
    AstNode *seen[NN_ARRAY_LEN(setting_names)] = { 0 };
    AstNode *loss_at = NULL, *val = NULL, *sched = NULL, *opt = NULL;

    for (size_t i = 0; i < st->u.train.settings.count; i++) {
        AstNode *set = st->u.train.settings.items[i];
        const char *name = set->u.setting.name;
        AstNode *v = set->u.setting.value;
        size_t k = 0;
        while (k < NN_ARRAY_LEN(setting_names) && strcmp(setting_names[k], name) != 0) k++;
        if (k == NN_ARRAY_LEN(setting_names)) {
            const char *best = NULL;
            for (size_t j = 0; j < NN_ARRAY_LEN(setting_names); j++)
                if (strncmp(setting_names[j], name, 3) == 0) best = setting_names[j];
            if (best)
                sema_error(s, set->u.setting.name_span, "unknown setting '%s'; did you mean "
                           "'%s'?", name, best);
            else
                sema_error(s, set->u.setting.name_span, "unknown setting '%s' (a train block "
                           "takes loss, optimizer, epochs, batch, accumulate, clip, validation, "
                           "early_stop, log every N, schedule, metric, resume, trace step N, "
                           "break step N)",
                           name);
            ok = false;
            continue;
        }
        if (strcmp(name, "break") == 0) {
            ok = check_break(s, set, t) && ok;
            continue;
        }
        if (seen[k]) {
            sema_error(s, set->u.setting.name_span, "'%s' is set twice", name);
            sema_note(s, seen[k]->span, "first set here");
            ok = false;
            continue;
        }
        seen[k] = set;
        bool want_word = strcmp(name, "log") == 0 || strcmp(name, "trace") == 0;
        const char *word = want_word ? (name[0] == 'l' ? "every" : "step") : NULL;
        bool every = name[0] == 't' && set->u.setting.word
                     && strcmp(set->u.setting.word, "every") == 0;     /* trace every N */
        if (!every && (want_word ? !set->u.setting.word || strcmp(set->u.setting.word, word) != 0
                                 : set->u.setting.word != NULL)) {
            if (want_word && name[0] == 't')
                sema_error(s, set->span, "write 'trace step N' or 'trace every N'");
            else if (want_word)
                sema_error(s, set->span, "write '%s %s N'", name, word);
            else
                sema_error(s, set->span, "'%s' takes one value, as in '%s ...'", name, name);
            ok = false;
            continue;
        }
        if (!v) {
            sema_error(s, set->span, "'%s' needs a value", name);
            ok = false;
            continue;
        }
        if (strcmp(name, "loss") == 0) {
            loss_at = v;
            ok = check_loss_name(s, v, &t->loss) && ok;
        } else if (strcmp(name, "optimizer") == 0) {
            opt = v;
        } else if (strcmp(name, "epochs") == 0) {
            ok = setting_int(s, set, "the number of epochs", 1, 100000000, &t->epochs) && ok;
        } else if (strcmp(name, "batch") == 0) {
            ok = setting_int(s, set, "the batch size", 1, MAX_DATA_ROWS, &t->batch) && ok;
        } else if (strcmp(name, "accumulate") == 0) {
            ok = setting_int(s, set, "the number of batches to accumulate", 1, 100000,
                             &t->accumulate) && ok;
        } else if (strcmp(name, "clip") == 0) {
            double c;
            if (!sema_const_number(s, v, "the largest gradient norm", &c)) ok = false;
            else if (!(c > 0)) {
                sema_error(s, v->span, "the largest gradient norm must be above 0");
                ok = false;
            }
            t->clip = c;
        } else if (strcmp(name, "validation") == 0) {
            val = v;
        } else if (strcmp(name, "early_stop") == 0) {
            ok = setting_int(s, set, "the patience (epochs without improvement)", 1, 100000000,
                             &t->patience) && ok;
        } else if (strcmp(name, "log") == 0) {
            ok = setting_int(s, set, "the logging interval", 1, 100000000, &t->log_every) && ok;
        } else if (strcmp(name, "schedule") == 0) {
            sched = v;
        } else if (strcmp(name, "metric") == 0) {
            metric_set = true;
            if (v->kind == AST_NAME && strcmp(v->u.name, "accuracy") == 0) t->metric = true;
            else if (v->kind == AST_NAME && strcmp(v->u.name, "none") == 0) t->metric = false;
            else {
                sema_error(s, v->span, "the metric is 'accuracy' or 'none'");
                ok = false;
            }
        } else if (strcmp(name, "resume") == 0) {
            if (v->kind != AST_STRING) {
                sema_error(s, v->span, "'resume' takes a checkpoint's file name: resume "
                           "\"net.safetensors\"");
                ok = false;
            } else {
                t->resume = arena_text(s, v);
            }
        } else if (strcmp(name, "trace") == 0) {
            if (strcmp(set->u.setting.word, "every") == 0)
                ok = setting_int(s, set, "the tracing interval", 1, 100000000, &t->trace_every)
                     && ok;
            else
                ok = setting_int(s, set, "the step to trace", 1, 100000000, &t->trace_step) && ok;
        }
    }
    bool unknown = !ok;     /* a misspelt setting: "missing" errors would only repeat it */
    if (!seen[1] && !unknown) {
        sema_error(s, st->span, "a train block needs an optimizer, e.g. 'optimizer sgd(lr = "
                   "0.1)' or 'optimizer adam()'");
        ok = false;
    } else if (opt && !check_optimizer(s, opt, &t->optim, true)) {
        ok = false;
    }
    if (seen[1] && !opt) ok = false;       /* its error was reported */
    if (!seen[2] && !unknown) {
        sema_error(s, st->span, "a train block needs 'epochs N'");
        ok = false;
    }
    if (sched && ok) ok = check_schedule(s, sched, t, t->epochs);

    AstNode *target = st->u.train.target;
    if (!st->u.train.x) {
        /* train LOSS: each epoch is one step on a scalar loss of params */
        const char *data_only[] = { "loss", "batch", "accumulate", "validation", "metric" };
        for (size_t j = 0; j < NN_ARRAY_LEN(data_only); j++)
            for (size_t k = 0; k < NN_ARRAY_LEN(setting_names); k++)
                if (seen[k] && strcmp(setting_names[k], data_only[j]) == 0) {
                    sema_error(s, seen[k]->u.setting.name_span, "'%s' is for training a model "
                               "on data (train MODEL on X, Y); this block trains a loss "
                               "formula", data_only[j]);
                    ok = false;
                }
        if (seen[11]) {
            sema_error(s, seen[11]->u.setting.name_span, "'resume' is for training a model on "
                       "data");
            ok = false;
        }
        if (seen[12] && !sema_trace_places(s, &seen[12]->u.setting.places, NULL, &t->focus))
            return;
        if (!sema_expr(s, target) || !sema_scalar(s, target, "train")) return;
        if (!target->sema.grad) {
            sema_error(s, target->span, "nothing to train: this depends on no param");
            return;
        }
        t->over_data = false;
        return;
    }

    /* train MODEL on X, Y */
    Symbol *msym = target->kind == AST_NAME ? sema_lookup(s, target->u.name) : NULL;
    if (!msym || msym->kind != SYM_MODEL) {
        if (!msym) sema_error(s, target->span, "unknown model '%s'", target->u.name);
        else sema_error(s, target->span, "'%s' is not a model; train MODEL on X, Y { ... } "
                        "trains a model (to train a loss formula, write train LOSS { ... })",
                        target->u.name);
        return;
    }
    if (msym->poisoned) return;
    t->over_data = true;
    t->model = msym;
    if (seen[12] && !sema_trace_places(s, &seen[12]->u.setting.places, msym, &t->focus))
        ok = false;
    AstNode *x = st->u.train.x, *y = st->u.train.y;
    if (!y) {
        Symbol *d = x->kind == AST_NAME ? sema_lookup(s, x->u.name) : NULL;
        if (!d || d->kind != SYM_DATA) {
            sema_error(s, x->span, "train on a data set, or on inputs and targets: train %s on "
                       "X, Y { ... }", msym->name);
            return;
        }
        if (d->poisoned) return;
        AstNode *dx = ast_new(s->arena, AST_FIELD, x->span), *dy = ast_new(s->arena, AST_FIELD,
                                                                           x->span);
        dx->u.field.obj = dy->u.field.obj = x;
        dx->u.field.field = "X";
        dy->u.field.field = "Y";
        dx->u.field.field_span = dy->u.field.field_span = x->span;
        st->u.train.x = x = dx;
        st->u.train.y = y = dy;
    }
    bool xy = sema_expr(s, x);
    xy = sema_expr(s, y) && xy;
    if (!xy) return;
    char a[64], b[64];
    if (x->sema.shape.rank != 2) {
        sema_error(s, x->span, "the inputs must be a matrix [rows, features], but this has "
                   "shape %s", shape_str(&x->sema.shape, a, sizeof a));
        return;
    }
    if (y->sema.shape.rank < 1 || y->sema.shape.rank > 2
        || y->sema.shape.dim[0] != x->sema.shape.dim[0]) {
        sema_error(s, y->span, "the targets need one row per input row: the inputs are %s, the "
                   "targets %s", shape_str(&x->sema.shape, a, sizeof a),
                   shape_str(&y->sema.shape, b, sizeof b));
        return;
    }
    if (x->sema.grad || y->sema.grad) {
        sema_error(s, x->sema.grad ? x->span : y->span, "training data cannot depend on params");
        return;
    }
    if (!seen[0] && !unknown) {
        sema_error(s, st->span, "a train block on data needs a loss, e.g. 'loss mse' or 'loss "
                   "cross_entropy'");
        return;
    }
    if (!ok) return;
    t->rows = x->sema.shape.dim[0];
    t->train_rows = t->rows;
    if (val) {
        Symbol *vd = val->kind == AST_NAME ? sema_lookup(s, val->u.name) : NULL;
        if (vd && vd->kind != SYM_DATA) {
            sema_error(s, val->span, "'validation' takes a fraction such as 0.2 or a data set's "
                       "name");
            return;
        }
        if (vd && vd->kind == SYM_DATA) {
            if (vd->poisoned) return;
            if (vd->data->features != x->sema.shape.dim[1]) {
                sema_error(s, val->span, "the validation set has %d features, the training "
                           "inputs %d", vd->data->features, x->sema.shape.dim[1]);
                return;
            }
            t->has_val = t->val_given = true;
            t->val_rows = vd->data->rows;
            AstNode *vx = ast_new(s->arena, AST_FIELD, val->span);
            AstNode *vy = ast_new(s->arena, AST_FIELD, val->span);
            vx->u.field.obj = vy->u.field.obj = val;
            vx->u.field.field = "X";
            vy->u.field.field = "Y";
            vx->u.field.field_span = vy->u.field.field_span = val->span;
            if (!sema_expr(s, vx) || !sema_expr(s, vy)) return;
            t->vx = vx;
            t->vy = vy;
        } else {
            double f;
            if (!sema_const_number(s, val, "the validation fraction", &f)) return;
            if (!(f > 0 && f < 1)) {
                sema_error(s, val->span, "the validation fraction must be between 0 and 1, or "
                           "name a data set");
                return;
            }
            t->val_rows = (int)lround(f * t->rows);
            if (t->val_rows < 1 || t->val_rows >= t->rows) {
                sema_error(s, val->span, "a validation fraction of %g of %d rows leaves a part "
                           "empty", f, t->rows);
                return;
            }
            t->has_val = true;
            t->train_rows = t->rows - t->val_rows;
        }
    }
    if (t->batch == 0 || t->batch > t->train_rows) t->batch = t->train_rows;
    t->rest = t->train_rows % t->batch;
    Shape xs = x->sema.shape, ys = y->sema.shape;
    Shape xb = with_rows(&xs, t->batch);
    if (!sema_apply_model(s, msym, &xb, x->span, &t->batch_app)) return;
    Shape yb = with_rows(&ys, t->batch);
    if (!check_loss_shapes(s, loss_at->span, t->loss, &t->batch_app.out, &yb)) return;
    if (metric_set && t->metric && !metric_fits(&t->batch_app.out, &yb)) {
        char o[64], w[64];
        sema_error(s, seen[10]->span, "accuracy needs class scores [N, C] with one-hot or index "
                   "targets, or probabilities [N, 1] with 0/1 targets; here the model gives %s "
                   "and the targets are %s", shape_str(&t->batch_app.out, o, sizeof o),
                   shape_str(&yb, w, sizeof w));
        return;
    }
    /* a data set knows whether its target is classes */
    Symbol *data = NULL;
    if (st->u.train.x->kind == AST_FIELD && st->u.train.x->u.field.obj->kind == AST_NAME)
        data = sema_lookup(s, st->u.train.x->u.field.obj->u.name);
    bool numeric = data && data->kind == SYM_DATA && data->data->n_classes == 0;
    if (metric_set && t->metric && numeric) {
        sema_error(s, seen[10]->span, "accuracy needs class targets, but '%s' has a numeric "
                   "target", data->name);
        return;
    }
    if (!metric_set)
        t->metric = !numeric && t->loss != OP_MSE && t->loss != OP_L1 && metric_fits(&t->batch_app.out, &yb);
    if (t->rest) {
        Shape xr = with_rows(&xs, t->rest);
        if (!sema_apply_model(s, msym, &xr, x->span, &t->rest_app)) return;
    }
    Shape xt = with_rows(&xs, t->train_rows);
    if (!sema_apply_model(s, msym, &xt, x->span, &t->train_app)) return;
    if (t->has_val) {
        Shape xv = with_rows(&xs, t->val_rows);
        if (t->val_given) xv = t->vx->sema.shape;
        if (!sema_apply_model(s, msym, &xv, val->span, &t->val_app)) return;
        Shape yv = t->val_given ? t->vy->sema.shape : with_rows(&ys, t->val_rows);
        if (!check_loss_shapes(s, val->span, t->loss, &t->val_app.out, &yv)) return;
    }
}

/* ---- save / load ------------------------------------------------------------------------- */

void sema_check_file(Sema *s, AstNode *st)
{
    Symbol *sym = sema_lookup(s, st->u.file.name);
    const char *verb = st->kind == AST_SAVE ? "save" : "load";
    if (!sym || sym->kind != SYM_MODEL) {
        if (!sym)
            sema_error(s, st->u.file.name_span, "unknown model '%s'", st->u.file.name);
        else
            sema_error(s, st->u.file.name_span, "'%s' is not a model; '%s' works on models",
                       st->u.file.name, verb);
        return;
    }
    if (sym->poisoned) return;
    if (sym->model->n_params == 0) {
        sema_error(s, st->u.file.name_span, "model '%s' has no params to %s", sym->name, verb);
        return;
    }
    SemaExtra *ex = sema_extra(s, st);
    ex->path = arena_text(s, st->u.file.path);
    st->sema.sym = sym;
}

/* ---- printing models and data sets --------------------------------------------------------- */

const char *sema_print_text(Sema *s, AstNode *item)
{
    Symbol *sym = NULL;
    if (item->kind == AST_NAME) {
        sym = sema_lookup(s, item->u.name);
        if (!sym || (sym->kind != SYM_MODEL && sym->kind != SYM_DATA)) return NULL;
    } else if (item->kind == AST_CALL && strcmp(item->u.call.name, "summary") == 0) {
        const AstList *args = &item->u.call.args;
        AstNode *m = args->count == 1 && !args->items[0]->u.bind.name
                         ? args->items[0]->u.bind.value : NULL;
        sym = m && m->kind == AST_NAME ? sema_lookup(s, m->u.name) : NULL;
        if (!sym || sym->kind != SYM_MODEL) {
            sema_error(s, item->span, "'summary' takes a model: summary(net)");
            return "";
        }
    } else {
        return NULL;
    }
    if (sym->poisoned) return "";
    const char *text = sym->kind == SYM_MODEL ? sym->model->summary : sym->data->about;
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') len--;
    return arena_strndup(s->arena, text, len);
}

bool sema_print_labels(Sema *s, AstNode *item)
{
    if (item->kind != AST_CALL || strcmp(item->u.call.name, "labels") != 0) return false;
    const AstList *args = &item->u.call.args;
    if (args->count != 2 || args->items[0]->u.bind.name || args->items[1]->u.bind.name) {
        sema_error(s, item->span, "'labels' takes a data set (for its class names) and the "
                   "scores to name: labels(iris, net(X))");
        return true;
    }
    Symbol *d = data_arg(s, args->items[0]->u.bind.value, "labels");
    AstNode *x = args->items[1]->u.bind.value;
    if (!d || !sema_expr(s, x)) return true;
    if (!d->data->n_classes) {
        sema_error(s, args->items[0]->span, "'%s' has a numeric target, so it has no class "
                   "names", d->name);
        return true;
    }
    const Shape *sh = &x->sema.shape;
    int classes = sh->rank ? sh->dim[sh->rank - 1] : 1;
    bool binary = d->data->targets == 1 && classes == 1;
    if (sh->rank < 1 || sh->rank > 2 || (!binary && classes != d->data->n_classes)) {
        char buf[64];
        sema_error(s, x->span, "'labels' needs one row of %d class scores per example (shape "
                   "[N, %d]), but this has shape %s", d->data->n_classes, d->data->n_classes,
                   shape_str(sh, buf, sizeof buf));
        return true;
    }
    SemaExtra *ex = sema_extra(s, item);
    ex->labels = d->data;
    item->sema.operand = x;
    return true;
}
