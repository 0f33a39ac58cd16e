#!/usr/bin/env python3
"""Where a multi-episode search agent loses return, paired on the same tasks.

  scripts/search_split.py NAME=FILE.csv [NAME=FILE.csv ...] [--by NAME] [--found-above R] [--md]

Each FILE is the per-task CSV of ./actor --eval --per-task on the same tasks
(same --tasks and --seed). Each agent's tasks are split by whether it found
the goal in episode 1 (its first episode's return is above --found-above; in
GridNavi an episode that never reaches the goal returns -0.1 per step, -1.5
for 15 steps, the default threshold -1.45); with --by NAME every agent's
tasks are split by NAME's episode 1 instead (paired parts). For each agent
and each part it prints the mean return of every episode, and the share of
tasks whose last episode still never reached the goal. A search
agent that finds the goal and then returns to it loses nothing after
episode 1 on the "found" part; what it loses on the "not found" part is the
search it continues in episodes 2 and later.
"""
import argparse
import csv
import math
import sys


def load(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            eps = sorted(k for k in r if k.startswith("episode_"))
            rows[int(r["task"])] = [float(r[k]) for k in eps]
    return rows


def mean_se(xs):
    n = len(xs)
    if n == 0:
        return float("nan"), float("nan")
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    v = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(v / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("agents", nargs="+", metavar="NAME=FILE.csv")
    ap.add_argument("--found-above", type=float, default=-1.45,
                    help="episode 1 return above which the goal counts as found (default -1.45)")
    ap.add_argument("--by", metavar="NAME", help="split every agent's tasks by NAME's episode 1")
    ap.add_argument("--md", action="store_true", help="print a Markdown table")
    a = ap.parse_args()
    agents = []
    for spec in a.agents:
        if "=" not in spec:
            sys.exit(f"search_split: '{spec}': expected NAME=FILE.csv")
        name, path = spec.split("=", 1)
        try:
            agents.append((name, load(path)))
        except (OSError, KeyError, ValueError) as e:
            sys.exit(f"search_split: {path}: {e}")
    tasks = set(agents[0][1])
    for name, rows in agents[1:]:
        if set(rows) != tasks:
            sys.exit(f"search_split: {name} holds other tasks than {agents[0][0]}: evaluate both with the same --tasks and --seed")
    by = None
    if a.by is not None:
        by = next((rows for name, rows in agents if name == a.by), None)
        if by is None:
            sys.exit(f"search_split: --by {a.by}: no such agent")
    E = len(agents[0][1][next(iter(tasks))])
    head = ["agent", "episode 1", "tasks", "share"] + [f"episode {e + 1}" for e in range(E)] + ["last episode never reached"]
    if a.md:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print("  ".join(head))
    for name, rows in agents:
        split = by if by is not None else rows
        who = f"found by {a.by}" if by is not None else "found"
        parts = ((who, sorted(t for t in tasks if split[t][0] > a.found_above)),
                 ("not " + who, sorted(t for t in tasks if split[t][0] <= a.found_above)))
        for part, ts in parts:
            cells = [name, part, str(len(ts)), f"{len(ts) / len(tasks):.3f}"]
            for e in range(E):
                m, se = mean_se([rows[t][e] for t in ts])
                cells.append(f"{m:.2f} ± {se:.2f}")
            never = sum(1 for t in ts if rows[t][E - 1] <= a.found_above)
            cells.append(f"{never / len(ts):.3f}" if ts else "-")
            print(("| " + " | ".join(cells) + " |") if a.md else "  ".join(cells))

if __name__ == "__main__":
    main()
