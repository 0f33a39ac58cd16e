// backend_cuda — kernels/backend.h on one CUDA device: memory, cuBLAS GEMMs
// and the table of ops (elementwise.cu, dists.cu, recurrent.cu). Buffers are
// device memory; every op is queued on one stream, and the host waits only
// where an op returns a value or copies to the host. One host thread uses
// it (the stream, scratch and reduction buffers are shared, unlocked).
#include <stdio.h>
#include <stdlib.h>

#include "../cuda_device.h"
#include "cuda_ops.h"

vb__cuda_ctx vb__cuda = {-1, NULL, NULL, NULL, NULL};
static void *scratch;
static size_t scratch_bytes;

void vb__cuda_fail(const char *call, const char *file, int line, const char *why) {
    fprintf(stderr, "cuda backend: %s failed (%s:%d): %s\n", call, file, line, why);
    fflush(stderr);
    exit(EXIT_FAILURE);
}

const char *vb__cublas_status(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialised";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS could not allocate";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "not supported by this device";
    case CUBLAS_STATUS_MAPPING_ERROR: return "memory mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the kernel failed to run";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown cuBLAS status";
    }
}

void *vb__cuda_scratch(size_t bytes) {
    if (bytes <= scratch_bytes) return scratch;
    if (scratch) {
        VB_CUDA_CHECK(cudaStreamSynchronize(vb__cuda.stream)); /* no queued op still reads it */
        VB_CUDA_CHECK(cudaFree(scratch));
    }
    scratch = NULL;
    scratch_bytes = 0;
    VB_CUDA_CHECK(cudaMalloc(&scratch, bytes));
    scratch_bytes = bytes;
    return scratch;
}

extern "C" void vb_cuda_sync(void) { VB_CUDA_CHECK(cudaStreamSynchronize(vb__cuda.stream)); }

// --- memory -------------------------------------------------------------------------

static float *cuda_alloc(int64_t n) {
    if (n <= 0) return NULL;
    float *p = NULL;
    if (cudaMalloc((void **)&p, (size_t)n * sizeof(float)) != cudaSuccess) {
        (void)cudaGetLastError(); // out of memory is the caller's to report
        return NULL;
    }
    VB_CUDA_CHECK(cudaMemsetAsync(p, 0, (size_t)n * sizeof(float), vb__cuda.stream));
    return p;
}
static void cuda_release(float *p) {
    if (p) VB_CUDA_CHECK(cudaFree(p));
}
static void cuda_upload(float *dst, const float *src, int64_t n) {
    if (n <= 0) return;
    VB_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)n * sizeof(float), cudaMemcpyHostToDevice, vb__cuda.stream));
    VB_CUDA_CHECK(cudaStreamSynchronize(vb__cuda.stream));
}
static void cuda_download(float *dst, const float *src, int64_t n) {
    if (n <= 0) return;
    VB_CUDA_CHECK(cudaMemcpyAsync(dst, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost, vb__cuda.stream));
    VB_CUDA_CHECK(cudaStreamSynchronize(vb__cuda.stream));
}
// Overlapping ranges are allowed (as memmove on the CPU): they go through the scratch.
static void cuda_copy(float *dst, const float *src, int64_t n) {
    if (n <= 0 || dst == src) return;
    const size_t bytes = (size_t)n * sizeof(float);
    if (dst < src + n && src < dst + n) {
        float *tmp = (float *)vb__cuda_scratch(bytes);
        VB_CUDA_CHECK(cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, vb__cuda.stream));
        src = tmp;
    }
    VB_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, vb__cuda.stream));
}
static void cuda_set_threads(int n) { (void)n; }
static int cuda_get_threads(void) { return 1; }

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS
// gets the operands swapped, with the same leading dimensions. FP32 math
// (no TF32: CUBLAS_DEFAULT_MATH), so results match the CPU to rounding.
static void cuda_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    VB_CUBLAS_CHECK(cublasSgemm(vb__cuda.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N,
                                (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc));
}

// A linear layer's forward as bias fill, GEMM and activation.
static void cuda_linear_act(vb_act act, float *pre, float *out, const float *in, const float *W, const float *b,
                            int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0) return;
    float *dst = pre ? pre : out;
    if (b) vb__cuda_bias_fill(dst, b, M, N);
    cuda_gemm(false, true, M, N, K, 1.0f, in, K, W, K, b ? 1.0f : 0.0f, dst, N);
    if (act != VB_ACT_NONE) vb__cuda_act_forward(act, out, dst, M * N);
    else if (dst != out) cuda_copy(out, dst, M * N);
}

// No packed layout on the device: the products read W and b as given.
static void cuda_linear_act_packed(vb_act act, float *out, const float *in, const float *Wp, const float *W,
                                   const float *b, int64_t M, int64_t N, int64_t K) {
    (void)Wp;
    cuda_linear_act(act, NULL, out, in, W, b, M, N, K);
}

static void cuda_pack_weights(float *Wp, const float *W, const float *b, int64_t N, int64_t K, bool w_kn) {
    (void)Wp, (void)W, (void)b, (void)N, (void)K, (void)w_kn;
}

static void cuda_gemm_packed(float *C, const float *A, const float *Wp, const float *W, const float *b, int64_t M,
                             int64_t N, int64_t K, bool w_kn, bool add) {
    (void)Wp;
    if (M <= 0 || N <= 0) return;
    if (b && !add) vb__cuda_bias_fill(C, b, M, N);
    cuda_gemm(false, !w_kn, M, N, K, 1.0f, A, K, W, w_kn ? N : K, add || b ? 1.0f : 0.0f, C, N);
}

static const vb_backend cuda_backend = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .set_threads = cuda_set_threads,
    .get_threads = cuda_get_threads,
    .gemm = cuda_gemm,
    .bias_fill = vb__cuda_bias_fill,
    .linear_act = cuda_linear_act,
    .chain_rows = 0,
    .pack_weights = cuda_pack_weights,
    .linear_act_packed = cuda_linear_act_packed,
    .gemm_packed = cuda_gemm_packed,
    .bias_grad = vb__cuda_bias_grad,
    .act_forward = vb__cuda_act_forward,
    .act_backward = vb__cuda_act_backward,
    .softmax = vb__cuda_softmax,
    .log_softmax = vb__cuda_log_softmax,
    .axpy = vb__cuda_axpy,
    .scale = vb__cuda_scale,
    .fill = vb__cuda_fill,
    .copy = cuda_copy,
    .mul = vb__cuda_mul,
    .col_scale_acc = vb__cuda_col_scale_acc,
    .col_dot_acc = vb__cuda_col_dot_acc,
    .sum = vb__cuda_sum,
    .sumsq = vb__cuda_sumsq,
    .gru_gates_forward = vb__cuda_gru_gates_forward,
    .gru_gates_backward = vb__cuda_gru_gates_backward,
    .s5_scan_forward = vb__cuda_s5_scan_forward,
    .s5_scan_backward = vb__cuda_s5_scan_backward,
    .s5_discretize_forward = vb__cuda_s5_discretize_forward,
    .s5_discretize_backward = vb__cuda_s5_discretize_backward,
    .gauss_sample_forward = vb__cuda_gauss_sample_forward,
    .gauss_sample_backward = vb__cuda_gauss_sample_backward,
    .gauss_logprob_forward = vb__cuda_gauss_logprob_forward,
    .gauss_logprob_backward = vb__cuda_gauss_logprob_backward,
    .gauss_kl_forward = vb__cuda_gauss_kl_forward,
    .gauss_kl_backward = vb__cuda_gauss_kl_backward,
    .cat_xent_forward = vb__cuda_cat_xent_forward,
    .cat_xent_backward = vb__cuda_cat_xent_backward,
    .cat_logprob_forward = vb__cuda_cat_logprob_forward,
    .cat_logprob_backward = vb__cuda_cat_logprob_backward,
    .cat_entropy_forward = vb__cuda_cat_entropy_forward,
    .cat_entropy_backward = vb__cuda_cat_entropy_backward,
    .cat_sample = vb__cuda_cat_sample,
    .bernoulli_loglik_forward = vb__cuda_bernoulli_loglik_forward,
    .bernoulli_loglik_backward = vb__cuda_bernoulli_loglik_backward,
    .adam_update = vb__cuda_adam_update,
};

// What a failed set-up made so far.
static void teardown(void) {
    if (vb__cuda.blas) cublasDestroy(vb__cuda.blas);
    if (vb__cuda.host_sum) cudaFreeHost(vb__cuda.host_sum);
    if (vb__cuda.partials) cudaFree(vb__cuda.partials);
    if (vb__cuda.stream) cudaStreamDestroy(vb__cuda.stream);
    vb__cuda = vb__cuda_ctx{-1, NULL, NULL, NULL, NULL};
}

// Each step of the set-up, with the failing call named in why.
#define INIT_STEP(call, what)                                                                         \
    do {                                                                                              \
        cudaError_t e_ = (call);                                                                      \
        if (e_ != cudaSuccess) {                                                                      \
            teardown();                                                                               \
            return snprintf(why, why_len, "cuda:%d: %s: %s", device, what, cudaGetErrorString(e_)), \
                   (const vb_backend *)NULL;                                                          \
        }                                                                                             \
    } while (0)

extern "C" const vb_backend *vb_backend_cuda(int device, char *why, size_t why_len) {
    if (vb__cuda.device == device) return &cuda_backend;
    if (vb__cuda.device >= 0)
        return snprintf(why, why_len, "cuda:%d: this process already uses cuda:%d (one device per process)", device,
                        vb__cuda.device),
               (const vb_backend *)NULL;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
        return snprintf(why, why_len, "cuda:%d: no usable CUDA device here (%s)", device, cudaGetErrorString(e)),
               (const vb_backend *)NULL;
    INIT_STEP(e, "cudaGetDeviceCount");
    if (device < 0 || device >= n)
        return snprintf(why, why_len, "cuda:%d: this machine has %d CUDA device%s", device, n, n == 1 ? "" : "s"),
               (const vb_backend *)NULL;
    INIT_STEP(cudaSetDevice(device), "cudaSetDevice");
    INIT_STEP(cudaStreamCreateWithFlags(&vb__cuda.stream, cudaStreamNonBlocking), "cudaStreamCreate");
    INIT_STEP(cudaMalloc((void **)&vb__cuda.partials, (VB_REDUCE_BLOCKS + 1) * sizeof(double)), "cudaMalloc");
    INIT_STEP(cudaMallocHost((void **)&vb__cuda.host_sum, sizeof(double)), "cudaMallocHost");
    cublasStatus_t s = cublasCreate(&vb__cuda.blas);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetStream(vb__cuda.blas, vb__cuda.stream);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetMathMode(vb__cuda.blas, CUBLAS_DEFAULT_MATH);
    if (s != CUBLAS_STATUS_SUCCESS) {
        teardown();
        return snprintf(why, why_len, "cuda:%d: cuBLAS set-up: %s", device, vb__cublas_status(s)),
               (const vb_backend *)NULL;
    }
    vb__cuda.device = device;
    return &cuda_backend;
}
