/* plugin — task families from shared libraries (env.plugin, env.family).
 *
 * The library is opened once per path and never closed (specs and batches
 * keep pointers into it for the process's lifetime). What is refused, with
 * the reason: a file that dlopen cannot load (its message, missing
 * dependencies included), a library without the vb_task_abi or
 * vb_task_families symbols, another VB_TASK_ABI_VERSION (in the library or
 * in the family's table), no family of that name (the names it has are
 * listed), and a table missing a required callback. */
#ifndef VB_PLUGIN_H
#define VB_PLUGIN_H

#include <stddef.h>

#include <varibased/task_family.h>

/* The family `name` of the library at `path`. 0, or -1 with err. */
int vb__plugin_family(const char *path, const char *name, const vb_task_family **out, char *err, size_t err_len);
/* The callbacks every family needs (the spec's own needs are checked with
 * the spec). 0, or -1 with err naming the first missing one. */
int vb__family_table_check(const vb_task_family *f, char *err, size_t err_len);

#endif
