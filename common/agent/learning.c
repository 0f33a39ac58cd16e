/* learning — see learning.h. Rows of a batch are time-major: row r = t * N + w
 * for window w and step t in [0, T), T = L + 1 (the last step only bootstraps
 * the value). The losses are averaged over the L * N real steps. */
#include "learning.h"

#include "../envs/gridworld.h"
#include "refresh.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vb_learning {
    const vb_backend *be;
    const vb_model *m;
    vb_env_spec spec;
    vb_chunk_layout cl;
    int algo;
    int64_t N, L, T;
    /* hyper-parameters */
    double gamma, lambda, clip, ent_coef, value_coef, policy_coef, elbo_coef, kl_beta;
    int64_t max_lag, warmup, samples, epochs;
    double prior_alpha, prior_beta;
    bool rl_to_encoder, lambda_target, decode_task, refresh;
    vb_refresh rf;
    int64_t *idx;       /* (N) replay slots of the batch */
    float *phi_prev0;   /* (N, 2 latent) belief before each window's first step */
    /* state */
    float *P, *G;
    vb_optim opt;
    vb_replay replay;
    vb_rng rng;
    uint64_t version;
    int64_t updates, dropped;
    /* batch */
    const float **batch;
    float *X, *carry0, *o, *phi, *feat, *feat_ws, *logits, *values, *cache_pol, *cache_val, *scratch;
    uint8_t *reset;
    int32_t *act, *cell;
    float *rew, *tdone, *blogp, *logp, *ent, *adv, *ret, *d_logp, *d_ent, *d_logits, *d_values, *d_feat, *d_o,
        *d_phi;
    /* ELBO */
    float *mu, *lv, *eps, *z, *cells, *d_cells, *d_z, *d_mu, *d_lv, *pmu, *plv, *kl, *d_pmu, *d_plv, *cache_dec;
    uint8_t *prev_kind; /* 0 prior, 1 chunk's phi_prev, 2 phi of the previous row */
    int32_t *seg;
    float *start_obs;
    vb_encoder_ws ews;
};

static float *alloc_f(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

int vb_learning_create(vb_learning **out, const vb_backend *be, const vb_model *m, const vb_config *cfg,
                       const vb_env_spec *spec, const float *P0, char *err, size_t err_len) {
    *out = NULL;
    vb_learning *l = calloc(1, sizeof *l);
    if (!l) return snprintf(err, err_len, "out of memory"), -1;
    const vb_model_dims *d = &m->d;
    l->be = be;
    l->m = m;
    l->spec = *spec;
    l->algo = cfg->run.algo;
    l->N = cfg->learner.batch_windows;
    l->L = cfg->learner.window;
    l->T = l->L + 1;
    l->gamma = cfg->env.gamma;
    l->lambda = cfg->learner.lambda;
    l->clip = cfg->learner.ppo_clip;
    l->ent_coef = cfg->learner.entropy_coef;
    l->value_coef = cfg->learner.value_coef;
    l->policy_coef = cfg->learner.policy_coef;
    l->elbo_coef = cfg->learner.elbo_coef;
    l->kl_beta = cfg->learner.kl_beta;
    l->max_lag = cfg->learner.max_policy_lag;
    l->warmup = cfg->learner.elbo_warmup_updates;
    l->samples = cfg->learner.elbo_samples;
    /* PPO passes per sampled batch (rl2, varibad); varibased's targets are
     * fixed regression targets, one pass */
    l->epochs = l->algo == VB_ALGO_VARIBASED ? 1 : cfg->learner.ppo_epochs;
    l->rl_to_encoder = cfg->model.rl_grad_to_encoder;
    l->lambda_target = cfg->learner.value_target == VB_VT_LAMBDA;
    l->decode_task = cfg->learner.elbo_decode == VB_DECODE_TASK;
    l->refresh = cfg->learner.refresh_carry;
    l->prior_alpha = cfg->env.prior_alpha;
    l->prior_beta = cfg->env.prior_beta;
    vb_chunk_layout_init(&l->cl, m, l->L, l->algo == VB_ALGO_VARIBASED);
    if (cfg->learner.replay_capacity < cfg->learner.batch_windows) {
        free(l);
        return snprintf(err, err_len, "learner.replay_capacity (%lld) must be at least learner.batch_windows (%lld)",
                        (long long)cfg->learner.replay_capacity, (long long)cfg->learner.batch_windows), -1;
    }
    const int64_t N = l->N, L = l->L, T = l->T, LN = L * N, TN = T * N, A = d->actions, D = d->latent;
    vb_optim_cfg oc = vb_optim_defaults();
    oc.lr = (float)cfg->learner.lr;
    oc.weight_decay = cfg->learner.optimizer == VB_OPT_ADAMW ? (float)cfg->learner.weight_decay : 0.0f;
    oc.clip_norm = (float)cfg->learner.grad_clip;
    oc.schedule = cfg->learner.lr_schedule == VB_LR_LINEAR ? VB_SCHED_LINEAR : VB_SCHED_CONSTANT;
    /* updates a run will take, for the linear schedule */
    double spi = cfg->learner.samples_per_insert > 0 ? cfg->learner.samples_per_insert : 1.0;
    oc.total_steps = (int64_t)((double)cfg->run.total_env_steps / (double)L * spi / (double)N) + 1;
    if (l->algo != VB_ALGO_VARIBASED) oc.total_steps *= cfg->learner.ppo_epochs;
    oc.decay_start = (int64_t)(cfg->learner.lr_decay_start * (double)oc.total_steps);
    int64_t mlp_rows = TN;
    int64_t scratch_n = vb_mlp_scratch_floats(&m->policy, mlp_rows);
    if (d->has_decoder && vb_mlp_scratch_floats(&m->reward_dec, LN) > scratch_n)
        scratch_n = vb_mlp_scratch_floats(&m->reward_dec, LN);
    l->P = alloc_f(m->layout.total);
    l->G = alloc_f(m->layout.total);
    l->batch = calloc((size_t)N, sizeof *l->batch);
    l->X = alloc_f(TN * d->in);
    l->carry0 = alloc_f(N * d->carry);
    l->phi_prev0 = alloc_f(N * 2 * D);
    l->idx = calloc((size_t)N, sizeof(int64_t));
    l->o = alloc_f(TN * d->hidden);
    l->phi = alloc_f(TN * 2 * D);
    l->feat = alloc_f(TN * d->feat);
    l->feat_ws = alloc_f(vb_model_features_ws_floats(m, TN));
    l->logits = alloc_f(LN * A);
    l->values = alloc_f(TN);
    l->cache_pol = alloc_f(vb_mlp_cache_floats(&m->policy, LN));
    l->cache_val = alloc_f(vb_mlp_cache_floats(&m->value, TN));
    l->scratch = alloc_f(scratch_n);
    l->reset = calloc((size_t)TN, 1);
    l->act = calloc((size_t)LN, sizeof(int32_t));
    l->cell = calloc((size_t)LN, sizeof(int32_t));
    l->seg = calloc((size_t)LN, sizeof(int32_t));
    l->prev_kind = calloc((size_t)LN, 1);
    l->rew = alloc_f(LN);
    l->tdone = alloc_f(LN);
    l->blogp = alloc_f(LN);
    l->logp = alloc_f(LN);
    l->ent = alloc_f(LN);
    l->adv = alloc_f(LN);
    l->ret = alloc_f(LN);
    l->d_logp = alloc_f(LN);
    l->d_ent = alloc_f(LN);
    l->d_logits = alloc_f(LN * A);
    l->d_values = alloc_f(TN);
    l->d_feat = alloc_f(TN * d->feat);
    l->d_o = alloc_f(TN * d->hidden);
    l->d_phi = alloc_f(TN * 2 * D);
    l->mu = alloc_f(LN * D);
    l->lv = alloc_f(LN * D);
    l->eps = alloc_f(LN * D);
    l->z = alloc_f(LN * D);
    l->cells = alloc_f(LN * d->reward_cells);
    l->d_cells = alloc_f(LN * d->reward_cells);
    l->d_z = alloc_f(LN * D);
    l->d_mu = alloc_f(LN * D);
    l->d_lv = alloc_f(LN * D);
    l->pmu = alloc_f(LN * D);
    l->plv = alloc_f(LN * D);
    l->d_pmu = alloc_f(LN * D);
    l->d_plv = alloc_f(LN * D);
    l->kl = alloc_f(LN);
    l->start_obs = alloc_f(d->obs);
    l->cache_dec = d->has_decoder ? alloc_f(vb_mlp_cache_floats(&m->reward_dec, LN)) : alloc_f(1);
    int bad = !l->P || !l->G || !l->batch || !l->X || !l->carry0 || !l->o || !l->phi || !l->feat || !l->feat_ws || !l->logits ||
              !l->values || !l->cache_pol || !l->cache_val || !l->scratch || !l->reset || !l->act || !l->cell ||
              !l->seg || !l->prev_kind || !l->rew || !l->tdone || !l->blogp || !l->logp || !l->ent || !l->adv ||
              !l->ret || !l->d_logp || !l->d_ent || !l->d_logits || !l->d_values || !l->d_feat || !l->d_o ||
              !l->d_phi || !l->mu || !l->lv || !l->eps || !l->z || !l->cells || !l->d_cells || !l->d_z ||
              !l->d_mu || !l->d_lv || !l->pmu || !l->plv || !l->d_pmu || !l->d_plv || !l->kl || !l->cache_dec || !l->start_obs || !l->phi_prev0 || !l->idx;
    if (bad || vb_optim_init(&l->opt, be, &oc, m->layout.total) != 0 ||
        vb_replay_init(&l->replay, &l->cl, cfg->learner.replay_capacity, cfg->learner.samples_per_insert) != 0 ||
        vb_encoder_ws_init(&l->ews, m, T, N) != 0) {
        vb_learning_destroy(l);
        return snprintf(err, err_len, "out of memory for the learner (batch %lld x window %lld, replay %lld)",
                        (long long)N, (long long)L, (long long)cfg->learner.replay_capacity), -1;
    }
    if (l->refresh &&
        vb_refresh_init(&l->rf, m, &l->cl, cfg->learner.replay_capacity, N, err, err_len) != 0) {
        vb_learning_destroy(l);
        return -1;
    }
    memcpy(l->P, P0, sizeof(float) * (size_t)m->layout.total);
    vb_rng_init(&l->rng, (uint64_t)cfg->run.seed, 0x6c6561726e); /* the "learn" stream */
    *out = l;
    return 0;
}

void vb_learning_destroy(vb_learning *l) {
    if (!l) return;
    void *bufs[] = {l->P, l->G, l->batch, l->X, l->carry0, l->o, l->phi, l->feat, l->feat_ws, l->logits, l->values,
                    l->cache_pol, l->cache_val, l->scratch, l->reset, l->act, l->cell, l->seg, l->prev_kind,
                    l->rew, l->tdone, l->blogp, l->logp, l->ent, l->adv, l->ret, l->d_logp, l->d_ent,
                    l->d_logits, l->d_values, l->d_feat, l->d_o, l->d_phi, l->mu, l->lv, l->eps, l->z,
                    l->cells, l->d_cells, l->d_z, l->d_mu, l->d_lv, l->pmu, l->plv, l->d_pmu, l->d_plv, l->kl,
                    l->cache_dec, l->start_obs, l->phi_prev0, l->idx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    vb_optim_free(&l->opt, l->be);
    vb_replay_free(&l->replay);
    vb_encoder_ws_free(&l->ews);
    if (l->refresh) vb_refresh_free(&l->rf);
    free(l);
}

int vb_learning_insert(vb_learning *l, const vb_chunk *c, char *why, size_t why_len) {
    if (vb_chunk_validate(&l->cl, c->data, why, why_len) != 0) return -1;
    bool stale = c->version + (uint64_t)l->max_lag < l->version;
    if (l->refresh && vb_refresh_observe(&l->rf, c, stale ? -1 : l->replay.head) != 0)
        return snprintf(why, why_len, "out of memory for learner.refresh_carry streams"), -1;
    if (stale) {
        l->dropped++;
        return 1;
    }
    vb_replay_insert(&l->replay, c);
    return 0;
}

int vb_learning_ready(const vb_learning *l) { return vb_replay_can_sample(&l->replay, l->N); }

/* Time-major inputs of the sampled windows, and the per-step data. */
static void assemble(vb_learning *l) {
    const vb_model *m = l->m;
    const vb_model_dims *d = &m->d;
    const vb_chunk_layout *cl = &l->cl;
    const int64_t N = l->N, L = l->L;
    for (int64_t w = 0; w < N; w++) {
        const float *c = l->batch[w];
        memcpy(l->carry0 + w * d->carry, c + cl->carry0, sizeof(float) * (size_t)d->carry);
        memcpy(l->phi_prev0 + w * 2 * d->latent, c + cl->phi_prev, sizeof(float) * (size_t)(2 * d->latent));
        int32_t seg = 0;
        for (int64_t t = 0; t < L; t++) {
            int64_t r = t * N + w;
            memcpy(l->X + r * d->in, c + cl->x + t * d->in, sizeof(float) * (size_t)d->in);
            l->reset[r] = c[cl->reset + t] != 0.0f;
            l->act[r] = (int32_t)c[cl->action + t];
            l->rew[r] = c[cl->reward + t];
            l->tdone[r] = c[cl->task_done + t];
            l->blogp[r] = c[cl->logp + t];
            if (t > 0 && l->reset[r]) seg++;
            l->seg[r] = seg;
            l->prev_kind[r] = l->reset[r] ? 0 : (t == 0 ? 1 : 2);
            l->cell[r] = (int32_t)vb_env_reward_cell(&l->spec, c + cl->x + t * d->in, l->act[r],
                                                      c + cl->next_obs + t * d->obs);
        }
        /* bootstrap step: the successor of the window's last step */
        int64_t last = (L - 1) * N + w, r = L * N + w;
        const float *xl = c + cl->x + (L - 1) * d->in;
        int64_t step = l->tdone[last] != 0.0f ? 0 : (int64_t)lroundf(xl[d->in - 1] * (float)d->steps_per_task) + 1;
        /* after an episode end inside the task, the next step starts from the start state */
        const float *next = c + cl->next_obs + (L - 1) * d->obs;
        if (c[cl->done + L - 1] != 0.0f && l->tdone[last] == 0.0f) {
            vb_env_episode_start_obs(&l->spec, l->start_obs);
            next = l->start_obs;
        }
        vb_model_input(m, l->X + r * d->in, next, l->act[last], l->rew[last], c[cl->done + L - 1], step);
        l->reset[r] = l->tdone[last] != 0.0f;
    }
}

/* Features (s, mu, logvar) or (s, o) of every row. */
static void features(vb_learning *l) {
    vb_model_features(l->be, l->m, l->P, l->feat, l->X, l->o, l->phi, l->feat_ws, l->T * l->N);
}

/* GAE(gamma, lambda) over each window; task ends are terminal (the carry
 * resets), episode ends inside a task are not. */
static void advantages(vb_learning *l, vb_update_stats *st) {
    const int64_t N = l->N, L = l->L;
    double s = 0, s2 = 0, rs = 0;
    for (int64_t w = 0; w < N; w++) {
        double next_adv = 0;
        for (int64_t t = L - 1; t >= 0; t--) {
            int64_t r = t * N + w;
            double nonterm = 1.0 - l->tdone[r];
            double delta = l->rew[r] + l->gamma * l->values[r + N] * nonterm - l->values[r];
            next_adv = delta + l->gamma * l->lambda * nonterm * next_adv;
            l->adv[r] = (float)next_adv;
            l->ret[r] = (float)(next_adv + l->values[r]);
            s += next_adv;
            s2 += next_adv * next_adv;
            rs += l->ret[r];
        }
    }
    double M = (double)(N * L), mean = s / M, sd = sqrt(fmax(s2 / M - mean * mean, 0.0)) + 1e-8;
    for (int64_t r = 0; r < N * L; r++) l->adv[r] = (float)((l->adv[r] - mean) / sd);
    st->return_mean = rs / M;
}

/* PPO surrogate, entropy and value gradients into d_logits and d_values. The
 * advantages and returns come from the first epoch's values and stay fixed
 * over the batch's later epochs. */
static void ppo_loss(vb_learning *l, vb_update_stats *st, bool first_epoch) {
    const vb_backend *be = l->be;
    const int64_t N = l->N, L = l->L, LN = L * N, A = l->m->d.actions;
    be->cat_logprob_forward(l->logp, l->logits, l->act, LN, A);
    be->cat_entropy_forward(l->ent, l->logits, LN, A);
    if (first_epoch) advantages(l, st);
    double pl = 0, ent = 0, vl = 0, akl = 0, clipped = 0, vm = 0;
    const double M = (double)LN;
    for (int64_t r = 0; r < LN; r++) {
        double ratio = exp((double)l->logp[r] - l->blogp[r]), a = l->adv[r];
        double cr = fmin(fmax(ratio, 1.0 - l->clip), 1.0 + l->clip);
        double s1 = ratio * a, s2 = cr * a;
        pl -= fmin(s1, s2);
        l->d_logp[r] = s1 <= s2 ? (float)(-l->policy_coef * a * ratio / M) : 0.0f;
        clipped += s1 > s2;
        l->d_ent[r] = (float)(-l->ent_coef / M);
        ent += l->ent[r];
        akl += l->blogp[r] - l->logp[r];
        double e = (double)l->values[r] - l->ret[r];
        vl += e * e;
        vm += l->values[r];
        l->d_values[r] = (float)(2.0 * l->value_coef * e / M);
    }
    be->fill(l->d_values + LN, 0.0f, N);
    be->fill(l->d_logits, 0.0f, LN * A);
    be->cat_logprob_backward(l->d_logits, l->d_logp, l->logits, l->act, LN, A);
    be->cat_entropy_backward(l->d_logits, l->d_ent, l->logits, LN, A);
    st->loss_policy = pl / M;
    st->entropy = ent / M;
    st->loss_value = vl / M;
    st->approx_kl = akl / M;
    st->clip_frac = clipped / M;
    st->value_mean = vm / M;
}

/* Planner targets: c_V (V - V^)^2 and -c_pi sum_a q*(a) log pi(a). V^ is the
 * planner's value, or with learner.value_target: lambda the lambda-return of
 * the real rewards bootstrapped with the current value head. */
static void planner_loss(vb_learning *l, vb_update_stats *st) {
    const vb_backend *be = l->be;
    const vb_chunk_layout *cl = &l->cl;
    const int64_t N = l->N, L = l->L, LN = L * N, A = l->m->d.actions;
    const double M = (double)LN;
    double vl = 0, xe = 0, vm = 0, pv = 0;
    if (l->lambda_target) advantages(l, st);
    be->fill(l->d_logits, 0.0f, LN * A);
    for (int64_t w = 0; w < N; w++) {
        const float *c = l->batch[w];
        for (int64_t t = 0; t < L; t++) {
            int64_t r = t * N + w;
            double target = l->lambda_target ? (double)l->ret[r] : (double)c[cl->v_target + t];
            pv += c[cl->v_target + t];
            double e = (double)l->values[r] - target;
            vl += e * e;
            vm += l->values[r];
            l->d_values[r] = (float)(2.0 * l->value_coef * e / M);
            const float *qt = c + cl->q_target + t * A;
            float one = (float)(l->policy_coef / M), xr;
            be->cat_xent_forward(&xr, l->logits + r * A, qt, 1, A);
            xe += xr;
            be->cat_xent_backward(l->d_logits + r * A, &one, l->logits + r * A, qt, 1, A);
        }
    }
    be->fill(l->d_values + LN, 0.0f, N);
    st->loss_value = vl / M;
    st->loss_policy = xe / M;
    st->value_mean = vm / M;
    st->planner_value_mean = pv / M;
}

/* log p(y | decoder output v) of one reward cell and its derivative in v:
 * Bernoulli with logit v and target probability y, or unit-variance Gaussian
 * with mean v. */
static double cell_loglik(bool bern, double v, double y, double *dv) {
    if (bern) {
        double sp = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
        *dv = y - 1.0 / (1.0 + exp(-v));
        return y * v - sp;
    }
    double e = y - v;
    *dv = e;
    return -0.5 * (e * e + 1.8378770664093453);
}

/* The belief ELBO over every window, under one sample of q(m | phi_t) per
 * step t, and KL to the previous posterior (N(0, I) at a task start).
 * Reconstruction (learner.elbo_decode):
 *   transitions: every same-task transition of the window (VariBAD)
 *   task:        the task's label of every reward cell (chunk.task_cells)
 * Decoding transitions weights each cell by how often the acting policy
 * visits it, which correlates with its reward (agents linger at goals and
 * good arms), so the decoded posterior predictive is biased upward; decoding
 * the task weights every cell once, a proper scoring rule whose optimum is
 * the exact posterior predictive. belief_future_loglik is measured on the
 * transitions in both modes. Gradients go into d_phi. */
enum { TASK_METRIC_STRIDE = 8 };
static void elbo_loss(vb_learning *l, vb_update_stats *st) {
    const vb_backend *be = l->be;
    const vb_model *m = l->m;
    const vb_model_dims *d = &m->d;
    const vb_chunk_layout *cl = &l->cl;
    const int64_t N = l->N, L = l->L, LN = L * N, D = d->latent, C = d->reward_cells;
    /* split phi rows into mu, logvar; previous posteriors */
    for (int64_t r = 0; r < LN; r++) {
        be->copy(l->mu + r * D, l->phi + r * 2 * D, D);
        be->copy(l->lv + r * D, l->phi + r * 2 * D + D, D);
        int64_t w = r % N;
        switch (l->prev_kind[r]) {
        case 0: be->fill(l->pmu + r * D, 0.0f, D); be->fill(l->plv + r * D, 0.0f, D); break;
        case 1:
            be->copy(l->pmu + r * D, l->phi_prev0 + w * 2 * D, D);
            be->copy(l->plv + r * D, l->phi_prev0 + w * 2 * D + D, D);
            break;
        default:
            be->copy(l->pmu + r * D, l->phi + (r - N) * 2 * D, D);
            be->copy(l->plv + r * D, l->phi + (r - N) * 2 * D + D, D);
        }
    }
    int64_t pairs = 0, future = 0;
    double ll = 0, fll = 0, task_ll = 0;
    const bool bern = d->reward_kind == VB_REWARD_BERNOULLI;
    for (int64_t w = 0; w < N; w++)
        for (int64_t t = 0; t < L; t++) {
            int64_t rt = t * N + w;
            for (int64_t i = 0; i < L; i++) {
                int64_t ri = i * N + w;
                if (l->seg[ri] != l->seg[rt]) continue;
                pairs++;
            }
        }
    /* learner.elbo_samples reparameterised samples of m per step; each
     * contributes 1/S of the reconstruction and its gradient */
    const int64_t S = l->samples > 0 ? l->samples : 1;
    const double scale = l->decode_task ? 0.0 : l->elbo_coef / (double)(pairs > 0 ? pairs : 1) / (double)S;
    be->fill(l->d_mu, 0.0f, LN * D);
    be->fill(l->d_lv, 0.0f, LN * D);
    for (int64_t smp = 0; smp < S; smp++) {
        for (int64_t i = 0; i < LN * D; i++) l->eps[i] = vb_rng_normal(&l->rng);
        be->gauss_sample_forward(l->z, l->mu, l->lv, l->eps, LN * D);
        vb_mlp_forward(be, &m->reward_dec, l->P, l->cells, l->z, l->cache_dec, LN);
        be->fill(l->d_cells, 0.0f, LN * C);
        /* reconstruction over same-segment pairs (t, i); decoding the task,
         * the pairs only measure belief_future_loglik, on every
         * TASK_METRIC_STRIDE-th window of the first sample (the windows are
         * drawn independently, so the estimate stays unbiased) */
        for (int64_t w = 0; w < N; w++) {
            if (l->decode_task && (smp > 0 || w % TASK_METRIC_STRIDE != 0)) continue;
            for (int64_t t = 0; t < L; t++) {
                int64_t rt = t * N + w;
                const float *row = l->cells + rt * C;
                float *drow = l->d_cells + rt * C;
                for (int64_t i = 0; i < L; i++) {
                    int64_t ri = i * N + w;
                    if (l->seg[ri] != l->seg[rt]) continue;
                    double y = bern ? (l->rew[ri] == d->reward_levels[1] ? 1.0 : 0.0) : l->rew[ri], g;
                    double lp = cell_loglik(bern, row[l->cell[ri]], y, &g);
                    ll += lp;
                    if (i >= t) {
                        fll += lp;
                        future += smp == 0;
                    }
                    drow[l->cell[ri]] -= (float)(scale * g);
                }
            }
        }
        if (l->decode_task) { /* every cell of the task, once per step */
            const double ts = l->elbo_coef / (double)LN / (double)S;
            for (int64_t w = 0; w < N; w++)
                for (int64_t t = 0; t < L; t++) {
                    int64_t rt = t * N + w;
                    const float *y = l->batch[w] + cl->task_cells + t * C;
                    const float *row = l->cells + rt * C;
                    float *drow = l->d_cells + rt * C;
                    for (int64_t k = 0; k < C; k++) {
                        double g;
                        task_ll += cell_loglik(bern, row[k], y[k], &g);
                        drow[k] -= (float)(ts * g);
                    }
                }
        }
        be->fill(l->d_z, 0.0f, LN * D);
        vb_mlp_backward(be, &m->reward_dec, l->P, l->G, l->d_z, l->d_cells, l->z, l->cells, l->cache_dec, l->scratch,
                        LN);
        be->gauss_sample_backward(l->d_mu, l->d_lv, l->d_z, l->lv, l->eps, LN * D);
    }
    ll /= (double)S;
    if (!l->decode_task) fll /= (double)S;
    task_ll /= (double)S;
    /* KL(q_t || q_{t-1}) */
    be->gauss_kl_forward(l->kl, l->mu, l->lv, l->pmu, l->plv, LN, D);
    double kl = be->sum(l->kl, LN);
    /* VariBAD's relative weighting: per step t the reconstruction sums over the
     * task's transitions and the KL counts once. Both are divided by the
     * number of (t, i) pairs, which keeps gradients at per-transition scale. */
    const double norm = l->decode_task ? (double)LN : (double)(pairs > 0 ? pairs : 1);
    float wkl = (float)(l->elbo_coef * l->kl_beta / norm);
    float *wv = l->ent; /* per-row KL weights, reusing a free row buffer */
    be->fill(wv, wkl, LN);
    be->fill(l->d_pmu, 0.0f, LN * D);
    be->fill(l->d_plv, 0.0f, LN * D);
    be->gauss_kl_backward(l->d_mu, l->d_lv, l->d_pmu, l->d_plv, wv, l->mu, l->lv, l->pmu, l->plv, LN, D);
    for (int64_t r = 0; r < LN; r++) {
        be->axpy(l->d_phi + r * 2 * D, 1.0f, l->d_mu + r * D, D);
        be->axpy(l->d_phi + r * 2 * D + D, 1.0f, l->d_lv + r * D, D);
        if (l->prev_kind[r] == 2) { /* the previous posterior is in the graph too */
            be->axpy(l->d_phi + (r - N) * 2 * D, 1.0f, l->d_pmu + r * D, D);
            be->axpy(l->d_phi + (r - N) * 2 * D + D, 1.0f, l->d_plv + r * D, D);
        }
    }
    if (l->decode_task) {
        st->loss_recon = -task_ll / (double)(LN * C);
        st->elbo = (task_ll - l->kl_beta * kl) / (double)LN;
    } else {
        st->loss_recon = pairs ? -ll / (double)pairs : 0;
        st->elbo = (ll - l->kl_beta * kl) / (double)(pairs > 0 ? pairs : 1);
    }
    st->kl = kl / (double)LN;
    st->belief_future_loglik = future ? fll / (double)future : 0;
}

/* The decoded belief against the exact posterior, where the family has one in
 * closed form: the posterior predictive E_{m ~ q(m | phi_t)} sigmoid(decoder(m))
 * over 8 samples, per reward cell, for rows whose task started inside the
 * window (so the history is complete).
 *   bandit:    exact = Beta posterior mean of the arm
 *   gridworld: exact = P(goal = cell | history): one-hot on a found goal, else
 *              uniform over the candidate cells not yet visited
 * Mean absolute error over cells and rows, on every BELIEF_EVERY-th update
 * (it costs 8 decoder passes). Uses cells, d_cells, z, eps and
 * cache_dec as scratch. */
enum { BELIEF_SAMPLES = 8, BELIEF_MAX_CELLS = 4096, BELIEF_EVERY = 4 };
static bool grid_candidate(int64_t cell, int64_t g) {
    return vb_gridworld_is_candidate((int32_t)(cell % g), (int32_t)(cell / g));
}
static void belief_error(vb_learning *l, vb_update_stats *st) {
    const vb_model *m = l->m;
    const vb_backend *be = l->be;
    const int64_t N = l->N, L = l->L, LN = L * N, K = m->d.reward_cells, D = m->d.latent;
    const bool bandit = l->spec.family == VB_ENV_BANDIT;
    if (K > BELIEF_MAX_CELLS || (!bandit && l->spec.family != VB_ENV_GRIDWORLD)) return;
    float *pm = l->cells, *dec = l->d_cells;
    be->fill(pm, 0.0f, LN * K);
    for (int s = 0; s < BELIEF_SAMPLES; s++) {
        for (int64_t i = 0; i < LN * D; i++) l->eps[i] = vb_rng_normal(&l->rng);
        be->gauss_sample_forward(l->z, l->mu, l->lv, l->eps, LN * D);
        vb_mlp_forward(be, &m->reward_dec, l->P, dec, l->z, l->cache_dec, LN);
        for (int64_t i = 0; i < LN * K; i++) pm[i] += (float)(1.0 / (1.0 + exp(-(double)dec[i])) / BELIEF_SAMPLES);
    }
    static int32_t succ[BELIEF_MAX_CELLS], fail[BELIEF_MAX_CELLS];
    const int64_t g = l->spec.grid_size;
    double err = 0;
    int64_t rows = 0;
    for (int64_t w = 0; w < N; w++) {
        int64_t start = -1, found = -1, open = 0;
        for (int64_t t = 0; t < L; t++) {
            int64_t r = t * N + w;
            if (l->reset[r]) {
                start = t;
                found = -1;
                open = 0;
                for (int64_t k = 0; k < K; k++) {
                    succ[k] = fail[k] = 0;
                    if (!bandit && grid_candidate(k, g)) open++;
                }
            }
            if (start < 0) continue;
            for (int64_t k = 0; k < K; k++) {
                double exact;
                if (bandit) {
                    exact = (l->prior_alpha + succ[k]) / (l->prior_alpha + l->prior_beta + succ[k] + fail[k]);
                } else if (found >= 0) {
                    exact = k == found;
                } else {
                    bool cand = grid_candidate(k, g) && fail[k] == 0;
                    exact = cand && open > 0 ? 1.0 / (double)open : 0.0;
                }
                err += fabs(pm[r * K + k] - exact);
            }
            rows++;
            /* transition t is seen by the belief from step t + 1 on */
            int64_t c = l->cell[r];
            if (l->rew[r] == m->d.reward_levels[1]) {
                succ[c]++;
                found = c;
            } else {
                if (!bandit && fail[c] == 0 && grid_candidate(c, g)) open--;
                fail[c]++;
            }
        }
    }
    st->belief_mae = rows ? err / (double)(rows * K) : -1;
}

int vb_learning_update(vb_learning *l, vb_update_stats *st, char *err, size_t err_len) {
    const vb_backend *be = l->be;
    const vb_model *m = l->m;
    const vb_model_dims *d = &m->d;
    const int64_t N = l->N, L = l->L, T = l->T, LN = L * N, TN = T * N;
    memset(st, 0, sizeof *st);
    st->belief_mae = -1;
    vb_replay_sample(&l->replay, N, &l->rng, l->batch, NULL);
    assemble(l);
    st->carry_refreshed = -1;
    if (l->refresh) {
        for (int64_t w = 0; w < N; w++) l->idx[w] = (l->batch[w] - l->replay.data) / l->cl.floats;
        int64_t n = vb_refresh_batch(&l->rf, be, l->P, l->idx, l->batch, l->carry0, l->phi_prev0, &st->carry_drift);
        st->carry_refreshed = (double)n / (double)N;
    }
    for (int64_t epoch = 0; epoch < l->epochs; epoch++) {
        vb_encoder_forward(be, m, l->P, l->X, l->carry0, l->reset, l->o, l->phi, NULL, &l->ews, T, N);
        features(l);
        vb_mlp_forward(be, &m->value, l->P, l->values, l->feat, l->cache_val, TN);
        vb_mlp_forward(be, &m->policy, l->P, l->logits, l->feat, l->cache_pol, LN);
        be->fill(l->G, 0.0f, m->layout.total);
        be->fill(l->d_phi, 0.0f, TN * 2 * d->latent);
        bool rl = !(d->has_decoder && l->updates < l->warmup && l->algo != VB_ALGO_RL2);
        if (rl) {
            if (l->algo == VB_ALGO_VARIBASED) planner_loss(l, st);
            else ppo_loss(l, st, epoch == 0);
            be->fill(l->d_feat, 0.0f, TN * d->feat);
            vb_mlp_backward(be, &m->policy, l->P, l->G, l->d_feat, l->d_logits, l->feat, l->logits, l->cache_pol,
                            l->scratch, LN);
            vb_mlp_backward(be, &m->value, l->P, l->G, l->d_feat, l->d_values, l->feat, l->values, l->cache_val,
                            l->scratch, TN);
        }
        const float *d_o = NULL;
        if (rl && !d->belief_features) {
            for (int64_t r = 0; r < TN; r++)
                be->copy(l->d_o + r * d->hidden, l->d_feat + r * d->feat + d->obs + 1, d->hidden);
            d_o = l->d_o;
        } else if (rl && l->rl_to_encoder) {
            for (int64_t r = 0; r < TN; r++)
                be->axpy(l->d_phi + r * 2 * d->latent, 1.0f, l->d_feat + r * d->feat + d->obs + 1, 2 * d->latent);
            if (d->policy_hidden) { /* the o part of (s, tau, mu, logvar, o) */
                for (int64_t r = 0; r < TN; r++)
                    be->copy(l->d_o + r * d->hidden, l->d_feat + r * d->feat + d->obs + 1 + 2 * d->latent, d->hidden);
                d_o = l->d_o;
            }
        }
        if (d->has_decoder) elbo_loss(l, st);
        if (d->has_decoder && epoch == l->epochs - 1 && l->updates % BELIEF_EVERY == 0) belief_error(l, st);
        if (d_o || d->has_decoder || l->rl_to_encoder)
            vb_encoder_backward(be, m, l->P, l->G, l->X, l->carry0, l->reset, l->o, d_o, l->d_phi, &l->ews, T, N);
        double total = st->loss_policy + st->loss_value + st->loss_recon + st->kl;
        if (!isfinite(total) || !isfinite(be->sumsq(l->G, m->layout.total))) {
            snprintf(err, err_len, "non-finite loss or gradient at update %lld; update skipped", (long long)l->updates);
            return -1;
        }
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
void vb_learning_set_version(vb_learning *l, uint64_t v) {
    l->version = v;
    l->updates = (int64_t)v;
}
int64_t vb_learning_dropped(const vb_learning *l) { return l->dropped; }
