/* impl — the constructors of the registered agents (internal). Each sets
 * a->ops and a->impl; a->n, a->rng and the streams are already set. */
#ifndef VB_BASELINES_IMPL_H
#define VB_BASELINES_IMPL_H

#include "registry.h"

#define VB__AGENT_CREATE(fn) \
    int fn(vb_agent *a, const vb_env_batch *env, char *err, size_t err_len)

VB__AGENT_CREATE(vb__agent_random_create);
VB__AGENT_CREATE(vb__agent_grid_oracle_create);
VB__AGENT_CREATE(vb__agent_grid_greedy_create);
VB__AGENT_CREATE(vb__agent_grid_bayes_create);
int vb__agent_grid_bayes_solve(const vb_env_spec *spec, void **solution, char *err,
                               size_t err_len);
void vb__agent_grid_bayes_free(void *solution);
void vb__agent_grid_bayes_exact(const void *solution, double *task_return, double *episode_return, int64_t episodes);
int vb__agent_bandit_bayes_solve(const vb_env_spec *spec, void **solution, char *err,
                                 size_t err_len);
void vb__agent_bandit_bayes_free(void *solution);
void vb__agent_bandit_bayes_exact(const void *solution, double *task_return, double *episode_return,
                                  int64_t episodes);
VB__AGENT_CREATE(vb__agent_bandit_bayes_create);
VB__AGENT_CREATE(vb__agent_bandit_thompson_create);
VB__AGENT_CREATE(vb__agent_bandit_ucb1_create);
VB__AGENT_CREATE(vb__agent_gp_ucb_create);
VB__AGENT_CREATE(vb__agent_gp_ei_create);
VB__AGENT_CREATE(vb__agent_gp_thompson_create);
VB__AGENT_CREATE(vb__agent_funcopt_oracle_create);

#endif
