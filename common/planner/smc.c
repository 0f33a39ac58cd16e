/* smc — see smc.h. */
#include "smc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/carve.h"

#include "../base/kinds.h"
#include "kernels/math/resample.h"

struct vb_smc {
    vb_planner_cfg cfg;
    int64_t A, maxB, maxR;
    /* particles (maxR rows) */
    double *logw, *cum, *G, *S, *disc, *v_cur, *e;
    int32_t *a, *A0, *idx, *gather_i;
    uint8_t *alive;
    double *gather_d;
    vb_sim_step step;         /* the simulator's output buffers */
    /* per env (maxB rows) */
    float *root_probs, *root_v;   /* (B, A), (B) */
    double *qsum, *qw, *qhat, *qstar; /* (B, A) */
    int32_t *nroot;               /* (B, A) particles per root action */
    /* scratch */
    double *wbuf, *mix, *keys;    /* (K), (A), (A) */
    int32_t *order, *ix;          /* (A), (K) */
    uint8_t *seen;                /* (A) */
    float *prop;                  /* (A) */
    float *target_prior;          /* (B, A) the noised root prior q-hat* tilts (cfg.noise_target) */
    int64_t resamples;
    void *block;                  /* the one allocation everything above lives in */
};

static void carve(vb_smc *s, vb_carver *c) {
    const int64_t R = s->maxR, B = s->maxB, A = s->A, K = s->cfg.K;
    s->logw = vb_carve(c, R, sizeof(double));
    s->cum = vb_carve(c, R, sizeof(double));
    s->G = vb_carve(c, R, sizeof(double));
    s->S = vb_carve(c, R, sizeof(double));
    s->disc = vb_carve(c, R, sizeof(double));
    s->v_cur = vb_carve(c, R, sizeof(double));
    s->e = vb_carve(c, R, sizeof(double));
    s->gather_d = vb_carve(c, R, sizeof(double));
    s->a = vb_carve(c, R, sizeof(int32_t));
    s->A0 = vb_carve(c, R, sizeof(int32_t));
    s->idx = vb_carve(c, R, sizeof(int32_t));
    s->gather_i = vb_carve(c, R, sizeof(int32_t));
    s->alive = vb_carve(c, R, 1);
    s->step.r_mean = vb_carve(c, R, sizeof(float));
    s->step.p_cont = vb_carve(c, R, sizeof(float));
    s->step.v_cont = vb_carve(c, R, sizeof(float));
    s->step.v_other = vb_carve(c, R, sizeof(float));
    s->step.term = vb_carve(c, R, 1);
    s->step.probs = vb_carve(c, R * A, sizeof(float));
    s->root_probs = vb_carve(c, B * A, sizeof(float));
    s->root_v = vb_carve(c, B, sizeof(float));
    s->qsum = vb_carve(c, B * A, sizeof(double));
    s->qw = vb_carve(c, B * A, sizeof(double));
    s->qhat = vb_carve(c, B * A, sizeof(double));
    s->qstar = vb_carve(c, B * A, sizeof(double));
    s->nroot = vb_carve(c, B * A, sizeof(int32_t));
    s->wbuf = vb_carve(c, K, sizeof(double));
    s->mix = vb_carve(c, A, sizeof(double));
    s->keys = vb_carve(c, A, sizeof(double));
    s->order = vb_carve(c, A, sizeof(int32_t));
    s->ix = vb_carve(c, K, sizeof(int32_t));
    s->seen = vb_carve(c, A, 1);
    s->prop = vb_carve(c, A, sizeof(float));
    s->target_prior = vb_carve(c, B * A, sizeof(float));
}

int vb_smc_create(vb_smc **out, const vb_planner_cfg *cfg, int64_t A, int64_t max_B, char *err, size_t err_len) {
    *out = NULL;
    if (cfg->root_actions == VB_ROOT_ALL && cfg->target != VB_TARGET_BACKUP)
        return snprintf(err, err_len, "planner.root_actions: all needs planner.target: backup (the weights readout "
                        "counts first actions, which would then be uniform by construction)"), -1;
    if (cfg->rollout == VB_ROLLOUT_ARGMAX && cfg->target != VB_TARGET_BACKUP)
        return snprintf(err, err_len, "planner.rollout: argmax needs planner.target: backup (argmax continuations are "
                        "not resampled, so the weights readout would only count root actions)"), -1;
    vb_smc *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), -1;
    s->cfg = *cfg;
    s->A = A;
    s->maxB = max_B;
    s->maxR = max_B * cfg->K;
    vb_carver c = {NULL, 0};
    carve(s, &c);
    s->block = calloc(1, c.off);
    if (!s->block) {
        free(s);
        return snprintf(err, err_len, "out of memory for the search (%lld envs x %lld particles)", (long long)max_B,
                        (long long)cfg->K), -1;
    }
    c = (vb_carver){s->block, 0};
    carve(s, &c);
    *out = s;
    return 0;
}

void vb_smc_destroy(vb_smc *s) {
    if (!s) return;
    free(s->block);
    free(s);
}

void vb_resample_systematic(const double *w, int64_t n, double u, int32_t *idx) {
    vb_resample_systematic_row(w, n, u, idx);
}

/* Gamma(alpha) draws normalised: a Dirichlet sample into out (A). */
static void dirichlet(vb_rng *r, double alpha, int64_t A, double *out) {
    double s = 0;
    for (int64_t a = 0; a < A; a++) s += out[a] = vb_rng_gamma(r, alpha);
    for (int64_t a = 0; a < A; a++) out[a] = s > 0 ? out[a] / s : 1.0 / (double)A;
}

static int32_t sample_row(const float *probs, int64_t A, double u) {
    double acc = 0;
    for (int64_t a = 0; a < A; a++) {
        acc += probs[a];
        if (u < acc) return (int32_t)a;
    }
    for (int64_t a = A - 1; a >= 0; a--)
        if (probs[a] > 0) return (int32_t)a;
    return 0;
}

/* The most likely action (ties: the lowest). */
static int32_t mode_row(const float *probs, int64_t A) {
    int32_t best = 0;
    for (int32_t a = 1; a < (int32_t)A; a++)
        if (probs[a] > probs[best]) best = a;
    return best;
}

/* order[0..K) = the K actions of largest key (ties: the lower action first). */
static void top_k(const double *key, int64_t A, int64_t K, int32_t *order) {
    for (int64_t i = 0; i < K; i++) {
        int32_t best = -1;
        for (int32_t a = 0; a < (int32_t)A; a++) {
            int taken = 0;
            for (int64_t j = 0; j < i; j++) taken |= order[j] == a;
            if (!taken && (best < 0 || key[a] > key[best])) best = a;
        }
        order[i] = best;
    }
}

/* Root actions of env b's K particles (rows b K ..), from the prior prop. */
static void allocate_roots(vb_smc *s, int64_t b, vb_rng *r) {
    const vb_planner_cfg *c = &s->cfg;
    const int64_t K = c->K, A = s->A;
    const float *pi = s->root_probs + b * A;
    const bool every = c->root_actions == VB_ROOT_ALL && K >= A;
    const bool noise = c->dir_weight > 0 && (!every || c->noise_target);
    if (noise) dirichlet(r, c->dir_alpha, A, s->mix);
    for (int64_t a = 0; a < A; a++)
        s->prop[a] = (float)((1.0 - (noise ? c->dir_weight : 0)) * pi[a] + (noise ? c->dir_weight * s->mix[a] : 0));
    if (c->noise_target)
        for (int64_t a = 0; a < A; a++) s->target_prior[b * A + a] = s->prop[a];
    int32_t *root = s->A0 + b * K;
    if (c->root_actions != VB_ROOT_ALL) {
        for (int64_t k = 0; k < K; k++) root[k] = sample_row(s->prop, A, vb_rng_uniform_double(r));
    } else if (every) {
        /* every action, in contiguous blocks (systematic resampling then keeps
         * each action's share to within one particle; interleaved, the same
         * offsets in every block would drop whole actions), rotated by a random
         * offset so that no action is favoured when A does not divide K */
        const int64_t offset = (int64_t)vb_rng_below(r, (uint32_t)A);
        for (int64_t k = 0; k < K; k++) root[k] = (int32_t)((k * A / K + offset) % A);
    } else {
        /* the K most likely actions; exploring, K draws without replacement (Gumbel-top-K) */
        for (int64_t a = 0; a < A; a++) {
            double lp = s->prop[a] > 0 ? log((double)s->prop[a]) : -INFINITY;
            s->keys[a] = c->explore ? lp - log(-log(vb_rng_uniform_double(r) * (1 - 1e-12) + 1e-12)) : lp;
        }
        top_k(s->keys, A, K, s->order);
        for (int64_t k = 0; k < K; k++) root[k] = s->order[k];
    }
    for (int64_t a = 0; a < A; a++) s->nroot[b * A + a] = 0;
    for (int64_t k = 0; k < K; k++) s->nroot[b * A + root[k]]++;
}

/* Each alive particle's one-step estimate e_k (its outcomes averaged), and its twist. */
static void one_step(vb_smc *s, int64_t R) {
    const vb_planner_cfg *c = &s->cfg;
    const vb_sim_step *st = &s->step;
    for (int64_t k = 0; k < R; k++) {
        if (!s->alive[k]) continue;
        double nonterm = st->term[k] ? 0.0 : 1.0, pc = st->p_cont[k];
        double closed = pc < 1.0 ? (1.0 - pc) * st->v_other[k] : 0.0;
        s->e[k] = st->r_mean[k] + c->gamma * nonterm * (pc * st->v_cont[k] + closed);
        s->logw[k] += (s->e[k] - s->v_cur[k]) / c->eta;
    }
}

/* The records of one depth: every alive particle's estimate of Q(A_k). */
static void record(vb_smc *s, int64_t B) {
    const vb_planner_cfg *c = &s->cfg;
    const int64_t K = c->K, A = s->A;
    const bool prior = c->backup_weights == VB_BACKUP_PRIOR;
    for (int64_t b = 0; b < B; b++) {
        double mx = -INFINITY, sum = 0;
        bool any = false;
        for (int64_t k = b * K; k < (b + 1) * K; k++) {
            if (!s->alive[k]) continue;
            any = true;
            mx = fmax(mx, prior ? -s->cum[k] : s->logw[k]);
        }
        if (!any) continue;
        for (int64_t k = b * K; k < (b + 1) * K; k++)
            if (s->alive[k]) sum += s->wbuf[k - b * K] = exp((prior ? -s->cum[k] : s->logw[k]) - mx);
        /* an action's earlier records fade by lambda once deeper ones arrive (an
         * action whose particles were all resampled away keeps its last) */
        for (int64_t a = 0; a < A; a++) s->seen[a] = 0;
        for (int64_t k = b * K; k < (b + 1) * K; k++) s->seen[s->A0[k]] |= s->alive[k];
        for (int64_t a = 0; a < A; a++) {
            if (!s->seen[a]) continue;
            s->qsum[b * A + a] *= c->backup_lambda;
            s->qw[b * A + a] *= c->backup_lambda;
        }
        for (int64_t k = b * K; k < (b + 1) * K; k++) {
            if (!s->alive[k]) continue;
            double w = s->wbuf[k - b * K] / sum;
            s->qsum[b * A + s->A0[k]] += w * (s->G[k] + s->disc[k] * s->S[k] * s->e[k]);
            s->qw[b * A + s->A0[k]] += w;
        }
    }
}

/* The particles' returns and state after the step (records taken). */
static void advance(vb_smc *s, int64_t R) {
    const vb_planner_cfg *c = &s->cfg;
    const vb_sim_step *st = &s->step;
    for (int64_t k = 0; k < R; k++) {
        if (!s->alive[k]) continue;
        double pc = st->p_cont[k], closed = pc < 1.0 && !st->term[k] ? (1.0 - pc) * st->v_other[k] : 0.0;
        s->G[k] += s->disc[k] * s->S[k] * (st->r_mean[k] + c->gamma * closed);
        s->S[k] *= pc;
        s->disc[k] *= c->gamma;
        s->v_cur[k] = st->v_cont[k];
        if (st->term[k]) s->alive[k] = 0;
    }
}

static void gather_d(vb_smc *s, double *v, int64_t R) {
    for (int64_t i = 0; i < R; i++) s->gather_d[i] = v[s->idx[i]];
    memcpy(v, s->gather_d, sizeof(double) * (size_t)R);
}

static void gather_i(vb_smc *s, int32_t *v, int64_t R) {
    for (int64_t i = 0; i < R; i++) s->gather_i[i] = v[s->idx[i]];
    memcpy(v, s->gather_i, sizeof(int32_t) * (size_t)R);
}

/* Resample env b (rows b K ..): systematic on the log-weights; the
 * ancestry's twist moves into cum, and the weights restart at 0. */
static void resample_env(vb_smc *s, int64_t b, vb_rng *r) {
    const int64_t K = s->cfg.K;
    double mx = vb_resample_systematic_logw(s->logw + b * K, K, vb_rng_uniform_double(r), s->wbuf, s->ix);
    for (int64_t k = 0; k < K; k++) {
        s->idx[b * K + k] = (int32_t)(b * K + s->ix[k]);
        s->cum[b * K + k] += s->logw[b * K + k] - mx;
        s->logw[b * K + k] = 0.0;
    }
}

/* After step `depth` (0-based) of D: resample the envs whose ESS fell below
 * tau K or whose period came round; 1 when any was. */
static bool maybe_resample(vb_smc *s, const vb_plan_sim *sim, int64_t B, int64_t depth, vb_rng *rng) {
    const vb_planner_cfg *c = &s->cfg;
    const int64_t K = c->K, R = B * K;
    bool any = false;
    for (int64_t k = 0; k < R; k++) s->idx[k] = (int32_t)k;
    for (int64_t b = 0; b < B; b++) {
        double mx = -INFINITY, sum = 0, sq = 0;
        for (int64_t k = b * K; k < (b + 1) * K; k++) mx = fmax(mx, s->logw[k]);
        for (int64_t k = b * K; k < (b + 1) * K; k++) {
            double w = exp(s->logw[k] - mx);
            sum += w;
            sq += w * w;
        }
        if (sum * sum / sq < c->ess_threshold * (double)K || (depth + 1) % c->period == 0) {
            resample_env(s, b, &rng[b]);
            s->resamples++;
            any = true;
        }
    }
    if (!any) return false;
    gather_d(s, s->logw, R);
    gather_d(s, s->cum, R);
    gather_d(s, s->G, R);
    gather_d(s, s->S, R);
    gather_d(s, s->disc, R);
    gather_d(s, s->v_cur, R);
    gather_i(s, s->a, R);
    gather_i(s, s->A0, R);
    for (int64_t i = 0; i < R; i++) s->gather_i[i] = s->alive[s->idx[i]];
    for (int64_t i = 0; i < R; i++) s->alive[i] = (uint8_t)s->gather_i[i];
    sim->ops->gather(sim->ctx, s->idx, R);
    return true;
}

/* q* and V-hat of env b from its records. */
static void readout_backup(vb_smc *s, int64_t b, float *q, float *v) {
    const int64_t A = s->A;
    const float *pi = s->root_probs + b * A, *tilted = s->cfg.noise_target ? s->target_prior + b * A : pi;
    double *Q = s->qhat + b * A, pi_eval = 0, piq = 0, n_eval = 0;
    for (int64_t a = 0; a < A; a++) {
        if (s->qw[b * A + a] > 0) {
            Q[a] = s->qsum[b * A + a] / s->qw[b * A + a];
            pi_eval += pi[a];
            piq += pi[a] * Q[a];
            n_eval += s->nroot[b * A + a];
        }
    }
    double v_mix = pi_eval > 0 ? (s->root_v[b] + n_eval * piq / pi_eval) / (1.0 + n_eval) : s->root_v[b];
    double mx = -INFINITY, sum = 0, vs = 0;
    const double tau = s->cfg.tau, eta = s->cfg.eta, prior_pow = eta / (eta + tau);
    for (int64_t a = 0; a < A; a++) {
        if (!(s->qw[b * A + a] > 0)) Q[a] = v_mix;
        if (tilted[a] > 0) mx = fmax(mx, tau > 0 ? Q[a] / (eta + tau) : Q[a] / eta);
    }
    for (int64_t a = 0; a < A; a++) {
        double w = 0.0;
        if (tilted[a] > 0)
            w = tau > 0 ? pow(tilted[a], prior_pow) * exp(Q[a] / (eta + tau) - mx) : tilted[a] * exp(Q[a] / eta - mx);
        sum += s->qstar[b * A + a] = w;
    }
    for (int64_t a = 0; a < A; a++) {
        double w = sum > 0 ? s->qstar[b * A + a] / sum : 1.0 / (double)A;
        s->qstar[b * A + a] = w;
        q[b * A + a] = (float)w;
        vs += w * Q[a];
    }
    v[b] = (float)vs;
}

/* SPO's readout: the twisted weights of the particles per root action. */
static void readout_weights(vb_smc *s, int64_t b, float *q, float *v) {
    const int64_t K = s->cfg.K, A = s->A;
    double mx = -INFINITY, sum = 0, vs = 0;
    for (int64_t a = 0; a < A; a++) q[b * A + a] = 0;
    if (s->cfg.D == 0) {
        for (int64_t k = b * K; k < (b + 1) * K; k++) q[b * A + s->A0[k]] += 1.0f / (float)K;
        for (int64_t a = 0; a < A; a++) s->qstar[b * A + a] = q[b * A + a];
        v[b] = s->root_v[b];
        return;
    }
    for (int64_t k = b * K; k < (b + 1) * K; k++) mx = fmax(mx, s->logw[k]);
    for (int64_t k = b * K; k < (b + 1) * K; k++) sum += exp(s->logw[k] - mx);
    for (int64_t k = b * K; k < (b + 1) * K; k++) {
        double w = exp(s->logw[k] - mx) / sum;
        q[b * A + s->A0[k]] += (float)w;
        vs += w * (s->G[k] + s->disc[k] * s->S[k] * s->v_cur[k]);
    }
    for (int64_t a = 0; a < A; a++) s->qstar[b * A + a] = q[b * A + a];
    v[b] = (float)vs;
}

void vb_smc_run(vb_smc *s, const vb_plan_sim *sim, int64_t B, vb_rng *rng, float *q, float *v) {
    const vb_planner_cfg *c = &s->cfg;
    const int64_t K = c->K, R = B * K, A = s->A;
    const bool argmax = c->rollout == VB_ROLLOUT_ARGMAX;
    const bool expect = sim->binary && c->outcomes == VB_OUTCOMES_EXPECTED;
    s->resamples = 0;
    sim->ops->root(sim->ctx, B, s->root_probs, s->root_v);
    for (int64_t i = 0; i < B * A; i++) s->qsum[i] = s->qw[i] = 0;
    for (int64_t b = 0; b < B; b++) {
        allocate_roots(s, b, &rng[b]);
        for (int64_t k = b * K; k < (b + 1) * K; k++) {
            s->a[k] = s->A0[k];
            s->logw[k] = s->cum[k] = s->G[k] = 0;
            s->S[k] = s->disc[k] = 1;
            s->v_cur[k] = s->root_v[b];
            s->alive[k] = 1;
        }
    }
    sim->ops->start(sim->ctx, B, K);
    for (int64_t depth = 0; depth < c->D; depth++) {
        const bool more = depth + 1 < c->D;
        sim->ops->step(sim->ctx, s->a, s->alive, R, K, rng, expect, more, &s->step);
        one_step(s, R);
        record(s, B);
        advance(s, R);
        bool any = false;
        for (int64_t k = 0; k < R && !any; k++) any = s->alive[k];
        if (!more || !any) break;
        for (int64_t k = 0; k < R; k++) {
            if (!s->alive[k]) continue;
            const float *p = s->step.probs + k * A;
            s->a[k] = argmax ? mode_row(p, A) : sample_row(p, A, vb_rng_uniform_double(&rng[k / K]));
        }
        if (!argmax) maybe_resample(s, sim, B, depth, rng);
    }
    for (int64_t b = 0; b < B; b++) {
        if (c->target == VB_TARGET_WEIGHTS) readout_weights(s, b, q, v);
        else readout_backup(s, b, q, v);
    }
}

int32_t vb_smc_greedy(const vb_smc *s, int64_t b) {
    const int64_t A = s->A;
    const double *qs = s->qstar + b * A;
    const bool backup = s->cfg.target == VB_TARGET_BACKUP;
    int32_t best = -1, mode = -1;
    const float *pi = s->root_probs + b * A;
    for (int32_t a = 0; a < (int32_t)A; a++) {
        if (backup && !(s->qw[b * A + a] > 0) && s->cfg.D > 0) continue;
        if (best < 0 || qs[a] > qs[best]) best = a;
        if (mode < 0 || pi[a] > pi[mode]) mode = a;
    }
    if (best < 0) return mode_row(pi, A);
    if (!(s->cfg.greedy_margin > 0) || !backup) return best;
    const double *Q = s->qhat + b * A;
    return Q[best] - Q[mode] > s->cfg.greedy_margin ? best : mode;
}

void vb_smc_set_entropy(vb_smc *s, double tau) { s->cfg.tau = tau; }
double vb_smc_entropy(const vb_smc *s) { return s->cfg.tau; }
void vb_smc_set_depth(vb_smc *s, int64_t D) { s->cfg.D = D; }
int64_t vb_smc_depth(const vb_smc *s) { return s->cfg.D; }

const double *vb_smc_qhat(const vb_smc *s, int64_t b) { return s->qhat + b * s->A; }

bool vb_smc_evaluated(const vb_smc *s, int64_t b, int64_t a) { return s->qw[b * s->A + a] > 0; }

int64_t vb_smc_resamples(const vb_smc *s) { return s->resamples; }
