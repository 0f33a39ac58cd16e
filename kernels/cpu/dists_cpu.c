/* dists_cpu — Gaussian, categorical and Bernoulli math of the CPU backend.
 * Per-row sums are accumulated in double. */
#include <math.h>

#include "cpu_ops.h"

#define LOG_2PI 1.8378770664093453

void vb__cpu_gauss_sample_forward(float *z, const float *mu, const float *lv, const float *eps, int64_t n) {
    for (int64_t i = 0; i < n; i++) z[i] = mu[i] + expf(0.5f * lv[i]) * eps[i];
}

void vb__cpu_gauss_sample_backward(float *dmu, float *dlv, const float *dz, const float *lv, const float *eps,
                                   int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (dmu) dmu[i] += dz[i];
        if (dlv) dlv[i] += dz[i] * eps[i] * 0.5f * expf(0.5f * lv[i]);
    }
}

void vb__cpu_gauss_logprob_forward(float *out, const float *z, const float *mu, const float *lv, int64_t B,
                                   int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) {
            int64_t i = b * D + d;
            double e = (double)z[i] - mu[i];
            s += -0.5 * (LOG_2PI + lv[i] + e * e * exp(-(double)lv[i]));
        }
        out[b] = (float)s;
    }
}

void vb__cpu_gauss_logprob_backward(float *dz, float *dmu, float *dlv, const float *dout, const float *z,
                                    const float *mu, const float *lv, int64_t B, int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        for (int64_t d = 0; d < D; d++) {
            int64_t i = b * D + d;
            float iv = expf(-lv[i]), e = z[i] - mu[i];
            if (dz) dz[i] += -e * iv * dout[b];
            if (dmu) dmu[i] += e * iv * dout[b];
            if (dlv) dlv[i] += 0.5f * (e * e * iv - 1.0f) * dout[b];
        }
    }
}

void vb__cpu_gauss_kl_forward(float *out, const float *mu1, const float *lv1, const float *mu2,
                              const float *lv2, int64_t B, int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) {
            int64_t i = b * D + d;
            double m2 = mu2 ? mu2[i] : 0.0, l2 = lv2 ? lv2[i] : 0.0;
            double e = (double)mu1[i] - m2;
            s += 0.5 * (l2 - lv1[i] + (exp((double)lv1[i]) + e * e) * exp(-l2) - 1.0);
        }
        out[b] = (float)s;
    }
}

void vb__cpu_gauss_kl_backward(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                               const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                               int64_t B, int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        for (int64_t d = 0; d < D; d++) {
            int64_t i = b * D + d;
            float m2 = mu2 ? mu2[i] : 0.0f, l2 = lv2 ? lv2[i] : 0.0f;
            float iv2 = expf(-l2), v1 = expf(lv1[i]), e = mu1[i] - m2, g = dout[b];
            if (dmu1) dmu1[i] += e * iv2 * g;
            if (dlv1) dlv1[i] += 0.5f * (v1 * iv2 - 1.0f) * g;
            if (dmu2 && mu2) dmu2[i] -= e * iv2 * g;
            if (dlv2 && lv2) dlv2[i] += 0.5f * (1.0f - (v1 + e * e) * iv2) * g;
        }
    }
}

/* log-sum-exp of one row, in double */
static double row_lse(const float *x, int64_t A) {
    float mx = -INFINITY;
    for (int64_t a = 0; a < A; a++) mx = x[a] > mx ? x[a] : mx;
    double s = 0;
    for (int64_t a = 0; a < A; a++) s += exp((double)x[a] - mx);
    return mx + log(s);
}

void vb__cpu_cat_xent_forward(float *out, const float *logits, const float *q, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A, *t = q + b * A;
        double lse = row_lse(l, A), s = 0;
        for (int64_t a = 0; a < A; a++) {
            if (t[a] != 0.0f) s -= t[a] * ((double)l[a] - lse);
        }
        out[b] = (float)s;
    }
}

void vb__cpu_cat_xent_backward(float *dlogits, const float *dout, const float *logits, const float *q,
                               int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A, *t = q + b * A;
        double lse = row_lse(l, A), qs = 0;
        for (int64_t a = 0; a < A; a++) qs += t[a];
        for (int64_t a = 0; a < A; a++) {
            double p = exp((double)l[a] - lse);
            dlogits[b * A + a] += (float)(dout[b] * (p * qs - t[a]));
        }
    }
}

void vb__cpu_cat_logprob_forward(float *out, const float *logits, const int32_t *action, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A;
        out[b] = (float)((double)l[action[b]] - row_lse(l, A));
    }
}

void vb__cpu_cat_logprob_backward(float *dlogits, const float *dout, const float *logits,
                                  const int32_t *action, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A;
        double lse = row_lse(l, A);
        for (int64_t a = 0; a < A; a++) {
            double p = exp((double)l[a] - lse);
            dlogits[b * A + a] += (float)(dout[b] * ((a == action[b] ? 1.0 : 0.0) - p));
        }
    }
}

void vb__cpu_cat_entropy_forward(float *out, const float *logits, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A;
        double lse = row_lse(l, A), h = 0;
        for (int64_t a = 0; a < A; a++) {
            double lp = (double)l[a] - lse;
            h -= exp(lp) * lp;
        }
        out[b] = (float)h;
    }
}

void vb__cpu_cat_entropy_backward(float *dlogits, const float *dout, const float *logits, int64_t B,
                                  int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A;
        double lse = row_lse(l, A), h = 0;
        for (int64_t a = 0; a < A; a++) {
            double lp = (double)l[a] - lse;
            h -= exp(lp) * lp;
        }
        /* dH/dl_a = -p_a (log p_a + H) */
        for (int64_t a = 0; a < A; a++) {
            double lp = (double)l[a] - lse;
            dlogits[b * A + a] += (float)(dout[b] * (-exp(lp) * (lp + h)));
        }
    }
}

void vb__cpu_cat_sample(int32_t *action, const float *logits, const float *u, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) {
        const float *l = logits + b * A;
        double lse = row_lse(l, A), target = u[b], acc = 0;
        int32_t pick = (int32_t)(A - 1);
        for (int64_t a = 0; a < A; a++) {
            acc += exp((double)l[a] - lse);
            if (target < acc) {
                pick = (int32_t)a;
                break;
            }
        }
        action[b] = pick;
    }
}

void vb__cpu_bernoulli_loglik_forward(float *out, const float *logit, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double l = logit[i];
        double softplus = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));
        out[i] = (float)(y[i] * l - softplus);
    }
}

void vb__cpu_bernoulli_loglik_backward(float *dlogit, const float *dout, const float *logit, const float *y,
                                       int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-logit[i]));
        dlogit[i] += dout[i] * (y[i] - s);
    }
}
