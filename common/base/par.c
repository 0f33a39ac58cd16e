/* par — see par.h. */
#include "par.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct part {
    void (*fn)(void *ctx, int j);
    void *ctx;
    int j;
} part;

static void *part_thread(void *arg) {
    const part *p = arg;
    p->fn(p->ctx, p->j);
    return NULL;
}

/* Fork-join on threads started for the call: the path when the pool is in
 * use (a call from a part, or from another thread at the same time). */
static void run_started(int n, void (*fn)(void *ctx, int j), void *ctx) {
    pthread_t th[VB_PAR_MAX];
    part parts[VB_PAR_MAX];
    int started[VB_PAR_MAX] = {0};
    for (int j = 1; j < n; j++) {
        parts[j] = (part){fn, ctx, j};
        started[j] = pthread_create(&th[j], NULL, part_thread, &parts[j]) == 0;
        if (!started[j]) fn(ctx, j);
    }
    fn(ctx, 0);
    for (int j = 1; j < n; j++)
        if (started[j]) pthread_join(th[j], NULL);
}

/* The pool: worker j (1 ..) waits for the call count to move past the one
 * it last saw, runs part j of that call if there is one, and counts itself
 * done. Workers are started as calls first need them and kept (starting a
 * thread per call cost the 2-thread planner and GRU window 1.5-2%); a forked
 * child has none of its parent's threads and starts its own. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int workers;             /* 1 .. workers exist */
    bool busy;
    uint64_t calls;
    int n, pending;
    void (*fn)(void *ctx, int j);
    void *ctx;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

typedef struct worker_arg {
    int j;
    uint64_t seen;
} worker_arg;

static void *worker(void *arg) {
    worker_arg w = *(worker_arg *)arg;
    free(arg);
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.calls == w.seen) pthread_cond_wait(&pool.go, &pool.mu);
        w.seen = pool.calls;
        if (w.j >= pool.n) continue;
        void (*fn)(void *, int) = pool.fn;
        void *ctx = pool.ctx;
        pthread_mutex_unlock(&pool.mu);
        fn(ctx, w.j);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

static void fork_prepare(void) { pthread_mutex_lock(&pool.mu); }
static void fork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void fork_child(void) {
    /* the parent's workers and waiters are not here, but the condition
     * variables may still count them (glibc's next broadcast would wait for
     * them): both start afresh */
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.workers = 0;
    pool.pending = 0;
    pool.busy = false;
    pthread_mutex_unlock(&pool.mu);
}
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void fork_hooks(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

void vb_par_run(int n, void (*fn)(void *ctx, int j), void *ctx) {
    if (n > VB_PAR_MAX) n = VB_PAR_MAX;
    if (n <= 1) {
        fn(ctx, 0);
        return;
    }
    pthread_once(&fork_once, fork_hooks);
    pthread_mutex_lock(&pool.mu);
    if (pool.busy) { /* a call from a part, or from another thread meanwhile */
        pthread_mutex_unlock(&pool.mu);
        run_started(n, fn, ctx);
        return;
    }
    while (pool.workers < n - 1) {
        worker_arg *w = malloc(sizeof *w);
        pthread_t th;
        if (!w) break;
        *w = (worker_arg){pool.workers + 1, pool.calls};
        if (pthread_create(&th, NULL, worker, w) != 0) {
            free(w);
            break;
        }
        pthread_detach(th);
        pool.workers++;
    }
    const int pooled = pool.workers + 1 < n ? pool.workers + 1 : n; /* parts the pool's threads take */
    pool.busy = true;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = pooled;
    pool.pending = pooled - 1;
    pool.calls++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (int j = pooled; j < n; j++) fn(ctx, j); /* the parts no worker could be started for */
    fn(ctx, 0);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pool.busy = false;
    pthread_mutex_unlock(&pool.mu);
}

int vb_par_parts(int threads, int64_t rows) {
    int64_t n = threads < rows ? threads : rows;
    if (n > VB_PAR_MAX) n = VB_PAR_MAX;
    return n < 1 ? 1 : (int)n;
}

void vb_par_rows(int64_t rows, int n, int j, int64_t *r0, int64_t *r1) {
    if (n < 1) n = 1;
    const int64_t per = (rows + n - 1) / n, a = (int64_t)j * per, b = a + per;
    *r0 = a < rows ? a : rows;
    *r1 = b < rows ? b : rows;
}
