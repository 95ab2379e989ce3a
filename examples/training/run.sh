#!/usr/bin/env bash
# Runs examples/training/TrainLoop.java with the project's jars (builds the project if needed).
#   bash examples/training/run.sh [STEPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/optc" --version >/dev/null
source "$root/tools/jdk25.sh"
exec java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
  -cp "$root/cli/target/optc-cli.jar:$root/cli/target/lib/*" "$root/examples/training/TrainLoop.java" "$@"
