/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader and writer.
 *  1. st_parse on the input.
 *  2. st_load on the same bytes written to a file must agree with st_parse: both succeed with
 *     the same tensors, or both fail with the same message (safetensors.h promises it).
 *  3. A file that parses is checked against safetensors.h (F32, counts that match the shapes,
 *     unique names), written back with st_save, and read again: names, shapes, the bits of
 *     every value and the metadata must survive the round trip. */
#include "fuzz_common.h"

#include "safetensors.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_FILE "input.safetensors"
#define OUT_FILE "copy.safetensors"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_workdir(0);
    return 0;
}

static void check_file(const StFile *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const StEntry *e = &f->entries[i];
        if (!e->name || !e->data) fuzz_fail("entry %zu: NULL name or data", i);
        if (strcmp(e->dtype, "F32") != 0) fuzz_fail("'%s': dtype %s", e->name, e->dtype);
        if (e->rank < 0 || e->rank > NN_MAX_RANK) fuzz_fail("'%s': rank %d", e->name, e->rank);
        if (strcmp(e->name, "__metadata__") == 0) fuzz_fail("a tensor named __metadata__");
        size_t count = 1;
        for (int d = 0; d < e->rank; d++) {
            if (e->dims[d] < 0) fuzz_fail("'%s': dimension %lld", e->name, (long long)e->dims[d]);
            count *= (size_t)e->dims[d];
        }
        if (count != e->count)
            fuzz_fail("'%s': count %zu, shape says %zu", e->name, e->count, count);
        if (st_find(f, e->name) != e) fuzz_fail("'%s': st_find finds another entry", e->name);
    }
    for (size_t i = 0; i < f->meta_count; i++) {
        if (!f->meta_keys[i] || !f->meta_values[i]) fuzz_fail("metadata %zu: NULL", i);
        if (st_meta(f, f->meta_keys[i]) != f->meta_values[i])
            fuzz_fail("metadata '%s': st_meta finds another value", f->meta_keys[i]);
    }
}

static void same_files(const StFile *a, const StFile *b, const char *what)
{
    if (a->count != b->count || a->meta_count != b->meta_count)
        fuzz_fail("%s: %zu tensors and %zu metadata, then %zu and %zu", what, a->count,
                  a->meta_count, b->count, b->meta_count);
    for (size_t i = 0; i < a->count; i++) {
        const StEntry *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) != 0 || strcmp(x->dtype, y->dtype) != 0 ||
            x->rank != y->rank || x->count != y->count ||
            memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank) != 0)
            fuzz_fail("%s: tensor %zu is '%s' then '%s', or its shape differs", what, i, x->name,
                      y->name);
        if (x->count && memcmp(x->data, y->data, x->count * sizeof(float)) != 0)
            fuzz_fail("%s: the values of '%s' differ", what, x->name);
    }
    for (size_t i = 0; i < a->meta_count; i++)
        if (strcmp(a->meta_keys[i], b->meta_keys[i]) != 0 ||
            strcmp(a->meta_values[i], b->meta_values[i]) != 0)
            fuzz_fail("%s: metadata %zu differs ('%s')", what, i, a->meta_keys[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    StFile f, g;
    char err[512] = "", err2[512] = "";
    bool ok = st_parse(data, size, &f, err, sizeof err);
    if (!ok) {
        if (!err[0]) fuzz_fail("st_parse failed without a message");
        if (f.count || f.entries || f.meta_count || f.meta_keys)
            fuzz_fail("st_parse failed but left data in *out");
    }

    fuzz_write_file(IN_FILE, data, size);
    bool ok2 = st_load(IN_FILE, &g, err2, sizeof err2);
    if (ok != ok2 || (!ok && strcmp(err, err2) != 0))
        fuzz_fail("st_parse and st_load disagree: '%s' / '%s'", ok ? "ok" : err,
                  ok2 ? "ok" : err2);
    if (ok) same_files(&f, &g, "st_parse vs st_load");
    st_free(&g);
    if (!ok) return 0;

    check_file(&f);
    StTensor *t = calloc(f.count + 1, sizeof *t);
    StMeta *m = calloc(f.meta_count + 1, sizeof *m);
    for (size_t i = 0; i < f.count; i++) {
        t[i].name = f.entries[i].name;
        t[i].rank = f.entries[i].rank;
        memcpy(t[i].dims, f.entries[i].dims, sizeof t[i].dims);
        t[i].data = f.entries[i].data;
    }
    for (size_t i = 0; i < f.meta_count; i++) m[i] = (StMeta){ f.meta_keys[i], f.meta_values[i] };
    if (!st_save(OUT_FILE, t, f.count, m, f.meta_count, err, sizeof err))
        fuzz_fail("st_save of a file st_parse accepted failed: %s", err);
    if (!st_load(OUT_FILE, &g, err, sizeof err))
        fuzz_fail("st_load of what st_save wrote failed: %s", err);
    same_files(&f, &g, "round trip");
    st_free(&g);
    unlink(OUT_FILE);
    free(t);
    free(m);
    st_free(&f);
    return 0;
}
