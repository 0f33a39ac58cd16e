/* simd_clones — VB_SIMD_CLONES compiles a hot elementwise loop for AVX-512,
 * AVX2 and baseline x86-64, picked at load time (GCC's target_clones). The
 * project builds with -std=c11, which keeps floating-point contraction off,
 * so every clone computes bit-identical results. Empty elsewhere (and under
 * the sanitizers, whose builds need no dispatch). */
#ifndef VB_SIMD_CLONES_H
#define VB_SIMD_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VB_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VB_SIMD_CLONES
#endif

#endif
