#!/usr/bin/env bash
# The runs behind README's "8-bit and 4-bit states" training numbers (2026-12-06, this task's 2-core VM):
# AdamW with float32, 8-bit and 4-bit states, same task lr (3e-3), seed, batches.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)
out=${OUT:-.}
for s in 0 1 2; do
  "$root/optc" train digits --seed $s --optimizer adamw,adamw8bit,adamw4bit --json "$out/digits-seed$s.json" \
    --plot "$out/digits-seed$s.png" > "$out/digits-seed$s.txt"
done
"$root/optc" train charlm --optimizer adamw,adamw8bit,adamw4bit --json "$out/charlm.json" --plot "$out/charlm.png" \
  > "$out/charlm.txt"
"$root/optc" train charlm --stable-embeddings --optimizer adamw8bit,adamw4bit --json "$out/charlm-stable.json" \
  > "$out/charlm-stable.txt"
# Which 8-bit state costs digits its validation loss: adamw8bit with only exp_avg quantized (ablation/m8.opt) or
# only exp_avg_sq (ablation/v8.opt).
for s in 0 1 2; do
  "$root/optc" train digits --seed $s --optimizer "$root/benchmarks/results/quantized-train/ablation/m8.opt,$root/benchmarks/results/quantized-train/ablation/v8.opt" \
    --set lr=0.003 > "$out/exp-seed$s.txt"
done
