/* bench_numerics — GEMM throughput for the model's shapes against this
 * machine's measured FMA peak, and recurrent-layer forward+backward rates.
 * Output: one "name value unit" per line (stable, parseable). */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/blas_core.h"
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

/* Independent FMA chains (more than latency x ports on current x86 cores),
 * kept in named registers so that nothing goes through memory; distinct
 * starting values keep the compiler from merging identical chains. */
#define FMA_CHAINS(V, FMA)                                                                   \
    V a0 = x, a1 = x + 1, a2 = x + 2, a3 = x + 3, a4 = x + 4, a5 = x + 5, a6 = x + 6, a7 = x + 7,    \
      a8 = x + 8, a9 = x + 9, a10 = x + 10, a11 = x + 11;                                    \
    for (long k = 0; k < iters; k++) {                                                       \
        a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);       \
        a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);       \
        a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);   \
    }                                                                                        \
    V sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;

__attribute__((target("avx2,fma"))) static float fma_kernel_avx2(long iters) {
    __m256 x = _mm256_set1_ps(1.0f), m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
    FMA_CHAINS(__m256, _mm256_fmadd_ps)
    return sum[0];
}

__attribute__((target("avx512f"))) static float fma_kernel_avx512(long iters) {
    __m512 x = _mm512_set1_ps(1.0f), m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    FMA_CHAINS(__m512, _mm512_fmadd_ps)
    return sum[0];
}

static int lanes(void) { return __builtin_cpu_supports("avx512f") ? 16 : 8; }

static float fma_kernel(long iters) {
    return lanes() == 16 ? fma_kernel_avx512(iters) : fma_kernel_avx2(iters);
}

typedef struct { long iters; float sink; } fma_job;
static void *fma_thread(void *arg) {
    fma_job *j = arg;
    j->sink = fma_kernel(j->iters);
    return NULL;
}

/* GFLOP/s of nthreads cores running the FMA kernel together. */
static double fma_peak(int nthreads) {
    if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) return 0;
    const long iters = 50000000;
    pthread_t th[64];
    fma_job jobs[64];
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        jobs[i].iters = iters;
        pthread_create(&th[i], NULL, fma_thread, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    double dt = now() - t0;
    return (double)nthreads * iters * 12 * lanes() * 2 / dt / 1e9;
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

static double bench_gru(const vb_backend *be, int64_t H, int64_t B, int64_t T) {
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
    int reps = 0;
    double t0 = now(), dt;
    do {
        vb_gru_seq_forward(be, &g, P, hs, x, h0, NULL, cache, T, B);
        vb_gru_seq_backward(be, &g, P, G, dx, NULL, hs, x, NULL, cache, scratch, T, B);
        reps++;
        dt = now() - t0;
    } while (dt < 0.5);
    free(P); free(G); free(x); free(dx); free(h0); free(hs); free(cache); free(scratch);
    return (double)T * reps / dt;
}

static double bench_s5(const vb_backend *be, int64_t H, int64_t B, int64_t T) {
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
    float *scratch = calloc((size_t)vb_s5_scan_scratch_floats(&s, T, B), sizeof(float));
    for (int64_t i = 0; i < T * B * H; i++) u[i] = 0.01f * (float)(i % 13);
    int reps = 0;
    double t0 = now(), dt;
    do {
        vb_s5_scan_forward(be, &s, P, y, u, x0, NULL, cache, T, B);
        vb_s5_scan_backward(be, &s, P, G, du, NULL, y, u, x0, NULL, cache, scratch, T, B);
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
    float *scratch = calloc((size_t)vb_s5_assoc_scratch_floats(T, B, P), sizeof(float)), glam[2 * 256] = {0};
    uint8_t *reset = calloc((size_t)(T * B), 1);
    for (size_t i = 0; i < 2 * n; i++) v[i] = vb_rng_normal(&r), gx[i] = vb_rng_normal(&r);
    for (int64_t i = 0; i < T * B; i++) reset[i] = i % 15 == 0;
    int reps = 0;
    double t0 = now(), dt;
    do {
        if (assoc) {
            vb_s5_assoc_forward(xs, v, lam, x0, reset, scratch, T, B, P);
            vb_s5_assoc_backward(gv, glam, g0, gx, xs, lam, x0, reset, scratch, T, B, P);
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

int main(int argc, char **argv) {
    (void)argc;
    vb_blas_core_select(argv);
    printf("openblas_core %s\n", vb_blas_core_name());
    const vb_backend *be = vb_backend_cpu();
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
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
    const int64_t B = 64, T = 32;
    for (int64_t H = 128; H <= 256; H *= 2) {
        printf("gru_h%lld_b%lld_fwd_bwd %.0f steps/s\n", (long long)H, (long long)B, bench_gru(be, H, B, T));
        printf("s5_h%lld_p%lld_b%lld_fwd_bwd %.0f steps/s\n", (long long)H, (long long)H, (long long)B,
               bench_s5(be, H, B, T));
    }
    for (int64_t P = 64; P <= 256; P *= 4) {
        double fold = bench_s5_recurrence(be, 0, T, B, P), assoc = bench_s5_recurrence(be, 1, T, B, P);
        printf("s5_recurrence_fold_t%lld_b%lld_p%lld %.0f steps/s\n", (long long)T, (long long)B, (long long)P, fold);
        printf("s5_recurrence_assoc_t%lld_b%lld_p%lld %.0f steps/s\n", (long long)T, (long long)B, (long long)P, assoc);
        printf("s5_recurrence_assoc_over_fold_t%lld_p%lld %.3f ratio\n", (long long)T, (long long)P, assoc / fold);
    }
    return 0;
}
