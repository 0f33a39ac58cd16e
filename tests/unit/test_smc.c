/* The Belief-SMC search against exact answers: a 3x3 GridNavi with two
 * 3-step episodes and the exact belief (exact_gridnavi.h), where Q^pi,
 * V^pi and the Bayes-optimal V* of every belief state are computed by
 * enumeration. ALGORITHM.md section 3, "What must hold". */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/planner/smc.h"
#include "common/base/config.h"
#include "exact_gridnavi.h"

static vb_planner_cfg search_cfg(const xg_world *w, int64_t K) {
    return (vb_planner_cfg){.K = K, .D = w->steps, .KO = 1, .period = 4096, .ess_threshold = 0, .eta = 1,
                            .gamma = w->gamma, .target = VB_TARGET_BACKUP, .backup_weights = VB_BACKUP_PRIOR,
                            .root_actions = VB_ROOT_ALL, .rollout = VB_ROLLOUT_SAMPLE,
                            .outcomes = VB_OUTCOMES_EXPECTED, .backup_lambda = 1};
}

/* The world whose values the simulator bootstraps with (NULL: the searched one). */
static const xg_world *value_world;

/* One search from st: Q-hat into Q (may be NULL), the greedy action returned. */
static int32_t search(const xg_world *w, xg_value value, const xg_state *st, const vb_planner_cfg *c, uint64_t seed,
                      double *Q, int64_t *resamples) {
    vb_smc *s = NULL;
    char err[256];
    cr_assert_eq(vb_smc_create(&s, c, XG_ACTIONS, 1, err, sizeof err), 0, "%s", err);
    xg_sim sim;
    xg_sim_init(&sim, w, value, c->K);
    if (value_world) sim.vw = value_world;
    sim.root[0] = *st;
    vb_plan_sim ps = xg_sim_bind(&sim);
    vb_rng rng;
    vb_rng_init(&rng, seed, 0);
    float q[XG_ACTIONS], v;
    vb_smc_run(s, &ps, 1, &rng, q, &v);
    if (Q) memcpy(Q, vb_smc_qhat(s, 0), sizeof(double) * XG_ACTIONS);
    if (resamples) *resamples = vb_smc_resamples(s);
    int32_t a = vb_smc_greedy(s, 0);
    xg_sim_free(&sim);
    vb_smc_destroy(s);
    return a;
}

/* Some belief states of the task: the start and states after a few steps. */
static int test_states(const xg_world *w, xg_state *out) {
    int n = 0;
    out[n++] = xg_start(w);
    xg_state hit, miss, s = xg_start(w);
    const int32_t route[] = {2, 2, 1, 4, 1};
    for (int i = 0; i < 5 && n < 6; i++) {
        double p = xg_step(w, &s, route[i], &hit, &miss);
        if (p > 0 && n < 6) out[n++] = hit;
        s = miss;
        if (i % 2 == 1) out[n++] = s;
    }
    return n;
}

/* Mean |Q-hat - Q^pi| over test states and actions, averaged over seeds. */
static double q_error(const xg_world *w, xg_value value, const vb_planner_cfg *c, int seeds) {
    xg_state st[8];
    int n = test_states(w, st);
    double err = 0;
    for (int i = 0; i < n; i++)
        for (int seed = 0; seed < seeds; seed++) {
            double Q[XG_ACTIONS];
            search(w, value, &st[i], c, (uint64_t)(100 + seed), Q, NULL);
            for (int32_t a = 0; a < XG_ACTIONS; a++) err += fabs(Q[a] - xg_q_pi(w, &st[i], a));
        }
    return err / (double)(n * seeds * XG_ACTIONS);
}

/* (a) Q-hat converges to the exact Q^pi of the stochastic rollout policy:
 * searching to the end of the task with sampled outcomes (no value
 * function at all), with averaged outcomes (the closed ones and the
 * bootstrap valued by V^pi), and with the twist steering and resampling
 * every step; the twisted backup (the old readout) converges to something
 * else. */
Test(smc, q_hat_converges_to_exact_q_pi_as_particles_grow) {
    xg_world w;
    xg_init(&w, 3, 3, 2, 0.95, 7, 3.0);
    const int64_t Ks[3] = {40, 640, 10240};
    const char *mode[3] = {"sampled outcomes", "expected outcomes and V^pi", "the same, twisted and resampled"};
    double resampled = 0;
    for (int m = 0; m < 3; m++) {
        double err[3];
        for (int i = 0; i < 3; i++) {
            vb_planner_cfg c = search_cfg(&w, Ks[i]);
            if (m == 0) c.outcomes = VB_OUTCOMES_SAMPLED, c.backup_lambda = 0; /* no value: the full returns */
            if (m == 2) c.eta = 1, c.period = 1, c.ess_threshold = 0.5;
            err[i] = q_error(&w, m == 0 ? XG_V_ZERO : XG_V_PI, &c, 3);
        }
        cr_log_info("%s: mean |Q-hat - Q^pi| %.4f, %.4f, %.4f at K %lld, %lld, %lld", mode[m], err[0], err[1], err[2],
                    (long long)Ks[0], (long long)Ks[1], (long long)Ks[2]);
        /* 16 times the particles: a quarter of the error, within sampling noise */
        cr_assert_lt(err[1], 0.45 * err[0], "%s: %g -> %g", mode[m], err[0], err[1]);
        cr_assert_lt(err[2], 0.45 * err[1], "%s: %g -> %g", mode[m], err[1], err[2]);
        cr_assert_lt(err[2], 0.02, "%s: %g at K %lld", mode[m], err[2], (long long)Ks[2]);
        resampled = err[2];
    }
    vb_planner_cfg c = search_cfg(&w, Ks[2]);
    c.eta = 1, c.period = 1, c.ess_threshold = 0.5, c.backup_weights = VB_BACKUP_TWISTED;
    double twisted = q_error(&w, XG_V_PI, &c, 1);
    cr_log_info("twisted backup: %.4f at K %lld", twisted, (long long)Ks[2]);
    cr_assert_gt(twisted, 10 * resampled, "the twisted backup estimates the tilted mean, not Q^pi (error only %g)",
                 twisted);
    xg_free(&w);
}

/* The return of the agent that acts greedily on the search at every belief
 * state it meets, by enumeration of the outcomes. */
static double search_agent_value(const xg_world *w, xg_value value, const vb_planner_cfg *c, const xg_state *s) {
    if (s->t >= w->steps) return 0.0;
    int32_t a = search(w, value, s, c, 1, NULL, NULL);
    xg_state hit, miss;
    double p = xg_step(w, s, a, &hit, &miss), v = p * w->r_hit + (1 - p) * w->r_miss;
    if (p > 0) v += w->gamma * p * search_agent_value(w, value, c, &hit);
    if (p < 1) v += w->gamma * (1 - p) * search_agent_value(w, value, c, &miss);
    return v;
}

/* (b) Continuing with the policy's argmax, outcomes averaged (the closed
 * ones valued by that policy's V), every root action simulated once: Q-hat
 * is exactly the greedy policy's Q, and acting on it never loses to that
 * policy (policy improvement); over 24 policies it mostly gains. */
Test(smc, greedy_on_exact_q_of_the_rollout_policy_never_loses_to_it) {
    int gained = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        xg_world w, wg;
        xg_init(&w, 3, 3, 2, 0.95, seed, 3.0);
        xg_init(&wg, 3, 3, 2, 0.95, seed, 3.0);
        wg.greedy_pi = true; /* the reference: the argmax policy */
        vb_planner_cfg c = search_cfg(&w, XG_ACTIONS);
        c.rollout = VB_ROLLOUT_ARGMAX;
        c.eta = 1e-6;
        value_world = &wg;
        xg_state st[8];
        int n = test_states(&w, st);
        for (int i = 0; i < n; i++) {
            double Q[XG_ACTIONS];
            search(&w, XG_V_PI, &st[i], &c, seed, Q, NULL);
            for (int32_t a = 0; a < XG_ACTIONS; a++)
                cr_assert_float_eq(Q[a], xg_q_pi(&wg, &st[i], a), 1e-5, "seed %llu state %d a %d",
                                   (unsigned long long)seed, i, a);
        }
        xg_state s0 = xg_start(&w);
        double planner = search_agent_value(&w, XG_V_PI, &c, &s0), base = xg_v_pi(&wg, &s0);
        value_world = NULL;
        cr_assert_geq(planner, base - 1e-6, "seed %llu: the planner %g < its rollout policy %g", (unsigned long long)seed,
                      planner, base);
        gained += planner > base + 1e-3;
        xg_free(&w);
        xg_free(&wg);
    }
    cr_log_info("the planner beat its rollout policy for %d of 24 policies", gained);
    cr_assert_gt(gained, 12);
}

/* (c) With the exact V* as the bootstrap, a one-step search acts
 * Bayes-optimally whatever its policy prior: its agent's return is V*. */
Test(smc, exact_v_star_bootstrap_acts_bayes_optimally) {
    for (uint64_t seed = 5; seed <= 7; seed++) {
        xg_world w;
        xg_init(&w, 3, 3, 2, 0.95, seed, 3.0);
        vb_planner_cfg c = search_cfg(&w, XG_ACTIONS);
        c.D = 1;
        c.eta = 1e-6;
        xg_state s0 = xg_start(&w);
        double planner = search_agent_value(&w, XG_V_STAR, &c, &s0), best = xg_v_star(&w, &s0);
        double pi_value = xg_v_pi(&w, &s0);
        cr_log_info("prior %llu: planner %.6f, Bayes-optimal %.6f, the policy prior %.6f", (unsigned long long)seed,
                    planner, best, pi_value);
        cr_assert_float_eq(planner, best, 1e-6, "prior %llu", (unsigned long long)seed);
        cr_assert_lt(pi_value, best - 0.1, "the prior must be far from optimal for this test");
        xg_free(&w);
    }
}

/* Periodic resampling fires after every P-th of the D steps (not after the
 * last, where it would change nothing), and never at P >= D. */
Test(smc, periodic_resampling_fires_every_p_steps) {
    xg_world w;
    xg_init(&w, 3, 3, 2, 0.95, 3, 3.0);
    xg_state s0 = xg_start(&w);
    const int64_t periods[4] = {1, 2, 4, 6}, expect[4] = {5, 2, 1, 0};
    for (int i = 0; i < 4; i++) {
        vb_planner_cfg c = search_cfg(&w, 32);
        c.D = 6;
        c.period = periods[i];
        int64_t n;
        search(&w, XG_V_ZERO, &s0, &c, 1, NULL, &n);
        cr_assert_eq(n, expect[i], "period %lld: %lld resamplings", (long long)periods[i], (long long)n);
    }
    /* argmax continuations are never resampled: the only randomness left is the outcome */
    vb_planner_cfg c = search_cfg(&w, 32);
    c.period = 1;
    c.rollout = VB_ROLLOUT_ARGMAX;
    int64_t n;
    search(&w, XG_V_ZERO, &s0, &c, 1, NULL, &n);
    cr_assert_eq(n, 0);
    xg_free(&w);
}

/* Fewer particles than actions: the most likely actions get them, the others
 * the completed value; the greedy action is among the evaluated, so one
 * particle acts as the policy's argmax. */
Test(smc, fewer_particles_than_actions_evaluate_the_most_likely) {
    xg_world w;
    xg_init(&w, 3, 3, 2, 0.95, 11, 3.0);
    xg_state s0 = xg_start(&w);
    double pi[XG_ACTIONS];
    xg_pi(&w, &s0, pi);
    int32_t order[XG_ACTIONS];
    for (int32_t i = 0; i < XG_ACTIONS; i++) order[i] = i;
    for (int32_t i = 0; i < XG_ACTIONS; i++)
        for (int32_t j = i + 1; j < XG_ACTIONS; j++)
            if (pi[order[j]] > pi[order[i]]) {
                int32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    for (int64_t K = 1; K < XG_ACTIONS; K++) {
        vb_planner_cfg c = search_cfg(&w, K);
        c.rollout = VB_ROLLOUT_ARGMAX;
        c.eta = 1e-6;
        vb_smc *s;
        char err[256];
        cr_assert_eq(vb_smc_create(&s, &c, XG_ACTIONS, 1, err, sizeof err), 0, "%s", err);
        xg_sim sim;
        xg_sim_init(&sim, &w, XG_V_ZERO, K);
        sim.root[0] = s0;
        vb_plan_sim ps = xg_sim_bind(&sim);
        vb_rng rng;
        vb_rng_init(&rng, 1, 0);
        float q[XG_ACTIONS], v;
        vb_smc_run(s, &ps, 1, &rng, q, &v);
        for (int64_t i = 0; i < XG_ACTIONS; i++)
            cr_assert_eq(vb_smc_evaluated(s, 0, order[i]), i < K, "K %lld: rank %lld", (long long)K, (long long)i);
        int32_t g = vb_smc_greedy(s, 0);
        cr_assert(vb_smc_evaluated(s, 0, g));
        if (K == 1) cr_assert_eq(g, order[0], "one particle: the policy's argmax");
        /* an action without particles has the completed value, the same for each */
        const double *Q = vb_smc_qhat(s, 0);
        for (int64_t i = K + 1; i < XG_ACTIONS; i++) cr_assert_float_eq(Q[order[i]], Q[order[K]], 1e-12);
        xg_sim_free(&sim);
        vb_smc_destroy(s);
    }
    xg_free(&w);
}

/* Argmax continuations with averaged outcomes leave nothing to chance. */
Test(smc, argmax_rollouts_with_expected_outcomes_are_deterministic) {
    xg_world w;
    xg_init(&w, 3, 3, 2, 0.95, 13, 3.0);
    xg_state s0 = xg_start(&w);
    vb_planner_cfg c = search_cfg(&w, 20);
    c.rollout = VB_ROLLOUT_ARGMAX;
    double Q1[XG_ACTIONS], Q2[XG_ACTIONS];
    search(&w, XG_V_ZERO, &s0, &c, 1, Q1, NULL);
    search(&w, XG_V_ZERO, &s0, &c, 99, Q2, NULL);
    for (int32_t a = 0; a < XG_ACTIONS; a++) cr_assert_eq(Q1[a], Q2[a], "a %d", a);
    xg_free(&w);
}

/* backup_lambda 0 keeps the deepest records only. With the goal known no
 * outcome is uncertain, so a search to the end of the task under lambda 0
 * returns the argmax policy's exact Q whatever the value function; lambda 1
 * averages in the shallow records, which lean on the (here wrong) values. */
Test(smc, backup_lambda_zero_reads_the_deepest_returns) {
    xg_world w;
    xg_init(&w, 3, 3, 2, 0.95, 17, 3.0);
    w.greedy_pi = true;
    xg_state s0 = xg_start(&w);
    s0.goal = 2; /* cell (2, 0), known */
    for (int lam = 0; lam <= 1; lam++) {
        vb_planner_cfg c = search_cfg(&w, XG_ACTIONS);
        c.rollout = VB_ROLLOUT_ARGMAX;
        c.backup_lambda = lam;
        double Q[XG_ACTIONS], worst = 0;
        search(&w, XG_V_STAR, &s0, &c, 1, Q, NULL); /* V* is not the argmax policy's value */
        for (int32_t a = 0; a < XG_ACTIONS; a++) worst = fmax(worst, fabs(Q[a] - xg_q_pi(&w, &s0, a)));
        if (lam == 0) cr_assert_lt(worst, 1e-5, "lambda 0: off by %g", worst);
        else cr_assert_gt(worst, 1e-3, "lambda 1 should mix in the bootstrapped records (off by only %g)", worst);
    }
    xg_free(&w);
}
