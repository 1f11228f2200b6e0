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
 * Not thread-safe per state; separate states are independent. */
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

#define NN_VERSION "0.1.0"

typedef struct NnState NnState;

/* Results of running code. The values are the exit statuses of the `nn` command. */
typedef enum NnStatus {
    NN_OK = 0,
    NN_ERROR_RUNTIME = 1,   /* a statement failed while running (e.g. a value became NaN) */
    NN_ERROR_COMPILE = 2,   /* syntax, name or shape error: nothing was run */
    NN_ERROR_IO = 3,        /* a file could not be read */
} NnStatus;

/* Receives `len` bytes of text (not NUL-terminated). */
typedef void (*NnWriteFn)(void *userdata, const char *text, size_t len);

/* A read-only view of a tensor's float32 values, row-major. Valid until the next call
 * that runs code in the same state, or nn_close. */
typedef struct NnTensorView {
    int rank;
    int shape[6];
    size_t size;            /* number of elements */
    const float *data;
} NnTensorView;

/* A new session with the default seed. Never NULL (aborts if out of memory). The caller
 * owns it and frees it with nn_close. */
NN_API NnState *nn_new(void);
NN_API void nn_close(NnState *nn);

/* Where printed output and diagnostics go. NULL restores the default (stdout, stderr). */
NN_API void nn_set_output(NnState *nn, NnWriteFn fn, void *userdata);
NN_API void nn_set_errors(NnState *nn, NnWriteFn fn, void *userdata);
/* Restarts the random numbers, as the statement `seed N`. */
NN_API void nn_set_seed(NnState *nn, uint64_t seed);
/* Non-zero: every `backward` prints its trace, and every `step` after it its update. */
NN_API void nn_set_trace(NnState *nn, int on);
/* How traces are written: "text" (the explanation, the default) or "dot" (the graph in
 * Graphviz DOT, with each node's value and gradient). Returns 0 for an unknown format. */
NN_API int nn_set_trace_format(NnState *nn, const char *format);
/* On (nonzero): long train blocks redraw a one-line progress report (epoch, batch, loss,
 * time left) on the output, with carriage returns; meant for a terminal. Off by default:
 * output to a pipe or file gets only the log lines. */
NN_API void nn_set_progress(NnState *nn, int on);

/* Compiles and runs `code`; `name` labels it in messages ("<-e>", "script.nn"). The text
 * is copied. */
NN_API NnStatus nn_run_string(NnState *nn, const char *name, const char *code);
/* Reads and runs a file. */
NN_API NnStatus nn_run_file(NnState *nn, const char *path);
/* Parses and checks names and shapes only: nothing runs and the session is unchanged. */
NN_API NnStatus nn_check_string(NnState *nn, const char *name, const char *code);
NN_API NnStatus nn_check_file(NnState *nn, const char *path);

/* Computes the current value of a defined name (a let formula is re-evaluated) and points
 * `out` at it. Returns NN_OK, NN_ERROR_COMPILE if the name is not defined, or
 * NN_ERROR_RUNTIME if evaluating it failed (the message goes to the error callback). */
NN_API NnStatus nn_get(NnState *nn, const char *name, NnTensorView *out);

NN_API const char *nn_version(void);

/* ---- for interactive hosts (the REPL) ------------------------------------------------------ */

/* 0 if `code` ends inside an open bracket or block, so a REPL should read another line
 * before running it; 1 otherwise (complete, or wrong in a way more lines cannot fix). */
NN_API int nn_is_complete(NnState *nn, const char *code);
/* Ctrl-C: while code runs, a train block checks *flag between steps; when it is set, the
 * block stops after the current step (keeping the params as they are) and clears it. */
NN_API void nn_set_interrupt(NnState *nn, volatile sig_atomic_t *flag);
/* Calls fn for every keyword, built-in and defined name that starts with `prefix`. */
NN_API void nn_complete(NnState *nn, const char *prefix,
                        void (*fn)(void *userdata, const char *word), void *userdata);
/* Writes to the output: every defined name with its kind and shape (and for params the norm
 * of the gradient). */
NN_API void nn_print_vars(NnState *nn);
/* Writes the computation graph of an expression as an indented tree with each node's value,
 * and, for a scalar that depends on params, each node's gradient ∂expr/∂node (computed
 * without changing the params' accumulated gradients). */
NN_API NnStatus nn_print_graph(NnState *nn, const char *expr);
/* The same graph in Graphviz DOT. */
NN_API NnStatus nn_print_dot(NnState *nn, const char *expr);
/* Writes help on a keyword, built-in, layer, optimizer or train setting, or (name NULL or
 * empty) the list of topics. Returns 0 if the name is unknown. */
NN_API int nn_print_help(NnState *nn, const char *name);
/* Writes a script that recreates the session's definitions: every let, param, model, data
 * set and seed that ran, in order, then every param's current value. */
NN_API NnStatus nn_save_session(NnState *nn, const char *path);

#ifdef __cplusplus
}
#endif

#endif
