/* sema_args.h — one checker for the arguments of every built-in word that has a table row
 * (layers, data functions, train settings): its arguments are ArgSpec rows (argspec.h), and the
 * checker matches a call's positional and named arguments to them, checks each value (a
 * constant of the right kind, in range) and fills in the defaults, with the same messages for
 * every word. Stands on sema_expr.h, since a constant argument is a checked expression. */
#ifndef NN_SEMA_ARGS_H
#define NN_SEMA_ARGS_H

#include "argspec.h"
#include "sema_expr.h"

/* How a word takes its arguments. `args` lists them with those that may be given by position
 * first: args[0 .. positional-1] may be given by position, in order, and args[named_from ..
 * count-1] by name (so an argument may be either, or both). */
typedef struct ArgForm {
    const ArgSpec *args;
    int count;
    int positional;
    int named_from;
    const char *const *what;    /* NULL, or per argument how messages name it ("the noise");
                                   else the name in quotes ('noise') */
    const char *takes;          /* NULL, or what "'dense' has no argument 'bias' (it takes ...)"
                                   says; else the names that may be named */
    const char *example;        /* a call, for "'csv' needs the name of the target column as a
                                   string: EXAMPLE" (named strings only); may be NULL */
} ArgForm;

/* One argument after sema_args. */
typedef struct ArgValue {
    AstNode *node;          /* the value as written, or NULL when it is not given */
    double num;             /* NUMBER, INT, FLAG: the value, or the row's default */
    const char *text;       /* STRING: the text (in the unit's arena) */
} ArgValue;

/* Checks the arguments of `call` (an AST_CALL; messages use its name) against `form`, filling
 * out[form->count]. In this order, reporting the first problem of each step:
 *   - names: one no argument has ("'blobs' has no argument 'spread' (it takes 'noise')"; every
 *     one is reported), one given twice by name or both by position and by name;
 *   - counts: more positional arguments than `positional`, or a required argument that may be
 *     given by position missing: then `usage`, a whole message with an example, at the call;
 *   - each argument in row order: a required one given only by name missing, or a value of the
 *     wrong kind or out of range ("the dropout probability must be at least 0 and below 1").
 * ARG_NAME and ARG_SHAPE arguments are passed through unchecked (out[i].node): words of another
 * vocabulary, such as an initialiser, and lists of sizes, which the caller reads. Returns false after reporting. */
bool sema_args(Sema *s, AstNode *call, const ArgForm *form, const char *usage, ArgValue *out);

/* One value against one row: for NUMBER, INT and FLAG a constant of that kind within the row's
 * range, read into *out. `what` names it in messages: "WHAT must be RANGE" with the row's range
 * words, or without them "WHAT must be at least LO, not V" (so a row with an open bound, or a
 * FLAG, needs its words). Reports and returns false if not. */
bool sema_arg_value(Sema *s, AstNode *v, const ArgSpec *spec, const char *what, double *out);

#endif
