/* belief_sim — see belief_sim.h. */
#include "belief_sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/carve.h"
#include "../nn/softmax_cells.h"
#include "kernels/math/dexp.h"
#include "kernels/simd_clones.h"

#define LOG_2PI 1.8378770664093453

struct vb_belief_sim {
    const vb_backend *be;
    const vb_model *m;
    vb_env_spec spec;
    int dynamics;
    int64_t KO, maxR, maxN;
    const float *P;                 /* bound by vb_belief_sim_bind */
    const vb_planner_root *root;
    int64_t steps;                  /* steps since start (the first one's weights are kept) */
    vb_encoder_step_ws ws;
    float *start_obs;               /* (obs) */
    /* row state (maxR rows; carry, phi and phi_prev 2 maxR, where both outcomes
     * go through the encoder in place). A step rotates buffers, not rows:
     * s, last_s and s_in take turns, and so do s_next and last_next, and phi
     * and phi_prev */
    float *s, *carry, *phi, *phi_prev, *last_s, *last_next, *last_r;
    int32_t *last_a;
    uint8_t *has_last;
    int64_t *t_ep, *ep;
    /* step scratch: maxR rows, or 2 maxR where both outcomes go through the encoder */
    float *s_next, *s_in, *r_cont, *r_other;
    uint8_t *done;
    int32_t *jstar;
    float *x, *o, *feat, *feat_ws, *values, *logits, *work_pol, *work_val; /* work: vb_mlp_infer */
    /* nested (maxN rows) */
    float *eps, *mz, *zin, *cells, *work_dec, *logq_cur, *logq_prev, *logw_n, *root_w;
    float *sd;                      /* (latent): a row's e^{lv/2} */
    double *iv, *neg_lv;            /* (maxR, 2 latent): each row's e^{-lv} (and -lv) under the current and the previous belief */
    double *dv, *dy, *dl;           /* (maxN): per nested sample, arguments and results of the vectorised passes */
    float *state_in, *state_out, *work_state;
    /* the heads' and decoders' weights packed for vb_mlp_infer (vb_belief_sim_prepare) */
    float *pack_val, *pack_pol, *pack_dec, *pack_state;
    void *gather;                   /* (maxR, widest row) */
    void *block;
};

static void carve(vb_belief_sim *s, vb_carver *c) {
    const vb_model *m = s->m;
    const vb_model_dims *d = &m->d;
    const int64_t R = s->maxR, R2 = 2 * s->maxR, N = s->maxN, O = d->obs, L2 = 2 * d->latent, D = d->latent;
    const size_t f = sizeof(float);
    s->start_obs = vb_carve(c, O, f);
    s->s = vb_carve(c, R * O, f);
    s->carry = vb_carve(c, R2 * d->carry, f);
    s->phi = vb_carve(c, R2 * L2, f);
    s->phi_prev = vb_carve(c, R2 * L2, f);
    s->last_s = vb_carve(c, R * O, f);
    s->last_next = vb_carve(c, R * O, f);
    s->last_r = vb_carve(c, R, f);
    s->last_a = vb_carve(c, R, sizeof(int32_t));
    s->has_last = vb_carve(c, R, 1);
    s->t_ep = vb_carve(c, R, sizeof(int64_t));
    s->ep = vb_carve(c, R, sizeof(int64_t));
    s->s_next = vb_carve(c, R * O, f);
    s->s_in = vb_carve(c, R * O, f);
    s->r_cont = vb_carve(c, R, f);
    s->r_other = vb_carve(c, R, f);
    s->done = vb_carve(c, R, 1);
    s->jstar = vb_carve(c, R, sizeof(int32_t));
    s->x = vb_carve(c, R2 * d->in, f);
    s->o = vb_carve(c, R2 * d->hidden, f);
    s->feat = vb_carve(c, R2 * d->feat, f);
    s->feat_ws = vb_carve(c, vb_model_features_ws_floats(m, R2), f);
    s->values = vb_carve(c, R2, f);
    s->logits = vb_carve(c, R * d->actions, f);
    s->work_pol = vb_carve(c, vb_mlp_infer_floats(s->be, &m->policy, R), f);
    s->work_val = vb_carve(c, vb_mlp_infer_floats(s->be, &m->value, R2), f);
    s->sd = vb_carve(c, D, f);
    s->iv = vb_carve(c, R * 2 * D, sizeof(double));
    s->neg_lv = vb_carve(c, R * 2 * D, sizeof(double));
    s->dv = vb_carve(c, N, sizeof(double));
    s->dy = vb_carve(c, N, sizeof(double));
    s->dl = vb_carve(c, N, sizeof(double));
    s->eps = vb_carve(c, N * D, f);
    s->mz = vb_carve(c, N * D, f);
    s->zin = d->dec_obs ? vb_carve(c, N * (D + d->dec_obs), f) : NULL;
    s->cells = vb_carve(c, N * d->reward_cells, f);
    s->work_dec = vb_carve(c, vb_mlp_infer_floats(s->be, &m->reward_dec, N), f);
    s->logq_cur = vb_carve(c, N, f);
    s->logq_prev = vb_carve(c, N, f);
    s->logw_n = vb_carve(c, N, f);
    s->root_w = vb_carve(c, N, f);
    if (d->has_state_head) {
        s->state_in = vb_carve(c, N * (O + d->actions + D), f);
        s->state_out = vb_carve(c, N * d->state_out, f);
        s->work_state = vb_carve(c, vb_mlp_infer_floats(s->be, &m->state_dec, N), f);
    }
    s->pack_val = vb_carve(c, vb_mlp_packed_floats(&m->value), f);
    s->pack_pol = vb_carve(c, vb_mlp_packed_floats(&m->policy), f);
    s->pack_dec = vb_carve(c, vb_mlp_packed_floats(&m->reward_dec), f);
    if (d->has_state_head) s->pack_state = vb_carve(c, vb_mlp_packed_floats(&m->state_dec), f);
    int64_t widest = O > d->carry ? O : d->carry;
    if (L2 > widest) widest = L2;
    s->gather = vb_carve(c, R * widest, sizeof(int64_t));
}

int vb_belief_sim_create(vb_belief_sim **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                         int dynamics, int64_t nested, int64_t max_rows, char *err, size_t err_len) {
    *out = NULL;
    const vb_model_dims *d = &m->d;
    if (!d->has_decoder) return snprintf(err, err_len, "the planner needs a model with a decoder"), -1;
    dynamics = vb_env_resolve_dynamics(spec, dynamics);
    if (dynamics == VB_DYN_ENV && !spec->task_independent_transitions)
        return snprintf(err, err_len, "planner.dynamics: env needs task-independent transitions, which %s lacks",
                        spec->name), -1;
    if (dynamics == VB_DYN_LEARNED && !d->has_state_head)
        return snprintf(err, err_len, "planner.dynamics: learned needs a model built for it (a varibased model "
                        "with the trained state head)"), -1;
    vb_belief_sim *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), -1;
    s->be = be;
    s->m = m;
    s->spec = *spec;
    s->dynamics = dynamics;
    s->KO = nested;
    s->maxR = max_rows;
    s->maxN = max_rows * nested;
    vb_carver c = {NULL, 0};
    carve(s, &c);
    s->block = calloc(1, c.off);
    if (!s->block || vb_encoder_step_ws_init(&s->ws, m, 2 * max_rows) != 0) {
        vb_belief_sim_destroy(s);
        return snprintf(err, err_len, "out of memory for the planner (%lld particles x %lld nested)",
                        (long long)max_rows, (long long)nested), -1;
    }
    c = (vb_carver){s->block, 0};
    carve(s, &c);
    vb_env_episode_start_obs(spec, s->start_obs);
    *out = s;
    return 0;
}

void vb_belief_sim_destroy(vb_belief_sim *s) {
    if (!s) return;
    vb_encoder_step_ws_free(&s->ws);
    free(s->block);
    free(s);
}

void vb_belief_sim_prepare(vb_belief_sim *s, const float *P) {
    const vb_model *m = s->m;
    vb_encoder_step_prepare(s->be, m, P, &s->ws);
    vb_mlp_pack(s->be, &m->value, P, s->pack_val);
    vb_mlp_pack(s->be, &m->policy, P, s->pack_pol);
    vb_mlp_pack(s->be, &m->reward_dec, P, s->pack_dec);
    if (m->d.has_state_head) vb_mlp_pack(s->be, &m->state_dec, P, s->pack_state);
}

const float *vb_belief_sim_root_weights(const vb_belief_sim *s) { return s->root_w; }
const float *vb_belief_sim_latents(const vb_belief_sim *s) { return s->mz; }

/* Value of N rows with encoder inputs x and beliefs phi / outputs o; with
 * probs, the policy prior of the first P rows too. */
static void heads(vb_belief_sim *s, const float *x, const float *phi, const float *o, int64_t N, float *values,
                  int64_t P, float *probs) {
    const vb_model *m = s->m;
    vb_model_features(s->be, m, s->P, s->feat, x, o, phi, s->feat_ws, N);
    vb_mlp_infer(s->be, &m->value, s->P, s->pack_val, values, s->feat, s->work_val, N);
    if (probs && P > 0) {
        vb_mlp_infer(s->be, &m->policy, s->P, s->pack_pol, s->logits, s->feat, s->work_pol, P);
        s->be->softmax(probs, s->logits, P, m->d.actions);
    }
}

static void sim_root(void *ctx, int64_t B, float *probs, float *values) {
    vb_belief_sim *s = ctx;
    const vb_model *m = s->m;
    const vb_model_dims *d = &m->d;
    const vb_planner_root *r = s->root;
    const int64_t EL = s->spec.episode_length;
    /* the heads read s and tau of x, and with model.policy_cells the decoder's
     * input (r_{t-1} too with model.decoder_reward) */
    for (int64_t b = 0; b < B; b++)
        vb_model_input(m, s->x + b * d->in, r->obs + b * d->obs, r->last_action[b], r->last_reward[b], 0.0f,
                       r->episode[b] * EL + r->t_ep[b]);
    heads(s, s->x, r->phi, r->o, B, values, B, probs);
}

static void sim_start(void *ctx, int64_t B, int64_t K) {
    vb_belief_sim *s = ctx;
    const vb_model_dims *d = &s->m->d;
    const vb_planner_root *root = s->root;
    const int64_t O = d->obs, C = d->carry, L2 = 2 * d->latent;
    const size_t f = sizeof(float);
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < K; k++) {
            int64_t r = b * K + k;
            memcpy(s->s + r * O, root->obs + b * O, f * (size_t)O);
            memcpy(s->carry + r * C, root->carry + b * C, f * (size_t)C);
            memcpy(s->phi + r * L2, root->phi + b * L2, f * (size_t)L2);
            memcpy(s->phi_prev + r * L2, root->phi_prev + b * L2, f * (size_t)L2);
            memcpy(s->last_s + r * O, root->last_obs + b * O, f * (size_t)O);
            memcpy(s->last_next + r * O, root->last_next_obs + b * O, f * (size_t)O);
            s->last_a[r] = root->last_action[b] < 0 ? 0 : root->last_action[b];
            s->has_last[r] = root->last_action[b] >= 0;
            s->last_r[r] = root->last_action[b] < 0 ? 0.0f : root->last_reward[b];
            s->t_ep[r] = root->t_ep[b];
            s->ep[r] = root->episode[b];
        }
    s->steps = 0;
}

/* log p(x | m) of a transition's reward under the decoder outputs of one nested row. */
static double reward_loglik(const vb_belief_sim *s, const float *cells_row, int64_t cell, float reward) {
    const vb_model_dims *d = &s->m->d;
    double v = cells_row[cell];
    if (d->reward_kind == VB_REWARD_BERNOULLI) {
        double y = reward == d->reward_levels[1] ? 1.0 : 0.0;
        double sp = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
        return y * v - sp;
    }
    double e = (double)reward - v;
    return -0.5 * (e * e + LOG_2PI);
}

/* out[i] = e^{x[i]}: libm's exp to within an ulp, a vector at a time */
VB_SIMD_CLONES static void exp_all(double *restrict out, const double *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = vb_vexp(x[i]);
}

/* out[i] = y[i] v[i] - log(1 + e^{v[i]}): reward_loglik of a binary reward at
 * log-odds v, a vector at a time */
VB_SIMD_CLONES static void bernoulli_loglik_all(double *restrict out, const double *restrict v,
                                                const double *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = y[i] * v[i] - vb_vsoftplus(v[i]);
}

/* log p(next | m) under one nested row's state head outputs: the categorical
 * over the env's state cells, or unit-variance Gaussians per feature. */
static double state_loglik(const vb_belief_sim *s, const float *out, const float *next) {
    const vb_model_dims *d = &s->m->d;
    if (d->state_cells > 0)
        return (double)out[vb_env_state_cell(&s->spec, next)] - vb_softmax_lse(out, d->state_cells);
    double l = 0;
    for (int64_t i = 0; i < d->obs; i++) {
        double e = (double)next[i] - out[i];
        l += -0.5 * (e * e + LOG_2PI);
    }
    return l;
}

/* The successor under one nested row's state head outputs: a cell drawn from
 * the categorical, or the Gaussian means. */
static void state_successor(const vb_belief_sim *s, const float *out, vb_rng *rng, float *next) {
    const vb_model_dims *d = &s->m->d;
    if (d->state_cells <= 0) {
        memcpy(next, out, sizeof(float) * (size_t)d->obs);
        return;
    }
    vb_env_cell_obs(&s->spec, vb_softmax_draw(out, d->state_cells, vb_rng_uniform_double(rng)), next);
}

/* The state head's input rows (s, onehot a, m) of every nested sample of row k. */
static void state_rows(vb_belief_sim *s, int64_t R, const float *obs, const int32_t *a, const uint8_t *has) {
    const vb_model_dims *d = &s->m->d;
    const int64_t O = d->obs, A = d->actions, D = d->latent, W = O + A + D;
    for (int64_t n = 0; n < R * s->KO; n++) {
        int64_t k = n / s->KO;
        float *row = s->state_in + n * W;
        memcpy(row, obs + k * O, sizeof(float) * (size_t)O);
        memset(row + O, 0, sizeof(float) * (size_t)A);
        if (!has || has[k]) row[O + a[k]] = 1.0f;
        memcpy(row + O + A, s->mz + n * D, sizeof(float) * (size_t)D);
    }
}

/* The K_Omega nested samples of each of R rows, z = mu + e^{lv/2} eps, and
 * their log-densities under the current and the previous belief: what
 * gauss_sample_forward and gauss_logprob_forward compute on each row
 * repeated K_Omega times (the same expressions; e^{-lv} by vb_vexp, within
 * an ulp of libm's exp), with a row's exponentials taken once, all rows' in
 * one vectorised pass, and no repeated rows written. */
static void nested_samples(vb_belief_sim *s, int64_t R) {
    const int64_t KO = s->KO, D = s->m->d.latent;
    for (int64_t k = 0; k < R; k++)
        for (int64_t i = 0; i < D; i++) {
            s->neg_lv[k * 2 * D + i] = -(double)s->phi[k * 2 * D + D + i];
            s->neg_lv[k * 2 * D + D + i] = -(double)s->phi_prev[k * 2 * D + D + i];
        }
    exp_all(s->iv, s->neg_lv, R * 2 * D);
    for (int64_t k = 0; k < R; k++) {
        const float *mu = s->phi + k * 2 * D, *lv = mu + D, *pmu = s->phi_prev + k * 2 * D, *plv = pmu + D;
        const double *iv_cur = s->iv + k * 2 * D, *iv_prev = iv_cur + D;
        for (int64_t i = 0; i < D; i++) s->sd[i] = expf(0.5f * lv[i]);
        for (int64_t n = k * KO; n < (k + 1) * KO; n++) {
            float *z = s->mz + n * D;
            const float *eps = s->eps + n * D;
            double cur = 0, prev = 0;
            for (int64_t i = 0; i < D; i++) {
                z[i] = mu[i] + s->sd[i] * eps[i];
                double e = (double)z[i] - mu[i], ep = (double)z[i] - pmu[i];
                cur += -0.5 * (LOG_2PI + lv[i] + e * e * iv_cur[i]);
                prev += -0.5 * (LOG_2PI + plv[i] + ep * ep * iv_prev[i]);
            }
            s->logq_cur[n] = (float)cur;
            s->logq_prev[n] = (float)prev;
        }
    }
}

/* Steps 1-2: nested samples, their decoder outputs, and the normalised
 * correction weights (uniform when nothing was observed or all are -inf). */
static void nested(vb_belief_sim *s, int64_t R, int64_t K, vb_rng *rng) {
    const vb_backend *be = s->be;
    const vb_model *m = s->m;
    const vb_model_dims *d = &m->d;
    const int64_t KO = s->KO, N = R * KO, D = d->latent, C = d->reward_cells, O = d->obs;
    /* each env's K x K_Omega x D noise from its own stream, rows in order */
    for (int64_t b = 0; b < R / K; b++) vb_rng_normal_fill(&rng[b], s->eps + b * K * KO * D, K * KO * D);
    nested_samples(s, R);
    /* model.decoder_obs: each sample decodes from its row's current state s,
     * as the ELBO's row t from (m_t, s_t): the same cells weigh the last
     * transition's reward (the one into s) and predict the next one's; with
     * model.decoder_reward they read that reward too (0 at a task start) */
    const float *in = vb_model_reward_input(be, m, s->zin, s->mz, D, s->s, O, s->last_r, 1, KO, N);
    vb_mlp_infer(be, &m->reward_dec, s->P, s->pack_dec, s->cells, in, s->work_dec, N);
    vb_model_reward_logodds(d, s->cells, N);
    const bool learned = s->dynamics == VB_DYN_LEARNED;
    if (learned) { /* the state head's likelihood of the last successor */
        state_rows(s, R, s->last_s, s->last_a, s->has_last);
        vb_mlp_infer(be, &m->state_dec, s->P, s->pack_state, s->state_out, s->state_in, s->work_state, N);
    }
    /* the last reward's log-likelihood under each sample: binary rewards in
     * one vectorised pass over the samples' log-odds of its cell */
    const bool bernoulli = d->reward_kind == VB_REWARD_BERNOULLI;
    for (int64_t k = 0; k < R; k++) {
        int64_t cell = s->has_last[k] ? vb_env_reward_cell(&s->spec, s->last_s + k * O, s->last_a[k],
                                                           s->last_next + k * O) : 0;
        for (int64_t n = k * KO; n < (k + 1) * KO; n++) {
            if (bernoulli) {
                s->dv[n] = s->cells[n * C + cell];
                s->dy[n] = s->last_r[k] == d->reward_levels[1] ? 1.0 : 0.0;
            } else s->dl[n] = reward_loglik(s, s->cells + n * C, cell, s->last_r[k]);
        }
    }
    if (bernoulli) bernoulli_loglik_all(s->dl, s->dv, s->dy, N);
    /* the weights' logs, and their exponentials less each row's largest */
    for (int64_t k = 0; k < R; k++) {
        float *lw = s->logw_n + k * KO;
        double mx = -INFINITY;
        for (int64_t j = 0; j < KO; j++) {
            int64_t n = k * KO + j;
            double l = 0;
            if (s->has_last[k]) {
                l = s->dl[n];
                if (learned) l += state_loglik(s, s->state_out + n * d->state_out, s->last_next + k * O);
                l += (double)s->logq_prev[n] - s->logq_cur[n];
            }
            lw[j] = isfinite(l) ? (float)l : -INFINITY;
            mx = fmax(mx, lw[j]);
        }
        for (int64_t j = 0; j < KO; j++) s->dv[k * KO + j] = isfinite(mx) ? (double)lw[j] - mx : 0.0;
    }
    exp_all(s->dl, s->dv, N);
    for (int64_t k = 0; k < R; k++) {
        float *lw = s->logw_n + k * KO;
        double sum = 0;
        for (int64_t j = 0; j < KO; j++) sum += (lw[j] = (float)s->dl[k * KO + j]);
        for (int64_t j = 0; j < KO; j++) lw[j] = sum > 0 ? (float)(lw[j] / sum) : 1.0f / (float)KO;
        s->jstar[k] = vb_rng_categorical(&rng[k / K], lw, (int)KO);
    }
    if (s->steps == 0) memcpy(s->root_w, s->logw_n, sizeof(float) * (size_t)N);
}

/* Step 3: successors, and the reward's predictive mean and outcomes. */
static void outcomes(vb_belief_sim *s, const int32_t *a, int64_t R, int64_t K, vb_rng *rng, bool expect,
                     vb_sim_step *out) {
    const vb_model *m = s->m;
    const vb_model_dims *d = &m->d;
    const int64_t KO = s->KO, C = d->reward_cells, O = d->obs, W = O + d->actions + d->latent;
    const bool learned = s->dynamics == VB_DYN_LEARNED;
    if (learned) { /* the successor's mean under the chosen sample */
        for (int64_t k = 0; k < R; k++) {
            float *row = s->state_in + (k * KO + s->jstar[k]) * W;
            memcpy(row, s->s + k * O, sizeof(float) * (size_t)O);
            memset(row + O, 0, sizeof(float) * (size_t)d->actions);
            row[O + a[k]] = 1.0f;
        }
        vb_mlp_infer(s->be, &m->state_dec, s->P, s->pack_state, s->state_out, s->state_in, s->work_state, R * KO);
    }
    const int64_t SO = d->state_out;
    const float lo = d->reward_levels[0], hi = d->reward_levels[1];
    const bool bernoulli = d->reward_kind == VB_REWARD_BERNOULLI;
    /* the successors, and each sample's output at the transition's reward
     * cell: for binary rewards e^{-log-odds}, in one vectorised pass */
    for (int64_t k = 0; k < R; k++) {
        if (learned)
            state_successor(s, s->state_out + (k * KO + s->jstar[k]) * SO, &rng[k / K], s->s_next + k * O);
        else vb_env_transition(&s->spec, s->s + k * O, a[k], s->s_next + k * O);
        int64_t cell = vb_env_reward_cell(&s->spec, s->s + k * O, a[k], s->s_next + k * O);
        for (int64_t n = k * KO; n < (k + 1) * KO; n++)
            s->dv[n] = bernoulli ? -(double)s->cells[n * C + cell] : s->cells[n * C + cell];
    }
    if (bernoulli) exp_all(s->dl, s->dv, R * KO);
    for (int64_t k = 0; k < R; k++) {
        const float *lw = s->logw_n + k * KO;
        const double *at = (bernoulli ? s->dl : s->dv) + k * KO;
        double mean = 0;
        if (bernoulli) {
            for (int64_t j = 0; j < KO; j++) mean += lw[j] / (1.0 + at[j]);
            bool up = expect ? mean > 0.5 : vb_rng_uniform_double(&rng[k / K]) < mean;
            out->p_cont[k] = expect ? (float)(up ? mean : 1.0 - mean) : 1.0f;
            out->r_mean[k] = (float)(mean * hi + (1.0 - mean) * lo);
            s->r_cont[k] = up ? hi : lo;
            s->r_other[k] = up ? lo : hi;
        } else {
            for (int64_t j = 0; j < KO; j++) mean += lw[j] * (float)at[j];
            out->p_cont[k] = 1.0f;
            out->r_mean[k] = (float)mean;
            s->r_cont[k] = (float)at[s->jstar[k]];
        }
    }
}

static void sim_step(void *ctx, const int32_t *a, const uint8_t *alive, int64_t R, int64_t K, vb_rng *rng,
                     bool expect, bool want_probs, vb_sim_step *out) {
    vb_belief_sim *s = ctx;
    const vb_model *m = s->m;
    const vb_model_dims *d = &m->d;
    const int64_t O = d->obs, EL = s->spec.episode_length,
                  EP = s->spec.episodes_per_task;
    (void)alive; /* every row is stepped: the batch is one GEMM either way */
    const bool both = expect && d->reward_kind == VB_REWARD_BERNOULLI;
    const int64_t NR = both ? 2 * R : R;
    nested(s, R, K, rng);
    outcomes(s, a, R, K, rng, both, out);
    /* the clock, episode starts in imagination, and the encoder's inputs */
    for (int64_t k = 0; k < R; k++) {
        int64_t clock = s->ep[k] * EL + s->t_ep[k] + 1;
        s->done[k] = s->t_ep[k] + 1 >= EL;
        out->term[k] = s->done[k] && s->ep[k] + 1 >= EP;
        const float *next_in = s->done[k] && !out->term[k] ? s->start_obs : s->s_next + k * O;
        for (int64_t i = 0; i < O; i++) s->s_in[k * O + i] = next_in[i];
        vb_model_input(m, s->x + k * d->in, next_in, a[k], s->r_cont[k], s->done[k], clock);
        if (both) vb_model_input(m, s->x + (R + k) * d->in, next_in, a[k], s->r_other[k], s->done[k], clock);
    }
    /* the encoder steps the carries in place (with both outcomes, rows R..
     * take the other outcome's, stepped from the same carries); phi_k
     * becomes the previous belief, and phi_{k+1} is written over the one
     * before it */
    float *t = s->phi_prev;
    s->phi_prev = s->phi;
    s->phi = t;
    if (both) vb_encoder_step_shared(s->be, m, s->P, s->carry, s->x, s->o, s->phi, &s->ws, R);
    else vb_encoder_step(s->be, m, s->P, s->carry, s->x, s->o, s->phi, &s->ws, R);
    heads(s, s->x, s->phi, s->o, NR, s->values, want_probs ? R : 0, want_probs ? out->probs : NULL);
    memcpy(out->v_cont, s->values, sizeof(float) * (size_t)R);
    if (both) memcpy(out->v_other, s->values + R, sizeof(float) * (size_t)R);
    /* the simulated transition is the next correction's evidence: s becomes
     * last_s, s_next last_next, and s_in (the encoder's input) s */
    t = s->last_s;
    s->last_s = s->s;
    s->s = s->s_in;
    s->s_in = t;
    t = s->last_next;
    s->last_next = s->s_next;
    s->s_next = t;
    for (int64_t k = 0; k < R; k++) {
        s->last_a[k] = a[k];
        s->last_r[k] = s->r_cont[k];
        s->has_last[k] = 1;
        s->t_ep[k] = s->done[k] ? 0 : s->t_ep[k] + 1;
        if (s->done[k]) s->ep[k]++;
    }
    s->steps++;
}

/* Rows of width w (elem bytes each) of R rows by idx; rows of one element
 * are copied as such, not through a memcpy call each. */
static void gather_rows(vb_belief_sim *s, const int32_t *idx, void *data, size_t elem, int64_t w, int64_t R) {
    char *g = s->gather, *d = data;
    size_t row = elem * (size_t)w;
    if (row == 8)
        for (int64_t i = 0; i < R; i++) ((uint64_t *)g)[i] = ((const uint64_t *)d)[idx[i]];
    else if (row == 4)
        for (int64_t i = 0; i < R; i++) ((uint32_t *)g)[i] = ((const uint32_t *)d)[idx[i]];
    else if (row == 1)
        for (int64_t i = 0; i < R; i++) g[i] = d[idx[i]];
    else
        for (int64_t i = 0; i < R; i++) memcpy(g + (size_t)i * row, d + (size_t)idx[i] * row, row);
    memcpy(d, g, row * (size_t)R);
}

static void sim_gather(void *ctx, const int32_t *idx, int64_t R) {
    vb_belief_sim *s = ctx;
    const vb_model_dims *d = &s->m->d;
    const int64_t O = d->obs, L2 = 2 * d->latent;
    gather_rows(s, idx, s->s, sizeof(float), O, R);
    gather_rows(s, idx, s->carry, sizeof(float), d->carry, R);
    gather_rows(s, idx, s->phi, sizeof(float), L2, R);
    gather_rows(s, idx, s->phi_prev, sizeof(float), L2, R);
    gather_rows(s, idx, s->last_s, sizeof(float), O, R);
    gather_rows(s, idx, s->last_next, sizeof(float), O, R);
    gather_rows(s, idx, s->last_r, sizeof(float), 1, R);
    gather_rows(s, idx, s->last_a, sizeof(int32_t), 1, R);
    gather_rows(s, idx, s->has_last, 1, 1, R);
    gather_rows(s, idx, s->t_ep, sizeof(int64_t), 1, R);
    gather_rows(s, idx, s->ep, sizeof(int64_t), 1, R);
}

static const vb_sim_ops belief_ops = {sim_root, sim_start, sim_step, sim_gather};

vb_plan_sim vb_belief_sim_bind(vb_belief_sim *s, const float *P, const vb_planner_root *root) {
    s->P = P;
    s->root = root;
    return (vb_plan_sim){&belief_ops, s, s->m->d.actions, s->m->d.reward_kind == VB_REWARD_BERNOULLI};
}
