/* rng — Philox-4x32-10 counter-based random numbers (Salmon et al., 2011).
 *
 * A stream is addressed by (seed, stream id); within a stream, 32-bit words are
 * numbered by a 64-bit position p. Word p is lane p % 4 of the Philox block
 *   ctr = (lo32(p/4), hi32(p/4), lo32(stream), hi32(stream)), key = (lo32(seed), hi32(seed)).
 * Because any word can be computed from (seed, stream, p) alone, a GPU thread
 * reproduces exactly what the CPU draws; vb_rng_seek jumps anywhere in O(1).
 *
 * Draws and how many words each consumes (the contract a GPU kernel follows):
 *   u32: 1 word          uniform: 1 word, ((u >> 9) + 0.5) * 2^-23, in (0, 1)
 *   uniform_double: 2 words, 53 bits, in (0, 1)
 *   normal: 2 words (uniform u1, u2), sqrt(-2 ln u1) * cos(2 pi u2); the sine
 *           branch is not cached so that each normal is a pure function of p
 *   gumbel: 1 word, -log(-log(u))       categorical: 1 word, inverse CDF
 */
#ifndef VB_RNG_H
#define VB_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/math/philox.h"

typedef struct vb_rng {
    uint32_t key[2];
    uint64_t stream;
    uint64_t pos;        /* next word to draw */
    uint64_t block_idx;  /* block held in block[], or UINT64_MAX */
    uint32_t block[4];
} vb_rng;

/* The raw bijection: out = Philox4x32-10(ctr, key). */
void vb_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A generator at position 0 of stream `stream` under `seed`. */
void vb_rng_init(vb_rng *r, uint64_t seed, uint64_t stream);
/* Jump to word position `pos`. */
void vb_rng_seek(vb_rng *r, uint64_t pos);
/* Word `pos` of (seed, stream), without a generator. */
uint32_t vb_rng_word(uint64_t seed, uint64_t stream, uint64_t pos);

uint32_t vb_rng_u32(vb_rng *r);
/* Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift with rejection). */
uint32_t vb_rng_below(vb_rng *r, uint32_t n);
float vb_rng_uniform(vb_rng *r);
double vb_rng_uniform_double(vb_rng *r);
float vb_rng_normal(vb_rng *r);
double vb_rng_normal_double(vb_rng *r);
/* n normals, the same values and stream positions as n calls of vb_rng_normal,
 * with the Philox blocks computed in vectorised runs */
void vb_rng_normal_fill(vb_rng *r, float *out, int64_t n);
float vb_rng_gumbel(vb_rng *r);
/* Index drawn from unnormalised non-negative weights w[0..n); a zero total
 * draws uniformly. */
int vb_rng_categorical(vb_rng *r, const float *w, int n);
/* Gamma(shape, 1) by Marsaglia–Tsang (shape > 0); consumes a variable count. */
double vb_rng_gamma(vb_rng *r, double shape);
/* Beta(a, b) from two gammas. */
double vb_rng_beta(vb_rng *r, double a, double b);

/* uniform from one word, shared with device code: (0, 1) */
static inline float vb_rng_word_to_uniform(uint32_t u) { return vb_philox_uniform(u); }

#endif
