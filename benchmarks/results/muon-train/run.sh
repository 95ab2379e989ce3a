#!/usr/bin/env bash
# Muon+AdamW against AdamW on the training tasks (issue 15): the runs behind README's numbers and the plots.
# digits takes seconds; each charlm run about 5 minutes on a 2-core machine. Outputs land next to this script.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
optc="$here/../../../optc"
"$optc" train digits --optimizer muon+adamw,adamw --csv "$here/digits.csv" --json "$here/digits.json" | tee "$here/digits.txt"
"$optc" train charlm --optimizer muon+adamw,adamw --set muon:lr=0.02 --csv "$here/charlm.csv" --json "$here/charlm.json" \
  | tee "$here/charlm.txt"
"$optc" train charlm --optimizer muon+adamw --set muon:lr=0.01 --csv "$here/charlm-muon-lr0.01.csv" \
  | tee "$here/charlm-muon-lr0.01.txt"
"$optc" train charlm --optimizer muon+adamw --set muon:lr=3e-3 --set muon:match_rms_adamw=true \
  --csv "$here/charlm-muon-rms.csv" | tee "$here/charlm-muon-rms.txt"
/usr/bin/python3 "$here/plot.py" "$here"
