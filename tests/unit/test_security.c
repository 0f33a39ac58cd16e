/* A learner on a network it cannot trust: with learner.keys only peers
 * holding an allowed CURVE key register, subscribe or send; a registered
 * peer cannot speak for another (evict it, re-register as it, send its
 * chunks or heartbeats); a registration flood leaves room for the local
 * actors; a hostile producer flooding the ports leaves the learner's memory
 * flat and training going. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../common/net/keys.h"
#include "../../common/net/messages.h"
#include "../../common/params/params.h"
#include "support.h"
#include "test_distributed_support.h"

TestSuite(security, .init = vb_dt_setup, .fini = vb_dt_teardown, .timeout = 240);

/* The shared test learner, with a longer actor timeout and no step limit. */
static pid_t start_learner(const char *name, const char *const *sets, char log[256], char metrics[256], int *port) {
    const char *all[32] = {"actors.timeout_ms=5000", "run.total_env_steps=1000000000"};
    int n = 2;
    for (int i = 0; sets && sets[i] && n < 31; i++) all[n++] = sets[i];
    all[n] = NULL;
    char m[64];
    snprintf(m, sizeof m, "%s/metrics.jsonl", name);
    vb_dt_path("learner.log", log, 256);
    vb_dt_path(m, metrics, 256);
    *port = vb_dt_free_ports();
    return vb_dt_start_learner(name, *port, all, log);
}

/* A socket to port on 127.0.0.1; with CURVE when dir is given (its actor
 * key pair and learner.pub). */
static void *peer(void *z, int type, int port, const char *dir) {
    void *s = zmq_socket(z, type);
    int linger = 0, t = 3000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t); /* a refused peer has nowhere to send */
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (dir) {
        char path[1024], err[512], server[VB_KEY_Z85 + 1];
        vb_keypair kp;
        snprintf(path, sizeof path, "%s/actor.key", dir);
        cr_assert_eq(vb_keypair_load(path, &kp, err, sizeof err), 0, "%s", err);
        snprintf(path, sizeof path, "%s/learner.pub", dir);
        cr_assert_eq(vb_pubkey_load(path, server, err, sizeof err), 0, "%s", err);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, kp.pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp.sec, 40);
    }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    cr_assert_eq(zmq_connect(s, ep), 0);
    return s;
}

/* Whether the socket took the message (a refused peer's may not). */
static bool send_env(void *s, vb_msg *e) {
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack(e, &buf, &len), 0);
    bool sent = zmq_send(s, buf, len, 0) == (int)len;
    free(buf);
    return sent;
}

/* The next envelope, or NULL when none came within the receive timeout. */
static vb_msg *recv_env(void *s) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(zmq_msg_data(&m), zmq_msg_size(&m), (size_t)VB_MSG_MAX_FROM_LEARNER, &e, why, sizeof why),
                 0, "%s", why);
    zmq_msg_close(&m);
    return e;
}


/* Register and read Registered (+ Credit): the run and actor ids. false when
 * no answer came. */
static bool register_as(void *ctl, uint64_t instance, char *run_id, char *actor_id) {
    if (!vb_dt_send_register(ctl, instance)) return false;
    vb_msg *e = recv_env(ctl);
    if (!e) return false;
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_REGISTERED, "%s", vb_msg_body_name(e->body_case));
    snprintf(run_id, VB_MSG_MAX_ID + 1, "%s", e->run_id);
    snprintf(actor_id, VB_MSG_MAX_ID + 1, "%s", e->actor_id);
    vb_msg_free(e);
    e = recv_env(ctl);
    cr_assert_not_null(e);
    vb_msg_free(e);
    return true;
}

static void keys_for_two(char *dir, char *other, size_t len) {
    char err[512];
    vb_dt_path("keys", dir, len);
    vb_dt_path("other", other, len);
    cr_assert_eq(vb_keys_generate(dir, "learner", err, sizeof err), 0, "%s", err);
    cr_assert_eq(vb_keys_generate(other, "actor", err, sizeof err), 0, "%s", err);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s/learner.pub' '%s/'", dir, other);
    cr_assert_eq(system(cmd), 0);
}

Test(security, curve_admits_only_allowed_keys) {
    char dir[512], other[512], log[256], metrics[256], keyset[600];
    keys_for_two(dir, other, sizeof dir);
    snprintf(keyset, sizeof keyset, "learner.keys=%s", dir);
    int port;
    pid_t l = start_learner("c", (const char *[]){keyset, "actors.local=1", NULL}, log, metrics, &port);
    cr_assert(vb_dt_wait_for(log, "joined: 'local-0'", 1, 60), "the local actor did not join");
    void *z = zmq_ctx_new();
    char run_id[VB_MSG_MAX_ID + 1], actor_id[VB_MSG_MAX_ID + 1];
    /* the allowed key: registers and receives broadcasts */
    void *ok = peer(z, ZMQ_DEALER, port, dir), *oksub = peer(z, ZMQ_SUB, port + 2, dir);
    cr_assert(register_as(ok, 5, run_id, actor_id), "an allowed key was not answered");
    vb_msg *w = recv_env(oksub);
    cr_assert_not_null(w, "an allowed subscriber got no weights");
    vb_msg_free(w);
    /* another key and no key at all: no answer, no broadcast, no intake */
    void *bad = peer(z, ZMQ_DEALER, port, other), *badsub = peer(z, ZMQ_SUB, port + 2, other),
         *badpush = peer(z, ZMQ_PUSH, port + 1, other), *plain = peer(z, ZMQ_DEALER, port, NULL),
         *plainsub = peer(z, ZMQ_SUB, port + 2, NULL);
    cr_assert_not(register_as(bad, 6, run_id, actor_id), "a key not in allowed_actors registered");
    cr_assert_not(register_as(plain, 7, run_id, actor_id), "a peer without CURVE registered");
    cr_assert_null(recv_env(badsub), "a key not in allowed_actors received weights");
    cr_assert_null(recv_env(plainsub), "a peer without CURVE received weights");
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Chunk ch = VB__CHUNK__INIT;
    vb_msg_header(&e, run_id, actor_id, 3);
    e.body_case = VB__ENVELOPE__BODY_CHUNK;
    e.chunk = &ch;
    send_env(badpush, &e); /* queued on the client side; never delivered */
    cr_assert(vb_dt_wait_metric(metrics, "refused_connections", 3, 10), "refused handshakes are counted");
    cr_assert_eq(vb_dt_metric(metrics, "rejected_messages"), 0, "nothing from a refused peer reached the learner");
    cr_assert_eq(vb_dt_metric(metrics, "dropped_foreign"), 0);
    cr_assert(vb_dt_wait_metric(metrics, "failed_handshakes", 1, 10), "a peer without CURVE fails its handshake");
    char *text = vb_dt_slurp(log);
    cr_assert_eq(vb_dt_count(text, "refused a connection from 127.0.0.1 with key"), 1,
                 "a refused key is logged once per address and key\n%s", text);
    cr_assert_geq(vb_dt_count(text, "its CURVE handshake failed"), 1, "%s", text);
    free(text);
    void *socks[] = {ok, oksub, bad, badsub, badpush, plain, plainsub};
    for (size_t i = 0; i < sizeof socks / sizeof *socks; i++) zmq_close(socks[i]);
    zmq_ctx_term(z);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 20), 0);
}

static bool send_named(void *s, const char *run_id, const char *actor_id, int body) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Shutdown sd = VB__SHUTDOWN__INIT;
    Vb__Heartbeat hb = VB__HEARTBEAT__INIT;
    vb_msg_header(&e, run_id, actor_id, 9);
    e.body_case = body;
    if (body == VB__ENVELOPE__BODY_SHUTDOWN) {
        sd.reason = "evicted by an impersonator";
        e.shutdown = &sd;
    } else {
        e.heartbeat = &hb;
    }
    return send_env(s, &e);
}

Test(security, a_registered_peer_cannot_speak_for_another) {
    char dir[512], other[512], log[256], metrics[256], keyset[600], cmd[2048];
    keys_for_two(dir, other, sizeof dir);
    snprintf(cmd, sizeof cmd, "cat '%s/actor.pub' >> '%s/allowed_actors'", other, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(keyset, sizeof keyset, "learner.keys=%s", dir);
    int port;
    pid_t l = start_learner("i", (const char *[]){keyset, "actors.local=0", NULL}, log, metrics, &port);
    cr_assert(vb_dt_wait_for(log, "local actors on", 1, 60), "the learner did not start");
    void *z = zmq_ctx_new();
    void *a = peer(z, ZMQ_DEALER, port, dir), *b = peer(z, ZMQ_DEALER, port, other),
         *bpush = peer(z, ZMQ_PUSH, port + 1, other);
    char run_id[VB_MSG_MAX_ID + 1], ida[VB_MSG_MAX_ID + 1], idb[VB_MSG_MAX_ID + 1];
    cr_assert(register_as(a, 11, run_id, ida));
    cr_assert(register_as(b, 22, run_id, idb));
    cr_assert_gt(strlen(ida), 30, "actor ids carry random bits: %s", ida);
    cr_assert_str_neq(ida, idb);
    /* b, registered with its own key, names a in every way it can */
    cr_assert(send_named(b, run_id, ida, VB__ENVELOPE__BODY_SHUTDOWN));
    cr_assert(send_named(b, run_id, ida, VB__ENVELOPE__BODY_HEARTBEAT));
    cr_assert(vb_dt_send_register(b, 11)); /* a's instance: a takeover of a's registration */
    cr_assert_null(recv_env(b), "the learner answered a peer that claimed another's instance");
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Chunk ch = VB__CHUNK__INIT;
    vb_msg_header(&e, run_id, ida, 3);
    e.body_case = VB__ENVELOPE__BODY_CHUNK;
    e.chunk = &ch;
    cr_assert(send_env(bpush, &e));
    /* the sequential id of the old protocol is no actor's */
    cr_assert(send_named(b, run_id, "a1", VB__ENVELOPE__BODY_SHUTDOWN));
    cr_assert(vb_dt_wait_metric(metrics, "rejected_impostor", 4, 10), "impostor messages counted: %g",
              vb_dt_metric(metrics, "rejected_impostor"));
    /* a is still registered: its heartbeat is answered, not Reset */
    cr_assert(send_named(a, run_id, ida, VB__ENVELOPE__BODY_HEARTBEAT));
    vb_msg *r = recv_env(a);
    cr_assert_not_null(r);
    cr_assert_eq(r->body_case, VB__ENVELOPE__BODY_HEARTBEAT, "a was evicted: %s", vb_msg_body_name(r->body_case));
    vb_msg_free(r);
    cr_assert_eq(vb_dt_metric(metrics, "chunks"), 0);
    char *text = vb_dt_slurp(log);
    cr_assert_eq(vb_dt_count(text, "left: evicted"), 0, "%s", text);
    cr_assert_eq(vb_dt_count(text, ida), 0, "the secret actor id is never logged");
    free(text);
    zmq_close(a);
    zmq_close(b);
    zmq_close(bpush);
    zmq_ctx_term(z);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 20), 0);
}

/* The pid of the n-th (0-based) "joined: 'local-0' on HOST (pid N)". */
static pid_t local_pid(const char *log, int n) {
    char *text = vb_dt_slurp(log);
    const char *p = text;
    for (int i = 0; p && i <= n; i++) {
        p = strstr(p, "joined: 'local-0'");
        if (p && i < n) p++;
    }
    cr_assert_not_null(p);
    p = strstr(p, "(pid ");
    pid_t pid = (pid_t)atol(p + 5);
    free(text);
    return pid;
}

Test(security, a_registration_flood_leaves_room_for_local_actors) {
    char log[256], metrics[256];
    int port;
    pid_t l = start_learner("f", (const char *[]){"actors.local=1", "actors.max_per_host=4", NULL}, log, metrics, &port);
    cr_assert(vb_dt_wait_for(log, "joined: 'local-0'", 1, 60));
    void *z = zmq_ctx_new();
    void *ctl = peer(z, ZMQ_DEALER, port, NULL);
    for (uint64_t i = 0; i < 300; i++) cr_assert(vb_dt_send_register(ctl, 1000 + i));
    cr_assert(vb_dt_wait_metric(metrics, "refused_registrations", 296, 20), "refused: %g",
              vb_dt_metric(metrics, "refused_registrations"));
    /* the local actor, killed and restarted during the flood, gets back in */
    kill(local_pid(log, 0), SIGKILL);
    for (uint64_t i = 0; i < 300; i++) cr_assert(vb_dt_send_register(ctl, 5000 + i));
    cr_assert(vb_dt_wait_for(log, "joined: 'local-0'", 2, 60), "the restarted local actor was locked out");
    cr_assert_leq(vb_dt_metric(metrics, "actors"), 5);
    zmq_close(ctl);
    zmq_ctx_term(z);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 20), 0);
}

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = atol(line + 6);
    fclose(f);
    return kb;
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 20 control connections sending 1 MiB frames (each past the control
 * socket's limit, so its connection is dropped before the frame is
 * buffered), 8 data connections sending chunk-sized junk as fast as the
 * sockets take it, while an honest local actor trains and evaluations block
 * the learner's loop now and then. */
Test(security, a_flood_leaves_memory_flat_and_training_going) {
    char log[256], metrics[256];
    int port;
    /* under AddressSanitizer freed memory waits in a quarantine: keep none,
     * so that RSS shows what the learner holds */
    char asan[512];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0", old ? old : "",
             old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    pid_t l = start_learner("m",
                            (const char *[]){"actors.local=1", "eval.every_updates=2000", "eval.tasks=400", NULL}, log, metrics, &port);
    cr_assert(vb_dt_wait_metric(metrics, "updates", 200, 60), "no training before the flood");
    void *z = zmq_ctx_new();
    enum { CTL = 20, DATA = 8 };
    void *ctl[CTL], *data[DATA];
    for (int i = 0; i < CTL; i++) ctl[i] = peer(z, ZMQ_DEALER, port, NULL);
    for (int i = 0; i < DATA; i++) data[i] = peer(z, ZMQ_PUSH, port + 1, NULL);
    const size_t big = 1 << 20, junk = 200;
    char *buf = calloc(1, big);
    memset(buf, 0x5a, big);
    double t0 = mono();
    long rss0 = -1, rss_max = 0;
    double u0 = -1;
    long long sent = 0, tried = 0;
    long long bytes = 0;
    for (int round = 0; mono() - t0 < 12.0; round++) {
        if (round % 20 == 0)
            for (int i = 0; i < CTL; i++) {
                bool ok = zmq_send(ctl[i], buf, big, ZMQ_DONTWAIT) >= 0;
                sent += ok;
                bytes += ok ? (long long)big : 0;
            }
        for (int i = 0; i < DATA; i++)
            for (int k = 0; k < 100; k++) {
                bool ok = zmq_send(data[i], buf, junk, ZMQ_DONTWAIT) >= 0;
                sent += ok;
                bytes += ok ? (long long)junk : 0;
            }
        tried += (round % 20 == 0 ? CTL : 0) + 100 * DATA;
        if (rss0 < 0 && mono() - t0 > 2.0) {
            rss0 = rss_kb(l);
            u0 = vb_dt_metric(metrics, "updates");
        }
        long r = rss_kb(l);
        if (r > rss_max) rss_max = r;
        usleep(200);
    }
    double u1 = vb_dt_metric(metrics, "updates");
    long rss1 = rss_kb(l);
    cr_assert(vb_dt_alive(l));
    double chunks = vb_dt_metric(metrics, "chunks");
    cr_log_info("flood: %lld hostile sends tried, %lld (%.0f MB) taken by the sockets in 12 s (honest chunks taken in "
                "by the end: %g); learner RSS %ld kB after 2 s, %ld kB at the end, %ld kB peak; "
                "updates %g -> %g", tried, sent, (double)bytes / 1e6, chunks, rss0, rss1, rss_max, u0, u1);
    cr_assert_lt(rss_max - rss0, 40 * 1024, "RSS grew from %ld kB to %ld kB under the flood", rss0, rss_max);
    cr_assert_gt(u1 - u0, 200, "training stalled under the flood: %g -> %g updates", u0, u1);
    free(buf);
    for (int i = 0; i < CTL; i++) zmq_close(ctl[i]);
    for (int i = 0; i < DATA; i++) zmq_close(data[i]);
    zmq_ctx_term(z);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 20), 0);
}

/* An evaluation runs beside the loop: when its result is logged, training
 * went on while it ran (a loop that evaluates in place updates nothing
 * meanwhile), and the periodic checkpoints were written too. */
Test(security, evaluation_and_checkpoints_do_not_stall_the_loop) {
    char log[256], metrics[256], evals[256];
    vb_dt_path("e/evals.jsonl", evals, sizeof evals);
    int port;
    pid_t l = start_learner("e",
                            (const char *[]){"actors.local=1", "eval.every_updates=3000", "eval.tasks=300000",
                                             "learner.checkpoint_every=500", "eval.keep_best=true", NULL},
                            log, metrics, &port);
    cr_assert(vb_dt_wait_for(log, "eval at update 3000 ", 1, 120), "no evaluation");
    double during = vb_dt_metric(metrics, "updates");
    char *e = vb_dt_slurp(evals);
    const char *p = strstr(e, "\"eval_s\":");
    cr_assert_not_null(p, "%s", e);
    double eval_s = atof(p + 9);
    free(e);
    cr_log_info("an evaluation of %.2f s ran from update 3000; %g updates when it ended", eval_s, during);
    cr_assert_gt(eval_s, 0.5, "the evaluation is too short to show anything");
    cr_assert_gt(during, 3000 + 500, "the loop stood still during the evaluation: %g updates", during);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 60), 0);
    char path[512];
    vb_dt_path("e/checkpoints/best.vbc", path, sizeof path);
    cr_assert_eq(access(path, F_OK), 0, "the evaluation kept its weights as best.vbc");
    vb_dt_path("e/checkpoints/latest", path, sizeof path);
    cr_assert_eq(access(path, F_OK), 0);
}

/* The actor's sockets take no message larger than the largest legal one:
 * before registration that is Registered (the config), so a fake learner
 * that answers a Register with 4 MiB loses its connection. */
Test(security, an_actor_refuses_oversized_messages) {
    int port = vb_dt_free_ports();
    void *z = zmq_ctx_new();
    void *router = zmq_socket(z, ZMQ_ROUTER);
    int linger = 0, t = 5000;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &t, sizeof t);
    char ep[64], log[256];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    cr_assert_eq(zmq_bind(router, ep), 0);
    cr_assert_eq(zmq_socket_monitor(router, "inproc://mon", ZMQ_EVENT_DISCONNECTED), 0);
    void *mon = zmq_socket(z, ZMQ_PAIR);
    zmq_setsockopt(mon, ZMQ_RCVTIMEO, &t, sizeof t);
    cr_assert_eq(zmq_connect(mon, "inproc://mon"), 0);
    pid_t a = vb_dt_spawn("actor", (const char *[]){"--learner", ep, NULL}, vb_dt_path("actor.log", log, sizeof log));
    char rid[256], frame[4096];
    int n = zmq_recv(router, rid, sizeof rid, 0);
    cr_assert_gt(n, 0, "no Register from the actor");
    cr_assert_geq(zmq_recv(router, frame, sizeof frame, 0), 0);
    const size_t big = 4 << 20;
    char *junk = calloc(1, big);
    cr_assert_eq(zmq_send(router, rid, (size_t)n, ZMQ_SNDMORE), n);
    cr_assert_eq(zmq_send(router, junk, big, 0), (int)big);
    free(junk);
    uint8_t ev[6];
    cr_assert_geq(zmq_recv(mon, ev, sizeof ev, 0), 6, "the actor kept a connection that sent it 4 MiB");
    uint16_t event;
    memcpy(&event, ev, 2);
    cr_assert_eq(event, ZMQ_EVENT_DISCONNECTED);
    char tail[256];
    zmq_recv(mon, tail, sizeof tail, 0);
    kill(a, SIGTERM);
    cr_assert_eq(vb_dt_wait(a, 10), 0);
    zmq_close(mon);
    zmq_close(router);
    zmq_ctx_term(z);
}

static bool send_zero_chunk(void *push, const char *run_id, const char *actor_id, uint64_t version,
                            const vb_chunk_layout *cl) {
    float *zero = calloc((size_t)cl->floats, sizeof(float));
    vb_chunk c = {.version = version, .slot = 0, .data = zero};
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack_chunk(run_id, actor_id, 1, &c, cl, &buf, &len), 0);
    bool sent = zmq_send(push, buf, len, 0) == (int)len;
    free(buf);
    free(zero);
    return sent;
}

/* The policy version a chunk claims must be one the learner sent (the first
 * it published, or a multiple of learner.publish_every since) and must not go
 * back: a peer cannot pass old data off as fresh. */
Test(security, chunks_claim_only_versions_the_learner_sent) {
    char log[256], metrics[256];
    int port;
    pid_t l = start_learner("v", (const char *[]){"actors.local=1", "learner.publish_every=10", NULL}, log, metrics, &port);
    cr_assert(vb_dt_wait_metric(metrics, "updates", 100, 60));
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    vb_test_smoke_layout("rl2", 0, &cfg, &spec, &m, &cl);
    void *z = zmq_ctx_new();
    void *ctl = peer(z, ZMQ_DEALER, port, NULL), *push = peer(z, ZMQ_PUSH, port + 1, NULL);
    char run_id[VB_MSG_MAX_ID + 1], id[VB_MSG_MAX_ID + 1];
    cr_assert(register_as(ctl, 99, run_id, id));
    double before = vb_dt_metric(metrics, "rejected_chunk_version");
    cr_assert(send_zero_chunk(push, run_id, id, 17, &cl)); /* never published */
    cr_assert(vb_dt_wait_metric(metrics, "rejected_chunk_version", before + 1, 10));
    cr_assert(send_zero_chunk(push, run_id, id, 50, &cl)); /* published: taken in */
    cr_assert(send_zero_chunk(push, run_id, id, 40, &cl)); /* older than the last: refused */
    cr_assert(vb_dt_wait_metric(metrics, "rejected_chunk_version", before + 2, 10));
    zmq_close(ctl);
    zmq_close(push);
    zmq_ctx_term(z);
    kill(l, SIGTERM);
    cr_assert_eq(vb_dt_wait(l, 20), 0);
    char *text = vb_dt_slurp(log);
    cr_assert(strstr(text, "claims policy version 17, which this learner never sent"), "%s", text);
    free(text);
}

/* learner --keygen writes the pairs (secret files 0600) and never overwrites
 * them; a bind beyond loopback without keys is refused unless --insecure;
 * keys that do not load are a configuration error naming the file. */
Test(security, keygen_and_the_bind_policy) {
    char dir[512], cfg[1024], rootset[256], portset[64], keyset[600], path[1024];
    vb_dt_path("k", dir, sizeof dir);
    vb_test_proc p;
    vb_test_run(&p, "learner", (const char *[]){"--keygen", dir, NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    vb_test_proc_free(&p);
    const char *files[] = {"learner.key", "learner.pub", "actor.key", "actor.pub", "allowed_actors"};
    for (int i = 0; i < 5; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        cr_assert_eq(stat(path, &st), 0, "%s", path);
        if (strstr(files[i], ".key")) cr_assert_eq(st.st_mode & 0777, 0600, "%s is %o", path, st.st_mode & 0777);
    }
    vb_test_run(&p, "learner", (const char *[]){"--keygen", dir, NULL});
    cr_assert_neq(p.status, 0);
    cr_assert(strstr(p.err, "never overwritten"), "%s", p.err);
    vb_test_proc_free(&p);
    vb_test_path("configs/smoke.yaml", cfg, sizeof cfg);
    snprintf(rootset, sizeof rootset, "run.root=%s", vb_dt_root());
    snprintf(portset, sizeof portset, "learner.port=%d", vb_dt_free_ports());
    vb_test_run(&p, "learner", (const char *[]){"--config", cfg, "--set", rootset, "--set", portset, "--set",
                                                "learner.bind=0.0.0.0", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "--insecure"), "%s", p.err);
    vb_test_proc_free(&p);
    vb_test_run(&p, "learner", (const char *[]){"--config", cfg, "--set", rootset, "--set", portset, "--set",
                                                "learner.bind=0.0.0.0", "--set", "learner.keys=/nonexistent", NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "/nonexistent/learner.key"), "%s", p.err);
    vb_test_proc_free(&p);
    snprintf(keyset, sizeof keyset, "learner.keys=%s", dir);
    snprintf(path, sizeof path, "%s/learner.key", dir);
    cr_assert_eq(chmod(path, 0644), 0);
    vb_test_run(&p, "learner", (const char *[]){"--config", cfg, "--set", rootset, "--set", portset, "--set",
                                                "learner.bind=0.0.0.0", "--set", keyset, NULL});
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "readable by others"), "%s", p.err);
    vb_test_proc_free(&p);
    /* --insecure: it runs (and says so) */
    vb_test_run(&p, "learner", (const char *[]){"--config", cfg, "--set", rootset, "--set", portset, "--set",
                                                "learner.bind=0.0.0.0", "--set", "run.total_env_steps=200", "--set",
                                                "actors.local=1", "--insecure", NULL});
    cr_assert_eq(p.status, 0, "%s", p.err);
    cr_assert(strstr(p.err, "unauthenticated"), "%s", p.err);
    vb_test_proc_free(&p);
}
