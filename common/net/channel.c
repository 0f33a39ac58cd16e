/* channel — see channel.h. */
#include "channel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_BUDGET = 64 };

static int set_int(void *sock, int opt, int v) { return zmq_setsockopt(sock, opt, &v, sizeof v); }

static void dispatch(vb_channel *ch);
static void poll_cb(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    dispatch(h->data);
}
static void idle_cb(uv_idle_t *h) { dispatch(h->data); }

int vb_channel_open(vb_channel *ch, const char *name, uv_loop_t *loop, void *zctx, int type,
                    const vb_channel_opts *o, char *err, size_t err_len) {
    memset(ch, 0, sizeof *ch);
    ch->name = name;
    ch->budget = DEFAULT_BUDGET;
    ch->sock = zmq_socket(zctx, type);
    if (!ch->sock) return snprintf(err, err_len, "%s: zmq_socket: %s", name, zmq_strerror(errno)), -1;
    int rc = set_int(ch->sock, ZMQ_LINGER, o->linger_ms);
    if (rc == 0 && o->sndhwm > 0) rc = set_int(ch->sock, ZMQ_SNDHWM, o->sndhwm);
    if (rc == 0 && o->rcvhwm > 0) rc = set_int(ch->sock, ZMQ_RCVHWM, o->rcvhwm);
    if (rc == 0) rc = zmq_setsockopt(ch->sock, ZMQ_MAXMSGSIZE, &o->maxmsgsize, sizeof o->maxmsgsize);
    if (rc == 0 && o->immediate) rc = set_int(ch->sock, ZMQ_IMMEDIATE, 1);
    if (rc == 0 && o->router_mandatory) rc = set_int(ch->sock, ZMQ_ROUTER_MANDATORY, 1);
    if (rc == 0 && o->reconnect_ms > 0) rc = set_int(ch->sock, ZMQ_RECONNECT_IVL, o->reconnect_ms);
    if (rc == 0 && o->reconnect_max_ms > 0) rc = set_int(ch->sock, ZMQ_RECONNECT_IVL_MAX, o->reconnect_max_ms);
    if (rc == 0 && o->subscribe) rc = zmq_setsockopt(ch->sock, ZMQ_SUBSCRIBE, o->subscribe, strlen(o->subscribe));
    int fd = -1;
    size_t fl = sizeof fd;
    if (rc == 0) rc = zmq_getsockopt(ch->sock, ZMQ_FD, &fd, &fl);
    if (rc != 0) {
        snprintf(err, err_len, "%s: socket options: %s", name, zmq_strerror(errno));
        zmq_close(ch->sock);
        ch->sock = NULL;
        return -1;
    }
    int uerr = uv_poll_init(loop, &ch->poll, fd);
    if (uerr != 0) {
        snprintf(err, err_len, "%s: uv_poll_init: %s", name, uv_strerror(uerr));
        zmq_close(ch->sock);
        ch->sock = NULL;
        return -1;
    }
    uv_idle_init(loop, &ch->idle);
    ch->poll.data = ch;
    ch->idle.data = ch;
    uv_poll_start(&ch->poll, UV_READABLE, poll_cb);
    ch->open = true;
    return 0;
}

int vb_channel_bind(vb_channel *ch, const char *endpoint, char *err, size_t err_len) {
    if (zmq_bind(ch->sock, endpoint) != 0)
        return snprintf(err, err_len, "%s: cannot bind %s: %s", ch->name, endpoint, zmq_strerror(errno)), -1;
    return 0;
}

int vb_channel_connect(vb_channel *ch, const char *endpoint, char *err, size_t err_len) {
    if (zmq_connect(ch->sock, endpoint) != 0)
        return snprintf(err, err_len, "%s: cannot connect to %s: %s", ch->name, endpoint, zmq_strerror(errno)), -1;
    return 0;
}

static void handle_closed(uv_handle_t *h) {
    vb_channel *ch = h->data;
    if (++ch->handles_closed == 2 && ch->free_on_close) free(ch);
}

void vb_channel_close(vb_channel *ch) {
    if (!ch->open) return;
    ch->open = false;
    /* uv_close takes the descriptor out of the loop at once; only then may
     * ZeroMQ close it (and the number be reused). */
    uv_close((uv_handle_t *)&ch->poll, handle_closed);
    uv_close((uv_handle_t *)&ch->idle, handle_closed);
    zmq_close(ch->sock);
    ch->sock = NULL;
}

void vb_channel_close_free(vb_channel *ch) {
    if (!ch) return;
    if (!ch->open) {
        /* never opened, or closed already: free now or when its handles are */
        if (ch->handles_closed == 2 || !ch->poll.loop) free(ch);
        else ch->free_on_close = true;
        return;
    }
    ch->free_on_close = true;
    vb_channel_close(ch);
}

void vb_channel_set_callbacks(vb_channel *ch, vb_channel_fn on_readable, vb_channel_fn on_writable, void *ctx) {
    ch->on_readable = on_readable;
    ch->on_writable = on_writable;
    ch->ctx = ctx;
    vb_channel_kick(ch);
}

void vb_channel_kick(vb_channel *ch) {
    if (ch->open && !ch->in_dispatch) uv_idle_start(&ch->idle, idle_cb);
}

void vb_channel_pause(vb_channel *ch, bool paused) {
    if (ch->paused == paused) return;
    ch->paused = paused;
    if (!paused) vb_channel_kick(ch);
}

void vb_channel_want_write(vb_channel *ch, bool want) {
    if (ch->want_write == want) return;
    ch->want_write = want;
    if (want) vb_channel_kick(ch);
}

/* Call the callbacks while the socket has what they want, at most budget
 * times; come back next iteration when work is left. */
static void dispatch(vb_channel *ch) {
    if (!ch->open) return;
    ch->in_dispatch = true;
    bool more = false;
    for (int i = 0; i < ch->budget; i++) {
        uint32_t ev = 0;
        size_t el = sizeof ev;
        if (zmq_getsockopt(ch->sock, ZMQ_EVENTS, &ev, &el) != 0) break;
        bool in = (ev & ZMQ_POLLIN) && !ch->paused && ch->on_readable;
        bool out = (ev & ZMQ_POLLOUT) && ch->want_write && ch->on_writable;
        if (!in && !out) {
            more = false;
            break;
        }
        more = true;
        if (in) ch->on_readable(ch, ch->ctx);
        if (!ch->open) return; /* a callback closed the channel */
        if (out && ch->want_write) ch->on_writable(ch, ch->ctx);
        if (!ch->open) return;
    }
    ch->in_dispatch = false;
    if (more) uv_idle_start(&ch->idle, idle_cb);
    else uv_idle_stop(&ch->idle);
}

int vb_channel_recv(vb_channel *ch, zmq_msg_t *parts, int max) {
    int n = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, ch->sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&m);
            for (int i = 0; i < n && i < max; i++) zmq_msg_close(&parts[i]);
            return e == EAGAIN && n == 0 ? 0 : -1;
        }
        bool more = zmq_msg_more(&m);
        if (n < max) parts[n] = m;
        else zmq_msg_close(&m);
        n++;
        if (!more) break;
    }
    return n > max ? max + 1 : n;
}

int vb_channel_send(vb_channel *ch, const void *id, size_t id_len, zmq_msg_t *m) {
    int rc = 0;
    if (id) {
        zmq_msg_t idm;
        if (zmq_msg_init_size(&idm, id_len) != 0) return -ENOMEM;
        memcpy(zmq_msg_data(&idm), id, id_len);
        if (zmq_msg_send(&idm, ch->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            rc = -errno;
            zmq_msg_close(&idm);
        }
    }
    /* after a routing-id frame went out, the rest of the message cannot block */
    if (rc == 0 && zmq_msg_send(m, ch->sock, ZMQ_DONTWAIT) < 0) rc = -errno;
    vb_channel_kick(ch);
    return rc;
}

int vb_channel_send_copy(vb_channel *ch, const void *id, size_t id_len, zmq_msg_t *m) {
    zmq_msg_t c;
    zmq_msg_init(&c);
    if (zmq_msg_copy(&c, m) != 0) {
        zmq_msg_close(&c);
        return -errno;
    }
    int rc = vb_channel_send(ch, id, id_len, &c);
    zmq_msg_close(&c);
    return rc;
}

static void free_buf(void *data, void *hint) {
    (void)hint;
    free(data);
}

int vb_channel_msg_own(zmq_msg_t *m, void *buf, size_t len) {
    if (zmq_msg_init_data(m, buf, len, free_buf, NULL) != 0) {
        free(buf);
        return -1;
    }
    return 0;
}

int vb_channel_curve_server(vb_channel *ch, const char *secret, const char *domain, char *err, size_t err_len) {
    if (set_int(ch->sock, ZMQ_CURVE_SERVER, 1) != 0 || zmq_setsockopt(ch->sock, ZMQ_CURVE_SECRETKEY, secret, 40) != 0 ||
        zmq_setsockopt(ch->sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
        return snprintf(err, err_len, "%s: CURVE server options: %s", ch->name, zmq_strerror(errno)), -1;
    return 0;
}

int vb_channel_curve_client(vb_channel *ch, const char *server_public, const char *pub, const char *sec, char *err,
                            size_t err_len) {
    if (zmq_setsockopt(ch->sock, ZMQ_CURVE_SERVERKEY, server_public, 40) != 0 ||
        zmq_setsockopt(ch->sock, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
        zmq_setsockopt(ch->sock, ZMQ_CURVE_SECRETKEY, sec, 40) != 0)
        return snprintf(err, err_len, "%s: CURVE client options: %s", ch->name, zmq_strerror(errno)), -1;
    return 0;
}

const char *vb_channel_peer_address(zmq_msg_t *m) {
    const char *a = zmq_msg_gets(m, "Peer-Address");
    return a ? a : "";
}
