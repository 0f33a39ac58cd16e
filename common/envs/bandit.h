/* bandit — K Bernoulli arms.
 *
 * Per task, each arm's success probability p_a ~ Beta(prior_alpha, prior_beta)
 * independently. A pull of arm a pays 1 with probability p_a, else 0. Each pull
 * is a one-step episode, env.horizon (H) of them per task, so H+ = H.
 * Observation: one constant 0 feature (what an agent knows comes from its
 * reward history). Transitions are trivially task-independent; reward cell =
 * the arm pulled. */
#ifndef VB_BANDIT_H
#define VB_BANDIT_H

#include <stdint.h>

#include "env.h"

/* Env i's arm probabilities (num_actions of them; a peek for tests); NULL if
 * b is not a bandit or i is out of range. */
const double *vb_bandit_arm_probs(const vb_env_batch *b, int64_t i);
/* The Beta prior of every arm. 0, or -1 if b is not a bandit. */
int vb_bandit_prior(const vb_env_batch *b, double *alpha, double *beta);

#endif
