/* bandit_dp — the exact finite-horizon Bayes-optimal value of a Bernoulli
 * bandit with independent Beta(alpha, beta) priors, by dynamic programming
 * over posterior counts.
 *
 * The belief is the per-arm counts (s_a, f_a) of successes and failures; with
 * h pulls left,
 *   V(c, 0) = 0
 *   Q(c, a, h) = p_a (1 + V(c + success_a, h - 1)) + (1 - p_a) V(c + failure_a, h - 1)
 *   V(c, h) = max_a Q(c, a, h),   p_a = (alpha + s_a) / (alpha + beta + s_a + f_a)
 * and h = H - sum_a (s_a + f_a) is implied by the counts. The arms are
 * exchangeable, so V depends only on the multiset of (s_a, f_a) pairs: the memo
 * is keyed on the sorted pairs, and arms with equal pairs are expanded once.
 * Solving from the empty counts visits every belief any policy can reach, so
 * afterwards vb_bandit_dp_q answers from the memo alone (read-only, so one
 * solved table may serve several threads).
 *
 * Size (beliefs with a pull left): K=5, H=10 has 1951; K=2, H=20 has 4455. It grows
 * roughly like H^(2K) / K!, so create refuses problems above max_states. */
#ifndef VB_BANDIT_DP_H
#define VB_BANDIT_DP_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_bandit_dp vb_bandit_dp;

/* Solve for `arms` arms, `horizon` pulls and a Beta(alpha, beta) prior per arm.
 * 0, or -1 with err (more than max_states beliefs, horizon > 65535, out of memory). */
int vb_bandit_dp_create(vb_bandit_dp **out, int64_t arms, int64_t horizon, double alpha, double beta,
                        int64_t max_states, char *err, size_t err_len);
void vb_bandit_dp_destroy(vb_bandit_dp *dp);
/* The Bayes-optimal expected total reward over the horizon. */
double vb_bandit_dp_value(const vb_bandit_dp *dp);
/* Beliefs in the memo. */
int64_t vb_bandit_dp_states(const vb_bandit_dp *dp);
/* q[a] = Q(counts, a): the expected total reward of the remaining pulls when
 * arm a is pulled now and the optimal policy follows, for succ[a], fail[a]
 * counts with fewer than `horizon` pulls in all. 0, or -1 on counts outside
 * the horizon. */
int vb_bandit_dp_q(const vb_bandit_dp *dp, const int32_t *succ, const int32_t *fail, double *q);

#endif
