// cuda_ops — the CUDA backend's shared state, checks and launch helpers, and
// the operations defined outside backend_cuda.cu (gathered into the
// vb_backend table there). Internal to kernels/cuda/.
#ifndef VB_CUDA_OPS_H
#define VB_CUDA_OPS_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "../backend.h"

// One device per process: the stream every op runs on (ops are synchronous
// to the host only where they return a value or copy to the host) and the
// cuBLAS handle bound to it.
struct vb__cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    double *partials;   // device scratch of the two-pass reductions
    double *host_sum;   // pinned: a reduction's result
};
extern vb__cuda_ctx vb__cuda;

// Device scratch of at least `bytes`, reused by every op that needs one
// (grown, never shrunk; growing waits for the device).
void *vb__cuda_scratch(size_t bytes);

// A failing CUDA or cuBLAS call: the call's text, where, and why go to the
// fatal handler (kernels/backend.h), which does not return.
void vb__cuda_fail(const char *call, const char *file, int line, const char *why);
#define VB_CUDA_CHECK(call)                                                                   \
    do {                                                                                      \
        cudaError_t vb__e = (call);                                                           \
        if (vb__e != cudaSuccess) vb__cuda_fail(#call, __FILE__, __LINE__, cudaGetErrorString(vb__e)); \
    } while (0)
const char *vb__cublas_status(cublasStatus_t s);
#define VB_CUBLAS_CHECK(call)                                                                 \
    do {                                                                                      \
        cublasStatus_t vb__s = (call);                                                        \
        if (vb__s != CUBLAS_STATUS_SUCCESS) vb__cuda_fail(#call, __FILE__, __LINE__, vb__cublas_status(vb__s)); \
    } while (0)

#define VB_CUDA_THREADS 256
// Blocks of a reduction's first pass; partials holds this many + 1 doubles.
#define VB_REDUCE_BLOCKS 1024
static inline unsigned vb__cuda_blocks(int64_t n) {
    int64_t b = (n + VB_CUDA_THREADS - 1) / VB_CUDA_THREADS;
    return (unsigned)(b < 65535 * 16 ? (b > 0 ? b : 1) : 65535 * 16);
}
// Launch `kernel` over n work items (grid-stride inside), checked by name.
#define VB_LAUNCH(kernel, n, ...)                                                             \
    do {                                                                                      \
        if ((n) > 0) {                                                                        \
            kernel<<<vb__cuda_blocks(n), VB_CUDA_THREADS, 0, vb__cuda.stream>>>(__VA_ARGS__); \
            VB_CUDA_CHECK(cudaGetLastError());                                                \
        }                                                                                     \
    } while (0)
#define VB_GRID_STRIDE(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// elementwise.cu
void vb__cuda_bias_fill(float *out, const float *b, int64_t rows, int64_t cols);
void vb__cuda_bias_grad(float *db, const float *dout, int64_t rows, int64_t cols);
void vb__cuda_act_forward(vb_act act, float *out, const float *in, int64_t n);
void vb__cuda_act_backward(vb_act act, float *din, const float *dout, const float *in, const float *out, int64_t n);
void vb__cuda_axpy(float *y, float a, const float *x, int64_t n);
void vb__cuda_scale(float *x, float a, int64_t n);
void vb__cuda_fill(float *x, float v, int64_t n);
void vb__cuda_mul(float *out, const float *a, const float *b, int64_t n);
void vb__cuda_col_scale_acc(float *out, const float *in, const float *s, int64_t rows, int64_t cols);
void vb__cuda_col_dot_acc(float *ds, const float *a, const float *b, int64_t rows, int64_t cols);
double vb__cuda_sum(const float *x, int64_t n);
double vb__cuda_sumsq(const float *x, int64_t n);
void vb__cuda_adam_update(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1,
                          float beta2, float eps, float wd, int64_t t);

// dists.cu
void vb__cuda_softmax(float *out, const float *in, int64_t rows, int64_t cols);
void vb__cuda_log_softmax(float *out, const float *in, int64_t rows, int64_t cols);
void vb__cuda_gauss_sample_forward(float *z, const float *mu, const float *lv, const float *eps, int64_t n);
void vb__cuda_gauss_sample_backward(float *dmu, float *dlv, const float *dz, const float *lv, const float *eps,
                                    int64_t n);
void vb__cuda_gauss_logprob_forward(float *out, const float *z, const float *mu, const float *lv, int64_t B,
                                    int64_t D);
void vb__cuda_gauss_logprob_backward(float *dz, float *dmu, float *dlv, const float *dout, const float *z,
                                     const float *mu, const float *lv, int64_t B, int64_t D);
void vb__cuda_gauss_kl_forward(float *out, const float *mu1, const float *lv1, const float *mu2, const float *lv2,
                               int64_t B, int64_t D);
void vb__cuda_gauss_kl_backward(float *dmu1, float *dlv1, float *dmu2, float *dlv2, const float *dout,
                                const float *mu1, const float *lv1, const float *mu2, const float *lv2, int64_t B,
                                int64_t D);
void vb__cuda_cat_xent_forward(float *out, const float *logits, const float *q, int64_t B, int64_t A);
void vb__cuda_cat_xent_backward(float *dlogits, const float *dout, const float *logits, const float *q, int64_t B,
                                int64_t A);
void vb__cuda_cat_logprob_forward(float *out, const float *logits, const int32_t *action, int64_t B, int64_t A);
void vb__cuda_cat_logprob_backward(float *dlogits, const float *dout, const float *logits, const int32_t *action,
                                   int64_t B, int64_t A);
void vb__cuda_cat_entropy_forward(float *out, const float *logits, int64_t B, int64_t A);
void vb__cuda_cat_entropy_backward(float *dlogits, const float *dout, const float *logits, int64_t B, int64_t A);
void vb__cuda_cat_sample(int32_t *action, const float *logits, const float *u, int64_t B, int64_t A);
void vb__cuda_bernoulli_loglik_forward(float *out, const float *logit, const float *y, int64_t n);
void vb__cuda_bernoulli_loglik_backward(float *dlogit, const float *dout, const float *logit, const float *y,
                                        int64_t n);

// recurrent.cu
void vb__cuda_gru_gates_forward(float *h_out, float *gates, const float *xg, const float *hg, const float *h,
                                int64_t B, int64_t H);
void vb__cuda_gru_gates_backward(float *dxg, float *dhg, float *dh, const float *dh_out, const float *gates,
                                 const float *hg, const float *h, int64_t B, int64_t H);
void vb__cuda_s5_scan_forward(float *xs, const float *v, const float *lam_bar, const float *x0,
                              const uint8_t *reset, int64_t T, int64_t B, int64_t P);
void vb__cuda_s5_scan_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                               const float *lam_bar, const float *x0, const uint8_t *reset, int64_t T, int64_t B,
                               int64_t P);
void vb__cuda_s5_discretize_forward(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                    const float *log_step, const float *b, int64_t P, int64_t H);
void vb__cuda_s5_discretize_backward(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                     const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                     const float *lam_im, const float *log_step, const float *b, int64_t P,
                                     int64_t H);

#endif
