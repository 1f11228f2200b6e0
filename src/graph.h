/* graph.h — the computation graph: typed nodes in creation order, evaluation plans, and the
 * forward and reverse-mode backward passes over a plan. */
#ifndef NN_GRAPH_H
#define NN_GRAPH_H

#include <signal.h>

#include "arena.h"
#include "focus.h"
#include "ops.h"

typedef struct GraphNode {
    OpKind op;
    uint8_t n_in;
    uint32_t in[NN_OP_MAX_IN];
    OpAttrs attrs;
    Shape shape;
    size_t size;            /* number of elements */
    float *value;           /* owned */
    float *grad;            /* owned; NULL unless requires_grad */
    float *aux;             /* owned scratch of OPF_AUX ops (e.g. dropout's mask), else NULL */
    size_t aux_size;        /* floats in aux: the size of input 0 */
    bool requires_grad;     /* depends on a param (or is one) */
    Span span;              /* the source that made it */
    const char *name;       /* the let/param name that first named it, or NULL */
    const char *group;      /* the model layer it belongs to ("net.layer1": a dense layer, its
                               params and the activations after it), or NULL; interned */
    uint32_t id;
} GraphNode;


/* The nodes needed to compute some roots, in topological (= creation) order. Because the
 * graph only grows and inputs are always older than their users, a plan never goes stale. */
typedef struct Plan {
    uint32_t *ids;
    uint32_t count;
    bool poll;              /* big enough to be worth stopping part-way (see Graph.watch) */
} Plan;

/* Called between two nodes of a pass when *Graph.watch is nonzero; may longjmp. */
typedef void (*GraphPollFn)(void *ud, const GraphNode *n);

typedef struct Graph {
    GraphNode *nodes;
    uint32_t count, cap;
    size_t bytes;           /* of every node's value, gradient and scratch, and of what
                               graph_reserve counted */
    size_t max_bytes;       /* the limit (--max-memory); 0 = none */
    bool over;              /* a node past the limit was added (its buffers are not) */
    uint32_t over_node;     /* the first such node */
    /* A long pass can be stopped between two of its nodes: `poll` runs there whenever *watch is
     * nonzero (the runtime points it at the Ctrl-C flag, or at a 1 while a deadline is to be
     * watched; graph_init at a 0). One load per node when all is quiet. Settings, kept by
     * graph_free. */
    const volatile sig_atomic_t *watch;
    GraphPollFn poll;
    void *poll_ud;
} Graph;

/* The default memory limit for tensors: 4 GiB. */
#define NN_DEFAULT_MAX_MEMORY ((size_t)4 << 30)

/* An empty graph, with no memory limit, that polls nothing. */
void graph_init(Graph *g);
/* Frees every node; the graph is empty again, its memory limit kept. */
void graph_free(Graph *g);
/* Adds a node; its inputs must exist. Shape must already be checked (by the front end);
 * the value buffer is allocated zeroed here. Returns the new id. */
uint32_t graph_add(Graph *g, OpKind op, const uint32_t *in, int n_in, const OpAttrs *at,
                   Span span);
/* Memory outside the nodes that scales with the input and counts against the same limit:
 * optimizer state, a checkpoint's index while it is read. graph_reserve adds `bytes` to
 * g->bytes and returns true, or returns false and adds nothing if that would pass the limit;
 * graph_charge adds them whatever the limit (memory that was counted before, given back by an
 * undo); graph_release gives them back. Never raise. */
bool graph_reserve(Graph *g, size_t bytes);
void graph_charge(Graph *g, size_t bytes);
void graph_release(Graph *g, size_t bytes);
/* The bytes left under the limit: SIZE_MAX when there is none, 0 when it is reached. */
size_t graph_room(const Graph *g);
/* A size for messages: "512 KiB" below 1 MiB (rounded up), "2.5 MiB" below 10 MiB, else
 * "191 MiB". Returns buf. */
const char *graph_bytes_str(size_t bytes, char buf[32]);
/* Drops every node from id `count` on (rolls back a failed compilation). */
void graph_truncate(Graph *g, uint32_t count);
static inline GraphNode *graph_node(Graph *g, uint32_t id)
{
    NN_ASSERT(id < g->count);
    return &g->nodes[id];
}

/* The plan for computing `roots`, allocated in `arena`. */
Plan graph_plan(Graph *g, const uint32_t *roots, size_t nroots, Arena *arena);

/* Hook for run-time checks: called after each node's forward (which = 0) or after each
 * backward step (which = 1); may longjmp out. */
typedef void (*GraphCheckFn)(void *ud, Graph *g, GraphNode *n, int which);

/* Recomputes every non-leaf node of the plan. Both passes call g->poll between nodes when
 * asked (see Graph). */
void graph_forward(Graph *g, const Plan *p, Rng *rng, GraphCheckFn check, void *ud);
/* Reverse-mode pass: zeroes the gradients of the plan's non-param nodes, seeds the root's
 * gradient with 1 and walks the plan backwards. Param gradients accumulate. */
void graph_backward(Graph *g, const Plan *p, uint32_t root, GraphCheckFn check, void *ud);
/* graph_backward with the root's gradient seeded with `seed` instead of 1, so param gradients
 * accumulate seed × ∂root/∂p (gradient accumulation weights each batch this way). */
void graph_backward_seeded(Graph *g, const Plan *p, uint32_t root, float seed,
                           GraphCheckFn check, void *ud);

#endif
