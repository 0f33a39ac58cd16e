/* peer_log — see peer_log.h. */
#include "peer_log.h"

#include <stdio.h>
#include <string.h>

void vb_peer_log_init(vb_peer_log *pl, double interval_s) {
    memset(pl, 0, sizeof *pl);
    pl->interval = interval_s;
}

bool vb_peer_log_allow(vb_peer_log *pl, const char *peer, double now, int64_t *held) {
    int free_slot = -1, oldest = 0;
    for (int i = 0; i < VB_PEER_LOG_SLOTS; i++) {
        if (!pl->slot[i].used) {
            if (free_slot < 0) free_slot = i;
            continue;
        }
        if (strncmp(pl->slot[i].key, peer, VB_PEER_LOG_KEY - 1) == 0) {
            if (now - pl->slot[i].last < pl->interval) {
                pl->slot[i].held++;
                return false;
            }
            *held = pl->slot[i].held;
            pl->slot[i].held = 0;
            pl->slot[i].last = now;
            return true;
        }
        if (pl->slot[i].last < pl->slot[oldest].last || !pl->slot[oldest].used) oldest = i;
    }
    int i = free_slot >= 0 ? free_slot : oldest;
    snprintf(pl->slot[i].key, sizeof pl->slot[i].key, "%s", peer);
    pl->slot[i].last = now;
    pl->slot[i].held = 0;
    pl->slot[i].used = true;
    *held = 0;
    return true;
}
