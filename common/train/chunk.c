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
