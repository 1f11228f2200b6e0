/* data.c — data sets: the CSV and row-index readers, subsets, seeded splits, normalisation and
 * the seeded toy sets. Files are read whole and parsed in place; user errors come back as a
 * DataError with a line and byte column, never by jumping. */
#include "data.h"

#include "graph.h"
#include "image.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* ---- errors and message helpers --------------------------------------------------------- */

static bool set_error(DataError *err, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills in *err and returns false, so callers can `return set_error(...)`. */
static bool set_error(DataError *err, int line, int col, const char *fmt, ...)
{
    va_list ap;
    err->line = line;
    err->col = col;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return false;
}

#define CLIP_MAX 32

/* Whether s starts with a control character: C0, DEL, or C1 (U+0080 to U+009F, which some
 * terminals obey as escape sequences). */
static bool is_control(const char *s)
{
    unsigned char c = (unsigned char)s[0], d = (unsigned char)s[1];
    return c < 0x20 || c == 0x7f || (c == 0xc2 && d >= 0x80 && d <= 0x9f);
}

/* Text from a data file, made fit for a message: at most CLIP_MAX bytes, cut before any
 * control character and never inside a UTF-8 sequence, with "..." where it was cut. */
static const char *clip(const char *s, char buf[CLIP_MAX + 4])
{
    size_t n = 0;
    while (n < CLIP_MAX && s[n] && !is_control(s + n)) n++;
    bool cut = s[n] != '\0';
    if (cut)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    memcpy(buf, s, n);
    strcpy(buf + n, cut ? "..." : "");
    return buf;
}

static const char *plural(long n)
{
    return n == 1 ? "" : "s";
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims spaces and tabs in place: returns the first kept byte and ends the text after the
 * last one. */
static char *trim(char *s)
{
    while (is_blank(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1])) n--;
    s[n] = '\0';
    return s;
}

/* ---- memory and time ------------------------------------------------------------------------
 * What a reader allocates grows with its file, so it is counted before it is allocated against
 * the room the caller gives (the memory limit less what the program has made already). The
 * time it takes grows with the file too: before each block it reads, it looks at the stop flag
 * (Ctrl-C). */

typedef struct Budget {
    size_t used, room;
    volatile sig_atomic_t *stop;
} Budget;

static Budget budget_of(const DataLimits *lim)
{
    Budget b = { 0, SIZE_MAX, NULL };
    if (lim) {
        b.room = lim->room;
        b.stop = lim->stop;
    }
    return b;
}

/* False, with the message, if the stop flag is set (clearing it: it has stopped something);
 * `line` of the file was read (0: not counted). */
static bool go_on(const Budget *b, DataError *err, int line)
{
    if (!b->stop || !*b->stop) return true;
    *b->stop = 0;
    if (line > 0)
        return set_error(err, 0, 0, "reading was interrupted at line %d of the file", line);
    return set_error(err, 0, 0, "reading was interrupted");
}

/* Counts `bytes` more; false (counting nothing) if that would pass the room. */
static bool budget_take(Budget *b, size_t bytes)
{
    if (bytes > b->room - b->used) return false;
    b->used += bytes;
    return true;
}

/* The message when the budget runs out, at `line` of the file (0: unknown). */
static bool over_budget(DataError *err, const Budget *b, int line)
{
    char size[32], at[48] = "";
    if (line > 0) snprintf(at, sizeof at, " (at line %d of the file)", line);
    return set_error(err, 0, 0, "reading this file would take more than the %s of memory left "
                     "under the limit%s; raise the limit with --max-memory",
                     graph_bytes_str(b->room, size), at);
}

/* The line and byte column of s + at, for text starting at line `line`, column `col`. */
static void position(const char *s, size_t at, int *line, int *col)
{
    for (size_t i = 0; i < at; i++) {
        if (s[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static bool nul_error(DataError *err, int line, int col)
{
    return set_error(err, line, col, "the file has a NUL byte here (is it a text file?)");
}

/* Reads the whole file into a new NUL-terminated buffer (the NUL is not counted in *len),
 * counted in *bud. */
static bool read_bytes(const char *path, Budget *bud, char **buf, size_t *len, DataError *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return set_error(err, 0, 0, "cannot open '%.180s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    if (!budget_take(bud, cap)) {
        fclose(f);
        return over_budget(err, bud, 0);
    }
    char *b = nn_alloc(cap);
    for (;;) {
        if (cap - n < 2) {
            if (!budget_take(bud, cap)) {
                fclose(f);
                nn_free(b);
                return over_budget(err, bud, 0);
            }
            cap *= 2;
            b = nn_realloc(b, cap);
        }
        if (!go_on(bud, err, 0)) {
            fclose(f);
            nn_free(b);
            return false;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        nn_free(b);
        return set_error(err, 0, 0, "cannot read '%.180s': %s", path, strerror(e));
    }
    fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return true;
}

/* Reads the whole file into a new NUL-terminated buffer (the NUL is not counted in *len), so
 * tokens can be cut in place even when the last one ends at the end of the file. The buffer
 * is counted in *b; a NUL byte in the file is an error. */
static bool read_file(const char *path, Budget *bud, char **buf, size_t *len, DataError *err)
{
    if (!read_bytes(path, bud, buf, len, err)) return false;
    char *b = *buf;
    const char *nul = memchr(b, '\0', *len);
    if (nul) {
        int line = 1, col = 1;
        position(b, (size_t)(nul - b), &line, &col);
        nn_free(b);
        *buf = NULL;
        *len = 0;
        return nul_error(err, line, col);
    }
    return true;
}

/* ---- CSV records ------------------------------------------------------------------------ */

typedef struct Cursor {
    char *p, *end;
    char *line_start;       /* first byte of the current line, for byte columns */
    int line;
} Cursor;

typedef struct Field {
    char *text;             /* NUL-terminated, in the file buffer (until the next record) */
    int line, col;          /* of its first non-blank byte (the opening quote if quoted;
                             * the first byte if it is blank) */
} Field;

typedef struct Record {
    Field *f;
    int n, cap;
    int line;               /* where the record starts */
    int end_line, end_col;  /* where it ends: its line break, or the end of the file */
} Record;

static void cursor_init(Cursor *c, char *buf, size_t len)
{
    c->p = buf;
    c->end = buf + len;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) c->p += 3;
    c->line_start = c->p;
    c->line = 1;
}

static int cursor_col(const Cursor *c, const char *at)
{
    return (int)(at - c->line_start) + 1;
}

/* Length of the line break at q (1 for LF, 2 for CRLF, 1 for a CR that ends the file), or 0. */
static int line_break(const Cursor *c, const char *q)
{
    if (q >= c->end) return 0;
    if (*q == '\n') return 1;
    if (*q == '\r') {
        if (q + 1 == c->end) return 1;
        if (q[1] == '\n') return 2;
    }
    return 0;
}

/* Moves past blank lines (empty or only spaces and tabs). False at the end of the file. */
static bool skip_blank_lines(Cursor *c)
{
    for (;;) {
        char *q = c->p;
        while (q < c->end && is_blank(*q)) q++;
        if (q == c->end) {
            c->p = q;
            return false;
        }
        int lb = line_break(c, q);
        if (!lb) return true;
        c->p = q + lb;
        c->line++;
        c->line_start = c->p;
    }
}

/* Adds a field; false if the budget cannot hold more (or a record has 2^30 fields). */
static bool record_push(Record *rec, Field f, Budget *bud)
{
    if (rec->n == rec->cap) {
        int cap = rec->cap ? rec->cap * 2 : 16;
        if (rec->cap >= 1 << 29 || !budget_take(bud, (size_t)(cap - rec->cap) * sizeof *rec->f))
            return false;
        rec->cap = cap;
        rec->f = nn_realloc(rec->f, (size_t)rec->cap * sizeof *rec->f);
    }
    rec->f[rec->n++] = f;
    return true;
}

/* Reads the next non-blank record into rec, cutting its fields in place (a quoted field's
 * content is unescaped over its own bytes). The buffer holds all of it (csv_fill). Returns 1,
 * 0 at the end of the file, or -1 with *err filled in. */
static int read_record(Cursor *c, Record *rec, Budget *bud, DataError *err)
{
    if (!skip_blank_lines(c)) return 0;
    rec->n = 0;
    rec->line = c->line;
    for (;;) {
        char *q = c->p;
        while (q < c->end && is_blank(*q)) q++;
        Field fld = { q, c->line, cursor_col(c, q) };
        char *text_end, *d;     /* where the text ends; the delimiter after the field */
        if (q < c->end && *q == '"') {
            char *w = q, *r = q + 1;
            for (;;) {
                if (r == c->end) {
                    set_error(err, fld.line, fld.col,
                              "the quote that opens this field is never closed");
                    return -1;
                }
                if (*r == '"') {
                    if (r + 1 < c->end && r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    r++;
                    break;
                }
                if (*r == '\n') {
                    c->line++;
                    c->line_start = r + 1;
                }
                *w++ = *r++;
            }
            text_end = w;
            d = r;
            while (d < c->end && is_blank(*d)) d++;
            if (d < c->end && *d != ',' && !line_break(c, d)) {
                set_error(err, c->line, cursor_col(c, d),
                          "text after the closing quote of a field; a quote inside a quoted "
                          "field is written \"\"");
                return -1;
            }
        } else {
            d = q;
            while (d < c->end && *d != ',' && !line_break(c, d)) d++;
            text_end = d;
            while (text_end > q && is_blank(text_end[-1])) text_end--;
            if (text_end == q) fld.col = cursor_col(c, c->p);   /* blank: where it starts */
        }
        /* Look at the delimiter before the NUL may overwrite it. */
        bool comma = d < c->end && *d == ',';
        int lb = line_break(c, d);
        *text_end = '\0';
        if (!record_push(rec, fld, bud)) {
            over_budget(err, bud, rec->line);
            return -1;
        }
        if (comma) {
            c->p = d + 1;
            continue;
        }
        rec->end_line = c->line;
        rec->end_col = cursor_col(c, d);
        c->p = d + lb;
        if (lb) {
            c->line++;
            c->line_start = c->p;
        }
        return 1;
    }
}

/* ---- reading a CSV file a record at a time ------------------------------------------------
 * The file is read in blocks into one buffer that holds at least the record being parsed: when
 * the record is not whole yet, what is left is moved to the front, the buffer grows if the
 * record is longer than it (counted), and more is read. So memory follows the longest record,
 * not the file, and a file without an end (a pipe, /dev/zero) stops at the limit. */

enum { CSV_BLOCK = 1 << 16 };

typedef struct Csv {
    FILE *f;
    char *buf;              /* cap bytes; [c.line_start, c.end) is unparsed, NUL after it */
    size_t cap;
    bool eof;
    Cursor c;
    Budget *bud;
} Csv;

/* How many bytes from p the next record takes with its line break, after any blank lines
 * before it (so that read_record only looks at bytes in the buffer): 0 if the buffer does not
 * hold all of it and more of the file can be read; at the end of the file, all that is left.
 * Follows read_record's rules: a field quoted from its first non-blank byte runs to a lone '"'
 * (its line breaks are data); a line ends at LF, CRLF, or a CR that ends the file. */
static size_t record_extent(const char *p, const char *end, bool eof)
{
    const size_t more = 0, all = (size_t)(end - p);
    const char *q = p;
    for (;;) {      /* blank lines */
        while (q < end && is_blank(*q)) q++;
        if (q == end) return eof ? all : more;
        if (*q == '\n') {
            q++;
        } else if (*q == '\r') {
            if (q + 1 == end) return eof ? all : more;
            if (q[1] != '\n') break;
            q += 2;
        } else {
            break;
        }
    }
    for (;;) {      /* fields */
        while (q < end && is_blank(*q)) q++;
        if (q < end && *q == '"') {
            for (q++;; q++) {
                if (q == end || (*q == '"' && q + 1 == end)) return eof ? all : more;
                if (*q == '"' && q[1] == '"') q++;
                else if (*q == '"') break;
            }
            q++;
        }
        for (;; q++) {  /* to the field's end: after a quote, text that read_record refuses */
            if (q == end) return eof ? all : more;
            if (*q == ',' || *q == '\n') break;
            if (*q == '\r') {
                if (q + 1 == end) return eof ? all : more;
                if (q[1] == '\n') break;
            }
        }
        if (*q == ',') {
            q++;
            continue;
        }
        return (size_t)(q + (*q == '\r' ? 2 : 1) - p);
    }
}

/* Makes sure the buffer holds the next record whole (or the rest of the file), reading more
 * and growing the buffer as needed. A NUL byte read is an error at once (the parser cuts
 * fields at NULs, and /dev/zero has no line ends). Returns false with *err filled in. */
static bool csv_fill(Csv *r, const char *path, DataError *err)
{
    Cursor *c = &r->c;
    for (;;) {
        if (record_extent(c->p, c->end, r->eof) || r->eof) return true;
        /* keep the current line (for columns), move it to the front, read more */
        size_t keep = (size_t)(c->end - c->line_start), at = (size_t)(c->p - c->line_start);
        memmove(r->buf, c->line_start, keep);
        if (keep + 1 >= r->cap) {
            if (!budget_take(r->bud, r->cap)) return over_budget(err, r->bud, c->line);
            r->cap *= 2;
            r->buf = nn_realloc(r->buf, r->cap);
        }
        c->line_start = r->buf;
        c->p = r->buf + at;
        if (!go_on(r->bud, err, c->line)) return false;
        size_t want = r->cap - keep - 1, got = fread(r->buf + keep, 1, want, r->f);
        if (ferror(r->f))
            return set_error(err, 0, 0, "cannot read '%.180s': %s", path, strerror(errno));
        r->eof = got < want;
        c->end = r->buf + keep + got;
        *c->end = '\0';
        const char *nul = memchr(c->end - got, '\0', got);  /* at once: a line may never end */
        if (nul) {
            int line = c->line, col = cursor_col(c, c->p);
            position(c->p, (size_t)(nul - c->p), &line, &col);
            return nul_error(err, line, col);
        }
    }
}

/* Opens path and reads its first block. False with *err filled in. */
static bool csv_open(Csv *r, const char *path, Budget *bud, DataError *err)
{
    memset(r, 0, sizeof *r);
    r->bud = bud;
    FILE *f = fopen(path, "rb");
    if (!f) return set_error(err, 0, 0, "cannot open '%.180s': %s", path, strerror(errno));
    r->f = f;
    if (!budget_take(bud, CSV_BLOCK)) return over_budget(err, bud, 0);
    r->cap = CSV_BLOCK;
    r->buf = nn_alloc(r->cap);
    size_t want = r->cap - 1, got = fread(r->buf, 1, want, f);
    if (ferror(f)) return set_error(err, 0, 0, "cannot read '%.180s': %s", path, strerror(errno));
    r->eof = got < want;
    r->buf[got] = '\0';
    cursor_init(&r->c, r->buf, got);
    const char *nul = memchr(r->buf, '\0', got);
    if (nul) {
        int line = 1, col = 1;
        if (nul >= r->c.p) position(r->c.p, (size_t)(nul - r->c.p), &line, &col);
        return nul_error(err, line, col);
    }
    return true;
}

static void csv_close(Csv *r)
{
    if (r->f) fclose(r->f);
    nn_free(r->buf);
}

/* The next record, whole: csv_fill, then read_record. */
static int csv_record(Csv *r, const char *path, Record *rec, DataError *err)
{
    if (!csv_fill(r, path, err)) return -1;
    return read_record(&r->c, rec, r->bud, err);
}

/* ---- CSV values ------------------------------------------------------------------------- */

enum { NUM_OK, NUM_EMPTY, NUM_NOT_NUMBER, NUM_NOT_FINITE, NUM_TOO_LARGE };

/* Parses a whole field (surrounding spaces and tabs allowed) as a finite float. */
static int parse_number(const char *s, float *out)
{
    while (is_blank(*s)) s++;
    if (!*s) return NUM_EMPTY;
    char *e;
    double v = strtod(s, &e);
    if (e == s) return NUM_NOT_NUMBER;
    while (is_blank(*e)) e++;
    if (*e) return NUM_NOT_NUMBER;
    if (!isfinite(v)) return NUM_NOT_FINITE;
    if (!isfinite((float)v)) return NUM_TOO_LARGE;
    *out = (float)v;
    return NUM_OK;
}

/* Optional sign, then decimal digits only (spaces and tabs around allowed). */
static bool is_integer_text(const char *s)
{
    while (is_blank(*s)) s++;
    if (*s == '+' || *s == '-') s++;
    if (*s < '0' || *s > '9') return false;
    while (*s >= '0' && *s <= '9') s++;
    while (is_blank(*s)) s++;
    return *s == '\0';
}

static bool number_error(DataError *err, const Field *f, const char *text, const char *column,
                         int status)
{
    char a[CLIP_MAX + 4], b[CLIP_MAX + 4];
    clip(column, b);
    switch (status) {
    case NUM_EMPTY:
        return set_error(err, f->line, f->col, "empty field in column '%s'", b);
    case NUM_NOT_NUMBER:
        return set_error(err, f->line, f->col, "'%s' in column '%s' is not a number",
                         clip(text, a), b);
    case NUM_NOT_FINITE:
        return set_error(err, f->line, f->col, "'%s' in column '%s' is not a finite number",
                         clip(text, a), b);
    default:
        return set_error(err, f->line, f->col,
                         "'%s' in column '%s' is too large for a 32-bit float", clip(text, a),
                         b);
    }
}

/* Appends to a fixed buffer, silently cutting what does not fit. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

/* "no column named 'x'; the columns are a, b, c"; a long list keeps its first three and last
 * two names: "p0, p1, p2, ..., p63, digit (65 columns)". */
static bool no_column_error(DataError *err, int line, const char *target, const Field *hdr,
                            int n)
{
    char t[CLIP_MAX + 4], name[CLIP_MAX + 4], list[200];
    size_t len = 0, total = 0;
    for (int i = 0; i < n; i++) total += strlen(hdr[i].text) + 2;
    bool elide = total >= sizeof list && n > 5;
    list[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (elide && i == 3) {
            append(list, sizeof list, &len, ", ...");
            i = n - 3;
            continue;
        }
        /* clipped like every quoted text: a quoted name may hold a newline */
        append(list, sizeof list, &len, "%s%s", i ? ", " : "", clip(hdr[i].text, name));
    }
    if (elide) append(list, sizeof list, &len, " (%d columns)", n);
    return set_error(err, line, 1, "no column named '%s'; the columns are %s", clip(target, t),
                     list);
}

typedef struct ClassKey {
    const char *text;       /* the target text (trimmed for integer classes) */
    size_t len;
    double value;           /* integer classes only */
    int row;
} ClassKey;

static int cmp_key_value(const void *pa, const void *pb)
{
    const ClassKey *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

static int cmp_key_text(const void *pa, const void *pb)
{
    const ClassKey *a = pa, *b = pb;
    int c = strcmp(a->text, b->text);
    if (c) return c;
    return (a->row > b->row) - (a->row < b->row);
}

/* The target's texts, one per row, copied out of the buffer as the rows are read: texts[i] at
 * offset at[i] of `chars`, from line[i], col[i] of the file. All counted. */
typedef struct Targets {
    char *chars;
    size_t len, cap;
    size_t *at;
    int *line, *col;
    size_t rows_cap;
} Targets;

static void targets_free(Targets *t)
{
    nn_free(t->chars);
    nn_free(t->at);
    nn_free(t->line);
    nn_free(t->col);
}

/* Field f's text as the target of row `row`. False if the budget cannot hold it. */
static bool targets_add(Targets *t, int row, const Field *f, Budget *bud)
{
    size_t n = strlen(f->text) + 1;
    if ((size_t)row == t->rows_cap) {
        size_t cap = t->rows_cap ? 2 * t->rows_cap : 256;
        if (!budget_take(bud, (cap - t->rows_cap) * (sizeof *t->at + 2 * sizeof(int))))
            return false;
        t->rows_cap = cap;
        t->at = nn_realloc(t->at, cap * sizeof *t->at);
        t->line = nn_realloc(t->line, cap * sizeof *t->line);
        t->col = nn_realloc(t->col, cap * sizeof *t->col);
    }
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n) cap *= 2;
        if (!budget_take(bud, cap - t->cap)) return false;
        t->chars = nn_realloc(t->chars, cap);
        t->cap = cap;
    }
    memcpy(t->chars + t->len, f->text, n);
    t->at[row] = t->len;
    t->line[row] = f->line;
    t->col[row] = f->col;
    t->len += n;
    return true;
}

/* Row i's target as a Field, for messages. */
static Field target_field(const Targets *t, int i)
{
    return (Field){ t->chars + t->at[i], t->line[i], t->col[i] };
}

/* Turns the target texts (one per row, each non-empty) into out->Y and the class list, by the
 * rules in data.h, counting what it allocates. Can fail for a numeric target with an infinite
 * value, and when the budget runs out (one-hot Y takes rows × classes floats). */
static bool build_targets(Dataset *out, const Targets *tv, const char *column, Budget *bud,
                          DataError *err)
{
    int rows = out->rows;
    bool all_int = true, all_num = true;
    for (int i = 0; i < rows && all_num; i++) {
        float v;
        const char *text = tv->chars + tv->at[i];
        int st = parse_number(text, &v);
        if (st == NUM_NOT_NUMBER) all_num = false;
        if (!is_integer_text(text)) all_int = false;
    }
    if (all_num && !all_int) {
        if (!budget_take(bud, (size_t)rows * sizeof(float))) return over_budget(err, bud, 0);
        out->targets = 1;
        out->n_classes = 0;
        out->Y = nn_alloc((size_t)rows * sizeof(float));
        for (int i = 0; i < rows; i++) {
            Field f = target_field(tv, i);
            int st = parse_number(f.text, &out->Y[i]);
            if (st != NUM_OK) return number_error(err, &f, trim(f.text), column, st);
        }
        return true;
    }

    if (!budget_take(bud, (size_t)rows * (sizeof(ClassKey) + sizeof(int) + sizeof(char *))))
        return over_budget(err, bud, 0);
    ClassKey *keys = nn_alloc((size_t)rows * sizeof *keys);
    for (int i = 0; i < rows; i++) {
        keys[i].text = tv->chars + tv->at[i];
        keys[i].row = i;
        keys[i].value = 0;
        if (all_int) {
            keys[i].text = trim(tv->chars + tv->at[i]);
            keys[i].value = strtod(keys[i].text, NULL);
        }
        keys[i].len = strlen(keys[i].text);
    }
    qsort(keys, (size_t)rows, sizeof *keys, all_int ? cmp_key_value : cmp_key_text);

    int *cls = nn_alloc((size_t)rows * sizeof *cls);
    int k = 0;
    out->class_names = nn_alloc((size_t)rows * sizeof *out->class_names);
    bool fits = true;
    for (int i = 0; i < rows; i++) {
        bool same = i > 0 && (all_int ? keys[i].value == keys[i - 1].value
                                      : strcmp(keys[i].text, keys[i - 1].text) == 0);
        if (!same && fits) {
            fits = budget_take(bud, keys[i].len + 1);
            out->class_names[k++] = fits ? nn_strndup(keys[i].text, keys[i].len) : NULL;
        }
        cls[keys[i].row] = k - 1;
    }
    out->n_classes = k;
    size_t y = (size_t)rows * (size_t)k;
    fits = fits && y / (size_t)k == (size_t)rows && y <= SIZE_MAX / sizeof(float)
           && budget_take(bud, y * sizeof(float));
    if (fits) {
        out->class_names = nn_realloc(out->class_names, (size_t)k * sizeof *out->class_names);
        out->targets = k;
        out->Y = nn_calloc(y, sizeof(float));
        for (int i = 0; i < rows; i++) out->Y[(size_t)i * (size_t)k + (size_t)cls[i]] = 1.0f;
    }
    nn_free(cls);
    nn_free(keys);
    return fits ? true : over_budget(err, bud, 0);
}

/* A header name, copied out of the buffer (the header's Field points at the copy). */
typedef struct NameRef {
    const char *name;
    int col;                /* the column: 0-based */
} NameRef;

static int cmp_nameref(const void *pa, const void *pb)
{
    const NameRef *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    return (a->col > b->col) - (a->col < b->col);
}

/* Checks the header's names: the first column (in file order) with no name or whose name an
 * earlier column has, reported as the all-pairs check would, in O(n log n) (a sort of the names
 * with their columns). Sets *target to the target's column (-1 if none). */
static bool check_header(const Field *hdr, int ncols, const char *target, int *t,
                         DataError *err)
{
    int bad = ncols;        /* the first column that is wrong */
    bool empty = false;
    for (int i = 0; i < ncols && bad == ncols; i++)
        if (!hdr[i].text[0]) {
            bad = i;
            empty = true;
        }
    NameRef *refs = nn_alloc((size_t)(ncols ? ncols : 1) * sizeof *refs);
    for (int i = 0; i < ncols; i++) refs[i] = (NameRef){ hdr[i].text, i };
    qsort(refs, (size_t)ncols, sizeof *refs, cmp_nameref);
    for (int i = 1; i < ncols; i++)     /* in each run of equal names, its second column */
        if (strcmp(refs[i].name, refs[i - 1].name) == 0 && refs[i].name[0]
            && (i < 2 || strcmp(refs[i - 1].name, refs[i - 2].name) != 0) && refs[i].col < bad) {
            bad = refs[i].col;
            empty = false;
        }
    nn_free(refs);
    *t = -1;
    for (int i = 0; i < ncols && *t < 0; i++)
        if (strcmp(hdr[i].text, target) == 0) *t = i;
    if (bad == ncols) return true;
    char a[CLIP_MAX + 4];
    if (empty)
        return set_error(err, hdr[bad].line, hdr[bad].col, "column %d of the header has no name",
                         bad + 1);
    return set_error(err, hdr[bad].line, hdr[bad].col,
                     "the column name '%s' appears twice in the header", clip(hdr[bad].text, a));
}

/* What parse_csv owns, freed by data_read_csv whatever happens. */
typedef struct CsvParts {
    Record rec;
    Field *hdr;
    int ncols;
    Targets tv;
} CsvParts;

/* The body of data_read_csv. */
static bool parse_csv(Csv *r, const char *path, const char *target, Dataset *out,
                      CsvParts *pt, DataError *err)
{
    Budget *bud = r->bud;
    Record *rec = &pt->rec;
    int rc = csv_record(r, path, rec, err);
    if (rc < 0) return false;
    if (rc == 0) return set_error(err, 0, 0, "the file is empty");

    int ncols = rec->n, header_line = rec->line;
    if (!budget_take(bud, (size_t)ncols * sizeof *pt->hdr)) return over_budget(err, bud, 1);
    Field *hdr = pt->hdr = nn_alloc((size_t)ncols * sizeof *hdr);
    for (int i = 0; i < ncols; i++) {   /* copied: the buffer moves on */
        size_t n = strlen(rec->f[i].text);
        if (!budget_take(bud, n + 1)) return over_budget(err, bud, 1);
        hdr[i] = rec->f[i];
        hdr[i].text = nn_strndup(rec->f[i].text, n);
        pt->ncols = i + 1;
    }
    int t;
    if (!check_header(hdr, ncols, target, &t, err)) return false;
    if (t < 0) return no_column_error(err, header_line, target, hdr, ncols);
    if (ncols == 1) {
        char a[CLIP_MAX + 4];
        return set_error(err, header_line, 1,
                         "the target '%s' is the only column; there are no feature columns",
                         clip(target, a));
    }

    int nf = ncols - 1;
    if (!budget_take(bud, (size_t)nf * sizeof *out->feature_names))
        return over_budget(err, bud, 1);
    out->features = nf;
    out->feature_names = nn_alloc((size_t)nf * sizeof *out->feature_names);
    for (int i = 0, j = 0; i < ncols; i++)      /* the header's copies, counted already */
        if (i != t) out->feature_names[j++] = nn_strndup(hdr[i].text, strlen(hdr[i].text));
    out->target_name = nn_strndup(target, strlen(target));

    size_t cap = 0;
    int rows = 0;
    while ((rc = csv_record(r, path, rec, err)) > 0) {
        if (rec->n != ncols) {
            int line = rec->n > ncols ? rec->f[ncols].line : rec->end_line;
            int col = rec->n > ncols ? rec->f[ncols].col : rec->end_col;
            return set_error(err, line, col, "row has %d field%s, the header has %d", rec->n,
                             plural(rec->n), ncols);
        }
        if (rows == 0x7ffffffe)
            return set_error(err, rec->line, 1, "the file has more than %d rows", rows);
        if ((size_t)rows == cap) {
            size_t grown = cap ? cap * 2 : 256;
            if (grown > (SIZE_MAX / sizeof(float)) / (size_t)nf
                || !budget_take(bud, (grown - cap) * (size_t)nf * sizeof(float)))
                return over_budget(err, bud, rec->line);
            cap = grown;
            out->X = nn_realloc(out->X, cap * (size_t)nf * sizeof(float));
        }
        float *x = out->X + (size_t)rows * (size_t)nf;
        for (int i = 0; i < ncols; i++) {
            Field *f = &rec->f[i];
            if (i == t) {
                const char *s = f->text;
                while (is_blank(*s)) s++;
                if (!*s) return number_error(err, f, "", target, NUM_EMPTY);
                if (!targets_add(&pt->tv, rows, f, bud)) return over_budget(err, bud, f->line);
                continue;
            }
            int st = parse_number(f->text, x++);
            if (st != NUM_OK) return number_error(err, f, trim(f->text), hdr[i].text, st);
        }
        rows++;
    }
    if (rc < 0) return false;
    if (rows == 0) return set_error(err, 0, 0, "the file has a header but no rows");
    out->rows = rows;
    out->X = nn_realloc(out->X, (size_t)rows * (size_t)nf * sizeof(float));
    return build_targets(out, &pt->tv, target, bud, err);
}

bool data_read_csv(const char *path, const char *target, const DataLimits *lim, Dataset *out,
                   DataError *err)
{
    NN_ASSERT(path && target && out && err);
    memset(out, 0, sizeof *out);
    Budget bud = budget_of(lim);
    Csv r;
    CsvParts pt;
    memset(&pt, 0, sizeof pt);
    bool ok = csv_open(&r, path, &bud, err) && parse_csv(&r, path, target, out, &pt, err);
    csv_close(&r);
    targets_free(&pt.tv);
    for (int i = 0; i < pt.ncols; i++) nn_free(pt.hdr[i].text);
    nn_free(pt.hdr);
    nn_free(pt.rec.f);
    if (!ok) data_free(out);
    return ok;
}

/* ---- row-index files -------------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool parse_indices(char *p, char *end, int max_row, bool *seen, int **idx, int *n,
                          DataError *err)
{
    char *line_start = p;
    int line = 1, cap = 0;
    while (p < end) {
        if (*p == '\n') {
            line++;
            line_start = ++p;
            continue;
        }
        if (is_space(*p)) {
            p++;
            continue;
        }
        char *q = p;
        while (q < end && !is_space(*q)) q++;
        char saved = *q, a[CLIP_MAX + 4];
        *q = '\0';
        int col = (int)(p - line_start) + 1;
        long long v = 0;
        bool digits = true;
        for (char *s = p; *s; s++) {
            if (*s < '0' || *s > '9') {
                digits = false;
                break;
            }
            if (v <= max_row) v = v * 10 + (*s - '0');
        }
        if (!digits) return set_error(err, line, col, "'%s' is not a row index", clip(p, a));
        if (v >= max_row)
            return set_error(err, line, col, "row %s is out of range: the data set has %d row%s",
                             clip(p, a), max_row, plural(max_row));
        if (seen[v]) return set_error(err, line, col, "row %lld is listed twice", v);
        seen[v] = true;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            *idx = nn_realloc(*idx, (size_t)cap * sizeof **idx);
        }
        (*idx)[(*n)++] = (int)v;
        *q = saved;
        p = q;
    }
    if (*n == 0) return set_error(err, 0, 0, "the file lists no rows");
    return true;
}

bool data_read_indices(const char *path, int max_row, const DataLimits *lim, int **out,
                       int *count, DataError *err)
{
    NN_ASSERT(path && out && count && err && max_row >= 0);
    *out = NULL;
    *count = 0;
    char *buf;
    size_t len;
    Budget bud = budget_of(lim);
    if (!read_file(path, &bud, &buf, &len, err)) return false;
    char *p = buf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) p += 3;
    bool *seen = nn_calloc((size_t)max_row + 1, sizeof *seen);
    int *idx = NULL, n = 0;
    bool ok = parse_indices(p, buf + len, max_row, seen, &idx, &n, err);
    nn_free(seen);
    nn_free(buf);
    if (!ok) {
        nn_free(idx);
        return false;
    }
    *out = nn_realloc(idx, (size_t)n * sizeof *idx);
    *count = n;
    return true;
}

/* ---- folders of images ------------------------------------------------------------------ */

/* One file of an image folder: its name ("FOLDER/CLASS/FILE", for opening and messages) and
 * its class. */
typedef struct ImageFile {
    char *path;
    int cls;
} ImageFile;

/* What data_read_images gathers: the classes, then the files, then the pixels. */
typedef struct ImageFolder {
    const Sandbox *sb;
    char *root;             /* the folder as given, less trailing slashes, owned */
    Budget bud;
    DataError *err;
    char **classes;         /* class folder names, owned */
    int n_classes, cap_classes;
    ImageFile *files;       /* owned */
    int n_files, cap_files;
    int dims[3];            /* C, H, W of the first image */
} ImageFolder;

/* "a/b" in a new string ("/b" when a is "/"). */
static char *path_join(const char *a, const char *b)
{
    size_t na = strcmp(a, "/") == 0 ? 0 : strlen(a), nb = strlen(b);
    char *p = nn_alloc(na + nb + 2);
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

static bool images_over_budget(ImageFolder *f)
{
    char size[32];
    return set_error(f->err, 0, 0, "reading these images would take more than the %s of memory "
                     "left under the limit; raise the limit with --max-memory",
                     graph_bytes_str(f->bud.room, size));
}

/* Lists the folder `path` (a message on failure). */
static bool images_list(ImageFolder *f, const char *path, SandboxList *list)
{
    char why[768];
    if (sandbox_list(f->sb, path, list, why, sizeof why)) return true;
    return set_error(f->err, 0, 0, "cannot open '%s': %s", path, why);
}

/* The class folders: the sub-folders of the root, in byte order. */
static bool images_classes(ImageFolder *f)
{
    SandboxList list;
    if (!images_list(f, f->root, &list)) return false;
    bool ok = true;
    for (int i = 0; ok && i < list.count; i++) {
        const SandboxEntry *e = &list.items[i];
        if (e->name[0] == '.' || (e->kind != SANDBOX_DIR && e->kind != SANDBOX_REFUSED)) continue;
        char *path = path_join(f->root, e->name);
        if (e->kind == SANDBOX_REFUSED)
            ok = set_error(f->err, 0, 0, "cannot open '%s': %s", path, e->why);
        else if (!budget_take(&f->bud, strlen(e->name) + 1 + sizeof(char *)))
            ok = images_over_budget(f);
        nn_free(path);
        if (!ok || e->kind != SANDBOX_DIR) continue;
        if (f->n_classes == f->cap_classes) {
            f->cap_classes = f->cap_classes ? 2 * f->cap_classes : 16;
            f->classes = nn_realloc(f->classes, (size_t)f->cap_classes * sizeof *f->classes);
        }
        f->classes[f->n_classes++] = nn_strndup(e->name, strlen(e->name));
    }
    sandbox_list_free(&list);
    if (ok && f->n_classes == 0)
        ok = set_error(f->err, 0, 0, "'%s' has no class folders: 'images' reads one sub-folder "
                       "per class, each holding the images of its class", f->root);
    return ok;
}

/* Adds the file `path` (taken) of class `cls`. */
static bool images_add(ImageFolder *f, char *path, int cls)
{
    if (f->n_files == INT_MAX - 1) {
        nn_free(path);
        return set_error(f->err, 0, 0, "'%s' holds more than %d images", f->root, INT_MAX - 1);
    }
    if (!budget_take(&f->bud, strlen(path) + 1 + sizeof(ImageFile))) {
        nn_free(path);
        return images_over_budget(f);
    }
    if (f->n_files == f->cap_files) {
        f->cap_files = f->cap_files ? 2 * f->cap_files : 64;
        f->files = nn_realloc(f->files, (size_t)f->cap_files * sizeof *f->files);
    }
    f->files[f->n_files++] = (ImageFile){ path, cls };
    return true;
}

/* The files of class folder `cls`, in byte order: every entry must be a file. */
static bool images_files(ImageFolder *f, int cls)
{
    char *folder = path_join(f->root, f->classes[cls]);
    SandboxList list;
    bool ok = images_list(f, folder, &list);
    int before = f->n_files;
    for (int i = 0; ok && i < list.count; i++) {
        const SandboxEntry *e = &list.items[i];
        if (e->name[0] == '.') continue;
        char *path = path_join(folder, e->name);
        if (e->kind == SANDBOX_FILE) {
            ok = images_add(f, path, cls);
            continue;
        }
        if (e->kind == SANDBOX_DIR)
            set_error(f->err, 0, 0, "'%s' is a folder: a class folder holds only images, one "
                      "file each", path);
        else
            set_error(f->err, 0, 0, "cannot open '%s': %s", path, e->why);
        nn_free(path);
        ok = false;
    }
    if (ok && f->n_files == before)
        ok = set_error(f->err, 0, 0, "the class folder '%s' has no images", folder);
    sandbox_list_free(&list);
    nn_free(folder);
    return ok;
}

/* Reads and decodes file i into *img; the budget is as before when it returns. */
static bool images_decode(ImageFolder *f, int i, Image *img)
{
    const char *name = f->files[i].path;
    SandboxFile opened;
    char why[768];
    if (!sandbox_read(f->sb, name, &opened, why, sizeof why))
        return set_error(f->err, 0, 0, "cannot open '%s': %s", name, why);
    size_t used = f->bud.used, len;
    char *bytes;
    bool ok = read_bytes(opened.path, &f->bud, &bytes, &len, f->err);
    sandbox_done(&opened, ok ? NULL : f->err->msg, sizeof f->err->msg);
    if (ok) {
        char msg[512];
        ok = image_decode((const unsigned char *)bytes, len, f->bud.room - f->bud.used, img,
                          msg, sizeof msg);
        if (!ok) set_error(f->err, 0, 0, "cannot read the image '%s': %s", name, msg);
        nn_free(bytes);
    }
    f->bud.used = used;
    return ok;
}

/* Stores image i (of the size of the first) as row i of out. */
static bool images_store(ImageFolder *f, int i, const Image *img, Dataset *out)
{
    int *d = f->dims;
    if (img->channels != d[0] && img->height == d[1] && img->width == d[2])
        return set_error(f->err, 0, 0, "'%s' is %s (%d channel%s), but '%s' is %s (%d): all "
                         "images must be of one kind, gray or colour; convert them",
                         f->files[i].path, img->channels == 1 ? "gray" : "colour",
                         img->channels, img->channels == 1 ? "" : "s", f->files[0].path,
                         d[0] == 1 ? "gray" : "colour", d[0]);
    if (img->channels != d[0] || img->height != d[1] || img->width != d[2])
        return set_error(f->err, 0, 0, "'%s' is %d x %d x %d (channels x height x width), but "
                         "'%s' is %d x %d x %d: all images must have the same size",
                         f->files[i].path, img->channels, img->height, img->width,
                         f->files[0].path, d[0], d[1], d[2]);
    memcpy(out->X + (size_t)i * (size_t)out->features, img->pixels,
           (size_t)out->features * sizeof(float));
    out->Y[(size_t)i * (size_t)out->targets + (size_t)f->files[i].cls] = 1;
    return true;
}

/* Makes X and Y for the rows, each of the first image's size. */
static bool images_alloc(ImageFolder *f, const Image *first, Dataset *out)
{
    f->dims[0] = first->channels;
    f->dims[1] = first->height;
    f->dims[2] = first->width;
    out->rows = f->n_files;
    out->features = first->channels * first->height * first->width;
    out->targets = f->n_classes;
    double x = (double)out->rows * out->features, y = (double)out->rows * out->targets;
    double pixels = (double)out->features;
    if ((x + y + pixels) * sizeof(float) > (double)(f->bud.room - f->bud.used))
        return images_over_budget(f);
    f->bud.used += (size_t)(x + y) * sizeof(float);
    out->X = nn_alloc((size_t)x * sizeof(float));
    out->Y = nn_calloc((size_t)y, sizeof(float));
    return true;
}

/* Decodes every file into out's rows. */
static bool images_read(ImageFolder *f, Dataset *out)
{
    for (int i = 0; i < f->n_files; i++) {
        if (f->bud.stop && *f->bud.stop) {
            *f->bud.stop = 0;
            return set_error(f->err, 0, 0, "reading was interrupted at image %d of %d", i + 1,
                             f->n_files);
        }
        Image img;
        if (!images_decode(f, i, &img)) return false;
        bool ok = (i > 0 || images_alloc(f, &img, out)) && images_store(f, i, &img, out);
        image_free(&img);
        if (!ok) return false;
    }
    return true;
}

static void images_free(ImageFolder *f)
{
    for (int i = 0; i < f->n_files; i++) nn_free(f->files[i].path);
    for (int i = 0; i < f->n_classes; i++) nn_free(f->classes[i]);
    nn_free(f->files);
    nn_free(f->classes);
    nn_free(f->root);
}

bool data_read_images(const Sandbox *sb, const char *folder, const DataLimits *lim,
                      Dataset *out, int dims[3], DataError *err)
{
    memset(out, 0, sizeof *out);
    ImageFolder f = { .sb = sb, .bud = budget_of(lim), .err = err };
    size_t len = strlen(folder);
    while (len > 1 && folder[len - 1] == '/') len--;
    f.root = nn_strndup(folder, len);
    bool ok = images_classes(&f);
    for (int c = 0; ok && c < f.n_classes; c++) ok = images_files(&f, c);
    ok = ok && images_read(&f, out);
    if (ok) {
        memcpy(dims, f.dims, sizeof f.dims);
        out->class_names = f.classes;   /* taken */
        out->n_classes = f.n_classes;
        f.classes = NULL;
        f.n_classes = 0;
    } else {
        data_free(out);
    }
    images_free(&f);
    return ok;
}

/* ---- data sets in memory ---------------------------------------------------------------- */

void data_free(Dataset *d)
{
    if (!d) return;
    if (d->feature_names)
        for (int i = 0; i < d->features; i++) nn_free(d->feature_names[i]);
    if (d->class_names)
        for (int i = 0; i < d->n_classes; i++) nn_free(d->class_names[i]);
    nn_free(d->feature_names);
    nn_free(d->class_names);
    nn_free(d->target_name);
    nn_free(d->X);
    nn_free(d->Y);
    memset(d, 0, sizeof *d);
}

static char *dup_or_null(const char *s)
{
    return s ? nn_strndup(s, strlen(s)) : NULL;
}

static char **dup_names(char *const *names, int n)
{
    if (!names) return NULL;
    char **r = nn_alloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    for (int i = 0; i < n; i++) r[i] = dup_or_null(names[i]);
    return r;
}

/* Copies everything but the rows into a new data set of `rows` rows (X and Y uninitialised). */
static void copy_shape(const Dataset *d, int rows, Dataset *out)
{
    memset(out, 0, sizeof *out);
    out->rows = rows;
    out->features = d->features;
    out->targets = d->targets;
    out->n_classes = d->n_classes;
    out->X = nn_alloc((size_t)rows * (size_t)d->features * sizeof(float));
    out->Y = nn_alloc((size_t)rows * (size_t)d->targets * sizeof(float));
    out->feature_names = dup_names(d->feature_names, d->features);
    out->target_name = dup_or_null(d->target_name);
    out->class_names = dup_names(d->class_names, d->n_classes);
}

void data_subset(const Dataset *d, const int *rows, int count, Dataset *out)
{
    NN_ASSERT(d && out && count >= 0 && (rows || count == 0));
    copy_shape(d, count, out);
    size_t nf = (size_t)d->features, nt = (size_t)d->targets;
    for (int i = 0; i < count; i++) {
        int r = rows[i];
        NN_ASSERT(r >= 0 && r < d->rows);
        memcpy(out->X + (size_t)i * nf, d->X + (size_t)r * nf, nf * sizeof(float));
        memcpy(out->Y + (size_t)i * nt, d->Y + (size_t)r * nt, nt * sizeof(float));
    }
}

/* An unbiased integer in [0, n): rejects the 2^32 mod n lowest draws, as pcg32_boundedrand
 * does, so every result is equally likely. */
static uint32_t rng_below(Rng *rng, uint32_t n)
{
    NN_ASSERT(n > 0);
    uint32_t threshold = (uint32_t)(0u - n) % n;
    for (;;) {
        uint32_t r = rng_u32(rng);
        if (r >= threshold) return r % n;
    }
}

void data_split(const Dataset *d, double fraction, Rng *rng, Dataset *a, Dataset *b)
{
    NN_ASSERT(d && rng && a && b && fraction > 0 && fraction < 1);
    int n = d->rows;
    int *perm = nn_alloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint32_t)i + 1);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    int na = (int)lround(fraction * n);
    data_subset(d, perm, na, a);
    data_subset(d, perm + na, n - na, b);
    nn_free(perm);
}

void data_split_rows(const Dataset *d, const int *idx, int count, Dataset *a, Dataset *b)
{
    NN_ASSERT(d && a && b && count >= 0 && count <= d->rows && (idx || count == 0));
    bool *in_b = nn_calloc((size_t)d->rows + 1, sizeof *in_b);
    for (int i = 0; i < count; i++) {
        NN_ASSERT(idx[i] >= 0 && idx[i] < d->rows);
        NN_ASSERT(!in_b[idx[i]]);
        in_b[idx[i]] = true;
    }
    int *rest = nn_alloc((size_t)(d->rows - count + 1) * sizeof *rest);
    int n = 0;
    for (int i = 0; i < d->rows; i++)
        if (!in_b[i]) rest[n++] = i;
    data_subset(d, rest, n, a);
    data_subset(d, idx, count, b);
    nn_free(rest);
    nn_free(in_b);
}

void data_feature_stats(const Dataset *stats_from, float *mean, float *std)
{
    const Dataset *d = stats_from;
    NN_ASSERT(d && mean && std);
    size_t nf = (size_t)d->features;
    for (size_t j = 0; j < nf; j++) {
        double sum = 0, ss = 0;
        for (int i = 0; i < d->rows; i++) sum += d->X[(size_t)i * nf + j];
        double m = d->rows > 0 ? sum / d->rows : 0;
        for (int i = 0; i < d->rows; i++) {
            double dev = d->X[(size_t)i * nf + j] - m;
            ss += dev * dev;
        }
        float s = d->rows > 0 ? (float)sqrt(ss / d->rows) : 0;
        mean[j] = (float)m;
        std[j] = s > 0 ? s : 1.0f;     /* (a deviation below float's range is 0 too) */
    }
}

void data_apply_normalize(Dataset *d, const float *mean, const float *std)
{
    NN_ASSERT(d && mean && std);
    size_t nf = (size_t)d->features;
    for (int i = 0; i < d->rows; i++)
        for (size_t j = 0; j < nf; j++) {
            float *x = &d->X[(size_t)i * nf + j];
            *x = (*x - mean[j]) / std[j];
        }
}

/* ---- toy sets --------------------------------------------------------------------------- */

/* Allocates a toy set of n points in the plane and k classes: a 0/1 column when binary, else
 * one-hot (Y zeroed). */
static void toy_init(Dataset *out, int n, int k, bool binary, double noise)
{
    NN_ASSERT(out && n >= 1 && k >= 2 && k <= 1000 && noise >= 0 && isfinite(noise));
    memset(out, 0, sizeof *out);
    out->rows = n;
    out->features = 2;
    out->targets = binary ? 1 : k;
    out->n_classes = k;
    out->X = nn_calloc((size_t)n * 2, sizeof(float));
    out->Y = nn_calloc((size_t)n * (size_t)out->targets, sizeof(float));
    out->feature_names = nn_alloc(2 * sizeof *out->feature_names);
    out->feature_names[0] = nn_strndup("x1", 2);
    out->feature_names[1] = nn_strndup("x2", 2);
    out->class_names = nn_alloc((size_t)k * sizeof *out->class_names);
    for (int c = 0; c < k; c++) {
        char name[16];
        int len = snprintf(name, sizeof name, "%d", c);
        out->class_names[c] = nn_strndup(name, (size_t)len);
    }
}

/* Points of class c when n points are shared out over k classes as evenly as possible. */
static int class_size(int n, int k, int c)
{
    return n / k + (c < n % k ? 1 : 0);
}

/* Stores point i: the clean point (x1, x2) plus noise, and its label. */
static void toy_put(Dataset *out, int i, double x1, double x2, int label, double noise, Rng *rng)
{
    double e1 = rng_normal(rng), e2 = rng_normal(rng);   /* drawn even for noise 0, so the
                                                          * clean points do not depend on it */
    out->X[2 * i] = (float)(x1 + noise * e1);
    out->X[2 * i + 1] = (float)(x2 + noise * e2);
    if (out->targets == 1)
        out->Y[i] = (float)label;
    else
        out->Y[(size_t)i * (size_t)out->targets + (size_t)label] = 1.0f;
}

/* Fisher-Yates over the rows, so minibatches taken in order mix the classes. */
static void toy_shuffle(Dataset *d, Rng *rng)
{
    size_t nt = (size_t)d->targets;
    float *tmp = nn_alloc(nt * sizeof(float));
    for (int i = d->rows - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint32_t)i + 1);
        float x0 = d->X[2 * i], x1 = d->X[2 * i + 1];
        d->X[2 * i] = d->X[2 * j];
        d->X[2 * i + 1] = d->X[2 * j + 1];
        d->X[2 * j] = x0;
        d->X[2 * j + 1] = x1;
        memcpy(tmp, d->Y + (size_t)i * nt, nt * sizeof(float));
        memcpy(d->Y + (size_t)i * nt, d->Y + (size_t)j * nt, nt * sizeof(float));
        memcpy(d->Y + (size_t)j * nt, tmp, nt * sizeof(float));
    }
    nn_free(tmp);
}

/* Uniform in (0, 1]: never 0, so a point's sign rule never meets an axis. */
static double uniform_pos(Rng *rng)
{
    return 1.0 - (double)rng_uniform(rng);
}

void data_xor(int n, double noise, Rng *rng, Dataset *out)
{
    toy_init(out, n, 2, true, noise);
    int i = 0;
    for (int c = 0; c < 2; c++)
        for (int m = class_size(n, 2, c); m > 0; m--) {
            double s1 = (rng_u32(rng) & 1) ? 1.0 : -1.0;
            double s2 = c == 1 ? s1 : -s1;
            double x1 = s1 * uniform_pos(rng), x2 = s2 * uniform_pos(rng);
            toy_put(out, i++, x1, x2, c, noise, rng);
        }
    toy_shuffle(out, rng);
}

void data_circles(int n, double noise, Rng *rng, Dataset *out)
{
    toy_init(out, n, 2, true, noise);
    int i = 0;
    for (int c = 0; c < 2; c++)
        for (int m = class_size(n, 2, c); m > 0; m--) {
            double u = rng_uniform(rng);
            double r = c == 1 ? 0.5 * u : 0.7 + 0.3 * u;
            double t = 2 * M_PI * rng_uniform(rng);
            toy_put(out, i++, r * cos(t), r * sin(t), c, noise, rng);
        }
    toy_shuffle(out, rng);
}

void data_moons(int n, double noise, Rng *rng, Dataset *out)
{
    toy_init(out, n, 2, true, noise);
    int i = 0;
    for (int c = 0; c < 2; c++) {
        int m = class_size(n, 2, c);
        for (int j = 0; j < m; j++) {
            double t = m > 1 ? M_PI * j / (m - 1) : 0;
            if (c == 0)
                toy_put(out, i++, cos(t), sin(t), c, noise, rng);
            else
                toy_put(out, i++, 1 - cos(t), 0.5 - sin(t), c, noise, rng);
        }
    }
    toy_shuffle(out, rng);
}

void data_spirals(int k, int n, double noise, Rng *rng, Dataset *out)
{
    toy_init(out, n, k, false, noise);
    int i = 0;
    for (int c = 0; c < k; c++) {
        int m = class_size(n, k, c);
        for (int j = 0; j < m; j++) {
            double r = m > 1 ? (double)j / (m - 1) : 0;
            double t = 2 * M_PI * c / k + 4 * r;
            toy_put(out, i++, r * cos(t), r * sin(t), c, noise, rng);
        }
    }
    toy_shuffle(out, rng);
}

void data_blobs(int k, int n, double noise, Rng *rng, Dataset *out)
{
    toy_init(out, n, k, false, noise);
    double *centre = nn_alloc((size_t)k * 2 * sizeof *centre);
    for (int c = 0; c < 2 * k; c++) centre[c] = 2.0 * rng_uniform(rng) - 1.0;
    int i = 0;
    for (int c = 0; c < k; c++)
        for (int m = class_size(n, k, c); m > 0; m--)
            toy_put(out, i++, centre[2 * c], centre[2 * c + 1], c, noise, rng);
    nn_free(centre);
    toy_shuffle(out, rng);
}
