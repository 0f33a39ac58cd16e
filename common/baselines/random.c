/* random — uniform random actions, for every family. One word of env
 * i's agent stream per action. */
#include "impl.h"

static void random_reset(vb_agent *a, const vb_env_batch *env, int64_t i) {}

static void random_act(vb_agent *a, const vb_env_batch *env, int32_t *actions) {
    uint32_t k = (uint32_t)env->spec.num_actions;
    for (int64_t i = 0; i < env->n; i++) actions[i] = (int32_t)vb_rng_below(&a->rng[i], k);
}

static void random_observe(vb_agent *a, const vb_env_batch *env, const int32_t *actions) {}

static void random_destroy(void *impl) {}

static const vb_agent_ops random_ops = {.reset = random_reset, .act = random_act,
                                        .observe = random_observe, .destroy = random_destroy};

VB__AGENT_CREATE(vb__agent_random_create) {
    a->ops = &random_ops;
    a->impl = NULL;
    return 0;
}
