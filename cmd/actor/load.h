/* load — a trained agent from a checkpoint for --eval --checkpoint. */
#ifndef VB_ACTOR_LOAD_H
#define VB_ACTOR_LOAD_H

#include <stddef.h>

#include "../../common/model/model.h"
#include "../../common/base/cli.h"

/* Resolve the config (the checkpoint's, then --config, then each --set),
 * build its model and load the checkpoint's parameters into a malloc'd *P.
 * path: a checkpoint file, a `latest` file, a checkpoints or a run folder.
 * Returns 0, or an exit status (1 unreadable checkpoint, 2 configuration or
 * model mismatch) with err set. */
int actor_load_trained(const char *path, const vb_cli_config *cc, vb_config *cfg, vb_model *m, float **P,
                       char *err, size_t err_len);

#endif
