/* env_check — a task family's behaviour checked before a run trusts it.
 *
 * The spec's fields are checked when it is made (env.c); this plays a few
 * tasks of a small batch with actions from a fixed stream and checks what the
 * callbacks return: observations and rewards finite, Bernoulli rewards at one
 * of the two levels, reward and state cells in range, cell_obs and
 * state_cell inverse to each other, and, where the spec declares
 * task-independent transitions, transition agreeing with step. The learner
 * and the actors run it on plugin families at start; the first failure is
 * reported naming the callback, the environment and the values. */
#ifndef VB_ENV_CHECK_H
#define VB_ENV_CHECK_H

#include <stddef.h>

#include "env.h"

/* 0, or -1 with err. `tasks` tasks on each of 4 environments. */
int vb_env_check(const vb_env_params *p, int tasks, char *err, size_t err_len);

#endif
