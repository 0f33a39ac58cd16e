/* belief_tracker — the learned belief of n environments, step by step: the
 * encoder's carry, its latest output (o_t, phi_t = (mu, logvar)), the belief
 * before it (phi_{t-1}, the prior at a task start) and the previous
 * transition (s_{t-1}, a_{t-1}, r_{t-1}, done_{t-1}, its successor). Acting
 * for a learner, evaluating a checkpoint and the planner's root all read it.
 *
 * Per step: vb_belief_tracker_encode (x_t from the current observation and the
 * previous transition, then one encoder step), choose actions (the root of a
 * plan is vb_belief_tracker_root), step the envs, vb_belief_tracker_observe.
 * vb_belief_tracker_start_task forgets env i's history (carry 0, prior
 * belief, no previous action). */
#ifndef VB_BELIEF_TRACKER_H
#define VB_BELIEF_TRACKER_H

#include <stdint.h>

#include "../envs/env.h"
#include "../planner/belief_sim.h"
#include "model.h"

typedef struct vb_belief_tracker {
    const vb_model *m;
    int64_t n;
    float *carry;                /* (n, carry) encoder state after x_t */
    float *x;                    /* (n, in) x_t */
    float *o, *phi;              /* (n, hidden), (n, 2 latent) */
    float *phi_prev;             /* (n, 2 latent) phi_{t-1}; 0 (the prior) at a task start */
    float *obs;                  /* (n, obs) s_t, as encoded */
    float *last_obs, *last_next; /* (n, obs) s_{t-1} and the successor of step t-1 (before any reset) */
    int32_t *a_prev;             /* (n) a_{t-1}, -1 at a task start */
    float *r_prev, *done_prev;   /* (n) */
    vb_encoder_step_ws ws;
    void *block;
} vb_belief_tracker;

/* n environments of model m, every one at a task start. 0, or -1 (out of memory). */
int vb_belief_tracker_init(vb_belief_tracker *t, const vb_model *m, int64_t n);
void vb_belief_tracker_free(vb_belief_tracker *t);
/* Call after the parameters change. */
void vb_belief_tracker_prepare(const vb_backend *be, vb_belief_tracker *t, const float *P);
void vb_belief_tracker_start_task(vb_belief_tracker *t, int64_t i);
/* x_t and one encoder step of every env from env's current observations. */
void vb_belief_tracker_encode(const vb_backend *be, vb_belief_tracker *t, const float *P, const vb_env_batch *env);
/* The planner's root at the current step. */
vb_planner_root vb_belief_tracker_root(const vb_belief_tracker *t, const vb_env_batch *env);
/* The envs stepped with actions: they become the previous transition. */
void vb_belief_tracker_observe(vb_belief_tracker *t, const vb_env_batch *env, const int32_t *actions);

#endif
