/* sema_expr.h — the checker's expression layer (sema_expr.c), standing on sema_core.h: names,
 * calls of built-ins, operators, fields, constants, and applying a model to an input (which is
 * an expression too). The statement checkers stand on this. */
#ifndef NN_SEMA_EXPR_H
#define NN_SEMA_EXPR_H

#include "sema_core.h"

/* Checks an expression and annotates it (e->sema: op, shape, grad, constant value). Reports
 * every mistake found and returns false if there was one. Refuses nesting deeper than the
 * limit instead of recursing into it. */
bool sema_expr(Sema *s, AstNode *e);

/* Attributes with nothing set (the axis is NN_AXIS_ALL), for running a shape rule. */
OpAttrs sema_no_attrs(void);

/* A compile-time constant integer (a size, an axis, a seed) in [lo, hi]: checks `e` and reads
 * it into *out. `what` names it in messages ("the batch size must be at least 1, not 0"). */
bool sema_const_int(Sema *s, AstNode *e, const char *what, double lo, double hi, long *out);
/* A compile-time constant finite number: checks `e` and reads it into *out. */
bool sema_const_number(Sema *s, AstNode *e, const char *what, double *out);
/* The messages of sema_const_int for a value out of [lo, hi]: "WHAT must be at least LO, not V"
 * and "WHAT must be at most HI, not V". */
void sema_too_small(Sema *s, Span at, const char *what, double lo, double v);
void sema_too_large(Sema *s, Span at, const char *what, double hi, double v);

/* The initialiser of dense(..., init = NAME) so named (src/layers.def): its op in *op. False if
 * there is none. */
bool sema_initialiser(const char *name, OpKind *op);
/* An initialiser's first name in the table ("he" for OP_HE), as a model's summary shows it. */
const char *sema_init_name(OpKind op);
/* "unknown initialiser 'hee'; did you mean 'he'?", or else the list of initialisers, at v. */
void sema_unknown_init(Sema *s, const AstNode *v);

/* `net(x)`: checks the application of a model to an input of shape `in` (for a formula model,
 * on a fresh copy of its body, so each input shape gets its own checked body). The result, in
 * *app, is for lowering. Reports at `at`, with a note there for mistakes inside the formula. */
bool sema_apply_model(Sema *s, Symbol *model, const Shape *in, Span at, ModelApp *app);

/* Checks the names a function's body uses, when it is defined (the shapes are checked at each
 * call). Reports unknown ones; false if there was one. */
bool sema_fn_names(Sema *s, Symbol *fn);
/* Whether `name` is a function the language has: an op that is called, an initialiser, a data
 * function, a function of src/builtins.def, labels or summary. */
bool sema_builtin_function(const char *name);
/* Whether a checked expression reads `sym` (through function calls too). */
bool sema_uses(const AstNode *e, const Symbol *sym);

/* The path a field expression names below its root: "layer1.W" for net.layer1.W, "" for a bare
 * name; the root's symbol (or NULL) in *root. NULL if `e` is not a dotted name. */
const char *sema_field_path(Sema *s, AstNode *e, Symbol **root);
/* The param a field path names (for .grad): a param's name or model.param, or NULL. */
Symbol *sema_param_path(Sema *s, AstNode *e);

#endif
