/* planner — see planner.h.
 *
 * Threads: with planner.threads T > 1 the B environments are split into T
 * contiguous blocks, each with its own search and simulator (workspaces
 * sized for its share of max_B), run on T threads (vb_par_run: the caller's
 * and T - 1 started for the step). Environments never interact in a planner step, and
 * env b draws only from rng[b], so block j computes exactly what a one-thread
 * planner run on its envs alone would: no shared writes, no locks. */
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct block {
    vb_smc *search;
    vb_belief_sim *sim;
    /* the step in progress */
    const float *P;
    vb_planner_root root;
    int64_t b0, n;
    vb_rng *rng;
    float *q, *v;
} block;

struct vb_planner {
    int64_t nblocks, A;
    vb_model_dims d;
    block *blk;
};

int vb_planner_create(vb_planner **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                      const vb_planner_cfg *cfg, int64_t max_B, char *err, size_t err_len) {
    *out = NULL;
    vb_planner *p = calloc(1, sizeof *p);
    int64_t T = cfg->threads > 1 ? cfg->threads : 1;
    if (T > VB_PLANNER_MAX_THREADS) T = VB_PLANNER_MAX_THREADS;
    if (T > max_B) T = max_B > 0 ? max_B : 1;
    if (!p || !(p->blk = calloc((size_t)T, sizeof *p->blk))) {
        free(p);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    p->nblocks = T;
    p->A = m->d.actions;
    p->d = m->d;
    const int64_t per = (max_B + T - 1) / T;
    for (int64_t j = 0; j < T; j++) {
        block *b = &p->blk[j];
        if (vb_belief_sim_create(&b->sim, be, m, spec, cfg->dynamics, cfg->KO, per * cfg->K, err, err_len) != 0 ||
            vb_smc_create(&b->search, cfg, m->d.actions, per, err, err_len) != 0) {
            vb_planner_destroy(p);
            return -1;
        }
    }
    /* the planner's threads replace BLAS's: a GEMM per block on one core */
    if (T > 1) be->set_threads(1);
    *out = p;
    return 0;
}

void vb_planner_destroy(vb_planner *p) {
    if (!p) return;
    for (int64_t j = 0; p->blk && j < p->nblocks; j++) {
        vb_smc_destroy(p->blk[j].search);
        vb_belief_sim_destroy(p->blk[j].sim);
    }
    free(p->blk);
    free(p);
}

void vb_planner_prepare(vb_planner *p, const float *P) {
    for (int64_t j = 0; j < p->nblocks; j++) vb_belief_sim_prepare(p->blk[j].sim, P);
}

/* root's rows from b0 on */
static vb_planner_root root_from(const vb_model_dims *d, const vb_planner_root *r, int64_t b0) {
    vb_planner_root o = *r;
    const int64_t L2 = 2 * d->latent;
    o.obs = r->obs + b0 * d->obs;
    o.carry = r->carry + b0 * d->carry;
    o.phi = r->phi + b0 * L2;
    o.phi_prev = r->phi_prev + b0 * L2;
    o.last_obs = r->last_obs + b0 * d->obs;
    o.last_action = r->last_action + b0;
    o.last_reward = r->last_reward + b0;
    o.last_next_obs = r->last_next_obs + b0 * d->obs;
    o.t_ep = r->t_ep + b0;
    o.episode = r->episode + b0;
    if (r->o) o.o = r->o + b0 * d->hidden;
    return o;
}

/* part j of vb_par_run: block j */
static void run_block(void *ctx, int j) {
    block *b = &((vb_planner *)ctx)->blk[j];
    if (b->n <= 0) return;
    vb_plan_sim sim = vb_belief_sim_bind(b->sim, b->P, &b->root);
    vb_smc_run(b->search, &sim, b->n, b->rng, b->q, b->v);
}

void vb_planner_run(vb_planner *p, const float *P, const vb_planner_root *root, int64_t B, vb_rng *rng, float *q,
                    float *v) {
    const int T = (int)p->nblocks;
    for (int j = 0; j < T; j++) {
        block *b = &p->blk[j];
        int64_t b0, b1; /* blocks of ceil(B / T): any empty ones last */
        vb_par_rows(B, T, j, &b0, &b1);
        b->P = P;
        b->b0 = b0;
        b->n = b1 - b0;
        b->root = root_from(&p->d, root, b0);
        b->rng = rng + b0;
        b->q = q + b0 * p->A;
        b->v = v + b0;
    }
    vb_par_run(T, run_block, p);
}

/* the block holding env b of the last run */
static const block *block_of(const vb_planner *p, int64_t b) {
    int64_t j = 0;
    while (j + 1 < p->nblocks && b >= p->blk[j + 1].b0) j++;
    return &p->blk[j];
}

int32_t vb_planner_greedy(const vb_planner *p, int64_t b) {
    const block *k = block_of(p, b);
    return vb_smc_greedy(k->search, b - k->b0);
}
int64_t vb_planner_threads(const vb_planner *p) { return p->nblocks; }
void vb_planner_set_entropy(vb_planner *p, double tau) {
    for (int64_t j = 0; j < p->nblocks; j++) vb_smc_set_entropy(p->blk[j].search, tau);
}

void vb_planner_set_depth(vb_planner *p, int64_t D) {
    for (int64_t j = 0; j < p->nblocks; j++) vb_smc_set_depth(p->blk[j].search, D);
}

const vb_smc *vb_planner_search(const vb_planner *p) { return p->blk[0].search; }
const float *vb_planner_last_root_weights(const vb_planner *p) { return vb_belief_sim_root_weights(p->blk[0].sim); }
const float *vb_planner_last_latents(const vb_planner *p) { return vb_belief_sim_latents(p->blk[0].sim); }
