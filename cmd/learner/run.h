/* run — the one run driver both learner modes share: the run folder
 * (resolved config, metrics.jsonl, checkpoints/), the env spec, model and
 * learning state, and the protocol written once: an update with its
 * statistics, evaluation, publishing and periodic checkpoints
 * (vb_run_update), checkpoints and resume (the learner's state plus the
 * mode's, through vb_run_mode), the metrics tick (one table for JSONL and
 * TensorBoard) and the progress line. The serial loop (train.c: acting in
 * this process) and the distributed loop (distributed.c: chunks from actors
 * over ZeroMQ) differ only in how experience arrives and weights leave.
 *
 * Checkpoint sections written here (checkpoint.h's format):
 *   config            the resolved config (YAML)
 *   params, optim     arena blobs of the parameters and the optimiser state
 *   counters          int64[6]: env steps, updates, version, tasks, version
 *                     of the acting parameters, wall seconds (double bits)
 *   streams           u64[2k + 1]: positions of k acting slots' env and
 *                     action streams (k = 0 in distributed runs), then the
 *                     learner's sampling stream
 *   replay.meta       int64[5]: capacity, size, head, inserted, sampled
 *   replay.version, replay.data
 * plus the sections a mode passes in (acting.params for serial runs;
 * actors.next_stream for distributed runs). */
#ifndef VB_RUN_H
#define VB_RUN_H

#include "../../common/base/tboard.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../common/train/acting.h"
#include "../../common/base/checkpoint.h"
#include "../../common/train/learning.h"
#include "../../common/base/config.h"

enum { VB_RUN_C_ENV_STEPS, VB_RUN_C_UPDATES, VB_RUN_C_VERSION, VB_RUN_C_TASKS, VB_RUN_C_ACT_VERSION,
       VB_RUN_C_WALL_BITS, VB_RUN_C_COUNT };

/* One value of a metrics line: its JSONL key, its TensorBoard tag (NULL:
 * JSONL only) and how it prints. */
enum { VB_METRIC_G6, VB_METRIC_INT, VB_METRIC_F3, VB_METRIC_F1 };
typedef struct vb_metric {
    const char *key, *tag;
    double value;
    int fmt;
} vb_metric;

/* The learner's position when its weights were copied for an evaluation. */
typedef struct vb_run_snapshot {
    uint64_t updates;
    int64_t env_steps;
    int64_t counters[VB_RUN_C_COUNT];
} vb_run_snapshot;

/* What differs between the serial and the distributed learner: how new
 * weights reach acting, the acting side's part of a checkpoint, and where
 * slow work runs. */
typedef struct vb_run_mode {
    const char *name;            /* "serial", "distributed" */
    void *ctx;
    /* Hand the learner's current weights to acting. 0, or -1 with err. */
    int (*publish)(void *ctx, char *err, size_t err_len);
    /* The acting side's part of a checkpoint: k slots' stream positions
     * (*pos, 2k; NULL when k = 0), the acting parameters' version and up to
     * 4 extra sections. 0, or -1 with err. */
    int (*ckpt_state)(void *ctx, uint64_t **pos, int64_t *k, int64_t *act_version, vb_ckpt_section *extra,
                      int *n_extra, char *err, size_t err_len);
    /* Restore it from ck after the learner's state: pos (2k, unaligned) and
     * act_version as saved. 0, or -1 with err. */
    int (*restore)(void *ctx, const vb_ckpt *ck, const void *pos, int64_t k, int64_t act_version, char *err,
                   size_t err_len);
    /* Off the caller's thread, when set: evaluate a copy of params (false:
     * skipped, one is running), and write an encoded checkpoint (buf is
     * handed over). NULL: done in place. */
    bool (*eval_async)(void *ctx, const float *params, const vb_run_snapshot *at);
    void (*save_async)(void *ctx, void *buf, size_t len, int64_t updates);
    /* Whether a checkpoint handed over is still being written: a periodic
     * one is then skipped, not encoded (memory, time on the caller's thread). */
    bool (*save_busy)(void *ctx);
} vb_run_mode;

typedef struct vb_run {
    const vb_config *cfg;
    vb_run_mode mode;
    char dir[4096], ckdir[4200];
    FILE *metrics;
    vb_tboard tb;               /* log.tensorboard: event file of the metrics (f NULL when off) */
    vb_model model;
    vb_env_spec spec;
    vb_chunk_layout cl;
    vb_learning *learning;
    const vb_backend *be;
    float *P0;                  /* initial parameters (model.layout.total) */
    int64_t env_steps, tasks_total;
    double wall_offset, t0;     /* wall seconds before this process; its start */
    double tick_t;              /* monotonic time and env steps of the last metrics line */
    int64_t tick_steps;
    /* the current metrics interval */
    vb_update_stats acc;
    int64_t acc_n, mae_n, rejected_chunks;
    /* non-finite updates: all of the run's, and the current streak */
    int64_t nonfinite_updates, skipped_in_row;
    char fatal[512];            /* why training cannot go on ("" while it can) */
    int64_t ckpt_skipped;       /* periodic checkpoints skipped while one was being written */
    vb_task_stats tstats;
    /* eval.keep_best: the validation return of checkpoints/best.vbc */
    double best_return;
    bool best_known;
    int lock_fd;                /* the run folder, flock'ed; -1 when not held */
    int argc;                   /* the command line, for provenance.jsonl */
    char *const *argv;
    bool created_dir, started;  /* the folder is this process's; files were written */
} vb_run;

/* eval.every_updates: at a multiple of it, evaluate the current weights on
 * eval.tasks validation tasks (streams no held-out evaluation uses; blocking;
 * learner.threads worker threads), with the eval section's planner or, under
 * eval.during_training: policy, the policy alone, and append {"updates",
 * "env_steps", "eval_s", "agent", ["best",] "result": <actor --eval JSON>} to
 * <run>/evals.jsonl. With eval.keep_best, a return above every earlier one of
 * the run (resumes included) writes checkpoints/best.vbc. */
void vb_run_maybe_eval(vb_run *r);
/* One such evaluation of params at `at`, with its evals.jsonl line, best.vbc
 * and log line (not the TensorBoard scalar): callable from a worker thread
 * while the loop goes on, being the only code that touches the run's best
 * return. *ret receives the validation return. 0, or -1. */
int vb_run_eval_snapshot(vb_run *r, const float *params, const vb_run_snapshot *at, double *ret);

/* Monotonic seconds. */
double vb_run_now(void);
/* Why the run should stop at monotonic time t, or NULL: run.total_env_steps
 * reached, or run.max_wall_s (wall seconds of this process and the ones it
 * resumed from). */
const char *vb_run_done(const vb_run *r, double t);
/* The run folder, env spec, model, initial parameters (run.seed) and the
 * learning state; BLAS threads from learner.threads. The folder is locked
 * for this process, and one that already holds a run (config.yaml,
 * metrics.jsonl, evals.jsonl or checkpoints/) is refused unless resume:
 * starting never destroys a run. 0, -1 with err, or -2 with err when the
 * folder is refused (in use, or a run and no resume). */
int vb_run_open(vb_run *r, const vb_config *cfg, bool resume, char *err, size_t err_len);
/* Write config.yaml, open metrics.jsonl (appended to), append this start to
 * provenance.jsonl (time, host, pid, version, git commit, mode, the command
 * line) and log to logs/learner.log too. Call once every check that can fail
 * has passed, so a failed start leaves the folder as it was. */
int vb_run_start_files(vb_run *r, bool resume, char *err, size_t err_len);
void vb_run_close(vb_run *r);
/* Log what the run is. */
void vb_run_announce(const vb_run *r, const char *mode);

/* Save a checkpoint named by the update count: the learner state, k acting
 * slots' stream positions (pos: 2k, may be NULL when k = 0), the acting
 * parameters' version, and n extra sections. 0, or -1 with err. */
int vb_run_save(vb_run *r, const uint64_t *pos, int64_t k, int64_t act_version, const vb_ckpt_section *extra,
                int n_extra, char *err, size_t err_len);
/* Restore the learner state from ck. The acting stream positions are left
 * in ck: *pos (unaligned; copy before use) and *k, and the acting version in
 * *act_version. 0, or -1 with err. */
int vb_run_restore(vb_run *r, const vb_ckpt *ck, const void **pos, int64_t *k, int64_t *act_version, char *err,
                   size_t err_len);


/* ---- the protocol both learner modes share -------------------------------- */
/* Continue from the newest valid checkpoint reachable from `from` (the
 * learner's state, then the mode's). 0, or -1 with err. */
int vb_run_resume(vb_run *r, const char *from, char *err, size_t err_len);
/* A checkpoint of the learner and the mode's acting state. 0, or -1 with err. */
int vb_run_checkpoint(vb_run *r, char *err, size_t err_len);
/* One learner update (call while vb_learning_ready): its statistics, an
 * evaluation when eval.every_updates is due, publishing every
 * learner.publish_every and a checkpoint every learner.checkpoint_every
 * updates. A skipped update (non-finite loss) and failed publishing or
 * checkpoints are logged, and the run goes on. 0, or -1 when the update was
 * skipped. */
int vb_run_update(vb_run *r);
/* Start the clocks of this process (the wall time and the metrics interval). */
void vb_run_start_clock(vb_run *r);
/* The metrics tick at monotonic time t: the metrics line (the mode's values
 * in extra), the progress line (progress: the mode's words, or ""), a new
 * interval. */
void vb_run_tick(vb_run *r, double t, const vb_metric *extra, int n_extra, const char *progress);

/* Interval statistics: an update's stats, finished tasks, and the metrics
 * line with the mode's own values (extra, n_extra) at its end. One table
 * feeds both metrics.jsonl and, with log.tensorboard, the event file. */
void vb_run_add_update(vb_run *r, const vb_update_stats *st);
void vb_run_write_metrics(vb_run *r, double wall, double sps, const vb_metric *extra, int n_extra);
void vb_run_progress(const vb_run *r, double wall, double sps, const char *extra);
/* Start a new interval (clears update and task statistics). */
void vb_run_next_interval(vb_run *r);

#endif
