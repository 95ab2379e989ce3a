#!/usr/bin/env python3
"""Reads the JSON of `optc bench --json` and prints, for each target of the benchmark issue, the measured value
and whether it was met. Targets (benchmark results, not timed tests):

  1. Java fused AdamW <= 1.25x the Java copy floor
  2. OpenCL (PoCL) fused <= 1.2x the Java fused time, per optimizer
  3. AdamW at fusion none >= 4x slower than fused (each backend)
  4. fused AdamW >= 5x faster than torch CPU AdamW (the faster of foreach=False/True)
  5. each optimizer's fused time / AdamW's within +-15% of the ratio of their bytes moved (each backend)

Usage: python3 benchmarks/check_targets.py bench.json
"""

import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    rows = [r for r in doc["rows"] if "median_s" in r]

    def get(opt, runner, variant):
        for r in rows:
            if r["optimizer"] == opt and r["runner"] == runner and r["variant"] == variant:
                return r
        return None

    def line(name, value, met, detail):
        status = "n/a" if met is None else ("met" if met else "MISSED")
        print("%-52s %-8s %s" % (name, status, detail if value is None else "%.2f  %s" % (value, detail)))

    opts = doc["settings"]["optimizers"]
    runners = [r for r in ("java", "opencl") if any(x["runner"] == r for x in rows)]

    full, copy = get("adamw", "java", "full"), get("adamw", "java", "copy")
    if full and copy:
        x = full["median_s"] / copy["median_s"]
        line("1. java fused adamw / java copy floor (<= 1.25)", x, x <= 1.25,
             "(%.1f ms / %.1f ms)" % (full["median_s"] * 1e3, copy["median_s"] * 1e3))
    else:
        line("1. java fused adamw / java copy floor (<= 1.25)", None, None, "not measured")

    for o in opts:
        j, c = get(o, "java", "full"), get(o, "opencl", "full")
        if j and c:
            x = c["median_s"] / j["median_s"]
            line("2. opencl fused / java fused, %s (<= 1.2)" % o, x, x <= 1.2,
                 "(%.1f ms / %.1f ms)" % (c["median_s"] * 1e3, j["median_s"] * 1e3))

    for runner in runners:
        n, f = get("adamw", runner, "none"), get("adamw", runner, "full")
        if n and f:
            x = n["median_s"] / f["median_s"]
            line("3. %s adamw none / full (>= 4)" % runner, x, x >= 4,
                 "(%.1f ms / %.1f ms; %d B vs %d B per param)" % (n["median_s"] * 1e3, f["median_s"] * 1e3,
                                                                  n["bytes_per_param"], f["bytes_per_param"]))

    peers = [r for r in (get("adamw", "torch", "foreach=False"), get("adamw", "torch", "foreach=True")) if r]
    if peers:
        best = min(peers, key=lambda r: r["median_s"])
        for runner in runners:
            f = get("adamw", runner, "full")
            if f:
                x = best["median_s"] / f["median_s"]
                line("4. torch adamw (%s) / %s fused adamw (>= 5)" % (best["variant"], runner), x, x >= 5,
                     "(%.1f ms / %.1f ms)" % (best["median_s"] * 1e3, f["median_s"] * 1e3))

    for runner in runners:
        base = get("adamw", runner, "full")
        if not base:
            continue
        for o in opts:
            r = get(o, runner, "full")
            if not r or o == "adamw":
                continue
            time_ratio = r["median_s"] / base["median_s"]
            byte_ratio = r["bytes_per_param"] / base["bytes_per_param"]
            dev = time_ratio / byte_ratio - 1
            line("5. %s %s/adamw time vs bytes (within 15%%)" % (runner, o), dev * 100, abs(dev) <= 0.15,
                 "%% off: time ratio %.2f, bytes ratio %d/%d = %.2f" % (time_ratio, r["bytes_per_param"],
                                                                     base["bytes_per_param"], byte_ratio))


if __name__ == "__main__":
    main()
