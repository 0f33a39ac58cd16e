/* Channels: ZeroMQ sockets in a libuv loop. Nothing is lost to the
 * edge-triggered descriptor when sends and receives interleave, and a paused
 * reader pushes back on its writer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/net/channel.h"

enum { N_ECHO = 3000 };

typedef struct echo {
    vb_channel router, dealer;
    uv_timer_t deadline;
    int sent, echoed, received;
    bool timed_out;
} echo;

static void echo_close(echo *t) {
    vb_channel_close(&t->router);
    vb_channel_close(&t->dealer);
    uv_close((uv_handle_t *)&t->deadline, NULL);
}

/* router: answer every message at once (a send from inside a receive) */
static void router_readable(vb_channel *ch, void *ctx) {
    echo *t = ctx;
    zmq_msg_t parts[2];
    int n = vb_channel_recv(ch, parts, 2);
    if (n <= 0) return;
    cr_assert_eq(n, 2);
    cr_assert_eq(vb_channel_send(ch, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &parts[1]), 0);
    t->echoed++;
    zmq_msg_close(&parts[0]);
    zmq_msg_close(&parts[1]);
}

static void dealer_writable(vb_channel *ch, void *ctx) {
    echo *t = ctx;
    zmq_msg_t m;
    zmq_msg_init_size(&m, sizeof t->sent);
    memcpy(zmq_msg_data(&m), &t->sent, sizeof t->sent);
    int rc = vb_channel_send(ch, NULL, 0, &m);
    zmq_msg_close(&m);
    if (rc == -EAGAIN) return;
    cr_assert_eq(rc, 0);
    if (++t->sent == N_ECHO) vb_channel_want_write(ch, false);
}

static void dealer_readable(vb_channel *ch, void *ctx) {
    echo *t = ctx;
    zmq_msg_t m[1];
    int n = vb_channel_recv(ch, m, 1);
    if (n <= 0) return;
    int v;
    memcpy(&v, zmq_msg_data(&m[0]), sizeof v);
    cr_assert_eq(v, t->received, "replies out of order");
    t->received++;
    zmq_msg_close(&m[0]);
    if (t->received == N_ECHO) echo_close(t);
}

static void echo_deadline(uv_timer_t *h) {
    echo *t = h->data;
    t->timed_out = true;
    echo_close(t);
}

Test(net_channel, interleaved_sends_and_receives_lose_nothing) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    void *z = zmq_ctx_new();
    echo t = {0};
    char err[256];
    vb_channel_opts o = {.linger_ms = 0, .maxmsgsize = -1, .sndhwm = 16, .rcvhwm = 16};
    cr_assert_eq(vb_channel_open(&t.router, "router", &loop, z, ZMQ_ROUTER, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_channel_open(&t.dealer, "dealer", &loop, z, ZMQ_DEALER, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_channel_bind(&t.router, "inproc://echo", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_channel_connect(&t.dealer, "inproc://echo", err, sizeof err), 0, "%s", err);
    vb_channel_set_callbacks(&t.router, router_readable, NULL, &t);
    vb_channel_set_callbacks(&t.dealer, dealer_readable, dealer_writable, &t);
    vb_channel_want_write(&t.dealer, true);
    uv_timer_init(&loop, &t.deadline);
    t.deadline.data = &t;
    uv_timer_start(&t.deadline, echo_deadline, 10000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_not(t.timed_out, "stalled after %d sent, %d echoed, %d received", t.sent, t.echoed, t.received);
    cr_assert_eq(t.received, N_ECHO);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
    zmq_ctx_term(z);
}

typedef struct pressure {
    vb_channel push, pull;
    uv_timer_t resume, deadline;
    int sent_before_block, sent, received, total;
} pressure;

static void pressure_close(pressure *t) {
    vb_channel_close(&t->push);
    vb_channel_close(&t->pull);
    uv_close((uv_handle_t *)&t->resume, NULL);
    uv_close((uv_handle_t *)&t->deadline, NULL);
}

static void push_writable(vb_channel *ch, void *ctx) {
    pressure *t = ctx;
    zmq_msg_t m;
    zmq_msg_init_size(&m, 100);
    memset(zmq_msg_data(&m), 7, 100);
    int rc = vb_channel_send(ch, NULL, 0, &m);
    zmq_msg_close(&m);
    if (rc == -EAGAIN) return;
    cr_assert_eq(rc, 0);
    if (++t->sent == t->total) vb_channel_want_write(ch, false);
}

static void pull_readable(vb_channel *ch, void *ctx) {
    pressure *t = ctx;
    zmq_msg_t m[1];
    if (vb_channel_recv(ch, m, 1) <= 0) return;
    zmq_msg_close(&m[0]);
    if (++t->received == t->total) pressure_close(t);
}

static void resume_cb(uv_timer_t *h) {
    pressure *t = h->data;
    /* the writer is only called while the socket has room: it has stalled */
    t->sent_before_block = t->sent;
    cr_assert_eq(t->received, 0);
    vb_channel_pause(&t->pull, false);
}

static void pressure_deadline(uv_timer_t *h) { pressure_close(h->data); }

Test(net_channel, a_paused_reader_pushes_back) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    void *z = zmq_ctx_new();
    pressure t = {.total = 500};
    char err[256];
    vb_channel_opts o = {.linger_ms = 0, .maxmsgsize = -1, .sndhwm = 2, .rcvhwm = 2};
    cr_assert_eq(vb_channel_open(&t.pull, "pull", &loop, z, ZMQ_PULL, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_channel_open(&t.push, "push", &loop, z, ZMQ_PUSH, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_channel_bind(&t.pull, "inproc://pressure", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_channel_connect(&t.push, "inproc://pressure", err, sizeof err), 0, "%s", err);
    vb_channel_set_callbacks(&t.pull, pull_readable, NULL, &t);
    vb_channel_set_callbacks(&t.push, NULL, push_writable, &t);
    vb_channel_pause(&t.pull, true);
    vb_channel_want_write(&t.push, true);
    uv_timer_init(&loop, &t.resume);
    uv_timer_init(&loop, &t.deadline);
    t.resume.data = t.deadline.data = &t;
    uv_timer_start(&t.resume, resume_cb, 100, 0);
    uv_timer_start(&t.deadline, pressure_deadline, 10000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_leq(t.sent_before_block, 8, "%d messages queued past a high-water mark of 2 + 2", t.sent_before_block);
    cr_assert_gt(t.sent_before_block, 0);
    cr_assert_eq(t.received, t.total, "received %d of %d", t.received, t.total);
    cr_assert_eq(uv_loop_close(&loop), 0);
    zmq_ctx_term(z);
}
