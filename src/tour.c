/* tour.c — the guided tour (tour.h). */
#include "tour.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (!c) {
        fputs("nn: out of memory\n", stderr);
        exit(1);
    }
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* Appends `line` (n bytes) and a newline to *buf. */
static void append(char **buf, const char *line, size_t n)
{
    size_t have = *buf ? strlen(*buf) : 0;
    char *b = realloc(*buf, have + n + 2);
    if (!b) {
        fputs("nn: out of memory\n", stderr);
        exit(1);
    }
    memcpy(b + have, line, n);
    b[have + n] = '\n';
    b[have + n + 1] = '\0';
    *buf = b;
}

/* The text after a marker ("#= ", "# "), without its leading blanks. */
static const char *after(const char *line, size_t marker)
{
    line += marker;
    while (*line == ' ') line++;
    return line;
}

static bool read_lesson(TourLesson *l, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    memset(l, 0, sizeof *l);
    l->path = copy(path, strlen(path));
    char line[4096];
    bool in_text = true;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        char **field = NULL;
        if (strncmp(line, "#?", 2) == 0) field = &l->question;
        else if (strncmp(line, "#=", 2) == 0) field = &l->answer;
        else if (strncmp(line, "#~", 2) == 0) field = &l->goal;
        else if (strncmp(line, "#!", 2) == 0) field = &l->hint;
        else if (strncmp(line, "#>", 2) == 0) continue;     /* the solution: for the tests */
        if (field) {
            const char *v = after(line, 2);
            free(*field);
            *field = copy(v, strlen(v));
            continue;
        }
        if (in_text && line[0] == '#') {
            const char *v = after(line, 1);
            if (!l->title) l->title = copy(v, strlen(v));
            else append(&l->text, v, strlen(v));
            continue;
        }
        if (in_text && line[0] == '\0') continue;
        in_text = false;
        append(&l->code, line, n);
    }
    fclose(f);
    if (!l->title) l->title = copy("(untitled)", 10);
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lessons of `dir`: its .nn files, in name order. */
static int read_dir(Tour *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".nn") != 0) continue;
        char **more = realloc(names, (size_t)(n + 1) * sizeof *names);
        if (!more) break;
        names = more;
        size_t need = strlen(dir) + len + 2;
        names[n] = malloc(need);
        if (!names[n]) break;
        snprintf(names[n++], need, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    t->lessons = calloc((size_t)(n ? n : 1), sizeof *t->lessons);
    for (int i = 0; i < n; i++) {
        if (t->lessons && read_lesson(&t->lessons[t->count], names[i])) t->count++;
        free(names[i]);
    }
    free(names);
    return t->count;
}

bool tour_open(Tour *t)
{
    memset(t, 0, sizeof *t);
    t->at = -1;
    const char *dirs[] = { getenv("NN_TOUR_DIR"), NN_TOUR_INSTALLED, NN_TOUR_SOURCE };
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        if (!dirs[i] || !*dirs[i]) continue;
        if (read_dir(t, dirs[i]) > 0) return true;
        free(t->lessons);
        t->lessons = NULL;
    }
    fputs("nn: no tour lessons found (NN_TOUR_DIR names a folder of lessons)\n", stderr);
    return false;
}

void tour_close(Tour *t)
{
    for (int i = 0; i < t->count; i++) {
        TourLesson *l = &t->lessons[i];
        free(l->path), free(l->title), free(l->text), free(l->code), free(l->question);
        free(l->answer), free(l->goal), free(l->hint);
    }
    free(t->lessons);
    memset(t, 0, sizeof *t);
    t->at = -1;
}

void tour_show(Tour *t, NnState *nn, int k)
{
    if (k < 0 || k >= t->count) return;
    t->at = k;
    t->done = false;
    const TourLesson *l = &t->lessons[k];
    printf("\n== lesson %d of %d: %s ==\n\n", k + 1, t->count, l->title);
    if (l->text) printf("%s\n", l->text);
    if (l->code) {
        /* the code as the learner would type it, then what it prints */
        for (const char *p = l->code; *p;) {
            size_t n = strcspn(p, "\n");
            printf("  | %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
        putchar('\n');
        fflush(stdout);
        nn_run_string(nn, l->path, l->code);
        fflush(stdout);
    }
    if (l->question)
        printf("\nexercise: %s\n  (%s; :hint for a hint, :next for the next lesson, :back, :tour N)\n",
               l->question, l->answer ? ":answer X to answer" : "type statements until it is done");
    else
        printf("\n(:next for the next lesson)\n");
    fflush(stdout);
}

/* EXPR's value in the session, through a name of the tour's own; false if it has none. */
static bool value_of(NnState *nn, const char *name, const char *expr, double *v)
{
    size_t need = strlen(name) + strlen(expr) + 16;
    char *code = malloc(need);
    if (!code) return false;
    snprintf(code, need, "let %s = (%s)\n", name, expr);
    NnStatus st = nn_run_string(nn, "<tour>", code);
    free(code);
    NnTensorView view;
    if (st != NN_OK || nn_get(nn, name, &view) != NN_OK || view.size < 1) return false;
    *v = view.data[0];
    return true;
}

void tour_answer(Tour *t, NnState *nn, const char *expr)
{
    if (t->at < 0) {
        fputs("nn: no lesson is open (:tour starts the tour)\n", stderr);
        return;
    }
    const TourLesson *l = &t->lessons[t->at];
    if (!l->answer) {
        fputs("nn: this exercise is done by statements, not by :answer\n", stderr);
        return;
    }
    double got, want;
    if (!*expr || !value_of(nn, "tour_answer", expr, &got)) {
        fputs("nn: ':answer' needs a number or an expression, e.g. :answer 0.25\n", stderr);
        return;
    }
    if (!value_of(nn, "tour_expected", l->answer, &want)) return;
    if (fabs(got - want) <= 1e-4 * fmax(1, fabs(want))) {
        printf("right: %.6g. (:next for the next lesson)\n", want);
        t->done = true;
    } else {
        printf("not quite: %.6g is not it. (:hint for a hint)\n", got);
    }
    fflush(stdout);
}

static void discard(void *ud, const char *text, size_t len)
{
    (void)ud, (void)text, (void)len;
}

void tour_check(Tour *t, NnState *nn)
{
    if (t->at < 0 || t->done || !t->lessons[t->at].goal) return;
    double v;
    /* quietly: a goal that cannot be computed yet (a diverged model's inf) is simply not met */
    nn_set_errors(nn, discard, NULL);
    bool met = value_of(nn, "tour_done", t->lessons[t->at].goal, &v) && v != 0;
    nn_set_errors(nn, NULL, NULL);
    if (met) {
        printf("done: %s holds. (:next for the next lesson)\n", t->lessons[t->at].goal);
        t->done = true;
        fflush(stdout);
    }
}

void tour_hint(const Tour *t)
{
    if (t->at < 0) fputs("nn: no lesson is open (:tour starts the tour)\n", stderr);
    else if (!t->lessons[t->at].hint) puts("no hint for this one");
    else printf("hint: %s\n", t->lessons[t->at].hint);
    fflush(stdout);
}
