/* zap — the ZeroMQ authentication handler (ZAP, RFC 27) of a learner.
 *
 * A REP socket on inproc://zeromq.zap.01 in the learner's ZeroMQ context,
 * driven by the learner's libuv loop like its other channels. libzmq asks it
 * about every CURVE handshake on the learner's TCP endpoints: a client whose
 * public key is in the allow-list is admitted with the key (Z85) as its
 * User-Id, which every message of that connection then carries (the learner
 * binds an actor's registration to it); any other is refused with status
 * 400 and logged once per address and key. Bind it before any CURVE
 * endpoint: a CURVE server with no handler admits every client. */
#ifndef VB_ZAP_H
#define VB_ZAP_H

#include <stdint.h>

#include "channel.h"
#include "keys.h"
#include "peer_log.h"

enum { VB_ZAP_MONITORS = 3 };

typedef struct vb_zap {
    vb_channel ch;
    const vb_allowlist *allowed;   /* borrowed */
    vb_peer_log log, hlog;        /* refusals: once per address and key; failed handshakes: once a minute */
    int64_t admitted, refused;
    double win_start;             /* refusal lines of all peers: at most 20 a minute */
    int win_lines;
    int64_t suppressed;
    /* handshakes that failed before ZAP was asked (a peer without CURVE, or
     * with another learner key), seen through socket monitors */
    vb_channel mon[VB_ZAP_MONITORS];
    const char *mon_name[VB_ZAP_MONITORS];
    int n_mon;
    void *zctx;
    uv_loop_t *loop;
    int64_t failed_handshakes;
} vb_zap;

/* Open and bind the handler in zctx. 0, or -1 with err. */
int vb_zap_open(vb_zap *z, uv_loop_t *loop, void *zctx, const vb_allowlist *allowed, char *err, size_t err_len);
void vb_zap_close(vb_zap *z);
/* Watch sock (a CURVE server socket named name) for handshakes that fail
 * before authentication: counted in failed_handshakes and logged at most
 * once a minute per socket (ZeroMQ's monitor does not name the peer). 0, or
 * -1 with err. */
int vb_zap_watch(vb_zap *z, void *sock, const char *name, char *err, size_t err_len);

/* The User-Id ZAP gave the connection a frame came on ("" when none: a
 * local ipc:// or unauthenticated connection). */
const char *vb_zap_user_id(zmq_msg_t *m);

#endif
