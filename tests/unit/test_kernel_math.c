/* kernels/math: the bodies both backends share, against independent
 * references on the CPU (the CUDA kernels call the same functions). */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>

#include "common/base/rng.h"
#include "kernels/math/act.h"
#include "kernels/math/dexp.h"
#include "kernels/math/gru.h"
#include "kernels/math/philox.h"
#include "kernels/math/resample.h"
#include "kernels/math/s5.h"

/* The written-out complex arithmetic of the S5 discretisation gives C's
 * double complex results bit for bit on normal-range values (Smith's
 * division is what libgcc's __divdc3 does there). */
Test(kernel_math, complex_arithmetic_matches_c_complex) {
    vb_rng r;
    vb_rng_init(&r, 7, 0);
    for (int i = 0; i < 10000; i++) {
        double v[4];
        for (int k = 0; k < 4; k++) v[k] = ldexp(2.0 * vb_rng_uniform_double(&r) - 1.0, (int)vb_rng_below(&r, 21) - 10);
        vb_cplx a = vb_cplx_make(v[0], v[1]), b = vb_cplx_make(v[2], v[3]);
        double complex ca = v[0] + I * v[1], cb = v[2] + I * v[3];
        double complex q = ca / cb, p = ca * cb, e = cexp(ca);
        vb_cplx mq = vb_cplx_div(a, b), mp = vb_cplx_mul(a, b), me = vb_cplx_exp(a);
        cr_assert(mq.re == creal(q) && mq.im == cimag(q), "division %d: (%a, %a) against (%a, %a)", i, mq.re, mq.im,
                  creal(q), cimag(q));
        cr_assert(mp.re == creal(p) && mp.im == cimag(p), "product %d", i);
        if (fabs(v[0]) > 700) continue; /* exp overflows */
        cr_assert(fabs(me.re - creal(e)) <= 1e-15 * cabs(e) && fabs(me.im - cimag(e)) <= 1e-15 * cabs(e),
                  "exp %d: (%g, %g) against (%g, %g)", i, me.re, me.im, creal(e), cimag(e));
    }
}

/* vb_vexpf is within 2 ulp of expf where it does not saturate, and tanh and
 * the sigmoid built on it within 1e-6 of libm's, saturating to +-1 and 1
 * (below -88 the sigmoid is a denormal, not 0). */
Test(kernel_math, fast_exp_tanh_sigmoid_against_libm) {
    for (float x = -80.0f; x <= 80.0f; x += 0.0137f) {
        float e = vb_vexpf(x), ref = expf(x);
        cr_assert_leq(fabsf(e - ref), 2.0f * (nextafterf(ref, INFINITY) - ref), "exp(%g) = %a, libm %a", x, e, ref);
        cr_assert_leq(fabsf(vb_tanhf(x) - tanhf(x)), 1e-6f, "tanh(%g)", x);
        cr_assert_leq(fabsf(vb_sigmoidf(x) - 1.0f / (1.0f + expf(-x))), 1e-6f, "sigmoid(%g)", x);
    }
    cr_assert_eq(vb_tanhf(100.0f), 1.0f);
    cr_assert_eq(vb_tanhf(-100.0f), -1.0f);
    cr_assert_eq(vb_sigmoidf(200.0f), 1.0f);
    cr_assert_lt(vb_sigmoidf(-200.0f), 1e-37f);
}

/* vb_vlogf is within 2 ulp of logf over positive normal floats (every
 * exponent, mantissas near the select at sqrt(1/2) included), and reads 0
 * as the smallest normal. */
Test(kernel_math, fast_log_against_libm) {
    for (float x = 1.7e-38f; x < 3e38f; x *= 1.0371f)
        for (int k = 0; k < 3; k++) {
            const float y = k == 0 ? x : k == 1 ? x * 0.70710677f : x * 0.7071068f;
            const float l = vb_vlogf(y), ref = logf(y);
            cr_assert_leq(fabsf(l - ref), 2.0f * fabsf(nextafterf(ref, INFINITY) - ref), "log(%a) = %a, libm %a", y, l,
                          ref);
        }
    cr_assert_float_eq(vb_vlogf(0.0f), logf(0x1p-126f), 1e-3f);
}

/* |a - ref| in units of ref's last place */
static double ulps(double a, double ref) { return fabs(a - ref) / fabs(nextafter(ref, INFINITY) - ref); }

/* vb_vexp is within 2 ulp of glibc's exp over its normal range (every
 * reduction interval, and x near the multiples of ln 2 / 2 where it changes),
 * gives 0 and +inf past the ends, exactly 1 at 0, and NaN for NaN. */
Test(kernel_math, double_exp_against_libm) {
    double worst = 0;
    for (double x = -708.0; x <= 709.0; x += 0.01171875) {
        worst = fmax(worst, ulps(vb_vexp(x), exp(x)));
        const double edge = (floor(x / M_LN2) + 0.5) * M_LN2;
        worst = fmax(worst, ulps(vb_vexp(nextafter(edge, 0)), exp(nextafter(edge, 0))));
    }
    for (double x = 1e-300; x < 1.0; x *= 3.7) {
        worst = fmax(worst, ulps(vb_vexp(x), exp(x)));
        worst = fmax(worst, ulps(vb_vexp(-x), exp(-x)));
    }
    cr_assert_leq(worst, 2.0, "worst %.2f ulp", worst);
    cr_assert_float_eq(vb_vexp(-740.0), exp(-740.0), 1e-322, "a subnormal result");
    cr_assert_eq(vb_vexp(0.0), 1.0);
    cr_assert_eq(vb_vexp(-INFINITY), 0.0);
    cr_assert_eq(vb_vexp(-800.0), 0.0);
    cr_assert(isinf(vb_vexp(710.0)) && isinf(vb_vexp(INFINITY)));
    cr_assert(isnan(vb_vexp(NAN)));
}

/* vb_vlog1p01 is within 2 ulp of glibc's log1p on [0, 1], the switch at
 * 1/2 and tiny arguments included, and vb_vsoftplus within 2 ulp of
 * log1p(exp(.)) written the usual way. */
Test(kernel_math, double_log1p_and_softplus_against_libm) {
    double worst = 0;
    for (double e = 0.0; e <= 1.0; e += 1.0 / 65536.0) worst = fmax(worst, ulps(vb_vlog1p01(e), log1p(e)));
    for (double e = 1e-300; e < 1.0; e *= 1.37) worst = fmax(worst, ulps(vb_vlog1p01(e), log1p(e)));
    for (int i = -64; i <= 64; i++) {
        const double e = 0.5 + (double)i * 0x1p-54;
        worst = fmax(worst, ulps(vb_vlog1p01(e), log1p(e)));
    }
    cr_assert_leq(worst, 2.0, "log1p: worst %.2f ulp", worst);
    cr_assert_eq(vb_vlog1p01(0.0), 0.0);
    worst = 0;
    for (double v = -60.0; v <= 60.0; v += 0.00390625) {
        const double ref = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
        worst = fmax(worst, ulps(vb_vsoftplus(v), ref));
    }
    cr_assert_leq(worst, 2.0, "softplus: worst %.2f ulp", worst);
    cr_assert_eq(vb_vsoftplus(1e6), 1e6);
    cr_assert_eq(vb_vsoftplus(-1e6), 0.0);
}

/* Each activation's derivative against a central difference. */
Test(kernel_math, activation_derivatives) {
    for (int a = VB_ACT_NONE; a <= VB_ACT_SIGMOID; a++) {
        for (double x = -3.1; x <= 3.1; x += 0.37) {
            const double h = 1e-3;
            double num = ((double)vb_act_fwd((vb_act)a, (float)(x + h)) - vb_act_fwd((vb_act)a, (float)(x - h))) / (2 * h);
            double ana = vb_act_grad((vb_act)a, (float)x, vb_act_fwd((vb_act)a, (float)x));
            cr_assert_float_eq(ana, num, 2e-3 + 2e-3 * fabs(num), "act %d at %g: %g against %g", a, x, ana, num);
        }
    }
}

/* The GRU unit's backward against central differences of its forward. */
Test(kernel_math, gru_unit_backward) {
    vb_rng r;
    vb_rng_init(&r, 11, 0);
    for (int trial = 0; trial < 200; trial++) {
        float in[7]; /* xr, xz, xn, hr, hz, hn, hp */
        for (int k = 0; k < 7; k++) in[k] = 4.0f * vb_rng_uniform(&r) - 2.0f;
        float rr, z, n, dr, dz, dn;
        vb_gru_unit_fwd(in[0], in[1], in[2], in[3], in[4], in[5], in[6], &rr, &z, &n);
        float direct = vb_gru_unit_bwd(rr, z, n, in[5], in[6], 1.0f, &dr, &dz, &dn);
        /* d h' / d xr, xz, xn, hp (the direct path) */
        const float ana[4] = {dr, dz, dn, direct};
        const int which[4] = {0, 1, 2, 6};
        for (int k = 0; k < 4; k++) {
            float p[7], m[7], t0, t1, t2;
            for (int j = 0; j < 7; j++) p[j] = m[j] = in[j];
            const float h = 1e-2f;
            p[which[k]] += h;
            m[which[k]] -= h;
            double fp = vb_gru_unit_fwd(p[0], p[1], p[2], p[3], p[4], p[5], p[6], &t0, &t1, &t2);
            double fm = vb_gru_unit_fwd(m[0], m[1], m[2], m[3], m[4], m[5], m[6], &t0, &t1, &t2);
            double num = (fp - fm) / (2.0 * h);
            cr_assert_float_eq(ana[k], num, 2e-3, "trial %d input %d: %g against %g", trial, which[k], ana[k], num);
        }
    }
}

/* The shared Philox body addresses words as common/base/rng.h documents. */
Test(kernel_math, philox_word_is_the_rng_stream) {
    vb_rng r;
    vb_rng_init(&r, 0x1234567890abcdefull, 99);
    vb_rng_seek(&r, 3);
    for (uint64_t p = 3; p < 200; p++) cr_assert_eq(vb_philox_word(0x1234567890abcdefull, 99, p), vb_rng_u32(&r));
}

/* Systematic resampling keeps each particle floor or ceil of n w times. */
Test(kernel_math, systematic_resampling_counts) {
    enum { N = 64 };
    vb_rng r;
    vb_rng_init(&r, 5, 0);
    double logw[N], w[N];
    int32_t idx[N];
    for (int trial = 0; trial < 100; trial++) {
        for (int k = 0; k < N; k++) logw[k] = 8.0 * vb_rng_uniform_double(&r) - 4.0;
        vb_resample_systematic_logw(logw, N, vb_rng_uniform_double(&r), w, idx);
        int count[N] = {0};
        for (int i = 0; i < N; i++) {
            cr_assert(idx[i] >= 0 && idx[i] < N);
            if (i) cr_assert_geq(idx[i], idx[i - 1], "indices are sorted");
            count[idx[i]]++;
        }
        for (int k = 0; k < N; k++) {
            double want = N * w[k];
            cr_assert(count[k] >= floor(want - 1e-9) && count[k] <= ceil(want + 1e-9),
                      "particle %d kept %d times for n w = %g", k, count[k], want);
        }
    }
}

/* Box-Muller's log and cosine polynomials against double precision on every
 * 97th uniform a word can give (and the two ends), and the normals they make
 * against the double-precision formula on a million word pairs. */
static void box_muller_worst(uint32_t word, double *worst_log, double *worst_cos) {
    float u = vb_philox_uniform(word);
    double l = log((double)u), c = cos(6.283185307179586 * (double)u);
    *worst_log = fmax(*worst_log, fabs(vb_box_muller_logf(u) - l) / fmax(fabs(l), 1e-30));
    *worst_cos = fmax(*worst_cos, fabs(vb_box_muller_cos2pi(u) - c));
}

Test(kernel_math, box_muller_polynomials_against_double_precision) {
    double worst_log = 0, worst_cos = 0, worst_z = 0, worst_libm = 0;
    for (uint32_t k = 0; k < (1u << 23); k += 97) box_muller_worst(k << 9, &worst_log, &worst_cos);
    box_muller_worst(0u, &worst_log, &worst_cos);
    box_muller_worst(0xffffffffu, &worst_log, &worst_cos);
    vb_rng r;
    vb_rng_init(&r, 5, 0);
    for (int i = 0; i < 1000000; i++) {
        uint32_t w1 = vb_rng_u32(&r), w2 = vb_rng_u32(&r);
        double u1 = vb_philox_uniform(w1), u2 = vb_philox_uniform(w2);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        worst_z = fmax(worst_z, fabs(vb_philox_normal(w1, w2) - z) / fmax(1.0, fabs(z)));
        float zf = sqrtf(-2.0f * logf((float)u1)) * cosf(6.28318530717958647692f * (float)u2);
        worst_libm = fmax(worst_libm, fabs(zf - z) / fmax(1.0, fabs(z)));
    }
    cr_log_info("Box-Muller: log %.2e relative, cos %.2e absolute, normals %.2e (relative above 1; with libm's logf "
                "and cosf %.2e)", worst_log, worst_cos, worst_z, worst_libm);
    cr_assert_lt(worst_log, 3e-7);
    cr_assert_lt(worst_cos, 3e-7);
    cr_assert_lt(worst_z, 1e-6);
}
