/* learning — see learning.h. Rows of a batch are time-major: row r = t * N + w
 * for window w and step t in [0, T), T = L + 1 (the last step only bootstraps
 * the value). The losses are averaged over the L * N real steps. */
#include "learning.h"

#include "../base/carve.h"
#include "../baselines/exact_belief.h"
#include "belief_metrics.h"
#include "planner_targets.h"
#include "refresh.h"
#include "task_span.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The batch of one update: its inputs (assembled from the sampled chunks),
 * the networks' outputs and their gradients. */
typedef struct batch_ws {
    /* inputs */
    int64_t *idx;                /* (N) replay slots */
    float *X;                    /* (T N, in) encoder inputs */
    float *carry0;               /* (N, carry) cached carry at each window's start */
    float *phi_prev0;            /* (N, 2 D) belief before each window's first step */
    uint8_t *reset;              /* (T N) task starts */
    uint8_t *cut;                /* bptt: (T N) task starts and every bptt-th step, where the gradient stops */
    float *d_carry0, *d_phi_prev0; /* refresh_grad: (N, carry), (N, 2 D) gradients at the window's start */
    int32_t *act, *cell, *seg;   /* (L N) action, reward cell, task segment in the window */
    uint8_t *prev_kind;          /* (L N) the ELBO's previous posterior: 0 prior, 1 phi_prev0, 2 the row before */
    float *rew, *tdone, *blogp;  /* (L N) */
    float *v_target, *q_target;  /* varibased: (L N), (L N, A) */
    float *task_cells;           /* elbo_decode: task: (L N, C) */
    int64_t *ext_n;              /* elbo_span: task: (N) transitions of each window's tasks outside it */
    int32_t *ext_cell, *ext_seg; /* (N, E) */
    float *ext_rew;              /* (N, E) */
    uint8_t *ext_future;         /* (N, E) */
    int32_t *chunk_cell;         /* (L) an inserted chunk's reward cells */
    float *boot;                 /* boot_task: (N) the rest of each window's task's return, NAN unknown */
    float *vboot;                /* boot_task: (T N) the values with those in place of the bootstrap values */
    float *s_obs, *s_next;       /* state head: (L N, obs) each transition's state and successor */
    float *dec_s;                /* model.decoder_obs: (L N, dec_obs) what the reward decoder reads of s_r */
    int32_t *s_next_cell;        /* state head: (L N) the successor's state cell */
    float *start_obs;            /* (obs) */
    /* forward */
    float *o, *phi, *feat, *feat_ws, *logits, *values, *cache_pol, *cache_val, *scratch;
    float *adv, *ret;            /* (L N) */
    /* backward */
    float *d_logits, *d_values, *d_feat, *d_o, *d_phi;
} batch_ws;

struct vb_learning {
    const vb_backend *be;
    const vb_model *m;
    vb_env_spec spec;
    vb_chunk_layout cl;
    vb_learning_cfg p;
    int64_t N, L, T;
    int64_t epochs;
    /* state */
    float *P, *G;
    vb_optim opt;
    vb_replay replay;
    vb_rng rng;
    uint64_t version;
    int64_t updates, dropped;
    double lag_sum; /* policy lags of the chunks offered since vb_learning_take_lag */
    int64_t lag_n;
    vb_refresh rf;
    bool span;                   /* ts is live (span_task with a transitions ELBO, or boot_task) */
    bool ext;                    /* the ELBO decodes the transitions outside the windows */
    vb_task_span ts;
    /* workspace: one block */
    void *block;
    const float **batch;         /* (N) the sampled chunks */
    batch_ws b;
    vb_ppo_ws ppo;
    vb_elbo_ws elbo;
    vb_belief_metrics_ws bm;
    bool has_exact;
    vb_exact_belief exact;
    vb_encoder_ws ews;
};

/* Every buffer of the workspace, sized (c->base NULL) or pointed into the block. */
static void carve(vb_learning *l, vb_carver *c) {
    const vb_model *m = l->m;
    const vb_model_dims *d = &m->d;
    const int64_t N = l->N, L = l->L, T = l->T, LN = L * N, TN = T * N, A = d->actions, D = d->latent;
    batch_ws *b = &l->b;
    l->batch = vb_carve(c, N, sizeof *l->batch);
    b->idx = vb_carve(c, N, sizeof(int64_t));
    b->X = vb_carve(c, TN * d->in, sizeof(float));
    b->carry0 = vb_carve(c, N * d->carry, sizeof(float));
    b->phi_prev0 = vb_carve(c, N * 2 * D, sizeof(float));
    b->reset = vb_carve(c, TN, 1);
    if (l->p.bptt > 0) b->cut = vb_carve(c, TN, 1);
    if (l->p.refresh_grad) {
        b->d_carry0 = vb_carve(c, N * d->carry, sizeof(float));
        b->d_phi_prev0 = vb_carve(c, N * 2 * D, sizeof(float));
    }
    b->act = vb_carve(c, LN, sizeof(int32_t));
    b->cell = vb_carve(c, LN, sizeof(int32_t));
    b->seg = vb_carve(c, LN, sizeof(int32_t));
    b->prev_kind = vb_carve(c, LN, 1);
    b->rew = vb_carve(c, LN, sizeof(float));
    b->tdone = vb_carve(c, LN, sizeof(float));
    b->blogp = vb_carve(c, LN, sizeof(float));
    const bool targets = l->p.algo == VB_ALGO_VARIBASED;
    b->v_target = targets ? vb_carve(c, LN, sizeof(float)) : NULL;
    b->q_target = targets ? vb_carve(c, LN * A, sizeof(float)) : NULL;
    b->task_cells = d->has_decoder && l->p.elbo.decode_task ? vb_carve(c, LN * d->reward_cells, sizeof(float)) : NULL;
    b->dec_s = d->dec_obs ? vb_carve(c, LN * d->dec_obs, sizeof(float)) : NULL;
    if (l->ext) {
        const int64_t E = 2 * l->ts.cap;
        b->ext_n = vb_carve(c, N, sizeof(int64_t));
        b->ext_cell = vb_carve(c, N * E, sizeof(int32_t));
        b->ext_seg = vb_carve(c, N * E, sizeof(int32_t));
        b->ext_rew = vb_carve(c, N * E, sizeof(float));
        b->ext_future = vb_carve(c, N * E, 1);
    }
    if (l->span) b->chunk_cell = vb_carve(c, L, sizeof(int32_t));
    if (l->p.boot_task) {
        b->boot = vb_carve(c, N, sizeof(float));
        b->vboot = vb_carve(c, TN, sizeof(float));
    }
    if (d->has_state_head) {
        b->s_obs = vb_carve(c, LN * d->obs, sizeof(float));
        b->s_next = vb_carve(c, LN * d->obs, sizeof(float));
        b->s_next_cell = vb_carve(c, LN, sizeof(int32_t));
    }
    b->start_obs = vb_carve(c, d->obs, sizeof(float));
    b->o = vb_carve(c, TN * d->hidden, sizeof(float));
    b->phi = vb_carve(c, TN * 2 * D, sizeof(float));
    b->feat = vb_carve(c, TN * d->feat, sizeof(float));
    b->feat_ws = vb_carve(c, vb_model_features_ws_floats(m, TN), sizeof(float));
    b->logits = vb_carve(c, LN * A, sizeof(float));
    b->values = vb_carve(c, TN, sizeof(float));
    b->cache_pol = vb_carve(c, vb_mlp_cache_floats(&m->policy, LN), sizeof(float));
    b->cache_val = vb_carve(c, vb_mlp_cache_floats(&m->value, TN), sizeof(float));
    b->scratch = vb_carve(c, vb_mlp_scratch_floats(&m->policy, TN), sizeof(float));
    b->adv = vb_carve(c, LN, sizeof(float));
    b->ret = vb_carve(c, LN, sizeof(float));
    b->d_logits = vb_carve(c, LN * A, sizeof(float));
    b->d_values = vb_carve(c, TN, sizeof(float));
    b->d_feat = vb_carve(c, TN * d->feat, sizeof(float));
    b->d_o = vb_carve(c, TN * d->hidden, sizeof(float));
    b->d_phi = vb_carve(c, TN * 2 * D, sizeof(float));
    float **ppo[] = {&l->ppo.logp, &l->ppo.ent, &l->ppo.d_logp, &l->ppo.d_ent};
    for (int i = 0; i < 4; i++) *ppo[i] = vb_carve(c, LN, sizeof(float));
    if (d->has_decoder) {
        vb_elbo_carve(&l->elbo, c, &m->reward_dec, d->has_state_head ? &m->state_dec : NULL, &l->p.elbo, LN);
        vb_belief_metrics_carve(&l->bm, c, &m->reward_dec, d->dec_obs, LN);
    }
}

int vb_learning_create(vb_learning **out, const vb_backend *be, const vb_model *m, const vb_learning_cfg *p,
                       const vb_env_spec *spec, const float *P0, char *err, size_t err_len) {
    *out = NULL;
    if (p->replay_capacity < p->batch_windows)
        return snprintf(err, err_len, "learner.replay_capacity (%lld) must be at least learner.batch_windows (%lld)",
                        (long long)p->replay_capacity, (long long)p->batch_windows), -1;
    if (m->d.has_state_head && !(p->elbo.coef > 0 && p->state_coef > 0))
        return snprintf(err, err_len, "planner.dynamics: learned needs learner.elbo_coef > 0 and learner.state_coef "
                        "> 0: the ELBO's next-state term is what trains the state head the planner simulates with"), -1;
    if (m->d.has_decoder && p->elbo.decode_task && !spec->has_task_cells)
        return snprintf(err, err_len, "learner.elbo_decode: task decodes the task's labels, and task family '%s' "
                        "gives none (its table has no task_cells): use elbo_decode: transitions", spec->name), -1;
    vb_learning *l = calloc(1, sizeof *l);
    if (!l) return snprintf(err, err_len, "out of memory"), -1;
    l->be = be;
    l->m = m;
    l->spec = *spec;
    l->p = *p;
    l->p.elbo.bernoulli = m->d.reward_kind == VB_REWARD_BERNOULLI;
    l->p.elbo.hit_level = m->d.reward_levels[1];
    l->p.elbo.categorical = m->d.reward_categorical;
    l->p.elbo.dec_obs = m->d.dec_obs;
    l->p.elbo.state = (vb_elbo_state_params){.coef = p->elbo.coef * p->state_coef, .pairs = p->state_pairs,
                                             .obs = m->d.obs, .actions = m->d.actions,
                                             .state_cells = m->d.state_cells};
    l->N = p->batch_windows;
    l->L = p->window;
    l->T = l->L + 1;
    /* PPO passes per sampled batch (rl2, varibad); varibased's targets are
     * fixed regression targets, one pass */
    l->epochs = p->algo == VB_ALGO_VARIBASED ? 1 : p->ppo_epochs;
    vb_chunk_layout_init(&l->cl, m, l->L, p->algo == VB_ALGO_VARIBASED);
    l->ext = m->d.has_decoder && !p->elbo.decode_task && p->span_task;
    if (l->ext || p->boot_task || p->wait_task) {
        if (vb_task_span_init(&l->ts, p->replay_capacity, m->d.steps_per_task, err, err_len) != 0) {
            free(l);
            return -1;
        }
        l->span = true;
    }
    l->has_exact = m->d.has_decoder && vb_exact_belief_init(&l->exact, spec, spec->prior_alpha, spec->prior_beta);
    vb_carver c = {0};
    carve(l, &c);
    l->block = calloc(1, c.off);
    l->P = calloc((size_t)m->layout.total, sizeof(float));
    l->G = calloc((size_t)m->layout.total, sizeof(float));
    if (l->block) {
        c = (vb_carver){.base = l->block};
        carve(l, &c);
    }
    if (!l->block || !l->P || !l->G || vb_optim_init(&l->opt, be, &p->optim, m->layout.total) != 0 ||
        vb_replay_init(&l->replay, &l->cl, p->replay_capacity, p->samples_per_insert) != 0 ||
        vb_encoder_ws_init(&l->ews, m, l->T, l->N, p->threads) != 0) {
        vb_learning_destroy(l);
        return snprintf(err, err_len, "out of memory for the learner (batch %lld x window %lld, replay %lld)",
                        (long long)l->N, (long long)l->L, (long long)p->replay_capacity), -1;
    }
    if (p->refresh_carry && vb_refresh_init(&l->rf, m, &l->cl, p->replay_capacity, l->N, err, err_len) != 0) {
        l->p.refresh_carry = false;
        vb_learning_destroy(l);
        return -1;
    }
    memcpy(l->P, P0, sizeof(float) * (size_t)m->layout.total);
    vb_rng_init(&l->rng, p->seed, 0x6c6561726e); /* the "learn" stream */
    *out = l;
    return 0;
}

void vb_learning_destroy(vb_learning *l) {
    if (!l) return;
    free(l->block);
    free(l->P);
    free(l->G);
    vb_optim_free(&l->opt, l->be);
    vb_replay_free(&l->replay);
    vb_encoder_ws_free(&l->ews);
    if (l->p.refresh_carry) vb_refresh_free(&l->rf);
    if (l->span) vb_task_span_free(&l->ts);
    free(l);
}

/* The reward cell of step t's transition in chunk data c. */
static int32_t chunk_cell(const vb_learning *l, const float *c, int64_t t) {
    const vb_chunk_layout *cl = &l->cl;
    const vb_model_dims *d = &l->m->d;
    return (int32_t)vb_env_reward_cell(&l->spec, c + cl->x + t * d->in, (int64_t)c[cl->action + t],
                                       c + cl->next_obs + t * d->obs);
}

int vb_learning_insert(vb_learning *l, const vb_chunk *c, char *why, size_t why_len) {
    if (vb_chunk_validate(&l->cl, c->data, why, why_len) != 0) return -1;
    bool stale = c->version + (uint64_t)l->p.max_policy_lag < l->version;
    l->lag_sum += c->version < l->version ? (double)(l->version - c->version) : 0.0;
    l->lag_n++;
    int64_t slot = stale ? -1 : l->replay.head;
    if (l->p.refresh_carry && vb_refresh_observe(&l->rf, c, slot) != 0)
        return snprintf(why, why_len, "out of memory for learner.refresh_carry streams"), -1;
    if (l->span) {
        const vb_chunk_layout *cl = &l->cl;
        for (int64_t t = 0; t < l->L; t++) l->b.chunk_cell[t] = chunk_cell(l, c->data, t);
        if (vb_task_span_observe(&l->ts, c->actor, c->slot, l->L, c->data + cl->reset, l->b.chunk_cell,
                                 c->data + cl->reward, c->data[cl->task_done + l->L - 1] != 0.0f, slot) != 0)
            return snprintf(why, why_len, "out of memory for the task streams of learner.elbo_span, "
                            "learner.window_bootstrap and learner.wait_for_task"), -1;
    }
    if (stale) {
        l->dropped++;
        return 1;
    }
    vb_replay_insert(&l->replay, c);
    return 0;
}

/* wait_task: the replay slots whose last task is still running, or NULL. */
static const uint8_t *held_slots(const vb_learning *l) { return l->p.wait_task ? l->ts.open : NULL; }

/* Waiting for tasks, a full replay with fewer than a batch of ended windows
 * (more streams than it can hold a task of each) fills the batch with
 * windows of running tasks rather than stall. */
int vb_learning_ready(const vb_learning *l) {
    const bool full = l->replay.size == l->replay.capacity;
    return vb_replay_can_sample(&l->replay, l->N, full ? NULL : held_slots(l));
}

/* The transitions of window w's first and last tasks outside it (replay slot k). */
static void gather_span(vb_learning *l, int64_t w, int64_t k) {
    const vb_task_span *s = &l->ts;
    batch_ws *b = &l->b;
    const int64_t E = 2 * s->cap, cap = s->cap;
    int64_t n = 0;
    for (int64_t j = 0; j < s->pre_n[k]; j++, n++) {
        b->ext_cell[w * E + n] = s->pre_cell[k * cap + j];
        b->ext_rew[w * E + n] = s->pre_rew[k * cap + j];
        b->ext_seg[w * E + n] = 0;
        b->ext_future[w * E + n] = 0;
    }
    const int32_t last = b->seg[(l->L - 1) * l->N + w];
    for (int64_t j = 0; j < s->post_n[k]; j++, n++) {
        b->ext_cell[w * E + n] = s->post_cell[k * cap + j];
        b->ext_rew[w * E + n] = s->post_rew[k * cap + j];
        b->ext_seg[w * E + n] = last;
        b->ext_future[w * E + n] = 1;
    }
    b->ext_n[w] = n;
}

/* The discounted return of the `rest` transitions after replay slot k's
 * chunk, or NAN while not all of them have arrived. */
static float rest_of_task(const vb_learning *l, int64_t k, int64_t rest) {
    const vb_task_span *s = &l->ts;
    if (rest <= 0 || s->post_n[k] < rest) return NAN;
    double g = 0;
    for (int64_t j = rest - 1; j >= 0; j--) g = s->post_rew[k * s->cap + j] + l->p.ppo.gamma * g;
    return (float)g;
}

/* Time-major inputs of the sampled windows, and the per-step data. */
static void assemble(vb_learning *l) {
    const vb_model *m = l->m;
    const vb_model_dims *d = &m->d;
    const vb_chunk_layout *cl = &l->cl;
    batch_ws *b = &l->b;
    const int64_t N = l->N, L = l->L, A = d->actions, C = d->reward_cells;
    for (int64_t w = 0; w < N; w++) {
        const float *c = l->batch[w];
        memcpy(b->carry0 + w * d->carry, c + cl->carry0, sizeof(float) * (size_t)d->carry);
        memcpy(b->phi_prev0 + w * 2 * d->latent, c + cl->phi_prev, sizeof(float) * (size_t)(2 * d->latent));
        int32_t seg = 0;
        for (int64_t t = 0; t < L; t++) {
            int64_t r = t * N + w;
            memcpy(b->X + r * d->in, c + cl->x + t * d->in, sizeof(float) * (size_t)d->in);
            b->reset[r] = c[cl->reset + t] != 0.0f;
            b->act[r] = (int32_t)c[cl->action + t];
            b->rew[r] = c[cl->reward + t];
            b->tdone[r] = c[cl->task_done + t];
            b->blogp[r] = c[cl->logp + t];
            if (t > 0 && b->reset[r]) seg++;
            b->seg[r] = seg;
            b->prev_kind[r] = b->reset[r] ? 0 : (t == 0 ? 1 : 2);
            b->cell[r] = chunk_cell(l, c, t);
            if (b->v_target) {
                b->v_target[r] = c[cl->v_target + t];
                memcpy(b->q_target + r * A, c + cl->q_target + t * A, sizeof(float) * (size_t)A);
            }
            if (b->task_cells) memcpy(b->task_cells + r * C, c + cl->task_cells + t * C, sizeof(float) * (size_t)C);
            if (b->dec_s) {
                const float *x = c + cl->x + t * d->in;
                vb_model_state_input(m, b->dec_s + r * d->dec_obs, x, x[vb_model_input_reward_at(d)]);
            }
            if (b->s_obs) {
                const float *next = c + cl->next_obs + t * d->obs;
                memcpy(b->s_obs + r * d->obs, c + cl->x + t * d->in, sizeof(float) * (size_t)d->obs);
                memcpy(b->s_next + r * d->obs, next, sizeof(float) * (size_t)d->obs);
                b->s_next_cell[r] = (int32_t)vb_env_state_cell(&l->spec, next);
            }
        }
        /* bootstrap step: the successor of the window's last step */
        int64_t last = (L - 1) * N + w, r = L * N + w;
        const float *xl = c + cl->x + (L - 1) * d->in;
        int64_t step = b->tdone[last] != 0.0f ? 0 : (int64_t)lroundf(xl[d->in - 1] * (float)d->steps_per_task) + 1;
        /* after an episode end inside the task, the next step starts from the start state */
        const float *next = c + cl->next_obs + (L - 1) * d->obs;
        if (c[cl->done + L - 1] != 0.0f && b->tdone[last] == 0.0f) {
            vb_env_episode_start_obs(&l->spec, b->start_obs);
            next = b->start_obs;
        }
        vb_model_input(m, b->X + r * d->in, next, b->act[last], b->rew[last], c[cl->done + L - 1], step);
        b->reset[r] = b->tdone[last] != 0.0f;
        b->idx[w] = (c - l->replay.data) / cl->floats;
        if (l->ext) gather_span(l, w, b->idx[w]);
        if (l->p.boot_task)
            b->boot[w] = b->tdone[last] != 0.0f ? NAN : rest_of_task(l, b->idx[w], d->steps_per_task - step);
    }
    if (b->cut)
        for (int64_t r = 0; r < l->T * N; r++) b->cut[r] = b->reset[r] || (r >= N && (r / N) % l->p.bptt == 0);
}

/* The values the lambda-returns read: the value head's, with the rest of
 * each window's task's return in place of its bootstrap value where known. */
static const float *return_values(vb_learning *l) {
    batch_ws *b = &l->b;
    if (!l->p.boot_task) return b->values;
    memcpy(b->vboot, b->values, sizeof(float) * (size_t)(l->T * l->N));
    for (int64_t w = 0; w < l->N; w++)
        if (!isnan(b->boot[w])) b->vboot[l->L * l->N + w] = b->boot[w];
    return b->vboot;
}

/* The RL losses' gradients into d_logits and d_values. */
static void rl_loss(vb_learning *l, vb_update_stats *st, bool first_epoch) {
    batch_ws *b = &l->b;
    const int64_t N = l->N, L = l->L, A = l->m->d.actions;
    if (l->p.algo == VB_ALGO_VARIBASED) {
        if (l->p.lambda_target)
            st->return_mean = vb_gae(&l->p.ppo, L, N, b->rew, b->tdone, return_values(l), b->adv, b->ret);
        vb_planner_targets_params tp = {.value_coef = l->p.ppo.value_coef, .policy_coef = l->p.ppo.policy_coef};
        vb_planner_targets_batch tb = {.L = L, .N = N, .A = A, .logits = b->logits, .values = b->values,
                                       .v_target = l->p.lambda_target ? b->ret : b->v_target,
                                       .v_planner = b->v_target, .q_target = b->q_target};
        vb_planner_targets_loss(l->be, &tp, &tb, b->d_logits, b->d_values, st);
        return;
    }
    /* the advantages and returns come from the first epoch's values and stay
     * fixed over the batch's later epochs */
    if (first_epoch)
        st->return_mean = vb_gae(&l->p.ppo, L, N, b->rew, b->tdone, return_values(l), b->adv, b->ret);
    vb_ppo_batch pb = {.L = L, .N = N, .A = A, .logits = b->logits, .values = b->values, .act = b->act,
                       .blogp = b->blogp, .adv = b->adv, .ret = b->ret};
    vb_ppo_loss(l->be, &l->p.ppo, &pb, &l->ppo, b->d_logits, b->d_values, st);
}

enum { BELIEF_EVERY = 4 }; /* updates between belief_mae measurements (8 decoder passes each) */

int vb_learning_update(vb_learning *l, vb_update_stats *st, char *err, size_t err_len) {
    const vb_backend *be = l->be;
    const vb_model *m = l->m;
    const vb_model_dims *d = &m->d;
    batch_ws *b = &l->b;
    const int64_t N = l->N, L = l->L, T = l->T, LN = L * N, TN = T * N;
    memset(st, 0, sizeof *st);
    st->belief_mae = -1;
    vb_replay_sample(&l->replay, N, &l->rng, l->batch, NULL, held_slots(l));
    assemble(l);
    st->carry_refreshed = -1;
    if (l->p.refresh_carry) {
        int64_t n = vb_refresh_batch(&l->rf, be, l->P, b->idx, l->batch, b->carry0, b->phi_prev0, &st->carry_drift);
        st->carry_refreshed = (double)n / (double)N;
    }
    for (int64_t epoch = 0; epoch < l->epochs; epoch++) {
        /* forward: encoder -> features -> value, policy */
        vb_encoder_forward(be, m, l->P, b->X, b->carry0, b->reset, b->o, b->phi, NULL, &l->ews, T, N);
        vb_model_features(be, m, l->P, b->feat, b->X, b->o, b->phi, b->feat_ws, TN);
        vb_mlp_forward(be, &m->value, l->P, b->values, b->feat, b->cache_val, TN);
        vb_mlp_forward(be, &m->policy, l->P, b->logits, b->feat, b->cache_pol, LN);
        be->fill(l->G, 0.0f, m->layout.total);
        be->fill(b->d_phi, 0.0f, TN * 2 * d->latent);
        /* losses and backward: policy, value -> features -> encoder outputs */
        bool rl = !(d->has_decoder && l->updates < l->p.elbo_warmup && l->p.algo != VB_ALGO_RL2);
        const float *d_o = NULL;
        if (rl) {
            rl_loss(l, st, epoch == 0);
            be->fill(b->d_feat, 0.0f, TN * d->feat);
            vb_mlp_backward(be, &m->policy, l->P, l->G, b->d_feat, b->d_logits, b->feat, b->logits, b->cache_pol,
                            b->scratch, LN);
            vb_mlp_backward(be, &m->value, l->P, l->G, b->d_feat, b->d_values, b->feat, b->values, b->cache_val,
                            b->scratch, TN);
            /* belief agents pass the RL gradient on only with model.rl_grad_to_encoder */
            if ((!d->belief_features || l->p.rl_to_encoder) &&
                vb_model_features_backward(be, m, b->d_feat, b->d_o, b->d_phi, TN))
                d_o = b->d_o;
        }
        /* refresh_grad: the gradients at the windows' start flow on into the re-encoded prefixes */
        const bool prefix = l->p.refresh_grad && l->p.refresh_carry && st->carry_refreshed > 0;
        if (prefix) {
            be->fill(b->d_carry0, 0.0f, N * d->carry);
            be->fill(b->d_phi_prev0, 0.0f, N * 2 * d->latent);
        }
        if (d->has_decoder) {
            vb_elbo_batch eb = {.L = L, .N = N, .phi = b->phi, .phi_prev0 = b->phi_prev0,
                                .d_phi_prev0 = prefix ? b->d_phi_prev0 : NULL, .prev_kind = b->prev_kind,
                                .seg = b->seg, .cell = b->cell, .rew = b->rew, .task_cells = b->task_cells,
                                .obs = b->dec_s, .obs_stride = d->dec_obs,
                                .E = l->ext ? 2 * l->ts.cap : 0, .ext_n = b->ext_n, .ext_cell = b->ext_cell,
                                .ext_seg = b->ext_seg, .ext_rew = b->ext_rew, .ext_future = b->ext_future,
                                .state = {.obs = b->s_obs, .act = b->act, .next = b->s_next,
                                          .next_cell = b->s_next_cell}};
            vb_elbo_loss(be, &m->reward_dec, d->has_state_head ? &m->state_dec : NULL, l->P, l->G, &l->p.elbo, &eb,
                         &l->elbo, &l->rng, b->d_phi, st);
            if (l->has_exact && epoch == l->epochs - 1 && l->updates % BELIEF_EVERY == 0)
                st->belief_mae = vb_belief_mae(be, &m->reward_dec, d->reward_categorical, d->dec_obs, l->P,
                                               l->elbo.mu, l->elbo.lv, b->dec_s, d->dec_obs, b->reset, b->cell,
                                               b->rew, d->reward_levels[1], L, N, &l->exact, &l->bm, &l->rng);
        }
        if (d_o || d->has_decoder || l->p.rl_to_encoder) {
            vb_encoder_backward(be, m, l->P, l->G, b->X, b->carry0, b->cut ? b->cut : b->reset, b->o, d_o, b->d_phi,
                                prefix ? b->d_carry0 : NULL, &l->ews, T, N);
            if (prefix) vb_refresh_backward(&l->rf, be, l->P, l->G, b->d_carry0, b->d_phi_prev0);
        }
        double total = st->loss_policy + st->loss_value + st->loss_recon + st->kl;
        if (!isfinite(total) || !isfinite(be->sumsq(l->G, m->layout.total))) {
            snprintf(err, err_len, "non-finite loss or gradient at update %lld; update skipped", (long long)l->updates);
            return -1;
        }
        vb_model_mask_split(be, m, l->G); /* a split latent's cross weights stay zero */
        st->lr = vb_optim_lr(&l->opt, be);
        st->grad_norm = vb_optim_step(&l->opt, be, l->P, l->G);
    }
    l->updates++;
    l->version++;
    return 0;
}

const float *vb_learning_params(const vb_learning *l) { return l->P; }
float *vb_learning_params_mut(vb_learning *l) { return l->P; }
vb_optim *vb_learning_optim(vb_learning *l) { return &l->opt; }
vb_replay *vb_learning_replay(vb_learning *l) { return &l->replay; }
vb_rng *vb_learning_rng(vb_learning *l) { return &l->rng; }
uint64_t vb_learning_version(const vb_learning *l) { return l->version; }
void vb_learning_forget_actor(vb_learning *l, int32_t actor) {
    if (l->p.refresh_carry) vb_refresh_forget_actor(&l->rf, actor);
    if (l->span) vb_task_span_forget_actor(&l->ts, actor);
}
int64_t vb_learning_refresh_streams(const vb_learning *l) { return l->p.refresh_carry ? vb_refresh_streams(&l->rf) : 0; }
void vb_learning_set_version(vb_learning *l, uint64_t v) {
    l->version = v;
    l->updates = (int64_t)v;
}
int64_t vb_learning_dropped(const vb_learning *l) { return l->dropped; }

double vb_learning_take_lag(vb_learning *l, int64_t *n) {
    double mean = l->lag_n > 0 ? l->lag_sum / (double)l->lag_n : NAN;
    *n = l->lag_n;
    l->lag_sum = 0;
    l->lag_n = 0;
    return mean;
}
