/* elbo_state — see elbo_state.h. */
#include "elbo_state.h"

#include <math.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453

static int64_t width_out(const vb_elbo_state_params *p) { return p->state_cells > 0 ? p->state_cells : p->obs; }

void vb_elbo_state_carve(vb_elbo_state_ws *ws, vb_carver *c, const vb_mlp *dec, const vb_elbo_state_params *p,
                         int64_t LN) {
    const int64_t R = LN * (p->pairs > 0 ? p->pairs : 1), W = dec->in, S = width_out(p);
    ws->pick = vb_carve(c, R, sizeof(int32_t));
    ws->in = vb_carve(c, R * W, sizeof(float));
    ws->d_in = vb_carve(c, R * W, sizeof(float));
    ws->out = vb_carve(c, R * S, sizeof(float));
    ws->d_out = vb_carve(c, R * S, sizeof(float));
    ws->cache = vb_carve(c, vb_mlp_cache_floats(dec, R), sizeof(float));
    ws->scratch = vb_carve(c, vb_mlp_scratch_floats(dec, R), sizeof(float));
}

/* log p of the decoded transition i under one output row, and d log p / d out. */
static double loglik(const vb_elbo_state_params *p, const vb_elbo_state_batch *b, int64_t i, const float *out,
                     float *dout) {
    if (p->state_cells > 0) {
        const int64_t S = p->state_cells, c = b->next_cell[i];
        double mx = -INFINITY, sum = 0;
        for (int64_t k = 0; k < S; k++) mx = fmax(mx, out[k]);
        for (int64_t k = 0; k < S; k++) sum += exp((double)out[k] - mx);
        for (int64_t k = 0; k < S; k++) dout[k] = (float)((k == c) - exp((double)out[k] - mx) / sum);
        return (double)out[c] - mx - log(sum);
    }
    double l = 0;
    const float *y = b->next + i * p->obs;
    for (int64_t k = 0; k < p->obs; k++) {
        double e = (double)y[k] - out[k];
        dout[k] = (float)e;
        l += -0.5 * (e * e + LOG_2PI);
    }
    return l;
}

double vb_elbo_state_term(const vb_backend *be, const vb_mlp *dec, const float *P, float *G,
                          const vb_elbo_state_params *p, const vb_elbo_state_batch *b, const vb_elbo_state_ws *ws,
                          const float *z, float *d_z, double weight, vb_rng *rng) {
    const int64_t N = b->N, L = b->L, LN = L * N, K = p->pairs > 0 ? p->pairs : 1, O = p->obs, A = p->actions,
                  W = dec->in, D = W - O - A, S = width_out(p), R = LN * K;
    /* pairs: each row's segment is a run of consecutive steps of its window */
    for (int64_t w = 0; w < N; w++) {
        int64_t t0 = 0;
        while (t0 < L) {
            int64_t t1 = t0 + 1;
            while (t1 < L && b->seg[t1 * N + w] == b->seg[t0 * N + w]) t1++;
            for (int64_t t = t0; t < t1; t++)
                for (int64_t j = 0; j < K; j++)
                    ws->pick[(t * N + w) * K + j] = (int32_t)((t0 + vb_rng_below(rng, (uint32_t)(t1 - t0))) * N + w);
            t0 = t1;
        }
    }
    /* forward: (s_i, onehot a_i, z_r) -> outputs */
    for (int64_t q = 0; q < R; q++) {
        const int64_t r = q / K, i = ws->pick[q];
        float *row = ws->in + q * W;
        memcpy(row, b->obs + i * O, sizeof(float) * (size_t)O);
        memset(row + O, 0, sizeof(float) * (size_t)A);
        row[O + b->act[i]] = 1.0f;
        memcpy(row + O + A, z + r * D, sizeof(float) * (size_t)D);
    }
    vb_mlp_forward(be, dec, P, ws->out, ws->in, ws->cache, R);
    /* the loss -J and its gradient in the outputs */
    const double scale = p->coef * weight / (double)R;
    double ll = 0;
    for (int64_t q = 0; q < R; q++) {
        float *dq = ws->d_out + q * S;
        ll += loglik(p, b, ws->pick[q], ws->out + q * S, dq);
        for (int64_t k = 0; k < S; k++) dq[k] = (float)(-scale * dq[k]);
    }
    /* backward: outputs -> decoder, latent */
    be->fill(ws->d_in, 0.0f, R * W);
    vb_mlp_backward(be, dec, P, G, ws->d_in, ws->d_out, ws->in, ws->out, ws->cache, ws->scratch, R);
    for (int64_t q = 0; q < R; q++) be->axpy(d_z + (q / K) * D, 1.0f, ws->d_in + q * W + O + A, D);
    return ll / (double)R;
}
