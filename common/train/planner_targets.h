/* planner_targets — VariBASeD's M-step losses on the planner's targets,
 * forward and backward together. Rows are time-major (r = t * N + w, t < L;
 * the value rows run to T = L + 1, the last only bootstraps):
 *   loss = value_coef * mean((V - V^)^2) + policy_coef * mean(-sum_a q*(a) log pi(a))
 * V^ is the planner's value of the step, or the lambda-return of the real
 * rewards (learner.value_target: lambda; vb_gae's ret). */
#ifndef VB_PLANNER_TARGETS_H
#define VB_PLANNER_TARGETS_H

#include <stdint.h>

#include "../../kernels/backend.h"
#include "update_stats.h"

typedef struct vb_planner_targets_params {
    double value_coef, policy_coef;
} vb_planner_targets_params;

typedef struct vb_planner_targets_batch {
    int64_t L, N, A;
    const float *logits;         /* (L N, A) */
    const float *values;         /* (T N) */
    const float *v_target;       /* (L N) the regression target V^ */
    const float *v_planner;      /* (L N) the planner's V-hat (reported as planner_value_mean) */
    const float *q_target;       /* (L N, A) the planner's q-hat*, rows sum to 1 */
} vb_planner_targets_batch;

/* d_logits (L N, A) and d_values (T N; bootstrap rows 0) are overwritten; st
 * receives loss_value, loss_policy (the cross-entropy), value_mean and
 * planner_value_mean. */
void vb_planner_targets_loss(const vb_backend *be, const vb_planner_targets_params *p,
                             const vb_planner_targets_batch *b, float *d_logits, float *d_values, vb_update_stats *st);

#endif
