#!/usr/bin/env bash
# A Muon step on GPT-2 small's 2-D weights: optc's muon.opt (java backend, products on OpenBLAS through FFM)
# against the same algorithm in NumPy over the same OpenBLAS (benchmarks/muon_numpy.py) and against plain sgemm at
# the products' shapes, rounds alternated in one run (benchmarks/MuonStep.java says how); a table on stdout,
# progress on stderr.
#
#   benchmarks/muon_step.sh                                  # 1 layer (4 weights), 3 rounds, 2 threads
#   LAYERS=2 ROUNDS=5 THREADS=2 MIN_SECONDS=3 benchmarks/muon_step.sh
#
# PYTHON defaults to /usr/bin/python3 (Debian's NumPy over the system OpenBLAS, the library optc binds; a pip
# NumPy brings its own OpenBLAS build). Each round's NumPy JSON goes to JSON_DIR (default: a temporary folder).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
source "$root/tools/jdk25.sh"
(cd "$root" && mvn -B -ntp -q -o -DskipTests -pl cli -am package >/dev/null)
json_dir=${JSON_DIR:-$(mktemp -d)}
exec java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Dmuon.dir="$root/benchmarks" \
  -cp "$root/cli/target/optc-cli.jar:$root/cli/target/lib/*" "$root/benchmarks/MuonStep.java" \
  "${PYTHON:-/usr/bin/python3}" "${ROUNDS:-3}" "${LAYERS:-1}" "${THREADS:-2}" "${MIN_SECONDS:-3}" "$json_dir"
