/* gru — the GRU gate nonlinearity (PyTorch's gate order r, z, n) for one
 * hidden unit; the backend ops loop these over B rows of width H. */
#ifndef VB_MATH_GRU_H
#define VB_MATH_GRU_H

#include "act.h"

/* From the pre-activations xg = x W_i^T + b_i and hg = h W_h^T + b_h of the
 * unit's three gates and its previous state hp:
 *   r = sig(xr + hr), z = sig(xz + hz), n = tanh(xn + r hn), h' = (1 - z) n + z hp
 * returns h' and keeps r, z, n for the backward pass. */
VB_HD float vb_gru_unit_fwd(float xr, float xz, float xn, float hr, float hz, float hn, float hp, float *r_out,
                            float *z_out, float *n_out) {
    float r = vb_sigmoidf(xr + hr);
    float z = vb_sigmoidf(xz + hz);
    float nn = vb_tanhf(xn + r * hn);
    *r_out = r;
    *z_out = z;
    *n_out = nn;
    return (1.0f - z) * nn + z * hp;
}

/* From dh' = d: the gradients of the three input pre-activations (dx_r,
 * dx_z, dx_n; those of hg are dx_r, dx_z and r dx_n) and returns the direct
 * path z d into the previous state. */
VB_HD float vb_gru_unit_bwd(float r, float z, float nn, float hn, float hp, float d, float *dr_out, float *dz_out,
                            float *dn_out) {
    float dz = d * (hp - nn);
    float dn = d * (1.0f - z);
    float dpre_n = dn * (1.0f - nn * nn);
    float dr = dpre_n * hn;
    *dr_out = dr * r * (1.0f - r);
    *dz_out = dz * z * (1.0f - z);
    *dn_out = dpre_n;
    return d * z;
}

#endif
