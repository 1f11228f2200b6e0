/* main.c — the `nn` command: a thin client of the public API in nn.h. */
#include "nn.h"
#include "repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: nn [options] [FILE.nn | -e CODE]\n"
    "\n"
    "Runs a script of the nn language: tensors, params, forward and backward passes,\n"
    "optimizer steps, and traces that explain backpropagation step by step.\n"
    "\n"
    "  nn FILE.nn          run a script ('-' reads standard input)\n"
    "  nn -e CODE          run CODE given on the command line\n"
    "  nn                  an interactive session on a terminal; otherwise runs standard\n"
    "                      input as a script\n"
    "\n"
    "options:\n"
    "  --check             parse and check names and shapes only; run nothing\n"
    "  --trace             explain every backward pass and the update after it\n"
    "  --trace=dot         draw every backward pass's graph in Graphviz DOT instead\n"
    "  --trace=json        write every traced pass and update as JSON Lines events\n"
    "  --trace-full        show tensors of up to 4096 elements in full in traces\n"
    "  --trace-steps A-B   explain updates A to B of every train block (or one: N)\n"
    "  --plot CURVE.svg    write each train block's loss curve as SVG\n"
    "  --max-memory MIB    the most memory the tensors may take (default 4096)\n"
    "  --threads N         threads for large matrix products (default: one per\n"
    "                      processor, at most 8); the results are the same for any N\n"
    "  --break WHERE       stop every train block at a prompt: step=N (before update N),\n"
    "                      nonfinite (at the first inf or NaN) or grad_norm=X (when the\n"
    "                      gradient norm is above X); :continue goes on\n"
    "  --html PAGE.html    write a page that steps through every traced pass, update\n"
    "                      and the loss curve (self-contained; open it in a browser)\n"
    "  --seed N            seed the random numbers, 0 to 4294967295 (default 42)\n"
    "  -h, --help          show this help and exit\n"
    "  --version           show the version and exit\n"
    "\n"
    "exit status: 0 success, 1 run-time error, 2 usage or compile error\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "nn: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(run 'nn --help' for usage)\n");
    return 2;
}

/* --html: the JSON trace is collected here, then drawn into the page. */
typedef struct Collected {
    char *text;
    size_t len, cap;
} Collected;

static void collect(void *ud, const char *text, size_t len)
{
    Collected *c = ud;
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : 65536;
        while (cap < c->len + len) cap *= 2;
        char *grown = realloc(c->text, cap);
        if (!grown) {
            fputs("nn: out of memory\n", stderr);
            exit(2);
        }
        c->text = grown;
        c->cap = cap;
    }
    memcpy(c->text + c->len, text, len);
    c->len += len;
}

static int exit_status(NnStatus st)
{
    return st == NN_OK ? 0 : st == NN_ERROR_RUNTIME ? 1 : st == NN_INTERRUPTED ? 130 : 2;
}

int main(int argc, char **argv)
{
    const char *code = NULL, *file = NULL;
    int check = 0, trace = 0;
    const char *format = "text", *html = NULL, *plot = NULL;
    int full = 0;
    size_t max_memory = 0;
    long steps_from = 0, steps_to = 0;
    const char *seed = NULL;
    const char *breaks[8];
    size_t n_breaks = 0;
    int threads = 0;        /* 0: one per processor, at most 8 */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("nn %s\n", nn_version());
            return 0;
        } else if (strcmp(a, "--check") == 0) {
            check = 1;
        } else if (strcmp(a, "--trace") == 0 || strcmp(a, "--trace=text") == 0) {
            trace = 1;
        } else if (strcmp(a, "--trace=dot") == 0 || strcmp(a, "--trace=json") == 0) {
            trace = 1;
            format = a + 8;
        } else if (strcmp(a, "--trace-full") == 0) {
            full = 1;
        } else if (strcmp(a, "--trace-steps") == 0 || strncmp(a, "--trace-steps=", 14) == 0) {
            const char *v = a[13] == '=' ? a + 14 : (++i < argc ? argv[i] : NULL);
            char *end;
            if (!v) return usage_error("%s needs steps, as in 1-3", a);
            steps_from = strtol(v, &end, 10);
            steps_to = *end == '-' ? strtol(end + 1, &end, 10) : steps_from;
            if (*end || steps_from < 1 || steps_to < steps_from)
                return usage_error("--trace-steps needs steps from 1, as in 5 or 1-3, not '%s'", v);
        } else if (strcmp(a, "--max-memory") == 0 || strncmp(a, "--max-memory=", 13) == 0) {
            const char *v = a[12] == '=' ? a + 13 : (++i < argc ? argv[i] : NULL);
            char *end;
            if (!v) return usage_error("%s needs a size in MiB", a);
            errno = 0;
            unsigned long long mib = strtoull(v, &end, 10);
            if (*v == '-' || *end || errno || mib == 0 || mib > (1ull << 40))
                return usage_error("--max-memory needs a size in MiB from 1, not '%s'", v);
            max_memory = (size_t)mib << 20;
        } else if (strcmp(a, "--plot") == 0) {
            if (++i == argc) return usage_error("%s needs the SVG file's name", a);
            plot = argv[i];
        } else if (strncmp(a, "--plot=", 7) == 0) {
            plot = a + 7;
        } else if (strcmp(a, "--html") == 0) {
            if (++i == argc) return usage_error("%s needs the page's file name", a);
            html = argv[i];
        } else if (strncmp(a, "--html=", 7) == 0) {
            html = a + 7;
        } else if (strcmp(a, "--break") == 0 || strncmp(a, "--break=", 8) == 0) {
            const char *v = a[7] == '=' ? a + 8 : (++i < argc ? argv[i] : NULL);
            if (!v) return usage_error("%s needs a breakpoint: step=N, nonfinite or grad_norm=X", a);
            if (n_breaks == sizeof breaks / sizeof *breaks)
                return usage_error("%s", "too many --break options");
            breaks[n_breaks++] = v;
        } else if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (++i < argc ? argv[i] : NULL);
            char *end;
            if (!v) return usage_error("%s needs a number of threads", a);
            errno = 0;
            long t = strtol(v, &end, 10);
            if (*end || errno || t < 1 || t > 64)
                return usage_error("--threads needs a number from 1 to 64, not '%s'", v);
            threads = (int)t;
        } else if (strcmp(a, "--seed") == 0) {
            if (++i == argc) return usage_error("%s needs a number", a);
            seed = argv[i];
        } else if (strncmp(a, "--seed=", 7) == 0) {
            seed = a + 7;
        } else if (strcmp(a, "-e") == 0) {
            if (++i == argc) return usage_error("%s needs code to run", a);
            if (code) return usage_error("%s", "give -e only once");
            code = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else {
            if (file) return usage_error("give one script (also got '%s')", a);
            file = a;
        }
    }
    if (code && file) return usage_error("give a FILE or -e CODE, not both (got '%s')", file);

    if (!threads) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
    }
    nn_set_threads(threads);
    NnState *nn = nn_new();
    if (seed) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed, &end, 10);
        /* the same range as the language's `seed` statement */
        if (*seed == '\0' || *end != '\0' || *seed == '-' || errno == ERANGE ||
            v > 4294967295ull) {
            nn_close(nn);
            return usage_error("--seed needs an integer from 0 to 4294967295, not '%s'", seed);
        }
        nn_set_seed(nn, (uint64_t)v);
    }
    Collected events = { NULL, 0, 0 };
    if (html) {         /* every pass and update, as events, into the page */
        trace = 1;
        format = "json";
        nn_set_output(nn, collect, &events);
    }
    nn_set_trace(nn, trace);
    nn_set_trace_format(nn, format);
    if (plot) nn_set_plot(nn, plot);
    nn_set_trace_full(nn, full);
    if (max_memory) nn_set_max_memory(nn, max_memory);
    nn_set_trace_steps(nn, steps_from, steps_to);
    nn_set_progress(nn, isatty(STDOUT_FILENO));
    for (size_t b = 0; b < n_breaks; b++)
        if (!nn_set_breakpoint(nn, breaks[b])) {
            nn_close(nn);
            return usage_error("--break takes step=N, nonfinite or grad_norm=X, not '%s'",
                               breaks[b]);
        }
    if (!html) nn_set_break_handler(nn, repl_on_break, NULL);   /* a page has no prompt */

    NnStatus st;
    if (code) {
        st = check ? nn_check_string(nn, "<-e>", code) : nn_run_string(nn, "<-e>", code);
    } else {
        if (!file) {
            if (isatty(STDIN_FILENO) && !check) return repl_run(nn, trace);
            file = "-";
        }
        st = check ? nn_check_file(nn, file) : nn_run_file(nn, file);
    }
    if (html && !check) {
        NnStatus written = nn_write_html(nn, html, events.text ? events.text : "", events.len);
        if (written == NN_OK) fprintf(stderr, "nn: wrote %s\n", html);
        else if (st == NN_OK) st = written;
    }
    free(events.text);
    nn_close(nn);
    fflush(stdout);
    return exit_status(st);
}
