/* safetensors.h — reading and writing the safetensors format (Hugging Face): an 8-byte
 * little-endian header size N, N bytes of JSON describing each tensor, then the raw data.
 * nn writes and reads F32 only; the reader validates everything and never trusts the file. */
#ifndef NN_SAFETENSORS_H
#define NN_SAFETENSORS_H

#include "common.h"
#include "tensor.h"

#include <stdio.h>

/* The largest header st_parse accepts, as in the reference implementation. */
#define ST_MAX_HEADER 100000000u

/* One tensor to save. `data` holds the product of `dims` floats (1 for rank 0), row-major;
 * nothing is owned. */
typedef struct StTensor {
    const char *name;
    int rank;
    int64_t dims[NN_MAX_RANK];
    const float *data;
} StTensor;

/* One string pair for the header's "__metadata__" object. */
typedef struct StMeta {
    const char *key;
    const char *value;
} StMeta;

/* Writes F32 tensors, in the given order, and string metadata to `path`. The file is written
 * under a unique temporary name in the same directory, flushed and fsync'd, then renamed over
 * `path`, so a failure or crash mid-save never destroys a previous file; the temporary file is
 * removed on any failure. Names and metadata must be valid UTF-8 without NUL (JSON-escaped on
 * output), tensor names unique and not "__metadata__", metadata keys unique, dims >= 0.
 * On failure returns false and puts a lower-case message in err ("cannot write 'm.st': No space
 * left on device"); err may be NULL when errlen is 0. */
bool st_save(const char *path, const StTensor *t, size_t nt, const StMeta *meta, size_t nmeta,
             char *err, size_t errlen);

/* One loaded tensor. `dtype` is always "F32" in a file st_parse accepts; `count` is the number
 * of elements (the product of dims, 1 for rank 0); `data` holds them converted from little
 * endian, owned by the StFile (never NULL, even when count is 0), after st_load or st_parse;
 * st_open leaves it NULL (st_read reads them). `offset`: where they start, in the file
 * (st_open, st_load) or in the data (st_parse). */
typedef struct StEntry {
    char *name;
    char dtype[16];
    int rank;
    int64_t dims[NN_MAX_RANK];
    size_t count;
    float *data;
    uint64_t offset;
} StEntry;

/* A loaded file. Entries and metadata keep the order of the JSON header. Everything is owned;
 * free with st_free. */
typedef struct StFile {
    StEntry *entries;
    size_t count;
    char **meta_keys;
    char **meta_values;
    size_t meta_count;
    size_t *by_name;        /* entry indices in name order (strcmp), for st_find */
    FILE *fp;               /* st_open: the file, open for st_read; else NULL */
} StFile;

/* Reads and fully validates a safetensors file: header size (at least 2 bytes, at most
 * ST_MAX_HEADER, inside the file), strict JSON (objects, arrays, strings, integers; no
 * duplicate keys), every tensor with exactly dtype, shape (at most NN_MAX_RANK non-negative
 * integers) and data_offsets, sizes that agree with shape and dtype, offsets that tile the data
 * from 0 to the end of the file with no gap or overlap, dtype F32. On failure returns false,
 * leaves *out zeroed with nothing allocated, and puts a message without the path in err, for
 * the caller to prefix ("No such file or directory", "the file is truncated: tensor 'w' needs
 * bytes 0..400 of the data, the file has 200"). */
bool st_load(const char *path, StFile *out, char *err, size_t errlen);

/* st_load's checks without reading any tensor: the header is read and validated against the
 * file's size (so every tensor's bytes are inside the file), the data are left NULL and the
 * file stays open for st_read until st_free. The header and its index (names, shapes,
 * offsets: about 250 bytes a tensor) may take at most `room` bytes of memory (SIZE_MAX: no
 * limit); past it st_open fails, before allocating it, with "its header (120 MiB) is larger
 * than the memory limit leaves room for (10 MiB); raise it with --max-memory" or "its header
 * describes more tensors and metadata than the memory limit leaves room for (...)". Other
 * messages as st_load's. */
bool st_open(const char *path, size_t room, StFile *out, char *err, size_t errlen);

/* Reads elements [from, from + count) of e (an entry of f, which st_open opened) into dst,
 * converted from little endian. On failure (an I/O error, or a file that became shorter since
 * st_open: "the file ended early while it was read (did it change?)") returns false with a
 * message in err; dst is then partly written. Never allocates. */
bool st_read(const StFile *f, const StEntry *e, size_t from, float *dst, size_t count,
             char *err, size_t errlen);

/* The same from memory (the whole file in buf), with the same messages. Never reads outside
 * buf[0..len). */
bool st_parse(const unsigned char *buf, size_t len, StFile *out, char *err, size_t errlen);

/* Frees everything a successful st_load/st_parse/st_open allocated, closes st_open's file and
 * zeroes *f. Safe on a zeroed StFile and on NULL. */
void st_free(StFile *f);

/* The entry (a binary search: O(log n)) or metadata value (a walk) with this name, or NULL. */
const StEntry *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);

#endif
