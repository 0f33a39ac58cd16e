/* zap — see zap.h. */
#include "zap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../base/log.h"
#include "../base/clock.h"

enum { ZAP_FRAMES = 8 };


static int send_frame(vb_zap *z, const char *s, size_t n, int more) {
    return zmq_send(z->ch.sock, s, n, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void reply(vb_zap *z, zmq_msg_t *req_id, const char *code, const char *text, const char *user) {
    send_frame(z, "1.0", 3, 1);
    send_frame(z, zmq_msg_data(req_id), zmq_msg_size(req_id), 1);
    send_frame(z, code, strlen(code), 1);
    send_frame(z, text, strlen(text), 1);
    send_frame(z, user, strlen(user), 1);
    send_frame(z, "", 0, 0);
    vb_channel_kick(&z->ch);
}

static int frame_is(zmq_msg_t *m, const char *s) {
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Lines about refusals, whatever the peers: a peer that cycles through
 * keys or addresses is a new peer each time. */
enum { GLOBAL_LINES = 20 };
static bool global_allow(vb_zap *z) {
    double now = vb_mono_s();
    if (now - z->win_start >= 60.0) {
        z->win_start = now;
        z->win_lines = 0;
    }
    return z->win_lines++ < GLOBAL_LINES;
}
static int64_t take_suppressed(vb_zap *z) {
    int64_t n = z->suppressed;
    z->suppressed = 0;
    return n;
}

/* Frames: version, request id, domain, address, routing id, mechanism,
 * credentials... */
static void zap_readable(vb_channel *ch, void *ctx) {
    vb_zap *z = ctx;
    zmq_msg_t f[ZAP_FRAMES];
    int n = vb_channel_recv(ch, f, ZAP_FRAMES);
    if (n <= 0) return;
    int kept = n > ZAP_FRAMES ? ZAP_FRAMES : n;
    if (n < 6 || n > ZAP_FRAMES || !frame_is(&f[0], "1.0")) {
        /* libzmq only sends well-formed requests; answer something so the REP socket moves on */
        zmq_msg_t empty;
        zmq_msg_init(&empty);
        reply(z, n >= 2 ? &f[1] : &empty, "500", "malformed ZAP request", "");
        zmq_msg_close(&empty);
    } else {
        char addr[64] = "", key[VB_KEY_Z85 + 1] = "";
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&f[3]), (const char *)zmq_msg_data(&f[3]));
        const char *why = NULL;
        if (frame_is(&f[5], "CURVE")) {
            if (n != 7 || zmq_msg_size(&f[6]) != 32) why = "malformed CURVE credentials";
            else if (!zmq_z85_encode(key, zmq_msg_data(&f[6]), 32)) why = "malformed CURVE credentials";
            else if (!vb_allowlist_has(z->allowed, key)) why = "public key not in the allow-list";
        } else {
            why = "an unauthenticated (non-CURVE) connection to an endpoint that requires CURVE";
        }
        if (why) {
            z->refused++;
            char pk[VB_PEER_LOG_KEY];
            snprintf(pk, sizeof pk, "%s %s", addr, key);
            int64_t held;
            if (vb_peer_log_allow(&z->log, pk, vb_mono_s(), &held) && global_allow(z))
                vb_warn("refused a connection from %s%s%s: %s (logged once per address and key, at most %d lines a "
                        "minute; %lld refusals not logged before this one)", addr[0] ? addr : "?",
                        key[0] ? " with key " : "", key, why, GLOBAL_LINES, (long long)take_suppressed(z));
            else
                z->suppressed++;
            reply(z, &f[1], "400", why, "");
        } else {
            z->admitted++;
            reply(z, &f[1], "200", "OK", key);
        }
    }
    for (int i = 0; i < kept; i++) zmq_msg_close(&f[i]);
}

int vb_zap_open(vb_zap *z, uv_loop_t *loop, void *zctx, const vb_allowlist *allowed, char *err, size_t err_len) {
    memset(z, 0, sizeof *z);
    z->allowed = allowed;
    z->zctx = zctx;
    z->loop = loop;
    vb_peer_log_init(&z->log, 1e12);
    vb_peer_log_init(&z->hlog, 60.0);
    vb_channel_opts o = {.sndhwm = 64, .rcvhwm = 64, .maxmsgsize = 4096, .linger_ms = 0};
    if (vb_channel_open(&z->ch, "zap", loop, zctx, ZMQ_REP, &o, err, err_len) != 0) return -1;
    if (vb_channel_bind(&z->ch, "inproc://zeromq.zap.01", err, err_len) != 0) {
        vb_channel_close(&z->ch);
        return -1;
    }
    vb_channel_set_callbacks(&z->ch, zap_readable, NULL, z);
    return 0;
}

void vb_zap_close(vb_zap *z) {
    vb_channel_close(&z->ch);
    for (int i = 0; i < z->n_mon; i++) vb_channel_close(&z->mon[i]);
}

/* A monitor event: frame 1 is u16 event + u32 value, frame 2 the endpoint. */
static void mon_readable(vb_channel *ch, void *ctx) {
    vb_zap *z = ctx;
    zmq_msg_t f[2];
    int n = vb_channel_recv(ch, f, 2);
    if (n <= 0) return;
    uint16_t event = 0;
    if (zmq_msg_size(&f[0]) >= 2) memcpy(&event, zmq_msg_data(&f[0]), 2);
    if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) {
        z->failed_handshakes++;
        const char *name = "?";
        for (int i = 0; i < z->n_mon; i++)
            if (ch == &z->mon[i]) name = z->mon_name[i];
        int64_t held;
        char key[VB_PEER_LOG_KEY];
        snprintf(key, sizeof key, "handshake %s", name);
        if (vb_peer_log_allow(&z->hlog, key, vb_mono_s(), &held))
            vb_warn("refused a connection on the %s port: its CURVE handshake failed (a peer without keys, or one "
                    "that pins another learner key; ./actor needs --keys DIR with this learner's learner.pub); "
                    "%lld more since the last line, at most one a minute", name, (long long)held);
    }
    for (int i = 0; i < n && i < 2; i++) zmq_msg_close(&f[i]);
}

int vb_zap_watch(vb_zap *z, void *sock, const char *name, char *err, size_t err_len) {
    if (z->n_mon == VB_ZAP_MONITORS) return snprintf(err, err_len, "too many monitored sockets"), -1;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://vb-monitor-%d", z->n_mon);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        return snprintf(err, err_len, "%s: socket monitor: %s", name, zmq_strerror(errno)), -1;
    vb_channel *ch = &z->mon[z->n_mon];
    vb_channel_opts o = {.rcvhwm = 64, .maxmsgsize = 4096, .linger_ms = 0};
    if (vb_channel_open(ch, "monitor", z->loop, z->zctx, ZMQ_PAIR, &o, err, err_len) != 0) return -1;
    if (vb_channel_connect(ch, ep, err, err_len) != 0) {
        vb_channel_close(ch);
        return -1;
    }
    z->mon_name[z->n_mon++] = name;
    vb_channel_set_callbacks(ch, mon_readable, NULL, z);
    return 0;
}

const char *vb_zap_user_id(zmq_msg_t *m) {
    const char *u = zmq_msg_gets(m, "User-Id");
    return u ? u : "";
}
