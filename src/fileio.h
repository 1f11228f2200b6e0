/* fileio.h — writing a file so that a crash never leaves it half-written: everything goes to a
 * new temporary file in the same directory, which is synced and then renamed over the target
 * (rename is atomic), keeping the old file's permissions. Used for checkpoints, the HTML
 * page, loss curves and saved sessions. */
#ifndef NN_FILEIO_H
#define NN_FILEIO_H

#include "common.h"

typedef struct AtomicFile {
    int fd;
    char *tmp;              /* the temporary file's name, owned */
    char *path;             /* the target, owned */
    int slot;               /* where nn_remove_temp_files finds tmp, or -1 */
} AtomicFile;

/* Creates the temporary file (first removing stale ones of PATH whose writer is gone: see
 * fileio.c), and records it for nn_remove_temp_files until it is committed or given up. False with "cannot write 'path': reason" in err on failure. */
bool afile_open(AtomicFile *f, const char *path, char *err, size_t errlen);
/* Appends n bytes; false on a write error (report it with afile_commit's or afile_fail's
 * message: errno is kept). */
bool afile_write(AtomicFile *f, const void *data, size_t n);
/* Syncs, closes and renames over the target; false (temporary file removed) with a message
 * on failure. Frees f's names either way. */
bool afile_commit(AtomicFile *f, char *err, size_t errlen);
/* Gives up: closes and removes the temporary file; with err, the message for errno. */
void afile_fail(AtomicFile *f, char *err, size_t errlen);

/* The whole of a buffer as a file, atomically. */
bool afile_write_all(const char *path, const void *data, size_t n, char *err, size_t errlen);

#endif
