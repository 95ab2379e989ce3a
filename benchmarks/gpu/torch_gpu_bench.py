#!/usr/bin/env python3
"""The PyTorch side of optc's GPU benchmark (issue 6, part 3): torch.optim Adam, AdamW and SGD-momentum
with fused=True, foreach=True and a torch.compile'd step; Lion, Adan and LAMB (which torch.optim lacks)
as foreach implementations of exactly the formulas in optimizers/src/main/resources/dev/optc/optimizers/
*.opt, eager and torch.compile'd; and a device-to-device copy of the same bytes as the floor. Prints one
JSON document on stdout; progress goes to stderr.

    python3 benchmarks/gpu/torch_gpu_bench.py --out torch.json                  # on an NVIDIA GPU
    /usr/bin/python3 benchmarks/gpu/torch_gpu_bench.py --device cpu --tiny       # smoke test, any machine
    /usr/bin/python3 benchmarks/gpu/torch_gpu_bench.py --device cpu --check      # formulas vs make_golden.py

Timing: for every row, warm-up steps, then --repeats steps, each alone: synchronize, CUDA event, step,
CUDA event (perf_counter on the CPU). So a step's time includes its launch overhead (the host work before
its last kernel), as one training step pays it. Reported: median, min and max in ms; GB/s = the bytes the
step must move / median time; x_floor = median / the median of dst.copy_(src) moving the same bytes (it
reads half and writes half). torch.compile rows report compile_s (the warm-up's time over what its calls
would take at the median), never inside the timed steps; a recompile during timing is an error.

Exit codes: 0 done (rows may be unavailable or skipped: their status says so), 1 a --check failed,
2 no CUDA device (with --device cuda, the default) or bad usage.
"""
import argparse
import datetime
import gc
import inspect
import json
import math
import os
import platform
import re
import signal
import sys
import time

try:
    import torch
except ImportError:
    print("torch_gpu_bench: torch is not installed for this python (" + sys.executable + "); on Debian use "
          "/usr/bin/python3 (python3-torch)", file=sys.stderr)
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OPT_DIR = os.path.join(REPO, "optimizers", "src", "main", "resources", "dev", "optc", "optimizers")

OPTIMIZERS = ["adam", "adamw", "sgd", "lion", "adan", "lamb"]
OURS = ("lion", "adan", "lamb")             # not in torch.optim: foreach implementations below
TORCH_CLASS = dict(adam="Adam", adamw="AdamW", sgd="SGD")
# Hypers the benchmark sets over the .opt defaults (the same go to `optc bench --set`): "SGD-momentum".
OVERRIDES = dict(sgd=dict(momentum=0.9))
# Bytes a step must move per float32 parameter (each input read once, each output written once), with the
# benchmark's hypers: adam/adamw read w g m v, write w m v (amsgrad off); sgd-momentum reads w g buf,
# writes w buf; lion reads w g m, writes w m; adan reads w g m v n prev_grad, writes w m v n prev_grad;
# lamb needs two passes (the trust ratio needs whole-tensor norms of w and of the update): read w g m v,
# write m v, then read w m v again, write w (or materialize the update: the same 40).
BYTES_PER_PARAM = dict(adam=28, adamw=28, sgd=20, lion=20, adan=44, lamb=40)
# Fallback when the .opt files are not there (they are in the repository): their defaults.
DEFAULT_HYPERS = dict(
    adam=dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False),
    adamw=dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False),
    sgd=dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    lion=dict(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0),
    adan=dict(lr=1e-3, beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-8, weight_decay=0.0),
    lamb=dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.01),
)
STATES = dict(lion=("m",), adan=("exp_avg", "exp_avg_diff", "exp_avg_sq", "prev_grad"),
              lamb=("exp_avg", "exp_avg_sq"))

WORKLOAD_ORDER = ["flat-256M", "small-1000", "gpt2-small", "flat-16M"]   # eager rows: targets first
COMPILE_ORDER = ["flat-256M", "flat-16M", "gpt2-small", "small-1000"]    # compile rows: cheapest first
VARIANTS = ["fused", "foreach", "compile"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- hypers

def parse_opt_hypers(name):
    """`hyper NAME = VALUE` lines of the library's .opt file: the defaults optc itself uses."""
    path = os.path.join(OPT_DIR, name + ".opt")
    if not os.path.exists(path):
        return dict(DEFAULT_HYPERS[name]), "built-in copy (no " + os.path.relpath(path, REPO) + ")"
    hypers = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*hyper\s+(\w+)\s*=\s*([^\s#]+)", line)
            if m:
                v = m.group(2)
                hypers[m.group(1)] = (v == "true") if v in ("true", "false") else float(v)
    return hypers, os.path.relpath(path, REPO)


def bench_hypers(name):
    h, source = parse_opt_hypers(name)
    h.update(OVERRIDES.get(name, {}))
    return h, source


# ---------------------------------------------------------------------------------------- workloads

def gpt2_small_shapes(d=768, vocab=50257, ctx=1024, layers=12):
    """GPT-2 small's parameters in Hugging Face's order (Conv1D weights are (in, out); the LM head is tied to
    wte): 148 tensors, 124,439,808 parameters at the real sizes."""
    shapes = [(vocab, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,),        # ln_1, attn.c_attn, attn.c_proj
                   (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]    # ln_2, mlp.c_fc, mlp.c_proj
    return shapes + [(d,), (d,)]                                          # ln_f


def workloads(tiny):
    if tiny:  # the same structure, ~1000x smaller: for a smoke test on any machine
        return {"flat-16M": [(16 * 2 ** 10,)], "flat-256M": [(256 * 2 ** 10,)],
                "gpt2-small": gpt2_small_shapes(d=48, vocab=3141, ctx=64),
                "small-1000": [(64,)] * 1000}
    return {"flat-16M": [(16 * 2 ** 20,)], "flat-256M": [(256 * 2 ** 20,)],
            "gpt2-small": gpt2_small_shapes(), "small-1000": [(4096,)] * 1000}


def numel(shapes):
    return sum(math.prod(s) for s in shapes)


# ------------------------------------------------------------------------ foreach building blocks
# A per-step scalar is a Python float in eager code (computed in double and rounded once by the kernel,
# as torch.optim does) or a 0-d tensor in the torch.compile'd step (so that t changing does not recompile;
# torch's own compiled optimizers keep `step` on the device the same way). The helpers take either.

def _is_t(s):
    return isinstance(s, torch.Tensor)


def _sqrt(s):
    return s.sqrt() if _is_t(s) else math.sqrt(s)


def f_mul_(xs, s):
    torch._foreach_mul_(xs, [s] * len(xs) if _is_t(s) else s)


def f_div_(xs, s):
    torch._foreach_div_(xs, [s] * len(xs) if _is_t(s) else s)


def f_div(xs, s):
    return torch._foreach_div(xs, [s] * len(xs) if _is_t(s) else s)


def f_addcdiv_(ps, a, b, s):
    """ps += s * a / b."""
    if _is_t(s):
        q = torch._foreach_div(a, b)
        f_mul_(q, s)
        torch._foreach_add_(ps, q)
    else:
        torch._foreach_addcdiv_(ps, a, b, value=s)


def f_sign_(xs):
    if hasattr(torch, "_foreach_sign_"):
        torch._foreach_sign_(xs)
    else:
        for x in xs:
            x.sign_()


HAS_LERP = hasattr(torch, "_foreach_lerp_")   # torch >= 2.0; torch.optim's own Adam uses it for exp_avg


def f_lerp(a, b, s):
    """lerp(a, b, s) = a + s*(b - a) (DSL.md), new tensors: one pass where torch has _foreach_lerp."""
    if HAS_LERP:
        return list(torch._foreach_lerp(a, b, s))
    d = torch._foreach_sub(b, a)
    return list(torch._foreach_add(a, d, alpha=s))


def f_ema_(xs, ys, beta):
    """xs = beta*xs + (1 - beta)*ys, in place: lerp(ys, xs, beta) = lerp(xs, ys, 1 - beta), as torch.optim's
    foreach Adam updates exp_avg (one pass); without _foreach_lerp_ (torch 1.13) two."""
    if HAS_LERP:
        torch._foreach_lerp_(xs, ys, 1 - beta)
    else:
        torch._foreach_mul_(xs, beta)
        torch._foreach_add_(xs, ys, alpha=1 - beta)


def f_copy_(dst, src):
    if hasattr(torch, "_foreach_copy_"):
        torch._foreach_copy_(dst, src)
    else:
        for d, s in zip(dst, src):
            d.copy_(s)


# --------------------------------------------------------------------------- Lion, Adan, LAMB
# Each is a step over lists: ps (weights, updated in place), gs (gradients), st (state lists by the .opt
# state names), h (hypers), t (the step, 1-based: int when eager, 0-d tensor when compiled). The comments
# quote the .opt statement each block computes. Python-level `if h[...] != 0` skips a pass whose result is
# exact anyway (adding 0*w, dividing by 1), as hand-written foreach optimizers do.

def lion_step(ps, gs, st, h, t):
    ms = st["m"]
    # u = sign(lerp(g, m, beta1))            lerp(a, b, s) = a + s*(b - a)  (DSL.md)
    u = f_lerp(gs, ms, h["beta1"])
    f_sign_(u)
    # w -= lr * (u + weight_decay * w)
    if h["weight_decay"] != 0:
        torch._foreach_add_(u, ps, alpha=h["weight_decay"])
    torch._foreach_add_(ps, u, alpha=-h["lr"])
    # m = lerp(g, m, beta2) = beta2*m + (1 - beta2)*g
    f_ema_(ms, gs, h["beta2"])


def adan_step(ps, gs, st, h, t):
    m, v, n, prev = st["exp_avg"], st["exp_avg_diff"], st["exp_avg_sq"], st["prev_grad"]
    b1, b2, b3, lr = h["beta1"], h["beta2"], h["beta3"], h["lr"]
    # diff = t == 1 ? 0 : g - prev_grad      (at t == 1, prev_grad := g makes g - prev_grad exactly 0; the
    #                                          compiled step only ever runs from t = 2: see Ours.compile)
    if not _is_t(t) and t == 1:
        f_copy_(prev, gs)
    diff = torch._foreach_sub(gs, prev)
    # exp_avg = beta1 * exp_avg + (1 - beta1) * g
    f_ema_(m, gs, b1)
    # exp_avg_diff = beta2 * exp_avg_diff + (1 - beta2) * diff
    f_ema_(v, diff, b2)
    # nesterov_g = beta2 * diff + g
    nest = torch._foreach_add(gs, diff, alpha=b2)
    # exp_avg_sq = beta3 * exp_avg_sq + (1 - beta3) * nesterov_g * nesterov_g
    torch._foreach_mul_(n, b3)
    torch._foreach_addcmul_(n, nest, nest, value=1 - b3)
    # denom = sqrt(exp_avg_sq) / sqrt(1 - beta3 ^ t) + eps
    denom = list(torch._foreach_sqrt(n))
    f_div_(denom, _sqrt(1 - b3 ** t))
    torch._foreach_add_(denom, h["eps"])
    # w -= lr / (1 - beta1 ^ t) * exp_avg / denom
    f_addcdiv_(ps, m, denom, -(lr / (1 - b1 ** t)))
    # w -= lr * beta2 / (1 - beta2 ^ t) * exp_avg_diff / denom
    f_addcdiv_(ps, v, denom, -(lr * b2 / (1 - b2 ** t)))
    # w = w / (1 + lr * weight_decay)
    if h["weight_decay"] != 0:
        torch._foreach_div_(ps, 1 + lr * h["weight_decay"])
    # prev_grad = g
    f_copy_(prev, gs)


def lamb_step(ps, gs, st, h, t):
    m, v = st["exp_avg"], st["exp_avg_sq"]
    b1, b2 = h["beta1"], h["beta2"]
    # exp_avg = beta1 * exp_avg + (1 - beta1) * g
    f_ema_(m, gs, b1)
    # exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
    torch._foreach_mul_(v, b2)
    torch._foreach_addcmul_(v, gs, gs, value=1 - b2)
    # update = exp_avg / (1 - beta1 ^ t) / (sqrt(exp_avg_sq / (1 - beta2 ^ t)) + eps) + weight_decay * w
    den = f_div(v, 1 - b2 ** t)
    torch._foreach_sqrt_(den)
    torch._foreach_add_(den, h["eps"])
    upd = f_div(m, 1 - b1 ** t)
    torch._foreach_div_(upd, den)
    if h["weight_decay"] != 0:
        torch._foreach_add_(upd, ps, alpha=h["weight_decay"])
    # w_norm = norm(w); update_norm = norm(update)         (per tensor: torch._foreach_norm)
    w_norm = torch.stack(list(torch._foreach_norm(ps)))
    u_norm = torch.stack(list(torch._foreach_norm(upd)))
    # trust_ratio = w_norm > 0 and update_norm > 0 ? w_norm / update_norm : 1
    trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
    # w -= lr * trust_ratio * update
    scale = -(trust * h["lr"])
    if _is_t(t):   # compiled: per-tensor 0-d tensors, no host sync
        torch._foreach_mul_(upd, list(scale.unbind(0)))
    else:          # eager: one device-to-host copy of the N scales, then one multi-tensor kernel
        torch._foreach_mul_(upd, scale.tolist())
    torch._foreach_add_(ps, upd)


STEP = dict(lion=lion_step, adan=adan_step, lamb=lamb_step)


# --------------------------------------------------------------------------------------- features

class Features:
    def __init__(self, device):
        self.device = device
        self.version = torch.__version__
        self.compile = hasattr(torch, "compile")
        self._fused = {}

    def fused(self, name):
        """None if torch.optim.<name>(fused=True) steps on this device, else why not."""
        if name not in self._fused:
            cls = getattr(torch.optim, TORCH_CLASS[name])
            if "fused" not in inspect.signature(cls.__init__).parameters:
                self._fused[name] = "torch %s: %s has no fused=True" % (self.version, cls.__name__)
            else:
                try:
                    p = torch.nn.Parameter(torch.ones(4, device=self.device))
                    p.grad = torch.ones(4, device=self.device)
                    kwargs = dict(lr=1e-3, fused=True)
                    if name == "sgd":
                        kwargs["momentum"] = 0.9
                    cls([p], **kwargs).step()
                    sync(self.device)
                    self._fused[name] = None
                except Exception as e:  # noqa: BLE001 - any refusal means "unavailable here"
                    self._fused[name] = "torch %s: %s(fused=True) on %s: %s" % (
                        self.version, cls.__name__, self.device.type, first_line(e))
        return self._fused[name]

    def compile_reason(self):
        return None if self.compile else "torch %s has no torch.compile" % self.version


def label(r):
    return r["optimizer"] or "%dB/p" % r["bytes_per_param"]


def first_line(e):
    text = str(e).strip().splitlines()
    return (type(e).__name__ + ": " + text[0]) if text else type(e).__name__


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------------- timing

class RowTimeout(Exception):
    pass


class Budget:
    """An optional deadline for the whole script; compile rows are interrupted (SIGALRM) at it."""

    def __init__(self, seconds):
        self.start = time.monotonic()
        self.end = None if seconds is None else self.start + seconds

    def left(self):
        return math.inf if self.end is None else self.end - time.monotonic()


def time_steps(fn, repeats, device):
    """Per-step times in ms: each step alone (synchronized before, timed with CUDA events)."""
    if device.type == "cuda":
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(repeats)]
        for start, end in events:
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
        return [start.elapsed_time(end) for start, end in events]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def median(xs):
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else 0.5 * (s[k - 1] + s[k])


def summarize(times):
    return dict(median_ms=median(times), min_ms=min(times), max_ms=max(times), repeats=len(times))


# ------------------------------------------------------------------------------------ the rows

class Ours:
    """Lion / Adan / LAMB over the workload's tensors: eager foreach, or the same step torch.compile'd."""

    def __init__(self, name, shapes, device, dtype, h, gen):
        self.name, self.h, self.t = name, h, 0
        self.ps = [torch.randn(s, device=device, dtype=dtype, generator=gen) for s in shapes]
        self.gs = [torch.randn(s, device=device, dtype=dtype, generator=gen) for s in shapes]
        self.st = {k: [torch.zeros_like(p) for p in self.ps] for k in STATES[name]}

    def eager(self):
        self.t += 1
        STEP[self.name](self.ps, self.gs, self.st, self.h, self.t)

    def compile(self):
        """Returns the compiled step. Step 1 (Adan's diff = 0 case) has run eagerly before: the compiled step
        keeps t as a 0-d device tensor and only ever sees t >= 2."""
        if self.t == 0:
            self.eager()
        t_dev = torch.tensor(float(self.t), device=self.ps[0].device, dtype=self.ps[0].dtype)
        name, ps, gs, st, h = self.name, self.ps, self.gs, self.st, self.h

        def step():
            t_dev.add_(1)
            STEP[name](ps, gs, st, h, t_dev)

        compiled = torch.compile(step, dynamic=False)

        def run():
            compiled()
            self.t += 1
        return run

    def snapshot(self):
        return ([p.clone() for p in self.ps], {k: [x.clone() for x in v] for k, v in self.st.items()}, self.t)

    def eager_from(self, snap, steps):
        """Runs `steps` eager steps from a snapshot, on copies of it; returns the weights."""
        ps, st, t = [p.clone() for p in snap[0]], {k: [x.clone() for x in v] for k, v in snap[1].items()}, snap[2]
        for _ in range(steps):
            t += 1
            STEP[self.name](ps, self.gs, st, self.h, t)
        return ps


def torch_optimizer(name, shapes, device, dtype, h, gen, variant):
    ps = [torch.nn.Parameter(torch.randn(s, device=device, dtype=dtype, generator=gen)) for s in shapes]
    for p in ps:
        p.grad = torch.randn(p.shape, device=device, dtype=dtype, generator=gen)
    cls = getattr(torch.optim, TORCH_CLASS[name])
    if name == "sgd":
        kwargs = dict(lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                      weight_decay=h["weight_decay"], nesterov=bool(h["nesterov"]), maximize=bool(h["maximize"]))
    else:
        kwargs = dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weight_decay"],
                      amsgrad=bool(h["amsgrad"]), maximize=bool(h["maximize"]))
    if variant == "fused":
        kwargs["fused"] = True
    elif variant == "foreach":
        kwargs["foreach"] = True
    # compile: torch's defaults, as its "compiling the optimizer" recipe does
    return ps, cls(ps, **kwargs)


def set_dynamo_limits():
    cfg = torch._dynamo.config
    for key in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                "accumulated_recompile_limit"):
        if hasattr(cfg, key):
            setattr(cfg, key, max(getattr(cfg, key), 256))


class Runner:
    def __init__(self, args, device, dtype):
        self.args, self.device, self.dtype = args, device, dtype
        self.features = Features(device)
        self.budget = Budget(args.deadline_s)
        self.rows = []
        self.floors = {}   # (workload, bytes) -> median ms of the copy

    # ---- one row

    def row(self, workload, shapes, optimizer, variant, impl):
        bpp = BYTES_PER_PARAM[optimizer] if optimizer else None
        n = numel(shapes)
        return dict(impl=impl, optimizer=optimizer, variant=variant, workload=workload, tensors=len(shapes),
                    params=n, bytes_per_param=bpp, bytes=None if bpp is None else bpp * n, status="ok")

    def finish(self, r, times, floor_key=None):
        r.update(summarize(times))
        if r["bytes"]:
            r["gbps"] = r["bytes"] / (r["median_ms"] * 1e-3) / 1e9
        floor = self.floors.get(floor_key) if floor_key else None
        if floor:
            r["x_floor"] = r["median_ms"] / floor
        return r

    def add(self, r):
        self.rows.append(r)
        if r["status"] == "ok":
            extra = ""
            if r.get("x_floor"):
                extra += "  %.2fx floor" % r["x_floor"]
            if r.get("compile_s") is not None:
                extra += "  compile %.1f s" % r["compile_s"]
            log("  %-11s %-6s %-8s %-7s %10.4f ms  (%.4f..%.4f)  %7.1f GB/s%s" % (
                r["workload"], label(r), r["variant"], r["impl"], r["median_ms"], r["min_ms"], r["max_ms"],
                r.get("gbps") or 0.0, extra))
        else:
            log("  %-11s %-6s %-8s %-7s %s: %s" % (r["workload"], label(r), r["variant"], r["impl"], r["status"],
                                                    r.get("reason", "")))
        self.flush()

    def flush(self):
        if self.args.out:
            tmp = self.args.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.document(), f, indent=1)
            os.replace(tmp, self.args.out)

    def cleanup(self):
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def gen(self):
        g = torch.Generator(device=self.device)
        g.manual_seed(self.args.seed)
        return g

    # ---- the floor

    def copy_floor(self, workload, shapes, bpp):
        n = numel(shapes)
        r = self.row(workload, shapes, None, "copy", "torch")
        half = (bpp * n) // 8                      # float32 elements in src (and in dst): src + dst = bytes
        r.update(bytes_per_param=bpp, bytes=8 * half, copy_elements=half)
        try:
            src = torch.randn(half, device=self.device, generator=self.gen())
            dst = torch.empty_like(src)
            fn = lambda: dst.copy_(src)  # noqa: E731
            for _ in range(self.args.warmup):
                fn()
            times = time_steps(fn, self.args.repeats, self.device)
            self.finish(r, times)
            self.floors[(workload, bpp)] = r["median_ms"]
            r["x_floor"] = 1.0
        except Exception as e:  # noqa: BLE001 - an out-of-memory, say: record it, go on
            r.update(status="error", reason=first_line(e))
        self.add(r)
        self.cleanup()

    # ---- eager rows

    def eager(self, workload, shapes, name, variant):
        h, _ = bench_hypers(name)
        impl = "ours" if name in OURS else "torch"
        r = self.row(workload, shapes, name, variant, impl)
        if variant == "fused":
            if name in OURS:
                r.update(status="unavailable", reason="torch has no fused %s" % name)
                return self.add(r)
            reason = self.features.fused(name)
            if reason:
                r.update(status="unavailable", reason=reason)
                return self.add(r)
        if self.budget.left() < 5:
            r.update(status="skipped", reason="time budget (--deadline-s) spent")
            return self.add(r)
        try:
            if name in OURS:
                obj = Ours(name, shapes, self.device, self.dtype, h, self.gen())
                fn = obj.eager
            else:
                ps, opt = torch_optimizer(name, shapes, self.device, self.dtype, h, self.gen(), variant)
                fn = opt.step
            for _ in range(self.args.warmup):
                fn()
            sync(self.device)
            times = time_steps(fn, self.args.repeats, self.device)
            self.finish(r, times, (workload, BYTES_PER_PARAM[name]))
        except Exception as e:  # noqa: BLE001
            r.update(status="error", reason=first_line(e))
        self.add(r)
        fn = obj = ps = opt = None  # noqa: F841 - drop the tensors before the next row
        self.cleanup()

    # ---- torch.compile rows

    def compiled(self, workload, shapes, name):
        h, _ = bench_hypers(name)
        impl = "ours" if name in OURS else "torch"
        r = self.row(workload, shapes, name, "compile", impl)
        reason = self.features.compile_reason()
        if reason:
            r.update(status="unavailable", reason=reason)
            return self.add(r)
        left = self.budget.left()
        if left < self.args.min_compile_s:
            r.update(status="skipped", reason="time budget: %.0f s left, a compile row needs %.0f s (--min-compile-s)"
                     % (max(left, 0), self.args.min_compile_s))
            return self.add(r)
        torch._dynamo.reset()
        set_dynamo_limits()
        alarm = math.isfinite(left) and hasattr(signal, "SIGALRM")
        fired = []
        if alarm:
            def on_alarm(signum, frame):
                fired.append(True)   # seen below even if torch wraps or swallows the exception
                raise RowTimeout()
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, max(left - 3, 1))
        t_start = time.monotonic()
        obj = ps = opt = fn = None
        try:
            if name in OURS:
                obj = Ours(name, shapes, self.device, self.dtype, h, self.gen())
                fn = obj.compile()
            else:
                ps, opt = torch_optimizer(name, shapes, self.device, self.dtype, h, self.gen(), "compile")
                step = opt.step
                fn = torch.compile(lambda: step(), dynamic=False)
            warm = []
            t0 = time.perf_counter()
            fn()                                   # compiles
            sync(self.device)
            warm.append(time.perf_counter() - t0)
            if obj is not None:
                # the compiled step against the eager one from the same state, 2 steps, same tensors
                snap = obj.snapshot()
                for _ in range(2):
                    t0 = time.perf_counter()
                    fn()
                    sync(self.device)
                    warm.append(time.perf_counter() - t0)
                ref = obj.eager_from(snap, 2)
                diff = max(float((a - b).abs().max()) for a, b in zip(obj.ps, ref))
                moved = max(float((a - b).abs().max()) for a, b in zip(obj.ps, snap[0]))
                r.update(check_vs_eager_max_abs=diff, check_step_max_abs=moved)
                snap = ref = None
            for _ in range(max(self.args.warmup - len(warm) + 1, 1)):
                t0 = time.perf_counter()
                fn()
                sync(self.device)
                warm.append(time.perf_counter() - t0)
            cfg = torch._dynamo.config
            old = getattr(cfg, "error_on_recompile", None)
            if old is not None:
                cfg.error_on_recompile = True      # a recompile inside the timed steps is an error
            try:
                times = time_steps(fn, self.args.repeats, self.device)
            finally:
                if old is not None:
                    cfg.error_on_recompile = old
            self.finish(r, times, (workload, BYTES_PER_PARAM[name]))
            r["compile_s"] = max(sum(warm) - len(warm) * r["median_ms"] * 1e-3, 0.0)
            r["first_call_s"] = warm[0]
        except Exception as e:  # noqa: BLE001 - RowTimeout too, perhaps wrapped by torch
            r.update(status="error", reason=first_line(e))
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
        if fired:
            for k in ("median_ms", "min_ms", "max_ms", "repeats", "gbps", "x_floor", "compile_s", "first_call_s"):
                r.pop(k, None)
            r.update(status="skipped", reason="stopped at the time budget after %.0f s (compiling or warming up)"
                     % (time.monotonic() - t_start))
        self.add(r)
        obj = ps = opt = fn = None  # noqa: F841
        torch._dynamo.reset()
        self.cleanup()

    # ---- the plan

    def run(self, wl):
        names = [w for w in WORKLOAD_ORDER if w in wl]
        for w in names:
            shapes = wl[w]
            log("%s: %d tensor%s, %d params" % (w, len(shapes), "" if len(shapes) == 1 else "s", numel(shapes)))
            for bpp in sorted({BYTES_PER_PARAM[o] for o in self.args.optimizers}):
                self.copy_floor(w, shapes, bpp)
            for name in self.args.optimizers:
                for variant in ("fused", "foreach"):
                    if variant in self.args.variants:
                        self.eager(w, shapes, name, variant)
        if "compile" in self.args.variants:
            order = [o for o in ("lion", "adan", "lamb", "adamw", "adam", "sgd") if o in self.args.optimizers]
            for w in [w for w in COMPILE_ORDER if w in wl]:
                log("%s: torch.compile rows" % w)
                for name in order:
                    self.compiled(w, wl[w], name)

    def document(self):
        return dict(tool="benchmarks/gpu/torch_gpu_bench.py", meta=self.meta, rows=self.rows)


def meta(args, device, wl):
    m = dict(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             torch=torch.__version__, python=platform.python_version(), device=device.type,
             tiny=args.tiny, warmup=args.warmup, repeats=args.repeats, seed=args.seed,
             deadline_s=args.deadline_s, timing="per step: synchronize, CUDA event, step, CUDA event; "
             "median/min/max over the repeats" if device.type == "cuda" else "per step: perf_counter",
             floor="dst.copy_(src), src and dst each half the bytes the step moves",
             bytes_per_param=BYTES_PER_PARAM,
             hypers={o: bench_hypers(o)[0] for o in args.optimizers},
             hyper_source={o: bench_hypers(o)[1] for o in args.optimizers},
             workloads={w: dict(tensors=len(s), params=numel(s), distinct_shapes=sorted({tuple(x) for x in s}))
                        for w, s in wl.items()})
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        m.update(gpu=p.name, cuda=torch.version.cuda, capability="%d.%d" % (p.major, p.minor),
                 sms=p.multi_processor_count, gpu_memory_gib=round(p.total_memory / 2 ** 30, 1))
        try:
            import triton  # noqa: F401
            m["triton"] = triton.__version__
        except Exception:  # noqa: BLE001
            pass
    else:
        m.update(cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return m


# ------------------------------------------------------------------------------------- --check
# Lion, Adan (single-tensor cases) and LAMB (group cases) from tools/golden/make_golden.py: its inputs, its
# NumPy reference in float64, and the steps above in float64 on the chosen device, three ways: eager (t an
# int), the compiled step's code run eagerly (t a 0-d tensor from step 2), and, with --check-compile, that
# code through torch.compile.

def load_golden():
    path = os.path.join(REPO, "tools", "golden")
    if path not in sys.path:
        sys.path.insert(0, path)
    import make_golden  # noqa: E402
    return make_golden


def run_steps(name, params, grads, h, device, mode):
    """params: list of float64 arrays; grads: list of (T, *S) arrays. Returns the final weights (numpy)."""
    dt = torch.float64
    ps = [torch.tensor(p, dtype=dt, device=device) for p in params]
    gs = [torch.zeros_like(p) for p in ps]
    st = {k: [torch.zeros_like(p) for p in ps] for k in STATES[name]}
    steps = grads[0].shape[0]
    t_dev = torch.tensor(1.0, dtype=dt, device=device)

    def tensor_step():
        t_dev.add_(1)
        STEP[name](ps, gs, st, h, t_dev)
    fn = torch.compile(tensor_step, dynamic=False) if mode == "compiled" else tensor_step
    for k in range(steps):
        for g, gr in zip(gs, grads):
            g.copy_(torch.tensor(gr[k], dtype=dt))
        if mode == "eager" or k == 0:
            STEP[name](ps, gs, st, h, k + 1)
        else:
            fn()
    return [p.cpu().numpy() for p in ps]


def check(args, device):
    mg = load_golden()
    np = mg.np
    modes = ["eager", "tensor-t"] + (["compiled"] if args.check_compile else [])
    if args.check_compile and not hasattr(torch, "compile"):
        log("check: torch %s has no torch.compile: skipping the compiled mode" % torch.__version__)
        modes.remove("compiled")
    results, ok = [], True
    for name in OURS:   # the .opt defaults equal make_golden's
        mine = parse_opt_hypers(name)[0]
        for k, v in mg.HYPERS[name].items():
            if k in mine and float(mine[k]) != float(v):
                results.append(dict(case="defaults:" + name, ok=False, reason="%s: .opt %r, make_golden %r"
                                    % (k, mine[k], v)))
                ok = False
    cases = [(n, o, [(tuple(s), "")], seed, steps, hy) for n, o, s, seed, steps, hy in mg.CASES if o in ("lion", "adan")]
    cases += [(n, o, tensors, seed, steps, hy) for n, o, seed, steps, tensors, hy in mg.GROUP_CASES if o == "lamb"]
    for case, opt, tensors, seed, steps, hypers in cases:
        h = dict(mg.HYPERS[opt], **hypers)
        if opt == "lamb":
            params, grads = mg.make_group_inputs(tensors, steps, seed)
        else:  # the committed case's own inputs
            p, g = mg.make_inputs(tensors[0][0], steps, seed)
            params, grads = [p], [g]
        if opt == "lamb":
            ref = mg.run_lamb(hypers, params, grads, np.float64)
        else:
            ref = [mg.NUMPY_RUNNERS[opt](hypers, params[0], grads[0], np.float64)]
        scale = max(max(float(np.max(np.abs(r))) if r.size else 0.0 for r in ref), 1.0)
        moved = max(float(np.max(np.abs(r - p.astype(np.float64)))) if r.size else 0.0 for r, p in zip(ref, params))
        for mode in modes:
            torch._dynamo.reset() if mode == "compiled" else None
            got = run_steps(opt, [p.astype(np.float64) for p in params], grads, h, device, mode)
            diff = max(float(np.max(np.abs(g - r))) if r.size else 0.0 for g, r in zip(got, ref))
            passed = diff <= args.check_tol * scale and moved > 0
            ok &= passed
            results.append(dict(case=case, optimizer=opt, mode=mode, tensors=len(tensors), steps=steps,
                                max_abs_diff=diff, max_abs_moved=moved, ok=passed))
            log("check %-40s %-8s %-9s max|torch - numpy| = %.3e  (moved %.3e)  %s" % (
                case, opt, mode, diff, moved, "ok" if passed else "FAILED"))
    return ok, results


# -------------------------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (the default), cuda:N or cpu")
    ap.add_argument("--tiny", action="store_true", help="~1000x smaller workloads, 1 warm-up, 3 repeats: a smoke test")
    ap.add_argument("--workloads", default=",".join(WORKLOAD_ORDER),
                    help="comma-separated, of: " + ", ".join(WORKLOAD_ORDER))
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="comma-separated, of: " + ", ".join(OPTIMIZERS))
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated, of: fused, foreach, compile (copy floors always run)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default 3; --tiny 1)")
    ap.add_argument("--repeats", type=int, help="timed steps (default 20; --tiny 3)")
    ap.add_argument("--shapes-file", help="JSON {workload: [[d0, d1, ...], ...]} replacing the built-in shapes of "
                                          "those workloads (run.sh passes optc bench's own, when it reports them)")
    ap.add_argument("--deadline-s", type=float, help="stop starting rows after this many seconds; a compile row "
                                                     "still running then is stopped and marked skipped")
    ap.add_argument("--min-compile-s", type=float, default=20.0,
                    help="do not start a torch.compile row with less time than this left (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="also write the JSON here, after every row (a killed run leaves its rows)")
    ap.add_argument("--check", action="store_true", help="only check Lion/Adan/LAMB against make_golden.py's NumPy "
                                                         "references (float64, on --device) and exit 0 or 1")
    ap.add_argument("--check-compile", action="store_true", help="with --check: also through torch.compile")
    ap.add_argument("--check-tol", type=float, default=1e-12,
                    help="--check passes when max|torch - numpy| <= tol * max(1, max|w|) (default 1e-12)")
    args = ap.parse_args(argv)

    try:
        device = torch.device(args.device)
    except RuntimeError as e:
        ap.error("--device %s: %s" % (args.device, e))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print("torch_gpu_bench: no CUDA device (torch %s, torch.cuda.is_available() is False): run it on an "
                  "NVIDIA GPU machine, or smoke-test it with --device cpu --tiny" % torch.__version__,
                  file=sys.stderr)
            return 2
        if device.index is not None and device.index >= torch.cuda.device_count():
            ap.error("--device %s: there are %d CUDA devices" % (args.device, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        ap.error("--device must be cuda, cuda:N or cpu")

    if args.check:
        ok, results = check(args, device)
        print(json.dumps(dict(tool="benchmarks/gpu/torch_gpu_bench.py --check", torch=torch.__version__,
                              device=str(device), ok=ok, checks=results), indent=1))
        return 0 if ok else 1

    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 3)
    args.repeats = args.repeats if args.repeats is not None else (3 if args.tiny else 20)
    if args.warmup < 1 or args.repeats < 1:
        ap.error("--warmup and --repeats must be at least 1")
    args.optimizers = [o for o in args.optimizers.split(",") if o]
    args.variants = [v for v in args.variants.split(",") if v]
    wanted = [w for w in args.workloads.split(",") if w]
    for o in args.optimizers:
        if o not in OPTIMIZERS:
            ap.error("unknown optimizer '%s' (known: %s)" % (o, ", ".join(OPTIMIZERS)))
    for v in args.variants:
        if v not in VARIANTS:
            ap.error("unknown variant '%s' (known: %s)" % (v, ", ".join(VARIANTS)))
    all_wl = workloads(args.tiny)
    for w in wanted:
        if w not in all_wl:
            ap.error("unknown workload '%s' (known: %s)" % (w, ", ".join(WORKLOAD_ORDER)))
    wl = {w: all_wl[w] for w in wanted}
    if args.shapes_file:
        with open(args.shapes_file) as f:
            for w, shapes in json.load(f).items():
                if w in wl and shapes:
                    wl[w] = [tuple(int(d) for d in s) for s in shapes]
    if device.type == "cpu":
        torch.set_num_threads(max(torch.get_num_threads(), 1))

    runner = Runner(args, device, torch.float32)
    runner.meta = meta(args, device, wl)
    runner.meta["features"] = dict(compile=runner.features.compile_reason() or "yes",
                                   fused={o: runner.features.fused(o) or "yes" for o in TORCH_CLASS
                                          if o in args.optimizers})
    log("torch %s on %s%s; %d warm-up + %d timed steps per row" % (
        torch.__version__, runner.meta.get("gpu", device.type), " (tiny)" if args.tiny else "", args.warmup,
        args.repeats))
    runner.run(wl)
    runner.meta["wall_s"] = round(time.monotonic() - runner.budget.start, 1)
    runner.flush()
    print(json.dumps(runner.document(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
