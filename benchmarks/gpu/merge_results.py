#!/usr/bin/env python3
"""Merges one GPU benchmark run (benchmarks/gpu/run.sh) into results.json and results.md: optc bench's JSON
per workload, torch_gpu_bench.py's JSON, nvidia-smi's description of the GPU. Standard library only.

    python3 benchmarks/gpu/merge_results.py --torch torch.json --optc flat-256M=optc-flat-256M.json ... \\
        --gpu gpu.csv --out-json results.json --out-md results.md [--print]
    python3 benchmarks/gpu/merge_results.py --extract-shapes flat-256M=optc.json ...   # for --shapes-file

Every time is compared with the copy floor that torch_gpu_bench.py measured for the same workload and the
same bytes per parameter, so optc's and torch's rows share one floor. optc bench's own floor, if its JSON
has one, is kept beside it (optc_floor_ms).
"""
import argparse
import json
import os
import re
import sys

WORKLOADS = ["flat-16M", "flat-256M", "gpt2-small", "small-1000"]
OPTIMIZERS = ["adamw", "adam", "sgd", "lion", "adan", "lamb"]
OURS = ("lion", "adan", "lamb")
BYTES_PER_PARAM = dict(adam=28, adamw=28, sgd=20, lion=20, adan=44, lamb=40)
FUSION_LABEL = {"full": "optc %s fused (full)", "statement": "optc %s per statement", "probe": "optc %s probe (access pattern only)",
                "none": "optc %s unfused (none)"}
TORCH_LABEL = {"fused": "torch fused=True", "foreach": "torch foreach=True", "compile": "torch.compile(step)"}
OURS_LABEL = {"foreach": "torch foreach (ours)", "compile": "torch.compile(foreach, ours)"}


# -------------------------------------------------------------------------- reading optc bench's JSON
# `optc bench` (cli/src/main/java/dev/optc/cli/BenchCommand.java) is read tolerantly: any object holding an
# optimizer (itself or an enclosing object), a fusion level and a time is one result; times may be in
# ms, us, ns or s, by key suffix or a "unit" field. Enclosing objects pass down optimizer, workload, params,
# tensors and bytes.

TIME_KEYS = (("_ms", 1.0), ("_us", 1e-3), ("_ns", 1e-6), ("_s", 1e3))
UNITS = {"ms": 1.0, "us": 1e-3, "µs": 1e-3, "ns": 1e-6, "s": 1e3}
CONTEXT = ("optimizer", "opt", "program", "name", "runner", "workload", "params", "parameters", "elements", "numel",
           "tensors", "bytes", "bytes_per_step", "bytes_moved", "backend", "device", "fusion", "fusion_level",
           "level", "kind", "type")
FLOOR_WORDS = ("floor", "copy", "triad")


def _time(d, stat):
    """d's `stat` (median, min, max) in ms, or None."""
    for key, value in d.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        k = key.lower()
        for suffix, scale in TIME_KEYS:
            if k in (stat + suffix, stat + "_time" + suffix, "time_" + stat + suffix):
                return value * scale
    if isinstance(d.get(stat), (int, float)) and isinstance(d.get("unit"), str) and d["unit"] in UNITS:
        return d[stat] * UNITS[d["unit"]]
    if isinstance(d.get(stat), dict):
        return _time(d[stat], "value") or _time({stat + "_" + k: v for k, v in d[stat].items()}, stat)
    return None


def _first(d, *keys):
    for k in keys:
        if k in d and d[k] is not None and not isinstance(d[k], (dict, list)):
            return d[k]
    return None


def optc_records(doc, inherited=None, key=""):
    """Yields flat dicts: optimizer, fusion, median_ms, min_ms, max_ms, params, tensors, bytes, kind. `key` is
    the name under which the enclosing object holds this one ("floor": a floor)."""
    inherited = dict(inherited or {})
    if isinstance(doc, list):
        for x in doc:
            yield from optc_records(x, inherited, key)
        return
    if not isinstance(doc, dict):
        return
    here = dict(inherited)
    for k in CONTEXT:
        if k in doc and not isinstance(doc[k], (dict, list)):
            here[k] = doc[k]
    for k in ("workload", "config", "meta", "setup"):   # a described workload: its sizes, not its name
        if isinstance(doc.get(k), dict):
            for kk in ("params", "parameters", "elements", "numel", "tensors"):
                v = doc[k].get(kk)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    here[kk] = int(v)
    if any(w in key.lower() for w in FLOOR_WORDS):
        here["_floor"] = True
    if key.lower() in ("full", "statement", "none"):         # {"full": {...}, "none": {...}}
        here["fusion"] = key.lower()
    if key.lower() in BYTES_PER_PARAM:                        # {"adamw": {...}, ...}
        here["optimizer"] = key.lower()
    med = _time(doc, "median")
    fusion = _first(here, "fusion", "fusion_level", "level")
    kind = str(_first(here, "kind", "type", "what") or "").lower()
    if kind == "probe":   # optc bench's probe: the step's access pattern with trivial arithmetic
        fusion = "probe"
    if med is not None:
        is_floor = bool(here.get("_floor") or any(w in str(fusion or "").lower() for w in FLOOR_WORDS)
                        or any(w in kind for w in FLOOR_WORDS)
                        or any(w in str(_first(doc, "name") or "").lower() for w in FLOOR_WORDS))
        yield dict(optimizer=None if is_floor else _first(here, "optimizer", "opt", "program", "name"),
                   fusion=fusion, kind="floor" if is_floor else "step", median_ms=med,
                   min_ms=_time(doc, "min"), max_ms=_time(doc, "max"),
                   params=_first(here, "params", "parameters", "elements", "numel"),
                   tensors=_first(here, "tensors") if not isinstance(here.get("tensors"), list) else None,
                   bytes=_first(here, "bytes", "bytes_per_step", "bytes_moved"),
                   floor_ms=_time(doc, "floor"), runner=_first(here, "runner", "backend"), raw=doc)
    for k, v in doc.items():
        if isinstance(v, (dict, list)) and k not in ("workload", "config", "setup"):
            yield from optc_records(v, here, k)


def optc_shapes(doc):
    """The workload's tensor shapes if optc bench's JSON lists them (a list of int lists), else None."""
    if isinstance(doc, dict):
        for k in ("shapes", "tensor_shapes"):
            v = doc.get(k)
            if isinstance(v, list) and v and all(isinstance(s, list) and all(isinstance(d, int) for d in s) for s in v):
                return v
        if isinstance(doc.get("tensors"), list):
            shapes = [t.get("shape") for t in doc["tensors"] if isinstance(t, dict)]
            if shapes and all(isinstance(s, list) for s in shapes):
                return shapes
        for v in doc.values():
            s = optc_shapes(v)
            if s:
                return s
    elif isinstance(doc, list):
        for v in doc:
            s = optc_shapes(v)
            if s:
                return s
    return None


# ---------------------------------------------------------------------------------------- merging

def load(path):
    with open(path) as f:
        return json.load(f)


def parse_pairs(items):
    out = {}
    for item in items or []:
        w, _, path = item.partition("=")
        out[w] = path
    return out


def gpu_info(path):
    """gpu.csv from run.sh: `name, driver_version, memory.total` lines from nvidia-smi, then `cuda=X`."""
    info = dict(name=None, driver=None, memory=None, cuda_driver=None)
    if not path or not os.path.exists(path):
        return info
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("cuda="):
                info["cuda_driver"] = line[5:] or None
            elif line and info["name"] is None:
                parts = [p.strip() for p in line.split(",")]
                info.update(name=parts[0], driver=parts[1] if len(parts) > 1 else None,
                            memory=parts[2] if len(parts) > 2 else None)
    return info


def merge(args):
    notes = []
    torch_doc = load(args.torch) if args.torch and os.path.exists(args.torch) else None
    if torch_doc is None:
        notes.append("no torch results (%s missing)" % args.torch)
    rows, floors = [], {}
    twl = (torch_doc or {}).get("meta", {}).get("workloads", {})
    for r in (torch_doc or {}).get("rows", []):
        r = dict(r)
        if r["variant"] == "copy":
            r["label"] = "copy floor (%d B/param)" % r["bytes_per_param"]
            if r["status"] == "ok":
                floors[(r["workload"], r["bytes_per_param"])] = r["median_ms"]
        else:
            r["label"] = (OURS_LABEL if r["optimizer"] in OURS else TORCH_LABEL).get(r["variant"], "torch " + r["variant"])
        r["source"] = "torch"
        rows.append(r)

    optc_docs = {}
    for w, path in parse_pairs(args.optc).items():
        if not os.path.exists(path):
            notes.append("optc bench %s: no JSON (%s); see run-log.txt" % (w, path))
            continue
        try:
            doc = load(path)
        except ValueError as e:
            notes.append("optc bench %s: unreadable JSON %s: %s" % (w, path, e))
            continue
        optc_docs[w] = doc
        found = 0
        done = set()
        for rec in optc_records(doc):
            if rec["kind"] == "floor":
                continue
            opt = str(rec["optimizer"] or "").lower()
            opt = os.path.splitext(os.path.basename(opt))[0]
            if opt not in BYTES_PER_PARAM:
                continue
            fusion = str(rec["fusion"] or "full").lower()
            if (w, opt, fusion) in done:
                continue
            done.add((w, opt, fusion))
            params = rec["params"] if isinstance(rec["params"], int) else twl.get(w, {}).get("params")
            bpp = BYTES_PER_PARAM[opt]
            r = dict(source="optc", impl="optc", optimizer=opt, variant=fusion, workload=w, status="ok",
                     label=FUSION_LABEL.get(fusion, "optc %s " + fusion) % (rec.get("runner") or "cuda"),
                     params=params, tensors=rec["tensors"],
                     bytes_per_param=bpp, bytes=bpp * params if params else None,
                     median_ms=rec["median_ms"], min_ms=rec["min_ms"], max_ms=rec["max_ms"])
            if rec["bytes"]:
                r["optc_bytes"] = rec["bytes"]
            if rec["floor_ms"]:
                r["optc_floor_ms"] = rec["floor_ms"]
            if r["bytes"] and r["median_ms"]:
                r["gbps"] = r["bytes"] / (r["median_ms"] * 1e-3) / 1e9
            rows.append(r)
            found += 1
            tp = twl.get(w, {}).get("params")
            if params and tp and params != tp:
                notes.append("%s: optc bench ran %d params, torch %d: the workloads differ" % (w, params, tp))
        seen = set()
        for rec in optc_records(doc):
            if rec["kind"] == "floor" and (rec["median_ms"], rec["bytes"]) not in seen:
                seen.add((rec["median_ms"], rec["bytes"]))
                rows.append(dict(source="optc", impl="optc", optimizer=None, variant="copy", workload=w, status="ok",
                                 label="optc's own floor", median_ms=rec["median_ms"], min_ms=rec["min_ms"],
                                 max_ms=rec["max_ms"], bytes=rec["bytes"], params=rec["params"]))
        if not found:
            notes.append("optc bench %s: no results recognized in %s (adapt optc_records in merge_results.py)"
                         % (w, path))

    for r in rows:   # one floor for all: torch's copy of the same bytes
        if r["source"] == "optc" and r.get("median_ms") and r.get("bytes_per_param"):
            f = floors.get((r["workload"], r["bytes_per_param"]))
            if f:
                r["x_floor"] = r["median_ms"] / f
            if r.get("optc_floor_ms"):
                r["x_optc_floor"] = r["median_ms"] / r["optc_floor_ms"]
    dedup = {}
    for n in notes:
        dedup[n] = None
    doc = dict(date=args.date, gpu=gpu_info(args.gpu), commit=args.commit,
               torch=(torch_doc or {}).get("meta", {}), rows=rows, notes=list(dedup),
               raw=dict(optc=optc_docs))
    doc["targets"] = targets(rows)
    return doc


# ---------------------------------------------------------------------------------------- targets

def find(rows, workload, optimizer, source, variant):
    for r in rows:
        if (r["workload"], r.get("optimizer"), r["source"], r["variant"]) == (workload, optimizer, source, variant):
            return r
    return None


def ms(r):
    return r["median_ms"] if r and r.get("status") == "ok" and r.get("median_ms") else None


def why(r, what):
    if r is None:
        return what + ": not measured"
    if r.get("status") != "ok":
        return "%s: %s (%s)" % (what, r.get("status"), r.get("reason", ""))
    return None


def targets(rows):
    out = []

    def add(target, workload, ours, other, other_name, kind, bound):
        """kind 'speedup': other/ours >= bound; 'floor': ours/floor <= bound."""
        t = dict(target=target, workload=workload, bound=bound)
        missing = why(ours, "optc fused") or (why(other, other_name) if kind == "speedup" else None)
        if not missing and kind == "speedup" and ours.get("params") and other.get("params") \
                and ours["params"] != other["params"]:
            missing = "not comparable: optc ran %d params, %s %d" % (ours["params"], other_name, other["params"])
        if missing:
            t.update(value=None, met=None, note=missing)
        elif kind == "speedup":
            t.update(value=ms(other) / ms(ours), met=ms(other) / ms(ours) >= bound)
        else:
            x = ours.get("x_floor")
            t.update(value=x, met=None if x is None else x <= bound, note=None if x is not None else "no floor")
        out.append(t)

    w = "flat-256M"
    ours = find(rows, w, "adamw", "optc", "full")
    add("fused AdamW >= 1.0x the speed of torch fused=True", w, ours, find(rows, w, "adamw", "torch", "fused"),
        "torch fused", "speedup", 1.0)
    add("fused AdamW <= 1.10x the copy floor", w, ours, None, None, "floor", 1.10)
    for opt in OURS:
        for w in WORKLOADS:
            ours = find(rows, w, opt, "optc", "full")
            add("%s >= 1.5x faster than torch foreach" % opt, w, ours, find(rows, w, opt, "torch", "foreach"),
                "torch foreach", "speedup", 1.5)
            add("%s >= 1.0x torch.compile" % opt, w, ours, find(rows, w, opt, "torch", "compile"),
                "torch.compile", "speedup", 1.0)
    w = "small-1000"
    for opt in ("adamw", "adam", "sgd"):
        add("1,000 small tensors: %s no slower than torch fused" % opt, w, find(rows, w, opt, "optc", "full"),
            find(rows, w, opt, "torch", "fused"), "torch fused", "speedup", 1.0)
    return out


# --------------------------------------------------------------------------------------- markdown

def fmt_ms(x):
    if x is None:
        return ""
    return "%.3f" % x if x < 10 else "%.1f" % x


def fmt_x(x, digits=2):
    return "" if x is None else ("%." + str(digits) + "f×") % x


def markdown(doc, console=False):
    g = doc["gpu"]
    t = doc["torch"]
    lines = []
    gpu = ", ".join(x for x in (
        g.get("name") or t.get("gpu") or "GPU unknown", g.get("driver") and "driver " + g["driver"],
        g.get("cuda_driver") and "CUDA (driver) " + g["cuda_driver"],
        g.get("memory") or (t.get("gpu_memory_gib") and "%s GiB" % t["gpu_memory_gib"]),
        t.get("sms") and "%s SMs" % t["sms"], t.get("capability") and "compute capability " + t["capability"]) if x)
    sw = ", ".join(x for x in (
        "PyTorch %s" % t.get("torch") + (" (CUDA %s)" % t["cuda"] if t.get("cuda") else ""),
        t.get("triton") and "Triton " + t["triton"], t.get("python") and "Python " + t["python"],
        "optc " + (doc.get("commit") or "(commit unknown)"),
        "torch on %s" % t["device"] if t.get("device") and t.get("device") != "cuda" else None,
        "tiny workloads (a smoke test, not a measurement)" if t.get("tiny") else None) if x)
    head = ["# optc on %s vs PyTorch — %s" % (g.get("name") or t.get("gpu") or "an NVIDIA GPU", doc["date"]), "",
            "- GPU: " + gpu,
            "- " + sw,
            "- %s warm-up + %s timed steps per row; each step timed alone (synchronize, CUDA event, step, CUDA event); "
            "median, min–max. GB/s = bytes the step must move / median; × floor = median / the median of a "
            "device-to-device copy (`dst.copy_(src)`) moving the same bytes (half read, half written)." % (
                t.get("warmup"), t.get("repeats")),
            "- Bytes per parameter: AdamW/Adam 28, SGD-momentum 20, Lion 20, Adan 44, LAMB 40 (two passes). "
            "Hypers: the .opt defaults, SGD momentum 0.9.",
            "- *speedup* = this row's median / optc fused's median, same optimizer and workload (>1: optc is faster).",
            ""]
    tl = ["## Targets (issue 6)", "", "| target | workload | measured | bound | met |", "|---|---|---|---|---|"]
    for x in doc["targets"]:
        if x["value"] is None:
            val, met = "—", "not measured: " + (x.get("note") or "")
        else:
            val = fmt_x(x["value"])
            met = "yes" if x["met"] else "**no**"
        bound = ("≤ %.2f× floor" if "floor" in x["target"] else "≥ %.1f×") % x["bound"]
        tl.append("| %s | %s | %s | %s | %s |" % (x["target"], x["workload"], val, bound, met))
    tl.append("")
    body = []
    rows = doc["rows"]
    twl = t.get("workloads", {})
    for w in WORKLOADS:
        wrows = [r for r in rows if r["workload"] == w]
        if not wrows:
            continue
        info = twl.get(w, {})
        body += ["## %s (%s tensor%s, %s params)" % (w, info.get("tensors", "?"), "" if info.get("tensors") == 1 else "s",
                                                    "{:,}".format(info["params"]) if info.get("params") else "?"), "",
                 "| optimizer | implementation | median ms | min–max ms | GB/s | × floor | speedup | compile s |",
                 "|---|---|---:|---:|---:|---:|---:|---:|"]
        for opt in OPTIMIZERS:
            orows = [r for r in wrows if r.get("optimizer") == opt]
            if not orows:
                continue
            ours = ms(find(rows, w, opt, "optc", "full"))
            order = {("optc", "full"): 0, ("optc", "statement"): 1, ("optc", "none"): 2, ("torch", "fused"): 3,
                     ("torch", "foreach"): 4, ("torch", "compile"): 5}
            for r in sorted(orows, key=lambda r: order.get((r["source"], r["variant"]), 9)):
                if r["status"] != "ok":
                    if r["status"] == "unavailable" and r["variant"] == "fused" and opt in OURS:
                        continue   # torch has no fused Lion/Adan/LAMB: said once in the header, not per row
                    body.append("| %s | %s | %s: %s | | | | | |" % (opt, r["label"], r["status"],
                                                                     (r.get("reason") or "").replace("|", "/")))
                    continue
                sp = fmt_x(r["median_ms"] / ours) if ours else ""
                body.append("| %s | %s | %s | %s–%s | %s | %s | %s | %s |" % (
                    opt, r["label"], fmt_ms(r["median_ms"]), fmt_ms(r.get("min_ms")), fmt_ms(r.get("max_ms")),
                    "%.0f" % r["gbps"] if r.get("gbps") else "", fmt_x(r.get("x_floor")), sp,
                    "%.1f" % r["compile_s"] if r.get("compile_s") is not None else ""))
        for r in wrows:
            if r.get("optimizer") is None:
                if r["status"] == "ok":
                    body.append("| — | %s | %s | %s–%s | %s | %s | | |" % (
                        r["label"], fmt_ms(r["median_ms"]), fmt_ms(r.get("min_ms")), fmt_ms(r.get("max_ms")),
                        "%.0f" % r["gbps"] if r.get("gbps") else "", "1×" if r["source"] == "torch" else ""))
                else:
                    body.append("| — | %s | %s: %s | | | | | |" % (r["label"], r["status"], r.get("reason", "")))
        body.append("")
    notes = ["## Notes", ""] + ["- " + n for n in doc["notes"]] + [""] if doc["notes"] else []
    if console:
        return "\n".join(head + body + notes + tl)
    return "\n".join(head + tl + body + notes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--torch", help="torch_gpu_bench.py's JSON")
    ap.add_argument("--optc", action="append", metavar="WORKLOAD=FILE", help="optc bench's JSON for a workload")
    ap.add_argument("--gpu", help="run.sh's gpu.csv (nvidia-smi)")
    ap.add_argument("--date", default=None)
    ap.add_argument("--commit", default=None)
    ap.add_argument("--check", help="torch_gpu_bench.py --check's JSON, kept in results.json")
    ap.add_argument("--optc-bytes", help="run.sh's optc-bytes.txt: OPT=N lines from `optc info OPT`")
    ap.add_argument("--note", action="append", default=[], help="a line for the notes (repeatable)")
    ap.add_argument("--out-json")
    ap.add_argument("--out-md")
    ap.add_argument("--print", action="store_true", help="print the tables, then the targets")
    ap.add_argument("--extract-shapes", action="append", metavar="WORKLOAD=FILE",
                    help="print {workload: shapes} from optc bench JSONs that list their shapes, and exit")
    args = ap.parse_args(argv)
    if args.extract_shapes:
        shapes = {}
        for w, path in parse_pairs(args.extract_shapes).items():
            try:
                s = optc_shapes(load(path))
            except (OSError, ValueError):
                s = None
            if s and w in ("gpt2-small", "small-1000"):
                shapes[w] = s
        print(json.dumps(shapes))
        return 0
    if not args.date:
        import datetime
        args.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    doc = merge(args)
    doc["notes"] = list(args.note) + doc["notes"]
    if args.optc_bytes and os.path.exists(args.optc_bytes):
        ob = {}
        with open(args.optc_bytes) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if v.isdigit():
                    ob[k] = int(v)
        doc["optc_bytes_per_param"] = ob
        for k, v in ob.items():
            if k in BYTES_PER_PARAM and v != BYTES_PER_PARAM[k]:
                doc["notes"].append("optc's fused %s moves %d B/param (`optc info %s`), the benchmark counts the "
                                    "%d B/param the algorithm must move with these hypers: its × floor is at best "
                                    "%.2f×" % (k, v, k, BYTES_PER_PARAM[k], v / BYTES_PER_PARAM[k]))
    if args.check and os.path.exists(args.check):
        try:
            doc["check"] = load(args.check)
        except ValueError:
            doc["notes"].append("the --check output is not JSON")
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump(doc, f, indent=1)
    md = markdown(doc)
    if args.out_md:
        with open(args.out_md, "w") as f:
            f.write(md + "\n")
    if args.print:
        print(markdown(doc, console=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
