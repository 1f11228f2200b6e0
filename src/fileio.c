/* fileio.c — atomic file writes (see fileio.h), the temporary files of the writes in progress
 * (so a signal handler can remove them), and the stale ones killed runs left behind. */
#include "fileio.h"

#include "nn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the temporary files being written ----------------------------------------------------
 * Process-wide, and the one other global besides the Ctrl-C flag: a signal handler that ends the
 * process at once (a second Ctrl-C) has no other way to reach them. A slot is claimed with a
 * compare-and-swap (sessions may save from several threads), its name copied, then published;
 * the handler removes only published names, with unlink, which is async-signal-safe. A write
 * that finds every slot taken still works; only a process killed during it keeps its file. */

#define TEMP_SLOTS 8
enum { SLOT_FREE, SLOT_CLAIMED, SLOT_PUBLISHED };
static atomic_int temp_state[TEMP_SLOTS];
static char temp_name[TEMP_SLOTS][PATH_MAX];

static int temp_register(const char *tmp)
{
    if (strlen(tmp) >= PATH_MAX) return -1;
    for (int i = 0; i < TEMP_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&temp_state[i], &expect, SLOT_CLAIMED)) continue;
        strcpy(temp_name[i], tmp);
        atomic_store(&temp_state[i], SLOT_PUBLISHED);
        return i;
    }
    return -1;
}

static void temp_unregister(int slot)
{
    if (slot >= 0) atomic_store(&temp_state[slot], SLOT_FREE);
}

void nn_remove_temp_files(void)
{
    for (int i = 0; i < TEMP_SLOTS; i++)
        if (atomic_load(&temp_state[i]) == SLOT_PUBLISHED) (void)unlink(temp_name[i]);
}

/* ---- stale temporary files ------------------------------------------------------------------
 * A run killed while saving (kill -9, a crash) leaves PATH.tmp.PID[.K] behind, as large as the
 * file. The next save of PATH removes those whose writer is gone: the PID is not a live process,
 * the file is a regular file of this user. A live writer's file is never touched, so two
 * processes saving the same file stay safe; nor is one with this process's own PID, which may be
 * another session's write in progress (its name cannot tell: under the sandbox each write names
 * its folder by a descriptor of its own). A stale file whose PID was reused by this process does
 * not block a save either: the save takes the next free name, PATH.tmp.PID.1. */

/* The PID in NAME if it is BASE.tmp.PID or BASE.tmp.PID.K, else 0. */
static long stale_pid(const char *name, const char *base, size_t base_len)
{
    if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, ".tmp.", 5) != 0) return 0;
    const char *p = name + base_len + 5;
    char *end;
    if (*p < '1' || *p > '9') return 0;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || pid <= 0) return 0;
    if (*end == '.') {
        if (end[1] < '0' || end[1] > '9') return 0;
        strtoul(end + 1, &end, 10);
    }
    return *end == '\0' ? pid : 0;
}

static void remove_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base), dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    if (!base_len) return;
    DIR *dir;
    if (slash) {
        char *d = nn_strndup(path, dir_len);
        dir = opendir(d);
        nn_free(d);
    } else {
        dir = opendir(".");
    }
    if (!dir) return;
    char *full = nn_alloc(dir_len + NAME_MAX + 1);
    memcpy(full, path, dir_len);
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        long pid = stale_pid(e->d_name, base, base_len);
        if (!pid || strlen(e->d_name) > NAME_MAX) continue;
        strcpy(full + dir_len, e->d_name);
        struct stat st;
        if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) continue;
        if (pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) (void)unlink(full);
    }
    nn_free(full);
    closedir(dir);
}

/* ---- atomic writes --------------------------------------------------------------------------- */

static void message(char *err, size_t errlen, const char *path, int code)
{
    if (err && errlen) snprintf(err, errlen, "cannot write '%s': %s", path, strerror(code));
}

bool afile_open(AtomicFile *f, const char *path, char *err, size_t errlen)
{
    size_t len = strlen(path);
    f->fd = -1;
    f->slot = -1;
    remove_stale(path);
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
    f->slot = temp_register(f->tmp);
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
    temp_unregister(f->slot);
    f->slot = -1;
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
