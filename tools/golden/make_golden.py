#!/usr/bin/python3
"""Golden vectors for optc's conformance tests: torch.optim 1.13 (and NumPy for Lion and Adan), and
multi-tensor group cases for LARS, LAMB, Adafactor (NumPy, the published formulas) and AdamW with global
gradient-norm clipping (torch 1.13).

Run with Debian's python (torch 1.13, numpy 1.24), from anywhere:

    /usr/bin/python3 tools/golden/make_golden.py                  # rewrite every committed case
    /usr/bin/python3 tools/golden/make_golden.py --out DIR        # ... into another folder (groups: DIR/groups)
    /usr/bin/python3 tools/golden/make_golden.py --only groups    # only the group cases
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
DEFAULT_GROUPS_OUT = os.path.join(REPO, "runtime", "src", "test", "resources", "conformance-groups")

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
    # Group optimizers (GROUP_CASES): per-tensor trust ratios and norms, or a norm over the whole group.
    "lars": dict(lr=1.0, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001, eps=0.0),
    "lamb": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.01),
    "adafactor": dict(lr=1e-2, beta2_decay=-0.8, eps1=1.1920928955078125e-07, eps2=1e-3, d=1.0,
                      weight_decay=0.0, maximize=False),
    "adamw_clip": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, maximize=False,
                       max_norm=1.0),
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

# Group cases (conformance-groups/): optimizers whose update reads whole tensors (trust ratios, factored
# moments: one value per tensor) or the whole group (the global gradient norm), so each case is a
# parameter group of several tensors. (name, optimizer, seed, steps, tensors, hypers set explicitly); a
# tensor is (shape, special): special "zero_weights" starts at w = 0 (the trust-ratio guards), and
# "zero_grads" gets a zero gradient on every step.
ZW, ZG = "zero_weights", "zero_grads"
GROUP_CASES = [
    ("lars_single_matrix", "lars", 401, 20, [((13, 11), "")], dict(lr=1.0, trust_coefficient=0.02)),
    ("lars_group_wd", "lars", 402, 22, [((7,), ""), ((3, 5), ""), ((2, 3, 4, 5), ""), ((6, 4), ZW)],
     dict(lr=0.5, trust_coefficient=0.02, weight_decay=0.01)),
    ("lars_zero_grad_momentum_eps", "lars", 403, 21, [((5, 7), ZG), ((11,), ""), ((3, 1, 2, 5), "")],
     dict(lr=2.0, momentum=0.5, trust_coefficient=0.01, weight_decay=0.05, eps=0.1)),
    ("lars_defaults", "lars", 404, 20, [((9, 4), ""), ((1,), ""), ((2, 2, 3, 3), ""), ((5,), ZW), ((4, 6), "")],
     dict()),

    ("lamb_single_matrix", "lamb", 411, 20, [((13, 11), "")], dict(lr=0.02)),
    ("lamb_group_wd", "lamb", 412, 23, [((7,), ""), ((3, 5), ""), ((2, 3, 4, 5), ""), ((6, 4), ZW), ((), "")],
     dict(lr=0.01, weight_decay=0.1)),
    ("lamb_no_decay_zero_grad_betas_eps", "lamb", 413, 22,
     [((5, 7), ZG), ((6,), ZW), ((3, 1, 2, 5), ""), ((1,), "")],
     dict(lr=0.05, weight_decay=0.0, beta1=0.8, beta2=0.99, eps=1e-8)),
    ("lamb_defaults_zero_grad", "lamb", 414, 20, [((4, 5), ZG), ((9,), ""), ((2, 3, 1, 4), "")], dict()),

    ("adafactor_single_matrix", "adafactor", 421, 20, [((13, 11), "")], dict(lr=0.05)),
    ("adafactor_group", "adafactor", 422, 24,
     [((7,), ""), ((1,), ""), ((5, 9), ""), ((2, 3, 4, 5), ""), ((6, 4), ZW)], dict(lr=0.3)),
    ("adafactor_maximize_wd_d_decay", "adafactor", 423, 22, [((3, 5), ""), ((11,), ""), ((2, 1, 3, 4), "")],
     dict(lr=0.05, maximize=True, weight_decay=0.1, d=1.5, beta2_decay=-0.6, eps2=1e-2)),
    ("adafactor_defaults_zero_grad_eps", "adafactor", 424, 20,
     [((4, 6), ZG), ((8,), ""), ((3, 3, 2, 2), ""), ((5, 3), ZW)], dict(eps1=1e-3, eps2=1e-2)),

    ("adamw_clip_single_active", "adamw_clip", 431, 20, [((13, 11), "")], dict(lr=0.02, max_norm=0.5)),
    ("adamw_clip_group_mixed", "adamw_clip", 432, 24, [((7,), ""), ((3, 5), ""), ((2, 3, 4, 5), ""), ((6, 4), ZG)],
     dict(lr=0.01, max_norm=8.0)),
    ("adamw_clip_inactive_maximize_wd", "adamw_clip", 433, 22, [((5, 7), ""), ((11,), ""), ((3, 1, 2, 5), "")],
     dict(lr=0.01, max_norm=1000.0, maximize=True, weight_decay=0.1)),
    ("adamw_clip_betas_eps_no_decay", "adamw_clip", 434, 21,
     [((9, 4), ""), ((1,), ""), ((2, 2, 3, 3), ""), ((5,), ZW), ((4, 6), "")],
     dict(lr=0.03, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=0.0, max_norm=2.0)),
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


def make_group_inputs(tensors, steps, seed):
    """make_inputs for each tensor of a group (seed*100 + index), with the specials applied."""
    params, grads = [], []
    for i, (shape, special) in enumerate(tensors):
        p, g = make_inputs(tuple(shape), steps, seed * 100 + i)
        if special == ZW:
            p[...] = 0.0
        elif special == ZG:
            g[...] = 0.0
        elif special:
            raise ValueError(f"unknown special '{special}'")
        params.append(p)
        grads.append(g)
    return params, grads


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


# ----------------------------------------------------------------------------------------- group runners
# Each takes lists (one entry per tensor of the group: params of shape S_i, grads of shape (T, *S_i)) and
# returns the list of final params. Arrays stay in `dtype`; per-tensor scalars (norms, trust ratios) are
# `dtype` scalars, as a framework computes them with tensor ops; hyper-only scalars are Python doubles
# rounded once, as above. Norms: sqrt(sum(x*x)) in `dtype`.

def _norm(x, dtype):
    return dtype(np.sqrt(np.sum(x * x, dtype=dtype)))


def run_lars(hypers, params, grads, dtype):
    """You, Gitman & Ginsburg 2017, Algorithm 1, per tensor: local_lr = trust_coefficient * ||w|| /
    (||g|| + weight_decay * ||w|| + eps), 1 when ||w|| = 0 or ||g|| = 0; v = momentum * v + lr * local_lr *
    (g + weight_decay * w); w -= v."""
    h = dict(HYPERS["lars"], **hypers)
    c = dtype
    lr, mom, wd, tc, eps = c(h["lr"]), c(h["momentum"]), c(h["weight_decay"]), c(h["trust_coefficient"]), c(h["eps"])
    ws = [p.astype(dtype) for p in params]
    vs = [np.zeros_like(w) for w in ws]
    for k in range(grads[0].shape[0]):
        for i, w in enumerate(ws):
            g = grads[i][k].astype(dtype)
            wn, gn = _norm(w, dtype), _norm(g, dtype)
            local_lr = tc * wn / (gn + wd * wn + eps) if wn > 0 and gn > 0 else c(1)
            vs[i] = mom * vs[i] + (lr * local_lr) * (g + wd * w)
            ws[i] = w - vs[i]
    return ws


def run_lamb(hypers, params, grads, dtype):
    """You et al. 2019, Algorithm 2 (phi = identity), per tensor: Adam moments with bias correction,
    r = m_hat / (sqrt(v_hat) + eps) + weight_decay * w, w -= lr * ||w|| / ||r|| * r, the ratio 1 when
    ||w|| = 0 or ||r|| = 0."""
    h = dict(HYPERS["lamb"], **hypers)
    c = dtype
    lr, b1, b2, eps, wd = h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
    ws = [p.astype(dtype) for p in params]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    for k in range(1, grads[0].shape[0] + 1):
        for i, w in enumerate(ws):
            g = grads[i][k - 1].astype(dtype)
            ms[i] = c(b1) * ms[i] + c(1 - b1) * g
            vs[i] = c(b2) * vs[i] + c(1 - b2) * g * g
            r = ms[i] / c(1 - b1 ** k) / (np.sqrt(vs[i] / c(1 - b2 ** k)) + c(eps)) + c(wd) * w
            wn, rn = _norm(w, dtype), _norm(r, dtype)
            trust = wn / rn if wn > 0 and rn > 0 else c(1)
            ws[i] = w - (c(lr) * trust) * r
    return ws


def matrix_view(shape):
    """optc's matrix view (DSL.md section 5): rows = d0*...*d(k-1), cols = dk; 1-D is 1 x n, () is 1 x 1."""
    cols = shape[-1] if len(shape) else 1
    return (int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1), cols


def run_adafactor(hypers, params, grads, dtype):
    """torch 2.x's Adafactor (torch 2.5 docs / _single_tensor_adafactor), with optc's matrix-view
    factoring for every tensor (torch factors the last two dims per leading index and keeps an unfactored
    variance for 1-D tensors; optc's 1 x n view gives that variance up to rounding):
    rho = min(lr, 1/sqrt(t)); alpha = max(eps2, RMS(w)) * rho (w before the decay); w *= 1 - lr*wd;
    r, c = lerp toward row/col means of g^2 with weight t^beta2_decay; var = r c / max(mean(r), eps1);
    u = g * rsqrt(max(var, eps1^2)); w -= alpha / max(1, RMS(u) / d) * u."""
    h = dict(HYPERS["adafactor"], **hypers)
    c = dtype
    lr, decay, eps1, eps2, d, wd = h["lr"], h["beta2_decay"], h["eps1"], h["eps2"], h["d"], h["weight_decay"]
    ws = [p.astype(dtype).reshape(matrix_view(p.shape)) for p in params]
    rs = [np.zeros(w.shape[0], dtype) for w in ws]
    cs = [np.zeros(w.shape[1], dtype) for w in ws]
    for k in range(1, grads[0].shape[0] + 1):
        for i, w in enumerate(ws):
            g = grads[i][k - 1].astype(dtype).reshape(w.shape)
            if h["maximize"]:
                g = -g
            rho = min(lr, 1 / math.sqrt(k))
            alpha = max(eps2, float(_norm(w, dtype)) / math.sqrt(w.size)) * rho
            w = w * c(1 - lr * wd)
            weight = c(k ** decay)  # 1 - beta2_t
            g2 = g * g
            rs[i] = rs[i] + weight * (np.mean(g2, axis=1, dtype=dtype) - rs[i])
            cs[i] = cs[i] + weight * (np.mean(g2, axis=0, dtype=dtype) - cs[i])
            var = rs[i][:, None] * cs[i][None, :] / np.maximum(np.mean(rs[i], dtype=dtype), c(eps1))
            u = g * (c(1) / np.sqrt(np.maximum(var, c(eps1 * eps1))))
            denom = max(1.0, float(_norm(u, dtype)) / math.sqrt(u.size) / d)
            ws[i] = w - c(alpha / denom) * u
    return [w.reshape(p.shape) for w, p in zip(ws, params)]


def run_adamw_clip(hypers, params, grads, dtype):
    """torch 1.13: torch.nn.utils.clip_grad_norm_(group, max_norm) on the gradients, then
    torch.optim.AdamW (single-tensor path, amsgrad off) over the group."""
    h = dict(HYPERS["adamw_clip"], **hypers)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    old = torch.get_default_dtype()
    torch.set_default_dtype(tdtype)
    try:
        ps = [torch.nn.Parameter(torch.from_numpy(p.astype(dtype))) for p in params]
        optimizer = torch.optim.AdamW(ps, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                                      weight_decay=h["weight_decay"], amsgrad=False, maximize=h["maximize"],
                                      foreach=False)
        for k in range(grads[0].shape[0]):
            for p, g in zip(ps, grads):
                p.grad = torch.from_numpy(g[k].astype(dtype))  # a copy: clipping scales it in place
            torch.nn.utils.clip_grad_norm_(ps, h["max_norm"])
            optimizer.step()
        return [p.detach().numpy().astype(dtype) for p in ps]
    finally:
        torch.set_default_dtype(old)


GROUP_RUNNERS = dict(lars=run_lars, lamb=run_lamb, adafactor=run_adafactor, adamw_clip=run_adamw_clip)
GROUP_SOURCE = dict(lars="numpy", lamb="numpy", adafactor="numpy", adamw_clip="torch")


def run_group(opt, hypers, params, grads, dtype):
    return GROUP_RUNNERS[opt](hypers, params, grads, dtype)


NUMPY_RUNNERS = dict(lion=run_lion, adan=run_adan)


def run(opt, hypers, params, grads, dtype):
    if opt in GROUP_RUNNERS:  # one tensor: a group of one
        return run_group(opt, hypers, [params], [grads], dtype)[0]
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
             f"source={GROUP_SOURCE.get(opt, 'numpy' if opt in NUMPY_RUNNERS else 'torch')}"]
    lines += [f"hyper.{k}={fmt(v)}" for k, v in hypers.items()]
    with open(os.path.join(directory, "case.properties"), "w") as f:
        f.write("\n".join(lines) + "\n")
    np.save(os.path.join(directory, "params.npy"), params)
    np.save(os.path.join(directory, "grads.npy"), grads)
    np.save(os.path.join(directory, "expected_f32.npy"), f32.astype(np.float32))
    np.save(os.path.join(directory, "expected_f64.npy"), f64.astype(np.float64))
    return params, grads, f32, f64


def write_group_case(directory, opt, seed, steps, tensors, hypers):
    """Writes one group case into `directory`: case.properties with tensors=N, and per tensor i
    params_i.npy, grads_i.npy, expected_f32_i.npy, expected_f64_i.npy. Returns (params, grads, f32, f64),
    lists over the tensors."""
    check_hypers(opt, hypers)
    params, grads = make_group_inputs(tensors, steps, seed)
    f32 = run_group(opt, hypers, params, grads, np.float32)
    f64 = run_group(opt, hypers, params, grads, np.float64)
    os.makedirs(directory, exist_ok=True)
    lines = ["# generated by tools/golden/make_golden.py: do not edit, regenerate",
             f"optimizer={opt}", f"steps={steps}", f"seed={seed}", f"source={GROUP_SOURCE[opt]}",
             f"tensors={len(tensors)}"]
    lines += [f"hyper.{k}={fmt(v)}" for k, v in hypers.items()]
    lines += [f"# tensor {i}: shape {tuple(shape)}{', ' + special if special else ''}"
              for i, (shape, special) in enumerate(tensors)]
    with open(os.path.join(directory, "case.properties"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for i in range(len(tensors)):
        np.save(os.path.join(directory, f"params_{i}.npy"), params[i])
        np.save(os.path.join(directory, f"grads_{i}.npy"), grads[i])
        np.save(os.path.join(directory, f"expected_f32_{i}.npy"), f32[i].astype(np.float32))
        np.save(os.path.join(directory, f"expected_f64_{i}.npy"), f64[i].astype(np.float64))
    return params, grads, f32, f64


def report_group(name, opt, hypers, params, grads, f32, f64):
    """One line per tensor, like report(); for adamw_clip also how many steps clipping was active."""
    for i in range(len(params)):
        report(f"{name}[{i}] {tuple(params[i].shape)}", params[i], f32[i], f64[i])
    if opt == "adafactor":  # how often update clipping max(1, RMS(U)/d) is active (it depends on g only)
        h = dict(HYPERS[opt], **hypers)
        active = total = 0
        for g in grads:
            g = g.astype(np.float64).reshape((g.shape[0],) + matrix_view(g.shape[1:]))
            r, c = np.zeros(g.shape[1]), np.zeros(g.shape[2])
            for k in range(1, g.shape[0] + 1):
                g2 = g[k - 1] ** 2
                r += k ** h["beta2_decay"] * (g2.mean(axis=1) - r)
                c += k ** h["beta2_decay"] * (g2.mean(axis=0) - c)
                var = np.maximum(r[:, None] * c[None, :] / max(r.mean(), h["eps1"]), h["eps1"] ** 2)
                active += math.sqrt(np.mean(g2 / var)) / h["d"] > 1
                total += 1
        print(f"{'':42s} update clipping active on {active}/{total} tensor-steps (d {h['d']})")
    if opt == "adamw_clip":
        max_norm = dict(HYPERS[opt], **hypers)["max_norm"]
        norms = np.sqrt(sum(np.sum(g.astype(np.float64).reshape(g.shape[0], -1) ** 2, axis=1) for g in grads))
        clipped = int(np.sum(max_norm / (norms + 1e-6) < 1))
        print(f"{'':42s} clipping active on {clipped}/{len(norms)} steps "
              f"(global grad norm {norms.min():.3g} .. {norms.max():.3g}, max_norm {max_norm})")


def report(name, params, f32, f64):
    d32 = float(np.max(np.abs(f32.astype(np.float64) - f64)))
    moved = float(np.max(np.abs(f64 - params.astype(np.float64))))
    flag = "" if 0 < d32 < 1e-4 * max(1.0, moved) else "   <-- check"
    print(f"{name:42s} max|f32-f64| = {d32:.3e}   max|moved| = {moved:.3e}{flag}")
    return d32


def clear_cases(out):
    """Idempotence: drops every earlier case folder (one holding a case.properties), keeps anything else."""
    os.makedirs(out, exist_ok=True)
    for entry in os.listdir(out):
        path = os.path.join(out, entry)
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "case.properties")):
            shutil.rmtree(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output folder (default: runtime/src/test/resources/conformance; "
                                  "with --optimizer: the case folder itself)")
    ap.add_argument("--groups-out", help="output folder of the group cases (default: "
                                         "runtime/src/test/resources/conformance-groups; with --out: OUT/groups)")
    ap.add_argument("--only", choices=("single", "groups"), help="write only the single-tensor or the group cases")
    ap.add_argument("--optimizer", help="generate ONE fresh case for this optimizer (a group optimizer gets a "
                                        "group of one tensor, in the single-tensor format)")
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

    if args.only != "groups":
        out = args.out or DEFAULT_OUT
        clear_cases(out)
        for name, opt, shape, seed, steps, hypers in CASES:
            params, _, f32, f64 = write_case(os.path.join(out, name), opt, shape, seed, steps, hypers)
            report(name, params, f32, f64)
        print(f"{len(CASES)} cases in {out}")
    if args.only != "single":
        groups_out = args.groups_out or (os.path.join(args.out, "groups") if args.out else DEFAULT_GROUPS_OUT)
        clear_cases(groups_out)
        for name, opt, seed, steps, tensors, hypers in GROUP_CASES:
            params, grads, f32, f64 = write_group_case(os.path.join(groups_out, name), opt, seed, steps, tensors,
                                                       hypers)
            report_group(name, opt, hypers, params, grads, f32, f64)
        print(f"{len(GROUP_CASES)} group cases in {groups_out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
