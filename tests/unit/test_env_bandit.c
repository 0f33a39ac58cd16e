/* bandit: spec, the one-step clock, the Beta prior of the arms, the pull
 * probabilities, and determinism. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "common/envs/bandit.h"
#include "common/envs/env.h"
#include "common/params/params.h"

static char err[512];

static vb_env_batch *make(int64_t n, int64_t arms, int64_t horizon, double alpha, double beta, uint64_t seed,
                          uint64_t base) {
    vb_config cfg;
    vb_config_defaults(&cfg);
    cfg.env.name = VB_ENV_BANDIT;
    cfg.env.arms = arms;
    cfg.env.horizon = horizon;
    cfg.env.prior_alpha = alpha;
    cfg.env.prior_beta = beta;
    vb_env_batch *b = NULL;
    cr_assert_eq(vb_env_batch_from_config(&b, &cfg, n, seed, base, err, sizeof err), 0, "%s", err);
    return b;
}

Test(env_bandit, spec_has_one_step_episodes_and_one_cell_per_arm) {
    vb_env_batch *b = make(2, 5, 10, 1, 1, 1, 0);
    const vb_env_spec *s = &b->spec;
    cr_assert_str_eq(s->name, "bandit");
    cr_assert_eq(s->obs_size, 1);
    cr_assert_eq(s->num_actions, 5);
    cr_assert_eq(s->reward_kind, VB_REWARD_BERNOULLI);
    cr_assert(s->reward_levels[0] == 0.0f && s->reward_levels[1] == 1.0f);
    cr_assert_eq(s->episode_length, 1);
    cr_assert_eq(s->episodes_per_task, 10);
    cr_assert_eq(s->steps_per_task, 10);
    cr_assert(s->task_independent_transitions);
    cr_assert_eq(s->reward_cells, 5);
    float obs = 0, next = -1;
    cr_assert_eq(vb_env_transition(s, &obs, 3, &next), VB_ENV_OK);
    cr_assert_eq(next, 0.0f);
    cr_assert_eq(vb_env_reward_cell(s, &obs, 3, &next), 3);
    vb_env_batch_destroy(b);
}

Test(env_bandit, every_pull_ends_an_episode_and_the_hth_ends_the_task) {
    vb_env_batch *b = make(1, 3, 4, 1, 1, 2, 0);
    for (int t = 0; t < 4; t++) {
        int32_t a = t % 3;
        cr_assert_eq(vb_env_step(b, &a), VB_ENV_OK);
        cr_assert(b->reward[0] == 0.0f || b->reward[0] == 1.0f);
        cr_assert_eq(b->obs[0], 0.0f);
        cr_assert(b->done[0]);
        cr_assert_eq(b->task_done[0], t == 3);
        cr_assert_eq(vb_env_step(b, &a), VB_ENV_EFINISHED);
        if (t < 3) cr_assert_eq(vb_env_reset_episode(b, 0), VB_ENV_OK);
    }
    cr_assert_eq(vb_env_reset_episode(b, 0), VB_ENV_ENOEPISODE);
    vb_env_batch_destroy(b);
}

/* Beta(2, 5): mean 2/7, variance ab / ((a+b)^2 (a+b+1)) = 10/392. */
Test(env_bandit, arm_probabilities_follow_the_beta_prior) {
    enum { N = 20000 };
    vb_env_batch *b = make(N, 2, 1, 2, 5, 3, 0);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < N; i++) {
        const double *p = vb_bandit_arm_probs(b, i);
        for (int a = 0; a < 2; a++) {
            cr_assert(p[a] > 0 && p[a] < 1);
            sum += p[a];
            sq += p[a] * p[a];
        }
    }
    double mean = sum / (2 * N), var = sq / (2 * N) - mean * mean;
    cr_assert_float_eq(mean, 2.0 / 7.0, 0.004, "%f", mean);  /* se 0.0011 */
    cr_assert_float_eq(var, 10.0 / 392.0, 0.001, "%f", var); /* se ~0.0002 */
    vb_env_batch_destroy(b);
}

Test(env_bandit, pulls_pay_with_the_arm_probability) {
    vb_env_batch *b = make(1, 2, 40000, 1, 1, 4, 0);
    const double *p = vb_bandit_arm_probs(b, 0);
    int hits[2] = {0, 0};
    for (int t = 0; t < 40000; t++) {
        int32_t a = t & 1;
        cr_assert_eq(vb_env_step(b, &a), VB_ENV_OK);
        hits[a] += b->reward[0] == 1.0f;
        if (t < 39999) vb_env_reset_episode(b, 0);
    }
    for (int a = 0; a < 2; a++) {
        double f = hits[a] / 20000.0, se = sqrt(p[a] * (1 - p[a]) / 20000.0) + 1e-9;
        cr_assert(fabs(f - p[a]) < 5 * se + 1e-3, "arm %d: %f vs %f", a, f, p[a]);
    }
    vb_env_batch_destroy(b);
}

static int rewards_of(vb_env_batch *b, int32_t *acts, float *out, int steps) {
    for (int t = 0; t < steps; t++) {
        if (vb_env_step(b, acts) != VB_ENV_OK) return -1;
        for (int64_t i = 0; i < b->n; i++) out[t * b->n + i] = b->reward[i];
        vb_env_reset_finished(b);
    }
    return 0;
}

Test(env_bandit, same_stream_same_trajectory_other_stream_another) {
    enum { T = 64 };
    vb_env_batch *a = make(4, 3, 8, 1, 1, 5, 40), *c = make(4, 3, 8, 1, 1, 5, 40), *d = make(4, 3, 8, 1, 1, 5, 41);
    int32_t acts[4] = {0, 1, 2, 0};
    float ra[T * 4], rc[T * 4], rd[T * 4];
    cr_assert_eq(rewards_of(a, acts, ra, T), 0);
    cr_assert_eq(rewards_of(c, acts, rc, T), 0);
    cr_assert_eq(rewards_of(d, acts, rd, T), 0);
    int differ = 0;
    for (int k = 0; k < T * 4; k++) {
        cr_assert_eq(ra[k], rc[k]);
        differ += ra[k] != rd[k];
    }
    cr_assert_gt(differ, 20);
    /* d's env 0 is a's env 1 (stream 41) when they pull the same arm */
    int32_t same[4] = {1, 1, 1, 1};
    vb_env_set_streams(a, 5, 40);
    vb_env_set_streams(d, 5, 40);
    vb_env_reset_all(a);
    vb_env_reset_all(d);
    vb_env_set_streams(d, 5, 41);
    vb_env_reset_all(d);
    cr_assert_eq(rewards_of(a, same, ra, T), 0);
    cr_assert_eq(rewards_of(d, same, rd, T), 0);
    for (int t = 0; t < T; t++) cr_assert_eq(ra[t * 4 + 1], rd[t * 4 + 0], "step %d", t);
    vb_env_batch_destroy(a);
    vb_env_batch_destroy(c);
    vb_env_batch_destroy(d);
}

Test(env_bandit, task_cells_are_the_arm_probabilities) {
    vb_env_batch *b = make(8, 5, 10, 2, 3, 4, 0);
    float cells[5];
    for (int64_t i = 0; i < b->n; i++) {
        const double *p = vb_bandit_arm_probs(b, i);
        cr_assert_eq(vb_env_task_cells(b, i, cells), VB_ENV_OK);
        for (int k = 0; k < 5; k++) cr_assert_eq(cells[k], (float)p[k]);
    }
    cr_assert_eq(vb_env_task_cells(b, -1, cells), VB_ENV_EINDEX);
    vb_env_batch_destroy(b);
}
