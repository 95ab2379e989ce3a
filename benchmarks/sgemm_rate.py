"""NumPy's side of benchmarks/sgemm_rate.sh: np.matmul on float32 with out=, timed like SgemmRate.java.

Answers requests on stdin, one per line, as they come (SgemmRate alternates them with its own timings):
`m n k transA transB` (0/1) → `seconds` (the median of the timed calls); at end of input, `# blas ...`: the
BLAS NumPy actually loaded (threadpoolctl).
"""
import sys
import time

import numpy as np


def seconds_per_call(fn, min_seconds):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main():
    min_seconds = float(sys.argv[1])
    rng = np.random.default_rng(1)
    while line := sys.stdin.readline():
        m, n, k, ta, tb = (int(x) for x in line.split())
        a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        opa, opb = (a.T if ta else a), (b.T if tb else b)
        print(seconds_per_call(lambda: np.matmul(opa, opb, out=c), min_seconds), flush=True)
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i['internal_api']} {i['version']} {i['filepath']} ({i['num_threads']} threads)"
                for i in threadpool_info() if i["user_api"] == "blas"]
    except ImportError:
        blas = ["unknown (no threadpoolctl)"]
    print("# blas", "; ".join(blas), "| numpy", np.__version__, "| python", sys.executable)


main()
