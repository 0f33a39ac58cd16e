"""One Belief-SMC planner call in JAX (jit) and PyTorch (eager and
torch.compile), the work bench_planner's planner_gridworld_b64_k*_d4_ko* lines
time in C: the gridworld model of configs/gridworld.yaml (GRU encoder, hidden
64, embed 32, latent 5, MLPs of two 64-wide layers, policy_hidden), 64
environments, depth D = 4, at K = 16 particles with K_Omega = 4 nested ones and
at K = 64 with K_Omega = 16; planner.dynamics env (the successor is a table
lookup of the exact 5x5 transition) and outcomes expected (both outcomes of
the binary reward go through the encoder and the value head).

A call, as vb_planner_run makes it (R = 64 K particle rows, N = R K_Omega
nested rows): the root's value and policy heads (64 rows); root actions (every
action in turn, rotated by a random offset); then per depth: K_Omega latent
samples per particle from its belief and the reward decoder on all N of them,
the one-step correction weights, the successor and the reward's predictive
mean, one encoder step (embed, GRU, belief head) of the 2R rows of both
outcomes (the GRU's recurrent product h W_h once, on the R carries both
outcomes step from), the value head on those 2R rows and the policy head on the R
continuing ones (not after the last depth), the twist, the records of the
backup, continuation actions drawn from the policy and systematic resampling
of the environments whose ESS fell below K / 2; then the backup readout.

The GEMMs are the C planner's, at the same (M, N, K) and as many per call
(with 64 environments, R = 64 K, N = R K_Omega, feat = 77; run --shapes to
print this list as traced):
    root       value (64,64,77) (64,64,64) (64,1,64)    policy (64,64,77) (64,64,64) (64,5,64)
    per depth  reward decoder (N,64,5) (N,64,64) (N,25,64)
               encoder (2R,32,10) (2R,192,32) (R,192,64) (2R,10,64)
               value (2R,64,77) (2R,64,64) (2R,1,64)
               policy (R,64,77) (R,64,64) (R,5,64)      every depth but the last
FLOPs counted alike on both sides: 2 M N K per GEMM, summed over one call and
divided by its 64 K D particle-steps (152 064 at K 16, 296 016 at K 64, as
bench_planner's _gemm_flops lines); elementwise work is not counted. The count
printed here comes from the GEMMs the JAX program itself traces (and PyTorch's
FLOP counter over an eager call), checked against the C planner's list above.

What is not the C planner's: the search's bookkeeping is float32 (C keeps
log-weights and returns in double); the nested sample the correction weights
would draw for learned dynamics is not drawn (unused with env dynamics); no
early exit when every particle has ended the task (none does within D = 4 of
the bench's root, t = 3 of a 60-step task); the particles' state is gathered
after every depth but the last, where C copies it only when some environment
resampled; random draws come from each library's generator (C: one stream per
environment); and with two threads the C planner
splits the environments into two blocks of 32 (each GEMM at half the rows,
twice as often: the same FLOPs), where the peers run the whole batch on their
library's two intra-op threads.

Prints one "name value unit" line per implementation and budget,
particle-steps/s (64 K D per call) as bench_planner does, and the FLOPs of a
particle-step per budget.

Usage: planner_step.py --threads N [--seconds S] [--particles 16 64]
[--shapes]; run it pinned to N cores (taskset), as make bench-peers does,
from the repository root (it reads configs/gridworld.yaml)."""
import argparse
import collections
import math
import os
import sys
import types

import numpy as np

from peer_timing import timed

B, D = 64, 4
BUDGETS = {16: 4, 64: 16}  # K -> K_Omega, bench_planner's two budgets


def read_config(path):
    """The "section: / key: value" scalars of a run config: enough of YAML for
    configs/gridworld.yaml, so the sizes follow it as bench_planner does."""
    cfg, section = {}, None
    for line in open(path):
        line = line.split("#", 1)[0].rstrip()
        if not line:
            continue
        key, _, value = line.strip().partition(":")
        if not line.startswith(" "):
            section = key
        elif value.strip():
            cfg[f"{section}.{key}"] = value.strip()
    return cfg


def gridworld_sizes(path):
    cfg = read_config(path)

    def get(key, default, kind=str):
        v = cfg.get(key, default)
        return v == "true" if kind is bool else kind(v)

    # what this peer implements; anything else would be different work
    for key, want in {"model.core": "gru", "planner.dynamics": "env", "planner.outcomes": "expected",
                      "planner.target": "backup", "planner.backup_weights": "prior", "planner.root_actions": "all",
                      "planner.rollout": "sample", "planner.entropy": "0", "planner.noise_target": "false",
                      "model.policy_cells": "false", "model.task_clock": "true", "env.permute_moves": "0"}.items():
        if cfg.get(key, want) != want:
            sys.exit(f"planner_step.py: {path} sets {key}: {cfg[key]}; this peer implements {want} only")
    g = get("env.grid_size", 5, int)
    z = types.SimpleNamespace(
        grid=g, obs=2, actions=5, cells=g * g,  # common/envs/gridworld.c: (x, y), stay/up/right/down/left
        lo=-0.1, hi=1.0,                         # its reward levels (Bernoulli: the goal cell or not)
        # the schema's defaults (common/base/config_schema.c) where the config sets nothing
        embed=get("model.embed", 32, int), hidden=get("model.hidden", 128, int), latent=get("model.latent", 5, int),
        mlp=get("model.mlp_hidden", 128, int), policy_hidden=get("model.policy_hidden", "false", bool),
        EL=get("env.episode_length", 15, int), EP=get("env.episodes_per_task", 4, int),
        gamma=get("env.gamma", 0.95, float), eta=get("planner.temperature", 1, float),
        period=get("planner.resample_period", 4, int), ess=get("planner.ess_threshold", 0.5, float),
        lam=get("planner.backup_lambda", 1, float))
    z.inp = z.obs + z.actions + 3  # (s, onehot a_prev, r_prev, done_prev, tau)
    z.feat = z.obs + 1 + 2 * z.latent + (z.hidden if z.policy_hidden else 0)  # (s, tau, mu, logvar[, o])
    # the exact transition as tables: the cell after each action, and each cell's (x, y)
    moves = [(0, 0), (0, 1), (1, 0), (0, -1), (-1, 0)]
    z.next_cell = np.array([min(max(c // g + dy, 0), g - 1) * g + min(max(c % g + dx, 0), g - 1)
                            for c in range(g * g) for dx, dy in moves], dtype=np.int32)
    z.cell_xy = np.array([(c % g, c // g) for c in range(g * g)], dtype=np.float32)
    return z


def c_gemms(z, K, KO):
    """(M, N, K) of each GEMM of one C planner call on one thread."""
    R, N, m = B * K, B * K * KO, z.mlp

    def mlp(rows, inp, out):
        return [(rows, m, inp), (rows, m, m), (rows, out, m)]

    g = mlp(B, z.feat, 1) + mlp(B, z.feat, z.actions)
    for d in range(D):
        g += mlp(N, z.latent, z.cells)
        g += [(2 * R, z.embed, z.inp), (2 * R, 3 * z.hidden, z.embed), (R, 3 * z.hidden, z.hidden),
              (2 * R, 2 * z.latent, z.hidden)]
        g += mlp(2 * R, z.feat, 1)
        if d + 1 < D:
            g += mlp(R, z.feat, z.actions)
    return g


def flops_per_step(gemms, K):
    return sum(2 * m * n * k for m, n, k in gemms) / (B * K * D)


def make_params(z, seed=1):
    """Random weights of the model's shapes, (W (out, in), b) per layer, U(-1/sqrt(in), 1/sqrt(in)) as
    PyTorch and vb_linear_init draw them."""
    rng = np.random.default_rng(seed)

    def lin(i, o):
        k = 1 / math.sqrt(i)
        return (rng.uniform(-k, k, (o, i)).astype(np.float32), rng.uniform(-k, k, o).astype(np.float32))

    m = z.mlp
    return {"embed": lin(z.inp, z.embed), "gru_i": lin(z.embed, 3 * z.hidden), "gru_h": lin(z.hidden, 3 * z.hidden),
            "belief": lin(z.hidden, 2 * z.latent),
            "reward": [lin(z.latent, m), lin(m, m), lin(m, z.cells)],
            "policy": [lin(z.feat, m), lin(m, m), lin(m, z.actions)],
            "value": [lin(z.feat, m), lin(m, m), lin(m, 1)],
            "next_cell": z.next_cell, "cell_xy": z.cell_xy}


def make_root(z):
    """bench_planner's root: every environment at (0, 0), zero carry and belief, after action 1 with reward 0,
    step 3 of the first episode."""
    return {"obs": np.zeros((B, z.obs), np.float32), "carry": np.zeros((B, z.hidden), np.float32),
            "phi": np.zeros((B, 2 * z.latent), np.float32), "last_a": np.ones(B, np.int32),
            "last_r": np.zeros(B, np.float32), "t_ep": np.full(B, 3, np.int32), "ep": np.zeros(B, np.int32)}


def planner_call(o, p, root, z, K, KO):
    """q-hat* (B, A) and V-hat (B) of one planner call: the algorithm once, over the array library o wraps
    (JaxOps, TorchOps), so that both peers do the same work. Particle k of env b is row b K + k, its nested
    sample j row (b K + k) K_Omega + j, as in belief_sim.c."""
    A, L, O, R, N, g = z.actions, z.latent, z.obs, B * K, B * K * KO, z.grid
    f32 = o.f32

    def linear(x, layer):  # one GEMM: (rows, out, in)
        W, b = layer
        return x @ W.T + b

    def mlp(layers, x, act):
        for layer in layers[:-1]:
            x = act(linear(x, layer))
        return linear(x, layers[-1])

    def enc_input(obs, a, r, done, clock):
        n = obs.shape[0]
        tail = [o.onehot(a, A), r[:, None], f32(done)[:, None]] if a is not None else [o.zeros((n, A + 2))]
        return o.cat([obs] + tail + [f32(clock)[:, None] / (z.EL * z.EP)], 1)

    def features(x, phi, out):
        return o.cat([x[:, :O], x[:, z.inp - 1:], phi] + ([out] if z.policy_hidden else []), 1)

    def cell_of(obs):  # the grid cell of an observation, rounded and clamped as gridworld.c's coord()
        xy = o.idx(o.clip(o.rint(obs), 0, g - 1))
        return xy[:, 1] * g + xy[:, 0]

    def logq(zs, mu, lv):  # log N(z; mu, e^lv) over the latent, (R, KO)
        return -0.5 * o.sum(1.8378770664093453 + lv[:, None] + (zs - mu[:, None]) ** 2 * o.exp(-lv[:, None]), 2)

    def per_env(x):
        return x.reshape(B, K)

    # ---- the root: policy prior and value of every environment
    f0 = features(enc_input(root["obs"], None, None, None, root["ep"] * z.EL + root["t_ep"]), root["phi"],
                  root["carry"])
    root_v = mlp(p["value"], f0, o.tanh)[:, 0]
    root_pi = o.softmax(mlp(p["policy"], f0, o.tanh))
    # every action in contiguous blocks of the K particles, rotated by a random offset per environment
    A0 = (o.arange(K)[None, :] * A // K + o.randint((B, 1), A)) % A
    nroot = o.sum(o.onehot(A0, A), 1)  # particles per root action, (B, A)
    env, every = o.arange(R) // K, o.arange(R) >= 0
    # particles (R rows) start at their environment's root
    st = {"s": root["obs"][env], "carry": root["carry"][env], "phi": root["phi"][env], "phi_prev": root["phi"][env],
          "last_s": root["obs"][env], "last_next": root["obs"][env], "last_a": root["last_a"][env],
          "has_last": root["last_a"][env] >= 0, "last_r": root["last_r"][env], "t_ep": root["t_ep"][env],
          "ep": root["ep"][env],
          "a": A0.reshape(R), "A0": A0.reshape(R), "logw": o.zeros((R,)), "cum": o.zeros((R,)), "G": o.zeros((R,)),
          "S": o.zeros((R,)) + 1, "disc": o.zeros((R,)) + 1, "v_cur": root_v[env], "alive": every}
    qsum, qw = o.zeros((B, A)), o.zeros((B, A))

    for depth in range(D):
        more = depth + 1 < D
        # 1-2. K_Omega samples of each particle's belief, the reward decoder on all of them, and their
        # one-step correction weights from the last transition's reward
        mu, lv = st["phi"][:, :L], st["phi"][:, L:]
        zs = mu[:, None] + o.exp(0.5 * lv)[:, None] * o.normal((R, KO, L))
        cells = mlp(p["reward"], zs.reshape(N, L), o.relu).reshape(R, KO, z.cells)
        v = o.take(cells, o.expand(cell_of(st["last_next"])[:, None, None], (R, KO, 1)), 2)[:, :, 0]
        y = f32(st["last_r"] == z.hi)[:, None]
        ll = y * v - (o.relu(v) + o.log1p(o.exp(-o.abs(v))))  # Bernoulli log-likelihood
        lw = ll + logq(zs, st["phi_prev"][:, :L], st["phi_prev"][:, L:]) - logq(zs, mu, lv)
        lw = o.where(st["has_last"][:, None], lw, 0.0)
        lw = o.where(o.isfinite(lw), lw, -math.inf)
        mx = o.max(lw, 1, keepdims=True)
        w = o.where(o.isfinite(mx), o.exp(lw - mx), 1.0)
        w = w / o.sum(w, 1, keepdims=True)
        # 3. the successor (the exact transition), and the reward's predictive mean over the samples
        ncell = p["next_cell"][cell_of(st["s"]) * A + st["a"]]
        s_next = p["cell_xy"][ncell]
        mean = o.sum(w * o.sigmoid(o.take(cells, o.expand(ncell[:, None, None], (R, KO, 1)), 2)[:, :, 0]), 1)
        up = mean > 0.5
        p_cont = o.where(up, mean, 1 - mean)
        r_mean = mean * z.hi + (1 - mean) * z.lo
        r_cont = z.lo + (z.hi - z.lo) * f32(up)
        r_other = z.hi + z.lo - r_cont
        # 4. the encoder consumes the transition with either reward, in one batch of 2R rows
        clock = st["ep"] * z.EL + st["t_ep"] + 1
        done = st["t_ep"] + 1 >= z.EL
        term = done & (st["ep"] + 1 >= z.EP)
        s_in = o.where((done & ~term)[:, None], 0.0, s_next)  # an imagined episode restarts at (0, 0)
        x = o.cat([enc_input(s_in, st["a"], r_cont, done, clock), enc_input(s_in, st["a"], r_other, done, clock)],
                  0)
        # both outcomes step from the same carries: their recurrent product is one GEMM of R rows
        hg = linear(st["carry"], p["gru_h"])
        h = o.cat([st["carry"], st["carry"]], 0)
        e = o.relu(linear(x, p["embed"]))
        xr, xz, xn = o.split3(linear(e, p["gru_i"]))
        hr, hz, hn = o.split3(o.cat([hg, hg], 0))
        r = o.sigmoid(xr + hr)
        u = o.sigmoid(xz + hz)
        h = (1 - u) * o.tanh(xn + r * hn) + u * h
        phi2 = linear(h, p["belief"])
        feat = features(x, phi2, h)
        values = mlp(p["value"], feat, o.tanh)[:, 0]
        v_cont, v_other = values[:R], values[R:]
        probs = o.softmax(mlp(p["policy"], feat[:R], o.tanh)) if more else None
        st.update(phi_prev=st["phi"], phi=phi2[:R], carry=h[:R], last_s=st["s"], last_next=s_next, s=s_in,
                  last_a=st["a"], last_r=r_cont, has_last=every,
                  t_ep=o.where(done, 0, st["t_ep"] + 1), ep=st["ep"] + o.idx(done))
        # the one-step estimate (outcomes averaged) and the twist
        alive, nonterm = st["alive"], 1 - f32(term)
        est = r_mean + z.gamma * nonterm * (p_cont * v_cont + o.where(p_cont < 1, (1 - p_cont) * v_other, 0.0))
        st["logw"] = o.where(alive, st["logw"] + (est - st["v_cur"]) / z.eta, st["logw"])
        # this depth's records: weights relative to the prior (the twist divided back out)
        prior_lw = per_env(o.where(alive, -st["cum"], -math.inf))
        mx = o.max(prior_lw, 1, keepdims=True)
        wk = o.where(per_env(alive), o.exp(prior_lw - o.where(o.isfinite(mx), mx, 0.0)), 0.0)
        wk = wk / o.clip(o.sum(wk, 1, keepdims=True), 1e-30, math.inf)
        onehot = o.onehot(per_env(st["A0"]), A)
        seen = f32(o.sum(onehot * f32(per_env(alive))[:, :, None], 1) > 0)
        fade = 1 + (z.lam - 1) * seen  # an action's earlier records fade once deeper ones arrive
        rec = per_env(st["G"] + st["disc"] * st["S"] * est)
        qsum = qsum * fade + o.sum((wk * rec)[:, :, None] * onehot, 1)
        qw = qw * fade + o.sum(wk[:, :, None] * onehot, 1)
        # advance the returns; a particle whose task ended is closed
        closed = o.where((p_cont < 1) & ~term, (1 - p_cont) * v_other, 0.0)
        st["G"] = o.where(alive, st["G"] + st["disc"] * st["S"] * (r_mean + z.gamma * closed), st["G"])
        st["S"] = o.where(alive, st["S"] * p_cont, st["S"])
        st["disc"] = o.where(alive, st["disc"] * z.gamma, st["disc"])
        st["v_cur"] = o.where(alive, v_cont, st["v_cur"])
        st["alive"] = alive & ~term
        if not more:
            break
        # continuation actions from the policy prior
        drawn = o.sum(f32(o.cumsum(probs, 1) <= o.uniform((R, 1))), 1)
        st["a"] = o.where(st["alive"], o.idx(o.clip(drawn, 0, A - 1)), st["a"])
        # systematic resampling of the environments whose ESS fell below planner.ess_threshold K (of every
        # one when the resampling period comes round: never within D = 4 at period 4); one gather of all
        # rows, the others' onto themselves, instead of the C planner's branch per environment
        lw = per_env(st["logw"])
        mx = o.max(lw, 1, keepdims=True)
        wr = o.exp(lw - mx)
        ess = o.sum(wr, 1) ** 2 / o.sum(wr * wr, 1)
        redo = ess < z.ess * K if (depth + 1) % z.period else every[:B]
        cdf = o.cumsum(wr / o.sum(wr, 1, keepdims=True), 1)
        target = (o.arange(K)[None, :] + o.uniform((B, 1))) / K
        pick = o.sum(f32(cdf[:, None, :K - 1] < target[:, :, None]), 2)  # the C loop's j, vectorised
        idx = (o.where(redo[:, None], o.idx(pick), o.arange(K)[None, :]) + o.arange(B)[:, None] * K).reshape(R)
        st["cum"] = o.where(redo[:, None], per_env(st["cum"]) + lw - mx, per_env(st["cum"])).reshape(R)
        st["logw"] = o.where(redo[:, None], 0.0, lw).reshape(R)
        st = {k: v[idx] for k, v in st.items()}

    # the backup readout: Q-hat per root action (the completed value where it had no particles), then
    # q* ~ pi exp(Q-hat / eta) and V-hat = E_q*[Q-hat]
    ev = qw > 0
    Q = qsum / o.where(ev, qw, 1.0)
    pi_eval = o.sum(o.where(ev, root_pi, 0.0), 1)
    piq = o.sum(o.where(ev, root_pi * Q, 0.0), 1)
    n_eval = o.sum(o.where(ev, nroot, 0.0), 1)
    v_mix = (root_v + n_eval * piq / o.clip(pi_eval, 1e-30, math.inf)) / (1 + n_eval)
    v_mix = o.where(pi_eval > 0, v_mix, root_v)
    Q = o.where(ev, Q, v_mix[:, None])
    logit = o.where(root_pi > 0, Q / z.eta, -math.inf)
    wq = o.where(root_pi > 0, root_pi * o.exp(logit - o.max(logit, 1, keepdims=True)), 0.0)
    q = wq / o.sum(wq, 1, keepdims=True)
    return q, o.sum(q * Q, 1)


class JaxOps:
    """The array operations planner_call uses, in JAX; random draws split a key carried through the call."""

    def __init__(self, key):
        import jax
        import jax.numpy as jnp
        self.jax, self.np, self.key = jax, jnp, key
        for name in ("exp", "log1p", "tanh", "abs", "isfinite", "where", "clip", "rint", "arange"):
            setattr(self, name, getattr(jnp, name))
        self.sigmoid, self.relu = jax.nn.sigmoid, jax.nn.relu

    def f32(self, x): return x.astype(self.np.float32)
    def idx(self, x): return x.astype(self.np.int32)
    def zeros(self, shape): return self.np.zeros(shape, self.np.float32)
    def cat(self, xs, axis): return self.np.concatenate(xs, axis)
    def sum(self, x, axis, keepdims=False): return self.np.sum(x, axis, keepdims=keepdims)
    def max(self, x, axis, keepdims=False): return self.np.max(x, axis, keepdims=keepdims)
    def cumsum(self, x, axis): return self.np.cumsum(x, axis)
    def take(self, x, i, axis): return self.np.take_along_axis(x, i, axis)
    def expand(self, x, shape): return self.np.broadcast_to(x, shape)
    def split3(self, x): return self.np.split(x, 3, 1)
    def softmax(self, x): return self.jax.nn.softmax(x, -1)
    def onehot(self, i, n): return self.jax.nn.one_hot(i, n, dtype=self.np.float32)

    def _next(self):
        self.key, k = self.jax.random.split(self.key)
        return k

    def normal(self, shape): return self.jax.random.normal(self._next(), shape)
    def uniform(self, shape): return self.jax.random.uniform(self._next(), shape)
    def randint(self, shape, n): return self.jax.random.randint(self._next(), shape, 0, n)


class TorchOps:
    """The same in PyTorch; random draws from its global generator."""

    def __init__(self):
        import torch
        self.t = torch
        for name in ("exp", "log1p", "tanh", "abs", "isfinite", "sigmoid", "relu", "arange", "cumsum"):
            setattr(self, name, getattr(torch, name))

    def f32(self, x): return x.float()
    def idx(self, x): return x.long()
    def zeros(self, shape): return self.t.zeros(shape)
    def where(self, c, a, b): return self.t.where(c, a, b)
    def clip(self, x, lo, hi): return self.t.clamp(x, lo, hi)
    def rint(self, x): return self.t.round(x)
    def cat(self, xs, axis): return self.t.cat(xs, axis)
    def sum(self, x, axis, keepdims=False): return self.t.sum(x, axis, keepdim=keepdims)
    def max(self, x, axis, keepdims=False): return self.t.amax(x, axis, keepdim=keepdims)
    def take(self, x, i, axis): return self.t.take_along_dim(x, i, axis)
    def expand(self, x, shape): return x.expand(shape)
    def split3(self, x): return self.t.chunk(x, 3, 1)
    def softmax(self, x): return self.t.softmax(x, -1)
    def onehot(self, i, n): return self.t.nn.functional.one_hot(i, n).float()
    def normal(self, shape): return self.t.randn(shape)
    def uniform(self, shape): return self.t.rand(shape)
    def randint(self, shape, n): return self.t.randint(0, n, shape)


def jaxpr_gemms(jaxpr, out):
    """(M, N, K) of every dot_general of a jaxpr and the jaxprs inside it."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
            ls, rs = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
            free_l = [d for i, d in enumerate(ls) if i not in lc and i not in lb]
            free_r = [d for i, d in enumerate(rs) if i not in rc and i not in rb]
            gemm = (math.prod(free_l), math.prod(free_r), math.prod(ls[i] for i in lc))
            out.extend([gemm] * math.prod(ls[i] for i in lb))
        for v in eqn.params.values():
            for sub in v if isinstance(v, (tuple, list)) else (v,):
                if hasattr(sub, "jaxpr") and hasattr(sub, "consts"):
                    jaxpr_gemms(sub.jaxpr, out)
                elif hasattr(sub, "eqns"):
                    jaxpr_gemms(sub, out)
    return out


def jax_peer(z, K, KO, seconds):
    import jax

    to = jax.tree_util.tree_map
    p, root = to(jax.numpy.asarray, make_params(z)), to(jax.numpy.asarray, make_root(z))

    def call(p, root, key):
        o = JaxOps(key)
        q, v = planner_call(o, p, root, z, K, KO)
        return q, v, o.key

    plan = jax.jit(call)
    state = {"key": jax.random.PRNGKey(1)}
    gemms = jaxpr_gemms(jax.make_jaxpr(call)(p, root, state["key"]).jaxpr, [])

    def run():
        q, v, state["key"] = plan(p, root, state["key"])
        jax.block_until_ready((q, v))

    return {"jax_jit": timed(run, seconds)}, gemms


def torch_peers(z, K, KO, threads, seconds):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    def tensor(a):  # indices as int64, which PyTorch's indexing and one_hot want
        return torch.from_numpy(a) if a.dtype == np.float32 else torch.from_numpy(a).long()

    p = {k: ([tuple(map(tensor, l)) for l in v] if isinstance(v, list) else
             tuple(map(tensor, v)) if isinstance(v, tuple) else tensor(v))
         for k, v in make_params(z).items()}
    root = {k: tensor(v) for k, v in make_root(z).items()}
    o = TorchOps()

    @torch.no_grad()
    def call():
        return planner_call(o, p, root, z, K, KO)

    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        call()
    flops = fc.get_total_flops() / (B * K * D)
    out = {"torch_eager": timed(call, seconds)}
    try:
        out["torch_compile"] = timed(torch.compile(call), seconds)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"# torch.compile unavailable: {type(e).__name__}: {e}", file=sys.stderr)
    return out, flops


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--particles", type=int, nargs="+", default=sorted(BUDGETS), choices=sorted(BUDGETS))
    ap.add_argument("--config", default="configs/gridworld.yaml")
    ap.add_argument("--shapes", action="store_true", help="also print the GEMMs of a call, (M, N, K) x count")
    a = ap.parse_args()
    z = gridworld_sizes(a.config)
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) != a.threads:
        print(f"# {len(os.sched_getaffinity(0))} cores allowed for --threads {a.threads}: JAX (XLA) takes its "
              f"threads from the cores it may run on, so pin it (taskset)", file=sys.stderr)
    for K in a.particles:
        KO = BUDGETS[K]
        tag = f"planner_gridworld_b{B}_k{K}_d{D}_ko{KO}"
        want = c_gemms(z, K, KO)
        rates, flops = {}, None
        try:
            r, gemms = jax_peer(z, K, KO, a.seconds)
            rates.update(r)
            flops = flops_per_step(gemms, K)
            if collections.Counter(gemms) != collections.Counter(want):
                print(f"# jax_jit's GEMMs differ from the C planner's: extra "
                      f"{dict(collections.Counter(gemms) - collections.Counter(want))}, missing "
                      f"{dict(collections.Counter(want) - collections.Counter(gemms))}", file=sys.stderr)
            if a.shapes:
                for (m, n, k), c in sorted(collections.Counter(gemms).items(), key=lambda i: -i[0][0]):
                    print(f"# {tag} gemm M={m} N={n} K={k} x{c}", file=sys.stderr)
        except ImportError:
            print("# jax not installed", file=sys.stderr)
        try:
            r, torch_flops = torch_peers(z, K, KO, a.threads, a.seconds)
            rates.update(r)
            if torch_flops != flops_per_step(want, K):
                print(f"# torch counts {torch_flops:.0f} FLOP/particle-step against the C planner's "
                      f"{flops_per_step(want, K):.0f}", file=sys.stderr)
            flops = torch_flops if flops is None else flops
        except ImportError:
            print("# torch not installed", file=sys.stderr)
        if flops is not None:
            print(f"peers_{tag}_gemm_flops {flops:.0f} FLOP/particle-step", flush=True)
        for name, calls in rates.items():
            print(f"{name}_{tag}_threads{a.threads} {calls * B * K * D:.0f} steps/s", flush=True)


if __name__ == "__main__":
    # JAX (XLA) takes its intra-op threads from the cores it may run on, so
    # make bench-peers pins each run with taskset.
    main()
