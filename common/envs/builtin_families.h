/* builtin_families — the task families compiled into the programs. Each is a
 * vb_task_family (include/varibased/task_family.h), the table a plugin
 * exports too; env.c picks one by env.name and hands it its config keys as
 * arguments. They draw from their environments' streams with vb_rng directly
 * (the host's own calls, without the indirection). */
#ifndef VB_BUILTIN_FAMILIES_H
#define VB_BUILTIN_FAMILIES_H

#include <varibased/task_family.h>

#include "../base/rng.h"

extern const vb_task_family vb__gridworld_family;
extern const vb_task_family vb__bandit_family;
extern const vb_task_family vb__funcopt_family;

/* Environment i's stream in a built-in family. */
static inline vb_rng *vb__env_rng(const vb_task_io *io, int64_t i) { return (vb_rng *)vb_task_env_rng(io, i); }

#endif
