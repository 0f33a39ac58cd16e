/* model — see model.h. */
#include "model.h"

#include "../base/carve.h"
#include "../base/par.h"
#include "../nn/softmax_cells.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vb_model_build(vb_model *m, const vb_model_cfg *c, const vb_env_spec *spec, char *err, size_t err_len) {
    memset(m, 0, sizeof *m);
    vb_model_dims *d = &m->d;
    d->obs = spec->obs_size;
    d->actions = spec->num_actions;
    m->spec = *spec;
    if (c->cell_input && spec->state_cells <= 0)
        return snprintf(err, err_len,
                        "model.cell_input reads a one-hot of the state cell, and env %s has continuous observations "
                        "(no state cells): set it to false", spec->name), -1;
    d->in_cells = c->cell_input ? spec->state_cells : 0;
    d->in = d->obs + d->actions + 3 + d->in_cells;
    d->steps_per_task = spec->steps_per_task;
    d->task_clock = c->task_clock;
    d->embed = c->embed;
    d->hidden = c->hidden;
    d->latent = c->latent;
    d->mlp_hidden = c->mlp_hidden;
    d->s5_state = c->s5_state;
    d->core = c->core;
    d->algo = c->algo;
    d->carry = d->core == VB_CORE_GRU ? d->hidden : 2 * d->s5_state;
    d->belief_features = d->algo != VB_ALGO_RL2;
    d->policy_hidden = d->belief_features && c->policy_hidden;
    d->has_decoder = d->algo != VB_ALGO_RL2;
    d->policy_cells = d->belief_features && c->policy_cells;
    /* the state head exists exactly when the planner reads it, and the ELBO then trains it */
    d->has_state_head = d->algo == VB_ALGO_VARIBASED && vb_env_resolve_dynamics(spec, c->dynamics) == VB_DYN_LEARNED;
    d->state_cells = spec->state_cells;
    d->state_out = d->state_cells > 0 ? d->state_cells : d->obs;
    d->reward_cells = spec->reward_cells;
    d->reward_kind = spec->reward_kind;
    d->reward_levels[0] = spec->reward_levels[0];
    d->reward_levels[1] = spec->reward_levels[1];
    d->cell_hit_prior = spec->reward_kind == VB_REWARD_BERNOULLI ? (float)spec->cell_hit_prior : 0.0f;
    if (d->reward_cells < 1) return snprintf(err, err_len, "env %s has no reward cells", spec->name), -1;
    d->reward_categorical = d->has_decoder && c->reward_decoder == VB_RDEC_CATEGORICAL;
    if (d->reward_categorical && d->reward_kind != VB_REWARD_BERNOULLI)
        return snprintf(err, err_len,
                        "model.reward_decoder: categorical needs Bernoulli rewards (one cell holds the reward); "
                        "env %s's rewards are Gaussian: use independent", spec->name), -1;
    if (d->reward_categorical && d->reward_cells < 2)
        return snprintf(err, err_len, "model.reward_decoder: categorical is a softmax over the reward cells, and env "
                        "%s has one: use independent", spec->name), -1;
    d->reward_latent = d->has_decoder ? c->reward_latent : 0;
    if (c->decoder_reward && !c->decoder_obs)
        return snprintf(err, err_len, "model.decoder_reward adds r_{t-1} to what the reward decoder reads of the "
                        "observation: it needs model.decoder_obs: true"), -1;
    d->dec_reward = d->has_decoder && c->decoder_obs && c->decoder_reward;
    d->dec_obs = d->has_decoder && c->decoder_obs ? d->obs + d->in_cells + d->dec_reward : 0;
    if (d->reward_latent > 0 && !d->has_state_head)
        return snprintf(err, err_len,
                        "model.reward_latent %lld splits the latent between the reward and next-state decoders, and "
                        "this run has no next-state decoder (planner.dynamics resolves to env): set it to 0",
                        (long long)d->reward_latent), -1;
    if (d->reward_latent >= d->latent)
        return snprintf(err, err_len, "model.reward_latent %lld leaves the next-state decoder no latent dims: it must "
                        "be below model.latent %lld (0: no split)", (long long)d->reward_latent, (long long)d->latent),
               -1;
    d->feat = d->obs + 1 + (d->belief_features ? 2 * d->latent : d->hidden) + (d->policy_hidden ? d->hidden : 0) +
              (d->policy_cells ? d->reward_cells : 0);

    vb_layout_init(&m->layout);
    vb_layout *l = &m->layout;
    int rc = vb_linear_layout(&m->embed, l, "enc.embed", d->in, d->embed, 1);
    if (d->core == VB_CORE_GRU) {
        rc |= vb_gru_layout(&m->gru, l, "enc.gru", d->embed, d->hidden);
    } else {
        rc |= vb_linear_layout(&m->s5_in, l, "enc.s5_in", d->embed, d->hidden, 1);
        rc |= vb_s5_layout(&m->s5, l, "enc.s5", d->hidden, d->s5_state);
    }
    rc |= vb_linear_layout(&m->belief, l, "enc.belief", d->hidden, 2 * d->latent, 1);
    const int64_t hid[2] = {d->mlp_hidden, d->mlp_hidden};
    if (d->has_decoder)
        rc |= vb_mlp_layout(&m->reward_dec, l, "dec.reward", d->latent + d->dec_obs, hid, 2, d->reward_cells,
                            VB_ACT_RELU, VB_ACT_NONE);
    if (d->has_state_head)
        rc |= vb_mlp_layout(&m->state_dec, l, "dec.state", d->obs + d->actions + d->latent, hid, 2, d->state_out,
                            VB_ACT_RELU, VB_ACT_NONE);
    rc |= vb_mlp_layout(&m->policy, l, "policy", d->feat, hid, 2, d->actions, VB_ACT_TANH, VB_ACT_NONE);
    rc |= vb_mlp_layout(&m->value, l, "value", d->feat, hid, 2, 1, VB_ACT_TANH, VB_ACT_NONE);
    if (rc != 0) return snprintf(err, err_len, "model does not fit the parameter layout"), -1;
    return 0;
}

int vb_model_init(const vb_model *m, float *P, uint64_t seed) {
    vb_rng r;
    vb_rng_init(&r, seed, 0x6d6f64656c); /* the "model" stream of the run seed */
    memset(P, 0, sizeof(float) * (size_t)m->layout.total);
    vb_linear_init(&m->embed, P, &r);
    if (m->d.core == VB_CORE_GRU) {
        vb_gru_init(&m->gru, P, &r);
    } else {
        vb_linear_init(&m->s5_in, P, &r);
        if (vb_s5_init(&m->s5, P, &r) != 0) return -1;
    }
    vb_linear_init(&m->belief, P, &r);
    if (m->d.has_decoder) {
        vb_mlp_init(&m->reward_dec, P, &r);
        /* start the reward head at the prior's logit: from a logit of 0 Adam takes
         * thousands of updates to get there, and in those the shared push on every
         * cell swamps what the latent could explain */
        const float p = m->d.cell_hit_prior;
        if (p > 0.0f && p < 1.0f) {
            const vb_linear *out = &m->reward_dec.layer[m->reward_dec.n - 1];
            for (int64_t j = 0; j < out->out; j++) P[out->b + j] = logf(p / (1.0f - p));
        }
    }
    if (m->d.has_state_head) vb_mlp_init(&m->state_dec, P, &r);
    vb_model_mask_split(vb_backend_cpu(), m, P);
    vb_mlp_init(&m->policy, P, &r);
    vb_mlp_init(&m->value, P, &r);
    /* a near-uniform initial policy and a near-zero value: scale the last layers */
    const vb_linear *pl = &m->policy.layer[m->policy.n - 1], *vl = &m->value.layer[m->value.n - 1];
    for (int64_t i = 0; i < pl->in * pl->out; i++) P[pl->w + i] *= 0.01f;
    for (int64_t i = 0; i < vl->in * vl->out; i++) P[vl->w + i] *= 0.1f;
    return 0;
}

void vb_model_mask_split(const vb_backend *be, const vb_model *m, float *X) {
    const vb_model_dims *d = &m->d;
    const int64_t k = d->reward_latent;
    if (k <= 0) return;
    const vb_linear *r = &m->reward_dec.layer[0], *s = &m->state_dec.layer[0];
    const int64_t at = d->obs + d->actions; /* the state head's input is (s, onehot a, m) */
    for (int64_t o = 0; o < r->out; o++) be->fill(X + r->w + o * r->in + k, 0.0f, d->latent - k);
    for (int64_t o = 0; o < s->out; o++) be->fill(X + s->w + o * s->in + at, 0.0f, k);
}

void vb_model_reward_logodds(const vb_model_dims *d, float *cells, int64_t N) {
    if (d->reward_categorical) vb_softmax_logodds(cells, N, d->reward_cells);
}

/* model.cell_input: the one-hot (in_cells) of obs's state cell. */
static void onehot_cell(const vb_model *m, float *out, const float *obs) {
    memset(out, 0, sizeof(float) * (size_t)m->d.in_cells);
    out[vb_env_state_cell(&m->spec, obs)] = 1.0f;
}

void vb_model_state_input(const vb_model *m, float *out, const float *obs, float r_prev) {
    memcpy(out, obs, sizeof(float) * (size_t)m->d.obs);
    if (m->d.in_cells > 0) onehot_cell(m, out + m->d.obs, obs);
    if (m->d.dec_reward) out[m->d.dec_obs - 1] = r_prev;
}

void vb_model_input(const vb_model *m, float *x, const float *obs, int32_t a_prev, float r_prev, float done_prev,
                    int64_t task_step) {
    const vb_model_dims *d = &m->d;
    memcpy(x, obs, sizeof(float) * (size_t)d->obs);
    memset(x + d->obs, 0, sizeof(float) * (size_t)d->actions);
    if (a_prev >= 0 && a_prev < d->actions) x[d->obs + a_prev] = 1.0f;
    x[d->obs + d->actions] = a_prev >= 0 ? r_prev : 0.0f;
    x[d->obs + d->actions + 1] = a_prev >= 0 ? done_prev : 0.0f;
    if (d->in_cells > 0) onehot_cell(m, x + d->obs + d->actions + 2, obs);
    x[d->in - 1] =
        d->task_clock && d->steps_per_task > 0 ? (float)task_step / (float)d->steps_per_task : 0.0f;
}

const float *vb_model_reward_input(const vb_backend *be, const vb_model *m, float *buf, const float *z,
                                   int64_t z_stride, const float *s, int64_t s_stride, const float *r, int64_t r_stride,
                                   int64_t s_every, int64_t N) {
    const vb_model_dims *d = &m->d;
    if (d->dec_obs == 0 && z_stride == d->latent) return z;
    if (d->in_cells == 0 && !d->dec_reward) {
        vb_mlp_join_rows(be, buf, z, z_stride, d->latent, s, s_stride, s_every, d->dec_obs, N);
        return buf;
    }
    const int64_t W = d->latent + d->dec_obs; /* (z, s, onehot cell(s), [r]) */
    for (int64_t n = 0; n < N; n++) {
        be->copy(buf + n * W, z + n * z_stride, d->latent);
        const int64_t i = n / s_every;
        float *row = buf + n * W + d->latent;
        if (n % s_every == 0) vb_model_state_input(m, row, s + i * s_stride, r ? r[i * r_stride] : 0.0f);
        else be->copy(row, row - W, d->dec_obs); /* the same state as the row before: its cell is found once */
    }
    return buf;
}

int64_t vb_model_features_ws_floats(const vb_model *m, int64_t N) {
    if (!m->d.policy_cells) return 0;
    return N * (m->d.latent + m->d.dec_obs + m->d.reward_cells) + vb_mlp_cache_floats(&m->reward_dec, N);
}

void vb_model_features(const vb_backend *be, const vb_model *m, const float *P, float *feat, const float *x,
                       const float *o, const float *phi, float *ws, int64_t N) {
    const vb_model_dims *d = &m->d;
    const int64_t C = d->reward_cells;
    for (int64_t i = 0; i < N; i++) {
        float *f = feat + i * d->feat;
        const float *xi = x + i * d->in;
        memcpy(f, xi, sizeof(float) * (size_t)d->obs);
        f[d->obs] = xi[d->in - 1];
        if (d->belief_features) {
            memcpy(f + d->obs + 1, phi + i * 2 * d->latent, sizeof(float) * (size_t)(2 * d->latent));
            if (d->policy_hidden)
                memcpy(f + d->obs + 1 + 2 * d->latent, o + i * d->hidden, sizeof(float) * (size_t)d->hidden);
        } else
            memcpy(f + d->obs + 1, o + i * d->hidden, sizeof(float) * (size_t)d->hidden);
    }
    if (!d->policy_cells) return;
    /* c = dec(mu[, s]) (N, C): mu gathered from phi (and s from x), the cells written at the end of each row */
    float *in = ws, *c = ws + N * (d->latent + d->dec_obs), *cache = c + N * C;
    const float *mu =
        vb_model_reward_input(be, m, in, phi, 2 * d->latent, x, d->in, x + vb_model_input_reward_at(d), d->in, 1, N);
    vb_mlp_forward(be, &m->reward_dec, P, c, mu, cache, N);
    vb_model_reward_logodds(d, c, N);
    if (d->reward_kind == VB_REWARD_BERNOULLI) be->act_forward(VB_ACT_SIGMOID, c, c, N * C);
    for (int64_t i = 0; i < N; i++) be->copy(feat + i * d->feat + d->feat - C, c + i * C, C);
}

bool vb_model_features_backward(const vb_backend *be, const vb_model *m, const float *d_feat, float *d_o,
                                float *d_phi, int64_t N) {
    const vb_model_dims *d = &m->d;
    const int64_t at = d->obs + 1; /* after (s, tau) */
    if (!d->belief_features) { /* (s, tau, o) */
        for (int64_t r = 0; r < N; r++) be->copy(d_o + r * d->hidden, d_feat + r * d->feat + at, d->hidden);
        return true;
    }
    for (int64_t r = 0; r < N; r++) be->axpy(d_phi + r * 2 * d->latent, 1.0f, d_feat + r * d->feat + at, 2 * d->latent);
    if (!d->policy_hidden) return false;
    for (int64_t r = 0; r < N; r++)
        be->copy(d_o + r * d->hidden, d_feat + r * d->feat + at + 2 * d->latent, d->hidden);
    return true;
}

/* carry rows (N, 2P) <-> S5 planes (2, N, P) */
static void carry_to_planes(const vb_backend *be, float *planes, const float *carry, int64_t N, int64_t P) {
    for (int64_t b = 0; b < N; b++) {
        be->copy(planes + b * P, carry + b * 2 * P, P);
        be->copy(planes + N * P + b * P, carry + b * 2 * P + P, P);
    }
}
static void planes_to_carry(const vb_backend *be, float *carry, const float *planes, int64_t N, int64_t P) {
    for (int64_t b = 0; b < N; b++) {
        be->copy(carry + b * 2 * P, planes + b * P, P);
        be->copy(carry + b * 2 * P + P, planes + N * P + b * P, P);
    }
}

static void encoder_ws_carve(vb_encoder_ws *ws, vb_carver *c, const vb_model *m, int64_t T, int64_t N) {
    const vb_model_dims *d = &m->d;
    const int64_t TN = T * N, wide = d->embed > d->hidden ? d->embed : d->hidden, f = sizeof(float);
    ws->e = vb_carve(c, TN * d->embed, f);
    ws->e_pre = vb_carve(c, TN * d->embed, f);
    ws->d_o = vb_carve(c, TN * d->hidden, f);
    ws->d_e = vb_carve(c, TN * d->embed, f);
    ws->d_tmp = vb_carve(c, TN * wide + 2 * N * d->s5_state, f);
    if (d->core == VB_CORE_GRU) {
        ws->core_cache = vb_carve(c, vb_gru_seq_cache_floats(&m->gru, T, N), f);
        ws->scratch = vb_carve(c, vb_gru_seq_scratch_floats(&m->gru, T, N), f);
    } else {
        ws->u = vb_carve(c, TN * d->hidden, f);
        ws->y = vb_carve(c, TN * d->hidden, f);
        ws->core_cache = vb_carve(c, vb_s5_scan_cache_floats(&m->s5, T, N) + 2 * N * d->s5_state, f);
        ws->scratch = vb_carve(c, vb_s5_scan_scratch_floats(&m->s5, T, N, ws->threads), f);
    }
}

int vb_encoder_ws_init(vb_encoder_ws *ws, const vb_model *m, int64_t T, int64_t N, int threads) {
    memset(ws, 0, sizeof *ws);
    ws->T = T;
    ws->N = N;
    ws->threads = vb_par_parts(threads, N);
    vb_carver c = {0};
    encoder_ws_carve(ws, &c, m, T, N);
    if (!(ws->block = calloc(1, c.off))) return -1;
    c = (vb_carver){.base = ws->block};
    encoder_ws_carve(ws, &c, m, T, N);
    return 0;
}

void vb_encoder_ws_free(vb_encoder_ws *ws) {
    free(ws->block);
    memset(ws, 0, sizeof *ws);
}

/* the S5 planes of carry0 live after the scan cache */
static float *s5_x0(const vb_model *m, vb_encoder_ws *ws) {
    return ws->core_cache + vb_s5_scan_cache_floats(&m->s5, ws->T, ws->N);
}

void vb_encoder_forward(const vb_backend *be, const vb_model *m, const float *P, const float *x, const float *carry0,
                        const uint8_t *reset, float *o, float *phi, float *carry_out, vb_encoder_ws *ws, int64_t T,
                        int64_t N) {
    const vb_model_dims *d = &m->d;
    const int64_t TN = T * N;
    vb_linear_forward(be, &m->embed, P, ws->e_pre, x, TN);
    be->act_forward(VB_ACT_RELU, ws->e, ws->e_pre, TN * d->embed);
    if (d->core == VB_CORE_GRU) {
        vb_gru_seq_forward(be, &m->gru, P, o, ws->e, carry0, reset, ws->core_cache, T, N, ws->threads);
        if (carry_out) be->copy(carry_out, o + (T - 1) * N * d->hidden, N * d->hidden);
    } else {
        float *x0 = s5_x0(m, ws);
        carry_to_planes(be, x0, carry0, N, d->s5_state);
        vb_linear_forward(be, &m->s5_in, P, ws->u, ws->e, TN);
        vb_s5_scan_forward(be, &m->s5, P, ws->y, ws->u, x0, reset, ws->core_cache, T, N, ws->threads);
        be->act_forward(VB_ACT_GELU, o, ws->y, TN * d->hidden);
        if (carry_out) {
            float *xf = ws->d_tmp; /* free until backward */
            vb_s5_scan_final(be, &m->s5, ws->core_cache, xf, T, N);
            planes_to_carry(be, carry_out, xf, N, d->s5_state);
        }
    }
    vb_linear_forward(be, &m->belief, P, phi, o, TN);
}

void vb_encoder_backward(const vb_backend *be, const vb_model *m, const float *P, float *G, const float *x,
                         const float *carry0, const uint8_t *reset, const float *o, const float *d_o,
                         const float *d_phi, float *d_carry0, vb_encoder_ws *ws, int64_t T, int64_t N) {
    const vb_model_dims *d = &m->d;
    const int64_t TN = T * N;
    (void)carry0;
    if (d_o) be->copy(ws->d_o, d_o, TN * d->hidden);
    else be->fill(ws->d_o, 0.0f, TN * d->hidden);
    if (d_phi) vb_linear_backward(be, &m->belief, P, G, ws->d_o, d_phi, o, TN);
    be->fill(ws->d_e, 0.0f, TN * d->embed);
    if (d->core == VB_CORE_GRU) {
        vb_gru_seq_backward(be, &m->gru, P, G, ws->d_e, d_carry0, ws->d_o, ws->e, reset, ws->core_cache, ws->scratch,
                            T, N, ws->threads);
    } else {
        float *d_y = ws->d_tmp, *d_u = ws->d_o; /* d_o is consumed by the gelu step first */
        be->fill(d_y, 0.0f, TN * d->hidden);
        be->act_backward(VB_ACT_GELU, d_y, ws->d_o, ws->y, o, TN * d->hidden);
        be->fill(d_u, 0.0f, TN * d->hidden);
        vb_s5_scan_backward(be, &m->s5, P, G, d_u, NULL, d_y, ws->u, s5_x0(m, ws), reset, ws->core_cache,
                            ws->scratch, T, N, ws->threads);
        vb_linear_backward(be, &m->s5_in, P, G, ws->d_e, d_u, ws->e, TN);
    }
    float *d_pre = ws->d_tmp;
    be->fill(d_pre, 0.0f, TN * d->embed);
    be->act_backward(VB_ACT_RELU, d_pre, ws->d_e, ws->e_pre, ws->e, TN * d->embed);
    vb_linear_backward(be, &m->embed, P, G, NULL, d_pre, x, TN);
}

static void step_ws_carve(vb_encoder_step_ws *ws, vb_carver *c, const vb_model *m, int64_t N) {
    const vb_model_dims *d = &m->d;
    const size_t f = sizeof(float);
    ws->e = vb_carve(c, N * d->embed, f);
    ws->u = vb_carve(c, N * d->hidden, f);
    ws->y = vb_carve(c, N * d->hidden, f);
    if (d->core == VB_CORE_GRU) {
        ws->cache = vb_carve(c, vb_gru_step_cache_floats(&m->gru, N), f);
        ws->pack_embed = vb_carve(c, vb_linear_packed_floats(&m->embed), f);
        ws->pack_gru = vb_carve(c, vb_gru_packed_floats(&m->gru), f);
        ws->pack_belief = vb_carve(c, vb_linear_packed_floats(&m->belief), f);
    } else {
        ws->disc = vb_carve(c, vb_s5_disc_floats(&m->s5), f);
        ws->cache = vb_carve(c, 2 * N * d->s5_state, f);
        ws->scratch = vb_carve(c, vb_s5_step_scratch_floats(&m->s5, N), f);
    }
}

int vb_encoder_step_ws_init(vb_encoder_step_ws *ws, const vb_model *m, int64_t N) {
    memset(ws, 0, sizeof *ws);
    ws->N = N;
    vb_carver c = {0};
    step_ws_carve(ws, &c, m, N);
    if (!(ws->block = calloc(1, c.off))) return -1;
    c = (vb_carver){.base = ws->block};
    step_ws_carve(ws, &c, m, N);
    return 0;
}

void vb_encoder_step_ws_free(vb_encoder_step_ws *ws) {
    free(ws->block);
    memset(ws, 0, sizeof *ws);
}

void vb_encoder_step_prepare(const vb_backend *be, const vb_model *m, const float *P, vb_encoder_step_ws *ws) {
    if (m->d.core == VB_CORE_S5) {
        vb_s5_discretize(be, &m->s5, P, ws->disc);
        return;
    }
    vb_linear_pack(be, &m->embed, P, ws->pack_embed);
    vb_gru_pack(be, &m->gru, P, ws->pack_gru);
    vb_linear_pack(be, &m->belief, P, ws->pack_belief);
}

/* The GRU encoder's step for rows in blocks of be->chain_rows
 * (vb_chain_block, as vb_mlp_infer's): each block through the embedding, the
 * GRU and the belief head while its activations are in cache, every block
 * reusing the start of the workspace. Each row's result does not depend on
 * the blocks where the CPU's fused kernel runs (tests/unit/test_model_step.c). */
static void gru_step_chained(const vb_backend *be, const vb_model *m, const float *P, float *carry, const float *x,
                             float *o, float *phi, vb_encoder_step_ws *ws, int64_t N) {
    const vb_model_dims *d = &m->d;
    const int64_t H = d->hidden;
    for (int64_t r0 = 0, rows; r0 < N; r0 += rows) {
        rows = vb_chain_block(be, N, r0);
        float *h = carry + r0 * H, *ob = o + r0 * H;
        vb_linear_infer(be, &m->embed, P, ws->pack_embed, VB_ACT_RELU, ws->e, x + r0 * d->in, rows);
        vb_gru_step_infer(be, &m->gru, P, ws->pack_gru, ob, ws->e, h, ws->cache, rows);
        be->copy(h, ob, rows * H);
        vb_linear_infer(be, &m->belief, P, ws->pack_belief, VB_ACT_NONE, phi + r0 * 2 * d->latent, ob, rows);
    }
}

/* gru_step_chained for both outcomes (vb_encoder_step_shared): blocks of
 * the R carries, each block's two outcomes embedded side by side in ws->e and
 * stepped from the block's carries by one vb_gru_step_infer_pair. */
static void gru_step_shared(const vb_backend *be, const vb_model *m, const float *P, float *carry, const float *x,
                            float *o, float *phi, vb_encoder_step_ws *ws, int64_t R) {
    const vb_model_dims *d = &m->d;
    const int64_t H = d->hidden, L2 = 2 * d->latent;
    for (int64_t r0 = 0, rows; r0 < R; r0 += rows) {
        rows = vb_chain_block(be, R, r0);
        float *h_a = carry + r0 * H, *h_b = carry + (R + r0) * H, *o_a = o + r0 * H, *o_b = o + (R + r0) * H;
        vb_linear_infer(be, &m->embed, P, ws->pack_embed, VB_ACT_RELU, ws->e, x + r0 * d->in, rows);
        vb_linear_infer(be, &m->embed, P, ws->pack_embed, VB_ACT_RELU, ws->e + rows * d->embed,
                        x + (R + r0) * d->in, rows);
        vb_gru_step_infer_pair(be, &m->gru, P, ws->pack_gru, o_a, o_b, ws->e, h_a, ws->cache, rows);
        be->copy(h_a, o_a, rows * H);
        be->copy(h_b, o_b, rows * H);
        vb_linear_infer(be, &m->belief, P, ws->pack_belief, VB_ACT_NONE, phi + r0 * L2, o_a, rows);
        vb_linear_infer(be, &m->belief, P, ws->pack_belief, VB_ACT_NONE, phi + (R + r0) * L2, o_b, rows);
    }
}

void vb_encoder_step_shared(const vb_backend *be, const vb_model *m, const float *P, float *carry, const float *x,
                            float *o, float *phi, vb_encoder_step_ws *ws, int64_t R) {
    if (m->d.core == VB_CORE_GRU) {
        gru_step_shared(be, m, P, carry, x, o, phi, ws, R);
        return;
    }
    be->copy(carry + R * m->d.carry, carry, R * m->d.carry);
    vb_encoder_step(be, m, P, carry, x, o, phi, ws, 2 * R);
}

void vb_encoder_step(const vb_backend *be, const vb_model *m, const float *P, float *carry, const float *x,
                     float *o, float *phi, vb_encoder_step_ws *ws, int64_t N) {
    const vb_model_dims *d = &m->d;
    if (d->core == VB_CORE_GRU) {
        gru_step_chained(be, m, P, carry, x, o, phi, ws, N);
        return;
    }
    vb_linear_forward(be, &m->embed, P, ws->e, x, N);
    be->act_forward(VB_ACT_RELU, ws->e, ws->e, N * d->embed);
    vb_linear_forward(be, &m->s5_in, P, ws->u, ws->e, N);
    carry_to_planes(be, ws->cache, carry, N, d->s5_state);
    vb_s5_step(be, &m->s5, P, ws->disc, ws->cache, ws->y, ws->u, ws->scratch, N);
    planes_to_carry(be, carry, ws->cache, N, d->s5_state);
    be->act_forward(VB_ACT_GELU, o, ws->y, N * d->hidden);
    vb_linear_forward(be, &m->belief, P, phi, o, N);
}
