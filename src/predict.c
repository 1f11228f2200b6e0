/* predict.c — a model's predictions over its input space, as JSON events (predict.h). */
#include "predict.h"

#include <math.h>
#include <string.h>

#define MAX_POINTS 1000

static GraphNode *node(Runtime *rt, uint32_t id)
{
    return graph_node(&rt->graph, id);
}

/* Column c of X's first `rows` rows: its range, widened by 10 % each side (1 if it is flat). */
static void span_of(const GraphNode *X, int rows, int c, double *lo, double *hi)
{
    int cols = X->shape.dim[1];
    double a = INFINITY, b = -INFINITY;
    for (int r = 0; r < rows; r++) {
        double v = X->value[(size_t)r * (size_t)cols + (size_t)c];
        a = fmin(a, v);
        b = fmax(b, v);
    }
    double pad = b > a ? 0.1 * (b - a) : 1;
    *lo = a - pad;
    *hi = b + pad;
}

/* A row's target as the page colours it: the class (the largest of several columns), or the
 * value of one. */
static double target(const GraphNode *Y, int r)
{
    int k = Y->shape.rank > 1 ? Y->shape.dim[1] : 1;
    const float *y = Y->value + (size_t)r * (size_t)k;
    int best = 0;
    for (int j = 1; j < k; j++)
        if (y[j] > y[best]) best = j;
    return k > 1 ? best : y[0];
}

void predict_begin(Runtime *rt, const TrainInstr *t, int block, const char *run)
{
    if (!t->has_grid || rt->trace_format != TRACE_JSON) return;
    const GraphNode *X = node(rt, t->X), *Y = node(rt, t->Y);
    GraphNode *g = node(rt, t->grid_x);
    int in = X->shape.dim[1], rows = t->train_rows;
    double lo[2] = { 0, 0 }, hi[2] = { 1, 1 };
    for (int c = 0; c < in; c++) span_of(X, rows, c, &lo[c], &hi[c]);
    if (in == 1) {
        for (int i = 0; i < TRAIN_GRID_1D; i++)
            g->value[i] = (float)(lo[0] + (hi[0] - lo[0]) * i / (TRAIN_GRID_1D - 1));
    } else {
        for (int i = 0; i < TRAIN_GRID_2D; i++)         /* row i: x1; column j: x0 */
            for (int j = 0; j < TRAIN_GRID_2D; j++) {
                float *p = g->value + 2 * ((size_t)i * TRAIN_GRID_2D + (size_t)j);
                p[0] = (float)(lo[0] + (hi[0] - lo[0]) * j / (TRAIN_GRID_2D - 1));
                p[1] = (float)(lo[1] + (hi[1] - lo[1]) * i / (TRAIN_GRID_2D - 1));
            }
    }
    StrBuf *out = &rt->out;
    rt_block_event(rt, "points", block, run);
    sb_printf(out, ",\"inputs\":%d,\"range\":[", in);
    for (int c = 0; c < in; c++) sb_printf(out, "%s[%.9g,%.9g]", c ? "," : "", lo[c], hi[c]);
    sb_puts(out, "],\"x\":[");
    int n = rows < MAX_POINTS ? rows : MAX_POINTS;
    for (int r = 0; r < n; r++) {
        sb_puts(out, r ? ",[" : "[");
        for (int c = 0; c < in; c++)
            sb_printf(out, "%s%.9g", c ? "," : "", X->value[(size_t)r * (size_t)in + (size_t)c]);
        sb_putc(out, ']');
    }
    sb_puts(out, "],\"y\":[");
    for (int r = 0; r < n; r++) sb_printf(out, "%s%.9g", r ? "," : "", target(Y, r));
    sb_puts(out, "]}\n");
    rt_flush(rt);
}

void predict_pass(Runtime *rt, const TrainInstr *t, int block, long step)
{
    if (!t->has_grid || rt->trace_format != TRACE_JSON) return;
    /* unchecked: a diverging model is the train block's to report; its grid shows null */
    graph_forward(&rt->graph, &t->grid_plan, &rt->rng, NULL, NULL);
    const GraphNode *o = node(rt, t->grid_out);
    int rows = o->shape.dim[0], k = o->shape.rank > 1 ? o->shape.dim[1] : 1;
    /* what the numbers are: logits (bce_logits), probabilities (bce), classes (several
     * outputs: the largest), or values (regression) */
    const char *kind = k > 1 ? "class" : t->loss_op == OP_BCE_LOGITS ? "logit"
                     : t->loss_op == OP_BCE ? "probability" : "value";
    StrBuf *out = &rt->out;
    rt_block_event(rt, "grid", block, NULL);
    sb_printf(out, ",\"step\":%ld,\"kind\":\"%s\",\"out\":[", step, kind);
    for (int r = 0; r < rows; r++) {
        const float *v = o->value + (size_t)r * (size_t)k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (v[j] > v[best]) best = j;
        if (k > 1) sb_printf(out, "%s%d", r ? "," : "", best);
        else if (isfinite(v[0])) sb_printf(out, "%s%.6g", r ? "," : "", v[0]);
        else sb_printf(out, "%snull", r ? "," : "");
    }
    sb_puts(out, "]}\n");
    rt_flush(rt);
}
