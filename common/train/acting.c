/* acting — see acting.h. Resets of finished envs are deferred to the start of
 * the next step, so that between steps every env's state is a function of
 * its stream positions whenever all tasks have just ended (what makes a
 * checkpoint at such a point resume exactly). */
#include "acting.h"

#include "../policy/agent.h"
#include "../base/carve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void carve(vb_acting *a, vb_carver *c) {
    const vb_model *m = a->m;
    const vb_model_dims *d = &m->d;
    const int64_t n = a->n;
    a->feat = vb_carve(c, n * d->feat, sizeof(float));
    a->feat_ws = vb_carve(c, vb_model_features_ws_floats(m, n), sizeof(float));
    a->logits = vb_carve(c, n * d->actions, sizeof(float));
    a->logp = vb_carve(c, n, sizeof(float));
    a->mlp_cache = vb_carve(c, vb_mlp_cache_floats(&m->policy, n), sizeof(float));
    a->u = vb_carve(c, n, sizeof(float));
    a->actions = vb_carve(c, n, sizeof(int32_t));
    a->task_start = vb_carve(c, n, 1);
    a->rng = vb_carve(c, n, sizeof(vb_rng));
    a->scores = vb_carve(c, d->actions, sizeof(double));
    a->q = vb_carve(c, n * d->actions, sizeof(float));
    a->v = vb_carve(c, n, sizeof(float));
    a->chunks = vb_carve(c, n * a->cl.floats, sizeof(float));
    a->ep_return = vb_carve(c, n * a->env->spec.episodes_per_task, sizeof(float));
}

int vb_acting_create(vb_acting *a, const vb_backend *be, const vb_model *m, const vb_acting_cfg *cfg, int64_t n,
                     uint64_t seed, uint64_t stream_base, char *err, size_t err_len) {
    memset(a, 0, sizeof *a);
    a->be = be;
    a->m = m;
    a->algo = cfg->algo;
    a->n = n;
    vb_chunk_layout_init(&a->cl, m, cfg->window, cfg->algo == VB_ALGO_VARIBASED);
    if (vb_env_batch_create(&a->env, &cfg->env, n, seed, stream_base, err, err_len) != 0) return -1;
    vb_carver c = {0};
    carve(a, &c);
    a->block = calloc(1, c.off);
    a->P = calloc((size_t)m->layout.total, sizeof(float));
    if (!a->block || !a->P || vb_belief_tracker_init(&a->belief, m, n) != 0) {
        vb_acting_destroy(a);
        return snprintf(err, err_len, "out of memory for %lld acting slots", (long long)n), -1;
    }
    c = (vb_carver){.base = a->block};
    carve(a, &c);
    if (a->algo == VB_ALGO_VARIBASED) {
        a->argmax = cfg->argmax;
        a->entropy = cfg->planner.tau;
        a->entropy_decay = cfg->entropy_decay;
        a->depth = cfg->planner.D;
        a->late_depth = cfg->late_depth;
        a->late_from = cfg->late_from;
        if (vb_planner_create(&a->planner, be, m, &a->env->spec, &cfg->planner, n, err, err_len) != 0) {
            vb_acting_destroy(a);
            return -1;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        vb_rng_init(&a->rng[i], seed, stream_base + (uint64_t)n + (uint64_t)i);
        a->task_start[i] = 1;
    }
    return 0;
}

void vb_acting_destroy(vb_acting *a) {
    vb_env_batch_destroy(a->env);
    vb_belief_tracker_free(&a->belief);
    vb_planner_destroy(a->planner);
    free(a->P);
    free(a->block);
    memset(a, 0, sizeof *a);
}

double vb_entropy_schedule(double tau0, int64_t decay, uint64_t v) {
    if (decay <= 0) return tau0;
    return (double)v >= (double)decay ? 0.0 : tau0 * (1.0 - (double)v / (double)decay);
}

void vb_acting_set_params(vb_acting *a, const float *P, uint64_t version) {
    memcpy(a->P, P, sizeof(float) * (size_t)a->m->layout.total);
    a->version = version;
    vb_belief_tracker_prepare(a->be, &a->belief, a->P);
    if (a->planner) {
        vb_planner_prepare(a->planner, a->P);
        if (a->entropy_decay > 0)
            vb_planner_set_entropy(a->planner, vb_entropy_schedule(a->entropy, a->entropy_decay, version));
        if (a->late_depth > 0)
            vb_planner_set_depth(a->planner, version >= (uint64_t)a->late_from ? a->late_depth : a->depth);
    }
}

/* Finished tasks' returns into the statistics; then the deferred resets. */
static int start_pending(vb_acting *a) {
    vb_env_batch *env = a->env;
    const int64_t E = env->spec.episodes_per_task;
    for (int64_t i = 0; i < a->n; i++) {
        if (!env->done[i]) continue;
        if (env->task_done[i] && !a->task_start[i]) { /* a restore restarts tasks unrecorded */
            double total = 0;
            for (int64_t e = 0; e < E; e++) total += a->ep_return[i * E + e];
            vb_task_stats *s = &a->stats;
            s->tasks++;
            s->return_sum += total;
            s->return_sq += total * total;
            s->episodes = E < 64 ? E : 64;
            for (int64_t e = 0; e < s->episodes; e++) s->episode_sum[e] += a->ep_return[i * E + e];
            memset(a->ep_return + i * E, 0, sizeof(float) * (size_t)E);
        }
        if (env->task_done[i]) a->task_start[i] = 1;
    }
    return vb_env_reset_finished(env);
}

/* The argmax of q (A), ties broken uniformly from r (vb_argmax); *logp is the
 * log of the probability this rule gives the pick (one over the ties). */
static int32_t argmax_pick(vb_acting *a, const float *q, int64_t A, vb_rng *r, float *logp) {
    for (int64_t j = 0; j < A; j++) a->scores[j] = q[j];
    int64_t best = vb_argmax(a->scores, A, r), ties = 0;
    for (int64_t j = 0; j < A; j++) ties += q[j] == q[best];
    *logp = -logf((float)ties);
    return (int32_t)best;
}

/* Belief-SMC: the planner's q* is the behaviour policy (a sample of it, or its
 * argmax under planner.act) and, with V-hat, the learning target. */
static void plan_actions(vb_acting *a) {
    const int64_t n = a->n, A = a->m->d.actions;
    vb_planner_root root = vb_belief_tracker_root(&a->belief, a->env);
    vb_planner_run(a->planner, a->P, &root, n, a->rng, a->q, a->v);
    for (int64_t i = 0; i < n; i++) {
        const float *qi = a->q + i * A;
        if (a->argmax) {
            a->actions[i] = argmax_pick(a, qi, A, &a->rng[i], &a->logp[i]);
            continue;
        }
        float u = vb_rng_uniform(&a->rng[i]);
        double acc = 0;
        int32_t pick = -1;
        for (int64_t j = 0; j < A; j++) {
            acc += qi[j];
            if (pick < 0 && (double)u < acc) pick = (int32_t)j;
        }
        for (int64_t j = A - 1; pick < 0 && j >= 0; j--)
            if (qi[j] > 0) pick = (int32_t)j;
        a->actions[i] = pick < 0 ? 0 : pick;
        a->logp[i] = logf(fmaxf(qi[a->actions[i]], 1e-30f));
    }
}

static void choose_actions(vb_acting *a) {
    const vb_model *m = a->m;
    const int64_t n = a->n, A = m->d.actions;
    if (a->planner) {
        plan_actions(a);
        return;
    }
    vb_mlp_forward(a->be, &m->policy, a->P, a->logits, a->feat, a->mlp_cache, n);
    for (int64_t i = 0; i < n; i++) a->u[i] = vb_rng_uniform(&a->rng[i]);
    a->be->cat_sample(a->actions, a->logits, a->u, n, A);
    a->be->cat_logprob_forward(a->logp, a->logits, a->actions, n, A);
}

int vb_acting_step(vb_acting *a, vb_chunk_sink sink, void *ctx, char *err, size_t err_len) {
    const vb_model *m = a->m;
    const vb_model_dims *d = &m->d;
    const vb_chunk_layout *cl = &a->cl;
    vb_env_batch *env = a->env;
    const int64_t n = a->n, t = a->fill, E = env->spec.episodes_per_task;
    int rc = start_pending(a);
    if (rc != VB_ENV_OK) return snprintf(err, err_len, "env reset: %s", vb_env_error(env, rc)), -1;
    vb_belief_tracker *bt = &a->belief;
    for (int64_t i = 0; i < n; i++) {
        float *c = a->chunks + i * cl->floats;
        if (t == 0) {
            memcpy(c + cl->carry0, bt->carry + i * d->carry, sizeof(float) * (size_t)d->carry);
            memcpy(c + cl->phi_prev, bt->phi_prev + i * 2 * d->latent, sizeof(float) * (size_t)(2 * d->latent));
        }
        if (a->task_start[i]) {
            vb_belief_tracker_start_task(bt, i);
            if (t == 0) memset(c + cl->phi_prev, 0, sizeof(float) * (size_t)(2 * d->latent));
        }
    }
    vb_belief_tracker_encode(a->be, bt, a->P, env);
    vb_model_features(a->be, m, a->P, a->feat, bt->x, bt->o, bt->phi, a->feat_ws, n);
    choose_actions(a);
    for (int64_t i = 0; i < n; i++) { /* what the chunk needs from before the step */
        float *c = a->chunks + i * cl->floats;
        memcpy(c + cl->x + t * d->in, bt->x + i * d->in, sizeof(float) * (size_t)d->in);
        c[cl->reset + t] = a->task_start[i];
        c[cl->action + t] = (float)a->actions[i];
        c[cl->logp + t] = fminf(a->logp[i], 0.0f);
        if (cl->targets) {
            memcpy(c + cl->q_target + t * d->actions, a->q + i * d->actions, sizeof(float) * (size_t)d->actions);
            c[cl->v_target + t] = a->v[i];
        }
        if (cl->cells) vb_env_task_cells(env, i, c + cl->task_cells + t * cl->cells);
    }
    rc = vb_env_step(env, a->actions);
    if (rc != VB_ENV_OK) return snprintf(err, err_len, "env step: %s", vb_env_error(env, rc)), -1;
    for (int64_t i = 0; i < n; i++) {
        float *c = a->chunks + i * cl->floats;
        c[cl->reward + t] = env->reward[i];
        c[cl->done + t] = env->done[i];
        c[cl->task_done + t] = env->task_done[i];
        memcpy(c + cl->next_obs + t * d->obs, env->obs + i * d->obs, sizeof(float) * (size_t)d->obs);
        a->ep_return[i * E + env->episode[i]] += env->reward[i];
        a->task_start[i] = 0;
    }
    vb_belief_tracker_observe(bt, env, a->actions);
    a->env_steps += n;
    if (++a->fill == cl->L) {
        a->fill = 0;
        for (int64_t i = 0; i < n; i++) {
            vb_chunk ch = {.version = a->version, .slot = (int32_t)i, .actor = 0, .data = a->chunks + i * cl->floats};
            sink(&ch, ctx);
        }
    }
    return 0;
}

void vb_acting_take_stats(vb_acting *a, vb_task_stats *out) {
    *out = a->stats;
    memset(&a->stats, 0, sizeof a->stats);
}

void vb_acting_stream_positions(const vb_acting *a, uint64_t *pos) {
    for (int64_t i = 0; i < a->n; i++) {
        pos[i] = a->env->rng[i].pos;
        pos[a->n + i] = a->rng[i].pos;
    }
}

void vb_acting_restore_positions(vb_acting *a, const uint64_t *pos) {
    for (int64_t i = 0; i < a->n; i++) {
        vb_rng_seek(&a->env->rng[i], pos[i]);
        vb_rng_seek(&a->rng[i], pos[a->n + i]);
        /* every task restarts from the restored streams */
        a->env->done[i] = a->env->task_done[i] = 1;
        a->task_start[i] = 1;
    }
    memset(a->ep_return, 0, sizeof(float) * (size_t)(a->n * a->env->spec.episodes_per_task));
    a->fill = 0;
}
