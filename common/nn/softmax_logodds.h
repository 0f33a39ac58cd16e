/* softmax_logodds — a categorical over C cells read as C Bernoullis.
 *
 * A reward decoder with model.reward_decoder: categorical outputs one logit
 * v_c per cell and means p = softmax(v): exactly one cell holds the reward
 * (GridNavi's goal). Every reader of the decoder (the planner's imagined
 * rewards and its reward likelihood, the policy's decoded cells, the belief
 * op, belief_mae) takes one Bernoulli logit per cell, the hit probability's
 * log-odds; this turns the first into the second in place:
 *
 *   l_c = log p_c - log(1 - p_c) = v_c - log sum_{k != c} e^{v_k}
 *
 * so sigmoid(l_c) = p_c. Computed with the row's maximum as the shift: only
 * the maximal cell can have p_c > 1/2, and its sum over the other cells is
 * taken directly, so no cell loses precision to 1 - p_c. In float, with the
 * vectorised exp and log of kernels/math/act.h (the planner reads every
 * nested sample's row at every imagined step). Clamped to +-VB_LOGODDS_MAX
 * (a probability of 1 or 0 in float either way); a row with an infinite or
 * NaN logit reads 0 (probability 1/2) everywhere. */
#ifndef VB_SOFTMAX_LOGODDS_H
#define VB_SOFTMAX_LOGODDS_H

#include <stdint.h>

#define VB_LOGODDS_MAX 60.0f

/* v (N, C): softmax logits in, per-cell log-odds out. */
void vb_softmax_logodds(float *v, int64_t N, int64_t C);

#endif
