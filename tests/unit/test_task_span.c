/* task_span: what each replay slot learns of its tasks outside its chunk.
 * Tasks of 5 steps, chunks of 3; a transition's cell is 100 * stream + its
 * step in the stream, its reward the same number, so every list can be read
 * off by hand. */
#include <criterion/criterion.h>

#include "common/train/task_span.h"

enum { L = 3, TASK = 5, CAP = TASK - 1 };

typedef struct stream {
    int32_t actor, slot;
    int64_t step;        /* steps of the stream so far */
} stream;

/* The stream's next chunk into replay slot k (< 0: dropped). */
static void feed(vb_task_span *s, stream *st, int64_t k) {
    float reset[L], rew[L];
    int32_t cell[L];
    for (int64_t t = 0; t < L; t++, st->step++) {
        reset[t] = st->step % TASK == 0;
        cell[t] = (int32_t)(100 * st->slot + st->step);
        rew[t] = (float)cell[t];
    }
    const bool ended = st->step % TASK == 0; /* the chunk's last step was its task's last */
    cr_assert_eq(vb_task_span_observe(s, st->actor, st->slot, L, reset, cell, rew, ended, k), 0);
}

/* Slot k's prefix (pre) or suffix: the stream steps first .. first + n - 1 of stream slot sl. */
static void expect(const vb_task_span *s, int64_t k, bool pre, int32_t sl, int64_t first, int64_t n) {
    const int64_t got = pre ? s->pre_n[k] : s->post_n[k];
    cr_assert_eq(got, n, "slot %lld %s: %lld transitions, expected %lld", (long long)k, pre ? "prefix" : "suffix",
                 (long long)got, (long long)n);
    for (int64_t j = 0; j < n; j++) {
        int32_t c = (pre ? s->pre_cell : s->post_cell)[k * s->cap + j];
        float r = (pre ? s->pre_rew : s->post_rew)[k * s->cap + j];
        cr_assert_eq(c, 100 * sl + first + j, "slot %lld %s[%lld]: cell %d", (long long)k, pre ? "prefix" : "suffix",
                     (long long)j, c);
        cr_assert_eq(r, (float)c);
    }
}

Test(task_span, prefixes_and_suffixes_follow_each_streams_task) {
    vb_task_span s;
    char err[128];
    cr_assert_eq(vb_task_span_init(&s, 8, TASK, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.cap, CAP);
    stream a = {0, 0, 0}, b = {0, 1, 0};
    feed(&s, &a, 0);     /* a: steps 0-2, task 0 */
    feed(&s, &b, 1);     /* b: steps 0-2 */
    expect(&s, 0, true, 0, 0, 0);
    expect(&s, 0, false, 0, 0, 0);
    feed(&s, &a, 2);     /* a: steps 3-4 end task 0, step 5 starts task 1 */
    expect(&s, 0, false, 0, 3, 2);   /* slot 0's task continued in steps 3-4 */
    expect(&s, 2, true, 0, 0, 3);    /* slot 2's first task began in steps 0-2 */
    expect(&s, 1, false, 1, 0, 0);   /* the other stream's slot is untouched */
    feed(&s, &a, -1);    /* a: steps 6-8, dropped as stale: still task 1 */
    expect(&s, 2, false, 0, 6, 3);   /* slot 2's last task is task 1: steps 6-8 */
    expect(&s, 0, false, 0, 3, 2);   /* task 0 is over */
    feed(&s, &a, 3);     /* a: step 9 ends task 1, steps 10-11 */
    expect(&s, 2, false, 0, 6, 4);
    expect(&s, 3, true, 0, 5, 4);    /* task 1's steps 5-8, the stale chunk's included */
    feed(&s, &b, 4);     /* b: steps 3-5 */
    expect(&s, 1, false, 1, 3, 2);
    expect(&s, 4, true, 1, 0, 3);
    vb_task_span_free(&s);
}

Test(task_span, an_overwritten_slot_takes_nothing_of_its_old_task) {
    vb_task_span s;
    char err[128];
    cr_assert_eq(vb_task_span_init(&s, 2, TASK, err, sizeof err), 0, "%s", err);
    stream a = {0, 0, 0}, b = {1, 0, 0};
    feed(&s, &a, 0);     /* a: steps 0-2 in slot 0 */
    feed(&s, &b, 0);     /* b overwrites slot 0 with its steps 0-2 */
    feed(&s, &a, 1);     /* a: steps 3-5: slot 0 is no longer a's */
    expect(&s, 0, false, 0, 0, 0);
    expect(&s, 0, true, 0, 0, 0);
    feed(&s, &b, 1);     /* b: steps 3-5 extend slot 0, b's own */
    expect(&s, 0, false, 0, 3, 2);
    vb_task_span_free(&s);
}

Test(task_span, a_stream_first_seen_mid_task_gives_what_it_saw) {
    vb_task_span s;
    char err[128];
    cr_assert_eq(vb_task_span_init(&s, 4, TASK, err, sizeof err), 0, "%s", err);
    stream a = {2, 0, 3};         /* the learner joins at step 3, mid-task */
    feed(&s, &a, 0);              /* steps 3-5 */
    expect(&s, 0, true, 0, 0, 0);
    expect(&s, 0, false, 0, 0, 0);
    feed(&s, &a, 1);              /* steps 6-8, task 1 */
    expect(&s, 1, true, 0, 5, 1);
    expect(&s, 0, false, 0, 6, 3);  /* slot 0's last task began at its step 5 */
    vb_task_span_forget_actor(&s, 2);
    stream again = {2, 0, 9};     /* the actor rejoins: its history is gone */
    feed(&s, &again, 2);          /* steps 9-11: task 1 ends at 9 */
    expect(&s, 1, false, 0, 0, 0);
    expect(&s, 2, true, 0, 0, 0);
    vb_task_span_free(&s);
}

Test(task_span, a_slot_stays_open_until_its_task_ends) {
    vb_task_span s;
    char err[128];
    cr_assert_eq(vb_task_span_init(&s, 8, TASK, err, sizeof err), 0, "%s", err);
    stream a = {0, 0, 0}, b = {1, 0, 0};
    feed(&s, &a, 0);     /* a: steps 0-2, task 0 running */
    feed(&s, &b, 1);     /* b: steps 0-2 */
    cr_assert(s.open[0] && s.open[1]);
    feed(&s, &a, 2);     /* a: steps 3-4 end task 0, step 5 starts task 1 */
    cr_assert(!s.open[0], "slot 0's task ended at step 4");
    cr_assert(s.open[2], "slot 2's last task (task 1) runs on");
    cr_assert(s.open[1], "the other stream's slot is untouched");
    feed(&s, &a, -1);    /* a: steps 6-8, dropped: task 1 still runs */
    cr_assert(s.open[2]);
    feed(&s, &a, 3);     /* a: step 9 ends task 1; steps 10-11 of task 2 */
    cr_assert(!s.open[2]);
    cr_assert(s.open[3]);
    feed(&s, &b, 3);     /* b overwrites slot 3 (still in a's list) with its steps 3-5 */
    cr_assert(s.open[3], "b's task 1 runs on in slot 3");
    feed(&s, &a, 4);     /* a: steps 12-14 end task 2 with the chunk */
    cr_assert(s.open[3], "a's task ending does not close b's slot");
    cr_assert(!s.open[4], "a chunk that ends its task is complete on arrival");
    feed(&s, &a, 5);     /* a: steps 15-17, task 3 */
    cr_assert(s.open[5]);
    vb_task_span_forget_actor(&s, 1);
    cr_assert(!s.open[3] && !s.open[1], "an actor that left will not finish its tasks");
    cr_assert(s.open[5], "the other actor's slot stays open");
    vb_task_span_free(&s);
}
