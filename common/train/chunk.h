/* chunk — L consecutive real steps of one environment slot, the unit that
 * travels from acting to learning (in process now, over the network later).
 *
 * A chunk is a header (policy version, slot, actor) and one float block whose
 * layout vb_chunk_layout fixes from the model's dimensions. Per step t:
 *   x         (in)   encoder input (s_t, onehot a_{t-1}, r_{t-1}, done_{t-1})
 *   reset     (1)    1 when step t starts a task: the carry is zeroed before it
 *   action    (1)    a_t
 *   reward    (1)    r_t, received after a_t
 *   done      (1)    the step ended an episode
 *   task_done (1)    the step ended the task
 *   next_obs  (obs)  s_{t+1} (successor of the step, before any reset)
 *   logp      (1)    log pi_behaviour(a_t)
 *   q_target  (A)    planner policy target q*_t      (belief-planning agents)
 *   v_target  (1)    planner value target V_t        (belief-planning agents)
 * and once per chunk:
 *   carry0    (carry)     encoder carry before step 0 (before reset[0] applies)
 *   phi_prev  (2 latent)  the belief before step 0 (prior N(0, I) at a task start)
 * Actions are small integers and exact as floats. */
#ifndef VB_CHUNK_H
#define VB_CHUNK_H

#include <stdbool.h>
#include <stdint.h>

#include "../envs/env.h"
#include "../model/model.h"

typedef struct vb_chunk_layout {
    int64_t L, in, obs, actions, carry, latent;
    int64_t cells;     /* task labels per step: the model's reward cells, 0 without a decoder */
    bool targets;
    /* offsets in floats; per-step fields are (L, width) row-major */
    int64_t x, reset, action, reward, done, task_done, next_obs, logp, q_target, v_target, task_cells, carry0,
        phi_prev;
    int64_t floats;
} vb_chunk_layout;

typedef struct vb_chunk {
    uint64_t version;  /* policy version that acted */
    int32_t slot;      /* environment slot of the actor */
    int32_t actor;     /* actor id (0 in serial mode) */
    float *data;       /* layout.floats */
} vb_chunk;

/* The layout for windows of L steps of model m. */
void vb_chunk_layout_init(vb_chunk_layout *cl, const vb_model *m, int64_t L, bool targets);
/* A hash of the layout, for checking peers agree. */
uint64_t vb_chunk_layout_hash(const vb_chunk_layout *cl);
/* Check a received chunk's contents (finite floats, actions in range, flags
 * 0/1). 0, or -1 with a reason. */
int vb_chunk_validate(const vb_chunk_layout *cl, const float *data, char *why, size_t why_len);

/* What a peer's chunk may hold beyond being well-formed, from the env's
 * spec: rewards within the family's range, value targets within what
 * steps_per_task such rewards can add up to, behaviour log-probabilities no
 * lower than log_prob_min (an action that unlikely is never sampled; a huge
 * negative one would make every importance ratio overflow), q-targets that
 * are distributions. */
typedef struct vb_chunk_bounds {
    float reward_min, reward_max;
    float value_abs_max;
    float log_prob_min;
} vb_chunk_bounds;

/* Why a chunk fails its bounds: counted per reason in the metrics. */
typedef enum vb_chunk_fault {
    VB_CHUNK_OK = 0,
    VB_CHUNK_REWARD,     /* a reward outside [reward_min, reward_max] */
    VB_CHUNK_VALUE,      /* a value target beyond value_abs_max */
    VB_CHUNK_LOG_PROB,   /* a behaviour log-probability below log_prob_min */
    VB_CHUNK_Q_TARGET,   /* a q-target row that is not a distribution */
    VB_CHUNK_FAULTS
} vb_chunk_fault;

extern const char *const vb_chunk_fault_name[VB_CHUNK_FAULTS];

void vb_chunk_bounds_from_spec(vb_chunk_bounds *b, const vb_env_spec *spec);
/* Check a chunk against b: VB_CHUNK_OK, or the first fault with a reason in
 * why. Non-finite values fail no comparison here; vb_chunk_validate refuses
 * them. */
vb_chunk_fault vb_chunk_check_bounds(const vb_chunk_layout *cl, const vb_chunk_bounds *b, const float *data,
                                     char *why, size_t why_len);

#endif
