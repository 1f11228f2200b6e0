/* strbuf.h — a growable string for building messages, traces and printed values. */
#ifndef NN_STRBUF_H
#define NN_STRBUF_H

#include "common.h"

#include <stdarg.h>

typedef struct StrBuf {
    char *data;     /* NUL-terminated when non-NULL; owned */
    size_t len, cap;
} StrBuf;

void sb_init(StrBuf *sb);
void sb_free(StrBuf *sb);
void sb_clear(StrBuf *sb);
void sb_append(StrBuf *sb, const char *s, size_t len);
void sb_puts(StrBuf *sb, const char *s);
void sb_putc(StrBuf *sb, char c);
void sb_printf(StrBuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
/* Pads with spaces until the last line reaches `col` display columns (UTF-8 aware). */
void sb_pad_to(StrBuf *sb, size_t line_start, size_t col);
/* Display width of UTF-8 text (one column per code point). */
size_t utf8_width(const char *s, size_t len);

#endif
