/* test_lang.c — the language's loops, ifs, functions and carried values through the public API,
 * as a REPL or a host uses them input by input: a failed input in a loop changes nothing, carried
 * values and functions live on across inputs, an interrupt keeps what a loop ran, a hand-written
 * loop gives the bits of a train block, and nn_check_string checks the new statements without
 * running them. */
#include "testutil.h"

#include "nn.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

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

static void check(Fixture *f, const char *code, NnStatus want)
{
    clear(f);
    NnStatus st = nn_check_string(f->nn, "<check>", code);
    if (st != want) {
        print_error("%s\nstatus %d, wanted %d\nout: %s\nerr: %s\n", code, st, want, f->out.buf,
                    f->err.buf);
        fail();
    }
}

/* The value of a scalar (or element 0) name, exactly as float32. */
static float scalar(Fixture *f, const char *name)
{
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, name, &v), NN_OK);
    assert_true(v.size >= 1);
    return v.data[0];
}

/* A run-time error in the 4th iteration of a loop undoes every iteration before it: the params
 * it stepped, their gradients, the carried value it counted and the name it defined. Then the
 * session goes on as if the input had never been typed. */
static void test_failed_loop_changes_nothing(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 1\nlet c = 10\nlet v = [1, 2, 3]\nbackward 3 * w", NN_OK);
    run(f, "let seen = 0\n"
           "for k in 0..5 {\n"
           "  backward w * w\n"
           "  step sgd(lr = 0.1)\n"
           "  c += 1\n"
           "  seen += 1\n"
           "  print v[k]\n"
           "}\n",
        NN_ERROR_RUNTIME);
    assert_string_equal(f->out.buf, "1\n2\n3\n");       /* what printed stays printed */
    assert_non_null(strstr(f->err.buf, "index 3 is out of range"));
    assert_non_null(strstr(f->err.buf, "note: in iteration 4 (k = 3) of this loop"));
    assert_true(scalar(f, "w") == 1.0f);
    assert_true(scalar(f, "c") == 10.0f);
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, "seen", &v), NN_ERROR_COMPILE);
    run(f, "print w.grad, c", NN_OK);
    assert_string_equal(f->out.buf, "3 10\n");
    /* the same loop without the error runs in full */
    run(f, "for k in 0..3 {\n  c += 1\n  print v[k]\n}\nprint c", NN_OK);
    assert_string_equal(f->out.buf, "1\n2\n3\n13\n");
}

/* A compile error anywhere in an input with a loop runs none of it. */
static void test_compile_error_in_loop_runs_nothing(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 1", NN_OK);
    run(f, "for k in 0..3 {\n  w -= 1\n  print k\n}\nfor k in 0..3 { print [1, 2] @ [1, 2, 3] }",
        NN_ERROR_COMPILE);
    assert_string_equal(f->out.buf, "");
    assert_non_null(strstr(f->err.buf, "cannot multiply"));
    assert_true(scalar(f, "w") == 1.0f);
}

/* A carried value keeps its value from one input to the next, and a later input's block can
 * give it new values again. */
static void test_carried_value_across_inputs(void **state)
{
    Fixture *f = *state;
    run(f, "let total = 0", NN_OK);
    run(f, "for k in 1..11 { total += k }", NN_OK);
    run(f, "print total", NN_OK);
    assert_string_equal(f->out.buf, "55\n");
    assert_true(scalar(f, "total") == 55.0f);
    run(f, "repeat 2 { total *= 2 }", NN_OK);
    assert_true(scalar(f, "total") == 220.0f);
    run(f, "let i = 0\nwhile total > 1 {\n  total /= 10\n  i += 1\n}", NN_OK);
    run(f, "print i, total", NN_OK);
    assert_string_equal(f->out.buf, "3 0.22\n");
    /* a failed input does not lose the carried value */
    run(f, "total += 1\nprint log(0 - total)", NN_ERROR_RUNTIME);
    assert_true(scalar(f, "total") == 0.22f);
}

/* Functions defined in one input are called in later ones, checked afresh for each call's
 * shapes; an error in a later call is reported in the body with a note at the call, and
 * changes nothing. */
static void test_functions_across_inputs(void **state)
{
    Fixture *f = *state;
    run(f, "fn sq(x) = x^2", NN_OK);
    run(f, "fn sumsq(x) = sum(sq(x))", NN_OK);
    run(f, "print sq(3), sumsq([1, 2, 3])", NN_OK);
    assert_string_equal(f->out.buf, "9 14\n");
    run(f, "param w = [1, -2]\nbackward sumsq(w)\nprint w.grad", NN_OK);
    assert_string_equal(f->out.buf, "[ 2, -4]  shape [2]\n");
    run(f, "fn dot(a, b) = a @ b", NN_OK);
    run(f, "print dot([1, 2], [3, 4])", NN_OK);
    assert_string_equal(f->out.buf, "11\n");
    run(f, "let y = 1\nprint dot([[1, 2]], [[3, 4]])", NN_ERROR_COMPILE);
    assert_non_null(strstr(f->err.buf, "<input>:1:16: error: cannot multiply [1,2] @ [1,2]"));
    assert_non_null(strstr(f->err.buf, "note: in 'dot' called here"));
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, "y", &v), NN_ERROR_COMPILE);
    /* a loop in a later input calls them too */
    run(f, "let s = 0\nfor k in 0..4 { s += sq(k) }\nprint s", NN_OK);
    assert_string_equal(f->out.buf, "14\n");
}

/* With the interrupt flag already set, a loop stops at the end of its first iteration: what that
 * iteration did is kept (not undone), the statements after the loop do not run, a note says
 * where it stopped, and the flag is cleared. */
static void test_interrupt_keeps_loop_work(void **state)
{
    Fixture *f = *state;
    static volatile sig_atomic_t flag;
    nn_set_interrupt(f->nn, &flag);
    run(f, "param w = 0\nlet c = 0", NN_OK);
    flag = 1;
    run(f, "for k in 0..100000 {\n  backward w - 1\n  step sgd(lr = 0.5)\n  zero_grad\n"
           "  c += 1\n}\nprint \"after\"",
        NN_INTERRUPTED);
    assert_null(strstr(f->out.buf, "after"));
    assert_non_null(strstr(f->err.buf, "note: interrupted after iteration 1 (k = 0) of this loop"));
    assert_int_equal(flag, 0);
    assert_true(scalar(f, "w") == -0.5f);
    assert_true(scalar(f, "c") == 1.0f);
    /* the session goes on, and the next loop runs in full */
    run(f, "repeat 3 { c += 1 }\nprint c", NN_OK);
    assert_string_equal(f->out.buf, "4\n");
    nn_set_interrupt(f->nn, NULL);
}

/* Ctrl-C in a loop inside other blocks: every block around it ends there, so the names they
 * carry keep what the iterations that ran gave them, as the params keep their updates. */
static void test_interrupt_in_nested_blocks(void **state)
{
    Fixture *f = *state;
    static volatile sig_atomic_t flag;
    nn_set_interrupt(f->nn, &flag);
    run(f, "let c = 0\nparam w = 0", NN_OK);
    flag = 1;
    run(f, "for i in 0..3 {\n  for j in 0..3 {\n    c += 1\n    w = w + 1\n  }\n}", NN_INTERRUPTED);
    assert_non_null(strstr(f->err.buf, "note: interrupted after iteration 1 (j = 0) of this loop"));
    assert_true(scalar(f, "c") == 1.0f);
    assert_true(scalar(f, "w") == 1.0f);
    flag = 1;
    run(f, "if 1 {\n  c += 1\n  repeat 3 { c += 1 }\n}", NN_INTERRUPTED);
    assert_true(scalar(f, "c") == 3.0f);
    run(f, "repeat 2 { c += 1 }", NN_OK);   /* the flag was cleared */
    assert_true(scalar(f, "c") == 5.0f);
    nn_set_interrupt(f->nn, NULL);
}

/* 100000 iterations of backward, step and zero_grad by hand give the bits of a `train LOSS` block
 * of 100000 epochs with the same optimizer: both replay compiled plans. */
static void test_loop_equals_train_block(void **state)
{
    Fixture *f = *state;
    run(f, "let x = 2\nlet y = 1\nparam w = 0.5\nparam b = 0.1\nparam v = 0.5\nparam c = 0.1\n"
           "for k in 0..100000 {\n"
           "  backward (y - sigmoid(w * x + b))^2\n"
           "  step sgd(lr = 0.01, momentum = 0.9) w, b\n"
           "  zero_grad w, b\n"
           "}\n"
           "train (y - sigmoid(v * x + c))^2 {\n"
           "  optimizer sgd(lr = 0.01, momentum = 0.9)\n"
           "  epochs 100000\n"
           "}\n",
        NN_OK);
    float w = scalar(f, "w"), b = scalar(f, "b"), v = scalar(f, "v"), c = scalar(f, "c");
    assert_true(w > 2.0f);                  /* it trained */
    assert_memory_equal(&w, &v, sizeof w);
    assert_memory_equal(&b, &c, sizeof b);
}

/* nn_check_string checks the new statements (names, shapes, arguments) without running them:
 * nothing prints, nothing is defined; mistakes come back as compile errors. */
static void test_check_string(void **state)
{
    Fixture *f = *state;
    check(f,
          "param w = [1, 2]\n"
          "let total = 0\n"
          "fn hinge(s, y) = mean(relu(1 - y * s))\n"
          "for k in 0..3 {\n"
          "  if k % 2 == 0 and not (k > 5) { total += k } else if k == 1 { continue } else { break }\n"
          "  print w[k % 2], w[-1:], w.shape, w.rows\n"
          "}\n"
          "repeat 2 { print max(w), where(w > 1, w, 0), clamp(w, min = 0) }\n"
          "let i = 0\n"
          "while i < 3 { i += 1 }\n"
          "backward hinge(w, [1, -1]) + l2(w)\n"
          "step sgd(lr = 0.1 / (1 + total)) w\n"
          "zero_grad w\n"
          "w -= 0.1\n"
          "model net {\n  dense(2, 2)\n  relu\n  dense(1)\n}\n"
          "print params(net), l2(net), one_hot([0, 1], 2), stack(w, w, axis = 0)\n"
          "print concat(w, w, axis = 0), reshape(w, 1, -1), maximum(w, minimum(w, 1)), detach(w)\n"
          "let X = [[0, 0], [0, 1], [1, 0], [1, 1]]\n"
          "let Y = [[0], [1], [1], [0]]\n"
          "train net on X, Y {\n  loss hinge(out, Y) + 1e-4 * l2(net)\n  optimizer sgd(lr = 1)\n"
          "  epochs 3\n  shuffle false\n  metric mean((out > 0) == Y)\n"
          "  schedule warmup(over = 1) then cosine per update\n}\n"
          "train net on X, Y {\n  loss mse\n  optimizer adam()\n  epochs 2\n"
          "  schedule 1 - update / 10\n}\n",
          NN_OK);
    assert_string_equal(f->out.buf, "");
    assert_string_equal(f->err.buf, "");
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, "w", &v), NN_ERROR_COMPILE);
    assert_int_equal(nn_get(f->nn, "total", &v), NN_ERROR_COMPILE);
    /* a run-time error is not a compile error: checking does not see it */
    check(f, "let v = [1, 2]\nfor k in 0..5 { print v[k] }", NN_OK);
    assert_string_equal(f->out.buf, "");
    /* compile errors of the new statements, all of them reported */
    check(f,
          "break\n"
          "for k in 0..2.5 { print k }\n"
          "fn f(x) = f(x)\n"
          "print f(1)\n"
          "let v = [1, 2]\n"
          "print v[2]\n",
          NN_ERROR_COMPILE);
    assert_non_null(strstr(f->err.buf, "<check>:1:1: error: 'break' is allowed only inside a loop"));
    assert_non_null(strstr(f->err.buf, "<check>:2:13: error: the end of the range must be a "
                                       "constant integer"));
    assert_non_null(strstr(f->err.buf, "<check>:3:11: error: 'f' cannot call itself"));
    assert_non_null(strstr(f->err.buf, "<check>:6:9: error: index 2 is out of range"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_loop_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_error_in_loop_runs_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_carried_value_across_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions_across_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_keeps_loop_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_in_nested_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_equals_train_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_string, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
