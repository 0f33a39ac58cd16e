#include "optim.h"

#include <math.h>
#include <string.h>

vb_optim_cfg vb_optim_defaults(void) {
    return (vb_optim_cfg){.lr = 3e-4f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f,
                          .clip_norm = 0.0f, .schedule = VB_SCHED_CONSTANT, .total_steps = 0, .decay_start = 0};
}

int vb_optim_init(vb_optim *o, const vb_backend *be, const vb_optim_cfg *cfg, int64_t n) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    vb_layout_init(&o->layout);
    /* the step count is an int64 kept bit-exactly in two floats */
    o->m = vb_layout_add(&o->layout, "adam.m", 1, (int64_t[]){n});
    o->v = vb_layout_add(&o->layout, "adam.v", 1, (int64_t[]){n});
    o->step = vb_layout_add(&o->layout, "adam.step", 1, (int64_t[]){2});
    if (o->m < 0 || o->v < 0 || o->step < 0) return -1;
    o->state = be->alloc(o->layout.total);
    return o->state ? 0 : -1;
}

void vb_optim_free(vb_optim *o, const vb_backend *be) {
    if (o->state) be->release(o->state);
    o->state = NULL;
}

int64_t vb_optim_steps(const vb_optim *o, const vb_backend *be) {
    float raw[2];
    be->download(raw, o->state + o->step, 2);
    int64_t t;
    memcpy(&t, raw, sizeof t);
    return t;
}

static void set_steps(vb_optim *o, const vb_backend *be, int64_t t) {
    float raw[2];
    memcpy(raw, &t, sizeof t);
    be->upload(o->state + o->step, raw, 2);
}

static float lr_at(const vb_optim_cfg *c, int64_t t) {
    if (c->schedule == VB_SCHED_LINEAR && c->total_steps > 0) {
        int64_t s = c->decay_start > 0 && c->decay_start < c->total_steps ? c->decay_start : 0;
        if (t < s) return c->lr;
        double frac = 1.0 - (double)(t - s) / (double)(c->total_steps - s);
        return (float)(c->lr * (frac > 0 ? frac : 0));
    }
    return c->lr;
}

float vb_optim_lr(const vb_optim *o, const vb_backend *be) { return lr_at(&o->cfg, vb_optim_steps(o, be)); }

double vb_optim_step(vb_optim *o, const vb_backend *be, float *P, float *G) {
    double norm = sqrt(be->sumsq(G, o->n));
    if (o->cfg.clip_norm > 0 && norm > o->cfg.clip_norm) be->scale(G, (float)(o->cfg.clip_norm / (norm + 1e-6)), o->n);
    int64_t t = vb_optim_steps(o, be);
    float lr = lr_at(&o->cfg, t);
    t += 1;
    be->adam_update(P, G, o->state + o->m, o->state + o->v, o->n, lr, o->cfg.beta1, o->cfg.beta2, o->cfg.eps,
                    o->cfg.weight_decay, t);
    set_steps(o, be, t);
    return norm;
}
