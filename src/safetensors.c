/* safetensors.c — the safetensors reader and writer: a small strict JSON parser for exactly the
 * header's schema, validation of sizes and offsets against the data, and an atomic writer
 * (temporary file, fsync, rename). Nothing read from a file is trusted. */
#include "safetensors.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BASE 8   /* file offset of the header's first byte, for messages */

/* Every dtype of the format, with its size in bits, so that offsets of tensors nn cannot use
 * are still checked. */
typedef struct Dtype {
    const char *name;
    unsigned bits;
} Dtype;

static const Dtype dtypes[] = {
    { "BOOL", 8 },     { "U8", 8 },       { "I8", 8 },       { "F8_E5M2", 8 }, { "F8_E4M3", 8 },
    { "F8_E8M0", 8 },  { "I16", 16 },     { "U16", 16 },     { "F16", 16 },    { "BF16", 16 },
    { "I32", 32 },     { "U32", 32 },     { "F32", 32 },     { "I64", 64 },    { "U64", 64 },
    { "F64", 64 },     { "C64", 64 },     { "F4", 4 },       { "F6_E2M3", 6 }, { "F6_E3M2", 6 },
};

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Control characters in a message (names from the file: JSON's \u001b decodes to ESC) as
 * \xNN, C1 ones (U+0080 to U+009F) too, so that no message moves a terminal's cursor or
 * changes its colours. What no longer fits in cap bytes is cut. */
static void escape_controls(char *msg, size_t cap)
{
    char out[2048];
    size_t n = 0;
    bool changed = false;
    for (const unsigned char *c = (const unsigned char *)msg; *c && n + 9 < sizeof out; c++) {
        bool c1 = c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f;
        if (*c >= 0x20 && *c != 0x7f && !c1) {
            out[n++] = (char)*c;
            continue;
        }
        changed = true;
        n += (size_t)snprintf(out + n, 5, "\\x%02x", *c);
        if (c1) n += (size_t)snprintf(out + n, 5, "\\x%02x", *++c);
    }
    out[n] = '\0';
    if (changed) snprintf(msg, cap, "%s", out);
}

/* Formats a message into err (if there is room) and returns false, for `return fail(...)`. */
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        escape_controls(err, errlen);
    }
    return false;
}

static uint64_t get_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static void put_le64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

/* Converts `count` little-endian float32 values at src into dst. src and dst may be the same
 * memory (each value is read before it is written). */
static void floats_from_le(float *dst, const unsigned char *src, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = src + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16
                     | (uint32_t)b[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

static void floats_to_le(unsigned char *dst, const float *src, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        for (int k = 0; k < 4; k++) dst[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
}

/* Length of the well-formed UTF-8 sequence starting at s[0] (at most n bytes available), or 0
 * if it is not one: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

/* "[2, 3]"; a scalar is "[]". buf needs room for NN_MAX_RANK 20-digit numbers. */
static const char *fmt_dims(const int64_t *dims, int rank, char buf[160])
{
    size_t at = 0;
    buf[at++] = '[';
    for (int i = 0; i < rank && at < 140; i++)    /* 6 * 21 + 2 < 140: never truncates */
        at += (size_t)snprintf(buf + at, 160 - at, "%s%" PRId64, i ? ", " : "", dims[i]);
    snprintf(buf + at, 160 - at, "]");
    return buf;
}

/* ---- duplicate names ----------------------------------------------------------------------- */

typedef struct NameRef {
    const char *name;
    size_t idx;
} NameRef;

static int cmp_nameref(const void *a, const void *b)
{
    const NameRef *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* A name that occurs twice in refs[0..n) (the alphabetically first), or NULL. Sorts refs;
 * O(n log n), so a header with a million names is still quick. */
static const char *find_duplicate(NameRef *refs, size_t n)
{
    if (n < 2) return NULL;
    qsort(refs, n, sizeof *refs, cmp_nameref);
    for (size_t i = 1; i < n; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0) return refs[i].name;
    return NULL;
}

/* ---- the header parser --------------------------------------------------------------------- */

/* Where a tensor's bytes are, as the header says, and its element size. */
typedef struct Layout {
    uint64_t begin, end;
    unsigned bits;
} Layout;

typedef struct OrderRef {
    uint64_t begin, end;
    size_t idx;
} OrderRef;

/* The file being built. Everything in `f` is owned and freed by st_free on failure. */
typedef struct Build {
    StFile f;
    size_t ecap, mcap;
    Layout *lay;        /* parallel to f.entries */
    size_t *order;      /* entry indices sorted by offset, after validation */
} Build;

typedef struct Parser {
    const unsigned char *s;     /* the header, n bytes, not NUL-terminated */
    size_t n, pos;
    char *err;
    size_t errlen;
    char *scratch;              /* the last decoded string, NUL-terminated; owned */
    size_t scap;
    size_t used, room;          /* memory the header and its index take, and the most they may
                                   (SIZE_MAX: no limit) */
} Parser;

static bool perr(Parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool perr(Parser *p, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
        escape_controls(p->err, p->errlen);
    }
    return false;
}

static size_t file_pos(const Parser *p)
{
    return HEADER_BASE + p->pos;
}

static bool at_char(const Parser *p, char c)
{
    return p->pos < p->n && p->s[p->pos] == (unsigned char)c;
}

static bool at_digit(const Parser *p, size_t i)
{
    return i < p->n && p->s[i] >= '0' && p->s[i] <= '9';
}

static void skip_ws(Parser *p)
{
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static const char *describe_here(const Parser *p, char buf[16])
{
    if (p->pos >= p->n) return "the end of the header";
    unsigned c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 16, "'%c'", (char)c);
    else snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

/* "bad header at byte 25: expected ':', found 'x'". Byte positions count from the file start. */
static bool syntax(Parser *p, const char *expected)
{
    char buf[16];
    return perr(p, "bad header at byte %zu: expected %s, found %s", file_pos(p), expected,
                describe_here(p, buf));
}

static bool at_literal(const Parser *p, const char *lit)
{
    size_t len = strlen(lit);
    return p->n - p->pos >= len && memcmp(p->s + p->pos, lit, len) == 0;
}

/* What kind of JSON value starts at pos ("a string", ...), or NULL if none does. */
static const char *value_kind(const Parser *p)
{
    if (p->pos >= p->n) return NULL;
    switch (p->s[p->pos]) {
    case '"': return "a string";
    case '{': return "an object";
    case '[': return "an array";
    case '-': return "a number";
    default: break;
    }
    if (at_digit(p, p->pos)) return "a number";
    if (at_literal(p, "true") || at_literal(p, "false")) return "a boolean";
    if (at_literal(p, "null")) return "null";
    return NULL;
}

static bool wrong_kind(Parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A value of the wrong kind: "<fmt>, found a string". If no JSON value starts here at all, a
 * syntax error instead. */
static bool wrong_kind(Parser *p, const char *fmt, ...)
{
    const char *kind = value_kind(p);
    if (!kind) return syntax(p, "a JSON value");
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
        size_t used = strlen(p->err);
        snprintf(p->err + used, p->errlen - used, ", found %s", kind);
        escape_controls(p->err, p->errlen);
    }
    return false;
}

/* "512 KiB", "2.5 MiB", "300 MiB": a size for messages. */
static const char *size_text(uint64_t bytes, char buf[32])
{
    double mib = (double)bytes / (1 << 20);
    if (bytes < (1 << 20)) snprintf(buf, 32, "%" PRIu64 " KiB", (bytes + 1023) / 1024);
    else if (mib < 10) snprintf(buf, 32, "%.1f MiB", mib);
    else snprintf(buf, 32, "%.0f MiB", mib);
    return buf;
}

/* Counts `bytes` more of memory for the header and its index, before they are allocated;
 * false with a message if that would pass p->room. */
static bool take(Parser *p, size_t bytes)
{
    if (bytes <= p->room - p->used) {
        p->used += bytes;
        return true;
    }
    char left[32];
    return perr(p, "its header describes more tensors and metadata than the memory limit "
                "leaves room for (%s); raise it with --max-memory", size_text(p->room, left));
}

/* Each entry's share of the index: the entry, its layout, and the arrays validate sorts and
 * keeps (names, offsets, the order by offset and by name). */
#define ENTRY_BYTES (sizeof(StEntry) + sizeof(Layout) + sizeof(NameRef) + sizeof(OrderRef) \
                     + 2 * sizeof(size_t))
/* ... and each metadata pair's: its two pointers and its place in the duplicate check. */
#define META_BYTES (2 * sizeof(char *) + sizeof(NameRef))

static bool scratch_reserve(Parser *p, size_t need)
{
    if (need <= p->scap) return true;
    size_t cap = p->scap ? p->scap : 64;
    while (cap < need) cap *= 2;
    if (!take(p, cap - p->scap)) return false;
    p->scratch = nn_realloc(p->scratch, cap);
    p->scap = cap;
    return true;
}

/* A copy of the last decoded string, counted. NULL (with the message set) past the room. */
static char *scratch_dup(Parser *p)
{
    size_t len = strlen(p->scratch);
    return take(p, len + 1) ? nn_strndup(p->scratch, len) : NULL;
}

static int hex4(const Parser *p, size_t at)
{
    if (at > p->n || p->n - at < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[at + (size_t)i];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses the JSON string at pos (which is a '"') into p->scratch, NUL-terminated. Escapes are
 * decoded, \uXXXX surrogate pairs joined; raw bytes must be well-formed UTF-8 and not control
 * characters. \u0000 is refused: names are C strings. */
static bool parse_string(Parser *p)
{
    size_t start = p->pos, out = 0;
    p->pos++;
    for (;;) {
        if (p->pos >= p->n)
            return perr(p, "bad header at byte %zu: the string is not closed",
                        HEADER_BASE + start);
        unsigned char c = p->s[p->pos];
        if (!scratch_reserve(p, out + 5)) return false;
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->n)
                return perr(p, "bad header at byte %zu: the string is not closed",
                            HEADER_BASE + start);
            unsigned char e = p->s[p->pos + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char decoded[] = "\"\\/\b\f\n\r\t";
                p->scratch[out++] = decoded[simple - "\"\\/bfnrt"];
                p->pos += 2;
                continue;
            }
            if (e != 'u')
                return perr(p, "bad header at byte %zu: invalid escape sequence in a string",
                            file_pos(p));
            int hi = hex4(p, p->pos + 2);
            if (hi < 0)
                return perr(p, "bad header at byte %zu: '\\u' needs 4 hex digits", file_pos(p));
            uint32_t cp = (uint32_t)hi;
            if (hi >= 0xdc00 && hi <= 0xdfff)
                return perr(p, "bad header at byte %zu: unpaired surrogate '\\u%04x'",
                            file_pos(p), (unsigned)hi);
            if (hi >= 0xd800 && hi <= 0xdbff) {
                int lo = -1;
                if (p->n - p->pos >= 12 && p->s[p->pos + 6] == '\\' && p->s[p->pos + 7] == 'u')
                    lo = hex4(p, p->pos + 8);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return perr(p, "bad header at byte %zu: unpaired surrogate '\\u%04x'",
                                file_pos(p), (unsigned)hi);
                cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                p->pos += 6;
            }
            if (cp == 0)
                return perr(p, "bad header at byte %zu: '\\u0000' in a string is not supported",
                            file_pos(p));
            out += utf8_encode(cp, p->scratch + out);
            p->pos += 6;
            continue;
        }
        if (c < 0x20)
            return perr(p, "bad header at byte %zu: control character 0x%02x in a string "
                        "(JSON needs it escaped)", file_pos(p), c);
        size_t k = utf8_seq(p->s + p->pos, p->n - p->pos);
        if (!k) return perr(p, "bad header at byte %zu: invalid UTF-8", file_pos(p));
        memcpy(p->scratch + out, p->s + p->pos, k);
        out += k;
        p->pos += k;
    }
    p->scratch[out] = '\0';
    return true;
}

/* A JSON number as written: sign, magnitude if it is an integer that fits in 64 bits, and where
 * its text is (for messages). */
typedef struct Num {
    bool neg, integer, overflow;
    uint64_t mag;
    size_t start, end;
} Num;

static bool parse_number(Parser *p, Num *num)
{
    size_t i = p->pos;
    *num = (Num){ .integer = true, .start = i };
    if (i < p->n && p->s[i] == '-') {
        num->neg = true;
        i++;
    }
    p->pos = i;
    if (!at_digit(p, i)) return syntax(p, "a digit");
    if (p->s[i] == '0') {
        i++;
        if (at_digit(p, i)) {
            p->pos = num->start;
            return perr(p, "bad header at byte %zu: a number has a leading zero", file_pos(p));
        }
    } else {
        for (; at_digit(p, i); i++) {
            unsigned d = p->s[i] - '0';
            if (num->mag > (UINT64_MAX - d) / 10) num->overflow = true;
            else num->mag = num->mag * 10 + d;
        }
    }
    if (i < p->n && p->s[i] == '.') {
        num->integer = false;
        p->pos = ++i;
        if (!at_digit(p, i)) return syntax(p, "a digit after '.'");
        while (at_digit(p, i)) i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        num->integer = false;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        p->pos = i;
        if (!at_digit(p, i)) return syntax(p, "a digit in the exponent");
        while (at_digit(p, i)) i++;
    }
    num->end = i;
    p->pos = i;
    return true;
}

/* The number's text for a message, at most 40 characters of it. */
#define NUM_TEXT(p, num) (int)((num).end - (num).start > 40 ? 40 : (num).end - (num).start), \
                         (const char *)(p)->s + (num).start

static bool at_number(const Parser *p)
{
    return at_char(p, '-') || at_digit(p, p->pos);
}

/* After an opening bracket: skips whitespace and consumes the closer of an empty container.
 * True if an element follows. */
static bool has_elements(Parser *p, char closer)
{
    skip_ws(p);
    if (at_char(p, closer)) {
        p->pos++;
        return false;
    }
    return true;
}

/* After an element of an array or object: skips ',' (true in *more) or the closer. */
static bool next_or_close(Parser *p, char closer, bool *more)
{
    skip_ws(p);
    if (at_char(p, ',')) {
        p->pos++;
        skip_ws(p);
        *more = true;
        return true;
    }
    if (at_char(p, closer)) {
        p->pos++;
        *more = false;
        return true;
    }
    return syntax(p, closer == ']' ? "',' or ']'" : "',' or '}'");
}

/* Parses `"key" :` and leaves the key in p->scratch and pos at the value. */
static bool parse_key(Parser *p)
{
    if (!at_char(p, '"')) return syntax(p, "a key in double quotes");
    if (!parse_string(p)) return false;
    skip_ws(p);
    if (!at_char(p, ':')) return syntax(p, "':'");
    p->pos++;
    skip_ws(p);
    return true;
}

static bool parse_shape(Parser *p, StEntry *e)
{
    if (!at_char(p, '[')) return wrong_kind(p, "tensor '%s': 'shape' must be an array", e->name);
    p->pos++;
    e->rank = 0;
    for (bool more = has_elements(p, ']'); more;) {
        if (!at_number(p))
            return wrong_kind(p, "tensor '%s': 'shape' must hold integers", e->name);
        Num num;
        if (!parse_number(p, &num)) return false;
        if (!num.integer)
            return perr(p, "tensor '%s' has a non-integer dimension %.*s in 'shape'", e->name,
                        NUM_TEXT(p, num));
        if (num.neg)
            return perr(p, "tensor '%s' has a negative dimension %.*s in 'shape'", e->name,
                        NUM_TEXT(p, num));
        if (num.overflow || num.mag > (uint64_t)INT64_MAX)
            return perr(p, "tensor '%s' has a dimension too large: %.*s", e->name,
                        NUM_TEXT(p, num));
        if (e->rank == NN_MAX_RANK)
            return perr(p, "tensor '%s' has more than %d dimensions; nn supports at most %d",
                        e->name, NN_MAX_RANK, NN_MAX_RANK);
        e->dims[e->rank++] = (int64_t)num.mag;
        if (!next_or_close(p, ']', &more)) return false;
    }
    return true;
}

static bool parse_offsets(Parser *p, const char *name, Layout *lay)
{
    if (!at_char(p, '['))
        return wrong_kind(p, "tensor '%s': 'data_offsets' must be an array", name);
    p->pos++;
    uint64_t v[2];
    int count = 0;
    for (bool more = has_elements(p, ']'); more;) {
        if (!at_number(p))
            return wrong_kind(p, "tensor '%s': 'data_offsets' must hold integers", name);
        Num num;
        if (!parse_number(p, &num)) return false;
        if (!num.integer)
            return perr(p, "tensor '%s' has a non-integer offset %.*s in 'data_offsets'", name,
                        NUM_TEXT(p, num));
        if (num.neg)
            return perr(p, "tensor '%s' has a negative offset %.*s in 'data_offsets'", name,
                        NUM_TEXT(p, num));
        if (num.overflow)
            return perr(p, "tensor '%s' has an offset too large: %.*s", name, NUM_TEXT(p, num));
        if (count == 2)
            return perr(p, "tensor '%s': 'data_offsets' has more than 2 elements "
                        "(it needs begin and end)", name);
        v[count++] = num.mag;
        if (!next_or_close(p, ']', &more)) return false;
    }
    if (count != 2)
        return perr(p, "tensor '%s': 'data_offsets' has %d element%s (it needs begin and end)",
                    name, count, count == 1 ? "" : "s");
    lay->begin = v[0];
    lay->end = v[1];
    return true;
}

static bool parse_entry(Parser *p, StEntry *e, Layout *lay)
{
    enum { F_DTYPE, F_SHAPE, F_OFFSETS };
    static const char *const fields[] = { "dtype", "shape", "data_offsets" };
    bool seen[3] = { false, false, false };

    if (!at_char(p, '{')) return wrong_kind(p, "tensor '%s' must be an object", e->name);
    p->pos++;
    for (bool more = has_elements(p, '}'); more;) {
        if (!parse_key(p)) return false;
        int f = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(p->scratch, fields[i]) == 0) f = i;
        if (f < 0) return perr(p, "tensor '%s' has an unknown key '%s'", e->name, p->scratch);
        if (seen[f]) return perr(p, "duplicate key '%s' in tensor '%s'", fields[f], e->name);
        seen[f] = true;
        switch (f) {
        case F_DTYPE: {
            if (!at_char(p, '"'))
                return wrong_kind(p, "tensor '%s': 'dtype' must be a string", e->name);
            if (!parse_string(p)) return false;
            const Dtype *d = NULL;
            for (size_t i = 0; i < NN_ARRAY_LEN(dtypes); i++)
                if (strcmp(p->scratch, dtypes[i].name) == 0) d = &dtypes[i];
            if (!d) return perr(p, "tensor '%s' has unknown dtype '%s'", e->name, p->scratch);
            snprintf(e->dtype, sizeof e->dtype, "%s", d->name);
            lay->bits = d->bits;
            break;
        }
        case F_SHAPE:
            if (!parse_shape(p, e)) return false;
            break;
        default:
            if (!parse_offsets(p, e->name, lay)) return false;
            break;
        }
        if (!next_or_close(p, '}', &more)) return false;
    }
    for (int i = 0; i < 3; i++)
        if (!seen[i]) return perr(p, "tensor '%s' has no '%s'", e->name, fields[i]);
    return true;
}

static bool parse_metadata(Parser *p, Build *b)
{
    StFile *f = &b->f;
    if (!at_char(p, '{')) return wrong_kind(p, "'__metadata__' must be an object");
    p->pos++;
    for (bool more = has_elements(p, '}'); more;) {
        if (!parse_key(p)) return false;
        if (f->meta_count == b->mcap) {
            size_t cap = b->mcap ? 2 * b->mcap : 8;
            if (!take(p, (cap - b->mcap) * META_BYTES)) return false;
            b->mcap = cap;
            f->meta_keys = nn_realloc(f->meta_keys, b->mcap * sizeof *f->meta_keys);
            f->meta_values = nn_realloc(f->meta_values, b->mcap * sizeof *f->meta_values);
        }
        char *key = scratch_dup(p);
        if (!key) return false;
        size_t i = f->meta_count++;
        f->meta_keys[i] = key;
        f->meta_values[i] = NULL;
        if (!at_char(p, '"'))
            return wrong_kind(p, "'__metadata__' value of '%s' must be a string",
                              f->meta_keys[i]);
        if (!parse_string(p)) return false;
        if (!(f->meta_values[i] = scratch_dup(p))) return false;
        if (!next_or_close(p, '}', &more)) return false;
    }
    return true;
}

static bool parse_header(Parser *p, Build *b)
{
    StFile *f = &b->f;
    bool have_meta = false;
    skip_ws(p);
    if (!at_char(p, '{')) {
        if (value_kind(p)) return wrong_kind(p, "the header must be a JSON object");
        return syntax(p, "'{'");
    }
    p->pos++;
    for (bool more = has_elements(p, '}'); more;) {
        if (!parse_key(p)) return false;
        if (strcmp(p->scratch, "__metadata__") == 0) {
            if (have_meta) return perr(p, "duplicate key '__metadata__'");
            have_meta = true;
            if (!parse_metadata(p, b)) return false;
        } else {
            if (f->count == b->ecap) {
                size_t cap = b->ecap ? 2 * b->ecap : 8;
                if (!take(p, (cap - b->ecap) * ENTRY_BYTES)) return false;
                b->ecap = cap;
                f->entries = nn_realloc(f->entries, b->ecap * sizeof *f->entries);
                b->lay = nn_realloc(b->lay, b->ecap * sizeof *b->lay);
            }
            char *name = scratch_dup(p);
            if (!name) return false;
            StEntry *e = &f->entries[f->count++];
            memset(e, 0, sizeof *e);
            e->name = name;
            if (!parse_entry(p, e, &b->lay[f->count - 1])) return false;
        }
        if (!next_or_close(p, '}', &more)) return false;
    }
    skip_ws(p);
    if (p->pos < p->n) return syntax(p, "the end of the header after the JSON object");
    return true;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int cmp_order(const void *a, const void *b)
{
    const OrderRef *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Checks names, sizes and offsets against `data_len` bytes of data; sets each entry's count and
 * b->order. Messages go to err. */
static bool validate(Build *b, uint64_t data_len, char *err, size_t errlen)
{
    StFile *f = &b->f;
    size_t n = f->count;
    const char *dup;
    char shape[160];

    NameRef *refs = nn_alloc((n > f->meta_count ? n : f->meta_count) * sizeof *refs);
    for (size_t i = 0; i < n; i++) refs[i] = (NameRef){ f->entries[i].name, i };
    dup = find_duplicate(refs, n);
    if (dup) {
        fail(err, errlen, "duplicate tensor name '%s'", dup);
        nn_free(refs);
        return false;
    }
    f->by_name = nn_alloc((n ? n : 1) * sizeof *f->by_name);
    for (size_t i = 0; i < n; i++) f->by_name[i] = refs[i].idx;
    for (size_t i = 0; i < f->meta_count; i++) refs[i] = (NameRef){ f->meta_keys[i], i };
    dup = find_duplicate(refs, f->meta_count);
    if (dup) {
        fail(err, errlen, "duplicate key '%s' in '__metadata__'", dup);
        nn_free(refs);
        return false;
    }
    nn_free(refs);

    for (size_t i = 0; i < n; i++) {
        StEntry *e = &f->entries[i];
        const Layout *l = &b->lay[i];
        if (l->end < l->begin)
            return fail(err, errlen,
                        "tensor '%s' has data_offsets [%" PRIu64 ", %" PRIu64
                        "]: the end is before the start", e->name, l->begin, l->end);
        uint64_t count = 1;
        bool zero = false;
        for (int d = 0; d < e->rank; d++) zero |= e->dims[d] == 0;
        for (int d = 0; d < e->rank && !zero; d++) {
            uint64_t dim = (uint64_t)e->dims[d];
            if (count > UINT64_MAX / dim)
                return fail(err, errlen, "tensor '%s' has too many elements: shape %s", e->name,
                            fmt_dims(e->dims, e->rank, shape));
            count *= dim;
        }
        if (zero) count = 0;
        if (count > UINT64_MAX / l->bits)
            return fail(err, errlen, "tensor '%s' has too many elements: shape %s", e->name,
                        fmt_dims(e->dims, e->rank, shape));
        uint64_t bits = count * l->bits;
        if (bits % 8)
            return fail(err, errlen, "tensor '%s' has shape %s and dtype %s, which do not fill "
                        "whole bytes", e->name, fmt_dims(e->dims, e->rank, shape), e->dtype);
        if (bits / 8 != l->end - l->begin)
            return fail(err, errlen,
                        "tensor '%s' has shape %s and dtype %s, which need %" PRIu64
                        " bytes, but its data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64,
                        e->name, fmt_dims(e->dims, e->rank, shape), e->dtype, bits / 8,
                        l->begin, l->end, l->end - l->begin);
    }

    OrderRef *ord = nn_alloc(n * sizeof *ord);
    for (size_t i = 0; i < n; i++) ord[i] = (OrderRef){ b->lay[i].begin, b->lay[i].end, i };
    qsort(ord, n, sizeof *ord, cmp_order);
    b->order = nn_alloc(n * sizeof *b->order);
    for (size_t i = 0; i < n; i++) b->order[i] = ord[i].idx;
    nn_free(ord);

    uint64_t at = 0;
    size_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = b->order[k];
        const Layout *l = &b->lay[i];
        const char *name = f->entries[i].name;
        if (l->begin > at)
            return fail(err, errlen, "no tensor covers bytes %" PRIu64 "..%" PRIu64
                        " of the data (before tensor '%s')", at, l->begin, name);
        if (l->begin < at) {
            const Layout *pl = &b->lay[prev];
            const char *pname = f->entries[prev].name;
            return fail(err, errlen, "tensors '%s' and '%s' overlap: '%s' has bytes %" PRIu64
                        "..%" PRIu64 " of the data, '%s' has bytes %" PRIu64 "..%" PRIu64,
                        pname, name, pname, pl->begin, pl->end, name, l->begin, l->end);
        }
        if (l->end > data_len)
            return fail(err, errlen, "the file is truncated: tensor '%s' needs bytes %" PRIu64
                        "..%" PRIu64 " of the data, the file has %" PRIu64, name, l->begin,
                        l->end, data_len);
        at = l->end;
        prev = i;
    }
    if (at < data_len)
        return fail(err, errlen, "no tensor covers bytes %" PRIu64 "..%" PRIu64
                    " of the data, at the end of the file", at, data_len);

    for (size_t i = 0; i < n; i++) {
        StEntry *e = &f->entries[i];
        if (strcmp(e->dtype, "F32") != 0)
            return fail(err, errlen, "tensor '%s' has dtype %s; nn reads F32 only", e->name,
                        e->dtype);
        /* fits: count * 4 == end - begin <= data_len, which is a size_t */
        e->count = (size_t)((b->lay[i].end - b->lay[i].begin) / 4);
        e->offset = b->lay[i].begin;
    }
    return true;
}

static void build_free(Build *b)
{
    st_free(&b->f);
    nn_free(b->lay);
    nn_free(b->order);
    memset(b, 0, sizeof *b);
}

/* Parses and validates header bytes hdr[0..n) for a file with data_len bytes of data after
 * it, taking at most `room` bytes for the index (the header's own n bytes counted already). On
 * failure frees everything. */
static bool load_header(const unsigned char *hdr, size_t n, uint64_t data_len, size_t room,
                        Build *b, char *err, size_t errlen)
{
    Parser p = { .s = hdr, .n = n, .err = err, .errlen = errlen, .used = n, .room = room };
    memset(b, 0, sizeof *b);
    bool ok = parse_header(&p, b) && validate(b, data_len, err, errlen);
    nn_free(p.scratch);
    if (!ok) build_free(b);
    return ok;
}

/* Allocates every tensor's data (uninitialised), for the readers that read them all. */
static void alloc_data(StFile *f)
{
    for (size_t i = 0; i < f->count; i++)
        f->entries[i].data = nn_alloc((f->entries[i].count ? f->entries[i].count : 1)
                                      * sizeof(float));
}

/* Checks the header size n against the bytes that follow the size field. */
static bool check_header_size(uint64_t n, uint64_t avail, char *err, size_t errlen)
{
    if (n < 2)
        return fail(err, errlen, "the header size is %" PRIu64 " bytes, too small for a header "
                    "(the smallest, '{}', has 2)", n);
    if (n > ST_MAX_HEADER)
        return fail(err, errlen, "the header size is %" PRIu64 " bytes, over the limit of %u "
                    "(is this a safetensors file?)", n, ST_MAX_HEADER);
    if (n > avail)
        return fail(err, errlen, "the file is truncated: the header needs %" PRIu64
                    " bytes after the size, the file has %" PRIu64, n, avail);
    return true;
}

static bool check_file_size(uint64_t len, char *err, size_t errlen)
{
    if (len == 0) return fail(err, errlen, "the file is empty");
    if (len < 8)
        return fail(err, errlen, "the file is truncated: it has %" PRIu64 " byte%s, but the "
                    "header size alone takes 8", len, len == 1 ? "" : "s");
    return true;
}

bool st_parse(const unsigned char *buf, size_t len, StFile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!check_file_size(len, err, errlen)) return false;
    uint64_t n = get_le64(buf);
    if (!check_header_size(n, len - 8, err, errlen)) return false;
    Build b;
    if (!load_header(buf + 8, (size_t)n, len - 8 - n, SIZE_MAX, &b, err, errlen)) return false;
    alloc_data(&b.f);
    const unsigned char *data = buf + 8 + n;
    for (size_t i = 0; i < b.f.count; i++)
        floats_from_le(b.f.entries[i].data, data + b.lay[i].begin, b.f.entries[i].count);
    *out = b.f;
    nn_free(b.lay);
    nn_free(b.order);
    return true;
}

/* ---- reading a file ------------------------------------------------------------------------ */

static bool read_exact(FILE *fp, void *dst, size_t n, char *err, size_t errlen)
{
    if (n == 0 || fread(dst, 1, n, fp) == n) return true;
    if (ferror(fp)) return fail(err, errlen, "%s", strerror(errno));
    return fail(err, errlen, "the file ended early while it was read (did it change?)");
}

bool st_open(const char *path, size_t room, StFile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return fail(err, errlen, "%s", strerror(errno));

    unsigned char *hdr = NULL;
    unsigned char prefix[8];
    struct stat sb;
    Build b;
    bool ok = false;
    uint64_t size, n;
    char need[32], left[32];

    if (fstat(fileno(fp), &sb) != 0) {
        fail(err, errlen, "%s", strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        fail(err, errlen, "%s", strerror(EISDIR));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        fail(err, errlen, "not a regular file");
        goto done;
    }
    size = (uint64_t)sb.st_size;
    if (!check_file_size(size, err, errlen) || !read_exact(fp, prefix, 8, err, errlen))
        goto done;
    n = get_le64(prefix);
    if (!check_header_size(n, size - 8, err, errlen)) goto done;
    if (n > room) {
        fail(err, errlen, "its header (%s) is larger than the memory limit leaves room for (%s); "
             "raise it with --max-memory", size_text(n, need), size_text(room, left));
        goto done;
    }
    hdr = nn_alloc((size_t)n);
    if (!read_exact(fp, hdr, (size_t)n, err, errlen)) goto done;
    if (!load_header(hdr, (size_t)n, size - 8 - n, room, &b, err, errlen)) goto done;
    for (size_t i = 0; i < b.f.count; i++) b.f.entries[i].offset += 8 + n;
    *out = b.f;
    out->fp = fp;
    fp = NULL;
    nn_free(b.lay);
    nn_free(b.order);
    ok = true;
done:
    nn_free(hdr);
    if (fp) fclose(fp);
    return ok;
}

bool st_read(const StFile *f, const StEntry *e, size_t from, float *dst, size_t count,
             char *err, size_t errlen)
{
    NN_ASSERT(f->fp && from <= e->count && count <= e->count - from);
    unsigned char *at = (unsigned char *)dst;
    size_t want = count * 4;
    uint64_t pos = e->offset + 4 * (uint64_t)from;
    while (want > 0) {
        ssize_t got = pread(fileno(f->fp), at, want, (off_t)pos);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail(err, errlen, "%s", strerror(errno));
        if (got == 0)
            return fail(err, errlen, "the file ended early while it was read (did it change?)");
        at += got;
        want -= (size_t)got;
        pos += (uint64_t)got;
    }
    floats_from_le(dst, (const unsigned char *)dst, count);
    return true;
}

bool st_load(const char *path, StFile *out, char *err, size_t errlen)
{
    if (!st_open(path, SIZE_MAX, out, err, errlen)) return false;
    alloc_data(out);
    for (size_t i = 0; i < out->count; i++) {
        StEntry *e = &out->entries[i];
        if (!st_read(out, e, 0, e->data, e->count, err, errlen)) {
            st_free(out);
            return false;
        }
    }
    fclose(out->fp);
    out->fp = NULL;
    return true;
}

void st_free(StFile *f)
{
    if (!f) return;
    if (f->fp) fclose(f->fp);
    nn_free(f->by_name);
    for (size_t i = 0; i < f->count; i++) {
        nn_free(f->entries[i].name);
        nn_free(f->entries[i].data);
    }
    nn_free(f->entries);
    for (size_t i = 0; i < f->meta_count; i++) {
        nn_free(f->meta_keys[i]);
        nn_free(f->meta_values[i]);
    }
    nn_free(f->meta_keys);
    nn_free(f->meta_values);
    memset(f, 0, sizeof *f);
}

const StEntry *st_find(const StFile *f, const char *name)
{
    size_t lo = 0, hi = f->count;       /* by_name sorts the names: a binary search */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const StEntry *e = &f->entries[f->by_name[mid]];
        int c = strcmp(e->name, name);
        if (c == 0) return e;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *st_meta(const StFile *f, const char *key)
{
    for (size_t i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct Buf {
    char *data;
    size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->data = nn_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void buf_puts(Buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* A JSON string as serde_json writes it: '"' and '\' escaped, control characters as short
 * escapes or \u00xx, everything else (UTF-8 included) raw. */
static void buf_json_string(Buf *b, const char *s)
{
    buf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': buf_add(b, "\\\"", 2); break;
        case '\\': buf_add(b, "\\\\", 2); break;
        case '\n': buf_add(b, "\\n", 2); break;
        case '\r': buf_add(b, "\\r", 2); break;
        case '\t': buf_add(b, "\\t", 2); break;
        case '\b': buf_add(b, "\\b", 2); break;
        case '\f': buf_add(b, "\\f", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                buf_add(b, esc, 6);
            } else {
                buf_add(b, (const char *)c, 1);
            }
        }
    }
    buf_add(b, "\"", 1);
}

/* Checks the arguments of st_save and builds the padded header. */
static bool build_header(const char *path, const StTensor *t, size_t nt, const StMeta *meta,
                         size_t nmeta, Buf *h, size_t *counts, char *err, size_t errlen)
{
    for (size_t i = 0; i < nt; i++) {
        NN_ASSERT(t[i].name && t[i].rank >= 0 && t[i].rank <= NN_MAX_RANK);
        if (strcmp(t[i].name, "__metadata__") == 0)
            return fail(err, errlen, "cannot write '%s': '__metadata__' cannot name a tensor",
                        path);
        if (!utf8_valid(t[i].name))
            return fail(err, errlen, "cannot write '%s': tensor name '%s' is not valid UTF-8",
                        path, t[i].name);
        uint64_t count = 1;
        bool zero = false;
        for (int d = 0; d < t[i].rank; d++) {
            if (t[i].dims[d] < 0)
                return fail(err, errlen, "cannot write '%s': tensor '%s' has a negative "
                            "dimension %" PRId64, path, t[i].name, t[i].dims[d]);
            zero |= t[i].dims[d] == 0;
        }
        for (int d = 0; d < t[i].rank && !zero; d++) {
            uint64_t dim = (uint64_t)t[i].dims[d];
            if (count > (uint64_t)(SIZE_MAX / 4) / dim)
                return fail(err, errlen, "cannot write '%s': tensor '%s' is too large", path,
                            t[i].name);
            count *= dim;
        }
        counts[i] = zero ? 0 : (size_t)count;
        NN_ASSERT(t[i].data || counts[i] == 0);
    }
    for (size_t i = 0; i < nmeta; i++) {
        NN_ASSERT(meta[i].key && meta[i].value);
        if (!utf8_valid(meta[i].key) || !utf8_valid(meta[i].value))
            return fail(err, errlen, "cannot write '%s': metadata '%s' is not valid UTF-8", path,
                        meta[i].key);
    }
    size_t nref = nt > nmeta ? nt : nmeta;
    NameRef *refs = nn_alloc(nref * sizeof *refs);
    for (size_t i = 0; i < nt; i++) refs[i] = (NameRef){ t[i].name, i };
    const char *dup = find_duplicate(refs, nt);
    if (dup) fail(err, errlen, "cannot write '%s': duplicate tensor name '%s'", path, dup);
    if (!dup) {
        for (size_t i = 0; i < nmeta; i++) refs[i] = (NameRef){ meta[i].key, i };
        dup = find_duplicate(refs, nmeta);
        if (dup) fail(err, errlen, "cannot write '%s': duplicate metadata key '%s'", path, dup);
    }
    nn_free(refs);
    if (dup) return false;

    buf_puts(h, "{");
    if (nmeta) {
        buf_puts(h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i) buf_puts(h, ",");
            buf_json_string(h, meta[i].key);
            buf_puts(h, ":");
            buf_json_string(h, meta[i].value);
        }
        buf_puts(h, "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < nt; i++) {
        char num[48];
        if (i || nmeta) buf_puts(h, ",");
        buf_json_string(h, t[i].name);
        buf_puts(h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t[i].rank; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", t[i].dims[d]);
            buf_puts(h, num);
        }
        uint64_t end = offset + (uint64_t)counts[i] * 4;
        snprintf(num, sizeof num, "%" PRIu64 ",%" PRIu64, offset, end);
        buf_puts(h, "],\"data_offsets\":[");
        buf_puts(h, num);
        buf_puts(h, "]}");
        offset = end;
    }
    buf_puts(h, "}");
    /* Pad with spaces so the data starts 8-byte aligned (the size field is 8 bytes). */
    while (h->len % 8) buf_puts(h, " ");
    return true;
}

bool st_save(const char *path, const StTensor *t, size_t nt, const StMeta *meta, size_t nmeta,
             char *err, size_t errlen)
{
    enum { CHUNK = 16384 };     /* floats converted and written at a time */
    Buf h = { NULL, 0, 0 };
    size_t *counts = nn_alloc((nt ? nt : 1) * sizeof *counts);
    unsigned char *chunk = NULL, prefix[8];
    AtomicFile f;
    bool ok = false;

    if (!build_header(path, t, nt, meta, nmeta, &h, counts, err, errlen)) goto done;
    if (!afile_open(&f, path, err, errlen)) goto done;
    put_le64(prefix, h.len);
    bool written = afile_write(&f, prefix, 8) && afile_write(&f, h.data, h.len);
    chunk = nn_alloc(CHUNK * 4);
    for (size_t i = 0; i < nt && written; i++) {
        for (size_t at = 0; at < counts[i] && written; at += CHUNK) {
            size_t m = counts[i] - at < CHUNK ? counts[i] - at : CHUNK;
            floats_to_le(chunk, t[i].data + at, m);
            written = afile_write(&f, chunk, m * 4);
        }
    }
    if (!written) afile_fail(&f, err, errlen);
    else ok = afile_commit(&f, err, errlen);
done:
    nn_free(chunk);
    nn_free(counts);
    nn_free(h.data);
    return ok;
}
