/* source.h — the texts nn has been given (files, -e strings, REPL lines), kept for the
 * session so that any span, even one raised at run time, can be shown with its line. */
#ifndef NN_SOURCE_H
#define NN_SOURCE_H

#include "common.h"

typedef struct Source {
    char *name;             /* "examples/neuron.nn", "<-e>", "<stdin>" */
    char *text;             /* NUL-terminated copy */
    size_t len;
    uint32_t *line_starts;  /* byte offset of each line's first byte */
    size_t nlines;
} Source;

typedef struct SourceTable {
    Source *items;
    size_t count, cap;
} SourceTable;

void source_table_init(SourceTable *t);
void source_table_free(SourceTable *t);
/* Copies name and text; returns the new source's id. */
uint32_t source_add(SourceTable *t, const char *name, const char *text, size_t len);
const Source *source_get(const SourceTable *t, uint32_t id);
/* 1-based line and column (in bytes) of a byte offset. */
void source_line_col(const Source *s, uint32_t offset, int *line, int *col);
/* The text of a 1-based line, without its newline. */
const char *source_line_text(const Source *s, int line, size_t *len);

#endif
