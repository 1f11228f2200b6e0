/* test_session.c — a session used piece by piece, as the REPL uses it: a failed input changes
 * nothing, incomplete input is recognised, completion, :vars, :graph, :help, :save and
 * breakpoints. */
#include "testutil.h"

#include "nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Fixture {
    NnState *nn;
    TestText out, err;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    f->nn = nn_new();
    nn_set_output(f->nn, test_text_write, &f->out);
    nn_set_errors(f->nn, test_text_write, &f->err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    nn_close(f->nn);
    free(f);
    return 0;
}

static void clear(Fixture *f)
{
    f->out.len = f->err.len = 0;
    f->out.buf[0] = f->err.buf[0] = '\0';
}

static double value(Fixture *f, const char *name, size_t i)
{
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, name, &v), NN_OK);
    assert_true(i < v.size);
    return v.data[i];
}

static void run(Fixture *f, const char *code, NnStatus want)
{
    clear(f);
    NnStatus st = nn_run_string(f->nn, "<input>", code);
    if (st != want) {
        print_error("%s\nstatus %d, wanted %d\nout: %s\nerr: %s\n", code, st, want, f->out.buf,
                    f->err.buf);
        fail();
    }
}

/* A run-time error part-way through an input undoes what the input did before it. */
static void test_failed_input_changes_nothing(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 0.5\nlet loss = (w - 1)^2\nbackward loss", NN_OK);
    run(f, "print w.grad", NN_OK);
    assert_string_equal(f->out.buf, "-1\n");
    run(f, "w = 5\nbackward loss\nstep adam(lr = 0.1)\nparam extra = 1\nprint log(0 - w)",
        NN_ERROR_RUNTIME);
    assert_non_null(strstr(f->err.buf, "this produced nan"));
    assert_close(value(f, "w", 0), 0.5, 1e-7);
    /* the gradient w had before, not the one the failed input's backward added */
    run(f, "print w.grad", NN_OK);
    assert_string_equal(f->out.buf, "-1\n");
    /* the name the failed input defined is gone */
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, "extra", &v), NN_ERROR_COMPILE);
    /* and the session goes on */
    run(f, "w = 0.7\nprint loss", NN_OK);
    assert_string_equal(f->out.buf, "0.09\n");
}

/* The random numbers are restored too: a failed input's draws are not consumed. */
static void test_failed_input_keeps_random_numbers(void **state)
{
    Fixture *f = *state;
    run(f, "seed 3", NN_OK);
    run(f, "let a = rand(3)\nprint log(0 - 1)", NN_ERROR_RUNTIME);
    run(f, "print rand(1)", NN_OK);
    TestText first = f->out;
    run(f, "seed 3\nprint rand(1)", NN_OK);
    assert_string_equal(first.buf, f->out.buf);
}

static void test_is_complete(void **state)
{
    Fixture *f = *state;
    assert_int_equal(nn_is_complete(f->nn, "let x = 1\n"), 1);
    assert_int_equal(nn_is_complete(f->nn, "let x = (1 +\n"), 0);
    assert_int_equal(nn_is_complete(f->nn, "model net {\n  dense(2, 3)\n"), 0);
    assert_int_equal(nn_is_complete(f->nn, "model net {\n  dense(2, 3)\n}\n"), 1);
    assert_int_equal(nn_is_complete(f->nn, "print [1, 2,\n"), 0);
    /* wrong, but no further line can help: run it and report */
    assert_int_equal(nn_is_complete(f->nn, "let = )\n"), 1);
    /* probing says nothing */
    assert_int_equal((int)f->err.len, 0);
}

static void add_word(void *ud, const char *word)
{
    TestText *t = ud;
    test_text_write(t, word, strlen(word));
    test_text_write(t, " ", 1);
}

static void test_complete(void **state)
{
    Fixture *f = *state;
    run(f, "param weight = 1\nmodel net {\n dense(1, 1)\n}", NN_OK);
    TestText words = { .len = 0 };
    words.buf[0] = '\0';
    nn_complete(f->nn, "we", add_word, &words);
    assert_string_equal(words.buf, "weight ");
    words.len = 0;
    words.buf[0] = '\0';
    nn_complete(f->nn, "zero", add_word, &words);
    assert_string_equal(words.buf, "zero_grad zeros ");
    words.len = 0;
    words.buf[0] = '\0';
    nn_complete(f->nn, "net.l", add_word, &words);
    assert_string_equal(words.buf, "net.layer1.W net.layer1.b ");
}

static void test_vars_graph_help(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 0.5\nlet loss = (w * 2 - 3)^2\nbackward loss", NN_OK);
    clear(f);
    nn_print_vars(f->nn);
    assert_non_null(strstr(f->out.buf, "w                    param  []"));
    assert_non_null(strstr(f->out.buf, "|grad| 8"));
    clear(f);
    assert_int_equal(nn_print_graph(f->nn, "loss"), NN_OK);
    assert_non_null(strstr(f->out.buf, "loss = ^  value 4  grad 1\n"));
    assert_non_null(strstr(f->out.buf, "w = param  value 0.5  grad -8\n"));
    /* :graph computes its gradients aside: w's accumulated gradient is still -8, not -16 */
    run(f, "print w.grad", NN_OK);
    assert_string_equal(f->out.buf, "-8\n");
    clear(f);
    assert_int_equal(nn_print_graph(f->nn, "lss"), NN_ERROR_COMPILE);
    assert_non_null(strstr(f->err.buf, "unknown name 'lss'; did you mean 'loss'?"));
    clear(f);
    assert_int_equal(nn_print_help(f->nn, "adam"), 1);
    assert_non_null(strstr(f->out.buf, "adam (optimizer)"));
    assert_int_equal(nn_print_help(f->nn, "no_such_word"), 0);
}

/* :save writes a script that recreates the session, trained weights included. */
static void test_save_session(void **state)
{
    Fixture *f = *state;
    run(f, "seed 2\nparam w = 0.5\nlet loss = (w - 3)^2\nmodel net {\n dense(2, 2)\n relu\n}\n"
           "backward loss\nstep sgd(lr = 0.1)\nprint net([1, 2])", NN_OK);
    TestText before = f->out;
    char path[] = "/tmp/nn-session-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(nn_save_session(f->nn, path), NN_OK);
    NnState *again = nn_new();
    TestText out = { .len = 0 };
    nn_set_output(again, test_text_write, &out);
    assert_int_equal(nn_run_file(again, path), NN_OK);
    assert_int_equal(nn_run_string(again, "<t>", "print net([1, 2])\nprint w"), NN_OK);
    nn_close(again);
    unlink(path);
    test_text_write(&before, "1\n", 2);     /* w after one step: 0.5 - 0.1 * 2 * (0.5 - 3) */
    assert_string_equal(out.buf, before.buf);
}

/* :save writes functions, and the values loops and ifs left in the names they carried (where
 * the block ran, so formulas defined after it see them). */
static void test_save_session_blocks(void **state)
{
    Fixture *f = *state;
    run(f, "fn sq(x) = x * x\nparam w = 2\nlet c = 0\nfor k in 0..3 { c += sq(k) }\n"
           "let d = c * 2\nif d > 1 { let c = c + 1 }\nlet l = sq(w)", NN_OK);
    char path[] = "/tmp/nn-session-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(nn_save_session(f->nn, path), NN_OK);
    NnState *again = nn_new();
    TestText out = { .len = 0 };
    nn_set_output(again, test_text_write, &out);
    assert_int_equal(nn_run_file(again, path), NN_OK);
    assert_int_equal(nn_run_string(again, "<t>", "print c, d, l, sq(3)"), NN_OK);
    nn_close(again);
    unlink(path);
    assert_string_equal(out.buf, "6 10 4 9\n");
}

/* nn_set feeds a param from C; formulas follow; errors are reported, not crashed on. */
static void test_set_param(void **state)
{
    Fixture *f = *state;
    run(f, "param x = [0, 0]\nparam w = [1, 2]\nlet y = sum(x * w)", NN_OK);
    const float in[2] = { 3, 4 };
    assert_int_equal(nn_set(f->nn, "x", in, 2), NN_OK);
    assert_close(value(f, "y", 0), 11, 1e-7);
    clear(f);
    assert_int_equal(nn_set(f->nn, "x", in, 1), NN_ERROR_COMPILE);
    assert_string_equal(f->err.buf, "nn: error: nn_set: 'x' has shape [2], 2 values, not 1\n");
    clear(f);
    assert_int_equal(nn_set(f->nn, "y", in, 2), NN_ERROR_COMPILE);
    assert_string_equal(f->err.buf, "nn: error: nn_set: 'y' is not a param\n");
    run(f, "model net {\n dense(2, 1)\n}", NN_OK);
    const float w[2] = { 0.5f, -1 };
    assert_int_equal(nn_set(f->nn, "net.layer1.W", w, 2), NN_OK);
    assert_close(value(f, "net.layer1.W", 1), -1, 1e-7);
}

/* ---- breakpoints ---------------------------------------------------------------------------- */

typedef struct BreakLog {
    Fixture *f;
    int calls;
    NnBreakAction answer;
    char why[256];
    double grad_at_break;
    int in_break;
    NnStatus nested_train;
} BreakLog;

static NnBreakAction on_break(NnState *nn, const char *why, void *ud)
{
    BreakLog *b = ud;
    b->calls++;
    snprintf(b->why, sizeof b->why, "%s", why);
    b->in_break = nn_in_break(nn);
    assert_int_equal(nn_run_string(nn, "<prompt>", "let g = w.grad"), NN_OK);
    b->grad_at_break = value(b->f, "g", 0);
    /* what runs at the prompt may add to the gradients: the update must not see it */
    assert_int_equal(nn_run_string(nn, "<prompt>", "backward (w - 100)^2"), NN_OK);
    b->nested_train = nn_run_string(nn, "<prompt>", "train (w - 1)^2 { optimizer sgd(lr = 0.1); "
                                                    "epochs 1 }");
    return b->answer;
}

static const char trained[] = "param w = 3\n"
                              "train (w - 1)^2 {\n optimizer sgd(lr = 0.1)\n epochs 4\n%s}\n";

static double train_w(Fixture *f, const char *extra)
{
    char code[256];
    snprintf(code, sizeof code, trained, extra);
    run(f, code, NN_OK);
    return value(f, "w", 0);
}

/* A breakpoint stops before the update with the step's gradient; :continue makes exactly that
 * update, :stop ends the block without it; no handler: only reported. */
static void test_breakpoints(void **state)
{
    Fixture *f = *state;
    double plain = train_w(f, "");
    BreakLog b = { f, 0, NN_BREAK_CONTINUE, "", 0, 0, NN_OK };
    nn_set_break_handler(f->nn, on_break, &b);
    assert_close(train_w(f, " break step 2\n"), plain, 0);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.in_break, 1);
    assert_int_equal(nn_in_break(f->nn), 0);
    /* w = 3 - 0.1 * 4 = 2.6 after update 1, so update 2's gradient is 2 * (2.6 - 1) */
    assert_close(b.grad_at_break, 3.2, 1e-6);
    assert_string_equal(b.why, "before update 2 (epoch 2): loss 2.56, gradient norm 3.2");
    assert_int_equal(b.nested_train, NN_ERROR_RUNTIME);
    assert_non_null(strstr(f->err.buf, "cannot start while another is stopped"));
    assert_non_null(strstr(f->out.buf, "break: before update 2"));

    b.calls = 0;
    b.answer = NN_BREAK_STOP;
    assert_close(train_w(f, " break step 2\n"), 2.6, 1e-6);
    assert_int_equal(b.calls, 1);
    assert_non_null(strstr(f->out.buf, "stopped at the breakpoint in epoch 2 of 4, after 1 update"));

    /* the session's breakpoints: every block; a gradient-norm bound fires while it holds */
    b.calls = 0;
    b.answer = NN_BREAK_CONTINUE;
    assert_int_equal(nn_set_breakpoint(f->nn, "grad_norm=2.5"), 1);
    assert_close(train_w(f, ""), plain, 0);
    assert_int_equal(b.calls, 3);   /* gradients 4, 3.2 and 2.56; not 2.048 */
    assert_int_equal(nn_set_breakpoint(f->nn, "none"), 1);
    assert_int_equal(nn_set_breakpoint(f->nn, "step=0"), 0);
    assert_int_equal(nn_set_breakpoint(f->nn, "step=2x"), 0);
    assert_int_equal(nn_set_breakpoint(f->nn, "grad_norm=-1"), 0);
    assert_int_equal(nn_set_breakpoint(f->nn, "often"), 0);
    assert_int_equal(nn_set_breakpoint(f->nn, "step=3"), 1);
    b.calls = 0;
    train_w(f, "");
    assert_int_equal(b.calls, 1);

    /* without a handler a breakpoint is reported and training goes on */
    nn_set_break_handler(f->nn, NULL, NULL);
    assert_close(train_w(f, ""), plain, 0);
    assert_non_null(strstr(f->out.buf, "break: before update 3"));
}

/* A block that diverges stops with a warning and, with `break nonfinite`, at the prompt, whose
 * statements run in protected calls of their own (one of them fails). The run that holds the
 * block still catches its own errors afterwards: the next statement's error is reported, and
 * the input as a whole is undone. */
static void test_break_at_nonfinite(void **state)
{
    Fixture *f = *state;
    BreakLog b = { f, 0, NN_BREAK_CONTINUE, "", 0, 0, NN_OK };
    nn_set_break_handler(f->nn, on_break, &b);
    run(f, "param w = 3\n", NN_OK);
    run(f, "train (w * 1e20)^2 {\n optimizer sgd(lr = 0.1)\n epochs 3\n break nonfinite\n}\n"
           "print \"done:\", log(w - 3)\n", NN_ERROR_RUNTIME);
    assert_int_equal(b.calls, 1);
    assert_string_equal(b.why, "at the first inf or NaN (epoch 1, after 0 updates); the block "
                               "ends here");
    assert_int_equal(b.nested_train, NN_ERROR_RUNTIME);
    assert_int_equal(nn_in_break(f->nn), 0);
    assert_non_null(strstr(f->err.buf, "warning: this produced inf"));
    assert_non_null(strstr(f->err.buf, "error: this produced -inf (log of zero)"));
    assert_null(strstr(f->out.buf, "done:"));
    assert_close(value(f, "w", 0), 3, 0);
    nn_set_break_handler(f->nn, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_input_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_input_keeps_random_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vars_graph_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_session_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_param, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breakpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_break_at_nonfinite, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
