/* Messages read where they were received: vb_msg_pack_weights writes the
 * blob straight into the message (the same bytes protobuf-c packs from a
 * separate blob), and vb_msg_unpack_borrow parses chunks and weights without
 * copying their payload, accepting and refusing exactly what vb_msg_unpack
 * does, on valid messages and on thousands of corrupted ones. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/rng.h"
#include "common/model/model.h"
#include "common/net/messages.h"
#include "common/params/params.h"
#include "support.h"

typedef struct fixture {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    float *P, *chunk;
} fixture;

static void fixture_init(fixture *f) {
    char path[1024], err[512];
    vb_config_defaults(&f->cfg);
    cr_assert_eq(vb_config_load_file(&f->cfg, vb_test_path("configs/smoke.yaml", path, sizeof path), err, sizeof err), 0);
    cr_assert_eq(vb_env_spec_from_config(&f->cfg, &f->spec, err, sizeof err), 0);
    cr_assert_eq(vb_model_build_from_config(&f->m, &f->cfg, &f->spec, err, sizeof err), 0, "%s", err);
    vb_chunk_layout_init(&f->cl, &f->m, f->cfg.learner.window, true);
    f->P = calloc((size_t)f->m.layout.total, sizeof(float));
    cr_assert_eq(vb_model_init(&f->m, f->P, 3), 0);
    f->chunk = calloc((size_t)f->cl.floats, sizeof(float));
    for (int64_t i = 0; i < f->cl.floats; i++) f->chunk[i] = 0.125f * (float)(i % 13);
}

static void fixture_free(fixture *f) {
    free(f->P);
    free(f->chunk);
}

/* The weights message as it was packed before: a separate blob, then protobuf-c. */
static void pack_weights_copying(const vb_layout *l, const float *P, void **buf, size_t *len) {
    size_t blen = (size_t)vb_arena_blob_size(l);
    void *blob = malloc(blen);
    vb_arena_to_blob(l, P, blob);
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Weights w = VB__WEIGHTS__INIT;
    vb_msg_header(&e, "run1", NULL, 5);
    w.version = 17;
    w.arena.data = blob;
    w.arena.len = blen;
    w.layout_hash = vb_layout_hash(l);
    e.body_case = VB__ENVELOPE__BODY_WEIGHTS;
    e.weights = &w;
    cr_assert_eq(vb_msg_pack(&e, buf, len), 0);
    free(blob);
}

Test(net_borrow, weights_pack_in_place_gives_the_same_bytes) {
    fixture f;
    fixture_init(&f);
    void *a, *b;
    size_t alen, blen;
    cr_assert_eq(vb_msg_pack_weights("run1", 5, &f.m.layout, f.P, 17, &a, &alen), 0);
    pack_weights_copying(&f.m.layout, f.P, &b, &blen);
    cr_assert_eq(alen, blen);
    cr_assert_eq(memcmp(a, b, alen), 0, "the in-place packer changed the wire bytes");
    free(a);
    free(b);
    fixture_free(&f);
}

/* Both parses of buf: the same verdict, and when they accept, the same
 * message (packed again, byte for byte). Returns whether they accepted. */
static bool parses_agree(const void *buf, size_t len, size_t max_len) {
    vb_msg *e1 = NULL, *e2 = NULL;
    char why1[256] = "", why2[256] = "";
    int r1 = vb_msg_unpack(buf, len, max_len, &e1, why1, sizeof why1);
    int r2 = vb_msg_unpack_borrow(buf, len, max_len, &e2, why2, sizeof why2);
    cr_assert_eq(r1, r2, "copying parse %d (%s), borrowing parse %d (%s)", r1, why1, r2, why2);
    if (r1 != 0) {
        cr_assert_str_eq(why1, why2);
        return false;
    }
    cr_assert_eq(e1->body_case, e2->body_case);
    void *p1, *p2;
    size_t n1, n2;
    cr_assert_eq(vb_msg_pack(e1, &p1, &n1), 0);
    cr_assert_eq(vb_msg_pack(e2, &p2, &n2), 0);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(p1, p2, n1), 0, "the two parses read different messages");
    free(p1);
    free(p2);
    vb_msg_free(e1);
    vb_msg_free_borrowed(e2, buf, len);
    return true;
}

Test(net_borrow, payload_is_read_in_place_and_checked_as_before) {
    fixture f;
    fixture_init(&f);
    const vb_layout *l = &f.m.layout;
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack_weights("run1", 5, l, f.P, 17, &buf, &len), 0);
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack_borrow(buf, len, len, &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_WEIGHTS);
    const uint8_t *lo = buf;
    cr_assert(e->weights->arena.data > lo && e->weights->arena.data + e->weights->arena.len <= lo + len,
              "the arena was copied out of the message");
    float *Q = calloc((size_t)l->total, sizeof(float));
    cr_assert_eq(vb_msg_read_weights(e->weights, l, Q, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(Q, f.P, sizeof(float) * (size_t)l->total), 0);
    vb_msg_free_borrowed(e, buf, len);
    free(buf);

    vb_chunk c = {.version = 3, .slot = 1, .data = f.chunk};
    cr_assert_eq(vb_msg_pack_chunk("run1", "a1", 9, &c, &f.cl, &buf, &len), 0);
    cr_assert_eq(vb_msg_unpack_borrow(buf, len, vb_msg_chunk_max_size(&f.cl), &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CHUNK);
    cr_assert(e->chunk->data.data > (const uint8_t *)buf && e->chunk->data.data < (const uint8_t *)buf + len);
    float *out = calloc((size_t)f.cl.floats, sizeof(float));
    cr_assert_eq(vb_msg_read_chunk(e->chunk, &f.cl, 4, out, why, sizeof why), 0, "%s", why);
    cr_assert_eq(memcmp(out, f.chunk, sizeof(float) * (size_t)f.cl.floats), 0);
    vb_msg_free_borrowed(e, buf, len);
    free(buf);

    /* a message without a payload to borrow takes the copying parse */
    vb_msg h = VB__ENVELOPE__INIT;
    Vb__GetWeights g = VB__GET_WEIGHTS__INIT;
    vb_msg_header(&h, "run1", "a1", 2);
    g.have_version = 4;
    h.body_case = VB__ENVELOPE__BODY_GET_WEIGHTS;
    h.get_weights = &g;
    cr_assert_eq(vb_msg_pack(&h, &buf, &len), 0);
    cr_assert(parses_agree(buf, len, 1 << 20));
    free(buf);
    free(Q);
    free(out);
    fixture_free(&f);
}

/* A repeated payload or body (protobuf keeps the last bytes field and
 * merges repeated messages) is parsed as vb_msg_unpack parses it. */
Test(net_borrow, repeated_fields_parse_as_protobuf_does) {
    fixture f;
    fixture_init(&f);
    vb_chunk c = {.version = 3, .slot = 1, .data = f.chunk};
    void *buf;
    size_t len;
    cr_assert_eq(vb_msg_pack_chunk("run1", "a1", 9, &c, &f.cl, &buf, &len), 0);
    /* append a second Chunk body holding data = "abcd": 0x6a len { 0x22 4 'abcd' } */
    uint8_t *b = malloc(len + 8);
    memcpy(b, buf, len);
    const uint8_t extra[] = {0x6a, 6, 0x22, 4, 'a', 'b', 'c', 'd'};
    memcpy(b + len, extra, sizeof extra);
    cr_assert(parses_agree(b, len + sizeof extra, 1 << 20));
    /* and a payload field twice inside one body */
    vb_msg *e;
    char why[256];
    cr_assert_eq(vb_msg_unpack(b, len + sizeof extra, 1 << 20, &e, why, sizeof why), 0, "%s", why);
    cr_assert_eq(e->chunk->data.len, 4, "protobuf keeps the last bytes field");
    vb_msg_free(e);
    free(b);
    free(buf);
    fixture_free(&f);
}

/* Thousands of corrupted chunk and weights messages (bytes flipped, set,
 * cut short): the two parses always agree. */
Test(net_borrow, corrupted_messages_get_the_same_verdict) {
    fixture f;
    fixture_init(&f);
    void *bufs[2];
    size_t lens[2];
    vb_chunk c = {.version = 3, .slot = 1, .data = f.chunk};
    cr_assert_eq(vb_msg_pack_chunk("run1", "a1", 9, &c, &f.cl, &bufs[0], &lens[0]), 0);
    cr_assert_eq(vb_msg_pack_weights("run1", 5, &f.m.layout, f.P, 17, &bufs[1], &lens[1]), 0);
    vb_rng r;
    vb_rng_init(&r, 7, 0);
    int accepted = 0, refused = 0;
    for (int k = 0; k < 2; k++) {
        uint8_t *b = malloc(lens[k]);
        for (int t = 0; t < 3000; t++) {
            memcpy(b, bufs[k], lens[k]);
            size_t len = lens[k];
            /* most damage near the front, where the keys and lengths are */
            int edits = 1 + (int)(vb_rng_u32(&r) % 3);
            for (int i = 0; i < edits; i++) {
                size_t at = vb_rng_u32(&r) % (t % 2 ? 64 : len);
                if (at >= len) at = len - 1;
                uint32_t how = vb_rng_u32(&r) % 3;
                if (how == 0) b[at] ^= (uint8_t)(1u << (vb_rng_u32(&r) % 8));
                else if (how == 1) b[at] = (uint8_t)vb_rng_u32(&r);
                else len = at + 1;
            }
            if (parses_agree(b, len, lens[k])) accepted++;
            else refused++;
        }
        free(b);
        free(bufs[k]);
    }
    cr_log_info("borrowing parse: %d corrupted messages accepted alike, %d refused alike", accepted, refused);
    cr_assert_gt(accepted, 0);
    cr_assert_gt(refused, 0);
    fixture_free(&f);
}
