/* remote — `actor --learner ENDPOINT`: acting for a distributed learner.
 *
 * The actor needs nothing but the learner's control endpoint: it registers,
 * receives the run's config, env and model specs and its stream id, checks
 * that it builds the same model and chunk layout, fetches the current
 * weights, and then runs vb_acting unchanged, sending every finished chunk on
 * the data channel and taking new weights from the broadcast between steps.
 * It registers again by itself when the learner restarts or stops answering,
 * exits 0 when the learner ends the run or on SIGINT/SIGTERM, and 1 when it
 * cannot act for this learner (a different model, a broken acting step).
 *
 * Streams: an actor with stream id s acts on Philox streams
 * VB_ACT_STREAM_BASE(s) + [0, 2 env.batch), under run.seed, so no two live
 * actors (nor the serial learner, nor evaluation) share a stream. */
#ifndef VB_ACTOR_REMOTE_H
#define VB_ACTOR_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#define VB_ACT_STREAM_BASE(s) ((UINT64_C(0xAC) << 56) | (((uint64_t)(s) & ((UINT64_C(1) << 39) - 1)) << 17))

typedef struct vb_act_options {
    const char *learner;   /* control endpoint */
    const char *name;      /* NULL: <host>-<pid> */
    const char *keys;      /* CURVE: DIR/actor.key and DIR/learner.pub (tcp:// only); NULL: none */
    int64_t threads;       /* BLAS threads; 0: the run's actors.threads */
    long parent;           /* exit when this process is no longer the parent; 0: never */
    bool log_level_set;    /* --log-level given: keep it over the run's log.level */
} vb_act_options;

/* Act until the run ends or a signal. Returns a process exit status. */
int vb_act_run(const vb_act_options *o);

#endif
