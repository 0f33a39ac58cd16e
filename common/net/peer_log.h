/* peer_log — at most one log line per peer per interval about bad input, so
 * that a peer sending garbage cannot flood the log. Counting is the caller's;
 * this only decides which lines are written and how many were held back.
 * A fixed table of VB_PEER_LOG_SLOTS peers; when full, the peer logged
 * longest ago is forgotten. O(slots) per call. */
#ifndef VB_PEER_LOG_H
#define VB_PEER_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum { VB_PEER_LOG_SLOTS = 64, VB_PEER_LOG_KEY = 128 };

typedef struct vb_peer_log {
    double interval;   /* seconds */
    struct {
        char key[VB_PEER_LOG_KEY];
        double last;   /* time of the last line written */
        int64_t held;  /* lines held back since */
        bool used;
    } slot[VB_PEER_LOG_SLOTS];
} vb_peer_log;

/* An empty table that lets one line per peer through every interval_s. */
void vb_peer_log_init(vb_peer_log *pl, double interval_s);
/* Whether a line about `peer` may be written at time `now` (seconds, any
 * monotonic clock). When true, *held receives the number of lines about it
 * that were held back since its last line. */
bool vb_peer_log_allow(vb_peer_log *pl, const char *peer, double now, int64_t *held);

#endif
