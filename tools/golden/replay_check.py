#!/usr/bin/python3
"""Replays a fresh golden case through `optc simulate` and checks it against torch (NumPy for Lion/Adan).

    /usr/bin/python3 tools/golden/replay_check.py --optimizer adam --shape 6,7 --seed 5 --steps 20 \
        --set lr=0.01 --set amsgrad=true
    /usr/bin/python3 tools/golden/replay_check.py --case runtime/src/test/resources/conformance/adam_amsgrad
    /usr/bin/python3 tools/golden/replay_check.py --all          # a built-in list, one config per flag

It runs, from the repository root,
    ./optc simulate NAME --params P.npy --grads G.npy --out OUT.npy [--set name=value]...
and passes when  max|optc - f64| <= 10 * max|torch32 - f64| + 1e-6. Exit status 1 on any FAIL.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as mg  # noqa: E402

# Fresh configs for --all: one per flag, shapes and seeds that make_golden's committed cases do not use.
ALL = [
    ("sgd", (6, 7), 201, 21, dict(lr=0.05)),
    ("sgd", (5,), 202, 20, dict(lr=0.05, momentum=0.9)),
    ("sgd", (3, 4), 203, 23, dict(lr=0.05, momentum=0.7, dampening=0.4)),
    ("sgd", (2, 9), 204, 22, dict(lr=0.02, momentum=0.9, nesterov=True)),
    ("sgd", (8, 3), 205, 20, dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("adam", (6, 7), 211, 21, dict(lr=0.03)),
    ("adam", (5, 2, 3), 212, 22, dict(lr=0.03, amsgrad=True)),
    ("adam", (11,), 213, 20, dict(lr=0.03, maximize=True)),
    ("adam", (3, 3), 214, 24, dict(lr=0.02, weight_decay=0.1, beta1=0.7, beta2=0.9, eps=1e-5)),
    ("adamw", (6, 7), 221, 21, dict(lr=0.03)),
    ("adamw", (2, 2, 2), 222, 20, dict(lr=0.03, weight_decay=0.2, amsgrad=True, maximize=True)),
    ("adamw", (9,), 223, 23, dict(lr=0.02, beta1=0.7, beta2=0.9, eps=1e-5)),
    ("adagrad", (6, 7), 231, 21, dict(lr=0.1)),
    ("adagrad", (10,), 232, 20, dict(lr=0.1, lr_decay=0.1)),
    ("adagrad", (3, 1, 4), 233, 22, dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("adagrad", (4, 4), 234, 23, dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("rmsprop", (6, 7), 241, 21, dict(lr=0.01)),
    ("rmsprop", (12,), 242, 20, dict(lr=0.01, centered=True)),
    ("rmsprop", (2, 5), 243, 22, dict(lr=0.005, momentum=0.8)),
    ("rmsprop", (3, 2, 2), 244, 24, dict(lr=0.01, alpha=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("nadam", (6, 7), 251, 21, dict(lr=0.03)),
    ("nadam", (5, 3), 252, 22, dict(lr=0.03, momentum_decay=0.02, weight_decay=0.1)),
    ("nadam", (8,), 253, 20, dict(lr=0.03, beta1=0.7, beta2=0.9, eps=1e-5)),
    ("radam", (6, 7), 261, 21, dict(lr=0.05)),
    ("radam", (2, 7), 262, 23, dict(lr=0.05, weight_decay=0.1)),
    ("radam", (10,), 263, 20, dict(lr=0.05, beta1=0.7, beta2=0.9, eps=1e-5)),
    ("adamax", (6, 7), 271, 21, dict(lr=0.05)),
    ("adamax", (3, 5, 1), 272, 22, dict(lr=0.05, weight_decay=0.1, eps=1e-2)),
    ("adamax", (9,), 273, 20, dict(lr=0.05, beta1=0.7, beta2=0.9, maximize=True)),
    ("adadelta", (6, 7), 281, 21, dict()),
    ("adadelta", (4, 3), 282, 22, dict(lr=2.0, rho=0.5, eps=1e-4)),
    ("adadelta", (7, 1), 283, 20, dict(lr=3.0, weight_decay=0.1, maximize=True)),
    ("lion", (6, 7), 291, 21, dict(lr=0.01)),
    ("lion", (5, 5), 292, 22, dict(lr=0.01, beta1=0.8, beta2=0.95, weight_decay=0.2)),
    ("adan", (6, 7), 301, 21, dict(lr=0.02)),
    ("adan", (3, 2, 4), 302, 23, dict(lr=0.02, beta1=0.9, beta2=0.85, beta3=0.95, eps=1e-5, weight_decay=0.1)),
]


def read_case(directory):
    props = {}
    with open(os.path.join(directory, "case.properties")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                props[k.strip()] = v.strip()
    hypers = {k[len("hyper."):]: mg.parse_value(v) for k, v in props.items() if k.startswith("hyper.")}
    return props["optimizer"], hypers


def check(directory, opt, hypers, optc):
    """Runs optc on the case in `directory`; returns (err_optc, err_torch32, passed, note)."""
    f32 = np.load(os.path.join(directory, "expected_f32.npy")).astype(np.float64)
    f64 = np.load(os.path.join(directory, "expected_f64.npy"))
    err_t32 = float(np.max(np.abs(f32 - f64)))
    with tempfile.TemporaryDirectory(prefix="optc-out-") as outdir:  # never write into a committed case
        out = os.path.join(outdir, "out.npy")
        cmd = shlex.split(optc) + ["simulate", opt,
                                   "--params", os.path.join(directory, "params.npy"),
                                   "--grads", os.path.join(directory, "grads.npy"),
                                   "--out", out]
        for k, v in hypers.items():
            cmd += ["--set", f"{k}={mg.fmt(v)}"]
        try:
            proc = subprocess.run(cmd, cwd=mg.REPO, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return float("nan"), err_t32, False, f"could not run {' '.join(cmd[:2])}: {e}"
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return float("nan"), err_t32, False, f"optc exit {proc.returncode}: " + " | ".join(tail)
        got = np.load(out)
    note = ""
    if got.shape != f64.shape:
        if got.size != f64.size:
            return float("nan"), err_t32, False, f"optc wrote shape {got.shape}, expected {f64.shape}"
        note = f"optc wrote shape {got.shape}, expected {f64.shape} (compared flat)"
        got = got.reshape(f64.shape)
    if got.dtype != np.float32:
        note = (note + "; " if note else "") + f"optc wrote {got.dtype}, expected float32"
    err = float(np.max(np.abs(got.astype(np.float64) - f64)))
    return err, err_t32, err <= 10 * err_t32 + 1e-6, note


def describe(hypers):
    return " ".join(f"{k}={mg.fmt(v)}" for k, v in hypers.items()) or "(defaults)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--optimizer")
    ap.add_argument("--shape", default="6,7")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--case", help="replay an existing case folder instead of making a fresh one")
    ap.add_argument("--all", action="store_true", help="run the built-in list of fresh configs")
    ap.add_argument("--optc", default="./optc", help="the optc command, run from the repo root (default ./optc)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary case folders")
    args = ap.parse_args(argv)
    mg.torch.set_num_threads(1)

    if args.case:
        opt, hypers = read_case(args.case)
        err, err_t32, ok, note = check(os.path.abspath(args.case), opt, hypers, args.optc)
        print(f"{opt} {describe(hypers)}  [{args.case}]")
        print(f"  max|optc - f64|    = {err:.3e}")
        print(f"  max|torch32 - f64| = {err_t32:.3e}   (bound {10 * err_t32 + 1e-6:.3e})")
        if note:
            print(f"  note: {note}")
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1

    if args.all:
        configs = ALL
    elif args.optimizer:
        hypers = {}
        for item in args.set:
            k, _, v = item.partition("=")
            hypers[k.strip()] = mg.parse_value(v.strip())
        shape = tuple(int(s) for s in args.shape.split(",") if s.strip())
        configs = [(args.optimizer, shape, args.seed, args.steps, hypers)]
    else:
        ap.error("give --optimizer NAME (with --shape/--seed/--steps/--set), --case DIR, or --all")

    tmp = tempfile.mkdtemp(prefix="optc-replay-")
    failures = 0
    rows = []
    for i, (opt, shape, seed, steps, hypers) in enumerate(configs):
        directory = os.path.join(tmp, f"{i:02d}_{opt}")
        mg.write_case(directory, opt, shape, seed, steps, hypers)
        err, err_t32, ok, note = check(directory, opt, hypers, args.optc)
        failures += not ok
        rows.append((opt, describe(hypers), "x".join(map(str, shape)), seed, steps, err, err_t32, ok, note))

    if len(rows) == 1 and not args.all:
        opt, desc, shape, seed, steps, err, err_t32, ok, note = rows[0]
        print(f"{opt} {desc}  shape={shape} seed={seed} steps={steps}")
        print(f"  max|optc - f64|    = {err:.3e}")
        print(f"  max|torch32 - f64| = {err_t32:.3e}   (bound {10 * err_t32 + 1e-6:.3e})")
        if note:
            print(f"  note: {note}")
        print("PASS" if ok else "FAIL")
    else:
        wd = max(len(r[1]) for r in rows)
        print(f"{'optimizer':9s} {'hypers':{wd}s} {'shape':7s} {'seed':>4s} {'T':>3s} "
              f"{'optc-f64':>9s} {'t32-f64':>9s} result")
        for opt, desc, shape, seed, steps, err, err_t32, ok, note in rows:
            print(f"{opt:9s} {desc:{wd}s} {shape:7s} {seed:4d} {steps:3d} {err:9.2e} {err_t32:9.2e} "
                  f"{'PASS' if ok else 'FAIL'}{'  ' + note if note else ''}")
        print(f"{len(rows) - failures}/{len(rows)} passed")
    if args.keep:
        print(f"cases kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
