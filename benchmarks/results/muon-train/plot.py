#!/usr/bin/python3
"""Validation-loss curves of the runs in this folder (run.sh): one PNG per task, every CSV of that task on it."""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
# What run.sh set for muon in each file (the task's default lr where it set nothing).
MUON = {"digits": "muon lr 5e-3", "charlm": "muon lr 0.02", "charlm-muon-lr0.01": "muon lr 0.01",
        "charlm-muon-rms": "muon match_rms_adamw, lr 3e-3"}
for task in ("digits", "charlm"):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for path in sorted(glob.glob(os.path.join(here, task + "*.csv"))):
        stem = os.path.basename(path)[:-4]
        variant = stem[len(task):].strip("-")
        curves = {}
        with open(path) as f:
            for row in csv.DictReader(f):
                curves.setdefault(row["optimizer"], []).append((int(row["step"]), float(row["val_loss"])))
        for name, points in curves.items():
            if variant and name == "adamw":
                continue
            label = name + (" (" + MUON[stem] + ")" if name.startswith("muon") else "")
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss (nats)")
    ax.set_title(task + ": muon+adamw vs adamw (optc train, same model, seed and batches)")
    if task == "digits":
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(here, task + ".png"), dpi=110)
    print("wrote", os.path.join(here, task + ".png"))
