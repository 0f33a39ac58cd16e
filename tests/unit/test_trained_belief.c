/* A trained agent's decoded belief (vb_agent_belief, what `--trace` writes
 * beside the exact posterior): the decoder's hit probability (Bernoulli
 * families) or mean reward (Gaussian ones) per reward cell, averaged over the
 * latent's draws, for every env; reading it changes nothing the agent does;
 * an agent without a belief says so. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/envs/env.h"
#include "common/model/model.h"
#include "common/params/params.h"
#include "common/policy/agent.h"
#include "common/policy/trained.h"
#include "support.h"

typedef struct fixture {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    float *P;
    vb_env_batch *env;
    vb_agent *agent;
} fixture;

/* config with the --set overrides in sets (NULL-terminated, or NULL) */
static void setup_with(fixture *f, const char *config, const char *const *sets, int64_t n) {
    char path[1024], err[512];
    vb_config_defaults(&f->cfg);
    cr_assert_eq(vb_config_load_file(&f->cfg, vb_test_path(config, path, sizeof path), err, sizeof err), 0, "%s", err);
    for (int i = 0; sets && sets[i]; i++) cr_assert_eq(vb_config_set(&f->cfg, sets[i], err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(&f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&f->m, &f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    f->P = calloc((size_t)f->m.layout.total, sizeof(float));
    vb_model_init(&f->m, f->P, 3);
    vb_env_params ep = vb_env_params_from(&f->cfg);
    cr_assert_eq(vb_env_batch_create(&f->env, &ep, n, 5, 0, err, sizeof err), 0, "%s", err);
}

static void setup(fixture *f, const char *config, int64_t n) { setup_with(f, config, NULL, n); }

static void make_agent(fixture *f) {
    char err[512];
    cr_assert_eq(vb_trained_agent_create(&f->agent, &f->m, f->P, true, NULL, f->env, 5, 0, err, sizeof err), 0, "%s",
                 err);
}

static void teardown(fixture *f) {
    vb_agent_destroy(f->agent);
    vb_env_batch_destroy(f->env);
    free(f->P);
}

/* The reward decoder's last layer set to weights 0 and bias v: whatever the
 * latent, every draw decodes to v. */
static void constant_decoder(fixture *f, const float *v) {
    const vb_linear *last = &f->m.reward_dec.layer[f->m.reward_dec.n - 1];
    memset(f->P + last->w, 0, sizeof(float) * (size_t)(last->in * last->out));
    memcpy(f->P + last->b, v, sizeof(float) * (size_t)last->out);
}

/* Steps every env once with the agent's own actions. */
static void step(fixture *f, int32_t *actions) {
    vb_agent_act(f->agent, f->env, actions);
    cr_assert_eq(vb_env_step(f->env, actions), VB_ENV_OK);
    vb_agent_observe(f->agent, f->env, actions);
    for (int64_t i = 0; i < f->env->n; i++)
        if (f->env->done[i] && !f->env->task_done[i]) cr_assert_eq(vb_env_reset_episode(f->env, i), VB_ENV_OK);
}

Test(trained_belief, is_the_decoders_hit_probability_and_mean_per_cell) {
    const char *configs[] = {"configs/gridworld.yaml", "configs/funcopt.yaml"};
    for (int c = 0; c < 2; c++) {
        fixture f;
        setup(&f, configs[c], 6);
        const int64_t C = f.spec.reward_cells, n = f.env->n;
        const bool bernoulli = f.spec.reward_kind == VB_REWARD_BERNOULLI;
        float *bias = malloc(sizeof(float) * (size_t)C), *cells = malloc(sizeof(float) * (size_t)(n * C));
        for (int64_t k = 0; k < C; k++) bias[k] = 0.05f * (float)(k - C / 2);
        constant_decoder(&f, bias);
        make_agent(&f);
        int32_t actions[6];
        for (int t = 0; t < 5; t++) {
            step(&f, actions);
            cr_assert_eq(vb_agent_belief(f.agent, cells), 0);
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = 0; k < C; k++) {
                    const double want = bernoulli ? 1.0 / (1.0 + exp(-(double)bias[k])) : bias[k];
                    cr_assert_float_eq(cells[i * C + k], want, 1e-6, "%s env %lld cell %lld: %g against %g",
                                       configs[c], (long long)i, (long long)k, cells[i * C + k], want);
                }
        }
        free(bias);
        free(cells);
        teardown(&f);
    }
}

/* model.reward_decoder: categorical: the belief is softmax(bias) per cell,
 * and so are the decoded cells the policy reads with model.policy_cells; a
 * family with Gaussian rewards is refused by name. */
Test(trained_belief, a_categorical_decoder_is_its_softmax_per_cell) {
    fixture f;
    setup_with(&f, "configs/gridworld.yaml",
               (const char *const[]){"model.reward_decoder=categorical", "model.policy_cells=true", NULL}, 3);
    const int64_t C = f.spec.reward_cells, n = f.env->n;
    float *bias = malloc(sizeof(float) * (size_t)C), *cells = malloc(sizeof(float) * (size_t)(n * C));
    double *want = malloc(sizeof(double) * (size_t)C), z = 0;
    for (int64_t k = 0; k < C; k++) z += want[k] = exp(bias[k] = 0.3f * (float)(k % 7) - 0.4f * (float)(k == 3));
    for (int64_t k = 0; k < C; k++) want[k] /= z;
    constant_decoder(&f, bias);
    make_agent(&f);
    int32_t actions[3];
    step(&f, actions);
    cr_assert_eq(vb_agent_belief(f.agent, cells), 0);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < C; k++)
            cr_assert_float_eq(cells[i * C + k], want[k], 1e-6, "env %lld cell %lld: %g against %g", (long long)i,
                               (long long)k, cells[i * C + k], want[k]);
    /* the policy's features end with the same C probabilities */
    const vb_model_dims *d = &f.m.d;
    float *x = calloc((size_t)d->in, sizeof(float)), *phi = calloc((size_t)(2 * d->latent), sizeof(float));
    float *feat = calloc((size_t)d->feat, sizeof(float)), *o = calloc((size_t)d->hidden, sizeof(float));
    float *ws = calloc((size_t)vb_model_features_ws_floats(&f.m, 1), sizeof(float));
    vb_model_features(vb_backend_cpu(), &f.m, f.P, feat, x, o, phi, ws, 1);
    for (int64_t k = 0; k < C; k++)
        cr_assert_float_eq(feat[d->feat - C + k], want[k], 1e-6, "feature of cell %lld: %g against %g", (long long)k,
                           feat[d->feat - C + k], want[k]);
    free(x), free(phi), free(feat), free(o), free(ws);
    free(bias), free(cells), free(want);
    teardown(&f);
    /* Gaussian rewards have no one cell holding the reward */
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    char path[1024], err[512];
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/funcopt.yaml", path, sizeof path), err, sizeof err), 0);
    cr_assert_eq(vb_config_set(&cfg, "model.reward_decoder=categorical", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "model.reward_decoder") && strstr(err, "Gaussian"), "%s", err);
}

/* model.decoder_obs: the belief and the policy's decoded cells read each
 * env's current observation. A decoder whose cells are b_k + w_k s_x (s_x,
 * the column, is >= 0, so the ReLUs pass it) gives every env the row of the
 * cell it stands in (the permuted moves send the envs apart). */
Test(trained_belief, a_decoder_reading_the_observation_decodes_each_envs_state) {
    fixture f;
    setup_with(&f, "configs/gridworld.yaml",
               (const char *const[]){"model.decoder_obs=true", "model.policy_cells=true", "env.permute_moves=true", NULL},
               6);
    const vb_model_dims *d = &f.m.d;
    const vb_mlp *dec = &f.m.reward_dec;
    const int64_t C = f.spec.reward_cells, n = f.env->n, D = d->latent, O = d->obs;
    cr_assert_eq(d->dec_obs, O);
    cr_assert_eq(dec->layer[0].in, D + O);
    for (int i = 0; i < dec->n; i++) {
        memset(f.P + dec->layer[i].w, 0, sizeof(float) * (size_t)(dec->layer[i].in * dec->layer[i].out));
        memset(f.P + dec->layer[i].b, 0, sizeof(float) * (size_t)dec->layer[i].out);
    }
    f.P[dec->layer[0].w + D] = 1.0f; /* unit 0 = relu(s_x), passed on by every hidden layer */
    for (int i = 1; i < dec->n - 1; i++) f.P[dec->layer[i].w] = 1.0f;
    const vb_linear *last = &dec->layer[dec->n - 1];
    float *w = malloc(sizeof(float) * (size_t)C), *b = malloc(sizeof(float) * (size_t)C);
    float *cells = malloc(sizeof(float) * (size_t)(n * C));
    for (int64_t k = 0; k < C; k++) {
        f.P[last->w + k * last->in] = w[k] = 0.4f * (float)(k % 5) - 0.8f;
        f.P[last->b + k] = b[k] = 0.1f * (float)(k % 3);
    }
    make_agent(&f);
    int32_t actions[6];
    float sx0[6];
    bool differ = false;
    for (int t = 0; t < 6; t++) {
        /* the belief acted on at this step: the encoder's and the decoder's input is the state it was in */
        for (int64_t i = 0; i < n; i++) sx0[i] = f.env->obs[i * O];
        step(&f, actions);
        cr_assert_eq(vb_agent_belief(f.agent, cells), 0);
        for (int64_t i = 0; i < n; i++) {
            const float sx = sx0[i];
            differ |= sx != sx0[0];
            for (int64_t k = 0; k < C; k++) {
                const double want = 1.0 / (1.0 + exp(-((double)b[k] + (double)w[k] * sx)));
                cr_assert_float_eq(cells[i * C + k], want, 1e-6, "step %d env %lld (x %g) cell %lld: %g against %g",
                                   t, (long long)i, sx, (long long)k, cells[i * C + k], want);
            }
        }
    }
    cr_assert(differ, "every env stood at the same x: the test would not tell the envs' rows apart");
    /* the policy's features: the same cells at the row's observation */
    float *x = calloc((size_t)d->in, sizeof(float)), *phi = calloc((size_t)(2 * D), sizeof(float));
    float *feat = calloc((size_t)d->feat, sizeof(float)), *o = calloc((size_t)d->hidden, sizeof(float));
    float *ws = calloc((size_t)vb_model_features_ws_floats(&f.m, 1), sizeof(float));
    const float s[2] = {3.0f, 1.0f};
    vb_model_input(&f.m, x, s, -1, 0.0f, 0.0f, 0);
    vb_model_features(vb_backend_cpu(), &f.m, f.P, feat, x, o, phi, ws, 1);
    for (int64_t k = 0; k < C; k++) {
        const double want = 1.0 / (1.0 + exp(-((double)b[k] + (double)w[k] * 3.0)));
        cr_assert_float_eq(feat[d->feat - C + k], want, 1e-6, "feature of cell %lld: %g against %g", (long long)k,
                           feat[d->feat - C + k], want);
    }
    free(x), free(phi), free(feat), free(o), free(ws);
    free(w), free(b), free(cells);
    teardown(&f);
}

Test(trained_belief, reading_it_changes_no_action_and_it_moves_with_the_history) {
    fixture a, b;
    setup(&a, "configs/gridworld.yaml", 8);
    setup(&b, "configs/gridworld.yaml", 8);
    make_agent(&a);
    make_agent(&b);
    const int64_t C = a.spec.reward_cells, n = a.env->n, H = a.spec.steps_per_task;
    float *cells = malloc(sizeof(float) * (size_t)(n * C)), *first = malloc(sizeof(float) * (size_t)(n * C));
    int32_t xa[8], xb[8];
    double moved = 0;
    for (int64_t t = 0; t < H; t++) {
        step(&a, xa);
        step(&b, xb);
        cr_assert_eq(vb_agent_belief(a.agent, cells), 0);
        if (t == 0) memcpy(first, cells, sizeof(float) * (size_t)(n * C));
        for (int64_t i = 0; i < n * C; i++) {
            cr_assert(cells[i] > 0.0f && cells[i] < 1.0f, "a hit probability of %g", cells[i]);
            moved += fabs((double)cells[i] - first[i]);
        }
        for (int64_t i = 0; i < n; i++) cr_assert_eq(xa[i], xb[i], "step %lld env %lld", (long long)t, (long long)i);
    }
    cr_assert_gt(moved, 0.0, "the decoded belief never changed over a task");
    free(cells);
    free(first);
    teardown(&a);
    teardown(&b);
}

Test(trained_belief, an_agent_without_a_belief_says_so) {
    fixture f;
    setup(&f, "configs/gridworld_rl2.yaml", 2);
    make_agent(&f);
    float cells[64];
    cr_assert_eq(vb_agent_belief(f.agent, cells), -1);
    teardown(&f);
}
