/* planner — Belief-SMC (ALGORITHM.md section 3): the E-step, run by the actor
 * at every real step for a batch of environments. It is the search of smc.h
 * over the learned belief of belief_sim.h, composed (params.h builds its
 * settings from a run configuration). */
#ifndef VB_PLANNER_H
#define VB_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/rng.h"
#include "../envs/env.h"
#include "belief_sim.h"
#include "../model/model.h"
#include "../base/par.h"
#include "smc.h"

typedef struct vb_planner vb_planner;

/* Most threads a planner runs (cfg->threads is capped to this and to max_B):
 * its blocks run through par.h's fork-join. */
#define VB_PLANNER_MAX_THREADS VB_PAR_MAX

/* A planner for up to max_B environments, on cfg->threads threads (the
 * environments split into that many blocks; with more than one, BLAS is set
 * to one thread per call, since the blocks take the cores). 0, or -1 with err. */
int vb_planner_create(vb_planner **out, const vb_backend *be, const vb_model *m, const vb_env_spec *spec,
                      const vb_planner_cfg *cfg, int64_t max_B, char *err, size_t err_len);
void vb_planner_destroy(vb_planner *p);
/* Call after the parameters change. */
void vb_planner_prepare(vb_planner *p, const float *P);
/* Plan for B environments: q (B, A) and v (B) targets. Env b draws from rng[b]. */
void vb_planner_run(vb_planner *p, const float *P, const vb_planner_root *root, int64_t B, vb_rng *rng, float *q,
                    float *v);
/* The backup readout's entropy temperature from the next run on, in every block. */
void vb_planner_set_entropy(vb_planner *p, double tau);
/* The planning depth D from the next run on, in every block. */
void vb_planner_set_depth(vb_planner *p, int64_t D);
/* The greedy action of env b after the last run (vb_smc_greedy). */
int32_t vb_planner_greedy(const vb_planner *p, int64_t b);
/* Threads (blocks of environments) this planner runs. */
int64_t vb_planner_threads(const vb_planner *p);
/* The search, for its Q-hat and statistics (of the first block's environments
 * when the planner runs more than one thread; all of them with one). */
const vb_smc *vb_planner_search(const vb_planner *p);
/* The nested-particle weights of the first step of the last run, (B, K, KO)
 * (B: the first block's environments with more than one thread). */
const float *vb_planner_last_root_weights(const vb_planner *p);
/* The nested latent samples of the last depth simulated, (B, K, KO, latent)
 * (as above). */
const float *vb_planner_last_latents(const vb_planner *p);

#endif
