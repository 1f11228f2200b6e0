/* fuzz_common.c — the scratch directory and small helpers shared by the harnesses. */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NN_SOURCE_DIR
#error "compile with -DNN_SOURCE_DIR=\"/path/to/the/repository\""
#endif

static char workdir[4096];

_Noreturn void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "==fuzz== invariant failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

double fuzz_env_num(const char *name, double def)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    double d = strtod(v, &end);
    return end != v ? d : def;
}

void fuzz_discard(void *ud, const char *text, size_t len)
{
    (void)ud;
    (void)text;
    (void)len;
}

void fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fuzz_fail("cannot create %s/%s: %s", workdir, name, strerror(errno));
    while (size > 0) {
        ssize_t w = write(fd, data, size);
        if (w < 0) {
            if (errno == EINTR) continue;
            fuzz_fail("cannot write %s/%s: %s", workdir, name, strerror(errno));
        }
        data += w;
        size -= (size_t)w;
    }
    close(fd);
}

static void make_dirs(const char *rel)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", rel);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        (void)mkdir(buf, 0755);
        *p = '/';
    }
    (void)mkdir(buf, 0755);
}

/* Copies the regular files of NN_SOURCE_DIR/rel into ./rel (not recursive). */
static void copy_dir(const char *rel)
{
    char src[4096];
    snprintf(src, sizeof src, "%s/%s", NN_SOURCE_DIR, rel);
    DIR *d = opendir(src);
    if (!d) {
        fprintf(stderr, "==fuzz== note: no %s (seeds that read it will fail)\n", src);
        return;
    }
    make_dirs(rel);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char from[8192], to[8192];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", rel, e->d_name);
        struct stat sb;
        if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        FILE *in = fopen(from, "rb");
        if (!in) continue;
        uint8_t *buf = malloc((size_t)sb.st_size + 1);
        size_t n = fread(buf, 1, (size_t)sb.st_size, in);
        fclose(in);
        fuzz_write_file(to, buf, n);
        free(buf);
    }
    closedir(d);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_workdir(void)
{
    if (!workdir[0]) return;
    if (chdir("/") != 0) return;
    nftw(workdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* libFuzzer often ends with _Exit, which skips atexit: directories of processes that are
 * gone ("nn-fuzz-PID-XXXXXX" with no process PID) are removed by the next one. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char rest[64];
        if (sscanf(e->d_name, "nn-fuzz-%ld-%63s", &pid, rest) != 2 || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

const char *fuzz_workdir(int copy_data)
{
    if (workdir[0]) return workdir;
    const char *base = getenv("NN_FUZZ_TMP");
    struct stat sb;
    if (!base || !*base) {
        if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
            base = "/dev/shm";
        else if (!(base = getenv("TMPDIR")) || !*base)
            base = "/tmp";
    }
    remove_stale(base);
    snprintf(workdir, sizeof workdir, "%s/nn-fuzz-%ld-XXXXXX", base, (long)getpid());
    if (!mkdtemp(workdir)) fuzz_fail("cannot make a directory in %s: %s", base, strerror(errno));
    if (chdir(workdir) != 0) fuzz_fail("cannot enter %s: %s", workdir, strerror(errno));
    atexit(remove_workdir);
    if (copy_data) {
        copy_dir("examples/data");
        copy_dir("tests/errors/data");
    }
    return workdir;
}
