/* source.c — source texts and their line tables. */
#include "source.h"

#include <string.h>

void source_table_init(SourceTable *t)
{
    t->items = NULL;
    t->count = t->cap = 0;
}

void source_table_free(SourceTable *t)
{
    for (size_t i = 0; i < t->count; i++) {
        nn_free(t->items[i].name);
        nn_free(t->items[i].text);
        nn_free(t->items[i].line_starts);
    }
    nn_free(t->items);
    source_table_init(t);
}

uint32_t source_add(SourceTable *t, const char *name, const char *text, size_t len)
{
    if (t->count == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->items = nn_realloc(t->items, t->cap * sizeof *t->items);
    }
    Source *s = &t->items[t->count];
    s->name = nn_strndup(name, strlen(name));
    s->text = nn_strndup(text, len);
    s->len = len;
    size_t n = 1;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    s->line_starts = nn_alloc(n * sizeof *s->line_starts);
    s->nlines = 0;
    s->line_starts[s->nlines++] = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') s->line_starts[s->nlines++] = (uint32_t)(i + 1);
    return (uint32_t)t->count++;
}

const Source *source_get(const SourceTable *t, uint32_t id)
{
    NN_ASSERT(id < t->count);
    return &t->items[id];
}

void source_line_col(const Source *s, uint32_t offset, int *line, int *col)
{
    size_t lo = 0, hi = s->nlines;       /* find the last line start <= offset */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->line_starts[mid] <= offset) lo = mid;
        else hi = mid;
    }
    *line = (int)lo + 1;
    *col = (int)(offset - s->line_starts[lo]) + 1;
}

const char *source_line_text(const Source *s, int line, size_t *len)
{
    NN_ASSERT(line >= 1 && (size_t)line <= s->nlines);
    const char *p = s->text + s->line_starts[line - 1];
    const char *e = p;
    while (e < s->text + s->len && *e != '\n') e++;
    if (e > p && e[-1] == '\r') e--;        /* CRLF: the CR ends the line; a lone CR is text */
    *len = (size_t)(e - p);
    return p;
}
