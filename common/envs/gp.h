/* gp — Gaussian-process math on a fixed grid: the RBF Gram matrix, Cholesky
 * factors, exact posterior conditioning one observation at a time, and
 * posterior samples. Matrices are dense, row-major, double; n is at most a few
 * hundred in practice (Cholesky is O(n^3), conditioning O(n^2) per step).
 *
 * Conditioning keeps the posterior mean m and covariance S of f on the grid.
 * Observing y = f_j + e, e ~ N(0, v):
 *   s = S_jj + v,  k = S[:, j],  m += k (y - m_j) / s,  S -= k k^T / s
 * which is the exact Gaussian update (a rank-one Schur complement); applied in
 * sequence it equals conditioning on all observations at once. */
#ifndef VB_GP_H
#define VB_GP_H

#include <stdint.h>

#include "../base/rng.h"

/* Diagonal jitter added to every prior Gram matrix (env draws and agents'
 * priors alike). The RBF Gram matrix of a dense grid is numerically singular:
 * its eigenvalues decay like exp(-c k^2), so plain Cholesky meets non-positive
 * pivots. 1e-6 (a white-noise standard deviation of 1e-3) is far above the
 * rounding error of an n <= 4096 factorisation (about n^2 * 1.1e-16 < 2e-9)
 * and a tenth of the default observation noise, and small against f's unit
 * prior variance. */
#define VB_GP_JITTER 1e-6

/* The grid x_j = j / (n - 1), j = 0 .. n-1 (n >= 2). */
void vb_gp_grid(int64_t n, double *x);
/* RBF kernel exp(-(a - b)^2 / (2 l^2)). */
double vb_gp_rbf(double a, double b, double lengthscale);
/* K (n, n) = RBF Gram matrix of x[0..n) plus jitter on the diagonal. */
void vb_gp_rbf_gram(const double *x, int64_t n, double lengthscale, double jitter, double *K);
/* In place: A (n, n) symmetric positive definite -> its lower Cholesky factor L
 * (A = L L^T; the strict upper triangle is zeroed). 0, or -1 at a pivot <= 0. */
int vb_cholesky(double *A, int64_t n);
/* out (n) = mean + L z for z ~ N(0, I) drawn from r (2 words per z_j); mean may be NULL. */
void vb_gp_sample(const double *mean, const double *L, int64_t n, vb_rng *r, double *work, double *out);
/* Condition the posterior (mean (n), cov (n, n)) on y observed at grid point j
 * with noise variance noise_var. An observation that carries no information
 * (S_jj + v <= 1e-12: a noise-free repeat; with the jitter, an unobserved
 * point keeps S_jj >= 1e-6) changes nothing. */
void vb_gp_observe(double *mean, double *cov, int64_t n, int64_t j, double y, double noise_var);

#endif
