/* sema_model.c — checks model definitions: a list of layers (dense, dropout, activations,
 * residual blocks), or params with a forward formula. Makes the model's params as symbols
 * (net.layer1.W) and the summary `print net` shows. Stands on sema_expr.c. */
#include "sema_model.h"

#include "sema_expr.h"

#include <stdio.h>
#include <string.h>

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
    AstNode *ini = sema_arg(args, SEMA_NAMED_ONLY, "init");
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
        m->summary = sema_take_text(&sb);
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
    m->summary = sema_take_text(&sb);
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
