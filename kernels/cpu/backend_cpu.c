/* backend_cpu — the reference implementation of kernels/backend.h.
 * GEMM goes to OpenBLAS (CBLAS); everything else is plain loops written to be
 * read and checked. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "cpu_ops.h"

/* The elementwise loops that dominate acting are compiled for AVX-512, AVX2
 * and baseline x86-64 and picked at load time. -std=c11 keeps floating-point
 * contraction off, so every clone computes bit-identical results. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VB_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VB_SIMD_CLONES
#endif

static float *cpu_alloc(int64_t n) { return n > 0 ? calloc((size_t)n, sizeof(float)) : NULL; }
static void cpu_release(float *p) { free(p); }
static void cpu_copy(float *dst, const float *src, int64_t n) {
    if (n > 0 && dst != src) memmove(dst, src, (size_t)n * sizeof(float));
}

static void cpu_set_threads(int n) {
    if (n <= 0) n = openblas_get_num_procs();
    openblas_set_num_threads(n);
}

static void cpu_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M,
                (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

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

static void cpu_bias_grad(float *db, const float *dout, int64_t rows, int64_t cols) {
    for (int64_t i = 0; i < rows; i++) {
        const float *d = dout + i * cols;
        for (int64_t j = 0; j < cols; j++) db[j] += d[j];
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_C 0.044715f

/* exp for the activation loops: Cody-Waite range reduction and a degree-6
 * polynomial (Cephes' expf), written without branches so that the loops
 * vectorise; within 1 ulp of expf on [-87, 88], saturating to 2^-126 / 2^127
 * outside (which tanh and sigmoid below turn into exact -1/+1 and 0/1). */
static inline float vexpf(float x) {
    float t = x * 1.44269504088896341f;
    t = t < -1.0e6f ? -1.0e6f : t;
    t = t > 1.0e6f ? 1.0e6f : t;
    float kf = (t + 12582912.0f) - 12582912.0f; /* round to nearest, |t| < 2^22 */
    float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t k = (int32_t)kf;
    k = k < -126 ? -126 : k;
    k = k > 127 ? 127 : k;
    int32_t bits = (k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + vexpf(-x)); }

/* tanh from one exp: 1 - 2 / (e^{2x} + 1) */
static inline float fast_tanhf(float x) { return 1.0f - 2.0f / (vexpf(2.0f * x) + 1.0f); }

VB_SIMD_CLONES static void cpu_act_forward(vb_act act, float *out, const float *in, int64_t n) {
    switch (act) {
    case VB_ACT_NONE: cpu_copy(out, in, n); break;
    case VB_ACT_RELU:
        for (int64_t i = 0; i < n; i++) {
            float v = in[i];
            out[i] = v > 0.0f ? v : 0.0f;
        }
        break;
    case VB_ACT_TANH: for (int64_t i = 0; i < n; i++) out[i] = fast_tanhf(in[i]); break;
    case VB_ACT_GELU:
        for (int64_t i = 0; i < n; i++) {
            float x = in[i];
            out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_C * x * x * x)));
        }
        break;
    case VB_ACT_ELU: for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : expm1f(in[i]); break;
    case VB_ACT_SIGMOID: for (int64_t i = 0; i < n; i++) out[i] = sigmoidf(in[i]); break;
    }
}

static void cpu_act_backward(vb_act act, float *din, const float *dout, const float *in,
                             const float *out, int64_t n) {
    switch (act) {
    case VB_ACT_NONE: for (int64_t i = 0; i < n; i++) din[i] += dout[i]; break;
    case VB_ACT_RELU: for (int64_t i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : 0; break;
    case VB_ACT_TANH: for (int64_t i = 0; i < n; i++) din[i] += (1.0f - out[i] * out[i]) * dout[i]; break;
    case VB_ACT_GELU:
        for (int64_t i = 0; i < n; i++) {
            float x = in[i];
            float t = tanhf(GELU_K * (x + GELU_C * x * x * x));
            float g = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * x * x);
            din[i] += g * dout[i];
        }
        break;
    case VB_ACT_ELU: for (int64_t i = 0; i < n; i++) din[i] += (in[i] > 0 ? 1.0f : out[i] + 1.0f) * dout[i]; break;
    case VB_ACT_SIGMOID: for (int64_t i = 0; i < n; i++) din[i] += out[i] * (1.0f - out[i]) * dout[i]; break;
    }
}

static void cpu_softmax(float *out, const float *in, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * cols;
        float *y = out + r * cols;
        float mx = -INFINITY;
        for (int64_t j = 0; j < cols; j++) mx = x[j] > mx ? x[j] : mx;
        double s = 0;
        for (int64_t j = 0; j < cols; j++) {
            y[j] = expf(x[j] - mx);
            s += y[j];
        }
        float inv = (float)(1.0 / s);
        for (int64_t j = 0; j < cols; j++) y[j] *= inv;
    }
}

static void cpu_log_softmax(float *out, const float *in, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * cols;
        float *y = out + r * cols;
        float mx = -INFINITY;
        for (int64_t j = 0; j < cols; j++) mx = x[j] > mx ? x[j] : mx;
        double s = 0;
        for (int64_t j = 0; j < cols; j++) s += exp((double)(x[j] - mx));
        float lse = mx + (float)log(s);
        for (int64_t j = 0; j < cols; j++) y[j] = x[j] - lse;
    }
}

static void cpu_axpy(float *y, float a, const float *x, int64_t n) {
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
        float r = sigmoidf(x[j] + g[j]);
        float z = sigmoidf(x[H + j] + g[H + j]);
        float nn = fast_tanhf(x[2 * H + j] + r * g[2 * H + j]);
        ga[j] = r;
        ga[H + j] = z;
        ga[2 * H + j] = nn;
        ho[j] = (1.0f - z) * nn + z * hp[j];
    }
}

static void cpu_gru_gates_forward(float *h_out, float *gates, const float *xg, const float *hg,
                                  const float *h, int64_t B, int64_t H) {
    for (int64_t b = 0; b < B; b++)
        gru_gates_row(h_out + b * H, gates + b * 3 * H, xg + b * 3 * H, hg + b * 3 * H, h + b * H, H);
}

static void cpu_gru_gates_backward(float *dxg, float *dhg, float *dh, const float *dh_out,
                                   const float *gates, const float *hg, const float *h, int64_t B,
                                   int64_t H) {
    for (int64_t b = 0; b < B; b++) {
        const float *ga = gates + b * 3 * H, *g = hg + b * 3 * H, *hp = h + b * H, *d = dh_out + b * H;
        float *dx = dxg + b * 3 * H, *dg = dhg + b * 3 * H, *dhp = dh + b * H;
        for (int64_t j = 0; j < H; j++) {
            float r = ga[j], z = ga[H + j], nn = ga[2 * H + j];
            float dz = d[j] * (hp[j] - nn);
            float dn = d[j] * (1.0f - z);
            float dpre_n = dn * (1.0f - nn * nn);
            float dr = dpre_n * g[2 * H + j];
            float dpre_r = dr * r * (1.0f - r);
            float dpre_z = dz * z * (1.0f - z);
            dx[j] = dpre_r;
            dx[H + j] = dpre_z;
            dx[2 * H + j] = dpre_n;
            dg[j] = dpre_r;
            dg[H + j] = dpre_z;
            dg[2 * H + j] = dpre_n * r;
            dhp[j] += d[j] * z;
        }
    }
}

/* The recurrence as a fold of the associative operator
 *   (a1, b1) . (a2, b2) = (a2 a1, a2 b1 + b2)
 * applied left to right; a reset element has a = 0, which drops the carry.
 * A device implementation may evaluate the same operator as a parallel scan. */
static void cpu_s5_scan_forward(float *xs, const float *v, const float *lam, const float *x0,
                                const uint8_t *reset, int64_t T, int64_t B, int64_t P) {
    const int64_t n0 = B * P, n = T * B * P;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t p = 0; p < P; p++) {
            float cr = x0[b * P + p], ci = x0[n0 + b * P + p];
            const float lr = lam[p], li = lam[P + p];
            for (int64_t t = 0; t < T; t++) {
                int64_t i = (t * B + b) * P + p;
                float ar = lr, ai = li;
                if (reset && reset[t * B + b]) ar = ai = 0.0f;
                float nr = ar * cr - ai * ci + v[i];
                float ni = ar * ci + ai * cr + v[n + i];
                cr = nr;
                ci = ni;
                xs[i] = cr;
                xs[n + i] = ci;
            }
        }
    }
}

static void cpu_s5_scan_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                                 const float *lam, const float *x0, const uint8_t *reset, int64_t T,
                                 int64_t B, int64_t P) {
    const int64_t n0 = B * P, n = T * B * P;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t p = 0; p < P; p++) {
            const float lr = lam[p], li = lam[P + p];
            float cr = 0.0f, ci = 0.0f; /* cogradient flowing back into x_t from x_{t+1} */
            double glr = 0, gli = 0;
            for (int64_t t = T - 1; t >= 0; t--) {
                int64_t i = (t * B + b) * P + p;
                float gr = gx[i] + cr, gi = gx[n + i] + ci;
                gv[i] = gr;
                gv[n + i] = gi;
                int rs = reset && reset[t * B + b];
                float pr, pi; /* x_{t-1} */
                if (t > 0) {
                    int64_t j = ((t - 1) * B + b) * P + p;
                    pr = xs[j];
                    pi = xs[n + j];
                } else {
                    pr = x0[b * P + p];
                    pi = x0[n0 + b * P + p];
                }
                if (rs) {
                    cr = ci = 0.0f;
                } else {
                    /* d/dlam: conj(x_{t-1}) * g;  d/dx_{t-1}: conj(lam) * g */
                    glr += (double)pr * gr + (double)pi * gi;
                    gli += (double)pr * gi - (double)pi * gr;
                    cr = lr * gr + li * gi;
                    ci = lr * gi - li * gr;
                }
            }
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
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        float denom = sqrtf(v[i]) * inv_sqrt_bc2 + eps;
        param[i] -= step * m[i] / denom + lr * wd * param[i];
    }
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
    .gemm = cpu_gemm,
    .bias_fill = cpu_bias_fill,
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
