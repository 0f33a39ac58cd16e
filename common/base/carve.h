/* carve — one allocation for every buffer of a module's workspace (llm.c's
 * malloc_and_point): call the module's carve function once with base NULL to
 * size it, allocate carver.off bytes, then again with the block to point
 * every buffer into it. Buffers are 16-byte aligned; one free releases all. */
#ifndef VB_CARVE_H
#define VB_CARVE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_carver {
    char *base; /* NULL while sizing */
    size_t off; /* bytes taken so far */
} vb_carver;

/* n elements of elem bytes (at least one): a pointer into the block, or NULL while sizing. */
static inline void *vb_carve(vb_carver *c, int64_t n, size_t elem) {
    c->off = (c->off + 15) & ~(size_t)15;
    void *p = c->base ? c->base + c->off : NULL;
    c->off += (size_t)(n > 0 ? n : 1) * elem;
    return p;
}

#endif
