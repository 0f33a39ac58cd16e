/* optim — Adam / AdamW with bias correction, global-norm gradient clipping
 * and a learning-rate schedule. The moments live in their own arena (layout
 * "adam.m", "adam.v", "adam.step"), so optimiser state checkpoints exactly
 * like the parameters. */
#ifndef VB_OPTIM_H
#define VB_OPTIM_H

#include <stdint.h>

#include "../../kernels/backend.h"
#include "arena.h"

typedef enum vb_schedule { VB_SCHED_CONSTANT = 0, VB_SCHED_LINEAR = 1 } vb_schedule;

typedef struct vb_optim_cfg {
    float lr, beta1, beta2, eps;
    float weight_decay;     /* decoupled (AdamW); 0 = Adam */
    float clip_norm;        /* global gradient-norm clip; 0 = off */
    vb_schedule schedule;
    int64_t total_steps;    /* linear decay reaches 0 at this step */
    int64_t decay_start;    /* linear: the rate holds at lr until this step, then decays */
} vb_optim_cfg;

typedef struct vb_optim {
    vb_optim_cfg cfg;
    int64_t n;              /* parameters */
    vb_layout layout;       /* the state arena's layout */
    float *state;           /* device buffer of layout.total floats */
    int64_t m, v, step;     /* offsets into state */
} vb_optim;

/* Defaults: lr 3e-4, betas (0.9, 0.999), eps 1e-8, no decay, no clip. */
vb_optim_cfg vb_optim_defaults(void);
/* Allocate zeroed state for n parameters on the backend; -1 on failure. */
int vb_optim_init(vb_optim *o, const vb_backend *be, const vb_optim_cfg *cfg, int64_t n);
void vb_optim_free(vb_optim *o, const vb_backend *be);
/* Learning rate of the next step (the schedule at the current step count). */
float vb_optim_lr(const vb_optim *o, const vb_backend *be);
/* Steps taken so far (read from the state arena). */
int64_t vb_optim_steps(const vb_optim *o, const vb_backend *be);
/* Clip G by global norm, then one Adam(W) step on P. Returns the gradient
 * norm before clipping (a metric). G is scaled in place when clipped. */
double vb_optim_step(vb_optim *o, const vb_backend *be, float *P, float *G);

#endif
