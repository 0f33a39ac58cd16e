// dists — the CUDA backend's softmax, Gaussian, categorical and Bernoulli
// ops around the bodies of kernels/math/dists.h: one thread per row for
// row-wise results, one per element for elementwise gradients. Rows of
// logits are short (actions, cells), so a thread per row keeps the CPU's
// summation order (the results still differ in the last bits: kernels/math/hd.h).
#include "../math/dists.h"
#include "cuda_ops.h"

static __global__ void k_softmax(float *out, const float *in, int64_t rows, int64_t cols, int logs) {
    VB_GRID_STRIDE(r, rows) {
        if (logs)
            vb_row_log_softmax(out + r * cols, in + r * cols, cols);
        else
            vb_row_softmax(out + r * cols, in + r * cols, cols);
    }
}
void vb__cuda_softmax(float *out, const float *in, int64_t rows, int64_t cols) {
    VB_LAUNCH(k_softmax, rows, out, in, rows, cols, 0);
}
void vb__cuda_log_softmax(float *out, const float *in, int64_t rows, int64_t cols) {
    VB_LAUNCH(k_softmax, rows, out, in, rows, cols, 1);
}

// --- Gaussians ---------------------------------------------------------------

static __global__ void k_gauss_sample(float *z, const float *mu, const float *lv, const float *eps, int64_t n) {
    VB_GRID_STRIDE(i, n) z[i] = vb_gauss_sample(mu[i], lv[i], eps[i]);
}
void vb__cuda_gauss_sample_forward(float *z, const float *mu, const float *lv, const float *eps, int64_t n) {
    VB_LAUNCH(k_gauss_sample, n, z, mu, lv, eps, n);
}

static __global__ void k_gauss_sample_bwd(float *dmu, float *dlv, const float *dz, const float *lv, const float *eps,
                                          int64_t n) {
    VB_GRID_STRIDE(i, n) {
        if (dmu) dmu[i] += dz[i];
        if (dlv) dlv[i] += vb_gauss_sample_dlv(dz[i], lv[i], eps[i]);
    }
}
void vb__cuda_gauss_sample_backward(float *dmu, float *dlv, const float *dz, const float *lv, const float *eps,
                                    int64_t n) {
    VB_LAUNCH(k_gauss_sample_bwd, n, dmu, dlv, dz, lv, eps, n);
}

static __global__ void k_gauss_logprob(float *out, const float *z, const float *mu, const float *lv, int64_t B,
                                       int64_t D) {
    VB_GRID_STRIDE(b, B) {
        double s = 0;
        for (int64_t i = b * D; i < (b + 1) * D; i++) s += vb_gauss_logprob_term(z[i], mu[i], lv[i]);
        out[b] = (float)s;
    }
}
void vb__cuda_gauss_logprob_forward(float *out, const float *z, const float *mu, const float *lv, int64_t B,
                                    int64_t D) {
    VB_LAUNCH(k_gauss_logprob, B, out, z, mu, lv, B, D);
}

static __global__ void k_gauss_logprob_bwd(float *dz, float *dmu, float *dlv, const float *dout, const float *z,
                                           const float *mu, const float *lv, int64_t B, int64_t D) {
    VB_GRID_STRIDE(i, B * D) {
        float gz, gmu, glv;
        vb_gauss_logprob_grad(z[i], mu[i], lv[i], dout[i / D], &gz, &gmu, &glv);
        if (dz) dz[i] += gz;
        if (dmu) dmu[i] += gmu;
        if (dlv) dlv[i] += glv;
    }
}
void vb__cuda_gauss_logprob_backward(float *dz, float *dmu, float *dlv, const float *dout, const float *z,
                                     const float *mu, const float *lv, int64_t B, int64_t D) {
    VB_LAUNCH(k_gauss_logprob_bwd, B * D, dz, dmu, dlv, dout, z, mu, lv, B, D);
}

static __global__ void k_gauss_kl(float *out, const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                                  int64_t B, int64_t D) {
    VB_GRID_STRIDE(b, B) {
        double s = 0;
        for (int64_t i = b * D; i < (b + 1) * D; i++)
            s += vb_gauss_kl_term(mu1[i], lv1[i], mu2 ? mu2[i] : 0.0, lv2 ? lv2[i] : 0.0);
        out[b] = (float)s;
    }
}
void vb__cuda_gauss_kl_forward(float *out, const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                               int64_t B, int64_t D) {
    VB_LAUNCH(k_gauss_kl, B, out, mu1, lv1, mu2, lv2, B, D);
}

static __global__ void k_gauss_kl_bwd(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                                      const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                                      int64_t B, int64_t D) {
    VB_GRID_STRIDE(i, B * D) {
        float gmu1, glv1, glv2;
        vb_gauss_kl_grad(mu1[i], lv1[i], mu2 ? mu2[i] : 0.0f, lv2 ? lv2[i] : 0.0f, dout[i / D], &gmu1, &glv1,
                         &glv2);
        if (dmu1) dmu1[i] += gmu1;
        if (dlv1) dlv1[i] += glv1;
        if (dmu2 && mu2) dmu2[i] -= gmu1;
        if (dlv2 && lv2) dlv2[i] += glv2;
    }
}
void vb__cuda_gauss_kl_backward(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                                const float *mu1, const float *lv1, const float *mu2, const float *lv2, int64_t B,
                                int64_t D) {
    VB_LAUNCH(k_gauss_kl_bwd, B * D, dmu1, dlv1, dmu2, dlv2, dout, mu1, lv1, mu2, lv2, B, D);
}

// --- categoricals --------------------------------------------------------------

static __global__ void k_cat_xent(float *out, const float *l, const float *q, int64_t B, int64_t A) {
    VB_GRID_STRIDE(b, B) out[b] = vb_cat_xent_row(l + b * A, q + b * A, A);
}
void vb__cuda_cat_xent_forward(float *out, const float *logits, const float *q, int64_t B, int64_t A) {
    VB_LAUNCH(k_cat_xent, B, out, logits, q, B, A);
}

static __global__ void k_cat_xent_bwd(float *dl, const float *dout, const float *l, const float *q, int64_t B,
                                      int64_t A) {
    VB_GRID_STRIDE(b, B) vb_cat_xent_row_grad(dl + b * A, dout[b], l + b * A, q + b * A, A);
}
void vb__cuda_cat_xent_backward(float *dlogits, const float *dout, const float *logits, const float *q, int64_t B,
                                int64_t A) {
    VB_LAUNCH(k_cat_xent_bwd, B, dlogits, dout, logits, q, B, A);
}

static __global__ void k_cat_logprob(float *out, const float *l, const int32_t *action, int64_t B, int64_t A) {
    VB_GRID_STRIDE(b, B) out[b] = vb_cat_logprob_row(l + b * A, action[b], A);
}
void vb__cuda_cat_logprob_forward(float *out, const float *logits, const int32_t *action, int64_t B, int64_t A) {
    VB_LAUNCH(k_cat_logprob, B, out, logits, action, B, A);
}

static __global__ void k_cat_logprob_bwd(float *dl, const float *dout, const float *l, const int32_t *action,
                                         int64_t B, int64_t A) {
    VB_GRID_STRIDE(b, B) vb_cat_logprob_row_grad(dl + b * A, dout[b], l + b * A, action[b], A);
}
void vb__cuda_cat_logprob_backward(float *dlogits, const float *dout, const float *logits, const int32_t *action,
                                   int64_t B, int64_t A) {
    VB_LAUNCH(k_cat_logprob_bwd, B, dlogits, dout, logits, action, B, A);
}

static __global__ void k_cat_entropy(float *out, const float *l, int64_t B, int64_t A) {
    VB_GRID_STRIDE(b, B) out[b] = vb_cat_entropy_row(l + b * A, A);
}
void vb__cuda_cat_entropy_forward(float *out, const float *logits, int64_t B, int64_t A) {
    VB_LAUNCH(k_cat_entropy, B, out, logits, B, A);
}

static __global__ void k_cat_entropy_bwd(float *dl, const float *dout, const float *l, int64_t B, int64_t A) {
    VB_GRID_STRIDE(b, B) vb_cat_entropy_row_grad(dl + b * A, dout[b], l + b * A, A);
}
void vb__cuda_cat_entropy_backward(float *dlogits, const float *dout, const float *logits, int64_t B, int64_t A) {
    VB_LAUNCH(k_cat_entropy_bwd, B, dlogits, dout, logits, B, A);
}

static __global__ void k_cat_sample(int32_t *action, const float *l, const float *u, int64_t B, int64_t A) {
    VB_GRID_STRIDE(b, B) action[b] = vb_cat_sample_row(l + b * A, u[b], A);
}
void vb__cuda_cat_sample(int32_t *action, const float *logits, const float *u, int64_t B, int64_t A) {
    VB_LAUNCH(k_cat_sample, B, action, logits, u, B, A);
}

// --- Bernoulli -------------------------------------------------------------------

static __global__ void k_bern(float *out, const float *logit, const float *y, int64_t n) {
    VB_GRID_STRIDE(i, n) out[i] = vb_bernoulli_loglik(logit[i], y[i]);
}
void vb__cuda_bernoulli_loglik_forward(float *out, const float *logit, const float *y, int64_t n) {
    VB_LAUNCH(k_bern, n, out, logit, y, n);
}

static __global__ void k_bern_bwd(float *dlogit, const float *dout, const float *logit, const float *y, int64_t n) {
    VB_GRID_STRIDE(i, n) dlogit[i] += dout[i] * vb_bernoulli_loglik_dl(logit[i], y[i]);
}
void vb__cuda_bernoulli_loglik_backward(float *dlogit, const float *dout, const float *logit, const float *y,
                                        int64_t n) {
    VB_LAUNCH(k_bern_bwd, n, dlogit, dout, logit, y, n);
}
