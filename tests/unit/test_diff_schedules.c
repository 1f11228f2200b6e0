/* test_diff_schedules.c — every schedule against PyTorch. tests/diff/schedules.txt holds the
 * rates (and cycled momenta) torch.optim.lr_scheduler gives step by step for a list of nn
 * schedules; tests/diff/gen_schedules.py writes it (and documents its format). This reads each
 * case, builds the schedule as the front end would (schedule_lookup, the rows' defaults,
 * schedule_set, schedule_then) and compares schedule_lr and schedule_momentum with PyTorch's
 * numbers. No PyTorch needed here. */
#include "testutil.h"

#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_FILE NN_SOURCE_DIR "/tests/diff/schedules.txt"

/* PyTorch works in double and steps most schedulers recursively; nn rounds its closed form to
 * float (6e-8 relative). 1e-6 relative leaves room for both and still catches an off-by-one
 * step, which moves every rate here by far more. */
#define REL_TOL 1e-6

#define MAX_STEPS 64
#define LINE_CAP 8192

typedef struct Case {
    char name[64];
    double base;
    long total;
    Schedule sched;
    double lr[MAX_STEPS], momentum[MAX_STEPS];
    int n_lr, n_momentum;
} Case;

/* The next space-separated word of *p, NUL-terminated in place, or NULL at the end. */
static char *next_word(char **p)
{
    char *w = *p + strspn(*p, " \n");
    if (!*w) return NULL;
    char *end = w + strcspn(w, " \n");
    *p = *end ? end + 1 : end;
    *end = '\0';
    return w;
}

/* One phase from "KIND [ARG=VALUE ...]" up to "then" or the end; *more says whether a "then"
 * came. Arguments not given get their row's default, as the checker does. */
static Schedule parse_phase(char **p, bool *more)
{
    SchedKind kind;
    char *word = next_word(p);
    assert_non_null(word);
    if (!schedule_lookup(word, &kind)) fail_msg("unknown schedule '%s'", word);
    int n;
    const ArgSpec *args = schedule_args(kind, &n);
    double values[SCHED_MAX_ARGS];
    for (int i = 0; i < n; i++) values[i] = args[i].def;
    *more = false;
    while ((word = next_word(p)) && !(*more = strcmp(word, "then") == 0)) {
        char *eq = strchr(word, '=');
        assert_non_null(eq);
        *eq = '\0';
        int i = 0;
        while (i < n && strcmp(args[i].name, word) != 0) i++;
        if (i == n) fail_msg("'%s' has no argument '%s'", schedule_name(kind), word);
        values[i] = strtod(eq + 1, NULL);
        /* PyTorch took it; so must the row */
        if (!argspec_in_range(&args[i], values[i]))
            fail_msg("%s: '%s' must be %s", schedule_name(kind), word, args[i].range);
    }
    Schedule s;
    schedule_set(&s, kind, values);
    return s;
}

static void parse_schedule(char *p, Schedule *s)
{
    bool more;
    *s = parse_phase(&p, &more);
    if (more) {
        Schedule next = parse_phase(&p, &more);
        assert_false(more);
        assert_true(schedule_leads(s->phase[0].kind));
        schedule_then(s, &next);
    }
}

static int parse_numbers(char *p, double *out)
{
    int n = 0;
    for (char *w; (w = next_word(&p));) {
        assert_true(n < MAX_STEPS);
        out[n++] = strtod(w, NULL);
    }
    return n;
}

/* Reads the next case of f into *c: true, or false at the end of the file. */
static bool read_case(FILE *f, Case *c, char *line)
{
    memset(c, 0, sizeof *c);
    bool started = false;
    while (fgets(line, LINE_CAP, f)) {
        assert_non_null(strchr(line, '\n'));     /* the line fit */
        char *p = line, *key = next_word(&p);
        if (!key || key[0] == '#') continue;
        started = true;
        if (strcmp(key, "case") == 0) snprintf(c->name, sizeof c->name, "%s", next_word(&p));
        else if (strcmp(key, "base") == 0) c->base = strtod(next_word(&p), NULL);
        else if (strcmp(key, "total") == 0) c->total = strtol(next_word(&p), NULL, 10);
        else if (strcmp(key, "schedule") == 0) parse_schedule(p, &c->sched);
        else if (strcmp(key, "lr") == 0) c->n_lr = parse_numbers(p, c->lr);
        else if (strcmp(key, "momentum") == 0) c->n_momentum = parse_numbers(p, c->momentum);
        else if (strcmp(key, "end") == 0) return true;
        else fail_msg("unknown line '%s' in %s", key, DATA_FILE);
    }
    assert_false(started);      /* no case cut short */
    return false;
}

static bool close_rel(double got, double want)
{
    return fabs(got - want) <= REL_TOL * fmax(fabs(got), fabs(want)) + 1e-15;
}

/* Compares one case step by step; returns the number of mismatches, each printed. */
static int check_case(const Case *c)
{
    int bad = 0;
    for (int t = 0; t < c->n_lr; t++) {
        double got = schedule_lr(&c->sched, (float)c->base, t, c->total);
        if (!close_rel(got, c->lr[t])) {
            print_error("%s: lr at t = %d is %.9g, PyTorch %.9g\n", c->name, t, got, c->lr[t]);
            bad++;
        }
        double m = NAN;
        bool has = schedule_momentum(&c->sched, t, c->total, &m);
        if (has != (c->n_momentum > 0)) {
            print_error("%s: momentum at t = %d is %s\n", c->name, t,
                        has ? "set, PyTorch leaves it" : "not set, PyTorch sets it");
            bad++;
        } else if (has && !close_rel(m, c->momentum[t])) {
            print_error("%s: momentum at t = %d is %.9g, PyTorch %.9g\n", c->name, t, m,
                        c->momentum[t]);
            bad++;
        }
    }
    return bad;
}

static void test_against_pytorch(void **state)
{
    (void)state;
    FILE *f = fopen(DATA_FILE, "r");
    if (!f) fail_msg("cannot open %s", DATA_FILE);
    char *line = malloc(LINE_CAP);
    assert_non_null(line);
    Case c;
    int cases = 0, bad = 0;
    bool seen[SCHED_KINDS] = { 0 }, then_seen = false;
    while (read_case(f, &c, line)) {
        assert_true(c.n_lr > 0);
        assert_true(c.n_momentum == 0 || c.n_momentum == c.n_lr);
        bad += check_case(&c);
        cases++;
        for (int i = 0; i < c.sched.phases; i++) seen[c.sched.phase[i].kind] = true;
        then_seen |= c.sched.phases == 2;
    }
    free(line);
    fclose(f);
    assert_int_equal(bad, 0);
    /* every schedule a user can write (but none) is in the file, and a sequence too */
    for (int k = 0; k < SCHED_KINDS; k++) {
        const char *example, *text;
        schedule_help((SchedKind)k, &example, &text);
        if (example && !seen[k]) fail_msg("no case for '%s'", schedule_name((SchedKind)k));
    }
    assert_true(then_seen);
    assert_true(cases >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
