/* fma_peak — this machine's measured FMA ceiling for the benchmarks: every
 * core (or one) running independent FMA chains of the widest vectors it has
 * (AVX-512 where present, else AVX2), in GFLOP/s (an FMA is two FLOPs). */
#ifndef VB_BENCH_FMA_PEAK_H
#define VB_BENCH_FMA_PEAK_H

#include <immintrin.h>
#include <pthread.h>
#include <time.h>

static double peak_now(void) {
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
    double t0 = peak_now();
    for (int i = 0; i < nthreads; i++) {
        jobs[i].iters = iters;
        pthread_create(&th[i], NULL, fma_thread, &jobs[i]);
    }
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    double dt = peak_now() - t0;
    return (double)nthreads * iters * 12 * lanes() * 2 / dt / 1e9;
}

#endif
