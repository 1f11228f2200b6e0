/* checkpoint.c — save and load a model's params as safetensors, and resume training.
 *
 * Tensors are named as inside the model ("layer1.W"), so any safetensors reader finds them.
 * Optimizer state is saved beside them as "optim.layer1.W.exp_avg" (PyTorch's state names);
 * the metadata records the model's source, the optimizer and its settings, the step, the
 * epoch and the random state, which is all that `resume` needs to continue as if never
 * stopped. Loading validates the whole file against the model before changing anything. */
#include "runtime.h"

#include "safetensors.h"
#include "sandbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT "nn-checkpoint/1"
#define MAX_TENSORS 1024

static GraphNode *node(Runtime *rt, uint32_t id)
{
    return graph_node(&rt->graph, id);
}

/* Metadata is kept as printed text in a small fixed table. */
typedef struct Meta {
    StMeta items[24];
    char values[24][64];
    size_t count;
} Meta;

static void meta_set(Meta *m, const char *key, const char *value)
{
    NN_ASSERT(m->count < NN_ARRAY_LEN(m->items));
    m->items[m->count].key = key;
    m->items[m->count].value = value;
    m->count++;
}

static void meta_num(Meta *m, const char *key, const char *fmt, double v)
{
    NN_ASSERT(m->count < NN_ARRAY_LEN(m->items));
    snprintf(m->values[m->count], sizeof m->values[0], fmt, v);
    meta_set(m, key, m->values[m->count]);
}

/* The optimizer state is saved when every param of the model has one, from the same kind of
 * optimizer (one train block, or the same `step`s). */
static bool optimizer_saved(Runtime *rt, const ModelParams *mp)
{
    for (int i = 0; i < mp->count; i++) {
        if (mp->nodes[i] >= rt->popt_count) return false;
        const ParamOpt *po = &rt->popt[mp->nodes[i]];
        if (!po->used || po->t == 0 || po->kind != rt->popt[mp->nodes[0]].kind) return false;
    }
    return true;
}

void rt_save(Runtime *rt, const ModelParams *mp, const char *path, Span at)
{
    bool with_optim = optimizer_saved(rt, mp);
    const OptimConfig *c = with_optim ? &rt->popt[mp->nodes[0]].config : NULL;
    int per = with_optim ? 1 + optim_state_count(c) : 1;
    size_t nt = (size_t)mp->count * (size_t)per;
    StTensor *ts = nn_calloc(nt, sizeof *ts);
    char **names = nn_calloc(nt, sizeof *names);
    size_t k = 0;
    for (int i = 0; i < mp->count; i++) {
        GraphNode *p = node(rt, mp->nodes[i]);
        for (int b = 0; b < per; b++, k++) {
            StTensor *t = &ts[k];
            if (b == 0) {
                names[k] = nn_strndup(mp->names[i], strlen(mp->names[i]));
                t->data = p->value;
            } else {
                const char *state = optim_state_name(c, b - 1);
                size_t len = strlen(mp->names[i]) + strlen(state) + 8;
                names[k] = nn_alloc(len);
                snprintf(names[k], len, "optim.%s.%s", mp->names[i], state);
                t->data = rt->popt[mp->nodes[i]].buf[b - 1];
            }
            t->name = names[k];
            t->rank = p->shape.rank;
            for (int d = 0; d < p->shape.rank; d++) t->dims[d] = p->shape.dim[d];
        }
    }
    Meta meta = { 0 };
    char rng[80];
    uint32_t spare;
    memcpy(&spare, &rt->rng.spare, sizeof spare);
    snprintf(rng, sizeof rng, "%016" PRIx64 ":%016" PRIx64 ":%d:%08" PRIx32, rt->rng.state,
             rt->rng.inc, rt->rng.has_spare ? 1 : 0, spare);
    meta_set(&meta, "format", FORMAT);
    meta_set(&meta, "model", mp->model);
    meta_set(&meta, "source", mp->source ? mp->source : "");
    meta_set(&meta, "rng", rng);
    if (with_optim) {
        ParamOpt *po = &rt->popt[mp->nodes[0]];
        meta_num(&meta, "epoch", "%.0f", po->epoch);
        meta_num(&meta, "step", "%.0f", (double)po->t);
        meta_set(&meta, "optimizer", optim_name(c->kind));
        meta_num(&meta, "optimizer.lr", "%.9g", c->lr);
        meta_num(&meta, "optimizer.momentum", "%.9g", c->momentum);
        meta_num(&meta, "optimizer.dampening", "%.9g", c->dampening);
        meta_num(&meta, "optimizer.nesterov", "%.0f", c->nesterov);
        meta_num(&meta, "optimizer.weight_decay", "%.9g", c->weight_decay);
        meta_num(&meta, "optimizer.beta1", "%.9g", c->beta1);
        meta_num(&meta, "optimizer.beta2", "%.9g", c->beta2);
        meta_num(&meta, "optimizer.eps", "%.9g", c->eps);
        meta_num(&meta, "optimizer.alpha", "%.9g", c->alpha);
    }
    char err[512];
    SandboxFile file;
    bool ok = sandbox_write(rt->files, path, &file, err, sizeof err)
              && st_save(file.path, ts, nt, meta.items, meta.count, err, sizeof err);
    sandbox_done(&file, err, sizeof err);
    for (size_t i = 0; i < nt; i++) nn_free(names[i]);
    nn_free(names);
    nn_free(ts);
    if (!ok) rt_error(rt, at, "%s", err);   /* st_save names the file */
}

/* ---- loading -------------------------------------------------------------------------------- */

static void shape_text(const StEntry *e, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < e->rank && n < len; d++)
        n += (size_t)snprintf(buf + n, len - n, d ? ",%" PRId64 : "%" PRId64, e->dims[d]);
    if (n < len) snprintf(buf + n, len - n, "]");
}

static bool same_shape(const StEntry *e, const Shape *s)
{
    if (e->rank != s->rank) return false;
    for (int d = 0; d < s->rank; d++)
        if (e->dims[d] != s->dim[d]) return false;
    return true;
}

/* Opens and checks a checkpoint against the model; raises with the file closed on a mismatch. */
static void open_checked(Runtime *rt, const ModelParams *mp, const char *path, Span at,
                         StFile *f)
{
    char err[512];
    SandboxFile file;
    if (!sandbox_read(rt->files, path, &file, err, sizeof err))
        rt_error(rt, at, "cannot load '%s': %s", path, err);
    bool read = st_load(file.path, f, err, sizeof err);
    sandbox_done(&file, err, sizeof err);
    if (!read) rt_error(rt, at, "cannot load '%s': %s", path, err);
    char msg[768];
    msg[0] = '\0';
    for (int i = 0; i < mp->count && !msg[0]; i++) {
        const StEntry *e = st_find(f, mp->names[i]);
        GraphNode *p = node(rt, mp->nodes[i]);
        char a[64], b[64];
        if (!e) {
            snprintf(msg, sizeof msg, "the file has no tensor '%s', which model '%s' needs",
                     mp->names[i], mp->model);
        } else if (!same_shape(e, &p->shape)) {
            shape_text(e, a, sizeof a);
            snprintf(msg, sizeof msg, "'%s' is %s in the file but %s in model '%s'",
                     mp->names[i], a, shape_str(&p->shape, b, sizeof b), mp->model);
        }
    }
    for (size_t i = 0; i < f->count && !msg[0]; i++) {
        const char *name = f->entries[i].name;
        if (strncmp(name, "optim.", 6) == 0) continue;
        bool known = false;
        for (int j = 0; j < mp->count && !known; j++) known = strcmp(mp->names[j], name) == 0;
        if (!known)
            snprintf(msg, sizeof msg, "the file has a tensor '%s' that model '%s' does not "
                     "have (was it saved from another model?)", name, mp->model);
    }
    if (msg[0]) {
        st_free(f);
        rt_error(rt, at, "cannot load '%s': %s; nothing was changed", path, msg);
    }
}

static void copy_weights(Runtime *rt, const ModelParams *mp, const StFile *f)
{
    for (int i = 0; i < mp->count; i++) {
        const StEntry *e = st_find(f, mp->names[i]);
        GraphNode *p = node(rt, mp->nodes[i]);
        memcpy(p->value, e->data, p->size * sizeof(float));
    }
}

void rt_load(Runtime *rt, const ModelParams *mp, const char *path, Span at)
{
    StFile f;
    open_checked(rt, mp, path, at, &f);
    copy_weights(rt, mp, &f);
    st_free(&f);
}

static bool parse_long(const char *s, long *out)
{
    if (!s || !*s) return false;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end) return false;
    *out = v;
    return true;
}

int rt_resume(Runtime *rt, const ModelParams *mp, const OptimConfig *c, const char *path,
              Span at)
{
    StFile f;
    open_checked(rt, mp, path, at, &f);
    char msg[512];
    msg[0] = '\0';
    const char *opt = st_meta(&f, "optimizer"), *rng = st_meta(&f, "rng");
    long epoch = 0, step = 0;
    uint64_t state = 0, inc = 0;
    uint32_t spare = 0;
    int has_spare = 0;
    if (!opt || !parse_long(st_meta(&f, "epoch"), &epoch) || !parse_long(st_meta(&f, "step"),
                                                                          &step))
        snprintf(msg, sizeof msg, "it holds weights but no training state (save it after a "
                 "train block on '%s')", mp->model);
    else if (strcmp(opt, optim_name(c->kind)) != 0)
        snprintf(msg, sizeof msg, "it was trained with %s, but this block uses %s", opt,
                 optim_name(c->kind));
    else if (!rng || sscanf(rng, "%16" SCNx64 ":%16" SCNx64 ":%d:%8" SCNx32, &state, &inc,
                            &has_spare, &spare) != 4)
        snprintf(msg, sizeof msg, "its random state is missing or malformed");
    for (int i = 0; i < mp->count && !msg[0]; i++)
        for (int b = 0; b < optim_state_count(c) && !msg[0]; b++) {
            char name[256];
            snprintf(name, sizeof name, "optim.%s.%s", mp->names[i], optim_state_name(c, b));
            const StEntry *e = st_find(&f, name);
            if (!e || !same_shape(e, &node(rt, mp->nodes[i])->shape))
                snprintf(msg, sizeof msg, "the optimizer state '%s' is missing or has the wrong "
                         "shape", name);
        }
    if (msg[0]) {
        st_free(&f);
        rt_error(rt, at, "cannot resume from '%s': %s", path, msg);
    }
    copy_weights(rt, mp, &f);
    for (int i = 0; i < mp->count; i++) {
        ParamOpt *po = rt_param_opt(rt, mp->nodes[i], c);
        for (int b = 0; b < po->nbuf; b++) {
            char name[256];
            snprintf(name, sizeof name, "optim.%s.%s", mp->names[i], optim_state_name(c, b));
            memcpy(po->buf[b], st_find(&f, name)->data,
                   node(rt, mp->nodes[i])->size * sizeof(float));
        }
        po->t = step;
    }
    rt->rng.state = state;
    rt->rng.inc = inc;
    rt->rng.has_spare = has_spare != 0;
    memcpy(&rt->rng.spare, &spare, sizeof spare);
    st_free(&f);
    return (int)epoch;
}
