/* distributed — the learner of a distributed run (the default mode; --serial
 * is the other). See distributed.c for what it does and docs/protocol.md for
 * the wire protocol. */
#ifndef VB_DISTRIBUTED_H
#define VB_DISTRIBUTED_H

#include "../../common/base/config.h"
#include "train.h"

/* Train to run.total_env_steps or until SIGINT/SIGTERM, from the chunks of
 * local (actors.local) and remote actors; a final checkpoint is written
 * either way. Returns a process exit status. */
int vb_distributed_run(const vb_config *cfg, const vb_train_opts *opts);

#endif
