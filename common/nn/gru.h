/* gru — gated recurrent unit (PyTorch's equations, gate order r, z, n):
 *   r = sig(W_ir x + b_ir + W_hr h + b_hr)
 *   z = sig(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h
 * Two forms: a single step (acting, planning) and a sequence unroll over T
 * steps from a given carry with a per-step reset mask (learning). A reset at
 * step t zeroes the carry *before* step t. Backward through the unroll is
 * BPTT; the gradient into the initial carry is returned so callers may stop it. */
#ifndef VB_GRU_H
#define VB_GRU_H

#include "linear.h"

typedef struct vb_gru {
    int64_t in, hidden;
    vb_linear wi;  /* (3H, in) with bias */
    vb_linear wh;  /* (3H, H) with bias */
} vb_gru;

int vb_gru_layout(vb_gru *g, vb_layout *lay, const char *name, int64_t in, int64_t hidden);
void vb_gru_init(const vb_gru *g, float *P, vb_rng *rng);

/* Floats of cache for one step of B rows (xg, hg, gates: 3 x (B,3H)). */
int64_t vb_gru_step_cache_floats(const vb_gru *g, int64_t B);
/* x (B,in), h (B,H) -> h_out (B,H); cache for backward. */
void vb_gru_step_forward(const vb_backend *be, const vb_gru *g, const float *P, float *h_out, const float *x,
                         const float *h, float *cache, int64_t B);
/* W_i, b_i then W_h, b_h in the backend's packed layout (vb_linear_pack),
 * for vb_gru_step_infer: vb_gru_packed_floats floats, packed again after P
 * changes. */
int64_t vb_gru_packed_floats(const vb_gru *g);
void vb_gru_pack(const vb_backend *be, const vb_gru *g, const float *P, float *Wp);
/* vb_gru_step_forward from the packing Wp (the same bits), for inference. */
void vb_gru_step_infer(const vb_backend *be, const vb_gru *g, const float *P, const float *Wp, float *h_out,
                       const float *x, const float *h, float *cache, int64_t B);
/* Two inputs stepped from the same carries, for inference: h_a = GRU(x_a, h)
 * and h_b = GRU(x_b, h) for B rows each, x2 (2B,in) holding x_a's rows then
 * x_b's. The recurrent product h W_h + b_h is computed once for both; each
 * output has vb_gru_step_infer's bits. cache: vb_gru_step_cache_floats(g, 2B). */
void vb_gru_step_infer_pair(const vb_backend *be, const vb_gru *g, const float *P, const float *Wp, float *h_a,
                            float *h_b, const float *x2, const float *h, float *cache, int64_t B);
/* Floats of scratch for one step's backward. */
int64_t vb_gru_step_scratch_floats(const vb_gru *g, int64_t B);
/* dh_out (B,H) -> G += ..., dx (B,in) += ..., dh (B,H) += ... (either may be NULL). */
void vb_gru_step_backward(const vb_backend *be, const vb_gru *g, const float *P, float *G, float *dx, float *dh,
                          const float *dh_out, const float *x, const float *h, const float *cache, float *scratch,
                          int64_t B);

/* Cache for a T-step unroll of B rows: xg, hg, gates (T,B,3H), the masked
 * carries fed into each step (T,B,H), and the weights packed for the steps. */
int64_t vb_gru_seq_cache_floats(const vb_gru *g, int64_t T, int64_t B);
/* Scratch for the unroll's backward, on any number of threads: dxg and dhg
 * (T,B,3H), two (B,H), and the weights packed for the steps. */
int64_t vb_gru_seq_scratch_floats(const vb_gru *g, int64_t T, int64_t B);
/* The unroll threaded over the batch: with threads > 1 (on the CPU backend)
 * the B rows are split into min(threads, B, VB_PAR_MAX) contiguous slabs,
 * each unrolled through the whole window on its own thread, instead of BLAS
 * splitting every small GEMM. Every step's products (input, recurrent, and
 * back into the input and the carry) read weights packed once per window;
 * the weights' gradients are whole-window GEMMs of T B rows after the
 * slabs, W_i's and W_h's on two threads. Every output is the same to the
 * bit for any slab count, one thread included where BLAS has one thread
 * (the learner's BLAS has learner.threads). BLAS is set to one thread while
 * the parts run and back to the count it had after; no other thread of the
 * process should be in BLAS meanwhile. threads 1 leaves BLAS be. */
/* x (T,B,in), h0 (B,H), reset (T,B) or NULL -> hs (T,B,H). */
void vb_gru_seq_forward(const vb_backend *be, const vb_gru *g, const float *P, float *hs, const float *x,
                        const float *h0, const uint8_t *reset, float *cache, int64_t T, int64_t B, int threads);
/* dhs (T,B,H) -> G += ..., dx (T,B,in) += ... and dh0 (B,H) += ... unless NULL.
 * The gradient stops at the input carry of every reset row: a row set here
 * but not in the forward's reset is a cut (the carry treated as a constant). */
void vb_gru_seq_backward(const vb_backend *be, const vb_gru *g, const float *P, float *G, float *dx, float *dh0,
                         const float *dhs, const float *x, const uint8_t *reset, const float *cache,
                         float *scratch, int64_t T, int64_t B, int threads);

#endif
