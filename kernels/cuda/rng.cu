// rng — Philox streams and systematic resampling on the device, around the
// bodies of kernels/math/philox.h and kernels/math/resample.h.
#include "../cuda_device.h"
#include "../math/philox.h"
#include "../math/resample.h"
#include "cuda_ops.h"

static __global__ void k_uniform(float *dst, uint64_t seed, uint64_t stream, uint64_t pos, int64_t n) {
    VB_GRID_STRIDE(i, n) dst[i] = vb_philox_uniform(vb_philox_word(seed, stream, pos + (uint64_t)i));
}
void vb_cuda_philox_uniform(float *dst, uint64_t seed, uint64_t stream, uint64_t pos, int64_t n) {
    VB_LAUNCH(k_uniform, n, dst, seed, stream, pos, n);
}

static __global__ void k_normal(float *dst, uint64_t seed, uint64_t stream, uint64_t pos, int64_t n) {
    VB_GRID_STRIDE(i, n) {
        const uint64_t w = pos + 2 * (uint64_t)i;
        dst[i] = vb_philox_normal(vb_philox_word(seed, stream, w), vb_philox_word(seed, stream, w + 1));
    }
}
void vb_cuda_philox_normal(float *dst, uint64_t seed, uint64_t stream, uint64_t pos, int64_t n) {
    VB_LAUNCH(k_normal, n, dst, seed, stream, pos, n);
}

static __global__ void k_resample(int32_t *idx, const double *logw, const double *u, double *w, int64_t rows,
                                  int64_t K) {
    VB_GRID_STRIDE(r, rows) vb_resample_systematic_logw(logw + r * K, K, u[r], w + r * K, idx + r * K);
}
void vb_cuda_resample_systematic(int32_t *idx, const double *logw, const double *u, int64_t rows, int64_t K) {
    double *w = (double *)vb__cuda_scratch((size_t)(rows * K) * sizeof(double));
    VB_LAUNCH(k_resample, rows, idx, logw, u, w, rows, K);
}
