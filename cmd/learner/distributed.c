/* distributed — the learner of a distributed run.
 *
 * One libuv loop drives everything: three ZeroMQ channels, each bound to
 * tcp://learner.bind:PORT (+0 control, +1 data, +2 weights) and to an ipc://
 * endpoint in the run folder for the local actors; a heartbeat timer that
 * forgets silent actors; a metrics timer; SIGINT/SIGTERM; the local-actor
 * supervisor; and an idle handle that runs one M-step per loop iteration
 * while the replay's rate limiter allows, so that the channels are served
 * between updates.
 *
 *   control  ROUTER  Register -> Registered (config, specs, stream id) and
 *                    Credit; Heartbeat -> Heartbeat and Credit;
 *                    GetWeights -> Weights;
 *                    Shutdown (an actor leaves); anything from an actor this
 *                    learner does not know -> Reset (register again)
 *   data     PULL    Chunk -> checks -> vb_learning_insert, and a Credit
 *                    back to its actor. While the rate limiter allows an
 *                    update the learner stops reading, so the learner takes
 *                    in chunks at the rate its updates need. An actor starts a
 *                    round of env.batch chunks only with credit for all of
 *                    them (at most actors.inflight_rounds rounds ahead of the
 *                    learner's intake), which bounds the policy lag of what
 *                    the learner reads whatever the socket buffers hold.
 *   weights  XPUB    Weights every learner.publish_every updates (HWM 2: a
 *                    slow actor misses versions, never gets old ones late);
 *                    inbound, only subscriptions are legal
 *
 * Bad input (malformed, truncated, oversized, wrong version, wrong sizes or
 * CRC, invalid contents) is dropped, counted as rejected_messages and logged
 * at most once per peer and channel per minute. Well-formed messages from
 * actors or runs this learner does not know (around a restart) are dropped
 * and counted as dropped_foreign.
 *
 * Stopping (run.total_env_steps reached, or a signal): a final metrics line
 * and checkpoint, Shutdown to every actor (finished says which of the two),
 * then the local actors are stopped and the sockets closed. */
#include "distributed.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "../../common/base/cli.h"
#include "../../common/base/log.h"
#include "../../common/net/channel.h"
#include "../../common/net/chunk_wire.h"
#include "../../common/net/endpoint.h"
#include "../../common/net/messages.h"
#include "../../common/net/keys.h"
#include "../../common/net/peer_log.h"
#include "../../common/net/zap.h"
#include "background.h"
#include "local_actors.h"
#include "peers.h"
#include "run.h"

enum {
    CTL_MAX_MSG = VB_MSG_MAX_CONTROL, /* ZMQ_MAXMSGSIZE of the control socket: the largest legal message */
    PUB_MAX_MSG = 1 << 16,      /* of the weights socket (subscriptions only) */
    ENDPOINT_LEN = 512,
    LOCAL_EXIT_MS = 2000,       /* a finished run's local actors exit by themselves */
    LOCAL_GRACE_MS = 3000,      /* between SIGTERM and SIGKILL */
};

typedef struct dist {
    vb_run run;
    const vb_config *cfg;
    uv_loop_t loop;
    void *zctx;
    vb_channel ctl, data, pub;
    uv_idle_t update_idle;
    uv_timer_t beat_timer, metrics_timer;
    uv_signal_t sig_int, sig_term;
    bool loop_open, handles_open;
    vb_peers peers;
    vb_local_actors locals;
    char run_id[VB_MSG_MAX_ID + 1];
    char *config_yaml;
    uint64_t next_stream, seq;
    zmq_msg_t weights;          /* the latest published weights message */
    uint64_t weights_version;
    uint64_t first_version;     /* published at the start; later ones are multiples of learner.publish_every */
    bool have_weights;
    float *chunk;               /* one received chunk, aligned */
    size_t chunk_max;
    vb_peer_log badlog;
    int64_t chunks, rejected, foreign, published;
    int64_t chunk_faults[VB_CHUNK_FAULTS];   /* chunks refused by their bounds, per reason */
    int64_t impostors, refused_registrations, bad_versions, bad_stats;
    vb_chunk_bounds bounds;
    double return_abs_max;                   /* |return| of one task */
    bool tcp_on, curve;
    vb_keypair keys;
    vb_allowlist allowed;
    vb_zap zap;
    vb_bg *bg;                               /* evaluations and periodic checkpoints, off the loop */
    bool stopping, updating;
    int status;
    char tcp[3][ENDPOINT_LEN], ipc[3][ENDPOINT_LEN];
    bool ipc_bound[3];
} dist;

static double now_s(void) { return vb_run_now(); }

/* ---- bad input -------------------------------------------------------------- */
static void reject(dist *d, const char *channel, const char *addr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject(dist *d, const char *channel, const char *addr, const char *fmt, ...) {
    d->rejected++;
    char key[VB_PEER_LOG_KEY], why[512];
    snprintf(key, sizeof key, "%s %s", channel, addr);
    int64_t held;
    if (!vb_peer_log_allow(&d->badlog, key, now_s(), &held)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    vb_warn("rejected a message on the %s channel from %s: %s (%lld held back since the last line; at most one line "
            "per peer and channel per minute)", channel, addr[0] ? addr : "a local peer", why, (long long)held);
}

/* A message that names a registered actor from a connection that is not
 * the actor's (another key or address): never the actor's, and counted. */
static void impostor(dist *d, const char *channel, const char *addr, const vb_peer *p) {
    d->impostors++;
    reject(d, channel, addr, "speaks for actor %s, which registered on another connection", p->label);
}

static void foreign(dist *d, const char *channel, const char *addr, const char *what) {
    d->foreign++;
    char key[VB_PEER_LOG_KEY];
    snprintf(key, sizeof key, "foreign %s %s", channel, addr);
    int64_t held;
    if (vb_peer_log_allow(&d->badlog, key, now_s(), &held))
        vb_info("dropped a %s on the %s channel from %s: %s", channel[0] == 'd' ? "chunk" : "message", channel,
                addr[0] ? addr : "a local peer", what);
}

/* ---- sending ---------------------------------------------------------------- */
static void send_to(dist *d, const void *rid, size_t rlen, vb_msg *e) {
    void *buf;
    size_t len;
    zmq_msg_t m;
    if (vb_msg_pack(e, &buf, &len) != 0 || vb_channel_msg_own(&m, buf, len) != 0) {
        vb_warn("out of memory sending a %s message", vb_msg_body_name(e->body_case));
        return;
    }
    int rc = vb_channel_send(&d->ctl, rid, rlen, &m);
    if (rc != 0) vb_debug("%s to an actor not sent: %s", vb_msg_body_name(e->body_case), zmq_strerror(-rc));
    zmq_msg_close(&m);
}

static void send_reset(dist *d, const void *rid, size_t rlen, const char *reason) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Reset r = VB__RESET__INIT;
    vb_msg_header(&e, d->run_id, NULL, ++d->seq);
    r.reason = (char *)reason;
    e.body_case = VB__ENVELOPE__BODY_RESET;
    e.reset = &r;
    send_to(d, rid, rlen, &e);
}

static void send_shutdown(dist *d, const vb_peer *p, const char *reason, bool finished) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Shutdown s = VB__SHUTDOWN__INIT;
    vb_msg_header(&e, d->run_id, p->id, ++d->seq);
    s.reason = (char *)reason;
    s.finished = finished;
    e.body_case = VB__ENVELOPE__BODY_SHUTDOWN;
    e.shutdown = &s;
    send_to(d, p->rid, p->rid_len, &e);
}

static void send_registered(dist *d, const vb_peer *p) {
    const vb_run *r = &d->run;
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Registered g = VB__REGISTERED__INIT;
    Vb__EnvSpec es = VB__ENV_SPEC__INIT;
    Vb__ModelSpec ms = VB__MODEL_SPEC__INIT;
    vb_msg_header(&e, d->run_id, p->id, ++d->seq);
    es.name = (char *)r->spec.name;
    es.obs_size = r->spec.obs_size;
    es.actions = r->spec.num_actions;
    es.episode_length = r->spec.episode_length;
    es.episodes_per_task = r->spec.episodes_per_task;
    ms.param_layout_hash = vb_layout_hash(&r->model.layout);
    ms.param_count = (uint64_t)r->model.layout.total;
    ms.chunk_layout_hash = vb_chunk_layout_hash(&r->cl);
    ms.chunk_floats = (uint64_t)r->cl.floats;
    ms.window = (uint32_t)r->cl.L;
    g.config_yaml = d->config_yaml;
    g.env_spec = &es;
    g.model_spec = &ms;
    g.stream_id = p->stream;
    e.body_case = VB__ENVELOPE__BODY_REGISTERED;
    e.registered = &g;
    send_to(d, p->rid, p->rid_len, &e);
}

/* Flow control: the actor may send up to consumed + window chunks. */
static void send_credit(dist *d, const vb_peer *p) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Credit c = VB__CREDIT__INIT;
    vb_msg_header(&e, d->run_id, p->id, ++d->seq);
    c.consumed = p->consumed;
    c.window = (uint64_t)(d->cfg->actors.inflight_rounds * d->cfg->env.batch);
    e.body_case = VB__ENVELOPE__BODY_CREDIT;
    e.credit = &c;
    send_to(d, p->rid, p->rid_len, &e);
}

/* Pack the learner's parameters as the current weights and broadcast them. */
static int publish(dist *d);
static int publish_hook(void *ctx, char *err, size_t err_len) {
    return publish(ctx) == 0 ? 0 : (snprintf(err, err_len, "out of memory packing the weights"), -1);
}
static int publish(dist *d) {
    const vb_run *r = &d->run;
    void *buf;
    size_t len;
    zmq_msg_t m;
    uint64_t v = vb_learning_version(r->learning);
    if (vb_msg_pack_weights(d->run_id, ++d->seq, &r->model.layout, vb_learning_params(r->learning), v, &buf, &len) != 0 ||
        vb_channel_msg_own(&m, buf, len) != 0)
        return -1;
    if (d->have_weights) zmq_msg_close(&d->weights);
    d->weights = m;
    d->weights_version = v;
    d->have_weights = true;
    int rc = vb_channel_send_copy(&d->pub, NULL, 0, &d->weights);
    if (rc != 0) vb_debug("weights broadcast: %s", zmq_strerror(-rc));
    d->published++;
    return 0;
}

/* An actor left: out of the table, and its refresh_carry streams dropped. */
static void forget_peer(dist *d, vb_peer *p) {
    vb_learning_forget_actor(d->run.learning, (int32_t)(p->stream & 0x7fffffff));
    vb_peers_remove(&d->peers, p);
}

/* ---- control channel -------------------------------------------------------- */
static void on_register(dist *d, const void *rid, size_t rlen, const char *addr, const char *key, const vb_msg *e) {
    const Vb__Register *rg = e->register_;
    char why[256];
    if (vb_msg_check_register(rg, why, sizeof why) != 0) {
        reject(d, "control", addr, "%s", why);
        return;
    }
    if (d->stopping) return;
    vb_peer *p = vb_peers_find_instance(&d->peers, rg->instance);
    if (p && !vb_peer_identity_matches(p, key, addr)) {
        impostor(d, "control", addr, p);
        return;
    }
    if (!p) {
        /* remote registrations are bounded per identity and leave room for
         * every local actor, so a flood cannot lock the local ones out */
        const bool remote = !vb_peer_addr_is_local(addr);
        const int64_t room = VB_PEERS_MAX - d->cfg->actors.local;
        if (remote && vb_peers_count_identity(&d->peers, key, addr) >= d->cfg->actors.max_per_host) {
            d->refused_registrations++;
            reject(d, "control", addr, "register from '%s' refused: %lld actors registered from this %s already "
                   "(actors.max_per_host)", rg->name, (long long)d->cfg->actors.max_per_host, key[0] ? "key and address" : "address");
            return;
        }
        if (remote && vb_peers_count_remote(&d->peers) >= room) {
            d->refused_registrations++;
            reject(d, "control", addr, "register from '%s' refused: %lld remote actors are registered already", rg->name,
                   (long long)room);
            return;
        }
        p = vb_peers_add(&d->peers, d->next_stream);
        if (!p) {
            d->refused_registrations++;
            if (d->peers.n >= VB_PEERS_MAX)
                reject(d, "control", addr, "register from '%s' refused: %d actors are registered already", rg->name,
                       VB_PEERS_MAX);
            else
                vb_warn("register from '%s' refused: out of memory or no randomness for an actor id", rg->name);
            return;
        }
        d->next_stream++;
        snprintf(p->key, sizeof p->key, "%s", key);
        snprintf(p->addr, sizeof p->addr, "%s", addr);
        snprintf(p->name, sizeof p->name, "%s", rg->name);
        snprintf(p->host, sizeof p->host, "%s", rg->host);
        p->pid = rg->pid;
        p->instance = rg->instance;
        p->joined = now_s();
        vb_info("actor %s joined: '%s' on %s (pid %u) from %s%s%.8s; %lld actors", p->label, p->name,
                p->host[0] ? p->host : "?", p->pid, addr[0] ? addr : "a local socket", key[0] ? ", key " : "", key,
                (long long)d->peers.n);
    }
    /* a repeated Register keeps the assignment and the flow-control count */
    vb_peers_set_rid(p, rid, rlen);
    p->last_seen = now_s();
    send_registered(d, p);
    send_credit(d, p);
}

/* The registered actor a message claims to come from, or NULL after telling
 * the sender to register again. */
static vb_peer *known_actor(dist *d, const void *rid, size_t rlen, const char *addr, const char *key,
                            const vb_msg *e) {
    vb_peer *p = strcmp(e->run_id, d->run_id) == 0 ? vb_peers_find(&d->peers, e->actor_id) : NULL;
    if (p && !vb_peer_identity_matches(p, key, addr)) {
        impostor(d, "control", addr, p);
        return NULL;
    }
    if (!p) {
        foreign(d, "control", addr, "actor not registered with this learner");
        if (!d->stopping) send_reset(d, rid, rlen, "not registered with this learner");
        return NULL;
    }
    vb_peers_set_rid(p, rid, rlen);
    p->last_seen = now_s();
    return p;
}

/* Whether the tasks a heartbeat reports fit the steps the actor's accepted
 * chunks hold (plus what is still in flight): a peer cannot outvote the
 * others in the training return by claiming tasks it never ran. */
static bool plausible_tasks(dist *d, vb_peer *p, const Vb__Heartbeat *h) {
    if (!h->tasks) return true;
    const vb_run *r = &d->run;
    const int64_t window = d->cfg->actors.inflight_rounds * d->cfg->env.batch;
    const int64_t steps = (p->chunks + 2 * window + d->cfg->env.batch) * r->cl.L;
    const int64_t most = steps / r->spec.steps_per_task + d->cfg->env.batch;
    return p->tasks_claimed + (int64_t)h->tasks->tasks <= most;
}

static void on_heartbeat(dist *d, const void *rid, size_t rlen, const char *addr, const char *key, const vb_msg *e) {
    char why[256];
    if (vb_msg_check_heartbeat(e->heartbeat, d->return_abs_max, why, sizeof why) != 0) {
        reject(d, "control", addr, "%s", why);
        return;
    }
    vb_peer *p = known_actor(d, rid, rlen, addr, key, e);
    if (!p) return;
    p->env_steps = e->heartbeat->env_steps;
    p->version = e->heartbeat->policy_version;
    if (plausible_tasks(d, p, e->heartbeat)) {
        if (e->heartbeat->tasks) p->tasks_claimed += (int64_t)e->heartbeat->tasks->tasks;
        vb_msg_add_task_stats(&d->run.tstats, e->heartbeat);
    } else {
        d->bad_stats++;
        reject(d, "control", addr, "heartbeat of actor %s reports more finished tasks than its chunks hold; its "
               "statistics are ignored", p->label);
    }
    vb_msg r = VB__ENVELOPE__INIT;
    Vb__Heartbeat h = VB__HEARTBEAT__INIT;
    vb_msg_header(&r, d->run_id, p->id, ++d->seq);
    h.env_steps = (uint64_t)d->run.env_steps;
    h.policy_version = vb_learning_version(d->run.learning);
    r.body_case = VB__ENVELOPE__BODY_HEARTBEAT;
    r.heartbeat = &h;
    send_to(d, p->rid, p->rid_len, &r);
    send_credit(d, p);
}

static void on_get_weights(dist *d, const void *rid, size_t rlen, const char *addr, const char *key, const vb_msg *e) {
    vb_peer *p = known_actor(d, rid, rlen, addr, key, e);
    if (!p || !d->have_weights) return;
    int rc = vb_channel_send_copy(&d->ctl, p->rid, p->rid_len, &d->weights);
    if (rc != 0) vb_debug("weights to %s not sent: %s", p->label, zmq_strerror(-rc));
}

static void on_actor_shutdown(dist *d, const char *addr, const char *key, const vb_msg *e) {
    vb_peer *p = strcmp(e->run_id, d->run_id) == 0 ? vb_peers_find(&d->peers, e->actor_id) : NULL;
    if (!p) return;
    if (!vb_peer_identity_matches(p, key, addr)) {
        impostor(d, "control", addr, p);
        return;
    }
    const char *reason = e->shutdown->reason;
    vb_info("actor %s ('%s') left: %s; %lld actors", p->label, p->name,
            vb_msg_printable(reason, 128) && reason[0] ? reason : "shutdown", (long long)d->peers.n - 1);
    forget_peer(d, p);
}

static void ctl_readable(vb_channel *ch, void *ctx) {
    dist *d = ctx;
    zmq_msg_t parts[3];
    int n = vb_channel_recv(ch, parts, 3);
    if (n <= 0) return;
    const char *addr = vb_channel_peer_address(&parts[n > 3 ? 2 : n - 1]);
    const char *key = vb_zap_user_id(&parts[n > 3 ? 2 : n - 1]);
    if (n != 2) {
        reject(d, "control", addr, "a message of %s frames (expected one after the routing id)", n > 3 ? "4 or more" : n == 3 ? "3" : "1");
    } else {
        vb_msg *e;
        char why[256];
        const void *rid = zmq_msg_data(&parts[0]);
        size_t rlen = zmq_msg_size(&parts[0]);
        if (vb_msg_unpack(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), VB_MSG_MAX_CONTROL, &e, why, sizeof why) != 0) {
            reject(d, "control", addr, "%s", why);
        } else {
            switch (e->body_case) {
            case VB__ENVELOPE__BODY_REGISTER: on_register(d, rid, rlen, addr, key, e); break;
            case VB__ENVELOPE__BODY_HEARTBEAT: on_heartbeat(d, rid, rlen, addr, key, e); break;
            case VB__ENVELOPE__BODY_GET_WEIGHTS: on_get_weights(d, rid, rlen, addr, key, e); break;
            case VB__ENVELOPE__BODY_SHUTDOWN: on_actor_shutdown(d, addr, key, e); break;
            default: reject(d, "control", addr, "a %s message, which actors do not send", vb_msg_body_name(e->body_case));
            }
            vb_msg_free(e);
        }
    }
    for (int i = 0; i < n && i < 3; i++) zmq_msg_close(&parts[i]);
}

/* ---- data channel and updates ---------------------------------------------- */
static void begin_stop(dist *d, const char *why, bool finished);
static void update_cb(uv_idle_t *h);

/* Stop the run once run.total_env_steps or run.max_wall_s is reached (on
 * every chunk and every metrics tick, so a run without actors stops too). */
static bool stop_if_done(dist *d, bool at_start) {
    const char *done = d->stopping ? NULL : vb_run_done(&d->run, now_s());
    if (!done) return false;
    char why[64];
    if (at_start) snprintf(why, sizeof why, "%s reached already", done);
    else snprintf(why, sizeof why, "reached %s", done);
    begin_stop(d, why, true);
    return true;
}

/* Read chunks only while the rate limiter forbids an update (back-pressure);
 * with the limiter off (samples_per_insert 0) reads and updates alternate. */
static void schedule(dist *d) {
    if (d->stopping) return;
    bool ready = vb_learning_ready(d->run.learning);
    if (ready) uv_idle_start(&d->update_idle, update_cb);
    vb_channel_pause(&d->data, ready && d->cfg->learner.samples_per_insert > 0);
}

static void on_chunk(dist *d, const char *addr, const char *key, const vb_msg *e) {
    vb_run *r = &d->run;
    char why[256];
    if (e->body_case != VB__ENVELOPE__BODY_CHUNK) {
        reject(d, "data", addr, "a %s message on the data channel", vb_msg_body_name(e->body_case));
        return;
    }
    const Vb__Chunk *m = e->chunk;
    vb_peer *p = strcmp(e->run_id, d->run_id) == 0 ? vb_peers_find(&d->peers, e->actor_id) : NULL;
    if (p && !vb_peer_identity_matches(p, key, addr)) {
        impostor(d, "data", addr, p);
        return;
    }
    if (p) { /* whatever becomes of it, the chunk is taken in: the actor may send another */
        p->consumed++;
        p->last_seen = now_s();
        send_credit(d, p);
    }
    if (vb_msg_read_chunk(m, &r->cl, d->cfg->env.batch, d->chunk, why, sizeof why) != 0) {
        reject(d, "data", addr, "chunk%s%s: %s", p ? " from actor " : "", p ? p->label : "", why);
        return;
    }
    if (!p) {
        foreign(d, "data", addr, "from an actor not registered with this learner");
        return;
    }
    uint64_t v = vb_learning_version(r->learning);
    if (m->policy_version > v) {
        foreign(d, "data", addr, "acted with a policy version newer than the learner's (from before a restart)");
        return;
    }
    const uint64_t every = (uint64_t)d->cfg->learner.publish_every;
    if (m->policy_version != d->first_version && (m->policy_version < d->first_version || m->policy_version % every)) {
        d->bad_versions++;
        reject(d, "data", addr, "chunk from actor %s claims policy version %llu, which this learner never sent",
               p->label, (unsigned long long)m->policy_version);
        return;
    }
    if (m->policy_version < p->last_version) {
        d->bad_versions++;
        reject(d, "data", addr, "chunk from actor %s acted with policy version %llu after one with %llu", p->label,
               (unsigned long long)m->policy_version, (unsigned long long)p->last_version);
        return;
    }
    /* the bounds first; non-finite values pass them and are refused by the
     * insert's vb_chunk_validate, which checks every chunk once */
    vb_chunk_fault fault = vb_chunk_check_bounds(&r->cl, &d->bounds, d->chunk, why, sizeof why);
    if (fault != VB_CHUNK_OK) {
        r->rejected_chunks++;
        d->chunk_faults[fault]++;
        reject(d, "data", addr, "chunk from actor %s: %s", p->label, why);
        return;
    }
    vb_chunk c = {.version = m->policy_version, .slot = (int32_t)m->env_slot, .actor = (int32_t)(p->stream & 0x7fffffff),
                  .data = d->chunk};
    int rc = vb_learning_insert(r->learning, &c, why, sizeof why);
    if (rc < 0) {
        r->rejected_chunks++;
        reject(d, "data", addr, "chunk from actor %s: %s", p->label, why);
        return;
    }
    p->last_version = m->policy_version;
    if (rc == 1 && d->have_weights && p->pushed < d->weights_version) {
        /* too stale to learn from: this actor missed broadcasts (it joined
         * while they were under way, or fell behind the high-water mark) */
        p->pushed = d->weights_version;
        int sent = vb_channel_send_copy(&d->ctl, p->rid, p->rid_len, &d->weights);
        vb_debug("actor %s acts with stale weights (version %llu): sent version %llu%s", p->label,
                 (unsigned long long)m->policy_version, (unsigned long long)d->weights_version, sent ? " failed" : "");
    }
    r->env_steps += r->cl.L;
    d->chunks++;
    p->chunks++;
}

static void data_readable(vb_channel *ch, void *ctx) {
    dist *d = ctx;
    zmq_msg_t parts[1];
    int n = vb_channel_recv(ch, parts, 1);
    if (n <= 0) return;
    const char *addr = vb_channel_peer_address(&parts[0]);
    if (n != 1) {
        reject(d, "data", addr, "a message of several frames");
    } else {
        vb_msg *e;
        vb_chunk_view view;
        char why[256];
        /* the chunk's floats are read where ZeroMQ received them; a message
         * the chunk view does not take is parsed (and refused) in general */
        const void *buf = zmq_msg_data(&parts[0]);
        size_t len = zmq_msg_size(&parts[0]);
        if (vb_chunk_wire_view(buf, len, d->chunk_max, &view) == 0) {
            on_chunk(d, addr, vb_zap_user_id(&parts[0]), &view.e);
        } else if (vb_msg_unpack_borrow(buf, len, d->chunk_max, &e, why, sizeof why) != 0) {
            reject(d, "data", addr, "%s", why);
        } else {
            on_chunk(d, addr, vb_zap_user_id(&parts[0]), e);
            vb_msg_free_borrowed(e, buf, len);
        }
    }
    zmq_msg_close(&parts[0]);
    if (!stop_if_done(d, false)) schedule(d);
}

static bool bg_eval_hook(void *ctx, const float *params, const vb_run_snapshot *at) {
    return vb_bg_eval(((dist *)ctx)->bg, params, at);
}
static void bg_save_hook(void *ctx, void *buf, size_t len, int64_t updates) {
    vb_bg_checkpoint(((dist *)ctx)->bg, buf, len, updates);
}
static bool bg_busy_hook(void *ctx) { return vb_bg_writing(((dist *)ctx)->bg); }

static int dist_ckpt_state(void *ctx, uint64_t **pos, int64_t *k, int64_t *act_version, vb_ckpt_section *extra,
                           int *n_extra, char *err, size_t err_len) {
    dist *d = ctx;
    *pos = NULL;
    *k = 0;
    extra[0] = (vb_ckpt_section){"actors.next_stream", &d->next_stream, sizeof d->next_stream};
    *n_extra = 1;
    return 0;
}

static int dist_restore(void *ctx, const vb_ckpt *ck, const void *pos, int64_t k, int64_t act_version, char *err,
                        size_t err_len) {
    dist *d = ctx;
    uint64_t len;
    const void *ns = vb_ckpt_get(ck, "actors.next_stream", &len);
    if (ns && len == sizeof d->next_stream) memcpy(&d->next_stream, ns, sizeof d->next_stream);
    return 0;
}

static void update_cb(uv_idle_t *h) {
    dist *d = h->data;
    vb_run *r = &d->run;
    if (d->stopping || !vb_learning_ready(r->learning)) {
        uv_idle_stop(h);
        if (!d->stopping) vb_channel_pause(&d->data, false);
        return;
    }
    if (vb_run_update(r) == -2) {
        vb_error("%s", r->fatal);
        d->status = VB_EXIT_RUNTIME;
        begin_stop(d, "training diverged", false);
        return;
    }
    if (!vb_learning_ready(r->learning)) {
        uv_idle_stop(h);
        vb_channel_pause(&d->data, false);
    }
}

/* ---- weights channel (inbound: subscriptions only) --------------------------- */
static void pub_readable(vb_channel *ch, void *ctx) {
    dist *d = ctx;
    zmq_msg_t parts[1];
    int n = vb_channel_recv(ch, parts, 1);
    if (n <= 0) return;
    const char *addr = vb_channel_peer_address(&parts[0]);
    const unsigned char *b = zmq_msg_data(&parts[0]);
    size_t len = zmq_msg_size(&parts[0]);
    if (n != 1) reject(d, "weights", addr, "a message of several frames");
    else if (len == 0 || (b[0] != 0 && b[0] != 1)) reject(d, "weights", addr, "a %zu-byte message that is not a subscription", len);
    zmq_msg_close(&parts[0]);
}

/* ---- timers, signals, stopping ----------------------------------------------- */
static void beat_cb(uv_timer_t *t) {
    dist *d = t->data;
    double now = now_s(), timeout = (double)d->cfg->actors.timeout_ms / 1000.0;
    for (int64_t i = d->peers.n - 1; i >= 0; i--) {
        vb_peer *p = &d->peers.p[i];
        if (now - p->last_seen > timeout) {
            vb_warn("actor %s ('%s' on %s, pid %u) left: silent for %.1f s; %lld actors", p->label, p->name, p->host,
                    p->pid, now - p->last_seen, (long long)d->peers.n - 1);
            forget_peer(d, p);
        }
    }
}

static void write_metrics(dist *d) {
    char prog[64];
    const vb_metric extra[] = {
        {"chunks", "actors/chunks", (double)d->chunks, VB_METRIC_INT},
        {"actors", "actors/count", (double)d->peers.n, VB_METRIC_INT},
        {"weights_published", "actors/weights_published", (double)d->published, VB_METRIC_INT},
        {"rejected_messages", "actors/rejected_messages", (double)d->rejected, VB_METRIC_INT},
        {"dropped_foreign", "actors/dropped_foreign", (double)d->foreign, VB_METRIC_INT},
        {"rejected_chunk_reward", "actors/rejected_chunk_reward", (double)d->chunk_faults[VB_CHUNK_REWARD], VB_METRIC_INT},
        {"rejected_chunk_value", "actors/rejected_chunk_value", (double)d->chunk_faults[VB_CHUNK_VALUE], VB_METRIC_INT},
        {"rejected_chunk_log_prob", "actors/rejected_chunk_log_prob", (double)d->chunk_faults[VB_CHUNK_LOG_PROB],
         VB_METRIC_INT},
        {"rejected_chunk_q_target", "actors/rejected_chunk_q_target", (double)d->chunk_faults[VB_CHUNK_Q_TARGET],
         VB_METRIC_INT},
        {"rejected_chunk_version", "actors/rejected_chunk_version", (double)d->bad_versions, VB_METRIC_INT},
        {"rejected_impostor", "actors/rejected_impostor", (double)d->impostors, VB_METRIC_INT},
        {"rejected_stats", "actors/rejected_stats", (double)d->bad_stats, VB_METRIC_INT},
        {"refused_registrations", "actors/refused_registrations", (double)d->refused_registrations, VB_METRIC_INT},
        {"refused_connections", "actors/refused_connections", (double)d->zap.refused, VB_METRIC_INT},
        {"failed_handshakes", "actors/failed_handshakes", (double)d->zap.failed_handshakes, VB_METRIC_INT},
    };
    snprintf(prog, sizeof prog, "  %lld actors", (long long)d->peers.n);
    vb_run_tick(&d->run, now_s(), extra, (int)(sizeof extra / sizeof extra[0]), prog);
}

static void metrics_cb(uv_timer_t *t) {
    write_metrics(t->data);
    stop_if_done(t->data, false);
}

static void close_handles(dist *d) {
    if (!d->handles_open) return;
    d->handles_open = false;
    vb_channel_close(&d->ctl);
    vb_channel_close(&d->data);
    vb_channel_close(&d->pub);
    if (d->curve) vb_zap_close(&d->zap);
    vb_bg_stop(d->bg); /* its handle too: the loop ends once every handle is closed */
    d->bg = NULL;
    uv_close((uv_handle_t *)&d->update_idle, NULL);
    uv_close((uv_handle_t *)&d->beat_timer, NULL);
    uv_close((uv_handle_t *)&d->metrics_timer, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
}

static void locals_done(void *ctx) { close_handles(ctx); }

static void begin_stop(dist *d, const char *why, bool finished) {
    if (d->stopping) return;
    d->stopping = true;
    vb_info("%s: stopping after a final checkpoint", why);
    uv_idle_stop(&d->update_idle);
    uv_timer_stop(&d->beat_timer);
    uv_timer_stop(&d->metrics_timer);
    vb_channel_pause(&d->data, true);
    write_metrics(d);
    char err[1024];
    /* the final checkpoint is written here, after the worker's (an evaluation
     * not yet started is dropped; one running finishes beside) */
    if (d->bg) vb_bg_drain_checkpoints(d->bg);
    d->run.mode.save_async = NULL;
    d->run.mode.eval_async = NULL;
    if (d->run.fatal[0]) {
        /* the last periodic checkpoint holds the weights before the divergence */
    } else if (vb_run_checkpoint(&d->run, err, sizeof err) != 0) {
        vb_error("final checkpoint failed: %s", err);
        d->status = VB_EXIT_RUNTIME;
    }
    if (d->status == VB_EXIT_OK)
        vb_info("final checkpoint in %s (%lld env steps, %llu updates, %lld chunks)", d->run.ckdir,
                (long long)d->run.env_steps, (unsigned long long)vb_learning_version(d->run.learning),
                (long long)d->chunks);
    for (int64_t i = 0; i < d->peers.n; i++) send_shutdown(d, &d->peers.p[i], why, finished);
    vb_local_actors_stop(&d->locals, finished ? LOCAL_EXIT_MS : 0, LOCAL_GRACE_MS, locals_done, d);
}

static void signal_cb(uv_signal_t *s, int sig) {
    dist *d = s->data;
    if (d->stopping) {
        vb_info("signal %d: already stopping", sig);
        return;
    }
    char why[32];
    snprintf(why, sizeof why, "signal %d", sig);
    begin_stop(d, why, false);
}

static void on_local_exit(void *ctx, int index, int pid, int64_t status, int sig) {
    dist *d = ctx;
    (void)status;
    (void)sig;
    if (d->locals.given_up == d->locals.n && d->locals.n > 0 && !d->stopping &&
        vb_peers_count_remote(&d->peers) == 0) {
        /* every local actor crash-loops: a run that waits for them waits forever */
        vb_error("every local actor keeps failing at its start; stopping (see logs/local-N.log)");
        d->status = VB_EXIT_RUNTIME;
        begin_stop(d, "the local actors keep failing", false);
    }
    char name[32];
    snprintf(name, sizeof name, "local-%d", index);
    for (int64_t i = d->peers.n - 1; i >= 0; i--) {
        vb_peer *p = &d->peers.p[i];
        if (p->pid == (uint32_t)pid && strcmp(p->name, name) == 0) {
            vb_info("actor %s ('%s') left: its process ended; %lld actors", p->label, p->name, (long long)d->peers.n - 1);
            forget_peer(d, p);
        }
    }
}

/* ---- setup ---------------------------------------------------------------- */
static void new_run_id(char *id, size_t len) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    snprintf(id, len, "%016llx", (unsigned long long)x);
}

/* tcp endpoints on learner.bind:port (+1, +2) and ipc endpoints in the run
 * folder (or /tmp when its path is too long for a socket name). */
static int make_endpoints(dist *d, char *err, size_t err_len) {
    char why[256];
    d->tcp_on = strcmp(d->cfg->learner.bind, "none") != 0;
    snprintf(d->tcp[0], ENDPOINT_LEN, "tcp://%s:%lld", d->cfg->learner.bind, (long long)d->cfg->learner.port);
    if (d->tcp_on && vb_endpoint_derive(d->tcp[0], d->tcp[1], d->tcp[2], ENDPOINT_LEN, why, sizeof why) != 0)
        return snprintf(err, err_len, "learner.bind / learner.port: %s: %s", d->tcp[0], why), -1;
    char path[ENDPOINT_LEN];
    snprintf(path, sizeof path, "ipc://%s/learner.sock", d->run.dir);
    if (strlen(path) - 6 + strlen(".weights") > 100)
        snprintf(path, sizeof path, "ipc:///tmp/vb-learner-%ld.sock", (long)getpid());
    snprintf(d->ipc[0], ENDPOINT_LEN, "%s", path);
    if (vb_endpoint_derive(d->ipc[0], d->ipc[1], d->ipc[2], ENDPOINT_LEN, why, sizeof why) != 0)
        return snprintf(err, err_len, "%s: %s", path, why), -1;
    return 0;
}

/* The ipc:// endpoint first, plain (its socket file, 0600, admits this
 * user's processes only); then, with learner.bind, the TCP one, under CURVE
 * when learner.keys is set (ZeroMQ takes a socket's security options into
 * each endpoint as it is bound). */
static int open_channel(dist *d, vb_channel *ch, const char *name, int type, const vb_channel_opts *o, int i,
                        char *err, size_t err_len) {
    if (vb_channel_open(ch, name, &d->loop, d->zctx, type, o, err, err_len) != 0) return -1;
    mode_t old = umask(077); /* the socket file is private from its creation */
    int brc = vb_channel_bind(ch, d->ipc[i], err, err_len);
    umask(old);
    if (brc != 0) return -1;
    d->ipc_bound[i] = true;
    if (chmod(d->ipc[i] + strlen("ipc://"), 0600) != 0)
        return snprintf(err, err_len, "%s: chmod: %s", d->ipc[i], strerror(errno)), -1;
    if (!d->tcp_on) return 0;
    if (d->curve && vb_channel_curve_server(ch, d->keys.sec, "varibased", err, err_len) != 0) return -1;
    if (d->curve && vb_zap_watch(&d->zap, ch->sock, name, err, err_len) != 0) return -1;
    return vb_channel_bind(ch, d->tcp[i], err, err_len);
}

/* learner.keys: the learner's key pair, the allow-list and the ZAP handler
 * (bound before any CURVE endpoint; without a handler CURVE admits anyone). */
static int setup_keys(dist *d, char *err, size_t err_len) {
    const char *dir = d->cfg->learner.keys;
    if (!d->tcp_on || !dir[0]) return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/learner.key", dir);
    if (vb_keypair_load(path, &d->keys, err, err_len) != 0) return -1;
    snprintf(path, sizeof path, "%s/allowed_actors", dir);
    if (vb_allowlist_load(path, &d->allowed, err, err_len) != 0) return -1;
    if (vb_zap_open(&d->zap, &d->loop, d->zctx, &d->allowed, err, err_len) != 0) return -1;
    d->curve = true;
    return 0;
}

static int setup_net(dist *d, char *err, size_t err_len) {
    const vb_config *cfg = d->cfg;
    if (make_endpoints(d, err, err_len) != 0) return -1;
    if (setup_keys(d, err, err_len) != 0) return -1;
    /* inbound bounds per connection: the largest legal message, a few queued */
    vb_channel_opts co = {.sndhwm = 64, .rcvhwm = 16, .maxmsgsize = CTL_MAX_MSG, .linger_ms = 1000,
                          .router_mandatory = true};
    vb_channel_opts dop = {.sndhwm = 4, .rcvhwm = 4, .maxmsgsize = (int64_t)d->chunk_max, .linger_ms = 0};
    vb_channel_opts po = {.sndhwm = 2, .rcvhwm = 16, .maxmsgsize = PUB_MAX_MSG, .linger_ms = 0};
    if (open_channel(d, &d->ctl, "control", ZMQ_ROUTER, &co, 0, err, err_len) != 0 ||
        open_channel(d, &d->data, "data", ZMQ_PULL, &dop, 1, err, err_len) != 0 ||
        open_channel(d, &d->pub, "weights", ZMQ_XPUB, &po, 2, err, err_len) != 0)
        return -1;
    vb_channel_set_callbacks(&d->ctl, ctl_readable, NULL, d);
    vb_channel_set_callbacks(&d->data, data_readable, NULL, d);
    vb_channel_set_callbacks(&d->pub, pub_readable, NULL, d);
    if (publish(d) != 0) return snprintf(err, err_len, "out of memory packing the weights"), -1;
    d->first_version = d->weights_version;
    uv_timer_start(&d->beat_timer, beat_cb, (uint64_t)cfg->actors.heartbeat_ms, (uint64_t)cfg->actors.heartbeat_ms);
    uint64_t ms = (uint64_t)(cfg->log.interval_s * 1000.0);
    uv_timer_start(&d->metrics_timer, metrics_cb, ms ? ms : 1, ms ? ms : 1);
    uv_signal_start(&d->sig_int, signal_cb, SIGINT);
    uv_signal_start(&d->sig_term, signal_cb, SIGTERM);
    schedule(d);
    return 0;
}

static void init_handles(dist *d) {
    uv_idle_init(&d->loop, &d->update_idle);
    uv_timer_init(&d->loop, &d->beat_timer);
    uv_timer_init(&d->loop, &d->metrics_timer);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_term);
    d->update_idle.data = d->beat_timer.data = d->metrics_timer.data = d;
    d->sig_int.data = d->sig_term.data = d;
    d->handles_open = true;
}

static void teardown(dist *d) {
    if (d->loop_open) {
        close_handles(d);
        uv_run(&d->loop, UV_RUN_DEFAULT);
        uv_loop_close(&d->loop);
    }
    if (d->have_weights) zmq_msg_close(&d->weights);
    if (d->zctx) zmq_ctx_term(d->zctx);
    for (int i = 0; i < 3; i++) { /* ZeroMQ leaves ipc socket files behind */
        if (d->ipc_bound[i]) unlink(d->ipc[i] + strlen("ipc://"));
    }
    vb_local_actors_free(&d->locals);
    vb_peers_free(&d->peers);
    vb_allowlist_free(&d->allowed);
    free(d->chunk);
    free(d->config_yaml);
    vb_run_close(&d->run);
}

int vb_distributed_run(const vb_config *cfg, const vb_train_opts *opts) {
    dist *d = calloc(1, sizeof *d);
    if (!d) {
        vb_error("out of memory");
        return VB_EXIT_RUNTIME;
    }
    d->cfg = cfg;
    d->next_stream = 1;
    vb_peer_log_init(&d->badlog, 60.0);
    char err[1024];
    int status = VB_EXIT_RUNTIME;
    int orc = vb_run_open(&d->run, cfg, opts->resume != NULL, err, sizeof err);
    if (orc == -2) status = VB_EXIT_USAGE;
    if (orc != 0) goto fail;
    d->run.argc = opts->argc;
    d->run.argv = opts->argv;
    d->run.mode = (vb_run_mode){.name = "distributed", .ctx = d, .publish = publish_hook,
                                .ckpt_state = dist_ckpt_state, .restore = dist_restore};
    if (opts->resume && vb_run_resume(&d->run, opts->resume, err, sizeof err) != 0) goto fail;
    /* a new id for every learner process, resumed or not: registrations
     * with an earlier learner are void, so no actor id can be mistaken for
     * one handed out before a restart */
    new_run_id(d->run_id, sizeof d->run_id);
    size_t ylen;
    d->config_yaml = vb_config_to_yaml(cfg, &ylen);
    d->chunk_max = vb_msg_chunk_max_size(&d->run.cl);
    vb_chunk_bounds_from_spec(&d->bounds, &d->run.spec);
    d->return_abs_max = (double)fmaxf(fabsf(d->bounds.reward_min), fabsf(d->bounds.reward_max)) *
                        (double)d->run.spec.steps_per_task;
    d->chunk = malloc(sizeof(float) * (size_t)d->run.cl.floats);
    if (!d->config_yaml || !d->chunk) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    d->zctx = zmq_ctx_new();
    if (!d->zctx || uv_loop_init(&d->loop) != 0) {
        snprintf(err, sizeof err, "cannot start the event loop / ZeroMQ");
        goto fail;
    }
    d->loop_open = true;
    init_handles(d);
    if (setup_net(d, err, sizeof err) != 0) goto fail;
    /* the run's files only once the ports are bound: a failed start changes nothing */
    if (vb_run_start_files(&d->run, opts->resume != NULL, err, sizeof err) != 0) goto fail;
    vb_run_announce(&d->run, "distributed");
    if (d->tcp_on)
        vb_info("run %s: remote actors on control %s, data %s, weights %s (%s); local actors on %s", d->run_id,
                d->tcp[0], d->tcp[1], d->tcp[2],
                d->curve ? "CURVE, actor keys from learner.keys/allowed_actors" : "no keys: unauthenticated",
                d->ipc[0]);
    else
        vb_info("run %s: local actors on %s; no TCP endpoint (set learner.bind for remote actors)", d->run_id,
                d->ipc[0]);
    if (vb_bg_start(&d->bg, &d->loop, &d->run, err, sizeof err) != 0) goto fail;
    d->run.mode.eval_async = bg_eval_hook;
    d->run.mode.save_async = bg_save_hook;
    d->run.mode.save_busy = bg_busy_hook;
    const char *level = vb_log_level_name(vb_log_get_level());
    char log_dir[4200];
    snprintf(log_dir, sizeof log_dir, "%s/logs", d->run.dir);
    if (vb_local_actors_start(&d->locals, &d->loop, cfg->actors.local, d->ipc[0], cfg->actors.threads, level, log_dir,
                              on_local_exit, d, err, sizeof err) != 0)
        goto fail;
    vb_run_start_clock(&d->run);
    d->status = VB_EXIT_OK;
    stop_if_done(d, true);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    status = d->status;
    teardown(d);
    free(d);
    return status;
fail:
    vb_error("%s", err);
    if (d->locals.n) {
        vb_local_actors_stop(&d->locals, 0, LOCAL_GRACE_MS, NULL, NULL);
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    teardown(d);
    free(d);
    return status;
}
