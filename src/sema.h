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

typedef enum SymKind { SYM_LET, SYM_PARAM, SYM_MODEL, SYM_DATA } SymKind;

struct Model;
struct DataSym;
typedef struct Symbol {
    const char *name;       /* interned */
    SymKind kind;
    Shape shape;
    bool grad;              /* depends on a param */
    Span decl;              /* where it was defined */
    bool poisoned;          /* its definition failed: uses are not reported again */
    bool is_const;          /* a let of a constant number: usable where constants are */
    double const_value;
    uint32_t node;          /* its graph node, set by lowering */
    bool has_node;
    struct Model *model;    /* SYM_MODEL, owned */
    struct DataSym *data;   /* SYM_DATA, owned */
} Symbol;

/* ---- models ------------------------------------------------------------------------------
 * A model is a list of layers (residual blocks are bracketed by BEGIN/END entries) or a set of
 * params with a forward formula. Its params are ordinary param symbols named "net.layer1.W". */

typedef enum LayerKind {
    LAYER_DENSE, LAYER_ACT, LAYER_DROPOUT, LAYER_RES_BEGIN, LAYER_RES_END
} LayerKind;

typedef struct Layer {
    LayerKind kind;
    Span span;
    OpKind op;              /* ACT: the activation's op */
    float alpha;            /* leaky_relu's slope */
    float p;                /* dropout's probability */
    int in, out;            /* widths before and after the layer */
    int index;              /* DENSE: 1, 2, ... (its params are layerN.W, layerN.b) */
    OpKind init;            /* DENSE: how W is initialised */
    Symbol *W, *b;
    const char *group;      /* DENSE and the activations and dropout after it: "net.layer1"
                               (interned), what a trace's `at` names; else NULL */
} Layer;

typedef struct Model {
    const char *name;
    Layer *layers;
    int n_layers;
    int in, out;            /* layer models: input and output widths */
    bool formula;           /* params and forward(x) = ... */
    Symbol **params;        /* every param, in declaration order */
    const char **param_names;   /* their names inside the model: "layer1.W", "w" */
    int n_params;
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

typedef struct SemaTrain {
    bool over_data;         /* train MODEL on X, Y; else train LOSS */
    Symbol *model;
    OpKind loss;
    bool metric;            /* report accuracy */
    int rows, train_rows, val_rows, batch, rest;
    ModelApp batch_app, rest_app, train_app, val_app;
    bool has_val, val_given;
    AstNode *vx, *vy;       /* validation set given as data */
    int epochs, accumulate, log_every, patience, trace_step, trace_every;
    double clip;
    OptimConfig optim;      /* also the optimizer of a `step` statement */
    Schedule sched;
    const char *resume;     /* a checkpoint to continue from, or NULL */
    TraceFocus focus;       /* trace step N at PLACES (in the unit's arena) */
    long break_step;        /* break step N: stop before update N (0: no) */
    bool break_nonfinite;   /* break nonfinite */
    double break_grad_norm; /* break grad_norm X: stop when the gradient norm is above X (0: no) */
} SemaTrain;

/* Per-node results for lowering that do not fit AstNode.sema. */
typedef struct SemaExtra {
    ModelApp app;           /* CALL of a model */
    SemaData data;          /* LET / LET_MANY of a data function */
    SemaTrain train;        /* TRAIN */
    const char *text;       /* print of a model or data set: the text */
    DataSym *labels;        /* print labels(data, scores): the class names */
    const char *path;       /* SAVE, LOAD: the file */
    TraceFocus focus;       /* TRACE ... at PLACES (in the unit's arena) */
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
 * `sources` gives a model's source text for checkpoints. */
int sema_check(AstList *stmts, SymbolTable *syms, DiagSink *diag, Interner *interner,
               Arena *arena);

#endif
