/* safetensors.h — reading and writing the safetensors format (Hugging Face): an 8-byte
 * little-endian header size N, N bytes of JSON describing each tensor, then the raw data.
 * nn writes and reads F32 only; the reader validates everything and never trusts the file. */
#ifndef NN_SAFETENSORS_H
#define NN_SAFETENSORS_H

#include "common.h"
#include "tensor.h"

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
 * endian, owned by the StFile (never NULL, even when count is 0). */
typedef struct StEntry {
    char *name;
    char dtype[16];
    int rank;
    int64_t dims[NN_MAX_RANK];
    size_t count;
    float *data;
} StEntry;

/* A loaded file. Entries and metadata keep the order of the JSON header. Everything is owned;
 * free with st_free. */
typedef struct StFile {
    StEntry *entries;
    size_t count;
    char **meta_keys;
    char **meta_values;
    size_t meta_count;
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

/* The same from memory (the whole file in buf), with the same messages. Never reads outside
 * buf[0..len). */
bool st_parse(const unsigned char *buf, size_t len, StFile *out, char *err, size_t errlen);

/* Frees everything a successful st_load/st_parse allocated and zeroes *f. Safe on a zeroed
 * StFile and on NULL. */
void st_free(StFile *f);

/* The entry or metadata value with this name, or NULL. */
const StEntry *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);

#endif
