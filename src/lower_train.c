/* lower_train.c — a train block to its compiled passes: the model applied to leaves of one
 * batch's shape (and of the last, smaller batch), of all the training rows and of the
 * validation rows, each with the loss (and metric) on it and its plan. The loop (train.c) only
 * copies rows into the leaves and replays the plans. */
#include "lower_int.h"

#include <string.h>

ModelParams lower_model_params(Lower *l, const Symbol *msym)
{
    const Model *m = msym->model;
    ModelParams mp;
    size_t all = (size_t)(m->n_params + m->n_buffers);
    uint32_t *nodes = arena_alloc(&l->p->arena, (all ? all : 1) * sizeof *nodes);
    const char **names = arena_alloc(&l->p->arena, (all ? all : 1) * sizeof *names);
    for (int i = 0; i < m->n_params; i++) {
        nodes[i] = m->params[i]->node;
        names[i] = m->param_names[i];
    }
    for (int i = 0; i < m->n_buffers; i++) {
        nodes[m->n_params + i] = m->buffers[i]->node;
        names[m->n_params + i] = m->buffer_names[i];
    }
    mp.model = m->name;
    mp.source = m->source;
    mp.nodes = nodes;
    mp.names = names;
    mp.count = m->n_params;
    mp.n_buffers = m->n_buffers;
    return mp;
}

/* A leaf with `rows` rows shaped like node `like`, for the loop to fill. */
static uint32_t rows_leaf(Lower *l, uint32_t like, int rows, Span span)
{
    Shape sh = graph_node(l->g, like)->shape;
    sh.dim[0] = rows;
    return lower_leaf(l, OP_CONST, sh, span);
}

/* The loss of a pass: the built-in on the model's output and the targets, or the formula
 * with X, Y and out bound to the pass's nodes. */
static uint32_t pass_loss(Lower *l, const SemaTrain *t, const PassFormula *pf, uint32_t out,
                          uint32_t y, Span span)
{
    if (!pf->loss) {
        OpAttrs at = lower_no_attrs();
        uint32_t in[2] = { out, y };
        return lower_node(l, t->loss, in, 2, &at, span);
    }
    return lower_expr(l, pf->loss);
}

/* The metric of a pass: accuracy (of probabilities, after a sigmoid for bce_logits), or the
 * formula. */
static uint32_t pass_metric(Lower *l, const SemaTrain *t, const PassFormula *pf, uint32_t out,
                            uint32_t y, Span span)
{
    if (pf->metric) return lower_expr(l, pf->metric);
    OpAttrs at = lower_no_attrs();
    uint32_t in[2] = { out, y };
    if (t->loss == OP_BCE_LOGITS) in[0] = lower_node(l, OP_SIGMOID, &out, 1, &at, span);
    return lower_node(l, OP_ACCURACY, in, 2, &at, span);
}

/* One compiled pass: leaves x, y of the pass's rows, the model applied, the loss (and metric)
 * and the plan computing them. `metric`: the metric too (evaluations, not training steps). */
static void lower_pass(Lower *l, TrainPass *tp, const SemaTrain *t, const ModelApp *app,
                       const PassFormula *pf, uint32_t x, uint32_t y, bool training, bool metric,
                       Span span)
{
    tp->x = x;
    tp->y = y;
    tp->rows = graph_node(l->g, x)->shape.dim[0];
    uint32_t out = lower_apply(l, app, x, training);
    tp->out = out;
    Symbol *const names[3] = { pf->x, pf->y, pf->out };
    uint32_t nodes[3] = { x, y, out };
    for (int i = 0; i < 3; i++)
        if (names[i]) {
            names[i]->node = nodes[i];
            names[i]->has_node = true;
        }
    tp->loss = pass_loss(l, t, pf, out, y, span);
    /* names for `trace step N`: the batch, the model's output and the loss */
    lower_name(l, x, "X");
    lower_name(l, y, "Y");
    lower_name(l, out, "out");
    lower_name(l, tp->loss, "loss");
    uint32_t roots[2] = { tp->loss, 0 };
    if (metric) {
        tp->metric = pass_metric(l, t, pf, out, y, span);
        tp->has_metric = true;
        roots[1] = tp->metric;
    }
    tp->plan = lower_plan(l, roots, metric ? 2 : 1);
}

/* schedule FORMULA: leaves for `epoch` and `update`, the factor, its plan */
static void lower_schedule(Lower *l, TrainInstr *ti, const SemaTrain *t, Span span)
{
    if (!t->sched_formula) return;
    Symbol *leaves[2] = { t->sched_epoch, t->sched_update };
    for (int i = 0; i < 2; i++) {
        leaves[i]->node = lower_leaf(l, OP_CONST, shape_scalar(), span);
        leaves[i]->has_node = true;
        lower_name(l, leaves[i]->node, leaves[i]->name);
    }
    ti->sched_formula = true;
    ti->sched_epoch = t->sched_epoch->node;
    ti->sched_update = t->sched_update->node;
    ti->sched_factor = lower_expr(l, t->sched_formula);
    ti->sched_plan = lower_plan(l, &ti->sched_factor, 1);
}

/* train LOSS: the loss, its plan, and the params it depends on */
static void lower_train_loss(Lower *l, TrainInstr *ti, const AstNode *st)
{
    uint32_t root = lower_expr(l, st->u.train.target);
    ti->formula.loss = root;
    ti->formula.plan = lower_plan(l, &root, 1);
    ti->params = lower_grad_params(l, &ti->formula.plan, root, NULL, 0, &ti->n_params);
    ti->loss_name = "loss";
    /* the last few scalar lets the loss is computed from (the one neuron's yhat and z), for
     * the page: computed anyway, so watching them costs nothing but the event's bytes */
    for (uint32_t k = ti->formula.plan.count; k-- > 0 && ti->n_watch < TRAIN_WATCH;) {
        const GraphNode *n = graph_node(l->g, ti->formula.plan.ids[k]);
        if (n->id != root && n->name && n->size == 1 && n->op != OP_PARAM && n->op != OP_CONST)
            ti->watch[ti->n_watch++] = n->id;
    }
}

/* The passes of a model trained on data. */
static void lower_train_data(Lower *l, TrainInstr *ti, const AstNode *st, const SemaTrain *t)
{
    ti->over_data = true;
    ti->loss_name = t->loss_formula ? "loss" : op_info(t->loss)->name;
    ti->loss_op = t->loss_formula ? OP_COUNT : t->loss;
    ti->metric_name = t->metric_name;
    ti->X = lower_expr(l, st->u.train.x);
    ti->Y = lower_expr(l, st->u.train.y);
    ti->rows = t->rows;
    ti->train_rows = t->train_rows;
    ti->val_rows = t->val_rows;
    ti->has_val = t->has_val;
    ti->val_split = t->has_val && !t->val_given;
    ti->model = lower_model_params(l, t->model);
    Span span = st->span;
    int b = t->set.batch;
    /* X's leaf before Y's, in statements of their own: as two arguments of one call their
     * order would be the compiler's (gcc and clang differ), and with it the trace's rows */
    uint32_t bx = rows_leaf(l, ti->X, b, span);
    uint32_t by = rows_leaf(l, ti->Y, b, span);
    lower_pass(l, &ti->batch, t, &t->batch_app, &t->batch_f, bx, by, true, false, span);
    /* the model's params, and any other that a loss formula uses */
    ti->params = lower_grad_params(l, &ti->batch.plan, ti->batch.loss, ti->model.nodes,
                                   ti->model.count, &ti->n_params);
    if (t->rest) {
        ti->has_rest = true;
        uint32_t rx = rows_leaf(l, ti->X, t->rest, span);
        uint32_t ry = rows_leaf(l, ti->Y, t->rest, span);
        lower_pass(l, &ti->rest, t, &t->rest_app, &t->rest_f, rx, ry, true, false, span);
    }
    uint32_t ex = ti->X, ey = ti->Y;
    if (ti->val_split) {
        ex = rows_leaf(l, ti->X, t->train_rows, span);
        ey = rows_leaf(l, ti->Y, t->train_rows, span);
    }
    lower_pass(l, &ti->train_eval, t, &t->train_app, &t->train_f, ex, ey, false, t->set.metric,
               span);
    if (t->has_val) {
        uint32_t vx = t->val_given ? lower_expr(l, t->vx) : rows_leaf(l, ti->X, t->val_rows, span);
        uint32_t vy = t->val_given ? lower_expr(l, t->vy) : rows_leaf(l, ti->Y, t->val_rows, span);
        lower_pass(l, &ti->val_eval, t, &t->val_app, &t->val_f, vx, vy, false, t->set.metric,
                   span);
    }
    uint32_t data[4] = { ti->X, ti->Y, ti->val_eval.x, ti->val_eval.y };
    ti->data = lower_plan(l, data, t->has_val ? 4 : 2);
    /* the predictions over the input space, drawn by the page (a model of layers on 1 or 2
     * inputs; a formula model's body was checked for the batches' shapes only), when the block
     * traces some of its passes: the grid's tensors take memory (625 rows a layer) */
    const Model *m = t->model->model;
    bool traced = t->set.trace_step > 0 || t->set.trace_every > 0;
    if (traced && !m->formula && (m->in == 1 || m->in == 2)) {
        Shape grid = { 2, { m->in == 1 ? TRAIN_GRID_1D : TRAIN_GRID_2D * TRAIN_GRID_2D, m->in } };
        ti->grid_x = lower_leaf(l, OP_CONST, grid, span);
        ti->grid_out = lower_apply(l, &t->train_app, ti->grid_x, false);
        ti->grid_plan = lower_plan(l, &ti->grid_out, 1);
        ti->has_grid = true;
    }
}

void lower_train(Lower *l, const AstNode *st)
{
    const SemaTrain *t = &st->sema.extra->train;
    TrainInstr *ti = arena_alloc(&l->p->arena, sizeof *ti);
    ti->set = t->set;
    ti->focus = lower_focus(l, &t->focus);
    ti->resume = t->resume ? arena_strndup(&l->p->arena, t->resume, strlen(t->resume)) : NULL;
    ti->metric_name = "accuracy";
    lower_schedule(l, ti, t, st->span);
    if (t->over_data) lower_train_data(l, ti, st, t);
    else lower_train_loss(l, ti, st);
    /* after what lowering its expressions added: `train net on rand(8, 2), Y` fills its
     * random data (INS_INIT) before it trains */
    program_add(l->p, INS_TRAIN, st->span)->train = ti;
}
