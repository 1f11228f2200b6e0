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
#include <math.h>
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
    size_t nt = (size_t)mp->count * (size_t)per + (size_t)mp->n_buffers;
    StTensor *ts = nn_calloc(nt ? nt : 1, sizeof *ts);
    char **names = nn_calloc(nt ? nt : 1, sizeof *names);
    size_t k = 0;
    for (int i = 0; i < mp->count + mp->n_buffers; i++) {
        GraphNode *p = node(rt, mp->nodes[i]);
        for (int b = 0; b < (i < mp->count ? per : 1); b++, k++) {
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
    sandbox_done(&file, ok ? NULL : err, sizeof err);
    for (size_t i = 0; i < nt; i++) nn_free(names[i]);
    nn_free(names);
    nn_free(ts);
    if (!ok) rt_error(rt, at, "%s", err);   /* st_save names the file */
}

/* ---- loading --------------------------------------------------------------------------------
 * Nothing read from a file is trusted. The header is checked against the model (names, shapes)
 * and the metadata against what resuming needs (ranges of every number used), then every value
 * is read and checked (finite; never negative where the optimizer takes a square root), and
 * only then is anything changed: the file is read a second time, straight into the params and
 * the optimizer's state (so no copy of the model is kept in memory). Only the tensors the model
 * uses are read; the header's index is bounded by the memory limit. */

#define MAX_STEP 9007199254740992.0     /* 2^53: an update count %.0f writes exactly */

#define CLIP_BYTES 48

/* Text from a file fit for a message: at most CLIP_BYTES bytes of it, bytes outside printable
 * ASCII (and backslashes) as \xNN, "..." where it was cut. Returns buf. */
static const char *clip(const char *s, char buf[4 * CLIP_BYTES + 4])
{
    size_t n = 0, i = 0;
    for (; s[i] && i < CLIP_BYTES; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') buf[n++] = (char)c;
        else n += (size_t)snprintf(buf + n, 5, "\\x%02x", c);
    }
    strcpy(buf + n, s[i] ? "..." : "");
    return buf;
}

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

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first tensor of f, in file order, that is not optimizer state and not a param of the
 * model, or NULL. O((F + M) log M). */
static const char *unknown_tensor(const ModelParams *mp, const StFile *f)
{
    size_t all = (size_t)(mp->count + mp->n_buffers);
    const char **names = nn_alloc((all ? all : 1) * sizeof *names);
    for (size_t i = 0; i < all; i++) names[i] = mp->names[i];
    qsort(names, all, sizeof *names, cmp_name);
    const char *unknown = NULL;
    for (size_t i = 0; i < f->count && !unknown; i++) {
        const char *name = f->entries[i].name;
        if (strncmp(name, "optim.", 6) != 0
            && !bsearch(&name, names, all, sizeof *names, cmp_name))
            unknown = name;
    }
    nn_free(names);
    return unknown;
}

/* Opens a checkpoint and checks its header against the model: every param there with its
 * shape, no other tensor but optimizer state. Raises, with nothing allocated, if not. `verb`:
 * "load" or "resume from". */
static void open_checked(Runtime *rt, const ModelParams *mp, const char *path, Span at,
                         const char *verb, StFile *f)
{
    char err[512];
    SandboxFile file;
    if (!sandbox_read(rt->files, path, &file, err, sizeof err))
        rt_error(rt, at, "cannot %s '%s': %s", verb, path, err);
    bool opened = st_open(file.path, graph_room(&rt->graph), f, err, sizeof err);
    /* (st_open's FILE holds its own descriptor) */
    sandbox_done(&file, opened ? NULL : err, sizeof err);
    if (!opened) rt_error(rt, at, "cannot %s '%s': %s", verb, path, err);
    char msg[768], name[4 * CLIP_BYTES + 4];
    msg[0] = '\0';
    for (int i = 0; i < mp->count + mp->n_buffers && !msg[0]; i++) {
        const StEntry *e = st_find(f, mp->names[i]);
        GraphNode *p = node(rt, mp->nodes[i]);
        char a[160], b[64];
        if (!e) {
            snprintf(msg, sizeof msg, "the file has no tensor '%s', which model '%s' needs",
                     mp->names[i], mp->model);
        } else if (!same_shape(e, &p->shape)) {
            shape_text(e, a, sizeof a);
            snprintf(msg, sizeof msg, "'%s' is %s in the file but %s in model '%s'",
                     mp->names[i], a, shape_str(&p->shape, b, sizeof b), mp->model);
        }
    }
    const char *unknown = msg[0] ? NULL : unknown_tensor(mp, f);
    if (unknown)
        snprintf(msg, sizeof msg, "the file has a tensor '%s' that model '%s' does not have "
                 "(was it saved from another model?)", clip(unknown, name), mp->model);
    if (msg[0]) {
        st_free(f);
        rt_error(rt, at, "cannot %s '%s': %s; nothing was changed", verb, path, msg);
    }
}

/* One tensor to read: param i's value (buf < 0) or its optimizer state buffer `buf`. */
typedef struct Read {
    int param, buf;
    const StEntry *e;
    bool nonneg;
} Read;

/* Reads each tensor of reads[0..n), CHUNK values at a time: into the param or its state when
 * `copy`, else into a buffer on the stack, only to check it. Every value must be finite, and
 * not negative where r->nonneg. Returns false with msg set at the first that is not. */
static bool read_all(Runtime *rt, const ModelParams *mp, const OptimConfig *c, const StFile *f,
                     const Read *reads, int n, bool copy, char *msg, size_t cap)
{
    enum { CHUNK = 4096 };
    float scratch[CHUNK];
    for (int k = 0; k < n; k++) {
        const Read *r = &reads[k];
        const GraphNode *p = node(rt, mp->nodes[r->param]);
        float *dst = !copy ? NULL : r->buf < 0 ? p->value : rt->popt[p->id].buf[r->buf];
        for (size_t at = 0; at < r->e->count; at += CHUNK) {
            size_t m = r->e->count - at < CHUNK ? r->e->count - at : CHUNK;
            float *to = dst ? dst + at : scratch;
            char err[256];
            if (!st_read(f, r->e, at, to, m, err, sizeof err)) {
                snprintf(msg, cap, "%s", err);
                return false;
            }
            long bad = tensor_find_nonfinite(to, m);
            for (size_t i = 0; bad < 0 && r->nonneg && i < m; i++)
                if (to[i] < 0) bad = (long)i;
            if (bad < 0) continue;
            char where[64], v[32];
            rt_index_str(&p->shape, at + (size_t)bad, where, sizeof where);
            fmt_num(to[bad], v);
            if (r->buf < 0)
                snprintf(msg, cap, "tensor '%s' holds %s%s%s", mp->names[r->param], v, where,
                         isfinite(to[bad]) ? ", but a variance is never negative" : "");
            else
                snprintf(msg, cap, "the optimizer state 'optim.%s.%s' holds %s%s%s",
                         mp->names[r->param], optim_state_name(c, r->buf), v, where,
                         isfinite(to[bad]) ? ", but a running average of squared gradients "
                         "is never negative" : "");
            return false;
        }
    }
    return true;
}

/* The read of tensor i of the model (a param's or a buffer's value): a running variance is
 * never negative. */
static Read value_read(const ModelParams *mp, const StFile *f, int i)
{
    const char *name = mp->names[i], *dot = strrchr(name, '.');
    bool variance = i >= mp->count && dot && strcmp(dot, ".running_var") == 0;
    return (Read){ i, -1, st_find(f, name), variance };
}

void rt_load(Runtime *rt, const ModelParams *mp, const char *path, Span at)
{
    StFile f;
    open_checked(rt, mp, path, at, "load", &f);
    int n = mp->count + mp->n_buffers;
    Read *reads = nn_alloc((size_t)(n ? n : 1) * sizeof *reads);
    for (int i = 0; i < n; i++) reads[i] = value_read(mp, &f, i);
    char msg[768];
    bool checked = read_all(rt, mp, NULL, &f, reads, n, false, msg, sizeof msg);
    bool copied = checked && read_all(rt, mp, NULL, &f, reads, n, true, msg, sizeof msg);
    nn_free(reads);
    st_free(&f);
    if (!checked) rt_error(rt, at, "cannot load '%s': %s; nothing was changed", path, msg);
    /* the file changed between the two readings: the unit's undo puts the params back */
    if (!copied) rt_error(rt, at, "cannot load '%s': %s", path, msg);
}

/* A whole number written in decimal digits only (no sign, no space), into *out; a value past
 * UINT64_MAX is UINT64_MAX. False for anything else. */
static bool parse_count(const char *s, uint64_t *out)
{
    if (!s || !*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return true;
}

/* `digits` lower- or upper-case hex digits at *s, into *out; moves *s past them. */
static bool parse_hex(const char **s, int digits, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < digits; i++, ++*s) {
        char c = **s;
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* The random state as rt_save writes it, "SSSSSSSSSSSSSSSS:IIIIIIIIIIIIIIII:H:FFFFFFFF" (state,
 * increment, whether a normal number is kept, its float's bits), into *r: a state PCG32 can be
 * in (an odd increment) with a finite kept number. NULL, or what is wrong with it. */
static const char *parse_rng(const char *s, Rng *r)
{
    uint64_t state, inc, spare;
    const char *form = "not four fields of 16, 16, 1 and 8 hex digits joined by ':', as nn "
                       "writes it";
    if (!parse_hex(&s, 16, &state) || *s++ != ':' || !parse_hex(&s, 16, &inc) || *s++ != ':'
        || (*s != '0' && *s != '1'))
        return form;
    bool has_spare = *s++ == '1';
    if (*s++ != ':' || !parse_hex(&s, 8, &spare) || *s) return form;
    if (!(inc & 1)) return "its increment (the second field) is even; PCG32's is always odd";
    uint32_t bits = (uint32_t)spare;
    float f;
    memcpy(&f, &bits, sizeof f);
    if (!isfinite(f)) return "the normal number it keeps (the last field) is not finite";
    *r = (Rng){ state, inc, has_spare, f };
    return NULL;
}

/* Why the metadata cannot be resumed from by a block of `epochs` epochs with optimizer c, into
 * msg (empty if it can); the epoch, step count and random state into the rest. */
static void check_meta(const StFile *f, const ModelParams *mp, const OptimConfig *c, int epochs,
                       char *msg, size_t cap, uint64_t *epoch, uint64_t *step, Rng *rng)
{
    const char *opt = st_meta(f, "optimizer"), *format = st_meta(f, "format");
    const char *ep = st_meta(f, "epoch"), *st = st_meta(f, "step"), *rs = st_meta(f, "rng");
    const char *why;
    char text[4 * CLIP_BYTES + 4];
    if (!opt)
        snprintf(msg, cap, "it holds weights but no training state (save it after a train block "
                 "on '%s')", mp->model);
    else if (!format || strcmp(format, FORMAT) != 0)
        snprintf(msg, cap, "its metadata 'format' is %s%s%s, but resume reads '" FORMAT "' only",
                 format ? "'" : "", format ? clip(format, text) : "missing", format ? "'" : "");
    else if (strcmp(opt, optim_name(c->kind)) != 0)
        snprintf(msg, cap, "it was trained with %s, but this block uses %s", clip(opt, text),
                 optim_name(c->kind));
    else if (!ep)
        snprintf(msg, cap, "its metadata has no 'epoch' (the epochs completed)");
    else if (!parse_count(ep, epoch))
        snprintf(msg, cap, "its metadata 'epoch' is '%s', not a whole number of epochs",
                 clip(ep, text));
    else if (*epoch > (uint64_t)epochs)
        snprintf(msg, cap, "its metadata 'epoch' is '%s', past this block's %d epochs (raise "
                 "'epochs' to train on from it)", clip(ep, text), epochs);
    else if (!st)
        snprintf(msg, cap, "its metadata has no 'step' (the updates made)");
    else if (!parse_count(st, step) || *step < 1 || *step > (uint64_t)MAX_STEP)
        snprintf(msg, cap, "its metadata 'step' is '%s'; it must be a whole number from 1 to "
                 "%.0f", clip(st, text), MAX_STEP);
    else if (!rs)
        snprintf(msg, cap, "its metadata has no 'rng' (the state of the random numbers)");
    else if ((why = parse_rng(rs, rng)))
        snprintf(msg, cap, "its metadata 'rng' is '%s': %s", clip(rs, text), why);
}

int rt_resume(Runtime *rt, const ModelParams *mp, const OptimConfig *c, int epochs,
              const char *path, Span at)
{
    StFile f;
    open_checked(rt, mp, path, at, "resume from", &f);
    char msg[768];
    msg[0] = '\0';
    uint64_t epoch = 0, step = 0;
    Rng rng;
    check_meta(&f, mp, c, epochs, msg, sizeof msg, &epoch, &step, &rng);
    int per = 1 + optim_state_count(c), n = 0;
    Read *reads = nn_alloc(((size_t)mp->count * (size_t)per + (size_t)mp->n_buffers + 1)
                           * sizeof *reads);
    for (int i = 0; i < mp->n_buffers; i++) reads[n++] = value_read(mp, &f, mp->count + i);
    for (int i = 0; i < mp->count && !msg[0]; i++) {
        reads[n++] = value_read(mp, &f, i);
        for (int b = 0; b < per - 1 && !msg[0]; b++) {
            char name[256];
            snprintf(name, sizeof name, "optim.%s.%s", mp->names[i], optim_state_name(c, b));
            const StEntry *e = st_find(&f, name);
            if (!e || !same_shape(e, &node(rt, mp->nodes[i])->shape))
                snprintf(msg, sizeof msg, "the optimizer state '%s' is missing or has the wrong "
                         "shape", name);
            reads[n++] = (Read){ i, b, e, optim_state_nonneg(c, b) };
        }
    }
    if (!msg[0]) read_all(rt, mp, c, &f, reads, n, false, msg, sizeof msg);
    size_t need = msg[0] ? 0 : rt_optim_need(rt, mp->nodes, mp->count, c);
    if (!msg[0] && need > graph_room(&rt->graph)) {
        char size[32];
        snprintf(msg, sizeof msg, "the optimizer's state (%s) would take the program past the "
                 "memory limit of %zu MiB; raise it with --max-memory",
                 graph_bytes_str(need, size), rt->graph.max_bytes >> 20);
    }
    if (msg[0]) {
        nn_free(reads);
        st_free(&f);
        rt_error(rt, at, "cannot resume from '%s': %s", path, msg);
    }
    rt_optim_alloc(rt, mp->nodes, mp->count, c, at);    /* fits: checked above */
    bool copied = read_all(rt, mp, c, &f, reads, n, true, msg, sizeof msg);
    nn_free(reads);
    st_free(&f);
    if (!copied) rt_error(rt, at, "cannot resume from '%s': %s", path, msg);
    for (int i = 0; i < mp->count; i++) rt->popt[mp->nodes[i]].t = (long)step;
    rt->rng = rng;
    return (int)epoch;
}
