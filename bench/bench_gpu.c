/* bench_gpu — the CUDA backend against the CPU one on the same work:
 *   - small-GEMM latency at the GRU step's shape (64 x 192 x 64), queued
 *     back to back, and a 4096^3 SGEMM's rate as the card's measured FP32
 *     peak (no TF32);
 *   - a GRU window forward + backward through common/nn (T 60, B 32, input
 *     40, hidden 64: the gridworld learner's window) on each backend, in
 *     window samples (B T) per second, and the GPU's share of its peak.
 * Where this build or machine has no CUDA device it prints why and exits 0.
 * Output: one "name value unit" per line. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/nn/gru.h"
#include "kernels/backend.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* wait for the device: a download returns once the queue before it ran */
static void sync_dev(const vb_backend *be, const float *d) {
    float x;
    be->download(&x, d, 1);
}

static float *filled(const vb_backend *be, int64_t n, vb_rng *r) {
    float *h = malloc((size_t)n * sizeof(float)), *d = be->alloc(n);
    if (!h || !d) {
        fprintf(stderr, "bench_gpu: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) h[i] = 2.0f * vb_rng_uniform(r) - 1.0f;
    be->upload(d, h, n);
    free(h);
    return d;
}

/* GEMMs of (M, N, K) per second, `reps` queued, then one wait */
static double gemm_rate(const vb_backend *be, int64_t M, int64_t N, int64_t K, int reps, vb_rng *r) {
    float *A = filled(be, M * K, r), *B = filled(be, K * N, r), *C = filled(be, M * N, r);
    be->gemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    sync_dev(be, C);
    double t0 = now();
    for (int i = 0; i < reps; i++) be->gemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    sync_dev(be, C);
    double dt = now() - t0;
    be->release(A), be->release(B), be->release(C);
    return reps / dt;
}

/* GRU windows (forward + backward) per second */
static double gru_rate(const vb_backend *be, int64_t T, int64_t B, int64_t in, int64_t H, double min_s) {
    vb_gru g;
    vb_layout lay;
    vb_layout_init(&lay);
    if (vb_gru_layout(&g, &lay, "gru", in, H) != 0) return -1;
    vb_rng r;
    vb_rng_init(&r, 1, 0);
    float *Ph = calloc((size_t)lay.total, sizeof(float));
    vb_gru_init(&g, Ph, &r);
    float *P = be->alloc(lay.total), *G = be->alloc(lay.total);
    be->upload(P, Ph, lay.total);
    free(Ph);
    float *x = filled(be, T * B * in, &r), *h0 = filled(be, B * H, &r), *hs = be->alloc(T * B * H),
          *dhs = filled(be, T * B * H, &r), *dx = be->alloc(T * B * in), *dh0 = be->alloc(B * H),
          *cache = be->alloc(vb_gru_seq_cache_floats(&g, T, B)), *scratch = be->alloc(vb_gru_seq_scratch_floats(&g, T, B));
    int n = 0;
    double t0 = now(), dt;
    do {
        vb_gru_seq_forward(be, &g, P, hs, x, h0, NULL, cache, T, B, 1);
        vb_gru_seq_backward(be, &g, P, G, dx, dh0, dhs, x, NULL, cache, scratch, T, B, 1);
        if (++n % 8 == 0) sync_dev(be, G);
        dt = now() - t0;
    } while (dt < min_s || n % 8);
    float *bufs[] = {P, G, x, h0, hs, dhs, dx, dh0, cache, scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->release(bufs[i]);
    return n / dt;
}

int main(void) {
    char why[256];
    const vb_backend *gpu = vb_backend_cuda(0, why, sizeof why), *cpu = vb_backend_cpu();
    if (!gpu) {
        printf("gpu skipped (%s)\n", why);
        return 0;
    }
    vb_rng r;
    vb_rng_init(&r, 2, 0);
    const double small = gemm_rate(gpu, 64, 192, 64, 20000, &r);
    printf("gpu_gemm_64x192x64_latency %.2f us\n", 1e6 / small);
    const double big = gemm_rate(gpu, 4096, 4096, 4096, 20, &r), peak = big * 2.0 * 4096.0 * 4096.0 * 4096.0;
    printf("gpu_sgemm_4096_peak %.1f GFLOP/s\n", peak / 1e9);
    const int64_t T = 60, B = 32, in = 40, H = 64;
    /* forward: 2 (in + H) 3H per row-step; backward twice that */
    const double flop = 3.0 * 2.0 * (double)(in + H) * 3.0 * (double)H * (double)(T * B);
    cpu->set_threads(0);
    const double c = gru_rate(cpu, T, B, in, H, 2.0), g = gru_rate(gpu, T, B, in, H, 2.0);
    printf("cpu_gru_window_t60_b32_h64 %.0f samples/s\n", c * (double)(T * B));
    printf("gpu_gru_window_t60_b32_h64 %.0f samples/s\n", g * (double)(T * B));
    printf("gpu_over_cpu_gru_window %.2f x\n", g / c);
    printf("gpu_gru_window_share_of_peak %.4f\n", g * flop / peak);
    return 0;
}
