/* s5_assoc — the S5 recurrence with resets as an associative (parallel)
 * scan, the form a GPU evaluates; the backend's s5_scan_forward/backward is
 * the sequential fold it must agree with (to fp32 rounding).
 *
 * Each step is an element e_t = (a_t, v_t) of the monoid of affine maps
 * x -> a x + v (complex a, v; a_t = lam_bar, or 0 at a reset):
 *   (a1, v1) then (a2, v2) = (a2 a1, a2 v1 + v2)
 * The inclusive prefix E_t = e_t o ... o e_0 = (A_t, V_t) gives
 * x_t = A_t x0 + V_t. Here the prefixes are formed by a Hillis-Steele scan:
 * ceil(log2 T) rounds, each combining every t with t - 2^k, all (t, b, p)
 * independent within a round (what a device runs in parallel; on the CPU it
 * is O(T log T) work against the fold's O(T)). The adjoint is the same
 * recurrence run backwards with conj(a_{t+1}), scanned the same way.
 *
 * Arrays are as in the backend's s5 ops: complex planes (re at [0, n), im at
 * [n, 2n)), states (T, B, P), lam_bar (P) complex, x0 (B, P) complex, reset
 * (T, B) or NULL.
 *
 * Threaded over the batch: with threads > 1 the B rows' lanes are split into
 * min(threads, B, VB_PAR_MAX) contiguous parts, each scanned on its own
 * thread (no shared writes): the states and their gradients are those of one
 * thread bit for bit, and glam, summed over the parts in part order, equal to
 * float rounding. */
#ifndef VB_S5_ASSOC_H
#define VB_S5_ASSOC_H

#include <stdint.h>

/* Scratch floats of either direction on `threads` threads: 2 T B P, and 2 P
 * for each part after the first. */
int64_t vb_s5_assoc_scratch_floats(int64_t T, int64_t B, int64_t P, int threads);
/* xs (T,B,P) from v, lam_bar, x0 and resets. */
void vb_s5_assoc_forward(float *xs, const float *v, const float *lam_bar, const float *x0, const uint8_t *reset,
                         float *scratch, int64_t T, int64_t B, int64_t P, int threads);
/* The adjoint for cogradient gx (T,B,P): gv (overwritten) the total
 * cogradient of each x_t, glam (P) += sum over non-reset steps of
 * conj(x_{t-1}) gv_t, gx0 (B,P) += the cogradient of x0. */
void vb_s5_assoc_backward(float *gv, float *glam, float *gx0, const float *gx, const float *xs,
                          const float *lam_bar, const float *x0, const uint8_t *reset, float *scratch, int64_t T,
                          int64_t B, int64_t P, int threads);

#endif
