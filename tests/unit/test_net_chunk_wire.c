/* The chunk message's own writer and reader (common/net/chunk_wire.h):
 * protobuf-c reads what the writer writes as the same message, the reader
 * reads what protobuf-c writes, and on every byte string the reader takes
 * (valid messages and thousands of mutated ones) it agrees with the general
 * parse field for field; what it does not take, the general parse decides. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/crc32c.h"
#include "common/base/rng.h"
#include "common/model/model.h"
#include "common/net/chunk_wire.h"
#include "common/net/messages.h"
#include "common/params/params.h"
#include "support.h"

typedef struct fixture {
    vb_config cfg;
    vb_env_spec spec;
    vb_model m;
    vb_chunk_layout cl;
    float *data;
    size_t max_len;
} fixture;

static void fixture_init(fixture *f) {
    vb_test_smoke_layout(NULL, 1, &f->cfg, &f->spec, &f->m, &f->cl);
    f->data = calloc((size_t)f->cl.floats, sizeof(float));
    for (int64_t i = 0; i < f->cl.floats; i++) f->data[i] = 0.25f * (float)(i % 11);
    f->max_len = vb_msg_chunk_max_size(&f->cl);
}

/* Written by chunk_wire into a buffer of exactly its size. */
static void *write_chunk(const fixture *f, const char *run, const char *actor, uint64_t seq, const vb_chunk *c,
                         size_t *len) {
    *len = vb_chunk_wire_size(run, actor, seq, c, &f->cl);
    void *buf = malloc(*len);
    vb_chunk_wire_write(run, actor, seq, c, &f->cl, buf);
    return buf;
}

/* The fields of a parsed message against what was sent. */
static void assert_chunk(const vb_msg *e, const char *run, const char *actor, uint64_t seq, const vb_chunk *c,
                         const fixture *f) {
    cr_assert_eq(e->protocol_version, VB_PROTOCOL_VERSION);
    cr_assert_str_eq(e->run_id, run ? run : "");
    cr_assert_str_eq(e->actor_id, actor ? actor : "");
    cr_assert_eq(e->seq, seq);
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CHUNK);
    const Vb__Chunk *m = e->chunk;
    size_t bytes = sizeof(float) * (size_t)f->cl.floats;
    cr_assert_eq(m->policy_version, c->version);
    cr_assert_eq(m->env_slot, (uint32_t)c->slot);
    cr_assert_eq(m->length, (uint32_t)f->cl.L);
    cr_assert_eq(m->data.len, bytes);
    cr_assert_eq(memcmp(m->data.data, c->data, bytes), 0);
    cr_assert_eq(m->crc32c, vb_crc32c(0, c->data, bytes));
}

/* The view and the general parse give the same message. */
static void assert_same(const vb_chunk_view *v, const vb_msg *e) {
    cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_CHUNK);
    cr_assert_eq(e->protocol_version, v->e.protocol_version);
    cr_assert_str_eq(e->run_id, v->e.run_id);
    cr_assert_str_eq(e->actor_id, v->e.actor_id);
    cr_assert_eq(e->seq, v->e.seq);
    cr_assert_eq(e->chunk->policy_version, v->c.policy_version);
    cr_assert_eq(e->chunk->env_slot, v->c.env_slot);
    cr_assert_eq(e->chunk->length, v->c.length);
    cr_assert_eq(e->chunk->crc32c, v->c.crc32c);
    cr_assert_eq(e->chunk->data.len, v->c.data.len);
    cr_assert_eq(e->chunk->data.data, v->c.data.data, "both read the floats in place");
}

Test(net_chunk_wire, protobuf_c_reads_what_the_writer_writes) {
    fixture f;
    fixture_init(&f);
    char longest[VB_MSG_MAX_ID + 1]; /* an id of the most bytes allowed */
    memset(longest, 'x', VB_MSG_MAX_ID);
    longest[VB_MSG_MAX_ID] = '\0';
    const struct {
        const char *run, *actor;
        uint64_t seq, version;
        int32_t slot;
    } cases[] = {{"run1", "a1", 42, 7, 3},
                 {NULL, NULL, 0, 0, 0},
                 {"r", longest, UINT64_MAX, UINT64_MAX, 63},
                 {"0123456789abcdef", "a1-0", 1ull << 35, 1, 1}};
    vb_rng rng;
    vb_rng_init(&rng, 5, 0);
    bool small_crc = false; /* the CRC's 5-byte varint with high groups of zeros */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int tries = 0; tries < 200; tries++) {
            vb_chunk c = {.version = cases[i].version, .slot = cases[i].slot, .data = f.data};
            size_t len;
            void *buf = write_chunk(&f, cases[i].run, cases[i].actor, cases[i].seq, &c, &len);
            vb_msg *e;
            char why[256];
            cr_assert_eq(vb_msg_unpack(buf, len, f.max_len, &e, why, sizeof why), 0, "%s", why);
            assert_chunk(e, cases[i].run, cases[i].actor, cases[i].seq, &c, &f);
            small_crc = small_crc || e->chunk->crc32c < (1u << 28);
            float *copy = malloc(sizeof(float) * (size_t)f.cl.floats);
            cr_assert_eq(vb_msg_read_chunk(e->chunk, &f.cl, 64, copy, why, sizeof why), 0, "%s", why);
            cr_assert_eq(memcmp(copy, f.data, sizeof(float) * (size_t)f.cl.floats), 0);
            free(copy);
            vb_msg_free(e);
            /* and the view reads it the same way */
            vb_chunk_view v;
            cr_assert_eq(vb_chunk_wire_view(buf, len, f.max_len, &v), 0);
            assert_chunk(&v.e, cases[i].run, cases[i].actor, cases[i].seq, &c, &f);
            free(buf);
            if (small_crc && tries > 0) break;
            f.data[vb_rng_u32(&rng) % (uint32_t)f.cl.floats] += 1.0f; /* another CRC */
        }
    }
    cr_assert(small_crc, "no chunk had a CRC below 2^28 (its varint padded with zero groups)");
    free(f.data);
}

Test(net_chunk_wire, the_view_reads_what_protobuf_c_writes) {
    fixture f;
    fixture_init(&f);
    /* zero fields, which protobuf-c leaves out, and non-zero ones */
    for (int k = 0; k < 2; k++) {
        vb_chunk c = {.version = k ? 9 : 0, .slot = k ? 5 : 0, .data = f.data};
        void *buf;
        size_t len;
        vb_msg e = VB__ENVELOPE__INIT;
        Vb__Chunk ch = VB__CHUNK__INIT;
        vb_msg_header(&e, k ? "run1" : NULL, k ? "a7" : NULL, k ? 77 : 0);
        ch.policy_version = c.version;
        ch.env_slot = (uint32_t)c.slot;
        ch.length = (uint32_t)f.cl.L;
        ch.data.data = (uint8_t *)f.data;
        ch.data.len = sizeof(float) * (size_t)f.cl.floats;
        ch.crc32c = vb_crc32c(0, f.data, ch.data.len);
        e.body_case = VB__ENVELOPE__BODY_CHUNK;
        e.chunk = &ch;
        cr_assert_eq(vb_msg_pack(&e, &buf, &len), 0);
        vb_chunk_view v;
        cr_assert_eq(vb_chunk_wire_view(buf, len, f.max_len, &v), 0);
        assert_chunk(&v.e, k ? "run1" : NULL, k ? "a7" : NULL, k ? 77 : 0, &c, &f);
        cr_assert_geq((const uint8_t *)v.c.data.data, (const uint8_t *)buf);
        cr_assert_leq((const uint8_t *)v.c.data.data + v.c.data.len, (const uint8_t *)buf + len);
        free(buf);
    }
    free(f.data);
}

/* An envelope packed by protobuf-c. */
static void *packed(const vb_msg *e, size_t *len) {
    void *buf;
    cr_assert_eq(vb_msg_pack(e, &buf, len), 0);
    return buf;
}

Test(net_chunk_wire, everything_else_is_left_to_the_general_parse) {
    fixture f;
    fixture_init(&f);
    vb_chunk c = {.version = 7, .slot = 3, .data = f.data};
    size_t len;
    uint8_t *good = write_chunk(&f, "run1", "a1", 42, &c, &len);
    vb_chunk_view v;
    vb_msg *e;
    char why[256];
    /* empty, oversize, every truncation */
    cr_assert_eq(vb_chunk_wire_view(good, 0, f.max_len, &v), 1);
    cr_assert_eq(vb_chunk_wire_view(good, len, len - 1, &v), 1);
    for (size_t n = 1; n < len; n++) {
        cr_assert_eq(vb_chunk_wire_view(good, n, f.max_len, &v), 1, "truncated to %zu of %zu bytes", n, len);
        cr_assert_neq(vb_msg_unpack_borrow(good, n, f.max_len, &e, why, sizeof why), 0);
    }
    /* the body or the floats with a varint's wire type (found by fuzzing) */
    const uint8_t body_varint[] = {0x08, VB_PROTOCOL_VERSION, 0x68, 0x0d},
                  data_varint[] = {0x08, VB_PROTOCOL_VERSION, 0x6a, 0x02, 0x20, 0x05};
    cr_assert_eq(vb_chunk_wire_view(body_varint, sizeof body_varint, f.max_len, &v), 1);
    cr_assert_eq(vb_chunk_wire_view(data_varint, sizeof data_varint, f.max_len, &v), 1);
    /* a repeated field (protobuf: the last wins) and an unknown one (kept):
     * the general parse takes both, the view neither */
    const uint8_t seq_again[] = {0x20, 0x05}, unknown[] = {0xf8, 0x01, 0x01};
    const struct {
        const uint8_t *b;
        size_t n;
        bool general_takes;
    } tails[] = {{seq_again, sizeof seq_again, true}, {unknown, sizeof unknown, true}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *b = malloc(len + tails[i].n);
        memcpy(b, good, len);
        memcpy(b + len, tails[i].b, tails[i].n);
        cr_assert_eq(vb_chunk_wire_view(b, len + tails[i].n, f.max_len, &v), 1);
        int rc = vb_msg_unpack_borrow(b, len + tails[i].n, f.max_len, &e, why, sizeof why);
        cr_assert_eq(rc == 0, tails[i].general_takes, "%s", why);
        if (rc == 0) vb_msg_free_borrowed(e, b, len + tails[i].n);
        free(b);
    }
    /* wrong version, another body, ids too long or unprintable: the view
     * declines and the general parse refuses each with its reason */
    vb_msg m = VB__ENVELOPE__INIT;
    Vb__Chunk ch = VB__CHUNK__INIT;
    Vb__Heartbeat hb = VB__HEARTBEAT__INIT;
    ch.data.data = (uint8_t *)f.data;
    ch.data.len = sizeof(float) * (size_t)f.cl.floats;
    char long_id[VB_MSG_MAX_ID + 2]; /* one byte too many */
    memset(long_id, 'x', VB_MSG_MAX_ID + 1);
    long_id[VB_MSG_MAX_ID + 1] = '\0';
    for (int k = 0; k < 4; k++) {
        vb_msg_header(&m, k == 2 ? long_id : "run1", k == 3 ? "a\x01" : "a1", 3);
        m.protocol_version = k == 0 ? VB_PROTOCOL_VERSION + 1 : VB_PROTOCOL_VERSION;
        m.body_case = k == 1 ? VB__ENVELOPE__BODY_HEARTBEAT : VB__ENVELOPE__BODY_CHUNK;
        if (k == 1) m.heartbeat = &hb;
        else m.chunk = &ch;
        size_t n;
        void *b = packed(&m, &n);
        cr_assert_eq(vb_chunk_wire_view(b, n, f.max_len, &v), 1, "case %d", k);
        int rc = vb_msg_unpack_borrow(b, n, f.max_len, &e, why, sizeof why);
        if (k == 1) { /* a valid heartbeat, not a chunk */
            cr_assert_eq(rc, 0, "%s", why);
            cr_assert_eq(e->body_case, VB__ENVELOPE__BODY_HEARTBEAT);
            vb_msg_free_borrowed(e, b, n);
        } else {
            cr_assert_neq(rc, 0, "case %d", k);
        }
        free(b);
    }
    free(good);
    free(f.data);
}

Test(net_chunk_wire, the_view_agrees_with_the_general_parse_on_mutated_bytes) {
    fixture f;
    fixture_init(&f);
    vb_chunk c = {.version = 300, .slot = 17, .data = f.data};
    size_t len;
    uint8_t *good = write_chunk(&f, "run-0123", "a1-0042", 123456, &c, &len);
    const size_t bytes = sizeof(float) * (size_t)f.cl.floats, head = len - bytes - 6; /* before the floats */
    uint8_t *b = malloc(len + 8);
    vb_rng rng;
    vb_rng_init(&rng, 11, 0);
    int taken = 0, declined = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(b, good, len);
        size_t n = len;
        int edits = 1 + (int)(vb_rng_u32(&rng) % 3);
        for (int k = 0; k < edits; k++) {
            uint32_t u = vb_rng_u32(&rng);
            /* mostly the header and the CRC's tail, where the structure is */
            size_t at = u & 1 || n < 7 ? (size_t)(vb_rng_u32(&rng) % (head < n ? head : n))
                                       : n - 1 - (size_t)(vb_rng_u32(&rng) % 6);
            switch ((u >> 1) % 4) {
            case 0: b[at] ^= (uint8_t)(1u << (vb_rng_u32(&rng) % 8)); break;
            case 1: b[at] = (uint8_t)vb_rng_u32(&rng); break;
            case 2: n = at + 1; break; /* truncated */
            case 3: /* a byte inserted */
                memmove(b + at + 1, b + at, n - at);
                b[at] = (uint8_t)vb_rng_u32(&rng);
                n++;
                break;
            }
            if (n > len + 4) break;
        }
        vb_chunk_view v;
        if (vb_chunk_wire_view(b, n, f.max_len, &v) != 0) {
            declined++;
            continue;
        }
        taken++;
        vb_msg *e;
        char why[256];
        cr_assert_eq(vb_msg_unpack_borrow(b, n, f.max_len, &e, why, sizeof why), 0,
                     "the view took bytes the general parse refuses: %s", why);
        assert_same(&v, e);
        vb_msg_free_borrowed(e, b, n);
    }
    /* both sides were exercised */
    cr_assert_gt(taken, 100);
    cr_assert_gt(declined, 1000);
    free(b);
    free(good);
    free(f.data);
}
