/* image.c — decoding PNG (through libpng) and PGM/PPM (by hand: a header of numbers, then the
 * samples) into channel-first floats (image.h). Nothing read is trusted: sizes are checked
 * against the memory room before anything is allocated. */
#include "image.h"

#include "graph.h"

#include <limits.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message and returns false, for `return fail(...)`. */
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

void image_free(Image *img)
{
    if (!img) return;
    nn_free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* Whether channels x height x width floats and `extra` bytes of the decoder's own fit in
 * `room`; else false with the message. */
static bool image_fits(int channels, long long height, long long width, double extra,
                       size_t room, char *err, size_t errlen)
{
    double samples = (double)channels * (double)height * (double)width;
    if (samples > INT_MAX)
        return fail(err, errlen, "it is %lld x %lld pixels, more than the %d numbers nn takes "
                    "for one example", width, height, INT_MAX);
    double need = samples * sizeof(float) + extra;
    if (need > (double)room) {
        char have[32];
        return fail(err, errlen, "its %lld x %lld pixels would take more than the %s of memory "
                    "left under the limit; raise the limit with --max-memory", width, height,
                    graph_bytes_str(room, have));
    }
    return true;
}

/* Allocates out's pixels for channels x height x width, once image_fits says they fit. */
static bool image_alloc(Image *out, int channels, long long height, long long width,
                        double extra, size_t room, char *err, size_t errlen)
{
    if (!image_fits(channels, height, width, extra, room, err, errlen)) return false;
    double samples = (double)channels * (double)height * (double)width;
    out->channels = channels;
    out->height = (int)height;
    out->width = (int)width;
    out->pixels = nn_alloc((size_t)samples * sizeof(float));
    return true;
}

/* Stores row y of interleaved samples (channel fastest, `bytes` 1 or 2 big-endian bytes each),
 * each divided by maxval, into out's channel planes. */
static void store_row(Image *out, int y, const unsigned char *row, int bytes, float maxval)
{
    size_t plane = (size_t)out->height * (size_t)out->width;
    float *at = out->pixels + (size_t)y * (size_t)out->width;
    for (int x = 0; x < out->width; x++)
        for (int c = 0; c < out->channels; c++, row += bytes) {
            unsigned v = bytes == 2 ? (unsigned)row[0] << 8 | row[1] : row[0];
            at[(size_t)c * plane + (size_t)x] = (float)v / maxval;
        }
}

/* ---- PGM and PPM ------------------------------------------------------------------------- */

typedef struct Pnm {
    const unsigned char *s;
    size_t n, at;
    const char *kind;       /* "PGM" or "PPM", for messages */
    int channels;
    bool plain;             /* P2, P3: samples as decimal text */
    long long width, height, maxval;
} Pnm;

typedef enum PnmToken { PNM_NUMBER, PNM_END, PNM_NOT_NUMBER, PNM_TOO_LARGE } PnmToken;

static bool pnm_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and comments ('#' to the end of its line). */
static void pnm_skip(Pnm *p)
{
    while (p->at < p->n) {
        unsigned char c = p->s[p->at];
        if (c == '#') {
            while (p->at < p->n && p->s[p->at] != '\n' && p->s[p->at] != '\r') p->at++;
        } else if (pnm_space(c)) {
            p->at++;
        } else {
            break;
        }
    }
}

/* The next decimal number into *out (a larger one than max is PNM_TOO_LARGE). */
#define PNM_HUGE 1000000000000000LL     /* 10^15: a number this large is not told exactly */

static PnmToken pnm_number(Pnm *p, long long max, long long *out)
{
    pnm_skip(p);
    if (p->at >= p->n) return PNM_END;
    if (p->s[p->at] < '0' || p->s[p->at] > '9') return PNM_NOT_NUMBER;
    long long v = 0;    /* (saturated at PNM_HUGE: the whole number, for messages) */
    for (; p->at < p->n && p->s[p->at] >= '0' && p->s[p->at] <= '9'; p->at++)
        v = v < PNM_HUGE ? v * 10 + (p->s[p->at] - '0') : PNM_HUGE;
    *out = v;
    return v > max ? PNM_TOO_LARGE : PNM_NUMBER;
}

/* One number of the header, `what` (the width, ...), from 1 to max. */
static bool pnm_field(Pnm *p, const char *what, long long max, long long *out, char *err,
                      size_t errlen)
{
    switch (pnm_number(p, max, out)) {
    case PNM_END: return fail(err, errlen, "the %s header ends before its %s", p->kind, what);
    case PNM_NOT_NUMBER:
        return fail(err, errlen, "the %s header has no %s (a number) where it should be",
                    p->kind, what);
    case PNM_TOO_LARGE:
        return fail(err, errlen, "the %s's %s is larger than %lld", p->kind, what, max);
    case PNM_NUMBER: break;
    }
    if (*out < 1)
        return fail(err, errlen, "the %s's %s is 0; it must be at least 1", p->kind, what);
    return true;
}

/* The header after the magic number: width, height, maxval and, before binary samples, the
 * one whitespace byte that ends it. */
static bool pnm_header(Pnm *p, char *err, size_t errlen)
{
    p->at = 2;
    if (!pnm_field(p, "width", INT_MAX, &p->width, err, errlen)
        || !pnm_field(p, "height", INT_MAX, &p->height, err, errlen)
        || !pnm_field(p, "maxval", 65535, &p->maxval, err, errlen))
        return false;
    if (p->plain) return true;
    if (p->at >= p->n || !pnm_space(p->s[p->at]))
        return fail(err, errlen, "the %s header must end with a whitespace byte after the "
                    "maxval", p->kind);
    p->at++;
    return true;
}

/* The message for a sample above the maxval: sample i of the image (channels interleaved). */
static bool pnm_above(const Pnm *p, size_t i, long long v, char *err, size_t errlen)
{
    size_t pixel = i / (size_t)p->channels;
    if (v >= PNM_HUGE)
        return fail(err, errlen, "the pixel in row %zu, column %zu has a number of 16 digits or "
                    "more, above the maxval %lld", pixel / (size_t)p->width + 1,
                    pixel % (size_t)p->width + 1, p->maxval);
    return fail(err, errlen, "the pixel in row %zu, column %zu has %lld, above the maxval %lld",
                pixel / (size_t)p->width + 1, pixel % (size_t)p->width + 1, v, p->maxval);
}

/* Whether the bytes after the header can hold the header's pixels (checked before they are
 * allocated): exactly, for binary samples of one byte (maxval < 256) or two; at two bytes a
 * sample (a digit and a separator) but the last, for plain ones. */
static bool pnm_enough(const Pnm *p, char *err, size_t errlen)
{
    double samples = (double)p->width * (double)p->height * p->channels;
    double have = (double)(p->n - p->at), need = p->plain ? 2 * samples - 1
                                                 : samples * (p->maxval < 256 ? 1 : 2);
    if (have >= need) return true;
    if (p->plain)
        return fail(err, errlen, "the %s ends before its last pixel (its header says %lld x %lld "
                    "pixels)", p->kind, p->width, p->height);
    return fail(err, errlen, "the %s ends before its last pixel (it has %.0f of the %.0f bytes of "
                "its pixels)", p->kind, have, need);
}

/* P5, P6: width x height x channels samples of one byte (maxval < 256) or two. */
static bool pnm_binary(const Pnm *p, Image *out, char *err, size_t errlen)
{
    int bytes = p->maxval < 256 ? 1 : 2;
    size_t row = (size_t)p->width * (size_t)p->channels * (size_t)bytes;
    size_t count = (size_t)out->channels * (size_t)out->height * (size_t)out->width;
    const unsigned char *s = p->s + p->at;
    for (size_t i = 0; i < count; i++) {
        long long v = bytes == 2 ? (long long)s[2 * i] << 8 | s[2 * i + 1] : s[i];
        if (v > p->maxval) return pnm_above(p, i, v, err, errlen);
    }
    for (int y = 0; y < out->height; y++)
        store_row(out, y, s + (size_t)y * row, bytes, (float)p->maxval);
    return true;
}

/* P2, P3: the samples as decimal numbers. */
static bool pnm_plain(Pnm *p, Image *out, char *err, size_t errlen)
{
    size_t plane = (size_t)out->height * (size_t)out->width;
    size_t count = plane * (size_t)out->channels;
    for (size_t i = 0; i < count; i++) {
        size_t pixel = i / (size_t)p->channels, c = i % (size_t)p->channels;
        long long v;
        PnmToken t = pnm_number(p, p->maxval, &v);
        if (t == PNM_TOO_LARGE) return pnm_above(p, i, v, err, errlen);
        if (t != PNM_NUMBER)
            return fail(err, errlen, "the %s %s where the pixel in row %zu, column %zu should be",
                        p->kind, t == PNM_END ? "ends" : "has something other than a number",
                        pixel / (size_t)p->width + 1, pixel % (size_t)p->width + 1);
        out->pixels[c * plane + pixel] = (float)v / (float)p->maxval;
    }
    return true;
}

/* data starts with "P2", "P3", "P5" or "P6" and a whitespace byte or a comment. */
static bool pnm_decode(const unsigned char *data, size_t size, size_t room, Image *out,
                       char *err, size_t errlen)
{
    Pnm p = { .s = data, .n = size };
    p.channels = data[1] == '3' || data[1] == '6' ? 3 : 1;
    p.kind = p.channels == 3 ? "PPM" : "PGM";
    p.plain = data[1] == '2' || data[1] == '3';
    if (!pnm_header(&p, err, errlen) || !pnm_enough(&p, err, errlen)
        || !image_alloc(out, p.channels, p.height, p.width, 0, room, err, errlen))
        return false;
    return p.plain ? pnm_plain(&p, out, err, errlen) : pnm_binary(&p, out, err, errlen);
}

static bool is_pnm(const unsigned char *data, size_t size)
{
    return size >= 3 && data[0] == 'P' && strchr("2356", data[1]) && data[1]
           && (pnm_space(data[2]) || data[2] == '#');
}

/* ---- PNG --------------------------------------------------------------------------------- */

/* What libpng's callbacks share: the bytes and where reading is, the message, and what is
 * allocated while libpng may jump (freed after it, whichever way it ends). */
typedef struct PngIn {
    const unsigned char *data;
    size_t size, at;
    char *err;
    size_t errlen;
    unsigned char *buf;     /* the decoded rows, owned */
    png_bytep *rows;        /* pointers into buf, owned */
} PngIn;

/* libpng's error callback: keeps a message already written (png_take's), else quotes
 * libpng's, and jumps back to png_run's setjmp. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    PngIn *in = png_get_error_ptr(png);
    if (!in->err[0]) fail(in->err, in->errlen, "it is a damaged PNG (libpng: %s)", msg);
    png_longjmp(png, 1);
}

/* Warnings (a bad CRC in an ancillary chunk, a colour profile libpng dislikes) change nothing
 * nn reads. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_take(png_structp png, png_bytep out, size_t n)
{
    PngIn *in = png_get_io_ptr(png);
    if (n > in->size - in->at) {
        fail(in->err, in->errlen, "the PNG ends too early (is the file cut short?)");
        png_error(png, "cut short");
    }
    memcpy(out, in->data + in->at, n);
    in->at += n;
}

static png_voidp png_get_memory(png_structp png, png_alloc_size_t n)
{
    (void)png;
    return nn_alloc(n ? n : 1);
}

static void png_put_memory(png_structp png, png_voidp p)
{
    (void)png;
    nn_free(p);
}

/* Reads the chunks before the image data. What libpng may read: every chunk but the critical
 * ones and tRNS is skipped unread (nn uses no text, profile or gamma), and no chunk may take
 * more than the room; the image's size is checked here, against the room. False with the
 * message if it does not fit: libpng's own row buffers (two rows of up to 8 bytes a pixel,
 * made by png_read_update_info) must fit too. */
static bool png_header(png_structp png, png_infop info, PngIn *in, size_t room)
{
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_chunk_malloc_max(png, room);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    return image_fits(1, height, width, 16.0 * width, room, in->err, in->errlen);
}

/* The transformations to 8- or 16-bit gray or RGB samples, alpha dropped. */
static void png_setup(png_structp png, png_infop info)
{
    int color = png_get_color_type(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

/* Decodes under libpng's setjmp. Locals are not used after a jump: what it allocates is in
 * *in and *out, which the caller frees. */
static bool png_run(png_structp png, png_infop info, PngIn *in, size_t room, Image *out)
{
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_read_fn(png, in, png_take);
    if (!png_header(png, info, in, room)) return false;
    png_setup(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int channels = png_get_channels(png, info), depth = png_get_bit_depth(png, info);
    if ((channels != 1 && channels != 3) || (depth != 8 && depth != 16))
        return fail(in->err, in->errlen, "libpng gave %d channels of %d bits, which nn does not "
                    "read", channels, depth);
    size_t rowbytes = png_get_rowbytes(png, info);
    double extra = (double)rowbytes * height + (double)height * sizeof(png_bytep) + 16.0 * width;
    if (!image_alloc(out, channels, height, width, extra, room, in->err, in->errlen))
        return false;
    in->buf = nn_alloc(rowbytes * height);
    in->rows = nn_alloc(height * sizeof *in->rows);
    for (png_uint_32 y = 0; y < height; y++) in->rows[y] = in->buf + (size_t)y * rowbytes;
    png_read_image(png, in->rows);
    png_read_end(png, NULL);
    for (png_uint_32 y = 0; y < height; y++)
        store_row(out, (int)y, in->rows[y], depth / 8, depth == 16 ? 65535.0f : 255.0f);
    return true;
}

static bool png_decode(const unsigned char *data, size_t size, size_t room, Image *out,
                       char *err, size_t errlen)
{
    PngIn in = { data, size, 0, err, errlen, NULL, NULL };
    err[0] = '\0';
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &in, png_on_error,
                                               png_on_warning, NULL, png_get_memory,
                                               png_put_memory);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(err, errlen, "libpng could not be set up");
    }
    bool ok = png_run(png, info, &in, room, out);
    png_destroy_read_struct(&png, &info, NULL);
    nn_free(in.buf);
    nn_free(in.rows);
    if (!ok) image_free(out);
    return ok;
}

/* ---- either ------------------------------------------------------------------------------ */

bool image_decode(const unsigned char *data, size_t size, size_t room, Image *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (size == 0) return fail(err, errlen, "the file is empty");
    bool ok;
    if (size >= 8 && png_sig_cmp(data, 0, 8) == 0)
        ok = png_decode(data, size, room, out, err, errlen);
    else if (is_pnm(data, size))
        ok = pnm_decode(data, size, room, out, err, errlen);
    else
        return fail(err, errlen, "it is neither a PNG nor a PGM or PPM image");
    if (!ok) image_free(out);
    return ok;
}
