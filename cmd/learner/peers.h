/* peers — the actors registered with a distributed learner.
 *
 * An actor is known by the id the learner assigned it: "a<stream>-" and 128
 * random bits, so that no other peer can guess it (logs name it by its label
 * "a<stream>" only). It is remembered by its instance number (random per
 * actor process) so that a repeated Register is answered with the same
 * assignment, and bound to the identity of the connection it registered on:
 * its CURVE public key (User-Id, "" without CURVE) and its address (ZeroMQ's
 * Peer-Address: the IP, or "localhost:UID:GID:PID" for an ipc:// actor). A message that names the actor from another identity does not
 * count as the actor's. Its ROUTER routing id follows the latest message,
 * since a reconnection changes it. The table grows to at most VB_PEERS_MAX
 * actors. */
#ifndef VB_PEERS_H
#define VB_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/net/messages.h"

enum { VB_PEERS_MAX = 4096, VB_PEER_RID = 256 };

typedef struct vb_peer {
    char id[VB_MSG_MAX_ID + 1];
    char label[24];                   /* "a<stream>", for logs */
    char key[48];                     /* CURVE public key (Z85) of its connection; "" without CURVE */
    char addr[64];                    /* address of its connection; "" for ipc:// */
    char name[VB_MSG_MAX_NAME + 1];
    char host[VB_MSG_MAX_HOST + 1];
    uint32_t pid;
    uint64_t instance, stream;
    unsigned char rid[VB_PEER_RID];   /* ROUTER routing id */
    size_t rid_len;
    double joined, last_seen;
    uint64_t env_steps, version;
    uint64_t consumed;                /* chunks taken in since it registered */
    uint64_t pushed;                  /* weights version last sent it for stale chunks */
    int64_t chunks;
    uint64_t last_version;            /* policy version of its newest accepted chunk */
    int64_t tasks_claimed;            /* tasks its heartbeats reported */
} vb_peer;

typedef struct vb_peers {
    vb_peer *p;
    int64_t n, cap;
} vb_peers;

void vb_peers_free(vb_peers *ps);
vb_peer *vb_peers_find(vb_peers *ps, const char *id);
vb_peer *vb_peers_find_instance(vb_peers *ps, uint64_t instance);
/* A new entry (zeroed but for the id and label from stream and fresh random
 * bits); NULL when full or out of memory. Pointers into the table are valid
 * until the next add or remove. */
vb_peer *vb_peers_add(vb_peers *ps, uint64_t stream);
/* Whether a message from a connection with this key and address may speak
 * for p. */
bool vb_peer_identity_matches(const vb_peer *p, const char *key, const char *addr);
/* Registered actors on connections from this identity (the same key and
 * address); remote actors (addr != ""). */
int64_t vb_peers_count_identity(const vb_peers *ps, const char *key, const char *addr);
int64_t vb_peers_count_remote(const vb_peers *ps);
/* Whether a ZeroMQ Peer-Address is a local ipc:// connection. */
bool vb_peer_addr_is_local(const char *addr);
void vb_peers_remove(vb_peers *ps, vb_peer *p);
/* Remember the routing id of p's latest message. */
void vb_peers_set_rid(vb_peer *p, const void *rid, size_t len);

#endif
