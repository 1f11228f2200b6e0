/* test_parse.c — the lexer and parser (grammar/nn.l, grammar/nn.y): the trees they build,
 * checked as S-expressions with ast_dump, and their syntax errors, checked as the exact text
 * the one renderer (diag.c) produces: location line, source line and caret line. */
#include "testutil.h"

#include "parse.h"
#include "source.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One compilation unit: what a ParseCtx needs, plus the captured messages and the dump.
 * The ParseCtx comes last so that an overrun of its bracket stack leaves the struct. */
typedef struct Fixture {
    Arena arena;
    Interner interner;
    SourceTable sources;
    DiagSink diag;
    StrBuf msgs;            /* every rendered message, in order */
    StrBuf dump;            /* one line per statement */
    int errors;             /* parse_unit's result */
    ParseCtx ctx;
} Fixture;

static void capture(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    arena_init(&f->arena);
    intern_init(&f->interner);
    source_table_init(&f->sources);
    sb_init(&f->msgs);
    sb_init(&f->dump);
    f->diag.sources = &f->sources;
    f->diag.emit = capture;
    f->diag.ud = &f->msgs;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    sb_free(&f->dump);
    sb_free(&f->msgs);
    source_table_free(&f->sources);
    intern_free(&f->interner);
    arena_free(&f->arena);
    free(f);
    return 0;
}

/* Parses `text` as the source "t.nn"; fills f->msgs, f->dump and f->errors. May be called
 * more than once per fixture: each call is a new source and a new statement list. */
static void parse(Fixture *f, const char *text)
{
    uint32_t id = source_add(&f->sources, "t.nn", text, strlen(text));
    const Source *src = source_get(&f->sources, id);
    sb_clear(&f->msgs);
    sb_clear(&f->dump);
    memset(&f->ctx, 0, sizeof f->ctx);
    f->ctx.arena = &f->arena;
    f->ctx.interner = &f->interner;
    f->ctx.diag = &f->diag;
    f->ctx.source = id;
    f->ctx.text = src->text;
    f->ctx.len = src->len;
    f->errors = parse_unit(&f->ctx);
    for (size_t i = 0; i < f->ctx.stmts.count; i++) {
        if (i) sb_putc(&f->dump, '\n');
        ast_dump(f->ctx.stmts.items[i], &f->dump);
    }
}

static const char *text_of(const StrBuf *sb)
{
    return sb->data ? sb->data : "";
}

/* Parses without errors and dumps to `want` (statements separated by newlines). */
static void check_ast_at(Fixture *f, const char *code, const char *want, const char *file,
                         int line)
{
    parse(f, code);
    if (f->errors != 0 || f->msgs.len != 0) {
        print_error("parsing %s\ngave %d error(s):\n%s", code, f->errors, text_of(&f->msgs));
        _fail(file, line);
    }
    _assert_string_equal(text_of(&f->dump), want, file, line);
}
#define check_ast(f, code, want) check_ast_at((f), (code), (want), __FILE__, __LINE__)

/* Fails to parse with exactly the messages `want` and `nerrors` errors (-1: any number). */
static void check_errors_at(Fixture *f, const char *code, int nerrors, const char *want,
                            const char *file, int line)
{
    parse(f, code);
    _assert_string_equal(text_of(&f->msgs), want, file, line);
    if (nerrors < 0) _assert_true(f->errors > 0, "errors > 0", file, line);
    else _assert_int_equal((uintmax_t)f->errors, (uintmax_t)nerrors, file, line);
}
#define check_errors(f, code, n, want) check_errors_at((f), (code), (n), (want), __FILE__, __LINE__)

/* ---- statements ---------------------------------------------------------------------------- */

static void test_statement_kinds(void **state)
{
    Fixture *f = *state;
    check_ast(f, "let x = 2", "(let x 2)");
    check_ast(f, "param w = 0.5", "(param w 0.5)");
    check_ast(f, "w = w - 0.1 * w.grad", "(assign w (binary - w (binary * 0.1 (field w grad))))");
    check_ast(f, "print \"loss\", loss, \"done\"", "(print \"loss\" loss \"done\")");
    check_ast(f, "print x", "(print x)");
    check_ast(f, "backward loss", "(backward loss)");
    check_ast(f, "trace loss", "(trace loss)");
    check_ast(f, "step sgd(lr = 0.1)", "(step sgd (arg lr 0.1))");
    check_ast(f, "step sgd()", "(step sgd)");
    check_ast(f, "step sgd(0.1,)", "(step sgd (arg 0.1))");
    check_ast(f, "zero_grad", "(zero_grad)");
    check_ast(f, "seed 42", "(seed 42)");
    check_ast(f, "x + 1", "(expr (binary + x 1))");
    check_ast(f, "x", "(expr x)");
}

static void test_seed_example(void **state)
{
    Fixture *f = *state;
    check_ast(f,
              "# One neuron: one input, one weight, one bias.\n"
              "let x = 2\n"
              "let y = 1            # target\n"
              "param w = 0.5\n"
              "param b = 0.1\n"
              "\n"
              "let yhat = sigmoid(w * x + b)\n"
              "let loss = (y - yhat)^2\n"
              "\n"
              "trace loss           # forward values, then every local gradient\n"
              "step sgd(lr = 0.1)   # w <- w - lr * dloss/dw\n"
              "print w, b           # 0.5187175 0.1093587\n",
              "(let x 2)\n"
              "(let y 1)\n"
              "(param w 0.5)\n"
              "(param b 0.1)\n"
              "(let yhat (call sigmoid (arg (binary + (binary * w x) b))))\n"
              "(let loss (binary ^ (binary - y yhat) 2))\n"
              "(trace loss)\n"
              "(step sgd (arg lr 0.1))\n"
              "(print w b)");
}

static void test_keywords_and_names(void **state)
{
    Fixture *f = *state;
    /* a keyword is only a whole word */
    check_ast(f, "let letter = printer + seeds", "(let letter (binary + printer seeds))");
    check_ast(f, "let _x1 = zero_grads", "(let _x1 zero_grads)");
    check_ast(f, "param_w = 1", "(assign param_w 1)");
}

static void test_numbers(void **state)
{
    Fixture *f = *state;
    check_ast(f, "0", "(expr 0)");
    check_ast(f, "1e-3", "(expr 0.001)");
    check_ast(f, "1E2", "(expr 100)");
    check_ast(f, "2.5e+3", "(expr 2500)");
    check_ast(f, ".5", "(expr 0.5)");
    check_ast(f, "1.", "(expr 1)");
    check_ast(f, "007", "(expr 7)");
    check_ast(f, "1e-50", "(expr 1e-50)");      /* not an error: it rounds to 0 in float32 */
    check_ast(f, "3.4e38", "(expr 3.4e+38)");   /* just below FLT_MAX */
    parse(f, "1.5");
    assert_int_equal(f->ctx.stmts.items[0]->u.expr->kind, AST_NUM);
    assert_true(f->ctx.stmts.items[0]->u.expr->u.num == 1.5);
}

/* ---- expressions --------------------------------------------------------------------------- */

static void test_precedence(void **state)
{
    Fixture *f = *state;
    check_ast(f, "a + b * c", "(expr (binary + a (binary * b c)))");
    check_ast(f, "a * b + c", "(expr (binary + (binary * a b) c))");
    check_ast(f, "a - b / c", "(expr (binary - a (binary / b c)))");
    check_ast(f, "a * b @ c", "(expr (binary * a (binary @ b c)))");
    check_ast(f, "a @ b * c", "(expr (binary * (binary @ a b) c))");
    check_ast(f, "-x^2", "(expr (unary - (binary ^ x 2)))");
    check_ast(f, "-x @ y", "(expr (binary @ (unary - x) y))");
    check_ast(f, "a @ b^2", "(expr (binary @ a (binary ^ b 2)))");
    check_ast(f, "(a + b) * c", "(expr (binary * (binary + a b) c))");
    check_ast(f, "a * (b + c)", "(expr (binary * a (binary + b c)))");
    check_ast(f, "a - -b", "(expr (binary - a (unary - b)))");
    check_ast(f, "--x", "(expr (unary - (unary - x)))");
    check_ast(f, "a^-b", "(expr (binary ^ a (unary - b)))");
    check_ast(f, "2 * x.T", "(expr (binary * 2 (field x T)))");
    check_ast(f, "-w.grad", "(expr (unary - (field w grad)))");
    check_ast(f, "((x))", "(expr x)");
}

static void test_associativity(void **state)
{
    Fixture *f = *state;
    check_ast(f, "2^3^2", "(expr (binary ^ 2 (binary ^ 3 2)))");
    check_ast(f, "a - b - c", "(expr (binary - (binary - a b) c))");
    check_ast(f, "a + b - c", "(expr (binary - (binary + a b) c))");
    check_ast(f, "a / b / c", "(expr (binary / (binary / a b) c))");
    check_ast(f, "a / b * c", "(expr (binary * (binary / a b) c))");
    check_ast(f, "a @ b @ c", "(expr (binary @ (binary @ a b) c))");
}

static void test_calls(void **state)
{
    Fixture *f = *state;
    check_ast(f, "f()", "(expr (call f))");
    check_ast(f, "f(x)", "(expr (call f (arg x)))");
    check_ast(f, "f(x,)", "(expr (call f (arg x)))");
    check_ast(f, "f(1, x, axis = -1)", "(expr (call f (arg 1) (arg x) (arg axis (unary - 1))))");
    check_ast(f, "sum(x, axis = 0)", "(expr (call sum (arg x) (arg axis 0)))");
    check_ast(f, "f(g(x), h(y = 1 + 2))",
              "(expr (call f (arg (call g (arg x))) (arg (call h (arg y (binary + 1 2))))))");
    check_ast(f, "f(a = b)", "(expr (call f (arg a b)))");
    check_ast(f, "f(x).T", "(expr (field (call f (arg x)) T))");
}

static void test_fields(void **state)
{
    Fixture *f = *state;
    check_ast(f, "print w.grad", "(print (field w grad))");
    check_ast(f, "x.T", "(expr (field x T))");
    check_ast(f, "x.T.T", "(expr (field (field x T) T))");
    check_ast(f, "(a @ b).T", "(expr (field (binary @ a b) T))");
    check_ast(f, "x . T", "(expr (field x T))");
}

static void test_tensor_literals(void **state)
{
    Fixture *f = *state;
    check_ast(f, "[1, 2, 3]", "(expr (tensor 1 2 3))");
    check_ast(f, "[1]", "(expr (tensor 1))");
    check_ast(f, "[1,]", "(expr (tensor 1))");
    check_ast(f, "[[1, 2], [3, 4],]", "(expr (tensor (tensor 1 2) (tensor 3 4)))");
    check_ast(f, "[[1, 2,], [3, 4,],]", "(expr (tensor (tensor 1 2) (tensor 3 4)))");
    check_ast(f, "[[[0]], [[1]]]", "(expr (tensor (tensor (tensor 0)) (tensor (tensor 1))))");
    check_ast(f, "[-1, 2 * 3, x]", "(expr (tensor (unary - 1) (binary * 2 3) x))");
}

/* ---- layout: newlines, ';', comments ------------------------------------------------------- */

static void test_newlines_inside_brackets(void **state)
{
    Fixture *f = *state;
    check_ast(f, "let x = [1,\n         2,\n\n         3]\nprint x",
              "(let x (tensor 1 2 3))\n(print x)");
    check_ast(f, "let m = [\n  [1, 2],   # first row\n  [3, 4],\n]\n",
              "(let m (tensor (tensor 1 2) (tensor 3 4)))");
    check_ast(f, "let y = f(1,\n  axis = 2\n)", "(let y (call f (arg 1) (arg axis 2)))");
    check_ast(f, "let z = (1 +\n   2)\nz", "(let z (binary + 1 2))\n(expr z)");
    check_ast(f, "step sgd(\n  lr = 0.1\n)", "(step sgd (arg lr 0.1))");
    /* a closed bracket ends the freedom: the next newline ends the statement again */
    check_ast(f, "f(\n)\ng()", "(expr (call f))\n(expr (call g))");
}

static void test_semicolons(void **state)
{
    Fixture *f = *state;
    check_ast(f, "a; b;c", "(expr a)\n(expr b)\n(expr c)");
    check_ast(f, "let x = 1;;let y = 2", "(let x 1)\n(let y 2)");
    check_ast(f, "let x = 1;\n", "(let x 1)");
    check_ast(f, ";", "");
    check_ast(f, "zero_grad; step sgd(lr = 1)", "(zero_grad)\n(step sgd (arg lr 1))");
}

static void test_comments_and_blank_lines(void **state)
{
    Fixture *f = *state;
    check_ast(f, "", "");
    check_ast(f, "\n\n\n", "");
    check_ast(f, "# only a comment", "");
    check_ast(f, "# c\n\n   \n\t\nlet x = 1 # trailing\n\n# end\n", "(let x 1)");
    check_ast(f, "let x = 1 #no newline at the end", "(let x 1)");
    check_ast(f, "let x = 1\r\nprint x\r\n", "(let x 1)\n(print x)");
    check_ast(f, "print \"# not a comment\" # a comment", "(print \"# not a comment\")");
}

static void test_string_escapes(void **state)
{
    Fixture *f = *state;
    parse(f, "print \"a\\\"b\\\\c\\n\\td\", \"\"");
    assert_int_equal(f->errors, 0);
    assert_int_equal(f->ctx.stmts.count, 1);
    const AstNode *p = f->ctx.stmts.items[0];
    assert_int_equal(p->kind, AST_PRINT);
    assert_int_equal(p->u.list.count, 2);
    const AstNode *s = p->u.list.items[0];
    assert_int_equal(s->kind, AST_STRING);
    assert_int_equal(s->u.str.len, 8);
    assert_memory_equal(s->u.str.text, "a\"b\\c\n\td", 8);
    assert_int_equal(p->u.list.items[1]->kind, AST_STRING);
    assert_int_equal(p->u.list.items[1]->u.str.len, 0);
}

/* Every node carries the span of the source that made it. */
static void test_spans(void **state)
{
    Fixture *f = *state;
    parse(f, "let x = (1 + 2) * y\nprint w.grad");
    assert_int_equal(f->errors, 0);
    const AstNode *let = f->ctx.stmts.items[0];
    assert_int_equal(let->span.start, 0);
    assert_int_equal(let->span.end, 19);
    assert_int_equal(let->u.bind.name_span.start, 4);
    assert_int_equal(let->u.bind.name_span.end, 5);
    const AstNode *mul = let->u.bind.value;
    assert_int_equal(mul->span.start, 8);
    assert_int_equal(mul->span.end, 19);
    const AstNode *paren = mul->u.op.a;         /* a parenthesised expression spans its parens */
    assert_int_equal(paren->span.start, 8);
    assert_int_equal(paren->span.end, 15);
    const AstNode *print = f->ctx.stmts.items[1];
    assert_int_equal(print->span.start, 20);
    assert_int_equal(print->span.end, 32);
    const AstNode *field = print->u.list.items[0];
    assert_int_equal(field->span.start, 26);
    assert_int_equal(field->u.field.field_span.start, 28);
    assert_int_equal(field->u.field.field_span.end, 32);
}

/* ---- syntax errors ------------------------------------------------------------------------- */

static void test_error_let_without_name(void **state)
{
    check_errors(*state, "let = 2", 1,
                 "t.nn:1:5: error: expected name before '='\n"
                 "   1 | let = 2\n"
                 "     |     ^\n");
}

static void test_error_let_without_equals(void **state)
{
    check_errors(*state, "let x 2", 1,
                 "t.nn:1:7: error: expected '=' or ',' before number\n"
                 "   1 | let x 2\n"
                 "     |       ^\n");
}

static void test_error_keyword_as_name(void **state)
{
    check_errors(*state, "let let = 1", 1,
                 "t.nn:1:5: error: 'let' is a keyword and can't be a name\n"
                 "   1 | let let = 1\n"
                 "     |     ^~~\n");
    check_errors(*state, "param print = 1", 1,
                 "t.nn:1:7: error: 'print' is a keyword and can't be a name\n"
                 "   1 | param print = 1\n"
                 "     |       ^~~~~\n");
    check_errors(*state, "step seed(lr = 1)", 1,
                 "t.nn:1:6: error: 'seed' is a keyword and can't be a name\n"
                 "   1 | step seed(lr = 1)\n"
                 "     |      ^~~~\n");
}

static void test_error_unclosed_paren(void **state)
{
    Fixture *f = *state;
    check_errors(f, "print (1 + 2", 1,
                 "t.nn:1:13: error: expected ')' before end of input\n"
                 "   1 | print (1 + 2\n"
                 "     |             ^\n"
                 "t.nn:1:7: note: the '(' opened here is never closed\n"
                 "   1 | print (1 + 2\n"
                 "     |       ^\n");
    assert_true(f->ctx.incomplete);
    check_errors(f, "step sgd(lr = 0.1", 1,
                 "t.nn:1:18: error: expected ')' or ',' before end of input\n"
                 "   1 | step sgd(lr = 0.1\n"
                 "     |                  ^\n"
                 "t.nn:1:9: note: the '(' opened here is never closed\n"
                 "   1 | step sgd(lr = 0.1\n"
                 "     |         ^\n");
    assert_true(f->ctx.incomplete);
    /* at the end of input after blank lines, the error points just after the last token,
     * not at an empty line */
    check_errors(f, "print (1 + 2  # sum\n\n", 1,
                 "t.nn:1:13: error: expected ')' before end of input\n"
                 "   1 | print (1 + 2  # sum\n"
                 "     |             ^\n"
                 "t.nn:1:7: note: the '(' opened here is never closed\n"
                 "   1 | print (1 + 2  # sum\n"
                 "     |       ^\n");
    /* a bracket left open on an earlier line is noted even before the end of input */
    check_errors(f, "let x = [1,\n  2\nlet y = 3", 1,
                 "t.nn:3:1: error: expected ',' or ']' before 'let'\n"
                 "   3 | let y = 3\n"
                 "     | ^~~\n"
                 "t.nn:1:9: note: the '[' opened here is never closed\n"
                 "   1 | let x = [1,\n"
                 "     |         ^\n");
    assert_true(f->ctx.incomplete);
}

static void test_error_bracket_mismatch(void **state)
{
    Fixture *f = *state;
    check_errors(f, "[1, 2)", 1,
                 "t.nn:1:6: error: ')' does not match the '[' it closes\n"
                 "   1 | [1, 2)\n"
                 "     |      ^\n"
                 "t.nn:1:1: note: the '[' opened here\n"
                 "   1 | [1, 2)\n"
                 "     | ^\n");
    assert_false(f->ctx.incomplete);
    /* the parser carries on as if ']' were written: the statement is kept */
    assert_string_equal(text_of(&f->dump), "(expr (tensor 1 2))");
    check_errors(f, "let x = (1]", 1,
                 "t.nn:1:11: error: ']' does not match the '(' it closes\n"
                 "   1 | let x = (1]\n"
                 "     |           ^\n"
                 "t.nn:1:9: note: the '(' opened here\n"
                 "   1 | let x = (1]\n"
                 "     |         ^\n");
    /* the opener can be on an earlier line */
    check_errors(f, "let x = [\n  1,\n  2)\n", 1,
                 "t.nn:3:4: error: ')' does not match the '[' it closes\n"
                 "   3 |   2)\n"
                 "     |    ^\n"
                 "t.nn:1:9: note: the '[' opened here\n"
                 "   1 | let x = [\n"
                 "     |         ^\n");
}

static void test_error_stray_closer(void **state)
{
    check_errors(*state, "let x = 1\n)\nlet y = 2", -1,
                 "t.nn:2:1: error: ')' has no matching '('\n"
                 "   2 | )\n"
                 "     | ^\n");
    assert_string_equal(text_of(&((Fixture *)*state)->dump), "(let x 1)\n(let y 2)");
}

static void test_error_double_equals(void **state)
{
    check_errors(*state, "x = = 1", 1,
                 "t.nn:1:5: error: expected an expression before '='\n"
                 "   1 | x = = 1\n"
                 "     |     ^\n");
}

static void test_error_expected_lists(void **state)
{
    Fixture *f = *state;
    check_errors(f, "let x = [1,,2]", 1,
                 "t.nn:1:12: error: expected an expression or ']' before ','\n"
                 "   1 | let x = [1,,2]\n"
                 "     |            ^\n");
    check_errors(f, "print 1 2", 1,
                 "t.nn:1:9: error: expected end of line, ';' or ',' before number\n"
                 "   1 | print 1 2\n"
                 "     |         ^\n");
    check_errors(f, "step sgd", 1,
                 "t.nn:1:9: error: expected '(' before end of line\n"
                 "   1 | step sgd\n"
                 "     |         ^\n");
    check_errors(f, "step 1", 1,
                 "t.nn:1:6: error: expected name before number\n"
                 "   1 | step 1\n"
                 "     |      ^\n");
    check_errors(f, "backward", 1,
                 "t.nn:1:9: error: expected an expression before end of line\n"
                 "   1 | backward\n"
                 "     |         ^\n");
    check_errors(f, "a.", 1,
                 "t.nn:1:3: error: expected name before end of line\n"
                 "   1 | a.\n"
                 "     |   ^\n");
    check_errors(f, "f(x = )", 1,
                 "t.nn:1:7: error: expected an expression before ')'\n"
                 "   1 | f(x = )\n"
                 "     |       ^\n");
    check_errors(f, "let x = 1 2", 1,
                 "t.nn:1:11: error: expected end of line or ';' before number\n"
                 "   1 | let x = 1 2\n"
                 "     |           ^\n");
    check_errors(f, "f(1 2)", 1,
                 "t.nn:1:5: error: expected ')' or ',' before number\n"
                 "   1 | f(1 2)\n"
                 "     |     ^\n");
}

static void test_error_unexpected_character(void **state)
{
    Fixture *f = *state;
    check_errors(f, "let a = 1 $", -1,
                 "t.nn:1:11: error: unexpected character '$'\n"
                 "   1 | let a = 1 $\n"
                 "     |           ^\n");
    /* one mistake, one message: the parser's error at the bad character is not repeated */
    check_errors(f, "let a = $", -1,
                 "t.nn:1:9: error: unexpected character '$'\n"
                 "   1 | let a = $\n"
                 "     |         ^\n");
    check_errors(f, "let a = 1 $ 2\nlet = 3", -1,
                 "t.nn:1:11: error: unexpected character '$'\n"
                 "   1 | let a = 1 $ 2\n"
                 "     |           ^\n"
                 "t.nn:2:5: error: expected name before '='\n"
                 "   2 | let = 3\n"
                 "     |     ^\n");
}

/* A bad character that starts a line still ends at that line: the next line is parsed,
 * and its own mistakes are reported. */
static void test_error_bad_character_at_line_start(void **state)
{
    Fixture *f = *state;
    check_errors(f, "$\nlet = 2", -1,
                 "t.nn:1:1: error: unexpected character '$'\n"
                 "   1 | $\n"
                 "     | ^\n"
                 "t.nn:2:5: error: expected name before '='\n"
                 "   2 | let = 2\n"
                 "     |     ^\n");
    check_errors(f, "]\nlet = 2", -1,
                 "t.nn:1:1: error: ']' has no matching '['\n"
                 "   1 | ]\n"
                 "     | ^\n"
                 "t.nn:2:5: error: expected name before '='\n"
                 "   2 | let = 2\n"
                 "     |     ^\n");
    check_errors(f, "\xce\xbb\nlet y = 2", -1,
                 "t.nn:1:1: error: unexpected non-ASCII text (names and operators are ASCII)\n"
                 "   1 | \xce\xbb\n"
                 "     | ^\n");
    assert_string_equal(text_of(&f->dump), "(let y 2)");
}

static void test_error_non_ascii(void **state)
{
    /* one message, as for any bad character */
    check_errors(*state, "let \xce\xbb = 1", -1,
                 "t.nn:1:5: error: unexpected non-ASCII text (names and operators are ASCII)\n"
                 "   1 | let \xce\xbb = 1\n"
                 "     |     ^\n");
    /* columns and the caret count a code point as one column */
    check_errors(*state, "print \"\xce\xbb\", 1 $", -1,
                 "t.nn:1:14: error: unexpected character '$'\n"
                 "   1 | print \"\xce\xbb\", 1 $\n"
                 "     |              ^\n");
}

static void test_error_control_character_and_bom(void **state)
{
    Fixture *f = *state;
    check_errors(f, "let x = 1 \x01", -1,
                 "t.nn:1:11: error: unexpected character '\\x01'\n"
                 "   1 | let x = 1 \\x01\n"          /* echoed escaped, as in the message */
                 "     |           ^~~~\n");
    /* a UTF-8 byte-order mark is fine at the very start, and an error anywhere else */
    check_ast(f, "\xef\xbb\xbflet x = 1", "(let x 1)");
    check_errors(f, "let x = 1 \xef\xbb\xbf", -1,
                 "t.nn:1:11: error: unexpected byte-order mark\n"
                 "   1 | let x = 1 \xef\xbb\xbf\n"
                 "     |           ^\n");
}

/* '{' is not (yet) part of the language: it is named, not called "invalid token" */
static void test_error_brace(void **state)
{
    check_errors(*state, "let x = {1}", 1,
                 "t.nn:1:9: error: expected an expression before '{'\n"
                 "   1 | let x = {1}\n"
                 "     |         ^\n");
}

/* Hints for habits from other languages; parsing goes on after them. */
static void test_error_foreign_operators(void **state)
{
    Fixture *f = *state;
    check_errors(f, "print 2 ** 3", 1,
                 "t.nn:1:9: error: '**' is not an operator in nn; write powers with '^', as "
                 "in x^2\n"
                 "   1 | print 2 ** 3\n"
                 "     |         ^~\n");
    assert_string_equal(text_of(&f->dump), "(print (binary ^ 2 3))");
    check_errors(f, "let x = 1 // half\nlet y = 2", 1,
                 "t.nn:1:11: error: '//' is not an operator or a comment in nn: divide with "
                 "'/', comment with '#'\n"
                 "   1 | let x = 1 // half\n"
                 "     |           ^~\n");
    assert_string_equal(text_of(&f->dump), "(let y 2)");   /* the bad statement is dropped */
}

static void test_error_unterminated_string(void **state)
{
    Fixture *f = *state;
    check_errors(f, "print \"abc", 1,
                 "t.nn:1:7: error: unterminated string: a string must end with '\"' on the "
                 "same line\n"
                 "   1 | print \"abc\n"
                 "     |       ^~~~\n");
    /* the string stops at the line's end; the next line is parsed normally */
    check_errors(f, "print \"abc\nprint 1", 1,
                 "t.nn:1:7: error: unterminated string: a string must end with '\"' on the "
                 "same line\n"
                 "   1 | print \"abc\n"
                 "     |       ^~~~\n");
    assert_string_equal(text_of(&f->dump), "(print \"\")\n(print 1)");
    check_errors(f, "print \"abc\\", 1,
                 "t.nn:1:7: error: unterminated string: a string must end with '\"' on the "
                 "same line\n"
                 "   1 | print \"abc\\\n"
                 "     |       ^~~~~\n");
}

static void test_error_unknown_escape(void **state)
{
    check_errors(*state, "print \"a\\qb\"", 1,
                 "t.nn:1:9: error: unknown escape '\\q' in string (use \\\" \\\\ \\n or \\t)\n"
                 "   1 | print \"a\\qb\"\n"
                 "     |         ^~\n");
}

static void test_error_number_too_large(void **state)
{
    Fixture *f = *state;
    check_errors(f, "let a = 1e39", 1,
                 "t.nn:1:9: error: number '1e39' is too large for float32 (the largest is "
                 "about 3.4e38)\n"
                 "   1 | let a = 1e39\n"
                 "     |         ^~~~\n");
    check_errors(f, "print 2 * 1e999", 1,
                 "t.nn:1:11: error: number '1e999' is too large for float32 (the largest is "
                 "about 3.4e38)\n"
                 "   1 | print 2 * 1e999\n"
                 "     |           ^~~~~\n");
}

static void test_error_on_line_3(void **state)
{
    check_errors(*state, "let a = 1\n\n# comment\nlet c = * 3\nlet d = 4", 1,
                 "t.nn:4:9: error: expected an expression before '*'\n"
                 "   4 | let c = * 3\n"
                 "     |         ^\n");
    check_errors(*state, "let a = 1\nlet b = 2\nlet c = * 3\n", 1,
                 "t.nn:3:9: error: expected an expression before '*'\n"
                 "   3 | let c = * 3\n"
                 "     |         ^\n");
}

static void test_error_gutter_and_tabs(void **state)
{
    Fixture *f = *state;
    /* the gutter is at least 4 wide and grows with the line number */
    StrBuf code;
    sb_init(&code);
    for (int i = 0; i < 12344; i++) sb_puts(&code, "\n");
    sb_puts(&code, "let = 1");
    check_errors(f, code.data, 1,
                 "t.nn:12345:5: error: expected name before '='\n"
                 "12345 | let = 1\n"
                 "      |     ^\n");
    sb_free(&code);
    /* tabs before the caret are copied so it stays under the right character */
    check_errors(f, "\tlet\t= 1", 1,
                 "t.nn:1:6: error: expected name before '='\n"
                 "   1 | \tlet\t= 1\n"
                 "     | \t   \t^\n");
}

static void test_recovery_two_errors(void **state)
{
    Fixture *f = *state;
    check_errors(f, "let = 1\nlet y 2\nlet z = 3", 2,
                 "t.nn:1:5: error: expected name before '='\n"
                 "   1 | let = 1\n"
                 "     |     ^\n"
                 "t.nn:2:7: error: expected '=' or ',' before number\n"
                 "   2 | let y 2\n"
                 "     |       ^\n");
    /* the good statement after the errors is still parsed */
    assert_string_equal(text_of(&f->dump), "(let z 3)");
    /* ';' is a statement separator for recovery too */
    check_errors(f, "let = 1; let x 2; let z = 3", 2,
                 "t.nn:1:5: error: expected name before '='\n"
                 "   1 | let = 1; let x 2; let z = 3\n"
                 "     |     ^\n"
                 "t.nn:1:16: error: expected '=' or ',' before number\n"
                 "   1 | let = 1; let x 2; let z = 3\n"
                 "     |                ^\n");
    assert_string_equal(text_of(&f->dump), "(let z 3)");
    /* a lexer error and a syntax error in different statements are both reported */
    check_errors(f, "let a = 1e39\nlet = 2", 2,
                 "t.nn:1:9: error: number '1e39' is too large for float32 (the largest is "
                 "about 3.4e38)\n"
                 "   1 | let a = 1e39\n"
                 "     |         ^~~~\n"
                 "t.nn:2:5: error: expected name before '='\n"
                 "   2 | let = 2\n"
                 "     |     ^\n");
}

/* ---- the language's control flow, functions and newer operators ---------------------------- */

static void test_loops(void **state)
{
    Fixture *f = *state;
    check_ast(f, "for k in 0..10 { print k }", "(for k 0 10 (print k))");
    check_ast(f, "for k in 1 .. n + 1 {\n  backward loss\n  step sgd(lr = 0.1)\n}",
              "(for k 1 (binary + n 1) (backward loss) (step sgd (arg lr 0.1)))");
    check_ast(f, "repeat 3 { zero_grad; backward loss }", "(repeat 3 (zero_grad) (backward loss))");
    check_ast(f, "while loss > 0.1 {\n  break\n}", "(while (binary > loss 0.1) (break))");
    check_ast(f, "for i in 0..2 { for j in 0..2 { continue } }",
              "(for i 0 2 (for j 0 2 (continue)))");
    check_ast(f, "repeat 2 {}", "(repeat 2)");
    check_ast(f, "repeat 2 {\n\n}", "(repeat 2)");
    /* `in` is a word only there: a name elsewhere */
    check_ast(f, "let in = 1", "(let in 1)");
}

static void test_if_else(void **state)
{
    Fixture *f = *state;
    check_ast(f, "if k == 0 { trace loss } else { backward loss }",
              "(if (binary == k 0) (then (trace loss)) (else (backward loss)))");
    check_ast(f, "if a { print 1 } else if b { print 2 } else { print 3 }",
              "(if a (then (print 1)) (else (if b (then (print 2)) (else (print 3)))))");
    check_ast(f, "if a {\n  print 1\n}\nprint 2", "(if a (then (print 1)))\n(print 2)");
    check_errors(f, "if a { print 1 }\nelse { print 2 }\nprint 3", 1,
                 "t.nn:2:1: error: 'else' goes on the line of the '}' that ends the if block: "
                 "} else {\n"
                 "   2 | else { print 2 }\n"
                 "     | ^~~~\n");
    assert_string_equal(text_of(&f->dump), "(if a (then (print 1)))\n(print 3)");
}

static void test_functions(void **state)
{
    Fixture *f = *state;
    check_ast(f, "fn hinge(s, y) = mean(relu(1 - y * s))",
              "(fn hinge (s y) (call mean (arg (call relu (arg (binary - 1 (binary * y s)))))))");
    check_ast(f, "fn one(x) = x", "(fn one (x) x)");
}

static void test_comparisons_and_logic(void **state)
{
    Fixture *f = *state;
    check_ast(f, "x < 1", "(expr (binary < x 1))");
    check_ast(f, "a + 1 >= b * 2", "(expr (binary >= (binary + a 1) (binary * b 2)))");
    check_ast(f, "not a < b and c or d",
              "(expr (binary or (binary and (unary not (binary < a b)) c) d))");
    check_ast(f, "-x ^ 2 < 1", "(expr (binary < (unary - (binary ^ x 2)) 1))");
    check_errors(f, "print a == b != c", 1,
                 "t.nn:1:14: error: comparisons do not chain in nn: write a < b and b < c, or "
                 "put one in parentheses\n"
                 "   1 | print a == b != c\n"
                 "     |              ^~\n");
}

static void test_compound_assignment(void **state)
{
    Fixture *f = *state;
    check_ast(f, "w -= 0.1 * w.grad", "(assign w -= (binary * 0.1 (field w grad)))");
    check_ast(f, "c += 1", "(assign c += 1)");
    check_ast(f, "net.layer1.W *= 0.5", "(assign net.layer1.W *= 0.5)");
    check_ast(f, "x /= 2", "(assign x /= 2)");
}

static void test_indexing(void **state)
{
    Fixture *f = *state;
    check_ast(f, "X[0]", "(expr (index X 0))");
    check_ast(f, "X[-1]", "(expr (index X (unary - 1)))");
    check_ast(f, "X[1:3]", "(expr (index X (range 1 3)))");
    check_ast(f, "X[:, j]", "(expr (index X (range nil nil) j))");
    check_ast(f, "X[2:, :4]", "(expr (index X (range 2 nil) (range nil 4)))");
    check_ast(f, "X[i][j].T", "(expr (field (index (index X i) j) T))");
    check_ast(f, "d.X[k]", "(expr (index (field d X) k))");
    check_ast(f, "trace loss at net.layer1[3], net.layer2",
              "(trace loss (place (field net layer1) 3) (place (field net layer2)))");
}

static void test_targets_and_settings(void **state)
{
    Fixture *f = *state;
    check_ast(f, "zero_grad net", "(zero_grad net)");
    check_ast(f, "zero_grad w, b", "(zero_grad w b)");
    check_ast(f, "step sgd(lr = 0.1) net", "(step sgd (arg lr 0.1) (on net))");
    check_ast(f, "step adam() net.layer1, w", "(step adam (on (field net layer1) w))");
    check_ast(f, "train net on d { schedule cosine per update; break step 3; break nonfinite }",
              "(train net on d (setting schedule cosine per update) (setting break step 3) "
              "(setting break nonfinite))");
    check_ast(f, "train net on d { break grad_norm 10 }",
              "(train net on d (setting break grad_norm 10))");
    check_errors(f, "train net on d { optimizer sgd(lr = 0.1) epochs 3 }", 1,
                 "t.nn:1:42: error: expected end of line, ';' or '}' before name\n"
                 "   1 | train net on d { optimizer sgd(lr = 0.1) epochs 3 }\n"
                 "     |                                          ^~~~~~\n");
    check_errors(f, "train net on d { schedule cosine per 2 }", 1,
                 "t.nn:1:38: error: expected 'update' or 'epoch' after 'per': schedule cosine "
                 "per update\n"
                 "   1 | train net on d { schedule cosine per 2 }\n"
                 "     |                                      ^\n");
}

/* A misspelt statement word is named, with the word it is closest to; a bad line that opens a
 * block is skipped whole, so its block's lines do not each make an error. */
static void test_error_misspelt_statements(void **state)
{
    Fixture *f = *state;
    check_errors(f, "parm w = 1", 1,
                 "t.nn:1:1: error: unknown statement 'parm'; did you mean 'param'?\n"
                 "   1 | parm w = 1\n"
                 "     | ^~~~\n");
    check_errors(f, "trian net on d {\n  loss mse\n  epochs 3\n}\nprint 1", 1,
                 "t.nn:1:1: error: unknown statement 'trian'; did you mean 'train'?\n"
                 "   1 | trian net on d {\n"
                 "     | ^~~~~\n");
    assert_string_equal(text_of(&f->dump), "(print 1)");
    check_errors(f, "for k in 0..3 {\n  stpe sgd(0.1)\n}", 1,
                 "t.nn:2:3: error: unknown statement 'stpe'; did you mean 'step'?\n"
                 "   2 |   stpe sgd(0.1)\n"
                 "     |   ^~~~\n");
    check_errors(f, "def f(x) = x", 1,
                 "t.nn:1:1: error: nn has no 'def' statement; did you mean 'fn'?\n"
                 "   1 | def f(x) = x\n"
                 "     | ^~~\n");
    /* a word close to nothing keeps the usual message */
    check_errors(f, "frobnicate w", 1,
                 "t.nn:1:12: error: expected end of line, ';', '=' or '(' before name\n"
                 "   1 | frobnicate w\n"
                 "     |            ^\n");
}

static void test_error_methods(void **state)
{
    Fixture *f = *state;
    check_errors(f, "loss.backward()", 1,
                 "t.nn:1:1: error: nn has no methods: write 'backward loss'\n"
                 "   1 | loss.backward()\n"
                 "     | ^~~~~~~~~~~~~~~\n");
    check_errors(f, "print x.mean(0)", 1,
                 "t.nn:1:7: error: nn has no methods: write it as a function, mean(x, ...)\n"
                 "   1 | print x.mean(0)\n"
                 "     |       ^~~~~~~~~\n");
    check_errors(f, "opt.zero_grad()", 1,
                 "t.nn:1:1: error: nn has no methods: write 'zero_grad' (every param) or "
                 "'zero_grad NAME'\n"
                 "   1 | opt.zero_grad()\n"
                 "     | ^~~~~~~~~~~~~~~\n");
    check_errors(f, "print a && b", 1,
                 "t.nn:1:9: error: '&&' is not an operator in nn; write 'and'\n"
                 "   1 | print a && b\n"
                 "     |         ^~\n");
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

/* Appends `n` copies of `line`. */
static void repeat(StrBuf *sb, const char *line, int n)
{
    for (int i = 0; i < n; i++) sb_puts(sb, line);
}

/* 20 errors are shown, then one note at the 21st; nothing after. */
static void check_error_cap(Fixture *f, const char *line, const char *note)
{
    StrBuf code;
    sb_init(&code);
    repeat(&code, line, 25);
    parse(f, code.data);
    sb_free(&code);
    const char *msgs = text_of(&f->msgs);
    assert_true(f->errors > NN_MAX_ERRORS);
    assert_int_equal(count_level(msgs, "error"), NN_MAX_ERRORS);
    assert_int_equal(count_level(msgs, "note"), 1);
    assert_non_null(strstr(msgs, "t.nn:20:"));
    const char *at = strstr(msgs, "note: ");
    assert_non_null(at);
    while (at > msgs && at[-1] != '\n') at--;
    assert_string_equal(at, note);
}

static void test_error_cap(void **state)
{
    check_error_cap(*state, "let = 1\n",
                    "t.nn:21:5: note: too many errors; stopping here\n"
                    "  21 | let = 1\n"
                    "     |     ^\n");
}

/* Errors found by the lexer count towards the cap, and get the same note. */
static void test_error_cap_lexer(void **state)
{
    check_error_cap(*state, "let x = 1 $\n",
                    "t.nn:21:11: note: too many errors; stopping here\n"
                    "  21 | let x = 1 $\n"
                    "     |           ^\n");
}

/* A syntax error that is not reported (the lexer already reported one at the same place)
 * does not use up the cap. */
static void test_error_cap_suppressed(void **state)
{
    check_error_cap(*state, "\"abc\n",
                    "t.nn:21:1: note: too many errors; stopping here\n"
                    "  21 | \"abc\n"
                    "     | ^~~~\n");
}

/* More than NN_MAX_NESTING open brackets: one error at the first one too many. */
static void test_error_nesting_too_deep(void **state)
{
    Fixture *f = *state;
    StrBuf code, want;
    sb_init(&code);
    sb_init(&want);
    repeat(&code, "(", 70);
    sb_puts(&code, "1");
    for (int i = 0; i < 70; i++) sb_putc(&code, ')');
    sb_printf(&want, "t.nn:1:65: error: brackets are nested too deeply (the limit is 64)\n"
                     "   1 | %s\n"
                     "     | %*s^\n", code.data, 64, "");
    check_errors(f, code.data, 1, want.data);
    sb_free(&code);
    sb_free(&want);
}

/* An expression so deep that the parser's stack runs out is refused with one error. */
static void test_error_parser_stack(void **state)
{
    Fixture *f = *state;
    StrBuf code;
    sb_init(&code);
    sb_puts(&code, "let x = ");
    repeat(&code, "-", 20000);
    sb_puts(&code, "1\nlet y = 2");
    parse(f, code.data);
    sb_free(&code);
    const char *msgs = text_of(&f->msgs);
    assert_true(f->errors > 0);
    assert_int_equal(count_level(msgs, "error"), 1);
    assert_int_equal(count_level(msgs, "note"), 0);
    assert_true(strncmp(msgs, "t.nn:1:", 7) == 0);
    assert_non_null(strstr(msgs, ": error: this expression is nested too deeply\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_statement_kinds),
        T(test_seed_example),
        T(test_keywords_and_names),
        T(test_numbers),
        T(test_precedence),
        T(test_associativity),
        T(test_calls),
        T(test_fields),
        T(test_tensor_literals),
        T(test_newlines_inside_brackets),
        T(test_semicolons),
        T(test_comments_and_blank_lines),
        T(test_string_escapes),
        T(test_spans),
        T(test_error_let_without_name),
        T(test_error_let_without_equals),
        T(test_error_keyword_as_name),
        T(test_error_unclosed_paren),
        T(test_error_bracket_mismatch),
        T(test_error_stray_closer),
        T(test_error_double_equals),
        T(test_error_expected_lists),
        T(test_error_unexpected_character),
        T(test_error_bad_character_at_line_start),
        T(test_error_non_ascii),
        T(test_error_control_character_and_bom),
        T(test_error_brace),
        T(test_error_foreign_operators),
        T(test_error_unterminated_string),
        T(test_error_unknown_escape),
        T(test_error_number_too_large),
        T(test_error_on_line_3),
        T(test_error_gutter_and_tabs),
        T(test_recovery_two_errors),
        T(test_error_cap),
        T(test_error_cap_lexer),
        T(test_error_cap_suppressed),
        T(test_error_nesting_too_deep),
        T(test_error_parser_stack),
        T(test_loops),
        T(test_if_else),
        T(test_functions),
        T(test_comparisons_and_logic),
        T(test_compound_assignment),
        T(test_indexing),
        T(test_targets_and_settings),
        T(test_error_misspelt_statements),
        T(test_error_methods),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
