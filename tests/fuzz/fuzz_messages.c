/* libFuzzer harness: every message decoder a peer's bytes reach.
 *
 * Input: one flags byte, then the bytes of a ZeroMQ frame. The frame goes
 * through the parse of each channel that carries it, with that channel's
 * bound (vb_msg_unpack for actors' control messages, vb_msg_unpack_borrow,
 * which reads the payload in place, for chunks and for the learner's
 * messages to actors), then
 * through the reader of its body: Register and Heartbeat checks (and the
 * statistics a heartbeat adds), chunks (vb_msg_read_chunk, then
 * vb_chunk_validate and the learner's bounds), weights (vb_msg_read_weights,
 * which refuses non-finite floats). The data channel's chunk view
 * (vb_chunk_wire_view) reads every frame first: whatever it takes, the
 * general parse must take too, as the same message (else the harness
 * aborts). With flags bit 0 the harness repairs the
 * CRC-32C a chunk carries and a weights arena's own two CRCs before reading, so mutations reach the checks behind the checksums. */
#include "fuzz_support.h"

#include "../../common/net/chunk_wire.h"
#include "../../common/net/messages.h"
#include "../../common/params/params.h"

static vb_config g_cfg;
static vb_env_spec g_spec;
static vb_model g_model;
static vb_chunk_layout g_cl;
static vb_chunk_bounds g_bounds;
static float *g_chunk, *g_params;

static void seed_envelope(const char *name, vb_msg *e) {
    void *buf;
    size_t len;
    if (vb_msg_pack(e, &buf, &len) != 0) exit(1);
    vb_fuzz_write_seed(name, 0, buf, len);
    free(buf);
}

/* One valid message of every body an actor or a learner sends. */
static void write_seeds(void) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Register r = VB__REGISTER__INIT;
    vb_msg_header(&e, NULL, NULL, 1);
    r.name = "seed";
    r.host = "host";
    r.pid = 42;
    r.instance = 7;
    e.body_case = VB__ENVELOPE__BODY_REGISTER;
    e.register_ = &r;
    seed_envelope("register", &e);
    Vb__Heartbeat h = VB__HEARTBEAT__INIT;
    Vb__TaskStats ts = VB__TASK_STATS__INIT;
    double ep[2] = {1.5, 2.5};
    ts.tasks = 2;
    ts.return_sum = 4.0;
    ts.return_sq = 8.5;
    ts.n_episode_sum = 2;
    ts.episode_sum = ep;
    h.env_steps = 100;
    h.policy_version = 3;
    h.tasks = &ts;
    vb_msg_header(&e, "0123456789abcdef", "a1-00000000000000000000000000000000", 2);
    e.body_case = VB__ENVELOPE__BODY_HEARTBEAT;
    e.heartbeat = &h;
    seed_envelope("heartbeat", &e);
    void *buf;
    size_t len;
    for (int64_t t = 0; t < g_cl.L; t++) {
        g_chunk[g_cl.q_target + t * g_cl.actions] = 1.0f;
        g_chunk[g_cl.reward + t] = g_bounds.reward_min;
    }
    g_chunk[g_cl.reset] = 1.0f;
    vb_chunk c = {.version = 1, .slot = 0, .data = g_chunk};
    if (vb_msg_pack_chunk("0123456789abcdef", "a1-00000000000000000000000000000000", 3, &c, &g_cl, &buf, &len) != 0)
        exit(1);
    vb_fuzz_write_seed("chunk", 1, buf, len);
    free(buf);
    /* the same chunk as protobuf-c writes it (its CRC's varint as short as it goes) */
    Vb__Chunk ch = VB__CHUNK__INIT;
    vb_msg_header(&e, "0123456789abcdef", "a1-00000000000000000000000000000000", 3);
    ch.policy_version = 1;
    ch.length = (uint32_t)g_cl.L;
    ch.data.data = (uint8_t *)g_chunk;
    ch.data.len = sizeof(float) * (size_t)g_cl.floats;
    ch.crc32c = vb_crc32c(0, g_chunk, ch.data.len);
    e.body_case = VB__ENVELOPE__BODY_CHUNK;
    e.chunk = &ch;
    if (vb_msg_pack(&e, &buf, &len) != 0) exit(1);
    vb_fuzz_write_seed("chunk_protobuf_c", 1, buf, len);
    free(buf);
    if (vb_msg_pack_weights("0123456789abcdef", 4, &g_model.layout, g_params, 5, &buf, &len) != 0) exit(1);
    vb_fuzz_write_seed("weights", 1, buf, len);
    free(buf);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[1024];
    vb_fuzz_config(&g_cfg, NULL);
    if (vb_env_spec_from_config(&g_cfg, &g_spec, err, sizeof err) != 0 ||
        vb_model_build_from_config(&g_model, &g_cfg, &g_spec, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz model: %s\n", err);
        exit(1);
    }
    vb_chunk_layout_init(&g_cl, &g_model, g_cfg.learner.window, true);
    vb_chunk_bounds_from_spec(&g_bounds, &g_spec);
    g_chunk = calloc((size_t)g_cl.floats, sizeof(float));
    g_params = calloc((size_t)g_model.layout.total, sizeof(float));
    if (!g_chunk || !g_params) return 1;
    if (vb_fuzz_seed_dir()) write_seeds();
    return 0;
}

static void read_chunk(Vb__Chunk *c, int repair) {
    if (repair && c->data.data && c->data.len == sizeof(float) * (size_t)g_cl.floats)
        c->crc32c = vb_crc32c(0, c->data.data, c->data.len);
    char why[256];
    if (vb_msg_read_chunk(c, &g_cl, g_cfg.env.batch, g_chunk, why, sizeof why) != 0) return;
    if (vb_chunk_validate(&g_cl, g_chunk, why, sizeof why) != 0) return;
    vb_chunk_check_bounds(&g_cl, &g_bounds, g_chunk, why, sizeof why);
}

static void read_weights(Vb__Weights *w, int repair) {
    if (repair && w->arena.data) vb_fuzz_fix_arena(w->arena.data, w->arena.len);
    char why[256];
    vb_msg_read_weights(w, &g_model.layout, g_params, why, sizeof why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int flags = data[0];
    const size_t limits[3] = {VB_MSG_MAX_CONTROL, vb_msg_chunk_max_size(&g_cl),
                              vb_msg_weights_max_size(&g_model.layout) + VB_MSG_MAX_CONFIG};
    /* a borrowed payload points into the frame, which the repairs write to */
    uint8_t *frame = malloc(size - 1 ? size - 1 : 1);
    if (!frame) return 0;
    memcpy(frame, data + 1, size - 1);
    vb_chunk_view v;
    if (vb_chunk_wire_view(frame, size - 1, limits[1], &v) == 0) {
        vb_msg *e;
        char why[256];
        if (vb_msg_unpack_borrow(frame, size - 1, limits[1], &e, why, sizeof why) != 0) abort();
        const Vb__Chunk *c = e->chunk;
        if (e->body_case != VB__ENVELOPE__BODY_CHUNK || e->protocol_version != v.e.protocol_version ||
            strcmp(e->run_id, v.run_id) || strcmp(e->actor_id, v.actor_id) || e->seq != v.e.seq ||
            c->policy_version != v.c.policy_version || c->env_slot != v.c.env_slot || c->length != v.c.length ||
            c->crc32c != v.c.crc32c || c->data.len != v.c.data.len || c->data.data != v.c.data.data)
            abort();
        vb_msg_free_borrowed(e, frame, size - 1);
        read_chunk(&v.c, flags & 1);
    }
    for (int channel = 0; channel < 3; channel++) {
        vb_msg *e;
        char why[256];
        int rc = channel == 0 ? vb_msg_unpack(frame, size - 1, limits[channel], &e, why, sizeof why)
                              : vb_msg_unpack_borrow(frame, size - 1, limits[channel], &e, why, sizeof why);
        if (rc != 0) continue;
        vb_task_stats ts;
        memset(&ts, 0, sizeof ts);
        switch (e->body_case) {
        case VB__ENVELOPE__BODY_REGISTER: vb_msg_check_register(e->register_, why, sizeof why); break;
        case VB__ENVELOPE__BODY_HEARTBEAT:
            if (vb_msg_check_heartbeat(e->heartbeat, 100.0, why, sizeof why) == 0) vb_msg_add_task_stats(&ts, e->heartbeat);
            break;
        case VB__ENVELOPE__BODY_CHUNK: read_chunk(e->chunk, flags & 1); break;
        case VB__ENVELOPE__BODY_WEIGHTS: read_weights(e->weights, flags & 1); break;
        default: break;
        }
        vb_msg_free_borrowed(e, frame, size - 1);
    }
    free(frame);
    return 0;
}
