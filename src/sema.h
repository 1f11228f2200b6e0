/* sema.h — names and shapes: checks a parsed unit against the session's symbols before
 * anything runs, annotating each expression with its op, shape and constant arguments. */
#ifndef NN_SEMA_H
#define NN_SEMA_H

#include "ast.h"
#include "diag.h"

typedef enum SymKind { SYM_LET, SYM_PARAM } SymKind;

/* A name the program defined. Lives for the session (the REPL keeps adding). */
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
} Symbol;

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
 * errors; on errors the caller rolls `syms` back. */
int sema_check(AstList *stmts, SymbolTable *syms, DiagSink *diag);

#endif
