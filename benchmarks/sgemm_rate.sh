#!/usr/bin/env bash
# optc's FFM binding of OpenBLAS's sgemm (runtime/.../blas/OpenBlas) against NumPy's np.matmul on float32, at
# the products Muon's Newton-Schulz iteration makes on GPT-2 small's 2-D weights, alternated in one run
# (benchmarks/SgemmRate.java says why); a table of GFLOP/s and optc / numpy on stdout, progress on stderr.
#
#   benchmarks/sgemm_rate.sh                      # 3 rounds, >= 1 s of calls per product per round
#   ROUNDS=5 MIN_SECONDS=2 PYTHON=python3 benchmarks/sgemm_rate.sh
#
# PYTHON defaults to /usr/bin/python3: Debian's python3-numpy, whose BLAS is libblas.so.3 through Debian's
# alternatives, which on a machine with libopenblas0 is the same OpenBLAS as libopenblas.so.0 (the table's
# header prints the library each side loaded). A pip NumPy brings its own OpenBLAS build instead.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
source "$root/tools/jdk25.sh"
(cd "$root" && mvn -B -ntp -q -o -DskipTests -pl runtime -am package >/dev/null)
exec java --enable-native-access=ALL-UNNAMED -Dsgemm.dir="$root/benchmarks" -cp "$root/runtime/target/classes" \
  "$root/benchmarks/SgemmRate.java" "${PYTHON:-/usr/bin/python3}" "${ROUNDS:-3}" "${MIN_SECONDS:-1}"
