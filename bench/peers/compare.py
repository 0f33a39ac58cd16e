"""Ratios of bench-peers' results: varibased's GRU window steps/s over each
peer's at the same hidden size and threads, and its planner particle-steps/s
over each peer's at the same budget and threads; the median over the rounds,
and over the best peer. Also the planner's GEMM FLOPs per particle-step as
bench_planner counts them over the peers' count (1.00: the same work). Input:
the "name value unit" lines run.sh collected."""
import collections
import re
import statistics
import sys

# (kind, shape) -> (impl, threads) -> rates; kind "gru" or "planner"
rates = collections.defaultdict(lambda: collections.defaultdict(list))
flops = {}  # (shape, side) -> FLOP/particle-step
for line in open(sys.argv[1]):
    m = re.match(r"(\w+?)_gru_(h\d+_b\d+)_fwd_bwd_threads(\d+) (\S+) steps/s", line)
    if m:
        impl, shape, threads, v = m.groups()
        rates[("gru", shape)][(impl, int(threads))].append(float(v))
    # bench_planner: planner_<env>_<budget>[_threads2]_particle_steps (its one-thread lines name no threads)
    m = re.match(r"planner_(\w+?_b\d+_k\d+_d\d+_ko\d+)(?:_threads(\d+))?_particle_steps (\S+) steps/s", line)
    if m:
        shape, threads, v = m.groups()
        rates[("planner", shape)][("varibased", int(threads or 1))].append(float(v))
    # planner_step.py: <impl>_planner_<env>_<budget>_threads<N>
    m = re.match(r"(\w+?)_planner_(\w+?_b\d+_k\d+_d\d+_ko\d+)_threads(\d+) (\S+) steps/s", line)
    if m:
        impl, shape, threads, v = m.groups()
        rates[("planner", shape)][(impl, int(threads))].append(float(v))
    m = re.match(r"(peers_)?planner_(\w+?_b\d+_k\d+_d\d+_ko\d+)(?:_threads\d+)?_gemm_flops (\S+) FLOP", line)
    if m:
        flops[(m.group(2), "peers" if m.group(1) else "varibased")] = float(m.group(3))

for (kind, shape), by in sorted(rates.items()):
    med = {k: statistics.median(v) for k, v in by.items()}
    for (impl, threads), ours in sorted(med.items()):
        if impl != "varibased":
            continue
        peers = {i: v for (i, t), v in med.items() if i != "varibased" and t == threads}
        for peer, v in sorted(peers.items()):
            print(f"{kind}_{shape}_threads{threads}_varibased_over_{peer} {ours / v:.2f} ratio")
        if peers:
            best = max(peers, key=peers.get)
            print(f"{kind}_{shape}_threads{threads}_varibased_over_best_peer {ours / peers[best]:.2f} ratio ({best})")
for (shape, side), ours in sorted(flops.items()):
    if side == "varibased" and (shape, "peers") in flops:
        print(f"planner_{shape}_gemm_flops_varibased_over_peers {ours / flops[(shape, 'peers')]:.2f} ratio")
