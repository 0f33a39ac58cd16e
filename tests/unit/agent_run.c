#include "agent_run.h"
#include "common/params/params.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

void vb_test_run_agent(const vb_config *cfg, const char *agent, int64_t tasks, uint64_t seed, vb_test_returns *out,
                       void (*peek)(const vb_env_batch *env, void *ctx), void *ctx) {
    char err[512];
    vb_env_batch *env = NULL;
    vb_agent *a = NULL;
    cr_assert_eq(vb_env_batch_from_config(&env, cfg, tasks, seed, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_agent_create(&a, agent, env, seed, UINT64_C(1) << 40, err, sizeof err), 0, "%s", err);
    if (peek) peek(env, ctx);
    int64_t E = env->spec.episodes_per_task;
    out->tasks = tasks;
    out->episodes = E;
    out->episode_return = calloc((size_t)(tasks * E), sizeof *out->episode_return);
    out->final_regret = calloc((size_t)tasks, sizeof *out->final_regret);
    int32_t *acts = calloc((size_t)tasks, sizeof *acts);
    cr_assert(out->episode_return && out->final_regret && acts);
    for (int64_t t = 0; t < env->spec.steps_per_task; t++) {
        vb_agent_act(a, env, acts);
        cr_assert_eq(vb_env_step(env, acts), VB_ENV_OK);
        vb_agent_observe(a, env, acts);
        for (int64_t i = 0; i < tasks; i++) {
            out->episode_return[i * E + env->episode[i]] += env->reward[i];
            out->final_regret[i] = env->regret[i];
            if (env->done[i] && !env->task_done[i]) cr_assert_eq(vb_env_reset_episode(env, i), VB_ENV_OK);
        }
    }
    double sum = 0, sq = 0, rsum = 0;
    for (int64_t i = 0; i < tasks; i++) {
        double r = 0;
        for (int64_t e = 0; e < E; e++) r += out->episode_return[i * E + e];
        sum += r;
        sq += r * r;
        rsum += out->final_regret[i];
    }
    out->mean = sum / (double)tasks;
    out->se = tasks > 1 ? sqrt((sq / (double)tasks - out->mean * out->mean) / (double)(tasks - 1)) : 0.0;
    out->regret_mean = rsum / (double)tasks;
    free(acts);
    vb_agent_destroy(a);
    vb_env_batch_destroy(env);
}

void vb_test_returns_free(vb_test_returns *r) {
    free(r->episode_return);
    free(r->final_regret);
    r->episode_return = r->final_regret = NULL;
}
