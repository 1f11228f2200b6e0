/* test_alloc.c — a training step allocates nothing: counts every malloc, calloc and realloc
 * the library makes (the test is linked with --wrap for them) while a train block runs, and
 * checks that more epochs or more steps do not mean more allocations, and that a second block
 * reuses what the first one allocated. */
#include "testutil.h"

#include "nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static size_t allocations;      /* the test's own counter, not the library's */

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    allocations++;
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    allocations++;
    return __real_realloc(ptr, size);
}

static void quiet(void *ud, const char *text, size_t len)
{
    (void)ud, (void)text, (void)len;
}

/* Allocations made while running `train` with the given number of epochs, after the same
 * setup in a fresh session. */
static size_t count_train(const char *setup, const char *train_fmt, int epochs)
{
    NnState *nn = nn_new();
    nn_set_output(nn, quiet, NULL);
    nn_set_errors(nn, quiet, NULL);
    assert_int_equal(nn_run_string(nn, "<setup>", setup), NN_OK);
    char code[1024];
    snprintf(code, sizeof code, train_fmt, epochs);
    size_t before = allocations;
    NnStatus st = nn_run_string(nn, "<train>", code);
    size_t made = allocations - before;
    assert_int_equal(st, NN_OK);
    nn_close(nn);
    return made;
}

static const char setup[] =
    "seed 1\n"
    "let d = moons(100, noise = 0.1)\n"
    "let tr, va = split(d, 0.8)\n"
    "model net {\n dense(2, 16)\n relu\n dropout(0.1)\n dense(1)\n}\n";

/* Compiling the block allocates; each of its steps must not. The counts for 1 and for 5
 * epochs are the same: every step of epochs 2 to 5 allocated nothing. */
static void test_train_steps_allocate_nothing(void **state)
{
    (void)state;
    const char *train =
        "train net on tr {\n loss bce_logits\n optimizer adam(lr = 0.01)\n epochs %d\n"
        " batch 16\n accumulate 2\n clip 1\n validation va\n early_stop 100\n log every 1\n"
        " schedule cosine\n}\n";
    size_t one = count_train(setup, train, 1), five = count_train(setup, train, 5);
    if (one != five) {
        print_error("1 epoch: %zu allocations, 5 epochs: %zu\n", one, five);
        fail();
    }
}

/* (A tanh net: a warning such as "dead units" at the end of one run and not the other would
 * allocate for its message, which is not a step.) */
static const char tanh_setup[] =
    "seed 1\n"
    "let d = moons(100, noise = 0.1)\n"
    "let tr, va = split(d, 0.8)\n"
    "model net {\n dense(2, 16)\n tanh\n dense(1)\n}\n";

static void test_sgd_steps_allocate_nothing(void **state)
{
    (void)state;
    const char *train =
        "train net on tr.X, tr.Y {\n loss mse\n optimizer sgd(lr = 0.1, momentum = 0.9)\n"
        " epochs %d\n batch 7\n}\n";
    assert_int_equal(count_train(tanh_setup, train, 2), count_train(tanh_setup, train, 9));
}

/* The allocation count at each write of output (one per log line). */
static size_t marks[16];
static int n_marks;

static void mark(void *ud, const char *text, size_t len)
{
    (void)ud, (void)text, (void)len;
    if (n_marks < (int)(sizeof marks / sizeof marks[0])) marks[n_marks++] = allocations;
}

/* A second train block allocates nothing once the first has grown the runtime's scratch. Both
 * blocks are compiled before either runs, so between the first block's last log line and the
 * second's first only training runs: the end of one block, the setting up of the next and its
 * first epoch. (Plain sgd: an optimizer with state, such as momentum, allocates it anew for each
 * block, which starts a new optimizer.) */
static void test_second_block_allocates_nothing(void **state)
{
    (void)state;
    NnState *nn = nn_new();
    nn_set_output(nn, mark, NULL);
    nn_set_errors(nn, quiet, NULL);
    assert_int_equal(nn_run_string(nn, "<setup>", tanh_setup), NN_OK);
    const char *block =
        "train net on tr.X, tr.Y {\n loss mse\n optimizer sgd(lr = 0.1)\n epochs 2\n batch 7\n"
        " clip 1\n early_stop 5\n log every 1\n}\n";
    char code[1024];
    snprintf(code, sizeof code, "%s%s", block, block);
    n_marks = 0;
    assert_int_equal(nn_run_string(nn, "<train>", code), NN_OK);
    assert_int_equal(n_marks, 4);
    if (marks[2] != marks[1]) {
        print_error("the second block allocated %zu times\n", marks[2] - marks[1]);
        fail();
    }
    nn_close(nn);
}

/* The counter works: running more code allocates. */
static void test_counter_counts(void **state)
{
    (void)state;
    size_t before = allocations;
    NnState *nn = nn_new();
    nn_close(nn);
    assert_true(allocations > before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_counts),
        cmocka_unit_test(test_train_steps_allocate_nothing),
        cmocka_unit_test(test_sgd_steps_allocate_nothing),
        cmocka_unit_test(test_second_block_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
