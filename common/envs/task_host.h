/* task_host — what the program hands a task family (include/varibased/task_family.h):
 * the random-number calls on an environment's vb_rng stream, and the family's
 * parameters as key=value pairs, parsed from env.args or built from the
 * built-in families' config keys. */
#ifndef VB_TASK_HOST_H
#define VB_TASK_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varibased/task_family.h>

enum { VB_TASK_ARGS_MAX = 32, VB_TASK_KEY_MAX = 48, VB_TASK_VAL_MAX = 256 };

struct vb_task_args {
    int n;
    char key[VB_TASK_ARGS_MAX][VB_TASK_KEY_MAX];
    char val[VB_TASK_ARGS_MAX][VB_TASK_VAL_MAX];
    bool read[VB_TASK_ARGS_MAX]; /* asked for by an arg_* call */
};

extern const vb_task_host vb__task_host;

/* Parse "key=value key2=value2" (separated by spaces or commas; keys of
 * [a-z0-9_], each at most once). 0, or -1 with err naming the bad pair. */
int vb__task_args_parse(vb_task_args *a, const char *text, char *err, size_t err_len);
/* Append one pair (the built-in families' config keys); values printed
 * exactly (%lld, %.17g). */
void vb__task_args_int(vb_task_args *a, const char *key, int64_t v);
void vb__task_args_double(vb_task_args *a, const char *key, double v);
/* The first key no arg_* call asked for, or NULL. */
const char *vb__task_args_unread(const vb_task_args *a);

#endif
