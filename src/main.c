/* main.c — the `nn` command: a thin client of the public API in nn.h. Its options are a table
 * (one row each: the name, its value, what sets it, its help), which --help prints. */
#include "nn.h"
#include "nn_commit.h"
#include "repl.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* What the options ask for; the session is made from it once they are all read. */
typedef struct Options {
    const char *code, *file;
    int check, trace, full;
    const char *format, *html, *plot, *seed;
    const char *export_to;  /* --export=FORMAT */
    size_t max_memory;
    uint64_t max_steps;     /* 0: no limit */
    double timeout;         /* seconds; 0: no limit */
    long steps_from, steps_to;
    const char *breaks[8];
    size_t n_breaks;
    int threads;            /* 0: one per processor, at most 8 */
    int sandbox;            /* --sandbox, or implied by an --allow-* */
    int keep_denormals;     /* --keep-denormals */
    int tour;               /* --tour */
    struct { const char *dir; int write; } allow[16];     /* --allow-read, --allow-write */
    size_t n_allow;
} Options;

/* An option's setter: NULL, or what is wrong (a format with one %s, for the value). */
typedef const char *(*OptionFn)(Options *o, const char *value);

static const char *set_check(Options *o, const char *v)
{
    (void)v;
    o->check = 1;
    return NULL;
}

static const char *set_trace(Options *o, const char *v)
{
    (void)v;
    o->trace = 1;
    return NULL;
}

static const char *set_trace_dot(Options *o, const char *v)
{
    (void)v;
    o->trace = 1;
    o->format = "dot";
    return NULL;
}

static const char *set_trace_json(Options *o, const char *v)
{
    (void)v;
    o->trace = 1;
    o->format = "json";
    return NULL;
}

static const char *set_full(Options *o, const char *v)
{
    (void)v;
    o->full = 1;
    return NULL;
}

static const char *set_steps(Options *o, const char *v)
{
    char *end;
    o->steps_from = strtol(v, &end, 10);
    o->steps_to = *end == '-' ? strtol(end + 1, &end, 10) : o->steps_from;
    if (*end || o->steps_from < 1 || o->steps_to < o->steps_from)
        return "--trace-steps needs steps from 1, as in 5 or 1-3, not '%s'";
    return NULL;
}

static const char *set_plot(Options *o, const char *v)
{
    o->plot = v;
    return NULL;
}

static const char *set_max_memory(Options *o, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long mib = strtoull(v, &end, 10);
    if (*v == '-' || *end || errno || mib == 0 || mib > (1ull << 40))
        return "--max-memory needs a size in MiB from 1, not '%s'";
    o->max_memory = (size_t)mib << 20;
    return NULL;
}

static const char *set_threads(Options *o, const char *v)
{
    char *end;
    errno = 0;
    long t = strtol(v, &end, 10);
    if (*end || errno || t < 1 || t > 64) return "--threads needs a number from 1 to 64, not '%s'";
    o->threads = (int)t;
    return NULL;
}

static const char *set_break(Options *o, const char *v)
{
    if (o->n_breaks == sizeof o->breaks / sizeof *o->breaks) return "too many --break options";
    o->breaks[o->n_breaks++] = v;
    return NULL;
}

static const char *set_max_steps(Options *o, const char *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || n == 0)
        return "--max-steps needs a whole number of steps from 1, not '%s'";
    o->max_steps = n;
    return NULL;
}

static const char *set_timeout(Options *o, const char *v)
{
    char *end;
    double t = strtod(v, &end);
    if (end == v || *end || !(t > 0) || t > 1e9 || !isfinite(t))
        return "--timeout needs a number of seconds above 0, as in 30 or 0.5, not '%s'";
    o->timeout = t;
    return NULL;
}

static const char *set_html(Options *o, const char *v)
{
    o->html = v;
    return NULL;
}

static const char *set_export(Options *o, const char *v)
{
    if (strcmp(v, "pytorch") != 0) return "--export takes pytorch (ONNX is `save MODEL \"FILE.onnx\"` in a script), not '%s'";
    o->export_to = v;
    return NULL;
}

static const char *set_seed(Options *o, const char *v)
{
    o->seed = v;        /* read once the session exists */
    return NULL;
}

static const char *set_code(Options *o, const char *v)
{
    if (o->code) return "give -e only once";
    o->code = v;
    return NULL;
}

static const char *set_tour(Options *o, const char *v)
{
    (void)v;
    o->tour = 1;
    return NULL;
}

static const char *set_keep_denormals(Options *o, const char *v)
{
    (void)v;
    o->keep_denormals = 1;
    return NULL;
}

static const char *set_sandbox(Options *o, const char *v)
{
    (void)v;
    o->sandbox = 1;
    return NULL;
}

/* --allow-read DIR, --allow-write DIR: the folder must exist now (it is taken as it is). */
static const char *allow(Options *o, const char *dir, int write)
{
    struct stat st;
    if (o->n_allow == sizeof o->allow / sizeof *o->allow) return "too many --allow options";
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return write ? "--allow-write needs an existing folder, not '%s'"
                     : "--allow-read needs an existing folder, not '%s'";
    o->allow[o->n_allow].dir = dir;
    o->allow[o->n_allow++].write = write;
    o->sandbox = 1;
    return NULL;
}

static const char *set_allow_read(Options *o, const char *v)
{
    return allow(o, v, 0);
}

static const char *set_allow_write(Options *o, const char *v)
{
    return allow(o, v, 1);
}

static const struct Option {
    const char *name;       /* exact, or NAME=VALUE when it takes a value */
    const char *value;      /* the value's name in the help, or NULL: a flag */
    OptionFn set;
    const char *help;       /* a line, or several separated by \n; NULL: not listed */
    const char *needs;      /* what a missing value is ("NAME needs ...") */
} options[] = {
    { "--check", NULL, set_check, "parse and check names and shapes only; run nothing", NULL },
    { "--export", "pytorch", set_export,
      "write the script as one PyTorch program (train.py) on stdout:\n"
      "its models, data and train blocks; torchrun runs it with DDP", "a format: pytorch" },
    { "--trace", NULL, set_trace, "explain every backward pass and the update after it", NULL },
    { "--trace=text", NULL, set_trace, NULL, NULL },
    { "--trace=dot", NULL, set_trace_dot,
      "draw every backward pass's graph in Graphviz DOT instead", NULL },
    { "--trace=json", NULL, set_trace_json,
      "write every traced pass and update as JSON Lines events", NULL },
    { "--trace-full", NULL, set_full, "show tensors of up to 4096 elements in full in traces",
      NULL },
    { "--trace-steps", "A-B", set_steps,
      "explain updates A to B of every train block (or one: N)", "steps, as in 1-3" },
    { "--plot", "CURVE.svg", set_plot, "write each train block's loss curve as SVG",
      "the SVG file's name" },
    { "--max-memory", "MIB", set_max_memory,
      "the most memory the tensors, the optimizer's state and\n"
      "the data read may take (default 4096)", "a size in MiB" },
    { "--threads", "N", set_threads,
      "threads for large matrix products (default: one per\n"
      "processor, at most 8); the results are the same for any N", "a number of threads" },
    { "--tour", NULL, set_tour,
      "a guided tour of backpropagation in the REPL: lessons, code run live, exercises",
      NULL },
    { "--keep-denormals", NULL, set_keep_denormals,
      "train blocks compute with denormal numbers instead of flushing\n"
      "them to zero (slower; for bit-exact comparisons)", NULL },
    { "--break", "WHERE", set_break,
      "stop every train block at a prompt: step=N (before update N),\n"
      "nonfinite (at the first inf or NaN) or grad_norm=X (when the\n"
      "gradient norm is above X); :continue goes on",
      "a breakpoint: step=N, nonfinite or grad_norm=X" },
    { "--max-steps", "N", set_max_steps,
      "stop the script with an error after N steps (a step is a\n"
      "statement run, a loop's test or a train block's update)", "a number of steps" },
    { "--timeout", "SECONDS", set_timeout,
      "stop the script with an error after SECONDS of wall-clock time", "a number of seconds" },
    { "--html", "PAGE.html", set_html,
      "write a page that steps through every traced pass, update\n"
      "and the loss curve (self-contained; open it in a browser)", "the page's file name" },
    { "--seed", "N", set_seed, "seed the random numbers, 0 to 4294967295 (default 42)",
      "a number" },
    { "--sandbox", NULL, set_sandbox,
      "read files only under the current directory and the script's\n"
      "folder, write none, follow no symbolic link out of them", NULL },
    { "--allow-read", "DIR", set_allow_read,
      "with --sandbox (implied), also read under DIR", "a folder" },
    { "--allow-write", "DIR", set_allow_write,
      "with --sandbox (implied), write under DIR", "a folder" },
    { "-e", "CODE", set_code, NULL, "code to run" },
};

static void print_usage(void)
{
    fputs("usage: nn [options] [FILE.nn | -e CODE]\n"
          "\n"
          "Runs a script of the nn language: tensors, params, forward and backward passes,\n"
          "optimizer steps, and traces that explain backpropagation step by step.\n"
          "\n"
          "  nn FILE.nn          run a script ('-' reads standard input)\n"
          "  nn -e CODE          run CODE given on the command line\n"
          "  nn                  an interactive session on a terminal; otherwise runs standard\n"
          "                      input as a script\n"
          "\n"
          "options:\n", stdout);
    for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
        const struct Option *op = &options[i];
        if (!op->help) continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", op->name, op->value ? " " : "",
                 op->value ? op->value : "");
        printf("  %-20s", left);
        for (const char *h = op->help; *h;) {     /* each line of the help, indented */
            size_t n = strcspn(h, "\n");
            printf("%s%.*s\n", h == op->help ? "" : "                      ", (int)n, h);
            h += n + (h[n] == '\n');
        }
    }
    fputs("  -h, --help          show this help and exit\n"
          "  --version           show the version and exit\n"
          "\n"
          "exit status: 0 success, 1 run-time error (or a limit reached), 2 usage or compile\n"
          "error; stopped by SIGINT (Ctrl-C) or SIGTERM: 130 or 143\n", stdout);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "nn: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(run 'nn --help' for usage)\n");
    return 2;
}

/* "nn 0.2.0", and the git commit built from when there is one: "nn 0.2.0 (git 1a2b3c4)". */
static void print_version(void)
{
    if (NN_COMMIT[0])
        printf("nn %s (git %s)\n", nn_version(), NN_COMMIT);
    else
        printf("nn %s\n", nn_version());
}

/* Reads argv into *o; returns -1 to go on, or the exit status. */
static int read_options(int argc, char **argv, Options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage();
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            print_version();
            return 0;
        }
        const struct Option *op = NULL;
        const char *value = NULL;
        for (size_t k = 0; k < sizeof options / sizeof *options && !op; k++) {
            size_t n = strlen(options[k].name);
            if (strcmp(a, options[k].name) == 0) op = &options[k];
            else if (options[k].value && strncmp(a, options[k].name, n) == 0 && a[n] == '=')
                op = &options[k], value = a + n + 1;
        }
        if (!op && a[0] == '-' && a[1] != '\0') return usage_error("unknown option '%s'", a);
        if (!op) {
            if (o->file) return usage_error("give one script (also got '%s')", a);
            o->file = a;
            continue;
        }
        if (op->value && !value) {
            if (++i == argc) {
                fprintf(stderr, "nn: error: %s needs %s\n(run 'nn --help' for usage)\n", a,
                        op->needs);
                return 2;
            }
            value = argv[i];
        }
        const char *wrong = op->set(o, value);
        if (wrong) return usage_error(wrong, value ? value : a);
    }
    if (o->code && o->file)
        return usage_error("give a FILE or -e CODE, not both (got '%s')", o->file);
    if (o->export_to && (o->code || !o->file || o->check || o->html || o->trace))
        return usage_error("--export=%s takes one script FILE, and no -e, --check, --html or "
                           "--trace", o->export_to);
    if (o->tour && (o->file || o->code))
        return usage_error("--tour runs in the REPL: give no FILE or -e CODE with it%s", "");
    return -1;
}

/* --html: the JSON trace is collected here, then drawn into the page: at most
 * HTML_MAX_EVENTS bytes of it, in whole passes. From the first pass that does not fit on,
 * events are dropped (a page holds what a browser can step through; --trace-steps picks the
 * passes), and a "dropped" event at the end tells the page which passes are missing. */
#define HTML_MAX_EVENTS ((size_t)16 << 20)

typedef struct Collected {
    char *text;
    size_t len, cap;
    size_t pass_at;         /* where the events of the pass being collected start */
    int in_pass;            /* the last event kept belongs to a pass (not loss or print) */
    long step;              /* the step of the last "pass" event seen */
    long first_dropped;     /* the first pass not kept (0: none), */
    long last_dropped;      /* the last one (first_dropped - 1 if only loss or print events
                               were dropped) */
} Collected;

/* The number after "step": in a "pass" event line, or -1 if the line is not one. */
static long pass_step(const char *line, size_t n)
{
    static const char head[] = "{\"event\":\"pass\",\"step\":";
    if (n < sizeof head || memcmp(line, head, sizeof head - 1) != 0) return -1;
    long v = 0;
    for (size_t i = sizeof head - 1; i < n && line[i] >= '0' && line[i] <= '9'; i++)
        v = v < 100000000000000L ? v * 10 + (line[i] - '0') : v;
    return v;
}

static void collect(void *ud, const char *text, size_t len)
{
    Collected *c = ud;
    while (len > 0) {       /* one event (line) at a time */
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) + 1 : len;
        long step = pass_step(text, n);
        const char *line = text;
        text += n;
        len -= n;
        if (step >= 0) c->step = step;
        if (c->first_dropped) {
            if (step >= 0) c->last_dropped = step;
            continue;
        }
        if (step >= 0) {
            c->pass_at = c->len;
            c->in_pass = 1;
        } else if (strncmp(line, "{\"event\":\"loss\"", 15) == 0
                   || strncmp(line, "{\"event\":\"print\"", 16) == 0) {
            c->in_pass = 0;
        }
        if (c->len + n > HTML_MAX_EVENTS) {   /* the pass being collected goes too */
            if (c->in_pass) c->len = c->pass_at;
            c->first_dropped = c->in_pass ? c->step : c->step + 1;
            c->last_dropped = c->step;
            continue;
        }
        if (c->len + n > c->cap) {
            size_t cap = c->cap ? c->cap : 65536;
            while (cap < c->len + n) cap *= 2;
            char *grown = realloc(c->text, cap);
            if (!grown) {
                fputs("nn: out of memory\n", stderr);
                exit(2);
            }
            c->text = grown;
            c->cap = cap;
        }
        memcpy(c->text + c->len, line, n);
        c->len += n;
    }
}

/* The events for the page: with a last "dropped" event when some were not kept. */
static const char *collected_events(Collected *c)
{
    if (c->first_dropped) {
        char note[160];
        int n = snprintf(note, sizeof note, "\n{\"event\":\"dropped\",\"first_pass\":%ld,"
                         "\"last_pass\":%ld,\"max_bytes\":%zu}\n", c->first_dropped,
                         c->last_dropped, HTML_MAX_EVENTS);
        char *grown = realloc(c->text, c->len + (size_t)n + 1);
        if (!grown) {
            fputs("nn: out of memory\n", stderr);
            exit(2);
        }
        c->text = grown;
        memcpy(c->text + c->len, note, (size_t)n);
        c->len += (size_t)n;
    }
    return c->text ? c->text : "";
}

/* ---- signals -------------------------------------------------------------------------------
 * SIGINT and SIGTERM ask the session to stop at the next boundary (a statement, a loop's
 * iteration, a train block's update; nn_set_interrupt), where what ran is kept and no file is
 * half-written; the library says where it stopped. The process then ends by the same signal, so
 * that a shell running it sees it interrupted (status 130 or 143) and stops too, as it does for
 * Python. A second signal ends it at once, removing the temporary file of a save in progress
 * (the saved file stays as it was). The two flags are the globals the house style allows. */

static volatile sig_atomic_t stop_flag;     /* the session's interrupt flag */
static volatile sig_atomic_t stop_signal;   /* the first signal received, or 0 */

static void on_signal(int sig)
{
    if (stop_signal) repl_die_by(sig);
    stop_signal = sig;
    stop_flag = 1;
}

/* --timeout's backstop: the library stops a run at the limit between two statements, updates
 * or ops, with a message at the place; one op (a huge product) or reading a huge CSV file can
 * keep it from getting there, so a second after the limit the process ends anyway. */
static char timeout_message[128];

static void on_alarm(int sig)
{
    (void)sig;
    if (write(STDERR_FILENO, timeout_message, strlen(timeout_message)) < 0) { /* nothing */ }
    nn_remove_temp_files();
    _exit(1);
}

static void arm_timeout(double seconds)
{
    snprintf(timeout_message, sizeof timeout_message, "nn: error: still running 1 second "
             "after the limit of --timeout %g second%s; stopped at once\n", seconds,
             seconds == 1 ? "" : "s");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    double at = seconds + 1;
    struct itimerval when = { { 0, 0 }, { (time_t)at, (suseconds_t)((at - (time_t)at) * 1e6) } };
    setitimer(ITIMER_REAL, &when, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);   /* what was printed is not lost if it fires */
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART;   /* reading a script from a pipe goes on; the run stops itself */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int exit_status(NnStatus st)
{
    return st == NN_OK ? 0 : st == NN_ERROR_RUNTIME ? 1 : st == NN_INTERRUPTED ? 130 : 2;
}

/* --sandbox: reading under the current directory, the script's folder and the --allow-read
 * folders, writing under the --allow-write folders. False after a message. */
static int confine(NnState *nn, const Options *o)
{
    if (nn_sandbox(nn) != NN_OK) return 0;
    for (size_t i = 0; i < o->n_allow; i++)
        if (nn_sandbox_allow(nn, o->allow[i].dir, o->allow[i].write) != NN_OK) return 0;
    if (!o->file || strcmp(o->file, "-") == 0) return 1;
    const char *slash = strrchr(o->file, '/');
    size_t n = slash ? (slash == o->file ? 1 : (size_t)(slash - o->file)) : 1;
    char *dir = slash ? strndup(o->file, n) : strdup(".");
    struct stat st;
    if (!dir) {
        fputs("nn: out of memory\n", stderr);
        exit(2);
    }
    /* a folder that is not there: reading the script says what is wrong */
    int ok = stat(dir, &st) != 0 || nn_sandbox_allow(nn, dir, 0) == NN_OK;
    free(dir);
    return ok;
}

/* What the options set in a session, the script's or each of the REPL's (the REPL gives its
 * own interrupt flag, break handler and progress); false after reporting a bad value (*status
 * set). */
static bool configure(NnState *nn, const Options *o, int *status)
{
    if (o->seed) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(o->seed, &end, 10);
        /* the same range as the language's `seed` statement */
        if (*o->seed == '\0' || *end != '\0' || *o->seed == '-' || errno == ERANGE ||
            v > 4294967295ull) {
            *status = usage_error("--seed needs an integer from 0 to 4294967295, not '%s'",
                                  o->seed);
            return false;
        }
        nn_set_seed(nn, (uint64_t)v);
    }
    nn_set_trace(nn, o->trace);
    nn_set_trace_format(nn, o->format);
    if (o->plot) nn_set_plot(nn, o->plot);
    nn_set_trace_full(nn, o->full);
    nn_set_flush_denormals(nn, !o->keep_denormals);
    if (o->max_memory) nn_set_max_memory(nn, o->max_memory);
    nn_set_max_steps(nn, o->max_steps);
    nn_set_trace_steps(nn, o->steps_from, o->steps_to);
    for (size_t b = 0; b < o->n_breaks; b++)
        if (!nn_set_breakpoint(nn, o->breaks[b])) {
            *status = usage_error("--break takes step=N, nonfinite or grad_norm=X, not '%s'",
                                  o->breaks[b]);
            return false;
        }
    if (o->sandbox && !confine(nn, o)) {
        *status = 2;
        return false;
    }
    return true;
}

/* Every session of the REPL (repl_run's setup) has what the options ask for: the seed, the
 * limits (each line is a run), the trace settings, the sandbox. The values were checked when
 * the first session was made; a sandbox that fails to set up (its messages are written) stays
 * on, with less allowed. --timeout applies to each line as --max-steps does. */
static void setup_repl(NnState *nn, void *ud)
{
    const Options *o = ud;
    int status;
    (void)configure(nn, o, &status);
    nn_set_timeout(nn, o->timeout);
}

/* The session the options ask for; NULL after reporting a bad value (*status set). */
static NnState *make_session(Options *o, Collected *events, int *status)
{
    if (!o->threads) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
    }
    nn_set_threads(o->threads);
    NnState *nn = nn_new();
    if (o->html) {      /* every pass and update, as events, into the page */
        o->trace = 1;
        o->format = "json";
        nn_set_output(nn, collect, events);
    }
    if (!configure(nn, o, status)) {
        nn_close(nn);
        return NULL;
    }
    nn_set_timeout(nn, o->timeout);
    nn_set_interrupt(nn, &stop_flag);
    nn_set_progress(nn, isatty(STDOUT_FILENO));
    if (!o->html) nn_set_break_handler(nn, repl_on_break, NULL);    /* a page has no prompt */
    return nn;
}


int main(int argc, char **argv)
{
    Options o = { .format = "text" };
    int status = read_options(argc, argv, &o);
    if (status >= 0) return status;
    Collected events = { 0 };
    NnState *nn = make_session(&o, &events, &status);
    if (!nn) return status;

    NnStatus st;
    if (o.export_to) {
        st = nn_export_file(nn, o.file, o.export_to);
        nn_close(nn);
        fflush(stdout);
        return exit_status(st);
    }
    if (!o.code && !o.file && (isatty(STDIN_FILENO) || o.tour) && !o.check)
        return repl_run(nn, o.trace, o.tour, setup_repl, &o);
    catch_signals();
    if (o.timeout > 0) arm_timeout(o.timeout);     /* checking reads data files: it counts too */
    if (o.code) {
        st = o.check ? nn_check_string(nn, "<-e>", o.code) : nn_run_string(nn, "<-e>", o.code);
    } else {
        if (!o.file) o.file = "-";
        st = o.check ? nn_check_file(nn, o.file) : nn_run_file(nn, o.file);
    }
    if (stop_signal) {      /* stopped (the library said where), or the script had ended */
        if (st != NN_INTERRUPTED)
            fprintf(stderr, "nn: interrupted by %s\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
        fflush(stdout);
        free(events.text);
        nn_close(nn);
        repl_die_by(stop_signal);
    }
    if (o.html && !o.check) {
        const char *text = collected_events(&events);
        NnStatus written = nn_write_html(nn, o.html, text, events.len);
        if (written == NN_OK) fprintf(stderr, "nn: wrote %s\n", o.html);
        else if (st == NN_OK) st = written;
    }
    free(events.text);
    nn_close(nn);
    fflush(stdout);
    return exit_status(st);
}
