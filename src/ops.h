/* ops.h — the op table (generated from ops.def): every primitive op's name, call signature,
 * shape rule, kernels, scalar derivative and trace wording, in one place. */
#ifndef NN_OPS_H
#define NN_OPS_H

#include "common.h"
#include "rng.h"
#include "strbuf.h"
#include "tensor.h"

typedef enum OpKind {
#define OP(e, ...) OP_##e,
#include "ops.def"
#undef OP
    OP_COUNT
} OpKind;

/* How a built-in is called from the language; the front end checks arguments by this. */
typedef enum OpSig {
    SIG_LEAF,       /* not callable: made by the compiler */
    SIG_OPERATOR,   /* written as an operator: + - * / ^ @ and unary - */
    SIG_UNARY,      /* f(x) */
    SIG_LEAKY,      /* f(x, slope = 0.01) */
    SIG_REDUCE,     /* f(x) over everything, or f(x, axis) */
    SIG_DIMS,       /* f(d0, d1, ...) */
    SIG_FULL,       /* f(d0, d1, ..., value) */
    SIG_EYE,        /* f(n) */
    SIG_AXIS,       /* f(x) along the last axis, or f(x, axis); attrs.axis is -1 (or
                     * NN_AXIS_ALL) for the default, and the shape rule makes it positive */
    SIG_LOSS,       /* f(prediction, target): two tensors in, a scalar out */
    SIG_PROB,       /* f(x, p): one tensor and a constant probability in attrs.p */
    SIG_FANS,       /* f(in, out): a constructor of shape [in, out], in attrs.shape */
    SIG_BINARY,     /* f(a, b): two tensors, broadcast against each other */
    SIG_WHERE,      /* f(condition, a, b): three tensors, broadcast together */
    SIG_CLAMP,      /* f(x, min, max): a tensor and constant bounds (either may be left out when
                     * the other is named) in attrs.lo and attrs.hi */
    SIG_RESHAPE,    /* f(x, d0, d1, ...): constant sizes (one may be -1) in attrs.shape */
    SIG_CONCAT,     /* f(a, b, ..., axis = 0): tensors joined along a constant axis */
    SIG_ONE_HOT,    /* f(indices, classes): a constant number of classes */
} OpSig;

enum {
    OPF_LEAF = 1 << 0,          /* no inputs; a forward pass never recomputes it */
    OPF_NO_GRAD = 1 << 3,       /* no gradient flows through it */
    OPF_ELEMENTWISE = 1 << 1,   /* out[i] = f(in[i]...) with broadcasting */
    OPF_RANDOM = 1 << 2,        /* draws from the session's random numbers: a leaf once, when
                                 * filled; any other op on every forward pass */
    OPF_AUX = 1 << 4,           /* the node gets scratch `aux`, as many floats as input 0, that
                                 * forward fills and backward reads */
};

#define NN_AXIS_ALL (-1000)

/* The most inputs an op has (where(c, a, b) has three). */
#define NN_OP_MAX_IN 3

/* Constant arguments of an op, fixed when the graph is built. */
typedef struct OpAttrs {
    int axis;           /* reductions: the axis, or NN_AXIS_ALL */
    float alpha;        /* leaky_relu: slope for negative inputs */
    float fill;         /* full: the value */
    float p;            /* dropout: the probability of dropping an element, in [0, 1] */
    Shape shape;        /* leaves: the shape */
} OpAttrs;

struct GraphNode;
typedef struct OpInfo OpInfo;

/* Computes the result shape from the input shapes. May canonicalise attrs (a negative axis
 * becomes positive). On a mismatch writes a message (lower case, with the shapes) to err and
 * returns false. */
typedef bool (*OpShapeFn)(const OpInfo *op, const Shape *in, OpAttrs *at, Shape *out,
                          StrBuf *err);
/* Computes n->value from the inputs' values (and n->aux, for OPF_AUX ops). `in` has the
 * node's n_in inputs. */
typedef void (*OpForwardFn)(struct GraphNode *n, struct GraphNode *const *in, Rng *rng);
/* Adds (+=) the gradient of each input that needs one, from n->grad and saved values. */
typedef void (*OpBackwardFn)(struct GraphNode *n, struct GraphNode *const *in);
/* Elementwise local derivative ∂out/∂input i at one point (a, b inputs, out the result). */
typedef double (*OpDerivFn)(int i, double a, double b, double out, const OpAttrs *at);

struct OpInfo {
    OpKind kind;
    const char *enum_name;
    const char *name;
    int arity;
    OpSig sig;
    unsigned flags;
    OpShapeFn shape;
    OpForwardFn forward;
    OpBackwardFn backward;
    OpDerivFn deriv;
    const char *text;       /* forward formula */
    const char *dtext[NN_OP_MAX_IN];    /* per input: local derivative, or how the gradient
                                           passes */
    const char *help_example;   /* `:help NAME`: a call, and what it does (NULL: an operator or */
    const char *help_text;      /* a leaf the compiler makes, not a word users call) */
};

const OpInfo *op_info(OpKind k);
/* The callable built-in with this name, or NULL. */
const OpInfo *op_lookup(const char *name);

#endif
