/* dists — Gaussian, categorical and Bernoulli math: Gaussian and Bernoulli
 * terms one element at a time, categoricals one row of logits at a time.
 * Per-row sums are accumulated in double. */
#ifndef VB_MATH_DISTS_H
#define VB_MATH_DISTS_H

#include "hd.h"

#define VB_LOG_2PI 1.8378770664093453

/* --- diagonal Gaussians -------------------------------------------------- */

/* z = mu + exp(lv / 2) eps */
VB_HD float vb_gauss_sample(float mu, float lv, float eps) { return mu + expf(0.5f * lv) * eps; }
/* the gradient of lv from dz: dz dz/dlv */
VB_HD float vb_gauss_sample_dlv(float dz, float lv, float eps) { return dz * eps * 0.5f * expf(0.5f * lv); }

/* one dimension's log N(z; mu, e^lv) */
VB_HD double vb_gauss_logprob_term(float z, float mu, float lv) {
    double e = (double)z - mu;
    return -0.5 * (VB_LOG_2PI + lv + e * e * exp(-(double)lv));
}
/* its gradients times g: dz = -dmu */
VB_HD void vb_gauss_logprob_grad(float z, float mu, float lv, float g, float *dz, float *dmu, float *dlv) {
    float iv = expf(-lv), e = z - mu;
    *dz = -e * iv * g;
    *dmu = e * iv * g;
    *dlv = 0.5f * (e * e * iv - 1.0f) * g;
}

/* one dimension's KL(N(mu1, e^lv1) || N(mu2, e^lv2)) */
VB_HD double vb_gauss_kl_term(float mu1, float lv1, double mu2, double lv2) {
    double e = (double)mu1 - mu2;
    return 0.5 * (lv2 - lv1 + (exp((double)lv1) + e * e) * exp(-lv2) - 1.0);
}
/* its gradients times g: dmu2 = -dmu1 */
VB_HD void vb_gauss_kl_grad(float mu1, float lv1, float mu2, float lv2, float g, float *dmu1, float *dlv1,
                            float *dlv2) {
    float iv2 = expf(-lv2), v1 = expf(lv1), e = mu1 - mu2;
    *dmu1 = e * iv2 * g;
    *dlv1 = 0.5f * (v1 * iv2 - 1.0f) * g;
    *dlv2 = 0.5f * (1.0f - (v1 + e * e) * iv2) * g;
}

/* --- categoricals over one row of A logits ------------------------------- */

/* log-sum-exp, in double */
VB_HD double vb_row_lse(const float *x, int64_t A) {
    float mx = -INFINITY;
    for (int64_t a = 0; a < A; a++) mx = x[a] > mx ? x[a] : mx;
    double s = 0;
    for (int64_t a = 0; a < A; a++) s += exp((double)x[a] - mx);
    return mx + log(s);
}

VB_HD void vb_row_softmax(float *y, const float *x, int64_t A) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < A; j++) mx = x[j] > mx ? x[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < A; j++) {
        y[j] = expf(x[j] - mx);
        s += y[j];
    }
    float inv = (float)(1.0 / s);
    for (int64_t j = 0; j < A; j++) y[j] *= inv;
}

VB_HD void vb_row_log_softmax(float *y, const float *x, int64_t A) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < A; j++) mx = x[j] > mx ? x[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < A; j++) s += exp((double)(x[j] - mx));
    float lse = mx + (float)log(s);
    for (int64_t j = 0; j < A; j++) y[j] = x[j] - lse;
}

/* -sum_a q(a) log softmax(l)(a) */
VB_HD float vb_cat_xent_row(const float *l, const float *q, int64_t A) {
    double lse = vb_row_lse(l, A), s = 0;
    for (int64_t a = 0; a < A; a++)
        if (q[a] != 0.0f) s -= q[a] * ((double)l[a] - lse);
    return (float)s;
}
/* dl += g (p sum(q) - q) */
VB_HD void vb_cat_xent_row_grad(float *dl, float g, const float *l, const float *q, int64_t A) {
    double lse = vb_row_lse(l, A), qs = 0;
    for (int64_t a = 0; a < A; a++) qs += q[a];
    for (int64_t a = 0; a < A; a++) {
        double p = exp((double)l[a] - lse);
        dl[a] += (float)(g * (p * qs - q[a]));
    }
}

VB_HD float vb_cat_logprob_row(const float *l, int32_t action, int64_t A) {
    return (float)((double)l[action] - vb_row_lse(l, A));
}
/* dl += g (onehot(action) - p) */
VB_HD void vb_cat_logprob_row_grad(float *dl, float g, const float *l, int32_t action, int64_t A) {
    double lse = vb_row_lse(l, A);
    for (int64_t a = 0; a < A; a++) {
        double p = exp((double)l[a] - lse);
        dl[a] += (float)(g * ((a == action ? 1.0 : 0.0) - p));
    }
}

VB_HD double vb_cat_entropy_row_lse(const float *l, int64_t A, double lse) {
    double h = 0;
    for (int64_t a = 0; a < A; a++) {
        double lp = (double)l[a] - lse;
        h -= exp(lp) * lp;
    }
    return h;
}
VB_HD float vb_cat_entropy_row(const float *l, int64_t A) {
    return (float)vb_cat_entropy_row_lse(l, A, vb_row_lse(l, A));
}
/* dH/dl_a = -p_a (log p_a + H) */
VB_HD void vb_cat_entropy_row_grad(float *dl, float g, const float *l, int64_t A) {
    double lse = vb_row_lse(l, A), h = vb_cat_entropy_row_lse(l, A, lse);
    for (int64_t a = 0; a < A; a++) {
        double lp = (double)l[a] - lse;
        dl[a] += (float)(g * (-exp(lp) * (lp + h)));
    }
}

/* inverse CDF of softmax(l) at u in (0, 1) */
VB_HD int32_t vb_cat_sample_row(const float *l, float u, int64_t A) {
    double lse = vb_row_lse(l, A), target = u, acc = 0;
    for (int64_t a = 0; a < A; a++) {
        acc += exp((double)l[a] - lse);
        if (target < acc) return (int32_t)a;
    }
    return (int32_t)(A - 1);
}

/* --- Bernoulli ------------------------------------------------------------ */

/* y l - softplus(l) */
VB_HD float vb_bernoulli_loglik(float logit, float y) {
    double l = logit;
    double softplus = l > 0 ? l + log1p(exp(-l)) : log1p(exp(l));
    return (float)(y * l - softplus);
}
/* d/dl: y - sigmoid(l) */
VB_HD float vb_bernoulli_loglik_dl(float logit, float y) { return y - 1.0f / (1.0f + expf(-logit)); }

#endif
