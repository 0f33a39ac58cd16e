#include "chunk.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void vb_chunk_layout_init(vb_chunk_layout *cl, const vb_model *m, int64_t L, bool targets) {
    memset(cl, 0, sizeof *cl);
    const vb_model_dims *d = &m->d;
    cl->L = L;
    cl->in = d->in;
    cl->obs = d->obs;
    cl->actions = d->actions;
    cl->carry = d->carry;
    cl->latent = d->latent;
    cl->cells = d->has_decoder ? d->reward_cells : 0;
    cl->targets = targets;
    int64_t off = 0;
#define FIELD(name, width) cl->name = off, off += (width)
    FIELD(x, L * d->in);
    FIELD(reset, L);
    FIELD(action, L);
    FIELD(reward, L);
    FIELD(done, L);
    FIELD(task_done, L);
    FIELD(next_obs, L * d->obs);
    FIELD(logp, L);
    FIELD(q_target, targets ? L * d->actions : 0);
    FIELD(v_target, targets ? L : 0);
    FIELD(task_cells, L * cl->cells);
    FIELD(carry0, d->carry);
    FIELD(phi_prev, 2 * d->latent);
#undef FIELD
    cl->floats = off;
}

uint64_t vb_chunk_layout_hash(const vb_chunk_layout *cl) {
    int64_t v[9] = {cl->L, cl->in, cl->obs, cl->actions, cl->carry, cl->latent, cl->targets, cl->cells, cl->floats};
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)v;
    for (size_t i = 0; i < sizeof v; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int is_flag(float f) { return f == 0.0f || f == 1.0f; }

int vb_chunk_validate(const vb_chunk_layout *cl, const float *d, char *why, size_t len) {
    for (int64_t i = 0; i < cl->floats; i++) {
        if (!isfinite(d[i])) return snprintf(why, len, "non-finite value at float %lld", (long long)i), -1;
    }
    for (int64_t t = 0; t < cl->L; t++) {
        float a = d[cl->action + t];
        if (a < 0 || a >= (float)cl->actions || a != floorf(a))
            return snprintf(why, len, "action %g at step %lld out of range", a, (long long)t), -1;
        if (!is_flag(d[cl->reset + t]) || !is_flag(d[cl->done + t]) || !is_flag(d[cl->task_done + t]))
            return snprintf(why, len, "flag at step %lld is not 0 or 1", (long long)t), -1;
        if (d[cl->task_done + t] == 1.0f && d[cl->done + t] != 1.0f)
            return snprintf(why, len, "task end without episode end at step %lld", (long long)t), -1;
        if (d[cl->logp + t] > 1e-4f) return snprintf(why, len, "log-probability above 0 at step %lld", (long long)t), -1;
        if (t > 0 && (d[cl->reset + t] == 1.0f) != (d[cl->task_done + t - 1] == 1.0f))
            return snprintf(why, len, "task start at step %lld does not follow a task end", (long long)t), -1;
    }
    return 0;
}

const char *const vb_chunk_fault_name[VB_CHUNK_FAULTS] = {"ok", "reward", "value", "log_prob", "q_target"};

void vb_chunk_bounds_from_spec(vb_chunk_bounds *b, const vb_env_spec *spec) {
    float lo, hi;
    if (spec->reward_kind == VB_REWARD_BERNOULLI) {
        lo = fminf(spec->reward_levels[0], spec->reward_levels[1]);
        hi = fmaxf(spec->reward_levels[0], spec->reward_levels[1]);
    } else {
        /* Gaussian rewards: a unit-variance mean plus noise; 20 standard
         * deviations of each is never reached by an honest env */
        hi = (float)(20.0 + 20.0 * spec->reward_noise_std);
        lo = -hi;
    }
    b->reward_min = lo;
    b->reward_max = hi;
    b->value_abs_max = fmaxf(fabsf(lo), fabsf(hi)) * (float)spec->steps_per_task * 1.01f + 1.0f;
    b->log_prob_min = -50.0f;
}

vb_chunk_fault vb_chunk_check_bounds(const vb_chunk_layout *cl, const vb_chunk_bounds *b, const float *d,
                                     char *why, size_t len) {
    for (int64_t t = 0; t < cl->L; t++) {
        float r = d[cl->reward + t];
        if (r < b->reward_min || r > b->reward_max)
            return snprintf(why, len, "reward %g at step %lld outside [%g, %g]", r, (long long)t, b->reward_min,
                            b->reward_max), VB_CHUNK_REWARD;
        if (d[cl->logp + t] < b->log_prob_min)
            return snprintf(why, len, "behaviour log-probability %g at step %lld below %g", d[cl->logp + t],
                            (long long)t, b->log_prob_min), VB_CHUNK_LOG_PROB;
        if (!cl->targets) continue;
        if (fabsf(d[cl->v_target + t]) > b->value_abs_max)
            return snprintf(why, len, "value target %g at step %lld beyond %g", d[cl->v_target + t], (long long)t,
                            b->value_abs_max), VB_CHUNK_VALUE;
        const float *q = d + cl->q_target + t * cl->actions;
        double sum = 0;
        for (int64_t a = 0; a < cl->actions; a++) {
            if (q[a] < 0.0f || q[a] > 1.0f)
                return snprintf(why, len, "q-target %g at step %lld is not a probability", q[a], (long long)t),
                       VB_CHUNK_Q_TARGET;
            sum += q[a];
        }
        if (fabs(sum - 1.0) > 1e-3)
            return snprintf(why, len, "q-targets at step %lld sum to %g, not 1", (long long)t, sum), VB_CHUNK_Q_TARGET;
    }
    return VB_CHUNK_OK;
}
