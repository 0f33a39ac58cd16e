/* trained — see trained.h. */
#include "trained.h"

#include <math.h>
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
    /* the decoded belief (models with a decoder): BELIEF_DRAWS fixed normal
     * draws per latent, the samples and their decoder outputs */
    float *eps, *z, *zin, *dec, *work_dec;
    void *block;
} policy_impl;

enum { BELIEF_DRAWS = 32 };

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
    if (d->has_decoder) {
        const int64_t S = n * BELIEF_DRAWS;
        k->eps = vb_carve(c, BELIEF_DRAWS * d->latent, sizeof(float));
        k->z = vb_carve(c, S * d->latent, sizeof(float));
        k->zin = d->dec_obs ? vb_carve(c, S * (d->latent + d->dec_obs), sizeof(float)) : NULL;
        k->dec = vb_carve(c, S * d->reward_cells, sizeof(float));
        k->work_dec = vb_carve(c, vb_mlp_infer_floats(k->be, &k->m->reward_dec, S), sizeof(float));
    }
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

/* The belief acted on, decoded: each env's latent at the same BELIEF_DRAWS
 * fixed draws z = mu + e^{lv/2} eps_j (a quadrature of q(m), independent of
 * the agent's streams), the decoder's hit probability or mean per cell
 * averaged over them. */
static void policy_belief(vb_agent *a, float *cells) {
    policy_impl *k = a->impl;
    const vb_model_dims *d = &k->m->d;
    const int64_t n = k->n, D = d->latent, C = d->reward_cells, S = BELIEF_DRAWS;
    for (int64_t i = 0; i < n; i++) {
        const float *mu = k->belief.phi + i * 2 * D, *lv = mu + D;
        for (int64_t j = 0; j < S; j++)
            for (int64_t l = 0; l < D; l++) k->z[(i * S + j) * D + l] = mu[l] + expf(0.5f * lv[l]) * k->eps[j * D + l];
    }
    const float *x = k->belief.x;
    const float *in =
        vb_model_reward_input(k->be, k->m, k->zin, k->z, D, x, d->in, x + vb_model_input_reward_at(d), d->in, S, n * S);
    vb_mlp_infer(k->be, &k->m->reward_dec, k->P, NULL, k->dec, in, k->work_dec, n * S);
    vb_model_reward_logodds(d, k->dec, n * S);
    const bool hit = d->reward_kind == VB_REWARD_BERNOULLI;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < C; c++) {
            double acc = 0;
            for (int64_t j = 0; j < S; j++) {
                const double v = k->dec[(i * S + j) * C + c];
                acc += hit ? 1.0 / (1.0 + exp(-v)) : v;
            }
            cells[i * C + c] = (float)(acc / (double)S);
        }
}

static const vb_agent_ops policy_ops = {
    .reset = policy_reset, .act = policy_act, .observe = policy_observe, .destroy = policy_destroy};
static const vb_agent_ops belief_policy_ops = {.reset = policy_reset,
                                               .act = policy_act,
                                               .observe = policy_observe,
                                               .destroy = policy_destroy,
                                               .belief = policy_belief};

int vb_trained_agent_create(vb_agent **out, const vb_model *m, const float *P, bool greedy, const vb_planner_cfg *plan,
                           const vb_env_batch *env, uint64_t seed, uint64_t stream_base, char *err, size_t err_len) {
    *out = NULL;
    const int64_t n = env->n;
    vb_agent *a = calloc(1, sizeof *a);
    policy_impl *k = calloc(1, sizeof *k);
    if (!a || !k) goto oom;
    a->name = plan ? "checkpoint+planner" : "checkpoint";
    a->n = n;
    a->ops = m->d.has_decoder ? &belief_policy_ops : &policy_ops;
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
    if (m->d.has_decoder) {
        vb_rng draws;
        vb_rng_init(&draws, 0, 0);
        vb_rng_normal_fill(&draws, k->eps, BELIEF_DRAWS * m->d.latent);
    }
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
