/* sema_model.c — checks model definitions: a list of layers (the rows of src/layers.def, and
 * the activations of the op table), or params with a forward formula. Makes the model's params
 * as symbols (net.layer1.W) and the summary `print net` shows. Stands on sema_args.c. */
#include "sema_model.h"

#include "sema_args.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- building a model ------------------------------------------------------------------------ */

typedef struct ModelBuild {
    Sema *s;
    Model *m;
    Shape sample;           /* one example's shape so far: [width], or an image [C, H, W];
                               rank 0: not known yet (before the first layer that says) */
    int next_index;         /* the next dense or conv layer's number */
    const char *group;      /* the dense layer the activations that follow belong to */
    int cap;
    bool ok;
} ModelBuild;

static bool known(const ModelBuild *b)
{
    return b->sample.rank > 0;
}

/* The width of rows of features so far; 0 if not known, or images. */
static int width(const ModelBuild *b)
{
    return b->sample.rank == 1 ? b->sample.dim[0] : 0;
}

static Shape vector_shape(int n)
{
    Shape v = shape_scalar();
    v.rank = 1;
    v.dim[0] = n;
    return v;
}

/* The first layer that gives the shape of an example gives the model's input. */
static void set_input(ModelBuild *b, Shape sample)
{
    b->m->in_shape = sample;
    b->m->in = (int)shape_size(&sample);
}

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

static Symbol *model_param(ModelBuild *b, const char *short_name, Shape shape, Span at)
{
    Sema *s = b->s;
    Symbol *p = sema_add_symbol(s, sema_dotted(s, b->m->name, short_name), SYM_PARAM, at);
    p->shape = shape;
    p->grad = true;
    push_param(b, p, sema_intern(s, short_name));
    return p;
}

/* ---- the layer table (src/layers.def) -------------------------------------------------------- */

typedef struct LayerRow LayerRow;

/* A layer's reader: checks item i of `items` and pushes its layer. False after reporting. */
typedef bool (*LayerCheckFn)(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);

struct LayerRow {
    const char *name;
    LayerKind kind;
    LayerCheckFn check;
    const ArgForm *args;
    const char *usage;
};

static bool layer_dense(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_dropout(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_residual(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_input(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_conv(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_pool(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_flatten(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_norm(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static bool layer_batchnorm(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row);
static Layer *norm_layer(ModelBuild *b, LayerKind kind, const AstNode *it, Shape per);

/* dense(in, out, init = NAME), or dense(out) after a layer that gives the width */
static const ArgSpec dense_specs[] = {
    { "in", ARG_INT, true, 0, 1, 1e6, false, false, NULL },
    { "out", ARG_INT, false, 0, 1, 1e6, false, false, NULL },
    { "init", ARG_NAME, false, 0, 0, 0, false, false, NULL },
};
static const char *const dense_what[] = { "a layer size", "a layer size", NULL };
static const ArgForm dense_args = { dense_specs, 3, 2, 2, dense_what, "the sizes and 'init'",
                                    NULL };

/* dropout(p) */
static const ArgSpec dropout_specs[] = {
    { "p", ARG_NUMBER, true, 0, 0, 1, false, true, "at least 0 and below 1" },
};
static const char *const dropout_what[] = { "the dropout probability" };
static const ArgForm dropout_args = { dropout_specs, 1, 1, 0, dropout_what, NULL, NULL };

/* leaky_relu(a) as a layer (the other activations take no arguments) */
static const ArgSpec slope_specs[] = {
    { "a", ARG_NUMBER, false, 0.01, -INFINITY, INFINITY, false, false, NULL },
};
static const char *const slope_what[] = { "the slope" };
static const ArgForm slope_args = { slope_specs, 1, 1, 0, slope_what, NULL, NULL };

/* batchnorm, or batchnorm(C) as torch.nn.BatchNorm2d(C) is written (checked against the shape) */
static const ArgSpec batchnorm_specs[] = {
    { "channels", ARG_INT, false, 0, 1, 1e6, false, false, NULL },
};
static const char *const batchnorm_what[] = { "the number of channels" };
static const ArgForm batchnorm_args = { batchnorm_specs, 1, 1, 0, batchnorm_what, NULL, NULL };

static const LayerRow layers[] = {
#define LAYER(name, kind, check, args, usage, example, text) { name, kind, check, args, usage },
#define LAYER_ALIAS(...)
#define INIT(...)
#include "layers.def"
#undef INIT
#undef LAYER_ALIAS
#undef LAYER
};

static const struct LayerAlias {
    const char *name, *word, *theirs;
} layer_aliases[] = {
#define LAYER(...)
#define LAYER_ALIAS(name, word, theirs) { name, word, theirs },
#define INIT(...)
#include "layers.def"
#undef INIT
#undef LAYER_ALIAS
#undef LAYER
};

/* The name a layer item is written with (relu, dense(4, 8)), or NULL. */
static const char *item_name(const AstNode *it)
{
    return it->kind == AST_NAME ? it->u.name : it->kind == AST_CALL ? it->u.call.name : NULL;
}

/* The row of a layer item, or NULL (an activation, or not a layer). */
static const LayerRow *layer_row(const AstNode *it)
{
    const char *name = item_name(it);
    for (size_t k = 0; k < NN_ARRAY_LEN(layers); k++)
        if (it->kind == AST_RESIDUAL ? layers[k].kind == LAYER_RES_BEGIN
                                     : name && strcmp(layers[k].name, name) == 0)
            return &layers[k];
    return NULL;
}

/* The activation an op is as a layer: unary and elementwise, leaky_relu, softmax, log_softmax. */
static bool is_activation(const OpInfo *op)
{
    return (op->sig == SIG_UNARY && (op->flags & OPF_ELEMENTWISE)) || op->sig == SIG_LEAKY
           || op->kind == OP_SOFTMAX || op->kind == OP_LOG_SOFTMAX;
}

/* The activation a layer item names (relu, leaky_relu(0.2), softmax, ...), or false. */
static bool activation_of(const AstNode *it, OpKind *op)
{
    const char *name = item_name(it);
    const OpInfo *info = name ? op_lookup(name) : NULL;
    if (!info || !is_activation(info)) return false;
    *op = info->kind;
    return true;
}

/* Which initialiser a weight gets: He for ReLU-like layers that follow, Glorot otherwise
 * (the rule PyTorch's and Keras' guides give). Dropout between them is looked through. */
static OpKind init_for_next(const AstList *items, size_t i)
{
    for (size_t j = i + 1; j < items->count; j++) {
        const AstNode *it = items->items[j];
        const LayerRow *row = layer_row(it);
        OpKind op;
        if (it->kind == AST_CALL && row && row->kind == LAYER_DROPOUT) continue;
        if (activation_of(it, &op)) return op == OP_RELU || op == OP_LEAKY_RELU ? OP_HE : OP_XAVIER;
        break;
    }
    return OP_XAVIER;
}

/* ---- layers ---------------------------------------------------------------------------------- */

/* The sizes of dense(in, out) or dense(out): *in from the layer before when not given. */
static bool dense_sizes(ModelBuild *b, const AstNode *it, const ArgValue *v, long *in, long *out)
{
    bool both = v[1].node != NULL;
    if (b->sample.rank > 1) {
        char buf[64];
        sema_error(b->s, it->span, "'dense' takes rows of features, but the layer before gives "
                   "%s %s; put 'flatten' before it", b->sample.rank == 2 ? "sequences" : "images",
                   shape_str(&b->sample, buf, sizeof buf));
        return false;
    }
    *in = both ? (long)v[0].num : width(b);
    *out = (long)v[both ? 1 : 0].num;
    if (!both && !known(b)) {
        sema_error(b->s, it->span, "the first dense layer needs its input size too: "
                   "dense(in, %ld)", *out);
        return false;
    }
    if (both && known(b) && *in != width(b)) {
        sema_error(b->s, v[0].node->span, "this layer takes %ld inputs, but the layer before "
                   "gives %d; write dense(%ld) to follow it", *in, width(b), *out);
        return false;
    }
    return true;
}

static bool layer_dense(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    ArgValue v[3];
    long in, out;
    OpKind init = init_for_next(items, i);
    if (!sema_args(s, it, row->args, row->usage, v) || !dense_sizes(b, it, v, &in, &out))
        return false;
    if (v[2].node && (v[2].node->kind != AST_NAME || !sema_initialiser(v[2].node->u.name, &init))) {
        sema_unknown_init(s, v[2].node);
        return false;
    }
    if (!known(b)) set_input(b, vector_shape((int)in));
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
    b->sample = l->shape = vector_shape((int)out);
    return true;
}

static bool layer_dropout(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    AstNode *it = items->items[i];
    ArgValue p;
    if (!sema_args(b->s, it, row->args, row->usage, &p)) return false;
    Layer *l = push_layer(b, LAYER_DROPOUT, it->span);
    l->p = (float)p.num;
    l->in = l->out = width(b);
    l->shape = b->sample;
    return true;
}

static void layer_items(ModelBuild *b, const AstList *items);

static bool layer_residual(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    (void)row;
    if (!known(b)) {
        sema_error(s, it->span, "a residual block needs a layer with a known width before it");
        return false;
    }
    Shape in = b->sample;
    Layer *l = push_layer(b, LAYER_RES_BEGIN, it->span);
    l->in = l->out = width(b);
    l->shape = in;
    layer_items(b, &it->u.block.items);
    if (!b->ok) return false;
    if (!shape_eq(&b->sample, &in) && in.rank == 1 && b->sample.rank == 1) {
        sema_error(s, it->span, "a residual block adds its input to its output, so it must keep "
                   "the width: it takes %d and gives %d", in.dim[0], b->sample.dim[0]);
        return false;
    }
    if (!shape_eq(&b->sample, &in)) {
        char a[64], c[64];
        sema_error(s, it->span, "a residual block adds its input to its output, so it must keep "
                   "the shape: it takes %s and gives %s", shape_str(&in, a, sizeof a),
                   shape_str(&b->sample, c, sizeof c));
        return false;
    }
    l = push_layer(b, LAYER_RES_END, it->span);
    l->in = l->out = width(b);
    l->shape = in;
    return true;
}

/* ---- layers of images ------------------------------------------------------------------------ */

/* Reports named arguments other than `allowed` (a NULL-ended list); false if there were any. */
static bool only_named(Sema *s, const AstNode *it, const char *const *allowed, const char *takes)
{
    bool ok = true;
    for (size_t i = 0; i < it->u.call.args.count; i++) {
        const AstNode *a = it->u.call.args.items[i];
        if (!a->u.bind.name) continue;
        bool known_name = false;
        for (const char *const *w = allowed; *w; w++) known_name |= strcmp(*w, a->u.bind.name) == 0;
        if (!known_name) {
            sema_error(s, a->u.bind.name_span, "'%s' has no argument '%s' (it takes %s)",
                       it->u.call.name, a->u.bind.name, takes);
            ok = false;
        }
    }
    return ok;
}

/* A positional size at `pos` (at least lo), into *out. */
static bool size_arg(Sema *s, const AstNode *it, int pos, const char *name, const char *what,
                     long lo, long *out)
{
    AstNode *v = sema_arg(&it->u.call.args, pos, name);
    return sema_const_int(s, v, what, (double)lo, 1e6, out);
}

/* The current shape must be images [C, H, W]. */
static bool needs_images(ModelBuild *b, const AstNode *it, const char *name)
{
    if (b->sample.rank == 3) return true;
    char buf[64];
    if (!known(b))
        sema_error(b->s, it->span, "'%s' needs images: start the model with their shape, "
                   "input(C, H, W), such as input(1, 8, 8)", name);
    else
        sema_error(b->s, it->span, "'%s' needs images [C, H, W], but the layer before gives %s "
                   "%s", name, b->sample.rank == 2 ? "sequences" : "rows of features",
                   shape_str(&b->sample, buf, sizeof buf));
    return false;
}

/* input(C, H, W) (or input(features)): the shape of one example, first in the model. */
static bool layer_input(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    (void)row;
    int n = it->kind == AST_CALL ? sema_npos(&it->u.call.args) : 0;
    if (it->kind != AST_CALL || n < 1 || n > NN_MAX_RANK - 1 || !only_named(s, it, (const char *[]){ NULL }, "only sizes")) {
        sema_error(s, it->span, "'input' takes the shape of one example: input(1, 8, 8) for "
                   "images of 1 channel of 8 x 8 pixels");
        return false;
    }
    if (i != 0) {
        sema_error(s, it->span, "'input' gives the shape of the model's input, so it comes first");
        return false;
    }
    Shape sample = shape_scalar();
    double size = 1;
    for (int k = 0; k < n; k++) {
        long d;
        if (!size_arg(s, it, k, NULL, "a size", 1, &d)) return false;
        sample.dim[sample.rank++] = (int)d;
        size *= (double)d;
    }
    if (size > MAX_ELEMENTS) {
        sema_error(s, it->span, "one example of %.0f numbers is more than a tensor may hold "
                   "(%.0f)", size, (double)MAX_ELEMENTS);
        return false;
    }
    Layer *l = push_layer(b, LAYER_INPUT, it->span);
    set_input(b, sample);
    b->sample = l->shape = sample;
    l->in = l->out = width(b);
    return true;
}

static int window_out(int n, int k, int stride, int pad)
{
    int span = n + 2 * pad - k;
    return span < 0 ? 0 : span / stride + 1;
}

/* The image [C, H, W] (or sequence [C, L]) after windows of kh x k (sequences: k) with a stride
 * and padding (only along the width of a sequence); false (reported) if none fits. */
static bool windows_fit(ModelBuild *b, const AstNode *it, int channels, int kh, int k,
                        int stride, int pad, Shape *out)
{
    bool seq = b->sample.rank == 2;
    int h = seq ? 1 : window_out(b->sample.dim[1], kh, stride, pad);
    int w = window_out(b->sample.dim[seq ? 1 : 2], k, stride, pad);
    if (h < 1 || w < 1) {
        char buf[64];
        if (seq)
            sema_error(b->s, it->span, "a window of %d does not fit in the sequences %s%s", k,
                       shape_str(&b->sample, buf, sizeof buf), pad ? " with their padding" : "");
        else
            sema_error(b->s, it->span, "a %dx%d window does not fit in the images %s%s", kh, k,
                       shape_str(&b->sample, buf, sizeof buf), pad ? " with their padding" : "");
        return false;
    }
    if ((double)channels * h * w > MAX_ELEMENTS) {
        sema_error(b->s, it->span, "this layer's output, %d channels of %d x %d, is more than a "
                   "tensor may hold (%.0f numbers)", channels, h, w, (double)MAX_ELEMENTS);
        return false;
    }
    *out = b->sample;
    out->dim[0] = channels;
    if (seq) {
        out->dim[1] = w;
        return true;
    }
    out->dim[1] = h;
    out->dim[2] = w;
    return true;
}

/* The current shape must be sequences [C, L]. */
static bool needs_sequences(ModelBuild *b, const AstNode *it)
{
    if (b->sample.rank == 2) return true;
    char buf[64];
    if (!known(b))
        sema_error(b->s, it->span, "'conv1d' needs sequences: start the model with their shape, "
                   "input(C, L), such as input(1, 32)");
    else
        sema_error(b->s, it->span, "'conv1d' needs sequences [C, L], but the layer before gives "
                   "%s", shape_str(&b->sample, buf, sizeof buf));
    return false;
}

/* conv2d(in, out, kernel, stride = 1, padding = 0), or conv2d(out, kernel, ...) after a layer
 * that gives the channels: torch.nn.Conv2d, its weight [out, in, kernel, kernel] and bias
 * [out] drawn as PyTorch draws them (uniform, ±1/sqrt(in·kernel²)). */
static bool layer_conv(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    bool one = strcmp(row->name, "conv1d") == 0;    /* of sequences [C, L], else images */
    static const char *const named[] = { "stride", "padding", NULL };
    int n = it->kind == AST_CALL ? sema_npos(&it->u.call.args) : 0;
    if (it->kind != AST_CALL || n < 2 || n > 3) {
        sema_error(s, it->span, "'%s' takes the input channels, the output channels and the "
                   "kernel's size: %s(1, 16, 3, stride = 1, padding = 1), or %s(16, 3) after a "
                   "layer that gives the channels", row->name, row->name, row->name);
        return false;
    }
    if (!only_named(s, it, named, "'stride' and 'padding'")
        || !(one ? needs_sequences(b, it) : needs_images(b, it, row->name)))
        return false;
    long in = b->sample.dim[0], out, k, stride = 1, pad = 0;
    if (n == 3 && !size_arg(s, it, 0, NULL, "the input channels", 1, &in)) return false;
    if (!size_arg(s, it, n - 2, NULL, "the output channels", 1, &out)
        || !size_arg(s, it, n - 1, NULL, "the kernel's size", 1, &k))
        return false;
    AstNode *sv = sema_arg(&it->u.call.args, SEMA_NAMED_ONLY, "stride");
    AstNode *pv = sema_arg(&it->u.call.args, SEMA_NAMED_ONLY, "padding");
    if ((sv && !sema_const_int(s, sv, "the stride", 1, 4096, &stride))
        || (pv && !sema_const_int(s, pv, "the padding", 0, 4096, &pad)))
        return false;
    if (in != b->sample.dim[0]) {
        sema_error(s, sema_arg(&it->u.call.args, 0, NULL)->span, "this layer takes %ld channels, "
                   "but the %s have %d; write %s(%ld, %ld) to follow them", in,
                   one ? "sequences" : "images", b->sample.dim[0], row->name, out, k);
        return false;
    }
    Shape next;
    if (!windows_fit(b, it, (int)out, one ? 1 : (int)k, (int)k, (int)stride, (int)pad, &next))
        return false;
    Layer *l = push_layer(b, LAYER_CONV, it->span);
    l->in = (int)in;
    l->out = (int)out;
    l->kernel = (int)k;
    l->stride = (int)stride;
    l->pad = (int)pad;
    l->conv1d = one;
    l->index = b->next_index++;
    l->init = OP_INIT_UNIFORM;
    char name[32];
    snprintf(name, sizeof name, "layer%d", l->index);
    l->group = b->group = sema_dotted(s, b->m->name, name);
    Shape w = shape_scalar();       /* [out, in, k, k], or [out, in, k]: torch's layouts */
    w.rank = one ? 3 : 4;
    w.dim[0] = (int)out;
    w.dim[1] = (int)in;
    w.dim[2] = w.dim[3] = (int)k;
    snprintf(name, sizeof name, "layer%d.W", l->index);
    l->W = model_param(b, name, w, it->span);
    snprintf(name, sizeof name, "layer%d.b", l->index);
    l->b = model_param(b, name, vector_shape((int)out), it->span);
    b->sample = l->shape = next;
    return true;
}

/* maxpool2d(k, stride = k), avgpool2d(k, stride = k) */
static bool layer_pool(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    static const char *const named[] = { "stride", NULL };
    if (it->kind != AST_CALL || sema_npos(&it->u.call.args) != 1) {
        sema_error(s, it->span, "'%s' takes the window's size: %s(2), or %s(3, stride = 2)",
                   row->name, row->name, row->name);
        return false;
    }
    long k, stride;
    if (!only_named(s, it, named, "'stride'") || !needs_images(b, it, row->name)
        || !size_arg(s, it, 0, NULL, "the window's size", 1, &k))
        return false;
    stride = k;
    AstNode *sv = sema_arg(&it->u.call.args, SEMA_NAMED_ONLY, "stride");
    if (sv && !sema_const_int(s, sv, "the stride", 1, 4096, &stride)) return false;
    Shape next;
    if (!windows_fit(b, it, b->sample.dim[0], (int)k, (int)k, (int)stride, 0, &next)) return false;
    Layer *l = push_layer(b, LAYER_POOL, it->span);
    l->op = strcmp(row->name, "maxpool2d") == 0 ? OP_MAXPOOL2D : OP_AVGPOOL2D;
    l->kernel = (int)k;
    l->stride = (int)stride;
    l->in = l->out = b->sample.dim[0];
    b->sample = l->shape = next;
    return true;
}

/* flatten: an image [C, H, W] as a row of C·H·W features (channel by channel, row by row) */
static bool layer_flatten(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    AstNode *it = items->items[i];
    (void)row;
    if (it->kind != AST_NAME) {
        sema_error(b->s, it->span, "'flatten' is written without arguments");
        return false;
    }
    if (!known(b)) {
        sema_error(b->s, it->span, "'flatten' needs a layer that gives a shape before it: "
                   "input(C, H, W), then conv2d(...) or a pool");
        return false;
    }
    Layer *l = push_layer(b, LAYER_FLATTEN, it->span);
    b->sample = l->shape = vector_shape((int)shape_size(&b->sample));
    l->in = l->out = width(b);
    return true;
}

/* layernorm: each example standardised, then W * x̂ + b, W and b of one example's shape */
static bool layer_norm(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    AstNode *it = items->items[i];
    (void)row;
    if (it->kind != AST_NAME) {
        sema_error(b->s, it->span, "'layernorm' is written without arguments: it normalises "
                   "each example over its whole shape");
        return false;
    }
    if (!known(b)) {
        sema_error(b->s, it->span, "'layernorm' needs a layer that gives the shape before it");
        return false;
    }
    norm_layer(b, LAYER_NORM, it, b->sample);
    return true;
}

/* A normalisation layer of the shape so far: numbered, its own group, W and b of `per`. */
static Layer *norm_layer(ModelBuild *b, LayerKind kind, const AstNode *it, Shape per)
{
    Layer *l = push_layer(b, kind, it->span);
    l->index = b->next_index++;
    l->in = l->out = width(b);
    l->shape = b->sample;
    char name[40];
    snprintf(name, sizeof name, "layer%d", l->index);
    l->group = b->group = sema_dotted(b->s, b->m->name, name);
    snprintf(name, sizeof name, "layer%d.W", l->index);
    l->W = model_param(b, name, per, it->span);
    snprintf(name, sizeof name, "layer%d.b", l->index);
    l->b = model_param(b, name, per, it->span);
    return l;
}

/* A buffer of the model (state that is not a param): a let only the compiler binds. */
static Symbol *model_buffer(ModelBuild *b, const char *short_name, Shape shape, Span at)
{
    Sema *s = b->s;
    Model *m = b->m;
    Symbol *p = sema_add_symbol(s, sema_dotted(s, m->name, short_name), SYM_LET, at);
    p->shape = shape;
    m->buffers = nn_realloc(m->buffers, (size_t)(m->n_buffers + 1) * sizeof *m->buffers);
    m->buffer_names = nn_realloc(m->buffer_names,
                                 (size_t)(m->n_buffers + 1) * sizeof *m->buffer_names);
    m->buffers[m->n_buffers] = p;
    m->buffer_names[m->n_buffers] = sema_intern(s, short_name);
    m->n_buffers++;
    return p;
}

/* batchnorm: each channel (axis 1 of a batch) standardised over the batch, then W·x̂ + b, W and
 * b of [C]; the running mean and variance are buffers */
static bool layer_batchnorm(ModelBuild *b, const AstList *items, size_t i, const LayerRow *row)
{
    AstNode *it = items->items[i];
    ArgValue channels = { NULL, 0, NULL };
    if (it->kind == AST_CALL && !sema_args(b->s, it, row->args, row->usage, &channels))
        return false;
    if (!known(b)) {
        sema_error(b->s, it->span, "'batchnorm' needs a layer that gives the shape before it");
        return false;
    }
    int C = b->sample.dim[0];
    if (b->sample.rank > 3) {
        sema_error(b->s, it->span, "'batchnorm' normalises features [C], sequences [C, L] or "
                   "images [C, H, W], not examples of %d axes", b->sample.rank);
        return false;
    }
    if (channels.node && (int)channels.num != C) {
        sema_error(b->s, channels.node->span, "'batchnorm(%d)': the layer before gives %d "
                   "%s", (int)channels.num, C, b->sample.rank == 1 ? "features" : "channels");
        return false;
    }
    Shape per = vector_shape(C);
    Layer *l = norm_layer(b, LAYER_BATCHNORM, it, per);
    char name[40];
    snprintf(name, sizeof name, "layer%d.running_mean", l->index);
    l->mean = model_buffer(b, name, per, it->span);
    snprintf(name, sizeof name, "layer%d.running_var", l->index);
    l->var = model_buffer(b, name, per, it->span);
    return true;
}

/* relu, softmax, leaky_relu or leaky_relu(a): an op of the op table as a layer. */
static bool layer_activation(ModelBuild *b, AstNode *it, OpKind act)
{
    Sema *s = b->s;
    Layer *l = push_layer(b, LAYER_ACT, it->span);
    l->op = act;
    l->alpha = (float)slope_specs[0].def;
    l->in = l->out = width(b);
    l->shape = b->sample;
    if (it->kind == AST_CALL) {
        bool slope = act == OP_LEAKY_RELU && it->u.call.args.count > 0;
        char usage[160];
        snprintf(usage, sizeof usage, "as a layer, '%s' is written without arguments%s",
                 it->u.call.name, act == OP_LEAKY_RELU ? " or with its slope: leaky_relu(0.2)"
                                                       : "");
        if (!slope && it->u.call.args.count > 0) {
            sema_error(s, it->span, "%s", usage);
            return false;
        }
        ArgValue a;
        if (slope && !sema_args(s, it, &slope_args, usage, &a)) return false;
        if (slope) l->alpha = (float)a.num;
    }
    if (!known(b)) {
        sema_error(s, it->span, "a model starts with a dense layer, which gives the input width: "
                   "dense(in, out) (or, for images, with input(C, H, W))");
        return false;
    }
    return true;
}

/* "unknown layer 'linear'; did you mean 'dense'? (nn's dense is torch.nn.Linear)", or with no
 * close word, the list of layers: the rows, then the activations of the op table. */
static void report_unknown_layer(Sema *s, const AstNode *it, const char *name)
{
    for (size_t k = 0; k < NN_ARRAY_LEN(layer_aliases); k++)
        if (strcmp(layer_aliases[k].name, name) == 0) {
            sema_error(s, it->span, "unknown layer '%s'; did you mean '%s'? (nn's %s is %s)",
                       name, layer_aliases[k].word, layer_aliases[k].word,
                       layer_aliases[k].theirs);
            return;
        }
    Suggest sg;
    suggest_init(&sg, name);
    StrBuf rows, elementwise;
    sb_init(&rows);
    sb_init(&elementwise);
    for (size_t k = 0; k < NN_ARRAY_LEN(layers); k++) {
        suggest_offer(&sg, layers[k].name);
        sb_printf(&rows, "%s%s", k ? ", " : "", layers[k].name);
    }
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!is_activation(op)) continue;
        suggest_offer(&sg, op->name);
        bool each = op->flags & OPF_ELEMENTWISE;
        sb_printf(each ? &elementwise : &rows, "%s%s", each && !elementwise.len ? "" : ", ",
                  op->name);
    }
    if (suggest_best(&sg))
        sema_error(s, it->span, "unknown layer '%s'; did you mean '%s'?", name, suggest_best(&sg));
    else
        sema_error(s, it->span, "unknown layer '%s' (layers are %s and the elementwise "
                   "functions: %s)", name, rows.data, elementwise.data);
    sb_free(&rows);
    sb_free(&elementwise);
}

/* Whether a layer must be written with arguments (dense, dropout; not batchnorm). */
static bool needs_args(const ArgForm *form)
{
    for (int i = 0; form && i < form->count; i++)
        if (form->args[i].required) return true;
    return false;
}

static void layer_item(ModelBuild *b, const AstList *items, size_t i)
{
    Sema *s = b->s;
    AstNode *it = items->items[i];
    const LayerRow *row = layer_row(it);
    OpKind act;
    bool ok = false;
    if (row && it->kind == AST_NAME && needs_args(row->args))
        sema_error(s, it->span, "%s", row->usage);  /* dense without its sizes */
    else if (row)
        ok = row->check(b, items, i, row);
    else if (activation_of(it, &act))
        ok = layer_activation(b, it, act);
    else if (it->kind == AST_PARAM || it->kind == AST_FORWARD)
        sema_error(s, it->span, "a model is either layers or params with forward(x) = ..., "
                   "not both");
    else if (item_name(it))
        report_unknown_layer(s, it, item_name(it));
    else
        sema_error(s, it->span, "expected a layer, such as dense(4, 8) or relu");
    if (!ok) b->ok = false;
}

static void layer_items(ModelBuild *b, const AstList *items)
{
    for (size_t i = 0; i < items->count && b->ok; i++) layer_item(b, items, i);
}

/* ---- formula models ------------------------------------------------------------------------- */

/* param NAME = EXPR inside a model: a param named NAME.P outside it, P inside its formula. */
static bool formula_param(ModelBuild *b, AstNode *it)
{
    Sema *s = b->s;
    Model *m = b->m;
    for (int k = 0; k < m->n_params; k++)
        if (m->param_names[k] == it->u.bind.name) {
            sema_error(s, it->u.bind.name_span, "model '%s' already has a param '%s'", m->name,
                       it->u.bind.name);
            return false;
        }
    AstNode *v = it->u.bind.value;
    if (!sema_expr(s, v)) return false;
    Symbol *p = model_param(b, it->u.bind.name, v->sema.shape, it->u.bind.name_span);
    it->sema.sym = p;
    sema_push_local(s, it->u.bind.name, p);
    return true;
}

/* Params and one forward(x) = ... line; the formula is kept unchecked (it is checked for each
 * input it is applied to). */
static void formula_items(ModelBuild *b, AstNode *st)
{
    Sema *s = b->s;
    Model *m = b->m;
    const AstList *items = &st->u.block.items;
    AstNode *fwd = NULL;
    int n_locals = s->n_locals;
    m->formula = true;
    for (size_t i = 0; i < items->count && b->ok; i++) {
        AstNode *it = items->items[i];
        if (it->kind == AST_PARAM) {
            b->ok = formula_param(b, it);
        } else if (it->kind == AST_FORWARD) {
            if (fwd) {
                sema_error(s, it->span, "a model has one forward formula");
                b->ok = false;
            }
            fwd = it;
        } else {
            sema_error(s, it->span, "a model with params takes 'param NAME = ...' and "
                       "'forward(x) = ...' lines, not layers");
            b->ok = false;
        }
    }
    s->n_locals = n_locals;
    if (b->ok && !fwd) {
        sema_error(s, st->span, "model '%s' has params but no 'forward(x) = ...' formula",
                   m->name);
        b->ok = false;
    }
    if (b->ok) {
        m->arg = fwd->u.fwd.arg;
        m->body = ast_clone(&m->arena, fwd->u.fwd.body);
    }
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
    char in_shape[64];
    if (m->in_shape.rank == 1)
        sb_printf(&sb, "model %s: %d input%s -> %d output%s, %ld param%s\n", m->name, m->in,
                  m->in == 1 ? "" : "s", m->out, m->out == 1 ? "" : "s", total,
                  total == 1 ? "" : "s");
    else
        sb_printf(&sb, "model %s: inputs %s -> %d output%s, %ld param%s\n", m->name,
                  shape_str(&m->in_shape, in_shape, sizeof in_shape), m->out,
                  m->out == 1 ? "" : "s", total, total == 1 ? "" : "s");
    int col = 10;       /* the output column: wider for images, "[N, 16, 8, 8]" */
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].shape.rank > 1) col = 16;
    sb_printf(&sb, "  %-26s %-*s %8s\n", "layer", col, "output", "params");
    int indent = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        char label[64], shape[48];
        long params = 0;
        switch (l->kind) {
        case LAYER_DENSE:
            snprintf(label, sizeof label, "dense layer%d (%s)", l->index,
                     sema_init_name(l->init));
            params = (long)l->in * l->out + l->out;
            break;
        case LAYER_ACT:
            if (l->op == OP_LEAKY_RELU) snprintf(label, sizeof label, "leaky_relu(%g)", l->alpha);
            else snprintf(label, sizeof label, "%s", op_info(l->op)->name);
            break;
        case LAYER_DROPOUT: snprintf(label, sizeof label, "dropout(%g)", l->p); break;
        case LAYER_RES_BEGIN: snprintf(label, sizeof label, "residual {"); break;
        case LAYER_RES_END: snprintf(label, sizeof label, "} + input"); indent--; break;
        case LAYER_INPUT: snprintf(label, sizeof label, "input"); break;
        case LAYER_CONV:
            if (l->conv1d)
                snprintf(label, sizeof label, "conv1d layer%d k%d", l->index, l->kernel);
            else
                snprintf(label, sizeof label, "conv2d layer%d %dx%d", l->index, l->kernel,
                         l->kernel);
            if (l->stride > 1 || l->pad)    /* "conv2d layer1 3x3 s2 p1" */
                snprintf(label + strlen(label), sizeof label - strlen(label), " s%d p%d",
                         l->stride, l->pad);
            params = (long)l->out * l->in * l->kernel * (l->conv1d ? 1 : l->kernel) + l->out;
            break;
        case LAYER_POOL:
            snprintf(label, sizeof label, "%s(%d)", op_info(l->op)->name, l->kernel);
            if (l->stride != l->kernel)
                snprintf(label, sizeof label, "%s(%d, stride %d)", op_info(l->op)->name,
                         l->kernel, l->stride);
            break;
        case LAYER_FLATTEN: snprintf(label, sizeof label, "flatten"); break;
        case LAYER_NORM:
            snprintf(label, sizeof label, "layernorm layer%d", l->index);
            params = 2 * (long)shape_size(&l->shape);
            break;
        case LAYER_BATCHNORM:   /* the running statistics are not params */
            snprintf(label, sizeof label, "batchnorm layer%d", l->index);
            params = 2 * (long)l->shape.dim[0];
            break;
        }
        snprintf(shape, sizeof shape, "[N, %d]", l->out);
        if (l->shape.rank > 1) {
            int k = snprintf(shape, sizeof shape, "[N");
            for (int d = 0; d < l->shape.rank; d++)
                k += snprintf(shape + k, sizeof shape - (size_t)k, ", %d", l->shape.dim[d]);
            snprintf(shape + k, sizeof shape - (size_t)k, "]");
        }
        sb_printf(&sb, "  %*s%-*s %-*s %8ld\n", 2 * indent, "", 26 - 2 * indent, label, col,
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
    ModelBuild b = { s, m, shape_scalar(), 1, NULL, 0, true };
    bool formula = false;
    for (size_t i = 0; i < items->count; i++)
        if (items->items[i]->kind == AST_PARAM || items->items[i]->kind == AST_FORWARD)
            formula = true;
    size_t first_sym = s->syms->count;
    if (formula) {
        formula_items(&b, st);
    } else {
        if (items->count == 0) {
            sema_error(s, st->span, "model '%s' has no layers", m->name);
            b.ok = false;
        }
        layer_items(&b, items);
        m->out_shape = b.sample;
        m->out = (int)shape_size(&b.sample);
    }
    Symbol *sym = sema_add_symbol(s, st->u.block.name, SYM_MODEL, st->u.block.name_span);
    sym->model = m;
    if (!b.ok) {    /* the model and its params are known, but uses are not reported again */
        for (size_t i = first_sym; i < s->syms->count; i++) s->syms->items[i]->poisoned = true;
        return;
    }
    const Source *src = source_get(s->diag->sources, st->span.source);
    m->source = nn_strndup(src->text + st->span.start, st->span.end - st->span.start);
    build_summary(m);
    st->sema.sym = sym;
}
