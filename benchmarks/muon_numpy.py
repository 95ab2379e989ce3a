#!/usr/bin/python3
"""NumPy's side of a Muon speed benchmark: one torch.optim.Muon step (the algorithm of tools/golden/make_muon_golden.py)
in float32 NumPy on GPT-2 small's 2-D hidden weights, timed per step as total, products (the matmuls) and elementwise
work, plus np.matmul's sgemm GFLOP/s at each product shape in the same run, so the products' time can be compared
with what the BLAS does at those shapes on its own.

    /usr/bin/python3 benchmarks/muon_numpy.py                          # 1 layer, 5 repeats, 2 BLAS threads
    /usr/bin/python3 benchmarks/muon_numpy.py --layers 12 --repeat 3 --threads 16 --json out.json

Weights per layer as HF GPT-2 stores them (Conv1D: in x out): attn.c_attn 768x2304, attn.c_proj 768x768,
mlp.c_fc 768x3072, mlp.c_proj 3072x768 (tall: the iteration works on its transpose, as torch does).
One step of one weight w (rows x cols), hypers torch's defaults (momentum 0.95, nesterov, 5 Newton-Schulz steps):
    elementwise  buf += (1 - m) * (g - buf); u = g + m * (buf - g)             # the two lerps
    elementwise  X = u / ||u||_F (u^T / ||u||_F for a tall w: one transposing pass into a wide X)
    5 times:
      product      A = X @ X^T                                               # sgemm m=n=short side, k=long side
      product      AA = A @ A
      elementwise  B = b * A + c * AA
      product      Y = B @ X
      elementwise  X = a * X + Y
    elementwise  w *= 1 - lr * wd; w -= adjusted_lr * X (X^T for a tall w)
Everything writes into preallocated float32 arrays (out=, in-place), so no time goes to allocation; elementwise
NumPy runs on one thread, the products on --threads BLAS threads. "other" = total - products - elementwise (the
timers and Python's dispatch). The GFLOP count is the products' 2mnk only.

Threads are set with threadpoolctl when it is installed, else with OPENBLAS_NUM_THREADS (set before NumPy loads).
Use Debian's python (/usr/bin/python3: NumPy 1.24 over the system OpenBLAS, as benchmarks/sgemm_rate.py); the header
prints the BLAS NumPy actually loaded.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

MOMENTUM, LR, WEIGHT_DECAY, EPS, NS_STEPS = 0.95, 1e-3, 0.1, 1e-7, 5
NS_A, NS_B, NS_C = 3.4445, -4.7750, 2.0315
LAYER = [("attn.c_attn", 768, 2304), ("attn.c_proj", 768, 768), ("mlp.c_fc", 768, 3072), ("mlp.c_proj", 3072, 768)]


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layers", type=int, default=1, help="GPT-2 small has 12 (default 1)")
    p.add_argument("--repeat", type=int, default=5, help="timed steps; medians are reported (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    p.add_argument("--min-seconds", type=float, default=1.0,
                   help="sgemm rate: at least this long per shape in all, spread over the repeats (default 1)")
    p.add_argument("--json", metavar="FILE")
    return p.parse_args()


ARGS = parse()
try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
import numpy as np  # noqa: E402  (after OPENBLAS_NUM_THREADS)


class Weight:
    """One 2-D weight with its gradient, momentum buffer and the iteration's work arrays (wide orientation)."""

    def __init__(self, name, rows, cols, rng):
        self.name, self.rows, self.cols = name, rows, cols
        self.tall = rows > cols
        self.short, self.long = min(rows, cols), max(rows, cols)
        f32 = np.float32
        self.w = (rng.standard_normal((rows, cols), dtype=f32) * f32(0.02))
        self.g = (rng.standard_normal((rows, cols), dtype=f32) * f32(0.1))
        self.buf = np.zeros((rows, cols), f32)
        self.u = np.empty((rows, cols), f32)
        self.tmp = np.empty((rows, cols), f32)
        self.x = np.empty((self.short, self.long), f32)
        self.y = np.empty((self.short, self.long), f32)
        self.a = np.empty((self.short, self.short), f32)
        self.aa = np.empty((self.short, self.short), f32)
        self.adjusted_lr = f32(LR * math.sqrt(max(1, rows / cols)))

    def products(self):
        """(m, n, k, transposed second operand) of each product of one Newton-Schulz iteration."""
        s, n = self.short, self.long
        return [(s, s, n, True), (s, s, s, False), (s, n, s, False)]  # X·Xᵀ, A·A, B·X

    def flops(self):
        return NS_STEPS * sum(2 * m * n * k for m, n, k, _ in self.products())

    def step(self):
        """One Muon step; returns (products seconds, elementwise seconds)."""
        clock = time.perf_counter
        f32 = np.float32
        t0 = clock()
        np.subtract(self.g, self.buf, out=self.tmp)                 # buf.lerp_(g, 1 - m)
        self.tmp *= f32(1 - MOMENTUM)
        self.buf += self.tmp
        np.subtract(self.buf, self.g, out=self.u)                   # g.lerp(buf, m)
        self.u *= f32(MOMENTUM)
        self.u += self.g
        flat = self.u.reshape(-1)
        norm = max(f32(math.sqrt(np.dot(flat, flat))), f32(EPS))
        np.divide(self.u.T if self.tall else self.u, norm, out=self.x)
        elementwise, products = clock() - t0, 0.0
        x, y, a, aa = self.x, self.y, self.a, self.aa
        for _ in range(NS_STEPS):
            t0 = clock()
            np.matmul(x, x.T, out=a)
            np.matmul(a, a, out=aa)
            t1 = clock()
            aa *= f32(NS_C)                                         # B = b*A + c*A·A, into aa
            a *= f32(NS_B)
            aa += a
            t2 = clock()
            np.matmul(aa, x, out=y)
            t3 = clock()
            x *= f32(NS_A)                                          # X = a*X + B·X
            x += y
            t4 = clock()
            products += (t1 - t0) + (t3 - t2)
            elementwise += (t2 - t1) + (t4 - t3)
        t0 = clock()
        self.w *= f32(1 - LR * WEIGHT_DECAY)
        x *= -self.adjusted_lr
        self.w += x.T if self.tall else x
        elementwise += clock() - t0
        return products, elementwise


class Sgemm:
    """np.matmul alone at one product shape, operands laid out as in step(): C-contiguous, the second one the
    transposed view of an (n, k) array for X·Xᵀ. same=True multiplies an array by its own transpose, as step() does:
    NumPy's matmul sends that to ssyrk (half the flops, the result mirrored); same=False gives sgemm two arrays.
    Timed in rounds between the timed steps, so that both see the same load on a shared machine; each round's
    median is kept, the rate comes from the median of those."""

    def __init__(self, m, n, k, trans_b, same, rng):
        f32 = np.float32
        self.a = rng.uniform(-1, 1, (m, k)).astype(f32)
        b = self.a if same else rng.uniform(-1, 1, (n, k) if trans_b else (k, n)).astype(f32)
        self.b = b.T if trans_b else b
        self.c = np.empty((m, n), f32)
        self.rounds = []
        np.matmul(self.a, self.b, out=self.c)

    def round(self, min_seconds):
        times, start = [], time.perf_counter()
        while len(times) < 3 or time.perf_counter() - start < min_seconds:
            t0 = time.perf_counter()
            np.matmul(self.a, self.b, out=self.c)
            times.append(time.perf_counter() - t0)
        self.rounds.append(statistics.median(times))


def blas_info():
    if threadpoolctl is None:
        return f"unknown (no threadpoolctl; OPENBLAS_NUM_THREADS={ARGS.threads})"
    return "; ".join(f"{i['internal_api']} {i['version']} {i['filepath']} ({i['num_threads']} threads)"
                     for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas")


def run():
    rng = np.random.default_rng(1)
    weights = [Weight(f"h.{layer}.{name}", r, c, rng) for layer in range(ARGS.layers) for name, r, c in LAYER]
    # sgemm rate at each distinct product shape, timed in rounds alternating with the timed steps
    shapes = sorted({p for w in weights for p in w.products()})
    gemms = {(*p, same): Sgemm(*p, same, rng) for p in shapes for same in ((False, True) if p[3] else (False,))}
    for _ in range(ARGS.warmup):
        for w in weights:
            w.step()
    samples = {w.name: [] for w in weights}
    totals = []
    for _ in range(ARGS.repeat):
        t_step = time.perf_counter()
        for w in weights:
            t0 = time.perf_counter()
            p, e = w.step()
            samples[w.name].append((time.perf_counter() - t0, p, e))
        totals.append(time.perf_counter() - t_step)
        for g in gemms.values():
            g.round(ARGS.min_seconds / ARGS.repeat)
    rates = {}
    for (m, n, k, trans_b, same), g in gemms.items():
        s = statistics.median(g.rounds)
        rates[(m, n, k, trans_b, same)] = dict(seconds=s, gflops=2 * m * n * k / s / 1e9, rounds_s=g.rounds)
    rows = []
    for w in weights:
        total, prod, elem = (statistics.median(x[i] for x in samples[w.name]) for i in range(3))
        at_sgemm = NS_STEPS * sum(rates[(*p, False)]["seconds"] for p in w.products())
        at_matmul = NS_STEPS * sum(rates[(*p, p[3])]["seconds"] for p in w.products())
        rows.append(dict(weight=w.name, shape=[w.rows, w.cols], total_s=total, products_s=prod, elementwise_s=elem,
                         other_s=total - prod - elem, products_gflop=w.flops() / 1e9,
                         products_gflops_per_s=w.flops() / prod / 1e9, products_at_sgemm_rate_s=at_sgemm,
                         products_over_sgemm=prod / at_sgemm, products_at_matmul_rate_s=at_matmul,
                         products_over_matmul=prod / at_matmul))
    return weights, rows, totals, rates


def report(weights, rows, totals, rates):
    out = []
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    out.append(f"# /usr/bin/python3 benchmarks/muon_numpy.py --layers {ARGS.layers} --repeat {ARGS.repeat} "
               f"--threads {ARGS.threads}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    out.append(f"# machine: {platform.node()}, {os.cpu_count()} CPUs ({cpu}), load average "
               f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    out.append(f"# numpy {np.__version__}, python {sys.version.split()[0]} ({sys.executable}); blas: {blas_info()}")
    out.append(f"# Muon step, float32, momentum {MOMENTUM}, nesterov, {NS_STEPS} Newton-Schulz steps; median of "
               f"{ARGS.repeat} steps after {ARGS.warmup} warm-up; times in ms")
    out.append(f"{'weight':<22} {'shape':>10} {'total':>9} {'products':>9} {'elemwise':>9} {'other':>7} "
               f"{'GFLOP':>7} {'GF/s':>6} {'@sgemm':>8} {'/sgemm':>6} {'@matmul':>8} {'/matmul':>7}")
    for r in rows:
        out.append(f"{r['weight']:<22} {'x'.join(map(str, r['shape'])):>10} {r['total_s'] * 1e3:9.1f} "
                   f"{r['products_s'] * 1e3:9.1f} {r['elementwise_s'] * 1e3:9.1f} {r['other_s'] * 1e3:7.1f} "
                   f"{r['products_gflop']:7.2f} {r['products_gflops_per_s']:6.1f} "
                   f"{r['products_at_sgemm_rate_s'] * 1e3:8.1f} {r['products_over_sgemm']:6.2f} "
                   f"{r['products_at_matmul_rate_s'] * 1e3:8.1f} {r['products_over_matmul']:7.2f}")
    s = {k: sum(r[k] for r in rows) for k in ("total_s", "products_s", "elementwise_s", "other_s",
                                              "products_gflop", "products_at_sgemm_rate_s",
                                              "products_at_matmul_rate_s")}
    out.append(f"{'sum of medians':<22} {'':>10} {s['total_s'] * 1e3:9.1f} {s['products_s'] * 1e3:9.1f} "
               f"{s['elementwise_s'] * 1e3:9.1f} {s['other_s'] * 1e3:7.1f} {s['products_gflop']:7.2f} "
               f"{s['products_gflop'] / s['products_s']:6.1f} {s['products_at_sgemm_rate_s'] * 1e3:8.1f} "
               f"{s['products_s'] / s['products_at_sgemm_rate_s']:6.2f} {s['products_at_matmul_rate_s'] * 1e3:8.1f} "
               f"{s['products_s'] / s['products_at_matmul_rate_s']:7.2f}")
    out.append(f"whole step (all {len(weights)} weights): median {statistics.median(totals) * 1e3:.1f} ms "
               f"(min {min(totals) * 1e3:.1f}, max {max(totals) * 1e3:.1f}); elementwise "
               f"{100 * s['elementwise_s'] / s['total_s']:.1f}% of the summed medians")
    out.append("# each column is its own median over the steps, so total != products + elementwise + other exactly")
    out.append("# GFLOP and GF/s count 2mnk for every product, X·Xᵀ too, though NumPy computes that one with ssyrk (half)")
    out.append("# @sgemm: the step's products at the sgemm rates below (two arrays); /sgemm = products / @sgemm")
    out.append("# @matmul: at the rates of np.matmul as the step calls it (X·Xᵀ of one array = ssyrk); /matmul likewise")
    out.append(f"# np.matmul alone, float32: one round (median of >= 3 calls, >= {ARGS.min_seconds / ARGS.repeat:.2g} s)"
               f" per shape after each timed step; the median of the {ARGS.repeat} rounds")
    out.append(f"{'m x n x k':<16} {'product':>14} {'MFLOP':>9} {'ms':>9} {'GF/s':>7}")
    for (m, n, k, trans_b, same), v in rates.items():
        label = ("X·Xᵀ ssyrk" if same else "X·Yᵀ sgemm") if trans_b else "A·A, B·X" if n == m else "B·X"
        out.append(f"{f'{m}x{n}x{k}':<16} {label:>14} {2 * m * n * k / 1e6:9.1f} {v['seconds'] * 1e3:9.2f} "
                   f"{v['gflops']:7.1f}")
    return "\n".join(out), s


def main():
    limiter = threadpoolctl.threadpool_limits(limits=ARGS.threads, user_api="blas") if threadpoolctl else None
    try:
        weights, rows, totals, rates = run()
        text, sums = report(weights, rows, totals, rates)
        blas = blas_info()
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    print(text)
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(dict(args=vars(ARGS), numpy=np.__version__, blas=blas, weights=rows,
                           step_totals_s=totals, sums=sums,
                           sgemm=[dict(m=m, n=n, k=k, transposed_b=t, same_array=sa, **v)
                                  for (m, n, k, t, sa), v in rates.items()]),
                      f, indent=1)


if __name__ == "__main__":
    main()
