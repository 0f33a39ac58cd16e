/* planner — see planner.h. */
#include "planner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453

struct vb_planner {
    const vb_backend *be;
    const vb_model *m;
    vb_env_spec spec;
    vb_planner_cfg cfg;
    int64_t maxB, maxR, maxN; /* envs, particle rows, nested rows */
    vb_encoder_step_ws ws;
    float *start_obs;         /* (obs) */
    /* particle state (maxR rows) */
    float *s, *carry, *phi, *phi_prev, *last_s, *last_next, *last_r, *logw, *G, *Gb, *disc, *v_cur;
    float *cum;               /* twist log-weight of the particle's ancestry before its last resampling */
    int32_t *a, *A, *last_a;
    uint8_t *alive, *has_last;
    int64_t *t_ep, *ep;
    /* per-step scratch (maxR rows) */
    float *s_next, *s_in, *r, *r_mean, *x, *o, *feat, *feat_ws, *logits, *probs, *values, *cache_pol, *cache_val, *u;
    uint8_t *term, *done;
    int32_t *jstar, *cell_new;
    /* nested (maxN rows) */
    float *mu_n, *lv_n, *pmu_n, *plv_n, *eps, *mz, *cells, *cache_dec, *logq_cur, *logq_prev, *logw_n, *tmp_n;
    float *state_in, *state_out, *cache_state;
    /* readout (maxB rows) */
    double *qsum, *qw, *qhat;  /* (maxB, A) */
    float *root_x, *root_feat, *root_logits, *root_probs, *root_v, *root_cache_pol, *root_cache_val;
    /* resampling */
    double *wbuf, *abuf;      /* (maxR), (A) */
    float *prop;              /* (A) root proposal */
    int32_t *idx, *ix;        /* (maxR), (K) */
    float *gather;
    float *root_w;            /* (maxN) depth-0 nested weights */
};

vb_planner_cfg vb_planner_cfg_from(const vb_config *cfg, bool explore) {
    vb_planner_cfg c = {
        .K = cfg->planner.particles,
        .D = cfg->planner.depth,
        .KO = cfg->planner.nested,
        .period = cfg->planner.resample_period,
        .ess_threshold = cfg->planner.ess_threshold,
        .eta = cfg->planner.temperature,
        .gamma = cfg->env.gamma,
        .dynamics = cfg->planner.dynamics,
        .target = cfg->planner.target,
        .backup_weights = cfg->planner.backup_weights,
        .root_actions = cfg->planner.root_actions,
        .dir_alpha = cfg->planner.dirichlet_alpha,
        .dir_weight = explore ? cfg->planner.dirichlet_weight : 0.0,
    };
    if (!explore) {
        if (cfg->eval.particles > 0) c.K = cfg->eval.particles;
        if (cfg->eval.root_actions > 0) c.root_actions = cfg->eval.root_actions - 1;
        if (cfg->eval.backup_weights > 0) c.backup_weights = cfg->eval.backup_weights - 1;
        c.greedy_margin = cfg->eval.greedy_margin;
    }
    return c;
}

static void *zalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

int vb_planner_create(vb_planner **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                      const vb_planner_cfg *cfg, int64_t max_B, char *err, size_t err_len) {
    *out = NULL;
    const vb_model_dims *d = &m->d;
    if (!d->has_decoder) return snprintf(err, err_len, "the planner needs a model with a decoder"), -1;
    if (cfg->dynamics == VB_DYN_ENV && !spec->task_independent_transitions)
        return snprintf(err, err_len, "planner.dynamics: env needs task-independent transitions, which %s lacks",
                        spec->name), -1;
    if (cfg->root_actions == VB_ROOT_ALL && cfg->target != VB_TARGET_BACKUP)
        return snprintf(err, err_len, "planner.root_actions: all needs planner.target: backup (the weights readout "
                        "counts first actions, which would then be uniform by construction)"), -1;
    if (cfg->dynamics == VB_DYN_LEARNED && !d->has_state_head)
        return snprintf(err, err_len, "planner.dynamics: learned needs the model's state head"), -1;
    vb_planner *p = zalloc(1, sizeof *p);
    if (!p) return snprintf(err, err_len, "out of memory"), -1;
    p->be = be;
    p->m = m;
    p->spec = *spec;
    p->cfg = *cfg;
    const int64_t B = max_B, R = B * cfg->K, N = R * cfg->KO, O = d->obs, C = d->carry, L2 = 2 * d->latent,
                  A = d->actions, D = d->latent;
    p->maxB = B;
    p->maxR = R;
    p->maxN = N;
    size_t f = sizeof(float);
    p->start_obs = zalloc((size_t)O, f);
    p->s = zalloc((size_t)(R * O), f);
    p->carry = zalloc((size_t)(R * C), f);
    p->phi = zalloc((size_t)(R * L2), f);
    p->phi_prev = zalloc((size_t)(R * L2), f);
    p->last_s = zalloc((size_t)(R * O), f);
    p->last_next = zalloc((size_t)(R * O), f);
    p->last_r = zalloc((size_t)R, f);
    p->logw = zalloc((size_t)R, f);
    p->G = zalloc((size_t)R, f);
    p->Gb = zalloc((size_t)R, f);
    p->disc = zalloc((size_t)R, f);
    p->v_cur = zalloc((size_t)R, f);
    p->cum = zalloc((size_t)R, f);
    p->a = zalloc((size_t)R, sizeof(int32_t));
    p->A = zalloc((size_t)R, sizeof(int32_t));
    p->last_a = zalloc((size_t)R, sizeof(int32_t));
    p->alive = zalloc((size_t)R, 1);
    p->has_last = zalloc((size_t)R, 1);
    p->t_ep = zalloc((size_t)R, sizeof(int64_t));
    p->ep = zalloc((size_t)R, sizeof(int64_t));
    p->s_next = zalloc((size_t)(R * O), f);
    p->s_in = zalloc((size_t)(R * O), f);
    p->r = zalloc((size_t)R, f);
    p->r_mean = zalloc((size_t)R, f);
    p->x = zalloc((size_t)(R * d->in), f);
    p->o = zalloc((size_t)(R * d->hidden), f);
    p->feat = zalloc((size_t)(R * d->feat), f);
    p->feat_ws = zalloc((size_t)vb_model_features_ws_floats(m, R), f); /* R >= B: the root rows too */
    p->logits = zalloc((size_t)(R * A), f);
    p->probs = zalloc((size_t)(R * A), f);
    p->values = zalloc((size_t)R, f);
    p->cache_pol = zalloc((size_t)vb_mlp_cache_floats(&m->policy, R), f);
    p->cache_val = zalloc((size_t)vb_mlp_cache_floats(&m->value, R), f);
    p->u = zalloc((size_t)R, f);
    p->term = zalloc((size_t)R, 1);
    p->done = zalloc((size_t)R, 1);
    p->jstar = zalloc((size_t)R, sizeof(int32_t));
    p->cell_new = zalloc((size_t)R, sizeof(int32_t));
    p->mu_n = zalloc((size_t)(N * D), f);
    p->lv_n = zalloc((size_t)(N * D), f);
    p->pmu_n = zalloc((size_t)(N * D), f);
    p->plv_n = zalloc((size_t)(N * D), f);
    p->eps = zalloc((size_t)(N * D), f);
    p->mz = zalloc((size_t)(N * D), f);
    p->cells = zalloc((size_t)(N * d->reward_cells), f);
    p->cache_dec = zalloc((size_t)vb_mlp_cache_floats(&m->reward_dec, N), f);
    p->logq_cur = zalloc((size_t)N, f);
    p->logq_prev = zalloc((size_t)N, f);
    p->logw_n = zalloc((size_t)N, f);
    p->tmp_n = zalloc((size_t)N, f);
    if (d->has_state_head) {
        p->state_in = zalloc((size_t)(N * (O + A + D)), f);
        p->state_out = zalloc((size_t)(N * O), f);
        p->cache_state = zalloc((size_t)vb_mlp_cache_floats(&m->state_dec, N), f);
    }
    p->qsum = zalloc((size_t)(B * A), sizeof(double));
    p->qw = zalloc((size_t)(B * A), sizeof(double));
    p->qhat = zalloc((size_t)(B * A), sizeof(double));
    p->root_x = zalloc((size_t)(B * d->in), f);
    p->root_feat = zalloc((size_t)(B * d->feat), f);
    p->root_logits = zalloc((size_t)(B * A), f);
    p->root_probs = zalloc((size_t)(B * A), f);
    p->root_v = zalloc((size_t)B, f);
    p->root_cache_pol = zalloc((size_t)vb_mlp_cache_floats(&m->policy, B), f);
    p->root_cache_val = zalloc((size_t)vb_mlp_cache_floats(&m->value, B), f);
    p->wbuf = zalloc((size_t)R, sizeof(double));
    p->idx = zalloc((size_t)R, sizeof(int32_t));
    p->ix = zalloc((size_t)cfg->K, sizeof(int32_t));
    p->abuf = zalloc((size_t)A, sizeof(double));
    p->prop = zalloc((size_t)A, f);
    int64_t widest = O > C ? O : C;
    if (L2 > widest) widest = L2;
    if (d->hidden > widest) widest = d->hidden;
    p->gather = zalloc((size_t)(R * widest), sizeof(float) > sizeof(int64_t) ? sizeof(float) : sizeof(int64_t));
    p->root_w = zalloc((size_t)N, f);
    void *all[] = {p->start_obs, p->s, p->carry, p->phi, p->phi_prev, p->last_s, p->last_next, p->last_r, p->logw,
                   p->G, p->Gb, p->disc, p->v_cur, p->cum, p->a, p->A, p->last_a, p->alive, p->has_last, p->t_ep, p->ep,
                   p->s_next, p->s_in, p->r, p->r_mean, p->x, p->o, p->feat, p->feat_ws, p->logits, p->probs, p->values, p->cache_pol,
                   p->cache_val, p->u, p->term, p->done, p->jstar, p->cell_new, p->mu_n, p->lv_n, p->pmu_n,
                   p->plv_n, p->eps, p->mz, p->cells, p->cache_dec, p->logq_cur, p->logq_prev, p->logw_n, p->tmp_n,
                   p->qsum, p->qw, p->qhat, p->root_x, p->root_feat, p->root_logits, p->root_probs, p->root_v, p->root_cache_pol,
                   p->root_cache_val, p->wbuf, p->idx, p->gather, p->root_w, p->ix, p->abuf, p->prop};
    int bad = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) bad |= all[i] == NULL;
    if (d->has_state_head) bad |= !p->state_in || !p->state_out || !p->cache_state;
    if (bad || vb_encoder_step_ws_init(&p->ws, m, R) != 0) {
        vb_planner_destroy(p);
        return snprintf(err, err_len, "out of memory for the planner (%lld envs x %lld particles x %lld nested)",
                        (long long)B, (long long)cfg->K, (long long)cfg->KO), -1;
    }
    vb_env_episode_start_obs(spec, p->start_obs);
    *out = p;
    return 0;
}

void vb_planner_destroy(vb_planner *p) {
    if (!p) return;
    void *all[] = {p->start_obs, p->s, p->carry, p->phi, p->phi_prev, p->last_s, p->last_next, p->last_r, p->logw,
                   p->G, p->Gb, p->disc, p->v_cur, p->cum, p->a, p->A, p->last_a, p->alive, p->has_last, p->t_ep, p->ep,
                   p->s_next, p->s_in, p->r, p->r_mean, p->x, p->o, p->feat, p->feat_ws, p->logits, p->probs, p->values, p->cache_pol,
                   p->cache_val, p->u, p->term, p->done, p->jstar, p->cell_new, p->mu_n, p->lv_n, p->pmu_n,
                   p->plv_n, p->eps, p->mz, p->cells, p->cache_dec, p->logq_cur, p->logq_prev, p->logw_n, p->tmp_n,
                   p->state_in, p->state_out, p->cache_state, p->qsum, p->qw, p->qhat, p->root_x, p->root_feat, p->root_logits,
                   p->root_probs, p->root_v, p->root_cache_pol, p->root_cache_val, p->wbuf, p->idx, p->gather,
                   p->root_w, p->ix, p->abuf, p->prop};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    vb_encoder_step_ws_free(&p->ws);
    free(p);
}

void vb_planner_prepare(vb_planner *p, const float *P) { vb_encoder_step_prepare(p->be, p->m, P, &p->ws); }

const float *vb_planner_last_root_weights(const vb_planner *p) { return p->root_w; }
const float *vb_planner_last_latents(const vb_planner *p) { return p->mz; }

void vb_resample_systematic(const double *w, int64_t n, double u, int32_t *idx) {
    double c = w[0];
    int64_t j = 0;
    for (int64_t i = 0; i < n; i++) {
        double target = ((double)i + u) / (double)n;
        while (target > c && j < n - 1) c += w[++j];
        idx[i] = (int32_t)j;
    }
}

/* Gamma(alpha) draws normalised: a Dirichlet sample into out (A). */
static void dirichlet(vb_rng *r, double alpha, int64_t A, double *out) {
    double s = 0;
    for (int64_t a = 0; a < A; a++) s += out[a] = vb_rng_gamma(r, alpha);
    for (int64_t a = 0; a < A; a++) out[a] = s > 0 ? out[a] / s : 1.0 / (double)A;
}

/* Policy and value of R rows with encoder inputs x (R, in) and beliefs phi. */
static void heads(vb_planner *p, const float *P, const float *x, const float *phi, const float *o, int64_t R,
                  float *feat, float *logits, float *probs, float *values, float *cache_pol, float *cache_val) {
    const vb_model *m = p->m;
    vb_model_features(p->be, m, P, feat, x, o, phi, p->feat_ws, R);
    vb_mlp_forward(p->be, &m->value, P, values, feat, cache_val, R);
    if (logits) {
        vb_mlp_forward(p->be, &m->policy, P, logits, feat, cache_pol, R);
        p->be->softmax(probs, logits, R, m->d.actions);
    }
}

static int32_t sample_row(const float *probs, int64_t A, float u) {
    double acc = 0;
    for (int64_t a = 0; a < A; a++) {
        acc += probs[a];
        if ((double)u < acc) return (int32_t)a;
    }
    for (int64_t a = A - 1; a >= 0; a--)
        if (probs[a] > 0) return (int32_t)a;
    return 0;
}

/* log p(x | m) of a transition under the decoder outputs of one nested row. */
static double transition_loglik(const vb_planner *p, const float *cells_row, int64_t cell, float reward) {
    const vb_model_dims *d = &p->m->d;
    double v = cells_row[cell];
    if (d->reward_kind == VB_REWARD_BERNOULLI) {
        double y = reward == d->reward_levels[1] ? 1.0 : 0.0;
        double sp = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
        return y * v - sp;
    }
    double e = (double)reward - v;
    return -0.5 * (e * e + LOG_2PI);
}

/* Copy row data of R rows of width w by idx (a gather within each env's block). */
static void gather_rows(vb_planner *p, void *data, size_t elem, int64_t w, int64_t R) {
    char *g = (char *)p->gather, *d = data;
    size_t row = elem * (size_t)w;
    for (int64_t i = 0; i < R; i++) memcpy(g + (size_t)i * row, d + (size_t)p->idx[i] * row, row);
    memcpy(d, g, row * (size_t)R);
}

static void resample_env(vb_planner *p, int64_t b, vb_rng *rng) {
    const int64_t K = p->cfg.K;
    double mx = -INFINITY, s = 0;
    for (int64_t k = 0; k < K; k++) mx = fmax(mx, p->logw[b * K + k]);
    for (int64_t k = 0; k < K; k++) s += p->wbuf[k] = exp(p->logw[b * K + k] - mx);
    for (int64_t k = 0; k < K; k++) p->wbuf[k] /= s;
    vb_resample_systematic(p->wbuf, K, vb_rng_uniform_double(rng), p->ix);
    for (int64_t k = 0; k < K; k++) p->idx[b * K + k] = (int32_t)(b * K + p->ix[k]);
    for (int64_t k = 0; k < K; k++) p->cum[b * K + k] += p->logw[b * K + k] - (float)mx;
    for (int64_t k = 0; k < K; k++) p->logw[b * K + k] = 0.0f;
}

/* Apply p->idx (set for every row; identity outside resampled envs). */
static void apply_resampling(vb_planner *p, int64_t R) {
    const vb_model_dims *d = &p->m->d;
    const int64_t O = d->obs, C = d->carry, L2 = 2 * d->latent;
    gather_rows(p, p->s, sizeof(float), O, R);
    gather_rows(p, p->carry, sizeof(float), C, R);
    gather_rows(p, p->phi, sizeof(float), L2, R);
    gather_rows(p, p->phi_prev, sizeof(float), L2, R);
    gather_rows(p, p->last_s, sizeof(float), O, R);
    gather_rows(p, p->last_next, sizeof(float), O, R);
    gather_rows(p, p->last_r, sizeof(float), 1, R);
    gather_rows(p, p->G, sizeof(float), 1, R);
    gather_rows(p, p->Gb, sizeof(float), 1, R);
    gather_rows(p, p->disc, sizeof(float), 1, R);
    gather_rows(p, p->v_cur, sizeof(float), 1, R);
    gather_rows(p, p->cum, sizeof(float), 1, R);
    gather_rows(p, p->a, sizeof(int32_t), 1, R);
    gather_rows(p, p->A, sizeof(int32_t), 1, R);
    gather_rows(p, p->last_a, sizeof(int32_t), 1, R);
    gather_rows(p, p->alive, 1, 1, R);
    gather_rows(p, p->has_last, 1, 1, R);
    gather_rows(p, p->t_ep, sizeof(int64_t), 1, R);
    gather_rows(p, p->ep, sizeof(int64_t), 1, R);
}

/* Steps 1-3 of a depth: nested samples, their correction weights, the chosen
 * one per particle, and the simulated successor and reward. */
static void simulate(vb_planner *p, const float *P, int64_t R, vb_rng *rng, int64_t depth) {
    const vb_backend *be = p->be;
    const vb_model *m = p->m;
    const vb_model_dims *d = &m->d;
    const int64_t K = p->cfg.K, KO = p->cfg.KO, N = R * KO, D = d->latent, C = d->reward_cells, O = d->obs,
                  A = d->actions;
    for (int64_t k = 0; k < R; k++) {
        for (int64_t j = 0; j < KO; j++) {
            int64_t n = k * KO + j;
            memcpy(p->mu_n + n * D, p->phi + k * 2 * D, sizeof(float) * (size_t)D);
            memcpy(p->lv_n + n * D, p->phi + k * 2 * D + D, sizeof(float) * (size_t)D);
            memcpy(p->pmu_n + n * D, p->phi_prev + k * 2 * D, sizeof(float) * (size_t)D);
            memcpy(p->plv_n + n * D, p->phi_prev + k * 2 * D + D, sizeof(float) * (size_t)D);
        }
    }
    /* each env's K x K_Omega x D noise from its own stream, rows in order */
    for (int64_t b = 0; b < R / K; b++) vb_rng_normal_fill(&rng[b], p->eps + b * K * KO * D, K * KO * D);
    be->gauss_sample_forward(p->mz, p->mu_n, p->lv_n, p->eps, N * D);
    vb_mlp_forward(be, &m->reward_dec, P, p->cells, p->mz, p->cache_dec, N);
    be->gauss_logprob_forward(p->logq_cur, p->mz, p->mu_n, p->lv_n, N, D);
    be->gauss_logprob_forward(p->logq_prev, p->mz, p->pmu_n, p->plv_n, N, D);
    const bool learned = p->cfg.dynamics == VB_DYN_LEARNED;
    if (learned) { /* the state head's likelihood of the last successor, and the next successor's mean */
        for (int64_t n = 0; n < N; n++) {
            int64_t k = n / KO;
            float *row = p->state_in + n * (O + A + D);
            memcpy(row, p->last_s + k * O, sizeof(float) * (size_t)O);
            memset(row + O, 0, sizeof(float) * (size_t)A);
            if (p->has_last[k]) row[O + p->last_a[k]] = 1.0f;
            memcpy(row + O + A, p->mz + n * D, sizeof(float) * (size_t)D);
        }
        vb_mlp_forward(be, &m->state_dec, P, p->state_out, p->state_in, p->cache_state, N);
    }
    for (int64_t k = 0; k < R; k++) {
        float *lw = p->logw_n + k * KO;
        double mx = -INFINITY;
        for (int64_t j = 0; j < KO; j++) {
            int64_t n = k * KO + j;
            double l = 0;
            if (p->has_last[k]) {
                int64_t cell = vb_env_reward_cell(&p->spec, p->last_s + k * O, p->last_a[k], p->last_next + k * O);
                l = transition_loglik(p, p->cells + n * C, cell, p->last_r[k]);
                if (learned)
                    for (int64_t i = 0; i < O; i++) {
                        double e = (double)p->last_next[k * O + i] - p->state_out[n * O + i];
                        l += -0.5 * (e * e + LOG_2PI);
                    }
                l += (double)p->logq_prev[n] - p->logq_cur[n];
            }
            lw[j] = isfinite(l) ? (float)l : -INFINITY;
            mx = fmax(mx, lw[j]);
        }
        double s = 0;
        for (int64_t j = 0; j < KO; j++) s += (lw[j] = isfinite(mx) ? (float)exp((double)lw[j] - mx) : 1.0f);
        for (int64_t j = 0; j < KO; j++) lw[j] = s > 0 ? (float)(lw[j] / s) : 1.0f / (float)KO;
        if (depth == 0) memcpy(p->root_w + k * KO, lw, sizeof(float) * (size_t)KO);
        p->jstar[k] = vb_rng_categorical(&rng[k / K], lw, (int)KO);
    }
    if (learned) { /* the successor's mean under the chosen sample */
        for (int64_t k = 0; k < R; k++) {
            int64_t n = k * KO + p->jstar[k];
            float *row = p->state_in + n * (O + A + D);
            memcpy(row, p->s + k * O, sizeof(float) * (size_t)O);
            memset(row + O, 0, sizeof(float) * (size_t)A);
            row[O + p->a[k]] = 1.0f;
        }
        vb_mlp_forward(be, &m->state_dec, P, p->state_out, p->state_in, p->cache_state, N);
    }
    for (int64_t k = 0; k < R; k++) {
        int64_t n = k * KO + p->jstar[k];
        if (learned) memcpy(p->s_next + k * O, p->state_out + n * O, sizeof(float) * (size_t)O);
        else vb_env_transition(&p->spec, p->s + k * O, p->a[k], p->s_next + k * O);
        int64_t cell = vb_env_reward_cell(&p->spec, p->s + k * O, p->a[k], p->s_next + k * O);
        double v = p->cells[n * C + cell];
        if (d->reward_kind == VB_REWARD_BERNOULLI) {
            double pr = 1.0 / (1.0 + exp(-v));
            p->r[k] = vb_rng_uniform_double(&rng[k / K]) < pr ? d->reward_levels[1] : d->reward_levels[0];
            p->r_mean[k] = (float)(pr * d->reward_levels[1] + (1.0 - pr) * d->reward_levels[0]);
        } else {
            p->r[k] = p->r_mean[k] = (float)v;
        }
    }
}

void vb_planner_run(vb_planner *p, const float *P, const vb_planner_root *root, int64_t B, vb_rng *rng, float *q,
                    float *v) {
    const vb_backend *be = p->be;
    const vb_model *m = p->m;
    const vb_model_dims *d = &m->d;
    const vb_planner_cfg *c = &p->cfg;
    const int64_t K = c->K, R = B * K, O = d->obs, CA = d->carry, L2 = 2 * d->latent, A = d->actions;
    const int64_t EL = p->spec.episode_length, EP = p->spec.episodes_per_task;
    const double gamma = c->gamma, eta = c->eta;
    /* the root: policy prior and value */
    for (int64_t b = 0; b < B; b++)
        vb_model_input(m, p->root_x + b * d->in, root->obs + b * O, -1, 0.0f, 0.0f, root->episode[b] * EL + root->t_ep[b]);
    heads(p, P, p->root_x, root->phi, root->o, B, p->root_feat, p->root_logits, p->root_probs, p->root_v,
          p->root_cache_pol, p->root_cache_val);
    for (int64_t i = 0; i < B * A; i++) p->qsum[i] = p->qw[i] = 0;
    /* particles start at the root */
    for (int64_t b = 0; b < B; b++) {
        double *mix = p->abuf;
        float *prop = p->prop;
        const bool all = c->root_actions == VB_ROOT_ALL;
        const bool noise = c->dir_weight > 0 && !all;
        /* root_actions all: particle k starts with action (k + offset) mod A,
         * the offset random so that no action is favoured when A does not
         * divide K */
        const int64_t offset = all ? (int64_t)(vb_rng_uniform(&rng[b]) * (double)A) % A : 0;
        if (noise) dirichlet(&rng[b], c->dir_alpha, A, mix);
        for (int64_t a = 0; a < A; a++)
            prop[a] = (float)((1.0 - (noise ? c->dir_weight : 0)) * p->root_probs[b * A + a] +
                              (noise ? c->dir_weight * mix[a] : 0));
        for (int64_t k = 0; k < K; k++) {
            int64_t r = b * K + k;
            memcpy(p->s + r * O, root->obs + b * O, sizeof(float) * (size_t)O);
            memcpy(p->carry + r * CA, root->carry + b * CA, sizeof(float) * (size_t)CA);
            memcpy(p->phi + r * L2, root->phi + b * L2, sizeof(float) * (size_t)L2);
            memcpy(p->phi_prev + r * L2, root->phi_prev + b * L2, sizeof(float) * (size_t)L2);
            memcpy(p->last_s + r * O, root->last_obs + b * O, sizeof(float) * (size_t)O);
            memcpy(p->last_next + r * O, root->last_next_obs + b * O, sizeof(float) * (size_t)O);
            p->last_a[r] = root->last_action[b] < 0 ? 0 : root->last_action[b];
            p->has_last[r] = root->last_action[b] >= 0;
            p->last_r[r] = root->last_reward[b];
            p->t_ep[r] = root->t_ep[b];
            p->ep[r] = root->episode[b];
            p->logw[r] = 0;
            p->cum[r] = 0;
            p->G[r] = 0;
            p->Gb[r] = p->root_v[b];
            p->disc[r] = 1;
            p->alive[r] = 1;
            p->v_cur[r] = p->root_v[b];
            p->a[r] = p->A[r] = all ? (int32_t)((k + offset) % A) : sample_row(prop, A, vb_rng_uniform(&rng[b]));
        }
    }
    for (int64_t depth = 0; depth < c->D; depth++) {
        simulate(p, P, R, rng, depth);
        /* clock, episode resets in imagination, and the encoder's next input */
        for (int64_t k = 0; k < R; k++) {
            int64_t t1 = p->t_ep[k] + 1;
            p->done[k] = t1 >= EL;
            p->term[k] = p->done[k] && p->ep[k] + 1 >= EP;
            const float *next_in = p->done[k] && !p->term[k] ? p->start_obs : p->s_next + k * O;
            memcpy(p->s_in + k * O, next_in, sizeof(float) * (size_t)O);
            vb_model_input(m, p->x + k * d->in, next_in, p->a[k], p->r[k], p->done[k], p->ep[k] * EL + p->t_ep[k] + 1);
        }
        memcpy(p->phi_prev, p->phi, sizeof(float) * (size_t)(R * L2)); /* phi_k becomes the previous belief */
        vb_encoder_step(be, m, P, p->carry, p->x, p->o, p->phi, &p->ws, R);
        const bool more = depth + 1 < c->D;
        heads(p, P, p->x, p->phi, p->o, R, p->feat, more ? p->logits : NULL, p->probs, p->values, p->cache_pol,
              p->cache_val);
        /* weights, returns and the backup record (before any resampling).
         * backup_weights: twisted averages the returns under the particle
         * weights, the twisted path distribution; prior divides each
         * particle's whole twist back out (its weight since the last
         * resampling cancels, what remains is exp(-cum)), so Q-hat estimates
         * the policy prior's returns: the twist then only steers which paths
         * are explored, and a lucky imagined outcome is not counted as an
         * expected one. */
        const bool prior_w = c->backup_weights == VB_BACKUP_PRIOR;
        for (int64_t b = 0; b < B; b++) {
            double mx = -INFINITY, s = 0;
            for (int64_t k = b * K; k < (b + 1) * K; k++) {
                if (p->alive[k]) {
                    double nonterm = p->term[k] ? 0.0 : 1.0;
                    double delta = p->r_mean[k] + gamma * nonterm * p->values[k] - p->v_cur[k];
                    p->logw[k] += (float)(delta / eta);
                }
                double lw = prior_w ? -(double)p->cum[k] : (double)p->logw[k];
                mx = fmax(mx, lw);
            }
            for (int64_t k = b * K; k < (b + 1) * K; k++)
                s += p->wbuf[k - b * K] = exp((prior_w ? -(double)p->cum[k] : (double)p->logw[k]) - mx);
            for (int64_t k = b * K; k < (b + 1) * K; k++) {
                double w = p->wbuf[k - b * K] / s;
                if (!p->alive[k]) continue;
                double nonterm = p->term[k] ? 0.0 : 1.0;
                p->G[k] += (float)(p->disc[k] * p->r_mean[k]);
                double g = p->G[k] + p->disc[k] * gamma * nonterm * p->values[k];
                p->qsum[b * A + p->A[k]] += w * g;
                p->qw[b * A + p->A[k]] += w;
                p->disc[k] *= (float)gamma;
                p->Gb[k] = (float)g;            /* for the weights readout */
                p->v_cur[k] = p->values[k];     /* the next advantage's baseline */
            }
        }
        /* advance: the simulated transition is the next correction's evidence */
        for (int64_t k = 0; k < R; k++) {
            if (!p->alive[k]) continue;
            memcpy(p->last_s + k * O, p->s + k * O, sizeof(float) * (size_t)O);
            memcpy(p->last_next + k * O, p->s_next + k * O, sizeof(float) * (size_t)O);
            memcpy(p->s + k * O, p->s_in + k * O, sizeof(float) * (size_t)O);
            p->last_a[k] = p->a[k];
            p->last_r[k] = p->r[k];
            p->has_last[k] = 1;
            p->t_ep[k] = p->done[k] ? 0 : p->t_ep[k] + 1;
            if (p->done[k]) p->ep[k]++;
            if (p->term[k]) p->alive[k] = 0;
        }
        if (!more) break;
        for (int64_t k = 0; k < R; k++) {
            if (p->alive[k]) p->a[k] = sample_row(p->probs + k * A, A, vb_rng_uniform(&rng[k / K]));
        }
        /* resampling */
        bool any = false;
        for (int64_t k = 0; k < R; k++) p->idx[k] = (int32_t)k;
        for (int64_t b = 0; b < B; b++) {
            double mx = -INFINITY, s = 0, s2 = 0;
            for (int64_t k = b * K; k < (b + 1) * K; k++) mx = fmax(mx, p->logw[k]);
            for (int64_t k = b * K; k < (b + 1) * K; k++) {
                double w = exp(p->logw[k] - mx);
                s += w;
                s2 += w * w;
            }
            double ess = s * s / s2;
            if (ess < c->ess_threshold * (double)K || (depth + 1) % c->period == 0) {
                resample_env(p, b, &rng[b]);
                any = true;
            }
        }
        if (any) apply_resampling(p, R);
    }
    /* readout */
    for (int64_t b = 0; b < B; b++) {
        float *qb = q + b * A;
        if (c->target == VB_TARGET_WEIGHTS && c->D > 0) {
            double mx = -INFINITY, s = 0, vs = 0;
            for (int64_t k = b * K; k < (b + 1) * K; k++) mx = fmax(mx, p->logw[k]);
            for (int64_t a = 0; a < A; a++) qb[a] = 0;
            for (int64_t k = b * K; k < (b + 1) * K; k++) s += exp(p->logw[k] - mx);
            for (int64_t k = b * K; k < (b + 1) * K; k++) {
                double w = exp(p->logw[k] - mx) / s;
                qb[p->A[k]] += (float)w;
                vs += w * p->Gb[k];
            }
            v[b] = (float)vs;
        } else if (c->target == VB_TARGET_WEIGHTS) {
            for (int64_t a = 0; a < A; a++) qb[a] = 0;
            for (int64_t k = b * K; k < (b + 1) * K; k++) qb[p->A[k]] += 1.0f / (float)K;
            v[b] = p->root_v[b];
        } else {
            double *Q = p->qhat + b * A, mx = -INFINITY, s = 0, vs = 0;
            for (int64_t a = 0; a < A; a++) {
                Q[a] = p->qw[b * A + a] > 0 ? p->qsum[b * A + a] / p->qw[b * A + a] : p->root_v[b];
                if (p->root_probs[b * A + a] > 0) mx = fmax(mx, Q[a] / eta);
            }
            for (int64_t a = 0; a < A; a++) {
                double w = p->root_probs[b * A + a] * exp(Q[a] / eta - mx);
                qb[a] = (float)w;
                s += w;
            }
            for (int64_t a = 0; a < A; a++) {
                qb[a] = s > 0 ? (float)(qb[a] / s) : 1.0f / (float)A;
                vs += qb[a] * Q[a];
            }
            v[b] = (float)vs;
        }
    }
}

int32_t vb_planner_greedy(const vb_planner *p, int64_t b, int32_t a) {
    const int64_t A = p->m->d.actions;
    if (!(p->cfg.greedy_margin > 0) || p->cfg.target != VB_TARGET_BACKUP) return a;
    const float *pi = p->root_probs + b * A;
    int32_t mode = 0;
    for (int32_t j = 1; j < (int32_t)A; j++)
        if (pi[j] > pi[mode]) mode = j;
    const double *Q = p->qhat + b * A;
    return Q[a] - Q[mode] > p->cfg.greedy_margin ? a : mode;
}
