/* bench_numerics — GEMM throughput for the model's shapes against this
 * machine's measured FMA peak, each recurrent product of a GRU step on the
 * packed kernel against OpenBLAS, and recurrent-layer forward+backward rates
 * (the GRU window's also as a share of the peak). With --gru only the GRU
 * window, on 1 thread and on 2 (make bench-peers compares it with PyTorch
 * and JAX). Output: one "name value unit" per line (stable, parseable). */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/blas_core.h"
#include "best_rate.h"
#include "fma_peak.h"
#include "common/base/crc32c.h"
#include "common/base/rng.h"
#include "common/nn/gru.h"
#include "common/nn/s5.h"
#include "common/nn/s5_assoc.h"
#include "kernels/backend.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CRC-32C throughput in GB/s over a 10 MB buffer (a weight broadcast's size). */
static double bench_crc(uint32_t (*crc)(uint32_t, const void *, size_t)) {
    size_t n = 10u << 20;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 131u);
    volatile uint32_t sink = 0;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        sink ^= crc(0, buf, n);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(buf);
    (void)sink;
    return (double)n / best / 1e9;
}

static double bench_gemm(const vb_backend *be, int64_t M, int64_t N, int64_t K) {
    float *A = calloc((size_t)(M * K), sizeof(float)), *B = calloc((size_t)(K * N), sizeof(float)),
          *C = calloc((size_t)(M * N), sizeof(float));
    for (int64_t i = 0; i < M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < K * N; i++) B[i] = (float)(i % 5) * 0.1f;
    be->gemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N); /* warm-up */
    int reps = 0;
    double t0 = now(), dt;
    do {
        be->gemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        reps++;
        dt = now() - t0;
    } while (dt < 0.25);
    free(A);
    free(B);
    free(C);
    return 2.0 * (double)M * N * K * reps / dt / 1e9;
}

/* One step's recurrent product of a GRU window, GFLOP/s on one thread, as
 * each of the three GEMMs of a step is made (the kernel reads W packed once,
 * be->gemm_packed; packed 0: OpenBLAS, which packs at every call):
 * which 0: hg(B,3H) = h W^T + b, 1: dh(B,H) += dhg W. (The third, dW(3H,H)
 * += dhg^T h, stays with OpenBLAS: with the carries packed at every step and
 * dhg read transposed, the kernel was no faster there.) */
static double bench_step_product(const vb_backend *be, int which, bool packed, int64_t H, int64_t B) {
    const int64_t M = B, N = which == 0 ? 3 * H : H, K = which == 0 ? H : 3 * H;
    float *A = calloc((size_t)(M * K), sizeof(float)), *W = calloc((size_t)(N * K), sizeof(float)),
          *C = calloc((size_t)(M * N), sizeof(float)), *b = calloc((size_t)N, sizeof(float)),
          *Wp = calloc((size_t)vb_packed_floats(N, K), sizeof(float));
    for (int64_t i = 0; i < M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < N * K; i++) W[i] = (float)(i % 5) * 0.1f;
    /* as the window holds it: W_h (3H,H) is W (N,K) forward and (K,N) for dh */
    const bool w_kn = which != 0, add = which != 0;
    if (packed) be->pack_weights(Wp, W, which == 0 ? b : NULL, N, K, w_kn);
    int reps = 0;
    double t0 = now(), dt;
    do {
        if (packed) {
            be->gemm_packed(C, A, Wp, W, which == 0 ? b : NULL, M, N, K, w_kn, add);
        } else {
            if (which == 0) be->bias_fill(C, b, M, N);
            be->gemm(false, !w_kn, M, N, K, 1.0f, A, K, W, w_kn ? N : K, 1.0f, C, N);
        }
        reps++;
        dt = now() - t0;
    } while (dt < 0.3);
    free(A), free(W), free(C), free(b), free(Wp);
    return 2.0 * (double)(M * N * K) * reps / dt / 1e9;
}

/* one window forward and backward (bench_gru's call) */
typedef struct gru_call {
    const vb_backend *be;
    const vb_gru *g;
    const float *P, *x, *h0;
    float *G, *hs, *dx, *cache, *scratch;
    int64_t T, B;
    int threads;
} gru_call;

static void gru_window_call(void *ctx) {
    const gru_call *c = ctx;
    vb_gru_seq_forward(c->be, c->g, c->P, c->hs, c->x, c->h0, NULL, c->cache, c->T, c->B, c->threads);
    vb_gru_seq_backward(c->be, c->g, c->P, c->G, c->dx, NULL, c->hs, c->x, NULL, c->cache, c->scratch, c->T, c->B,
                        c->threads);
}

/* threads > 1: the window threaded over the batch (gru.h); steps/s, the best
 * of 0.5 s in slices (best_rate.h) */
static double bench_gru(const vb_backend *be, int64_t H, int64_t B, int64_t T, int threads) {
    vb_rng r;
    vb_rng_init(&r, 1, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    vb_gru g;
    vb_gru_layout(&g, &lay, "gru", H, H);
    float *P = calloc((size_t)lay.total, sizeof(float)), *G = calloc((size_t)lay.total, sizeof(float));
    vb_gru_init(&g, P, &r);
    float *x = calloc((size_t)(T * B * H), sizeof(float)), *dx = calloc((size_t)(T * B * H), sizeof(float));
    float *h0 = calloc((size_t)(B * H), sizeof(float)), *hs = calloc((size_t)(T * B * H), sizeof(float));
    float *cache = calloc((size_t)vb_gru_seq_cache_floats(&g, T, B), sizeof(float));
    float *scratch = calloc((size_t)vb_gru_seq_scratch_floats(&g, T, B), sizeof(float));
    for (int64_t i = 0; i < T * B * H; i++) x[i] = 0.01f * (float)(i % 13);
    gru_call c = {be, &g, P, x, h0, G, hs, dx, cache, scratch, T, B, threads};
    gru_window_call(&c); /* warm-up */
    const double rate = best_rate(gru_window_call, &c, 0.5);
    free(P); free(G); free(x); free(dx); free(h0); free(hs); free(cache); free(scratch);
    return (double)T * rate;
}

static double bench_s5(const vb_backend *be, int64_t H, int64_t B, int64_t T, int threads) {
    vb_rng r;
    vb_rng_init(&r, 1, 0);
    vb_layout lay;
    vb_layout_init(&lay);
    vb_s5 s;
    vb_s5_layout(&s, &lay, "s5", H, H);
    float *P = calloc((size_t)lay.total, sizeof(float)), *G = calloc((size_t)lay.total, sizeof(float));
    vb_s5_init(&s, P, &r);
    float *u = calloc((size_t)(T * B * H), sizeof(float)), *du = calloc((size_t)(T * B * H), sizeof(float));
    float *x0 = calloc((size_t)(2 * B * H), sizeof(float)), *y = calloc((size_t)(T * B * H), sizeof(float));
    float *cache = calloc((size_t)vb_s5_scan_cache_floats(&s, T, B), sizeof(float));
    float *scratch = calloc((size_t)vb_s5_scan_scratch_floats(&s, T, B, threads), sizeof(float));
    for (int64_t i = 0; i < T * B * H; i++) u[i] = 0.01f * (float)(i % 13);
    int reps = 0;
    double t0 = now(), dt;
    do {
        vb_s5_scan_forward(be, &s, P, y, u, x0, NULL, cache, T, B, threads);
        vb_s5_scan_backward(be, &s, P, G, du, NULL, y, u, x0, NULL, cache, scratch, T, B, threads);
        reps++;
        dt = now() - t0;
    } while (dt < 0.5);
    free(P); free(G); free(u); free(du); free(x0); free(y); free(cache); free(scratch);
    return (double)T * reps / dt;
}

/* The S5 recurrence alone (forward + backward) over a window: the backend's
 * sequential fold against the associative scan the learner unrolls with
 * (what a device runs in parallel; on the CPU it does O(T log T) work).
 * Steps per second. */
static double bench_s5_recurrence(const vb_backend *be, int assoc, int64_t T, int64_t B, int64_t P) {
    const size_t n = (size_t)T * (size_t)B * (size_t)P, bp = (size_t)B * (size_t)P;
    vb_rng r;
    vb_rng_init(&r, 2, 0);
    float lam[2 * 256];
    for (int64_t p = 0; p < P; p++) lam[p] = 0.9f, lam[P + p] = 0.1f;
    float *v = calloc(2 * n, sizeof(float)), *xs = calloc(2 * n, sizeof(float));
    float *gx = calloc(2 * n, sizeof(float)), *gv = calloc(2 * n, sizeof(float));
    float *x0 = calloc(2 * bp, sizeof(float)), *g0 = calloc(2 * bp, sizeof(float));
    float *scratch = calloc((size_t)vb_s5_assoc_scratch_floats(T, B, P, 1), sizeof(float)), glam[2 * 256] = {0};
    uint8_t *reset = calloc((size_t)(T * B), 1);
    for (size_t i = 0; i < 2 * n; i++) v[i] = vb_rng_normal(&r), gx[i] = vb_rng_normal(&r);
    for (int64_t i = 0; i < T * B; i++) reset[i] = i % 15 == 0;
    int reps = 0;
    double t0 = now(), dt;
    do {
        if (assoc) {
            vb_s5_assoc_forward(xs, v, lam, x0, reset, scratch, T, B, P, 1);
            vb_s5_assoc_backward(gv, glam, g0, gx, xs, lam, x0, reset, scratch, T, B, P, 1);
        } else {
            be->s5_scan_forward(xs, v, lam, x0, reset, T, B, P);
            be->s5_scan_backward(gv, glam, g0, gx, xs, lam, x0, reset, T, B, P);
        }
        reps++;
        dt = now() - t0;
    } while (dt < 0.5);
    free(v); free(xs); free(gx); free(gv); free(x0); free(g0); free(scratch); free(reset);
    return (double)T * reps / dt;
}

/* The GRU window on 1 thread and on every core (bench-peers: the C side of
 * bench/peers/gru_window.py, the same shapes and FLOP count): on every core
 * threaded over the batch (the _threadsN line) and, for comparison, as one
 * unroll whose GEMMs OpenBLAS splits (_blas_threadsN). */
static void gru_threads(const vb_backend *be, int cores) {
    const int64_t B = 64, T = 32;
    for (int64_t H = 128; H <= 256; H *= 2) {
        be->set_threads(1);
        printf("varibased_gru_h%lld_b%lld_fwd_bwd_threads1 %.0f steps/s\n", (long long)H, (long long)B,
               bench_gru(be, H, B, T, 1));
        if (cores < 2) continue;
        be->set_threads(cores);
        printf("varibased_gru_h%lld_b%lld_fwd_bwd_threads%d %.0f steps/s\n", (long long)H, (long long)B, cores,
               bench_gru(be, H, B, T, cores));
        printf("varibased_gru_h%lld_b%lld_fwd_bwd_blas_threads%d %.0f steps/s\n", (long long)H, (long long)B, cores,
               bench_gru(be, H, B, T, 1));
    }
    be->set_threads(cores);
}

int main(int argc, char **argv) {
    vb_blas_core_select(argv);
    const vb_backend *be = vb_backend_cpu();
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (argc > 1 && strcmp(argv[1], "--gru") == 0) {
        gru_threads(be, cores > 2 ? 2 : cores);
        return 0;
    }
    printf("openblas_core %s\n", vb_blas_core_name());
    be->set_threads(cores);
    double peak1 = fma_peak(1), peakn = fma_peak(cores);
    printf("cpu_cores %d count\n", cores);
    printf("fma_peak_1core %.1f GFLOP/s\n", peak1);
    printf("fma_peak_all_cores %.1f GFLOP/s\n", peakn);
    double crc_fast = bench_crc(vb_crc32c), crc_table = bench_crc(vb_crc32c_table);
    printf("crc32c_%s %.2f GB/s\n", vb_crc32c_hw() ? "sse42" : "tables", crc_fast);
    printf("crc32c_tables %.2f GB/s\n", crc_table);
    printf("crc32c_over_tables %.2f ratio\n", crc_fast / crc_table);
    const int64_t batches[] = {256, 1024, 4096, 16384}, hiddens[] = {64, 128, 256, 512};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int64_t M = batches[i], H = hiddens[j];
            double g = bench_gemm(be, M, H, H);
            printf("gemm_%lldx%lldx%lld %.1f GFLOP/s\n", (long long)M, (long long)H, (long long)H, g);
            if (peakn > 0)
                printf("gemm_%lldx%lldx%lld_of_peak %.3f fraction\n", (long long)M, (long long)H, (long long)H,
                       g / peakn);
        }
    /* each recurrent product of a window's step, on the kernel with W packed once and on OpenBLAS */
    be->set_threads(1);
    static const char *const products[2] = {"h_wt", "dhg_w"};
    for (int64_t H = 128; H <= 256; H *= 2)
        for (int which = 0; which < 2; which++) {
            const double packed = bench_step_product(be, which, true, H, 64), blas = bench_step_product(be, which, false, H, 64);
            printf("gru_step_%s_h%lld_b64_packed %.1f GFLOP/s\n", products[which], (long long)H, packed);
            printf("gru_step_%s_h%lld_b64_openblas %.1f GFLOP/s\n", products[which], (long long)H, blas);
            printf("gru_step_%s_h%lld_b64_packed_over_openblas %.2f ratio\n", products[which], (long long)H, packed / blas);
        }
    be->set_threads(cores);
    /* the peers' windows (batch 64, 32 steps, H 128 and 256) and the gridworld learner's (32 windows of
     * 60 steps and the bootstrap step, H 64); input size H throughout */
    const int64_t gru_shapes[3][3] = {{128, 64, 32}, {256, 64, 32}, {64, 32, 61}};
    for (int i = 0; i < 3; i++) {
        const int64_t H = gru_shapes[i][0], B = gru_shapes[i][1], T = gru_shapes[i][2];
        char tag[64];
        snprintf(tag, sizeof tag, "gru_h%lld_b%lld_t%lld", (long long)H, (long long)B, (long long)T);
        /* OpenBLAS's threads split each GEMM; then the window threaded over the batch */
        double gru = bench_gru(be, H, B, T, 1), gru_batch = bench_gru(be, H, B, T, cores);
        printf("%s_fwd_bwd %.0f steps/s\n", tag, gru);
        printf("%s_fwd_bwd_batch_threads %.0f steps/s\n", tag, gru_batch);
        printf("%s_batch_threads_over_blas_threads %.2f ratio\n", tag, gru_batch / gru);
        /* the six GEMMs of a step, forward and backward, 2 x B x 3H x H FLOPs each (input size H) */
        if (peakn > 0)
            printf("%s_fwd_bwd_batch_threads_of_peak %.3f fraction\n", tag,
                   gru_batch * 36.0 * (double)(B * H * H) / 1e9 / peakn);
    }
    const int64_t B = 64, T = 32;
    for (int64_t H = 128; H <= 256; H *= 2) {
        printf("s5_h%lld_p%lld_b%lld_fwd_bwd %.0f steps/s\n", (long long)H, (long long)H, (long long)B,
               bench_s5(be, H, B, T, 1));
        printf("s5_h%lld_p%lld_b%lld_fwd_bwd_batch_threads %.0f steps/s\n", (long long)H, (long long)H, (long long)B,
               bench_s5(be, H, B, T, cores));
    }
    for (int64_t P = 64; P <= 256; P *= 4) {
        double fold = bench_s5_recurrence(be, 0, T, B, P), assoc = bench_s5_recurrence(be, 1, T, B, P);
        printf("s5_recurrence_fold_t%lld_b%lld_p%lld %.0f steps/s\n", (long long)T, (long long)B, (long long)P, fold);
        printf("s5_recurrence_assoc_t%lld_b%lld_p%lld %.0f steps/s\n", (long long)T, (long long)B, (long long)P, assoc);
        printf("s5_recurrence_assoc_over_fold_t%lld_p%lld %.3f ratio\n", (long long)T, (long long)P, assoc / fold);
    }
    return 0;
}
