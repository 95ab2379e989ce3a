#!/usr/bin/python3
"""Golden vectors for optc's conformance tests: torch.optim 1.13 (and NumPy for Lion and Adan).

Run with Debian's python (torch 1.13, numpy 1.24), from anywhere:

    /usr/bin/python3 tools/golden/make_golden.py                  # rewrite every committed case
    /usr/bin/python3 tools/golden/make_golden.py --out DIR        # ... into another folder
    /usr/bin/python3 tools/golden/make_golden.py --optimizer adam --shape 6,7 --seed 5 --steps 20 \
        --set lr=0.01 --set amsgrad=true --out /tmp/case          # ONE fresh case, files right in DIR

See README.md next to this file for the format and the tolerance rule.
"""
import argparse
import inspect
import math
import os
import shutil
import sys

import numpy as np

try:
    import torch
except ImportError:  # the pyenv python on PATH has no torch
    sys.exit("make_golden.py: torch is missing: run it with /usr/bin/python3 (Debian's python3-torch)")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "runtime", "src", "test", "resources", "conformance")

# Hyper names and defaults, as in optimizers/src/main/resources/dev/optc/optimizers/*.opt (= torch 1.13's
# arguments; beta1/beta2 are torch's betas). SGD's lr is required in torch 1.13; 1e-3 is torch 2.x's.
HYPERS = {
    "sgd": dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, amsgrad=False, maximize=False),
    "adamw": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False,
                  maximize=False),
    "adagrad": dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                    maximize=False),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                    maximize=False),
    "nadam": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, momentum_decay=4e-3),
    "radam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0),
    "adamax": dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, maximize=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False),
    "lion": dict(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0),
    "adan": dict(lr=1e-3, beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-8, weight_decay=0.0),
}
TORCH_CLASS = dict(sgd="SGD", adam="Adam", adamw="AdamW", adagrad="Adagrad", rmsprop="RMSprop", nadam="NAdam",
                   radam="RAdam", adamax="Adamax", adadelta="Adadelta")

# The committed cases: (name, optimizer, shape, seed, steps, hypers set explicitly). Together they set
# every flag both ways and every coefficient to a non-default value; lrs are large enough that a wrong
# formula shows.
CASES = [
    ("sgd_plain", "sgd", (7,), 11, 20, dict(lr=0.1)),
    ("sgd_momentum", "sgd", (3, 5), 12, 22, dict(lr=0.05, momentum=0.9, nesterov=False)),
    ("sgd_momentum_dampening_wd", "sgd", (2, 3, 5), 13, 24,
     dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("sgd_nesterov_maximize_wd", "sgd", (13, 11), 14, 25,
     dict(lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
    ("sgd_scalar_momentum", "sgd", (1,), 15, 21, dict(lr=0.1, momentum=0.5, maximize=False)),

    ("adam_basic", "adam", (7,), 21, 20, dict(lr=0.05)),
    ("adam_betas_eps_wd", "adam", (3, 5), 22, 23, dict(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)),
    ("adam_amsgrad", "adam", (2, 3, 5), 23, 25, dict(lr=0.03, amsgrad=True)),
    ("adam_maximize_amsgrad_wd", "adam", (13, 11), 24, 22,
     dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.05)),
    ("adam_scalar", "adam", (1,), 25, 20, dict(lr=0.1, amsgrad=False, maximize=False)),

    ("adamw_basic", "adamw", (7,), 31, 21, dict(lr=0.05)),
    ("adamw_wd_amsgrad", "adamw", (3, 5), 32, 24, dict(lr=0.03, weight_decay=0.1, amsgrad=True)),
    ("adamw_maximize_betas_eps", "adamw", (4, 1, 9), 33, 25,
     dict(lr=0.02, beta1=0.85, beta2=0.95, eps=1e-7, maximize=True)),
    ("adamw_no_decay_scalar", "adamw", (1,), 34, 20, dict(lr=0.1, weight_decay=0.0)),

    ("adagrad_basic", "adagrad", (7,), 41, 20, dict(lr=0.1)),
    ("adagrad_lr_decay", "adagrad", (3, 5), 42, 23, dict(lr=0.1, lr_decay=0.05)),
    ("adagrad_init_acc_wd_eps", "adagrad", (2, 3, 5), 43, 25,
     dict(lr=0.2, initial_accumulator_value=0.1, weight_decay=0.05, eps=1e-8)),
    ("adagrad_maximize_lr_decay", "adagrad", (13, 11), 44, 22, dict(lr=0.05, lr_decay=0.01, maximize=True)),

    ("rmsprop_basic", "rmsprop", (7,), 51, 20, dict(lr=0.01)),
    ("rmsprop_centered_alpha", "rmsprop", (3, 5), 52, 24, dict(lr=0.01, centered=True, alpha=0.9)),
    ("rmsprop_momentum_wd", "rmsprop", (2, 3, 5), 53, 22, dict(lr=0.005, momentum=0.9, weight_decay=0.05)),
    ("rmsprop_centered_momentum_maximize_eps", "rmsprop", (13, 11), 54, 25,
     dict(lr=0.01, centered=True, momentum=0.5, maximize=True, eps=1e-6)),
    ("rmsprop_scalar", "rmsprop", (1,), 55, 21, dict(lr=0.02, centered=False, maximize=False)),

    ("nadam_basic", "nadam", (7,), 61, 20, dict(lr=0.02)),
    ("nadam_wd_momentum_decay", "nadam", (3, 5), 62, 23, dict(lr=0.02, weight_decay=0.05, momentum_decay=0.01)),
    ("nadam_betas_eps", "nadam", (4, 1, 9), 63, 25, dict(lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6)),
    ("nadam_scalar", "nadam", (1,), 64, 21, dict(lr=0.05)),

    ("radam_basic", "radam", (7,), 71, 20, dict(lr=0.05)),
    ("radam_wd", "radam", (3, 5), 72, 24, dict(lr=0.03, weight_decay=0.05)),
    ("radam_betas_eps", "radam", (13, 11), 73, 25, dict(lr=0.02, beta1=0.8, beta2=0.95, eps=1e-6)),
    ("radam_scalar", "radam", (1,), 74, 22, dict(lr=0.1)),

    ("adamax_basic", "adamax", (7,), 81, 20, dict(lr=0.05)),
    ("adamax_wd_eps", "adamax", (3, 5), 82, 23, dict(lr=0.05, weight_decay=0.05, eps=1e-3)),
    ("adamax_maximize_betas", "adamax", (2, 3, 5), 83, 25, dict(lr=0.03, beta1=0.8, beta2=0.95, maximize=True)),
    ("adamax_scalar", "adamax", (1,), 84, 21, dict(lr=0.1, maximize=False)),

    ("adadelta_basic", "adadelta", (7,), 91, 20, dict()),
    ("adadelta_rho_eps_wd", "adadelta", (3, 5), 92, 24, dict(lr=2.0, rho=0.7, eps=1e-4, weight_decay=0.05)),
    ("adadelta_maximize", "adadelta", (13, 11), 93, 25, dict(lr=5.0, maximize=True)),
    ("adadelta_scalar", "adadelta", (1,), 94, 22, dict(lr=3.0, eps=1e-3, maximize=False)),

    ("lion_basic", "lion", (7,), 101, 20, dict(lr=0.01)),
    ("lion_wd", "lion", (3, 5), 102, 24, dict(lr=0.01, weight_decay=0.1)),
    ("lion_betas_wd", "lion", (2, 3, 5), 103, 25, dict(lr=0.003, beta1=0.95, beta2=0.98, weight_decay=0.5)),
    ("lion_defaults_scalar", "lion", (1,), 104, 21, dict()),

    ("adan_basic", "adan", (7,), 111, 20, dict(lr=0.01)),
    ("adan_wd", "adan", (3, 5), 112, 23, dict(lr=0.02, weight_decay=0.05)),
    ("adan_betas_eps_wd", "adan", (13, 11), 113, 25,
     dict(lr=0.01, beta1=0.9, beta2=0.9, beta3=0.999, eps=1e-6, weight_decay=0.02)),
    ("adan_odd_shape", "adan", (4, 1, 9), 114, 22, dict(lr=0.05)),
    ("adan_defaults_scalar", "adan", (1,), 115, 21, dict()),
]


# ---------------------------------------------------------------------------------------------- inputs

def make_inputs(shape, steps, seed):
    """float32 params (shape) and grads (steps, *shape): normal values, a random scale per step and per
    element, exact zeros sprinkled in, one coordinate that never gets a gradient and one whose first
    gradient is zero."""
    rng = np.random.default_rng(seed)
    params = rng.standard_normal(shape)
    step_scale = np.exp(rng.uniform(math.log(0.05), math.log(3.0), size=steps))
    elem_scale = np.exp(rng.uniform(-1.0, 1.0, size=shape))
    grads = rng.standard_normal((steps,) + tuple(shape)) * elem_scale
    grads *= step_scale.reshape((steps,) + (1,) * len(shape))
    grads[rng.random(grads.shape) < 0.1] = 0.0
    flat = grads.reshape(steps, -1)  # a view
    if flat.shape[1] > 1:
        flat[:, 0] = 0.0
        flat[0, 1] = 0.0
    return params.astype(np.float32), grads.astype(np.float32)


# ----------------------------------------------------------------------------------------------- torch

def run_torch(opt, hypers, params, grads, dtype):
    """Runs torch.optim (single-tensor path) over the grads; returns the final params in `dtype`. The
    default dtype follows `dtype`, so that state torch creates with torch.tensor(...) (NAdam's
    mu_product) is float64 in the float64 run: expected_f64 is then a true f64 trajectory."""
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    cls = getattr(torch.optim, TORCH_CLASS[opt])
    kwargs = {k: v for k, v in hypers.items() if k not in ("beta1", "beta2")}
    if "beta1" in hypers or "beta2" in hypers:
        d = HYPERS[opt]
        kwargs["betas"] = (hypers.get("beta1", d["beta1"]), hypers.get("beta2", d["beta2"]))
    if opt == "sgd" and "lr" not in kwargs:
        kwargs["lr"] = HYPERS["sgd"]["lr"]
    if "foreach" in inspect.signature(cls.__init__).parameters:
        kwargs["foreach"] = False
    old = torch.get_default_dtype()
    torch.set_default_dtype(tdtype)
    try:
        p = torch.nn.Parameter(torch.from_numpy(params.astype(dtype)))
        optimizer = cls([p], **kwargs)
        for k in range(grads.shape[0]):
            p.grad = torch.from_numpy(grads[k].astype(dtype))
            optimizer.step()
        return p.detach().numpy().astype(dtype)
    finally:
        torch.set_default_dtype(old)


# ----------------------------------------------------------------------------------------------- numpy
# Lion and Adan are not in torch 1.13. Arrays stay in `dtype`; per-step scalars are computed in Python
# doubles and rounded once, the way torch passes its Python-float step sizes to a float32 kernel.

def run_lion(hypers, params, grads, dtype):
    """Chen et al. 2023, Algorithm 2 (decoupled weight decay, as in lion.opt)."""
    h = dict(HYPERS["lion"], **hypers)
    c = lambda x: dtype(x)  # noqa: E731
    lr, b1, b2, wd = c(h["lr"]), c(h["beta1"]), c(h["beta2"]), c(h["weight_decay"])
    w = params.astype(dtype)
    m = np.zeros_like(w)
    for g in grads.astype(dtype):
        u = np.sign(b1 * m + c(1 - h["beta1"]) * g)
        w = w - lr * (u + wd * w)
        m = b2 * m + c(1 - h["beta2"]) * g
    return w


def run_adan(hypers, params, grads, dtype):
    """Xie et al. 2022, Algorithm 1 in the official implementation's form (sail-sg/Adan,
    _single_tensor_adan, no_prox=False): betas are one minus the paper's, all moments are bias-corrected,
    the gradient difference is zero on the first step, weight decay is the proximal division."""
    h = dict(HYPERS["adan"], **hypers)
    c = lambda x: dtype(x)  # noqa: E731
    lr, b1, b2, b3, wd, eps = h["lr"], h["beta1"], h["beta2"], h["beta3"], h["weight_decay"], h["eps"]
    w = params.astype(dtype)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    n = np.zeros_like(w)
    prev = None
    for k, g in enumerate(grads.astype(dtype), start=1):
        diff = np.zeros_like(g) if prev is None else g - prev
        m = c(b1) * m + c(1 - b1) * g
        v = c(b2) * v + c(1 - b2) * diff
        nest = c(b2) * diff + g
        n = c(b3) * n + c(1 - b3) * nest * nest
        denom = np.sqrt(n) / c(math.sqrt(1 - b3 ** k)) + c(eps)
        w = w - c(lr / (1 - b1 ** k)) * m / denom
        w = w - c(lr * b2 / (1 - b2 ** k)) * v / denom
        w = w / c(1 + lr * wd)
        prev = g
    return w


NUMPY_RUNNERS = dict(lion=run_lion, adan=run_adan)


def run(opt, hypers, params, grads, dtype):
    if opt in NUMPY_RUNNERS:
        return NUMPY_RUNNERS[opt](hypers, params, grads, dtype)
    return run_torch(opt, hypers, params, grads, dtype)


# ---------------------------------------------------------------------------------------------- output

def fmt(value):
    """A hyper value as case.properties (and `optc simulate --set`) spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def parse_value(text):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return float(text)


def check_hypers(opt, hypers):
    if opt not in HYPERS:
        raise SystemExit(f"unknown optimizer '{opt}' (known: {', '.join(HYPERS)})")
    for k in hypers:
        if k not in HYPERS[opt]:
            raise SystemExit(f"{opt} has no hyper '{k}' (has: {', '.join(HYPERS[opt])})")


def write_case(directory, opt, shape, seed, steps, hypers):
    """Writes one case into `directory`; returns (params, grads, expected_f32, expected_f64)."""
    check_hypers(opt, hypers)
    params, grads = make_inputs(tuple(shape), steps, seed)
    f32 = run(opt, hypers, params, grads, np.float32)
    f64 = run(opt, hypers, params, grads, np.float64)
    os.makedirs(directory, exist_ok=True)
    lines = ["# generated by tools/golden/make_golden.py: do not edit, regenerate",
             f"optimizer={opt}", f"steps={steps}", f"seed={seed}",
             f"source={'numpy' if opt in NUMPY_RUNNERS else 'torch'}"]
    lines += [f"hyper.{k}={fmt(v)}" for k, v in hypers.items()]
    with open(os.path.join(directory, "case.properties"), "w") as f:
        f.write("\n".join(lines) + "\n")
    np.save(os.path.join(directory, "params.npy"), params)
    np.save(os.path.join(directory, "grads.npy"), grads)
    np.save(os.path.join(directory, "expected_f32.npy"), f32.astype(np.float32))
    np.save(os.path.join(directory, "expected_f64.npy"), f64.astype(np.float64))
    return params, grads, f32, f64


def report(name, params, f32, f64):
    d32 = float(np.max(np.abs(f32.astype(np.float64) - f64)))
    moved = float(np.max(np.abs(f64 - params.astype(np.float64))))
    flag = "" if 0 < d32 < 1e-4 * max(1.0, moved) else "   <-- check"
    print(f"{name:42s} max|f32-f64| = {d32:.3e}   max|moved| = {moved:.3e}{flag}")
    return d32


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output folder (default: runtime/src/test/resources/conformance; "
                                  "with --optimizer: the case folder itself)")
    ap.add_argument("--optimizer", help="generate ONE fresh case for this optimizer")
    ap.add_argument("--shape", default="6,7", help="comma-separated, e.g. 6,7 (one case only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a hyper (repeatable)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    if args.optimizer:
        if not args.out:
            ap.error("--optimizer needs --out DIR")
        hypers = {}
        for item in args.set:
            k, _, v = item.partition("=")
            hypers[k.strip()] = parse_value(v.strip())
        shape = tuple(int(s) for s in args.shape.split(",") if s.strip())
        params, _, f32, f64 = write_case(args.out, args.optimizer, shape, args.seed, args.steps, hypers)
        report(os.path.basename(os.path.normpath(args.out)), params, f32, f64)
        return 0

    out = args.out or DEFAULT_OUT
    os.makedirs(out, exist_ok=True)
    for entry in os.listdir(out):  # idempotent: drop every earlier case, keep anything else
        path = os.path.join(out, entry)
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "case.properties")):
            shutil.rmtree(path)
    for name, opt, shape, seed, steps, hypers in CASES:
        params, _, f32, f64 = write_case(os.path.join(out, name), opt, shape, seed, steps, hypers)
        report(name, params, f32, f64)
    print(f"{len(CASES)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
