/* planner_targets — see planner_targets.h. */
#include "planner_targets.h"

void vb_planner_targets_loss(const vb_backend *be, const vb_planner_targets_params *p,
                             const vb_planner_targets_batch *b, float *d_logits, float *d_values, vb_update_stats *st) {
    const int64_t N = b->N, L = b->L, LN = L * N, A = b->A;
    const double M = (double)LN;
    double vl = 0, xe = 0, vm = 0, pv = 0;
    be->fill(d_logits, 0.0f, LN * A);
    for (int64_t w = 0; w < N; w++)
        for (int64_t t = 0; t < L; t++) {
            int64_t r = t * N + w;
            pv += b->v_planner[r];
            double e = (double)b->values[r] - (double)b->v_target[r];
            vl += e * e;
            vm += b->values[r];
            d_values[r] = (float)(2.0 * p->value_coef * e / M);
            const float *qt = b->q_target + r * A;
            float one = (float)(p->policy_coef / M), xr;
            be->cat_xent_forward(&xr, b->logits + r * A, qt, 1, A);
            xe += xr;
            be->cat_xent_backward(d_logits + r * A, &one, b->logits + r * A, qt, 1, A);
        }
    be->fill(d_values + LN, 0.0f, N);
    st->loss_value = vl / M;
    st->loss_policy = xe / M;
    st->value_mean = vm / M;
    st->planner_value_mean = pv / M;
}
