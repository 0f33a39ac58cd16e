#!/usr/bin/env python3
"""plot_runs — learning curves of run folders as a PNG.

  scripts/plot_runs.py LABEL=RUN[,RUN...] [LABEL=RUN...] --png FILE
                       [--source train|eval] [--ref NAME=VALUE ...] [--episodes 1,5,10] [--title TEXT]
                       [--metric KEY ...]

Each LABEL is one agent; its RUN folders are seeds of it, drawn as their mean
with a band of +- one standard error across seeds (a single run is drawn
alone). The figure has, in a row: the task return against environment steps,
the same against wall-clock seconds, and the return of each episode index of
a task (episode 1, 2, ...) against environment steps — where a Bayes-adaptive
agent shows that it explores early and exploits later. --ref draws a
horizontal reference line per NAME=VALUE (e.g. Bayes-optimal=37.21,
oracle=44.29, RL2=35.1; for the per-episode panels give NAME=V1/V2/.../VE,
the value per episode, and their sum is used for the task return).

--source train (default) reads metrics.jsonl: the returns of the tasks the
actors finished in each interval (the behaviour policy, exploration
included). --source eval reads evals.jsonl: the validation evaluations of
eval.every_updates (the greedy policy or the planner on held-out validation
tasks). --episodes picks the episode panels (default: every episode index;
the bandit's ten one-pull episodes want a few). --metric KEY adds a panel of
that metrics.jsonl key against environment steps (e.g. carry_drift, belief_mae,
state_loglik), drawn where a run logs it. Needs matplotlib (Debian: python3-matplotlib, installed by make deps;
or pip install matplotlib).
"""
import argparse
import json
import math
import os
import sys


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_metric(run, key):
    """(env_steps, values) of one metrics.jsonl key of a run folder."""
    rows = [r for r in read_jsonl(os.path.join(run, "metrics.jsonl")) if r.get(key) is not None]
    return [r["env_steps"] for r in rows], [r[key] for r in rows]


def load_run(run, source):
    """[(env_steps, wall_s, task_return, [episode returns])] of one run folder."""
    metrics = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(metrics):
        sys.exit(f"plot_runs: {run}: no metrics.jsonl (is it a run folder?)")
    rows = read_jsonl(metrics)
    walls = [(r["env_steps"], r.get("wall_s", 0.0)) for r in rows]
    out = []
    if source == "train":
        for r in rows:
            if "return_mean" in r:
                out.append((r["env_steps"], r.get("wall_s", 0.0), r["return_mean"], r.get("episode_return_mean", [])))
    else:
        evals = os.path.join(run, "evals.jsonl")
        if not os.path.exists(evals):
            sys.exit(f"plot_runs: {run}: no evals.jsonl (--source eval needs eval.every_updates > 0)")
        for e in read_jsonl(evals):
            res, s = e["result"], e["env_steps"]
            # the wall time of the metrics line at or after these steps
            w = next((w for st, w in walls if st >= s), walls[-1][1] if walls else 0.0)
            out.append((s, w, res["return_mean"], res.get("episode_return_mean", [])))
    if not out:
        sys.exit(f"plot_runs: {run}: no returns in its {'metrics' if source == 'train' else 'evals'}.jsonl yet")
    return out


def interp(xs, ys, x):
    """ys at x, linear between samples, held beyond the ends."""
    if x <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]) if xs[i] > xs[i - 1] else 1.0
            return ys[i - 1] + t * (ys[i] - ys[i - 1])
    return ys[-1]


def band(curves, n=200):
    """Mean and standard error across curves [(xs, ys)] on a common grid over
    the x range every curve covers."""
    lo = max(c[0][0] for c in curves)
    hi = min(c[0][-1] for c in curves)
    if hi <= lo:
        hi = max(c[0][-1] for c in curves)
    grid = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    mean, se = [], []
    for x in grid:
        v = [interp(xs, ys, x) for xs, ys in curves]
        m = sum(v) / len(v)
        s = math.sqrt(sum((u - m) ** 2 for u in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0.0
        mean.append(m)
        se.append(s)
    return grid, mean, se


def parse_refs(refs):
    out = []
    for r in refs:
        name, _, val = r.partition("=")
        if not val:
            sys.exit(f"plot_runs: --ref {r}: expected NAME=VALUE or NAME=V1/V2/...")
        try:
            vals = [float(v) for v in val.split("/")]
        except ValueError:
            sys.exit(f"plot_runs: --ref {r}: not a number")
        out.append((name, vals))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="LABEL=RUN[,RUN...]")
    ap.add_argument("--png", required=True)
    ap.add_argument("--source", choices=["train", "eval"], default="train")
    ap.add_argument("--ref", action="append", default=[], help="NAME=VALUE or NAME=V1/V2/.../VE")
    ap.add_argument("--title", default="")
    ap.add_argument("--episodes", default="", help="episode indices to draw, e.g. 1,5,10 (default: all)")
    ap.add_argument("--metric", action="append", default=[], help="a metrics.jsonl key to draw against steps")
    a = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_runs: needs matplotlib (Debian: apt-get install python3-matplotlib; or pip install matplotlib)")
    groups = []
    for spec in a.runs:
        label, _, runs = spec.partition("=")
        if not runs:
            sys.exit(f"plot_runs: {spec}: expected LABEL=RUN[,RUN...]")
        groups.append((label, [load_run(r, a.source) for r in runs.split(",")], runs.split(",")))
    E = max(len(p[3]) for _, runs, _ in groups for run in runs for p in run)
    refs = parse_refs(a.ref)
    try:
        shown = [int(e) - 1 for e in a.episodes.split(",")] if a.episodes else list(range(E))
    except ValueError:
        sys.exit(f"plot_runs: --episodes {a.episodes}: expected indices like 1,5,10")
    if any(e < 0 or e >= E for e in shown):
        sys.exit(f"plot_runs: --episodes {a.episodes}: the runs have episodes 1..{E}")
    if E <= 1:
        shown = []
    ncol = 2 + len(shown) + len(a.metric)
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 3.6), squeeze=False)
    axes = axes[0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, (label, runs, dirs) in enumerate(groups):
        c = colours[gi % len(colours)]
        n = len(runs)
        tag = f"{label} ({n} seed{'s' if n > 1 else ''})"
        panels = [(0, 0, lambda p: p[2]), (1, 1, lambda p: p[2])]
        panels += [(2 + i, 0, (lambda e: lambda p: p[3][e] if e < len(p[3]) else float("nan"))(e))
                   for i, e in enumerate(shown)]
        for col, xkey, yfun in panels:
            curves = [([p[xkey] for p in run], [yfun(p) for p in run]) for run in runs]
            if n == 1:
                axes[col].plot(curves[0][0], curves[0][1], color=c, lw=1.2, label=tag)
            else:
                g, m, s = band(curves)
                axes[col].plot(g, m, color=c, lw=1.5, label=tag)
                axes[col].fill_between(g, [u - v for u, v in zip(m, s)], [u + v for u, v in zip(m, s)], color=c,
                                       alpha=0.25, lw=0)
        for mi, key in enumerate(a.metric):
            for di, d in enumerate(dirs):
                xs, ys = load_metric(d, key)
                if xs:
                    axes[2 + len(shown) + mi].plot(xs, ys, color=c, lw=1.0, label=tag if di == 0 else None)
    styles = ["--", ":", "-."]
    for ri, (name, vals) in enumerate(refs):
        ls = styles[ri % len(styles)]
        total = sum(vals)
        for col in (0, 1):
            axes[col].axhline(total, color="k", ls=ls, lw=0.9, label=name)
        if len(vals) == E and E > 1:
            for i, e in enumerate(shown):
                axes[2 + i].axhline(vals[e], color="k", ls=ls, lw=0.9, label=name)
    what = "training return" if a.source == "train" else "validation return"
    axes[0].set(xlabel="environment steps", ylabel=f"{what} per task", title="against steps")
    axes[1].set(xlabel="wall-clock seconds", title="against wall-clock")
    for i, e in enumerate(shown):
        axes[2 + i].set(xlabel="environment steps", title=f"episode {e + 1}")
    for mi, key in enumerate(a.metric):
        axes[2 + len(shown) + mi].set(xlabel="environment steps", title=key)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"plot_runs: wrote {a.png}")


if __name__ == "__main__":
    main()
