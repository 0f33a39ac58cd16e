/* refresh — re-encoding a window's start carry from its task's start
 * (learner.refresh_carry, ALGORITHM.md section 4 "stale carries").
 *
 * A chunk carries the encoder carry its actor had at the chunk's first step,
 * computed by the actor's (older) weights. With refresh on, the learner keeps
 * for every (actor, env slot) stream the encoder inputs of the running task
 * seen so far, stores with each replayed chunk its task prefix (the inputs of
 * the same task before the chunk), and before an update re-runs the current
 * encoder over the prefixes of the sampled windows, from a zero carry at the
 * task start, to get fresh start carries and previous beliefs. The drift
 * |fresh - cached| / |cached| is reported.
 *
 * A prefix is unknown when its stream was not seen from the task's start (the
 * learner joined, or restarted from a checkpoint, mid-task): such windows keep
 * their cached carry. Windows that begin at a task start need no refresh.
 * Memory: capacity * (steps_per_task - 1) * in floats for the prefixes. */
#ifndef VB_REFRESH_H
#define VB_REFRESH_H

#include <stdint.h>

#include "chunk.h"
#include "../model/model.h"

typedef struct vb_refresh_stream {
    int32_t actor, slot;
    int64_t len;         /* inputs of the running task held; -1 unknown */
    float *x;            /* (cap, in) */
} vb_refresh_stream;

typedef struct vb_refresh {
    const vb_model *m;
    vb_chunk_layout cl;
    int64_t cap;         /* longest prefix: steps_per_task - 1 */
    int64_t capacity;    /* replay slots */
    int64_t *len;        /* (capacity) prefix length of each slot, -1 unknown */
    float *x;            /* (capacity, cap, in) */
    vb_refresh_stream *streams;
    int64_t n_streams, cap_streams;
    /* batch workspace */
    int64_t N;
    float *X, *zero, *o, *phi, *carry;
    uint8_t *reset;
    /* what vb_refresh_backward needs of the last vb_refresh_batch */
    int64_t Tp;          /* its prefix steps (0: nothing refreshed) */
    uint8_t *fresh;      /* (N) 1 where the window's carry was refreshed */
    float *d_o, *d_phi;  /* (cap, N, hidden), (cap, N, 2 latent) */
    vb_encoder_ws ws;
} vb_refresh;

/* For a replay of `capacity` slots and batches of N windows. 0, or -1 with err. */
int vb_refresh_init(vb_refresh *r, const vb_model *m, const vb_chunk_layout *cl, int64_t capacity, int64_t N,
                    char *err, size_t err_len);
void vb_refresh_free(vb_refresh *r);
/* Drop the stream histories of an actor that left (its replayed chunks keep
 * their prefixes): the table holds the live actors' streams only. */
void vb_refresh_forget_actor(vb_refresh *r, int32_t actor);
/* Streams held now. */
int64_t vb_refresh_streams(const vb_refresh *r);
/* A chunk of stream (actor, slot) arrives and goes to replay slot `slot_index`
 * (or nowhere: slot_index < 0, e.g. dropped as stale): record its prefix and
 * extend the stream's history with its steps. 0, or -1 out of memory. */
int vb_refresh_observe(vb_refresh *r, const vb_chunk *c, int64_t slot_index);
/* Re-encode the N sampled windows (replay slots idx, chunk data batch) with
 * parameters P: for every window with a known, non-empty prefix whose first
 * step is not a task start, carry0 (N, carry) and phi_prev0 (N, 2 latent) are
 * overwritten. Returns the number refreshed; *drift gets the mean relative
 * carry drift over them (0 if none). */
int64_t vb_refresh_batch(vb_refresh *r, const vb_backend *be, const float *P, const int64_t *idx,
                         const float *const *batch, float *carry0, float *phi_prev0, double *drift);
/* learner.refresh_grad (GRU): the gradients arriving at the last batch's
 * start carries d_carry0 (N, carry) and previous beliefs d_phi_prev0 (N, 2
 * latent) flow on through its re-encoded prefixes into G, with the
 * parameters P of that vb_refresh_batch (its forward is kept until the next
 * one). Windows it did not refresh take nothing. */
void vb_refresh_backward(vb_refresh *r, const vb_backend *be, const float *P, float *G, const float *d_carry0,
                         const float *d_phi_prev0);

#endif
