/* planner — see planner.h. */
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>

struct vb_planner {
    vb_smc *search;
    vb_belief_sim *sim;
};

int vb_planner_create(vb_planner **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                      const vb_planner_cfg *cfg, int64_t max_B, char *err, size_t err_len) {
    *out = NULL;
    vb_planner *p = calloc(1, sizeof *p);
    if (!p) return snprintf(err, err_len, "out of memory"), -1;
    if (vb_belief_sim_create(&p->sim, be, m, spec, cfg->dynamics, cfg->KO, max_B * cfg->K, err, err_len) != 0 ||
        vb_smc_create(&p->search, cfg, m->d.actions, max_B, err, err_len) != 0) {
        vb_planner_destroy(p);
        return -1;
    }
    *out = p;
    return 0;
}

void vb_planner_destroy(vb_planner *p) {
    if (!p) return;
    vb_smc_destroy(p->search);
    vb_belief_sim_destroy(p->sim);
    free(p);
}

void vb_planner_prepare(vb_planner *p, const float *P) { vb_belief_sim_prepare(p->sim, P); }

void vb_planner_run(vb_planner *p, const float *P, const vb_planner_root *root, int64_t B, vb_rng *rng, float *q,
                    float *v) {
    vb_plan_sim sim = vb_belief_sim_bind(p->sim, P, root);
    vb_smc_run(p->search, &sim, B, rng, q, v);
}

int32_t vb_planner_greedy(const vb_planner *p, int64_t b) { return vb_smc_greedy(p->search, b); }
const vb_smc *vb_planner_search(const vb_planner *p) { return p->search; }
const float *vb_planner_last_root_weights(const vb_planner *p) { return vb_belief_sim_root_weights(p->sim); }
const float *vb_planner_last_latents(const vb_planner *p) { return vb_belief_sim_latents(p->sim); }
