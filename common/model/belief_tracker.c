/* belief_tracker — see belief_tracker.h. */
#include "belief_tracker.h"

#include <stdlib.h>
#include <string.h>

#include "../base/carve.h"

static void carve(vb_belief_tracker *t, vb_carver *c) {
    const vb_model_dims *d = &t->m->d;
    const int64_t n = t->n;
    t->carry = vb_carve(c, n * d->carry, sizeof(float));
    t->x = vb_carve(c, n * d->in, sizeof(float));
    t->o = vb_carve(c, n * d->hidden, sizeof(float));
    t->phi = vb_carve(c, n * 2 * d->latent, sizeof(float));
    t->phi_prev = vb_carve(c, n * 2 * d->latent, sizeof(float));
    t->obs = vb_carve(c, n * d->obs, sizeof(float));
    t->last_obs = vb_carve(c, n * d->obs, sizeof(float));
    t->last_next = vb_carve(c, n * d->obs, sizeof(float));
    t->a_prev = vb_carve(c, n, sizeof(int32_t));
    t->r_prev = vb_carve(c, n, sizeof(float));
    t->done_prev = vb_carve(c, n, sizeof(float));
}

int vb_belief_tracker_init(vb_belief_tracker *t, const vb_model *m, int64_t n) {
    memset(t, 0, sizeof *t);
    t->m = m;
    t->n = n;
    vb_carver c = {0};
    carve(t, &c);
    if (!(t->block = calloc(1, c.off))) return -1;
    c = (vb_carver){.base = t->block};
    carve(t, &c);
    if (vb_encoder_step_ws_init(&t->ws, m, n) != 0) {
        vb_belief_tracker_free(t);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) vb_belief_tracker_start_task(t, i);
    return 0;
}

void vb_belief_tracker_free(vb_belief_tracker *t) {
    free(t->block);
    vb_encoder_step_ws_free(&t->ws);
    memset(t, 0, sizeof *t);
}

void vb_belief_tracker_prepare(const vb_backend *be, vb_belief_tracker *t, const float *P) {
    vb_encoder_step_prepare(be, t->m, P, &t->ws);
}

void vb_belief_tracker_start_task(vb_belief_tracker *t, int64_t i) {
    const vb_model_dims *d = &t->m->d;
    memset(t->carry + i * d->carry, 0, sizeof(float) * (size_t)d->carry);
    memset(t->phi_prev + i * 2 * d->latent, 0, sizeof(float) * (size_t)(2 * d->latent));
    t->a_prev[i] = -1;
    t->r_prev[i] = 0;
    t->done_prev[i] = 0;
}

void vb_belief_tracker_encode(const vb_backend *be, vb_belief_tracker *t, const float *P, const vb_env_batch *env) {
    const vb_model *m = t->m;
    const vb_model_dims *d = &m->d;
    for (int64_t i = 0; i < t->n; i++)
        vb_model_input(m, t->x + i * d->in, env->obs + i * d->obs, t->a_prev[i], t->r_prev[i], t->done_prev[i],
                       env->episode[i] * env->spec.episode_length + env->t[i]);
    memcpy(t->obs, env->obs, sizeof(float) * (size_t)(t->n * d->obs));
    vb_encoder_step(be, m, P, t->carry, t->x, t->o, t->phi, &t->ws, t->n);
}

vb_planner_root vb_belief_tracker_root(const vb_belief_tracker *t, const vb_env_batch *env) {
    return (vb_planner_root){.obs = env->obs, .carry = t->carry, .phi = t->phi, .phi_prev = t->phi_prev,
                             .last_obs = t->last_obs, .last_action = t->a_prev, .last_reward = t->r_prev,
                             .last_next_obs = t->last_next, .t_ep = env->t, .episode = env->episode, .o = t->o};
}

void vb_belief_tracker_observe(vb_belief_tracker *t, const vb_env_batch *env, const int32_t *actions) {
    const vb_model_dims *d = &t->m->d;
    const int64_t n = t->n;
    for (int64_t i = 0; i < n; i++) {
        t->a_prev[i] = actions[i];
        t->r_prev[i] = env->reward[i];
        t->done_prev[i] = env->done[i];
    }
    memcpy(t->last_obs, t->obs, sizeof(float) * (size_t)(n * d->obs));
    memcpy(t->last_next, env->obs, sizeof(float) * (size_t)(n * d->obs));
    memcpy(t->phi_prev, t->phi, sizeof(float) * (size_t)(n * 2 * d->latent));
}
