/* cpu_ops — the CPU backend's operations defined outside backend_cpu.c,
 * gathered into the vb_backend table there. Internal to kernels/cpu/. */
#ifndef VB_CPU_OPS_H
#define VB_CPU_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* C(M,N) = b + A(M,K) W(N,K)^T (b may be NULL) and, unless relu is NULL,
 * relu(M,N) = max(C, 0) (relu == C: only that is written), calling
 * rows_done(ctx, row0, rows) as each block of rows is complete; -1 where the
 * CPU or the shape is not one of its kernels' (nothing written: the caller
 * takes the BLAS path). */
int vb__cpu_gemm_nt_bias(float *C, float *relu, const float *A, const float *W, const float *b, int64_t M, int64_t N,
                         int64_t K, void (*rows_done)(void *ctx, int64_t row0, int64_t rows), void *ctx);

/* vb__cpu_gemm_nt_bias from Wp, W and b packed by vb__cpu_gemm_pack (w_kn
 * false; bias: b was given), on the same shapes and with the same bits:
 * -1 where vb__cpu_gemm_nt_bias would decline. */
int vb__cpu_gemm_nt_bias_packed(float *C, float *relu, const float *A, const float *Wp, bool bias, int64_t M,
                                int64_t N, int64_t K, void (*rows_done)(void *ctx, int64_t row0, int64_t rows),
                                void *ctx);

/* The same kernel with W packed once for many products (a recurrent
 * window's steps). vb__cpu_gemm_pack packs W (N,K), or W (K,N) where w_kn,
 * and b (NULL: none) into vb_packed_floats(N, K) floats at Wp; -1
 * where the CPU has no kernel or N is 1 (nothing written). Then
 * vb__cpu_gemm_packed: C(M,N) = [C +] b + A(M,K) W^T (b where bias, C where add),
 * with the kernel selected when Wp was packed. */
int vb__cpu_gemm_pack(float *Wp, const float *W, const float *b, int64_t N, int64_t K, bool w_kn);
void vb__cpu_gemm_packed(float *C, const float *A, const float *Wp, bool bias, int64_t M, int64_t N, int64_t K,
                         bool add);

/* The kernel vb__cpu_gemm_nt_bias runs: 2 AVX-512, 1 AVX2 + FMA, 0 none
 * (the BLAS path). want >= 0 selects a kernel the CPU has, or none (tests
 * run each); want < 0 only asks. */
int vb__cpu_gemm_nt_isa(int want);

void vb__cpu_s5_discretize_forward(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                   const float *log_step, const float *b, int64_t P, int64_t H);
void vb__cpu_s5_discretize_backward(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                    const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                    const float *lam_im, const float *log_step, const float *b, int64_t P,
                                    int64_t H);

void vb__cpu_gauss_sample_forward(float *z, const float *mu, const float *lv, const float *eps, int64_t n);
void vb__cpu_gauss_sample_backward(float *dmu, float *dlv, const float *dz, const float *lv, const float *eps,
                                   int64_t n);
void vb__cpu_gauss_logprob_forward(float *out, const float *z, const float *mu, const float *lv, int64_t B,
                                   int64_t D);
void vb__cpu_gauss_logprob_backward(float *dz, float *dmu, float *dlv, const float *dout, const float *z,
                                    const float *mu, const float *lv, int64_t B, int64_t D);
void vb__cpu_gauss_kl_forward(float *out, const float *mu1, const float *lv1, const float *mu2,
                              const float *lv2, int64_t B, int64_t D);
void vb__cpu_gauss_kl_backward(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                               const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                               int64_t B, int64_t D);

void vb__cpu_cat_xent_forward(float *out, const float *logits, const float *q, int64_t B, int64_t A);
void vb__cpu_cat_xent_backward(float *dlogits, const float *dout, const float *logits, const float *q,
                               int64_t B, int64_t A);
void vb__cpu_cat_logprob_forward(float *out, const float *logits, const int32_t *action, int64_t B, int64_t A);
void vb__cpu_cat_logprob_backward(float *dlogits, const float *dout, const float *logits,
                                  const int32_t *action, int64_t B, int64_t A);
void vb__cpu_cat_entropy_forward(float *out, const float *logits, int64_t B, int64_t A);
void vb__cpu_cat_entropy_backward(float *dlogits, const float *dout, const float *logits, int64_t B,
                                  int64_t A);
void vb__cpu_cat_sample(int32_t *action, const float *logits, const float *u, int64_t B, int64_t A);

void vb__cpu_bernoulli_loglik_forward(float *out, const float *logit, const float *y, int64_t n);
void vb__cpu_bernoulli_loglik_backward(float *dlogit, const float *dout, const float *logit, const float *y,
                                       int64_t n);

#endif
