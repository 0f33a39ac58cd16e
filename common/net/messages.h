/* messages — the protocol's messages (proto/varibased.proto) to and from
 * bytes, and every check a received message passes before any of it is used.
 *
 * Guarantees of the readers: nothing in a message is trusted before it is
 * checked. vb_msg_unpack bounds the size before parsing, lets protobuf-c
 * reject malformed or truncated bytes, then checks the protocol version, that
 * a body is present, and that the header strings are short and printable.
 * The body readers check sizes against what this process expects (a chunk's
 * byte length is exactly the layout's floats x 4, a weight blob is exactly the
 * arena's size) and the CRC-32C, and only then copy the payload into the
 * caller's aligned buffer; contents (finite floats, flags) are the business of
 * vb_chunk_validate / vb_arena_from_blob behind them. Every refusal returns -1
 * with a one-line reason and leaves the caller's buffers untouched.
 *
 * Floats travel as little-endian IEEE-754 binary32, the byte order of every
 * host this builds on (checked at compile time). */
#ifndef VB_MESSAGES_H
#define VB_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "../train/acting.h"
#include "../train/chunk.h"
#include "../nn/arena.h"
#include "proto/varibased.pb-c.h"

enum {
    VB_PROTOCOL_VERSION = 2,
    VB_MSG_MAX_ID = 64,            /* bytes of run_id and actor_id */
    VB_MSG_MAX_NAME = 64,          /* bytes of Register.name and .device */
    VB_MSG_MAX_HOST = 255,         /* bytes of Register.host */
    VB_MSG_MAX_CONTROL = 65536,    /* control messages from actors */
    VB_MSG_MAX_CONFIG = 1 << 20,   /* Registered.config_yaml */
    VB_MSG_MAX_EPISODES = 64,      /* TaskStats.episode_sum entries */
};

/* Upper bound of everything an actor accepts from a learner (Registered,
 * Weights): the parameter arena of the largest model plus the header. */
#define VB_MSG_MAX_FROM_LEARNER ((int64_t)1 << 30)

typedef Vb__Envelope vb_msg;

/* Fill the header of e (VB__ENVELOPE__INIT first): protocol version, run id,
 * actor id (NULL: empty) and sequence number. The strings are borrowed. */
void vb_msg_header(vb_msg *e, const char *run_id, const char *actor_id, uint64_t seq);
/* Pack e into a malloc'd buffer. 0, or -1 when out of memory. */
int vb_msg_pack(const vb_msg *e, void **buf, size_t *len);

/* Parse and check an envelope of len bytes (refused above max_len). *out is
 * freed with vb_msg_free. 0, or -1 with why. */
int vb_msg_unpack(const void *buf, size_t len, size_t max_len, vb_msg **out, char *why, size_t why_len);
void vb_msg_free(vb_msg *e);
/* vb_msg_unpack without copying the payload of a chunk or weights message:
 * its data (Chunk.data, Weights.arena) points into buf, which must outlive
 * *out; every check is vb_msg_unpack's (a message whose body or payload
 * field repeats, which protobuf merges, is parsed by vb_msg_unpack itself
 * and owns its payload). Free *out with vb_msg_free_borrowed and the same
 * buf and len. */
int vb_msg_unpack_borrow(const void *buf, size_t len, size_t max_len, vb_msg **out, char *why, size_t why_len);
void vb_msg_free_borrowed(vb_msg *e, const void *buf, size_t len);
/* "register", "chunk", ... for logs; "none" or "unknown" otherwise. */
const char *vb_msg_body_name(int body_case);
/* Whether s is at most max bytes of printable ASCII. */
int vb_msg_printable(const char *s, size_t max);

/* Register: 0 when its strings are short and printable, else -1 with why. */
int vb_msg_check_register(const Vb__Register *r, char *why, size_t why_len);
/* Heartbeat task statistics: 0 when counts and sums are finite and bounded
 * (with return_abs_max > 0: sums within what that many tasks of returns in
 * [-return_abs_max, return_abs_max] can add up to), episode_sum has at most
 * VB_MSG_MAX_EPISODES entries; else -1 with why. A missing TaskStats is
 * valid (nothing finished). */
int vb_msg_check_heartbeat(const Vb__Heartbeat *h, double return_abs_max, char *why, size_t why_len);
/* Add a heartbeat's task statistics (checked) into t. */
void vb_msg_add_task_stats(vb_task_stats *t, const Vb__Heartbeat *h);

/* ---- chunks ------------------------------------------------------------- */
/* Bytes of a packed chunk message with ids of at most VB_MSG_MAX_ID bytes. */
size_t vb_msg_chunk_max_size(const vb_chunk_layout *cl);
/* Pack chunk c (layout cl) with its CRC into a malloc'd buffer
 * (vb_chunk_wire_write). 0, or -1 when out of memory. */
int vb_msg_pack_chunk(const char *run_id, const char *actor_id, uint64_t seq, const vb_chunk *c,
                      const vb_chunk_layout *cl, void **buf, size_t *len);
/* Check a received chunk against layout cl and an actor of `slots` env slots
 * (length = L, slot < slots, data exactly cl->floats x 4 bytes, CRC) while
 * copying the floats into data (cl->floats), CRC and copy in one pass. 0, or
 * -1 with why; data is a staging buffer, its contents unspecified after a
 * CRC refusal. */
int vb_msg_read_chunk(const Vb__Chunk *m, const vb_chunk_layout *cl, int64_t slots, float *data, char *why,
                      size_t why_len);

/* ---- weights ------------------------------------------------------------ */
/* Bytes of a packed weights message of layout l. */
size_t vb_msg_weights_max_size(const vb_layout *l);
/* Pack parameters P (layout l) as version `version`. 0, or -1 (out of memory). */
int vb_msg_pack_weights(const char *run_id, uint64_t seq, const vb_layout *l, const float *P, uint64_t version,
                        void **buf, size_t *len);
/* Check received weights against layout l (layout hash, blob size, the
 * blob's header and payload CRCs, no NaN or infinity) while copying them into
 * P (l->total floats), in one pass. 0, or -1 with why; P is a staging buffer,
 * whose contents are unspecified after a refusal (vb_arena_from_blob_staged). */
int vb_msg_read_weights(const Vb__Weights *m, const vb_layout *l, float *P, char *why, size_t why_len);

#endif
