/* s5 — the S5 layer (Smith et al. 2023) with resets (Lu et al. 2023):
 *   x_t = lam_bar * x_{t-1} + b_bar u_t        (P complex modes, diagonal)
 *   y_t = 2 Re(c x_t) + d * u_t                (H real outputs)
 * with zero-order-hold discretisation lam_bar = exp(lam dt),
 * b_bar = (lam_bar - 1) / lam * b, a learnable log dt per mode, and
 * lam = -exp(lam_re_log) + i lam_im initialised from the eigenvalues of the
 * normal part of HiPPO-LegS (block-diagonal, blocks of at most 64 modes).
 * A reset at step t zeroes the state before step t.
 *
 * The carry of a row is its complex state: 2P floats (re plane, im plane),
 * stored for B rows as (2, B, P). Two forms: vb_s5_step (one step, acting;
 * the backend's sequential fold) and vb_s5_scan (a window, learning; the
 * associative scan of s5_assoc.h), which agree to float rounding. */
#ifndef VB_S5_H
#define VB_S5_H

#include "arena.h"
#include "../../kernels/backend.h"
#include "../base/rng.h"

typedef struct vb_s5 {
    int64_t H, P;
    int64_t lam_re_log, lam_im, log_step; /* (P) each */
    int64_t b;                            /* (2, P, H) */
    int64_t c;                            /* (2, H, P) */
    int64_t d;                            /* (H) */
} vb_s5;

int vb_s5_layout(vb_s5 *s, vb_layout *lay, const char *name, int64_t H, int64_t P);
/* Host-side init; -1 when the HiPPO eigen-solve fails to converge. */
int vb_s5_init(const vb_s5 *s, float *P, vb_rng *rng);

/* Discretised parameters: lam_bar (2P) then b_bar (2PH). */
int64_t vb_s5_disc_floats(const vb_s5 *s);
void vb_s5_discretize(const vb_backend *be, const vb_s5 *s, const float *P, float *disc);

/* One step for B rows: x (2,B,P) is updated in place, u (B,H) -> y (B,H).
 * scratch: vb_s5_step_scratch_floats. */
int64_t vb_s5_step_scratch_floats(const vb_s5 *s, int64_t B);
void vb_s5_step(const vb_backend *be, const vb_s5 *s, const float *P, const float *disc, float *x, float *y,
                const float *u, float *scratch, int64_t B);

/* Window of T steps: u (T,B,H), x0 (2,B,P), reset (T,B) or NULL -> y (T,B,H);
 * the cache keeps the discretisation and the states for backward, and the
 * final state is cache's last step (vb_s5_scan_final). The projections are
 * GEMMs over all T B rows (BLAS's threads); the scan between them runs on
 * `threads` threads over the batch on the CPU backend (s5_assoc.h). */
int64_t vb_s5_scan_cache_floats(const vb_s5 *s, int64_t T, int64_t B);
void vb_s5_scan_forward(const vb_backend *be, const vb_s5 *s, const float *P, float *y, const float *u,
                        const float *x0, const uint8_t *reset, float *cache, int64_t T, int64_t B, int threads);
/* Copy the state after the last step, (2,B,P), into x_out. */
void vb_s5_scan_final(const vb_backend *be, const vb_s5 *s, const float *cache, float *x_out, int64_t T, int64_t B);
/* dy (T,B,H) -> G += ..., du (T,B,H) += ... and gx0 (2,B,P) += cogradient
 * (dL/dRe + i dL/dIm) unless NULL. */
int64_t vb_s5_scan_scratch_floats(const vb_s5 *s, int64_t T, int64_t B, int threads);
void vb_s5_scan_backward(const vb_backend *be, const vb_s5 *s, const float *P, float *G, float *du, float *gx0,
                         const float *dy, const float *u, const float *x0, const uint8_t *reset,
                         const float *cache, float *scratch, int64_t T, int64_t B, int threads);

#endif
