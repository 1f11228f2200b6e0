/* pool.c — the process's pool of worker threads (pool.h), on POSIX threads.
 *
 * Two locks. `busy` is held by the one caller whose job the pool runs, for the whole job, and
 * by pool_shutdown; a caller that cannot take it at once runs its job alone (pool_run), so two
 * threads never wait for each other's products. `lock` guards the job and the workers' state;
 * a part is claimed under it (next++), run without it, and counted as finished under it, so a
 * worker never mixes the fields of two jobs: the caller posts a new job only after every part
 * of the last one is finished, and a worker reads task and ctx in the same critical section as
 * it claims its part.
 *
 * Waiting. A worker that has just run parts spins for up to POOL_SPIN_NS watching `posted`
 * before it sleeps on `wake`, and the caller spins as long for its last part to finish before
 * it sleeps on `done`: products come back to back in training, and waking a sleeping thread
 * costs 10-20 us here (a futex, then the VM's vCPU), as much as a whole 2^20 product. Measured
 * on 2 idle Zen 4 cores (bench/kernel.c): with the spins, 256^3 runs at 205-217 GFLOP/s on 2
 * threads, without them at 150-175; a product of 2^20 multiply-adds cut in 2 gains 1.65x with
 * them and loses (0.6x) without. Idle, the workers sleep: at most one spin per job. */
#define _POSIX_C_SOURCE 200809L
#include "pool.h"

#include "common.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#define MAX_WORKERS (POOL_MAX_THREADS - 1)

/* How long a thread spins before it sleeps, in nanoseconds (see above). */
#define POOL_SPIN_NS 50000

/* The process's one pool. It is global state (STYLE.md §2 allows none) because it stands for
 * threads, which are the process's: one set serves every NnState. */
typedef struct Pool {
    pthread_mutex_t busy;       /* held by the thread whose job runs, and by pool_shutdown */
    pthread_mutex_t lock;       /* guards everything below */
    pthread_cond_t wake;        /* workers: a part to take, or quit */
    pthread_cond_t done;        /* the caller: the last part of its job is finished */
    PoolTask task;              /* the job: task(ctx, part) for part < parts */
    void *ctx;
    int parts;
    int next;                   /* parts claimed so far */
    atomic_int finished;        /* parts finished (changed under lock, read while spinning) */
    atomic_uint posted;         /* jobs posted, and shutdowns (read while spinning) */
    int helpers;                /* workers 0 .. helpers-1 take part in this job */
    bool quit;                  /* workers: return */
    bool registered;            /* at_fork and pool_shutdown (atexit) are registered */
    int workers;                /* running; changed only under both locks */
    pthread_t thread[MAX_WORKERS];
} Pool;

static Pool pool = {
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins for up to POOL_SPIN_NS while *v == old. */
static void spin_unchanged(atomic_uint *v, unsigned old)
{
    long long until = now_ns() + POOL_SPIN_NS;
    for (int i = 1; atomic_load(v) == old; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > until) return;
    }
}

/* Spins for up to POOL_SPIN_NS while *v < limit. */
static void spin_below(atomic_int *v, int limit)
{
    long long until = now_ns() + POOL_SPIN_NS;
    for (int i = 1; atomic_load(v) < limit; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > until) return;
    }
}

/* Claims and runs parts of the job until none is left. pool.lock is held on entry and on
 * return, released while a part runs. */
static void run_parts(void)
{
    while (pool.next < pool.parts) {
        int part = pool.next++;
        PoolTask task = pool.task;
        void *ctx = pool.ctx;
        pthread_mutex_unlock(&pool.lock);
        task(ctx, part);
        pthread_mutex_lock(&pool.lock);
        if (atomic_fetch_add(&pool.finished, 1) + 1 == pool.parts)
            pthread_cond_signal(&pool.done);
    }
}

/* A worker: sleeps until its job has a part left for it to take, or until quit. arg is its
 * index, which decides whether it takes part in a job that wants fewer threads. */
static void *worker_main(void *arg)
{
    const int index = (int)(intptr_t)arg;
    bool spin = false;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.quit && !(index < pool.helpers && pool.next < pool.parts)) {
            if (spin) {
                unsigned seen = atomic_load(&pool.posted);
                spin = false;
                pthread_mutex_unlock(&pool.lock);
                spin_unchanged(&pool.posted, seen);
                pthread_mutex_lock(&pool.lock);
                continue;
            }
            pthread_cond_wait(&pool.wake, &pool.lock);
        }
        if (pool.quit) break;
        run_parts();
        spin = true;
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* fork: the child has no workers, though pool.thread names the parent's; it must not join
 * them (at exit) nor count on them (a caller would take every part anyway, but the next job
 * should start new workers). Both locks are held across fork so that the child gets them in a
 * known state (free, with no job posted). */
static void fork_prepare(void)
{
    pthread_mutex_lock(&pool.busy);
    pthread_mutex_lock(&pool.lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}

static void fork_child(void)
{
    pool.workers = 0;
    /* the parent's sleeping workers may still be counted as waiters */
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}

/* Starts workers until there are want of them (pool.busy held). Workers are started with
 * every signal blocked, so that signals meant for the program reach its own threads. Returns
 * how many run; fewer than want only when the system refuses a thread. */
static int start_workers(int want, size_t stack_bytes)
{
    if (pool.workers >= want) return pool.workers;
    if (!pool.registered) {
        if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0) return pool.workers;
        atexit(pool_shutdown);  /* if it fails, the workers just die with the process */
        pool.registered = true;
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return pool.workers;
    if (stack_bytes < PTHREAD_STACK_MIN) stack_bytes = PTHREAD_STACK_MIN;
    bool ok = pthread_attr_setstacksize(&attr, stack_bytes) == 0;
    sigset_t all, old;
    sigfillset(&all);
    ok = ok && pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
    while (ok && pool.workers < want) {
        pthread_t t;
        if (pthread_create(&t, &attr, worker_main, (void *)(intptr_t)pool.workers) != 0) break;
        pthread_mutex_lock(&pool.lock);
        pool.thread[pool.workers++] = t;
        pthread_mutex_unlock(&pool.lock);
    }
    if (ok) pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return pool.workers;
}

void pool_run(int threads, size_t stack_bytes, PoolTask task, void *ctx, int parts)
{
    if (threads > POOL_MAX_THREADS) threads = POOL_MAX_THREADS;
    int helpers = 0;
    if (threads > 1 && parts > 1 && pthread_mutex_trylock(&pool.busy) == 0) {
        helpers = start_workers(threads - 1, stack_bytes);
        if (helpers > threads - 1) helpers = threads - 1;
        if (helpers == 0) pthread_mutex_unlock(&pool.busy);
    }
    if (helpers == 0) {
        for (int part = 0; part < parts; part++) task(ctx, part);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.task = task;
    pool.ctx = ctx;
    pool.parts = parts;
    pool.next = 0;
    atomic_store(&pool.finished, 0);
    pool.helpers = helpers;
    atomic_fetch_add(&pool.posted, 1);
    pthread_cond_broadcast(&pool.wake);
    run_parts();
    if (atomic_load(&pool.finished) < parts) {
        pthread_mutex_unlock(&pool.lock);
        spin_below(&pool.finished, parts);
        pthread_mutex_lock(&pool.lock);
    }
    while (atomic_load(&pool.finished) < pool.parts) pthread_cond_wait(&pool.done, &pool.lock);
    pool.task = NULL;
    pool.ctx = NULL;
    pool.parts = pool.next = pool.helpers = 0;
    atomic_store(&pool.finished, 0);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}

void pool_shutdown(void)
{
    pthread_mutex_lock(&pool.busy);
    pthread_mutex_lock(&pool.lock);
    pool.quit = true;
    atomic_fetch_add(&pool.posted, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.workers; i++) pthread_join(pool.thread[i], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.workers = 0;
    pool.quit = false;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}

int pool_workers(void)
{
    pthread_mutex_lock(&pool.lock);
    int n = pool.workers;
    pthread_mutex_unlock(&pool.lock);
    return n;
}
