#!/usr/bin/env bash
# make bench-peers: the GRU window forward + backward here against JAX (jit)
# and, where it installs, PyTorch (eager and torch.compile), on 1 core and on
# 2, in alternating rounds; then, given bench_planner, one Belief-SMC
# planner call (planner_step.py) the same way; then the ratios (varibased /
# peer, median over the rounds). Installs what the peers need into
# build/peers/venv: jax[cpu] from PyPI, torch from PyTorch's CPU index when
# that is reachable. PyPI's torch wheel pulls about 3 GB of CUDA libraries
# that a CPU run never loads, so it is used only when asked for:
# PEERS_TORCH=pypi make bench-peers.
set -euo pipefail
BENCH=${1:?usage: run.sh path/to/bench_numerics [rounds [path/to/bench_planner]]}
ROUNDS=${2:-3}
PLANNER=${3:-}
VENV=build/peers/venv
OUT=build/peers/results.txt
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import jax" 2>/dev/null || "$VENV/bin/pip" install -q "jax[cpu]"
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    if [ "${PEERS_TORCH:-}" = pypi ]; then
        "$VENV/bin/pip" install -q torch
    else
        "$VENV/bin/pip" install -q --index-url https://download.pytorch.org/whl/cpu torch ||
            echo "bench-peers: torch not installed (PyTorch's CPU index unreachable; PEERS_TORCH=pypi installs PyPI's wheel, about 3 GB); comparing with JAX only" >&2
    fi
fi
mkdir -p build/peers
: > "$OUT"
for r in $(seq "$ROUNDS"); do
    echo "bench-peers: round $r of $ROUNDS" >&2
    "$BENCH" --gru | tee -a "$OUT"
    taskset -c 0 "$VENV/bin/python" bench/peers/gru_window.py --threads 1 | tee -a "$OUT"
    taskset -c 0,1 "$VENV/bin/python" bench/peers/gru_window.py --threads 2 | tee -a "$OUT"
done
if [ -n "$PLANNER" ]; then
    for r in $(seq "$ROUNDS"); do
        echo "bench-peers: planner round $r of $ROUNDS" >&2
        # on the peers' two cores: its one-thread lines use one, its threads2 lines both
        taskset -c 0,1 "$PLANNER" | tee -a "$OUT"
        taskset -c 0 "$VENV/bin/python" bench/peers/planner_step.py --threads 1 | tee -a "$OUT"
        taskset -c 0,1 "$VENV/bin/python" bench/peers/planner_step.py --threads 2 | tee -a "$OUT"
    done
else
    echo "bench-peers: no bench_planner given; the planner is not compared" >&2
fi
"$VENV/bin/python" bench/peers/compare.py "$OUT"
