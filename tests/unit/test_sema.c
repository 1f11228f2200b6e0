/* test_sema.c — the checker (src/sema*.c): inferred shapes and annotations through
 * sema_check, every message sema can produce with its exact text and location, that a unit
 * which fails to compile defines nothing (through nn.h), and the suggestions behind "did you
 * mean". */
#include "testutil.h"

#include "nn.h"
#include "parse.h"
#include "sema.h"
#include "sema_args.h"
#include "source.h"
#include "strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A session as state.c keeps one: symbols persist across units; a unit with errors is
 * rolled back. Each unit gets its own arena so its AST stays inspectable until teardown. */
typedef struct Fixture {
    Interner interner;
    SourceTable sources;
    SymbolTable syms;
    DiagSink diag;
    StrBuf msgs;            /* every rendered message of the last unit */
    Arena arenas[64];
    int nunits;
    AstList stmts;          /* the last unit's statements */
} Fixture;

static void capture(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    intern_init(&f->interner);
    source_table_init(&f->sources);
    symtab_init(&f->syms);
    sb_init(&f->msgs);
    f->diag.sources = &f->sources;
    f->diag.emit = capture;
    f->diag.ud = &f->msgs;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    for (int i = 0; i < f->nunits; i++) arena_free(&f->arenas[i]);
    sb_free(&f->msgs);
    symtab_free(&f->syms);
    source_table_free(&f->sources);
    intern_free(&f->interner);
    free(f);
    return 0;
}

static const char *text_of(const StrBuf *sb)
{
    return sb->data ? sb->data : "";
}

/* Parses `code` as "t.nn" (which must succeed) into f->stmts, in a new arena. */
static Arena *parse_at(Fixture *f, const char *code, const char *file, int line)
{
    if (f->nunits == (int)NN_ARRAY_LEN(f->arenas)) {
        print_error("too many units in one test\n");
        _fail(file, line);
    }
    Arena *arena = &f->arenas[f->nunits++];
    arena_init(arena);
    uint32_t id = source_add(&f->sources, "t.nn", code, strlen(code));
    const Source *src = source_get(&f->sources, id);
    ParseCtx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.arena = arena;
    ctx.interner = &f->interner;
    ctx.diag = &f->diag;
    ctx.source = id;
    ctx.text = src->text;
    ctx.len = src->len;
    sb_clear(&f->msgs);
    if (parse_unit(&ctx) != 0) {
        print_error("syntax error in %s\n%s", code, text_of(&f->msgs));
        _fail(file, line);
    }
    f->stmts = ctx.stmts;
    return arena;
}

/* Parses `code` and checks it; returns sema's error count. On errors the unit's symbols are
 * dropped, as nn_run_string does. */
static int compile_at(Fixture *f, const char *code, const char *file, int line)
{
    Arena *arena = parse_at(f, code, file, line);
    size_t nsyms = f->syms.count;
    int errors = sema_check(&f->stmts, &f->syms, &f->diag, &f->interner, arena, NULL, NULL);
    if (errors) symtab_truncate(&f->syms, nsyms);
    return errors;
}

/* Compiles without any message. */
static void check_ok_at(Fixture *f, const char *code, const char *file, int line)
{
    int errors = compile_at(f, code, file, line);
    if (errors != 0 || f->msgs.len != 0) {
        print_error("checking %s\ngave %d error(s):\n%s", code, errors, text_of(&f->msgs));
        _fail(file, line);
    }
}
#define check_ok(f, code) check_ok_at((f), (code), __FILE__, __LINE__)

/* Fails with exactly `nerrors` errors and the rendered messages `want`. */
static void check_error_at(Fixture *f, const char *code, int nerrors, const char *want,
                           const char *file, int line)
{
    int errors = compile_at(f, code, file, line);
    _assert_string_equal(text_of(&f->msgs), want, file, line);
    _assert_int_equal((uintmax_t)errors, (uintmax_t)nerrors, file, line);
}
#define check_error(f, code, n, want) check_error_at((f), (code), (n), (want), __FILE__, __LINE__)

/* The expression of the last statement of the last unit (EXPR, LET, PARAM, ASSIGN). */
static AstNode *last_expr(Fixture *f)
{
    assert_true(f->stmts.count > 0);
    AstNode *st = f->stmts.items[f->stmts.count - 1];
    switch (st->kind) {
    case AST_EXPR: return st->u.expr;
    case AST_LET:
    case AST_PARAM:
    case AST_ASSIGN: return st->u.bind.value;
    default: fail_msg("statement '%s' has no expression", ast_kind_name(st->kind));
    }
    return NULL;
}

/* `code` checks cleanly and its last expression has shape `want` ("[4,3]", "[]"). */
static void check_shape_at(Fixture *f, const char *code, const char *want, const char *file,
                           int line)
{
    check_ok_at(f, code, file, line);
    char buf[64];
    _assert_string_equal(shape_str(&last_expr(f)->sema.shape, buf, sizeof buf), want, file,
                         line);
}
#define check_shape(f, code, want) check_shape_at((f), (code), (want), __FILE__, __LINE__)

/* ---- shapes ---------------------------------------------------------------------------------- */

static void test_shape_literals(void **state)
{
    Fixture *f = *state;
    check_shape(f, "2", "[]");
    check_shape(f, "-2", "[]");
    check_shape(f, "[1, 2, 3]", "[3]");
    check_shape(f, "[[0, 0], [0, 1], [1, 0]]", "[3,2]");
    check_shape(f, "[[[1], [2]]]", "[1,2,1]");
    check_shape(f, "[[[[[[1]]]]]]", "[1,1,1,1,1,1]");
    check_shape(f, "[-1, 2 * 3, 2^0.5]", "[3]");
}

static void test_shape_broadcasting(void **state)
{
    Fixture *f = *state;
    check_ok(f, "let M = ones(4, 3)\nlet v = ones(3)\nlet c = ones(4, 1)\nlet r = ones(1, 3)");
    check_shape(f, "M + v", "[4,3]");
    check_shape(f, "v * M", "[4,3]");
    check_shape(f, "c - r", "[4,3]");
    check_shape(f, "c / v", "[4,3]");
    check_shape(f, "M ^ 2", "[4,3]");
    check_shape(f, "2 - v", "[3]");
    check_shape(f, "v + [1]", "[3]");
    check_shape(f, "ones(2, 1, 3) * ones(4, 1)", "[2,4,3]");
    check_shape(f, "-M", "[4,3]");
    check_shape(f, "M + M", "[4,3]");
}

static void test_shape_matmul(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param W = ones(4, 3)\nlet x = ones(3)\nlet X = ones(3, 2)");
    check_shape(f, "W @ X", "[4,2]");      /* matrix @ matrix */
    check_shape(f, "W @ x", "[4]");        /* matrix @ vector */
    check_shape(f, "x @ X", "[2]");        /* vector @ matrix */
    check_shape(f, "x @ x", "[]");         /* vector @ vector: the dot product */
    check_shape(f, "W @ X @ ones(2, 5)", "[4,5]");
    check_shape(f, "ones(1, 3) @ x", "[1]");
    check_ok(f, "W @ x");
    assert_int_equal(last_expr(f)->sema.op, OP_MATMUL);
    assert_true(last_expr(f)->sema.grad);
}

static void test_shape_reductions(void **state)
{
    Fixture *f = *state;
    check_ok(f, "let X = ones(2, 3)\nlet T = ones(2, 3, 4)");
    check_shape(f, "sum(X)", "[]");
    check_shape(f, "mean(X)", "[]");
    check_shape(f, "sum(X, 0)", "[3]");
    check_shape(f, "sum(X, axis = 1)", "[2]");
    check_shape(f, "mean(T, 1)", "[2,4]");
    check_shape(f, "sum(2)", "[]");
    check_shape(f, "sum(ones(5), 0)", "[]");
    check_shape(f, "sum(X) + 1", "[]");

    /* a negative axis counts from the end and is stored as the positive one */
    check_shape(f, "sum(X, -1)", "[2]");
    assert_int_equal(last_expr(f)->sema.attrs.axis, 1);
    check_shape(f, "mean(X, axis = -2)", "[3]");
    assert_int_equal(last_expr(f)->sema.attrs.axis, 0);
    check_shape(f, "sum(T, -3)", "[3,4]");
    assert_int_equal(last_expr(f)->sema.attrs.axis, 0);
    check_shape(f, "sum(X, 1 - 2)", "[2]");     /* constant arithmetic is a constant */
    check_shape(f, "sum(X)", "[]");
    assert_int_equal(last_expr(f)->sema.attrs.axis, NN_AXIS_ALL);
    assert_int_equal(last_expr(f)->sema.op, OP_SUM);
}

static void test_shape_transpose(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param W = ones(4, 3)");
    check_shape(f, "W.T", "[3,4]");
    check_shape(f, "W.T.T", "[4,3]");
    check_shape(f, "transpose(W)", "[3,4]");
    check_shape(f, "W.T @ ones(4)", "[3]");
    check_shape(f, "ones(3).T", "[3]");
    check_shape(f, "(2).T", "[]");
    assert_int_equal(last_expr(f)->sema.op, OP_TRANSPOSE);
}

static void test_shape_constructors(void **state)
{
    Fixture *f = *state;
    check_shape(f, "zeros(2, 3)", "[2,3]");
    check_shape(f, "ones(4)", "[4]");
    check_shape(f, "full(2, 2, 0.5)", "[2,2]");
    assert_true(last_expr(f)->sema.attrs.fill == 0.5f);
    check_shape(f, "full(7, -1)", "[7]");
    check_shape(f, "rand(2, 3)", "[2,3]");
    check_shape(f, "randn(1, 2, 3)", "[1,2,3]");
    check_shape(f, "eye(3)", "[3,3]");
    check_shape(f, "zeros(2 * 3, 1 + 1)", "[6,2]");
    check_shape(f, "zeros(1, 1, 1, 1, 1, 1)", "[1,1,1,1,1,1]");
    check_shape(f, "zeros(16384, 16384)", "[16384,16384]");    /* exactly the limit */
    assert_int_equal(last_expr(f)->sema.op, OP_ZEROS);
}

static void test_shape_functions(void **state)
{
    Fixture *f = *state;
    check_ok(f, "let X = ones(2, 3)");
    const char *const unary[] = { "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu",
                                  "softplus" };
    for (size_t i = 0; i < NN_ARRAY_LEN(unary); i++) {
        char code[64];
        snprintf(code, sizeof code, "%s(X)", unary[i]);
        check_shape(f, code, "[2,3]");
    }
    check_shape(f, "leaky_relu(X)", "[2,3]");
    assert_true(last_expr(f)->sema.attrs.alpha == 0.01f);
    check_shape(f, "leaky_relu(X, a = 0.2)", "[2,3]");
    assert_true(last_expr(f)->sema.attrs.alpha == 0.2f);
    check_shape(f, "sigmoid(2)", "[]");
}

/* A positional slope, as LANGUAGE.md writes it: leaky_relu(x, a). */
static void test_leaky_relu_positional_slope(void **state)
{
    Fixture *f = *state;
    check_shape(f, "leaky_relu(ones(2), 0.2)", "[2]");
    assert_true(last_expr(f)->sema.attrs.alpha == 0.2f);
    check_error(f, "param q = 1\nprint leaky_relu(1, q)", 1,
                "t.nn:2:21: error: the slope 'a' must be a constant number\n"
                "   2 | print leaky_relu(1, q)\n"
                "     |                     ^\n");
}

/* Annotations beyond shapes: constants fold, gradients flow from params. */
static void test_annotations(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = 0.5\nlet x = 2\nlet y = w * x");
    check_ok(f, "2 * 3 + 1");
    AstNode *e = last_expr(f);
    assert_true(e->sema.is_const);
    assert_close(e->sema.const_value, 7, 1e-12);
    check_ok(f, "-(2^3)");
    assert_true(last_expr(f)->sema.is_const);
    assert_close(last_expr(f)->sema.const_value, -8, 1e-12);
    check_ok(f, "x * 2");
    assert_true(last_expr(f)->sema.is_const);      /* a let of a constant is one too */
    assert_close(last_expr(f)->sema.const_value, 4, 1e-12);
    assert_false(last_expr(f)->sema.grad);
    check_ok(f, "w * 2");
    assert_false(last_expr(f)->sema.is_const);     /* a param is learned, not constant */
    check_ok(f, "sum([1, 2])");
    assert_false(last_expr(f)->sema.is_const);     /* calls are not folded */
    check_ok(f, "sigmoid(w * x + 1)");
    assert_true(last_expr(f)->sema.grad);
    check_ok(f, "y");
    assert_true(last_expr(f)->sema.grad);          /* through a let that uses a param */
    assert_non_null(last_expr(f)->sema.sym);
    assert_int_equal(last_expr(f)->sema.sym->kind, SYM_LET);
    check_ok(f, "w.grad");
    assert_int_equal(last_expr(f)->sema.op, OP_GRAD);
    assert_false(last_expr(f)->sema.grad);
    check_ok(f, "[1, 2]");
    assert_int_equal(last_expr(f)->sema.op, OP_CONST);
}

static void test_symbols(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = [1, 2]\nlet x = 3");
    Symbol *w = symtab_find(&f->syms, intern(&f->interner, "w", 1));
    assert_non_null(w);
    assert_int_equal(w->kind, SYM_PARAM);
    assert_true(w->grad);
    assert_int_equal(w->shape.rank, 1);
    assert_int_equal(w->shape.dim[0], 2);
    assert_int_equal(w->decl.start, 6);             /* the name in 'param w' */
    /* declaring a param again with the same shape, or a scalar, keeps the one symbol */
    size_t n = f->syms.count;
    check_ok(f, "param w = [3, 4]\nparam w = 0\nw = [5, 6]\nw = 1");
    assert_int_equal(f->syms.count, n);
    /* a later let shadows */
    check_ok(f, "let x = [1, 2, 3]\nlet y = x");
    check_shape(f, "y", "[3]");
}

/* ---- names ---------------------------------------------------------------------------------- */

static void test_error_unknown_name(void **state)
{
    Fixture *f = *state;
    check_error(f, "print q", 1,
                "t.nn:1:7: error: unknown name 'q'\n"
                "   1 | print q\n"
                "     |       ^\n");
    check_ok(f, "let weight = 1\nlet loss = 1\nlet ab = 2\nlet x = 3");
    check_error(f, "print wieght", 1,
                "t.nn:1:7: error: unknown name 'wieght'; did you mean 'weight'?\n"
                "   1 | print wieght\n"
                "     |       ^~~~~~\n");
    check_error(f, "let z = 1 + lossx", 1,
                "t.nn:1:13: error: unknown name 'lossx'; did you mean 'loss'?\n"
                "   1 | let z = 1 + lossx\n"
                "     |             ^~~~~\n");
    /* no hints for one- and two-letter names: every short name is close to every other */
    check_error(f, "print q + ac", 2,
                "t.nn:1:7: error: unknown name 'q'\n"
                "   1 | print q + ac\n"
                "     |       ^\n"
                "t.nn:1:11: error: unknown name 'ac'\n"
                "   1 | print q + ac\n"
                "     |           ^~\n");
    check_error(f, "print abcxyz", 1,
                "t.nn:1:7: error: unknown name 'abcxyz'\n"
                "   1 | print abcxyz\n"
                "     |       ^~~~~~\n");
    /* every item of a print is checked */
    check_error(f, "print q, \"text\", r", 2,
                "t.nn:1:7: error: unknown name 'q'\n"
                "   1 | print q, \"text\", r\n"
                "     |       ^\n"
                "t.nn:1:18: error: unknown name 'r'\n"
                "   1 | print q, \"text\", r\n"
                "     |                  ^\n");
    /* a name used before its definition in the same unit is unknown, and says where it is */
    check_error(f, "print later\nlet later = 1", 1,
                "t.nn:1:7: error: 'later' is used before its definition: a name can be used only "
                "after the line that defines it\n"
                "   1 | print later\n"
                "     |       ^~~~~\n"
                "t.nn:2:5: note: 'later' is defined here\n"
                "   2 | let later = 1\n"
                "     |     ^~~~~\n");
    /* a function too */
    check_error(f, "let y = f(2)\nfn f(x) = x + 1", 1,
                "t.nn:1:9: error: 'f' is used before its definition: a name can be used only "
                "after the line that defines it\n"
                "   1 | let y = f(2)\n"
                "     |         ^\n"
                "t.nn:2:4: note: 'f' is defined here\n"
                "   2 | fn f(x) = x + 1\n"
                "     |    ^\n");
}

static void test_error_function_as_name(void **state)
{
    check_error(*state, "let y = sigmoid + 1", 1,
                "t.nn:1:9: error: 'sigmoid' is a function; call it, e.g. sigmoid(x)\n"
                "   1 | let y = sigmoid + 1\n"
                "     |         ^~~~~~~\n");
}

/* A definition that fails is reported once: later uses of its name add no errors. */
static void test_no_cascade_after_failed_definition(void **state)
{
    Fixture *f = *state;
    check_error(f, "let x = foo(1)\nprint x + 1\nlet y = sum(x)", 1,
                "t.nn:1:9: error: unknown function 'foo'\n"
                "   1 | let x = foo(1)\n"
                "     |         ^~~\n");
    check_error(f, "param w = nope\nbackward sum(w)\nprint w.grad", 1,
                "t.nn:1:11: error: unknown name 'nope'\n"
                "   1 | param w = nope\n"
                "     |           ^~~~\n");
    /* nor does giving the failed param a value: its shape is unknown, not [] */
    check_error(f, "param w = nope\nw = [1, 2]\nparam w = ones(2, 2)", 1,
                "t.nn:1:11: error: unknown name 'nope'\n"
                "   1 | param w = nope\n"
                "     |           ^~~~\n");
}

/* ---- calls ---------------------------------------------------------------------------------- */

static void test_error_unknown_function(void **state)
{
    Fixture *f = *state;
    check_error(f, "print exp(sigmod(1))", 1,
                "t.nn:1:11: error: unknown function 'sigmod'; did you mean 'sigmoid'?\n"
                "   1 | print exp(sigmod(1))\n"
                "     |           ^~~~~~\n");
    check_error(f, "print foo(1)", 1,
                "t.nn:1:7: error: unknown function 'foo'\n"
                "   1 | print foo(1)\n"
                "     |       ^~~\n");
    /* ops the compiler makes, and operators, are not callable */
    check_error(f, "print neg(1)", 1,
                "t.nn:1:7: error: unknown function 'neg'\n"
                "   1 | print neg(1)\n"
                "     |       ^~~\n");
    check_error(f, "print const(1)", 1,
                "t.nn:1:7: error: unknown function 'const'; did you mean 'concat'?\n"
                "   1 | print const(1)\n"
                "     |       ^~~~~\n");
}

static void test_error_call_a_symbol(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = 1\nlet v = 2");
    check_error(f, "print w(2)", 1,
                "t.nn:1:7: error: 'w' is a param, not a function\n"
                "   1 | print w(2)\n"
                "     |       ^\n");
    check_error(f, "print v(2)", 1,
                "t.nn:1:7: error: 'v' is a let, not a function\n"
                "   1 | print v(2)\n"
                "     |       ^\n");
}

static void test_error_arg_counts(void **state)
{
    Fixture *f = *state;
    check_error(f, "print exp(1, 2)", 1,
                "t.nn:1:7: error: 'exp' takes 1 argument, but 2 were given\n"
                "   1 | print exp(1, 2)\n"
                "     |       ^~~~~~~~~\n");
    check_error(f, "print sigmoid()", 1,
                "t.nn:1:7: error: 'sigmoid' takes 1 argument, but 0 were given\n"
                "   1 | print sigmoid()\n"
                "     |       ^~~~~~~~~\n");
    check_error(f, "print sum()", 1,
                "t.nn:1:7: error: 'sum' takes x and an optional axis (or list of axes): sum(x), "
                "sum(x, axis) or sum(x, [0, 1])\n"
                "   1 | print sum()\n"
                "     |       ^~~~~\n");
    check_error(f, "print mean([1, 2], 0, 1)", 1,
                "t.nn:1:7: error: 'mean' takes x and an optional axis (or list of axes): mean(x), "
                "mean(x, axis) or mean(x, [0, 1])\n"
                "   1 | print mean([1, 2], 0, 1)\n"
                "     |       ^~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print leaky_relu()", 1,
                "t.nn:1:7: error: 'leaky_relu' takes x and an optional slope a: "
                "leaky_relu(x, a = 0.01)\n"
                "   1 | print leaky_relu()\n"
                "     |       ^~~~~~~~~~~~\n");
    check_error(f, "print leaky_relu(1, 2, 3)", 1,
                "t.nn:1:7: error: 'leaky_relu' takes x and an optional slope a: "
                "leaky_relu(x, a = 0.01)\n"
                "   1 | print leaky_relu(1, 2, 3)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print zeros()", 1,
                "t.nn:1:7: error: 'zeros' takes at least one size, e.g. zeros(2, 3)\n"
                "   1 | print zeros()\n"
                "     |       ^~~~~~~\n");
    check_error(f, "print eye(2, 3)", 1,
                "t.nn:1:7: error: 'eye' takes one size: eye(n)\n"
                "   1 | print eye(2, 3)\n"
                "     |       ^~~~~~~~~\n");
    check_error(f, "print full(2)", 1,
                "t.nn:1:7: error: 'full' takes sizes, then the value: full(2, 3, 0.5)\n"
                "   1 | print full(2)\n"
                "     |       ^~~~~~~\n");
}

static void test_error_named_args(void **state)
{
    Fixture *f = *state;
    check_error(f, "print exp(x = 1)", 1,
                "t.nn:1:11: error: 'exp' takes no named arguments\n"
                "   1 | print exp(x = 1)\n"
                "     |           ^\n");
    check_error(f, "print zeros(2, axis = 1)", 1,
                "t.nn:1:16: error: 'zeros' takes no named arguments\n"
                "   1 | print zeros(2, axis = 1)\n"
                "     |                ^~~~\n");
    check_error(f, "print sum([1, 2], x = 0)", 1,
                "t.nn:1:19: error: 'sum' has no argument 'x' (it takes 'axis' and 'keepdim')\n"
                "   1 | print sum([1, 2], x = 0)\n"
                "     |                   ^\n");
    check_error(f, "print leaky_relu(1, b = 2)", 1,
                "t.nn:1:21: error: 'leaky_relu' has no argument 'b' (it takes 'a')\n"
                "   1 | print leaky_relu(1, b = 2)\n"
                "     |                     ^\n");
    check_error(f, "print sum(ones(2), axis = 0, axis = 0)", 1,
                "t.nn:1:30: error: argument 'axis' is given twice\n"
                "   1 | print sum(ones(2), axis = 0, axis = 0)\n"
                "     |                              ^~~~\n");
}

/* An argument given both by position and by name is an error, not a silent choice. */
static void test_error_arg_by_position_and_name(void **state)
{
    Fixture *f = *state;
    check_error(f, "print sum([1, 2], 0, axis = 0)", 1,
                "t.nn:1:22: error: 'axis' is given twice: by position and by name\n"
                "   1 | print sum([1, 2], 0, axis = 0)\n"
                "     |                      ^~~~\n");
    check_error(f, "print leaky_relu(1, 0.2, a = 0.3)", 1,
                "t.nn:1:26: error: 'a' is given twice: by position and by name\n"
                "   1 | print leaky_relu(1, 0.2, a = 0.3)\n"
                "     |                          ^\n");
    check_error(f, "step sgd(0.1, lr = 0.2)", 1,
                "t.nn:1:15: error: argument 'lr' is given twice: by position and by name\n"
                "   1 | step sgd(0.1, lr = 0.2)\n"
                "     |               ^~\n");
}

static void test_error_constant_args(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param n = 2\nlet k = 3");
    check_shape(f, "zeros(k, k - 1)", "[3,2]");     /* a let of a constant is a constant */
    check_error(f, "print zeros(n)", 1,
                "t.nn:1:13: error: a size must be a constant integer\n"
                "   1 | print zeros(n)\n"
                "     |             ^\n");
    check_error(f, "print ones(2, 1.5)", 1,
                "t.nn:1:15: error: a size must be a constant integer\n"
                "   1 | print ones(2, 1.5)\n"
                "     |               ^~~\n");
    check_error(f, "print zeros(0)", 1,
                "t.nn:1:13: error: a size must be at least 1, not 0\n"
                "   1 | print zeros(0)\n"
                "     |             ^\n");
    check_error(f, "print eye(-2)", 1,
                "t.nn:1:11: error: a size must be at least 1, not -2\n"
                "   1 | print eye(-2)\n"
                "     |           ^~\n");
    check_error(f, "print sum([1, 2], axis = n)", 1,
                "t.nn:1:26: error: the axis must be a constant integer\n"
                "   1 | print sum([1, 2], axis = n)\n"
                "     |                          ^\n");
    check_error(f, "print sum([1, 2], 0.5)", 1,
                "t.nn:1:19: error: the axis must be a constant integer\n"
                "   1 | print sum([1, 2], 0.5)\n"
                "     |                   ^~~\n");
    check_error(f, "print full(2, 3, n)", 1,
                "t.nn:1:18: error: the fill value must be a constant number\n"
                "   1 | print full(2, 3, n)\n"
                "     |                  ^\n");
    check_error(f, "print full(2, [1])", 1,
                "t.nn:1:15: error: the fill value must be a constant number\n"
                "   1 | print full(2, [1])\n"
                "     |               ^~~\n");
    check_error(f, "print full(2, 1 / 0)", 1,
                "t.nn:1:15: error: the fill value must be a finite number\n"
                "   1 | print full(2, 1 / 0)\n"
                "     |               ^~~~~\n");
    check_error(f, "print leaky_relu(1, a = n)", 1,
                "t.nn:1:25: error: the slope 'a' must be a constant number\n"
                "   1 | print leaky_relu(1, a = n)\n"
                "     |                         ^\n");
    check_error(f, "print leaky_relu(1, a = 1e38 * 10)", 1,
                "t.nn:1:25: error: the slope 'a' must be a finite number\n"
                "   1 | print leaky_relu(1, a = 1e38 * 10)\n"
                "     |                         ^~~~~~~~~\n");
}

/* Integers too large for their role are called too large, not too small. */
static void test_error_constant_too_large(void **state)
{
    Fixture *f = *state;
    check_error(f, "print zeros(1e9)", 1,
                "t.nn:1:13: error: a size must be at most 268435456, not 1000000000\n"
                "   1 | print zeros(1e9)\n"
                "     |             ^~~\n");
    check_error(f, "print zeros(2, 1 / 0)", 1,
                "t.nn:1:16: error: a size must be at most 268435456, not inf\n"
                "   1 | print zeros(2, 1 / 0)\n"
                "     |                ^~~~~\n");
    check_error(f, "seed 5e9", 1,
                "t.nn:1:6: error: the seed must be at most 4294967295, not 5000000000\n"
                "   1 | seed 5e9\n"
                "     |      ^~~\n");
    check_ok(f, "seed 4294967295");
}

static void test_error_axis_out_of_range(void **state)
{
    Fixture *f = *state;
    check_error(f, "print sum([[1, 2]], axis = 2)", 1,
                "t.nn:1:7: error: axis 2 is out of range for shape [1,2] (axes are 0 to 1, or "
                "-2 to -1)\n"
                "   1 | print sum([[1, 2]], axis = 2)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print mean([[1, 2]], -3)", 1,
                "t.nn:1:7: error: axis -3 is out of range for shape [1,2] (axes are 0 to 1, or "
                "-2 to -1)\n"
                "   1 | print mean([[1, 2]], -3)\n"
                "     |       ^~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print sum(1, 0)", 1,
                "t.nn:1:7: error: 'sum' of a scalar has no axis 0\n"
                "   1 | print sum(1, 0)\n"
                "     |       ^~~~~~~~~\n");
    /* for a vector the range reads "0 to 0, or -1 to -1": exact, if awkward */
    check_error(f, "print sum([1, 2], axis = 1)", 1,
                "t.nn:1:7: error: axis 1 is out of range for shape [2] (axes are 0 to 0, or "
                "-1 to -1)\n"
                "   1 | print sum([1, 2], axis = 1)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~\n");
    /* an axis past any rank gets the same message as one past this rank: "at most 5"
     * would mislead for a tensor of 2 dimensions */
    check_error(f, "print sum([[1, 2]], axis = 7)", 1,
                "t.nn:1:7: error: axis 7 is out of range for shape [1,2] (axes are 0 to 1, or "
                "-2 to -1)\n"
                "   1 | print sum([[1, 2]], axis = 7)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~~~\n");
}

/* ---- shapes that do not fit ---------------------------------------------------------------- */

static void test_error_broadcast(void **state)
{
    Fixture *f = *state;
    check_error(f, "print [1, 2] + [1, 2, 3]", 1,
                "t.nn:1:7: error: cannot broadcast [2] + [3]: sizes 2 and 3 differ in "
                "dimension 1 from the right, and neither is 1\n"
                "   1 | print [1, 2] + [1, 2, 3]\n"
                "     |       ^~~~~~~~~~~~~~~~~~\n");
    check_error(f, "let y = ones(4, 3) * ones(2, 3)", 1,
                "t.nn:1:9: error: cannot broadcast [4,3] * [2,3]: sizes 4 and 2 differ in "
                "dimension 2 from the right, and neither is 1\n"
                "   1 | let y = ones(4, 3) * ones(2, 3)\n"
                "     |         ^~~~~~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "let y = 1 + ones(2, 3) / ones(2)", 1,
                "t.nn:1:13: error: cannot broadcast [2,3] / [2]: sizes 3 and 2 differ in "
                "dimension 1 from the right, and neither is 1\n"
                "   1 | let y = 1 + ones(2, 3) / ones(2)\n"
                "     |             ^~~~~~~~~~~~~~~~~~~~\n");
}

static void test_error_matmul(void **state)
{
    Fixture *f = *state;
    check_error(f, "print ones(4, 3) @ ones(2, 1)", 1,
                "t.nn:1:7: error: cannot multiply [4,3] @ [2,1]: inner sizes 3 and 2 differ\n"
                "   1 | print ones(4, 3) @ ones(2, 1)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print ones(3) @ ones(2)", 1,
                "t.nn:1:7: error: cannot multiply [3] @ [2]: inner sizes 3 and 2 differ\n"
                "   1 | print ones(3) @ ones(2)\n"
                "     |       ^~~~~~~~~~~~~~~~~\n");
    check_error(f, "print ones(2, 3, 4) @ ones(4)", 1,
                "t.nn:1:7: error: '@' needs vectors or matrices, but left is [2,3,4] and "
                "right is [4]\n"
                "   1 | print ones(2, 3, 4) @ ones(4)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print 2 @ ones(3)", 1,
                "t.nn:1:7: error: '@' needs vectors or matrices, but left is [] and right is "
                "[3]; use '*' to multiply by a scalar\n"
                "   1 | print 2 @ ones(3)\n"
                "     |       ^~~~~~~~~~~\n");
}

static void test_error_transpose(void **state)
{
    check_error(*state, "print ones(2, 3, 4).T", 1,
                "t.nn:1:7: error: transpose needs at most 2 dimensions, but this is [2,3,4]\n"
                "   1 | print ones(2, 3, 4).T\n"
                "     |       ^~~~~~~~~~~~~~~\n");
}

static void test_error_too_large(void **state)
{
    Fixture *f = *state;
    check_error(f, "let big = zeros(65536, 65536)", 1,
                "t.nn:1:11: error: a tensor of 4294967296 elements is too large (the limit is "
                "268435456)\n"
                "   1 | let big = zeros(65536, 65536)\n"
                "     |           ^~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print ones(20000, 1) * ones(1, 20000)", 1,
                "t.nn:1:7: error: the result [20000,20000] would have 400000000 elements; the "
                "limit is 268435456\n"
                "   1 | print ones(20000, 1) * ones(1, 20000)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print zeros(1, 1, 1, 1, 1, 1, 1)", 1,
                "t.nn:1:7: error: a tensor may have at most 6 dimensions\n"
                "   1 | print zeros(1, 1, 1, 1, 1, 1, 1)\n"
                "     |       ^~~~~~~~~~~~~~~~~~~~~~~~~~\n");
    check_error(f, "print [[[[[[[1]]]]]]]", 1,
                "t.nn:1:7: error: a tensor may have at most 6 dimensions\n"
                "   1 | print [[[[[[[1]]]]]]]\n"
                "     |       ^~~~~~~~~~~~~~~\n");
}

/* ---- tensor literals ------------------------------------------------------------------------ */

static void test_error_ragged_literal(void **state)
{
    Fixture *f = *state;
    check_error(f, "print [[1, 2], [3]]", 1,
                "t.nn:1:16: error: a tensor literal must be rectangular: this row has 1 "
                "element, the first has 2\n"
                "   1 | print [[1, 2], [3]]\n"
                "     |                ^~~\n");
    check_error(f, "print [[1], [2, 3]]", 1,
                "t.nn:1:13: error: a tensor literal must be rectangular: this row has 2 "
                "elements, the first has 1\n"
                "   1 | print [[1], [2, 3]]\n"
                "     |             ^~~~~~\n");
    check_error(f, "print [[1, 2], 3]", 1,
                "t.nn:1:16: error: a tensor literal must be rectangular: a list of 2 is "
                "expected here, as in the first row\n"
                "   1 | print [[1, 2], 3]\n"
                "     |                ^\n");
    check_error(f, "let x = [1,\n  [2, 3]]", 1,
                "t.nn:2:3: error: a tensor literal must be rectangular: a number is expected "
                "here, as in the first row\n"
                "   2 |   [2, 3]]\n"
                "     |   ^~~~~~\n");
    /* every bad row is reported */
    check_error(f, "print [[1, 2], [3], [4, 5, 6]]", 2,
                "t.nn:1:16: error: a tensor literal must be rectangular: this row has 1 "
                "element, the first has 2\n"
                "   1 | print [[1, 2], [3], [4, 5, 6]]\n"
                "     |                ^~~\n"
                "t.nn:1:21: error: a tensor literal must be rectangular: this row has 3 "
                "elements, the first has 2\n"
                "   1 | print [[1, 2], [3], [4, 5, 6]]\n"
                "     |                     ^~~~~~~~~\n");
}

static void test_error_literal_element(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param a = 1\nlet c = 2");
    check_shape(f, "[c, -c, 2 * c]", "[3]");       /* lets of constants are constants */
    check_error(f, "print [a, 2]", 1,
                "t.nn:1:8: error: elements of a tensor literal must be constant numbers\n"
                "   1 | print [a, 2]\n"
                "     |        ^\n");
    check_error(f, "print [1, zeros(1)]", 1,
                "t.nn:1:11: error: elements of a tensor literal must be constant numbers\n"
                "   1 | print [1, zeros(1)]\n"
                "     |           ^~~~~~~~\n");
    check_error(f, "print [1, 1 / 0]", 1,
                "t.nn:1:11: error: this element is inf; a tensor literal needs finite numbers\n"
                "   1 | print [1, 1 / 0]\n"
                "     |           ^~~~~\n");
    check_error(f, "print [[1e38 * 10]]", 1,
                "t.nn:1:9: error: this element is inf; a tensor literal needs finite numbers\n"
                "   1 | print [[1e38 * 10]]\n"
                "     |         ^~~~~~~~~\n");
    check_error(f, "print [1, nothere]", 1,
                "t.nn:1:11: error: unknown name 'nothere'\n"
                "   1 | print [1, nothere]\n"
                "     |           ^~~~~~~\n");
}

/* ---- gradients ------------------------------------------------------------------------------ */

static void test_error_backward(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = [1, 2]\nlet x = 1");
    check_error(f, "backward w", 1,
                "t.nn:1:10: error: 'backward' needs a scalar, but this has shape [2]; reduce "
                "it first, e.g. with sum(...) or mean(...)\n"
                "   1 | backward w\n"
                "     |          ^\n");
    check_error(f, "backward x * 2", 1,
                "t.nn:1:10: error: nothing to differentiate: this depends on no param (declare "
                "the weights with 'param')\n"
                "   1 | backward x * 2\n"
                "     |          ^~~~~\n");
    check_error(f, "trace ones(2, 2)", 1,
                "t.nn:1:7: error: 'trace' needs a scalar, but this has shape [2,2]; reduce it "
                "first, e.g. with sum(...) or mean(...)\n"
                "   1 | trace ones(2, 2)\n"
                "     |       ^~~~~~~~~~\n");
    check_ok(f, "backward sum(w * x)\ntrace mean(w)\ntrace 1");
}

static void test_error_fields(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = 1\nlet x = 1");
    check_error(f, "print x.grad", 1,
                "t.nn:1:7: error: 'x' is a let, and only params keep a gradient ('trace' shows "
                "the gradients of intermediate values)\n"
                "   1 | print x.grad\n"
                "     |       ^~~~~~\n");
    check_error(f, "print (w * 2).grad", 1,
                "t.nn:1:7: error: '.grad' is kept only for params; write it after a param's "
                "name, e.g. w.grad\n"
                "   1 | print (w * 2).grad\n"
                "     |       ^~~~~~~~~~~~\n");
    check_error(f, "print w.foo", 1,
                "t.nn:1:9: error: unknown field 'foo' (a value has .T, .shape and .rows, and a param "
                ".grad)\n"
                "   1 | print w.foo\n"
                "     |         ^~~\n");
    check_error(f, "print nothere.grad", 1,
                "t.nn:1:7: error: unknown name 'nothere'\n"
                "   1 | print nothere.grad\n"
                "     |       ^~~~~~~\n");
}

/* ---- assignment and declarations ----------------------------------------------------------- */

static void test_error_assign(void **state)
{
    Fixture *f = *state;
    check_error(f, "y = 2", 1,
                "t.nn:1:1: error: unknown name 'y'; define it with 'let y = ...' or "
                "'param y = ...'\n"
                "   1 | y = 2\n"
                "     | ^\n");
    check_ok(f, "let a = 1\n\nlet x = a");
    check_error(f, "x = 2", 1,
                "t.nn:1:1: error: cannot assign to 'x': it is a let, a formula that follows its "
                "inputs; define it again with 'let x = ...' (or x += ...)\n"
                "   1 | x = 2\n"
                "     | ^\n"
                "t.nn:3:5: note: 'x' is defined here\n"
                "   3 | let x = a\n"
                "     |     ^\n");
}

static void test_error_param_shape(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = [1, 2]");
    check_error(f, "param w = [1, 2, 3]", 1,
                "t.nn:1:11: error: 'w' is a param of shape [2], so its new value must have that "
                "shape (or be a scalar), but this is [3]\n"
                "   1 | param w = [1, 2, 3]\n"
                "     |           ^~~~~~~~~\n");
    check_error(f, "w = ones(2, 2)", 1,
                "t.nn:1:5: error: 'w' is a param of shape [2], so its new value must have that "
                "shape (or be a scalar), but this is [2,2]\n"
                "   1 | w = ones(2, 2)\n"
                "     |     ^~~~~~~~~~\n");
    /* the failed units changed nothing */
    check_shape(f, "w", "[2]");
}

/* ---- statements ----------------------------------------------------------------------------- */

static void test_error_step(void **state)
{
    Fixture *f = *state;
    check_ok(f, "let k = 0.5\nstep sgd(lr = 0.1)\nstep sgd(0.5)\nstep sgd(lr = k / 10)");
    check_ok(f, "param r = 1");
    check_error(f, "step lbfgs(lr = 0.1)", 1,
                "t.nn:1:6: error: unknown optimizer 'lbfgs' (nn has sgd, adam, adamw and rmsprop)\n"
                "   1 | step lbfgs(lr = 0.1)\n"
                "     |      ^~~~~\n");
    check_error(f, "step sgd()", 1,
                "t.nn:1:1: error: 'sgd' needs a learning rate, e.g. sgd(lr = 0.1)\n"
                "   1 | step sgd()\n"
                "     | ^~~~~~~~~~\n");
    check_error(f, "step sgd(0.1, 0.2)", 1,
                "t.nn:1:15: error: only the learning rate may be given without its name; name "
                "the others, e.g. momentum = 0.9\n"
                "   1 | step sgd(0.1, 0.2)\n"
                "     |               ^~~\n");
    check_error(f, "step sgd(rate = 0.1)", 1,
                "t.nn:1:10: error: 'sgd' has no argument 'rate' (it takes lr, momentum, dampening, nesterov, "
                "weight_decay)\n"
                "   1 | step sgd(rate = 0.1)\n"
                "     |          ^~~~\n");
    check_error(f, "step sgd(lr = 0.1, lr = 0.2)", 1,
                "t.nn:1:20: error: argument 'lr' is given twice\n"
                "   1 | step sgd(lr = 0.1, lr = 0.2)\n"
                "     |                    ^~\n");
    /* a step's learning rate may be computed (a formula, say of a loop's counter), but it is
     * a scalar */
    check_ok(f, "step sgd(lr = r)");
    check_error(f, "step sgd(lr = r * ones(2))", 1,
                "t.nn:1:15: error: the learning rate must be a scalar, but this has shape [2]\n"
                "   1 | step sgd(lr = r * ones(2))\n"
                "     |               ^~~~~~~~~~~\n");
    check_error(f, "step sgd(lr = 1 / 0)", 1,
                "t.nn:1:15: error: the learning rate must be a finite number\n"
                "   1 | step sgd(lr = 1 / 0)\n"
                "     |               ^~~~~\n");
    check_error(f, "step sgd(lr = -1)", 1,
                "t.nn:1:15: error: the learning rate must be positive\n"
                "   1 | step sgd(lr = -1)\n"
                "     |               ^~\n");
    check_error(f, "step sgd(lr = 0)", 1,
                "t.nn:1:15: error: the learning rate must be positive\n"
                "   1 | step sgd(lr = 0)\n"
                "     |               ^\n");
}

static void test_error_seed(void **state)
{
    Fixture *f = *state;
    check_ok(f, "let k = 7\nseed 42\nseed 0\nseed 2 * 3\nseed k");
    check_ok(f, "param s = 1");
    check_error(f, "seed 1.5", 1,
                "t.nn:1:6: error: the seed must be a constant integer\n"
                "   1 | seed 1.5\n"
                "     |      ^~~\n");
    check_error(f, "seed s", 1,
                "t.nn:1:6: error: the seed must be a constant integer\n"
                "   1 | seed s\n"
                "     |      ^\n");
    check_error(f, "seed [1]", 1,
                "t.nn:1:6: error: the seed must be a constant integer\n"
                "   1 | seed [1]\n"
                "     |      ^~~\n");
    check_error(f, "seed -1", 1,
                "t.nn:1:6: error: the seed must be at least 0, not -1\n"
                "   1 | seed -1\n"
                "     |      ^~\n");
}

/* The parser never puts a string where a value is computed; sema still refuses one. */
static void test_error_string_value(void **state)
{
    Fixture *f = *state;
    check_ok(f, "print \"s\"");
    AstNode *print = f->stmts.items[0];
    AstNode *str = print->u.list.items[0];
    AstNode *stmt = ast_new(&f->arenas[f->nunits - 1], AST_EXPR, print->span);
    stmt->u.expr = str;
    AstList list = { 0 };
    ast_list_push(&f->arenas[f->nunits - 1], &list, stmt);
    sb_clear(&f->msgs);
    assert_int_equal(sema_check(&list, &f->syms, &f->diag, &f->interner, &f->arenas[f->nunits - 1],
                                NULL, NULL), 1);
    assert_string_equal(text_of(&f->msgs),
                        "t.nn:1:7: error: a string can only be printed, not computed with\n"
                        "   1 | print \"s\"\n"
                        "     |       ^~~\n");
}

/* Checking goes on after an error, so one run reports a script's mistakes together. */
static void test_errors_reported_together(void **state)
{
    check_error(*state, "let a = q\nlet b = ones(2) + ones(3)\nstep lbfgs(lr = 1)\nseed 0.5", 4,
                "t.nn:1:9: error: unknown name 'q'\n"
                "   1 | let a = q\n"
                "     |         ^\n"
                "t.nn:2:9: error: cannot broadcast [2] + [3]: sizes 2 and 3 differ in dimension "
                "1 from the right, and neither is 1\n"
                "   2 | let b = ones(2) + ones(3)\n"
                "     |         ^~~~~~~~~~~~~~~~~\n"
                "t.nn:3:6: error: unknown optimizer 'lbfgs' (nn has sgd, adam, adamw and rmsprop)\n"
                "   3 | step lbfgs(lr = 1)\n"
                "     |      ^~~~~\n"
                "t.nn:4:6: error: the seed must be a constant integer\n"
                "   4 | seed 0.5\n"
                "     |      ^~~\n");
}

/* Counts lines that start a message of the given level ("error", "note"). */
static int count_level(const char *msgs, const char *level)
{
    char pat[32];
    snprintf(pat, sizeof pat, ": %s: ", level);
    int n = 0;
    for (const char *p = msgs; (p = strstr(p, pat)) != NULL; p++) n++;
    return n;
}

/* After 20 errors, one note says so and the rest are silent, notes included. */
static void test_error_cap(void **state)
{
    Fixture *f = *state;
    StrBuf code;
    sb_init(&code);
    sb_puts(&code, "let x = 1\n");
    for (int i = 0; i < 24; i++) sb_puts(&code, "print nope\n");
    sb_puts(&code, "x = 2\n");
    int errors = compile_at(f, code.data, __FILE__, __LINE__);
    sb_free(&code);
    const char *msgs = text_of(&f->msgs);
    assert_int_equal(errors, 25);
    assert_int_equal(count_level(msgs, "error"), 20);
    assert_int_equal(count_level(msgs, "note"), 1);
    const char *note = strstr(msgs, "t.nn:22:7: note: ");
    assert_non_null(note);
    assert_string_equal(note, "t.nn:22:7: note: too many errors; stopping here\n"
                              "  22 | print nope\n"
                              "     |       ^~~~\n");
}

/* An expression nested so deeply that checking it could exhaust the stack is refused once. */
static void test_error_nested_too_deeply(void **state)
{
    Fixture *f = *state;
    StrBuf code;
    sb_init(&code);
    sb_puts(&code, "let x = 1");
    for (int i = 0; i < 1500; i++) sb_puts(&code, " + 1");
    sb_puts(&code, "\nlet y = 2");
    int errors = compile_at(f, code.data, __FILE__, __LINE__);
    sb_free(&code);
    const char *msgs = text_of(&f->msgs);
    assert_int_equal(errors, 1);
    assert_int_equal(count_level(msgs, "error"), 1);
    const char *want = "t.nn:1:9: error: this expression is nested too deeply (the limit is "
                       "1000 levels)\n";
    assert_true(strncmp(msgs, want, strlen(want)) == 0);
    /* the unit failed, so nothing stays defined */
    assert_null(symtab_find(&f->syms, intern(&f->interner, "y", 1)));
    /* 999 levels are fine */
    sb_init(&code);
    sb_puts(&code, "let x = 1");
    for (int i = 0; i < 998; i++) sb_puts(&code, " + 1");
    check_ok(f, code.data);
    sb_free(&code);
}

/* ---- through nn.h: a failed unit defines nothing --------------------------------------------- */

typedef struct Session {
    NnState *nn;
    StrBuf out, err;
} Session;

static void session_open(Session *s)
{
    sb_init(&s->out);
    sb_init(&s->err);
    s->nn = nn_new();
    nn_set_output(s->nn, capture, &s->out);
    nn_set_errors(s->nn, capture, &s->err);
}

static void session_close(Session *s)
{
    nn_close(s->nn);
    sb_free(&s->out);
    sb_free(&s->err);
}

static NnStatus session_run(Session *s, const char *code)
{
    sb_clear(&s->out);
    sb_clear(&s->err);
    return nn_run_string(s->nn, "<test>", code);
}

static void test_api_failed_unit_defines_nothing(void **state)
{
    (void)state;
    Session s;
    session_open(&s);
    /* names of a unit that fails in sema are gone, and nothing of it ran */
    assert_int_equal(session_run(&s, "print 1\nlet alpha = 1\nparam beta = 2\nlet b = q"),
                     NN_ERROR_COMPILE);
    assert_string_equal(text_of(&s.out), "");
    assert_string_equal(text_of(&s.err),
                        "<test>:4:9: error: unknown name 'q'\n"
                        "   4 | let b = q\n"
                        "     |         ^\n");
    assert_int_equal(session_run(&s, "print alpha"), NN_ERROR_COMPILE);
    assert_string_equal(text_of(&s.err),
                        "<test>:1:7: error: unknown name 'alpha'\n"
                        "   1 | print alpha\n"
                        "     |       ^~~~~\n");
    /* not even as a "did you mean" hint */
    assert_int_equal(session_run(&s, "print alphx + bta"), NN_ERROR_COMPILE);
    assert_null(strstr(text_of(&s.err), "did you mean"));
    NnTensorView v;
    assert_int_equal(nn_get(s.nn, "beta", &v), NN_ERROR_COMPILE);

    /* nor do those of a unit with a syntax error */
    assert_int_equal(session_run(&s, "let c = 1\nlet = 2"), NN_ERROR_COMPILE);
    assert_int_equal(session_run(&s, "print c"), NN_ERROR_COMPILE);
    assert_non_null(strstr(text_of(&s.err), "unknown name 'c'"));

    /* nn_check_string defines nothing even when the check passes */
    assert_int_equal(nn_check_string(s.nn, "<check>", "let d = 1"), NN_OK);
    assert_int_equal(session_run(&s, "print d"), NN_ERROR_COMPILE);

    /* a good unit does define its names */
    assert_int_equal(session_run(&s, "let e = 2\nparam w = [1, 2]"), NN_OK);
    assert_int_equal(session_run(&s, "print e"), NN_OK);
    assert_string_equal(text_of(&s.out), "2\n");
    /* a failed re-declaration leaves the param as it was */
    assert_int_equal(session_run(&s, "param w = [1, 2, 3]"), NN_ERROR_COMPILE);
    assert_int_equal(nn_get(s.nn, "w", &v), NN_OK);
    assert_int_equal(v.rank, 1);
    assert_int_equal(v.shape[0], 2);
    assert_true(v.data[0] == 1.0f && v.data[1] == 2.0f);
    session_close(&s);
}

static void test_api_check_string(void **state)
{
    (void)state;
    Session s;
    session_open(&s);
    assert_int_equal(nn_check_string(s.nn, "c.nn", "let x = ones(4, 3) @ ones(3)\nprint x"),
                     NN_OK);
    assert_string_equal(text_of(&s.out), "");       /* checking runs nothing */
    assert_int_equal(nn_check_string(s.nn, "c.nn", "print ones(4, 3) @ ones(2, 1)"),
                     NN_ERROR_COMPILE);
    assert_string_equal(text_of(&s.err),
                        "c.nn:1:7: error: cannot multiply [4,3] @ [2,1]: inner sizes 3 and 2 "
                        "differ\n"
                        "   1 | print ones(4, 3) @ ones(2, 1)\n"
                        "     |       ^~~~~~~~~~~~~~~~~~~~~~~\n");
    session_close(&s);

    char out[256], err[1024];
    assert_int_equal(run_capture("let x = 1\nx = 2", out, sizeof out, err, sizeof err),
                     NN_ERROR_COMPILE);
    assert_string_equal(err,
                        "<test>:2:1: error: cannot assign to 'x': it is a let, a formula that "
                        "follows its inputs; define it again with 'let x = ...' (or x += ...)\n"
                        "   2 | x = 2\n"
                        "     | ^\n"
                        "<test>:1:5: note: 'x' is defined here\n"
                        "   1 | let x = 1\n"
                        "     |     ^\n");
}

/* ---- the word tables ------------------------------------------------------------------------ */

/* Every optimizer and schedule row is the engine's kind of that name, the checker takes it as
 * that kind, and its help example checks. */
static void test_optim_words(void **state)
{
    Fixture *f = *state;
    check_ok(f, "param w = 1\nbackward (w - 1)^2");
    char code[256];
    /* every optimizer's help example is a step the checker takes */
    for (int k = 0; k < OPTIM_KINDS; k++) {
        const char *example, *text;
        OptimKind kind;
        optim_help((OptimKind)k, &example, &text);
        assert_true(optim_lookup(optim_name((OptimKind)k), &kind));
        assert_int_equal(kind, k);
        snprintf(code, sizeof code, "step %s", example);
        check_ok(f, code);
    }
    /* and every schedule's is a schedule a train block takes */
    for (int k = 0; k < SCHED_KINDS; k++) {
        const char *example, *text;
        schedule_help((SchedKind)k, &example, &text);
        if (!example) continue;
        snprintf(code, sizeof code, "train (w - 1)^2 { optimizer sgd(lr = 0.1); epochs 20; %s }",
                 example);
        check_ok(f, code);
        assert_int_equal(f->stmts.items[0]->sema.extra->train.set.sched.phase[0].kind, k);
        assert_non_null(strstr(example, schedule_name((SchedKind)k)));
    }
}

/* Every setting's help example checks, all in one block on data. */
static void test_settings_examples(void **state)
{
    Fixture *f = *state;
    StrBuf code;
    sb_init(&code);
    sb_puts(&code, "let d = blobs(2, 100)\nmodel net { dense(2, 4); relu; dense(2) }\n"
                   "train net on d {\n");
#define SETTING(e, name, word, kind, lo, hi, range, what, flags, field, check, values, example, \
                text)                                                                          \
    sb_printf(&code, "  %s\n", example);
#include "settings.def"
#undef SETTING
    sb_puts(&code, "}");
    check_ok(f, code.data);
    const SemaTrain *t = &f->stmts.items[2]->sema.extra->train;
    assert_int_equal(t->set.epochs, 100);
    assert_int_equal(t->set.batch, 32);
    assert_int_equal(t->set.trace_step, 5);
    assert_int_equal(t->focus.count, 1);
    assert_int_equal(t->set.break_step, 100);
    assert_true(t->has_val && t->set.metric);
    sb_free(&code);
}

/* ---- the argument checker ------------------------------------------------------------------ */

/* Parses `code`, a print of one call, and checks the call against `form`; the messages are in
 * f->msgs. */
static bool args_at(Fixture *f, const char *code, const ArgForm *form, const char *usage,
                    ArgValue *out, const char *file, int line)
{
    Arena *arena = parse_at(f, code, file, line);
    AstNode *st = f->stmts.items[0];
    _assert_true(st->kind == AST_PRINT && st->u.list.items[0]->kind == AST_CALL, "a call", file,
                 line);
    Sema s;
    memset(&s, 0, sizeof s);
    s.syms = &f->syms;
    s.diag = &f->diag;
    s.interner = &f->interner;
    s.arena = arena;
    bool ok = sema_args(&s, st->u.list.items[0], form, usage, out);
    _assert_int_equal(ok, s.errors == 0, file, line);
    return ok;
}
#define check_args(f, code, form, usage, out) \
    args_at((f), (code), (form), (usage), (out), __FILE__, __LINE__)

/* The first message's text, without the file, line, column and "error: ". */
static const char *first_message(Fixture *f)
{
    static char buf[512];
    const char *m = strstr(text_of(&f->msgs), "error: ");
    if (!m) return "";
    m += strlen("error: ");
    size_t n = strcspn(m, "\n");
    snprintf(buf, sizeof buf, "%.*s", (int)n, m);
    return buf;
}

/* One argument, by position or by name, with a range: dropout(p). */
static void test_args_one(void **state)
{
    Fixture *f = *state;
    static const ArgSpec p[] = {
        { "p", ARG_NUMBER, true, 0, 0, 1, false, true, "at least 0 and below 1" },
    };
    static const char *const what[] = { "the probability" };
    const ArgForm form = { p, 1, 1, 0, what, NULL, NULL };
    const char *usage = "'f' takes a probability: f(0.5)";
    ArgValue v[1];
    assert_true(check_args(f, "print f(0.5)", &form, usage, v));
    assert_non_null(v[0].node);
    assert_close(v[0].num, 0.5, 0);
    assert_true(check_args(f, "print f(p = 0.25)", &form, usage, v));
    assert_close(v[0].num, 0.25, 0);
    assert_false(check_args(f, "print f()", &form, usage, v));
    assert_string_equal(text_of(&f->msgs),
                        "t.nn:1:7: error: 'f' takes a probability: f(0.5)\n"
                        "   1 | print f()\n"
                        "     |       ^~~\n");
    assert_false(check_args(f, "print f(0.1, 0.2)", &form, usage, v));
    assert_string_equal(first_message(f), usage);
    assert_false(check_args(f, "print f(1)", &form, usage, v));
    assert_string_equal(text_of(&f->msgs),
                        "t.nn:1:9: error: the probability must be at least 0 and below 1\n"
                        "   1 | print f(1)\n"
                        "     |         ^\n");
    assert_false(check_args(f, "print f(0.5, p = 0.5)", &form, usage, v));
    assert_string_equal(first_message(f), "'p' is given twice: by position and by name");
    assert_false(check_args(f, "print f(q = 0.5)", &form, usage, v));
    assert_string_equal(first_message(f), "'f' has no argument 'q' (it takes 'p')");
    assert_false(check_args(f, "print f(\"x\")", &form, usage, v));
    assert_string_equal(first_message(f), "a string can only be printed, not computed with");
    assert_false(check_args(f, "print f(2 * 0.1 + w)", &form, usage, v));
    assert_string_equal(first_message(f), "unknown name 'w'");
}

/* Positional only, then named only, with defaults: blobs(k, n, noise = 0). */
static void test_args_positional_and_named(void **state)
{
    Fixture *f = *state;
    static const ArgSpec args[] = {
        { "k", ARG_INT, true, 0, 2, 100, false, false, NULL },
        { "n", ARG_INT, true, 0, 2, 1e7, false, false, NULL },
        { "noise", ARG_NUMBER, false, 0.25, 0, INFINITY, false, true, "at least 0" },
    };
    static const char *const what[] = { "the number of classes", "the number of points", NULL };
    const ArgForm form = { args, 3, 2, 2, what, NULL, NULL };
    const char *usage = "'f' takes k, n and a noise: f(3, 300, noise = 0.1)";
    ArgValue v[3];
    assert_true(check_args(f, "print f(3, 10)", &form, usage, v));
    assert_close(v[0].num, 3, 0);
    assert_close(v[1].num, 10, 0);
    assert_null(v[2].node);
    assert_close(v[2].num, 0.25, 0);        /* the default */
    assert_true(check_args(f, "print f(3, noise = 0.5, 10)", &form, usage, v));
    assert_close(v[1].num, 10, 0);
    assert_close(v[2].num, 0.5, 0);
    assert_false(check_args(f, "print f(3)", &form, usage, v));
    assert_string_equal(first_message(f), usage);
    assert_false(check_args(f, "print f(3, 10, 0.5)", &form, usage, v));
    assert_string_equal(first_message(f), usage);
    assert_false(check_args(f, "print f(n = 3, k = 10)", &form, usage, v));
    assert_string_equal(first_message(f), "'f' has no argument 'n' (it takes 'noise')");
    /* every unknown name is reported */
    assert_false(check_args(f, "print f(3, 10, spread = 1, sigma = 2)", &form, usage, v));
    assert_string_equal(text_of(&f->msgs),
                        "t.nn:1:16: error: 'f' has no argument 'spread' (it takes 'noise')\n"
                        "   1 | print f(3, 10, spread = 1, sigma = 2)\n"
                        "     |                ^~~~~~\n"
                        "t.nn:1:28: error: 'f' has no argument 'sigma' (it takes 'noise')\n"
                        "   1 | print f(3, 10, spread = 1, sigma = 2)\n"
                        "     |                            ^~~~~\n");
    assert_false(check_args(f, "print f(3, 10, noise = 1, noise = 2)", &form, usage, v));
    assert_string_equal(first_message(f), "argument 'noise' is given twice");
    /* values: integers in [lo, hi] without range words; a row's words otherwise */
    assert_false(check_args(f, "print f(1, 10)", &form, usage, v));
    assert_string_equal(first_message(f), "the number of classes must be at least 2, not 1");
    assert_false(check_args(f, "print f(3, 2e7)", &form, usage, v));
    assert_string_equal(first_message(f), "the number of points must be at most 10000000, not "
                                           "20000000");
    assert_false(check_args(f, "print f(2.5, 10)", &form, usage, v));
    assert_string_equal(first_message(f), "the number of classes must be a constant integer");
    assert_false(check_args(f, "print f(3, 10, noise = -1)", &form, usage, v));
    assert_string_equal(first_message(f), "'noise' must be at least 0");
    assert_false(check_args(f, "print f(3, 10, noise = 1 / 0)", &form, usage, v));
    assert_string_equal(first_message(f), "'noise' must be a finite number");
}

/* Strings, a word passed through, flags, and a list of names: csv("f", target = "y"). */
static void test_args_strings_and_words(void **state)
{
    Fixture *f = *state;
    static const ArgSpec args[] = {
        { "file", ARG_STRING, true, 0, 0, 0, false, false, NULL },
        { "target", ARG_STRING, true, 0, 0, 0, false, false, NULL },
        { "init", ARG_NAME, false, 0, 0, 0, false, false, NULL },
        { "strict", ARG_FLAG, false, 1, 0, 1, false, false, "1 (on) or 0 (off)" },
    };
    static const char *const what[] = { "a file", "the name of the target column", NULL, NULL };
    const ArgForm form = { args, 4, 1, 1, what, NULL, "f(\"a.csv\", target = \"y\")" };
    const char *usage = "'f' takes a file name: f(\"a.csv\", target = \"y\")";
    ArgValue v[4];
    assert_true(check_args(f, "print f(\"a.csv\", target = \"y\", init = he)", &form, usage, v));
    assert_string_equal(v[0].text, "a.csv");
    assert_string_equal(v[1].text, "y");
    assert_int_equal(v[2].node->kind, AST_NAME);   /* passed through, unchecked */
    assert_close(v[3].num, 1, 0);
    assert_false(check_args(f, "print f(\"a.csv\")", &form, usage, v));
    assert_string_equal(text_of(&f->msgs),
                        "t.nn:1:7: error: 'f' needs the name of the target column as a string: "
                        "f(\"a.csv\", target = \"y\")\n"
                        "   1 | print f(\"a.csv\")\n"
                        "     |       ^~~~~~~~~~\n");
    assert_false(check_args(f, "print f(\"a.csv\", target = y)", &form, usage, v));
    assert_string_equal(text_of(&f->msgs),
                        "t.nn:1:27: error: 'f' needs the name of the target column as a string: "
                        "f(\"a.csv\", target = \"y\")\n"
                        "   1 | print f(\"a.csv\", target = y)\n"
                        "     |                           ^\n");
    assert_false(check_args(f, "print f(3, target = \"y\")", &form, usage, v));
    assert_string_equal(first_message(f), usage);
    assert_false(check_args(f, "print f(\"a.csv\", target = \"y\", strict = 2)", &form, usage, v));
    assert_string_equal(first_message(f), "'strict' must be 1 (on) or 0 (off)");
    assert_false(check_args(f, "print f(\"a.csv\", file = \"b.csv\")", &form, usage, v));
    assert_string_equal(first_message(f),
                        "'f' has no argument 'file' (it takes 'target', 'init' and 'strict')");
    /* a form's own words for what it takes, and a form that takes no names */
    const ArgForm own = { args, 4, 1, 1, what, "the file and 'target'", NULL };
    assert_false(check_args(f, "print f(\"a.csv\", sep = 1)", &own, usage, v));
    assert_string_equal(first_message(f),
                        "'f' has no argument 'sep' (it takes the file and 'target')");
    const ArgForm none = { args, 1, 1, 1, what, NULL, NULL };
    assert_false(check_args(f, "print f(\"a.csv\", sep = 1)", &none, usage, v));
    assert_string_equal(first_message(f), "'f' takes no named arguments");
}

/* ---- suggestions ---------------------------------------------------------------------------- */

/* The closest of `n` candidates to `word` ("" when none is close). */
static const char *closest(const char *word, const char *const *cands, size_t n)
{
    Suggest sg;
    suggest_init(&sg, word);
    for (size_t i = 0; i < n; i++) suggest_offer(&sg, cands[i]);
    return suggest_best(&sg) ? suggest_best(&sg) : "";
}

static void test_suggest_distance(void **state)
{
    (void)state;
    assert_int_equal(suggest_distance("epoch", "epochs"), 1);        /* inserted */
    assert_int_equal(suggest_distance("sigmod", "sigmoid"), 1);
    assert_int_equal(suggest_distance("lossx", "loss"), 1);          /* deleted */
    assert_int_equal(suggest_distance("relu", "gelu"), 1);           /* changed */
    assert_int_equal(suggest_distance("adma", "adam"), 1);           /* neighbours swapped */
    assert_int_equal(suggest_distance("cvs", "csv"), 1);
    assert_int_equal(suggest_distance("ReLU", "relu"), 0);           /* case is ignored */
    assert_int_equal(suggest_distance("SGD", "sgd"), 0);
    assert_int_equal(suggest_distance("", "abc"), 3);
    assert_int_equal(suggest_distance("kitten", "sitting"), 3);
    assert_int_equal(suggest_distance("abcdefghijklmnopqrstuvwxyzabcdef", "a"), 99);  /* too long */
}

static void test_suggest_closest(void **state)
{
    (void)state;
    static const char *const settings[] = { "loss", "optimizer", "epochs", "batch", "accumulate",
                                            "clip", "validation", "early_stop", "log",
                                            "schedule", "metric", "resume", "trace", "break" };
    size_t n = NN_ARRAY_LEN(settings);
    assert_string_equal(closest("epoch", settings, n), "epochs");
    assert_string_equal(closest("batches", settings, n), "batch");   /* 2 edits for 7 letters */
    assert_string_equal(closest("shedule", settings, n), "schedule");
    assert_string_equal(closest("Epochs", settings, n), "epochs");
    /* one word begins with the other: Keras' names, shortened words */
    assert_string_equal(closest("batch_size", settings, n), "batch");
    assert_string_equal(closest("optim", settings, n), "optimizer");
    assert_string_equal(closest("logging", settings, n), "log");
    /* nothing close */
    assert_string_equal(closest("speed", settings, n), "");
    assert_string_equal(closest("frobnicate", settings, n), "");
    /* short words get no suggestion, and 4 letters allow only one edit */
    assert_string_equal(closest("lo", settings, n), "");
    assert_string_equal(closest("lsos", settings, n), "loss");
    assert_string_equal(closest("lsso", settings, n), "");
    static const char *const optimizers[] = { "sgd", "adam", "adamw", "rmsprop" };
    assert_string_equal(closest("adma", optimizers, 4), "adam");
    assert_string_equal(closest("Adam", optimizers, 4), "adam");
    assert_string_equal(closest("RMSprop", optimizers, 4), "rmsprop");
    assert_string_equal(closest("lbfgs", optimizers, 4), "");
    /* the closer word wins over a later one; among equals, the later (a newer symbol) */
    static const char *const names[] = { "weight", "weights", "wieghts" };
    assert_string_equal(closest("weigth", names, 3), "weight");
    static const char *const twins[] = { "loss1", "loss2" };
    assert_string_equal(closest("loss3", twins, 2), "loss2");
    /* a word within the limit beats one that only begins like it */
    static const char *const pre[] = { "batc", "batch_size" };
    assert_string_equal(closest("batch", pre, 2), "batc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_shape_literals),
        T(test_shape_broadcasting),
        T(test_shape_matmul),
        T(test_shape_reductions),
        T(test_shape_transpose),
        T(test_shape_constructors),
        T(test_shape_functions),
        T(test_leaky_relu_positional_slope),
        T(test_annotations),
        T(test_symbols),
        T(test_error_unknown_name),
        T(test_error_function_as_name),
        T(test_no_cascade_after_failed_definition),
        T(test_error_unknown_function),
        T(test_error_call_a_symbol),
        T(test_error_arg_counts),
        T(test_error_named_args),
        T(test_error_arg_by_position_and_name),
        T(test_error_constant_args),
        T(test_error_constant_too_large),
        T(test_error_axis_out_of_range),
        T(test_error_broadcast),
        T(test_error_matmul),
        T(test_error_transpose),
        T(test_error_too_large),
        T(test_error_ragged_literal),
        T(test_error_literal_element),
        T(test_error_backward),
        T(test_error_fields),
        T(test_error_assign),
        T(test_error_param_shape),
        T(test_error_step),
        T(test_error_seed),
        T(test_error_string_value),
        T(test_errors_reported_together),
        T(test_error_cap),
        T(test_error_nested_too_deeply),
        T(test_api_failed_unit_defines_nothing),
        T(test_api_check_string),
        T(test_optim_words),
        T(test_settings_examples),
        T(test_args_one),
        T(test_args_positional_and_named),
        T(test_args_strings_and_words),
        T(test_suggest_distance),
        T(test_suggest_closest),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
