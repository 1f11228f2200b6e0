/* test_optim.c — unit tests for optim.c: every update rule against values worked out by hand
 * from PyTorch's published algorithms, gradient clipping, learning rate schedules and the name
 * tables. Expected numbers are literals with their arithmetic beside them, never computed here. */
#include "testutil.h"

#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Float32 updates of values below 1 are good to a few 1e-8; 1e-6 still tells every wrong rule
 * below apart by orders of magnitude. */
#define TOL 1e-6

/* The common setting: w0 = [0.5, -1.0], gradient g1 = [0.2, -0.4] on step 1, g2 = [-0.1, 0.3] on
 * step 2 and g1 again on step 3. */
static const float W0[2] = { 0.5f, -1.0f };
static const float GRADS[3][2] = { { 0.2f, -0.4f }, { -0.1f, 0.3f }, { 0.2f, -0.4f } };

/* Runs `steps` updates from W0 with GRADS and zeroed state, checking w against want[t-1] after
 * each step and that the gradient is left alone. */
static void check_steps(const OptimConfig *c, float lr, int steps, const double (*want)[2])
{
    float w[2] = { W0[0], W0[1] };
    float s0[2] = { 0 }, s1[2] = { 0 };
    float *state[2] = { s0, s1 };
    for (int t = 1; t <= steps; t++) {
        float g[2] = { GRADS[t - 1][0], GRADS[t - 1][1] };
        optim_update(c, lr, t, w, g, state, 2);
        assert_true(g[0] == GRADS[t - 1][0] && g[1] == GRADS[t - 1][1]);
        assert_close(w[0], want[t - 1][0], TOL);
        assert_close(w[1], want[t - 1][1], TOL);
    }
}

static bool close_to(double a, double b)
{
    return fabs(a - b) <= TOL * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* ---- SGD (lr = 0.1 throughout) ---------------------------------------------------------- */

static OptimConfig sgd(float momentum, float dampening, bool nesterov, float wd)
{
    OptimConfig c;
    optim_defaults(OPTIM_SGD, &c);
    c.lr = 0.1f;
    c.momentum = momentum;
    c.dampening = dampening;
    c.nesterov = nesterov;
    c.weight_decay = wd;
    return c;
}

static void test_sgd_plain(void **state)
{
    (void)state;
    OptimConfig c = sgd(0, 0, false, 0);
    assert_int_equal(optim_state_count(&c), 0);
    static const double want[2][2] = {
        { 0.48, -0.96 },   /* 0.5 - 0.1*0.2;       -1.0 - 0.1*(-0.4) */
        { 0.49, -0.99 },   /* 0.48 - 0.1*(-0.1);   -0.96 - 0.1*0.3 */
    };
    check_steps(&c, 0.1f, 2, want);

    /* no state at all is fine when the count is 0 */
    float w[2] = { 0.5f, -1.0f };
    optim_update(&c, 0.1f, 1, w, GRADS[0], NULL, 2);
    assert_close(w[0], 0.48, TOL);
    optim_update(&c, 0.1f, 1, w, GRADS[0], NULL, 0);   /* n = 0 touches nothing */
    assert_close(w[0], 0.48, TOL);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    OptimConfig c = sgd(0.9f, 0, false, 0);
    assert_int_equal(optim_state_count(&c), 1);
    static const double want[3][2] = {
        /* b1 = g1 = [0.2, -0.4] (step 1 copies the gradient); w = [0.5 - 0.02, -1.0 + 0.04] */
        { 0.48, -0.96 },
        /* b2 = 0.9*b1 + g2 = [0.18 - 0.1, -0.36 + 0.3] = [0.08, -0.06];
         * w = [0.48 - 0.008, -0.96 + 0.006] */
        { 0.472, -0.954 },
        /* b3 = 0.9*b2 + g1 = [0.072 + 0.2, -0.054 - 0.4] = [0.272, -0.454];
         * w = [0.472 - 0.0272, -0.954 + 0.0454] */
        { 0.4448, -0.9086 },
    };
    check_steps(&c, 0.1f, 3, want);
}

static void test_sgd_dampening(void **state)
{
    (void)state;
    OptimConfig c = sgd(0.9f, 0.5f, false, 0);
    static const double want[3][2] = {
        /* b1 = g1, NOT (1 - 0.5)*g1: PyTorch does not dampen the first step */
        { 0.48, -0.96 },
        /* b2 = 0.9*b1 + 0.5*g2 = [0.18 - 0.05, -0.36 + 0.15] = [0.13, -0.21];
         * w = [0.48 - 0.013, -0.96 + 0.021] */
        { 0.467, -0.939 },
        /* b3 = 0.9*b2 + 0.5*g1 = [0.117 + 0.1, -0.189 - 0.2] = [0.217, -0.389];
         * w = [0.467 - 0.0217, -0.939 + 0.0389] */
        { 0.4453, -0.9001 },
    };
    check_steps(&c, 0.1f, 3, want);
}

static void test_sgd_nesterov(void **state)
{
    (void)state;
    OptimConfig c = sgd(0.9f, 0, true, 0);
    static const double want[2][2] = {
        /* b1 = g1; d = g1 + 0.9*b1 = 1.9*g1 = [0.38, -0.76]; w = [0.5 - 0.038, -1.0 + 0.076] */
        { 0.462, -0.924 },
        /* b2 = 0.9*b1 + g2 = [0.08, -0.06]; d = g2 + 0.9*b2 = [-0.1 + 0.072, 0.3 - 0.054]
         * = [-0.028, 0.246]; w = [0.462 + 0.0028, -0.924 - 0.0246] */
        { 0.4648, -0.9486 },
    };
    check_steps(&c, 0.1f, 2, want);
}

static void test_sgd_weight_decay(void **state)
{
    (void)state;
    OptimConfig c = sgd(0, 0, false, 0.1f);
    static const double want[2][2] = {
        /* d1 = g1 + 0.1*w0 = [0.2 + 0.05, -0.4 - 0.1] = [0.25, -0.5];
         * w = [0.5 - 0.025, -1 + 0.05] */
        { 0.475, -0.95 },
        /* d2 = g2 + 0.1*w1 = [-0.1 + 0.0475, 0.3 - 0.095] = [-0.0525, 0.205];
         * w = [0.475 + 0.00525, -0.95 - 0.0205] */
        { 0.48025, -0.9705 },
    };
    check_steps(&c, 0.1f, 2, want);

    /* with momentum 0.9 the decayed gradient is what enters the buffer */
    c = sgd(0.9f, 0, false, 0.1f);
    static const double want_m[2][2] = {
        /* b1 = d1 = [0.25, -0.5] */
        { 0.475, -0.95 },
        /* b2 = 0.9*b1 + d2 = [0.225 - 0.0525, -0.45 + 0.205] = [0.1725, -0.245];
         * w = [0.475 - 0.01725, -0.95 + 0.0245] */
        { 0.45775, -0.9255 },
    };
    check_steps(&c, 0.1f, 2, want_m);
}

static void test_sgd_uses_lr_argument(void **state)
{
    (void)state;
    /* the lr argument is the scheduled rate; c->lr is not read */
    OptimConfig c = sgd(0, 0, false, 0);
    c.lr = 100.0f;
    static const double want[1][2] = { { 0.49, -0.98 } };   /* 0.5 - 0.05*0.2; -1 + 0.05*0.4 */
    check_steps(&c, 0.05f, 1, want);
}

/* ---- Adam and AdamW (lr = 0.01, betas 0.9/0.999, eps 1e-8) ----------------------------- */

static OptimConfig adam(OptimKind kind, float wd)
{
    OptimConfig c;
    optim_defaults(kind, &c);
    c.lr = 0.01f;
    c.weight_decay = wd;
    return c;
}

static void test_adam(void **state)
{
    (void)state;
    OptimConfig c = adam(OPTIM_ADAM, 0);
    assert_int_equal(optim_state_count(&c), 2);
    static const double want[2][2] = {
        /* m = 0.1*g1 = [0.02, -0.04]; v = 0.001*g1^2 = [4e-5, 1.6e-4];
         * mhat = m/(1 - 0.9) = [0.2, -0.4]; vhat = v/(1 - 0.999) = [0.04, 0.16], sqrt [0.2, 0.4];
         * w = 0.5 - 0.01*0.2/(0.2 + 1e-8) = 0.5 - 0.0099999995;
         *     -1 + 0.01*0.4/(0.4 + 1e-8) = -1 + 0.00999999975 */
        { 0.4900000005, -0.99000000025 },
        /* m = 0.9*m + 0.1*g2 = [0.018 - 0.01, -0.036 + 0.03] = [0.008, -0.006];
         * v = 0.999*v + 0.001*g2^2 = [3.996e-5 + 1e-5, 1.5984e-4 + 9e-5] = [4.996e-5, 2.4984e-4];
         * 1 - 0.9^2 = 0.19; 1 - 0.999^2 = 0.001999;
         * mhat = [0.0421052632, -0.0315789474]; vhat = [0.0249924962, 0.1249824912],
         * sqrt [0.1580901523, 0.3535286286];
         * step = 0.01*mhat/(sqrt + 1e-8) = [0.0026633702, -0.0008932500];
         * w = [0.4900000005 - 0.0026633702, -0.99000000025 + 0.0008932500] */
        { 0.4873366303, -0.9891067502 },
    };
    check_steps(&c, 0.01f, 2, want);
}

static void test_adam_l2_weight_decay(void **state)
{
    (void)state;
    OptimConfig c = adam(OPTIM_ADAM, 0.1f);
    static const double want[2][2] = {
        /* g' = g1 + 0.1*w0 = [0.25, -0.5]; step 1 of Adam moves by lr*g'/(|g'| + eps):
         * w = 0.5 - 0.01*0.25/(0.25 + 1e-8) = 0.5 - 0.0099999996;
         *     -1 + 0.01*0.5/(0.5 + 1e-8) = -1 + 0.0099999998 */
        { 0.4900000004, -0.9900000002 },
        /* g' = g2 + 0.1*w1 = [-0.1 + 0.049, 0.3 - 0.099] = [-0.051, 0.201];
         * m = 0.9*[0.025, -0.05] + 0.1*g' = [0.0174, -0.0249];
         * v = 0.999*[6.25e-5, 2.5e-4] + 0.001*g'^2 = [6.503850e-5, 2.901510e-4];
         * mhat = m/0.19 = [0.0915789474, -0.1310526316]; vhat = v/0.001999 =
         * [0.0325355178, 0.1451480740], sqrt [0.1803760454, 0.3809830364];
         * step = 0.01*mhat/sqrt = [0.0050771122, -0.0034398547];
         * w = [0.4900000004 - 0.0050771122, -0.9900000002 + 0.0034398547] */
        { 0.4849228882, -0.9865601455 },
    };
    check_steps(&c, 0.01f, 2, want);
}

static void test_adamw(void **state)
{
    (void)state;
    OptimConfig c = adam(OPTIM_ADAMW, 0.1f);
    assert_int_equal(optim_state_count(&c), 2);
    static const double want[2][2] = {
        /* decoupled: w *= 1 - 0.01*0.1 = 0.999 first, then plain Adam on g1 (the same step as
         * test_adam): w = 0.5*0.999 - 0.0099999995 = 0.4995 - 0.0099999995;
         *                 -1*0.999 + 0.00999999975 */
        { 0.4895000005, -0.98900000025 },
        /* w *= 0.999: [0.4890105005, -0.9880110002]; Adam's step 2 as in test_adam:
         * w = [0.4890105005 - 0.0026633702, -0.9880110002 + 0.0008932500] */
        { 0.4863471303, -0.9871177502 },
    };
    check_steps(&c, 0.01f, 2, want);
}

/* A wrong rule gives numbers the tests above would reject. */
static void test_wrong_rules_fail(void **state)
{
    (void)state;
    /* Adam without bias correction: m = 0.02, v = 4e-5, step = 0.01*0.02/(sqrt(4e-5) + 1e-8)
     * = 0.01*0.02/0.0063245653 = 0.0316227266, so w = 0.4683772734, not 0.4900000005 */
    assert_false(close_to(0.4683772734, 0.4900000005));
    /* ... and what optim.c computes is the corrected value */
    OptimConfig c = adam(OPTIM_ADAM, 0);
    float w[2] = { W0[0], W0[1] }, m[2] = { 0 }, v[2] = { 0 };
    float *st[2] = { m, v };
    optim_update(&c, 0.01f, 1, w, GRADS[0], st, 2);
    assert_false(close_to(w[0], 0.4683772734));
    assert_close(w[0], 0.4900000005, TOL);

    /* AdamW decay is not Adam's L2 decay: after step 1, 0.4895000005 vs 0.4900000004 */
    assert_false(close_to(0.4895000005, 0.4900000004));

    /* SGD dampening applied on step 1 too: b1 = 0.5*g1, w = 0.5 - 0.1*0.1 = 0.49, not 0.48 */
    assert_false(close_to(0.49, 0.48));
    OptimConfig s = sgd(0.9f, 0.5f, false, 0);
    float ws[2] = { W0[0], W0[1] }, b[2] = { 0 };
    float *sb[1] = { b };
    optim_update(&s, 0.1f, 1, ws, GRADS[0], sb, 2);
    assert_false(close_to(ws[0], 0.49));

    /* RMSprop with Adam-style bias correction of v would step by about lr on step 1 (0.49), not
     * lr/sqrt(1 - alpha) = 10*lr (0.40000005) */
    assert_false(close_to(0.49, 0.40000005));
}

/* ---- RMSprop (lr = 0.01, alpha = 0.99, eps = 1e-8) -------------------------------------- */

static void test_rmsprop(void **state)
{
    (void)state;
    OptimConfig c;
    optim_defaults(OPTIM_RMSPROP, &c);
    assert_int_equal(optim_state_count(&c), 1);
    static const double want[2][2] = {
        /* v = 0.01*g1^2 = [4e-4, 1.6e-3], sqrt [0.02, 0.04];
         * w = 0.5 - 0.01*0.2/(0.02 + 1e-8) = 0.5 - 0.09999995;
         *     -1 + 0.01*0.4/(0.04 + 1e-8) = -1 + 0.099999975 */
        { 0.40000005, -0.900000025 },
        /* v = 0.99*v + 0.01*g2^2 = [3.96e-4 + 1e-4, 1.584e-3 + 9e-4] = [4.96e-4, 2.484e-3],
         * sqrt [0.0222710575, 0.0498397432]; g2/(sqrt + eps) = [-4.4901305, 6.0192914];
         * w = [0.40000005 + 0.044901305, -0.900000025 - 0.060192914] */
        { 0.444901355, -0.960192939 },
    };
    check_steps(&c, 0.01f, 2, want);
}

static void test_rmsprop_momentum(void **state)
{
    (void)state;
    OptimConfig c;
    optim_defaults(OPTIM_RMSPROP, &c);
    c.momentum = 0.9f;
    assert_int_equal(optim_state_count(&c), 2);
    static const double want[2][2] = {
        /* buffer starts at 0: b1 = g1/(sqrt(v1) + eps) = [9.999995, -9.9999975];
         * w = w0 - 0.01*b1, the same as without momentum */
        { 0.40000005, -0.900000025 },
        /* b2 = 0.9*b1 + g2/(sqrt(v2) + eps) = [8.9999955 - 4.4901305, -8.99999775 + 6.0192914]
         * = [4.509865, -2.9807063]; w = [0.40000005 - 0.04509865, -0.900000025 + 0.029807063] */
        { 0.3549014, -0.870192962 },
    };
    check_steps(&c, 0.01f, 2, want);
}

static void test_rmsprop_weight_decay(void **state)
{
    (void)state;
    OptimConfig c;
    optim_defaults(OPTIM_RMSPROP, &c);
    c.weight_decay = 0.5f;
    static const double want[1][2] = {
        /* g' = g1 + 0.5*w0 = [0.45, -0.9]; v = 0.01*g'^2, sqrt = 0.1*|g'| = [0.045, 0.09];
         * w = 0.5 - 0.01*0.45/(0.045 + 1e-8) = 0.5 - 0.0999999778;
         *     -1 + 0.01*0.9/(0.09 + 1e-8) = -1 + 0.0999999889 */
        { 0.4000000222, -0.9000000111 },
    };
    check_steps(&c, 0.01f, 1, want);
}

/* With the default 1e-8 eps barely shows; a large one pins down where it is added. */
static void test_eps_placement(void **state)
{
    (void)state;
    OptimConfig c;
    optim_defaults(OPTIM_RMSPROP, &c);
    c.eps = 0.01f;
    static const double want_rms[1][2] = {
        /* sqrt(v) = 0.1*|g1| = [0.02, 0.04], + eps outside the root = [0.03, 0.05];
         * w = 0.5 - 0.01*0.2/0.03 = 0.5 - 0.0666666667; -1 + 0.01*0.4/0.05 = -1 + 0.08
         * (inside the root it would be sqrt(4e-4 + 0.01) = 0.10198, w = 0.4803884) */
        { 0.4333333333, -0.92 },
    };
    check_steps(&c, 0.01f, 1, want_rms);

    optim_defaults(OPTIM_ADAM, &c);
    c.eps = 0.1f;
    static const double want_adam[1][2] = {
        /* eps goes after the bias correction of v: sqrt(vhat) + eps = [0.2 + 0.1, 0.4 + 0.1];
         * w = 0.5 - 0.01*0.2/0.3 = 0.5 - 0.0066666667; -1 + 0.01*0.4/0.5 = -1 + 0.008
         * ((sqrt(v) + eps)/sqrt(0.001) would give 0.5 - 0.01*0.2/3.3623 = 0.4994052) */
        { 0.4933333333, -0.992 },
    };
    check_steps(&c, 0.01f, 1, want_adam);
}

/* ---- clipping ---------------------------------------------------------------------------- */

static void test_clip_below(void **state)
{
    (void)state;
    float a[2] = { 3.0f, 0.0f }, b[1] = { 4.0f };
    float *grads[2] = { a, b };
    size_t sizes[2] = { 2, 1 };
    /* total = sqrt(9 + 0 + 16) = 5; coef = 10/(5 + 1e-6) > 1: nothing changes */
    assert_close(optim_clip_global_norm(grads, sizes, 2, 10.0), 5.0, 1e-12);
    assert_true(a[0] == 3.0f && a[1] == 0.0f && b[0] == 4.0f);
}

static void test_clip_above(void **state)
{
    (void)state;
    float a[2] = { 3.0f, 0.0f }, b[1] = { 4.0f };
    float *grads[2] = { a, b };
    size_t sizes[2] = { 2, 1 };
    /* total = 5, returned before clipping; coef = 1/(5 + 1e-6) = 0.19999996 */
    assert_close(optim_clip_global_norm(grads, sizes, 2, 1.0), 5.0, 1e-12);
    assert_close(a[0], 0.59999988, 1e-7);   /* 3*0.19999996 */
    assert_close(a[1], 0.0, 1e-12);
    assert_close(b[0], 0.79999984, 1e-7);   /* 4*0.19999996 */
    /* the clipped norm 5*0.19999996 = 0.9999998 is still above 1 - 1e-6, so a second call
     * scales again, by 1/(0.9999998 + 1e-6) = 0.9999992, as PyTorch does */
    assert_close(optim_clip_global_norm(grads, sizes, 2, 1.0), 0.9999998, 1e-7);
    assert_close(b[0], 0.7999992, 1e-7);   /* 0.79999984*0.9999992 */
}

static void test_clip_at_threshold(void **state)
{
    (void)state;
    float a[2] = { 3.0f, 4.0f };
    float *grads[1] = { a };
    size_t sizes[1] = { 2 };
    /* max_norm == total: coef = 5/(5 + 1e-6) = 0.9999998 < 1, so PyTorch scales, and so do we */
    assert_close(optim_clip_global_norm(grads, sizes, 1, 5.0), 5.0, 1e-12);
    assert_close(a[0], 2.9999994, 1e-7);   /* 3*0.9999998 */
    assert_close(a[1], 3.9999992, 1e-7);   /* 4*0.9999998 */
}

static void test_clip_empty_and_nan(void **state)
{
    (void)state;
    assert_close(optim_clip_global_norm(NULL, NULL, 0, 1.0), 0.0, 0);
    float z[3] = { 0 };
    float *zg[1] = { z };
    size_t zn[1] = { 3 };
    /* all-zero gradients: total 0, coef = 1/1e-6, nothing to scale */
    assert_close(optim_clip_global_norm(zg, zn, 1, 1.0), 0.0, 0);
    assert_true(z[0] == 0.0f);

    /* a NaN spreads to every gradient, as torch.nn.utils.clip_grad_norm_ does */
    float a[2] = { NAN, 1.0f };
    float *grads[1] = { a };
    size_t sizes[1] = { 2 };
    assert_true(isnan(optim_clip_global_norm(grads, sizes, 1, 1.0)));
    assert_true(isnan(a[1]));
}

/* ---- schedules --------------------------------------------------------------------------- */

/* Rates come back as float: 1e-7 relative is a few float roundings. */
#define LR_TOL 1e-7

/* "Not given": make_sched puts in the row's default, as the checker does. */
#define DEF NAN

/* A one-phase schedule from schedule_set; v holds one value per row of schedule_args(kind). */
static Schedule make_sched(SchedKind kind, const double *v)
{
    int n;
    const ArgSpec *args = schedule_args(kind, &n);
    double vals[SCHED_MAX_ARGS];
    for (int i = 0; i < n; i++) vals[i] = isnan(v[i]) ? args[i].def : v[i];
    Schedule s;
    schedule_set(&s, kind, vals);
    return s;
}

static void test_schedule_none(void **state)
{
    (void)state;
    Schedule zero = { 0 };      /* all zero: constant */
    assert_close(schedule_lr(&zero, 0.1f, 0, 10), 0.1, LR_TOL);
    assert_close(schedule_lr(&zero, 0.1f, 9, 10), 0.1, LR_TOL);
    Schedule s = make_sched(SCHED_NONE, NULL);
    assert_close(schedule_lr(&s, 0.1f, 0, 10), 0.1, LR_TOL);
    assert_close(schedule_lr(&s, 0.1f, 3000000000L, 10), 0.1, LR_TOL);   /* past 2^31 */
    double m = 7;
    assert_false(schedule_momentum(&s, 3, 10, &m));
    assert_true(m == 7);
}

static void test_schedule_step(void **state)
{
    (void)state;
    Schedule s = make_sched(SCHED_STEP, (double[]){ 2, 0.5 });
    /* 0.1 * 0.5^floor(t/2) */
    static const double want[6] = { 0.1, 0.1, 0.05, 0.05, 0.025, 0.025 };
    for (int t = 0; t < 6; t++) assert_close(schedule_lr(&s, 0.1f, t, 6), want[t], LR_TOL);
    s = make_sched(SCHED_STEP, (double[]){ 3, DEF });             /* gamma = 0.1 */
    assert_close(schedule_lr(&s, 1.0f, 2, 10), 1.0, LR_TOL);      /* 0.1^0 */
    assert_close(schedule_lr(&s, 1.0f, 3, 10), 0.1, LR_TOL);      /* 0.1^1: t = every */
    assert_close(schedule_lr(&s, 1.0f, 9, 10), 0.001, LR_TOL);    /* 0.1^3 */
    assert_close(schedule_lr(&s, 1.0f, 12, 10), 1e-4, LR_TOL);    /* past the end: 0.1^4 */
}

static void test_schedule_cosine(void **state)
{
    (void)state;
    Schedule s = make_sched(SCHED_COSINE, (double[]){ DEF });
    /* base 0.1, T_max 10, eta_min 0: 0.1*(1 + cos(pi*t/10))/2 */
    assert_close(schedule_lr(&s, 0.1f, 0, 10), 0.1, LR_TOL);           /* (1 + 1)/2 */
    assert_close(schedule_lr(&s, 0.1f, 2, 10), 0.0904508497, LR_TOL);  /* (1 + 0.8090169944)/2 */
    assert_close(schedule_lr(&s, 0.1f, 5, 10), 0.05, LR_TOL);          /* (1 + 0)/2 */
    assert_close(schedule_lr(&s, 0.1f, 10, 10), 0.0, LR_TOL);          /* (1 - 1)/2 */
    assert_close(schedule_lr(&s, 0.1f, 15, 10), 0.05, LR_TOL);         /* climbs: (1 + 0)/2 */
    s = make_sched(SCHED_COSINE, (double[]){ 0.01 });
    /* 0.01 + 0.09*(1 + cos(pi*t/10))/2 */
    assert_close(schedule_lr(&s, 0.1f, 0, 10), 0.1, LR_TOL);
    assert_close(schedule_lr(&s, 0.1f, 5, 10), 0.055, LR_TOL);         /* 0.01 + 0.045 */
    assert_close(schedule_lr(&s, 0.1f, 8, 10), 0.0185942353, LR_TOL); /* 0.01 + 0.09*0.0954915028 */
    assert_close(schedule_lr(&s, 0.1f, 10, 10), 0.01, LR_TOL);
    assert_close(schedule_lr(&s, 0.1f, 0, 0), 0.1, LR_TOL);            /* no horizon: base */
}

static void test_schedule_linear(void **state)
{
    (void)state;
    Schedule s = make_sched(SCHED_LINEAR, (double[]){ DEF, DEF, DEF });  /* 1/3 to 1 over all */
    assert_close(schedule_lr(&s, 0.3f, 0, 10), 0.1, LR_TOL);     /* 0.3 * 1/3 */
    assert_close(schedule_lr(&s, 0.3f, 5, 10), 0.2, LR_TOL);     /* 0.3 * (1/3 + 2/3 * 5/10) */
    assert_close(schedule_lr(&s, 0.3f, 10, 10), 0.3, LR_TOL);    /* t = over = total */
    assert_close(schedule_lr(&s, 0.3f, 15, 10), 0.3, LR_TOL);    /* stays */
    assert_close(schedule_lr(&s, 0.3f, 0, 0), 0.3, LR_TOL);      /* no horizon: the end */
    s = make_sched(SCHED_LINEAR, (double[]){ 0.5, 0.1, 4 });     /* down, over 4 of 10 */
    assert_close(schedule_lr(&s, 1.0f, 0, 10), 0.5, LR_TOL);
    assert_close(schedule_lr(&s, 1.0f, 1, 10), 0.4, LR_TOL);     /* 0.5 - 0.4 * 1/4 */
    assert_close(schedule_lr(&s, 1.0f, 2, 10), 0.3, LR_TOL);     /* 0.5 - 0.4 * 2/4 */
    assert_close(schedule_lr(&s, 1.0f, 4, 10), 0.1, LR_TOL);     /* t = over */
    assert_close(schedule_lr(&s, 1.0f, 9, 10), 0.1, LR_TOL);
}

static void test_schedule_exponential(void **state)
{
    (void)state;
    Schedule s = make_sched(SCHED_EXPONENTIAL, (double[]){ 0.5 });
    assert_close(schedule_lr(&s, 1.0f, 0, 10), 1.0, LR_TOL);
    assert_close(schedule_lr(&s, 1.0f, 3, 10), 0.125, LR_TOL);          /* 0.5^3 */
    assert_close(schedule_lr(&s, 1.0f, 10, 10), 0.0009765625, LR_TOL);  /* 0.5^10 */
    assert_close(schedule_lr(&s, 1.0f, 11, 10), 0.00048828125, LR_TOL); /* 0.5^11 */
}

static void test_schedule_warmup(void **state)
{
    (void)state;
    Schedule s = make_sched(SCHED_WARMUP, (double[]){ 4, DEF });        /* from 0 */
    assert_close(schedule_lr(&s, 0.1f, 0, 10), 0.0, LR_TOL);
    assert_close(schedule_lr(&s, 0.1f, 1, 10), 0.025, LR_TOL);          /* 0.1 * 1/4 */
    assert_close(schedule_lr(&s, 0.1f, 3, 10), 0.075, LR_TOL);          /* 0.1 * 3/4 */
    assert_close(schedule_lr(&s, 0.1f, 4, 10), 0.1, LR_TOL);            /* t = over */
    assert_close(schedule_lr(&s, 0.1f, 12, 10), 0.1, LR_TOL);
    s = make_sched(SCHED_WARMUP, (double[]){ 4, 0.2 });
    assert_close(schedule_lr(&s, 1.0f, 0, 10), 0.2, LR_TOL);
    assert_close(schedule_lr(&s, 1.0f, 1, 10), 0.4, LR_TOL);            /* 0.2 + 0.8 * 1/4 */
    assert_close(schedule_lr(&s, 1.0f, 4, 10), 1.0, LR_TOL);
    assert_close(schedule_lr(&s, 1.0f, 6, 10), 1.0, LR_TOL);
}

/* Checks one_cycle's rate and momentum at t of total. */
static void check_cycle(const Schedule *s, float base, long t, long total, double lr, double m)
{
    double got = -1;
    assert_close(schedule_lr(s, base, t, total), lr, LR_TOL);
    assert_true(schedule_momentum(s, t, total, &got));
    assert_close(got, m, 1e-9);        /* the literals have 10 digits */
}

static void test_schedule_one_cycle(void **state)
{
    (void)state;
    /* defaults, base 1, 10 steps: from 1/25 = 0.04 up to 1 at end1 = 0.3*10 - 1 = 2, then down
     * to 0.04/1e4 = 4e-6 at 9; momentum 0.95 down to 0.85 and back. anneal(a, b, p) = b + (a -
     * b)/2 * (1 + cos(pi p)) */
    Schedule s = make_sched(SCHED_ONE_CYCLE, (double[]){ DEF, DEF, DEF, DEF, DEF, DEF, DEF });
    check_cycle(&s, 1.0f, 0, 10, 0.04, 0.95);
    check_cycle(&s, 1.0f, 1, 10, 0.52, 0.9);        /* p = 1/2: 1 - 0.96/2;  0.85 + 0.1/2 */
    check_cycle(&s, 1.0f, 2, 10, 1.0, 0.85);        /* the peak, t = end1 */
    /* p = 3/7, cos(3pi/7) = 0.2225209340: 4e-6 + 0.999996/2 * 1.2225209340; 0.95 - 0.05 * it */
    check_cycle(&s, 1.0f, 5, 10, 0.6112620219, 0.8888739533);
    check_cycle(&s, 1.0f, 9, 10, 4e-6, 0.95);       /* the end, t = total - 1 */
    check_cycle(&s, 1.0f, 10, 10, 4e-6, 0.95);      /* held past it */
    check_cycle(&s, 1.0f, 5000000000L, 10, 4e-6, 0.95);

    /* max_lr 0.5 (the base is not read), pct 0.25, div 10, final_div 100: end1 = 1.5 */
    s = make_sched(SCHED_ONE_CYCLE, (double[]){ 0.5, 0.25, 10, 100, DEF, DEF, DEF });
    check_cycle(&s, 9.0f, 0, 10, 0.05, 0.95);
    /* p = 1/1.5, cos(2pi/3) = -1/2: 0.5 - 0.45/2 * 0.5; 0.85 + 0.1/2 * 0.5 */
    check_cycle(&s, 9.0f, 1, 10, 0.3875, 0.875);
    /* p = 0.5/7.5, cos(pi/15) = 0.9781476007: 0.0005 + 0.4995/2 * 1.9781476007 */
    check_cycle(&s, 9.0f, 2, 10, 0.4945423633, 0.8510926200);
    check_cycle(&s, 9.0f, 9, 10, 0.0005, 0.95);     /* 0.05 / 100 */

    /* pct*total = 1: end1 = 0 at t = 0, where PyTorch divides by zero; here the peak */
    s = make_sched(SCHED_ONE_CYCLE, (double[]){ DEF, 0.1, DEF, DEF, DEF, DEF, DEF });
    check_cycle(&s, 1.0f, 0, 10, 1.0, 0.85);
    /* pct*total < 1: no rising part; 2 steps, end1 = -0.4, t = 0 is p = 0.4/1.4 of the fall,
     * cos(pi * 2/7) = 0.6234898019: 4e-6 + 0.999996/2 * 1.6234898019 */
    s = make_sched(SCHED_ONE_CYCLE, (double[]){ DEF, DEF, DEF, DEF, DEF, DEF, DEF });
    check_cycle(&s, 1.0f, 0, 2, 0.8117456539, 0.8688255099);
    check_cycle(&s, 1.0f, 1, 2, 4e-6, 0.95);
    check_cycle(&s, 1.0f, 0, 0, 4e-6, 0.95);        /* no steps: counts as one, its end */

    /* cycle_momentum off: the rate only */
    s = make_sched(SCHED_ONE_CYCLE, (double[]){ DEF, DEF, DEF, DEF, 0, DEF, DEF });
    double m = 7;
    assert_false(schedule_momentum(&s, 1, 10, &m));
    assert_true(m == 7);
    assert_close(schedule_lr(&s, 1.0f, 1, 10), 0.52, LR_TOL);
}

static void test_schedule_then(void **state)
{
    (void)state;
    /* warmup(over = 3) then cosine, 13 epochs: the cosine has a horizon of 10 */
    Schedule s = make_sched(SCHED_WARMUP, (double[]){ 3, DEF });
    Schedule next = make_sched(SCHED_COSINE, (double[]){ DEF });
    schedule_then(&s, &next);
    assert_int_equal(s.phases, 2);
    assert_int_equal(s.milestone, 3);
    assert_close(schedule_lr(&s, 0.3f, 0, 13), 0.0, LR_TOL);
    assert_close(schedule_lr(&s, 0.3f, 2, 13), 0.2, LR_TOL);    /* 0.3 * 2/3 */
    assert_close(schedule_lr(&s, 0.3f, 3, 13), 0.3, LR_TOL);    /* the milestone: cosine at 0 */
    assert_close(schedule_lr(&s, 0.3f, 8, 13), 0.15, LR_TOL);   /* cosine at 5 of 10 */
    assert_close(schedule_lr(&s, 0.3f, 13, 13), 0.0, LR_TOL);   /* cosine at 10 of 10 */
    SchedPoint at = schedule_point(&s, 2, 13);
    assert_true(at.phase == 0 && at.kind == SCHED_WARMUP && at.t == 2 && at.total == 3);
    at = schedule_point(&s, 8, 13);
    assert_true(at.phase == 1 && at.kind == SCHED_COSINE && at.t == 5 && at.total == 10);

    /* linear(start = 0.5, end = 1, over = 2) then exponential(0.5) */
    s = make_sched(SCHED_LINEAR, (double[]){ 0.5, DEF, 2 });
    next = make_sched(SCHED_EXPONENTIAL, (double[]){ 0.5 });
    schedule_then(&s, &next);
    assert_close(schedule_lr(&s, 1.0f, 1, 6), 0.75, LR_TOL);
    assert_close(schedule_lr(&s, 1.0f, 2, 6), 1.0, LR_TOL);
    assert_close(schedule_lr(&s, 1.0f, 4, 6), 0.25, LR_TOL);    /* 0.5^2 */

    /* warmup then one_cycle: the cycle's momentum only in its phase, over its own 8 steps */
    s = make_sched(SCHED_WARMUP, (double[]){ 2, DEF });
    next = make_sched(SCHED_ONE_CYCLE, (double[]){ DEF, 0.25, DEF, DEF, DEF, DEF, DEF });
    schedule_then(&s, &next);
    double m = 7;
    assert_false(schedule_momentum(&s, 1, 10, &m));
    assert_true(m == 7);
    check_cycle(&s, 1.0f, 2, 10, 0.04, 0.95);       /* the cycle's t = 0 */
    check_cycle(&s, 1.0f, 3, 10, 1.0, 0.85);        /* end1 = 0.25*8 - 1 = 1 */
    check_cycle(&s, 1.0f, 9, 10, 4e-6, 0.95);       /* its t = 7 = 8 - 1 */
}

static void test_schedule_formula(void **state)
{
    (void)state;
    Schedule s = make_sched(SCHED_FORMULA, NULL);
    assert_close(schedule_lr_factor(&s, 0.1f, 4, 10, 0.5), 0.05, LR_TOL);
    SchedPoint at = schedule_point(&s, 4, 10);
    assert_true(at.phase == 0 && at.kind == SCHED_FORMULA && at.t == 4 && at.total == 10);

    /* warmup(over = 2) then a formula: its count starts at the milestone */
    s = make_sched(SCHED_WARMUP, (double[]){ 2, DEF });
    Schedule next = make_sched(SCHED_FORMULA, NULL);
    schedule_then(&s, &next);
    assert_close(schedule_lr_factor(&s, 0.1f, 1, 10, 123), 0.05, LR_TOL);  /* factor unread */
    at = schedule_point(&s, 5, 10);
    assert_true(at.phase == 1 && at.kind == SCHED_FORMULA && at.t == 3 && at.total == 8);
    assert_close(schedule_lr_factor(&s, 0.1f, 5, 10, 0.25), 0.025, LR_TOL);
    assert_close(schedule_lr(&s, 0.1f, 1, 10), 0.05, LR_TOL);   /* no formula active */
}

/* Every row: a name, no name twice, a default in range (or one of the two that stand for a
 * value of the run), and a word that finds its kind again. */
static void test_schedule_table(void **state)
{
    (void)state;
    for (int k = 0; k < SCHED_KINDS; k++) {
        int n;
        const ArgSpec *args = schedule_args((SchedKind)k, &n);
        assert_true(n >= 0 && n <= SCHED_MAX_ARGS);
        for (int i = 0; i < n; i++) {
            assert_non_null(args[i].range);
            for (int j = 0; j < i; j++) assert_string_not_equal(args[i].name, args[j].name);
            bool run_value = (k == SCHED_LINEAR && strcmp(args[i].name, "over") == 0)
                             || (k == SCHED_ONE_CYCLE && strcmp(args[i].name, "max_lr") == 0);
            if (run_value) assert_false(argspec_in_range(&args[i], args[i].def));
            else if (!args[i].required) assert_true(argspec_in_range(&args[i], args[i].def));
        }
        const char *example, *text;
        schedule_help((SchedKind)k, &example, &text);
        SchedKind found = SCHED_FORMULA;
        if (k == SCHED_FORMULA) {
            assert_false(schedule_lookup(schedule_name(SCHED_FORMULA), &found));
            assert_null(example);
            continue;
        }
        assert_true(schedule_lookup(schedule_name((SchedKind)k), &found));
        assert_int_equal(found, k);
        if (k == SCHED_NONE) continue;
        assert_non_null(text);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "schedule %s", schedule_name((SchedKind)k));
        assert_memory_equal(example, prefix, strlen(prefix));
    }
    SchedKind k = SCHED_NONE;
    assert_false(schedule_lookup("step", &k));        /* the language says step_decay */
    assert_true(schedule_lookup("step_decay", &k));
    assert_int_equal(k, SCHED_STEP);
    assert_false(schedule_lookup(NULL, &k));
    assert_true(schedule_leads(SCHED_WARMUP) && schedule_leads(SCHED_LINEAR));
    assert_false(schedule_leads(SCHED_COSINE) || schedule_leads(SCHED_ONE_CYCLE));
    int n;
    const ArgSpec *a = schedule_args(SCHED_ONE_CYCLE, &n);
    assert_int_equal(n, 7);
    assert_string_equal(a[0].name, "max_lr");
    assert_string_equal(a[6].name, "max_momentum");
    assert_null(schedule_args(SCHED_NONE, &n));
    assert_int_equal(n, 0);
    a = schedule_args(SCHED_WARMUP, &n);                  /* over: a whole count that fits */
    assert_true(argspec_in_range(&a[0], 3e9) && argspec_in_range(&a[0], 9007199254740992.0));
    assert_false(argspec_in_range(&a[0], 1e20) || argspec_in_range(&a[0], 2.5));
}

/* ---- names, defaults, options ------------------------------------------------------------ */

static void test_lookup(void **state)
{
    (void)state;
    static const OptimKind kinds[] = { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP };
    static const char *const names[] = { "sgd", "adam", "adamw", "rmsprop" };
    for (size_t i = 0; i < NN_ARRAY_LEN(kinds); i++) {
        OptimKind k = OPTIM_SGD;
        assert_string_equal(optim_name(kinds[i]), names[i]);
        assert_true(optim_lookup(names[i], &k));
        assert_int_equal(k, kinds[i]);
    }
    OptimKind k = OPTIM_RMSPROP;
    assert_false(optim_lookup("nadam", &k));
    assert_false(optim_lookup("Adam", &k));
    assert_false(optim_lookup("", &k));
    assert_false(optim_lookup(NULL, &k));
    assert_int_equal(k, OPTIM_RMSPROP);   /* untouched */

    SchedKind sk = SCHED_STEP;
    assert_true(schedule_lookup("cosine", &sk));
    assert_int_equal(sk, SCHED_COSINE);
    assert_string_equal(schedule_name(SCHED_STEP), "step_decay");
    assert_false(schedule_lookup("plateau", &sk));
    assert_int_equal(sk, SCHED_COSINE);
}

static void test_defaults(void **state)
{
    (void)state;
    OptimConfig c;
    optim_defaults(OPTIM_SGD, &c);
    assert_int_equal(c.kind, OPTIM_SGD);
    assert_close(c.lr, 0.01, 1e-9);
    assert_true(c.momentum == 0 && c.dampening == 0 && !c.nesterov && c.weight_decay == 0);

    optim_defaults(OPTIM_ADAM, &c);
    assert_close(c.lr, 1e-3, 1e-9);
    assert_close(c.beta1, 0.9, 1e-7);
    assert_close(c.beta2, 0.999, 1e-7);
    assert_close(c.eps, 1e-8, 1e-12);
    assert_true(c.weight_decay == 0);

    optim_defaults(OPTIM_ADAMW, &c);
    assert_int_equal(c.kind, OPTIM_ADAMW);
    assert_close(c.lr, 1e-3, 1e-9);
    assert_close(c.beta1, 0.9, 1e-7);
    assert_close(c.beta2, 0.999, 1e-7);
    assert_close(c.weight_decay, 1e-2, 1e-9);

    optim_defaults(OPTIM_RMSPROP, &c);
    assert_close(c.lr, 1e-2, 1e-9);
    assert_close(c.alpha, 0.99, 1e-7);
    assert_close(c.eps, 1e-8, 1e-12);
    assert_true(c.momentum == 0 && c.weight_decay == 0);
}

static void test_state_names(void **state)
{
    (void)state;
    OptimConfig c;
    optim_defaults(OPTIM_SGD, &c);
    assert_int_equal(optim_state_count(&c), 0);
    c.momentum = 0.9f;
    assert_int_equal(optim_state_count(&c), 1);
    assert_string_equal(optim_state_name(&c, 0), "momentum_buffer");

    optim_defaults(OPTIM_ADAMW, &c);
    assert_string_equal(optim_state_name(&c, 0), "exp_avg");
    assert_string_equal(optim_state_name(&c, 1), "exp_avg_sq");

    optim_defaults(OPTIM_RMSPROP, &c);
    assert_string_equal(optim_state_name(&c, 0), "square_avg");
    c.momentum = 0.5f;
    assert_string_equal(optim_state_name(&c, 1), "momentum_buffer");
}

static void test_options(void **state)
{
    (void)state;
    char msg[128];
    OptimConfig c;
    optim_defaults(OPTIM_SGD, &c);
    assert_true(optim_set_option(&c, "lr", 0.5f));
    assert_true(optim_set_option(&c, "momentum", 0.9f));
    assert_true(optim_set_option(&c, "nesterov", 1.0f));
    assert_close(c.lr, 0.5, 0);
    assert_close(c.momentum, 0.9, 1e-7);
    assert_true(c.nesterov);
    assert_null(optim_validate(&c, msg, sizeof msg));
    assert_false(optim_set_option(&c, "beta1", 0.5f));   /* not an sgd option */
    assert_false(optim_set_option(&c, "learning_rate", 0.5f));
    assert_false(optim_set_option(&c, NULL, 0.5f));
    assert_true(optim_set_option(&c, "dampening", 0.1f));
    assert_string_equal(optim_validate(&c, msg, sizeof msg),
                        "nesterov momentum needs momentum above 0 and no dampening");
    assert_true(optim_set_option(&c, "lr", -1.0f));
    assert_ptr_equal(optim_validate(&c, msg, sizeof msg), msg);
    assert_string_equal(msg, "'lr' must be positive");   /* ranges first, in row order */
    char small[8];
    assert_string_equal(optim_validate(&c, small, sizeof small), "'lr' mu");  /* truncated */

    optim_defaults(OPTIM_ADAM, &c);
    assert_true(optim_set_option(&c, "beta2", 1.0f));
    assert_string_equal(optim_validate(&c, msg, sizeof msg),
                        "'beta2' must be at least 0 and below 1");
    assert_false(optim_set_option(&c, "momentum", 0.9f));
    assert_false(optim_set_option(&c, "alpha", 0.9f));

    optim_defaults(OPTIM_RMSPROP, &c);
    assert_true(optim_set_option(&c, "alpha", 0.9f));
    assert_null(optim_validate(&c, msg, sizeof msg));
    assert_true(optim_set_option(&c, "eps", NAN));
    assert_string_equal(optim_validate(&c, msg, sizeof msg), "'eps' must be above 0 and at most 1");
}

/* optim_validate takes exactly what the rows take, at each bound. */
static void test_validate_bounds(void **state)
{
    (void)state;
    static const struct {
        OptimKind kind;
        const char *name;
        float value;
        bool ok;
    } cases[] = {
        { OPTIM_SGD, "lr", 0.0f, false },             /* positive: PyTorch would take 0 */
        { OPTIM_SGD, "lr", 1e-30f, true },
        { OPTIM_SGD, "lr", INFINITY, false },
        { OPTIM_SGD, "momentum", 0.0f, true },
        { OPTIM_SGD, "momentum", 1.0f, false },       /* below 1 */
        { OPTIM_SGD, "momentum", -0.1f, false },
        { OPTIM_SGD, "dampening", 1.0f, true },       /* between 0 and 1, both included */
        { OPTIM_SGD, "dampening", 1.5f, false },
        { OPTIM_SGD, "weight_decay", 0.0f, true },
        { OPTIM_SGD, "weight_decay", 100.0f, true },
        { OPTIM_SGD, "weight_decay", -1e-3f, false },
        { OPTIM_ADAM, "beta1", 0.0f, true },
        { OPTIM_ADAM, "beta1", 1.0f, false },
        { OPTIM_ADAMW, "beta2", 0.9999f, true },
        { OPTIM_ADAMW, "eps", 0.0f, false },          /* above 0 */
        { OPTIM_ADAMW, "eps", 1.0f, true },           /* at most 1 */
        { OPTIM_ADAMW, "eps", 1.5f, false },
        { OPTIM_RMSPROP, "alpha", 0.0f, true },
        { OPTIM_RMSPROP, "alpha", 1.0f, true },
        { OPTIM_RMSPROP, "alpha", 1.01f, false },
        { OPTIM_RMSPROP, "momentum", 0.99f, true },
        { OPTIM_RMSPROP, "momentum", NAN, false },
    };
    char msg[128];
    for (size_t i = 0; i < NN_ARRAY_LEN(cases); i++) {
        OptimConfig c;
        optim_defaults(cases[i].kind, &c);
        assert_true(optim_set_option(&c, cases[i].name, cases[i].value));
        const char *got = optim_validate(&c, msg, sizeof msg);
        if (cases[i].ok) {
            assert_null(got);
        } else {
            char want[128];
            snprintf(want, sizeof want, "'%s' must be ", cases[i].name);
            assert_non_null(got);
            assert_memory_equal(got, want, strlen(want));
        }
    }
}

/* The rows: lr first, the order the checker lists, PyTorch's defaults, which optim_defaults
 * and optim_validate agree with. */
static void test_optim_table(void **state)
{
    (void)state;
    static const char *const want[][5] = {
        [OPTIM_SGD] = { "lr", "momentum", "dampening", "nesterov", "weight_decay" },
        [OPTIM_ADAM] = { "lr", "beta1", "beta2", "eps", "weight_decay" },
        [OPTIM_ADAMW] = { "lr", "beta1", "beta2", "eps", "weight_decay" },
        [OPTIM_RMSPROP] = { "lr", "momentum", "alpha", "eps", "weight_decay" },
    };
    char msg[128];
    for (int k = OPTIM_SGD; k <= OPTIM_RMSPROP; k++) {
        int n;
        const ArgSpec *args = optim_args((OptimKind)k, &n);
        assert_int_equal(n, 5);
        OptimConfig c;
        optim_defaults((OptimKind)k, &c);
        assert_null(optim_validate(&c, msg, sizeof msg));
        for (int i = 0; i < n; i++) {
            assert_string_equal(args[i].name, want[k][i]);
            assert_true(argspec_in_range(&args[i], args[i].def));
            assert_int_equal(args[i].required, k == OPTIM_SGD && i == 0);
            /* every row sets something: a value outside its range is caught */
            assert_true(optim_set_option(&c, args[i].name, -5.0f));
            assert_non_null(optim_validate(&c, msg, sizeof msg));
            optim_defaults((OptimKind)k, &c);
        }
    }
    int n;
    const ArgSpec *a = optim_args(OPTIM_ADAMW, &n);
    assert_true(a[4].def == 1e-2);                       /* adamw's decay */
    a = optim_args(OPTIM_SGD, &n);
    assert_int_equal(a[3].kind, ARG_FLAG);
    assert_string_equal(a[0].range, "positive");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_dampening),
        cmocka_unit_test(test_sgd_nesterov),
        cmocka_unit_test(test_sgd_weight_decay),
        cmocka_unit_test(test_sgd_uses_lr_argument),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adam_l2_weight_decay),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_wrong_rules_fail),
        cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_rmsprop_momentum),
        cmocka_unit_test(test_rmsprop_weight_decay),
        cmocka_unit_test(test_eps_placement),
        cmocka_unit_test(test_clip_below),
        cmocka_unit_test(test_clip_above),
        cmocka_unit_test(test_clip_at_threshold),
        cmocka_unit_test(test_clip_empty_and_nan),
        cmocka_unit_test(test_schedule_none),
        cmocka_unit_test(test_schedule_step),
        cmocka_unit_test(test_schedule_cosine),
        cmocka_unit_test(test_schedule_linear),
        cmocka_unit_test(test_schedule_exponential),
        cmocka_unit_test(test_schedule_warmup),
        cmocka_unit_test(test_schedule_one_cycle),
        cmocka_unit_test(test_schedule_then),
        cmocka_unit_test(test_schedule_formula),
        cmocka_unit_test(test_schedule_table),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_validate_bounds),
        cmocka_unit_test(test_optim_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
