/* lower_expr.c — expressions to graph nodes. A name becomes the node it names (so a `let` is a
 * formula, not a copy); a model applied to an input, a user function called with arguments
 * and the built-ins that are not one op (l2, params, stack, concat of several) are written out
 * as the ops they stand for, where they are used. Constructors become leaves filled by an INIT
 * instruction where they are written, so random draws happen once, in program order. */
#include "lower_int.h"

#include <string.h>

OpAttrs lower_no_attrs(void)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.axis = NN_AXIS_ALL;
    return at;
}

uint32_t lower_node(Lower *l, OpKind op, const uint32_t *in, int n, const OpAttrs *at, Span span)
{
    return graph_add(l->g, op, in, n, at, span);
}

uint32_t lower_leaf(Lower *l, OpKind op, Shape shape, Span span)
{
    OpAttrs at = lower_no_attrs();
    at.shape = shape;
    return lower_node(l, op, NULL, 0, &at, span);
}

uint32_t lower_number(Lower *l, float v, Span span)
{
    uint32_t id = lower_leaf(l, OP_CONST, shape_scalar(), span);
    if (graph_node(l->g, id)->value)    /* none past the memory limit (g->over) */
        graph_node(l->g, id)->value[0] = v;
    return id;
}

void lower_name(Lower *l, uint32_t id, const char *name)
{
    GraphNode *n = graph_node(l->g, id);
    if (!n->name) n->name = name;
}

Plan lower_plan(Lower *l, const uint32_t *roots, size_t n)
{
    return graph_plan(l->g, roots, n, &l->p->arena);
}

const uint32_t *lower_plan_params(Lower *l, const Plan *plan, int *n)
{
    *n = 0;
    for (uint32_t k = 0; k < plan->count; k++) *n += graph_node(l->g, plan->ids[k])->op == OP_PARAM;
    uint32_t *ids = arena_alloc(&l->p->arena, (size_t)(*n ? *n : 1) * sizeof *ids);
    int j = 0;
    for (uint32_t k = 0; k < plan->count; k++)
        if (graph_node(l->g, plan->ids[k])->op == OP_PARAM) ids[j++] = plan->ids[k];
    return ids;
}

const uint32_t *lower_grad_params(Lower *l, const Plan *plan, uint32_t root,
                                  const uint32_t *first, int n_first, int *n)
{
    uint8_t *reached = nn_calloc(l->g->count, 1);     /* by node id: a gradient flows here */
    uint32_t *ids = arena_alloc(&l->p->arena, (size_t)(n_first + (int)plan->count + 1)
                                              * sizeof *ids);
    if (n_first) memcpy(ids, first, (size_t)n_first * sizeof *ids);
    *n = n_first;
    reached[root] = 1;
    for (uint32_t k = plan->count; k-- > 0;) {      /* users before their inputs */
        uint32_t id = plan->ids[k];
        const GraphNode *node = graph_node(l->g, id);
        if (!reached[id] || !node->requires_grad) continue;
        for (int i = 0; i < node->n_in; i++) reached[node->in[i]] = 1;
        bool listed = node->op != OP_PARAM;
        for (int i = 0; i < *n && !listed; i++) listed = ids[i] == id;
        if (!listed) ids[(*n)++] = id;
    }
    nn_free(reached);
    return ids;
}

TraceFocus lower_focus(Lower *l, const TraceFocus *f)
{
    TraceFocus c = { NULL, f->count };
    if (!f->count) return c;
    TracePlace *ps = arena_alloc(&l->p->arena, (size_t)f->count * sizeof *ps);
    memcpy(ps, f->places, (size_t)f->count * sizeof *ps);
    c.places = ps;
    return c;
}

static void flatten_literal(const AstNode *e, float *out, size_t *k)
{
    if (e->kind != AST_TENSOR) {
        out[(*k)++] = (float)e->sema.const_value;
        return;
    }
    for (size_t i = 0; i < e->u.list.count; i++) flatten_literal(e->u.list.items[i], out, k);
}

/* ---- models and functions -------------------------------------------------------------------- */

/* A conv layer: conv2d(h, W, b); of sequences [N, C, L] (conv1d) with W [out, in, k], which the
 * op takes as images one pixel high (stride and padding along the sequence only). */
static uint32_t lower_conv(Lower *l, const Layer *ly, uint32_t h)
{
    OpAttrs at = lower_no_attrs();
    at.stride[0] = ly->conv1d ? 1 : ly->stride;
    at.stride[1] = ly->stride;
    at.pad[0] = ly->conv1d ? 0 : ly->pad;
    at.pad[1] = ly->pad;
    uint32_t in[3] = { h, ly->W->node, ly->b->node };
    uint32_t y = lower_node(l, OP_CONV2D, in, 3, &at, ly->span);
    graph_node(l->g, y)->group = ly->group;
    return y;
}

uint32_t lower_apply(Lower *l, const ModelApp *app, uint32_t x, bool training)
{
    const Model *m = app->model->model;
    if (m->formula) {
        app->arg->node = x;
        app->arg->has_node = true;
        return lower_expr(l, app->body);
    }
    uint32_t *saved = arena_alloc(&l->p->arena, (size_t)m->n_layers * sizeof *saved);
    int depth = 0;
    uint32_t h = x;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *ly = &m->layers[i];
        OpAttrs at = lower_no_attrs();
        switch (ly->kind) {
        case LAYER_DENSE: {
            uint32_t mm[2] = { h, ly->W->node };
            uint32_t prod = lower_node(l, OP_MATMUL, mm, 2, &at, ly->span);
            uint32_t sum[2] = { prod, ly->b->node };
            h = lower_node(l, OP_ADD, sum, 2, &at, ly->span);
            graph_node(l->g, prod)->group = ly->group;
            graph_node(l->g, h)->group = ly->group;
            break;
        }
        case LAYER_ACT:
            at.alpha = ly->alpha;
            if (op_info(ly->op)->sig == SIG_AXIS) at.axis = -1;
            h = lower_node(l, ly->op, &h, 1, &at, ly->span);
            graph_node(l->g, h)->group = ly->group;
            break;
        case LAYER_DROPOUT:
            if (training && ly->p > 0) {
                at.p = ly->p;
                h = lower_node(l, OP_DROPOUT, &h, 1, &at, ly->span);
                graph_node(l->g, h)->group = ly->group;
            }
            break;
        case LAYER_INPUT: break;
        case LAYER_NORM: {
            uint32_t in[3] = { h, ly->W->node, ly->b->node };
            h = lower_node(l, OP_LAYERNORM, in, 3, &at, ly->span);
            graph_node(l->g, h)->group = ly->group;
            break;
        }
        case LAYER_BATCHNORM: {  /* batch statistics while training, the running ones after */
            uint32_t in[5] = { h, ly->W->node, ly->b->node, ly->mean->node, ly->var->node };
            h = lower_node(l, training ? OP_BATCHNORM : OP_BATCHNORM_EVAL, in, 5, &at, ly->span);
            graph_node(l->g, h)->group = ly->group;
            break;
        }
        case LAYER_CONV:
            h = lower_conv(l, ly, h);
            break;
        case LAYER_POOL:
            at.kernel[0] = at.kernel[1] = ly->kernel;
            at.stride[0] = at.stride[1] = ly->stride;
            h = lower_node(l, ly->op, &h, 1, &at, ly->span);
            graph_node(l->g, h)->group = ly->group;
            break;
        case LAYER_FLATTEN: {   /* [N, C, H, W] -> [N, C·H·W] */
            at.shape = shape_scalar();
            at.shape.rank = 2;
            at.shape.dim[0] = graph_node(l->g, h)->shape.dim[0];
            at.shape.dim[1] = -1;
            h = lower_node(l, OP_RESHAPE, &h, 1, &at, ly->span);
            break;
        }
        case LAYER_RES_BEGIN: saved[depth++] = h; break;
        case LAYER_RES_END: {
            uint32_t sum[2] = { saved[--depth], h };
            h = lower_node(l, OP_ADD, sum, 2, &at, ly->span);
            break;
        }
        }
    }
    return h;
}

/* A user function's call: its parameters bound to the arguments' nodes, then its body. */
static uint32_t lower_fn(Lower *l, const FnApp *app)
{
    for (int i = 0; i < app->n; i++) {
        app->params[i]->node = lower_expr(l, app->args[i]);
        app->params[i]->has_node = true;
    }
    return lower_expr(l, app->body);
}

/* ---- built-ins that are several ops ---------------------------------------------------------- */

/* x^2 summed: the squares of every element of x. */
static uint32_t sum_squares(Lower *l, uint32_t x, Span span)
{
    OpAttrs at = lower_no_attrs();
    uint32_t in[2] = { x, lower_number(l, 2, span) };
    uint32_t sq = lower_node(l, OP_POW, in, 2, &at, span);
    return lower_node(l, OP_SUM, &sq, 1, &at, span);
}

static uint32_t add_to(Lower *l, uint32_t total, bool any, uint32_t term, Span span)
{
    OpAttrs at = lower_no_attrs();
    uint32_t in[2] = { total, term };
    return any ? lower_node(l, OP_ADD, in, 2, &at, span) : term;
}

/* l2(...): the sum of sum(p^2) over the params and tensors named */
static uint32_t lower_l2(Lower *l, const SemaBuiltin *b, Span span)
{
    uint32_t total = 0;
    bool any = false;
    for (int i = 0; i < b->n_params; i++, any = true)
        total = add_to(l, total, any, sum_squares(l, b->params[i]->node, span), span);
    for (int i = 0; i < b->n_items; i++, any = true)
        total = add_to(l, total, any, sum_squares(l, lower_expr(l, b->items[i]), span), span);
    return any ? total : lower_number(l, 0, span);
}

/* Joins nodes along an axis, two at a time. */
static uint32_t concat_all(Lower *l, const uint32_t *ids, int n, int axis, Span span)
{
    OpAttrs at = lower_no_attrs();
    at.axis = axis;
    uint32_t h = ids[0];
    for (int i = 1; i < n; i++) {
        uint32_t in[2] = { h, ids[i] };
        h = lower_node(l, OP_CONCAT, in, 2, &at, span);
    }
    return h;
}

/* params(net): each param flattened, joined into one vector */
static uint32_t lower_params(Lower *l, const SemaBuiltin *b, Span span)
{
    uint32_t *ids = arena_alloc(&l->p->arena, (size_t)b->n_params * sizeof *ids);
    for (int i = 0; i < b->n_params; i++) {
        OpAttrs at = lower_no_attrs();
        at.shape.rank = 1;
        at.shape.dim[0] = -1;
        ids[i] = lower_node(l, OP_RESHAPE, &b->params[i]->node, 1, &at, span);
    }
    return concat_all(l, ids, b->n_params, 0, span);
}

/* stack(a, b, ...): each given a new axis of size 1, then joined along it */
static uint32_t lower_stack(Lower *l, const SemaBuiltin *b, Span span)
{
    uint32_t *ids = arena_alloc(&l->p->arena, (size_t)b->n_items * sizeof *ids);
    for (int i = 0; i < b->n_items; i++) {
        OpAttrs at = lower_no_attrs();
        const Shape *sh = &b->item_shape;
        for (int d = 0, j = 0; d <= sh->rank; d++)
            at.shape.dim[at.shape.rank++] = d == b->axis ? 1 : sh->dim[j++];
        uint32_t x = lower_expr(l, b->items[i]);
        ids[i] = lower_node(l, OP_RESHAPE, &x, 1, &at, span);
    }
    return concat_all(l, ids, b->n_items, b->axis, span);
}

static uint32_t lower_builtin(Lower *l, const AstNode *e, const SemaBuiltin *b)
{
    switch (b->kind) {
    case BUILTIN_L2: return lower_l2(l, b, e->span);
    case BUILTIN_PARAMS: return lower_params(l, b, e->span);
    case BUILTIN_STACK: return lower_stack(l, b, e->span);
    case BUILTIN_CONCAT: {
        uint32_t *ids = arena_alloc(&l->p->arena, (size_t)b->n_items * sizeof *ids);
        for (int i = 0; i < b->n_items; i++) ids[i] = lower_expr(l, b->items[i]);
        return concat_all(l, ids, b->n_items, b->axis, e->span);
    }
    case BUILTIN_NONE: break;
    }
    NN_ASSERT(!"not a built-in of several ops");
    return 0;
}

/* ---- subscripts and sizes -------------------------------------------------------------------- */

/* X[...]: an INDEX op for each index, a SLICE op for each range that is not the whole axis (as
 * `:` is), in order. */
static uint32_t lower_index(Lower *l, const AstNode *e)
{
    const SemaExtra *ex = e->sema.extra;
    uint32_t h = lower_expr(l, e->u.index.obj);
    for (int k = 0; k < ex->n_steps; k++) {
        const IndexStep *st = &ex->steps[k];
        OpAttrs at = lower_no_attrs();
        at.axis = st->axis;
        if (st->range && st->start == 0
            && st->stop == graph_node(l->g, h)->shape.dim[st->axis])
            continue;
        if (st->range) {
            at.start = st->start;
            at.stop = st->stop;
            h = lower_node(l, OP_SLICE, &h, 1, &at, e->span);
        } else {
            uint32_t in[2] = { h, lower_expr(l, st->index) };
            h = lower_node(l, OP_INDEX, in, 2, &at, e->span);
        }
    }
    return h;
}

/* x.shape: the sizes as a constant vector */
static uint32_t lower_shape_of(Lower *l, const AstNode *e)
{
    const Shape *sh = &e->sema.attrs.shape;
    uint32_t id = lower_leaf(l, OP_CONST, e->sema.shape, e->span);
    GraphNode *n = graph_node(l->g, id);
    for (int i = 0; n->value && i < sh->rank; i++) n->value[i] = (float)sh->dim[i];
    return id;
}

/* ---- expressions ----------------------------------------------------------------------------- */

/* A call: of a model, a function, a built-in of several ops, or one op. */
static uint32_t lower_call(Lower *l, const AstNode *e)
{
    const SemaExtra *ex = e->sema.extra;
    OpAttrs at = e->sema.attrs;
    if (ex && ex->app.model)
        return lower_apply(l, &ex->app, lower_expr(l, e->sema.operand), false);
    if (ex && ex->fnapp.body) return lower_fn(l, &ex->fnapp);
    if (ex && ex->builtin.kind != BUILTIN_NONE) return lower_builtin(l, e, &ex->builtin);
    const OpInfo *op = op_info(e->sema.op);
    if (op->flags & OPF_LEAF) {
        uint32_t id = lower_node(l, op->kind, NULL, 0, &at, e->span);
        program_add(l->p, INS_INIT, e->span)->node = id;
        return id;
    }
    if (op->arity == 3) {
        uint32_t in[3];
        for (int i = 0; i < 3; i++) in[i] = lower_expr(l, ex->builtin.items[i]);
        return lower_node(l, op->kind, in, 3, &at, e->span);
    }
    if (e->sema.operand2) {
        uint32_t in[2] = { lower_expr(l, e->sema.operand), lower_expr(l, e->sema.operand2) };
        return lower_node(l, op->kind, in, 2, &at, e->span);
    }
    uint32_t x = lower_expr(l, e->sema.operand);
    return lower_node(l, op->kind, &x, 1, &at, e->span);
}

static uint32_t lower_field(Lower *l, const AstNode *e)
{
    const char *f = e->u.field.field;
    if (strcmp(f, "shape") == 0 && e->sema.op == OP_CONST) return lower_shape_of(l, e);
    if (e->sema.sym && e->sema.op != OP_GRAD) return e->sema.sym->node;   /* data.X, net.layer1.W */
    OpAttrs at = e->sema.attrs;
    if (e->sema.op == OP_GRAD) return lower_node(l, OP_GRAD, &e->sema.sym->node, 1, &at, e->span);
    uint32_t x = lower_expr(l, e->sema.operand);       /* x.T */
    return lower_node(l, e->sema.op, &x, 1, &at, e->span);
}

uint32_t lower_expr(Lower *l, const AstNode *e)
{
    OpAttrs at = e->sema.attrs;
    /* a constant number written as something else (x.rows, x.shape[1], f(2)) is a number */
    if (e->sema.is_const && e->sema.shape.rank == 0
        && (e->kind == AST_FIELD || e->kind == AST_INDEX || e->kind == AST_CALL))
        return lower_number(l, (float)e->sema.const_value, e->span);
    switch (e->kind) {
    case AST_NUM: return lower_number(l, (float)e->u.num, e->span);
    case AST_TENSOR: {
        uint32_t id = lower_node(l, OP_CONST, NULL, 0, &at, e->span);
        size_t k = 0;
        if (graph_node(l->g, id)->value) flatten_literal(e, graph_node(l->g, id)->value, &k);
        return id;
    }
    case AST_NAME: return e->sema.sym->node;
    case AST_UNARY: {
        if (e->u.op.op == '-' && e->u.op.a->kind == AST_NUM)   /* -2 is a number */
            return lower_number(l, -(float)e->u.op.a->u.num, e->span);
        uint32_t a = lower_expr(l, e->u.op.a);
        return lower_node(l, e->sema.op, &a, 1, &at, e->span);
    }
    case AST_BINARY: {
        uint32_t in[2] = { lower_expr(l, e->u.op.a), lower_expr(l, e->u.op.b) };
        return lower_node(l, e->sema.op, in, 2, &at, e->span);
    }
    case AST_CALL: return lower_call(l, e);
    case AST_FIELD: return lower_field(l, e);
    case AST_INDEX: return lower_index(l, e);
    default: break;
    }
    NN_ASSERT(!"not an expression");
    return 0;
}
