/* diag.h — the one renderer of user-facing messages:
 *   file:line:col: error: message
 *      3 | let y = q + 1
 *        |         ^
 * Everything the user is told about their script goes through here. */
#ifndef NN_DIAG_H
#define NN_DIAG_H

#include "common.h"
#include "source.h"

#include <stdarg.h>

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef void (*DiagEmitFn)(void *ud, const char *text, size_t len);

typedef struct DiagSink {
    const SourceTable *sources;
    DiagEmitFn emit;
    void *ud;
    int errors;             /* errors reported since the last reset */
} DiagSink;

/* Renders one located message and hands it to the sink's emit callback. */
void diag_report(DiagSink *d, DiagLevel level, Span span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vreport(DiagSink *d, DiagLevel level, Span span, const char *fmt, va_list ap);
/* A message with no location in a script: "nn: error: message". */
void diag_plain(DiagSink *d, DiagLevel level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A message located in a data file rather than a script: "file:line:col: error: message"
 * (":col" left out when col is 0, the whole "line:col" when line is 0). */
void diag_file(DiagSink *d, DiagLevel level, const char *file, int line, int col,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
