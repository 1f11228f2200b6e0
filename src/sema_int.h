/* sema_int.h — what the checker's files share: the checker's state and its helpers for
 * reporting errors and reading call arguments. sema.c checks expressions and the core
 * statements; sema_nets.c checks models, data sets, train blocks and checkpoints. */
#ifndef NN_SEMA_INT_H
#define NN_SEMA_INT_H

#include "intern.h"
#include "sema.h"

#define MAX_ELEMENTS (1u << 28)     /* 1 GiB of float32 in one tensor */

/* A name visible only inside a model's formula: its argument, and its params by short name. */
typedef struct LocalName {
    const char *name;
    Symbol *sym;
} LocalName;

typedef struct Sema {
    SymbolTable *syms;
    DiagSink *diag;
    Interner *interner;
    Arena *arena;                   /* the unit's */
    int errors;
    int depth;                      /* of the expression being checked */
    bool too_deep;                  /* reported for this statement already */
    LocalName locals[64];
    int n_locals;
} Sema;

void sema_error(Sema *s, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note after an error (skipped once errors are no longer shown). */
void sema_note(Sema *s, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool sema_expr(Sema *s, AstNode *e);
OpAttrs sema_no_attrs(void);
bool sema_apply_shape(Sema *s, AstNode *e, OpKind op, AstNode *const *in, int n);
bool sema_const_int(Sema *s, AstNode *e, const char *what, double lo, double hi, long *out);
bool sema_const_number(Sema *s, AstNode *e, const char *what, double *out);
bool sema_scalar(Sema *s, AstNode *e, const char *stmt);
int sema_npos(const AstList *args);
bool sema_given_twice(Sema *s, const AstList *args, int pos, const char *name);
AstNode *sema_arg(const AstList *args, int pos, const char *name);
bool sema_named(Sema *s, const AstList *args, const char *fn, const char *allowed);
/* A name in scope: locals first, then the session's symbols. */
Symbol *sema_lookup(Sema *s, const char *name);
SemaExtra *sema_extra(Sema *s, AstNode *n);
const char *sema_intern(Sema *s, const char *text);
/* "net" + "layer1.W" -> "net.layer1.W", interned. */
const char *sema_dotted(Sema *s, const char *a, const char *b);
Symbol *sema_add_symbol(Sema *s, const char *name, SymKind kind, Span decl);

/* sema_nets.c */
void sema_symbol_free(Symbol *sym);
bool sema_is_data_fn(const char *name);
/* `net(x)`: checks the application of a model to an input of shape `in`. */
bool sema_apply_model(Sema *s, Symbol *model, const Shape *in, Span at, ModelApp *app);
bool sema_model_call(Sema *s, AstNode *call, Symbol *model);
/* Fields: data.X, data.Y, net.layer1.W, neuron.w. Returns false if not such a field
 * (nothing reported) and sets *handled when it reported an error. */
bool sema_net_field(Sema *s, AstNode *e, bool *handled);
/* The param a field path names (for .grad), or NULL. */
Symbol *sema_param_path(Sema *s, AstNode *e);
/* The places of `trace ... at PLACES` as layers of models; `model`: those of a train block,
 * where a bare `layer1` is a layer of that model (else NULL). Reports and returns false on a
 * bad place. */
bool sema_trace_places(Sema *s, const AstList *places, Symbol *model, TraceFocus *out);
void sema_check_model(Sema *s, AstNode *st);
void sema_check_data_let(Sema *s, AstNode *st);
void sema_check_train(Sema *s, AstNode *st);
void sema_check_file(Sema *s, AstNode *st);
void sema_check_step(Sema *s, AstNode *st);
/* print net / print iris / summary(net): the text to print, or NULL (not such an item). */
const char *sema_print_text(Sema *s, AstNode *item);
/* print labels(data, scores): checks it; true if the item is such a call. */
bool sema_print_labels(Sema *s, AstNode *item);

#endif
