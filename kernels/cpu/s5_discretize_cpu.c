/* s5_discretize_cpu — zero-order-hold discretisation of the S5 modes and its
 * adjoint, in double complex arithmetic (P x H values, negligible cost).
 * Cogradients of complex values are dL/dRe + i dL/dIm; for a holomorphic
 * w = F(lam) the cogradient of lam gains conj(F'(lam)) * cog(w), and for a
 * real t, dL/dt gains Re(conj(dw/dt) * cog(w)). */
#include <complex.h>
#include <math.h>

#include "cpu_ops.h"

static double complex mode(const float *lam_re_log, const float *lam_im, int64_t p) {
    return -exp((double)lam_re_log[p]) + I * (double)lam_im[p];
}

void vb__cpu_s5_discretize_forward(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                   const float *log_step, const float *b, int64_t P, int64_t H) {
    const int64_t n = P * H;
    for (int64_t p = 0; p < P; p++) {
        double complex lam = mode(lam_re_log, lam_im, p);
        double dt = exp((double)log_step[p]);
        double complex lb = cexp(lam * dt);
        double complex f = (lb - 1.0) / lam;
        lam_bar[p] = (float)creal(lb);
        lam_bar[P + p] = (float)cimag(lb);
        for (int64_t h = 0; h < H; h++) {
            int64_t i = p * H + h;
            double complex bb = f * ((double)b[i] + I * (double)b[n + i]);
            b_bar[i] = (float)creal(bb);
            b_bar[n + i] = (float)cimag(bb);
        }
    }
}

void vb__cpu_s5_discretize_backward(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                    const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                    const float *lam_im, const float *log_step, const float *b, int64_t P,
                                    int64_t H) {
    const int64_t n = P * H;
    for (int64_t p = 0; p < P; p++) {
        double complex lam = mode(lam_re_log, lam_im, p);
        double dt = exp((double)log_step[p]);
        double complex lb = cexp(lam * dt);
        double complex f = (lb - 1.0) / lam;
        double complex g_lb = (double)g_lam_bar[p] + I * (double)g_lam_bar[P + p];
        double complex g_f = 0;
        for (int64_t h = 0; h < H; h++) {
            int64_t i = p * H + h;
            double complex gbb = (double)g_b_bar[i] + I * (double)g_b_bar[n + i];
            double complex bi = (double)b[i] + I * (double)b[n + i];
            g_f += conj(bi) * gbb;
            double complex gb = conj(f) * gbb;
            g_b[i] += (float)creal(gb);
            g_b[n + i] += (float)cimag(gb);
        }
        double complex df_dlam = (dt * lb * lam - (lb - 1.0)) / (lam * lam);
        double complex g_lam = conj(dt * lb) * g_lb + conj(df_dlam) * g_f;
        double g_dt = creal(conj(lam * lb) * g_lb) + creal(conj(lb) * g_f);
        double a = creal(lam);
        g_lam_re_log[p] += (float)(creal(g_lam) * a);
        g_lam_im[p] += (float)cimag(g_lam);
        g_log_step[p] += (float)(g_dt * dt);
    }
}
