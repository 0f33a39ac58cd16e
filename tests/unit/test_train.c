/* Training end to end in --serial mode: a fixed dataset is overfitted, a run
 * improves on its start, checkpoint -> resume is bit-exact, signals stop a
 * run with a checkpoint, corrupted checkpoints fall back to older ones. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/train/acting.h"
#include "common/base/checkpoint.h"
#include "common/eval/evaluate.h"
#include "common/train/learning.h"
#include "common/base/log.h"
#include "common/base/tboard.h"
#include "common/nn/arena.h"
#include "common/params/params.h"
#include "support.h"
#include "test_distributed_support.h"

static char root[64];
static void make_root(void) {
    snprintf(root, sizeof root, "/tmp/vb_train_XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}
static void remove_root(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

static void sink_into(const vb_chunk *c, void *ctx) {
    char why[256];
    cr_assert_eq(vb_learning_insert(ctx, c, why, sizeof why), 0, "%s", why);
}

/* a chunk the learner must drop as too stale */
static void sink_stale(const vb_chunk *c, void *ctx) {
    char why[256];
    cr_assert_eq(vb_learning_insert(ctx, c, why, sizeof why), 1, "%s", why);
}

/* A fixed replay of 8 windows, updated 300 times with no rate limit: the
 * belief's reconstruction and the value regression fit the data. */
/* A learner and an 8-slot actor on the smoke config with the base settings,
 * then the extra --set assignments; acting has taken `steps` steps (0: one
 * window) into the learner's replay. */
typedef struct fixed {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    float *P;
    vb_learning *l;
    vb_acting a;
} fixed;

/* The smoke config with the base, then the extra --set assignments (extra
 * may be NULL), its env spec, and a model with initialised weights in *P. */
static void smoke_model(vb_config *cfg, vb_env_spec *spec, vb_model *m, float **P, const char *const *base,
                        const char *const *extra) {
    char path[1024], err[512];
    vb_config_defaults(cfg);
    cr_assert_eq(vb_config_load_file(cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    for (int i = 0; base[i]; i++) cr_assert_eq(vb_config_set(cfg, base[i], err, sizeof err), 0, "%s", err);
    for (int i = 0; extra && extra[i]; i++) cr_assert_eq(vb_config_set(cfg, extra[i], err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(cfg, spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(m, cfg, spec, err, sizeof err), 0, "%s", err);
    *P = calloc((size_t)m->layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(m, *P, 1), 0);
}

static void fixed_setup(fixed *f, const char *const *base, const char *const *extra, int steps) {
    char err[512];
    smoke_model(&f->cfg, &f->spec, &f->m, &f->P, base, extra);
    const vb_backend *be = vb_backend_cpu();
    vb_learning_cfg lp = vb_learning_cfg_from(&f->cfg);
    cr_assert_eq(vb_learning_create(&f->l, be, &f->m, &lp, &f->spec, f->P, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_acting_create_from_config(&f->a, be, &f->m, &f->cfg, 8, 1, 0, err, sizeof err), 0, "%s", err);
    vb_acting_set_params(&f->a, f->P, 0);
    if (steps <= 0) steps = (int)f->cfg.learner.window;
    for (int s = 0; s < steps; s++) cr_assert_eq(vb_acting_step(&f->a, sink_into, f->l, err, sizeof err), 0);
}

static void fixed_free(fixed *f) {
    vb_acting_destroy(&f->a);
    vb_learning_destroy(f->l);
    free(f->P);
}

/* updates > 0: updates after the first; st holds the last. spread, if set,
 * receives the variance of loss_recon over the updates after the first. */
static void train_fixed_impl(const char *const *extra, int updates, vb_update_stats *first, vb_update_stats *st,
                             double *spread, double *ret, double *value_tail);
static void train_fixed(const char *const *extra, int updates, vb_update_stats *first, vb_update_stats *st,
                        double *spread) {
    train_fixed_impl(extra, updates, first, st, spread, NULL, NULL);
}
/* train_fixed, with ret the data's mean discounted return (data_return) and
 * value_tail the value head's batch mean averaged over the last quarter of
 * the updates (one update's mean swings with Adam's steps on a fixed batch). */
static void train_fixed_returns(const char *const *extra, int updates, vb_update_stats *first, vb_update_stats *st,
                                double *ret, double *value_tail) {
    train_fixed_impl(extra, updates, first, st, NULL, ret, value_tail);
}
static double data_return(const vb_learning *l, double gamma);
static void train_fixed_impl(const char *const *extra, int updates, vb_update_stats *first, vb_update_stats *st,
                             double *spread, double *ret, double *value_tail) {
    char err[512];
    const char *base[] = {"run.algo=varibad", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0", "learner.lr=0.003",
                          "learner.entropy_coef=0", "learner.max_policy_lag=100000", NULL};
    fixed f;
    fixed_setup(&f, base, extra, 0);
    vb_learning *l = f.l;
    cr_assert_eq(vb_learning_update(l, first, err, sizeof err), 0, "%s", err);
    double s1 = 0, s2 = 0, tail = 0;
    const int tail_from = updates - updates / 4;
    for (int u = 0; u < updates; u++) {
        cr_assert_eq(vb_learning_update(l, st, err, sizeof err), 0, "%s", err);
        s1 += st->loss_recon;
        s2 += st->loss_recon * st->loss_recon;
        if (u >= tail_from) tail += st->value_mean;
    }
    if (spread) *spread = s2 / updates - (s1 / updates) * (s1 / updates);
    if (value_tail) *value_tail = tail / (double)(updates - tail_from);
    if (ret) *ret = data_return(l, f.cfg.env.gamma);
    fixed_free(&f);
}

/* The mean over every step of the fixed replay of its discounted return to
 * the end of its task, from the chunks' rewards alone (each window holds one
 * whole task here, so nothing is bootstrapped). */
static double data_return(const vb_learning *l, double gamma) {
    const vb_replay *rp = vb_learning_replay((vb_learning *)l);
    const vb_chunk_layout *cl = &rp->cl;
    double sum = 0;
    int64_t n = 0;
    for (int64_t w = 0; w < rp->size; w++) {
        const float *c = rp->data + w * cl->floats;
        cr_assert_neq(c[cl->task_done + cl->L - 1], 0.0f, "window %lld does not end its task", (long long)w);
        double g = 0;
        for (int64_t t = cl->L - 1; t >= 0; t--) {
            if (t < cl->L - 1) cr_assert_eq(c[cl->task_done + t], 0.0f, "window %lld holds two tasks", (long long)w);
            g = c[cl->reward + t] + gamma * g;
            sum += g;
            n++;
        }
    }
    return sum / (double)n;
}

/* learner.lr_decay_start: the run's updates follow the rate it sets, from
 * run.total_env_steps (samples per insert 2, 8 windows of 10 steps, 8000 steps:
 * 201 updates, decay from update 100). */
Test(train, the_learning_rate_holds_then_decays_to_zero_over_the_run) {
    char err[512];
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=2", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.lr=0.01", "learner.lr_schedule=linear",
                          "learner.lr_decay_start=0.5", "run.total_env_steps=8000", "learner.max_policy_lag=100000",
                          NULL};
    fixed f;
    fixed_setup(&f, base, NULL, 0);
    const int total = 201, start = 100;
    for (int u = 0; u < total + 3; u++) {
        vb_update_stats st;
        cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
        double want = u < start ? 0.01 : 0.01 * fmax(0.0, 1.0 - (double)(u - start) / (double)(total - start));
        cr_assert_float_eq(st.lr, want, 1e-8, "update %d: lr %g, expected %g", u, st.lr, want);
    }
    fixed_free(&f);
}

Test(train, overfits_a_fixed_batch) {
    vb_update_stats first, st;
    train_fixed(NULL, 300, &first, &st, NULL);
    cr_assert_lt(st.loss_recon, 0.5 * first.loss_recon, "reconstruction %g -> %g", first.loss_recon, st.loss_recon);
    cr_assert_lt(st.loss_value, 0.5 * first.loss_value, "value loss %g -> %g", first.loss_value, st.loss_value);
    cr_assert_gt(st.elbo, first.elbo);
}

/* VariBASeD with the task's labels as the ELBO's reconstruction and
 * lambda-returns as the value target: both losses fit a fixed batch. With
 * lambda 1 and windows that hold whole tasks the target is the discounted
 * return of the data, which does not move with the value head, so the value's
 * batch mean settles on the returns' mean. */
Test(train, varibased_fits_task_labels_and_lambda_returns) {
    vb_update_stats first, st;
    double ret = 0, value = 0;
    train_fixed_returns((const char *[]){"run.algo=varibased", "learner.elbo_decode=task",
                                         "learner.value_target=lambda", "learner.lambda=1", NULL},
                        1500, &first, &st, &ret, &value);
    /* the reward head starts at the prior (0.377 nats per cell on the 3x3 grid) */
    cr_assert_lt(st.loss_recon, 0.65 * first.loss_recon, "reconstruction %g -> %g", first.loss_recon, st.loss_recon);
    cr_assert_lt(st.loss_value, 0.5 * first.loss_value, "value loss %g -> %g", first.loss_value, st.loss_value);
    cr_log_info("value %g (last update %g), return %g, planner V-hat %g", value, st.value_mean, st.return_mean,
                st.planner_value_mean);
    /* the returns GAE computed are the data's, and the value head fits them */
    cr_assert_float_eq(st.return_mean, ret, 1e-4 * fabs(ret) + 1e-5, "GAE's returns %g, the data's %g",
                       st.return_mean, ret);
    cr_assert_float_eq(value, ret, 0.05 * fabs(ret) + 0.02, "value %g against the data's return %g", value, ret);
    cr_assert_gt(st.elbo, first.elbo);
}

/* The reward head starts at the env's prior: on the 5x5 grid the goal is
 * uniform over 21 cells, so before any update decoding the task's labels
 * costs about -(log(1/21) + 24 log(20/21)) / 25 = 0.169 nats per cell (a head
 * starting at a logit of 0 costs log 2 = 0.69). */
Test(train, reward_head_starts_at_the_task_prior) {
    vb_update_stats first, st;
    train_fixed((const char *[]){"run.algo=varibased", "learner.elbo_decode=task", "env.grid_size=5",
                                 "env.episode_length=15", NULL},
                0, &first, &st, NULL);
    const double q = 1.0 / 21.0, prior = -(log(q) + 24.0 * log(1.0 - q)) / 25.0;
    cr_assert_float_eq(first.loss_recon, prior, 0.02, "first reconstruction %g, the prior's %g", first.loss_recon,
                       prior);
}

/* PPO epochs: the first pass over a batch acts with the behaviour weights
 * (ratio 1, approximate KL 0); later passes move the policy away from them. */
Test(train, ppo_epochs_take_several_passes_over_a_batch) {
    vb_update_stats first, st;
    train_fixed((const char *[]){"learner.ppo_epochs=1", NULL}, 0, &first, &st, NULL);
    cr_assert_float_eq(first.approx_kl, 0.0, 1e-6, "one pass: approximate KL %g", first.approx_kl);
    train_fixed((const char *[]){"learner.ppo_epochs=4", NULL}, 0, &first, &st, NULL);
    cr_assert_gt(fabs(first.approx_kl), 1e-5, "the fourth pass still acts like the behaviour policy");
}

/* With the weights held still (lr 0), the reconstruction term is a Monte
 * Carlo estimate over learner.elbo_samples draws of m: 16 samples spread it
 * much less than one. */
Test(train, elbo_samples_average_the_reconstruction) {
    vb_update_stats first, st;
    double one, many;
    train_fixed((const char *[]){"learner.lr=0", "learner.elbo_samples=1", NULL}, 40, &first, &st, &one);
    train_fixed((const char *[]){"learner.lr=0", "learner.elbo_samples=16", NULL}, 40, &first, &st, &many);
    cr_log_info("loss_recon variance: %g with one sample, %g with 16", one, many);
    cr_assert_gt(one, 0.0);
    cr_assert_lt(many, 0.25 * one, "variance %g with 16 samples against %g with one", many, one);
}

/* How far the parameters at idx[0..n) move, summed, over 3 updates. */
static double moved_by_updates(fixed *f, const int64_t *idx, int64_t n) {
    char err[512];
    float *before = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) before[i] = vb_learning_params(f->l)[idx[i]];
    vb_update_stats st;
    for (int u = 0; u < 3; u++) cr_assert_eq(vb_learning_update(f->l, &st, err, sizeof err), 0, "%s", err);
    double moved = 0;
    for (int64_t i = 0; i < n; i++) moved += fabs(vb_learning_params(f->l)[idx[i]] - before[i]);
    free(before);
    return moved;
}

/* model.policy_hidden: the policy and value heads read (s, tau, mu, logvar, o).
 * With the ELBO weighted out, the encoder's GRU moves under the RL losses only
 * when model.rl_grad_to_encoder lets their gradient through the o part. */
static double gru_moved_by_rl(bool to_encoder) {
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0", "learner.elbo_coef=0",
                          "learner.max_policy_lag=100000", "model.policy_hidden=true", NULL};
    fixed f;
    fixed_setup(&f, base, (const char *[]){to_encoder ? "model.rl_grad_to_encoder=true" : "model.rl_grad_to_encoder=false", NULL},
                0);
    const vb_model_dims *d = &f.m.d;
    cr_assert(d->policy_hidden);
    cr_assert_eq(d->feat, d->obs + 1 + 2 * d->latent + d->hidden);
    /* the features carry o after (mu, logvar) */
    float x[64] = {0}, o[64], phi[64], feat[256];
    cr_assert_leq(d->in, 64);
    cr_assert_leq(d->hidden, 64);
    cr_assert_leq(d->feat, 256);
    for (int64_t i = 0; i < d->hidden; i++) o[i] = 0.5f + (float)i;
    for (int64_t i = 0; i < 2 * d->latent; i++) phi[i] = -1.0f - (float)i;
    vb_model_features(vb_backend_cpu(), &f.m, f.P, feat, x, o, phi, NULL, 1);
    for (int64_t i = 0; i < 2 * d->latent; i++) cr_assert_eq(feat[d->obs + 1 + i], phi[i]);
    for (int64_t i = 0; i < d->hidden; i++) cr_assert_eq(feat[d->obs + 1 + 2 * d->latent + i], o[i]);
    const vb_gru *g = &f.m.gru;
    const int64_t n = 3 * g->hidden * g->hidden;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) idx[i] = g->wh.w + i;
    double moved = moved_by_updates(&f, idx, n);
    free(idx);
    fixed_free(&f);
    return moved;
}

Test(train, policy_hidden_trains_the_encoder_only_with_rl_grad_to_encoder) {
    double with = gru_moved_by_rl(true), without = gru_moved_by_rl(false);
    cr_log_info("GRU recurrent weights moved by %g with the RL gradient, %g without", with, without);
    cr_assert_eq(without, 0.0, "the encoder moved without rl_grad_to_encoder and without the ELBO (%g)", without);
    cr_assert_gt(with, 1e-4, "the RL gradient did not reach the encoder through o (%g)", with);
}

/* learner.bptt: the encoder's weights after 3 updates on the same replay.
 * A reach past the window (bptt 1000 on windows of 10) leaves every weight
 * as without it, to the bit; cutting at every step (bptt 1) changes the
 * GRU's recurrent weights. */
/* The learner's weights after its updates, behind three floats: where the
 * GRU's recurrent weights are, their count, and the arena's size. */
static float *learned_weights(fixed *f) {
    const int64_t n = f->m.layout.total;
    float *w = malloc(sizeof(float) * (size_t)(n + 3));
    memcpy(w + 3, vb_learning_params(f->l), sizeof(float) * (size_t)n);
    w[0] = (float)f->m.gru.wh.w, w[1] = (float)(3 * f->m.gru.hidden * f->m.gru.hidden), w[2] = (float)n;
    return w;
}
/* The summed absolute difference of two learned_weights' recurrent weights. */
static double recurrent_moved(const float *a, const float *b) {
    const int64_t wh = (int64_t)a[0], nh = (int64_t)a[1];
    double moved = 0;
    for (int64_t i = 0; i < nh; i++) moved += fabs(a[3 + wh + i] - b[3 + wh + i]);
    return moved;
}
static float *weights_after_updates(const char *bptt, int updates) {
    char err[512];
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0",
                          "learner.max_policy_lag=100000", "run.seed=5", NULL};
    fixed f;
    fixed_setup(&f, base, (const char *[]){bptt, NULL}, 0);
    vb_update_stats st;
    for (int u = 0; u < updates; u++) cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
    float *w = learned_weights(&f);
    fixed_free(&f);
    return w;
}
Test(train, bptt_cuts_only_the_encoders_gradient) {
    float *whole = weights_after_updates("learner.bptt=0", 3), *past = weights_after_updates("learner.bptt=1000", 3);
    float *cut = weights_after_updates("learner.bptt=1", 3);
    const int64_t n = (int64_t)whole[2];
    cr_assert_eq(memcmp(whole + 3, past + 3, sizeof(float) * (size_t)n), 0, "a cut beyond the window changed a weight");
    double moved = recurrent_moved(whole, cut);
    cr_log_info("recurrent weights differ by %g summed", moved);
    cr_assert_gt(moved, 1e-4, "cutting at every step left the GRU's recurrent weights as they were (%g)", moved);
    free(whole), free(past), free(cut);
}

/* model.policy_cells: the features end with the reward decoder's cell
 * probabilities at the belief mean (not at its log-variance), and the RL
 * losses reach the policy's weights on them but never the decoder. */
Test(train, policy_cells_read_the_decoder_at_the_belief_mean_without_training_it) {
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0", "learner.elbo_coef=0",
                          "learner.max_policy_lag=100000", "model.policy_cells=true", NULL};
    fixed f;
    fixed_setup(&f, base, NULL, 0);
    const vb_model_dims *d = &f.m.d;
    const int64_t C = d->reward_cells, off = d->obs + 1 + 2 * d->latent;
    cr_assert(d->policy_cells);
    cr_assert_eq(d->feat, off + C);
    const vb_backend *be = vb_backend_cpu();
    float *ws = calloc((size_t)vb_model_features_ws_floats(&f.m, 2), sizeof(float));
    float x[2 * 64] = {0}, phi[2 * 64], feat[2 * 256];
    cr_assert_leq(d->in, 64);
    cr_assert_leq(2 * d->latent, 64);
    cr_assert_leq(d->feat, 256);
    /* row 1 has row 0's mean and another log-variance; the cells must agree */
    for (int64_t i = 0; i < d->latent; i++) {
        phi[i] = phi[2 * d->latent + i] = 0.7f - 0.4f * (float)i;
        phi[d->latent + i] = -2.0f;
        phi[3 * d->latent + i] = 1.5f;
    }
    vb_model_features(be, &f.m, f.P, feat, x, NULL, phi, ws, 2);
    for (int64_t j = 0; j < C; j++) {
        cr_assert_eq(feat[off + j], feat[d->feat + off + j], "cell %lld read the log-variance", (long long)j);
        cr_assert(feat[off + j] > 0.0f && feat[off + j] < 1.0f, "cell %lld is not a probability: %g", (long long)j,
                  feat[off + j]);
    }
    /* a decoder whose output layer is only a bias b_j predicts sigmoid(b_j) whatever mu is */
    float *P = vb_learning_params_mut(f.l);
    const vb_linear *out = &f.m.reward_dec.layer[f.m.reward_dec.n - 1];
    for (int64_t i = 0; i < out->in * out->out; i++) P[out->w + i] = 0.0f;
    for (int64_t j = 0; j < C; j++) P[out->b + j] = -2.0f + 0.25f * (float)j;
    vb_model_features(be, &f.m, P, feat, x, NULL, phi, ws, 1);
    for (int64_t j = 0; j < C; j++)
        cr_assert_float_eq(feat[off + j], 1.0 / (1.0 + exp(2.0 - 0.25 * (double)j)), 1e-6, "cell %lld", (long long)j);
    vb_model_init(&f.m, P, 1);
    /* three updates without the ELBO: the policy's weights on the cells move, the decoder does not */
    const vb_linear *first = &f.m.policy.layer[0];
    int64_t n_pol = first->out * C, n_dec = 0;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n_pol + f.m.layout.total));
    for (int64_t o = 0; o < first->out; o++)
        for (int64_t j = 0; j < C; j++) idx[o * C + j] = first->w + o * first->in + off + j;
    double pol = moved_by_updates(&f, idx, n_pol);
    for (int i = 0; i < f.m.reward_dec.n; i++) {
        const vb_linear *lin = &f.m.reward_dec.layer[i];
        for (int64_t k = 0; k < lin->in * lin->out; k++) idx[n_dec++] = lin->w + k;
        for (int64_t k = 0; k < lin->out; k++) idx[n_dec++] = lin->b + k;
    }
    double dec = moved_by_updates(&f, idx, n_dec);
    cr_log_info("policy weights on the cells moved by %g, the decoder by %g", pol, dec);
    cr_assert_gt(pol, 1e-4, "the policy did not learn from the cells (%g)", pol);
    cr_assert_eq(dec, 0.0, "the RL losses trained the decoder through the cells (%g)", dec);
    free(idx);
    free(ws);
    fixed_free(&f);
}

/* model.task_clock: the weights that read tau (its column in the encoder's
 * embedding and in the policy's first layer) train with the clock and stay
 * exactly where they started without it, where tau reads 0. */
static double tau_weights_moved(bool clock) {
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0",
                          "learner.max_policy_lag=100000", NULL};
    fixed f;
    fixed_setup(&f, base, (const char *[]){clock ? "model.task_clock=true" : "model.task_clock=false", NULL}, 0);
    const vb_model_dims *d = &f.m.d;
    cr_assert_eq(d->task_clock, clock);
    float x[64];
    cr_assert_leq(d->in, 64);
    float obs[8] = {0};
    cr_assert_leq(d->obs, 8);
    vb_model_input(&f.m, x, obs, 0, 1.0f, 0.0f, d->steps_per_task / 2);
    if (clock)
        cr_assert_float_eq(x[d->in - 1], (float)(d->steps_per_task / 2) / (float)d->steps_per_task, 1e-6);
    else
        cr_assert_eq(x[d->in - 1], 0.0f);
    const vb_linear *emb = &f.m.embed, *pol = &f.m.policy.layer[0];
    int64_t n = emb->out + pol->out;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t o = 0; o < emb->out; o++) idx[o] = emb->w + o * emb->in + d->in - 1;
    for (int64_t o = 0; o < pol->out; o++) idx[emb->out + o] = pol->w + o * pol->in + d->obs;
    double moved = moved_by_updates(&f, idx, n);
    free(idx);
    fixed_free(&f);
    return moved;
}

Test(train, task_clock_off_leaves_the_tau_weights_untrained) {
    double with = tau_weights_moved(true), without = tau_weights_moved(false);
    cr_log_info("tau weights moved by %g with the task clock, %g without", with, without);
    cr_assert_eq(without, 0.0, "tau weights moved without the task clock (%g)", without);
    cr_assert_gt(with, 1e-5, "tau weights did not train with the task clock (%g)", with);
}

/* The model of config with the --set assignment set is refused, naming a and b. */
static void model_refused(const char *config, const char *set, const char *a, const char *b) {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    char path[1024], err[512];
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path(config, path, sizeof path), err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_set(&cfg, set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err), -1);
    cr_assert(strstr(err, a) && strstr(err, b), "%s", err);
}

/* model.cell_input: the encoder's input row carries a one-hot of the
 * observation's state cell between done_{t-1} and tau, everything else in the
 * row where it was; the embedding's weights on those columns train (on RL²,
 * whose encoder the RL losses train, and on VariBASeD, whose ELBO does); a
 * family with continuous observations refuses it by name. */
Test(train, cell_input_is_the_state_cells_one_hot_and_trains) {
    const char *base[] = {"learner.samples_per_insert=0", "learner.batch_windows=8", "learner.replay_capacity=8",
                          "learner.elbo_warmup_updates=0", "learner.max_policy_lag=100000", "model.cell_input=true",
                          NULL};
    const char *algos[] = {"run.algo=rl2", "run.algo=varibased"};
    for (int a = 0; a < 2; a++) {
        fixed f;
        fixed_setup(&f, base, (const char *[]){algos[a], NULL}, 0);
        const vb_model_dims *d = &f.m.d;
        cr_assert_gt(f.spec.state_cells, 1);
        cr_assert_eq(d->in_cells, f.spec.state_cells);
        cr_assert_eq(d->in, d->obs + d->actions + 3 + d->in_cells);
        float x[128], obs[8];
        cr_assert_leq(d->in, 128);
        cr_assert_leq(d->obs, 8);
        const int64_t at = d->obs + d->actions + 2;
        for (int64_t c = 0; c < d->in_cells; c++) {
            vb_env_cell_obs(&f.spec, c, obs);
            vb_model_input(&f.m, x, obs, 1, 1.0f, 1.0f, d->steps_per_task / 2);
            for (int64_t j = 0; j < d->obs; j++) cr_assert_eq(x[j], obs[j]);
            for (int64_t k = 0; k < d->actions; k++) cr_assert_eq(x[d->obs + k], k == 1 ? 1.0f : 0.0f);
            cr_assert_eq(x[d->obs + d->actions], 1.0f);
            cr_assert_eq(x[d->obs + d->actions + 1], 1.0f);
            for (int64_t k = 0; k < d->in_cells; k++)
                cr_assert_eq(x[at + k], k == c ? 1.0f : 0.0f, "cell %lld, column %lld", (long long)c, (long long)k);
            cr_assert_float_eq(x[d->in - 1], (float)(d->steps_per_task / 2) / (float)d->steps_per_task, 1e-6);
        }
        const vb_linear *emb = &f.m.embed;
        cr_assert_eq(emb->in, d->in);
        int64_t n = emb->out * d->in_cells;
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
        for (int64_t o = 0; o < emb->out; o++)
            for (int64_t k = 0; k < d->in_cells; k++) idx[o * d->in_cells + k] = emb->w + o * emb->in + at + k;
        double moved = moved_by_updates(&f, idx, n);
        cr_log_info("%s: the embedding's cell columns moved by %g", algos[a], moved);
        cr_assert_gt(moved, 1e-4, "%s: the cell columns did not train (%g)", algos[a], moved);
        free(idx);
        fixed_free(&f);
    }
    model_refused("configs/bandit.yaml", "model.cell_input=true", "model.cell_input", "no state cells");
}

/* model.decoder_obs: the reward decoder's first layer reads (m, s), and with
 * model.cell_input (m, s, onehot cell(s)); its weights on s train under the
 * ELBO, decoding the task's labels and decoding the transitions, and the
 * belief metric reads the same rows. */
Test(train, decoder_obs_trains_the_decoders_weights_on_the_observation) {
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0",
                          "learner.max_policy_lag=100000", "model.decoder_obs=true", NULL};
    const char *decode[] = {"learner.elbo_decode=task", "learner.elbo_decode=transitions", "learner.elbo_decode=task",
                            "learner.elbo_decode=task"};
    for (int k = 0; k < 4; k++) {
        const bool cells = k >= 2, rew = k == 3;
        fixed f;
        fixed_setup(&f, base,
                    (const char *[]){decode[k], cells ? "model.cell_input=true" : NULL,
                                     rew ? "model.decoder_reward=true" : NULL, NULL},
                    0);
        const vb_model_dims *d = &f.m.d;
        const vb_linear *first = &f.m.reward_dec.layer[0];
        cr_assert_eq(d->dec_obs, d->obs + (cells ? f.spec.state_cells : 0) + rew);
        cr_assert_eq(first->in, d->latent + d->dec_obs);
        if (cells) { /* what the decoder reads of each cell's observation: (s, onehot cell) */
            float s[8], row[64];
            cr_assert_leq(d->dec_obs, 64);
            for (int64_t c = 0; c < f.spec.state_cells; c++) {
                vb_env_cell_obs(&f.spec, c, s);
                vb_model_state_input(&f.m, row, s, 0.5f);
                for (int64_t j = 0; j < d->obs; j++) cr_assert_eq(row[j], s[j]);
                for (int64_t j = 0; j < f.spec.state_cells; j++) cr_assert_eq(row[d->obs + j], j == c ? 1.0f : 0.0f);
                if (rew) cr_assert_eq(row[d->dec_obs - 1], 0.5f);
            }
            /* the planner's and the belief's rows: two latents per observation, (z, s, onehot cell(s)) */
            float z[4 * 16], obs2[16], in[4 * 64];
            cr_assert_leq(d->latent, 16);
            for (int64_t i = 0; i < 4 * d->latent; i++) z[i] = (float)i;
            vb_env_cell_obs(&f.spec, 1, obs2);
            vb_env_cell_obs(&f.spec, 4, obs2 + d->obs);
            const float r2[2] = {-0.1f, 1.0f};
            const float *r = vb_model_reward_input(vb_backend_cpu(), &f.m, in, z, d->latent, obs2, d->obs, r2, 1, 2, 4);
            for (int64_t i = 0; i < 4; i++) {
                const float *ri = r + i * (d->latent + d->dec_obs);
                vb_model_state_input(&f.m, row, obs2 + (i / 2) * d->obs, r2[i / 2]);
                for (int64_t j = 0; j < d->latent; j++) cr_assert_eq(ri[j], z[i * d->latent + j]);
                for (int64_t j = 0; j < d->dec_obs; j++)
                    cr_assert_eq(ri[d->latent + j], row[j], "row %lld", (long long)i);
            }
        }
        /* the weights on the observation's part (the one-hot's and r's where there are) */
        const int64_t from = cells ? d->obs : 0, w = d->dec_obs - from;
        int64_t n = first->out * w;
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
        for (int64_t o = 0; o < first->out; o++)
            for (int64_t j = 0; j < w; j++) idx[o * w + j] = first->w + o * first->in + d->latent + from + j;
        double moved = moved_by_updates(&f, idx, n);
        cr_log_info("%s: the decoder's weights on s moved by %g", decode[k], moved);
        cr_assert_gt(moved, 1e-4, "%s: the weights on s did not train (%g)", decode[k], moved);
        char err[512];
        vb_update_stats st;
        bool measured = false;
        for (int u = 0; u < 8; u++) {
            cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
            if (st.belief_mae >= 0) {
                measured = true;
                cr_assert(isfinite(st.belief_mae) && st.belief_mae < 1.0, "belief_mae %g", st.belief_mae);
            }
        }
        cr_assert(measured, "%s: no belief_mae in 8 updates", decode[k]);
        free(idx);
        fixed_free(&f);
    }
    /* r_{t-1} is part of what the decoder reads of the observation */
    model_refused("configs/gridworld.yaml", "model.decoder_reward=true", "model.decoder_reward", "model.decoder_obs");
}

/* planner.dynamics: the state head exists exactly when the planner reads it
 * (varibased with learned dynamics; auto picks them where the transitions
 * depend on the task), it decodes the env's state cells, and the ELBO trains
 * it: on a fixed replay of the permuted-moves gridworld its log-likelihood
 * per transition climbs from about log(1/9) (3x3 cells) and every tensor of
 * it moves. Without the ELBO (elbo_coef 0) such a model is refused. */
Test(train, learned_dynamics_train_the_state_head_the_planner_reads) {
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0", "learner.lr=0.003",
                          "learner.max_policy_lag=100000", NULL};
    struct {
        const char *set[3];
        bool head;
    } cases[] = {
        {{"env.permute_moves=false", "planner.dynamics=auto", NULL}, false},
        {{"env.permute_moves=false", "planner.dynamics=learned", NULL}, true},
        {{"env.permute_moves=true", "planner.dynamics=auto", NULL}, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixed f;
        fixed_setup(&f, base, cases[c].set, 0);
        cr_assert_eq(f.m.d.has_state_head, cases[c].head, "case %zu", c);
        if (!cases[c].head) {
            cr_assert_null(vb_layout_find(&f.m.layout, "dec.state.0.w"));
            fixed_free(&f);
            continue;
        }
        cr_assert_eq(f.m.d.state_out, 9);
        float *P0 = malloc(sizeof(float) * (size_t)f.m.layout.total);
        memcpy(P0, vb_learning_params(f.l), sizeof(float) * (size_t)f.m.layout.total);
        char err[512];
        vb_update_stats first, st;
        cr_assert_eq(vb_learning_update(f.l, &first, err, sizeof err), 0, "%s", err);
        for (int u = 0; u < 300; u++) cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
        cr_log_info("state head, case %zu: log-likelihood %.3f -> %.3f", c, first.state_loglik, st.state_loglik);
        cr_assert(fabs(first.state_loglik - log(1.0 / 9)) < 0.5, "%f", first.state_loglik);
        cr_assert_gt(st.state_loglik, first.state_loglik + 1.0, "%f -> %f", first.state_loglik, st.state_loglik);
        const float *P = vb_learning_params(f.l);
        for (int k = 0; k < 3; k++) {
            char name[32];
            snprintf(name, sizeof name, "dec.state.%d.w", k);
            const vb_tensor_info *t = vb_layout_find(&f.m.layout, name);
            cr_assert_not_null(t, "%s", name);
            double moved = 0;
            for (int64_t i = 0; i < t->count; i++) moved += fabs(P[t->offset + i] - P0[t->offset + i]);
            cr_assert_gt(moved, 1e-3, "%s did not train", name);
        }
        free(P0);
        fixed_free(&f);
    }
    /* no ELBO, no trained head: refused */
    vb_config cfg;
    char path[1024], err[512];
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    const char *set[] = {"run.algo=varibased", "env.permute_moves=true", "learner.elbo_coef=0"};
    for (int i = 0; i < 3; i++) cr_assert_eq(vb_config_set(&cfg, set[i], err, sizeof err), 0, "%s", err);
    vb_env_spec spec;
    vb_model m;
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err), 0, "%s", err);
    float *P = calloc((size_t)m.layout.total, sizeof(float));
    vb_learning *l = NULL;
    vb_learning_cfg lp = vb_learning_cfg_from(&cfg);
    cr_assert_neq(vb_learning_create(&l, vb_backend_cpu(), &m, &lp, &spec, P, err, sizeof err), 0);
    cr_assert(strstr(err, "elbo_coef"), "%s", err);
    /* nor with the next-state term weighed to nothing */
    cr_assert_eq(vb_config_set(&cfg, "learner.elbo_coef=1", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_config_set(&cfg, "learner.state_coef=0", err, sizeof err), 0, "%s", err);
    lp = vb_learning_cfg_from(&cfg);
    cr_assert_neq(vb_learning_create(&l, vb_backend_cpu(), &m, &lp, &spec, P, err, sizeof err), 0);
    cr_assert(strstr(err, "state_coef"), "%s", err);
    free(P);
}

/* model.reward_latent 2 of latent 3: after 100 updates the reward decoder
 * still reads only m[0, 2) and the next-state decoder only m[2, 3) (their
 * first-layer weights on the other part are exactly zero: the decoders'
 * outputs do not move when that part does), both decoders trained, and
 * both decoders' gradients reached the encoder's belief head on their own
 * part. A split without a next-state decoder, or one that leaves it no
 * dims, is refused by name. */
Test(train, a_split_latent_keeps_each_decoder_on_its_part) {
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=8",
                          "learner.replay_capacity=8", "learner.elbo_warmup_updates=0", "learner.lr=0.003",
                          "learner.max_policy_lag=100000", "env.permute_moves=true", "model.latent=3",
                          "model.reward_latent=2", NULL};
    fixed f;
    fixed_setup(&f, base, NULL, 0);
    const vb_model_dims *d = &f.m.d;
    cr_assert_eq(d->reward_latent, 2);
    float *P0 = malloc(sizeof(float) * (size_t)f.m.layout.total);
    memcpy(P0, vb_learning_params(f.l), sizeof(float) * (size_t)f.m.layout.total);
    char err[512];
    vb_update_stats st;
    for (int u = 0; u < 100; u++) cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
    const float *P = vb_learning_params(f.l);
    const vb_backend *be = vb_backend_cpu();
    /* outputs of both decoders at two latents that differ only in the other's part */
    float m1[3] = {0.3f, -0.8f, 0.5f}, m2[3] = {0.3f, -0.8f, -1.7f}, m3[3] = {1.1f, 0.4f, 0.5f};
    enum { W = 64 };
    cr_assert_leq(d->reward_cells, W);
    cr_assert_leq(d->obs + d->actions + 3, W);
    cr_assert_leq(d->state_out, W);
    float out1[W], out2[W], cache[4096], in1[W] = {0}, in2[W] = {0};
    cr_assert_leq(vb_mlp_cache_floats(&f.m.reward_dec, 1), 4096);
    cr_assert_leq(vb_mlp_cache_floats(&f.m.state_dec, 1), 4096);
    vb_mlp_forward(be, &f.m.reward_dec, P, out1, m1, cache, 1);
    vb_mlp_forward(be, &f.m.reward_dec, P, out2, m2, cache, 1);
    for (int64_t c = 0; c < d->reward_cells; c++)
        cr_assert_eq(out1[c], out2[c], "reward cell %lld read m[2]", (long long)c);
    vb_mlp_forward(be, &f.m.reward_dec, P, out2, m3, cache, 1);
    double moved = 0;
    for (int64_t c = 0; c < d->reward_cells; c++) moved += fabs(out1[c] - out2[c]);
    cr_assert_gt(moved, 1e-4, "the reward decoder ignores its own part");
    const int64_t at = d->obs + d->actions;
    in1[0] = in2[0] = 0.5f;
    in1[d->obs + 1] = in2[d->obs + 1] = 1.0f;
    memcpy(in1 + at, m1, sizeof m1);
    memcpy(in2 + at, m3, sizeof m3);
    vb_mlp_forward(be, &f.m.state_dec, P, out1, in1, cache, 1);
    vb_mlp_forward(be, &f.m.state_dec, P, out2, in2, cache, 1);
    for (int64_t c = 0; c < d->state_out; c++)
        cr_assert_eq(out1[c], out2[c], "next-state output %lld read m[0, 2)", (long long)c);
    memcpy(in2 + at, m2, sizeof m2);
    vb_mlp_forward(be, &f.m.state_dec, P, out2, in2, cache, 1);
    moved = 0;
    for (int64_t c = 0; c < d->state_out; c++) moved += fabs(out1[c] - out2[c]);
    cr_assert_gt(moved, 1e-4, "the next-state decoder ignores its own part");
    /* the belief head's rows for mu of every dim trained */
    const vb_linear *bh = &f.m.belief;
    for (int64_t j = 0; j < d->latent; j++) {
        double row = 0;
        for (int64_t i = 0; i < bh->in; i++) row += fabs(P[bh->w + j * bh->in + i] - P0[bh->w + j * bh->in + i]);
        cr_assert_gt(row, 1e-4, "the belief mean of dim %lld did not train", (long long)j);
    }
    free(P0);
    fixed_free(&f);
    /* refused: no next-state decoder, or no dims left for it */
    const char *bad[][2] = {{"env.permute_moves=false", "next-state decoder"}, {"model.reward_latent=3", "below"}};
    for (int i = 0; i < 2; i++) {
        vb_config cfg;
        char path[1024];
        vb_config_defaults(&cfg);
        cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err),
                     0);
        for (int j = 0; base[j]; j++) cr_assert_eq(vb_config_set(&cfg, base[j], err, sizeof err), 0, "%s", err);
        cr_assert_eq(vb_config_set(&cfg, bad[i][0], err, sizeof err), 0, "%s", err);
        vb_env_spec spec;
        vb_model m;
        cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0);
        cr_assert_eq(vb_model_build_from_config(&m, &cfg, &spec, err, sizeof err), -1, "%s accepted", bad[i][0]);
        cr_assert(strstr(err, "model.reward_latent") && strstr(err, bad[i][1]), "%s", err);
    }
}

/* learner.refresh_carry: windows of 3 steps over tasks of 10. With the
 * actor's weights, re-encoding the task prefix reproduces the cached carries;
 * once the weights move, the cached carries drift from the fresh ones. */
static void refresh_drift(float lr, int updates, double *refreshed, double *drift) {
    char err[512], lrs[64];
    snprintf(lrs, sizeof lrs, "learner.lr=%g", lr);
    const char *base[] = {"run.algo=varibad", "learner.samples_per_insert=0", "learner.batch_windows=16",
                          "learner.window=3", "learner.replay_capacity=128", "learner.elbo_warmup_updates=0",
                          "learner.refresh_carry=true", "learner.max_policy_lag=100000", lrs, NULL};
    fixed f;
    fixed_setup(&f, base, NULL, 30);
    vb_learning *l = f.l;
    vb_update_stats st;
    double r = 0, d = 0;
    for (int u = 0; u < updates; u++) {
        cr_assert_eq(vb_learning_update(l, &st, err, sizeof err), 0, "%s", err);
        r += st.carry_refreshed;
        d = st.carry_drift;
    }
    *refreshed = r / updates;
    *drift = d;
    fixed_free(&f);
}

Test(train, refreshed_carries_match_the_actor_and_then_drift) {
    double refreshed, drift;
    refresh_drift(0.0f, 10, &refreshed, &drift);
    cr_assert_gt(refreshed, 0.3, "windows that start mid-task are re-encoded (%g)", refreshed);
    cr_assert_lt(drift, 1e-4, "same weights: fresh carries equal the cached ones (drift %g)", drift);
    cr_log_info("same weights: %.2f of windows refreshed, drift %g", refreshed, drift);
    refresh_drift(0.01f, 60, &refreshed, &drift);
    cr_log_info("moved weights: drift %g", drift);
    cr_assert_gt(drift, 1e-3, "moved weights: the cached carries are stale (drift %g)", drift);
}

/* learner.refresh_grad: windows of 3 steps over tasks of 10 with refreshed
 * carries. Passing the gradient on into the re-encoded prefixes changes the
 * encoder's update (the whole-task share of windows that start mid-task). */
static float *refresh_weights(bool grad, int updates) {
    char err[512];
    const char *base[] = {"run.algo=varibased", "learner.samples_per_insert=0", "learner.batch_windows=16",
                          "learner.window=3", "learner.replay_capacity=128", "learner.elbo_warmup_updates=0",
                          "learner.refresh_carry=true", "learner.max_policy_lag=100000", "run.seed=3", NULL};
    fixed f;
    fixed_setup(&f, base, (const char *[]){grad ? "learner.refresh_grad=true" : "learner.refresh_grad=false", NULL},
                30);
    vb_update_stats st;
    for (int u = 0; u < updates; u++) {
        cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
        cr_assert_gt(st.carry_refreshed, 0.0, "no window was refreshed");
    }
    float *w = learned_weights(&f);
    fixed_free(&f);
    return w;
}
Test(train, refresh_grad_reaches_the_encoder_through_the_prefixes) {
    float *off = refresh_weights(false, 3), *on = refresh_weights(true, 3);
    double moved = recurrent_moved(off, on);
    cr_log_info("recurrent weights differ by %g summed", moved);
    cr_assert_gt(moved, 1e-4, "the prefixes' gradient left the GRU as it was (%g)", moved);
    free(off), free(on);
}

/* The refresh_carry stream table holds the live actors' streams: an actor
 * that leaves takes its histories with it. */
Test(train, refresh_streams_of_a_departed_actor_are_dropped) {
    const char *base[] = {"run.algo=varibad", "learner.samples_per_insert=0", "learner.batch_windows=16",
                          "learner.window=3", "learner.replay_capacity=128", "learner.refresh_carry=true",
                          "learner.max_policy_lag=100000", NULL};
    fixed f;
    fixed_setup(&f, base, NULL, 30);
    const int64_t streams = vb_learning_refresh_streams(f.l);
    cr_assert_eq(streams, f.a.n, "one history per env slot of the acting actor (0): %lld of %lld", (long long)streams, (long long)f.a.n);
    vb_learning_forget_actor(f.l, 7);
    cr_assert_eq(vb_learning_refresh_streams(f.l), streams, "another actor's leaving drops nothing");
    vb_learning_forget_actor(f.l, 0);
    cr_assert_eq(vb_learning_refresh_streams(f.l), 0);
    fixed_free(&f);
}

static void run_learner(const char *const *args, int expect) {
    vb_test_proc p;
    vb_test_run(&p, "learner", args);
    cr_assert_eq(p.status, expect, "learner exited %d:\n%s", p.status, p.err);
    vb_test_proc_free(&p);
}

static void read_params(const char *run, vb_ckpt *ck) {
    char path[256], err[512], chosen[4400];
    snprintf(path, sizeof path, "%s/%s", root, run);
    cr_assert_eq(vb_ckpt_load_newest(path, ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
}

Test(train, resume_continues_bit_exactly, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=a", "--set",
                                 "run.algo=varibad", "--set", "run.total_env_steps=400", "--log-level", "warn", NULL},
                0);
    char resume[128];
    snprintf(resume, sizeof resume, "%s/a", root);
    run_learner((const char *[]){"--resume", resume, "--serial", "--set", "run.total_env_steps=480", "--log-level",
                                 "warn", NULL},
                0);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=b", "--set",
                                 "run.algo=varibad", "--set", "run.total_env_steps=480", "--log-level", "warn", NULL},
                0);
    vb_ckpt a, b;
    read_params("a", &a);
    read_params("b", &b);
    uint64_t la, lb;
    const void *pa = vb_ckpt_get(&a, "params", &la), *pb = vb_ckpt_get(&b, "params", &lb);
    cr_assert(pa && pb && la == lb);
    cr_assert_eq(memcmp(pa, pb, (size_t)la), 0, "resumed parameters differ from the uninterrupted run's");
    int64_t ca[6], cb[6]; /* section payloads are unaligned: copy out */
    memcpy(ca, vb_ckpt_get(&a, "counters", NULL), sizeof ca);
    memcpy(cb, vb_ckpt_get(&b, "counters", NULL), sizeof cb);
    cr_assert_eq(ca[0], 480);
    cr_assert_eq(ca[1], cb[1], "updates %lld vs %lld", (long long)ca[1], (long long)cb[1]);
    cr_assert_gt(ca[1], 0);
    vb_ckpt_free(&a);
    vb_ckpt_free(&b);
}

Test(train, corrupted_latest_checkpoint_falls_back, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=c", "--set",
                                 "run.algo=rl2", "--set", "run.total_env_steps=800", "--set",
                                 "learner.checkpoint_every=2", "--log-level", "error", NULL},
                0);
    char dir[128], err[512], chosen[4400], newest[4400];
    snprintf(dir, sizeof dir, "%s/c", root);
    vb_ckpt ck;
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, newest, sizeof newest, NULL, err, sizeof err), 0, "%s", err);
    vb_ckpt_free(&ck);
    FILE *f = fopen(newest, "r+b");
    cr_assert_not_null(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x5a ^ fgetc(f), f);
    fclose(f);
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_neq(chosen, newest, "the corrupted checkpoint was used");
    vb_ckpt_free(&ck);
    cr_assert_neq(vb_ckpt_read(newest, &ck, err, sizeof err), 0);
    cr_assert(strstr(err, "corrupted"), "%s", err);
    /* a file named explicitly is used as named: the older one loads, the
     * corrupted and a missing one are errors, never another checkpoint */
    char named[4400];
    cr_assert_eq(vb_ckpt_load_newest(chosen, &ck, named, sizeof named, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(named, chosen);
    vb_ckpt_free(&ck);
    cr_assert_neq(vb_ckpt_load_newest(newest, &ck, named, sizeof named, NULL, err, sizeof err), 0);
    cr_assert(strstr(err, "corrupted"), "%s", err);
    char missing[4400];
    snprintf(missing, sizeof missing, "%s/checkpoints/ckpt-000000000001.vbc", dir);
    cr_assert_neq(vb_ckpt_load_newest(missing, &ck, named, sizeof named, NULL, err, sizeof err), 0);
    cr_assert(strstr(err, "ckpt-000000000001.vbc"), "%s", err);
    /* a resume from the folder uses the older checkpoint and says so */
    vb_test_proc p;
    vb_test_run(&p, "learner", (const char *[]){"--resume", dir, "--serial", "--set", "run.total_env_steps=840", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "corrupted"), "no warning about the corrupted checkpoint:\n%s", p.err);
    vb_test_proc_free(&p);
}

/* The environment steps recorded in a run's newest checkpoint. */
static int64_t newest_steps(const char *run) {
    char dir[128], err[512], chosen[4400];
    snprintf(dir, sizeof dir, "%s/%s", root, run);
    vb_ckpt ck;
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
    int64_t c[6];
    memcpy(c, vb_ckpt_get(&ck, "counters", NULL), sizeof c);
    vb_ckpt_free(&ck);
    return c[0];
}

Test(train, sigterm_stops_with_a_final_checkpoint, .init = make_root, .fini = remove_root) {
    char cfg[1024], exe[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    vb_test_path("learner", exe, sizeof exe);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        execl(exe, exe, "--config", cfg, "--serial", "--set", rootset, "--set", "run.name=s", "--set", "run.algo=rl2",
              "--set", "run.total_env_steps=1000000000", "--set", "log.interval_s=0.05", (char *)NULL);
        _exit(127);
    }
    /* signal once it is training: a metrics line with updates */
    char metrics[256];
    snprintf(metrics, sizeof metrics, "%s/s/metrics.jsonl", root);
    bool training = vb_dt_wait_metric(metrics, "updates", 1, 60);
    kill(pid, SIGTERM);
    cr_assert(training, "no metrics line with updates within 60 s");
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_assert_gt(newest_steps("s"), 0, "no steps recorded");
}

/* run.max_wall_s ends a run whose step budget is out of reach, with a final
 * checkpoint, and counts the wall seconds of the run it resumes: resuming a
 * run that has used its seconds takes no more steps. */
static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

Test(train, max_wall_s_stops_the_run_and_counts_resumed_seconds, .init = make_root, .fini = remove_root,
     .timeout = 120) {
    char cfg[1024], rootset[128], dir[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    snprintf(dir, sizeof dir, "%s/w", root);
    vb_test_proc p;
    double t0 = mono_s();
    vb_test_run(&p, "learner",
                (const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=w", "--set",
                                 "run.algo=rl2", "--set", "run.total_env_steps=1000000000", "--set",
                                 "run.max_wall_s=1.5", NULL});
    double took = mono_s() - t0;
    cr_assert_eq(p.status, 0, "learner exited %d:\n%s", p.status, p.err);
    cr_assert(strstr(p.err, "reached run.max_wall_s: stopping after a final checkpoint"), "%s", p.err);
    vb_test_proc_free(&p);
    cr_assert_lt(took, 60, "a 1.5 s limit took %.1f s", took);
    int64_t steps = newest_steps("w");
    cr_assert(steps > 0 && steps < 1000000000, "steps %lld", (long long)steps);
    vb_test_run(&p, "learner", (const char *[]){"--resume", dir, "--serial", "--set", "run.max_wall_s=1", NULL});
    cr_assert_eq(p.status, 0, "learner exited %d:\n%s", p.status, p.err);
    cr_assert(strstr(p.err, "reached run.max_wall_s"), "%s", p.err);
    vb_test_proc_free(&p);
    cr_assert_eq(newest_steps("w"), steps, "the resumed run took steps past its seconds");
}

/* A trained checkpoint evaluates like a reference agent: the same JSON line,
 * for an rl2 model (policy head) and a varibased one (planning at a budget
 * given on the command line). */
Test(train, checkpoints_evaluate_with_and_without_planning, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128], dir[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    const char *algos[] = {"rl2", "varibased"};
    for (int i = 0; i < 2; i++) {
        char name[32], algo[32];
        snprintf(name, sizeof name, "run.name=e%d", i);
        snprintf(algo, sizeof algo, "run.algo=%s", algos[i]);
        run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", name, "--set", algo,
                                     "--set", "run.total_env_steps=400", "--log-level", "warn", NULL},
                    0);
        snprintf(dir, sizeof dir, "%s/e%d/checkpoints/latest", root, i);
        vb_test_proc p;
        vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--tasks", "24", "--set",
                                                  "planner.particles=4", "--set", "planner.depth=2", NULL});
        cr_assert_eq(p.status, 0, "%s eval exited %d:\n%s", algos[i], p.status, p.err);
        cr_assert(strstr(p.out, "\"agent\":\"checkpoint\"") && strstr(p.out, "\"tasks\":24"), "%s", p.out);
        cr_assert(strstr(p.out, "\"episode_return_mean\":["), "%s", p.out);
        vb_test_proc_free(&p);
    }
    /* a checkpoint whose model keys are overridden no longer fits: refused, exit 2 */
    vb_test_proc p;
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--set", "model.hidden=17", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "layout"), "%s", p.err);
    vb_test_proc_free(&p);
    /* nor is one that keeps the layout but reads the weights another way: the
     * reward cells as one softmax, by the actor or by a resumed learner */
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--set",
                                              "model.reward_decoder=categorical", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "model.reward_decoder") && strstr(p.err, "independent"), "%s", p.err);
    vb_test_proc_free(&p);
    /* or the task clock's input column read as 0 */
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--set", "model.task_clock=false", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "model.task_clock") && strstr(p.err, "true"), "%s", p.err);
    vb_test_proc_free(&p);
    snprintf(dir, sizeof dir, "%s/e1", root);
    vb_test_run(&p, "learner", (const char *[]){"--resume", dir, "--serial", "--set",
                                                "model.reward_decoder=categorical", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "model.reward_decoder"), "%s", p.err);
    vb_test_proc_free(&p);
}

/* eval.planning: policy evaluates a varibased checkpoint on its policy
 * alone: the same JSON line as planning with K 1, D 0, and the log says so. */
Test(train, eval_planning_policy_is_the_policy_alone, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128], dir[160];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=pp", "--set",
                                 "run.algo=varibased", "--set", "run.total_env_steps=800", "--log-level", "warn", NULL},
                0);
    snprintf(dir, sizeof dir, "%s/pp", root);
    vb_test_proc a, b;
    vb_test_run(&a, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--tasks", "64", "--set",
                                              "eval.planning=policy", NULL});
    vb_test_run(&b, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--tasks", "64", "--set",
                                              "planner.particles=1", "--set", "planner.depth=0", NULL});
    cr_assert_eq(a.status, 0, "%s", a.err);
    cr_assert_eq(b.status, 0, "%s", b.err);
    cr_assert_str_eq(a.out, b.out);
    cr_assert(strstr(a.err, "the policy alone"), "%s", a.err);
    cr_assert(strstr(b.err, "planning: K 1, D 0"), "%s", b.err);
    vb_test_proc_free(&a);
    vb_test_proc_free(&b);
}

/* eval.every_updates appends one evaluation per multiple to evals.jsonl, and
 * log.tensorboard writes an event file that starts with a valid record. */
Test(train, periodic_evaluations_and_tensorboard_events, .init = make_root, .fini = remove_root) {
    char cfg[1024], rootset[128];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", "run.name=e", "--set",
                                 "run.total_env_steps=1200", "--set", "eval.every_updates=40", "--set",
                                 "eval.tasks=8", "--set", "log.tensorboard=true", "--set", "log.interval_s=0.01",
                                 "--log-level", "warn", NULL},
                0);
    char path[256], line[4096];
    snprintf(path, sizeof path, "%s/e/evals.jsonl", root);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    int n = 0;
    long last = 0;
    while (fgets(line, sizeof line, f)) {
        long u = strtol(line + strlen("{\"updates\":"), NULL, 10);
        cr_assert_eq(u % 40, 0, "%s", line);
        cr_assert_gt(u, last);
        last = u;
        cr_assert(strstr(line, "\"tasks\":8") && strstr(line, "\"return_mean\":"), "%s", line);
        n++;
    }
    fclose(f);
    cr_assert_geq(n, 2, "evaluations at updates 40, 80, ...");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/e/events.out.tfevents.* > %s/tb.txt", root, root);
    cr_assert_eq(system(cmd), 0, "no event file");
    snprintf(path, sizeof path, "%s/tb.txt", root);
    f = fopen(path, "r");
    cr_assert(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    f = fopen(line, "rb");
    cr_assert_not_null(f);
    unsigned char head[12];
    cr_assert_eq(fread(head, 1, 12, f), 12);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    uint32_t crc;
    memcpy(&crc, head + 8, 4);
    cr_assert_eq(crc, vb_tboard_masked_crc(head, 8));
    cr_assert_gt(size, 200, "metrics events follow the version record (%ld bytes)", size);
}

/* eval.keep_best on validation tasks: the evaluations flagged best are
 * exactly the strict running maxima of evals.jsonl, across a resume too;
 * best.vbc holds the weights of the first evaluation that reached the maximum
 * (evaluating them again gives the recorded return); an evaluation of the run
 * folder uses best.vbc, and checkpoints/latest the newest weights. Once with
 * rl2 sampling its evaluations (returns that rise and fall), once with
 * varibased and the policy alone (eval.during_training: policy). */
static void check_keep_best(const char *name, const char *algo, const char *greedy, const char *lr, int min_flagged) {
    char cfg[1024], rootset[128], dir[256], nameset[64];
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", root);
    snprintf(nameset, sizeof nameset, "run.name=%s", name);
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    run_learner((const char *[]){"--config", cfg, "--serial", "--set", rootset, "--set", nameset, "--set", algo,
                                 "--set", greedy, "--set", lr, "--set", "run.total_env_steps=1600", "--set",
                                 "eval.every_updates=10", "--set", "eval.tasks=24", "--set", "eval.keep_best=true",
                                 "--set", "eval.during_training=policy", "--log-level", "warn", NULL},
                0);
    run_learner((const char *[]){"--resume", dir, "--serial", "--set", "run.total_env_steps=3200", "--log-level", "warn",
                                 NULL},
                0);
    char path[320], line[4096];
    snprintf(path, sizeof path, "%s/evals.jsonl", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    int n = 0, flagged = 0;
    double best = -INFINITY;
    long best_u = -1;
    while (fgets(line, sizeof line, f)) {
        long u = strtol(line + strlen("{\"updates\":"), NULL, 10);
        const char *rm = strstr(line, "\"return_mean\":");
        cr_assert(rm && strstr(line, "\"agent\":\"policy\""), "%s", line);
        double ret = strtod(rm + strlen("\"return_mean\":"), NULL);
        const bool is_best = strstr(line, "\"best\":true") != NULL;
        cr_assert(is_best || strstr(line, "\"best\":false"), "%s", line);
        cr_assert_eq(is_best, ret > best, "%s update %ld: return %g against the best so far %g, flagged %d", name, u,
                     ret, best, is_best);
        if (is_best) best = ret, best_u = u, flagged++;
        n++;
    }
    fclose(f);
    cr_assert_geq(n, 30, "%s: %d evaluations", name, n);
    cr_assert_geq(flagged, min_flagged, "%s: %d evaluations were the best so far", name, flagged);

    vb_ckpt ck;
    char err[512], bpath[400];
    cr_assert_eq(vb_ckpt_best_in(dir, bpath, sizeof bpath), 1, "no best.vbc in %s", dir);
    cr_assert_eq(vb_ckpt_read(bpath, &ck, err, sizeof err), 0, "%s", err);
    uint64_t vlen, ylen, plen;
    const unsigned char *val = vb_ckpt_get(&ck, "validation", &vlen);
    cr_assert(val && vlen == 24);
    double rec;
    int64_t upd;
    memcpy(&rec, val, 8);
    memcpy(&upd, val + 8, 8);
    /* evals.jsonl prints 10 significant digits; best.vbc holds the double */
    cr_assert(fabs(rec - best) <= 1e-9 * fmax(1.0, fabs(best)), "%s: best.vbc records %.12g, evals.jsonl's best is %.12g",
              name, rec, best);
    cr_assert_eq(upd, best_u);
    /* the kept weights score the recorded return on the same validation tasks */
    vb_config c;
    vb_config_defaults(&c);
    const char *yaml = vb_ckpt_get(&ck, "config", &ylen);
    const void *blob = vb_ckpt_get(&ck, "params", &plen);
    cr_assert_eq(vb_config_load_string(&c, yaml, (size_t)ylen, bpath, err, sizeof err), 0, "%s", err);
    vb_env_spec spec;
    vb_model m;
    cr_assert_eq(vb_env_spec_from_config(&c, &spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(&m, &c, &spec, err, sizeof err), 0, "%s", err);
    float *P = malloc(sizeof(float) * (size_t)m.layout.total);
    cr_assert_eq(vb_arena_from_blob(&m.layout, blob, (size_t)plen, P, "best", err, sizeof err), 0, "%s", err);
    c.eval.planning = c.eval.during_training;
    vb_log_set_level(VB_LOG_WARN);
    vb_eval_options opt = vb_eval_options_from(&c);
    opt.agent = "checkpoint";
    opt.model = &m;
    opt.params = P;
    opt.validation = true;
    vb_eval_result res;
    cr_assert_eq(vb_eval_run(&opt, NULL, &res), 0);
    cr_assert_eq(res.return_mean, rec, "re-evaluated %.17g, recorded %.17g", res.return_mean, rec);
    vb_eval_result_free(&res);
    free(P);
    vb_ckpt_free(&ck);

    vb_test_proc p;
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", dir, "--tasks", "8", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "best.vbc: the run's best validation return"), "%s", p.err);
    vb_test_proc_free(&p);
    char latest[320];
    snprintf(latest, sizeof latest, "%s/checkpoints/latest", dir);
    vb_test_run(&p, "actor", (const char *[]){"--eval", "--checkpoint", latest, "--tasks", "8", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "checkpoints/ckpt-") && !strstr(p.err, "best.vbc"), "%s", p.err);
    vb_test_proc_free(&p);
}

Test(train, keep_best_keeps_the_weights_of_the_best_validation, .init = make_root, .fini = remove_root) {
    check_keep_best("rl2", "run.algo=rl2", "eval.greedy=false", "learner.lr=0.01", 3);
    check_keep_best("vb", "run.algo=varibased", "eval.greedy=true", "learner.lr=0.0003", 1);
}

/* Evaluations during training score validation tasks, never the held-out
 * ones of actor --eval (same seed, same agent, other tasks); keep_best needs
 * evaluations to choose among. */
Test(train, validation_tasks_are_not_the_held_out_tasks) {
    vb_log_set_level(VB_LOG_WARN);
    char path[1024], err[512];
    vb_config c;
    vb_config_defaults(&c);
    cr_assert_eq(vb_config_load_file(&c, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    char *out[2] = {NULL, NULL};
    for (int v = 0; v < 2; v++) {
        size_t len = 0;
        FILE *mem = open_memstream(&out[v], &len);
        vb_eval_options opt = vb_eval_options_from(&c);
        opt.agent = "random";
        opt.tasks = 400;
        opt.seed = 1;
        opt.validation = v;
        cr_assert_eq(vb_eval_run(&opt, mem, NULL), 0);
        fclose(mem);
    }
    const char *a = strstr(out[0], "\"return_mean\":"), *b = strstr(out[1], "\"return_mean\":");
    cr_assert(a && b);
    cr_assert_neq(strtod(a + 14, NULL), strtod(b + 14, NULL), "%s\n%s", out[0], out[1]);
    free(out[0]);
    free(out[1]);
    cr_assert_eq(vb_config_set(&c, "eval.keep_best=true", err, sizeof err), 0, "%s", err);
    cr_assert_neq(vb_config_validate(&c, err, sizeof err), 0);
    cr_assert(strstr(err, "eval.keep_best needs eval.every_updates"), "%s", err);
}

/* learner.window_bootstrap: task. With gamma 1 and lambda 1 a window's
 * lambda-returns are the rest of its task's rewards: windows of half a task
 * (10 steps), once each task's second half has reached the learner, return
 * what whole windows over the same acting return; bootstrapping from the
 * untrained value head does not. */
static const char *const window_base[] = {"run.algo=varibad", "env.gamma=1", "learner.lambda=1",
                                          "learner.samples_per_insert=0", "learner.max_policy_lag=100000",
                                          "learner.elbo_warmup_updates=0", NULL};

static double return_after(int steps, const char *const *sets, double *data) {
    char err[512];
    fixed f;
    fixed_setup(&f, window_base, sets, steps);
    vb_update_stats st;
    cr_assert(vb_learning_ready(f.l));
    cr_assert_eq(vb_learning_update(f.l, &st, err, sizeof err), 0, "%s", err);
    if (data) *data = data_return(f.l, 1.0);
    fixed_free(&f);
    return st.return_mean;
}

/* Whether a batch of 17 windows could be drawn after `steps` steps. */
static bool ready17_after(int steps, const char *const *sets) {
    enum { MAX_SETS = 8 };
    const char *more[MAX_SETS + 2] = {0};
    int n = 0;
    for (; sets[n]; n++) {
        cr_assert_lt(n, MAX_SETS, "ready17_after takes at most %d settings", MAX_SETS);
        more[n] = sets[n];
    }
    more[n] = "learner.batch_windows=17";
    fixed f;
    fixed_setup(&f, window_base, more, steps);
    const bool ready = vb_learning_ready(f.l);
    fixed_free(&f);
    return ready;
}

static double first_return(const char *window, const char *windows, const char *capacity, const char *boot,
                           double *data) {
    return return_after(20, (const char *[]){window, windows, capacity, boot, NULL}, data);
}

Test(train, windows_bootstrapped_from_the_rest_of_the_task_return_what_whole_windows_do) {
    double data;
    const double whole = first_return("learner.window=10", "learner.batch_windows=16", "learner.replay_capacity=16",
                                      "learner.window_bootstrap=value", &data);
    cr_assert_float_eq(whole, data, 1e-5, "whole windows: %g, the data's return %g", whole, data);
    const double half = first_return("learner.window=5", "learner.batch_windows=32", "learner.replay_capacity=32",
                                     "learner.window_bootstrap=task", NULL);
    const double half_v = first_return("learner.window=5", "learner.batch_windows=32", "learner.replay_capacity=32",
                                       "learner.window_bootstrap=value", NULL);
    cr_log_info("return to the task's end %g; half windows: from the rest of the task %g, from the value head %g", whole,
                half, half_v);
    cr_assert_float_eq(half, whole, 1e-4, "from the rest of the task %g, whole windows %g", half, whole);
    cr_assert_gt(fabs(half_v - whole), 1e-3, "the value head's bootstrap %g is not the rest of the task %g", half_v,
                 whole);
}

/* learner.wait_for_task: 15 steps of tasks of 10 in windows of 5 leave each
 * slot's first task whole in the replay (two windows) and its second task's
 * first half open. Waiting, a batch of the 16 ended windows returns what whole
 * windows over the first tasks return, and a 17th window cannot be drawn
 * until the replay is full (then it is filled with a running task's window);
 * without waiting the open halves are drawn too and bootstrap from the value
 * head. */
Test(train, waiting_for_the_task_draws_only_windows_whose_task_has_ended) {
    const double whole = return_after(10, (const char *[]){"learner.window=10", "learner.batch_windows=8",
                                                           "learner.replay_capacity=8", NULL}, NULL);
    const char *wait[] = {"learner.window=5", "learner.batch_windows=16", "learner.replay_capacity=32",
                          "learner.window_bootstrap=task", "learner.wait_for_task=true", NULL};
    const double waited = return_after(15, wait, NULL);
    cr_assert_float_eq(waited, whole, 1e-4, "waiting for the task %g, whole windows %g", waited, whole);
    cr_assert(!ready17_after(15, wait), "a 17th window drawn while only 16 have ended");
    const char *full[] = {"learner.window=5", "learner.batch_windows=16", "learner.replay_capacity=24",
                          "learner.window_bootstrap=task", "learner.wait_for_task=true", NULL};
    cr_assert(ready17_after(15, full), "a full replay with 16 ended windows stalls a batch of 17");
    const char *eager[] = {"learner.window=5", "learner.batch_windows=16", "learner.replay_capacity=32",
                           "learner.window_bootstrap=task", "learner.wait_for_task=false", NULL};
    const double drawn = return_after(15, eager, NULL);
    cr_assert(ready17_after(15, eager), "24 windows held, 17 drawable without waiting");
    cr_log_info("whole windows %g, waiting %g, not waiting %g", whole, waited, drawn);
    cr_assert_gt(fabs(drawn - whole), 1e-3, "not waiting drew only ended windows (%g against %g)", drawn, whole);
}

/* policy_lag: the updates between the weights that acted and the learner's
 * intake, averaged over the chunks offered since the last reading, which
 * resets it. */
Test(train, policy_lag_is_the_mean_version_gap_of_the_chunks_offered) {
    const char *base[] = {"run.algo=varibad", "learner.samples_per_insert=0", "learner.max_policy_lag=4", NULL};
    fixed f;
    fixed_setup(&f, base, NULL, 0);
    int64_t n;
    double lag = vb_learning_take_lag(f.l, &n);
    cr_assert_gt(n, 0, "the first window's chunks were offered");
    cr_assert_float_eq(lag, 0.0, 1e-12, "acted with the learner's own version: lag %g", lag);
    lag = vb_learning_take_lag(f.l, &n);
    cr_assert_eq(n, 0, "reading resets the count");
    cr_assert(isnan(lag));
    /* the learner 3 updates ahead of the weights that act: every chunk lags 3 */
    vb_learning_set_version(f.l, 3);
    char err[256];
    for (int s = 0; s < (int)f.cfg.learner.window; s++)
        cr_assert_eq(vb_acting_step(&f.a, sink_into, f.l, err, sizeof err), 0, "%s", err);
    lag = vb_learning_take_lag(f.l, &n);
    cr_assert_gt(n, 0);
    cr_assert_float_eq(lag, 3.0, 1e-12, "lag %g over %lld chunks", lag, (long long)n);
    cr_assert_eq(vb_learning_dropped(f.l), 0);
    /* 6 ahead, past learner.max_policy_lag: the chunks are dropped and still counted */
    vb_learning_set_version(f.l, 6);
    for (int s = 0; s < (int)f.cfg.learner.window; s++)
        cr_assert_eq(vb_acting_step(&f.a, sink_stale, f.l, err, sizeof err), 0, "%s", err);
    const int64_t dropped = vb_learning_dropped(f.l);
    lag = vb_learning_take_lag(f.l, &n);
    cr_assert_eq(n, dropped, "%lld offered, %lld dropped", (long long)n, (long long)dropped);
    cr_assert_float_eq(lag, 6.0, 1e-12);
    fixed_free(&f);
}

/* An 8-slot actor on the smoke config with the given --set assignments and
 * initialised weights, no learner: its steps go nowhere. */
typedef struct bare_actor {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    float *P;
    vb_acting a;
} bare_actor;

static void sink_nowhere(const vb_chunk *c, void *ctx) {
    (void)c;
    (void)ctx;
}

static void bare_actor_setup(bare_actor *b, const char *const *sets) {
    char err[512];
    smoke_model(&b->cfg, &b->spec, &b->m, &b->P, sets, NULL);
    cr_assert_eq(vb_acting_create_from_config(&b->a, vb_backend_cpu(), &b->m, &b->cfg, 8, 1, 0, err, sizeof err), 0,
                 "%s", err);
}

static void bare_actor_free(bare_actor *b) {
    vb_acting_destroy(&b->a);
    free(b->P);
}

/* q* of every slot after one step with weights of version v. */
static void bare_actor_step(bare_actor *b, uint64_t v, float *q) {
    char err[256];
    vb_acting_set_params(&b->a, b->P, v);
    cr_assert_eq(vb_acting_step(&b->a, sink_nowhere, NULL, err, sizeof err), 0, "%s", err);
    memcpy(q, b->a.q, sizeof(float) * (size_t)(b->a.n * b->m.d.actions));
}

Test(train, the_entropy_temperature_falls_to_zero_over_its_updates) {
    cr_assert_float_eq(vb_entropy_schedule(0.5, 100, 0), 0.5, 1e-15);
    cr_assert_float_eq(vb_entropy_schedule(0.5, 100, 25), 0.375, 1e-15);
    cr_assert_eq(vb_entropy_schedule(0.5, 100, 100), 0.0);
    cr_assert_eq(vb_entropy_schedule(0.5, 100, 1000000), 0.0);
    cr_assert_eq(vb_entropy_schedule(0.5, 0, 1000000), 0.5, "decay 0: constant");

    const char *decaying[] = {"run.algo=varibased", "planner.entropy=0.5", "planner.entropy_decay=100", NULL};
    const char *plain[] = {"run.algo=varibased", "planner.entropy=0", NULL};
    const char *constant[] = {"run.algo=varibased", "planner.entropy=0.5", NULL};
    bare_actor d, p, c;
    bare_actor_setup(&d, decaying);
    bare_actor_setup(&p, plain);
    bare_actor_setup(&c, constant);
    /* the actor's planner follows its weights' version */
    vb_acting_set_params(&d.a, d.P, 40);
    cr_assert_float_eq(vb_smc_entropy(vb_planner_search(d.a.planner)), 0.3, 1e-12);
    const int64_t n = 8 * d.m.d.actions;
    float *qd = malloc(sizeof(float) * (size_t)n), *qp = malloc(sizeof(float) * (size_t)n),
          *qc = malloc(sizeof(float) * (size_t)n);
    /* past the decay the targets are the plain improvement step's, to the bit;
     * with the temperature held they are not */
    bare_actor_step(&d, 100, qd);
    bare_actor_step(&p, 100, qp);
    bare_actor_step(&c, 100, qc);
    cr_assert_eq(vb_smc_entropy(vb_planner_search(d.a.planner)), 0.0);
    cr_assert_eq(memcmp(qd, qp, sizeof(float) * (size_t)n), 0, "q* after the decay differs from tau 0's");
    cr_assert_neq(memcmp(qd, qc, sizeof(float) * (size_t)n), 0, "tau 0.5 gave the same q* as tau 0");
    free(qd);
    free(qp);
    free(qc);
    bare_actor_free(&d);
    bare_actor_free(&p);
    bare_actor_free(&c);
}

Test(train, the_planning_depth_deepens_from_its_update) {
    const char *late[] = {"run.algo=varibased", "planner.depth=1", "planner.late_depth=3", "planner.late_from=100",
                          NULL};
    const char *shallow[] = {"run.algo=varibased", "planner.depth=1", NULL};
    const char *deep[] = {"run.algo=varibased", "planner.depth=3", NULL};
    bare_actor l, s, d, l2;
    bare_actor_setup(&l, late);
    bare_actor_setup(&l2, late);
    bare_actor_setup(&s, shallow);
    bare_actor_setup(&d, deep);
    const int64_t n = 8 * l.m.d.actions;
    float *q = malloc(sizeof(float) * (size_t)(3 * n)), *ql = q, *qs = q + n, *qd = q + 2 * n;
    /* before update 100 the actor plans as planner.depth says, to the bit */
    bare_actor_step(&l, 99, ql);
    bare_actor_step(&s, 99, qs);
    cr_assert_eq(vb_smc_depth(vb_planner_search(l.a.planner)), 1);
    cr_assert_eq(memcmp(ql, qs, sizeof(float) * (size_t)n), 0, "q* before late_from differs from depth 1's");
    /* from it on as planner.late_depth does */
    bare_actor_step(&l2, 100, ql);
    bare_actor_step(&d, 100, qd);
    cr_assert_eq(vb_smc_depth(vb_planner_search(l2.a.planner)), 3);
    cr_assert_eq(memcmp(ql, qd, sizeof(float) * (size_t)n), 0, "q* from late_from on differs from depth 3's");
    /* on the same first step */
    cr_assert_neq(memcmp(qd, qs, sizeof(float) * (size_t)n), 0, "depths 1 and 3 gave the same q*");
    free(q);
    bare_actor_free(&l);
    bare_actor_free(&l2);
    bare_actor_free(&s);
    bare_actor_free(&d);
}
