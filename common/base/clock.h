/* clock — monotonic seconds, for intervals and timeouts (never wall time). */
#ifndef VB_CLOCK_H
#define VB_CLOCK_H

#include <time.h>

static inline double vb_mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif
