/* test_ops.c — unit tests for the op table (ops.def, ops.c): the forward value of every op on
 * hand-computed inputs, run through graph_add / graph_plan / graph_forward, the table's
 * consistency (kernels, derivatives, trace texts, lookup by name), per-node scratch (aux) and
 * the seeded backward pass. */
#include "testutil.h"

#include "arena.h"
#include "graph.h"
#include "ops.h"
#include "rng.h"
#include "tensor.h"
#include "trace.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#define TOL 1e-6

typedef struct Fixture {
    Graph g;
    Arena arena;        /* plans */
    Rng rng;
} Fixture;

static int setup(void **state)
{
    Fixture *f = test_calloc(1, sizeof *f);
    graph_init(&f->g);
    arena_init(&f->arena);
    rng_seed(&f->rng, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    graph_free(&f->g);
    arena_free(&f->arena);
    test_free(f);
    return 0;
}

/* A shape from its dimensions: mkshape(2, 4, 3) is [4,3]. */
static Shape mkshape(int rank, ...)
{
    Shape s = shape_scalar();
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++) s.dim[i] = va_arg(ap, int);
    va_end(ap);
    s.rank = rank;
    return s;
}

static OpAttrs no_attrs(void)
{
    OpAttrs at;
    memset(&at, 0, sizeof at);
    at.axis = NN_AXIS_ALL;
    return at;
}

static Span nowhere(void)
{
    Span s = { 0, 0, 0 };
    return s;
}

/* A constant leaf of shape s holding v (shape_size(&s) floats). */
static uint32_t konst(Fixture *f, Shape s, const float *v)
{
    OpAttrs at = no_attrs();
    at.shape = s;
    uint32_t id = graph_add(&f->g, OP_CONST, NULL, 0, &at, nowhere());
    GraphNode *n = graph_node(&f->g, id);
    memcpy(n->value, v, n->size * sizeof(float));
    return id;
}

static uint32_t scalar(Fixture *f, float v)
{
    return konst(f, shape_scalar(), &v);
}

static uint32_t op1(Fixture *f, OpKind k, uint32_t a)
{
    OpAttrs at = no_attrs();
    return graph_add(&f->g, k, &a, 1, &at, nowhere());
}

static uint32_t op2(Fixture *f, OpKind k, uint32_t a, uint32_t b)
{
    OpAttrs at = no_attrs();
    uint32_t in[2] = { a, b };
    return graph_add(&f->g, k, in, 2, &at, nowhere());
}

static uint32_t reduce(Fixture *f, OpKind k, uint32_t a, int axis)
{
    OpAttrs at = no_attrs();
    at.axis = axis;
    return graph_add(&f->g, k, &a, 1, &at, nowhere());
}

/* Runs a forward pass over the plan of `root` and returns the root's node. */
static GraphNode *eval(Fixture *f, uint32_t root)
{
    Plan p = graph_plan(&f->g, &root, 1, &f->arena);
    graph_forward(&f->g, &p, &f->rng, NULL, NULL);
    return graph_node(&f->g, root);
}

/* Evaluates `id` and checks its shape and values (relative tolerance, at least absolute). */
static void expect_impl(Fixture *f, uint32_t id, Shape want_shape, const float *want,
                        double tol, const char *file, int line)
{
    GraphNode *n = eval(f, id);
    char a[64], b[64];
    if (!shape_eq(&n->shape, &want_shape)) {
        print_error("shape %s != %s\n", shape_str(&n->shape, a, sizeof a),
                    shape_str(&want_shape, b, sizeof b));
        _fail(file, line);
    }
    assert_int_equal(n->size, shape_size(&want_shape));
    for (size_t i = 0; i < n->size; i++) {
        double got = n->value[i], w = want[i];
        double scale = fmax(1.0, fmax(fabs(got), fabs(w)));
        bool same = got == w || (isnan(got) && isnan(w));
        if (!same && !(fabs(got - w) <= tol * scale)) {
            print_error("element %zu: %.9g != %.9g (tolerance %g)\n", i, got, w, tol);
            _fail(file, line);
        }
    }
}
#define EXPECT(f, id, shape, ...)                                                              \
    expect_impl((f), (id), (shape), (const float[]){ __VA_ARGS__ }, TOL, __FILE__, __LINE__)

/* Applies a unary op to a vector and checks the result elementwise. */
static void unary_impl(Fixture *f, OpKind k, const float *in, const float *want, int n,
                       const char *file, int line)
{
    uint32_t x = konst(f, mkshape(1, n), in);
    expect_impl(f, op1(f, k, x), mkshape(1, n), want, TOL, file, line);
}
#define UNARY_CASE(f, k, in, want)                                                             \
    unary_impl((f), (k), (in), (want), (int)NN_ARRAY_LEN(in), __FILE__, __LINE__)

/* ---- elementwise binary ops ------------------------------------------------------------- */

static void test_add(void **state)
{
    Fixture *f = *state;
    uint32_t a = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    uint32_t b = konst(f, mkshape(2, 2, 3), (const float[]){ 10, 20, 30, 40, 50, 60 });
    uint32_t row = konst(f, mkshape(1, 3), (const float[]){ 10, 20, 30 });
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 100, 200 });
    EXPECT(f, op2(f, OP_ADD, a, b), mkshape(2, 2, 3), 11, 22, 33, 44, 55, 66);
    EXPECT(f, op2(f, OP_ADD, a, row), mkshape(2, 2, 3), 11, 22, 33, 14, 25, 36);
    EXPECT(f, op2(f, OP_ADD, row, a), mkshape(2, 2, 3), 11, 22, 33, 14, 25, 36);
    EXPECT(f, op2(f, OP_ADD, a, col), mkshape(2, 2, 3), 101, 102, 103, 204, 205, 206);
    EXPECT(f, op2(f, OP_ADD, col, row), mkshape(2, 2, 3), 110, 120, 130, 210, 220, 230);
    EXPECT(f, op2(f, OP_ADD, a, scalar(f, 0.5f)), mkshape(2, 2, 3),
           1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f);
    EXPECT(f, op2(f, OP_ADD, scalar(f, 2), scalar(f, -3)), shape_scalar(), -1);
    /* rank 3 against rank 2: [2,1,2] + [3,1] is [2,3,2] */
    uint32_t c = konst(f, mkshape(3, 2, 1, 2), (const float[]){ 1, 2, 3, 4 });
    uint32_t d = konst(f, mkshape(2, 3, 1), (const float[]){ 0, 10, 20 });
    EXPECT(f, op2(f, OP_ADD, c, d), mkshape(3, 2, 3, 2),
           1, 2, 11, 12, 21, 22,
           3, 4, 13, 14, 23, 24);
}

static void test_sub(void **state)
{
    Fixture *f = *state;
    uint32_t v = konst(f, mkshape(1, 3), (const float[]){ 5, -1, 0.25f });
    EXPECT(f, op2(f, OP_SUB, v, scalar(f, 1)), mkshape(1, 3), 4, -2, -0.75f);
    EXPECT(f, op2(f, OP_SUB, scalar(f, 1), v), mkshape(1, 3), -4, 2, 0.75f);
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 1, 2 });
    uint32_t row = konst(f, mkshape(2, 1, 3), (const float[]){ 10, 20, 30 });
    EXPECT(f, op2(f, OP_SUB, col, row), mkshape(2, 2, 3), -9, -19, -29, -8, -18, -28);
    EXPECT(f, op2(f, OP_SUB, row, col), mkshape(2, 2, 3), 9, 19, 29, 8, 18, 28);
}

static void test_mul(void **state)
{
    Fixture *f = *state;
    uint32_t a = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 2, -1 });
    uint32_t row = konst(f, mkshape(1, 3), (const float[]){ 0, 1, -0.5f });
    EXPECT(f, op2(f, OP_MUL, a, a), mkshape(2, 2, 3), 1, 4, 9, 16, 25, 36);
    EXPECT(f, op2(f, OP_MUL, a, col), mkshape(2, 2, 3), 2, 4, 6, -4, -5, -6);
    EXPECT(f, op2(f, OP_MUL, row, a), mkshape(2, 2, 3), 0, 2, -1.5f, 0, 5, -3);
    EXPECT(f, op2(f, OP_MUL, scalar(f, 3), a), mkshape(2, 2, 3), 3, 6, 9, 12, 15, 18);
    EXPECT(f, op2(f, OP_MUL, scalar(f, 0.5f), scalar(f, 0.2f)), shape_scalar(), 0.1f);
}

static void test_div(void **state)
{
    Fixture *f = *state;
    uint32_t v = konst(f, mkshape(1, 3), (const float[]){ 6, -3, 1 });
    EXPECT(f, op2(f, OP_DIV, v, scalar(f, 2)), mkshape(1, 3), 3, -1.5f, 0.5f);
    EXPECT(f, op2(f, OP_DIV, scalar(f, 1), konst(f, mkshape(1, 2), (const float[]){ 4, 0.5f })),
           mkshape(1, 2), 0.25f, 2);
    uint32_t m = konst(f, mkshape(2, 2, 2), (const float[]){ 1, 2, 3, 4 });
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 2, -4 });
    EXPECT(f, op2(f, OP_DIV, m, col), mkshape(2, 2, 2), 0.5f, 1, -0.75f, -1);
    EXPECT(f, op2(f, OP_DIV, scalar(f, 1), scalar(f, 3)), shape_scalar(), 1.0f / 3.0f);
}

static void test_pow(void **state)
{
    Fixture *f = *state;
    uint32_t v = konst(f, mkshape(1, 4), (const float[]){ 2, 3, -4, 0 });
    EXPECT(f, op2(f, OP_POW, v, scalar(f, 2)), mkshape(1, 4), 4, 9, 16, 0);
    EXPECT(f, op2(f, OP_POW, v, scalar(f, 3)), mkshape(1, 4), 8, 27, -64, 0);
    EXPECT(f, op2(f, OP_POW, v, scalar(f, 0)), mkshape(1, 4), 1, 1, 1, 1);
    EXPECT(f, op2(f, OP_POW, scalar(f, 9), scalar(f, 0.5f)), shape_scalar(), 3);
    EXPECT(f, op2(f, OP_POW, scalar(f, 2),
                  konst(f, mkshape(1, 4), (const float[]){ 0, 1, -1, 10 })),
           mkshape(1, 4), 1, 2, 0.5f, 1024);
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 2, 3 });
    uint32_t row = konst(f, mkshape(1, 3), (const float[]){ 1, 2, -2 });
    EXPECT(f, op2(f, OP_POW, col, row), mkshape(2, 2, 3), 2, 4, 0.25f, 3, 9, 1.0f / 9.0f);
}

/* ---- elementwise unary ops -------------------------------------------------------------- */

static void test_neg(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_NEG, ((const float[]){ 1, -2.5f, 0, 1e30f }),
               ((const float[]){ -1, 2.5f, 0, -1e30f }));
    EXPECT(f, op1(f, OP_NEG, scalar(f, 4)), shape_scalar(), -4);
}

static void test_exp(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_EXP, ((const float[]){ 0, 1, -1, 2, -100 }),
               ((const float[]){ 1, 2.7182818f, 0.36787944f, 7.3890561f, 0 }));
}

static void test_log(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_LOG, ((const float[]){ 1, 2.7182818f, 0.5f, 100 }),
               ((const float[]){ 0, 1, -0.69314718f, 4.6051702f }));
}

static void test_sqrt(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_SQRT, ((const float[]){ 0, 4, 2, 0.25f, 1e6f }),
               ((const float[]){ 0, 2, 1.4142136f, 0.5f, 1000 }));
}

static void test_abs(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_ABS, ((const float[]){ -3, 0, 2.5f, -0.0f, -1e-3f }),
               ((const float[]){ 3, 0, 2.5f, 0, 1e-3f }));
}

static void test_sigmoid(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_SIGMOID, ((const float[]){ 0, 2, -2, 1.1f }),
               ((const float[]){ 0.5f, 0.88079708f, 0.11920292f, 0.75026011f }));
    /* no exp of a large positive number: finite, in [0, 1], never NaN */
    const float far[] = { -100, 100, -1000, 1000, -88.8f, 88.8f };
    GraphNode *n = eval(f, op1(f, OP_SIGMOID, konst(f, mkshape(1, 6), far)));
    for (int i = 0; i < 6; i++) {
        assert_false(isnan(n->value[i]));
        assert_true(n->value[i] >= 0.0f && n->value[i] <= 1.0f);
    }
    assert_close(n->value[0], 3.7200760e-44, TOL);
    assert_true(n->value[0] >= 0.0f && n->value[0] < 1e-40f);
    assert_true(n->value[1] == 1.0f);
    assert_true(n->value[2] == 0.0f);
    assert_true(n->value[3] == 1.0f);
}

static void test_tanh(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_TANH, ((const float[]){ 0, 1, -0.5f, 100, -100 }),
               ((const float[]){ 0, 0.76159416f, -0.46211716f, 1, -1 }));
}

static void test_relu(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_RELU, ((const float[]){ -1, 0, 2, -1e-7f, 1e-7f }),
               ((const float[]){ 0, 0, 2, 0, 1e-7f }));
}

static void test_leaky_relu(void **state)
{
    Fixture *f = *state;
    uint32_t x = konst(f, mkshape(1, 4), (const float[]){ -2, 0, 3, -0.5f });
    OpAttrs at = no_attrs();
    at.alpha = 0.1f;
    EXPECT(f, graph_add(&f->g, OP_LEAKY_RELU, &x, 1, &at, nowhere()), mkshape(1, 4),
           -0.2f, 0, 3, -0.05f);
    at.alpha = 0.01f;
    EXPECT(f, graph_add(&f->g, OP_LEAKY_RELU, &x, 1, &at, nowhere()), mkshape(1, 4),
           -0.02f, 0, 3, -0.005f);
    /* a slope of 0 is relu, a slope of 1 the identity */
    at.alpha = 0;
    EXPECT(f, graph_add(&f->g, OP_LEAKY_RELU, &x, 1, &at, nowhere()), mkshape(1, 4),
           0, 0, 3, 0);
    at.alpha = 1;
    EXPECT(f, graph_add(&f->g, OP_LEAKY_RELU, &x, 1, &at, nowhere()), mkshape(1, 4),
           -2, 0, 3, -0.5f);
}

static void test_softplus(void **state)
{
    Fixture *f = *state;
    UNARY_CASE(f, OP_SOFTPLUS, ((const float[]){ 0, 1, -1, 100, -100, 20 }),
               ((const float[]){ 0.69314718f, 1.3132617f, 0.31326169f, 100, 0, 20 }));
    /* stable far out: no overflow to inf, no NaN, and still positive */
    const float far[] = { 1000, -1000, 89, -89 };
    GraphNode *n = eval(f, op1(f, OP_SOFTPLUS, konst(f, mkshape(1, 4), far)));
    for (int i = 0; i < 4; i++) assert_true(isfinite(n->value[i]));
    assert_close(n->value[0], 1000, TOL);
    assert_true(n->value[1] >= 0.0f && n->value[1] < 1e-30f);
    assert_close(n->value[2], 89, TOL);
    assert_true(n->value[3] > 0.0f && n->value[3] < 1e-30f);
}

/* ---- matrix product and transpose ------------------------------------------------------- */

static void test_matmul(void **state)
{
    Fixture *f = *state;
    uint32_t A = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    uint32_t B = konst(f, mkshape(2, 3, 2), (const float[]){ 7, 8, 9, 10, 11, 12 });
    uint32_t v = konst(f, mkshape(1, 3), (const float[]){ 1, 0, -1 });
    uint32_t u = konst(f, mkshape(1, 3), (const float[]){ 2, 1, 3 });
    /* matrix @ matrix */
    EXPECT(f, op2(f, OP_MATMUL, A, B), mkshape(2, 2, 2), 58, 64, 139, 154);
    EXPECT(f, op2(f, OP_MATMUL, B, A), mkshape(2, 3, 3),
           39, 54, 69, 49, 68, 87, 59, 82, 105);
    /* vector @ matrix: the vector is a row, and the result is a vector */
    EXPECT(f, op2(f, OP_MATMUL, v, B), mkshape(1, 2), -4, -4);
    /* matrix @ vector: the vector is a column */
    EXPECT(f, op2(f, OP_MATMUL, A, v), mkshape(1, 2), -2, -2);
    EXPECT(f, op2(f, OP_MATMUL, A, u), mkshape(1, 2), 13, 31);
    /* vector @ vector: the dot product, a scalar */
    EXPECT(f, op2(f, OP_MATMUL, v, u), shape_scalar(), -1);
    EXPECT(f, op2(f, OP_MATMUL, u, u), shape_scalar(), 14);
    /* row @ column and column @ row keep their dimensions */
    uint32_t r = konst(f, mkshape(2, 1, 3), (const float[]){ 1, 2, 3 });
    uint32_t c = konst(f, mkshape(2, 3, 1), (const float[]){ 4, 5, 6 });
    EXPECT(f, op2(f, OP_MATMUL, r, c), mkshape(2, 1, 1), 32);
    EXPECT(f, op2(f, OP_MATMUL, c, r), mkshape(2, 3, 3), 4, 8, 12, 5, 10, 15, 6, 12, 18);
    /* identity */
    uint32_t I = konst(f, mkshape(2, 3, 3), (const float[]){ 1, 0, 0, 0, 1, 0, 0, 0, 1 });
    EXPECT(f, op2(f, OP_MATMUL, A, I), mkshape(2, 2, 3), 1, 2, 3, 4, 5, 6);
}

static void test_transpose(void **state)
{
    Fixture *f = *state;
    uint32_t A = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    EXPECT(f, op1(f, OP_TRANSPOSE, A), mkshape(2, 3, 2), 1, 4, 2, 5, 3, 6);
    EXPECT(f, op1(f, OP_TRANSPOSE, op1(f, OP_TRANSPOSE, A)), mkshape(2, 2, 3), 1, 2, 3, 4, 5, 6);
    uint32_t r = konst(f, mkshape(2, 1, 4), (const float[]){ 1, 2, 3, 4 });
    EXPECT(f, op1(f, OP_TRANSPOSE, r), mkshape(2, 4, 1), 1, 2, 3, 4);
    /* a vector or a scalar is its own transpose */
    uint32_t v = konst(f, mkshape(1, 3), (const float[]){ 7, 8, 9 });
    EXPECT(f, op1(f, OP_TRANSPOSE, v), mkshape(1, 3), 7, 8, 9);
    EXPECT(f, op1(f, OP_TRANSPOSE, scalar(f, 5)), shape_scalar(), 5);
}

/* ---- reductions ----------------------------------------------------------------------- */

static void test_reduce_2d(void **state)
{
    Fixture *f = *state;
    uint32_t x = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    EXPECT(f, reduce(f, OP_SUM, x, NN_AXIS_ALL), shape_scalar(), 21);
    EXPECT(f, reduce(f, OP_SUM, x, 0), mkshape(1, 3), 5, 7, 9);
    EXPECT(f, reduce(f, OP_SUM, x, 1), mkshape(1, 2), 6, 15);
    EXPECT(f, reduce(f, OP_SUM, x, -1), mkshape(1, 2), 6, 15);
    EXPECT(f, reduce(f, OP_SUM, x, -2), mkshape(1, 3), 5, 7, 9);
    EXPECT(f, reduce(f, OP_MEAN, x, NN_AXIS_ALL), shape_scalar(), 3.5f);
    EXPECT(f, reduce(f, OP_MEAN, x, 0), mkshape(1, 3), 2.5f, 3.5f, 4.5f);
    EXPECT(f, reduce(f, OP_MEAN, x, 1), mkshape(1, 2), 2, 5);
    EXPECT(f, reduce(f, OP_MEAN, x, -1), mkshape(1, 2), 2, 5);
    /* a negative axis is made positive when the node is built */
    assert_int_equal(graph_node(&f->g, reduce(f, OP_MEAN, x, -1))->attrs.axis, 1);
    /* vectors and scalars */
    uint32_t v = konst(f, mkshape(1, 4), (const float[]){ 1, -2, 3, 0.5f });
    EXPECT(f, reduce(f, OP_SUM, v, 0), shape_scalar(), 2.5f);
    EXPECT(f, reduce(f, OP_MEAN, v, NN_AXIS_ALL), shape_scalar(), 0.625f);
    EXPECT(f, reduce(f, OP_SUM, scalar(f, -7), NN_AXIS_ALL), shape_scalar(), -7);
    EXPECT(f, reduce(f, OP_MEAN, scalar(f, -7), NN_AXIS_ALL), shape_scalar(), -7);
}

static void test_reduce_3d(void **state)
{
    Fixture *f = *state;
    /* x[i][j][k] = 12 i + 4 j + k, for shape [2,3,4] */
    float xv[24];
    for (int i = 0; i < 24; i++) xv[i] = (float)i;
    uint32_t x = konst(f, mkshape(3, 2, 3, 4), xv);
    float s0[12], m0[12], s1[8], m1[8], s2[6], m2[6];
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++) {
            s0[j * 4 + k] = (float)(2 * (4 * j + k) + 12);     /* sum over i of 12 i + 4 j + k */
            m0[j * 4 + k] = (float)(4 * j + k) + 6.0f;
        }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) {
            s1[i * 4 + k] = (float)(36 * i + 12 + 3 * k);      /* sum over j */
            m1[i * 4 + k] = (float)(12 * i + 4 + k);
        }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            s2[i * 3 + j] = (float)(48 * i + 16 * j + 6);      /* sum over k */
            m2[i * 3 + j] = (float)(12 * i + 4 * j) + 1.5f;
        }
    expect_impl(f, reduce(f, OP_SUM, x, 0), mkshape(2, 3, 4), s0, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_MEAN, x, 0), mkshape(2, 3, 4), m0, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_SUM, x, 1), mkshape(2, 2, 4), s1, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_MEAN, x, 1), mkshape(2, 2, 4), m1, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_SUM, x, 2), mkshape(2, 2, 3), s2, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_MEAN, x, 2), mkshape(2, 2, 3), m2, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_SUM, x, -3), mkshape(2, 3, 4), s0, TOL, __FILE__, __LINE__);
    expect_impl(f, reduce(f, OP_MEAN, x, -2), mkshape(2, 2, 4), m1, TOL, __FILE__, __LINE__);
    EXPECT(f, reduce(f, OP_SUM, x, NN_AXIS_ALL), shape_scalar(), 276);
    EXPECT(f, reduce(f, OP_MEAN, x, NN_AXIS_ALL), shape_scalar(), 11.5f);
    /* reducing twice is reducing over both axes */
    EXPECT(f, reduce(f, OP_SUM, reduce(f, OP_SUM, x, 2), 0), mkshape(1, 3), 60, 92, 124);
}

/* ---- constructors ----------------------------------------------------------------------- */

/* A constructor leaf of shape s, pre-filled with garbage, then filled by its forward. */
static GraphNode *construct(Fixture *f, OpKind k, Shape s, float fill)
{
    OpAttrs at = no_attrs();
    at.shape = s;
    at.fill = fill;
    GraphNode *n = graph_node(&f->g, graph_add(&f->g, k, NULL, 0, &at, nowhere()));
    for (size_t i = 0; i < n->size; i++) n->value[i] = 12345.0f;
    op_info(k)->forward(n, NULL, &f->rng);
    return n;
}

static void test_constructors(void **state)
{
    Fixture *f = *state;
    GraphNode *n = construct(f, OP_ZEROS, mkshape(2, 2, 3), 0);
    for (size_t i = 0; i < 6; i++) assert_true(n->value[i] == 0.0f);
    n = construct(f, OP_ONES, mkshape(3, 2, 1, 2), 0);
    assert_int_equal(n->size, 4);
    for (size_t i = 0; i < 4; i++) assert_true(n->value[i] == 1.0f);
    n = construct(f, OP_ONES, shape_scalar(), 0);
    assert_true(n->value[0] == 1.0f);
    n = construct(f, OP_FULL, mkshape(2, 2, 2), -1.5f);
    for (size_t i = 0; i < 4; i++) assert_true(n->value[i] == -1.5f);
    n = construct(f, OP_EYE, mkshape(2, 3, 3), 0);
    const float eye3[] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    assert_memory_equal(n->value, eye3, sizeof eye3);
    n = construct(f, OP_EYE, mkshape(2, 1, 1), 0);
    assert_true(n->value[0] == 1.0f);
    /* a forward pass never recomputes a constructor: it is a leaf */
    n->value[0] = 3;
    assert_true(eval(f, n->id)->value[0] == 3.0f);
}

static void test_random_constructors(void **state)
{
    Fixture *f = *state;
    Rng ref;
    rng_seed(&f->rng, 99);
    rng_seed(&ref, 99);
    GraphNode *n = construct(f, OP_RAND, mkshape(2, 10, 100), 0);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < n->size; i++) {
        assert_true(n->value[i] == rng_uniform(&ref));  /* the session's stream, in order */
        assert_true(n->value[i] >= 0.0f && n->value[i] < 1.0f);
        if (n->value[i] < lo) lo = n->value[i];
        if (n->value[i] > hi) hi = n->value[i];
    }
    assert_true(lo < 0.01f && hi > 0.99f);

    /* randn draws standard normals from the same stream; an odd count leaves a spare that
     * the next draw uses */
    n = construct(f, OP_RANDN, mkshape(1, 3), 0);
    for (size_t i = 0; i < 3; i++) assert_true(n->value[i] == rng_normal(&ref));
    n = construct(f, OP_RANDN, mkshape(2, 50, 40), 0);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n->size; i++) {
        assert_true(n->value[i] == rng_normal(&ref));
        sum += n->value[i];
        sq += (double)n->value[i] * n->value[i];
    }
    assert_close(sum / 2000, 0.0, 0.1);
    assert_close(sq / 2000, 1.0, 0.15);

    /* the same seed gives the same tensor */
    rng_seed(&f->rng, 5);
    GraphNode *a = construct(f, OP_RANDN, mkshape(1, 7), 0);
    rng_seed(&f->rng, 5);
    GraphNode *b = construct(f, OP_RANDN, mkshape(1, 7), 0);
    a = graph_node(&f->g, a->id);   /* graph_add may have moved the nodes */
    assert_memory_equal(a->value, b->value, 7 * sizeof(float));
}

/* p.grad is a copy of the param's gradient taken by the forward pass, so a later change to
 * the gradient does not change a value already computed from it. */
static void test_grad(void **state)
{
    Fixture *f = *state;
    OpAttrs at = no_attrs();
    at.shape = mkshape(1, 3);
    uint32_t p = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    float g[3] = { 1, -2, 0.5f };
    memcpy(graph_node(&f->g, p)->grad, g, sizeof g);
    uint32_t id = op1(f, OP_GRAD, p);
    GraphNode *n = eval(f, id);
    assert_false(n->requires_grad);
    assert_ptr_not_equal(n->value, graph_node(&f->g, p)->grad);
    assert_memory_equal(n->value, g, sizeof g);
    graph_node(&f->g, p)->grad[0] = 7;
    assert_float_equal(graph_node(&f->g, id)->value[0], 1.0f, 0);
}

/* ---- along one axis: softmax, log_softmax, argmax ---------------------------------------- */

static void test_softmax(void **state)
{
    Fixture *f = *state;
    /* softmax([1, 2, 3]) = e^(0,1,2) / (1 + e + e^2); a constant row is uniform */
    uint32_t x = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 1, 1, 1 });
    const float rows[] = { 0.09003057f, 0.24472847f, 0.66524096f, 1.0f / 3, 1.0f / 3, 1.0f / 3 };
    expect_impl(f, reduce(f, OP_SOFTMAX, x, 1), mkshape(2, 2, 3), rows, TOL, __FILE__, __LINE__);
    /* the default axis (-1, or NN_AXIS_ALL as no_attrs leaves it) is the last, made positive */
    uint32_t d1 = reduce(f, OP_SOFTMAX, x, -1), d2 = reduce(f, OP_SOFTMAX, x, NN_AXIS_ALL);
    expect_impl(f, d1, mkshape(2, 2, 3), rows, TOL, __FILE__, __LINE__);
    expect_impl(f, d2, mkshape(2, 2, 3), rows, TOL, __FILE__, __LINE__);
    assert_int_equal(graph_node(&f->g, d1)->attrs.axis, 1);
    assert_int_equal(graph_node(&f->g, d2)->attrs.axis, 1);
    /* along axis 0 each column is normalised: (1, 1) -> 1/2 each, (2, 1) -> sigmoid(±1),
     * (3, 1) -> sigmoid(±2) */
    EXPECT(f, reduce(f, OP_SOFTMAX, x, 0), mkshape(2, 2, 3),
           0.5f, 0.73105858f, 0.88079708f, 0.5f, 0.26894142f, 0.11920292f);
    EXPECT(f, reduce(f, OP_SOFTMAX, x, -2), mkshape(2, 2, 3),
           0.5f, 0.73105858f, 0.88079708f, 0.5f, 0.26894142f, 0.11920292f);
    /* the middle axis of [2,2,2]: pairs (x[i,0,k], x[i,1,k]) */
    uint32_t c = konst(f, mkshape(3, 2, 2, 2), (const float[]){ 0, 1, 2, 5, 1, 1, 0, -1 });
    EXPECT(f, reduce(f, OP_SOFTMAX, c, 1), mkshape(3, 2, 2, 2),
           0.11920292f, 0.01798621f, 0.88079708f, 0.98201379f,
           0.73105858f, 0.88079708f, 0.26894142f, 0.11920292f);
    /* max subtraction: huge logits neither overflow nor give NaN */
    uint32_t big = konst(f, mkshape(1, 3), (const float[]){ 1001, 1002, 1003 });
    EXPECT(f, reduce(f, OP_SOFTMAX, big, 0), mkshape(1, 3), 0.09003057f, 0.24472847f,
           0.66524096f);
    uint32_t wide = konst(f, mkshape(1, 2), (const float[]){ -1000, 1000 });
    EXPECT(f, reduce(f, OP_SOFTMAX, wide, 0), mkshape(1, 2), 0, 1);
    /* one element: always 1 */
    EXPECT(f, reduce(f, OP_SOFTMAX, konst(f, mkshape(1, 1), (const float[]){ -7 }), -1),
           mkshape(1, 1), 1);
}

static void test_log_softmax(void **state)
{
    Fixture *f = *state;
    /* log_softmax(x) = x - log sum exp x: [1, 2, 3] -> x - 3.4076059 */
    uint32_t x = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 1, 1, 1 });
    EXPECT(f, reduce(f, OP_LOG_SOFTMAX, x, -1), mkshape(2, 2, 3),
           -2.4076059f, -1.4076059f, -0.40760596f, -1.0986123f, -1.0986123f, -1.0986123f);
    /* axis 0: log sigmoid(0) = -log 2, log sigmoid(±1), log sigmoid(±2) */
    EXPECT(f, reduce(f, OP_LOG_SOFTMAX, x, 0), mkshape(2, 2, 3),
           -0.69314718f, -0.31326169f, -0.12692801f, -0.69314718f, -1.3132617f, -2.1269280f);
    /* stable where log(softmax) would be log 0 = -inf */
    uint32_t wide = konst(f, mkshape(1, 2), (const float[]){ -1000, 1000 });
    EXPECT(f, reduce(f, OP_LOG_SOFTMAX, wide, 0), mkshape(1, 2), -2000, 0);
    /* exp(log_softmax) is softmax */
    uint32_t c = konst(f, mkshape(3, 2, 2, 2), (const float[]){ 0, 1, 2, 5, 1, 1, 0, -1 });
    EXPECT(f, op1(f, OP_EXP, reduce(f, OP_LOG_SOFTMAX, c, 1)), mkshape(3, 2, 2, 2),
           0.11920292f, 0.01798621f, 0.88079708f, 0.98201379f,
           0.73105858f, 0.88079708f, 0.26894142f, 0.11920292f);
}

static void test_argmax(void **state)
{
    Fixture *f = *state;
    /* ties: the first maximum wins */
    uint32_t x = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 3, 3, 5, 2, 5 });
    EXPECT(f, reduce(f, OP_ARGMAX, x, 1), mkshape(1, 2), 1, 0);
    EXPECT(f, reduce(f, OP_ARGMAX, x, NN_AXIS_ALL), mkshape(1, 2), 1, 0);
    EXPECT(f, reduce(f, OP_ARGMAX, x, 0), mkshape(1, 3), 1, 0, 1);
    uint32_t v = konst(f, mkshape(1, 4), (const float[]){ -1, -0.5f, -0.5f, -2 });
    EXPECT(f, reduce(f, OP_ARGMAX, v, -1), shape_scalar(), 1);
    uint32_t c = konst(f, mkshape(3, 2, 2, 2), (const float[]){ 0, 1, 2, 5, 1, 1, 0, -1 });
    EXPECT(f, reduce(f, OP_ARGMAX, c, 1), mkshape(2, 2, 2), 1, 1, 0, 0);
    /* a NaN counts as the largest, as torch.argmax: it is not hidden */
    uint32_t nan = konst(f, mkshape(1, 3), (const float[]){ 1, NAN, 5 });
    EXPECT(f, reduce(f, OP_ARGMAX, nan, 0), shape_scalar(), 1);
    /* no gradient flows through an index, even from a param */
    OpAttrs at = no_attrs();
    at.shape = mkshape(1, 3);
    uint32_t p = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    assert_false(graph_node(&f->g, reduce(f, OP_ARGMAX, p, 0))->requires_grad);
}

/* ---- dropout ----------------------------------------------------------------------------- */

static uint32_t dropout(Fixture *f, uint32_t x, float p)
{
    OpAttrs at = no_attrs();
    at.p = p;
    return graph_add(&f->g, OP_DROPOUT, &x, 1, &at, nowhere());
}

static void test_dropout(void **state)
{
    Fixture *f = *state;
    enum { N = 20000 };
    OpAttrs at = no_attrs();
    at.shape = mkshape(2, 100, 200);
    uint32_t w = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    for (size_t i = 0; i < N; i++) graph_node(&f->g, w)->value[i] = 1.0f + (float)(i % 7);
    uint32_t d = dropout(f, w, 0.3f);
    GraphNode *n = graph_node(&f->g, d);
    assert_non_null(n->aux);
    assert_int_equal(n->aux_size, N);
    assert_true(n->requires_grad);

    /* about p of the elements are dropped (binomial sd sqrt(p(1-p)/N) = 0.0032), the rest are
     * scaled by 1 / (1 - p); the mask is kept in aux */
    n = eval(f, d);
    const float *x = graph_node(&f->g, w)->value;
    size_t dropped = 0;
    for (size_t i = 0; i < N; i++) {
        if (n->value[i] == 0.0f) {
            dropped++;
            assert_true(n->aux[i] == 0.0f);
        } else {
            assert_close(n->value[i], x[i] / 0.7, 1e-6);
            assert_close(n->aux[i], 1 / 0.7, 1e-6);
        }
    }
    assert_close((double)dropped / N, 0.3, 0.015);
    float *first = nn_alloc(N * sizeof *first);
    memcpy(first, n->aux, N * sizeof *first);

    /* backward multiplies by that same mask: L = sum(dropout(w)) gives dL/dw = mask; seeded
     * with 2, twice the mask */
    uint32_t L = reduce(f, OP_SUM, d, NN_AXIS_ALL);
    Plan p = graph_plan(&f->g, &L, 1, &f->arena);
    graph_forward(&f->g, &p, &f->rng, NULL, NULL);
    n = graph_node(&f->g, d);
    float *mask = nn_alloc(N * sizeof *mask);
    memcpy(mask, n->aux, N * sizeof *mask);
    graph_backward_seeded(&f->g, &p, L, 2.0f, NULL, NULL);
    const float *gw = graph_node(&f->g, w)->grad;
    for (size_t i = 0; i < N; i++) assert_true(gw[i] == 2.0f * mask[i]);

    /* every forward pass draws a fresh mask */
    size_t same = 0;
    for (size_t i = 0; i < N; i++) same += (mask[i] == 0.0f) == (first[i] == 0.0f);
    assert_true(same < N - 1000);
    nn_free(mask);
    nn_free(first);

    /* p = 0 is the identity and draws nothing; p = 1 drops everything */
    Rng before = f->rng;
    uint32_t v = konst(f, mkshape(1, 4), (const float[]){ 1, -2, 3.5f, 0 });
    EXPECT(f, dropout(f, v, 0), mkshape(1, 4), 1, -2, 3.5f, 0);
    assert_true(before.state == f->rng.state && before.has_spare == f->rng.has_spare);
    EXPECT(f, dropout(f, v, 1), mkshape(1, 4), 0, 0, 0, 0);
    /* p = 0.5 on a scalar: 0 or doubled */
    GraphNode *s = eval(f, dropout(f, scalar(f, 3), 0.5f));
    assert_true(s->value[0] == 0.0f || s->value[0] == 6.0f);
}

/* ---- losses --------------------------------------------------------------------------------- */

static void test_mse_l1(void **state)
{
    Fixture *f = *state;
    /* differences 0, 2, 0, -3 */
    uint32_t p = konst(f, mkshape(1, 4), (const float[]){ 1, 2, 3, 4 });
    uint32_t t = konst(f, mkshape(1, 4), (const float[]){ 1, 0, 3, 7 });
    EXPECT(f, op2(f, OP_MSE, p, t), shape_scalar(), 13.0f / 4);
    EXPECT(f, op2(f, OP_L1, p, t), shape_scalar(), 5.0f / 4);
    EXPECT(f, op2(f, OP_MSE, p, p), shape_scalar(), 0);
    /* matrices: the mean over every element */
    uint32_t a = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    uint32_t b = konst(f, mkshape(2, 2, 3), (const float[]){ 0, 2, 5, 4, 4, 6 });
    EXPECT(f, op2(f, OP_MSE, a, b), shape_scalar(), 1.0f);       /* (1 + 4 + 1) / 6 */
    EXPECT(f, op2(f, OP_L1, a, b), shape_scalar(), 4.0f / 6);    /* (1 + 2 + 1) / 6 */
    EXPECT(f, op2(f, OP_MSE, scalar(f, 0.5f), scalar(f, 2)), shape_scalar(), 2.25f);
    EXPECT(f, op2(f, OP_L1, scalar(f, 0.5f), scalar(f, 2)), shape_scalar(), 1.5f);
    /* the scalar derivatives traces use: d/dp = 2 (p - t), d/dt = -2 (p - t); sign for l1 */
    const OpAttrs at = no_attrs();
    assert_close(op_info(OP_MSE)->deriv(0, 0.5, 2, 2.25, &at), -3, TOL);
    assert_close(op_info(OP_MSE)->deriv(1, 0.5, 2, 2.25, &at), 3, TOL);
    assert_close(op_info(OP_L1)->deriv(0, 0.5, 2, 1.5, &at), -1, TOL);
    assert_close(op_info(OP_L1)->deriv(1, 0.5, 2, 1.5, &at), 1, TOL);
}

static void test_bce(void **state)
{
    Fixture *f = *state;
    /* -(log 0.9 + log 0.8 + log 0.5) / 3 */
    uint32_t p = konst(f, mkshape(1, 3), (const float[]){ 0.9f, 0.2f, 0.5f });
    uint32_t t = konst(f, mkshape(1, 3), (const float[]){ 1, 0, 1 });
    EXPECT(f, op2(f, OP_BCE, p, t), shape_scalar(), 0.34055042f);
    /* soft targets: t = 0.5 at p = 0.5 is log 2 */
    EXPECT(f, op2(f, OP_BCE, scalar(f, 0.5f), scalar(f, 0.5f)), shape_scalar(), 0.69314718f);
    /* p = 0 or 1: each log is clamped at -100, as PyTorch, so the loss stays finite */
    uint32_t edge = konst(f, mkshape(1, 4), (const float[]){ 0, 1, 0, 1 });
    uint32_t right = konst(f, mkshape(1, 4), (const float[]){ 0, 1, 1, 0 });
    EXPECT(f, op2(f, OP_BCE, edge, right), shape_scalar(), 50);   /* (0 + 0 + 100 + 100) / 4 */
    EXPECT(f, op2(f, OP_BCE, scalar(f, 0), scalar(f, 1)), shape_scalar(), 100);
    /* and so is its gradient */
    const OpAttrs at = no_attrs();
    assert_true(isfinite(op_info(OP_BCE)->deriv(0, 0, 1, 100, &at)));
    assert_close(op_info(OP_BCE)->deriv(1, 0, 1, 100, &at), 100, TOL);
    /* d/dp = (p - t) / (p (1 - p)), d/dt = log(1 - p) - log p */
    assert_close(op_info(OP_BCE)->deriv(0, 0.2, 1, 0, &at), -5, TOL);
    assert_close(op_info(OP_BCE)->deriv(1, 0.2, 1, 0, &at), log(0.8 / 0.2), TOL);
    /* a probability outside [0, 1] is NaN, not a silently clamped number */
    GraphNode *n = eval(f, op2(f, OP_BCE, scalar(f, 1.5f), scalar(f, 1)));
    assert_true(isnan(n->value[0]));
    n = eval(f, op2(f, OP_BCE, scalar(f, -0.5f), scalar(f, 0)));
    assert_true(isnan(n->value[0]));
}

static void test_bce_logits(void **state)
{
    Fixture *f = *state;
    /* max(x, 0) - x t + log(1 + exp(-|x|)) per element, by hand: log 2, 2 + log(1 + e^-2),
     * 1.5 + log(1 + e^-3), about 2e-9 twice; the mean is 0.87373251 */
    const float xs[] = { 0, 2, -3, 20, -20 }, ts[] = { 1, 0, 0.5f, 1, 0 };
    uint32_t x = konst(f, mkshape(1, 5), xs), t = konst(f, mkshape(1, 5), ts);
    EXPECT(f, op2(f, OP_BCE_LOGITS, x, t), shape_scalar(), 0.87373251f);
    /* the same as bce on sigmoid(x) */
    GraphNode *a = eval(f, op2(f, OP_BCE_LOGITS, x, t));
    float av = a->value[0];
    GraphNode *b = eval(f, op2(f, OP_BCE, op1(f, OP_SIGMOID, x), t));
    assert_close(av, b->value[0], 1e-5);
    uint32_t m = konst(f, mkshape(2, 2, 2), (const float[]){ 0.3f, -1.2f, 4, -0.1f });
    uint32_t mt = konst(f, mkshape(2, 2, 2), (const float[]){ 1, 0, 0.25f, 1 });
    av = eval(f, op2(f, OP_BCE_LOGITS, m, mt))->value[0];
    assert_close(av, eval(f, op2(f, OP_BCE, op1(f, OP_SIGMOID, m), mt))->value[0], 1e-5);
    /* stable far out, where bce on sigmoid saturates at its clamp of 100 */
    EXPECT(f, op2(f, OP_BCE_LOGITS, scalar(f, 1000), scalar(f, 0)), shape_scalar(), 1000);
    EXPECT(f, op2(f, OP_BCE_LOGITS, scalar(f, -1000), scalar(f, 1)), shape_scalar(), 1000);
    EXPECT(f, op2(f, OP_BCE_LOGITS, scalar(f, 1000), scalar(f, 1)), shape_scalar(), 0);
    /* d/dx = sigmoid(x) - t, d/dt = -x */
    const OpAttrs at = no_attrs();
    assert_close(op_info(OP_BCE_LOGITS)->deriv(0, 0, 1, 0, &at), -0.5, TOL);
    assert_close(op_info(OP_BCE_LOGITS)->deriv(1, 2, 1, 0, &at), -2, TOL);
}

static void test_cross_entropy(void **state)
{
    Fixture *f = *state;
    /* log_softmax([1, 2, 3]) = [-2.4076, -1.4076, -0.4076], of [1, 1, 1] -log 3 each:
     * classes 2 and 0 give (0.4076060 + 1.0986123) / 2 */
    uint32_t x = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 1, 1, 1 });
    uint32_t onehot = konst(f, mkshape(2, 2, 3), (const float[]){ 0, 0, 1, 1, 0, 0 });
    uint32_t index = konst(f, mkshape(1, 2), (const float[]){ 2, 0 });
    uint32_t ce1 = op2(f, OP_CROSS_ENTROPY, x, onehot), ce2 = op2(f, OP_CROSS_ENTROPY, x, index);
    EXPECT(f, ce1, shape_scalar(), 0.75310913f);
    EXPECT(f, ce2, shape_scalar(), 0.75310913f);
    assert_true(eval(f, ce1)->value[0] == eval(f, ce2)->value[0]);
    /* aux keeps log_softmax for backward */
    GraphNode *n = graph_node(&f->g, ce2);
    assert_int_equal(n->aux_size, 6);
    assert_close(n->aux[0], -2.4076059, TOL);
    assert_close(n->aux[5], -1.0986123, TOL);
    /* probability targets: -sum t log_softmax, here 0.25 2.4076 + 0.25 1.4076 + 0.5 0.4076 */
    uint32_t v = konst(f, mkshape(1, 3), (const float[]){ 1, 2, 3 });
    uint32_t soft = konst(f, mkshape(1, 3), (const float[]){ 0.25f, 0.25f, 0.5f });
    EXPECT(f, op2(f, OP_CROSS_ENTROPY, v, soft), shape_scalar(), 1.1576060f);
    /* one example [C] with a scalar class index */
    EXPECT(f, op2(f, OP_CROSS_ENTROPY, v, scalar(f, 0)), shape_scalar(), 2.4076059f);
    EXPECT(f, op2(f, OP_CROSS_ENTROPY, v, scalar(f, 2)), shape_scalar(), 0.40760596f);
    /* stable: huge logits are fine */
    uint32_t big = konst(f, mkshape(1, 2), (const float[]){ 1000, 0 });
    EXPECT(f, op2(f, OP_CROSS_ENTROPY, big, scalar(f, 1)), shape_scalar(), 1000);
    EXPECT(f, op2(f, OP_CROSS_ENTROPY, big, scalar(f, 0)), shape_scalar(), 0);
    /* an index that is not an integer in 0..C-1 gives NaN, which the runtime reports */
    const float bad[] = { 1.5f, 3, -1, NAN };
    for (size_t i = 0; i < NN_ARRAY_LEN(bad); i++) {
        n = eval(f, op2(f, OP_CROSS_ENTROPY, v, scalar(f, bad[i])));
        assert_true(isnan(n->value[0]));
        uint32_t rows = konst(f, mkshape(1, 2), (const float[]){ 0, bad[i] });
        n = eval(f, op2(f, OP_CROSS_ENTROPY, x, rows));
        assert_true(isnan(n->value[0]));
    }
}

static void test_accuracy(void **state)
{
    Fixture *f = *state;
    /* probabilities: right when (p >= 0.5) == (t >= 0.5): yes, yes, no, no */
    uint32_t p = konst(f, mkshape(1, 4), (const float[]){ 0.9f, 0.2f, 0.5f, 0.4f });
    uint32_t t = konst(f, mkshape(1, 4), (const float[]){ 1, 0, 0, 1 });
    EXPECT(f, op2(f, OP_ACCURACY, p, t), shape_scalar(), 0.5f);
    uint32_t pc = konst(f, mkshape(2, 4, 1), (const float[]){ 0.9f, 0.2f, 0.5f, 0.4f });
    uint32_t tc = konst(f, mkshape(2, 4, 1), (const float[]){ 1, 0, 1, 0 });
    EXPECT(f, op2(f, OP_ACCURACY, pc, tc), shape_scalar(), 1);
    /* classes: argmax of each row (the first of a tie) against the one-hot argmax or index */
    uint32_t s = konst(f, mkshape(2, 3, 3),
                       (const float[]){ 0.1f, 0.7f, 0.2f, 0.5f, 0.5f, 0, 0, 0.2f, 0.9f });
    uint32_t oh = konst(f, mkshape(2, 3, 3), (const float[]){ 0, 1, 0, 0, 1, 0, 0, 0, 1 });
    EXPECT(f, op2(f, OP_ACCURACY, s, oh), shape_scalar(), 2.0f / 3);
    EXPECT(f, op2(f, OP_ACCURACY, s, konst(f, mkshape(1, 3), (const float[]){ 1, 1, 2 })),
           shape_scalar(), 2.0f / 3);
    EXPECT(f, op2(f, OP_ACCURACY, s, konst(f, mkshape(1, 3), (const float[]){ 1, 0, 2 })),
           shape_scalar(), 1);
    EXPECT(f, op2(f, OP_ACCURACY, s, konst(f, mkshape(1, 3), (const float[]){ 0, 2, 1 })),
           shape_scalar(), 0);
    /* a bad index or a NaN prediction gives NaN; and no gradient ever */
    GraphNode *n = eval(f, op2(f, OP_ACCURACY, s,
                               konst(f, mkshape(1, 3), (const float[]){ 1, 3, 2 })));
    assert_true(isnan(n->value[0]));
    n = eval(f, op2(f, OP_ACCURACY, konst(f, mkshape(1, 2), (const float[]){ NAN, 1 }),
                    konst(f, mkshape(1, 2), (const float[]){ 1, 1 })));
    assert_true(isnan(n->value[0]));
    OpAttrs at = no_attrs();
    at.shape = mkshape(1, 4);
    uint32_t w = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    assert_false(graph_node(&f->g, op2(f, OP_ACCURACY, w, t))->requires_grad);
}

/* graph_backward_seeded: the root's gradient starts at the seed, so every gradient scales by
 * it, and params accumulate across calls (gradient accumulation over weighted batches). */
static void test_backward_seeded(void **state)
{
    Fixture *f = *state;
    OpAttrs at = no_attrs();
    at.shape = mkshape(1, 2);
    uint32_t w = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    memcpy(graph_node(&f->g, w)->value, (const float[]){ 1, 3 }, 2 * sizeof(float));
    uint32_t t = konst(f, mkshape(1, 2), (const float[]){ 0, 1 });
    uint32_t L = op2(f, OP_MSE, w, t);     /* dL/dw = (w - t) = [1, 2] */
    Plan p = graph_plan(&f->g, &L, 1, &f->arena);
    graph_forward(&f->g, &p, &f->rng, NULL, NULL);
    graph_backward(&f->g, &p, L, NULL, NULL);
    const float *g = graph_node(&f->g, w)->grad;
    assert_close(g[0], 1, TOL);
    assert_close(g[1], 2, TOL);
    graph_backward_seeded(&f->g, &p, L, 0.25f, NULL, NULL);
    assert_close(g[0], 1.25, TOL);
    assert_close(g[1], 2.5, TOL);
    assert_close(graph_node(&f->g, L)->grad[0], 0.25, TOL);
    graph_backward_seeded(&f->g, &p, L, 0, NULL, NULL);
    assert_close(g[0], 1.25, TOL);
}

/* The gradient of a broadcast input is summed in double and added once: a bias over 100,000
 * rows gets exactly the float nearest the true sum, where float32 summation one row at a time
 * drifts (1.00099 for the mean below, 2^-27-sized crumbs for a sum that is exactly 0). */
static void test_broadcast_grad_in_double(void **state)
{
    Fixture *f = *state;
    enum { N = 100000 };
    float *x = test_malloc(N * sizeof *x), *g = test_malloc(N * sizeof *g);
    for (int i = 0; i < N; i++) {
        x[i] = 0.1f;
        g[i] = i % 100 < 50 ? 0.1f : -0.1f;    /* sums to 0 exactly */
    }
    OpAttrs at = no_attrs();
    at.shape = mkshape(1, 1);
    uint32_t b = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    uint32_t X = konst(f, mkshape(2, N, 1), x);
    uint32_t y = op2(f, OP_ADD, X, b);
    /* mean(x + b): each row passes 1/N, and the N shares make 1 */
    uint32_t L = reduce(f, OP_MEAN, y, NN_AXIS_ALL);
    Plan p = graph_plan(&f->g, &L, 1, &f->arena);
    graph_forward(&f->g, &p, &f->rng, NULL, NULL);
    graph_backward(&f->g, &p, L, NULL, NULL);
    assert_true(graph_node(&f->g, b)->grad[0] == 1.0f);
    /* sum((x + b) × g) with Σ g = 0: b's gradient is 0, exactly; the same for b on the left
     * and for a broadcast that is not a leading repeat (the strided walk) */
    const uint32_t ys[] = { y, op2(f, OP_ADD, b, X) };
    for (size_t k = 0; k < NN_ARRAY_LEN(ys); k++) {
        graph_node(&f->g, b)->grad[0] = 0;
        uint32_t L0 = reduce(f, OP_SUM, op2(f, OP_MUL, ys[k], konst(f, mkshape(2, N, 1), g)),
                             NN_AXIS_ALL);
        Plan p0 = graph_plan(&f->g, &L0, 1, &f->arena);
        graph_forward(&f->g, &p0, &f->rng, NULL, NULL);
        graph_backward(&f->g, &p0, L0, NULL, NULL);
        assert_true(graph_node(&f->g, b)->grad[0] == 0.0f);
    }
    at.shape = mkshape(2, 1, 2);
    uint32_t c = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    uint32_t Xc = konst(f, mkshape(2, N / 2, 1), x);
    uint32_t Gc = konst(f, mkshape(2, N / 2, 2), g);
    uint32_t Lc = reduce(f, OP_SUM, op2(f, OP_MUL, op2(f, OP_SUB, Xc, c), Gc), NN_AXIS_ALL);
    Plan pc = graph_plan(&f->g, &Lc, 1, &f->arena);
    graph_forward(&f->g, &pc, &f->rng, NULL, NULL);
    graph_backward(&f->g, &pc, Lc, NULL, NULL);
    assert_true(graph_node(&f->g, c)->grad[0] == 0.0f && graph_node(&f->g, c)->grad[1] == 0.0f);
    test_free(x);
    test_free(g);
}

/* Nodes of OPF_AUX ops own scratch as large as input 0; others have none; truncating the
 * graph frees it (the sanitizer build checks for leaks). */
static void test_aux(void **state)
{
    Fixture *f = *state;
    uint32_t x = konst(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 4, 5, 6 });
    uint32_t keep = f->g.count;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!(op->flags & OPF_AUX)) continue;
        assert_true(op->arity >= 1);
        assert_false(op->flags & OPF_LEAF);
    }
    GraphNode *n = graph_node(&f->g, dropout(f, x, 0.5f));
    assert_non_null(n->aux);
    assert_int_equal(n->aux_size, 6);
    n = graph_node(&f->g, op2(f, OP_CROSS_ENTROPY, x, konst(f, mkshape(1, 2),
                                                           (const float[]){ 0, 1 })));
    assert_int_equal(n->aux_size, 6);
    n = graph_node(&f->g, op1(f, OP_EXP, x));
    assert_null(n->aux);
    assert_int_equal(n->aux_size, 0);
    graph_truncate(&f->g, keep);
    assert_int_equal(f->g.count, keep);
}

/* ---- initialisers ------------------------------------------------------------------------- */

typedef struct Moments {
    double mean, var, lo, hi;
} Moments;

static Moments moments(const GraphNode *n)
{
    Moments m = { 0, 0, INFINITY, -INFINITY };
    for (size_t i = 0; i < n->size; i++) {
        m.mean += n->value[i];
        m.lo = fmin(m.lo, n->value[i]);
        m.hi = fmax(m.hi, n->value[i]);
    }
    m.mean /= (double)n->size;
    for (size_t i = 0; i < n->size; i++) m.var += pow(n->value[i] - m.mean, 2);
    m.var /= (double)n->size;
    return m;
}

static void test_initialisers(void **state)
{
    Fixture *f = *state;
    Rng ref;
    rng_seed(&f->rng, 3);
    rng_seed(&ref, 3);

    /* xavier(in, out): U(-a, a), a = sqrt(6 / (in + out)); variance a^2 / 3 = 2 / (in + out);
     * drawn from the session's stream in order */
    GraphNode *n = construct(f, OP_XAVIER, mkshape(2, 30, 20), 0);
    double a = sqrt(6.0 / 50);
    for (size_t i = 0; i < n->size; i++) {
        assert_close(n->value[i], a * (2.0 * rng_uniform(&ref) - 1.0), 1e-6);
        assert_true(fabs(n->value[i]) <= a);
    }
    Moments m = moments(n);
    assert_true(m.lo < -0.95 * a && m.hi > 0.95 * a);
    assert_close(m.mean, 0, 0.02);
    assert_close(m.var, 2.0 / 50, 0.004);

    /* he(in, out): N(0, 2 / in), whatever out is */
    n = construct(f, OP_HE, mkshape(2, 200, 50), 0);
    m = moments(n);
    assert_close(m.mean, 0, 0.005);
    assert_close(m.var / (2.0 / 200), 1.0, 0.05);
    assert_true(m.hi > 3 * sqrt(2.0 / 200));     /* normal tails, not a bounded range */

    /* init_uniform: U(-1/sqrt(in), 1/sqrt(in)), torch.nn.Linear's default */
    n = construct(f, OP_INIT_UNIFORM, mkshape(2, 16, 256), 0);
    m = moments(n);
    assert_true(m.lo >= -0.25 && m.hi <= 0.25);
    assert_true(m.lo < -0.24 && m.hi > 0.24);
    assert_close(m.var / (0.0625 / 3), 1.0, 0.05);
    /* for a vector, in is its length */
    n = construct(f, OP_INIT_UNIFORM, mkshape(1, 9), 0);
    for (size_t i = 0; i < n->size; i++) assert_true(fabs(n->value[i]) <= 1.0 / 3);

    /* init_normal: LeCun normal, N(0, 1 / in) */
    n = construct(f, OP_INIT_NORMAL, mkshape(2, 25, 400), 0);
    m = moments(n);
    assert_close(m.mean, 0, 0.005);
    assert_close(m.var / 0.04, 1.0, 0.05);

    /* leaves: a forward pass never redraws them */
    n->value[0] = 42;
    assert_true(eval(f, n->id)->value[0] == 42.0f);
}

/* ---- shape rules of the new ops ------------------------------------------------------------ */

static bool shape_of(OpKind k, Shape a, Shape b, OpAttrs *at, Shape *out, StrBuf *err)
{
    Shape in[2] = { a, b };
    sb_clear(err);
    return op_info(k)->shape(op_info(k), in, at, out, err);
}

static void test_new_shape_rules(void **state)
{
    (void)state;
    StrBuf err;
    sb_init(&err);
    Shape out;
    OpAttrs at = no_attrs();
    const Shape S = shape_scalar();

    /* losses: same shapes, scalar result */
    assert_true(shape_of(OP_MSE, mkshape(2, 4, 1), mkshape(2, 4, 1), &at, &out, &err));
    assert_int_equal(out.rank, 0);
    const OpKind same[] = { OP_MSE, OP_L1, OP_BCE, OP_BCE_LOGITS };
    for (size_t i = 0; i < NN_ARRAY_LEN(same); i++) {
        assert_false(shape_of(same[i], mkshape(2, 4, 1), mkshape(1, 4), &at, &out, &err));
        assert_string_equal(err.data, "prediction is [4,1] but target is [4]: a loss needs "
                                      "them the same shape");
    }

    /* cross_entropy */
    assert_true(shape_of(OP_CROSS_ENTROPY, mkshape(2, 4, 3), mkshape(2, 4, 3), &at, &out, &err));
    assert_true(shape_of(OP_CROSS_ENTROPY, mkshape(2, 4, 3), mkshape(1, 4), &at, &out, &err));
    assert_true(shape_of(OP_CROSS_ENTROPY, mkshape(1, 3), mkshape(1, 3), &at, &out, &err));
    assert_true(shape_of(OP_CROSS_ENTROPY, mkshape(1, 3), S, &at, &out, &err));
    assert_int_equal(out.rank, 0);
    assert_false(shape_of(OP_CROSS_ENTROPY, mkshape(2, 4, 3), mkshape(1, 3), &at, &out, &err));
    assert_string_equal(err.data, "logits are [4,3], so the target must be [4,3] (probabilities) "
                                  "or [4] (class indices), but it is [3]");
    assert_false(shape_of(OP_CROSS_ENTROPY, mkshape(1, 3), mkshape(1, 1), &at, &out, &err));
    assert_string_equal(err.data, "logits are [3], so the target must be [3] (probabilities) or "
                                  "a scalar (a class index), but it is [1]");
    assert_false(shape_of(OP_CROSS_ENTROPY, S, S, &at, &out, &err));
    assert_string_equal(err.data, "'cross_entropy' needs logits [N,C] (a row per example) or [C], "
                                  "but they are []");
    assert_false(shape_of(OP_CROSS_ENTROPY, mkshape(3, 2, 3, 4), mkshape(2, 2, 3), &at, &out,
                          &err));
    assert_non_null(strstr(err.data, "[2,3,4]"));

    /* accuracy */
    assert_true(shape_of(OP_ACCURACY, mkshape(2, 4, 3), mkshape(2, 4, 3), &at, &out, &err));
    assert_true(shape_of(OP_ACCURACY, mkshape(2, 4, 3), mkshape(1, 4), &at, &out, &err));
    assert_true(shape_of(OP_ACCURACY, mkshape(2, 4, 1), mkshape(2, 4, 1), &at, &out, &err));
    assert_true(shape_of(OP_ACCURACY, mkshape(1, 4), mkshape(1, 4), &at, &out, &err));
    assert_false(shape_of(OP_ACCURACY, mkshape(2, 4, 3), mkshape(1, 3), &at, &out, &err));
    assert_string_equal(err.data, "predictions are [4,3], so the target must be [4,3] (one-hot) "
                                  "or [4] (class indices), but it is [3]");
    assert_false(shape_of(OP_ACCURACY, mkshape(2, 4, 1), mkshape(1, 4), &at, &out, &err));
    assert_string_equal(err.data, "predictions are [4,1] (probabilities), so the target must be "
                                  "[4,1] too, but it is [4]");
    assert_false(shape_of(OP_ACCURACY, S, S, &at, &out, &err));
    assert_non_null(strstr(err.data, "but they are []"));

    /* along an axis: the default is the last; a scalar has none */
    at.axis = -1;
    assert_true(shape_of(OP_SOFTMAX, mkshape(2, 4, 3), S, &at, &out, &err));
    assert_int_equal(at.axis, 1);
    at.axis = NN_AXIS_ALL;
    assert_true(shape_of(OP_ARGMAX, mkshape(2, 4, 3), S, &at, &out, &err));
    assert_int_equal(at.axis, 1);
    assert_true(shape_eq(&out, &(Shape){ 1, { 4 } }));
    at.axis = 2;
    assert_false(shape_of(OP_LOG_SOFTMAX, mkshape(2, 4, 3), S, &at, &out, &err));
    assert_string_equal(err.data, "axis 2 is out of range for shape [4,3] (axes are 0 to 1, or -2 "
                                  "to -1)");
    at.axis = -1;
    assert_false(shape_of(OP_SOFTMAX, S, S, &at, &out, &err));
    assert_string_equal(err.data, "'softmax' works along an axis, but its input is a scalar");
    at.axis = 0;
    assert_false(shape_of(OP_ARGMAX, S, S, &at, &out, &err));
    assert_string_equal(err.data, "'argmax' of a scalar has no axis 0");

    /* dropout: a probability */
    at = no_attrs();
    at.p = 0.5f;
    assert_true(shape_of(OP_DROPOUT, mkshape(2, 4, 3), S, &at, &out, &err));
    assert_true(shape_eq(&out, &(Shape){ 2, { 4, 3 } }));
    at.p = 1.5f;
    assert_false(shape_of(OP_DROPOUT, mkshape(2, 4, 3), S, &at, &out, &err));
    assert_string_equal(err.data, "'dropout' needs a probability between 0 and 1, but p is 1.5");
    at.p = NAN;
    assert_false(shape_of(OP_DROPOUT, mkshape(2, 4, 3), S, &at, &out, &err));

    /* xavier and he make [in, out] from attrs.shape */
    at = no_attrs();
    at.shape = mkshape(2, 3, 5);
    assert_true(shape_of(OP_XAVIER, S, S, &at, &out, &err));
    assert_true(shape_eq(&out, &at.shape));
    at.shape = mkshape(1, 3);
    assert_false(shape_of(OP_HE, S, S, &at, &out, &err));
    assert_string_equal(err.data, "'he' makes a matrix [in, out], but the shape asked for is [3]");
    assert_true(shape_of(OP_INIT_NORMAL, S, S, &at, &out, &err));
    assert_true(shape_eq(&out, &at.shape));
    sb_free(&err);
}

/* ---- comparisons, logic, where, maximum, minimum, clamp ------------------------------------ */

/* A param leaf of shape s holding v, so that gradients can be checked. */
static uint32_t param(Fixture *f, Shape s, const float *v)
{
    OpAttrs at = no_attrs();
    at.shape = s;
    uint32_t id = graph_add(&f->g, OP_PARAM, NULL, 0, &at, nowhere());
    memcpy(graph_node(&f->g, id)->value, v, shape_size(&s) * sizeof(float));
    return id;
}

static uint32_t opn(Fixture *f, OpKind k, const uint32_t *in, int n, OpAttrs at)
{
    return graph_add(&f->g, k, in, n, &at, nowhere());
}

/* Runs forward and backward of L = sum(y × w) (w NULL: sum(y)), so that y's gradient is w. */
static void backprop(Fixture *f, uint32_t y, const float *w)
{
    uint32_t t = y;
    if (w) t = op2(f, OP_MUL, y, konst(f, graph_node(&f->g, y)->shape, w));
    uint32_t L = reduce(f, OP_SUM, t, NN_AXIS_ALL);
    Plan p = graph_plan(&f->g, &L, 1, &f->arena);
    graph_forward(&f->g, &p, &f->rng, NULL, NULL);
    graph_backward(&f->g, &p, L, NULL, NULL);
}

/* Checks the gradient a backprop left in node id. */
static void grad_impl(Fixture *f, uint32_t id, const float *want, const char *file, int line)
{
    GraphNode *n = graph_node(&f->g, id);
    if (!n->grad) {
        print_error("node %u has no gradient\n", id);
        _fail(file, line);
    }
    for (size_t i = 0; i < n->size; i++) {
        double got = n->grad[i], w = want[i];
        bool same = got == w || (isnan(got) && isnan(w));
        if (!same && !(fabs(got - w) <= TOL * fmax(1.0, fabs(w)))) {
            print_error("gradient element %zu: %.9g != %.9g\n", i, got, w);
            _fail(file, line);
        }
    }
}
#define EXPECT_GRAD(f, id, ...)                                                                \
    grad_impl((f), (id), (const float[]){ __VA_ARGS__ }, __FILE__, __LINE__)

static void test_compare(void **state)
{
    Fixture *f = *state;
    uint32_t a = konst(f, mkshape(1, 4), (const float[]){ 1, 2, 3, NAN });
    uint32_t two = scalar(f, 2);
    EXPECT(f, op2(f, OP_LT, a, two), mkshape(1, 4), 1, 0, 0, 0);
    EXPECT(f, op2(f, OP_LE, a, two), mkshape(1, 4), 1, 1, 0, 0);
    EXPECT(f, op2(f, OP_GT, a, two), mkshape(1, 4), 0, 0, 1, 0);
    EXPECT(f, op2(f, OP_GE, a, two), mkshape(1, 4), 0, 1, 1, 0);
    EXPECT(f, op2(f, OP_EQ, a, two), mkshape(1, 4), 0, 1, 0, 0);
    EXPECT(f, op2(f, OP_NE, a, two), mkshape(1, 4), 1, 0, 1, 1);
    /* NaN compares false, even with itself, except that it is != everything */
    EXPECT(f, op2(f, OP_EQ, a, a), mkshape(1, 4), 1, 1, 1, 0);
    EXPECT(f, op2(f, OP_NE, a, a), mkshape(1, 4), 0, 0, 0, 1);
    EXPECT(f, op2(f, OP_GE, a, a), mkshape(1, 4), 1, 1, 1, 0);
    /* a column against a row broadcasts to a matrix, in both orders */
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 1, 2 });
    uint32_t row = konst(f, mkshape(1, 3), (const float[]){ 0, 1, 2 });
    EXPECT(f, op2(f, OP_LT, col, row), mkshape(2, 2, 3), 0, 0, 1, 0, 0, 0);
    EXPECT(f, op2(f, OP_GE, row, col), mkshape(2, 2, 3), 0, 1, 1, 0, 0, 1);
    /* -0 equals 0; infinities compare as numbers */
    uint32_t z = konst(f, mkshape(1, 3), (const float[]){ -0.0f, INFINITY, -INFINITY });
    uint32_t w = konst(f, mkshape(1, 3), (const float[]){ 0, INFINITY, -1e30f });
    EXPECT(f, op2(f, OP_EQ, z, w), mkshape(1, 3), 1, 1, 0);
    EXPECT(f, op2(f, OP_LT, z, w), mkshape(1, 3), 0, 0, 1);
    /* no gradient flows through a comparison, even from a param */
    uint32_t p = param(f, mkshape(1, 2), (const float[]){ 1, 2 });
    assert_false(graph_node(&f->g, op2(f, OP_GT, p, two))->requires_grad);
}

static void test_logic(void **state)
{
    Fixture *f = *state;
    /* a number is true when it is not 0: -2 and NaN are true */
    uint32_t a = konst(f, mkshape(1, 4), (const float[]){ 0, 1, -2, NAN });
    uint32_t b = konst(f, mkshape(1, 4), (const float[]){ 0, 0, 0.5f, 0 });
    EXPECT(f, op2(f, OP_AND, a, b), mkshape(1, 4), 0, 0, 1, 0);
    EXPECT(f, op2(f, OP_OR, a, b), mkshape(1, 4), 0, 1, 1, 1);
    EXPECT(f, op1(f, OP_NOT, a), mkshape(1, 4), 1, 0, 0, 0);
    EXPECT(f, op2(f, OP_AND, a, scalar(f, 3)), mkshape(1, 4), 0, 1, 1, 1);
    EXPECT(f, op2(f, OP_OR, scalar(f, 0), a), mkshape(1, 4), 0, 1, 1, 1);
    EXPECT(f, op1(f, OP_NOT, scalar(f, 0)), shape_scalar(), 1);
    uint32_t col = konst(f, mkshape(2, 2, 1), (const float[]){ 0, 7 });
    EXPECT(f, op2(f, OP_AND, col, b), mkshape(2, 2, 4), 0, 0, 0, 0, 0, 0, 1, 0);
    uint32_t p = param(f, mkshape(1, 2), (const float[]){ 1, 0 });
    assert_false(graph_node(&f->g, op1(f, OP_NOT, p))->requires_grad);
}

static uint32_t where(Fixture *f, uint32_t c, uint32_t a, uint32_t b)
{
    uint32_t in[3] = { c, a, b };
    return opn(f, OP_WHERE, in, 3, no_attrs());
}

static void test_where(void **state)
{
    Fixture *f = *state;
    /* same shapes; a NaN condition is true */
    uint32_t c = konst(f, mkshape(1, 4), (const float[]){ 1, 0, -3, NAN });
    uint32_t x = konst(f, mkshape(1, 4), (const float[]){ 1, 2, 3, 4 });
    uint32_t y = konst(f, mkshape(1, 4), (const float[]){ 5, 6, 7, 8 });
    EXPECT(f, where(f, c, x, y), mkshape(1, 4), 1, 6, 3, 4);
    /* the three broadcast together: c [3,1], a [2], b [] */
    uint32_t c3 = konst(f, mkshape(2, 3, 1), (const float[]){ 1, 0, NAN });
    uint32_t a = param(f, mkshape(1, 2), (const float[]){ 1, 2 });
    uint32_t b = param(f, shape_scalar(), (const float[]){ 9 });
    uint32_t w = where(f, c3, a, b);
    EXPECT(f, w, mkshape(2, 3, 2), 1, 2, 9, 9, 1, 2);
    /* a gets the gradient of the rows where c is true, summed; b the rest */
    backprop(f, w, (const float[]){ 1, 2, 3, 4, 5, 6 });
    EXPECT_GRAD(f, a, 6, 8);
    EXPECT_GRAD(f, b, 7);
    /* the condition, even a param, gets nothing */
    uint32_t pc = param(f, mkshape(1, 2), (const float[]){ 0, 1 });
    uint32_t w2 = where(f, pc, a, scalar(f, 0));
    backprop(f, w2, NULL);
    EXPECT_GRAD(f, pc, 0, 0);
    EXPECT(f, w2, mkshape(1, 2), 0, 2);
}

static void test_maximum_minimum(void **state)
{
    Fixture *f = *state;
    /* the larger (smaller); NaN wins; ties split the gradient; a NaN passes it to both */
    const float av[] = { 1, 5, 3, NAN, 2 }, bv[] = { 2, 4, 3, 0, NAN };
    uint32_t a = param(f, mkshape(1, 5), av), b = param(f, mkshape(1, 5), bv);
    uint32_t mx = op2(f, OP_MAXIMUM, a, b);
    EXPECT(f, mx, mkshape(1, 5), 2, 5, 3, NAN, NAN);
    backprop(f, mx, NULL);
    EXPECT_GRAD(f, a, 0, 1, 0.5f, 1, 1);
    EXPECT_GRAD(f, b, 1, 0, 0.5f, 1, 1);
    uint32_t a2 = param(f, mkshape(1, 5), av), b2 = param(f, mkshape(1, 5), bv);
    uint32_t mn = op2(f, OP_MINIMUM, a2, b2);
    EXPECT(f, mn, mkshape(1, 5), 1, 4, 3, NAN, NAN);
    backprop(f, mn, NULL);
    EXPECT_GRAD(f, a2, 1, 0, 0.5f, 1, 1);
    EXPECT_GRAD(f, b2, 0, 1, 0.5f, 1, 1);
    /* maximum(x, 0) is relu, except at 0 where the gradient is a half */
    uint32_t x = param(f, mkshape(1, 3), (const float[]){ -1, 0, 2 });
    uint32_t r = op2(f, OP_MAXIMUM, x, scalar(f, 0));
    EXPECT(f, r, mkshape(1, 3), 0, 0, 2);
    backprop(f, r, NULL);
    EXPECT_GRAD(f, x, 0, 0.5f, 1);
    /* a broadcast scalar collects its shares from every element */
    uint32_t s = param(f, shape_scalar(), (const float[]){ 1 });
    uint32_t m = op2(f, OP_MINIMUM, konst(f, mkshape(2, 2, 2), (const float[]){ 0, 1, 2, 3 }), s);
    EXPECT(f, m, mkshape(2, 2, 2), 0, 1, 1, 1);
    backprop(f, m, (const float[]){ 1, 2, 3, 4 });
    EXPECT_GRAD(f, s, 0 * 1 + 0.5f * 2 + 1 * 3 + 1 * 4);     /* 0 < 1, a tie, 2 > 1, 3 > 1 */
}

static void test_mod_detach(void **state)
{
    Fixture *f = *state;
    /* a % b takes the sign of b (Python's %, torch.remainder); d/da = 1, d/db = -floor(a/b) */
    const float av[] = { 7, -7, 7, -7, 5.5f, 6 }, bv[] = { 3, 3, -3, -3, 2, 3 };
    uint32_t a = param(f, mkshape(1, 6), av), b = param(f, mkshape(1, 6), bv);
    uint32_t m = op2(f, OP_MOD, a, b);
    EXPECT(f, m, mkshape(1, 6), 1, 2, -2, -1, 1.5f, 0);
    backprop(f, m, NULL);
    EXPECT_GRAD(f, a, 1, 1, 1, 1, 1, 1);
    EXPECT_GRAD(f, b, -2, 3, 3, -2, -2, -2);
    /* a divisor of 0 gives NaN, which the runtime reports */
    uint32_t z = op2(f, OP_MOD, scalar(f, 1), scalar(f, 0));
    assert_true(isnan(eval(f, z)->value[0]));
    /* detach: the same values, and no gradient flows back through it */
    uint32_t x = param(f, mkshape(1, 3), (const float[]){ 1, -2, 3 });
    uint32_t d = opn(f, OP_DETACH, &x, 1, no_attrs());
    EXPECT(f, d, mkshape(1, 3), 1, -2, 3);
    assert_false(f->g.nodes[d].requires_grad);
}

static uint32_t clamp(Fixture *f, uint32_t x, float lo, float hi)
{
    OpAttrs at = no_attrs();
    at.lo = lo;
    at.hi = hi;
    return opn(f, OP_CLAMP, &x, 1, at);
}

static void test_clamp(void **state)
{
    Fixture *f = *state;
    const float v[] = { -2, -1, 0, 1, 2, NAN };
    uint32_t x = param(f, mkshape(1, 6), v);
    uint32_t y = clamp(f, x, -1, 1);
    EXPECT(f, y, mkshape(1, 6), -1, -1, 0, 1, 1, NAN);
    /* the gradient passes inside and at the bounds; not outside, nor at NaN */
    backprop(f, y, NULL);
    EXPECT_GRAD(f, x, 0, 1, 1, 1, 0, 0);
    /* a bound left out is infinite */
    EXPECT(f, clamp(f, x, 0, INFINITY), mkshape(1, 6), 0, 0, 0, 1, 2, NAN);
    EXPECT(f, clamp(f, x, -INFINITY, 0.5f), mkshape(1, 6), -2, -1, 0, 0.5f, 0.5f, NAN);
    /* lo > hi: everything is hi (torch.clamp), and no gradient passes */
    uint32_t x2 = param(f, mkshape(1, 6), v);
    uint32_t z = clamp(f, x2, 1, -1);
    EXPECT(f, z, mkshape(1, 6), -1, -1, -1, -1, -1, NAN);
    backprop(f, z, NULL);
    EXPECT_GRAD(f, x2, 0, 0, 0, 0, 0, 0);
    /* infinities are clamped like numbers */
    uint32_t inf = konst(f, mkshape(1, 2), (const float[]){ -INFINITY, INFINITY });
    EXPECT(f, clamp(f, inf, -3, 3), mkshape(1, 2), -3, 3);
    assert_close(op_info(OP_CLAMP)->deriv(0, 0.5, 0, 0.5, &graph_node(&f->g, y)->attrs), 1, TOL);
    assert_close(op_info(OP_CLAMP)->deriv(0, 1.5, 0, 1, &graph_node(&f->g, y)->attrs), 0, TOL);
}

/* ---- reductions over several axes, keepdim, max and min ------------------------------------ */

static uint32_t reduce_axes(Fixture *f, OpKind k, uint32_t x, unsigned axes, bool keepdim)
{
    OpAttrs at = no_attrs();
    at.axes = axes;
    at.keepdim = keepdim;
    return opn(f, k, &x, 1, at);
}

/* x[i,j,k] = 12 i + 4 j + k, the numbers 0 to 23 in a [2,3,4] */
static uint32_t iota(Fixture *f, Shape s, bool grad)
{
    float v[64];
    for (size_t i = 0; i < shape_size(&s); i++) v[i] = (float)i;
    return grad ? param(f, s, v) : konst(f, s, v);
}

static void test_reduce_axes(void **state)
{
    Fixture *f = *state;
    uint32_t x = iota(f, mkshape(3, 2, 3, 4), false);
    const unsigned ax02 = op_axis_bit(0) | op_axis_bit(2);
    EXPECT(f, reduce_axes(f, OP_SUM, x, ax02, false), mkshape(1, 3), 60, 92, 124);
    EXPECT(f, reduce_axes(f, OP_SUM, x, ax02, true), mkshape(3, 1, 3, 1), 60, 92, 124);
    /* a negative axis counts from the end; the shape rule stores canonical bits */
    uint32_t neg = reduce_axes(f, OP_SUM, x, op_axis_bit(-1) | op_axis_bit(0), false);
    EXPECT(f, neg, mkshape(1, 3), 60, 92, 124);
    assert_int_equal(graph_node(&f->g, neg)->attrs.axes, 5);
    EXPECT(f, reduce_axes(f, OP_MEAN, x, op_axis_bit(1) | op_axis_bit(2), false), mkshape(1, 2),
           5.5f, 17.5f);
    EXPECT(f, reduce_axes(f, OP_MEAN, x, 7, false), shape_scalar(), 11.5f);
    /* keepdim with attrs.axis: one axis, or all of them */
    OpAttrs at = no_attrs();
    at.keepdim = true;
    EXPECT(f, opn(f, OP_MEAN, &x, 1, at), mkshape(3, 1, 1, 1), 11.5f);
    at.axis = -2;
    EXPECT(f, opn(f, OP_SUM, &x, 1, at), mkshape(3, 2, 1, 4), 12, 15, 18, 21, 48, 51, 54, 57);
    /* backward: every element reduced gets the gradient (over n for mean) */
    uint32_t p = iota(f, mkshape(3, 2, 3, 4), true);
    uint32_t m = reduce_axes(f, OP_MEAN, p, ax02, true);
    backprop(f, m, (const float[]){ 8, 16, 24 });
    const float *g = graph_node(&f->g, p)->grad;
    for (int i = 0; i < 24; i++) assert_close(g[i], (i / 4) % 3 + 1, TOL);
    /* reducing a scalar over all of its (no) axes leaves it */
    EXPECT(f, reduce_axes(f, OP_SUM, scalar(f, 3), 0, true), shape_scalar(), 3);
}

static void test_max_min(void **state)
{
    Fixture *f = *state;
    const float v[] = { 1, 5, 5, 7, -2, 7 };
    /* everything: the two 7s share the gradient */
    uint32_t a = param(f, mkshape(2, 2, 3), v);
    uint32_t all = reduce(f, OP_MAX, a, NN_AXIS_ALL);
    EXPECT(f, all, shape_scalar(), 7);
    backprop(f, all, NULL);
    EXPECT_GRAD(f, a, 0, 0, 0, 0.5f, 0, 0.5f);
    /* along the last axis, ties in both rows */
    uint32_t b = param(f, mkshape(2, 2, 3), v);
    uint32_t rows = reduce(f, OP_MAX, b, -1);
    EXPECT(f, rows, mkshape(1, 2), 5, 7);
    backprop(f, rows, (const float[]){ 1, 4 });
    EXPECT_GRAD(f, b, 0, 0.5f, 0.5f, 2, 0, 2);
    /* min along axis 0, keeping it */
    uint32_t c = param(f, mkshape(2, 2, 3), v);
    uint32_t cols = reduce_axes(f, OP_MIN, c, op_axis_bit(0), true);
    EXPECT(f, cols, mkshape(2, 1, 3), 1, -2, 5);
    backprop(f, cols, NULL);
    EXPECT_GRAD(f, c, 1, 0, 1, 0, 1, 0);
    EXPECT(f, reduce(f, OP_MIN, c, NN_AXIS_ALL), shape_scalar(), -2);
    /* a NaN anywhere in a group makes its result NaN */
    uint32_t n = konst(f, mkshape(2, 2, 2), (const float[]){ 1, NAN, 3, 4 });
    EXPECT(f, reduce(f, OP_MAX, n, 1), mkshape(1, 2), NAN, 4);
    EXPECT(f, reduce(f, OP_MIN, n, 0), mkshape(1, 2), 1, NAN);
    EXPECT(f, reduce(f, OP_MIN, n, NN_AXIS_ALL), shape_scalar(), NAN);
    /* the whole-tensor NaN shares the gradient among the NaNs (torch.max(x)) */
    uint32_t pn = param(f, mkshape(1, 3), (const float[]){ NAN, 2, NAN });
    uint32_t mn = reduce(f, OP_MAX, pn, NN_AXIS_ALL);
    backprop(f, mn, NULL);
    EXPECT_GRAD(f, pn, 0.5f, 0, 0.5f);
    /* infinities are ordinary extremes; a scalar is its own max */
    uint32_t inf = konst(f, mkshape(1, 3), (const float[]){ -INFINITY, 0, INFINITY });
    EXPECT(f, reduce(f, OP_MAX, inf, 0), shape_scalar(), INFINITY);
    EXPECT(f, reduce(f, OP_MIN, inf, 0), shape_scalar(), -INFINITY);
    EXPECT(f, reduce(f, OP_MAX, scalar(f, -4), NN_AXIS_ALL), shape_scalar(), -4);
    /* several axes: [2,3,4] over axes 0 and 2 */
    uint32_t x = iota(f, mkshape(3, 2, 3, 4), false);
    EXPECT(f, reduce_axes(f, OP_MAX, x, op_axis_bit(0) | op_axis_bit(-1), false), mkshape(1, 3),
           15, 19, 23);
    EXPECT(f, reduce_axes(f, OP_MIN, x, op_axis_bit(0) | op_axis_bit(2), true),
           mkshape(3, 1, 3, 1), 0, 4, 8);
}

/* ---- reshape, concat, index, slice, one_hot ------------------------------------------------- */

static void test_reshape(void **state)
{
    Fixture *f = *state;
    uint32_t x = iota(f, mkshape(2, 2, 3), true);
    OpAttrs at = no_attrs();
    at.shape = mkshape(2, 3, -1);
    uint32_t y = opn(f, OP_RESHAPE, &x, 1, at);
    EXPECT(f, y, mkshape(2, 3, 2), 0, 1, 2, 3, 4, 5);
    assert_int_equal(graph_node(&f->g, y)->attrs.shape.dim[1], 2);   /* the -1 worked out */
    backprop(f, y, (const float[]){ 1, 2, 3, 4, 5, 6 });
    EXPECT_GRAD(f, x, 1, 2, 3, 4, 5, 6);
    at.shape = mkshape(1, -1);
    EXPECT(f, opn(f, OP_RESHAPE, &x, 1, at), mkshape(1, 6), 0, 1, 2, 3, 4, 5);
    at.shape = shape_scalar();
    EXPECT(f, opn(f, OP_RESHAPE, (uint32_t[]){ konst(f, mkshape(2, 1, 1), (const float[]){ 7 }) },
                  1, at), shape_scalar(), 7);
}

static uint32_t concat(Fixture *f, uint32_t a, uint32_t b, int axis)
{
    OpAttrs at = no_attrs();
    at.axis = axis;
    uint32_t in[2] = { a, b };
    return opn(f, OP_CONCAT, in, 2, at);
}

static void test_concat(void **state)
{
    Fixture *f = *state;
    uint32_t a = param(f, mkshape(2, 2, 2), (const float[]){ 1, 2, 3, 4 });
    uint32_t b = param(f, mkshape(2, 2, 1), (const float[]){ 5, 6 });
    uint32_t y = concat(f, a, b, -1);
    EXPECT(f, y, mkshape(2, 2, 3), 1, 2, 5, 3, 4, 6);
    assert_int_equal(graph_node(&f->g, y)->attrs.axis, 1);
    backprop(f, y, (const float[]){ 10, 20, 30, 40, 50, 60 });
    EXPECT_GRAD(f, a, 10, 20, 40, 50);
    EXPECT_GRAD(f, b, 30, 60);
    /* axis 0 (also the default, NN_AXIS_ALL): rows after rows */
    uint32_t c = konst(f, mkshape(2, 1, 2), (const float[]){ 7, 8 });
    EXPECT(f, concat(f, a, c, 0), mkshape(2, 3, 2), 1, 2, 3, 4, 7, 8);
    EXPECT(f, concat(f, c, a, NN_AXIS_ALL), mkshape(2, 3, 2), 7, 8, 1, 2, 3, 4);
    /* the middle axis of rank 3 */
    uint32_t d = iota(f, mkshape(3, 2, 1, 2), false);
    uint32_t e = konst(f, mkshape(3, 2, 2, 2), (const float[]){ 10, 11, 12, 13, 14, 15, 16, 17 });
    EXPECT(f, concat(f, d, e, 1), mkshape(3, 2, 3, 2), 0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17);
    uint32_t v1 = konst(f, mkshape(1, 1), (const float[]){ 1 });
    uint32_t v2 = konst(f, mkshape(1, 2), (const float[]){ 5, 6 });
    EXPECT(f, concat(f, v1, v2, 0), mkshape(1, 3), 1, 5, 6);
}

static uint32_t index_op(Fixture *f, uint32_t x, uint32_t i, int axis)
{
    OpAttrs at = no_attrs();
    at.axis = axis;
    uint32_t in[2] = { x, i };
    return opn(f, OP_INDEX, in, 2, at);
}

static void test_index(void **state)
{
    Fixture *f = *state;
    uint32_t x = iota(f, mkshape(2, 3, 4), false);
    EXPECT(f, index_op(f, x, scalar(f, 1), 0), mkshape(1, 4), 4, 5, 6, 7);
    EXPECT(f, index_op(f, x, scalar(f, -1), 0), mkshape(1, 4), 8, 9, 10, 11);
    EXPECT(f, index_op(f, x, scalar(f, -1), 1), mkshape(1, 3), 3, 7, 11);
    EXPECT(f, index_op(f, x, scalar(f, 2), -1), mkshape(1, 3), 2, 6, 10);
    EXPECT(f, index_op(f, index_op(f, x, scalar(f, 2), 0), scalar(f, 0), 0), shape_scalar(), 8);
    /* not an integer in range: the whole result is NaN */
    EXPECT(f, index_op(f, x, scalar(f, 3), 0), mkshape(1, 4), NAN, NAN, NAN, NAN);
    EXPECT(f, index_op(f, x, scalar(f, -4), 0), mkshape(1, 4), NAN, NAN, NAN, NAN);
    EXPECT(f, index_op(f, x, scalar(f, 0.5f), 0), mkshape(1, 4), NAN, NAN, NAN, NAN);
    EXPECT(f, index_op(f, x, scalar(f, NAN), 1), mkshape(1, 3), NAN, NAN, NAN);
    assert_int_equal(op_index_of(2, 3), 2);
    assert_int_equal(op_index_of(-1, 3), 2);
    assert_int_equal(op_index_of(-3, 3), 0);
    assert_int_equal(op_index_of(-0.0f, 3), 0);
    assert_int_equal(op_index_of(3, 3), -1);
    assert_int_equal(op_index_of(-4, 3), -1);
    assert_int_equal(op_index_of(1.5f, 3), -1);
    assert_int_equal(op_index_of(NAN, 3), -1);
    assert_int_equal(op_index_of(INFINITY, 3), -1);
    assert_int_equal(op_index_of(1e20f, 3), -1);
    /* backward: the gradient goes back to the column picked; the index gets none */
    uint32_t p = iota(f, mkshape(2, 3, 4), true);
    uint32_t k = param(f, shape_scalar(), (const float[]){ -3 });
    uint32_t y = index_op(f, p, k, 1);
    EXPECT(f, y, mkshape(1, 3), 1, 5, 9);
    backprop(f, y, (const float[]){ 1, 2, 3 });
    EXPECT_GRAD(f, p, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0);
    EXPECT_GRAD(f, k, 0);
}

static uint32_t slice(Fixture *f, uint32_t x, int axis, int start, int stop)
{
    OpAttrs at = no_attrs();
    at.axis = axis;
    at.start = start;
    at.stop = stop;
    return opn(f, OP_SLICE, &x, 1, at);
}

static void test_slice(void **state)
{
    Fixture *f = *state;
    uint32_t x = iota(f, mkshape(2, 4, 3), true);
    EXPECT(f, slice(f, x, 0, 1, 3), mkshape(2, 2, 3), 3, 4, 5, 6, 7, 8);
    EXPECT(f, slice(f, x, 0, 0, 4), mkshape(2, 4, 3), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    uint32_t y = slice(f, x, -1, 1, 3);
    EXPECT(f, y, mkshape(2, 4, 2), 1, 2, 4, 5, 7, 8, 10, 11);
    assert_int_equal(graph_node(&f->g, y)->attrs.axis, 1);
    backprop(f, y, (const float[]){ 1, 2, 3, 4, 5, 6, 7, 8 });
    EXPECT_GRAD(f, x, 0, 1, 2, 0, 3, 4, 0, 5, 6, 0, 7, 8);
    EXPECT(f, slice(f, konst(f, mkshape(1, 3), (const float[]){ 4, 5, 6 }), 0, 2, 3),
           mkshape(1, 1), 6);
}

static uint32_t one_hot(Fixture *f, uint32_t x, int classes)
{
    OpAttrs at = no_attrs();
    at.classes = classes;
    return opn(f, OP_ONE_HOT, &x, 1, at);
}

static void test_one_hot(void **state)
{
    Fixture *f = *state;
    uint32_t y = konst(f, mkshape(1, 3), (const float[]){ 0, 2, 1 });
    EXPECT(f, one_hot(f, y, 3), mkshape(2, 3, 3), 1, 0, 0, 0, 0, 1, 0, 1, 0);
    EXPECT(f, one_hot(f, y, 4), mkshape(2, 3, 4), 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0);
    EXPECT(f, one_hot(f, scalar(f, 1), 2), mkshape(1, 2), 0, 1);
    uint32_t m = konst(f, mkshape(2, 2, 1), (const float[]){ 1, 0 });
    EXPECT(f, one_hot(f, m, 2), mkshape(3, 2, 1, 2), 0, 1, 1, 0);
    /* not an integer in 0 .. classes - 1: a row of NaN */
    uint32_t bad = konst(f, mkshape(1, 4), (const float[]){ 2, -1, 0.5f, NAN });
    EXPECT(f, one_hot(f, bad, 2), mkshape(2, 4, 2), NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN);
    uint32_t p = param(f, mkshape(1, 2), (const float[]){ 0, 1 });
    assert_false(graph_node(&f->g, one_hot(f, p, 2))->requires_grad);
}

/* conv2d, maxpool2d, avgpool2d on a 4x4 image of 0 .. 15 (the numbers checked with torch) */
static void test_images(void **state)
{
    Fixture *f = *state;
    uint32_t x = iota(f, mkshape(4, 1, 1, 4, 4), true);
    uint32_t w = param(f, mkshape(4, 1, 1, 2, 2), (const float[]){ 1, 0, 0, -1 });
    uint32_t b = param(f, mkshape(1, 1), (const float[]){ 0.5f });
    OpAttrs at = no_attrs();
    at.stride[0] = at.stride[1] = 1;
    uint32_t in[3] = { x, w, b };
    /* x[i, j] - x[i + 1, j + 1] + 0.5 = -5 + 0.5 everywhere */
    uint32_t y = opn(f, OP_CONV2D, in, 3, at);
    EXPECT(f, y, mkshape(4, 1, 1, 3, 3), -4.5f, -4.5f, -4.5f, -4.5f, -4.5f, -4.5f, -4.5f, -4.5f,
           -4.5f);
    backprop(f, y, NULL);
    /* each weight meets the 9 pixels of its corner's 3x3 block; x gets +1 at the top-left 3x3
     * and -1 at the bottom-right 3x3 */
    EXPECT_GRAD(f, w, 45, 54, 81, 90);
    EXPECT_GRAD(f, b, 9);
    EXPECT_GRAD(f, x, 1, 1, 1, 0, 1, 0, 0, -1, 1, 0, 0, -1, 0, -1, -1, -1);
    /* stride 2 and padding 1: windows at -1, 1, 3 */
    at.stride[0] = at.stride[1] = 2;
    at.pad[0] = at.pad[1] = 1;
    EXPECT(f, opn(f, OP_CONV2D, in, 3, at), mkshape(4, 1, 1, 3, 3), 0.5f, -1.5f, 0.5f, -7.5f,
           -4.5f, 7.5f, 0.5f, 13.5f, 15.5f);
    OpAttrs pool = no_attrs();
    pool.kernel[0] = pool.kernel[1] = pool.stride[0] = pool.stride[1] = 2;
    uint32_t m = opn(f, OP_MAXPOOL2D, &x, 1, pool);
    EXPECT(f, m, mkshape(4, 1, 1, 2, 2), 5, 7, 13, 15);
    EXPECT(f, opn(f, OP_AVGPOOL2D, &x, 1, pool), mkshape(4, 1, 1, 2, 2), 2.5f, 4.5f, 10.5f,
           12.5f);
    pool.stride[0] = pool.stride[1] = 1;
    EXPECT(f, opn(f, OP_AVGPOOL2D, &x, 1, pool), mkshape(4, 1, 1, 3, 3), 2.5f, 3.5f, 4.5f, 6.5f,
           7.5f, 8.5f, 10.5f, 11.5f, 12.5f);
}

/* layernorm of rows [1, 2, 3] and [2, 2, 2]: the first standardised (mean 2, variance 2/3),
 * the second all at its mean (0 whatever W), then times W plus b */
static void test_layernorm(void **state)
{
    Fixture *f = *state;
    uint32_t x = param(f, mkshape(2, 2, 3), (const float[]){ 1, 2, 3, 2, 2, 2 });
    uint32_t w = param(f, mkshape(1, 3), (const float[]){ 1, 2, 1 });
    uint32_t b = param(f, mkshape(1, 3), (const float[]){ 0, 0, 0.5f });
    uint32_t in[3] = { x, w, b };
    float s = (float)(1 / sqrt(2.0 / 3 + 1e-5));
    uint32_t y = opn(f, OP_LAYERNORM, in, 3, no_attrs());
    EXPECT(f, y, mkshape(2, 2, 3), -s, 0, s + 0.5f, 0, 0, 0.5f);
    backprop(f, y, NULL);
    EXPECT_GRAD(f, b, 2, 2, 2);
    EXPECT_GRAD(f, w, -s, 0, s);
}

/* batchnorm of a batch [2, 2]: channel 0 holds 1 and 3 (mean 2, variance 1), channel 1 holds 2
 * and 6 (mean 4, variance 4); the running statistics move 0.1 of the way to the batch's mean
 * and unbiased variance (2 and 8); evaluation uses running statistics given to it */
static void test_batchnorm(void **state)
{
    Fixture *f = *state;
    uint32_t x = param(f, mkshape(2, 2, 2), (const float[]){ 1, 2, 3, 6 });
    uint32_t w = param(f, mkshape(1, 2), (const float[]){ 1, 2 });
    uint32_t b = param(f, mkshape(1, 2), (const float[]){ 0, 0.5f });
    uint32_t rm = konst(f, mkshape(1, 2), (const float[]){ 0, 0 });
    uint32_t rv = konst(f, mkshape(1, 2), (const float[]){ 1, 1 });
    uint32_t in[5] = { x, w, b, rm, rv };
    float r1 = (float)(1 / sqrt(1 + 1e-5)), r2 = (float)(1 / sqrt(4 + 1e-5));
    uint32_t y = opn(f, OP_BATCHNORM, in, 5, no_attrs());
    EXPECT(f, y, mkshape(2, 2, 2), -r1, -4 * r2 + 0.5f, r1, 4 * r2 + 0.5f);
    EXPECT(f, rm, mkshape(1, 2), 0.2f, 0.4f);
    EXPECT(f, rv, mkshape(1, 2), 1.1f, 1.7f);
    /* the gradient of y[0, 0] alone: through x̂ directly, the mean and the variance */
    backprop(f, y, (const float[]){ 1, 0, 0, 0 });
    EXPECT_GRAD(f, b, 1, 0);
    EXPECT_GRAD(f, w, -r1, 0);
    float d = r1 * (0.5f - r1 * r1 / 2);
    EXPECT_GRAD(f, x, d, 0, -d, 0);
    uint32_t m2 = konst(f, mkshape(1, 2), (const float[]){ 0.5f, 1 });
    uint32_t v2 = konst(f, mkshape(1, 2), (const float[]){ 3, 0.25f });
    uint32_t ev[5] = { x, w, b, m2, v2 };
    float e1 = (float)(1 / sqrt(3 + 1e-5)), e2 = (float)(1 / sqrt(0.25 + 1e-5));
    EXPECT(f, opn(f, OP_BATCHNORM_EVAL, ev, 5, no_attrs()), mkshape(2, 2, 2), 0.5f * e1,
           2 * e2 + 0.5f, 2.5f * e1, 10 * e2 + 0.5f);
}

/* ---- shape rules of the new ops -------------------------------------------------------------- */

/* Applies op k's shape rule to inputs in (n of them); on success applies it again to its own
 * canonical attrs, which must change nothing. */
static bool rule(OpKind k, const Shape *in, OpAttrs *at, Shape *out, StrBuf *err)
{
    const OpInfo *op = op_info(k);
    sb_clear(err);
    if (!op->shape(op, in, at, out, err)) return false;
    OpAttrs again = *at;
    Shape out2;
    assert_true(op->shape(op, in, &again, &out2, err));
    assert_true(shape_eq(out, &out2));
    assert_int_equal(again.axis, at->axis);
    assert_int_equal(again.axes, at->axes);
    assert_true(shape_eq(&again.shape, &at->shape));
    return true;
}

#define RULE_FAILS(k, msg, ...)                                                               \
    do {                                                                                      \
        Shape in_[] = { __VA_ARGS__ };                                                        \
        assert_false(rule((k), in_, &at, &out, &err));                                        \
        assert_string_equal(err.data, (msg));                                                 \
    } while (0)

#define RULE_GIVES(k, want, ...)                                                              \
    do {                                                                                      \
        Shape in_[] = { __VA_ARGS__ }, want_ = (want);                                        \
        assert_true(rule((k), in_, &at, &out, &err));                                         \
        assert_true(shape_eq(&out, &want_));                                                  \
    } while (0)

static void test_shape_rules_elementwise(void **state)
{
    (void)state;
    StrBuf err;
    sb_init(&err);
    Shape out;
    OpAttrs at = no_attrs();
    const Shape S = shape_scalar();
    RULE_GIVES(OP_LT, mkshape(2, 4, 3), mkshape(2, 4, 3), mkshape(1, 3));
    RULE_FAILS(OP_LT, "cannot broadcast [3] < [2]: sizes 3 and 2 differ in dimension 1 from the "
                      "right, and neither is 1", mkshape(1, 3), mkshape(1, 2));
    RULE_FAILS(OP_AND, "cannot broadcast [2,3] and [3,3]: sizes 2 and 3 differ in dimension 2 "
                       "from the right, and neither is 1", mkshape(2, 2, 3), mkshape(2, 3, 3));
    RULE_GIVES(OP_MAXIMUM, mkshape(2, 4, 3), mkshape(2, 4, 1), mkshape(1, 3));
    RULE_FAILS(OP_MINIMUM, "cannot broadcast minimum([4,3], [4]): sizes 3 and 4 differ in "
                           "dimension 1 from the right, and neither is 1",
               mkshape(2, 4, 3), mkshape(1, 4));
    RULE_GIVES(OP_WHERE, mkshape(3, 2, 4, 3), mkshape(2, 4, 1), mkshape(1, 3), mkshape(3, 2, 1, 1));
    RULE_GIVES(OP_WHERE, S, S, S, S);
    RULE_FAILS(OP_WHERE, "cannot broadcast where([4,1], [3], [2]): sizes 3 and 2 differ in "
                         "dimension 1 from the right, and neither is 1",
               mkshape(2, 4, 1), mkshape(1, 3), mkshape(1, 2));
    RULE_FAILS(OP_WHERE, "cannot broadcast where([4], [3], []): sizes 4 and 3 differ in "
                         "dimension 1 from the right, and neither is 1",
               mkshape(1, 4), mkshape(1, 3), S);
    at.lo = -1, at.hi = 1;
    RULE_GIVES(OP_CLAMP, mkshape(2, 4, 3), mkshape(2, 4, 3));
    RULE_GIVES(OP_NOT, S, S);
    sb_free(&err);
}

static void test_shape_rules_reduce(void **state)
{
    (void)state;
    StrBuf err;
    sb_init(&err);
    Shape out;
    OpAttrs at = no_attrs();
    const Shape x = mkshape(3, 2, 3, 4);
    at.axes = op_axis_bit(0) | op_axis_bit(-1);
    RULE_GIVES(OP_SUM, mkshape(1, 3), x);
    assert_int_equal(at.axes, 5);
    at.keepdim = true;
    RULE_GIVES(OP_MAX, mkshape(3, 1, 3, 1), x);
    at.axes = 0, at.axis = NN_AXIS_ALL;
    RULE_GIVES(OP_MEAN, mkshape(3, 1, 1, 1), x);
    RULE_GIVES(OP_MEAN, shape_scalar(), shape_scalar());
    at.axis = -2;
    RULE_GIVES(OP_MIN, mkshape(3, 2, 1, 4), x);
    assert_int_equal(at.axis, 1);
    at = no_attrs();
    at.axes = op_axis_bit(1) | op_axis_bit(-2);
    RULE_FAILS(OP_SUM, "axes 1 and -2 are the same axis of [2,3,4]", x);
    at.axes = op_axis_bit(3);
    RULE_FAILS(OP_SUM, "axis 3 is out of range for shape [2,3,4] (axes are 0 to 2, or -3 to -1)",
               x);
    at.axes = op_axis_bit(-4);
    RULE_FAILS(OP_MAX, "axis -4 is out of range for shape [2,3,4] (axes are 0 to 2, or -3 to -1)",
               x);
    at.axes = op_axis_bit(0);
    RULE_FAILS(OP_MIN, "'min' of a scalar has no axis 0", shape_scalar());
    at = no_attrs();
    at.axis = 3;
    RULE_FAILS(OP_MAX, "axis 3 is out of range for shape [2,3,4] (axes are 0 to 2, or -3 to -1)",
               x);
    sb_free(&err);
}

static void test_shape_rules_structural(void **state)
{
    (void)state;
    StrBuf err;
    sb_init(&err);
    Shape out;
    OpAttrs at = no_attrs();
    const Shape S = shape_scalar(), x = mkshape(2, 2, 3);

    at.shape = mkshape(2, -1, 2);
    RULE_GIVES(OP_RESHAPE, mkshape(2, 3, 2), x);
    assert_int_equal(at.shape.dim[0], 3);
    at.shape = mkshape(3, 1, 1, -1);
    RULE_GIVES(OP_RESHAPE, mkshape(3, 1, 1, 1), S);
    at.shape = mkshape(2, 4, -1);
    RULE_FAILS(OP_RESHAPE, "cannot reshape [2,3] (6 elements) to [4, -1]: 6 is not a multiple of "
                           "4", x);
    at.shape = mkshape(2, 4, 2);
    RULE_FAILS(OP_RESHAPE, "cannot reshape [2,3] (6 elements) to [4, 2] (8 elements)", x);
    at.shape = mkshape(2, -1, -1);
    RULE_FAILS(OP_RESHAPE, "cannot reshape [2,3] to [-1, -1]: only one size can be -1", x);
    at.shape = mkshape(2, 0, -1);
    RULE_FAILS(OP_RESHAPE, "cannot reshape [2,3] to [0, -1]: sizes must be at least 1 (or -1 for "
                           "one that is worked out from the others)", x);
    at.shape = S;
    RULE_FAILS(OP_RESHAPE, "cannot reshape [2,3] (6 elements) to [] (1 element)", x);

    at = no_attrs();
    at.axis = -1;
    RULE_GIVES(OP_CONCAT, mkshape(2, 2, 5), x, mkshape(2, 2, 2));
    assert_int_equal(at.axis, 1);
    at.axis = 0;
    RULE_FAILS(OP_CONCAT, "cannot concatenate [2,3] and [2,4] along axis 0: sizes 3 and 4 differ "
                          "in axis 1", x, mkshape(2, 2, 4));
    RULE_FAILS(OP_CONCAT, "cannot concatenate [2,3] and [3]: they have 2 and 1 axes", x,
               mkshape(1, 3));
    RULE_FAILS(OP_CONCAT, "cannot concatenate [] and []: a scalar has no axis to join along", S,
               S);
    at.axis = 2;
    RULE_FAILS(OP_CONCAT, "axis 2 is out of range for shape [2,3] (axes are 0 to 1, or -2 to -1)",
               x, x);

    at = no_attrs();
    at.axis = -1;
    RULE_GIVES(OP_INDEX, mkshape(1, 2), x, S);
    assert_int_equal(at.axis, 1);
    RULE_FAILS(OP_INDEX, "cannot index a scalar: it has no axis", S, S);
    RULE_FAILS(OP_INDEX, "an index must be a scalar, but it is [1]", x, mkshape(1, 1));
    at.axis = -3;
    RULE_FAILS(OP_INDEX, "axis -3 is out of range for shape [2,3] (axes are 0 to 1, or -2 to -1)",
               x, S);

    at = no_attrs();
    at.axis = 1, at.start = 1, at.stop = 3;
    RULE_GIVES(OP_SLICE, mkshape(2, 2, 2), x);
    at.axis = 0;
    RULE_FAILS(OP_SLICE, "cannot slice [1:3] along axis 0 of [2,3]: it needs 0 <= start < stop <= "
                         "2", x);
    at.start = 1, at.stop = 1;
    RULE_FAILS(OP_SLICE, "cannot slice [1:1] along axis 0 of [2,3]: it needs 0 <= start < stop <= "
                         "2", x);
    RULE_FAILS(OP_SLICE, "cannot slice a scalar: it has no axis", S);

    at = no_attrs();
    at.classes = 4;
    RULE_GIVES(OP_ONE_HOT, mkshape(3, 2, 3, 4), x);
    RULE_GIVES(OP_ONE_HOT, mkshape(1, 4), S);
    RULE_FAILS(OP_ONE_HOT, "'one_hot' adds an axis, but [1,1,1,1,1,1] already has 6, the most a "
                           "tensor can have", mkshape(6, 1, 1, 1, 1, 1, 1));
    at.classes = 0;
    RULE_FAILS(OP_ONE_HOT, "'one_hot' needs at least 1 class, but classes is 0", x);
    sb_free(&err);
}

/* ---- the trace's words for the new ops ----------------------------------------------------- */

static void no_locate(void *ud, Span span, StrBuf *out)
{
    (void)ud, (void)span;
    sb_puts(out, "test");
}

static const TraceNode *traced(const TracePass *tp, uint32_t id)
{
    for (uint32_t k = 0; k < tp->count; k++)
        if (tp->nodes[k].n->id == id) return &tp->nodes[k];
    fail_msg("node %u is not in the pass", id);
    return NULL;
}

static uint32_t named(Graph *g, uint32_t id, const char *name)
{
    graph_node(g, id)->name = name;
    return id;
}

/* The formulas and local gradients `trace` prints for the new ops, with their placeholders
 * ({2}, {lo}, {hi}, {at}, {shape}, {axis}, {classes}) filled in. */
static void test_trace_words(void **state)
{
    (void)state;
    Runtime rt;
    rt_init(&rt);
    rt.locate = rt.source_text = no_locate;
    Graph *g = &rt.graph;
    Span sp = nowhere();
    OpAttrs at = no_attrs();
    at.shape = mkshape(2, 2, 3);
    uint32_t x = named(g, graph_add(g, OP_PARAM, NULL, 0, &at, sp), "x");
    at.shape = shape_scalar();
    uint32_t k = named(g, graph_add(g, OP_CONST, NULL, 0, &at, sp), "k");
    uint32_t m1 = graph_add(g, OP_CONST, NULL, 0, &at, sp);     /* an inline -1 */
    graph_node(g, k)->value[0] = 1;
    graph_node(g, m1)->value[0] = -1;
    at = no_attrs();
    at.lo = -1, at.hi = 0.5f;
    uint32_t c = named(g, graph_add(g, OP_CLAMP, &x, 1, &at, sp), "c");
    at = no_attrs();
    at.axis = 1;
    uint32_t ik = named(g, graph_add(g, OP_INDEX, (uint32_t[]){ x, k }, 2, &at, sp), "ik");
    at.axis = 0;
    uint32_t im = named(g, graph_add(g, OP_INDEX, (uint32_t[]){ x, m1 }, 2, &at, sp), "im");
    at.axis = -1, at.start = 0, at.stop = 2;
    uint32_t sl = named(g, graph_add(g, OP_SLICE, &x, 1, &at, sp), "s");
    at = no_attrs();
    at.shape = mkshape(1, -1);
    uint32_t rs = named(g, graph_add(g, OP_RESHAPE, &x, 1, &at, sp), "r");
    at = no_attrs();
    at.axis = -1;
    uint32_t cc = named(g, graph_add(g, OP_CONCAT, (uint32_t[]){ x, x }, 2, &at, sp), "cc");
    at = no_attrs();
    at.classes = 3;
    uint32_t oh = named(g, graph_add(g, OP_ONE_HOT, &k, 1, &at, sp), "oh");
    at = no_attrs();
    at.shape = mkshape(1, 1);
    uint32_t v = named(g, graph_add(g, OP_CONST, NULL, 0, &at, sp), "v");
    graph_node(g, v)->value[0] = 2;
    at.shape = shape_scalar();
    uint32_t iv = named(g, graph_add(g, OP_INDEX, (uint32_t[]){ v, m1 }, 2, &at, sp), "iv");
    at = no_attrs();
    uint32_t w = named(g, graph_add(g, OP_WHERE, (uint32_t[]){ x, c, x }, 3, &at, sp), "w");
    uint32_t sw = graph_add(g, OP_SUM, &w, 1, &at, sp);
    uint32_t si = graph_add(g, OP_SUM, &ik, 1, &at, sp);
    uint32_t L = named(g, graph_add(g, OP_ADD, (uint32_t[]){ sw, si }, 2, &at, sp), "L");
    uint32_t roots[] = { L, im, sl, rs, cc, oh, iv };
    Arena arena;
    arena_init(&arena);
    Plan plan = graph_plan(g, roots, NN_ARRAY_LEN(roots), &arena);
    graph_forward(g, &plan, &rt.rng, NULL, NULL);
    graph_backward(g, &plan, L, NULL, NULL);
    TracePass tp;
    trace_pass_build(&rt, &tp, &plan, L, NULL, sp, sp, NULL);

    assert_string_equal(traced(&tp, c)->formula, "clamp(x, -1, 0.5)");
    assert_string_equal(traced(&tp, ik)->formula, "x[:, k]");
    assert_string_equal(traced(&tp, im)->formula, "x[-1]");
    assert_string_equal(traced(&tp, sl)->formula, "x[:, 0:2]");
    assert_string_equal(traced(&tp, rs)->formula, "reshape(x, [6])");
    assert_string_equal(traced(&tp, cc)->formula, "concat(x, x, axis = 1)");
    assert_string_equal(traced(&tp, oh)->formula, "one_hot(k, 3)");
    assert_null(traced(&tp, oh)->formula_values);    /* only ops of scalars show numbers */
    assert_string_equal(traced(&tp, iv)->formula, "v[-1]");
    assert_string_equal(traced(&tp, iv)->formula_values, "2[-1]");
    assert_string_equal(traced(&tp, w)->formula, "where(x, c, x)");
    /* backward: where passes to a and b (x twice), nothing to its condition's own share */
    const TraceNode *tw = traced(&tp, w);
    assert_int_equal(tw->n_in, 3);
    assert_string_equal(tw->in[0].local, "0");
    assert_string_equal(tw->in[1].local, "(1 if x ≠ 0, else 0)");
    assert_string_equal(tw->in[2].local, "(1 if x = 0, else 0)");
    const TraceNode *tc = traced(&tp, c);
    assert_string_equal(tc->in[0].local, "(1 if (-1) ≤ x ≤ 0.5, else 0)");
    const TraceNode *ti = traced(&tp, ik);
    assert_int_equal(ti->n_in, 1);     /* k is a constant */
    assert_string_equal(ti->in[0].local, "∂L/∂ik placed at [:, k], 0 elsewhere");
    trace_pass_free(&tp);
    arena_free(&arena);
    rt_free(&rt);
}

/* ---- the table itself ------------------------------------------------------------------- */

/* Every op with a forward kernel, as tested above. A new op in ops.def fails this test until
 * its forward is tested here. */
static const OpKind tested_ops[] = {
    OP_ZEROS, OP_ONES, OP_FULL, OP_EYE, OP_RAND, OP_RANDN,
    OP_XAVIER, OP_HE, OP_INIT_UNIFORM, OP_INIT_NORMAL,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW,
    OP_NEG, OP_EXP, OP_LOG, OP_SQRT, OP_ABS, OP_SIGMOID, OP_TANH, OP_RELU, OP_LEAKY_RELU,
    OP_SOFTPLUS, OP_MATMUL, OP_TRANSPOSE, OP_SUM, OP_MEAN, OP_GRAD,
    OP_SOFTMAX, OP_LOG_SOFTMAX, OP_ARGMAX, OP_DROPOUT,
    OP_MSE, OP_L1, OP_BCE, OP_BCE_LOGITS, OP_CROSS_ENTROPY, OP_ACCURACY,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR, OP_NOT, OP_WHERE,
    OP_MAXIMUM, OP_MINIMUM, OP_CLAMP, OP_MAX, OP_MIN,
    OP_RESHAPE, OP_CONCAT, OP_INDEX, OP_SLICE, OP_ONE_HOT, OP_MOD, OP_DETACH,
    OP_CONV2D, OP_MAXPOOL2D, OP_AVGPOOL2D, OP_LAYERNORM, OP_BATCHNORM, OP_BATCHNORM_EVAL,
};

static void test_every_op_tested(void **state)
{
    (void)state;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (!op->forward) continue;
        bool found = false;
        for (size_t i = 0; i < NN_ARRAY_LEN(tested_ops); i++) found |= (int)tested_ops[i] == k;
        if (!found) {
            print_error("op %s ('%s') has no forward test\n", op->enum_name, op->name);
            fail();
        }
    }
}

static void test_table_consistent(void **state)
{
    (void)state;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        assert_int_equal(op->kind, k);
        assert_non_null(op->enum_name);
        assert_non_null(op->name);
        assert_non_null(op->text);
        assert_non_null(op->shape);
        assert_in_range(op->arity, 0, NN_OP_MAX_IN);
        if (op->flags & OPF_LEAF) {
            assert_int_equal(op->arity, 0);
            assert_null(op->backward);
            assert_false(op->flags & OPF_AUX);
            /* constructors fill themselves (the callable ones, and the initialisers the
             * compiler makes for dense layers); const and param are set from outside */
            if (k == OP_CONST || k == OP_PARAM || k == OP_BUFFER) {
                assert_null(op->forward);
                assert_int_equal(op->sig, SIG_LEAF);
            } else {
                assert_non_null(op->forward);
            }
            if (op->sig == SIG_FANS) assert_true(op->flags & OPF_RANDOM);
        } else {
            /* only ops through which no gradient flows may lack a backward kernel */
            if (!op->forward || (!op->backward && !(op->flags & OPF_NO_GRAD))) {
                print_error("op %s lacks a forward or backward kernel\n", op->enum_name);
                fail();
            }
            assert_true(op->arity >= 1);
            /* the compiler's own non-leaf ops: p.grad (no gradient), x[i], x[a:b] and a
             * batchnorm layer's */
            assert_true(op->sig != SIG_LEAF || (op->flags & OPF_NO_GRAD) || k == OP_INDEX ||
                        k == OP_SLICE || k == OP_BATCHNORM || k == OP_BATCHNORM_EVAL);
            /* a constructor signature makes a leaf */
            assert_true(op->sig != SIG_DIMS && op->sig != SIG_FULL && op->sig != SIG_EYE &&
                        op->sig != SIG_FANS);
        }
        /* no gradient: no backward kernel, nor a text for one */
        if (op->flags & OPF_NO_GRAD) {
            assert_null(op->backward);
            assert_false(op->flags & OPF_LEAF);
        }
        /* a signature fixes the arity the front end checks against */
        switch (op->sig) {
        case SIG_UNARY: case SIG_LEAKY: case SIG_REDUCE: case SIG_AXIS: case SIG_PROB:
            assert_int_equal(op->arity, 1);
            break;
        case SIG_CLAMP: case SIG_RESHAPE: case SIG_ONE_HOT:
            assert_int_equal(op->arity, 1);
            break;
        case SIG_LOSS: case SIG_BINARY: case SIG_CONCAT:
            assert_int_equal(op->arity, 2);
            break;
        case SIG_POOL:
            assert_int_equal(op->arity, 1);
            break;
        case SIG_WHERE: case SIG_CONV: case SIG_NORM:
            assert_int_equal(op->arity, 3);
            break;
        case SIG_DIMS: case SIG_FULL: case SIG_EYE: case SIG_FANS:
            assert_int_equal(op->arity, 0);
            break;
        case SIG_LEAF: case SIG_OPERATOR:
            break;
        }
        /* a random op that is not a leaf draws on every pass and keeps its draw for backward */
        if ((op->flags & OPF_RANDOM) && !(op->flags & OPF_LEAF)) {
            assert_true(op->flags & OPF_AUX);
            assert_int_equal(op->sig, SIG_PROB);
        }
        if (op->sig == SIG_PROB) assert_true(op->flags & OPF_RANDOM);
        /* a loss or a metric is a scalar function of two tensors, never elementwise */
        if (op->sig == SIG_LOSS) assert_false(op->flags & OPF_ELEMENTWISE);
        /* a differentiable elementwise op has a derivative and a text for every input (the
         * trace prints them for any input that needs a gradient); comparisons have neither */
        if ((op->flags & OPF_ELEMENTWISE) && (op->flags & OPF_NO_GRAD)) {
            assert_null(op->deriv);
            for (int i = 0; i < NN_OP_MAX_IN; i++) assert_null(op->dtext[i]);
        } else if (op->flags & OPF_ELEMENTWISE) {
            if (!op->deriv) {
                print_error("elementwise op %s has no derivative\n", op->enum_name);
                fail();
            }
            for (int i = 0; i < op->arity; i++) {
                if (!op->dtext[i]) {
                    print_error("elementwise op %s has no text for input %d\n", op->enum_name, i);
                    fail();
                }
            }
        }
        /* every differentiable op explains how the gradient reaches each input, except an
         * input that gets none from a non-elementwise op (the position given to index,
         * batchnorm's running statistics) */
        if (!(op->flags & OPF_NO_GRAD))
            for (int i = 0; i < op->arity; i++)
                if (!op->dtext[i] && !(k == OP_INDEX && i == 1)
                    && !((k == OP_BATCHNORM || k == OP_BATCHNORM_EVAL) && i >= 3)) {
                    print_error("op %s has no text for input %d\n", op->enum_name, i);
                    fail();
                }
        for (int i = op->arity; i < NN_OP_MAX_IN; i++) assert_null(op->dtext[i]);
        /* every word users call has its help; operators and the compiler's ops have none */
        bool callable = op->sig != SIG_LEAF && op->sig != SIG_OPERATOR;
        assert_true((op->help_text != NULL) == callable);
        assert_true((op->help_example != NULL) == callable);
        /* names are unique */
        for (int j = 0; j < k; j++) assert_string_not_equal(op_info((OpKind)j)->name, op->name);
    }
}

static void test_lookup(void **state)
{
    (void)state;
    int callable = 0;
    for (int k = 0; k < OP_COUNT; k++) {
        const OpInfo *op = op_info((OpKind)k);
        if (op->sig == SIG_LEAF || op->sig == SIG_OPERATOR) {
            assert_null(op_lookup(op->name));      /* operators and compiler leaves: no */
        } else {
            assert_ptr_equal(op_lookup(op->name), op);
            callable++;
        }
    }
    assert_true(callable >= 30);
    assert_ptr_equal(op_lookup("sigmoid"), op_info(OP_SIGMOID));
    assert_ptr_equal(op_lookup("softmax"), op_info(OP_SOFTMAX));
    assert_ptr_equal(op_lookup("log_softmax"), op_info(OP_LOG_SOFTMAX));
    assert_ptr_equal(op_lookup("argmax"), op_info(OP_ARGMAX));
    assert_ptr_equal(op_lookup("dropout"), op_info(OP_DROPOUT));
    assert_ptr_equal(op_lookup("mse"), op_info(OP_MSE));
    assert_ptr_equal(op_lookup("l1"), op_info(OP_L1));
    assert_ptr_equal(op_lookup("bce"), op_info(OP_BCE));
    assert_ptr_equal(op_lookup("bce_logits"), op_info(OP_BCE_LOGITS));
    assert_ptr_equal(op_lookup("cross_entropy"), op_info(OP_CROSS_ENTROPY));
    assert_ptr_equal(op_lookup("accuracy"), op_info(OP_ACCURACY));
    assert_ptr_equal(op_lookup("xavier"), op_info(OP_XAVIER));
    assert_ptr_equal(op_lookup("he"), op_info(OP_HE));
    assert_null(op_lookup("init_uniform"));     /* only the compiler makes these */
    assert_null(op_lookup("init_normal"));
    assert_ptr_equal(op_lookup("leaky_relu"), op_info(OP_LEAKY_RELU));
    assert_ptr_equal(op_lookup("randn"), op_info(OP_RANDN));
    assert_ptr_equal(op_lookup("mean"), op_info(OP_MEAN));
    assert_null(op_lookup("+"));
    assert_null(op_lookup("@"));
    assert_null(op_lookup("nosuch"));
    assert_null(op_lookup(""));
    assert_null(op_lookup("const"));
    assert_null(op_lookup("param"));
    assert_null(op_lookup("Sigmoid"));
    assert_null(op_lookup("sigmoid "));
}

/* Shape rules report mismatches instead of failing silently. */
static void test_shape_errors(void **state)
{
    (void)state;
    StrBuf err;
    sb_init(&err);
    Shape out, in[2];
    OpAttrs at = no_attrs();

    in[0] = mkshape(2, 4, 3), in[1] = mkshape(1, 4);
    assert_false(op_info(OP_ADD)->shape(op_info(OP_ADD), in, &at, &out, &err));
    assert_non_null(err.data);
    assert_string_equal(err.data, "cannot broadcast [4,3] + [4]: sizes 3 and 4 differ in "
                                  "dimension 1 from the right, and neither is 1");
    sb_clear(&err);

    in[0] = mkshape(2, 2, 3), in[1] = mkshape(2, 2, 3);
    assert_false(op_info(OP_MATMUL)->shape(op_info(OP_MATMUL), in, &at, &out, &err));
    assert_non_null(strstr(err.data, "inner sizes 3 and 2 differ"));
    sb_clear(&err);

    in[0] = mkshape(0), in[1] = mkshape(2, 2, 3);
    assert_false(op_info(OP_MATMUL)->shape(op_info(OP_MATMUL), in, &at, &out, &err));
    assert_non_null(strstr(err.data, "use '*'"));
    sb_clear(&err);

    in[0] = mkshape(3, 2, 3, 4);
    assert_false(op_info(OP_TRANSPOSE)->shape(op_info(OP_TRANSPOSE), in, &at, &out, &err));
    assert_non_null(strstr(err.data, "[2,3,4]"));
    sb_clear(&err);

    at.axis = 2;
    in[0] = mkshape(2, 2, 3);
    assert_false(op_info(OP_SUM)->shape(op_info(OP_SUM), in, &at, &out, &err));
    assert_non_null(strstr(err.data, "axis 2 is out of range"));
    sb_clear(&err);
    at.axis = -3;
    assert_false(op_info(OP_MEAN)->shape(op_info(OP_MEAN), in, &at, &out, &err));
    assert_non_null(strstr(err.data, "axis -3"));
    sb_free(&err);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_add),
        T(test_sub),
        T(test_mul),
        T(test_div),
        T(test_pow),
        T(test_neg),
        T(test_exp),
        T(test_log),
        T(test_sqrt),
        T(test_abs),
        T(test_sigmoid),
        T(test_tanh),
        T(test_relu),
        T(test_leaky_relu),
        T(test_softplus),
        T(test_matmul),
        T(test_transpose),
        T(test_reduce_2d),
        T(test_reduce_3d),
        T(test_constructors),
        T(test_random_constructors),
        T(test_grad),
        T(test_softmax),
        T(test_log_softmax),
        T(test_argmax),
        T(test_dropout),
        T(test_mse_l1),
        T(test_bce),
        T(test_bce_logits),
        T(test_cross_entropy),
        T(test_accuracy),
        T(test_initialisers),
        T(test_backward_seeded),
        T(test_broadcast_grad_in_double),
        T(test_aux),
        T(test_new_shape_rules),
        T(test_compare),
        T(test_logic),
        T(test_where),
        T(test_maximum_minimum),
        T(test_clamp),
        T(test_reduce_axes),
        T(test_max_min),
        T(test_reshape),
        T(test_concat),
        T(test_index),
        T(test_slice),
        T(test_one_hot),
        T(test_images),
        T(test_layernorm),
        T(test_batchnorm),
        T(test_shape_rules_elementwise),
        T(test_shape_rules_reduce),
        T(test_shape_rules_structural),
        T(test_trace_words),
        T(test_mod_detach),
        T(test_every_op_tested),
        T(test_table_consistent),
        T(test_lookup),
        T(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
