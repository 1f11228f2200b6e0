/* nn.h — the public C API of nn, a small language for defining and training neural
 * networks. This is the only header a program embedding nn needs; the `nn` command line is
 * itself a client of exactly this API.
 *
 * Design:
 *  - One NnState is one session: its definitions (let, param), their values and gradients,
 *    and its random numbers persist across calls, so a host (or the REPL) can run code
 *    piece by piece.
 *  - Running a text compiles all of it first (parse, then names and shapes); if that fails
 *    nothing runs and nothing changes. Then it executes statement by statement.
 *  - Output (print, trace) and diagnostics go to callbacks; by default to stdout/stderr.
 *  - Every diagnostic is a complete, rendered text: "file:line:col: error: message", then
 *    the source line and a caret.
 *  - Functions never abort on user errors; they return an NnStatus.
 * Not thread-safe per state; separate states are independent.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - Ownership: strings and callbacks passed in are borrowed. A string is read during the call
 *    only (what the session keeps, it copies); a `userdata` pointer is stored as given and
 *    must stay valid while it is installed. Pointers handed out (NnTensorView.data, the text
 *    given to a callback, a completion word, nn_version) belong to the library: never free
 *    them, and copy what must outlive the lifetime stated.
 *  - Lifetime: an NnState lives from nn_new to nn_close; everything it owns (definitions,
 *    tensors, the texts it ran) is freed by nn_close. Each text run is kept for the rest of
 *    the session (messages and nn_save_session quote it).
 *  - Errors: a user error (syntax, name, shape, a NaN while running, a file that cannot be
 *    read or written) is reported as one or more complete messages to the error callback, and
 *    the function returns a status other than NN_OK; a run that fails leaves the session as it
 *    was before it. Misuse (a NULL state or string, a state used after nn_close, calling into
 *    a state from one of its own callbacks) is undefined behaviour, not an error. Out of
 *    memory prints a message and aborts the process.
 *  - Callbacks run synchronously, on the calling thread, during the call that produces the
 *    text. */
#ifndef NN_H
#define NN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NN_API __attribute__((visibility("default")))
#else
#define NN_API
#endif

/* The version: the one place it is defined (CMakeLists.txt reads it from here; CHANGELOG.md
 * says what each version added). */
#define NN_VERSION "0.2.0"

typedef struct NnState NnState;

/* Results of running code. The values are the exit statuses of the `nn` command (which
 * reports NN_ERROR_IO as 2). Every status but NN_OK comes with a message on the error
 * callback, except nn_get's for a name that has no value. */
typedef enum NnStatus {
    NN_OK = 0,
    NN_ERROR_RUNTIME = 1,   /* a statement failed while running (e.g. a value became NaN) */
    NN_ERROR_COMPILE = 2,   /* syntax, name or shape error: nothing was run */
    NN_ERROR_IO = 3,        /* a file could not be read (or, for nn_save_session, written) */
    NN_INTERRUPTED = 4,     /* the interrupt flag (nn_set_interrupt) stopped the run: what ran is
                               kept, the statements after where it stopped did not run */
} NnStatus;

/* Receives `len` bytes of text (not NUL-terminated), borrowed for the call only. The output
 * callback gets printed text in pieces (not necessarily whole lines); the error callback gets
 * one complete rendered message per call (an error, then each note separately), each ending
 * in a newline. */
typedef void (*NnWriteFn)(void *userdata, const char *text, size_t len);

/* A read-only view of a tensor's float32 values, row-major, filled in by nn_get. `data`
 * points into the session (do not free or write it); it is valid until the next call on the
 * same state that runs or evaluates code (nn_run_*, nn_get, nn_print_graph, nn_print_dot),
 * or nn_close. Copy the values to keep them. A scalar has rank 0 and size 1; shape[i] is 0
 * for i >= rank. */
typedef struct NnTensorView {
    int rank;
    int shape[6];
    size_t size;            /* number of elements */
    const float *data;
} NnTensorView;

/* A new, empty session with the default seed (42, as `nn`), output to stdout, diagnostics to
 * stderr, tracing and progress off. Never NULL (aborts if out of memory). The caller owns it
 * and frees it with nn_close. */
NN_API NnState *nn_new(void);
/* Frees the session and everything it owns; views from nn_get become invalid. The installed
 * callbacks are not called, and their userdata is not freed (it is the caller's). NULL is
 * allowed and does nothing. */
NN_API void nn_close(NnState *nn);

/* Where printed output and diagnostics go, from the next text written on: `fn` is called
 * with `userdata` (borrowed, stored until replaced or nn_close). fn NULL restores the default
 * (stdout, stderr). A callback must not call functions of the same state. Cannot fail. */
NN_API void nn_set_output(NnState *nn, NnWriteFn fn, void *userdata);
NN_API void nn_set_errors(NnState *nn, NnWriteFn fn, void *userdata);
/* Restarts the random numbers, as the statement `seed N` (which takes 0 to 4294967295; here
 * any 64-bit value gives a stream of its own). Cannot fail. */
NN_API void nn_set_seed(NnState *nn, uint64_t seed);
/* Non-zero: every `backward` prints its trace to the output, and every `step` after it its
 * update, as `nn --trace`. Off by default. Cannot fail. */
NN_API void nn_set_trace(NnState *nn, int on);
/* How traces are written: "text" (the explanation, the default), "dot" (the graph in
 * Graphviz DOT, with each node's value and gradient) or "json" (JSON Lines events, one object
 * per line, for programs). Returns 1, or 0 for an unknown format (the setting is then
 * unchanged; nothing is written). `format` is borrowed. */
NN_API int nn_set_trace_format(NnState *nn, const char *format);
/* Each train block writes its loss curve (and validation loss) as SVG to `path` (the copy
 * is kept); a second block writes PATH-2.svg, and so on. NULL stops it. */
NN_API void nn_set_plot(NnState *nn, const char *path);
/* The most memory the session's tensors (values, gradients, scratch) may take, in bytes
 * (default 4 GiB). A program that would pass it is refused before it runs, with a message at
 * the tensor that crosses it. The optimizer's state, the data csv() reads and the index of a
 * checkpoint's tensors count against it too, each refused before it is allocated. 0 means no
 * limit. */
NN_API void nn_set_max_memory(NnState *nn, size_t bytes);
/* The sandbox, as `nn --sandbox`: from the first call on, for the rest of the session (it
 * cannot be turned off), every file the session opens by name — csv and split's row files,
 * load, resume, save, the --plot curves (nn_set_plot), nn_run_file, nn_check_file,
 * nn_save_session, nn_write_html — is read only under the current directory (the one of the
 * first call) and the folders allowed for reading, and written only under the folders allowed
 * for writing (none at first). Relative names still resolve against the current directory of
 * the moment. No symbolic link is followed out of those folders, and a refused name's message
 * does not depend on anything outside them (language.md, "The sandbox", has the rules).
 * Returns NN_OK, or NN_ERROR_IO with a message when this system cannot enforce it (it needs
 * Linux with /proc mounted): the sandbox is then on all the same, so files are refused rather
 * than opened freely. Calling it again changes nothing. */
NN_API NnStatus nn_sandbox(NnState *nn);
/* Allows reading (write 0) or writing (nonzero) under the folder `dir` (borrowed), as
 * --allow-read and --allow-write do, and turns the sandbox on as nn_sandbox does. The folder is
 * taken as it is at this call (renaming it later does not move the permission). Writing does
 * not imply reading. Returns NN_OK, or NN_ERROR_IO with a message if `dir` is not an existing
 * folder or the sandbox cannot be turned on. */
NN_API NnStatus nn_sandbox_allow(NnState *nn, const char *dir, int write);
/* How many threads large matrix products may use, the calling thread included (n is clamped
 * to 1..64; 1, the default, uses none). Products below about a million multiply-adds stay on
 * one thread whatever n is. Results are the same bits for any n. Process-wide: the worker
 * threads are shared by every session, started when first needed, asleep in between, and
 * stopped at exit. Not to be called while another thread runs code. Cannot fail. */
NN_API void nn_set_threads(int n);
/* Train blocks explain updates number `from` to `to` (counted from 1 in each block), as
 * `trace step N` does for one; 0, 0 turns it off. */
NN_API void nn_set_trace_steps(NnState *nn, long from, long to);
/* Traces show tensors of up to 4096 elements in full rather than summarised (on: nonzero). */
NN_API void nn_set_trace_full(NnState *nn, int on);
/* On (nonzero): long train blocks redraw a one-line progress report (epoch, batch, loss,
 * time left) on the output, with carriage returns; meant for a terminal. Off by default:
 * output to a pipe or file gets only the log lines. Cannot fail. */
NN_API void nn_set_progress(NnState *nn, int on);
/* Off (0): train blocks compute with IEEE denormal numbers, as everything else does, so that
 * their results can be compared bit for bit with another IEEE implementation. On (nonzero,
 * the default): while a train block runs, denormals are flushed to zero (x86 FTZ and DAZ,
 * aarch64 FZ), as TensorFlow does on CPUs: near convergence a network can be full of them,
 * and arithmetic on them is many times slower on many processors. Cannot fail. */
NN_API void nn_set_flush_denormals(NnState *nn, int on);

/* Compiles and runs `code` (NUL-terminated) in the session; `name` labels it in messages
 * ("<-e>", "script.nn"). Both are copied and kept by the session, so a host that runs many
 * small texts grows the session by each one. Returns NN_OK; NN_ERROR_COMPILE if any syntax,
 * name, shape or argument error was found (all are reported, nothing ran, nothing changed);
 * or NN_ERROR_RUNTIME if a statement failed while running (the output of the statements
 * before it has been written, but the params, gradients, optimizer states, random numbers
 * and names are put back as they were before the call). */
NN_API NnStatus nn_run_string(NnState *nn, const char *name, const char *code);
/* Reads the file at `path` (borrowed; "-" reads standard input to its end) and runs it as
 * nn_run_string does, with the path as its name. Returns NN_ERROR_IO, with a message, if it
 * cannot be read; otherwise as nn_run_string. */
NN_API NnStatus nn_run_file(NnState *nn, const char *path);
/* Parses and checks names, shapes and arguments only (CSV and row-index files named in the
 * text are read): nothing runs and no name is defined, though the text is kept as for
 * nn_run_string. Returns NN_OK or NN_ERROR_COMPILE (nn_check_file also NN_ERROR_IO), with
 * the messages on the error callback. */
NN_API NnStatus nn_check_string(NnState *nn, const char *name, const char *code);
NN_API NnStatus nn_check_file(NnState *nn, const char *path);
/* Checks the file at `path` as nn_check_file does, then writes it to the output callback as
 * a program for another framework, `format`: "pytorch" (one standalone Python file: a
 * torch.nn.Module per model, the data, the train blocks, torchrun's DistributedDataParallel;
 * see docs/language.md). Nothing runs. Returns NN_ERROR_COMPILE, with located messages, for
 * what the format cannot express (and for an unknown format), else as nn_check_file. */
NN_API NnStatus nn_export_file(NnState *nn, const char *path, const char *format);

/* Computes the current value of a defined name (a let formula is re-evaluated from the
 * current params) and fills *out with a view of it (see NnTensorView for how long it is
 * valid). `name` is a let or param, or a dotted name such as "net.layer1.W" or "data.X";
 * a model or data set as a whole has no value. Returns NN_OK; NN_ERROR_COMPILE if there is no
 * such value (no message is written, *out is untouched); or NN_ERROR_RUNTIME if computing it
 * failed (the message goes to the error callback). */
NN_API NnStatus nn_get(NnState *nn, const char *name, NnTensorView *out);

/* Sets a param (such as "x" or "net.layer1.W") from `size` float32 values, row-major, copied:
 * the way a host feeds inputs without formatting numbers as text. Formulas that use it follow
 * (as after an assignment `x = ...`); its gradient is kept. Returns NN_OK, or
 * NN_ERROR_COMPILE (with a message to the error callback) if there is no such param or
 * `size` is not its number of elements. Nothing is compiled, so nothing accumulates in the
 * session however often it is called. */
NN_API NnStatus nn_set(NnState *nn, const char *name, const float *data, size_t size);

/* The library's version, NN_VERSION of the nn.h it was built with ("0.2.0"): a static
 * string, never NULL, never to be freed. Compare it with NN_VERSION to detect a header and
 * library of different versions. */
NN_API const char *nn_version(void);

/* ---- for interactive hosts (the REPL) ------------------------------------------------------ */

/* 0 if `code` ends inside an open bracket or block, so a REPL should read another line
 * before running it; 1 otherwise (complete, or wrong in a way more lines cannot fix). Only
 * parses `code` (borrowed): writes nothing, keeps no text, defines nothing. */
NN_API int nn_is_complete(NnState *nn, const char *code);
/* Ctrl-C: while code runs, *flag nonzero stops the run at the next boundary where stopping
 * leaves everything whole: before a statement of the text's top level, between two iterations
 * of a loop (the blocks around it end there), between two updates of a train block (which
 * reports it on the output, keeping the params as the last update left them). What ran is kept,
 * and the call returns NN_INTERRUPTED with a note saying where it stopped. A statement that is
 * still running half a second after the flag was first seen (a long product, a long pass) is
 * abandoned between two of its ops and undone (the gradients it was adding to, the random
 * numbers it drew); in a loop, the names the loop carries keep the values that iteration began
 * with. The flag is cleared when it stops a run. `flag` is borrowed and must stay valid until
 * replaced or nn_close; NULL (the default) turns the check off. Set it from a signal handler or
 * another thread; nothing else checks it. Cannot fail. */
NN_API void nn_set_interrupt(NnState *nn, volatile sig_atomic_t *flag);
/* Limits for code that may not end (a student's `while 1 { }`, a train block of a million
 * epochs): each call that runs code (nn_run_*, nn_get, nn_print_graph, nn_print_dot) may take
 * at most `steps` steps and `seconds` seconds of wall-clock time, counted from its start,
 * checking (and the data files read then) included; a call made from a break handler counts
 * toward the run around it. A step is a statement each time it runs, a loop's test each time
 * it runs, and each update of a train block (language.md,
 * "Limits"). They are checked at statement and update boundaries, and the time also between
 * the ops of a long statement. A run that reaches one fails with NN_ERROR_RUNTIME and a
 * message at the statement running ("... reached its limit of N steps"), and is undone like
 * any run that fails. 0 (the default) means no limit. Cannot fail. */
NN_API void nn_set_max_steps(NnState *nn, uint64_t steps);
NN_API void nn_set_timeout(NnState *nn, double seconds);
/* Removes the temporary files of the atomic writes in progress in this process (a save, a
 * loss curve, a page, a saved session: each is written to FILE.tmp.PID, then renamed over
 * FILE), so that a process that ends at once leaves none behind; FILE stays as it was.
 * Process-wide, for every session. Async-signal-safe: meant for a signal handler that ends
 * the process right after (a write still running then fails when it renames). */
NN_API void nn_remove_temp_files(void);
/* Breakpoints. A train block can stop before an update: where the block says (`break step N`,
 * `break nonfinite`, `break grad_norm X`) or, for every block, at the points set with
 * nn_set_breakpoint. There nn writes "break: ..." to the output and calls the handler with the
 * same text (borrowed, for the call). The params are the ones the step computed with and
 * their gradients the step's own. While the handler runs, the session can be inspected and
 * changed (nn_run_string, nn_get, nn_print_vars, ...), but it cannot start another train
 * block and must not be closed; the gradients are put back when it returns, so the update is
 * the one the step computed. NN_BREAK_CONTINUE goes on with that update; NN_BREAK_STOP ends the
 * block there (without it), and the run goes on after the block. At the first inf or NaN the
 * block ends either way. Without a handler (the default; fn NULL) a breakpoint is only
 * reported. Cannot fail. */
typedef enum NnBreakAction { NN_BREAK_CONTINUE, NN_BREAK_STOP } NnBreakAction;
typedef NnBreakAction (*NnBreakFn)(NnState *nn, const char *why, void *userdata);
NN_API void nn_set_break_handler(NnState *nn, NnBreakFn fn, void *userdata);
/* Adds a breakpoint for every train block: "step=N" (before update N of each block),
 * "nonfinite" (at the first inf or NaN) or "grad_norm=X" (before an update whose gradient norm
 * is above X). "none" clears them. Returns 1, or 0 if `spec` (borrowed) is not one of these;
 * then nothing changes. */
NN_API int nn_set_breakpoint(NnState *nn, const char *spec);
/* 1 while a train block is stopped at a breakpoint (inside the handler), else 0. */
NN_API int nn_in_break(NnState *nn);
/* Calls fn(userdata, word) for every keyword, built-in and defined name that starts with
 * `prefix` ("" for all). `word` is borrowed for the call only: copy it to keep it. A defined
 * name that is also a built-in may come twice. Writes nothing, changes nothing, cannot fail. */
NN_API void nn_complete(NnState *nn, const char *prefix,
                        void (*fn)(void *userdata, const char *word), void *userdata);
/* Writes to the output: every defined name with its kind and shape (and for params the norm
 * of the gradient). Changes nothing; cannot fail. */
NN_API void nn_print_vars(NnState *nn);
/* Writes the computation graph of an expression as an indented tree with each node's value,
 * and, for a scalar that depends on params, each node's gradient ∂expr/∂node (computed
 * without changing the params' accumulated gradients). `expr` (borrowed, one expression) is
 * kept as a text of the session but defines nothing. Returns NN_OK; NN_ERROR_COMPILE if it
 * is not one valid expression, or NN_ERROR_RUNTIME if computing it failed (messages on the
 * error callback, nothing written to the output). */
NN_API NnStatus nn_print_graph(NnState *nn, const char *expr);
/* The same graph in Graphviz DOT, with the same arguments, results and errors. */
NN_API NnStatus nn_print_dot(NnState *nn, const char *expr);
/* Writes help on a keyword, built-in, layer, optimizer or train setting to the output, or
 * (name NULL or empty) the list of topics. Returns 1, or 0 if the name is unknown (then
 * nothing is written, and no message: the caller says it its own way). */
NN_API int nn_print_help(NnState *nn, const char *name);
/* Writes a script to `path` (borrowed; replaced if it exists) that recreates the session's
 * definitions: every let, param, model, data set, assignment and seed that ran, in order,
 * then every param's current value, exactly. Returns NN_OK, or NN_ERROR_IO with a message if
 * the file cannot be written. Changes nothing in the session. */
NN_API NnStatus nn_save_session(NnState *nn, const char *path);
/* Writes the step-by-step HTML page (what `nn --html` writes) for a JSON Lines trace: `events`
 * is `len` bytes of the output of a session with nn_set_trace(nn, 1) and the "json" trace
 * format. Returns NN_OK, or NN_ERROR_IO with a message to the error callback. */
NN_API NnStatus nn_write_html(NnState *nn, const char *path, const char *events, size_t len);

#ifdef __cplusplus
}
#endif

#endif
