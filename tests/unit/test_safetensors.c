/* test_safetensors.c — unit tests for safetensors.c: the exact bytes of small files, round
 * trips, a hand-written file in another writer's key order, every rejection message, atomic
 * saving, and a truncate-and-flip loop that must never crash (run it under ASan). */
#include "testutil.h"

#include "safetensors.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(char dir[64])
{
    strcpy(dir, "/tmp/nn_st_test_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* Number of entries in dir (without . and ..); the first one's name goes to first. */
static int count_entries(const char *dir, char first[256])
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    first[0] = '\0';
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (n++ == 0) snprintf(first, 256, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

/* A file image: the 8-byte little-endian size of `json`, `json` itself, then dlen data bytes
 * (a repeating pattern). Free with free(). */
static unsigned char *make_image(const char *json, size_t dlen, size_t *len)
{
    size_t n = strlen(json);
    unsigned char *buf = malloc(8 + n + dlen);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    for (size_t i = 0; i < dlen; i++) buf[8 + n + i] = (unsigned char)(i * 7);
    *len = 8 + n + dlen;
    return buf;
}

static bool is_zeroed(const StFile *f)
{
    return !f->entries && !f->count && !f->meta_keys && !f->meta_values && !f->meta_count;
}

static void expect_reject_bytes(const unsigned char *bytes, size_t len, const char *msg)
{
    /* an exact-size heap copy, so ASan sees any read past the end */
    unsigned char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    if (len) memcpy(buf, bytes, len);
    StFile f;
    char err[512] = "";
    bool ok = st_parse(buf, len, &f, err, sizeof err);
    if (ok) st_free(&f);
    free(buf);
    assert_false(ok);
    assert_true(is_zeroed(&f));
    assert_string_equal(err, msg);
}

static void expect_reject(const char *json, size_t dlen, const char *msg)
{
    size_t len;
    unsigned char *buf = make_image(json, dlen, &len);
    expect_reject_bytes(buf, len, msg);
    free(buf);
}

static void expect_floats(const StEntry *e, const float *want, size_t n)
{
    assert_non_null(e);
    assert_int_equal(e->count, n);
    if (n) assert_memory_equal(e->data, want, n * sizeof(float));
}

/* ---- exact bytes --------------------------------------------------------------------------- */

/* One tensor "w" of shape [2] holding 1 and 2: 54 bytes of JSON padded to 56 with two spaces
 * (so the data starts at byte 64), then 1.0f and 2.0f little endian. */
static const unsigned char tiny_file[] =
    "\x38\x00\x00\x00\x00\x00\x00\x00"
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  "
    "\x00\x00\x80\x3f" "\x00\x00\x00\x40";

/* The same with metadata: 85 bytes of JSON, "__metadata__" first, three spaces to 88. */
static const unsigned char tiny_meta_file[] =
    "\x58\x00\x00\x00\x00\x00\x00\x00"
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   "
    "\x00\x00\x80\x3f" "\x00\x00\x00\x40";

static void test_save_exact_bytes(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    const float w[] = { 1, 2 };
    StTensor t = { .name = "w", .rank = 1, .dims = { 2 }, .data = w };

    assert_true(st_save(path, &t, 1, NULL, 0, err, sizeof err));
    size_t len;
    unsigned char *got = read_all(path, &len);
    assert_int_equal(len, sizeof tiny_file - 1);
    assert_int_equal(len, 72);
    assert_memory_equal(got, tiny_file, len);
    free(got);

    StMeta m = { "format", "pt" };
    assert_true(st_save(path, &t, 1, &m, 1, err, sizeof err));
    got = read_all(path, &len);
    assert_int_equal(len, sizeof tiny_meta_file - 1);
    assert_memory_equal(got, tiny_meta_file, len);
    free(got);

    /* no tensors at all: "{}" padded to 8, as the reference writer does */
    assert_true(st_save(path, NULL, 0, NULL, 0, err, sizeof err));
    got = read_all(path, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(got, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(got);

    remove_dir(dir);
}

static void test_parse_exact_bytes(void **state)
{
    (void)state;
    StFile f;
    char err[256] = "";
    assert_true(st_parse(tiny_file, sizeof tiny_file - 1, &f, err, sizeof err));
    assert_int_equal(f.count, 1);
    assert_int_equal(f.meta_count, 0);
    assert_string_equal(f.entries[0].name, "w");
    assert_string_equal(f.entries[0].dtype, "F32");
    assert_int_equal(f.entries[0].rank, 1);
    assert_int_equal(f.entries[0].dims[0], 2);
    expect_floats(&f.entries[0], (const float[]){ 1, 2 }, 2);
    st_free(&f);
    assert_true(is_zeroed(&f));
    st_free(&f);    /* twice is harmless */

    assert_true(st_parse(tiny_meta_file, sizeof tiny_meta_file - 1, &f, err, sizeof err));
    assert_string_equal(st_meta(&f, "format"), "pt");
    assert_null(st_meta(&f, "pt"));
    expect_floats(st_find(&f, "w"), (const float[]){ 1, 2 }, 2);
    st_free(&f);
}

/* ---- round trip ---------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);

    const float scalar[] = { 3.5f };
    const float vec[] = { 1, -2, 0.25f };
    const float mat[] = { -0.0f, INFINITY, -INFINITY, 1e-45f, 3.4028235e38f, NAN };
    const float cube[] = { 1, 2, 3, 4 };
    const float odd[] = { 42 };
    const char *odd_name = "layer.0/w \"q\" \\ \xc3\xa9";
    const StTensor t[] = {
        { .name = "scalar", .rank = 0, .data = scalar },
        { .name = "vec", .rank = 1, .dims = { 3 }, .data = vec },
        { .name = "mat", .rank = 2, .dims = { 2, 3 }, .data = mat },
        { .name = "cube", .rank = 3, .dims = { 2, 1, 2 }, .data = cube },
        { .name = "empty", .rank = 2, .dims = { 2, 0 }, .data = NULL },
        { .name = odd_name, .rank = 1, .dims = { 1 }, .data = odd },
    };
    const char *note = "say \"hi\"\\path\nnext\tline\x01 \xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80";
    const StMeta meta[] = {
        { "format", "pt" },
        { "note", note },
        { "empty", "" },
        { "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87" },
    };
    assert_true(st_save(path, t, NN_ARRAY_LEN(t), meta, NN_ARRAY_LEN(meta), err, sizeof err));

    /* the layout, byte by byte */
    size_t len;
    unsigned char *raw = read_all(path, &len);
    assert_true(len >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | raw[i];
    assert_int_equal((8 + n) % 8, 0);
    assert_int_equal(len, 8 + n + 4 * (1 + 3 + 6 + 4 + 0 + 1));
    char *hdr = malloc(n + 1);
    memcpy(hdr, raw + 8, n);
    hdr[n] = '\0';
    char *close = strrchr(hdr, '}');
    assert_non_null(close);
    assert_true(strspn(close + 1, " ") == strlen(close + 1) && strlen(close + 1) < 8);
    assert_memory_equal(hdr, "{\"__metadata__\":{\"format\":\"pt\",\"note\":"
                        "\"say \\\"hi\\\"\\\\path\\nnext\\tline\\u0001 \xc3\xa9 \xe2\x9c\x93 "
                        "\xf0\x9f\x98\x80\",", 72);
    assert_non_null(strstr(hdr, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],"
                                "\"data_offsets\":[0,4]}"));
    assert_non_null(strstr(hdr, "\"vec\":{\"dtype\":\"F32\",\"shape\":[3],"
                                "\"data_offsets\":[4,16]}"));
    assert_non_null(strstr(hdr, "\"mat\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                                "\"data_offsets\":[16,40]}"));
    assert_non_null(strstr(hdr, "\"cube\":{\"dtype\":\"F32\",\"shape\":[2,1,2],"
                                "\"data_offsets\":[40,56]}"));
    assert_non_null(strstr(hdr, "\"empty\":{\"dtype\":\"F32\",\"shape\":[2,0],"
                                "\"data_offsets\":[56,56]}"));
    assert_non_null(strstr(hdr, "\"layer.0/w \\\"q\\\" \\\\ \xc3\xa9\":{\"dtype\":\"F32\","
                                "\"shape\":[1],\"data_offsets\":[56,60]}}"));
    const unsigned char *data = raw + 8 + n;
    assert_memory_equal(data, "\x00\x00\x60\x40", 4);                 /* 3.5 */
    assert_memory_equal(data + 4, "\x00\x00\x80\x3f\x00\x00\x00\xc0", 8); /* 1, -2 */
    assert_memory_equal(data + 56, "\x00\x00\x28\x42", 4);            /* 42 */
    free(hdr);
    free(raw);

    StFile f;
    assert_true(st_load(path, &f, err, sizeof err));
    assert_int_equal(f.count, NN_ARRAY_LEN(t));
    for (size_t i = 0; i < NN_ARRAY_LEN(t); i++) {
        const StEntry *e = &f.entries[i];
        assert_string_equal(e->name, t[i].name);
        assert_string_equal(e->dtype, "F32");
        assert_int_equal(e->rank, t[i].rank);
        size_t count = 1;
        for (int d = 0; d < e->rank; d++) {
            assert_int_equal(e->dims[d], t[i].dims[d]);
            count *= (size_t)t[i].dims[d];
        }
        assert_non_null(e->data);
        expect_floats(e, t[i].data, count);   /* bit-exact: -0, inf, nan, denormals */
        assert_ptr_equal(st_find(&f, t[i].name), e);
    }
    assert_int_equal(f.meta_count, NN_ARRAY_LEN(meta));
    for (size_t i = 0; i < NN_ARRAY_LEN(meta); i++) {
        assert_string_equal(f.meta_keys[i], meta[i].key);
        assert_string_equal(f.meta_values[i], meta[i].value);
        assert_string_equal(st_meta(&f, meta[i].key), meta[i].value);
    }
    assert_null(st_find(&f, "nope"));
    assert_null(st_meta(&f, "nope"));
    st_free(&f);
    remove_dir(dir);
}

/* A file as another writer could produce it: "__metadata__" in the middle, keys inside each
 * tensor in another order, whitespace and newlines, escaped names, the data of the second
 * tensor first, and the header padded with five spaces to 192 bytes. */
static const unsigned char foreign_file[] =
    "\xc0\x00\x00\x00\x00\x00\x00\x00"
    "{\"b\" : {\"shape\":[], \"data_offsets\":[8,12], \"dtype\":\"F32\"},\n"
    " \"__metadata__\":{\"source\":\"caf\\u00e9 \\ud83d\\ude00\",\"format\":\"pt\"},\n"
    " \"a\\u002fx\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]}}     "
    "\x00\x00\xc0\x3f" "\x00\x00\x00\xc0"   /* a/x: 1.5, -2 */
    "\x00\x00\xe0\x40";                     /* b: 7 */

static void test_foreign_file(void **state)
{
    (void)state;
    StFile f;
    char err[256] = "";
    assert_int_equal(sizeof foreign_file - 1, 8 + 192 + 12);
    assert_true(st_parse(foreign_file, sizeof foreign_file - 1, &f, err, sizeof err));
    assert_int_equal(f.count, 2);
    /* entries keep the header's order */
    assert_string_equal(f.entries[0].name, "b");
    assert_string_equal(f.entries[1].name, "a/x");
    assert_int_equal(f.entries[0].rank, 0);
    expect_floats(st_find(&f, "b"), (const float[]){ 7 }, 1);
    expect_floats(st_find(&f, "a/x"), (const float[]){ 1.5f, -2 }, 2);
    assert_int_equal(f.meta_count, 2);
    assert_string_equal(st_meta(&f, "source"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(st_meta(&f, "format"), "pt");
    st_free(&f);

    /* also: the smallest file, and an empty metadata object */
    assert_true(st_parse((const unsigned char *)"\x02\0\0\0\0\0\0\0{}", 10, &f, err, sizeof err));
    assert_int_equal(f.count, 0);
    st_free(&f);
    size_t len;
    unsigned char *buf = make_image("{\"__metadata__\":{}, \"z\":{\"dtype\":\"F32\",\"shape\":"
                                    "[0,3],\"data_offsets\":[0,0]}}\t\r\n ", 0, &len);
    assert_true(st_parse(buf, len, &f, err, sizeof err));
    assert_int_equal(f.count, 1);
    assert_int_equal(f.entries[0].count, 0);
    assert_non_null(f.entries[0].data);
    st_free(&f);
    free(buf);
}

/* ---- rejections ---------------------------------------------------------------------------- */

#define W_ENTRY "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static void test_reject_sizes(void **state)
{
    (void)state;
    expect_reject_bytes(NULL, 0, "the file is empty");
    expect_reject_bytes((const unsigned char *)"\x02\0\0\0\0", 5,
                        "the file is truncated: it has 5 bytes, but the header size alone "
                        "takes 8");
    expect_reject_bytes((const unsigned char *)"{", 1,
                        "the file is truncated: it has 1 byte, but the header size alone "
                        "takes 8");
    /* the header runs past the end of the file */
    expect_reject_bytes((const unsigned char *)"\x64\0\0\0\0\0\0\0{\"w\":{\"dtype\":\"F32\"", 26,
                        "the file is truncated: the header needs 100 bytes after the size, "
                        "the file has 18");
    expect_reject_bytes((const unsigned char *)"\x02\0\0\0\0\0\0\0{", 9,
                        "the file is truncated: the header needs 2 bytes after the size, "
                        "the file has 1");
    expect_reject_bytes((const unsigned char *)"\x01\0\0\0\0\0\0\0{", 9,
                        "the header size is 1 bytes, too small for a header (the smallest, "
                        "'{}', has 2)");
    expect_reject_bytes((const unsigned char *)"\0\0\0\0\0\0\0\0", 8,
                        "the header size is 0 bytes, too small for a header (the smallest, "
                        "'{}', has 2)");
    /* a text file read as safetensors: "hello, w" is a huge number */
    expect_reject_bytes((const unsigned char *)"hello, world\n", 13,
                        "the header size is 8583909746840200552 bytes, over the limit of "
                        "100000000 (is this a safetensors file?)");
    expect_reject_bytes((const unsigned char *)"\x01\xe1\xf5\x05\0\0\0\0{}", 10,
                        "the header size is 100000001 bytes, over the limit of 100000000 (is "
                        "this a safetensors file?)");
    expect_reject_bytes((const unsigned char *)"\xff\xff\xff\xff\xff\xff\xff\xff{}", 10,
                        "the header size is 18446744073709551615 bytes, over the limit of "
                        "100000000 (is this a safetensors file?)");
}

static void test_reject_truncated_data(void **state)
{
    (void)state;
    expect_reject("{\"x\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 200,
                  "the file is truncated: tensor 'x' needs bytes 0..400 of the data, "
                  "the file has 200");
    expect_reject("{" W_ENTRY ",\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 9,
                  "the file is truncated: tensor 'v' needs bytes 8..12 of the data, "
                  "the file has 9");
    expect_reject("{" W_ENTRY "}", 0,
                  "the file is truncated: tensor 'w' needs bytes 0..8 of the data, "
                  "the file has 0");
}

static void test_reject_bad_json(void **state)
{
    (void)state;
    /* positions count from the start of the file: the header's '{' is byte 8 */
    expect_reject("{\"w\" {}}", 0, "bad header at byte 13: expected ':', found '{'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}", 8,
                  "bad header at byte 61: expected a key in double quotes, found '}'");
    expect_reject("{" W_ENTRY ",}", 8,
                  "bad header at byte 62: expected a key in double quotes, found '}'");
    expect_reject("{" W_ENTRY, 8, "bad header at byte 61: expected ',' or '}', found the end of "
                  "the header");
    expect_reject("{" W_ENTRY "} x", 8, "bad header at byte 63: expected the end of the header "
                  "after the JSON object, found 'x'");
    expect_reject("{" W_ENTRY "}{}", 8, "bad header at byte 62: expected the end of the header "
                  "after the JSON object, found '{'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2 2]}}", 0,
                  "bad header at byte 39: expected ',' or ']', found '2'");
    expect_reject("{'w':1}", 0, "bad header at byte 9: expected a key in double quotes, "
                  "found '''");
    expect_reject("  ", 0, "bad header at byte 10: expected '{', found the end of the header");
    expect_reject("[1, 2]", 0, "the header must be a JSON object, found an array");
    expect_reject("\"{}\"", 0, "the header must be a JSON object, found a string");
    expect_reject("{\"w\":{\"dtype\":\"F32", 0,
                  "bad header at byte 22: the string is not closed");
    expect_reject("{\"w\\x\":{}}", 0,
                  "bad header at byte 11: invalid escape sequence in a string");
    expect_reject("{\"w\\u12g4\":{}}", 0, "bad header at byte 11: '\\u' needs 4 hex digits");
    expect_reject("{\"w\\ud800\":{}}", 0,
                  "bad header at byte 11: unpaired surrogate '\\ud800'");
    expect_reject("{\"w\\ud800\\u0041\":{}}", 0,
                  "bad header at byte 11: unpaired surrogate '\\ud800'");
    expect_reject("{\"w\\udc00\":{}}", 0,
                  "bad header at byte 11: unpaired surrogate '\\udc00'");
    expect_reject("{\"w\\u0000\":{}}", 0,
                  "bad header at byte 11: '\\u0000' in a string is not supported");
    expect_reject("{\"w\n\":{}}", 0, "bad header at byte 11: control character 0x0a in a "
                  "string (JSON needs it escaped)");
    expect_reject("{\"w\xff\":{}}", 0, "bad header at byte 11: invalid UTF-8");
    expect_reject("{\"w\xc0\xaf\":{}}", 0, "bad header at byte 11: invalid UTF-8");  /* overlong */
    expect_reject("{\"w\xed\xa0\x80\":{}}", 0, "bad header at byte 11: invalid UTF-8");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[02]}}", 0,
                  "bad header at byte 37: a number has a leading zero");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[-]}}", 0,
                  "bad header at byte 38: expected a digit, found ']'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.]}}", 0,
                  "bad header at byte 39: expected a digit after '.', found ']'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e]}}", 0,
                  "bad header at byte 39: expected a digit in the exponent, found ']'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[tru]}}", 0,
                  "bad header at byte 37: expected a JSON value, found 't'");
    /* a NUL byte in the padding */
    size_t len;
    unsigned char *buf = make_image("{}  ", 0, &len);
    buf[10] = '\0';
    expect_reject_bytes(buf, len, "bad header at byte 10: expected the end of the header after "
                        "the JSON object, found byte 0x00");
    free(buf);
}

static void test_reject_schema(void **state)
{
    (void)state;
    /* wrong kinds of values */
    expect_reject("{\"w\":true}", 0, "tensor 'w' must be an object, found a boolean");
    expect_reject("{\"w\":[]}", 0, "tensor 'w' must be an object, found an array");
    expect_reject("{\"w\":{\"dtype\":32}}", 0,
                  "tensor 'w': 'dtype' must be a string, found a number");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":2}}", 0,
                  "tensor 'w': 'shape' must be an array, found a number");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"]}}", 0,
                  "tensor 'w': 'shape' must hold integers, found a string");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[null]}}", 0,
                  "tensor 'w': 'shape' must hold integers, found null");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":{}}}", 0,
                  "tensor 'w': 'data_offsets' must be an array, found an object");
    expect_reject("{\"__metadata__\":[]}", 0, "'__metadata__' must be an object, found an array");
    expect_reject("{\"__metadata__\":{\"epochs\":3}}", 0,
                  "'__metadata__' value of 'epochs' must be a string, found a number");
    /* dimensions */
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w' has a negative dimension -3 in 'shape'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w' has a non-integer dimension 2.5 in 'shape'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w' has a non-integer dimension 2e0 in 'shape'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808]}}", 0,
                  "tensor 'w' has a dimension too large: 9223372036854775808");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1]}}", 0,
                  "tensor 'w' has more than 6 dimensions; nn supports at most 6");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                  "\"data_offsets\":[0,0]}}", 0,
                  "tensor 'w' has too many elements: shape [4294967296, 4294967296, "
                  "4294967296]");
    /* offsets */
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8,
                  "tensor 'w' has a negative offset -8 in 'data_offsets'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}", 8,
                  "tensor 'w' has a non-integer offset 8.0 in 'data_offsets'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 8,
                  "tensor 'w': 'data_offsets' has more than 2 elements (it needs begin and "
                  "end)");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8,
                  "tensor 'w': 'data_offsets' has 1 element (it needs begin and end)");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[]}}", 8,
                  "tensor 'w': 'data_offsets' has 0 elements (it needs begin and end)");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
                  "[0,18446744073709551616]}}", 8,
                  "tensor 'w' has an offset too large: 18446744073709551616");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
                  "tensor 'w' has data_offsets [8, 0]: the end is before the start");
}

static void test_reject_missing_and_unknown(void **state)
{
    (void)state;
    expect_reject("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'w' has no 'dtype'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w' has no 'shape'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
                  "tensor 'w' has no 'data_offsets'");
    expect_reject("{\"w\":{}}", 0, "tensor 'w' has no 'dtype'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"offsets\":1}}",
                  8, "tensor 'w' has an unknown key 'offsets'");
    expect_reject("{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w' has unknown dtype 'f32'");
}

static void test_reject_duplicates(void **state)
{
    (void)state;
    expect_reject("{" W_ENTRY "," W_ENTRY "}", 8, "duplicate tensor name 'w'");
    /* the same name spelled with an escape is still the same name */
    expect_reject("{\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                  "\"\\u0062\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
                  "duplicate tensor name 'b'");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],"
                  "\"data_offsets\":[0,8]}}", 8, "duplicate key 'dtype' in tensor 'w'");
    expect_reject("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}", 0,
                  "duplicate key 'a' in '__metadata__'");
    expect_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
                  "duplicate key '__metadata__'");
}

static void test_reject_layout(void **state)
{
    (void)state;
    /* overlap */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24,
                  "tensors 'a' and 'b' overlap: 'a' has bytes 0..16 of the data, 'b' has bytes "
                  "8..24");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "tensors 'a' and 'b' overlap: 'a' has bytes 0..8 of the data, 'b' has bytes "
                  "0..8");
    /* holes: at the start, in the middle, at the end */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
                  "no tensor covers bytes 0..8 of the data (before tensor 'a')");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20,
                  "no tensor covers bytes 8..12 of the data (before tensor 'b')");
    expect_reject("{" W_ENTRY "}", 12,
                  "no tensor covers bytes 8..12 of the data, at the end of the file");
    expect_reject("{}", 4, "no tensor covers bytes 0..4 of the data, at the end of the file");
    /* shape and offsets disagree */
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16,
                  "tensor 'w' has shape [2, 3] and dtype F32, which need 24 bytes, but its "
                  "data_offsets [0, 16] span 16");
    expect_reject("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 0,
                  "tensor 'w' has shape [] and dtype F32, which need 4 bytes, but its "
                  "data_offsets [0, 0] span 0");
    expect_reject("{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1,
                  "tensor 'w' has shape [3] and dtype F4, which do not fill whole bytes");
}

static void test_reject_dtype(void **state)
{
    (void)state;
    /* names from the file with control characters (ESC, and U+009B, a C1 CSI) are shown
     * escaped in messages, never written to a terminal as they are */
    expect_reject("{\"\\u001b[2Jw\\u009b\":{\"dtype\":\"F64\",\"shape\":[2],"
                  "\"data_offsets\":[0,16]}}", 16,
                  "tensor '\\x1b[2Jw\\xc2\\x9b' has dtype F64; nn reads F32 only");
    expect_reject("{\"w\":{\"dtype\":\"\\u0007\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16,
                  "tensor 'w' has unknown dtype '\\x07'");
    expect_reject("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16,
                  "tensor 'w' has dtype F64; nn reads F32 only");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"h\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}", 14,
                  "tensor 'h' has dtype BF16; nn reads F32 only");
    /* the other dtypes' sizes are known, so a wrong size is reported as such */
    expect_reject("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w' has shape [2] and dtype F64, which need 16 bytes, but its "
                  "data_offsets [0, 8] span 8");
    expect_reject("{\"w\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3,
                  "tensor 'w' has dtype U8; nn reads F32 only");
}

/* ---- files --------------------------------------------------------------------------------- */

/* st_load's messages leave the path to the caller, like st_parse's. */
static void test_load_errors(void **state)
{
    (void)state;
    char dir[64], path[128], err[512] = "";
    StFile f;
    make_dir(dir);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    assert_false(st_load(path, &f, err, sizeof err));
    assert_true(is_zeroed(&f));
    assert_string_equal(err, "No such file or directory");

    assert_false(st_load(dir, &f, err, sizeof err));
    assert_string_equal(err, "Is a directory");

    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    write_all_bytes(path, tiny_file, sizeof tiny_file - 1 - 4);
    assert_false(st_load(path, &f, err, sizeof err));
    assert_true(is_zeroed(&f));
    assert_string_equal(err, "the file is truncated: tensor 'w' needs bytes 0..8 of the data, "
                        "the file has 4");

    write_all_bytes(path, "", 0);
    assert_false(st_load(path, &f, err, sizeof err));
    assert_string_equal(err, "the file is empty");

    write_all_bytes(path, "\x02\0\0", 3);
    assert_false(st_load(path, &f, err, sizeof err));
    assert_string_equal(err, "the file is truncated: it has 3 bytes, but the header size alone "
                        "takes 8");

    write_all_bytes(path, "\x40\0\0\0\0\0\0\0{", 9);
    assert_false(st_load(path, &f, err, sizeof err));
    assert_string_equal(err, "the file is truncated: the header needs 64 bytes after the size, "
                        "the file has 1");

    write_all_bytes(path, "\x08\0\0\0\0\0\0\0{\"w\":[]}", 16);
    assert_false(st_load(path, &f, err, sizeof err));
    assert_string_equal(err, "tensor 'w' must be an object, found an array");

    write_all_bytes(path, foreign_file, sizeof foreign_file - 1);
    assert_true(st_load(path, &f, err, sizeof err));
    expect_floats(st_find(&f, "a/x"), (const float[]){ 1.5f, -2 }, 2);
    expect_floats(st_find(&f, "b"), (const float[]){ 7 }, 1);
    st_free(&f);

    /* a tiny err buffer truncates the message, never overflows */
    write_all_bytes(path, "", 0);
    char small[8];
    assert_false(st_load(path, &f, small, sizeof small));
    assert_string_equal(small, "the fil");
    assert_false(st_load(path, &f, NULL, 0));
    remove_dir(dir);
}

static void test_save_missing_dir(void **state)
{
    (void)state;
    char dir[64], path[128], want[256], err[256] = "", first[256];
    make_dir(dir);
    snprintf(path, sizeof path, "%s/nope/m.safetensors", dir);
    const float w[] = { 1, 2 };
    StTensor t = { .name = "w", .rank = 1, .dims = { 2 }, .data = w };
    assert_false(st_save(path, &t, 1, NULL, 0, err, sizeof err));
    snprintf(want, sizeof want, "cannot write '%s': No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(count_entries(dir, first), 0);
    remove_dir(dir);
}

static void test_save_replaces_atomically(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "", first[256];
    make_dir(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    write_all_bytes(path, "old contents", 12);
    assert_int_equal(chmod(path, 0640), 0);

    /* big enough to be written in several chunks */
    enum { N = 40000 };
    float *big = malloc(N * sizeof *big);
    for (int i = 0; i < N; i++) big[i] = (float)i * 0.5f - 7;
    const float w[] = { 1, 2 };
    StTensor t[] = {
        { .name = "big", .rank = 2, .dims = { 200, 200 }, .data = big },
        { .name = "w", .rank = 1, .dims = { 2 }, .data = w },
    };
    assert_true(st_save(path, t, 2, NULL, 0, err, sizeof err));
    assert_int_equal(count_entries(dir, first), 1);
    assert_string_equal(first, "m.safetensors");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);    /* the old file's mode is kept */

    StFile f;
    assert_true(st_load(path, &f, err, sizeof err));
    expect_floats(st_find(&f, "big"), big, N);
    expect_floats(st_find(&f, "w"), w, 2);
    st_free(&f);

    /* and again over the new file */
    assert_true(st_save(path, &t[1], 1, NULL, 0, err, sizeof err));
    size_t len;
    unsigned char *got = read_all(path, &len);
    assert_int_equal(len, sizeof tiny_file - 1);
    assert_memory_equal(got, tiny_file, len);
    free(got);
    assert_int_equal(count_entries(dir, first), 1);
    free(big);
    remove_dir(dir);
}

static void expect_unchanged(const char *dir, const char *path)
{
    char first[256];
    size_t len;
    unsigned char *got = read_all(path, &len);
    assert_int_equal(len, sizeof tiny_file - 1);
    assert_memory_equal(got, tiny_file, len);
    free(got);
    assert_int_equal(count_entries(dir, first), 1);     /* no temporary file left behind */
}

static void test_save_failure_keeps_old_file(void **state)
{
    (void)state;
    char dir[64], path[128], want[256], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    write_all_bytes(path, tiny_file, sizeof tiny_file - 1);

    const float w[] = { 1, 2 };
    StTensor dup[] = {
        { .name = "w", .rank = 1, .dims = { 2 }, .data = w },
        { .name = "w", .rank = 1, .dims = { 2 }, .data = w },
    };
    assert_false(st_save(path, dup, 2, NULL, 0, err, sizeof err));
    snprintf(want, sizeof want, "cannot write '%s': duplicate tensor name 'w'", path);
    assert_string_equal(err, want);
    expect_unchanged(dir, path);

    StTensor neg = { .name = "n", .rank = 2, .dims = { 2, -1 }, .data = w };
    assert_false(st_save(path, &neg, 1, NULL, 0, err, sizeof err));
    snprintf(want, sizeof want, "cannot write '%s': tensor 'n' has a negative dimension -1", path);
    assert_string_equal(err, want);
    expect_unchanged(dir, path);

    StMeta m[] = { { "k", "1" }, { "k", "2" } };
    assert_false(st_save(path, dup, 1, m, 2, err, sizeof err));
    snprintf(want, sizeof want, "cannot write '%s': duplicate metadata key 'k'", path);
    assert_string_equal(err, want);
    StTensor reserved = { .name = "__metadata__", .rank = 0, .data = w };
    assert_false(st_save(path, &reserved, 1, NULL, 0, err, sizeof err));
    snprintf(want, sizeof want, "cannot write '%s': '__metadata__' cannot name a tensor", path);
    assert_string_equal(err, want);
    StTensor bad_utf8 = { .name = "\xff", .rank = 0, .data = w };
    assert_false(st_save(path, &bad_utf8, 1, NULL, 0, err, sizeof err));
    snprintf(want, sizeof want, "cannot write '%s': tensor name '\xff' is not valid UTF-8", path);
    assert_string_equal(err, want);
    expect_unchanged(dir, path);

    /* A write that fails half way (the file size limit stands in for a full disk). */
    enum { N = 100000 };
    float *big = calloc(N, sizeof *big);
    StTensor t = { .name = "big", .rank = 1, .dims = { N }, .data = big };
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim = old_lim;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    bool ok = st_save(path, &t, 1, NULL, 0, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_handler);
    free(big);
    assert_false(ok);
    snprintf(want, sizeof want, "cannot write '%s': File too large", path);
    assert_string_equal(err, want);
    expect_unchanged(dir, path);
    remove_dir(dir);
}

/* ---- reading on demand ---------------------------------------------------------------------- */

/* st_open reads the header only; st_read reads any slice of any tensor; st_find finds each of
 * many names (a binary search over the names in order, whatever the file's order). */
static void test_open_and_read(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    enum { N = 300 };
    static float vals[N][3];
    static char names[N][16];
    static StTensor t[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "t%03d", (i * 7919) % N);    /* not in order */
        for (int k = 0; k < 3; k++) vals[i][k] = (float)(10 * i + k);
        t[i] = (StTensor){ .name = names[i], .rank = 1, .dims = { 3 }, .data = vals[i] };
    }
    assert_true(st_save(path, t, N, NULL, 0, err, sizeof err));

    StFile f;
    assert_true(st_open(path, SIZE_MAX, &f, err, sizeof err));
    assert_non_null(f.fp);
    assert_int_equal(f.count, N);
    for (int i = 0; i < N; i++) {
        const StEntry *e = st_find(&f, names[i]);
        assert_ptr_equal(e, &f.entries[i]);
        assert_null(e->data);
        float got[2] = { -1, -1 };
        assert_true(st_read(&f, e, 1, got, 2, err, sizeof err));      /* elements 1 and 2 */
        assert_true(got[0] == vals[i][1] && got[1] == vals[i][2]);
    }
    assert_null(st_find(&f, "t"));
    assert_null(st_find(&f, "t999"));
    assert_null(st_find(&f, ""));

    /* the file shrinks after st_open: st_read says so */
    assert_int_equal(truncate(path, 200), 0);
    float x;
    assert_false(st_read(&f, &f.entries[N - 1], 0, &x, 1, err, sizeof err));
    assert_string_equal(err, "the file ended early while it was read (did it change?)");
    st_free(&f);
    assert_null(f.fp);
    assert_true(is_zeroed(&f));
    remove_dir(dir);
}

/* The memory limit bounds the header and its index before they are allocated. */
static void test_open_room(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    enum { N = 1000 };
    static char names[N][16];
    static StTensor t[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "n%d", i);
        t[i] = (StTensor){ .name = names[i], .rank = 1, .dims = { 0 }, .data = NULL };
    }
    assert_true(st_save(path, t, N, NULL, 0, err, sizeof err));
    size_t len;
    unsigned char *raw = read_all(path, &len);
    free(raw);
    size_t header = len - 8;        /* no data: every tensor is empty */

    StFile f;
    assert_false(st_open(path, header - 1, &f, err, sizeof err));
    assert_true(is_zeroed(&f) && !f.fp);
    char want[256];
    snprintf(want, sizeof want, "its header (%zu KiB) is larger than the memory limit leaves "
             "room for (%zu KiB); raise it with --max-memory", (header + 1023) / 1024,
             (header - 1 + 1023) / 1024);
    assert_string_equal(err, want);
    /* the header fits, its index of a thousand tensors does not */
    assert_false(st_open(path, header + 4096, &f, err, sizeof err));
    assert_true(is_zeroed(&f) && !f.fp);
    assert_non_null(strstr(err, "its header describes more tensors and metadata than the "
                                "memory limit leaves room for"));
    assert_true(st_open(path, header + 1000 * 400, &f, err, sizeof err));
    assert_int_equal(f.count, N);
    st_free(&f);
    remove_dir(dir);
}

/* A sparse file whose header claims a 4 GiB tensor: st_open checks it against the file's size
 * and reads nothing of it (st_read could read any part); no data is allocated. */
static void test_open_sparse_4gib(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/s.safetensors", dir);
    const char *json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1073741824],"
                       "\"data_offsets\":[0,4294967296]}}";
    size_t n = strlen(json);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)n >> (8 * i));
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(prefix, 1, 8, fp), 8);
    assert_int_equal(fwrite(json, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);

    StFile f;
    assert_false(st_open(path, SIZE_MAX, &f, err, sizeof err));    /* no data yet */
    assert_string_equal(err, "the file is truncated: tensor 'w' needs bytes 0..4294967296 of "
                             "the data, the file has 0");
    assert_int_equal(truncate(path, (off_t)(8 + n) + ((off_t)1 << 32)), 0);   /* sparse */
    assert_true(st_open(path, 4096, &f, err, sizeof err));
    assert_int_equal(f.entries[0].count, (size_t)1 << 30);
    assert_null(f.entries[0].data);
    float last[2];
    assert_true(st_read(&f, &f.entries[0], ((size_t)1 << 30) - 2, last, 2, err, sizeof err));
    assert_true(last[0] == 0 && last[1] == 0);
    st_free(&f);
    remove_dir(dir);
}

/* ---- robustness ---------------------------------------------------------------------------- */

/* st_parse on a copy of img with exactly len bytes; it either succeeds or fails with a message
 * and nothing allocated (ASan and LeakSanitizer check the rest). */
static bool parse_cleanly(const unsigned char *img, size_t len)
{
    unsigned char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    if (len) memcpy(buf, img, len);
    StFile f;
    char err[256] = "";
    bool ok = st_parse(buf, len, &f, err, sizeof err);
    if (ok) {
        for (size_t i = 0; i < f.count; i++) assert_non_null(f.entries[i].data);
        st_free(&f);
    } else {
        assert_true(is_zeroed(&f));
        assert_true(err[0] != '\0');
    }
    free(buf);
    return ok;
}

static void test_truncate_and_flip(void **state)
{
    (void)state;
    char dir[64], path[128], err[256] = "";
    make_dir(dir);
    snprintf(path, sizeof path, "%s/f.safetensors", dir);
    const float a[] = { 1, -2, 3.5f, 0.25f, 5, 6 }, s[] = { 9 };
    StTensor t[] = {
        { .name = "a", .rank = 2, .dims = { 2, 3 }, .data = a },
        { .name = "s", .rank = 0, .data = s },
        { .name = "e\xc3\xa9\"", .rank = 3, .dims = { 1, 0, 2 }, .data = NULL },
    };
    StMeta m[] = { { "k\n", "v\\\x01 \xf0\x9f\x98\x80" } };
    assert_true(st_save(path, t, 3, m, 1, err, sizeof err));
    size_t len;
    unsigned char *img = read_all(path, &len);
    remove_dir(dir);
    assert_true(parse_cleanly(img, len));

    for (size_t cut = 0; cut < len; cut++) assert_false(parse_cleanly(img, cut));

    static const unsigned char masks[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff };
    static const char specials[] = "\"\\{}[],:-0129eE.u \n";
    unsigned char *mut = malloc(len);
    size_t accepted = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            memcpy(mut, img, len);
            mut[i] ^= masks[k];
            accepted += parse_cleanly(mut, len);
        }
        for (size_t k = 0; k < sizeof specials - 1; k++) {
            memcpy(mut, img, len);
            mut[i] = (unsigned char)specials[k];
            accepted += parse_cleanly(mut, len);
            /* and the same with the file cut right after the change */
            parse_cleanly(mut, i + 1);
        }
    }
    /* flips in the data (and some in the padding and strings) are still valid files */
    assert_true(accepted > 0);
    free(mut);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_exact_bytes),
        cmocka_unit_test(test_parse_exact_bytes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_foreign_file),
        cmocka_unit_test(test_reject_sizes),
        cmocka_unit_test(test_reject_truncated_data),
        cmocka_unit_test(test_reject_bad_json),
        cmocka_unit_test(test_reject_schema),
        cmocka_unit_test(test_reject_missing_and_unknown),
        cmocka_unit_test(test_reject_duplicates),
        cmocka_unit_test(test_reject_layout),
        cmocka_unit_test(test_reject_dtype),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_save_missing_dir),
        cmocka_unit_test(test_save_replaces_atomically),
        cmocka_unit_test(test_save_failure_keeps_old_file),
        cmocka_unit_test(test_open_and_read),
        cmocka_unit_test(test_open_room),
        cmocka_unit_test(test_open_sparse_4gib),
        cmocka_unit_test(test_truncate_and_flip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
