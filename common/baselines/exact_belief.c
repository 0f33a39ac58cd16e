/* exact_belief — see exact_belief.h. */
#include "exact_belief.h"

#include "../envs/gridworld.h"

static bool candidate(const vb_exact_belief *b, int64_t cell) {
    return vb_gridworld_is_candidate((int32_t)(cell % b->grid_size), (int32_t)(cell / b->grid_size));
}

bool vb_exact_belief_init(vb_exact_belief *b, const vb_env_spec *spec, double prior_alpha, double prior_beta) {
    if (spec->family != VB_ENV_BANDIT && spec->family != VB_ENV_GRIDWORLD) return false;
    if (spec->reward_cells > VB_EXACT_BELIEF_MAX_CELLS) return false;
    b->family = spec->family;
    b->cells = spec->reward_cells;
    b->grid_size = spec->grid_size;
    b->alpha = prior_alpha;
    b->beta = prior_beta;
    vb_exact_belief_reset(b);
    return true;
}

void vb_exact_belief_reset(vb_exact_belief *b) {
    b->found = -1;
    b->open = 0;
    for (int64_t k = 0; k < b->cells; k++) {
        b->succ[k] = b->fail[k] = 0;
        if (b->family == VB_ENV_GRIDWORLD && candidate(b, k)) b->open++;
    }
}

double vb_exact_belief_hit(const vb_exact_belief *b, int64_t k) {
    if (b->family == VB_ENV_BANDIT) return (b->alpha + b->succ[k]) / (b->alpha + b->beta + b->succ[k] + b->fail[k]);
    if (b->found >= 0) return k == b->found;
    bool cand = candidate(b, k) && b->fail[k] == 0;
    return cand && b->open > 0 ? 1.0 / (double)b->open : 0.0;
}

void vb_exact_belief_observe(vb_exact_belief *b, int64_t c, bool hit) {
    if (hit) {
        b->succ[c]++;
        b->found = c;
    } else {
        if (b->family == VB_ENV_GRIDWORLD && b->fail[c] == 0 && candidate(b, c)) b->open--;
        b->fail[c]++;
    }
}
