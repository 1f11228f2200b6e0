/* lower.c — AST to graph. Each expression becomes nodes (a name becomes the node it names,
 * so a `let` is a formula, not a copy); each statement becomes an instruction with its plan.
 * Constructors become leaves filled by an INIT instruction where they are written, so random
 * draws happen once, in program order, after any `seed` before them. */
#include "lower.h"

#include <string.h>

typedef struct Lower {
    Graph *g;
    Program *p;
} Lower;

static uint32_t lower_expr(Lower *l, const AstNode *e);

void program_init(Program *p)
{
    p->items = NULL;
    p->count = p->cap = 0;
    arena_init(&p->arena);
}

void program_free(Program *p)
{
    nn_free(p->items);
    arena_free(&p->arena);
    p->items = NULL;
    p->count = p->cap = 0;
}

Instr *program_add(Program *p, InstrKind kind, Span span)
{
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->items = nn_realloc(p->items, p->cap * sizeof *p->items);
    }
    Instr *in = &p->items[p->count++];
    memset(in, 0, sizeof *in);
    in->kind = kind;
    in->span = span;
    return in;
}

static uint32_t add_node(Lower *l, OpKind op, const uint32_t *in, int n, const OpAttrs *at,
                         Span span)
{
    return graph_add(l->g, op, in, n, at, span);
}

static void flatten_literal(const AstNode *e, float *out, size_t *k)
{
    if (e->kind != AST_TENSOR) {
        out[(*k)++] = (float)e->sema.const_value;
        return;
    }
    for (size_t i = 0; i < e->u.list.count; i++) flatten_literal(e->u.list.items[i], out, k);
}

static OpAttrs attrs_none(void)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.axis = NN_AXIS_ALL;
    return at;
}

static uint32_t leaf(Lower *l, OpKind op, Shape shape, Span span)
{
    OpAttrs at = attrs_none();
    at.shape = shape;
    return add_node(l, op, NULL, 0, &at, span);
}

/* The places of a trace, copied out of the unit's arena (which goes when lowering ends). */
static TraceFocus copy_focus(Lower *l, const TraceFocus *f)
{
    TraceFocus c = { NULL, f->count };
    if (!f->count) return c;
    TracePlace *ps = arena_alloc(&l->p->arena, (size_t)f->count * sizeof *ps);
    memcpy(ps, f->places, (size_t)f->count * sizeof *ps);
    c.places = ps;
    return c;
}

/* A model applied to node x: its layers' ops one after another (dropout only while
 * training), or its formula with the argument bound to x. */
static uint32_t lower_apply(Lower *l, const ModelApp *app, uint32_t x, bool training)
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
        OpAttrs at = attrs_none();
        switch (ly->kind) {
        case LAYER_DENSE: {
            uint32_t mm[2] = { h, ly->W->node };
            uint32_t prod = add_node(l, OP_MATMUL, mm, 2, &at, ly->span);
            uint32_t sum[2] = { prod, ly->b->node };
            h = add_node(l, OP_ADD, sum, 2, &at, ly->span);
            graph_node(l->g, prod)->group = ly->group;
            graph_node(l->g, h)->group = ly->group;
            break;
        }
        case LAYER_ACT:
            at.alpha = ly->alpha;
            if (op_info(ly->op)->sig == SIG_AXIS) at.axis = -1;
            h = add_node(l, ly->op, &h, 1, &at, ly->span);
            graph_node(l->g, h)->group = ly->group;
            break;
        case LAYER_DROPOUT:
            if (training && ly->p > 0) {
                at.p = ly->p;
                h = add_node(l, OP_DROPOUT, &h, 1, &at, ly->span);
                graph_node(l->g, h)->group = ly->group;
            }
            break;
        case LAYER_RES_BEGIN: saved[depth++] = h; break;
        case LAYER_RES_END: {
            uint32_t sum[2] = { saved[--depth], h };
            h = add_node(l, OP_ADD, sum, 2, &at, ly->span);
            break;
        }
        }
    }
    return h;
}

static uint32_t lower_expr(Lower *l, const AstNode *e)
{
    OpAttrs at = e->sema.attrs;
    switch (e->kind) {
    case AST_NUM: {
        at.shape = shape_scalar();
        uint32_t id = add_node(l, OP_CONST, NULL, 0, &at, e->span);
        if (graph_node(l->g, id)->value)    /* none past the memory limit (g->over) */
            graph_node(l->g, id)->value[0] = (float)e->u.num;
        return id;
    }
    case AST_TENSOR: {
        uint32_t id = add_node(l, OP_CONST, NULL, 0, &at, e->span);
        size_t k = 0;
        if (graph_node(l->g, id)->value) flatten_literal(e, graph_node(l->g, id)->value, &k);
        return id;
    }
    case AST_NAME: return e->sema.sym->node;
    case AST_UNARY: {
        if (e->u.op.a->kind == AST_NUM) {   /* -2 is a number, not an operation */
            at.shape = shape_scalar();
            uint32_t id = add_node(l, OP_CONST, NULL, 0, &at, e->span);
            if (graph_node(l->g, id)->value)
                graph_node(l->g, id)->value[0] = -(float)e->u.op.a->u.num;
            return id;
        }
        uint32_t a = lower_expr(l, e->u.op.a);
        return add_node(l, OP_NEG, &a, 1, &at, e->span);
    }
    case AST_BINARY: {
        uint32_t in[2] = { lower_expr(l, e->u.op.a), lower_expr(l, e->u.op.b) };
        return add_node(l, e->sema.op, in, 2, &at, e->span);
    }
    case AST_CALL:
    case AST_FIELD: {
        if (e->kind == AST_FIELD && e->sema.sym && e->sema.op != OP_GRAD)
            return e->sema.sym->node;       /* data.X, net.layer1.W */
        if (e->kind == AST_CALL && e->sema.extra && e->sema.extra->app.model)
            return lower_apply(l, &e->sema.extra->app, lower_expr(l, e->sema.operand), false);
        const OpInfo *op = op_info(e->sema.op);
        if (e->sema.op == OP_GRAD) {
            return add_node(l, OP_GRAD, &e->sema.sym->node, 1, &at, e->span);
        }
        if (op->flags & OPF_LEAF) {
            uint32_t id = add_node(l, op->kind, NULL, 0, &at, e->span);
            Instr *ins = program_add(l->p, INS_INIT, e->span);
            ins->node = id;
            return id;
        }
        if (e->sema.operand2) {
            uint32_t in[2] = { lower_expr(l, e->sema.operand), lower_expr(l, e->sema.operand2) };
            return add_node(l, op->kind, in, 2, &at, e->span);
        }
        uint32_t x = lower_expr(l, e->sema.operand);
        return add_node(l, op->kind, &x, 1, &at, e->span);
    }
    default: break;
    }
    NN_ASSERT(!"not an expression");
    return 0;
}

static void name_node(Lower *l, uint32_t id, const char *name)
{
    GraphNode *n = graph_node(l->g, id);
    if (!n->name) n->name = name;
}

static Plan plan_of(Lower *l, const uint32_t *roots, size_t n)
{
    return graph_plan(l->g, roots, n, &l->p->arena);
}

static void set_param(Lower *l, const AstNode *st, uint32_t param)
{
    uint32_t v = lower_expr(l, st->u.bind.value);
    Instr *ins = program_add(l->p, INS_SET_PARAM, st->span);
    ins->node = param;
    ins->value = v;
    ins->plan = plan_of(l, &v, 1);
    ins->reset_grad = st->kind == AST_PARAM;
}

static void bind_symbol(Lower *l, Symbol *sym, uint32_t id)
{
    sym->node = id;
    sym->has_node = true;
    name_node(l, id, sym->name);
}

/* Data sets: leaves of their static shapes, filled here (csv) or by an instruction. */
static void lower_data(Lower *l, const AstNode *st)
{
    const SemaData *sd = &st->sema.extra->data;
    for (int i = 0; i < sd->n_dst; i++) {
        DataSym *d = sd->dst[i]->data;
        bind_symbol(l, d->X, leaf(l, OP_CONST, d->X->shape, st->span));
        bind_symbol(l, d->Y, leaf(l, OP_CONST, d->Y->shape, st->span));
    }
    if (sd->fn == DATA_CSV) {
        DataSym *d = sd->dst[0]->data;
        if (l->g->over) return;
        memcpy(graph_node(l->g, d->X->node)->value, sd->x,
               (size_t)d->rows * (size_t)d->features * sizeof(float));
        memcpy(graph_node(l->g, d->Y->node)->value, sd->y,
               (size_t)d->rows * (size_t)d->targets * sizeof(float));
        return;
    }
    Instr *ins = program_add(l->p, INS_DATA, st->span);
    DataInstr *di = arena_alloc(&l->p->arena, sizeof *di);
    di->fn = sd->fn;
    di->n = sd->n;
    di->k = sd->k;
    di->noise = sd->noise;
    di->fraction = sd->fraction;
    if (sd->n_rows) {
        int *rows = arena_alloc(&l->p->arena, (size_t)sd->n_rows * sizeof *rows);
        memcpy(rows, sd->rows, (size_t)sd->n_rows * sizeof *rows);
        di->rows = rows;
        di->n_rows = sd->n_rows;
    }
    for (int i = 0; i < sd->n_src; i++) {
        di->src_x[i] = sd->src[i]->data->X->node;
        di->src_y[i] = sd->src[i]->data->Y->node;
    }
    for (int i = 0; i < sd->n_dst; i++) {
        di->dst_x[i] = sd->dst[i]->data->X->node;
        di->dst_y[i] = sd->dst[i]->data->Y->node;
    }
    di->n_src = sd->n_src;
    di->n_dst = sd->n_dst;
    ins->data = di;
}

static void set_param(Lower *l, const AstNode *st, uint32_t param);

/* A param made by the compiler (a layer's W or b), filled by an initialiser leaf. */
static void init_param(Lower *l, Symbol *p, OpKind init, const char *group, Span span)
{
    bind_symbol(l, p, leaf(l, OP_PARAM, p->shape, span));
    graph_node(l->g, p->node)->group = group;
    uint32_t v = leaf(l, init, p->shape, span);
    program_add(l->p, INS_INIT, span)->node = v;
    Instr *ins = program_add(l->p, INS_SET_PARAM, span);
    ins->node = p->node;
    ins->value = v;
    ins->plan = plan_of(l, &v, 1);
    ins->reset_grad = true;
}

static void lower_model(Lower *l, const AstNode *st)
{
    const Model *m = st->sema.sym->model;
    if (m->formula) {
        for (size_t i = 0; i < st->u.block.items.count; i++) {
            const AstNode *it = st->u.block.items.items[i];
            if (it->kind != AST_PARAM) continue;
            Symbol *p = it->sema.sym;
            bind_symbol(l, p, leaf(l, OP_PARAM, p->shape, it->u.bind.name_span));
            set_param(l, it, p->node);
        }
        return;
    }
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *ly = &m->layers[i];
        if (ly->kind != LAYER_DENSE) continue;
        init_param(l, ly->W, ly->init, ly->group, ly->span);
        init_param(l, ly->b, OP_ZEROS, ly->group, ly->span);
    }
}

static ModelParams model_params(Lower *l, const Symbol *msym)
{
    const Model *m = msym->model;
    ModelParams mp;
    uint32_t *nodes = arena_alloc(&l->p->arena, (size_t)m->n_params * sizeof *nodes);
    const char **names = arena_alloc(&l->p->arena, (size_t)m->n_params * sizeof *names);
    for (int i = 0; i < m->n_params; i++) {
        nodes[i] = m->params[i]->node;
        names[i] = m->param_names[i];
    }
    mp.model = m->name;
    mp.source = m->source;
    mp.nodes = nodes;
    mp.names = names;
    mp.count = m->n_params;
    return mp;
}

/* A leaf with `rows` rows shaped like node `like`, for the loop to fill. */
static uint32_t rows_leaf(Lower *l, uint32_t like, int rows, Span span)
{
    Shape sh = graph_node(l->g, like)->shape;
    sh.dim[0] = rows;
    return leaf(l, OP_CONST, sh, span);
}

static void lower_pass(Lower *l, TrainPass *tp, const SemaTrain *t, const ModelApp *app,
                       uint32_t x, uint32_t y, bool training, bool metric, Span span)
{
    OpAttrs at = attrs_none();
    tp->x = x;
    tp->y = y;
    tp->rows = graph_node(l->g, x)->shape.dim[0];
    uint32_t out = lower_apply(l, app, x, training);
    uint32_t in[2] = { out, y };
    tp->loss = add_node(l, t->loss, in, 2, &at, span);
    /* names for `trace step N`: the batch, the model's output and the loss */
    name_node(l, x, "X");
    name_node(l, y, "Y");
    name_node(l, out, "out");
    name_node(l, tp->loss, "loss");
    uint32_t roots[2] = { tp->loss, 0 };
    if (metric) {
        if (t->loss == OP_BCE_LOGITS) in[0] = add_node(l, OP_SIGMOID, &out, 1, &at, span);
        tp->metric = add_node(l, OP_ACCURACY, in, 2, &at, span);
        tp->has_metric = true;
        roots[1] = tp->metric;
    }
    tp->plan = plan_of(l, roots, metric ? 2 : 1);
}

static void lower_train(Lower *l, const AstNode *st)
{
    const SemaTrain *t = &st->sema.extra->train;
    Instr *ins = program_add(l->p, INS_TRAIN, st->span);
    TrainInstr *ti = arena_alloc(&l->p->arena, sizeof *ti);
    ins->train = ti;
    ti->optim = t->optim;
    ti->sched = t->sched;
    ti->epochs = t->epochs;
    ti->accumulate = t->accumulate;
    ti->log_every = t->log_every;
    ti->patience = t->patience;
    ti->trace_step = t->trace_step;
    ti->focus = copy_focus(l, &t->focus);
    ti->trace_every = t->trace_every;
    ti->break_step = t->break_step;
    ti->break_nonfinite = t->break_nonfinite;
    ti->break_grad_norm = t->break_grad_norm;
    ti->clip = t->clip;
    ti->resume = t->resume ? arena_strndup(&l->p->arena, t->resume, strlen(t->resume)) : NULL;
    if (!t->over_data) {
        uint32_t root = lower_expr(l, st->u.train.target);
        ti->formula.loss = root;
        ti->formula.plan = plan_of(l, &root, 1);
        int n = 0;
        for (uint32_t k = 0; k < ti->formula.plan.count; k++)
            n += graph_node(l->g, ti->formula.plan.ids[k])->op == OP_PARAM;
        uint32_t *params = arena_alloc(&l->p->arena, (size_t)(n ? n : 1) * sizeof *params);
        n = 0;
        for (uint32_t k = 0; k < ti->formula.plan.count; k++)
            if (graph_node(l->g, ti->formula.plan.ids[k])->op == OP_PARAM)
                params[n++] = ti->formula.plan.ids[k];
        ti->params = params;
        ti->n_params = n;
        ti->loss_name = "loss";
        return;
    }
    ti->over_data = true;
    ti->metric = t->metric;
    ti->loss_name = op_info(t->loss)->name;
    ti->X = lower_expr(l, st->u.train.x);
    ti->Y = lower_expr(l, st->u.train.y);
    ti->rows = t->rows;
    ti->train_rows = t->train_rows;
    ti->val_rows = t->val_rows;
    ti->has_val = t->has_val;
    ti->val_split = t->has_val && !t->val_given;
    ti->batch_size = t->batch;
    ti->model = model_params(l, t->model);
    ti->params = ti->model.nodes;
    ti->n_params = ti->model.count;
    Span span = st->span;
    lower_pass(l, &ti->batch, t, &t->batch_app, rows_leaf(l, ti->X, t->batch, span),
               rows_leaf(l, ti->Y, t->batch, span), true, false, span);
    if (t->rest) {
        ti->has_rest = true;
        lower_pass(l, &ti->rest, t, &t->rest_app, rows_leaf(l, ti->X, t->rest, span),
                   rows_leaf(l, ti->Y, t->rest, span), true, false, span);
    }
    uint32_t ex = ti->X, ey = ti->Y;
    if (ti->val_split) {
        ex = rows_leaf(l, ti->X, t->train_rows, span);
        ey = rows_leaf(l, ti->Y, t->train_rows, span);
    }
    lower_pass(l, &ti->train_eval, t, &t->train_app, ex, ey, false, t->metric, span);
    if (t->has_val) {
        uint32_t vx, vy;
        if (t->val_given) {
            vx = lower_expr(l, t->vx);
            vy = lower_expr(l, t->vy);
        } else {
            vx = rows_leaf(l, ti->X, t->val_rows, span);
            vy = rows_leaf(l, ti->Y, t->val_rows, span);
        }
        lower_pass(l, &ti->val_eval, t, &t->val_app, vx, vy, false, t->metric, span);
    }
    uint32_t data[4] = { ti->X, ti->Y, ti->val_eval.x, ti->val_eval.y };
    ti->data = plan_of(l, data, t->has_val ? 4 : 2);
}

static void lower_stmt(Lower *l, const AstNode *st)
{
    switch (st->kind) {
    case AST_LET_MANY: lower_data(l, st); return;
    case AST_MODEL: lower_model(l, st); return;
    case AST_TRAIN: lower_train(l, st); return;
    case AST_SAVE:
    case AST_LOAD: {
        Instr *ins = program_add(l->p, st->kind == AST_SAVE ? INS_SAVE : INS_LOAD, st->span);
        ins->ckpt = arena_alloc(&l->p->arena, sizeof *ins->ckpt);
        *ins->ckpt = model_params(l, st->sema.sym);
        const char *path = st->sema.extra->path;
        ins->path = arena_strndup(&l->p->arena, path, strlen(path));
        return;
    }
    case AST_LET: {
        if (st->sema.extra) {
            lower_data(l, st);
            return;
        }
        uint32_t id = lower_expr(l, st->u.bind.value);
        name_node(l, id, st->u.bind.name);
        st->sema.sym->node = id;
        st->sema.sym->has_node = true;
        return;
    }
    case AST_PARAM: {
        Symbol *sym = st->sema.sym;
        if (!sym->has_node) {       /* declaring an existing param again reuses its node */
            OpAttrs at;
            memset(&at, 0, sizeof at);
            at.axis = NN_AXIS_ALL;
            at.shape = sym->shape;
            sym->node = add_node(l, OP_PARAM, NULL, 0, &at, st->u.bind.name_span);
            sym->has_node = true;
            name_node(l, sym->node, st->u.bind.name);
        }
        set_param(l, st, sym->node);
        return;
    }
    case AST_ASSIGN: set_param(l, st, st->sema.sym->node); return;
    case AST_PRINT:
    case AST_EXPR: {    /* a bare expression prints its value */
        AstNode *const *exprs = st->kind == AST_EXPR ? &st->u.expr : st->u.list.items;
        size_t n = st->kind == AST_EXPR ? 1 : st->u.list.count;
        PrintItem *items = arena_alloc(&l->p->arena, n * sizeof *items);
        uint32_t *roots = arena_alloc(&l->p->arena, n * sizeof *roots);
        size_t nroots = 0;
        for (size_t i = 0; i < n; i++) {
            const AstNode *e = exprs[i];
            if (e->kind == AST_STRING) {
                items[i].len = e->u.str.len;
                items[i].text = arena_strndup(&l->p->arena, e->u.str.text, e->u.str.len);
            } else if (e->sema.extra && e->sema.extra->labels) {
                const DataSym *d = e->sema.extra->labels;
                const char **names = arena_alloc(&l->p->arena, (size_t)d->n_classes * sizeof *names);
                for (int c = 0; c < d->n_classes; c++)
                    names[c] = arena_strndup(&l->p->arena, d->class_names[c],
                                             strlen(d->class_names[c]));
                items[i].labels = names;
                items[i].n_labels = d->n_classes;
                items[i].node = roots[nroots++] = lower_expr(l, e->sema.operand);
            } else if (e->sema.extra && e->sema.extra->text) {
                const char *text = e->sema.extra->text;
                items[i].len = strlen(text);
                items[i].text = arena_strndup(&l->p->arena, text, items[i].len);
            } else {
                items[i].node = roots[nroots++] = lower_expr(l, e);
            }
        }
        Instr *ins = program_add(l->p, INS_PRINT, st->span);
        ins->items = items;
        ins->n_items = (uint32_t)n;
        ins->plan = plan_of(l, roots, nroots);
        return;
    }
    case AST_BACKWARD:
    case AST_TRACE:
    case AST_GRADCHECK: {
        uint32_t root = lower_expr(l, st->kind == AST_TRACE ? st->u.trace.expr : st->u.expr);
        Instr *ins = program_add(l->p, st->kind == AST_TRACE ? INS_TRACE
                                       : st->kind == AST_GRADCHECK ? INS_GRADCHECK : INS_BACKWARD,
                                 st->span);
        ins->node = root;
        ins->plan = plan_of(l, &root, 1);
        if (st->kind == AST_TRACE) ins->focus = copy_focus(l, &st->sema.extra->focus);
        return;
    }
    case AST_STEP: {
        Instr *ins = program_add(l->p, INS_STEP, st->span);
        ins->optim = st->sema.extra->train.optim;
        return;
    }
    case AST_ZERO_GRAD: program_add(l->p, INS_ZERO_GRAD, st->span); return;
    case AST_SEED: {
        Instr *ins = program_add(l->p, INS_SEED, st->span);
        ins->seed = (uint64_t)st->u.expr->sema.const_value;
        return;
    }
    default: break;
    }
    NN_ASSERT(!"not a statement");
}

void lower_unit(const AstList *stmts, Graph *g, Program *p)
{
    Lower l = { g, p };
    for (size_t i = 0; i < stmts->count; i++) lower_stmt(&l, stmts->items[i]);
}
