/* crc32c — CRC-32C with the SSE4.2 crc32 instruction where the CPU has it
 * (x86-64, checked once at run time), else slicing-by-8 tables; the tables
 * are built once, on first use, and are read-only afterwards.
 *
 * The instruction has a latency of three cycles and a throughput of one, so
 * buffers run three independent CRCs over three adjacent lanes and join
 * them: the register after A then B is the register after A moved past |B|
 * zero bytes (a linear map, tabulated for |B| = LANE and |B| = SHORT in
 * shift_table) xored with B's register from zero. Lanes of LANE bytes while
 * 3 LANE are left, then of SHORT bytes (a chunk message of a few KiB runs
 * three lanes almost to its end). */
#include "crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define VB_CRC_HW 1
#endif

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */

enum { LANE = 8192, SHORT = 256 };

static uint32_t table[8][256];
/* register -> the register after LANE ([0]) or SHORT ([1]) zero bytes, a byte at a time */
static uint32_t shift_table[2][4][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static bool use_hw;

static uint32_t shift_zeros(uint32_t reg, size_t len);

static void build_tables(void) {
#ifdef VB_CRC_HW
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    }
    const size_t lanes[2] = {LANE, SHORT};
    for (int t = 0; t < 2; t++) {
        uint32_t basis[32];
        for (int k = 0; k < 32; k++) basis[k] = shift_zeros(1u << k, lanes[t]);
        for (int b = 0; b < 4; b++)
            for (uint32_t v = 0; v < 256; v++) {
                uint32_t r = 0;
                for (int j = 0; j < 8; j++)
                    if (v >> j & 1) r ^= basis[8 * b + j];
                shift_table[t][b][v] = r;
            }
    }
}

static inline uint32_t shift_lane(const uint32_t (*s)[256], uint32_t r) {
    return s[0][r & 0xff] ^ s[1][(r >> 8) & 0xff] ^ s[2][(r >> 16) & 0xff] ^ s[3][r >> 24];
}

#ifdef VB_CRC_HW
/* Three lanes of `lane` bytes from p (and to dst), joined into c; lane is a
 * constant where this is inlined. */
__attribute__((target("sse4.2"), always_inline)) static inline uint64_t crc_lanes(uint64_t c, const unsigned char *p,
                                                                                  unsigned char *dst, size_t lane,
                                                                                  const uint32_t (*shift)[256]) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < lane; i += 8) {
        uint64_t w0, w1, w2;
        __builtin_memcpy(&w0, p + i, 8);
        __builtin_memcpy(&w1, p + lane + i, 8);
        __builtin_memcpy(&w2, p + 2 * lane + i, 8);
        c = _mm_crc32_u64(c, w0);
        c1 = _mm_crc32_u64(c1, w1);
        c2 = _mm_crc32_u64(c2, w2);
        if (dst) {
            __builtin_memcpy(dst + i, &w0, 8);
            __builtin_memcpy(dst + lane + i, &w1, 8);
            __builtin_memcpy(dst + 2 * lane + i, &w2, 8);
        }
    }
    return shift_lane(shift, shift_lane(shift, (uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
}

/* 8 bytes per crc32 instruction, three lanes at a time while 3 SHORT bytes
 * are left; the ends a byte at a time. With dst, the bytes are also copied
 * there as they are read. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len,
                                                         unsigned char *dst) {
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        if (dst) *dst++ = *p;
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    for (; len >= 3 * LANE; p += 3 * LANE, len -= 3 * LANE) {
        c = crc_lanes(c, p, dst, LANE, shift_table[0]);
        if (dst) dst += 3 * LANE;
    }
    for (; len >= 3 * SHORT; p += 3 * SHORT, len -= 3 * SHORT) {
        c = crc_lanes(c, p, dst, SHORT, shift_table[1]);
        if (dst) dst += 3 * SHORT;
    }
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        if (dst) {
            __builtin_memcpy(dst, &w, 8);
            dst += 8;
        }
    }
    while (len--) {
        if (dst) *dst++ = *p;
        c = _mm_crc32_u8((uint32_t)c, *p++);
    }
    return ~(uint32_t)c;
}
#endif

bool vb_crc32c_hw(void) {
    pthread_once(&table_once, build_tables);
    return use_hw;
}

uint32_t vb_crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, build_tables);
#ifdef VB_CRC_HW
    if (use_hw) return crc_hw(crc, data, len, NULL);
#endif
    return vb_crc32c_table(crc, data, len);
}

uint32_t vb_crc32c_copy(uint32_t crc, void *restrict dst, const void *restrict src, size_t len) {
    pthread_once(&table_once, build_tables);
#ifdef VB_CRC_HW
    if (use_hw) return crc_hw(crc, src, len, dst);
#endif
    memcpy(dst, src, len);
    return vb_crc32c_table(crc, dst, len);
}

uint32_t vb_crc32c_table(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, build_tables);
    const unsigned char *p = data;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* zlib's crc32_combine for the Castagnoli polynomial: appending len2 zero
 * bytes to crc1 is a linear map over GF(2), applied by squaring the one-zero-
 * bit operator log2(len2) times; then crc2 is xored in. */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1) sum ^= *mat;
    return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat) {
    for (int n = 0; n < 32; n++) sq[n] = gf2_times(mat, mat[n]);
}

uint32_t vb_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2) { return shift_zeros(crc1, len2) ^ crc2; }

static uint32_t shift_zeros(uint32_t crc1, size_t len2) {
    if (len2 == 0) return crc1;
    uint32_t even[32], odd[32];
    odd[0] = 0x82F63B78u; /* one zero bit */
    for (int n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
    gf2_square(even, odd); /* two */
    gf2_square(odd, even); /* four */
    do {
        gf2_square(even, odd); /* one zero byte, then 4, 16, ... */
        if (len2 & 1) crc1 = gf2_times(even, crc1);
        len2 >>= 1;
        if (!len2) break;
        gf2_square(odd, even);
        if (len2 & 1) crc1 = gf2_times(odd, crc1);
        len2 >>= 1;
    } while (len2);
    return crc1;
}
