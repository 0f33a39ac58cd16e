/* exact_belief — the exact posterior probability of a hit at every reward
 * cell after a history, for the families that have one in closed form:
 *   bandit:    Beta(prior_alpha + hits, prior_beta + misses) mean of the arm
 *   gridworld: one-hot on a found goal, else uniform over the goal
 *              candidates not yet visited
 * (funcopt has none). Used to measure how far a learned belief is from it. */
#ifndef VB_EXACT_BELIEF_H
#define VB_EXACT_BELIEF_H

#include <stdbool.h>
#include <stdint.h>

#include "../envs/env.h"

enum { VB_EXACT_BELIEF_MAX_CELLS = 4096 };

typedef struct vb_exact_belief {
    int family;                  /* VB_ENV_BANDIT or VB_ENV_GRIDWORLD */
    int64_t cells, grid_size;
    double alpha, beta;
    int64_t found, open;         /* gridworld: the goal once hit (-1 before); candidates left */
    int32_t succ[VB_EXACT_BELIEF_MAX_CELLS], fail[VB_EXACT_BELIEF_MAX_CELLS];
} vb_exact_belief;

/* Whether spec's family has an exact belief (and at most
 * VB_EXACT_BELIEF_MAX_CELLS cells); then b is set to the prior. */
bool vb_exact_belief_init(vb_exact_belief *b, const vb_env_spec *spec, double prior_alpha, double prior_beta);
/* Back to the prior (a new task). */
void vb_exact_belief_reset(vb_exact_belief *b);
/* P(hit at cell | the history so far). */
double vb_exact_belief_hit(const vb_exact_belief *b, int64_t cell);
/* A transition read cell and hit or missed. */
void vb_exact_belief_observe(vb_exact_belief *b, int64_t cell, bool hit);

#endif
