/* ppo — see ppo.h. */
#include "ppo.h"

#include <math.h>

double vb_gae(const vb_ppo_params *p, int64_t L, int64_t N, const float *rew, const float *task_done,
              const float *values, float *adv, float *ret) {
    double s = 0, s2 = 0, rs = 0;
    for (int64_t w = 0; w < N; w++) {
        double next_adv = 0;
        for (int64_t t = L - 1; t >= 0; t--) {
            int64_t r = t * N + w;
            double nonterm = 1.0 - task_done[r];
            double delta = rew[r] + p->gamma * values[r + N] * nonterm - values[r];
            next_adv = delta + p->gamma * p->lambda * nonterm * next_adv;
            adv[r] = (float)next_adv;
            ret[r] = (float)(next_adv + values[r]);
            s += next_adv;
            s2 += next_adv * next_adv;
            rs += ret[r];
        }
    }
    double M = (double)(N * L), mean = s / M, sd = sqrt(fmax(s2 / M - mean * mean, 0.0)) + 1e-8;
    for (int64_t r = 0; r < N * L; r++) adv[r] = (float)((adv[r] - mean) / sd);
    return rs / M;
}

void vb_ppo_loss(const vb_backend *be, const vb_ppo_params *p, const vb_ppo_batch *b, const vb_ppo_ws *ws,
                 float *d_logits, float *d_values, vb_update_stats *st) {
    const int64_t N = b->N, LN = b->L * N, A = b->A;
    /* forward: log pi(a) and H(pi) per row */
    be->cat_logprob_forward(ws->logp, b->logits, b->act, LN, A);
    be->cat_entropy_forward(ws->ent, b->logits, LN, A);
    double pl = 0, ent = 0, vl = 0, akl = 0, clipped = 0, vm = 0;
    const double M = (double)LN;
    int64_t masked = 0;
    for (int64_t r = 0; r < LN; r++) {
        const double log_ratio = (double)ws->logp[r] - b->blogp[r];
        if (fabs(log_ratio) > VB_PPO_MAX_LOG_RATIO) {
            /* no policy this lag apart from the current one gave the
             * behaviour log-probability: a sample from elsewhere, which
             * would otherwise dominate the gradient by a factor e^|log ratio| */
            masked++;
            ws->d_logp[r] = 0.0f;
            ws->d_ent[r] = (float)(-p->ent_coef / M);
            ent += ws->ent[r];
            double e = (double)b->values[r] - b->ret[r];
            vl += e * e;
            vm += b->values[r];
            d_values[r] = (float)(2.0 * p->value_coef * e / M);
            continue;
        }
        double ratio = exp(log_ratio), a = b->adv[r];
        double cr = fmin(fmax(ratio, 1.0 - p->clip), 1.0 + p->clip);
        double s1 = ratio * a, s2 = cr * a;
        pl -= fmin(s1, s2);
        /* d/d log pi of -min(s1, s2): the unclipped branch only */
        ws->d_logp[r] = s1 <= s2 ? (float)(-p->policy_coef * a * ratio / M) : 0.0f;
        clipped += s1 > s2;
        ws->d_ent[r] = (float)(-p->ent_coef / M);
        ent += ws->ent[r];
        akl += b->blogp[r] - ws->logp[r];
        double e = (double)b->values[r] - b->ret[r];
        vl += e * e;
        vm += b->values[r];
        d_values[r] = (float)(2.0 * p->value_coef * e / M);
    }
    /* backward into the logits */
    be->fill(d_values + LN, 0.0f, N);
    be->fill(d_logits, 0.0f, LN * A);
    be->cat_logprob_backward(d_logits, ws->d_logp, b->logits, b->act, LN, A);
    be->cat_entropy_backward(d_logits, ws->d_ent, b->logits, LN, A);
    st->loss_policy = pl / M;
    st->entropy = ent / M;
    st->loss_value = vl / M;
    st->approx_kl = akl / M;
    st->clip_frac = clipped / M;
    st->value_mean = vm / M;
    st->masked_frac = (double)masked / M;
}
