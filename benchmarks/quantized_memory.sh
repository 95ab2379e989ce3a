#!/usr/bin/env bash
# State bytes per parameter of AdamW with float32, 8-bit and 4-bit states (adamw, adamw8bit, adamw4bit) on one
# bound tensor of SIZE parameters (default 64M), each in its own JVM: allocated bytes, and the resident-set growth
# when one more state (amsgrad's max_exp_avg_sq) is allocated (benchmarks/QuantizedMemory.java).
#
#   benchmarks/quantized_memory.sh                 # 64M parameters
#   SIZE=16777216 benchmarks/quantized_memory.sh adamw lion8bit ...
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
source "$root/tools/jdk25.sh"
size=${SIZE:-67108864}
opts=("$@")
((${#opts[@]})) || opts=(adamw adamw8bit adamw4bit)
"$root/optc" --version >/dev/null 2>&1   # builds first if needed
for o in "${opts[@]}"; do
  java --enable-native-access=ALL-UNNAMED -Xmx2g -cp "$root/cli/target/optc-cli.jar:$root/cli/target/lib/*" \
    "$root/benchmarks/QuantizedMemory.java" "$o" "$size"
done
