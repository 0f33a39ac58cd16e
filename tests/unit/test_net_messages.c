/* Protocol messages: round trips, and every kind of bad input (garbage,
 * truncation, oversize, wrong version, wrong sizes, CRC, unaligned buffers)
 * refused with a reason and without touching the caller's buffers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/model/model.h"
#include "common/base/crc32c.h"
#include "common/base/rng.h"
#include "common/net/endpoint.h"
#include "common/net/messages.h"
#include "common/net/peer_log.h"
#include "support.h"
#include "common/params/params.h"

typedef struct fixture {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    float *data;
} fixture;

/* The smoke config's model and chunk layout, and one valid chunk of zeros
 * (reset at step 0 only; actions 0; log-probabilities 0). */
static void fixture_init(fixture *f) {
    char path[1024], err[512];
    vb_config_defaults(&f->cfg);
    cr_assert_eq(vb_config_load_file(&f->cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    cr_assert_eq(vb_config_set(&f->cfg, "run.algo=rl2", err, sizeof err), 0);
    cr_assert_eq(vb_env_spec_from_config(&f->cfg, &f->spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(&f->m, &f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    vb_chunk_layout_init(&f->cl, &f->m, f->cfg.learner.window, false);
    f->data = calloc((size_t)f->cl.floats, sizeof(float));
    f->data[f->cl.reset] = 1.0f;
    for (int64_t i = 0; i < f->cl.L; i++) f->data[f->cl.x + i * f->cl.in] = 0.25f * (float)i;
}

static void pack_chunk(const fixture *f, void **buf, size_t *len) {
    vb_chunk c = {.version = 7, .slot = 3, .actor = 1, .data = f->data};
    cr_assert_eq(vb_msg_pack_chunk("run1", "a1", 42, &c, &f->cl, buf, len), 0);
}

Test(net_messages, chunk_round_trip) {
    fixture f;
    fixture_init(&f);
    void *buf;
    size_t len;
    pack_chunk(&f, &buf, &len);
    cr_assert_leq(len, vb_msg_chunk_max_size(&f.cl));
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(buf, len, vb_msg_chunk_max_size(&f.cl), &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(e->protocol_version, VB_PROTOCOL_VERSION);
    cr_assert_str_eq(e->run_id, "run1");
    cr_assert_str_eq(e->actor_id, "a1");
    cr_assert_eq(e->seq, 42);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CHUNK);
    cr_assert_eq(e->chunk->policy_version, 7);
    cr_assert_eq(e->chunk->env_slot, 3);
    float *out = calloc((size_t)f.cl.floats, sizeof(float));
    cr_assert_eq(vb_msg_read_chunk(e->chunk, &f.cl, 4, out, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(out, f.data, sizeof(float) * (size_t)f.cl.floats), 0);
    cr_assert_eq(vb_chunk_validate(&f.cl, out, why, sizeof why), 0, "%s", why);
    vb_msg_free(e);
    free(out);
    free(buf);
    free(f.data);
}

Test(net_messages, unaligned_buffers_are_read_correctly) {
    fixture f;
    fixture_init(&f);
    void *buf;
    size_t len;
    pack_chunk(&f, &buf, &len);
    unsigned char *odd = malloc(len + 3);
    memcpy(odd + 3, buf, len);
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(odd + 3, len, len, &e, why, sizeof why), 0, "%s", why);
    float *out = calloc((size_t)f.cl.floats, sizeof(float));
    cr_assert_eq(vb_msg_read_chunk(e->chunk, &f.cl, 4, out, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(out, f.data, sizeof(float) * (size_t)f.cl.floats), 0);
    vb_msg_free(e);
    free(out);
    free(odd);
    free(buf);
    free(f.data);
}

Test(net_messages, every_truncation_is_refused) {
    fixture f;
    fixture_init(&f);
    void *buf;
    size_t len;
    pack_chunk(&f, &buf, &len);
    float *out = calloc((size_t)f.cl.floats, sizeof(float));
    char why[256];
    /* a prefix may still parse as an envelope (protobuf has no end marker),
     * but then the chunk inside it must be refused */
    for (size_t n = 0; n < len; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        vb_msg *e = NULL;
        why[0] = '\0';
        if (vb_msg_unpack(copy, n, len, &e, why, sizeof why) == 0) {
            if (e->body_case == VB__ENVELOPE__BODY_CHUNK) {
                cr_assert_neq(vb_msg_read_chunk(e->chunk, &f.cl, 4, out, why, sizeof why), 0,
                              "a chunk truncated to %zu of %zu bytes was accepted", n, len);
                cr_assert_neq(why[0], '\0', "no reason for %zu bytes", n);
            }
            vb_msg_free(e);
        } else {
            cr_assert_null(e);
            cr_assert_neq(why[0], '\0', "no reason for %zu bytes", n);
        }
        free(copy);
    }
    free(out);
    free(buf);
    free(f.data);
}

Test(net_messages, garbage_never_crashes_and_is_refused) {
    vb_rng r;
    vb_rng_init(&r, 1, 99);
    unsigned char buf[512];
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = 1 + vb_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)vb_rng_u32(&r);
        vb_msg *e = NULL;
        char why[256];
        if (vb_msg_unpack(buf, n, sizeof buf, &e, why, sizeof why) == 0) {
            accepted++;
            cr_assert_eq(e->protocol_version, VB_PROTOCOL_VERSION);
            cr_assert_neq(e->body_case, VB__ENVELOPE__BODY__NOT_SET);
            vb_msg_free(e);
        }
    }
    cr_assert_lt(accepted, 5, "%d random buffers parsed as valid envelopes", accepted);
}

Test(net_messages, oversized_empty_and_wrong_version_are_refused) {
    fixture f;
    fixture_init(&f);
    void *buf;
    size_t len;
    pack_chunk(&f, &buf, &len);
    vb_msg *e;
    char why[256];
    cr_assert_neq(vb_msg_unpack(buf, len, len - 1, &e, why, sizeof why), 0);
    cr_assert(strstr(why, "exceeds"), "%s", why);
    cr_assert_neq(vb_msg_unpack(buf, 0, len, &e, why, sizeof why), 0);
    free(buf);
    vb_msg m = VB__ENVELOPE__INIT;
    Vb__GetWeights g = VB__GET_WEIGHTS__INIT;
    vb_msg_header(&m, "r", "a", 1);
    m.protocol_version = VB_PROTOCOL_VERSION + 1;
    m.body_case = VB__ENVELOPE__BODY_GET_WEIGHTS;
    m.get_weights = &g;
    cr_assert_eq(vb_msg_pack(&m, &buf, &len), 0);
    cr_assert_neq(vb_msg_unpack(buf, len, 1024, &e, why, sizeof why), 0);
    char want[64];
    snprintf(want, sizeof want, "protocol version %d", VB_PROTOCOL_VERSION + 1);
    cr_assert(strstr(why, want), "%s", why);
    free(buf);
    /* no body */
    m.protocol_version = VB_PROTOCOL_VERSION;
    m.body_case = VB__ENVELOPE__BODY__NOT_SET;
    cr_assert_eq(vb_msg_pack(&m, &buf, &len), 0);
    cr_assert_neq(vb_msg_unpack(buf, len, 1024, &e, why, sizeof why), 0);
    cr_assert(strstr(why, "without a body"), "%s", why);
    free(buf);
    /* a control character in an id */
    m.body_case = VB__ENVELOPE__BODY_GET_WEIGHTS;
    m.actor_id = "a\n1";
    cr_assert_eq(vb_msg_pack(&m, &buf, &len), 0);
    cr_assert_neq(vb_msg_unpack(buf, len, 1024, &e, why, sizeof why), 0);
    cr_assert(strstr(why, "actor id"), "%s", why);
    free(buf);
    free(f.data);
}

/* A chunk whose fields do not fit the layout is refused before any copy. */
Test(net_messages, chunk_sizes_slot_length_and_crc_are_checked) {
    fixture f;
    fixture_init(&f);
    size_t bytes = sizeof(float) * (size_t)f.cl.floats;
    unsigned char *data = malloc(bytes + 8);
    memcpy(data, f.data, bytes);
    Vb__Chunk c = VB__CHUNK__INIT;
    c.length = (uint32_t)f.cl.L;
    c.env_slot = 1;
    c.data.data = data;
    c.data.len = bytes;
    c.crc32c = vb_crc32c(0, data, bytes);
    float *out = malloc(bytes);
    for (int64_t i = 0; i < f.cl.floats; i++) out[i] = -1.0f;
    char why[256];
    cr_assert_eq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0, "%s", why);
    for (int64_t i = 0; i < f.cl.floats; i++) out[i] = -1.0f;
    c.data.len = bytes - 4;
    cr_assert_neq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0);
    cr_assert(strstr(why, "bytes"), "%s", why);
    c.data.len = bytes + 4;
    cr_assert_neq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0);
    c.data.len = bytes;
    c.env_slot = 4;
    cr_assert_neq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0);
    cr_assert(strstr(why, "slot"), "%s", why);
    c.env_slot = 0;
    c.length = (uint32_t)f.cl.L + 1;
    cr_assert_neq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0);
    c.length = (uint32_t)f.cl.L;
    /* refused before the copy: out is untouched */
    for (int64_t i = 0; i < f.cl.floats; i++) cr_assert_eq(out[i], -1.0f, "a refused chunk was copied");
    /* the CRC is taken while copying: a refused chunk leaves out staged, and
     * the intact chunk read into it again is exact */
    data[5] ^= 0x40;
    cr_assert_neq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0);
    cr_assert(strstr(why, "CRC"), "%s", why);
    data[5] ^= 0x40;
    cr_assert_eq(vb_msg_read_chunk(&c, &f.cl, 4, out, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(out, data, bytes), 0);
    free(out);
    free(data);
    free(f.data);
}

Test(net_messages, weights_round_trip_and_refusals) {
    fixture f;
    fixture_init(&f);
    const vb_layout *l = &f.m.layout;
    float *P = calloc((size_t)l->total, sizeof(float)), *Q = calloc((size_t)l->total, sizeof(float));
    cr_assert_eq(vb_model_init(&f.m, P, 3), 0);
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack_weights("run1", 5, l, P, 17, &buf, &len), 0);
    cr_assert_leq(len, vb_msg_weights_max_size(l));
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(buf, len, len, &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_WEIGHTS);
    cr_assert_eq(e->weights->version, 17);
    cr_assert_eq(vb_msg_read_weights(e->weights, l, Q, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(P, Q, sizeof(float) * (size_t)l->total), 0);
    memset(Q, 0, sizeof(float) * (size_t)l->total);
    Vb__Weights *w = e->weights;
    w->layout_hash ^= 1;
    cr_assert_neq(vb_msg_read_weights(w, l, Q, why, sizeof why), 0);
    cr_assert(strstr(why, "layout"), "%s", why);
    w->layout_hash ^= 1;
    w->arena.len -= 4;
    cr_assert_neq(vb_msg_read_weights(w, l, Q, why, sizeof why), 0);
    w->arena.len += 4;
    w->arena.data[100] ^= 1; /* a payload byte */
    cr_assert_neq(vb_msg_read_weights(w, l, Q, why, sizeof why), 0);
    cr_assert(strstr(why, "payload is corrupted"), "%s", why);
    w->arena.data[100] ^= 1;
    w->arena.data[20] ^= 1; /* the header's layout hash, under the header's CRC */
    cr_assert_neq(vb_msg_read_weights(w, l, Q, why, sizeof why), 0);
    cr_assert(strstr(why, "header is corrupted"), "%s", why);
    w->arena.data[20] ^= 1;
    /* Q stages: after the refusals the same buffer takes the intact weights */
    cr_assert_eq(vb_msg_read_weights(w, l, Q, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(P, Q, sizeof(float) * (size_t)l->total), 0);
    vb_msg_free(e);
    free(buf);
    free(P);
    free(Q);
    free(f.data);
}

Test(net_messages, register_and_heartbeat_checks) {
    Vb__Register r = VB__REGISTER__INIT;
    char why[256];
    r.name = "local-0";
    r.host = "vm";
    r.device = "cpu";
    r.instance = 9;
    cr_assert_eq(vb_msg_check_register(&r, why, sizeof why), 0, "%s", why);
    r.name = "";
    cr_assert_neq(vb_msg_check_register(&r, why, sizeof why), 0);
    r.name = "bad\x01name";
    cr_assert_neq(vb_msg_check_register(&r, why, sizeof why), 0);
    r.name = "x";
    r.instance = 0;
    cr_assert_neq(vb_msg_check_register(&r, why, sizeof why), 0);

    Vb__Heartbeat h = VB__HEARTBEAT__INIT;
    Vb__TaskStats t = VB__TASK_STATS__INIT;
    double ep[65] = {0};
    cr_assert_eq(vb_msg_check_heartbeat(&h, 0, why, sizeof why), 0);
    h.tasks = &t;
    t.tasks = 2;
    t.return_sum = 3;
    t.return_sq = 5;
    t.n_episode_sum = 2;
    t.episode_sum = ep;
    ep[0] = 1;
    ep[1] = 2;
    cr_assert_eq(vb_msg_check_heartbeat(&h, 0, why, sizeof why), 0, "%s", why);
    vb_task_stats s = {0};
    vb_msg_add_task_stats(&s, &h);
    vb_msg_add_task_stats(&s, &h);
    cr_assert_eq(s.tasks, 4);
    cr_assert_float_eq(s.return_sum, 6.0, 1e-12);
    cr_assert_eq(s.episodes, 2);
    cr_assert_float_eq(s.episode_sum[1], 4.0, 1e-12);
    t.return_sum = NAN;
    cr_assert_neq(vb_msg_check_heartbeat(&h, 0, why, sizeof why), 0);
    t.return_sum = 3;
    t.n_episode_sum = 65;
    cr_assert_neq(vb_msg_check_heartbeat(&h, 0, why, sizeof why), 0);
    /* with a bound on one task's |return|: 2 tasks of at most 2 each */
    t.n_episode_sum = 2;
    cr_assert_eq(vb_msg_check_heartbeat(&h, 2.0, why, sizeof why), 0, "%s", why);
    t.return_sum = 4.5; /* more than 2 tasks can earn */
    cr_assert_neq(vb_msg_check_heartbeat(&h, 2.0, why, sizeof why), 0);
    t.return_sum = 3;
    t.return_sq = 9; /* > 2 x 2^2 */
    cr_assert_neq(vb_msg_check_heartbeat(&h, 2.0, why, sizeof why), 0);
    t.return_sq = 5;
    ep[1] = -4.5;
    cr_assert_neq(vb_msg_check_heartbeat(&h, 2.0, why, sizeof why), 0);
}

/* A chunk's contents against the bounds its env spec allows. */
Test(net_messages, chunk_bounds_come_from_the_env_spec) {
    char why[256];
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    vb_test_smoke_layout(NULL, 1, &cfg, &spec, &m, &cl);
    vb_chunk_bounds b;
    vb_chunk_bounds_from_spec(&b, &spec);
    cr_assert_float_eq(b.reward_min, -0.1f, 1e-7); /* gridworld: a miss costs 0.1, the goal pays 1 */
    cr_assert_float_eq(b.reward_max, 1.0f, 1e-7);
    float *c = calloc((size_t)cl.floats, sizeof(float));
    for (int64_t t = 0; t < cl.L; t++) {
        c[cl.reward + t] = -0.1f;
        c[cl.q_target + t * cl.actions + 1] = 1.0f;
        c[cl.v_target + t] = 3.0f;
        c[cl.logp + t] = -1.0f;
    }
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_OK, "%s", why);
    c[cl.reward + 2] = 1.5f;
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_REWARD);
    c[cl.reward + 2] = 1.0f;
    c[cl.logp + 3] = -1e30f;
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_LOG_PROB);
    c[cl.logp + 3] = -1.0f;
    c[cl.v_target + 1] = 1e6f;
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_VALUE);
    c[cl.v_target + 1] = 3.0f;
    c[cl.q_target + 4 * cl.actions] = 0.5f; /* a row summing to 1.5 */
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_Q_TARGET);
    c[cl.q_target + 4 * cl.actions + 1] = 0.5f;
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_OK, "%s", why);
    c[cl.q_target + 4 * cl.actions + 1] = -0.5f;
    c[cl.q_target + 4 * cl.actions] = 1.5f;
    cr_assert_eq(vb_chunk_check_bounds(&cl, &b, c, why, sizeof why), VB_CHUNK_Q_TARGET);
    free(c);
}

Test(net_endpoint, data_and_weights_endpoints_follow_the_control_one) {
    char d[128], w[128], why[256];
    cr_assert_eq(vb_endpoint_derive("tcp://10.0.0.2:5555", d, w, sizeof d, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(d, "tcp://10.0.0.2:5556");
    cr_assert_str_eq(w, "tcp://10.0.0.2:5557");
    cr_assert_eq(vb_endpoint_derive("tcp://*:7000", d, w, sizeof d, why, sizeof why), 0);
    cr_assert_str_eq(w, "tcp://*:7002");
    cr_assert_eq(vb_endpoint_derive("ipc:///tmp/run/learner.sock", d, w, sizeof d, why, sizeof why), 0);
    cr_assert_str_eq(d, "ipc:///tmp/run/learner.sock.data");
    cr_assert_str_eq(w, "ipc:///tmp/run/learner.sock.weights");
    cr_assert_neq(vb_endpoint_derive("tcp://h:65534", d, w, sizeof d, why, sizeof why), 0);
    cr_assert(strstr(why, "65534"), "%s", why);
    cr_assert_neq(vb_endpoint_derive("ipc:///a/very/long/path", d, w, 20, why, sizeof why), 0);
    cr_assert_neq(vb_endpoint_derive("tcp://h", d, w, sizeof d, why, sizeof why), 0);
}

Test(net_peer_log, one_line_per_peer_per_interval) {
    vb_peer_log pl;
    vb_peer_log_init(&pl, 60.0);
    int64_t held = -1;
    cr_assert(vb_peer_log_allow(&pl, "data 10.0.0.1", 0.0, &held));
    cr_assert_eq(held, 0);
    cr_assert_not(vb_peer_log_allow(&pl, "data 10.0.0.1", 1.0, &held));
    cr_assert_not(vb_peer_log_allow(&pl, "data 10.0.0.1", 59.0, &held));
    cr_assert(vb_peer_log_allow(&pl, "data 10.0.0.2", 2.0, &held), "another peer is held back");
    cr_assert(vb_peer_log_allow(&pl, "data 10.0.0.1", 60.5, &held));
    cr_assert_eq(held, 2);
    /* a full table forgets the peer logged longest ago, never refuses a new one */
    char key[32];
    for (int i = 0; i < 3 * VB_PEER_LOG_SLOTS; i++) {
        snprintf(key, sizeof key, "p%d", i);
        cr_assert(vb_peer_log_allow(&pl, key, 100.0 + i, &held));
    }
    cr_assert_not(vb_peer_log_allow(&pl, key, 101.0 + 3 * VB_PEER_LOG_SLOTS, &held));
}
