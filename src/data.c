/* data.c — data sets: the CSV and row-index readers, subsets, seeded splits, normalisation and
 * the seeded toy sets. Files are read whole and parsed in place; user errors come back as a
 * DataError with a line and byte column, never by jumping. */
#include "data.h"

#include <errno.h>
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

/* Text from a data file, made fit for a message: at most CLIP_MAX bytes, cut before any
 * control character and never inside a UTF-8 sequence, with "..." where it was cut. */
static const char *clip(const char *s, char buf[CLIP_MAX + 4])
{
    size_t n = 0;
    while (n < CLIP_MAX && s[n] && (unsigned char)s[n] >= 0x20) n++;
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

/* Reads the whole file into a new NUL-terminated buffer (the NUL is not counted in *len), so
 * fields can be cut in place even when the last one ends at the end of the file. */
static bool read_file(const char *path, char **buf, size_t *len, DataError *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return set_error(err, 0, 0, "cannot open '%.180s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = nn_alloc(cap);
    for (;;) {
        if (cap - n < 2) {
            cap *= 2;
            b = nn_realloc(b, cap);
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

/* ---- CSV records ------------------------------------------------------------------------ */

typedef struct Cursor {
    char *p, *end;
    char *line_start;       /* first byte of the current line, for byte columns */
    int line;
} Cursor;

typedef struct Field {
    char *text;             /* NUL-terminated, in the file buffer */
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

static void record_push(Record *rec, Field f)
{
    if (rec->n == rec->cap) {
        rec->cap = rec->cap ? rec->cap * 2 : 16;
        rec->f = nn_realloc(rec->f, (size_t)rec->cap * sizeof *rec->f);
    }
    rec->f[rec->n++] = f;
}

/* Reads the next non-blank record into rec, cutting its fields in place (a quoted field's
 * content is unescaped over its own bytes). Returns 1, 0 at the end of the file, or -1 with
 * *err filled in. */
static int read_record(Cursor *c, Record *rec, DataError *err)
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
        record_push(rec, fld);
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

/* Turns the target texts (one per row, each non-empty) into out->Y and the class list, by the
 * rules in data.h. Can fail only for a numeric target with an infinite value. */
static bool build_targets(Dataset *out, const Field *tv, const char *column, DataError *err)
{
    int rows = out->rows;
    bool all_int = true, all_num = true;
    for (int i = 0; i < rows && all_num; i++) {
        float v;
        int st = parse_number(tv[i].text, &v);
        if (st == NUM_NOT_NUMBER) all_num = false;
        if (!is_integer_text(tv[i].text)) all_int = false;
    }
    if (all_num && !all_int) {
        out->targets = 1;
        out->n_classes = 0;
        out->Y = nn_alloc((size_t)rows * sizeof(float));
        for (int i = 0; i < rows; i++) {
            int st = parse_number(tv[i].text, &out->Y[i]);
            if (st != NUM_OK) return number_error(err, &tv[i], trim(tv[i].text), column, st);
        }
        return true;
    }

    ClassKey *keys = nn_alloc((size_t)rows * sizeof *keys);
    for (int i = 0; i < rows; i++) {
        keys[i].text = tv[i].text;
        keys[i].row = i;
        keys[i].value = 0;
        if (all_int) {
            keys[i].text = trim(tv[i].text);
            keys[i].value = strtod(keys[i].text, NULL);
        }
        keys[i].len = strlen(keys[i].text);
    }
    qsort(keys, (size_t)rows, sizeof *keys, all_int ? cmp_key_value : cmp_key_text);

    int *cls = nn_alloc((size_t)rows * sizeof *cls);
    int k = 0;
    out->class_names = nn_alloc((size_t)rows * sizeof *out->class_names);
    for (int i = 0; i < rows; i++) {
        bool same = i > 0 && (all_int ? keys[i].value == keys[i - 1].value
                                      : strcmp(keys[i].text, keys[i - 1].text) == 0);
        if (!same) out->class_names[k++] = nn_strndup(keys[i].text, keys[i].len);
        cls[keys[i].row] = k - 1;
    }
    out->class_names = nn_realloc(out->class_names, (size_t)k * sizeof *out->class_names);
    out->n_classes = k;
    out->targets = k;
    out->Y = nn_calloc((size_t)rows * (size_t)k, sizeof(float));
    for (int i = 0; i < rows; i++) out->Y[(size_t)i * (size_t)k + (size_t)cls[i]] = 1.0f;
    nn_free(cls);
    nn_free(keys);
    return true;
}

/* The body of data_read_csv; buffers are freed by the caller. */
static bool parse_csv(Cursor *c, const char *target, Dataset *out, Record *rec, Field **hdr_out,
                      Field **tv_out, DataError *err)
{
    int r = read_record(c, rec, err);
    if (r < 0) return false;
    if (r == 0) return set_error(err, 0, 0, "the file is empty");

    int ncols = rec->n, header_line = rec->line;
    Field *hdr = nn_alloc((size_t)ncols * sizeof *hdr);
    *hdr_out = hdr;
    memcpy(hdr, rec->f, (size_t)ncols * sizeof *hdr);
    int t = -1;
    for (int i = 0; i < ncols; i++) {
        char a[CLIP_MAX + 4];
        if (!hdr[i].text[0])
            return set_error(err, hdr[i].line, hdr[i].col, "column %d of the header has no name",
                             i + 1);
        for (int j = 0; j < i; j++)
            if (strcmp(hdr[i].text, hdr[j].text) == 0)
                return set_error(err, hdr[i].line, hdr[i].col,
                                 "the column name '%s' appears twice in the header",
                                 clip(hdr[i].text, a));
        if (strcmp(hdr[i].text, target) == 0) t = i;
    }
    if (t < 0) return no_column_error(err, header_line, target, hdr, ncols);
    if (ncols == 1) {
        char a[CLIP_MAX + 4];
        return set_error(err, header_line, 1,
                         "the target '%s' is the only column; there are no feature columns",
                         clip(target, a));
    }

    int nf = ncols - 1;
    out->features = nf;
    out->feature_names = nn_alloc((size_t)nf * sizeof *out->feature_names);
    for (int i = 0, j = 0; i < ncols; i++)
        if (i != t) out->feature_names[j++] = nn_strndup(hdr[i].text, strlen(hdr[i].text));
    out->target_name = nn_strndup(target, strlen(target));

    size_t cap = 0;
    Field *tv = NULL;
    int rows = 0;
    while ((r = read_record(c, rec, err)) > 0) {
        if (rec->n != ncols) {
            int line = rec->n > ncols ? rec->f[ncols].line : rec->end_line;
            int col = rec->n > ncols ? rec->f[ncols].col : rec->end_col;
            return set_error(err, line, col, "row has %d field%s, the header has %d", rec->n,
                             plural(rec->n), ncols);
        }
        NN_ASSERT(rows < 0x7fffffff);
        if ((size_t)rows == cap) {
            cap = cap ? cap * 2 : 256;
            out->X = nn_realloc(out->X, cap * (size_t)nf * sizeof(float));
            *tv_out = tv = nn_realloc(tv, cap * sizeof *tv);
        }
        float *x = out->X + (size_t)rows * (size_t)nf;
        for (int i = 0; i < ncols; i++) {
            Field *f = &rec->f[i];
            if (i == t) {
                const char *s = f->text;
                while (is_blank(*s)) s++;
                if (!*s) return number_error(err, f, "", target, NUM_EMPTY);
                tv[rows] = *f;
                continue;
            }
            int st = parse_number(f->text, x++);
            if (st != NUM_OK) return number_error(err, f, trim(f->text), hdr[i].text, st);
        }
        rows++;
    }
    if (r < 0) return false;
    if (rows == 0) return set_error(err, 0, 0, "the file has a header but no rows");
    out->rows = rows;
    out->X = nn_realloc(out->X, (size_t)rows * (size_t)nf * sizeof(float));
    return build_targets(out, tv, target, err);
}

bool data_read_csv(const char *path, const char *target, Dataset *out, DataError *err)
{
    NN_ASSERT(path && target && out && err);
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    if (!read_file(path, &buf, &len, err)) return false;
    Cursor c;
    cursor_init(&c, buf, len);
    Record rec = { 0 };
    Field *hdr = NULL, *tv = NULL;
    bool ok = parse_csv(&c, target, out, &rec, &hdr, &tv, err);
    nn_free(tv);
    nn_free(hdr);
    nn_free(rec.f);
    nn_free(buf);
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

bool data_read_indices(const char *path, int max_row, int **out, int *count, DataError *err)
{
    NN_ASSERT(path && out && count && err && max_row >= 0);
    *out = NULL;
    *count = 0;
    char *buf;
    size_t len;
    if (!read_file(path, &buf, &len, err)) return false;
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
