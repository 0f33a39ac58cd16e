/* registry — see registry.h. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impl.h"

#define AGENT(n, fam, sum, make) {.name = n, .family = fam, .summary = sum, .create = make}
#define SOLVED(n, fam, sum, make, solve_fn, free_fn, exact_fn) \
    {.name = n, .family = fam, .summary = sum, .create = make, .solve = solve_fn, .solution_free = free_fn, \
     .exact = exact_fn}

static const vb_agent_info registry[] = {
    AGENT("random", -1, "uniform random actions", vb__agent_random_create),
    AGENT("oracle", VB_ENV_GRIDWORLD, "knows the goal; walks straight to it", vb__agent_grid_oracle_create),
    AGENT("greedy-search", VB_ENV_GRIDWORLD, "walks to the nearest unvisited candidate cell until the goal is found",
          vb__agent_grid_greedy_create),
    SOLVED("bayes-optimal", VB_ENV_GRIDWORLD,
           "exact Bayes-optimal policy (DP over cell, unvisited candidate cells and clock; grids up to 5x5)",
           vb__agent_grid_bayes_create, vb__agent_grid_bayes_solve, vb__agent_grid_bayes_free,
           vb__agent_grid_bayes_exact),
    SOLVED("bayes-optimal", VB_ENV_BANDIT, "exact finite-horizon Bayes-optimal policy (DP over Beta counts)",
           vb__agent_bandit_bayes_create, vb__agent_bandit_bayes_solve, vb__agent_bandit_bayes_free,
           vb__agent_bandit_bayes_exact),
    AGENT("thompson", VB_ENV_BANDIT, "Thompson sampling from the Beta posteriors", vb__agent_bandit_thompson_create),
    AGENT("ucb1", VB_ENV_BANDIT, "UCB1 (Auer et al. 2002)", vb__agent_bandit_ucb1_create),
    AGENT("gp-ucb", VB_ENV_FUNCOPT, "GP-UCB with the true kernel (Srinivas et al. 2010)", vb__agent_gp_ucb_create),
    AGENT("gp-ei", VB_ENV_FUNCOPT, "expected improvement under the exact GP posterior", vb__agent_gp_ei_create),
    AGENT("gp-thompson", VB_ENV_FUNCOPT, "Thompson sampling from the exact GP posterior", vb__agent_gp_thompson_create),
    AGENT("oracle", VB_ENV_FUNCOPT, "knows argmax f; queries it every step", vb__agent_funcopt_oracle_create),
};

const vb_agent_info *vb_agent_registry(size_t *count) {
    *count = sizeof registry / sizeof registry[0];
    return registry;
}

const vb_agent_info *vb_agent_find(const char *name, int family) {
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if ((registry[i].family == -1 || registry[i].family == family) && strcmp(registry[i].name, name) == 0)
            return &registry[i];
    }
    return NULL;
}

void vb_agent_names(int family, char *buf, size_t len) {
    size_t used = 0;
    if (len) buf[0] = '\0';
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (registry[i].family != -1 && registry[i].family != family) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", registry[i].name);
        if (w < 0 || (size_t)w >= len - used) return;
        used += (size_t)w;
    }
}

struct vb_agent_solution {
    const vb_agent_info *info;
    void *data;
};

/* The agent `name` for family, or NULL with err listing the valid ones. */
static const vb_agent_info *find_or_explain(const char *name, const vb_env_spec *spec, char *err, size_t err_len) {
    const vb_agent_info *info = vb_agent_find(name, spec->family);
    if (!info) {
        char names[512];
        vb_agent_names(spec->family, names, sizeof names);
        snprintf(err, err_len, "unknown agent '%s' for %s (valid: %s)", name, spec->name, names);
    }
    return info;
}

int vb_agent_solve(vb_agent_solution **out, const char *name, const vb_env_spec *spec,
                   char *err, size_t err_len) {
    *out = NULL;
    const vb_agent_info *info = find_or_explain(name, spec, err, err_len);
    if (!info) return VB_AGENT_EUSAGE;
    if (!info->solve) return 0;
    vb_agent_solution *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    s->info = info;
    int rc = info->solve(spec, &s->data, err, err_len);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void vb_agent_solution_free(vb_agent_solution *s) {
    if (!s) return;
    if (s->info->solution_free) s->info->solution_free(s->data);
    free(s);
}

int vb_agent_solution_exact(const vb_agent_solution *s, double *task_return, double *episode_return, int64_t episodes) {
    if (!s || !s->info->exact) return -1;
    s->info->exact(s->data, task_return, episode_return, episodes);
    return 0;
}

int vb_agent_create_solved(vb_agent **out, const char *name, const vb_agent_solution *solution,
                           const vb_env_batch *env, uint64_t seed, uint64_t stream_base,
                           char *err, size_t err_len) {
    *out = NULL;
    const vb_agent_info *info = find_or_explain(name, &env->spec, err, err_len);
    if (!info) return VB_AGENT_EUSAGE;
    if (info->solve && (!solution || solution->info != info))
        return snprintf(err, err_len, "agent '%s' needs its solution from vb_agent_solve", name), VB_AGENT_EUSAGE;
    vb_agent *a = calloc(1, sizeof *a);
    if (!a) return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    a->name = info->name;
    a->n = env->n;
    a->solution = info->solve ? solution->data : NULL;
    a->rng = calloc((size_t)env->n, sizeof *a->rng);
    if (!a->rng) {
        free(a);
        return snprintf(err, err_len, "out of memory"), VB_AGENT_ERUNTIME;
    }
    vb_agent_set_streams(a, seed, stream_base);
    int rc = info->create(a, env, err, err_len);
    if (rc != 0) {
        vb_agent_destroy(a);
        return rc;
    }
    vb_agent_reset_all(a, env);
    *out = a;
    return 0;
}

int vb_agent_create(vb_agent **out, const char *name, const vb_env_batch *env,
                    uint64_t seed, uint64_t stream_base, char *err, size_t err_len) {
    *out = NULL;
    vb_agent_solution *s = NULL;
    int rc = vb_agent_solve(&s, name, &env->spec, err, err_len);
    if (rc == 0) rc = vb_agent_create_solved(out, name, s, env, seed, stream_base, err, err_len);
    if (rc != 0) {
        vb_agent_solution_free(s);
        return rc;
    }
    (*out)->own = s;
    (*out)->own_free = vb_agent_solution_free;
    return 0;
}

