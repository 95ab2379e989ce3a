#!/usr/bin/env bash
# The GPU benchmark of issue 6 in one command, from the repository root of a copy that holds .jre/ (built by
# device-jre.sh) and the built jars (cli/target/optc-cli.jar, cli/target/lib/): optc bench on the CUDA
# backend at every fusion level, then PyTorch (benchmarks/gpu/torch_gpu_bench.py), on the same workloads;
# merged into $OUT/results.json and $OUT/results.md. See benchmarks/gpu/README.md.
#
#   bash benchmarks/gpu/run.sh              # everything, in about BUDGET_S seconds at most (default 560)
#   bash benchmarks/gpu/run.sh --torch-only # no optc rows (no .jre or jars needed)
#
# Environment: OUT (default benchmarks/results/gpu-DATE), BUDGET_S (560), VERIFY_BUDGET_S (the share of
# optc verify, the conformance check, 120; 0 skips it), OPTC_BUDGET_S (the share optc bench may use, 200),
# WORKLOADS (flat-256M,small-1000,gpt2-small,flat-16M), OPTIMIZERS (adam,adamw,sgd,lion,adan,lamb), WARMUP
# (3), REPEATS (20), PYTHON (python3), JAVA_OPTS, OPTC_COMMIT, OPTC_BACKEND (cuda); for a dry run of the
# whole pipeline without a GPU: TORCH_DEVICE=cpu TINY=1 OPTC_BACKEND=java (and a stand-in nvidia-smi).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 2
here=benchmarks/gpu
torch_only=0
for arg in "$@"; do
  case $arg in
    --torch-only) torch_only=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

java=.jre/bin/java
jar=cli/target/optc-cli.jar
lib=cli/target/lib
if (( ! torch_only )); then
  missing=()
  [[ -x $java ]] || missing+=(".jre/bin/java")
  [[ -f $jar ]] || missing+=("$jar")
  [[ -d $lib ]] || missing+=("$lib/")
  if (( ${#missing[@]} )); then
    echo "run.sh: missing ${missing[*]}: build them on a machine with JDK 25 and Maven ('mvn -B -ntp -DskipTests package', then '/work/shared/tools/device-jre.sh' for .jre/) and carry .jre, $jar and $lib; or run with --torch-only" >&2
    exit 2
  fi
fi

BUDGET_S=${BUDGET_S:-560}
VERIFY_BUDGET_S=${VERIFY_BUDGET_S:-120}
OPTC_BUDGET_S=${OPTC_BUDGET_S:-200}
OPTC_BACKEND=${OPTC_BACKEND:-cuda}
WORKLOADS=${WORKLOADS:-flat-256M,small-1000,gpt2-small,flat-16M}
OPTIMIZERS=${OPTIMIZERS:-adam,adamw,sgd,lion,adan,lamb}
WARMUP=${WARMUP:-3}
REPEATS=${REPEATS:-20}
PYTHON=${PYTHON:-python3}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
tiny=(); [[ ${TINY:-0} == 1 ]] && tiny=(--tiny)
export PYTHONUNBUFFERED=1
date=$(date -u +%Y-%m-%d)
OUT=${OUT:-$root/benchmarks/results/gpu-$date}
mkdir -p "$OUT" || exit 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$OUT/run-log.txt  # (not .log: *.log is git-ignored, and this one may be committed)
: >"$log"
say() { echo "$@" | tee -a "$log" >&2; }
left() { echo $(( BUDGET_S - SECONDS )); }

# ---- the machine
if ! command -v nvidia-smi >/dev/null 2>&1; then
  say "run.sh: nvidia-smi not found: this needs an NVIDIA GPU machine"
  exit 2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$work/gpu.csv" 2>>"$log"
echo "cuda=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1 | sed 's/.*: //')" >>"$work/gpu.csv"
say "run.sh: $(head -1 "$work/gpu.csv"); budget ${BUDGET_S}s; results in $OUT"
commit=${OPTC_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}

# ---- the torch formulas of Lion/Adan/LAMB against make_golden.py's NumPy (float64 on the GPU; seconds)
"$PYTHON" $here/torch_gpu_bench.py --device "$TORCH_DEVICE" --check >"$work/check.json" 2>>"$log"
rc=$?
if (( rc == 2 )); then
  say "run.sh: $(tail -1 "$log")"
  exit 2
fi
(( rc == 0 )) && say "run.sh: torch Lion/Adan/LAMB match make_golden.py's NumPy references (float64)" \
  || say "run.sh: WARNING: torch Lion/Adan/LAMB differ from make_golden.py (see run-log.txt and results.json 'check')"

# ---- optc bench, one JVM per workload
optc() {
  local limit=$1; shift
  timeout -k 10 "$limit" "$java" --enable-native-access=ALL-UNNAMED -Xss64m -XX:+UseParallelGC ${JAVA_OPTS:-} \
    -cp "$jar:$lib/*" dev.optc.cli.Main "$@"
}
# ---- conformance: every library optimizer and the multi-phase test programs at every fusion level against
# the Java reference (optc verify; the same check as the CudaVsJavaTest suite, which needs Maven)
if (( ! torch_only )) && (( VERIFY_BUDGET_S > 0 )); then
  say "run.sh: optc verify --backend $OPTC_BACKEND --fusion all (limit ${VERIFY_BUDGET_S}s)"
  golden=(); for f in compiler/src/test/resources/golden/*.opt; do [[ -f $f ]] && golden+=("$f"); done
  optc "$VERIFY_BUDGET_S" verify sgd adam adamw adagrad rmsprop nadam radam adamax adadelta lion adan lars lamb \
    adafactor adamw_clip "${golden[@]}" --backend "$OPTC_BACKEND" --fusion all --steps 11 --quiet \
    >"$OUT/verify.txt" 2>>"$log"
  rc=$?
  say "run.sh: optc verify exited $rc ($(tail -1 "$OUT/verify.txt" 2>/dev/null)); table in verify.txt"
fi

optc_args=()
no_bench=0
if (( ! torch_only )); then
  # what optc itself says each optimizer moves per parameter and step (its fused plan), for results.json
  for o in ${OPTIMIZERS//,/ }; do
    b=$(optc 60 info "$o" 2>>"$log" | grep -o 'per parameter per step: [0-9]* bytes' | grep -o '[0-9]*')
    [[ -n $b ]] && echo "$o=$b"
  done >"$work/optc-bytes.txt"
fi
if (( ! torch_only )); then
  optc 60 bench --help >"$work/bench-help.txt" 2>&1
  if ! grep -q 'Usage: optc bench' "$work/bench-help.txt"; then   # picocli answers an unknown command with optc's help
    say "run.sh: this build of optc has no 'bench' command: torch rows only (see run-log.txt)"
    cat "$work/bench-help.txt" >>"$log"
    torch_only=1
    no_bench=1
  fi
fi
if (( ! torch_only )); then
  help=$(cat "$work/bench-help.txt")
  grep -q -- '--warmup' <<<"$help" && optc_args+=(--warmup "$WARMUP")
  grep -q -- '--repeats' <<<"$help" && optc_args+=(--repeats "$REPEATS")
  multi=0; grep -qE 'OPT(\.\.\.|S)|\[OPT' <<<"$help" && multi=1
  setsgd=0; grep -q -- '--set' <<<"$help" && setsgd=1
  optc_end=$(( SECONDS + OPTC_BUDGET_S ))
  declare -A cap=([flat-256M]=150 [small-1000]=90 [gpt2-small]=120 [flat-16M]=90)
  opts=(${OPTIMIZERS//,/ })
  for w in ${WORKLOADS//,/ }; do
    case $w in
      flat-16M) wl=(--size 16777216) ;;
      flat-256M) wl=(--size 268435456) ;;
      gpt2-small) wl=(--model gpt2-small) ;;
      small-1000) wl=(--tensors 1000) ;;
      *) say "run.sh: unknown workload $w"; continue ;;
    esac
    # the calls: all optimizers in one if bench takes several, else one each; sgd alone when it gets --set
    calls=()
    if (( multi )); then
      rest=()
      for o in "${opts[@]}"; do [[ $o == sgd ]] && (( setsgd )) || rest+=("$o"); done
      (( ${#rest[@]} )) && calls+=("${rest[*]}")
      (( ${#rest[@]} < ${#opts[@]} )) && calls+=(sgd)
    else
      calls=("${opts[@]}")
    fi
    parts=()
    for c in "${calls[@]}"; do
      limit=$(( optc_end - SECONDS )); (( limit > ${cap[$w]} )) && limit=${cap[$w]}
      if (( limit < 10 )); then say "run.sh: optc bench $c on $w: skipped, optc's share of the budget is spent"; continue; fi
      set_args=()
      (( setsgd )) && [[ $c == sgd ]] && set_args=(--set momentum=0.9)
      file=$work/optc-$w-${c// /+}.json
      say "run.sh: optc bench $c ${wl[*]} --backend $OPTC_BACKEND --fusion all ${optc_args[*]} ${set_args[*]} (limit ${limit}s)"
      t0=$SECONDS
      optc "$limit" bench $c "${wl[@]}" --backend "$OPTC_BACKEND" --fusion all "${optc_args[@]}" "${set_args[@]}" \
        --json "$file" >>"$log" 2>&1
      rc=$?
      (( rc == 0 )) || say "run.sh: optc bench $c on $w exited $rc after $(( SECONDS - t0 ))s (124: the time limit); see run-log.txt"
      [[ -s $file ]] && parts+=("$file")
    done
    # one JSON per workload for the merge (several calls: a list of their documents)
    if (( ${#parts[@]} )); then
      "$PYTHON" -c 'import json,sys; d=[json.load(open(p)) for p in sys.argv[2:]]; json.dump(d[0] if len(d)==1 else d, open(sys.argv[1],"w"))' \
        "$work/optc-$w.json" "${parts[@]}" 2>>"$log" || say "run.sh: optc bench $w: unreadable JSON (see run-log.txt)"
    fi
  done
fi

# the raw optc bench output, one file: {workload: its JSON}
if (( ! torch_only )); then
  "$PYTHON" -c 'import json,os,sys; json.dump({w: json.load(open(p)) for w, p in (a.split("=", 1) for a in sys.argv[2:]) if os.path.exists(p)}, open(sys.argv[1], "w"), indent=1)' \
    "$OUT/optc.json" $(for w in ${WORKLOADS//,/ }; do echo "$w=$work/optc-$w.json"; done) 2>>"$log"
fi

# ---- torch: what is left of the budget, less time for the merge
shapes=()
if (( ! torch_only )) && (( ! ${#tiny[@]} )); then
  ex=()
  for w in gpt2-small small-1000; do [[ -f $work/optc-$w.json ]] && ex+=(--extract-shapes "$w=$work/optc-$w.json"); done
  if (( ${#ex[@]} )); then
    "$PYTHON" $here/merge_results.py "${ex[@]}" >"$work/shapes.json" 2>>"$log" && [[ $(cat "$work/shapes.json") != "{}" ]] \
      && shapes=(--shapes-file "$work/shapes.json") && say "run.sh: torch uses optc bench's shapes for $(cat "$work/shapes.json" | "$PYTHON" -c 'import json,sys; print(", ".join(json.load(sys.stdin)))')"
  fi
fi
deadline=$(( $(left) - 25 ))
if (( deadline < 30 )); then
  say "run.sh: only $(left)s left for torch; running it anyway with a 30s deadline"
  deadline=30
fi
say "run.sh: torch_gpu_bench.py (deadline ${deadline}s)"
timeout -k 10 $(( deadline + 20 )) "$PYTHON" $here/torch_gpu_bench.py --device "$TORCH_DEVICE" "${tiny[@]}" --workloads "$WORKLOADS" \
  --optimizers "$OPTIMIZERS" --warmup "$WARMUP" --repeats "$REPEATS" --deadline-s "$deadline" \
  "${shapes[@]}" --out "$OUT/torch.json" >/dev/null 2> >(tee -a "$log" >&2)
rc=$?
(( rc == 0 )) || say "run.sh: torch_gpu_bench.py exited $rc (its rows so far are in torch.json)"

# ---- merge
optc_pairs=()
for w in ${WORKLOADS//,/ }; do optc_pairs+=(--optc "$w=$work/optc-$w.json"); done
(( torch_only )) && optc_pairs=()
notes=()
(( no_bench )) && notes=(--note "this build of optc has no 'bench' command: no optc rows")
"$PYTHON" $here/merge_results.py --torch "$OUT/torch.json" "${optc_pairs[@]}" --gpu "$work/gpu.csv" --date "$date" \
  --commit "$commit" --check "$work/check.json" --optc-bytes "$work/optc-bytes.txt" "${notes[@]}" --out-json "$OUT/results.json" --out-md "$OUT/results.md" --print
rc=$?
if (( rc == 0 )); then
  say "run.sh: done in ${SECONDS}s: $OUT/results.json, $OUT/results.md (raw: torch.json, optc.json, run-log.txt)"
else
  say "run.sh: the merge failed (exit $rc) after ${SECONDS}s; the raw results are in $OUT: torch.json, optc.json, run-log.txt"
fi
exit $rc
