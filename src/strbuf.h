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

/* The UTF-8 character at s[0..len), len >= 1: returns its code point and sets *n to its
 * length; for an ill-formed sequence returns -1 and sets *n to the length of its maximal
 * subpart (Unicode 15 §3.9: one replacement per subpart, as Python's errors="replace"). */
long utf8_decode(const char *s, size_t len, size_t *n);

/* Text echoed to a terminal (a source line, a file name, a name or string in a message):
 * the length in bytes of the unit at s[0..len), len >= 1, and whether it is shown escaped.
 * A unit is one UTF-8 character, shown as itself, or one byte shown as "\xHH": C0 controls
 * but tab, DEL, C1 controls (each of their two bytes) and bytes that are not UTF-8. So no
 * byte of the user's reaches the terminal as a control (no escape sequences), and the line
 * stays one line. */
size_t text_unit(const char *s, size_t len, bool *escaped);
/* Appends s[0..len) with each escaped unit (text_unit) written as \xHH per byte. */
void sb_put_visible(StrBuf *sb, const char *s, size_t len);

/* Appends s[0..len) as a JSON string, quotes included: '"', '\\' and controls escaped, and
 * each ill-formed UTF-8 sequence replaced by U+FFFD, so the result is always valid UTF-8 and
 * valid JSON (as Go's encoding/json does; JSON cannot carry raw bytes). */
void sb_json_string(StrBuf *sb, const char *s, size_t len);

#endif
