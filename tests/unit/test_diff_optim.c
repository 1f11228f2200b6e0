/* test_diff_optim.c — the optimizers' updates against PyTorch. tests/diff/optim.txt holds the
 * params torch.optim leaves after each of 6 steps, for Adam, AdamW, RMSprop and SGD with their
 * settings (momentum, dampening, nesterov, weight decay); tests/diff/gen_optim.py writes it and
 * documents its format. This replays each case through optim_update, with the settings parsed
 * as the front end would (optim_defaults, optim_set_option), and compares every param after
 * every step. No PyTorch needed here. */
#include "testutil.h"

#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_FILE NN_SOURCE_DIR "/tests/diff/optim.txt"
#define N 4             /* params per case */
#define LINE_CAP 1024

/* PyTorch computes the update in float32 from constants it forms in double; so does nn. The
 * order of a few float operations may differ (torch's lerp, addcdiv, a fused multiply-add), so
 * a value may be a unit in the last place off per step: of the largest of the value and, for a
 * param, the step (a param crossing 0 keeps the absolute error of the numbers it came from).
 * Adam's v was 1.3e-5 (about 100 ulps) off when 1 - beta2 was formed from the float32 beta2,
 * RMSprop's square_avg 1e-6. */
#define ULPS 4

/* "WORD V V V V" (after the word and its space, at p) into v. */
static void parse_values(const char *p, float v[N])
{
    char *end;
    for (int i = 0; i < N; i++, p = end) {
        v[i] = strtof(p, &end);
        assert_true(end != p);
    }
}

/* "optim KIND NAME=VALUE ..." as the checker makes it: the kind's defaults, then each setting. */
static void parse_optim(char *line, OptimConfig *c)
{
    char *save = NULL, *word = strtok_r(line, " \n", &save);
    assert_string_equal(word, "optim");
    OptimKind kind;
    word = strtok_r(NULL, " \n", &save);
    if (!optim_lookup(word, &kind)) fail_msg("unknown optimizer '%s'", word);
    optim_defaults(kind, c);
    while ((word = strtok_r(NULL, " \n", &save))) {
        char *eq = strchr(word, '=');
        assert_non_null(eq);
        *eq = '\0';
        if (!optim_set_option(c, word, strtof(eq + 1, NULL))) fail_msg("unknown setting '%s'", word);
    }
    char msg[256];
    assert_null(optim_validate(c, msg, sizeof msg));
}

/* |a - b| in units in the last place of `scale`. */
static double ulps_apart(float a, float b, float scale)
{
    float s = fabsf(scale);
    return fabs((double)a - (double)b) / ((double)nextafterf(s, INFINITY) - (double)s);
}

/* Compares nn's values with torch's, in units in the last place of `scale` (or of the values
 * themselves); fails past ULPS for each step so far (a trajectory's differences add up). */
static double compare(const char *name, const char *what, long t, const float *nn,
                      const float *torch, const float *scale)
{
    double worst = 0;
    for (int i = 0; i < N; i++) {
        float s = fmaxf(fabsf(nn[i]), fabsf(torch[i]));
        if (scale) s = fmaxf(s, scale[i]);
        double d = ulps_apart(nn[i], torch[i], s);
        if (d > worst) worst = d;
        if (d > ULPS * (double)t)
            fail_msg("%s, step %ld, %s[%d]: nn %.9g, torch %.9g (%.1f ulps)", name, t, what, i,
                     nn[i], torch[i], d);
    }
    return worst;
}

/* One case, from its "optim" line to "end": replays the steps and compares each param and state
 * buffer after each; returns the worst difference in ulps. */
static double run_case(FILE *f, const char *name)
{
    char line[LINE_CAP];
    OptimConfig c;
    assert_non_null(fgets(line, sizeof line, f));
    parse_optim(line, &c);
    float w[N] = { 0 }, g[N], want[N], before[N], scale[N], buf[3][N];
    memset(buf, 0, sizeof buf);
    float *bufs[3] = { buf[0], buf[1], buf[2] };
    long t = 0;
    double worst = 0;
    while (fgets(line, sizeof line, f) && strncmp(line, "end", 3) != 0) {
        if (strncmp(line, "w ", 2) == 0) {
            parse_values(line + 2, w);
        } else if (strncmp(line, "step ", 5) == 0) {
            parse_values(line + 5, g);
            memcpy(before, w, sizeof before);
            optim_update(&c, c.lr, ++t, w, g, bufs, N);
        } else if (strncmp(line, "after ", 6) == 0) {
            parse_values(line + 6, want);
            for (int i = 0; i < N; i++) scale[i] = fabsf(before[i] - want[i]);  /* the step */
            worst = fmax(worst, compare(name, "param", t, w, want, scale));
        } else if (strncmp(line, "state ", 6) == 0) {
            char *key = line + 6, *values = key + strcspn(key, " ");
            *values++ = '\0';
            int k = 0;
            while (k < optim_state_count(&c) && strcmp(optim_state_name(&c, k), key) != 0) k++;
            if (k == optim_state_count(&c)) fail_msg("%s: nn keeps no '%s'", name, key);
            parse_values(values, want);
            /* a running average of terms of both signs can land near 0: the scale is the
             * buffer's largest element */
            float big = 0;
            for (int i = 0; i < N; i++) big = fmaxf(big, fabsf(want[i]));
            for (int i = 0; i < N; i++) scale[i] = big;
            worst = fmax(worst, compare(name, key, t, buf[k], want, scale));
        }
    }
    assert_int_equal(t, 6);
    return worst;
}

static void test_optimizers_match_pytorch(void **state)
{
    (void)state;
    FILE *f = fopen(DATA_FILE, "r");
    assert_non_null(f);
    char line[LINE_CAP];
    int cases = 0;
    double worst_all = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "case ", 5) != 0) continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(line + 5, "\n"), line + 5);
        double worst = run_case(f, name);
        printf("  %-24s worst %.2f ulps\n", name, worst);
        worst_all = fmax(worst_all, worst);
        cases++;
    }
    fclose(f);
    assert_int_equal(cases, 8);
    printf("  %d optimizers, 6 steps each, params and state: at most %.2f ulps from PyTorch\n",
           cases, worst_all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimizers_match_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
