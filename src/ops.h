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
    SIG_CONV,       /* f(x, W, b, stride = 1, padding = 0): images, weight, bias */
    SIG_POOL,       /* f(x, kernel, stride = kernel): images and a constant window */
    SIG_NORM,       /* f(x, W, b): a tensor and the weight and bias of its examples */
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

/* The most inputs an op has (batchnorm's x, W, b and its two running statistics). */
#define NN_OP_MAX_IN 5

/* The bit of OpAttrs.axes that names an axis, counting from the end when negative: axes 0 to 5
 * are bits 0 to 5, axes -1 to -6 bits 8 to 13 (for -NN_MAX_RANK <= axis < NN_MAX_RANK; any
 * other axis is out of range for every tensor). The shape rule turns them into bits 0 to
 * rank - 1, and reports an axis out of range for its input, or named twice. */
static inline unsigned op_axis_bit(int axis)
{
    return axis >= 0 ? 1u << axis : 1u << (7 - axis);
}

/* Constant arguments of an op, fixed when the graph is built. The shape rule may canonicalise
 * them (a negative axis becomes positive, a -1 size of reshape is filled in); applied again to
 * its own result it changes nothing. */
typedef struct OpAttrs {
    int axis;           /* reductions: the axis, or NN_AXIS_ALL; softmax, log_softmax, argmax,
                           concat, index, slice: the axis they work along */
    unsigned axes;      /* sum, mean, max, min: the reduced axes, op_axis_bit(a) for each (0:
                           attrs.axis says what to reduce) */
    bool keepdim;       /* sum, mean, max, min: reduced axes stay, with size 1 */
    float alpha;        /* leaky_relu: slope for negative inputs */
    float fill;         /* full: the value */
    float p;            /* dropout: the probability of dropping an element, in [0, 1] */
    float lo, hi;       /* clamp: the bounds; -INFINITY and INFINITY when absent */
    int start, stop;    /* slice: the elements start .. stop - 1 along attrs.axis */
    int classes;        /* one_hot: the number of classes */
    int kernel[2];      /* conv2d (from the weight's shape), pools: the window's height, width */
    int stride[2];      /* conv2d, pools: the steps between windows, down and across */
    int pad[2];         /* conv2d: the zeros added above and below, left and right */
    Shape shape;        /* leaves: the shape; reshape: the new shape (one size may be -1) */
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
/* The position that the index v (negative counts from the end) picks along an axis of `size`
 * elements, or -1 if v is not an integer in -size .. size - 1. The index op gives NaN then. */
long op_index_of(float v, int size);
/* The callable built-in with this name, or NULL. */
const OpInfo *op_lookup(const char *name);

#endif
