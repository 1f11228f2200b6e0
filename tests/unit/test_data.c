/* test_data.c — unit tests for data.c: the CSV and row-index readers (the project's iris and
 * digits files, every error with its line:col and text, CRLF, BOM, quotes), subsets, seeded
 * splits, normalisation and the seeded toy sets. */
#include "testutil.h"

#include "data.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CTest runs unit tests from the build directory; the build passes the source directory. */
#ifndef NN_SOURCE_DIR
#define NN_SOURCE_DIR "."
#endif
#define DATA_DIR NN_SOURCE_DIR "/examples/data/"

/* The group's scratch directory under /tmp; each written file gets a new name, all removed at
 * the end. */
typedef struct Fixture {
    char dir[64];
    char path[256];     /* the file written last */
    int files;
} Fixture;

static int group_setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    strcpy(f->dir, "/tmp/nn_test_data_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    Fixture *f = *state;
    char path[320];
    for (int i = 0; i < f->files; i++) {
        snprintf(path, sizeof path, "%s/t%d.txt", f->dir, i);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Writes `len` bytes to a new file in the scratch directory; returns its path. */
static const char *write_bytes(Fixture *f, const char *text, size_t len)
{
    snprintf(f->path, sizeof f->path, "%s/t%d.txt", f->dir, f->files++);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

static const char *write_text(Fixture *f, const char *text)
{
    return write_bytes(f, text, strlen(text));
}

/* |a - b| <= tol * max(1, |a|, |b|); testutil's assert_close needs the whole library. */
static void check_close_impl(double a, double b, double tol, const char *file, int line)
{
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    if (!(fabs(a - b) <= tol * scale)) {
        print_error("%.9g != %.9g (tolerance %g)\n", a, b, tol);
        _fail(file, line);
    }
}
#define check_close(a, b, tol) check_close_impl((a), (b), (tol), __FILE__, __LINE__)

static void expect_error_at(const DataError *e, int line, int col, const char *msg,
                            const char *file, int at)
{
    if (e->line != line || e->col != col || strcmp(e->msg, msg) != 0) {
        print_error("got      %d:%d: %s\nexpected %d:%d: %s\n", e->line, e->col, e->msg, line,
                    col, msg);
        _fail(file, at);
    }
}
#define expect_error(e, line, col, msg)                                                          \
    expect_error_at((e), (line), (col), (msg), __FILE__, __LINE__)

/* Reading `text` with this target must fail with exactly this line, column and message. */
static void csv_fails_at(Fixture *f, const char *text, size_t len, const char *target, int line,
                         int col, const char *msg, const char *file, int at)
{
    Dataset d;
    DataError e;
    memset(&e, 0, sizeof e);
    bool ok = data_read_csv(write_bytes(f, text, len), target, NULL, &d, &e);
    if (ok) {
        print_error("read succeeded, expected %d:%d: %s\n", line, col, msg);
        data_free(&d);
        _fail(file, at);
    }
    expect_error_at(&e, line, col, msg, file, at);
    assert_null(d.X);
    assert_null(d.Y);
    assert_null(d.feature_names);
    assert_int_equal(d.rows, 0);
    data_free(&d);
}
#define csv_fails(f, text, target, line, col, msg)                                               \
    csv_fails_at((f), (text), strlen(text), (target), (line), (col), (msg), __FILE__, __LINE__)

static void read_ok(const char *path, const char *target, Dataset *d)
{
    DataError e;
    if (!data_read_csv(path, target, NULL, d, &e)) {
        print_error("%s:%d:%d: %s\n", path, e.line, e.col, e.msg);
        fail();
    }
}

/* Class of row i of a one-hot or binary data set. */
static int label_of(const Dataset *d, int i)
{
    if (d->targets == 1) return (int)d->Y[i];
    int c = -1;
    for (int j = 0; j < d->targets; j++) {
        float y = d->Y[(size_t)i * (size_t)d->targets + (size_t)j];
        assert_true(y == 0.0f || y == 1.0f);
        if (y == 1.0f) {
            assert_int_equal(c, -1);
            c = j;
        }
    }
    assert_true(c >= 0);
    return c;
}

static void assert_row(const Dataset *d, int i, const float *want)
{
    for (int j = 0; j < d->features; j++)
        assert_true(d->X[(size_t)i * (size_t)d->features + (size_t)j] == want[j]);
}

/* ---- the project's data files ----------------------------------------------------------- */

static void test_iris(void **state)
{
    (void)state;
    Dataset d;
    read_ok(DATA_DIR "iris.csv", "species", &d);
    assert_int_equal(d.rows, 150);
    assert_int_equal(d.features, 4);
    assert_int_equal(d.targets, 3);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.class_names[0], "setosa");
    assert_string_equal(d.class_names[1], "versicolor");
    assert_string_equal(d.class_names[2], "virginica");
    assert_string_equal(d.target_name, "species");
    const char *names[] = { "sepal_length", "sepal_width", "petal_length", "petal_width" };
    for (int j = 0; j < 4; j++) assert_string_equal(d.feature_names[j], names[j]);
    int count[3] = { 0 };
    for (int i = 0; i < d.rows; i++) {
        int c = label_of(&d, i);
        count[c]++;
        assert_int_equal(c, i / 50);    /* the file is sorted by class */
    }
    for (int c = 0; c < 3; c++) assert_int_equal(count[c], 50);
    assert_row(&d, 0, (const float[]){ 5.1f, 3.5f, 1.4f, 0.2f });
    assert_row(&d, 149, (const float[]){ 5.9f, 3.0f, 5.1f, 1.8f });
    data_free(&d);
    assert_null(d.X);
    data_free(&d);      /* harmless twice */
}

static void test_iris_numeric_target(void **state)
{
    (void)state;
    Dataset d;
    DataError e;
    /* with a numeric target the species names become a feature, which is not a number */
    assert_false(data_read_csv(DATA_DIR "iris.csv", "petal_width", NULL, &d, &e));
    expect_error(&e, 2, 17, "'setosa' in column 'species' is not a number");
}

static void test_digits(void **state)
{
    (void)state;
    Dataset d;
    read_ok(DATA_DIR "digits.csv", "digit", &d);
    assert_int_equal(d.rows, 1797);
    assert_int_equal(d.features, 64);
    assert_int_equal(d.targets, 10);
    assert_int_equal(d.n_classes, 10);
    assert_string_equal(d.feature_names[0], "p0");
    assert_string_equal(d.feature_names[63], "p63");
    for (int c = 0; c < 10; c++) {
        char name[12];
        snprintf(name, sizeof name, "%d", c);
        assert_string_equal(d.class_names[c], name);
    }
    const int want[10] = { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 };
    int count[10] = { 0 };
    for (int i = 0; i < d.rows; i++) count[label_of(&d, i)]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], want[c]);
    float lo = 99, hi = -99;
    for (size_t i = 0; i < (size_t)d.rows * 64; i++) {
        lo = fminf(lo, d.X[i]);
        hi = fmaxf(hi, d.X[i]);
        assert_true(d.X[i] == floorf(d.X[i]));
    }
    assert_true(lo == 0 && hi == 16);
    const float row0[8] = { 0, 0, 5, 13, 9, 1, 0, 0 };     /* the first image row */
    assert_memory_equal(d.X, row0, sizeof row0);
    assert_int_equal(label_of(&d, 0), 0);
    assert_int_equal(label_of(&d, 1796), 8);
    data_free(&d);
}

/* ---- CSV: targets and format ------------------------------------------------------------ */

static void test_csv_numeric_target(void **state)
{
    Dataset d;
    read_ok(write_text(*state, "a,y,b\n1,2.5,-3\n4, 3 ,5e-1\n"), "y", &d);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.features, 2);
    assert_int_equal(d.targets, 1);
    assert_int_equal(d.n_classes, 0);
    assert_null(d.class_names);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[1], "b");
    assert_row(&d, 0, (const float[]){ 1, -3 });
    assert_row(&d, 1, (const float[]){ 4, 0.5f });
    assert_true(d.Y[0] == 2.5f && d.Y[1] == 3.0f);
    data_free(&d);

    /* one non-integer spelling is enough to make the target numeric */
    read_ok(write_text(*state, "a,y\n1,1\n2,2.0\n3,2\n"), "y", &d);
    assert_int_equal(d.n_classes, 0);
    assert_int_equal(d.targets, 1);
    data_free(&d);
}

static void test_csv_integer_classes(void **state)
{
    Dataset d;
    /* sorted by value (10 after 2), named as first written ("+2" and "02" join class "2") */
    read_ok(write_text(*state, "x,y\n1,10\n2,2\n3,-1\n4,02\n5, 10\n6,+2\n"), "y", &d);
    assert_int_equal(d.n_classes, 3);
    assert_int_equal(d.targets, 3);
    assert_string_equal(d.class_names[0], "-1");
    assert_string_equal(d.class_names[1], "2");
    assert_string_equal(d.class_names[2], "10");
    const int want[] = { 2, 1, 0, 1, 2, 1 };
    for (int i = 0; i < 6; i++) assert_int_equal(label_of(&d, i), want[i]);
    data_free(&d);
}

static void test_csv_string_classes(void **state)
{
    Dataset d;
    /* any non-number makes every value a name; names sort in byte order */
    read_ok(write_text(*state, "x,label\n1,b\n2,a\n3,c\n4,a\n5,1\n"), "label", &d);
    assert_int_equal(d.n_classes, 4);
    const char *names[] = { "1", "a", "b", "c" };
    for (int c = 0; c < 4; c++) assert_string_equal(d.class_names[c], names[c]);
    const int want[] = { 2, 1, 3, 1, 0 };
    for (int i = 0; i < 5; i++) assert_int_equal(label_of(&d, i), want[i]);
    data_free(&d);

    /* two classes are still one-hot */
    read_ok(write_text(*state, "x,t\n1,no\n2,yes\n3,no\n"), "t", &d);
    assert_int_equal(d.n_classes, 2);
    assert_int_equal(d.targets, 2);
    assert_string_equal(d.class_names[0], "no");
    assert_string_equal(d.class_names[1], "yes");
    assert_true(d.Y[0] == 1 && d.Y[1] == 0 && d.Y[2] == 0 && d.Y[3] == 1);
    data_free(&d);
}

static void test_csv_target_in_middle(void **state)
{
    Dataset d;
    read_ok(write_text(*state, "a,t,b\n1,x,2\n3,y,4"), "t", &d);   /* no final newline */
    assert_int_equal(d.rows, 2);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[1], "b");
    assert_row(&d, 0, (const float[]){ 1, 2 });
    assert_row(&d, 1, (const float[]){ 3, 4 });
    data_free(&d);
}

static void test_csv_crlf_bom_quotes(void **state)
{
    Dataset d;
    const char text[] = "\xEF\xBB\xBF\"a\",\"the, y\" ,b\r\n"
                        "\"1.5\",\"x \"\"q\"\"\",  7  \r\n"
                        " 2 , \"multi\r\nline\",\" 8 \"\r\n"
                        "\r\n";
    read_ok(write_bytes(*state, text, sizeof text - 1), "the, y", &d);
    assert_int_equal(d.rows, 2);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[1], "b");
    assert_string_equal(d.target_name, "the, y");
    assert_row(&d, 0, (const float[]){ 1.5f, 7 });
    assert_row(&d, 1, (const float[]){ 2, 8 });
    assert_int_equal(d.n_classes, 2);
    assert_string_equal(d.class_names[0], "multi\r\nline");
    assert_string_equal(d.class_names[1], "x \"q\"");
    assert_int_equal(label_of(&d, 0), 1);
    assert_int_equal(label_of(&d, 1), 0);
    data_free(&d);

    /* a lone CR at the very end ends the last line too */
    read_ok(write_text(*state, "a,y\r\n1,0\r"), "y", &d);
    assert_int_equal(d.rows, 1);
    data_free(&d);
}

static void test_csv_blank_lines(void **state)
{
    Dataset d;
    read_ok(write_text(*state, "\n\na,y\n\n1,0\n \t \n2,1\n\n\n"), "y", &d);
    assert_int_equal(d.rows, 2);
    assert_row(&d, 1, (const float[]){ 2 });
    data_free(&d);
    /* blank lines still count for line numbers */
    csv_fails(*state, "\na,y\n\n1,0\nz,1\n", "y", 5, 1, "'z' in column 'a' is not a number");
}

/* ---- CSV: errors ------------------------------------------------------------------------ */

static void test_csv_cannot_open(void **state)
{
    Fixture *f = *state;
    Dataset d;
    DataError e;
    char path[300], msg[400];
    snprintf(path, sizeof path, "%s/missing.csv", f->dir);
    assert_false(data_read_csv(path, "y", NULL, &d, &e));
    snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory", path);
    expect_error(&e, 0, 0, msg);
    assert_null(d.X);

    assert_false(data_read_csv(f->dir, "y", NULL, &d, &e));
    snprintf(msg, sizeof msg, "cannot read '%s': Is a directory", f->dir);
    expect_error(&e, 0, 0, msg);
}

static void test_csv_empty(void **state)
{
    csv_fails(*state, "", "y", 0, 0, "the file is empty");
    csv_fails(*state, "\n \r\n\n", "y", 0, 0, "the file is empty");
    csv_fails(*state, "\xEF\xBB\xBF", "y", 0, 0, "the file is empty");
    csv_fails(*state, "a,y\n", "y", 0, 0, "the file has a header but no rows");
    csv_fails(*state, "a,y\r\n\r\n\r\n", "y", 0, 0, "the file has a header but no rows");
}

static void test_csv_no_column(void **state)
{
    (void)state;
    Dataset d;
    DataError e;
    assert_false(data_read_csv(DATA_DIR "iris.csv", "specis", NULL, &d, &e));
    expect_error(&e, 1, 1,
                 "no column named 'specis'; the columns are sepal_length, sepal_width, "
                 "petal_length, petal_width, species");
    assert_false(data_read_csv(DATA_DIR "digits.csv", "label", NULL, &d, &e));
    expect_error(&e, 1, 1,
                 "no column named 'label'; the columns are p0, p1, p2, ..., p63, digit "
                 "(65 columns)");
    /* names are compared exactly */
    csv_fails(*state, "\nA,Y\n1,0\n", "y", 2, 1, "no column named 'y'; the columns are A, Y");
}

static void test_csv_header_errors(void **state)
{
    csv_fails(*state, "y\n1\n", "y", 1, 1,
              "the target 'y' is the only column; there are no feature columns");
    csv_fails(*state, "a,,y\n1,2,3\n", "y", 1, 3, "column 2 of the header has no name");
    csv_fails(*state, "a,y, \n1,2,3\n", "y", 1, 5, "column 3 of the header has no name");
    csv_fails(*state, "a,b,a\n1,2,3\n", "b", 1, 5,
              "the column name 'a' appears twice in the header");
    /* the BOM is not part of column 1 */
    csv_fails(*state, "\xEF\xBB\xBF" "a,,y\n", "y", 1, 3, "column 2 of the header has no name");
}

/* The header's names are checked in O(n log n) with the messages of an all-pairs check: the
 * first column (in file order) that is empty or repeats an earlier name. */
static void test_csv_header_order(void **state)
{
    csv_fails(*state, "b,a,,a,y\n", "y", 1, 5, "column 3 of the header has no name");
    csv_fails(*state, "b,a,a,,y\n", "y", 1, 5, "the column name 'a' appears twice in the header");
    csv_fails(*state, "z,b,a,b,a,y\n", "y", 1, 7,
              "the column name 'b' appears twice in the header");
    csv_fails(*state, "a,a,a,y\n", "y", 1, 3, "the column name 'a' appears twice in the header");
    csv_fails(*state, "a, ,,y\n", "y", 1, 3, "column 2 of the header has no name");
    /* names are quoted up to a control character: ESC, DEL, or C1's CSI (U+009B) */
    csv_fails(*state, "a\x1b[2J,a\x1b[2J,y\n", "y", 1, 7,
              "the column name 'a...' appears twice in the header");
    csv_fails(*state, "a\xc2\x9b" "2J,a\xc2\x9b" "2J,y\n", "y", 1, 7,
              "the column name 'a...' appears twice in the header");

    /* 200000 columns: a duplicate at the very end, found at once (an all-pairs check took 41 s) */
    enum { N = 200000 };
    size_t cap = (size_t)N * 12 + 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < N; i++) len += (size_t)snprintf(text + len, cap - len, "c%d,", i);
    len += (size_t)snprintf(text + len, cap - len, "c17\n");
    char msg[64];
    snprintf(msg, sizeof msg, "the column name 'c17' appears twice in the header");
    clock_t start = clock();
    csv_fails_at(*state, text, len, "c0", 1, (int)len - 3, msg, __FILE__, __LINE__);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (seconds > 5) {      /* about 0.1 s; 41 s when every pair was compared */
        print_error("200000 column names took %.1f s of CPU time\n", seconds);
        fail();
    }
    len -= 4;
    len += (size_t)snprintf(text + len, cap - len, "y\n");
    for (int i = 0; i < N; i++) len += (size_t)snprintf(text + len, cap - len, "1,");
    len += (size_t)snprintf(text + len, cap - len, "0\n");
    Dataset d;
    DataError e;
    assert_true(data_read_csv(write_bytes(*state, text, len), "y", NULL, &d, &e));
    assert_int_equal(d.features, N);
    assert_string_equal(d.feature_names[N - 1], "c199999");
    data_free(&d);
    free(text);
}

/* The reader holds a block of the file at a time: a record that crosses a block's end (at a
 * line break, a CRLF, a quote, a doubled quote, a quoted line break) reads as it would in one
 * piece. The filler line puts each byte of the record on the boundary in turn. */
static void test_csv_block_boundaries(void **state)
{
    const char *record = "\"x\"\"y\r\nz\",2.5\r\n  \r\n\"q\",-1\r\n";
    const size_t block = 1 << 16;
    char *text = malloc(block + 256);
    assert_non_null(text);
    for (size_t shift = 0; shift < strlen(record) + 2; shift++) {
        size_t len = 0;
        len += (size_t)sprintf(text, "name,v\r\n");
        size_t fill = block - 1 - len - 8 - shift;     /* the reader asks for block - 1 bytes */
        memcpy(text + len, "\"pad\",1", 7);
        len += 7;
        memset(text + len, ' ', fill);
        len += fill;
        len += (size_t)sprintf(text + len, "\r\n%s", record);
        Dataset d;
        DataError e;
        if (!data_read_csv(write_bytes(*state, text, len), "name", NULL, &d, &e)) {
            print_error("shift %zu: %d:%d: %s\n", shift, e.line, e.col, e.msg);
            fail();
        }
        assert_int_equal(d.rows, 3);
        assert_true(d.X[0] == 1 && d.X[1] == 2.5f && d.X[2] == -1);
        assert_int_equal(d.n_classes, 3);
        assert_string_equal(d.class_names[0], "pad");
        assert_string_equal(d.class_names[1], "q");
        assert_string_equal(d.class_names[2], "x\"y\r\nz");
        data_free(&d);
        /* and an error past the boundary keeps its line and column */
        len += (size_t)sprintf(text + len, "\"r\",1x\r\n");
        csv_fails_at(*state, text, len, "name", 7, 5, "'1x' in column 'v' is not a number",
                     __FILE__, __LINE__);
    }
    free(text);
}

/* Memory: the reader stops at the room it is given, saying where; NUL bytes are refused at
 * once (a file without line ends, like /dev/zero, never ends a record). */
static void test_csv_memory(void **state)
{
    enum { ROWS = 20000 };
    size_t cap = ROWS * 16 + 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, "a,b,y\n");
    for (int i = 0; i < ROWS; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,%d,%d\n", i, -i, i % 3);
    const char *path = write_bytes(*state, text, len);
    Dataset d;
    DataError e;
    DataLimits fits = { 4 << 20, NULL };    /* about 2 MiB: fits */
    assert_true(data_read_csv(path, "y", &fits, &d, &e));
    assert_int_equal(d.rows, ROWS);
    data_free(&d);
    assert_false(data_read_csv(path, "y", &(DataLimits){ 200000, NULL }, &d, &e));
    assert_null(d.X);
    assert_int_equal(e.line, 0);
    assert_non_null(strstr(e.msg, "reading this file would take more than the 196 KiB of memory "
                                  "left under the limit (at line "));
    /* not even the first block */
    assert_false(data_read_csv(path, "y", &(DataLimits){ 1000, NULL }, &d, &e));
    expect_error(&e, 0, 0, "reading this file would take more than the 1 KiB of memory left "
                 "under the limit; raise the limit with --max-memory");
    /* one-hot Y is rows x classes: 20000 different texts need 1.6 GB of it */
    len = (size_t)snprintf(text, cap, "a,y\n");
    for (int i = 0; i < ROWS; i++) len += (size_t)snprintf(text + len, cap - len, "1,k%d\n", i);
    DataLimits room = { 64 << 20, NULL };
    assert_false(data_read_csv(write_bytes(*state, text, len), "y", &room, &d, &e));
    expect_error(&e, 0, 0, "reading this file would take more than the 64 MiB of memory left "
                 "under the limit; raise the limit with --max-memory");
    /* Ctrl-C: the flag stops reading before the next block (after the first, 64 KiB) */
    len = (size_t)snprintf(text, cap, "a,b,y\n");
    for (int i = 0; i < ROWS; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,%d,%d\n", i, -i, i % 3);
    volatile sig_atomic_t stop = 1;
    DataLimits stopped = { SIZE_MAX, &stop };
    assert_false(data_read_csv(write_bytes(*state, text, len), "y", &stopped, &d, &e));
    assert_null(d.X);
    assert_non_null(strstr(e.msg, "reading was interrupted at line "));
    assert_int_equal(stop, 0);      /* cleared: it has stopped something */
    stop = 1;
    int *read, count;
    assert_false(data_read_indices(write_bytes(*state, text, len), ROWS, &stopped, &read, &count,
                                   &e));
    expect_error(&e, 0, 0, "reading was interrupted");
    assert_true(data_read_csv(write_bytes(*state, text, len), "y", &stopped, &d, &e));
    assert_int_equal(d.rows, ROWS);
    data_free(&d);
    free(text);

    csv_fails_at(*state, "a,y\n1,2\n3\0,4\n", 13, "y", 3, 2,
                 "the file has a NUL byte here (is it a text file?)", __FILE__, __LINE__);
    csv_fails_at(*state, "\0", 1, "y", 1, 1, "the file has a NUL byte here (is it a text file?)",
                 __FILE__, __LINE__);
    int *idx, n;
    assert_false(data_read_indices(write_bytes(*state, "1 2\n3\0", 6), 5, NULL, &idx, &n, &e));
    expect_error(&e, 2, 2, "the file has a NUL byte here (is it a text file?)");
}

static void test_csv_field_count(void **state)
{
    csv_fails(*state, "a,b,y\n1,2,0\n1,2\n", "y", 3, 4, "row has 2 fields, the header has 3");
    csv_fails(*state, "a,b,y\n1,2,0,5\n", "y", 2, 7, "row has 4 fields, the header has 3");
    csv_fails(*state, "a,b,y\nhello\n", "y", 2, 6, "row has 1 field, the header has 3");
    csv_fails(*state, "a,b,y\r\n1,2\r\n", "y", 2, 4, "row has 2 fields, the header has 3");
}

static void test_csv_bad_values(void **state)
{
    csv_fails(*state, "a,b,y\n1, abc ,0\n", "y", 2, 4, "'abc' in column 'b' is not a number");
    csv_fails(*state, "a,b,y\n1,2,0\n1,2x,0\n", "y", 3, 3, "'2x' in column 'b' is not a number");
    csv_fails(*state, "a,b,y\n1,\"1 2\",0\n", "y", 2, 3, "'1 2' in column 'b' is not a number");
    csv_fails(*state, "a,b,y\n1,,0\n", "y", 2, 3, "empty field in column 'b'");
    csv_fails(*state, "a,y,b\n1,0,\n", "y", 2, 5, "empty field in column 'b'");
    csv_fails(*state, "a,b,y\n1,   ,0\n", "y", 2, 3, "empty field in column 'b'");
    csv_fails(*state, "a,b,y\n1,\"  \",0\n", "y", 2, 3, "empty field in column 'b'");
    csv_fails(*state, "a,y\n1,0\n2,\n", "y", 3, 3, "empty field in column 'y'");
    csv_fails(*state, "a,y\nnan,1\n", "y", 2, 1, "'nan' in column 'a' is not a finite number");
    csv_fails(*state, "a,y\n-inf,1\n", "y", 2, 1, "'-inf' in column 'a' is not a finite number");
    csv_fails(*state, "a,y\n1e39,1\n", "y", 2, 1,
              "'1e39' in column 'a' is too large for a 32-bit float");
    csv_fails(*state, "a,y\n1,2.5\n2, inf\n", "y", 3, 4,
              "'inf' in column 'y' is not a finite number");
    /* long texts are cut in the message */
    csv_fails(*state, "a,y\nabcdefghijklmnopqrstuvwxyz0123456789,1\n", "y", 2, 1,
              "'abcdefghijklmnopqrstuvwxyz012345...' in column 'a' is not a number");
    /* a quoted field over two lines moves the line count on */
    csv_fails(*state, "y,a\n\"two\nlines\",1\nb,q\n", "y", 4, 3,
              "'q' in column 'a' is not a number");
}

static void test_csv_quote_errors(void **state)
{
    csv_fails(*state, "a,y\n1,\"abc\n2,0\n", "y", 2, 3,
              "the quote that opens this field is never closed");
    csv_fails(*state, "a,y\n\"1\"x,0\n", "y", 2, 4,
              "text after the closing quote of a field; a quote inside a quoted field is "
              "written \"\"");
    csv_fails(*state, "a,y\n \"1\"  \"0\"\n", "y", 2, 7,
              "text after the closing quote of a field; a quote inside a quoted field is "
              "written \"\"");
}

/* ---- row-index files -------------------------------------------------------------------- */

static void test_indices_good(void **state)
{
    int *idx, n;
    DataError e;
    assert_true(data_read_indices(write_text(*state, "3\n1 4\r\n\n\t 0"), 5, NULL, &idx, &n,
                                  &e));
    assert_int_equal(n, 4);
    const int want[] = { 3, 1, 4, 0 };
    for (int i = 0; i < 4; i++) assert_int_equal(idx[i], want[i]);
    nn_free(idx);

    assert_true(data_read_indices(DATA_DIR "digits_test_idx.txt", 1797, NULL, &idx, &n,
                                  &e));
    assert_int_equal(n, 359);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[358], 1794);
    for (int i = 1; i < n; i++) assert_true(idx[i] > idx[i - 1]);
    nn_free(idx);
}

static void indices_fail_at(Fixture *f, const char *text, int max_row, int line, int col,
                            const char *msg, const char *file, int at)
{
    int dummy, *idx = &dummy, n = -1;
    DataError e;
    if (data_read_indices(write_text(f, text), max_row, NULL, &idx, &n, &e)) {
        print_error("read succeeded, expected %d:%d: %s\n", line, col, msg);
        nn_free(idx);
        _fail(file, at);
    }
    expect_error_at(&e, line, col, msg, file, at);
    assert_null(idx);
    assert_int_equal(n, 0);
}
#define indices_fail(f, text, max_row, line, col, msg)                                         \
    indices_fail_at((f), (text), (max_row), (line), (col), (msg), __FILE__, __LINE__)

static void test_indices_bad(void **state)
{
    indices_fail(*state, "1\n  x2\n", 10, 2, 3, "'x2' is not a row index");
    indices_fail(*state, "-1\n", 10, 1, 1, "'-1' is not a row index");
    indices_fail(*state, "1.0\n", 10, 1, 1, "'1.0' is not a row index");
    indices_fail(*state, "1,2\n", 10, 1, 1, "'1,2' is not a row index");
    indices_fail(*state, "0 2000\n", 1797, 1, 3,
                 "row 2000 is out of range: the data set has 1797 rows");
    indices_fail(*state, "1\n", 1, 1, 1, "row 1 is out of range: the data set has 1 row");
    indices_fail(*state, "99999999999999999999999", 5, 1, 1,
                 "row 99999999999999999999999 is out of range: the data set has 5 rows");
    indices_fail(*state, "5\n3 5\n", 10, 2, 3, "row 5 is listed twice");
    indices_fail(*state, "5 005", 10, 1, 3, "row 5 is listed twice");
    indices_fail(*state, "", 10, 0, 0, "the file lists no rows");
    indices_fail(*state, " \n\n", 10, 0, 0, "the file lists no rows");
}

/* ---- subsets, splits, normalisation ----------------------------------------------------- */

/* rows x 2 features, X = (i, -i), numeric target Y = 10 i: every row knows its index. */
static void make_indexed(int rows, Dataset *d)
{
    memset(d, 0, sizeof *d);
    d->rows = rows;
    d->features = 2;
    d->targets = 1;
    d->X = nn_alloc((size_t)rows * 2 * sizeof(float));
    d->Y = nn_alloc((size_t)rows * sizeof(float));
    for (int i = 0; i < rows; i++) {
        d->X[2 * i] = (float)i;
        d->X[2 * i + 1] = (float)-i;
        d->Y[i] = 10.0f * (float)i;
    }
    d->feature_names = nn_alloc(2 * sizeof(char *));
    d->feature_names[0] = nn_strndup("i", 1);
    d->feature_names[1] = nn_strndup("minus_i", 7);
    d->target_name = nn_strndup("ten_i", 5);
}

static void test_subset(void **state)
{
    (void)state;
    Dataset d, s;
    read_ok(DATA_DIR "iris.csv", "species", &d);
    data_subset(&d, (const int[]){ 149, 0, 0 }, 3, &s);
    assert_int_equal(s.rows, 3);
    assert_int_equal(s.features, 4);
    assert_int_equal(s.targets, 3);
    assert_int_equal(s.n_classes, 3);
    assert_row(&s, 0, (const float[]){ 5.9f, 3.0f, 5.1f, 1.8f });
    assert_row(&s, 1, (const float[]){ 5.1f, 3.5f, 1.4f, 0.2f });
    assert_int_equal(label_of(&s, 0), 2);
    assert_int_equal(label_of(&s, 2), 0);
    assert_true(s.feature_names[0] != d.feature_names[0]);   /* a deep copy */
    data_free(&d);
    assert_string_equal(s.feature_names[3], "petal_width");
    assert_string_equal(s.class_names[1], "versicolor");
    assert_string_equal(s.target_name, "species");
    data_free(&s);

    make_indexed(4, &d);
    data_subset(&d, NULL, 0, &s);
    assert_int_equal(s.rows, 0);
    assert_string_equal(s.feature_names[1], "minus_i");
    assert_null(s.class_names);
    data_free(&s);
    data_free(&d);
}

static bool same_data(const Dataset *a, const Dataset *b)
{
    return a->rows == b->rows && a->features == b->features && a->targets == b->targets &&
           memcmp(a->X, b->X, (size_t)a->rows * (size_t)a->features * sizeof(float)) == 0 &&
           memcmp(a->Y, b->Y, (size_t)a->rows * (size_t)a->targets * sizeof(float)) == 0;
}

static void split_with_seed(const Dataset *d, double fraction, uint64_t seed, Dataset *a,
                            Dataset *b)
{
    Rng rng;
    rng_seed(&rng, seed);
    data_split(d, fraction, &rng, a, b);
}

static void test_split(void **state)
{
    (void)state;
    Dataset d, a, b, a2, b2;
    make_indexed(150, &d);
    split_with_seed(&d, 0.8, 42, &a, &b);
    assert_int_equal(a.rows, 120);
    assert_int_equal(b.rows, 30);
    /* together the parts hold every row once, each row intact */
    int seen[150] = { 0 };
    for (int part = 0; part < 2; part++) {
        const Dataset *p = part ? &b : &a;
        for (int i = 0; i < p->rows; i++) {
            int r = (int)p->X[2 * i];
            assert_true(r >= 0 && r < 150);
            assert_true(p->X[2 * i + 1] == (float)-r && p->Y[i] == 10.0f * (float)r);
            seen[r]++;
        }
    }
    for (int r = 0; r < 150; r++) assert_int_equal(seen[r], 1);
    /* shuffled: not the first 120 rows in order */
    bool in_order = true;
    for (int i = 0; i < a.rows; i++) in_order = in_order && a.X[2 * i] == (float)i;
    assert_false(in_order);
    assert_string_equal(b.target_name, "ten_i");

    split_with_seed(&d, 0.8, 42, &a2, &b2);
    assert_true(same_data(&a, &a2) && same_data(&b, &b2));
    data_free(&a2);
    data_free(&b2);
    split_with_seed(&d, 0.8, 43, &a2, &b2);
    assert_int_equal(a2.rows, 120);
    assert_false(same_data(&a, &a2));
    data_free(&a2);
    data_free(&b2);
    data_free(&a);
    data_free(&b);
    data_free(&d);

    /* round(fraction * rows), halves away from zero; either part may be empty */
    make_indexed(5, &d);
    split_with_seed(&d, 0.5, 1, &a, &b);
    assert_int_equal(a.rows, 3);
    assert_int_equal(b.rows, 2);
    data_free(&a);
    data_free(&b);
    split_with_seed(&d, 0.05, 1, &a, &b);
    assert_int_equal(a.rows, 0);
    assert_int_equal(b.rows, 5);
    data_free(&a);
    data_free(&b);
    data_free(&d);
}

/* Every permutation of 3 rows is about equally likely (checks the unbiased shuffle). */
static void test_split_uniform(void **state)
{
    (void)state;
    Dataset d, a, b;
    make_indexed(3, &d);
    Rng rng;
    rng_seed(&rng, 7);
    int count[27] = { 0 };
    const int N = 6000;
    for (int t = 0; t < N; t++) {
        data_split(&d, 0.5, &rng, &a, &b);      /* 2 rows in a, 1 in b */
        int key = (int)a.X[0] * 9 + (int)a.X[2] * 3 + (int)b.X[0];
        count[key]++;
        data_free(&a);
        data_free(&b);
    }
    int perms = 0;
    for (int k = 0; k < 27; k++)
        if (count[k]) {
            perms++;
            assert_true(abs(count[k] - N / 6) < N / 6 / 8);
        }
    assert_int_equal(perms, 6);
    data_free(&d);
}

static void test_split_rows_digits(void **state)
{
    (void)state;
    Dataset d, train, test;
    DataError e;
    int *idx, n;
    read_ok(DATA_DIR "digits.csv", "digit", &d);
    assert_true(data_read_indices(DATA_DIR "digits_test_idx.txt", d.rows, NULL, &idx, &n,
                                  &e));
    data_split_rows(&d, idx, n, &train, &test);
    assert_int_equal(train.rows, 1438);
    assert_int_equal(test.rows, 359);
    assert_int_equal(test.targets, 10);
    /* test row 0 is file row 1; train rows 0, 1 are file rows 0, 2 */
    assert_memory_equal(test.X, d.X + 64, 64 * sizeof(float));
    assert_memory_equal(train.X, d.X, 64 * sizeof(float));
    assert_memory_equal(train.X + 64, d.X + 128, 64 * sizeof(float));
    assert_memory_equal(test.Y + 358 * 10, d.Y + 1794 * 10, 10 * sizeof(float));
    assert_string_equal(train.class_names[9], "9");
    nn_free(idx);
    data_free(&train);
    data_free(&test);
    data_free(&d);

    /* b follows idx's order */
    make_indexed(6, &d);
    data_split_rows(&d, (const int[]){ 4, 1 }, 2, &train, &test);
    const float want_a[] = { 0, 2, 3, 5 }, want_b[] = { 4, 1 };
    for (int i = 0; i < 4; i++) assert_true(train.X[2 * i] == want_a[i]);
    for (int i = 0; i < 2; i++) assert_true(test.X[2 * i] == want_b[i]);
    data_free(&train);
    data_free(&test);
    data_free(&d);
}

static void test_normalize(void **state)
{
    (void)state;
    Dataset d, a, b;
    read_ok(DATA_DIR "iris.csv", "species", &d);
    split_with_seed(&d, 0.8, 5, &a, &b);
    float mean[4], std[4];
    data_feature_stats(&a, mean, std);
    check_close(mean[0], 5.8433, 0.05);     /* the whole set's sepal length mean */
    data_apply_normalize(&a, mean, std);
    data_apply_normalize(&b, mean, std);
    for (int j = 0; j < 4; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < a.rows; i++) s += a.X[i * 4 + j];
        for (int i = 0; i < a.rows; i++) ss += pow(a.X[i * 4 + j] - s / a.rows, 2);
        check_close(s / a.rows, 0.0, 1e-5);
        check_close(sqrt(ss / a.rows), 1.0, 1e-5);
    }
    /* the test set is only roughly standard: it was scaled with the training stats */
    double s = 0;
    for (int i = 0; i < b.rows; i++) s += b.X[i * 4 + 2];
    assert_true(fabs(s / b.rows) < 0.5);
    data_free(&a);
    data_free(&b);
    data_free(&d);

    /* a constant feature gets std 1 and becomes 0 */
    make_indexed(3, &d);
    for (int i = 0; i < 3; i++) d.X[2 * i + 1] = 7;
    float m2[2], s2[2];
    data_feature_stats(&d, m2, s2);
    assert_true(m2[0] == 1.0f && m2[1] == 7.0f && s2[1] == 1.0f);
    check_close(s2[0], sqrt(2.0 / 3.0), 1e-6);
    data_apply_normalize(&d, m2, s2);
    for (int i = 0; i < 3; i++) assert_true(d.X[2 * i + 1] == 0.0f);
    check_close(d.X[4], 1.0 / sqrt(2.0 / 3.0), 1e-6);
    data_free(&d);
}

/* ---- toy sets --------------------------------------------------------------------------- */

typedef void (*Toy)(int n, double noise, Rng *rng, Dataset *out);

static void toy_spirals3(int n, double noise, Rng *rng, Dataset *out)
{
    data_spirals(3, n, noise, rng, out);
}

static void toy_blobs4(int n, double noise, Rng *rng, Dataset *out)
{
    data_blobs(4, n, noise, rng, out);
}

static void make_toy(Toy toy, int n, double noise, uint64_t seed, Dataset *out)
{
    Rng rng;
    rng_seed(&rng, seed);
    toy(n, noise, &rng, out);
}

/* Shapes, names, balance and determinism, common to every toy set. */
static void check_toy(Toy toy, int k, bool binary)
{
    for (int n = 1; n <= 301; n += 100) {
        Dataset d, e;
        make_toy(toy, n, 0.1, 9, &d);
        assert_int_equal(d.rows, n);
        assert_int_equal(d.features, 2);
        assert_int_equal(d.targets, binary ? 1 : k);
        assert_int_equal(d.n_classes, k);
        assert_string_equal(d.feature_names[0], "x1");
        assert_string_equal(d.feature_names[1], "x2");
        assert_null(d.target_name);
        int count[8] = { 0 };
        for (int i = 0; i < n; i++) {
            int c = label_of(&d, i);
            assert_true(c >= 0 && c < k);
            count[c]++;
            assert_true(isfinite(d.X[2 * i]) && isfinite(d.X[2 * i + 1]));
        }
        for (int c = 0; c < k; c++) {
            char name[12];
            snprintf(name, sizeof name, "%d", c);
            assert_string_equal(d.class_names[c], name);
            assert_int_equal(count[c], n / k + (c < n % k));
        }
        make_toy(toy, n, 0.1, 9, &e);
        assert_true(same_data(&d, &e));
        data_free(&e);
        if (n > 1) {
            make_toy(toy, n, 0.1, 10, &e);
            assert_false(same_data(&d, &e));
            data_free(&e);
        }
        data_free(&d);
    }
    /* classes are mixed, not in blocks: the first rows are not all one class */
    Dataset d;
    make_toy(toy, 200, 0.1, 3, &d);
    int first = label_of(&d, 0), mixed = 0;
    for (int i = 1; i < 20; i++) mixed |= label_of(&d, i) != first;
    assert_true(mixed);
    data_free(&d);

    /* noise is Gaussian with that standard deviation per coordinate, around the clean points */
    Dataset clean, noisy;
    make_toy(toy, 2000, 0, 4, &clean);
    make_toy(toy, 2000, 0.3, 4, &noisy);
    double ss = 0, s = 0;
    for (int i = 0; i < 4000; i++) {
        double dv = noisy.X[i] - clean.X[i];
        s += dv;
        ss += dv * dv;
    }
    assert_memory_equal(clean.Y, noisy.Y, (size_t)2000 * (size_t)clean.targets * sizeof(float));
    check_close(s / 4000, 0.0, 0.02);
    check_close(sqrt(ss / 4000), 0.3, 0.02);
    data_free(&clean);
    data_free(&noisy);
}

static void test_xor(void **state)
{
    (void)state;
    check_toy(data_xor, 2, true);
    Dataset d;
    make_toy(data_xor, 1000, 0, 1, &d);
    for (int i = 0; i < d.rows; i++) {
        float x1 = d.X[2 * i], x2 = d.X[2 * i + 1];
        assert_true(fabsf(x1) <= 1 && fabsf(x2) <= 1);
        assert_int_equal(label_of(&d, i), x1 * x2 > 0);
    }
    /* spread over the square: each quadrant gets about a quarter */
    int quad[4] = { 0 };
    for (int i = 0; i < d.rows; i++) quad[(d.X[2 * i] > 0) * 2 + (d.X[2 * i + 1] > 0)]++;
    for (int q = 0; q < 4; q++) assert_true(abs(quad[q] - 250) < 50);
    data_free(&d);
}

static void test_circles(void **state)
{
    (void)state;
    check_toy(data_circles, 2, true);
    Dataset d;
    make_toy(data_circles, 1000, 0, 1, &d);
    for (int i = 0; i < d.rows; i++) {
        double r = hypot(d.X[2 * i], d.X[2 * i + 1]);
        if (label_of(&d, i) == 1)
            assert_true(r <= 0.5 + 1e-6);
        else
            assert_true(r >= 0.7 - 1e-6 && r <= 1 + 1e-6);
    }
    data_free(&d);
    /* with noise the inner class is still nearer the centre on average */
    make_toy(data_circles, 1000, 0.2, 2, &d);
    double r0 = 0, r1 = 0;
    for (int i = 0; i < d.rows; i++) {
        double r = hypot(d.X[2 * i], d.X[2 * i + 1]);
        if (label_of(&d, i) == 1)
            r1 += r;
        else
            r0 += r;
    }
    assert_true(r1 / 500 < 0.5 * (r0 / 500));
    data_free(&d);
}

static void test_moons(void **state)
{
    (void)state;
    check_toy(data_moons, 2, true);
    Dataset d;
    make_toy(data_moons, 102, 0, 1, &d);    /* 51 each: both moons have a point at t = pi/2 */
    float lo1 = 9, hi1 = -9, lo2 = 9, hi2 = -9;
    for (int i = 0; i < d.rows; i++) {
        double x1 = d.X[2 * i], x2 = d.X[2 * i + 1];
        if (label_of(&d, i) == 0) {     /* upper half of the unit circle */
            check_close(hypot(x1, x2), 1.0, 1e-6);
            assert_true(x2 >= -1e-6);
        } else {                        /* lower half of the circle around (1, 0.5) */
            check_close(hypot(x1 - 1, x2 - 0.5), 1.0, 1e-6);
            assert_true(x2 <= 0.5 + 1e-6);
        }
        lo1 = fminf(lo1, (float)x1), hi1 = fmaxf(hi1, (float)x1);
        lo2 = fminf(lo2, (float)x2), hi2 = fmaxf(hi2, (float)x2);
    }
    check_close(lo1, -1, 1e-6);
    check_close(hi1, 2, 1e-6);
    check_close(lo2, -0.5, 1e-6);
    check_close(hi2, 1, 1e-6);
    data_free(&d);
}

static void test_spirals(void **state)
{
    (void)state;
    check_toy(toy_spirals3, 3, false);
    for (int k = 2; k <= 5; k++) {
        Dataset d;
        Rng rng;
        rng_seed(&rng, (uint64_t)k);
        data_spirals(k, 300, 0, &rng, &d);
        assert_int_equal(d.targets, k);
        int checked = 0;
        for (int i = 0; i < d.rows; i++) {
            double x1 = d.X[2 * i], x2 = d.X[2 * i + 1], r = hypot(x1, x2);
            assert_true(r <= 1 + 1e-6);
            if (r < 1e-3) continue;             /* every arm starts at the centre */
            /* the arm's offset: the angle minus the turn 4 r, in units of 2 pi / k */
            double off = (atan2(x2, x1) - 4 * r) / (2 * M_PI / k);
            off = fmod(fmod(off, k) + k, k);
            int c = (int)lround(off) % k;
            assert_true(fabs(off - lround(off)) < 1e-3);
            assert_int_equal(c, label_of(&d, i));
            checked++;
        }
        assert_true(checked >= 300 - k);
        data_free(&d);
    }
}

static void test_blobs(void **state)
{
    (void)state;
    check_toy(toy_blobs4, 4, false);
    /* noise 0: each class is one point, its centre, inside [-1, 1]^2 */
    Dataset d;
    make_toy(toy_blobs4, 400, 0, 3, &d);
    float cx[4], cy[4];
    bool have[4] = { false };
    for (int i = 0; i < d.rows; i++) {
        int c = label_of(&d, i);
        if (!have[c]) {
            cx[c] = d.X[2 * i], cy[c] = d.X[2 * i + 1], have[c] = true;
            assert_true(fabsf(cx[c]) <= 1 && fabsf(cy[c]) <= 1);
        }
        assert_true(d.X[2 * i] == cx[c] && d.X[2 * i + 1] == cy[c]);
    }
    data_free(&d);
    /* small noise: almost every point is nearest its own class's centre */
    make_toy(toy_blobs4, 400, 0.02, 3, &d);
    int right = 0;
    for (int i = 0; i < d.rows; i++) {
        int best = 0;
        double bd = 1e9;
        for (int c = 0; c < 4; c++) {
            double dd = hypot(d.X[2 * i] - cx[c], d.X[2 * i + 1] - cy[c]);
            if (dd < bd) bd = dd, best = c;
        }
        right += best == label_of(&d, i);
    }
    assert_true(right >= 390);
    data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iris),
        cmocka_unit_test(test_iris_numeric_target),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_csv_numeric_target),
        cmocka_unit_test(test_csv_integer_classes),
        cmocka_unit_test(test_csv_string_classes),
        cmocka_unit_test(test_csv_target_in_middle),
        cmocka_unit_test(test_csv_crlf_bom_quotes),
        cmocka_unit_test(test_csv_blank_lines),
        cmocka_unit_test(test_csv_cannot_open),
        cmocka_unit_test(test_csv_empty),
        cmocka_unit_test(test_csv_no_column),
        cmocka_unit_test(test_csv_header_errors),
        cmocka_unit_test(test_csv_header_order),
        cmocka_unit_test(test_csv_block_boundaries),
        cmocka_unit_test(test_csv_memory),
        cmocka_unit_test(test_csv_field_count),
        cmocka_unit_test(test_csv_bad_values),
        cmocka_unit_test(test_csv_quote_errors),
        cmocka_unit_test(test_indices_good),
        cmocka_unit_test(test_indices_bad),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_uniform),
        cmocka_unit_test(test_split_rows_digits),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_xor),
        cmocka_unit_test(test_circles),
        cmocka_unit_test(test_moons),
        cmocka_unit_test(test_spirals),
        cmocka_unit_test(test_blobs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
