/* test_image.c — unit tests for image.c (PGM and PPM by hand, PNG through libpng: values,
 * layouts and every message, the memory room, damaged files cut or flipped at every byte) and
 * for data_read_images' limits (memory, Ctrl-C), on the fixtures of tests/data/images. */
#include "testutil.h"

#include "data.h"
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NN_SOURCE_DIR
#define NN_SOURCE_DIR "."
#endif
#define IMAGES NN_SOURCE_DIR "/tests/data/images/"

static bool decode_text(const char *text, size_t room, Image *img, char *err, size_t errlen)
{
    return image_decode((const unsigned char *)text, strlen(text), room, img, err, errlen);
}

/* Decodes text, which must fail with exactly `msg`. */
static void expect_error(const char *text, const char *msg)
{
    Image img;
    char err[256] = "";
    if (decode_text(text, 1 << 20, &img, err, sizeof err))
        fail_msg("'%s' was decoded", text);
    assert_string_equal(err, msg);
    assert_null(img.pixels);
}

/* The bytes of a fixture file (free them). */
static unsigned char *slurp(const char *name, size_t *len)
{
    FILE *f = fopen(name, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void test_pgm(void **state)
{
    (void)state;
    Image img;
    char err[256];
    /* comments in the header and between plain samples; 2 rows of 3 */
    assert_true(decode_text("P2 # a comment\n3 # width\n2\n4\n0 1 2\n# between\n3 4 4", 1 << 20,
                            &img, err, sizeof err));
    assert_int_equal(img.channels, 1);
    assert_int_equal(img.height, 2);
    assert_int_equal(img.width, 3);
    const float want[] = { 0, 0.25f, 0.5f, 0.75f, 1, 1 };
    for (int i = 0; i < 6; i++) assert_true(img.pixels[i] == want[i]);
    image_free(&img);
    assert_null(img.pixels);
    /* binary, two bytes a sample above maxval 255 */
    const unsigned char p5[] = "P5 2 1 65535\n\xff\xff\x80\x00";
    assert_true(image_decode(p5, sizeof p5 - 1, 1 << 20, &img, err, sizeof err));
    assert_true(img.pixels[0] == 1.0f && img.pixels[1] == 32768.0f / 65535.0f);
    image_free(&img);
    /* a PPM: channel planes, red first */
    const unsigned char p6[] = "P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06";
    assert_true(image_decode(p6, sizeof p6 - 1, 1 << 20, &img, err, sizeof err));
    assert_int_equal(img.channels, 3);
    const float rgb[] = { 1, 4, 2, 5, 3, 6 };
    for (int i = 0; i < 6; i++) assert_true(img.pixels[i] == rgb[i] / 255.0f);
    image_free(&img);
    /* bytes after the first image are not read */
    assert_true(decode_text("P2 1 1 1 1\nP2 garbage", 1 << 20, &img, err, sizeof err));
    image_free(&img);
}

static void test_pgm_errors(void **state)
{
    (void)state;
    expect_error("", "the file is empty");
    expect_error("GIF89a", "it is neither a PNG nor a PGM or PPM image");
    expect_error("P4 1 1\n\x01", "it is neither a PNG nor a PGM or PPM image");
    expect_error("P2", "it is neither a PNG nor a PGM or PPM image");
    expect_error("P2 ", "the PGM header ends before its width");
    expect_error("P3 2 x", "the PPM header has no height (a number) where it should be");
    expect_error("P2 0 1 1 0", "the PGM's width is 0; it must be at least 1");
    expect_error("P2 1 1 65536 0", "the PGM's maxval is larger than 65535");
    expect_error("P2 99999999999999999999 1 1 0", "the PGM's width is larger than 2147483647");
    expect_error("P5 1 1 255x", "the PGM header must end with a whitespace byte after the maxval");
    expect_error("P5 2 2 255\n\x01", "the PGM ends before its last pixel (it has 1 of the 4 "
                 "bytes of its pixels)");
    expect_error("P2 2 2 3\n1 2 3", "the PGM ends before its last pixel (its header says 2 x 2 "
                 "pixels)");
    expect_error("P2 2 2 3\n1 2 3     ", "the PGM ends where the pixel in row 2, column 2 should "
                 "be");
    expect_error("P2 2 1 3\n1 x", "the PGM has something other than a number where the pixel "
                 "in row 1, column 2 should be");
    expect_error("P2 2 2 3\n1 2\n3 4", "the pixel in row 2, column 2 has 4, above the maxval 3");
    expect_error("P5 2 1 200\n\x01\xc9", "the pixel in row 1, column 2 has 201, above the "
                 "maxval 200");
}

static void test_room(void **state)
{
    (void)state;
    Image img;
    char err[256];
    /* 100 x 100 floats are 40000 bytes */
    char text[64];
    snprintf(text, sizeof text, "P5 100 100 255\n");
    size_t head = strlen(text);
    unsigned char *bytes = calloc(1, head + 10000);
    assert_non_null(bytes);
    memcpy(bytes, text, head);
    assert_false(image_decode(bytes, head + 10000, 39999, &img, err, sizeof err));
    assert_string_equal(err, "its 100 x 100 pixels would take more than the 40 KiB of memory "
                        "left under the limit; raise the limit with --max-memory");
    assert_true(image_decode(bytes, head + 10000, 40000, &img, err, sizeof err));
    image_free(&img);
    free(bytes);
    /* a PNG's size is checked before libpng makes its rows: 600 x 600 pixels of 4 bytes */
    size_t len;
    unsigned char *png = slurp(IMAGES "bad/large/a/x.png", &len);
    assert_false(image_decode(png, len, 1 << 20, &img, err, sizeof err));
    assert_string_equal(err, "its 600 x 600 pixels would take more than the 1.0 MiB of memory left "
                        "under the limit; raise the limit with --max-memory");
    assert_true(image_decode(png, len, 2 << 20, &img, err, sizeof err));
    image_free(&img);
    free(png);
}

static void test_png(void **state)
{
    (void)state;
    size_t len;
    unsigned char *png = slurp(IMAGES "gray/Line/b_alpha.png", &len);
    Image img;
    char err[256];
    assert_true(image_decode(png, len, 1 << 20, &img, err, sizeof err));
    assert_int_equal(img.channels, 1);      /* gray + alpha: the alpha dropped */
    assert_int_equal(img.height, 3);
    assert_int_equal(img.width, 4);
    for (int x = 0; x < 4; x++) {
        assert_true(img.pixels[x] == 0);
        assert_true(img.pixels[4 + x] == 128.0f / 255.0f);
    }
    image_free(&img);
    free(png);
    png = slurp(IMAGES "rgb/blue/a_palette.png", &len);
    assert_true(image_decode(png, len, 1 << 20, &img, err, sizeof err));
    assert_int_equal(img.channels, 3);      /* a palette with transparency: RGB */
    assert_true(img.pixels[0] == 10.0f / 255.0f && img.pixels[4] == 20.0f / 255.0f);
    image_free(&img);
    free(png);
}

/* A PNG cut at every length, and with each byte flipped in turn: decoded or refused with a
 * message, never a crash or a leak (the sanitizer build sees those). */
static void test_png_damaged(void **state)
{
    (void)state;
    const char *files[] = { IMAGES "gray/cross/b_interlaced.png", IMAGES "rgb/red/b_rgba.png",
                            IMAGES "rgb/blue/b_palette_2bit.png", IMAGES "gray/dot/b_4bit.png" };
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        size_t len;
        unsigned char *png = slurp(files[k], &len);
        Image img;
        char err[256];
        for (size_t cut = 0; cut < len; cut++) {
            err[0] = '\0';
            bool ok = image_decode(png, cut, 1 << 20, &img, err, sizeof err);
            if (ok) fail_msg("%s cut to %zu bytes was decoded", files[k], cut);
            assert_true(err[0] != '\0');
        }
        for (size_t at = 0; at < len; at++) {
            png[at] ^= 0x5a;
            err[0] = '\0';
            if (image_decode(png, len, 1 << 20, &img, err, sizeof err)) {
                assert_true(img.channels == 1 || img.channels == 3);
                image_free(&img);
            } else {
                assert_true(err[0] != '\0');
                assert_null(img.pixels);
            }
            png[at] ^= 0x5a;
        }
        free(png);
    }
}

/* data_read_images: the list, X and Y count against the room; Ctrl-C stops between images. */
static void test_folder_limits(void **state)
{
    (void)state;
    Dataset d;
    DataError err;
    int dims[3];
    DataLimits lim = { 200, NULL };
    assert_false(data_read_images(NULL, IMAGES "gray", &lim, &d, dims, &err));
    assert_int_equal(err.line, 0);
    assert_string_equal(err.msg, "reading these images would take more than the 1 KiB of memory "
                        "left under the limit; raise the limit with --max-memory");
    assert_null(d.X);
    volatile sig_atomic_t stop = 1;
    lim = (DataLimits){ SIZE_MAX, &stop };
    assert_false(data_read_images(NULL, IMAGES "gray/", &lim, &d, dims, &err));
    assert_string_equal(err.msg, "reading was interrupted at image 1 of 10");
    assert_int_equal(stop, 0);
    assert_true(data_read_images(NULL, IMAGES "gray/", &lim, &d, dims, &err));
    assert_int_equal(d.rows, 10);
    assert_int_equal(d.features, 12);
    assert_int_equal(d.targets, 3);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.class_names[0], "Line");
    assert_int_equal(dims[0], 1);
    assert_int_equal(dims[1], 3);
    assert_int_equal(dims[2], 4);
    data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgm),
        cmocka_unit_test(test_pgm_errors),
        cmocka_unit_test(test_room),
        cmocka_unit_test(test_png),
        cmocka_unit_test(test_png_damaged),
        cmocka_unit_test(test_folder_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
