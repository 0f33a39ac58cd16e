/* backend — the compute interface every layer calls.
 *
 * One table of operations on float32 buffers that live on the backend's
 * device. The CPU table (kernels/cpu/) is the reference; the CUDA table
 * (kernels/cuda/, built when nvcc is found) implements the same contract on
 * device memory and is tested against it by tests/gpu/parity. Both run the
 * same per-element and per-row bodies (kernels/math/).
 *
 * Conventions: matrices are row-major; "+=" in a comment means the op
 * accumulates into its output (gradients always accumulate, so zeroing the
 * gradient arena once per step is enough). Element counts are int64_t.
 *
 * Threading: the CPU backend's own parallelism is OpenBLAS's thread pool,
 * sized by set_threads (the process's policy); the elementwise ops are
 * single-threaded so that they never compete with BLAS or with other actor
 * processes for cores. Callers that split work across threads themselves
 * (the planner's blocks of environments, the GRU and S5 windows' slabs of
 * the batch) call the ops from several threads at once, on disjoint
 * buffers, with BLAS at one thread. */
#ifndef VB_BACKEND_H
#define VB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the floats pack_weights may write for W of N x K: panels of 32 columns
 * over K rows and the bias */
static inline int64_t vb_packed_floats(int64_t N, int64_t K) { return (N + 31) / 32 * 32 * (K + 1); }

typedef enum vb_act {
    VB_ACT_NONE = 0,
    VB_ACT_RELU = 1,
    VB_ACT_TANH = 2,
    VB_ACT_GELU = 3,    /* tanh approximation */
    VB_ACT_ELU = 4,     /* alpha = 1 */
    VB_ACT_SIGMOID = 5,
} vb_act;

typedef struct vb_backend {
    const char *name;
    /* memory on the backend's device */
    float *(*alloc)(int64_t n);                 /* zero-filled; NULL on failure */
    void (*release)(float *p);
    void (*upload)(float *dst, const float *host_src, int64_t n);
    void (*download)(float *host_dst, const float *src, int64_t n);
    /* threads for BLAS (0 = one per core) */
    void (*set_threads)(int n);
    /* BLAS's thread count now (1 where the backend has no BLAS threads) */
    int (*get_threads)(void);

    /* C(M,N) = alpha * op(A) op(B) + beta * C; op(A) is (M,K), op(B) is (K,N) */
    void (*gemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc);
    /* out(rows,cols) = b(cols) broadcast over rows (a linear layer's output
     * before its GEMM accumulates with beta = 1: one pass instead of a zeroing
     * and a bias pass) */
    void (*bias_fill)(float *out, const float *b, int64_t rows, int64_t cols);
    /* A linear layer's forward: out(M,N) = act(b + in(M,K) W(N,K)^T), b (N) may
     * be NULL; pre, when not NULL, receives the value before the activation
     * (an MLP's cache). What bias_fill, gemm and act_forward compute, fused
     * where the backend can (the CPU's own small-GEMM kernel). */
    void (*linear_act)(vb_act act, float *pre, float *out, const float *in, const float *W, const float *b,
                       int64_t M, int64_t N, int64_t K);
    /* Rows per block when a chain of layers runs without a cache
     * (vb_mlp_infer): the CPU takes a block through every layer while its
     * activations are in cache; 0: all rows through each layer at once. */
    int64_t chain_rows;
    /* Weights held for many products (a recurrent window's steps).
     * pack_weights stores W (N,K), or W (K,N) where w_kn, and b (NULL: none)
     * at Wp (vb_packed_floats(N, K) floats) in the backend's own layout; then
     *   gemm_packed:  C(M,N) = [C +] b + A(M,K) op(W)^T,  op(W) = w_kn ? W^T : W
     * given the same W, b and w_kn (a backend that does not pack reads those;
     * the CPU reads Wp where its kernel runs), C's own values where add (b must
     * be NULL then). Wp must be packed again after W or b change. */
    void (*pack_weights)(float *Wp, const float *W, const float *b, int64_t N, int64_t K, bool w_kn);
    /* linear_act without pre, from Wp = pack_weights(W, b, N, K, w_kn false)
     * where the backend packs (the same bits as linear_act), else from W and
     * b; Wp NULL: exactly linear_act. The planner's layers, packed once per
     * weight update. */
    void (*linear_act_packed)(vb_act act, float *out, const float *in, const float *Wp, const float *W,
                              const float *b, int64_t M, int64_t N, int64_t K);
    void (*gemm_packed)(float *C, const float *A, const float *Wp, const float *W, const float *b, int64_t M,
                        int64_t N, int64_t K, bool w_kn, bool add);
    /* db(cols) += column sums of dout(rows,cols) */
    void (*bias_grad)(float *db, const float *dout, int64_t rows, int64_t cols);
    /* out = act(in), n elements (in-place allowed) */
    void (*act_forward)(vb_act act, float *out, const float *in, int64_t n);
    /* din += act'(in) * dout; out = act(in) is given too (cheaper for tanh/sigmoid) */
    void (*act_backward)(vb_act act, float *din, const float *dout, const float *in,
                         const float *out, int64_t n);
    /* row-wise softmax / log-softmax of in(rows,cols) */
    void (*softmax)(float *out, const float *in, int64_t rows, int64_t cols);
    void (*log_softmax)(float *out, const float *in, int64_t rows, int64_t cols);
    /* y += a x;  x *= a;  x = v;  dst = src;  out = a * b (elementwise) */
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    void (*scale)(float *x, float a, int64_t n);
    void (*fill)(float *x, float v, int64_t n);
    void (*copy)(float *dst, const float *src, int64_t n);
    void (*mul)(float *out, const float *a, const float *b, int64_t n);
    /* out(rows,cols) += in * s[col];  ds(cols) += column sums of a * b */
    void (*col_scale_acc)(float *out, const float *in, const float *s, int64_t rows, int64_t cols);
    void (*col_dot_acc)(float *ds, const float *a, const float *b, int64_t rows, int64_t cols);
    /* sums in double precision, returned to the host */
    double (*sum)(const float *x, int64_t n);
    double (*sumsq)(const float *x, int64_t n);

    /* GRU gate nonlinearity for B rows of width H (PyTorch's gate order r, z, n):
     *   xg(B,3H) = x W_i^T + b_i,  hg(B,3H) = h W_h^T + b_h   (computed by gemm)
     *   r = sig(xg_r + hg_r), z = sig(xg_z + hg_z), n = tanh(xg_n + r * hg_n)
     *   h_out = (1 - z) * n + z * h
     * gates(B,3H) keeps (r, z, n) for the backward pass. */
    void (*gru_gates_forward)(float *h_out, float *gates, const float *xg, const float *hg,
                              const float *h, int64_t B, int64_t H);
    /* From dh_out(B,H): dxg(B,3H) = dL/dxg, dhg(B,3H) = dL/dhg (both overwritten),
     * dh(B,H) += the direct path z * dh_out. All buffers distinct. */
    void (*gru_gates_backward)(float *dxg, float *dhg, float *dh, const float *dh_out,
                               const float *gates, const float *hg, const float *h, int64_t B,
                               int64_t H);

    /* S5 linear recurrence over T steps of B rows of P complex states:
     *   x_t = lam_t * x_{t-1} + v_t,  lam_t = 0 where reset[t,b] else lam_bar
     * x0(B,P) complex (re, im planes), v(T,B,P) complex, xs(T,B,P) complex out.
     * Complex arrays are split planes: re at [0, n), im at [n, 2n). */
    void (*s5_scan_forward)(float *xs, const float *v, const float *lam_bar, const float *x0,
                            const uint8_t *reset, int64_t T, int64_t B, int64_t P);
    /* Adjoint of s5_scan_forward for gradient gx(T,B,P) (complex cogradients,
     * dL/dre + i dL/dim): gv(T,B,P) = total cogradient of x_t (overwritten),
     * glam(P) += sum conj(x_{t-1}) gv_t over non-reset steps, gx0(B,P) += cogradient of x0. */
    void (*s5_scan_backward)(float *gv, float *glam, float *gx0, const float *gx,
                             const float *xs, const float *lam_bar, const float *x0,
                             const uint8_t *reset, int64_t T, int64_t B, int64_t P);

    /* S5 zero-order-hold discretisation of P complex modes with input width H:
     *   lam = -exp(lam_re_log) + i lam_im,  dt = exp(log_step)
     *   lam_bar = exp(lam dt),  b_bar(P,H) = (lam_bar - 1) / lam * b(P,H)
     * lam_bar is complex (2P planes), b and b_bar complex (2PH planes). */
    void (*s5_discretize_forward)(float *lam_bar, float *b_bar, const float *lam_re_log,
                                  const float *lam_im, const float *log_step, const float *b,
                                  int64_t P, int64_t H);
    /* From cogradients g_lam_bar(2P), g_b_bar(2PH): += into the parameter gradients. */
    void (*s5_discretize_backward)(float *g_lam_re_log, float *g_lam_im, float *g_log_step,
                                   float *g_b, const float *g_lam_bar, const float *g_b_bar,
                                   const float *lam_re_log, const float *lam_im,
                                   const float *log_step, const float *b, int64_t P, int64_t H);

    /* Diagonal Gaussians, B rows of D dims; per-row results out(B).
     *   sample:  z = mu + exp(lv / 2) * eps           (eps ~ N(0, I) given)
     *   logprob: out = log N(z; mu, exp(lv))
     *   kl:      out = KL(N(mu1, e^lv1) || N(mu2, e^lv2)); mu2 = lv2 = NULL means N(0, I)
     * Backward ops accumulate; a NULL gradient pointer skips that input. */
    void (*gauss_sample_forward)(float *z, const float *mu, const float *lv, const float *eps, int64_t n);
    void (*gauss_sample_backward)(float *dmu, float *dlv, const float *dz, const float *lv,
                                  const float *eps, int64_t n);
    void (*gauss_logprob_forward)(float *out, const float *z, const float *mu, const float *lv,
                                  int64_t B, int64_t D);
    void (*gauss_logprob_backward)(float *dz, float *dmu, float *dlv, const float *dout,
                                   const float *z, const float *mu, const float *lv, int64_t B,
                                   int64_t D);
    void (*gauss_kl_forward)(float *out, const float *mu1, const float *lv1, const float *mu2,
                             const float *lv2, int64_t B, int64_t D);
    void (*gauss_kl_backward)(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                              const float *mu1, const float *lv1, const float *mu2,
                              const float *lv2, int64_t B, int64_t D);

    /* Categoricals from logits(B,A); per-row results out(B).
     *   xent:    out = -sum_a q(a) log softmax(logits)(a)   (target q(B,A))
     *   logprob: out = log softmax(logits)(action)
     *   entropy: out = -sum_a p log p
     *   sample:  action = inverse CDF of softmax(logits) at u(B) in (0, 1) */
    void (*cat_xent_forward)(float *out, const float *logits, const float *q, int64_t B, int64_t A);
    void (*cat_xent_backward)(float *dlogits, const float *dout, const float *logits, const float *q,
                              int64_t B, int64_t A);
    void (*cat_logprob_forward)(float *out, const float *logits, const int32_t *action, int64_t B,
                                int64_t A);
    void (*cat_logprob_backward)(float *dlogits, const float *dout, const float *logits,
                                 const int32_t *action, int64_t B, int64_t A);
    void (*cat_entropy_forward)(float *out, const float *logits, int64_t B, int64_t A);
    void (*cat_entropy_backward)(float *dlogits, const float *dout, const float *logits, int64_t B,
                                 int64_t A);
    void (*cat_sample)(int32_t *action, const float *logits, const float *u, int64_t B, int64_t A);

    /* Bernoulli log-likelihood of y in [0, 1] under logit l, elementwise:
     *   out = y l - softplus(l);  backward: dl += dout (y - sigmoid(l)) */
    void (*bernoulli_loglik_forward)(float *out, const float *logit, const float *y, int64_t n);
    void (*bernoulli_loglik_backward)(float *dlogit, const float *dout, const float *logit,
                                      const float *y, int64_t n);

    /* One Adam(W) step on n parameters: m, v are the moments, t >= 1 the step
     * number (bias correction), wd the decoupled weight decay (0 = Adam). */
    void (*adam_update)(float *param, const float *grad, float *m, float *v, int64_t n, float lr,
                        float beta1, float beta2, float eps, float wd, int64_t t);
} vb_backend;

/* The CPU reference backend. */
const vb_backend *vb_backend_cpu(void);

/* How a chain of layers splits B rows into blocks of be->chain_rows: the
 * block at row r0 has vb_chain_block(be, B, r0) rows, the last taking the
 * rest (chain_rows to 2 chain_rows - 1 rows, so that none is shorter than
 * chain_rows unless B is); vb_chain_most(be, B) rows is the largest block. */
static inline int64_t vb_chain_most(const vb_backend *be, int64_t B) {
    const int64_t R = be->chain_rows;
    return R > 0 && B >= 2 * R ? 2 * R - 1 : B;
}
static inline int64_t vb_chain_block(const vb_backend *be, int64_t B, int64_t r0) {
    const int64_t R = be->chain_rows, left = B - r0;
    return R > 0 && left >= 2 * R ? R : left;
}

/* The CUDA backend on device `device` (cuda:N): NULL with the reason in why
 * when this build has no CUDA, the device is absent, or its set-up fails.
 * One device per process, used from the host thread that made this call
 * (its stream and scratch are not locked). Pointers, the S5 ops' reset
 * included, are device memory; the GRU layer (common/nn/gru.c) reads its
 * reset mask on the host. A CUDA call that fails inside an op prints the
 * call, where and why, and exits the process. */
const vb_backend *vb_backend_cuda(int device, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
