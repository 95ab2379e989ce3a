#!/usr/bin/env bash
# Held-out check of a program optc search found: train it on a task and seed the search did not use, beside SGD with
# momentum 0.9, AdamW and Lion, each at the best lr of a 3-value grid, and print the validation losses.
#
#   examples/search/heldout.sh FOUND.opt[,MORE.opt...] [TASK] [SEED] [STEPS]      (default: digits 7 500)
#
# Grids (the task's lr for each optimizer, docs/training.md, times 0.1, 1 and 10): the found program gets SGD's grid,
# the one the search tuned it on (for digits exactly the search's grid), so it and SGD with momentum are compared at
# the best of the same three values; AdamW and Lion get their own. One `optc train` per lr value: every run starts
# from the same weights and sees the same batches. Needs python3 for the table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
optc=${OPTC:-$root/optc}   # another optc launcher, e.g. a copy of a build that is not being rebuilt
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit $(( $# < 1 ? 2 : 0 ))
fi
found=$1
task=${2:-digits}
seed=${3:-7}
steps=${4:-500}
IFS=, read -ra files <<<"$found"
for f in "${files[@]}"; do
  [[ -f $f ]] || { echo "heldout.sh: $f: no such file" >&2; exit 2; }
done
case $task in
  digits) sgd=0.05 ;;
  charlm) sgd=0.3 ;;
  *) echo "heldout.sh: task '$task': give digits or charlm" >&2; exit 2 ;;
esac
adamw=3e-3
lion=3e-4
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
for factor in 0.1 1 10; do
  for pair in "$found,sgd:$sgd" "adamw:$adamw" "lion:$lion"; do
    optimizers=${pair%%:*}
    lr=$(python3 -c "print('%.3g' % ($factor * ${pair##*:}))")
    echo "heldout.sh: $task seed $seed, $steps steps: $optimizers at lr $lr" >&2
    "$optc" train "$task" --optimizer "$optimizers" --set "lr=$lr" --seed "$seed" --steps "$steps" \
      --json "$runs/$lr@${optimizers//[^a-z0-9]/_}.json" >/dev/null 2>"$runs/log" \
      || { cat "$runs/log" >&2; exit 1; }
  done
done
python3 - "$runs" "$task" "$seed" "$steps" <<'PY'
import glob, json, math, os, sys
runs, task, seed, steps = sys.argv[1:]
best = {}
for f in sorted(glob.glob(runs + "/*.json")):
    d = json.load(open(f))
    lr = float(os.path.basename(f).split("@")[0])
    for r in d["runs"]:
        loss = r["val_loss"]
        key = r["optimizer"]
        if loss is None or (isinstance(loss, float) and math.isnan(loss)):
            loss = math.inf
        entry = best.setdefault(key, {"grid": []})
        entry["grid"].append((lr, loss, r.get("val_accuracy")))
print(f"{task}, seed {seed}, {steps} steps: validation loss at the best lr of each optimizer's grid")
print(f"{'optimizer':<28} {'best lr':>8} {'val loss':>10} {'accuracy':>9}   every lr: loss")
for name, e in sorted(best.items(), key=lambda kv: min(l for _, l, _ in kv[1]["grid"])):
    lr, loss, acc = min(e["grid"], key=lambda t: t[1])
    grid = ", ".join(f"{g[0]:.3g}: {g[1]:.4f}" for g in sorted(e["grid"], key=lambda t: t[0]))
    accs = "" if acc is None else f"{100 * acc:.1f}%"
    print(f"{name:<28} {lr:>8.3g} {loss:>10.4f} {accs:>9}   {grid}")
PY
