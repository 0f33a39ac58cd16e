#include "replay.h"

#include <stdlib.h>
#include <string.h>

int vb_replay_init(vb_replay *r, const vb_chunk_layout *cl, int64_t capacity, double spi) {
    memset(r, 0, sizeof *r);
    r->cl = *cl;
    r->capacity = capacity;
    r->spi = spi;
    r->data = malloc(sizeof(float) * (size_t)(capacity * cl->floats));
    r->version = calloc((size_t)capacity, sizeof *r->version);
    r->perm = calloc((size_t)capacity, sizeof *r->perm);
    if (!r->data || !r->version || !r->perm) {
        vb_replay_free(r);
        return -1;
    }
    return 0;
}

void vb_replay_free(vb_replay *r) {
    free(r->data);
    free(r->version);
    free(r->perm);
    memset(r, 0, sizeof *r);
}

void vb_replay_insert(vb_replay *r, const vb_chunk *c) {
    memcpy(r->data + r->head * r->cl.floats, c->data, sizeof(float) * (size_t)r->cl.floats);
    r->version[r->head] = c->version;
    r->head = (r->head + 1) % r->capacity;
    if (r->size < r->capacity) r->size++;
    r->inserted++;
}

int64_t vb_replay_drawable(const vb_replay *r, const uint8_t *held) {
    if (!held) return r->size;
    int64_t n = 0;
    for (int64_t i = 0; i < r->size; i++) n += !held[i];
    return n;
}

bool vb_replay_can_sample(const vb_replay *r, int64_t B, const uint8_t *held) {
    if (r->size < B) return false;
    if (r->spi > 0 && (double)(r->sampled + B) > r->spi * (double)r->inserted) return false;
    return vb_replay_drawable(r, held) >= B;
}

void vb_replay_sample(vb_replay *r, int64_t B, vb_rng *rng, const float **out, uint64_t *ver, const uint8_t *held) {
    /* partial Fisher-Yates: the slots not held first, then, if they are fewer
     * than B, the rest of the batch from the held ones */
    int64_t n = 0;
    for (int64_t i = 0; i < r->size; i++)
        if (!held || !held[i]) r->perm[n++] = i;
    if (held)
        for (int64_t i = 0, m = n; i < r->size; i++)
            if (held[i]) r->perm[m++] = i;
    for (int64_t i = 0; i < B; i++) {
        const int64_t end = i < n ? n : r->size;
        int64_t j = i + (int64_t)vb_rng_below(rng, (uint32_t)(end - i));
        int64_t t = r->perm[i];
        r->perm[i] = r->perm[j];
        r->perm[j] = t;
        out[i] = r->data + r->perm[i] * r->cl.floats;
        if (ver) ver[i] = r->version[r->perm[i]];
    }
    r->sampled += B;
}
