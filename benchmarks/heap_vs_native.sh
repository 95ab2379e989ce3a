#!/usr/bin/env bash
# The Java backend on heap arrays (optc at BASELINE, a git ref from before native arenas) against native
# arenas (this tree), measured alternately in one JVM (benchmarks/HeapVsNative.java says why), and printed
# as a table: each row's median over the rounds, the rounds' medians, and native / heap.
#
#   benchmarks/heap_vs_native.sh                                  # adamw lion nadam, 64M, every fusion level
#   BASELINE=f169737 SIZE=16777216 ROUNDS=5 FUSIONS=full benchmarks/heap_vs_native.sh adamw
#
# The baseline is built from `git archive` into a temporary folder (no worktree, nothing installed).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
source "$root/tools/jdk25.sh"
baseline=${BASELINE:-f169737}
size=${SIZE:-67108864}
rounds=${ROUNDS:-3}
fusions=${FUSIONS:-full,statement,none}
opts=("$@")
((${#opts[@]})) || opts=(adamw lion nadam)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" archive "$baseline" | tar -x -C "$work"
(cd "$work" && mvn -B -ntp -q -o -DskipTests package >/dev/null)
(cd "$root" && mvn -B -ntp -q -o -DskipTests package >/dev/null)
java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss64m -XX:+UseParallelGC \
  -XX:MaxRAMPercentage=75 "$root/benchmarks/HeapVsNative.java" "$work" "$root" "$size" "$rounds" "$fusions" \
  "${opts[@]}"
