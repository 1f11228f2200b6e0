/* test_strbuf.c — the string helpers every output goes through: UTF-8 decoding with Unicode's
 * maximal-subpart rule, JSON strings that are valid UTF-8 whatever the bytes, and text made
 * safe to echo to a terminal. */
#include "testutil.h"

#include "strbuf.h"

#include <stdio.h>
#include <string.h>

/* ---- utf8_decode ------------------------------------------------------------------------- */

static void expect_decode(const char *s, size_t len, long cp, size_t n)
{
    size_t got;
    long c = utf8_decode(s, len, &got);
    if (c != cp || got != n)
        fail_msg("decoding %zu bytes starting 0x%02x: got %ld (%zu bytes), expected %ld (%zu)",
                 len, (unsigned char)s[0], c, got, cp, n);
}

static void test_decode_well_formed(void **state)
{
    (void)state;
    expect_decode("A", 1, 'A', 1);
    expect_decode("\x7f", 1, 0x7f, 1);
    expect_decode("\xc2\x80", 2, 0x80, 2);
    expect_decode("\xc3\xa9", 2, 0xe9, 2);
    expect_decode("\xdf\xbf", 2, 0x7ff, 2);
    expect_decode("\xe0\xa0\x80", 3, 0x800, 3);
    expect_decode("\xe2\x88\x82", 3, 0x2202, 3);                /* ∂ */
    expect_decode("\xed\x9f\xbf", 3, 0xd7ff, 3);                /* last before surrogates */
    expect_decode("\xee\x80\x80", 3, 0xe000, 3);
    expect_decode("\xef\xbf\xbd", 3, 0xfffd, 3);
    expect_decode("\xf0\x90\x80\x80", 4, 0x10000, 4);
    expect_decode("\xf0\x9f\x98\x80", 4, 0x1f600, 4);
    expect_decode("\xf4\x8f\xbf\xbf", 4, 0x10ffff, 4);
    expect_decode("\xc3\xa9xyz", 5, 0xe9, 2);                   /* only the first character */
}

/* Ill-formed input: -1, and the length of the maximal subpart, so that a decoder replacing
 * each subpart with U+FFFD agrees with Python's bytes.decode(errors="replace"). */
static void test_decode_ill_formed(void **state)
{
    (void)state;
    expect_decode("\x80", 1, -1, 1);            /* a lone continuation byte */
    expect_decode("\xbf", 1, -1, 1);
    expect_decode("\xc0\x80", 2, -1, 1);        /* overlong: C0, C1 never start a sequence */
    expect_decode("\xc1\xbf", 2, -1, 1);
    expect_decode("\xe0\x80\x80", 3, -1, 1);    /* overlong three-byte form */
    expect_decode("\xed\xa0\x80", 3, -1, 1);    /* a surrogate (U+D800) */
    expect_decode("\xf0\x80\x80\x80", 4, -1, 1);/* overlong four-byte form */
    expect_decode("\xf4\x90\x80\x80", 4, -1, 1);/* past U+10FFFF */
    expect_decode("\xf5\x80\x80\x80", 4, -1, 1);
    expect_decode("\xff", 1, -1, 1);
    expect_decode("\xc3", 1, -1, 1);            /* cut short by the end */
    expect_decode("\xe2\x88", 2, -1, 2);
    expect_decode("\xe2\x88x", 3, -1, 2);       /* cut short by an ASCII byte */
    expect_decode("\xf0\x9f\x98", 3, -1, 3);
    expect_decode("\xf0\x9f\x98\xc3", 4, -1, 3);
}

/* ---- sb_json_string ---------------------------------------------------------------------- */

static void expect_json(const char *s, size_t len, const char *want)
{
    StrBuf sb;
    sb_init(&sb);
    sb_json_string(&sb, s, len);
    assert_non_null(sb.data);
    assert_string_equal(sb.data, want);
    sb_free(&sb);
}

#define EXPECT_JSON(lit, want) expect_json(lit, sizeof lit - 1, want)

static void test_json_string(void **state)
{
    (void)state;
    EXPECT_JSON("", "\"\"");
    EXPECT_JSON("a \"b\" \\ c", "\"a \\\"b\\\" \\\\ c\"");
    EXPECT_JSON("x\ny\tz\x1b\x7f", "\"x\\ny\\u0009z\\u001b\x7f\"");
    EXPECT_JSON("a\0b", "\"a\\u0000b\"");                   /* NUL inside the length */
    EXPECT_JSON("caf\xc3\xa9 \xe2\x88\x82 \xf0\x9f\x98\x80",         /* UTF-8 kept as is */
                "\"caf\xc3\xa9 \xe2\x88\x82 \xf0\x9f\x98\x80\"");
    /* one U+FFFD per maximal subpart, as Python's errors="replace" */
    EXPECT_JSON("\xff\xfe", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    EXPECT_JSON("a\xe2\x88z", "\"a\xef\xbf\xbdz\"");
    EXPECT_JSON("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    EXPECT_JSON("\xc3", "\"\xef\xbf\xbd\"");
}

/* ---- terminal text ------------------------------------------------------------------------- */

static void expect_visible(const char *s, size_t len, const char *want)
{
    StrBuf sb;
    sb_init(&sb);
    sb_put_visible(&sb, s, len);
    assert_string_equal(sb.data ? sb.data : "", want);
    sb_free(&sb);
}

#define EXPECT_VISIBLE(lit, want) expect_visible(lit, sizeof lit - 1, want)

static void test_visible(void **state)
{
    (void)state;
    EXPECT_VISIBLE("", "");
    EXPECT_VISIBLE("let x = 1", "let x = 1");
    EXPECT_VISIBLE("\tx", "\tx");                     /* tabs stay: carets copy them */
    EXPECT_VISIBLE("a\x1b[31mb", "a\\x1b[31mb");
    EXPECT_VISIBLE("\x07\x08\r\n\x7f", "\\x07\\x08\\x0d\\x0a\\x7f");
    EXPECT_VISIBLE("\xc2\x9b" "2J", "\\xc2\\x9b" "2J");         /* C1 CSI, two bytes */
    EXPECT_VISIBLE("\xc2\xa0\xc3\xa9\xe2\x88\x82", "\xc2\xa0\xc3\xa9\xe2\x88\x82");
    EXPECT_VISIBLE("\xff\xe2\x88z", "\\xff\\xe2\\x88z");
    EXPECT_VISIBLE("a\0b", "a\\x00b");
}

static void test_text_unit(void **state)
{
    (void)state;
    bool esc;
    assert_int_equal(text_unit("a", 1, &esc), 1);
    assert_false(esc);
    assert_int_equal(text_unit("\xe2\x88\x82", 3, &esc), 3);
    assert_false(esc);
    assert_int_equal(text_unit("\x1b", 1, &esc), 1);
    assert_true(esc);
    assert_int_equal(text_unit("\xc2\x85", 2, &esc), 2);      /* NEL, a C1 control */
    assert_true(esc);
    assert_int_equal(text_unit("\xe2\x88", 2, &esc), 1);      /* byte by byte */
    assert_true(esc);
    assert_int_equal(text_unit("\t", 1, &esc), 1);
    assert_false(esc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_well_formed),
        cmocka_unit_test(test_decode_ill_formed),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_visible),
        cmocka_unit_test(test_text_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
