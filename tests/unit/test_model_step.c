/* The encoder one step at a time (acting, planning): rows in blocks of
 * be->chain_rows give each row the same bits as all rows at once (at one
 * BLAS thread, where the CPU's fused kernel runs), and the step equals a
 * one-step window of the encoder's forward. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/rng.h"
#include "common/model/model.h"
#include "common/params/params.h"
#include "kernels/backend.h"
#include "support.h"

/* The gridworld config's model with the given core, and its parameters
 * initialised from init_seed. */
static float *build(vb_model *m, const char *core, uint64_t init_seed) {
    char path[1024], err[512], set[64];
    vb_config cfg;
    vb_env_spec spec;
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/gridworld.yaml", path, sizeof path), err, sizeof err), 0);
    snprintf(set, sizeof set, "model.core=%s", core);
    cr_assert_eq(vb_config_set(&cfg, set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(m, &cfg, &spec, err, sizeof err), 0, "%s", err);
    float *P = calloc((size_t)m->layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(m, P, init_seed), 0);
    return P;
}

static float *randn(vb_rng *r, int64_t n, float s) {
    float *p = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) p[i] = s * vb_rng_normal(r);
    return p;
}

/* at one BLAS thread, where the CPU's fused kernel runs */
static int saved_threads;
static void one_thread(void) {
    saved_threads = vb_backend_cpu()->get_threads();
    vb_backend_cpu()->set_threads(1);
}
static void restore_threads(void) { vb_backend_cpu()->set_threads(saved_threads); }

Test(model_step, blocks_of_rows_give_the_bits_of_one_block_and_of_the_window, .init = one_thread,
     .fini = restore_threads) {
    const vb_backend *cpu = vb_backend_cpu();
    const char *cores[] = {"gru", "s5"};
    for (int c = 0; c < 2; c++) {
        vb_model m;
        float *P = build(&m, cores[c], 5);
        const vb_model_dims *d = &m.d;
        vb_rng r;
        vb_rng_init(&r, 23, (uint64_t)c);
        const int64_t Ns[] = {100, 700, 1300};
        for (size_t ni = 0; ni < 3; ni++) {
            const int64_t N = Ns[ni];
            float *x = randn(&r, N * d->in, 1), *carry0 = randn(&r, N * d->carry, 0.5f);
            float *carry[3], *o[3], *phi[3];
            const int64_t chains[3] = {0, 128, 512};
            for (int k = 0; k < 3; k++) {
                vb_backend be = *cpu;
                be.chain_rows = chains[k];
                vb_encoder_step_ws ws;
                cr_assert_eq(vb_encoder_step_ws_init(&ws, &m, N), 0);
                vb_encoder_step_prepare(&be, &m, P, &ws);
                carry[k] = malloc(sizeof(float) * (size_t)(N * d->carry));
                memcpy(carry[k], carry0, sizeof(float) * (size_t)(N * d->carry));
                o[k] = malloc(sizeof(float) * (size_t)(N * d->hidden));
                phi[k] = malloc(sizeof(float) * (size_t)(N * 2 * d->latent));
                vb_encoder_step(&be, &m, P, carry[k], x, o[k], phi[k], &ws, N);
                vb_encoder_step_ws_free(&ws);
                if (k == 0) continue;
                cr_assert_eq(memcmp(carry[k], carry[0], sizeof(float) * (size_t)(N * d->carry)), 0,
                             "%s N %lld chain %lld: carry", cores[c], (long long)N, (long long)chains[k]);
                cr_assert_eq(memcmp(o[k], o[0], sizeof(float) * (size_t)(N * d->hidden)), 0, "%s: o", cores[c]);
                cr_assert_eq(memcmp(phi[k], phi[0], sizeof(float) * (size_t)(N * 2 * d->latent)), 0, "%s: phi",
                             cores[c]);
            }
            /* a window of one step from the same carry */
            vb_encoder_ws ews;
            cr_assert_eq(vb_encoder_ws_init(&ews, &m, 1, N, 1), 0);
            float *wo = malloc(sizeof(float) * (size_t)(N * d->hidden)),
                  *wphi = malloc(sizeof(float) * (size_t)(N * 2 * d->latent)),
                  *wcarry = malloc(sizeof(float) * (size_t)(N * d->carry));
            vb_encoder_forward(cpu, &m, P, x, carry0, NULL, wo, wphi, wcarry, &ews, 1, N);
            for (int64_t i = 0; i < N * d->hidden; i++)
                cr_assert(fabsf(wo[i] - o[1][i]) <= 1e-5f * (1 + fabsf(wo[i])), "%s: o[%lld] %g, window %g",
                          cores[c], (long long)i, o[1][i], wo[i]);
            for (int64_t i = 0; i < N * 2 * d->latent; i++)
                cr_assert(fabsf(wphi[i] - phi[1][i]) <= 1e-4f * (1 + fabsf(wphi[i])), "%s: phi[%lld]", cores[c],
                          (long long)i);
            for (int64_t i = 0; i < N * d->carry; i++)
                cr_assert(fabsf(wcarry[i] - carry[1][i]) <= 1e-5f * (1 + fabsf(wcarry[i])), "%s: carry[%lld]",
                          cores[c], (long long)i);
            vb_encoder_ws_free(&ews);
            free(wo);
            free(wphi);
            free(wcarry);
            for (int k = 0; k < 3; k++) {
                free(carry[k]);
                free(o[k]);
                free(phi[k]);
            }
            free(x);
            free(carry0);
        }
        free(P);
    }
}

/* One core's check at R rows and blocks of `chain` rows. */
static void shared_step_matches_a_copy(vb_model *m, const float *P, vb_rng *r, int64_t R, int64_t chain) {
    const vb_model_dims *d = &m->d;
    const int64_t N = 2 * R;
    vb_backend be = *vb_backend_cpu();
    be.chain_rows = chain;
    float *x = randn(r, N * d->in, 1), *carry0 = randn(r, R * d->carry, 0.5f);
    float *carry[2], *o[2], *phi[2];
    for (int k = 0; k < 2; k++) {
        vb_encoder_step_ws ws;
        cr_assert_eq(vb_encoder_step_ws_init(&ws, m, N), 0);
        vb_encoder_step_prepare(&be, m, P, &ws);
        carry[k] = malloc(sizeof(float) * (size_t)(N * d->carry));
        o[k] = malloc(sizeof(float) * (size_t)(N * d->hidden));
        phi[k] = malloc(sizeof(float) * (size_t)(N * 2 * d->latent));
        memcpy(carry[k], carry0, sizeof(float) * (size_t)(R * d->carry));
        if (k == 0) {
            memcpy(carry[k] + R * d->carry, carry0, sizeof(float) * (size_t)(R * d->carry));
            vb_encoder_step(&be, m, P, carry[k], x, o[k], phi[k], &ws, N);
        } else {
            /* rows R.. of the carry hold garbage the step must not read */
            for (int64_t i = R * d->carry; i < N * d->carry; i++) carry[k][i] = NAN;
            vb_encoder_step_shared(&be, m, P, carry[k], x, o[k], phi[k], &ws, R);
        }
        vb_encoder_step_ws_free(&ws);
    }
    cr_assert_eq(memcmp(carry[1], carry[0], sizeof(float) * (size_t)(N * d->carry)), 0, "R %lld chain %lld: carry",
                 (long long)R, (long long)chain);
    cr_assert_eq(memcmp(o[1], o[0], sizeof(float) * (size_t)(N * d->hidden)), 0, "o");
    cr_assert_eq(memcmp(phi[1], phi[0], sizeof(float) * (size_t)(N * 2 * d->latent)), 0, "phi");
    /* the two outcomes' inputs differ, and so do their carries */
    cr_assert_neq(memcmp(carry[1], carry[1] + R * d->carry, sizeof(float) * (size_t)(R * d->carry)), 0);
    for (int k = 0; k < 2; k++) {
        free(carry[k]);
        free(o[k]);
        free(phi[k]);
    }
    free(x);
    free(carry0);
}

/* Both outcomes from the same carries (the planner's binary rewards): the
 * shared step gives the bits of stepping a copy of the carries over 2R rows,
 * for the GRU (its recurrent product computed once) and for S5 (which steps
 * the copy), at every block size. */
Test(model_step, both_outcomes_from_one_carry_give_the_bits_of_stepping_a_copy, .init = one_thread,
     .fini = restore_threads) {
    const char *cores[] = {"gru", "s5"};
    const int64_t Rs[] = {1, 300, 1100}, chains[] = {0, 128, 512};
    for (int c = 0; c < 2; c++) {
        vb_model m;
        float *P = build(&m, cores[c], 7);
        vb_rng r;
        vb_rng_init(&r, 29, (uint64_t)c);
        for (size_t ri = 0; ri < 3; ri++)
            for (size_t ci = 0; ci < 3; ci++) shared_step_matches_a_copy(&m, P, &r, Rs[ri], chains[ci]);
        free(P);
    }
}

/* learner.refresh_grad's building block: the GRU encoder over a task prefix
 * of K steps, then over a window from the prefix's last carry, with the
 * window's gradient at its start carry (d_carry0) and belief passed back
 * into the prefix, gives the parameters the gradient of one unroll over both
 * with the same output gradients (none on the prefix's rows but its last
 * belief's), to fp32 rounding. Without d_carry0 the prefix's share is
 * missing. */
Test(model_step, a_window_with_its_prefix_gradient_equals_one_unroll, .init = one_thread, .fini = restore_threads) {
    const vb_backend *be = vb_backend_cpu();
    vb_model m;
    float *P = build(&m, "gru", 7);
    const vb_model_dims *d = &m.d;
    enum { N = 6, K = 5, W = 4, T = K + W };
    const int64_t H = d->hidden, L2 = 2 * d->latent, np = m.layout.total;
    vb_rng r;
    vb_rng_init(&r, 31, 0);
    float *x = randn(&r, T * N * d->in, 1), *dphi = randn(&r, T * N * L2, 1), *zero = calloc(N * d->carry, 4);
    for (int64_t i = 0; i < (K - 1) * N * L2; i++) dphi[i] = 0; /* the prefix's rows but its last: no loss */
    uint8_t reset[T * N] = {0};
    for (int w = 0; w < N; w++) reset[w] = 1;
    float *o = malloc(sizeof(float) * T * N * H), *phi = malloc(sizeof(float) * T * N * L2);
    float *G1 = calloc((size_t)np, 4), *G2 = calloc((size_t)np, 4), *G3 = calloc((size_t)np, 4);
    vb_encoder_ws ws;
    cr_assert_eq(vb_encoder_ws_init(&ws, &m, T, N, 1), 0);
    vb_encoder_forward(be, &m, P, x, zero, reset, o, phi, NULL, &ws, T, N);
    vb_encoder_backward(be, &m, P, G1, x, zero, reset, o, NULL, dphi, NULL, &ws, T, N);
    /* prefix, then window */
    vb_encoder_ws pws, wws;
    cr_assert_eq(vb_encoder_ws_init(&pws, &m, K, N, 1), 0);
    cr_assert_eq(vb_encoder_ws_init(&wws, &m, W, N, 1), 0);
    float *po = malloc(sizeof(float) * K * N * H), *pphi = malloc(sizeof(float) * K * N * L2);
    float *wo = malloc(sizeof(float) * W * N * H), *wphi = malloc(sizeof(float) * W * N * L2);
    float *carry = malloc(sizeof(float) * N * d->carry), *dcarry = calloc(N * d->carry, 4);
    float *dpo = calloc(K * N * H, 4);
    vb_encoder_forward(be, &m, P, x, zero, reset, po, pphi, carry, &pws, K, N);
    vb_encoder_forward(be, &m, P, x + K * N * d->in, carry, reset + K * N, wo, wphi, NULL, &wws, W, N);
    for (int64_t i = 0; i < W * N * L2; i++)
        cr_assert(fabsf(wphi[i] - phi[K * N * L2 + i]) <= 1e-5f * (1 + fabsf(phi[K * N * L2 + i])));
    for (int pass = 0; pass < 2; pass++) {
        float *G = pass ? G3 : G2;
        memset(dcarry, 0, sizeof(float) * N * d->carry);
        vb_encoder_backward(be, &m, P, G, x + K * N * d->in, carry, reset + K * N, wo, NULL, dphi + K * N * L2,
                            pass ? NULL : dcarry, &wws, W, N);
        memset(dpo, 0, sizeof(float) * K * N * H);
        memcpy(dpo + (K - 1) * N * H, dcarry, sizeof(float) * N * H);
        vb_encoder_backward(be, &m, P, G, x, zero, reset, po, dpo, dphi, NULL, &pws, K, N);
    }
    double scale = 1e-30, e2 = 0, e3 = 0;
    for (int64_t i = 0; i < np; i++) scale = fmax(scale, fabs(G1[i]));
    for (int64_t i = 0; i < np; i++) {
        e2 = fmax(e2, fabs((double)G2[i] - G1[i]) / scale);
        e3 = fmax(e3, fabs((double)G3[i] - G1[i]) / scale);
    }
    cr_log_info("prefix + window against one unroll: %.2e with d_carry0, %.2e without", e2, e3);
    cr_assert_lt(e2, 1e-5, "with d_carry0 the gradients differ by %g", e2);
    cr_assert_gt(e3, 1e-3, "without d_carry0 the prefix's share made no difference (%g)", e3);
    vb_encoder_ws_free(&ws), vb_encoder_ws_free(&pws), vb_encoder_ws_free(&wws);
    free(x), free(dphi), free(zero), free(o), free(phi), free(G1), free(G2), free(G3);
    free(po), free(pphi), free(wo), free(wphi), free(carry), free(dcarry), free(dpo);
    free(P);
}
