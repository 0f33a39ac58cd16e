/* dists_cpu — Gaussian, categorical and Bernoulli ops of the CPU backend:
 * loops around the bodies of kernels/math/dists.h. A NULL gradient pointer
 * skips that input. */
#include "../math/dists.h"
#include "cpu_ops.h"

void vb__cpu_gauss_sample_forward(float *z, const float *mu, const float *lv, const float *eps, int64_t n) {
    for (int64_t i = 0; i < n; i++) z[i] = vb_gauss_sample(mu[i], lv[i], eps[i]);
}

void vb__cpu_gauss_sample_backward(float *dmu, float *dlv, const float *dz, const float *lv, const float *eps,
                                   int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (dmu) dmu[i] += dz[i];
        if (dlv) dlv[i] += vb_gauss_sample_dlv(dz[i], lv[i], eps[i]);
    }
}

void vb__cpu_gauss_logprob_forward(float *out, const float *z, const float *mu, const float *lv, int64_t B,
                                   int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t i = b * D; i < (b + 1) * D; i++) s += vb_gauss_logprob_term(z[i], mu[i], lv[i]);
        out[b] = (float)s;
    }
}

void vb__cpu_gauss_logprob_backward(float *dz, float *dmu, float *dlv, const float *dout, const float *z,
                                    const float *mu, const float *lv, int64_t B, int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = b * D; i < (b + 1) * D; i++) {
            float gz, gmu, glv;
            vb_gauss_logprob_grad(z[i], mu[i], lv[i], dout[b], &gz, &gmu, &glv);
            if (dz) dz[i] += gz;
            if (dmu) dmu[i] += gmu;
            if (dlv) dlv[i] += glv;
        }
    }
}

void vb__cpu_gauss_kl_forward(float *out, const float *mu1, const float *lv1, const float *mu2,
                              const float *lv2, int64_t B, int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t i = b * D; i < (b + 1) * D; i++)
            s += vb_gauss_kl_term(mu1[i], lv1[i], mu2 ? mu2[i] : 0.0, lv2 ? lv2[i] : 0.0);
        out[b] = (float)s;
    }
}

void vb__cpu_gauss_kl_backward(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                               const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                               int64_t B, int64_t D) {
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = b * D; i < (b + 1) * D; i++) {
            float gmu1, glv1, glv2;
            vb_gauss_kl_grad(mu1[i], lv1[i], mu2 ? mu2[i] : 0.0f, lv2 ? lv2[i] : 0.0f, dout[b], &gmu1, &glv1,
                             &glv2);
            if (dmu1) dmu1[i] += gmu1;
            if (dlv1) dlv1[i] += glv1;
            if (dmu2 && mu2) dmu2[i] -= gmu1;
            if (dlv2 && lv2) dlv2[i] += glv2;
        }
    }
}

void vb__cpu_cat_xent_forward(float *out, const float *logits, const float *q, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) out[b] = vb_cat_xent_row(logits + b * A, q + b * A, A);
}

void vb__cpu_cat_xent_backward(float *dlogits, const float *dout, const float *logits, const float *q,
                               int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) vb_cat_xent_row_grad(dlogits + b * A, dout[b], logits + b * A, q + b * A, A);
}

void vb__cpu_cat_logprob_forward(float *out, const float *logits, const int32_t *action, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) out[b] = vb_cat_logprob_row(logits + b * A, action[b], A);
}

void vb__cpu_cat_logprob_backward(float *dlogits, const float *dout, const float *logits,
                                  const int32_t *action, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) vb_cat_logprob_row_grad(dlogits + b * A, dout[b], logits + b * A, action[b], A);
}

void vb__cpu_cat_entropy_forward(float *out, const float *logits, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) out[b] = vb_cat_entropy_row(logits + b * A, A);
}

void vb__cpu_cat_entropy_backward(float *dlogits, const float *dout, const float *logits, int64_t B,
                                  int64_t A) {
    for (int64_t b = 0; b < B; b++) vb_cat_entropy_row_grad(dlogits + b * A, dout[b], logits + b * A, A);
}

void vb__cpu_cat_sample(int32_t *action, const float *logits, const float *u, int64_t B, int64_t A) {
    for (int64_t b = 0; b < B; b++) action[b] = vb_cat_sample_row(logits + b * A, u[b], A);
}

void vb__cpu_bernoulli_loglik_forward(float *out, const float *logit, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = vb_bernoulli_loglik(logit[i], y[i]);
}

void vb__cpu_bernoulli_loglik_backward(float *dlogit, const float *dout, const float *logit, const float *y,
                                       int64_t n) {
    for (int64_t i = 0; i < n; i++) dlogit[i] += dout[i] * vb_bernoulli_loglik_dl(logit[i], y[i]);
}
