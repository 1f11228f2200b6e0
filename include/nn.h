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

#ifdef __cplusplus
}
#endif

#endif
