/* env — see env.h. The clock, the checks and the streams; the families do the rest. */
#include "env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env_family.h"

static const vb__env_family *family_of(int name) {
    switch (name) {
    case VB_ENV_GRIDWORLD: return &vb__gridworld_family;
    case VB_ENV_BANDIT: return &vb__bandit_family;
    case VB_ENV_FUNCOPT: return &vb__funcopt_family;
    default: return NULL;
    }
}

int vb_env_spec_from(const vb_env_params *p, vb_env_spec *spec, char *err, size_t err_len) {
    const vb__env_family *fam = family_of(p->family);
    if (!fam) {
        snprintf(err, err_len, "env.name: unknown task family %d", p->family);
        return -1;
    }
    memset(spec, 0, sizeof *spec);
    spec->family = p->family;
    spec->gamma = p->gamma;
    if (fam->spec(p, spec, err, err_len) != 0) return -1;
    spec->steps_per_task = spec->episode_length * spec->episodes_per_task;
    return 0;
}

int vb_env_batch_create(vb_env_batch **out, const vb_env_params *p, int64_t n, uint64_t seed,
                        uint64_t stream_base, char *err, size_t err_len) {
    *out = NULL;
    if (n < 1 || n > (int64_t)1 << 24) {
        snprintf(err, err_len, "env batch of %lld environments: expected 1 .. %d", (long long)n, 1 << 24);
        return -1;
    }
    vb_env_batch *b = calloc(1, sizeof *b);
    if (!b) return snprintf(err, err_len, "out of memory"), -1;
    if (vb_env_spec_from(p, &b->spec, err, err_len) != 0) {
        free(b);
        return -1;
    }
    size_t un = (size_t)n;
    b->n = n;
    b->family = family_of(p->family);
    b->obs = calloc(un * (size_t)b->spec.obs_size, sizeof *b->obs);
    b->reward = calloc(un, sizeof *b->reward);
    b->done = calloc(un, sizeof *b->done);
    b->task_done = calloc(un, sizeof *b->task_done);
    b->regret = calloc(un, sizeof *b->regret);
    b->t = calloc(un, sizeof *b->t);
    b->episode = calloc(un, sizeof *b->episode);
    b->rng = calloc(un, sizeof *b->rng);
    if (!b->obs || !b->reward || !b->done || !b->task_done || !b->regret || !b->t || !b->episode || !b->rng) {
        vb_env_batch_destroy(b);
        return snprintf(err, err_len, "out of memory for %lld environments", (long long)n), -1;
    }
    if (b->family->create(b, p, err, err_len) != 0) {
        vb_env_batch_destroy(b);
        return -1;
    }
    vb_env_set_streams(b, seed, stream_base);
    int rc = vb_env_reset_all(b);
    if (rc != VB_ENV_OK) {
        snprintf(err, err_len, "drawing the first tasks: %s", vb_env_strerror(rc));
        vb_env_batch_destroy(b);
        return -1;
    }
    *out = b;
    return 0;
}

void vb_env_batch_destroy(vb_env_batch *b) {
    if (!b) return;
    if (b->family && b->state) b->family->destroy(b->state);
    free(b->obs);
    free(b->reward);
    free(b->done);
    free(b->task_done);
    free(b->regret);
    free(b->t);
    free(b->episode);
    free(b->rng);
    free(b);
}

void vb_env_set_streams(vb_env_batch *b, uint64_t seed, uint64_t stream_base) {
    b->seed = seed;
    b->stream_base = stream_base;
    for (int64_t i = 0; i < b->n; i++) vb_rng_init(&b->rng[i], seed, stream_base + (uint64_t)i);
}

static void clear_outputs(vb_env_batch *b, int64_t i) {
    b->reward[i] = 0;
    b->done[i] = 0;
    b->task_done[i] = 0;
}

int vb_env_reset_task(vb_env_batch *b, int64_t i) {
    if (i < 0 || i >= b->n) return VB_ENV_EINDEX;
    clear_outputs(b, i);
    b->regret[i] = 0;
    b->t[i] = 0;
    b->episode[i] = 0;
    return b->family->reset_task(b, i);
}

int vb_env_reset_all(vb_env_batch *b) {
    for (int64_t i = 0; i < b->n; i++) {
        int rc = vb_env_reset_task(b, i);
        if (rc != VB_ENV_OK) return rc;
    }
    return VB_ENV_OK;
}

int vb_env_reset_episode(vb_env_batch *b, int64_t i) {
    if (i < 0 || i >= b->n) return VB_ENV_EINDEX;
    if (b->t[i] > 0) {
        if (b->episode[i] + 1 >= b->spec.episodes_per_task) return VB_ENV_ENOEPISODE;
        b->episode[i]++;
    }
    b->t[i] = 0;
    clear_outputs(b, i);
    b->family->reset_episode(b, i);
    return VB_ENV_OK;
}

int vb_env_reset_finished(vb_env_batch *b) {
    for (int64_t i = 0; i < b->n; i++) {
        if (!b->done[i]) continue;
        int rc = b->task_done[i] ? vb_env_reset_task(b, i) : vb_env_reset_episode(b, i);
        if (rc != VB_ENV_OK) return rc;
    }
    return VB_ENV_OK;
}

int vb_env_step(vb_env_batch *b, const int32_t *actions) {
    for (int64_t i = 0; i < b->n; i++) {
        if (actions[i] < 0 || actions[i] >= b->spec.num_actions) return VB_ENV_EACTION;
        if (b->t[i] >= b->spec.episode_length) return VB_ENV_EFINISHED;
    }
    for (int64_t i = 0; i < b->n; i++) {
        b->family->step(b, i, actions[i]);
        b->t[i]++;
        b->done[i] = b->t[i] == b->spec.episode_length;
        b->task_done[i] = b->done[i] && b->episode[i] + 1 == b->spec.episodes_per_task;
    }
    return VB_ENV_OK;
}

void vb_env_episode_start_obs(const vb_env_spec *spec, float *obs) { family_of(spec->family)->start_obs(spec, obs); }

int vb_env_transition(const vb_env_spec *spec, const float *obs, int32_t action, float *next_obs) {
    if (action < 0 || action >= spec->num_actions) return VB_ENV_EACTION;
    if (!spec->task_independent_transitions) return VB_ENV_ETASKDEP;
    family_of(spec->family)->transition(spec, obs, action, next_obs);
    return VB_ENV_OK;
}

int vb_env_resolve_dynamics(const vb_env_spec *spec, int dynamics) {
    if (dynamics != VB_DYN_AUTO) return dynamics;
    return spec->task_independent_transitions ? VB_DYN_ENV : VB_DYN_LEARNED;
}

int64_t vb_env_state_cell(const vb_env_spec *spec, const float *obs) {
    const vb__env_family *f = family_of(spec->family);
    return spec->state_cells > 0 && f->state_cell ? f->state_cell(spec, obs) : 0;
}

void vb_env_cell_obs(const vb_env_spec *spec, int64_t cell, float *obs) {
    const vb__env_family *f = family_of(spec->family);
    if (spec->state_cells > 0 && f->cell_obs) f->cell_obs(spec, cell, obs);
    else for (int64_t j = 0; j < spec->obs_size; j++) obs[j] = 0.0f;
}

int64_t vb_env_reward_cell(const vb_env_spec *spec, const float *obs, int32_t action, const float *next_obs) {
    return family_of(spec->family)->reward_cell(spec, obs, action, next_obs);
}

int vb_env_task_cells(const vb_env_batch *b, int64_t i, float *out) {
    if (i < 0 || i >= b->n) return VB_ENV_EINDEX;
    b->family->task_cells(b, i, out);
    return VB_ENV_OK;
}

const char *vb_env_strerror(int code) {
    switch (code) {
    case VB_ENV_OK: return "success";
    case VB_ENV_EACTION: return "action out of range";
    case VB_ENV_EFINISHED: return "stepped an environment whose episode has ended";
    case VB_ENV_EINDEX: return "environment index out of range";
    case VB_ENV_ENUMERIC: return "non-positive pivot while factoring the task's covariance";
    case VB_ENV_ENOEPISODE: return "the task has no further episode";
    case VB_ENV_ETASKDEP: return "the family's transitions depend on the task: there is no exact transition";
    default: return "unknown error";
    }
}
