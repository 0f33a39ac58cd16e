/* rng — see rng.h. */
#include "rng.h"

#include <math.h>

#include "kernels/math/philox.h"
#include "kernels/simd_clones.h"

void vb_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    vb_philox_block(c, key[0], key[1]);
    for (int i = 0; i < 4; i++) out[i] = c[i];
}

static void load_block(vb_rng *r, uint64_t b) {
    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)r->stream, (uint32_t)(r->stream >> 32)};
    vb_philox4x32_10(ctr, r->key, r->block);
    r->block_idx = b;
}

void vb_rng_init(vb_rng *r, uint64_t seed, uint64_t stream) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->stream = stream;
    r->pos = 0;
    r->block_idx = UINT64_MAX;
}

void vb_rng_seek(vb_rng *r, uint64_t pos) { r->pos = pos; }

uint32_t vb_rng_word(uint64_t seed, uint64_t stream, uint64_t pos) {
    vb_rng r;
    vb_rng_init(&r, seed, stream);
    vb_rng_seek(&r, pos);
    return vb_rng_u32(&r);
}

uint32_t vb_rng_u32(vb_rng *r) {
    uint64_t b = r->pos >> 2;
    if (b != r->block_idx) load_block(r, b);
    uint32_t v = r->block[r->pos & 3];
    r->pos++;
    return v;
}

uint32_t vb_rng_below(vb_rng *r, uint32_t n) {
    uint64_t m = (uint64_t)vb_rng_u32(r) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)vb_rng_u32(r) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float vb_rng_uniform(vb_rng *r) { return vb_rng_word_to_uniform(vb_rng_u32(r)); }

double vb_rng_uniform_double(vb_rng *r) {
    uint64_t hi = vb_rng_u32(r) >> 5, lo = vb_rng_u32(r) >> 6; /* 27 + 26 = 53 bits */
    return ((double)(hi * 67108864u + lo) + 0.5) * (1.0 / 9007199254740992.0);
}

float vb_rng_normal(vb_rng *r) {
    uint32_t w1 = vb_rng_u32(r);
    return vb_philox_normal(w1, vb_rng_u32(r));
}

/* FILL_BLOCKS blocks at consecutive counters b0.. into words[4 * FILL_BLOCKS], written
 * structure-of-arrays so that the rounds vectorise across blocks. */
#define FILL_BLOCKS 16
VB_SIMD_CLONES static void philox_blocks(const vb_rng *r, uint64_t b0, uint32_t *words) {
    uint32_t c0[FILL_BLOCKS], c1[FILL_BLOCKS], c2[FILL_BLOCKS], c3[FILL_BLOCKS];
    const uint32_t s0 = (uint32_t)r->stream, s1 = (uint32_t)(r->stream >> 32);
    for (int i = 0; i < FILL_BLOCKS; i++) {
        uint64_t b = b0 + (uint64_t)i;
        c0[i] = (uint32_t)b;
        c1[i] = (uint32_t)(b >> 32);
        c2[i] = s0;
        c3[i] = s1;
    }
    uint32_t k0 = r->key[0], k1 = r->key[1];
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += VB_PHILOX_W0;
            k1 += VB_PHILOX_W1;
        }
        for (int i = 0; i < FILL_BLOCKS; i++) {
            uint64_t p0 = (uint64_t)VB_PHILOX_M0 * c0[i], p1 = (uint64_t)VB_PHILOX_M1 * c2[i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1;
            c0[i] = n0;
            c1[i] = (uint32_t)p1;
            c2[i] = n2;
            c3[i] = (uint32_t)p0;
        }
    }
    for (int i = 0; i < FILL_BLOCKS; i++) {
        words[4 * i] = c0[i];
        words[4 * i + 1] = c1[i];
        words[4 * i + 2] = c2[i];
        words[4 * i + 3] = c3[i];
    }
}

/* Box-Muller on m pairs of words, a vector of pairs at a time */
VB_SIMD_CLONES static void normals_of_pairs(float *restrict out, const uint32_t *restrict w1,
                                             const uint32_t *restrict w2, int m) {
    for (int j = 0; j < m; j++) out[j] = vb_philox_normal(w1[j], w2[j]);
}

void vb_rng_normal_fill(vb_rng *r, float *out, int64_t n) {
    uint32_t words[4 * FILL_BLOCKS], w1[2 * FILL_BLOCKS], w2[2 * FILL_BLOCKS];
    int64_t i = 0;
    while (n - i >= 2 * FILL_BLOCKS) {
        const int o = (int)(r->pos & 3);
        const int m = (4 * FILL_BLOCKS - o) / 2;
        philox_blocks(r, r->pos >> 2, words);
        for (int j = 0; j < m; j++) w1[j] = words[o + 2 * j], w2[j] = words[o + 2 * j + 1];
        normals_of_pairs(out + i, w1, w2, m);
        i += m;
        r->pos += 2 * (uint64_t)m;
    }
    while (i < n) out[i++] = vb_rng_normal(r);
}

double vb_rng_normal_double(vb_rng *r) {
    double u1 = vb_rng_uniform_double(r), u2 = vb_rng_uniform_double(r);
    return sqrt(-2.0 * log(u1)) * cos(6.28318530717958647692 * u2);
}

float vb_rng_gumbel(vb_rng *r) { return -logf(-logf(vb_rng_uniform(r))); }

int vb_rng_categorical(vb_rng *r, const float *w, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) total += w[i];
    float u = vb_rng_uniform(r);
    if (!(total > 0)) {
        int i = (int)(u * (float)n);
        return i < n ? i : n - 1;
    }
    double target = (double)u * total, acc = 0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        acc += w[i];
        last = i;
        if (target < acc) return i;
    }
    return last; /* rounding: the last index with weight */
}

double vb_rng_gamma(vb_rng *r, double shape) {
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        double u = vb_rng_uniform_double(r);
        return vb_rng_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = vb_rng_normal_double(r);
            v = 1.0 + c * x;
        } while (v <= 0);
        v = v * v * v;
        double u = vb_rng_uniform_double(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

double vb_rng_beta(vb_rng *r, double a, double b) {
    double x = vb_rng_gamma(r, a), y = vb_rng_gamma(r, b);
    return x / (x + y);
}
