// The worker pool of include/cpool.h. One job at a time (a try-lock): the caller publishes
// (body, context), the job's part cursor (parts << 32 | next part 0) and its remaining-parts
// count, then the job's epoch and helper count in one atomic word `state`, bumps `epoch`
// (the futex word) and wakes sleepers. The caller and workers 1...helpers each take parts
// with one fetch_add on `cursor` until none is left, and count finished parts down in
// `remaining`. The caller publishes the next job only when `remaining` is 0, so body and
// context are never rewritten while a part may still read them; a worker that wakes late
// and takes a part of the next job reads that job's body (written before the cursor).
#include "cpool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <limits.h>
#include <time.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define POOL_FUTEX 1
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_WORKERS 63
/// A worker waiting for the next job, and the caller waiting for the workers, spin this long,
/// then sleep on a futex. Long enough to span most gaps between the parallel sections of one
/// forward pass (the serial layers and activations between them: measured 20–160 µs for an
/// MLP at batch 32, where with 20 µs a worker went to sleep before nearly every job and the
/// caller ran its part alone while the futex wake-up went through); short, and without
/// sched_yield, so that on a machine shared with other work a waiting thread does not lose
/// its scheduling priority by spinning or yielding long.
#define SPIN_NS 100000

static atomic_int busy;
static atomic_uint epoch;
/// epoch << 32 | helpers (workers asked to join) of the current job.
static _Atomic unsigned long long state;
/// parts << 32 | the next part to take, of the current job.
static _Atomic unsigned long long cursor;
static atomic_int sleepers;
static atomic_uint remaining;
static atomic_int caller_sleeping;
static long workers;  // created so far (only the caller holding `busy` changes it)
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static graft_pool_body job_body;
static void *job_context;

static void futex_wait(atomic_uint *address, unsigned expected) {
#ifdef POOL_FUTEX
    syscall(SYS_futex, (unsigned *)address, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)address; (void)expected;
    sched_yield();
#endif
}

static void futex_wake_all(atomic_uint *address) {
#ifdef POOL_FUTEX
    syscall(SYS_futex, (unsigned *)address, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)address;
#endif
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/// The epoch at each worker's creation (written before pthread_create): the first job it
/// must run is the next one, even when the caller publishes it before the thread starts.
static unsigned initial_epoch[MAX_WORKERS + 1];

/// Runs parts of the current job until none is left; the last part done wakes the caller
/// if it went to sleep (seq_cst: pairs with the caller's caller_sleeping = 1 then check).
static void take_parts(void) {
    for (;;) {
        unsigned long long taken = atomic_fetch_add(&cursor, 1);
        unsigned part = (unsigned)taken, parts = (unsigned)(taken >> 32);
        if (part >= parts) return;
        job_body(job_context, (long)part);
        if (atomic_fetch_sub(&remaining, 1) == 1 && atomic_load(&caller_sleeping)) futex_wake_all(&remaining);
    }
}

static void *worker_main(void *argument) {
    long index = (long)argument;
    unsigned seen = initial_epoch[index];
    for (;;) {
        unsigned long long now;
        long long started = now_ns(), waited = 0;
        int spins = 0;
        while ((unsigned)((now = atomic_load_explicit(&state, memory_order_acquire)) >> 32) == seen) {
            if (++spins % 64 == 0) waited = now_ns() - started;
            if (waited < SPIN_NS) { CPU_RELAX(); continue; }
            atomic_fetch_add(&sleepers, 1);
            if (atomic_load(&epoch) == seen) futex_wait(&epoch, seen);
            atomic_fetch_sub(&sleepers, 1);
            started = now_ns();
            waited = 0;
        }
        seen = (unsigned)(now >> 32);
        if (index <= (long)(now & 0xffffffffu)) take_parts();
    }
    return NULL;
}

/// A forked child has none of the parent's threads: it starts a pool of its own.
static void reset_in_child(void) {
    workers = 0;
    atomic_store(&busy, 0);
    atomic_store(&sleepers, 0);
    atomic_store(&caller_sleeping, 0);
}

/// Makes sure workers 1...wanted exist; false when a thread cannot be created.
static int ensure_workers(long wanted) {
    if (workers >= wanted) return 1;
    pthread_mutex_lock(&create_lock);
    static int fork_handler;
    if (!fork_handler) fork_handler = pthread_atfork(NULL, NULL, reset_in_child) == 0;
    int ok = 1;
    while (workers < wanted) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        initial_epoch[workers + 1] = (unsigned)(atomic_load(&state) >> 32);
        int failed = pthread_create(&thread, &attributes, worker_main, (void *)(workers + 1));
        pthread_attr_destroy(&attributes);
        if (failed) { ok = 0; break; }
        workers++;
    }
    pthread_mutex_unlock(&create_lock);
    return ok;
}

int graft_pool_run(long parts, graft_pool_body body, void *context) {
    if (parts <= 1) {
        if (parts == 1) body(context, 0);
        return 1;
    }
    if (parts > MAX_WORKERS + 1) return 0;
    if (atomic_exchange(&busy, 1)) return 0;
    long helpers = parts - 1;
    if (!ensure_workers(helpers)) { atomic_store(&busy, 0); return 0; }
    job_body = body;
    job_context = context;
    atomic_store(&remaining, (unsigned)parts);
    atomic_store(&cursor, (unsigned long long)parts << 32);
    unsigned next = (unsigned)(atomic_load(&state) >> 32) + 1;
    atomic_store(&state, (unsigned long long)next << 32 | (unsigned long long)helpers);
    atomic_store(&epoch, next);  // seq_cst: pairs with a worker's sleepers++ then epoch check
    if (atomic_load(&sleepers) > 0) futex_wake_all(&epoch);
    take_parts();
    long long started = now_ns(), waited = 0;
    long spins = 0;
    unsigned left;
    while ((left = atomic_load_explicit(&remaining, memory_order_acquire)) > 0) {
        if (++spins % 64 == 0) waited = now_ns() - started;
        if (waited < SPIN_NS) { CPU_RELAX(); continue; }
        atomic_store(&caller_sleeping, 1);
        if ((left = atomic_load(&remaining)) > 0) futex_wait(&remaining, left);
        atomic_store(&caller_sleeping, 0);
    }
    atomic_store(&busy, 0);
    return 1;
}
