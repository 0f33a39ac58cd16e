/* backend_cpu — the reference implementation of kernels/backend.h.
 * GEMM goes to OpenBLAS (CBLAS); everything else is plain loops around the
 * per-element and per-row bodies of kernels/math/, which the CUDA backend's
 * kernels share. */
#ifndef VB_NO_CBLAS
#include <cblas.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "../math/act.h"
#include "../math/adam.h"
#include "../math/dists.h"
#include "../math/gru.h"
#include "../math/s5.h"
#include "../simd_clones.h"
#include "cpu_ops.h"

/* The elementwise loops that dominate acting are compiled for AVX-512, AVX2
 * and baseline x86-64 and picked at load time (simd_clones.h). */

static float *cpu_alloc(int64_t n) { return n > 0 ? calloc((size_t)n, sizeof(float)) : NULL; }
static void cpu_release(float *p) { free(p); }
static void cpu_copy(float *dst, const float *src, int64_t n) {
    if (n > 0 && dst != src) memmove(dst, src, (size_t)n * sizeof(float));
}

#ifndef VB_NO_CBLAS
static void cpu_set_threads(int n) {
    if (n <= 0) n = openblas_get_num_procs();
    openblas_set_num_threads(n);
}
static int cpu_get_threads(void) { return openblas_get_num_threads(); }

static void cpu_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M,
                (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
#else
/* Without a BLAS (the GPU parity program on a machine with only the CUDA
 * toolkit): the definition, summed in double. */
static void cpu_set_threads(int n) { (void)n; }
static int cpu_get_threads(void) { return 1; }

static void cpu_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            float *c = &C[i * ldc + j];
            *c = (float)(alpha * s) + (beta == 0.0f ? 0.0f : beta * *c);
        }
}
#endif

/* The first row is the bias; every later copy doubles the filled rows, so a
 * fill of many short rows is a few long copies rather than one call a row. */
static void cpu_bias_fill(float *out, const float *b, int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) return;
    memcpy(out, b, (size_t)cols * sizeof(float));
    for (int64_t done = 1; done < rows;) {
        int64_t n = done < rows - done ? done : rows - done;
        memcpy(out + done * cols, out, (size_t)(n * cols) * sizeof(float));
        done += n;
    }
}

/* db and dout are distinct buffers by contract (restrict: the loop vectorises) */
VB_SIMD_CLONES static void cpu_bias_grad_rows(float *restrict db, const float *restrict dout, int64_t rows,
                                              int64_t cols) {
    for (int64_t i = 0; i < rows; i++) {
        const float *d = dout + i * cols;
        for (int64_t j = 0; j < cols; j++) db[j] += d[j];
    }
}
static void cpu_bias_grad(float *db, const float *dout, int64_t rows, int64_t cols) {
    cpu_bias_grad_rows(db, dout, rows, cols);
}

/* One loop per activation, so that the switch is outside the loop. */
#define ACT_CASES(LOOP)                                                                                      \
    case VB_ACT_RELU: LOOP(VB_ACT_RELU); break;                                                              \
    case VB_ACT_TANH: LOOP(VB_ACT_TANH); break;                                                              \
    case VB_ACT_GELU: LOOP(VB_ACT_GELU); break;                                                              \
    case VB_ACT_ELU: LOOP(VB_ACT_ELU); break;                                                                \
    case VB_ACT_SIGMOID: LOOP(VB_ACT_SIGMOID); break;

VB_SIMD_CLONES static void cpu_act_forward(vb_act act, float *out, const float *in, int64_t n) {
#define FWD(A) for (int64_t i = 0; i < n; i++) out[i] = vb_act_fwd(A, in[i])
    switch (act) {
    case VB_ACT_NONE: cpu_copy(out, in, n); break;
    ACT_CASES(FWD)
    }
#undef FWD
}

/* the activation of each finished block of a fused linear layer */
typedef struct act_rows_ctx {
    vb_act act;
    float *out;
    const float *pre;
    int64_t N;
} act_rows_ctx;

static void act_rows(void *ctx, int64_t row0, int64_t rows) {
    const act_rows_ctx *c = ctx;
    cpu_act_forward(c->act, c->out + row0 * c->N, c->pre + row0 * c->N, rows * c->N);
}

/* Fused on one BLAS thread (vb__cpu_gemm_nt_bias) from FUSED_MIN_ROWS rows,
 * enough to repay packing W^T at every call (a step of 32 or 64 rows packs
 * more than it gains: BLAS keeps those, and the GRU window packs W_h once for
 * all its steps through gemm_packed); with more threads, the GEMM is BLAS's
 * to split. A chain of layers runs in blocks of CHAIN_ROWS rows: 512 rows of
 * 64 floats are 128 KiB a layer, in L2. */
enum { FUSED_MIN_ROWS = 128, CHAIN_ROWS = 512 };
/* linear_act, from W and b or, where Wp is not NULL, from their packing */
static void linear_act_from(vb_act act, float *pre, float *out, const float *in, const float *Wp, const float *W,
                            const float *b, int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0) return;
    float *dst = pre ? pre : out; /* where the sums go */
    const bool epilogue = act != VB_ACT_NONE || dst != out;
    act_rows_ctx ctx = {act, out, dst, N};
    /* a ReLU is stored from the kernel's registers, other activations per block */
    const bool in_kernel = act == VB_ACT_RELU;
    void (*rows_done)(void *, int64_t, int64_t) = epilogue && !in_kernel ? act_rows : NULL;
    if (M >= FUSED_MIN_ROWS && cpu_get_threads() == 1 &&
        (Wp ? vb__cpu_gemm_nt_bias_packed(dst, in_kernel ? out : NULL, in, Wp, b != NULL, M, N, K, rows_done, &ctx)
            : vb__cpu_gemm_nt_bias(dst, in_kernel ? out : NULL, in, W, b, M, N, K, rows_done, &ctx)) == 0)
        return;
    if (b) cpu_bias_fill(dst, b, M, N);
    cpu_gemm(false, true, M, N, K, 1.0f, in, K, W, K, b ? 1.0f : 0.0f, dst, N);
    if (epilogue) cpu_act_forward(act, out, dst, M * N);
}

static void cpu_linear_act(vb_act act, float *pre, float *out, const float *in, const float *W, const float *b,
                           int64_t M, int64_t N, int64_t K) {
    linear_act_from(act, pre, out, in, NULL, W, b, M, N, K);
}

static void cpu_linear_act_packed(vb_act act, float *out, const float *in, const float *Wp, const float *W,
                                  const float *b, int64_t M, int64_t N, int64_t K) {
    linear_act_from(act, NULL, out, in, Wp, W, b, M, N, K);
}

static void cpu_pack_weights(float *Wp, const float *W, const float *b, int64_t N, int64_t K, bool w_kn) {
    (void)vb__cpu_gemm_pack(Wp, W, b, N, K, w_kn); /* -1: gemm_packed takes the BLAS path */
}

/* The packed kernel where it packed (vb__cpu_gemm_pack's condition) and BLAS
 * has one thread; otherwise what bias_fill and gemm compute, from W. */
static void cpu_gemm_packed(float *C, const float *A, const float *Wp, const float *W, const float *b, int64_t M,
                            int64_t N, int64_t K, bool w_kn, bool add) {
    if (M <= 0 || N <= 0) return;
    if (vb__cpu_gemm_nt_isa(-1) != 0 && N > 1 && K > 0 && cpu_get_threads() == 1) {
        vb__cpu_gemm_packed(C, A, Wp, b != NULL, M, N, K, add);
        return;
    }
    if (b && !add) cpu_bias_fill(C, b, M, N);
    cpu_gemm(false, !w_kn, M, N, K, 1.0f, A, K, W, w_kn ? N : K, add || b ? 1.0f : 0.0f, C, N);
}

VB_SIMD_CLONES static void cpu_act_backward(vb_act act, float *din, const float *dout, const float *in,
                             const float *out, int64_t n) {
#define BWD(A) for (int64_t i = 0; i < n; i++) din[i] += vb_act_backward_elem(A, in[i], out[i], dout[i])
    switch (act) {
    case VB_ACT_NONE: for (int64_t i = 0; i < n; i++) din[i] += dout[i]; break;
    ACT_CASES(BWD)
    }
#undef BWD
}

static void cpu_softmax(float *out, const float *in, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) vb_row_softmax(out + r * cols, in + r * cols, cols);
}

static void cpu_log_softmax(float *out, const float *in, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) vb_row_log_softmax(out + r * cols, in + r * cols, cols);
}

VB_SIMD_CLONES static void cpu_axpy(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}
static void cpu_scale(float *x, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}
static void cpu_fill(float *x, float v, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = v;
}
static void cpu_mul(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}
static void cpu_col_scale_acc(float *out, const float *in, const float *s, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) out[i * cols + j] += in[i * cols + j] * s[j];
}
static void cpu_col_dot_acc(float *ds, const float *a, const float *b, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) ds[j] += a[i * cols + j] * b[i * cols + j];
}
static double cpu_sum(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}
static double cpu_sumsq(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/* one row of the gates; restrict parameters (distinct buffers by contract) let
 * the loop vectorise, which block-scope restrict pointers do not */
VB_SIMD_CLONES static void gru_gates_row(float *restrict ho, float *restrict ga, const float *restrict x,
                                         const float *restrict g, const float *restrict hp, int64_t H) {
    for (int64_t j = 0; j < H; j++) {
        float r, z, nn;
        ho[j] = vb_gru_unit_fwd(x[j], x[H + j], x[2 * H + j], g[j], g[H + j], g[2 * H + j], hp[j], &r, &z, &nn);
        ga[j] = r;
        ga[H + j] = z;
        ga[2 * H + j] = nn;
    }
}

static void cpu_gru_gates_forward(float *h_out, float *gates, const float *xg, const float *hg,
                                  const float *h, int64_t B, int64_t H) {
    for (int64_t b = 0; b < B; b++)
        gru_gates_row(h_out + b * H, gates + b * 3 * H, xg + b * 3 * H, hg + b * 3 * H, h + b * H, H);
}

/* one row of the gates' backward, vectorised like the forward */
VB_SIMD_CLONES static void gru_gates_backward_row(float *restrict dx, float *restrict dg, float *restrict dhp,
                                                  const float *restrict d, const float *restrict ga,
                                                  const float *restrict g, const float *restrict hp, int64_t H) {
    for (int64_t j = 0; j < H; j++) {
        float dr, dz, dn;
        dhp[j] += vb_gru_unit_bwd(ga[j], ga[H + j], ga[2 * H + j], g[2 * H + j], hp[j], d[j], &dr, &dz, &dn);
        dx[j] = dr;
        dx[H + j] = dz;
        dx[2 * H + j] = dn;
        dg[j] = dr;
        dg[H + j] = dz;
        dg[2 * H + j] = dn * ga[j];
    }
}

static void cpu_gru_gates_backward(float *dxg, float *dhg, float *dh, const float *dh_out,
                                   const float *gates, const float *hg, const float *h, int64_t B,
                                   int64_t H) {
    for (int64_t b = 0; b < B; b++)
        gru_gates_backward_row(dxg + b * 3 * H, dhg + b * 3 * H, dh + b * H, dh_out + b * H, gates + b * 3 * H,
                               hg + b * 3 * H, h + b * H, H);
}

/* The recurrence as a fold of the associative operator
 *   (a1, b1) . (a2, b2) = (a2 a1, a2 b1 + b2)
 * applied left to right; a reset element has a = 0, which drops the carry.
 * A device implementation may evaluate the same operator as a parallel scan. */
static void cpu_s5_scan_forward(float *xs, const float *v, const float *lam, const float *x0,
                                const uint8_t *reset, int64_t T, int64_t B, int64_t P) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p < P; p++) vb_s5_fold_lane(xs, v, lam, x0, reset, T, B, P, b, p);
}

static void cpu_s5_scan_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                                 const float *lam, const float *x0, const uint8_t *reset, int64_t T,
                                 int64_t B, int64_t P) {
    const int64_t n0 = B * P;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t p = 0; p < P; p++) {
            double glr, gli;
            float cr, ci;
            vb_s5_fold_lane_adjoint(gv, &glr, &gli, &cr, &ci, gx, xs, lam, x0, reset, T, B, P, b, p);
            glam[p] += (float)glr;
            glam[P + p] += (float)gli;
            gx0[b * P + p] += cr;
            gx0[n0 + b * P + p] += ci;
        }
    }
}

static void cpu_adam_update(float *param, const float *grad, float *m, float *v, int64_t n, float lr,
                            float beta1, float beta2, float eps, float wd, int64_t t) {
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    const float step = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    for (int64_t i = 0; i < n; i++)
        vb_adam_elem(&param[i], grad[i], &m[i], &v[i], step, inv_sqrt_bc2, lr, beta1, beta2, eps, wd);
}

static void cpu_upload(float *dst, const float *src, int64_t n) { cpu_copy(dst, src, n); }
static void cpu_download(float *dst, const float *src, int64_t n) { cpu_copy(dst, src, n); }

static const vb_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_upload,
    .download = cpu_download,
    .set_threads = cpu_set_threads,
    .get_threads = cpu_get_threads,
    .gemm = cpu_gemm,
    .bias_fill = cpu_bias_fill,
    .linear_act = cpu_linear_act,
    .chain_rows = CHAIN_ROWS,
    .pack_weights = cpu_pack_weights,
    .linear_act_packed = cpu_linear_act_packed,
    .gemm_packed = cpu_gemm_packed,
    .bias_grad = cpu_bias_grad,
    .act_forward = cpu_act_forward,
    .act_backward = cpu_act_backward,
    .softmax = cpu_softmax,
    .log_softmax = cpu_log_softmax,
    .axpy = cpu_axpy,
    .scale = cpu_scale,
    .fill = cpu_fill,
    .copy = cpu_copy,
    .mul = cpu_mul,
    .col_scale_acc = cpu_col_scale_acc,
    .col_dot_acc = cpu_col_dot_acc,
    .sum = cpu_sum,
    .sumsq = cpu_sumsq,
    .gru_gates_forward = cpu_gru_gates_forward,
    .gru_gates_backward = cpu_gru_gates_backward,
    .s5_scan_forward = cpu_s5_scan_forward,
    .s5_scan_backward = cpu_s5_scan_backward,
    .s5_discretize_forward = vb__cpu_s5_discretize_forward,
    .s5_discretize_backward = vb__cpu_s5_discretize_backward,
    .gauss_sample_forward = vb__cpu_gauss_sample_forward,
    .gauss_sample_backward = vb__cpu_gauss_sample_backward,
    .gauss_logprob_forward = vb__cpu_gauss_logprob_forward,
    .gauss_logprob_backward = vb__cpu_gauss_logprob_backward,
    .gauss_kl_forward = vb__cpu_gauss_kl_forward,
    .gauss_kl_backward = vb__cpu_gauss_kl_backward,
    .cat_xent_forward = vb__cpu_cat_xent_forward,
    .cat_xent_backward = vb__cpu_cat_xent_backward,
    .cat_logprob_forward = vb__cpu_cat_logprob_forward,
    .cat_logprob_backward = vb__cpu_cat_logprob_backward,
    .cat_entropy_forward = vb__cpu_cat_entropy_forward,
    .cat_entropy_backward = vb__cpu_cat_entropy_backward,
    .cat_sample = vb__cpu_cat_sample,
    .bernoulli_loglik_forward = vb__cpu_bernoulli_loglik_forward,
    .bernoulli_loglik_backward = vb__cpu_bernoulli_loglik_backward,
    .adam_update = cpu_adam_update,
};

const vb_backend *vb_backend_cpu(void) { return &cpu_backend; }
