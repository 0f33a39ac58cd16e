/* s5 — the S5 layer's arithmetic: the linear recurrence with resets for one
 * lane (a row b and mode p) as a sequential fold and its adjoint, the
 * associative operator a parallel scan combines, and the zero-order-hold
 * discretisation of one mode in double complex arithmetic.
 *
 * Arrays are as in kernels/backend.h: complex planes (re at [0, n), im at
 * [n, 2n)), states (T, B, P), lam_bar (P) complex, x0 (B, P) complex, reset
 * (T, B) or NULL. Cogradients of complex values are dL/dRe + i dL/dIm. */
#ifndef VB_MATH_S5_H
#define VB_MATH_S5_H

#include "hd.h"

/* x_t = a_t x_{t-1} + v_t for t = 0..T-1 along lane (b, p), a_t = 0 at a
 * reset and lam_bar otherwise; the fold of the operator below. */
VB_HD void vb_s5_fold_lane(float *xs, const float *v, const float *lam, const float *x0, const uint8_t *reset,
                           int64_t T, int64_t B, int64_t P, int64_t b, int64_t p) {
    const int64_t n0 = B * P, n = T * B * P;
    float cr = x0[b * P + p], ci = x0[n0 + b * P + p];
    const float lr = lam[p], li = lam[P + p];
    for (int64_t t = 0; t < T; t++) {
        int64_t i = (t * B + b) * P + p;
        float ar = lr, ai = li;
        if (reset && reset[t * B + b]) ar = ai = 0.0f;
        float nr = ar * cr - ai * ci + v[i];
        float ni = ar * ci + ai * cr + v[n + i];
        cr = nr;
        ci = ni;
        xs[i] = cr;
        xs[n + i] = ci;
    }
}

/* The adjoint of vb_s5_fold_lane for cogradient gx: gv (overwritten) the
 * total cogradient of each x_t; glam (re, im) += sum over non-reset steps of
 * conj(x_{t-1}) gv_t (returned in double through glr, gli, for the caller to
 * add); gx0_{r,i} the cogradient of x0 (returned, for the caller to add). */
VB_HD void vb_s5_fold_lane_adjoint(float *gv, double *glr_out, double *gli_out, float *gx0r, float *gx0i,
                                   const float *gx, const float *xs, const float *lam, const float *x0,
                                   const uint8_t *reset, int64_t T, int64_t B, int64_t P, int64_t b, int64_t p) {
    const int64_t n0 = B * P, n = T * B * P;
    const float lr = lam[p], li = lam[P + p];
    float cr = 0.0f, ci = 0.0f; /* cogradient flowing back into x_t from x_{t+1} */
    double glr = 0, gli = 0;
    for (int64_t t = T - 1; t >= 0; t--) {
        int64_t i = (t * B + b) * P + p;
        float gr = gx[i] + cr, gi = gx[n + i] + ci;
        gv[i] = gr;
        gv[n + i] = gi;
        int rs = reset && reset[t * B + b];
        float pr, pi; /* x_{t-1} */
        if (t > 0) {
            int64_t j = ((t - 1) * B + b) * P + p;
            pr = xs[j];
            pi = xs[n + j];
        } else {
            pr = x0[b * P + p];
            pi = x0[n0 + b * P + p];
        }
        if (rs) {
            cr = ci = 0.0f;
        } else {
            /* d/dlam: conj(x_{t-1}) * g;  d/dx_{t-1}: conj(lam) * g */
            glr += (double)pr * gr + (double)pi * gi;
            gli += (double)pr * gi - (double)pi * gr;
            cr = lr * gr + li * gi;
            ci = lr * gi - li * gr;
        }
    }
    *glr_out = glr;
    *gli_out = gli;
    *gx0r = cr;
    *gx0i = ci;
}

/* The associative operator of the affine maps x -> a x + v:
 *   (a1, v1) then (a2, v2) = (a2 a1, a2 v1 + v2)
 * with the earlier prefix (ar, ai, vr, vi) combined into the later element
 * (a2, v2) in place. */
VB_HD void vb_s5_combine(float ar, float ai, float vr, float vi, float *a2r, float *a2i, float *v2r, float *v2i) {
    const float br = *a2r, bi = *a2i;
    *v2r = br * vr - bi * vi + *v2r;
    *v2i = br * vi + bi * vr + *v2i;
    *a2r = br * ar - bi * ai;
    *a2i = br * ai + bi * ar;
}

/* --- double complex, written out (shared with device code) --------------- */

typedef struct vb_cplx {
    double re, im;
} vb_cplx;

VB_HD vb_cplx vb_cplx_make(double re, double im) {
    vb_cplx z = {re, im};
    return z;
}
VB_HD vb_cplx vb_cplx_add(vb_cplx a, vb_cplx b) { return vb_cplx_make(a.re + b.re, a.im + b.im); }
VB_HD vb_cplx vb_cplx_sub(vb_cplx a, vb_cplx b) { return vb_cplx_make(a.re - b.re, a.im - b.im); }
VB_HD vb_cplx vb_cplx_mul(vb_cplx a, vb_cplx b) {
    return vb_cplx_make(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
VB_HD vb_cplx vb_cplx_scale(vb_cplx a, double s) { return vb_cplx_make(a.re * s, a.im * s); }
VB_HD vb_cplx vb_cplx_conj(vb_cplx a) { return vb_cplx_make(a.re, -a.im); }
/* Smith's division, without overflow in the intermediate products */
VB_HD vb_cplx vb_cplx_div(vb_cplx a, vb_cplx b) {
    if (fabs(b.re) >= fabs(b.im)) {
        double r = b.im / b.re, d = b.re + b.im * r;
        return vb_cplx_make((a.re + a.im * r) / d, (a.im - a.re * r) / d);
    }
    double r = b.re / b.im, d = b.re * r + b.im;
    return vb_cplx_make((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}
VB_HD vb_cplx vb_cplx_exp(vb_cplx a) {
    double m = exp(a.re);
    return vb_cplx_make(m * cos(a.im), m * sin(a.im));
}

/* The discretisation of mode p:
 *   lam = -exp(lam_re_log) + i lam_im, dt = exp(log_step)
 *   lam_bar = exp(lam dt), f = (lam_bar - 1) / lam  (b_bar = f b)
 * returns lam_bar and f, and dt and lam through their pointers. */
VB_HD vb_cplx vb_s5_mode(const float *lam_re_log, const float *lam_im, const float *log_step, int64_t p,
                         vb_cplx *f, double *dt, vb_cplx *lam_out) {
    vb_cplx lam = vb_cplx_make(-exp((double)lam_re_log[p]), (double)lam_im[p]);
    *dt = exp((double)log_step[p]);
    vb_cplx lb = vb_cplx_exp(vb_cplx_scale(lam, *dt));
    *f = vb_cplx_div(vb_cplx_sub(lb, vb_cplx_make(1.0, 0.0)), lam);
    *lam_out = lam;
    return lb;
}

/* Mode p of the discretisation forward: lam_bar (2P) and row p of b_bar (2PH). */
VB_HD void vb_s5_discretize_mode(float *lam_bar, float *b_bar, const float *lam_re_log, const float *lam_im,
                                 const float *log_step, const float *b, int64_t P, int64_t H, int64_t p) {
    const int64_t n = P * H;
    vb_cplx f, lam;
    double dt;
    vb_cplx lb = vb_s5_mode(lam_re_log, lam_im, log_step, p, &f, &dt, &lam);
    lam_bar[p] = (float)lb.re;
    lam_bar[P + p] = (float)lb.im;
    for (int64_t h = 0; h < H; h++) {
        int64_t i = p * H + h;
        vb_cplx bb = vb_cplx_mul(f, vb_cplx_make((double)b[i], (double)b[n + i]));
        b_bar[i] = (float)bb.re;
        b_bar[n + i] = (float)bb.im;
    }
}

/* Mode p of its adjoint: for a holomorphic w = F(lam) the cogradient of lam
 * gains conj(F'(lam)) cog(w), and a real t gains Re(conj(dw/dt) cog(w)).
 * += into the parameter gradients of mode p (and row p of g_b). */
VB_HD void vb_s5_discretize_mode_adjoint(float *g_lam_re_log, float *g_lam_im, float *g_log_step, float *g_b,
                                         const float *g_lam_bar, const float *g_b_bar, const float *lam_re_log,
                                         const float *lam_im, const float *log_step, const float *b, int64_t P,
                                         int64_t H, int64_t p) {
    const int64_t n = P * H;
    vb_cplx f, lam;
    double dt;
    vb_cplx lb = vb_s5_mode(lam_re_log, lam_im, log_step, p, &f, &dt, &lam);
    vb_cplx g_lb = vb_cplx_make((double)g_lam_bar[p], (double)g_lam_bar[P + p]);
    vb_cplx g_f = vb_cplx_make(0.0, 0.0);
    for (int64_t h = 0; h < H; h++) {
        int64_t i = p * H + h;
        vb_cplx gbb = vb_cplx_make((double)g_b_bar[i], (double)g_b_bar[n + i]);
        vb_cplx bi = vb_cplx_make((double)b[i], (double)b[n + i]);
        g_f = vb_cplx_add(g_f, vb_cplx_mul(vb_cplx_conj(bi), gbb));
        vb_cplx gb = vb_cplx_mul(vb_cplx_conj(f), gbb);
        g_b[i] += (float)gb.re;
        g_b[n + i] += (float)gb.im;
    }
    vb_cplx lb_dt = vb_cplx_scale(lb, dt);
    /* df/dlam = (dt lb lam - (lb - 1)) / lam^2 */
    vb_cplx df_dlam = vb_cplx_div(vb_cplx_sub(vb_cplx_mul(lb_dt, lam), vb_cplx_sub(lb, vb_cplx_make(1.0, 0.0))),
                                  vb_cplx_mul(lam, lam));
    vb_cplx g_lam =
        vb_cplx_add(vb_cplx_mul(vb_cplx_conj(lb_dt), g_lb), vb_cplx_mul(vb_cplx_conj(df_dlam), g_f));
    double g_dt = vb_cplx_mul(vb_cplx_conj(vb_cplx_mul(lam, lb)), g_lb).re + vb_cplx_mul(vb_cplx_conj(lb), g_f).re;
    g_lam_re_log[p] += (float)(g_lam.re * lam.re);
    g_lam_im[p] += (float)g_lam.im;
    g_log_step[p] += (float)(g_dt * dt);
}

#endif
