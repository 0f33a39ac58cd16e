// recurrent — the CUDA backend's GRU gates, S5 scans and S5 discretisation
// around the bodies of kernels/math/gru.h and kernels/math/s5.h.
//
// The S5 recurrence runs as an associative scan: one block per lane (row b,
// mode p), one thread per step, ceil(log2 T) Hillis-Steele rounds in shared
// memory combining t with t - 2^k (t + 2^k for the adjoint) — the rounds
// common/nn/s5_assoc.c runs on the CPU, so the two agree to rounding. Windows
// longer than one block (1024 steps) fall back to the sequential fold, one
// thread per lane. The gradient of lam_bar is summed per lane in double, then
// over the rows b in order (no atomics: the same bits on every run).
#include "../math/gru.h"
#include "../math/s5.h"
#include "cuda_ops.h"
#include "../cuda_device.h"

// --- GRU gates ---------------------------------------------------------------------

static __global__ void k_gru_fwd(float *h_out, float *gates, const float *xg, const float *hg, const float *h,
                                 int64_t B, int64_t H) {
    VB_GRID_STRIDE(i, B * H) {
        const int64_t b = i / H, j = i % H;
        const float *x = xg + b * 3 * H, *g = hg + b * 3 * H;
        float *ga = gates + b * 3 * H;
        float r, z, nn;
        h_out[i] = vb_gru_unit_fwd(x[j], x[H + j], x[2 * H + j], g[j], g[H + j], g[2 * H + j], h[i], &r, &z, &nn);
        ga[j] = r;
        ga[H + j] = z;
        ga[2 * H + j] = nn;
    }
}
void vb__cuda_gru_gates_forward(float *h_out, float *gates, const float *xg, const float *hg, const float *h,
                                int64_t B, int64_t H) {
    VB_LAUNCH(k_gru_fwd, B * H, h_out, gates, xg, hg, h, B, H);
}

static __global__ void k_gru_bwd(float *dxg, float *dhg, float *dh, const float *dh_out, const float *gates,
                                 const float *hg, const float *h, int64_t B, int64_t H) {
    VB_GRID_STRIDE(i, B * H) {
        const int64_t b = i / H, j = i % H;
        const float *ga = gates + b * 3 * H, *g = hg + b * 3 * H;
        float *dx = dxg + b * 3 * H, *dg = dhg + b * 3 * H;
        float dr, dz, dn;
        dh[i] += vb_gru_unit_bwd(ga[j], ga[H + j], ga[2 * H + j], g[2 * H + j], h[i], dh_out[i], &dr, &dz, &dn);
        dx[j] = dr;
        dx[H + j] = dz;
        dx[2 * H + j] = dn;
        dg[j] = dr;
        dg[H + j] = dz;
        dg[2 * H + j] = dn * ga[j];
    }
}
void vb__cuda_gru_gates_backward(float *dxg, float *dhg, float *dh, const float *dh_out, const float *gates,
                                 const float *hg, const float *h, int64_t B, int64_t H) {
    VB_LAUNCH(k_gru_bwd, B * H, dxg, dhg, dh, dh_out, gates, hg, h, B, H);
}

// --- S5: the sequential fold (one thread per lane) ---------------------------------

static __global__ void k_s5_fold(float *xs, const float *v, const float *lam, const float *x0, const uint8_t *reset,
                                 int64_t T, int64_t B, int64_t P) {
    VB_GRID_STRIDE(m, B * P) vb_s5_fold_lane(xs, v, lam, x0, reset, T, B, P, m / P, m % P);
}

static __global__ void k_s5_fold_adjoint(float *gv, double *lane, float *gx0, const float *gx, const float *xs,
                                         const float *lam, const float *x0, const uint8_t *reset, int64_t T,
                                         int64_t B, int64_t P) {
    const int64_t M = B * P;
    VB_GRID_STRIDE(m, M) {
        float cr, ci;
        vb_s5_fold_lane_adjoint(gv, &lane[m], &lane[M + m], &cr, &ci, gx, xs, lam, x0, reset, T, B, P, m / P, m % P);
        gx0[m] += cr;
        gx0[M + m] += ci;
    }
}

// glam (P complex) += the per-lane sums lane (2, B, P), over b in order
static __global__ void k_s5_glam(float *glam, const double *lane, int64_t B, int64_t P) {
    VB_GRID_STRIDE(p, P) {
        for (int64_t b = 0; b < B; b++) {
            glam[p] += (float)lane[b * P + p];
            glam[P + p] += (float)lane[B * P + b * P + p];
        }
    }
}

static double *lane_scratch(int64_t B, int64_t P) {
    return (double *)vb__cuda_scratch((size_t)(2 * B * P) * sizeof(double));
}

void vb_cuda_s5_fold_forward(float *xs, const float *v, const float *lam_bar, const float *x0, const uint8_t *reset,
                             int64_t T, int64_t B, int64_t P) {
    VB_LAUNCH(k_s5_fold, B * P, xs, v, lam_bar, x0, reset, T, B, P);
}

void vb_cuda_s5_fold_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                              const float *lam_bar, const float *x0, const uint8_t *reset, int64_t T, int64_t B,
                              int64_t P) {
    double *lane = lane_scratch(B, P);
    VB_LAUNCH(k_s5_fold_adjoint, B * P, gv, lane, gx0, gx, xs, lam_bar, x0, reset, T, B, P);
    VB_LAUNCH(k_s5_glam, P, glam, lane, B, P);
}

// --- S5: the associative scan (one block per lane) ---------------------------------

#define VB_SCAN_MAX_T 1024

static unsigned scan_threads(int64_t T) {
    unsigned n = 32;
    while (n < (unsigned)T) n *= 2;
    return n;
}

// Hillis-Steele rounds over the block's elements (ar, ai, vr, vi) of step t:
// combine with the element at t - d (t + d when rev) of the previous round.
static __device__ void scan_rounds(float *sh, int64_t T, int rev, int64_t t, float *ar, float *ai, float *vr,
                                   float *vi) {
    float *sar = sh, *sai = sh + blockDim.x, *svr = sh + 2 * blockDim.x, *svi = sh + 3 * blockDim.x;
    for (int64_t d = 1; d < T; d *= 2) {
        if (t < T) {
            sar[t] = *ar;
            sai[t] = *ai;
            svr[t] = *vr;
            svi[t] = *vi;
        }
        __syncthreads();
        const int64_t s = rev ? t + d : t - d;
        if (t < T && s >= 0 && s < T) vb_s5_combine(sar[s], sai[s], svr[s], svi[s], ar, ai, vr, vi);
        __syncthreads();
    }
}

static __global__ void __launch_bounds__(VB_SCAN_MAX_T) k_s5_assoc_fwd(float *xs, const float *v, const float *lam, const float *x0,
                                      const uint8_t *reset, int64_t T, int64_t B, int64_t P) {
    extern __shared__ float sh[];
    const int64_t M = B * P, n = T * M, m = blockIdx.x, b = m / P, p = m % P, t = threadIdx.x;
    float ar = 0, ai = 0, vr = 0, vi = 0;
    if (t < T) {
        const int64_t i = t * M + m;
        const int rs = reset && reset[t * B + b];
        ar = rs ? 0.0f : lam[p];
        ai = rs ? 0.0f : lam[P + p];
        vr = v[i];
        vi = v[n + i];
    }
    scan_rounds(sh, T, 0, t, &ar, &ai, &vr, &vi);
    if (t < T) {
        // x_t = A_t x0 + V_t
        const int64_t i = t * M + m;
        const float xr = x0[m], xi = x0[M + m];
        xs[i] = vr + (ar * xr - ai * xi);
        xs[n + i] = vi + (ar * xi + ai * xr);
    }
}

static __global__ void __launch_bounds__(VB_SCAN_MAX_T) k_s5_assoc_bwd(float *gv, double *lane, float *gx0, const float *gx, const float *xs,
                                      const float *lam, const float *x0, const uint8_t *reset, int64_t T, int64_t B,
                                      int64_t P) {
    extern __shared__ float sh[];
    const int64_t M = B * P, n = T * M, m = blockIdx.x, b = m / P, p = m % P, t = threadIdx.x;
    // lambda_t = gx_t + conj(a_{t+1}) lambda_{t+1}: element t is (conj(a_{t+1}), gx_t), a_T = 0
    float ar = 0, ai = 0, vr = 0, vi = 0;
    if (t < T) {
        const int64_t i = t * M + m;
        const int rs = t + 1 < T ? reset && reset[(t + 1) * B + b] : 1;
        ar = rs ? 0.0f : lam[p];
        ai = rs ? 0.0f : -lam[P + p];
        vr = gx[i];
        vi = gx[n + i];
    }
    scan_rounds(sh, T, 1, t, &ar, &ai, &vr, &vi);
    double cr = 0, ci = 0;
    if (t < T) {
        const int64_t i = t * M + m;
        gv[i] = vr;
        gv[n + i] = vi;
        if (!(reset && reset[t * B + b])) {
            // conj(x_{t-1}) lambda_t
            const float pr = t ? xs[i - M] : x0[m], pi = t ? xs[n + i - M] : x0[M + m];
            cr = (double)pr * vr + (double)pi * vi;
            ci = (double)pr * vi - (double)pi * vr;
        }
        if (t == 0 && !(reset && reset[b])) {
            const float lr = lam[p], li = lam[P + p];
            gx0[m] += lr * vr + li * vi;
            gx0[M + m] += lr * vi - li * vr;
        }
    }
    // the lane's sums over t, in double (a tree over the block)
    double *dr = (double *)(sh + 4 * blockDim.x), *di = dr + blockDim.x;
    dr[t] = cr;
    di[t] = ci;
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w /= 2) {
        if (t < w) {
            dr[t] += dr[t + w];
            di[t] += di[t + w];
        }
        __syncthreads();
    }
    if (t == 0) {
        lane[m] = dr[0];
        lane[M + m] = di[0];
    }
}

static size_t scan_shared(unsigned threads) { return threads * (4 * sizeof(float) + 2 * sizeof(double)); }

void vb__cuda_s5_scan_forward(float *xs, const float *v, const float *lam_bar, const float *x0, const uint8_t *reset,
                              int64_t T, int64_t B, int64_t P) {
    if (T <= 0 || B * P <= 0) return;
    if (T > VB_SCAN_MAX_T) return vb_cuda_s5_fold_forward(xs, v, lam_bar, x0, reset, T, B, P);
    const unsigned threads = scan_threads(T);
    k_s5_assoc_fwd<<<(unsigned)(B * P), threads, scan_shared(threads), vb__cuda.stream>>>(xs, v, lam_bar, x0, reset,
                                                                                         T, B, P);
    VB_CUDA_CHECK(cudaGetLastError());
}

void vb__cuda_s5_scan_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                               const float *lam_bar, const float *x0, const uint8_t *reset, int64_t T, int64_t B,
                               int64_t P) {
    if (T <= 0 || B * P <= 0) return;
    if (T > VB_SCAN_MAX_T) return vb_cuda_s5_fold_backward(gv, glam, gx0, gx, xs, lam_bar, x0, reset, T, B, P);
    const unsigned threads = scan_threads(T);
    double *lane = lane_scratch(B, P);
    k_s5_assoc_bwd<<<(unsigned)(B * P), threads, scan_shared(threads), vb__cuda.stream>>>(gv, lane, gx0, gx, xs,
                                                                                         lam_bar, x0, reset, T, B, P);
    VB_CUDA_CHECK(cudaGetLastError());
    VB_LAUNCH(k_s5_glam, P, glam, lane, B, P);
}

// --- S5 discretisation (one thread per mode) ----------------------------------------

static __global__ void k_s5_disc(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                 const float *log_step, const float *b, int64_t P, int64_t H) {
    VB_GRID_STRIDE(p, P) vb_s5_discretize_mode(lam_bar, b_bar, lam_re_log, lam_im, log_step, b, P, H, p);
}
void vb__cuda_s5_discretize_forward(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                    const float *log_step, const float *b, int64_t P, int64_t H) {
    VB_LAUNCH(k_s5_disc, P, lam_bar, b_bar, lam_re_log, lam_im, log_step, b, P, H);
}

static __global__ void k_s5_disc_bwd(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                     const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                     const float *lam_im, const float *log_step, const float *b, int64_t P,
                                     int64_t H) {
    VB_GRID_STRIDE(p, P)
    vb_s5_discretize_mode_adjoint(g_lam_re_log, g_lam_im, g_log_step, g_b, g_lam_bar, g_b_bar, lam_re_log, lam_im,
                                  log_step, b, P, H, p);
}
void vb__cuda_s5_discretize_backward(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                     const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                     const float *lam_im, const float *log_step, const float *b, int64_t P,
                                     int64_t H) {
    VB_LAUNCH(k_s5_disc_bwd, P, g_lam_re_log, g_lam_im, g_log_step, g_b, g_lam_bar, g_b_bar, lam_re_log, lam_im,
              log_step, b, P, H);
}
