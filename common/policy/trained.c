/* trained — see trained.h. */
#include "trained.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/carve.h"
#include "../model/belief_tracker.h"

typedef struct policy_impl {
    const vb_backend *be;
    const vb_model *m;
    const float *P;
    bool greedy;
    int64_t n;
    vb_belief_tracker belief;
    float *feat, *feat_ws, *logits, *cache, *u;
    double *scores;              /* (actions) */
    vb_planner *planner;         /* planning agents */
    float *q, *v;
    void *block;
} policy_impl;

static void carve(policy_impl *k, vb_carver *c) {
    const vb_model_dims *d = &k->m->d;
    const int64_t n = k->n;
    k->feat = vb_carve(c, n * d->feat, sizeof(float));
    k->feat_ws = vb_carve(c, vb_model_features_ws_floats(k->m, n), sizeof(float));
    k->logits = vb_carve(c, n * d->actions, sizeof(float));
    k->cache = vb_carve(c, vb_mlp_cache_floats(&k->m->policy, n), sizeof(float));
    k->u = vb_carve(c, n, sizeof(float));
    k->scores = vb_carve(c, d->actions, sizeof(double));
    k->q = vb_carve(c, n * d->actions, sizeof(float));
    k->v = vb_carve(c, n, sizeof(float));
}

static void policy_destroy(void *p) {
    policy_impl *k = p;
    vb_belief_tracker_free(&k->belief);
    vb_planner_destroy(k->planner);
    free(k->block);
    free(k);
}

static void policy_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {
    policy_impl *k = a->impl;
    vb_belief_tracker_start_task(&k->belief, i);
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
    const int64_t n = k->n, A = k->m->d.actions;
    vb_planner_root root = vb_belief_tracker_root(&k->belief, env);
    vb_planner_run(k->planner, k->P, &root, n, a->rng, k->q, k->v);
    for (int64_t i = 0; i < n; i++) {
        if (k->greedy) actions[i] = vb_planner_greedy(k->planner, i);
        else pick(a, k->q + i * A, A, i, false, &actions[i]);
    }
}

static void policy_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    policy_impl *k = a->impl;
    const vb_model *m = k->m;
    const int64_t n = k->n, A = m->d.actions;
    vb_belief_tracker *bt = &k->belief;
    vb_belief_tracker_encode(k->be, bt, k->P, env);
    if (k->planner) {
        plan_act(a, env, actions);
        return;
    }
    vb_model_features(k->be, m, k->P, k->feat, bt->x, bt->o, bt->phi, k->feat_ws, n);
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
    vb_belief_tracker_observe(&k->belief, env, actions);
}

static const vb_agent_ops policy_ops = {
    .reset = policy_reset, .act = policy_act, .observe = policy_observe, .destroy = policy_destroy};

int vb_trained_agent_create(vb_agent **out, const vb_model *m, const float *P, bool greedy, const vb_planner_cfg *plan,
                           const vb_env_batch *env, uint64_t seed, uint64_t stream_base, char *err, size_t err_len) {
    *out = NULL;
    const int64_t n = env->n;
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
    vb_carver c = {0};
    carve(k, &c);
    k->block = calloc(1, c.off);
    if (!a->rng || !k->block || vb_belief_tracker_init(&k->belief, m, n) != 0) goto oom;
    c = (vb_carver){.base = k->block};
    carve(k, &c);
    vb_belief_tracker_prepare(k->be, &k->belief, P);
    if (plan) {
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
