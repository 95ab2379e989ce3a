#!/usr/bin/env bash
# The runs behind README's "8-bit and 4-bit states" training numbers (2026-12-06, this task's 2-core VM):
# AdamW with float32, 8-bit and 4-bit states, same task lr (3e-3), seed, batches; digits over seeds 0-37.
# bitsandbytes-rule/ holds the same runs made before a positive value stopped taking the unsigned 8-bit map's
# zero entry (commit 280f2cd; seeds 0-12), and the ablation that found the cause (m8.opt, v8.opt there).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)
out=${OUT:-.}
for s in $(seq 0 37); do
  extra=()
  if ((s <= 2)); then
    extra=(--json "$out/digits-seed$s.json")
  fi
  if ((s == 1)); then
    extra+=(--plot "$out/digits-seed$s.png")
  fi
  "$root/optc" train digits --seed "$s" --optimizer adamw,adamw8bit,adamw4bit "${extra[@]}" > "$out/digits-seed$s.txt"
done
"$root/optc" train charlm --optimizer adamw,adamw8bit,adamw4bit --json "$out/charlm.json" --plot "$out/charlm.png" \
  > "$out/charlm.txt"
"$root/optc" train charlm --stable-embeddings --optimizer adamw8bit,adamw4bit --json "$out/charlm-stable.json" \
  > "$out/charlm-stable.txt"
/usr/bin/python3 "$root/benchmarks/results/quantized-train/summary.py" "$out" > "$out/summary.txt"
