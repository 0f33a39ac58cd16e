/* task_span — the transitions of each replayed window's tasks that lie
 * outside the window (learner.elbo_span: task).
 *
 * VariBAD's ELBO decodes, from the belief at every step, the whole task's
 * transitions, past and future. A window shorter than its task sees only its
 * own: this module supplies the rest. For every (actor, env slot) stream it
 * keeps the reward cell and reward of each transition of the running task,
 * and the replay slots holding that task's earlier chunks. A chunk arriving
 * in slot k gets the running task's transitions so far as its prefix (they
 * belong to its first task segment); its transitions up to the next task
 * start are appended to the suffix of every earlier slot of the same task
 * (they belong to those chunks' last segment), and, if the chunk's last task
 * does not end inside it, slot k joins the list. A window sampled before its
 * task has finished decodes the part that has arrived.
 *
 * A prefix is partial when its stream was not seen from the task's start
 * (the learner joined, or restarted, mid-task), and a suffix stops growing
 * when its slot is overwritten or its actor leaves. Both are then the part of
 * the task that is known, which the ELBO decodes as it would a shorter task.
 * A slot is open while its last task is still running on a live stream:
 * open[k] is cleared when the stream starts its next task, when the slot is
 * overwritten and when the actor leaves (learner.wait_for_task samples only
 * closed slots).
 * Memory: capacity * (2 (steps_per_task - 1) * 8 + 25) bytes. */
#ifndef VB_TASK_SPAN_H
#define VB_TASK_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vb_span_open {
    int64_t slot;
    uint64_t gen;        /* the slot's generation when it joined */
} vb_span_open;

typedef struct vb_span_stream {
    int32_t actor, slot;
    int64_t len;         /* transitions of the running task held (the first cap of them) */
    int32_t *cell;       /* (cap) */
    float *rew;          /* (cap) */
    vb_span_open *open;  /* (cap + 1) replay slots of the running task's earlier chunks */
    int64_t n_open;
} vb_span_stream;

typedef struct vb_task_span {
    int64_t cap;         /* most transitions outside a window on either side: steps_per_task - 1 */
    int64_t capacity;    /* replay slots */
    int64_t *pre_n, *post_n;    /* (capacity) */
    int32_t *pre_cell, *post_cell; /* (capacity, cap) */
    float *pre_rew, *post_rew;     /* (capacity, cap) */
    uint64_t *gen;       /* (capacity) chunks written into each slot so far */
    uint8_t *open;       /* (capacity) 1: the slot's last task has not ended yet */
    vb_span_stream *streams;
    int64_t n_streams, cap_streams;
} vb_task_span;

/* For a replay of `capacity` slots and tasks of steps_per_task steps. 0, or -1
 * with err. */
int vb_task_span_init(vb_task_span *s, int64_t capacity, int64_t steps_per_task, char *err, size_t err_len);
void vb_task_span_free(vb_task_span *s);
/* A chunk of L steps of stream (actor, slot) arrives and goes to replay slot
 * `slot_index` (or nowhere: slot_index < 0, dropped as stale; its steps still
 * extend the stream's task). reset[t] != 0 where step t starts a task;
 * cell[t], rew[t] its transition's reward cell and reward; ended: the
 * chunk's last step ended its task (nothing of it is to come). 0, or -1 out
 * of memory. */
int vb_task_span_observe(vb_task_span *s, int32_t actor, int32_t slot, int64_t L, const float *reset,
                         const int32_t *cell, const float *rew, bool ended, int64_t slot_index);
/* Drop the streams of an actor that left (its replayed chunks keep what
 * they have). */
void vb_task_span_forget_actor(vb_task_span *s, int32_t actor);

#endif
