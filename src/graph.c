/* graph.c — the computation graph and reverse-mode differentiation.
 *
 * Design: nodes live in one growing array in creation order and refer to their inputs by id.
 * An input is always older than its user, so creation order is a topological order: a plan is
 * just the sorted set of a root's ancestors, computed once when a statement is compiled and
 * replayed as often as needed. Forward walks a plan up; backward walks it down, each op adding
 * its inputs' share of the gradient (symbol-to-number differentiation: backward never adds
 * nodes). Leaves (constants, params, constructors) are never recomputed by a forward pass; a
 * random op that is not a leaf (dropout) draws afresh on every pass, in plan order, and keeps
 * what it drew in its node's aux buffer for the backward pass that follows. */
#include "graph.h"

#include <stdio.h>
#include <string.h>

static const volatile sig_atomic_t quiet = 0;

void graph_init(Graph *g)
{
    memset(g, 0, sizeof *g);
    g->watch = &quiet;
}

static void node_release(Graph *g, GraphNode *n)
{
    if (n->value) {
        graph_release(g, n->size * sizeof(float) * (n->grad ? 2 : 1)
                             + n->aux_size * sizeof(float));
    }
    nn_free(n->value);
    nn_free(n->grad);
    nn_free(n->aux);
}

void graph_free(Graph *g)
{
    for (uint32_t i = 0; i < g->count; i++) node_release(g, &g->nodes[i]);
    nn_free(g->nodes);
    Graph settings = *g;            /* the limit and the poll, kept across graph_free */
    graph_init(g);
    g->max_bytes = settings.max_bytes;
    g->watch = settings.watch;
    g->poll = settings.poll;
    g->poll_ud = settings.poll_ud;
}

size_t graph_room(const Graph *g)
{
    if (!g->max_bytes) return SIZE_MAX;
    return g->bytes < g->max_bytes ? g->max_bytes - g->bytes : 0;
}

bool graph_reserve(Graph *g, size_t bytes)
{
    if (bytes > graph_room(g)) return false;
    g->bytes += bytes;
    return true;
}

void graph_charge(Graph *g, size_t bytes)
{
    g->bytes = bytes > SIZE_MAX - g->bytes ? SIZE_MAX : g->bytes + bytes;
}

void graph_release(Graph *g, size_t bytes)
{
    g->bytes = bytes < g->bytes ? g->bytes - bytes : 0;
}

const char *graph_bytes_str(size_t bytes, char buf[32])
{
    double mib = (double)bytes / (1 << 20);
    if (bytes < (1 << 20)) snprintf(buf, 32, "%zu KiB", (bytes + 1023) / 1024);
    else if (mib < 10) snprintf(buf, 32, "%.1f MiB", mib);
    else snprintf(buf, 32, "%.0f MiB", mib);
    return buf;
}

void graph_truncate(Graph *g, uint32_t count)
{
    while (g->count > count) node_release(g, &g->nodes[--g->count]);
    if (g->over && g->over_node >= count) g->over = false;
}

uint32_t graph_add(Graph *g, OpKind op, const uint32_t *in, int n_in, const OpAttrs *at,
                   Span span)
{
    const OpInfo *info = op_info(op);
    NN_ASSERT(n_in == info->arity);
    if (g->count == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->nodes = nn_realloc(g->nodes, g->cap * sizeof *g->nodes);
    }
    GraphNode *n = &g->nodes[g->count];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->id = g->count;
    n->n_in = (uint8_t)n_in;
    n->attrs = *at;
    n->span = span;
    Shape ins[NN_OP_MAX_IN];
    for (int i = 0; i < n_in; i++) {
        NN_ASSERT(in[i] < g->count);
        n->in[i] = in[i];
        ins[i] = g->nodes[in[i]].shape;
        n->requires_grad |= g->nodes[in[i]].requires_grad;
    }
    if (info->flags & OPF_NO_GRAD) n->requires_grad = false;
    StrBuf err;
    sb_init(&err);
    bool ok = info->shape(info, ins, &n->attrs, &n->shape, &err);
    NN_ASSERT(ok && "shapes are checked before the graph is built");
    sb_free(&err);
    n->size = shape_size(&n->shape);
    if (op == OP_PARAM) n->requires_grad = true;
    /* past the memory limit a node gets no buffers: the caller sees g->over and undoes the
     * compilation before anything runs */
    size_t need = n->size * sizeof(float) * (n->requires_grad ? 2 : 1);
    if (info->flags & OPF_AUX) need += g->nodes[in[0]].size * sizeof(float);
    if (g->over || need > graph_room(g)) {
        if (!g->over) g->over_node = g->count;
        g->over = true;
        return g->count++;
    }
    g->bytes += need;
    n->value = nn_calloc(n->size, sizeof(float));
    if (n->requires_grad) n->grad = nn_calloc(n->size, sizeof(float));
    if (info->flags & OPF_AUX) {
        NN_ASSERT(n_in >= 1);
        n->aux_size = g->nodes[in[0]].size;
        n->aux = nn_calloc(n->aux_size, sizeof(float));
    }
    return g->count++;
}

/* A plan is polled between its nodes (Ctrl-C, a deadline: Graph.watch) when it has more nodes
 * or touches more numbers than these: a smaller one takes well under a millisecond (and so
 * does a pass of bench/w1_neuron.nn, which would pay a load per node for nothing). */
#define PLAN_POLL_NODES 64
#define PLAN_POLL_ELEMENTS ((size_t)1 << 16)

Plan graph_plan(Graph *g, const uint32_t *roots, size_t nroots, Arena *arena)
{
    uint8_t *mark = nn_calloc(g->count, 1);
    uint32_t *stack = nn_alloc((g->count + 1) * sizeof *stack);
    size_t top = 0, count = 0;
    for (size_t r = 0; r < nroots; r++) {
        if (mark[roots[r]]) continue;
        mark[roots[r]] = 1;
        stack[top++] = roots[r];
        count++;
        while (top) {
            const GraphNode *n = &g->nodes[stack[--top]];
            for (int i = 0; i < n->n_in; i++)
                if (!mark[n->in[i]]) {
                    mark[n->in[i]] = 1;
                    stack[top++] = n->in[i];
                    count++;
                }
        }
    }
    Plan p;
    p.ids = arena_alloc(arena, (count ? count : 1) * sizeof *p.ids);
    p.count = 0;
    size_t elements = 0;
    for (uint32_t i = 0; i < g->count; i++)
        if (mark[i]) {
            p.ids[p.count++] = i;
            elements += g->nodes[i].size;
        }
    p.poll = p.count > PLAN_POLL_NODES || elements > PLAN_POLL_ELEMENTS;
    nn_free(stack);
    nn_free(mark);
    return p;
}

/* The passes, each in two copies: a plan that is polled asks, between two nodes, whether a
 * Ctrl-C or a deadline stops it there; a small one runs without asking. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE void forward_nodes(Graph *g, const Plan *p, Rng *rng, GraphCheckFn check,
                                        void *ud, bool polled)
{
    for (uint32_t k = 0; k < p->count; k++) {
        GraphNode *n = &g->nodes[p->ids[k]];
        const OpInfo *info = op_info(n->op);
        if (info->flags & OPF_LEAF) continue;
        GraphNode *in[NN_OP_MAX_IN];   /* an op reads only its n_in inputs */
        for (int i = 0; i < n->n_in; i++) in[i] = &g->nodes[n->in[i]];
        info->forward(n, in, rng);
        if (check) check(ud, g, n, 0);
        if (polled && *g->watch) g->poll(g->poll_ud, n);
    }
}

void graph_forward(Graph *g, const Plan *p, Rng *rng, GraphCheckFn check, void *ud)
{
    if (p->poll) forward_nodes(g, p, rng, check, ud, true);
    else forward_nodes(g, p, rng, check, ud, false);
}

void graph_backward(Graph *g, const Plan *p, uint32_t root, GraphCheckFn check, void *ud)
{
    graph_backward_seeded(g, p, root, 1.0f, check, ud);
}

static ALWAYS_INLINE void backward_nodes(Graph *g, const Plan *p, GraphCheckFn check, void *ud,
                                         bool polled)
{
    for (uint32_t k = p->count; k-- > 0;) {
        GraphNode *n = &g->nodes[p->ids[k]];
        const OpInfo *info = op_info(n->op);
        if (!n->requires_grad || (info->flags & OPF_LEAF)) continue;
        GraphNode *in[NN_OP_MAX_IN];   /* an op reads only its n_in inputs */
        for (int i = 0; i < n->n_in; i++) in[i] = &g->nodes[n->in[i]];
        info->backward(n, in);
        if (check) check(ud, g, n, 1);
        if (polled && *g->watch) g->poll(g->poll_ud, n);
    }
}

void graph_backward_seeded(Graph *g, const Plan *p, uint32_t root, float seed,
                           GraphCheckFn check, void *ud)
{
    for (uint32_t k = 0; k < p->count; k++) {
        GraphNode *n = &g->nodes[p->ids[k]];
        if (n->requires_grad && n->op != OP_PARAM) memset(n->grad, 0, n->size * sizeof(float));
    }
    GraphNode *r = &g->nodes[root];
    NN_ASSERT(r->size == 1);
    if (!r->requires_grad) return;
    r->grad[0] += seed;     /* += keeps a param's own gradient accumulating: backward w */
    if (p->poll) backward_nodes(g, p, check, ud, true);
    else backward_nodes(g, p, check, ud, false);
}
