/* fuzz_image.c — libFuzzer harness for the image decoders (image.c: PNG through libpng, PGM
 * and PPM by hand): the input is one image file's bytes, decoded with 16 MiB of room. A
 * decoded image must keep image.h's promises (1 or 3 channels, at least one pixel, at most
 * INT_MAX samples, each in [0, 1]); a failure must come with a one-line message and leave
 * nothing allocated (LeakSanitizer sees the rest, libpng's jumps included). */
#include "fuzz_common.h"

#include "image.h"

#include <limits.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(const Image *img, const char *err, size_t cap)
{
    size_t n = strnlen(err, cap);
    if (n == 0) fuzz_fail("image_decode failed without a message");
    if (n == cap) fuzz_fail("image_decode's message is not terminated");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err[i] < 0x20)
            fuzz_fail("control character 0x%02x in the message '%s'", (unsigned char)err[i],
                      err);
    if (img->pixels || img->channels || img->height || img->width)
        fuzz_fail("a failed decode left an image behind: %s", err);
}

static void check_image(const Image *img)
{
    if (img->channels != 1 && img->channels != 3)
        fuzz_fail("%d channels", img->channels);
    if (img->height < 1 || img->width < 1) fuzz_fail("%d x %d pixels", img->width, img->height);
    double samples = (double)img->channels * img->height * img->width;
    if (samples > INT_MAX) fuzz_fail("%.0f samples", samples);
    for (size_t i = 0; i < (size_t)samples; i++)
        if (!(img->pixels[i] >= 0 && img->pixels[i] <= 1))
            fuzz_fail("sample %zu is %g, not in [0, 1]", i, (double)img->pixels[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Image img;
    char err[512] = "";
    if (image_decode(data, size, (size_t)16 << 20, &img, err, sizeof err)) {
        check_image(&img);
        image_free(&img);
    } else {
        check_failure(&img, err, sizeof err);
    }
    return 0;
}
