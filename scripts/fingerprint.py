#!/usr/bin/env python3
"""fingerprint — digests of short serial runs of the shipped configs, to show
that a change to the code leaves training bit-identical.

For each config: ./learner --serial with a fixed seed, a short step budget, a
metrics line every few updates (log.every_updates), checkpoints and validation
evaluations on a fixed update cadence. Prints one line per config with the
SHA-256 of
  metrics   every metrics.jsonl line without its timing fields (wall_s, sps)
  evals     evals.jsonl without eval_s
  ckpt      every section of every checkpoint kept, the wall-clock counter zeroed
so two builds agree on a config exactly when its lines are equal.

  python3 scripts/fingerprint.py [--out FILE] [--keep DIR] [--ignore-metric KEY]... [--skip-section NAME]...
                                 [config ...]

--ignore-metric and --skip-section compare builds across a change that adds a
metric or a config key on purpose (the config section holds the resolved
config, so a new key changes it).
"""
import argparse, hashlib, json, os, shutil, struct, subprocess, sys, tempfile

CONFIGS = ["smoke", "gridworld", "gridworld_rl2", "bandit", "bandit_rl2", "funcopt"]
# config -> env steps of the short run (a few dozen updates each)
STEPS = {"smoke": 4000, "gridworld": 24000, "gridworld_rl2": 24000, "bandit": 24000, "bandit_rl2": 24000,
         "funcopt": 8000}
TIMING = {"wall_s", "sps", "eval_s"}


def sections(path):
    """(name, payload) of each section of a checkpoint file (checkpoint.h's format)."""
    b = open(path, "rb").read()
    if b[:8] != b"VBCKPT01":
        raise SystemExit(f"{path}: not a checkpoint")
    n = struct.unpack_from("<I", b, 12)[0]
    off, out = 16, []
    for _ in range(n):
        name = b[off:off + 32].rstrip(b"\0").decode()
        ln = struct.unpack_from("<Q", b, off + 32)[0]
        payload = b[off + 44:off + 44 + ln]
        if name == "counters":  # int64[6], the last the wall seconds
            payload = payload[:40] + b"\0" * 8
        out.append((name, payload))
        off += 44 + ln
    return out


IGNORED = set(TIMING)
SKIPPED = set()


def strip(line):
    d = json.loads(line)
    for k in IGNORED:
        d.pop(k, None)
    return json.dumps(d, sort_keys=True)


def run(learner, cfg, root):
    steps = STEPS.get(cfg, 8000)
    cmd = [learner, "--serial", "--config", f"configs/{cfg}.yaml", "--log-level", "warn",
           "--set", f"run.root={root}", "--set", f"run.name={cfg}", "--set", "run.seed=3",
           "--set", f"run.total_env_steps={steps}", "--set", "run.max_wall_s=0",
           "--set", "log.every_updates=5", "--set", "learner.checkpoint_every=20",
           "--set", "eval.every_updates=25", "--set", "eval.tasks=64"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{cfg}: learner failed ({p.returncode}):\n{p.stderr[-2000:]}")
    d = os.path.join(root, cfg)
    h = {}
    with open(os.path.join(d, "metrics.jsonl")) as f:
        lines = [strip(l) for l in f if l.strip()]
    h["metrics"] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    ev = os.path.join(d, "evals.jsonl")
    elines = [strip(l) for l in open(ev) if l.strip()] if os.path.exists(ev) else []
    h["evals"] = hashlib.sha256("\n".join(elines).encode()).hexdigest()[:16]
    ck = os.path.join(d, "checkpoints")
    g = hashlib.sha256()
    files = sorted(f for f in os.listdir(ck) if f.endswith(".vbc"))
    for f in files:
        g.update(f.encode())
        for name, payload in sections(os.path.join(ck, f)):
            if name in SKIPPED:
                continue
            g.update(name.encode())
            g.update(payload)
    h["ckpt"] = g.hexdigest()[:16]
    return f"{cfg:14s} lines {len(lines):3d} evals {len(elines):2d} ckpts {len(files)}  " + \
        "  ".join(f"{k} {v}" for k, v in h.items())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="*", default=CONFIGS)
    ap.add_argument("--learner", default="./learner")
    ap.add_argument("--out", help="also write the lines to FILE")
    ap.add_argument("--keep", help="keep the run folders under DIR")
    ap.add_argument("--ignore-metric", action="append", default=[], help="leave this metrics/evals key out")
    ap.add_argument("--skip-section", action="append", default=[], help="leave this checkpoint section out")
    a = ap.parse_args()
    IGNORED.update(a.ignore_metric)
    SKIPPED.update(a.skip_section)
    # a fixed folder: its path is part of the config each checkpoint holds
    root = a.keep or os.path.join(tempfile.gettempdir(), "vb-fingerprint")
    shutil.rmtree(root, ignore_errors=True)
    out = []
    for cfg in a.configs:
        line = run(a.learner, cfg, root)
        print(line, flush=True)
        out.append(line)
    if a.out:
        open(a.out, "w").write("\n".join(out) + "\n")
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
