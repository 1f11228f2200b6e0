/* pool.h — the process's pool of worker threads for fork-join loops (kernels.c): a job is cut
 * into parts, the calling thread and the sleeping workers take parts until none is left, and
 * the call returns when every part is done.
 *
 * The pool is process-wide state (one set of threads, however many NnStates there are),
 * started on first need and stopped by pool_shutdown, which atexit calls. It runs one job at a
 * time: a thread that finds it busy runs its own job alone, so callers never wait for each
 * other. Workers sleep on a condition variable between jobs; only right after a job do they
 * spin for a moment (50 us) for the next one. fork is handled: the child starts with no
 * workers. */
#ifndef NN_POOL_H
#define NN_POOL_H

#include <stddef.h>

/* The most threads a job can use: the caller and POOL_MAX_THREADS - 1 workers. */
#define POOL_MAX_THREADS 64

/* One part of a job. Different parts of a job run at the same time on different threads, so
 * they must not write to the same memory; each part runs exactly once. */
typedef void (*PoolTask)(void *ctx, int part);

/* Runs task(ctx, part) for each part in [0, parts) on the calling thread and on up to
 * threads - 1 workers (threads is clamped to [1, POOL_MAX_THREADS]), and returns when all of
 * them are done; what the parts wrote is then visible to the caller. Missing workers are
 * started first, each with a stack of stack_bytes (at least the system's minimum); when that
 * fails, or threads or parts is 1, or another thread's job is running, the caller runs every
 * part itself, in order. Parts are handed out in increasing order, each to the first thread
 * free to take it, so a late or slow thread simply takes fewer. Allocates nothing; cannot
 * raise. A task may call pool_run (its job then runs alone) but not pool_shutdown. */
void pool_run(int threads, size_t stack_bytes, PoolTask task, void *ctx, int parts);

/* Stops and joins every worker (after the job in progress, if any); the next pool_run that
 * needs workers starts them again. Thread-safe. Registered with atexit when the first worker
 * starts, so that no thread outlives main. */
void pool_shutdown(void);

/* Workers running now (for tests). */
int pool_workers(void);

#endif
