"""GRU window forward + backward in PyTorch (eager and torch.compile) and JAX
(jit), the work bench_numerics' gru_h*_b64_fwd_bwd lines time in C: batch 64,
a window of 32 steps, input size = hidden size H, PyTorch's gate order (r, z,
n) with n = tanh(x W_in + b_in + r * (h W_hn + b_hn)); the input projection of
the whole window is one GEMM, then one hidden GEMM per step; backward from the
gradient hs (the outputs themselves) to the parameters and the inputs.

FLOPs counted alike for every implementation: the six GEMMs of a step, forward
(input and hidden projections) and backward (their input and weight
gradients), 2 x B x 3H x H each, so 36 B H^2 per step; elementwise work is not
counted. Prints one "name value unit" line per implementation: time steps/s,
as bench_numerics does.

Usage: gru_window.py --threads N [--seconds S]; run it pinned to N cores
(taskset), as make bench-peers does."""
import argparse
import sys

from peer_timing import timed


def torch_peers(H, B, T, threads, seconds):
    import torch

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    k = 1.0 / H ** 0.5
    Wi = (torch.rand(3 * H, H, generator=g) * 2 - 1) * k
    Wh = (torch.rand(3 * H, H, generator=g) * 2 - 1) * k
    bi = (torch.rand(3 * H, generator=g) * 2 - 1) * k
    bh = (torch.rand(3 * H, generator=g) * 2 - 1) * k
    params = [p.requires_grad_() for p in (Wi, Wh, bi, bh)]
    x = (torch.arange(T * B * H, dtype=torch.float32) % 13 * 0.01).reshape(T, B, H).requires_grad_()
    h0 = torch.zeros(B, H)

    def window(x, Wi, Wh, bi, bh):
        xg = (x.reshape(T * B, H) @ Wi.t() + bi).reshape(T, B, 3 * H)
        h, hs = h0, []
        for t in range(T):
            hg = h @ Wh.t() + bh
            xr, xz, xn = xg[t].chunk(3, 1)
            hr, hz, hn = hg.chunk(3, 1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
            hs.append(h)
        return torch.stack(hs)

    def step(f):
        def run():
            for p in params + [x]:
                p.grad = None
            hs = f(x, *params)
            hs.backward(hs.detach())
        return run

    out = {"torch_eager": timed(step(window), seconds)}
    try:
        out["torch_compile"] = timed(step(torch.compile(window)), seconds)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"# torch.compile unavailable: {type(e).__name__}: {e}", file=sys.stderr)
    return out


def jax_peer(H, B, T, seconds):
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(1)
    k = 1.0 / H ** 0.5
    ks = jax.random.split(key, 4)
    p = {"Wi": jax.random.uniform(ks[0], (3 * H, H), minval=-k, maxval=k),
         "Wh": jax.random.uniform(ks[1], (3 * H, H), minval=-k, maxval=k),
         "bi": jax.random.uniform(ks[2], (3 * H,), minval=-k, maxval=k),
         "bh": jax.random.uniform(ks[3], (3 * H,), minval=-k, maxval=k)}
    x = (jnp.arange(T * B * H, dtype=jnp.float32) % 13 * 0.01).reshape(T, B, H)
    h0 = jnp.zeros((B, H))

    def window(p, x):
        xg = (x.reshape(T * B, H) @ p["Wi"].T + p["bi"]).reshape(T, B, 3 * H)

        def cell(h, xgt):
            hg = h @ p["Wh"].T + p["bh"]
            xr, xz, xn = jnp.split(xgt, 3, 1)
            hr, hz, hn = jnp.split(hg, 3, 1)
            r = jax.nn.sigmoid(xr + hr)
            z = jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
            return h, h

        _, hs = jax.lax.scan(cell, h0, xg)
        return hs

    @jax.jit
    def fwd_bwd(p, x):
        hs, vjp = jax.vjp(window, p, x)
        return vjp(hs)

    def run():
        jax.block_until_ready(fwd_bwd(p, x))

    return {"jax_jit": timed(run, seconds)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--hidden", type=int, nargs="+", default=[128, 256])
    a = ap.parse_args()
    B, T = 64, 32
    for H in a.hidden:
        rates = {}
        try:
            rates.update(torch_peers(H, B, T, a.threads, a.seconds))
        except ImportError:
            print("# torch not installed", file=sys.stderr)
        try:
            rates.update(jax_peer(H, B, T, a.seconds))
        except ImportError:
            print("# jax not installed", file=sys.stderr)
        for name, windows in rates.items():
            print(f"{name}_gru_h{H}_b{B}_fwd_bwd_threads{a.threads} {windows * T:.0f} steps/s", flush=True)


if __name__ == "__main__":
    # JAX (XLA) takes its intra-op threads from the cores it may run on, so
    # make bench-peers pins each run with taskset.
    main()
