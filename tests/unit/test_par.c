/* par: every part runs once, parts 1.. off the caller's thread, and the pool
 * survives reuse, calls from inside a part, calls from two threads at once,
 * and a fork. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/par.h"

typedef struct runs {
    atomic_int count[VB_PAR_MAX];
    pthread_t who[VB_PAR_MAX];
    long tid[VB_PAR_MAX]; /* the kernel's thread ids, which are not reused from call to call as pthread_t may be */
    int nested; /* > 0: each part makes a vb_par_run of this many parts */
} runs;

/* A deadlock ends the test by SIGALRM, which Criterion reports as a crash
 * (its own .timeout leaks in the runner when two run at once). */
static void deadline(void) { alarm(60); }

static void count_part(void *ctx, int j) { atomic_fetch_add(&((runs *)ctx)->count[j], 1); }

static void record_part(void *ctx, int j) {
    runs *r = ctx;
    atomic_fetch_add(&r->count[j], 1);
    r->who[j] = pthread_self();
    r->tid[j] = syscall(SYS_gettid);
    if (r->nested > 0) {
        runs inner = {0};
        vb_par_run(r->nested, count_part, &inner);
        for (int i = 0; i < r->nested; i++)
            if (atomic_load(&inner.count[i]) != 1) atomic_fetch_add(&r->count[j], 100); /* flagged below */
    }
}

static void check_once(runs *r, int n) {
    for (int j = 0; j < VB_PAR_MAX; j++)
        cr_assert_eq(atomic_load(&r->count[j]), j < n ? 1 : 0, "n %d: part %d ran %d times", n, j,
                     atomic_load(&r->count[j]));
}

Test(par, every_part_runs_once_and_parts_past_the_first_leave_the_caller) {
    deadline();
    const int ns[] = {1, 2, 3, 8, VB_PAR_MAX, VB_PAR_MAX + 5, 2};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        runs r = {0};
        vb_par_run(ns[i], record_part, &r);
        const int n = ns[i] > VB_PAR_MAX ? VB_PAR_MAX : ns[i];
        check_once(&r, n);
        cr_assert(pthread_equal(r.who[0], pthread_self()), "part 0 runs on the caller");
        for (int j = 1; j < n; j++) {
            cr_assert(!pthread_equal(r.who[j], pthread_self()), "n %d: part %d ran on the caller", n, j);
            for (int k = 1; k < j; k++) cr_assert(!pthread_equal(r.who[j], r.who[k]), "parts %d and %d shared", k, j);
        }
    }
}

Test(par, thousands_of_calls_reuse_the_pool) {
    deadline();
    runs first = {0};
    vb_par_run(3, record_part, &first);
    for (int i = 0; i < 5000; i++) {
        runs r = {0};
        vb_par_run(2 + i % 3, i % 100 ? count_part : record_part, &r);
        check_once(&r, 2 + i % 3);
        if (i % 100 == 0) cr_assert_eq(r.tid[1], first.tid[1], "call %d: part 1 on a new thread", i);
    }
}

Test(par, a_call_from_inside_a_part_runs_all_its_parts) {
    deadline();
    runs r = {.nested = 3};
    vb_par_run(4, record_part, &r);
    check_once(&r, 4); /* a nested call that missed a part adds 100 */
}

static void *caller(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        runs r = {0};
        vb_par_run(3, count_part, &r);
        for (int j = 0; j < 3; j++)
            if (atomic_load(&r.count[j]) != 1) return (void *)1;
    }
    return NULL;
}

Test(par, two_threads_calling_at_once_both_finish) {
    deadline();
    pthread_t a, b;
    cr_assert_eq(pthread_create(&a, NULL, caller, NULL), 0);
    cr_assert_eq(pthread_create(&b, NULL, caller, NULL), 0);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    cr_assert_null(ra);
    cr_assert_null(rb);
}

Test(par, a_forked_child_runs_parts_on_threads_of_its_own) {
    deadline();
    runs r = {0};
    vb_par_run(3, record_part, &r); /* the parent's pool exists */
    usleep(100000);                 /* and its workers wait for the next call */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(30); /* a hung child ends too */
        long first = 0;
        for (int i = 0; i < 50; i++) { /* the child's own pool, reused */
            runs c = {0};
            vb_par_run(3, record_part, &c);
            for (int j = 0; j < 3; j++)
                if (atomic_load(&c.count[j]) != 1) _exit(1);
            if (c.tid[1] == syscall(SYS_gettid) || c.tid[1] == r.tid[1]) _exit(2);
            if (i == 0) first = c.tid[1];
            if (c.tid[1] != first) _exit(3);
        }
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    runs again = {0};
    vb_par_run(3, count_part, &again);
    check_once(&again, 3);
}
