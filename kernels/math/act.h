/* act — activation functions and their derivatives, one element at a time. */
#ifndef VB_MATH_ACT_H
#define VB_MATH_ACT_H

#include "../backend.h"
#include "hd.h"

#define VB_GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define VB_GELU_C 0.044715f

/* exp for the activation loops: Cody-Waite range reduction and a degree-6
 * polynomial (Cephes' expf), written without branches so that CPU loops
 * vectorise; within 1 ulp of expf on [-87, 88], saturating to 2^-126 / 2^127
 * outside (which tanh below turns into exact -1/+1, and the sigmoid into 1
 * and a denormal near 0). */
VB_HD float vb_vexpf(float x) {
    float t = x * 1.44269504088896341f;
    t = t < -1.0e6f ? -1.0e6f : t;
    t = t > 1.0e6f ? 1.0e6f : t;
    float kf = (t + 12582912.0f) - 12582912.0f; /* round to nearest, |t| < 2^22 */
    float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t k = (int32_t)kf;
    k = k < -126 ? -126 : k;
    k = k > 127 ? 127 : k;
    int32_t bits = (k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

/* log for vectorised loops: Cephes' logf (the mantissa in [sqrt(1/2),
 * sqrt(2)) and a degree-9 polynomial), its frexp done on the bits and its
 * branch a select, so CPU loops vectorise; within 2 ulp of logf for positive
 * normal x. 0 and denormals read as the smallest normal (about -87.3). */
VB_HD float vb_vlogf(float x) {
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 126;
    e = e < -125 ? -125 : e;
    bits = (bits & 0x007fffff) | 0x3f000000; /* the mantissa in [0.5, 1) */
    float m;
    memcpy(&m, &bits, sizeof m);
    const int lo = m < 0.707106781186547524f;
    e = lo ? e - 1 : e;
    m = lo ? m + m - 1.0f : m - 1.0f;
    const float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    const float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return m + y + 0.693359375f * fe;
}

VB_HD float vb_sigmoidf(float x) { return 1.0f / (1.0f + vb_vexpf(-x)); }

/* tanh from one exp: 1 - 2 / (e^{2x} + 1) */
VB_HD float vb_tanhf(float x) { return 1.0f - 2.0f / (vb_vexpf(2.0f * x) + 1.0f); }

VB_HD float vb_relu_fwd(float x) { return x > 0.0f ? x : 0.0f; }
VB_HD float vb_gelu_fwd(float x) { return 0.5f * x * (1.0f + tanhf(VB_GELU_K * (x + VB_GELU_C * x * x * x))); }
VB_HD float vb_elu_fwd(float x) { return x > 0 ? x : expm1f(x); }

/* out = act(x) */
VB_HD float vb_act_fwd(vb_act act, float x) {
    switch (act) {
    case VB_ACT_RELU: return vb_relu_fwd(x);
    case VB_ACT_TANH: return vb_tanhf(x);
    case VB_ACT_GELU: return vb_gelu_fwd(x);
    case VB_ACT_ELU: return vb_elu_fwd(x);
    case VB_ACT_SIGMOID: return vb_sigmoidf(x);
    case VB_ACT_NONE: break;
    }
    return x;
}

/* act'(x), given out = act(x) */
VB_HD float vb_act_grad(vb_act act, float x, float out) {
    switch (act) {
    case VB_ACT_RELU: return x > 0 ? 1.0f : 0.0f;
    case VB_ACT_TANH: return 1.0f - out * out;
    case VB_ACT_GELU: {
        float t = tanhf(VB_GELU_K * (x + VB_GELU_C * x * x * x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * VB_GELU_K * (1.0f + 3.0f * VB_GELU_C * x * x);
    }
    case VB_ACT_ELU: return x > 0 ? 1.0f : out + 1.0f;
    case VB_ACT_SIGMOID: return out * (1.0f - out);
    case VB_ACT_NONE: break;
    }
    return 1.0f;
}

/* din's increment act'(x) dout; a ReLU passes dout where x > 0 and 0
 * elsewhere (0, not 0 * dout, whatever dout holds) */
VB_HD float vb_act_backward_elem(vb_act act, float x, float out, float dout) {
    if (act == VB_ACT_RELU) return x > 0 ? dout : 0.0f;
    return vb_act_grad(act, x, out) * dout;
}

#endif
