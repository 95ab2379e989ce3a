#!/usr/bin/env bash
# Evaluations per minute of `optc search` with each engine, side by side in one run: the same search (same seed,
# task and settings, each with a cold program cache) for SECONDS with --engine javac and --engine interpreted,
# ROUNDS times alternately, then distinct evaluations per minute, the median ms of a candidate's first and later lr
# runs, and interpreted / javac. Both engines give the same bits (InterpretedStepTest), so the histories agree
# as far as the shorter one goes; the script checks that too.
#
#   benchmarks/search_engines.sh                       # digits from sgd, 60 s each, 1 worker, 1 round
#   SECONDS_EACH=120 ROUNDS=2 WORKERS=2 FROM=adamw benchmarks/search_engines.sh
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
each=${SECONDS_EACH:-60}
rounds=${ROUNDS:-1}
workers=${WORKERS:-1}
from=${FROM:-sgd}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/optc" --version >/dev/null 2>&1   # builds first if needed, outside the timings
for ((r = 1; r <= rounds; r++)); do
  for engine in javac interpreted; do
    echo "search_engines.sh: round $r, --engine $engine, ${each}s" >&2
    OPTC_CACHE=$work/cache-$engine-$r "$root/optc" search --task digits --from "$from" --budget "${each}s" --seed 1 \
      --workers "$workers" --engine "$engine" --out "$work/$engine-$r" >/dev/null 2>&1
  done
done
python3 - "$work" "$rounds" "$each" <<'PY'
import json, statistics, sys
work, rounds, minutes = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 60
rate = {}
for engine in ("javac", "interpreted"):
    for r in range(1, rounds + 1):
        lines = [json.loads(l) for l in open(f"{work}/{engine}-{r}/history.jsonl")]
        fresh = [c for c in lines if not c["cached"]]
        first = statistics.median(c["run_ms"][0] for c in fresh if c["run_ms"])
        later = statistics.median(x for c in fresh for x in c["run_ms"][1:])
        print(f"{engine:<12} round {r}: {len(lines)} candidates, {len(fresh)} evaluated in the budget, "
              f"{len(fresh) / minutes:.1f} per minute; median eval {statistics.median(c['eval_ms'] for c in fresh):.0f} ms, "
              f"first lr run {first:.0f} ms, later runs {later:.0f} ms")
        rate.setdefault(engine, []).append(len(fresh))
        if engine == "interpreted":
            other = [json.loads(l) for l in open(f"{work}/javac-{r}/history.jsonl")]
            same = all((a["hash"], a["fitness"], a["lr"]) == (b["hash"], b["fitness"], b["lr"]) for a, b in zip(lines, other))
            print(f"{'':<12} same hashes, fitness and lr as javac's over the first {min(len(lines), len(other))} candidates: {same}")
j, i = statistics.median(rate["javac"]), statistics.median(rate["interpreted"])
print(f"distinct evaluations per minute (median of rounds): javac {j / minutes:.1f}, interpreted {i / minutes:.1f}; "
      f"interpreted / javac = {i / j:.2f}")
PY
