/* task_span — see task_span.h. */
#include "task_span.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vb_task_span_init(vb_task_span *s, int64_t capacity, int64_t steps_per_task, char *err, size_t err_len) {
    memset(s, 0, sizeof *s);
    s->cap = steps_per_task > 1 ? steps_per_task - 1 : 1;
    s->capacity = capacity;
    size_t n = (size_t)(capacity * s->cap);
    s->pre_n = calloc((size_t)capacity, sizeof(int64_t));
    s->post_n = calloc((size_t)capacity, sizeof(int64_t));
    s->gen = calloc((size_t)capacity, sizeof(uint64_t));
    s->open = calloc((size_t)capacity, 1);
    s->pre_cell = calloc(n, sizeof(int32_t));
    s->post_cell = calloc(n, sizeof(int32_t));
    s->pre_rew = calloc(n, sizeof(float));
    s->post_rew = calloc(n, sizeof(float));
    if (!s->pre_n || !s->post_n || !s->gen || !s->open || !s->pre_cell || !s->post_cell || !s->pre_rew || !s->post_rew) {
        vb_task_span_free(s);
        return snprintf(err, err_len, "out of memory for learner.elbo_span: task (replay_capacity %lld x %lld steps)",
                        (long long)capacity, (long long)steps_per_task), -1;
    }
    return 0;
}

static void stream_free(vb_span_stream *st) {
    free(st->cell);
    free(st->rew);
    free(st->open);
}

void vb_task_span_free(vb_task_span *s) {
    for (int64_t i = 0; i < s->n_streams; i++) stream_free(&s->streams[i]);
    free(s->streams);
    free(s->pre_n);
    free(s->post_n);
    free(s->gen);
    free(s->open);
    free(s->pre_cell);
    free(s->post_cell);
    free(s->pre_rew);
    free(s->post_rew);
    memset(s, 0, sizeof *s);
}

static vb_span_stream *stream_of(vb_task_span *s, int32_t actor, int32_t slot) {
    for (int64_t i = 0; i < s->n_streams; i++)
        if (s->streams[i].actor == actor && s->streams[i].slot == slot) return &s->streams[i];
    if (s->n_streams == s->cap_streams) {
        int64_t n = s->cap_streams ? 2 * s->cap_streams : 16;
        vb_span_stream *p = realloc(s->streams, sizeof *p * (size_t)n);
        if (!p) return NULL;
        s->streams = p;
        s->cap_streams = n;
    }
    vb_span_stream *st = &s->streams[s->n_streams];
    *st = (vb_span_stream){.actor = actor, .slot = slot};
    st->cell = malloc(sizeof(int32_t) * (size_t)s->cap);
    st->rew = malloc(sizeof(float) * (size_t)s->cap);
    st->open = malloc(sizeof(vb_span_open) * (size_t)(s->cap + 1));
    if (!st->cell || !st->rew || !st->open) {
        stream_free(st);
        return NULL;
    }
    s->n_streams++;
    return st;
}

/* Append one transition to the suffix of every open slot still holding its chunk. */
static void extend_open(vb_task_span *s, vb_span_stream *st, int32_t cell, float rew) {
    for (int64_t j = 0; j < st->n_open; j++) {
        int64_t k = st->open[j].slot;
        if (s->gen[k] != st->open[j].gen || s->post_n[k] == s->cap) continue;
        s->post_cell[k * s->cap + s->post_n[k]] = cell;
        s->post_rew[k * s->cap + s->post_n[k]] = rew;
        s->post_n[k]++;
    }
}

/* The stream's running task has ended (or will never be seen again): its
 * slots' tasks are as complete as they will get. */
static void close_open(vb_task_span *s, vb_span_stream *st) {
    for (int64_t j = 0; j < st->n_open; j++)
        if (s->gen[st->open[j].slot] == st->open[j].gen) s->open[st->open[j].slot] = 0;
    st->n_open = 0;
}

int vb_task_span_observe(vb_task_span *s, int32_t actor, int32_t slot, int64_t L, const float *reset,
                         const int32_t *cell, const float *rew, bool ended, int64_t slot_index) {
    vb_span_stream *st = stream_of(s, actor, slot);
    if (!st) return -1;
    const int64_t cap = s->cap;
    if (slot_index >= 0) {
        s->gen[slot_index]++;
        s->open[slot_index] = 0;
        s->post_n[slot_index] = 0;
        int64_t n = reset[0] != 0.0f ? 0 : st->len;
        s->pre_n[slot_index] = n;
        memcpy(s->pre_cell + slot_index * cap, st->cell, sizeof(int32_t) * (size_t)n);
        memcpy(s->pre_rew + slot_index * cap, st->rew, sizeof(float) * (size_t)n);
    }
    for (int64_t t = 0; t < L; t++) {
        if (reset[t] != 0.0f) { /* a new task: the earlier chunks' tasks are complete */
            st->len = 0;
            close_open(s, st);
        }
        extend_open(s, st, cell[t], rew[t]);
        if (st->len < cap) {
            st->cell[st->len] = cell[t];
            st->rew[st->len] = rew[t];
            st->len++;
        }
    }
    if (ended) { /* the task is over: no suffix is to come for any of its slots */
        close_open(s, st);
        return 0;
    }
    if (slot_index >= 0 && st->n_open <= cap) {
        st->open[st->n_open++] = (vb_span_open){slot_index, s->gen[slot_index]};
        s->open[slot_index] = 1;
    }
    return 0;
}

void vb_task_span_forget_actor(vb_task_span *s, int32_t actor) {
    int64_t j = 0;
    for (int64_t i = 0; i < s->n_streams; i++) {
        if (s->streams[i].actor == actor) {
            close_open(s, &s->streams[i]);
            stream_free(&s->streams[i]);
            continue;
        }
        s->streams[j++] = s->streams[i];
    }
    s->n_streams = j;
}
