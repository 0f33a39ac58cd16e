/* libFuzzer harness: every message decoder a peer's bytes reach.
 *
 * Input: one flags byte, then the bytes of a ZeroMQ frame. The frame goes
 * through vb_msg_unpack with the bound of each channel that carries it, then
 * through the reader of its body: Register and Heartbeat checks (and the
 * statistics a heartbeat adds), chunks (vb_msg_read_chunk, then
 * vb_chunk_validate and the learner's bounds), weights (vb_msg_read_weights,
 * which refuses non-finite floats). With flags bit 0 the harness repairs the
 * CRC-32C a chunk or weights message carries (and an arena's own CRCs)
 * before reading, so mutations reach the checks behind the checksums. */
#include "fuzz_support.h"

#include "../../common/net/messages.h"
#include "../../common/params/params.h"

static vb_config g_cfg;
static vb_env_spec g_spec;
static vb_model g_model;
static vb_chunk_layout g_cl;
static vb_chunk_bounds g_bounds;
static float *g_chunk, *g_params;

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
    g_chunk = malloc(sizeof(float) * (size_t)g_cl.floats);
    g_params = malloc(sizeof(float) * (size_t)g_model.layout.total);
    return g_chunk && g_params ? 0 : 1;
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
    if (repair && w->arena.data) {
        vb_fuzz_fix_arena(w->arena.data, w->arena.len);
        w->crc32c = vb_crc32c(0, w->arena.data, w->arena.len);
    }
    char why[256];
    vb_msg_read_weights(w, &g_model.layout, g_params, why, sizeof why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int flags = data[0];
    const size_t limits[3] = {VB_MSG_MAX_CONTROL, vb_msg_chunk_max_size(&g_cl),
                              vb_msg_weights_max_size(&g_model.layout) + VB_MSG_MAX_CONFIG};
    for (int channel = 0; channel < 3; channel++) {
        vb_msg *e;
        char why[256];
        if (vb_msg_unpack(data + 1, size - 1, limits[channel], &e, why, sizeof why) != 0) continue;
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
        vb_msg_free(e);
    }
    return 0;
}
