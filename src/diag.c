/* diag.c — renders messages with location, source line and caret. */
#include "diag.h"

#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>

static const char *level_name(DiagLevel l)
{
    switch (l) {
    case DIAG_ERROR: return "error";
    case DIAG_WARNING: return "warning";
    case DIAG_NOTE: return "note";
    }
    return "error";
}

void diag_vreport(DiagSink *d, DiagLevel level, Span span, const char *fmt, va_list ap)
{
    StrBuf sb;
    sb_init(&sb);
    const Source *src = source_get(d->sources, span.source);
    uint32_t start = span.start <= src->len ? span.start : (uint32_t)src->len;
    int line, col;
    source_line_col(src, start, &line, &col);
    size_t len;
    const char *text = source_line_text(src, line, &len);
    /* columns count characters, not bytes, so they agree with the caret */
    size_t char_col = utf8_width(text, (size_t)col - 1 < len ? (size_t)col - 1 : len) + 1;
    sb_printf(&sb, "%s:%d:%zu: %s: ", src->name, line, char_col, level_name(level));
    sb_vprintf(&sb, fmt, ap);
    sb_putc(&sb, '\n');

    char gutter[16];
    int gw = snprintf(gutter, sizeof gutter, "%d", line);
    if (gw < 4) gw = 4;
    sb_printf(&sb, "%*d | ", gw, line);
    sb_append(&sb, text, len);
    sb_putc(&sb, '\n');
    sb_printf(&sb, "%*s | ", gw, "");
    /* Copy tabs so the caret lines up; count UTF-8 code points as one column. */
    size_t caret = (size_t)(col - 1);
    for (size_t i = 0; i < caret && i < len; i++) {
        if (text[i] == '\t') sb_putc(&sb, '\t');
        else if (((unsigned char)text[i] & 0xC0) != 0x80) sb_putc(&sb, ' ');
    }
    sb_putc(&sb, '^');
    size_t end = span.end > start ? span.end - (start - caret) : caret + 1;
    if (end > len) end = len;
    for (size_t i = caret + 1; i < end; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80) sb_putc(&sb, '~');
    sb_putc(&sb, '\n');

    if (level == DIAG_ERROR) d->errors++;
    d->emit(d->ud, sb.data, sb.len);
    sb_free(&sb);
}

void diag_report(DiagSink *d, DiagLevel level, Span span, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(d, level, span, fmt, ap);
    va_end(ap);
}

/* "WHERE: level: message" on one line, with no source line under it. */
static void report_unlocated(DiagSink *d, DiagLevel level, const char *where, const char *fmt,
                             va_list ap)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s: %s: ", where, level_name(level));
    sb_vprintf(&sb, fmt, ap);
    sb_putc(&sb, '\n');
    if (level == DIAG_ERROR) d->errors++;
    d->emit(d->ud, sb.data, sb.len);
    sb_free(&sb);
}

void diag_plain(DiagSink *d, DiagLevel level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_unlocated(d, level, "nn", fmt, ap);
    va_end(ap);
}

void diag_file(DiagSink *d, DiagLevel level, const char *file, int line, int col,
               const char *fmt, ...)
{
    StrBuf where;
    sb_init(&where);
    sb_puts(&where, file);
    if (line > 0) sb_printf(&where, ":%d", line);
    if (line > 0 && col > 0) sb_printf(&where, ":%d", col);
    va_list ap;
    va_start(ap, fmt);
    report_unlocated(d, level, where.data, fmt, ap);
    va_end(ap);
    sb_free(&where);
}
