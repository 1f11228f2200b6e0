/* testutil.c — helpers shared by the cmocka unit tests. */
#include "testutil.h"

#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void assert_close_impl(double a, double b, double tol, const char *file, int line)
{
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    if (!(fabs(a - b) <= tol * scale)) {
        print_error("%.9g != %.9g (tolerance %g)\n", a, b, tol);
        _fail(file, line);
    }
}

void test_text_write(void *ud, const char *text, size_t len)
{
    TestText *t = ud;
    if (len > sizeof t->buf - 1 - t->len) len = sizeof t->buf - 1 - t->len;
    memcpy(t->buf + t->len, text, len);
    t->len += len;
    t->buf[t->len] = '\0';
}

typedef struct Capture {
    char *buf;
    size_t cap, len;
} Capture;

static void capture(void *ud, const char *text, size_t len)
{
    Capture *c = ud;
    size_t room = c->cap - 1 - c->len;
    if (len > room) len = room;
    memcpy(c->buf + c->len, text, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

int run_capture(const char *code, char *out, size_t out_cap, char *err, size_t err_cap)
{
    Capture o = { out, out_cap, 0 }, e = { err, err_cap, 0 };
    out[0] = err[0] = '\0';
    NnState *nn = nn_new();
    nn_set_output(nn, capture, &o);
    nn_set_errors(nn, capture, &e);
    int st = nn_run_string(nn, "<test>", code);
    nn_close(nn);
    return st;
}
