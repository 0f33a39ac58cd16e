/* model — the networks of one agent, all in one parameter arena.
 *
 *   encoder  x_t = (s_t, onehot a_{t-1}, r_{t-1}, done_{t-1}, [onehot cell(s_t)],
 *            tau_t), tau_t the task clock: steps since the task start / steps
 *            per task; the cell's one-hot with model.cell_input
 *              -> e = relu(W_e x + b_e)                       (embed)
 *              -> core: GRU(e) -> o (hidden)                   (model.core: gru)
 *                       or gelu(S5(W_u e + b_u)) -> o          (model.core: s5)
 *              -> phi = (mu, logvar) = W_q o + b_q             (belief head)
 *   decoder  reward: m -> one value per reward cell (logit, or mean for
 *            Gaussian rewards); the transition reads its cell. With
 *            model.reward_decoder: categorical the values are the logits
 *            of one softmax over the cells, which every reader takes as
 *            per-cell log-odds (vb_model_reward_logodds). With
 *            model.decoder_obs it reads (m, s), s the row's current
 *            observation (and its cell's one-hot with model.cell_input),
 *            the state before the transition it decodes
 *            state:  (s, onehot a, m) -> the successor: logits over the
 *            env's state cells (spec.state_cells > 0), else the mean of a
 *            unit-variance Gaussian per observation feature; present exactly
 *            when the planner uses learned dynamics, and then trained by the
 *            ELBO (train/elbo_state.h). model.reward_latent k > 0 splits m:
 *            the reward decoder reads m[0, k) and the state head m[k, latent),
 *            a factorised belief over the rewards and the dynamics (their
 *            first layers' weights on the other part are zero and stay zero:
 *            vb_model_mask_split)
 *   policy   features -> logits (A);  value  features -> V
 *            features = (s, tau, mu, logvar) for belief agents, (s, tau, o) for
 *            rl2: the remaining horizon matters to a Bayes-optimal policy;
 *            (s, tau, mu, logvar, o) for belief agents with model.policy_hidden;
 *            model.policy_cells appends c = reward decoder at mu (sigmoid for
 *            Bernoulli rewards), the belief's prediction of every reward cell,
 *            read with a stop-gradient
 *
 * The recurrent carry of a row is the GRU state (hidden floats) or the S5
 * complex state (2 * s5_state floats); it is zero at a task start and never
 * reset at inner episode ends (done_{t-1} is an input instead). */
#ifndef VB_MODEL_H
#define VB_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/backend.h"
#include "../base/kinds.h"
#include "../envs/env.h"
#include "../nn/arena.h"
#include "../nn/gru.h"
#include "../nn/mlp.h"
#include "../nn/s5.h"

typedef struct vb_model_dims {
    int64_t obs, actions;
    int64_t in;          /* encoder input: obs + actions + 3 + in_cells */
    int64_t embed, hidden, latent, mlp_hidden, s5_state;
    int64_t carry;       /* floats of recurrent state per row */
    int64_t feat;        /* policy/value input width */
    int64_t steps_per_task;
    int64_t reward_cells;
    int core;            /* vb_core_kind */
    int algo;            /* vb_algo */
    bool belief_features;/* policy sees (s, mu, logvar); else (s, o) */
    bool policy_hidden;  /* belief agents: the policy also sees o (model.policy_hidden) */
    bool policy_cells;   /* belief agents: the policy also sees the decoded cells (model.policy_cells) */
    bool task_clock;     /* tau is the task clock; false: tau reads 0 (model.task_clock) */
    int64_t in_cells;    /* model.cell_input: the env's state cells, one-hot in x; else 0 */
    int64_t dec_obs;     /* model.decoder_obs: the floats of s the reward decoder reads after m (obs + in_cells
                            [+ 1 for r_{t-1}], vb_model_state_input); else 0 */
    bool dec_reward;     /* model.decoder_reward: r_{t-1} is the last of them */
    bool has_decoder;
    bool has_state_head;
    int64_t state_cells; /* the env's discrete states (0: continuous observations) */
    int64_t state_out;   /* state head outputs: state_cells, or obs */
    int reward_kind;     /* vb_reward_kind */
    float reward_levels[2];
    float cell_hit_prior; /* the env's prior hit probability of a cell, 0 if not given */
    bool reward_categorical; /* the reward decoder is one softmax over the cells (model.reward_decoder) */
    int64_t reward_latent;   /* the reward decoder reads m[0, reward_latent), the state head the rest; 0: both all */
} vb_model_dims;

typedef struct vb_model {
    vb_model_dims d;
    vb_env_spec spec;    /* the env's spec: vb_model_input reads its state cells */
    vb_layout layout;
    vb_linear embed;
    vb_gru gru;
    vb_linear s5_in;
    vb_s5 s5;
    vb_linear belief;
    vb_mlp reward_dec;
    vb_mlp state_dec;
    vb_mlp policy;
    vb_mlp value;
} vb_model;

/* The model section of a run config, and what of the run shapes the networks. */
typedef struct vb_model_cfg {
    int algo;                    /* vb_algo */
    int core;                    /* vb_core_kind */
    int64_t embed, hidden, latent, mlp_hidden, s5_state;
    bool policy_hidden, policy_cells, task_clock;
    bool cell_input;             /* the encoder also reads onehot(state cell of s) */
    bool decoder_obs;            /* the reward decoder also reads s */
    bool decoder_reward;         /* ... and r_{t-1} */
    int reward_decoder;          /* vb_reward_decoder */
    int64_t reward_latent;       /* latent dims the reward decoder reads (0: all) */
    int dynamics;                /* vb_dynamics of the planner (auto resolved by the env's spec):
                                    learned needs a next-state head */
} vb_model_cfg;

/* Dimensions and layout from c and the env's spec. 0, or -1 with err. */
int vb_model_build(vb_model *m, const vb_model_cfg *c, const vb_env_spec *spec, char *err, size_t err_len);
/* Host-side initialisation of a parameter buffer of m->layout.total floats. */
int vb_model_init(const vb_model *m, float *P, uint64_t seed);

/* model.reward_latent: zero, in X (the parameters, or their gradient before
 * an optimiser step), the reward decoder's first-layer weights on m[k, latent)
 * and the state head's on m[0, k); nothing without a split. */
void vb_model_mask_split(const vb_backend *be, const vb_model *m, float *X);

/* The reward decoder's outputs cells (N, reward_cells) as one Bernoulli
 * logit per cell, in place: unchanged for independent cells, the softmax's
 * per-cell log-odds for a categorical decoder (nn/softmax_cells.h). Every
 * reader of the decoder but the ELBO calls it first. */
void vb_model_reward_logodds(const vb_model_dims *d, float *cells, int64_t N);

/* What the reward decoder reads of an observation with model.decoder_obs
 * (dec_obs floats): obs, with model.cell_input the one-hot of its cell, and
 * with model.decoder_reward r_prev, the reward of the transition into it. */
void vb_model_state_input(const vb_model *m, float *out, const float *obs, float r_prev);

/* The reward decoder's input rows (N, latent + dec_obs): row n is the latent
 * z + n z_stride and, with model.decoder_obs, vb_model_state_input of the
 * observation s + (n / s_every) s_stride and the reward r[(n / s_every)
 * r_stride] (0 where r is NULL) after it. Returns z itself where that is
 * already the input (no observation, z_stride latent), else buf (N (latent +
 * dec_obs) floats) filled. x rows (vb_model_input) give s = x, r = x +
 * vb_model_input_reward_at. */
const float *vb_model_reward_input(const vb_backend *be, const vb_model *m, float *buf, const float *z,
                                   int64_t z_stride, const float *s, int64_t s_stride, const float *r, int64_t r_stride,
                                   int64_t s_every, int64_t N);
/* The offset of r_{t-1} in an encoder input row. */
static inline int64_t vb_model_input_reward_at(const vb_model_dims *d) { return d->obs + d->actions; }

/* Encoder input row for one step: x = (s, onehot a_prev, r_prev, done_prev,
 * [onehot cell(s) with model.cell_input], tau) with tau = task_step /
 * steps_per_task (0 without model.task_clock); a_prev < 0 means "no previous
 * action" (a task start). */
void vb_model_input(const vb_model *m, float *x, const float *obs, int32_t a_prev, float r_prev, float done_prev,
                    int64_t task_step);

/* ---- the encoder over a window (learning) ------------------------------ */
typedef struct vb_encoder_ws {
    int64_t T, N;        /* capacity */
    int threads;         /* the recurrent core's threads over the batch (gru.h, s5_assoc.h) */
    float *e;            /* (T,N,embed) post-relu */
    float *e_pre;        /* (T,N,embed) */
    float *u;            /* s5: (T,N,hidden) input of the S5 layer */
    float *y;            /* s5: (T,N,hidden) S5 output before gelu */
    float *core_cache;   /* GRU or S5 cache */
    float *scratch;      /* core backward scratch */
    float *d_o;          /* (T,N,hidden) */
    float *d_e;          /* (T,N,embed) */
    float *d_tmp;        /* (T,N,max(embed,hidden)) */
    void *block;         /* every buffer above */
} vb_encoder_ws;

/* threads > 1 runs the recurrent core's window on that many threads over the
 * batch (gru.h, s5_assoc.h: the result then depends on the count, to float
 * rounding); the workspace is sized for it. */
int vb_encoder_ws_init(vb_encoder_ws *ws, const vb_model *m, int64_t T, int64_t N, int threads);
void vb_encoder_ws_free(vb_encoder_ws *ws);
/* x (T,N,in), carry0 (N,carry), reset (T,N) or NULL -> o (T,N,hidden) and
 * phi (T,N,2*latent) (mu then logvar per row). carry_out (N,carry) receives
 * the state after the last step unless NULL. */
void vb_encoder_forward(const vb_backend *be, const vb_model *m, const float *P, const float *x, const float *carry0,
                        const uint8_t *reset, float *o, float *phi, float *carry_out, vb_encoder_ws *ws, int64_t T,
                        int64_t N);
/* Backward from d_o (T,N,hidden) and/or d_phi (T,N,2*latent) (either NULL):
 * G += ...; with the GRU, d_carry0 (N,carry) += the gradient at carry0 unless
 * NULL (the S5 core takes NULL: cached carries are data). reset
 * is the forward's; with the GRU it may hold more rows than the forward's,
 * and the gradient stops at those too (truncated backpropagation: the GRU
 * backward reads reset only to stop the gradient at a row's input carry). */
void vb_encoder_backward(const vb_backend *be, const vb_model *m, const float *P, float *G, const float *x,
                         const float *carry0, const uint8_t *reset, const float *o, const float *d_o,
                         const float *d_phi, float *d_carry0, vb_encoder_ws *ws, int64_t T, int64_t N);

/* ---- the encoder one step at a time (acting, planning) ------------------ */
typedef struct vb_encoder_step_ws {
    int64_t N;
    float *disc;         /* s5 discretisation of the current parameters */
    float *pack_embed, *pack_gru, *pack_belief; /* gru: those layers' weights packed */
    float *e, *u, *y, *cache, *scratch;
    void *block;         /* every buffer above */
} vb_encoder_step_ws;

int vb_encoder_step_ws_init(vb_encoder_step_ws *ws, const vb_model *m, int64_t N);
void vb_encoder_step_ws_free(vb_encoder_step_ws *ws);
/* Call after the parameters change (precomputes the S5 discretisation, packs
 * the GRU encoder's weights). */
void vb_encoder_step_prepare(const vb_backend *be, const vb_model *m, const float *P, vb_encoder_step_ws *ws);
/* One step for N rows: carry (N,carry) is updated in place, x (N,in) ->
 * o (N,hidden), phi (N,2*latent), none of them overlapping. The caller
 * zeroes a row's carry (carry floats) at a task start. */
void vb_encoder_step(const vb_backend *be, const vb_model *m, const float *P, float *carry, const float *x,
                     float *o, float *phi, vb_encoder_step_ws *ws, int64_t N);
/* Both outcomes of one step from the same R carries: x (2R,in) holds
 * outcome A's inputs in rows [0, R) and B's in [R, 2R), carry (2R,carry) the
 * carries in rows [0, R). Afterwards carry, o and phi hold A's results in rows
 * [0, R) and B's in [R, 2R), as a copy of the carries stepped with
 * vb_encoder_step over 2R rows would, with the GRU's recurrent product
 * computed once for both. ws as vb_encoder_step's for at least 2R rows. */
void vb_encoder_step_shared(const vb_backend *be, const vb_model *m, const float *P, float *carry, const float *x,
                            float *o, float *phi, vb_encoder_step_ws *ws, int64_t R);

/* Floats of workspace vb_model_features needs for N rows (0 without
 * model.policy_cells). */
int64_t vb_model_features_ws_floats(const vb_model *m, int64_t N);
/* Policy/value features of N rows from their encoder inputs x (N, in):
 * (s, tau, mu, logvar[, o][, c]) or (s, tau, o). P and ws (of
 * vb_model_features_ws_floats floats) are read only with model.policy_cells. */
void vb_model_features(const vb_backend *be, const vb_model *m, const float *P, float *feat, const float *x,
                       const float *o, const float *phi, float *ws, int64_t N);
/* Backward of vb_model_features into the encoder's outputs, from d_feat (N,
 * feat): the o part overwrites d_o (N, hidden), the (mu, logvar) part is
 * added to d_phi (N, 2 latent); s, tau and the decoded cells (read with a
 * stop-gradient) pass nothing on. Returns whether d_o was written (the
 * features hold o). */
bool vb_model_features_backward(const vb_backend *be, const vb_model *m, const float *d_feat, float *d_o,
                                float *d_phi, int64_t N);

#endif
