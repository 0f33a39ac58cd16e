/* chunk_wire — a chunk message's bytes written and read without protobuf-c,
 * for the data channel's hot path: one pass over the floats on each side,
 * no allocation.
 *
 * The bytes are the protocol's Envelope{protocol_version, run_id, actor_id,
 * seq, chunk: Chunk{policy_version, env_slot, length, data, crc32c}}
 * (proto/varibased.proto), the fields in number order as protobuf-c writes
 * them, except that crc32c is always a 5-byte varint, so that the floats can
 * be copied and checksummed in one pass before their CRC is written. Every
 * protobuf parser reads these bytes as the same message.
 *
 * The reader takes only what the writer writes and what protobuf-c writes
 * for a chunk: each known field at most once, in any order, with its own
 * wire type; the current protocol version; ids of at most VB_MSG_MAX_ID
 * printable bytes. Anything else (an unknown or repeated field, another
 * body, a malformed varint, a wrong version) is left to vb_msg_unpack_borrow,
 * which parses it the general way and says what is wrong. So on the bytes it
 * accepts, the reader gives exactly what vb_msg_unpack_borrow gives. */
#ifndef VB_CHUNK_WIRE_H
#define VB_CHUNK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "messages.h"

/* A received chunk message viewed in place: e is a vb_msg whose chunk is c,
 * whose ids are the copies below, and whose c.data points into the
 * received bytes (which must outlive it). Nothing to free. */
typedef struct vb_chunk_view {
    vb_msg e;
    Vb__Chunk c;
    char run_id[VB_MSG_MAX_ID + 1], actor_id[VB_MSG_MAX_ID + 1];
} vb_chunk_view;

/* Bytes of the chunk message of layout cl with these ids (NULL: empty) and
 * sequence number. */
size_t vb_chunk_wire_size(const char *run_id, const char *actor_id, uint64_t seq, const vb_chunk *c,
                          const vb_chunk_layout *cl);
/* Write that message into dst (exactly vb_chunk_wire_size bytes), the floats
 * copied and checksummed in one pass. */
void vb_chunk_wire_write(const char *run_id, const char *actor_id, uint64_t seq, const vb_chunk *c,
                         const vb_chunk_layout *cl, void *dst);
/* View buf (len bytes, refused above max_len) as a chunk message: 0 with *v
 * filled, or 1 when the bytes are anything else, to be parsed (and refused,
 * if they are bad) by vb_msg_unpack_borrow. */
int vb_chunk_wire_view(const void *buf, size_t len, size_t max_len, vb_chunk_view *v);

#endif
