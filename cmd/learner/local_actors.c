/* local_actors — see local_actors.h. */
#include "local_actors.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/base/log.h"

enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000, YOUNG_S = 10, MAX_QUICK_DEATHS = 5 };

static double now_s(uv_loop_t *loop) { return (double)uv_now(loop) / 1000.0; }

int vb_local_actor_program(char *exe, size_t len, char *err, size_t err_len) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return snprintf(err, err_len, "cannot find this program's path: %s", strerror(errno)), -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    if (snprintf(exe, len, "%s/actor", slash ? self : ".") >= (int)len)
        return snprintf(err, err_len, "actor program path too long"), -1;
    if (access(exe, X_OK) != 0)
        return snprintf(err, err_len, "actors.local needs the actor program next to the learner, but %s: %s "
                        "(build it with make, or set actors.local=0)", exe, strerror(errno)), -1;
    return 0;
}

static void spawn(vb_local_actor *a);

static void maybe_done(vb_local_actors *la) {
    if (!la->stopping || la->live > 0) return;
    for (int64_t i = 0; i < la->n; i++) {
        if (!uv_is_closing((uv_handle_t *)&la->a[i].restart)) uv_close((uv_handle_t *)&la->a[i].restart, NULL);
    }
    if (la->stop_timer_open) {
        uv_close((uv_handle_t *)&la->kill_timer, NULL);
        la->stop_timer_open = false;
    }
    vb_local_done_fn done = la->on_done;
    la->on_done = NULL;
    if (done) done(la->ctx);
}

static void restart_cb(uv_timer_t *t) { spawn(t->data); }

static void proc_closed(uv_handle_t *h) {
    vb_local_actor *a = h->data;
    vb_local_actors *la = a->owner;
    a->proc_open = false;
    la->live--;
    if (la->stopping || a->given_up) {
        maybe_done(la);
        return;
    }
    uv_timer_start(&a->restart, restart_cb, (uint64_t)a->backoff_ms, 0);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    vb_local_actor *a = p->data;
    vb_local_actors *la = a->owner;
    a->running = false;
    double lived = now_s(la->loop) - a->started;
    if (!la->stopping) {
        a->backoff_ms = lived >= YOUNG_S ? BACKOFF_MIN_MS : a->backoff_ms * 2;
        if (a->backoff_ms > BACKOFF_MAX_MS) a->backoff_ms = BACKOFF_MAX_MS;
        a->quick_deaths = lived >= YOUNG_S ? 0 : a->quick_deaths + 1;
    }
    if (!la->stopping && a->quick_deaths >= MAX_QUICK_DEATHS) {
        a->given_up = true;
        la->given_up++;
        vb_error("local actor %d (pid %d) ended %s %d times in a row within %d s of its start; not restarting it "
                 "(its log: %s/local-%d.log)", a->index, a->pid, sig ? "by a signal" : "with an error", a->quick_deaths,
                 YOUNG_S, la->log_dir[0] ? la->log_dir : "stderr", a->index);
    } else if (!la->stopping) {
        if (sig) vb_warn("local actor %d (pid %d) killed by signal %d; restarting in %.1f s", a->index, a->pid, sig,
                         (double)a->backoff_ms / 1000.0);
        else vb_warn("local actor %d (pid %d) exited with status %lld; restarting in %.1f s", a->index, a->pid,
                     (long long)status, (double)a->backoff_ms / 1000.0);
        la->restarts++;
    }
    if (la->on_exit) la->on_exit(la->ctx, a->index, a->pid, status, sig);
    uv_close((uv_handle_t *)p, proc_closed);
}

static void spawn(vb_local_actor *a) {
    vb_local_actors *la = a->owner;
    if (la->stopping) return;
    char name[32];
    snprintf(name, sizeof name, "local-%d", a->index);
    char log_file[4300];
    snprintf(log_file, sizeof log_file, "%s/%s.log", la->log_dir, name);
    char *args[] = {la->exe, "--learner", la->endpoint, "--name", name, "--threads", la->threads,
                    "--parent", la->parent, "--log-level", la->level, la->log_dir[0] ? "--log-file" : NULL, log_file,
                    NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = 1},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = la->exe;
    o.args = args;
    o.exit_cb = on_exit_cb;
    o.stdio_count = 3;
    o.stdio = stdio;
    /* a group of its own: a terminal's Ctrl-C reaches the learner, which then
     * stops its actors in order */
    o.flags = UV_PROCESS_DETACHED;
    a->proc.data = a;
    int rc = uv_spawn(la->loop, &a->proc, &o);
    la->live++;
    a->proc_open = true;
    if (rc != 0) {
        /* the handle still has to be closed; proc_closed schedules the retry
         * (a failed start counts as a quick death) */
        a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
        if (++a->quick_deaths >= MAX_QUICK_DEATHS) {
            a->given_up = true;
            la->given_up++;
            vb_error("cannot start local actor %d (%s): %s, %d times in a row; not trying again", a->index, la->exe,
                     uv_strerror(rc), a->quick_deaths);
        } else {
            vb_warn("cannot start local actor %d: %s; retrying in %.1f s", a->index, uv_strerror(rc),
                    (double)a->backoff_ms / 1000.0);
        }
        uv_close((uv_handle_t *)&a->proc, proc_closed);
        if (a->given_up && la->on_exit) la->on_exit(la->ctx, a->index, -1, -1, 0);
        return;
    }
    a->pid = a->proc.pid;
    a->running = true;
    a->started = now_s(la->loop);
    vb_debug("local actor %d started (pid %d)", a->index, a->pid);
}

int vb_local_actors_start(vb_local_actors *la, uv_loop_t *loop, int64_t n, const char *endpoint, int64_t threads,
                          const char *log_level, const char *log_dir, vb_local_exit_fn on_exit, void *ctx, char *err,
                          size_t err_len) {
    memset(la, 0, sizeof *la);
    la->loop = loop;
    la->on_exit = on_exit;
    la->ctx = ctx;
    if (n == 0) return 0;
    if (vb_local_actor_program(la->exe, sizeof la->exe, err, err_len) != 0) return -1;
    snprintf(la->endpoint, sizeof la->endpoint, "%s", endpoint);
    snprintf(la->threads, sizeof la->threads, "%lld", (long long)threads);
    snprintf(la->level, sizeof la->level, "%s", log_level);
    snprintf(la->parent, sizeof la->parent, "%ld", (long)getpid());
    snprintf(la->log_dir, sizeof la->log_dir, "%s", log_dir ? log_dir : "");
    la->a = calloc((size_t)n, sizeof *la->a);
    if (!la->a) return snprintf(err, err_len, "out of memory"), -1;
    la->n = n;
    for (int64_t i = 0; i < n; i++) {
        vb_local_actor *a = &la->a[i];
        a->owner = la;
        a->index = (int)i;
        a->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(loop, &a->restart);
        a->restart.data = a;
    }
    for (int64_t i = 0; i < n; i++) spawn(&la->a[i]);
    return 0;
}

/* First SIGTERM to the actors still running, then (grace_ms later) SIGKILL. */
static void kill_cb(uv_timer_t *t) {
    vb_local_actors *la = t->data;
    int sig = la->termed ? SIGKILL : SIGTERM;
    for (int64_t i = 0; i < la->n; i++) {
        vb_local_actor *a = &la->a[i];
        if (!a->running) continue;
        if (sig == SIGKILL) vb_warn("local actor %d (pid %d) ignored SIGTERM; killing it", a->index, a->pid);
        uv_process_kill(&a->proc, sig);
    }
    if (!la->termed) {
        la->termed = true;
        uv_timer_start(&la->kill_timer, kill_cb, (uint64_t)la->grace_ms, 0);
    }
}

void vb_local_actors_stop(vb_local_actors *la, int64_t term_ms, int64_t grace_ms, vb_local_done_fn on_done, void *ctx) {
    la->stopping = true;
    la->on_done = on_done;
    la->ctx = ctx;
    la->grace_ms = grace_ms;
    for (int64_t i = 0; i < la->n; i++) uv_timer_stop(&la->a[i].restart);
    if (la->live > 0) {
        uv_timer_init(la->loop, &la->kill_timer);
        la->kill_timer.data = la;
        la->stop_timer_open = true;
        if (term_ms > 0) uv_timer_start(&la->kill_timer, kill_cb, (uint64_t)term_ms, 0);
        else kill_cb(&la->kill_timer);
    }
    maybe_done(la);
}

void vb_local_actors_free(vb_local_actors *la) {
    free(la->a);
    la->a = NULL;
    la->n = 0;
}
