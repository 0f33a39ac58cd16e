/* Adam / AdamW against hand-computed updates; clipping; schedule; state arena. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "common/nn/optim.h"

static const vb_backend *be;
static void setup(void) { be = vb_backend_cpu(); }

/* One parameter, lr 0.1, betas (0.9, 0.999), eps 1e-8, gradients 0.5, -0.25, 1:
 *   t=1: m=0.05, v=2.5e-4, m^=0.5, v^=0.25       -> p = 1 - 0.1*0.5/0.5       = 0.9
 *   t=2: m=0.02, v=3.1225e-4, m^=0.105263, v^=0.156203 -> p = 0.873366298...
 *   t=3:                                                   p = 0.807555139... */
Test(optim, adam_matches_hand_computed_sequence, .init = setup) {
    vb_optim_cfg cfg = vb_optim_defaults();
    cfg.lr = 0.1f;
    vb_optim o;
    cr_assert_eq(vb_optim_init(&o, be, &cfg, 1), 0);
    float p = 1.0f, g;
    const float grads[3] = {0.5f, -0.25f, 1.0f};
    const double expect[3] = {0.900000002, 0.8733662987078463, 0.8075551396770898};
    for (int t = 0; t < 3; t++) {
        g = grads[t];
        double norm = vb_optim_step(&o, be, &p, &g);
        cr_assert_float_eq(norm, fabs(grads[t]), 1e-7);
        cr_assert_float_eq(p, expect[t], 2e-7, "step %d: %.9f", t + 1, p);
    }
    cr_assert_eq(vb_optim_steps(&o, be), 3);
    vb_optim_free(&o, be);
}

/* AdamW with zero gradients only decays: p <- p - lr * wd * p. */
Test(optim, adamw_decoupled_decay, .init = setup) {
    vb_optim_cfg cfg = vb_optim_defaults();
    cfg.lr = 0.1f;
    cfg.weight_decay = 0.5f;
    vb_optim o;
    cr_assert_eq(vb_optim_init(&o, be, &cfg, 1), 0);
    float p = 2.0f, g = 0.0f;
    vb_optim_step(&o, be, &p, &g);
    cr_assert_float_eq(p, 1.9f, 1e-6);
    vb_optim_step(&o, be, &p, &g);
    cr_assert_float_eq(p, 1.805f, 1e-6);
    vb_optim_free(&o, be);
}

Test(optim, global_norm_clipping_scales_all_gradients, .init = setup) {
    vb_optim_cfg cfg = vb_optim_defaults();
    cfg.clip_norm = 1.0f;
    vb_optim o;
    cr_assert_eq(vb_optim_init(&o, be, &cfg, 2), 0);
    float p[2] = {0, 0}, g[2] = {3, 4};
    double norm = vb_optim_step(&o, be, p, g);
    cr_assert_float_eq(norm, 5.0, 1e-6);
    cr_assert_float_eq(g[0], 0.6f, 1e-5);
    cr_assert_float_eq(g[1], 0.8f, 1e-5);
    float small[2] = {0.3f, 0.4f};
    vb_optim_step(&o, be, p, small);
    cr_assert_float_eq(small[0], 0.3f, 1e-7, "a gradient under the clip is untouched");
    vb_optim_free(&o, be);
}

Test(optim, linear_schedule_decays_to_zero, .init = setup) {
    vb_optim_cfg cfg = vb_optim_defaults();
    cfg.lr = 1.0f;
    cfg.schedule = VB_SCHED_LINEAR;
    cfg.total_steps = 4;
    vb_optim o;
    cr_assert_eq(vb_optim_init(&o, be, &cfg, 1), 0);
    float p = 0, g = 1;
    const float lrs[6] = {1.0f, 0.75f, 0.5f, 0.25f, 0.0f, 0.0f};
    for (int t = 0; t < 6; t++) {
        cr_assert_float_eq(vb_optim_lr(&o, be), lrs[t], 1e-7, "step %d", t);
        g = 1;
        vb_optim_step(&o, be, &p, &g);
    }
    vb_optim_free(&o, be);
}

Test(optim, linear_schedule_holds_until_decay_start, .init = setup) {
    vb_optim_cfg cfg = vb_optim_defaults();
    cfg.lr = 1.0f;
    cfg.schedule = VB_SCHED_LINEAR;
    cfg.total_steps = 6;
    cfg.decay_start = 2;
    vb_optim o;
    cr_assert_eq(vb_optim_init(&o, be, &cfg, 1), 0);
    float p = 0, g = 1;
    const float lrs[8] = {1.0f, 1.0f, 1.0f, 0.75f, 0.5f, 0.25f, 0.0f, 0.0f};
    for (int t = 0; t < 8; t++) {
        cr_assert_float_eq(vb_optim_lr(&o, be), lrs[t], 1e-7, "step %d", t);
        g = 1;
        vb_optim_step(&o, be, &p, &g);
    }
    vb_optim_free(&o, be);
}

Test(optim, state_checkpoints_through_its_arena, .init = setup) {
    vb_optim_cfg cfg = vb_optim_defaults();
    vb_optim a, b;
    cr_assert_eq(vb_optim_init(&a, be, &cfg, 3), 0);
    cr_assert_eq(vb_optim_init(&b, be, &cfg, 3), 0);
    float pa[3] = {1, 2, 3}, pb[3], g[3];
    for (int t = 0; t < 4; t++) {
        g[0] = 0.1f * t; g[1] = -1; g[2] = 2;
        vb_optim_step(&a, be, pa, g);
    }
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/vb_optim_%d.bin", (int)getpid());
    cr_assert_eq(vb_arena_save(path, &a.layout, a.state, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_arena_load(path, &b.layout, b.state, err, sizeof err), 0, "%s", err);
    unlink(path);
    cr_assert_eq(vb_optim_steps(&b, be), 4);
    for (int i = 0; i < 3; i++) pb[i] = pa[i];
    float ga[3] = {0.5f, 0.5f, -0.5f}, gb[3] = {0.5f, 0.5f, -0.5f};
    vb_optim_step(&a, be, pa, ga);
    vb_optim_step(&b, be, pb, gb);
    for (int i = 0; i < 3; i++) cr_assert_eq(pa[i], pb[i], "resumed optimiser diverges at %d", i);
    vb_optim_free(&a, be);
    vb_optim_free(&b, be);
}
