/* acting — the actor side of training: a batch of environments stepped in
 * lockstep, the encoder run one step at a time per slot, an action chosen per
 * slot, and the steps written into one chunk per slot. Every L steps each
 * slot's chunk is complete and handed to the sink; what the sink does with it
 * (insert into an in-process replay, send over the network) is not acting's
 * business. Parameters arrive as a whole arena with a version number.
 *
 * Deterministic: the envs draw from streams (seed, stream_base + i) and the
 * action choices from stream (seed, stream_base + n + i) of slot i. */
#ifndef VB_ACTING_H
#define VB_ACTING_H

#include <stdint.h>

#include "../envs/env.h"
#include "../model/belief_tracker.h"
#include "chunk.h"
#include "../model/model.h"
#include "../planner/planner.h"

typedef void (*vb_chunk_sink)(const vb_chunk *c, void *ctx);

/* Returns of finished tasks since the last vb_acting_take_stats. */
typedef struct vb_task_stats {
    int64_t tasks;
    double return_sum, return_sq;
    double episode_sum[64];    /* per episode index (first 64) */
    int64_t episodes;          /* entries of episode_sum in use */
} vb_task_stats;

typedef struct vb_acting {
    const vb_backend *be;
    const vb_model *m;
    vb_chunk_layout cl;
    int algo;
    vb_env_batch *env;
    int64_t n;
    float *P;                /* host copy of the parameters */
    uint64_t version;
    vb_belief_tracker belief; /* per-slot encoder state and previous step */
    float *feat, *feat_ws, *logits, *logp, *mlp_cache, *u;
    int32_t *actions;
    uint8_t *task_start;
    vb_rng *rng;             /* (n) action choice */
    /* belief planning (algo varibased) */
    vb_planner *planner;
    bool argmax;            /* planner.act: argmax */
    double entropy;         /* planner.entropy, and the updates over which it falls to 0 (0: constant) */
    int64_t entropy_decay;
    int64_t depth, late_depth, late_from; /* planner.D, and the depth from version late_from on (0: none) */
    double *scores;         /* (actions) argmax scratch */
    float *q, *v;
    /* chunks under construction: (n, cl.floats) */
    float *chunks;
    int64_t fill;
    /* counters */
    int64_t env_steps;
    float *ep_return;        /* (n, episodes_per_task) of the running task */
    vb_task_stats stats;
    void *block;             /* every buffer above but P's, envs' and the planner's */
} vb_acting;

/* What acting needs to know. */
typedef struct vb_acting_cfg {
    int algo;                    /* vb_algo */
    int64_t window;              /* steps per chunk (learner.window) */
    vb_env_params env;
    vb_planner_cfg planner;      /* varibased: the planner while training (exploring) */
    bool argmax;                 /* varibased: act on the argmax of q* (planner.act: argmax) */
    int64_t entropy_decay;       /* varibased: planner.tau falls linearly to 0 at this weights version (0: constant) */
    int64_t late_depth;          /* varibased: the planning depth from weights version late_from on (0: planner.D) */
    int64_t late_from;
} vb_acting_cfg;

/* The entropy temperature for weights of version v: tau0 (1 - v / decay),
 * at least 0; tau0 whatever v when decay is 0. */
double vb_entropy_schedule(double tau0, int64_t decay, uint64_t v);

/* n slots of c's env, streams from (seed, stream_base). 0, or -1 with err. */
int vb_acting_create(vb_acting *a, const vb_backend *be, const vb_model *m, const vb_acting_cfg *c, int64_t n,
                     uint64_t seed, uint64_t stream_base, char *err, size_t err_len);
void vb_acting_destroy(vb_acting *a);
/* Take a new parameter arena (copied) and its version (which also sets the
 * planner's entropy temperature under cfg.entropy_decay, and its depth under
 * cfg.late_depth). */
void vb_acting_set_params(vb_acting *a, const float *P, uint64_t version);
/* One step of every slot; complete chunks go to sink. 0, or -1 with err. */
int vb_acting_step(vb_acting *a, vb_chunk_sink sink, void *ctx, char *err, size_t err_len);
/* Move the finished-task statistics out (and clear them). */
void vb_acting_take_stats(vb_acting *a, vb_task_stats *out);
/* The position of every random stream (envs and action choices), so a run can
 * resume exactly: 2n positions into pos. */
void vb_acting_stream_positions(const vb_acting *a, uint64_t *pos);
void vb_acting_restore_positions(vb_acting *a, const uint64_t *pos);

#endif
