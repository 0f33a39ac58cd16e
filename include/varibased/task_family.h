/* varibased/task_family.h — the public C interface of a task family.
 *
 * A task family is a distribution over MDPs: each task is drawn once and kept
 * for `episodes_per_task` episodes of `episode_length` steps. The learner and
 * the actors load a family from a shared library at run time
 *
 *     env:
 *       name: plugin
 *       plugin: path/to/libmytask.so
 *       family: mytask
 *       args: "size=5 episodes=4"
 *
 * and the three built-in families (gridworld, bandit, funcopt) implement this
 * same table. docs/envs.md walks through writing one.
 *
 * Shape (PufferLib's ocean envs): the family keeps the state of n environments
 * in plain arrays; the program owns the observation, reward and regret
 * buffers and every environment's random stream, and calls the family to
 * reset or step them. Nothing here allocates after `create`.
 *
 * ABI: a plugin defines its families with VB_TASK_EXPORT (below), which also
 * records the VB_TASK_ABI_VERSION it was compiled against; a program refuses
 * a plugin of another version. New fields are appended to the structs and
 * raise the version.
 *
 * Randomness: draw everything from the stream the program hands each
 * environment (host->uniform(rng) and friends). A batch is then reproducible
 * from (seed, environment index) alone, the same tasks reach every agent in an
 * evaluation, and held-out tasks stay disjoint from training ones. */
#ifndef VARIBASED_TASK_FAMILY_H
#define VARIBASED_TASK_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VB_TASK_ABI_VERSION 1u

/* Reward kinds. */
enum {
    VB_TASK_REWARD_BERNOULLI = 0, /* one of two levels: reward_levels[0] (miss) or [1] (hit) */
    VB_TASK_REWARD_GAUSSIAN = 1,  /* a task-dependent mean plus Gaussian noise of reward_noise_std */
};

/* Bytes a family may keep in its spec for its own constants (grid side, ...). */
#define VB_TASK_DATA_BYTES 256

/* What an agent may know before it sees a task. The family's `spec` fills it;
 * the program checks every field (docs/envs.md, "What is checked"). */
typedef struct vb_task_spec {
    int64_t obs_size;               /* floats per observation, 1 .. 65536 */
    const char *obs_layout;         /* what each observation feature is (static text) */
    int64_t num_actions;            /* discrete actions 0 .. num_actions - 1, 1 .. 65536 */
    int32_t reward_kind;            /* VB_TASK_REWARD_* */
    float reward_levels[2];         /* BERNOULLI: {miss, hit}, different and finite */
    double reward_noise_std;        /* GAUSSIAN: the reward noise; BERNOULLI: 0 */
    int64_t episode_length;         /* steps per episode, >= 1 */
    int64_t episodes_per_task;      /* episodes of one task, >= 1 */
    /* 1: the successor state does not depend on the task; `transition` then
     * computes it exactly and the planner may use it (planner.dynamics: env).
     * 0: the planner imagines successors with the learned next-state decoder. */
    int32_t task_independent_transitions;
    /* > 0: the states are this many discrete cells (`state_cell`, `cell_obs`),
     * and the next-state decoder is a categorical over them; 0: continuous
     * observations, decoded as unit-variance Gaussians per feature. */
    int64_t state_cells;
    /* The reward decoder's structured head: one output (a hit logit or a
     * mean) per cell; `reward_cell` says which cell a transition reads. A
     * family without structure declares one cell per action. >= 1. */
    int64_t reward_cells;
    const char *reward_cell_layout; /* what a cell is (static text) */
    double cell_hit_prior;          /* BERNOULLI: a cell's hit probability under the task prior, 0 = not given */
    int32_t reports_regret;         /* 1: step writes the simple regret (evaluation reports it) */
    /* The family's own constants, read by the stateless callbacks below,
     * which get no other context. Copied with the spec; no pointers into it. */
    union {
        unsigned char bytes[VB_TASK_DATA_BYTES];
        double align_double;
        int64_t align_int;
    } data;
} vb_task_spec;

/* One environment's random stream (opaque; the program's Philox streams). */
typedef struct vb_task_rng vb_task_rng;
/* The family's parameters (opaque; env.args, or the built-ins' config keys). */
typedef struct vb_task_args vb_task_args;

/* What the program offers a family. Valid for the program's lifetime. */
typedef struct vb_task_host {
    uint32_t abi_version;
    /* Draws from an environment's stream. */
    uint32_t (*below)(vb_task_rng *rng, uint32_t n);                  /* uniform in [0, n), n >= 1 */
    double (*uniform)(vb_task_rng *rng);                              /* uniform in [0, 1) */
    double (*normal)(vb_task_rng *rng);                               /* standard normal */
    double (*beta)(vb_task_rng *rng, double a, double b);             /* Beta(a, b), a, b > 0 */
    /* Parameters by name: 0 found (written to *value), 1 absent (*value
     * untouched: keep your default), -1 present but malformed (err written). */
    int (*arg_int)(const vb_task_args *args, const char *key, int64_t *value, char *err, size_t err_len);
    int (*arg_double)(const vb_task_args *args, const char *key, double *value, char *err, size_t err_len);
    /* The k-th pair as text, for families whose keys are not known in
     * advance (the Python bridge passes them on): 0 (*key, *value set; the
     * pair counts as read), or 1 when k is past the last pair. */
    int (*arg_at)(const vb_task_args *args, int k, const char **key, const char **value);
} vb_task_host;

/* The program's buffers for n environments, passed to every batched call. */
typedef struct vb_task_io {
    int64_t n;
    float *obs;              /* (n, obs_size): write the observation */
    float *reward;           /* (n): step writes the reward */
    float *regret;           /* (n): step writes the simple regret (reports_regret) */
    const int64_t *t;        /* (n): steps taken in the current episode (before this step) */
    const int64_t *episode;  /* (n): the current episode of the task, 0-based */
    unsigned char *rng;      /* environment i's stream: vb_task_env_rng(io, i) */
    size_t rng_stride;
    const vb_task_host *host;
    const vb_task_spec *spec;
    char *err;               /* a failing call writes why here */
    size_t err_len;
} vb_task_io;

static inline vb_task_rng *vb_task_env_rng(const vb_task_io *io, int64_t i) {
    return (vb_task_rng *)(io->rng + io->rng_stride * (size_t)i);
}

/* A task family. Required: name, spec, create, destroy, reset_task,
 * reset_episode, step, reward_cell; transition when the spec declares
 * task-independent transitions; state_cell and cell_obs when it declares
 * state cells. Callbacks return 0, or -1 with a reason in err / io->err. */
typedef struct vb_task_family {
    uint32_t abi_version;     /* VB_TASK_ABI_VERSION, set by VB_TASK_FAMILY_INIT */
    const char *name;         /* what env.family names, [a-z0-9_-]+ */
    const char *description;  /* one line */

    /* Fill spec from args (the program zeroes it first). A key of args that
     * this call never asked for is refused by the program as a misspelling. */
    int (*spec)(const vb_task_host *host, const vb_task_args *args, vb_task_spec *spec, char *err, size_t err_len);
    /* State for n environments (tasks not drawn yet: reset_task follows). */
    int (*create)(const vb_task_host *host, const vb_task_spec *spec, int64_t n, void **state, char *err,
                  size_t err_len);
    void (*destroy)(void *state);

    /* Environment i draws a new task from its stream and writes its first
     * observation. */
    int (*reset_task)(void *state, const vb_task_io *io, int64_t i);
    /* Environment i starts its next episode of the same task: writes the
     * observation (the program keeps the clock). */
    int (*reset_episode)(void *state, const vb_task_io *io, int64_t i);
    /* Every environment takes actions[i] (checked in range by the program):
     * writes obs (the successor, also at an episode's end), reward and regret. */
    int (*step)(void *state, const vb_task_io *io, const int32_t *actions);

    /* The reward cell of the transition (obs, action, next_obs), in [0, reward_cells). */
    int64_t (*reward_cell)(const vb_task_spec *spec, const float *obs, int32_t action, const float *next_obs);
    /* task_independent_transitions: the exact successor of obs under action. */
    void (*transition)(const vb_task_spec *spec, const float *obs, int32_t action, float *next_obs);
    /* state_cells > 0: the cell of an observation, in [0, state_cells), and back. */
    int64_t (*state_cell)(const vb_task_spec *spec, const float *obs);
    void (*cell_obs)(const vb_task_spec *spec, int64_t cell, float *obs);
    /* Optional: the observation every later episode starts from, when it does
     * not depend on the task (the planner imagines across episode ends with
     * it); NULL means all zeros. */
    void (*start_obs)(const vb_task_spec *spec, float *obs);
    /* Optional: environment i's task as one label per reward cell (the hit
     * probability, or the mean reward), which learner.elbo_decode: task
     * decodes (privileged, training only). NULL: that option is refused. */
    void (*task_cells)(void *state, int64_t i, float *out);
} vb_task_family;

#define VB_TASK_FAMILY_INIT .abi_version = VB_TASK_ABI_VERSION

/* A plugin exports its families with
 *
 *     VB_TASK_EXPORT(&my_family, &my_other_family)
 *
 * at file scope: the program reads vb_task_abi, then vb_task_families()
 * (a NULL-terminated list). */
#if defined(__GNUC__)
#define VB_TASK_VISIBLE __attribute__((visibility("default")))
#else
#define VB_TASK_VISIBLE
#endif
#define VB_TASK_EXPORT(...)                                                          \
    VB_TASK_VISIBLE const uint32_t vb_task_abi = VB_TASK_ABI_VERSION;                \
    VB_TASK_VISIBLE const vb_task_family *const *vb_task_families(void) {            \
        static const vb_task_family *const list[] = {__VA_ARGS__, NULL};             \
        return list;                                                                 \
    }

#ifdef __cplusplus
}
#endif

#endif
