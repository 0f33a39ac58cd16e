/* exact_gridnavi — see exact_gridnavi.h. */
#include "exact_gridnavi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/rng.h"

static int32_t move_cell(const xg_world *w, int32_t c, int32_t a) {
    int32_t x = c % w->g, y = c / w->g, last = w->g - 1;
    if (a == 1 && y < last) y++;
    if (a == 2 && x < last) x++;
    if (a == 3 && y > 0) y--;
    if (a == 4 && x > 0) x--;
    return y * w->g + x;
}

void xg_init(xg_world *w, int32_t g, int32_t episode_length, int32_t episodes, double gamma, uint64_t policy_seed,
             double sharpness) {
    memset(w, 0, sizeof *w);
    w->g = g;
    w->episode_length = episode_length;
    w->episodes = episodes;
    w->steps = episode_length * episodes;
    w->gamma = gamma;
    w->r_miss = -0.1;
    w->r_hit = 1.0;
    w->policy_seed = policy_seed;
    w->sharpness = sharpness;
    for (int32_t c = 0; c < g * g; c++) w->cand[c] = (c % g < 2 && c / g < 2) ? -1 : w->candidates++;
    w->memo_size = ((int64_t)(w->steps + 1) * 256) << w->candidates;
    w->memo_pi = malloc((size_t)w->memo_size * sizeof(double));
    w->memo_star = malloc((size_t)w->memo_size * sizeof(double));
    xg_forget(w);
}

void xg_forget(xg_world *w) {
    for (int64_t i = 0; i < w->memo_size; i++) w->memo_pi[i] = w->memo_star[i] = NAN;
}

void xg_free(xg_world *w) {
    free(w->memo_pi);
    free(w->memo_star);
}

static int64_t state_key(const xg_world *w, const xg_state *s) {
    return ((((int64_t)s->t * 16 + s->cell) * 16 + s->goal + 1) << w->candidates) | s->unvisited;
}

xg_state xg_start(const xg_world *w) {
    return (xg_state){.cell = 0, .goal = -1, .unvisited = (uint32_t)((1u << w->candidates) - 1), .t = 0};
}

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

void xg_pi(const xg_world *w, const xg_state *s, double *pi) {
    double mx = -INFINITY, sum = 0, logit[XG_ACTIONS];
    for (int32_t a = 0; a < XG_ACTIONS; a++) {
        uint64_t h = w->policy_seed;
        h = mix64(h ^ (uint64_t)s->cell);
        h = mix64(h ^ ((uint64_t)s->unvisited << 8));
        h = mix64(h ^ (uint64_t)(s->goal + 1) << 40);
        h = mix64(h ^ (uint64_t)s->t << 48);
        h = mix64(h ^ (uint64_t)a);
        logit[a] = w->sharpness * ((double)(h >> 11) / 9007199254740992.0);
        mx = fmax(mx, logit[a]);
    }
    if (w->greedy_pi) {
        int32_t best = 0;
        for (int32_t a = 1; a < XG_ACTIONS; a++)
            if (logit[a] > logit[best]) best = a;
        for (int32_t a = 0; a < XG_ACTIONS; a++) pi[a] = a == best;
        return;
    }
    for (int32_t a = 0; a < XG_ACTIONS; a++) sum += pi[a] = exp(logit[a] - mx);
    for (int32_t a = 0; a < XG_ACTIONS; a++) pi[a] /= sum;
}

double xg_step(const xg_world *w, const xg_state *s, int32_t a, xg_state *hit, xg_state *miss) {
    int32_t c = move_cell(w, s->cell, a), next = (s->t + 1) % w->episode_length == 0 ? 0 : c;
    double p;
    *hit = *miss = *s;
    hit->t = miss->t = s->t + 1;
    hit->cell = miss->cell = next;
    hit->goal = c;
    if (s->goal >= 0) {
        p = c == s->goal ? 1.0 : 0.0;
    } else if (w->cand[c] >= 0 && (s->unvisited >> w->cand[c] & 1u)) {
        p = 1.0 / (double)__builtin_popcount(s->unvisited);
        miss->unvisited &= ~(1u << w->cand[c]);
    } else {
        p = 0.0;
    }
    return p;
}

static double q_of(const xg_world *w, const xg_state *s, int32_t a, double (*v)(const xg_world *, const xg_state *)) {
    xg_state hit, miss;
    double p = xg_step(w, s, a, &hit, &miss), q = p * w->r_hit + (1 - p) * w->r_miss;
    if (s->t + 1 < w->steps) q += w->gamma * ((p > 0 ? p * v(w, &hit) : 0) + (p < 1 ? (1 - p) * v(w, &miss) : 0));
    return q;
}

double xg_v_pi(const xg_world *w, const xg_state *s) {
    if (s->t >= w->steps) return 0.0;
    double *m = &w->memo_pi[state_key(w, s)];
    if (!isnan(*m)) return *m;
    double pi[XG_ACTIONS], v = 0;
    xg_pi(w, s, pi);
    for (int32_t a = 0; a < XG_ACTIONS; a++)
        if (pi[a] > 0) v += pi[a] * q_of(w, s, a, xg_v_pi);
    return *m = v;
}

double xg_q_pi(const xg_world *w, const xg_state *s, int32_t a) { return q_of(w, s, a, xg_v_pi); }

double xg_v_star(const xg_world *w, const xg_state *s) {
    if (s->t >= w->steps) return 0.0;
    double *m = &w->memo_star[state_key(w, s)];
    if (!isnan(*m)) return *m;
    double best = -INFINITY;
    for (int32_t a = 0; a < XG_ACTIONS; a++) best = fmax(best, q_of(w, s, a, xg_v_star));
    return *m = best;
}

double xg_q_star(const xg_world *w, const xg_state *s, int32_t a) { return q_of(w, s, a, xg_v_star); }

/* --- the simulator ------------------------------------------------------ */

static double value_of(const xg_sim *s, const xg_state *st) {
    if (st->t >= s->w->steps) return 0.0;
    switch (s->value) {
    case XG_V_PI: return xg_v_pi(s->vw, st);
    case XG_V_STAR: return xg_v_star(s->vw, st);
    default: return 0.0;
    }
}

static void sim_root(void *ctx, int64_t B, float *probs, float *values) {
    xg_sim *s = ctx;
    double pi[XG_ACTIONS];
    for (int64_t b = 0; b < B; b++) {
        xg_pi(s->w, &s->root[b], pi);
        for (int32_t a = 0; a < XG_ACTIONS; a++) probs[b * XG_ACTIONS + a] = (float)pi[a];
        values[b] = (float)value_of(s, &s->root[b]);
    }
}

static void sim_start(void *ctx, int64_t B, int64_t K) {
    xg_sim *s = ctx;
    for (int64_t r = 0; r < B * K; r++) s->rows[r] = s->root[r / K];
}

static void sim_step(void *ctx, const int32_t *a, const uint8_t *alive, int64_t R, int64_t K, vb_rng *rng,
                     bool expect, bool want_probs, vb_sim_step *out) {
    xg_sim *s = ctx;
    const xg_world *w = s->w;
    for (int64_t r = 0; r < R; r++) {
        if (!alive[r]) continue;
        xg_state hit, miss;
        double p = xg_step(w, &s->rows[r], a[r], &hit, &miss);
        bool up = expect ? p > 0.5 : vb_rng_uniform_double(&rng[r / K]) < p;
        out->r_mean[r] = (float)(p * w->r_hit + (1 - p) * w->r_miss);
        out->p_cont[r] = expect ? (float)(up ? p : 1 - p) : 1.0f;
        out->term[r] = s->rows[r].t + 1 >= w->steps;
        s->rows[r] = up ? hit : miss;
        out->v_cont[r] = (float)value_of(s, &s->rows[r]);
        out->v_other[r] = (float)value_of(s, up ? &miss : &hit);
        if (want_probs) {
            double pi[XG_ACTIONS];
            xg_pi(w, &s->rows[r], pi);
            for (int32_t j = 0; j < XG_ACTIONS; j++) out->probs[r * XG_ACTIONS + j] = (float)pi[j];
        }
    }
}

static void sim_gather(void *ctx, const int32_t *idx, int64_t R) {
    xg_sim *s = ctx;
    xg_state *tmp = malloc((size_t)R * sizeof *tmp);
    for (int64_t i = 0; i < R; i++) tmp[i] = s->rows[idx[i]];
    memcpy(s->rows, tmp, (size_t)R * sizeof *tmp);
    free(tmp);
}

static const vb_sim_ops xg_ops = {sim_root, sim_start, sim_step, sim_gather};

void xg_sim_init(xg_sim *s, const xg_world *w, xg_value value, int64_t max_rows) {
    memset(s, 0, sizeof *s);
    s->w = w;
    s->vw = w;
    s->value = value;
    s->max_rows = max_rows;
    s->rows = calloc((size_t)max_rows, sizeof *s->rows);
}

void xg_sim_free(xg_sim *s) { free(s->rows); }

vb_plan_sim xg_sim_bind(xg_sim *s) { return (vb_plan_sim){&xg_ops, s, XG_ACTIONS, true}; }
