/* linear — y = x W^T + b.
 * Parameters live in an arena: the layer keeps offsets, and every function
 * takes the base pointer of the buffer it works on (parameters P, gradients G). */
#ifndef VB_LINEAR_H
#define VB_LINEAR_H

#include <stdint.h>

#include "../../kernels/backend.h"
#include "../base/rng.h"
#include "arena.h"

typedef struct vb_linear {
    int64_t in, out;
    int64_t w;  /* offset of W (out, in) */
    int64_t b;  /* offset of b (out), or -1 without bias */
} vb_linear;

/* Add "<name>.w" and "<name>.b" to the layout; -1 on a full layout. */
int vb_linear_layout(vb_linear *l, vb_layout *lay, const char *name, int64_t in, int64_t out, int bias);
/* Host-side init: W, b ~ U(-1/sqrt(in), 1/sqrt(in)). */
void vb_linear_init(const vb_linear *l, float *P, vb_rng *rng);
/* inp is (B, in), out is (B, out) (overwritten) */
void vb_linear_forward(const vb_backend *be, const vb_linear *l, const float *P, float *out, const float *inp,
                       int64_t B);
/* out(B, out) = act(inp W^T + b) in one call (be->linear_act); pre (B, out),
 * unless NULL, receives inp W^T + b */
void vb_linear_forward_act(const vb_backend *be, const vb_linear *l, const float *P, vb_act act, float *pre,
                           float *out, const float *inp, int64_t B);
/* The layer's W and b in the backend's packed layout (be->pack_weights), for
 * vb_linear_infer: vb_linear_packed_floats floats at Wp, packed again after
 * P changes. */
int64_t vb_linear_packed_floats(const vb_linear *l);
void vb_linear_pack(const vb_backend *be, const vb_linear *l, const float *P, float *Wp);
/* out(B, out) = act(inp W^T + b) from the packing Wp of P's W and b, or
 * packing at this product where Wp is NULL (the bits of
 * vb_linear_forward_act; be->linear_act_packed) */
void vb_linear_infer(const vb_backend *be, const vb_linear *l, const float *P, const float *Wp, vb_act act,
                     float *out, const float *inp, int64_t B);
/* dout is (B, out); G[w], G[b] += ...; dinp (B, in) += ... unless NULL */
void vb_linear_backward(const vb_backend *be, const vb_linear *l, const float *P, float *G, float *dinp,
                        const float *dout, const float *inp, int64_t B);

#endif
