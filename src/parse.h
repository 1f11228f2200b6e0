/* parse.h — what the generated lexer and parser share with the rest of the front end. */
#ifndef NN_PARSE_H
#define NN_PARSE_H

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "intern.h"

#define NN_MAX_NESTING 64     /* open brackets at once; deeper input is refused */
#define NN_MAX_ERRORS 20      /* stop reporting after this many syntax errors */

typedef struct ParseCtx {
    Arena *arena;
    Interner *interner;
    DiagSink *diag;
    uint32_t source;
    const char *text;
    size_t len;
    AstList stmts;          /* the result: statements in order */
    /* lexer state */
    uint32_t pos;           /* byte offset of the next character */
    bool at_line_start;     /* no token since the last NEWLINE: blank lines make no tokens */
    struct { char ch; Span span; } open[NN_MAX_NESTING];
    int depth;
    Span last_lex_error;    /* a syntax error at the same place is not reported twice */
    bool had_lex_error;
    bool incomplete;        /* the input ended inside a bracket (the REPL reads more) */
    uint32_t last_end;      /* where the last real token ended (errors at end of input) */
    /* the statement being read, for "unknown statement 'parm'; did you mean 'param'?" */
    bool stmt_start;        /* the next token starts a statement */
    int stmt_tokens;        /* tokens of the statement so far */
    const char *stmt_word;  /* its first token, when that is a name; else NULL */
    Span stmt_word_span;
    uint32_t tok_start;     /* where the token being read starts */
    const char *last_ident; /* the name the lexer returned last */
    int errors;
} ParseCtx;

/* Counts an error; true if it should still be reported (the first NN_MAX_ERRORS are; the
 * next one becomes a "too many errors" note). */
bool parse_count_error(ParseCtx *ctx, Span at);

/* Parses ctx->text into ctx->stmts, reporting through ctx->diag. Returns the number of
 * errors (0 = success). */
int parse_unit(ParseCtx *ctx);

#endif
