/* agent — see agent.h. The generic plumbing of every policy. */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../baselines/impl.h"

void vb_agent_destroy(vb_agent *a) {
    if (!a) return;
    if (a->ops && a->impl) a->ops->destroy(a->impl);
    if (a->own_free) a->own_free(a->own);
    free(a->rng);
    free(a);
}

void vb_agent_set_streams(vb_agent *a, uint64_t seed, uint64_t stream_base) {
    a->seed = seed;
    a->stream_base = stream_base;
    for (int64_t i = 0; i < a->n; i++) vb_rng_init(&a->rng[i], seed, stream_base + (uint64_t)i);
}

void vb_agent_reset(vb_agent *a, const vb_env_batch *env, int64_t i) { a->ops->reset(a, env, i); }

void vb_agent_reset_all(vb_agent *a, const vb_env_batch *env) {
    for (int64_t i = 0; i < a->n; i++) a->ops->reset(a, env, i);
}

void vb_agent_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) { a->ops->act(a, env, actions); }

void vb_agent_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {
    a->ops->observe(a, env, actions);
}

int vb_agent_belief(vb_agent *a, float *cells) {
    if (!a->ops->belief) return -1;
    a->ops->belief(a, cells);
    return 0;
}

int64_t vb_argmax(const double *v, int64_t n, vb_rng *r) {
    int64_t best = 0, ties = 1;
    for (int64_t j = 1; j < n; j++) {
        if (v[j] > v[best]) {
            best = j;
            ties = 1;
        } else if (v[j] == v[best] && r) {
            /* reservoir sampling over the ties seen so far */
            ties++;
            if (vb_rng_below(r, (uint32_t)ties) == 0) best = j;
        }
    }
    return best;
}
