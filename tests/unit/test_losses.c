/* The learner's composed losses: GAE and the clipped surrogate against values
 * worked by hand, and the gradients of the PPO loss, the planner-target
 * cross-entropy and the ELBO (with its KL to the previous posterior) against
 * central finite differences of the loss each one reports. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/train/elbo.h"
#include "common/train/planner_targets.h"
#include "common/train/ppo.h"
#include "common/nn/arena.h"
#include "kernels/backend.h"

static const vb_backend *be;
static void setup(void) { be = vb_backend_cpu(); }

static float *randn(vb_rng *r, int64_t n, double sd) {
    float *x = calloc((size_t)n, sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(sd * vb_rng_normal(r));
    return x;
}

/* |analytic - numeric| within 1e-3 absolute plus 2% relative. */
static void expect_grad(double analytic, double numeric, const char *what, int64_t i) {
    double tol = 1e-3 + 0.02 * fabs(numeric);
    cr_assert(fabs(analytic - numeric) <= tol, "%s[%lld]: analytic %.6g, finite difference %.6g", what, (long long)i,
              analytic, numeric);
}

/* Every element of x (n) against the analytic gradient grad: central
 * differences of step 1e-3 of the loss that loss(ctx) recomputes. */
typedef double (*loss_fn)(void *ctx);
static void fd_check(float *x, const float *grad, int64_t n, loss_fn loss, void *ctx, const char *what) {
    const float h = 1e-3f;
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + h;
        double up = loss(ctx);
        x[i] = x0 - h;
        double dn = loss(ctx);
        x[i] = x0;
        expect_grad(grad[i], (up - dn) / (2 * h), what, i);
    }
}

/* One window of three steps, the task ending at the last:
 *   delta_2 = 2 - 0.1 = 1.9 (terminal),          A_2 = 1.9
 *   delta_1 = 0 + 0.9 * 0.1 - 0.2 = -0.11,       A_1 = -0.11 + 0.45 * 1.9 = 0.745
 *   delta_0 = 1 + 0.9 * 0.2 - 0.5 = 0.68,        A_0 = 0.68 + 0.45 * 0.745 = 1.01525
 * returns A + V = 1.51525, 0.945, 2.0 (mean 1.48675); the advantages are then
 * standardised: mean 1.220083, population sd 0.493271. */
Test(losses, gae_by_hand, .init = setup) {
    vb_ppo_params p = {.gamma = 0.9, .lambda = 0.5};
    const float rew[3] = {1, 0, 2}, tdone[3] = {0, 0, 1}, values[4] = {0.5f, 0.2f, 0.1f, 9.0f};
    float adv[3], ret[3];
    double mean_ret = vb_gae(&p, 3, 1, rew, tdone, values, adv, ret);
    const double R[3] = {1.51525, 0.945, 2.0}, A[3] = {1.01525, 0.745, 1.9};
    for (int i = 0; i < 3; i++) cr_assert_float_eq(ret[i], R[i], 1e-5, "ret[%d] %.6f", i, ret[i]);
    cr_assert_float_eq(mean_ret, 1.48675, 1e-5);
    double m = (A[0] + A[1] + A[2]) / 3, sd = 0;
    for (int i = 0; i < 3; i++) sd += (A[i] - m) * (A[i] - m) / 3;
    sd = sqrt(sd);
    cr_assert_float_eq(m, 1.2200833, 1e-6);
    cr_assert_float_eq(sd, 0.4932706, 1e-6);
    for (int i = 0; i < 3; i++) cr_assert_float_eq(adv[i], (A[i] - m) / sd, 1e-5, "adv[%d]", i);
}

/* Two actions with logits (0, 0): pi(a) = 1/2. Row 0 acted with behaviour
 * probability 1/4 (ratio 2) and advantage +1: clipped at 1.2, surrogate -1.2
 * and no policy gradient. Row 1 had probability 1/2 (ratio 1) and advantage
 * -1: surrogate +1, gradient -d log pi(a) = -(onehot - pi) / M per logit. */
Test(losses, ppo_surrogate_by_hand, .init = setup) {
    vb_ppo_params p = {.clip = 0.2, .policy_coef = 1.0};
    const float logits[4] = {0, 0, 0, 0}, values[3] = {0, 0, 0}, adv[2] = {1, -1}, ret[2] = {0, 0};
    const float blogp[2] = {logf(0.25f), logf(0.5f)};
    const int32_t act[2] = {0, 1};
    float logp[2], ent[2], dlp[2], dent[2], d_logits[4], d_values[3];
    vb_ppo_ws ws = {logp, ent, dlp, dent};
    vb_ppo_batch b = {.L = 2, .N = 1, .A = 2, .logits = logits, .values = values, .act = act, .blogp = blogp,
                      .adv = adv, .ret = ret};
    vb_update_stats st = {0};
    vb_ppo_loss(be, &p, &b, &ws, d_logits, d_values, &st);
    cr_assert_float_eq(st.loss_policy, (-1.2 + 1.0) / 2, 1e-6);
    cr_assert_float_eq(st.clip_frac, 0.5, 1e-12);
    cr_assert_float_eq(st.entropy, log(2.0), 1e-6);
    cr_assert_float_eq(d_logits[0], 0.0, 1e-7);
    cr_assert_float_eq(d_logits[1], 0.0, 1e-7);
    /* row 1: loss = -ratio * (-1) / 2 = pi(1) / (2 * 0.5); d/dlogit_k = (onehot_k - pi_k) * ratio / 2 */
    cr_assert_float_eq(d_logits[2], -0.25, 1e-6);
    cr_assert_float_eq(d_logits[3], 0.25, 1e-6);
}

/* A row whose behaviour log-probability is far from the current policy
 * (forged, or from a policy long gone) leaves the policy term out: no
 * gradient through its log-probability, counted; its entropy and value terms
 * stay. */
Test(losses, ppo_leaves_out_rows_from_no_recent_policy, .init = setup) {
    vb_ppo_params p = {.clip = 0.2, .policy_coef = 1.0, .value_coef = 0.5};
    const float logits[4] = {0, 0, 0, 0}, values[3] = {1, 0, 0}, adv[2] = {-1, -1}, ret[2] = {0, 0};
    const float blogp[2] = {-30.0f, logf(0.5f)}; /* row 0: e^29 below pi(a) = 1/2 */
    const int32_t act[2] = {0, 1};
    float logp[2], ent[2], dlp[2], dent[2], d_logits[4], d_values[3];
    vb_ppo_ws ws = {logp, ent, dlp, dent};
    vb_ppo_batch b = {.L = 2, .N = 1, .A = 2, .logits = logits, .values = values, .act = act, .blogp = blogp,
                      .adv = adv, .ret = ret};
    vb_update_stats st = {0};
    vb_ppo_loss(be, &p, &b, &ws, d_logits, d_values, &st);
    cr_assert_float_eq(st.masked_frac, 0.5, 1e-12);
    cr_assert_float_eq(d_logits[0], 0.0, 1e-7, "no policy gradient from the forged row");
    cr_assert_float_eq(d_logits[1], 0.0, 1e-7);
    cr_assert_float_eq(st.loss_policy, 1.0 / 2, 1e-6, "only row 1's surrogate (+1) counts");
    cr_assert_float_eq(d_values[0], 2.0 * 0.5 * 1.0 / 2, 1e-6, "the forged row's value term stays");
    cr_assert_float_eq(st.entropy, log(2.0), 1e-6);
}

/* ---- finite differences of whole losses ---------------------------------- */
enum { L = 4, N = 3, A = 5, LN = L * N, TN = (L + 1) * N };

static double ppo_total(const vb_ppo_params *p, vb_ppo_batch *b, const vb_ppo_ws *ws, float *dl, float *dv) {
    vb_update_stats st = {0};
    vb_ppo_loss(be, p, b, ws, dl, dv, &st);
    return p->policy_coef * st.loss_policy - p->ent_coef * st.entropy + p->value_coef * st.loss_value;
}

typedef struct ppo_ctx {
    const vb_ppo_params *p;
    vb_ppo_batch *b;
    const vb_ppo_ws *ws;
    float *dl, *dv;
} ppo_ctx;
static double ppo_loss_of(void *ctx) {
    ppo_ctx *c = ctx;
    return ppo_total(c->p, c->b, c->ws, c->dl, c->dv);
}

Test(losses, ppo_gradient_matches_finite_differences, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 11, 0);
    vb_ppo_params p = {.gamma = 0.9, .lambda = 0.8, .clip = 0.2, .ent_coef = 0.05, .value_coef = 0.7,
                       .policy_coef = 1.3};
    float *logits = randn(&r, LN * A, 1), *values = randn(&r, TN, 1), *adv = randn(&r, LN, 1),
          *ret = randn(&r, LN, 1), *blogp = calloc(LN, sizeof(float));
    int32_t act[LN];
    float lp[LN], ent[LN], dlp[LN], dent[LN], dl[LN * A], dv[TN], dl2[LN * A], dv2[TN];
    vb_ppo_ws ws = {lp, ent, dlp, dent};
    for (int64_t i = 0; i < LN; i++) act[i] = (int32_t)(vb_rng_u32(&r) % A);
    be->cat_logprob_forward(lp, logits, act, LN, A);
    /* behaviour log-probabilities: ratios spread over [0.55, 1.8], some rows
     * clipped, none within 0.05 of a clip edge (where the loss has a kink) */
    for (int64_t i = 0; i < LN; i++) {
        double ratio;
        do ratio = 0.55 + 1.25 * vb_rng_uniform(&r);
        while (fabs(ratio - 0.8) < 0.05 || fabs(ratio - 1.2) < 0.05);
        blogp[i] = lp[i] - (float)log(ratio);
    }
    vb_ppo_batch b = {.L = L, .N = N, .A = A, .logits = logits, .values = values, .act = act, .blogp = blogp,
                      .adv = adv, .ret = ret};
    ppo_total(&p, &b, &ws, dl, dv);
    ppo_ctx c = {&p, &b, &ws, dl2, dv2};
    fd_check(logits, dl, LN * A, ppo_loss_of, &c, "d_logits");
    fd_check(values, dv, TN, ppo_loss_of, &c, "d_values");
    free(logits);
    free(values);
    free(adv);
    free(ret);
    free(blogp);
}

static double targets_total(const vb_planner_targets_params *p, const vb_planner_targets_batch *b, float *dl,
                            float *dv) {
    vb_update_stats st = {0};
    vb_planner_targets_loss(be, p, b, dl, dv, &st);
    return p->value_coef * st.loss_value + p->policy_coef * st.loss_policy;
}

typedef struct targets_ctx {
    const vb_planner_targets_params *p;
    const vb_planner_targets_batch *b;
    float *dl, *dv;
} targets_ctx;
static double targets_loss_of(void *ctx) {
    targets_ctx *c = ctx;
    return targets_total(c->p, c->b, c->dl, c->dv);
}

Test(losses, planner_target_gradient_matches_finite_differences, .init = setup) {
    vb_rng r;
    vb_rng_init(&r, 12, 0);
    vb_planner_targets_params p = {.value_coef = 0.6, .policy_coef = 1.4};
    float *logits = randn(&r, LN * A, 1), *values = randn(&r, TN, 1), *vt = randn(&r, LN, 1),
          *q = calloc(LN * A, sizeof(float));
    for (int64_t i = 0; i < LN; i++) { /* a distribution per row */
        double s = 0;
        for (int64_t a = 0; a < A; a++) s += q[i * A + a] = (float)vb_rng_uniform(&r);
        for (int64_t a = 0; a < A; a++) q[i * A + a] = (float)(q[i * A + a] / s);
    }
    vb_planner_targets_batch b = {.L = L, .N = N, .A = A, .logits = logits, .values = values, .v_target = vt,
                                  .v_planner = vt, .q_target = q};
    float dl[LN * A], dv[TN], dl2[LN * A], dv2[TN];
    targets_total(&p, &b, dl, dv);
    targets_ctx c = {&p, &b, dl2, dv2};
    fd_check(logits, dl, LN * A, targets_loss_of, &c, "d_logits");
    fd_check(values, dv, TN, targets_loss_of, &c, "d_values");
    free(logits);
    free(values);
    free(vt);
    free(q);
}

/* The ELBO under fixed noise (the generator restarted at the same position
 * for every evaluation): -coef * elbo against its gradients in the
 * posteriors phi (the KL's previous posterior included) and in the
 * decoder's parameters. */
enum { D = 2, C = 6, SO = 2, SA = 3, SC = 5, EXT = 4 };

typedef struct elbo_case {
    vb_layout lay;
    vb_mlp dec, sdec;
    bool state;                  /* with a state head */
    float *P, *G, *phi, *phi0, *rew, *task, *obs, *next;
    uint8_t kind[LN];
    int32_t seg[LN], cell[LN], act[LN], next_cell[LN];
    bool ext;                    /* with transitions outside the windows */
    int64_t ext_n[N];
    int32_t ext_cell[N * EXT], ext_seg[N * EXT];
    float ext_rew[N * EXT];
    uint8_t ext_future[N * EXT];
    vb_elbo_ws ws;
    void *block;
} elbo_case;

static double elbo_total(elbo_case *e, const vb_elbo_params *p, float *d_phi, const vb_rng *rng0) {
    vb_rng rng = *rng0;
    vb_update_stats st = {0};
    vb_elbo_batch b = {.L = L, .N = N, .phi = e->phi, .phi_prev0 = e->phi0, .prev_kind = e->kind, .seg = e->seg,
                       .cell = e->cell, .rew = e->rew, .task_cells = p->decode_task ? e->task : NULL,
                       .obs = e->obs, .obs_stride = SO,
                       .state = {.obs = e->obs, .act = e->act, .next = e->next, .next_cell = e->next_cell}};
    if (e->ext) {
        b.E = EXT;
        b.ext_n = e->ext_n;
        b.ext_cell = e->ext_cell;
        b.ext_seg = e->ext_seg;
        b.ext_rew = e->ext_rew;
        b.ext_future = e->ext_future;
    }
    memset(e->G, 0, sizeof(float) * (size_t)e->lay.total);
    memset(d_phi, 0, sizeof(float) * LN * 2 * D);
    vb_elbo_loss(be, &e->dec, e->state ? &e->sdec : NULL, e->P, e->G, p, &b, &e->ws, &rng, d_phi, &st);
    return -p->coef * (st.elbo + st.state_loglik);
}

typedef struct elbo_ctx {
    elbo_case *e;
    const vb_elbo_params *p;
    float *d_phi;
    const vb_rng *rng0;
} elbo_ctx;
static double elbo_loss_of(void *ctx) {
    elbo_ctx *c = ctx;
    return elbo_total(c->e, c->p, c->d_phi, c->rng0);
}

/* The reward cells: Gaussian means, Bernoulli logits, or one softmax over the
 * cells (model.reward_decoder: categorical; its task labels one-hot), also
 * with one cell the decoder all but settles on (p near 0.9) and misses
 * there among the other transitions. */
enum { GAUSSIAN = 0, BERNOULLI = 1, CATEGORICAL = 2, CATEGORICAL_DOMINANT = 3 };

/* state_cells < 0: no state head; 0: Gaussian successors; > 0: categorical
 * over cells. ext: each window's tasks have transitions outside it. dec_obs:
 * the reward decoder reads (z, s) (model.decoder_obs), and its loss moves
 * with s. */
static void elbo_check_obs(bool decode_task, int cells, int state_cells, bool ext, bool dec_obs) {
    const bool bernoulli = cells != GAUSSIAN, categorical = cells >= CATEGORICAL;
    vb_rng r;
    vb_rng_init(&r, 13, 0);
    elbo_case e;
    memset(&e, 0, sizeof e);
    vb_layout_init(&e.lay);
    const int64_t hid[1] = {8};
    cr_assert_eq(vb_mlp_layout(&e.dec, &e.lay, "dec", D + (dec_obs ? SO : 0), hid, 1, C, VB_ACT_TANH, VB_ACT_NONE), 0);
    e.state = state_cells >= 0;
    if (e.state)
        cr_assert_eq(vb_mlp_layout(&e.sdec, &e.lay, "sdec", SO + SA + D, hid, 1, state_cells > 0 ? state_cells : SO,
                                   VB_ACT_TANH, VB_ACT_NONE), 0);
    e.P = calloc((size_t)e.lay.total, sizeof(float));
    e.G = calloc((size_t)e.lay.total, sizeof(float));
    vb_mlp_init(&e.dec, e.P, &r);
    if (cells == CATEGORICAL_DOMINANT) e.P[e.dec.layer[e.dec.n - 1].b + 2] += 4.0f;
    if (e.state) vb_mlp_init(&e.sdec, e.P, &r);
    e.obs = randn(&r, LN * SO, 1.0);
    e.next = randn(&r, LN * SO, 1.0);
    for (int64_t i = 0; i < LN; i++) {
        e.act[i] = (int32_t)(vb_rng_u32(&r) % SA);
        e.next_cell[i] = (int32_t)(vb_rng_u32(&r) % SC);
    }
    e.phi = randn(&r, LN * 2 * D, 0.5);
    e.phi0 = randn(&r, N * 2 * D, 0.5);
    e.rew = calloc(LN, sizeof(float));
    e.task = calloc(LN * C, sizeof(float));
    /* window w: a task starts at step 0 for w = 0, at step 2 for w = 1, never for w = 2 */
    for (int64_t w = 0; w < N; w++)
        for (int64_t t = 0; t < L; t++) {
            int64_t row = t * N + w;
            bool start = (w == 0 && t == 0) || (w == 1 && t == 2);
            e.kind[row] = start ? 0 : t == 0 ? 1 : 2;
            e.seg[row] = w == 1 && t >= 2;
            e.cell[row] = (int32_t)(vb_rng_u32(&r) % C);
            e.rew[row] = bernoulli ? (float)(vb_rng_u32(&r) % 2) : (float)vb_rng_normal(&r);
            if (cells == CATEGORICAL_DOMINANT && t % 2 == 0) e.cell[row] = 2, e.rew[row] = 0.0f;
            for (int64_t k = 0; k < C; k++)
                e.task[row * C + k] = categorical ? (float)(k == (w + 2 * e.seg[row]) % C)
                                      : bernoulli         ? (float)vb_rng_uniform(&r)
                                                          : (float)vb_rng_normal(&r);
        }
    /* before the window: window 1's and 2's first tasks; after it: every window's last task */
    e.ext = ext;
    for (int64_t w = 0; w < N && ext; w++) {
        int64_t n = 0;
        for (int64_t j = 0; j < (w > 0 ? 2 : 0); j++, n++) {
            e.ext_seg[w * EXT + n] = 0;
            e.ext_future[w * EXT + n] = 0;
        }
        for (int64_t j = 0; j < 2; j++, n++) {
            e.ext_seg[w * EXT + n] = w == 1;
            e.ext_future[w * EXT + n] = 1;
        }
        for (int64_t j = 0; j < n; j++) {
            e.ext_cell[w * EXT + j] = (int32_t)(vb_rng_u32(&r) % C);
            e.ext_rew[w * EXT + j] = bernoulli ? (float)(vb_rng_u32(&r) % 2) : (float)vb_rng_normal(&r);
        }
        e.ext_n[w] = n;
    }
    vb_elbo_params p = {.coef = 1.5, .kl_beta = 0.7, .samples = 2, .decode_task = decode_task,
                        .bernoulli = bernoulli, .categorical = categorical, .hit_level = 1.0f,
                        .dec_obs = dec_obs ? SO : 0,
                        .state = {.coef = 1.5, .pairs = 3, .obs = SO, .actions = SA,
                                  .state_cells = state_cells > 0 ? state_cells : 0}};
    vb_carver c = {0};
    vb_elbo_carve(&e.ws, &c, &e.dec, e.state ? &e.sdec : NULL, &p, LN);
    e.block = calloc(1, c.off);
    c = (vb_carver){.base = e.block};
    vb_elbo_carve(&e.ws, &c, &e.dec, e.state ? &e.sdec : NULL, &p, LN);
    vb_rng rng0;
    vb_rng_init(&rng0, 14, 0);
    float dphi[LN * 2 * D], scratch[LN * 2 * D];
    elbo_total(&e, &p, dphi, &rng0);
    float *G0 = calloc((size_t)e.lay.total, sizeof(float));
    memcpy(G0, e.G, sizeof(float) * (size_t)e.lay.total);
    elbo_ctx ec = {&e, &p, scratch, &rng0};
    fd_check(e.phi, dphi, LN * 2 * D, elbo_loss_of, &ec, "d_phi");
    fd_check(e.P, G0, e.lay.total, elbo_loss_of, &ec, "G (decoders)");
    if (dec_obs) { /* the rows' observations reach the reward cells */
        double before = elbo_total(&e, &p, scratch, &rng0);
        for (int64_t i = 0; i < LN * SO; i += SO) e.obs[i] += 0.5f;
        double after = elbo_total(&e, &p, scratch, &rng0);
        cr_assert_gt(fabs(after - before), 1e-4, "the loss does not move with s (%g -> %g)", before, after);
    }
    free(G0);
    free(e.obs);
    free(e.next);
    free(e.P);
    free(e.G);
    free(e.phi);
    free(e.phi0);
    free(e.rew);
    free(e.task);
    free(e.block);
}

static void elbo_check(bool decode_task, int cells, int state_cells, bool ext) {
    elbo_check_obs(decode_task, cells, state_cells, ext, false);
}

Test(losses, elbo_gradient_decoding_transitions_bernoulli, .init = setup) { elbo_check(false, true, -1, false); }
Test(losses, elbo_gradient_decoding_transitions_gaussian, .init = setup) { elbo_check(false, false, -1, false); }
Test(losses, elbo_gradient_decoding_the_task, .init = setup) { elbo_check(true, true, -1, false); }
/* learner.elbo_span: task, transitions before and after the windows */
Test(losses, elbo_gradient_decoding_whole_tasks_bernoulli, .init = setup) { elbo_check(false, true, -1, true); }
Test(losses, elbo_gradient_decoding_whole_tasks_gaussian, .init = setup) { elbo_check(false, false, -1, true); }
/* the next-state term on the same latent samples: categorical over cells, and Gaussian */
Test(losses, elbo_gradient_decoding_transitions_categorical, .init = setup) { elbo_check(false, CATEGORICAL, -1, false); }
Test(losses, elbo_gradient_decoding_the_task_categorical, .init = setup) { elbo_check(true, CATEGORICAL, -1, false); }
Test(losses, elbo_gradient_decoding_whole_tasks_categorical, .init = setup) { elbo_check(false, CATEGORICAL, 5, true); }
Test(losses, elbo_gradient_decoding_misses_at_a_dominant_cell, .init = setup) {
    elbo_check(false, CATEGORICAL_DOMINANT, -1, true);
}
Test(losses, elbo_gradient_with_a_categorical_state_head, .init = setup) { elbo_check(true, true, SC, false); }
Test(losses, elbo_gradient_with_a_gaussian_state_head, .init = setup) { elbo_check(false, true, 0, true); }
/* model.decoder_obs: the reward decoder reads each row's observation too */
Test(losses, elbo_gradient_with_the_observation_in_the_decoder, .init = setup) {
    elbo_check_obs(true, true, SC, false, true);
    elbo_check_obs(false, CATEGORICAL, -1, true, true);
}

/* A reward decoder (latent D -> 4 tanh -> C cells) with its parameters,
 * gradient and the ELBO's workspace for `rows` rows; init_seed 0 leaves the
 * parameters zero. */
typedef struct small_elbo {
    vb_layout lay;
    vb_mlp dec;
    float *P, *G;
    vb_elbo_ws ws;
    void *block;
} small_elbo;

static void small_elbo_init(small_elbo *e, const vb_elbo_params *p, int64_t rows, uint64_t init_seed) {
    vb_layout_init(&e->lay);
    const int64_t hid[1] = {4};
    cr_assert_eq(vb_mlp_layout(&e->dec, &e->lay, "dec", D, hid, 1, C, VB_ACT_TANH, VB_ACT_NONE), 0);
    e->P = calloc((size_t)e->lay.total, sizeof(float));
    e->G = calloc((size_t)e->lay.total, sizeof(float));
    if (init_seed) {
        vb_rng r;
        vb_rng_init(&r, init_seed, 0);
        vb_mlp_init(&e->dec, e->P, &r);
    }
    vb_carver c = {0};
    vb_elbo_carve(&e->ws, &c, &e->dec, NULL, p, rows);
    e->block = calloc(1, c.off);
    c = (vb_carver){.base = e->block};
    vb_elbo_carve(&e->ws, &c, &e->dec, NULL, p, rows);
}

static void small_elbo_free(small_elbo *e) {
    free(e->P);
    free(e->G);
    free(e->block);
}

/* KL(N(mu, s^2) || N(0, 1)) per row by hand: a task-start row with mu = (1, 0),
 * logvar = (0, log 4) has KL = 0.5 (1 + 1 - 1 - 0) + 0.5 (4 + 0 - 1 - log 4)
 * = 0.5 + 0.5 (3 - 1.386294) = 1.306853. */
/* The ELBO of one window of one row, a task start with posterior phi that
 * decodes its own transition (cell, rew); noise from stream `seed`. */
static vb_update_stats one_row_elbo(small_elbo *e, const vb_elbo_params *p, const float phi[4], int32_t cell,
                                    float rew, uint64_t seed) {
    const float phi0[4] = {0};
    const uint8_t kind[1] = {0};
    const int32_t seg[1] = {0};
    vb_elbo_batch b = {.L = 1, .N = 1, .phi = phi, .phi_prev0 = phi0, .prev_kind = kind, .seg = seg, .cell = &cell,
                       .rew = &rew};
    vb_rng rng;
    vb_rng_init(&rng, seed, 0);
    float dphi[4] = {0};
    vb_update_stats st = {0};
    vb_elbo_loss(be, &e->dec, NULL, e->P, e->G, p, &b, &e->ws, &rng, dphi, &st);
    return st;
}

Test(losses, kl_to_the_prior_by_hand, .init = setup) {
    vb_elbo_params p = {.coef = 1, .kl_beta = 1, .samples = 1, .bernoulli = true, .hit_level = 1};
    small_elbo e;
    small_elbo_init(&e, &p, 1, 0);
    const float phi[4] = {1, 0, 0, logf(4)};
    vb_update_stats st = one_row_elbo(&e, &p, phi, 0, 0.0f, 1);
    cr_assert_float_eq(st.kl, 1.3068528, 1e-5);
    /* the decoder is all zeros: every cell is logit 0, log p = -log 2 */
    cr_assert_float_eq(st.loss_recon, log(2.0), 1e-6);
    small_elbo_free(&e);
}

/* learner.elbo_span: task by hand. A window of 2 rows in which a task starts
 * at row 1: row 0 decodes its own transition and one of its task's from
 * before the window, row 1 its own and one of its task's from after it, and
 * neither decodes the other's (Gaussian cells; logvar -60 makes z = mu). */
Test(losses, transitions_outside_the_window_are_decoded_by_their_tasks_rows, .init = setup) {
    vb_elbo_params p = {.coef = 1, .kl_beta = 1, .samples = 1, .bernoulli = false};
    small_elbo e;
    small_elbo_init(&e, &p, 2, 5);
    vb_rng r;
    vb_rng_init(&r, 6, 0);
    const float phi[8] = {0.3f, -0.7f, -60, -60, -0.4f, 0.9f, -60, -60}, phi0[4] = {0}, rew[2] = {0.5f, -1.0f};
    const uint8_t kind[2] = {1, 0};
    const int32_t seg[2] = {0, 1}, cell[2] = {1, 4};
    const int64_t ext_n[1] = {2};
    const int32_t ext_cell[2] = {2, 5}, ext_seg[2] = {0, 1};
    const float ext_rew[2] = {2.0f, 0.25f};
    const uint8_t ext_future[2] = {0, 1};
    vb_elbo_batch b = {.L = 2, .N = 1, .phi = phi, .phi_prev0 = phi0, .prev_kind = kind, .seg = seg, .cell = cell,
                       .rew = rew, .E = 2, .ext_n = ext_n, .ext_cell = ext_cell, .ext_seg = ext_seg,
                       .ext_rew = ext_rew, .ext_future = ext_future};
    float dphi[8] = {0};
    vb_update_stats st = {0};
    vb_elbo_loss(be, &e.dec, NULL, e.P, e.G, &p, &b, &e.ws, &r, dphi, &st);
    /* the cells each row's mean decodes to */
    const float z[4] = {0.3f, -0.7f, -0.4f, 0.9f};
    float v[2 * C], cache[256];
    cr_assert_leq(vb_mlp_cache_floats(&e.dec, 2), 256);
    vb_mlp_forward(be, &e.dec, e.P, v, z, cache, 2);
    const double l2pi = 1.8378770664093453;
#define LP(row, k, y) (-0.5 * (((y) - v[(row) * C + (k)]) * ((y) - v[(row) * C + (k)]) + l2pi))
    double own0 = LP(0, 1, 0.5), before = LP(0, 2, 2.0), own1 = LP(1, 4, -1.0), after = LP(1, 5, 0.25);
#undef LP
    cr_assert_float_eq(st.loss_recon, -(own0 + before + own1 + after) / 4, 1e-5, "loss_recon %g", st.loss_recon);
    cr_assert_float_eq(st.belief_future_loglik, (own0 + own1 + after) / 3, 1e-5, "future %g",
                       st.belief_future_loglik);
    small_elbo_free(&e);
}

/* learner.refresh_grad: the KL's gradient at the cached previous belief of
 * a window's first row (d_phi_prev0) is the derivative of the minimised loss
 * -coef * elbo with respect to phi_prev0 (central differences), and rows
 * whose previous belief is another (the prior, a row) add nothing to it. */
Test(losses, the_kl_gradient_at_the_cached_previous_belief, .init = setup) {
    vb_elbo_params p = {.coef = 1.5, .kl_beta = 0.7, .samples = 1, .bernoulli = false};
    small_elbo e;
    small_elbo_init(&e, &p, 3, 0);
    const float phi[12] = {0.3f, -0.7f, -0.5f, 0.2f, -0.4f, 0.9f, 0.1f, -0.3f, 0.2f, 0.1f, -0.2f, 0.4f};
    float phi0[4] = {0.5f, 0.25f, -0.3f, 0.6f};
    const float rew[3] = {0.5f, -1.0f, 0.25f};
    const uint8_t kind[3] = {1, 2, 0};
    const int32_t seg[3] = {0, 0, 1}, cell[3] = {1, 4, 2};
    float dphi[12] = {0}, dprev[4] = {0};
    vb_elbo_batch b = {.L = 3, .N = 1, .phi = phi, .phi_prev0 = phi0, .d_phi_prev0 = dprev, .prev_kind = kind,
                       .seg = seg, .cell = cell, .rew = rew};
    vb_update_stats st = {0};
    vb_rng r;
    vb_rng_init(&r, 6, 0);
    vb_elbo_loss(be, &e.dec, NULL, e.P, e.G, &p, &b, &e.ws, &r, dphi, &st);
    b.d_phi_prev0 = NULL;
    for (int i = 0; i < 4; i++) {
        double f[2];
        const float h = 1e-2f, at = phi0[i];
        for (int sgn = 0; sgn < 2; sgn++) {
            phi0[i] = at + (sgn ? -h : h);
            vb_rng_init(&r, 6, 0);
            float scratch[12] = {0};
            vb_update_stats s2 = {0};
            vb_elbo_loss(be, &e.dec, NULL, e.P, e.G, &p, &b, &e.ws, &r, scratch, &s2);
            f[sgn] = -p.coef * s2.elbo;
        }
        phi0[i] = at;
        double num = (f[0] - f[1]) / (2 * h);
        cr_log_info("phi_prev0[%d]: %.6f, central differences %.6f", i, dprev[i], num);
        cr_assert(fabs(dprev[i] - num) <= 1e-3 * (1 + fabs(num)), "phi_prev0[%d]: %g, differences %g", i, dprev[i],
                  num);
        cr_assert_gt(fabs(dprev[i]), 1e-3, "phi_prev0[%d] took no gradient", i);
    }
    small_elbo_free(&e);
}

/* A categorical reward decoder by hand: the decoder's last bias v and no
 * weights, so every row decodes p = softmax(v). A window of two rows of one
 * task, a miss at cell 1 and a hit at cell 3: each row decodes both, so the
 * mean over the 4 pairs is -(log(1 - p_1) + log p_3) / 2. Decoding the task
 * whose goal is cell 3: -log p_3 per row. */
Test(losses, categorical_reward_cells_by_hand, .init = setup) {
    const float v[C] = {0.5f, -1.0f, 2.0f, 1.5f, 0.0f, -0.25f};
    double z = 0;
    for (int k = 0; k < C; k++) z += exp((double)v[k]);
    const double p1 = exp((double)v[1]) / z, p3 = exp((double)v[3]) / z;
    for (int task = 0; task < 2; task++) {
        vb_elbo_params p = {.coef = 1, .kl_beta = 1, .samples = 1, .bernoulli = true, .categorical = true,
                            .hit_level = 1, .decode_task = task};
        small_elbo e;
        small_elbo_init(&e, &p, 2, 0);
        const vb_linear *last = &e.dec.layer[e.dec.n - 1];
        memcpy(e.P + last->b, v, sizeof v);
        const float phi[8] = {0.3f, -0.7f, -60, -60, -0.4f, 0.9f, -60, -60}, phi0[4] = {0}, rew[2] = {0, 1};
        float labels[2 * C] = {0};
        labels[3] = labels[C + 3] = 1;
        const uint8_t kind[2] = {0, 2};
        const int32_t seg[2] = {0, 0}, cell[2] = {1, 3};
        vb_elbo_batch b = {.L = 2, .N = 1, .phi = phi, .phi_prev0 = phi0, .prev_kind = kind, .seg = seg,
                           .cell = cell, .rew = rew, .task_cells = task ? labels : NULL};
        vb_rng r;
        vb_rng_init(&r, 2, 0);
        float dphi[8] = {0};
        vb_update_stats st = {0};
        vb_elbo_loss(be, &e.dec, NULL, e.P, e.G, &p, &b, &e.ws, &r, dphi, &st);
        const double want = task ? -log(p3) : -(log1p(-p1) + log(p3)) / 2;
        cr_assert_float_eq(st.loss_recon, want, 1e-5, "decode_task %d: loss_recon %g against %g", task,
                           st.loss_recon, want);
        /* the bias gradient: the loss's derivative in v, over 4 pairs or 2 rows */
        for (int k = 0; k < C; k++) {
            const double pk = exp((double)v[k]) / z;
            const double g = task ? pk - (k == 3) : 0.5 * ((pk - (k == 3)) + (p1 / (1 - p1)) * ((k == 1) - pk));
            cr_assert_float_eq(e.G[last->b + k], g, 1e-5, "decode_task %d: dL/dv_%d %g against %g", task, k,
                               e.G[last->b + k], g);
        }
        small_elbo_free(&e);
    }
    /* a miss at a cell the decoder is all but sure of (p_1 = 1 - 2e-8): the
     * loss -log(1 - p_1) and its gradient (p_1 at cell 1, -p_1 p_k / (1 - p_1)
     * elsewhere) stay exact and bounded */
    const float w[C] = {0.5f, 20.0f, 2.0f, 1.5f, 0.0f, -0.25f};
    long double zw = 0;
    for (int k = 0; k < C; k++) zw += expl((long double)w[k]);
    const long double q = (zw - expl((long double)w[1])) / zw, pw1 = 1 - q;
    vb_elbo_params p = {.coef = 1, .kl_beta = 1, .samples = 1, .bernoulli = true, .categorical = true,
                        .hit_level = 1};
    small_elbo e;
    small_elbo_init(&e, &p, 1, 0);
    const vb_linear *last = &e.dec.layer[e.dec.n - 1];
    memcpy(e.P + last->b, w, sizeof w);
    const float phi[4] = {0.3f, -0.7f, -60, -60};
    vb_update_stats st = one_row_elbo(&e, &p, phi, 1, 0.0f, 3);
    cr_assert_float_eq(st.loss_recon, -(double)logl(q), 1e-4, "loss_recon %g against %Lg", st.loss_recon, -logl(q));
    for (int k = 0; k < C; k++) {
        const long double g = k == 1 ? pw1 : -pw1 * expl((long double)w[k]) / zw / q;
        cr_assert(fabsl(e.G[last->b + k] - g) < 1e-5L * (1 + fabsl(g)), "dL/dv_%d %g against %Lg", k,
                  e.G[last->b + k], g);
    }
    small_elbo_free(&e);
}
