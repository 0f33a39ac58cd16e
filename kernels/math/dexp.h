/* dexp — double-precision exp and log(1 + e) written without branches or
 * calls, so that CPU loops over arrays of them vectorise (libm's are a call
 * per element). The planner's likelihoods and weights keep double precision
 * with them: exp and log1p within 1 ulp of glibc's, the softplus built on
 * them within 2 (tests/unit/test_kernel_math.c). */
#ifndef VB_MATH_DEXP_H
#define VB_MATH_DEXP_H
#include "hd.h"

/* e^x: x = k ln 2 + r with |r| <= ln 2 / 2 (ln 2 split in two so that k ln2_hi
 * is exact for |k| < 2^21), e^r by its Taylor series to r^13 (the remainder
 * is under 1e-17 relative), and 2^k applied in two halves so that results
 * between 2^-1074 and 2^1024 come out as they should. Below -760 the result
 * is 0 (-inf included), above 710 +inf, and NaN stays NaN. */
VB_HD double vb_vexp(double x) {
    x = x < -760.0 ? -760.0 : x;
    x = x > 710.0 ? 710.0 : x;
    double kd = (x * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0; /* round(x / ln 2) */
    kd = kd == kd ? kd : 0.0; /* NaN: p carries it */
    const double r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0; /* 1 / 13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* 2^k as 2^k1 2^k2, k1 = round(k / 2), each built from its biased exponent
     * read off the bits of 2^52 + k1 + 1023 (no float-to-integer conversion,
     * which AVX2 and AVX-512F lack for 64-bit lanes) */
    const double k1 = (kd * 0.5 + 6755399441055744.0) - 6755399441055744.0, k2 = kd - k1;
    const double e1 = k1 + (1023.0 + 4503599627370496.0), e2 = k2 + (1023.0 + 4503599627370496.0);
    uint64_t b1, b2;
    memcpy(&b1, &e1, sizeof b1);
    memcpy(&b2, &e2, sizeof b2);
    b1 = (b1 - UINT64_C(0x4330000000000000)) << 52;
    b2 = (b2 - UINT64_C(0x4330000000000000)) << 52;
    double s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* log(1 + e) for e in [0, 1]: with f = e, or above 1/2 ln 2 and f = (e - 1) / 2
 * (both exact), log(1 + f) = 2 atanh(s), s = f / (2 + f), |s| <= 1/5, written
 * f - (f^2/2 - s (f^2/2 + R)) with R = 2 s^3/3 + 2 s^5/5 + ... (to s^23) / s,
 * so that the exact f carries the result and the rounded terms are small. */
VB_HD double vb_vlog1p01(double e) {
    const int hi = e > 0.5;
    const double f = hi ? 0.5 * (e - 1.0) : e;
    const double s = f / (2.0 + f), z = s * s, hfsq = 0.5 * f * f;
    double p = 2.0 / 23.0;
    p = p * z + 2.0 / 21.0;
    p = p * z + 2.0 / 19.0;
    p = p * z + 2.0 / 17.0;
    p = p * z + 2.0 / 15.0;
    p = p * z + 2.0 / 13.0;
    p = p * z + 2.0 / 11.0;
    p = p * z + 2.0 / 9.0;
    p = p * z + 2.0 / 7.0;
    p = p * z + 2.0 / 5.0;
    p = p * z + 2.0 / 3.0;
    const double l = f - (hfsq - s * (hfsq + z * p));
    return (hi ? 0.69314718055994530942 : 0.0) + l;
}

/* log(1 + e^v), without overflow: max(v, 0) + log(1 + e^-|v|) */
VB_HD double vb_vsoftplus(double v) { return (v > 0 ? v : 0.0) + vb_vlog1p01(vb_vexp(-fabs(v))); }

#endif
