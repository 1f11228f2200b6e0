/* test_diag.c — the one message renderer (diag.c): what it echoes of the user's bytes (the
 * source line, the file name, the message's quotes) reaches the terminal with no control
 * character and no byte that is not UTF-8, and the caret still stands under the right column. */
#include "testutil.h"

#include "diag.h"
#include "source.h"
#include "strbuf.h"

#include <string.h>

typedef struct Fixture {
    SourceTable sources;
    DiagSink diag;
    StrBuf out;
} Fixture;

static void capture(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
}

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof f);
    source_table_init(&f.sources);
    sb_init(&f.out);
    f.diag.sources = &f.sources;
    f.diag.emit = capture;
    f.diag.ud = &f.out;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    sb_free(&f->out);
    source_table_free(&f->sources);
    return 0;
}

/* Renders an error at the first occurrence of `at` in `text` (of its length) in source NAME,
 * and compares the whole message. */
static void expect_render(Fixture *f, const char *name, const char *text, const char *at,
                          size_t at_len, const char *msg, const char *want)
{
    uint32_t id = source_add(&f->sources, name, text, strlen(text));
    const char *p = strstr(text, at);
    assert_non_null(p);
    Span span = { id, (uint32_t)(p - text), (uint32_t)(p - text + at_len) };
    sb_clear(&f->out);
    diag_report(&f->diag, DIAG_ERROR, span, "%s", msg);
    assert_non_null(f->out.data);
    assert_string_equal(f->out.data, want);
}

/* A source line with ESC sequences in a comment and a string: shown escaped, and the caret of
 * a later token stands under it, moved right by three columns per escape. */
static void test_controls_in_source_line(void **state)
{
    Fixture *f = *state;
    expect_render(f, "t.nn", "let s = \"\x1b[2J\" + q  # \x1b]0;x\x07\n", "q", 1,
                  "unknown name 'q'",
                  "t.nn:1:18: error: unknown name 'q'\n"
                  "   1 | let s = \"\\x1b[2J\" + q  # \\x1b]0;x\\x07\n"
                  "     |                     ^\n");
    /* a span over an escaped byte is underlined over the whole escape */
    expect_render(f, "t.nn", "let a\x1b[31m = 1\n", "\x1b", 1, "unexpected character '\x1b'",
                  "t.nn:1:6: error: unexpected character '\\x1b'\n"
                  "   1 | let a\\x1b[31m = 1\n"
                  "     |      ^~~~\n");
}

/* Bytes that are not UTF-8 are escaped one by one, a C1 control (two bytes) likewise, while
 * UTF-8 text is shown as it is and counts one column per character; tabs are copied. */
static void test_bytes_not_utf8(void **state)
{
    Fixture *f = *state;
    expect_render(f, "t.nn", "\tlet \xff\xfe = caf\xc3\xa9 + \xc2\x9b + z\n", "z", 1, "m",
                  "t.nn:1:22: error: m\n"
                  "   1 | \tlet \\xff\\xfe = caf\xc3\xa9 + \\xc2\\x9b + z\n"
                  "     | \t                                 ^\n");
    expect_render(f, "t.nn", "x = \xe2\x88\x82\xe2\x88 y\n", "\xe2\x88\x82\xe2\x88 y", 7, "m",
                  "t.nn:1:5: error: m\n"
                  "   1 | x = \xe2\x88\x82\\xe2\\x88 y\n"
                  "     |     ^~~~~~~~~~~\n");
}

/* The file name and the message (which quotes names, strings, file names) are escaped too:
 * nothing of the user's reaches the terminal as a control, and a message stays one line. */
static void test_name_and_message(void **state)
{
    Fixture *f = *state;
    expect_render(f, "a\x1b[1m\xff.nn", "print 1\n", "1", 1,
                  "cannot open 'x\x1b[31m\n.csv'",
                  "a\\x1b[1m\\xff.nn:1:7: error: cannot open 'x\\x1b[31m\\x0a.csv'\n"
                  "   1 | print 1\n"
                  "     |       ^\n");
    sb_clear(&f->out);
    diag_plain(&f->diag, DIAG_ERROR, "cannot open '%s'", "\x1b]2;t\x07");
    assert_string_equal(f->out.data, "nn: error: cannot open '\\x1b]2;t\\x07'\n");
    sb_clear(&f->out);
    diag_file(&f->diag, DIAG_ERROR, "d\x1b.csv", 2, 0, "column '%s'", "\x9b");
    assert_string_equal(f->out.data, "d\\x1b.csv:2: error: column '\\x9b'\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls_in_source_line),
        cmocka_unit_test(test_bytes_not_utf8),
        cmocka_unit_test(test_name_and_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
