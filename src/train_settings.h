/* train_settings.h — a train block's settings as one record, from the checker (which fills it
 * from the rows of src/settings.def) through lowering (which copies it whole) to the loop
 * (src/train.c). Plain values only: strings and places it refers to live with their owner. */
#ifndef NN_TRAIN_SETTINGS_H
#define NN_TRAIN_SETTINGS_H

#include "optim.h"

typedef struct TrainSettings {
    int epochs;             /* passes over the data (train LOSS: updates) */
    int batch;              /* rows per batch (0 before the checker sets it: all) */
    int accumulate;         /* batches per update */
    int log_every;          /* a log line every N epochs (0: none) */
    int grad_norms_every;   /* each layer's gradient norm every N updates (0: none) */
    int patience;           /* early stop after N epochs without a better loss (0: none) */
    int trace_step;         /* explain update N (0: none) */
    int trace_every;        /* explain every N-th update (0: none) */
    double clip;            /* the largest global gradient norm (0: no clipping) */
    int shuffle;            /* 1: the rows in a new random order every epoch; 0: as given */
    bool metric;            /* report accuracy (or the metric formula) */
    OptimConfig optim;
    Schedule sched;
    bool sched_per_update;  /* the schedule counts updates, not epochs */
    long break_step;        /* breakpoints: before update N (0: none), */
    bool break_nonfinite;   /* at the first inf or NaN, */
    double break_grad_norm; /* when the gradient norm is above this (0: never) */
} TrainSettings;

#endif
