"""How make bench-peers times a peer: two calls to compile and warm up, then
`seconds` split into 5 consecutive slices, each calling until its share of
the time has passed; returns the best slice's calls per second. The C
benchmarks time themselves the same way (bench/best_rate.h): this machine's
speed moves by up to 30% for tens of seconds at a time, and the best slice
is the rate when nothing else held the core, as timeit takes the minimum."""
import time

SLICES = 5


def timed(fn, seconds):
    fn()  # compile / warm up
    fn()
    best = 0.0
    for _ in range(SLICES):
        reps, t0 = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            dt = time.perf_counter() - t0
            if dt >= seconds / SLICES:
                break
        best = max(best, reps / dt)
    return best
