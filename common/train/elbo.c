/* elbo — see elbo.h. */
#include "elbo.h"

#include <math.h>

#include "../../kernels/math/dists.h"

void vb_elbo_carve(vb_elbo_ws *ws, vb_carver *c, const vb_mlp *dec, const vb_mlp *state_dec,
                   const vb_elbo_params *p, int64_t LN) {
    const int64_t D = dec->in - p->dec_obs, C = dec->out;
    float **rows_d[] = {&ws->mu, &ws->lv, &ws->pmu, &ws->plv, &ws->eps, &ws->z, &ws->d_z,
                        &ws->d_mu, &ws->d_lv, &ws->d_pmu, &ws->d_plv};
    for (size_t i = 0; i < sizeof rows_d / sizeof rows_d[0]; i++) *rows_d[i] = vb_carve(c, LN * D, sizeof(float));
    ws->zin = p->dec_obs ? vb_carve(c, LN * dec->in, sizeof(float)) : NULL;
    ws->d_zin = p->dec_obs ? vb_carve(c, LN * dec->in, sizeof(float)) : NULL;
    ws->cells = vb_carve(c, LN * C, sizeof(float));
    ws->d_cells = vb_carve(c, LN * C, sizeof(float));
    ws->prob = vb_carve(c, LN * C, sizeof(float));
    ws->lse = vb_carve(c, LN, sizeof(double));
    ws->kl = vb_carve(c, LN, sizeof(float));
    ws->wkl = vb_carve(c, LN, sizeof(float));
    ws->cache = vb_carve(c, vb_mlp_cache_floats(dec, LN), sizeof(float));
    ws->scratch = vb_carve(c, vb_mlp_scratch_floats(dec, LN), sizeof(float));
    if (state_dec) vb_elbo_state_carve(&ws->state, c, state_dec, &p->state, LN);
}

/* log p(y | decoder output v) of one cell and its derivative in v: Bernoulli
 * with logit v and target probability y, or unit-variance Gaussian with mean v. */
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

/* The softmax of every row of cells (LN, C) in prob, its log normaliser in lse. */
static void softmax_rows(const float *cells, float *prob, double *lse, int64_t LN, int64_t C) {
    for (int64_t r = 0; r < LN; r++) {
        lse[r] = vb_row_lse(cells + r * C, C);
        vb_row_softmax(prob + r * C, cells + r * C, C);
    }
}

/* Decode transition (cell, rew) from row r's cells: drow -= scale * the
 * log-likelihood's derivative; returns the log-likelihood. A categorical row's
 * derivative in v_k is g e_cell + gamma p_k: the sparse part is applied here,
 * the dense one adds to *gamma (applied once per row by the caller):
 *   hit:  log p_c,        g = 1,   gamma -= 1
 *   miss: log(1 - p_c),   g = -b,  gamma += b,   b = p_c / (1 - p_c)
 * A miss at a cell the row gives more than 1/2 is applied here in full
 * instead (-p_c at c, p_c p_k / (1 - p_c) elsewhere, 1 - p_c summed over the
 * other cells): through gamma, b would grow without bound as p_c -> 1 and
 * the two parts at c would cancel in float. */
static double decode(const vb_elbo_params *p, const vb_elbo_ws *ws, int64_t r, int64_t C, int32_t cell, float rew,
                     double scale, double *gamma) {
    const float *row = ws->cells + r * C;
    float *drow = ws->d_cells + r * C;
    double y = p->bernoulli ? (rew == p->hit_level ? 1.0 : 0.0) : rew, g, lp;
    if (p->categorical) {
        const double x = (double)row[cell] - ws->lse[r];
        if (y > 0.5) {
            lp = x;
            g = 1.0;
            *gamma -= 1.0;
        } else if (x < -0.6931471805599453) { /* p_c < 1/2 */
            const double q = -expm1(x), b = exp(x) / q;
            lp = log(q);
            g = -b;
            *gamma += b;
        } else {
            double q = 0;
            for (int64_t k = 0; k < C; k++)
                if (k != cell) q += exp((double)row[k] - ws->lse[r]);
            q = fmax(q, 1e-300);
            const double pc = exp(x);
            for (int64_t k = 0; k < C; k++)
                if (k != cell) drow[k] -= (float)(scale * pc * exp((double)row[k] - ws->lse[r]) / q);
            lp = log(q);
            g = -pc;
        }
    } else lp = cell_loglik(p->bernoulli, row[cell], y, &g);
    drow[cell] -= (float)(scale * g);
    return lp;
}

/* The task's labels y (C) from row r: the Bernoulli (or Gaussian) cells, or
 * the categorical cross-entropy sum_k y_k log p_k (kernels/math/dists.h);
 * drow -= scale * the derivative. Returns the log-likelihood. */
static double decode_labels(const vb_elbo_params *p, const vb_elbo_ws *ws, int64_t r, int64_t C, const float *y,
                            double scale) {
    const float *row = ws->cells + r * C;
    float *drow = ws->d_cells + r * C;
    double ll = 0, g;
    if (p->categorical) {
        vb_cat_xent_row_grad(drow, (float)scale, row, y, C);
        return -(double)vb_cat_xent_row(row, y, C);
    }
    for (int64_t k = 0; k < C; k++) {
        ll += cell_loglik(p->bernoulli, row[k], y[k], &g);
        drow[k] -= (float)(scale * g);
    }
    return ll;
}

/* Same-task pairs (row, transition) the reconstruction sums over. */
static int64_t count_pairs(const vb_elbo_batch *b) {
    const int64_t N = b->N, L = b->L;
    int64_t pairs = 0;
    for (int64_t w = 0; w < N; w++)
        for (int64_t t = 0; t < L; t++) {
            int32_t s = b->seg[t * N + w];
            for (int64_t i = 0; i < L; i++) pairs += b->seg[i * N + w] == s;
            for (int64_t j = 0; b->ext_n && j < b->ext_n[w]; j++) pairs += b->ext_seg[w * b->E + j] == s;
        }
    return pairs;
}

/* mu, logvar of every row and of its previous posterior. */
static void split_posteriors(const vb_backend *be, const vb_elbo_batch *b, const vb_elbo_ws *ws, int64_t D) {
    const int64_t N = b->N, LN = b->L * N;
    for (int64_t r = 0; r < LN; r++) {
        be->copy(ws->mu + r * D, b->phi + r * 2 * D, D);
        be->copy(ws->lv + r * D, b->phi + r * 2 * D + D, D);
        int64_t w = r % N;
        switch (b->prev_kind[r]) {
        case 0: be->fill(ws->pmu + r * D, 0.0f, D); be->fill(ws->plv + r * D, 0.0f, D); break;
        case 1:
            be->copy(ws->pmu + r * D, b->phi_prev0 + w * 2 * D, D);
            be->copy(ws->plv + r * D, b->phi_prev0 + w * 2 * D + D, D);
            break;
        default:
            be->copy(ws->pmu + r * D, b->phi + (r - N) * 2 * D, D);
            be->copy(ws->plv + r * D, b->phi + (r - N) * 2 * D + D, D);
        }
    }
}

enum { TASK_METRIC_STRIDE = 8 };

void vb_elbo_loss(const vb_backend *be, const vb_mlp *dec, const vb_mlp *state_dec, const float *P, float *G,
                  const vb_elbo_params *p, const vb_elbo_batch *b, const vb_elbo_ws *ws, vb_rng *rng, float *d_phi,
                  vb_update_stats *st) {
    const int64_t N = b->N, L = b->L, LN = L * N, D = dec->in - p->dec_obs, C = dec->out, W = dec->in;
    split_posteriors(be, b, ws, D);
    int64_t pairs = count_pairs(b), future = 0;
    double ll = 0, fll = 0, task_ll = 0, state_ll = 0;
    vb_elbo_state_batch sb = b->state;
    sb.L = L;
    sb.N = N;
    sb.seg = b->seg;
    /* each of S samples contributes 1/S of the reconstruction and its gradient */
    const int64_t S = p->samples > 0 ? p->samples : 1;
    const double scale = p->decode_task ? 0.0 : p->coef / (double)(pairs > 0 ? pairs : 1) / (double)S;
    be->fill(ws->d_mu, 0.0f, LN * D);
    be->fill(ws->d_lv, 0.0f, LN * D);
    for (int64_t smp = 0; smp < S; smp++) {
        /* forward: z = mu + exp(logvar / 2) eps -> cells */
        for (int64_t i = 0; i < LN * D; i++) ws->eps[i] = vb_rng_normal(rng);
        be->gauss_sample_forward(ws->z, ws->mu, ws->lv, ws->eps, LN * D);
        const float *in = ws->z;
        if (p->dec_obs) { /* (z_r, s_r) */
            vb_mlp_join_rows(be, ws->zin, ws->z, D, D, b->obs, b->obs_stride, 1, p->dec_obs, LN);
            in = ws->zin;
        }
        vb_mlp_forward(be, dec, P, ws->cells, in, ws->cache, LN);
        if (p->categorical) softmax_rows(ws->cells, ws->prob, ws->lse, LN, C);
        be->fill(ws->d_cells, 0.0f, LN * C);
        /* reconstruction over same-segment pairs (t, i); decoding the task,
         * the pairs only measure belief_future_loglik */
        for (int64_t w = 0; w < N; w++) {
            if (p->decode_task && (smp > 0 || w % TASK_METRIC_STRIDE != 0)) continue;
            for (int64_t t = 0; t < L; t++) {
                int64_t rt = t * N + w;
                double gamma = 0;
                for (int64_t i = 0; i < L; i++) {
                    int64_t ri = i * N + w;
                    if (b->seg[ri] != b->seg[rt]) continue;
                    double lp = decode(p, ws, rt, C, b->cell[ri], b->rew[ri], scale, &gamma);
                    ll += lp;
                    if (i >= t) {
                        fll += lp;
                        future += smp == 0;
                    }
                }
                for (int64_t j = 0; b->ext_n && j < b->ext_n[w]; j++) {
                    int64_t e = w * b->E + j;
                    if (b->ext_seg[e] != b->seg[rt]) continue;
                    double lp = decode(p, ws, rt, C, b->ext_cell[e], b->ext_rew[e], scale, &gamma);
                    ll += lp;
                    if (b->ext_future[e]) {
                        fll += lp;
                        future += smp == 0;
                    }
                }
                if (p->categorical && gamma != 0 && scale != 0)
                    for (int64_t k = 0; k < C; k++)
                        ws->d_cells[rt * C + k] -= (float)(scale * gamma * ws->prob[rt * C + k]);
            }
        }
        if (p->decode_task) { /* every cell of the task, once per row */
            const double ts = p->coef / (double)LN / (double)S;
            for (int64_t w = 0; w < N; w++)
                for (int64_t t = 0; t < L; t++) {
                    int64_t rt = t * N + w;
                    task_ll += decode_labels(p, ws, rt, C, b->task_cells + rt * C, ts);
                }
        }
        /* backward: cells (and successors) -> z -> (mu, logvar) */
        be->fill(ws->d_z, 0.0f, LN * D);
        if (state_dec)
            state_ll += vb_elbo_state_term(be, state_dec, P, G, &p->state, &sb, &ws->state, ws->z, ws->d_z,
                                           1.0 / (double)S, rng);
        if (p->dec_obs) {
            be->fill(ws->d_zin, 0.0f, LN * W);
            vb_mlp_backward(be, dec, P, G, ws->d_zin, ws->d_cells, in, ws->cells, ws->cache, ws->scratch, LN);
            for (int64_t r = 0; r < LN; r++) be->axpy(ws->d_z + r * D, 1.0f, ws->d_zin + r * W, D);
        } else vb_mlp_backward(be, dec, P, G, ws->d_z, ws->d_cells, in, ws->cells, ws->cache, ws->scratch, LN);
        be->gauss_sample_backward(ws->d_mu, ws->d_lv, ws->d_z, ws->lv, ws->eps, LN * D);
    }
    ll /= (double)S;
    if (!p->decode_task) fll /= (double)S;
    task_ll /= (double)S;
    st->state_loglik = state_dec ? state_ll / (double)S : 0;
    /* KL(q_r || q_{r-1}), forward and backward */
    be->gauss_kl_forward(ws->kl, ws->mu, ws->lv, ws->pmu, ws->plv, LN, D);
    double kl = be->sum(ws->kl, LN);
    const double norm = p->decode_task ? (double)LN : (double)(pairs > 0 ? pairs : 1);
    be->fill(ws->wkl, (float)(p->coef * p->kl_beta / norm), LN);
    be->fill(ws->d_pmu, 0.0f, LN * D);
    be->fill(ws->d_plv, 0.0f, LN * D);
    be->gauss_kl_backward(ws->d_mu, ws->d_lv, ws->d_pmu, ws->d_plv, ws->wkl, ws->mu, ws->lv, ws->pmu, ws->plv, LN, D);
    for (int64_t r = 0; r < LN; r++) {
        be->axpy(d_phi + r * 2 * D, 1.0f, ws->d_mu + r * D, D);
        be->axpy(d_phi + r * 2 * D + D, 1.0f, ws->d_lv + r * D, D);
        if (b->prev_kind[r] == 2) { /* the previous posterior is in the graph too */
            be->axpy(d_phi + (r - N) * 2 * D, 1.0f, ws->d_pmu + r * D, D);
            be->axpy(d_phi + (r - N) * 2 * D + D, 1.0f, ws->d_plv + r * D, D);
        } else if (b->prev_kind[r] == 1 && b->d_phi_prev0) {
            float *dp = b->d_phi_prev0 + (r % N) * 2 * D;
            be->axpy(dp, 1.0f, ws->d_pmu + r * D, D);
            be->axpy(dp + D, 1.0f, ws->d_plv + r * D, D);
        }
    }
    if (p->decode_task) {
        st->loss_recon = -task_ll / (double)(p->categorical ? LN : LN * C); /* per cell, or per row */
        st->elbo = (task_ll - p->kl_beta * kl) / (double)LN;
    } else {
        st->loss_recon = pairs ? -ll / (double)pairs : 0;
        st->elbo = (ll - p->kl_beta * kl) / (double)(pairs > 0 ? pairs : 1);
    }
    st->kl = kl / (double)LN;
    st->belief_future_loglik = future ? fll / (double)future : 0;
}
