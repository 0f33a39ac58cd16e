"""Ratios of bench-peers' results: varibased's GRU window steps/s over each
peer's at the same hidden size and threads, the median over the rounds, and
over the best peer. Input: the "name value unit" lines run.sh collected."""
import collections
import re
import statistics
import sys

rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"(\w+?)_gru_(h\d+_b\d+)_fwd_bwd_threads(\d+) (\S+) steps/s", line)
    if m:
        impl, shape, threads, v = m.groups()
        rates[(impl, shape, int(threads))].append(float(v))
med = {k: statistics.median(v) for k, v in rates.items()}
for (impl, shape, threads), ours in sorted(med.items()):
    if impl != "varibased":
        continue
    peers = {i: v for (i, s, t), v in med.items() if i != "varibased" and s == shape and t == threads}
    for peer, v in sorted(peers.items()):
        print(f"gru_{shape}_threads{threads}_varibased_over_{peer} {ours / v:.2f} ratio")
    if peers:
        best = max(peers, key=peers.get)
        print(f"gru_{shape}_threads{threads}_varibased_over_best_peer {ours / peers[best]:.2f} ratio ({best})")
