#!/usr/bin/env bash
# Compile time and heap against program size: generates programs of several shapes at several sizes, runs
# `optc check`, `optc info` and `optc emit` (java, opencl, cuda) on each in a fresh JVM, and prints a table
# of seconds (wall, JVM start included) and heap. Growth should be near-linear in the size.
#
#   benchmarks/compile_time.sh                       # every shape at 10, 100, 300, 1000 KB
#   SHAPES="sum chain" SIZES="10 100" benchmarks/compile_time.sh
#   XMX=16g TIMEOUT=60 OPTC=/path/to/optc benchmarks/compile_time.sh    # e.g. an older build, more heap
#
# Columns: the size of the .opt file; seconds per command (">T" = killed after TIMEOUT s; "1.80 e1" = exit 1
# after 1.80 s: the program is nested deeper than the parser's stack allows, one diagnostic, listed below);
# "live MB" = the most heap still in use after any garbage collection, over all five commands (the JVM's
# own GC log; a run without a collection counts all it allocated), under -Xmx$XMX (default 1g: the target).
#
# Shapes: sum (w -= lr * (g+g+...), one expression), chain (x2 = x1 * 0.5 + g, ... statements), states
# (state s1..sN, each updated, all summed into w), hypers (hyper h2 = h1 * 0.5 + 1, ... a host-side chain),
# parens ((((g)))) and calls (sin(sin(...g...))) nested as deep as the size gives.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
optc=${OPTC:-$root/optc}
shapes=${SHAPES:-sum chain states hypers parens calls}
sizes=${SIZES:-10 100 300 1000}
timeout_s=${TIMEOUT:-120}
xmx=${XMX:-1g}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OPTC_CACHE=$work/cache

# generate SHAPE BYTES: a program of about BYTES bytes.
generate() {
  awk -v shape="$1" -v bytes="$2" 'BEGIN {
    printf "optimizer bench_%s\nhyper lr = 0.01\n", shape
    if (shape == "sum") {
      n = int((bytes - 40) / 2)
      printf "w -= lr * (g"; for (i = 1; i < n; i++) printf "+g"; printf ")\n"
    } else if (shape == "chain") {
      n = int(bytes / 24); printf "x1 = g * 0.5\n"
      for (i = 2; i <= n; i++) printf "x%d = x%d * 0.5 + g\n", i, i - 1
      printf "w -= lr * x%d\n", n
    } else if (shape == "states") {
      n = int(bytes / 40)
      for (i = 1; i <= n; i++) printf "state s%d\n", i
      for (i = 1; i <= n; i++) printf "s%d = 0.9 * s%d + g\n", i, i
      printf "w -= lr * (s1"; for (i = 2; i <= n; i++) printf " + s%d", i; printf ")\n"
    } else if (shape == "hypers") {
      n = int(bytes / 30); printf "hyper h1 = 0.5\n"
      for (i = 2; i <= n; i++) printf "hyper h%d = h%d * 0.5 + 1\n", i, i - 1
      printf "w -= lr * h%d * g\n", n
    } else if (shape == "parens") {
      n = int((bytes - 40) / 2)
      printf "w -= lr * "; for (i = 0; i < n; i++) printf "("; printf "g"
      for (i = 0; i < n; i++) printf ")"; printf "\n"
    } else if (shape == "calls") {
      n = int((bytes - 40) / 5)
      printf "w -= lr * "; for (i = 0; i < n; i++) printf "sin("; printf "g"
      for (i = 0; i < n; i++) printf ")"; printf "\n"
    } else { print "unknown shape " shape > "/dev/stderr"; exit 2 }
  }'
}

# The most heap live after a collection in a -Xlog:gc,gc+exit log (MB); without a collection, what was
# in use at exit.
live_mb() {
  awk '
    /Pause/ && match($0, /[0-9]+M->[0-9]+M/) { s = substr($0, RSTART, RLENGTH); split(s, a, "->");
      v = a[2] + 0; gcs++; if (v > live) live = v }
    /gc,exit/ && /(PSYoungGen|ParOldGen)/ && match($0, /used [0-9]+K/) { u += substr($0, RSTART + 5, RLENGTH - 6) / 1024 }
    END { if (!gcs) live = u; printf "%d", live }' "$1"
}

# run LOG CMD...: prints the seconds CMD took, or ">T" / "fail N".
run() {
  local log=$1; shift
  local start end rc
  start=$(date +%s.%N)
  JDK_JAVA_OPTIONS="-Xmx$xmx -Xlog:gc,gc+exit:file=$log" timeout "$timeout_s" "$optc" "$@" \
    >"$work/out" 2>"$work/err"
  rc=$?
  end=$(date +%s.%N)
  if ((rc == 124 || rc == 137)); then
    printf ">%s" "$timeout_s"
  elif ((rc != 0)); then
    awk -v s="$start" -v e="$end" -v rc="$rc" 'BEGIN { printf "%.2f e%d", e - s, rc }'
    echo "$1 ${*: -1}: exit $rc: $(grep -v 'JDK_JAVA_OPTIONS' "$work/err" | grep -m1 error)" >>"$work/failures"
  else
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
  fi
}

"$optc" check "$root/optimizers/src/main/resources/dev/optc/optimizers/sgd.opt" >/dev/null 2>&1 # builds if stale
echo "compile time vs program size ($(nproc) cores, $(date +%F), -Xmx$xmx, timeout ${timeout_s}s)"
printf "%-7s %8s %8s %8s %10s %12s %10s %8s\n" shape KB check info "emit java" "emit opencl" "emit cuda" "live MB"
for shape in $shapes; do
  for kb in $sizes; do
    file=$work/bench_$shape.opt
    generate "$shape" $((kb * 1000)) >"$file"
    size=$(( $(wc -c <"$file") / 1000 ))
    cols=()
    live=0
    i=0
    for cmd in "check" "info" "emit --target java" "emit --target opencl" "emit --target cuda"; do
      # shellcheck disable=SC2086
      cols+=("$(run "$work/gc$i.log" $cmd "$file")")
      l=$(live_mb "$work/gc$i.log")
      ((l > live)) && live=$l
      i=$((i + 1))
    done
    printf "%-7s %8s %8s %8s %10s %12s %10s %8s\n" "$shape" "$size" "${cols[@]}" "$live"
  done
done
if [[ -f $work/failures ]]; then
  echo
  echo "exits other than 0:"
  cat "$work/failures"
fi
