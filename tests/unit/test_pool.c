/* test_pool.c — unit tests for pool.c: every part runs once, parts of a job run at the same
 * time on different threads, a caller that finds the pool busy runs its job alone, and
 * workers stop and start again. */
#include "testutil.h"

#include "common.h"
#include "pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTS 200

/* What the parts of a job saw. */
typedef struct Record {
    atomic_int runs[MAX_PARTS];     /* times each part ran */
    pthread_t who[MAX_PARTS];       /* the thread that ran it */
    int order[MAX_PARTS];           /* the parts in the order they ran, with one thread */
    atomic_int count;
} Record;

static void record_part(void *ctx, int part)
{
    Record *r = ctx;
    atomic_fetch_add(&r->runs[part], 1);
    r->who[part] = pthread_self();
    r->order[atomic_fetch_add(&r->count, 1)] = part;
}

static Record *record_new(void)
{
    Record *r = test_calloc(1, sizeof *r);
    for (int i = 0; i < MAX_PARTS; i++) atomic_init(&r->runs[i], 0);
    atomic_init(&r->count, 0);
    return r;
}

/* Waits up to about 10 s for *flag to become nonzero; whether it did. */
static bool wait_for(atomic_int *flag)
{
    for (int i = 0; i < 10000 && !atomic_load(flag); i++)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    return atomic_load(flag) != 0;
}

static void test_alone_in_order(void **state)
{
    (void)state;
    Record *r = record_new();
    pool_run(1, 1 << 20, record_part, r, 10);
    assert_int_equal(atomic_load(&r->count), 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(r->order[i], i);
        assert_true(pthread_equal(r->who[i], pthread_self()));
    }
    assert_int_equal(pool_workers(), 0);    /* one thread: no worker started */
    test_free(r);
}

static void test_every_part_once(void **state)
{
    (void)state;
    for (int threads = 2; threads <= 4; threads++)
        for (int parts = 1; parts <= MAX_PARTS; parts += 37) {
            Record *r = record_new();
            pool_run(threads, 1 << 20, record_part, r, parts);
            assert_int_equal(atomic_load(&r->count), parts);
            for (int i = 0; i < parts; i++) assert_int_equal(atomic_load(&r->runs[i]), 1);
            test_free(r);
        }
    assert_int_equal(pool_workers(), 3);
    pool_shutdown();
    assert_int_equal(pool_workers(), 0);
    pool_shutdown();                        /* twice is fine */
}

/* Part 0 waits for part 1 to start: only another thread can have taken part 1. */
typedef struct Meet {
    atomic_int started[2];
    atomic_int met;
    pthread_t who[2];
} Meet;

static void meet_part(void *ctx, int part)
{
    Meet *m = ctx;
    m->who[part] = pthread_self();
    atomic_store(&m->started[part], 1);
    if (part == 0) atomic_store(&m->met, wait_for(&m->started[1]));
}

static void test_parts_run_together(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {   /* started, then asleep between jobs */
        Meet m;
        atomic_init(&m.started[0], 0), atomic_init(&m.started[1], 0), atomic_init(&m.met, 0);
        pool_run(2, 1 << 20, meet_part, &m, 2);
        assert_true(atomic_load(&m.met));
        assert_true(pthread_equal(m.who[0], pthread_self()));
        assert_false(pthread_equal(m.who[1], pthread_self()));
    }
    assert_int_equal(pool_workers(), 1);
    pool_shutdown();
}

/* A job that holds the pool until released: part 0 on its caller, part 1 on the worker. */
typedef struct Hold {
    atomic_int running[2];
    atomic_int release;
} Hold;

static void hold_part(void *ctx, int part)
{
    Hold *h = ctx;
    atomic_store(&h->running[part], 1);
    wait_for(&h->release);
}

static void *hold_main(void *arg)
{
    pool_run(2, 1 << 20, hold_part, arg, 2);
    return NULL;
}

/* While another thread's job holds the pool, a caller runs its own job alone, at once. */
static void test_busy_runs_alone(void **state)
{
    (void)state;
    Hold h;
    atomic_init(&h.running[0], 0), atomic_init(&h.running[1], 0), atomic_init(&h.release, 0);
    pthread_t holder;
    assert_int_equal(pthread_create(&holder, NULL, hold_main, &h), 0);
    assert_true(wait_for(&h.running[0]));
    assert_true(wait_for(&h.running[1]));     /* the worker is busy too */
    Record *r = record_new();
    pool_run(2, 1 << 20, record_part, r, 5);
    assert_int_equal(atomic_load(&r->count), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r->order[i], i);
        assert_true(pthread_equal(r->who[i], pthread_self()));
    }
    atomic_store(&h.release, 1);
    assert_int_equal(pthread_join(holder, NULL), 0);
    test_free(r);
    pool_shutdown();
    assert_int_equal(pool_workers(), 0);
}

/* A job wanting fewer threads than there are workers leaves the others asleep. */
static void test_fewer_threads_than_workers(void **state)
{
    (void)state;
    Record *r = record_new();
    pool_run(4, 1 << 20, record_part, r, 40);
    assert_int_equal(pool_workers(), 3);
    test_free(r);
    for (int round = 0; round < 20; round++) {
        r = record_new();
        pool_run(2, 1 << 20, record_part, r, 40);
        int threads = 0;
        pthread_t seen[4];
        for (int i = 0; i < 40; i++) {
            assert_int_equal(atomic_load(&r->runs[i]), 1);
            bool known = false;
            for (int t = 0; t < threads; t++) known = known || pthread_equal(seen[t], r->who[i]);
            if (!known) {
                assert_true(threads < 2);
                seen[threads++] = r->who[i];
            }
        }
        test_free(r);
    }
    pool_shutdown();
}

/* A child forked while workers run has none, and exits without waiting for the parent's
 * (pool_shutdown runs at exit). It starts no thread: sanitizers may not allow that after a
 * fork. */
static void test_fork(void **state)
{
    (void)state;
    Record *r = record_new();
    pool_run(3, 1 << 20, record_part, r, 10);
    assert_int_equal(pool_workers(), 2);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pool_run(1, 1 << 20, record_part, r, 3);
        bool ok = pool_workers() == 0 && atomic_load(&r->count) == 13;
        test_free(r);   /* for leak checkers at the child's exit */
        exit(ok ? 0 : 1);
    }
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 10000 && done == 0; i++) {   /* about 10 s */
        done = waitpid(child, &status, WNOHANG);
        if (done == 0) nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
    if (done == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        fail_msg("the child did not exit");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(pool_workers(), 2);         /* the parent's are still there */
    Meet m;
    atomic_init(&m.started[0], 0), atomic_init(&m.started[1], 0), atomic_init(&m.met, 0);
    pool_run(2, 1 << 20, meet_part, &m, 2);
    assert_true(atomic_load(&m.met));
    pool_shutdown();
    test_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_in_order),
        cmocka_unit_test(test_every_part_once),
        cmocka_unit_test(test_parts_run_together),
        cmocka_unit_test(test_busy_runs_alone),
        cmocka_unit_test(test_fewer_threads_than_workers),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
