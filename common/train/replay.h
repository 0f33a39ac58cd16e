/* replay — a bounded FIFO of chunks with a samples-per-insert rate limit.
 *
 * Chunks are copied in; when full, the oldest is overwritten. Sampling draws
 * a batch of distinct chunks uniformly (without replacement within a batch)
 * from what is held. The rate limiter keeps learning from outrunning acting:
 * a batch of B may be drawn only while sampled + B <= spi * inserted (spi = 0
 * turns the limit off), and only once the replay holds at least B chunks
 * that may be drawn. held (NULL: none), indexed by slot, marks chunks that
 * may not be drawn yet.
 * Memory: capacity * layout.floats floats, allocated once. */
#ifndef VB_REPLAY_H
#define VB_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/rng.h"
#include "chunk.h"

typedef struct vb_replay {
    vb_chunk_layout cl;
    int64_t capacity, size, head;  /* head: next slot to write */
    float *data;                   /* (capacity, cl.floats) */
    uint64_t *version;             /* (capacity) */
    int64_t inserted, sampled;     /* totals since creation (windows) */
    double spi;
    int64_t *perm;                 /* (capacity) sampling scratch */
} vb_replay;

int vb_replay_init(vb_replay *r, const vb_chunk_layout *cl, int64_t capacity, double spi);
void vb_replay_free(vb_replay *r);
/* Copy a chunk in (overwriting the oldest when full). */
void vb_replay_insert(vb_replay *r, const vb_chunk *c);
/* Chunks held that are not marked in held. */
int64_t vb_replay_drawable(const vb_replay *r, const uint8_t *held);
/* Whether a batch of B may be drawn now. */
bool vb_replay_can_sample(const vb_replay *r, int64_t B, const uint8_t *held);
/* Draw B distinct chunks (B <= size), those not held first: all of them
 * when they are fewer than B, the rest from the held ones. Pointers to their
 * data into out[0..B), versions into ver (may be NULL). The pointers stay
 * valid until the next insert. */
void vb_replay_sample(vb_replay *r, int64_t B, vb_rng *rng, const float **out, uint64_t *ver, const uint8_t *held);

#endif
