/* mlp — Linear layers with an activation between them:
 *   h_0 = x;  h_i = act(h_{i-1} W_i^T + b_i);  y = out_act(h_{n-1} W_n^T + b_n).
 * The caller owns the activation cache (vb_mlp_cache_floats) that backward
 * reads, so one MLP serves any batch size and several calls in flight. */
#ifndef VB_MLP_H
#define VB_MLP_H

#include "linear.h"

enum { VB_MLP_MAX_LAYERS = 8 };

typedef struct vb_mlp {
    int n;                               /* number of Linear layers */
    vb_linear layer[VB_MLP_MAX_LAYERS];
    vb_act act, out_act;
    int64_t in, out, max_width;
} vb_mlp;

/* Layers "<name>.0" .. "<name>.<n-1>": in -> hidden[0] -> ... -> out. */
int vb_mlp_layout(vb_mlp *m, vb_layout *lay, const char *name, int64_t in, const int64_t *hidden, int nhidden,
                  int64_t out, vb_act act, vb_act out_act);
void vb_mlp_init(const vb_mlp *m, float *P, vb_rng *rng);
/* Floats of cache needed for a batch of B rows. */
int64_t vb_mlp_cache_floats(const vb_mlp *m, int64_t B);
/* Floats of scratch backward needs for B rows. */
int64_t vb_mlp_scratch_floats(const vb_mlp *m, int64_t B);
/* inp (B, in) -> out (B, out); fills cache. */
void vb_mlp_forward(const vb_backend *be, const vb_mlp *m, const float *P, float *out, const float *inp,
                    float *cache, int64_t B);
/* Floats of work vb_mlp_infer needs for B rows on backend be. */
int64_t vb_mlp_infer_floats(const vb_backend *be, const vb_mlp *m, int64_t B);
/* Every layer's weights in the backend's packed layout (vb_linear_pack), for
 * vb_mlp_infer: vb_mlp_packed_floats floats at Wp, packed again after P
 * changes. */
int64_t vb_mlp_packed_floats(const vb_mlp *m);
void vb_mlp_pack(const vb_backend *be, const vb_mlp *m, const float *P, float *Wp);
/* inp (B, in) -> out (B, out) without a cache, for inference: blocks of
 * be->chain_rows rows each through every layer while its activations are in
 * cache (the last block takes the rest: none shorter than chain_rows unless
 * B is), two buffers of work taking turns; the layers read their packing Wp
 * (vb_mlp_pack of P), or pack at every product where Wp is NULL. The same
 * out as vb_mlp_forward wherever a row's result does not depend on how many
 * rows share its product (the CPU's fused kernel, at one BLAS thread). */
void vb_mlp_infer(const vb_backend *be, const vb_mlp *m, const float *P, const float *Wp, float *out,
                  const float *inp, float *work, int64_t B);
/* An input of two parts, (B, aw + bw): row i is a + i a_stride (aw floats)
 * then b + (i / b_every) b_stride (bw floats; none where bw is 0). */
void vb_mlp_join_rows(const vb_backend *be, float *out, const float *a, int64_t a_stride, int64_t aw, const float *b,
                      int64_t b_stride, int64_t b_every, int64_t bw, int64_t B);
/* dout (B, out) -> G += ..., dinp (B, in) += ... unless NULL. out is forward's output. */
void vb_mlp_backward(const vb_backend *be, const vb_mlp *m, const float *P, float *G, float *dinp,
                     const float *dout, const float *inp, const float *out, const float *cache, float *scratch,
                     int64_t B);

#endif
