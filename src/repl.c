/* repl.c — the interactive session: read a line (with GNU readline when built with it, else
 * plain stdio), keep reading while a bracket or block is open, run it, and never let a mistake
 * end the session. A client of nn.h only, like main.c. */
#include "repl.h"

#include "tour.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NN_HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT "nn> "
#define BREAK_PROMPT "break> "
#define MORE "... "

/* Ctrl-C: the one global the house style allows (with the other signal flags). Set by the
 * signal handler; the session stops at its next boundary (through nn_set_interrupt). */
static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t at_prompt;     /* reading a line, not running code: AT_READLINE
                                               or AT_GETLINE */
static volatile sig_atomic_t cancelled;     /* Ctrl-C at the prompt: drop the unfinished input */
static volatile sig_atomic_t end_line;      /* ... readline is to return the line, emptied */
static volatile sig_atomic_t terminated;    /* SIGTERM: stop what runs, then leave */

typedef struct Repl {
    NnState *nn;
    bool readline;          /* line editing, completion and history */
    bool trace;
    char history[4096];     /* ~/.nn_history, or "" */
    char *pending;          /* lines of an input not yet complete */
    size_t pending_len;
    bool quit;              /* :quit at a breakpoint: leave once the block has ended */
    bool no_prompt;         /* input is not a terminal (`nn FILE` at a breakpoint) */
    void (*setup)(NnState *nn, void *ud);   /* for every new session (repl_run's) */
    void *setup_ud;
    bool drop;              /* the line read was refused: drop the unfinished input */
    Tour tour;              /* the guided tour, once :tour has opened it (tour.at >= 0) */
} Repl;

enum { AT_READLINE = 1, AT_GETLINE = 2 };

/* How reading input ended, or what a command asks for. */
typedef enum Cmd { CMD_GO_ON, CMD_QUIT, CMD_CONTINUE, CMD_STOP } Cmd;

static void on_sigint(int sig)
{
    (void)sig;
    if (!at_prompt) {
        interrupted = 1;
        return;
    }
    cancelled = 1;
    end_line = 1;   /* (readline is not async-signal-safe: after_signal does it) */
}

void repl_die_by(int sig)
{
    nn_remove_temp_files();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t set;       /* in its own handler, the signal is blocked */
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}

/* SIGTERM: what runs stops at its next boundary, then the REPL leaves, ending by the signal
 * (at the prompt, at once). A second one ends the process at once. */
static void on_sigterm(int sig)
{
    /* waiting in a plain read, nothing to stop and no terminal to restore: leave now (had it
     * only set the flag, a signal just before the read would leave the read waiting) */
    if (terminated || at_prompt == AT_GETLINE) repl_die_by(sig);
    terminated = sig;
    interrupted = 1;
}

#ifdef NN_HAVE_READLINE
/* Readline calls this while it waits for a key (ten times a second) and after a signal
 * interrupts its read: outside the handler, where its functions may be called. Ctrl-C empties
 * the line and ends it, so the loop drops the input and asks afresh with "nn> ", even after the
 * "... " of an open block; SIGTERM restores the terminal and ends the process. */
static int after_signal(void)
{
    if (terminated) {
        rl_cleanup_after_signal();
        repl_die_by(terminated);
    }
    if (end_line) {
        end_line = 0;
        rl_replace_line("", 0);
        rl_done = 1;
    }
    return 0;
}
#endif

/* ---- reading -------------------------------------------------------------------------------- */

#ifdef NN_HAVE_READLINE
/* Readline asks for completions through a generator with no user pointer, so the matches for
 * the word being completed live here, with the session they come from: state forced on us by
 * readline's API, touched only while reading a line. */
static struct {
    NnState *nn;
    char **words;
    size_t count, cap, next;
} matches;

static void add_match(void *ud, const char *word)
{
    (void)ud;
    for (size_t i = 0; i < matches.count; i++)
        if (strcmp(matches.words[i], word) == 0) return;
    if (matches.count == matches.cap) {
        matches.cap = matches.cap ? 2 * matches.cap : 32;
        matches.words = realloc(matches.words, matches.cap * sizeof *matches.words);
        if (!matches.words) abort();
    }
    matches.words[matches.count++] = strdup(word);
}

static void clear_matches(void)
{
    for (size_t i = 0; i < matches.count; i++) free(matches.words[i]);
    free(matches.words);
    matches.words = NULL;
    matches.count = matches.cap = matches.next = 0;
}

static void complete_command(const char *text);

static char *next_match(const char *text, int state)
{
    if (state == 0) {           /* a new word: collect every completion, then hand them out */
        clear_matches();
        if (text[0] == ':') complete_command(text);
        else nn_complete(matches.nn, text, add_match, NULL);
    }
    return matches.next < matches.count ? strdup(matches.words[matches.next++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start, (void)end;
    rl_attempted_completion_over = 1;   /* no file names */
    return rl_completion_matches(text, next_match);
}
#endif

#ifdef NN_HAVE_READLINE
/* Adds an entry to the history, and to the history file at once, so a session that ends
 * badly keeps what was typed. */
static void remember(Repl *r, const char *entry)
{
    add_history(entry);
    if (r->history[0]) append_history(1, r->history);
}
#endif

/* One line without its newline, or NULL at end of input. The caller frees it. */
static char *read_line(Repl *r, const char *prompt)
{
#ifdef NN_HAVE_READLINE
    if (r->readline) {
        matches.nn = r->nn;
        at_prompt = AT_READLINE;
        char *line = readline(prompt);
        at_prompt = 0;
        return line;
    }
#endif
    /* at the prompt before it shows: a Ctrl-C that answers it must find the flag set */
    at_prompt = AT_GETLINE;
    if (terminated) repl_die_by(terminated);   /* a SIGTERM that came just before */
    if (!r->no_prompt) fputs(prompt, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    errno = EINTR;
    ssize_t n = cancelled ? -1 : getline(&line, &cap, stdin);
    at_prompt = 0;
    if (n < 0) {
        free(line);
        if (errno == EINTR && cancelled) {      /* Ctrl-C at the prompt: a fresh line */
            clearerr(stdin);
            putchar('\n');
            return strdup("");
        }
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    size_t text = strlen(line);
    if (text < (size_t)n) {     /* a NUL byte would cut the line short without a word */
        fprintf(stderr, "nn: error: a NUL byte at column %zu of this line; the input is "
                "dropped\n", text + 1);
        line[0] = '\0';
        r->drop = true;
    }
    return line;
}

static void pending_add(Repl *r, const char *line)
{
    size_t n = strlen(line);
    r->pending = realloc(r->pending, r->pending_len + n + 2);
    if (!r->pending) abort();
    memcpy(r->pending + r->pending_len, line, n);
    r->pending_len += n;
    r->pending[r->pending_len++] = '\n';
    r->pending[r->pending_len] = '\0';
}

static void pending_clear(Repl *r)
{
    r->pending_len = 0;
    if (r->pending) r->pending[0] = '\0';
}

/* ---- commands ------------------------------------------------------------------------------- */

static NnState *new_session(Repl *r)
{
    NnState *nn = nn_new();
    nn_set_break_handler(nn, repl_on_break, r);
    nn_set_trace(nn, r->trace);
    nn_set_progress(nn, isatty(STDOUT_FILENO));
    nn_set_interrupt(nn, &interrupted);
    if (r->setup) r->setup(nn, r->setup_ud);
    return nn;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Where a command may run: anywhere, or not while a train block is stopped at a breakpoint, or
 * only then. */
typedef enum CmdWhere { CMD_ANYWHERE, CMD_NOT_AT_BREAK, CMD_AT_BREAK } CmdWhere;

typedef struct ReplCommand {
    const char *name;
    const char *aliases;        /* other names, separated by spaces, or "" */
    CmdWhere where;
    Cmd (*run)(Repl *r, const char *arg, bool at_break);
    const char *help;           /* its line in `:help` */
} ReplCommand;

static Cmd cmd_help(Repl *r, const char *arg, bool at_break);

static Cmd cmd_vars(Repl *r, const char *arg, bool at_break)
{
    (void)arg, (void)at_break;
    nn_print_vars(r->nn);
    return CMD_GO_ON;
}

static Cmd cmd_graph(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    if (!*arg) fputs("nn: ':graph' needs an expression, e.g. :graph loss\n", stderr);
    else nn_print_graph(r->nn, arg);
    return CMD_GO_ON;
}

static Cmd cmd_dot(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    if (!*arg) fputs("nn: ':dot' needs an expression, e.g. :dot loss\n", stderr);
    else nn_print_dot(r->nn, arg);
    return CMD_GO_ON;
}

static Cmd cmd_trace(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
        r->trace = strcmp(arg, "on") == 0;
        nn_set_trace(r->nn, r->trace);
        printf("trace is %s\n", arg);
    } else {
        fputs("nn: write ':trace on' or ':trace off'\n", stderr);
    }
    return CMD_GO_ON;
}

static Cmd cmd_load(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    if (!*arg) fputs("nn: ':load' needs a file name\n", stderr);
    else nn_run_file(r->nn, arg);
    return CMD_GO_ON;
}

static Cmd cmd_save(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    if (!*arg) fputs("nn: ':save' needs a file name\n", stderr);
    else if (nn_save_session(r->nn, arg) == NN_OK) printf("saved to %s\n", arg);
    return CMD_GO_ON;
}

static Cmd cmd_reset(Repl *r, const char *arg, bool at_break)
{
    (void)arg, (void)at_break;
    nn_close(r->nn);
    r->nn = new_session(r);
    puts("the session is empty");
    return CMD_GO_ON;
}

/* ---- the guided tour: each lesson in a fresh session ---- */

static Cmd tour_go(Repl *r, int k)
{
    if (!r->tour.lessons && !tour_open(&r->tour)) return CMD_GO_ON;
    if (k < 0 || k >= r->tour.count) {
        fprintf(stderr, "nn: the tour has lessons 1 to %d\n", r->tour.count);
        return CMD_GO_ON;
    }
    nn_close(r->nn);
    r->nn = new_session(r);
    tour_show(&r->tour, r->nn, k);
    return CMD_GO_ON;
}

static Cmd cmd_tour(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    return tour_go(r, *arg ? atoi(arg) - 1 : 0);
}

static Cmd cmd_next(Repl *r, const char *arg, bool at_break)
{
    (void)arg, (void)at_break;
    if (r->tour.lessons && r->tour.at + 1 == r->tour.count) {
        puts("that was the last lesson: the README and docs/language.md go on from here");
        return CMD_GO_ON;
    }
    return tour_go(r, r->tour.at + 1);
}

static Cmd cmd_back(Repl *r, const char *arg, bool at_break)
{
    (void)arg, (void)at_break;
    return tour_go(r, r->tour.at > 0 ? r->tour.at - 1 : 0);
}

static Cmd cmd_hint(Repl *r, const char *arg, bool at_break)
{
    (void)arg, (void)at_break;
    tour_hint(&r->tour);
    return CMD_GO_ON;
}

static Cmd cmd_answer(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    tour_answer(&r->tour, r->nn, arg);
    return CMD_GO_ON;
}

static Cmd cmd_quit(Repl *r, const char *arg, bool at_break)
{
    (void)arg;
    if (!at_break) return CMD_QUIT;
    r->quit = true;     /* end the block, then leave */
    return CMD_STOP;
}

static Cmd cmd_continue(Repl *r, const char *arg, bool at_break)
{
    (void)r, (void)arg, (void)at_break;
    return CMD_CONTINUE;
}

static Cmd cmd_stop(Repl *r, const char *arg, bool at_break)
{
    (void)r, (void)arg, (void)at_break;
    return CMD_STOP;
}

/* The commands, in the order `:help` lists them (those only for a breakpoint last). The help
 * lines start their source lines: tests/test_man.sh checks that the man page has each. */
static const ReplCommand commands_help[] = {
    { "help", "h", CMD_ANYWHERE, cmd_help,
      "  :help [NAME]     help on a keyword, function, layer, optimizer or setting" },
    { "vars", "", CMD_ANYWHERE, cmd_vars,
      "  :vars            every defined name, its kind and shape (params: gradient norm)" },
    { "graph", "", CMD_ANYWHERE, cmd_graph,
      "  :graph EXPR      the expression's computation graph, with values and gradients" },
    { "dot", "", CMD_ANYWHERE, cmd_dot,
      "  :dot EXPR        the same graph in Graphviz DOT (pipe it to 'dot -Tsvg')" },
    { "trace", "", CMD_ANYWHERE, cmd_trace,
      "  :trace on|off    explain every backward and step" },
    { "load", "", CMD_ANYWHERE, cmd_load,
      "  :load FILE       run a script into this session" },
    { "save", "", CMD_ANYWHERE, cmd_save,
      "  :save FILE       write this session's definitions as a script" },
    { "reset", "", CMD_NOT_AT_BREAK, cmd_reset,
      "  :reset           forget everything" },
    { "tour", "", CMD_NOT_AT_BREAK, cmd_tour,
      "  :tour [N]        a guided tour of backpropagation, lesson by lesson (N: from lesson N)" },
    { "next", "", CMD_NOT_AT_BREAK, cmd_next,
      "  :next, :back     the tour's next or previous lesson" },
    { "back", "", CMD_NOT_AT_BREAK, cmd_back, NULL },
    { "hint", "", CMD_NOT_AT_BREAK, cmd_hint,
      "  :hint            a hint for the tour's exercise" },
    { "answer", "", CMD_NOT_AT_BREAK, cmd_answer,
      "  :answer X        answer the tour's question (a number or an expression)" },
    { "quit", "q exit", CMD_ANYWHERE, cmd_quit,
      "  :quit            leave (or Ctrl-D)" },
    { "continue", "c", CMD_AT_BREAK, cmd_continue,
      "  :continue        make the update and go on training (or Ctrl-D)" },
    { "stop", "", CMD_AT_BREAK, cmd_stop,
      "  :stop            end the train block here" },
};

static void print_commands(void)
{
    puts("commands:");
    for (size_t i = 0; i < sizeof commands_help / sizeof *commands_help; i++) {
        if (commands_help[i].where == CMD_AT_BREAK
            && (i == 0 || commands_help[i - 1].where != CMD_AT_BREAK))
            puts("at a breakpoint of a train block (break step N, break nonfinite, break "
                 "grad_norm X):");
        if (commands_help[i].help) puts(commands_help[i].help);
    }
    puts("Ctrl-C stops a long train block after its current step, or a loop between two of its\n"
         "iterations (what ran is kept), or clears the line.");
}

static Cmd cmd_help(Repl *r, const char *arg, bool at_break)
{
    (void)at_break;
    if (!*arg) {
        print_commands();
        fflush(stdout);
        nn_print_help(r->nn, NULL);
    } else if (!nn_print_help(r->nn, arg)) {
        fprintf(stderr, "nn: no help on '%s' (':help' lists the topics)\n", arg);
    }
    return CMD_GO_ON;
}

/* The command called `name` (or one of its other names), or NULL. */
static const ReplCommand *find_command(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof commands_help / sizeof *commands_help; i++) {
        const ReplCommand *c = &commands_help[i];
        if (strcmp(c->name, name) == 0) return c;
        for (const char *a = c->aliases; n && (a = strstr(a, name)) != NULL; a += n)
            if ((a == c->aliases || a[-1] == ' ') && (a[n] == ' ' || a[n] == '\0')) return c;
    }
    return NULL;
}

static Cmd command(Repl *r, char *line, bool at_break)
{
    char *cmd = line + 1, *arg = cmd;
    while (*arg && !isspace((unsigned char)*arg)) arg++;
    if (*arg) *arg++ = '\0';
    arg = trim(arg);
    const ReplCommand *c = find_command(cmd);
    Cmd result = CMD_GO_ON;
    if (!c)
        fprintf(stderr, "nn: unknown command ':%s' (':help' lists the commands)\n", cmd);
    else if (c->where == CMD_AT_BREAK && !at_break)
        fprintf(stderr, "nn: nothing to %s: no train block is stopped at a breakpoint\n",
                c->name);
    else if (c->where == CMD_NOT_AT_BREAK && at_break)
        fprintf(stderr, "nn: ':%s' cannot run while a train block is stopped at a breakpoint; "
                ":stop it first\n", c->name);
    else
        result = c->run(r, arg, at_break);
    fflush(stdout);
    return result;
}

#ifdef NN_HAVE_READLINE
/* The completions of a word that starts with ':': the commands it begins. */
static void complete_command(const char *text)
{
    size_t n = strlen(text + 1);
    for (size_t i = 0; i < sizeof commands_help / sizeof *commands_help; i++) {
        if (strncmp(commands_help[i].name, text + 1, n) != 0) continue;
        char word[32];
        snprintf(word, sizeof word, ":%s", commands_help[i].name);
        add_match(NULL, word);
    }
}
#endif

/* ---- the loop ------------------------------------------------------------------------------- */

/* Reads and runs input until :quit or the end of input; at a breakpoint, until :continue or
 * :stop (the end of input continues). Returns how it ended. */
static Cmd session_loop(Repl *r, bool at_break)
{
    for (;;) {
        if (terminated) {           /* SIGTERM: end a block stopped at a breakpoint, leave */
            r->quit = true;
            return at_break ? CMD_STOP : CMD_QUIT;
        }
        char *line = read_line(r, r->pending_len ? MORE : at_break ? BREAK_PROMPT : PROMPT);
        interrupted = 0;    /* a Ctrl-C before the prompt was up stops nothing to come */
        if (!line) {                /* Ctrl-D */
            if (!r->no_prompt) putchar('\n');
            if (terminated) continue;
            return at_break ? CMD_CONTINUE : CMD_QUIT;
        }
        if (cancelled) {            /* Ctrl-C while typing: the input so far is dropped */
            cancelled = 0;
            pending_clear(r);
            free(line);
            continue;
        }
        if (r->drop) {              /* a line that cannot be read as text */
            r->drop = false;
            pending_clear(r);
            free(line);
            continue;
        }
        if (!r->pending_len && line[0] == ':') {
#ifdef NN_HAVE_READLINE
            if (r->readline) remember(r, line);
#endif
            Cmd c = command(r, line, at_break);
            free(line);
            if (c != CMD_GO_ON) return c;
            continue;
        }
        pending_add(r, line);
        free(line);
        if (!nn_is_complete(r->nn, r->pending)) continue;
        if (strspn(r->pending, " \t\n") == r->pending_len) {
            pending_clear(r);
            continue;
        }
#ifdef NN_HAVE_READLINE
        if (r->readline) {
            r->pending[r->pending_len - 1] = '\0';  /* the history entry without its newline */
            remember(r, r->pending);
            r->pending[r->pending_len - 1] = '\n';
        }
#endif
        nn_run_string(r->nn, "<input>", r->pending);
        fflush(stdout);
        pending_clear(r);
        if (!at_break) tour_check(&r->tour, r->nn);     /* a goal the statements met */
        if (r->quit) return CMD_QUIT;   /* :quit at a breakpoint of what just ran */
    }
}

#ifdef NN_HAVE_READLINE
static void readline_setup(void)
{
    rl_readline_name = "nn";
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"()[]{},;=+-*/^@";
    rl_catch_signals = 0;
    rl_signal_event_hook = after_signal;
    rl_event_hook = after_signal;   /* (a signal may come before readline waits) */
}
#endif

static bool want_readline(void)
{
#ifdef NN_HAVE_READLINE
    const char *off = getenv("NN_NO_READLINE");
    return !(off && *off && strcmp(off, "0") != 0);
#else
    return false;
#endif
}

/* The REPL's SIGINT and SIGTERM handlers, for as long as it reads (the handlers before them
 * into old[2], unless NULL). */
static void catch_signals(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;    /* no SA_RESTART: a plain read returns at Ctrl-C */
    sigaction(SIGINT, &sa, old ? &old[0] : NULL);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, old ? &old[1] : NULL);
}

/* The break> prompt, after a word on what it offers. */
static Cmd break_prompt(Repl *r)
{
    fputs("  (:vars, print and trace look around; :continue goes on, :stop ends the block)\n",
          stdout);
    fflush(stdout);
    return session_loop(r, true);
}

/* `nn FILE` at a breakpoint: the prompt has the REPL's signal handling (the script's own would
 * restart the read: the first signal did nothing), and --timeout's alarm is held back while it
 * waits (it would end the process with the terminal left raw); both are as before afterwards. */
static Cmd prompt_alone(Repl *r)
{
    struct sigaction old[2];
    sigset_t alarm, mask;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alarm, &mask);
    catch_signals(old);
    Cmd c = break_prompt(r);
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
    if (terminated) repl_die_by(terminated);     /* SIGTERM at the prompt: the script ends */
    cancelled = 0;
    sigprocmask(SIG_SETMASK, &mask, NULL);
    return c;
}

NnBreakAction repl_on_break(NnState *nn, const char *why, void *userdata)
{
    (void)why;      /* already written to the output */
    Repl alone, *r = userdata;
    if (!r) {       /* `nn FILE`: a prompt on standard input for this breakpoint */
        memset(&alone, 0, sizeof alone);
        alone.nn = nn;
        alone.readline = want_readline() && isatty(STDIN_FILENO);
        alone.no_prompt = !isatty(STDIN_FILENO);
#ifdef NN_HAVE_READLINE
        if (alone.readline) readline_setup();
#endif
        r = &alone;
    }
    char *outer = r->pending;   /* the input that is running: the prompt starts afresh */
    size_t outer_len = r->pending_len;
    r->pending = NULL;
    r->pending_len = 0;
    Cmd c = r == &alone ? prompt_alone(r) : break_prompt(r);
    free(r->pending);
    r->pending = outer;
    r->pending_len = outer_len;
    return c == CMD_CONTINUE ? NN_BREAK_CONTINUE : NN_BREAK_STOP;
}

int repl_run(NnState *nn, int trace, int tour, void (*setup)(NnState *nn, void *ud), void *ud)
{
    Repl r;
    memset(&r, 0, sizeof r);
    r.tour.at = -1;
    r.trace = trace != 0;
    r.setup = setup;
    r.setup_ud = ud;
    r.readline = want_readline() && isatty(STDIN_FILENO);  /* --tour may read a pipe */
    nn_close(nn);       /* the REPL keeps its own session, so :reset can replace it */
    r.nn = new_session(&r);
    catch_signals(NULL);

#ifdef NN_HAVE_READLINE
    if (r.readline) {
        readline_setup();
        const char *home = getenv("HOME");
        if (home && *home) {
            snprintf(r.history, sizeof r.history, "%s/.nn_history", home);
            if (read_history(r.history) != 0) write_history(r.history);    /* create it */
        }
    }
#endif
    printf("nn %s — type statements, or :help. Ctrl-D leaves.\n", nn_version());
    if (tour) tour_go(&r, 0);
    session_loop(&r, false);
    tour_close(&r.tour);
#ifdef NN_HAVE_READLINE
    if (r.readline && r.history[0]) history_truncate_file(r.history, 1000);
    clear_matches();
#endif
    free(r.pending);
    nn_close(r.nn);
    if (terminated) {           /* ended by SIGTERM: say so to whoever started it */
        fflush(stdout);
        repl_die_by(terminated);
    }
    return 0;
}
