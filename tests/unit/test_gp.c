/* gp: Cholesky, exact posterior conditioning (against a 2-point case worked
 * by hand and against order independence), samples. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/envs/gp.h"

Test(gp, cholesky_of_a_known_matrix) {
    /* the textbook example: L = [[2,0,0],[6,1,0],[-8,5,3]] */
    double A[9] = {4, 12, -16, 12, 37, -43, -16, -43, 98};
    const double L[9] = {2, 0, 0, 6, 1, 0, -8, 5, 3};
    cr_assert_eq(vb_cholesky(A, 3), 0);
    for (int i = 0; i < 9; i++) cr_assert_float_eq(A[i], L[i], 1e-12, "entry %d: %g", i, A[i]);
}

Test(gp, cholesky_refuses_an_indefinite_matrix) {
    double A[4] = {1, 2, 2, 1};
    cr_assert_eq(vb_cholesky(A, 2), -1);
    double Z[4] = {0, 0, 0, 0};
    cr_assert_eq(vb_cholesky(Z, 2), -1);
}

Test(gp, rbf_gram_on_the_grid) {
    double x[3], K[9];
    vb_gp_grid(3, x);
    cr_assert(x[0] == 0.0 && x[1] == 0.5 && x[2] == 1.0);
    vb_gp_rbf_gram(x, 3, 0.5, 1e-6, K);
    cr_assert_float_eq(K[0], 1.0 + 1e-6, 1e-15);
    cr_assert_float_eq(K[1], exp(-0.5), 1e-15);
    cr_assert_float_eq(K[2], exp(-2.0), 1e-15);
    cr_assert_eq(K[3], K[1]);
    cr_assert_eq(K[6], K[2]);
}

/* Grid {0, 1}, lengthscale with k(0, 1) = 1/2, prior K = [[1, .5], [.5, 1]],
 * noise variance 1/4.
 * Observe y = 1 at x = 0: s = 1 + 1/4 = 5/4, k = (1, 1/2):
 *   mean = k * 1 / s = (4/5, 2/5);  cov = K - k k^T / s = [[1/5, 1/10], [1/10, 4/5]].
 * Then y = 0 at x = 1: by the batch formula with y = (1, 0),
 *   (K + I/4)^-1 = (16/21) [[5/4, -1/2], [-1/2, 5/4]]
 *   mean = K (K + I/4)^-1 y = (16/21, 2/21)
 *   cov = (1/4) K (K + I/4)^-1 = [[4/21, 1/42], [1/42, 4/21]]. */
Test(gp, posterior_of_a_two_point_case_worked_by_hand) {
    double x[2], K[4], m[2] = {0, 0};
    vb_gp_grid(2, x);
    double ell = 1.0 / sqrt(2.0 * log(2.0));
    vb_gp_rbf_gram(x, 2, ell, 0.0, K);
    cr_assert_float_eq(K[1], 0.5, 1e-15);
    vb_gp_observe(m, K, 2, 0, 1.0, 0.25);
    cr_assert_float_eq(m[0], 0.8, 1e-14);
    cr_assert_float_eq(m[1], 0.4, 1e-14);
    cr_assert_float_eq(K[0], 0.2, 1e-14);
    cr_assert_float_eq(K[1], 0.1, 1e-14);
    cr_assert_float_eq(K[2], 0.1, 1e-14);
    cr_assert_float_eq(K[3], 0.8, 1e-14);
    vb_gp_observe(m, K, 2, 1, 0.0, 0.25);
    cr_assert_float_eq(m[0], 16.0 / 21.0, 1e-14);
    cr_assert_float_eq(m[1], 2.0 / 21.0, 1e-14);
    cr_assert_float_eq(K[0], 4.0 / 21.0, 1e-14);
    cr_assert_float_eq(K[1], 1.0 / 42.0, 1e-14);
    cr_assert_float_eq(K[2], 1.0 / 42.0, 1e-14);
    cr_assert_float_eq(K[3], 4.0 / 21.0, 1e-14);
}

/* Exact conditioning does not depend on the order of the observations. */
Test(gp, sequential_conditioning_is_order_independent) {
    enum { N = 12 };
    double x[N], K1[N * N], K2[N * N], m1[N] = {0}, m2[N] = {0};
    vb_gp_grid(N, x);
    vb_gp_rbf_gram(x, N, 0.15, 1e-6, K1);
    memcpy(K2, K1, sizeof K1);
    const int idx[5] = {3, 9, 3, 0, 11};
    const double y[5] = {0.7, -1.2, 0.65, 0.1, -0.4};
    for (int k = 0; k < 5; k++) vb_gp_observe(m1, K1, N, idx[k], y[k], 0.01);
    for (int k = 4; k >= 0; k--) vb_gp_observe(m2, K2, N, idx[k], y[k], 0.01);
    for (int i = 0; i < N; i++) cr_assert_float_eq(m1[i], m2[i], 1e-9, "mean %d", i);
    for (int i = 0; i < N * N; i++) {
        cr_assert_float_eq(K1[i], K2[i], 1e-9, "cov %d", i);
        cr_assert_eq(K1[i], K1[(i % N) * N + i / N], "asymmetric at %d", i);
    }
    /* observed points: posterior variance below the noise variance */
    cr_assert_lt(K1[3 * N + 3], 0.01);
    cr_assert_lt(K1[9 * N + 9], 0.01);
}

Test(gp, a_noise_free_repeat_changes_nothing) {
    double x[2], K[4], m[2] = {0, 0};
    vb_gp_grid(2, x);
    vb_gp_rbf_gram(x, 2, 0.3, 0.0, K);
    vb_gp_observe(m, K, 2, 0, 2.0, 0.0);
    cr_assert_float_eq(m[0], 2.0, 1e-12);
    double m0[2] = {m[0], m[1]}, K0[4];
    memcpy(K0, K, sizeof K);
    vb_gp_observe(m, K, 2, 0, 5.0, 0.0);
    cr_assert(m[0] == m0[0] && m[1] == m0[1]);
    cr_assert_eq(memcmp(K, K0, sizeof K), 0);
}

Test(gp, sample_is_mean_plus_factor_times_normals) {
    double L[4] = {2, 0, 0.5, 1.5}, mean[2] = {1, -1}, work[2], out[2];
    vb_rng r, s;
    vb_rng_init(&r, 3, 4);
    vb_rng_init(&s, 3, 4);
    vb_gp_sample(mean, L, 2, &r, work, out);
    double z0 = vb_rng_normal_double(&s), z1 = vb_rng_normal_double(&s);
    cr_assert_float_eq(out[0], 1 + 2 * z0, 1e-14);
    cr_assert_float_eq(out[1], -1 + 0.5 * z0 + 1.5 * z1, 1e-14);
}
