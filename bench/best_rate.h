/* best_rate — how the benchmarks that are compared with peers time a call:
 * `seconds` split into BEST_RATE_SLICES consecutive slices, each running the
 * call until its share of the time has passed, and the best slice's calls
 * per second. This machine's speed moves by up to 30% for tens of seconds
 * at a time (docs/performance.md); the best slice is the rate when nothing
 * else held the core, as timeit takes the minimum. bench/peers/peer_timing.py
 * times the peers the same way. */
#ifndef VB_BENCH_BEST_RATE_H
#define VB_BENCH_BEST_RATE_H

#include <time.h>

enum { BEST_RATE_SLICES = 5 };

static double best_rate_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* calls per second of fn(ctx), the best of the slices (at least one call each) */
static double best_rate(void (*fn)(void *ctx), void *ctx, double seconds) {
    double best = 0;
    for (int s = 0; s < BEST_RATE_SLICES; s++) {
        int calls = 0;
        double t0 = best_rate_now(), dt;
        do {
            fn(ctx);
            calls++;
            dt = best_rate_now() - t0;
        } while (dt < seconds / BEST_RATE_SLICES);
        if (calls / dt > best) best = calls / dt;
    }
    return best;
}

#endif
