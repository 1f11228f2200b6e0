/* sema_data.c — checks data sets: `let` of a data function (the rows of src/datafns.def: csv,
 * images, the generated sets, split, normalize), and printing a model or a data set, or a data
 * set's class names. csv files, image folders and row lists are read here, while checking, so
 * a bad file is a compile error. Stands on sema_args.c. */
#include "sema_data.h"

#include "sema_args.h"
#include "sandbox.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- data sets ------------------------------------------------------------------------------- */

/* A data set's symbols: X [rows, *sample] (sample NULL: [features]) and Y [rows, targets]. */
static Symbol *data_symbol(Sema *s, AstNode *name, int rows, const Shape *sample, int features,
                           int targets)
{
    DataSym *d = nn_calloc(1, sizeof *d);
    d->rows = rows;
    d->features = features;
    d->targets = targets;
    d->sample = shape_scalar();
    d->sample.rank = 1;
    d->sample.dim[0] = features;
    if (sample) d->sample = *sample;
    Shape x = shape_scalar(), y = shape_scalar();
    y.rank = 2;
    x.dim[0] = y.dim[0] = rows;
    x.rank = 1 + d->sample.rank;
    for (int i = 0; i < d->sample.rank; i++) x.dim[1 + i] = d->sample.dim[i];
    y.dim[1] = targets;
    d->X = sema_add_symbol(s, sema_dotted(s, name->u.name, "X"), SYM_LET, name->span);
    d->X->shape = x;
    d->Y = sema_add_symbol(s, sema_dotted(s, name->u.name, "Y"), SYM_LET, name->span);
    d->Y->shape = y;
    Symbol *sym = sema_add_symbol(s, name->u.name, SYM_DATA, name->span);
    sym->data = d;
    return sym;
}

static void set_classes(DataSym *d, char *const *names, int n)
{
    d->n_classes = n;
    d->class_names = n ? nn_calloc((size_t)n, sizeof *d->class_names) : NULL;
    for (int i = 0; i < n; i++) d->class_names[i] = nn_strndup(names[i], strlen(names[i]));
}

static void describe(DataSym *d, const char *how)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "data set: %d rows, X [%d", d->rows, d->rows);
    for (int i = 0; i < d->sample.rank; i++) sb_printf(&sb, ", %d", d->sample.dim[i]);
    sb_printf(&sb, "], Y [%d, %d]", d->rows, d->targets);
    if (d->n_classes) {
        sb_printf(&sb, ", %d classes (", d->n_classes);
        for (int i = 0; i < d->n_classes; i++)
            sb_printf(&sb, "%s%s", i ? ", " : "", d->class_names[i]);
        sb_putc(&sb, ')');
    }
    sb_printf(&sb, "; %s", how);
    d->about = sema_take_text(&sb);
}

/* Marks every name of a failed data statement, so later uses are not reported again. */
static void poison_names(Sema *s, const AstList *names)
{
    for (size_t i = 0; i < names->count; i++) {
        Symbol *sym = sema_add_symbol(s, names->items[i]->u.name, SYM_DATA,
                                      names->items[i]->span);
        sym->poisoned = true;
    }
}

static Symbol *data_arg(Sema *s, AstNode *e, const char *fn)
{
    if (e && e->kind == AST_NAME) {
        Symbol *sym = sema_lookup(s, e->u.name);
        if (sym && sym->kind == SYM_DATA) return sym->poisoned ? NULL : sym;
        if (!sym) {
            sema_error(s, e->span, "unknown name '%s'", e->u.name);
            return NULL;
        }
    }
    sema_error(s, e ? e->span : (Span){ 0 }, "'%s' takes data sets (made by csv, images, "
               "split, normalize or a generator such as moons)", fn);
    return NULL;
}

/* ---- the data function table (src/datafns.def) ----------------------------------------------- */

typedef struct DataFnRow DataFnRow;

/* A data function's reader: checks the call and defines the sets named by `names` (into sd).
 * False after reporting. */
typedef bool (*DataCheckFn)(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                            const AstList *names);

struct DataFnRow {
    const char *name;
    DataFn fn;
    DataCheckFn check;
    const ArgForm *args;
    int sets;
    const char *usage;
};

static bool check_csv(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                      const AstList *names);
static bool check_images(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                         const AstList *names);
static bool check_toy(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                      const AstList *names);
static bool check_split(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                        const AstList *names);
static bool check_normalize(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                            const AstList *names);

/* csv("FILE", target = "COLUMN", shape = [C, H, W]) */
static const ArgSpec csv_specs[] = {
    { "file", ARG_STRING, true, 0, 0, 0, false, false, NULL },
    { "target", ARG_STRING, true, 0, 0, 0, false, false, NULL },
    { "shape", ARG_SHAPE, false, 0, 0, 0, false, false, NULL },
};
static const char *const csv_what[] = { "a file name", "the name of the target column",
                                        "the shape of one row" };
static const ArgForm csv_args = { csv_specs, 3, 1, 1, csv_what, NULL,
                                  "csv(\"iris.csv\", target = \"species\")" };

/* images("FOLDER", shape = [C, H, W]) */
static const ArgSpec images_specs[] = {
    { "folder", ARG_STRING, true, 0, 0, 0, false, false, NULL },
    { "shape", ARG_SHAPE, false, 0, 0, 0, false, false, NULL },
};
static const char *const images_what[] = { "a folder name", "the shape of one image" };
static const ArgForm images_args = { images_specs, 2, 1, 1, images_what, NULL,
                                     "images(\"digits\", shape = [1, 8, 8])" };

/* A list of sizes (shape = [1, 8, 8], the shape of `what`) into *out, and the number of values
 * it holds into *size (a double: a product of sizes can overflow an integer). */
static bool read_shape(Sema *s, AstNode *v, const char *what, Shape *out, double *size)
{
    if (v->kind != AST_TENSOR || v->u.list.count < 1 || v->u.list.count > NN_MAX_RANK - 1) {
        sema_error(s, v->span, "'shape' is the shape of %s, a list of up to %d sizes: shape = "
                   "[1, 8, 8] (channels, height, width)", what, NN_MAX_RANK - 1);
        return false;
    }
    *out = shape_scalar();
    *size = 1;
    for (size_t i = 0; i < v->u.list.count; i++) {
        long d;
        if (!sema_const_int(s, v->u.list.items[i], "a size", 1, 1e6, &d)) return false;
        out->dim[out->rank++] = (int)d;
        *size *= (double)d;
    }
    return true;
}

/* shape = [1, 8, 8]: each row of features is one example of that shape (an image of C
 * channels of H x W pixels, row by row, as PyTorch lays it out); absent: [features]. */
static bool csv_shape(Sema *s, AstNode *v, int features, Shape *out)
{
    *out = shape_scalar();
    out->rank = 1;
    out->dim[0] = features;
    if (!v) return true;
    double size;
    if (!read_shape(s, v, "one row's features", out, &size)) return false;
    if (size != features) {
        char buf[64];
        sema_error(s, v->span, "the rows have %d features, but the shape %s holds %.0f",
                   features, shape_str(out, buf, sizeof buf), size);
        return false;
    }
    return true;
}

/* images' shape = [...]: the shape of one example, any that holds an image's C x H x W values
 * (in that order: [64] flattens 1 x 8 x 8 images); absent: [C, H, W]. */
static bool images_shape(Sema *s, AstNode *v, const int dims[3], Shape *out)
{
    *out = shape_scalar();
    out->rank = 3;
    for (int i = 0; i < 3; i++) out->dim[i] = dims[i];
    if (!v) return true;
    double size, have = (double)dims[0] * dims[1] * dims[2];
    Shape want;
    if (!read_shape(s, v, "one image's values", &want, &size)) return false;
    if (size != have) {
        char buf[64];
        sema_error(s, v->span, "the images are %d x %d x %d (channels x height x width: %.0f "
                   "values), but the shape %s holds %.0f", dims[0], dims[1], dims[2], have,
                   shape_str(&want, buf, sizeof buf), size);
        return false;
    }
    *out = want;
    return true;
}

/* xor(n, noise = S), circles, moons; spirals(k, n, noise = S), blobs */
#define TOY_POINTS { "n", ARG_INT, true, 0, 2, MAX_DATA_ROWS, false, false, NULL }
#define TOY_NOISE { "noise", ARG_NUMBER, false, 0, 0, INFINITY, false, true, \
                    "at least 0: it is a standard deviation" }
static const ArgSpec toy_specs[] = { TOY_POINTS, TOY_NOISE };
static const char *const toy_what[] = { "the number of points", "the noise" };
static const ArgForm toy_args = { toy_specs, 2, 1, 1, toy_what, NULL, NULL };
static const ArgSpec toy_k_specs[] = {
    { "k", ARG_INT, true, 0, 2, 100, false, false, NULL }, TOY_POINTS, TOY_NOISE,
};
static const char *const toy_k_what[] = { "the number of classes", "the number of points",
                                          "the noise" };
static const ArgForm toy_k_args = { toy_k_specs, 3, 2, 2, toy_k_what, NULL, NULL };
#undef TOY_POINTS
#undef TOY_NOISE

static const DataFnRow data_fns[] = {
#define DATAFN(name, fn, check, args, sets, usage, example, text) \
    { name, fn, check, args, sets, usage },
#include "datafns.def"
#undef DATAFN
};

/* ---- the data functions ---------------------------------------------------------------------- */

/* A data set read while checking (csv, images): its values, copied into the unit's arena for
 * lowering. */
static void keep_values(Sema *s, SemaData *sd, DataFn fn, const Dataset *d)
{
    sd->fn = fn;
    size_t nx = (size_t)d->rows * (size_t)d->features, ny = (size_t)d->rows * (size_t)d->targets;
    sd->x = arena_alloc(s->arena, (nx ? nx : 1) * sizeof(float));
    sd->y = arena_alloc(s->arena, (ny ? ny : 1) * sizeof(float));
    memcpy(sd->x, d->X, nx * sizeof(float));
    memcpy(sd->y, d->Y, ny * sizeof(float));
}

static bool check_csv(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                      const AstList *names)
{
    AstNode *name = names->items[0];
    ArgValue v[3];
    if (!sema_args(s, call, row->args, row->usage, v)) return false;
    const char *file = v[0].text, *target = v[1].text;
    Dataset d;
    DataError err;
    SandboxFile opened;
    char why[768];
    if (!sandbox_read(s->files, file, &opened, why, sizeof why)) {
        sema_error(s, v[0].node->span, "cannot open '%s': %s", file, why);
        return false;
    }
    bool read = data_read_csv(opened.path, target, &s->limits, &d, &err);
    sandbox_done(&opened, read ? NULL : err.msg, sizeof err.msg);
    if (!read) {
        if (err.line == 0) {    /* the whole file: the script's string is the place */
            sema_error(s, v[0].node->span, "%s", err.msg);
            return false;
        }
        sema_file_error(s, file, err.line, err.col, err.msg);
        sema_note(s, call->span, "while reading the data set for '%s' here", name->u.name);
        return false;
    }
    keep_values(s, sd, row->fn, &d);
    Shape sample;
    if (!csv_shape(s, v[2].node, d.features, &sample)) {
        data_free(&d);
        return false;
    }
    Symbol *sym = data_symbol(s, name, d.rows, &sample, d.features, d.targets);
    set_classes(sym->data, d.class_names, d.n_classes);
    char how[512];
    snprintf(how, sizeof how, "read from %s, target '%s'", file, target);
    describe(sym->data, how);
    data_free(&d);
    sd->dst[sd->n_dst++] = sym;
    return true;
}

static bool check_images(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                         const AstList *names)
{
    ArgValue v[2];
    if (!sema_args(s, call, row->args, row->usage, v)) return false;
    const char *folder = v[0].text;
    Dataset d;
    DataError err;
    int dims[3];
    if (!data_read_images(s->files, folder, &s->limits, &d, dims, &err)) {
        sema_error(s, v[0].node->span, "%s", err.msg);
        return false;
    }
    Shape sample;
    bool ok = images_shape(s, v[1].node, dims, &sample);
    if (ok) {
        keep_values(s, sd, row->fn, &d);
        Symbol *sym = data_symbol(s, names->items[0], d.rows, &sample, d.features, d.targets);
        set_classes(sym->data, d.class_names, d.n_classes);
        char how[512];
        snprintf(how, sizeof how, "read from %s, images of %d x %d x %d (channels x height x "
                 "width)", folder, dims[0], dims[1], dims[2]);
        describe(sym->data, how);
        sd->dst[sd->n_dst++] = sym;
    }
    data_free(&d);
    return ok;
}

static bool check_toy(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                      const AstList *names)
{
    bool with_k = row->args == &toy_k_args;     /* spirals(k, n), else xor(n) */
    ArgValue v[3];
    if (!sema_args(s, call, row->args, row->usage, v)) return false;
    long k = with_k ? (long)v[0].num : 2, n = (long)v[with_k].num;
    double noise = v[with_k + 1].num;
    if (n < k) {
        sema_too_small(s, v[with_k].node->span, row->args->what[with_k], (double)k, (double)n);
        return false;
    }
    sd->fn = row->fn;
    sd->n = (int)n;
    sd->k = (int)k;
    sd->noise = noise;
    Symbol *sym = data_symbol(s, names->items[0], (int)n, NULL, 2, with_k ? (int)k : 1);
    char *classes[100];
    char buf[100][12];
    for (int i = 0; i < k; i++) {
        snprintf(buf[i], sizeof buf[i], "%d", i);
        classes[i] = buf[i];
    }
    set_classes(sym->data, classes, (int)k);
    char how[128];
    snprintf(how, sizeof how, "made by %s, noise %g", row->name, noise);
    describe(sym->data, how);
    sd->dst[sd->n_dst++] = sym;
    return true;
}

/* The shared part of making a data set like another one (split, normalize). */
static Symbol *data_like(Sema *s, AstNode *name, const DataSym *src, int rows, const char *how)
{
    Symbol *sym = data_symbol(s, name, rows, &src->sample, src->features, src->targets);
    set_classes(sym->data, src->class_names, src->n_classes);
    describe(sym->data, how);
    return sym;
}

/* split(D, "FILE"): the rows listed in FILE are the second part. Sets *first, the rows of the
 * first part. */
static bool split_by_file(Sema *s, AstNode *how, const DataSym *d, SemaData *sd, int *first)
{
    const char *file = sema_text(s, how);
    int *rows, count;
    DataError err;
    SandboxFile opened;
    char why[768];
    if (!sandbox_read(s->files, file, &opened, why, sizeof why)) {
        sema_error(s, how->span, "cannot open '%s': %s", file, why);
        return false;
    }
    bool read = data_read_indices(opened.path, d->rows, &s->limits, &rows, &count, &err);
    sandbox_done(&opened, read ? NULL : err.msg, sizeof err.msg);
    if (!read) {
        if (err.line == 0) {
            sema_error(s, how->span, "%s", err.msg);
            return false;
        }
        sema_file_error(s, file, err.line, err.col, err.msg);
        sema_note(s, how->span, "while reading the rows to split off here");
        return false;
    }
    sd->fn = DATA_SPLIT_ROWS;
    sd->rows = arena_alloc(s->arena, (size_t)(count ? count : 1) * sizeof(int));
    memcpy(sd->rows, rows, (size_t)count * sizeof(int));
    sd->n_rows = count;
    nn_free(rows);
    *first = d->rows - count;
    if (*first < 1 || count < 1) {
        sema_error(s, how->span, "the file lists %d of the %d rows; both parts need at least one",
                   count, d->rows);
        return false;
    }
    return true;
}

/* split(D, F): the first round(F × rows) rows, after a shuffle, are the first part. */
static bool split_by_fraction(Sema *s, AstNode *how, const DataSym *d, SemaData *sd, int *first)
{
    double f;
    if (!sema_const_number(s, how, "the fraction", &f)) return false;
    if (!(f > 0 && f < 1)) {
        sema_error(s, how->span, "the fraction for the first part must be between 0 and 1");
        return false;
    }
    *first = (int)lround(f * d->rows);
    if (*first < 1 || *first >= d->rows) {
        sema_error(s, how->span, "a fraction of %g of %d rows leaves a part empty", f, d->rows);
        return false;
    }
    sd->fn = DATA_SPLIT;
    sd->fraction = f;
    return true;
}

static bool check_split(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                        const AstList *names)
{
    const AstList *args = &call->u.call.args;
    if (!sema_named(s, args, row->name, NULL)) return false;
    if (sema_npos(args) != 2) {
        sema_error(s, call->span, "%s", row->usage);
        return false;
    }
    if ((int)names->count != row->sets) {
        sema_error(s, call->span, "'split' makes two data sets: let train_set, test_set = "
                   "split(data, 0.8)");
        return false;
    }
    Symbol *src = data_arg(s, sema_arg(args, 0, NULL), row->name);
    if (!src) return false;
    DataSym *d = src->data;
    AstNode *how = sema_arg(args, 1, NULL);
    int first;
    if (!(how->kind == AST_STRING ? split_by_file : split_by_fraction)(s, how, d, sd, &first))
        return false;
    sd->src[0] = src;
    sd->n_src = 1;
    char text[160];
    snprintf(text, sizeof text, "the first part of a split of '%s'", src->name);
    sd->dst[0] = data_like(s, names->items[0], d, first, text);
    snprintf(text, sizeof text, "the second part of a split of '%s'", src->name);
    sd->dst[1] = data_like(s, names->items[1], d, d->rows - first, text);
    sd->n_dst = 2;
    return true;
}

static bool check_normalize(Sema *s, AstNode *call, const DataFnRow *row, SemaData *sd,
                            const AstList *names)
{
    const AstList *args = &call->u.call.args;
    if (!sema_named(s, args, row->name, NULL)) return false;
    int n = sema_npos(args);
    if (n < 1 || n > NN_MAX_DATA_ARGS) {
        sema_error(s, call->span, "%s", row->usage);
        return false;
    }
    if ((int)names->count != n) {
        sema_error(s, call->span, "'normalize' gives back as many data sets as it is given "
                   "(%d here), so name %d", n, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        Symbol *src = data_arg(s, sema_arg(args, i, NULL), row->name);
        if (!src) return false;
        if (i && src->data->features != sd->src[0]->data->features) {
            sema_error(s, sema_arg(args, i, NULL)->span, "'%s' has %d features but '%s' has %d",
                       src->name, src->data->features, sd->src[0]->name,
                       sd->src[0]->data->features);
            return false;
        }
        sd->src[sd->n_src++] = src;
    }
    sd->fn = DATA_NORMALIZE;
    for (int i = 0; i < n; i++) {
        char text[160];
        snprintf(text, sizeof text, "'%s' standardised with the statistics of '%s'",
                 sd->src[i]->name, sd->src[0]->name);
        sd->dst[sd->n_dst++] = data_like(s, names->items[i], sd->src[i]->data,
                                         sd->src[i]->data->rows, text);
    }
    return true;
}

void sema_check_data_let(Sema *s, AstNode *st)
{
    AstList one = { 0 };
    const AstList *names;
    AstNode *value;
    if (st->kind == AST_LET) {
        AstNode *name = ast_new(s->arena, AST_NAME, st->u.bind.name_span);
        name->u.name = st->u.bind.name;
        ast_list_push(s->arena, &one, name);
        names = &one;
        value = st->u.bind.value;
    } else {
        names = &st->u.many.names;
        value = st->u.many.value;
    }
    const DataFnRow *row = data_fns;
    while (strcmp(row->name, value->u.call.name) != 0) row++;  /* sema_is_data_fn said so */
    bool ok;
    if (row->sets == 1 && names->count != 1) {
        sema_error(s, value->span, "'%s' makes one data set", row->name);
        ok = false;
    } else {
        ok = row->check(s, value, row, &sema_extra(s, st)->data, names);
    }
    if (!ok) poison_names(s, names);
}

/* ---- printing models and data sets --------------------------------------------------------- */

const char *sema_print_text(Sema *s, AstNode *item, const Symbol **model)
{
    Symbol *sym = NULL;
    if (model) *model = NULL;
    if (item->kind == AST_NAME) {
        sym = sema_lookup(s, item->u.name);
        if (!sym || (sym->kind != SYM_MODEL && sym->kind != SYM_DATA)) return NULL;
    } else if (item->kind == AST_CALL && strcmp(item->u.call.name, "summary") == 0) {
        const AstList *args = &item->u.call.args;
        AstNode *m = args->count == 1 && !args->items[0]->u.bind.name
                         ? args->items[0]->u.bind.value : NULL;
        sym = m && m->kind == AST_NAME ? sema_lookup(s, m->u.name) : NULL;
        if (!sym || sym->kind != SYM_MODEL) {
            sema_error(s, item->span, "'summary' takes a model: summary(net)");
            return "";
        }
    } else {
        return NULL;
    }
    if (sym->poisoned) return "";
    if (model && sym->kind == SYM_MODEL) *model = sym;
    const char *text = sym->kind == SYM_MODEL ? sym->model->summary : sym->data->about;
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') len--;
    return arena_strndup(s->arena, text, len);
}

bool sema_print_labels(Sema *s, AstNode *item)
{
    if (item->kind != AST_CALL || strcmp(item->u.call.name, "labels") != 0) return false;
    const AstList *args = &item->u.call.args;
    if (args->count != 2 || args->items[0]->u.bind.name || args->items[1]->u.bind.name) {
        sema_error(s, item->span, "'labels' takes a data set (for its class names) and the "
                   "scores to name: labels(iris, net(X))");
        return true;
    }
    Symbol *d = data_arg(s, args->items[0]->u.bind.value, "labels");
    AstNode *x = args->items[1]->u.bind.value;
    if (!d || !sema_expr(s, x)) return true;
    if (!d->data->n_classes) {
        sema_error(s, args->items[0]->span, "'%s' has a numeric target, so it has no class "
                   "names", d->name);
        return true;
    }
    const Shape *sh = &x->sema.shape;
    int classes = sh->rank ? sh->dim[sh->rank - 1] : 1;
    bool binary = d->data->targets == 1 && classes == 1;
    if (sh->rank < 1 || sh->rank > 2 || (!binary && classes != d->data->n_classes)) {
        char buf[64];
        sema_error(s, x->span, "'labels' needs one row of %d class scores per example (shape "
                   "[N, %d]), but this has shape %s", d->data->n_classes, d->data->n_classes,
                   shape_str(sh, buf, sizeof buf));
        return true;
    }
    SemaExtra *ex = sema_extra(s, item);
    ex->labels = d->data;
    item->sema.operand = x;
    return true;
}
