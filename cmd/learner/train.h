/* train — the learner's training run. */
#ifndef VB_TRAIN_H
#define VB_TRAIN_H

#include "../../common/base/config.h"

typedef struct vb_train_opts {
    int serial;              /* acting in process, deterministic */
    const char *resume;      /* run folder, checkpoints folder or file; NULL for a fresh run */
    int argc;                /* the command line (provenance) */
    char *const *argv;
} vb_train_opts;

/* Train to run.total_env_steps or until SIGINT/SIGTERM; a final checkpoint is
 * written either way. Returns a process exit status. */
int vb_train_run(const vb_config *cfg, const vb_train_opts *opts);

#endif
