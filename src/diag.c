/* diag.c — renders messages with location, source line and caret. */
#include "diag.h"

#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *level_name(DiagLevel l)
{
    switch (l) {
    case DIAG_ERROR: return "error";
    case DIAG_WARNING: return "warning";
    case DIAG_NOTE: return "note";
    }
    return "error";
}

/* The message itself, made printable: names, strings and file names it quotes are the user's
 * bytes (sb_put_visible). */
static void put_message(StrBuf *sb, const char *fmt, va_list ap)
{
    StrBuf msg;
    sb_init(&msg);
    sb_vprintf(&msg, fmt, ap);
    sb_put_visible(sb, msg.data ? msg.data : "", msg.len);
    sb_free(&msg);
}

/* Characters of text[0..len) up to byte `at`: each unit (text_unit) counts one. */
static size_t char_column(const char *text, size_t len, size_t at)
{
    size_t col = 0;
    for (size_t i = 0; i < at && i < len; col++) {
        bool esc;
        i += text_unit(text + i, len - i, &esc);
    }
    return col;
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
    /* the column counts characters, not bytes, as the caret line does */
    size_t caret = (size_t)(col - 1);
    sb_put_visible(&sb, src->name, strlen(src->name));
    sb_printf(&sb, ":%d:%zu: %s: ", line, char_column(text, len, caret) + 1, level_name(level));
    put_message(&sb, fmt, ap);
    sb_putc(&sb, '\n');

    /* The line as the terminal is to show it: controls and bytes that are not UTF-8 escaped
     * (\x1b), so the caret line below counts the escape's four columns. */
    char gutter[16];
    int gw = snprintf(gutter, sizeof gutter, "%d", line);
    if (gw < 4) gw = 4;
    sb_printf(&sb, "%*d | ", gw, line);
    sb_put_visible(&sb, text, len);
    sb_putc(&sb, '\n');
    sb_printf(&sb, "%*s | ", gw, "");
    /* Copy tabs so the caret lines up; a UTF-8 character is one column, an escaped byte four;
     * '^' under the first character of the span, '~' under the rest. */
    size_t end = span.end > start ? span.end - (start - caret) : caret + 1;
    if (end > len) end = len;
    size_t i = 0;
    while (i < caret && i < len) {
        bool esc;
        size_t n = text_unit(text + i, len - i, &esc);
        if (text[i] == '\t') sb_putc(&sb, '\t');
        else sb_printf(&sb, "%*s", esc ? 4 * (int)n : 1, "");
        i += n;
    }
    sb_putc(&sb, '^');
    for (bool first = true; i < end; first = false) {
        bool esc;
        size_t n = text_unit(text + i, len - i, &esc);
        for (size_t k = first; k < (esc ? 4 * n : 1); k++) sb_putc(&sb, '~');
        i += n;
    }
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
    sb_put_visible(&sb, where, strlen(where));
    sb_printf(&sb, ": %s: ", level_name(level));
    put_message(&sb, fmt, ap);
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
