/* fuzz_sandbox.c — libFuzzer harness for the sandbox's path checks (src/sandbox.c). The input is
 * up to four names separated by NUL bytes; each is normalized, read and written through a
 * sandbox whose current directory is work/ in this tree (made once, in the scratch directory):
 *     work/            the current directory (readable): data/ok.csv, sub/near.csv
 *     work/out/        the write folder; out/up -> ../../outside, out/secret -> the secret
 *     work/up -> ../outside,  work/f -> ../outside/secret,  work/abs -> (absolute) the secret,
 *     work/in -> data/ok.csv, work/loop -> loop, work/dev -> /dev/zero
 *     outside/secret   "SECRET"
 * Checks: a normalized name is absolute, has no empty, "." or ".." part, and normalizes to
 * itself; what a read lets through is a regular file under work/ (by its descriptor's own
 * path) and never holds SECRET; what a write lets through is a folder under work/out/; a
 * refusal has a message, without SECRET (unless the name has it); a hint names a file that may
 * be read, and never comes for a script in up/ (a link out). */
#include "fuzz_common.h"

#include "sandbox.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Sandbox sb;
static char work[PATH_MAX], out[PATH_MAX];     /* their real paths */

static void must(int ok, const char *what)
{
    if (!ok) fuzz_fail("cannot set up the tree: %s", what);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_workdir(0);
    must(mkdir("outside", 0755) == 0 && mkdir("work", 0755) == 0, "mkdir");
    fuzz_write_file("outside/secret", (const uint8_t *)"SECRET\n", 7);
    must(chdir("work") == 0 && mkdir("data", 0755) == 0 && mkdir("sub", 0755) == 0
         && mkdir("out", 0755) == 0, "work/");
    fuzz_write_file("data/ok.csv", (const uint8_t *)"a,y\n1,2\n", 8);
    fuzz_write_file("sub/near.csv", (const uint8_t *)"a,y\n1,2\n", 8);
    must(realpath(".", work) != NULL, "realpath");
    char abs[PATH_MAX + 32];
    snprintf(abs, sizeof abs, "%s/../outside/secret", work);
    must(symlink("../outside", "up") == 0 && symlink("../outside/secret", "f") == 0
         && symlink(abs, "abs") == 0 && symlink("data/ok.csv", "in") == 0
         && symlink("loop", "loop") == 0 && symlink("/dev/zero", "dev") == 0
         && symlink("../../outside", "out/up") == 0
         && symlink("../../outside/secret", "out/secret") == 0, "links");
    must(realpath("out", out) != NULL, "realpath out");
    char err[512];
    sandbox_init(&sb);
    must(sandbox_enable(&sb, err, sizeof err), err);
    must(sandbox_allow(&sb, "out", true, err, sizeof err), err);
    return 0;
}

/* The path a descriptor refers to, from /proc. */
static void fd_path(int fd, char *buf, size_t len)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0) fuzz_fail("readlink %s", link);
    buf[n] = '\0';
}

static bool is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void check_normalize(const char *name)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!sandbox_normalize(work, name, a, sizeof a)) return;
    if (a[0] != '/') fuzz_fail("'%s' normalized to '%s', not absolute", name, a);
    for (const char *p = a; *p; p++) {
        if (*p != '/') continue;
        if (p[1] == '/' || (p[1] == '\0' && p != a)
            || (p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
            || (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
            fuzz_fail("'%s' normalized to '%s', which has an empty, . or .. part", name, a);
    }
    if (!sandbox_normalize("/elsewhere", a, b, sizeof b) || strcmp(a, b) != 0)
        fuzz_fail("'%s' normalized to '%s', and that to '%s'", name, a, b);
}

static void check_read(const char *name)
{
    SandboxFile f;
    char why[PATH_MAX + 256];
    if (!sandbox_read(&sb, name, &f, why, sizeof why)) {
        if (!why[0] || (strstr(why, "SECRET") && !strstr(name, "SECRET")))
            fuzz_fail("'%s' refused with '%s'", name, why);
        if (strstr(why, "; it is beside the script, as '")) {     /* the hint: */
            char there[PATH_MAX + 8];                               /* script's folder + name */
            const char *dir = sb.script;
            if (strncmp(dir, "up/", 3) == 0) fuzz_fail("'%s': a hint for up/: %s", name, why);
            snprintf(there, sizeof there, "sub/%s", name);
            SandboxFile g;
            char w2[PATH_MAX + 256];
            if (!sandbox_read(&sb, there, &g, w2, sizeof w2))
                fuzz_fail("'%s': the hint names '%s', which is refused: %s", name, there, w2);
            sandbox_done(&g, NULL, 0);
        }
        return;
    }
    char real[PATH_MAX];
    fd_path(f.fd, real, sizeof real);
    if (!is_under(real, work)) fuzz_fail("'%s' was let through to '%s'", name, real);
    struct stat st;
    if (fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) fuzz_fail("'%s': not a file", name);
    FILE *fp = fopen(f.path, "rb");
    if (!fp) fuzz_fail("'%s' was let through, but %s cannot be opened", name, f.path);
    char text[64];
    text[fread(text, 1, sizeof text - 1, fp)] = '\0';
    fclose(fp);
    if (strstr(text, "SECRET")) fuzz_fail("'%s' read the secret", name);
    sandbox_done(&f, NULL, 0);
}

static void check_write(const char *name)
{
    SandboxFile f;
    char err[PATH_MAX + 256];
    if (!sandbox_write(&sb, name, &f, err, sizeof err)) {
        if (strncmp(err, "cannot write '", 14) != 0
            || (strstr(err, "SECRET") && !strstr(name, "SECRET")))
            fuzz_fail("'%s' refused with '%s'", name, err);
        return;
    }
    char real[PATH_MAX];
    fd_path(f.fd, real, sizeof real);
    if (!is_under(real, out)) fuzz_fail("'%s' may be written in '%s'", name, real);
    const char *leaf = strrchr(f.path, '/');
    struct stat st;
    if (!leaf || !leaf[1] || strcmp(leaf + 1, "..") == 0 || strcmp(leaf + 1, ".") == 0
        || (fstatat(f.fd, leaf + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)))
        fuzz_fail("'%s' may be written as '%s'", name, f.path);
    sandbox_done(&f, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[2048];
    size_t at = 0;
    for (int k = 0; k < 4 && at <= size; k++) {
        size_t n = 0;
        while (at + n < size && data[at + n] != '\0' && n < sizeof name - 1) n++;
        memcpy(name, data + at, n);
        name[n] = '\0';
        at += n + 1;
        sb.script = k % 2 ? "sub/script.nn" : "up/script.nn";
        check_normalize(name);
        check_read(name);
        check_write(name);
    }
    return 0;
}
