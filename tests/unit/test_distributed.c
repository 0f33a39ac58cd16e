/* The distributed learner end to end (loopback only): it trains with local
 * actors, restarts a killed actor with the current weights, resumes after a
 * kill -9 while remote actors reconnect by themselves, and drops bad input
 * on every port while it keeps training. Every wait is for a state (a log
 * line, a metric reaching a value, a process ending) with a generous limit
 * (60 s for a log line, 90-120 s where training has to progress), so a loaded machine makes them
 * slower, not red. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "common/train/acting.h"
#include "common/base/checkpoint.h"
#include "common/net/messages.h"
#include "support.h"
#include "test_distributed_support.h"
#include "common/params/params.h"


static pid_t start_actor(int port, const char *name, const char *log) {
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    return vb_dt_spawn("actor", (const char *[]){"--learner", ep, "--name", name, NULL}, log);
}

/* The value that follows `prefix` in the n-th (0-based) line holding it. */
static long long number_after(const char *text, const char *prefix, int n) {
    const char *p = text;
    for (int i = 0; i <= n; i++) {
        p = strstr(p, prefix);
        cr_assert_not_null(p, "no %d-th '%s' in:\n%s", n, prefix, text);
        p += strlen(prefix);
    }
    return strtoll(p, NULL, 10);
}

static void read_counters(const char *run, int64_t counters[6]) {
    char dir[256], err[512], chosen[4400];
    vb_dt_path(run, dir, sizeof dir);
    vb_ckpt ck;
    cr_assert_eq(vb_ckpt_load_newest(dir, &ck, chosen, sizeof chosen, NULL, err, sizeof err), 0, "%s", err);
    uint64_t len;
    const void *c = vb_ckpt_get(&ck, "counters", &len);
    cr_assert(c && len == 6 * sizeof(int64_t));
    memcpy(counters, c, 6 * sizeof(int64_t)); /* section payloads are unaligned */
    vb_ckpt_free(&ck);
}

Test(distributed, learner_and_two_local_actors_train, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], metrics[256];
    vb_dt_path("learner.log", log, sizeof log);
    vb_dt_path("t/metrics.jsonl", metrics, sizeof metrics);
    pid_t l = vb_dt_start_learner("t", vb_dt_free_ports(), (const char *[]){"actors.local=2", "run.total_env_steps=24000", NULL}, log);
    int st = vb_dt_wait(l, 120);
    char *out = vb_dt_slurp(log);
    cr_assert_eq(st, 0, "learner exited %d:\n%s", st, out);
    cr_assert_eq(vb_dt_count(out, "joined: 'local-"), 2, "%s", out);
    cr_assert_eq(vb_dt_count(out, "the learner ended the run"), 2, "the local actors did not hear the end:\n%s", out);
    /* the update and chunk counters rise from line to line */
    char *m = vb_dt_slurp(metrics);
    int lines = vb_dt_count(m, "\n");
    cr_assert_geq(lines, 2, "%s", m);
    long long u0 = number_after(m, "\"updates\":", 0), c0 = number_after(m, "\"chunks\":", 0);
    long long u1 = number_after(m, "\"updates\":", lines - 1), c1 = number_after(m, "\"chunks\":", lines - 1);
    cr_assert_lt(u0, u1, "updates %lld -> %lld", u0, u1);
    cr_assert_lt(c0, c1, "chunks %lld -> %lld", c0, c1);
    cr_assert_geq(c1 * 10, 24000, "chunks of 10 steps: %lld", c1);
    cr_assert_eq(number_after(m, "\"rejected_messages\":", lines - 1), 0);
    int64_t c[6];
    read_counters("t", c);
    cr_assert_geq(c[0], 24000);
    cr_assert_eq(c[1], u1);
    /* nothing left behind in the run folder but its files */
    char sock[256];
    cr_assert_neq(access(vb_dt_path("t/learner.sock", sock, sizeof sock), F_OK), 0, "ipc socket left behind");
    free(m);
    free(out);
}

/* run.max_wall_s ends a distributed run too: here one local actor trains
 * towards a step budget it cannot reach, and the learner stops on time, tells
 * the actor and writes its final checkpoint. */
Test(distributed, max_wall_s_ends_the_run_with_its_actors, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256];
    vb_dt_path("learner.log", log, sizeof log);
    pid_t l = vb_dt_start_learner("w", vb_dt_free_ports(),
                            (const char *[]){"actors.local=1", "run.total_env_steps=1000000000", "run.max_wall_s=3", NULL},
                            log);
    int st = vb_dt_wait(l, 60);
    char *out = vb_dt_slurp(log);
    cr_assert_eq(st, 0, "learner exited %d:\n%s", st, out);
    cr_assert_eq(vb_dt_count(out, "reached run.max_wall_s: stopping after a final checkpoint"), 1, "%s", out);
    cr_assert_eq(vb_dt_count(out, "the learner ended the run: reached run.max_wall_s"), 1, "%s", out);
    int64_t c[6];
    read_counters("w", c);
    cr_assert(c[0] > 0 && c[0] < 1000000000, "steps %lld", (long long)c[0]);
    free(out);
}

Test(distributed, a_killed_actor_is_restarted_with_current_weights, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], metrics[256];
    vb_dt_path("learner.log", log, sizeof log);
    vb_dt_path("k/metrics.jsonl", metrics, sizeof metrics);
    pid_t l = vb_dt_start_learner("k", vb_dt_free_ports(),
                            (const char *[]){"actors.local=2", "run.total_env_steps=1000000000", "learner.publish_every=5",
                                             NULL}, log);
    cr_assert(vb_dt_wait_for(log, "joined: 'local-", 2, 60));
    cr_assert(vb_dt_wait_metric(metrics, "updates", 30, 90), "no training");
    /* both actors acting before the kill, so that the third line below is the restarted one's */
    cr_assert(vb_dt_wait_for(log, "acting with weights version", 2, 60), "the actors did not both start acting");
    char *out = vb_dt_slurp(log);
    const char *at = strstr(out, "joined: 'local-0'");
    cr_assert_not_null(at);
    pid_t victim = (pid_t)number_after(at, "(pid ", 0);
    free(out);
    double updates_at_kill = vb_dt_metric(metrics, "updates");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    char expect[128];
    snprintf(expect, sizeof expect, "local actor 0 (pid %d) killed by signal 9; restarting", (int)victim);
    cr_assert(vb_dt_wait_for(log, expect, 1, 60), "the supervisor did not notice");
    cr_assert(vb_dt_wait_for(log, "joined: 'local-0'", 2, 60), "no restarted actor joined");
    const bool acted = vb_dt_wait_for(log, "acting with weights version", 3, 60);
    out = vb_dt_slurp(log);
    cr_assert(acted, "the restarted actor never acted:\n%s", out);
    long long v = number_after(out, "acting with weights version ", 2);
    cr_assert_geq((double)v, updates_at_kill - 5, "the restarted actor got weights %lld, the learner was at %g", v,
                  updates_at_kill);
    cr_assert_eq(v % 5, 0);
    free(out);
    /* the learner trains on */
    double after = vb_dt_metric(metrics, "updates");
    cr_assert(vb_dt_wait_metric(metrics, "updates", after + 30, 90), "training stopped after the kill");
    cr_assert(vb_dt_alive(l));
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 15), 0);
}

Test(distributed, resume_after_kill_9_and_remote_actors_reconnect, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], log2[256], alog[2][256], metrics[256];
    vb_dt_path("learner.log", log, sizeof log);
    vb_dt_path("learner2.log", log2, sizeof log2);
    vb_dt_path("actor0.log", alog[0], sizeof alog[0]);
    vb_dt_path("actor1.log", alog[1], sizeof alog[1]);
    vb_dt_path("r/metrics.jsonl", metrics, sizeof metrics);
    int port = vb_dt_free_ports();
    pid_t l = vb_dt_start_learner("r", port,
                            (const char *[]){"actors.local=0", "run.total_env_steps=1000000000",
                                             "learner.checkpoint_every=20", NULL}, log);
    pid_t a[2] = {start_actor(port, "remote-0", alog[0]), start_actor(port, "remote-1", alog[1])};
    cr_assert(vb_dt_wait_for(log, "joined: 'remote-", 2, 60), "the remote actors did not join");
    if (!vb_dt_wait_metric(metrics, "updates", 60, 90)) {
        char *t = vb_dt_slurp(log), *t0 = vb_dt_slurp(alog[0]), *t1 = vb_dt_slurp(alog[1]);
        cr_assert_fail("no training:\n%s\n%s\n%s", t, t0, t1);
    }
    /* periodic checkpoints are written by the learner's worker thread: wait
     * for one to be on disk */
    char latest[256];
    vb_dt_path("r/checkpoints/latest", latest, sizeof latest);
    cr_assert(vb_dt_wait_for(latest, ".vbc", 1, 60), "no periodic checkpoint was written");
    cr_assert_eq(kill(l, SIGKILL), 0);
    cr_assert_eq(vb_dt_wait(l, 5), 128 + SIGKILL);
    int64_t c[6];
    read_counters("r", c);
    cr_assert_gt(c[1], 0);
    cr_assert_eq(c[1] % 20, 0, "checkpoint at %lld updates", (long long)c[1]);
    char resume[256], total[64];
    vb_dt_path("r", resume, sizeof resume);
    snprintf(total, sizeof total, "run.total_env_steps=%lld", (long long)c[0] + 100000);
    usleep(300 * 1000); /* the actors notice the silence */
    pid_t l2 = vb_dt_spawn("learner", (const char *[]){"--resume", resume, "--set", total, NULL}, log2);
    int st = vb_dt_wait(l2, 120);
    char *out = vb_dt_slurp(log2);
    cr_assert_eq(st, 0, "resumed learner exited %d:\n%s", st, out);
    char expect[128];
    snprintf(expect, sizeof expect, "at %lld env steps, %lld updates", (long long)c[0], (long long)c[1]);
    cr_assert(strstr(out, expect), "expected a resume '%s':\n%s", expect, out);
    cr_assert_eq(vb_dt_count(out, "joined: 'remote-"), 2, "the same actors did not re-register:\n%s", out);
    free(out);
    int64_t c2[6];
    read_counters("r", c2);
    cr_assert_geq(c2[0], c[0] + 100000);
    cr_assert_gt(c2[1], c[1]);
    /* the very same actor processes: they re-registered, then ended with the run */
    for (int i = 0; i < 2; i++) {
        int ast = vb_dt_wait(a[i], 10);
        char *al = vb_dt_slurp(alog[i]);
        cr_assert_eq(ast, 0, "actor %d exited %d:\n%s", i, ast, al);
        /* with the killed learner, then with the resumed one (a different run id) */
        cr_assert_eq(vb_dt_count(al, "registered with run"), 2, "%s", al);
        const char *r1 = strstr(al, "registered with run "), *r2 = strstr(r1 + 1, "registered with run ");
        cr_assert(strncmp(r1 + 20, r2 + 20, 16) != 0, "the second registration is with the resumed learner:\n%s", al);
        cr_assert(strstr(al, "the learner ended the run"), "%s", al);
        free(al);
    }
}

Test(distributed, a_silent_remote_actor_is_timed_out, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], alog[2][256], metrics[256];
    vb_dt_path("learner.log", log, sizeof log);
    vb_dt_path("actor0.log", alog[0], sizeof alog[0]);
    vb_dt_path("actor1.log", alog[1], sizeof alog[1]);
    vb_dt_path("s/metrics.jsonl", metrics, sizeof metrics);
    int port = vb_dt_free_ports();
    pid_t l = vb_dt_start_learner("s", port, (const char *[]){"actors.local=0", "run.total_env_steps=1000000000", NULL}, log);
    pid_t a[2] = {start_actor(port, "remote-0", alog[0]), start_actor(port, "remote-1", alog[1])};
    cr_assert(vb_dt_wait_for(log, "joined: 'remote-", 2, 60), "the remote actors did not join");
    cr_assert(vb_dt_wait_metric(metrics, "updates", 20, 90), "no training");
    cr_assert_eq(kill(a[0], SIGKILL), 0);
    cr_assert_eq(vb_dt_wait(a[0], 5), 128 + SIGKILL);
    /* actors.timeout_ms is 2000: gone from the table after about 2 s */
    cr_assert(vb_dt_wait_for(log, "('remote-0' on ", 1, 60), "no leave logged");
    char *out = vb_dt_slurp(log);
    cr_assert(strstr(out, "left: silent for"), "%s", out);
    free(out);
    double after = vb_dt_metric(metrics, "updates");
    cr_assert(vb_dt_wait_metric(metrics, "updates", after + 20, 90), "training stopped with one actor left");
    cr_assert_eq(vb_dt_metric(metrics, "actors"), 1);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 15), 0);
    kill(a[1], SIGTERM);
    cr_assert_eq(vb_dt_wait(a[1], 10), 0);
}

/* ---- bad input ---------------------------------------------------------------- */
static void *connect_to(void *z, int type, int port) {
    void *s = zmq_socket(z, type);
    char ep[64];
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    cr_assert_eq(zmq_connect(s, ep), 0);
    return s;
}

static void send_bytes(void *s, const void *b, size_t n, int flags) { cr_assert_eq(zmq_send(s, b, n, flags), (int)n); }

static void send_raw_tcp(int port, const char *junk, size_t n) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(write(s, junk, n), (ssize_t)n);
    usleep(50 * 1000);
    close(s);
}

static void pack(vb_msg *e, void **buf, size_t *len) { cr_assert_eq(vb_msg_pack(e, buf, len), 0); }

Test(distributed, bad_messages_on_every_port_are_counted_and_dropped, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], metrics[256];
    vb_dt_path("learner.log", log, sizeof log);
    vb_dt_path("b/metrics.jsonl", metrics, sizeof metrics);
    int port = vb_dt_free_ports();
    pid_t l = vb_dt_start_learner("b", port, (const char *[]){"actors.local=0", "run.total_env_steps=1000000000", NULL}, log);
    cr_assert(vb_dt_wait_for(log, "local actors on", 1, 60), "the learner did not start");
    /* the learner's chunk layout, to size messages around its limits */
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    vb_test_smoke_layout("rl2", 0, &cfg, &spec, &m, &cl);
    size_t chunk_max = vb_msg_chunk_max_size(&cl);

    void *z = zmq_ctx_new();
    void *ctl = connect_to(z, ZMQ_DEALER, port), *data = connect_to(z, ZMQ_PUSH, port + 1),
         *wts = connect_to(z, ZMQ_XSUB, port + 2), *big = connect_to(z, ZMQ_PUSH, port + 1),
         *bigctl = connect_to(z, ZMQ_DEALER, port);
    unsigned char garbage[100];
    memset(garbage, 0xff, sizeof garbage);
    void *buf;
    size_t len;
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Register rg = VB__REGISTER__INIT;
    vb_msg_header(&e, NULL, NULL, 1);
    rg.name = "intruder";
    rg.instance = 1;
    e.body_case = VB__ENVELOPE__BODY_REGISTER;
    e.register_ = &rg;
    pack(&e, &buf, &len);
    /* control: garbage, truncated, wrong version, three frames */
    send_bytes(ctl, garbage, sizeof garbage, 0);
    send_bytes(ctl, buf, len - 3, 0);
    unsigned char *huge = calloc(1, 3 << 20);
    free(buf);
    e.protocol_version = 9;
    pack(&e, &buf, &len);
    send_bytes(ctl, buf, len, 0);
    free(buf);
    send_bytes(ctl, "a", 1, ZMQ_SNDMORE);
    send_bytes(ctl, "b", 1, 0);
    /* data: garbage, truncated, wrong version, wrong size, two frames */
    float *floats = calloc((size_t)cl.floats, sizeof(float));
    vb_chunk ch = {.version = 0, .slot = 0, .data = floats};
    cr_assert_eq(vb_msg_pack_chunk("x", "a1", 1, &ch, &cl, &buf, &len), 0);
    send_bytes(data, garbage, sizeof garbage, 0);
    send_bytes(data, buf, len / 2, 0);
    free(buf);
    cl.floats -= 1; /* a chunk one float short */
    cr_assert_eq(vb_msg_pack_chunk("x", "a1", 1, &ch, &cl, &buf, &len), 0);
    cl.floats += 1;
    send_bytes(data, buf, len, 0);
    free(buf);
    e.protocol_version = 0;
    e.body_case = VB__ENVELOPE__BODY_REGISTER;
    pack(&e, &buf, &len);
    send_bytes(data, buf, len, 0);
    free(buf);
    send_bytes(data, "a", 1, ZMQ_SNDMORE);
    send_bytes(data, "b", 1, 0);
    /* weights: a subscription is legal, anything else is not */
    send_bytes(wts, "\x01", 1, 0);
    send_bytes(wts, "Bhello", 6, 0);
    /* not even ZeroMQ: refused by the transport, not counted; nor is a message
     * past ZMQ_MAXMSGSIZE (the largest legal message), which drops its
     * connection before it is buffered */
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02\x03";
    for (int i = 0; i < 3; i++) send_raw_tcp(port + i, junk, sizeof junk);
    send_bytes(big, huge, chunk_max + 100, 0);
    send_bytes(bigctl, huge, VB_MSG_MAX_CONTROL + 100, 0);
    free(huge);
    free(floats);
    const int expected = 4 + 5 + 1;
    cr_assert(vb_dt_wait_metric(metrics, "rejected_messages", expected, 15), "counted %g of %d bad messages",
              vb_dt_metric(metrics, "rejected_messages"), expected);
    cr_assert(vb_dt_alive(l), "the learner died");
    /* it still trains: a real actor joins and updates run */
    char alog[256];
    pid_t a = start_actor(port, "honest", vb_dt_path("actor.log", alog, sizeof alog));
    cr_assert(vb_dt_wait_metric(metrics, "updates", 20, 90), "no training after the bad input");
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 15), 0);
    /* a learner that stops (not finishes) leaves remote actors waiting for it */
    cr_assert(vb_dt_wait_for(alog, "the learner is stopping; registering again", 1, 60));
    kill(a, SIGTERM);
    cr_assert_eq(vb_dt_wait(a, 10), 0);
    cr_assert_eq(vb_dt_metric(metrics, "rejected_messages"), expected);
    char *out = vb_dt_slurp(log);
    /* logged once per peer per minute */
    cr_assert_eq(vb_dt_count(out, "rejected a message on the control channel"), 1, "%s", out);
    cr_assert_eq(vb_dt_count(out, "rejected a message on the data channel"), 1, "%s", out);
    cr_assert_eq(vb_dt_count(out, "rejected a message on the weights channel"), 1, "%s", out);
    free(out);
    zmq_close(ctl);
    zmq_close(data);
    zmq_close(wts);
    zmq_close(big);
    zmq_close(bigctl);
    zmq_ctx_term(z);
}

/* ---- a client that speaks the protocol itself ---------------------------------- */
static vb_msg *recv_envelope(void *s) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    cr_assert_geq(zmq_msg_recv(&m, s, 0), 0, "nothing from the learner");
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(zmq_msg_data(&m), zmq_msg_size(&m), (size_t)VB_MSG_MAX_FROM_LEARNER, &e, why, sizeof why), 0,
                 "%s", why);
    zmq_msg_close(&m);
    return e;
}


/* Registered, then the learner's Credit for this actor. */
static void expect_registration(void *ctl, char *run_id, char *actor_id, uint64_t *consumed) {
    vb_msg *e = recv_envelope(ctl);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_REGISTERED, "%s", vb_msg_body_name(e->body_case));
    snprintf(run_id, VB_MSG_MAX_ID + 1, "%s", e->run_id);
    snprintf(actor_id, VB_MSG_MAX_ID + 1, "%s", e->actor_id);
    vb_msg_free(e);
    e = recv_envelope(ctl);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CREDIT, "%s", vb_msg_body_name(e->body_case));
    *consumed = e->credit->consumed;
    vb_msg_free(e);
}

typedef struct chunk_out {
    void *push;
    const char *run_id, *actor_id;
    const vb_chunk_layout *cl;
    int sent;
} chunk_out;

static void send_chunk(const vb_chunk *c, void *ctx) {
    chunk_out *o = ctx;
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack_chunk(o->run_id, o->actor_id, 100 + (uint64_t)o->sent, c, o->cl, &buf, &len), 0);
    cr_assert_eq(zmq_send(o->push, buf, len, 0), (int)len);
    free(buf);
    o->sent++;
}

/* A Register repeated after chunks were taken in (a retry that was queued
 * while the connection was down) keeps the assignment and the credit count. */
Test(distributed, a_repeated_register_keeps_assignment_and_credit, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    char log[256], err[512];
    vb_dt_path("learner.log", log, sizeof log);
    int port = vb_dt_free_ports();
    vb_dt_start_learner("g", port, (const char *[]){"actors.local=0", "run.total_env_steps=1000000000", NULL}, log);
    cr_assert(vb_dt_wait_for(log, "local actors on", 1, 60), "the learner did not start");
    void *z = zmq_ctx_new();
    void *ctl = connect_to(z, ZMQ_DEALER, port), *push = connect_to(z, ZMQ_PUSH, port + 1);
    int t = 10000;
    zmq_setsockopt(ctl, ZMQ_RCVTIMEO, &t, sizeof t);
    char run_id[VB_MSG_MAX_ID + 1], actor_id[VB_MSG_MAX_ID + 1], run2[VB_MSG_MAX_ID + 1], actor2[VB_MSG_MAX_ID + 1];
    uint64_t consumed;
    cr_assert(vb_dt_send_register(ctl, 77));
    expect_registration(ctl, run_id, actor_id, &consumed);
    cr_assert_eq(consumed, 0);
    /* one round of real chunks, acted here with the run's model */
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    vb_test_smoke_layout("rl2", 0, &cfg, &spec, &m, &cl);
    float *P = calloc((size_t)m.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&m, P, 5), 0);
    vb_acting a;
    cr_assert_eq(vb_acting_create_from_config(&a, vb_backend_cpu(), &m, &cfg, cfg.env.batch, 1, 1000, err, sizeof err), 0, "%s", err);
    vb_acting_set_params(&a, P, 0);
    chunk_out o = {.push = push, .run_id = run_id, .actor_id = actor_id, .cl = &cl};
    for (int64_t i = 0; i < cfg.learner.window; i++) cr_assert_eq(vb_acting_step(&a, send_chunk, &o, err, sizeof err), 0);
    cr_assert_eq(o.sent, cfg.env.batch);
    for (;;) { /* a Credit per chunk taken in */
        vb_msg *e = recv_envelope(ctl);
        cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CREDIT, "%s", vb_msg_body_name(e->body_case));
        consumed = e->credit->consumed;
        vb_msg_free(e);
        if (consumed == (uint64_t)o.sent) break;
    }
    cr_assert(vb_dt_send_register(ctl, 77));
    expect_registration(ctl, run2, actor2, &consumed);
    cr_assert_str_eq(run2, run_id);
    cr_assert_str_eq(actor2, actor_id);
    cr_assert_eq(consumed, (uint64_t)o.sent, "the credit count went back to %llu", (unsigned long long)consumed);
    vb_acting_destroy(&a);
    free(P);
    zmq_close(ctl);
    zmq_close(push);
    zmq_ctx_term(z);
}
