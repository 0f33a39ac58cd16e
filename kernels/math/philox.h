/* philox — Philox-4x32-10 (Salmon et al., 2011) and the conversions of its
 * words to uniforms and normals, shared by common/base/rng.c and device code
 * so that a GPU thread draws exactly the words the CPU draws (see
 * common/base/rng.h for the stream layout and each draw's word count). */
#ifndef VB_MATH_PHILOX_H
#define VB_MATH_PHILOX_H

#include <stdbool.h>

#include "hd.h"

#define VB_PHILOX_M0 0xD2511F53u
#define VB_PHILOX_M1 0xCD9E8D57u
#define VB_PHILOX_W0 0x9E3779B9u
#define VB_PHILOX_W1 0xBB67AE85u

/* c = Philox4x32-10(c, key) in place */
VB_HD void vb_philox_block(uint32_t c[4], uint32_t k0, uint32_t k1) {
    for (int i = 0; i < 10; i++) {
        if (i) {
            k0 += VB_PHILOX_W0;
            k1 += VB_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)VB_PHILOX_M0 * c[0];
        uint64_t p1 = (uint64_t)VB_PHILOX_M1 * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = (uint32_t)p1;
        c[2] = n2;
        c[3] = (uint32_t)p0;
    }
}

/* Word `pos` of stream `stream` under `seed`: lane pos % 4 of the block at
 * counter (lo32(pos/4), hi32(pos/4), lo32(stream), hi32(stream)). */
VB_HD uint32_t vb_philox_word(uint64_t seed, uint64_t stream, uint64_t pos) {
    uint64_t b = pos >> 2;
    uint32_t c[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    vb_philox_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    return c[pos & 3];
}

/* uniform in (0, 1) from one word: 23 bits, so that the largest value,
 * 1 - 2^-24, is exact in float */
VB_HD float vb_philox_uniform(uint32_t u) { return ((float)(u >> 9) + 0.5f) * (1.0f / 8388608.0f); }

/* ln u for a normal float u > 0, without libm: u = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh t with t = (m - 1) / (m + 1), |t| <=
 * 0.1716, by its series to t^9 (the rest is below 1e-9); measured against
 * double-precision log within 2e-7 relative on the uniforms below
 * (tests/unit/test_kernel_math.c). */
VB_HD float vb_box_muller_logf(float u) {
    uint32_t b;
    memcpy(&b, &u, sizeof b);
    int32_t e = (int32_t)((b >> 23) & 0xffu) - 127;
    b = (b & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &b, sizeof m);
    const bool high = m > 1.41421356f;
    m = high ? 0.5f * m : m;
    e += high ? 1 : 0;
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    const float s = t * (2.0f + t2 * (0.666666667f + t2 * (0.4f + t2 * (0.285714286f + t2 * 0.222222222f))));
    return (float)e * 0.693147181f + s;
}

/* cos(2 pi u) for u in [0, 1), without libm: reduced by symmetry to
 * theta = 2 pi y, y in [0, 1/4], then the cosine series to theta^12 (the rest
 * is below 1e-8); within 2e-7 of double precision (tests/unit/test_kernel_math.c).
 * u + 1/2 is positive, so truncating it is its floor (a conversion vectorises
 * where floorf may not). */
VB_HD float vb_box_muller_cos2pi(float u) {
    float y = fabsf(u - (float)(int32_t)(u + 0.5f));
    const bool far = y > 0.25f;
    y = far ? 0.5f - y : y;
    const float th = 6.28318530717958647692f * y, t2 = th * th;
    const float c = 1.0f + t2 * (-0.5f + t2 * (4.16666667e-2f + t2 * (-1.38888889e-3f + t2 * (2.48015873e-5f +
                    t2 * (-2.75573192e-7f + t2 * 2.08767570e-9f)))));
    return far ? -c : c;
}

/* Box-Muller's cosine branch from two words, with the polynomial log and
 * cosine above (the same arithmetic on every host and device) */
VB_HD float vb_philox_normal(uint32_t w1, uint32_t w2) {
    float u1 = vb_philox_uniform(w1), u2 = vb_philox_uniform(w2);
    return sqrtf(-2.0f * vb_box_muller_logf(u1)) * vb_box_muller_cos2pi(u2);
}

#endif
