/* env — see env.h. The clock, the checks and the streams; the families
 * (include/varibased/task_family.h) do the rest. */
#include "env.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_families.h"
#include "plugin.h"
#include "task_host.h"

static int family_of(const vb_env_params *p, const vb_task_family **f, char *err, size_t err_len) {
    switch (p->family) {
    case VB_ENV_GRIDWORLD: *f = &vb__gridworld_family; return 0;
    case VB_ENV_BANDIT: *f = &vb__bandit_family; return 0;
    case VB_ENV_FUNCOPT: *f = &vb__funcopt_family; return 0;
    case VB_ENV_PLUGIN: return vb__plugin_family(p->plugin, p->family_name, f, err, err_len);
    default: return snprintf(err, err_len, "env.name: unknown task family %d", p->family), -1;
    }
}

/* The family's parameters: the built-in families' config keys, or env.args. */
static int family_args(const vb_env_params *p, vb_task_args *a, char *err, size_t err_len) {
    memset(a, 0, sizeof *a);
    switch (p->family) {
    case VB_ENV_GRIDWORLD:
        vb__task_args_int(a, "grid_size", p->grid_size);
        vb__task_args_int(a, "episode_length", p->episode_length);
        vb__task_args_int(a, "episodes_per_task", p->episodes_per_task);
        vb__task_args_int(a, "permute_moves", p->permute_moves);
        return 0;
    case VB_ENV_BANDIT:
        vb__task_args_int(a, "arms", p->arms);
        vb__task_args_int(a, "horizon", p->horizon);
        vb__task_args_double(a, "prior_alpha", p->prior_alpha);
        vb__task_args_double(a, "prior_beta", p->prior_beta);
        return 0;
    case VB_ENV_FUNCOPT:
        vb__task_args_int(a, "points", p->points);
        vb__task_args_int(a, "queries", p->queries);
        vb__task_args_double(a, "lengthscale_min", p->lengthscale_min);
        vb__task_args_double(a, "lengthscale_max", p->lengthscale_max);
        vb__task_args_double(a, "noise_std", p->noise_std);
        return 0;
    default: return vb__task_args_parse(a, p->args, err, err_len);
    }
}

#define SPEC_MAX_SIZE ((int64_t)1 << 16)
#define SPEC_MAX_CELLS ((int64_t)1 << 20)
#define SPEC_MAX_STEPS ((int64_t)1 << 24)

/* Everything the program relies on in a family's spec. */
static int check_spec(const vb_task_family *f, const vb_task_spec *t, char *err, size_t err_len) {
    const char *n = f->name;
    if (t->obs_size < 1 || t->obs_size > SPEC_MAX_SIZE)
        return snprintf(err, err_len, "task family '%s': spec.obs_size %lld: expected 1 .. %lld", n,
                        (long long)t->obs_size, (long long)SPEC_MAX_SIZE), -1;
    if (t->num_actions < 1 || t->num_actions > SPEC_MAX_SIZE)
        return snprintf(err, err_len, "task family '%s': spec.num_actions %lld: expected 1 .. %lld", n,
                        (long long)t->num_actions, (long long)SPEC_MAX_SIZE), -1;
    if (t->reward_kind == VB_TASK_REWARD_BERNOULLI) {
        if (!isfinite(t->reward_levels[0]) || !isfinite(t->reward_levels[1]) ||
            t->reward_levels[0] == t->reward_levels[1])
            return snprintf(err, err_len, "task family '%s': spec.reward_levels {%g, %g}: expected two different "
                                          "finite levels {miss, hit}", n, t->reward_levels[0], t->reward_levels[1]), -1;
        if (t->cell_hit_prior < 0 || !(t->cell_hit_prior < 1))
            return snprintf(err, err_len, "task family '%s': spec.cell_hit_prior %g: expected [0, 1)", n,
                            t->cell_hit_prior), -1;
    } else if (t->reward_kind == VB_TASK_REWARD_GAUSSIAN) {
        if (!(t->reward_noise_std >= 0) || !isfinite(t->reward_noise_std))
            return snprintf(err, err_len, "task family '%s': spec.reward_noise_std %g: expected a finite value >= 0",
                            n, t->reward_noise_std), -1;
    } else {
        return snprintf(err, err_len, "task family '%s': spec.reward_kind %d: expected VB_TASK_REWARD_BERNOULLI or "
                                      "VB_TASK_REWARD_GAUSSIAN", n, t->reward_kind), -1;
    }
    if (t->episode_length < 1 || t->episodes_per_task < 1 ||
        t->episode_length > SPEC_MAX_STEPS / t->episodes_per_task)
        return snprintf(err, err_len, "task family '%s': spec.episode_length %lld x episodes_per_task %lld: expected "
                                      ">= 1 each and at most %lld steps per task", n, (long long)t->episode_length,
                        (long long)t->episodes_per_task, (long long)SPEC_MAX_STEPS), -1;
    if (t->state_cells < 0 || t->state_cells > SPEC_MAX_CELLS)
        return snprintf(err, err_len, "task family '%s': spec.state_cells %lld: expected 0 .. %lld", n,
                        (long long)t->state_cells, (long long)SPEC_MAX_CELLS), -1;
    if (t->reward_cells < 1 || t->reward_cells > SPEC_MAX_CELLS)
        return snprintf(err, err_len, "task family '%s': spec.reward_cells %lld: expected 1 .. %lld (one per action "
                                      "for a family without structure)", n, (long long)t->reward_cells,
                        (long long)SPEC_MAX_CELLS), -1;
    if (t->task_independent_transitions && !f->transition)
        return snprintf(err, err_len, "task family '%s': spec declares task-independent transitions but the table "
                                      "has no transition callback", n), -1;
    if (t->state_cells > 0 && (!f->state_cell || !f->cell_obs))
        return snprintf(err, err_len, "task family '%s': spec declares %lld state cells but the table lacks "
                                      "state_cell or cell_obs", n, (long long)t->state_cells), -1;
    return 0;
}

/* The built-in families' extras for the reference agents. */
static void builtin_extras(const vb_env_params *p, vb_env_spec *s) {
    switch (p->family) {
    case VB_ENV_GRIDWORLD:
        s->grid_size = p->grid_size;
        s->permuted_moves = p->permute_moves;
        break;
    case VB_ENV_BANDIT:
        s->prior_alpha = p->prior_alpha;
        s->prior_beta = p->prior_beta;
        break;
    case VB_ENV_FUNCOPT: s->points = p->points; break;
    default: break;
    }
}

int vb_env_spec_from(const vb_env_params *p, vb_env_spec *spec, char *err, size_t err_len) {
    memset(spec, 0, sizeof *spec);
    const vb_task_family *f;
    if (family_of(p, &f, err, err_len) != 0) return -1;
    vb_task_args args;
    if (family_args(p, &args, err, err_len) != 0) return -1;
    vb_task_spec *t = &spec->task;
    char why[512] = "";
    if (f->spec(&vb__task_host, &args, t, why, sizeof why) != 0)
        return snprintf(err, err_len, "task family '%s': %s", f->name, why[0] ? why : "its spec failed"), -1;
    const char *unread = vb__task_args_unread(&args);
    if (unread)
        return snprintf(err, err_len, "env.args: task family '%s' has no parameter '%s'", f->name, unread), -1;
    if (check_spec(f, t, err, err_len) != 0) return -1;
    spec->family = p->family;
    spec->name = f->name;
    spec->impl = f;
    spec->obs_size = t->obs_size;
    spec->obs_layout = t->obs_layout ? t->obs_layout : "";
    spec->num_actions = t->num_actions;
    spec->reward_kind = t->reward_kind;
    spec->reward_levels[0] = t->reward_levels[0];
    spec->reward_levels[1] = t->reward_levels[1];
    spec->reward_noise_std = t->reward_kind == VB_TASK_REWARD_GAUSSIAN ? t->reward_noise_std : 0.0;
    spec->episode_length = t->episode_length;
    spec->episodes_per_task = t->episodes_per_task;
    spec->steps_per_task = t->episode_length * t->episodes_per_task;
    spec->gamma = p->gamma;
    spec->task_independent_transitions = t->task_independent_transitions != 0;
    spec->state_cells = t->state_cells;
    spec->reward_cells = t->reward_cells;
    spec->reward_cell_layout = t->reward_cell_layout ? t->reward_cell_layout : "";
    spec->cell_hit_prior = t->reward_kind == VB_TASK_REWARD_BERNOULLI ? t->cell_hit_prior : 0.0;
    spec->reports_regret = t->reports_regret != 0;
    spec->has_task_cells = f->task_cells != NULL;
    builtin_extras(p, spec);
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
    b->family = b->spec.impl;
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
    b->io = (vb_task_io){.n = n, .obs = b->obs, .reward = b->reward, .regret = b->regret, .t = b->t,
                         .episode = b->episode, .rng = (unsigned char *)b->rng, .rng_stride = sizeof *b->rng,
                         .host = &vb__task_host, .spec = &b->spec.task, .err = b->err, .err_len = sizeof b->err};
    char why[512] = "";
    if (b->family->create(&vb__task_host, &b->spec.task, n, &b->state, why, sizeof why) != 0) {
        snprintf(err, err_len, "task family '%s': create: %s", b->spec.name, why[0] ? why : "failed");
        vb_env_batch_destroy(b);
        return -1;
    }
    vb_env_set_streams(b, seed, stream_base);
    int rc = vb_env_reset_all(b);
    if (rc != VB_ENV_OK) {
        snprintf(err, err_len, "task family '%s': drawing the first tasks: %s", b->spec.name, vb_env_error(b, rc));
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

/* A family callback's status: 0, or VB_ENV_EFAMILY with its reason kept. */
static int family_status(vb_env_batch *b, int rc, const char *what) {
    if (rc == 0) return VB_ENV_OK;
    if (!b->err[0]) snprintf(b->err, sizeof b->err, "%s failed without a reason", what);
    return VB_ENV_EFAMILY;
}

int vb_env_reset_task(vb_env_batch *b, int64_t i) {
    if (i < 0 || i >= b->n) return VB_ENV_EINDEX;
    clear_outputs(b, i);
    b->regret[i] = 0;
    b->t[i] = 0;
    b->episode[i] = 0;
    b->err[0] = 0;
    return family_status(b, b->family->reset_task(b->state, &b->io, i), "reset_task");
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
    b->err[0] = 0;
    return family_status(b, b->family->reset_episode(b->state, &b->io, i), "reset_episode");
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
    b->err[0] = 0;
    int rc = family_status(b, b->family->step(b->state, &b->io, actions), "step");
    if (rc != VB_ENV_OK) return rc;
    for (int64_t i = 0; i < b->n; i++) {
        b->t[i]++;
        b->done[i] = b->t[i] == b->spec.episode_length;
        b->task_done[i] = b->done[i] && b->episode[i] + 1 == b->spec.episodes_per_task;
    }
    return VB_ENV_OK;
}

void vb_env_episode_start_obs(const vb_env_spec *spec, float *obs) {
    if (spec->impl->start_obs) spec->impl->start_obs(&spec->task, obs);
    else for (int64_t j = 0; j < spec->obs_size; j++) obs[j] = 0.0f;
}

int vb_env_transition(const vb_env_spec *spec, const float *obs, int32_t action, float *next_obs) {
    if (action < 0 || action >= spec->num_actions) return VB_ENV_EACTION;
    if (!spec->task_independent_transitions) return VB_ENV_ETASKDEP;
    spec->impl->transition(&spec->task, obs, action, next_obs);
    return VB_ENV_OK;
}

int vb_env_resolve_dynamics(const vb_env_spec *spec, int dynamics) {
    if (dynamics != VB_DYN_AUTO) return dynamics;
    return spec->task_independent_transitions ? VB_DYN_ENV : VB_DYN_LEARNED;
}

/* A family's cell, kept in range whatever it returns (env_check reports a
 * family that strays). */
static int64_t in_range(int64_t c, int64_t n) { return c < 0 ? 0 : c >= n ? n - 1 : c; }

int64_t vb_env_state_cell(const vb_env_spec *spec, const float *obs) {
    if (spec->state_cells <= 0) return 0;
    return in_range(spec->impl->state_cell(&spec->task, obs), spec->state_cells);
}

void vb_env_cell_obs(const vb_env_spec *spec, int64_t cell, float *obs) {
    if (spec->state_cells > 0) spec->impl->cell_obs(&spec->task, cell, obs);
    else for (int64_t j = 0; j < spec->obs_size; j++) obs[j] = 0.0f;
}

int64_t vb_env_reward_cell(const vb_env_spec *spec, const float *obs, int32_t action, const float *next_obs) {
    return in_range(spec->impl->reward_cell(&spec->task, obs, action, next_obs), spec->reward_cells);
}

int vb_env_task_cells(const vb_env_batch *b, int64_t i, float *out) {
    if (i < 0 || i >= b->n) return VB_ENV_EINDEX;
    if (!b->family->task_cells) return VB_ENV_ENOLABELS;
    b->family->task_cells(b->state, i, out);
    return VB_ENV_OK;
}

const char *vb_env_strerror(int code) {
    switch (code) {
    case VB_ENV_OK: return "success";
    case VB_ENV_EACTION: return "action out of range";
    case VB_ENV_EFINISHED: return "stepped an environment whose episode has ended";
    case VB_ENV_EINDEX: return "environment index out of range";
    case VB_ENV_ENOEPISODE: return "the task has no further episode";
    case VB_ENV_ETASKDEP: return "the family's transitions depend on the task: there is no exact transition";
    case VB_ENV_EFAMILY: return "the task family's callback failed";
    case VB_ENV_ENOLABELS: return "the task family gives no task labels";
    default: return "unknown error";
    }
}

const char *vb_env_error(const vb_env_batch *b, int code) {
    return code == VB_ENV_EFAMILY && b->err[0] ? b->err : vb_env_strerror(code);
}
