/* channel — one ZeroMQ socket driven by a libuv loop.
 *
 * ZeroMQ exposes a socket's readiness through ZMQ_FD, which is
 * edge-triggered: it signals that ZMQ_EVENTS may have changed, and any
 * zmq_send / zmq_recv / ZMQ_EVENTS call can consume that signal. So a
 * channel never trusts the descriptor alone: whenever the descriptor fires,
 * and after every send or receive made through this API, the channel
 * re-reads ZMQ_EVENTS and calls on_readable / on_writable while the socket
 * has input (and reads are not paused) or has room (and the owner wants to
 * write). Each dispatch handles at most `budget` events; when work is left
 * (or after a send or receive) a libuv idle handle brings the channel back on
 * the next loop iteration, so the loop never blocks with input pending and
 * one busy socket cannot starve the others.
 *
 * All calls are non-blocking and belong to the loop's thread. */
#ifndef VB_CHANNEL_H
#define VB_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

typedef struct vb_channel vb_channel;
typedef void (*vb_channel_fn)(vb_channel *ch, void *ctx);

typedef struct vb_channel_opts {
    int sndhwm, rcvhwm;       /* messages; 0 keeps ZeroMQ's default (1000) */
    int64_t maxmsgsize;       /* ZMQ_MAXMSGSIZE: bigger inbound messages drop the connection; -1 none */
    int linger_ms;            /* ZMQ_LINGER: how long close waits to deliver */
    bool immediate;           /* ZMQ_IMMEDIATE: queue only on completed connections */
    bool router_mandatory;    /* ROUTER: unknown peers are an error, not a silent drop */
    int reconnect_ms;         /* ZMQ_RECONNECT_IVL (0: default) */
    int reconnect_max_ms;     /* ZMQ_RECONNECT_IVL_MAX (0: default) */
    const char *subscribe;    /* SUB: the topic ("" = everything); NULL for other types */
} vb_channel_opts;

struct vb_channel {
    void *sock;
    uv_poll_t poll;
    uv_idle_t idle;
    vb_channel_fn on_readable, on_writable;
    void *ctx;
    const char *name;        /* for messages */
    int budget;              /* events per dispatch */
    bool paused, want_write, open, in_dispatch;
    bool free_on_close;      /* vb_channel_close_free: free(ch) once both handles closed */
    int handles_closed;
};

/* A socket of `type` (ZMQ_ROUTER, ...) with options o, watched by loop. name
 * is borrowed. 0, or -1 with err. */
int vb_channel_open(vb_channel *ch, const char *name, uv_loop_t *loop, void *zctx, int type,
                    const vb_channel_opts *o, char *err, size_t err_len);
int vb_channel_bind(vb_channel *ch, const char *endpoint, char *err, size_t err_len);
int vb_channel_connect(vb_channel *ch, const char *endpoint, char *err, size_t err_len);
/* Close the handles and the socket (ZMQ_LINGER applies). Idempotent. */
void vb_channel_close(vb_channel *ch);
/* The same for a malloc'd channel, freed once libuv has closed its handles
 * (a channel's memory may not be reused before): for replacing a socket. */
void vb_channel_close_free(vb_channel *ch);

/* The callbacks: on_readable reads (at least) one message with
 * vb_channel_recv; on_writable is called while want_write is set and the
 * socket has room. Either may be NULL. */
void vb_channel_set_callbacks(vb_channel *ch, vb_channel_fn on_readable, vb_channel_fn on_writable, void *ctx);
/* Stop / resume calling on_readable (input stays queued: back-pressure). */
void vb_channel_pause(vb_channel *ch, bool paused);
void vb_channel_want_write(vb_channel *ch, bool want);
/* Re-check the socket's events on the next loop iteration. */
void vb_channel_kick(vb_channel *ch);

/* Receive one message: up to max frames into parts (initialised here).
 * Returns the frame count (> 0), max + 1 when the message had more frames
 * (the surplus is read and dropped), 0 when nothing is waiting, or -1. The
 * caller closes parts[0 .. min(count, max)). */
int vb_channel_recv(vb_channel *ch, zmq_msg_t *parts, int max);
/* Send m (preceded by a routing-id frame when id != NULL, for ROUTER).
 * 0: sent and m is empty; or a negative errno (-EAGAIN: no room now,
 * -EHOSTUNREACH: no such peer) and m is untouched. */
int vb_channel_send(vb_channel *ch, const void *id, size_t id_len, zmq_msg_t *m);
/* Send a copy of m (m stays the caller's; ZeroMQ shares the bytes). */
int vb_channel_send_copy(vb_channel *ch, const void *id, size_t id_len, zmq_msg_t *m);
/* A message owning malloc'd buf (freed by ZeroMQ when done). 0, or -1. */
int vb_channel_msg_own(zmq_msg_t *m, void *buf, size_t len);

/* CURVE for the endpoints bound or connected from now on (ZeroMQ copies a
 * socket's security options into each endpoint when it is bound or
 * connected). A server: its secret key and the ZAP domain its handshakes are
 * authenticated in. A client: the server's public key (pinned) and its own
 * pair. Keys are Z85. 0, or -1 with err. */
int vb_channel_curve_server(vb_channel *ch, const char *secret, const char *domain, char *err, size_t err_len);
int vb_channel_curve_client(vb_channel *ch, const char *server_public, const char *pub, const char *sec, char *err,
                            size_t err_len);

/* The sending peer's address of a received frame ("" when unknown). */
const char *vb_channel_peer_address(zmq_msg_t *m);

#endif
