/* sandbox.c — the policy for opening named files, and the walk that holds it (see sandbox.h). */
#define _GNU_SOURCE             /* O_PATH */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_PATH                  /* not Linux: sandbox_enable refuses, so the walk never runs */
#define O_PATH O_RDONLY
#endif

/* Why a name is refused, besides the system's errno values (which are all smaller). */
enum {
    WHY_OUTSIDE = 100000,       /* under no allowed folder */
    WHY_LINK,                   /* a symbolic link on the way leads out */
    WHY_NOT_REGULAR,            /* a read of a device, a pipe, a socket */
    WHY_WRITE_LINK,             /* a write whose last name is a symbolic link */
};

void sandbox_init(Sandbox *sb)
{
    memset(sb, 0, sizeof *sb);
}

static void free_dirs(SandboxDir *d, int n)
{
    for (int i = 0; i < n; i++) {
        close(d[i].fd);
        nn_free(d[i].path);
    }
    nn_free(d);
}

void sandbox_free(Sandbox *sb)
{
    free_dirs(sb->read, sb->n_read);
    free_dirs(sb->write, sb->n_write);
    sandbox_init(sb);
}

/* ---- names as text ---------------------------------------------------------------------------- */

bool sandbox_normalize(const char *cwd, const char *path, char *out, size_t outlen)
{
    NN_ASSERT(outlen >= 2);
    size_t n = 0;
    const char *parts[2] = { path[0] == '/' ? "" : cwd, path };
    for (int k = 0; k < 2; k++) {
        const char *p = parts[k];
        for (;;) {
            while (*p == '/') p++;
            size_t len = strcspn(p, "/");
            if (len == 0) break;
            if (len == 2 && p[0] == '.' && p[1] == '.') {
                while (n > 0 && out[n - 1] != '/') n--;     /* drop "/name" */
                if (n > 0) n--;
            } else if (!(len == 1 && p[0] == '.')) {
                if (n + 1 + len + 1 > outlen) return false;
                out[n++] = '/';
                memcpy(out + n, p, len);
                n += len;
            }
            p += len;
        }
    }
    if (n == 0) out[n++] = '/';
    out[n] = '\0';
    return true;
}

/* The current directory, in a new string (nn_free it); NULL with errno set if it has none. */
static char *current_dir(void)
{
    for (size_t cap = 256;; cap *= 2) {
        char *buf = nn_alloc(cap);
        if (getcwd(buf, cap)) return buf;
        int e = errno;
        nn_free(buf);
        if (e != ERANGE) {
            errno = e;
            return NULL;
        }
    }
}

/* `name` as a normalized absolute path in out[PATH_MAX]; 0, or an errno value. */
static int absolute(const char *name, char out[PATH_MAX])
{
    char *cwd = NULL;
    if (name[0] != '/' && !(cwd = current_dir())) return errno;
    bool fits = sandbox_normalize(cwd ? cwd : "/", name, out, PATH_MAX);
    nn_free(cwd);
    return fits ? 0 : ENAMETOOLONG;
}

/* The part of abs under the folder `dir` ("" for dir itself), or NULL if abs is not under it.
 * Both are normalized absolute paths. */
static const char *under(const char *dir, const char *abs)
{
    size_t n = strlen(dir);
    if (n == 1) return abs + 1;                 /* dir is "/" */
    if (strncmp(abs, dir, n) != 0) return NULL;
    if (abs[n] == '\0') return abs + n;
    return abs[n] == '/' ? abs + n + 1 : NULL;
}

/* ---- the walk --------------------------------------------------------------------------------- */

/* Opens `rel` ("a/b/c", or "" for the folder itself) beneath the folder descriptor `dir`, one
 * name at a time with O_PATH | O_NOFOLLOW, each from the descriptor of the one before, so no
 * symbolic link is followed and nothing outside `dir` is reached. Every name but the last must
 * be a folder; the last too when `dirs`. Returns a new O_PATH descriptor, or minus a WHY_ code
 * or errno value. */
static int walk(int dir, const char *rel, bool dirs)
{
    int fd = fcntl(dir, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return -errno;
    while (*rel) {
        size_t len = strcspn(rel, "/");
        char name[NAME_MAX + 1];
        if (len > NAME_MAX) {
            close(fd);
            return -ENAMETOOLONG;
        }
        memcpy(name, rel, len);
        name[len] = '\0';
        rel += len + (rel[len] == '/');
        int next = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        int code = next < 0 ? errno : 0;
        close(fd);
        if (next < 0) return -code;
        struct stat st;
        if (fstat(next, &st) != 0) code = errno;
        else if (S_ISLNK(st.st_mode)) code = WHY_LINK;
        else if ((*rel || dirs) && !S_ISDIR(st.st_mode)) code = ENOTDIR;
        if (code) {
            close(next);
            return -code;
        }
        fd = next;
    }
    return fd;
}

/* Walks to abs from each allowed folder it lies under. A descriptor, or minus the reason:
 * WHY_OUTSIDE when it is under none; a reason found inside beats a link out. */
static int reach(const SandboxDir *dirs, int n, const char *abs, bool want_dir)
{
    int why = WHY_OUTSIDE;
    for (int i = 0; i < n; i++) {
        const char *rel = under(dirs[i].path, abs);
        if (!rel) continue;
        int fd = walk(dirs[i].fd, rel, want_dir);
        if (fd >= 0) return fd;
        if (why == WHY_OUTSIDE || why == WHY_LINK) why = -fd;
    }
    return -why;
}

/* reach(), then, for a name refused as outside or through a link, its real path: a link that
 * leads to an allowed folder is followed that way (walked again, so still without links). */
static int resolve(const SandboxDir *dirs, int n, const char *abs, bool want_dir)
{
    int fd = reach(dirs, n, abs, want_dir);
    if (fd != -WHY_OUTSIDE && fd != -WHY_LINK) return fd;
    char real[PATH_MAX];
    if (!realpath(abs, real)) return fd;
    int again = reach(dirs, n, real, want_dir);
    return again >= 0 ? again : fd;
}

/* An O_PATH descriptor of the regular file `name` may be read from, or minus the reason. */
static int reach_file(const Sandbox *sb, const char *name)
{
    char abs[PATH_MAX];
    int code = absolute(name, abs);
    if (code) return -code;
    int fd = resolve(sb->read, sb->n_read, abs, false);
    if (fd < 0) return fd;
    struct stat st;
    code = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR
           : !S_ISREG(st.st_mode) ? WHY_NOT_REGULAR : 0;
    if (code) {
        close(fd);
        return -code;
    }
    return fd;
}

/* An O_PATH descriptor of the folder `name` may be read from, or minus the reason; its
 * normalized absolute name in abs. */
static int reach_dir(const Sandbox *sb, const char *name, char abs[PATH_MAX])
{
    int code = absolute(name, abs);
    if (code) return -code;
    return resolve(sb->read, sb->n_read, abs, true);
}

/* ---- messages --------------------------------------------------------------------------------- */

static void explain(const Sandbox *sb, int why, bool write, char *buf, size_t len)
{
    const char *text;
    switch (why) {
    case WHY_OUTSIDE:
        text = !write ? "--sandbox reads only under the current directory, the script's folder "
                        "and --allow-read folders"
               : sb->n_write ? "--sandbox writes only under the --allow-write folders"
                             : "--sandbox writes only under --allow-write folders, and none "
                               "was given";
        break;
    case WHY_LINK: text = "it leads outside the folders --sandbox allows, through a symbolic link";
        break;
    case WHY_NOT_REGULAR: text = "not a regular file"; break;
    case WHY_WRITE_LINK: text = "it is a symbolic link, and --sandbox writes through none"; break;
    default: text = strerror(why); break;
    }
    snprintf(buf, len, "%s", text);
}

/* For a relative name missing in the current directory: the same name beside the script, in
 * buf, if it is there (and may be read) as a file, or as a folder when `dir`. */
static bool beside_script(const Sandbox *sb, const char *name, bool dir, char *buf, size_t len)
{
    const char *slash = sb->script ? strrchr(sb->script, '/') : NULL;
    if (!slash || name[0] == '/') return false;
    int n = snprintf(buf, len, "%.*s/%s", (int)(slash - sb->script), sb->script, name);
    if (n < 0 || (size_t)n >= len) return false;
    if (!sb->on) {
        struct stat st;
        return stat(buf, &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    }
    char abs[PATH_MAX];
    int fd = dir ? reach_dir(sb, buf, abs) : reach_file(sb, buf);
    if (fd < 0) return false;
    close(fd);
    return true;
}

/* Appends the hint that `there` (the name beside the script) exists. */
static void add_hint(char *why, size_t len, const char *there)
{
    size_t n = strlen(why);
    snprintf(why + n, len - n, "; it is beside the script, as '%s' (file names are relative "
             "to the current directory)", there);
}

/* ---- the policy ------------------------------------------------------------------------------- */

static void file_init(SandboxFile *f, const char *name)
{
    f->path = f->name = name;
    f->fd = -1;
    f->own = NULL;
}

bool sandbox_read(const Sandbox *sb, const char *name, SandboxFile *f, char *why, size_t whylen)
{
    file_init(f, name);
    if (!sb) return true;
    char there[PATH_MAX];
    if (!sb->on) {          /* the caller opens it, and says what is wrong, but for the hint */
        struct stat st;
        if (name[0] == '/' || stat(name, &st) == 0 || errno != ENOENT
            || !beside_script(sb, name, false, there, sizeof there))
            return true;
        explain(sb, ENOENT, false, why, whylen);
        add_hint(why, whylen, there);
        return false;
    }
    int fd = reach_file(sb, name);
    if (fd < 0) {
        explain(sb, -fd, false, why, whylen);
        if (-fd == ENOENT && beside_script(sb, name, false, there, sizeof there))
            add_hint(why, whylen, there);
        return false;
    }
    f->fd = fd;
    f->own = nn_alloc(32);
    snprintf(f->own, 32, "/proc/self/fd/%d", fd);
    f->path = f->own;
    return true;
}

bool sandbox_write(const Sandbox *sb, const char *name, SandboxFile *f, char *err, size_t errlen)
{
    file_init(f, name);
    if (!sb || !sb->on) return true;
    char abs[PATH_MAX];
    int why = absolute(name, abs);
    char *leaf = why ? abs : strrchr(abs, '/') + 1;
    int dir = -1;
    if (!why && !*leaf) why = EISDIR;          /* "/" */
    if (!why) {
        leaf[-1] = '\0';                        /* abs is now the folder, leaf the name in it */
        dir = resolve(sb->write, sb->n_write, abs[0] ? abs : "/", true);
        if (dir < 0) why = -dir;
    }
    struct stat st;
    if (!why && fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0)
        why = S_ISLNK(st.st_mode) ? WHY_WRITE_LINK : S_ISDIR(st.st_mode) ? EISDIR : 0;
    else if (!why && errno != ENOENT)
        why = errno;
    if (why) {
        if (dir >= 0) close(dir);
        char text[256];
        explain(sb, why, true, text, sizeof text);
        snprintf(err, errlen, "cannot write '%s': %s", name, text);
        return false;
    }
    size_t len = strlen(leaf) + 32;
    f->fd = dir;
    f->own = nn_alloc(len);
    snprintf(f->own, len, "/proc/self/fd/%d/%s", dir, leaf);
    f->path = f->own;
    return true;
}

void sandbox_done(SandboxFile *f, char *msg, size_t msglen)
{
    if (msg && msglen && f->own) {      /* every f->path in msg becomes f->name */
        size_t from = strlen(f->path), to = strlen(f->name);
        char *text = nn_strndup(msg, strlen(msg));
        size_t n = 0;
        for (const char *p = text; *p && n + 1 < msglen;) {
            bool match = strncmp(p, f->path, from) == 0;
            const char *piece = match ? f->name : p;
            size_t len = match ? to : 1;
            if (len > msglen - 1 - n) len = msglen - 1 - n;
            memcpy(msg + n, piece, len);
            n += len;
            p += match ? from : 1;
        }
        msg[n] = '\0';
        nn_free(text);
    }
    if (f->fd >= 0) close(f->fd);
    nn_free(f->own);
    file_init(f, f->name);
}

/* ---- listing a folder ---------------------------------------------------------------------- */

/* The reason `why` in words, in a new string. */
static char *reason(const Sandbox *sb, int why)
{
    char text[256];
    explain(sb, why, false, text, sizeof text);
    return nn_strndup(text, strlen(text));
}

/* A descriptor to read the entries of the folder `name` from, or minus the reason. With the
 * policy on, abs gets the folder's normalized absolute name (for entry_kind's walks). */
static int open_folder(const Sandbox *sb, const char *name, char abs[PATH_MAX])
{
    if (!sb || !sb->on) {   /* (O_NONBLOCK: a pipe named as the folder must not hang) */
        int fd = open(name, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    int at = reach_dir(sb, name, abs);
    if (at < 0) return at;
    int fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int code = fd < 0 ? errno : 0;
    close(at);
    return fd < 0 ? -code : fd;
}

/* What the entry `name` of the folder `dir` (abs, when the policy is on) is. Off, links are
 * followed; on, a link is walked as a read of it would be, and refused as such a read would
 * be. *why gets the reason for OTHER and REFUSED. */
static SandboxKind entry_kind(const Sandbox *sb, int dir, const char *abs, const char *name,
                              char **why)
{
    bool on = sb && sb->on;
    struct stat st;
    int code = fstatat(dir, name, &st, on ? AT_SYMLINK_NOFOLLOW : 0) != 0 ? errno : 0;
    if (!code && on && S_ISLNK(st.st_mode)) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/%s", abs[1] ? abs : "", name);
        int fd = n < 0 || (size_t)n >= sizeof path ? -ENAMETOOLONG
                                                   : resolve(sb->read, sb->n_read, path, false);
        if (fd == -WHY_LINK || fd == -WHY_OUTSIDE) {
            *why = reason(sb, -fd);
            return SANDBOX_REFUSED;
        }
        code = fd < 0 ? -fd : fstat(fd, &st) != 0 ? errno : 0;
        if (fd >= 0) close(fd);
    }
    if (!code && S_ISDIR(st.st_mode)) return SANDBOX_DIR;
    if (!code && S_ISREG(st.st_mode)) return SANDBOX_FILE;
    *why = reason(sb, code ? code : WHY_NOT_REGULAR);
    return SANDBOX_OTHER;
}

static int entry_order(const void *a, const void *b)
{
    return strcmp(((const SandboxEntry *)a)->name, ((const SandboxEntry *)b)->name);
}

/* Reads the entries of the open folder d into *out; 0, or an errno value. */
static int read_entries(const Sandbox *sb, DIR *d, const char *abs, SandboxList *out)
{
    int cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) return errno;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (out->count == cap) {
            cap = cap ? cap * 2 : 16;
            out->items = nn_realloc(out->items, (size_t)cap * sizeof *out->items);
        }
        SandboxEntry *it = &out->items[out->count++];
        it->name = nn_strndup(e->d_name, strlen(e->d_name));
        it->why = NULL;
        it->kind = entry_kind(sb, dirfd(d), abs, e->d_name, &it->why);
    }
}

bool sandbox_list(const Sandbox *sb, const char *name, SandboxList *out, char *why,
                  size_t whylen)
{
    out->items = NULL;
    out->count = 0;
    char abs[PATH_MAX] = "/", there[PATH_MAX];
    int fd = open_folder(sb, name, abs);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    int code = fd < 0 ? -fd : !d ? errno : read_entries(sb, d, abs, out);
    if (d) closedir(d);
    else if (fd >= 0) close(fd);
    if (code) {
        sandbox_list_free(out);
        explain(sb, code, false, why, whylen);
        if (code == ENOENT && sb && beside_script(sb, name, true, there, sizeof there))
            add_hint(why, whylen, there);
        return false;
    }
    if (out->count) qsort(out->items, (size_t)out->count, sizeof *out->items, entry_order);
    return true;
}

void sandbox_list_free(SandboxList *list)
{
    for (int i = 0; i < list->count; i++) {
        nn_free(list->items[i].name);
        nn_free(list->items[i].why);
    }
    nn_free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* ---- the allowed folders ---------------------------------------------------------------------- */

bool sandbox_allow(Sandbox *sb, const char *dir, bool write, char *err, size_t errlen)
{
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    char real[PATH_MAX], link[64];
    ssize_t n = -1;
    if (fd >= 0) {  /* its path, from the descriptor itself: what was opened, not a new lookup */
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, real, sizeof real - 1);
    }
    if (n <= 0 || real[0] != '/') {
        snprintf(err, errlen, "cannot use '%s': %s", dir, strerror(fd < 0 || n < 0 ? errno : ENOENT));
        if (fd >= 0) close(fd);
        return false;
    }
    real[n] = '\0';
    SandboxDir **list = write ? &sb->write : &sb->read;
    int *count = write ? &sb->n_write : &sb->n_read, *cap = write ? &sb->cap_write : &sb->cap_read;
    for (int i = 0; i < *count; i++)
        if (strcmp((*list)[i].path, real) == 0) {
            close(fd);
            return true;
        }
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *list = nn_realloc(*list, (size_t)*cap * sizeof **list);
    }
    (*list)[(*count)++] = (SandboxDir){ nn_strndup(real, (size_t)n), fd };
    return true;
}

bool sandbox_enable(Sandbox *sb, char *err, size_t errlen)
{
    if (sb->on) {           /* once: the current directory is the one of the first call */
        if (sb->broken) snprintf(err, errlen, "--sandbox could not be set up");
        return !sb->broken;
    }
    sb->on = true;          /* first: whatever fails below leaves less allowed, never more */
    sb->broken = true;
#ifndef __linux__
    snprintf(err, errlen, "--sandbox is not supported on this system");
    return false;
#else
    if (access("/proc/self/fd", F_OK) != 0) {
        snprintf(err, errlen, "--sandbox needs /proc/self/fd, and /proc is not mounted");
        return false;
    }
    sb->broken = !sandbox_allow(sb, ".", false, err, errlen);
    return !sb->broken;
#endif
}
