#!/usr/bin/env python3
"""Draw gridworld searches from `./actor --eval ... --trace FILE`.

One row per task, one panel per episode: the cells the agent entered, in
order (darker = later), the goal (the task's best cell, a star) and, where
the agent reached it, the step it first did. By default the first tasks
whose first episode missed the goal, the searches that decide the return.

    ./actor --eval --checkpoint runs/perm_h128 --tasks 200 --seed 1 \\
        --set eval.planning=policy --trace perm.csv
    python3 scripts/plot_trace.py perm.csv --out search.png [--tasks 3,7,12] [--rows 6] [--all]

Several traces of the same tasks (same --seed and --tasks) side by side:
    python3 scripts/plot_trace.py "VariBASeD=perm.csv" "greedy search=greedy.csv" --out both.png

--stats prints, for each trace, the tasks whose first episode missed the
goal and, over those, each episode's steps spent standing off the goal
(entering the cell it was in) and distinct cells entered. Where the trace
has the learned belief beside the exact posterior (a trained VariBASeD agent
on a family with an exact posterior), it prints too, per episode over the
steps until the goal is first found: the belief's L1 distance to the exact
posterior (summed over cells) and the hit probability it gives a cell the
prior or the history rules out (exact: 0).
--belief-out PNG draws the same two measures step by step through the task,
one line per trace (traces without belief columns are left out).
"""
import argparse
import csv
import math
import sys
from collections import defaultdict


def opt_float(text):
    return float(text) if text not in (None, "") else None


def load(path):
    """task -> list of (step, episode, action, reward, cell); task -> best cell;
    task -> list of (episode, exact_hit, belief_hit, belief_l1), None where absent."""
    steps, best, belief = defaultdict(list), {}, defaultdict(list)
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        need = {"task", "step", "episode", "action", "reward", "cell", "task_best_cell"}
        if not rows.fieldnames or not need <= set(rows.fieldnames):
            sys.exit(f"plot_trace: {path}: not a --trace file (columns {sorted(need)})")
        for r in rows:
            k = int(r["task"])
            steps[k].append((int(r["step"]), int(r["episode"]), int(r["action"]), float(r["reward"]), int(r["cell"])))
            best[k] = int(r["task_best_cell"])
            belief[k].append((int(r["episode"]), *(opt_float(r.get(c)) for c in ("exact_hit", "belief_hit", "belief_l1"))))
    if not steps:
        sys.exit(f"plot_trace: {path}: no steps")
    if any(c < 0 for t in steps.values() for (_, _, _, _, c) in t):
        sys.exit(f"plot_trace: {path}: the family has no discrete states to draw")
    return steps, best, belief


def found(task_steps, best, episode):
    return any(e == episode and c == best and r > 0 for (_, e, _, r, c) in task_steps)


def belief_until_found(steps, best, belief, key):
    """The learned belief against the exact posterior over each task's steps
    until its goal is found (the finding step included), grouped by key(step,
    episode): the L1 distances and the hit probabilities given ruled-out
    cells, each a dict of lists; None where the trace has no belief."""
    l1, ruled_out = defaultdict(list), defaultdict(list)
    for k, rows in belief.items():
        for t, ((_, e, _, r, c), (_, exact, hit, dist)) in enumerate(zip(steps[k], rows)):
            if dist is None:
                return None
            l1[key(t, e)].append(dist)
            if exact == 0:
                ruled_out[key(t, e)].append(hit)
            if r > 0 and c == best[k]:
                break
    return l1, ruled_out


def belief_by_cell(steps, best, belief):
    """Per episode, over each task's steps until its goal is found: the hit
    probabilities the belief gives the cell it stands in when it moves into a
    wall (entered again at once), a cell entered earlier in the task, a cell
    entered for the first time that the exact posterior rules out (by the
    prior), and a cell still open, with the exact posterior's for the last;
    None where the trace has no belief."""
    stand, earlier, prior, open_b, open_x = (defaultdict(list) for _ in range(5))
    for k, rows in belief.items():
        seen, prev = set(), None
        for (_, e, _, r, c), (_, exact, hit, dist) in zip(steps[k], rows):
            if dist is None:
                return None
            if exact > 0:
                open_b[e].append(hit)
                open_x[e].append(exact)
            elif prev == (e, c):
                stand[e].append(hit)
            else:
                (earlier if c in seen else prior)[e].append(hit)
            seen.add(c)
            prev = (e, c)
            if r > 0 and c == best[k]:
                break
    return stand, earlier, prior, open_b, open_x


def belief_stats(label, steps, best, belief):
    """The belief lines of --stats, per episode."""
    by_episode = belief_until_found(steps, best, belief, lambda t, e: e)
    if by_episode is None:
        return
    l1, ruled_out = by_episode
    E = max(e for t in steps.values() for (_, e, _, _, _) in t) + 1
    mean = lambda v: f"{sum(v) / len(v):.3f}" if v else "-"
    print(f"{label}: belief until the goal is found, per episode: L1 to the exact posterior "
          f"{', '.join(mean(l1[e]) for e in range(E))}; hit probability on a cell ruled out "
          f"{', '.join(mean(ruled_out[e]) for e in range(E))} (exact 0); "
          f"steps {', '.join(str(len(l1[e])) for e in range(E))}")
    stand, earlier, prior, open_b, open_x = belief_by_cell(steps, best, belief)
    per = lambda d: ", ".join(mean(d[e]) for e in range(E))
    print(f"{label}: hit probability per episode at the cell it stands in, moving into a wall {per(stand)}; "
          f"at a cell entered earlier {per(earlier)}; entered first, ruled out by the prior {per(prior)} "
          f"(exact 0 for all three); at a cell still open {per(open_b)} (exact {per(open_x)})")


MIN_TASKS = 10  # a step's mean in the belief picture needs as many tasks


def belief_by_step(steps, best, belief):
    """Per step of the task: the mean L1 and the mean hit probability given a
    ruled-out cell (NaN over fewer than MIN_TASKS tasks); None where the
    trace has no belief."""
    by_step = belief_until_found(steps, best, belief, lambda t, e: t)
    if by_step is None:
        return None
    H = max(len(t) for t in steps.values())
    mean = lambda v: sum(v) / len(v) if len(v) >= MIN_TASKS else float("nan")
    return [[mean(d[t]) for t in range(H)] for d in by_step]


def plot_belief(traces, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    drawn = 0
    for label, steps, best, belief in traces:
        by_step = belief_by_step(steps, best, belief)
        if by_step is None:
            continue
        drawn += 1
        for ax, ys in zip(axes, by_step):
            ax.plot(range(1, len(ys) + 1), ys, label=label)
    if not drawn:
        sys.exit("plot_trace: --belief-out: no trace has belief columns (a trained VariBASeD agent's --trace)")
    E = max(e for t in traces[0][1].values() for (_, e, _, _, _) in t) + 1
    H = max(len(t) for t in traces[0][1].values())
    for ax, title in zip(axes, ["L1 from the exact posterior (all cells)",
                                "hit probability at a ruled-out cell (exact: 0)"]):
        for e in range(1, E):
            ax.axvline(e * H / E + 0.5, color="0.8", lw=0.8)
        ax.set_xlabel("step of the task (until the goal is found)")
        ax.set_title(title, fontsize=9)
        ax.grid(True, color="0.9")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot_trace: the belief of {drawn} traces -> {out}")


def stats(label, steps, best, belief):
    missed = [k for k in sorted(steps) if not found(steps[k], best[k], 0)]
    E = max(e for t in steps.values() for (_, e, _, _, _) in t) + 1
    stay, distinct = [0] * E, [0] * E
    for k in missed:
        prev = None
        for (_, e, _, _, c) in steps[k]:
            if prev is not None and prev[0] == e and c == prev[1] and c != best[k]:
                stay[e] += 1
            prev = (e, c)
        for e in range(E):
            distinct[e] += len({c for (_, ep, _, _, c) in steps[k] if ep == e})
    n = max(len(missed), 1)
    print(f"{label}: first episode missed in {len(missed)} of {len(steps)} tasks; over those, per episode: "
          f"steps standing off the goal {', '.join(f'{x / n:.1f}' for x in stay)}; "
          f"distinct cells {', '.join(f'{x / n:.1f}' for x in distinct)}")
    belief_stats(label, steps, best, belief)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="+", help="FILE or LABEL=FILE, traces of the same tasks")
    ap.add_argument("--out", help="the PNG to write")
    ap.add_argument("--stats", action="store_true", help="print each trace's search statistics")
    ap.add_argument("--belief-out", help="the PNG of the learned belief against the exact posterior, step by step")
    ap.add_argument("--tasks", help="comma-separated task indices (default: first-episode misses of the first trace)")
    ap.add_argument("--rows", type=int, default=4, help="tasks to draw (default 4)")
    ap.add_argument("--all", action="store_true", help="the first tasks, missed or not")
    ap.add_argument("--grid-size", type=int, help="cells per side (default: from the largest cell)")
    a = ap.parse_args()
    if not a.out and not a.stats and not a.belief_out:
        ap.error("nothing to do: give --out PNG, --stats, --belief-out PNG or several")
    traces = []
    for t in a.traces:
        label, _, path = t.rpartition("=")
        traces.append((label or path, *load(path)))
    if a.stats:
        for tr in traces:
            stats(*tr)
    if not a.out and not a.belief_out:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_trace: needs matplotlib (apt-get install python3-matplotlib)")
    if a.belief_out:
        plot_belief(traces, a.belief_out)
    if not a.out:
        return

    steps0, best0 = traces[0][1], traces[0][2]
    if a.tasks:
        try:
            tasks = [int(x) for x in a.tasks.split(",")]
        except ValueError:
            sys.exit(f"plot_trace: --tasks {a.tasks}: expected integers separated by commas")
    else:
        tasks = [k for k in sorted(steps0) if a.all or not found(steps0[k], best0[k], 0)][: a.rows]
    for label, steps, _, _ in traces:
        missing = [k for k in tasks if k not in steps]
        if missing:
            sys.exit(f"plot_trace: {label}: no task {missing[0]} (traces of different --tasks or --seed?)")
    if not tasks:
        sys.exit("plot_trace: no task to draw (every first episode found the goal; try --all)")
    cells = max(c for _, s, _, _ in traces for t in s.values() for (_, _, _, _, c) in t) + 1
    G = a.grid_size or int(math.isqrt(cells - 1)) + 1
    E = max(e for (_, e, _, _, _) in steps0[tasks[0]]) + 1

    cols = E * len(traces)
    fig, axes = plt.subplots(len(tasks), cols, figsize=(1.6 * cols, 1.7 * len(tasks)), squeeze=False)
    for row, k in enumerate(tasks):
        for ti, (label, steps, best, _) in enumerate(traces):
            for e in range(E):
                ax = axes[row][ti * E + e]
                episode = [(r, c) for (_, ep, _, r, c) in steps[k] if ep == e]
                path = [c for (_, c) in episode]
                n = len(path)
                for i, c in enumerate(path):
                    ax.add_patch(plt.Rectangle((c % G, c // G), 1, 1, color=(0.1, 0.3, 0.8, 0.15 + 0.6 * i / max(n, 1))))
                gx, gy = best[k] % G + 0.5, best[k] // G + 0.5
                ax.plot(gx, gy, marker="*", color="orange", markersize=11, markeredgecolor="k")
                hit = next((i for i, (r, c) in enumerate(episode) if r > 0 and c == best[k]), None)
                ax.set_xlim(0, G)
                ax.set_ylim(G, 0)
                ax.set_xticks(range(G + 1))
                ax.set_yticks(range(G + 1))
                ax.tick_params(length=0, labelbottom=False, labelleft=False)
                ax.grid(True, color="0.85")
                ax.set_aspect("equal")
                title = f"ep {e + 1}: " + (f"goal at step {hit + 1}" if hit is not None else "missed")
                if row == 0 and e == 0 and len(traces) > 1:
                    title = f"{label}\n" + title
                ax.set_title(title, fontsize=7)
                if e == 0 and ti == 0:
                    ax.set_ylabel(f"task {k}", fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"plot_trace: {len(tasks)} tasks, {len(traces)} agents -> {a.out}")


if __name__ == "__main__":
    main()
