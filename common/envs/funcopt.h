/* funcopt — Bayesian optimisation of a function drawn from a GP prior.
 *
 * Per task: a lengthscale l ~ U[lengthscale_min, lengthscale_max], then
 * f ~ GP(0, k) on the grid x_j = j / (N - 1), j = 0 .. N-1, with the RBF
 * kernel k(x, x') = exp(-(x - x')^2 / (2 l^2)) plus VB_GP_JITTER on the
 * diagonal (see gp.h), sampled exactly as f = L z through the Cholesky factor
 * L of the Gram matrix. Action j queries x_j; the reward is f(x_j) + e,
 * e ~ N(0, noise_std^2). One episode of T = env.queries steps per task.
 * Observation: (x of the last query, 1) after a query, (0, 0) before the
 * first one. The transition depends only on the action (task-independent);
 * reward cell = the grid point queried. The regret buffer holds the simple
 * regret max_j f_j - max over queried j of f_j (true values, not the noisy
 * rewards). */
#ifndef VB_FUNCOPT_H
#define VB_FUNCOPT_H

#include <stdint.h>

#include "env.h"

/* Env i's function on the grid (N values); NULL if b is not funcopt or i is out of range. */
const double *vb_funcopt_values(const vb_env_batch *b, int64_t i);
/* Env i's lengthscale; a negative value if b is not funcopt or i is out of range. */
double vb_funcopt_lengthscale(const vb_env_batch *b, int64_t i);
/* The grid index of env i's maximum; -1 as above. */
int64_t vb_funcopt_argmax(const vb_env_batch *b, int64_t i);
/* The grid (N points, shared by all envs); NULL if b is not funcopt. */
const double *vb_funcopt_grid(const vb_env_batch *b);

#endif
