/* The acting/learning pipeline pieces: chunk layout and validation, replay
 * FIFO and rate limit, acting's chunks (boundaries, carries, windows crossing
 * task resets). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/train/acting.h"
#include "common/train/chunk.h"
#include "common/train/replay.h"
#include "support.h"
#include "common/params/params.h"

static vb_config cfg;
static vb_env_spec spec;
static vb_model model;

static void smoke_model(void) {
    char path[1024], err[512];
    vb_config_defaults(&cfg);
    cr_assert_eq(vb_config_load_file(&cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(vb_config_set(&cfg, "run.algo=rl2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_env_spec_from_config(&cfg, &spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&model, &cfg, &spec, err, sizeof err), 0, "%s", err);
}

Test(pipeline, chunk_layout_covers_every_field, .init = smoke_model) {
    vb_chunk_layout cl;
    vb_chunk_layout_init(&cl, &model, 10, false);
    const int64_t L = 10, in = model.d.in, obs = model.d.obs;
    cr_assert_eq(cl.floats, L * in + 5 * L + L * obs + L + model.d.carry + 2 * model.d.latent);
    vb_chunk_layout clt;
    vb_chunk_layout_init(&clt, &model, 10, true);
    cr_assert_eq(clt.floats, cl.floats + L * model.d.actions + L);
    cr_assert_neq(vb_chunk_layout_hash(&cl), vb_chunk_layout_hash(&clt));
}

Test(pipeline, chunk_validation_refuses_bad_contents, .init = smoke_model) {
    vb_chunk_layout cl;
    vb_chunk_layout_init(&cl, &model, 4, false);
    float *c = calloc((size_t)cl.floats, sizeof(float));
    char why[256];
    c[cl.reset] = 1;
    cr_assert_eq(vb_chunk_validate(&cl, c, why, sizeof why), 0, "%s", why);
    c[cl.action + 2] = (float)model.d.actions;
    cr_assert_neq(vb_chunk_validate(&cl, c, why, sizeof why), 0);
    cr_assert(strstr(why, "action"), "%s", why);
    c[cl.action + 2] = 0;
    c[cl.x + 3] = NAN;
    cr_assert_neq(vb_chunk_validate(&cl, c, why, sizeof why), 0);
    c[cl.x + 3] = 0;
    c[cl.task_done + 1] = 1; /* a task end without an episode end */
    cr_assert_neq(vb_chunk_validate(&cl, c, why, sizeof why), 0);
    c[cl.done + 1] = 1; /* ... and then step 2 must start a task */
    cr_assert_neq(vb_chunk_validate(&cl, c, why, sizeof why), 0);
    c[cl.reset + 2] = 1;
    cr_assert_eq(vb_chunk_validate(&cl, c, why, sizeof why), 0, "%s", why);
    c[cl.done + 3] = 0.5f;
    cr_assert_neq(vb_chunk_validate(&cl, c, why, sizeof why), 0);
    free(c);
}

/* A replay of `capacity` 2-step chunks (samples per insert spi) after n
 * inserts, chunk i marked by data[0] = i and version i; buf (returned) is
 * the chunk buffer. */
static float *replay_of(vb_replay *r, int64_t capacity, double spi, int n) {
    vb_chunk_layout cl;
    vb_chunk_layout_init(&cl, &model, 2, false);
    cr_assert_eq(vb_replay_init(r, &cl, capacity, spi), 0);
    float *buf = calloc((size_t)cl.floats, sizeof(float));
    cr_assert(n > 0 || !vb_replay_can_sample(r, 2, NULL), "empty replay allows sampling");
    for (int i = 0; i < n; i++) {
        buf[0] = (float)i;
        vb_replay_insert(r, &(vb_chunk){.version = (uint64_t)i, .data = buf});
    }
    return buf;
}

Test(pipeline, replay_is_fifo_with_a_rate_limit, .init = smoke_model) {
    vb_replay r;
    free(replay_of(&r, 4, 2.0, 0));
    vb_replay_free(&r);
    float *buf = replay_of(&r, 4, 2.0, 6);
    vb_rng rng;
    vb_rng_init(&rng, 1, 0);
    cr_assert_eq(r.size, 4);
    cr_assert_eq(r.inserted, 6);
    /* the oldest two (0, 1) were overwritten */
    const float *out[4];
    uint64_t ver[4];
    cr_assert(vb_replay_can_sample(&r, 4, NULL));
    vb_replay_sample(&r, 4, &rng, out, ver, NULL);
    int seen[6] = {0};
    for (int i = 0; i < 4; i++) {
        int v = (int)out[i][0];
        cr_assert(v >= 2 && v <= 5, "sampled an evicted chunk %d", v);
        cr_assert_eq(ver[i], (uint64_t)v);
        cr_assert_eq(seen[v]++, 0, "a batch repeats chunk %d", v);
    }
    /* 2 samples per insert: 12 windows allowed after 6 inserts, 4 used */
    cr_assert(vb_replay_can_sample(&r, 4, NULL));
    vb_replay_sample(&r, 4, &rng, out, NULL, NULL);
    cr_assert(vb_replay_can_sample(&r, 4, NULL));
    vb_replay_sample(&r, 4, &rng, out, NULL, NULL);
    cr_assert(!vb_replay_can_sample(&r, 4, NULL), "rate limit not enforced");
    vb_chunk c = {.version = 9, .data = buf};
    vb_replay_insert(&r, &c);
    vb_replay_insert(&r, &c);
    cr_assert(vb_replay_can_sample(&r, 4, NULL));
    vb_replay_free(&r);
    free(buf);
}

Test(pipeline, replay_draws_only_slots_not_held, .init = smoke_model) {
    vb_replay r;
    float *buf = replay_of(&r, 6, 0.0, 6);
    vb_rng rng;
    vb_rng_init(&rng, 2, 0);
    const uint8_t held[6] = {1, 0, 1, 0, 0, 1};
    cr_assert_eq(vb_replay_drawable(&r, held), 3);
    cr_assert(vb_replay_can_sample(&r, 3, held));
    cr_assert(!vb_replay_can_sample(&r, 4, held), "a batch larger than the slots not held");
    cr_assert(vb_replay_can_sample(&r, 4, NULL));
    const float *out[5];
    int seen[6] = {0};
    for (int round = 0; round < 20; round++) {
        vb_replay_sample(&r, 3, &rng, out, NULL, held);
        for (int i = 0; i < 3; i++) {
            int v = (int)out[i][0];
            cr_assert(!held[v], "drew held slot %d", v);
            for (int k = 0; k < i; k++) cr_assert_neq(out[k], out[i], "a batch repeats slot %d", v);
            seen[v]++;
        }
    }
    /* a batch larger than the slots not held takes all of them, then held ones */
    int fill[6] = {0};
    for (int round = 0; round < 40; round++) {
        vb_replay_sample(&r, 5, &rng, out, NULL, held);
        int in_round[6] = {0};
        for (int i = 0; i < 5; i++) in_round[(int)out[i][0]]++;
        cr_assert(in_round[1] == 1 && in_round[3] == 1 && in_round[4] == 1, "not every slot not held was drawn");
        cr_assert_eq(in_round[0] + in_round[2] + in_round[5], 2);
        for (int v = 0; v < 6; v++) fill[v] += in_round[v];
    }
    cr_assert(fill[0] > 0 && fill[2] > 0 && fill[5] > 0, "the held slots filling the batch are not all drawn");
    cr_assert_eq(seen[1] + seen[3] + seen[4], 60);
    vb_replay_free(&r);
    free(buf);
}

typedef struct collected {
    vb_chunk_layout cl;
    float *data;
    int n;
    int cap;
    int slots[64];
} collected;

static void collect(const vb_chunk *c, void *ctx) {
    collected *k = ctx;
    cr_assert_lt(k->n, k->cap);
    memcpy(k->data + (int64_t)k->n * k->cl.floats, c->data, sizeof(float) * (size_t)k->cl.floats);
    k->slots[k->n++] = c->slot;
}

/* Windows of 7 steps over tasks of 10 steps (2 episodes of 5): task starts
 * fall inside windows, carries continue across windows of one task and are
 * zeroed at task starts, and the recorded steps chain up. */
Test(pipeline, acting_chunks_chain_across_windows_and_tasks, .init = smoke_model) {
    char err[512];
    cr_assert_eq(vb_config_set(&cfg, "learner.window=7", err, sizeof err), 0);
    const vb_backend *be = vb_backend_cpu();
    float *P = calloc((size_t)model.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&model, P, 3), 0);
    vb_acting a;
    cr_assert_eq(vb_acting_create_from_config(&a, be, &model, &cfg, 2, 5, 0, err, sizeof err), 0, "%s", err);
    vb_acting_set_params(&a, P, 0);
    collected k = {.cl = a.cl, .cap = 8};
    k.data = calloc((size_t)(k.cap * a.cl.floats), sizeof(float));
    for (int s = 0; s < 28; s++) cr_assert_eq(vb_acting_step(&a, collect, &k, err, sizeof err), 0, "%s", err);
    cr_assert_eq(k.n, 8, "28 steps of 2 slots in windows of 7 give 8 chunks");
    const vb_chunk_layout *cl = &a.cl;
    const int64_t obs = model.d.obs;
    for (int slot = 0; slot < 2; slot++) {
        int64_t global = 0;
        for (int w = 0; w < 4; w++) {
            const float *c = k.data + (int64_t)(2 * w + slot) * cl->floats;
            cr_assert_eq(k.slots[2 * w + slot], slot);
            for (int64_t t = 0; t < 7; t++, global++) {
                int task_start = global % 10 == 0, episode_end = global % 5 == 4, task_end = global % 10 == 9;
                cr_assert_eq(c[cl->reset + t], (float)task_start, "slot %d step %lld", slot, (long long)global);
                cr_assert_eq(c[cl->done + t], (float)episode_end);
                cr_assert_eq(c[cl->task_done + t], (float)task_end);
                /* the previous action and reward are the encoder's inputs */
                const float *x = c + cl->x + t * model.d.in;
                if (!task_start && t > 0) {
                    int32_t prev = (int32_t)c[cl->action + t - 1];
                    cr_assert_eq(x[obs + prev], 1.0f);
                    cr_assert_eq(x[obs + model.d.actions], c[cl->reward + t - 1]);
                    cr_assert_eq(x[obs + model.d.actions + 1], c[cl->done + t - 1]);
                    /* within an episode the observation is the previous successor */
                    if (c[cl->done + t - 1] == 0.0f)
                        for (int64_t j = 0; j < obs; j++) cr_assert_eq(x[j], c[cl->next_obs + (t - 1) * obs + j]);
                }
                if (task_start) {
                    for (int64_t j = 0; j < model.d.actions + 2; j++) cr_assert_eq(x[obs + j], 0.0f);
                }
                cr_assert_leq(c[cl->logp + t], 0.0f);
            }
            /* carry0 of a window that does not start a task is non-zero (the
             * carry of the running task); phi_prev is the prior at task starts */
            if (c[cl->reset] == 0.0f) {
                double s = 0;
                for (int64_t j = 0; j < cl->carry; j++) s += fabs(c[cl->carry0 + j]);
                cr_assert_gt(s, 0.0, "window %d of slot %d lost the carry", w, slot);
            }
        }
    }
    vb_acting_destroy(&a);
    free(P);
    free(k.data);
}

/* Models with a decoder get the task's labels per step: on the gridworld a
 * one-hot goal cell, constant within a task, changing only at task starts,
 * and the cell of every rewarded transition. */
Test(pipeline, acting_chunks_carry_the_task_labels, .init = smoke_model) {
    char err[512];
    cr_assert_eq(vb_config_set(&cfg, "run.algo=varibad", err, sizeof err), 0);
    cr_assert_eq(vb_config_set(&cfg, "learner.window=7", err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(&model, &cfg, &spec, err, sizeof err), 0, "%s", err);
    const vb_backend *be = vb_backend_cpu();
    float *P = calloc((size_t)model.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&model, P, 3), 0);
    vb_acting a;
    cr_assert_eq(vb_acting_create_from_config(&a, be, &model, &cfg, 4, 5, 0, err, sizeof err), 0, "%s", err);
    vb_acting_set_params(&a, P, 0);
    const vb_chunk_layout *cl = &a.cl;
    cr_assert_eq(cl->cells, spec.reward_cells);
    collected k = {.cl = a.cl, .cap = 40};
    k.data = calloc((size_t)(k.cap * cl->floats), sizeof(float));
    for (int s = 0; s < 70; s++) cr_assert_eq(vb_acting_step(&a, collect, &k, err, sizeof err), 0, "%s", err);
    cr_assert_eq(k.n, 40);
    const int64_t C = cl->cells, obs = model.d.obs;
    int hits = 0, changes = 0;
    for (int slot = 0; slot < 4; slot++) {
        int64_t goal = -1;
        for (int w = 0; w < 10; w++) {
            const float *c = k.data + (int64_t)(4 * w + slot) * cl->floats;
            for (int64_t t = 0; t < 7; t++) {
                const float *y = c + cl->task_cells + t * C;
                int64_t hot = -1, ones = 0;
                for (int64_t j = 0; j < C; j++) {
                    cr_assert(y[j] == 0.0f || y[j] == 1.0f);
                    if (y[j] == 1.0f) hot = j, ones++;
                }
                cr_assert_eq(ones, 1, "one goal cell per step");
                if (goal >= 0 && hot != goal) {
                    cr_assert_eq(c[cl->reset + t], 1.0f, "the goal changed inside a task");
                    changes++;
                }
                goal = hot;
                if (c[cl->reward + t] == spec.reward_levels[1]) {
                    hits++;
                    int64_t cell = vb_env_reward_cell(&spec, c + cl->x + t * model.d.in, (int32_t)c[cl->action + t],
                                                      c + cl->next_obs + t * obs);
                    cr_assert_eq(cell, hot, "a hit away from the labelled goal");
                }
            }
        }
    }
    cr_assert_gt(hits, 0, "random acting on a 3x3 grid hits some goals");
    cr_assert_gt(changes, 0, "seven tasks per slot change the goal");
    free(k.data);
    vb_acting_destroy(&a);
    free(P);
}

/* Steps of planning actors under planner.act=MODE; returns how many recorded
 * actions were not an argmax of their step's q-hat* target. Under argmax every
 * action is one and its log-probability is minus the log of the ties. */
static int64_t planned_actions_off_argmax(const char *mode) {
    char err[512], set[64];
    cr_assert_eq(vb_config_set(&cfg, "run.algo=varibased", err, sizeof err), 0);
    cr_assert_eq(vb_config_set(&cfg, "learner.window=5", err, sizeof err), 0);
    snprintf(set, sizeof set, "planner.act=%s", mode);
    cr_assert_eq(vb_config_set(&cfg, set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_model_build_from_config(&model, &cfg, &spec, err, sizeof err), 0, "%s", err);
    float *P = calloc((size_t)model.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&model, P, 3), 0);
    vb_acting a;
    cr_assert_eq(vb_acting_create_from_config(&a, vb_backend_cpu(), &model, &cfg, 4, 5, 0, err, sizeof err), 0, "%s", err);
    vb_acting_set_params(&a, P, 0);
    collected k = {.cl = a.cl, .cap = 32};
    k.data = calloc((size_t)(k.cap * a.cl.floats), sizeof(float));
    for (int s = 0; s < 40; s++) cr_assert_eq(vb_acting_step(&a, collect, &k, err, sizeof err), 0, "%s", err);
    cr_assert_eq(k.n, 32);
    const vb_chunk_layout *cl = &a.cl;
    const int64_t A = model.d.actions;
    int64_t off = 0;
    for (int i = 0; i < k.n; i++) {
        const float *c = k.data + (int64_t)i * cl->floats;
        for (int64_t t = 0; t < cl->L; t++) {
            const float *q = c + cl->q_target + t * A;
            int32_t act = (int32_t)c[cl->action + t];
            float best = q[0];
            for (int64_t j = 1; j < A; j++) best = fmaxf(best, q[j]);
            int64_t ties = 0;
            for (int64_t j = 0; j < A; j++) ties += q[j] == best;
            if (q[act] != best) {
                off++;
            } else if (strcmp(mode, "argmax") == 0) {
                cr_assert_float_eq(c[cl->logp + t], -logf((float)ties), 1e-6f, "chunk %d step %lld", i, (long long)t);
            }
        }
    }
    free(k.data);
    vb_acting_destroy(&a);
    free(P);
    return off;
}

/* planner.act: argmax acts on the argmax of q-hat*; the default samples it,
 * which with an untrained model's flat q-hat* often picks another action. */
Test(pipeline, planning_actors_sample_or_take_the_argmax_of_q, .init = smoke_model) {
    cr_assert_eq(planned_actions_off_argmax("argmax"), 0);
    cr_assert_gt(planned_actions_off_argmax("sample"), 20, "160 sampled steps of a near-uniform q-hat*");
}
