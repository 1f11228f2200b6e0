/* test_diff_ops.c — the ops against PyTorch: reads tests/diff/ops.txt (written once by
 * tests/diff/gen_ops.py with torch; this test needs no torch), builds each case as graph
 * nodes, runs the forward pass and a backward pass through L = sum(y × G) for the case's
 * upstream gradient G, and compares the output and the input gradients with torch's (and the
 * buffers an op updates in place, batchnorm's running statistics, with torch's after the
 * pass). Edge cases compare with torch in float64 instead, allowing ten times torch float32's
 * error. */
#include "testutil.h"

#include "arena.h"
#include "graph.h"
#include "ops.h"
#include "rng.h"
#include "tensor.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_FILE NN_SOURCE_DIR "/tests/diff/ops.txt"

/* A float32 tolerance: |got - want| <= DEFAULT_TOL × max(1, |want|), unless a case says (tol
 * X: the same with X; rtol X: |got - want| <= X × |want|, for values far from 1). */
#define DEFAULT_TOL 1e-5

/* Edge cases: |got - torch64| <= max(EDGE_FACTOR × |torch32 - torch64|, EDGE_ULPS ulps of
 * float32 at torch64): ten times torch's own error, or 2 ulps where torch is exact. */
#define EDGE_FACTOR 10.0
#define EDGE_ULPS 2.0

/* The most mismatches printed for one array. */
#define MAX_REPORTS 3

typedef struct Array {
    Shape shape;
    double *v;          /* shape_size(&shape) values, test_malloc'd; NULL: not given */
    bool grad;          /* an input that is differentiated (a param) */
    bool buffer;        /* an input the op may update in place (a model's buffer) */
} Array;

typedef struct Case {
    char name[96];
    int line;           /* of its "case" line */
    bool quiet;         /* print no differences (the self-check) */
    OpKind op;
    OpAttrs at;
    double tol;
    bool relative;      /* rtol: no floor of 1 under |want| */
    bool edge;          /* out and grad are torch float64's, err torch float32's error */
    Array in[NN_OP_MAX_IN];
    int n_in;
    Array upstream, out, grad[NN_OP_MAX_IN];
    Array out_err, grad_err[NN_OP_MAX_IN];
    Array after[NN_OP_MAX_IN];  /* a buffer input's value after the passes, torch's */
    double worst;       /* an edge case's largest |got - want| / (EDGE_FACTOR × err) */
} Case;

static void case_reset(Case *c, int line)
{
    memset(c, 0, sizeof *c);
    c->line = line;
    c->op = OP_COUNT;
    c->at.axis = NN_AXIS_ALL;
    c->at.lo = -INFINITY;
    c->at.hi = INFINITY;
    c->tol = DEFAULT_TOL;
}

static void array_free(Array *a)
{
    if (a->v) test_free(a->v);
    a->v = NULL;
}

static void case_free(Case *c)
{
    for (int i = 0; i < NN_OP_MAX_IN; i++) {
        array_free(&c->in[i]);
        array_free(&c->grad[i]);
        array_free(&c->grad_err[i]);
        array_free(&c->after[i]);
    }
    array_free(&c->upstream);
    array_free(&c->out);
    array_free(&c->out_err);
}

/* ---- reading the cases ---------------------------------------------------------------------- */

static const char *skip_space(const char *p)
{
    while (*p == ' ') p++;
    return p;
}

/* The next word of p (up to a space or the end) compared with w; advances past it. */
static bool take_word(const char **p, const char *w)
{
    const char *s = skip_space(*p);
    size_t n = strlen(w);
    if (strncmp(s, w, n) != 0 || (s[n] != ' ' && s[n] != '\0')) return false;
    *p = s + n;
    return true;
}

static long take_int(const char **p)
{
    char *end;
    long v = strtol(*p, &end, 10);
    NN_ASSERT(end != *p);
    *p = end;
    return v;
}

/* "RANK D0 D1 ..." */
static Shape take_shape(const char **p)
{
    Shape s = shape_scalar();
    s.rank = (int)take_int(p);
    NN_ASSERT(s.rank >= 0 && s.rank <= NN_MAX_RANK);
    for (int i = 0; i < s.rank; i++) s.dim[i] = (int)take_int(p);
    return s;
}

/* "[repeat] : v0 v1 ...": every value of a, or a tile repeated over a. False if the count is
 * wrong. */
static bool take_values(const char **p, Array *a)
{
    size_t n = shape_size(&a->shape), k = 0;
    bool repeat = take_word(p, "repeat");
    if (!take_word(p, ":")) return false;
    a->v = test_malloc((n ? n : 1) * sizeof *a->v);
    for (const char *s = skip_space(*p); *s; s = skip_space(s)) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || k == n) return false;
        a->v[k++] = v;
        s = end;
    }
    if (repeat && k > 0)
        for (size_t i = k; i < n; i++) a->v[i] = a->v[i % k];
    return repeat ? k > 0 : k == n;
}

static bool take_op(const char *p, Case *c)
{
    p = skip_space(p);
    for (int k = 0; k < OP_COUNT; k++)
        if (strcmp(op_info((OpKind)k)->enum_name, p) == 0) {
            c->op = (OpKind)k;
            return true;
        }
    return false;
}

static bool take_attr(const char *p, Case *c)
{
    OpAttrs *at = &c->at;
    if (take_word(&p, "axis")) {
        at->axis = (int)take_int(&p);
    } else if (take_word(&p, "axes")) {
        while (*skip_space(p)) at->axes |= op_axis_bit(take_int(&p));
    } else if (take_word(&p, "keepdim")) {
        at->keepdim = take_int(&p) != 0;
    } else if (take_word(&p, "lo")) {
        at->lo = strtof(p, NULL);
    } else if (take_word(&p, "hi")) {
        at->hi = strtof(p, NULL);
    } else if (take_word(&p, "start")) {
        at->start = (int)take_int(&p);
    } else if (take_word(&p, "stop")) {
        at->stop = (int)take_int(&p);
    } else if (take_word(&p, "kernel")) {
        at->kernel[0] = (int)take_int(&p);
        at->kernel[1] = (int)take_int(&p);
    } else if (take_word(&p, "stride")) {
        at->stride[0] = (int)take_int(&p);
        at->stride[1] = (int)take_int(&p);
    } else if (take_word(&p, "pad")) {
        at->pad[0] = (int)take_int(&p);
        at->pad[1] = (int)take_int(&p);
    } else if (take_word(&p, "classes")) {
        at->classes = (int)take_int(&p);
    } else if (take_word(&p, "shape")) {
        at->shape = shape_scalar();
        while (*skip_space(p)) at->shape.dim[at->shape.rank++] = (int)take_int(&p);
    } else {
        return false;
    }
    return true;
}

/* One line of a case (not case, end, upstream or output); false if it is not understood. */
static bool take_line(const char *p, Case *c)
{
    if (take_word(&p, "op")) return take_op(p, c);
    if (take_word(&p, "attr")) return take_attr(p, c);
    bool relative = take_word(&p, "rtol");
    if (relative || take_word(&p, "tol")) {
        c->tol = strtod(p, NULL);
        c->relative = relative;
        return true;
    }
    if (take_word(&p, "input")) {
        if (c->n_in == NN_OP_MAX_IN) return false;
        Array *a = &c->in[c->n_in++];
        a->grad = take_word(&p, "grad");
        a->buffer = !a->grad && take_word(&p, "buffer");
        if (!a->grad && !a->buffer && !take_word(&p, "const")) return false;
        a->shape = take_shape(&p);
        return take_values(&p, a);
    }
    if (take_word(&p, "edge")) return c->edge = true;
    if (take_word(&p, "after")) {       /* "after I : ...": buffer I after the passes */
        long i = take_int(&p);
        if (i < 0 || i >= c->n_in || !c->in[i].buffer || c->edge) return false;
        c->after[i].shape = c->in[i].shape;
        return take_values(&p, &c->after[i]);
    }
    bool err = take_word(&p, "error");
    if (err && take_word(&p, "output")) {
        c->out_err.shape = c->out.shape;
        return c->out.v && take_values(&p, &c->out_err);
    }
    if (take_word(&p, "grad")) {
        long i = take_int(&p);
        if (i < 0 || i >= c->n_in) return false;
        Array *a = err ? &c->grad_err[i] : &c->grad[i];
        a->shape = c->in[i].shape;
        return take_values(&p, a);
    }
    return false;
}

/* ---- running a case ------------------------------------------------------------------------- */

static bool close_enough(float got, float want, double tol, bool relative)
{
    if (got == want || (isnan(got) && isnan(want))) return true;
    double scale = relative ? fabs((double)want) : fmax(1.0, fabs((double)want));
    return fabs((double)got - (double)want) <= tol * scale;
}

/* float32's spacing at |x|: the gap from it to the next float above. */
static double ulp32(double x)
{
    float f = (float)fabs(x);
    if (isinf(f)) f = FLT_MAX;
    return (double)nextafterf(f, INFINITY) - (double)f;
}

/* The edge rule (EDGE_FACTOR); *ratio gets |got - want| over what is allowed. Infinities and
 * NaN must be matched exactly. */
static bool edge_ok(float got, double want, double err, double *ratio)
{
    *ratio = 0;
    if (isnan(want) || isinf(want)) return got == want || (isnan(got) && isnan(want));
    double allowed = fmax(EDGE_FACTOR * err, EDGE_ULPS * ulp32(want));
    *ratio = fabs((double)got - want) / allowed;
    return *ratio <= 1.0;   /* false for NaN */
}

/* Whether element i of got matches: by the case's tolerance against torch's float32, or for
 * an edge case by the edge rule (raising *worst to its ratio). */
static bool element_ok(const Case *c, float got, const Array *want, const Array *err, size_t i,
                       double *worst)
{
    if (!c->edge) return close_enough(got, (float)want->v[i], c->tol, c->relative);
    double ratio;
    bool ok = edge_ok(got, want->v[i], err->v[i], &ratio);
    if (ratio > *worst) *worst = ratio;
    return ok;
}

/* Compares got with want (and err, for an edge case); prints the first few differences.
 * Returns the number of them. */
static int compare(const Case *c, const char *what, const Shape *shape, const float *got,
                   const Array *want, const Array *err, double *worst)
{
    char a[64], b[64];
    if (!shape_eq(shape, &want->shape)) {
        print_error("%s (line %d): %s has shape %s, torch's %s\n", c->name, c->line, what,
                    shape_str(shape, a, sizeof a), shape_str(&want->shape, b, sizeof b));
        return 1;
    }
    if (c->edge && !err->v) {
        print_error("%s (line %d): %s has no error line\n", c->name, c->line, what);
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < shape_size(shape); i++) {
        if (element_ok(c, got[i], want, err, i, worst)) continue;
        if (bad++ >= MAX_REPORTS || c->quiet) continue;
        if (c->edge)
            print_error("%s (line %d): %s element %zu is %.9g, torch float64's is %.17g: off by "
                        "%.3g, torch float32 by %.3g\n", c->name, c->line, what, i,
                        (double)got[i], want->v[i], fabs((double)got[i] - want->v[i]),
                        err->v[i]);
        else
            print_error("%s (line %d): %s element %zu is %.9g, torch's is %.9g\n", c->name,
                        c->line, what, i, (double)got[i], want->v[i]);
    }
    return bad;
}

static uint32_t leaf(Graph *g, const Array *a, Span sp)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.shape = a->shape;
    OpKind kind = a->grad ? OP_PARAM : a->buffer ? OP_BUFFER : OP_CONST;
    uint32_t id = graph_add(g, kind, NULL, 0, &at, sp);
    float *v = graph_node(g, id)->value;
    for (size_t i = 0; i < shape_size(&a->shape); i++) v[i] = (float)a->v[i];
    return id;
}

/* Whether the op's shape rule accepts the case (graph_add would assert otherwise). */
static bool shape_ok(const Case *c)
{
    const OpInfo *op = op_info(c->op);
    Shape in[NN_OP_MAX_IN], out;
    for (int i = 0; i < c->n_in; i++) in[i] = c->in[i].shape;
    OpAttrs at = c->at;
    StrBuf err;
    sb_init(&err);
    bool ok = c->n_in == op->arity && op->shape(op, in, &at, &out, &err);
    if (!ok)
        print_error("%s (line %d): %s\n", c->name, c->line,
                    err.data ? err.data : "wrong number of inputs");
    sb_free(&err);
    return ok;
}

/* Builds the case's graph, runs it and compares; returns the number of differences. An edge
 * case's worst ratio (element_ok) goes to *worst. */
static int run_case(const Case *c, double *worst)
{
    if (!shape_ok(c)) return 1;
    Span sp = { 0, 0, 0 };
    Graph g;
    graph_init(&g);
    Arena arena;
    arena_init(&arena);
    Rng rng;
    rng_seed(&rng, 1);
    uint32_t ids[NN_OP_MAX_IN];
    for (int i = 0; i < c->n_in; i++) ids[i] = leaf(&g, &c->in[i], sp);
    uint32_t y = graph_add(&g, c->op, ids, c->n_in, &c->at, sp), root = y;
    int bad = 0;
    if (c->upstream.v) {
        uint32_t m[2] = { y, leaf(&g, &c->upstream, sp) };
        uint32_t prod = graph_add(&g, OP_MUL, m, 2, &c->at, sp);
        OpAttrs all;
        memset(&all, 0, sizeof all);
        all.axis = NN_AXIS_ALL;
        root = graph_add(&g, OP_SUM, &prod, 1, &all, sp);
        if (!graph_node(&g, y)->requires_grad) {
            print_error("%s (line %d): the output takes no gradient\n", c->name, c->line);
            bad++;
        }
    }
    Plan p = graph_plan(&g, &root, 1, &arena);
    graph_forward(&g, &p, &rng, NULL, NULL);
    if (c->upstream.v) graph_backward(&g, &p, root, NULL, NULL);
    GraphNode *yn = graph_node(&g, y);
    *worst = 0;
    bad += compare(c, "output", &yn->shape, yn->value, &c->out, &c->out_err, worst);
    for (int i = 0; i < c->n_in && !bad; i++) {
        if (!c->grad[i].v) continue;
        char what[48];
        snprintf(what, sizeof what, "gradient of input %d", i);
        bad += compare(c, what, &c->in[i].shape, graph_node(&g, ids[i])->grad, &c->grad[i],
                       &c->grad_err[i], worst);
    }
    for (int i = 0; i < c->n_in && !bad; i++) {
        if (!c->after[i].v) continue;
        char what[48];
        snprintf(what, sizeof what, "input %d after the passes", i);
        bad += compare(c, what, &c->in[i].shape, graph_node(&g, ids[i])->value, &c->after[i],
                       NULL, worst);
    }
    graph_free(&g);
    arena_free(&arena);
    return bad;
}

/* ---- the test -------------------------------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = test_malloc((size_t)len + 1);
    size_t got = fread(text, 1, (size_t)len, f);
    fclose(f);
    assert_int_equal(got, (size_t)len);
    text[len] = '\0';
    return text;
}

/* How many cases each op has, and how many failed. */
typedef struct Tally {
    int cases[OP_COUNT];
    int failed;
    int total;
    int edges;
    int buffers;        /* cases that check a buffer after the passes */
    bool exact_zero_seen;
} Tally;

static void finish_case(Case *c, Tally *t)
{
    if (c->op == OP_COUNT || !c->out.v) {
        print_error("case %s (line %d) lacks an op or an output\n", c->name, c->line);
        t->failed++;
    } else {
        t->cases[c->op]++;
        t->total++;
        double worst;
        if (run_case(c, &worst)) t->failed++;
        if (c->edge) {
            t->edges++;
            print_message("[ edge     ] %-38s nn's worst error is %.2f of what is allowed\n",
                          c->name, worst);
        }
        if (strcmp(c->name, "bias_exact_zero_100000_rows") == 0) t->exact_zero_seen = true;
        for (int i = 0; i < c->n_in; i++)
            if (c->after[i].v) {
                t->buffers++;
                break;
            }
    }
    case_free(c);
}

static void run_all(Tally *t)
{
    char *text = read_file(CASES_FILE);
    Case c;
    case_reset(&c, 0);
    bool open = false;
    int line = 0;
    for (char *s = text, *next; *s; s = next) {
        line++;
        char *nl = strchr(s, '\n');
        next = nl ? nl + 1 : s + strlen(s);
        if (nl) *nl = '\0';
        const char *p = s;
        if (*p == '#' || *p == '\0') continue;
        bool ok = true;
        if (take_word(&p, "case")) {
            ok = !open;
            case_reset(&c, line);
            snprintf(c.name, sizeof c.name, "%s", skip_space(p));
            open = true;
        } else if (take_word(&p, "end")) {
            ok = open;
            finish_case(&c, t);
            open = false;
        } else if (take_word(&p, "upstream")) {
            c.upstream.shape = take_shape(&p);
            ok = open && take_values(&p, &c.upstream);
        } else if (take_word(&p, "output")) {
            c.out.shape = take_shape(&p);
            ok = open && take_values(&p, &c.out);
        } else {
            ok = open && take_line(p, &c);
        }
        if (!ok) {
            print_error("%s:%d: cannot read this line\n", CASES_FILE, line);
            t->failed++;
        }
    }
    if (open) case_free(&c);
    test_free(text);
}

static void test_ops_match_torch(void **state)
{
    (void)state;
    Tally t;
    memset(&t, 0, sizeof t);
    run_all(&t);
    print_message("%d cases against torch (%d edge cases), %d failed\n", t.total, t.edges,
                  t.failed);
    assert_int_equal(t.failed, 0);
    assert_true(t.edges >= 20);
    /* every op the generator covers has cases, and the broadcast-gradient ones are there */
    const OpKind covered[] = {
        OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR, OP_NOT, OP_WHERE,
        OP_MAXIMUM, OP_MINIMUM, OP_CLAMP, OP_SUM, OP_MEAN, OP_MAX, OP_MIN,
        OP_RESHAPE, OP_CONCAT, OP_INDEX, OP_SLICE, OP_ONE_HOT, OP_ADD, OP_SUB, OP_MUL,
        OP_MOD, OP_DETACH, OP_BATCHNORM, OP_BATCHNORM_EVAL,
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(covered); i++)
        if (t.cases[covered[i]] < (covered[i] == OP_SUB || covered[i] == OP_MUL ? 1 : 2)) {
            print_error("op %s has too few cases in %s\n", op_info(covered[i])->enum_name,
                        CASES_FILE);
            fail();
        }
    assert_true(t.exact_zero_seen);
    assert_true(t.buffers >= 10);
}

/* The reader and the comparison themselves: a wrong output must be reported. */
static void test_mismatch_detected(void **state)
{
    (void)state;
    Case c;
    case_reset(&c, 1);
    snprintf(c.name, sizeof c.name, "self-check");
    c.quiet = true;
    c.op = OP_MAXIMUM;
    c.n_in = 2;
    const char *a = "2 1 3 : 1 5 nan", *b = "2 1 3 : 2 5 0", *want = "2 1 3 : 2 5 0";
    c.in[0].shape = take_shape(&a);
    assert_true(take_values(&a, &c.in[0]));
    c.in[1].shape = take_shape(&b);
    assert_true(take_values(&b, &c.in[1]));
    c.out.shape = take_shape(&want);
    assert_true(take_values(&want, &c.out));
    double worst;
    assert_int_equal(run_case(&c, &worst), 1);      /* maximum(nan, 0) is nan, not 0 */
    c.out.v[2] = NAN;
    assert_int_equal(run_case(&c, &worst), 0);
    case_free(&c);
    /* a buffer's value after the pass: batchnorm of [[1], [3]] (mean 2, biased variance 1,
     * unbiased 2) moves running statistics 0 and 1 to 0.2 and 0.9 + 0.1 × 2 = 1.1 */
    case_reset(&c, 1);
    snprintf(c.name, sizeof c.name, "self-check buffers");
    c.quiet = true;
    c.op = OP_BATCHNORM;
    c.n_in = 5;
    const char *vals[5] = { "2 2 1 : 1 3", "1 1 : 1", "1 1 : 0", "1 1 : 0", "1 1 : 1" };
    for (int i = 0; i < 5; i++) {
        c.in[i].shape = take_shape(&vals[i]);
        assert_true(take_values(&vals[i], &c.in[i]));
        c.in[i].buffer = i >= 3;
    }
    const char *bn_out = "2 2 1 : -0.999995 0.999995";
    c.out.shape = take_shape(&bn_out);
    assert_true(take_values(&bn_out, &c.out));
    assert_true(take_line("after 3 : 0.2", &c));
    assert_true(take_line("after 4 : 1.1", &c));
    assert_false(take_line("after 1 : 1", &c));          /* W is no buffer */
    assert_int_equal(run_case(&c, &worst), 0);
    c.after[4].v[0] = 1.0;                                 /* a variance that did not move */
    assert_int_equal(run_case(&c, &worst), 1);
    c.after[4].v[0] = 1.1;
    c.after[3].v[0] = 0.0;                                 /* nor the mean */
    assert_int_equal(run_case(&c, &worst), 1);
    case_free(&c);
    const char *tile = "1 5 repeat : 1 2";
    Array r = { take_shape(&tile), NULL, false, false };
    assert_true(take_values(&tile, &r));
    assert_true(r.v[4] == 1 && r.v[3] == 2);
    array_free(&r);
    const char *shortv = "1 3 : 1 2";
    Array s = { take_shape(&shortv), NULL, false, false };
    assert_false(take_values(&shortv, &s));
    array_free(&s);
    assert_true(close_enough(1.0f, 1.000001f, 1e-5, false));
    assert_false(close_enough(1.0f, 1.001f, 1e-5, false));
    assert_false(close_enough(0x1p-27f, 0.0f, 0, false));
    assert_false(close_enough(NAN, 0.0f, 1e-5, false));
    assert_true(close_enough(0.0f, -1e-10f, 1e-5, false));     /* the floor of 1 hides it */
    assert_false(close_enough(0.0f, -1e-10f, 1e-5, true));
    assert_true(close_enough(-1.0000001e-10f, -1e-10f, 1e-6, true));
    /* the edge rule: ten times torch float32's error, at least 2 ulps; infinities exactly */
    double ratio;
    assert_true(edge_ok(9865.22f, 10000.0003, 1000.0, &ratio));
    assert_false(edge_ok(9865.22f, 10000.0003, 0.42, &ratio));
    assert_true(ratio > 10);
    assert_true(edge_ok(9999.99f, 10000.0003, 0.42, &ratio));
    assert_true(edge_ok(nextafterf(1.0f, 2.0f), 1.0, 0.0, &ratio));           /* 1 ulp */
    assert_false(edge_ok(1.0f + 4 * FLT_EPSILON, 1.0, 0.0, &ratio));          /* 4 ulps */
    assert_false(edge_ok(0x1p-27f, 0.0, 0.0, &ratio));
    assert_true(edge_ok(0.0f, 0.0, 0.0, &ratio));
    assert_false(edge_ok(INFINITY, 1e38, 0.0, &ratio));
    assert_true(edge_ok(-INFINITY, -INFINITY, 0.0, &ratio));
    assert_false(edge_ok(NAN, 1.0, 1.0, &ratio));
    assert_true(edge_ok(NAN, NAN, 0.0, &ratio));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mismatch_detected),
        cmocka_unit_test(test_ops_match_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
