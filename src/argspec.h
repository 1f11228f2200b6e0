/* argspec.h — what the arguments of a built-in word may be: one row per argument, with its
 * kind, default and allowed range. Plain data, so that engine tables (optimizers, schedules) and
 * front-end tables (layers, data functions, train settings) describe their arguments the same
 * way, and one checker reads them all: the same messages for every word ("'adam' has no
 * argument 'betas' (it takes lr, beta1, ...)", "'momentum' must be at least 0 and below 1"),
 * and `:help` can list them. */
#ifndef NN_ARGSPEC_H
#define NN_ARGSPEC_H

#include <math.h>
#include <stdbool.h>

typedef enum ArgKind {
    ARG_NUMBER,     /* a constant number */
    ARG_INT,        /* a constant integer */
    ARG_FLAG,       /* 0 (off) or 1 (on) */
    ARG_STRING,     /* a string: a file or column name */
    ARG_NAME,       /* a word, such as an initialiser's name: init = he */
    ARG_SHAPE,      /* a list of sizes, such as an image's: shape = [1, 8, 8] */
} ArgKind;

typedef struct ArgSpec {
    const char *name;       /* as written: lr, momentum, every */
    ArgKind kind;
    bool required;          /* no default: it must be given */
    double def;             /* the default, for numbers */
    double lo, hi;          /* the allowed range, for numbers */
    bool lo_open, hi_open;  /* the bound itself is excluded */
    const char *range;      /* the rule in words, for "'%s' must be %s": "positive",
                               "at least 0 and below 1" */
} ArgSpec;

/* Whether v is allowed by spec's range (NaN never is). */
static inline bool argspec_in_range(const ArgSpec *spec, double v)
{
    if (v != v) return false;
    if (spec->lo_open ? !(v > spec->lo) : !(v >= spec->lo)) return false;
    if (spec->hi_open ? !(v < spec->hi) : !(v <= spec->hi)) return false;
    if ((spec->kind == ARG_INT || spec->kind == ARG_FLAG) && v != floor(v)) return false;
    if (spec->kind == ARG_FLAG && v != 0 && v != 1) return false;
    return true;
}

#endif
