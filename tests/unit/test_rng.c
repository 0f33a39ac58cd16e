/* Philox-4x32-10: published known answers, stream addressing, distributions. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/base/rng.h"

/* Random123's tests/kat_vectors for philox4x32_10. */
Test(rng, philox_known_answers) {
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        vb_philox4x32_10(kat[i], kat[i] + 4, out);
        for (int j = 0; j < 4; j++) cr_assert_eq(out[j], kat[i][6 + j], "vector %d word %d: %08x", i, j, out[j]);
    }
}

Test(rng, stream_words_follow_the_documented_counter_layout) {
    uint64_t seed = 0x299f31d0a4093822ull, stream = 0x0370734413198a2eull;
    uint64_t block = 0x05a308d3243f6a88ull;
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, out[4];
    vb_philox4x32_10(ctr, key, out);
    for (int j = 0; j < 4; j++) cr_assert_eq(vb_rng_word(seed, stream, block * 4 + (uint64_t)j), out[j]);
    vb_rng r;
    vb_rng_init(&r, 0, 0);
    cr_assert_eq(vb_rng_u32(&r), 0x6627e8d5);
    cr_assert_eq(vb_rng_u32(&r), 0xe169c58d);
}

Test(rng, seek_and_sequential_agree_and_streams_differ) {
    vb_rng a, b, c;
    vb_rng_init(&a, 42, 7);
    uint32_t seq[100];
    for (int i = 0; i < 100; i++) seq[i] = vb_rng_u32(&a);
    vb_rng_init(&b, 42, 7);
    for (int i = 99; i >= 0; i--) {
        vb_rng_seek(&b, (uint64_t)i);
        cr_assert_eq(vb_rng_u32(&b), seq[i]);
    }
    vb_rng_init(&c, 42, 8);
    int same = 0;
    for (int i = 0; i < 100; i++) same += vb_rng_u32(&c) == seq[i];
    cr_assert_lt(same, 3);
}

Test(rng, uniform_is_open_interval_with_right_moments) {
    vb_rng r;
    vb_rng_init(&r, 1, 0);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        float u = vb_rng_uniform(&r);
        cr_assert(u > 0.0f && u < 1.0f);
        s += u;
        s2 += (double)u * u;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    cr_assert_float_eq(mean, 0.5, 4 * sqrt(1.0 / 12 / n));
    cr_assert_float_eq(var, 1.0 / 12, 0.002);
    cr_assert_eq(vb_rng_word_to_uniform(0) > 0.0f, 1);
    cr_assert_eq(vb_rng_word_to_uniform(0xffffffffu) < 1.0f, 1);
}

Test(rng, normal_moments) {
    vb_rng r;
    vb_rng_init(&r, 2, 0);
    const int n = 200000;
    double s = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        double x = vb_rng_normal(&r);
        s += x;
        s2 += x * x;
        s4 += x * x * x * x;
    }
    cr_assert_float_eq(s / n, 0.0, 4 / sqrt(n));
    cr_assert_float_eq(s2 / n, 1.0, 4 * sqrt(2.0 / n));
    cr_assert_float_eq(s4 / n, 3.0, 0.1);
    /* each normal consumes exactly two words */
    vb_rng_init(&r, 2, 0);
    vb_rng_normal(&r);
    cr_assert_eq(r.pos, 2);
}

Test(rng, normal_fill_equals_repeated_normals_at_any_offset) {
    /* every start word (odd ones too) and lengths around the batch size */
    const int64_t lens[] = {0, 1, 7, 31, 32, 33, 63, 64, 65, 320, 1001};
    float got[1001], want[1001];
    for (uint64_t start = 0; start < 9; start++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            vb_rng a, b;
            vb_rng_init(&a, 11, 5);
            vb_rng_init(&b, 11, 5);
            vb_rng_seek(&a, start);
            vb_rng_seek(&b, start);
            vb_rng_u32(&b); /* a cached block in b must not change anything */
            vb_rng_seek(&b, start);
            vb_rng_normal_fill(&a, got, lens[li]);
            for (int64_t i = 0; i < lens[li]; i++) want[i] = vb_rng_normal(&b);
            cr_assert_eq(a.pos, b.pos, "start %llu n %lld", (unsigned long long)start, (long long)lens[li]);
            for (int64_t i = 0; i < lens[li]; i++)
                cr_assert(memcmp(&got[i], &want[i], sizeof(float)) == 0, "start %llu n %lld i %lld: %g vs %g",
                          (unsigned long long)start, (long long)lens[li], (long long)i, got[i], want[i]);
            cr_assert_eq(vb_rng_u32(&a), vb_rng_u32(&b));
        }
}

Test(rng, gumbel_mean_is_euler_gamma) {
    vb_rng r;
    vb_rng_init(&r, 3, 0);
    const int n = 200000;
    double s = 0;
    for (int i = 0; i < n; i++) s += vb_rng_gumbel(&r);
    cr_assert_float_eq(s / n, 0.5772156649, 4 * 1.2825 / sqrt(n));
}

Test(rng, categorical_frequencies_match_weights) {
    vb_rng r;
    vb_rng_init(&r, 4, 0);
    const float w[5] = {1, 0, 3, 4, 2};
    int count[5] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) count[vb_rng_categorical(&r, w, 5)]++;
    cr_assert_eq(count[1], 0);
    for (int k = 0; k < 5; k++) {
        double p = w[k] / 10.0;
        cr_assert_float_eq((double)count[k] / n, p, 5 * sqrt(p * (1 - p) / n) + 1e-9, "k=%d", k);
    }
    const float z[3] = {0, 0, 0};
    int seen[3] = {0};
    for (int i = 0; i < 3000; i++) seen[vb_rng_categorical(&r, z, 3)]++;
    for (int k = 0; k < 3; k++) cr_assert_gt(seen[k], 800);
}

Test(rng, below_is_uniform_and_bounded) {
    vb_rng r;
    vb_rng_init(&r, 5, 0);
    int count[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t v = vb_rng_below(&r, 7);
        cr_assert_lt(v, 7);
        count[v]++;
    }
    for (int k = 0; k < 7; k++) cr_assert_float_eq(count[k], 10000, 450);
}

Test(rng, beta_moments) {
    vb_rng r;
    vb_rng_init(&r, 6, 0);
    const double a = 2, b = 0.5;
    const int n = 100000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = vb_rng_beta(&r, a, b);
        cr_assert(x >= 0 && x <= 1);
        s += x;
        s2 += x * x;
    }
    double mean = a / (a + b), var = a * b / ((a + b) * (a + b) * (a + b + 1));
    cr_assert_float_eq(s / n, mean, 5 * sqrt(var / n));
    cr_assert_float_eq(s2 / n - (s / n) * (s / n), var, 0.004);
}
