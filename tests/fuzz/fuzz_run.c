/* fuzz_run.c — libFuzzer harness for the whole pipeline: a script (or several, separated by
 * NUL bytes, run one after the other in the same session like REPL inputs) goes through
 * nn_run_string in a fresh NnState whose output and errors are discarded; then the session is
 * inspected (nn_print_vars, nn_complete, nn_print_graph/dot, nn_get) and, if everything ran,
 * written back with nn_save_session and that script run in a new session.
 *
 * Budget. A script can legitimately ask for 10^8 epochs or a matrix product of two 4096 x 4096
 * tensors, which is no bug but would stall the fuzzer. Memory is capped by the library
 * (nn_set_max_memory, 16 MiB here); work is not, so before running anything the harness
 * compiles each part itself (parse and check only, with the library's internal front end, in a
 * scratch session) and estimates the work from the checked shapes, models and train settings.
 * Inputs over budget are skipped (return -1: libFuzzer does not add them to the corpus). The
 * estimate is conservative; see README.md.
 *
 * Files. Scripts may read and write files (csv, split rows, load, save, resume). The process
 * works in a private directory holding copies of the repository's data files; the harness
 * skips inputs whose strings name an absolute path or contain "..", and `save` paths must be
 * plain file names, which are deleted after each input.
 *
 * Options in a first line starting with "#!" (a comment to nn): "trace" turns on tracing of
 * every backward/step, "json" or "dot" choose the trace format, "full" shows tensors in full,
 * "steps" traces steps 2-3 of each train block, "plot" writes the loss curves (SVG).
 *
 * NN_FUZZ_VERBOSE=1 prints each estimate, 2 also the script's messages, 3 its output. */
#define _GNU_SOURCE    /* memmem */
#include "fuzz_common.h"

#include "nn.h"

/* the library's internal front end, for the budget estimate */
#include "parse.h"
#include "sema.h"
#include "state.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARTS 8
#define MAX_SAVES 32

/* Limits, from the environment (NN_FUZZ_MAX_OPS, ...) or these defaults. Memory is the
 * library's to limit (nn_set_max_memory); the harness's own memory estimate is a fallback,
 * off unless NN_FUZZ_MAX_MEM or NN_FUZZ_MAX_ELEMENTS is set. */
static double max_ops = 1e7;            /* float operations, roughly */
static double max_memory = 16 << 20;    /* bytes, for nn_set_max_memory */
static double max_mem = 0;              /* floats held at once, roughly; 0: no limit */
static double max_elements = 0;         /* floats in one tensor; 0: no limit */
static int verbose;     /* NN_FUZZ_VERBOSE=1: print the estimate; 2: also the messages */
static bool skip_known;                 /* NN_FUZZ_SKIP_KNOWN=1: see known_bug */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_workdir(1);
    max_ops = fuzz_env_num("NN_FUZZ_MAX_OPS", max_ops);
    max_memory = fuzz_env_num("NN_FUZZ_MAX_MEMORY", max_memory);
    max_mem = fuzz_env_num("NN_FUZZ_MAX_MEM", max_mem);
    max_elements = fuzz_env_num("NN_FUZZ_MAX_ELEMENTS", max_elements);
    verbose = (int)fuzz_env_num("NN_FUZZ_VERBOSE", 0);
    skip_known = fuzz_env_num("NN_FUZZ_SKIP_KNOWN", 0) != 0;
    return 0;
}

/* ---- the budget estimate -------------------------------------------------------------------- */

typedef struct Est {
    double ops;         /* total work of the input so far */
    double mem;         /* floats allocated */
    double max_el;      /* the largest single tensor */
    double session;     /* cost of evaluating every formula defined so far once */
    bool no_mem;        /* walking again: tensors are already counted */
    bool bad_path;      /* a string names a file outside the working directory */
    bool known;         /* the input would hit a known bug (see known_bug) */
    const char *saves[MAX_SAVES];   /* `save` paths to delete afterwards (arena text copied) */
    int n_saves;
    char save_buf[MAX_SAVES][256];
} Est;

static double shape_el(const Shape *s)
{
    double n = 1;
    for (int i = 0; i < s->rank && i < NN_MAX_RANK; i++) n *= s->dim[i] > 0 ? s->dim[i] : 1;
    return n;
}

static void tensor_seen(Est *e, double el)
{
    if (e->no_mem) return;
    e->mem += el;
    if (el > e->max_el) e->max_el = el;
}

static bool is_expr(const AstNode *n)
{
    return n->kind <= AST_RANGE;
}

/* Every child of a node, for the walks below: nodes, and up to two lists (an if's two parts).
 * A function's body is walked where it is called (its checked copy), not where it is defined. */
static int children(AstNode *n, AstNode **out, int cap, const AstList **list,
                    const AstList **list2)
{
    int k = 0;
    *list = *list2 = NULL;
#define KID(x) do { if ((x) && k < cap) out[k++] = (x); } while (0)
    switch (n->kind) {
    case AST_NUM: case AST_STRING: case AST_NAME: case AST_ZERO_GRAD: break;
    case AST_TENSOR: case AST_PRINT: *list = &n->u.list; break;
    case AST_UNARY: case AST_BINARY: KID(n->u.op.a); KID(n->u.op.b); break;
    case AST_CALL: case AST_STEP: *list = &n->u.call.args; break;
    case AST_ARG: case AST_LET: case AST_PARAM: case AST_ASSIGN: KID(n->u.bind.value); break;
    case AST_FIELD: KID(n->u.field.obj); break;
    case AST_BACKWARD: case AST_EXPR: case AST_SEED: case AST_GRADCHECK:
        KID(n->u.expr); break;
    case AST_TRACE: KID(n->u.trace.expr); *list = &n->u.trace.places; break;
    case AST_PLACE: KID(n->u.place.path); break;
    case AST_LET_MANY: KID(n->u.many.value); *list = &n->u.many.names; break;
    case AST_MODEL: case AST_RESIDUAL: *list = &n->u.block.items; break;
    case AST_FORWARD: KID(n->u.fwd.body); break;
    case AST_TRAIN:
        KID(n->u.train.target); KID(n->u.train.x); KID(n->u.train.y);
        *list = &n->u.train.settings; break;
    case AST_SETTING: KID(n->u.setting.value); *list = &n->u.setting.places; break;
    case AST_SAVE: case AST_LOAD: KID(n->u.file.path); break;
    case AST_INDEX: KID(n->u.index.obj); *list = &n->u.index.subs; break;
    case AST_RANGE: KID(n->u.op.a); KID(n->u.op.b); break;
    case AST_FOR: case AST_REPEAT: case AST_WHILE:
        KID(n->u.loop.a); KID(n->u.loop.b); *list = &n->u.loop.body; break;
    case AST_IF: KID(n->u.iff.cond); *list = &n->u.iff.then; *list2 = &n->u.iff.els; break;
    case AST_FN: case AST_BREAK: case AST_CONTINUE: break;
    }
#undef KID
    return k;
}

/* Bugs found by fuzzing, reported and not fixed yet. With NN_FUZZ_SKIP_KNOWN=1 (set by
 * .ci/fuzz.sh while fuzzing, not when it replays crashes/) inputs that would hit one are
 * skipped, so that fuzzing goes on past it. Delete an entry once its bug is fixed. None today;
 * the first one was, until 28dc0ee:
 *     crashes/run-train-optimizer-word-null.nn: "optimizer s 5" left `opt` NULL
 *     if (n->kind == AST_SETTING && n->u.setting.word && n->u.setting.name &&
 *         strcmp(n->u.setting.name, "optimizer") == 0)
 *         return true; */
static bool known_bug(const AstNode *n)
{
    (void)n;
    return false;
}

/* Before checking (which reads csv files): every string must be a relative path that stays
 * inside the working directory; `save` paths must be plain names. Also looks for known bugs. */
static void check_paths(Est *e, AstNode *n, int depth)
{
    if (!n || depth > 2000) return;
    if (skip_known && known_bug(n)) e->known = true;
    if (n->kind == AST_STRING) {
        const char *t = n->u.str.text;
        size_t len = n->u.str.len;
        if ((len && t[0] == '/') || memmem(t, len, "..", 2) || memchr(t, '\0', len))
            e->bad_path = true;
        return;
    }
    if (n->kind == AST_SAVE && n->u.file.path && n->u.file.path->kind == AST_STRING) {
        const AstNode *p = n->u.file.path;
        const char *t = p->u.str.text;
        size_t len = p->u.str.len;
        if (len == 0 || len >= 200 || t[0] == '.' || memchr(t, '/', len) || e->n_saves == MAX_SAVES)
            e->bad_path = true;
        else {
            memcpy(e->save_buf[e->n_saves], t, len);
            e->save_buf[e->n_saves][len] = '\0';
            e->saves[e->n_saves] = e->save_buf[e->n_saves];
            e->n_saves++;
        }
    }
    AstNode *kids[3];
    const AstList *lists[2];
    int k = children(n, kids, 3, &lists[0], &lists[1]);
    for (int i = 0; i < k; i++) check_paths(e, kids[i], depth + 1);
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; lists[l] && i < lists[l]->count; i++)
            check_paths(e, lists[l]->items[i], depth + 1);
}

static double expr_cost(Est *e, AstNode *n, bool *uses_names, int depth);

/* One application of a model to an input of shape app->in. */
static double app_cost(Est *e, const ModelApp *app, bool *uses_names, int depth)
{
    if (!app->model || !app->model->model) return 0;
    const Model *m = app->model->model;
    if (m->formula) return app->body ? expr_cost(e, app->body, uses_names, depth + 1) : 0;
    double rows = shape_el(&app->in) / (m->in > 0 ? m->in : 1), per_row = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = &m->layers[i];
        double w = l->out > l->in ? l->out : l->in;
        per_row += l->kind == LAYER_DENSE ? (double)l->in * l->out + l->out : w;
        tensor_seen(e, rows * (w > 0 ? w : 1) * 2);    /* activation and its gradient */
    }
    return rows * per_row;
}

/* The work of computing expression n once (every node of it), adding its tensors to the
 * memory estimate. Sets *uses_names if it refers to any defined name (whose formula is then
 * recomputed too). */
static double expr_cost(Est *e, AstNode *n, bool *uses_names, int depth)
{
    if (!n || depth > 2000) return 0;
    double cost = 0;
    if (is_expr(n) && n->kind != AST_ARG) {
        double el = shape_el(&n->sema.shape);
        tensor_seen(e, el);
        cost += el;
        if (n->kind == AST_NAME || n->kind == AST_FIELD) *uses_names = true;
        if (n->kind == AST_BINARY && n->u.op.op == '@' && n->u.op.a) {
            const Shape *a = &n->u.op.a->sema.shape;
            double k = a->rank >= 1 ? a->dim[a->rank - 1] : 1;
            cost += el * k;
        }
        if (n->kind == AST_CALL && n->sema.extra && n->sema.extra->app.model)
            cost += app_cost(e, &n->sema.extra->app, uses_names, depth);
        if (n->kind == AST_CALL && n->sema.extra && n->sema.extra->fnapp.body)
            cost += expr_cost(e, n->sema.extra->fnapp.body, uses_names, depth + 1);
    }
    AstNode *kids[3];
    const AstList *lists[2];
    int k = children(n, kids, 3, &lists[0], &lists[1]);
    for (int i = 0; i < k; i++) cost += expr_cost(e, kids[i], uses_names, depth + 1);
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; lists[l] && i < lists[l]->count; i++)
            cost += expr_cost(e, lists[l]->items[i], uses_names, depth + 1);
    return cost;
}

/* Param elements and count in the session's symbols. */
static void param_totals(const SymbolTable *syms, double *elements, double *count)
{
    *elements = 0;
    *count = 0;
    for (size_t i = 0; i < syms->count; i++)
        if (syms->items[i]->kind == SYM_PARAM) {
            *elements += shape_el(&syms->items[i]->shape);
            *count += 1;
        }
}

static double stmt_cost(Est *e, AstNode *st, const SymbolTable *syms, double unit);

/* The statements of a block, run once. */
static double body_cost(Est *e, const AstList *body, const SymbolTable *syms, double unit)
{
    double cost = 0;
    for (size_t i = 0; i < body->count; i++) cost += 1 + stmt_cost(e, body->items[i], syms, unit);
    return cost;
}

/* The cost of one statement that ran, given the unit's formulas cost `unit`. A for or repeat
 * runs its body as often as it says; a while, whose count is unknown, is over any budget. */
static double stmt_cost(Est *e, AstNode *st, const SymbolTable *syms, double unit)
{
    bool names = false;
    double own = expr_cost(e, st, &names, 0);
    double with_names = own + (names ? e->session + unit : 0);
    double pe, pn;
    param_totals(syms, &pe, &pn);
    switch (st->kind) {
    case AST_BACKWARD: return 3 * with_names;
    case AST_TRACE: return 6 * with_names;
    case AST_GRADCHECK: {
        double checked = pe < 512 * pn ? pe : 512 * pn;
        return (3 + 2 * checked) * (own + e->session + unit);
    }
    case AST_STEP: case AST_ZERO_GRAD: case AST_SAVE: case AST_LOAD: return 8 * pe;
    case AST_TRAIN: {
        const SemaTrain *t = st->sema.extra ? &st->sema.extra->train : NULL;
        if (!t) return with_names;
        double per_epoch;
        if (t->over_data) {
            double batches = t->set.batch > 0 ? floor((double)t->train_rows / t->set.batch) : 1;
            per_epoch = 3 * (app_cost(e, &t->batch_app, &names, 0) * batches
                             + app_cost(e, &t->rest_app, &names, 0))
                        + app_cost(e, &t->train_app, &names, 0)
                        + app_cost(e, &t->val_app, &names, 0)
                        + 8 * pe;
        } else {
            per_epoch = 3 * (own + e->session + unit) + 8 * pe;
        }
        return (t->set.epochs > 0 ? t->set.epochs : 1) * per_epoch + own + e->session + unit;
    }
    case AST_FOR:
    case AST_REPEAT: {
        const SemaBlock *b = &st->sema.extra->block;
        double runs = (double)b->to - (st->kind == AST_FOR ? (double)b->from : 0);
        return (runs > 0 ? runs : 0) * body_cost(e, &st->u.loop.body, syms, unit) + own;
    }
    case AST_WHILE: return INFINITY;
    case AST_IF:
        return body_cost(e, &st->u.iff.then, syms, unit)
               + body_cost(e, &st->u.iff.els, syms, unit) + own;
    default: return with_names;
    }
}

/* Compiles one part in the scratch session and adds its estimate. */
static void estimate_part(Est *e, NnState *scratch, const char *text, size_t len)
{
    uint32_t id = source_add(&scratch->sources, "<fuzz>", text, len);
    const Source *src = source_get(&scratch->sources, id);
    Arena arena;
    arena_init(&arena);
    ParseCtx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.arena = &arena;
    ctx.interner = &scratch->interner;
    ctx.diag = &scratch->diag;
    ctx.source = id;
    ctx.text = src->text;
    ctx.len = src->len;
    e->ops += (double)len * 10;
    if (parse_unit(&ctx) > 0) {             /* a syntax error: nothing is read or run */
        arena_free(&arena);
        return;
    }
    for (size_t i = 0; i < ctx.stmts.count; i++) check_paths(e, ctx.stmts.items[i], 0);
    if (e->bad_path || e->known) {
        arena_free(&arena);
        return;
    }
    size_t nsyms = scratch->syms.count;
    if (sema_check(&ctx.stmts, &scratch->syms, &scratch->diag, &scratch->interner, &arena,
                   NULL, NULL) > 0) {
        symtab_truncate(&scratch->syms, nsyms);     /* a compile error: nothing runs */
        arena_free(&arena);
        return;
    }
    /* the unit's formulas, once each */
    double unit = 0;
    e->no_mem = true;
    for (size_t i = 0; i < ctx.stmts.count; i++) {
        bool names = false;
        unit += expr_cost(e, ctx.stmts.items[i], &names, 0);
    }
    e->no_mem = false;
    for (size_t i = 0; i < ctx.stmts.count; i++)
        e->ops += stmt_cost(e, ctx.stmts.items[i], &scratch->syms, unit);
    /* everything the unit defined holds a value (params also a gradient and optimizer state) */
    for (size_t i = nsyms; i < scratch->syms.count; i++) {
        const Symbol *sym = scratch->syms.items[i];
        double el = shape_el(&sym->shape);
        tensor_seen(e, sym->kind == SYM_PARAM ? 4 * el : el);
        if (el > e->max_el) e->max_el = el;
        e->ops += 20 * el;      /* initialising, data generation, printing */
    }
    e->session += unit;
    /* inspecting the session afterwards (print_vars, print_graph of two names) */
    e->ops += 4 * e->session;
    arena_free(&arena);
}

/* ---- the harness ---------------------------------------------------------------------------- */

static void complete_cb(void *ud, const char *word)
{
    (void)ud;
    (void)word;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    const char *parts[MAX_PARTS];
    size_t lens[MAX_PARTS];
    int n_parts = 0;
    for (size_t at = 0; at <= size && n_parts < MAX_PARTS;) {
        size_t len = strlen(text + at);
        parts[n_parts] = text + at;
        lens[n_parts++] = len;
        at += len + 1;
    }

    /* the budget, on a scratch session */
    Est *est = calloc(1, sizeof *est);
    NnState *scratch = nn_new();
    nn_set_output(scratch, fuzz_discard, NULL);
    nn_set_errors(scratch, fuzz_discard, NULL);
    for (int i = 0; i < n_parts && !est->bad_path && !est->known; i++)
        estimate_part(est, scratch, parts[i], lens[i]);
    nn_close(scratch);
    bool skip = est->bad_path || est->known || est->ops > max_ops ||
                (max_mem > 0 && est->mem > max_mem) ||
                (max_elements > 0 && est->max_el > max_elements);
    if (verbose)
        fprintf(stderr, "==fuzz== estimate: ops %.3g, mem %.3g floats, largest %.3g%s%s\n",
                est->ops, est->mem, est->max_el,
                est->bad_path ? ", bad path" : est->known ? ", known bug" : "",
                skip ? ": SKIPPED" : "");
    if (skip) {
        free(est);
        free(text);
        return -1;
    }

    NnState *nn = nn_new();
    nn_set_output(nn, verbose >= 3 ? NULL : fuzz_discard, NULL);     /* NULL: stdout */
    nn_set_errors(nn, verbose >= 2 ? NULL : fuzz_discard, NULL);     /* NULL: stderr */
    nn_set_max_memory(nn, (size_t)max_memory);
    bool plot = false;
    if (strncmp(text, "#!", 2) == 0) {
        const char *eol = strchr(text, '\n');
        size_t n = eol ? (size_t)(eol - text) : strlen(text);
        char opts[128];
        snprintf(opts, sizeof opts, "%.*s", (int)(n < 127 ? n : 127), text);
        if (strstr(opts, "trace")) nn_set_trace(nn, 1);
        if (strstr(opts, "json")) nn_set_trace_format(nn, "json");
        if (strstr(opts, "dot")) nn_set_trace_format(nn, "dot");
        if (strstr(opts, "full")) nn_set_trace_full(nn, 1);
        if (strstr(opts, "steps")) nn_set_trace_steps(nn, 2, 3);
        if ((plot = strstr(opts, "plot") != NULL)) nn_set_plot(nn, "plot.svg");
    }
    bool all_ok = true;
    for (int i = 0; i < n_parts; i++) {
        (void)nn_is_complete(nn, parts[i]);
        NnStatus st = nn_run_string(nn, "<fuzz>", parts[i]);
        if (st != NN_OK && st != NN_ERROR_COMPILE && st != NN_ERROR_RUNTIME)
            fuzz_fail("nn_run_string returned %d", (int)st);
        if (st != NN_OK) all_ok = false;
    }
    nn_print_vars(nn);
    nn_complete(nn, "", complete_cb, NULL);
    /* the graph of the last two names defined */
    int shown = 0;
    for (size_t i = nn->syms.count; i-- > 0 && shown < 2;) {
        const Symbol *sym = nn->syms.items[i];
        if ((sym->kind != SYM_LET && sym->kind != SYM_PARAM) || !sym->has_node ||
            strchr(sym->name, '.'))
            continue;
        char *name = strdup(sym->name);     /* the call may add symbols */
        (void)nn_print_graph(nn, name);
        (void)nn_print_dot(nn, name);
        NnTensorView view;
        (void)nn_get(nn, name, &view);
        free(name);
        shown++;
    }
    if (all_ok) {
        /* the session written back must recreate it */
        if (nn_save_session(nn, "session.nn") == NN_OK) {
            NnState *again = nn_new();
            nn_set_output(again, fuzz_discard, NULL);
            nn_set_errors(again, fuzz_discard, NULL);
            nn_set_max_memory(again, (size_t)max_memory);
            (void)nn_run_file(again, "session.nn");
            nn_close(again);
        }
        unlink("session.nn");
    }
    nn_close(nn);
    for (int i = 0; i < est->n_saves; i++) unlink(est->saves[i]);
    if (plot) {
        unlink("plot.svg");
        for (int i = 2; i <= 64; i++) {     /* one file per train block */
            char name[32];
            snprintf(name, sizeof name, "plot-%d.svg", i);
            unlink(name);
        }
    }
    free(est);
    free(text);
    return 0;
}
