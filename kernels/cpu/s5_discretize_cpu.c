/* s5_discretize_cpu — zero-order-hold discretisation of the S5 modes and its
 * adjoint (kernels/math/s5.h), one mode at a time in double complex
 * arithmetic (P x H values, negligible cost). */
#include "../math/s5.h"
#include "cpu_ops.h"

void vb__cpu_s5_discretize_forward(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                   const float *log_step, const float *b, int64_t P, int64_t H) {
    for (int64_t p = 0; p < P; p++) vb_s5_discretize_mode(lam_bar, b_bar, lam_re_log, lam_im, log_step, b, P, H, p);
}

void vb__cpu_s5_discretize_backward(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                    const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                    const float *lam_im, const float *log_step, const float *b, int64_t P,
                                    int64_t H) {
    for (int64_t p = 0; p < P; p++)
        vb_s5_discretize_mode_adjoint(g_lam_re_log, g_lam_im, g_log_step, g_b, g_lam_bar, g_b_bar, lam_re_log,
                                      lam_im, log_step, b, P, H, p);
}
