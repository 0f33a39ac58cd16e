#!/usr/bin/env python3
"""The test-time planning budget of a trained agent, paired on the same tasks.

  scripts/budget.py run RUN_DIR OUT_DIR [--tasks N] [--seed S] [--ks 1,4,16,64,256]
                        [--kos 1,4,16] [--ko-at 16] [--set section.key=value ...]
      evaluates the policy alone, then the planner of the run's eval section at
      each K (eval.particles) and each K_Omega (eval.nested) at K = --ko-at, all
      with the same --seed and --tasks; writes OUT_DIR/<label>.json (the
      actor's summary) and OUT_DIR/<label>.csv (per-task returns)
  scripts/budget.py report OUT_DIR [--png FILE] [--title TEXT] [--reference NAME=VALUE ...]
      prints a Markdown table: mean return with its standard error, and the
      paired difference against the policy alone and against the next smaller
      K (mean and standard error of the per-task differences); draws the
      returns against K (and K_Omega) with two paired standard errors as a PNG.

Needs the ./actor of this repository (run from its root); the plot needs
matplotlib (pip install matplotlib).
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time


def evaluate(run, out_dir, label, tasks, seed, sets):
    cmd = ["./actor", "--eval", "--checkpoint", run, "--tasks", str(tasks), "--seed", str(seed),
           "--per-task", os.path.join(out_dir, label + ".csv")]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("budget.py: %s failed (%d):\n%s" % (" ".join(cmd), res.returncode, res.stderr[-2000:]))
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    summary["label"] = label
    summary["command"] = " ".join(cmd)
    summary["seconds"] = time.time() - t0
    with open(os.path.join(out_dir, label + ".json"), "w") as f:
        json.dump(summary, f)
    print("%-10s %.3f +- %.3f  (%.0f s)" % (label, summary["return_mean"], summary["return_stderr"],
                                          summary["seconds"]), flush=True)


def cmd_run(a):
    os.makedirs(a.out, exist_ok=True)
    base = list(a.set or [])
    evaluate(a.run, a.out, "policy", a.tasks, a.seed, base + ["eval.planning=policy"])
    for k in [int(x) for x in a.ks.split(",") if x]:
        evaluate(a.run, a.out, "K%d" % k, a.tasks, a.seed, base + ["eval.planning=planner", "eval.particles=%d" % k])
    for ko in [int(x) for x in a.kos.split(",") if x]:
        evaluate(a.run, a.out, "K%d_KO%d" % (a.ko_at, ko), a.tasks, a.seed,
                 base + ["eval.planning=planner", "eval.particles=%d" % a.ko_at, "eval.nested=%d" % ko])


def load(out_dir):
    rows = {}
    for name in os.listdir(out_dir):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(out_dir, name)) as f:
            s = json.load(f)
        with open(os.path.join(out_dir, s["label"] + ".csv")) as f:
            s["per_task"] = [float(r["return"]) for r in csv.DictReader(f)]
        rows[s["label"]] = s
    return rows


def fmt(ms):
    """'+m +- s' without a negative zero."""
    m, s = ms
    return "%+.3f +- %.3f" % (round(m, 3) + 0.0, s)


def paired(a, b):
    """Mean and standard error of the per-task differences a - b."""
    if len(a) != len(b):
        sys.exit("budget.py: the evaluations ran on different task counts; pair only equal runs")
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    m = sum(d) / n
    var = sum((x - m) ** 2 for x in d) / (n - 1) if n > 1 else float("nan")
    return m, math.sqrt(var / n)


def order(rows):
    ks = sorted((int(l[1:]), l) for l in rows if l.startswith("K") and "_" not in l)
    kos = sorted((int(l.split("KO")[1]), l) for l in rows if "_KO" in l)
    return ks, kos


def cmd_report(a):
    rows = load(a.out)
    if "policy" not in rows:
        sys.exit("budget.py: %s has no evaluation of the policy alone" % a.out)
    pol = rows["policy"]
    ks, kos = order(rows)
    any_row = next(iter(rows.values()))
    print("%d tasks, seed %s; differences are paired over the same tasks (mean +- standard error)\n"
          % (any_row["tasks"], any_row["seed"]))
    print("| agent | return | per episode | - the policy alone | - the next smaller K | seconds |")
    print("|---|---|---|---|---|---|")

    def line(label, name, prev):
        s = rows[label]
        eps = ", ".join("%.2f" % e for e in s["episode_return_mean"])
        d_pol = "–" if label == "policy" else fmt(paired(s["per_task"], pol["per_task"]))
        d_prev = fmt(paired(s["per_task"], rows[prev]["per_task"])) if prev else "–"
        print("| %s | %.3f +- %.3f | %s | %s | %s | %.0f |" % (name, s["return_mean"], s["return_stderr"], eps, d_pol,
                                                            d_prev, s.get("seconds", float("nan"))))

    line("policy", "the policy alone", None)
    prev = None
    for k, label in ks:
        line(label, "K %d" % k, prev)
        prev = label
    prev = None
    for ko, label in kos:
        line(label, "K %s, K_Omega %d" % (label.split("_")[0][1:], ko), prev)
        prev = label
    if a.png:
        plot(rows, pol, ks, kos, a)


def plot(rows, pol, ks, kos, a):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2 if kos else 1, figsize=(10 if kos else 6, 4), squeeze=False)
    for ax, series, xlabel in ((axes[0][0], ks, "particles K"),) + (((axes[0][1], kos, "nested particles K_Omega"),)
                                                                      if kos else ()):
        xs = [x for x, _ in series]
        ys = [rows[l]["return_mean"] for _, l in series]
        errs = [2 * paired(rows[l]["per_task"], pol["per_task"])[1] for _, l in series]
        ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label="planner (2 paired s.e. against the policy)")
        ax.axhline(pol["return_mean"], color="gray", linestyle="--", label="the policy alone")
        for i, ref in enumerate(a.reference or []):
            name, value = ref.split("=", 1)
            ax.axhline(float(value), color=("green", "purple", "brown")[i % 3], linestyle=":", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("return per task")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(a.title or "test-time planning budget")
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print("\nwrote %s" % a.png)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("run")
    r.add_argument("out")
    r.add_argument("--tasks", type=int, default=10000)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--ks", default="1,4,16,64,256")
    r.add_argument("--kos", default="1,4,16")
    r.add_argument("--ko-at", type=int, default=16)
    r.add_argument("--set", action="append")
    q = sub.add_parser("report")
    q.add_argument("out")
    q.add_argument("--png")
    q.add_argument("--title")
    q.add_argument("--reference", action="append")
    a = p.parse_args()
    cmd_run(a) if a.cmd == "run" else cmd_report(a)


if __name__ == "__main__":
    main()
