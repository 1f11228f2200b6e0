/* lower_int.h — what the lowering files share: lower.c (statements, control flow, the unit)
 * stands on lower_train.c (train blocks), which stands on lower_expr.c (expressions). */
#ifndef NN_LOWER_INT_H
#define NN_LOWER_INT_H

#include "lower.h"

typedef struct LoopCtx LoopCtx;

typedef struct Lower {
    Graph *g;
    Program *p;
    LoopCtx *loop;          /* the innermost loop being lowered (for break and continue) */
} Lower;

/* ---- lower_expr.c ---- */

/* Attributes with nothing set (the axis is NN_AXIS_ALL). */
OpAttrs lower_no_attrs(void);
uint32_t lower_node(Lower *l, OpKind op, const uint32_t *in, int n, const OpAttrs *at,
                    Span span);
/* A leaf of the given shape (a constant, a param, a constructor). */
uint32_t lower_leaf(Lower *l, OpKind op, Shape shape, Span span);
/* A scalar constant leaf holding v. */
uint32_t lower_number(Lower *l, float v, Span span);
/* The nodes of a checked expression; returns its root. */
uint32_t lower_expr(Lower *l, const AstNode *e);
/* A model applied to node x: its layers' ops one after another (dropout only while training),
 * or its formula with the argument bound to x. */
uint32_t lower_apply(Lower *l, const ModelApp *app, uint32_t x, bool training);
/* Gives node `id` a name for traces, unless it has one. */
void lower_name(Lower *l, uint32_t id, const char *name);
/* The plan for roots, in the program's arena. */
Plan lower_plan(Lower *l, const uint32_t *roots, size_t n);
/* The params a plan reaches, in the program's arena (*n of them). */
const uint32_t *lower_plan_params(Lower *l, const Plan *plan, int *n);
/* The params a gradient from `root` reaches in `plan` (not through detach, comparisons, ...):
 * `first` (n_first of them), then the others, in the program's arena (*n in all). */
const uint32_t *lower_grad_params(Lower *l, const Plan *plan, uint32_t root,
                                  const uint32_t *first, int n_first, int *n);
/* The places of a trace, copied out of the unit's arena (which goes when lowering ends). */
TraceFocus lower_focus(Lower *l, const TraceFocus *f);

/* ---- lower_train.c ---- */

void lower_train(Lower *l, const AstNode *st);
/* A model's params as a checkpoint names them. */
ModelParams lower_model_params(Lower *l, const Symbol *msym);

#endif
