/* test_train.c — training through the language, as a user runs it: gradient accumulation
 * against one big batch, save/load and resume through safetensors files (bit-exact), refused
 * files that leave a model alone, early stopping, and the first optimizer steps against values
 * worked out by hand. Everything goes through the public API in nn.h; files go to a fresh
 * directory under /tmp. */
#include "testutil.h"

#include "fpmode.h"

#include "nn.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Float32 values near 1 after a handful of steps agree with float64 hand arithmetic to a few
 * 1e-8; 1e-6 still tells a wrong rule apart by orders of magnitude. */
#define TOL 1e-6

/* ---- sessions ------------------------------------------------------------------------------ */

typedef struct Text {
    char *data;
    size_t len, cap;
} Text;

static void text_write(void *ud, const char *s, size_t n)
{
    Text *t = ud;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n + 1) cap *= 2;
        t->data = realloc(t->data, cap);
        assert_non_null(t->data);
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

/* One NnState with its output and diagnostics captured. */
typedef struct Session {
    NnState *nn;
    Text out, err;
} Session;

static void open_session(Session *s)
{
    memset(s, 0, sizeof *s);
    s->nn = nn_new();
    nn_set_output(s->nn, text_write, &s->out);
    nn_set_errors(s->nn, text_write, &s->err);
    text_write(&s->out, "", 0);
    text_write(&s->err, "", 0);
}

static void close_session(Session *s)
{
    nn_close(s->nn);
    free(s->out.data);
    free(s->err.data);
    memset(s, 0, sizeof *s);
}

static void clear_text(Session *s)
{
    s->out.len = s->err.len = 0;
    s->out.data[0] = s->err.data[0] = '\0';
}

/* Runs code that must succeed; prints what it said if not. */
static void run_ok(Session *s, const char *code)
{
    int st = nn_run_string(s->nn, "<test>", code);
    if (st != NN_OK) print_error("unexpected status %d for:\n%s\n%s", st, code, s->err.data);
    assert_int_equal(st, NN_OK);
}

/* Runs code and returns its status (for code that is meant to fail). */
static int run(Session *s, const char *code)
{
    return nn_run_string(s->nn, "<test>", code);
}

/* A heap copy of a named value (a param such as "net.layer1.W", or a let), with its size. */
static float *take(Session *s, const char *name, size_t *size)
{
    NnTensorView v;
    int st = nn_get(s->nn, name, &v);
    if (st != NN_OK) print_error("nn_get(\"%s\") failed with %d: %s", name, st, s->err.data);
    assert_int_equal(st, NN_OK);
    float *copy = malloc((v.size ? v.size : 1) * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, v.data, v.size * sizeof *copy);
    *size = v.size;
    return copy;
}

static double scalar(Session *s, const char *name)
{
    size_t n;
    float *v = take(s, name, &n);
    assert_int_equal(n, 1);
    double r = v[0];
    free(v);
    return r;
}

/* The params of the two-layer model used below. */
static const char *const NET_PARAMS[] = { "net.layer1.W", "net.layer1.b", "net.layer2.W",
                                          "net.layer2.b" };
#define N_NET_PARAMS (sizeof NET_PARAMS / sizeof NET_PARAMS[0])

/* All of a model's params, one after another. */
typedef struct Snapshot {
    float *v[8];
    size_t n[8];
    size_t count;
} Snapshot;

static Snapshot snapshot(Session *s, const char *const *names, size_t count)
{
    Snapshot sn;
    memset(&sn, 0, sizeof sn);
    assert_true(count <= 8);
    for (size_t i = 0; i < count; i++) sn.v[i] = take(s, names[i], &sn.n[i]);
    sn.count = count;
    return sn;
}

static void free_snapshot(Snapshot *sn)
{
    for (size_t i = 0; i < sn->count; i++) free(sn->v[i]);
    memset(sn, 0, sizeof *sn);
}

/* Bit for bit. */
static bool same_bits(const Snapshot *a, const Snapshot *b)
{
    if (a->count != b->count) return false;
    for (size_t i = 0; i < a->count; i++)
        if (a->n[i] != b->n[i] || memcmp(a->v[i], b->v[i], a->n[i] * sizeof(float)) != 0)
            return false;
    return true;
}

/* The largest difference |a - b| over all params. */
static double max_diff(const Snapshot *a, const Snapshot *b)
{
    assert_int_equal(a->count, b->count);
    double d = 0;
    for (size_t i = 0; i < a->count; i++) {
        assert_int_equal(a->n[i], b->n[i]);
        for (size_t k = 0; k < a->n[i]; k++) d = fmax(d, fabs((double)a->v[i][k] - b->v[i][k]));
    }
    return d;
}

/* ---- the temporary directory --------------------------------------------------------------- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/nn-test-train-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static const char *const TMP_FILES[] = { "net.safetensors", "three.safetensors",
                                         "truncated.safetensors", "corrupt.safetensors",
                                         "bn.safetensors" };

static int remove_tmpdir(void **state)
{
    (void)state;
    char path[128];
    for (size_t i = 0; i < sizeof TMP_FILES / sizeof TMP_FILES[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, TMP_FILES[i]);
        unlink(path);
    }
    return rmdir(tmpdir);
}

static void tmp_path(char *buf, size_t len, const char *file)
{
    snprintf(buf, len, "%s/%s", tmpdir, file);
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* ---- gradient accumulation ----------------------------------------------------------------- */

/* A small classifier on `rows` points of moons, trained for a few epochs with sgd and the given
 * batch settings; its params afterwards. Same seed, so the same data, initial weights and
 * shuffles whatever the batch settings. */
static Snapshot train_moons(int rows, const char *batching)
{
    Session s;
    open_session(&s);
    char code[1024];
    snprintf(code, sizeof code,
             "seed 11\n"
             "let d = moons(%d, noise = 0.2)\n"
             "model net {\n"
             "  dense(2, 4)\n"
             "  tanh\n"
             "  dense(1)\n"
             "  sigmoid\n"
             "}\n"
             "train net on d {\n"
             "  loss bce\n"
             "  optimizer sgd(lr = 0.5)\n"
             "  epochs 3\n"
             "  %s\n"
             "}\n",
             rows, batching);
    run_ok(&s, code);
    Snapshot sn = snapshot(&s, NET_PARAMS, N_NET_PARAMS);
    close_session(&s);
    return sn;
}

/* accumulate 4 x batch 8 on 32 rows is one update per epoch over all 32 rows, the mean of their
 * gradients: the same as batch 32 (up to float rounding of the sums, in another order). */
static void test_accumulate_equals_big_batch(void **state)
{
    (void)state;
    Snapshot big = train_moons(32, "batch 32");
    Snapshot acc = train_moons(32, "batch 8; accumulate 4");
    Snapshot small = train_moons(32, "batch 8");
    assert_true(max_diff(&big, &acc) <= TOL);
    /* not vacuous: four updates of 8 rows land somewhere else */
    assert_true(max_diff(&big, &small) > 100 * TOL);
    free_snapshot(&big);
    free_snapshot(&acc);
    free_snapshot(&small);
}

/* With a partial last group the promise is "one update per N batches, averaged as if one batch
 * of N x the size": 40 rows in batches of 8, accumulating 4, make a group of 32 rows and then a
 * group of the last 8 (one batch), exactly the batches that batch 32 makes of the same shuffled
 * rows. */
static void test_accumulate_partial_last_group(void **state)
{
    (void)state;
    Snapshot big = train_moons(40, "batch 32");
    Snapshot acc = train_moons(40, "batch 8; accumulate 4");
    assert_true(max_diff(&big, &acc) <= TOL);
    free_snapshot(&big);
    free_snapshot(&acc);
}

/* An odd remainder inside the last group: 22 rows in batches of 4, accumulating 2, are the
 * groups 8, 8 and 6 (a batch of 4 and a partial batch of 2, weighted 4/6 and 2/6): the same as
 * batch 8, whose last batch has the same 6 rows. Weighting the partial batch by 1/2 (a plain
 * average of the batch means) would give another result. */
static void test_accumulate_odd_remainder(void **state)
{
    (void)state;
    Snapshot big = train_moons(22, "batch 8");
    Snapshot acc = train_moons(22, "batch 4; accumulate 2");
    Snapshot small = train_moons(22, "batch 4");
    assert_true(max_diff(&big, &acc) <= TOL);
    assert_true(max_diff(&big, &small) > 100 * TOL);
    free_snapshot(&big);
    free_snapshot(&acc);
    free_snapshot(&small);
}

/* ---- save and load ------------------------------------------------------------------------- */

/* The data and the model of the checkpoint tests; `seed_after_data` changes the model's
 * initial weights but not the data. */
static void define_net(Session *s, int seed_after_data)
{
    char code[512];
    snprintf(code, sizeof code,
             "seed 5\n"
             "let d = moons(40, noise = 0.1)\n"
             "seed %d\n"
             "model net {\n"
             "  dense(2, 6)\n"
             "  relu\n"
             "  dense(1)\n"
             "  sigmoid\n"
             "}\n"
             "let p = net(d.X)\n",
             seed_after_data);
    run_ok(s, code);
}

static void test_save_load_bit_exact(void **state)
{
    (void)state;
    char path[128], code[256];
    tmp_path(path, sizeof path, "net.safetensors");

    Session a;
    open_session(&a);
    define_net(&a, 1);
    run_ok(&a, "train net on d {\n  loss bce\n  optimizer adam(lr = 0.05)\n  epochs 5\n"
               "  batch 8\n}\n");
    snprintf(code, sizeof code, "save net \"%s\"\n", path);
    run_ok(&a, code);
    size_t n_a, n_b;
    float *pa = take(&a, "p", &n_a);
    Snapshot wa = snapshot(&a, NET_PARAMS, N_NET_PARAMS);
    close_session(&a);

    /* a fresh session, the same model with other initial weights */
    Session b;
    open_session(&b);
    define_net(&b, 2);
    float *before = take(&b, "p", &n_b);
    assert_int_equal(n_a, n_b);
    assert_true(memcmp(pa, before, n_a * sizeof *pa) != 0);
    snprintf(code, sizeof code, "load net \"%s\"\n", path);
    run_ok(&b, code);
    float *pb = take(&b, "p", &n_b);
    assert_int_equal(n_a, n_b);
    assert_memory_equal(pa, pb, n_a * sizeof *pa);
    Snapshot wb = snapshot(&b, NET_PARAMS, N_NET_PARAMS);
    assert_true(same_bits(&wa, &wb));

    free(pa);
    free(pb);
    free(before);
    free_snapshot(&wa);
    free_snapshot(&wb);
    close_session(&b);
}

/* batchnorm's running statistics: moved by training passes (not by net(X), nor by step),
 * saved and loaded with the params, and read by resume. */
static const char *const BN_STATE[] = { "net.layer2.W", "net.layer2.b",
                                        "net.layer2.running_mean", "net.layer2.running_var" };

static void define_bn_net(Session *s)
{
    run_ok(s, "seed 5\nlet d = moons(40, noise = 0.1)\nmodel net {\n  dense(2, 3)\n"
              "  batchnorm\n  relu\n  dense(1)\n  sigmoid\n}\n");
}

static void test_batchnorm_state_saved(void **state)
{
    (void)state;
    char path[128], code[512];
    tmp_path(path, sizeof path, "bn.safetensors");
    Session a;
    open_session(&a);
    define_bn_net(&a);
    Snapshot fresh = snapshot(&a, BN_STATE, 4);
    run_ok(&a, "let q = net(d.X)\nlet L = bce(net(d.X), d.Y)\nbackward L\nstep sgd(lr = 1)\n");
    Snapshot evaluated = snapshot(&a, BN_STATE + 2, 2);
    assert_memory_equal(evaluated.v[0], fresh.v[2], 3 * sizeof(float));    /* zeros */
    assert_memory_equal(evaluated.v[1], fresh.v[3], 3 * sizeof(float));    /* ones */
    snprintf(code, sizeof code, "train net on d {\n  loss bce\n  optimizer sgd(lr = 0.1)\n"
                                "  epochs 3\n  batch 10\n}\nsave net \"%s\"\n", path);
    run_ok(&a, code);
    Snapshot trained = snapshot(&a, BN_STATE, 4);
    assert_true(trained.v[2][0] != 0 && trained.v[3][0] != 1);
    run_ok(&a, "let L2 = bce(net(d.X), d.Y)\nbackward L2\nstep sgd(lr = 1)\n");
    Snapshot stepped = snapshot(&a, BN_STATE + 2, 2);
    assert_memory_equal(stepped.v[0], trained.v[2], 3 * sizeof(float));
    assert_memory_equal(stepped.v[1], trained.v[3], 3 * sizeof(float));
    close_session(&a);

    Session b;      /* a fresh session loads the statistics with the params */
    open_session(&b);
    define_bn_net(&b);
    snprintf(code, sizeof code, "load net \"%s\"\n", path);
    run_ok(&b, code);
    Snapshot loaded = snapshot(&b, BN_STATE, 4);
    assert_true(same_bits(&trained, &loaded));
    /* resume reads them too: another block trains on from them */
    snprintf(code, sizeof code, "train net on d {\n  loss bce\n  optimizer sgd(lr = 0.1)\n"
                                "  epochs 4\n  batch 10\n  resume \"%s\"\n}\n", path);
    run_ok(&b, code);
    close_session(&b);
    free_snapshot(&fresh), free_snapshot(&evaluated), free_snapshot(&trained);
    free_snapshot(&stepped), free_snapshot(&loaded);
}

/* Loads `bad` into a session and checks it is refused at run time with `why` in the message,
 * the weights untouched and the session still usable. */
static void expect_refused(const char *bad, const char *why)
{
    Session s;
    open_session(&s);
    define_net(&s, 3);
    Snapshot before = snapshot(&s, NET_PARAMS, N_NET_PARAMS);
    char code[256];
    snprintf(code, sizeof code, "load net \"%s\"\n", bad);
    int st = run(&s, code);
    assert_int_equal(st, NN_ERROR_RUNTIME);
    if (!strstr(s.err.data, "cannot load '") || !strstr(s.err.data, why))
        print_error("message for %s lacks '%s':\n%s", bad, why, s.err.data);
    assert_non_null(strstr(s.err.data, "cannot load '"));
    assert_non_null(strstr(s.err.data, why));
    Snapshot after = snapshot(&s, NET_PARAMS, N_NET_PARAMS);
    assert_true(same_bits(&before, &after));
    clear_text(&s);
    run_ok(&s, "print 1 + 1\n");
    assert_string_equal(s.out.data, "2\n");
    free_snapshot(&before);
    free_snapshot(&after);
    close_session(&s);
}

/* Replaces the first `from` in the file's header with `to` (same length). */
static void patch_header(unsigned char *buf, size_t len, const char *from, const char *to)
{
    size_t n = strlen(from);
    assert_int_equal(n, strlen(to));
    for (size_t i = 8; i + n <= len; i++)
        if (memcmp(buf + i, from, n) == 0) {
            memcpy(buf + i, to, n);
            return;
        }
    fail_msg("'%s' is not in the file", from);
}

static void test_load_refuses_damaged_files(void **state)
{
    (void)state;
    char good[128], bad[128], code[256];
    tmp_path(good, sizeof good, "net.safetensors");
    Session a;
    open_session(&a);
    define_net(&a, 1);
    snprintf(code, sizeof code, "save net \"%s\"\n", good);
    run_ok(&a, code);
    close_session(&a);
    size_t len;
    unsigned char *file = read_all(good, &len);
    unsigned char *copy = malloc(len);
    assert_non_null(copy);

    /* truncated: the last float cut short, the header cut short, not even the size prefix */
    tmp_path(bad, sizeof bad, "truncated.safetensors");
    write_all(bad, file, len - 3);
    expect_refused(bad, "truncated");
    write_all(bad, file, 20);
    expect_refused(bad, "truncated");
    write_all(bad, file, 5);
    expect_refused(bad, "truncated");

    /* corrupted bytes: the header size, the header's JSON, a shape, a dtype */
    tmp_path(bad, sizeof bad, "corrupt.safetensors");
    memcpy(copy, file, len);
    copy[0] ^= 0x01;
    write_all(bad, copy, len);
    expect_refused(bad, "bad header");
    memcpy(copy, file, len);
    copy[8] = 'x';
    write_all(bad, copy, len);
    expect_refused(bad, "bad header");
    memcpy(copy, file, len);
    patch_header(copy, len, "[2,6]", "[3,6]");
    write_all(bad, copy, len);
    expect_refused(bad, "data_offsets");
    memcpy(copy, file, len);
    patch_header(copy, len, "\"F32\"", "\"F16\"");
    write_all(bad, copy, len);
    expect_refused(bad, "F16");

    free(copy);
    free(file);
}

/* A file saved from another model (other shapes) is refused whole, saying so. */
static void test_load_other_model_changes_nothing(void **state)
{
    (void)state;
    char path[128], code[512];
    tmp_path(path, sizeof path, "three.safetensors");
    Session a;
    open_session(&a);
    snprintf(code, sizeof code,
             "model net {\n  dense(2, 6)\n  relu\n  dense(3)\n}\nsave net \"%s\"\n", path);
    run_ok(&a, code);
    close_session(&a);
    expect_refused(path, "nothing was changed");
}

/* ---- resume ------------------------------------------------------------------------------ */

static const char RESUME_TRAIN[] =
    "train net on d {\n"
    "  loss bce\n"
    "  optimizer adam(lr = 0.02)\n"
    "  epochs %d\n"
    "  batch 8\n"
    "  log every 1\n"
    "%s"
    "}\n";

/* 6 epochs straight = 3 epochs, save, then `epochs 6; resume` in a new session whose model
 * starts from other weights and whose random numbers are elsewhere: adam's moments, its step
 * count and the shuffling state all come from the file. */
static void test_resume_bit_exact(void **state)
{
    (void)state;
    char path[128], code[512], resume[192];
    tmp_path(path, sizeof path, "net.safetensors");

    Session a;
    open_session(&a);
    define_net(&a, 1);
    snprintf(code, sizeof code, RESUME_TRAIN, 6, "");
    run_ok(&a, code);
    Snapshot straight = snapshot(&a, NET_PARAMS, N_NET_PARAMS);
    close_session(&a);

    Session b;
    open_session(&b);
    define_net(&b, 1);
    snprintf(code, sizeof code, RESUME_TRAIN, 3, "");
    run_ok(&b, code);
    snprintf(code, sizeof code, "save net \"%s\"\n", path);
    run_ok(&b, code);
    Snapshot half = snapshot(&b, NET_PARAMS, N_NET_PARAMS);
    close_session(&b);

    Session c;
    open_session(&c);
    define_net(&c, 2);
    run_ok(&c, "let waste = randn(7)\n");   /* moves the random numbers on */
    snprintf(resume, sizeof resume, "  resume \"%s\"\n", path);
    snprintf(code, sizeof code, RESUME_TRAIN, 6, resume);
    run_ok(&c, code);
    /* it continues at epoch 4 */
    assert_null(strstr(c.out.data, "epoch 3/6"));
    assert_non_null(strstr(c.out.data, "epoch 4/6"));
    assert_non_null(strstr(c.out.data, "epoch 6/6"));
    Snapshot resumed = snapshot(&c, NET_PARAMS, N_NET_PARAMS);
    assert_true(same_bits(&straight, &resumed));
    assert_false(same_bits(&straight, &half));
    close_session(&c);

    free_snapshot(&straight);
    free_snapshot(&half);
    free_snapshot(&resumed);
}

/* ---- early stopping ------------------------------------------------------------------------ */

/* lin(x) = w x from w = 0, fitted to y = x on the 4 training rows (mean x^2 = 2.5), with sgd
 * lr 0.02: the gradient is 5 (w - 1), so w <- w - 0.1 (w - 1) and after epoch t
 * w = 1 - 0.9^t. The 2 validation rows (the last ones) want y = 0.5 x, so the validation loss
 * 2.5 (w - 0.5)^2 falls until w passes 0.5 and then rises:
 *   t      5        6        7          8
 *   w      0.40951  0.468559 0.5217031  0.56953279
 *   |w-.5| 0.09049  0.031441 0.0217031  0.06953279
 * The best is epoch 7: w = 0.5217031, validation loss 2.5 * 0.0217031^2 = 0.00117756. */
static const char EARLY_STOP[] =
    "let X = [[1], [2], [-1], [-2], [1], [2]]\n"
    "let Y = [[1], [2], [-1], [-2], [0.5], [1]]\n"
    "model lin {\n"
    "  param w = 0\n"
    "  forward(x) = w * x\n"
    "}\n"
    "let val_loss = mse(lin([[1], [2]]), [[0.5], [1]])\n"
    "train lin on X, Y {\n"
    "  loss mse\n"
    "  optimizer sgd(lr = 0.02)\n"
    "  epochs %d\n"
    "  validation 0.34\n"
    "  early_stop %d\n"
    "}\n";

static void test_early_stop_restores_best(void **state)
{
    (void)state;
    Session s;
    open_session(&s);
    char code[1024];
    snprintf(code, sizeof code, EARLY_STOP, 50, 3);
    run_ok(&s, code);
    /* three epochs (8, 9, 10) without improvement after epoch 7 */
    assert_string_equal(s.out.data, "early stop after epoch 10: best val_mse 0.0012 at epoch 7; "
                                    "its weights are restored\n");
    assert_close(scalar(&s, "lin.w"), 0.5217031, TOL);
    assert_close(scalar(&s, "val_loss"), 0.00117756, TOL);
    close_session(&s);
}

/* Running out of epochs before the patience does also keeps the best weights, not the last
 * (w after epoch 9 would be 1 - 0.9^9 = 0.6125795). */
static void test_early_stop_out_of_epochs(void **state)
{
    (void)state;
    Session s;
    open_session(&s);
    char code[1024];
    snprintf(code, sizeof code, EARLY_STOP, 9, 5);
    run_ok(&s, code);
    assert_string_equal(s.out.data, "");
    assert_close(scalar(&s, "lin.w"), 0.5217031, TOL);
    close_session(&s);
}

/* train LOSS watches the loss itself, of the weights each epoch leaves (as Keras' early
 * stopping watches the end of each epoch; the starting weights are not a candidate).
 * (w - 1)^2 from w = 0.5 with sgd lr 1.5 overshoots: w <- w - 3 (w - 1), so the epochs leave
 * w = 2, -1, 5 with losses 1, 4, 16. The best is epoch 1's, w = 2, and those weights are
 * restored. */
static void test_early_stop_loss_formula(void **state)
{
    (void)state;
    Session s;
    open_session(&s);
    run_ok(&s, "param w = 0.5\n"
               "let loss = (w - 1)^2\n"
               "train loss {\n"
               "  optimizer sgd(lr = 1.5)\n"
               "  epochs 10\n"
               "  early_stop 2\n"
               "}\n");
    int reported = strcmp(s.out.data, "early stop after epoch 3: best loss 1.0000 at epoch 1; "
                                      "its weights are restored\n");
    double loss = scalar(&s, "loss"), w = scalar(&s, "w");
    close_session(&s);
    assert_int_equal(reported, 0);
    /* the reported best loss is the loss of the restored weights */
    assert_close(loss, 1, TOL);
    assert_close(w, 2, TOL);
}

/* ---- optimizer steps by hand ------------------------------------------------------------- */

/* Runs `param w = 0.5; let loss = (w - 1)^2`, then `steps` times backward + the step
 * statement, checking w after each against want[]. The gradient is 2 (w - 1). */
static void check_steps(const char *step, int steps, const double *want)
{
    Session s;
    open_session(&s);
    run_ok(&s, "param w = 0.5\nlet loss = (w - 1)^2\n");
    char code[256];
    snprintf(code, sizeof code, "zero_grad\nbackward loss\n%s\n", step);
    for (int t = 0; t < steps; t++) {
        run_ok(&s, code);
        assert_close(scalar(&s, "w"), want[t], TOL);
    }
    close_session(&s);
}

static void test_step_adam_by_hand(void **state)
{
    (void)state;
    /* step 1: g = -1; m = 0.1 g = -0.1, v = 0.001 g^2 = 0.001; m^ = -1, v^ = 1;
     *         w = 0.5 + 0.1 * 1 / (1 + 1e-8) = 0.599999999
     * step 2: g = -0.8; m = 0.9 (-0.1) + 0.1 (-0.8) = -0.17, v = 0.999 (0.001) + 0.001 (0.64)
     *         = 0.001639; m^ = -0.17 / 0.19 = -0.894736842, v^ = 0.001639 / 0.001999
     *         = 0.819909957; w = 0.6 + 0.1 * 0.894736842 / 0.905488794 = 0.698812578
     * step 3: g = -0.602374843; m = -0.213237485, v = 0.002000216; m^ = -0.786854186,
     *         v^ = 0.667406002; w = 0.795128747 */
    static const double want[] = { 0.599999999, 0.698812578, 0.795128747 };
    check_steps("step adam(lr = 0.1)", 3, want);
}

static void test_step_adamw_by_hand(void **state)
{
    (void)state;
    /* weight decay 0.01 (the default) first shrinks w by lr * wd: 0.5 (1 - 0.001) = 0.4995,
     * then the adam step adds 0.1 as above: 0.599499999;
     * step 2: w = 0.5995 (0.999) + 0.1 * 0.894736842 / 0.905488794 = 0.69772295 */
    static const double want[] = { 0.599499999, 0.69772295 };
    check_steps("step adamw(lr = 0.1)", 2, want);
}

static void test_step_sgd_momentum_by_hand(void **state)
{
    (void)state;
    /* b1 = g1 = -1, w = 0.5 + 0.1 = 0.6; b2 = 0.9 (-1) + (-0.8) = -1.7, w = 0.6 + 0.17 = 0.77;
     * b3 = 0.9 (-1.7) + (-0.46) = -1.99, w = 0.77 + 0.199 = 0.969 */
    static const double want[] = { 0.6, 0.77, 0.969 };
    check_steps("step sgd(lr = 0.1, momentum = 0.9)", 3, want);
}

static void test_step_sgd_nesterov_by_hand(void **state)
{
    (void)state;
    /* b1 = -1, w = 0.5 - 0.1 (g1 + 0.9 b1) = 0.5 + 0.19 = 0.69;
     * g2 = -0.62, b2 = -0.9 - 0.62 = -1.52, w = 0.69 - 0.1 (-0.62 - 1.368) = 0.8888 */
    static const double want[] = { 0.69, 0.8888 };
    check_steps("step sgd(lr = 0.1, momentum = 0.9, nesterov = 1)", 2, want);
}

static void test_step_rmsprop_by_hand(void **state)
{
    (void)state;
    /* v1 = 0.01 g^2 = 0.01, w = 0.5 + 0.01 * 1 / (0.1 + 1e-8) = 0.59999999;
     * g2 = -0.8, v2 = 0.99 (0.01) + 0.01 (0.64) = 0.0163,
     * w = 0.6 + 0.01 * 0.8 / 0.127671453 = 0.662660822 */
    static const double want[] = { 0.59999999, 0.662660822 };
    check_steps("step rmsprop(lr = 0.01)", 2, want);
}

/* A train block over the loss formula makes the same steps as the step statements. */
static void test_train_loss_matches_steps(void **state)
{
    (void)state;
    Session s;
    open_session(&s);
    run_ok(&s, "param w = 0.5\n"
               "train (w - 1)^2 {\n"
               "  optimizer adam(lr = 0.1)\n"
               "  epochs 3\n"
               "}\n");
    assert_close(scalar(&s, "w"), 0.795128747, TOL);
    close_session(&s);
}

/* Gradients accumulated over a group of batches that overflow only when added: each batch's
 * own gradient (2.25e38) is finite, their sum is not. The run stops with the usual warning at
 * the op the gradient flows back through, not with an error that names no op: the checked
 * re-run starts from the gradients accumulated so far, as a checked pass would have. */
static void test_accumulated_gradient_overflow_stops(void **state)
{
    (void)state;
    Session s;
    open_session(&s);
    run_ok(&s, "let X = [[1.5e19], [1.5e19]]\n"
               "let Y = [[0], [0]]\n"
               "model net {\n  dense(1, 1)\n}\n"
               "net.layer1.W = [[1]]\n"
               "train net on X, Y {\n"
               "  loss mse\n"
               "  optimizer sgd(lr = 0.1)\n"
               "  epochs 1\n"
               "  batch 1\n"
               "  accumulate 2\n"
               "}\n");
    if (!strstr(s.err.data, "warning: the gradient flowing back through this is inf"))
        print_error("unexpected diagnostics:\n%s", s.err.data);
    assert_non_null(strstr(s.err.data, "warning: the gradient flowing back through this is inf"));
    assert_null(strstr(s.err.data, "error:"));
    assert_close(scalar(&s, "net.layer1.W"), 1.0, TOL);     /* no update was made */
    close_session(&s);
}

/* Params of 90,000 and 900,000 elements are checked, tried and updated in parts on several threads
 * (runtime.c): the same bits on 1, 2 and 3 threads, with denormals flushed (the default: U's
 * update is denormal everywhere and flushed in every part, though the workers were started
 * outside the block, in the ordinary mode) and kept, and the same first bad element when an
 * update would overflow past the first part. */
static void test_large_update_same_on_any_thread_count(void **state)
{
    (void)state;
    static const char *const prog =
        "seed 3\n"
        "let warm = rand(300, 300) @ rand(300, 300)\n"   /* workers start outside the block, */
        "print sum(warm) > 0\n"                          /* in the ordinary mode */
        "param W = randn(300, 300) * 0.01\n"
        "let X = rand(64, 300)\n"
        "let loss = mean((X @ W)^2)\n"
        "train loss { optimizer adam(lr = 0.01); epochs 5 }\n"
        "param U = full(3000, 300, 3e-38)\n"  /* 3e-38 - 2.5e-38 is the denormal 5e-39 */
        "let loss_u = sum(U)\n"
        "train loss_u { optimizer sgd(lr = 2.5e-38); epochs 1 }\n";
    static const char *const overflow_setup =
        "param V = full(300, 300, 1)\n"
        "let G = concat(full(150, 300, 0), full(150, 300, 1e30))\n";
    static const char *const overflow =     /* the first bad element is past the middle */
        "backward sum(V * G)\n"
        "step sgd(lr = 1e9)\n";
    const bool flushes = fp_mode_flushes();  /* not under valgrind */
    for (int keep = 0; keep < 2; keep++) {
        float *first = NULL;
        size_t n = 0;
        char *first_err = NULL;
        for (int threads = 1; threads <= 3; threads++) {
            nn_set_threads(threads);
            Session s;
            open_session(&s);
            nn_set_flush_denormals(s.nn, !keep);
            run_ok(&s, prog);
            size_t m;
            float *w = take(&s, "W", &m);
            assert_int_equal(m, 90000);
            size_t mu;
            float *u = take(&s, "U", &mu);
            assert_int_equal(mu, 900000);
            for (size_t k = 0; k < mu; k++)
                if (u[k] != (keep || !flushes ? 3e-38f - 2.5e-38f : 0.0f))
                    fail_msg("%d threads, keep %d: U[%zu] = %g", threads, keep, k, (double)u[k]);
            free(u);
            run_ok(&s, overflow_setup);
            assert_int_equal(run(&s, overflow), NN_ERROR_RUNTIME);
            assert_non_null(strstr(s.err.data, "would make param 'V' -inf at element [150,0]"));
            /* in a train block the refused update stops training, and the run goes on: the
             * param is as it was (in place with a journal on 1 thread, or tried on copies) */
            run_ok(&s, "let loss_v = sum(V * G)\n"
                       "train loss_v { optimizer sgd(lr = 1e9); epochs 1 }\n");
            assert_non_null(strstr(s.err.data, "with the params as the last finite update left"));
            size_t mv;
            float *v = take(&s, "V", &mv);
            for (size_t k = 0; k < mv; k++) assert_true(v[k] == 1.0f);
            free(v);
            if (!first) {
                first = w, n = m;
                first_err = strdup(s.err.data);
            } else {
                assert_memory_equal(first, w, n * sizeof *w);
                assert_string_equal(first_err, s.err.data);
                free(w);
            }
            close_session(&s);
        }
        free(first);
        free(first_err);
    }
    nn_set_threads(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accumulate_equals_big_batch),
        cmocka_unit_test(test_accumulate_partial_last_group),
        cmocka_unit_test(test_accumulate_odd_remainder),
        cmocka_unit_test(test_save_load_bit_exact),
        cmocka_unit_test(test_batchnorm_state_saved),
        cmocka_unit_test(test_load_refuses_damaged_files),
        cmocka_unit_test(test_load_other_model_changes_nothing),
        cmocka_unit_test(test_resume_bit_exact),
        cmocka_unit_test(test_early_stop_restores_best),
        cmocka_unit_test(test_early_stop_out_of_epochs),
        cmocka_unit_test(test_early_stop_loss_formula),
        cmocka_unit_test(test_step_adam_by_hand),
        cmocka_unit_test(test_step_adamw_by_hand),
        cmocka_unit_test(test_step_sgd_momentum_by_hand),
        cmocka_unit_test(test_step_sgd_nesterov_by_hand),
        cmocka_unit_test(test_step_rmsprop_by_hand),
        cmocka_unit_test(test_train_loss_matches_steps),
        cmocka_unit_test(test_accumulated_gradient_overflow_stops),
        cmocka_unit_test(test_large_update_same_on_any_thread_count),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
