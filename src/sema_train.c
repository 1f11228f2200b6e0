/* sema_train.c — checks what trains: train blocks with their settings, optimizers (also of a
 * `step` statement) and schedules, the places a trace looks at, and save/load of a model's
 * params. Stands on sema_args.c. */
#include "sema_train.h"

#include "sema_args.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- where a trace looks --------------------------------------------------------------------- */

/* A layer with params (layerN.W, layerN.b): dense, conv, layernorm, batchnorm. */
static bool with_params(const Layer *ly)
{
    return ly->kind == LAYER_DENSE || ly->kind == LAYER_CONV || ly->kind == LAYER_NORM
           || ly->kind == LAYER_BATCHNORM;
}

static const Layer *dense_named(const Model *m, const char *group)
{
    for (int i = 0; i < m->n_layers; i++)
        if (with_params(&m->layers[i]) && m->layers[i].group == group) return &m->layers[i];
    return NULL;
}

/* The model a place is in, and the path of its layer below the model ("layer1"); NULL after
 * reporting. In a train block (`model`), a bare `layer1` is a layer of the block's model. */
static Model *place_model(Sema *s, AstNode *path, Symbol *model, const char **sub)
{
    Symbol *root = NULL;
    *sub = sema_field_path(s, path, &root);
    if (*sub && !**sub && model && (!root || root->kind != SYM_MODEL)) {
        *sub = path->u.name;
        root = model;
    }
    if (!*sub || !**sub || !root || root->kind != SYM_MODEL) {
        if (model)
            sema_error(s, path->span, "a trace looks at a layer of '%s': write layer1, or "
                       "layer1[0] for one unit of it", model->name);
        else
            sema_error(s, path->span, "a trace looks at a layer of a model: write net.layer1, or "
                       "net.layer1[0] for one unit of it");
        return NULL;
    }
    if (root->poisoned) return NULL;
    Model *m = root->model;
    if (model && root != model) {
        sema_error(s, path->span, "this block trains '%s', not '%s': trace the layers of '%s'",
                   model->name, m->name, model->name);
        return NULL;
    }
    if (m->formula) {
        sema_error(s, path->span, "'%s' is written as a formula, not as layers: there is no "
                   "layer to look at (trace without 'at' shows all of it)", m->name);
        return NULL;
    }
    return m;
}

/* The dense layer a place names, or NULL after reporting which layers there are. */
static const Layer *place_layer(Sema *s, AstNode *path, const Model *m, const char *sub)
{
    const Layer *ly = dense_named(m, sema_dotted(s, m->name, sub));
    if (ly) return ly;
    int last = 0;
    bool conv = false;
    for (int k = 0; k < m->n_layers; k++)
        if (with_params(&m->layers[k])) {
            last = m->layers[k].index;
            conv |= m->layers[k].kind != LAYER_DENSE;
        }
    const char *what = conv ? "layers with params" : "dense layers";
    if (last == 1)
        sema_error(s, path->span, "model '%s' has no layer '%s'; its one %s layer is layer1",
                   m->name, sub, conv ? "conv" : "dense");
    else
        sema_error(s, path->span, "model '%s' has no layer '%s'; its %s are layer1 to "
                   "layer%d", m->name, sub, what, last);
    return NULL;
}

/* The numbers a place names in [ ]: constants that count from 0 (into at[]); false after
 * reporting. `dims` [count] are their bounds, `what` names them ("unit", "channel", ...). */
static bool place_numbers(Sema *s, const AstNode *pl, const Layer *ly, const int *dims,
                          const char *const *what, int *at)
{
    for (int k = 0; k < pl->u.place.n_units; k++) {
        const AstNode *u = pl->u.place.unit[k];
        if (u->kind != AST_NUM) {
            sema_error(s, pl->span, "a trace looks at a layer of a model: write net.layer1, or "
                       "net.layer1[0] for one unit of it");
            return false;
        }
        double v = u->u.num;
        if (v != floor(v) || v >= dims[k]) {
            if (dims[k] == 1 && pl->u.place.n_units == 1)
                sema_error(s, u->span, "%s has one %s: write %s[0]", ly->group, what[k],
                           ly->group);
            else if (dims[k] == 1)
                sema_error(s, u->span, "%s has one %s: write 0", ly->group, what[k]);
            else
                sema_error(s, u->span, "%s has %d %ss, numbered from 0 to %d", ly->group,
                           dims[k], what[k], dims[k] - 1);
            return false;
        }
        at[k] = (int)v;
    }
    return true;
}

/* The unit a place zooms into: a dense layer's unit [u]; a conv layer's output pixel [c, i, j]
 * ([c, i] along a sequence). False after reporting. */
static bool place_unit(Sema *s, const AstNode *pl, const Layer *ly, TracePlace *out)
{
    int n = pl->u.place.n_units, at[3] = { 0, 0, 0 };
    if (ly->kind == LAYER_DENSE) {
        if (n != 1) {
            sema_error(s, pl->u.place.unit_span, "one unit of a dense layer is one number: "
                       "%s[0]", ly->group);
            return false;
        }
        if (!place_numbers(s, pl, ly, &ly->out, (const char *const[]){ "unit" }, at))
            return false;
        out->unit = at[0];
        return true;
    }
    if (ly->kind != LAYER_CONV) {
        sema_error(s, pl->u.place.unit_span, "one unit of a %s layer is not written out yet; "
                   "'at %s' explains the whole layer",
                   ly->kind == LAYER_NORM ? "layernorm" : "batchnorm", ly->group);
        return false;
    }
    int want = ly->shape.rank;      /* [out, H', W'], or [out, L'] */
    if (n != want) {
        sema_error(s, pl->u.place.unit_span, "one output of a conv layer is %s: %s[%s]",
                   want == 3 ? "a channel and a pixel's row and column" : "a channel and a "
                   "position", ly->group, want == 3 ? "0, 1, 2" : "0, 1");
        return false;
    }
    static const char *const words[] = { "output channel", "output row", "output column" };
    const char *const *what = want == 3 ? words : (const char *const[]){ "output channel",
                                                                        "output position" };
    if (!place_numbers(s, pl, ly, ly->shape.dim, what, at)) return false;
    out->unit = at[0];
    out->pixel[0] = want == 3 ? at[1] : 0;
    out->pixel[1] = want == 3 ? at[2] : at[1];
    return true;
}

/* One place: a layer, or one unit of it (layer1[0], layer1[0, 2, 3]). */
static bool trace_place(Sema *s, const AstNode *pl, Symbol *model, TracePlace *out)
{
    AstNode *path = pl->u.place.path;
    const char *sub;
    Model *m = place_model(s, path, model, &sub);
    const Layer *ly = m ? place_layer(s, path, m, sub) : NULL;
    if (!ly) return false;
    out->group = ly->group;
    out->unit = -1;
    out->pixel[0] = out->pixel[1] = -1;
    out->numbers = pl->u.place.n_units;
    return !pl->u.place.n_units || place_unit(s, pl, ly, out);
}

bool sema_trace_places(Sema *s, const AstList *places, Symbol *model, TraceFocus *out)
{
    out->places = NULL;
    out->count = 0;
    if (!places->count) return true;
    TracePlace *ps = arena_alloc(s->arena, places->count * sizeof *ps);
    bool ok = true;
    for (size_t i = 0; i < places->count; i++) {
        if (trace_place(s, places->items[i], model, &ps[out->count])) out->count++;
        else ok = false;
    }
    out->places = ps;
    return ok;
}

/* ---- the language's optimizers and schedules (src/optim.c's tables) -------------------------- */

/* Every optimizer's word, and every schedule's that users write. */
static size_t optimizer_words(const char **out)
{
    size_t n = 0;
    for (int k = 0; k < OPTIM_KINDS; k++) out[n++] = optim_name((OptimKind)k);
    return n;
}

static size_t schedule_words(const char **out)
{
    size_t n = 0;
    for (int k = 0; k < SCHED_KINDS; k++) {
        const char *example, *text;
        schedule_help((SchedKind)k, &example, &text);
        if (text) out[n++] = schedule_name((SchedKind)k);
    }
    return n;
}

/* "unknown optimizer 'adma'; did you mean 'adam'?", or else the list of optimizers, at `at`. */
static void report_unknown_optimizer(Sema *s, Span at, const char *name)
{
    const char *words[OPTIM_KINDS];
    size_t n = optimizer_words(words);
    Suggest sg;
    suggest_init(&sg, name);
    for (size_t i = 0; i < n; i++) suggest_offer(&sg, words[i]);
    if (suggest_best(&sg)) {
        sema_error(s, at, "unknown optimizer '%s'; did you mean '%s'?", name, suggest_best(&sg));
        return;
    }
    StrBuf sb;
    sb_init(&sb);
    sema_list_words(&sb, words, n, "and");
    sema_error(s, at, "unknown optimizer '%s' (nn has %s)", name, sb.data);
    sb_free(&sb);
}

/* "unknown schedule 'cosin'; did you mean 'cosine'?"; false if no schedule is close. */
static bool suggest_schedule(Sema *s, AstNode *v, const char *name)
{
    const char *words[SCHED_KINDS];
    size_t n = schedule_words(words);
    Suggest sg;
    suggest_init(&sg, name);
    for (size_t i = 0; i < n; i++) suggest_offer(&sg, words[i]);
    if (!suggest_best(&sg)) return false;
    sema_error(s, v->span, "unknown schedule '%s'; did you mean '%s'?", name, suggest_best(&sg));
    return true;
}

/* ---- optimizers ----------------------------------------------------------------------------
 * An optimizer's arguments are its rows in src/optim.c (optim_args): the learning rate first,
 * the one that may be given without its name. */

/* How messages name an optimizer's argument. */
static const char *optim_what(const char *name, bool constant, char *buf, size_t cap)
{
    if (strcmp(name, "lr") == 0) return constant ? "the learning rate 'lr'" : "the learning rate";
    snprintf(buf, cap, "'%s'", name);
    return buf;
}

/* Which row an argument is, reporting an unknown name with the list of rows. */
static int optim_row(Sema *s, const char *fn, AstNode *a, const char *an, const ArgSpec *rows,
                     int n)
{
    for (int k = 0; k < n; k++)
        if (strcmp(rows[k].name, an) == 0) return k;
    StrBuf sb;
    sb_init(&sb);
    for (int j = 0; j < n; j++) sb_printf(&sb, "%s%s", j ? ", " : "", rows[j].name);
    sema_error(s, a->u.bind.name ? a->u.bind.name_span : a->span, "'%s' has no argument '%s' (it "
               "takes %s)", fn, an, sb.data);
    sb_free(&sb);
    return -1;
}

/* A learning rate that is not a constant (step sgd(lr = 1 - 0.9 * k / 100)): a scalar formula,
 * computed at each step. */
static bool lr_formula(Sema *s, AstNode *v, AstNode **lr)
{
    if (!sema_expr(s, v)) return false;
    if (v->sema.is_const) return true;
    char buf[64];
    if (v->sema.shape.rank != 0) {
        sema_error(s, v->span, "the learning rate must be a scalar, but this has shape %s",
                   shape_str(&v->sema.shape, buf, sizeof buf));
        return false;
    }
    *lr = v;
    return true;
}

/* One argument's value, stored into *c. */
static bool optim_value(Sema *s, AstNode *a, const ArgSpec *row, OptimConfig *c, AstNode **lr)
{
    char buf[64];
    AstNode *v = a->u.bind.value;
    bool is_lr = strcmp(row->name, "lr") == 0;
    if (is_lr && lr) {
        if (!lr_formula(s, v, lr)) return false;
        if (*lr) return true;
    }
    if (!sema_expr(s, v)) return false;     /* reported (sema_arg_value would check it again) */
    if (!v->sema.is_const) {
        sema_error(s, v->span, "%s must be a constant number%s", optim_what(row->name, true, buf,
                   sizeof buf), is_lr ? " in a train block (a 'step' statement may compute it, "
                   "e.g. in a loop)" : "");
        return false;
    }
    double x;
    if (!sema_arg_value(s, v, row, optim_what(row->name, false, buf, sizeof buf), &x))
        return false;
    optim_set_option(c, row->name, (float)x);
    return true;
}

/* sgd(lr = 0.1, momentum = 0.9), adam(), ...: checked against the optimizer's rows into *c.
 * `lr`: where a learning rate that is not a constant may go (a step statement), or NULL. */
static bool check_optimizer(Sema *s, AstNode *e, OptimConfig *c, AstNode **lr)
{
    const char *name = e->kind == AST_CALL ? e->u.call.name
                       : e->kind == AST_NAME ? e->u.name : NULL;
    OptimKind kind;
    if (!name || !optim_lookup(name, &kind)) {
        if (name)
            report_unknown_optimizer(s, e->kind == AST_CALL ? e->u.call.name_span : e->span, name);
        else
            sema_error(s, e->span, "expected an optimizer, such as sgd(lr = 0.1) or adam()");
        return false;
    }
    optim_defaults(kind, c);
    int n;
    const ArgSpec *rows = optim_args(kind, &n);
    const AstList *args = e->kind == AST_CALL ? &e->u.call.args : &(AstList){ 0 };
    bool lr_given = false;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        const char *an = a->u.bind.name ? a->u.bind.name : "lr";
        if (!a->u.bind.name && i != 0) {
            sema_error(s, a->span, "only the learning rate may be given without its name; name "
                       "the others, e.g. momentum = 0.9");
            return false;
        }
        int k = optim_row(s, name, a, an, rows, n);
        if (k < 0) return false;
        for (size_t j = 0; j < i; j++) {
            const char *bn = args->items[j]->u.bind.name ? args->items[j]->u.bind.name : "lr";
            if (strcmp(bn, an) == 0) {
                bool mixed = !args->items[j]->u.bind.name || !a->u.bind.name;
                sema_error(s, a->u.bind.name ? a->u.bind.name_span : a->span, "argument '%s' is "
                           "given twice%s", an, mixed ? ": by position and by name" : "");
                return false;
            }
        }
        if (!optim_value(s, a, &rows[k], c, lr)) return false;
        lr_given |= k == 0;
    }
    if (rows[0].required && !lr_given) {
        sema_error(s, e->span, "'%s' needs a learning rate, e.g. %s(lr = 0.1)", name, name);
        return false;
    }
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
        sema_error(s, e->span, "nesterov momentum needs momentum above 0 and no dampening");
        return false;
    }
    return true;
}

/* What `step` and `zero_grad` work on: params, models (all their params) and layers of models
 * (net.layer1: its W and b), as a list of param symbols. None named: every param. */
static bool param_targets(Sema *s, AstNode *st, const AstList *targets)
{
    SemaExtra *ex = sema_extra(s, st);
    if (!targets->count) return true;
    size_t cap = 0;
    for (size_t i = 0; i < targets->count; i++) {
        Symbol *root = NULL;
        const char *path = sema_field_path(s, targets->items[i], &root);
        cap += root && root->kind == SYM_MODEL && root->model ? (size_t)root->model->n_params : 1;
        (void)path;
    }
    ex->targets = arena_alloc(s->arena, (cap ? cap : 1) * sizeof *ex->targets);
    bool ok = true;
    for (size_t i = 0; i < targets->count; i++) {
        AstNode *t = targets->items[i];
        Symbol *root = NULL;
        const char *path = sema_field_path(s, t, &root);
        Symbol *p = sema_param_path(s, t);
        if (p) {
            ex->targets[ex->n_targets++] = p;
            continue;
        }
        if (path && root && root->kind == SYM_MODEL && !root->poisoned) {
            const Model *m = root->model;
            size_t len = strlen(path), before = (size_t)ex->n_targets;
            for (int k = 0; k < m->n_params; k++)      /* the model, or a layer of it */
                if (!len || (strncmp(m->param_names[k], path, len) == 0
                             && m->param_names[k][len] == '.'))
                    ex->targets[ex->n_targets++] = m->params[k];
            if ((size_t)ex->n_targets > before) continue;
        }
        ok = false;
        if (root && root->poisoned) continue;
        if (path && !root) {    /* an unknown name: said as in any expression, with a hint */
            AstNode *name = t;
            while (name->kind == AST_FIELD) name = name->u.field.obj;
            sema_expr(s, name);
            continue;
        }
        if (path)
            sema_error(s, t->span, "'%s' names no params: name params, models or a model's "
                       "layers (net.layer1)", t->kind == AST_NAME ? t->u.name
                       : sema_dotted(s, root->name, path));
        else
            sema_error(s, t->span, "this names no params: name params, models or a model's "
                       "layers (net.layer1)");
    }
    return ok;
}

void sema_check_step(Sema *s, AstNode *st)
{
    AstNode call = *st;     /* the step's optimizer reads like a call */
    call.kind = AST_CALL;
    SemaExtra *ex = sema_extra(s, st);
    check_optimizer(s, &call, &ex->train.set.optim, &ex->lr);
    param_targets(s, st, &st->u.call.targets);
}

void sema_check_zero_grad(Sema *s, AstNode *st)
{
    param_targets(s, st, &st->u.list);
}

/* ---- schedules --------------------------------------------------------------------------------
 * A schedule is a word of src/optim.c's table with its arguments (schedule_args), `A then B`
 * (warmup(5) then cosine), or a formula of the epoch and update counts: a factor of the
 * optimizer's learning rate, like PyTorch's LambdaLR. */

/* One schedule word and its arguments into *out. */
static bool schedule_word(Sema *s, AstNode *v, Schedule *out, SchedKind *kind)
{
    const char *name = v->kind == AST_NAME ? v->u.name : v->u.call.name;
    if (!schedule_lookup(name, kind) || *kind == SCHED_NONE) {
        if (!suggest_schedule(s, v, name)) {
            const char *words[SCHED_KINDS];
            size_t n = schedule_words(words);
            StrBuf sb;
            sb_init(&sb);
            sema_list_words(&sb, words, n, "or");
            sema_error(s, v->span, "unknown schedule '%s'; use %s, or a formula of epoch or "
                       "update", name, sb.data);
            sb_free(&sb);
        }
        return false;
    }
    int n;
    const ArgSpec *rows = schedule_args(*kind, &n);
    double values[SCHED_MAX_ARGS];
    for (int i = 0; i < n; i++) values[i] = rows[i].def;
    const char *example = NULL, *text = NULL;
    schedule_help(*kind, &example, &text);
    for (int i = 0; v->kind == AST_NAME && i < n; i++)
        if (rows[i].required) {     /* a bare word: every argument takes its default */
            sema_error(s, v->span, "'%s' needs '%s': %s", name, rows[i].name,
                       example ? example + strlen("schedule ") : name);
            return false;
        }
    if (v->kind == AST_CALL) {
        ArgValue got[SCHED_MAX_ARGS];
        char usage[192];
        snprintf(usage, sizeof usage, "'%s' takes its arguments by name: %s", name,
                 example ? example + strlen("schedule ") : name);
        ArgForm form = { rows, n, 0, 0, NULL, NULL, example ? example + strlen("schedule ")
                                                                  : NULL };
        if (!sema_args(s, v, &form, usage, got)) return false;
        for (int i = 0; i < n; i++) values[i] = got[i].num;
    }
    schedule_set(out, *kind, values);
    return true;
}

/* A name or call of a schedule word, as opposed to a formula (which may call built-ins and
 * functions of the user's; any other call is a misspelt schedule). */
static bool is_schedule_word(Sema *s, const AstNode *v)
{
    SchedKind k;
    if (v->kind == AST_NAME)        /* a word, or the count a formula reads */
        return strcmp(v->u.name, "epoch") != 0 && strcmp(v->u.name, "update") != 0;
    if (v->kind != AST_CALL) return false;
    if (schedule_lookup(v->u.call.name, &k)) return true;
    const Symbol *f = sema_lookup(s, v->u.call.name);
    return !op_lookup(v->u.call.name) && !(f && f->kind == SYM_FN);
}

/* schedule 1 - 0.9 * update / 100: a scalar formula of `epoch` or `update` (the counts so far,
 * from 0), with no params; per update if it uses `update`. */
static bool schedule_formula(Sema *s, AstNode *v, SemaTrain *t)
{
    int mark = s->n_locals;
    Symbol *epoch = sema_new_local(s, sema_intern(s, "epoch"), SYM_LET, v->span);
    Symbol *update = sema_new_local(s, sema_intern(s, "update"), SYM_LET, v->span);
    epoch->loop_var = update->loop_var = true;
    bool ok = sema_expr(s, v);
    s->n_locals = mark;
    if (!ok) return false;
    if (!sema_scalar(s, v, "schedule")) return false;
    if (v->sema.grad) {
        sema_error(s, v->span, "a schedule cannot depend on params");
        return false;
    }
    t->sched_formula = v;
    t->sched_epoch = epoch;
    t->sched_update = update;
    t->set.sched_per_update = sema_uses(v, update);
    schedule_set(&t->set.sched, SCHED_FORMULA, NULL);
    return true;
}

/* The schedule setting: a word (or A then B), or a formula. */
static bool check_schedule(Sema *s, AstNode *set, SemaTrain *t)
{
    AstNode *v = set->u.setting.value;
    const char *per = set->u.setting.per;
    if (per && strcmp(per, "update") != 0 && strcmp(per, "epoch") != 0) {
        sema_error(s, set->u.setting.per_span, "a schedule counts per update or per epoch, not "
                   "per %s", per);
        return false;
    }
    t->set.sched_per_update = per && strcmp(per, "update") == 0;
    if (!is_schedule_word(s, v)) return schedule_formula(s, v, t);
    SchedKind kind;
    if (!schedule_word(s, v, &t->set.sched, &kind)) return false;
    AstNode *then = set->u.setting.then;
    if (!then) return true;
    if (!schedule_leads(kind) || schedule_lead_length(&t->set.sched) <= 0) {
        sema_error(s, v->span, "before 'then' comes a warm-up with its length: warmup(over = 5) "
                   "then cosine, or linear(start = 0.1, over = 5) then ...");
        return false;
    }
    Schedule next;
    SchedKind kind2;
    if (!is_schedule_word(s, then)) {
        sema_error(s, then->span, "after 'then' comes a schedule such as cosine or "
                   "step_decay(every = 10)");
        return false;
    }
    if (!schedule_word(s, then, &next, &kind2)) return false;
    schedule_then(&t->set.sched, &next);
    bool in_epochs = !t->set.sched_per_update || !t->over_data;    /* counts known here */
    if (in_epochs && t->set.sched.milestone >= t->set.epochs) {
        const char *unit = t->set.sched_per_update ? "updates" : "epochs";
        sema_error(s, v->span, "this lasts %ld %s, but the block has %d %s: the schedule after "
                   "'then' would never start", t->set.sched.milestone, unit, t->set.epochs, unit);
        return false;
    }
    return true;
}

/* ---- train: the settings --------------------------------------------------------------------- */

typedef enum SettingId {
#define SETTING(e, ...) SET_##e,
#include "settings.def"
#undef SETTING
    SET_COUNT
} SettingId;

enum {
    SETF_DATA_ONLY = 1 << 0,    /* only for train MODEL on X, Y */
    SETF_REPEATS = 1 << 1,      /* may be given more than once */
    SETF_OWN_WORD = 1 << 2,     /* its check reads the word after the name too */
    SETF_LO_OPEN = 1 << 3,      /* the value must be above lo */
    SETF_LATER = 1 << 4,        /* a later stage reads the value */
};

/* What checking a train block has found so far, shared by its stages. */
typedef struct TrainCheck {
    Sema *s;
    AstNode *st;
    SemaTrain *t;
    AstNode *seen[SET_COUNT];   /* each setting as first given (never for SETF_REPEATS) */
    AstNode *value[SET_COUNT];  /* its value, once its word fits */
    bool ok;
    bool settings_failed;       /* a misspelt setting: "missing" errors would only repeat it */
} TrainCheck;

/* A setting's own reader of its value (and, for SETF_OWN_WORD, its word). */
typedef bool (*SettingCheckFn)(TrainCheck *tc, AstNode *set);

typedef struct SettingRow {
    const char *name;
    const char *word;
    ArgKind kind;
    double lo, hi;
    const char *range;
    const char *what;
    unsigned flags;
    size_t field;
    SettingCheckFn check;
} SettingRow;

static bool check_loss(TrainCheck *tc, AstNode *set);
static bool check_metric(TrainCheck *tc, AstNode *set);
static bool check_shuffle(TrainCheck *tc, AstNode *set);
static bool check_resume(TrainCheck *tc, AstNode *set);
static bool check_trace(TrainCheck *tc, AstNode *set);
static bool check_break(TrainCheck *tc, AstNode *set);

static const SettingRow settings[SET_COUNT] = {
#define SETTING(e, name, word, kind, lo, hi, range, what, flags, field, check, values, ex, help) \
    [SET_##e] = { name, word, kind, lo, hi, range, what, flags, field, check },
#include "settings.def"
#undef SETTING
};

/* The losses the op table has: mse, l1, ... (a loss is SIG_LOSS with a gradient). */
static bool is_loss(const OpInfo *op)
{
    return op->sig == SIG_LOSS && !(op->flags & OPF_NO_GRAD);
}

/* loss NAME: one of the op table's losses; or a formula (checked for each pass, with the
 * model's output for the batch). */
static bool check_loss(TrainCheck *tc, AstNode *set)
{
    AstNode *v = set->u.setting.value;
    const OpInfo *op = v->kind == AST_NAME ? op_lookup(v->u.name) : NULL;
    if (op && is_loss(op)) {
        tc->t->loss = op->kind;
        return true;
    }
    if (v->kind != AST_NAME) {
        tc->t->loss = OP_COUNT;
        tc->t->loss_formula = v;
        return true;
    }
    const char *losses[OP_COUNT];
    size_t n = 0;
    for (int k = 0; k < OP_COUNT; k++)
        if (is_loss(op_info((OpKind)k))) losses[n++] = op_info((OpKind)k)->name;
    StrBuf sb;
    sb_init(&sb);
    sema_list_words(&sb, losses, n, "or");
    sema_error(tc->s, v->span, "expected a loss: %s, or a formula of out (the model's output "
               "for the batch) and Y (its targets), e.g. loss mean((out - Y)^2)", sb.data);
    sb_free(&sb);
    return false;
}

/* metric accuracy | metric none | metric FORMULA */
static bool check_metric(TrainCheck *tc, AstNode *set)
{
    AstNode *v = set->u.setting.value;
    bool accuracy = v->kind == AST_NAME && strcmp(v->u.name, "accuracy") == 0;
    if (accuracy || (v->kind == AST_NAME && strcmp(v->u.name, "none") == 0)) {
        tc->t->set.metric = accuracy;
        return true;
    }
    if (v->kind == AST_NAME) {
        sema_error(tc->s, v->span, "the metric is 'accuracy', 'none' or a formula of out and Y, "
                   "e.g. metric mean((out > 0) == (Y > 0))");
        return false;
    }
    tc->t->set.metric = true;
    tc->t->metric_formula = v;
    /* log lines name it after the function it calls, if the formula is a call of one */
    Symbol *fn = v->kind == AST_CALL ? sema_lookup(tc->s, v->u.call.name) : NULL;
    if (fn && fn->kind == SYM_FN) tc->t->metric_name = fn->name;
    else if (v->kind == AST_CALL && op_lookup(v->u.call.name)
             && op_lookup(v->u.call.name)->sig == SIG_LOSS)     /* accuracy(...), mse(...) */
        tc->t->metric_name = v->u.call.name;
    else tc->t->metric_name = "metric";
    return true;
}

/* shuffle true | shuffle false */
static bool check_shuffle(TrainCheck *tc, AstNode *set)
{
    AstNode *v = set->u.setting.value;
    const char *w = v->kind == AST_NAME ? v->u.name : "";
    if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
        tc->t->set.shuffle = w[0] == 't';
        return true;
    }
    sema_error(tc->s, v->span, "write 'shuffle false' (the rows in the order given) or 'shuffle "
               "true' (a new random order every epoch, the default)");
    return false;
}

/* resume "FILE" */
static bool check_resume(TrainCheck *tc, AstNode *set)
{
    AstNode *v = set->u.setting.value;
    if (v->kind == AST_STRING) {
        tc->t->resume = sema_text(tc->s, v);
        return true;
    }
    sema_error(tc->s, v->span, "'resume' takes a checkpoint's file name: resume "
               "\"net.safetensors\"");
    return false;
}

/* trace step N [at PLACES] | trace every N (the places are checked with the model) */
static bool check_trace(TrainCheck *tc, AstNode *set)
{
    const char *word = set->u.setting.word;
    long n;
    bool every = word && strcmp(word, "every") == 0;
    if (!every && !(word && strcmp(word, "step") == 0)) {
        sema_error(tc->s, set->span, "write 'trace step N' or 'trace every N'");
        return false;
    }
    if (!sema_const_int(tc->s, set->u.setting.value, every ? "the tracing interval"
                        : settings[SET_TRACE].what, 1, 100000000, &n))
        return false;
    *(every ? &tc->t->set.trace_every : &tc->t->set.trace_step) = (int)n;
    return true;
}

/* break step N | break nonfinite | break grad_norm X (a block may have several) */
static bool check_break(TrainCheck *tc, AstNode *set)
{
    Sema *s = tc->s;
    const char *word = set->u.setting.word;
    AstNode *v = set->u.setting.value;
    if (word && strcmp(word, "step") == 0) {
        long n;
        if (!sema_const_int(s, v, settings[SET_BREAK].what, 1, 100000000, &n)) return false;
        tc->t->set.break_step = n;
        return true;
    }
    if (!word && v->kind == AST_NAME && strcmp(v->u.name, "nonfinite") == 0) {
        tc->t->set.break_nonfinite = true;
        return true;
    }
    if (word && strcmp(word, "grad_norm") == 0) {
        double x;
        if (!sema_const_number(s, v, "the largest gradient norm", &x)) return false;
        if (!(x > 0)) {
            sema_error(s, v->span, "the gradient norm to stop at must be above 0");
            return false;
        }
        tc->t->set.break_grad_norm = x;
        return true;
    }
    sema_error(s, set->span, "write 'break step N' (stop before update N), 'break nonfinite' (at "
               "the first inf or NaN) or 'break grad_norm X' (when the gradient norm is above X)");
    return false;
}

/* "unknown setting 'epoch'; did you mean 'epochs'?", or else the list of settings. */
static void report_unknown_setting(Sema *s, const AstNode *set)
{
    const char *name = set->u.setting.name;
    Suggest sg;
    suggest_init(&sg, name);
    for (int k = 0; k < SET_COUNT; k++) suggest_offer(&sg, settings[k].name);
    if (suggest_best(&sg)) {
        sema_error(s, set->u.setting.name_span, "unknown setting '%s'; did you mean '%s'?", name,
                   suggest_best(&sg));
        return;
    }
    StrBuf sb;
    sb_init(&sb);
    for (int k = 0; k < SET_COUNT; k++)
        sb_printf(&sb, "%s%s%s%s%s", k ? ", " : "", settings[k].name,
                  settings[k].word ? " " : "", settings[k].word ? settings[k].word : "",
                  settings[k].word ? " N" : "");
    sema_error(s, set->u.setting.name_span, "unknown setting '%s' (a train block takes %s)", name,
               sb.data);
    sb_free(&sb);
}

/* The word between a setting's name and its value: the row's (log every N), or none. */
static bool word_fits(Sema *s, const SettingRow *row, const AstNode *set)
{
    const char *word = set->u.setting.word;
    if (row->word ? word && strcmp(word, row->word) == 0 : !word) return true;
    if (row->word)
        sema_error(s, set->span, "write '%s %s N'", row->name, row->word);
    else
        sema_error(s, set->span, "'%s' takes one value, as in '%s ...'", row->name, row->name);
    return false;
}

/* A constant of the row's kind and range, stored at the row's field of SemaTrain. */
static bool store_value(TrainCheck *tc, const SettingRow *row, AstNode *v)
{
    ArgSpec spec = { row->name, row->kind, true, 0, row->lo, row->hi,
                     (row->flags & SETF_LO_OPEN) != 0, false, row->range };
    double x;
    if (!sema_arg_value(tc->s, v, &spec, row->what, &x)) return false;
    char *field = (char *)tc->t + row->field;
    if (row->kind == ARG_INT) *(int *)(void *)field = (int)x;
    else *(double *)(void *)field = x;
    return true;
}

/* One setting line: which setting, given once, its word, then its value. */
static bool read_setting(TrainCheck *tc, AstNode *set)
{
    Sema *s = tc->s;
    int k = 0;
    while (k < SET_COUNT && strcmp(settings[k].name, set->u.setting.name) != 0) k++;
    if (k == SET_COUNT) {
        report_unknown_setting(s, set);
        return false;
    }
    const SettingRow *row = &settings[k];
    if (!(row->flags & SETF_REPEATS)) {
        if (tc->seen[k]) {
            sema_error(s, set->u.setting.name_span, "'%s' is set twice", row->name);
            sema_note(s, tc->seen[k]->span, "first set here");
            return false;
        }
        tc->seen[k] = set;
    }
    if (!(row->flags & SETF_OWN_WORD) && !word_fits(s, row, set)) return false;
    AstNode *v = set->u.setting.value;
    if (!v) {
        sema_error(s, set->span, "'%s' needs a value", row->name);
        return false;
    }
    tc->value[k] = v;
    if (row->flags & SETF_LATER) return true;
    return row->check ? row->check(tc, set) : store_value(tc, row, v);
}

/* The optimizer and the number of epochs every block needs, and the schedule (which reads the
 * number of epochs). */
static void check_needed(TrainCheck *tc)
{
    Sema *s = tc->s;
    AstNode *opt = tc->value[SET_OPTIMIZER];
    if (!tc->seen[SET_OPTIMIZER] && !tc->settings_failed) {
        sema_error(s, tc->st->span, "a train block needs an optimizer, e.g. 'optimizer sgd(lr = "
                   "0.1)' or 'optimizer adam()'");
        tc->ok = false;
    } else if (opt && !check_optimizer(s, opt, &tc->t->set.optim, NULL)) {
        tc->ok = false;
    }
    if (tc->seen[SET_OPTIMIZER] && !opt) tc->ok = false;       /* its error was reported */
    if (!tc->seen[SET_EPOCHS] && !tc->settings_failed) {
        sema_error(s, tc->st->span, "a train block needs 'epochs N'");
        tc->ok = false;
    }
    tc->t->over_data = tc->st->u.train.x != NULL;      /* train MODEL on ... */
    if (tc->value[SET_SCHEDULE] && tc->ok)
        tc->ok = check_schedule(s, tc->seen[SET_SCHEDULE], tc->t);
}

/* ---- train: a loss formula ------------------------------------------------------------------- */

/* train LOSS { ... }: each epoch is one step on a scalar loss of params. */
static void train_loss(TrainCheck *tc)
{
    Sema *s = tc->s;
    for (int k = 0; k < SET_COUNT; k++)
        if ((settings[k].flags & SETF_DATA_ONLY) && tc->seen[k]) {
            sema_error(s, tc->seen[k]->u.setting.name_span, "'%s' is for training a model on "
                       "data (train MODEL on X, Y); this block trains a loss formula",
                       settings[k].name);
            tc->ok = false;
        }
    AstNode *trace = tc->seen[SET_TRACE];
    if (trace && !sema_trace_places(s, &trace->u.setting.places, NULL, &tc->t->focus)) return;
    AstNode *target = tc->st->u.train.target;
    s->train_formula = 1;
    bool checked = sema_expr(s, target);
    s->train_formula = 0;
    if (!checked || !sema_scalar(s, target, "train")) return;
    if (!target->sema.grad) {
        sema_error(s, target->span, "nothing to train: this depends on no param");
        return;
    }
    tc->t->over_data = false;
}

/* ---- train: shapes --------------------------------------------------------------------------- */

/* Checks a loss (and a metric) on the model's output for a batch of `rows`. */
static bool check_loss_shapes(Sema *s, Span at, OpKind loss, const Shape *out, const Shape *y)
{
    const OpInfo *op = op_info(loss);
    Shape in[2] = { *out, *y }, res;
    OpAttrs attrs = sema_no_attrs();
    StrBuf err;
    sb_init(&err);
    bool ok = op->shape(op, in, &attrs, &res, &err);
    if (!ok) sema_error(s, at, "%s: %s", op->name, err.data);
    sb_free(&err);
    return ok;
}

static bool metric_fits(const Shape *out, const Shape *y)
{
    const OpInfo *op = op_info(OP_ACCURACY);
    Shape in[2] = { *out, *y }, res;
    OpAttrs attrs = sema_no_attrs();
    StrBuf err;
    sb_init(&err);
    bool ok = op->shape(op, in, &attrs, &res, &err);
    sb_free(&err);
    return ok;
}

static Shape with_rows(const Shape *s, int rows)
{
    Shape r = *s;
    r.dim[0] = rows;
    return r;
}

/* ---- train: a model on data ------------------------------------------------------------------ */

/* The model of train MODEL on ..., or NULL (reported unless it was poisoned). */
static Symbol *train_model(TrainCheck *tc)
{
    AstNode *target = tc->st->u.train.target;
    Symbol *msym = target->kind == AST_NAME ? sema_lookup(tc->s, target->u.name) : NULL;
    if (!msym || msym->kind != SYM_MODEL) {
        if (!msym)
            sema_error(tc->s, target->span, "unknown model '%s'", target->u.name);
        else
            sema_error(tc->s, target->span, "'%s' is not a model; train MODEL on X, Y { ... } "
                       "trains a model (to train a loss formula, write train LOSS { ... })",
                       target->u.name);
        return NULL;
    }
    return msym->poisoned ? NULL : msym;
}

/* DATA.X and DATA.Y for a data set's name, made as field nodes at its span. */
static void data_fields(Sema *s, AstNode *data, AstNode **x, AstNode **y)
{
    AstNode *dx = ast_new(s->arena, AST_FIELD, data->span);
    AstNode *dy = ast_new(s->arena, AST_FIELD, data->span);
    dx->u.field.obj = dy->u.field.obj = data;
    dx->u.field.field = "X";
    dy->u.field.field = "Y";
    dx->u.field.field_span = dy->u.field.field_span = data->span;
    *x = dx;
    *y = dy;
}

/* The training data: X, Y (or a data set's, written into the statement), checked: a matrix of
 * inputs and targets with as many rows, neither depending on a param. */
static bool resolve_train_data(TrainCheck *tc, Symbol *msym, AstNode **px, AstNode **py)
{
    Sema *s = tc->s;
    AstNode *x = tc->st->u.train.x, *y = tc->st->u.train.y;
    if (!y) {
        Symbol *d = x->kind == AST_NAME ? sema_lookup(s, x->u.name) : NULL;
        if (!d || d->kind != SYM_DATA) {
            sema_error(s, x->span, "train on a data set, or on inputs and targets: train %s on "
                       "X, Y { ... }", msym->name);
            return false;
        }
        if (d->poisoned) return false;
        data_fields(s, x, &tc->st->u.train.x, &tc->st->u.train.y);
        x = tc->st->u.train.x;
        y = tc->st->u.train.y;
    }
    bool xy = sema_expr(s, x);
    xy = sema_expr(s, y) && xy;
    if (!xy) return false;
    char a[64], b[64];
    if (x->sema.shape.rank < 2) {
        sema_error(s, x->span, "the inputs must be a matrix [rows, features] (or a batch of "
                   "images [rows, C, H, W]), but this has shape %s",
                   shape_str(&x->sema.shape, a, sizeof a));
        return false;
    }
    if (y->sema.shape.rank < 1 || y->sema.shape.rank > 2
        || y->sema.shape.dim[0] != x->sema.shape.dim[0]) {
        sema_error(s, y->span, "the targets need one row per input row: the inputs are %s, the "
                   "targets %s", shape_str(&x->sema.shape, a, sizeof a),
                   shape_str(&y->sema.shape, b, sizeof b));
        return false;
    }
    if (x->sema.grad || y->sema.grad) {
        sema_error(s, x->sema.grad ? x->span : y->span, "training data cannot depend on params");
        return false;
    }
    *px = x;
    *py = y;
    return true;
}

/* validation D: a data set with the training inputs' features. */
static bool validation_set(TrainCheck *tc, Symbol *vd, AstNode *val, int features)
{
    SemaTrain *t = tc->t;
    if (vd->poisoned) return false;
    if (vd->data->features != features) {
        sema_error(tc->s, val->span, "the validation set has %d features, the training inputs %d",
                   vd->data->features, features);
        return false;
    }
    t->has_val = t->val_given = true;
    t->val_rows = vd->data->rows;
    AstNode *vx, *vy;
    data_fields(tc->s, val, &vx, &vy);
    if (!sema_expr(tc->s, vx) || !sema_expr(tc->s, vy)) return false;
    t->vx = vx;
    t->vy = vy;
    return true;
}

/* validation F: the last fraction F of the rows, neither part empty. */
static bool validation_fraction(TrainCheck *tc, AstNode *val)
{
    Sema *s = tc->s;
    SemaTrain *t = tc->t;
    double f;
    if (!sema_const_number(s, val, settings[SET_VALIDATION].what, &f)) return false;
    if (!(f > 0 && f < 1)) {
        sema_error(s, val->span, "the validation fraction must be between 0 and 1, or name a "
                   "data set");
        return false;
    }
    t->val_rows = (int)lround(f * t->rows);
    if (t->val_rows < 1 || t->val_rows >= t->rows) {
        sema_error(s, val->span, "a validation fraction of %g of %d rows leaves a part empty", f,
                   t->rows);
        return false;
    }
    t->has_val = true;
    t->train_rows = t->rows - t->val_rows;
    return true;
}

/* The validation setting, if given: a fraction of the rows or a data set. */
static bool check_validation(TrainCheck *tc, int features)
{
    AstNode *val = tc->value[SET_VALIDATION];
    if (!val) return true;
    Symbol *vd = val->kind == AST_NAME ? sema_lookup(tc->s, val->u.name) : NULL;
    if (vd && vd->kind != SYM_DATA) {
        sema_error(tc->s, val->span, "'validation' takes a fraction such as 0.2 or a data set's "
                   "name");
        return false;
    }
    return vd ? validation_set(tc, vd, val, features) : validation_fraction(tc, val);
}

/* The metric on a batch's output: given (it must fit), or accuracy where it fits a
 * classification. `data`: the data set trained on, if the block names one. */
static bool check_metric_fits(TrainCheck *tc, const Shape *yb, const Symbol *data)
{
    SemaTrain *t = tc->t;
    AstNode *metric = tc->seen[SET_METRIC];
    bool numeric = data && data->kind == SYM_DATA && data->data->n_classes == 0;
    if (tc->value[SET_METRIC] && t->set.metric && !metric_fits(&t->batch_app.out, yb)) {
        char o[64], w[64];
        sema_error(tc->s, metric->span, "accuracy needs class scores [N, C] with one-hot or index "
                   "targets, or probabilities [N, 1] with 0/1 targets; here the model gives %s "
                   "and the targets are %s", shape_str(&t->batch_app.out, o, sizeof o),
                   shape_str(yb, w, sizeof w));
        return false;
    }
    if (tc->value[SET_METRIC] && t->set.metric && numeric) {
        sema_error(tc->s, metric->span, "accuracy needs class targets, but '%s' has a numeric "
                   "target", data->name);
        return false;
    }
    if (!tc->value[SET_METRIC])
        t->set.metric = !numeric && !t->loss_formula && t->loss != OP_MSE && t->loss != OP_L1
                    && metric_fits(&t->batch_app.out, yb);
    return true;
}

/* A formula of the batch for one pass, checked on its own copy with X, Y and out of the pass's
 * shapes. `what` names it in a note when it fails. */
static AstNode *pass_formula(TrainCheck *tc, AstNode *f, PassFormula *pf, const char *what)
{
    Sema *s = tc->s;
    int mark = s->n_locals;
    sema_push_local(s, pf->x->name, pf->x);
    sema_push_local(s, pf->y->name, pf->y);
    sema_push_local(s, pf->out->name, pf->out);
    AstNode *copy = ast_clone(s->arena, f);
    bool ok = sema_expr(s, copy) && sema_scalar(s, copy, what);
    s->n_locals = mark;
    return ok ? copy : NULL;
}

/* The names a formula of the batch reads, with one pass's shapes. */
static void pass_names(Sema *s, PassFormula *pf, const Shape *x, const Shape *y, const Shape *out,
                       Span at)
{
    Symbol **syms[3] = { &pf->x, &pf->y, &pf->out };
    const char *names[3] = { "X", "Y", "out" };
    const Shape *shapes[3] = { x, y, out };
    for (int i = 0; i < 3; i++) {
        Symbol *sym = arena_alloc(s->arena, sizeof *sym);
        sym->name = sym->label = sema_intern(s, names[i]);
        sym->kind = SYM_LET;
        sym->shape = *shapes[i];
        sym->grad = i == 2;
        sym->decl = at;
        *syms[i] = sym;
    }
}

/* The loss (and metric) of one pass: the built-in's shape rule, or the formulas checked for
 * the pass's shapes. */
static bool pass_loss(TrainCheck *tc, const ModelApp *app, const Shape *x, const Shape *y,
                      PassFormula *pf, Span at)
{
    SemaTrain *t = tc->t;
    if (!t->loss_formula) {
        if (!check_loss_shapes(tc->s, at, t->loss, &app->out, y)) return false;
    } else {
        pass_names(tc->s, pf, x, y, &app->out, at);
        pf->loss = pass_formula(tc, t->loss_formula, pf, "loss");
        if (!pf->loss) return false;
        if (!pf->loss->sema.grad) {
            sema_error(tc->s, t->loss_formula->span, "this loss depends on no param: write it "
                       "with out, the model's output for the batch (or the model applied to X)");
            return false;
        }
    }
    if (!t->metric_formula) return true;
    if (!pf->x) pass_names(tc->s, pf, x, y, &app->out, at);
    pf->metric = pass_formula(tc, t->metric_formula, pf, "metric");
    return pf->metric != NULL;
}

/* The model applied as training runs it: to a batch (and the loss and metric on it), to the
 * last, smaller batch, to all the training rows, and to the validation rows. */
static void apply_model_passes(TrainCheck *tc, Symbol *msym, AstNode *x, AstNode *y)
{
    Sema *s = tc->s;
    SemaTrain *t = tc->t;
    AstNode *val = tc->value[SET_VALIDATION];
    Span at = tc->value[SET_LOSS]->span;
    Shape xs = x->sema.shape, ys = y->sema.shape;
    Shape xb = with_rows(&xs, t->set.batch), yb = with_rows(&ys, t->set.batch);
    if (!sema_apply_model(s, msym, &xb, x->span, &t->batch_app)) return;
    if (!pass_loss(tc, &t->batch_app, &xb, &yb, &t->batch_f, at)) return;
    /* a data set knows whether its target is classes */
    AstNode *tx = tc->st->u.train.x;
    Symbol *data = tx->kind == AST_FIELD && tx->u.field.obj->kind == AST_NAME
                       ? sema_lookup(s, tx->u.field.obj->u.name) : NULL;
    if (!t->metric_formula && !check_metric_fits(tc, &yb, data)) return;
    if (t->rest) {
        Shape xr = with_rows(&xs, t->rest), yr = with_rows(&ys, t->rest);
        if (!sema_apply_model(s, msym, &xr, x->span, &t->rest_app)) return;
        if (!pass_loss(tc, &t->rest_app, &xr, &yr, &t->rest_f, at)) return;
    }
    Shape xt = with_rows(&xs, t->train_rows), yt = with_rows(&ys, t->train_rows);
    if (!sema_apply_model(s, msym, &xt, x->span, &t->train_app)) return;
    if (!pass_loss(tc, &t->train_app, &xt, &yt, &t->train_f, at)) return;
    if (!t->has_val) return;
    Shape xv = t->val_given ? t->vx->sema.shape : with_rows(&xs, t->val_rows);
    if (!sema_apply_model(s, msym, &xv, val->span, &t->val_app)) return;
    Shape yv = t->val_given ? t->vy->sema.shape : with_rows(&ys, t->val_rows);
    pass_loss(tc, &t->val_app, &xv, &yv, &t->val_f, val->span);
}

/* A batchnorm layer standardises each channel over a training batch: a batch of one row whose
 * channels hold one value each has no variance to divide by (torch refuses it too). False
 * after reporting. */
static bool batchnorm_batches(TrainCheck *tc, const Model *m)
{
    const SemaTrain *t = tc->t;
    int smallest = t->rest ? t->rest : t->set.batch;
    for (int i = 0; i < m->n_layers && smallest == 1; i++) {
        const Layer *ly = &m->layers[i];
        if (ly->kind != LAYER_BATCHNORM || shape_size(&ly->shape) != (size_t)ly->shape.dim[0])
            continue;
        AstNode *at = tc->seen[SET_BATCH];
        sema_error(tc->s, at ? at->span : tc->st->span, "batchnorm layer %s standardises each "
                   "%s over a training batch, but %s has one row (%d row%s in batches of %d): "
                   "a single value has no variance; choose a batch size that leaves no row "
                   "alone", ly->group, ly->shape.rank == 1 ? "feature" : "channel",
                   t->rest ? "the last batch" : "each batch", t->train_rows,
                   t->train_rows == 1 ? "" : "s", t->set.batch);
        return false;
    }
    return true;
}

/* train MODEL on X, Y { ... } / train MODEL on DATA { ... } */
static void train_on_data(TrainCheck *tc)
{
    Sema *s = tc->s;
    SemaTrain *t = tc->t;
    Symbol *msym = train_model(tc);
    if (!msym) return;
    t->over_data = true;
    t->model = msym;
    AstNode *trace = tc->seen[SET_TRACE];
    if (trace && !sema_trace_places(s, &trace->u.setting.places, msym, &t->focus))
        tc->ok = false;
    AstNode *x, *y;
    if (!resolve_train_data(tc, msym, &x, &y)) return;
    if (!tc->seen[SET_LOSS] && !tc->settings_failed) {
        sema_error(s, tc->st->span, "a train block on data needs a loss, e.g. 'loss mse' or 'loss "
                   "cross_entropy'");
        return;
    }
    if (!tc->ok) return;
    t->rows = x->sema.shape.dim[0];
    t->train_rows = t->rows;
    if (!check_validation(tc, (int)(shape_size(&x->sema.shape) / (size_t)x->sema.shape.dim[0]))) return;
    if (t->set.batch == 0 || t->set.batch > t->train_rows) t->set.batch = t->train_rows;
    t->rest = t->train_rows % t->set.batch;
    if (!batchnorm_batches(tc, msym->model)) return;
    apply_model_passes(tc, msym, x, y);
}

void sema_check_train(Sema *s, AstNode *st)
{
    TrainCheck tc;
    memset(&tc, 0, sizeof tc);
    tc.s = s;
    tc.st = st;
    tc.t = &sema_extra(s, st)->train;
    memset(tc.t, 0, sizeof *tc.t);
    tc.t->set.accumulate = 1;
    tc.t->set.shuffle = 1;
    tc.t->metric_name = "accuracy";
    tc.ok = true;
    for (size_t i = 0; i < st->u.train.settings.count; i++)
        tc.ok = read_setting(&tc, st->u.train.settings.items[i]) && tc.ok;
    tc.settings_failed = !tc.ok;
    check_needed(&tc);
    if (st->u.train.x) train_on_data(&tc);
    else train_loss(&tc);
}

/* ---- save / load ------------------------------------------------------------------------- */

/* A path ending in ".onnx" (any case): save writes ONNX, not safetensors. */
static bool onnx_path(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}

/* Whether an op has an ONNX operator (src/onnx.def, which the writer uses too). */
static bool onnx_op(OpKind op)
{
    switch (op) {
#define ONNX(o, name, attr) case o:
#include "onnx.def"
#undef ONNX
        return true;
    default:
        return false;
    }
}

/* save MODEL "FILE.onnx": a model of layers, each with an ONNX operator; load does not read
 * ONNX. What is refused is named where it was written. */
static void check_onnx(Sema *s, AstNode *st, Symbol *sym)
{
    const Model *m = sym->model;
    if (st->kind == AST_LOAD) {
        sema_error(s, st->u.file.path->span, "load reads safetensors files (nn's own, or "
                   "PyTorch's); an ONNX file is for serving the model outside nn");
        return;
    }
    if (m->formula) {
        sema_error(s, st->u.file.name_span, "'%s' is a formula model (forward(x) = ...); ONNX "
                   "export takes a model of layers (dense, activations, dropout, residual)",
                   sym->name);
        return;
    }
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *ly = &m->layers[i];
        OpKind op = ly->kind == LAYER_NORM ? OP_LAYERNORM : ly->op;
        if ((ly->kind == LAYER_ACT || ly->kind == LAYER_POOL || ly->kind == LAYER_NORM)
            && !onnx_op(op)) {
            sema_error(s, ly->span, "'%s' has no ONNX operator in nn's export yet%s, so model "
                       "'%s' cannot be saved as ONNX", op_info(op)->name,
                       op == OP_LAYERNORM ? " (LayerNormalization needs opset 17; nn writes 13)"
                                          : "", sym->name);
            return;
        }
    }
    SemaExtra *ex = sema_extra(s, st);
    ex->onnx = true;
    ex->app.model = sym;
}

void sema_check_file(Sema *s, AstNode *st)
{
    Symbol *sym = sema_lookup(s, st->u.file.name);
    const char *verb = st->kind == AST_SAVE ? "save" : "load";
    if (!sym || sym->kind != SYM_MODEL) {
        if (!sym)
            sema_error(s, st->u.file.name_span, "unknown model '%s'", st->u.file.name);
        else
            sema_error(s, st->u.file.name_span, "'%s' is not a model; '%s' works on models",
                       st->u.file.name, verb);
        return;
    }
    if (sym->poisoned) return;
    if (sym->model->n_params == 0) {
        sema_error(s, st->u.file.name_span, "model '%s' has no params to %s", sym->name, verb);
        return;
    }
    SemaExtra *ex = sema_extra(s, st);
    ex->path = sema_text(s, st->u.file.path);
    st->sema.sym = sym;
    if (onnx_path(ex->path)) check_onnx(s, st, sym);
}
