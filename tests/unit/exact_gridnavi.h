/* exact_gridnavi — a GridNavi small enough to solve by enumeration, with the
 * exact belief (the goal uniform over the unvisited candidate cells until a
 * hit), as a simulator for the search of smc.h and as the reference that
 * computes Q^pi, V^pi and the Bayes-optimal V* of any belief state.
 *
 * A belief state is (cell, unvisited candidates, goal or -1, task step). The
 * policy pi(a | state) is a fixed pseudo-random softmax of the state (seeded),
 * or its argmax; the value a simulator bootstraps with is zero, V^pi or V*. */
#ifndef VB_TEST_EXACT_GRIDNAVI_H
#define VB_TEST_EXACT_GRIDNAVI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/planner/smc.h"

enum { XG_ACTIONS = 5 };

typedef struct xg_state {
    int32_t cell, goal;  /* goal -1 while unknown */
    uint32_t unvisited;  /* bit i: candidate i not visited */
    int32_t t;           /* task step; t == steps: the task is over */
} xg_state;

typedef enum xg_value { XG_V_ZERO, XG_V_PI, XG_V_STAR } xg_value;

typedef struct xg_world {
    int32_t g, episode_length, episodes, steps, candidates;
    int32_t cand[64];    /* cell -> candidate index or -1 */
    double gamma, r_miss, r_hit, sharpness;
    uint64_t policy_seed;
    bool greedy_pi;      /* pi is the argmax of the softmax (ties: lowest action) */
    double *memo_pi, *memo_star; /* values by state key, NaN until computed */
    int64_t memo_size;
} xg_world;

void xg_init(xg_world *w, int32_t g, int32_t episode_length, int32_t episodes, double gamma, uint64_t policy_seed,
             double sharpness);
void xg_free(xg_world *w);
/* Forget memoised values (after changing the policy). */
void xg_forget(xg_world *w);
xg_state xg_start(const xg_world *w);
/* The policy prior at a state (A probabilities). */
void xg_pi(const xg_world *w, const xg_state *s, double *pi);
/* The hit probability of action a, and the successors after a hit and after a miss. */
double xg_step(const xg_world *w, const xg_state *s, int32_t a, xg_state *hit, xg_state *miss);
/* Exact values (gamma-discounted, to the end of the task). */
double xg_q_pi(const xg_world *w, const xg_state *s, int32_t a);
double xg_v_pi(const xg_world *w, const xg_state *s);
double xg_q_star(const xg_world *w, const xg_state *s, int32_t a);
double xg_v_star(const xg_world *w, const xg_state *s);

/* The simulator: rows of states, the roots set by the caller. */
typedef struct xg_sim {
    const xg_world *w;
    const xg_world *vw;  /* the world whose V^pi or V* the simulator bootstraps with (w unless set) */
    xg_value value;
    xg_state root[16];
    xg_state *rows;      /* (max_rows) */
    int64_t max_rows;
} xg_sim;

void xg_sim_init(xg_sim *s, const xg_world *w, xg_value value, int64_t max_rows);
void xg_sim_free(xg_sim *s);
vb_plan_sim xg_sim_bind(xg_sim *s);

#endif
