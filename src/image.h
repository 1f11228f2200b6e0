/* image.h — decodes one image file's bytes, PNG (with libpng) or Netpbm's PGM and PPM, into
 * floats in [0, 1], channel first. Engine code: knows nothing of files, folders or the
 * language; a file that is not an image, or a damaged one, comes back as a message. */
#ifndef NN_IMAGE_H
#define NN_IMAGE_H

#include "common.h"

/* One decoded image: pixels[(c * height + y) * width + x] is channel c of the pixel in row y
 * (from the top), column x (from the left), as PyTorch's [C, H, W]. */
typedef struct Image {
    int channels;           /* 1 (gray) or 3 (red, green, blue) */
    int height, width;
    float *pixels;          /* channels x height x width, owned (image_free) */
} Image;

/* Decodes data[0..size) into *out (zeroed first; free it with image_free). Each sample is
 * divided by the format's largest value (255 for 8-bit PNG, 65535 for 16-bit, the PGM's
 * maxval), in float, as torchvision's ToTensor does for 8 bits.
 *
 * Formats, told by the first bytes (never by a file name):
 *   - PNG of any bit depth and colour type: gray (1, 2, 4, 8, 16 bits) gives 1 channel; RGB,
 *     palette (expanded to RGB) gives 3. An alpha channel (gray + alpha, RGBA, a palette's or
 *     a colour's transparency) is dropped, not composited, as PIL's convert("RGB") does. No
 *     gamma or colour profile is applied: the stored values are used as they are. Interlaced
 *     images are read too. Ancillary chunks are ignored; a bad CRC in a critical chunk or in
 *     the image data is an error.
 *   - PGM (P2 plain text, P5 binary) gives 1 channel, PPM (P3, P6) 3; maxval 1 to 65535 (binary
 *     samples are two big-endian bytes above 255). '#' comments may stand wherever whitespace
 *     may, in the header and, for P2 and P3, between samples. Bytes after the first image
 *     are ignored.
 *
 * At most `room` bytes are allocated (the decoded rows and the floats); a larger image is
 * refused before anything is allocated, with a message that names --max-memory. On failure
 * `err` holds a lower-case clause to follow "cannot read the image 'NAME': " ("it is neither
 * a PNG nor a PGM or PPM image", "the PGM ends before its last pixel", "the pixel in row 2,
 * column 5 is 300, above the maxval 255", "libpng: IDAT: CRC error"), and *out holds
 * nothing. Every image has at least one pixel and at most INT_MAX samples. */
bool image_decode(const unsigned char *data, size_t size, size_t room, Image *out, char *err,
                  size_t errlen);

/* Frees what img owns and zeroes it. Harmless on a zeroed Image. */
void image_free(Image *img);

#endif
