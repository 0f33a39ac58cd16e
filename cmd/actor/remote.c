/* remote — see remote.h. One libuv loop drives three ZeroMQ channels (control
 * DEALER, data PUSH, weights SUB), an idle handle that steps the envs a few
 * milliseconds at a time while there is room to send, a retry timer
 * (register / get weights / learner silence), the heartbeat timer, a parent
 * watch and SIGINT/SIGTERM.
 *
 *   registering   Register every RETRY_MS until Registered arrives
 *   waiting       GetWeights every RETRY_MS until weights arrive
 *   running       step, send chunks, heartbeat; new weights between steps
 *
 * Back-pressure: a step runs only when every finished chunk has been handed
 * to ZeroMQ; when the data socket is full (HWM, or no learner connected) the
 * actor waits for room instead of stepping. A Reset or Shutdown (not
 * finished) from the learner, or its silence for actors.timeout_ms, sends the
 * actor back to registering; pending chunks are dropped then (they belong to
 * the old registration). */
#include "remote.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "../../common/train/acting.h"
#include "../../common/base/cli.h"
#include "../../common/base/log.h"
#include "../../common/net/channel.h"
#include "../../common/net/chunk_wire.h"
#include "../../common/net/keys.h"
#include "../../common/net/endpoint.h"
#include "../../common/net/messages.h"
#include "../../common/net/peer_log.h"
#include "../../kernels/backend.h"
#include "../../common/params/params.h"
#include "../../common/base/clock.h"

enum { RETRY_MS = 250, WATCH_MS = 500, STEP_SLICE_US = 5000, ENDPOINT_LEN = 512 };

typedef enum { S_REGISTERING, S_WAITING, S_RUNNING } act_state;

typedef struct act {
    const vb_act_options *o;
    uv_loop_t loop;
    void *zctx;
    vb_channel data;
    vb_channel *ctl, *sub;     /* replaced once the model is known (their message limits) */
    int64_t ctl_limit, sub_limit;
    bool curve;
    vb_keypair kp;
    char server_key[VB_KEY_Z85 + 1];
    uv_timer_t reopen_timer;
    bool resized;              /* the sockets were just resized: the next Registered is the same one */
    uv_idle_t step_idle;
    uv_timer_t retry_timer, beat_timer, watch_timer;
    uv_signal_t sig_int, sig_term;
    bool handles_open, stopping;
    char ep[3][ENDPOINT_LEN];
    char name[VB_MSG_MAX_NAME + 1], host[VB_MSG_MAX_HOST + 1];
    uint64_t instance, seq;
    act_state state;
    char run_id[VB_MSG_MAX_ID + 1], actor_id[VB_MSG_MAX_ID + 1];
    uint64_t stream;
    vb_config cfg;
    vb_env_spec spec;
    vb_model model;
    vb_chunk_layout cl;
    vb_acting acting;
    bool have_acting, have_weights;
    float *stage;               /* received weights, before they are taken */
    uint64_t version;
    zmq_msg_t *outbox;          /* finished chunks not yet handed to ZeroMQ */
    int64_t out_n, out_head, out_cap;
    uint64_t sent, credit_consumed, credit_window; /* flow control (Credit) */
    double blocked_since;       /* waiting for credit since; 0: not waiting */
    double last_heard;
    double register_since;     /* when the current registration attempt began (0: registered) */
    bool hinted;               /* the "no answer" hint was logged */
    vb_peer_log badlog;
    int64_t chunks_sent, rejected;
    int status;
} act;


static void stop(act *a, int status, const char *why);
static void message_limits(const act *a, int64_t *ctl, int64_t *sub);
static void reopen_cb(uv_timer_t *t);
static void beat_cb(uv_timer_t *t);

static void bad_input(act *a, const char *channel, const char *fmt, const char *why) {
    a->rejected++;
    int64_t held;
    if (vb_peer_log_allow(&a->badlog, channel, vb_mono_s(), &held))
        vb_warn(fmt, why, (long long)held);
}

/* ---- sending on the control channel ---------------------------------------- */
static void send_ctl(act *a, vb_msg *e) {
    void *buf;
    size_t len;
    zmq_msg_t m;
    if (!a->ctl || !a->ctl->open) return; /* between two sockets */
    if (vb_msg_pack(e, &buf, &len) != 0 || vb_channel_msg_own(&m, buf, len) != 0) return;
    int rc = vb_channel_send(a->ctl, NULL, 0, &m);
    if (rc != 0) vb_debug("%s not sent: %s", vb_msg_body_name(e->body_case), zmq_strerror(-rc));
    zmq_msg_close(&m);
}

static void send_register(act *a) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Register r = VB__REGISTER__INIT;
    vb_msg_header(&e, NULL, NULL, ++a->seq);
    r.name = a->name;
    r.host = a->host;
    r.pid = (uint32_t)getpid();
    r.device = "cpu";
    r.threads = (uint32_t)a->o->threads;
    r.instance = a->instance;
    e.body_case = VB__ENVELOPE__BODY_REGISTER;
    e.register_ = &r;
    send_ctl(a, &e);
}

static void send_get_weights(act *a) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__GetWeights g = VB__GET_WEIGHTS__INIT;
    vb_msg_header(&e, a->run_id, a->actor_id, ++a->seq);
    g.have_version = a->version;
    e.body_case = VB__ENVELOPE__BODY_GET_WEIGHTS;
    e.get_weights = &g;
    send_ctl(a, &e);
}

static void send_heartbeat(act *a) {
    vb_task_stats ts;
    vb_acting_take_stats(&a->acting, &ts);
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Heartbeat h = VB__HEARTBEAT__INIT;
    Vb__TaskStats t = VB__TASK_STATS__INIT;
    vb_msg_header(&e, a->run_id, a->actor_id, ++a->seq);
    h.env_steps = (uint64_t)a->acting.env_steps;
    h.policy_version = a->version;
    if (ts.tasks > 0) {
        t.tasks = (uint64_t)ts.tasks;
        t.return_sum = ts.return_sum;
        t.return_sq = ts.return_sq;
        t.n_episode_sum = (size_t)ts.episodes;
        t.episode_sum = ts.episode_sum;
        h.tasks = &t;
    }
    e.body_case = VB__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &h;
    send_ctl(a, &e);
}

static void send_leaving(act *a, const char *reason) {
    if (!a->actor_id[0]) return;
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Shutdown s = VB__SHUTDOWN__INIT;
    vb_msg_header(&e, a->run_id, a->actor_id, ++a->seq);
    s.reason = (char *)reason;
    e.body_case = VB__ENVELOPE__BODY_SHUTDOWN;
    e.shutdown = &s;
    send_ctl(a, &e);
}

/* ---- chunks out --------------------------------------------------------------- */
static void drop_outbox(act *a) {
    for (int64_t i = a->out_head; i < a->out_n; i++) zmq_msg_close(&a->outbox[i]);
    a->out_n = a->out_head = 0;
    vb_channel_want_write(&a->data, false);
}

static void sink(const vb_chunk *c, void *ctx) {
    act *a = ctx;
    if (a->out_n >= a->out_cap) return; /* cannot happen: one chunk per slot per L steps */
    /* written straight into ZeroMQ's message, the floats copied and checksummed in one pass */
    zmq_msg_t *m = &a->outbox[a->out_n];
    const uint64_t seq = a->seq + 1;
    if (zmq_msg_init_size(m, vb_chunk_wire_size(a->run_id, a->actor_id, seq, c, &a->cl)) != 0) {
        vb_warn("out of memory: chunk of slot %d dropped", c->slot);
        return;
    }
    vb_chunk_wire_write(a->run_id, a->actor_id, seq, c, &a->cl, zmq_msg_data(m));
    a->seq = seq;
    a->out_n++;
}

static void step_cb(uv_idle_t *h);

/* Hand finished chunks to ZeroMQ; step again once all are out. */
static void flush(act *a) {
    while (a->out_head < a->out_n) {
        int rc = vb_channel_send(&a->data, NULL, 0, &a->outbox[a->out_head]);
        if (rc == -EAGAIN) {
            vb_channel_want_write(&a->data, true);
            uv_idle_stop(&a->step_idle);
            return;
        }
        if (rc != 0) vb_warn("chunk not sent: %s", zmq_strerror(-rc));
        else {
            a->chunks_sent++;
            a->sent++;
        }
        zmq_msg_close(&a->outbox[a->out_head]);
        a->out_head++;
    }
    a->out_n = a->out_head = 0;
    vb_channel_want_write(&a->data, false);
    if (a->state == S_RUNNING && !a->stopping) uv_idle_start(&a->step_idle, step_cb);
}

static void data_writable(vb_channel *ch, void *ctx) {
    (void)ch;
    flush(ctx);
}

/* Whether the learner has room for one more round of chunks. */
static bool have_credit(const act *a) {
    return a->sent + (uint64_t)a->out_cap <= a->credit_consumed + a->credit_window;
}

static void step_cb(uv_idle_t *h) {
    act *a = h->data;
    if (a->state != S_RUNNING || a->stopping || a->out_n > 0) {
        uv_idle_stop(h);
        return;
    }
    if (a->out_cap > 0 && a->cl.L > 0 && a->acting.fill == 0 && !have_credit(a)) {
        if (a->blocked_since == 0) a->blocked_since = vb_mono_s();
        uv_idle_stop(h);
        return;
    }
    a->blocked_since = 0;
    char err[512];
    double t0 = vb_mono_s();
    do {
        if (vb_acting_step(&a->acting, sink, a, err, sizeof err) != 0) {
            vb_error("acting: %s", err);
            stop(a, VB_EXIT_RUNTIME, "acting failed");
            return;
        }
    } while (a->out_n == 0 && vb_mono_s() - t0 < STEP_SLICE_US * 1e-6);
    if (a->out_n > 0) flush(a);
}

/* ---- registration ------------------------------------------------------------- */
static void go_register(act *a, const char *why) {
    if (a->state != S_REGISTERING) vb_info("%s; registering again", why);
    if (a->state != S_REGISTERING) a->register_since = vb_mono_s();
    a->state = S_REGISTERING;
    uv_idle_stop(&a->step_idle);
    uv_timer_stop(&a->beat_timer);
    drop_outbox(a);
    send_register(a);
}

static int check_specs(act *a, const Vb__Registered *g, char *err, size_t err_len) {
    const Vb__EnvSpec *es = g->env_spec;
    const Vb__ModelSpec *ms = g->model_spec;
    if (!es || !ms) return snprintf(err, err_len, "the learner sent no env or model spec"), -1;
    if (strcmp(es->name, a->spec.name) != 0 || es->obs_size != a->spec.obs_size ||
        es->actions != a->spec.num_actions || es->episode_length != a->spec.episode_length ||
        es->episodes_per_task != a->spec.episodes_per_task)
        return snprintf(err, err_len, "the learner's env spec differs from the one this actor builds from its config"), -1;
    if (ms->param_layout_hash != vb_layout_hash(&a->model.layout) || ms->param_count != (uint64_t)a->model.layout.total)
        return snprintf(err, err_len, "the learner's model (%llu parameters) differs from the one this actor builds "
                        "(%lld): are both the same version?", (unsigned long long)ms->param_count,
                        (long long)a->model.layout.total), -1;
    if (ms->chunk_layout_hash != vb_chunk_layout_hash(&a->cl) || ms->chunk_floats != (uint64_t)a->cl.floats ||
        ms->window != (uint64_t)a->cl.L)
        return snprintf(err, err_len, "the learner's chunk layout differs from this actor's"), -1;
    return 0;
}

/* Build config, model, layout and acting for a new registration. */
static int build(act *a, const Vb__Registered *g, char *err, size_t err_len) {
    size_t ylen = strlen(g->config_yaml);
    if (ylen == 0 || ylen > VB_MSG_MAX_CONFIG) return snprintf(err, err_len, "registered without a usable config"), -1;
    if (a->have_acting) {
        vb_acting_destroy(&a->acting);
        a->have_acting = false;
    }
    vb_cli_config cc = {0};
    if (vb_cli_resolve_config_text(&cc, g->config_yaml, ylen, "the learner's config", &a->cfg, err, err_len) != 0 ||
        vb_env_spec_from_config(&a->cfg, &a->spec, err, err_len) != 0 ||
        vb_model_build_from_config(&a->model, &a->cfg, &a->spec, err, err_len) != 0)
        return -1;
    vb_chunk_layout_init(&a->cl, &a->model, a->cfg.learner.window, a->cfg.run.algo == VB_ALGO_VARIBASED);
    if (check_specs(a, g, err, err_len) != 0) return -1;
    if (!a->o->log_level_set) vb_log_set_level((vb_log_level)a->cfg.log.level);
    const vb_backend *be = vb_backend_cpu();
    be->set_threads((int)(a->o->threads > 0 ? a->o->threads : a->cfg.actors.threads));
    const int64_t n = a->cfg.env.batch;
    free(a->stage);
    free(a->outbox);
    a->stage = malloc(sizeof(float) * (size_t)a->model.layout.total);
    a->outbox = calloc((size_t)n, sizeof *a->outbox);
    a->out_cap = n;
    a->out_n = a->out_head = 0;
    if (!a->stage || !a->outbox) return snprintf(err, err_len, "out of memory"), -1;
    a->stream = g->stream_id;
    if (vb_acting_create_from_config(&a->acting, be, &a->model, &a->cfg, n, (uint64_t)a->cfg.run.seed,
                         VB_ACT_STREAM_BASE(a->stream), err, err_len) != 0)
        return -1;
    a->have_acting = true;
    return 0;
}

static int on_registered(act *a, const vb_msg *e, char *err, size_t err_len) {
    const Vb__Registered *g = e->registered;
    if (!e->actor_id[0] || !e->run_id[0]) return snprintf(err, err_len, "registered without a run or actor id"), -1;
    /* the same learner process kept this actor's registration (it had only
     * stopped answering for a while, or said it was stopping): the acting
     * state and the flow-control counts carry on */
    bool same = a->have_acting && strcmp(a->run_id, e->run_id) == 0 && strcmp(a->actor_id, e->actor_id) == 0 &&
                a->stream == g->stream_id;
    if (!same) {
        if (build(a, g, err, err_len) != 0) return -1;
        a->sent = a->credit_consumed = a->credit_window = 0;
    }
    snprintf(a->run_id, sizeof a->run_id, "%s", e->run_id);
    snprintf(a->actor_id, sizeof a->actor_id, "%s", e->actor_id);
    a->have_weights = false;
    a->version = 0;
    a->blocked_since = 0;
    a->state = S_WAITING;
    uint64_t beat = (uint64_t)a->cfg.actors.heartbeat_ms;
    uv_timer_start(&a->beat_timer, beat_cb, beat, beat);
    const bool quiet = same && a->resized; /* the answer to the Register after the sockets were resized */
    a->resized = false;
    vb_log(quiet ? VB_LOG_DEBUG : VB_LOG_INFO,
           "registered with run %s as actor %.*s (stream %llu): %s, %lld envs, %lld parameters%s", a->run_id,
            (int)strcspn(a->actor_id, "-"), a->actor_id, (unsigned long long)a->stream, a->spec.name, (long long)a->cfg.env.batch,
            (long long)a->model.layout.total, same ? " (registration kept)" : "");
    int64_t ctl, sub;
    message_limits(a, &ctl, &sub);
    if (ctl != a->ctl_limit || sub != a->sub_limit) uv_timer_start(&a->reopen_timer, reopen_cb, 0, 0);
    else send_get_weights(a);
    return 0;
}

static void on_weights(act *a, const Vb__Weights *w, const char *channel) {
    if (a->state == S_REGISTERING) return;
    if (a->have_weights && w->version <= a->version) return;
    char why[512];
    if (vb_msg_read_weights(w, &a->model.layout, a->stage, why, sizeof why) != 0) {
        bad_input(a, channel, "rejected weights from the learner: %s (%lld more held back)", why);
        return;
    }
    vb_acting_set_params(&a->acting, a->stage, w->version);
    a->version = w->version;
    a->have_weights = true;
    if (a->state == S_WAITING) {
        a->state = S_RUNNING;
        vb_info("acting with weights version %llu", (unsigned long long)w->version);
        flush(a);
    }
}

/* ---- messages in ------------------------------------------------------------ */
static bool from_our_run(const act *a, const vb_msg *e) { return a->run_id[0] && strcmp(e->run_id, a->run_id) == 0; }

static void on_control(act *a, const vb_msg *e) {
    char err[1024];
    int body = e->body_case;
    if (body != VB__ENVELOPE__BODY_CREDIT) vb_debug("learner: %s", vb_msg_body_name(body));
    if (body == VB__ENVELOPE__BODY_REGISTERED) {
        if (a->state != S_REGISTERING) return; /* an answer to a repeated Register */
        a->last_heard = vb_mono_s();
        if (on_registered(a, e, err, sizeof err) != 0) {
            vb_error("cannot act for this learner: %s", err);
            stop(a, VB_EXIT_RUNTIME, "cannot act for this learner");
        }
        return;
    }
    if (body == VB__ENVELOPE__BODY_RESET) { /* whichever run: the learner at our endpoint wants a Register */
        if (a->state != S_REGISTERING) go_register(a, "the learner does not know this actor");
        return;
    }
    if (!from_our_run(a, e)) return; /* e.g. a learner answering an earlier registration */
    a->last_heard = vb_mono_s();
    switch (body) {
    case VB__ENVELOPE__BODY_WEIGHTS: on_weights(a, e->weights, "control"); break;
    case VB__ENVELOPE__BODY_HEARTBEAT: {
        /* two publications behind (missed broadcasts: a slow joiner, HWM
         * drops): fetch the current weights */
        uint64_t lv = e->heartbeat->policy_version, every = (uint64_t)a->cfg.learner.publish_every;
        if (a->state == S_RUNNING && lv >= a->version + 2 * every) send_get_weights(a);
        break;
    }
    case VB__ENVELOPE__BODY_CREDIT:
        if (a->state != S_REGISTERING && strcmp(e->actor_id, a->actor_id) == 0) {
            const Vb__Credit *c = e->credit;
            if (c->consumed > a->credit_consumed) a->credit_consumed = c->consumed; /* cumulative */
            a->credit_window = c->window;
            if (a->state == S_RUNNING && a->out_n == 0 && !a->stopping) uv_idle_start(&a->step_idle, step_cb);
        }
        break;
    case VB__ENVELOPE__BODY_SHUTDOWN:
        if (e->shutdown->finished) {
            vb_info("the learner ended the run: %s", vb_msg_printable(e->shutdown->reason, 256) ? e->shutdown->reason : "");
            stop(a, VB_EXIT_OK, NULL);
        } else {
            go_register(a, "the learner is stopping");
        }
        break;
    default: bad_input(a, "control", "rejected a message from the learner: unexpected %s (%lld more held back)",
                       vb_msg_body_name(body));
    }
}

static void ctl_readable(vb_channel *ch, void *ctx) {
    act *a = ctx;
    zmq_msg_t parts[1];
    int n = vb_channel_recv(ch, parts, 1);
    if (n <= 0) return;
    vb_msg *e = NULL;
    char why[256];
    const void *buf = zmq_msg_data(&parts[0]);
    size_t len = zmq_msg_size(&parts[0]);
    if (n != 1) bad_input(a, "control", "rejected a message from the learner: %s (%lld more held back)", "several frames");
    else if (vb_msg_unpack_borrow(buf, len, (size_t)VB_MSG_MAX_FROM_LEARNER, &e, why, sizeof why) != 0)
        bad_input(a, "control", "rejected a message from the learner: %s (%lld more held back)", why);
    if (e) {
        on_control(a, e);
        vb_msg_free_borrowed(e, buf, len);
    }
    zmq_msg_close(&parts[0]);
}

/* Only the newest of the queued broadcasts matters: drain, decode the last. */
static void sub_readable(vb_channel *ch, void *ctx) {
    act *a = ctx;
    zmq_msg_t last, parts[1];
    bool have = false;
    int n;
    while ((n = vb_channel_recv(ch, parts, 1)) > 0) {
        if (have) zmq_msg_close(&last);
        if (n == 1) {
            last = parts[0];
            have = true;
        } else {
            zmq_msg_close(&parts[0]);
            have = false;
        }
    }
    if (!have) return;
    vb_msg *e;
    char why[256];
    /* the weights are read where ZeroMQ received them */
    const void *buf = zmq_msg_data(&last);
    size_t len = zmq_msg_size(&last);
    if (vb_msg_unpack_borrow(buf, len, (size_t)VB_MSG_MAX_FROM_LEARNER, &e, why, sizeof why) != 0) {
        bad_input(a, "weights", "rejected a weights broadcast: %s (%lld more held back)", why);
    } else {
        if (e->body_case != VB__ENVELOPE__BODY_WEIGHTS)
            bad_input(a, "weights", "rejected a broadcast: a %s message (%lld more held back)", vb_msg_body_name(e->body_case));
        else if (from_our_run(a, e)) {
            a->last_heard = vb_mono_s();
            on_weights(a, e->weights, "weights");
        }
        vb_msg_free_borrowed(e, buf, len);
    }
    zmq_msg_close(&last);
}

/* ---- timers, signals, stopping ------------------------------------------------- */
static void retry_cb(uv_timer_t *t) {
    act *a = t->data;
    if (a->state == S_REGISTERING) {
        if (!a->hinted && a->register_since > 0 && vb_mono_s() - a->register_since > 10.0) {
            a->hinted = true;
            vb_warn("no answer from the learner at %s after %.0f s: is it running with learner.bind set to an address "
                    "this host reaches%s? (still trying)", a->ep[0], vb_mono_s() - a->register_since,
                    a->o->keys ? ", does its allowed_actors hold this actor's key (refused connections are in its log)"
                               : ", does it use learner.keys (then pass --keys DIR)");
        }
        send_register(a);
        return;
    }
    double silent = vb_mono_s() - a->last_heard;
    if (silent * 1000.0 > (double)a->cfg.actors.timeout_ms) {
        char why[96];
        snprintf(why, sizeof why, "the learner has been silent for %.1f s", silent);
        go_register(a, why);
    } else if (a->state == S_WAITING) {
        send_get_weights(a);
    } else if (a->blocked_since > 0 && (vb_mono_s() - a->blocked_since) * 2000.0 > (double)a->cfg.actors.timeout_ms) {
        /* the learner answers but takes in nothing more: chunks were lost
         * on the way (a reconnection); count what it has as all we sent */
        vb_debug("no credit for %.1f s: resynchronising (%llu sent, %llu taken in)", vb_mono_s() - a->blocked_since,
                 (unsigned long long)a->sent, (unsigned long long)a->credit_consumed);
        a->sent = a->credit_consumed;
        a->blocked_since = 0;
        uv_idle_start(&a->step_idle, step_cb);
    }
}

static void beat_cb(uv_timer_t *t) {
    act *a = t->data;
    if (a->state != S_REGISTERING) send_heartbeat(a);
}

static void watch_cb(uv_timer_t *t) {
    act *a = t->data;
    if (a->o->parent && getppid() != (pid_t)a->o->parent) {
        vb_info("the learner process (pid %ld) is gone", a->o->parent);
        stop(a, VB_EXIT_OK, NULL);
    }
}

static void signal_cb(uv_signal_t *s, int sig) {
    act *a = s->data;
    char why[32];
    snprintf(why, sizeof why, "signal %d", sig);
    vb_info("%s: leaving", why);
    stop(a, VB_EXIT_OK, why);
}

static void close_handles(act *a) {
    if (!a->handles_open) return;
    a->handles_open = false;
    vb_channel_close_free(a->ctl);
    vb_channel_close_free(a->sub);
    a->ctl = a->sub = NULL;
    vb_channel_close(&a->data);
    uv_close((uv_handle_t *)&a->reopen_timer, NULL);
    uv_close((uv_handle_t *)&a->step_idle, NULL);
    uv_close((uv_handle_t *)&a->retry_timer, NULL);
    uv_close((uv_handle_t *)&a->beat_timer, NULL);
    uv_close((uv_handle_t *)&a->watch_timer, NULL);
    uv_close((uv_handle_t *)&a->sig_int, NULL);
    uv_close((uv_handle_t *)&a->sig_term, NULL);
}

/* Leave: chunks already finished go out within the data socket's linger, the
 * learner hears why (when given), then every handle closes. */
static void stop(act *a, int status, const char *why) {
    if (a->stopping) return;
    a->stopping = true;
    a->status = status;
    uv_idle_stop(&a->step_idle);
    if (a->state == S_RUNNING) {
        while (a->out_head < a->out_n && vb_channel_send(&a->data, NULL, 0, &a->outbox[a->out_head]) == 0) {
            zmq_msg_close(&a->outbox[a->out_head]);
            a->out_head++;
        }
    }
    drop_outbox(a);
    if (why && a->state != S_REGISTERING) send_leaving(a, why);
    vb_info("sent %lld chunks; %lld bad messages from the learner", (long long)a->chunks_sent, (long long)a->rejected);
    close_handles(a);
}

/* ---- setup -------------------------------------------------------------------- */
/* The largest legal message from the learner on each channel: before the
 * model is known, Registered (its config and specs) on control; once it is,
 * the weights (on either channel) or Registered, whichever is bigger. A
 * bigger message drops its connection inside ZeroMQ. */
static void message_limits(const act *a, int64_t *ctl, int64_t *sub) {
    const int64_t registered = VB_MSG_MAX_CONFIG + (1 << 16);
    if (!a->have_acting) {
        *ctl = registered;
        *sub = 0; /* no weights socket before the model is known */
        return;
    }
    const int64_t weights = (int64_t)vb_msg_weights_max_size(&a->model.layout) + (1 << 10);
    *ctl = weights > registered ? weights : registered;
    *sub = weights;
}

/* (Re)open the control and weights sockets with the limits for what is known
 * now; old ones are closed (their memory freed once libuv is done with it). */
static int open_from_learner(act *a, char *err, size_t err_len) {
    message_limits(a, &a->ctl_limit, &a->sub_limit);
    /* no ZMQ_IMMEDIATE on control: with it, ZeroMQ discards unread input
     * when the connection drops, and a learner's last words (Shutdown) are
     * sent just before it closes. Requests queued while no learner is
     * there are harmless: Register is idempotent, the rest get a Reset. */
    vb_channel_opts co = {.sndhwm = 16, .rcvhwm = 16, .maxmsgsize = a->ctl_limit, .linger_ms = 200,
                          .reconnect_ms = 100, .reconnect_max_ms = 500};
    vb_channel_opts so = {.rcvhwm = 2, .maxmsgsize = a->sub_limit, .linger_ms = 0, .reconnect_ms = 100,
                          .reconnect_max_ms = 500, .subscribe = ""};
    vb_channel_close_free(a->ctl);
    vb_channel_close_free(a->sub);
    a->sub = NULL;
    a->ctl = calloc(1, sizeof *a->ctl);
    if (!a->ctl) return snprintf(err, err_len, "out of memory"), -1;
    if (a->sub_limit > 0) {
        /* the weights socket once the model is known: connected before the
         * weights are fetched, so no broadcast after them is missed */
        a->sub = calloc(1, sizeof *a->sub);
        if (!a->sub) return snprintf(err, err_len, "out of memory"), -1;
        if (vb_channel_open(a->sub, "weights", &a->loop, a->zctx, ZMQ_SUB, &so, err, err_len) != 0 ||
            (a->curve && vb_channel_curve_client(a->sub, a->server_key, a->kp.pub, a->kp.sec, err, err_len) != 0) ||
            vb_channel_connect(a->sub, a->ep[2], err, err_len) != 0)
            return -1;
        vb_channel_set_callbacks(a->sub, sub_readable, NULL, a);
    }
    if (vb_channel_open(a->ctl, "control", &a->loop, a->zctx, ZMQ_DEALER, &co, err, err_len) != 0 ||
        (a->curve && vb_channel_curve_client(a->ctl, a->server_key, a->kp.pub, a->kp.sec, err, err_len) != 0) ||
        vb_channel_connect(a->ctl, a->ep[0], err, err_len) != 0)
        return -1;
    vb_channel_set_callbacks(a->ctl, ctl_readable, NULL, a);
    return 0;
}

/* After a registration that built a model: sockets sized to its weights
 * (outside the control socket's own callback), then registered again. */
static void reopen_cb(uv_timer_t *t) {
    act *a = t->data;
    char err[1024];
    if (!a->handles_open) return;
    a->state = S_REGISTERING; /* nothing is sent until the new socket is there */
    if (open_from_learner(a, err, sizeof err) != 0) {
        vb_error("%s", err);
        stop(a, VB_EXIT_RUNTIME, "cannot reopen the sockets");
        return;
    }
    /* Register again on the new socket (idempotent: the same assignment):
     * what the learner sent after Registered (its Credit) may have gone with
     * the old one; the answer brings it again, then the weights are fetched */
    a->state = S_REGISTERING;
    a->resized = true;
    send_register(a);
}

static int open_channels(act *a, char *err, size_t err_len) {
    char why[256];
    if (vb_endpoint_derive(a->o->learner, a->ep[1], a->ep[2], ENDPOINT_LEN, why, sizeof why) != 0)
        return snprintf(err, err_len, "--learner %s: %s", a->o->learner, why), -1;
    snprintf(a->ep[0], ENDPOINT_LEN, "%s", a->o->learner);
    /* no ZMQ_IMMEDIATE on control: with it, ZeroMQ discards unread input
     * when the connection drops, and a learner's last words (Shutdown) are
     * sent just before it closes. Requests queued while no learner is
     * there are harmless: Register is idempotent, the rest get a Reset. */
    vb_channel_opts dop = {.sndhwm = 4, .maxmsgsize = 1 << 16, .linger_ms = 500, .immediate = true,
                           .reconnect_ms = 100, .reconnect_max_ms = 500};
    if (vb_channel_open(&a->data, "data", &a->loop, a->zctx, ZMQ_PUSH, &dop, err, err_len) != 0) return -1;
    if (a->o->keys && strncmp(a->ep[0], "tcp://", 6) == 0) {
        /* CURVE: this actor's key pair, and the learner's public key pinned */
        char path[4200];
        snprintf(path, sizeof path, "%s/actor.key", a->o->keys);
        if (vb_keypair_load(path, &a->kp, err, err_len) != 0) return -1;
        snprintf(path, sizeof path, "%s/learner.pub", a->o->keys);
        if (vb_pubkey_load(path, a->server_key, err, err_len) != 0) return -1;
        a->curve = true;
        if (vb_channel_curve_client(&a->data, a->server_key, a->kp.pub, a->kp.sec, err, err_len) != 0) return -1;
    }
    if (open_from_learner(a, err, err_len) != 0 || vb_channel_connect(&a->data, a->ep[1], err, err_len) != 0)
        return -1;
    vb_channel_set_callbacks(&a->data, NULL, data_writable, a);
    return 0;
}

static void init_handles(act *a) {
    uv_idle_init(&a->loop, &a->step_idle);
    uv_timer_init(&a->loop, &a->retry_timer);
    uv_timer_init(&a->loop, &a->beat_timer);
    uv_timer_init(&a->loop, &a->watch_timer);
    uv_timer_init(&a->loop, &a->reopen_timer);
    a->reopen_timer.data = a;
    uv_signal_init(&a->loop, &a->sig_int);
    uv_signal_init(&a->loop, &a->sig_term);
    a->step_idle.data = a->retry_timer.data = a->beat_timer.data = a->watch_timer.data = a;
    a->sig_int.data = a->sig_term.data = a;
    a->handles_open = true;
}

static void identify(act *a) {
    if (gethostname(a->host, sizeof a->host) != 0 || !vb_msg_printable(a->host, VB_MSG_MAX_HOST)) a->host[0] = '\0';
    a->host[sizeof a->host - 1] = '\0';
    if (a->o->name) snprintf(a->name, sizeof a->name, "%s", a->o->name);
    else snprintf(a->name, sizeof a->name, "%.40s-%ld", a->host[0] ? a->host : "actor", (long)getpid());
    while (a->instance == 0) {
        if (getrandom(&a->instance, sizeof a->instance, 0) != (ssize_t)sizeof a->instance)
            a->instance = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)a;
    }
}

int vb_act_run(const vb_act_options *o) {
    act *a = calloc(1, sizeof *a);
    if (!a) {
        vb_error("out of memory");
        return VB_EXIT_RUNTIME;
    }
    a->o = o;
    a->status = VB_EXIT_OK;
    vb_peer_log_init(&a->badlog, 60.0);
#ifdef __linux__
    if (o->parent) prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (o->parent && getppid() != (pid_t)o->parent) {
        vb_info("the learner process (pid %ld) is gone", o->parent);
        free(a);
        return VB_EXIT_OK;
    }
    if (o->name && (!o->name[0] || !vb_msg_printable(o->name, VB_MSG_MAX_NAME))) {
        vb_error("--name: 1..%d printable characters", VB_MSG_MAX_NAME);
        free(a);
        return VB_EXIT_USAGE;
    }
    identify(a);
    a->register_since = vb_mono_s();
    char err[1024];
    a->zctx = zmq_ctx_new();
    if (!a->zctx || uv_loop_init(&a->loop) != 0) {
        vb_error("cannot start the event loop / ZeroMQ");
        if (a->zctx) zmq_ctx_term(a->zctx);
        free(a);
        return VB_EXIT_RUNTIME;
    }
    init_handles(a);
    if (open_channels(a, err, sizeof err) != 0) {
        vb_error("%s", err);
        a->status = strstr(err, "--learner") ? VB_EXIT_USAGE : VB_EXIT_RUNTIME;
        close_handles(a);
    } else {
        vb_info("actor '%s' joining the learner at %s%s", a->name, a->ep[0],
            a->o->keys && strncmp(a->ep[0], "tcp://", 6) == 0 ? " (CURVE)" : "");
        uv_timer_start(&a->retry_timer, retry_cb, RETRY_MS, RETRY_MS);
        uv_timer_start(&a->watch_timer, watch_cb, WATCH_MS, WATCH_MS);
        uv_signal_start(&a->sig_int, signal_cb, SIGINT);
        uv_signal_start(&a->sig_term, signal_cb, SIGTERM);
        send_register(a);
    }
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    zmq_ctx_term(a->zctx);
    int status = a->status;
    if (a->have_acting) vb_acting_destroy(&a->acting);
    free(a->stage);
    free(a->outbox);
    free(a);
    return status;
}
