/* focus.h — which parts of a network a trace shows. The checker resolves the places of
 * `trace loss at net.layer1[3]` and `trace step N at layer2` to these; lowering copies them into
 * the program; the trace matches them against the `group` of each graph node. */
#ifndef NN_FOCUS_H
#define NN_FOCUS_H

typedef struct TracePlace {
    const char *group;      /* a layer of a model, as graph nodes name it: "net.layer1" (interned) */
    int unit;               /* 0, 1, ...: one unit of the layer, zoomed into; -1: the whole layer
                               (a conv layer's unit: an output channel) */
    int pixel[2];           /* a conv layer's unit: the output pixel's row and column (conv1d:
                               0 and the position); else -1 */
    int numbers;            /* how many the place was written with: 0 (a layer), 1 (a unit),
                               2 (a conv1d channel and position) or 3 (channel, row, column) */
} TracePlace;

/* No places (count 0): the whole graph. */
typedef struct TraceFocus {
    const TracePlace *places;
    int count;
} TraceFocus;

#endif
