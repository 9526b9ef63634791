#!/usr/bin/env python3
"""The driver of `make bench` (bench/README.md): generates the models, measures Graft
(graft-bench) and the reference tools (reference.py) on the same files in one run, each
operation in its own process, computes every ratio and the verdict on each target of issue 8,
writes bench/results.json and prints the table.

    run.py --graft-bench PATH --graft PATH [--quick] [--runs N] [--out bench/results.json]
    run.py --table bench/results.json      (the table of an earlier run)

--quick (or BENCH_QUICK=1): 3 timed runs instead of 5, forward passes timed for 0.2 s per run
instead of 0.5 s, and no VGG16 forward pass: a smoke pass, not a measurement.
--only io|forward (or BENCH_ONLY=...): only VGG16's import/export/surgery, or only the forward
passes (with their targets).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(ROOT, ".build", "bench")
MODELS_DIR = os.path.join(WORK, "models")
LOGS = os.path.join(WORK, "logs")
MB = 1e6
RSS_SLACK_BYTES = 50 * MB  # the "+ 50 MB" of the peak RSS target
FORWARD_MODELS = ["mlp", "char_rnn", "small_cnn", "vgg16"]
BATCHES = [1, 32]
THREADS = [1, 2]


class Bench:
    """Runs measurements and keeps their results."""

    def __init__(self, args):
        self.args = args
        self.runs = args.runs or (3 if args.quick else 5)
        self.min_time = 0.2 if args.quick else 0.5

    def run_json(self, name, command, threads=1):
        """Runs one measuring process; its stdout is one JSON object (kept as logs/NAME.json), its
        stderr goes to logs/NAME.log."""
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   TF_CPP_MIN_LOG_LEVEL="2")
        log_path = os.path.join(LOGS, name + ".log")
        print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        started = time.monotonic()
        with open(log_path, "w") as log:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        print(f" {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
        if done.returncode != 0:  # recorded and reported as a failed figure; the run goes on
            with open(log_path) as log:
                lines = [line.strip() for line in log if line.strip()]
            reason = lines[-1] if lines else f"exit {done.returncode}"
            print(f"  {name} FAILED: {reason}", file=sys.stderr, flush=True)
            return {"benchmark": name, "error": reason, "command": command}
        with open(os.path.join(LOGS, name + ".json"), "w") as f:
            f.write(done.stdout)
        return json.loads(done.stdout)

    def graft(self, name, *arguments, threads=1, runs=None):
        return self.run_json(name, [self.args.graft_bench, *arguments, "--runs", str(runs or self.runs)], threads)

    def reference(self, name, *arguments, threads=1, runs=None):
        return self.run_json(name, [sys.executable, os.path.join(HERE, "reference.py"), *arguments,
                                    "--runs", str(runs or self.runs)], threads)


def models_path(name):
    return os.path.join(MODELS_DIR, name)


def prepare_models(graft):
    """Writes the seeded models (bench/models.py) unless present and newer than their generator,
    and VGG16's DL4J zip with `graft convert`."""
    summary = models_path("models.json")
    generator = os.path.join(HERE, "models.py")
    if not os.path.exists(summary) or os.path.getmtime(summary) < os.path.getmtime(generator):
        print(f"writing the models (bench/models.py; its log: {LOGS}/models.log) ...", file=sys.stderr, flush=True)
        with open(os.path.join(LOGS, "models.log"), "w") as log:
            subprocess.run([sys.executable, generator, MODELS_DIR], check=True, stderr=log,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    zip_path, h5_path = models_path("vgg16.zip"), models_path("vgg16.h5")
    if not os.path.exists(zip_path) or os.path.getmtime(zip_path) < os.path.getmtime(h5_path):
        print("writing vgg16.zip (graft convert) ...", file=sys.stderr, flush=True)
        subprocess.run([graft, "convert", h5_path, zip_path, "--force"], check=True, stdout=subprocess.DEVNULL)
    with open(summary) as f:
        return json.load(f)


def measure_io(bench, weights_bytes):
    """VGG16: Graft's import, export, conversion and widening, the reference tools, the physical limits."""
    h5, zip_ = models_path("vgg16.h5"), models_path("vgg16.zip")
    scratch = os.path.join(WORK, "scratch")
    os.makedirs(scratch, exist_ok=True)
    h5_bytes, zip_bytes = os.path.getsize(h5), os.path.getsize(zip_)
    io = {}
    io["raw_read_h5"] = bench.graft("raw-read-h5", "raw-read", h5)
    io["raw_read_zip"] = bench.graft("raw-read-zip", "raw-read", zip_)
    io["raw_write_h5_bytes"] = bench.graft("raw-write-h5-bytes", "raw-write", os.path.join(scratch, "raw.bin"), "--bytes", str(h5_bytes))
    io["raw_write_zip_bytes"] = bench.graft("raw-write-zip-bytes", "raw-write", os.path.join(scratch, "raw.bin"), "--bytes", str(zip_bytes))
    io["memcpy_weights"] = bench.graft("memcpy-weights", "memcpy", "--bytes", str(weights_bytes))
    io["graft_keras_read"] = bench.graft("graft-keras-read", "keras-read", h5)
    io["graft_dl4j_read"] = bench.graft("graft-dl4j-read", "dl4j-read", zip_)
    io["graft_convert_h5_to_zip"] = bench.graft("graft-convert-h5-zip", "convert", h5, os.path.join(scratch, "vgg16.zip"))
    io["graft_convert_zip_to_h5"] = bench.graft("graft-convert-zip-h5", "convert", zip_, os.path.join(scratch, "vgg16.h5"))
    io["graft_write_h5"] = bench.graft("graft-write-h5", "write", h5, os.path.join(scratch, "written.h5"))
    widen = bench.graft("graft-widen", "widen", h5, "--layer", "fc2", "--by", "1")
    io["full_copy_weights"] = (dict(widen.pop("full_copy"), benchmark="full-copy", peak_rss_bytes=None)
                               if "full_copy" in widen else widen)
    if "copying" in widen:  # widen returning a new graph (copies what it changes): the figure before in-place widening
        io["graft_widen_copying"] = dict(widen.pop("copying"), benchmark="widen-copying", peak_rss_bytes=None)
    io["graft_widen"] = widen
    io["h5py_read"] = bench.reference("h5py-read", "h5py-read", h5)
    io["tfkeras_load"] = bench.reference("tfkeras-load", "tfkeras-load", h5)
    io["tfkeras_save"] = bench.reference("tfkeras-save", "tfkeras-save", h5, os.path.join(scratch, "tfkeras.h5"))
    io["keras3_load"] = bench.reference("keras3-load", "keras3-load", h5)
    for name in ("vgg16.zip", "vgg16.h5", "written.h5"):
        for path in (os.path.join(scratch, name), os.path.join(scratch, name + ".graft.json")):
            if os.path.exists(path):
                os.remove(path)
    return io


def per_batch(result, i):
    """The i-th batch size's figures of a reference forward result (or its failure)."""
    if "per_batch" not in result:
        return result
    return dict(result["per_batch"][i], peak_rss_bytes=result["peak_rss_bytes"])


def ratio(a, b):
    """a / b, or None when either figure is missing (a failed measurement)."""
    return None if a is None or b is None else a / b


def merged_rounds(results):
    """One result from several processes' results of the same measurement (one timed run
    each): their times together, median/min/max over them, the largest peak RSS; the first
    result's other fields. A failed round fails the whole."""
    failed = next((r for r in results if "median_s" not in r), None)
    if failed is not None:
        return failed
    times = [t for r in results for t in r["times_s"]]
    merged = dict(results[0], runs=len(times), times_s=times, median_s=statistics.median(times),
                  min_s=min(times), max_s=max(times), rounds=len(results))
    merged["peak_rss_bytes"] = max(r.get("peak_rss_bytes", 0) for r in results)
    if all("cpu_s_per_call" in r for r in results):
        merged["cpu_s_per_call"] = statistics.median(r["cpu_s_per_call"] for r in results)
    return merged


def measure_graft_and_ort(bench, model, threads, h5, onnx):
    """Graft and onnxruntime in alternation: `bench.runs` rounds, each one onnxruntime process
    (both batch sizes) then one Graft process per batch size, each timing one run after its own
    warm-up. On a machine whose speed drifts over seconds to minutes (a shared VM), both tools
    then sample the same stretches of time, and their ratio is not the drift between two
    consecutive blocks of runs. Returns (onnxruntime result, {batch: Graft result})."""
    ort_rounds, graft_rounds = [], {batch: [] for batch in BATCHES}
    timing = ("--threads", str(threads), "--min-time", str(bench.min_time))
    for r in range(bench.runs):
        ort_rounds.append(bench.reference(f"ort-forward-{model}-{threads}t-r{r}", "ort-forward", onnx, "--batches",
                                          ",".join(map(str, BATCHES)), *timing, threads=threads, runs=1))
        for batch in BATCHES:
            graft_rounds[batch].append(bench.graft(f"graft-forward-{model}-b{batch}-{threads}t-r{r}", "forward", h5,
                                                   "--batch", str(batch), *timing, threads=threads, runs=1))
    failed = next((r for r in ort_rounds if "per_batch" not in r), None)
    if failed is not None:
        ort = failed
    else:
        ort = dict(ort_rounds[0], peak_rss_bytes=max(r["peak_rss_bytes"] for r in ort_rounds),
                   per_batch=[merged_rounds([r["per_batch"][i] for r in ort_rounds]) for i in range(len(BATCHES))])
    return ort, {batch: merged_rounds(graft_rounds[batch]) for batch in BATCHES}


def measure_forward(bench, models):
    """SGEMM peak per thread count; each model's forward pass in Graft, onnxruntime (the two in
    alternation) and tf-keras."""
    peaks = {t: bench.graft(f"sgemm-peak-{t}t", "sgemm-peak", "--threads", str(t), threads=t) for t in THREADS}
    rows = []
    for model in models:
        h5, onnx = models_path(model + ".h5"), models_path(model + ".onnx")
        batches = ",".join(map(str, BATCHES))
        for threads in THREADS:
            tf = bench.reference(f"tf-forward-{model}-{threads}t", "tf-forward", h5, "--batches", batches,
                                 "--threads", str(threads), "--min-time", str(bench.min_time), threads=threads)
            ort, grafts = measure_graft_and_ort(bench, model, threads, h5, onnx)
            for i, batch in enumerate(BATCHES):
                graft = grafts[batch]
                row = {"model": model, "batch": batch, "threads": threads, "flops_per_sample": graft.get("flops_per_sample"),
                       "graft": graft, "onnxruntime": per_batch(ort, i), "tf_keras": per_batch(tf, i)}
                peak = peaks[threads].get("gflops")
                for tool in ("graft", "onnxruntime", "tf_keras"):
                    r = row[tool]
                    if "median_s" not in r:
                        continue
                    r["samples_per_s"] = batch / r["median_s"]
                    r["samples_per_s_min"] = batch / r["max_s"]
                    r["samples_per_s_max"] = batch / r["min_s"]
                    if row["flops_per_sample"]:
                        r["gflops"] = r["samples_per_s"] * row["flops_per_sample"] / 1e9
                        r["fraction_of_sgemm_peak"] = ratio(r["gflops"], peak)
                throughput = {tool: row[tool].get("samples_per_s") for tool in ("graft", "onnxruntime", "tf_keras")}
                row["graft_over_onnxruntime"] = ratio(throughput["graft"], throughput["onnxruntime"])
                row["graft_over_tf_keras"] = ratio(throughput["graft"], throughput["tf_keras"])
                rows.append(row)
    return {"sgemm_peak": {str(t): peaks[t] for t in THREADS}, "rows": rows}


GRAFT_IO = [("graft_keras_read", "import .h5"), ("graft_dl4j_read", "import zip"), ("graft_convert_h5_to_zip", "convert h5→zip"),
            ("graft_convert_zip_to_h5", "convert zip→h5"), ("graft_write_h5", "write .h5"), ("graft_widen", "widen fc2 +1")]
REFERENCE_IO = [("h5py_read", "h5py read"), ("tfkeras_load", "tf-keras load_model"), ("tfkeras_save", "tf-keras save"),
                ("keras3_load", "Keras 3 load_model"), ("raw_read_h5", "raw read .h5"), ("raw_read_zip", "raw read zip"),
                ("raw_write_h5_bytes", "raw write .h5 bytes"), ("raw_write_zip_bytes", "raw write zip bytes"),
                ("memcpy_weights", "memcpy weights"), ("full_copy_weights", "full copy (IR tensors)")]


def io_ratios(io):
    return {g: {r: ratio(io[g].get("median_s"), io[r].get("median_s")) for r, _ in REFERENCE_IO} for g, _ in GRAFT_IO}


def targets(io, forward, weights_bytes):
    """Every target of issue 8 with its value in this run and PASS/MISS."""
    out = []

    def add(name, value, limit, at_most=True):
        """A target; a value of None (a measurement failed) is a FAIL."""
        ok = value is not None and (value <= limit if at_most else value >= limit)
        out.append({"target": name, "value": value, "limit": limit, "comparison": "<=" if at_most else ">=",
                    "verdict": "FAIL" if value is None else "PASS" if ok else "MISS"})

    if not io:
        return forward_targets(forward, add, out)
    m = {k: v.get("median_s") for k, v in io.items()}

    def total(*keys):
        return None if any(m[k] is None for k in keys) else sum(m[k] for k in keys)

    add("import VGG16 .h5 / h5py read", ratio(m["graft_keras_read"], m["h5py_read"]), 1.2)
    add("import VGG16 .h5 / tf-keras load_model", ratio(m["graft_keras_read"], m["tfkeras_load"]), 0.25)
    add("import VGG16 zip / raw read of the zip", ratio(m["graft_dl4j_read"], m["raw_read_zip"]), 1.5)
    add("convert .h5→zip / (raw read .h5 + raw write zip bytes)",
        ratio(m["graft_convert_h5_to_zip"], total("raw_read_h5", "raw_write_zip_bytes")), 2.0)
    add("convert zip→.h5 / (raw read zip + raw write .h5 bytes)",
        ratio(m["graft_convert_zip_to_h5"], total("raw_read_zip", "raw_write_h5_bytes")), 2.0)
    rss_limit_mb = (1.2 * weights_bytes + RSS_SLACK_BYTES) / MB
    for key, label in (("graft_keras_read", "import .h5"), ("graft_dl4j_read", "import zip"),
                       ("graft_convert_h5_to_zip", "convert h5→zip"), ("graft_convert_zip_to_h5", "convert zip→h5")):
        add(f"peak RSS MB of {label} (1.2 × weights + 50 MB)", ratio(io[key].get("peak_rss_bytes"), MB), round(rss_limit_mb, 1))
    add("widen fc2 by one unit / full copy of the weights", ratio(m["graft_widen"], m["full_copy_weights"]), 0.1)
    return forward_targets(forward, add, out)


def forward_targets(forward, add, out):
    """The forward-pass targets at batch 32, added to `out` with `add`."""
    for row in forward["rows"]:
        if row["batch"] != 32:
            continue
        where = f"{row['model']} batch 32, {row['threads']} thread{'s' if row['threads'] > 1 else ''}"
        if row["model"] in ("mlp", "char_rnn"):
            add(f"forward {where}: Graft / onnxruntime throughput", row["graft_over_onnxruntime"], 1.0, at_most=False)
            add(f"forward {where}: Graft / tf-keras throughput", row["graft_over_tf_keras"], 1.5, at_most=False)
        else:
            add(f"forward {where}: Graft / onnxruntime throughput", row["graft_over_onnxruntime"], 0.85, at_most=False)
    return out


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "load_average_1min_at_start": load}


def number(value, spec):
    """`value` formatted, or "failed" when the measurement behind it failed."""
    return "failed" if value is None else format(value, spec)


def print_table(results):
    io, forward, weights = results["io"], results["forward"], results["weights_bytes"]
    only = f" --only {results['only']}" if results.get("only") else ""
    print(f"\nGraft benchmark{only} (make bench{' BENCH_QUICK=1: smoke pass, not a measurement' if results['quick'] else ''})"
          f", {results['date']}, {results['runs']} timed runs per figure after a warm-up")
    mach = results["machine"]
    print(f"machine: {mach['cpu']}, {mach['cores']} cores, Linux {mach['kernel']}, load average at start {mach['load_average_1min_at_start']}")
    print(f"VGG16: {weights / MB:.1f} MB of weights; vgg16.h5 {results['files_bytes']['vgg16.h5'] / MB:.1f} MB, "
          f"vgg16.zip {results['files_bytes']['vgg16.zip'] / MB:.1f} MB")
    if io:
        print_io_table(results)
    if forward["rows"]:
        print_forward_table(forward)
    print("\ntargets (issue 8):")
    for t in results["targets"]:
        print(f"  {t['verdict']}  {t['target']}: {number(t['value'], '.3f')} (target {t['comparison']} {t['limit']})")
    passed = sum(t["verdict"] == "PASS" for t in results["targets"])
    print(f"  {passed} of {len(results['targets'])} targets met")


def print_io_table(results):
    io, weights = results["io"], results["weights_bytes"]
    print(f"\n{'VGG16 import/export/surgery':34} {'median s':>9} {'min s':>8} {'max s':>8} {'peak RSS MB':>12} {'RSS/weights':>12}")
    for key, label in [(k, "Graft " + l) for k, l in GRAFT_IO] + REFERENCE_IO:
        r = io[key]
        if "error" in r:
            print(f"{label:34} failed: {r['error']}")
            continue
        rss = r.get("peak_rss_bytes")
        rss_text = f"{rss / MB:12.1f} {rss / weights:12.3f}" if rss else f"{'(in widen)':>12} {'':>12}"
        print(f"{label:34} {r['median_s']:9.4f} {r['min_s']:8.4f} {r['max_s']:8.4f} {rss_text}")
    ratios = results["ratios"]["io"]
    short = ["h5py", "tfk-load", "tfk-save", "k3-load", "rd .h5", "rd zip", "wr .h5", "wr zip", "memcpy", "copy"]
    print("\nGraft median / reference median (same run):")
    print(f"{'':16}" + "".join(f"{s:>9}" for s in short))
    for key, label in GRAFT_IO:
        print(f"{label:16}" + "".join(f"{number(ratios[key][r], '.3f'):>9}" for r, _ in REFERENCE_IO))


def print_forward_table(forward):
    peaks = forward["sgemm_peak"]
    print(f"\nSGEMM peak (cblas_sgemm {peaks['1'].get('size')}², OpenBLAS kernels for core {peaks['1'].get('openblas_core')}): " +
          ", ".join(f"{t} thread{'s' if t != '1' else ''} {number(p.get('gflops'), '.1f')} GFLOP/s" for t, p in peaks.items()))
    print("forward pass: samples/s median [min-max], GFLOP/s, % of the SGEMM peak at the same thread count")
    print(f"{'model':10} {'b':>3} {'t':>2} {'Graft':>34} {'onnxruntime':>34} {'tf-keras':>34} {'G/ort':>6} {'G/tf':>6}")
    for row in forward["rows"]:
        cells = []
        for tool in ("graft", "onnxruntime", "tf_keras"):
            r = row[tool]
            if "samples_per_s" not in r:
                cells.append("failed")
                continue
            fraction = r.get("fraction_of_sgemm_peak")
            cells.append(f"{r['samples_per_s']:9.1f} [{r['samples_per_s_min']:.0f}-{r['samples_per_s_max']:.0f}]"
                         f" {number(r.get('gflops'), '5.1f')} {number(None if fraction is None else 100 * fraction, '3.0f')}%")
        print(f"{row['model']:10} {row['batch']:3} {row['threads']:2} " + " ".join(f"{c:>34}" for c in cells)
              + f" {number(row['graft_over_onnxruntime'], '6.2f'):>6} {number(row['graft_over_tf_keras'], '6.2f'):>6}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graft-bench", help="the release-built graft-bench executable")
    parser.add_argument("--graft", help="the graft executable (writes the DL4J zip)")
    parser.add_argument("--table", metavar="RESULTS_JSON", help="only print the table of an earlier run's results")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"))
    parser.add_argument("--runs", type=int, help="timed runs per figure (default 5; 3 with --quick)")
    parser.add_argument("--only", choices=["io", "forward"], default=os.environ.get("BENCH_ONLY") or None,
                        help="measure only VGG16's import/export/surgery, or only the forward passes (BENCH_ONLY)")
    parser.add_argument("--out", default=os.path.join(HERE, "results.json"))
    args = parser.parse_args()
    if args.table:
        with open(args.table) as f:
            print_table(json.load(f))
        return
    if not (args.graft_bench and args.graft):
        parser.error("--graft-bench and --graft are needed to measure")
    os.makedirs(LOGS, exist_ok=True)
    bench = Bench(args)
    started_on = machine()
    models = prepare_models(args.graft)
    weights_bytes = models["models"]["vgg16"]["weights_bytes"]
    print(f"measuring ({bench.runs} timed runs each; logs in {LOGS}):", file=sys.stderr)
    io = measure_io(bench, weights_bytes) if args.only != "forward" else {}
    forward_models = [m for m in FORWARD_MODELS if not (args.quick and m == "vgg16")]
    forward = measure_forward(bench, forward_models) if args.only != "io" else {"sgemm_peak": {}, "rows": []}
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "quick": args.quick, "only": args.only, "runs": bench.runs, "machine": started_on, "models": models,
               "weights_bytes": weights_bytes,
               "files_bytes": {f: os.path.getsize(models_path(f)) for f in ("vgg16.h5", "vgg16.zip")}, "io": io, "forward": forward,
               "ratios": {"io": io_ratios(io) if io else {}}}
    results["targets"] = targets(io, forward, weights_bytes)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print_table(results)
    print(f"\nresults: {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
