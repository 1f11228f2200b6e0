/* test_ops.c — unit tests for the op table (ops.def, ops.c): the forward value of every op on
 * hand-computed inputs, run through graph_add / graph_plan / graph_forward, and the table's
 * consistency (kernels, derivatives, trace texts, lookup by name). */
#include "testutil.h"

#include "arena.h"
#include "graph.h"
#include "ops.h"
#include "rng.h"
#include "tensor.h"

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
        if (!(fabs(got - w) <= tol * scale)) {
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

/* ---- the table itself ------------------------------------------------------------------- */

/* Every op with a forward kernel, as tested above. A new op in ops.def fails this test until
 * its forward is tested here. */
static const OpKind tested_ops[] = {
    OP_ZEROS, OP_ONES, OP_FULL, OP_EYE, OP_RAND, OP_RANDN,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW,
    OP_NEG, OP_EXP, OP_LOG, OP_SQRT, OP_ABS, OP_SIGMOID, OP_TANH, OP_RELU, OP_LEAKY_RELU,
    OP_SOFTPLUS, OP_MATMUL, OP_TRANSPOSE, OP_SUM, OP_MEAN, OP_GRAD,
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
        assert_in_range(op->arity, 0, 2);
        if (op->flags & OPF_LEAF) {
            assert_int_equal(op->arity, 0);
            assert_null(op->backward);
            /* constructors are callable and fill themselves; compiler-made leaves are not */
            if (op->sig == SIG_LEAF) {
                assert_null(op->forward);
            } else {
                assert_non_null(op->forward);
            }
        } else {
            /* only ops through which no gradient flows may lack a backward kernel */
            if (!op->forward || (!op->backward && !(op->flags & OPF_NO_GRAD))) {
                print_error("op %s lacks a forward or backward kernel\n", op->enum_name);
                fail();
            }
            assert_true(op->arity >= 1);
            assert_true(op->sig != SIG_LEAF || (op->flags & OPF_NO_GRAD));
            assert_false(op->flags & OPF_RANDOM);
        }
        if (op->flags & OPF_RANDOM) assert_true(op->flags & OPF_LEAF);
        if (op->flags & OPF_ELEMENTWISE) {
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
        /* every differentiable op explains how the gradient reaches each input */
        if (!(op->flags & OPF_NO_GRAD))
            for (int i = 0; i < op->arity; i++) assert_non_null(op->dtext[i]);
        for (int i = op->arity; i < 2; i++) assert_null(op->dtext[i]);
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
    assert_true(callable >= 17);
    assert_ptr_equal(op_lookup("sigmoid"), op_info(OP_SIGMOID));
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
        T(test_every_op_tested),
        T(test_table_consistent),
        T(test_lookup),
        T(test_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
