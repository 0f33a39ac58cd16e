/* background — the distributed learner's slow work off its event loop.
 *
 * One worker thread evaluates snapshots of the weights (eval.every_updates)
 * and writes checkpoints, so that while it works the loop goes on taking in
 * chunks, answering heartbeats and the ZAP handler, and updating: intake
 * never stalls behind a file write or a thousand validation tasks. The loop
 * hands over copies (the weights, the encoded checkpoint) and never waits,
 * except for checkpoint writes before the final checkpoint and for a running
 * evaluation when the run ends. An evaluation asked for while one runs is
 * skipped (logged); a periodic checkpoint due while one is being written is
 * skipped (vb_bg_writing), and one handed over while another waits replaces
 * it. Results reach the loop through a uv_async
 * handle (the TensorBoard scalar of each evaluation). */
#ifndef VB_BACKGROUND_H
#define VB_BACKGROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "run.h"

typedef struct vb_bg vb_bg;

/* Start the worker for run r (its model, config and folders), reporting to
 * loop. 0, or -1 with err. */
int vb_bg_start(vb_bg **out, uv_loop_t *loop, vb_run *r, char *err, size_t err_len);
/* Evaluate a copy of params as the weights of update `updates`; false when
 * an evaluation is still running (this one is skipped). */
bool vb_bg_eval(vb_bg *b, const float *params, const vb_run_snapshot *at);
/* Write an encoded checkpoint (buf from vb_ckpt_encode, owned from now on)
 * as ckpt-<updates>.vbc. */
void vb_bg_checkpoint(vb_bg *b, void *buf, size_t len, int64_t updates);
/* Whether a checkpoint waits to be written or is being written. */
bool vb_bg_writing(vb_bg *b);
/* Drop an evaluation not yet started and wait for the checkpoints (before
 * the final one: the newest file is then the final one); an evaluation that
 * runs goes on. */
void vb_bg_drain_checkpoints(vb_bg *b);
/* Wait until nothing is pending or running. */
void vb_bg_drain(vb_bg *b);
/* Drain, stop the thread and free b; its uv handle is closed on the loop. */
void vb_bg_stop(vb_bg *b);

#endif
