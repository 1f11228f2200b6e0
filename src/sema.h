/* sema.h — names and shapes: checks a parsed unit against the session's symbols before
 * anything runs, annotating each expression with its op, shape and constant arguments. */
#ifndef NN_SEMA_H
#define NN_SEMA_H

#include "ast.h"
#include "data.h"
#include "diag.h"
#include "focus.h"
#include "intern.h"
#include "optim.h"
#include "train_settings.h"

typedef enum SymKind { SYM_LET, SYM_PARAM, SYM_MODEL, SYM_DATA, SYM_FN } SymKind;

struct Model;
struct DataSym;
struct FnDef;
typedef struct Symbol {
    const char *name;       /* interned */
    const char *label;      /* the name as traces show it: a name defined again gets a subscript,
                               c, c₂, c₃, so every version is told apart (interned) */
    SymKind kind;
    Shape shape;
    bool grad;              /* depends on a param */
    Span decl;              /* where it was defined */
    bool poisoned;          /* its definition failed: uses are not reported again */
    bool is_const;          /* a let of a constant number: usable where constants are */
    double const_value;
    bool carried;           /* LET: a value carried through a block (a loop, an if): a leaf that
                               the block's statements overwrite, not a formula */
    bool loop_var;          /* LET: a loop's variable, a leaf the loop writes */
    uint32_t node;          /* its graph node, set by lowering */
    bool has_node;
    struct Model *model;    /* SYM_MODEL, owned */
    struct DataSym *data;   /* SYM_DATA, owned */
    struct FnDef *fn;       /* SYM_FN, owned */
} Symbol;

/* ---- functions ------------------------------------------------------------------------------
 * fn NAME(a, b) = EXPR: a template, checked afresh for the shapes of each call (on a copy of the
 * body) and inlined where it is called. Its names other than its parameters are those visible
 * where it was defined: the session's first `visible` symbols (lexical scope). */

typedef struct FnDef {
    const char **params;    /* interned, n_params of them (owned array) */
    int n_params;
    AstNode *body;          /* the unchecked body, in `arena` */
    Arena arena;
    size_t visible;         /* the symbols defined before it */
    bool applying;          /* being checked for a call now (a call inside it would recurse) */
} FnDef;

/* One call of a function: its parameters bound to the arguments, and its checked body. */
typedef struct FnApp {
    Symbol *fn;
    Symbol **params;        /* the parameters as arena symbols, bound to the arguments' nodes */
    AstNode **args;
    int n;
    AstNode *body;          /* a checked copy of the body */
} FnApp;

/* ---- models ------------------------------------------------------------------------------
 * A model is a list of layers (residual blocks are bracketed by BEGIN/END entries) or a set of
 * params with a forward formula. Its params are ordinary param symbols named "net.layer1.W". */

typedef enum LayerKind {
    LAYER_DENSE, LAYER_ACT, LAYER_DROPOUT, LAYER_RES_BEGIN, LAYER_RES_END,
    LAYER_INPUT,    /* input(1, 8, 8): the shape of one example */
    LAYER_CONV,     /* conv2d: W [out, in, k, k], b [out]; conv1d: W [out, in, k] */
    LAYER_POOL,     /* maxpool2d, avgpool2d (op) */
    LAYER_FLATTEN,  /* an image [C, H, W] as one row of C·H·W */
    LAYER_NORM,     /* layernorm: W (ones) and b (zeros) of one example's shape */
    LAYER_BATCHNORM,    /* batchnorm: W (ones), b (zeros) and the buffers running_mean
                           (zeros), running_var (ones), each [C] */
} LayerKind;

typedef struct Layer {
    LayerKind kind;
    Span span;
    OpKind op;              /* ACT: the activation's op */
    float alpha;            /* leaky_relu's slope */
    float p;                /* dropout's probability */
    int in, out;            /* widths before and after the layer (channels, for images) */
    Shape shape;            /* the shape of one example after the layer: [16], [8, 4, 4] */
    int kernel, stride, pad;    /* CONV, POOL: the window, its step and (CONV) the padding */
    bool conv1d;            /* CONV: of sequences [C, L] (W [out, in, k]), else of images */
    int index;              /* DENSE, CONV, NORM: 1, 2, ... (params layerN.W, layerN.b) */
    OpKind init;            /* DENSE: how W is initialised */
    Symbol *W, *b;
    Symbol *mean, *var;     /* BATCHNORM: the running statistics (buffers) */
    const char *group;      /* DENSE and the activations and dropout after it: "net.layer1"
                               (interned), what a trace's `at` names; else NULL */
} Layer;

typedef struct Model {
    const char *name;
    Layer *layers;
    int n_layers;
    int in, out;            /* layer models: input and output widths (elements of one example) */
    Shape in_shape, out_shape;  /* layer models: one example's shape: [4], or [1, 8, 8] for
                                   images (then inputs are batches [N, 1, 8, 8]) */
    bool formula;           /* params and forward(x) = ... */
    Symbol **params;        /* every param, in declaration order */
    const char **param_names;   /* their names inside the model: "layer1.W", "w" */
    int n_params;
    Symbol **buffers;       /* state that is not a param (batchnorm's running statistics): */
    const char **buffer_names;  /* read-only lets, "layer2.running_mean", saved with the params */
    int n_buffers;
    const char *arg;        /* formula: the argument's name */
    AstNode *body;          /* formula: the unchecked body, in `arena` */
    Arena arena;
    char *source;           /* the model's source text (for checkpoints) */
    char *summary;          /* the table `summary(net)` prints */
} Model;

/* One application of a model to an input of a given shape. */
typedef struct ModelApp {
    Symbol *model;
    Shape in, out;
    Symbol *arg;            /* formula: the argument, bound to the input's node */
    AstNode *body;          /* formula: a checked copy of the body */
} ModelApp;

/* ---- data sets ----------------------------------------------------------------------------
 * A data set is a pair of nodes X [rows, features] and Y [rows, targets] with class names. */

typedef struct DataSym {
    int rows, features, targets;
    Shape sample;           /* one row of X: [features], or an image's [C, H, W] */
    Symbol *X, *Y;          /* hidden lets: name.X, name.Y */
    char **class_names;     /* n_classes, owned; none for a numeric target */
    int n_classes;
    char *about;            /* what `print data` says */
} DataSym;


#define NN_MAX_DATA_ARGS 8

/* What lowering needs to make data sets (in the unit's arena). */
typedef struct SemaData {
    DataFn fn;
    int n, k;
    double noise, fraction;
    int *rows;              /* SPLIT_ROWS: the rows of the second part */
    int n_rows;
    float *x, *y;           /* CSV: the values (unit-arena copies) */
    Symbol *src[NN_MAX_DATA_ARGS];
    Symbol *dst[NN_MAX_DATA_ARGS];
    int n_src, n_dst;
} SemaData;

/* ---- train --------------------------------------------------------------------------------- */

/* A loss or a metric written as a formula of the batch, checked for one pass's shapes: the
 * copies read X (the batch's inputs), Y (its targets) and out (the model's output for it). */
typedef struct PassFormula {
    AstNode *loss, *metric;     /* checked copies, or NULL (a built-in) */
    Symbol *x, *y, *out;
} PassFormula;

typedef struct SemaTrain {
    bool over_data;         /* train MODEL on X, Y; else train LOSS */
    Symbol *model;
    OpKind loss;            /* a built-in loss, or OP_COUNT for a formula */
    AstNode *loss_formula;  /* loss FORMULA, as written (checked per pass below) */
    AstNode *metric_formula;    /* metric FORMULA, as written */
    const char *metric_name;    /* how log lines name the metric */
    int rows, train_rows, val_rows, rest;
    ModelApp batch_app, rest_app, train_app, val_app;
    PassFormula batch_f, rest_f, train_f, val_f;
    bool has_val, val_given;
    AstNode *vx, *vy;       /* validation set given as data */
    TrainSettings set;      /* the settings: also the optimizer of a `step` statement */
    AstNode *sched_formula; /* schedule FORMULA: a factor of lr, of the leaves below */
    Symbol *sched_epoch, *sched_update;     /* ... `epoch` and `update`, the counts from 0 */
    const char *resume;     /* a checkpoint to continue from, or NULL */
    TraceFocus focus;       /* trace step N at PLACES (in the unit's arena) */
} SemaTrain;

/* ---- control flow ----------------------------------------------------------------------- */

/* A name defined before a block and given a new value inside it: from the block on, the name is
 * `sym`, a leaf that starts as `from`'s value and that the block's statements overwrite. */
typedef struct Carry {
    Symbol *sym;
    Symbol *from;
} Carry;

/* A loop or an if: what lowering needs besides the AST. A name carried through the block has a
 * leaf (`carries[i].sym`) that the block starts from; each new value inside the block is a new
 * leaf (a version, as `let` makes a new formula outside blocks), and the block's last version is
 * copied back into the carried leaf where the block ends (`ends`: a loop's body, or an if's then-
 * and else-parts) and where a break or continue leaves it (their own `ends[0]`). */
typedef struct SemaBlock {
    Carry *carries;         /* in the unit's arena; sym: the carried leaf, from: its start */
    int n_carries;
    Carry *ends[2];         /* sym: the carried leaf, from: its last version there */
    int n_ends[2];
    Carry *unwind;          /* a loop stopped by Ctrl-C: the ends of the blocks around it */
    int n_unwind;
    struct SemaBlock *outer;    /* while it is checked: the block around it, or NULL */
    Symbol *var;            /* FOR: the loop variable */
    long from, to;          /* FOR: from .. to - 1; REPEAT: 0 .. to - 1 */
} SemaBlock;

/* One step of a subscript X[...], applied in order: an index drops an axis, a range keeps it. */
typedef struct IndexStep {
    int axis;               /* of the tensor as it is at this step */
    bool range;             /* a:b (start, stop) */
    int start, stop;
    AstNode *index;         /* an index: its (scalar) expression */
} IndexStep;

/* A call of a built-in that is not one op: l2(...), params(...), stack(...), concat of more than
 * two, sum over a model's params. Lowering chains ops over `items`. */
typedef enum BuiltinKind { BUILTIN_NONE, BUILTIN_L2, BUILTIN_PARAMS, BUILTIN_CONCAT,
                           BUILTIN_STACK } BuiltinKind;

typedef struct SemaBuiltin {
    BuiltinKind kind;
    AstNode **items;        /* tensors (checked expressions), or NULL for param lists */
    Symbol **params;        /* L2, PARAMS: params of models */
    int n_items, n_params;
    int axis;               /* CONCAT, STACK */
    Shape item_shape;       /* STACK: each item's shape, before its new axis */
} SemaBuiltin;

/* Per-node results for lowering that do not fit AstNode.sema. */
typedef struct SemaExtra {
    ModelApp app;           /* CALL of a model */
    SemaData data;          /* LET / LET_MANY of a data function */
    SemaTrain train;        /* TRAIN */
    const char *text;       /* print of a model or data set: the text */
    const struct Symbol *model; /* ... of a model: the model (training adds what it saw) */
    DataSym *labels;        /* print labels(data, scores): the class names */
    const char *path;       /* SAVE, LOAD: the file */
    bool onnx;              /* SAVE to FILE.onnx: the inference graph, app (of the model) */
    TraceFocus focus;       /* TRACE ... at PLACES (in the unit's arena) */
    FnApp fnapp;            /* CALL of a user function */
    SemaBlock block;        /* FOR, REPEAT, WHILE, IF */
    IndexStep *steps;       /* INDEX: its subscripts as steps (n_steps) */
    int n_steps;
    SemaBuiltin builtin;    /* CALL of l2, params, stack, concat */
    Symbol **targets;       /* STEP, ZERO_GRAD: the params named (n_targets; none: every param) */
    int n_targets;
    AstNode *lr;            /* STEP: a learning rate that is not a constant (a formula) */
    bool set_value;         /* LET inside a block: a new value of a carried name (st.sema.sym) */
} SemaExtra;

typedef struct SymbolTable {
    Symbol **items;         /* owned, each allocated separately so pointers stay valid */
    size_t count, cap;
} SymbolTable;

void symtab_init(SymbolTable *t);
void symtab_free(SymbolTable *t);
Symbol *symtab_find(const SymbolTable *t, const char *name);
/* Drops symbols from index `count` on (rolls back a failed compilation). */
void symtab_truncate(SymbolTable *t, size_t count);

/* Checks every statement; defines the unit's symbols in `syms`. Returns the number of
 * errors; on errors the caller rolls `syms` back. `interner` makes the dotted names of model
 * params and data fields; `arena` is the unit's (sema results live as long as the AST);
 * `sources` gives a model's source text for checkpoints. `files` is the policy that the data
 * files read while checking go through (NULL: none; see sandbox.h). `limits`: the memory
 * those files (csv, a split's row list) may take, the memory limit less what the session
 * holds, and the Ctrl-C flag that stops reading them (data.h; NULL: no limits). */
struct Sandbox;
int sema_check(AstList *stmts, SymbolTable *syms, DiagSink *diag, Interner *interner,
               Arena *arena, const struct Sandbox *files, const DataLimits *limits);

#endif
