/* gridworld_dp — the exact Bayes-optimal GridNavi policy, by dynamic
 * programming over belief states.
 *
 * The goal is uniform over the candidate cells (gridworld.h). Until a step
 * pays the hit reward the posterior is uniform over the candidates not yet
 * visited, so a belief state is (cell, unvisited candidates, step of the
 * task); after a hit the goal is known and the rest of the task is the
 * oracle's walk (a shortest path each episode, then staying), whose return is
 * tabulated once per solve. Backward induction over every reachable belief state maximises
 * the expected task return discounted by gamma (1: the undiscounted return
 * evaluation scores; < 1: the objective a learner with that discount trains):
 *
 *   V(c, U, t) = max_a  [c' in U] / |U| (r_hit + gamma W(c', t + 1))
 *                     + (1 - [c' in U] / |U|) (r_miss + gamma V(c'', U \ {c'}, t + 1))
 *
 * with c' = move(c, a), c'' = c' or the start cell at an episode boundary,
 * W the known-goal return (discounted alike), V(., ., H) = 0.
 *
 * A miss is the only observation that leaves the goal unknown, so before the
 * first hit the optimal policy is one fixed path of H actions: the solver
 * keeps that path (exact ties go to the lowest action) and frees its tables.
 * The per-episode expected returns are then exact averages over the goals of
 * the agent that follows the path and walks to the goal once found.
 *
 * Cost: the states are enumerated level by level into a bitmap keyed by
 * (unvisited set, cell); 5x5 with 4 episodes of 15 steps has about 1.4e8
 * reachable states (at most 4.6e6 per step), solved in well under a minute
 * with about 0.7 GiB (5 bytes per state). Grids up to 5x5 only: a 6x6 grid's
 * 32 candidates do not fit the key. */
#ifndef VB_GRIDWORLD_DP_H
#define VB_GRIDWORLD_DP_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_gridworld_dp {
    int64_t grid, episode_length, episodes, steps; /* steps = H = episode_length * episodes */
    int32_t *path;        /* (steps) the action at each task step while the goal is unknown */
    double value;         /* expected task return of the Bayes-optimal policy, discounted by gamma */
    double *episode;      /* (episodes) expected undiscounted return of each episode under it */
    int64_t states;       /* belief states solved (goal unknown) */
    double table_bytes;   /* the solver's peak table memory */
    double seconds;       /* wall time of the solve */
} vb_gridworld_dp;

/* Solve a grid x grid GridNavi with the given clock, reward levels (miss,
 * hit) and discount gamma in (0, 1] on `threads` threads. 0, or -1 with err
 * (a grid over 5x5, a discount outside (0, 1], more than max_bytes of tables,
 * out of memory). */
int vb_gridworld_dp_solve(vb_gridworld_dp **out, int64_t grid, int64_t episode_length, int64_t episodes,
                          float r_miss, float r_hit, double gamma, int64_t threads, double max_bytes, char *err,
                          size_t err_len);
void vb_gridworld_dp_free(vb_gridworld_dp *dp);

#endif
