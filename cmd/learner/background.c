/* background — see background.h. */
#include "background.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base/checkpoint.h"
#include "../../common/base/log.h"

struct vb_bg {
    vb_run *run;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    bool stop, busy, writing;
    /* the next evaluation: a copy of the weights and where they were taken */
    float *params;
    vb_run_snapshot at;
    bool eval_pending, eval_running;
    /* the next checkpoint to write */
    void *ckpt;
    size_t ckpt_len;
    int64_t ckpt_updates;
    /* finished evaluations for the loop (TensorBoard): the newest only */
    uv_async_t done;
    bool have_result;
    double result;
    int64_t result_steps;
};

static void *worker(void *arg) {
    vb_bg *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->stop && !b->eval_pending && !b->ckpt) pthread_cond_wait(&b->wake, &b->mu);
        if (b->ckpt) {
            void *buf = b->ckpt;
            size_t len = b->ckpt_len;
            int64_t updates = b->ckpt_updates;
            b->ckpt = NULL;
            b->busy = b->writing = true;
            pthread_mutex_unlock(&b->mu);
            char err[1024];
            if (vb_ckpt_save_encoded_in(b->run->ckdir, updates, buf, len, 3, err, sizeof err) != 0)
                vb_error("periodic checkpoint failed: %s", err);
            free(buf);
            pthread_mutex_lock(&b->mu);
            b->busy = b->writing = false;
        } else if (b->eval_pending) {
            b->eval_pending = false;
            b->eval_running = b->busy = true;
            vb_run_snapshot at = b->at;
            pthread_mutex_unlock(&b->mu);
            double ret;
            int rc = vb_run_eval_snapshot(b->run, b->params, &at, &ret);
            pthread_mutex_lock(&b->mu);
            b->eval_running = b->busy = false;
            if (rc == 0) {
                b->have_result = true;
                b->result = ret;
                b->result_steps = at.env_steps;
                uv_async_send(&b->done);
            }
        } else if (b->stop) {
            break;
        }
        pthread_cond_broadcast(&b->idle); /* drains wait for their own condition */
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void done_cb(uv_async_t *h) {
    vb_bg *b = h->data;
    pthread_mutex_lock(&b->mu);
    bool have = b->have_result;
    double ret = b->result;
    int64_t steps = b->result_steps;
    b->have_result = false;
    pthread_mutex_unlock(&b->mu);
    if (have && b->run->tb.f) vb_tboard_scalar(&b->run->tb, steps, "eval/return_mean", ret);
}

int vb_bg_start(vb_bg **out, uv_loop_t *loop, vb_run *r, char *err, size_t err_len) {
    vb_bg *b = calloc(1, sizeof *b);
    if (!b) return snprintf(err, err_len, "out of memory"), -1;
    b->run = r;
    b->params = malloc(sizeof(float) * (size_t)r->model.layout.total);
    if (!b->params) {
        free(b);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_cond_init(&b->idle, NULL);
    uv_async_init(loop, &b->done, done_cb);
    b->done.data = b;
    if (pthread_create(&b->thread, NULL, worker, b) != 0) {
        uv_close((uv_handle_t *)&b->done, NULL);
        free(b->params);
        free(b);
        return snprintf(err, err_len, "cannot start the background thread"), -1;
    }
    *out = b;
    return 0;
}

bool vb_bg_eval(vb_bg *b, const float *params, const vb_run_snapshot *at) {
    pthread_mutex_lock(&b->mu);
    bool ok = !b->eval_pending && !b->eval_running;
    if (ok) {
        memcpy(b->params, params, sizeof(float) * (size_t)b->run->model.layout.total);
        b->at = *at;
        b->eval_pending = true;
        pthread_cond_signal(&b->wake);
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void vb_bg_checkpoint(vb_bg *b, void *buf, size_t len, int64_t updates) {
    pthread_mutex_lock(&b->mu);
    free(b->ckpt); /* a newer checkpoint supersedes one not yet written */
    b->ckpt = buf;
    b->ckpt_len = len;
    b->ckpt_updates = updates;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
}

bool vb_bg_writing(vb_bg *b) {
    pthread_mutex_lock(&b->mu);
    bool w = b->ckpt || b->writing;
    pthread_mutex_unlock(&b->mu);
    return w;
}

void vb_bg_drain_checkpoints(vb_bg *b) {
    pthread_mutex_lock(&b->mu);
    b->eval_pending = false;
    while (b->ckpt || b->writing) pthread_cond_wait(&b->idle, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

void vb_bg_drain(vb_bg *b) {
    pthread_mutex_lock(&b->mu);
    while (b->eval_pending || b->ckpt || b->busy) pthread_cond_wait(&b->idle, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void free_bg(uv_handle_t *h) { free(h->data); }

void vb_bg_stop(vb_bg *b) {
    if (!b) return;
    vb_bg_drain(b);
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->idle);
    free(b->params);
    b->params = NULL;
    uv_close((uv_handle_t *)&b->done, free_bg);
}
