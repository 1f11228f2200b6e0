/* test_limits.c — stopping a run: the step and time limits (nn_set_max_steps, nn_set_timeout),
 * Ctrl-C at a statement boundary, part-way through a long statement and in a train block (the
 * interrupt flag, nn_set_interrupt), and the temporary files of atomic writes: removed by
 * nn_remove_temp_files, and left-overs of killed runs removed by the next save. */
#include "testutil.h"

#include "nn.h"

#include "fileio.h"
#include "state.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct Fixture {
    NnState *nn;
    TestText out, err;
    volatile sig_atomic_t flag;
    const char *trigger;    /* output containing this sets the flag */
} Fixture;

static void on_out(void *ud, const char *text, size_t len)
{
    Fixture *f = ud;
    test_text_write(&f->out, text, len);
    if (f->trigger && strstr(f->out.buf, f->trigger)) {
        f->flag = 1;
        f->trigger = NULL;
    }
}

static void on_err(void *ud, const char *text, size_t len)
{
    Fixture *f = ud;
    test_text_write(&f->err, text, len);
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    f->nn = nn_new();
    nn_set_output(f->nn, on_out, f);
    nn_set_errors(f->nn, on_err, f);
    nn_set_interrupt(f->nn, &f->flag);
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

static void run(Fixture *f, const char *code, NnStatus want)
{
    f->out.len = f->err.len = 0;
    f->out.buf[0] = f->err.buf[0] = '\0';
    NnStatus st = nn_run_string(f->nn, "<input>", code);
    if (st != want) {
        print_error("status %d, wanted %d, running\n%.2000s\nout: %.2000s\nerr: %.2000s\n", st,
                    want, code, f->out.buf, f->err.buf);
        fail();
    }
}

static void has(const char *text, const char *part)
{
    if (!strstr(text, part)) {
        print_error("missing '%s' in:\n%s\n", part, text);
        fail();
    }
}

static float scalar(Fixture *f, const char *name)
{
    NnTensorView v;
    assert_int_equal(nn_get(f->nn, name, &v), NN_OK);
    return v.data[0];
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- limits --------------------------------------------------------------------------------- */

/* A step is a statement run or a loop's test: `while 1 { }` stops, with the error where it
 * stopped, and the run is undone like any that fails (w is 1 again). */
static void test_max_steps(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 1", NN_OK);
    nn_set_max_steps(f->nn, 3);
    run(f, "print 1\nprint 2\nprint 3", NN_OK);
    run(f, "print 1\nprint 2\nw = 5\nprint 3", NN_ERROR_RUNTIME);
    has(f->err.buf, "<input>:4:1: error: the run reached its limit of --max-steps 3 steps here");
    assert_true(scalar(f, "w") == 1.0f);
    nn_set_max_steps(f->nn, 1000);
    run(f, "w = 2\nwhile 1 { }", NN_ERROR_RUNTIME);
    has(f->err.buf, "<input>:2:7: error: the run reached its limit of --max-steps 1000 steps");
    has(f->err.buf, "note: in iteration 1000 of this loop");   /* w = 2, then 999 tests */
    assert_true(scalar(f, "w") == 1.0f);
    /* each run counts afresh */
    run(f, "repeat 400 { }\nprint 7", NN_OK);
    run(f, "repeat 400 { }\nprint 7", NN_OK);
    nn_set_max_steps(f->nn, 0);
    run(f, "repeat 5000 { }", NN_OK);
}

/* Each update of a train block is a step: a block of a million epochs stops at the limit. */
static void test_max_steps_train(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 3", NN_OK);
    nn_set_max_steps(f->nn, 5);     /* the block, then 4 updates */
    run(f, "train (w - 1)^2 { optimizer sgd(lr = 0.1); epochs 4 }", NN_OK);
    run(f, "train (w - 1)^2 { optimizer sgd(lr = 0.1); epochs 1000000 }", NN_ERROR_RUNTIME);
    has(f->err.buf, "error: the run reached its limit of --max-steps 5 steps here (in epoch 5, "
        "after 4 updates)");
}

/* The time limit holds for a loop of short statements, and between the ops of one long
 * statement (a product chain far longer than the limit). */
static void test_timeout(void **state)
{
    Fixture *f = *state;
    nn_set_timeout(f->nn, 0.2);
    double t0 = seconds();
    run(f, "let c = 0\nwhile 1 { c += 1 }", NN_ERROR_RUNTIME);
    double took = seconds() - t0;
    has(f->err.buf, "error: the run reached its limit of --timeout 0.2 seconds here");
    assert_true(took >= 0.2 && took < 2.0);
    /* One statement of products of [512, 512], as many as take four times the limit on this
     * machine at its fastest (from 8, under valgrind, to 900 on a fast one; a product timed
     * while another job held the core once made the statement too short and finish in time),
     * is stopped between two of them:
     * a run checked only between statements would end it, and return NN_OK. */
    nn_set_timeout(f->nn, 0);
    run(f, "seed 1\nlet a = randn(512, 512) * 0.044", NN_OK);
    double one = INFINITY;      /* the fastest of three: a busy moment must not shorten n */
    for (int k = 0; k < 3; k++) {
        t0 = seconds();
        run(f, "print sum(a @ a)", NN_OK);
        one = fmin(one, seconds() - t0);
    }
    int n = (int)fmin(900, fmax(8, ceil(4 * 0.5 / one)));
    char code[8192] = "print sum(a";
    for (int i = 0; i < n; i++) strcat(code, " @ a");
    strcat(code, ")");
    nn_set_timeout(f->nn, 0.5);
    t0 = seconds();
    run(f, code, NN_ERROR_RUNTIME);
    took = seconds() - t0;
    has(f->err.buf, "<input>:1:1: error: the run reached its limit of --timeout 0.5 seconds");
    assert_true(took < 0.5 + 2 * one + 1.0);
    /* the time counts from each call's start: a call that failed to compile leaves no clock
     * running for the next one */
    run(f, "param w = 1\nlet twice = 2 * w", NN_OK);
    run(f, "print nosuchname", NN_ERROR_COMPILE);
    struct timespec pause = { 0, 300000000 };
    nanosleep(&pause, NULL);
    NnTensorView view;
    assert_int_equal(nn_get(f->nn, "twice", &view), NN_OK);
    run(f, "print 1", NN_OK);
    nn_set_timeout(f->nn, 0);
    run(f, "print 1", NN_OK);
}

/* ---- interrupts ----------------------------------------------------------------------------- */

/* Ctrl-C between two statements of the unit's top level: the run stops before the next one;
 * the ones before it are kept, the rest is not run (and its names not defined). */
static void test_interrupt_between_statements(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 1", NN_OK);
    f->trigger = "first";
    run(f, "w = 2\nprint \"first\"\nparam v = 3\nw = 4\nprint \"second\"", NN_INTERRUPTED);
    f->trigger = NULL;
    assert_string_equal(f->out.buf, "first\n");
    has(f->err.buf, "<input>:3:1: note: interrupted before this statement; what ran before it is "
        "kept");
    assert_true(scalar(f, "w") == 2.0f);
    NnTensorView view;
    assert_int_equal(nn_get(f->nn, "v", &view), NN_ERROR_COMPILE);
    assert_int_equal(f->flag, 0);
    run(f, "print w", NN_OK);   /* the session goes on */
    assert_string_equal(f->out.buf, "2\n");
}

/* Ctrl-C while a long statement runs (here: already set when it starts, with no grace period):
 * it stops between two ops, the statement is undone (its name is not defined), the ones
 * before it in the same input are kept. */
static void test_interrupt_inside_statement(void **state)
{
    Fixture *f = *state;
    f->nn->rt.grace = 0;
    run(f, "seed 1\nparam w = randn(300, 300) * 0.05", NN_OK);
    f->flag = 1;
    run(f, "param v = sum(w @ w @ w)", NN_INTERRUPTED);
    has(f->err.buf, "<input>:1:1: note: interrupted while running this statement, which is "
        "undone; what ran before it is kept");
    NnTensorView view;
    assert_int_equal(nn_get(f->nn, "v", &view), NN_ERROR_COMPILE);
    assert_int_equal(f->flag, 0);
    run(f, "param v = 1\nprint v", NN_OK);
}

/* A poll that lets `polls_left` nodes go by, then ends the grace period: Ctrl-C lands after
 * exactly that many ops of a pass. */
static GraphPollFn real_poll;
static int polls_left;

static void counted_poll(void *ud, const GraphNode *n)
{
    Runtime *rt = ud;
    if (--polls_left == 0) rt->grace = 0;
    real_poll(ud, n);
}

/* Runs code with Ctrl-C landing after `ops` ops of its passes; it must stop there. */
static void run_interrupted_after(Fixture *f, const char *code, int ops)
{
    Graph *g = &f->nn->rt.graph;
    real_poll = g->poll;
    g->poll = counted_poll;
    polls_left = ops;
    f->nn->rt.grace = 1e9;
    f->flag = 1;
    run(f, code, NN_INTERRUPTED);
    g->poll = real_poll;
    assert_int_equal(polls_left, 0);
}

/* Ctrl-C part-way through a backward pass (after its forward pass's 302 ops and 48 of its
 * own): the gradients it was adding to are as before it, and so are the random numbers
 * (dropout drew in it). */
static void test_interrupted_backward_is_undone(void **state)
{
    Fixture *f = *state;
    char code[16384] = "backward sum(dropout(w, 0.5)";
    for (int i = 0; i < 300; i++) strcat(code, " @ w");
    strcat(code, ")");
    run(f, "seed 3\nparam w = randn(20, 20) * 0.3\nbackward sum(w)", NN_OK);
    run(f, "seed 5", NN_OK);
    run(f, "print w.grad[0][0] + w.grad[7][9], rand(1)", NN_OK);
    static char before[sizeof f->out.buf];
    memcpy(before, f->out.buf, sizeof before);
    run(f, "seed 5", NN_OK);    /* the same random state again */
    run_interrupted_after(f, code, 350);
    has(f->err.buf, "note: interrupted while running this statement, which is undone");
    run(f, "print w.grad[0][0] + w.grad[7][9], rand(1)", NN_OK);
    assert_string_equal(f->out.buf, before);
}

/* The same part-way through the checked passes that locate a non-finite gradient (a second
 * forward and backward pass, which add to the gradients again): they are put back too. */
static void test_interrupted_checked_pass_is_undone(void **state)
{
    Fixture *f = *state;
    char code[8192] = "backward sum(sqrt(z)) + sum(w";
    for (int i = 0; i < 99; i++) strcat(code, " + w");
    strcat(code, ")");
    run(f, "param z = zeros(4)\nparam w = ones(4)\nbackward sum(w)", NN_OK);
    run(f, code, NN_ERROR_RUNTIME);     /* sqrt'(0) is inf: an error, the gradients as before */
    run(f, "print w.grad[0]", NN_OK);
    assert_string_equal(f->out.buf, "1\n");
    run_interrupted_after(f, code, 103 * 3 + 50);  /* past the first forward and backward */
    has(f->err.buf, "note: interrupted while running this statement, which is undone");
    run(f, "print w.grad[0]", NN_OK);
    assert_string_equal(f->out.buf, "1\n");
}

/* Ctrl-C while a block copies in the names it carries (before its first test): the statement
 * is undone whole, and the names keep their values (they read 0 once). */
static void test_interrupted_carry_in_is_undone(void **state)
{
    Fixture *f = *state;
    run(f, "seed 1\nlet w = randn(300, 300) * 0.05\nlet x = sum(w @ w @ w @ w)\nprint x", NN_OK);
    static char before[sizeof f->out.buf];
    memcpy(before, f->out.buf, sizeof before);
    f->nn->rt.grace = 0;
    f->flag = 1;
    run(f, "repeat 3 {\n  let x = x + 1\n}", NN_INTERRUPTED);
    has(f->err.buf, "note: interrupted while running this statement, which is undone; what ran "
        "before it is kept\n");
    run(f, "print x", NN_OK);
    assert_string_equal(f->out.buf, before);
    f->nn->rt.grace = 0;
    f->flag = 1;
    run(f, "if 1 {\n  let x = x + 1\n}", NN_INTERRUPTED);
    run(f, "print x", NN_OK);
    assert_string_equal(f->out.buf, before);
}

/* Ctrl-C in a train block stops it after the current update (reported on the output) and then
 * the run: the statement after the block does not run, the params keep their training. */
static void test_interrupt_train_stops_run(void **state)
{
    Fixture *f = *state;
    run(f, "param w = 3", NN_OK);
    f->trigger = "3/1000000";
    run(f, "train (w - 1)^2 { optimizer sgd(lr = 0.01); epochs 1000000; log every 1 }\n"
           "print \"after\"", NN_INTERRUPTED);
    f->trigger = NULL;
    has(f->out.buf, "interrupted in epoch 4 of 1000000, after 4 updates; the params are as the "
        "last update left them");
    assert_null(strstr(f->out.buf, "after\n"));
    has(f->err.buf, "<input>:1:1: note: interrupted in this train block; the run stops here");
    assert_true(scalar(f, "w") < 3.0f);
    assert_int_equal(f->flag, 0);
}

/* Ctrl-C part-way through a loop's long statement, after the grace period: the loop stops in
 * that iteration, its earlier iterations' work is kept, the statement is undone. */
static void test_interrupt_inside_loop(void **state)
{
    Fixture *f = *state;
    f->nn->rt.grace = 0;
    run(f, "seed 1\nparam w = randn(300, 300) * 0.05\nparam n = 0", NN_OK);
    f->trigger = "tick 2";
    run(f, "for k in 0..5 {\n  n = n + 1\n  print \"tick\", n\n  print sum(w @ w @ w)\n}",
        NN_INTERRUPTED);
    f->trigger = NULL;
    has(f->err.buf, "<input>:4:3: note: interrupted while running this statement, which is "
        "undone; what ran before it is kept (names the loop carries keep the values this "
        "iteration began with)");
    has(f->err.buf, "note: interrupted in iteration 2 (k = 1) of this loop");
    assert_true(scalar(f, "n") == 2.0f);
}

/* ---- temporary files ------------------------------------------------------------------------ */

static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("stale", fp);
    fclose(fp);
}

/* A process that has ended: its PID names a writer that is gone. */
static long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

/* Stale FILE.tmp.PID files of writers that are gone are removed by the next save of FILE; a
 * live writer's file, one with this process's PID (it may be another session's write in
 * progress; the save takes another name) and other names are left alone. */
static void test_stale_temp_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/nn-limits-XXXXXX", path[256], name[320];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    long gone = dead_pid();
    snprintf(name, sizeof name, "%s.tmp.%ld", path, gone);
    touch(name);
    snprintf(name, sizeof name, "%s.tmp.%ld.3", path, gone);
    touch(name);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getpid());   /* ours, or reused */
    touch(name);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getppid());  /* alive */
    touch(name);
    snprintf(name, sizeof name, "%s/other.safetensors.tmp.%ld", dir, gone);   /* not ours */
    touch(name);
    char err[256];
    assert_true(afile_write_all(path, "data", 4, err, sizeof err));
    assert_int_equal(count_tmp(dir), 3);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(access(name, F_OK), 0);
    unlink(name);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getppid());
    assert_int_equal(access(name, F_OK), 0);
    unlink(name);
    snprintf(name, sizeof name, "%s/other.safetensors.tmp.%ld", dir, gone);
    assert_int_equal(access(name, F_OK), 0);
    unlink(name);
    unlink(path);
    rmdir(dir);
}

/* nn_remove_temp_files removes the temporary file of a write in progress (as a signal handler
 * would before ending the process); the target stays as it was, and the write fails. */
/* Two sessions, on two threads and under the sandbox (where each write names its folder by a
 * descriptor of its own), saving the same model file at once: every save succeeds and leaves
 * no temporary file. (A save once took the other's write in progress for a stale file of its
 * own PID, and removed it: half of the saves failed.) */
typedef struct Saver {
    const char *dir;
    int failed;
} Saver;

static void count_errors(void *ud, const char *text, size_t len)
{
    (void)len;
    if (strstr(text, "error")) ++*(int *)ud;
}

static void *save_often(void *arg)
{
    Saver *s = arg;
    NnState *nn = nn_new();
    nn_set_output(nn, count_errors, &s->failed);
    nn_set_errors(nn, count_errors, &s->failed);
    /* (no assert off the main thread: cmocka's are not thread-safe) */
    if (nn_sandbox_allow(nn, s->dir, 1) != NN_OK) s->failed++;
    char save[512];
    snprintf(save, sizeof save, "save net \"%s/net.safetensors\"", s->dir);
    if (nn_run_string(nn, "<setup>", "model net {\n  dense(300, 300)\n}") != NN_OK) s->failed++;
    for (int i = 0; i < 40; i++)
        if (nn_run_string(nn, "<save>", save) != NN_OK) s->failed++;
    nn_close(nn);
    return NULL;
}

static void test_two_writers(void **state)
{
    (void)state;
    char dir[] = "/tmp/nn-limits-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    Saver a = { dir, 0 }, b = { dir, 0 };
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, save_often, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, save_often, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.failed + b.failed, 0);
    assert_int_equal(count_tmp(dir), 0);
    snprintf(path, sizeof path, "%s/net.safetensors", dir);
    assert_int_equal(unlink(path), 0);
    rmdir(dir);
}

static void test_remove_temp_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/nn-limits-XXXXXX", path[256], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/page.html", dir);
    assert_true(afile_write_all(path, "old", 3, err, sizeof err));
    AtomicFile a, b;
    assert_true(afile_open(&a, path, err, sizeof err));
    assert_true(afile_open(&b, path, err, sizeof err));
    assert_true(afile_write(&a, "new", 3));
    assert_int_equal(count_tmp(dir), 2);
    nn_remove_temp_files();
    assert_int_equal(count_tmp(dir), 0);
    assert_false(afile_commit(&a, err, sizeof err));
    afile_fail(&b, NULL, 0);
    FILE *fp = fopen(path, "r");
    char text[8] = "";
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    assert_string_equal(text, "old");
    /* the slots are free again: a new write is recorded and committed */
    assert_true(afile_write_all(path, "newer", 5, err, sizeof err));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_max_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_steps_train, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_between_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_inside_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_backward_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_checked_pass_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_carry_in_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_train_stops_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_inside_loop, setup, teardown),
        cmocka_unit_test(test_stale_temp_files),
        cmocka_unit_test(test_two_writers),
        cmocka_unit_test(test_remove_temp_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
