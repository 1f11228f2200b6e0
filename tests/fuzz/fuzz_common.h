/* fuzz_common.h — what the libFuzzer harnesses share: a private scratch directory to work in,
 * writing an input to a file there, callbacks that discard text, and invariant failures. */
#ifndef NN_FUZZ_COMMON_H
#define NN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Creates a private directory (under /dev/shm when it exists, so the library's fsync is
 * cheap; else $TMPDIR or /tmp), makes it the working directory for the rest of the process
 * and removes it at exit. With copy_data, the repository's data files are copied into it at
 * the paths the scripts use (examples/data/..., tests/errors/data/...), so seeds that read
 * them work while the fuzzed scripts can touch nothing outside the directory. Returns its
 * path (static storage). Call once, from LLVMFuzzerInitialize. The directory is removed at
 * exit, or, if the process ends without running atexit handlers (libFuzzer's _Exit, a
 * crash), by the next harness that starts. */
const char *fuzz_workdir(int copy_data);

/* Replaces the file `name` (relative to the working directory) with data[0..size). Aborts
 * if it cannot (the harness cannot work without it). */
void fuzz_write_file(const char *name, const uint8_t *data, size_t size);

/* An NnWriteFn that drops the text. */
void fuzz_discard(void *ud, const char *text, size_t len);

/* A broken invariant found by a harness's own check: prints it and aborts, so libFuzzer
 * saves the input as a crash. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An environment variable as a number, or `def` when unset or empty. */
double fuzz_env_num(const char *name, double def);

#endif
