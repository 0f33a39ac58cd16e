/* adam — one Adam(W) step of one parameter. */
#ifndef VB_MATH_ADAM_H
#define VB_MATH_ADAM_H

#include "hd.h"

/* step = lr / (1 - beta1^t), inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t), computed
 * once per update by the caller (in double). */
VB_HD void vb_adam_elem(float *param, float g, float *m, float *v, float step, float inv_sqrt_bc2, float lr,
                        float beta1, float beta2, float eps, float wd) {
    float mi = beta1 * *m + (1.0f - beta1) * g;
    float vi = beta2 * *v + (1.0f - beta2) * g * g;
    *m = mi;
    *v = vi;
    float denom = sqrtf(vi) * inv_sqrt_bc2 + eps;
    *param -= step * mi / denom + lr * wd * *param;
}

#endif
