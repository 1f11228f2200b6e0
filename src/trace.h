/* trace.h — a traced pass as events, and the writers that turn them into text, JSON and DOT.
 *
 * trace_events.c walks the graph once after a backward pass and records what happened: each
 * node's forward formula and value, what each op passed to each of its inputs (the local
 * derivative in the op table's words and, for scalars, in numbers with the chain-rule
 * product), each param's gradient (with its path products), zooms into single units, and the
 * optimizer's update. The writers only format these records: trace_text.c the blackboard
 * explanation, trace_json.c JSON Lines (docs/trace-json.md; the HTML page is drawn from them),
 * and trace.c Graphviz DOT. So every view shows the same numbers and the same words. */
#ifndef NN_TRACE_H
#define NN_TRACE_H

#include "runtime.h"

#define TRACE_SMALL 8       /* tensors up to this many elements are shown in full */
#define TRACE_FULL 4096     /* ... and with --trace-full, up to this many */
#define ZOOM_CHAIN 4        /* activations after a unit's z that a zoom follows */

/* What an op passes down to one input. */
typedef struct TraceInput {
    const GraphNode *n;         /* the input: its shape and its gradient after the pass */
    int index;                  /* which input of the op: 0 or 1 */
    const char *label;
    const char *local;          /* how the gradient passes (the op table's words, with
                                   labels), or NULL if the op has none for this input */
    char *local_values;         /* elementwise scalar op: the same with numbers, or NULL */
    bool scalar;                /* a scalar op with a derivative: the two numbers below */
    double local_value;         /* ∂out/∂input */
    double chain;               /* ∂root/∂out × local_value, rounded to float */
    bool again;                 /* the input had a gradient from another use already: += */
    bool summed;                /* the input is not a param and has had more than one use */
} TraceInput;

/* One node of the pass, in the plan's order (inputs before users). */
typedef struct TraceNode {
    const GraphNode *n;         /* value, gradient, shape, op, inputs, source and layer */
    const char *label;          /* its name, t1, t2, ..., or a constant's value */
    bool shown;                 /* in the places the trace looks at (all, with no places) */
    bool feeds_shown;           /* a leaf that a shown node reads */
    bool inline_const;          /* a scalar literal, written into its users' formulas */
    char *formula;              /* ops: "w × x"; NULL for leaves */
    char *formula_values;       /* ops of scalars only: "0.5 × 2" */
    bool backward;              /* an op that passed a gradient to its inputs */
    int uses;                   /* backward: the uses its gradient is the sum of */
    bool from_hidden;           /* backward: some of its gradient came from nodes not shown */
    TraceInput in[NN_OP_MAX_IN];    /* backward: the inputs that got a gradient */
    int n_in;
} TraceNode;

/* A param's gradient after the pass. */
typedef struct TraceGradient {
    const GraphNode *p;
    const char *label;
    bool shown;
    float *added;               /* what this pass added (owned) */
    bool accumulated;           /* it held a gradient before: they add up */
    char *paths;                /* scalar: the sum over paths of products of local derivatives,
                                   "(-0.999) × 0.187 × 2", or NULL (too many, or tensors) */
} TraceGradient;

/* One activation after a unit's z, at row 0. */
typedef struct ZoomStep {
    char name[16], in_name[16]; /* a (a1, a2, ...) and what it is computed from (z, a1, ...) */
    const char *op;             /* its op's name: "tanh", "dropout", ... */
    bool dropout;               /* value = input × mask, local derivative = mask */
    char *formula, *formula_values, *dtext, *dtext_values;     /* ops' words, with numbers */
    float in_value, value, grad;    /* grad: ∂root/∂(this activation) */
    double deriv;               /* ∂value/∂input */
    float chain;                /* grad × deriv, rounded to float */
} ZoomStep;

/* A unit of a dense layer in scalars: z = Σ x[0,i] W[i,u] + b[u], then its activations; or
 * one output pixel of a conv layer: z = Σ over its window of x[0,ci,y,x] W[u,ci,dy,dx] + b[u]. */
typedef struct TraceZoom {
    TracePlace place;
    const char *x_label, *W_label, *b_label, *top_label;
    bool x_matrix;              /* x is a batch [rows, in], else one input [in] */
    bool x_grad;                /* x gets a gradient: it is passed down */
    int u, rows, fan_in;
    float *x, *w;               /* row 0 of x and column u of W (owned, fan_in each); conv: the
                                   window's pixels (0 on the padding) and filter u's weights,
                                   channel by channel, row by row */
    bool conv;                  /* a conv layer's output pixel, at place.pixel */
    bool seq;                   /* ... of a conv1d layer: a position of a sequence (a conv2d
                                   of images one pixel high, behind reshapes) */
    int in_ch, kh, kw, stride[2], pad[2], in_h, in_w;  /* conv: the window's geometry */
    long places;                /* the outputs b[u] is added at: rows, or rows × pixels (conv) */
    float b, z;
    ZoomStep chain[ZOOM_CHAIN];
    int n_chain;
    bool backward;              /* the root depends on the unit: what follows is set */
    float top_grad;             /* ∂root/∂(last activation, or z) at row 0 */
    float gz;                   /* ∂root/∂z at row 0 */
    float *row_z, *row_top, *row_gz;    /* every row's z, last activation, ∂root/∂z (owned) */
    double sum;                 /* Σ over the rows (conv: and pixels) of ∂root/∂z */
    double abs_sum;             /* ... of |∂root/∂z|: the scale of its rounding */
    bool has_added;
    float added;                /* what the pass added to b.grad[u] */
} TraceZoom;

typedef struct TracePass {
    long step;                  /* the traced pass's number (JSON "step") */
    const GraphNode *root;
    const char *root_label;
    char *root_source;          /* an unnamed root: the source it was written as, else NULL */
    char *where;                /* "file:line" of the statement */
    long iteration;             /* inside a loop: its iteration, from 1 (0: not in a loop) */
    const char *loop_var;       /* ... the loop's variable (or NULL), and its value */
    long loop_value;
    long update, updates;       /* a train block's pass: before update N of M (0: not one) */
    int epoch, epochs;          /* ... in epoch E of F */
    const TraceFocus *focus;    /* the places looked at, or NULL for everything */
    char **labels;              /* per graph node id: the plan's nodes' labels (owned) */
    uint32_t n_labels;
    TraceNode *nodes;           /* the plan, in order */
    uint32_t count;
    TraceGradient *grads;       /* the params of the pass, in graph order */
    int n_grads;
    TraceZoom *zooms;           /* for each unit looked at */
    int n_zooms;
    const char **unused;        /* places the pass does not reach */
    int n_unused;
} TracePass;

/* A param's update after a traced pass. */
typedef struct TraceUpdate {
    const GraphNode *p;
    const float *before;        /* its value before the update (borrowed) */
    const float *state;         /* its optimizer state before it (rt_snapshot_update; borrowed) */
    bool shown;
} TraceUpdate;

typedef struct TraceUpdates {
    long step;                  /* of the pass it follows */
    const char *optimizer;
    double lr;
    bool plain_sgd;             /* p = p - lr × grad, exactly */
    OptimConfig config;         /* the optimizer and its settings */
    TraceUpdate *items;         /* every param, in graph order (owned) */
    int count;
} TraceUpdates;

/* trace_events.c */
/* Records a pass after its backward (numbered rt->trace_passes); `before` holds every param's
 * gradient before the pass (graph order), or NULL. `where`, `what`: as for trace_pass. */
void trace_pass_build(Runtime *rt, TracePass *tp, const Plan *plan, uint32_t root,
                      const float *before, Span where, Span what, const TraceFocus *focus);
void trace_pass_free(TracePass *tp);
void trace_updates_build(Runtime *rt, TraceUpdates *tu, const OptimConfig *c, float lr,
                         const float *before);
void trace_updates_free(TraceUpdates *tu);

/* Formatting shared by the writers: a number as traces write it (6 significant digits; a
 * negative one in parentheses where it follows an operator), and a tensor in one line: its
 * numbers up to `limit` elements, else mean, min, max and norm. */
void trace_put_num(StrBuf *sb, double v, bool paren_negative);
void trace_put_value(StrBuf *sb, const float *v, const Shape *s, size_t limit);
/* The places as a trace's header writes them: "net.layer1[2], net.layer2". */
void trace_put_places(StrBuf *sb, const TracePlace *places, int count);

/* The writers */
void trace_text_pass(Runtime *rt, const TracePass *tp);
void trace_text_update(Runtime *rt, const TraceUpdates *tu);
void trace_json_pass(Runtime *rt, const TracePass *tp);
void trace_json_update(Runtime *rt, const TraceUpdates *tu);
void trace_dot_pass(Runtime *rt, const TracePass *tp, bool grads);

#endif
