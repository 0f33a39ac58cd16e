/* messages — see messages.h. */
#include "messages.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/crc32c.h"
#include "chunk_wire.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the wire format carries little-endian floats; this host is not little-endian"
#endif

/* Room for the envelope header, tags and length prefixes around a payload. */
enum { ENVELOPE_OVERHEAD = 2 * VB_MSG_MAX_ID + 256 };

void vb_msg_header(vb_msg *e, const char *run_id, const char *actor_id, uint64_t seq) {
    e->protocol_version = VB_PROTOCOL_VERSION;
    e->run_id = (char *)(run_id ? run_id : "");
    e->actor_id = (char *)(actor_id ? actor_id : "");
    e->seq = seq;
}

int vb_msg_pack(const vb_msg *e, void **buf, size_t *len) {
    size_t n = vb__envelope__get_packed_size(e);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return -1;
    *len = vb__envelope__pack(e, b);
    *buf = b;
    return 0;
}

int vb_msg_printable(const char *s, size_t max) {
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= max || s[n] < 0x20 || s[n] > 0x7e) return 0;
    }
    return 1;
}

const char *vb_msg_body_name(int body_case) {
    switch (body_case) {
    case VB__ENVELOPE__BODY__NOT_SET: return "none";
    case VB__ENVELOPE__BODY_REGISTER: return "register";
    case VB__ENVELOPE__BODY_REGISTERED: return "registered";
    case VB__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
    case VB__ENVELOPE__BODY_CHUNK: return "chunk";
    case VB__ENVELOPE__BODY_WEIGHTS: return "weights";
    case VB__ENVELOPE__BODY_GET_WEIGHTS: return "get_weights";
    case VB__ENVELOPE__BODY_SHUTDOWN: return "shutdown";
    case VB__ENVELOPE__BODY_RESET: return "reset";
    default: return "unknown";
    }
}

int vb_msg_unpack(const void *buf, size_t len, size_t max_len, vb_msg **out, char *why, size_t why_len) {
    *out = NULL;
    if (len > max_len) return snprintf(why, why_len, "message of %zu bytes exceeds the limit of %zu", len, max_len), -1;
    if (len == 0) return snprintf(why, why_len, "empty message"), -1;
    vb_msg *e = vb__envelope__unpack(NULL, len, buf);
    if (!e) return snprintf(why, why_len, "malformed or truncated message (%zu bytes)", len), -1;
    const char *bad = NULL;
    if (e->protocol_version != VB_PROTOCOL_VERSION) {
        snprintf(why, why_len, "protocol version %u (this build speaks %d)", e->protocol_version,
                 VB_PROTOCOL_VERSION);
        vb__envelope__free_unpacked(e, NULL);
        return -1;
    }
    if (e->body_case == VB__ENVELOPE__BODY__NOT_SET) bad = "a message without a body";
    else if (!e->run_id || !vb_msg_printable(e->run_id, VB_MSG_MAX_ID)) bad = "a malformed run id";
    else if (!e->actor_id || !vb_msg_printable(e->actor_id, VB_MSG_MAX_ID)) bad = "a malformed actor id";
    if (bad) {
        snprintf(why, why_len, "%s", bad);
        vb__envelope__free_unpacked(e, NULL);
        return -1;
    }
    *out = e;
    return 0;
}

void vb_msg_free(vb_msg *e) {
    if (e) vb__envelope__free_unpacked(e, NULL);
}

/* ---- borrowing the payload ------------------------------------------------ */
/* Protobuf's wire format, as far as finding a field needs: varint keys and
 * values, fixed 64- and 32-bit values, length-delimited values. */
enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field at *p: its number, and where its value starts and ends
 * (for a length-delimited field, the bytes after the length). */
static int wire_field(const uint8_t **p, const uint8_t *end, uint64_t *field, int *type, const uint8_t **vstart,
                      const uint8_t **vend) {
    uint64_t key, n;
    if (wire_varint(p, end, &key) != 0) return -1;
    *field = key >> 3;
    *type = (int)(key & 7);
    *vstart = *p;
    if (*type == WIRE_VARINT) {
        if (wire_varint(p, end, &n) != 0) return -1;
        *vend = *p;
        return 0;
    }
    if (*type == WIRE_I64) n = 8;
    else if (*type == WIRE_I32) n = 4;
    else if (*type != WIRE_LEN || wire_varint(p, end, &n) != 0) return -1;
    if (n > (uint64_t)(end - *p)) return -1;
    *vstart = *p;
    *p += n;
    *vend = *p;
    return 0;
}

static size_t wire_put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    for (; v >= 0x80; v >>= 7) p[n++] = (uint8_t)(v | 0x80);
    p[n++] = (uint8_t)v;
    return n;
}

/* The body of a chunk or weights message and its bytes field. */
static ProtobufCBinaryData *borrowed_field(vb_msg *e) {
    if (e->body_case == VB__ENVELOPE__BODY_CHUNK) return &e->chunk->data;
    if (e->body_case == VB__ENVELOPE__BODY_WEIGHTS) return &e->weights->arena;
    return NULL;
}

/* The one length-delimited field `field` of [p, end): its key's start and
 * its value; 0 when it occurs once, 1 when it does not occur, -1 when it
 * occurs more than once or the bytes do not parse. */
static int wire_find_once(const uint8_t *p, const uint8_t *end, uint64_t field, const uint8_t **key,
                          const uint8_t **vstart, const uint8_t **vend) {
    int found = 0;
    while (p < end) {
        const uint8_t *k = p, *vs, *ve;
        uint64_t f;
        int type;
        if (wire_field(&p, end, &f, &type, &vs, &ve) != 0) return -1;
        if (f != field) continue;
        if (type != WIRE_LEN || found++) return -1;
        *key = k;
        *vstart = vs;
        *vend = ve;
    }
    return found ? 0 : 1;
}

int vb_msg_unpack_borrow(const void *buf, size_t len, size_t max_len, vb_msg **out, char *why, size_t why_len) {
    static const struct {
        uint64_t body, bytes;
    } borrowable[] = {{VB__ENVELOPE__BODY_CHUNK, 4}, {VB__ENVELOPE__BODY_WEIGHTS, 3}};
    *out = NULL;
    if (len > max_len || len == 0) return vb_msg_unpack(buf, len, max_len, out, why, why_len);
    const uint8_t *b = buf, *end = b + len;
    const uint8_t *bkey = NULL, *bs = NULL, *be = NULL, *fkey = NULL, *fs = NULL, *fe = NULL;
    size_t which = 0;
    for (; which < 2; which++) {
        int rc = wire_find_once(b, end, borrowable[which].body, &bkey, &bs, &be);
        if (rc < 0) return vb_msg_unpack(buf, len, max_len, out, why, why_len);
        if (rc == 0) break;
    }
    /* no chunk or weights body, a repeated one (protobuf merges those), or a
     * payload absent or repeated: the copying parse decides */
    if (which == 2 || wire_find_once(bs, be, borrowable[which].bytes, &fkey, &fs, &fe) != 0)
        return vb_msg_unpack(buf, len, max_len, out, why, why_len);
    /* the message without the payload field: before the body, the body's key
     * and shorter length, the body's other fields, after the body */
    size_t inner = (size_t)(be - bs) - (size_t)(fe - fkey), skel_cap = len - (size_t)(fe - fs) + 16;
    uint8_t small[1024], *skel = skel_cap <= sizeof small ? small : malloc(skel_cap);
    if (!skel) return snprintf(why, why_len, "out of memory parsing a message of %zu bytes", len), -1;
    uint8_t *q = skel;
    memcpy(q, b, (size_t)(bkey - b));
    q += bkey - b;
    q += wire_put_varint(q, borrowable[which].body << 3 | WIRE_LEN);
    q += wire_put_varint(q, inner);
    memcpy(q, bs, (size_t)(fkey - bs));
    q += fkey - bs;
    memcpy(q, fe, (size_t)(be - fe));
    q += be - fe;
    memcpy(q, be, (size_t)(end - be));
    q += end - be;
    int rc = vb_msg_unpack(skel, (size_t)(q - skel), max_len, out, why, why_len);
    if (skel != small) free(skel);
    /* refused: the copying parse says why, in the message's own terms */
    if (rc != 0) return vb_msg_unpack(buf, len, max_len, out, why, why_len);
    if ((uint64_t)(*out)->body_case == borrowable[which].body) {
        ProtobufCBinaryData *d = borrowed_field(*out);
        d->data = (uint8_t *)fs;
        d->len = (size_t)(fe - fs);
    }
    return 0;
}

void vb_msg_free_borrowed(vb_msg *e, const void *buf, size_t len) {
    if (!e) return;
    ProtobufCBinaryData *d = borrowed_field(e);
    uintptr_t at = d ? (uintptr_t)d->data : 0, lo = (uintptr_t)buf;
    if (d && at >= lo && at < lo + len) {
        d->data = NULL;
        d->len = 0;
    }
    vb_msg_free(e);
}

int vb_msg_check_register(const Vb__Register *r, char *why, size_t why_len) {
    if (!r->name || !r->name[0] || !vb_msg_printable(r->name, VB_MSG_MAX_NAME))
        return snprintf(why, why_len, "register: name must be 1..%d printable bytes", VB_MSG_MAX_NAME), -1;
    if (!r->host || !vb_msg_printable(r->host, VB_MSG_MAX_HOST))
        return snprintf(why, why_len, "register: malformed host"), -1;
    if (!r->device || !vb_msg_printable(r->device, VB_MSG_MAX_NAME))
        return snprintf(why, why_len, "register: malformed device"), -1;
    if (r->instance == 0) return snprintf(why, why_len, "register: no instance id"), -1;
    return 0;
}

int vb_msg_check_heartbeat(const Vb__Heartbeat *h, double return_abs_max, char *why, size_t why_len) {
    const Vb__TaskStats *t = h->tasks;
    if (!t) return 0;
    if (t->tasks > ((uint64_t)1 << 40)) return snprintf(why, why_len, "heartbeat: %llu tasks", (unsigned long long)t->tasks), -1;
    if (!isfinite(t->return_sum) || !isfinite(t->return_sq) || t->return_sq < 0)
        return snprintf(why, why_len, "heartbeat: non-finite return statistics"), -1;
    if (t->n_episode_sum > VB_MSG_MAX_EPISODES)
        return snprintf(why, why_len, "heartbeat: %zu episode sums (at most %d)", t->n_episode_sum, VB_MSG_MAX_EPISODES), -1;
    for (size_t i = 0; i < t->n_episode_sum; i++) {
        if (!isfinite(t->episode_sum[i])) return snprintf(why, why_len, "heartbeat: non-finite episode sum"), -1;
    }
    if (t->tasks == 0 && (t->return_sum != 0 || t->n_episode_sum != 0))
        return snprintf(why, why_len, "heartbeat: returns without tasks"), -1;
    if (return_abs_max > 0) {
        /* each task's return (and each episode's share of it) lies in
         * [-max, max]: the sums are bounded by tasks x max, the squares by
         * tasks x max^2 (with rounding room) */
        const double n = (double)t->tasks, m = return_abs_max * (1 + 1e-6) + 1e-6;
        bool bad = fabs(t->return_sum) > n * m || t->return_sq > n * m * m;
        for (size_t i = 0; i < t->n_episode_sum; i++) bad = bad || fabs(t->episode_sum[i]) > n * m;
        if (bad) return snprintf(why, why_len, "heartbeat: returns beyond what %llu tasks can earn (|return| <= %g)",
                                 (unsigned long long)t->tasks, return_abs_max), -1;
    }
    return 0;
}

void vb_msg_add_task_stats(vb_task_stats *s, const Vb__Heartbeat *h) {
    const Vb__TaskStats *t = h->tasks;
    if (!t || t->tasks == 0) return;
    s->tasks += (int64_t)t->tasks;
    s->return_sum += t->return_sum;
    s->return_sq += t->return_sq;
    if ((int64_t)t->n_episode_sum > s->episodes) s->episodes = (int64_t)t->n_episode_sum;
    for (size_t i = 0; i < t->n_episode_sum; i++) s->episode_sum[i] += t->episode_sum[i];
}

/* ---- chunks ------------------------------------------------------------- */
size_t vb_msg_chunk_max_size(const vb_chunk_layout *cl) {
    return sizeof(float) * (size_t)cl->floats + ENVELOPE_OVERHEAD;
}

int vb_msg_pack_chunk(const char *run_id, const char *actor_id, uint64_t seq, const vb_chunk *c,
                      const vb_chunk_layout *cl, void **buf, size_t *len) {
    size_t n = vb_chunk_wire_size(run_id, actor_id, seq, c, cl);
    void *b = malloc(n);
    if (!b) return -1;
    vb_chunk_wire_write(run_id, actor_id, seq, c, cl, b);
    *buf = b;
    *len = n;
    return 0;
}

int vb_msg_read_chunk(const Vb__Chunk *m, const vb_chunk_layout *cl, int64_t slots, float *data, char *why,
                      size_t why_len) {
    size_t bytes = sizeof(float) * (size_t)cl->floats;
    if (m->length != (uint64_t)cl->L)
        return snprintf(why, why_len, "chunk of %u steps (the run's window is %lld)", m->length, (long long)cl->L), -1;
    if ((int64_t)m->env_slot >= slots)
        return snprintf(why, why_len, "chunk from env slot %u (an actor has %lld)", m->env_slot, (long long)slots), -1;
    if (m->data.len != bytes)
        return snprintf(why, why_len, "chunk of %zu bytes (the layout needs %zu)", m->data.len, bytes), -1;
    /* copied and checksummed in one pass: data stages */
    uint32_t crc = vb_crc32c_copy(0, data, m->data.data, bytes);
    if (crc != m->crc32c) return snprintf(why, why_len, "chunk CRC-32C %08x does not match its data (%08x)", m->crc32c, crc), -1;
    return 0;
}

/* ---- weights ------------------------------------------------------------ */
size_t vb_msg_weights_max_size(const vb_layout *l) {
    return (size_t)vb_arena_blob_size(l) + ENVELOPE_OVERHEAD;
}

/* protobuf-c hands a bytes field to the buffer's append as one call with the
 * field's data pointer: the arena field carries a sentinel pointer, and the
 * blob is written there by vb_arena_to_blob, which copies the floats and
 * takes their CRC in one pass, then fills in the header. No field before
 * the arena depends on that CRC, so the parameters are read exactly once. */
static const uint8_t BLOB_SENTINEL;
typedef struct blob_writer {
    ProtobufCBuffer base;
    uint8_t *at, *end;
    bool overflow; /* protobuf-c wrote more than get_packed_size said */
    const vb_layout *l;
    const float *P;
} blob_writer;

static void blob_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
    blob_writer *w = (blob_writer *)b;
    if (w->overflow || len > (size_t)(w->end - w->at)) {
        w->overflow = true;
        return;
    }
    if (data == &BLOB_SENTINEL) vb_arena_to_blob(w->l, w->P, w->at);
    else if (len) memcpy(w->at, data, len);
    w->at += len;
}

int vb_msg_pack_weights(const char *run_id, uint64_t seq, const vb_layout *l, const float *P, uint64_t version,
                        void **buf, size_t *len) {
    vb_msg e = VB__ENVELOPE__INIT;
    Vb__Weights w = VB__WEIGHTS__INIT;
    vb_msg_header(&e, run_id, NULL, seq);
    w.version = version;
    w.arena.data = (uint8_t *)&BLOB_SENTINEL;
    w.arena.len = (size_t)vb_arena_blob_size(l);
    w.layout_hash = vb_layout_hash(l);
    e.body_case = VB__ENVELOPE__BODY_WEIGHTS;
    e.weights = &w;
    size_t n = vb__envelope__get_packed_size(&e);
    uint8_t *b = malloc(n);
    if (!b) return -1;
    blob_writer bw = {.base = {.append = blob_append}, .at = b, .end = b + n, .l = l, .P = P};
    vb__envelope__pack_to_buffer(&e, &bw.base);
    if (bw.overflow || bw.at != bw.end) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

int vb_msg_read_weights(const Vb__Weights *m, const vb_layout *l, float *P, char *why, size_t why_len) {
    uint64_t h = vb_layout_hash(l);
    if (m->layout_hash != h)
        return snprintf(why, why_len, "weights of layout %016llx (this model is %016llx)",
                        (unsigned long long)m->layout_hash, (unsigned long long)h), -1;
    size_t blen = (size_t)vb_arena_blob_size(l);
    if (m->arena.len != blen)
        return snprintf(why, why_len, "weights of %zu bytes (the arena needs %zu)", m->arena.len, blen), -1;
    /* one pass: each block copied with its CRC and checked for NaN and infinity in L1 */
    char err[256];
    if (vb_arena_from_blob_staged(l, m->arena.data, m->arena.len, P, "weights", err, sizeof err) != 0)
        return snprintf(why, why_len, "%s", err), -1;
    return 0;
}
