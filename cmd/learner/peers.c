/* peers — see peers.h. */
#include "peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vb_peers_free(vb_peers *ps) {
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}

vb_peer *vb_peers_find(vb_peers *ps, const char *id) {
    for (int64_t i = 0; i < ps->n; i++) {
        if (strcmp(ps->p[i].id, id) == 0) return &ps->p[i];
    }
    return NULL;
}

vb_peer *vb_peers_find_instance(vb_peers *ps, uint64_t instance) {
    for (int64_t i = 0; i < ps->n; i++) {
        if (ps->p[i].instance == instance) return &ps->p[i];
    }
    return NULL;
}

vb_peer *vb_peers_add(vb_peers *ps, uint64_t stream) {
    if (ps->n >= VB_PEERS_MAX) return NULL;
    if (ps->n == ps->cap) {
        int64_t cap = ps->cap ? 2 * ps->cap : 16;
        vb_peer *p = realloc(ps->p, sizeof *p * (size_t)cap);
        if (!p) return NULL;
        ps->p = p;
        ps->cap = cap;
    }
    vb_peer *p = &ps->p[ps->n++];
    memset(p, 0, sizeof *p);
    p->stream = stream;
    snprintf(p->id, sizeof p->id, "a%llu", (unsigned long long)stream);
    return p;
}

void vb_peers_remove(vb_peers *ps, vb_peer *p) {
    int64_t i = p - ps->p;
    if (i < 0 || i >= ps->n) return;
    ps->p[i] = ps->p[ps->n - 1];
    ps->n--;
}

void vb_peers_set_rid(vb_peer *p, const void *rid, size_t len) {
    if (len > VB_PEER_RID) len = VB_PEER_RID;
    memcpy(p->rid, rid, len);
    p->rid_len = len;
}
