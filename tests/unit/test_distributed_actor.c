/* ./actor --learner against a learner played by the test: the protocol seen
 * from the actor's side. The chunks it sends have exactly the layout the
 * serial learner builds and are accepted by vb_learning_insert; garbage from
 * the "learner" is survived; SIGTERM makes it leave cleanly; a learner whose
 * model the actor cannot build is refused with a clear message. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/params/params.h"
#include "common/train/learning.h"
#include "common/net/messages.h"
#include "support.h"
#include "test_distributed_support.h"

typedef struct fake {
    void *z, *router, *pull, *pub;
    unsigned char rid[256];
    size_t rid_len;
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    float *P;
    pid_t actor;
    char log[256];
} fake;

static void *bound(void *z, int type, const char *ep) {
    void *s = zmq_socket(z, type);
    int t = 10000, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(s, ep), 0, "%s: %s", ep, zmq_strerror(errno));
    return s;
}

/* The serial learner's view of the smoke config (rl2), the three sockets of
 * a learner in the test's folder, and an actor connected to them. */
static void fake_start(fake *f) {
    char path[1024], err[512], ep[3][256];
    memset(f, 0, sizeof *f);
    vb_config_defaults(&f->cfg);
    cr_assert_eq(vb_config_load_file(&f->cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    cr_assert_eq(vb_config_set(&f->cfg, "run.algo=rl2", err, sizeof err), 0);
    cr_assert_eq(vb_config_set(&f->cfg, "actors.heartbeat_ms=100", err, sizeof err), 0);
    cr_assert_eq(vb_env_spec_from_config(&f->cfg, &f->spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(&f->m, &f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    /* exactly as the serial learner (learning.c) lays out its chunks */
    vb_chunk_layout_init(&f->cl, &f->m, f->cfg.learner.window, f->cfg.run.algo == VB_ALGO_VARIBASED);
    f->P = calloc((size_t)f->m.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&f->m, f->P, 11), 0);
    snprintf(ep[0], sizeof ep[0], "ipc://%s/fake.sock", vb_dt_root());
    snprintf(ep[1], sizeof ep[1], "ipc://%s/fake.sock.data", vb_dt_root());
    snprintf(ep[2], sizeof ep[2], "ipc://%s/fake.sock.weights", vb_dt_root());
    f->z = zmq_ctx_new();
    f->router = bound(f->z, ZMQ_ROUTER, ep[0]);
    f->pull = bound(f->z, ZMQ_PULL, ep[1]);
    f->pub = bound(f->z, ZMQ_PUB, ep[2]);
    vb_dt_path("actor.log", f->log, sizeof f->log);
    f->actor = vb_dt_spawn("actor", (const char *[]){"--learner", ep[0], "--name", "under-test", NULL}, f->log);
}

static void fake_stop(fake *f) {
    zmq_close(f->router);
    zmq_close(f->pull);
    zmq_close(f->pub);
    zmq_ctx_term(f->z);
    free(f->P);
}

/* The next message from the actor on the control channel (routing id kept). */
static vb_msg *recv_ctl(fake *f) {
    zmq_msg_t id, m;
    zmq_msg_init(&id);
    zmq_msg_init(&m);
    char *log = vb_dt_slurp(f->log);
    cr_assert_geq(zmq_msg_recv(&id, f->router, 0), 0, "no message from the actor:\n%s", log);
    free(log);
    cr_assert(zmq_msg_more(&id));
    cr_assert_geq(zmq_msg_recv(&m, f->router, 0), 0);
    f->rid_len = zmq_msg_size(&id);
    memcpy(f->rid, zmq_msg_data(&id), f->rid_len);
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(zmq_msg_data(&m), zmq_msg_size(&m), VB_MSG_MAX_CONTROL, &e, why, sizeof why), 0, "%s", why);
    zmq_msg_close(&id);
    zmq_msg_close(&m);
    return e;
}

static void send_raw(fake *f, const void *buf, size_t len) {
    cr_assert_eq(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE), (int)f->rid_len);
    cr_assert_eq(zmq_send(f->router, buf, len, 0), (int)len);
}

static void send_ctl(fake *f, vb_msg *e) {
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack(e, &buf, &len), 0);
    send_raw(f, buf, len);
    free(buf);
}

static void send_registered(fake *f, uint64_t chunk_hash_xor) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Registered g = VB__REGISTERED__INIT;
    Vb__EnvSpec es = VB__ENV_SPEC__INIT;
    Vb__ModelSpec ms = VB__MODEL_SPEC__INIT;
    Vb__Credit c = VB__CREDIT__INIT;
    size_t ylen;
    char *yaml = vb_config_to_yaml(&f->cfg, &ylen);
    vb_msg_header(&e, "fakerun", "a5", 1);
    es.name = (char *)f->spec.name;
    es.obs_size = f->spec.obs_size;
    es.actions = f->spec.num_actions;
    es.episode_length = f->spec.episode_length;
    es.episodes_per_task = f->spec.episodes_per_task;
    ms.param_layout_hash = vb_layout_hash(&f->m.layout);
    ms.param_count = (uint64_t)f->m.layout.total;
    ms.chunk_layout_hash = vb_chunk_layout_hash(&f->cl) ^ chunk_hash_xor;
    ms.chunk_floats = (uint64_t)f->cl.floats;
    ms.window = (uint32_t)f->cl.L;
    g.config_yaml = yaml;
    g.env_spec = &es;
    g.model_spec = &ms;
    g.stream_id = 5;
    e.body_case = VB__ENVELOPE__BODY_REGISTERED;
    e.registered = &g;
    send_ctl(f, &e);
    free(yaml);
    vb_msg c_env = VB__ENVELOPE__INIT;
    vb_msg_header(&c_env, "fakerun", "a5", 2);
    c.consumed = 0;
    c.window = 1000;
    c_env.body_case = VB__ENVELOPE__BODY_CREDIT;
    c_env.credit = &c;
    send_ctl(f, &c_env);
}

/* Register -> Registered (each Register); GetWeights -> garbage on both
 * learner sockets, then Weights. */
static void handshake(fake *f) {
    vb_msg *e = recv_ctl(f);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_REGISTER, "%s", vb_msg_body_name(e->body_case));
    cr_assert_str_eq(e->register_->name, "under-test");
    cr_assert_neq(e->register_->instance, 0);
    cr_assert_eq(e->register_->pid, (uint32_t)f->actor);
    vb_msg_free(e);
    send_registered(f, 0);
    for (;;) { /* repeated Registers (each answered, as the learner does) may precede the GetWeights */
        e = recv_ctl(f);
        if (e->body_case != VB__ENVELOPE__BODY_REGISTER) break;
        vb_msg_free(e);
        send_registered(f, 0);
    }
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_GET_WEIGHTS, "%s", vb_msg_body_name(e->body_case));
    cr_assert_str_eq(e->run_id, "fakerun");
    cr_assert_str_eq(e->actor_id, "a5");
    vb_msg_free(e);
    /* garbage on the control socket the actor fetches its weights on (the one
     * it registered on first is replaced once the model is known) */
    send_raw(f, "\xff\xfe garbage", 10);
    cr_assert_eq(zmq_send(f->pub, "not a weights message", 21, 0), 21);
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack_weights("fakerun", 3, &f->m.layout, f->P, 3, &buf, &len), 0);
    send_raw(f, buf, len);
    free(buf);
}

Test(distributed_actor, chunks_have_the_serial_layout_and_are_accepted, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    fake f;
    fake_start(&f);
    handshake(&f);
    char err[512];
    vb_learning *l;
    vb_learning_cfg lp = vb_learning_cfg_from(&f.cfg);
    cr_assert_eq(vb_learning_create(&l, vb_backend_cpu(), &f.m, &lp, &f.spec, f.P, err, sizeof err), 0, "%s", err);
    vb_learning_set_version(l, 3);
    float *data = malloc(sizeof(float) * (size_t)f.cl.floats);
    int slots_seen = 0;
    for (int i = 0; i < 16; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        char *log = vb_dt_slurp(f.log);
        cr_assert_geq(zmq_msg_recv(&m, f.pull, 0), 0, "no chunk %d from the actor:\n%s", i, log);
        free(log);
        vb_msg *e;
        char why[256];
        cr_assert_eq(vb_msg_unpack(zmq_msg_data(&m), zmq_msg_size(&m), vb_msg_chunk_max_size(&f.cl), &e, why, sizeof why), 0,
                     "%s", why);
        cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CHUNK);
        cr_assert_str_eq(e->run_id, "fakerun");
        cr_assert_str_eq(e->actor_id, "a5");
        cr_assert_eq(e->chunk->data.len, sizeof(float) * (size_t)f.cl.floats, "chunk of %zu bytes, serial layout %lld floats",
                     e->chunk->data.len, (long long)f.cl.floats);
        cr_assert_eq(vb_msg_read_chunk(e->chunk, &f.cl, f.cfg.env.batch, data, why, sizeof why), 0, "%s", why);
        cr_assert_eq(e->chunk->policy_version, 3, "acted with weights %llu", (unsigned long long)e->chunk->policy_version);
        slots_seen |= 1 << e->chunk->env_slot;
        vb_chunk c = {.version = e->chunk->policy_version, .slot = (int32_t)e->chunk->env_slot, .data = data};
        cr_assert_eq(vb_learning_insert(l, &c, why, sizeof why), 0, "%s", why);
        vb_msg_free(e);
        zmq_msg_close(&m);
    }
    cr_assert_eq(slots_seen, (1 << f.cfg.env.batch) - 1);
    /* SIGTERM: a clean exit, and the learner hears why */
    kill(f.actor, SIGTERM);
    cr_assert_eq(vb_dt_wait(f.actor, 10), 0);
    vb_msg *e;
    do {
        e = recv_ctl(&f);
        if (e->body_case == VB__ENVELOPE__BODY_SHUTDOWN) break;
        vb_msg_free(e);
    } while (1);
    cr_assert(strstr(e->shutdown->reason, "signal"), "%s", e->shutdown->reason);
    vb_msg_free(e);
    char *log = vb_dt_slurp(f.log);
    cr_assert(strstr(log, "rejected a message from the learner"), "%s", log);
    free(log);
    free(data);
    vb_learning_destroy(l);
    fake_stop(&f);
}

Test(distributed_actor, a_learner_with_another_chunk_layout_is_refused, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    fake f;
    fake_start(&f);
    vb_msg *e = recv_ctl(&f);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_REGISTER);
    vb_msg_free(e);
    send_registered(&f, 1);
    int st = vb_dt_wait(f.actor, 10);
    char *log = vb_dt_slurp(f.log);
    cr_assert_eq(st, 1, "actor exited %d:\n%s", st, log);
    cr_assert(strstr(log, "chunk layout differs"), "%s", log);
    free(log);
    fake_stop(&f);
}

Test(distributed_actor, a_reset_sends_it_back_to_register, .init = vb_dt_setup, .fini = vb_dt_teardown) {
    fake f;
    fake_start(&f);
    handshake(&f);
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Reset r = VB__RESET__INIT;
    vb_msg_header(&e, "fakerun", "a5", 9);
    r.reason = "restarted";
    e.body_case = VB__ENVELOPE__BODY_RESET;
    e.reset = &r;
    send_ctl(&f, &e);
    for (;;) {
        vb_msg *m = recv_ctl(&f);
        int body = m->body_case;
        vb_msg_free(m);
        if (body == VB__ENVELOPE__BODY_REGISTER) break;
    }
    kill(f.actor, SIGTERM);
    cr_assert_eq(vb_dt_wait(f.actor, 10), 0);
    fake_stop(&f);
}
