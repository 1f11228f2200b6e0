/* test_limits.c — stopping a run: the temporary files of atomic writes, removed by
 * nn_remove_temp_files, and left-overs of killed runs removed by the next save. */
#include "testutil.h"

#include "nn.h"

#include "fileio.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- temporary files ------------------------------------------------------------------------ */

static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("stale", fp);
    fclose(fp);
}

/* A process that has ended: its PID names a writer that is gone. */
static long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

/* Stale FILE.tmp.PID files of writers that are gone (another PID, or this one reused) are
 * removed by the next save of FILE; a live writer's file and other names are left alone. */
static void test_stale_temp_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/nn-limits-XXXXXX", path[256], name[320];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    long gone = dead_pid();
    snprintf(name, sizeof name, "%s.tmp.%ld", path, gone);
    touch(name);
    snprintf(name, sizeof name, "%s.tmp.%ld.3", path, gone);
    touch(name);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getpid());   /* a reused PID: ours */
    touch(name);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getppid());  /* alive */
    touch(name);
    snprintf(name, sizeof name, "%s/other.safetensors.tmp.%ld", dir, gone);   /* not ours */
    touch(name);
    char err[256];
    assert_true(afile_write_all(path, "data", 4, err, sizeof err));
    assert_int_equal(count_tmp(dir), 2);
    snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getppid());
    assert_int_equal(access(name, F_OK), 0);
    unlink(name);
    snprintf(name, sizeof name, "%s/other.safetensors.tmp.%ld", dir, gone);
    assert_int_equal(access(name, F_OK), 0);
    unlink(name);
    unlink(path);
    rmdir(dir);
}

/* nn_remove_temp_files removes the temporary file of a write in progress (as a signal handler
 * would before ending the process); the target stays as it was, and the write fails. */
static void test_remove_temp_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/nn-limits-XXXXXX", path[256], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/page.html", dir);
    assert_true(afile_write_all(path, "old", 3, err, sizeof err));
    AtomicFile a, b;
    assert_true(afile_open(&a, path, err, sizeof err));
    assert_true(afile_open(&b, path, err, sizeof err));
    assert_true(afile_write(&a, "new", 3));
    assert_int_equal(count_tmp(dir), 2);
    nn_remove_temp_files();
    assert_int_equal(count_tmp(dir), 0);
    assert_false(afile_commit(&a, err, sizeof err));
    afile_fail(&b, NULL, 0);
    FILE *fp = fopen(path, "r");
    char text[8] = "";
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    assert_string_equal(text, "old");
    /* the slots are free again: a new write is recorded and committed */
    assert_true(afile_write_all(path, "newer", 5, err, sizeof err));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_temp_files),
        cmocka_unit_test(test_remove_temp_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
