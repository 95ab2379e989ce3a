#!/usr/bin/python3
"""The peer of `optc bench`: torch.optim on the CPU, timed the way optc's harness times itself.

For each optimizer, with foreach=False (a loop of per-tensor kernels) and foreach=True (multi-tensor
kernels), it times optimizer.step() over the same parameter shapes optc benchmarks (see Workload.java:
the same --size / --model / --tensors arguments build the same shapes), on the same number of threads,
with the same warm-up, repeats and median; and, as torch's own floor, dst.copy_(src) over a given number
of bytes per parameter (by default the least each optimizer must move; `optc bench --torch` passes optc's
fused bytes, so that both are judged against a copy of the same size). Prints one JSON object on stdout.

Run it with Debian's python3-torch (/usr/bin/python3; torch 1.13):
    /usr/bin/python3 bench/torch_bench.py adamw sgd --size 64M --threads 2 --repeats 5
"""

import argparse
import json
import math
import platform
import sys
import time

import torch

# optc library name -> (torch.optim class name, constructor arguments, the least bytes per parameter the
# algorithm must move with those arguments: each per-element buffer it reads once, each it writes once).
OPTIMIZERS = {
    "sgd": ("SGD", {"lr": 1e-3, "momentum": 0.9}, 20),  # read p g buf, write p buf
    "adam": ("Adam", {}, 28),  # read p g m v, write p m v
    "adamw": ("AdamW", {}, 28),
    "adagrad": ("Adagrad", {}, 20),  # read p g sum, write p sum
    "rmsprop": ("RMSprop", {}, 20),  # read p g sq, write p sq
    "nadam": ("NAdam", {}, 28),  # read p g m v, write p m v
    "radam": ("RAdam", {}, 28),
    "adamax": ("Adamax", {}, 28),
    "adadelta": ("Adadelta", {}, 28),  # read p g sq acc, write p sq acc
}

SMALL_TENSOR = 1024  # Workload.SMALL_TENSOR
SHIFT = 272  # Floors.SHIFT: 1088 bytes


def gpt2_small():
    d = 768
    shapes = [(50257, d), (1024, d)]
    for _ in range(12):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return shapes + [(d,), (d,)]


def parse_count(text):
    t = text.strip().upper().replace("_", "")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    return int(t[:-1] if mult > 1 else t) * mult


def shapes_of(args):
    if args.model:
        if args.model != "gpt2-small":
            sys.exit("torch_bench.py: unknown model '%s' (available: gpt2-small)" % args.model)
        return gpt2_small()
    if args.tensors:
        return [(SMALL_TENSOR,)] * args.tensors
    return [(parse_count(args.size),)]


def cpu_waited_us():
    """Microseconds some runnable task waited for a CPU (Linux PSI), or None (see Contention.java)."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_times():
    """(all jiffies, idle + iowait jiffies) of all CPUs, or None (see Contention.java)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)
    except (OSError, ValueError, IndexError):
        return None


def await_idle(deadline):
    """Waits (at most until `deadline`, time.monotonic()) until the CPUs are 90% idle over half a second."""
    while time.monotonic() < deadline:
        a = cpu_times()
        time.sleep(0.5)
        b = cpu_times()
        if a is None or b is None:
            return
        total, idle = b[0] - a[0], b[1] - a[1]
        if total <= 0 or idle >= 0.9 * total:
            return


PATIENCE_S = 120  # Harness.PATIENCE_S


def timed(fn, warmup, repeats, min_sample, max_cpu_wait):
    """Warm-up, then `repeats` samples of k calls each (k so a sample lasts about min_sample seconds): the
    seconds per call of each sample, k, the samples retaken because other work competed for the CPU, and the
    mean CPU wait of the kept ones. The same scheme as optc's Harness.measure."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    k = steps_per_sample(first, min_sample)
    for _ in range(warmup):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        first = (time.perf_counter() - t0) / k
    k = steps_per_sample(first, min_sample)
    samples, waits, retaken = [], [], 0
    patience = time.monotonic() + PATIENCE_S
    while len(samples) < repeats:
        w0 = cpu_waited_us()
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        t1 = time.perf_counter()
        w1 = cpu_waited_us()
        share = None if w0 is None or w1 is None else (w1 - w0) / ((t1 - t0) * 1e6)
        if share is not None and max_cpu_wait < 1 and share > max_cpu_wait and retaken < 3 * repeats:
            retaken += 1
            await_idle(patience)
            continue
        samples.append((t1 - t0) / k)
        waits.append(share)
    cpu_wait = None if any(w is None for w in waits) else sum(waits) / len(waits)
    return samples, k, retaken, cpu_wait


def steps_per_sample(seconds, min_sample):
    if seconds <= 0:
        return 10000
    return max(1, min(10000, math.ceil(min_sample / seconds)))


def report(args, label):
    if args.progress:
        print("progress: " + label, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("optimizers", nargs="*", default=["adamw"], help="optc library names (default adamw)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--size", default="64M", help="one flat tensor of N parameters (e.g. 16M, 64M)")
    group.add_argument("--model", help="gpt2-small: GPT-2 small's 148 parameter shapes")
    group.add_argument("--tensors", type=int, help="K tensors of %d parameters" % SMALL_TENSOR)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-sample", type=float, default=0.05, help="seconds a timed sample lasts at least")
    ap.add_argument("--max-cpu-wait", type=float, default=0.10,
                    help="retake a sample when runnable threads waited for a CPU more than this share of it")
    ap.add_argument("--foreach", default="False,True", help="which foreach settings to time")
    ap.add_argument("--progress", action="store_true",
                    help="print 'progress: LABEL' on stdout before each measurement (optc bench reads it)")
    ap.add_argument("--copy-bytes", default="",
                    help="NAME=B,... bytes per parameter of each optimizer's copy floor (default: the least "
                         "torch must move)")
    args = ap.parse_args()

    unknown = [o for o in args.optimizers if o not in OPTIMIZERS]
    torch.set_num_threads(args.threads)
    shapes = shapes_of(args)
    numel = sum(math.prod(s) for s in shapes)
    copy_bytes = {o: OPTIMIZERS[o][2] for o in args.optimizers if o in OPTIMIZERS}
    for item in filter(None, args.copy_bytes.split(",")):
        name, _, b = item.partition("=")
        copy_bytes[name] = int(b)
    foreach_values = [v.strip() == "True" for v in args.foreach.split(",") if v.strip()]

    gen = torch.Generator().manual_seed(0)
    rows = []
    copy_cache = {}
    for name in args.optimizers:
        if name not in OPTIMIZERS:
            continue
        b = copy_bytes[name]
        report(args, "%s copy" % name)
        if b not in copy_cache:
            # The copy moves b bytes per parameter: b/8 floats read and as many written. The destination is
            # shifted by SHIFT floats so that source and destination do not alias in the cache (Floors.SHIFT).
            n = max(1, numel * b // 8)
            src = torch.rand(n, generator=gen)
            dst = torch.empty(n + SHIFT)[SHIFT:]
            copy_cache[b] = timed(lambda: dst.copy_(src), args.warmup, args.repeats, args.min_sample,
                                  args.max_cpu_wait)
            del src, dst
        samples, k, retaken, wait = copy_cache[b]
        rows.append({"optimizer": name, "variant": "copy", "bytes_per_param": b, "seconds": samples,
                     "steps_per_sample": k, "retaken": retaken, "cpu_wait": wait})
        cls_name, kwargs, least = OPTIMIZERS[name]
        for foreach in foreach_values:
            report(args, "%s foreach=%s" % (name, foreach))
            params = [torch.nn.Parameter(torch.randn(s, generator=gen) * 0.02) for s in shapes]
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen) * 0.01
            opt = getattr(torch.optim, cls_name)(params, foreach=foreach, **kwargs)
            with torch.no_grad():
                samples, k, retaken, wait = timed(opt.step, args.warmup, args.repeats, args.min_sample,
                                                  args.max_cpu_wait)
            rows.append({"optimizer": name, "variant": "foreach=%s" % foreach, "bytes_per_param": least,
                         "seconds": samples, "steps_per_sample": k, "retaken": retaken, "cpu_wait": wait})
            del opt, params

    json.dump({
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "numel": numel,
        "tensors": len(shapes),
        "unsupported": unknown,
        "rows": rows,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
