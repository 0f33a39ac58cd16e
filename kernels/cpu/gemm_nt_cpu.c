/* gemm_nt_cpu — C(M,N) = b + A(M,K) W(N,K)^T for the model's small layers,
 * with the caller's epilogue run on each group of rows while it is in cache.
 *
 * A linear layer's forward through OpenBLAS is three passes over its output
 * (the bias broadcast, the GEMM with beta 1, the activation) and a packing
 * of A at every call; at the model's shapes (N and K of 5 to 384) that is
 * as much time as the multiply. Here W^T is packed once per call into
 * panels of NR columns (zero-padded), A is read in place a row block of MR
 * rows at a time, each MR x NR tile is summed in registers over all of K
 * starting from the bias, and stored (with its ReLU too where asked, from
 * the registers); a group of row blocks goes to the epilogue (any other
 * activation) before the next group is computed.
 *
 * Kernels: AVX-512 (MR 8, NR 32: 16 accumulators) and AVX2 + FMA (MR 6,
 * NR 16: 12 accumulators), chosen once at run time; a last panel of at most
 * NR / 2 columns (a policy's 5 logits) runs half as wide, and N 1 (a value
 * head) is a dot product per row, left to BLAS. Each output is
 * b[n] + sum over k in order 0..K-1 of A[m,k] W[n,k], one fused
 * multiply-add at a time, so both kernels give the same bits. Elsewhere
 * (no AVX2, other architectures) it declines and the caller takes the BLAS
 * path. The linear layers' forward calls it, packing W per call, and so do
 * the GRU window's recurrent products, with W_h packed once per window
 * (vb__cpu_gemm_pack): at 64 rows, packing at every call costs as much as
 * it gains against OpenBLAS, and without it the kernel runs at 1.3-1.5x
 * OpenBLAS's speed. Plain GEMMs of many rows stay with OpenBLAS, whose
 * SkylakeX kernels are 1.0-1.1x this one there. */
#include "cpu_ops.h"

#include "../backend.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VB_GEMM_NT_X86 1
#include <immintrin.h>
#endif

#ifdef VB_GEMM_NT_X86
enum { PACK_MAX = 1 << 20 }; /* floats of packed W^T per thread (4 MiB) */
enum { GROUP_BYTES = 32 << 10, GROUP_BLOCKS = 16 }; /* A per group of row blocks */

/* the packed panels, one buffer per thread, freed when the thread exits */
static pthread_key_t pack_key;
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;
static int isa; /* 2 AVX-512, 1 AVX2 + FMA, 0 neither */

typedef struct pack_buf {
    float *p;
    int64_t cap;
} pack_buf;

static void pack_free(void *v) {
    pack_buf *b = v;
    free(b->p);
    free(b);
}

static void pack_init(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) isa = 2;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = 1;
    if (pthread_key_create(&pack_key, pack_free) != 0) isa = 0;
}

static float *pack_space(int64_t n) {
    pack_buf *b = pthread_getspecific(pack_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || pthread_setspecific(pack_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap < n) {
        float *p = NULL;
        if (posix_memalign((void **)&p, 64, (size_t)n * sizeof(float)) != 0) return NULL;
        free(b->p);
        b->p = p;
        b->cap = n;
    }
    return b->p;
}

/* Wp[panel][k][j] = W[panel NR + j, k] (w_kn: W[k, panel NR + j]), zero past N */
static void pack_w(float *Wp, const float *W, int64_t N, int64_t K, int nr, bool w_kn) {
    for (int64_t n0 = 0; n0 < N; n0 += nr) {
        float *d = Wp + n0 * K;
        const int64_t w = N - n0 < nr ? N - n0 : nr;
        for (int64_t k = 0; k < K; k++) {
            if (w_kn) memcpy(d + k * nr, W + k * N + n0, (size_t)w * sizeof(float));
            else
                for (int64_t j = 0; j < w; j++) d[k * nr + j] = W[(n0 + j) * K + k];
            for (int64_t j = w; j < nr; j++) d[k * nr + j] = 0.0f;
        }
    }
}

/* One tile: rows [0, mr) of A (row stride K) times COLS vectors of L
 * columns of the panel Bp (K rows of 2L), plus the panel's bias bp (NULL:
 * none) and, where add is set, C's own values, into C (row stride N) at
 * columns [0, w). ROWS and COLS are constants in each instance, so that the
 * accumulators stay in registers;
 * LIMIT is ROWS for a full block (the row test folds away) and mr for the
 * last, shorter one. A last panel of at most L columns takes COLS 1. */
#define TILE_BODY(VT, LOAD, SET1, FMA, MAX, ADD, STORE, PLOAD, PSTORE, L, ROWS, COLS, LIMIT)             \
    VT acc[ROWS][COLS];                                                                                  \
    for (int j = 0; j < COLS; j++) {                                                                     \
        const VT init = bp ? LOAD(bp + j * L) : SET1(0.0f);                                              \
        for (int r = 0; r < ROWS; r++) acc[r][j] = init;                                                 \
    }                                                                                                    \
    if (add) {                                                                                           \
        for (int r = 0; r < ROWS; r++) {                                                                 \
            if (r >= LIMIT) break;                                                                       \
            for (int j = 0; j < COLS; j++)                                                               \
                acc[r][j] = ADD(acc[r][j], w == COLS * L ? LOAD(C + r * N + j * L) : PLOAD(C + r * N, j, w));\
        }                                                                                                \
    }                                                                                                    \
    for (int64_t k = 0; k < K; k++) {                                                                    \
        VT bk[COLS];                                                                                     \
        for (int j = 0; j < COLS; j++) bk[j] = LOAD(Bp + k * 2 * L + j * L);                              \
        for (int r = 0; r < ROWS; r++) {                                                                 \
            if (r < LIMIT) {                                                                             \
                const VT a = SET1(A[r * K + k]);                                                         \
                for (int j = 0; j < COLS; j++) acc[r][j] = FMA(a, bk[j], acc[r][j]);                     \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    const VT zero = SET1(0.0f);                                                                          \
    for (int r = 0; r < ROWS; r++) {                                                                     \
        if (r >= LIMIT) break;                                                                           \
        float *c = C + r * N, *o = O ? O + r * N : NULL;                                                 \
        if (w == COLS * L) {                                                                             \
            for (int j = 0; j < COLS; j++) {                                                             \
                if (o != c) STORE(c + j * L, acc[r][j]);                                                 \
                if (o) STORE(o + j * L, MAX(acc[r][j], zero));                                           \
            }                                                                                            \
        } else {                                                                                         \
            if (o != c) PSTORE(c, acc[r][0], acc[r][COLS - 1], w);                                       \
            if (o) PSTORE(o, MAX(acc[r][0], zero), MAX(acc[r][COLS - 1], zero), w);                      \
        }                                                                                                \
    }

#define TILE_ARGS                                                                                        \
    float *C, float *O, const float *A, const float *Bp, const float *bp, int64_t N, int64_t K, int mr, int64_t w, \
        bool add

enum { AVX512_MR = 8, AVX512_L = 16, AVX2_MR = 6, AVX2_L = 8 };

/* the first w < 2 L columns of a tile row: x0 then x1 (x1 unused when w <= L) */
__attribute__((target("avx512f"))) static inline void store_part_avx512(float *c, __m512 x0, __m512 x1, int64_t w) {
    const __mmask16 m0 = (__mmask16)(w >= 16 ? 0xffffu : (1u << w) - 1);
    const __mmask16 m1 = (__mmask16)(w <= 16 ? 0u : (1u << (w - 16)) - 1);
    _mm512_mask_storeu_ps(c, m0, x0);
    if (m1) _mm512_mask_storeu_ps(c + 16, m1, x1);
}
/* vector j (0 or 1) of the first w < 2 L columns of a tile row, zero past w */
__attribute__((target("avx512f"))) static inline __m512 load_part_avx512(const float *c, int j, int64_t w) {
    const int64_t n = w - 16 * j;
    const __mmask16 m = (__mmask16)(n >= 16 ? 0xffffu : n <= 0 ? 0u : (1u << n) - 1);
    return _mm512_maskz_loadu_ps(m, c + 16 * j);
}
__attribute__((target("avx2,fma"))) static inline __m256 load_part_avx2(const float *c, int j, int64_t w) {
    const int64_t n = w - 8 * j;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : n > 8 ? 8 : n)), lane);
    return _mm256_maskload_ps(c + 8 * j, mask);
}
__attribute__((target("avx2,fma"))) static inline void store_part_avx2(float *c, __m256 x0, __m256 x1, int64_t w) {
    float t[16];
    _mm256_storeu_ps(t, x0);
    _mm256_storeu_ps(t + 8, x1);
    memcpy(c, t, (size_t)w * sizeof(float));
}

#define AVX512_TILE(NAME, COLS, LIMIT)                                                                    \
    __attribute__((target("avx512f"))) static void NAME(TILE_ARGS) {                                     \
        TILE_BODY(__m512, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_max_ps, _mm512_add_ps,    \
                  _mm512_storeu_ps, load_part_avx512, store_part_avx512, AVX512_L, AVX512_MR, COLS, LIMIT)  \
    }
#define AVX2_TILE(NAME, COLS, LIMIT)                                                                      \
    __attribute__((target("avx2,fma"))) static void NAME(TILE_ARGS) {                                    \
        TILE_BODY(__m256, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_max_ps, _mm256_add_ps,    \
                  _mm256_storeu_ps, load_part_avx2, store_part_avx2, AVX2_L, AVX2_MR, COLS, LIMIT)          \
    }
/* [cols - 1][full block] */
AVX512_TILE(avx512_1_full, 1, AVX512_MR)
AVX512_TILE(avx512_1_part, 1, mr)
AVX512_TILE(avx512_2_full, 2, AVX512_MR)
AVX512_TILE(avx512_2_part, 2, mr)
AVX2_TILE(avx2_1_full, 1, AVX2_MR)
AVX2_TILE(avx2_1_part, 1, mr)
AVX2_TILE(avx2_2_full, 2, AVX2_MR)
AVX2_TILE(avx2_2_part, 2, mr)

typedef void (*tile_fn)(TILE_ARGS);

/* the panel width of the kernel in use (0: none) */
static int panel_width(void) {
    pthread_once(&pack_once, pack_init);
    return isa == 2 ? 2 * AVX512_L : isa == 1 ? 2 * AVX2_L : 0;
}

/* W's panels and then its bias (zero-padded like them), at Wp */
static void pack_all(float *Wp, const float *W, const float *b, int64_t N, int64_t K, bool w_kn, int nr) {
    const int64_t padded = (N + nr - 1) / nr * nr;
    pack_w(Wp, W, N, K, nr, w_kn);
    float *bp = Wp + padded * K;
    if (b) memcpy(bp, b, (size_t)N * sizeof(float));
    else memset(bp, 0, (size_t)N * sizeof(float));
    memset(bp + N, 0, (size_t)(padded - N) * sizeof(float));
}

static void run_tiles(float *C, float *relu, const float *A, const float *Wp, bool bias, int64_t M, int64_t N,
                      int64_t K, bool add, void (*rows_done)(void *ctx, int64_t row0, int64_t rows), void *ctx) {
    const int mr = isa == 2 ? AVX512_MR : AVX2_MR, nr = panel_width();
    const int64_t panels = (N + nr - 1) / nr;
    const float *bp = bias ? Wp + panels * nr * K : NULL;
    static const tile_fn tiles[3][2][2] = {{{NULL}},
                                           {{avx2_1_part, avx2_1_full}, {avx2_2_part, avx2_2_full}},
                                           {{avx512_1_part, avx512_1_full}, {avx512_2_part, avx512_2_full}}};
    /* rows in groups of at most GROUP_BLOCKS row blocks whose A fits in L1
     * beside a panel: each panel is read from L2 once per group, not once per
     * row block (2048 x 384 x 128: 1.05-1.1x), and the epilogue runs on each
     * group's rows */
    int64_t group = (int64_t)(GROUP_BYTES / ((int64_t)sizeof(float) * K)) / mr * mr;
    if (group > GROUP_BLOCKS * mr) group = GROUP_BLOCKS * mr;
    if (group < mr) group = mr;
    for (int64_t g0 = 0; g0 < M; g0 += group) {
        const int64_t g1 = M - g0 < group ? M : g0 + group;
        for (int64_t p = 0; p < panels; p++) {
            const int64_t n0 = p * nr, w = N - n0 < nr ? N - n0 : nr;
            for (int64_t m0 = g0; m0 < g1; m0 += mr) {
                const int rows = g1 - m0 < mr ? (int)(g1 - m0) : mr;
                tiles[isa][w > nr / 2][rows == mr](C + m0 * N + n0, relu ? relu + m0 * N + n0 : NULL, A + m0 * K,
                                                   Wp + n0 * K, bp ? bp + n0 : NULL, N, K, rows, w, add);
            }
        }
        if (rows_done) rows_done(ctx, g0, g1 - g0);
    }
}
#endif

int vb__cpu_gemm_nt_isa(int want) {
#ifdef VB_GEMM_NT_X86
    pthread_once(&pack_once, pack_init);
    static int best = -1;
    if (best < 0) best = isa;
    if (want >= 0 && want <= best) isa = want;
    return isa;
#else
    (void)want;
    return 0;
#endif
}

int vb__cpu_gemm_pack(float *Wp, const float *W, const float *b, int64_t N, int64_t K, bool w_kn) {
#ifdef VB_GEMM_NT_X86
    const int nr = panel_width();
    if (nr == 0 || N <= 1 || K <= 0) return -1;
    pack_all(Wp, W, b, N, K, w_kn, nr);
    return 0;
#else
    (void)Wp, (void)W, (void)b, (void)N, (void)K, (void)w_kn;
    return -1;
#endif
}

void vb__cpu_gemm_packed(float *C, const float *A, const float *Wp, bool bias, int64_t M, int64_t N, int64_t K,
                         bool add) {
#ifdef VB_GEMM_NT_X86
    if (M > 0) run_tiles(C, NULL, A, Wp, bias, M, N, K, add, NULL, NULL);
#else
    (void)C, (void)A, (void)Wp, (void)bias, (void)M, (void)N, (void)K, (void)add;
#endif
}

#ifdef VB_GEMM_NT_X86
/* The shapes the kernel takes from one call (packing W^T into the thread's
 * buffer): a kernel, rows, more than one column (N 1: a dot product,
 * BLAS's), and W^T within PACK_MAX. */
static bool fused_shape(int64_t M, int64_t N, int64_t K) {
    return panel_width() != 0 && M > 0 && N > 1 && K > 0 && vb_packed_floats(N, K) <= PACK_MAX;
}
#endif

int vb__cpu_gemm_nt_bias(float *C, float *relu, const float *A, const float *W, const float *b, int64_t M, int64_t N,
                         int64_t K, void (*rows_done)(void *ctx, int64_t row0, int64_t rows), void *ctx) {
#ifdef VB_GEMM_NT_X86
    if (!fused_shape(M, N, K)) return -1;
    float *Wp = pack_space(vb_packed_floats(N, K));
    if (!Wp) return -1;
    pack_all(Wp, W, b, N, K, false, panel_width());
    run_tiles(C, relu, A, Wp, b != NULL, M, N, K, false, rows_done, ctx);
    return 0;
#else
    (void)C, (void)relu, (void)A, (void)W, (void)b, (void)M, (void)N, (void)K, (void)rows_done, (void)ctx;
    return -1;
#endif
}

int vb__cpu_gemm_nt_bias_packed(float *C, float *relu, const float *A, const float *Wp, bool bias, int64_t M,
                                int64_t N, int64_t K, void (*rows_done)(void *ctx, int64_t row0, int64_t rows),
                                void *ctx) {
#ifdef VB_GEMM_NT_X86
    if (!fused_shape(M, N, K)) return -1;
    run_tiles(C, relu, A, Wp, bias, M, N, K, false, rows_done, ctx);
    return 0;
#else
    (void)C, (void)relu, (void)A, (void)Wp, (void)bias, (void)M, (void)N, (void)K, (void)rows_done, (void)ctx;
    return -1;
#endif
}
