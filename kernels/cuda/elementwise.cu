// elementwise — the CUDA backend's elementwise, column and reduction ops and
// Adam: grid-stride loops around the bodies of kernels/math/.
#include "../math/act.h"
#include "../math/adam.h"
#include "cuda_ops.h"

static __global__ void k_bias_fill(float *out, const float *b, int64_t rows, int64_t cols) {
    VB_GRID_STRIDE(i, rows * cols) out[i] = b[i % cols];
}
void vb__cuda_bias_fill(float *out, const float *b, int64_t rows, int64_t cols) {
    VB_LAUNCH(k_bias_fill, rows * cols, out, b, rows, cols);
}

// One thread per column, adding down the rows in the CPU backend's order
// (coalesced across the threads of a warp, deterministic).
static __global__ void k_col_sum_acc(float *dst, const float *a, const float *b, int64_t rows, int64_t cols) {
    VB_GRID_STRIDE(j, cols) {
        float s = dst[j];
        for (int64_t i = 0; i < rows; i++) s += b ? a[i * cols + j] * b[i * cols + j] : a[i * cols + j];
        dst[j] = s;
    }
}
void vb__cuda_bias_grad(float *db, const float *dout, int64_t rows, int64_t cols) {
    VB_LAUNCH(k_col_sum_acc, cols, db, dout, (const float *)NULL, rows, cols);
}
void vb__cuda_col_dot_acc(float *ds, const float *a, const float *b, int64_t rows, int64_t cols) {
    VB_LAUNCH(k_col_sum_acc, cols, ds, a, b, rows, cols);
}

static __global__ void k_col_scale_acc(float *out, const float *in, const float *s, int64_t rows, int64_t cols) {
    VB_GRID_STRIDE(i, rows * cols) out[i] += in[i] * s[i % cols];
}
void vb__cuda_col_scale_acc(float *out, const float *in, const float *s, int64_t rows, int64_t cols) {
    VB_LAUNCH(k_col_scale_acc, rows * cols, out, in, s, rows, cols);
}

static __global__ void k_act_forward(vb_act act, float *out, const float *in, int64_t n) {
    VB_GRID_STRIDE(i, n) out[i] = vb_act_fwd(act, in[i]);
}
void vb__cuda_act_forward(vb_act act, float *out, const float *in, int64_t n) {
    VB_LAUNCH(k_act_forward, n, act, out, in, n);
}

static __global__ void k_act_backward(vb_act act, float *din, const float *dout, const float *in, const float *out,
                                      int64_t n) {
    VB_GRID_STRIDE(i, n) din[i] += act == VB_ACT_NONE ? dout[i] : vb_act_backward_elem(act, in[i], out[i], dout[i]);
}
void vb__cuda_act_backward(vb_act act, float *din, const float *dout, const float *in, const float *out, int64_t n) {
    VB_LAUNCH(k_act_backward, n, act, din, dout, in, out, n);
}

static __global__ void k_axpy(float *y, float a, const float *x, int64_t n) { VB_GRID_STRIDE(i, n) y[i] += a * x[i]; }
void vb__cuda_axpy(float *y, float a, const float *x, int64_t n) { VB_LAUNCH(k_axpy, n, y, a, x, n); }

static __global__ void k_scale(float *x, float a, int64_t n) { VB_GRID_STRIDE(i, n) x[i] *= a; }
void vb__cuda_scale(float *x, float a, int64_t n) { VB_LAUNCH(k_scale, n, x, a, n); }

static __global__ void k_fill(float *x, float v, int64_t n) { VB_GRID_STRIDE(i, n) x[i] = v; }
void vb__cuda_fill(float *x, float v, int64_t n) { VB_LAUNCH(k_fill, n, x, v, n); }

static __global__ void k_mul(float *out, const float *a, const float *b, int64_t n) {
    VB_GRID_STRIDE(i, n) out[i] = a[i] * b[i];
}
void vb__cuda_mul(float *out, const float *a, const float *b, int64_t n) { VB_LAUNCH(k_mul, n, out, a, b, n); }

// Two-pass reduction in double: each block's tree sum into partials[block],
// then one block sums the partials in order. The same inputs give the same
// bits on every run (no atomics).
static __device__ double block_sum(double s) {
    __shared__ double sh[VB_CUDA_THREADS];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = VB_CUDA_THREADS / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    return sh[0];
}
static __global__ void k_partial_sums(double *partials, const float *x, int64_t n, int squares) {
    double s = 0;
    VB_GRID_STRIDE(i, n) s += squares ? (double)x[i] * x[i] : (double)x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}
static __global__ void k_final_sum(double *out, const double *partials, int64_t n) {
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += partials[i];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = s;
}
static double reduce(const float *x, int64_t n, int squares) {
    if (n <= 0) return 0.0;
    unsigned blocks = vb__cuda_blocks(n);
    if (blocks > VB_REDUCE_BLOCKS) blocks = VB_REDUCE_BLOCKS;
    k_partial_sums<<<blocks, VB_CUDA_THREADS, 0, vb__cuda.stream>>>(vb__cuda.partials, x, n, squares);
    VB_CUDA_CHECK(cudaGetLastError());
    k_final_sum<<<1, VB_CUDA_THREADS, 0, vb__cuda.stream>>>(vb__cuda.partials + VB_REDUCE_BLOCKS,
                                                             vb__cuda.partials, blocks);
    VB_CUDA_CHECK(cudaGetLastError());
    VB_CUDA_CHECK(cudaMemcpyAsync(vb__cuda.host_sum, vb__cuda.partials + VB_REDUCE_BLOCKS, sizeof(double),
                                  cudaMemcpyDeviceToHost, vb__cuda.stream));
    VB_CUDA_CHECK(cudaStreamSynchronize(vb__cuda.stream));
    return *vb__cuda.host_sum;
}
double vb__cuda_sum(const float *x, int64_t n) { return reduce(x, n, 0); }
double vb__cuda_sumsq(const float *x, int64_t n) { return reduce(x, n, 1); }

static __global__ void k_adam(float *param, const float *grad, float *m, float *v, int64_t n, float step,
                              float inv_sqrt_bc2, float lr, float beta1, float beta2, float eps, float wd) {
    VB_GRID_STRIDE(i, n) vb_adam_elem(&param[i], grad[i], &m[i], &v[i], step, inv_sqrt_bc2, lr, beta1, beta2, eps, wd);
}
void vb__cuda_adam_update(float *param, const float *grad, float *m, float *v, int64_t n, float lr, float beta1,
                          float beta2, float eps, float wd, int64_t t) {
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    const float step = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    VB_LAUNCH(k_adam, n, param, grad, m, v, n, step, inv_sqrt_bc2, lr, beta1, beta2, eps, wd);
}
