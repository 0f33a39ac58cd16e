#include "policy_agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct policy_impl {
    const vb_backend *be;
    const vb_model *m;
    const float *P;
    bool greedy;
    int64_t n;
    float *carry, *x, *o, *phi, *feat, *feat_ws, *logits, *cache, *r_prev, *done_prev, *u;
    int32_t *a_prev;
    vb_encoder_step_ws ws;
    /* planning */
    vb_planner *planner;
    float *phi_prev, *last_obs, *last_next, *q, *v;
    double *scores;  /* (actions) */
} policy_impl;

static void policy_destroy(void *p) {
    policy_impl *k = p;
    free(k->carry); free(k->x); free(k->o); free(k->phi); free(k->feat); free(k->feat_ws); free(k->logits); free(k->cache);
    free(k->r_prev); free(k->done_prev); free(k->u); free(k->a_prev);
    free(k->scores);
    free(k->phi_prev); free(k->last_obs); free(k->last_next); free(k->q); free(k->v);
    vb_planner_destroy(k->planner);
    vb_encoder_step_ws_free(&k->ws);
    free(k);
}

static void policy_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    policy_impl *k = a->impl;
    memset(k->carry + i * k->m->d.carry, 0, sizeof(float) * (size_t)k->m->d.carry);
    k->a_prev[i] = -1;
    k->r_prev[i] = 0;
    k->done_prev[i] = 0;
    if (k->phi_prev) memset(k->phi_prev + i * 2 * k->m->d.latent, 0, sizeof(float) * (size_t)(2 * k->m->d.latent));
}

static void pick(vb_agent *a, const float *scores, int64_t A, int64_t i, bool greedy, int32_t *action) {
    policy_impl *k = a->impl;
    if (greedy) {
        for (int64_t j = 0; j < A; j++) k->scores[j] = scores[j];
        *action = (int32_t)vb_argmax(k->scores, A, &a->rng[i]);
    } else {
        k->u[i] = vb_rng_uniform(&a->rng[i]);
        double acc = 0;
        *action = (int32_t)(A - 1);
        for (int64_t j = 0; j < A; j++)
            if ((double)k->u[i] < (acc += scores[j])) {
                *action = (int32_t)j;
                break;
            }
    }
}

/* Belief-SMC at every step: q* from the planner, then greedy or sampled. */
static void plan_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    policy_impl *k = a->impl;
    const int64_t n = k->n, A = k->m->d.actions, L2 = 2 * k->m->d.latent, O = k->m->d.obs;
    vb_planner_root root = {.obs = env->obs, .carry = k->carry, .phi = k->phi, .phi_prev = k->phi_prev,
                            .last_obs = k->last_obs, .last_action = k->a_prev, .last_reward = k->r_prev,
                            .last_next_obs = k->last_next, .t_ep = env->t, .episode = env->episode,
                            .o = k->o};
    vb_planner_run(k->planner, k->P, &root, n, a->rng, k->q, k->v);
    for (int64_t i = 0; i < n; i++) {
        if (k->greedy) actions[i] = vb_planner_greedy(k->planner, i);
        else pick(a, k->q + i * A, A, i, false, &actions[i]);
    }
    memcpy(k->phi_prev, k->phi, sizeof(float) * (size_t)(n * L2));
    memcpy(k->last_obs, env->obs, sizeof(float) * (size_t)(n * O));
}

static void policy_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    policy_impl *k = a->impl;
    const vb_model *m = k->m;
    const int64_t n = k->n, A = m->d.actions;
    for (int64_t i = 0; i < n; i++)
        vb_model_input(m, k->x + i * m->d.in, env->obs + i * m->d.obs, k->a_prev[i], k->r_prev[i], k->done_prev[i],
                       env->episode[i] * env->spec.episode_length + env->t[i]);
    vb_encoder_step(k->be, m, k->P, k->carry, k->x, k->o, k->phi, &k->ws, n);
    if (k->planner) {
        plan_act(a, env, actions);
        return;
    }
    vb_model_features(k->be, m, k->P, k->feat, k->x, k->o, k->phi, k->feat_ws, n);
    vb_mlp_forward(k->be, &m->policy, k->P, k->logits, k->feat, k->cache, n);
    if (k->greedy) {
        for (int64_t i = 0; i < n; i++) pick(a, k->logits + i * A, A, i, true, &actions[i]);
    } else {
        for (int64_t i = 0; i < n; i++) k->u[i] = vb_rng_uniform(&a->rng[i]);
        k->be->cat_sample(actions, k->logits, k->u, n, A);
    }
}

static void policy_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {
    policy_impl *k = a->impl;
    for (int64_t i = 0; i < k->n; i++) {
        k->a_prev[i] = actions[i];
        k->r_prev[i] = env->reward[i];
        k->done_prev[i] = env->done[i];
    }
    if (k->planner) memcpy(k->last_next, env->obs, sizeof(float) * (size_t)(k->n * k->m->d.obs));
}

static const vb_agent_ops policy_ops = {
    .reset = policy_reset, .act = policy_act, .observe = policy_observe, .destroy = policy_destroy};

int vb_policy_agent_create(vb_agent **out, const vb_model *m, const float *P, bool greedy, const vb_planner_cfg *plan,
                           const vb_env_batch *env, uint64_t seed, uint64_t stream_base, char *err, size_t err_len) {
    *out = NULL;
    const int64_t n = env->n;
    const vb_model_dims *d = &m->d;
    vb_agent *a = calloc(1, sizeof *a);
    policy_impl *k = calloc(1, sizeof *k);
    if (!a || !k) goto oom;
    a->name = plan ? "checkpoint+planner" : "checkpoint";
    a->n = n;
    a->ops = &policy_ops;
    a->impl = k;
    a->rng = calloc((size_t)n, sizeof *a->rng);
    k->be = vb_backend_cpu();
    k->m = m;
    k->P = P;
    k->greedy = greedy;
    k->n = n;
    k->carry = calloc((size_t)(n * d->carry), sizeof(float));
    k->x = calloc((size_t)(n * d->in), sizeof(float));
    k->o = calloc((size_t)(n * d->hidden), sizeof(float));
    k->phi = calloc((size_t)(n * 2 * d->latent), sizeof(float));
    k->feat = calloc((size_t)(n * d->feat), sizeof(float));
    k->feat_ws = calloc((size_t)vb_model_features_ws_floats(m, n) + 1, sizeof(float));
    k->logits = calloc((size_t)(n * d->actions), sizeof(float));
    k->cache = calloc((size_t)vb_mlp_cache_floats(&m->policy, n) + 1, sizeof(float));
    k->r_prev = calloc((size_t)n, sizeof(float));
    k->done_prev = calloc((size_t)n, sizeof(float));
    k->u = calloc((size_t)n, sizeof(float));
    k->a_prev = calloc((size_t)n, sizeof(int32_t));
    k->scores = calloc((size_t)d->actions, sizeof(double));
    if (!a->rng || !k->carry || !k->x || !k->o || !k->phi || !k->feat || !k->feat_ws || !k->logits || !k->cache || !k->r_prev ||
        !k->done_prev || !k->u || !k->a_prev || !k->scores || vb_encoder_step_ws_init(&k->ws, m, n) != 0)
        goto oom;
    vb_encoder_step_prepare(k->be, m, P, &k->ws);
    if (plan) {
        k->phi_prev = calloc((size_t)(n * 2 * d->latent), sizeof(float));
        k->last_obs = calloc((size_t)(n * d->obs), sizeof(float));
        k->last_next = calloc((size_t)(n * d->obs), sizeof(float));
        k->q = calloc((size_t)(n * d->actions), sizeof(float));
        k->v = calloc((size_t)n, sizeof(float));
        if (!k->phi_prev || !k->last_obs || !k->last_next || !k->q || !k->v) goto oom;
        if (vb_planner_create(&k->planner, k->be, m, &env->spec, plan, n, err, err_len) != 0) {
            a->impl = NULL;
            free(a->rng);
            free(a);
            policy_destroy(k);
            return VB_AGENT_EUSAGE;
        }
        vb_planner_prepare(k->planner, P);
    }
    vb_agent_set_streams(a, seed, stream_base);
    vb_agent_reset_all(a, env);
    *out = a;
    return 0;
oom:
    if (a) {
        a->impl = NULL;
        free(a->rng);
        free(a);
    }
    if (k) policy_destroy(k);
    snprintf(err, err_len, "out of memory for a trained agent over %lld envs", (long long)n);
    return VB_AGENT_ERUNTIME;
}
