/* plot.c — charts of training's numbers as text (plot.h). */
#include "plot.h"

#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LEFT 80             /* the plot area: x from LEFT to RIGHT, y from TOP to BOTTOM */
#define RIGHT 620
#define TOP 30
#define BOTTOM 330
#define LEGEND_ROW 18

/* Text in an SVG element: the three characters XML gives meaning to, escaped. */
static void put_xml(StrBuf *sb, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') sb_puts(sb, "&lt;");
        else if (*s == '>') sb_puts(sb, "&gt;");
        else if (*s == '&') sb_puts(sb, "&amp;");
        else sb_putc(sb, *s);
    }
}

const char *plot_colour(int k)
{
    static const char *const colours[] = { "#1f6feb", "#e8590c", "#2b8a3e", "#9c36b5",
                                           "#c92a2a", "#0b7285", "#5c940d", "#862e9c" };
    return colours[k % (int)NN_ARRAY_LEN(colours)];
}

/* The legend's text for a series: "label: first -> last". */
static void legend_text(const PlotSeries *p, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s: %.3g \u2192 %.3g", p->label, p->v[0], p->v[p->n - 1]);
}

/* How wide a legend entry is drawn (a 12 px sans-serif font, about 6.5 px a character). */
static double legend_width(const PlotSeries *p)
{
    char text[256];
    legend_text(p, text, sizeof text);
    size_t chars = 0;
    for (const char *c = text; *c; c++) chars += ((unsigned char)*c & 0xC0) != 0x80;
    return 26 + 6.5 * (double)chars;
}

/* Rows the legend of c takes (0: a chart of one line has none). */
static int legend_rows(const PlotChart *c)
{
    int shown = 0, rows = 1;
    double x = 0;
    for (int k = 0; k < c->count; k++) {
        if (c->series[k].n < 1 || !c->series[k].label) continue;
        double w = legend_width(&c->series[k]);
        if (x > 0 && x + w > RIGHT - LEFT) {
            rows++;
            x = 0;
        }
        x += w;
        shown++;
    }
    return shown > 1 ? rows : 0;
}

static int chart_height(const PlotChart *c)
{
    int rows = legend_rows(c);
    return PLOT_HEIGHT + (rows ? LEGEND_ROW * rows + 8 : 0);
}

static void polyline(StrBuf *sb, const PlotSeries *p, double xmax, double lo, double hi, bool logy)
{
    sb_printf(sb, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
              p->colour, p->dashed ? " stroke-dasharray=\"6 4\"" : "");
    for (int i = 0; i < p->n; i++) {
        double x = LEFT + (RIGHT - LEFT) * (double)(i + 1) * (double)p->every / xmax;
        double f = logy ? (log10(p->v[i]) - log10(lo)) / (log10(hi) - log10(lo))
                        : (p->v[i] - lo) / (hi > lo ? hi - lo : 1);
        sb_printf(sb, "%s%.1f,%.1f", i ? " " : "", x, BOTTOM - (BOTTOM - TOP) * f);
    }
    sb_puts(sb, "\"/>\n");
}

static void legend(StrBuf *sb, const PlotChart *c)
{
    if (!legend_rows(c)) return;
    double x = 0, y = PLOT_HEIGHT + 10;
    for (int k = 0; k < c->count; k++) {
        const PlotSeries *p = &c->series[k];
        if (p->n < 1 || !p->label) continue;
        double w = legend_width(p);
        if (x > 0 && x + w > RIGHT - LEFT) {
            x = 0;
            y += LEGEND_ROW;
        }
        char text[256];
        legend_text(p, text, sizeof text);
        sb_printf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"3\"%s/>\n", LEFT + x, y - 4, LEFT + x + 18, y - 4, p->colour,
                  p->dashed ? " stroke-dasharray=\"6 4\"" : "");
        sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\">", LEFT + x + 22, y);
        put_xml(sb, text);
        sb_puts(sb, "</text>\n");
        x += w;
    }
}

static void chart(StrBuf *sb, const PlotChart *c, int top)
{
    double lo = INFINITY, hi = -INFINITY, xmax = 0;
    for (int k = 0; k < c->count; k++) {
        const PlotSeries *p = &c->series[k];
        for (int i = 0; i < p->n; i++) {
            lo = fmin(lo, p->v[i]);
            hi = fmax(hi, p->v[i]);
        }
        xmax = fmax(xmax, (double)p->n * (double)p->every);
    }
    if (!(xmax > 0)) return;
    bool logy = lo > 0 && hi / lo > (c->log_span > 0 ? c->log_span : 100);
    sb_printf(sb, "<g transform=\"translate(0,%d)\">\n", top);
    sb_printf(sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
                  "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n",
              LEFT, TOP, LEFT, BOTTOM, LEFT, BOTTOM, RIGHT, BOTTOM);
    sb_printf(sb, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", LEFT - 5, TOP + 4, hi);
    sb_printf(sb, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", LEFT - 5,
              BOTTOM + 4, lo);
    sb_printf(sb, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s %.0f</text>\n", RIGHT,
              BOTTOM + 20, c->xname, xmax);
    sb_printf(sb, "<text x=\"%d\" y=\"18\">", LEFT);
    put_xml(sb, c->title);
    sb_printf(sb, "%s</text>\n", logy ? " (log scale)" : "");
    for (int k = 0; k < c->count; k++)
        if (c->series[k].n > 0) polyline(sb, &c->series[k], xmax, lo, hi, logy);
    legend(sb, c);
    sb_puts(sb, "</g>\n");
}

void plot_svg(StrBuf *sb, const PlotChart *charts, int count)
{
    int height = 0;
    for (int i = 0; i < count; i++) height += chart_height(&charts[i]);
    sb_printf(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
              PLOT_WIDTH, height, PLOT_WIDTH, height);
    int top = 0;
    for (int i = 0; i < count; i++) {
        chart(sb, &charts[i], top);
        top += chart_height(&charts[i]);
    }
    sb_puts(sb, "</svg>\n");
}

void plot_sparkline(StrBuf *out, const char *label, const float *v, int n)
{
    static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
    int width = n < 60 ? n : 60;
    if (n < 2) return;
    double lo = INFINITY, hi = -INFINITY, col[60];
    for (int c = 0; c < width; c++) {
        int a = c * n / width, b = (c + 1) * n / width;
        double sum = 0;
        for (int i = a; i < b; i++) sum += v[i];
        col[c] = sum / (b - a);
        lo = fmin(lo, col[c]);
        hi = fmax(hi, col[c]);
    }
    sb_printf(out, "%s ", label);
    for (int c = 0; c < width; c++) {
        int level = hi > lo ? (int)((col[c] - lo) / (hi - lo) * 7.0 + 0.5) : 0;
        sb_puts(out, bars[level]);
    }
    char first[32], last[32];
    sb_printf(out, "  %s -> %s\n", fmt_num(v[0], first), fmt_num(v[n - 1], last));
}
