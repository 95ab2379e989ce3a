#!/usr/bin/python3
"""The digits table of README's 8-/4-bit training line: final validation loss per seed and optimizer, read from
the digits-seed*.txt outputs of run.sh in a folder (default: this one), and each quantized optimizer's gap to AdamW
(ratio of the means over seeds, and the per-seed ratios' median and standard error)."""
import glob
import os
import re
import statistics as st
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
loss = {}
for path in glob.glob(os.path.join(folder, "digits-seed*.txt")):
    seed = int(re.search(r"seed(\d+)\.txt$", path).group(1))
    for line in open(path):
        cols = line.split()
        if len(cols) > 3 and cols[1] == "optc" and re.fullmatch(r"[0-9.]+", cols[3]):
            loss.setdefault(cols[0], {})[seed] = float(cols[3])
base = loss["adamw"]
seeds = sorted(base)
print(f"digits, {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}): final validation loss")
for name, runs in sorted(loss.items(), key=lambda kv: kv[0] != "adamw"):
    line = f"{name:10s} mean {st.mean(runs[s] for s in seeds):.4f}"
    if name != "adamw":
        r = [runs[s] / base[s] - 1 for s in seeds]
        line += (f"  vs adamw: ratio of means {st.mean(runs[s] for s in seeds) / st.mean(base.values()) - 1:+.2%},"
                 f" per seed median {st.median(r):+.2%}, standard error {st.stdev(r) / len(r) ** 0.5:.2%},"
                 f" worse on {sum(x > 0 for x in r)} of {len(r)}")
    print(line)
