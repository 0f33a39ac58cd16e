/* peers — see peers.h. */
#include "peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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
    uint64_t r[2] = {0, 0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        ps->n--;
        return NULL;
    }
    snprintf(p->id, sizeof p->id, "a%llu-%016llx%016llx", (unsigned long long)stream, (unsigned long long)r[0],
             (unsigned long long)r[1]);
    snprintf(p->label, sizeof p->label, "a%llu", (unsigned long long)stream);
    return p;
}

bool vb_peer_identity_matches(const vb_peer *p, const char *key, const char *addr) {
    return strcmp(p->key, key) == 0 && strcmp(p->addr, addr) == 0;
}

int64_t vb_peers_count_identity(const vb_peers *ps, const char *key, const char *addr) {
    int64_t n = 0;
    for (int64_t i = 0; i < ps->n; i++) {
        const vb_peer *p = &ps->p[i];
        if (strcmp(p->key, key) == 0 && strcmp(p->addr, addr) == 0) n++;
    }
    return n;
}

bool vb_peer_addr_is_local(const char *addr) {
    /* ipc:// peers: "" or "localhost:UID:GID:PID" (SO_PEERCRED); TCP peers: an IP address */
    return addr[0] == '\0' || strncmp(addr, "localhost:", 10) == 0;
}

int64_t vb_peers_count_remote(const vb_peers *ps) {
    int64_t n = 0;
    for (int64_t i = 0; i < ps->n; i++) n += !vb_peer_addr_is_local(ps->p[i].addr);
    return n;
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
