/* refresh — see refresh.h. */
#include "refresh.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *alloc_f(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

int vb_refresh_init(vb_refresh *r, const vb_model *m, const vb_chunk_layout *cl, int64_t capacity, int64_t N,
                    char *err, size_t err_len) {
    memset(r, 0, sizeof *r);
    const vb_model_dims *d = &m->d;
    r->m = m;
    r->cl = *cl;
    r->cap = d->steps_per_task > 1 ? d->steps_per_task - 1 : 1;
    r->capacity = capacity;
    r->N = N;
    double bytes = 4.0 * (double)capacity * (double)r->cap * (double)d->in;
    if (bytes > 8.0 * 1024 * 1024 * 1024)
        return snprintf(err, err_len,
                        "learner.refresh_carry would hold %.1f GiB of task prefixes (replay_capacity %lld x %lld "
                        "steps): lower learner.replay_capacity",
                        bytes / 1073741824.0, (long long)capacity, (long long)r->cap), -1;
    r->len = malloc(sizeof(int64_t) * (size_t)capacity);
    r->x = alloc_f(capacity * r->cap * d->in);
    r->X = alloc_f(r->cap * N * d->in);
    r->zero = alloc_f(N * d->carry);
    r->o = alloc_f(r->cap * N * d->hidden);
    r->phi = alloc_f(r->cap * N * 2 * d->latent);
    r->carry = alloc_f(N * d->carry);
    r->reset = calloc((size_t)(r->cap * N), 1);
    r->fresh = calloc((size_t)N, 1);
    r->d_o = alloc_f(r->cap * N * d->hidden);
    r->d_phi = alloc_f(r->cap * N * 2 * d->latent);
    if (!r->len || !r->x || !r->X || !r->zero || !r->o || !r->phi || !r->carry || !r->reset || !r->fresh || !r->d_o ||
        !r->d_phi ||
        vb_encoder_ws_init(&r->ws, m, r->cap, N, 1) != 0) {
        vb_refresh_free(r);
        return snprintf(err, err_len, "out of memory for learner.refresh_carry"), -1;
    }
    for (int64_t i = 0; i < capacity; i++) r->len[i] = -1;
    return 0;
}

void vb_refresh_free(vb_refresh *r) {
    for (int64_t i = 0; i < r->n_streams; i++) free(r->streams[i].x);
    free(r->streams);
    free(r->len);
    free(r->x);
    free(r->X);
    free(r->zero);
    free(r->o);
    free(r->phi);
    free(r->carry);
    free(r->reset);
    free(r->fresh);
    free(r->d_o);
    free(r->d_phi);
    vb_encoder_ws_free(&r->ws);
    memset(r, 0, sizeof *r);
}

static vb_refresh_stream *stream_of(vb_refresh *r, int32_t actor, int32_t slot) {
    for (int64_t i = 0; i < r->n_streams; i++)
        if (r->streams[i].actor == actor && r->streams[i].slot == slot) return &r->streams[i];
    if (r->n_streams == r->cap_streams) {
        int64_t n = r->cap_streams ? 2 * r->cap_streams : 16;
        vb_refresh_stream *s = realloc(r->streams, sizeof *s * (size_t)n);
        if (!s) return NULL;
        r->streams = s;
        r->cap_streams = n;
    }
    vb_refresh_stream *s = &r->streams[r->n_streams];
    s->actor = actor;
    s->slot = slot;
    s->len = -1;
    s->x = alloc_f(r->cap * r->m->d.in);
    if (!s->x) return NULL;
    r->n_streams++;
    return s;
}

int vb_refresh_observe(vb_refresh *r, const vb_chunk *c, int64_t slot_index) {
    const vb_chunk_layout *cl = &r->cl;
    const int64_t in = r->m->d.in;
    vb_refresh_stream *s = stream_of(r, c->actor, c->slot);
    if (!s) return -1;
    if (slot_index >= 0) {
        r->len[slot_index] = s->len;
        if (s->len > 0) memcpy(r->x + slot_index * r->cap * in, s->x, sizeof(float) * (size_t)(s->len * in));
    }
    for (int64_t t = 0; t < cl->L; t++) {
        if (c->data[cl->reset + t] != 0.0f) s->len = 0;
        if (s->len < 0) continue;
        if (s->len == r->cap) { /* longer than a task: the history is not a prefix any more */
            s->len = -1;
            continue;
        }
        memcpy(s->x + s->len * in, c->data + cl->x + t * in, sizeof(float) * (size_t)in);
        s->len++;
    }
    return 0;
}

int64_t vb_refresh_batch(vb_refresh *r, const vb_backend *be, const float *P, const int64_t *idx,
                         const float *const *batch, float *carry0, float *phi_prev0, double *drift) {
    const vb_model *m = r->m;
    const vb_model_dims *d = &m->d;
    const int64_t N = r->N, in = d->in, C = d->carry, L2 = 2 * d->latent;
    int64_t Tp = 0, n = 0;
    for (int64_t w = 0; w < N; w++) {
        int64_t p = r->len[idx[w]];
        if (p > 0 && batch[w][r->cl.reset] == 0.0f && p > Tp) Tp = p;
    }
    *drift = 0;
    r->Tp = Tp;
    for (int64_t w = 0; w < N; w++) r->fresh[w] = 0;
    if (Tp == 0) return 0;
    /* prefixes right-aligned in Tp steps; the task start resets the carry */
    memset(r->X, 0, sizeof(float) * (size_t)(Tp * N * in));
    memset(r->reset, 0, (size_t)(Tp * N));
    for (int64_t w = 0; w < N; w++) {
        int64_t p = r->len[idx[w]];
        if (p <= 0 || batch[w][r->cl.reset] != 0.0f) continue;
        const float *src = r->x + idx[w] * r->cap * in;
        for (int64_t s = 0; s < p; s++)
            memcpy(r->X + ((Tp - p + s) * N + w) * in, src + s * in, sizeof(float) * (size_t)in);
        r->reset[(Tp - p) * N + w] = 1;
    }
    vb_encoder_forward(be, m, P, r->X, r->zero, r->reset, r->o, r->phi, r->carry, &r->ws, Tp, N);
    double sum = 0;
    for (int64_t w = 0; w < N; w++) {
        int64_t p = r->len[idx[w]];
        if (p <= 0 || batch[w][r->cl.reset] != 0.0f) continue;
        double dd = 0, cc = 0;
        for (int64_t j = 0; j < C; j++) {
            double e = (double)r->carry[w * C + j] - carry0[w * C + j];
            dd += e * e;
            cc += (double)carry0[w * C + j] * carry0[w * C + j];
        }
        sum += sqrt(dd) / (sqrt(cc) + 1e-12);
        memcpy(carry0 + w * C, r->carry + w * C, sizeof(float) * (size_t)C);
        memcpy(phi_prev0 + w * L2, r->phi + ((Tp - 1) * N + w) * L2, sizeof(float) * (size_t)L2);
        r->fresh[w] = 1;
        n++;
    }
    *drift = n ? sum / (double)n : 0;
    return n;
}

void vb_refresh_backward(vb_refresh *r, const vb_backend *be, const float *P, float *G, const float *d_carry0,
                         const float *d_phi_prev0) {
    const vb_model_dims *d = &r->m->d;
    const int64_t N = r->N, Tp = r->Tp, H = d->hidden, L2 = 2 * d->latent;
    if (Tp == 0) return;
    /* the prefix's last row is the window's start: its output is the carry, its belief phi_prev0 */
    memset(r->d_o, 0, sizeof(float) * (size_t)(Tp * N * H));
    memset(r->d_phi, 0, sizeof(float) * (size_t)(Tp * N * L2));
    for (int64_t w = 0; w < N; w++) {
        if (!r->fresh[w]) continue;
        memcpy(r->d_o + ((Tp - 1) * N + w) * H, d_carry0 + w * d->carry, sizeof(float) * (size_t)H);
        if (d_phi_prev0) memcpy(r->d_phi + ((Tp - 1) * N + w) * L2, d_phi_prev0 + w * L2, sizeof(float) * (size_t)L2);
    }
    vb_encoder_backward(be, r->m, P, G, r->X, r->zero, r->reset, r->o, r->d_o, r->d_phi, NULL, &r->ws, Tp, N);
}

void vb_refresh_forget_actor(vb_refresh *r, int32_t actor) {
    for (int64_t i = r->n_streams - 1; i >= 0; i--) {
        if (r->streams[i].actor != actor) continue;
        free(r->streams[i].x);
        r->streams[i] = r->streams[--r->n_streams];
    }
}

int64_t vb_refresh_streams(const vb_refresh *r) { return r->n_streams; }
