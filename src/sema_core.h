/* sema_core.h — the bottom layer of the checker, which every other sema_*.c file stands on:
 * the checker's state, reporting, the symbol table, "did you mean" suggestions and reading a
 * call's arguments by position or name. Nothing here checks an expression (sema_expr.h does). */
#ifndef NN_SEMA_CORE_H
#define NN_SEMA_CORE_H

#include "intern.h"
#include "sema.h"
#include "strbuf.h"
#include "words.h"

#define MAX_ELEMENTS (1u << 28)     /* 1 GiB of float32 in one tensor */
#define MAX_DATA_ROWS 10000000      /* rows of a data set, and so of a batch */

/* For sema_arg's `pos`: an argument that can only be given by name (no position matches). */
#define SEMA_NAMED_ONLY (-1)

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
    const struct Sandbox *files;    /* how data files are opened (sandbox.h), or NULL */
    int errors;
    int depth;                      /* of the expression being checked */
    bool too_deep;                  /* reported for this statement already */
    LocalName *locals;              /* names of blocks, functions, formulas, innermost last (in
                                       the unit's arena; grows) */
    int n_locals, cap_locals;
    int locals_floor;               /* lookups see locals from here on (a function's body sees
                                       its parameters, not its caller's names) */
    size_t horizon;                 /* ... and the session's first `horizon` symbols (SIZE_MAX:
                                       all; a function's body: those before its definition) */
    int blocks;                     /* loops and ifs around the statement being checked */
    int loops;                      /* loops around it */
    SemaBlock *loop;                /* the innermost of them (what break and continue leave) */
    SemaBlock *open;                /* the innermost block, loop or if (SemaBlock.outer: the
                                       others) */
    AstList *unit;                  /* the unit's statements, and the index of the one being */
    size_t stmt_index;              /* checked: "defined later, at line N" */
    DataLimits limits;              /* the memory and time those data files may take */
    int train_formula;              /* checking a `train LOSS { }` block's formula (1), where a
                                       model applied evaluates; 2 once that was warned about */
} Sema;

/* ---- reporting ---------------------------------------------------------------------------- */

/* Reports an error at `at` and counts it; after the 20th only counts (a note says so once). */
void sema_error(Sema *s, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A warning: the script runs, but probably not as its author meant. */
void sema_warning(Sema *s, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note after an error (skipped once errors are no longer shown). */
void sema_note(Sema *s, Span at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error with its location in a data file (a CSV, a row list) rather than in the script.
 * Counted like sema_error's, but shown even past the 20th. */
void sema_file_error(Sema *s, const char *file, int line, int col, const char *msg);
/* "'backward' needs a scalar": reports and returns false unless e (checked) is a scalar. */
bool sema_scalar(Sema *s, AstNode *e, const char *stmt);

/* ---- symbols and the unit's memory -------------------------------------------------------- */

/* A name in scope: locals first, then the session's symbols. NULL if there is none. */
Symbol *sema_lookup(Sema *s, const char *name);
/* Defines a new symbol in the session's table (shadowing any of that name); owned there. Its
 * label (what traces call it) carries a subscript when the name was defined before. */
Symbol *sema_add_symbol(Sema *s, const char *name, SymKind kind, Span decl);
/* Makes `sym` visible as `name` in the innermost scope (until the caller pops it by setting
 * n_locals back). */
void sema_push_local(Sema *s, const char *name, Symbol *sym);
/* A new symbol in the unit's arena, visible as a local (a loop's variable, a let inside a
 * block, a function's parameter). */
Symbol *sema_new_local(Sema *s, const char *name, SymKind kind, Span decl);
/* Defines a name where the statement being checked is: in the session's table at the top of a
 * unit, as a local of the block inside a loop or an if. */
Symbol *sema_define(Sema *s, const char *name, SymKind kind, Span decl);
/* The node's extra results for lowering, allocated (zeroed) in the unit's arena on first use. */
SemaExtra *sema_extra(Sema *s, AstNode *n);
/* The session's copy of a C string (identifiers are compared by pointer). */
const char *sema_intern(Sema *s, const char *text);
/* "net" + "layer1.W" -> "net.layer1.W", interned. */
const char *sema_dotted(Sema *s, const char *a, const char *b);
/* A string literal's text, copied into the unit's arena. */
const char *sema_text(Sema *s, const AstNode *str);
/* The buffer's text as an nn_alloc'ed string (the caller owns it); frees the buffer. */
char *sema_take_text(StrBuf *sb);
/* How messages name a kind of symbol: "param", "let", "model", "data set". */
const char *sema_kind_word(SymKind k);

/* ---- suggestions: see words.h --------------------------------------------------------- */

/* Writes `words` as a list: "a", "a and b", "a, b and c" (`last` is "and" or "or"). */
void sema_list_words(StrBuf *sb, const char *const *words, size_t n, const char *last);

/* ---- arguments by position and name ------------------------------------------------------
 * A call's arguments are BIND nodes: u.bind.name is NULL for a positional argument. These only
 * read the list and report; checking values is sema_expr.h's (constants) and sema_args.h's. */

/* How many arguments are given by position. */
int sema_npos(const AstList *args);
/* The value of the argument at position `pos` (counting positional arguments only), or else
 * the one named `name` (NULL: none); SEMA_NAMED_ONLY as pos matches by name only. Reports
 * nothing; returns NULL if absent. */
AstNode *sema_arg(const AstList *args, int pos, const char *name);
/* Reports, and returns true, when the argument at position `pos` is also given by `name`
 * (Python's rule). */
bool sema_given_twice(Sema *s, const AstList *args, int pos, const char *name);
/* Checks the names of named arguments: each must be `allowed` (NULL: none may be named) and
 * given once. Reports every bad one ("'sum' has no argument 'dim' (it takes 'axis')") and
 * returns false if there was any. */
bool sema_named(Sema *s, const AstList *args, const char *fn, const char *allowed);

/* ---- word tables ---------------------------------------------------------------------------- */

/* Whether `name` is a data function (src/datafns.def): csv, moons, split, ... */
bool sema_is_data_fn(const char *name);
/* Offers every data function's name to a suggestion. */
void sema_offer_data_fns(Suggest *sg);

#endif
