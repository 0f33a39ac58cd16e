/* par — fork-join over a few threads.
 *
 * vb_par_run(n, fn, ctx) calls fn(ctx, j) for j = 0 .. n-1: part 0 on the
 * caller's thread, the others on a pool of threads kept from call to call,
 * and returns once every part has returned. A call made while the pool is in
 * use (from inside a part, or from another thread) runs its parts on threads
 * started for it instead. A thread that cannot be started costs only speed:
 * its part runs on the caller's thread. Parts must not write the same
 * memory. Waking the pool costs microseconds, starting a thread tens, so a
 * part should be worth a millisecond or more. */
#ifndef VB_PAR_H
#define VB_PAR_H

#define VB_PAR_MAX 64

#include <stdint.h>

/* n is clamped to [1, VB_PAR_MAX] */
void vb_par_run(int n, void (*fn)(void *ctx, int j), void *ctx);

/* The parts `rows` are split into on `threads` threads: no more than the
 * rows, nor VB_PAR_MAX, and at least 1. */
int vb_par_parts(int threads, int64_t rows);

/* Rows [*r0, *r1) of part j when `rows` are split into n contiguous parts of
 * ceil(rows / n) (the last ones may be short or empty). */
void vb_par_rows(int64_t rows, int n, int j, int64_t *r0, int64_t *r1);

#endif
