#!/usr/bin/env bash
# optc's AdamW step vs libtorch's torch::optim::AdamW on GPT-2 small's parameters (124M), both bound the way
# 'optc train' binds a model (optc: views of its native arenas), in one run (dev.optc.training.StepBench).
#   bash benchmarks/train_step.sh [steps] [warmup] [gpt2-small | COUNT]
# Threads: $OPTC_TORCH_THREADS for both (default: all cores here). OpenMP waits passively (OMP_WAIT_POLICY): on
# 2 cores its default spinning made libtorch's step 4.1 s instead of 0.9 s. Needs about 5 GB of memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/optc" --version >/dev/null # builds the project if needed
source "$root/tools/jdk25.sh"
export OPTC_TORCH_THREADS=${OPTC_TORCH_THREADS:-$(nproc)}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
exec java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -XX:+UseParallelGC \
  -cp "$root/cli/target/optc-cli.jar:$root/cli/target/lib/*" dev.optc.training.StepBench "$@"
