/* chunk_wire — see chunk_wire.h. */
#include "chunk_wire.h"

#include <stdbool.h>
#include <string.h>

#include "../base/crc32c.h"

/* protobuf's wire types and the fields written here (proto/varibased.proto) */
enum { VARINT = 0, LEN = 2 };
enum { ENV_VERSION = 1, ENV_RUN_ID = 2, ENV_ACTOR_ID = 3, ENV_SEQ = 4, ENV_CHUNK = 13 };
enum { CH_POLICY_VERSION = 1, CH_ENV_SLOT = 2, CH_LENGTH = 3, CH_DATA = 4, CH_CRC = 5 };
enum { CRC_BYTES = 5 }; /* the CRC's varint, always this long */

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    for (; v >= 0x80; v >>= 7) n++;
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
    for (; v >= 0x80; v >>= 7) *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_key(uint8_t *p, unsigned field, unsigned type) { return put_varint(p, field << 3 | type); }

static uint8_t *put_bytes(uint8_t *p, unsigned field, const void *s, size_t n) {
    p = put_varint(put_key(p, field, LEN), n);
    if (n) memcpy(p, s, n);
    return p + n;
}

/* v as a varint of exactly CRC_BYTES bytes (the high groups zero) */
static uint8_t *put_varint5(uint8_t *p, uint32_t v) {
    for (int i = 0; i < CRC_BYTES - 1; i++, v >>= 7) *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

static size_t chunk_body_size(const vb_chunk *c, const vb_chunk_layout *cl) {
    size_t bytes = sizeof(float) * (size_t)cl->floats;
    return 1 + varint_size(c->version) + 1 + varint_size((uint32_t)c->slot) + 1 + varint_size((uint32_t)cl->L) + 1 +
           varint_size(bytes) + bytes + 1 + CRC_BYTES;
}

size_t vb_chunk_wire_size(const char *run_id, const char *actor_id, uint64_t seq, const vb_chunk *c,
                          const vb_chunk_layout *cl) {
    size_t run = run_id ? strlen(run_id) : 0, actor = actor_id ? strlen(actor_id) : 0, body = chunk_body_size(c, cl);
    return 1 + varint_size(VB_PROTOCOL_VERSION) + 1 + varint_size(run) + run + 1 + varint_size(actor) + actor + 1 +
           varint_size(seq) + 1 + varint_size(body) + body;
}

void vb_chunk_wire_write(const char *run_id, const char *actor_id, uint64_t seq, const vb_chunk *c,
                         const vb_chunk_layout *cl, void *dst) {
    size_t bytes = sizeof(float) * (size_t)cl->floats;
    uint8_t *p = dst;
    p = put_varint(put_key(p, ENV_VERSION, VARINT), VB_PROTOCOL_VERSION);
    p = put_bytes(p, ENV_RUN_ID, run_id, run_id ? strlen(run_id) : 0);
    p = put_bytes(p, ENV_ACTOR_ID, actor_id, actor_id ? strlen(actor_id) : 0);
    p = put_varint(put_key(p, ENV_SEQ, VARINT), seq);
    p = put_varint(put_key(p, ENV_CHUNK, LEN), chunk_body_size(c, cl));
    p = put_varint(put_key(p, CH_POLICY_VERSION, VARINT), c->version);
    p = put_varint(put_key(p, CH_ENV_SLOT, VARINT), (uint32_t)c->slot);
    p = put_varint(put_key(p, CH_LENGTH, VARINT), (uint32_t)cl->L);
    p = put_varint(put_key(p, CH_DATA, LEN), bytes);
    uint32_t crc = vb_crc32c_copy(0, p, c->data, bytes);
    put_varint5(put_key(p + bytes, CH_CRC, VARINT), crc);
}

/* ---- reading ------------------------------------------------------------ */
/* A varint of at most 10 bytes whose value fits 64 bits; -1 otherwise. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10 && *p < end; i++) {
        uint8_t b = *(*p)++;
        if (i == 9 && b > 1) return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field: its number and wire type, and a varint's value or a
 * length-delimited value's bounds; -1 when it does not parse. */
typedef struct field {
    uint64_t number, value;
    unsigned type;
    const uint8_t *at; /* LEN: the value's bytes, `value` of them */
} field;

static int get_field(const uint8_t **p, const uint8_t *end, field *f) {
    uint64_t key;
    f->at = NULL;
    if (get_varint(p, end, &key) != 0) return -1;
    f->number = key >> 3;
    f->type = (unsigned)(key & 7);
    if (f->type == VARINT) return get_varint(p, end, &f->value);
    if (f->type != LEN || get_varint(p, end, &f->value) != 0 || f->value > (uint64_t)(end - *p)) return -1;
    f->at = *p;
    *p += f->value;
    return 0;
}

/* An id field into dst: at most VB_MSG_MAX_ID printable bytes. */
static bool get_id(const field *f, char *dst) {
    if (f->type != LEN || f->value > VB_MSG_MAX_ID) return false;
    for (uint64_t i = 0; i < f->value; i++) {
        if (f->at[i] < 0x20 || f->at[i] > 0x7e) return false;
    }
    memcpy(dst, f->at, (size_t)f->value);
    dst[f->value] = '\0';
    return true;
}

/* Whether field f (a varint) fits 32 bits. */
static bool get_u32(const field *f, uint32_t *v) {
    if (f->type != VARINT || f->value > UINT32_MAX) return false;
    *v = (uint32_t)f->value;
    return true;
}

static bool get_u64(const field *f, uint64_t *v) {
    if (f->type != VARINT) return false;
    *v = f->value;
    return true;
}

/* The chunk's fields from [p, end) into c. */
static bool view_body(const uint8_t *p, const uint8_t *end, Vb__Chunk *c) {
    unsigned seen = 0;
    while (p < end) {
        field f;
        if (get_field(&p, end, &f) != 0 || f.number > 31 || (seen >> f.number & 1)) return false;
        seen |= 1u << f.number;
        bool ok;
        switch (f.number) {
        case CH_POLICY_VERSION: ok = get_u64(&f, &c->policy_version); break;
        case CH_ENV_SLOT: ok = get_u32(&f, &c->env_slot); break;
        case CH_LENGTH: ok = get_u32(&f, &c->length); break;
        case CH_CRC: ok = get_u32(&f, &c->crc32c); break;
        case CH_DATA:
            if ((ok = f.type == LEN)) {
                c->data.data = (uint8_t *)f.at;
                c->data.len = (size_t)f.value;
            }
            break;
        default: ok = false;
        }
        if (!ok) return false;
    }
    return true;
}

int vb_chunk_wire_view(const void *buf, size_t len, size_t max_len, vb_chunk_view *v) {
    if (len == 0 || len > max_len) return 1;
    *v = (vb_chunk_view){.e = VB__ENVELOPE__INIT, .c = VB__CHUNK__INIT};
    const uint8_t *p = buf, *end = p + len, *body = NULL, *body_end = NULL;
    unsigned seen = 0;
    while (p < end) {
        field f;
        if (get_field(&p, end, &f) != 0 || f.number > 31 || (seen >> f.number & 1)) return 1;
        seen |= 1u << f.number;
        bool ok;
        switch (f.number) {
        case ENV_VERSION: ok = get_u32(&f, &v->e.protocol_version); break;
        case ENV_RUN_ID: ok = get_id(&f, v->run_id); break;
        case ENV_ACTOR_ID: ok = get_id(&f, v->actor_id); break;
        case ENV_SEQ: ok = get_u64(&f, &v->e.seq); break;
        case ENV_CHUNK:
            if ((ok = f.type == LEN)) {
                body = f.at;
                body_end = f.at + f.value;
            }
            break;
        default: ok = false;
        }
        if (!ok) return 1;
    }
    if (!body || v->e.protocol_version != VB_PROTOCOL_VERSION || !view_body(body, body_end, &v->c)) return 1;
    v->e.run_id = v->run_id;
    v->e.actor_id = v->actor_id;
    v->e.body_case = VB__ENVELOPE__BODY_CHUNK;
    v->e.chunk = &v->c;
    return 0;
}
