/* sema_train.c — checks what trains: train blocks with their settings, optimizers (also of a
 * `step` statement) and schedules, the places a trace looks at, and save/load of a model's
 * params. Stands on sema_expr.c. */
#include "sema_train.h"

#include "sema_expr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- where a trace looks ---------------------------------------------------------------------- */

static const Layer *dense_named(const Model *m, const char *group)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == LAYER_DENSE && m->layers[i].group == group) return &m->layers[i];
    return NULL;
}

bool sema_trace_places(Sema *s, const AstList *places, Symbol *model, TraceFocus *out)
{
    out->places = NULL;
    out->count = 0;
    if (!places->count) return true;
    TracePlace *ps = arena_alloc(s->arena, places->count * sizeof *ps);
    bool ok = true;
    for (size_t i = 0; i < places->count; i++) {
        const AstNode *pl = places->items[i];
        AstNode *path = pl->u.place.path;
        Symbol *root = NULL;
        const char *sub = sema_field_path(s, path, &root);
        if (sub && !*sub && model && (!root || root->kind != SYM_MODEL)) {
            sub = path->u.name;     /* in a train block, `layer1` is a layer of its model */
            root = model;
        }
        if (!sub || !*sub || !root || root->kind != SYM_MODEL) {
            if (model)
                sema_error(s, path->span, "a trace looks at a layer of '%s': write layer1, or "
                           "layer1[0] for one unit of it", model->name);
            else
                sema_error(s, path->span, "a trace looks at a layer of a model: write "
                           "net.layer1, or net.layer1[0] for one unit of it");
            ok = false;
            continue;
        }
        if (root->poisoned) {
            ok = false;
            continue;
        }
        Model *m = root->model;
        if (model && root != model) {
            sema_error(s, path->span, "this block trains '%s', not '%s': trace the layers of "
                       "'%s'", model->name, m->name, model->name);
            ok = false;
            continue;
        }
        if (m->formula) {
            sema_error(s, path->span, "'%s' is written as a formula, not as layers: there is no "
                       "layer to look at (trace without 'at' shows all of it)", m->name);
            ok = false;
            continue;
        }
        const Layer *ly = dense_named(m, sema_dotted(s, m->name, sub));
        if (!ly) {
            int last = 0;
            for (int k = 0; k < m->n_layers; k++)
                if (m->layers[k].kind == LAYER_DENSE) last = m->layers[k].index;
            if (last == 1)
                sema_error(s, path->span, "model '%s' has no layer '%s'; its one dense layer is "
                           "layer1", m->name, sub);
            else
                sema_error(s, path->span, "model '%s' has no layer '%s'; its dense layers are "
                           "layer1 to layer%d", m->name, sub, last);
            ok = false;
            continue;
        }
        int unit = -1;
        if (pl->u.place.has_unit) {
            double u = pl->u.place.unit;
            if (u != floor(u) || u >= ly->out) {
                if (ly->out == 1)
                    sema_error(s, pl->u.place.unit_span, "%s has one unit: write %s[0]",
                               ly->group, ly->group);
                else
                    sema_error(s, pl->u.place.unit_span, "%s has %d units, numbered from 0 to %d",
                               ly->group, ly->out, ly->out - 1);
                ok = false;
                continue;
            }
            unit = (int)u;
        }
        ps[out->count].group = ly->group;
        ps[out->count].unit = unit;
        out->count++;
    }
    out->places = ps;
    return ok;
}

/* ---- optimizers --------------------------------------------------------------------------- */

/* One setting of an optimizer: where it goes and the values it may take. */
typedef struct HyperSpec {
    const char *name;
    float *slot;
    double lo, hi;
    bool lo_open, hi_open;
    const char *range;      /* the rule, for the message */
} HyperSpec;

static bool check_optimizer(Sema *s, AstNode *e, OptimConfig *c, bool lr_required)
{
    const char *name = e->kind == AST_CALL ? e->u.call.name : e->kind == AST_NAME ? e->u.name : NULL;
    OptimKind kind;
    if (!name || !optim_lookup(name, &kind)) {
        if (name)
            sema_error(s, e->kind == AST_CALL ? e->u.call.name_span : e->span, "unknown "
                       "optimizer '%s' (nn has sgd, adam, adamw and rmsprop)", name);
        else
            sema_error(s, e->span, "expected an optimizer, such as sgd(lr = 0.1) or adam()");
        return false;
    }
    optim_defaults(kind, c);
    float nesterov = 0;
    HyperSpec specs[8];
    int n = 0;
    specs[n++] = (HyperSpec){ "lr", &c->lr, 0, INFINITY, true, true, "positive" };
    if (kind == OPTIM_SGD || kind == OPTIM_RMSPROP)
        specs[n++] = (HyperSpec){ "momentum", &c->momentum, 0, 1, false, true,
                                  "at least 0 and below 1" };
    if (kind == OPTIM_SGD) {
        specs[n++] = (HyperSpec){ "dampening", &c->dampening, 0, 1, false, false,
                                  "between 0 and 1" };
        specs[n++] = (HyperSpec){ "nesterov", &nesterov, 0, 1, false, false,
                                  "1 (on) or 0 (off)" };
    }
    if (kind == OPTIM_ADAM || kind == OPTIM_ADAMW) {
        specs[n++] = (HyperSpec){ "beta1", &c->beta1, 0, 1, false, true, "at least 0 and below 1" };
        specs[n++] = (HyperSpec){ "beta2", &c->beta2, 0, 1, false, true, "at least 0 and below 1" };
    }
    if (kind == OPTIM_RMSPROP)
        specs[n++] = (HyperSpec){ "alpha", &c->alpha, 0, 1, false, false, "between 0 and 1" };
    if (kind != OPTIM_SGD)
        specs[n++] = (HyperSpec){ "eps", &c->eps, 0, 1, true, false, "above 0 and at most 1" };
    specs[n++] = (HyperSpec){ "weight_decay", &c->weight_decay, 0, INFINITY, false, true,
                              "at least 0" };
    const AstList *args = e->kind == AST_CALL ? &e->u.call.args : &(AstList){ 0 };
    bool lr_given = false;
    for (size_t i = 0; i < args->count; i++) {
        AstNode *a = args->items[i];
        const char *an = a->u.bind.name;
        if (!an) {
            if (i != 0) {
                sema_error(s, a->span, "only the learning rate may be given without its name; "
                           "name the others, e.g. momentum = 0.9");
                return false;
            }
            an = "lr";
        }
        int k = 0;
        while (k < n && strcmp(specs[k].name, an) != 0) k++;
        if (k == n) {
            StrBuf sb;
            sb_init(&sb);
            for (int j = 0; j < n; j++) sb_printf(&sb, "%s%s", j ? ", " : "", specs[j].name);
            sema_error(s, a->u.bind.name ? a->u.bind.name_span : a->span, "'%s' has no "
                       "argument '%s' (it takes %s)", name, an, sb.data);
            sb_free(&sb);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            const char *bn = args->items[j]->u.bind.name ? args->items[j]->u.bind.name : "lr";
            if (strcmp(bn, an) == 0) {
                bool mixed = !args->items[j]->u.bind.name || !a->u.bind.name;
                sema_error(s, a->u.bind.name ? a->u.bind.name_span : a->span,
                           "argument '%s' is given twice%s", an, mixed ? ": by position and by name" : "");
                return false;
            }
        }
        double v;
        char what[64];
        snprintf(what, sizeof what, strcmp(an, "lr") == 0 ? "the learning rate '%s'" : "'%s'",
                 an);
        if (!sema_const_number(s, a->u.bind.value, what, &v)) return false;
        bool bad = v < specs[k].lo || v > specs[k].hi || (specs[k].lo_open && v == specs[k].lo)
                   || (specs[k].hi_open && v == specs[k].hi);
        if (strcmp(an, "nesterov") == 0) bad = v != 0 && v != 1;
        if (bad) {
            if (strcmp(an, "lr") == 0) what[0] = '\0';
            sema_error(s, a->u.bind.value->span, "%s must be %s",
                       strcmp(an, "lr") == 0 ? "the learning rate" : what, specs[k].range);
            return false;
        }
        *specs[k].slot = (float)v;
        if (strcmp(an, "lr") == 0) lr_given = true;
    }
    c->nesterov = nesterov != 0;
    if (kind == OPTIM_SGD && lr_required && !lr_given) {
        sema_error(s, e->span, "'sgd' needs a learning rate, e.g. sgd(lr = 0.1)");
        return false;
    }
    if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
        sema_error(s, e->span, "nesterov momentum needs momentum above 0 and no dampening");
        return false;
    }
    return true;
}

void sema_check_step(Sema *s, AstNode *st)
{
    AstNode call = *st;     /* the step's optimizer reads like a call */
    call.kind = AST_CALL;
    SemaExtra *ex = sema_extra(s, st);
    check_optimizer(s, &call, &ex->train.optim, true);
}

/* ---- train ---------------------------------------------------------------------------------- */

static const char *const setting_names[] = {
    "loss", "optimizer", "epochs", "batch", "accumulate", "clip", "validation", "early_stop",
    "log", "schedule", "metric", "resume", "trace", "break",
};

/* break step N | break nonfinite | break grad_norm X (a block may have several) */
static bool check_break(Sema *s, AstNode *set, SemaTrain *t)
{
    const char *word = set->u.setting.word;
    AstNode *v = set->u.setting.value;
    if (word && strcmp(word, "step") == 0) {
        long n;
        if (!sema_const_int(s, v, "the update to stop before", 1, 100000000, &n)) return false;
        t->break_step = n;
        return true;
    }
    if (!word && v && v->kind == AST_NAME && strcmp(v->u.name, "nonfinite") == 0) {
        t->break_nonfinite = true;
        return true;
    }
    if (word && strcmp(word, "grad_norm") == 0) {
        double x;
        if (!sema_const_number(s, v, "the largest gradient norm", &x)) return false;
        if (!(x > 0)) {
            sema_error(s, v->span, "the gradient norm to stop at must be above 0");
            return false;
        }
        t->break_grad_norm = x;
        return true;
    }
    sema_error(s, set->span, "write 'break step N' (stop before update N), 'break nonfinite' (at "
               "the first inf or NaN) or 'break grad_norm X' (when the gradient norm is above X)");
    return false;
}

static bool setting_int(Sema *s, AstNode *set, const char *what, long lo, long hi, int *out)
{
    long v;
    if (!set->u.setting.value) {
        sema_error(s, set->span, "'%s' needs a value", set->u.setting.name);
        return false;
    }
    if (!sema_const_int(s, set->u.setting.value, what, (double)lo, (double)hi, &v)) return false;
    *out = (int)v;
    return true;
}

static bool check_loss_name(Sema *s, AstNode *v, OpKind *out)
{
    const OpInfo *op = v && v->kind == AST_NAME ? op_lookup(v->u.name) : NULL;
    if (!op || op->sig != SIG_LOSS || (op->flags & OPF_NO_GRAD)) {
        sema_error(s, v ? v->span : (Span){ 0 }, "expected a loss: mse, l1, bce, bce_logits or "
                   "cross_entropy");
        return false;
    }
    *out = op->kind;
    return true;
}

static bool check_schedule(Sema *s, AstNode *v, SemaTrain *t, int epochs)
{
    const char *name = v->kind == AST_NAME ? v->u.name : v->kind == AST_CALL ? v->u.call.name : "";
    const AstList *args = v->kind == AST_CALL ? &v->u.call.args : &(AstList){ 0 };
    if (strcmp(name, "cosine") == 0) {
        t->sched.kind = SCHED_COSINE;
        if (!sema_named(s, args, "cosine", "min") || sema_npos(args) > 0) {
            if (sema_npos(args) > 0)
                sema_error(s, v->span, "'cosine' takes only 'min', the last learning rate: "
                           "cosine(min = 0.001)");
            return false;
        }
        AstNode *m = sema_arg(args, SEMA_NAMED_ONLY, "min");
        double mv = 0;
        if (m && !sema_const_number(s, m, "'min'", &mv)) return false;
        if (mv < 0) {
            sema_error(s, m->span, "'min' cannot be negative");
            return false;
        }
        t->sched.min_lr = (float)mv;
        return true;
    }
    if (strcmp(name, "step_decay") == 0) {
        t->sched.kind = SCHED_STEP;
        AstNode *every = sema_arg(args, SEMA_NAMED_ONLY, "every"), *gamma = sema_arg(args, SEMA_NAMED_ONLY, "gamma");
        for (size_t i = 0; i < args->count; i++) {
            const char *an = args->items[i]->u.bind.name;
            if (!an || (strcmp(an, "every") != 0 && strcmp(an, "gamma") != 0)) {
                sema_error(s, args->items[i]->span, "'step_decay' takes 'every' (epochs) and "
                           "'gamma' (the factor): step_decay(every = 10, gamma = 0.5)");
                return false;
            }
        }
        if (!every) {
            sema_error(s, v->span, "'step_decay' needs 'every': step_decay(every = 10, gamma = 0.5)");
            return false;
        }
        long e;
        double g = 0.1;     /* PyTorch's StepLR default */
        if (!sema_const_int(s, every, "'every'", 1, epochs > 0 ? epochs : 1e9, &e)) return false;
        if (gamma && !sema_const_number(s, gamma, "'gamma'", &g)) return false;
        if (gamma && !(g > 0 && g <= 1)) {
            sema_error(s, gamma->span, "'gamma' must be above 0 and at most 1");
            return false;
        }
        t->sched.step_size = (int)e;
        t->sched.gamma = (float)g;
        return true;
    }
    sema_error(s, v->span, "unknown schedule; use cosine, cosine(min = 0.001) or "
               "step_decay(every = 10, gamma = 0.5)");
    return false;
}

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

void sema_check_train(Sema *s, AstNode *st)
{
    SemaExtra *ex = sema_extra(s, st);
    SemaTrain *t = &ex->train;
    memset(t, 0, sizeof *t);
    t->epochs = 0;
    t->accumulate = 1;
    t->trace_step = 0;
    t->batch = 0;
    t->sched.kind = SCHED_NONE;
    t->metric = false;
    bool metric_set = false, ok = true;
    AstNode *seen[NN_ARRAY_LEN(setting_names)] = { 0 };
    AstNode *loss_at = NULL, *val = NULL, *sched = NULL, *opt = NULL;

    for (size_t i = 0; i < st->u.train.settings.count; i++) {
        AstNode *set = st->u.train.settings.items[i];
        const char *name = set->u.setting.name;
        AstNode *v = set->u.setting.value;
        size_t k = 0;
        while (k < NN_ARRAY_LEN(setting_names) && strcmp(setting_names[k], name) != 0) k++;
        if (k == NN_ARRAY_LEN(setting_names)) {
            const char *best = NULL;
            for (size_t j = 0; j < NN_ARRAY_LEN(setting_names); j++)
                if (strncmp(setting_names[j], name, 3) == 0) best = setting_names[j];
            if (best)
                sema_error(s, set->u.setting.name_span, "unknown setting '%s'; did you mean "
                           "'%s'?", name, best);
            else
                sema_error(s, set->u.setting.name_span, "unknown setting '%s' (a train block "
                           "takes loss, optimizer, epochs, batch, accumulate, clip, validation, "
                           "early_stop, log every N, schedule, metric, resume, trace step N, "
                           "break step N)",
                           name);
            ok = false;
            continue;
        }
        if (strcmp(name, "break") == 0) {
            ok = check_break(s, set, t) && ok;
            continue;
        }
        if (seen[k]) {
            sema_error(s, set->u.setting.name_span, "'%s' is set twice", name);
            sema_note(s, seen[k]->span, "first set here");
            ok = false;
            continue;
        }
        seen[k] = set;
        bool want_word = strcmp(name, "log") == 0 || strcmp(name, "trace") == 0;
        const char *word = want_word ? (name[0] == 'l' ? "every" : "step") : NULL;
        bool every = name[0] == 't' && set->u.setting.word
                     && strcmp(set->u.setting.word, "every") == 0;     /* trace every N */
        if (!every && (want_word ? !set->u.setting.word || strcmp(set->u.setting.word, word) != 0
                                 : set->u.setting.word != NULL)) {
            if (want_word && name[0] == 't')
                sema_error(s, set->span, "write 'trace step N' or 'trace every N'");
            else if (want_word)
                sema_error(s, set->span, "write '%s %s N'", name, word);
            else
                sema_error(s, set->span, "'%s' takes one value, as in '%s ...'", name, name);
            ok = false;
            continue;
        }
        if (!v) {
            sema_error(s, set->span, "'%s' needs a value", name);
            ok = false;
            continue;
        }
        if (strcmp(name, "loss") == 0) {
            loss_at = v;
            ok = check_loss_name(s, v, &t->loss) && ok;
        } else if (strcmp(name, "optimizer") == 0) {
            opt = v;
        } else if (strcmp(name, "epochs") == 0) {
            ok = setting_int(s, set, "the number of epochs", 1, 100000000, &t->epochs) && ok;
        } else if (strcmp(name, "batch") == 0) {
            ok = setting_int(s, set, "the batch size", 1, MAX_DATA_ROWS, &t->batch) && ok;
        } else if (strcmp(name, "accumulate") == 0) {
            ok = setting_int(s, set, "the number of batches to accumulate", 1, 100000,
                             &t->accumulate) && ok;
        } else if (strcmp(name, "clip") == 0) {
            double c;
            if (!sema_const_number(s, v, "the largest gradient norm", &c)) ok = false;
            else if (!(c > 0)) {
                sema_error(s, v->span, "the largest gradient norm must be above 0");
                ok = false;
            }
            t->clip = c;
        } else if (strcmp(name, "validation") == 0) {
            val = v;
        } else if (strcmp(name, "early_stop") == 0) {
            ok = setting_int(s, set, "the patience (epochs without improvement)", 1, 100000000,
                             &t->patience) && ok;
        } else if (strcmp(name, "log") == 0) {
            ok = setting_int(s, set, "the logging interval", 1, 100000000, &t->log_every) && ok;
        } else if (strcmp(name, "schedule") == 0) {
            sched = v;
        } else if (strcmp(name, "metric") == 0) {
            metric_set = true;
            if (v->kind == AST_NAME && strcmp(v->u.name, "accuracy") == 0) t->metric = true;
            else if (v->kind == AST_NAME && strcmp(v->u.name, "none") == 0) t->metric = false;
            else {
                sema_error(s, v->span, "the metric is 'accuracy' or 'none'");
                ok = false;
            }
        } else if (strcmp(name, "resume") == 0) {
            if (v->kind != AST_STRING) {
                sema_error(s, v->span, "'resume' takes a checkpoint's file name: resume "
                           "\"net.safetensors\"");
                ok = false;
            } else {
                t->resume = sema_text(s, v);
            }
        } else if (strcmp(name, "trace") == 0) {
            if (strcmp(set->u.setting.word, "every") == 0)
                ok = setting_int(s, set, "the tracing interval", 1, 100000000, &t->trace_every)
                     && ok;
            else
                ok = setting_int(s, set, "the step to trace", 1, 100000000, &t->trace_step) && ok;
        }
    }
    bool unknown = !ok;     /* a misspelt setting: "missing" errors would only repeat it */
    if (!seen[1] && !unknown) {
        sema_error(s, st->span, "a train block needs an optimizer, e.g. 'optimizer sgd(lr = "
                   "0.1)' or 'optimizer adam()'");
        ok = false;
    } else if (opt && !check_optimizer(s, opt, &t->optim, true)) {
        ok = false;
    }
    if (seen[1] && !opt) ok = false;       /* its error was reported */
    if (!seen[2] && !unknown) {
        sema_error(s, st->span, "a train block needs 'epochs N'");
        ok = false;
    }
    if (sched && ok) ok = check_schedule(s, sched, t, t->epochs);

    AstNode *target = st->u.train.target;
    if (!st->u.train.x) {
        /* train LOSS: each epoch is one step on a scalar loss of params */
        const char *data_only[] = { "loss", "batch", "accumulate", "validation", "metric" };
        for (size_t j = 0; j < NN_ARRAY_LEN(data_only); j++)
            for (size_t k = 0; k < NN_ARRAY_LEN(setting_names); k++)
                if (seen[k] && strcmp(setting_names[k], data_only[j]) == 0) {
                    sema_error(s, seen[k]->u.setting.name_span, "'%s' is for training a model "
                               "on data (train MODEL on X, Y); this block trains a loss "
                               "formula", data_only[j]);
                    ok = false;
                }
        if (seen[11]) {
            sema_error(s, seen[11]->u.setting.name_span, "'resume' is for training a model on "
                       "data");
            ok = false;
        }
        if (seen[12] && !sema_trace_places(s, &seen[12]->u.setting.places, NULL, &t->focus))
            return;
        if (!sema_expr(s, target) || !sema_scalar(s, target, "train")) return;
        if (!target->sema.grad) {
            sema_error(s, target->span, "nothing to train: this depends on no param");
            return;
        }
        t->over_data = false;
        return;
    }

    /* train MODEL on X, Y */
    Symbol *msym = target->kind == AST_NAME ? sema_lookup(s, target->u.name) : NULL;
    if (!msym || msym->kind != SYM_MODEL) {
        if (!msym) sema_error(s, target->span, "unknown model '%s'", target->u.name);
        else sema_error(s, target->span, "'%s' is not a model; train MODEL on X, Y { ... } "
                        "trains a model (to train a loss formula, write train LOSS { ... })",
                        target->u.name);
        return;
    }
    if (msym->poisoned) return;
    t->over_data = true;
    t->model = msym;
    if (seen[12] && !sema_trace_places(s, &seen[12]->u.setting.places, msym, &t->focus))
        ok = false;
    AstNode *x = st->u.train.x, *y = st->u.train.y;
    if (!y) {
        Symbol *d = x->kind == AST_NAME ? sema_lookup(s, x->u.name) : NULL;
        if (!d || d->kind != SYM_DATA) {
            sema_error(s, x->span, "train on a data set, or on inputs and targets: train %s on "
                       "X, Y { ... }", msym->name);
            return;
        }
        if (d->poisoned) return;
        AstNode *dx = ast_new(s->arena, AST_FIELD, x->span), *dy = ast_new(s->arena, AST_FIELD,
                                                                           x->span);
        dx->u.field.obj = dy->u.field.obj = x;
        dx->u.field.field = "X";
        dy->u.field.field = "Y";
        dx->u.field.field_span = dy->u.field.field_span = x->span;
        st->u.train.x = x = dx;
        st->u.train.y = y = dy;
    }
    bool xy = sema_expr(s, x);
    xy = sema_expr(s, y) && xy;
    if (!xy) return;
    char a[64], b[64];
    if (x->sema.shape.rank != 2) {
        sema_error(s, x->span, "the inputs must be a matrix [rows, features], but this has "
                   "shape %s", shape_str(&x->sema.shape, a, sizeof a));
        return;
    }
    if (y->sema.shape.rank < 1 || y->sema.shape.rank > 2
        || y->sema.shape.dim[0] != x->sema.shape.dim[0]) {
        sema_error(s, y->span, "the targets need one row per input row: the inputs are %s, the "
                   "targets %s", shape_str(&x->sema.shape, a, sizeof a),
                   shape_str(&y->sema.shape, b, sizeof b));
        return;
    }
    if (x->sema.grad || y->sema.grad) {
        sema_error(s, x->sema.grad ? x->span : y->span, "training data cannot depend on params");
        return;
    }
    if (!seen[0] && !unknown) {
        sema_error(s, st->span, "a train block on data needs a loss, e.g. 'loss mse' or 'loss "
                   "cross_entropy'");
        return;
    }
    if (!ok) return;
    t->rows = x->sema.shape.dim[0];
    t->train_rows = t->rows;
    if (val) {
        Symbol *vd = val->kind == AST_NAME ? sema_lookup(s, val->u.name) : NULL;
        if (vd && vd->kind != SYM_DATA) {
            sema_error(s, val->span, "'validation' takes a fraction such as 0.2 or a data set's "
                       "name");
            return;
        }
        if (vd && vd->kind == SYM_DATA) {
            if (vd->poisoned) return;
            if (vd->data->features != x->sema.shape.dim[1]) {
                sema_error(s, val->span, "the validation set has %d features, the training "
                           "inputs %d", vd->data->features, x->sema.shape.dim[1]);
                return;
            }
            t->has_val = t->val_given = true;
            t->val_rows = vd->data->rows;
            AstNode *vx = ast_new(s->arena, AST_FIELD, val->span);
            AstNode *vy = ast_new(s->arena, AST_FIELD, val->span);
            vx->u.field.obj = vy->u.field.obj = val;
            vx->u.field.field = "X";
            vy->u.field.field = "Y";
            vx->u.field.field_span = vy->u.field.field_span = val->span;
            if (!sema_expr(s, vx) || !sema_expr(s, vy)) return;
            t->vx = vx;
            t->vy = vy;
        } else {
            double f;
            if (!sema_const_number(s, val, "the validation fraction", &f)) return;
            if (!(f > 0 && f < 1)) {
                sema_error(s, val->span, "the validation fraction must be between 0 and 1, or "
                           "name a data set");
                return;
            }
            t->val_rows = (int)lround(f * t->rows);
            if (t->val_rows < 1 || t->val_rows >= t->rows) {
                sema_error(s, val->span, "a validation fraction of %g of %d rows leaves a part "
                           "empty", f, t->rows);
                return;
            }
            t->has_val = true;
            t->train_rows = t->rows - t->val_rows;
        }
    }
    if (t->batch == 0 || t->batch > t->train_rows) t->batch = t->train_rows;
    t->rest = t->train_rows % t->batch;
    Shape xs = x->sema.shape, ys = y->sema.shape;
    Shape xb = with_rows(&xs, t->batch);
    if (!sema_apply_model(s, msym, &xb, x->span, &t->batch_app)) return;
    Shape yb = with_rows(&ys, t->batch);
    if (!check_loss_shapes(s, loss_at->span, t->loss, &t->batch_app.out, &yb)) return;
    if (metric_set && t->metric && !metric_fits(&t->batch_app.out, &yb)) {
        char o[64], w[64];
        sema_error(s, seen[10]->span, "accuracy needs class scores [N, C] with one-hot or index "
                   "targets, or probabilities [N, 1] with 0/1 targets; here the model gives %s "
                   "and the targets are %s", shape_str(&t->batch_app.out, o, sizeof o),
                   shape_str(&yb, w, sizeof w));
        return;
    }
    /* a data set knows whether its target is classes */
    Symbol *data = NULL;
    if (st->u.train.x->kind == AST_FIELD && st->u.train.x->u.field.obj->kind == AST_NAME)
        data = sema_lookup(s, st->u.train.x->u.field.obj->u.name);
    bool numeric = data && data->kind == SYM_DATA && data->data->n_classes == 0;
    if (metric_set && t->metric && numeric) {
        sema_error(s, seen[10]->span, "accuracy needs class targets, but '%s' has a numeric "
                   "target", data->name);
        return;
    }
    if (!metric_set)
        t->metric = !numeric && t->loss != OP_MSE && t->loss != OP_L1 && metric_fits(&t->batch_app.out, &yb);
    if (t->rest) {
        Shape xr = with_rows(&xs, t->rest);
        if (!sema_apply_model(s, msym, &xr, x->span, &t->rest_app)) return;
    }
    Shape xt = with_rows(&xs, t->train_rows);
    if (!sema_apply_model(s, msym, &xt, x->span, &t->train_app)) return;
    if (t->has_val) {
        Shape xv = with_rows(&xs, t->val_rows);
        if (t->val_given) xv = t->vx->sema.shape;
        if (!sema_apply_model(s, msym, &xv, val->span, &t->val_app)) return;
        Shape yv = t->val_given ? t->vy->sema.shape : with_rows(&ys, t->val_rows);
        if (!check_loss_shapes(s, val->span, t->loss, &t->val_app.out, &yv)) return;
    }
}

/* ---- save / load ------------------------------------------------------------------------- */

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
}
