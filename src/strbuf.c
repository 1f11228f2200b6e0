/* strbuf.c — growable strings. */
#include "strbuf.h"

#include <stdio.h>
#include <string.h>

void sb_init(StrBuf *sb)
{
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

void sb_free(StrBuf *sb)
{
    nn_free(sb->data);
    sb_init(sb);
}

void sb_clear(StrBuf *sb)
{
    sb->len = 0;
    if (sb->data) sb->data[0] = '\0';
}

static void reserve(StrBuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) cap *= 2;
    sb->data = nn_realloc(sb->data, cap);
    sb->cap = cap;
}

void sb_append(StrBuf *sb, const char *s, size_t len)
{
    reserve(sb, len);
    memcpy(sb->data + sb->len, s, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void sb_puts(StrBuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

void sb_putc(StrBuf *sb, char c)
{
    sb_append(sb, &c, 1);
}

void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    NN_ASSERT(n >= 0);
    reserve(sb, (size_t)n);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void sb_printf(StrBuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

size_t utf8_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) w++;
    return w;
}

void sb_pad_to(StrBuf *sb, size_t line_start, size_t col)
{
    size_t w = utf8_width(sb->data ? sb->data + line_start : "", sb->len - line_start);
    while (w++ < col) sb_putc(sb, ' ');
}

long utf8_decode(const char *str, size_t len, size_t *n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    *n = 1;
    if (c < 0x80) return (long)c;
    /* the well-formed sequences (Unicode's table 3-7): the second byte's range depends on the
     * first, which rules out overlong forms, surrogates and code points past U+10FFFF */
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    long cp;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *n = i;
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *n = need + 1;
    return cp;
}

size_t text_unit(const char *s, size_t len, bool *escaped)
{
    size_t n;
    long cp = utf8_decode(s, len, &n);
    if (cp < 0) {
        *escaped = true;
        return 1;       /* byte by byte: each one of the subpart is shown */
    }
    *escaped = (cp < 0x20 && cp != '\t') || (cp >= 0x7F && cp < 0xA0);
    return n;
}

void sb_put_visible(StrBuf *sb, const char *s, size_t len)
{
    size_t i = 0, plain = 0;
    while (i < len) {
        bool esc;
        size_t n = text_unit(s + i, len - i, &esc);
        if (esc) {
            sb_append(sb, s + plain, i - plain);
            for (size_t k = 0; k < n; k++) sb_printf(sb, "\\x%02x", (unsigned char)s[i + k]);
            plain = i + n;
        }
        i += n;
    }
    sb_append(sb, s + plain, len - plain);
}

void sb_json_string(StrBuf *sb, const char *s, size_t len)
{
    sb_putc(sb, '"');
    size_t i = 0, plain = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = 1;
        const char *esc = NULL;
        char buf[8];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c < 0x20) {
            snprintf(buf, sizeof buf, "\\u%04x", c);
            esc = buf;
        } else if (c >= 0x80 && utf8_decode(s + i, len - i, &n) < 0) esc = "\xEF\xBF\xBD";
        if (esc) {
            sb_append(sb, s + plain, i - plain);
            sb_puts(sb, esc);
            plain = i + n;
        }
        i += n;
    }
    sb_append(sb, s + plain, len - plain);
    sb_putc(sb, '"');
}
