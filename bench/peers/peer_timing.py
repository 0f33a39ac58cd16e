"""How make bench-peers times a peer: two calls to compile and warm up, then
calls until `seconds` have passed; returns calls per second."""
import time


def timed(fn, seconds):
    fn()  # compile / warm up
    fn()
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return reps / dt
