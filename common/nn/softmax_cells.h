/* softmax_cells — a softmax over C cells, row by row, in float with the
 * vectorised exp and log of kernels/math/act.h: the planner reads one for
 * every nested sample at every imagined step (the next-state head's over the
 * env's state cells, and a categorical reward decoder's over the reward
 * cells), so these are its per-row hot loops.
 *
 * vb_softmax_lse: log sum_k e^{v_k}, shifted by the row's maximum (NaN if
 *   a logit is not finite).
 * vb_softmax_draw: the cell a uniform u in [0, 1) picks by the cumulative
 *   softmax.
 * vb_softmax_logodds: a categorical read as C Bernoullis. A reward decoder
 *   with model.reward_decoder: categorical outputs one logit v_c per cell
 *   and means p = softmax(v): exactly one cell holds the reward (GridNavi's
 *   goal). Every reader of the decoder but the ELBO (the planner's imagined
 *   rewards and its reward likelihood, the policy's decoded cells, the
 *   belief op, belief_mae) takes one Bernoulli logit per cell, the hit
 *   probability's log-odds; this turns the first into the second in place:
 *
 *     l_c = log p_c - log(1 - p_c) = v_c - log sum_{k != c} e^{v_k}
 *
 *   so sigmoid(l_c) = p_c. Only the maximal cell can have p_c > 1/2, and its
 *   sum over the other cells is taken directly, so no cell loses precision
 *   to 1 - p_c. Clamped to +-VB_LOGODDS_MAX (the planner reads log-odds
 *   as likelihoods, so confident samples keep their order); a row with an
 *   infinite or NaN logit reads 0 (probability 1/2) everywhere. */
#ifndef VB_SOFTMAX_CELLS_H
#define VB_SOFTMAX_CELLS_H

#include <stdint.h>

#define VB_LOGODDS_MAX 1.0e4f

/* log sum_k e^{v_k} over v (n); NaN if a logit is not finite. */
float vb_softmax_lse(const float *v, int64_t n);
/* The k whose cumulative softmax first exceeds u in [0, 1) (n - 1 if none;
 * finite logits). */
int64_t vb_softmax_draw(const float *v, int64_t n, double u);
/* v (N, C): softmax logits in, per-cell log-odds out. */
void vb_softmax_logodds(float *v, int64_t N, int64_t C);

#endif
