/* plot.h — charts of training's numbers as text: a line of block characters for a terminal, and
 * SVG charts for --plot. Pure rendering, numbers in and text out: nothing here knows about graphs
 * or training (train.c gathers the numbers). */
#ifndef NN_PLOT_H
#define NN_PLOT_H

#include "common.h"
#include "strbuf.h"

/* One line of a chart: n values at x = every, 2 every, ... n every. */
typedef struct PlotSeries {
    const char *label;      /* for the legend; NULL: none (a chart of one line) */
    const float *v;
    int n;
    long every;
    const char *colour;     /* an SVG colour, e.g. "#1f6feb" */
    bool dashed;
} PlotSeries;

typedef struct PlotChart {
    const char *title;      /* top left, e.g. "mse" or "gradient norm by layer" */
    const char *xname;      /* "epoch", "update" */
    const PlotSeries *series;
    int count;
    double log_span;        /* a log scale when the values span more than this factor (0: 100) */
} PlotChart;

/* The width of a chart, and the height of one without a legend (a legend adds rows). */
#define PLOT_WIDTH 640
#define PLOT_HEIGHT 360

/* An SVG document of `count` charts stacked top down. Each: axes, the values' range (a log scale
 * when all are positive and span more than the chart's log_span), x from 0 to the longest
 * series' last x, one polyline per series and, for several series, a legend under the chart
 * with each one's first and last value. Series without values are left out. */
void plot_svg(StrBuf *sb, const PlotChart *charts, int count);
/* The colour of line k of a chart of several: distinct, readable on white. */
const char *plot_colour(int k);

/* One line for a terminal: `label`, the values as block characters (at most 60, each the mean of
 * its share of the values, the highest the tallest), then "first -> last". Nothing for n < 2. */
void plot_sparkline(StrBuf *out, const char *label, const float *v, int n);

#endif
