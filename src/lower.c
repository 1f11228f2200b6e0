/* lower.c — a checked unit to instructions over the session's graph: each statement becomes
 * an instruction with the plans it needs (lower_expr.c makes the nodes); loops and ifs become
 * jumps around bodies lowered once (docs/design.md); train blocks go to lower_train.c. Cannot
 * fail: the checker has decided everything. */
#include "lower_int.h"

#include <math.h>
#include <string.h>

/* A loop being lowered: the jumps of its `break`s and `continue`s, to point at its end and its
 * LOOP_NEXT once they are known. */
struct LoopCtx {
    LoopCtx *outer;
    size_t *jumps;          /* instruction indices (nn_alloc'd) */
    bool *is_break;
    int n, cap;
};

static void lower_body(Lower *l, const AstList *body);

static void set_param(Lower *l, const AstNode *st, uint32_t param)
{
    uint32_t v = lower_expr(l, st->u.bind.value);
    Instr *ins = program_add(l->p, INS_SET_PARAM, st->span);
    ins->node = param;
    ins->value = v;
    ins->plan = lower_plan(l, &v, 1);
    ins->reset_grad = st->kind == AST_PARAM;
}

static void bind_symbol(Lower *l, Symbol *sym, uint32_t id)
{
    sym->node = id;
    sym->has_node = true;
    lower_name(l, id, sym->label);
}

/* Data sets: leaves of their static shapes, filled here (csv, images) or by an instruction. */
static void lower_data(Lower *l, const AstNode *st)
{
    const SemaData *sd = &st->sema.extra->data;
    for (int i = 0; i < sd->n_dst; i++) {
        DataSym *d = sd->dst[i]->data;
        bind_symbol(l, d->X, lower_leaf(l, OP_CONST, d->X->shape, st->span));
        bind_symbol(l, d->Y, lower_leaf(l, OP_CONST, d->Y->shape, st->span));
    }
    if (sd->fn == DATA_CSV || sd->fn == DATA_IMAGES) {
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

/* A model's param (or buffer), made in program order and drawn by `init`; `bound`, when above 0, is the
 * spread of a uniform init (a conv layer's bias, whose fan-in is its weight's). */
static void init_param(Lower *l, Symbol *p, OpKind init, double bound, const char *group,
                       Span span)
{
    OpKind leaf = p->kind == SYM_PARAM ? OP_PARAM : OP_BUFFER;    /* a model's buffer: a let */
    bind_symbol(l, p, lower_leaf(l, leaf, p->shape, span));
    graph_node(l->g, p->node)->group = group;
    OpAttrs at = lower_no_attrs();
    at.shape = p->shape;
    at.fill = (float)bound;
    uint32_t v = lower_node(l, init, NULL, 0, &at, span);
    program_add(l->p, INS_INIT, span)->node = v;
    Instr *ins = program_add(l->p, INS_SET_PARAM, span);
    ins->node = p->node;
    ins->value = v;
    ins->plan = lower_plan(l, &v, 1);
    ins->reset_grad = leaf == OP_PARAM;
}

static void lower_model(Lower *l, const AstNode *st)
{
    const Model *m = st->sema.sym->model;
    if (m->formula) {
        for (size_t i = 0; i < st->u.block.items.count; i++) {
            const AstNode *it = st->u.block.items.items[i];
            if (it->kind != AST_PARAM) continue;
            Symbol *p = it->sema.sym;
            bind_symbol(l, p, lower_leaf(l, OP_PARAM, p->shape, it->u.bind.name_span));
            set_param(l, it, p->node);
        }
        return;
    }
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *ly = &m->layers[i];
        if (ly->kind == LAYER_DENSE) {
            init_param(l, ly->W, ly->init, 0, ly->group, ly->span);
            init_param(l, ly->b, OP_ZEROS, 0, ly->group, ly->span);
        } else if (ly->kind == LAYER_NORM) {     /* as torch.nn.LayerNorm: ones and zeros */
            init_param(l, ly->W, OP_ONES, 0, ly->group, ly->span);
            init_param(l, ly->b, OP_ZEROS, 0, ly->group, ly->span);
        } else if (ly->kind == LAYER_BATCHNORM) {    /* as torch.nn.BatchNorm2d */
            init_param(l, ly->W, OP_ONES, 0, ly->group, ly->span);
            init_param(l, ly->b, OP_ZEROS, 0, ly->group, ly->span);
            init_param(l, ly->mean, OP_ZEROS, 0, ly->group, ly->span);
            init_param(l, ly->var, OP_ONES, 0, ly->group, ly->span);
        } else if (ly->kind == LAYER_CONV) {     /* as torch.nn.Conv2d: both ±1/sqrt(fan-in) */
            double fan_in = (double)ly->in * ly->kernel * (ly->conv1d ? 1 : ly->kernel);
            init_param(l, ly->W, OP_INIT_UNIFORM, 0, ly->group, ly->span);
            init_param(l, ly->b, OP_INIT_UNIFORM, 1.0 / sqrt(fan_in), ly->group, ly->span);
        }
    }
}

/* ---- simple statements -------------------------------------------------------------------- */

static void lower_file(Lower *l, const AstNode *st)
{
    const SemaExtra *ex = st->sema.extra;
    InstrKind kind = st->kind == AST_LOAD ? INS_LOAD : ex->onnx ? INS_SAVE_ONNX : INS_SAVE;
    Instr *ins = program_add(l->p, kind, st->span);
    ins->ckpt = arena_alloc(&l->p->arena, sizeof *ins->ckpt);
    *ins->ckpt = lower_model_params(l, st->sema.sym);
    ins->path = arena_strndup(&l->p->arena, ex->path, strlen(ex->path));
    if (kind == INS_SAVE_ONNX) {
        /* the model applied, evaluating (no dropout), to one row: the graph the file holds */
        const Model *m = st->sema.sym->model;     /* one example: [1, *its shape] */
        Shape row = { 1 + m->in_shape.rank, { 1 } };
        for (int d = 0; d < m->in_shape.rank; d++) row.dim[1 + d] = m->in_shape.dim[d];
        ins->value = lower_leaf(l, OP_CONST, row, st->span);
        ins->node = lower_apply(l, &ex->app, ins->value, false);
        ins->plan = lower_plan(l, &ins->node, 1);
    }
}

static void lower_let(Lower *l, const AstNode *st)
{
    if (st->sema.extra && st->sema.extra->set_value) {  /* a carried name's new version */
        Symbol *sym = st->sema.sym;
        bind_symbol(l, sym, lower_leaf(l, OP_CONST, sym->shape, st->u.bind.name_span));
        set_param(l, st, sym->node);
        return;
    }
    if (st->sema.extra) {
        lower_data(l, st);
        return;
    }
    uint32_t id = lower_expr(l, st->u.bind.value);
    lower_name(l, id, st->sema.sym->label);
    st->sema.sym->node = id;
    st->sema.sym->has_node = true;
}

static void lower_param(Lower *l, const AstNode *st)
{
    Symbol *sym = st->sema.sym;
    if (!sym->has_node) {       /* declaring an existing param again reuses its node */
        sym->node = lower_leaf(l, OP_PARAM, sym->shape, st->u.bind.name_span);
        sym->has_node = true;
        lower_name(l, sym->node, sym->label);
    }
    set_param(l, st, sym->node);
}

/* print ITEMS, and a bare expression (which prints its value) */
static void lower_print(Lower *l, const AstNode *st)
{
    AstNode *const *exprs = st->kind == AST_EXPR ? &st->u.expr : st->u.list.items;
    size_t n = st->kind == AST_EXPR ? 1 : st->u.list.count;
    PrintItem *items = arena_alloc(&l->p->arena, n * sizeof *items);
    uint32_t *roots = arena_alloc(&l->p->arena, n * sizeof *roots);
    size_t nroots = 0;
    for (size_t i = 0; i < n; i++) {
        const AstNode *e = exprs[i];
        const SemaExtra *ex = e->sema.extra;
        items[i].model = UINT32_MAX;
        if (e->kind == AST_STRING) {
            items[i].len = e->u.str.len;
            items[i].text = arena_strndup(&l->p->arena, e->u.str.text, e->u.str.len);
        } else if (ex && ex->labels) {
            const DataSym *d = ex->labels;
            const char **names = arena_alloc(&l->p->arena, (size_t)d->n_classes * sizeof *names);
            for (int c = 0; c < d->n_classes; c++)
                names[c] = arena_strndup(&l->p->arena, d->class_names[c],
                                         strlen(d->class_names[c]));
            items[i].labels = names;
            items[i].n_labels = d->n_classes;
            items[i].node = roots[nroots++] = lower_expr(l, e->sema.operand);
        } else if (ex && ex->text) {
            items[i].len = strlen(ex->text);
            items[i].text = arena_strndup(&l->p->arena, ex->text, items[i].len);
            if (ex->model && ex->model->model->n_params > 0)
                items[i].model = ex->model->model->params[0]->node;
        } else {
            items[i].node = roots[nroots++] = lower_expr(l, e);
        }
    }
    Instr *ins = program_add(l->p, INS_PRINT, st->span);
    ins->items = items;
    ins->n_items = (uint32_t)n;
    ins->plan = lower_plan(l, roots, nroots);
}

/* backward, trace, gradcheck: a root, its plan, and the params the plan reaches */
static void lower_pass_stmt(Lower *l, const AstNode *st)
{
    const AstNode *e = st->kind == AST_TRACE ? st->u.trace.expr : st->u.expr;
    uint32_t root = lower_expr(l, e);
    Instr *ins = program_add(l->p, st->kind == AST_TRACE ? INS_TRACE
                                   : st->kind == AST_GRADCHECK ? INS_GRADCHECK : INS_BACKWARD,
                             st->span);
    ins->expr = e->span;
    ins->node = root;
    ins->plan = lower_plan(l, &root, 1);
    ins->params = lower_plan_params(l, &ins->plan, &ins->n_params);
    if (st->kind == AST_TRACE) ins->focus = lower_focus(l, &st->sema.extra->focus);
}

/* The params step and zero_grad work on: those named, or every param of the graph so far. */
static void set_targets(Lower *l, Instr *ins, const SemaExtra *ex)
{
    int n = 0;
    if (ex && ex->n_targets) {
        uint32_t *ids = arena_alloc(&l->p->arena, (size_t)ex->n_targets * sizeof *ids);
        for (int i = 0; i < ex->n_targets; i++) {
            bool seen = false;      /* net and net.layer1 together name layer1's params once */
            for (int j = 0; j < n; j++) seen |= ids[j] == ex->targets[i]->node;
            if (!seen) ids[n++] = ex->targets[i]->node;
        }
        ins->params = ids;
        ins->n_params = n;
        return;
    }
    for (uint32_t i = 0; i < l->g->count; i++) n += graph_node(l->g, i)->op == OP_PARAM;
    uint32_t *ids = arena_alloc(&l->p->arena, (size_t)(n ? n : 1) * sizeof *ids);
    n = 0;
    for (uint32_t i = 0; i < l->g->count; i++)
        if (graph_node(l->g, i)->op == OP_PARAM) ids[n++] = i;
    ins->params = ids;
    ins->n_params = n;
}

static void lower_step(Lower *l, const AstNode *st)
{
    const SemaExtra *ex = st->sema.extra;
    uint32_t lr = ex->lr ? lower_expr(l, ex->lr) : 0;
    Instr *ins = program_add(l->p, INS_STEP, st->span);
    ins->optim = ex->train.set.optim;
    if (ex->lr) {
        ins->has_node = true;
        ins->node = lr;
        ins->plan = lower_plan(l, &lr, 1);
    }
    set_targets(l, ins, ex);
}

/* ---- control flow ----------------------------------------------------------------------------
 * A loop is LOOP_INIT, LOOP_TEST (or a BRANCH on the while's condition), its body, LOOP_NEXT;
 * an if is a BRANCH over its then-part, a JUMP over its else-part. Bodies are lowered once. */

/* The leaves of names carried through a block, each starting from the old name's value. */
static void lower_carries(Lower *l, const SemaBlock *b, Span span)
{
    for (int i = 0; i < b->n_carries; i++) {
        Symbol *sym = b->carries[i].sym, *from = b->carries[i].from;
        sym->node = lower_leaf(l, OP_CONST, sym->shape, span);
        sym->has_node = true;
        lower_name(l, sym->node, sym->label);
        Instr *ins = program_add(l->p, INS_SET_PARAM, span);
        ins->node = sym->node;
        ins->value = from->node;
        ins->plan = lower_plan(l, &from->node, 1);
    }
}

/* Where a block's part ends (or a break or continue leaves it): its carried leaves take their
 * last versions. */
static void lower_ends(Lower *l, const Carry *ends, int n, Span span)
{
    for (int i = 0; i < n; i++) {
        Instr *ins = program_add(l->p, INS_SET_PARAM, span);
        ins->node = ends[i].sym->node;
        ins->value = ends[i].from->node;
        ins->plan = lower_plan(l, &ins->value, 1);
    }
}

static size_t pc(const Lower *l)
{
    return l->p->count;
}

static void jump_to(Lower *l, InstrKind kind, size_t target, Span span)
{
    program_add(l->p, kind, span)->target = target;
}

/* break and continue: a JUMP, pointed once the loop's end and LOOP_NEXT are known */
static void lower_leave(Lower *l, const AstNode *st)
{
    LoopCtx *c = l->loop;
    const SemaBlock *here = &st->sema.extra->block;
    lower_ends(l, here->ends[0], here->n_ends[0], st->span);
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4;
        c->jumps = nn_realloc(c->jumps, (size_t)c->cap * sizeof *c->jumps);
        c->is_break = nn_realloc(c->is_break, (size_t)c->cap * sizeof *c->is_break);
    }
    c->jumps[c->n] = pc(l);
    c->is_break[c->n++] = st->kind == AST_BREAK;
    jump_to(l, INS_JUMP, 0, st->span);
}

/* The loop of `st`: init, the test at `top` (LOOP_TEST, or the while's BRANCH), the body,
 * LOOP_NEXT; then its exits are pointed at the end. */
static void lower_loop(Lower *l, const AstNode *st)
{
    const SemaBlock *b = &st->sema.extra->block;
    lower_carries(l, b, st->span);
    int slot = program_add_loop(l->p);
    LoopInfo *info = &l->p->loops[slot];
    info->begin = pc(l);
    info->from = st->kind == AST_FOR ? b->from : 0;
    info->var = st->kind == AST_FOR ? st->u.loop.var : NULL;
    info->span = st->span;
    Instr *init = program_add(l->p, INS_LOOP_INIT, st->span);
    init->slot = slot;
    init->count = info->from;
    size_t top = pc(l), test;
    if (st->kind == AST_WHILE) {
        uint32_t c = lower_expr(l, st->u.loop.a);
        test = pc(l);
        Instr *br = program_add(l->p, INS_BRANCH, st->u.loop.a->span);
        br->node = c;
        br->plan = lower_plan(l, &c, 1);
    } else {
        test = pc(l);
        Instr *t = program_add(l->p, INS_LOOP_TEST, st->span);
        t->slot = slot;
        t->count = b->to;
        if (b->var) {
            b->var->node = lower_leaf(l, OP_CONST, shape_scalar(), st->u.loop.var_span);
            b->var->has_node = true;
            lower_name(l, b->var->node, b->var->label);
            t->has_node = true;
            t->node = b->var->node;
        }
    }
    LoopCtx ctx = { l->loop, NULL, NULL, 0, 0 };
    l->loop = &ctx;
    lower_body(l, &st->u.loop.body);
    lower_ends(l, b->ends[0], b->n_ends[0], st->span);
    l->loop = ctx.outer;
    size_t next = pc(l);
    Instr *n = program_add(l->p, INS_LOOP_NEXT, st->span);
    n->slot = slot;
    n->target = top;
    l->p->loops[slot].unwind = pc(l);   /* only a Ctrl-C comes here */
    lower_ends(l, b->unwind, b->n_unwind, st->span);
    program_add(l->p, INS_INTERRUPT, st->span);
    size_t end = pc(l);
    l->p->items[test].target = end;
    for (int i = 0; i < ctx.n; i++) l->p->items[ctx.jumps[i]].target = ctx.is_break[i] ? end : next;
    nn_free(ctx.jumps);
    nn_free(ctx.is_break);
    l->p->loops[slot].end = end;
}

static void lower_if(Lower *l, const AstNode *st)
{
    const SemaBlock *b = &st->sema.extra->block;
    lower_carries(l, b, st->span);
    uint32_t c = lower_expr(l, st->u.iff.cond);
    size_t branch = pc(l);
    Instr *br = program_add(l->p, INS_BRANCH, st->u.iff.cond->span);
    br->node = c;
    br->plan = lower_plan(l, &c, 1);
    lower_body(l, &st->u.iff.then);
    lower_ends(l, b->ends[0], b->n_ends[0], st->span);
    if (!st->u.iff.els.count) {
        l->p->items[branch].target = pc(l);
        return;
    }
    size_t over = pc(l);
    jump_to(l, INS_JUMP, 0, st->span);
    l->p->items[branch].target = pc(l);
    lower_body(l, &st->u.iff.els);
    lower_ends(l, b->ends[1], b->n_ends[1], st->span);
    l->p->items[over].target = pc(l);
}

static void lower_stmt(Lower *l, const AstNode *st)
{
    switch (st->kind) {
    case AST_LET_MANY: lower_data(l, st); return;
    case AST_MODEL: lower_model(l, st); return;
    case AST_TRAIN: lower_train(l, st); return;
    case AST_SAVE:
    case AST_LOAD: lower_file(l, st); return;
    case AST_LET: lower_let(l, st); return;
    case AST_PARAM: lower_param(l, st); return;
    case AST_ASSIGN: set_param(l, st, st->sema.sym->node); return;
    case AST_PRINT:
    case AST_EXPR: lower_print(l, st); return;
    case AST_BACKWARD:
    case AST_TRACE:
    case AST_GRADCHECK: lower_pass_stmt(l, st); return;
    case AST_STEP: lower_step(l, st); return;
    case AST_ZERO_GRAD: set_targets(l, program_add(l->p, INS_ZERO_GRAD, st->span), st->sema.extra);
        return;
    case AST_SEED: program_add(l->p, INS_SEED, st->span)->seed =
                       (uint64_t)st->u.expr->sema.const_value;
        return;
    case AST_FOR:
    case AST_REPEAT:
    case AST_WHILE: lower_loop(l, st); return;
    case AST_IF: lower_if(l, st); return;
    case AST_BREAK:
    case AST_CONTINUE: lower_leave(l, st); return;
    case AST_FN: return;        /* a template: written out where it is called */
    default: break;
    }
    NN_ASSERT(!"not a statement");
}

static void lower_body(Lower *l, const AstList *body)
{
    for (size_t i = 0; i < body->count; i++) lower_stmt(l, body->items[i]);
}

void lower_unit(const AstList *stmts, Graph *g, Program *p)
{
    Lower l = { g, p, NULL };
    p->stmts = nn_alloc((stmts->count ? stmts->count : 1) * sizeof *p->stmts);
    p->cap_stmts = stmts->count;
    for (size_t i = 0; i < stmts->count; i++) {
        lower_stmt(&l, stmts->items[i]);
        p->stmts[p->n_stmts++] = (StmtEnd){ p->count, stmts->items[i]->sema.syms_after, g->count,
                                            0 };
    }
    p->counters = arena_alloc(&p->arena, (size_t)(p->n_loops ? p->n_loops : 1) * sizeof(long));
}
