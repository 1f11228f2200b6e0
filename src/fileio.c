/* fileio.c — atomic file writes (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void message(char *err, size_t errlen, const char *path, int code)
{
    if (err && errlen) snprintf(err, errlen, "cannot write '%s': %s", path, strerror(code));
}

bool afile_open(AtomicFile *f, const char *path, char *err, size_t errlen)
{
    size_t len = strlen(path);
    f->fd = -1;
    f->path = nn_strndup(path, len);
    f->tmp = nn_alloc(len + 48);
    /* a unique name in the same directory, so that the rename is atomic */
    for (unsigned k = 0; f->fd < 0; k++) {
        if (k == 0) snprintf(f->tmp, len + 48, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(f->tmp, len + 48, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd < 0 && (errno != EEXIST || k == 1000)) {
            message(err, errlen, path, errno);
            nn_free(f->tmp);
            nn_free(f->path);
            f->tmp = f->path = NULL;
            return false;
        }
    }
    struct stat old;
    if (stat(path, &old) == 0 && S_ISREG(old.st_mode)) (void)fchmod(f->fd, old.st_mode & 07777);
    return true;
}

bool afile_write(AtomicFile *f, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void release(AtomicFile *f)
{
    nn_free(f->tmp);
    nn_free(f->path);
    f->tmp = f->path = NULL;
    f->fd = -1;
}

void afile_fail(AtomicFile *f, char *err, size_t errlen)
{
    int code = errno;
    if (err) message(err, errlen, f->path, code);
    if (f->fd >= 0) close(f->fd);
    (void)unlink(f->tmp);
    release(f);
}

/* Makes sure the rename reaches the disk: fsync the directory holding path. Best effort. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? nn_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : nn_strndup(".", 1);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    nn_free(dir);
}

bool afile_commit(AtomicFile *f, char *err, size_t errlen)
{
    if (fsync(f->fd) != 0) {
        afile_fail(f, err, errlen);
        return false;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0 || rename(f->tmp, f->path) != 0) {
        afile_fail(f, err, errlen);
        return false;
    }
    sync_parent_dir(f->path);
    release(f);
    return true;
}

bool afile_write_all(const char *path, const void *data, size_t n, char *err, size_t errlen)
{
    AtomicFile f;
    if (!afile_open(&f, path, err, errlen)) return false;
    if (!afile_write(&f, data, n)) {
        afile_fail(&f, err, errlen);
        return false;
    }
    return afile_commit(&f, err, errlen);
}
