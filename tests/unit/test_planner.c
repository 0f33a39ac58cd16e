/* Belief-SMC planner: tests that can fail (ALGORITHM.md section 3). Models
 * are built by hand: a decoder that is exactly linear in m_0 through its
 * ReLUs (h = (relu(m0), relu(-m0)), out = s (h0 - h1) + b), a value head that
 * is identically zero, and a random policy prior. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/nn/softmax_cells.h"
#include "common/planner/planner.h"
#include "common/params/params.h"
#include "support.h"

typedef struct fixture {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    float *P;
    vb_planner *pl;
} fixture;

static void build(fixture *f, const char *env, const char *const *sets) {
    char err[512];
    vb_config_defaults(&f->cfg);
    char e[64];
    snprintf(e, sizeof e, "env.name=%s", env);
    const char *base[] = {e, "run.algo=varibased", "model.latent=2", "model.mlp_hidden=4", "model.hidden=8",
                          "model.embed=4", "env.points=8", "env.queries=5", "planner.dirichlet_weight=0",
                          "planner.dynamics=env"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        cr_assert_eq(vb_config_set(&f->cfg, base[i], err, sizeof err), 0, "%s", err);
    for (int i = 0; sets && sets[i]; i++) cr_assert_eq(vb_config_set(&f->cfg, sets[i], err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(&f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&f->m, &f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    f->P = calloc((size_t)f->m.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&f->m, f->P, 9), 0);
    /* V == 0 */
    const vb_linear *vl = &f->m.value.layer[f->m.value.n - 1];
    memset(f->P + vl->w, 0, sizeof(float) * (size_t)(vl->in * vl->out));
    memset(f->P + vl->b, 0, sizeof(float) * (size_t)vl->out);
    /* a policy prior far from uniform, so the tilt is visible */
    const vb_linear *pl = &f->m.policy.layer[f->m.policy.n - 1];
    for (int64_t a = 0; a < pl->out; a++) f->P[pl->b + a] = 0.4f * (float)a - 0.6f;
    /* decoder: linear in m0 through the ReLUs; cells get value scale * m0 + bias (set per test) */
    const vb_mlp *d = &f->m.reward_dec;
    for (int i = 0; i < d->n; i++) {
        memset(f->P + d->layer[i].w, 0, sizeof(float) * (size_t)(d->layer[i].in * d->layer[i].out));
        memset(f->P + d->layer[i].b, 0, sizeof(float) * (size_t)d->layer[i].out);
    }
    int64_t in0 = d->layer[0].in, h1 = d->layer[1].in;
    f->P[d->layer[0].w + 0 * in0 + 0] = 1.0f;  /* h0 = relu(m0) */
    f->P[d->layer[0].w + 1 * in0 + 0] = -1.0f; /* h1 = relu(-m0) */
    f->P[d->layer[1].w + 0 * h1 + 0] = 1.0f;
    f->P[d->layer[1].w + 1 * h1 + 1] = 1.0f;
}

/* cell c: value = scale * m0 + bias */
static void set_cell(fixture *f, int64_t c, float scale, float bias) {
    const vb_linear *last = &f->m.reward_dec.layer[f->m.reward_dec.n - 1];
    f->P[last->w + c * last->in + 0] = scale;
    f->P[last->w + c * last->in + 1] = -scale;
    f->P[last->b + c] = bias;
}

static void make_planner(fixture *f, int64_t B) {
    char err[512];
    vb_planner_cfg pc = vb_planner_cfg_from(&f->cfg, false);
    cr_assert_eq(vb_planner_create(&f->pl, vb_backend_cpu(), &f->m, &f->spec, &pc, B, err, sizeof err), 0, "%s", err);
    vb_planner_prepare(f->pl, f->P);
}

static void destroy(fixture *f) {
    vb_planner_destroy(f->pl);
    free(f->P);
}

typedef struct root_buf {
    float obs[8], carry[64], phi[4], phi_prev[4], last_obs[8], last_next[8], last_r[1];
    int32_t last_a[1];
    int64_t t[1], ep[1];
    vb_planner_root r;
} root_buf;

/* A task start at the env's start state with belief N(0, I). */
static void task_start_root(root_buf *rb) {
    memset(rb, 0, sizeof *rb);
    rb->last_a[0] = -1;
    rb->r = (vb_planner_root){rb->obs, rb->carry, rb->phi, rb->phi_prev, rb->last_obs, rb->last_a, rb->last_r,
                              rb->last_next, rb->t, rb->ep, NULL};
}

/* One step into a task: the last step went from `from` to `to` with action a
 * and reward r, and the env is at `to`. */
static void after_one_step_root(root_buf *rb, const float *from, const float *to, int32_t a, float r) {
    task_start_root(rb);
    rb->obs[0] = to[0], rb->obs[1] = to[1];
    rb->last_obs[0] = from[0], rb->last_obs[1] = from[1];
    rb->last_next[0] = to[0], rb->last_next[1] = to[1];
    rb->last_a[0] = a;
    rb->last_r[0] = r;
    rb->t[0] = 1;
}

static void root_prior(const fixture *f, const root_buf *rb, double *pi) {
    float feat[16], logits[8], probs[8], cache[256], x[32];
    vb_model_input(&f->m, x, rb->obs, -1, 0.0f, 0.0f, rb->ep[0] * f->spec.episode_length + rb->t[0]);
    vb_model_features(vb_backend_cpu(), &f->m, f->P, feat, x, NULL, rb->phi, NULL, 1);
    vb_mlp_forward(vb_backend_cpu(), &f->m.policy, f->P, logits, feat, cache, 1);
    vb_backend_cpu()->softmax(probs, logits, 1, f->m.d.actions);
    for (int64_t a = 0; a < f->m.d.actions; a++) pi[a] = probs[a];
}

/* Deterministic rewards (logits +-30): hit for the actions that reach cell
 * `goal`, miss otherwise; V == 0, so A(a) = r(a). */
static void deterministic_grid(fixture *f, int64_t *goal, float *ra) {
    const vb_env_spec *s = &f->spec;
    float start[2] = {0, 0}, next[2];
    *goal = -1;
    for (int64_t c = 0; c < s->reward_cells; c++) set_cell(f, c, 0.0f, -30.0f);
    cr_assert_eq(vb_env_transition(s, start, 2, next), 0);
    *goal = vb_env_reward_cell(s, start, 2, next);
    set_cell(f, *goal, 0.0f, 30.0f);
    for (int32_t a = 0; a < s->num_actions; a++) {
        cr_assert_eq(vb_env_transition(s, start, a, next), 0);
        ra[a] = vb_env_reward_cell(s, start, a, next) == *goal ? s->reward_levels[1] : s->reward_levels[0];
    }
}

/* A one-step backup at eta 0.5 (and `extra`, e.g. an entropy temperature):
 * q* and V-hat against the closed form pi^prior_pow exp(r / temp) / Z with the
 * exact one-step rewards; returns the argmax of q* and those rewards. */
static int one_step_backup(const char *extra, double prior_pow, double temp, float ra[8]) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=64", "planner.nested=2",
                                            "planner.temperature=0.5", "planner.target=backup", extra, NULL});
    int64_t goal;
    deterministic_grid(&f, &goal, ra);
    make_planner(&f, 1);
    root_buf rb;
    task_start_root(&rb);
    vb_rng rng;
    vb_rng_init(&rng, 1, 0);
    float q[8], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    double pi[8], z = 0, expect[8];
    root_prior(&f, &rb, pi);
    for (int a = 0; a < 5; a++) z += expect[a] = pow(pi[a], prior_pow) * exp(ra[a] / temp);
    for (int a = 0; a < 5; a++) cr_assert_float_eq(q[a], expect[a] / z, 1e-4, "a=%d: %g vs %g", a, q[a], expect[a] / z);
    double vhat = 0;
    for (int a = 0; a < 5; a++) vhat += expect[a] / z * ra[a];
    cr_assert_float_eq(v, vhat, 1e-4);
    int best = 0;
    for (int a = 1; a < 5; a++)
        if (q[a] > q[best]) best = a;
    destroy(&f);
    return best;
}

Test(planner, one_step_backup_is_pi_times_exp_advantage) {
    float ra[8];
    one_step_backup(NULL, 1.0, 0.5, ra);
}

/* planner.entropy tau: the one-step backup becomes the entropy-regularised
 * step pi^(eta/(eta+tau)) exp(Q/(eta+tau)), and its argmax still follows Q. */
Test(planner, entropy_temperature_flattens_the_prior_in_the_backup) {
    float ra[8];
    int best = one_step_backup("planner.entropy=1.5", 0.5 / 2.0, 2.0, ra);
    float rmax = ra[0];
    for (int a = 1; a < 5; a++) rmax = ra[a] > rmax ? ra[a] : rmax;
    cr_assert_eq(ra[best], rmax, "the argmax of q* reaches the goal");
}

/* planner.noise_target: while training, q* tilts the root prior with its
 * Dirichlet noise mixed in, even with a particle on every action; with all
 * of the weight on a near-uniform Dirichlet the prior drops out and q* is
 * close to softmax(Q / eta). Evaluation never adds noise. */
Test(planner, noise_target_tilts_the_noised_prior_while_training_only) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=64", "planner.nested=2",
                                            "planner.temperature=0.5", "planner.target=backup",
                                            "planner.noise_target=true", "planner.dirichlet_weight=1",
                                            "planner.dirichlet_alpha=100", NULL});
    int64_t goal;
    float ra[8];
    deterministic_grid(&f, &goal, ra);
    /* a prior far from uniform: the last policy layer's bias favours one action */
    const vb_linear *out = &f.m.policy.layer[f.m.policy.n - 1];
    f.P[out->b + (goal + 1) % 5] += 4.0f;
    root_buf rb;
    task_start_root(&rb);
    double pi[8], z = 0, zs = 0, tilt[8], soft[8];
    root_prior(&f, &rb, pi);
    double pmax = 0;
    for (int a = 0; a < 5; a++) pmax = pi[a] > pmax ? pi[a] : pmax;
    cr_assert_gt(pmax, 0.8, "the prior is peaked (%g)", pmax);
    for (int a = 0; a < 5; a++) z += tilt[a] = pi[a] * exp(ra[a] / 0.5), zs += soft[a] = exp(ra[a] / 0.5);
    for (int explore = 0; explore < 2; explore++) {
        char err[512];
        vb_planner_cfg pc = vb_planner_cfg_from(&f.cfg, explore);
        cr_assert_eq(vb_planner_create(&f.pl, vb_backend_cpu(), &f.m, &f.spec, &pc, 1, err, sizeof err), 0, "%s", err);
        vb_planner_prepare(f.pl, f.P);
        vb_rng rng;
        vb_rng_init(&rng, 1, 0);
        float q[8], v;
        vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
        for (int a = 0; a < 5; a++) {
            if (explore) /* Dir(100) over 5 actions: each share within ~15% of 1/5 */
                cr_assert_float_eq(q[a], soft[a] / zs, 0.3 * soft[a] / zs + 1e-6, "a=%d: %g vs %g", a, q[a], soft[a] / zs);
            else
                cr_assert_float_eq(q[a], tilt[a] / z, 1e-4, "a=%d: %g vs %g", a, q[a], tilt[a] / z);
        }
        if (!explore) vb_planner_destroy(f.pl);
    }
    destroy(&f);
}

/* root_actions: all starts one particle on each action, so Q-hat of an action
 * the prior almost never picks is estimated too: with K = A the one-step
 * backup is exact even for the goal action at prior probability ~1e-7,
 * which the policy-sampled root misses (its Q-hat falls back to V = 0). */
Test(planner, all_root_actions_estimate_every_action_the_prior_misses) {
    for (int all = 0; all < 2; all++) {
        fixture f;
        build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=5", "planner.nested=2",
                                                "planner.temperature=0.1",
                                                all ? "planner.root_actions=all" : "planner.root_actions=policy",
                                                NULL});
        int64_t goal;
        float ra[8];
        deterministic_grid(&f, &goal, ra);
        const vb_linear *pl = &f.m.policy.layer[f.m.policy.n - 1];
        f.P[pl->b + 2] = -14.0f; /* action 2 reaches the goal */
        make_planner(&f, 1);
        root_buf rb;
        task_start_root(&rb);
        double pi[8], z = 0, expect[8];
        root_prior(&f, &rb, pi);
        cr_assert_lt(pi[2], 1e-5);
        for (int a = 0; a < 5; a++) z += expect[a] = pi[a] * exp(ra[a] / 0.1);
        vb_rng rng;
        vb_rng_init(&rng, 3, 0);
        for (int rep = 0; rep < 20; rep++) {
            float q[8], v;
            vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
            if (all)
                for (int a = 0; a < 5; a++)
                    cr_assert_float_eq(q[a], expect[a] / z, 1e-4, "a=%d: %g vs %g", a, q[a], expect[a] / z);
            else /* the goal action is never simulated: its target stays near the prior */
                cr_assert_lt(q[2], 1e-4, "q=%g pi=%g", q[2], pi[2]);
        }
        cr_assert_gt(expect[2] / z, 1e-3, "the tilt makes the goal action visible only when it is simulated");
        destroy(&f);
    }
}

Test(planner, all_root_actions_need_the_backup_readout) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"planner.root_actions=all", "planner.target=weights", NULL});
    char verr[512];
    cr_assert_neq(vb_config_validate(&f.cfg, verr, sizeof verr), 0, "the config check refuses it too");
    cr_assert(strstr(verr, "planner.root_actions") != NULL, "%s", verr);
    char err[512];
    vb_planner_cfg pc = vb_planner_cfg_from(&f.cfg, false);
    cr_assert_neq(vb_planner_create(&f.pl, vb_backend_cpu(), &f.m, &f.spec, &pc, 1, err, sizeof err), 0);
    cr_assert(strstr(err, "planner.root_actions") != NULL, "%s", err);
    free(f.P);
}

Test(planner, one_step_weights_converge_to_pi_times_exp_advantage) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=20000", "planner.nested=1",
                                            "planner.temperature=1", "planner.target=weights",
                                            "planner.root_actions=policy", NULL});
    int64_t goal;
    float ra[8];
    deterministic_grid(&f, &goal, ra);
    make_planner(&f, 1);
    root_buf rb;
    task_start_root(&rb);
    vb_rng rng;
    vb_rng_init(&rng, 2, 0);
    float q[8], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    double pi[8], z = 0, expect[8];
    root_prior(&f, &rb, pi);
    for (int a = 0; a < 5; a++) z += expect[a] = pi[a] * exp(ra[a]);
    for (int a = 0; a < 5; a++) {
        double e = expect[a] / z;
        cr_assert_float_eq(q[a], e, 4 * sqrt(e / 20000.0) + 1e-3, "a=%d: %g vs %g", a, q[a], e);
    }
    destroy(&f);
}

/* q(m | phi) equal to the exact posterior after the last transition: with
 * Gaussian rewards r ~ N(m0, 1) and prior N(mu_p, s_p^2) on m0, the
 * posterior is N((mu_p / s_p^2 + r) / (1 / s_p^2 + 1), 1 / (1 / s_p^2 + 1)). */
Test(planner, exact_belief_gives_uniform_nested_weights) {
    fixture f;
    build(&f, "funcopt", (const char *[]){"planner.depth=1", "planner.particles=3", "planner.nested=16", NULL});
    for (int64_t c = 0; c < f.spec.reward_cells; c++) set_cell(&f, c, 1.0f, 0.0f);
    make_planner(&f, 1);
    root_buf rb;
    task_start_root(&rb);
    const double mu_p = 0.3, lv_p = log(0.5), r = 1.2;
    double prec = 1.0 / exp(lv_p) + 1.0, mu_post = (mu_p / exp(lv_p) + r) / prec;
    rb.phi_prev[0] = (float)mu_p, rb.phi_prev[1] = 0.0f, rb.phi_prev[2] = (float)lv_p, rb.phi_prev[3] = 0.0f;
    rb.phi[0] = (float)mu_post, rb.phi[1] = 0.0f, rb.phi[2] = (float)log(1.0 / prec), rb.phi[3] = 0.0f;
    rb.last_a[0] = 3;
    rb.last_r[0] = (float)r;
    rb.last_next[0] = 3.0f / 7.0f, rb.last_next[1] = 1.0f;
    vb_rng rng;
    vb_rng_init(&rng, 3, 0);
    float q[16], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    const float *w = vb_planner_last_root_weights(f.pl);
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 16; j++) cr_assert_float_eq(w[k * 16 + j], 1.0f / 16, 1e-4, "k=%d j=%d: %g", k, j, w[k * 16 + j]);
    /* and a belief that ignores the evidence is corrected: weights differ */
    memcpy(rb.phi, rb.phi_prev, sizeof rb.phi);
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    double lo = 1, hi = 0;
    for (int j = 0; j < 16; j++) lo = fmin(lo, w[j]), hi = fmax(hi, w[j]);
    cr_assert_gt(hi - lo, 0.01, "a wrong belief left the weights uniform");
    destroy(&f);
}

/* The last step entered cell c and missed; samples that put the goal at c
 * (m0 > 0: logit 30 m0) contradict it and get (numerically) zero weight. */
Test(planner, nested_particles_contradicting_the_last_observation_get_zero_weight) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=2", "planner.nested=64",
                                            "planner.dynamics=env", NULL});
    const vb_env_spec *s = &f.spec;
    for (int64_t c = 0; c < s->reward_cells; c++) set_cell(&f, c, 0.0f, -30.0f);
    float start[2] = {0, 0}, next[2];
    cr_assert_eq(vb_env_transition(s, start, 2, next), 0);
    int64_t cell = vb_env_reward_cell(s, start, 2, next);
    set_cell(&f, cell, 30.0f, 0.0f);
    make_planner(&f, 1);
    root_buf rb;
    after_one_step_root(&rb, start, next, 2, s->reward_levels[0]);
    vb_rng rng;
    vb_rng_init(&rng, 4, 0);
    float q[8], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    const float *w = vb_planner_last_root_weights(f.pl), *m = vb_planner_last_latents(f.pl);
    int contradicting = 0, consistent = 0;
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 64; j++) {
            float m0 = m[(k * 64 + j) * 2];
            if (m0 > 0.5f) {
                contradicting++;
                cr_assert_lt(w[k * 64 + j], 1e-6, "m0 = %g kept weight %g", m0, w[k * 64 + j]);
            } else if (m0 < 0.0f) {
                consistent++;
            }
        }
    cr_assert_gt(contradicting, 5);
    cr_assert_gt(consistent, 5);
    destroy(&f);
}

/* The nested weights, as the planner computes them, against the same formula in double
 * on the same samples: w_j proportional to p(r | m_j) q_prev(m_j) / q(m_j),
 * with Bernoulli log-odds v = scale m0 + bias at the cell read, for beliefs
 * from broad to tight (log-variances down to -12) and both reward levels. */
Test(planner, nested_weights_match_a_double_precision_reference) {
    /* current mu0, mu1, lv0, lv1; previous mu0, mu1, lv0, lv1 */
    const float beliefs[][8] = {{0.4f, -0.2f, 0.5f, -0.3f, 0.1f, 0.3f, 0.2f, 0.0f},
                                {0.4f, -0.2f, -2.0f, -3.0f, 0.1f, 0.3f, -1.0f, -2.5f},
                                {0.4f, -0.2f, -12.0f, -10.0f, 0.41f, -0.19f, -9.0f, -8.0f}};
    const int64_t K = 4, KO = 16, D = 2;
    for (int c = 0; c < 3; c++)
        for (int hit = 0; hit < 2; hit++) {
            fixture f;
            build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=4", "planner.nested=16", NULL});
            const vb_env_spec *s = &f.spec;
            float start[2] = {0, 0}, next[2];
            cr_assert_eq(vb_env_transition(s, start, 2, next), 0);
            const int64_t cell = vb_env_reward_cell(s, start, 2, next);
            for (int64_t k = 0; k < s->reward_cells; k++) set_cell(&f, k, 1.5f + 0.1f * (float)k, -0.5f);
            make_planner(&f, 1);
            root_buf rb;
            after_one_step_root(&rb, start, next, 2, s->reward_levels[hit]);
            memcpy(rb.phi, beliefs[c], sizeof(float) * 4);
            memcpy(rb.phi_prev, beliefs[c] + 4, sizeof(float) * 4);
            vb_rng rng;
            vb_rng_init(&rng, 11 + (uint64_t)c, 0);
            float q[8], v;
            vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
            const float *w = vb_planner_last_root_weights(f.pl), *m = vb_planner_last_latents(f.pl);
            const double scale = (double)(1.5f + 0.1f * (float)cell);
            double spread = 0;
            for (int64_t k = 0; k < K; k++) {
                double lw[16], mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < KO; j++) {
                    const float *z = m + (k * KO + j) * D;
                    double cur = 0, prev = 0;
                    for (int64_t i = 0; i < D; i++) {
                        const double e = (double)z[i] - rb.phi[i], ep = (double)z[i] - rb.phi_prev[i];
                        cur += -0.5 * (log(2 * M_PI) + rb.phi[D + i] + e * e * exp(-(double)rb.phi[D + i]));
                        prev += -0.5 * (log(2 * M_PI) + rb.phi_prev[D + i] + ep * ep * exp(-(double)rb.phi_prev[D + i]));
                    }
                    const double lo = scale * z[0] - 0.5, sp = lo > 0 ? lo + log1p(exp(-lo)) : log1p(exp(lo));
                    lw[j] = (hit ? lo : 0.0) - sp + prev - cur;
                    mx = fmax(mx, lw[j]);
                }
                for (int64_t j = 0; j < KO; j++) sum += (lw[j] = exp(lw[j] - mx));
                for (int64_t j = 0; j < KO; j++) {
                    const double ref = lw[j] / sum;
                    spread = fmax(spread, fabs(ref - 1.0 / (double)KO));
                    cr_assert_float_eq(w[k * KO + j], ref, 2e-5, "belief %d hit %d k=%lld j=%lld: %.8g vs %.8g", c, hit,
                                       (long long)k, (long long)j, w[k * KO + j], ref);
                }
            }
            cr_assert_gt(spread, 0.01, "belief %d: the weights came out uniform, so the comparison shows little", c);
            destroy(&f);
        }
}

Test(planner, systematic_resampling_is_unbiased_and_deterministic) {
    const double w[5] = {0.05, 0.4, 0.0, 0.3, 0.25};
    const int64_t n = 5;
    int32_t idx[5], again[5];
    double mean[5] = {0};
    vb_rng r;
    vb_rng_init(&r, 5, 0);
    const int trials = 20000;
    for (int t = 0; t < trials; t++) {
        double u = vb_rng_uniform_double(&r);
        vb_resample_systematic(w, n, u, idx);
        int count[5] = {0};
        for (int i = 0; i < 5; i++) count[idx[i]]++;
        for (int i = 0; i < 5; i++) {
            /* systematic resampling keeps every count within one of n w */
            cr_assert(count[i] >= (int)floor(n * w[i]) && count[i] <= (int)ceil(n * w[i] + 1e-12), "i=%d count %d", i,
                      count[i]);
            mean[i] += count[i];
        }
        vb_resample_systematic(w, n, u, again);
        cr_assert_eq(memcmp(idx, again, sizeof idx), 0);
    }
    for (int i = 0; i < 5; i++) cr_assert_float_eq(mean[i] / trials, n * w[i], 0.02, "i=%d", i);
}

Test(planner, one_particle_depth_zero_samples_the_policy) {
    fixture f;
    build(&f, "bandit", (const char *[]){"planner.depth=0", "planner.particles=1", "planner.target=weights",
                                         "planner.root_actions=policy", "env.arms=4", NULL});
    make_planner(&f, 1);
    root_buf rb;
    task_start_root(&rb);
    double pi[8], freq[8] = {0};
    root_prior(&f, &rb, pi);
    vb_rng rng;
    vb_rng_init(&rng, 6, 0);
    const int n = 20000;
    for (int t = 0; t < n; t++) {
        float q[8], v;
        vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
        int ones = 0;
        for (int a = 0; a < 4; a++) {
            if (q[a] == 1.0f) freq[a] += 1, ones++;
            else cr_assert_eq(q[a], 0.0f);
        }
        cr_assert_eq(ones, 1, "K=1 gives a one-hot target");
    }
    for (int a = 0; a < 4; a++) cr_assert_float_eq(freq[a] / n, pi[a], 4 * sqrt(pi[a] / n) + 1e-3, "a=%d", a);
    destroy(&f);
    /* the backup readout with D = 0 is the prior itself */
    build(&f, "bandit", (const char *[]){"planner.depth=0", "planner.particles=1", "env.arms=4", NULL});
    make_planner(&f, 1);
    root_prior(&f, &rb, pi);
    float q[8], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    for (int a = 0; a < 4; a++) cr_assert_float_eq(q[a], pi[a], 1e-6);
    destroy(&f);
}

/* Two steps with a resampling in between (period 1) and a policy prior that
 * is the same in every state. With backup_weights: prior, the resampled
 * particles are reweighted by their ancestry's twist, so Q-hat(a) estimates
 * the prior's returns: half the depth-0 return r0(a) and half the depth-1
 * return r0(a) + gamma E_pi[r1 | s1(a)] (V == 0). The twisted backup counts
 * the returns of the tilted paths instead, which is higher here. */
static void two_step_backup(const char *weights, double *dev_max) {
    fixture f;
    char bw[64];
    snprintf(bw, sizeof bw, "planner.backup_weights=%s", weights);
    build(&f, "gridworld", (const char *[]){"planner.depth=2", "planner.particles=80000", "planner.nested=1",
                                            "planner.resample_period=1", "planner.temperature=0.5",
                                            "planner.target=backup", "eval.rollout=planner", bw, NULL});
    /* pi(a) = softmax(bias): no dependence on the state or the belief */
    const vb_linear *pl = &f.m.policy.layer[f.m.policy.n - 1];
    memset(f.P + pl->w, 0, sizeof(float) * (size_t)(pl->in * pl->out));
    int64_t goal;
    float ra[8];
    deterministic_grid(&f, &goal, ra);
    make_planner(&f, 1);
    root_buf rb;
    task_start_root(&rb);
    vb_rng rng;
    vb_rng_init(&rng, 5, 0);
    float q[8], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    /* Q-hat from q = pi exp(Q / eta) / Z: log(q / pi) * eta = Q - const */
    double pi[8], Q[8], expect[8];
    root_prior(&f, &rb, pi);
    const vb_env_spec *s = &f.spec;
    const int A = (int)s->num_actions;
    const double gamma = f.cfg.env.gamma, eta = 0.5;
    float start[2] = {0, 0}, s1[2], s2[2];
    for (int a = 0; a < A; a++) {
        cr_assert_eq(vb_env_transition(s, start, a, s1), 0);
        double er1 = 0;
        for (int b = 0; b < A; b++) {
            cr_assert_eq(vb_env_transition(s, s1, b, s2), 0);
            er1 += pi[b] * (vb_env_reward_cell(s, s1, b, s2) == goal ? s->reward_levels[1] : s->reward_levels[0]);
        }
        expect[a] = ra[a] + 0.5 * gamma * er1;
        Q[a] = eta * log(q[a] / pi[a]);
    }
    /* compare up to the common constant: centre both on action 0 */
    *dev_max = 0;
    for (int a = 1; a < A; a++) {
        double d = fabs((Q[a] - Q[0]) - (expect[a] - expect[0]));
        if (d > *dev_max) *dev_max = d;
    }
    destroy(&f);
}

Test(planner, prior_backup_weights_estimate_the_prior_returns) {
    double dev_prior, dev_twisted;
    two_step_backup("prior", &dev_prior);
    two_step_backup("twisted", &dev_twisted);
    cr_log_info("two-step backup: prior off by %g, twisted by %g", dev_prior, dev_twisted);
    cr_assert_lt(dev_prior, 0.02, "prior-weighted Q-hat is off by %g", dev_prior);
    cr_assert_gt(dev_twisted, 0.1, "the twisted backup should count the tilted returns (off by only %g)", dev_twisted);
}

/* Evaluation's overrides reach the planner only when it does not explore. */
Test(planner, evaluation_overrides_apply_only_when_evaluating) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"planner.particles=16", "planner.root_actions=policy",
                                            "planner.backup_weights=twisted", "eval.particles=5", "eval.root_actions=all",
                                            "eval.backup_weights=prior", "eval.greedy_margin=0.5", "eval.depth=9",
                                            "eval.nested=7", "eval.temperature=3", "eval.rollout=argmax",
                                            "eval.backup_lambda=0.25", NULL});
    vb_planner_cfg ev = vb_planner_cfg_from(&f.cfg, false), tr = vb_planner_cfg_from(&f.cfg, true);
    cr_assert_eq(ev.K, 5);
    cr_assert_eq(ev.root_actions, VB_ROOT_ALL);
    cr_assert_eq(ev.backup_weights, VB_BACKUP_PRIOR);
    cr_assert_float_eq(ev.greedy_margin, 0.5, 1e-12);
    cr_assert_eq(ev.D, 9);
    cr_assert_eq(ev.KO, 7);
    cr_assert_float_eq(ev.eta, 3.0, 1e-12);
    cr_assert_eq(ev.rollout, VB_ROLLOUT_ARGMAX);
    cr_assert_float_eq(ev.backup_lambda, 0.25, 1e-12);
    cr_assert(!ev.explore);
    cr_assert_eq(tr.K, 16);
    cr_assert_eq(tr.root_actions, VB_ROOT_POLICY);
    cr_assert_eq(tr.backup_weights, VB_BACKUP_TWISTED);
    cr_assert_float_eq(tr.greedy_margin, 0.0, 1e-12);
    cr_assert_eq(tr.D, 4);
    cr_assert_eq(tr.KO, 4);
    cr_assert_float_eq(tr.eta, 1.0, 1e-12);
    cr_assert_eq(tr.rollout, VB_ROLLOUT_SAMPLE);
    cr_assert_float_eq(tr.backup_lambda, 1.0, 1e-12);
    cr_assert(tr.explore);
    char err[512];
    cr_assert_eq(vb_config_set(&f.cfg, "eval.particles=0", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_set(&f.cfg, "eval.root_actions=planner", err, sizeof err), 0, "%s", err);
    ev = vb_planner_cfg_from(&f.cfg, false);
    cr_assert_eq(ev.K, 16, "eval.particles 0 keeps planner.particles");
    cr_assert_eq(ev.root_actions, VB_ROOT_POLICY);
    free(f.P);
}

/* The greedy margin: with D = 1, every root action simulated and V == 0,
 * Q-hat(a) = r(a) exactly. The goal action beats the prior's mode by
 * r_hit - r_miss in Q-hat, so greedy keeps it under a smaller margin and
 * falls back to the mode under a larger one; with no margin the argmax of q*
 * stands. */
Test(planner, greedy_margin_keeps_the_prior_mode_unless_q_hat_clearly_beats_it) {
    int64_t goal;
    for (int pass = 0; pass < 3; pass++) {
        const char *margin[] = {"eval.greedy_margin=0", "eval.greedy_margin=0.5", "eval.greedy_margin=2", NULL};
        fixture f;
        build(&f, "gridworld", (const char *[]){"planner.depth=1", "planner.particles=5", "planner.nested=2",
                                                "planner.temperature=0.1", "planner.root_actions=all",
                                                margin[pass], NULL});
        float ra[8];
        deterministic_grid(&f, &goal, ra);
        const double gap = f.spec.reward_levels[1] - f.spec.reward_levels[0];
        make_planner(&f, 1);
        root_buf rb;
        task_start_root(&rb);
        double pi[8];
        root_prior(&f, &rb, pi);
        int32_t mode = 0, hit = -1;
        for (int32_t a = 0; a < 5; a++) {
            if (pi[a] > pi[mode]) mode = a;
            if (ra[a] == f.spec.reward_levels[1] && hit < 0) hit = a;
        }
        cr_assert_neq(hit, mode, "the prior's mode must miss the goal for this test");
        vb_rng rng;
        vb_rng_init(&rng, 5, 0);
        float q[8], v;
        vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
        int32_t best = 0;
        for (int32_t a = 1; a < 5; a++)
            if (q[a] > q[best]) best = a;
        cr_assert_eq(ra[best], f.spec.reward_levels[1], "q* puts its mass on an action that reaches the goal");
        int32_t g = vb_planner_greedy(f.pl, 0);
        if (pass == 0) cr_assert_eq(g, best, "no margin: the argmax of q* stands");
        if (pass == 1) cr_assert_eq(g, best, "Q-hat beats the mode by %g > 0.5", gap);
        if (pass == 2) cr_assert_eq(g, mode, "Q-hat beats the mode by %g < 2: the mode stays", gap);
        destroy(&f);
    }
}

/* planner.dynamics: learned on the permuted-moves gridworld. The state head
 * gives the last step's successor cell X the logit 30 m0 (through the same
 * ReLU pair as the decoder) and every other cell 0; rewards say nothing
 * (every cell a certain miss) and the belief did not move (phi = phi_prev),
 * so the nested weights are the head's likelihood of X alone: the samples
 * with m0 > 0.5 explain the step, those with m0 < -0.5 do not. The env's
 * exact transition, which this family lacks, is refused by name. */
Test(planner, learned_dynamics_weigh_nested_particles_by_the_state_head) {
    fixture f;
    build(&f, "gridworld", (const char *[]){"env.permute_moves=true", "planner.dynamics=auto", "planner.depth=1",
                                            "planner.particles=2", "planner.nested=64", NULL});
    cr_assert(f.m.d.has_state_head);
    const vb_env_spec *s = &f.spec;
    for (int64_t c = 0; c < s->reward_cells; c++) set_cell(&f, c, 0.0f, -30.0f);
    const vb_mlp *h = &f.m.state_dec;
    for (int i = 0; i < h->n; i++) {
        memset(f.P + h->layer[i].w, 0, sizeof(float) * (size_t)(h->layer[i].in * h->layer[i].out));
        memset(f.P + h->layer[i].b, 0, sizeof(float) * (size_t)h->layer[i].out);
    }
    const int64_t in0 = h->layer[0].in, m0 = f.m.d.obs + f.m.d.actions, h1 = h->layer[1].in, h2 = h->layer[2].in;
    f.P[h->layer[0].w + 0 * in0 + m0] = 1.0f;
    f.P[h->layer[0].w + 1 * in0 + m0] = -1.0f;
    f.P[h->layer[1].w + 0 * h1 + 0] = 1.0f;
    f.P[h->layer[1].w + 1 * h1 + 1] = 1.0f;
    const float from[2] = {0, 0}, to[2] = {0, 1};
    const int64_t X = vb_env_state_cell(s, to);
    f.P[h->layer[2].w + X * h2 + 0] = 30.0f;
    f.P[h->layer[2].w + X * h2 + 1] = -30.0f;
    make_planner(&f, 1);
    root_buf rb;
    after_one_step_root(&rb, from, to, 3, s->reward_levels[0]); /* whatever the action, the head decides */
    vb_rng rng;
    vb_rng_init(&rng, 5, 0);
    float q[8], v;
    vb_planner_run(f.pl, f.P, &rb.r, 1, &rng, q, &v);
    const float *w = vb_planner_last_root_weights(f.pl), *m = vb_planner_last_latents(f.pl);
    int explained = 0, unexplained = 0;
    for (int k = 0; k < 2; k++) {
        double on = 0;
        for (int j = 0; j < 64; j++) {
            float z = m[(k * 64 + j) * 2];
            if (z < -0.5f) {
                unexplained++;
                cr_assert_lt(w[k * 64 + j], 1e-6, "m0 = %g kept weight %g", z, w[k * 64 + j]);
            }
            if (z > 0.0f) on += w[k * 64 + j];
            explained += z > 0.5f;
        }
        cr_assert_gt(on, 0.99, "particle %d: %g of the weight on samples that explain the step", k, on);
    }
    cr_assert_gt(explained, 5);
    cr_assert_gt(unexplained, 5);
    destroy(&f);
    /* the env's transition does not exist for this family */
    build(&f, "gridworld", (const char *[]){"env.permute_moves=true", "planner.dynamics=env", NULL});
    char err[512];
    vb_planner_cfg pc = vb_planner_cfg_from(&f.cfg, false);
    cr_assert_neq(vb_planner_create(&f.pl, vb_backend_cpu(), &f.m, &f.spec, &pc, 1, err, sizeof err), 0);
    cr_assert(strstr(err, "task-independent"), "%s", err);
    free(f.P);
}

/* a and b plan one env one step into a task (from (0, 0) to (0, 1) by action
 * 2, reward r) to the same q* and V-hat, V-hat away from 0; both destroyed. */
static void plan_alike(fixture *a, fixture *b, float r) {
    make_planner(a, 1);
    make_planner(b, 1);
    const float from[2] = {0, 0}, to[2] = {0, 1};
    root_buf rb;
    after_one_step_root(&rb, from, to, 2, r);
    float qa[8], qb[8], va, vb;
    vb_rng ra, rb2;
    vb_rng_init(&ra, 8, 0);
    vb_rng_init(&rb2, 8, 0);
    vb_planner_run(a->pl, a->P, &rb.r, 1, &ra, qa, &va);
    vb_planner_run(b->pl, b->P, &rb.r, 1, &rb2, qb, &vb);
    for (int64_t k = 0; k < a->m.d.actions; k++) cr_assert_float_eq(qa[k], qb[k], 1e-6, "q[%lld]", (long long)k);
    cr_assert_float_eq(va, vb, 1e-6);
    cr_assert_gt(fabsf(va), 1e-4, "V-hat %g: no reward was imagined", va);
    destroy(a);
    destroy(b);
}

/* model.reward_decoder: categorical plans exactly as an independent decoder
 * whose logits are the categorical's per-cell log-odds: the planner reads a
 * softmax over the cells as one Bernoulli per cell (the goal at cell c with
 * probability p_c), in its imagined rewards and in its nested weights. */
Test(planner, a_categorical_decoder_plans_as_bernoullis_at_its_log_odds) {
    const char *cat[] = {"planner.depth=2", "planner.particles=16", "planner.nested=4",
                         "model.reward_decoder=categorical", NULL};
    fixture a, b;
    build(&a, "gridworld", cat);
    cat[3] = NULL;
    build(&b, "gridworld", cat);
    const int64_t C = a.spec.reward_cells;
    float *v = malloc(sizeof(float) * (size_t)C);
    for (int64_t c = 0; c < C; c++) v[c] = 0.2f * (float)(c % 5) - (c == 7 ? -2.0f : 0.0f);
    for (int64_t c = 0; c < C; c++) set_cell(&a, c, 0.0f, v[c]);
    vb_softmax_logodds(v, 1, C);
    double z = 0;
    for (int64_t c = 0; c < C; c++) z += 1.0 / (1.0 + exp(-(double)v[c]));
    cr_assert_float_eq(z, 1.0, 1e-5, "the log-odds are not one categorical's: probabilities sum to %g", z);
    for (int64_t c = 0; c < C; c++) set_cell(&b, c, 0.0f, v[c]);
    plan_alike(&a, &b, a.spec.reward_levels[0]);
    free(v);
}

/* model.decoder_obs: every nested sample decodes its cells from its row's
 * current state (and with model.decoder_reward the reward of the transition
 * into it). A decoder whose cells are v_c + w_c relu(input j) plans, one step
 * from a root at s = (0, 1) that came from (0, 0) with reward r, exactly as a
 * decoder without the observation whose cells are v_c + w_c: for j = s_y
 * (r a miss) the weights of the last transition and the imagined rewards
 * both read s, not the state before it (where relu(s_y) is 0); for j = r_{t-1}
 * (a hit, 1) they read the root's last reward. */
static void decoder_reads_the_row(bool reward) {
    const char *sets[] = {"planner.depth=1", "planner.particles=16", "planner.nested=4", "model.decoder_obs=true",
                          reward ? "model.decoder_reward=true" : NULL, NULL};
    fixture a, b;
    build(&a, "gridworld", sets);
    sets[3] = NULL;
    build(&b, "gridworld", sets);
    cr_assert_eq(a.m.d.dec_obs, a.m.d.obs + reward);
    cr_assert_eq(b.m.d.dec_obs, 0);
    /* the layouts differ in the decoder's first layer only: every other tensor of b copied into a */
    for (int i = 0; i < b.m.layout.n; i++) {
        const vb_tensor_info *tb = &b.m.layout.t[i], *ta = vb_layout_find(&a.m.layout, tb->name);
        cr_assert_not_null(ta, "%s", tb->name);
        if (strcmp(tb->name, "dec.reward.0.w") == 0) continue;
        cr_assert_eq(ta->count, tb->count, "%s", tb->name);
        memcpy(a.P + ta->offset, b.P + tb->offset, sizeof(float) * (size_t)tb->count);
    }
    const vb_mlp *dec = &a.m.reward_dec;
    const int64_t C = a.spec.reward_cells, D = a.m.d.latent, in0 = dec->layer[0].in;
    cr_assert_eq(in0, D + a.m.d.dec_obs);
    /* h2 = relu(s_y) or relu(r_{t-1}), carried through the second layer */
    a.P[dec->layer[0].w + 2 * in0 + D + (reward ? a.m.d.obs : 1)] = 1.0f;
    a.P[dec->layer[1].w + 2 * dec->layer[1].in + 2] = 1.0f;
    const vb_linear *la = &dec->layer[dec->n - 1];
    for (int64_t c = 0; c < C; c++) {
        float v = 0.3f * (float)(c % 4) - 1.5f, w = c == 5 ? 4.0f : -0.5f * (float)(c % 3);
        set_cell(&a, c, 0.0f, v);
        set_cell(&b, c, 0.0f, v + w);
        a.P[la->w + c * la->in + 2] = w;
    }
    plan_alike(&a, &b, a.spec.reward_levels[reward ? 1 : 0]);
}

Test(planner, the_observation_in_the_decoder_is_the_rows_current_state) { decoder_reads_the_row(false); }
Test(planner, the_reward_in_the_decoder_is_the_rows_last_reward) { decoder_reads_the_row(true); }

/* planner.threads: the environments split into blocks planned on threads
 * give, env for env, exactly what a one-thread planner gives on each block's
 * environments alone (no shared writes between blocks; env b draws from
 * rng[b] only). Five envs on two threads: blocks of 3 and 2. */
Test(planner, threads_plan_each_block_as_one_thread_would) {
    enum { B = 5, OBS = 64, CARRY = 256, LAT = 16 };
    char err[512];
    vb_config cfg;
    vb_config_defaults(&cfg);
    const char *sets[] = {"env.name=gridworld", "run.algo=varibased", "model.latent=3", "model.hidden=16",
                          "model.embed=8", "model.mlp_hidden=16", "planner.particles=8", "planner.depth=3",
                          "planner.nested=2", "planner.dynamics=learned", "planner.outcomes=sampled"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        cr_assert_eq(vb_config_set(&cfg, sets[i], err, sizeof err), 0, "%s", err);
    vb_env_spec spec;
    vb_model m;
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err), 0, "%s", err);
    const vb_model_dims *d = &m.d;
    cr_assert(d->obs <= OBS / B && d->carry <= CARRY / B && 2 * d->latent <= LAT / B * 2);
    float *P = calloc((size_t)m.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&m, P, 3), 0);
    /* roots: random observations, carries and beliefs, a step into the task */
    static float obs[OBS], carry[CARRY], phi[2 * LAT], last_r[B];
    static int32_t last_a[B];
    static int64_t t[B], ep[B];
    vb_rng r;
    vb_rng_init(&r, 1, 0);
    for (int i = 0; i < OBS; i++) obs[i] = vb_rng_uniform(&r);
    for (int i = 0; i < CARRY; i++) carry[i] = vb_rng_normal(&r);
    for (int i = 0; i < 2 * LAT; i++) phi[i] = 0.5f * vb_rng_normal(&r);
    for (int b = 0; b < B; b++) last_a[b] = (int32_t)vb_rng_below(&r, (uint32_t)d->actions), t[b] = 1 + b;
    vb_planner_root root = {obs, carry, phi, phi, obs, last_a, last_r, obs, t, ep, NULL};

    vb_planner_cfg pc = vb_planner_cfg_from(&cfg, true);
    vb_planner *one, *two;
    cr_assert_eq(vb_planner_create(&one, vb_backend_cpu(), &m, &spec, &pc, B, err, sizeof err), 0, "%s", err);
    pc.threads = 2;
    cr_assert_eq(vb_planner_create(&two, vb_backend_cpu(), &m, &spec, &pc, B, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_planner_threads(one), 1);
    cr_assert_eq(vb_planner_threads(two), 2);
    vb_planner_prepare(one, P);
    vb_planner_prepare(two, P);
    vb_rng rng1[B], rng2[B];
    for (int b = 0; b < B; b++) vb_rng_init(&rng1[b], 5, (uint64_t)b), rng2[b] = rng1[b];
    float q1[B * 8], v1[B], q2[B * 8], v2[B];
    int32_t g1[B];
    cr_assert_leq(d->actions, 8);
    /* the one-thread planner on each block alone: envs [0, 3) and [3, 5) */
    const int64_t A = d->actions, L2 = 2 * d->latent, cuts[3] = {0, 3, B};
    for (int k = 0; k < 2; k++) {
        const int64_t b0 = cuts[k], n = cuts[k + 1] - cuts[k];
        vb_planner_root rb = {obs + b0 * d->obs, carry + b0 * d->carry, phi + b0 * L2, phi + b0 * L2,
                              obs + b0 * d->obs, last_a + b0, last_r + b0, obs + b0 * d->obs, t + b0, ep + b0, NULL};
        vb_planner_run(one, P, &rb, n, rng1 + b0, q1 + b0 * A, v1 + b0);
        for (int64_t b = 0; b < n; b++) g1[b0 + b] = vb_planner_greedy(one, b);
    }
    vb_planner_run(two, P, &root, B, rng2, q2, v2);
    cr_assert_eq(memcmp(q1, q2, sizeof(float) * (size_t)(B * A)), 0, "q-hat* differs");
    cr_assert_eq(memcmp(v1, v2, sizeof v1), 0, "V-hat differs");
    for (int b = 0; b < B; b++) {
        cr_assert_eq(vb_planner_greedy(two, b), g1[b], "env %d", b);
        cr_assert_eq(rng1[b].pos, rng2[b].pos, "env %d drew %llu words, alone %llu", b,
                     (unsigned long long)rng2[b].pos, (unsigned long long)rng1[b].pos);
    }
    /* the envs do differ, so the comparison above is not between constants */
    int differ = 0;
    for (int b = 1; b < B; b++) differ |= v2[b] != v2[0];
    cr_assert(differ, "every env got the same V-hat");
    vb_planner_destroy(one);
    vb_planner_destroy(two);
    free(P);
}
