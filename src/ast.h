/* ast.h — the syntax tree of one compilation unit (a file, a -e string, one REPL input).
 *
 * Design: every node lives in the unit's arena and carries the span of source that made it.
 * The parser fills the syntactic fields; sema (names and shapes) fills the `sema` part, so
 * that lowering to the graph is a plain translation that cannot fail. The AST is dropped
 * after lowering; nothing in the runtime points into it. */
#ifndef NN_AST_H
#define NN_AST_H

#include "arena.h"
#include "ops.h"
#include "tensor.h"

typedef enum AstKind {
    /* expressions */
    AST_NUM,        /* 2, 0.5, 1e-3 */
    AST_STRING,     /* "text" (printed, or a file name) */
    AST_TENSOR,     /* [1, 2], [[1, 2], [3, 4]] */
    AST_NAME,       /* x */
    AST_UNARY,      /* -x */
    AST_BINARY,     /* a + b, a @ b, a ^ b, ... */
    AST_CALL,       /* f(x, axis = 1) */
    AST_ARG,        /* one argument of a call: value, or name = value */
    AST_FIELD,      /* x.grad, x.T */
    AST_INDEX,      /* X[i], X[a:b, j] */
    AST_RANGE,      /* a:b inside a subscript (either end may be NULL) */
    /* statements */
    AST_LET,        /* let NAME = expr */
    AST_PARAM,      /* param NAME = expr */
    AST_ASSIGN,     /* NAME = expr (a param's new value) */
    AST_PRINT,      /* print a, "text", b */
    AST_BACKWARD,   /* backward expr */
    AST_TRACE,      /* trace expr */
    AST_STEP,       /* step sgd(lr = 0.1) */
    AST_ZERO_GRAD,  /* zero_grad */
    AST_SEED,       /* seed 42 */
    AST_EXPR,       /* expr (its value is printed) */
    AST_LET_MANY,   /* let a, b = split(d, 0.8) */
    AST_MODEL,      /* model NAME { items } */
    AST_RESIDUAL,   /* residual { items }, inside a model */
    AST_FORWARD,    /* forward(x) = expr, inside a model */
    AST_TRAIN,      /* train MODEL on X, Y { settings } or train LOSS { settings } */
    AST_SETTING,    /* one line of a train block: NAME [WORD] [value] */
    AST_SAVE,       /* save MODEL "file" */
    AST_LOAD,       /* load MODEL "file" */
    AST_GRADCHECK,  /* gradcheck expr */
    AST_PLACE,      /* where a trace looks: net.layer1, or one unit net.layer1[3] */
    AST_FOR,        /* for k in a..b { body } */
    AST_REPEAT,     /* repeat n { body } */
    AST_WHILE,      /* while cond { body } */
    AST_IF,         /* if cond { then } else { els } */
    AST_BREAK,      /* break: leave the innermost loop */
    AST_CONTINUE,   /* continue: its next iteration */
    AST_FN,         /* fn name(a, b) = expr */
} AstKind;

/* Operator codes in op.op: the operator's own character for one-character operators
 * (+ - * / ^ @ < >), and these for the others. */
enum {
    AST_OP_LE = 256, AST_OP_GE, AST_OP_EQ, AST_OP_NE, AST_OP_AND, AST_OP_OR, AST_OP_NOT,
};

typedef struct AstNode AstNode;

typedef struct AstList {
    AstNode **items;
    size_t count, cap;
} AstList;

struct Symbol;

struct AstNode {
    AstKind kind;
    Span span;
    union {
        double num;
        struct { const char *text; size_t len; } str;       /* unescaped, arena-owned */
        const char *name;                                   /* AST_NAME */
        struct { int op; AstNode *a, *b; } op;              /* UNARY (b NULL), BINARY;
                                                               RANGE: a:b, either may be NULL */
        struct { const char *name; Span name_span; AstList args;
                 AstList targets; } call;           /* CALL; STEP (targets: `step sgd() net`) */
        struct { const char *name; Span name_span; AstNode *value;
                 int op; } bind;                    /* ARG, LET, PARAM, ASSIGN; ARG name may be
                                                       NULL; ASSIGN op: '+' for +=, ..., or 0 */
        struct { AstNode *obj; AstList subs; } index;       /* INDEX: subs are exprs, RANGEs */
        struct { AstNode *a, *b; AstList body;
                 const char *var; Span var_span; } loop;    /* FOR (var in a..b), REPEAT (a
                                                               times), WHILE (a is the test) */
        struct { AstNode *cond; AstList then, els; bool has_else; } iff;   /* IF; an `else if`
                                                               is an els of one IF */
        struct { const char *name; Span name_span; AstList params;
                 AstNode *body; } fn;               /* FN: params are AST_NAMEs */
        struct { AstNode *obj; const char *field; Span field_span; } field;
        AstList list;                                       /* TENSOR elements, PRINT items,
                                                               ZERO_GRAD's targets */
        AstNode *expr;                                      /* BACKWARD, EXPR, SEED */
        struct { AstNode *expr; AstList places; } trace;    /* TRACE expr [at places] */
        struct { AstNode *path; Span unit_span; int n_units;
                 AstNode *unit[3]; } place;     /* PLACE: net.layer1, or with the numbers in
                                                   [ ] (a unit; a conv pixel c, i, j) */
        struct { const char *name; Span name_span; AstList items; } block; /* MODEL; RESIDUAL
                                                                (name NULL) */
        struct { const char *arg; Span arg_span; AstNode *body; } fwd;     /* FORWARD */
        struct { AstNode *target; AstNode *x, *y; AstList settings; } train; /* TRAIN: target
                                                is the model's NAME (x set) or the loss */
        struct { const char *name; Span name_span; const char *word; AstNode *value;
                 AstList places; const char *per; Span per_span;
                 AstNode *then; } setting;  /* places: trace step N at PLACES; per: schedule S
                                     per update (or NULL); then: schedule A then B */
        struct { const char *name; Span name_span; AstNode *path; } file; /* SAVE, LOAD */
        struct { AstList names; AstNode *value; } many;     /* LET_MANY: names are AST_NAMEs */
    } u;
    /* filled by sema */
    struct {
        Shape shape;
        bool grad;              /* depends on a param */
        bool is_const;          /* a compile-time constant (literals, arithmetic on them) */
        double const_value;     /* its value, when is_const and scalar */
        OpKind op;              /* the op this expression becomes */
        OpAttrs attrs;
        struct Symbol *sym;     /* AST_NAME, and the declared symbol of LET/PARAM/ASSIGN */
        AstNode *operand;       /* CALL: the argument that is the op's input (if any) */
        AstNode *operand2;      /* CALL: the second input of a two-input op (losses) */
        struct SemaExtra *extra;    /* statements and calls that need more (models, data, train) */
        size_t syms_after;      /* a statement of the unit: the symbol table's size after it */
    } sema;
};

/* Binary operator codes used in op.op: the operator's own character, and '@' '^'. */

AstNode *ast_new(Arena *a, AstKind kind, Span span);
void ast_list_push(Arena *a, AstList *l, AstNode *n);
const char *ast_kind_name(AstKind k);
/* An operator code of op.op as written: "+", "<=", "and". */
const char *ast_op_text(int op);
/* Writes an S-expression dump, for tests and `--dump-ast`. */
void ast_dump(const AstNode *n, StrBuf *sb);
/* A deep copy of an expression into another arena (a model's formula is kept for the session
 * and copied into each unit that applies it). Sema fields are not copied. */
AstNode *ast_clone(Arena *a, const AstNode *n);

#endif
