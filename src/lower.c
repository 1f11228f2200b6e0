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

static uint32_t lower_expr(Lower *l, const AstNode *e)
{
    OpAttrs at = e->sema.attrs;
    switch (e->kind) {
    case AST_NUM: {
        at.shape = shape_scalar();
        uint32_t id = add_node(l, OP_CONST, NULL, 0, &at, e->span);
        graph_node(l->g, id)->value[0] = (float)e->u.num;
        return id;
    }
    case AST_TENSOR: {
        uint32_t id = add_node(l, OP_CONST, NULL, 0, &at, e->span);
        size_t k = 0;
        flatten_literal(e, graph_node(l->g, id)->value, &k);
        return id;
    }
    case AST_NAME: return e->sema.sym->node;
    case AST_UNARY: {
        if (e->u.op.a->kind == AST_NUM) {   /* -2 is a number, not an operation */
            at.shape = shape_scalar();
            uint32_t id = add_node(l, OP_CONST, NULL, 0, &at, e->span);
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

static void lower_stmt(Lower *l, const AstNode *st)
{
    switch (st->kind) {
    case AST_LET: {
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
    case AST_TRACE: {
        uint32_t root = lower_expr(l, st->u.expr);
        Instr *ins = program_add(l->p, st->kind == AST_TRACE ? INS_TRACE : INS_BACKWARD, st->span);
        ins->node = root;
        ins->plan = plan_of(l, &root, 1);
        return;
    }
    case AST_STEP: {
        Instr *ins = program_add(l->p, INS_STEP, st->span);
        ins->optim = OPTIM_SGD;
        ins->lr = (float)st->sema.const_value;
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
