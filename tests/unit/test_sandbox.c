/* test_sandbox.c — the file policy (src/sandbox.c) and the API around it: names made absolute
 * as text, what is read and written under --sandbox and what is refused (outside, links out,
 * links swapped in while reading), the messages, and the hint for a name beside the script. */
#include "testutil.h"

#include "nn.h"
#include "sandbox.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[PATH_MAX];      /* the temporary tree: top/work (the current directory),
                                   top/work/out (a write folder), top/outside */
static char home[PATH_MAX];     /* where the tests were started */

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int setup(void **state)
{
    (void)state;
    if (!getcwd(home, sizeof home)) return -1;
    snprintf(top, sizeof top, "/tmp/nn-test-sandbox-XXXXXX");
    if (!mkdtemp(top)) return -1;
    if (chdir(top) != 0) return -1;
    if (mkdir("work", 0755) || mkdir("work/data", 0755) || mkdir("work/out", 0755)
        || mkdir("work/sub", 0755) || mkdir("outside", 0755))
        return -1;
    put("outside/secret.csv", "SECRET,y\n1,2\n");
    put("work/data/ok.csv", "a,y\n1,2\n");
    put("work/sub/beside.csv", "a,y\n1,2\n");
    char abs[PATH_MAX + 32];
    snprintf(abs, sizeof abs, "%s/outside/secret.csv", top);
    if (symlink("../outside/secret.csv", "work/up.csv") || symlink(abs, "work/abs.csv")
        || symlink("../outside", "work/updir") || symlink("data/ok.csv", "work/in.csv")
        || symlink("../../outside/secret.csv", "work/out/victim.st")
        || symlink("/dev/zero", "work/zero.csv") || mkfifo("work/fifo.csv", 0644))
        return -1;
    snprintf(abs, sizeof abs, "%s/work/data/ok.csv", top);
    if (symlink(abs, "work/absin.csv")) return -1;
    return chdir("work");
}

static int teardown(void **state)
{
    (void)state;
    if (chdir(home) != 0) return -1;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- names as text ------------------------------------------------------------------------- */

static void test_normalize(void **state)
{
    (void)state;
    static const struct { const char *cwd, *path, *want; } cases[] = {
        { "/w", "a.csv", "/w/a.csv" },
        { "/w", "./a//b/./c", "/w/a/b/c" },
        { "/w/x", "../a", "/w/a" },
        { "/w", "../../../../etc/passwd", "/etc/passwd" },
        { "/w", "/etc/../etc/./passwd", "/etc/passwd" },
        { "/w", "a/b/../../..", "/" },
        { "/", "..", "/" },
        { "/w", "a/", "/w/a" },
        { "/w", "", "/w" },
        { "/w", "...", "/w/..." },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(cases); i++) {
        char out[64];
        assert_true(sandbox_normalize(cases[i].cwd, cases[i].path, out, sizeof out));
        assert_string_equal(out, cases[i].want);
    }
    char small[8];
    assert_false(sandbox_normalize("/w", "abcdefgh", small, sizeof small));
}

/* ---- the policy ---------------------------------------------------------------------------- */

/* Reads what sandbox_read let through, as a caller does: by f->path. */
static void read_back(const SandboxFile *f, char *buf, size_t len)
{
    FILE *fp = fopen(f->path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, len - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

static void expect_refused(const Sandbox *sb, const char *name, const char *why_part)
{
    SandboxFile f;
    char why[512];
    if (sandbox_read(sb, name, &f, why, sizeof why)) {
        sandbox_done(&f, NULL, 0);
        fail_msg("'%s' was let through", name);
    }
    if (!strstr(why, why_part)) fail_msg("'%s': '%s' does not say '%s'", name, why, why_part);
    assert_null(strstr(why, "SECRET"));
}

static void test_read(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    char err[256];
    assert_true(sandbox_enable(&sb, err, sizeof err));
    const char *ok[] = { "data/ok.csv", "in.csv", "absin.csv", "./data/../data/ok.csv" };
    for (size_t i = 0; i < NN_ARRAY_LEN(ok); i++) {
        SandboxFile f;
        char why[256], text[64];
        assert_true(sandbox_read(&sb, ok[i], &f, why, sizeof why));
        assert_memory_equal(f.path, "/proc/self/fd/", 14);
        read_back(&f, text, sizeof text);
        assert_string_equal(text, "a,y\n1,2\n");
        sandbox_done(&f, NULL, 0);
        assert_int_equal(f.fd, -1);
    }
    const char *outside = "--sandbox reads only under";
    const char *link = "through a symbolic link";
    expect_refused(&sb, "/etc/passwd", outside);
    expect_refused(&sb, "../outside/secret.csv", outside);
    expect_refused(&sb, "../outside/no_such.csv", outside);    /* the same words: */
    expect_refused(&sb, "/proc/self/environ", outside);        /* existence is not told */
    expect_refused(&sb, "/dev/zero", outside);
    expect_refused(&sb, "up.csv", link);
    expect_refused(&sb, "abs.csv", link);
    expect_refused(&sb, "updir/secret.csv", link);
    expect_refused(&sb, "updir/no_such.csv", link);
    expect_refused(&sb, "zero.csv", link);
    expect_refused(&sb, "fifo.csv", "not a regular file");     /* and it does not block */
    expect_refused(&sb, "data", "Is a directory");
    expect_refused(&sb, "no_such.csv", "No such file or directory");
    sandbox_free(&sb);
}

static void test_allow_read(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    char err[PATH_MAX + 64];
    assert_true(sandbox_enable(&sb, err, sizeof err));
    assert_false(sandbox_allow(&sb, "no_such_dir", false, err, sizeof err));
    assert_string_equal(err, "cannot use 'no_such_dir': No such file or directory");
    assert_false(sandbox_allow(&sb, "data/ok.csv", false, err, sizeof err));
    assert_string_equal(err, "cannot use 'data/ok.csv': Not a directory");
    assert_true(sandbox_allow(&sb, "../outside", false, err, sizeof err));
    SandboxFile f;
    char why[256], text[64];
    /* now the link to it leads inside: followed by its real path */
    assert_true(sandbox_read(&sb, "up.csv", &f, why, sizeof why));
    read_back(&f, text, sizeof text);
    assert_string_equal(text, "SECRET,y\n1,2\n");
    sandbox_done(&f, NULL, 0);
    sandbox_free(&sb);
}

static void test_write(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    char err[512];
    SandboxFile f;
    assert_true(sandbox_enable(&sb, err, sizeof err));
    assert_false(sandbox_write(&sb, "out/m.st", &f, err, sizeof err));
    assert_string_equal(err, "cannot write 'out/m.st': --sandbox writes only under "
                             "--allow-write folders, and none was given");
    assert_true(sandbox_allow(&sb, "out", true, err, sizeof err));
    assert_true(sandbox_write(&sb, "out/m.st", &f, err, sizeof err));
    assert_non_null(strstr(f.path, "/m.st"));
    put(f.path, "written");
    sandbox_done(&f, NULL, 0);
    assert_true(exists("out/m.st"));

    static const struct { const char *name, *msg; } refused[] = {
        { "m.st", "cannot write 'm.st': --sandbox writes only under the --allow-write folders" },
        { "../outside/m.st", "cannot write '../outside/m.st': --sandbox writes only under the "
                             "--allow-write folders" },
        { "updir/m.st", "cannot write 'updir/m.st': --sandbox writes only under the "
                        "--allow-write folders" },
        { "out/victim.st", "cannot write 'out/victim.st': it is a symbolic link, and "
                           "--sandbox writes through none" },
        { "out/no_dir/m.st", "cannot write 'out/no_dir/m.st': No such file or directory" },
        { "/", "cannot write '/': Is a directory" },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(refused); i++) {
        assert_false(sandbox_write(&sb, refused[i].name, &f, err, sizeof err));
        assert_string_equal(err, refused[i].msg);
    }
    assert_false(exists("../outside/m.st"));
    assert_false(exists("m.st"));
    /* a link to a folder outside, inside the write folder */
    assert_int_equal(symlink("../../outside", "out/dirlink"), 0);
    assert_false(sandbox_write(&sb, "out/dirlink/m.st", &f, err, sizeof err));
    assert_string_equal(err, "cannot write 'out/dirlink/m.st': it leads outside the folders "
                             "--sandbox allows, through a symbolic link");
    unlink("out/dirlink");
    sandbox_free(&sb);
}

static void test_done_puts_the_name_back(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    char err[256], msg[256];
    assert_true(sandbox_enable(&sb, err, sizeof err));
    SandboxFile f;
    assert_true(sandbox_read(&sb, "data/ok.csv", &f, err, sizeof err));
    snprintf(msg, sizeof msg, "cannot read '%s': Input/output error ('%s')", f.path, f.path);
    sandbox_done(&f, msg, sizeof msg);
    assert_string_equal(msg, "cannot read 'data/ok.csv': Input/output error ('data/ok.csv')");
    sandbox_free(&sb);
}

static void test_off_passes_names_on(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    SandboxFile f;
    char why[512];
    const char *names[] = { "/etc/passwd", "up.csv", "no_such.csv", "beside.csv" };
    for (size_t i = 0; i < NN_ARRAY_LEN(names); i++) {
        assert_true(sandbox_read(&sb, names[i], &f, why, sizeof why));
        assert_ptr_equal(f.path, names[i]);
        sandbox_done(&f, NULL, 0);
        assert_true(sandbox_write(&sb, names[i], &f, why, sizeof why));
        assert_ptr_equal(f.path, names[i]);
        sandbox_done(&f, NULL, 0);
    }
    assert_true(sandbox_read(NULL, "x", &f, why, sizeof why));
    /* the hint: a missing relative name that is beside the script */
    sb.script = "sub/script.nn";
    assert_false(sandbox_read(&sb, "beside.csv", &f, why, sizeof why));
    assert_string_equal(why, "No such file or directory; it is beside the script, as "
                             "'sub/beside.csv' (file names are relative to the current "
                             "directory)");
    assert_true(sandbox_read(&sb, "no_such.csv", &f, why, sizeof why));     /* no hint */
    sb.script = "script.nn";
    assert_true(sandbox_read(&sb, "beside.csv", &f, why, sizeof why));
    sandbox_free(&sb);
}

static void test_hint_in_the_sandbox(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    char why[512];
    SandboxFile f;
    assert_true(sandbox_enable(&sb, why, sizeof why));
    sb.script = "sub/script.nn";
    assert_false(sandbox_read(&sb, "beside.csv", &f, why, sizeof why));
    assert_non_null(strstr(why, "as 'sub/beside.csv'"));
    /* never for what lies outside: beside a script in updir (a link to ../outside) there is a
     * secret.csv, but the hint must not tell */
    sb.script = "updir/script.nn";
    assert_false(sandbox_read(&sb, "secret.csv", &f, why, sizeof why));
    assert_string_equal(why, "No such file or directory");
    sandbox_free(&sb);
}

/* ---- races: a link swapped in while the name is read ---------------------------------------- */

static volatile int swapping;

/* Makes work/swap the folder swap_dir, then the link swap_link (to ../outside), and so on, by
 * renames (each atomic). */
static void *swapper(void *arg)
{
    (void)arg;
    while (swapping) {
        rename("swap_dir", "swap");
        rename("swap", "swap_dir");
        rename("swap_link", "swap");
        rename("swap", "swap_link");
        sched_yield();   /* under valgrind, which runs one thread at a time, lets the reader run */
    }
    return NULL;
}

static void test_swapped_link(void **state)
{
    (void)state;
    assert_int_equal(mkdir("swap_dir", 0755), 0);
    put("swap_dir/secret.csv", "a,y\n1,2\n");   /* the same name as the one outside */
    assert_int_equal(symlink("../outside", "swap_link"), 0);
    Sandbox sb;
    sandbox_init(&sb);
    char why[256];
    assert_true(sandbox_enable(&sb, why, sizeof why));
    swapping = 1;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, swapper, NULL), 0);
    int read = 0, refused = 0;
    for (int i = 0; i < 4000; i++) {
        SandboxFile f;
        if (!sandbox_read(&sb, "swap/secret.csv", &f, why, sizeof why)) {
            refused++;
            continue;
        }
        char text[64] = "";
        FILE *fp = fopen(f.path, "rb");
        if (fp) {
            text[fread(text, 1, sizeof text - 1, fp)] = '\0';
            fclose(fp);
        }
        sandbox_done(&f, NULL, 0);
        assert_null(strstr(text, "SECRET"));
        read++;
    }
    swapping = 0;
    pthread_join(t, NULL);
    sandbox_free(&sb);
    print_message("swap: %d reads, %d refused\n", read, refused);
}

/* ---- the API ---------------------------------------------------------------------------------- */

static void capture(void *ud, const char *text, size_t len)
{
    char *buf = ud;
    size_t n = strlen(buf);
    if (n + len >= 4096) len = 4096 - 1 - n;
    memcpy(buf + n, text, len);
    buf[n + len] = '\0';
}

static NnState *session(char *err)
{
    err[0] = '\0';
    NnState *nn = nn_new();
    nn_set_errors(nn, capture, err);
    nn_set_output(nn, capture, err);
    return nn;
}

/* ---- listing a folder (images) ------------------------------------------------------------ */

/* The entry `name` of list, which must be there. */
static const SandboxEntry *entry(const SandboxList *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, name) == 0) return &list->items[i];
    fail_msg("no entry '%s' in the listing", name);
    return NULL;
}

static void expect_kind(const SandboxList *list, const char *name, SandboxKind kind,
                        const char *why_part)
{
    const SandboxEntry *e = entry(list, name);
    if (e->kind != kind) fail_msg("'%s' is of kind %d, not %d", name, (int)e->kind, (int)kind);
    if (!why_part) {
        assert_null(e->why);
        return;
    }
    assert_non_null(e->why);
    if (!strstr(e->why, why_part)) fail_msg("'%s': '%s' does not say '%s'", name, e->why, why_part);
}

static void test_list(void **state)
{
    (void)state;
    Sandbox sb;
    sandbox_init(&sb);
    char why[512];
    SandboxList list;
    /* off: links are followed, the entries sorted, "." and ".." left out */
    assert_true(sandbox_list(&sb, ".", &list, why, sizeof why));
    for (int i = 1; i < list.count; i++)
        assert_true(strcmp(list.items[i - 1].name, list.items[i].name) < 0);
    for (int i = 0; i < list.count; i++) assert_true(list.items[i].name[0] != '.');
    expect_kind(&list, "data", SANDBOX_DIR, NULL);
    expect_kind(&list, "in.csv", SANDBOX_FILE, NULL);
    expect_kind(&list, "up.csv", SANDBOX_FILE, NULL);
    expect_kind(&list, "updir", SANDBOX_DIR, NULL);
    expect_kind(&list, "zero.csv", SANDBOX_OTHER, "not a regular file");
    expect_kind(&list, "fifo.csv", SANDBOX_OTHER, "not a regular file");
    sandbox_list_free(&list);
    assert_int_equal(list.count, 0);
    assert_true(sandbox_list(&sb, "../outside", &list, why, sizeof why));
    expect_kind(&list, "secret.csv", SANDBOX_FILE, NULL);
    sandbox_list_free(&list);
    assert_false(sandbox_list(&sb, "data/ok.csv", &list, why, sizeof why));
    assert_string_equal(why, "Not a directory");
    assert_false(sandbox_list(&sb, "fifo.csv", &list, why, sizeof why));   /* no waiting */
    assert_false(sandbox_list(NULL, "no_such", &list, why, sizeof why));
    assert_string_equal(why, "No such file or directory");
    assert_null(list.items);

    /* on: a link is followed only where a read of it would be, and refused as such a read */
    char err[256];
    assert_true(sandbox_enable(&sb, err, sizeof err));
    assert_true(sandbox_list(&sb, ".", &list, why, sizeof why));
    expect_kind(&list, "data", SANDBOX_DIR, NULL);
    expect_kind(&list, "in.csv", SANDBOX_FILE, NULL);
    expect_kind(&list, "absin.csv", SANDBOX_FILE, NULL);
    expect_kind(&list, "up.csv", SANDBOX_REFUSED, "through a symbolic link");
    expect_kind(&list, "abs.csv", SANDBOX_REFUSED, "through a symbolic link");
    expect_kind(&list, "updir", SANDBOX_REFUSED, "through a symbolic link");
    expect_kind(&list, "zero.csv", SANDBOX_REFUSED, "through a symbolic link");
    expect_kind(&list, "fifo.csv", SANDBOX_OTHER, "not a regular file");
    sandbox_list_free(&list);
    assert_true(sandbox_list(&sb, "./data/../data", &list, why, sizeof why));
    assert_int_equal(list.count, 1);
    expect_kind(&list, "ok.csv", SANDBOX_FILE, NULL);
    sandbox_list_free(&list);
    const char *refused[][2] = {
        { "../outside", "--sandbox reads only under" },
        { "/proc/self/cwd/../outside", "--sandbox reads only under" },
        { "/etc", "--sandbox reads only under" },
        { "updir", "through a symbolic link" },
        { "data/ok.csv", "Not a directory" },
        { "no_such", "No such file or directory" },
    };
    for (size_t i = 0; i < NN_ARRAY_LEN(refused); i++) {
        if (sandbox_list(&sb, refused[i][0], &list, why, sizeof why))
            fail_msg("'%s' was listed", refused[i][0]);
        if (!strstr(why, refused[i][1]))
            fail_msg("'%s': '%s' does not say '%s'", refused[i][0], why, refused[i][1]);
        assert_null(list.items);
    }
    /* the hint for a folder beside the script */
    sb.script = "sub/script.nn";
    assert_true(mkdir("sub/pics", 0755) == 0);
    assert_false(sandbox_list(&sb, "pics", &list, why, sizeof why));
    assert_string_equal(why, "No such file or directory; it is beside the script, as "
                             "'sub/pics' (file names are relative to the current directory)");
    assert_true(rmdir("sub/pics") == 0);
    sb.script = NULL;
    sandbox_free(&sb);
}

static void test_api(void **state)
{
    (void)state;
    static char err[4096];
    NnState *nn = session(err);
    assert_int_equal(nn_sandbox(nn), NN_OK);
    assert_int_equal(nn_run_string(nn, "t", "model m { dense(2, 1) }"), NN_OK);
    /* :save */
    assert_int_equal(nn_save_session(nn, "../outside/session.nn"), NN_ERROR_IO);
    assert_string_equal(err, "nn: error: cannot write '../outside/session.nn': --sandbox writes "
                             "only under --allow-write folders, and none was given\n");
    assert_false(exists("../outside/session.nn"));
    /* --html */
    err[0] = '\0';
    assert_int_equal(nn_write_html(nn, "../outside/page.html", "", 0), NN_ERROR_IO);
    assert_false(exists("../outside/page.html"));
    /* :load and nn_check_file */
    put("../outside/evil.nn", "print \"SECRET\"\n");
    err[0] = '\0';
    assert_int_equal(nn_run_file(nn, "../outside/evil.nn"), NN_ERROR_IO);
    assert_int_equal(nn_check_file(nn, "../outside/evil.nn"), NN_ERROR_IO);
    assert_null(strstr(err, "SECRET"));
    /* a run-time save and load */
    err[0] = '\0';
    assert_int_equal(nn_run_string(nn, "t", "save m \"../outside/m.st\""), NN_ERROR_RUNTIME);
    assert_non_null(strstr(err, "cannot write '../outside/m.st'"));
    assert_false(exists("../outside/m.st"));
    /* a folder allowed for writing, and one that is not there (the sandbox stays on) */
    err[0] = '\0';
    assert_int_equal(nn_sandbox_allow(nn, "no_such_dir", 1), NN_ERROR_IO);
    assert_string_equal(err, "nn: error: cannot use 'no_such_dir': No such file or directory\n");
    assert_int_equal(nn_sandbox_allow(nn, "out", 1), NN_OK);
    assert_int_equal(nn_save_session(nn, "out/session.nn"), NN_OK);
    assert_int_equal(nn_run_string(nn, "t", "save m \"out/m.st\"\nload m \"out/m.st\""), NN_OK);
    /* --plot: a warning, and nothing written */
    nn_set_plot(nn, "../outside/curve.svg");
    err[0] = '\0';
    assert_int_equal(nn_run_string(nn, "t", "let d = xor(8)\ntrain m on d { loss bce_logits; "
                                   "optimizer sgd(lr = 0.1); epochs 1; batch 8 }"), NN_OK);
    assert_non_null(strstr(err, "warning: cannot write '../outside/curve.svg'"));
    assert_false(exists("../outside/curve.svg"));
    nn_close(nn);

    /* nn_sandbox_allow alone turns the sandbox on */
    nn = session(err);
    assert_int_equal(nn_sandbox_allow(nn, "out", 1), NN_OK);
    assert_int_equal(nn_run_string(nn, "t", "let d = csv(\"/etc/passwd\", target = \"y\")"),
                     NN_ERROR_COMPILE);
    assert_non_null(strstr(err, "--sandbox reads only under"));
    assert_null(strstr(err, "root"));
    nn_close(nn);

    /* without a sandbox nothing changes */
    nn = session(err);
    assert_int_equal(nn_run_string(nn, "t", "model m { dense(2, 1) }\nsave m \"../outside/m.st\""),
                     NN_OK);
    assert_true(exists("../outside/m.st"));
    unlink("../outside/m.st");
    nn_close(nn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_allow_read),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_done_puts_the_name_back),
        cmocka_unit_test(test_off_passes_names_on),
        cmocka_unit_test(test_hint_in_the_sandbox),
        cmocka_unit_test(test_swapped_link),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
