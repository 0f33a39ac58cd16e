/* cuda_device — device operations of the CUDA backend beyond the vb_backend
 * table: what the planner and the parity tests need on the GPU. Only in
 * builds with CUDA (VB_HAVE_CUDA); pointers are device memory, and every op
 * runs on the backend's stream (vb_backend_cuda first). */
#ifndef VB_CUDA_DEVICE_H
#define VB_CUDA_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dst[i] = uniform of word pos + i of Philox stream (seed, stream): the words
 * and values vb_rng_uniform draws on the CPU from that position. */
void vb_cuda_philox_uniform(float *dst, uint64_t seed, uint64_t stream, uint64_t pos, int64_t n);
/* dst[i] = the normal of words pos + 2i, pos + 2i + 1 (vb_rng_normal's
 * Box-Muller from those words; the device's logf/cosf are within 2 ulp of
 * the host's, so values agree to ~1e-6 relative, not bit for bit). */
void vb_cuda_philox_normal(float *dst, uint64_t seed, uint64_t stream, uint64_t pos, int64_t n);

/* Systematic resampling of `rows` sets of K particles from log-weights
 * logw (rows, K) with one uniform u (rows) each: idx (rows, K) the kept
 * particle of each slot within its row (kernels/math/resample.h). */
void vb_cuda_resample_systematic(int32_t *idx, const double *logw, const double *u, int64_t rows, int64_t K);

/* The S5 recurrence as the sequential fold (one thread per lane), which the
 * backend's associative scan must match to rounding; same arguments as the
 * backend's s5_scan_forward / s5_scan_backward. */
void vb_cuda_s5_fold_forward(float *xs, const float *v, const float *lam_bar, const float *x0, const uint8_t *reset,
                             int64_t T, int64_t B, int64_t P);
void vb_cuda_s5_fold_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                              const float *lam_bar, const float *x0, const uint8_t *reset, int64_t T, int64_t B,
                              int64_t P);

/* Wait for the backend's stream (timing, and before reading results that
 * an op did not copy back itself). */
void vb_cuda_sync(void);

#ifdef __cplusplus
}
#endif

#endif
