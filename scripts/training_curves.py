#!/usr/bin/env python3
"""Validation return of training runs against environment steps and wall-clock.

  scripts/training_curves.py LABEL=RUN_DIR[,RUN_DIR...] ... [--target 35.5] [--png FILE] [--title TEXT]
                             [--save DIR] [--episode N]

Reads each run's evals.jsonl (the evaluations during training on validation
tasks, eval.every_updates) and metrics.jsonl (wall seconds and steps per
second), prints a Markdown table per run (steps and wall seconds to the first
validation return >= --target, the best validation return, the mean steps per
second) and, with --png, draws the curves of every run, coloured by label.
With --save, writes the fields it reads of each run (env steps, wall seconds,
steps per second, validation returns) to DIR/<run>/, a few kilobytes that
this script reads back as a run, so a figure can be redrawn without the runs.
The plot needs matplotlib (pip install matplotlib).
"""
import argparse
import bisect
import json
import os
import sys


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def save(run, out_root):
    """The fields load() reads, of one run, to out_root/<run's name>/."""
    out = os.path.join(out_root, os.path.basename(run.rstrip("/")))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "evals.jsonl"), "w") as f:
        for e in read_jsonl(os.path.join(run, "evals.jsonl")):
            r = {k: e["result"][k] for k in ("return_mean", "return_stderr", "episode_return_mean") if k in e["result"]}
            f.write(json.dumps({"env_steps": e["env_steps"], "result": r}) + "\n")
    with open(os.path.join(out, "metrics.jsonl"), "w") as f:
        for m in read_jsonl(os.path.join(run, "metrics.jsonl")):
            f.write(json.dumps({k: m[k] for k in ("env_steps", "wall_s", "sps")}) + "\n")


def load(run, episode=0):
    for name in ("evals.jsonl", "metrics.jsonl"):
        if not os.path.exists(os.path.join(run, name)):
            sys.exit("training_curves.py: %s has no %s (evals.jsonl needs eval.every_updates)" % (run, name))
    evals = read_jsonl(os.path.join(run, "evals.jsonl"))
    metrics = read_jsonl(os.path.join(run, "metrics.jsonl"))
    steps = [m["env_steps"] for m in metrics]
    walls = [m["wall_s"] for m in metrics]

    def wall_at(s):
        """Wall seconds at env step s, interpolated between metrics lines."""
        i = bisect.bisect_left(steps, s)
        if i == 0:
            return walls[0] * s / max(steps[0], 1)
        if i >= len(steps):
            return walls[-1]
        f = (s - steps[i - 1]) / max(steps[i] - steps[i - 1], 1)
        return walls[i - 1] + f * (walls[i] - walls[i - 1])

    def value(e):
        r = e["result"]
        if not episode:
            return r["return_mean"]
        eps = r.get("episode_return_mean", [])
        if episode > len(eps):
            sys.exit("training_curves.py: %s has %d episodes per task, no episode %d" % (run, len(eps), episode))
        return eps[episode - 1]

    pts = [(e["env_steps"], wall_at(e["env_steps"]), value(e)) for e in evals]
    sps = sum(m["sps"] for m in metrics) / max(len(metrics), 1)
    return {"points": pts, "sps": sps, "wall": walls[-1] if walls else 0, "steps": steps[-1] if steps else 0}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("groups", nargs="+", help="LABEL=RUN_DIR[,RUN_DIR...]")
    p.add_argument("--target", type=float, default=35.5)
    p.add_argument("--png")
    p.add_argument("--title")
    p.add_argument("--save")
    p.add_argument("--episode", type=int, default=0, help="the N-th episode's return (1 = the first)")
    a = p.parse_args()
    if a.episode < 0:
        sys.exit("training_curves.py: --episode must be 1 or more")
    groups = []
    for g in a.groups:
        if "=" not in g:
            sys.exit("training_curves.py: expected LABEL=RUN_DIR[,RUN_DIR...], got '%s'" % g)
        label, dirs = g.split("=", 1)
        dirs = [d for d in dirs.split(",") if d]
        groups.append((label, [(d, load(d, a.episode)) for d in dirs]))
        for d in dirs if a.save else ():
            save(d, a.save)
    what = "episode %d's validation return" % a.episode if a.episode else "validation return"
    print("| label | run | env steps to %.1f | wall s to %.1f | best %s | env steps | wall s | "
          "steps/s |" % (a.target, a.target, what))
    print("|---|---|---|---|---|---|---|---|")
    for label, runs in groups:
        for d, r in runs:
            hit = next(((s, w) for s, w, v in r["points"] if v >= a.target), None)
            best = max((v for _, _, v in r["points"]), default=float("nan"))
            print("| %s | %s | %s | %s | %.2f | %.2fM | %.0f | %.0f |" % (
                label, os.path.basename(d.rstrip("/")), "%.2fM" % (hit[0] / 1e6) if hit else "not reached",
                "%.0f" % hit[1] if hit else "–", best, r["steps"] / 1e6, r["wall"], r["sps"]))
    if not a.png:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, (label, runs) in enumerate(groups):
        for ri, (d, r) in enumerate(runs):
            s, w, v = zip(*r["points"]) if r["points"] else ((), (), ())
            kw = {"color": colours[gi % len(colours)], "alpha": 0.8, "label": label if ri == 0 else None}
            axes[0].plot([x / 1e6 for x in s], v, **kw)
            axes[1].plot([x / 60 for x in w], v, **kw)
    for ax, xl in ((axes[0], "environment steps (millions)"), (axes[1], "wall-clock (minutes)")):
        ax.axhline(a.target, color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel(xl)
        ax.set_ylabel(what + " (the policy alone)")
        if a.episode:  # the approach to the target, where the runs differ
            ax.set_ylim(a.target - 3, ax.get_ylim()[1])
        else:
            ax.set_ylim(bottom=max(min(ax.get_ylim()[0], a.target - 10), -5))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(a.title or "training curves")
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print("\nwrote %s" % a.png)


if __name__ == "__main__":
    main()
